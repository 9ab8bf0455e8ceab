"""
Tests for L{radiod.web.lag}: how late the reactor runs, measured on a clock.
"""

from __future__ import annotations

from twisted.internet.task import Clock
from twisted.trial.unittest import SynchronousTestCase

from radiod.web.lag import LagMonitor


class LagMonitorTests(SynchronousTestCase):
    """
    The monitor measures how long after its due time each tick runs.
    """

    def build(
        self, interval: float = 0.2, window: float = 1.0
    ) -> tuple[Clock, LagMonitor, list[float]]:
        """
        A started monitor on a clock, and the latenesses it reports.
        """
        clock = Clock()
        clock.advance(1000.0)
        monitor = LagMonitor(clock, interval=interval, window=window)
        seen: list[float] = []
        monitor.observers.append(seen.append)
        monitor.start()
        self.addCleanup(monitor.stop)
        return clock, monitor, seen

    def test_on_time(self) -> None:
        """
        Ticks that run when due are not late at all.
        """
        clock, monitor, seen = self.build()
        clock.pump([0.2] * 50)
        self.assertEqual(len(seen), 50)
        self.assertLess(max(seen), 1e-9)
        self.assertEqual(monitor.ticks, 50)
        self.assertLess(monitor.recent_max(), 1e-9)

    def test_late_tick(self) -> None:
        """
        When the reactor is held, the next tick reports how long after its
        due time it ran, even across several missed intervals; the ticks
        after it are on time again.
        """
        clock, monitor, seen = self.build()
        clock.pump([0.2] * 3)
        clock.advance(0.15)
        clock.advance(0.9)
        self.assertAlmostEqual(seen[-1], 0.85)
        clock.advance(0.15)
        self.assertAlmostEqual(seen[-1], 0.0)
        clock.pump([0.2] * 3)
        self.assertLess(max(seen[-3:]), 1e-9)
        self.assertAlmostEqual(monitor.worst, 0.85)

    def test_slightly_late(self) -> None:
        """
        A tick a little late is measured to the millisecond.
        """
        clock, monitor, seen = self.build()
        clock.advance(0.25)
        self.assertEqual(len(seen), 1)
        self.assertAlmostEqual(seen[0], 0.05)
        clock.advance(0.15)
        self.assertAlmostEqual(seen[-1], 0.0)

    def test_recent_window(self) -> None:
        """
        L{LagMonitor.recent_max} forgets lateness older than its window,
        while L{LagMonitor.worst} keeps it.
        """
        clock, monitor, seen = self.build(window=1.0)
        clock.advance(0.5)
        self.assertAlmostEqual(monitor.recent_max(), 0.3)
        clock.advance(0.1)
        clock.pump([0.2] * 3)
        self.assertAlmostEqual(monitor.recent_max(), 0.3)
        clock.pump([0.2] * 2)
        self.assertLess(monitor.recent_max(), 1e-9)
        self.assertAlmostEqual(monitor.worst, 0.3)

    def test_stop(self) -> None:
        """
        A stopped monitor leaves no timer behind and measures nothing;
        it can start again.
        """
        clock, monitor, seen = self.build()
        monitor.stop()
        self.assertFalse(monitor.running)
        self.assertEqual(clock.getDelayedCalls(), [])
        clock.advance(5)
        self.assertEqual(seen, [])
        monitor.start()
        monitor.start()
        clock.advance(0.2)
        self.assertEqual(len(seen), 1)
        self.assertLess(seen[0], 1e-9)
