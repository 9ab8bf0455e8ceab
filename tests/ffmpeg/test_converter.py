"""
Tests for L{radiod.ffmpeg.converter} and for live sources putting audio on air in
their mount's format.
"""

from __future__ import annotations

import os
from typing import Any

from twisted.internet import reactor as _reactor
from twisted.internet.defer import Deferred
from twisted.internet.error import ProcessTerminated
from twisted.internet.task import Clock
from twisted.logger import capturedLogs, formatEvent
from twisted.python.failure import Failure
from twisted.trial.unittest import SynchronousTestCase, TestCase

from radiod.audio.format import AudioFormat, standard_bitrate
from radiod.audio.frames import Frame, FrameSplitter
from radiod.audio.track import TrackInfo
from radiod.broadcast.fallback import Fallbacks
from radiod.broadcast.live import LiveSource
from radiod.broadcast.mount import Mount
from radiod.broadcast.switch import Switch
from radiod.config import MountConfig
from radiod.ffmpeg.converter import FINISH_TIMEOUT, FfmpegConverter
from radiod.interfaces import Converter
from radiod.testing import (
    FakeConverters,
    FakeFrameSource,
    FakeProcess,
    FakeProcessReactor,
    silent_frame,
)
from tests.support.loopback import FIXTURES
from tests.support.tools import require_ffmpeg

reactor: Any = _reactor

CD = AudioFormat(44100, 2, 128)
STEREO = silent_frame()
MONO_22K = silent_frame(version="2", bitrate=48, sample_rate=22050, channels=1)
SHOW = TrackInfo("", "Show")
SONG = TrackInfo("/a.mp3", "Song", "Artist")


class FormatTests(SynchronousTestCase):
    """
    L{AudioFormat} and L{standard_bitrate}.
    """

    def test_matches(self) -> None:
        """
        A frame matches when its sample rate and channels do, whatever its
        bitrate.
        """
        self.assertTrue(CD.matches(STEREO.header))
        self.assertTrue(CD.matches(silent_frame(bitrate=320).header))
        self.assertFalse(CD.matches(MONO_22K.header))
        self.assertFalse(CD.matches(silent_frame(channels=1).header))
        self.assertFalse(CD.matches(silent_frame(sample_rate=48000).header))
        self.assertEqual(CD.describe(), "44100 Hz stereo 128 kbit/s")
        self.assertEqual(AudioFormat(22050, 1, 48).describe(), "22050 Hz mono 48 kbit/s")

    def test_standard_bitrate(self) -> None:
        """
        Measured bitrates round to the nearest one the MPEG version allows.
        """
        self.assertEqual(standard_bitrate(44100, 128), 128)
        self.assertEqual(standard_bitrate(44100, 131), 128)
        self.assertEqual(standard_bitrate(44100, 500), 320)
        self.assertEqual(standard_bitrate(44100, 1), 32)
        self.assertEqual(standard_bitrate(22050, 200), 160)
        self.assertEqual(standard_bitrate(22050, 9), 8)


