# -*- test-case-name: tests.audience.test_today -*-
"""
Today's audience, as it happens: for the metrics, without reading the
store.

L{Today} keeps, for the station's current day (midnight to midnight in its
time zone), per mount: the clients of the sessions that ended today, how
many of them started today, and their listening today.  Asked at any
moment with the sessions still going on, it gives per mount:

  - unique listeners today: distinct clients among today's qualifying
    sessions (those that lasted at least
    L{radiod.audience.figures.MINIMUM_SESSION}), ended or going on;
  - sessions started today: qualifying sessions that started today;
  - listening hours today (TLH): their listening since midnight.

These are the day's figures of L{radiod.audience.figures} so far, kept
in memory: what ended before the station started (or before a restart)
is in the store, not here.  The tally starts afresh at midnight.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta, tzinfo

from radiod.audience.figures import MINIMUM_SESSION
from radiod.audience.session import ListenerSession

__all__ = ["DayFigures", "Today"]


@dataclass(frozen=True)
class DayFigures:
    """
    One mount's figures so far today.

    @ivar uniques: distinct listeners.
    @ivar started: sessions started.
    @ivar hours: listening hours.
    """

    uniques: int
    started: int
    hours: float


@dataclass
class _Tally:
    clients: set[str] = field(default_factory=set)
    started: int = 0
    seconds: float = 0.0


class Today:
    """
    The station's audience so far today, per mount.
    """

    def __init__(self, zone: tzinfo) -> None:
        """
        @param zone: the station's time zone, where days begin.
        """
        self.zone = zone
        self._day: tuple[float, float] | None = None
        self._mounts: dict[str, _Tally] = {}

    def _bounds(self, now: float) -> tuple[float, float]:
        """
        The start and end of the local day holding C{now}, rolling the
        tally over when a new day began.
        """
        day = self._day
        if day is None or not day[0] <= now < day[1]:
            local = datetime.fromtimestamp(now, self.zone).date()
            start = datetime.combine(local, time(0), self.zone).timestamp()
            end = datetime.combine(local + timedelta(days=1), time(0), self.zone).timestamp()
            self._day = day = (start, end)
            self._mounts = {}
        return day

    def ended(self, session: ListenerSession) -> None:
        """
        A session ended (at its C{end}, which is now): count it if it
        qualifies and reached into today.
        """
        start, end = self._bounds(session.end)
        _add(self._mounts.setdefault(session.mount, _Tally()), session, start, end)

    def figures(self, now: float, going_on: Iterable[ListenerSession]) -> dict[str, DayFigures]:
        """
        Today's figures per mount: the sessions that ended today and
        C{going_on}, the sessions still going on (as far as they went).
        """
        start, end = self._bounds(now)
        tallies = {
            mount: _Tally(set(tally.clients), tally.started, tally.seconds)
            for mount, tally in self._mounts.items()
        }
        for session in going_on:
            _add(tallies.setdefault(session.mount, _Tally()), session, start, end)
        return {
            mount: DayFigures(len(tally.clients), tally.started, tally.seconds / 3600)
            for mount, tally in tallies.items()
        }


def _add(tally: _Tally, session: ListenerSession, start: float, end: float) -> None:
    if session.duration < MINIMUM_SESSION:
        return
    heard = min(session.end, end) - max(session.start, start)
    if heard <= 0:
        return
    tally.seconds += heard
    tally.clients.add(session.client or f"session {id(session)}")
    if session.start >= start:
        tally.started += 1
