"""
Tests for autocue and crossfade in L{radiod.ffmpeg}: the command lines
(L{radiod.ffmpeg.arguments}), cue points measured and cached by the
L{Transcoder} (with L{radiod.ffmpeg.cache}), and crossfades rendered by
it (L{radiod.ffmpeg.crossfade}), with fake processes, a clock and a
synchronous runner; the tests play ffmpeg's part.
"""

from __future__ import annotations

import json
import os
import tempfile
from typing import cast

from twisted.internet.error import ProcessTerminated
from twisted.internet.task import Clock
from twisted.logger import capturedLogs
from twisted.python.failure import Failure
from twisted.trial.unittest import SynchronousTestCase

from radiod.audio.format import AudioFormat
from radiod.audio.frames import Frame
from radiod.audio.reservoir import main_data_begin
from radiod.audio.splice import Join, plan_overlap
from radiod.ffmpeg.arguments import crossfade_arguments, cue_arguments
from radiod.ffmpeg.cache import ConversionCache
from radiod.ffmpeg.crossfade import Workspace, frame_samples, plan
from radiod.ffmpeg.transcoder import CONCURRENT_RUNS, ConversionError, Transcoder
from radiod.testing import (
    FakeProcess,
    FakeProcessReactor,
    read_frames,
    silent_frame,
    synchronous_runner,
)
from tests.audio.test_splice import REPORT, borrowing

STEREO = AudioFormat(44100, 2, 128)
MONO = AudioFormat(22050, 1, 64)


def mono_frame() -> Frame:
    """
    A silent frame at 22,050 Hz, mono, 64 kbit/s.
    """
    return silent_frame(version="2", bitrate=64, sample_rate=22050, channels=1)


def graph(arguments: list[str]) -> str:
    """
    The filter graph of an ffmpeg command line.
    """
    return arguments[arguments.index("-filter_complex") + 1]


def inputs(arguments: list[str]) -> list[str]:
    """
    The files an ffmpeg command line reads.
    """
    return [
        arguments[index + 1].removeprefix("file:")
        for index, argument in enumerate(arguments)
        if argument == "-i"
    ]


class ArgumentsTests(SynchronousTestCase):
    """
    The command lines of measuring cue points and of rendering a
    crossfade.
    """

    def test_cue_arguments(self) -> None:
        """
        Cue points are measured on two branches of the first audio
        stream, the whole track and the track without its leading
        silence, each padded with a second of silence and watched by
        C{silencedetect} at -50 dBFS; ffmpeg logs at the level its
        reports are written at, and writes no audio.
        """
        arguments = cue_arguments("/usr/bin/ffmpeg", "music/a.flac")
        self.assertEqual(arguments[0], "/usr/bin/ffmpeg")
        self.assertIn("file:" + os.path.abspath("music/a.flac"), arguments)
        self.assertEqual(arguments[arguments.index("-loglevel") + 1], "info")
        self.assertEqual(
            graph(arguments),
            "[0:a:0]asplit=2[whole][lead];"
            "[whole]apad=pad_dur=1,silencedetect=noise=-50dB:duration=0.5[tail];"
            "[lead]silenceremove=start_periods=1:start_threshold=-50dB:detection=peak,"
            "apad=pad_dur=1,silencedetect=noise=-50dB:duration=0.5[rest]",
        )
        self.assertEqual(arguments.count("null"), 2)

    def test_crossfade_arguments(self) -> None:
        """
        The outgoing track is cut to where the rendering starts and fades
        out linearly over the overlap; the incoming track is delayed by
        the pre-roll and plays at its own level; both are fitted to the
        rendered length and added without normalization, then encoded in
        the mount's format as bare frames, without the bit reservoir.
        """
        overlap = plan_overlap(1000, 1000, 2.0, 1152, 44100)
        assert overlap is not None
        arguments = crossfade_arguments(
            "/usr/bin/ffmpeg", "w/out.mp3", "w/in.mp3", "w/overlap.mp3", overlap, STEREO
        )
        length = overlap.length
        self.assertEqual(
            graph(arguments),
            f"[0:a]atrim=start_sample={overlap.skip},asetpts=PTS-STARTPTS,"
            f"afade=t=out:start_sample={overlap.pre_roll}:nb_samples={77 * 1152}:curve=tri,"
            f"apad=whole_len={length},atrim=end_sample={length}[out];"
            f"[1:a]adelay=delays={overlap.pre_roll}S:all=1,"
            f"apad=whole_len={length},atrim=end_sample={length}[in];"
            "[out][in]amix=inputs=2:normalize=0:duration=longest[mix]",
        )
        self.assertEqual(
            inputs(arguments), [os.path.abspath("w/out.mp3"), os.path.abspath("w/in.mp3")]
        )
        self.assertEqual(arguments.count("mp3"), 3)
        tail = arguments[arguments.index("[mix]") + 1 :]
        self.assertEqual(tail[:4], ["-ar", "44100", "-ac", "2"])
        self.assertIn("128k", tail)
        self.assertEqual(tail[tail.index("-reservoir") + 1], "0")
        self.assertEqual(tail[-1], "file:" + os.path.abspath("w/overlap.mp3"))

    def test_fade_in(self) -> None:
        """
        With the incoming track fading in too, both fades follow a
        quarter sine.
        """
        overlap = plan_overlap(1000, 1000, 2.0, 576, 22050)
        assert overlap is not None
        arguments = crossfade_arguments("ffmpeg", "o", "i", "x", overlap, MONO, fade_in=True)
        self.assertIn(f"nb_samples={overlap.fade}:curve=qsin,apad", graph(arguments))
        self.assertIn(
            f"[1:a]afade=t=in:start_sample=0:nb_samples={overlap.fade}:curve=qsin,adelay",
            graph(arguments),
        )

    def test_short_outgoing(self) -> None:
        """
        An outgoing track too short for the pre-roll is delayed rather
        than cut.
        """
        overlap = plan_overlap(2, 100, 2.0, 1152, 44100)
        assert overlap is not None
        arguments = crossfade_arguments("ffmpeg", "o", "i", "x", overlap, STEREO)
        self.assertTrue(graph(arguments).startswith(f"[0:a]adelay=delays={-overlap.skip}S:all=1,"))


