# -*- test-case-name: tests.outbound.test_webhooks -*-
"""
Station events POSTed to the configured webhooks (the C{[[webhook]]}
tables, L{radiod.config.WebhookConfig}).

L{Webhooks} holds one L{Webhook} per table.  L{Webhooks.send} gives an
event to each webhook subscribed to it (a webhook with no C{events} is
subscribed to all of L{radiod.config.WEBHOOK_EVENTS}); each webhook
delivers its events in the order they were sent, one request at a time.

Each event is one C{POST} to the webhook's URL.  Its body is one JSON
object, in UTF-8, made once per event (every webhook gets the same
bytes)::

    {"event": "track", "time": 1718000000.25, "station": "radiod",
     "mount": "/stream", "title": "Song", "artist": "Artist",
     "album": "Album", "started": 1718000000.0, "listeners": 12}

  - C{event}: the event's name, one of L{radiod.config.WEBHOOK_EVENTS}.
  - C{time}: when the station sent it, in Unix seconds (a float).
  - C{station}: the station's name, as L{Webhooks} was given it.
  - then the fields of the event's document, as the station gives it to
    L{Webhooks.send}: for C{track}, C{mount} (the mount's name),
    C{title}, C{artist} and C{album} (empty when unknown), C{started}
    (when the track went on air, in Unix seconds) and C{listeners} (the
    mount's listeners then).  A document field named C{event}, C{time}
    or C{station} is left out: the envelope's are kept.

The headers are C{Content-Type: application/json}, C{User-Agent:
radiod/<version>}, C{X-Radiod-Event: <event>} and, when the webhook has a
secret, C{X-Radiod-Signature: sha256=<hex>}: the HMAC-SHA256 of the exact
body bytes under the secret (encoded in UTF-8; see L{signature}).  A
receiver computes it over the raw body it read, before parsing it, and
compares the two in constant time.

An answer with a 2xx status delivers the event.  A 4xx other than 408
(timeout) or 429 (too many requests) refuses it for good: the refusal is
logged and the event is not sent again; so is a 1xx or 3xx (redirections
are not followed: the URL is wrong).  A 5xx, a 408, a 429, no complete
answer within L{WebhookLimits.timeout}, and a connection that fails are
tried again after a delay doubling from L{WebhookLimits.backoff} up to
L{WebhookLimits.max_backoff}, up to L{WebhookLimits.attempts} attempts in
all; the event is then given up, with a log line.  While an event is
being tried, the events after it wait, up to L{WebhookLimits.queue} of
them per webhook: when another comes, the oldest waiting is dropped, with
a log line naming the webhook and the event.

Nothing here blocks the reactor, and nothing waits on a webhook but its
own queue.  L{Webhook.sent}, L{Webhook.failed} and L{Webhook.dropped}
count, for metrics, the events delivered, refused or given up, and
dropped.  L{Webhooks.stop} cancels every request and retry under way.

Log lines name a webhook by its URL without its query (where tokens
usually are), as L{Webhook.name} gives it.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from urllib.parse import quote, urlsplit

from twisted.internet.defer import CancelledError, Deferred, succeed
from twisted.internet.interfaces import IConsumer, IReactorTime
from twisted.internet.protocol import Protocol, connectionDone
from twisted.internet.task import deferLater
from twisted.logger import Logger
from twisted.python.failure import Failure
from twisted.web.client import Agent, BrowserLikePolicyForHTTPS, HTTPConnectionPool
from twisted.web.http_headers import Headers
from twisted.web.iweb import IAgent, IBodyProducer, IResponse
from zope.interface import implementer

from radiod import __version__
from radiod.config import WEBHOOK_EVENTS, WebhookConfig
from radiod.reconnect import BACKOFF_MAX, BACKOFF_START

__all__ = [
    "USER_AGENT",
    "MemoryBody",
    "Webhook",
    "WebhookLimits",
    "Webhooks",
    "is_retried",
    "request_uri",
    "signature",
    "webhook_body",
]

USER_AGENT = f"radiod/{__version__}"
"""
The C{User-Agent} of every webhook request.
"""

_REASON_KEPT = 120
"""
The most characters of an answer's body a log line quotes.
"""

_BODY_KEPT = 1024
"""
How many bytes of the start of an answer's body are kept.
"""


@dataclass(frozen=True, slots=True)
class WebhookLimits:
    """
    How hard each webhook is tried, and how much may wait for it.

    @ivar queue: the most events that may wait for a webhook behind the
        one being delivered; when another comes, the oldest is dropped.
    @ivar timeout: seconds one request may take, its whole answer
        included.
    @ivar attempts: the most requests made for one event, the first
        included.
    @ivar backoff: seconds before the second attempt; each later wait is
        twice the one before, up to L{max_backoff}.
    @ivar max_backoff: the longest wait between two attempts.
    """

    queue: int = 100
    timeout: float = 10.0
    attempts: int = 5
    backoff: float = BACKOFF_START
    max_backoff: float = BACKOFF_MAX

    def __post_init__(self) -> None:
        """
        @raise ValueError: if a limit leaves no room for one event, one
            attempt or a time.
        """
        if self.queue < 1 or self.attempts < 1:
            raise ValueError("a webhook needs a queue of at least 1 and at least 1 attempt")
        if self.timeout <= 0 or self.backoff < 0 or self.max_backoff < self.backoff:
            raise ValueError("a webhook's timeout must be positive, its backoff in order")

    def delay(self, failures: int) -> float:
        """
        The wait after C{failures} failed attempts in a row (at least 1):
        L{backoff} doubled C{failures - 1} times, at most L{max_backoff}
        (1, 2, 4, 8 ... 60 s by default).
        """
        return float(min(self.backoff * 2.0 ** (failures - 1), self.max_backoff))


def webhook_body(event: str, when: float, station: str, document: Mapping[str, object]) -> bytes:
    """
    The body of the request that carries an event (see the module's
    docstring): compact JSON in UTF-8.

    @param event: the event's name.
    @param when: when it was sent, in Unix seconds.
    @param station: the station's name.
    @param document: the event's fields.
    @raise TypeError: if the document holds a value JSON cannot write.
    @raise ValueError: if it holds a float that is not a number.
    """
    envelope: dict[str, object] = {"event": event, "time": when, "station": station}
    for key, value in document.items():
        if key not in envelope:
            envelope[key] = value
    text = json.dumps(envelope, ensure_ascii=False, allow_nan=False, separators=(",", ":"))
    return text.encode("utf-8")


def signature(secret: str, body: bytes) -> str:
    """
    The C{X-Radiod-Signature} of C{body} under C{secret}.

    @return: C{"sha256="} and the hex HMAC-SHA256 of C{body} keyed with
        C{secret} in UTF-8.
    """
    digest = hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


def is_retried(code: int) -> bool:
    """
    Whether an answer with status C{code} is worth the event's being sent
    again: a 5xx, a 408 (timeout) or a 429 (too many requests).
    """
    return code >= 500 or code in (408, 429)


_URI_SAFE = "".join(map(chr, range(0x21, 0x7F)))
"""
The characters a request's URI may hold as they are.
"""


def request_uri(url: str) -> bytes:
    """
    The URI a request for C{url} goes to: C{url} itself when it is ASCII,
    else with its host in IDNA and the rest percent-encoded in UTF-8.

    @param url: an C{http://} or C{https://} URL, without credentials.
    @raise ValueError: if the host cannot be written in IDNA.
    """
    if url.isascii():
        return url.encode("ascii")
    parts = urlsplit(url)
    host, colon, port = parts.netloc.rpartition(":")
    if not colon or not port.isdigit():
        host, colon, port = parts.netloc, "", ""
    try:
        ascii_host = host.encode("idna").decode("ascii")
    except UnicodeError as error:
        raise ValueError(f"cannot write the host {host!r} in IDNA: {error}") from None
    rest = quote(parts.path, safe=_URI_SAFE)
    if parts.query:
        rest += "?" + quote(parts.query, safe=_URI_SAFE)
    uri = f"{parts.scheme}://{ascii_host}{colon}{port}{rest}"
    return uri.encode("ascii")


def _shown(url: str) -> str:
    """
    C{url} as log lines name it: without its query or fragment.
    """
    parts = urlsplit(url)
    shown = parts._replace(query="", fragment="").geturl()
    return f"{shown}?..." if parts.query else shown


def _said(body: bytes) -> str:
    """
    The first line of an answer's body, shortened for a log line.
    """
    text = body.decode("utf-8", "replace").strip()
    line = text.splitlines()[0] if text else ""
    return line[:_REASON_KEPT]


def _reason(error: Exception) -> str:
    """
    Why a request failed, in a few words for a log line: the reasons the
    agent wraps (L{twisted.web.client.ResponseNeverReceived} and its
    kind), else the error's message, else its name.
    """
    wrapped = getattr(error, "reasons", None)
    if isinstance(wrapped, list):
        inner = [each.value for each in wrapped if isinstance(each, Failure)]
        reasons = [_reason(value) for value in inner if isinstance(value, Exception)]
        if reasons:
            return "; ".join(reasons)
    return str(error) or type(error).__name__


class _NoAnswer(Exception):
    """
    A request's answer did not all come within the timeout.
    """


@dataclass(frozen=True, slots=True)
class _Event:
    """
    One event as a webhook sends it.

    @ivar name: the event's name.
    @ivar body: the request's body.
    """

    name: str
    body: bytes


@implementer(IBodyProducer)
class MemoryBody:
    """
    A request body already in memory, written at once.
    """

    def __init__(self, data: bytes) -> None:
        """
        @param data: the body.
        """
        self._data = data
        self.length = len(data)

    def startProducing(self, consumer: IConsumer) -> Deferred[None]:
        """
        Write the whole body to C{consumer}.

        @return: fired already.
        """
        consumer.write(self._data)
        return succeed(None)

    def pauseProducing(self) -> None:
        """
        Nothing to pause: the body is written at once.
        """

    def resumeProducing(self) -> None:
        """
        Nothing to resume: the body is written at once.
        """

    def stopProducing(self) -> None:
        """
        Nothing to stop: the body is written at once.
        """


class _Answer(Protocol):
    """
    Reads an answer's body, keeping only its start (for the log line of
    a refusal).

    It is used instead of L{twisted.web.client.readBody}, whose cancellation cannot close an
    L{Agent}'s connection (the transport it is given has no
    C{abortConnection}), and which keeps the whole body.

    @ivar read: fires with the start of the body once it has all come, or
        was cut short (the status came: only the reason is lost);
        cancelling it closes the connection.
    """

    def __init__(self) -> None:
        self.read: Deferred[bytes] = Deferred(self._cancel)
        self._kept = bytearray()

    def dataReceived(self, data: bytes) -> None:
        """
        Keep the start of the body.
        """
        room = _BODY_KEPT - len(self._kept)
        if room > 0:
            self._kept += data[:room]

    def connectionLost(self, reason: Failure = connectionDone) -> None:
        """
        The body has all come, or was cut short.
        """
        if not self.read.called:
            self.read.callback(bytes(self._kept))

    def _cancel(self, read: Deferred[bytes]) -> None:
        """
        Reading was cancelled (by the timeout, or a stop): close the
        connection.
        """
        if self.transport is not None:
            self.transport.loseConnection()


class Webhook:
    """
    One webhook: its queue of events, delivered one request at a time in
    the order sent.

    @ivar config: the webhook's table.
    @ivar name: its URL as log lines show it (without the query).
    @ivar sent: the events it answered with 2xx.
    @ivar failed: the events it refused for good, and those given up
        after the last attempt.
    @ivar dropped: the events dropped from its full queue.
    """

    _log = Logger()

    def __init__(
        self, config: WebhookConfig, clock: IReactorTime, agent: IAgent, limits: WebhookLimits
    ) -> None:
        """
        @param config: the webhook's table.
        @param clock: for the timeouts and the waits between attempts.
        @param agent: makes the requests.
        @param limits: the queue's size, the timeout and the retries.
        @raise ValueError: if the URL's host cannot be written in IDNA.
        """
        self.config = config
        self.name = _shown(config.url)
        self.sent = 0
        self.failed = 0
        self.dropped = 0
        self._url = request_uri(config.url)
        self._clock = clock
        self._agent = agent
        self._limits = limits
        self._queue: deque[_Event] = deque()
        self._busy = False
        self._running: Deferred[None] | None = None
        self._requesting = False
        self._stopped = False

    def wants(self, event: str) -> bool:
        """
        Whether the webhook is subscribed to C{event}.
        """
        return not self.config.events or event in self.config.events

    @property
    def waiting(self) -> int:
        """
        The events waiting behind the one being delivered.
        """
        return len(self._queue)

    @property
    def idle(self) -> bool:
        """
        Whether it has nothing to deliver: no event being tried, none
        waiting.
        """
        return not self._busy and not self._queue

    def enqueue(self, event: str, body: bytes) -> None:
        """
        Deliver an event after those already waiting, dropping the oldest
        waiting if the queue is full; nothing once L{stop} was called.

        @param event: the event's name.
        @param body: the request's body.
        """
        if self._stopped:
            return
        if len(self._queue) >= self._limits.queue:
            oldest = self._queue.popleft()
            self.dropped += 1
            self._log.warn(
                "Webhook {url}: {queued} events waiting; dropped the oldest, {event}",
                url=self.name,
                event=oldest.name,
                queued=len(self._queue) + 1,
            )
        self._queue.append(_Event(event, body))
        if not self._busy:
            self._busy = True
            running = Deferred.fromCoroutine(self._run())
            running.addErrback(self._crashed)
            if not running.called:
                self._running = running

    def stop(self) -> bool:
        """
        Cancel the request or wait under way and forget the events
        waiting; send nothing more.

        @return: whether a request was cancelled (its connection closes
            at the reactor's next turn).
        """
        self._stopped = True
        self._queue.clear()
        requesting = self._requesting
        running, self._running = self._running, None
        if running is not None:
            running.cancel()
        return requesting

    async def _run(self) -> None:
        """
        Deliver the waiting events, in order, until there are none.
        """
        try:
            while self._queue and not self._stopped:
                await self._deliver(self._queue.popleft())
        finally:
            self._busy = False
            self._running = None

    def _crashed(self, failure: Failure) -> None:
        """
        Log a delivery that ended in an error of radiod's (a stop's
        cancellation is none).
        """
        if not failure.check(CancelledError):
            self._log.failure("Webhook {url}: delivery failed", failure, url=self.name)

    async def _deliver(self, event: _Event) -> None:
        """
        Try one event until it is delivered, refused or given up.
        """
        limits = self._limits
        reason = ""
        for attempt in range(1, limits.attempts + 1):
            self._requesting = True
            try:
                code, reason = await self._attempt(event)
            finally:
                self._requesting = False
            if self._stopped:
                # The agent tells of a request cancelled by stop() as a
                # failure of its own, not always as a cancellation.
                return
            if code is not None and 200 <= code < 300:
                self.sent += 1
                return
            if code is not None and not is_retried(code):
                self.failed += 1
                self._log.warn(
                    "Webhook {url} refused the {event} event: {reason}; not sent again",
                    url=self.name,
                    event=event.name,
                    reason=reason,
                )
                return
            if attempt == limits.attempts:
                break
            delay = limits.delay(attempt)
            self._log.info(
                "Webhook {url}: the {event} event failed ({reason}); "
                "attempt {next} of {attempts} in {delay:g} s",
                url=self.name,
                event=event.name,
                reason=reason,
                next=attempt + 1,
                attempts=limits.attempts,
                delay=delay,
            )
            await deferLater(self._clock, delay)
        self.failed += 1
        self._log.warn(
            "Webhook {url}: gave up the {event} event after {attempts} attempts: {reason}",
            url=self.name,
            event=event.name,
            attempts=limits.attempts,
            reason=reason,
        )

    async def _attempt(self, event: _Event) -> tuple[int | None, str]:
        """
        Make one request for C{event}.

        @return: the answer's status (L{None} when none came) and what
            happened, in a few words for a log line.
        """
        try:
            code, said = await self._post(event)
        except CancelledError:
            raise
        except Exception as error:
            return None, _reason(error)
        return code, f"{code} {said}".rstrip()

    def _post(self, event: _Event) -> Deferred[tuple[int, str]]:
        """
        Make one request for C{event}, within the timeout.

        @return: fires with the answer's status and the first line of its
            body once all of it came; fails with
            L{_NoAnswer} if that takes longer than the timeout, or as the
            request failed.
        """
        timeout = self._limits.timeout

        def late(result: object, timeout: float) -> Failure:
            return Failure(_NoAnswer(f"no answer within {timeout:g} s"))

        answered = Deferred.fromCoroutine(self._exchange(event))
        return answered.addTimeout(timeout, self._clock, onTimeoutCancel=late)

    async def _exchange(self, event: _Event) -> tuple[int, str]:
        """
        Send the request for C{event} and read the answer.

        @return: the answer's status and the first line of its body.
        """
        headers = Headers(
            {
                b"Content-Type": [b"application/json"],
                b"User-Agent": [USER_AGENT.encode("ascii")],
                b"X-Radiod-Event": [event.name.encode("ascii")],
            }
        )
        if self.config.secret:
            sign = signature(self.config.secret, event.body)
            headers.addRawHeader(b"X-Radiod-Signature", sign.encode("ascii"))
        response: IResponse = await self._agent.request(
            b"POST", self._url, headers, MemoryBody(event.body)
        )
        reader = _Answer()
        response.deliverBody(reader)
        body = await reader.read
        return response.code, _said(body)


def _default_agent(reactor: IReactorTime, trust: object | None) -> IAgent:
    """
    An agent making one connection per request, checking C{https://}
    servers' certificates against C{trust} (the system's authorities by
    default) and their names.
    """
    pool = HTTPConnectionPool(reactor, persistent=False)
    policy = BrowserLikePolicyForHTTPS(trustRoot=trust)
    agent: IAgent = Agent(reactor, contextFactory=policy, pool=pool)
    return agent


class Webhooks:
    """
    Every configured webhook: sends each station event to those subscribed
    to it.

    @ivar station: the station's name, in every body.
    @ivar webhooks: one L{Webhook} per table, in the configuration's
        order, with its counters.
    """

    def __init__(
        self,
        webhooks: Sequence[WebhookConfig],
        reactor: IReactorTime,
        station: str = "radiod",
        agent_factory: Callable[[], IAgent] | None = None,
        limits: WebhookLimits | None = None,
        trust: object | None = None,
    ) -> None:
        """
        @param webhooks: the C{[[webhook]]} tables.
        @param reactor: for the time stamps, the timeouts and the waits
            between attempts; the default agent also connects with it, so
            it must then provide C{IReactorTCP} too.
        @param station: the station's name.
        @param agent_factory: makes the agent all requests go through
            (called once); by default an L{Agent} on C{reactor}.
        @param limits: the queue's size, the timeout and the retries of
            each webhook.
        @param trust: the authorities an C{https://} webhook's certificate
            must chain to (see L{radiod.tls.load_trust}); the system's by
            default.
        @raise ValueError: if a webhook's URL has a host that cannot be
            written in IDNA.
        """
        self.station = station
        self._clock = reactor
        self._stopped = False
        if agent_factory is None:
            agent = _default_agent(reactor, trust)
        else:
            agent = agent_factory()
        chosen = limits if limits is not None else WebhookLimits()
        self.webhooks = tuple(Webhook(config, reactor, agent, chosen) for config in webhooks)

    def send(self, event: str, document: Mapping[str, object]) -> None:
        """
        Send an event to every webhook subscribed to it, after the events
        already waiting there; nothing once L{stop} was called.  This
        returns at once.

        @param event: the event's name, one of
            L{radiod.config.WEBHOOK_EVENTS}.
        @param document: the event's fields (see the module's docstring).
        @raise ValueError: if C{event} is not a known event, or the
            document holds a float that is not a number.
        @raise TypeError: if the document holds a value JSON cannot write.
        """
        if event not in WEBHOOK_EVENTS:
            raise ValueError(f"unknown webhook event {event!r}")
        if self._stopped:
            return
        body = webhook_body(event, self._clock.seconds(), self.station, document)
        for webhook in self.webhooks:
            if webhook.wants(event):
                webhook.enqueue(event, body)

    def stop(self) -> Deferred[None]:
        """
        Cancel every request and wait under way and forget the events
        waiting; send nothing more.

        @return: fires when done: at once if no request was under way,
            else once the reactor has had the turn it needs to close the
            cancelled requests' connections.
        """
        self._stopped = True
        cancelled = [webhook.stop() for webhook in self.webhooks]
        if not any(cancelled):
            return succeed(None)
        closed: Deferred[None] = deferLater(self._clock, 0)
        return closed
