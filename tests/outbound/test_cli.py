"""
Tests for L{radiod.outbound.cli}: the command line, the push's connection
logic, and an end-to-end push to a real station.
"""

from __future__ import annotations

import os
import shutil
from typing import Any

from twisted.internet import reactor as _reactor
from twisted.internet.defer import Deferred, fail, succeed
from twisted.internet.endpoints import TCP4ClientEndpoint, connectProtocol
from twisted.internet.interfaces import IReactorCore
from twisted.internet.protocol import Protocol
from twisted.internet.task import Clock
from twisted.internet.testing import StringTransport
from twisted.python.failure import Failure
from twisted.trial.unittest import SynchronousTestCase, TestCase

from radiod.config import MountConfig, StationConfig
from radiod.outbound.cli import Pusher, parse_arguments
from radiod.outbound.client import PushError, PushOptions, SourceProtocol
from radiod.runner import thread_runner
from radiod.station.service import StationService
from radiod.testing import read_frames, synchronous_runner
from tests.support.loopback import FIRST, FIXTURES, SECOND, Reader, asynchronous, wait_for

reactor: Any = _reactor

ALPHA = os.path.join(FIXTURES, "alpha-artist-first-song.mp3")
BETA = os.path.join(FIXTURES, "beta-artist-second-song.mp3")
PASSWORD = "push-pw"


def options(**changes: Any) -> PushOptions:
    """
    Push options for C{http://radio.example:8001/live} with C{changes}.
    """
    settings: dict[str, Any] = {
        "url": "http://radio.example:8001/live",
        "location": ALPHA,
        "password": "hackme",
    }
    settings.update(changes)
    return PushOptions(**settings)


class ArgumentTests(SynchronousTestCase):
    """
    Reading the command line.
    """

    def test_arguments(self) -> None:
        """
        The command line fills the options; C{--once} turns looping off.
        """
        parsed = parse_arguments(
            ["--password", "pw", "--once", "--url", "http://home", "http://h:1/m", "music"]
        )
        self.assertEqual(parsed.password, "pw")
        self.assertEqual(parsed.homepage, "http://home")
        self.assertEqual(
            (parsed.url, parsed.location, parsed.loop), ("http://h:1/m", "music", False)
        )
        self.assertTrue(parse_arguments(["--password", "p", "http://h/m", "x"]).loop)


class PusherTests(SynchronousTestCase):
    """
    The push's connection logic, with fake connections and a fake clock.
    """

    def setUp(self) -> None:
        self.clock = Clock()
        self.connections: list[tuple[SourceProtocol, StringTransport]] = []
        self.announced: list[str] = []
        self.unreachable = False

    def connect(self, protocol: Protocol) -> Deferred[Any]:
        if self.unreachable:
            return fail(OSError("no route"))
        assert isinstance(protocol, SourceProtocol)
        transport = StringTransport()
        protocol.makeConnection(transport)
        self.connections.append((protocol, transport))
        return succeed(protocol)

    def announce(self, title: str) -> Deferred[Any]:
        self.announced.append(title)
        return succeed(None)

    def pusher(self, **changes: Any) -> Pusher:
        music = self.mktemp()
        os.makedirs(music)
        shutil.copy(ALPHA, music)
        shutil.copy(BETA, music)
        return Pusher(
            self.clock,
            options(**{"location": music, **changes}),
            synchronous_runner,
            connect=self.connect,
            announce=self.announce,
        )

    def test_streams_after_ok(self) -> None:
        """
        After C{200 OK} the frames due are written and the first title is
        announced; the second comes with the second track.
        """
        pusher = self.pusher()
        pusher.start()
        protocol, transport = self.connections[0]
        self.assertTrue(transport.value().startswith(b"PUT /live HTTP/1.1\r\n"))
        transport.clear()
        protocol.dataReceived(b"HTTP/1.0 200 OK\r\n\r\n")
        self.assertEqual(self.announced, [FIRST])
        first = transport.value()
        self.assertEqual(first[:2], b"\xff\xfb")
        self.clock.pump([0.1] * 35)
        self.assertEqual(self.announced, [FIRST, SECOND])
        self.assertGreater(len(transport.value()), 48000)
        pusher.stop()
        self.assertTrue(transport.disconnecting)
        self.successResultOf(pusher.done)

    def test_refused(self) -> None:
        """
        A 401 ends the push with a clear error naming the cause.
        """
        pusher = self.pusher()
        done = pusher.start()
        protocol, transport = self.connections[0]
        protocol.dataReceived(b"HTTP/1.0 401 Authentication Required\r\n\r\n")
        error = self.failureResultOf(done, PushError).value
        self.assertIn("401", str(error))
        self.assertIn("wrong user name or password", str(error))
        self.assertTrue(transport.disconnecting)
        self.assertEqual(len(self.connections), 1)

    def test_falls_back_to_source(self) -> None:
        """
        A 405 to C{PUT} is retried once as C{SOURCE}; a 405 to that ends
        the push.
        """
        pusher = self.pusher()
        done = pusher.start()
        self.connections[0][0].dataReceived(b"HTTP/1.0 405 Method Not Allowed\r\n\r\n")
        protocol, transport = self.connections[1]
        self.assertTrue(transport.value().startswith(b"SOURCE /live HTTP/1.0\r\n"))
        protocol.dataReceived(b"HTTP/1.0 405 Method Not Allowed\r\n\r\n")
        self.failureResultOf(done, PushError)
        self.assertEqual(len(self.connections), 2)

    def test_reconnects(self) -> None:
        """
        When the server drops an accepted source, the push reconnects
        after a second, then after a growing delay, and re-announces the
        title once accepted again.
        """
        pusher = self.pusher()
        pusher.start()
        protocol, _ = self.connections[0]
        protocol.dataReceived(b"HTTP/1.0 200 OK\r\n\r\n")
        protocol.connectionLost(Failure(ConnectionError()))
        self.assertFalse(pusher.pacer.running)
        self.clock.advance(0.9)
        self.assertEqual(len(self.connections), 1)
        self.clock.advance(0.1)
        self.assertEqual(len(self.connections), 2)
        self.connections[1][0].connectionLost(Failure(ConnectionError()))
        self.clock.advance(1.9)
        self.assertEqual(len(self.connections), 2)
        self.clock.advance(0.1)
        protocol, transport = self.connections[2]
        self.assertTrue(transport.value().startswith(b"PUT /live"))
        protocol.dataReceived(b"HTTP/1.0 200 OK\r\n\r\n")
        self.assertEqual(self.announced, [FIRST, FIRST])
        self.assertTrue(pusher.pacer.running)
        self.assertNoResult(pusher.done)

    def test_once(self) -> None:
        """
        Without looping the push ends after every track has played once.
        """
        pusher = self.pusher(loop=False)
        pusher.start()
        protocol, transport = self.connections[0]
        protocol.dataReceived(b"HTTP/1.0 200 OK\r\n\r\n")
        self.clock.pump([0.1] * 65)
        self.successResultOf(pusher.done)
        self.assertEqual(self.announced, [FIRST, SECOND])
        self.assertTrue(transport.disconnecting)

    def test_missing_location(self) -> None:
        """
        A location that does not exist ends the push with its reason.
        """
        pusher = self.pusher(location=self.mktemp())
        error = self.failureResultOf(pusher.start(), PushError).value
        self.assertIn("does not exist", str(error))
        self.assertEqual(self.connections, [])

    def test_unreachable_at_first(self) -> None:
        """
        A server that cannot be reached before it ever accepted the push
        ends it with the reason, and nothing is retried.
        """
        self.unreachable = True
        pusher = self.pusher()
        error = self.failureResultOf(pusher.start(), PushError).value
        self.assertEqual(str(error), "cannot connect to http://radio.example:8001/live: no route")
        self.assertEqual(self.clock.getDelayedCalls(), [])