class TranscoderTestCase(SynchronousTestCase):
    """
    A transcoder with fake processes, a clock and a synchronous runner.
    """

    def setUp(self) -> None:
        self.music = self.mktemp()
        os.makedirs(self.music)
        self.clock = Clock()
        self.reactor = FakeProcessReactor()
        self.cache = ConversionCache(self.mktemp(), 1_000_000, synchronous_runner)
        self.transcoder = self.make("/usr/bin/ffmpeg")

    def make(self, ffmpeg: str | None) -> Transcoder:
        """
        A transcoder sharing this test's reactor, clock and cache.
        """
        return Transcoder(self.reactor, self.clock, synchronous_runner, self.cache, ffmpeg)

    def source(self, name: str = "a.flac") -> str:
        path = os.path.join(self.music, name)
        with open(path, "wb") as f:
            f.write(name.encode() * 10)
        return path

    def tearDown(self) -> None:
        self.assertEqual(self.transcoder.runs, set())
        self.assertEqual(self.clock.getDelayedCalls(), [])


class CuePointsTests(TranscoderTestCase):
    """
    L{Transcoder.cue_points} measures a track's cue points once and keeps
    them in the cache.
    """

    def measure(self, source: str, log: bytes = REPORT.encode()) -> FakeProcess:
        """
        Play the part of the ffmpeg measuring C{source}: write C{log} and
        exit.
        """
        process = self.reactor.spawned[-1]
        self.assertIn("file:" + os.path.abspath(source), process.args)
        process.output(log, 2)
        process.end()
        return process

    def test_measured_then_cached(self) -> None:
        """
        The first time, ffmpeg measures the track; the cue points are
        kept, and the next time come from the cache without ffmpeg.
        """
        source = self.source()
        with capturedLogs() as events:
            measured = self.transcoder.cue_points(source, 5.04, "/m")
        self.assertNoResult(measured)
        [event] = [e for e in events if "silence" in e.get("log_format", "")]
        self.assertEqual((event["path"], event["mount"]), (source, "/m"))
        self.measure(source)
        cues = self.successResultOf(measured)
        self.assertAlmostEqual(cues.start, 1.00002)
        self.assertEqual(cues.end, 4.0)
        self.assertEqual(self.transcoder.cue_measurements, 1)
        again = self.successResultOf(self.transcoder.cue_points(source, 5.04, "/m"))
        self.assertEqual(again, cues)
        self.assertEqual(len(self.reactor.spawned), 1)
        self.assertEqual(self.transcoder.cue_measurements, 1)
        [name] = os.listdir(self.cache.directory)
        with open(os.path.join(self.cache.directory, name)) as f:
            self.assertEqual(json.load(f), {"source": source, "start": cues.start, "end": cues.end})

    def test_cached_without_ffmpeg(self) -> None:
        """
        Cue points in the cache need no ffmpeg; others cannot be measured
        without it.
        """
        source = self.source()
        self.transcoder.cue_points(source, 5.04, "/m")
        self.measure(source)
        transcoder = self.make(None)
        self.assertEqual(self.successResultOf(transcoder.cue_points(source, 5.04, "/m")).end, 4.0)
        failure = self.failureResultOf(
            transcoder.cue_points(self.source("b.flac"), 5.04, "/m"), ConversionError
        )
        self.assertEqual(
            failure.getErrorMessage(), "cannot measure its silence: there is no ffmpeg"
        )
        self.assertEqual(len(self.reactor.spawned), 1)

    def test_beside_loudness(self) -> None:
        """
        A track's cue points and its loudness are kept apart, under keys
        of the same source file.
        """
        source = self.source()
        self.transcoder.cue_points(source, 5.04, "/m")
        self.measure(source)
        self.transcoder.loudness(source, 5.04, "/m")
        self.assertEqual(len(self.reactor.spawned), 2)
        loudness = b"  Integrated loudness:\n    I:         -11.0 LUFS\n"
        self.reactor.spawned[-1].output(loudness, 2)
        self.reactor.spawned[-1].end()
        self.assertEqual(len(os.listdir(self.cache.directory)), 2)
        self.successResultOf(self.transcoder.cue_points(source, 5.04, "/m"))
        self.successResultOf(self.transcoder.loudness(source, 5.04, "/m"))
        self.assertEqual(len(self.reactor.spawned), 2)

    def test_source_changed(self) -> None:
        """
        A source file that changed is measured again.
        """
        source = self.source()
        self.transcoder.cue_points(source, 5.04, "/m")
        self.measure(source)
        with open(source, "ab") as f:
            f.write(b"more")
        self.transcoder.cue_points(source, 5.04, "/m")
        self.assertEqual(len(self.reactor.spawned), 2)
        self.measure(source)

    def test_unreadable_cache(self) -> None:
        """
        A cache file that does not hold cue points is measured again.
        """
        source = self.source()
        self.transcoder.cue_points(source, 5.04, "/m")
        self.measure(source)
        [name] = os.listdir(self.cache.directory)
        for content in ('{"start": "0", "end": 4}', '{"start": 0, "end": NaN}', "[1]", "{"):
            with open(os.path.join(self.cache.directory, name), "w") as f:
                f.write(content)
            self.transcoder.cue_points(source, 5.04, "/m")
            self.measure(source)
        self.assertEqual(len(self.reactor.spawned), 5)

    def test_nothing_measured(self) -> None:
        """
        ffmpeg reporting no silence fails the measurement, and nothing is
        kept.
        """
        source = self.source()
        measured = self.transcoder.cue_points(source, 5.04, "/m")
        self.measure(source, b"Output #0, null, to 'pipe:':\n")
        failure = self.failureResultOf(measured, ConversionError)
        self.assertEqual(failure.getErrorMessage(), "ffmpeg measured no silence")
        self.assertFalse(os.path.exists(self.cache.directory))

    def test_ffmpeg_fails(self) -> None:
        """
        ffmpeg failing fails the measurement with its last line.
        """
        measured = self.transcoder.cue_points(self.source(), 5.04, "/m")
        process = self.reactor.spawned[0]
        process.output(b"a.flac: Invalid data found when processing input\n", 2)
        process.end(Failure(ProcessTerminated(exitCode=1)))
        failure = self.failureResultOf(measured, ConversionError)
        self.assertEqual(
            failure.getErrorMessage(),
            "ffmpeg exited with status 1: a.flac: Invalid data found when processing input",
        )

    def test_time_limit(self) -> None:
        """
        ffmpeg is given twice the track's duration, at least a minute.
        """
        measured = self.transcoder.cue_points(self.source(), 300, "/m")
        process = self.reactor.spawned[0]
        self.clock.advance(599)
        self.assertEqual(process.signals, [])
        self.clock.advance(1)
        self.assertEqual(process.signals, ["KILL"])
        process.end(Failure(ProcessTerminated(signal=9)))
        failure = self.failureResultOf(measured, ConversionError)
        self.assertEqual(failure.getErrorMessage(), "ffmpeg took longer than 600 s")

    def test_missing_source(self) -> None:
        """
        A source that is not there fails with L{OSError}, without ffmpeg.
        """
        self.failureResultOf(
            self.transcoder.cue_points(os.path.join(self.music, "gone.flac"), 5, "/m"), OSError
        )
        self.assertEqual(self.reactor.spawned, [])


