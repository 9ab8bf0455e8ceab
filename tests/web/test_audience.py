"""
Tests for L{radiod.web.audience}: the audience figures on the site.
"""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime
from typing import Any

from twisted.internet.defer import Deferred, succeed
from twisted.internet.endpoints import TCP4ClientEndpoint, connectProtocol
from twisted.internet.interfaces import IListeningPort, IReactorTCP
from twisted.trial.unittest import TestCase

from radiod.audience.session import ListenerSession
from radiod.broadcast.mount import Mount
from radiod.config import MountConfig, StationConfig
from radiod.testing import FakeFrameSource, Reply, parse_reply, synchronous_runner
from radiod.web.audience import STATS_PATH, AudienceStats, SessionSource, parse_moment
from radiod.web.site import attach
from radiod.web.tree import station_site
from radiod.wire.server import RadioFactory
from tests.support.loopback import asynchronous, reactor
from tests.web.test_admin_e2e import OneShot

PASSWORD = "st4ts-Adm1n"
DAY = datetime(2026, 11, 2, tzinfo=UTC).timestamp()


def at(hour: int, minute: int = 0) -> float:
    return DAY + hour * 3600 + minute * 60


SESSIONS = [
    # A: 10:00-11:00 on /stream, and again 12:00-12:30: one person, 1.5 h.
    ListenerSession("/stream", "icy", at(10), at(11), 0, "VLC/3.0.18", "", "a", "FR"),
    ListenerSession("/stream", "icy", at(12), at(12, 30), 0, "VLC/3.0.18", "", "a", "FR"),
    # B: 10:30-10:30:30 on /stream: under a minute, left out.
    ListenerSession("/stream", "icy", at(10, 30), at(10, 30) + 30, 0, "", "", "b", ""),
    # C: 11:00-13:00 on /jazz: 2 h.
    ListenerSession("/jazz", "hls", at(11), at(13), 0, "Mozilla/5.0 Firefox/120.0", "", "c", "US"),
]


class Sessions:
    """
    A L{SessionSource} over L{SESSIONS}, noting what it was asked.
    """

    def __init__(self) -> None:
        self.asked: list[tuple[str | None, float, float]] = []

    def sessions(
        self, mount: str | None, start: float, end: float
    ) -> Deferred[list[ListenerSession]]:
        self.asked.append((mount, start, end))
        return succeed(
            [s for s in SESSIONS if (mount is None or s.mount == mount) and s.overlaps(start, end)]
        )