class LiveConversionTests(SynchronousTestCase):
    """
    A L{LiveSource} with a target format converts only audio that does
    not match it.
    """

    def live(self, converters: FakeConverters) -> LiveSource:
        live = LiveSource(SHOW, prebuffer=0)
        live.convert_to(CD, converters, "/stream")
        return live

    def test_matching_passes_through(self) -> None:
        """
        Frames in the mount's format are queued as they are, with no
        converter.
        """
        converters = FakeConverters()
        live = self.live(converters)
        split: list[Frame] = []
        live.on_frames.append(split.extend)
        # The splitter holds the last frame until the next one begins.
        live.feed(STEREO.data * 3)
        self.assertEqual(converters.made, [])
        self.assertFalse(live.converting)
        queued = []
        while (item := live.next_frame()) is not None:
            queued.append(item)
        self.assertEqual(len(split), 2)
        self.assertEqual(len(queued), len(split))
        for (frame, track, _), original in zip(queued, split, strict=True):
            self.assertIs(frame, original)
            self.assertIs(track, SHOW)
            self.assertEqual(frame.data, STEREO.data)

    def test_other_format_converted(self) -> None:
        """
        Frames in another format go to a converter for the mount's format,
        and what it gives back is what goes on air; the recorder still sees
        the source's own frames.  The source is finished only once the
        converter has written out the rest.
        """
        converters = FakeConverters()
        live = self.live(converters)
        recorded: list[Frame] = []
        live.on_frames.append(recorded.extend)
        with capturedLogs() as events:
            # The splitter holds the last frame until the next one begins.
            live.feed(MONO_22K.data * 5)
        self.assertTrue(live.converting)
        [converter] = converters.made
        self.assertEqual(converter.target, CD)
        self.assertEqual([f.data for f in converter.fed], [MONO_22K.data] * 4)
        self.assertEqual([f.data for f in recorded], [MONO_22K.data] * 4)
        self.assertIsNone(live.next_frame())
        self.assertTrue(any("Converting live audio" in e["log_format"] for e in events))
        converter.emit([STEREO] * 2)
        item = live.next_frame()
        assert item is not None
        self.assertEqual(item[0].data, STEREO.data)
        live.finish()
        self.assertTrue(converter.finishing)
        self.assertFalse(live.finished)
        converter.emit([STEREO])
        converter.end()
        self.assertTrue(live.finished)
        self.assertFalse(live.converting)
        self.assertIsNotNone(live.next_frame())
        self.assertIsNotNone(live.next_frame())
        self.assertTrue(live.drained)

    def test_converter_dies(self) -> None:
        """
        When the converter dies mid-show, the rest of the show goes on air
        unconverted (with a warning) rather than falling silent, and no new
        converter is started.
        """
        converters = FakeConverters()
        live = self.live(converters)
        live.feed(MONO_22K.data * 2)
        with capturedLogs() as events:
            converters.made[0].end(clean=False)
        self.assertTrue(any("unconverted" in e["log_format"] for e in events))
        live.feed(MONO_22K.data * 2)
        self.assertEqual(len(converters.made), 1)
        item = live.next_frame()
        assert item is not None
        self.assertEqual(item[0].data, MONO_22K.data)

    def test_no_converter(self) -> None:
        """
        Without a converter (no ffmpeg), the audio goes on air as it is.
        """
        live = self.live(FakeConverters(available=False))
        live.feed(MONO_22K.data * 2)
        item = live.next_frame()
        assert item is not None
        self.assertEqual(item[0].data, MONO_22K.data)

    def test_stop(self) -> None:
        """
        Stopping the source (replaced, or the station stopping) stops its
        converter, and a source that was finishing is finished.
        """
        converters = FakeConverters()
        live = self.live(converters)
        live.feed(MONO_22K.data * 2)
        live.finish()
        live.stop()
        self.assertTrue(converters.made[0].stopped)
        self.assertTrue(live.finished)
        self.assertTrue(live.drained)

    def test_no_target(self) -> None:
        """
        With no target format (a mount whose music has not played), nothing
        is converted.
        """
        converters = FakeConverters()
        live = LiveSource(SHOW, prebuffer=0)
        live.convert_to(None, converters)
        live.feed(MONO_22K.data * 2)
        self.assertEqual(converters.made, [])
        item = live.next_frame()
        assert item is not None
        self.assertEqual(item[0].data, MONO_22K.data)


class MountFormatTests(SynchronousTestCase):
    """
    L{Fallbacks.format_for} and the switch preparing each live source.
    """

    def test_format_for(self) -> None:
        """
        A mount with music has that music's format once it has played; a
        live-only mount has its fallback's; one without fallback has none.
        """
        clock = Clock()
        music = Mount(MountConfig(name="/music"), FakeFrameSource([(SONG, MONO_22K, 10**6)]), clock)
        live = Mount(
            MountConfig(name="/live", live_only=True, fallback="/music"), Switch(None), clock
        )
        solo = Mount(MountConfig(name="/solo", live_only=True), Switch(None), clock)
        mounts = {m.name: m for m in (music, live, solo)}
        converters = FakeConverters()
        fallbacks = Fallbacks(mounts, clock, converters)
        for mount in mounts.values():
            fallbacks.watch(mount)
        self.assertIsNone(fallbacks.format_for(music))
        music.start()
        self.addCleanup(music.stop)
        clock.pump([0.1] * 5)
        expected = AudioFormat(22050, 1, 48)
        self.assertEqual(fallbacks.format_for(music), expected)
        self.assertEqual(fallbacks.format_for(live), expected)
        self.assertIsNone(fallbacks.format_for(solo))

        source = LiveSource(SHOW, prebuffer=0)
        assert live.switch is not None
        live.switch.attach(source)
        source.feed(STEREO.data * 2)
        [converter] = converters.made
        self.assertEqual(converter.target, expected)


