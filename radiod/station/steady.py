# -*- test-case-name: tests.station.test_faults -*-
"""
Steady time: the reactor's clock, kept safe from steps of the system clock.

Twisted's reactors read the system clock (C{time.time}) and put every
timer at an absolute time on it.  When that clock is stepped (an NTP
correction, someone setting the date), every timer moves with it: stepped
back by two minutes, every pacer, timeout and rescan waits two minutes
more and listeners hear nothing meanwhile; stepped forward, every timeout
fires at once and live sources are disconnected as silent.

L{SteadyClock} gives the system clock's time at start plus the time that
has really passed since, read from the machine's monotonic clock (one that
counts suspended time, where the system has one), so it moves with time
and is never stepped.  L{SteadyTime} makes a reactor keep its time by it,
and compares it with the system clock every L{CHECK_INTERVAL} seconds,
logging each step it finds.  After a step, the times radiod shows (the
play history, recordings' names, status pages) differ from the system
clock by that step until radiod restarts; its log lines keep the system
clock's time.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable

from twisted.application.service import Service
from twisted.internet.interfaces import IReactorTime
from twisted.internet.task import LoopingCall
from twisted.logger import Logger

__all__ = ["CHECK_INTERVAL", "STEP_THRESHOLD", "SteadyClock", "SteadyTime", "elapsed_clock"]

CHECK_INTERVAL = 5.0
"""
Seconds between two comparisons of steady time with the system clock.
"""

STEP_THRESHOLD = 1.0
"""
Seconds the system clock must move, relative to steady time, between two
comparisons to count as stepped (NTP slews it far more slowly).
"""


def elapsed_clock() -> Callable[[], float]:
    """
    The machine's clock of elapsed time: C{CLOCK_BOOTTIME} where there is
    one (Linux; it counts time suspended, so a machine that wakes up is
    seen to have been away), else C{time.monotonic}.
    """
    boottime = getattr(time, "CLOCK_BOOTTIME", None)
    if boottime is not None:
        return functools.partial(time.clock_gettime, boottime)
    return time.monotonic


class SteadyClock:
    """
    Seconds since the epoch that advance exactly as time passes: the system
    clock's time when made, plus the elapsed time since.

    @ivar offset: how far the system clock is from steady time, as of the
        last L{check}.
    @ivar steps: the steps of the system clock found so far.
    """

    _log = Logger()

    def __init__(
        self,
        wall: Callable[[], float] = time.time,
        elapsed: Callable[[], float] | None = None,
        threshold: float = STEP_THRESHOLD,
    ) -> None:
        """
        @param wall: reads the system clock.
        @param elapsed: reads a clock that is never stepped; by default
            L{elapsed_clock}.
        @param threshold: the least change of L{offset} between two checks
            that counts as a step.
        """
        self._wall = wall
        self._elapsed = elapsed if elapsed is not None else elapsed_clock()
        self._threshold = threshold
        self._start = wall()
        self._origin = self._elapsed()
        self.offset = 0.0
        self.steps = 0

    def seconds(self) -> float:
        """
        Steady time now, in seconds since the epoch (L{IReactorTime.seconds}).
        """
        return self._start + (self._elapsed() - self._origin)

    def check(self) -> float:
        """
        Compare steady time with the system clock, and log a step of the
        system clock since the last check.

        @return: the step found, in seconds (negative when the system
            clock went back), or 0.0 when there was none.
        """
        offset = self._wall() - self.seconds()
        step = offset - self.offset
        self.offset = offset
        if abs(step) < self._threshold:
            return 0.0
        self.steps += 1
        self._log.warn(
            "The system clock was stepped by {step:+.1f} s; pacing and timeouts carry "
            "on unaffected, and the times radiod shows differ from the system clock's by "
            "{difference:+.1f} s until it restarts",
            step=step,
            difference=-offset,
        )
        return step


class SteadyTime(Service):
    """
    While running, makes a reactor keep time by a L{SteadyClock} and
    checks that clock against the system clock.

    Stopping stops the checks but leaves the reactor on steady time: going
    back to the system clock after a step would move every timer still
    pending (those of shutting down among them) by that step.

    @ivar clock: the steady clock the reactor keeps time by.
    """

    def __init__(
        self,
        reactor: IReactorTime,
        clock: SteadyClock | None = None,
        interval: float = CHECK_INTERVAL,
    ) -> None:
        """
        @param reactor: the reactor whose C{seconds} is replaced; it must
            schedule its timers by its own C{seconds}, as Twisted's
            reactors and L{twisted.internet.task.Clock} do.
        @param clock: the steady clock; a new one on the system's clocks
            by default.
        @param interval: seconds between two checks.
        """
        self._reactor = reactor
        self.clock = clock if clock is not None else SteadyClock()
        self._interval = interval
        self._loop: LoopingCall | None = None

    def startService(self) -> None:
        """
        Put the reactor on steady time and start checking it.
        """
        super().startService()
        setattr(self._reactor, "seconds", self.clock.seconds)  # noqa: B010
        loop = LoopingCall(self.clock.check)
        loop.clock = self._reactor
        self._loop = loop
        loop.start(self._interval, now=False)

    def stopService(self) -> None:
        """
        Stop checking (the reactor stays on steady time).
        """
        super().stopService()
        loop, self._loop = self._loop, None
        if loop is not None and loop.running:
            loop.stop()
