# -*- test-case-name: tests.audience.test_figures -*-
"""
Audience figures computed from listener sessions, by the published
webcast definitions (Triton Digital's Webcast Metrics, accredited by the
Media Rating Council) and, for royalties, SoundExchange's aggregate tuning
hours.

A session is one listener's connection to one mount, from C{start} to
C{end} (Unix seconds): an ICY connection, or an HLS player's run of
requests.  Only the attributes of L{Session} are read.

Rules shared by every figure
============================

  - B{Qualifying sessions.}  A session counts only if it lasted at least
    60 seconds in all (C{end - start >= 60}); once it qualifies, any part
    of it inside a period counts there, however short.  Shorter sessions
    are left out of every figure but L{Period.peak} and L{aggregate
    tuning hours<aggregate_tuning_hours>}.
  - B{Splitting.}  A session's listening in a period is its overlap with
    the period, C{[max(start, period start), min(end, period end))}:
    a session that crosses a boundary is split between the periods.
    Intervals are half-open, so a session ending at 10:00 and one
    starting at 10:00 do not overlap.
  - B{Periods.}  Hours, days and months of the station's clock, in its
    time zone: a day is midnight to midnight local time, so the day
    clocks go forward has 23 hours and the day they go back 25, and the
    hour clocks go back is reported twice (once for each UTC offset).
    The range asked for is widened to whole periods: its start goes back
    to the start of the hour, day or month it falls in, and its end
    forward to the end of its own (an end exactly on a boundary stays).
  - B{Persons.}  A person is a distinct C{client} value; a session whose
    client is C{""} (not known) is a person of its own.  Clients are
    hashed with a key that changes every UTC day, so one person listening
    on several days counts once per day: a count of persons (C{cume},
    C{aqh}) is exact only within one UTC day, and over anything longer
    (a week, a month, or a local day of a zone other than UTC, which
    straddles two UTC days) it is an upper bound.

The figures of a period
=======================

With C{Q} the qualifying sessions active in the period and C{L(s)} the
seconds of C{s} inside it:

  - C{session_starts} (Triton "SS"): sessions of C{Q} that started in the
    period.
  - C{active_sessions} (Triton "AS"): C{|Q|}, wherever the session
    started.
  - C{tlh}, total listening hours: C{sum(L(s) for s in Q) / 3600}.
  - C{aas}, average active sessions: C{tlh / hours}, C{hours} the length
    of the period (23, 24 or 25 for a day).
  - C{cume}, the unique listeners: the number of distinct clients in
    C{Q}.  Cumes are never summed: the cume of a day is counted over the
    day, not added up from its hours.
  - C{aqh}, average quarter-hour persons: the period is cut into quarter
    hours of the clock (900 s each, from the period's start).  A person
    counts in a quarter hour if their qualifying sessions together cover
    at least 5 minutes (300 s) of it (overlapping sessions of one person
    are counted once).  C{aqh = sum over quarter hours of the persons
    counted / number of quarter hours}.
  - C{tsl}, time spent listening per listener: C{tlh / cume}, in hours
    (0 when C{cume} is 0).
  - C{atsl}, average time spent listening per session: C{tlh /
    active_sessions}, in hours (0 when there are none).  Triton keeps the
    two apart: TSL divides by listeners, ATSL by sessions.
  - C{peak}: the most sessions open at once during the period, found by
    sweeping over the sessions' start and end instants (ends before starts
    at the same instant).  It counts B{every} session, short ones
    included: it measures connections the server carried, as a listener
    gauge does, rather than an audience.
  - C{families} and C{countries}: for each user-agent family
    (L{radiod.audience.agents}) and each country, the active sessions of
    C{Q} and their listening hours, computed as C{active_sessions} and
    C{tlh} are.  A session without a country counts under
    L{UNKNOWN_COUNTRY}.

Aggregate tuning hours
======================

SoundExchange's ATH (defined in 37 CFR 370 and 380) adds up every hour
of programming sent to each listener in the United States during the
period, so that one listener for ten hours and ten listeners for one
hour both make 10.  Unlike TLH it has no one-minute minimum: every
session counts, for its overlap with the month.  Only sessions from the territory (C{"US"}) count;
sessions whose country is unknown count too unless told otherwise, since
leaving them out could under-report.  The definition also takes off the
running time of directly licensed recordings: radiod reports the gross
figure and leaves that to the station.

Nothing here does I/O, reads a clock or imports Twisted.
"""

