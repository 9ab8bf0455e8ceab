"""
Tests for L{radiod.outbound.webhooks}: the request each event becomes, the
queue, the retries and their timing with a fake agent on a L{Clock}, and
delivery to a real HTTP server on loopback.
"""

from __future__ import annotations

import datetime
import hashlib
import hmac
import ipaddress
import json
import os
import shutil
import tempfile
from collections.abc import Sequence
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from twisted.internet import tcp
from twisted.internet.defer import CancelledError, Deferred
from twisted.internet.error import ConnectionLost, ConnectionRefusedError
from twisted.internet.interfaces import IConsumer, IListeningPort, IProducer, IProtocol
from twisted.internet.ssl import DefaultOpenSSLContextFactory
from twisted.internet.task import Clock
from twisted.logger import LogEvent, LogLevel, capturedLogs, formatEvent
from twisted.python.failure import Failure
from twisted.trial.unittest import SynchronousTestCase, TestCase
from twisted.web.client import ResponseDone, ResponseNeverReceived
from twisted.web.http import PotentialDataLoss
from twisted.web.http_headers import Headers
from twisted.web.iweb import UNKNOWN_LENGTH, IAgent, IBodyProducer, IClientRequest, IResponse
from twisted.web.resource import Resource
from twisted.web.server import NOT_DONE_YET, Request, Site
from zope.interface import implementer
from zope.interface.verify import verifyObject

from radiod import __version__
from radiod.config import WebhookConfig
from radiod.outbound.webhooks import (
    USER_AGENT,
    WebhookLimits,
    Webhooks,
    is_retried,
    request_uri,
    signature,
    webhook_body,
)
from radiod.tls import load_trust
from tests.support.loopback import asynchronous, reactor, wait_for

URL = "http://hooks.example:8080/radiod"

TRACK = {
    "mount": "/stream",
    "title": "First Song",
    "artist": "Alpha Artist",
    "album": "Alpha",
    "started": 1000.5,
    "listeners": 3,
}


@implementer(IConsumer)
class _Collector:
    """
    Keeps what a body producer writes.
    """

    def __init__(self) -> None:
        self.data = b""

    def registerProducer(self, producer: IProducer, streaming: bool) -> None:
        pass

    def unregisterProducer(self) -> None:
        pass

    def write(self, data: bytes) -> None:
        self.data += data


@implementer(IResponse)
class FakeResponse:
    """
    An answer with a status and a body, delivered at once.
    """

    version = (b"HTTP", 1, 1)
    phrase = b"Whatever"
    length = UNKNOWN_LENGTH
    request: IClientRequest | None = None
    previousResponse: IResponse | None = None

    def __init__(self, code: int, body: bytes, complete: bool) -> None:
        self.code = code
        self.headers = Headers()
        self._body = body
        self._complete = complete

    def deliverBody(self, protocol: IProtocol) -> None:
        protocol.dataReceived(self._body)
        end = ResponseDone() if self._complete else PotentialDataLoss()
        protocol.connectionLost(Failure(end))

    def setPreviousResponse(self, response: IResponse) -> None:
        self.previousResponse = response


class FakeRequest:
    """
    One request made through L{FakeAgent}, which the test answers.

    @ivar cancelled: whether the request was cancelled.
    """

    def __init__(self, method: bytes, uri: bytes, headers: Headers, body: bytes) -> None:
        self.method = method
        self.uri = uri
        self.headers = headers
        self.body = body
        self.cancelled = False
        self.answer: Deferred[IResponse] = Deferred(self._cancel)

    def _cancel(self, answer: Deferred[IResponse]) -> None:
        # As Agent does: the cancellation is wrapped.
        self.cancelled = True
        answer.errback(ResponseNeverReceived([Failure(CancelledError())]))

    def header(self, name: bytes) -> str | None:
        """
        The value of header C{name}, or L{None}.
        """
        values = self.headers.getRawHeaders(name)
        return values[0].decode() if values else None

    @property
    def document(self) -> dict[str, Any]:
        """
        The body, read as JSON.
        """
        parsed: dict[str, Any] = json.loads(self.body)
        return parsed

    def respond(self, code: int, body: bytes = b"", complete: bool = True) -> None:
        """
        Answer with C{code} and C{body} (cut short unless C{complete}).
        """
        self.answer.callback(FakeResponse(code, body, complete))


