"""
Tests for L{radiod.hls.output}: a mount and the rungs of its ladder cut
at the same moments.
"""

from __future__ import annotations

from dataclasses import replace
from functools import partial

from twisted.internet.task import Clock
from twisted.logger import capturedLogs
from twisted.trial.unittest import SynchronousTestCase

from radiod.audio.adts import AdtsFrame, parse_adts_header
from radiod.audio.id3 import read_tag
from radiod.audio.track import TrackInfo
from radiod.broadcast.mount import Mount
from radiod.config import MountConfig
from radiod.ffmpeg.ladder import Ladders
from radiod.hls.output import HlsOutput, HlsOutputs
from radiod.hls.playlist import MP3_CODECS, media_playlist
from radiod.hls.rendition import Segment
from radiod.testing import Cues, FakeConverter, FakeConverters, FakeFrameSource, silent_frame

MAIN = silent_frame()
OUT = {
    "/stream-64": silent_frame(bitrate=64),
    "/stream-32": silent_frame(version="2", bitrate=32, sample_rate=22050),
}
FRAME = MAIN.header.duration
LAG = 9
"""
Frames by which a converter's output lags its input.
"""


class Station:
    """
    A mount with a ladder of two rungs and HLS, its programme aired by
    hand four frames at a time, the rungs' converters converting with a
    lag; every segment of every rendition collected as it closes.
    """

    def __init__(self) -> None:
        self.clock = Clock()
        self.clock.advance(1_800_000_000.0)
        config = MountConfig(name="/stream", bitrate=128, ladder=(64, 32), hls=True)
        self.main = Mount(config, FakeFrameSource([]), self.clock)
        self.converters = FakeConverters()
        self.ladders = Ladders(self.clock, self.converters)
        made, _ = self.ladders.update([self.main])
        for rung in made:
            rung.start()
        self.outputs = HlsOutputs(self.clock)
        self.outputs.update([self.main], made)
        self.output = self.outputs.outputs["stream"]
        self.cues = Cues()
        self.segments: dict[str, dict[int, Segment]] = {}
        self.emitted: dict[int, int] = {}

    def converter(self, kbps: int) -> FakeConverter:
        return [c for c in self.converters.made if c.target.bitrate == kbps][-1]

    def air(self, track: TrackInfo, frames: int = 4, kill: int = 0) -> None:
        """
        Air C{frames} frames of C{track}, then let each rung's converter
        hand out what it has been fed, less the lag (the C{kill} kbit/s
        one dies instead).
        """
        self.main.broadcast(self.cues([(MAIN, track)] * frames))
        self.clock.advance(frames * FRAME)
        for converter in list(self.converters.made):
            if converter.exited:
                continue
            if converter.target.bitrate == kill:
                converter.end(clean=False)
                continue
            name = "/stream-64" if converter.target.bitrate == 64 else "/stream-32"
            done = self.emitted.get(id(converter), 0)
            due = max(0, len(converter.fed) - LAG) - done
            if due:
                self.emitted[id(converter)] = done + due
                converter.emit([OUT[name]] * due)
        for name, rendition in self.output.renditions.items():
            if name not in self.segments:
                collected: dict[int, Segment] = {}
                self.segments[name] = collected
                rendition.on_segment.append(partial(_collect, collected))


def _collect(collected: dict[int, Segment], segment: Segment) -> None:
    collected[segment.sequence] = segment


def shape(segment: Segment) -> tuple[int | None, int, tuple[tuple[int, int], ...]]:
    """
    What must be the same on every rung: the timestamp, the frames, and
    each part's place and frames.
    """
    frames = round(segment.duration / FRAME)
    parts = tuple((part.index, round(part.duration / FRAME)) for part in segment.parts)
    return read_tag(segment.data)[0], frames, parts


