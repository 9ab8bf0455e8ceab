"""
End-to-end test of relaying: two real stations on loopback ports, one
relaying the other, and a raw socket listening throughout.
"""

from __future__ import annotations

import os
import shutil
from typing import Any

from twisted.internet import reactor as _reactor
from twisted.internet.endpoints import TCP4ClientEndpoint, connectProtocol
from twisted.internet.interfaces import IReactorCore
from twisted.trial.unittest import TestCase

from radiod.config import MountConfig, StationConfig
from radiod.runner import thread_runner
from radiod.station.service import StationService
from tests.support.loopback import FIRST, FIXTURES, SECOND, Reader, asynchronous, wait_for

reactor: Any = _reactor


class RelayEndToEndTests(TestCase):
    """
    A mount relaying another station, with its playlist as the fallback.
    """

    timeout = 60

    def music(self, name: str) -> str:
        """
        A fresh folder holding only the fixture C{name}.
        """
        folder: str = self.mktemp()
        os.makedirs(folder)
        shutil.copy(os.path.join(FIXTURES, name), folder)
        return folder

    async def start(self, config: StationConfig) -> tuple[StationService, int]:
        """
        Start a station; return it and its listener port.
        """
        core: IReactorCore = reactor
        service = StationService(config, reactor, thread_runner(core, reactor.getThreadPool()))
        service.startService()
        self.addCleanup(lambda: service.stopService() if service.running else None)
        port = (await service.listener.listening).getHost().port  # type: ignore[attr-defined]
        return service, port

    @asynchronous
    async def test_relay_falls_back_and_returns(self) -> None:
        """
        A listener of the relaying mount hears the upstream's title, stays
        connected when the upstream stops and hears the fallback playlist,
        then hears the upstream again once it is back on the same port.
        """
        upstream_mount = MountConfig(
            name="/up", music=self.music("beta-artist-second-song.mp3"), metaint=2000, burst_size=0
        )
        upstream_config = StationConfig(port=0, interface="127.0.0.1", mounts=(upstream_mount,))
        upstream, up_port = await self.start(upstream_config)

        relay_mount = MountConfig(
            name="/stream",
            music=self.music("alpha-artist-first-song.mp3"),
            metaint=2000,
            burst_size=0,
            relay=f"http://127.0.0.1:{up_port}/up",
        )
        relaying, port = await self.start(
            StationConfig(port=0, interface="127.0.0.1", mounts=(relay_mount,))
        )
        reader = Reader(b"GET /stream HTTP/1.0\r\nIcy-MetaData: 1\r\n\r\n", reactor)
        await connectProtocol(TCP4ClientEndpoint(reactor, "127.0.0.1", port), reader)
        self.addCleanup(lambda: reader.transport.loseConnection() if reader.transport else None)

        def titles() -> list[str]:
            return [title for _, title in reader.capture.titles]

        await wait_for(lambda: SECOND in titles(), 8, reactor)
        await upstream.stopService()
        await wait_for(lambda: titles()[-1] == FIRST and SECOND in titles()[:-1], 8, reactor)
        self.assertFalse(reader.gone.called)

        back = StationService(
            StationConfig(port=up_port, interface="127.0.0.1", mounts=(upstream_mount,)),
            reactor,
            thread_runner(reactor, reactor.getThreadPool()),
            shoutcast_port=0,
        )
        back.startService()
        self.addCleanup(back.stopService)
        await back.listener.listening
        await wait_for(lambda: titles()[-1] == SECOND, 10, reactor)
        self.assertFalse(reader.gone.called)
        self.assertEqual(len(relaying.mounts["/stream"].listeners), 1)
