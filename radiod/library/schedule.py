# -*- test-case-name: tests.library.test_schedule -*-
"""
Schedules: the time windows in which a mount's playlists take the air.

A window is written C{DAYS HH:MM-HH:MM}, such as C{"Mon-Fri 06:00-10:00"},
in the station's time zone (L{load_zone}); a schedule is one window or
several, separated by C{";"} or given as a list (L{parse_schedule}).

Days: a day (C{"Mon"} or C{"Monday"}), a range (C{"Mon-Fri"}; ranges wrap,
so C{"Fri-Mon"} is Friday to Monday), C{"daily"} or C{"every day"},
C{"weekdays"} (Monday to Friday), C{"weekends"} (Saturday and Sunday), or a
comma-separated list of any of these (C{"Mon,Wed,Fri"}).  Case and spaces
do not matter.

Times: C{00:00} to C{23:59}; an end of C{24:00} means midnight.  A window
whose end is not after its start crosses midnight and belongs to the day it
starts on: C{"Fri 22:00-02:00"} runs from Friday 22:00 to Saturday 02:00.
C{"00:00-00:00"} (or C{"00:00-24:00"}) is the whole day; any other window
that starts and ends at the same time is refused as a likely mistake.

Daylight saving: windows follow the local wall clock.  An instant is inside
a window when its local time, read on the clock of the station's time zone,
falls within the window's start (included) and end (excluded) on the day the
window started.  So on the day the clocks go forward, the part of a window
in the skipped hour never happens (C{"Sun 01:30-02:30"} in Europe/Paris on
29 March 2026 is open from 01:30 to 02:00 and closes when the clock jumps to
03:00; a window C{02:00-03:00} that day is never open); on the day the
clocks go back, both occurrences of the repeated hour count as inside (the
same window on 25 October 2026 is open from 01:30 to 02:30 summer time,
closed until the clock goes back from 03:00 to 02:00, then open again from
02:00 to 02:30 winter time).

Overlaps: when several scheduled playlists have an open window, the one that
came on the air most recently has it: a show that starts inside another's
window takes over until it ends, then the other resumes if its window is
still open.  A playlist counts as coming on the air when it last went from
no open window to an open one, so back-to-back or overlapping windows of the
same playlist count as one stretch (an always-open C{"daily 00:00-00:00"}
fallback never takes over from a show at midnight).  When two came on at the
same moment, the one listed first has the air (L{pick}).

Everything here is pure: text in, values out, and no clock but the instants
it is given.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from datetime import UTC, date, datetime, timedelta, tzinfo

from radiod.config.windows import ScheduleError, Window, load_zone, parse_schedule, parse_window

__all__ = [
    "ScheduleError",
    "Window",
    "is_open",
    "load_zone",
    "next_change",
    "open_windows",
    "parse_schedule",
    "parse_window",
    "pick",
]

_DAY = timedelta(days=1)
_HORIZON = timedelta(days=8)


def _length(window: Window) -> timedelta:
    """
    How long a window lasts on the wall clock: up to 24 hours.
    """
    start = timedelta(hours=window.start.hour, minutes=window.start.minute)
    end = timedelta(hours=window.end.hour, minutes=window.end.minute)
    return (end - start) % _DAY or _DAY


def _occurrence(window: Window, day: date) -> tuple[datetime, datetime] | None:
    """
    The naive local start and end of C{window} if it starts on C{day}.
    """
    if day.weekday() not in window.days:
        return None
    start = datetime.combine(day, window.start)
    return start, start + _length(window)


def _local(at: datetime, zone: tzinfo) -> datetime:
    """
    The naive local wall-clock time of an aware instant.
    """
    if at.tzinfo is None or at.utcoffset() is None:
        raise ValueError(f"expected an aware datetime, not {at!r}")
    return at.astimezone(zone).replace(tzinfo=None)


def _contains(window: Window, local: datetime) -> bool:
    """
    Whether a naive local time is inside an occurrence of C{window}.
    """
    for day in (local.date() - _DAY, local.date()):
        span = _occurrence(window, day)
        if span is not None and span[0] <= local < span[1]:
            return True
    return False


def is_open(window: Window, at: datetime, zone: tzinfo) -> bool:
    """
    Whether a window is open at an instant.

    @param window: the window.
    @param at: the instant, an aware datetime.
    @param zone: the station's time zone, whose wall clock the window is
        read on (see the module documentation about daylight saving).
    @return: whether the local time of C{at} is inside an occurrence of
        C{window}, start included and end excluded.
    @raise ValueError: if C{at} is naive.
    """
    return _contains(window, _local(at, zone))


def open_windows(windows: Sequence[Window], at: datetime, zone: tzinfo) -> list[Window]:
    """
    The windows open at an instant (see L{is_open}).

    @param windows: the windows.
    @param at: the instant, an aware datetime.
    @param zone: the station's time zone.
    @return: those of C{windows} that are open, in their order.
    """
    local = _local(at, zone)
    return [window for window in windows if _contains(window, local)]


def _boundaries(windows: Sequence[Window], first: date, last: date) -> Iterable[datetime]:
    """
    The naive local times at which occurrences of C{windows} starting
    between two days (inclusive) open or close.
    """
    day = first
    while day <= last:
        for window in windows:
            span = _occurrence(window, day)
            if span is not None:
                yield from span
        day += _DAY


def _instants(local: datetime, zone: tzinfo) -> Iterable[datetime]:
    """
    The UTC instants whose wall-clock time in C{zone} is C{local}: none if
    the clocks skip it, two if they repeat it.
    """
    for fold in (0, 1):
        instant = local.replace(tzinfo=zone, fold=fold).astimezone(UTC)
        if instant.astimezone(zone).replace(tzinfo=None) == local:
            yield instant


def _transitions(zone: tzinfo, after: datetime, until: datetime) -> Iterable[datetime]:
    """
    The UTC instants between two others at which C{zone}'s offset from UTC
    changes, found hour by hour and then to the second.
    """

    def offset(seconds: int) -> timedelta | None:
        return datetime.fromtimestamp(seconds, UTC).astimezone(zone).utcoffset()

    low, end = math.floor(after.timestamp()), math.ceil(until.timestamp())
    while low < end:
        high = min(low + 3600, end)
        if offset(low) != offset(high):
            lo, hi = low, high
            while hi - lo > 1:
                middle = (lo + hi) // 2
                if offset(middle) == offset(lo):
                    lo = middle
                else:
                    hi = middle
            yield datetime.fromtimestamp(hi, UTC)
        low = high


def next_change(windows: Sequence[Window], at: datetime, zone: tzinfo) -> datetime | None:
    """
    The next instant after C{at} at which one of C{windows} opens or
    closes, looking at most eight days ahead.

    The instants considered are those at which the local clock shows a
    window's start or end (both, when the clocks repeat it; none, when they
    skip it) and those at which the zone's clocks change, since a window can
    open or close when the clock jumps; the first at which the set of open
    windows differs from the one before it is the answer.

    @param windows: the windows.
    @param at: the instant, an aware datetime.
    @param zone: the station's time zone.
    @return: the instant, aware and in UTC, or L{None} if none of the
        windows opens or closes within eight days.
    """
    local = _local(at, zone)
    now = at.astimezone(UTC)
    horizon = now + _HORIZON
    last = _local(horizon, zone).date() + _DAY
    candidates = {
        instant
        for boundary in _boundaries(windows, local.date() - _DAY, last)
        for instant in _instants(boundary, zone)
        if now < instant <= horizon
    }
    candidates.update(_transitions(zone, now, horizon))
    state = [_contains(window, local) for window in windows]
    for instant in sorted(candidates):
        if not now < instant <= horizon:
            continue
        moment = _local(instant, zone)
        current = [_contains(window, moment) for window in windows]
        if current != state:
            return instant
        state = current
    return None


def _on_since(windows: Sequence[Window], local: datetime) -> datetime | None:
    """
    Since when, on the local wall clock, at least one of C{windows} has
    been open without a break up to C{local}; L{datetime.min} if for more
    than a week (and so for ever), L{None} if none is open.
    """
    spans = [
        span
        for back in range(9, -1, -1)
        for window in windows
        if (span := _occurrence(window, local.date() - timedelta(days=back))) is not None
    ]
    starts = [start for start, end in spans if start <= local < end]
    if not starts:
        return None
    since = min(starts)
    while True:
        earlier = [start for start, end in spans if start < since <= end]
        if not earlier:
            return since
        since = min(earlier)
        if local - since > timedelta(days=8):
            return datetime.min


def pick(
    candidates: Sequence[tuple[str, Sequence[Window]]], at: datetime, zone: tzinfo
) -> str | None:
    """
    Which scheduled playlist has the air at an instant.

    Among the playlists with an open window, the one that came on the air
    most recently wins; ties go to the one listed first (see the module
    documentation for the rule).

    @param candidates: each playlist's name and windows, in priority order.
    @param at: the instant, an aware datetime.
    @param zone: the station's time zone.
    @return: the name of the playlist that has the air, or L{None} if none
        has an open window.
    """
    local = _local(at, zone)
    best: tuple[datetime, str] | None = None
    for name, windows in candidates:
        since = _on_since(windows, local)
        if since is not None and (best is None or since > best[0]):
            best = (since, name)
    return None if best is None else best[1]