class PlanTests(SynchronousTestCase):
    """
    L{plan} checks the frames ffmpeg will be given.
    """

    def test_frame_samples(self) -> None:
        """
        MPEG-1 frames carry 1152 samples, MPEG-2 and 2.5 frames 576.
        """
        self.assertEqual(frame_samples(STEREO), 1152)
        self.assertEqual(frame_samples(AudioFormat(32000, 1, 64)), 1152)
        self.assertEqual(frame_samples(MONO), 576)
        self.assertEqual(frame_samples(AudioFormat(8000, 1, 8)), 576)

    def test_other_format(self) -> None:
        """
        Frames of another sample rate, channel count or layer than the
        mount's are refused, wherever ffmpeg would read them.
        """
        good = [silent_frame()] * 100
        for bad in (
            silent_frame(sample_rate=48000),
            silent_frame(channels=1),
            silent_frame(layer=2),
        ):
            with self.assertRaises(ValueError):
                plan([*good[:99], bad], good, 1.0, STEREO)
            with self.assertRaises(ValueError):
                plan(good, [bad, *good[1:]], 1.0, STEREO)

    def test_unread_frames_not_checked(self) -> None:
        """
        Frames ffmpeg does not read may be in any format: they play as
        they are.
        """
        good = [silent_frame()] * 100
        odd = silent_frame(sample_rate=48000)
        overlap = plan([odd, *good[1:]], [*good[:99], odd], 1.0, STEREO)
        assert overlap is not None
        self.assertEqual(overlap.frames, 38)


