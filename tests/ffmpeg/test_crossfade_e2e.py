"""
End-to-end tests of autocue and crossfade: real ffmpeg measuring the
silence of real MP3 files and rendering the overlap between two tones,
and ffmpeg decoding the joined stream, whose samples are checked around
each join.
"""

from __future__ import annotations

import array
import math
import os
from collections.abc import Sequence

from twisted.internet.interfaces import IReactorCore
from twisted.internet.utils import getProcessOutputAndValue
from twisted.trial.unittest import TestCase

from radiod.audio.format import AudioFormat
from radiod.audio.frames import Frame, FrameSplitter
from radiod.audio.reservoir import main_data_begin
from radiod.audio.splice import Join, trim
from radiod.ffmpeg.cache import ConversionCache
from radiod.ffmpeg.transcoder import Transcoder
from radiod.runner import thread_runner
from radiod.testing import read_frames
from tests.support.loopback import ROOT, asynchronous, reactor
from tests.support.tools import require_ffmpeg

SILENT = 32768 * 10 ** (-50 / 20)
"""
The peak, in 16-bit sample values, below which a window counts as
near-silent: -50 dBFS.
"""

WINDOW = 0.01
"""
The length of the windows the decoded audio is scanned in, in seconds.
"""

LONGEST_GAP = 0.05
"""
The longest run of near-silent windows, in seconds, a join may add.
"""

DEMO = os.path.join(ROOT, "radiod", "demo")


async def ffmpeg_output(ffmpeg: str, arguments: list[str]) -> tuple[bytes, bytes]:
    """
    Run ffmpeg to its end without blocking the reactor.

    @return: what it wrote on its standard output and on its standard
        error; it must exit with status 0.
    """
    out, err, code = await getProcessOutputAndValue(
        ffmpeg, arguments, env=dict(os.environ), reactor=reactor
    )
    assert code == 0, err.decode("utf-8", "replace")
    return out, err


async def make_tone(
    ffmpeg: str, path: str, frequency: int, seconds: float, target: AudioFormat, silence: float
) -> None:
    """
    Write an MP3 file (with its LAME tag, as encoders write them) of a
    tone of C{seconds} in C{target}'s format, with C{silence} seconds of
    digital silence before and after it.
    """
    source = f"sine=frequency={frequency}:sample_rate={target.sample_rate}:duration={seconds}"
    arguments = ["-hide_banner", "-nostdin", "-v", "error", "-y", "-f", "lavfi", "-i", source]
    if silence:
        delay = round(silence * 1000)
        arguments += ["-af", f"adelay=delays={delay}:all=1,apad=pad_dur={silence}"]
    arguments += ["-ac", str(target.channels), "-c:a", "libmp3lame"]
    arguments += ["-b:a", f"{target.bitrate}k", path]
    await ffmpeg_output(ffmpeg, arguments)


def peaks(pcm: array.array[int], channels: int, rate: int) -> list[int]:
    """
    The peak of each 10 ms window of interleaved 16-bit samples.
    """
    step = round(WINDOW * rate) * channels
    return [
        max(map(abs, pcm[start : start + step]), default=0) for start in range(0, len(pcm), step)
    ]


def longest_gap(pcm: array.array[int], channels: int, rate: int, start: float, end: float) -> float:
    """
    The longest run of near-silent windows, in seconds, between C{start}
    and C{end} seconds into the audio.
    """
    longest = run = 0
    windows = peaks(pcm, channels, rate)
    for peak in windows[max(0, int(start / WINDOW)) : int(end / WINDOW)]:
        run = run + 1 if peak < SILENT else 0
        longest = max(longest, run)
    return longest * WINDOW


def rms(samples: Sequence[int]) -> float:
    """
    The root mean square of C{samples}.
    """
    return math.sqrt(sum(sample * sample for sample in samples) / max(1, len(samples)))