class InStepTests(SynchronousTestCase):
    """
    The same media sequence number covers the same audio on every rung.
    """

    def test_an_hour_in_step(self) -> None:
        """
        Over an hour of programme (songs, a live show, a rung's converter
        dying and coming back), every segment number that two renditions
        both have covers the same frames of the programme, with the same
        timestamp and parts; a rung's missing audio only leaves numbers
        out.
        """
        station = Station()
        songs = [TrackInfo(f"{n}.mp3", f"Song {n}") for n in range(40)]
        live = TrackInfo("", "Live Show")
        hour = round(3600 / FRAME / 4)
        for batch in range(hour):
            minute = batch * 4 * FRAME / 60
            track = live if 20 <= minute < 40 else songs[int(minute / 3.5)]
            kill = 64 if batch == hour // 2 else 0
            station.air(track, kill=kill)
        main = station.segments["stream"]
        self.assertGreater(len(main), 3600 / 6.1)
        for name in ("stream-64", "stream-32"):
            rung = station.segments[name]
            common = sorted(set(main) & set(rung))
            self.assertGreater(len(common), len(main) - 5, name)
            broken = {n - 1 for n, segment in rung.items() if segment.discontinuous}
            for number in common[1:]:
                mine, theirs = shape(rung[number]), shape(main[number])
                if number in broken:
                    # Closed early when audio went missing: the start of
                    # the same stretch.
                    self.assertEqual(mine[0], theirs[0])
                    self.assertEqual(mine[2][:-1], theirs[2][: len(mine[2]) - 1])
                else:
                    self.assertEqual(mine, theirs, f"{name} {number}")
        gaps = [n for n, s in station.segments["stream-64"].items() if s.discontinuous]
        self.assertEqual(len(gaps), 1)
        self.assertEqual(
            [n for n, s in station.segments["stream-32"].items() if s.discontinuous], []
        )
        self.assertEqual(len(station.converters.made), 3)

    def test_titles_follow_the_programme(self) -> None:
        """
        A rung's segment is tagged with the title of the main audio at
        its start, as the mount's own segment is.
        """
        station = Station()
        first, second = TrackInfo("a.mp3", "First"), TrackInfo("b.mp3", "Second")
        for batch in range(400):
            station.air(first if batch < 150 else second)
        for number, segment in station.segments["stream"].items():
            rung = station.segments["stream-32"].get(number)
            if rung is not None:
                self.assertEqual(read_tag(rung.data)[1], read_tag(segment.data)[1])


def adts_frame(length: int = 300) -> AdtsFrame:
    """
    An ADTS frame of AAC-LC at 44.1 kHz stereo, C{length} bytes long (its
    payload zeros), as an encoder would hand it out.
    """
    head = bytes(
        (
            0xFF,
            0xF1,
            0x50,
            0x80 | (length >> 11),
            (length >> 3) & 0xFF,
            ((length & 7) << 5) | 0x1F,
            0xFC,
        )
    )
    header = parse_adts_header(head)
    assert header is not None
    return AdtsFrame(header, head + bytes(length - len(head)))