class CrossfadeTests(TranscoderTestCase):
    """
    L{Transcoder.crossfade} renders an overlap with ffmpeg in a temporary
    folder, and splices in the frames it wrote.
    """

    def render(self, process: FakeProcess, frames: list[Frame]) -> None:
        """
        Play ffmpeg's part: write C{frames} as the rendered overlap, and
        exit.
        """
        with open(process.args[-1].removeprefix("file:"), "wb") as f:
            f.write(b"".join(frame.data for frame in frames))
        process.end()

    def workspace(self, process: FakeProcess) -> str:
        """
        The folder a crossfade's files are in.
        """
        return os.path.dirname(inputs(process.args)[0])

    def test_join(self) -> None:
        """
        ffmpeg reads the outgoing track's last frames, the first
        rewritten to stand alone, and the incoming track's first; the
        frames it writes after the pre-roll's are the overlap, and the
        incoming track resumes after as many frames; its folder is
        removed.
        """
        outgoing = [borrowing(150) for _ in range(400)]
        incoming = [borrowing(100) for _ in range(300)]
        with capturedLogs() as events:
            joined = self.transcoder.crossfade(outgoing, incoming, 2.0, STEREO, name="/m")
            self.assertNoResult(joined)
            [process] = self.reactor.spawned
            self.assertEqual(process.executable, "/usr/bin/ffmpeg")
            folder = self.workspace(process)
            outgoing_file, incoming_file = inputs(process.args)
            with open(outgoing_file, "rb") as f:
                tail = read_frames(f.read())
            with open(incoming_file, "rb") as f:
                head = read_frames(f.read())
            self.render(process, [silent_frame(), *[borrowing(200) for _ in range(85)]])
        self.assertEqual(len(tail), 81)
        self.assertEqual(main_data_begin(tail[0]), 0)
        self.assertEqual(tail[1:], outgoing[320:])
        self.assertEqual(head, incoming[:81])
        join = self.successResultOf(joined)
        self.assertEqual((join.outgoing_end, join.incoming_start), (323, 77))
        self.assertEqual(len(join.overlap), 77)
        self.assertEqual(main_data_begin(join.overlap[0]), 0)
        self.assertEqual(list(join.overlap[1:]), [borrowing(200)] * 76)
        assert join.resume is not None
        self.assertEqual(main_data_begin(join.resume), 0)
        self.assertFalse(os.path.exists(folder))
        self.assertEqual(self.transcoder.crossfades, 1)
        started, finished = [e for e in events if "crossfade" in e.get("log_format", "")]
        self.assertEqual((started["mount"], round(started["seconds"], 2)), ("/m", 2.01))
        self.assertEqual(finished["mount"], "/m")

    def test_half_rate(self) -> None:
        """
        At 22,050 Hz, mono, the pre-roll is four frames of 576 samples.
        """
        frames = [mono_frame()] * 300
        joined = self.transcoder.crossfade(frames, frames, 1.0, MONO, name="/m")
        [process] = self.reactor.spawned
        self.assertIn("22050", process.args)
        self.assertIn("64k", process.args)
        self.render(process, [mono_frame()] * 50)
        join = self.successResultOf(joined)
        self.assertEqual((join.outgoing_end, len(join.overlap), join.incoming_start), (262, 38, 38))

    def test_no_overlap(self) -> None:
        """
        No time, or a track too short to overlap, joins the tracks end to
        end without ffmpeg, even when there is none.
        """
        frames = [silent_frame()] * 10
        for transcoder in (self.transcoder, self.make(None)):
            join = self.successResultOf(transcoder.crossfade(frames, frames, 0.0, STEREO))
            self.assertEqual(join, Join(10, (), 0, frames[0]))
            join = self.successResultOf(transcoder.crossfade(frames, frames[:1], 2.0, STEREO))
            self.assertEqual(join, Join(10, (), 0, frames[0]))
        self.assertEqual(self.reactor.spawned, [])

    def test_no_ffmpeg(self) -> None:
        """
        Without ffmpeg, tracks that would overlap cannot be crossfaded.
        """
        frames = [silent_frame()] * 100
        failure = self.failureResultOf(
            self.make(None).crossfade(frames, frames, 1.0, STEREO), ConversionError
        )
        self.assertEqual(failure.getErrorMessage(), "cannot crossfade: there is no ffmpeg")

    def test_other_format(self) -> None:
        """
        Frames in another format than the mount's are not crossfaded.
        """
        frames = [silent_frame()] * 100
        failure = self.failureResultOf(
            self.transcoder.crossfade(frames, frames, 1.0, MONO), ConversionError
        )
        self.assertEqual(
            failure.getErrorMessage(),
            "cannot crossfade: the tracks are not both in 22050 Hz mono 64 kbit/s",
        )
        self.assertEqual(self.reactor.spawned, [])

    def test_ffmpeg_fails(self) -> None:
        """
        ffmpeg failing fails the crossfade, and its folder is removed.
        """
        frames = [silent_frame()] * 100
        joined = self.transcoder.crossfade(frames, frames, 1.0, STEREO)
        [process] = self.reactor.spawned
        folder = self.workspace(process)
        self.assertTrue(os.path.isdir(folder))
        process.end(Failure(ProcessTerminated(exitCode=1)))
        failure = self.failureResultOf(joined, ConversionError)
        self.assertEqual(failure.getErrorMessage(), "ffmpeg exited with status 1")
        self.assertFalse(os.path.exists(folder))

    def test_too_few_frames(self) -> None:
        """
        ffmpeg writing fewer frames than the overlap needs fails the
        crossfade.
        """
        frames = [silent_frame()] * 100
        joined = self.transcoder.crossfade(frames, frames, 1.0, STEREO)
        [process] = self.reactor.spawned
        self.render(process, [silent_frame()] * 12)
        failure = self.failureResultOf(joined, ConversionError)
        self.assertEqual(
            failure.getErrorMessage(),
            "cannot crossfade: ffmpeg rendered 12 frames of the 40 needed",
        )
        self.assertFalse(os.path.exists(self.workspace(process)))

    def test_nothing_written(self) -> None:
        """
        ffmpeg writing no frames at all fails the crossfade; writing no
        file fails it with L{OSError}.
        """
        frames = [silent_frame()] * 100
        joined = self.transcoder.crossfade(frames, frames, 1.0, STEREO)
        self.render(self.reactor.spawned[0], [])
        failure = self.failureResultOf(joined, ConversionError)
        self.assertEqual(failure.getErrorMessage(), "cannot crossfade: no MPEG audio frames found")
        joined = self.transcoder.crossfade(frames, frames, 1.0, STEREO)
        process = self.reactor.spawned[1]
        process.end()
        self.failureResultOf(joined, OSError)
        self.assertFalse(os.path.exists(self.workspace(process)))

    def test_time_limit(self) -> None:
        """
        ffmpeg still rendering after a minute is killed.
        """
        frames = [silent_frame()] * 100
        joined = self.transcoder.crossfade(frames, frames, 1.0, STEREO)
        [process] = self.reactor.spawned
        self.clock.advance(60)
        self.assertEqual(process.signals, ["KILL"])
        process.end(Failure(ProcessTerminated(signal=9)))
        failure = self.failureResultOf(joined, ConversionError)
        self.assertEqual(failure.getErrorMessage(), "ffmpeg took longer than 60 s")
        self.assertFalse(os.path.exists(self.workspace(process)))

    def test_waits_its_turn(self) -> None:
        """
        A crossfade waits for its turn behind conversions, and is killed
        with the transcoder.
        """
        converting = [
            self.transcoder.convert(self.source(f"{n}.flac"), STEREO, 0.0, 30, "/m")
            for n in range(CONCURRENT_RUNS)
        ]
        frames = [silent_frame()] * 100
        joined = self.transcoder.crossfade(frames, frames, 1.0, STEREO)
        self.assertEqual(len(self.reactor.spawned), CONCURRENT_RUNS)
        self.reactor.spawned[0].end(Failure(ProcessTerminated(exitCode=1)))
        self.failureResultOf(converting[0], ConversionError)
        self.assertEqual(len(self.reactor.spawned), CONCURRENT_RUNS + 1)
        crossfading = self.reactor.spawned[-1]
        self.assertIn("-filter_complex", crossfading.args)
        stopped = self.transcoder.stopService()
        for process in self.reactor.spawned[1:]:
            self.assertEqual(process.signals, ["KILL"])
            process.end(Failure(ProcessTerminated(signal=9)))
        self.successResultOf(stopped)
        self.failureResultOf(joined, ConversionError)
        self.assertFalse(os.path.exists(self.workspace(crossfading)))
        for converted in converting[1:]:
            self.failureResultOf(converted, ConversionError)