@implementer(IAgent)
class FakeAgent:
    """
    An agent that keeps each request for the test to answer.

    @ivar requests: every request made, in order.
    """

    def __init__(self) -> None:
        self.requests: list[FakeRequest] = []

    def request(
        self,
        method: bytes,
        uri: bytes,
        headers: Headers | None = None,
        bodyProducer: IBodyProducer | None = None,
    ) -> Deferred[IResponse]:
        collector = _Collector()
        if bodyProducer is not None:
            bodyProducer.startProducing(collector)
        made = FakeRequest(method, uri, headers or Headers(), collector.data)
        self.requests.append(made)
        return made.answer

    def unanswered(self) -> list[FakeRequest]:
        """
        The requests not answered nor cancelled yet.
        """
        return [made for made in self.requests if not made.answer.called]


def messages(events: Sequence[LogEvent], level: LogLevel = LogLevel.warn) -> list[str]:
    """
    The webhook log lines of C{level} among C{events}, formatted.
    """
    return [
        formatEvent(event)
        for event in events
        if event.get("log_level") == level
        and str(event.get("log_namespace", "")).startswith("radiod.outbound.webhooks")
    ]


class BodyTests(SynchronousTestCase):
    """
    The pure parts: the body, its signature, which answers are retried,
    and the waits between attempts.
    """

    def test_body(self) -> None:
        """
        The body is compact JSON in UTF-8: the event, the time and the
        station, then the document's fields.
        """
        body = webhook_body("track", 1234.5, "Caf\xe9 FM", {"title": "\xe9t\xe9", "listeners": 2})
        self.assertEqual(
            body,
            '{"event":"track","time":1234.5,"station":"Caf\xe9 FM",'
            '"title":"\xe9t\xe9","listeners":2}'.encode(),
        )

    def test_envelope_kept(self) -> None:
        """
        A document field named as one of the envelope's is left out.
        """
        body = webhook_body("track", 1.0, "FM", {"event": "x", "time": 0, "station": "y", "a": 1})
        self.assertEqual(json.loads(body), {"event": "track", "time": 1.0, "station": "FM", "a": 1})

    def test_body_refuses(self) -> None:
        """
        A value JSON cannot write is an error, not an invalid body.
        """
        self.assertRaises(TypeError, webhook_body, "track", 1.0, "FM", {"a": object()})
        self.assertRaises(ValueError, webhook_body, "track", 1.0, "FM", {"a": float("nan")})

    def test_request_uri(self) -> None:
        """
        An ASCII URL is requested as it is; another gets its host in IDNA
        and the rest percent-encoded in UTF-8.
        """
        for url in (
            "http://h:8080/a%20b?x=1&y=%2F&z=a+b",
            "http://[::1]:8000/hook",
            "https://hooks.example/services/T0/B0/XXXX",
        ):
            self.assertEqual(request_uri(url), url.encode())
        self.assertEqual(
            request_uri("http://B\xfccher.example:81/caf\xe9?q=\xe9&r=%2F"),
            b"http://xn--bcher-kva.example:81/caf%C3%A9?q=%C3%A9&r=%2F",
        )
        self.assertEqual(request_uri("http://[::1]/\xe9"), b"http://[::1]/%C3%A9")
        self.assertRaises(ValueError, request_uri, "http://" + "\xe9" * 70 + ".example/")

    def test_signature(self) -> None:
        """
        The signature is the hex HMAC-SHA256 of the body under the secret
        (RFC 4231, test case 2), after C{sha256=}.
        """
        self.assertEqual(
            signature("Jefe", b"what do ya want for nothing?"),
            "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843",
        )

    def test_retried(self) -> None:
        """
        5xx, 408 and 429 are worth another attempt; other answers are not.
        """
        for code in (500, 502, 503, 504, 408, 429):
            self.assertTrue(is_retried(code), code)
        for code in (200, 204, 301, 400, 401, 403, 404, 410, 422):
            self.assertFalse(is_retried(code), code)

    def test_delays(self) -> None:
        """
        The waits double from the first, up to the longest.
        """
        limits = WebhookLimits()
        self.assertEqual([limits.delay(n) for n in range(1, 10)], [1, 2, 4, 8, 16, 32, 60, 60, 60])
        short = WebhookLimits(backoff=0.5, max_backoff=3.0)
        self.assertEqual([short.delay(n) for n in range(1, 5)], [0.5, 1.0, 2.0, 3.0])

    def test_limits_refused(self) -> None:
        """
        Limits that leave no room for an event, an attempt or a time are
        refused.
        """
        for changes in (
            {"queue": 0},
            {"attempts": 0},
            {"timeout": 0.0},
            {"backoff": -1.0},
            {"backoff": 10.0, "max_backoff": 5.0},
        ):
            self.assertRaises(ValueError, WebhookLimits, **changes)


