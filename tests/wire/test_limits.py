"""
Tests for L{radiod.wire.limits} and the hostile clients it helps against: a
flood of connections from one address, slowloris request heads, and peers
that vanish.  The end-to-end tests also check that a listener playing
meanwhile keeps up: it gets every byte the station puts on air (its rate
by the wall clock is measured by C{benchmarks/pacing.py}).
"""

from __future__ import annotations

import base64
import os
import shutil
import socket
from dataclasses import replace
from typing import Any

from twisted.internet import reactor as _reactor
from twisted.internet.address import IPv4Address
from twisted.internet.defer import Deferred
from twisted.internet.endpoints import TCP4ClientEndpoint, connectProtocol
from twisted.internet.interfaces import IReactorCore
from twisted.internet.protocol import Protocol
from twisted.internet.task import Clock
from twisted.internet.testing import StringTransport
from twisted.logger import capturedLogs, formatEvent
from twisted.python.failure import Failure
from twisted.trial.unittest import SynchronousTestCase, TestCase

from radiod.audio.track import TrackInfo
from radiod.broadcast.listener import Listener
from radiod.broadcast.mount import Mount
from radiod.config import MountConfig, StationConfig
from radiod.runner import thread_runner
from radiod.station.service import StationService
from radiod.testing import FakeFrameSource, silent_frame
from radiod.web.tree import station_site
from radiod.wire.limits import (
    KEEPALIVE_COUNT,
    KEEPALIVE_IDLE,
    KEEPALIVE_INTERVAL,
    AddressLimit,
    LoginThrottle,
    enable_keepalive,
)
from radiod.wire.server import RadioFactory, RadioProtocol
from tests.support.loopback import (
    FIXTURES,
    Reader,
    Recording,
    Trail,
    asynchronous,
    check_heard,
    delivered,
    wait_for,
)

reactor: Any = _reactor

SONG = TrackInfo("/a.mp3", "Song", "Artist")


class AddressLimitTests(SynchronousTestCase):
    """
    L{AddressLimit} counts connections per address.
    """

    def test_limit(self) -> None:
        """
        Up to the limit connections are admitted; more are not, until
        some are released.  Other addresses have their own count.
        """
        limits = AddressLimit(2)
        self.assertTrue(limits.admit("192.0.2.1"))
        self.assertTrue(limits.admit("192.0.2.1"))
        self.assertFalse(limits.admit("192.0.2.1"))
        self.assertTrue(limits.admit("192.0.2.2"))
        self.assertEqual(limits.open("192.0.2.1"), 3)
        self.assertEqual(limits.refused, 1)
        limits.release("192.0.2.1")
        limits.release("192.0.2.1")
        self.assertTrue(limits.admit("192.0.2.1"))
        for _ in range(5):
            limits.release("192.0.2.2")
        self.assertEqual(limits.open("192.0.2.2"), 0)

    def test_no_limit(self) -> None:
        """
        A limit of 0 admits everyone.
        """
        limits = AddressLimit(0)
        self.assertTrue(all(limits.admit("192.0.2.1") for _ in range(1000)))

    def test_keepalive(self) -> None:
        """
        Keepalive probes are turned on for a TCP socket with short timings;
        anything that is not a socket is left alone.
        """
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.addCleanup(sock.close)
        self.assertTrue(enable_keepalive(sock))
        self.assertEqual(sock.getsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE), 1)
        if hasattr(socket, "TCP_KEEPIDLE"):
            self.assertEqual(
                sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPIDLE), KEEPALIVE_IDLE
            )
            self.assertEqual(
                sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPINTVL), KEEPALIVE_INTERVAL
            )
            self.assertEqual(
                sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPCNT), KEEPALIVE_COUNT
            )
            # Data left unacknowledged is given up on as soon as an idle
            # peer would be.
            self.assertEqual(
                sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_USER_TIMEOUT),
                (KEEPALIVE_IDLE + KEEPALIVE_INTERVAL * KEEPALIVE_COUNT) * 1000,
            )
        self.assertFalse(enable_keepalive(None))


