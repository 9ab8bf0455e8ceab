# -*- test-case-name: tests.test_reconnect -*-
"""
Reconnecting clients: one connection to another server, kept up by
Twisted's L{ClientService} with radiod's one backoff policy.

A relay pulling an upstream (L{radiod.ingest.relay}), a relay pushing a
mount out and C{radiod-push} (L{radiod.outbound}) each keep one
connection to a server that may drop it, refuse it or be down.  Each
hands a L{ReconnectingClient} its I{attempt}: a function that connects
and negotiates, and whose L{Deferred} fires with the connection's
transport once the far end has I{accepted} it (a relay's upstream sent
audio; a server answered the source request with 2xx), or fails when it
could not connect or the far end refused.  A failed attempt, or the end
of an accepted connection, is retried after L{backoff}'s delay: 1 s
after the first failure in a row, doubling up to 60 s.  Only an accepted
connection starts the count again, so a server that takes the
connection and then refuses it (a wrong password, a 404, a reply that is
not HTTP, garbage instead of audio) backs off like one that is down.

L{ClientService} counts the failures and schedules the retries.  It is
given an endpoint whose C{connect} is one attempt, so a connection
counts as made only once accepted, and an attempt may open more than one
connection (a source client asks again with C{SOURCE} when the server
does not know C{PUT}).  The protocol L{ClientService} holds for the
accepted connection is a placeholder on the same transport, told of the
connection's end by L{ReconnectingClient.lost}: the attempt's own
protocol stays the transport's protocol throughout, and a connection
that ends before it is accepted never reaches L{ClientService} (whose
state machine has no transition for a connection lost while it is still
being prepared).

It may import L{radiod.config}, L{radiod.interfaces}, L{radiod.audio}
and Twisted, and nothing else of radiod.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from twisted.application.internet import ClientService, backoffPolicy
from twisted.internet.defer import Deferred, maybeDeferred
from twisted.internet.interfaces import (
    IDelayedCall,
    IProtocol,
    IProtocolFactory,
    IReactorTime,
    IStreamClientEndpoint,
    ITransport,
)
from twisted.internet.protocol import Factory, Protocol, connectionDone
from twisted.logger import ILogObserver, LogEvent, Logger
from twisted.python.failure import Failure
from zope.interface import implementer, provider

__all__ = ["BACKOFF_MAX", "BACKOFF_START", "Attempt", "ReconnectingClient", "backoff"]

BACKOFF_START = 1.0
"""
Seconds before the first reconnection after a failure.
"""

BACKOFF_MAX = 60.0
"""
The longest wait between two attempts, unless a client asks for less.
"""

Attempt = Callable[[], "Deferred[ITransport]"]
"""
One attempt at a connection the far end accepts: fires with its transport
once accepted, fails if it could not be made or was refused.  Cancelling
it abandons the attempt and closes its connection.
"""


def backoff(max_delay: float = BACKOFF_MAX) -> Callable[[int], float]:
    """
    radiod's retry policy, for L{ClientService}: the wait after the
    C{n}th failure in a row is L{BACKOFF_START} doubled C{n - 1} times,
    at most C{max_delay}, without jitter (1, 2, 4 ... 32, 60, 60 s).

    @param max_delay: the longest wait.
    @return: the policy, from the number of failures in a row (at least 1)
        to seconds.
    """
    doubling = backoffPolicy(
        initialDelay=BACKOFF_START, maxDelay=max_delay, factor=2.0, jitter=lambda: 0.0
    )

    def delay(failures: int) -> float:
        return doubling(failures - 1)

    return delay


@provider(ILogObserver)
def _unheard(event: LogEvent) -> None:
    """
    Drop C{event}.
    """


class _Service(ClientService):
    """
    A L{ClientService} that does not log its retries: each client logs its
    own line, with the reason and the mount or URL, when it is told the
    delay.
    """

    _log = Logger(observer=_unheard)


@implementer(IReactorTime)
class _Retries:
    """
    The clock L{ClientService} schedules reconnections on: the client's
    clock, keeping the reconnection due, and running it as a step of the
    L{ReconnectingClient}.

    @ivar call: the last reconnection scheduled.
    """

    def __init__(self, clock: IReactorTime, step: Callable[[Callable[[], object]], None]) -> None:
        """
        @param clock: the clock to schedule on.
        @param step: runs a reconnection.
        """
        self._clock = clock
        self._step = step
        self.call: IDelayedCall | None = None

    def seconds(self) -> float:
        """
        See L{IReactorTime.seconds}.
        """
        return self._clock.seconds()

    def callLater(
        self, delay: float, callable: Callable[..., Any], *args: object, **kwargs: object
    ) -> IDelayedCall:
        """
        See L{IReactorTime.callLater}.
        """
        self.call = self._clock.callLater(delay, self._step, lambda: callable(*args, **kwargs))
        return self.call

    def getDelayedCalls(self) -> Sequence[IDelayedCall]:
        """
        See L{IReactorTime.getDelayedCalls}.
        """
        return self._clock.getDelayedCalls()


@implementer(IStreamClientEndpoint)
class _Attempts:
    """
    The endpoint L{ClientService} connects to: each connection is one of
    the client's attempts.
    """

    def __init__(self, connect: Callable[[IProtocolFactory], Deferred[IProtocol]]) -> None:
        """
        @param connect: makes an attempt.
        """
        self._connect = connect

    def connect(self, protocolFactory: IProtocolFactory) -> Deferred[IProtocol]:
        """
        See L{IStreamClientEndpoint.connect}.
        """
        return self._connect(protocolFactory)


class ReconnectingClient:
    """
    Keeps one accepted connection to a server for as long as it runs,
    making an attempt at once on L{start} and after each failure or loss
    a delay given by L{backoff}.

    @ivar failures: the attempts that failed in a row since the last
        accepted connection (an accepted connection that ended counts as
        one).
    """

    def __init__(
        self,
        clock: IReactorTime,
        attempt: Attempt,
        retrying: Callable[[float], object],
        max_delay: float = BACKOFF_MAX,
    ) -> None:
        """
        @param clock: schedules the reconnections.
        @param attempt: makes one attempt (see L{Attempt}).
        @param retrying: called with the delay whenever a reconnection is
            scheduled, right after a failed attempt or the end of an
            accepted connection; it may log, not stop the client.
        @param max_delay: the longest wait between attempts.
        """
        self._attempt = attempt
        self._retrying = retrying
        self._policy = backoff(max_delay)
        self._retries = _Retries(clock, self._step)
        self._service = _Service(
            _Attempts(self._connect),
            Factory.forProtocol(Protocol),
            retryPolicy=self._retry,
            clock=self._retries,
        )
        self._connection: IProtocol | None = None
        self._depth = 0
        self._stop_waiters: list[Deferred[None]] = []
        self.failures = 0

    @property
    def running(self) -> bool:
        """
        Whether the client has been started and not stopped.
        """
        return bool(self._service.running)

    @property
    def delay(self) -> float:
        """
        The wait before the next attempt, should the current attempt or
        connection fail.
        """
        return self._policy(self.failures + 1)

    @property
    def retry(self) -> IDelayedCall | None:
        """
        The reconnection scheduled, if one is.
        """
        call = self._retries.call
        return call if call is not None and call.active() else None

    def start(self) -> None:
        """
        Make the first attempt (unless running already).
        """
        if not self.running:
            self._step(self._service.startService)

    def stop(self) -> Deferred[None]:
        """
        Stop: cancel the attempt under way or the reconnection scheduled,
        or close the accepted connection.  Called while an attempt is
        being made, it takes effect as soon as that step is done.

        @return: fires once the attempt is abandoned or the connection
            closed.
        """
        if self._depth:
            waiter: Deferred[None] = Deferred()
            self._stop_waiters.append(waiter)
            return waiter
        stopped: Deferred[None] = self._service.stopService()
        return stopped

    def lost(self, reason: Failure = connectionDone) -> None:
        """
        The accepted connection ended: reconnect after a delay (unless
        stopping).  Nothing happens when no connection was accepted.

        @param reason: why it ended.
        """
        connection, self._connection = self._connection, None
        if connection is not None:
            self._step(lambda: connection.connectionLost(reason))

    def _step(self, action: Callable[[], object]) -> None:
        """
        Run C{action}, which drives L{ClientService} and may run an
        attempt; a stop asked for meanwhile is made once it returns.
        """
        self._depth += 1
        try:
            action()
        finally:
            self._depth -= 1
        if self._depth or not self._stop_waiters:
            return
        waiters, self._stop_waiters = self._stop_waiters, []

        def stopped(_: object) -> None:
            for waiter in waiters:
                waiter.callback(None)

        self._service.stopService().addCallback(stopped)

    def _connect(self, factory: IProtocolFactory) -> Deferred[IProtocol]:
        """
        Make an attempt; once accepted, put L{ClientService}'s placeholder
        protocol (from C{factory}) on its transport.
        """

        def accepted(transport: ITransport) -> IProtocol:
            connection = factory.buildProtocol(transport.getPeer())
            assert connection is not None
            connection.makeConnection(transport)
            self._connection = connection
            self.failures = 0
            return connection

        attempt: Deferred[ITransport] = maybeDeferred(self._attempt)
        return attempt.addCallback(accepted)

    def _retry(self, failures: int) -> float:
        """
        L{ClientService}'s retry policy: L{backoff}, telling the client.
        """
        self.failures = failures
        delay = self._policy(failures)
        self._retrying(delay)
        return delay