from __future__ import annotations

import math
from bisect import bisect_right
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, tzinfo
from typing import Final, Literal, Protocol

from radiod.audience.agents import FAMILIES, family

__all__ = [
    "GRAINS",
    "MINIMUM_SESSION",
    "QUARTER_HOUR",
    "QUARTER_HOUR_MINIMUM",
    "UNKNOWN_COUNTRY",
    "Figures",
    "Grain",
    "Period",
    "Session",
    "Share",
    "Tuning",
    "aggregate_tuning_hours",
    "bounds",
    "figures",
    "per_mount",
]

Grain = Literal["hour", "day", "month"]
"""
How a range is cut into periods.
"""

GRAINS: Final[tuple[Grain, ...]] = ("hour", "day", "month")

MINIMUM_SESSION: Final = 60.0
"""
Seconds a session must last in all to count (Triton's one minute).
"""

QUARTER_HOUR: Final = 900.0
"""
Seconds in a quarter hour.
"""

QUARTER_HOUR_MINIMUM: Final = 300.0
"""
Seconds of a quarter hour a person must listen to count in its AQH
(the MRC's five minutes).
"""

UNKNOWN_COUNTRY: Final = "unknown"
"""
The key in L{Period.countries} for sessions with no country.
"""

_HOUR: Final = 3600.0
_EPSILON: Final = 1e-6


class Session(Protocol):
    """
    What the figures read of a listener session.
    """

    @property
    def mount(self) -> str:
        """
        The mount listened to.
        """

    @property
    def start(self) -> float:
        """
        When the session began, in Unix seconds.
        """

    @property
    def end(self) -> float:
        """
        When the session ended, in Unix seconds.
        """

    @property
    def user_agent(self) -> str:
        """
        The client's C{User-Agent}, C{""} if it sent none.
        """

    @property
    def client(self) -> str:
        """
        Who listened: a per-day hash of the address, the address, or
        C{""} if not known.
        """

    @property
    def country(self) -> str:
        """
        The listener's ISO 3166 country code, C{""} if unknown.
        """


@dataclass(frozen=True)
class Share:
    """
    The part of a period's listening that falls to one user-agent family
    or one country.

    @ivar sessions: the qualifying sessions active in the period.
    @ivar tlh: their listening hours inside the period.
    """

    sessions: int
    tlh: float


@dataclass(frozen=True)
class Period:
    """
    The figures of one period; the module docstring defines each.

    @ivar start: the period's first instant, in the station's zone.
    @ivar end: the instant after its last, in the station's zone.
    @ivar hours: its length in hours.
    @ivar session_starts: qualifying sessions that started in it.
    @ivar active_sessions: qualifying sessions active in it.
    @ivar cume: distinct clients among those sessions (unique listeners).
    @ivar tlh: total listening hours.
    @ivar aas: average active sessions, C{tlh / hours}.
    @ivar aqh: average quarter-hour persons.
    @ivar tsl: hours per listener, C{tlh / cume}.
    @ivar atsl: hours per session, C{tlh / active_sessions}.
    @ivar peak: the most sessions (of any length) open at once.
    @ivar families: a L{Share} for every family of L{FAMILIES}.
    @ivar countries: a L{Share} for every country heard from.
    """

    start: datetime
    end: datetime
    hours: float
    session_starts: int
    active_sessions: int
    cume: int
    tlh: float
    aas: float
    aqh: float
    tsl: float
    atsl: float
    peak: int
    families: Mapping[str, Share]
    countries: Mapping[str, Share]


@dataclass(frozen=True)
class Figures:
    """
    The figures of a range, period by period and in total.

    @ivar mount: the mount they are for; C{None} for every mount together.
    @ivar by: how the range was cut.
    @ivar zone: the station's time zone.
    @ivar periods: one L{Period} per hour, day or month, in order.
    @ivar total: the whole (widened) range as a single period: its
        C{cume} and C{peak} are counted over the range, not added up.
    """

    mount: str | None
    by: Grain
    zone: tzinfo
    periods: tuple[Period, ...]
    total: Period


