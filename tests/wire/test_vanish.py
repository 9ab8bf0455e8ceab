"""
Peers that vanish without closing their connection (a pulled cable, a NAT
entry that expired), against a real station on loopback.

A vanishing peer connects from its own loopback address, L{VANISHING};
once it is under way, C{iptables} rules drop every packet between it and
the station, both ways, so that nothing it sends arrives and nothing it
is sent is acknowledged, and no FIN or RST tells either side.  The
station has to find it on its own and clean up, while everyone else
carries on.

Which mechanism finds which peer:

  - a listener has audio in flight, so TCP keepalive never probes it; its
    unacknowledged audio fills the send buffers and it falls behind, and
    the mount drops it at its C{queue_size};
  - a live source sends and is sent nothing, and the source timeout
    (L{radiod.ingest.source.SOURCE_TIMEOUT}) disconnects it;
  - a connection whose request head is not complete is closed at the
    header timeout;
  - an event stream between events has nothing in flight: only TCP
    keepalive (L{radiod.wire.server.RadioFactory.keepalive}) finds it; one
    whose last comment is in flight is found by the C{TCP_USER_TIMEOUT}
    set with keepalive, as soon.

These tests need root and C{iptables}.  Rules carry the comment
C{radiod-test-<pid>}, and are deleted after each test, when the process
exits, and, for a test run that was killed, by the next run.
"""

from __future__ import annotations

import atexit
import base64
import fcntl
import os
import re
import shlex
import shutil
import socket
import struct
import subprocess
import termios
from typing import Any, ClassVar, cast

from twisted.internet import reactor as _reactor
from twisted.internet.defer import Deferred
from twisted.internet.endpoints import TCP4ClientEndpoint, connectProtocol
from twisted.internet.interfaces import IReactorCore, IReactorTime, ITCPTransport
from twisted.internet.protocol import Protocol
from twisted.internet.task import LoopingCall
from twisted.internet.utils import getProcessOutputAndValue
from twisted.python.failure import Failure
from twisted.trial.unittest import TestCase

from radiod.broadcast.listener import Listener
from radiod.broadcast.mount import Mount
from radiod.config import MountConfig, StationConfig
from radiod.ingest.source import SOURCE_TIMEOUT, SourceConnection
from radiod.interfaces import Frames
from radiod.runner import thread_runner
from radiod.station.service import StationService
from radiod.testing import ListenerCapture
from radiod.web.events import EVENTS_PATH
from radiod.wire.limits import Keepalive, socket_of
from tests.support.loopback import FIRST, FIXTURES, SECOND, Reader, asynchronous, wait_for
from tests.support.tools import require, require_tool

reactor: Any = _reactor

VANISHING = "127.0.0.2"
"""
The address vanishing peers connect from: loopback, but theirs alone, so
that a rule can drop their packets and nobody else's.
"""

COMMENT = f"radiod-test-{os.getpid()}"
"""
The comment on every rule this process adds.
"""

_OURS = re.compile(r"--comment\s+\"?radiod-test-(\d+)\"?(\s|$)")

PASSWORD = "vanish-pw"
LIVE_TITLE = "Vanishing Show"
TONE = os.path.join(FIXTURES, "tone-mpeg1-44100-128k-cbr.mp3")
RATE = 16000
"""
Bytes per second of the fixtures' 128 kbit/s audio.
"""

BURST = 8192


def find_iptables() -> str | None:
    """
    The C{iptables} program, also where only root's C{PATH} has it.
    """
    path = os.pathsep.join([os.environ.get("PATH", ""), "/usr/sbin", "/sbin"])
    return shutil.which("iptables", path=path)


def _stale(rule: str) -> bool:
    """
    Whether C{rule} is one a test process added: this one, or one that
    no longer runs.
    """
    found = _OURS.search(rule)
    if found is None:
        return False
    pid = int(found.group(1))
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


def _deletion(rule: str) -> list[str]:
    """
    The C{iptables} arguments that delete C{rule}, a line of
    C{iptables -S}.
    """
    words = shlex.split(rule)
    return ["-D", *words[1:]]


def sweep(iptables: str) -> list[str]:
    """
    Delete the rules of this process and of test runs that were killed,
    at once (for set-up and exit, outside the reactor).

    @return: the rules that are still there.
    @raise OSError: if C{iptables} cannot be run.
    @raise subprocess.SubprocessError: if it does not list the rules.
    """

    def listed() -> list[str]:
        rules = subprocess.run(
            [iptables, "-w", "-S", "INPUT"], capture_output=True, text=True, timeout=10, check=True
        )
        return [rule for rule in rules.stdout.splitlines() if _stale(rule)]

    for rule in listed():
        subprocess.run([iptables, "-w", *_deletion(rule)], capture_output=True, timeout=10)
    return listed()


