"""
Tests for L{radiod.outbound.relay}: pushing a mount to another server.
"""

from __future__ import annotations

import base64
import os
import shutil
import subprocess
import tempfile
from typing import Any, cast
from xml.etree import ElementTree

from twisted.internet.defer import Deferred, fail, succeed
from twisted.internet.endpoints import TCP4ClientEndpoint, connectProtocol
from twisted.internet.protocol import Protocol
from twisted.internet.task import Clock, deferLater
from twisted.internet.testing import StringTransport
from twisted.logger import ILogObserver, Logger, formatEvent
from twisted.trial.unittest import SynchronousTestCase, TestCase
from twisted.web.client import Agent, readBody
from twisted.web.http_headers import Headers

from radiod.audio.track import TrackInfo
from radiod.broadcast.mount import Mount
from radiod.config import MountConfig, StationConfig
from radiod.outbound.relay import RelayOut
from radiod.runner import thread_runner
from radiod.station.service import StationService
from radiod.testing import Cues, FakeFrameSource, silent_frame
from tests.support.loopback import FIRST, FIXTURES, Reader, asynchronous, reactor, wait_for
from tests.support.tools import require_tool

ALPHA = TrackInfo("/a.mp3", "First Song", "Alpha Artist")
BETA = TrackInfo("/b.mp3", "Second Song", "Beta Artist")
FRAME = silent_frame(fill=1)
OK = b"HTTP/1.0 200 OK\r\n\r\n"


class Harness:
    """
    A mount and a L{RelayOut} to C{http://ice.example:8000/relay} whose
    connections are string transports and whose title updates are kept.
    """

    def __init__(self, refuse_connections: bool = False) -> None:
        self.cues = Cues()
        self.clock = Clock()
        source = FakeFrameSource([(ALPHA, FRAME, 10)])
        self.mount = Mount(MountConfig(name="/stream", station_name="Test FM"), source, self.clock)
        self.transports: list[StringTransport] = []
        self.protocols: list[Protocol] = []
        self.announced: list[str] = []
        self.refuse = refuse_connections
        self.events: list[dict[str, Any]] = []
        self.relay = RelayOut(
            self.clock,
            self.mount,
            "http://ice.example:8000/relay",
            "source",
            "s3cret-pw",
            connect=self.connect,
            announce=self.announce,
        )
        self.relay._log = Logger(observer=cast(ILogObserver, self.events.append))

    def connect(self, protocol: Protocol) -> Deferred[Any]:
        if self.refuse:
            return fail(ConnectionRefusedError("refused"))
        transport = StringTransport()
        self.transports.append(transport)
        self.protocols.append(protocol)
        protocol.makeConnection(transport)
        return succeed(protocol)

    def announce(self, title: str) -> Deferred[Any]:
        self.announced.append(title)
        return succeed(None)

    def broadcast(self, track: TrackInfo = ALPHA, count: int = 4) -> bytes:
        """
        Broadcast C{count} frames of C{track} on the mount.

        @return: the bytes of those frames.
        """
        self.mount.broadcast(self.cues([(FRAME, track)] * count))
        return FRAME.data * count

    def accept(self, reply: bytes = OK) -> None:
        """
        Answer the newest connection's request.
        """
        self.protocols[-1].dataReceived(reply)
        self.transports[-1].clear()


