"""
Tests for L{radiod.reconnect}: the one backoff policy, the reconnecting
client built on L{ClientService}, and the three clients that use it
(relaying in, relaying out and C{radiod-push}) keeping to the policy.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from typing import Any

from twisted.internet.defer import Deferred, fail, succeed
from twisted.internet.error import ConnectionDone, ConnectionRefusedError
from twisted.internet.interfaces import IReactorTime, IStreamClientEndpoint, ITransport
from twisted.internet.protocol import Protocol
from twisted.internet.task import Clock
from twisted.internet.testing import MemoryReactorClock, StringTransport
from twisted.logger import capturedLogs
from twisted.python.failure import Failure
from twisted.trial.unittest import SynchronousTestCase
from zope.interface.verify import verifyObject

from radiod.audio.track import TrackInfo
from radiod.broadcast.mount import Mount
from radiod.config import MountConfig
from radiod.ingest.relay import Relay, RelayProtocol
from radiod.outbound.cli import MAX_DELAY, Pusher
from radiod.outbound.client import PushOptions, SourceProtocol
from radiod.outbound.relay import RelayOut
from radiod.reconnect import BACKOFF_MAX, ReconnectingClient, _Attempts, _Retries, backoff
from radiod.testing import FakeFrameSource, silent_frame, synchronous_runner
from tests.support.loopback import FIXTURES

DOUBLING = [1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 60.0, 60.0, 60.0]
"""
The waits after the first nine failures in a row.
"""

OK = b"HTTP/1.0 200 OK\r\n\r\n"
AUDIO_HEAD = b"HTTP/1.0 200 OK\r\nContent-Type: audio/mpeg\r\n\r\n"
FRAME = silent_frame(fill=1)
SONG = TrackInfo("/a.mp3", "First Song", "Alpha Artist")


class BackoffTests(SynchronousTestCase):
    """
    L{backoff}, the policy every reconnecting client uses.
    """

    def test_doubling(self) -> None:
        """
        The wait after the first failure is one second; it doubles after
        each further failure, up to L{BACKOFF_MAX}.
        """
        policy = backoff()
        self.assertEqual([policy(n) for n in range(1, 10)], DOUBLING)
        self.assertEqual(policy(1000), BACKOFF_MAX)

    def test_cap(self) -> None:
        """
        A client may ask for a shorter longest wait.
        """
        policy = backoff(30.0)
        self.assertEqual([policy(n) for n in range(4, 8)], [8.0, 16.0, 30.0, 30.0])


class Attempts:
    """
    Attempts that a test settles by hand.

    @ivar made: every attempt, oldest first.
    @ivar cancelled: the attempts cancelled.
    @ivar refuse: whether new attempts fail at once.
    """

    def __init__(self) -> None:
        self.made: list[Deferred[ITransport]] = []
        self.cancelled: list[Deferred[ITransport]] = []
        self.refuse = False

    def __call__(self) -> Deferred[ITransport]:
        """
        Make an attempt.
        """
        if self.refuse:
            self.made.append(fail(ConnectionRefusedError()))
            return self.made[-1]
        attempt: Deferred[ITransport] = Deferred(self.cancelled.append)
        self.made.append(attempt)
        return attempt

    def accept(self) -> StringTransport:
        """
        The newest attempt is accepted.

        @return: its transport.
        """
        transport = StringTransport()
        self.made[-1].callback(transport)
        return transport

    def fail(self) -> None:
        """
        The newest attempt fails.
        """
        self.made[-1].errback(ConnectionRefusedError())


class ReconnectingClientTests(SynchronousTestCase):
    """
    L{ReconnectingClient} on a fake clock, with attempts settled by hand.
    """

    def client(self, max_delay: float = BACKOFF_MAX) -> tuple[ReconnectingClient, Attempts]:
        """
        A started client, the attempts it makes, and (in C{self.delays})
        the delays it reports; the test must leave no call scheduled.
        """
        self.clock = Clock()
        self.delays: list[float] = []
        attempts = Attempts()
        client = ReconnectingClient(self.clock, attempts, self.delays.append, max_delay)
        client.start()
        self.addCleanup(lambda: self.assertEqual(self.clock.getDelayedCalls(), []))
        return client, attempts

    def wait(self, client: ReconnectingClient) -> float:
        """
        The wait before the scheduled reconnection, which is then made.
        """
        retry = client.retry
        assert retry is not None
        delay = retry.getTime() - self.clock.seconds()
        self.clock.advance(delay)
        return delay

    def test_first_attempt_at_once(self) -> None:
        """
        Starting makes an attempt at once; starting again does nothing.
        """
        client, attempts = self.client()
        client.start()
        self.assertEqual(len(attempts.made), 1)
        self.assertTrue(client.running)
        client.stop()

    def test_failures_back_off(self) -> None:
        """
        Failed attempts are retried after 1, 2, 4 ... 60 seconds, and the
        client is told each delay as it is scheduled.
        """
        client, attempts = self.client()
        waits = []
        for _ in DOUBLING:
            attempts.fail()
            waits.append(self.wait(client))
        self.assertEqual(waits, DOUBLING)
        self.assertEqual(self.delays, DOUBLING)
        self.assertEqual(len(attempts.made), len(DOUBLING) + 1)
        client.stop()

    def test_max_delay(self) -> None:
        """
        The longest wait is the client's C{max_delay}.
        """
        client, attempts = self.client(max_delay=5.0)
        for _ in range(4):
            attempts.fail()
            self.wait(client)
        self.assertEqual(self.delays, [1.0, 2.0, 4.0, 5.0])
        client.stop()

    def test_accepted_resets(self) -> None:
        """
        Once an attempt is accepted, the end of its connection is retried
        after one second, and the failures after that double again.
        """
        client, attempts = self.client()
        for _ in range(3):
            attempts.fail()
            self.wait(client)
        self.assertEqual(client.delay, 8.0)
        attempts.accept()
        self.assertEqual(client.failures, 0)
        self.assertEqual(client.delay, 1.0)
        self.assertIsNone(client.retry)
        client.lost()
        self.assertEqual(self.wait(client), 1.0)
        attempts.fail()
        self.assertEqual(self.wait(client), 2.0)
        client.stop()

    def test_lost_without_connection(self) -> None:
        """
        L{ReconnectingClient.lost} does nothing while no attempt has been
        accepted.
        """
        client, attempts = self.client()
        client.lost()
        self.assertIsNone(client.retry)
        self.assertEqual(len(attempts.made), 1)
        client.stop()

    def test_stop_cancels_retry(self) -> None:
        """
        Stopping while waiting to reconnect cancels the reconnection.
        """
        client, attempts = self.client()
        attempts.fail()
        self.assertIsNotNone(client.retry)
        self.successResultOf(client.stop())
        self.assertIsNone(client.retry)
        self.assertFalse(client.running)
        self.clock.advance(120)
        self.assertEqual(len(attempts.made), 1)

    def test_stop_cancels_attempt(self) -> None:
        """
        Stopping during an attempt cancels it, and nothing follows.
        """
        client, attempts = self.client()
        self.successResultOf(client.stop())
        self.assertEqual(attempts.cancelled, attempts.made)
        self.assertFalse(client.running)
        self.assertEqual(self.delays, [])

    def test_stop_closes_connection(self) -> None:
        """
        Stopping closes the accepted connection; once it has ended the
        client has stopped, and does not reconnect.
        """
        client, attempts = self.client()
        transport = attempts.accept()
        stopped = client.stop()
        self.assertTrue(transport.disconnecting)
        self.assertNoResult(stopped)
        client.lost()
        self.successResultOf(stopped)
        self.assertIsNone(client.retry)
        self.assertEqual(self.delays, [])

    def test_stop_during_attempt_step(self) -> None:
        """
        A stop asked for by an attempt that fails at once (while the
        client is still making it) takes effect right after it.
        """
        clock = Clock()
        stopped: list[Deferred[None]] = []

        def attempt() -> Deferred[ITransport]:
            stopped.append(client.stop())
            return fail(ConnectionRefusedError())

        client = ReconnectingClient(clock, attempt, lambda delay: None)
        client.start()
        self.successResultOf(stopped[0])
        self.assertFalse(client.running)
        self.assertEqual(clock.getDelayedCalls(), [])

    def test_restart(self) -> None:
        """
        A stopped client starts again with an attempt at once.
        """
        client, attempts = self.client()
        attempts.fail()
        client.stop()
        client.start()
        self.assertEqual(len(attempts.made), 2)
        attempts.fail()
        self.assertEqual(self.wait(client), 2.0)
        client.stop()

    def test_interfaces(self) -> None:
        """
        The clock and the endpoint the client gives L{ClientService}
        provide L{IReactorTime} and L{IStreamClientEndpoint}.
        """
        self.assertTrue(verifyObject(IReactorTime, _Retries(Clock(), lambda action: None)))
        self.assertTrue(verifyObject(IStreamClientEndpoint, _Attempts(lambda factory: Deferred())))

    def test_quiet(self) -> None:
        """
        Only the client logs its retries: L{ClientService} adds no line of
        its own.
        """
        client, attempts = self.client()
        with capturedLogs() as events:
            attempts.fail()
            self.wait(client)
            client.stop()
        self.assertEqual(events, [])


class Server:
    """
    The server side of L{RelayOut}'s and L{Pusher}'s connections: each is
    a L{StringTransport}, or refused while C{refusing}.

    @ivar attempts: the connections asked for, refused ones included.
    @ivar protocols: the connections made.
    """

    def __init__(self) -> None:
        self.attempts = 0
        self.protocols: list[SourceProtocol] = []
        self.refusing = False

    def connect(self, protocol: Protocol) -> Deferred[Any]:
        """
        A L{radiod.outbound.client.Connect}.
        """
        self.attempts += 1
        if self.refusing:
            return fail(ConnectionRefusedError("refused"))
        assert isinstance(protocol, SourceProtocol)
        protocol.makeConnection(StringTransport())
        self.protocols.append(protocol)
        return succeed(protocol)

    def announce(self, title: str) -> Deferred[Any]:
        """
        A L{radiod.outbound.client.Announce} that succeeds.
        """
        return succeed(None)

    def accept(self) -> None:
        """
        Accept the newest source connection.
        """
        self.protocols[-1].dataReceived(OK)

    def drop(self) -> None:
        """
        Close the newest source connection.
        """
        self.protocols[-1].connectionLost(Failure(ConnectionDone()))


class SharedPolicyTests(SynchronousTestCase):
    """
    Relaying in (L{Relay}), relaying out (L{RelayOut}) and C{radiod-push}
    (L{Pusher}) reconnect alike: after 1, 2, 4 ... 60 seconds, back to
    one second once a connection was accepted (audio flowed, or the
    server took the source), and not at all once stopped.
    """

    def waits(self, clock: Clock, attempts: Callable[[], int], fail: Callable[[], object]) -> float:
        """
        Make the newest attempt fail with C{fail}, then let time pass
        until the next attempt.

        @param attempts: counts the attempts made so far.
        @return: the seconds that passed.
        """
        fail()
        made = attempts()
        waited = 0.0
        while attempts() == made:
            self.assertLess(waited, 120.0, "no reconnection")
            clock.advance(0.5)
            waited += 0.5
        return waited

    # Relaying in

    def relay(self) -> tuple[Relay, MemoryReactorClock]:
        """
        A started relay on a fake reactor; its mount does not play.  The
        test must leave no call scheduled.
        """
        reactor = MemoryReactorClock()
        mount = Mount(MountConfig(name="/relayed"), FakeFrameSource([(SONG, FRAME, 10)]), reactor)
        assert mount.switch is not None
        relay = Relay(reactor, reactor, mount.switch, "http://up.example/live", name="/relayed")
        relay.start()
        self.addCleanup(lambda: self.assertEqual(reactor.getDelayedCalls(), []))
        return relay, reactor

    def refuse_relay(self, reactor: MemoryReactorClock) -> None:
        """
        The relay's newest connection attempt fails.
        """
        reactor.tcpClients[-1][2].clientConnectionFailed(
            reactor.connectors[-1], Failure(ConnectionRefusedError())
        )

    def connect_relay(self, reactor: MemoryReactorClock) -> RelayProtocol:
        """
        The relay's newest connection attempt succeeds.
        """
        protocol = reactor.tcpClients[-1][2].buildProtocol(None)
        assert isinstance(protocol, RelayProtocol)
        protocol.makeConnection(StringTransport())
        return protocol

    def test_relay_doubles(self) -> None:
        """
        A relay whose upstream cannot be reached retries after 1, 2, 4 ...
        60 seconds.
        """
        relay, reactor = self.relay()
        waits = [
            self.waits(reactor, lambda: len(reactor.tcpClients), lambda: self.refuse_relay(reactor))
            for _ in DOUBLING
        ]
        self.assertEqual(waits, DOUBLING)
        relay.stop()

    def test_relay_reset_after_audio(self) -> None:
        """
        A relay connection that delivered audio is retried after one
        second; one that delivered none counts as a failure.
        """
        relay, reactor = self.relay()

        def count() -> int:
            return len(reactor.tcpClients)

        waits = [self.waits(reactor, count, lambda: self.refuse_relay(reactor)) for _ in range(2)]
        silent = self.connect_relay(reactor)
        silent.dataReceived(AUDIO_HEAD)
        waits.append(self.waits(reactor, count, lambda: silent.connectionLost(None)))
        playing = self.connect_relay(reactor)
        playing.dataReceived(AUDIO_HEAD + FRAME.data * 3)
        waits.append(self.waits(reactor, count, lambda: playing.connectionLost(None)))
        waits.append(self.waits(reactor, count, lambda: self.refuse_relay(reactor)))
        self.assertEqual(waits, [1.0, 2.0, 4.0, 1.0, 2.0])
        relay.stop()

    def test_relay_stop(self) -> None:
        """
        Stopping a relay waiting to reconnect cancels the reconnection.
        """
        relay, reactor = self.relay()
        self.refuse_relay(reactor)
        self.assertIsNotNone(relay.pending)
        relay.stop()
        self.assertEqual(reactor.getDelayedCalls(), [])
        reactor.advance(120)
        self.assertEqual(len(reactor.tcpClients), 1)

    # Relaying out

    def relay_out(self, refusing: bool = False) -> tuple[RelayOut, Clock, Server]:
        """
        A started relay out to a fake server (refusing connections when
        C{refusing}), on a fake clock.  The test must leave no call
        scheduled.
        """
        clock = Clock()
        server = Server()
        server.refusing = refusing
        mount = Mount(MountConfig(name="/stream"), FakeFrameSource([(SONG, FRAME, 10)]), clock)
        relay = RelayOut(
            clock,
            mount,
            "http://ice.example:8000/relay",
            "source",
            "pw",
            connect=server.connect,
            announce=server.announce,
        )
        relay.start()
        self.addCleanup(lambda: self.assertEqual(clock.getDelayedCalls(), []))
        return relay, clock, server

    def test_relay_out_doubles(self) -> None:
        """
        A relay out whose server cannot be reached retries after 1, 2, 4
        ... 60 seconds.
        """
        relay, clock, server = self.relay_out(refusing=True)
        waits = [self.waits(clock, lambda: server.attempts, lambda: None) for _ in DOUBLING]
        self.assertEqual(waits, DOUBLING)
        relay.stop()

    def test_relay_out_reset_after_accepted(self) -> None:
        """
        A source connection the server accepted is retried after one
        second once it ends; refusals before and after double.
        """
        relay, clock, server = self.relay_out()

        def count() -> int:
            return server.attempts

        def refuse() -> None:
            server.protocols[-1].dataReceived(b"HTTP/1.0 403 Forbidden\r\n\r\n")

        waits = [self.waits(clock, count, refuse) for _ in range(3)]
        server.accept()
        waits.append(self.waits(clock, count, server.drop))
        waits.append(self.waits(clock, count, refuse))
        self.assertEqual(waits, [1.0, 2.0, 4.0, 1.0, 2.0])
        relay.stop()

    def test_relay_out_stop(self) -> None:
        """
        Stopping a relay out waiting to reconnect cancels the
        reconnection.
        """
        relay, clock, server = self.relay_out()
        server.accept()
        server.drop()
        self.assertEqual(len(clock.getDelayedCalls()), 1)
        relay.stop()
        self.assertEqual(clock.getDelayedCalls(), [])
        clock.advance(120)
        self.assertEqual(server.attempts, 1)

    # radiod-push

    def pusher(self, max_delay: float = BACKOFF_MAX) -> tuple[Pusher, Clock, Server]:
        """
        A started push of one file to a fake server, on a fake clock,
        whose first connection the server has accepted.  The test must
        leave no call scheduled.
        """
        music = self.mktemp()
        os.makedirs(music)
        shutil.copy(os.path.join(FIXTURES, "alpha-artist-first-song.mp3"), music)
        clock = Clock()
        server = Server()
        options = PushOptions(url="http://radio.example:8001/live", location=music, password="pw")
        pusher = Pusher(
            clock,
            options,
            synchronous_runner,
            connect=server.connect,
            announce=server.announce,
            max_delay=max_delay,
        )
        pusher.start()
        server.accept()
        self.addCleanup(lambda: self.assertEqual(clock.getDelayedCalls(), []))
        return pusher, clock, server

    def refuse_from_now(self, server: Server) -> None:
        """
        C{server} drops the connection under way, unanswered, and refuses
        the next ones.
        """
        server.refusing = True
        server.drop()

    def test_pusher_doubles(self) -> None:
        """
        Once streaming, a push whose server drops it and then cannot be
        reached retries after 1, 2, 4 ... 60 seconds (with the longest
        wait asked for; C{radiod-push} waits at most L{MAX_DELAY}).
        """
        pusher, clock, server = self.pusher()

        def count() -> int:
            return server.attempts

        waits = [self.waits(clock, count, server.drop)]
        waits.append(self.waits(clock, count, lambda: self.refuse_from_now(server)))
        waits += [self.waits(clock, count, lambda: None) for _ in DOUBLING[2:]]
        self.assertEqual(waits, DOUBLING)
        pusher.stop()

    def test_pusher_default_cap(self) -> None:
        """
        C{radiod-push} waits at most L{MAX_DELAY} between attempts.
        """
        pusher, clock, server = self.pusher(MAX_DELAY)

        def count() -> int:
            return server.attempts

        waits = [self.waits(clock, count, server.drop)]
        waits.append(self.waits(clock, count, lambda: self.refuse_from_now(server)))
        waits += [self.waits(clock, count, lambda: None) for _ in range(5)]
        self.assertEqual(waits, [1.0, 2.0, 4.0, 8.0, 16.0, 30.0, 30.0])
        pusher.stop()

    def test_pusher_reset_after_accepted(self) -> None:
        """
        A connection the server accepted again is retried after one
        second once it ends.
        """
        pusher, clock, server = self.pusher()

        def count() -> int:
            return server.attempts

        def unanswered() -> None:
            server.protocols[-1].connectionLost(Failure(ConnectionDone()))

        waits = [self.waits(clock, count, server.drop)]
        waits += [self.waits(clock, count, unanswered) for _ in range(2)]
        server.accept()
        waits.append(self.waits(clock, count, server.drop))
        self.assertEqual(waits, [1.0, 2.0, 4.0, 1.0])
        pusher.stop()

    def test_pusher_stop(self) -> None:
        """
        Stopping a push waiting to reconnect cancels the reconnection.
        """
        pusher, clock, server = self.pusher()
        server.drop()
        pusher.stop()
        self.assertEqual(clock.getDelayedCalls(), [])
        clock.advance(120)
        self.assertEqual(server.attempts, 1)
