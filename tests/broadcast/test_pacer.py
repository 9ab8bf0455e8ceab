"""
Tests for L{radiod.broadcast.pacer}.
"""

from __future__ import annotations

from twisted.internet.task import Clock
from twisted.logger import LogLevel, capturedLogs
from twisted.trial.unittest import SynchronousTestCase

from radiod.audio.frames import Frame
from radiod.audio.track import Cue, TrackInfo
from radiod.broadcast.pacer import Pacer
from radiod.testing import FakeFrameSource, silent_frame


def mixed_segments() -> list[tuple[TrackInfo, Frame, int]]:
    """
    Tracks of every MPEG version, several sample rates and bitrates, and a
    VBR-like run of different bitrates, each a few hundred frames long.
    """
    specs = [
        ("1", 128, 44100, 2),
        ("1", 320, 48000, 2),
        ("1", 32, 32000, 1),
        ("2", 64, 22050, 2),
        ("2", 8, 16000, 1),
        ("2", 160, 24000, 2),
        ("2.5", 8, 8000, 1),
        ("2.5", 32, 11025, 2),
        ("2.5", 64, 12000, 2),
        ("1", 64, 44100, 2),
        ("1", 192, 44100, 2),
        ("1", 256, 44100, 2),
    ]
    segments = []
    for number, (version, bitrate, rate, channels) in enumerate(specs):
        track = TrackInfo(path=f"/t{number}.mp3", title=f"Track {number}")
        frame = silent_frame(version, bitrate, rate, channels)
        segments.append((track, frame, 211 + 37 * number))
    return segments


class PacerTests(SynchronousTestCase):
    """
    The pacer sends exactly as much audio as time has passed.
    """

    def build(
        self, source: FakeFrameSource, interval: float = 0.1
    ) -> tuple[Clock, Pacer, list[list[Cue]]]:
        """
        A started pacer on a fresh Clock, recording each delivery.
        """
        clock = Clock()
        deliveries: list[list[Cue]] = []
        pacer = Pacer(clock, source, deliveries.append, interval=interval, name="/test")
        pacer.start()
        self.addCleanup(pacer.stop)
        return clock, pacer, deliveries

    def test_simulated_hour_of_mixed_tracks(self) -> None:
        """
        Over a simulated hour of tracks at many bitrates and sample rates,
        the audio time sent never differs from the time elapsed by more
        than one frame, checked after every tick.
        """
        source = FakeFrameSource(mixed_segments())
        clock, pacer, deliveries = self.build(source)
        longest = max(frame.duration for _, frame, _ in mixed_segments())
        sent = 0.0
        ticks = 0
        while clock.seconds() < 3600:
            clock.advance(0.1)
            ticks += 1
            for frames in deliveries:
                sent += sum(frame.duration for frame, _, _ in frames)
            deliveries.clear()
            elapsed = clock.seconds()
            self.assertTrue(
                0 <= sent - elapsed <= longest + 1e-9,
                f"after {elapsed:.3f} s, {sent:.6f} s of audio sent",
            )
        self.assertAlmostEqual(pacer.sent, sent, places=6)
        self.assertEqual(pacer.underruns, 0)
        self.assertGreaterEqual(ticks, 36000)

    def test_stalled_reactor_catches_up(self) -> None:
        """
        When the reactor stalls for several seconds, the next tick sends
        everything that fell due, so no audio time is lost.
        """
        source = FakeFrameSource([(TrackInfo("/a.mp3", "A"), silent_frame(), 10**6)])
        clock, pacer, deliveries = self.build(source)
        clock.advance(0.1)
        deliveries.clear()
        clock.advance(7.3)
        frames = sum(len(d) for d in deliveries)
        duration = silent_frame().duration
        self.assertTrue(7.2 / duration <= frames <= 7.3 / duration + 2, frames)
        self.assertTrue(0 <= pacer.sent - 7.4 < duration)

    def test_underrun_does_not_rush(self) -> None:
        """
        When the source has nothing ready for a while, the pacer does not
        later flood the listeners with the missed time: it resumes at the
        normal rate and logs the gap once.
        """
        source = FakeFrameSource([(TrackInfo("/a.mp3", "A"), silent_frame(), 10**6)])
        clock, pacer, deliveries = self.build(source)
        clock.advance(1.0)
        source.ready = False
        with capturedLogs() as events:
            for _ in range(20):
                clock.advance(0.1)
        self.assertEqual(
            [e["log_format"] for e in events if e["log_level"] == LogLevel.warn],
            ["Source for {mount} has no audio ready"],
        )
        source.ready = True
        deliveries.clear()
        clock.advance(0.1)
        duration = silent_frame().duration
        sent = sum(len(d) for d in deliveries) * duration
        self.assertTrue(sent <= 0.1 + duration, sent)
        self.assertGreater(pacer.underruns, 0)

    def test_clock_jump_resynchronises(self) -> None:
        """
        A jump of the clock beyond the catch-up limit (an NTP step) makes
        the pacer re-anchor instead of sending minutes of audio at once;
        a backwards jump does not stall the stream.
        """
        source = FakeFrameSource([(TrackInfo("/a.mp3", "A"), silent_frame(), 10**6)])
        clock, pacer, deliveries = self.build(source)
        clock.advance(1.0)
        deliveries.clear()
        with capturedLogs() as events:
            clock.advance(3600)
        sent = sum(len(d) for d in deliveries) * silent_frame().duration
        self.assertTrue(sent < 1.0, sent)
        self.assertTrue(any("jumped" in e["log_format"] for e in events))
        # Backwards: rewind the clock and tick by hand (a Clock's pending
        # calls stay at their old times).
        clock.rightNow -= 120
        pacer.tick()
        deliveries.clear()
        clock.rightNow += 0.5
        pacer.tick()
        sent = sum(len(d) for d in deliveries) * silent_frame().duration
        self.assertTrue(0.45 < sent < 0.6, f"{sent} s sent in 0.5 s after a backward jump")

    def test_no_delivery_without_frames(self) -> None:
        """
        The callback is not called on ticks that send nothing.
        """
        source = FakeFrameSource([])
        clock, pacer, deliveries = self.build(source)
        clock.advance(1)
        self.assertEqual(deliveries, [])

    def test_stop(self) -> None:
        """
        A stopped pacer schedules nothing more.
        """
        source = FakeFrameSource([(TrackInfo("/a.mp3", "A"), silent_frame(), 10)])
        clock, pacer, deliveries = self.build(source)
        pacer.stop()
        self.assertFalse(pacer.running)
        self.assertEqual(clock.getDelayedCalls(), [])