class RelayOutTests(SynchronousTestCase):
    """
    L{RelayOut} against fake connections and a fake clock.
    """

    def test_source_request(self) -> None:
        """
        Starting connects and sends a C{PUT} source request for the target
        mount with the credentials and the mount's station name.
        """
        h = Harness()
        h.relay.start()
        request = h.transports[0].value()
        self.assertTrue(request.startswith(b"PUT /relay HTTP/1.1\r\n"), request)
        self.assertIn(b"Authorization: Basic c291cmNlOnMzY3JldC1wdw==\r\n", request)
        self.assertIn(b"ice-name: Test FM\r\n", request)

    def test_frames_written_after_200(self) -> None:
        """
        Frames broadcast before the server answers are dropped; once it
        answers 200, each broadcast batch is written as it comes.
        """
        h = Harness()
        h.relay.start()
        h.transports[0].clear()
        h.broadcast()
        self.assertEqual(h.transports[0].value(), b"")
        h.accept()
        sent = h.broadcast()
        self.assertEqual(h.transports[0].value(), sent)
        self.assertIs(h.relay.connection, h.protocols[0])

    def test_titles(self) -> None:
        """
        The current title is sent right after connecting, and each new
        title on a track change.
        """
        h = Harness()
        h.broadcast(ALPHA)
        h.relay.start()
        self.assertEqual(h.announced, [])
        h.accept()
        self.assertEqual(h.announced, [FIRST])
        h.broadcast(ALPHA)
        h.broadcast(BETA)
        self.assertEqual(h.announced, [FIRST, "Beta Artist - Second Song"])

    def test_falls_back_to_source(self) -> None:
        """
        A server that does not know C{PUT} (405) is asked again with
        C{SOURCE}, and audio flows once that is accepted.
        """
        h = Harness()
        h.relay.start()
        h.protocols[0].dataReceived(b"HTTP/1.0 405 Method Not Allowed\r\n\r\n")
        self.assertTrue(h.transports[0].disconnecting)
        self.assertTrue(h.transports[1].value().startswith(b"SOURCE /relay HTTP/1.0\r\n"))
        h.accept(b"HTTP/1.0 200 OK\r\n\r\n")
        sent = h.broadcast()
        self.assertEqual(h.transports[1].value(), sent)
        self.assertEqual(h.relay.method, "SOURCE")

    def test_backoff(self) -> None:
        """
        Failed connections are retried after 1, 2, 4 ... seconds, at most
        60; an accepted connection resets the delay to 1 s.
        """
        h = Harness(refuse_connections=True)
        h.relay.start()
        waits = []
        for _ in range(9):
            (call,) = h.clock.getDelayedCalls()
            waits.append(call.getTime() - h.clock.seconds())
            h.clock.advance(waits[-1])
        self.assertEqual(waits, [1, 2, 4, 8, 16, 32, 60, 60, 60])
        h.refuse = False
        (call,) = h.clock.getDelayedCalls()
        h.clock.advance(call.getTime() - h.clock.seconds())
        h.accept()
        self.assertEqual(h.relay.delay, 1.0)
        h.protocols[0].connectionLost()
        (call,) = h.clock.getDelayedCalls()
        self.assertEqual(call.getTime() - h.clock.seconds(), 1.0)
        self.assertIsNone(h.relay.connection)

    def test_refusal_retried(self) -> None:
        """
        A refusal such as a wrong password is retried later, not fatal.
        """
        h = Harness()
        h.relay.start()
        h.accept(b"HTTP/1.0 401 Unauthorized\r\n\r\n")
        self.assertEqual(len(h.clock.getDelayedCalls()), 1)
        h.clock.advance(1)
        self.assertEqual(len(h.transports), 2)

    def test_drops_while_disconnected(self) -> None:
        """
        Audio broadcast while the connection is down is dropped and
        counted, and the next connection starts with new audio only.
        """
        h = Harness()
        h.relay.start()
        h.accept()
        h.protocols[0].connectionLost()
        h.broadcast(count=38)
        self.assertAlmostEqual(h.relay.dropped, 38 * 1152 / 44100)
        h.clock.advance(1)
        h.accept()
        sent = h.broadcast(count=2)
        self.assertEqual(h.transports[1].value(), sent)

    def test_drops_while_backed_up(self) -> None:
        """
        While the server has not read the last few seconds, new audio is
        dropped instead of queued; when it reads again, audio flows.
        """
        h = Harness()
        h.relay.start()
        h.accept()
        connection = h.relay.connection
        assert connection is not None
        connection.pauseProducing()
        h.broadcast(count=200)
        written = len(h.transports[0].value())
        h.broadcast(count=40)
        self.assertEqual(len(h.transports[0].value()), written)
        self.assertGreater(h.relay.dropped, 1.0)
        connection.resumeProducing()
        h.broadcast(count=2)
        self.assertEqual(len(h.transports[0].value()), written + 2 * len(FRAME.data))

    def test_stop(self) -> None:
        """
        Stopping closes the connection, stops observing the mount and does
        not reconnect.
        """
        h = Harness()
        h.relay.start()
        h.accept()
        h.relay.stop()
        self.assertTrue(h.transports[0].disconnecting)
        self.assertEqual(h.mount.on_air, [])
        self.assertEqual(h.mount.on_track_change, [])
        h.protocols[0].connectionLost()
        self.assertEqual(h.clock.getDelayedCalls(), [])

    def test_password_not_logged(self) -> None:
        """
        Nothing logged while connecting, failing and retrying shows the
        password.
        """
        h = Harness()
        h.relay.start()
        h.accept(b"HTTP/1.0 403 Forbidden\r\n\r\n")
        h.clock.advance(1)
        h.accept()
        h.protocols[-1].connectionLost()
        self.assertGreater(len(h.events), 3)
        text = " ".join(formatEvent(event) + repr(event) for event in h.events)
        self.assertNotIn("s3cret", text)
        self.assertIn("ice.example:8000/relay", text)


ICECAST_XML = """\
<icecast>
  <hostname>127.0.0.1</hostname>
  <limits><sources>2</sources><burst-size>16000</burst-size></limits>
  <authentication>
    <source-password>{password}</source-password>
    <admin-user>admin</admin-user>
    <admin-password>{password}</admin-password>
  </authentication>
  <listen-socket><port>{port}</port><bind-address>127.0.0.1</bind-address></listen-socket>
  <paths>
    <basedir>{workdir}</basedir>
    <logdir>{workdir}</logdir>
    <webroot>/usr/share/icecast2/web</webroot>
    <adminroot>/usr/share/icecast2/admin</adminroot>
  </paths>
  <logging><errorlog>error.log</errorlog><loglevel>3</loglevel></logging>
  <security><chroot>0</chroot></security>
</icecast>
"""