@dataclass(frozen=True)
class Tuning:
    """
    The aggregate tuning hours of one mount in one month.

    @ivar mount: the mount (SoundExchange's channel).
    @ivar start: the month's first instant, in the station's zone.
    @ivar end: the next month's first instant, in the station's zone.
    @ivar hours: the aggregate tuning hours.
    @ivar sessions: the sessions that contributed.
    """

    mount: str
    start: datetime
    end: datetime
    hours: float
    sessions: int


@dataclass(frozen=True)
class _Entry:
    """
    A session as the figures use it.
    """

    start: float
    end: float
    client: str
    family: str
    country: str
    qualifies: bool


def _wall(t: float, zone: tzinfo) -> datetime:
    """
    The station clock's reading at C{t}.
    """
    return datetime.fromtimestamp(t, zone)


def _instant(year: int, month: int, day: int, zone: tzinfo) -> float:
    """
    The first instant of a local date: its midnight, or when the clock
    skips midnight, the moment it jumps past it.
    """
    return datetime(year, month, day, tzinfo=zone).timestamp()


def _floor(t: float, by: Grain, zone: tzinfo) -> float:
    """
    The start of the period that C{t} falls in.
    """
    wall = _wall(t, zone)
    if by == "hour":
        # The reading keeps its fold, so in the hour the clock goes back
        # the floor stays on the same side of the change.
        return wall.replace(minute=0, second=0, microsecond=0).timestamp()
    if by == "day":
        return _instant(wall.year, wall.month, wall.day, zone)
    return _instant(wall.year, wall.month, 1, zone)


def _next(edge: float, by: Grain, zone: tzinfo) -> float:
    """
    The start of the period after the one starting at C{edge}.
    """
    if by == "hour":
        following = _floor(edge + _HOUR, by, zone)
        return following if following > edge else edge + _HOUR
    wall = _wall(edge, zone)
    if by == "day":
        tomorrow = wall.date() + timedelta(days=1)
        return _instant(tomorrow.year, tomorrow.month, tomorrow.day, zone)
    year, month = (wall.year + 1, 1) if wall.month == 12 else (wall.year, wall.month + 1)
    return _instant(year, month, 1, zone)


def bounds(start: float, end: float, by: Grain, zone: tzinfo) -> list[float]:
    """
    The boundaries that cut a range into periods of the station's clock.

    @param start: the range's first instant, in Unix seconds.
    @param end: the instant after its last.
    @param by: the length of a period.
    @param zone: the station's time zone.
    @return: instants C{b[0] < b[1] < … < b[n]}, period C{i} running
        from C{b[i]} to C{b[i + 1]}; C{b[0] <= start} is the start of the
        period holding C{start}, and C{b[n] >= end} the first boundary
        at or after C{end}.
    @raise ValueError: if C{by} is not one of L{GRAINS}, or the range is
        empty.
    """
    if by not in GRAINS:
        raise ValueError(f"periods are one of {', '.join(GRAINS)}, not {by!r}")
    if not end > start:
        raise ValueError("a range must end after it starts")
    edges = [_floor(start, by, zone)]
    while edges[-1] < end:
        edges.append(_next(edges[-1], by, zone))
    return edges


def _entries(sessions: Iterable[Session], mount: str | None) -> list[_Entry]:
    """
    The sessions of C{mount} (every mount if C{None}) that have any
    length, as L{_Entry} values.
    """
    entries = []
    for index, session in enumerate(sessions):
        if mount is not None and session.mount != mount:
            continue
        if not session.end > session.start:
            continue
        entries.append(
            _Entry(
                start=session.start,
                end=session.end,
                # No client value has a NUL, so an unknown client becomes
                # a person no other session shares.
                client=session.client or f"\0{index}",
                family=family(session.user_agent),
                country=session.country or UNKNOWN_COUNTRY,
                qualifies=session.end - session.start >= MINIMUM_SESSION - _EPSILON,
            )
        )
    return entries