class DeliveryTests(SynchronousTestCase):
    """
    L{Webhooks} with a fake agent on a L{Clock}.
    """

    def setUp(self) -> None:
        self.clock = Clock()
        self.clock.advance(1700000000.0)
        self.agent = FakeAgent()

    def hooks(self, *configs: WebhookConfig, **limits: Any) -> Webhooks:
        """
        L{Webhooks} for C{configs} (by default one to L{URL} for every
        event) through the fake agent, with the limits changed as given;
        the clock must have no waits left at the end of the test.
        """
        chosen = configs or (WebhookConfig(url=URL),)
        built = Webhooks(
            chosen,
            self.clock,
            station="Test FM",
            agent_factory=lambda: self.agent,
            limits=WebhookLimits(**limits),
        )
        self.addCleanup(lambda: self.assertEqual(self.clock.getDelayedCalls(), []))
        return built

    def test_fakes(self) -> None:
        """
        The fake agent and its answers provide the interfaces of what they
        stand in for.
        """
        self.assertTrue(verifyObject(IAgent, self.agent))
        self.assertTrue(verifyObject(IResponse, FakeResponse(200, b"", True)))

    def test_request(self) -> None:
        """
        An event is one C{POST} of its body to the webhook's URL, with the
        JSON content type, radiod's user agent and the event's name; a
        webhook without a secret gets no signature.
        """
        hooks = self.hooks()
        hooks.send("track", TRACK)
        [made] = self.agent.requests
        self.assertEqual((made.method, made.uri), (b"POST", URL.encode()))
        self.assertEqual(made.header(b"Content-Type"), "application/json")
        self.assertEqual(made.header(b"User-Agent"), f"radiod/{__version__}")
        self.assertEqual(USER_AGENT, f"radiod/{__version__}")
        self.assertEqual(made.header(b"X-Radiod-Event"), "track")
        self.assertIsNone(made.header(b"X-Radiod-Signature"))
        self.assertEqual(made.body, webhook_body("track", 1700000000.0, "Test FM", TRACK))
        made.respond(204)
        self.assertEqual(hooks.webhooks[0].sent, 1)

    def test_signed(self) -> None:
        """
        A webhook with a secret gets the signature of the exact body.
        """
        self.hooks(WebhookConfig(url=URL, secret="s3cret")).send("live_start", {"mount": "/a"})
        [made] = self.agent.requests
        expected = hmac.new(b"s3cret", made.body, hashlib.sha256).hexdigest()
        self.assertEqual(made.header(b"X-Radiod-Signature"), f"sha256={expected}")
        self.assertEqual(made.header(b"X-Radiod-Event"), "live_start")
        made.respond(200)

    def test_international_url(self) -> None:
        """
        A URL with a host and path outside ASCII is sent as its URI form.
        """
        self.hooks(WebhookConfig(url="http://b\xfccher.example/caf\xe9")).send("track", TRACK)
        [made] = self.agent.requests
        self.assertEqual(made.uri, b"http://xn--bcher-kva.example/caf%C3%A9")
        made.respond(200)

    def test_events(self) -> None:
        """
        Each webhook is sent the events it is subscribed to, all of them
        when it names none; every one gets the same body.
        """
        hooks = self.hooks(
            WebhookConfig(url="http://h/tracks", events=("track",)),
            WebhookConfig(url="http://h/live", events=("live_start", "live_end")),
            WebhookConfig(url="http://h/all"),
        )
        hooks.send("track", TRACK)
        hooks.send("live_start", {"mount": "/live"})
        hooks.send("silence", {"mount": "/live"})
        while self.agent.unanswered():
            for made in self.agent.unanswered():
                made.respond(200)
        sent = [(made.uri.decode(), made.document["event"]) for made in self.agent.requests]
        self.assertEqual(
            sorted(sent),
            [
                ("http://h/all", "live_start"),
                ("http://h/all", "silence"),
                ("http://h/all", "track"),
                ("http://h/live", "live_start"),
                ("http://h/tracks", "track"),
            ],
        )
        self.assertEqual([webhook.sent for webhook in hooks.webhooks], [1, 1, 3])
        tracks = [made.body for made in self.agent.requests if made.document["event"] == "track"]
        self.assertEqual(len(set(tracks)), 1)

    def test_unknown_event(self) -> None:
        """
        An event radiod does not know is refused.
        """
        self.assertRaises(ValueError, self.hooks().send, "tarck", TRACK)
        self.assertEqual(self.agent.requests, [])

    def test_one_at_a_time(self) -> None:
        """
        A webhook makes one request at a time, for its events in the
        order they were sent.
        """
        hooks = self.hooks()
        for number in range(3):
            hooks.send("track", {"title": str(number)})
        self.assertEqual(len(self.agent.requests), 1)
        self.assertEqual(hooks.webhooks[0].waiting, 2)
        for expected in ("0", "1", "2"):
            [made] = self.agent.unanswered()
            self.assertEqual(made.document["title"], expected)
            made.respond(200)
        self.assertEqual(len(self.agent.requests), 3)
        self.assertEqual(hooks.webhooks[0].sent, 3)

    def test_full_queue(self) -> None:
        """
        When an event comes to a full queue, the oldest waiting is dropped
        and logged once, naming the webhook and the event; the one being
        delivered is kept.
        """
        hooks = self.hooks(WebhookConfig(url=URL + "?token=abc"), queue=2)
        hooks.send("track", {"title": "delivering"})
        hooks.send("live_start", {"title": "oldest"})
        hooks.send("live_end", {"title": "kept"})
        with capturedLogs() as events:
            hooks.send("silence", {"title": "newest"})
        [line] = messages(events)
        self.assertIn(URL + "?...", line)
        self.assertNotIn("abc", line)
        self.assertIn("live_start", line)
        [event] = [e for e in events if e.get("log_level") == LogLevel.warn]
        self.assertEqual(event["event"], "live_start")
        webhook = hooks.webhooks[0]
        self.assertEqual((webhook.dropped, webhook.waiting), (1, 2))
        titles = []
        while self.agent.unanswered():
            [made] = self.agent.unanswered()
            titles.append(made.document["title"])
            made.respond(200)
        self.assertEqual(titles, ["delivering", "kept", "newest"])
        self.assertEqual((webhook.sent, webhook.dropped, webhook.failed), (3, 1, 0))

    def test_backoff(self) -> None:
        """
        An event answered with 5xx is tried again after 1, 2, 4 and 8 s,
        then given up with a log line; the next event goes at once.
        """
        hooks = self.hooks()
        hooks.send("track", {"title": "failing"})
        hooks.send("track", {"title": "next"})
        with capturedLogs() as events:
            for delay in (1.0, 2.0, 4.0, 8.0):
                self.agent.unanswered()[0].respond(503, b"Busy\nmore")
                self.clock.advance(delay - 0.001)
                self.assertEqual(self.agent.unanswered(), [])
                self.clock.advance(0.001)
                self.assertEqual(len(self.agent.unanswered()), 1)
            self.agent.unanswered()[0].respond(500)
        webhook = hooks.webhooks[0]
        self.assertEqual(
            [made.document["title"] for made in self.agent.requests[:5]], 5 * ["failing"]
        )
        self.assertEqual(len({made.body for made in self.agent.requests[:5]}), 1)
        self.assertEqual(webhook.failed, 1)
        [line] = messages(events)
        self.assertIn("gave up the track event after 5 attempts: 500", line)
        retries = messages(events, LogLevel.info)
        self.assertEqual(len(retries), 4)
        self.assertIn("(503 Busy); attempt 2 of 5 in 1 s", retries[0])
        [made] = self.agent.unanswered()
        self.assertEqual(made.document["title"], "next")
        made.respond(200)
        self.assertEqual((webhook.sent, webhook.failed), (1, 1))

    def test_retried_then_delivered(self) -> None:
        """
        An event answered with 500, then 200, is delivered once.
        """
        hooks = self.hooks()
        hooks.send("track", TRACK)
        self.agent.requests[0].respond(500)
        self.clock.advance(1.0)
        self.agent.requests[1].respond(200)
        self.assertEqual(len(self.agent.requests), 2)
        self.assertEqual((hooks.webhooks[0].sent, hooks.webhooks[0].failed), (1, 0))

    def test_retried_answers(self) -> None:
        """
        408 and 429 are tried again; so is a connection that fails.
        """
        hooks = self.hooks()
        hooks.send("track", TRACK)
        self.agent.requests[0].respond(408)
        self.clock.advance(1.0)
        self.agent.requests[1].respond(429)
        self.clock.advance(2.0)
        with capturedLogs() as events:
            self.agent.requests[2].answer.errback(ConnectionRefusedError("refused"))
            self.clock.advance(4.0)
            lost = ResponseNeverReceived([Failure(ConnectionLost("reset by peer"))])
            self.agent.requests[3].answer.errback(lost)
        self.clock.advance(8.0)
        self.agent.requests[4].respond(200)
        self.assertEqual(hooks.webhooks[0].sent, 1)
        first, second = messages(events, LogLevel.info)
        self.assertIn("refused", first)
        self.assertIn("(Connection to the other side was lost", second)
        self.assertIn("reset by peer", second)

    def test_refused(self) -> None:
        """
        A 4xx other than 408 and 429 refuses the event for good: logged,
        and not sent again.
        """
        hooks = self.hooks()
        hooks.send("track", TRACK)
        with capturedLogs() as events:
            self.agent.requests[0].respond(404, b"No such hook " + b"x" * 5000 + b"\nmore")
        self.clock.advance(120)
        self.assertEqual(len(self.agent.requests), 1)
        [line] = messages(events)
        self.assertIn(f"Webhook {URL} refused the track event: 404 No such hook xxx", line)
        [refusal] = [event for event in events if event.get("log_level") == LogLevel.warn]
        self.assertEqual(len(refusal["reason"]), len("404 ") + 120)
        self.assertEqual(hooks.webhooks[0].failed, 1)

    def test_redirect_refused(self) -> None:
        """
        A redirection is not followed, nor tried again.
        """
        hooks = self.hooks()
        hooks.send("track", TRACK)
        self.agent.requests[0].respond(301)
        self.clock.advance(120)
        self.assertEqual(len(self.agent.requests), 1)
        self.assertEqual(hooks.webhooks[0].failed, 1)

    def test_body_cut_short(self) -> None:
        """
        A 2xx whose body is cut short still delivers the event.
        """
        hooks = self.hooks()
        hooks.send("track", TRACK)
        self.agent.requests[0].respond(200, b"partial", complete=False)
        self.assertEqual(hooks.webhooks[0].sent, 1)

    def test_timeout(self) -> None:
        """
        A request not answered within the timeout is cancelled and tried
        again after the wait.
        """
        hooks = self.hooks(timeout=5.0)
        hooks.send("track", TRACK)
        self.clock.advance(4.999)
        self.assertFalse(self.agent.requests[0].cancelled)
        with capturedLogs() as events:
            self.clock.advance(0.001)
        self.assertTrue(self.agent.requests[0].cancelled)
        [line] = messages(events, LogLevel.info)
        self.assertIn("(no answer within 5 s); attempt 2 of 5 in 1 s", line)
        self.clock.advance(1.0)
        self.agent.requests[1].respond(200)
        self.assertEqual(hooks.webhooks[0].sent, 1)

    def test_stop_in_flight(self) -> None:
        """
        L{Webhooks.stop} cancels the request under way and forgets the
        events waiting, without a log line; its L{Deferred} fires at the
        reactor's next turn.  Nothing is sent after it.
        """
        hooks = self.hooks()
        hooks.send("track", TRACK)
        hooks.send("live_end", {})
        with capturedLogs() as events:
            stopped = hooks.stop()
        self.assertTrue(self.agent.requests[0].cancelled)
        self.assertNoResult(stopped)
        self.clock.advance(0)
        self.successResultOf(stopped)
        hooks.send("track", TRACK)
        self.assertEqual(len(self.agent.requests), 1)
        self.assertEqual(messages(events), [])
        webhook = hooks.webhooks[0]
        self.assertEqual((webhook.sent, webhook.failed, webhook.dropped, webhook.waiting), (0,) * 4)

    def test_stop_waiting(self) -> None:
        """
        L{Webhooks.stop} cancels a wait before another attempt, and then
        fires at once.
        """
        hooks = self.hooks()
        hooks.send("track", TRACK)
        self.agent.requests[0].respond(500)
        self.assertEqual(len(self.clock.getDelayedCalls()), 1)
        self.successResultOf(hooks.stop())
        self.clock.advance(60)
        self.assertEqual(len(self.agent.requests), 1)

    def test_stop_idle(self) -> None:
        """
        L{Webhooks.stop} with nothing under way fires at once.
        """
        self.successResultOf(self.hooks().stop())


