"""
End to end: a listener's session, from its connection to the station's
store and the audience figures.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import sqlite3

from twisted.internet.endpoints import TCP4ClientEndpoint, connectProtocol
from twisted.internet.interfaces import IReactorCore
from twisted.trial.unittest import TestCase

from radiod.audience.databases import DATABASE_FILE
from radiod.config import MountConfig, StationConfig
from radiod.runner import thread_runner
from radiod.station.service import StationService
from tests.audience.test_countries import write_countries
from tests.support.loopback import FIXTURES, Reader, asynchronous, reactor, wait_for
from tests.web.test_admin_e2e import OneShot

PASSWORD = "aud1ence-Adm1n"


class AudienceEndToEndTests(TestCase):
    """
    A station that keeps listener sessions in SQLite in its state folder.
    """

    @asynchronous
    async def test_session_stored(self) -> None:
        """
        A listener who heard the stream and left is one session in the
        store, with its mount, user agent, bytes, a hashed address and
        its country; a listener still connected when the station stops is
        one too; the figures API counts them.
        """
        folder = os.path.abspath(str(self.mktemp()))
        music = os.path.join(folder, "music")
        os.makedirs(music)
        shutil.copy(os.path.join(FIXTURES, "alpha-artist-first-song.mp3"), music)
        state = os.path.join(folder, "state")
        config = StationConfig(
            port=0,
            interface="127.0.0.1",
            mounts=(MountConfig(name="/stream", music=music),),
            state_dir=state,
            admin_password=PASSWORD,
            geoip_database=write_countries(os.path.join(folder, "countries.mmdb")),
        )
        core: IReactorCore = reactor
        service = StationService(config, reactor, thread_runner(core, reactor.getThreadPool()))
        service.startService()
        stopped = False

        async def stop() -> None:
            nonlocal stopped
            if not stopped:
                stopped = True
                await service.stopService()

        self.addCleanup(stop)
        port = (await service.listener.listening).getHost().port  # type: ignore[attr-defined]
        endpoint = TCP4ClientEndpoint(reactor, "127.0.0.1", port)
        request = b"GET /stream HTTP/1.0\r\nUser-Agent: VLC/3.0.20 LibVLC/3.0.20\r\n\r\n"
        first = Reader(request, reactor)
        await connectProtocol(endpoint, first)
        await wait_for(lambda: len(first.capture.audio) > 20000, 30, reactor)
        assert first.transport is not None
        first.transport.loseConnection()
        await first.gone
        store = service.audience
        assert store is not None
        await wait_for(lambda: store.written >= 1, 30, reactor)
        (session,) = await store.sessions(None, 0, reactor.seconds() + 1)
        self.assertEqual((session.mount, session.kind), ("/stream", "icy"))
        self.assertEqual(session.user_agent, "VLC/3.0.20 LibVLC/3.0.20")
        self.assertGreaterEqual(session.bytes, 20000)
        self.assertRegex(session.client, "^[0-9a-f]{32}$")
        # 127.0.0.1 is in France in the test's database.
        self.assertEqual(session.country, "FR")

        token = base64.b64encode(f"admin:{PASSWORD}".encode()).decode()
        head = f"GET /api/v1/stats?by=day HTTP/1.1\r\nHost: x\r\nAuthorization: Basic {token}"
        ask = OneShot((head + "\r\n\r\n").encode())
        await connectProtocol(endpoint, ask)
        reply = await ask.done
        self.assertIn(b" 200 ", reply.partition(b"\r\n")[0])
        document = json.loads(reply.partition(b"\r\n\r\n")[2])
        self.assertEqual(sum(p["peak"] for p in document["station"]["periods"]), 1)

        second = Reader(request, reactor)
        await connectProtocol(endpoint, second)
        await wait_for(lambda: len(second.capture.audio) > 1000, 30, reactor)
        await stop()
        with sqlite3.connect(os.path.join(state, DATABASE_FILE)) as db:
            rows = db.execute("SELECT mount, kind FROM sessions").fetchall()
        self.assertEqual(rows, [("/stream", "icy"), ("/stream", "icy")])