class FakeFfmpegConverterTests(SynchronousTestCase):
    """
    L{FfmpegConverter} with a fake process and a clock.
    """

    def start(self) -> tuple[Clock, FfmpegConverter, FakeProcess, list[Frame], list[bool]]:
        """
        A converter to L{CD} on a fake process, with what it delivers and
        how it ended.
        """
        clock = Clock()
        self.addCleanup(lambda: self.assertEqual(clock.getDelayedCalls(), []))
        processes = FakeProcessReactor()
        out: list[Frame] = []
        ended: list[bool] = []
        converter = FfmpegConverter(
            processes, clock, "/usr/bin/ffmpeg", CD, out.extend, ended.append, "/m"
        )
        [process] = processes.spawned
        return clock, converter, process, out, ended

    def test_converts(self) -> None:
        """
        Frames fed go to ffmpeg's standard input, whole frames it writes
        are delivered (the last once it ends), and an exit after
        L{FfmpegConverter.finish} ends it cleanly.
        """
        clock, converter, process, out, ended = self.start()
        self.assertEqual(process.executable, "/usr/bin/ffmpeg")
        self.assertEqual(process.args[-1], "pipe:1")
        converter.feed([MONO_22K, MONO_22K])
        self.assertEqual(process.written, MONO_22K.data * 2)
        process.output(STEREO.data * 2)
        self.assertEqual(len(out), 1)
        converter.finish()
        self.assertTrue(process.stdin_closed)
        converter.feed([MONO_22K])
        self.assertEqual(process.written, MONO_22K.data * 2)
        process.end()
        self.assertEqual(len(out), 2)
        self.assertEqual(ended, [True])
        self.assertFalse(converter.failed)

    def test_finish_overdue(self) -> None:
        """
        ffmpeg still running L{FINISH_TIMEOUT} seconds after the input
        ended is killed, with a warning, and the converter failed.
        """
        clock, converter, process, out, ended = self.start()
        converter.finish()
        clock.advance(FINISH_TIMEOUT - 0.1)
        self.assertEqual(process.signals, [])
        with capturedLogs() as events:
            clock.advance(0.1)
        self.assertEqual(process.signals, ["KILL"])
        self.assertTrue(converter.failed)
        self.assertIn("did not finish", events[0]["log_format"])
        process.end(Failure(ProcessTerminated(signal=9)))
        self.assertEqual(ended, [False])

    def test_dies(self) -> None:
        """
        ffmpeg ending on its own is an error, logged with how it ended and
        its last line of error.
        """
        clock, converter, process, out, ended = self.start()
        process.output(b"pipe:0: Invalid data found\n", 2)
        with capturedLogs() as events:
            process.end(Failure(ProcessTerminated(exitCode=1)))
        self.assertEqual(ended, [False])
        self.assertTrue(converter.failed)
        self.assertEqual(
            [formatEvent(event) for event in events],
            ["Converter for /m stopped: ffmpeg exited with status 1: pipe:0: Invalid data found"],
        )

    def test_stop(self) -> None:
        """
        Stopping kills ffmpeg once; its end is not an error, nor clean.
        """
        clock, converter, process, out, ended = self.start()
        converter.finish()
        converter.stop()
        converter.stop()
        self.assertEqual(process.signals, ["KILL"])
        with capturedLogs() as events:
            process.end(Failure(ProcessTerminated(signal=9)))
        self.assertEqual(list(events), [])
        self.assertEqual(ended, [False])
        self.assertFalse(converter.failed)
        converter.stop()
        self.assertEqual(process.signals, ["KILL"])


class FfmpegConverterTests(TestCase):
    """
    L{FfmpegConverter} with a real ffmpeg.
    """

    timeout = 60

    def setUp(self) -> None:
        self.ffmpeg = require_ffmpeg()

    def start(self) -> tuple[Converter, list[Frame], Deferred[bool]]:
        out: list[Frame] = []
        ended: Deferred[bool] = Deferred()
        converter = FfmpegConverter(
            reactor, reactor, self.ffmpeg, CD, out.extend, ended.callback, "/test"
        )
        return converter, out, ended

    async def test_converts(self) -> None:
        """
        Real 22.05 kHz MP3 from a fixture comes out as whole 44.1 kHz
        stereo frames at the target bitrate, about as long as what went
        in, and the converter ends cleanly after L{FfmpegConverter.finish}.
        """
        with open(os.path.join(FIXTURES, "tone-mpeg2-22050-64k-cbr.mp3"), "rb") as f:
            data = f.read()
        splitter = FrameSplitter()
        frames = splitter.feed(data) + splitter.finish()
        self.assertTrue(frames)
        converter, out, ended = self.start()
        converter.feed(frames)
        converter.finish()
        self.assertTrue(await ended)
        self.assertTrue(out)
        self.assertEqual({(f.header.sample_rate, f.header.channels) for f in out}, {(44100, 2)})
        self.assertEqual({f.header.bitrate for f in out}, {128})
        seconds_in = sum(f.header.duration for f in frames)
        seconds_out = sum(f.header.duration for f in out)
        self.assertTrue(abs(seconds_out - seconds_in) < 0.2, (seconds_in, seconds_out))

    async def test_killed(self) -> None:
        """
        An ffmpeg that dies before it was told to finish ends the
        converter as failed, with an error in the log.
        """
        converter, out, ended = self.start()
        assert isinstance(converter, FfmpegConverter)
        assert converter.transport is not None
        with capturedLogs() as events:
            converter.transport.signalProcess("KILL")
            clean = await ended
        self.assertFalse(clean)
        self.assertTrue(converter.failed)
        self.assertTrue(any("Converter for" in e.get("log_format", "") for e in events))