class ServerLimitTests(SynchronousTestCase):
    """
    The server refuses connections over the per-address limit with 503.
    """

    def build(self, **station: Any) -> RadioFactory:
        clock = Clock()
        config = MountConfig(name="/stream")
        mount = Mount(config, FakeFrameSource([(SONG, silent_frame(), 10**6)]), clock)
        mount.start()
        self.addCleanup(mount.stop)
        settings = StationConfig(mounts=(config,), **station)
        return RadioFactory(clock, settings, {"/stream": mount})

    def connect(
        self, factory: RadioFactory, host: str = "192.0.2.7", port: int = 40000
    ) -> tuple[RadioProtocol, StringTransport]:
        address = IPv4Address("TCP", host, port)
        transport = StringTransport(peerAddress=address)
        protocol = factory.buildProtocol(address)
        protocol.makeConnection(transport)
        return protocol, transport

    def test_flood_refused(self) -> None:
        """
        Past the limit a connection is answered 503 at once, without
        waiting for its request; another address is served, and a freed
        slot admits again.
        """
        factory = self.build(max_per_address=2)
        first, first_transport = self.connect(factory)
        first.dataReceived(b"GET /stream HTTP/1.0\r\n\r\n")
        second, _ = self.connect(factory, port=40001)
        third, third_transport = self.connect(factory, port=40002)
        self.assertTrue(third_transport.value().startswith(b"HTTP/1.0 503 "))
        self.assertIn(b"Too many connections", third_transport.value())
        self.assertTrue(third_transport.disconnecting)
        other, other_transport = self.connect(factory, host="192.0.2.8")
        other.dataReceived(b"GET /stream HTTP/1.0\r\n\r\n")
        self.assertTrue(other_transport.value().startswith(b"HTTP/1.0 200 "))
        third.connectionLost(Failure(ConnectionError()))
        second.connectionLost(Failure(ConnectionError()))
        fourth, fourth_transport = self.connect(factory, port=40003)
        fourth.dataReceived(b"GET /stream HTTP/1.0\r\n\r\n")
        self.assertTrue(fourth_transport.value().startswith(b"HTTP/1.0 200 "))
        self.assertFalse(first_transport.disconnecting)

    def test_behind_proxy(self) -> None:
        """
        Behind a trusted proxy, the proxy's connections are not limited;
        the forwarded client's are.
        """
        factory = self.build(max_per_address=1, trusted_proxies=("10.0.0.1",))
        answers = []
        for port, client in (
            (40000, "198.51.100.1"),
            (40001, "198.51.100.2"),
            (40002, "198.51.100.1"),
        ):
            protocol, transport = self.connect(factory, host="10.0.0.1", port=port)
            self.assertEqual(transport.value(), b"")
            protocol.dataReceived(
                f"GET /stream HTTP/1.0\r\nX-Forwarded-For: {client}\r\n\r\n".encode()
            )
            answers.append(transport.value().split(b"\r\n", 1)[0])
        self.assertEqual(
            answers, [b"HTTP/1.0 200 OK", b"HTTP/1.0 200 OK", b"HTTP/1.0 503 Service Unavailable"]
        )


class Trickle(Protocol):
    """
    A slowloris client: sends its request head one byte at a time, never
    finishing it.
    """

    def __init__(self, interval: float) -> None:
        self.interval = interval
        self.closed: Deferred[None] = Deferred()
        self.sent = 0

    def connectionMade(self) -> None:
        self._next()

    def _next(self) -> None:
        if self.closed.called or self.transport is None:
            return
        head = b"GET /stream HTTP/1.0\r\nX-Padding: "
        byte = head[self.sent : self.sent + 1] or b"a"
        self.transport.write(byte)
        self.sent += 1
        reactor.callLater(self.interval, self._next)

    def connectionLost(self, reason: Failure = Failure(ConnectionError())) -> None:  # noqa: B008
        if not self.closed.called:
            self.closed.callback(None)


class Refused(Protocol):
    """
    A client that connects, asks for the stream, and notes the answer.
    """

    def __init__(self) -> None:
        self.data = b""
        self.closed: Deferred[None] = Deferred()

    def connectionMade(self) -> None:
        assert self.transport is not None
        self.transport.write(b"GET /stream HTTP/1.0\r\n\r\n")

    def dataReceived(self, data: bytes) -> None:
        self.data += data

    def connectionLost(self, reason: Failure = Failure(ConnectionError())) -> None:  # noqa: B008
        if not self.closed.called:
            self.closed.callback(None)


