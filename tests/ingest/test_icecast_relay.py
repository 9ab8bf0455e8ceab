"""
Interoperability with a real Icecast 2: Icecast relaying a radiod mount,
and radiod relaying an Icecast mount.
"""

from __future__ import annotations

import os
import shutil
from typing import Any, cast

from twisted.internet.endpoints import TCP4ClientEndpoint, connectProtocol
from twisted.internet.error import ConnectionRefusedError
from twisted.internet.task import deferLater
from twisted.trial.unittest import TestCase

from radiod.audio.frames import parse_header
from radiod.config import MountConfig, StationConfig
from radiod.runner import thread_runner
from radiod.station.service import StationService
from tests.outbound import test_relay as test_relayout
from tests.support.loopback import FIRST, FIXTURES, SECOND, Reader, asynchronous, reactor, wait_for
from tests.support.tools import require_tool

RELAY_XML = """\
  <relay>
    <server>127.0.0.1</server>
    <port>{port}</port>
    <mount>/stream</mount>
    <local-mount>/copy</local-mount>
    <relay-shoutcast-metadata>1</relay-shoutcast-metadata>
    <on-demand>0</on-demand>
  </relay>
"""


def frame_run(audio: bytes | bytearray) -> int:
    """
    Count the consecutive MP3 frames found from the first frame header in
    the first 4096 bytes of C{audio}; a relay may start mid-frame.

    @return: the number of frames in that run, 0 if none starts there.
    """
    best = 0
    for start in range(min(4096, len(audio))):
        offset, count = start, 0
        while (header := parse_header(audio, offset)) is not None and (
            offset + header.length <= len(audio)
        ):
            offset += header.length
            count += 1
        if count >= 3:
            return count
        best = max(best, count)
    return best


class IcecastRelayTests(TestCase):
    """
    radiod and a real Icecast 2 relaying each other's streams.
    """

    timeout = 30

    def setUp(self) -> None:
        require_tool("icecast2", shutil.which("icecast2"), "apt-get install icecast2")

    async def start_icecast(self, password: str, extra: str = "") -> int:
        """
        Run Icecast as L{tests.outbound.test_relay.IcecastTests.start_icecast}
        does, with C{extra}
        added to the end of its configuration.

        @param password: the source and admin password.
        @param extra: XML elements to add inside C{<icecast>}.
        @return: Icecast's port.
        """
        xml = test_relayout.ICECAST_XML.replace("</icecast>", extra + "</icecast>")
        self.patch(test_relayout, "ICECAST_XML", xml)
        return await test_relayout.IcecastTests.start_icecast(
            cast(test_relayout.IcecastTests, self), password
        )

    def music(self, name: str) -> str:
        """
        A fresh folder holding only the fixture C{name}.
        """
        folder: str = self.mktemp()
        os.makedirs(folder)
        shutil.copy(os.path.join(FIXTURES, name), folder)
        return folder

    async def start_station(self, mount: MountConfig) -> tuple[StationService, int]:
        """
        Start a station with the single mount C{mount} on a free loopback
        port.

        @return: the service and its port.
        """
        config = StationConfig(port=0, interface="127.0.0.1", mounts=(mount,))
        service = StationService(config, reactor, thread_runner(reactor, reactor.getThreadPool()))
        service.startService()
        self.addCleanup(lambda: service.stopService() if service.running else None)
        address: Any = (await service.listener.listening).getHost()
        return service, int(address.port)

    async def listen(self, port: int, path: str) -> Reader:
        """
        Connect a listener asking for ICY metadata to C{path} on C{port}.
        """
        request = f"GET {path} HTTP/1.0\r\nIcy-MetaData: 1\r\n\r\n".encode("ascii")
        reader = Reader(request, reactor)
        await connectProtocol(TCP4ClientEndpoint(reactor, "127.0.0.1", port), reader)
        self.addCleanup(lambda: reader.transport.loseConnection() if reader.transport else None)
        return reader

    async def try_listen(self, port: int, path: str) -> Reader | None:
        """
        Connect a listener with L{listen} and wait until it is answered or
        disconnected.

        @return: the listener, or C{None} if the connection was refused.
        """
        try:
            reader = await self.listen(port, path)
        except ConnectionRefusedError:
            return None
        capture = reader.capture
        await wait_for(lambda: reader.gone.called or bool(capture.status_line), 5, reactor)
        return reader

    @asynchronous
    async def test_icecast_relays_radiod(self) -> None:
        """
        Icecast, configured with a C{<relay>} pulling radiod's C{/stream}
        into its local mount C{/copy}, serves radiod's audio there with
        radiod's title as the ICY title.
        """
        mount = MountConfig(name="/stream", music=self.music("alpha-artist-first-song.mp3"))
        _, radiod_port = await self.start_station(mount)
        ice_port = await self.start_icecast("relay-pw", RELAY_XML.format(port=radiod_port))
        deadline = reactor.seconds() + 10
        reader = await self.try_listen(ice_port, "/copy")
        while reactor.seconds() < deadline:
            if reader is not None and "200" in reader.capture.status_line:
                break
            await deferLater(reactor, 0.5)
            reader = await self.try_listen(ice_port, "/copy")
        assert reader is not None, "Icecast never accepted a connection"
        capture = reader.capture
        self.assertIn("200 OK", capture.status_line)
        await wait_for(lambda: bool(capture.titles) and len(capture.audio) > 20000, 10, reactor)
        self.assertEqual(capture.titles[0][1], FIRST)
        self.assertGreaterEqual(frame_run(capture.audio), 20)

    @asynchronous
    async def test_radiod_relays_icecast(self) -> None:
        """
        A radiod mount relaying Icecast's C{/live}, itself fed by another
        radiod's C{push_to}, plays the pushing station's audio and title
        instead of its own fallback music.
        """
        password = "live-pw"
        ice_port = await self.start_icecast(password)
        target = f"http://source:{password}@127.0.0.1:{ice_port}/live"
        first = MountConfig(
            name="/stream", music=self.music("alpha-artist-first-song.mp3"), push_to=(target,)
        )
        pushing, _ = await self.start_station(first)
        relay_out = pushing.relays_out[0]
        await wait_for(lambda: relay_out.connection is not None, 15, reactor)
        await test_relayout.wait_for_icecast_title(ice_port, "/live", password, 5)

        second = MountConfig(
            name="/stream",
            music=self.music("beta-artist-second-song.mp3"),
            metaint=2000,
            burst_size=0,
            relay=f"http://127.0.0.1:{ice_port}/live",
        )
        _, port = await self.start_station(second)
        reader = await self.listen(port, "/stream")
        capture = reader.capture

        def titles() -> list[str]:
            return [title for _, title in capture.titles]

        await wait_for(lambda: FIRST in titles(), 10, reactor)
        await wait_for(lambda: len(capture.audio) > 20000, 5, reactor)
        self.assertIn("200 OK", capture.status_line)
        self.assertNotIn(SECOND, titles()[titles().index(FIRST) :])
        self.assertGreaterEqual(frame_run(bytes(capture.audio)), 20)
