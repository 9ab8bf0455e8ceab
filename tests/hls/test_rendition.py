"""
Tests for L{radiod.hls.rendition}.
"""

from __future__ import annotations

import array
import os
import subprocess

from twisted.internet.task import Clock
from twisted.trial.unittest import SynchronousTestCase

from radiod.audio.frames import Frame, FrameSplitter
from radiod.audio.id3 import read_tag
from radiod.audio.reservoir import main_data_begin
from radiod.audio.track import Play, TrackInfo
from radiod.hls.playlist import media_playlist
from radiod.hls.rendition import BLOCK, Rendition, Segment, part_name, segment_name
from radiod.hls.timing import Timing
from radiod.testing import silent_frame
from tests.support.loopback import ROOT
from tests.support.tools import require_ffmpeg

DEMO = os.path.join(ROOT, "radiod", "demo", "01-morning-arpeggio.mp3")
FIRST = TrackInfo("a.mp3", "Morning", "The Band", "Dawn")
SECOND = TrackInfo("b.mp3", "Evening", "Other Band")
BEGAN = 1_800_000_000.0
FRAME = 1152 / 44100


def demo_frames() -> list[Frame]:
    with open(DEMO, "rb") as file:
        return FrameSplitter().feed(file.read())


def decode(ffmpeg: str, data: bytes) -> array.array[int]:
    """
    The 16-bit samples ffmpeg decodes from C{data}, an MP3 stream (ID3 tag
    first) it must decode without a word on its error output.
    """
    done = subprocess.run(
        [ffmpeg, "-v", "error", "-f", "mp3", "-i", "-", "-f", "s16le", "-"],
        input=data,
        capture_output=True,
        timeout=60,
        check=True,
    )
    if done.stderr:
        raise AssertionError(done.stderr.decode(errors="replace"))
    return array.array("h", done.stdout)


class Cutter:
    """
    A rendition fed frames in batches of four, at consecutive positions,
    as a mount airs them; segments are collected as they close.
    """

    def __init__(self, window: float = 60.0, part: float = 1.0, segment: float = 6.0) -> None:
        self.clock = Clock()
        self.clock.advance(BEGAN)
        self.timing = Timing(FRAME, part, segment, BEGAN)
        self.rendition = Rendition("stream", self.timing, self.clock, window)
        self.segments: list[Segment] = []
        self.rendition.on_segment.append(self.segments.append)
        self.position = 0.0

    def air(self, frames: list[Frame], play: Play, skip: float = 0.0) -> None:
        self.position += skip
        for start in range(0, len(frames), 4):
            batch = frames[start : start + 4]
            positions = []
            for frame in batch:
                positions.append(self.position)
                self.position += frame.header.duration
            self.clock.advance(sum(frame.header.duration for frame in batch))
            self.timing.note(self.position, self.clock.seconds())
            self.rendition.take([(frame, play) for frame in batch], positions)