class AacTests(SynchronousTestCase):
    """
    AAC renditions: an encoder per bitrate fed the mount's audio, its
    frames cut at the same moments as the mount's.
    """

    def test_aac_rendition(self) -> None:
        """
        The encoder gets the mount's frames; what it hands back is cut into
        C{.aac} segments (no padding, frames as encoded) whose timestamps
        are the mount's for the same numbers, to within an AAC frame, and
        the multivariant playlist lists it with the AAC codec.
        """
        clock = Clock()
        clock.advance(1_800_000_000.0)
        config = MountConfig(name="/stream", bitrate=128, hls=True, hls_aac=(96,))
        main = Mount(config, FakeFrameSource([]), clock)
        encoders = FakeConverters()
        outputs = HlsOutputs(clock, encoders=encoders)
        outputs.update([main], [])
        output = outputs.outputs["stream"]
        cues = Cues()
        frame = adts_frame()
        made = 0.0
        collected: dict[str, dict[int, Segment]] = {"stream": {}, "stream-aac96": {}}
        for _ in range(600):
            main.broadcast(cues([(MAIN, TrackInfo("a.mp3", "A"))] * 4))
            clock.advance(4 * FRAME)
            encoder = encoders.made[-1]
            self.assertEqual(encoder.target.bitrate, 96)
            due = len(encoder.fed) * FRAME - 1024 / 44100 - LAG * FRAME
            batch = []
            while made + frame.duration <= due:
                batch.append(frame)
                made += frame.duration
            if batch:
                encoder.emit(batch)  # type: ignore[arg-type]
            for name, rendition in output.renditions.items():
                if not rendition.on_segment:
                    rendition.on_segment.append(partial(_collect, collected[name]))
        aac = output.renditions["stream-aac96"]
        self.assertEqual(aac.extension, "aac")
        main_segments, aac_segments = collected["stream"], collected["stream-aac96"]
        common = sorted(set(main_segments) & set(aac_segments))[1:]
        self.assertGreater(len(common), 5)
        for number in common:
            segment = aac_segments[number]
            ticks, _, length = read_tag(segment.data)
            assert ticks is not None
            self.assertEqual(segment.data[length : length + 2], b"\xff\xf1")
            self.assertEqual((len(segment.data) - length) % len(frame.data), 0)
            main_ticks = read_tag(main_segments[number].data)[0]
            assert main_ticks is not None
            self.assertLess(abs(ticks - main_ticks), 90_000 * frame.duration)
        playlist = media_playlist(aac.playlist())
        self.assertIn(f"{common[-1]}.aac", playlist)
        self.assertIn('CODECS="mp4a.40.2"', output.multivariant())
        self.assertIn("stream-aac96/media.m3u8", output.multivariant())

    def test_without_ffmpeg(self) -> None:
        """
        Without encoders, no AAC rendition is made and the log says so
        once.
        """
        clock = Clock()
        main = Mount(
            MountConfig(name="/stream", hls=True, hls_aac=(96,)), FakeFrameSource([]), clock
        )
        with capturedLogs() as events:
            outputs = HlsOutputs(clock)
            outputs.update([main], [])
            outputs.update([main], [])
        self.assertEqual(outputs.outputs["stream"].aac, {})
        warned = [e for e in events if "AAC renditions" in e.get("log_format", "")]
        self.assertEqual(len(warned), 1)


class MultivariantTests(SynchronousTestCase):
    """
    The multivariant playlist lists the mount and its rungs.
    """

    def test_variants(self) -> None:
        """
        Every rung is listed in the ladder's order with its media playlist
        and the MP3 codec; bandwidths are the rungs' bitrates before any
        segment, then measured on the segments, tags included.
        """
        station = Station()
        before = station.output.variants()
        self.assertEqual(
            [(v.uri, v.average) for v in before],
            [
                ("stream/media.m3u8", 128000),
                ("stream-64/media.m3u8", 64000),
                ("stream-32/media.m3u8", 32000),
            ],
        )
        for _ in range(200):
            station.air(TrackInfo("a.mp3", "A"))
        after = station.output.variants()
        self.assertEqual({v.codecs for v in after}, {MP3_CODECS})
        for variant, kbps in zip(after, (128, 64, 32), strict=True):
            self.assertGreater(variant.average, kbps * 1000 * 0.97)
            self.assertLess(variant.average, kbps * 1000 * 1.06)
            self.assertGreaterEqual(variant.bandwidth, variant.average)
        text = station.output.multivariant()
        self.assertEqual(text.count("#EXT-X-STREAM-INF:"), 3)


class OutputsTests(SynchronousTestCase):
    """
    L{HlsOutputs} follows the mounts that ask for HLS.
    """

    def test_update(self) -> None:
        """
        A mount gets an output when it asks for HLS, keeps it while its
        rungs stay, and loses it (parked requests answered) when it stops
        asking.
        """
        clock = Clock()
        mount = Mount(MountConfig(name="/live", hls=True), FakeFrameSource([]), clock)
        plain = Mount(MountConfig(name="/plain"), FakeFrameSource([]), clock)
        outputs = HlsOutputs(clock)
        outputs.update([mount, plain], [])
        self.assertEqual(list(outputs.outputs), ["live"])
        output = outputs.outputs["live"]
        self.assertIsInstance(output, HlsOutput)
        outputs.update([mount, plain], [])
        self.assertIs(outputs.outputs["live"], output)
        self.assertEqual(len(mount.on_air), 1)
        mount.reconfigure(replace(mount.config, hls_segment=4.0))
        outputs.update([mount, plain], [])
        self.assertIsNot(outputs.outputs["live"], output)
        self.assertEqual(len(mount.on_air), 1)
        mount.reconfigure(replace(mount.config, hls=False))
        outputs.update([mount, plain], [])
        self.assertEqual(outputs.outputs, {})
        self.assertEqual(mount.on_air, [])