class StationTestCase(TestCase):
    """
    A real station on loopback, and a listener that must play on whatever
    other clients do.
    """

    timeout = 60

    recording: Recording
    """
    What the station's mount put on air (see L{start}).
    """

    async def start(self, **server: Any) -> tuple[StationService, int]:
        """
        Start a station playing the two fixture songs, with L{recording}
        of its mount from its first audio.

        @param server: station settings to change.
        @return: the service and its port.
        """
        music = str(self.mktemp())
        os.makedirs(music)
        for name in ("alpha-artist-first-song.mp3", "beta-artist-second-song.mp3"):
            shutil.copy(os.path.join(FIXTURES, name), music)
        mount = MountConfig(name="/stream", music=music, burst_size=8192)
        config = replace(StationConfig(port=0, interface="127.0.0.1", mounts=(mount,)), **server)
        core: IReactorCore = reactor
        service = StationService(config, reactor, thread_runner(core, reactor.getThreadPool()))
        self.recording = Recording(service.mounts["/stream"], reactor)
        service.startService()
        self.addCleanup(service.stopService)
        port = (await service.listener.listening).getHost().port  # type: ignore[attr-defined]
        return service, port

    async def listener(self, port: int) -> tuple[Reader, Listener, Trail]:
        """
        Connect a listener and let it get past its burst.

        @return: its client, its listener on the mount and its trail.
        """
        reader = Reader(b"GET /stream HTTP/1.0\r\n\r\n", reactor)
        await connectProtocol(TCP4ClientEndpoint(reactor, "127.0.0.1", port), reader)
        self.addCleanup(lambda: reader.transport.loseConnection() if reader.transport else None)
        await wait_for(lambda: reader.received > 8192, 10, reactor)
        [listener] = self.recording.mount.listeners
        trail = Trail(listener)
        self.addCleanup(trail.stop)
        return reader, listener, trail

    async def assert_plays_on(
        self, reader: Reader, listener: Listener, trail: Trail, seconds: float = 3.0
    ) -> None:
        """
        The listener plays on: the station puts C{seconds} more of audio
        on air, as its own pacer plays them, with no underrun, and the
        listener, still connected, receives every byte of it, in order,
        from where it started.  (How fast by the wall clock is for
        C{benchmarks/pacing.py} to measure.)
        """
        recording = self.recording
        mount = recording.mount
        target = recording.seconds + seconds
        await wait_for(lambda: recording.seconds >= target, 30, reactor)
        upto = recording.end
        await delivered(listener, reader.capture, mount.name, upto, reactor)
        self.assertFalse(reader.gone.called)
        self.assertIn(listener, mount.listeners)
        check_heard(trail, {mount.name: recording}, reader.capture, upto)
        assert mount.pacer is not None
        self.assertEqual(mount.pacer.underruns, 0)


class HostileClientTests(StationTestCase):
    """
    Hostile clients against a real station, while a listener plays.
    """

    @asynchronous
    async def test_flood(self) -> None:
        """
        Two hundred connections at once from the listener's own address,
        with a limit of 20: all but 19 are answered 503 and closed at once,
        and the listener plays on.
        """
        service, port = await self.start(max_per_address=20)
        reader, listener, trail = await self.listener(port)
        flood = [Refused() for _ in range(200)]
        for client in flood:
            await connectProtocol(TCP4ClientEndpoint(reactor, "127.0.0.1", port), client)
        await wait_for(lambda: sum(c.closed.called for c in flood) >= 181, 10, reactor)
        refused = [c for c in flood if c.data.startswith(b"HTTP/1.0 503 ")]
        self.assertEqual(len(refused), 181)
        self.assertEqual(len(service.mounts["/stream"].listeners), 20)
        for client in flood:
            if client.transport is not None:
                client.transport.loseConnection()
        await self.assert_plays_on(reader, listener, trail)

    @asynchronous
    async def test_slowloris(self) -> None:
        """
        Fifty clients trickling their request heads a byte at a time are
        all closed at the header timeout, not before, and the listener
        plays on.
        """
        service, port = await self.start(header_timeout=2.0, max_per_address=0)
        reader, listener, trail = await self.listener(port)
        start = reactor.seconds()
        trickles = [Trickle(0.2) for _ in range(50)]
        with capturedLogs() as events:
            for client in trickles:
                await connectProtocol(TCP4ClientEndpoint(reactor, "127.0.0.1", port), client)
            await wait_for(lambda: all(c.closed.called for c in trickles), 20, reactor)
        self.assertGreater(reactor.seconds() - start, 1.5)
        timeouts = [e for e in events if "No complete request" in e.get("log_format", "")]
        self.assertEqual(len(timeouts), 50)
        self.assertTrue(all(c.sent >= 5 for c in trickles))
        await self.assert_plays_on(reader, listener, trail)