class CuttingTests(SynchronousTestCase):
    """
    Frames are cut into parts of whole frames and segments of whole
    parts, each tagged and decodable on its own.
    """

    def test_layout(self) -> None:
        """
        A part is 38 frames (about a second) and a segment six parts;
        segments are numbered from the wall-clock time, and each closes
        with its last frame.
        """
        cutter = Cutter()
        frames = demo_frames()[:700]
        cutter.air(frames, Play(1, FIRST))
        first = int(BEGAN // (228 * FRAME)) + 1
        self.assertEqual([s.sequence for s in cutter.segments], [first, first + 1, first + 2])
        for segment in cutter.segments:
            self.assertEqual([len(p.data) > 0 for p in segment.parts], [True] * 6)
            self.assertAlmostEqual(segment.duration, 228 * FRAME)
            self.assertAlmostEqual(segment.parts[0].duration, 38 * FRAME)
        # 700 - 3 * 228 = 16 frames wait in the next part.
        self.assertEqual(cutter.rendition.last, (first + 2, 5))
        self.assertEqual(cutter.rendition.next_part(), (first + 3, 0))

    def test_tags(self) -> None:
        """
        Each segment and part starts with an ID3 tag holding the timestamp
        of its first sample and the title playing then; a title that
        changes within a segment shows in the next one, and in the next
        part.
        """
        cutter = Cutter()
        frames = demo_frames()
        cutter.air(frames[:300], Play(1, FIRST))
        cutter.air(frames[300:700], Play(2, SECOND))
        segments = cutter.segments
        ticks, texts, length = read_tag(segments[0].data)
        self.assertEqual(ticks, round((cutter.timing.first * 228 * FRAME) * 90000) % 2**33)
        self.assertEqual(texts, {"TIT2": "Morning", "TPE1": "The Band", "TALB": "Dawn"})
        audio = segments[0].data[length:].lstrip(b"\x00")
        self.assertEqual(audio[:4], frames[0].data[:4])
        ticks, texts, _ = read_tag(segments[1].data)
        self.assertEqual(ticks, cutter.timing.ticks(228 * FRAME))
        self.assertEqual(texts["TIT2"], "Morning")
        self.assertEqual(read_tag(segments[2].data)[1], {"TIT2": "Evening", "TPE1": "Other Band"})
        # Frame 300 is in part 1 of segment 1 (frames 266 to 303).
        titles = [read_tag(part.data)[1]["TIT2"] for part in segments[1].parts]
        self.assertEqual(titles, ["Morning", "Morning", "Evening", "Evening", "Evening", "Evening"])
        for part in segments[1].parts:
            self.assertEqual(read_tag(part.data)[0], cutter.timing.ticks(part.start))

    def test_parts_make_the_segment(self) -> None:
        """
        A segment's audio is its parts' audio, one after the other, padded
        with zeros to whole blocks; every part and segment begins with a
        frame that borrows nothing, while the source's frames borrow from
        the ones before them.
        """
        cutter = Cutter()
        frames = demo_frames()
        self.assertGreater(main_data_begin(frames[228]), 0)
        cutter.air(frames[:500], Play(1, FIRST))
        for segment in cutter.segments:
            audio = segment.data[read_tag(segment.data)[2] :]
            parts = b"".join(part.data[part.tag_length :] for part in segment.parts)
            self.assertEqual(len(audio) % BLOCK, 0)
            self.assertEqual(audio, bytes(len(audio) - len(parts)) + parts)
            self.assertLess(len(audio) - len(parts), BLOCK)
            for part in segment.parts:
                first = FrameSplitter().feed(part.data[part.tag_length :])[0]
                self.assertEqual(main_data_begin(first), 0)

    def test_each_segment_decodes(self) -> None:
        """
        ffmpeg decodes every segment on its own without an error, and from
        its second frame on, exactly as the uncut audio (the first frame
        differs only by the decoder's warm-up).
        """
        ffmpeg = require_ffmpeg()
        cutter = Cutter()
        frames = demo_frames()
        cutter.air(frames[:700], Play(1, FIRST))
        whole = decode(ffmpeg, b"".join(frame.data for frame in frames[:700]))
        per_frame = 1152 * 2
        for number, segment in enumerate(cutter.segments[1:], start=1):
            alone = decode(ffmpeg, segment.data)
            self.assertEqual(len(alone), 228 * per_frame)
            start = number * 228 * per_frame
            self.assertEqual(
                alone[per_frame:], whole[start + per_frame : start + 228 * per_frame], number
            )


class ChangeTests(SynchronousTestCase):
    """
    Changes of format and missing audio close the segment in progress and
    start the next after a discontinuity.
    """

    def test_format_change(self) -> None:
        """
        Audio in another format (a live source before its conversion
        settles) closes the segment in progress early; the new audio starts
        with the next segment, after a discontinuity the playlist shows.
        """
        cutter = Cutter()
        cutter.air(demo_frames()[:300], Play(1, FIRST))
        other = silent_frame(version="2", bitrate=64, sample_rate=22050)
        cutter.air([other] * 500, Play(2, SECOND))
        # The new format waits for the next segment: frames 300 to 455
        # are not cut, frames 456 to 683 are the next segment.
        durations = [round(s.duration / FRAME) for s in cutter.segments]
        self.assertEqual(durations, [228, 72, 228])
        self.assertEqual([s.discontinuous for s in cutter.segments], [False, False, True])
        numbers = [s.sequence for s in cutter.segments]
        self.assertEqual(numbers, list(range(numbers[0], numbers[0] + 3)))
        text = media_playlist(cutter.rendition.playlist())
        before = text.split(segment_name(cutter.segments[2].sequence))[0]
        self.assertEqual(before.count("#EXT-X-DISCONTINUITY\n"), 1)
        self.assertTrue(before.rstrip().split("\n")[-1].startswith("#EXTINF"))

    def test_gap(self) -> None:
        """
        Missing audio (a rung's converter restarting) closes the segment
        in progress; the audio after the gap starts with the next segment,
        after a discontinuity, and no number is used twice.
        """
        cutter = Cutter()
        frames = demo_frames()
        cutter.air(frames[:250], Play(1, FIRST))
        cutter.air(frames[250:700], Play(1, FIRST), skip=3.0)
        segments = cutter.segments
        self.assertEqual([s.discontinuous for s in segments], [False, False, True])
        self.assertEqual([s.sequence - segments[0].sequence for s in segments], [0, 1, 2])
        self.assertEqual(round(segments[1].duration / FRAME), 22)
        self.assertEqual(len(segments[2].parts), 6)

    def test_window(self) -> None:
        """
        The playlist lists the segments of the window, the oldest kept a
        little longer; older ones are gone.
        """
        cutter = Cutter(window=18.0)
        frames = demo_frames()
        for _ in range(4):
            cutter.air(frames, Play(1, FIRST))
        rendition = cutter.rendition
        playlist = rendition.playlist()
        self.assertEqual(len(playlist.segments), 3)
        newest = cutter.segments[-1].sequence
        self.assertEqual(
            [s.uri for s in playlist.segments],
            [segment_name(n) for n in range(newest - 2, newest + 1)],
        )
        self.assertEqual(rendition.oldest, newest - 4)
        self.assertIsNotNone(rendition.segment(newest - 4))
        self.assertIsNone(rendition.segment(newest - 5))
        self.assertIsNone(rendition.segment(newest + 1))
        self.assertEqual([len(s.parts) for s in playlist.segments], [6, 6, 6])
        self.assertEqual(playlist.hint, part_name(*rendition.next_part()))  # type: ignore[misc]


class RenderedTests(SynchronousTestCase):
    """
    The playlist's text is rendered once per part.
    """

    def test_once_per_part(self) -> None:
        """
        Between two parts every reload gets the very same bytes; a part
        closing, other rungs' reports or a start change them.
        """
        cutter = Cutter()
        frames = demo_frames()
        cutter.air(frames[:40], Play(1, FIRST))
        rendition = cutter.rendition
        first = rendition.rendered()
        self.assertIs(rendition.rendered(), first)
        self.assertEqual(first, media_playlist(rendition.playlist()).encode())
        self.assertIsNot(rendition.rendered([("../x/media.m3u8", 1, 0)]), first)
        self.assertIn(b"EXT-X-START", rendition.rendered(start=1.0))
        cutter.air(frames[40:80], Play(1, FIRST))
        again = rendition.rendered()
        self.assertNotEqual(again, first)
        self.assertEqual(again, media_playlist(rendition.playlist()).encode())


class WaitTests(SynchronousTestCase):
    """
    Requests for parts and segments still to come wait for them.
    """

    def test_fires_when_cut(self) -> None:
        """
        A wait for the next part fires when its last frame is cut; one for
        a whole segment when its last part is; one for what exists fires
        at once.
        """
        cutter = Cutter()
        frames = demo_frames()
        cutter.air(frames[:40], Play(1, FIRST))
        rendition = cutter.rendition
        sequence = cutter.timing.first
        fired: list[tuple[str, bool]] = []
        rendition.wait(sequence, 0, 10).addCallback(lambda came: fired.append(("now", came)))
        rendition.wait(sequence, 1, 10).addCallback(lambda came: fired.append(("part", came)))
        rendition.wait(sequence, None, 10).addCallback(lambda came: fired.append(("seg", came)))
        self.assertEqual(fired, [("now", True)])
        self.assertEqual(rendition.waiting, 2)
        cutter.air(frames[40:76], Play(1, FIRST))
        self.assertEqual(fired[1:], [("part", True)])
        cutter.air(frames[76:228], Play(1, FIRST))
        self.assertEqual(fired[2:], [("seg", True)])
        self.assertEqual(rendition.waiting, 0)

    def test_timeout_and_cancel(self) -> None:
        """
        A wait that is not satisfied in time fires with C{False}; a
        cancelled one is forgotten; stopping answers the rest.
        """
        cutter = Cutter()
        rendition = cutter.rendition
        sequence = cutter.timing.first
        fired: list[bool] = []
        rendition.wait(sequence, 0, 5).addCallback(fired.append)
        cancelled = rendition.wait(sequence, 1, 5)
        cancelled.addErrback(lambda failure: None)
        cancelled.cancel()
        left = rendition.wait(sequence, 2, 50)
        left.addCallback(fired.append)
        self.assertEqual(rendition.waiting, 2)
        cutter.clock.advance(5)
        self.assertEqual(fired, [False])
        self.assertEqual(rendition.waiting, 1)
        rendition.stop()
        self.assertEqual(fired, [False, False])
        self.assertEqual(cutter.clock.getDelayedCalls(), [])
