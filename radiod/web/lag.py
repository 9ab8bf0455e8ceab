# -*- test-case-name: tests.web.test_lag -*-
"""
How late the reactor runs: a timer that should fire every L{INTERVAL}
seconds, and how long after its due time each firing came.

Anything that holds the reactor thread (a slow callback, a blocking call,
a fan-out to very many listeners) delays every timer, the pacers' among
them; this measures that delay without touching the audio path.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable

from twisted.internet.interfaces import IReactorTime
from twisted.internet.task import LoopingCall

__all__ = ["INTERVAL", "WINDOW", "LagMonitor"]

INTERVAL = 0.2
"""
Seconds between two measurements.
"""

WINDOW = 60.0
"""
Seconds over which L{LagMonitor.recent_max} looks back.
"""


class LagMonitor:
    """
    Measures how late a L{LoopingCall} fires, tick after tick.

    A tick due at time I{t} that runs at I{t + d} was I{d} late.  When the
    reactor was held for longer than an interval, the ticks it missed are
    skipped (as L{LoopingCall} does), and the one that runs reports the
    whole delay since the first tick that was due.

    @ivar observers: called with each lateness, in seconds.
    @ivar ticks: measurements made since started.
    @ivar worst: the greatest lateness measured since started.
    """

    def __init__(self, clock: IReactorTime, interval: float = INTERVAL, window: float = WINDOW):
        """
        @param clock: the reactor (or a test's clock) to measure.
        @param interval: seconds between measurements.
        @param window: seconds L{recent_max} looks back over.
        """
        self._clock = clock
        self.interval = interval
        self.observers: list[Callable[[float], None]] = []
        self.ticks = 0
        self.worst = 0.0
        self._recent: deque[float] = deque(maxlen=max(1, round(window / interval)))
        self._start = 0.0
        self._slot = 0
        self._loop: LoopingCall | None = None

    @property
    def running(self) -> bool:
        """
        Whether the monitor is measuring.
        """
        return self._loop is not None

    def start(self) -> None:
        """
        Start measuring; the first tick is due one interval from now.
        """
        if self._loop is not None:
            return
        loop = LoopingCall(self._tick)
        loop.clock = self._clock
        self._loop = loop
        self._slot = 0
        self._start = self._clock.seconds()
        loop.start(self.interval, now=False)

    def stop(self) -> None:
        """
        Stop measuring.
        """
        loop, self._loop = self._loop, None
        if loop is not None and loop.running:
            loop.stop()

    def recent_max(self) -> float:
        """
        The greatest lateness of the ticks within the last window, or 0.0
        before the first tick.
        """
        return max(self._recent, default=0.0)

    def _tick(self) -> None:
        """
        One tick.  The ticks are due on a grid of intervals from the
        start; this one was due at the first slot after the last tick's.
        """
        now = self._clock.seconds()
        due = self._start + (self._slot + 1) * self.interval
        # The slot now falls in; the small allowance keeps a tick that is
        # exactly on time in its own slot despite rounding.
        self._slot = math.floor((now - self._start) / self.interval + 1e-6)
        late = max(0.0, now - due)
        self.ticks += 1
        self.worst = max(self.worst, late)
        self._recent.append(late)
        for observer in self.observers:
            observer(late)