class Recorder(Resource):
    """
    A webhook receiver: keeps each request, answers with the next status
    of L{answers} (200 when none are left), or not at all while L{hold},
    or with the start of a body that never ends while L{stall}.

    @ivar received: each request's path, headers and body, in order.
    @ivar held: the requests not answered, with their ends.
    """

    isLeaf = True

    def __init__(self) -> None:
        super().__init__()
        self.received: list[tuple[bytes, Headers, bytes]] = []
        self.answers: list[int] = []
        self.hold = False
        self.stall = False
        self.held: list[Deferred[None]] = []

    def render_POST(self, request: Request) -> bytes | int:
        assert request.content is not None
        self.received.append((request.path, request.requestHeaders, request.content.read()))
        if self.hold or self.stall:
            self.held.append(request.notifyFinish())
            if self.stall:
                request.setHeader(b"content-length", b"1000")
                request.write(b"the start")
            return NOT_DONE_YET
        request.setResponseCode(self.answers.pop(0) if self.answers else 200)
        return b"thanks\n"

    def documents(self, path: bytes | None = None) -> list[dict[str, Any]]:
        """
        The bodies received (at C{path}), read as JSON.
        """
        return [json.loads(body) for at, _, body in self.received if path in (None, at)]


def self_signed(address: str) -> tuple[bytes, bytes]:
    """
    A certificate for the IP address C{address}, signed by its own key,
    valid for a day either side of now.

    @return: the certificate and its key, in PEM.
    """
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, address)])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address(address))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    return certificate.public_bytes(serialization.Encoding.PEM), key_pem