class CrossfadeEndToEndTests(TestCase):
    """
    Tones joined through real ffmpeg: their cue points measured and
    cached, their silence skipped, and their ends overlapped.
    """

    timeout = 120

    def setUp(self) -> None:
        self.ffmpeg = require_ffmpeg()
        self.folder = os.path.abspath(self.mktemp())
        os.makedirs(self.folder)
        core: IReactorCore = reactor
        runner = thread_runner(core, reactor.getThreadPool())
        cache = ConversionCache(os.path.join(self.folder, "cache"), 1 << 30, runner)
        self.transcoder = Transcoder(reactor, reactor, runner, cache, self.ffmpeg)

    def assert_near(self, value: float, expected: float, within: float) -> None:
        """
        C{value} is C{expected} give or take C{within}.
        """
        self.assertLessEqual(abs(value - expected), within, f"{value} is not {expected}")

    async def decode(self, frames: Sequence[Frame], channels: int) -> array.array[int]:
        """
        The 16-bit samples ffmpeg decodes from C{frames}, which it must
        decode without a word on its error output.
        """
        path = os.path.join(self.folder, "joined.mp3")
        with open(path, "wb") as f:
            f.write(b"".join(frame.data for frame in frames))
        arguments = ["-hide_banner", "-nostdin", "-v", "error", "-f", "mp3", "-i", path]
        pcm, errors = await ffmpeg_output(self.ffmpeg, [*arguments, "-f", "s16le", "-"])
        self.assertEqual(errors.decode("utf-8", "replace"), "")
        samples: array.array[int] = array.array("h", pcm)
        self.assertEqual(len(samples) % channels, 0)
        return samples

    async def tone(
        self, name: str, frequency: int, seconds: float, target: AudioFormat, silence: float = 0.0
    ) -> tuple[str, list[Frame]]:
        """
        Make a tone file and read its frames.
        """
        path = os.path.join(self.folder, name)
        await make_tone(self.ffmpeg, path, frequency, seconds, target, silence)
        with open(path, "rb") as f:
            return path, read_frames(f.read())

    @asynchronous
    async def test_cue_points(self) -> None:
        """
        A tone with a second of silence before and after it is cued at
        its sound, to within a few milliseconds; the measurement is kept,
        and asked for again it comes from the cache without ffmpeg.  A
        tone without silence is cued at its ends.
        """
        target = AudioFormat(44100, 2, 128)
        quiet, quiet_frames = await self.tone("quiet.mp3", 440, 3.0, target, silence=1.0)
        duration = len(quiet_frames) * 1152 / 44100
        cues = await self.transcoder.cue_points(quiet, duration, "/m")
        self.assert_near(cues.start, 1.0, 0.005)
        self.assert_near(cues.end, 4.0, 0.005)
        self.assertEqual(self.transcoder.cue_measurements, 1)
        self.assertEqual(await self.transcoder.cue_points(quiet, duration, "/m"), cues)
        self.assertEqual(self.transcoder.cue_measurements, 1)
        self.assertEqual(self.transcoder.runs, set())
        first, last = trim(quiet_frames, cues)
        frame = 1152 / 44100
        self.assertEqual(first, math.floor(cues.start / frame))
        self.assertLessEqual((len(quiet_frames) - last) * frame, 1.0)
        self.assertGreater((len(quiet_frames) - last) * frame, 0.9)
        loud, loud_frames = await self.tone("loud.mp3", 660, 3.0, target)
        loud_duration = len(loud_frames) * frame
        loud_cues = await self.transcoder.cue_points(loud, loud_duration, "/m")
        self.assert_near(loud_cues.start, 0.0, 0.005)
        self.assertEqual(loud_cues.end, loud_duration)
        self.assertEqual(trim(loud_frames, loud_cues), (0, len(loud_frames)))

    async def check_crossfade(self, target: AudioFormat) -> None:
        """
        Join a tone with a second of silence at either end, a second
        tone, and the first again, with crossfades of two seconds: the
        silence is skipped, and the joined stream decodes without an
        error, lasts exactly as long as its frames, has no near-silent
        stretch around either join, and plays the incoming tone after
        each overlap exactly where it would have played on its own.
        """
        rate, channels = target.sample_rate, target.channels
        quiet, quiet_frames = await self.tone("a.mp3", 440, 4.0, target, silence=1.0)
        loud, loud_frames = await self.tone("b.mp3", 660, 6.0, target)
        samples = quiet_frames[0].header.samples
        frame = samples / rate
        quiet_cues = await self.transcoder.cue_points(quiet, len(quiet_frames) * frame, "/m")
        loud_cues = await self.transcoder.cue_points(loud, len(loud_frames) * frame, "/m")
        a = quiet_frames[slice(*trim(quiet_frames, quiet_cues))]
        b = loud_frames[slice(*trim(loud_frames, loud_cues))]
        self.assert_near(len(a) * frame, 4.0, 0.1)
        self.assertEqual(len(b), len(loud_frames))

        first = await self.transcoder.crossfade(a, b, 2.0, target, name="/m")
        assert first.resume is not None
        b_plays = [first.resume, *b[first.incoming_start + 1 :]]
        second = await self.transcoder.crossfade(b_plays, a, 2.0, target, name="/m")
        assert second.resume is not None
        overlap = round(2.0 / frame)
        for join in (first, second):
            self.check_overlap(join, target, overlap)
        stream = [
            *a[: first.outgoing_end],
            *first.overlap,
            *b_plays[: second.outgoing_end],
            *second.overlap,
            second.resume,
            *a[second.incoming_start + 1 :],
        ]
        self.assertEqual(
            len(stream),
            (len(a) - overlap) + overlap + (len(b) - 2 * overlap) + overlap + (len(a) - overlap),
        )
        splitter = FrameSplitter()
        split = splitter.feed(b"".join(f.data for f in stream)) + splitter.finish()
        self.assertEqual(len(split), len(stream))
        self.assertEqual(splitter.garbage_bytes, 0)

        pcm = await self.decode(stream, channels)
        self.assertEqual(len(pcm), len(stream) * samples * channels)
        joins = [first.outgoing_end, first.outgoing_end + len(b) - overlap]
        for start in joins:
            at = start * frame
            gap = longest_gap(pcm, channels, rate, at - 1.0, at + overlap * frame + 1.0)
            self.assertLessEqual(gap, LONGEST_GAP, f"{gap:.2f} s of silence near {at:.2f} s")

        # After each overlap, the incoming tone plays sample for sample as
        # it does on its own; in the overlap's first frames, the stream is
        # both tones added at full level.
        alone_a = await self.decode(a, channels)
        alone_b = await self.decode(b, channels)
        for start, incoming in ((joins[0], alone_b), (joins[1], alone_a)):
            after = (overlap + 2) * samples
            self.assert_close(pcm, start * samples + after, incoming, after, channels)
        mixed = array.array(
            "h",
            (
                max(-32768, min(32767, x + y))
                for x, y in zip(
                    alone_a[joins[0] * samples * channels :],
                    alone_b[: 4 * samples * channels],
                    strict=False,
                )
            ),
        )
        self.assert_close(pcm, joins[0] * samples, mixed, 0, channels, 4 * samples, 0.15)

    def check_overlap(self, join: Join, target: AudioFormat, overlap: int) -> None:
        """
        The overlap has its full length, in the mount's format, and
        replaces as many incoming frames; its first frame borrows nothing
        and the frame after it resumes on its own.
        """
        self.assertEqual(len(join.overlap), overlap)
        self.assertEqual(join.incoming_start, overlap)
        self.assertEqual(main_data_begin(join.overlap[0]), 0)
        for frame in join.overlap:
            self.assertTrue(target.matches(frame.header))
        self.assertEqual({frame.header.bitrate for frame in join.overlap}, {target.bitrate})
        assert join.resume is not None
        self.assertEqual(main_data_begin(join.resume), 0)

    def assert_close(
        self,
        pcm: array.array[int],
        at: int,
        expected: array.array[int],
        start: int,
        channels: int,
        length: int = 4096,
        tolerance: float = 0.02,
    ) -> None:
        """
        The decoded stream from sample C{at} on matches C{expected} from
        sample C{start} on (counting samples per channel), for C{length}
        samples, to within C{tolerance} of its level.
        """
        got = pcm[at * channels : (at + length) * channels]
        want = expected[start * channels : (start + length) * channels]
        self.assertEqual(len(got), len(want))
        difference = rms([x - y for x, y in zip(got, want, strict=True)])
        self.assertLess(difference, tolerance * rms(want), f"at sample {at}")

    @asynchronous
    async def test_stereo(self) -> None:
        """
        Crossfades at 44,100 Hz, stereo, 128 kbit/s.
        """
        await self.check_crossfade(AudioFormat(44100, 2, 128))

    @asynchronous
    async def test_mono_half_rate(self) -> None:
        """
        Crossfades at 22,050 Hz, mono, 64 kbit/s.
        """
        await self.check_crossfade(AudioFormat(22050, 1, 64))

    @asynchronous
    async def test_music_at_top_bitrate(self) -> None:
        """
        Two demo tracks converted to 48,000 Hz, stereo, 320 kbit/s (where
        no frame is larger, so none can carry bytes it borrows) join with
        the default crossfade of four seconds: the stream decodes without
        an error, lasts as long as its frames, has no near-silent stretch
        around the join that neither track has, and the incoming track
        goes on after the overlap exactly as it plays on its own.
        """
        target = AudioFormat(48000, 2, 320)
        tracks = []
        for name in ("01-morning-arpeggio.mp3", "02-harbour-lights.mp3"):
            source = os.path.join(DEMO, name)
            frames = await self.transcoder.convert(source, target, 0.0, 20.0, "/m")
            duration = len(frames) * 1152 / 48000
            cues = await self.transcoder.cue_points(source, duration, "/m")
            tracks.append(frames[slice(*trim(frames, cues))])
        a, b = tracks
        join = await self.transcoder.crossfade(a, b, 4.0, target, name="/m")
        overlap = round(4.0 * 48000 / 1152)
        self.check_overlap(join, target, overlap)
        assert join.resume is not None
        stream = [*a[: join.outgoing_end], *join.overlap, join.resume, *b[overlap + 1 :]]
        self.assertEqual(len(stream), len(a) + len(b) - overlap)
        pcm = await self.decode(stream, 2)
        self.assertEqual(len(pcm), len(stream) * 1152 * 2)
        alone_a = await self.decode(a, 2)
        alone_b = await self.decode(b, 2)
        frame = 1152 / 48000
        at = join.outgoing_end * frame
        had = max(
            longest_gap(alone_a, 2, 48000, at - 1.0, len(a) * frame),
            longest_gap(alone_b, 2, 48000, 0.0, (overlap + 1) * frame + 1.0),
        )
        gap = longest_gap(pcm, 2, 48000, at - 1.0, at + overlap * frame + 1.0)
        self.assertLessEqual(gap, max(had, LONGEST_GAP))
        after = (overlap + 2) * 1152
        self.assert_close(pcm, join.outgoing_end * 1152 + after, alone_b, after, 2)
