"""
Tests for L{radiod.wire.aliases}: the rewriting itself, and a real station
answering aliased paths with its stream and its site.
"""

from __future__ import annotations

import json
import os
import shutil
from typing import Any

from twisted.internet import reactor as _reactor
from twisted.internet.endpoints import TCP4ClientEndpoint, connectProtocol
from twisted.internet.interfaces import IReactorCore
from twisted.trial.unittest import SynchronousTestCase, TestCase

from radiod.config import MountConfig, StationConfig
from radiod.request import RequestParser
from radiod.runner import thread_runner
from radiod.station.service import StationService
from radiod.wire.aliases import alias_map, rewrite
from tests.support.loopback import FIXTURES, Reader, asynchronous, wait_for

reactor: Any = _reactor


def parse(raw: bytes) -> Any:
    request = RequestParser().feed(raw)
    assert request is not None
    return request


class RewriteTests(SynchronousTestCase):
    """
    L{rewrite} and L{alias_map}.
    """

    aliases = alias_map(["/=/status.xsl", "/radio=/stream", "/old=/new page"])

    def test_map(self) -> None:
        """
        Each entry maps the asked path to the answered one.
        """
        self.assertEqual(
            self.aliases, {"/": "/status.xsl", "/radio": "/stream", "/old": "/new page"}
        )

    def test_rewritten(self) -> None:
        """
        An aliased path is asked for as its answer: the parsed request and
        its request line both, the query and the headers kept.
        """
        raw = b"GET /radio?x=1 HTTP/1.1\r\nHost: a\r\nIcy-MetaData: 1\r\n\r\n"
        request, rewritten = rewrite(parse(raw), raw, self.aliases)
        self.assertEqual((request.path, request.target), ("/stream", "/stream?x=1"))
        self.assertEqual(request.query, {"x": ["1"]})
        self.assertTrue(request.wants_metadata)
        self.assertEqual(
            rewritten, b"GET /stream?x=1 HTTP/1.1\r\nHost: a\r\nIcy-MetaData: 1\r\n\r\n"
        )
        self.assertEqual(parse(rewritten).path, "/stream")

    def test_quoted(self) -> None:
        """
        An answered path with characters a target cannot hold is quoted
        in the request line, and kept as it is in the parsed path.
        """
        raw = b"GET /old HTTP/1.0\r\n\r\n"
        request, rewritten = rewrite(parse(raw), raw, self.aliases)
        self.assertEqual(request.path, "/new page")
        self.assertEqual(rewritten, b"GET /new%20page HTTP/1.0\r\n\r\n")
        self.assertEqual(parse(rewritten).path, "/new page")

    def test_exact(self) -> None:
        """
        Only the asked path itself is rewritten, not paths under it, and
        an answer is not rewritten again.
        """
        for raw in (b"GET /radio/x HTTP/1.0\r\n\r\n", b"GET /stream HTTP/1.0\r\n\r\n"):
            request = parse(raw)
            self.assertEqual(rewrite(request, raw, self.aliases), (request, raw))
        chained = alias_map(["/a=/b", "/b=/c"])
        raw = b"GET /a HTTP/1.0\r\n\r\n"
        self.assertEqual(rewrite(parse(raw), raw, chained)[0].path, "/b")


class StationAliasTests(TestCase):
    """
    A station answers an aliased path with what is at its answer: a
    mount's stream, or a page of its site.
    """

    timeout = 60

    async def start(self, config: StationConfig) -> int:
        core: IReactorCore = reactor
        service = StationService(config, reactor, thread_runner(core, reactor.getThreadPool()))
        service.startService()
        self.addCleanup(service.stopService)
        return (await service.listener.listening).getHost().port  # type: ignore[attr-defined,no-any-return]

    async def get(self, port: int, path: str) -> Reader:
        reader = Reader(f"GET {path} HTTP/1.0\r\nIcy-MetaData: 1\r\n\r\n".encode(), reactor)
        await connectProtocol(TCP4ClientEndpoint(reactor, "127.0.0.1", port), reader)
        self.addCleanup(lambda: reader.transport.loseConnection() if reader.transport else None)
        return reader

    @asynchronous
    async def test_stream_and_page(self) -> None:
        """
        C{/radio} streams the mount C{/stream}; C{/} answers with Icecast's
        JSON status, as C{/status-json.xsl} would.
        """
        music = str(self.mktemp())
        os.makedirs(music)
        shutil.copy(os.path.join(FIXTURES, "alpha-artist-first-song.mp3"), music)
        config = StationConfig(
            port=0,
            interface="127.0.0.1",
            aliases=("/radio=/stream", "/=/status-json.xsl"),
            mounts=(MountConfig(name="/stream", music=music),),
        )
        port = await self.start(config)
        stream = await self.get(port, "/radio")
        await wait_for(lambda: len(stream.capture.audio) > 10000, 10, reactor)
        self.assertEqual(stream.capture.status_line, "HTTP/1.0 200 OK")
        self.assertEqual(stream.capture.headers["icy-metaint"], "16000")
        page = await self.get(port, "/")
        await page.gone
        self.assertEqual(page.capture.status_line, "HTTP/1.0 200 OK")
        status = json.loads(bytes(page.capture.audio))
        self.assertEqual(status["icestats"]["source"]["listenurl"].rsplit("/", 1)[1], "stream")