class LoginThrottleTests(SynchronousTestCase):
    """
    L{LoginThrottle} delays failures after the first few, per address.
    """

    def test_delays(self) -> None:
        """
        Three failures are answered at once, then 1, 2, 4, 8 and 16
        seconds later, never more; other addresses are not affected, and
        failures are forgotten after the window.
        """
        clock = Clock()
        throttle = LoginThrottle(clock, free=3, window=300, most=16)
        delays = [throttle.failed("192.0.2.1") for _ in range(9)]
        self.assertEqual(delays, [0, 0, 0, 1, 2, 4, 8, 16, 16])
        self.assertEqual(throttle.failed("192.0.2.2"), 0)
        self.assertEqual(throttle.failures("192.0.2.1"), 9)
        clock.advance(301)
        self.assertEqual(throttle.failures("192.0.2.1"), 0)
        self.assertEqual(throttle.failed("192.0.2.1"), 0)

    def test_bounded(self) -> None:
        """
        However many addresses fail, the table stays bounded.
        """
        clock = Clock()
        throttle = LoginThrottle(clock)
        for number in range(LoginThrottle.MAX_ADDRESSES + 500):
            clock.advance(0.001)
            throttle.failed(f"10.{number >> 16 & 255}.{number >> 8 & 255}.{number & 255}")
        self.assertLessEqual(len(throttle._failures), LoginThrottle.MAX_ADDRESSES)


class ThrottledLoginTests(SynchronousTestCase):
    """
    Failed logins over HTTP are answered later and later; nothing else is.
    """

    def build(self) -> tuple[Clock, RadioFactory]:
        clock = Clock()
        config = MountConfig(name="/stream")
        mount = Mount(config, FakeFrameSource([(SONG, silent_frame(), 10**6)]), clock)
        mount.start()
        self.addCleanup(mount.stop)
        settings = StationConfig(
            mounts=(config,),
            admin_password="right-pw",
            source_password="src-pw",
            max_per_address=0,
        )
        factory = RadioFactory(clock, settings, {"/stream": mount}, accept_sources=True)
        station_site(factory, clock)
        assert factory.sources is not None
        self.addCleanup(factory.sources.stop)
        return clock, factory

    def ask(
        self, factory: RadioFactory, request: bytes, host: str = "192.0.2.7"
    ) -> StringTransport:
        address = IPv4Address("TCP", host, 40000)
        transport = StringTransport(peerAddress=address)
        protocol = factory.buildProtocol(address)
        protocol.makeConnection(transport)
        protocol.dataReceived(request)
        return transport

    def test_admin_guessing(self) -> None:
        """
        After three wrong admin passwords from one address, the fourth is
        answered only after a second, the fifth after two; a probe without
        credentials, the right password from that address, and any request
        from elsewhere are answered at once.
        """
        clock, factory = self.build()
        target = b"GET /admin/metadata?mount=/stream&mode=updinfo&song=x HTTP/1.0\r\n"
        wrong = target + b"Authorization: Basic YWRtaW46bm9wZQ==\r\n\r\n"
        right = target + b"Authorization: Basic YWRtaW46cmlnaHQtcHc=\r\n\r\n"
        for _ in range(3):
            self.assertTrue(self.ask(factory, wrong).value().startswith(b"HTTP/1.0 401 "))
        fourth = self.ask(factory, wrong)
        self.assertEqual(fourth.value(), b"")
        probe = self.ask(factory, target + b"\r\n")
        self.assertTrue(probe.value().startswith(b"HTTP/1.0 401 "))
        # Past the login: no live source on the mount.
        self.assertTrue(self.ask(factory, right).value().startswith(b"HTTP/1.0 400 "))
        elsewhere = self.ask(factory, wrong, host="192.0.2.99")
        self.assertTrue(elsewhere.value().startswith(b"HTTP/1.0 401 "))
        clock.advance(1)
        self.assertTrue(fourth.value().startswith(b"HTTP/1.0 401 "))
        fifth = self.ask(factory, wrong)
        clock.advance(1.5)
        self.assertEqual(fifth.value(), b"")
        clock.advance(0.5)
        self.assertTrue(fifth.value().startswith(b"HTTP/1.0 401 "))

    def test_source_guessing(self) -> None:
        """
        Wrong source passwords count the same way.
        """
        clock, factory = self.build()
        wrong = (
            b"PUT /stream HTTP/1.1\r\nAuthorization: Basic c291cmNlOm5vcGU=\r\n"
            b"Content-Type: audio/mpeg\r\n\r\n"
        )
        for _ in range(3):
            self.assertTrue(self.ask(factory, wrong).value().startswith(b"HTTP/1.0 401 "))
        late = self.ask(factory, wrong)
        self.assertEqual(late.value(), b"")
        clock.advance(1)
        self.assertTrue(late.value().startswith(b"HTTP/1.0 401 "))


