"""
End-to-end test of the status and metrics endpoints: the real station on a
loopback port, asked over real sockets while a listener is connected, and
its play history kept across a restart.
"""

from __future__ import annotations

import json
import os
import shutil
from typing import Any

from prometheus_client.parser import text_string_to_metric_families
from twisted.internet import reactor as _reactor
from twisted.internet.endpoints import TCP4ClientEndpoint, connectProtocol
from twisted.internet.interfaces import IReactorCore, IReactorTCP
from twisted.trial.unittest import TestCase

from radiod.config import MountConfig, StationConfig
from radiod.runner import thread_runner
from radiod.station.service import StationService
from radiod.testing import ListenerCapture
from tests.support.loopback import FIRST, FIXTURES, Reader, asynchronous, wait_for

reactor: Any = _reactor


class MonitoringEndToEndTests(TestCase):
    """
    The endpoints of a running station, asked by real clients.
    """

    timeout = 60

    async def start_station(self, music: str, state: str) -> tuple[StationService, int]:
        """
        Start a station playing C{music} on a free loopback port, keeping
        its state in C{state}; wait until it plays.

        @return: the service and its port.
        """
        mount = MountConfig(name="/stream", music=music, station_name="E2E FM")
        config = StationConfig(port=0, interface="127.0.0.1", mounts=(mount,), state_dir=state)
        core: IReactorCore = reactor
        service = StationService(config, reactor, thread_runner(core, reactor.getThreadPool()))
        service.startService()
        self.addCleanup(lambda: service.stopService() if service.running else None)
        port = await service.listener.listening
        address: Any = port.getHost()
        stream = service.mounts["/stream"]
        await wait_for(lambda: stream.now_playing is not None, 10, reactor)
        return service, address.port

    async def connect(self, port: int, request: bytes) -> Reader:
        """
        Send C{request} on a new connection; the reader of the reply.
        """
        reader = Reader(request, reactor)
        tcp: IReactorTCP = reactor
        await connectProtocol(TCP4ClientEndpoint(tcp, "127.0.0.1", port), reader)
        self.addCleanup(lambda: reader.transport.loseConnection() if reader.transport else None)
        return reader

    async def fetch(self, port: int, target: str) -> ListenerCapture:
        """
        GET C{target} and wait for the whole reply (the server closes).
        """
        request = f"GET {target} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n".encode()
        reader = await self.connect(port, request)
        await reader.gone
        return reader.capture

    async def metrics(self, port: int) -> dict[str, float]:
        """
        The C{/stream} samples of a scrape, by name.
        """
        reply = await self.fetch(port, "/metrics")
        self.assertTrue(reply.headers["content-type"].startswith("text/plain"))
        found = {}
        for family in text_string_to_metric_families(bytes(reply.audio).decode()):
            for sample in family.samples:
                if sample.labels.get("mount") == "/stream":
                    found[sample.name] = sample.value
        return found

    @asynchronous
    async def test_endpoints_and_history(self) -> None:
        """
        With a listener connected, every endpoint counts it and names the
        track playing; the metrics count it in and out; the history
        written when the station stops is shown by the next station.
        """
        music = self.mktemp()
        os.makedirs(music)
        for name in ("alpha-artist-first-song.mp3", "beta-artist-second-song.mp3"):
            shutil.copy(os.path.join(FIXTURES, name), music)
        state = os.path.abspath(self.mktemp())
        service, port = await self.start_station(music, state)
        mount = service.mounts["/stream"]
        listener = await self.connect(port, b"GET /stream HTTP/1.0\r\n\r\n")
        await wait_for(lambda: len(mount.listeners) == 1, 10, reactor)

        reply = await self.fetch(port, "/status-json.xsl")
        self.assertEqual(reply.status_line, "HTTP/1.0 200 OK")
        self.assertEqual(reply.headers["content-type"], "application/json; charset=utf-8")
        source = json.loads(bytes(reply.audio))["icestats"]["source"]
        self.assertEqual(source["listeners"], 1)
        self.assertEqual(source["server_name"], "E2E FM")
        self.assertEqual(source["listenurl"], f"http://127.0.0.1:{port}/stream")
        self.assertEqual(f"{source['artist']} - {source['title']}", FIRST)

        reply = await self.fetch(port, "/api/v1/status")
        stream = json.loads(bytes(reply.audio))["mounts"][0]
        self.assertEqual(stream["listeners"], 1)
        self.assertEqual(stream["source"], "playlist")
        self.assertEqual(stream["now_playing"]["title"], "First Song")
        self.assertEqual(stream["next_up"]["title"], "Second Song")

        reply = await self.fetch(port, "/7.html")
        self.assertTrue(bytes(reply.audio).startswith(b"<html><body>1,1,1,0,1,"))

        found = await self.metrics(port)
        self.assertEqual(found["radiod_listeners"], 1.0)
        self.assertEqual(found["radiod_listener_connections_total"], 1.0)
        self.assertEqual(found["radiod_track_changes_total"], 1.0)
        assert listener.transport is not None
        listener.transport.loseConnection()
        await wait_for(lambda: not mount.listeners, 10, reactor)
        found = await self.metrics(port)
        self.assertEqual(found["radiod_listeners"], 0.0)
        self.assertEqual(found["radiod_listener_disconnections_total"], 1.0)
        self.assertGreater(found["radiod_sent_bytes_total"], 0.0)

        await service.stopService()
        with open(os.path.join(state, "history.json"), "rb") as f:
            saved = json.load(f)["mounts"]["/stream"]
        self.assertEqual([entry["title"] for entry in saved], ["First Song"])

        again, port = await self.start_station(music, state)
        reply = await self.fetch(port, "/api/v1/status")
        history = json.loads(bytes(reply.audio))["mounts"][0]["history"]
        self.assertEqual([entry["title"] for entry in history], ["First Song", "First Song"])
        self.assertGreaterEqual(history[0]["started_at"], history[1]["started_at"])
