"""
Tests for L{radiod.ffmpeg.transcoder}: ffmpeg runs and the transcoder, with
fake processes and a clock; and the mount format they convert to.
"""

from __future__ import annotations

import os

from twisted.internet.defer import Deferred
from twisted.internet.error import ProcessDone, ProcessTerminated
from twisted.internet.task import Clock
from twisted.logger import capturedLogs
from twisted.python.failure import Failure
from twisted.trial.unittest import SynchronousTestCase

from radiod.audio.format import (
    ANY_FORMAT,
    DEFAULT_FORMAT,
    AudioFormat,
    encoder_bitrate,
    mount_format,
    mp3_bitrates,
    plays_unchanged,
    probe,
)
from radiod.audio.frames import Frame
from radiod.audio.loudness import Loudness
from radiod.ffmpeg.cache import ConversionCache
from radiod.ffmpeg.transcoder import (
    CONCURRENT_RUNS,
    ConversionError,
    FfmpegRun,
    Transcoder,
)
from radiod.testing import FakeProcess, FakeProcessReactor, silent_frame, synchronous_runner

STEREO = AudioFormat(44100, 2, 128)
SUMMARY = (
    b"[Parsed_ebur128_0 @ 0x1] Summary:\n\n  Integrated loudness:\n    I:         -11.0 LUFS\n"
    b"    Threshold: -21.0 LUFS\n\n  True peak:\n    Peak:       -0.5 dBFS\n"
)


def frames_of(count: int, **kwargs: int | str) -> list[Frame]:
    """
    C{count} silent frames made by L{silent_frame} with C{kwargs}.
    """
    return [silent_frame(**kwargs)] * count  # type: ignore[arg-type]


class FormatTests(SynchronousTestCase):
    """
    The format a mount settles on, and which MP3 files play unchanged.
    """

    def test_bitrates(self) -> None:
        """
        MPEG-1 rates from 32 kHz, MPEG-2 rates from 16 kHz, and at most 64
        kbit/s below, as LAME writes them; the nearest is chosen.
        """
        self.assertEqual(mp3_bitrates(44100)[-1], 320)
        self.assertEqual(mp3_bitrates(22050)[-1], 160)
        self.assertEqual(mp3_bitrates(8000)[-1], 64)
        self.assertIn(144, mp3_bitrates(0))
        self.assertIn(320, mp3_bitrates(0))
        self.assertEqual(encoder_bitrate(44100, 128), 128)
        self.assertEqual(encoder_bitrate(22050, 320), 160)
        self.assertEqual(encoder_bitrate(11025, 128), 64)
        self.assertEqual(encoder_bitrate(44100, 100), 96)

    def test_first_mp3(self) -> None:
        """
        The parts left open come from the first track: its sample rate,
        channels and (constant) bitrate.
        """
        first = probe(frames_of(10, sample_rate=48000, channels=1, bitrate=96))
        self.assertEqual(mount_format(ANY_FORMAT, first), AudioFormat(48000, 1, 96))
        self.assertEqual(mount_format(AudioFormat(0, 2, 0), first), AudioFormat(48000, 2, 96))
        self.assertEqual(
            mount_format(AudioFormat(22050, 0, 192), first), AudioFormat(22050, 1, 160)
        )

    def test_first_vbr(self) -> None:
        """
        A first track in VBR gives its average bitrate, rounded to one the
        encoder writes.
        """
        frames = frames_of(1, bitrate=128) + frames_of(1, bitrate=192)
        self.assertEqual(mount_format(ANY_FORMAT, probe(frames)).bitrate, 160)

    def test_first_not_mp3(self) -> None:
        """
        A first track that is not an MP3 leaves the open parts at 44100 Hz,
        stereo, 128 kbit/s.
        """
        self.assertEqual(mount_format(ANY_FORMAT, None), DEFAULT_FORMAT)
        self.assertEqual(mount_format(AudioFormat(0, 1, 0), None), AudioFormat(44100, 1, 128))
        self.assertEqual(mount_format(AudioFormat(8000, 0, 0), None), AudioFormat(8000, 2, 64))

    def test_plays_unchanged(self) -> None:
        """
        Frames all at the format's sample rate and channels, in Layer III,
        play unchanged; with an exact bitrate, only at that bitrate.
        """
        cbr = probe(frames_of(3))
        self.assertTrue(plays_unchanged(cbr, STEREO, exact_bitrate=True))
        self.assertTrue(plays_unchanged(cbr, AudioFormat(44100, 2, 192), exact_bitrate=False))
        self.assertFalse(plays_unchanged(cbr, AudioFormat(44100, 2, 192), exact_bitrate=True))
        self.assertFalse(plays_unchanged(cbr, AudioFormat(48000, 2, 128), exact_bitrate=False))
        self.assertFalse(plays_unchanged(cbr, AudioFormat(44100, 1, 128), exact_bitrate=False))
        vbr = probe(frames_of(2) + frames_of(1, bitrate=192))
        self.assertTrue(plays_unchanged(vbr, STEREO, exact_bitrate=False))
        self.assertFalse(plays_unchanged(vbr, STEREO, exact_bitrate=True))
        mixed = probe(frames_of(2) + frames_of(1, sample_rate=48000))
        self.assertFalse(plays_unchanged(mixed, STEREO, exact_bitrate=False))
        layer2 = probe(frames_of(2, layer=2))
        self.assertFalse(plays_unchanged(layer2, STEREO, exact_bitrate=False))