def _buckets(entries: Sequence[_Entry], edges: Sequence[float]) -> list[list[_Entry]]:
    """
    For each period between C{edges}, the entries that overlap it.
    """
    count = len(edges) - 1
    buckets: list[list[_Entry]] = [[] for _ in range(count)]
    for entry in entries:
        index = max(0, bisect_right(edges, entry.start) - 1)
        while index < count and edges[index] < entry.end:
            buckets[index].append(entry)
            index += 1
    return buckets


def _union(spans: list[tuple[float, float]]) -> list[tuple[float, float]]:
    """
    The same instants as C{spans}, as disjoint spans in order.
    """
    merged: list[tuple[float, float]] = []
    for start, end in sorted(spans):
        if merged and start <= merged[-1][1]:
            if end > merged[-1][1]:
                merged[-1] = (merged[-1][0], end)
        else:
            merged.append((start, end))
    return merged


def _quarter_persons(spans: list[tuple[float, float]], low: float, high: float) -> int:
    """
    In how many quarter hours of C{[low, high)} one person's listening
    C{spans} (inside it) adds up to L{QUARTER_HOUR_MINIMUM}.
    """
    seconds: dict[int, float] = defaultdict(float)
    for start, end in _union(spans):
        quarter = int((start - low) // QUARTER_HOUR)
        while True:
            quarter_start = low + quarter * QUARTER_HOUR
            quarter_end = min(quarter_start + QUARTER_HOUR, high)
            seconds[quarter] += min(end, quarter_end) - max(start, quarter_start)
            if end <= quarter_end:
                break
            quarter += 1
    return sum(1 for listened in seconds.values() if listened >= QUARTER_HOUR_MINIMUM - _EPSILON)


def _peak(spans: Iterable[tuple[float, float]]) -> int:
    """
    The most of C{spans} open at once; a span ending when another starts
    does not overlap it.
    """
    events = sorted(event for start, end in spans for event in ((start, 1), (end, -1)))
    peak = open_ = 0
    for _, step in events:
        open_ += step
        peak = max(peak, open_)
    return peak


class _Tally:
    """
    Sessions and seconds of listening, added up by family or country.
    """

    def __init__(self, keys: Iterable[str] = ()) -> None:
        """
        @param keys: keys to report even if nothing is added to them.
        """
        self._sessions: dict[str, int] = {key: 0 for key in keys}
        self._seconds: dict[str, float] = {key: 0.0 for key in keys}

    def add(self, key: str, seconds: float) -> None:
        """
        Count a session that listened C{seconds} under C{key}.
        """
        self._sessions[key] = self._sessions.get(key, 0) + 1
        self._seconds[key] = self._seconds.get(key, 0.0) + seconds

    def shares(self, order: Iterable[str]) -> dict[str, Share]:
        """
        A L{Share} for each key, in C{order}.
        """
        return {key: Share(self._sessions[key], self._seconds[key] / _HOUR) for key in order}

    def keys(self) -> list[str]:
        """
        Every key, in the order they came.
        """
        return list(self._sessions)


def _measure(entries: Sequence[_Entry], low: float, high: float, zone: tzinfo) -> Period:
    """
    The figures of the period C{[low, high)} from the entries overlapping
    it.
    """
    spans: list[tuple[float, float]] = []
    starts = active = 0
    listened = 0.0
    persons: dict[str, list[tuple[float, float]]] = defaultdict(list)
    families = _Tally(FAMILIES)
    countries = _Tally()
    for entry in entries:
        start, end = max(entry.start, low), min(entry.end, high)
        if not end > start:
            continue
        spans.append((start, end))
        if not entry.qualifies:
            continue
        active += 1
        if low <= entry.start < high:
            starts += 1
        seconds = end - start
        listened += seconds
        persons[entry.client].append((start, end))
        families.add(entry.family, seconds)
        countries.add(entry.country, seconds)
    hours = (high - low) / _HOUR
    tlh = listened / _HOUR
    cume = len(persons)
    quarters = max(1, math.ceil((high - low) / QUARTER_HOUR - _EPSILON))
    counted = sum(_quarter_persons(person, low, high) for person in persons.values())
    return Period(
        start=_wall(low, zone),
        end=_wall(high, zone),
        hours=hours,
        session_starts=starts,
        active_sessions=active,
        cume=cume,
        tlh=tlh,
        aas=tlh / hours,
        aqh=counted / quarters,
        tsl=tlh / cume if cume else 0.0,
        atsl=tlh / active if active else 0.0,
        peak=_peak(spans),
        families=families.shares(families.keys()),
        countries=countries.shares(sorted(countries.keys())),
    )


def figures(
    sessions: Iterable[Session],
    start: float,
    end: float,
    by: Grain,
    zone: tzinfo,
    mount: str | None = None,
) -> Figures:
    """
    The audience figures of a range, period by period and in total.

    @param sessions: listener sessions; those that do not overlap the
        (widened) range are ignored.
    @param start: the range's first instant, in Unix seconds.
    @param end: the instant after its last.
    @param by: the length of a period: C{"hour"}, C{"day"} or C{"month"}
        of the station's clock.
    @param zone: the station's time zone.
    @param mount: the mount to count; C{None} counts every mount together.
    @return: the figures, defined in this module's docstring.
    @raise ValueError: as L{bounds} does.
    """
    edges = bounds(start, end, by, zone)
    entries = _entries(sessions, mount)
    periods = tuple(
        _measure(bucket, low, high, zone)
        for bucket, low, high in zip(_buckets(entries, edges), edges[:-1], edges[1:], strict=True)
    )
    total = _measure(_buckets(entries, [edges[0], edges[-1]])[0], edges[0], edges[-1], zone)
    return Figures(mount=mount, by=by, zone=zone, periods=periods, total=total)


def per_mount(
    sessions: Iterable[Session], start: float, end: float, by: Grain, zone: tzinfo
) -> list[Figures]:
    """
    L{figures} for each mount that has sessions, in the order of the
    mounts' names.

    @param sessions: listener sessions of any mounts.
    @param start: the range's first instant, in Unix seconds.
    @param end: the instant after its last.
    @param by: the length of a period.
    @param zone: the station's time zone.
    @return: one L{Figures} per mount.
    @raise ValueError: as L{bounds} does.
    """
    # Checked first, so that a bad range is refused even with no sessions.
    bounds(start, end, by, zone)
    by_mount: dict[str, list[Session]] = defaultdict(list)
    for session in sessions:
        by_mount[session.mount].append(session)
    return [figures(by_mount[name], start, end, by, zone, name) for name in sorted(by_mount)]


def aggregate_tuning_hours(
    sessions: Iterable[Session],
    year: int,
    month: int,
    zone: tzinfo,
    *,
    territory: str = "US",
    unknown: bool = True,
    mounts: Iterable[str] = (),
) -> list[Tuning]:
    """
    SoundExchange's aggregate tuning hours of a month, mount by mount.

    Every session counts, however short, for its overlap with the month
    (of the station's clock), if its country is C{territory} or, when
    C{unknown} is true, if its country is not known.

    @param sessions: listener sessions of any mounts.
    @param year: the month's year.
    @param month: the month, 1 to 12.
    @param zone: the station's time zone.
    @param territory: the ISO 3166 code of the country whose listeners
        count.
    @param unknown: whether sessions with no country count.
    @param mounts: mounts to report even if no one listened to them.
    @return: a L{Tuning} for each mount of C{mounts} and each mount
        listened to in the month, in the order of their names.
    @raise ValueError: if C{month} is not a month.
    """
    low = _instant(year, month, 1, zone)
    high = _next(low, "month", zone)
    seconds: dict[str, float] = {name: 0.0 for name in mounts}
    counted: dict[str, int] = {name: 0 for name in mounts}
    for session in sessions:
        country = session.country.upper()
        if not (country == territory.upper() or (unknown and not country)):
            continue
        overlap = min(session.end, high) - max(session.start, low)
        if not overlap > 0:
            continue
        seconds[session.mount] = seconds.get(session.mount, 0.0) + overlap
        counted[session.mount] = counted.get(session.mount, 0) + 1
    return [
        Tuning(
            mount=name,
            start=_wall(low, zone),
            end=_wall(high, zone),
            hours=seconds[name] / _HOUR,
            sessions=counted[name],
        )
        for name in sorted(seconds)
    ]