def _sweep_at_exit(iptables: str) -> None:
    """
    Delete this process's rules as it exits, however its tests ended.
    """
    try:
        sweep(iptables)
    except (OSError, subprocess.SubprocessError):
        pass


class Firewall:
    """
    Drops the packets between a station's port and L{VANISHING}, both
    ways, with rules in the C{INPUT} chain (loopback traffic passes it in
    both directions) that carry L{COMMENT}; and deletes them.

    @ivar iptables: the C{iptables} program.
    """

    _swept_at_exit: ClassVar[set[str]] = set()

    def __init__(self, iptables: str) -> None:
        self.iptables = iptables
        if iptables not in self._swept_at_exit:
            self._swept_at_exit.add(iptables)
            atexit.register(_sweep_at_exit, iptables)

    async def run(self, *args: str) -> str:
        """
        Run C{iptables} with C{args}, without blocking the reactor.

        @return: what it printed.
        @raise RuntimeError: if it failed.
        """
        out, err, code = await getProcessOutputAndValue(
            self.iptables, ["-w", *args], env=os.environ, reactor=reactor
        )
        if code != 0:
            message = err.decode("utf-8", "replace").strip()
            raise RuntimeError(f"iptables {shlex.join(args)} failed ({code}): {message}")
        return str(out.decode("utf-8", "replace"))

    async def rules(self) -> list[str]:
        """
        The rules of test processes that are ours to delete: this one's,
        and those of runs that were killed.
        """
        listed = await self.run("-S", "INPUT")
        return [rule for rule in listed.splitlines() if _stale(rule)]

    async def drop(self, port: int) -> None:
        """
        Drop every TCP packet from L{VANISHING} to C{port} and from
        C{port} to L{VANISHING}.
        """
        for match in (
            ["-s", VANISHING, "-p", "tcp", "--dport", str(port)],
            ["-d", VANISHING, "-p", "tcp", "--sport", str(port)],
        ):
            await self.run(
                "-I", "INPUT", *match, "-m", "comment", "--comment", COMMENT, "-j", "DROP"
            )

    async def clear(self) -> None:
        """
        Delete our rules, and check that none is left.

        @raise AssertionError: if one could not be deleted.
        """
        for rule in await self.rules():
            try:
                await self.run(*_deletion(rule))
            except RuntimeError:
                pass
        left = await self.rules()
        if left:
            raise AssertionError(f"firewall rules left behind: {left}")


class Recording:
    """
    Everything a mount puts on air from now on, in order: what every
    listener must receive, byte for byte, from where it started.

    @ivar start: the stream offset of the first byte recorded.
    @ivar audio: the bytes recorded.
    """

    def __init__(self, mount: Mount) -> None:
        self.start = mount.buffer.head
        self.audio = bytearray()
        mount.on_air.append(self._broadcast)

    def _broadcast(self, frames: Frames) -> None:
        for frame, _ in frames:
            self.audio += frame.data

    @property
    def end(self) -> int:
        """
        The stream offset just past the last byte recorded.
        """
        return self.start + len(self.audio)