class FfmpegRunTests(SynchronousTestCase):
    """
    One ffmpeg process: its result, its failures and its time limit.
    """

    def start(self, timeout: float = 60) -> tuple[Clock, FfmpegRun, FakeProcess]:
        clock = Clock()
        run = FfmpegRun(clock, timeout)
        reactor = FakeProcessReactor()
        reactor.spawnProcess(run, "ffmpeg", ["ffmpeg"])
        return clock, run, reactor.spawned[0]

    def test_success(self) -> None:
        """
        An exit status of 0 gives what ffmpeg wrote on standard error, and
        its standard input is closed from the start.
        """
        clock, run, process = self.start()
        self.assertTrue(process.stdin_closed)
        process.output(b"some log\n", 2)
        process.end()
        self.assertEqual(self.successResultOf(run.done), "some log\n")
        self.assertEqual(clock.getDelayedCalls(), [])

    def test_failure(self) -> None:
        """
        Another exit status fails with ffmpeg's last line of error.
        """
        clock, run, process = self.start()
        process.output(b"first\n/m/bad.flac: Invalid data found\n", 2)
        process.end(Failure(ProcessTerminated(exitCode=1)))
        failure = self.failureResultOf(run.done, ConversionError)
        self.assertEqual(
            failure.getErrorMessage(),
            "ffmpeg exited with status 1: /m/bad.flac: Invalid data found",
        )
        self.assertEqual(clock.getDelayedCalls(), [])

    def test_killed(self) -> None:
        """
        A process killed by someone else fails naming the signal.
        """
        clock, run, process = self.start()
        process.end(Failure(ProcessTerminated(signal=9)))
        failure = self.failureResultOf(run.done, ConversionError)
        self.assertEqual(failure.getErrorMessage(), "ffmpeg was killed by signal 9")

    def test_overdue(self) -> None:
        """
        A process still running at its time limit is killed, and fails
        saying it took too long.
        """
        clock, run, process = self.start(timeout=60)
        clock.advance(59)
        self.assertEqual(process.signals, [])
        clock.advance(1)
        self.assertEqual(process.signals, ["KILL"])
        self.assertNoResult(run.done)
        process.end(Failure(ProcessTerminated(signal=9)))
        failure = self.failureResultOf(run.done, ConversionError)
        self.assertEqual(failure.getErrorMessage(), "ffmpeg took longer than 60 s")
        self.successResultOf(run.ended)

    def test_stderr_bounded(self) -> None:
        """
        Only the end of a long standard error is kept.
        """
        clock, run, process = self.start()
        for _ in range(100):
            process.output(b"x" * 1000 + b"\n", 2)
        process.output(b"the end\n", 2)
        process.end()
        log = self.successResultOf(run.done)
        self.assertLessEqual(len(log), 8192)
        self.assertTrue(log.endswith("the end\n"))