class PushEndToEndTests(TestCase):
    """
    radiod-push's library code pushing to a real station on loopback.
    """

    timeout = 30

    async def station(self) -> int:
        """
        Start a station that takes live sources; return its port.
        """
        music = self.mktemp()
        os.makedirs(music)
        shutil.copy(ALPHA, music)
        mount = MountConfig(name="/stream", music=music, station_name="E2E FM", metaint=2000)
        config = StationConfig(
            port=0, interface="127.0.0.1", mounts=(mount,), source_password=PASSWORD
        )
        core: IReactorCore = reactor
        service = StationService(config, reactor, thread_runner(core, reactor.getThreadPool()))
        service.startService()
        self.addCleanup(service.stopService)
        self.service = service
        port: Any = (await service.listener.listening).getHost()
        return int(port.port)

    def pusher(self, port: int, password: str) -> Pusher:
        """
        A push of the two fixture songs, once, to C{/live}.
        """
        music = self.mktemp()
        os.makedirs(music)
        shutil.copy(ALPHA, music)
        shutil.copy(BETA, music)
        core: IReactorCore = reactor
        push = PushOptions(
            url=f"http://127.0.0.1:{port}/live",
            location=music,
            password=password,
            name="Push FM",
            loop=False,
        )
        pusher = Pusher(reactor, push, thread_runner(core, reactor.getThreadPool()))
        self.addCleanup(pusher.stop)
        return pusher

    @asynchronous
    async def test_push_titles_and_frames(self) -> None:
        """
        A listener on the pushed mount gets the first song's title, then
        the second's, in its ICY metadata, and whole MP3 frames.
        """
        port = await self.station()
        pusher = self.pusher(port, PASSWORD)
        done = pusher.start()
        sources = self.service.factory.sources
        assert sources is not None
        await wait_for(lambda: sources.live_source("/live") is not None, 10, reactor)
        reader = Reader(b"GET /live HTTP/1.0\r\nIcy-MetaData: 1\r\n\r\n", reactor)
        await connectProtocol(TCP4ClientEndpoint(reactor, "127.0.0.1", port), reader)
        self.addCleanup(lambda: reader.transport.loseConnection() if reader.transport else None)

        def both() -> bool:
            titles = [title for _, title in reader.capture.titles]
            return FIRST in titles and SECOND in titles[titles.index(FIRST) :]

        await wait_for(both, 12, reactor)
        await done
        self.assertTrue(reader.capture.status_line.endswith("200 OK"))
        frames = read_frames(bytes(reader.capture.audio))
        self.assertGreater(len(frames), 100)
        self.assertEqual(sum(len(f.data) for f in frames), len(reader.capture.audio))
        self.assertEqual(frames[0].data[:2], b"\xff\xfb")

    @asynchronous
    async def test_wrong_password(self) -> None:
        """
        A wrong password ends the push with a clear error about it.
        """
        port = await self.station()
        pusher = self.pusher(port, "wrong")
        try:
            await pusher.start()
        except PushError as error:
            self.assertIn("401", str(error))
            self.assertIn("wrong user name or password", str(error))
        else:
            self.fail("the push was not refused")
