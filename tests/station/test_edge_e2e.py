"""
End-to-end test of edges: an origin and two edges as separate twistd
processes on loopback ports, real listeners, and ffmpeg following a
redirect.
"""

from __future__ import annotations

import json
import os
import shutil
import signal

from twisted.internet.defer import Deferred
from twisted.internet.endpoints import TCP4ClientEndpoint, connectProtocol
from twisted.trial.unittest import TestCase

from tests.ingest.test_live_e2e import run
from tests.station.test_signals import PATIENCE, Twistd, free_port, twistd
from tests.support.loopback import (
    FIRST,
    FIXTURES,
    SECOND,
    Reader,
    asynchronous,
    reactor,
    wait_for,
)
from tests.support.tools import require_ffmpeg


class EdgeEndToEndTests(TestCase):
    """
    Two edges mirror an origin; the first takes one listener and sends
    the next to the second.
    """

    timeout = 300

    def start(self, work: str, *arguments: str) -> Twistd:
        os.makedirs(work, exist_ok=True)
        station, process = twistd(work, *arguments)

        async def stop() -> None:
            if not station.ended.called:
                process.signalProcess(signal.SIGTERM)
                await station.ended

        self.addCleanup(stop)
        return station

    async def listen(self, port: int, path: str = "/stream", titles: bool = False) -> Reader:
        """
        A listener, once the station answers (it may still be starting).
        """
        deadline = reactor.seconds() + PATIENCE
        while True:
            metadata = "Icy-MetaData: 1\r\n" if titles else ""
            reader = Reader(f"GET {path} HTTP/1.0\r\n{metadata}\r\n".encode(), reactor)
            try:
                await connectProtocol(TCP4ClientEndpoint(reactor, "127.0.0.1", port), reader)
            except Exception:
                if reactor.seconds() > deadline:
                    raise
                pause: Deferred[None] = Deferred()
                reactor.callLater(0.2, pause.callback, None)
                await pause
                continue
            return await self._answered(reader)

    async def _answered(self, reader: Reader) -> Reader:
        self.addCleanup(lambda: reader.transport.loseConnection() if reader.transport else None)
        await wait_for(
            lambda: bool(reader.capture.status_line) or reader.gone.called, PATIENCE, reactor
        )
        return reader

    async def relaying(self, port: int) -> bool:
        """
        Whether the edge's C{/stream} is the origin's (a live-only mount
        with no source until asked for).
        """
        reader = await self.listen(port, "/api/v1/status")
        await reader.gone
        mounts = json.loads(bytes(reader.capture.audio))["mounts"]
        return any(m["name"] == "/stream" and m["source"] in ("none", "relay") for m in mounts)

    async def status(self, port: int) -> dict[str, int]:
        """
        Each mount's listeners, from C{/api/v1/status}.
        """
        reader = await self.listen(port, "/api/v1/status")
        await reader.gone
        document = json.loads(bytes(reader.capture.audio))
        return {mount["name"]: mount["listeners"] for mount in document["mounts"]}

    @asynchronous
    async def test_redirected_when_full(self) -> None:
        """
        A listener on an edge hears the origin's programme; with the edge
        full, the next is sent to the other edge (C{302}), where ffmpeg
        plays it; the origin sees one connection per edge.
        """
        require_ffmpeg()
        root = os.path.abspath(self.mktemp())
        music = os.path.join(root, "music")
        os.makedirs(music)
        for name in ("alpha-artist-first-song.mp3", "beta-artist-second-song.mp3"):
            shutil.copy(os.path.join(FIXTURES, name), music)
        origin, first, second = free_port(), free_port(), free_port()
        self.start(os.path.join(root, "origin"), "--port", str(origin), "--music", music)
        full = f'max_listeners = 1\nredirect_when_full = ["http://127.0.0.1:{second}"]\n'
        for name, port, extra in (("edge2", second, ""), ("edge1", first, full)):
            work = os.path.join(root, name)
            os.makedirs(work)
            with open(os.path.join(work, "radiod.toml"), "w") as config:
                config.write(
                    f'[server]\nport = {port}\ninterface = "127.0.0.1"\n'
                    f'origin = "http://127.0.0.1:{origin}"\n{extra}'
                )
            self.start(work, "--config", "radiod.toml")

        async def mirrored(port: int) -> bool:
            return (await self.status(port)).get("/stream") == 0 and await self.relaying(port)

        for port in (first, second):
            deadline = reactor.seconds() + PATIENCE
            while not await mirrored(port):
                self.assertLess(reactor.seconds(), deadline, "the edge never mirrored /stream")
        listener = await self.listen(first, titles=True)
        self.assertIn(" 200 ", listener.capture.status_line)
        await wait_for(lambda: len(listener.capture.audio) > 32000, PATIENCE, reactor)
        heard = {title for _, title in listener.capture.titles}
        self.assertTrue(heard & {FIRST, SECOND}, heard)
        turned = await self.listen(first)
        await turned.gone
        self.assertIn("302", str(turned.capture.status_line))
        url = f"http://127.0.0.1:{first}/stream"
        quiet = ["-hide_banner", "-nostdin", "-v", "error"]
        code, log = await run([*quiet, "-i", url, "-t", "5", "-f", "null", "-"])
        self.assertEqual((code, log), (0, ""))
        await wait_for(lambda: len(listener.capture.audio) > 96000, PATIENCE, reactor)
        counts = await self.status(origin)
        self.assertEqual(counts["/stream"], 2)