class Smuggler(Protocol):
    """
    A client that sends one raw request and keeps what it is answered.
    """

    def __init__(self, request: bytes) -> None:
        self.request = request
        self.data = b""
        self.closed: Deferred[None] = Deferred()

    def connectionMade(self) -> None:
        assert self.transport is not None
        self.transport.write(self.request)

    def dataReceived(self, data: bytes) -> None:
        self.data += data

    def connectionLost(self, reason: Failure = Failure(ConnectionError())) -> None:  # noqa: B008
        if not self.closed.called:
            self.closed.callback(None)


class HostileInputTests(StationTestCase):
    """
    Request smuggling shapes and hostile titles against a real station,
    while a listener plays.
    """

    SHAPES = (
        b"POST /admin/metadata HTTP/1.1\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!",
        b"POST /admin/metadata HTTP/1.1\r\nContent-Length: 5\r\n"
        b"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
        b"GET /stream HTTP/1.0\nHost: x\n\n",
        b"GET /stream HTTP/1.0\r\nHost: x\r\n folded: yes\r\n\r\n",
        b"GET /stream HTTP/1.0\r\nHost: x\ry\r\n\r\n",
        b"GET /stream HTTP/1.0\r\nHost : x\r\n\r\n",
        b"GET /stream\r\nX: y\r\n\r\n",
    )

    @asynchronous
    async def test_smuggling_refused(self) -> None:
        """
        Every smuggling shape is answered 400 and closed, and the listener
        plays on.
        """
        service, port = await self.start()
        reader, listener, trail = await self.listener(port)
        answers = []
        for _ in range(20):
            for shape in self.SHAPES:
                client = Smuggler(shape)
                await connectProtocol(TCP4ClientEndpoint(reactor, "127.0.0.1", port), client)
                await client.closed
                answers.append(client.data.split(b"\r\n", 1)[0])
        self.assertEqual(set(answers), {b"HTTP/1.0 400 Bad Request"}, set(answers))
        await self.assert_plays_on(reader, listener, trail)

    @asynchronous
    async def test_hostile_title(self) -> None:
        """
        A title update carrying CR, LF, quotes and semicolons reaches
        listeners as one clean title inside intact ICY framing, and
        injects no header anywhere; the listener plays on at full rate.
        """
        service, port = await self.start(source_password="pw", admin_password="adm")
        listener = Reader(b"GET /stream HTTP/1.0\r\nIcy-MetaData: 1\r\n\r\n", reactor)
        await connectProtocol(TCP4ClientEndpoint(reactor, "127.0.0.1", port), listener)
        self.addCleanup(lambda: listener.transport.loseConnection() if listener.transport else None)
        with open(os.path.join(FIXTURES, "tone-mpeg1-44100-128k-cbr.mp3"), "rb") as f:
            tone = f.read()
        source = Smuggler(
            b"PUT /stream HTTP/1.1\r\nAuthorization: Basic c291cmNlOnB3\r\n"
            b"Content-Type: audio/mpeg\r\n\r\n" + tone * 3
        )
        await connectProtocol(TCP4ClientEndpoint(reactor, "127.0.0.1", port), source)
        self.addCleanup(lambda: source.transport.loseConnection() if source.transport else None)
        await wait_for(
            lambda: (
                service.mounts["/stream"].switch is not None
                and service.mounts["/stream"].switch.on_air
            ),
            10,
            reactor,
        )
        evil = "Bad%0D%0AX-Injected:%20yes%0D%0A%0D%0A';StreamUrl='http://evil/';"
        update = Smuggler(
            f"GET /admin/metadata?mount=/stream&mode=updinfo&song={evil} HTTP/1.0\r\n"
            "Authorization: Basic c291cmNlOnB3\r\n\r\n".encode()
        )
        await connectProtocol(TCP4ClientEndpoint(reactor, "127.0.0.1", port), update)
        await update.closed
        self.assertTrue(update.data.startswith(b"HTTP/1.0 200 "), update.data)
        await wait_for(
            lambda: any("X-Injected" in title for _, title in listener.capture.titles),
            10,
            reactor,
        )
        title = next(t for _, t in listener.capture.titles if "X-Injected" in t)
        self.assertNotIn("\r", title)
        self.assertNotIn("\n", title)
        self.assertNotIn("';", title)
        self.assertTrue(title.startswith("Bad X-Injected: yes"), title)
        newcomer = Reader(b"GET /stream HTTP/1.0\r\n\r\n", reactor)
        await connectProtocol(TCP4ClientEndpoint(reactor, "127.0.0.1", port), newcomer)
        self.addCleanup(lambda: newcomer.transport.loseConnection() if newcomer.transport else None)
        await wait_for(lambda: bool(newcomer.capture.headers), 10, reactor)
        self.assertNotIn("x-injected", newcomer.capture.headers)

    @asynchronous
    async def test_keepalive_on_real_sockets(self) -> None:
        """
        A real listener's socket has TCP keepalive probes on, so a peer
        that vanishes without closing is found and cleaned up.
        """
        service, port = await self.start()
        _, listener, _ = await self.listener(port)
        handle = listener.transport.getHandle()  # type: ignore[attr-defined]
        self.assertEqual(handle.getsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE), 1)
        if hasattr(socket, "TCP_KEEPIDLE"):
            self.assertEqual(
                handle.getsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPIDLE), KEEPALIVE_IDLE
            )


