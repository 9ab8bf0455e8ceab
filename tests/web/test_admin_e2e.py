"""
End-to-end tests of the admin interface: the real station on a loopback
port, a listener and admin requests over real sockets.
"""

from __future__ import annotations

import base64
import json
import os
import re
import shutil
from typing import Any

from twisted.internet import reactor as _reactor
from twisted.internet.defer import Deferred
from twisted.internet.endpoints import TCP4ClientEndpoint, connectProtocol
from twisted.internet.interfaces import IReactorCore, IReactorTCP
from twisted.internet.protocol import Protocol
from twisted.python.failure import Failure
from twisted.trial.unittest import TestCase

from radiod.broadcast.mount import Mount
from radiod.config import MountConfig, StationConfig
from radiod.runner import thread_runner
from radiod.station.service import StationService
from radiod.testing import Reply, parse_reply
from tests.support.loopback import FIXTURES, Reader, asynchronous, wait_for

reactor: Any = _reactor

ADMIN_PASSWORD = "e2e-Adm1n"
FIRST = "alpha-artist-first-song.mp3"
SECOND = "beta-artist-second-song.mp3"


class OneShot(Protocol):
    """
    Sends one request and collects the whole reply, until the server
    closes the connection.
    """

    def __init__(self, request: bytes) -> None:
        self.request = request
        self.data = b""
        self.done: Deferred[bytes] = Deferred()

    def connectionMade(self) -> None:
        assert self.transport is not None
        self.transport.write(self.request)

    def dataReceived(self, data: bytes) -> None:
        self.data += data

    def connectionLost(self, reason: Failure = Failure(ConnectionError())) -> None:  # noqa: B008
        self.done.callback(self.data)


class AdminEndToEndTests(TestCase):
    """
    The admin interface of a station started as in production.
    """

    timeout = 60

    async def start_station(self) -> tuple[int, Mount]:
        """
        Start a station playing the two fixture songs on a free loopback
        port, with an admin password.

        @return: the port and the mount.
        """
        music = os.path.abspath(self.mktemp())
        os.makedirs(music)
        for name in (FIRST, SECOND):
            shutil.copy(os.path.join(FIXTURES, name), music)
        config = StationConfig(
            port=0,
            interface="127.0.0.1",
            mounts=(MountConfig(name="/stream", music=music, station_name="Admin FM"),),
            admin_password=ADMIN_PASSWORD,
            state_dir=os.path.abspath(self.mktemp()),
        )
        core: IReactorCore = reactor
        service = StationService(config, reactor, thread_runner(core, reactor.getThreadPool()))
        service.startService()
        self.addCleanup(service.stopService)
        port = await service.listener.listening
        address: Any = port.getHost()
        return address.port, service.mounts["/stream"]

    async def send(
        self, port: int, method: str, target: str, body: bytes = b"", password: str = ADMIN_PASSWORD
    ) -> Reply:
        """
        Send one request with the admin user and C{password}; return the
        reply.
        """
        token = base64.b64encode(f"admin:{password}".encode()).decode()
        head = f"{method} {target} HTTP/1.0\r\nAuthorization: Basic {token}\r\n"
        if body:
            head += f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
        client = OneShot(head.encode() + b"\r\n" + body)
        tcp: IReactorTCP = reactor
        await connectProtocol(TCP4ClientEndpoint(tcp, "127.0.0.1", port), client)
        return parse_reply(await client.done)

    async def listen(self, port: int) -> Reader:
        """
        Connect a listener that says who it is.
        """
        request = b"GET /stream HTTP/1.0\r\nUser-Agent: E2E-Listener/1.0\r\n\r\n"
        reader = Reader(request, reactor)
        tcp: IReactorTCP = reactor
        await connectProtocol(TCP4ClientEndpoint(tcp, "127.0.0.1", port), reader)
        self.addCleanup(lambda: reader.transport.loseConnection() if reader.transport else None)
        return reader

    @asynchronous
    async def test_list_skip_queue_kill(self) -> None:
        """
        Over real sockets: a listener is listed with its user agent and
        id; a skip changes the track on the air; a queued track is placed
        first; wrong credentials are refused; and killing the listener
        closes its connection.
        """
        port, mount = await self.start_station()
        reader = await self.listen(port)
        await wait_for(lambda: len(mount.listeners) == 1, 10, reactor)
        await wait_for(lambda: mount.now_playing is not None, 10, reactor)
        (listener,) = mount.listeners

        listing = await self.send(port, "GET", "/admin/listclients?mount=/stream")
        self.assertEqual(listing.status, 200)
        self.assertEqual(listing.headers["content-type"], "text/xml; charset=utf-8")
        self.assertIn(b"<UserAgent>E2E-Listener/1.0</UserAgent>", listing.body)
        self.assertIn(f"<ID>{listener.id}</ID>".encode(), listing.body)
        self.assertIn(b"<IP>127.0.0.1</IP>", listing.body)

        refused = await self.send(port, "GET", "/admin/listclients?mount=/stream", password="no")
        self.assertEqual(refused.status, 401)

        assert mount.now_playing is not None
        before = os.path.basename(mount.now_playing.path)
        skipped = await self.send(port, "POST", "/api/v1/admin/skip", b'{"mount": "/stream"}')
        self.assertEqual(skipped.status, 200, skipped.body)
        document = json.loads(skipped.body)
        self.assertEqual(document["skipped"]["path"], before)
        after = document["next"]["path"]
        self.assertNotEqual(after, before)
        await wait_for(
            lambda: (
                mount.now_playing is not None and os.path.basename(mount.now_playing.path) == after
            ),
            5,
            reactor,
        )

        queued = await self.send(
            port, "POST", "/api/v1/admin/queue", b'{"path": "' + FIRST.encode() + b'"}'
        )
        self.assertEqual(queued.status, 200, queued.body)
        self.assertEqual(json.loads(queued.body)["position"], 1)

        killed = await self.send(port, "GET", f"/admin/killclient?mount=/stream&id={listener.id}")
        self.assertEqual(killed.status, 200)
        self.assertTrue(
            re.search(rb"<message>Client \d+ removed</message><return>1</return>", killed.body)
        )
        await reader.gone
        await wait_for(lambda: not mount.listeners, 5, reactor)