class WorkspaceTests(SynchronousTestCase):
    """
    A L{Workspace} holds one crossfade's files, and leaves nothing behind.
    """

    def test_written_and_removed(self) -> None:
        """
        The frames are written to their files, the rendered frames read
        back, and the folder removed.
        """
        frame = silent_frame()
        workspace = Workspace.create([frame] * 3, [frame] * 2)
        self.addCleanup(workspace.remove)
        with open(workspace.outgoing, "rb") as f:
            self.assertEqual(f.read(), frame.data * 3)
        with open(workspace.incoming, "rb") as f:
            self.assertEqual(f.read(), frame.data * 2)
        with open(workspace.output, "wb") as f:
            f.write(frame.data * 4)
        self.assertEqual(list(workspace.rendered()), [frame] * 4)
        workspace.remove()
        self.assertFalse(os.path.exists(workspace.directory))
        workspace.remove()

    def test_write_fails(self) -> None:
        """
        A folder whose files cannot be written is removed at once.
        """
        folder = self.mktemp()
        os.makedirs(folder)
        self.patch(tempfile, "tempdir", folder)

        class Unwritable:
            @property
            def data(self) -> bytes:
                raise OSError(28, "No space left on device")

        broken = cast(Frame, Unwritable())
        with self.assertRaises(OSError):
            Workspace.create([silent_frame()], [broken])
        self.assertEqual(os.listdir(folder), [])