def free_port() -> int:
    """
    A TCP port free on the loopback interface right now.
    """
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


async def icecast_title(port: int, mount: str, password: str) -> str:
    """
    The title Icecast on C{port} gives for C{mount} in its statistics,
    empty while it has none (or no such mount).

    @param password: Icecast's admin password.
    """
    url = f"http://127.0.0.1:{port}/admin/stats".encode("ascii")
    token = base64.b64encode(f"admin:{password}".encode()).decode("ascii")
    headers = Headers({b"Authorization": [f"Basic {token}".encode("ascii")]})
    response = await Agent(reactor).request(b"GET", url, headers)
    stats = ElementTree.fromstring(await readBody(response))
    for source in stats.iter("source"):
        if source.get("mount") == mount:
            return source.findtext("title") or ""
    return ""


async def wait_for_icecast_title(port: int, mount: str, password: str, timeout: float) -> str:
    """
    Wait until Icecast on C{port} has a title for C{mount}, as the title
    updates of radiod's push reach it.

    @param password: Icecast's admin password.
    @return: the title.
    @raise AssertionError: if it has none within C{timeout} seconds.
    """
    deadline = reactor.seconds() + timeout
    while not (title := await icecast_title(port, mount, password)):
        if reactor.seconds() > deadline:
            raise AssertionError(f"Icecast had no title for {mount} after {timeout} s")
        await deferLater(reactor, 0.1)
    return title


class IcecastTests(TestCase):
    """
    radiod pushing a mount to a real Icecast 2, heard from Icecast.
    """

    timeout = 30

    async def start_icecast(self, password: str) -> int:
        """
        Run Icecast on a free loopback port (as C{nobody} when root), and
        wait until it accepts connections (a busy machine may take
        seconds to start it; the push would meanwhile back off).

        @return: the port.
        """
        binary = require_tool("icecast2", shutil.which("icecast2"), "apt-get install icecast2")
        workdir = tempfile.mkdtemp(prefix="radiod-icecast-")
        self.addCleanup(shutil.rmtree, workdir, True)
        port = free_port()
        config = os.path.join(workdir, "icecast.xml")
        with open(config, "w") as f:
            f.write(ICECAST_XML.format(password=password, port=port, workdir=workdir))
        root = os.geteuid() == 0
        if root:
            os.chmod(workdir, 0o755)
            os.chmod(config, 0o644)
            shutil.chown(workdir, "nobody", "nogroup")
        process = subprocess.Popen(
            [binary, "-c", config],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            cwd=workdir,
            user="nobody" if root else None,
            group="nogroup" if root else None,
            extra_groups=[] if root else None,
        )

        def end() -> None:
            process.terminate()
            process.wait(10)

        self.addCleanup(end)
        deadline = reactor.seconds() + 60
        while True:
            try:
                probe = await connectProtocol(
                    TCP4ClientEndpoint(reactor, "127.0.0.1", port), Protocol()
                )
            except Exception:
                if process.poll() is not None or reactor.seconds() > deadline:
                    raise AssertionError(f"Icecast did not start on port {port}") from None
                await deferLater(reactor, 0.1, lambda: None)
                continue
            assert probe.transport is not None
            probe.transport.loseConnection()
            return port

    @asynchronous
    async def test_icecast_carries_station(self) -> None:
        """
        A mount with C{push_to} streams to Icecast's C{/relay}: a listener
        of Icecast receives the audio, with radiod's current title as the
        ICY title.
        """
        password = "relay-pw"
        port = await self.start_icecast(password)
        music = self.mktemp()
        os.makedirs(music)
        shutil.copy(os.path.join(FIXTURES, "alpha-artist-first-song.mp3"), music)
        target = f"http://source:{password}@127.0.0.1:{port}/relay"
        mount = MountConfig(name="/stream", music=music, push_to=(target,))
        config = StationConfig(port=0, interface="127.0.0.1", mounts=(mount,))
        service = StationService(config, reactor, thread_runner(reactor, reactor.getThreadPool()))
        self.assertEqual(len(service.relays_out), 1)
        relay = service.relays_out[0]
        service.startService()
        self.addCleanup(service.stopService)
        await wait_for(lambda: relay.connection is not None, 15, reactor)
        await wait_for_icecast_title(port, "/relay", password, 5)
        reader = Reader(b"GET /relay HTTP/1.0\r\nIcy-MetaData: 1\r\n\r\n", reactor)
        await connectProtocol(TCP4ClientEndpoint(reactor, "127.0.0.1", port), reader)
        self.addCleanup(lambda: reader.transport.loseConnection() if reader.transport else None)
        capture = reader.capture
        await wait_for(lambda: bool(capture.titles) and len(capture.audio) > 20000, 10, reactor)
        self.assertIn("200 OK", capture.status_line)
        self.assertEqual(capture.titles[0][1], FIRST)
        self.assertEqual(capture.audio[:2], b"\xff\xfb", "MPEG-1 layer III frame sync")
