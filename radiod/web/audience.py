# -*- test-case-name: tests.web.test_audience -*-
"""
The audience figures on the station's site, for the admin: L{STATS_PATH}.

C{GET /api/v1/stats?mount=&from=&to=&by=hour|day|month&format=json|csv}
answers the figures of L{radiod.audience.figures} for the listener
sessions the station stored (L{radiod.audience.store}), per period of the
station's time zone:

  - C{mount}: one mount's figures (its name, with or without the leading
    slash); absent for every mount together;
  - C{from}, C{to}: the range, each a date (C{2026-11-01}, the start of
    that day), a local time (C{2026-11-01T18:00}) in the station's time
    zone, or Unix seconds; by default the last 24 hours (C{to} is now),
    widened to whole periods;
  - C{by}: the periods (C{day} by default);
  - C{format}: C{json} (default) or C{csv}.

C{GET /api/v1/stats?report=ath&month=2026-11} answers the month's
aggregate tuning hours report (L{radiod.audience.report.ath_csv}), per
mount, in the layout SoundExchange takes; C{category} is SoundExchange's
transmission category (C{A}, a webcast that is not a simulcast, by
default).

Every figure is computed in a thread: a month of sessions takes seconds.

L{AudienceCollector} puts today's figures so far in the station's
metrics (L{radiod.audience.today}).
Errors are JSON C{{"error": ...}} with one log line: C{400} for a range
that makes no sense (C{from} after C{to}, more than L{MAX_PERIODS}
periods) or a bad parameter, C{404} for an unknown mount, C{503} when the
station stores no sessions.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Iterable, Sequence
from datetime import date, datetime, time, tzinfo
from typing import Any, Protocol

from prometheus_client.metrics_core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from twisted.internet.defer import Deferred
from twisted.logger import Logger
from twisted.python.failure import Failure
from twisted.web.resource import IResource
from twisted.web.server import NOT_DONE_YET

from radiod.audience.figures import (
    GRAINS,
    Figures,
    Grain,
    aggregate_tuning_hours,
    bounds,
    figures,
    per_mount,
)
from radiod.audience.report import ath_csv, figures_csv, figures_json
from radiod.audience.session import ListenerSession
from radiod.audience.today import DayFigures
from radiod.auth import Administrator
from radiod.interfaces import Runner
from radiod.web.guard import AdminLogin
from radiod.web.params import first, query
from radiod.web.site import JSON_CONTENT_TYPE, StationRequest, StationResource, refuse_json
from radiod.wire.server import RadioFactory

__all__ = [
    "MAX_PERIODS",
    "STATS_PATH",
    "AudienceCollector",
    "AudienceStats",
    "SessionSource",
    "parse_moment",
]

STATS_PATH = "/api/v1/stats"
"""
Where the figures are served.
"""

MAX_PERIODS = 5000
"""
The most periods one answer may hold (hours of about seven months).
"""

_DAY = 86400.0
_MONTH = re.compile(r"^(\d{4})-(\d{2})$")


class SessionSource(Protocol):
    """
    Where the stored sessions are read (L{radiod.audience.store.SessionStore}).
    """

    def sessions(
        self, mount: str | None, start: float, end: float
    ) -> Deferred[list[ListenerSession]]:
        """
        The sessions of C{mount} (or of all mounts) that overlap
        C{[start, end)}.
        """


class _BadRequest(Exception):
    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


def parse_moment(text: str, zone: tzinfo) -> float:
    """
    Read a moment of a C{from} or C{to} parameter: a date (its start), a
    local date and time in C{zone}, or Unix seconds.

    @raise ValueError: if C{text} is none of these.
    """
    text = text.strip()
    try:
        seconds = float(text)
    except ValueError:
        pass
    else:
        if not math.isfinite(seconds) or seconds < 0:
            raise ValueError(f"not a time: {text!r}")
        return seconds
    try:
        if len(text) == 10:
            day = date.fromisoformat(text)
            return datetime.combine(day, time(0), zone).timestamp()
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(
            f"not a date (2026-11-01), a local time (2026-11-01T18:00) or Unix seconds: {text!r}"
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=zone)
    return moment.timestamp()


class AudienceStats(StationResource):
    """
    The resource at L{STATS_PATH}: the admin login, then L{_StatsPage}.
    """

    isLeaf = True

    def __init__(
        self,
        factory: RadioFactory,
        store: Callable[[], SessionSource | None],
        runner: Runner,
        zone: Callable[[], tzinfo],
        service: Callable[[], str],
    ) -> None:
        """
        @param factory: the stream server's factory (mounts, login, clock).
        @param store: the station's session store now, or C{None} when it
            keeps none.
        @param runner: computes the figures off the reactor thread.
        @param zone: the station's time zone now.
        @param service: the station's name, for the ATH report.
        """
        super().__init__(factory)
        self.store = store
        self.runner = runner
        self.zone = zone
        self.service = service
        self._login = AdminLogin(factory, self._page)

    def _page(self, admin: Administrator) -> IResource:
        return _StatsPage(self, admin)

    def render(self, request: StationRequest) -> int | bytes:
        """
        Log in, then answer as the administrator.
        """
        return self._login.render(request)


class _StatsPage(StationResource):
    """
    An administrator's question about the audience.
    """

    isLeaf = True
    _log = Logger()

    def __init__(self, stats: AudienceStats, admin: Administrator) -> None:
        super().__init__(stats.factory)
        self.stats = stats
        self.admin = admin

    def render(self, request: StationRequest) -> bytes | int:
        """
        C{GET} (and C{HEAD}) the figures or the ATH report.
        """
        try:
            if request.method not in (b"GET", b"HEAD"):
                raise _BadRequest(405, "Method Not Allowed")
            store = self.stats.store()
            if store is None:
                raise _BadRequest(503, "This station keeps no listener sessions")
            params = query(request)
            zone = self.stats.zone()
            mount = self._mount(first(params, "mount"))
            if first(params, "report") is not None:
                work = self._ath(params, zone, mount)
            else:
                work = self._figures(params, zone, mount)
        except _BadRequest as bad:
            extra = [("Allow", "GET, HEAD")] if bad.status == 405 else []
            return refuse_json(request, self.factory, bad.status, bad.reason, extra)
        start, end, compute, content_type = work
        finished = [False]
        request.notifyFinish().addBoth(lambda _: finished.__setitem__(0, True))
        read = store.sessions(mount, start, end)
        made = read.addCallback(lambda sessions: self.stats.runner(lambda: compute(sessions)))

        def answer(body: bytes) -> None:
            if finished[0]:
                return
            request.setHeader("Content-Type", content_type)
            request.setHeader("Cache-Control", "no-cache, no-store")
            if request.method == b"HEAD":
                request.setHeader("Content-Length", str(len(body)))
            else:
                request.write(body)
            request.finish()

        def failed(failure: Failure) -> None:
            self._log.error(
                "Audience figures for {peer} failed: {reason}",
                peer=request.peer_name,
                reason=failure.getErrorMessage(),
            )
            if finished[0]:
                return
            body = refuse_json(request, self.factory, 500, "The figures could not be made")
            request.write(body)
            request.finish()

        made.addCallbacks(answer, failed)
        return NOT_DONE_YET

    def _mount(self, name: str | None) -> str | None:
        if name is None or name == "":
            return None
        name = name if name.startswith("/") else "/" + name
        if name not in self.factory.mounts and name not in {
            m.name for m in self.factory.config.mounts
        }:
            raise _BadRequest(404, f"No mount {name}")
        return name

    def _figures(
        self, params: dict[str, list[str]], zone: tzinfo, mount: str | None
    ) -> tuple[float, float, Callable[[list[ListenerSession]], bytes], str]:
        by = first(params, "by") or "day"
        if by not in GRAINS:
            raise _BadRequest(400, f"by must be hour, day or month, not {by!r}")
        grain: Grain = by
        output = first(params, "format") or "json"
        if output not in ("json", "csv"):
            raise _BadRequest(400, f"format must be json or csv, not {output!r}")
        now = self.factory.clock.seconds()
        try:
            to_text, from_text = first(params, "to"), first(params, "from")
            end = parse_moment(to_text, zone) if to_text else now
            start = parse_moment(from_text, zone) if from_text else end - _DAY
        except ValueError as e:
            raise _BadRequest(400, str(e)) from None
        if start >= end:
            raise _BadRequest(400, "from must be before to")
        try:
            edges = bounds(start, end, grain, zone)
        except ValueError as e:
            raise _BadRequest(400, str(e)) from None
        if len(edges) - 1 > MAX_PERIODS:
            raise _BadRequest(400, f"more than {MAX_PERIODS} periods: ask for fewer, or longer")
        low, high = edges[0], edges[-1]

        def compute(sessions: list[ListenerSession]) -> bytes:
            made: Sequence[Figures]
            if mount is None:
                every = per_mount(sessions, low, high, grain, zone)
                made = [figures(sessions, low, high, grain, zone), *every]
            else:
                made = [figures(sessions, low, high, grain, zone, mount)]
            if output == "csv":
                return figures_csv(made, totals=True).encode("utf-8")
            document: dict[str, Any] = {
                "from": low,
                "to": high,
                "by": grain,
                "station": figures_json(made[0]),
                "mounts": [figures_json(each) for each in made[1:]] if mount is None else [],
            }
            return (json.dumps(document, ensure_ascii=False) + "\n").encode("utf-8")

        content_type = "text/csv; charset=utf-8" if output == "csv" else JSON_CONTENT_TYPE
        return low, high, compute, content_type

    def _ath(
        self, params: dict[str, list[str]], zone: tzinfo, mount: str | None
    ) -> tuple[float, float, Callable[[list[ListenerSession]], bytes], str]:
        if first(params, "report") != "ath":
            raise _BadRequest(400, "report must be ath")
        month = _MONTH.match(first(params, "month") or "")
        if month is None:
            raise _BadRequest(400, "month must be YYYY-MM, such as 2026-11")
        year, number = int(month.group(1)), int(month.group(2))
        if not 1 <= number <= 12:
            raise _BadRequest(400, "month must be YYYY-MM, such as 2026-11")
        start = datetime(year, number, 1, tzinfo=zone).timestamp()
        following = datetime(year + number // 12, number % 12 + 1, 1, tzinfo=zone).timestamp()
        category = first(params, "category") or "A"
        if not (len(category) == 1 and "A" <= category <= "Z"):
            raise _BadRequest(400, "category must be one capital letter (A: a webcast)")
        configured = tuple(m.name for m in self.factory.config.mounts)
        mounts = (mount,) if mount is not None else configured
        service = self.stats.service()

        def compute(sessions: list[ListenerSession]) -> bytes:
            tunings = aggregate_tuning_hours(sessions, year, number, zone, mounts=mounts)
            return ath_csv(service, category, tunings).encode("utf-8")

        return start, following, compute, "text/csv; charset=utf-8"


class AudienceCollector(Collector):
    """
    Today's audience figures so far, per mount, for Prometheus:
    C{radiod_listeners_unique_today}, C{radiod_sessions_started_today} and
    C{radiod_listening_hours_today}.
    """

    def __init__(self, today: Callable[[], dict[str, DayFigures]]) -> None:
        """
        @param today: the figures per mount now.
        """
        self._today = today

    def collect(self) -> Iterable[Metric]:
        """
        Read the figures when Prometheus scrapes.
        """
        uniques = GaugeMetricFamily(
            "radiod_listeners_unique_today",
            "Distinct listeners today (sessions of a minute or more), per mount",
            labels=["mount"],
        )
        started = GaugeMetricFamily(
            "radiod_sessions_started_today",
            "Listener sessions of a minute or more started today, per mount",
            labels=["mount"],
        )
        hours = GaugeMetricFamily(
            "radiod_listening_hours_today",
            "Total listening hours today (TLH), per mount",
            labels=["mount"],
        )
        for mount, day in sorted(self._today().items()):
            uniques.add_metric([mount], day.uniques)
            started.add_metric([mount], day.started)
            hours.add_metric([mount], day.hours)
        return [uniques, started, hours]