class AudienceStatsTests(TestCase):
    """
    C{GET /api/v1/stats}, over a real connection, behind the admin login.
    """

    def setUp(self) -> None:
        stream, jazz = MountConfig(name="/stream"), MountConfig(name="/jazz")
        mounts = {
            "/stream": Mount(stream, FakeFrameSource([]), reactor),
            "/jazz": Mount(jazz, FakeFrameSource([]), reactor),
        }
        config = StationConfig(port=0, mounts=(stream, jazz), admin_password=PASSWORD)
        self.factory = RadioFactory(reactor, config, mounts)
        self.factory.throttle.free = 10**6
        site = station_site(self.factory, reactor)
        self.store: Sessions | None = Sessions()

        def store() -> SessionSource | None:
            return self.store

        resource = AudienceStats(
            self.factory, store, synchronous_runner, lambda: UTC, lambda: "Radio Test"
        )
        attach(site, STATS_PATH, resource)
        self.port: IListeningPort = reactor.listenTCP(0, self.factory, interface="127.0.0.1")
        self.addCleanup(self.port.stopListening)

    async def get(self, query: str, login: bool = True) -> Reply:
        token = base64.b64encode(f"admin:{PASSWORD}".encode()).decode()
        auth = f"Authorization: Basic {token}\r\n" if login else ""
        head = f"GET {STATS_PATH}{query} HTTP/1.1\r\nHost: radio.example\r\n{auth}\r\n"
        client = OneShot(head.encode())
        address: Any = self.port.getHost()
        tcp: IReactorTCP = reactor
        await connectProtocol(TCP4ClientEndpoint(tcp, "127.0.0.1", address.port), client)
        return parse_reply(await client.done)

    @asynchronous
    async def test_login(self) -> None:
        """
        Without the admin login: 401.
        """
        reply = await self.get("?from=2026-11-02&to=2026-11-03", login=False)
        self.assertEqual(reply.status, 401)

    @asynchronous
    async def test_day(self) -> None:
        """
        The figures of a day, for the station and each mount: sessions
        under a minute left out, listening hours summed, each person once.
        """
        reply = await self.get("?from=2026-11-02&to=2026-11-03&by=day")
        self.assertEqual(reply.status, 200, reply.body)
        self.assertEqual(reply.headers["content-type"], "application/json; charset=utf-8")
        document = json.loads(reply.body)
        (day,) = document["station"]["periods"]
        # A 1.5 h and C 2 h: 3.5 h; a and c: cume 2; three qualifying
        # sessions; at most two at once (a and c from 12:00 to 12:30).
        self.assertEqual(day["tlh"], 3.5)
        self.assertEqual(day["cume"], 2)
        self.assertEqual(day["active_sessions"], 3)
        self.assertEqual(day["peak"], 2)
        by_mount = {m["mount"]: m["periods"][0]["tlh"] for m in document["mounts"]}
        self.assertEqual(by_mount, {"/jazz": 2.0, "/stream": 1.5})

    @asynchronous
    async def test_mount_by_hour_csv(self) -> None:
        """
        One mount's hours as CSV: a line per hour, then the whole range.
        """
        reply = await self.get(
            "?mount=stream&from=2026-11-02T10:00&to=2026-11-02T13:00&by=hour&format=csv"
        )
        self.assertEqual(reply.status, 200, reply.body)
        lines = reply.body.decode().splitlines()
        self.assertTrue(lines[0].startswith("mount,start,end,hours,"))
        self.assertEqual(len(lines), 1 + 3 + 1)
        self.assertTrue(lines[1].startswith("/stream,2026-11-02T10:00:00+00:00,"))
        assert self.store is not None
        self.assertEqual(self.store.asked[-1][0], "/stream")

    @asynchronous
    async def test_ath(self) -> None:
        """
        The month's aggregate tuning hours, per mount: US and unknown
        countries count, every session whatever its length.
        """
        reply = await self.get("?report=ath&month=2026-11")
        self.assertEqual(reply.status, 200, reply.body)
        lines = reply.body.decode().splitlines()
        self.assertEqual(
            lines[0],
            "NAME_OF_SERVICE,TRANSMISSION_CATEGORY,CHANNEL_OR_PROGRAM_NAME,START_DATE,END_DATE,"
            "AGGREGATE_TUNING_HOURS",
        )
        rows = {line.split(",")[2]: line.split(",")[-1] for line in lines[1:]}
        # /stream: only b (30 s, unknown country; a is in France): 0.01 h.
        self.assertEqual(rows, {"/stream": "0.01", "/jazz": "2.00"})

    @asynchronous
    async def test_bad_requests(self) -> None:
        """
        A range backwards, an unknown mount, a bad grain or month, and a
        station without a store each get a clear JSON error.
        """
        for query, status in [
            ("?from=2026-11-03&to=2026-11-02", 400),
            ("?mount=nowhere", 404),
            ("?by=week", 400),
            ("?from=yesterday", 400),
            ("?report=ath&month=2026-13", 400),
        ]:
            reply = await self.get(query)
            self.assertEqual(reply.status, status, query)
            self.assertIn("error", json.loads(reply.body))
        self.store = None
        reply = await self.get("")
        self.assertEqual(reply.status, 503)


class ParseMomentTests(TestCase):
    """
    L{parse_moment} reads dates, local times and Unix seconds.
    """

    def test_forms(self) -> None:
        self.assertEqual(parse_moment("2026-11-02", UTC), DAY)
        self.assertEqual(parse_moment("2026-11-02T10:00", UTC), at(10))
        self.assertEqual(parse_moment(str(at(10)), UTC), at(10))
        self.assertRaises(ValueError, parse_moment, "-5", UTC)
        self.assertRaises(ValueError, parse_moment, "soon", UTC)
