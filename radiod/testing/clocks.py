# -*- test-case-name: tests.test_testing -*-
"""
A clock whose system time a test can step.
"""

from __future__ import annotations

from typing import TypeVar

from twisted.internet.protocol import Protocol as TwistedProtocol
from twisted.internet.task import Clock

__all__ = ["SteppedClock"]

_T = TypeVar("_T")
_P = TypeVar("_P", bound=TwistedProtocol)
_P_co = TypeVar("_P_co", bound=TwistedProtocol, covariant=True)


class SteppedClock(Clock):
    """
    A L{Clock} on a machine whose system clock can be stepped.

    Time passes with L{advance}, as on any L{Clock}; L{step} moves the
    system clock alone, as an NTP correction does.  Like Twisted's
    reactors, it keeps time by the system clock (L{wall}) and puts its
    timers at absolute times on it, until something gives it another
    C{seconds} (see L{radiod.station.steady.SteadyTime}).

    @ivar stepped: seconds the system clock was stepped by in all.
    """

    def __init__(self, start: float = 0.0) -> None:
        """
        @param start: the system clock's time at first, in seconds since
            the epoch.
        """
        super().__init__()
        self.rightNow = start
        self.stepped = 0.0

    def wall(self) -> float:
        """
        The system clock: the time passed, plus every step.
        """
        return self.rightNow + self.stepped

    def elapsed(self) -> float:
        """
        A clock that is never stepped: the time passed alone.
        """
        return self.rightNow

    def seconds(self) -> float:
        """
        The system clock, as Twisted's reactors read it.
        """
        return self.wall()

    def step(self, amount: float) -> None:
        """
        Step the system clock by C{amount} seconds (back when negative);
        no time passes and no timer runs.
        """
        self.stepped += amount