def connections() -> list[object]:
    """
    The TCP connections the reactor is watching.
    """
    watched = reactor.getReaders() + reactor.getWriters()
    return [each for each in watched if isinstance(each, tcp.Connection)]


class LoopbackTests(TestCase):
    """
    L{Webhooks} delivering to a real HTTP server on loopback, through the
    real reactor.
    """

    timeout = 30

    def setUp(self) -> None:
        self.recorder = Recorder()
        self.port: IListeningPort = reactor.listenTCP(0, Site(self.recorder), interface="127.0.0.1")
        self.addCleanup(self.port.stopListening)

    def url(self, path: str) -> str:
        """
        The receiver's URL for C{path}.
        """
        return f"http://127.0.0.1:{self.port.getHost().port}{path}"  # type: ignore[attr-defined]

    def hooks(self, *configs: WebhookConfig, **limits: Any) -> Webhooks:
        """
        L{Webhooks} for C{configs} on the real reactor, with short waits
        between attempts; stopped at the end of the test, after which no
        connection may be left.
        """
        settings: dict[str, Any] = {"timeout": 5.0, "backoff": 0.01, "max_backoff": 0.05}
        settings.update(limits)
        built = Webhooks(configs, reactor, station="Loop FM", limits=WebhookLimits(**settings))
        self.addCleanup(self.stopped, built)
        return built

    def stopped(self, hooks: Webhooks) -> Deferred[None]:
        """
        Stop C{hooks}; fires once no connection is left.
        """

        async def stop() -> None:
            await hooks.stop()
            await wait_for(lambda: not connections(), 5, reactor)

        return Deferred.fromCoroutine(stop())

    @asynchronous
    async def test_delivered(self) -> None:
        """
        The body and the headers arrive, and the signature, computed over
        the body received, verifies.
        """
        hooks = self.hooks(WebhookConfig(url=self.url("/hook?key=1"), secret="p\xe4ss"))
        before = reactor.seconds()
        hooks.send("track", TRACK)
        await wait_for(lambda: hooks.webhooks[0].sent == 1, 10, reactor)
        [(path, headers, body)] = self.recorder.received
        self.assertEqual(path, b"/hook")
        document = json.loads(body)
        when = document.pop("time")
        self.assertEqual(document, {"event": "track", "station": "Loop FM", **TRACK})
        self.assertTrue(before <= when <= reactor.seconds())
        self.assertEqual(headers.getRawHeaders(b"content-type"), [b"application/json"])
        self.assertEqual(headers.getRawHeaders(b"user-agent"), [f"radiod/{__version__}".encode()])
        self.assertEqual(headers.getRawHeaders(b"x-radiod-event"), [b"track"])
        expected = hmac.new("p\xe4ss".encode(), body, hashlib.sha256).hexdigest()
        self.assertEqual(
            headers.getRawHeaders(b"x-radiod-signature"), [f"sha256={expected}".encode()]
        )

    @asynchronous
    async def test_events(self) -> None:
        """
        Each webhook receives only the events it is subscribed to.
        """
        hooks = self.hooks(
            WebhookConfig(url=self.url("/tracks"), events=("track",)),
            WebhookConfig(url=self.url("/peaks"), events=("listener_peak",)),
            WebhookConfig(url=self.url("/all")),
        )
        hooks.send("track", TRACK)
        hooks.send("listener_peak", {"mount": "/stream", "listeners": 9})
        hooks.send("station_down", {})
        await wait_for(lambda: sum(w.sent for w in hooks.webhooks) == 5, 10, reactor)

        def events(path: bytes) -> list[str]:
            return [document["event"] for document in self.recorder.documents(path)]

        self.assertEqual(events(b"/tracks"), ["track"])
        self.assertEqual(events(b"/peaks"), ["listener_peak"])
        self.assertEqual(events(b"/all"), ["track", "listener_peak", "station_down"])

    @asynchronous
    async def test_retried(self) -> None:
        """
        An event answered with 500 is sent again, the same bytes, and once
        answered with 200 is delivered once.
        """
        self.recorder.answers = [500]
        hooks = self.hooks(WebhookConfig(url=self.url("/hook"), secret="k"))
        hooks.send("track", TRACK)
        await wait_for(lambda: hooks.webhooks[0].sent == 1, 10, reactor)
        self.assertEqual(len(self.recorder.received), 2)
        first, second = self.recorder.received
        self.assertEqual(first[2], second[2])
        self.assertEqual(
            first[1].getRawHeaders(b"x-radiod-signature"),
            second[1].getRawHeaders(b"x-radiod-signature"),
        )
        self.assertEqual(hooks.webhooks[0].failed, 0)

    @asynchronous
    async def test_not_found(self) -> None:
        """
        An event answered with 404 is not sent again: the next event is
        the next request.
        """
        self.recorder.answers = [404]
        hooks = self.hooks(WebhookConfig(url=self.url("/hook")))
        hooks.send("track", {"title": "refused"})
        hooks.send("track", {"title": "delivered"})
        await wait_for(lambda: hooks.webhooks[0].sent == 1, 10, reactor)
        titles = [document["title"] for document in self.recorder.documents()]
        self.assertEqual(titles, ["refused", "delivered"])
        self.assertEqual(hooks.webhooks[0].failed, 1)

    @asynchronous
    async def test_order(self) -> None:
        """
        Events arrive in the order sent, even when the first has to be
        sent again.
        """
        self.recorder.answers = [503]
        hooks = self.hooks(WebhookConfig(url=self.url("/hook")))
        for number in range(6):
            hooks.send("track", {"title": str(number)})
        await wait_for(lambda: hooks.webhooks[0].sent == 6, 10, reactor)
        titles = [document["title"] for document in self.recorder.documents()]
        self.assertEqual(titles, ["0", "0", "1", "2", "3", "4", "5"])

    @asynchronous
    async def test_timeout(self) -> None:
        """
        A request the server does not answer in time is abandoned, its
        connection closed, and the event sent again.
        """
        self.recorder.hold = True
        hooks = self.hooks(WebhookConfig(url=self.url("/hook")), timeout=0.3)
        hooks.send("track", TRACK)
        await wait_for(lambda: len(self.recorder.received) == 1, 10, reactor)
        self.recorder.hold = False
        await self.recorder.held[0].addErrback(lambda failure: None)
        await wait_for(lambda: hooks.webhooks[0].sent == 1, 10, reactor)
        self.assertEqual(len(self.recorder.received), 2)

    @asynchronous
    async def test_slow_body(self) -> None:
        """
        An answer whose body does not all come in time is abandoned, its
        connection closed, and the event sent again.
        """
        self.recorder.stall = True
        hooks = self.hooks(WebhookConfig(url=self.url("/hook")), timeout=0.3)
        hooks.send("track", TRACK)
        await wait_for(lambda: len(self.recorder.received) == 1, 10, reactor)
        self.recorder.stall = False
        await self.recorder.held[0].addErrback(lambda failure: None)
        await wait_for(lambda: hooks.webhooks[0].sent == 1, 10, reactor)
        self.assertEqual(len(self.recorder.received), 2)

    @asynchronous
    async def test_unreachable(self) -> None:
        """
        A webhook nobody listens at is tried as many times as allowed, then
        the event is given up.
        """
        closed = reactor.listenTCP(0, Site(Resource()), interface="127.0.0.1")
        url = f"http://127.0.0.1:{closed.getHost().port}/hook"
        await closed.stopListening()
        hooks = self.hooks(WebhookConfig(url=url), attempts=3)
        with capturedLogs() as events:
            hooks.send("track", TRACK)
            await wait_for(lambda: hooks.webhooks[0].failed == 1, 10, reactor)
        [line] = messages(events)
        self.assertIn("gave up the track event after 3 attempts", line)
        self.assertEqual(len(messages(events, LogLevel.info)), 2)

    async def https_url(self) -> tuple[str, str]:
        """
        Serve the receiver over TLS too, with a certificate for
        C{127.0.0.1} that is its own authority.

        @return: the receiver's C{https://} URL for C{/hook}, and the
            certificate's PEM file (to trust it).
        """
        folder = tempfile.mkdtemp()
        self.addCleanup(shutil.rmtree, folder, True)
        cert_pem, key_pem = self_signed("127.0.0.1")
        authority = os.path.join(folder, "authority.pem")
        with open(authority, "wb") as f:
            f.write(cert_pem)
        key = os.path.join(folder, "key.pem")
        with open(key, "wb") as f:
            f.write(key_pem)
        tls = DefaultOpenSSLContextFactory(key, authority)
        port = reactor.listenSSL(0, Site(self.recorder), tls, interface="127.0.0.1")
        self.addCleanup(port.stopListening)
        return f"https://127.0.0.1:{port.getHost().port}/hook", authority

    @asynchronous
    async def test_https(self) -> None:
        """
        An C{https://} webhook whose certificate chains to the authorities
        given receives its events.
        """
        url, authority = await self.https_url()
        settings = WebhookLimits(timeout=5.0, backoff=0.01, max_backoff=0.05)
        hooks = Webhooks(
            [WebhookConfig(url=url)], reactor, limits=settings, trust=load_trust(authority)
        )
        self.addCleanup(self.stopped, hooks)
        hooks.send("track", TRACK)
        await wait_for(lambda: hooks.webhooks[0].sent == 1, 10, reactor)
        self.assertEqual(self.recorder.documents()[0]["title"], TRACK["title"])

    @asynchronous
    async def test_https_untrusted(self) -> None:
        """
        An C{https://} webhook whose certificate does not chain to the
        system's authorities is not sent the event.
        """
        url, _ = await self.https_url()
        hooks = self.hooks(WebhookConfig(url=url), attempts=2)
        with capturedLogs() as events:
            hooks.send("track", TRACK)
            await wait_for(lambda: hooks.webhooks[0].failed == 1, 10, reactor)
        self.assertEqual(self.recorder.received, [])
        [line] = messages(events)
        self.assertIn("gave up the track event after 2 attempts", line)
        self.assertIn("certificate verify failed", line)

    @asynchronous
    async def test_stop(self) -> None:
        """
        L{Webhooks.stop} abandons the request under way: the server sees
        its connection closed, and no connection is left.
        """
        self.recorder.hold = True
        hooks = self.hooks(WebhookConfig(url=self.url("/hook")))
        hooks.send("track", TRACK)
        hooks.send("track", TRACK)
        await wait_for(lambda: len(self.recorder.received) == 1, 10, reactor)
        await hooks.stop()
        ended = self.recorder.held[0]
        await ended.addErrback(lambda failure: None)
        await wait_for(lambda: not connections(), 5, reactor)
        webhook = hooks.webhooks[0]
        self.assertEqual((webhook.sent, webhook.failed, webhook.waiting), (0, 0, 0))
        self.assertEqual(len(self.recorder.received), 1)
