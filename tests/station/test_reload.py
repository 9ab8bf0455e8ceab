"""
Tests for reloading the configuration (L{StationService.reload}): a real
station on a loopback port, real listeners, and a new configuration
applied while they listen.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import replace
from typing import Any

from twisted.internet import reactor as _reactor
from twisted.internet.endpoints import TCP4ClientEndpoint, connectProtocol
from twisted.internet.interfaces import IReactorCore
from twisted.logger import capturedLogs
from twisted.trial.unittest import TestCase

from radiod.config import MountConfig, StationConfig
from radiod.runner import thread_runner
from radiod.station.service import StationService
from tests.support.loopback import FIXTURES, Reader, asynchronous, wait_for

reactor: Any = _reactor


class ReloadTests(TestCase):
    """
    A new configuration applies without dropping listeners of mounts that
    stay.
    """

    timeout = 60

    def music(self) -> str:
        folder = str(self.mktemp())
        os.makedirs(folder)
        for name in ("alpha-artist-first-song.mp3", "beta-artist-second-song.mp3"):
            shutil.copy(os.path.join(FIXTURES, name), folder)
        return folder

    async def start(self, config: StationConfig) -> tuple[StationService, int]:
        core: IReactorCore = reactor
        service = StationService(config, reactor, thread_runner(core, reactor.getThreadPool()))
        service.startService()
        self.addCleanup(service.stopService)
        port = (await service.listener.listening).getHost().port  # type: ignore[attr-defined]
        return service, port

    async def listen(self, port: int, path: str) -> Reader:
        reader = Reader(f"GET {path} HTTP/1.0\r\nIcy-MetaData: 1\r\n\r\n".encode(), reactor)
        await connectProtocol(TCP4ClientEndpoint(reactor, "127.0.0.1", port), reader)
        self.addCleanup(lambda: reader.transport.loseConnection() if reader.transport else None)
        return reader

    @asynchronous
    async def test_reload(self) -> None:
        """
        Changed settings reach new listeners while existing ones keep
        playing; a new mount serves at once; a removed mount's listeners
        are closed cleanly (or kept where its fallback put them); the port
        stays, with a warning.
        """
        music = self.music()
        stream = MountConfig(name="/stream", music=music, station_name="Old Name", metaint=2000)
        extra = MountConfig(name="/extra", music=music)
        live = MountConfig(name="/live", live_only=True, fallback="/stream")
        config = StationConfig(port=0, interface="127.0.0.1", mounts=(stream, extra, live))
        service, port = await self.start(config)

        staying = await self.listen(port, "/stream")
        removed = await self.listen(port, "/extra")
        fallen = await self.listen(port, "/live")
        await wait_for(
            lambda: all(r.capture.audio for r in (staying, removed, fallen)), 10, reactor
        )
        self.assertEqual(staying.capture.headers["icy-name"], "Old Name")

        added = MountConfig(name="/added", music=music, station_name="Added")
        new = replace(
            config,
            port=9999,
            mounts=(replace(stream, station_name="New Name", metaint=4000), added),
        )
        with capturedLogs() as events:
            service.reload(new)
        self.assertTrue(any("restart" in e.get("log_format", "") for e in events))
        self.assertEqual(service.config.port, 0)
        self.assertEqual(list(service.factory.mounts), ["/stream", "/added"])

        await removed.gone
        before = staying.received
        await wait_for(lambda: staying.received > before + 20000, 10, reactor)
        self.assertFalse(staying.gone.called)
        self.assertFalse(fallen.gone.called)
        self.assertEqual(len(service.mounts["/stream"].listeners), 2)

        renamed = await self.listen(port, "/stream")
        await wait_for(lambda: bool(renamed.capture.headers), 10, reactor)
        self.assertEqual(renamed.capture.headers["icy-name"], "New Name")
        self.assertEqual(renamed.capture.headers["icy-metaint"], "4000")
        # The first listener goes on with the interval it was told.
        self.assertEqual(staying.capture.headers["icy-metaint"], "2000")
        self.assertEqual(staying.capture.titles[-1][0] % 2000, 0)

        newcomer = await self.listen(port, "/added")
        await wait_for(lambda: len(newcomer.capture.audio) > 10000, 10, reactor)
        self.assertEqual(newcomer.capture.headers["icy-name"], "Added")
        gone = await self.listen(port, "/extra")
        await gone.gone
        self.assertTrue(gone.capture.status_line.startswith("HTTP/1.0 404"))

    @asynchronous
    async def test_music_changes(self) -> None:
        """
        A mount whose music changes plays the new music from the next
        frame, without dropping its listener; a mount that becomes
        live-only sends its listeners to its fallback.
        """
        music = self.music()
        other = self.mktemp()
        os.makedirs(other)
        shutil.copy(os.path.join(FIXTURES, "tone-mpeg1-44100-128k-cbr.mp3"), other)
        stream = MountConfig(name="/stream", music=music, metaint=2000)
        second = MountConfig(name="/second", music=music, metaint=2000)
        config = StationConfig(port=0, interface="127.0.0.1", mounts=(stream, second))
        service, port = await self.start(config)
        listener = await self.listen(port, "/stream")
        leaving = await self.listen(port, "/second")
        await wait_for(lambda: bool(listener.capture.titles), 10, reactor)

        new = replace(
            config,
            mounts=(
                replace(stream, music=other),
                replace(second, music="", live_only=True, fallback="/stream"),
            ),
        )
        service.reload(new)
        await wait_for(
            lambda: (
                listener.capture.titles[-1][1]
                not in (
                    "Alpha Artist - First Song",
                    "Beta Artist - Second Song",
                )
            ),
            10,
            reactor,
        )
        self.assertFalse(listener.gone.called)
        await wait_for(lambda: len(service.mounts["/stream"].listeners) == 2, 10, reactor)
        self.assertFalse(leaving.gone.called)

    @asynchronous
    async def test_removed_mount_moves_listeners_to_fallback(self) -> None:
        """
        Removing a live-only mount while its show is on air disconnects the
        source and moves the show's listeners to the mount's fallback on
        the same connection.
        """
        music = self.music()
        stream = MountConfig(name="/stream", music=music, metaint=2000)
        live = MountConfig(name="/live", live_only=True, fallback="/stream", metaint=2000)
        config = StationConfig(
            port=0, interface="127.0.0.1", mounts=(stream, live), source_password="pw"
        )
        service, port = await self.start(config)
        with open(os.path.join(FIXTURES, "tone-mpeg1-44100-128k-cbr.mp3"), "rb") as f:
            tone = f.read()
        source = Reader(
            b"PUT /live HTTP/1.1\r\nAuthorization: Basic c291cmNlOnB3\r\n"
            b"Content-Type: audio/mpeg\r\nice-name: The Show\r\n\r\n" + tone,
            reactor,
        )
        await connectProtocol(TCP4ClientEndpoint(reactor, "127.0.0.1", port), source)
        self.addCleanup(lambda: source.transport.loseConnection() if source.transport else None)
        listener = await self.listen(port, "/live")
        await wait_for(lambda: len(service.mounts["/live"].listeners) == 1, 10, reactor)
        await wait_for(
            lambda: any(title == "The Show" for _, title in listener.capture.titles), 10, reactor
        )

        service.reload(replace(config, mounts=(stream,)))
        await source.gone
        self.assertEqual(len(service.mounts["/stream"].listeners), 1)
        await wait_for(lambda: listener.capture.titles[-1][1] != "The Show", 10, reactor)
        self.assertFalse(listener.gone.called)
        self.assertNotIn("/live", service.factory.mounts)