class SecretsTests(StationTestCase):
    """
    Passwords never appear in what radiod serves or logs.
    """

    @asynchronous
    async def test_no_password_served_or_logged(self) -> None:
        """
        With a source password, an admin password and a push target with
        its own password configured, no status page, metric, admin reply,
        error reply or log line contains any of them.
        """
        secrets = ("src-Secret-1", "adm-Secret-2", "push-Secret-3")
        with capturedLogs() as events:
            service, port = await self.start(source_password=secrets[0], admin_password=secrets[1])
            mount = service.mounts["/stream"]
            assert mount is not None
            admin = base64.b64encode(f"admin:{secrets[1]}".encode()).decode()
            wrong = base64.b64encode(b"admin:nope").decode()
            requests = [
                b"GET /status-json.xsl HTTP/1.0\r\n\r\n",
                b"GET /api/v1/status HTTP/1.0\r\n\r\n",
                b"GET /7.html HTTP/1.0\r\n\r\n",
                b"GET /stats?sid=1&json=1 HTTP/1.0\r\n\r\n",
                b"GET /metrics HTTP/1.0\r\n\r\n",
                b"GET / HTTP/1.0\r\n\r\n",
                f"GET /admin/stats HTTP/1.0\r\nAuthorization: Basic {admin}\r\n\r\n".encode(),
                f"GET /admin/listmounts HTTP/1.0\r\nAuthorization: Basic {admin}\r\n\r\n".encode(),
                f"GET /admin/stats HTTP/1.0\r\nAuthorization: Basic {wrong}\r\n\r\n".encode(),
                f"GET /admin.cgi?mode=updinfo&pass={secrets[0]}x&song=a HTTP/1.0\r\n\r\n".encode(),
                f"GET /admin.cgi?mode=updinfo&pass={secrets[0]}&song=a HTTP/1.0\r\n\r\n".encode(),
                b"PUT /stream HTTP/1.1\r\nAuthorization: Basic "
                + base64.b64encode(f"source:{secrets[2]}".encode())
                + b"\r\nContent-Type: audio/mpeg\r\n\r\n",
            ]
            replies = []
            for request in requests:
                client = Smuggler(request)
                await connectProtocol(TCP4ClientEndpoint(reactor, "127.0.0.1", port), client)
                await client.closed
                replies.append(client.data)
        statuses = [reply.split(b" ", 2)[1] for reply in replies]
        self.assertEqual(
            statuses,
            [b"200"] * 8 + [b"401", b"401", b"400", b"401"],
        )
        text = b"\n".join(replies).decode("utf-8", "replace")
        logged = "\n".join(formatEvent(event) + repr(event) for event in events)
        for secret in secrets:
            self.assertNotIn(secret, text)
            self.assertNotIn(secret, logged)
