"""
End-to-end test of L{radiod.web.nowplaying}: a station's site on a
loopback port, its now-playing document and its live updates read by
real clients over real sockets.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote

from twisted.internet.endpoints import TCP4ClientEndpoint, connectProtocol
from twisted.internet.interfaces import IListeningPort, IReactorTCP
from twisted.internet.protocol import Protocol
from twisted.python.failure import Failure
from twisted.trial.unittest import TestCase

from radiod.audio.track import TrackInfo
from radiod.broadcast.mount import Mount
from radiod.config import MountConfig, StationConfig
from radiod.testing import FakeFrameSource, parse_reply, silent_frame
from radiod.web.nowplaying import LIVE_PATH, NOWPLAYING_PATH
from radiod.web.nowplaying_sse import attach_nowplaying
from radiod.web.tree import station_site
from radiod.wire.server import RadioFactory
from tests.support.loopback import asynchronous, reactor, wait_for
from tests.web.test_admin_e2e import OneShot
from tests.web.test_nowplaying import check_document, messages

ALPHA = TrackInfo("/music/a.mp3", "First Song", "Alpha Artist", "Tests", 1.0)
BETA = TrackInfo("/music/b.mp3", "Second Song", "Beta Artist", "Tests", 1.0)
FRAME = silent_frame()
FRAMES_PER_TRACK = 40  # about a second each


class StreamReader(Protocol):
    """
    Sends one request and keeps everything the server sends, as it
    comes.
    """

    def __init__(self, request: bytes) -> None:
        self.request = request
        self.data = b""
        self.lost = False

    def connectionMade(self) -> None:
        assert self.transport is not None
        self.transport.write(self.request)

    def dataReceived(self, data: bytes) -> None:
        self.data += data

    def connectionLost(self, reason: Failure = Failure(ConnectionError())) -> None:  # noqa: B008
        self.lost = True

    def messages(self) -> list[Any]:
        """
        The complete messages received so far.
        """
        complete = self.data[: self.data.rfind(b"\n\n") + 2]
        return messages(complete) if b"\r\n\r\n" in complete else []


class NowPlayingEndToEndTests(TestCase):
    """
    A station's now playing, asked by real clients.
    """

    timeout = 30

    def start_station(self) -> tuple[RadioFactory, Mount, int]:
        """
        A station whose C{/stream} plays two scripted tracks of about a
        second in turn, its site on a free loopback port.

        @return: its factory, its mount, and the port.
        """
        config = MountConfig(name="/stream", station_name="E2E FM")
        source = FakeFrameSource(
            [(ALPHA, FRAME, FRAMES_PER_TRACK), (BETA, FRAME, FRAMES_PER_TRACK)]
        )
        mount = Mount(config, source, reactor)
        mount.start()
        self.addCleanup(mount.stop)
        factory = RadioFactory(reactor, StationConfig(port=0, mounts=(config,)), {"/stream": mount})
        self.updates = attach_nowplaying(station_site(factory, reactor), factory, reactor)
        self.addCleanup(self.updates.close)
        port: IListeningPort = reactor.listenTCP(0, factory, interface="127.0.0.1")
        self.addCleanup(port.stopListening)
        address: Any = port.getHost()
        return factory, mount, address.port

    async def open(self, port: int, target: str, reader: Protocol) -> None:
        """
        Connect C{reader} to the station and have it ask for C{target}.
        """
        tcp: IReactorTCP = reactor
        await connectProtocol(TCP4ClientEndpoint(tcp, "127.0.0.1", port), reader)

    @asynchronous
    async def test_document_and_updates(self) -> None:
        """
        The station's document, fetched over a real connection, has
        AzuraCast's shape; a live update stream first gets the
        C{connect} reply with the station's state, then a publication
        when the next track starts; once its client leaves, the stream is
        forgotten.
        """
        factory, mount, port = self.start_station()
        await wait_for(lambda: mount.now_playing is not None, 10, reactor)
        host = f"127.0.0.1:{port}"

        once = OneShot(f"GET {NOWPLAYING_PATH}/stream HTTP/1.1\r\nHost: {host}\r\n\r\n".encode())
        await self.open(port, NOWPLAYING_PATH, once)
        reply = parse_reply(await once.done)
        self.assertEqual(reply.status, 200)
        document = json.loads(reply.body)
        check_document(self, document)
        self.assertEqual(document["station"]["listen_url"], f"http://{host}/stream")
        self.assertTrue(document["is_online"])

        connect = quote(json.dumps({"subs": {"station:stream": {"recover": True}}}))
        stream = StreamReader(
            f"GET {LIVE_PATH}?cf_connect={connect} HTTP/1.1\r\nHost: {host}\r\n\r\n".encode()
        )
        await self.open(port, LIVE_PATH, stream)
        await wait_for(lambda: len(stream.messages()) >= 1, 10, reactor)
        head = parse_reply(stream.data)
        self.assertEqual(head.status, 200)
        self.assertEqual(head.headers["content-type"], "text/event-stream; charset=utf-8")
        first = stream.messages()[0]["connect"]["subs"]["station:stream"]["publications"][0]
        playing = first["data"]["np"]["now_playing"]["song"]["title"]

        await wait_for(lambda: len(stream.messages()) >= 2, 10, reactor)
        publication = stream.messages()[1]
        self.assertEqual(publication["channel"], "station:stream")
        data = publication["pub"]["data"]
        self.assertIn("song_changed", data["triggers"])
        check_document(self, data["np"])
        self.assertNotEqual(data["np"]["now_playing"]["song"]["title"], playing)
        self.assertEqual(data["np"]["song_history"][0]["song"]["title"], playing)

        updates = self.updates
        assert stream.transport is not None
        stream.transport.loseConnection()
        # The checks stop with the last stream: trial finds no timer left.
        await wait_for(lambda: not updates.subscriptions, 10, reactor)