class TranscoderTests(SynchronousTestCase):
    """
    The transcoder runs ffmpeg into the cache and returns the frames.
    """

    def setUp(self) -> None:
        self.music = self.mktemp()
        os.makedirs(self.music)
        self.clock = Clock()
        self.reactor = FakeProcessReactor()
        self.cache = ConversionCache(self.mktemp(), 1_000_000, synchronous_runner)
        self.transcoder = Transcoder(
            self.reactor, self.clock, synchronous_runner, self.cache, "/usr/bin/ffmpeg"
        )

    def source(self, name: str = "a.flac") -> str:
        path = os.path.join(self.music, name)
        with open(path, "wb") as f:
            f.write(name.encode() * 10)
        return path

    def write_output(self, process: FakeProcess, frame: Frame, count: int = 5) -> None:
        """
        Play ffmpeg's part: write C{count} frames to the output file.
        """
        output = process.args[-1].removeprefix("file:")
        with open(output, "wb") as f:
            f.write(frame.data * count)

    def test_convert_then_hit(self) -> None:
        """
        A conversion runs ffmpeg into the cache and gives the frames; the
        next conversion of the same file to the same format is read from
        the cache without ffmpeg.
        """
        source = self.source()
        converted = self.transcoder.convert(source, STEREO, 0.0, 30, "/m")
        self.assertNoResult(converted)
        [process] = self.reactor.spawned
        self.assertEqual(process.executable, "/usr/bin/ffmpeg")
        self.assertIn("file:" + os.path.abspath(source), process.args)
        self.write_output(process, silent_frame())
        process.end()
        frames = self.successResultOf(converted)
        self.assertEqual(len(frames), 5)
        self.assertEqual(self.cache.held, frozenset())
        self.assertEqual(self.transcoder.conversions, 1)
        again = self.successResultOf(self.transcoder.convert(source, STEREO, 0.0, 30, "/m"))
        self.assertEqual(len(again), 5)
        self.assertEqual(len(self.reactor.spawned), 1)
        self.assertEqual(self.transcoder.runs, set())

    def test_wrong_format_written(self) -> None:
        """
        Frames in another format than asked for fail the conversion.
        """
        converted = self.transcoder.convert(self.source(), STEREO, 0.0, 30, "/m")
        [process] = self.reactor.spawned
        self.write_output(process, silent_frame(sample_rate=48000))
        process.end()
        failure = self.failureResultOf(converted, ConversionError)
        self.assertIn("another format", failure.getErrorMessage())

    def test_no_ffmpeg(self) -> None:
        """
        Without ffmpeg nothing converts.
        """
        transcoder = Transcoder(self.reactor, self.clock, synchronous_runner, self.cache, None)
        self.assertFalse(transcoder.available)
        failure = self.failureResultOf(
            transcoder.convert(self.source(), STEREO, 0.0, 30, "/m"), ConversionError
        )
        self.assertEqual(
            failure.getErrorMessage(),
            "needs converting to 44100 Hz stereo 128 kbit/s, and there is no ffmpeg",
        )
        self.assertEqual(self.reactor.spawned, [])

    def test_killed_midway(self) -> None:
        """
        ffmpeg dying midway fails the conversion, and its partial output
        is removed, never used.
        """
        source = self.source()
        converted = self.transcoder.convert(source, STEREO, 0.0, 30, "/m")
        [process] = self.reactor.spawned
        self.write_output(process, silent_frame(), 2)
        process.end(Failure(ProcessTerminated(signal=9)))
        failure = self.failureResultOf(converted, ConversionError)
        self.assertEqual(failure.getErrorMessage(), "ffmpeg was killed by signal 9")
        self.assertEqual(os.listdir(self.cache.directory), [])
        self.assertEqual(self.cache.held, frozenset())
        # Tried again the next time.
        self.transcoder.convert(source, STEREO, 0.0, 30, "/m")
        self.assertEqual(len(self.reactor.spawned), 2)

    def test_hang(self) -> None:
        """
        ffmpeg running past its time limit is killed, and the conversion
        fails.
        """
        converted = self.transcoder.convert(self.source(), STEREO, 0.0, 100, "/m")
        [process] = self.reactor.spawned
        self.clock.advance(199)
        self.assertEqual(process.signals, [])
        self.clock.advance(1)
        self.assertEqual(process.signals, ["KILL"])
        process.end(Failure(ProcessTerminated(signal=9)))
        failure = self.failureResultOf(converted, ConversionError)
        self.assertEqual(failure.getErrorMessage(), "ffmpeg took longer than 200 s")

    def test_spawn_fails(self) -> None:
        """
        A process that cannot be started fails the conversion.
        """

        class Refusing(FakeProcessReactor):
            def spawnProcess(self, *args: object, **kwargs: object) -> FakeProcess:
                raise OSError(24, "Too many open files")

        transcoder = Transcoder(
            Refusing(), self.clock, synchronous_runner, self.cache, "/usr/bin/ffmpeg"
        )
        failure = self.failureResultOf(
            transcoder.convert(self.source(), STEREO, 0.0, 30, "/m"), ConversionError
        )
        self.assertEqual(failure.getErrorMessage(), "cannot start ffmpeg: Too many open files")

    def test_shared(self) -> None:
        """
        Two mounts converting the same file to the same format at once
        share one ffmpeg run.
        """
        source = self.source()
        first = self.transcoder.convert(source, STEREO, 0.0, 30, "/a")
        second = self.transcoder.convert(source, STEREO, 0.0, 30, "/b")
        [process] = self.reactor.spawned
        self.write_output(process, silent_frame())
        process.end()
        self.assertEqual(len(self.successResultOf(first)), 5)
        self.assertEqual(len(self.successResultOf(second)), 5)
        self.assertEqual(self.cache.held, frozenset())

    def test_shared_failure(self) -> None:
        """
        A shared run that fails fails both conversions.
        """
        source = self.source()
        first = self.transcoder.convert(source, STEREO, 0.0, 30, "/a")
        second = self.transcoder.convert(source, STEREO, 0.0, 30, "/b")
        self.reactor.spawned[0].end(Failure(ProcessTerminated(exitCode=1)))
        self.failureResultOf(first, ConversionError)
        self.failureResultOf(second, ConversionError)

    def test_turns(self) -> None:
        """
        Only a few ffmpeg processes run at once; the others wait for one
        to end.
        """
        converted = [
            self.transcoder.convert(self.source(f"{n}.flac"), STEREO, 0.0, 30, "/m")
            for n in range(CONCURRENT_RUNS + 1)
        ]
        self.assertEqual(len(self.reactor.spawned), CONCURRENT_RUNS)
        first = self.reactor.spawned[0]
        self.write_output(first, silent_frame())
        first.end()
        self.successResultOf(converted[0])
        self.assertEqual(len(self.reactor.spawned), CONCURRENT_RUNS + 1)

    def test_gain(self) -> None:
        """
        The gain goes to ffmpeg as a volume filter.
        """
        self.transcoder.convert(self.source(), STEREO, -6.5, 30, "/m")
        self.assertIn("volume=-6.50dB", self.reactor.spawned[0].args)

    def test_loudness_measured_once(self) -> None:
        """
        A file's loudness is measured by ffmpeg once, then read from the
        cache.
        """
        source = self.source()
        measured = self.transcoder.loudness(source, 30, "/m")
        [process] = self.reactor.spawned
        self.assertIn("ebur128=peak=true:framelog=verbose", process.args)
        process.output(SUMMARY, 2)
        process.end()
        loudness = self.successResultOf(measured)
        self.assertEqual(loudness, Loudness(-11.0, -0.5))
        self.assertEqual(loudness.gain, -7.0)
        self.assertEqual(self.transcoder.measurements, 1)
        again = self.successResultOf(self.transcoder.loudness(source, 30, "/m"))
        self.assertEqual(again, loudness)
        self.assertEqual(len(self.reactor.spawned), 1)

    def test_loudness_unmeasurable(self) -> None:
        """
        A run that reports no loudness fails, and nothing is cached.
        """
        measured = self.transcoder.loudness(self.source(), 30, "/m")
        self.reactor.spawned[0].end()
        self.failureResultOf(measured, ConversionError)
        self.assertFalse(os.path.exists(self.cache.directory))

    def test_loudness_no_ffmpeg(self) -> None:
        """
        Without ffmpeg, loudness cannot be measured.
        """
        transcoder = Transcoder(self.reactor, self.clock, synchronous_runner, self.cache, None)
        self.failureResultOf(transcoder.loudness(self.source(), 30, "/m"), ConversionError)

    def test_stop_kills(self) -> None:
        """
        Stopping kills the ffmpeg processes still running and fires once
        they are gone; nothing starts afterwards.
        """
        self.transcoder.startService()
        converted = self.transcoder.convert(self.source(), STEREO, 0.0, 30, "/m")
        [process] = self.reactor.spawned
        stopped: Deferred[None] = self.transcoder.stopService()
        self.assertEqual(process.signals, ["KILL"])
        self.assertNoResult(stopped)
        process.end(Failure(ProcessTerminated(signal=9)))
        self.successResultOf(stopped)
        self.failureResultOf(converted, ConversionError)
        later = self.transcoder.convert(self.source("b.flac"), STEREO, 0.0, 30, "/m")
        self.failureResultOf(later, ConversionError)
        self.assertEqual(len(self.reactor.spawned), 1)
        self.assertEqual(self.clock.getDelayedCalls(), [])

    def test_start_tidies(self) -> None:
        """
        Starting removes partial files left behind and keeps the cache to
        its size.
        """
        os.makedirs(self.cache.directory)
        leftover = os.path.join(self.cache.directory, "ab.mp3.1-1.part")
        old = os.path.join(self.cache.directory, "cd.mp3")
        for path in (leftover, old):
            with open(path, "wb") as f:
                f.write(b"x" * 100)
        self.cache.max_size = 50
        self.transcoder.startService()
        self.assertEqual(os.listdir(self.cache.directory), [])

    def test_start_untidy(self) -> None:
        """
        A cache that cannot be tidied is reported in the log, and the
        transcoder starts anyway.
        """
        with open(self.cache.directory, "wb"):
            pass
        with capturedLogs() as events:
            self.transcoder.startService()
        self.assertTrue(self.transcoder.running)
        [event] = [e for e in events if "tidy" in e.get("log_format", "")]
        self.assertEqual(event["directory"], self.cache.directory)

    def test_clean_exit_reason(self) -> None:
        """
        A clean exit is what L{FfmpegRun} takes for success.
        """
        converted = self.transcoder.convert(self.source(), STEREO, 0.0, 30, "/m")
        process = self.reactor.spawned[0]
        self.write_output(process, silent_frame())
        process.end(Failure(ProcessDone(0)))
        self.successResultOf(converted)
