"""
Tests for L{radiod.ingest.silence}: judging levels, reading them from
ffmpeg's log, watching a live source or relay with a detector whose part
the test plays, and what taking a source off the air does to its mount's
switch, its listeners, the live sources and relays, and the metrics.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import AnyStr

from prometheus_client.parser import text_string_to_metric_families
from twisted.internet.error import ProcessTerminated
from twisted.internet.interfaces import IProcessProtocol
from twisted.internet.task import Clock
from twisted.internet.testing import MemoryReactorClock, StringTransport
from twisted.logger import LogLevel, capturedLogs
from twisted.python.failure import Failure
from twisted.trial.unittest import SynchronousTestCase
from zope.interface import implementer

from radiod.audio.track import TrackInfo
from radiod.broadcast.fallback import Fallbacks
from radiod.broadcast.live import PREBUFFER, LiveSource
from radiod.broadcast.mount import Mount
from radiod.broadcast.switch import Switch, SwitchState
from radiod.config import MountConfig, StationConfig
from radiod.ingest.relay import Relay, RelayProtocol
from radiod.ingest.silence import (
    MAX_LINE,
    MAX_PENDING,
    RECOVERY,
    STEADY,
    WINDOW,
    DeadAir,
    LevelLog,
    SilenceWatch,
    SilenceWatches,
    level_arguments,
    window_samples,
)
from radiod.ingest.source import SourceConnection
from radiod.ingest.sources import Sources
from radiod.interfaces import Deliver, ILiveSource
from radiod.request import RequestParser
from radiod.testing import FakeFrameSource, FakeProcess, FakeProcessReactor, silent_frame
from radiod.web.metrics import MountTally, StationMetrics, render_metrics
from tests.ingest.test_source import PASSWORD, source_request

SONG = TrackInfo("/a.mp3", "First Song", "Alpha Artist")
SHOW = TrackInfo("", "Morning Show")
RELAYED = TrackInfo("", "Relayed")
PLAYLIST_FRAME = silent_frame()
LIVE_FRAME = silent_frame(fill=0x55)
RELAY_FRAME = silent_frame(fill=0x33)
FRAME_SECONDS = LIVE_FRAME.header.duration
PEER = "192.0.2.7:41000"

QUIET = b"[Parsed_ametadata_2 @ 0x5581] [info] lavfi.astats.Overall.RMS_level=-inf\n"
LOUD = b"[Parsed_ametadata_2 @ 0x5581] [info] lavfi.astats.Overall.RMS_level=-20.000000\n"


def windows(seconds: float) -> int:
    """
    How many measured windows make C{seconds} of audio.
    """
    return round(seconds / WINDOW)


def heard(switch: Switch) -> TrackInfo | None:
    """
    The track of the next frame C{switch} gives, or C{None}.
    """
    cue = switch.next_frame()
    return None if cue is None else cue.track


def frames(count: int) -> bytes:
    """
    The bytes of C{count} live frames, and the header of one more, so
    that a live source's splitter lets all C{count} through at once.
    """
    return LIVE_FRAME.data * count + LIVE_FRAME.data[:4]


class DeadAirTests(SynchronousTestCase):
    """
    L{DeadAir} judges a source's audio, window after window, on the
    seconds of the audio itself.
    """

    def feed(self, gate: DeadAir, level: float, seconds: float) -> list[bool]:
        """
        Give C{gate} C{seconds} of audio at C{level}, window by window.

        @return: the changes it reported, in order.
        """
        changes = []
        for _ in range(windows(seconds)):
            change = gate.measure(WINDOW, level)
            if change is not None:
                changes.append(change)
        return changes

    def test_timeout(self) -> None:
        """
        Audio below the threshold makes the source silent once it has
        lasted the timeout, not a window sooner, and only once.
        """
        gate = DeadAir(timeout=15.0, threshold=-50.0)
        self.assertEqual(self.feed(gate, -60.0, 15.0 - WINDOW), [])
        self.assertFalse(gate.silent)
        self.assertEqual(gate.measure(WINDOW, -60.0), True)
        self.assertTrue(gate.silent)
        self.assertEqual(self.feed(gate, -60.0, 30.0), [])

    def test_threshold(self) -> None:
        """
        A level at the threshold is sound; just below it, digital silence
        (C{-inf}) and a level that is not a number are silence.
        """
        for level, silent in (
            (-50.0, False),
            (-49.9, False),
            (-50.1, True),
            (-math.inf, True),
            (math.nan, True),
        ):
            gate = DeadAir(timeout=1.0, threshold=-50.0)
            self.feed(gate, level, 1.0)
            self.assertEqual(gate.silent, silent, level)

    def test_recovery(self) -> None:
        """
        A silent source sounds again after L{RECOVERY} seconds of sound in
        a row, not a window sooner.
        """
        gate = DeadAir(timeout=2.0, threshold=-50.0)
        self.assertEqual(self.feed(gate, -math.inf, 2.0), [True])
        self.assertEqual(self.feed(gate, -20.0, RECOVERY - WINDOW), [])
        self.assertTrue(gate.silent)
        self.assertEqual(gate.measure(WINDOW, -20.0), False)
        self.assertFalse(gate.silent)
        self.assertEqual(gate.run, 0.0)

    def test_flapping(self) -> None:
        """
        A short sound in dead air does not bring the source back, and a
        short pause in a show does not take it off: each starts the run
        towards a change again, so audio that keeps switching between the
        two never moves the judge.
        """
        gate = DeadAir(timeout=4.0, threshold=-50.0)
        for _ in range(20):
            self.assertEqual(self.feed(gate, -math.inf, 3.5), [])
            self.assertEqual(self.feed(gate, -20.0, WINDOW), [])
        self.assertFalse(gate.silent)
        self.assertEqual(self.feed(gate, -math.inf, 4.0), [True])
        for _ in range(20):
            self.assertEqual(self.feed(gate, -20.0, RECOVERY - WINDOW), [])
            self.assertEqual(self.feed(gate, -math.inf, WINDOW), [])
        self.assertTrue(gate.silent)
        self.assertEqual(self.feed(gate, -20.0, RECOVERY), [False])

    def test_uneven_windows(self) -> None:
        """
        Windows of any length add up: what counts is the seconds of audio.
        """
        gate = DeadAir(timeout=1.0, threshold=-50.0)
        self.assertIsNone(gate.measure(0.3, -70.0))
        self.assertIsNone(gate.measure(0.3, -70.0))
        self.assertTrue(gate.measure(0.4, -70.0))

    def test_not_positive(self) -> None:
        """
        A timeout or recovery of 0 or less is refused.
        """
        self.assertRaises(ValueError, DeadAir, 0.0, -50.0)
        self.assertRaises(ValueError, DeadAir, 5.0, -50.0, 0.0)


class LevelLogTests(SynchronousTestCase):
    """
    L{LevelLog} reads the levels out of a detector's log however it is
    split.
    """

    LOG = (
        b"Input #0, mp3, from 'pipe:0':\n"
        b"  Stream #0:0: Audio: mp3, 44100 Hz, stereo, fltp, 128 kb/s\n"
        b"[Parsed_ametadata_2 @ 0x55d] frame:0    pts:0       pts_time:0\n"
        b"[Parsed_ametadata_2 @ 0x55d] lavfi.astats.Overall.RMS_level=-30.550146\n"
        b"[Parsed_ametadata_2 @ 0x55d] frame:1    pts:22050   pts_time:0.5\n"
        b"[Parsed_ametadata_2 @ 0x55d] lavfi.astats.Overall.RMS_level=-inf\n"
        b"[mp3float @ 0x55e] overread, skip -5 enddists: -3 -3\n"
        b"[Parsed_ametadata_2 @ 0x55d] lavfi.astats.Overall.RMS_level=nan\n"
        b"[Parsed_ametadata_2 @ 0x55d] lavfi.astats.Overall.RMS_level=loud\n"
        b"[Parsed_ametadata_2 @ 0x55d] lavfi.astats.Overall.RMS_level=-12.5\n"
    )

    def test_any_split(self) -> None:
        """
        The levels come out in order whatever the chunks; other lines,
        and values that are not numbers, are passed over.
        """
        for size in (1, 2, 7, 64, len(self.LOG)):
            log = LevelLog()
            levels: list[float] = []
            for at in range(0, len(self.LOG), size):
                levels += log.feed(self.LOG[at : at + size])
            self.assertEqual(len(levels), 4, size)
            self.assertEqual(levels[0], -30.550146)
            self.assertEqual(levels[1], -math.inf)
            self.assertTrue(math.isnan(levels[2]))
            self.assertEqual(levels[3], -12.5)

    def test_unfinished_line(self) -> None:
        """
        A line is read once it ends; a line longer than L{MAX_LINE} is
        dropped rather than kept growing.
        """
        log = LevelLog()
        self.assertEqual(log.feed(QUIET[:-1]), [])
        self.assertEqual(log.feed(b"\n"), [-math.inf])
        self.assertEqual(log.feed(b"x" * (MAX_LINE + 1)), [])
        self.assertEqual(log.feed(b"=-10\n" + LOUD), [-20.0])


class ArgumentsTests(SynchronousTestCase):
    """
    The detector's command line.
    """

    def test_arguments(self) -> None:
        """
        ffmpeg reads MP3 from its standard input, logs the overall RMS
        level of windows of L{WINDOW} seconds at the audio's rate, and
        writes no audio.
        """
        arguments = level_arguments("/usr/bin/ffmpeg", 44100)
        self.assertEqual(arguments[0], "/usr/bin/ffmpeg")
        joined = " ".join(arguments)
        self.assertIn("-f mp3 -i pipe:0", joined)
        self.assertIn("-loglevel level+info", joined)
        self.assertEqual(arguments[-3:], ["-f", "null", "-"])
        measure = arguments[arguments.index("-af") + 1]
        self.assertEqual(
            measure.split(","),
            [
                "asetnsamples=n=22050:p=0",
                "astats=metadata=1:reset=1",
                "ametadata=mode=print:key=lavfi.astats.Overall.RMS_level",
            ],
        )

    def test_window_samples(self) -> None:
        """
        A window is half a second at any rate.
        """
        self.assertEqual(window_samples(44100), 22050)
        self.assertEqual(window_samples(48000), 24000)
        self.assertEqual(window_samples(22050), 11025)
        self.assertEqual(window_samples(8000), 4000)


class _FailingReactor(FakeProcessReactor):
    """
    A process reactor that cannot start processes.
    """

    def spawnProcess(
        self,
        processProtocol: IProcessProtocol,
        executable: bytes | str,
        args: Sequence[bytes | str],
        env: Mapping[AnyStr, AnyStr] | None = None,
        path: bytes | str | None = None,
        uid: int | None = None,
        gid: int | None = None,
        usePTY: bool = False,
        childFDs: Mapping[int, str | int] | None = None,
    ) -> FakeProcess:
        raise OSError(2, "No such file or directory")


class SilenceWatchTests(SynchronousTestCase):
    """
    A L{SilenceWatch} on a presenter's live source, attached to a switch
    over a playlist, with detectors whose part the test plays.
    """

    def setUp(self) -> None:
        self.clock = Clock()
        self.reactor = FakeProcessReactor()
        self.playlist = FakeFrameSource([(SONG, PLAYLIST_FRAME, 100000)])
        self.switch = Switch(self.playlist, name="/stream")
        self.live = LiveSource(SHOW, prebuffer=0)
        self.switch.attach(self.live)
        self.changes: list[bool] = []
        self.watch = self.build(self.reactor)
        self.addCleanup(self.watch.stop)
        self.addCleanup(lambda: self.assertEqual(self.clock.getDelayedCalls(), []))

    def build(self, reactor: FakeProcessReactor) -> SilenceWatch:
        """
        A watch of L{live} with a timeout of 2 s and a threshold of
        -50 dBFS.
        """
        return SilenceWatch(
            reactor,
            self.clock,
            "/usr/bin/ffmpeg",
            self.switch,
            self.live,
            "/stream",
            PEER,
            2.0,
            -50.0,
            self.changes.append,
        )

    def send(self, count: int = 10) -> None:
        """
        The source sends C{count} frames (and the start of another).
        """
        self.live.feed(frames(count))

    def process(self) -> FakeProcess:
        """
        The newest detector's process.
        """
        return self.reactor.spawned[-1]

    def measure(self, line: bytes, seconds: float, process: FakeProcess | None = None) -> None:
        """
        The detector logs C{seconds} of audio at the level of C{line}.
        """
        process = process or self.process()
        process.output(line * windows(seconds), fd=2)

    def on_air(self) -> TrackInfo | None:
        """
        Pull the switch's next frame: its track.
        """
        cue = self.switch.next_frame()
        return None if cue is None else cue.track

    def test_detector_starts_with_audio(self) -> None:
        """
        The first frames start a detector, at their sample rate; every
        whole frame goes to its standard input as it comes.
        """
        self.assertEqual(self.reactor.spawned, [])
        self.send(10)
        self.assertEqual(len(self.reactor.spawned), 1)
        process = self.process()
        self.assertEqual(process.args, level_arguments("/usr/bin/ffmpeg", 44100))
        self.send(5)
        self.assertEqual(process.written, LIVE_FRAME.data * 15)
        self.assertEqual(len(self.reactor.spawned), 1)

    def test_off_the_air_and_back(self) -> None:
        """
        Two seconds of dead air take the source off the air: the playlist
        plays again while the source is still attached and its audio
        still measured, and the move is logged once with the mount and
        the peer.  Three seconds of sound put it back on.
        """
        self.send(20)
        self.assertEqual(self.on_air(), SHOW)
        self.measure(LOUD, 10.0)
        self.measure(QUIET, 2.0 - WINDOW)
        self.assertEqual(self.changes, [])
        with capturedLogs() as events:
            self.measure(QUIET, WINDOW)
        self.assertEqual(self.changes, [True])
        self.assertTrue(self.watch.silent)
        self.assertTrue(self.live.muted)
        self.assertIs(self.switch.live, self.live)
        self.assertIs(self.switch.state, SwitchState.PRESENTER_CUEING)
        self.assertEqual(self.on_air(), SONG)
        warned = [e for e in events if e["log_level"] is LogLevel.warn]
        self.assertEqual(len(warned), 1)
        self.assertEqual((warned[0]["mount"], warned[0]["peer"]), ("/stream", PEER))
        self.send(50)
        self.assertEqual(self.on_air(), SONG)
        self.measure(QUIET, 10.0)
        self.measure(LOUD, RECOVERY - WINDOW)
        self.assertEqual(self.changes, [True])
        self.measure(LOUD, WINDOW)
        self.assertEqual(self.changes, [True, False])
        self.assertFalse(self.live.muted)
        self.assertEqual(self.on_air(), SHOW)
        self.assertIs(self.switch.state, SwitchState.PRESENTER_ON_AIR)

    def test_dead_detector_keeps_source_on_air(self) -> None:
        """
        A detector that dies puts a source it had taken off the air back
        on, logs why, and is replaced by another with the first audio
        after a pause that doubles at each failure in a row, from 1 s.
        """
        self.send(10)
        self.measure(QUIET, 2.0)
        self.assertEqual(self.changes, [True])
        with capturedLogs() as events:
            self.process().output(b"[error] Error while decoding stream #0:0\n" + LOUD, fd=2)
            self.process().end(Failure(ProcessTerminated(exitCode=1)))
        self.assertEqual(self.changes, [True, False])
        self.assertFalse(self.live.muted)
        self.assertEqual(self.on_air(), SHOW)
        errors = [e for e in events if e["log_level"] is LogLevel.error]
        self.assertEqual(len(errors), 1)
        self.assertEqual(errors[0]["delay"], 1.0)
        self.assertIn("Error while decoding", errors[0]["why"])
        self.send(10)
        self.assertEqual(len(self.reactor.spawned), 1)
        self.clock.advance(1.0)
        self.send(10)
        self.assertEqual(len(self.reactor.spawned), 2)
        self.assertEqual(self.process().written, LIVE_FRAME.data * 10)
        with capturedLogs() as events:
            self.process().end(Failure(ProcessTerminated(exitCode=1)))
        self.assertEqual([e["delay"] for e in events if "delay" in e], [2.0])
        self.clock.advance(2.0)
        self.send(1)
        self.clock.advance(STEADY)
        with capturedLogs() as events:
            self.process().end(Failure(ProcessTerminated(exitCode=1)))
        self.assertEqual([e["delay"] for e in events if "delay" in e], [1.0])
        self.assertEqual(self.changes, [True, False])

    def test_new_detector_judges_afresh(self) -> None:
        """
        A detector that replaces one that died judges from scratch: the
        dead air the first one measured does not count.
        """
        self.send(10)
        self.measure(QUIET, 1.5)
        first = self.process()
        first.end(Failure(ProcessTerminated(exitCode=1)))
        self.clock.advance(1.0)
        self.send(10)
        self.measure(QUIET, 1.5)
        self.assertEqual(self.changes, [])
        self.measure(QUIET, 0.5)
        self.assertEqual(self.changes, [True])
        first.output(LOUD * 10, fd=2)
        self.assertEqual(self.changes, [True])

    def test_stalled_detector(self) -> None:
        """
        A detector that has measured nothing for L{MAX_PENDING} seconds
        while more than that much audio waits is killed and replaced.
        """
        self.send(10)
        process = self.process()
        self.measure(LOUD, 0.5)
        count = math.ceil(MAX_PENDING / FRAME_SECONDS) + 10
        self.send(count)
        self.assertEqual(process.signals, [])
        self.clock.advance(MAX_PENDING + 1)
        with capturedLogs() as events:
            self.send(1)
        self.assertEqual(process.signals, ["KILL"])
        self.assertEqual(len([e for e in events if e["log_level"] is LogLevel.error]), 1)
        process.end(Failure(ProcessTerminated(signal=9)))
        self.clock.advance(1.0)
        self.send(1)
        self.assertEqual(len(self.reactor.spawned), 2)

    def test_burst_is_no_stall(self) -> None:
        """
        A burst of more than L{MAX_PENDING} seconds of audio at once does
        not count as a stall while the detector is measuring.
        """
        self.send(math.ceil(2 * MAX_PENDING / FRAME_SECONDS))
        self.clock.advance(0.5)
        self.send(1)
        self.assertEqual(self.process().signals, [])

    def test_cannot_start(self) -> None:
        """
        A detector that cannot be started is a failure like any other:
        logged, and tried again after the pause.
        """
        self.watch.stop()
        self.watch = self.build(_FailingReactor())
        with capturedLogs() as events:
            self.send(10)
            self.send(10)
        errors = [e for e in events if e["log_level"] is LogLevel.error]
        self.assertEqual(len(errors), 1)
        self.assertIn("could not start", errors[0]["why"])
        self.assertIsNone(self.watch.detector)

    def test_stop(self) -> None:
        """
        Once stopped, the detector is killed and its pipes closed, its
        late levels are ignored and frames start no other; a source off
        the air stays off, to leave from there.  L{SilenceWatch.ended}
        fires once the detector is gone.
        """
        self.send(10)
        process = self.process()
        self.measure(QUIET, 2.0)
        self.assertEqual(self.watch.busy, 1)
        self.watch.stop()
        self.assertEqual(process.signals, ["KILL"])
        self.assertTrue(process.lost)
        ended = self.watch.ended()
        self.assertNoResult(ended)
        self.measure(LOUD, 5.0, process)
        process.end(Failure(ProcessTerminated(signal=9)))
        self.assertIsNone(self.successResultOf(ended))
        self.assertEqual(self.watch.busy, 0)
        self.send(10)
        self.assertEqual(len(self.reactor.spawned), 1)
        self.assertEqual(self.changes, [True])
        self.assertTrue(self.live.muted)
        self.watch.stop()


class SwitchMuteTests(SynchronousTestCase):
    """
    L{Switch.mute} takes a live source off the air as if it were still
    collecting its first audio, and L{Switch.unmute} lets it back on.
    """

    def build(self) -> tuple[Switch, FakeFrameSource, list[bool]]:
        """
        A switch over a long playlist, and the list its L{Switch.on_change}
        callbacks append L{Switch.on_air} to.
        """
        playlist = FakeFrameSource([(SONG, PLAYLIST_FRAME, 100000)])
        switch = Switch(playlist, name="/stream")
        changes: list[bool] = []
        switch.on_change.append(lambda: changes.append(switch.on_air))
        return switch, playlist, changes

    def test_playlist_plays_again(self) -> None:
        """
        Muting the live source on air gives the playlist the air at once,
        with a new play of its track; the muted source keeps only its
        newest audio, and once unmuted goes on air again with a new play.
        """
        switch, _, changes = self.build()
        live = LiveSource(SHOW, prebuffer=0)
        switch.attach(live)
        live.feed(frames(200))
        cue = switch.next_frame()
        assert cue is not None
        self.assertEqual((cue.track, cue.starts), (SHOW, True))
        switch.mute(live)
        self.assertEqual(changes, [True, False])
        self.assertEqual((switch.mutes, switch.muted), (1, 1))
        self.assertTrue(switch.has_audio)
        cue = switch.next_frame()
        assert cue is not None
        self.assertEqual((cue.track, cue.starts), (SONG, True))
        self.assertLessEqual(live.queued, PREBUFFER)
        live.feed(frames(200))
        self.assertEqual(heard(switch), SONG)
        self.assertLessEqual(live.queued, PREBUFFER)
        switch.unmute(live)
        self.assertEqual(switch.muted, 0)
        cue = switch.next_frame()
        assert cue is not None
        self.assertEqual((cue.track, cue.starts), (SHOW, True))
        self.assertIs(switch.state, SwitchState.PRESENTER_ON_AIR)
        self.assertEqual(changes, [True, False, True])
        self.assertEqual(switch.mutes, 1)

    def test_relay_off_the_air(self) -> None:
        """
        A relay is taken off the air the same way.
        """
        switch, _, changes = self.build()
        relay = LiveSource(RELAYED, prebuffer=0)
        switch.attach(relay, relay=True)
        relay.feed(frames(20))
        switch.next_frame()
        self.assertIs(switch.state, SwitchState.RELAY_ON_AIR)
        switch.mute(relay)
        self.assertIs(switch.state, SwitchState.RELAY_CUEING)
        self.assertEqual(heard(switch), SONG)
        self.assertEqual(changes, [True, False])

    def test_leaving_while_muted(self) -> None:
        """
        A muted source that leaves has played out at once: its dead air is
        never heard, and the playlist keeps the air.
        """
        switch, playlist, changes = self.build()
        live = LiveSource(SHOW, prebuffer=0)
        switch.attach(live)
        live.feed(frames(20))
        switch.next_frame()
        switch.mute(live)
        switch.detach(live)
        self.assertTrue(live.drained)
        self.assertEqual(heard(switch), SONG)
        self.assertIs(switch.state, SwitchState.PLAYLIST)
        self.assertIsNone(switch.live)
        self.assertEqual(changes, [True, False, False])

    def test_relay_on_standby_fills_in(self) -> None:
        """
        While a presenter is muted, the relay on standby fills in, still
        on air; when the relay is muted too, the playlist has the air.
        """
        switch, _, changes = self.build()
        presenter = LiveSource(SHOW, prebuffer=0)
        switch.attach(presenter)
        presenter.feed(frames(20))
        switch.next_frame()
        relay = LiveSource(RELAYED, prebuffer=0)
        switch.attach(relay, relay=True)
        relay.feed(frames(20))
        switch.mute(presenter)
        self.assertTrue(switch.on_air)
        self.assertEqual(heard(switch), RELAYED)
        self.assertEqual(changes, [True])
        switch.mute(relay)
        self.assertIs(switch.state, SwitchState.PRESENTER_CUEING)
        self.assertEqual(heard(switch), SONG)
        self.assertEqual(switch.muted, 2)
        switch.unmute(presenter)
        self.assertEqual(heard(switch), SHOW)
        self.assertEqual(changes, [True, False, True])

    def test_relay_filling_in_leaves(self) -> None:
        """
        When the relay filling in for a muted presenter leaves, the
        playlist has the air.
        """
        switch, _, changes = self.build()
        presenter = LiveSource(SHOW, prebuffer=0)
        switch.attach(presenter)
        presenter.feed(frames(20))
        switch.next_frame()
        relay = LiveSource(RELAYED, prebuffer=0)
        switch.attach(relay, relay=True)
        relay.feed(frames(20))
        switch.mute(presenter)
        self.assertEqual(heard(switch), RELAYED)
        switch.detach(relay)
        self.assertEqual(heard(switch), SONG)
        self.assertIs(switch.state, SwitchState.PRESENTER_CUEING)
        self.assertEqual(changes, [True, False])

    def test_handed_back_to_muted_relay(self) -> None:
        """
        A show that plays out hands the air back to the relay on standby;
        if that relay is muted, the playlist has the air instead.
        """
        switch, _, changes = self.build()
        presenter = LiveSource(SHOW, prebuffer=0)
        switch.attach(presenter)
        presenter.feed(frames(2))
        relay = LiveSource(RELAYED, prebuffer=0)
        switch.attach(relay, relay=True)
        relay.feed(frames(20))
        switch.mute(relay)
        switch.detach(presenter)
        self.assertEqual(heard(switch), SHOW)
        self.assertEqual(heard(switch), SHOW)
        self.assertEqual(heard(switch), SONG)
        self.assertIs(switch.live, relay)
        self.assertIs(switch.state, SwitchState.RELAY_CUEING)
        self.assertEqual(changes, [True, False])

    def test_unknown_or_twice(self) -> None:
        """
        Muting a live source the switch does not hold, or one already
        muted, does nothing.
        """
        switch, _, changes = self.build()
        stray = LiveSource(SHOW, prebuffer=0)
        switch.mute(stray)
        self.assertFalse(stray.muted)
        live = LiveSource(SHOW, prebuffer=0)
        switch.attach(live)
        live.feed(frames(5))
        switch.next_frame()
        switch.mute(live)
        switch.mute(live)
        self.assertEqual(switch.mutes, 1)
        self.assertEqual(changes, [True, False])

    def test_live_only_mount_falls_back(self) -> None:
        """
        On a live-only mount, a muted source leaves the mount without
        audio: its listeners move to the fallback mount, on the same
        connection, and back once the source is unmuted and on the air.
        """
        clock = Clock()
        music = Mount(
            MountConfig(name="/music", burst_size=0),
            FakeFrameSource([(SONG, PLAYLIST_FRAME, 10**6)]),
            clock,
        )
        live_mount = Mount(
            MountConfig(name="/live", burst_size=0, live_only=True, fallback="/music"),
            Switch(None, name="/live"),
            clock,
        )
        mounts = {"/music": music, "/live": live_mount}
        fallbacks = Fallbacks(mounts, clock)
        for mount in mounts.values():
            fallbacks.watch(mount)
            mount.start()
            self.addCleanup(mount.stop)
        switch = live_mount.switch
        assert switch is not None
        live = LiveSource(SHOW)
        switch.attach(live)
        live.feed(frames(40))
        clock.pump([0.1] * 5)
        transport = StringTransport()
        listener = live_mount.add_listener(transport, "127.0.0.1:5000", False)
        clock.pump([0.1] * 5)
        switch.mute(live)
        self.assertFalse(live_mount.available)
        clock.advance(0)
        self.assertIs(listener.mount, music)
        self.assertFalse(transport.disconnecting)
        live.feed(frames(80))
        clock.pump([0.1] * 5)
        self.assertIs(listener.mount, music)
        switch.unmute(live)
        clock.pump([0.1] * 5)
        self.assertIs(listener.mount, live_mount)
        self.assertEqual(listener.home, "/live")


class FakeRecorder:
    """
    Takes the place of a show's recorder: keeps what it is given.
    """

    def __init__(self) -> None:
        self.frames = 0
        self.closed = False

    def write(self, frames: Sequence[object]) -> None:
        self.frames += len(frames)

    def close(self) -> None:
        self.closed = True


class SourcesSilenceTests(SynchronousTestCase):
    """
    L{Sources} watches each source for dead air as its mount's settings
    say, and tells L{Sources.on_silence}.
    """

    def build(
        self, ffmpeg: str | None = "/usr/bin/ffmpeg", **settings: object
    ) -> tuple[Sources, dict[str, Mount]]:
        """
        Live sources for a station with a playlist mount C{/stream} (with
        a silence timeout of 2 s and C{settings}) and a live-only mount
        C{/live} falling back to it, on a clock, with detectors the test
        plays.
        """
        self.clock = Clock()
        self.reactor = FakeProcessReactor()
        stream = replace(
            MountConfig(name="/stream", burst_size=0, silence_timeout=2.0),
            **settings,  # type: ignore[arg-type]
        )
        live = MountConfig(name="/live", live_only=True, fallback="/stream", silence_timeout=2.0)
        mounts = {
            "/stream": Mount(stream, FakeFrameSource([(SONG, PLAYLIST_FRAME, 10**6)]), self.clock),
            "/live": Mount(live, Switch(None, name="/live"), self.clock),
        }
        for mount in mounts.values():
            mount.start()
            self.addCleanup(mount.stop)
        config = StationConfig(mounts=(stream, live), source_password=PASSWORD)
        silence = SilenceWatches(self.reactor, self.clock, mounts, ffmpeg)
        sources = Sources(
            self.clock,
            config,
            mounts,
            silence=silence,
            make_recorder=lambda config: FakeRecorder(),  # type: ignore[arg-type,return-value]
        )
        self.addCleanup(sources.stop)
        self.silences: list[tuple[str, str, bool]] = []
        sources.on_silence.append(lambda *told: self.silences.append(told))
        return sources, mounts

    def connect(self, sources: Sources, mount: str = "/stream") -> SourceConnection:
        """
        A source connects to C{mount}.
        """
        request = RequestParser().feed(source_request(mount=mount))
        assert request is not None
        transport = StringTransport()
        return sources.connect(request, transport, transport.write, transport.loseConnection, PEER)

    def test_taken_off_and_back(self) -> None:
        """
        A source that sends dead air is taken off the air and told to the
        callbacks with its mount and peer; it stays connected and its
        audio is still measured and recorded; sound puts it back on.
        """
        sources, mounts = self.build(record=True)
        source = self.connect(sources)
        source.data_received(frames(40))
        process = self.reactor.spawned[-1]
        process.output(QUIET * windows(2.0), fd=2)
        self.assertEqual(self.silences, [("/stream", PEER, True)])
        self.assertTrue(source.live.muted)
        self.assertIs(sources.connected["/stream"], source)
        recorder = sources.recordings["/stream"]
        assert isinstance(recorder, FakeRecorder)
        before, written = recorder.frames, len(process.written)
        source.data_received(frames(40))
        self.assertEqual(recorder.frames, before + 40)
        self.assertEqual(len(process.written), written + 40 * len(LIVE_FRAME.data))
        process.output(LOUD * windows(RECOVERY), fd=2)
        self.assertEqual(self.silences, [("/stream", PEER, True), ("/stream", PEER, False)])
        self.assertFalse(source.live.muted)
        switch = mounts["/stream"].switch
        assert switch is not None
        self.assertEqual(switch.mutes, 1)

    def test_leaving_stops_the_watch(self) -> None:
        """
        When the source leaves, its detector is killed.
        """
        sources, _ = self.build()
        source = self.connect(sources)
        source.data_received(frames(10))
        process = self.reactor.spawned[-1]
        source.disconnect()
        self.assertEqual(process.signals, ["KILL"])
        ended = sources.ended()
        self.assertNoResult(ended)
        process.end(Failure(ProcessTerminated(signal=9)))
        self.assertIsNone(self.successResultOf(ended))

    def test_ended_waits_for_stopped_watches_only(self) -> None:
        """
        L{Sources.ended} waits for the detectors of the sources stopped,
        not for those of sources still connected; once stopped, it waits
        for those too.
        """
        sources, _ = self.build()
        leaving = self.connect(sources, "/live")
        leaving.data_received(frames(10))
        staying = self.connect(sources, "/stream")
        staying.data_received(frames(10))
        first, second = self.reactor.spawned
        leaving.disconnect()
        ended = sources.ended()
        first.end(Failure(ProcessTerminated(signal=9)))
        self.successResultOf(ended)
        sources.stop()
        ended = sources.ended()
        self.assertNoResult(ended)
        second.end(Failure(ProcessTerminated(signal=9)))
        self.successResultOf(ended)

    def test_live_only_mount_watched(self) -> None:
        """
        A source on a live-only mount with a fallback is watched.
        """
        sources, _ = self.build()
        source = self.connect(sources, "/live")
        source.data_received(frames(10))
        self.assertEqual(len(self.reactor.spawned), 1)

    def test_not_watched(self) -> None:
        """
        No detector runs for a source on a mount whose C{silence_timeout}
        is 0, nor on a mount made for the source (which has nothing else
        to play).
        """
        sources, _ = self.build(silence_timeout=0.0)
        for name in ("/stream", "/new"):
            source = self.connect(sources, name)
            source.data_received(frames(10))
        self.assertEqual(self.reactor.spawned, [])

    def test_no_ffmpeg(self) -> None:
        """
        Without ffmpeg, no source is watched, and that is logged once.
        """
        sources, _ = self.build(ffmpeg=None)
        with capturedLogs() as events:
            for name in ("/stream", "/live"):
                self.connect(sources, name).data_received(frames(10))
        said = [e for e in events if "dead-air detection" in e["log_format"]]
        self.assertEqual(len(said), 1)
        self.assertEqual(self.reactor.spawned, [])

    def test_clock_only(self) -> None:
        """
        Given a clock that cannot spawn processes, and no watches, the
        sources watch nothing, and the callbacks can still be added to.
        """
        clock = Clock()
        sources = Sources(clock, StationConfig(source_password=PASSWORD), {})
        self.assertIsNone(sources.silence)
        self.assertEqual(sources.on_silence, [])
        self.successResultOf(sources.ended())


class RelaySilenceTests(SynchronousTestCase):
    """
    A relay given the station's L{SilenceWatches} is watched for dead air
    while connected.
    """

    def test_relay_watched(self) -> None:
        """
        The relayed audio goes to a detector; dead air takes the relay
        off the air, told with the upstream URL; when the upstream drops,
        the detector is killed.
        """
        reactor = MemoryReactorClock()
        processes = FakeProcessReactor()
        config = MountConfig(name="/relayed", burst_size=0, silence_timeout=2.0)
        mount = Mount(config, FakeFrameSource([(SONG, PLAYLIST_FRAME, 10**6)]), reactor)
        mount.start()
        self.addCleanup(mount.stop)
        silence = SilenceWatches(processes, reactor, {"/relayed": mount}, "/usr/bin/ffmpeg")
        told: list[tuple[str, str, bool]] = []
        silence.on_silence.append(lambda *said: told.append(said))
        switch = mount.switch
        assert switch is not None
        url = "http://up.example:8000/live"
        relay = Relay(reactor, reactor, switch, url, name="/relayed", silence=silence)
        relay.start()
        self.addCleanup(relay.stop)
        protocol = reactor.tcpClients[-1][2].buildProtocol(None)
        assert isinstance(protocol, RelayProtocol)
        protocol.makeConnection(StringTransport())
        protocol.dataReceived(
            b"HTTP/1.0 200 OK\r\nContent-Type: audio/mpeg\r\n\r\n" + RELAY_FRAME.data * 30
        )
        process = processes.spawned[-1]
        self.assertEqual(len(process.written), 29 * len(RELAY_FRAME.data))
        process.output(QUIET * windows(2.0), fd=2)
        self.assertEqual(told, [("/relayed", url, True)])
        self.assertTrue(switch.muted)
        protocol.connectionLost(Failure(ConnectionError()))
        self.assertEqual(process.signals, ["KILL"])

    def test_relay_not_watched_by_default(self) -> None:
        """
        A relay given no watches is not watched.
        """
        reactor = MemoryReactorClock()
        mount = Mount(
            MountConfig(name="/relayed"), FakeFrameSource([(SONG, PLAYLIST_FRAME, 10)]), reactor
        )
        assert mount.switch is not None
        relay = Relay(reactor, reactor, mount.switch, "http://up.example/", name="/relayed")
        self.assertIsNone(relay.silence)


@implementer(ILiveSource)
class _Feed:
    """
    Audio a mount is fed in real time (as a rung is), so that the mount
    has no switch.
    """

    def attach(self, deliver: Deliver) -> None:
        """
        Frames would go to C{deliver}; none ever come.
        """

    def start(self) -> None:
        """
        Nothing to start.
        """

    def stop(self) -> None:
        """
        Nothing to stop.
        """


class _Station:
    """
    A L{radiod.web.metrics.StationView} of given mounts.
    """

    def __init__(self, mounts: dict[str, Mount]) -> None:
        self._mounts = mounts

    @property
    def mounts(self) -> Mapping[str, Mount]:
        return self._mounts

    @property
    def tallies(self) -> Mapping[str, MountTally]:
        return {}

    @property
    def started(self) -> float:
        return 0.0

    @property
    def refused(self) -> int:
        return 0

    def source_kind(self, mount: Mount) -> str:
        return "playlist"

    def lag_max(self) -> float:
        return 0.0


class SilenceMetricsTests(SynchronousTestCase):
    """
    The metrics count the live sources taken off the air for dead air on
    each mount, and show how many are off now.
    """

    def test_metrics(self) -> None:
        """
        C{radiod_silence_events_total} counts the mutes of each mount's
        switch; C{radiod_sources_silent} is the number muted now; a mount
        with no switch shows 0 for both.
        """
        clock = Clock()
        playlist = FakeFrameSource([(SONG, PLAYLIST_FRAME, 10)])
        stream = Mount(MountConfig(name="/stream"), playlist, clock)
        rung = Mount(MountConfig(name="/rung"), _Feed(), clock)
        metrics = StationMetrics(_Station({"/stream": stream, "/rung": rung}), process=False)
        switch = stream.switch
        assert switch is not None
        live = LiveSource(SHOW, prebuffer=0)
        switch.attach(live)
        switch.mute(live)
        switch.unmute(live)
        switch.mute(live)
        found = {}
        body, _ = render_metrics(metrics.registry, None)
        for family in text_string_to_metric_families(body.decode("utf-8")):
            for sample in family.samples:
                found[sample.name, sample.labels.get("mount")] = sample.value
        self.assertEqual(found["radiod_silence_events_total", "/stream"], 2.0)
        self.assertEqual(found["radiod_sources_silent", "/stream"], 1.0)
        self.assertEqual(found["radiod_silence_events_total", "/rung"], 0.0)
        self.assertEqual(found["radiod_sources_silent", "/rung"], 0.0)