class Encoder(Protocol):
    """
    A live source: C{PUT} with the source password, then, once answered,
    MPEG audio looping over C{audio}, two seconds' worth at once and then
    at its own rate.

    @ivar reply: what the station answered.
    @ivar sent: audio bytes sent.
    @ivar gone: fires when the connection is lost.
    """

    def __init__(self, audio: bytes, clock: IReactorTime) -> None:
        self.audio = audio
        self.reply = b""
        self.sent = 0
        self.gone: Deferred[None] = Deferred()
        self._loop = LoopingCall.withCount(self._send)
        self._loop.clock = clock

    def connectionMade(self) -> None:
        assert self.transport is not None
        credentials = base64.b64encode(f"source:{PASSWORD}".encode()).decode()
        self.transport.write(
            (
                "PUT /stream HTTP/1.1\r\n"
                f"Authorization: Basic {credentials}\r\n"
                "Content-Type: audio/mpeg\r\n"
                f"Ice-Name: {LIVE_TITLE}\r\n\r\n"
            ).encode()
        )

    def dataReceived(self, data: bytes) -> None:
        self.reply += data
        if b"\r\n\r\n" in self.reply and not self._loop.running and not self.gone.called:
            self._send(20)
            self._loop.start(0.1, now=False)

    def _send(self, ticks: int) -> None:
        assert self.transport is not None
        size = ticks * RATE // 10
        start = self.sent % len(self.audio)
        piece = (self.audio[start:] + self.audio * (size // len(self.audio) + 1))[:size]
        self.transport.write(piece)
        self.sent += size

    def connectionLost(self, reason: Failure = Failure(ConnectionError())) -> None:  # noqa: B008
        if self._loop.running:
            self._loop.stop()
        if not self.gone.called:
            self.gone.callback(None)


def unacknowledged(handle: socket.socket) -> int:
    """
    Bytes written to a TCP socket that its peer has not acknowledged yet
    (Linux's C{SIOCOUTQ}).
    """
    answer = fcntl.ioctl(handle.fileno(), termios.TIOCOUTQ, struct.pack("i", 0))
    return int(struct.unpack("i", answer)[0])


class VanishingPeerTests(TestCase):
    """
    Peers that vanish without closing, against a real station: each is
    found and its connection cleaned up, by the station alone, while
    another client is served without a gap.
    """

    timeout = 120

    def setUp(self) -> None:
        require(os.geteuid() == 0, "dropping packets with iptables needs root")
        iptables = require_tool("iptables", find_iptables(), "apt-get install iptables")
        probe = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            probe.bind((VANISHING, 0))
        except OSError as error:
            require(False, f"cannot bind the loopback address {VANISHING}: {error}")
        finally:
            probe.close()
        try:
            left = sweep(iptables)
        except (OSError, subprocess.SubprocessError) as error:
            require(False, f"iptables does not work here: {error}")
        self.assertEqual(left, [], "firewall rules of earlier runs cannot be deleted")
        self.firewall = Firewall(iptables)
        self.addCleanup(lambda: Deferred.fromCoroutine(self.firewall.clear()))

    async def start(
        self, mount: MountConfig, **server: Any
    ) -> tuple[StationService, int, Mount | None]:
        """
        Start a station with C{mount} on a free loopback port.

        @param mount: the mount.
        @param server: station settings.
        @return: the service, its port, and the mount.
        """
        config = StationConfig(port=0, interface="127.0.0.1", mounts=(mount,), **server)
        core: IReactorCore = reactor
        service = StationService(config, reactor, thread_runner(core, reactor.getThreadPool()))
        service.startService()
        self.addCleanup(service.stopService)
        port = (await service.listener.listening).getHost().port  # type: ignore[attr-defined]
        return service, port, service.mounts.get(mount.name)

    def music(self) -> str:
        """
        A folder with the two fixture songs.
        """
        music = str(self.mktemp())
        os.makedirs(music)
        for name in ("alpha-artist-first-song.mp3", "beta-artist-second-song.mp3"):
            shutil.copy(os.path.join(FIXTURES, name), music)
        return music

    async def connect(
        self, port: int, client: Protocol, gone: Deferred[None], source: str = "127.0.0.1"
    ) -> None:
        """
        Connect C{client} to the station from the address C{source}, and
        close it after the test: abort it (the firewall may drop a FIN)
        and wait until it is gone.

        @param gone: fires when C{client}'s connection is lost.
        """
        endpoint = TCP4ClientEndpoint(reactor, "127.0.0.1", port, bindAddress=(source, 0))
        await connectProtocol(endpoint, client)

        async def close() -> None:
            if client.transport is not None and not gone.called:
                cast(ITCPTransport, client.transport).abortConnection()
            await gone

        self.addCleanup(lambda: Deferred.fromCoroutine(close()))

    async def drop(self, port: int) -> None:
        """
        From now on, drop every packet between C{port} and L{VANISHING}
        (until the test's clean-up, which deletes the rules before it
        closes anything).
        """
        self.addCleanup(lambda: Deferred.fromCoroutine(self.firewall.clear()))
        await self.firewall.drop(port)

    def assert_every_byte(
        self, recording: Recording, listener: Listener, capture: ListenerCapture, upto: int
    ) -> None:
        """
        The listener received what went on air, byte for byte and in
        order, from where it started to at least the stream offset
        C{upto}.
        """
        start = listener.position - listener.sent
        self.assertGreaterEqual(start, recording.start)
        received = bytes(capture.audio)
        offset = start - recording.start
        expected = bytes(recording.audio[offset : offset + len(received)])
        if received != expected:
            differ = next(
                (at for at, (a, b) in enumerate(zip(received, expected, strict=False)) if a != b),
                min(len(received), len(expected)),
            )
            self.fail(
                f"the listener's audio differs from what went on air at byte {differ} "
                f"of {len(received)} ({len(expected)} on air since it started)"
            )
        self.assertGreaterEqual(start + len(received), upto)

    @asynchronous
    async def test_listener_dropped_at_queue_size(self) -> None:
        """
        A listener whose packets are dropped mid-stream falls behind, as
        its audio goes unacknowledged, and is dropped once it lags past
        the mount's C{queue_size}; its connection is gone on the
        station's side while the peer never heard of it.  Another
        listener receives every byte that went on air, in order, all
        along.
        """
        mount_config = MountConfig(
            name="/stream", music=self.music(), burst_size=BURST, queue_size=64 * 1024
        )
        service, port, mount = await self.start(mount_config, send_buffer=4096)
        assert mount is not None
        recording = Recording(mount)
        await wait_for(lambda: len(recording.audio) > BURST, 10, reactor)
        steady = Reader(b"GET /stream HTTP/1.0\r\n\r\n", reactor)
        await self.connect(port, steady, steady.gone)
        await wait_for(lambda: len(mount.listeners) == 1, 10, reactor)
        [kept] = mount.listeners
        vanishing = Reader(b"GET /stream HTTP/1.0\r\n\r\n", reactor)
        await self.connect(port, vanishing, vanishing.gone, source=VANISHING)
        await wait_for(lambda: vanishing.received > BURST, 10, reactor)
        self.assertEqual(len(mount.listeners), 2)
        self.assertEqual(service.factory.per_address.open(VANISHING), 1)

        await self.drop(port)
        await wait_for(lambda: mount.dropped == 1, 60, reactor)
        dropped_at = recording.end
        self.assertEqual(mount.listeners, {kept})
        await wait_for(lambda: service.factory.per_address.open(VANISHING) == 0, 10, reactor)
        self.assertFalse(vanishing.gone.called)

        # The other listener plays on, past the drop, without a gap.
        await wait_for(lambda: kept.position > dropped_at + 2 * RATE, 20, reactor)
        sent = kept.sent
        await wait_for(lambda: len(steady.capture.audio) >= sent, 10, reactor)
        self.assertFalse(steady.gone.called)
        self.assertEqual(mount.dropped, 1)
        self.assert_every_byte(recording, kept, steady.capture, dropped_at + 2 * RATE)

    @asynchronous
    async def test_source_timed_out(self) -> None:
        """
        A live source whose packets are dropped sends nothing more: it is
        disconnected at the source timeout, counted from the last audio
        it sent, while it never heard of it; the mount goes back to its
        playlist.  A listener hears the playlist, the show and the
        playlist again, every byte that went on air, in order, on one
        connection.
        """
        mount_config = MountConfig(
            name="/stream", music=self.music(), burst_size=BURST, metaint=2000
        )
        service, port, mount = await self.start(mount_config, source_password=PASSWORD)
        assert mount is not None and mount.switch is not None
        sources = service.factory.sources
        assert sources is not None
        recording = Recording(mount)
        await wait_for(lambda: len(recording.audio) > BURST, 10, reactor)
        listener = Reader(b"GET /stream HTTP/1.0\r\nIcy-MetaData: 1\r\n\r\n", reactor)
        await self.connect(port, listener, listener.gone)
        await wait_for(lambda: len(mount.listeners) == 1, 10, reactor)
        [kept] = mount.listeners

        with open(TONE, "rb") as tone:
            encoder = Encoder(tone.read(), reactor)
        await self.connect(port, encoder, encoder.gone, source=VANISHING)
        await wait_for(lambda: "/stream" in sources.connected, 10, reactor)
        self.assertTrue(encoder.reply.startswith(b"HTTP/1.0 200 "), encoder.reply)
        source = sources.connected["/stream"]
        ended: list[float] = []

        def end(connection: SourceConnection) -> None:
            ended.append(reactor.seconds() - connection.last_data)

        source.on_end.append(end)
        titles = listener.capture.titles
        await wait_for(lambda: any(title == LIVE_TITLE for _, title in titles), 20, reactor)

        await self.drop(port)
        await wait_for(lambda: bool(ended), 60, reactor)
        self.assertGreaterEqual(ended[0], SOURCE_TIMEOUT)
        self.assertNotIn("/stream", sources.connected)
        await wait_for(lambda: service.factory.per_address.open(VANISHING) == 0, 10, reactor)
        self.assertFalse(encoder.gone.called)

        # Back to the playlist, for the listener too.
        switch = mount.switch
        await wait_for(lambda: switch.live is None and not switch.on_air, 30, reactor)
        back_at = recording.end
        await wait_for(lambda: titles[-1][1] in (FIRST, SECOND), 10, reactor)
        await wait_for(lambda: kept.position > back_at + RATE, 20, reactor)
        sent = kept.sent
        await wait_for(lambda: len(listener.capture.audio) >= sent, 10, reactor)
        heard = [title for _, title in titles]
        self.assertIn(heard[0], (FIRST, SECOND))
        self.assertIn(LIVE_TITLE, heard)
        now = mount.now_playing
        assert now is not None
        self.assertIn(now.stream_title, (FIRST, SECOND))
        self.assertFalse(listener.gone.called)
        self.assert_every_byte(recording, kept, listener.capture, back_at + RATE)

    @asynchronous
    async def test_request_head_timed_out(self) -> None:
        """
        A client that vanishes before finishing its request head is
        closed at the header timeout, not before, while it never heard
        of it.
        """
        mount_config = MountConfig(name="/stream", music=self.music(), burst_size=BURST)
        service, port, mount = await self.start(mount_config, header_timeout=2.0)
        client = Reader(b"GET /stream HTTP/1.0\r\nUser-Agent: vanish", reactor)
        connected = reactor.seconds()
        await self.connect(port, client, client.gone, source=VANISHING)
        await wait_for(lambda: service.factory.per_address.open(VANISHING) == 1, 10, reactor)

        await self.drop(port)
        await wait_for(lambda: service.factory.per_address.open(VANISHING) == 0, 30, reactor)
        self.assertGreaterEqual(reactor.seconds() - connected, 2.0)
        self.assertFalse(client.gone.called)
        self.assertEqual(client.received, 0)
        assert mount is not None
        self.assertEqual(mount.listeners, set())

    @asynchronous
    async def test_idle_event_stream_found_by_keepalive(self) -> None:
        """
        An event stream whose client vanishes between events has nothing
        in flight to retransmit and no timer of the station's runs out:
        TCP keepalive, at the timings of the factory's C{keepalive}, finds
        it before the next event or comment is due, and the stream and
        its connection are cleaned up, with nothing written to it
        meanwhile.
        """
        live = MountConfig(name="/live", live_only=True)
        service, port, mount = await self.start(live)
        service.factory.keepalive = Keepalive(idle=1, interval=1, count=2)
        streams = service.page.events.streams
        client = Reader(f"GET {EVENTS_PATH}?mount=/live HTTP/1.0\r\n\r\n".encode(), reactor)
        await self.connect(port, client, client.gone, source=VANISHING)
        await wait_for(lambda: client.capture.audio.endswith(b"\n\n"), 10, reactor)
        self.assertIn(b"event: snapshot", client.capture.audio)
        [stream] = streams
        handle = socket_of(stream.request.transport)
        assert handle is not None
        self.assertEqual(handle.getsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPIDLE), 1)
        await wait_for(lambda: unacknowledged(handle) == 0, 10, reactor)
        written = stream.request.sentLength

        await self.drop(port)
        await wait_for(lambda: not streams, 30, reactor)
        self.assertTrue(stream.closed)
        self.assertEqual(stream.request.sentLength, written)
        await wait_for(lambda: service.factory.per_address.open(VANISHING) == 0, 10, reactor)
        self.assertFalse(client.gone.called)

    @asynchronous
    async def test_event_stream_with_data_in_flight(self) -> None:
        """
        An event stream whose client vanishes while a comment is in flight
        (so keepalive never gets its idle time) is found by the user
        timeout set with keepalive, in as long as keepalive would take,
        not the kernel's fifteen minutes of retransmissions.
        """
        live = MountConfig(name="/live", live_only=True)
        service, port, mount = await self.start(live)
        service.factory.keepalive = Keepalive(idle=1, interval=1, count=2)
        events = service.page.events
        # A comment every quarter second: there is always one in flight.
        events.keepalive = 0.25
        events._tick = 0.25
        streams = events.streams
        client = Reader(f"GET {EVENTS_PATH}?mount=/live HTTP/1.0\r\n\r\n".encode(), reactor)
        await self.connect(port, client, client.gone, source=VANISHING)
        await wait_for(lambda: client.capture.audio.endswith(b"\n\n"), 10, reactor)
        [stream] = streams
        handle = socket_of(stream.request.transport)
        assert handle is not None
        self.assertEqual(handle.getsockopt(socket.IPPROTO_TCP, socket.TCP_USER_TIMEOUT), 3000)

        await self.drop(port)
        dropped_at = reactor.seconds()
        await wait_for(lambda: stream.last_write > dropped_at, 10, reactor)
        await wait_for(lambda: not streams, 30, reactor)
        self.assertTrue(stream.closed)
        await wait_for(lambda: service.factory.per_address.open(VANISHING) == 0, 10, reactor)
        self.assertFalse(client.gone.called)
