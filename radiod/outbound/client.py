# -*- test-case-name: tests.outbound.test_client -*-
"""
The source client side of pushing a stream to an Icecast-compatible
server: what relaying out (L{radiod.outbound.relay}) and C{radiod-push}
(L{radiod.outbound.cli}) share.

A L{SourceClient} opens source connections to one server mount with
L{SourceProtocol}: the request is C{PUT} (Icecast 2.4 and later, radiod),
asked again as C{SOURCE} when the server does not know C{PUT}.  It tells
the server each new title with a C{GET} of C{/admin/metadata} on a
separate short connection (L{announce_title}).

L{parse_target}, L{source_request}, L{metadata_target} and L{parse_status}
are pure.
"""

from __future__ import annotations

import base64
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, cast
from urllib.parse import quote, urlsplit

from twisted.internet.defer import CancelledError, Deferred
from twisted.internet.endpoints import HostnameEndpoint, connectProtocol, wrapClientTLS
from twisted.internet.interfaces import (
    IConsumer,
    IOpenSSLClientConnectionCreator,
    IPushProducer,
    IStreamClientEndpoint,
)
from twisted.internet.protocol import Protocol, connectionDone
from twisted.logger import Logger
from twisted.python.failure import Failure
from twisted.web.client import Agent, BrowserLikePolicyForHTTPS, readBody
from twisted.web.http_headers import Headers
from zope.interface import implementer

from radiod.audio.frames import Frame
from radiod.audio.track import TrackInfo

__all__ = [
    "MAX_BACKLOG",
    "RETRY_WITH_SOURCE",
    "Announce",
    "Connect",
    "PushError",
    "PushOptions",
    "Refused",
    "SourceClient",
    "SourceProtocol",
    "Unreachable",
    "announce_title",
    "metadata_target",
    "parse_status",
    "parse_target",
    "server_connections",
    "source_request",
    "tcp_connect",
]

MAX_BACKLOG = 5.0
"""
Seconds of audio that may wait unsent while the server does not read
before the connection is given up.
"""

RETRY_WITH_SOURCE = frozenset({400, 405, 501})
"""
Replies to C{PUT} that mean the server does not know the method.
"""

Connect = Callable[[Protocol], "Deferred[Any]"]
"""Connects a protocol to the server; fires when connected."""

Announce = Callable[[str], "Deferred[Any]"]
"""Sends a title update for the current track."""


class PushError(Exception):
    """
    The push cannot go on; the message is one line for the user.
    """


class Unreachable(PushError):
    """
    The server could not be connected to; the message is the reason.
    """


class Refused(PushError):
    """
    The server answered the source request with a status other than 2xx.

    @ivar code: the status code.
    @ivar reason: the status line's reason.
    """

    def __init__(self, code: int, reason: str) -> None:
        """
        @param code: the status code.
        @param reason: the reason, possibly empty.
        """
        super().__init__(f"{code} {reason}".rstrip())
        self.code = code
        self.reason = reason


@dataclass(frozen=True, slots=True)
class PushOptions:
    """
    What to push where.

    @ivar url: the server and mount, C{http://host:8000/stream}.
    @ivar location: a file, a folder or a playlist file.
    @ivar password: the source password.
    @ivar user: the source user name.
    @ivar name: C{ice-name}, or empty.
    @ivar genre: C{ice-genre}, or empty.
    @ivar description: C{ice-description}, or empty.
    @ivar homepage: C{ice-url}, or empty.
    @ivar public: C{ice-public}.
    @ivar shuffle: play in random order.
    @ivar loop: start again after the last track (else stop).
    """

    url: str
    location: str
    password: str
    user: str = "source"
    name: str = ""
    genre: str = ""
    description: str = ""
    homepage: str = ""
    public: bool = False
    shuffle: bool = False
    loop: bool = True


def parse_target(url: str) -> tuple[str, int, str]:
    """
    Split a server URL.

    @param url: C{http://host[:port]/mount} or C{https://...}.
    @return: the host, the port (8000, or 443 for C{https}, when not
        given) and the mount.
    @raise PushError: if it is not an C{http} or C{https} URL with a mount.
    """
    parts = urlsplit(url)
    try:
        port = parts.port or (443 if parts.scheme == "https" else 8000)
    except ValueError:
        raise PushError(f"bad port in {url}") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise PushError(f"{url} is not an http://host:port/mount URL")
    if parts.path in ("", "/"):
        raise PushError(f"{url} names no mount (http://host:port/mount)")
    return parts.hostname, port, parts.path


def _authorization(user: str, password: str) -> str:
    token = base64.b64encode(f"{user}:{password}".encode()).decode("ascii")
    return f"Basic {token}"


def _header_value(value: str) -> str:
    """
    A header value on one line, encoded as UTF-8 would be read as Latin-1.
    """
    flat = " ".join(value.split())
    return flat.encode("utf-8").decode("latin-1")


def source_request(method: str, options: PushOptions) -> bytes:
    """
    The request that opens a source connection.

    @param method: C{"PUT"} (sent as HTTP/1.1) or C{"SOURCE"} (HTTP/1.0).
    @param options: the target, credentials and stream description.
    @return: the request head, ready to write.
    """
    host, port, mount = parse_target(options.url)
    version = "HTTP/1.1" if method == "PUT" else "HTTP/1.0"
    lines = [
        f"{method} {quote(mount)} {version}",
        f"Host: {host}:{port}",
        f"Authorization: {_authorization(options.user, options.password)}",
        "User-Agent: radiod-push",
        "Content-Type: audio/mpeg",
    ]
    described = [
        ("ice-name", options.name),
        ("ice-genre", options.genre),
        ("ice-description", options.description),
        ("ice-url", options.homepage),
    ]
    lines += [f"{key}: {_header_value(value)}" for key, value in described if value]
    lines.append(f"ice-public: {1 if options.public else 0}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def metadata_target(options: PushOptions, title: str) -> str:
    """
    The URL of the title update for C{title}.

    @return: C{http://host:port/admin/metadata?mount=...&mode=updinfo&song=...}.
    """
    host, port, mount = parse_target(options.url)
    return (
        f"http://{host}:{port}/admin/metadata?mount={quote(mount, safe='')}"
        f"&mode=updinfo&song={quote(title, safe='')}&charset=UTF-8"
    )


def parse_status(head: bytes) -> tuple[int, str]:
    """
    Read a reply's status line.

    @param head: the reply, at least its first line.
    @return: the status code and reason.
    @raise PushError: if the first line is not an HTTP or ICY status line.
    """
    line = head.split(b"\n", 1)[0].strip().decode("latin-1")
    parts = line.split(None, 2)
    if len(parts) < 2 or not (parts[0].startswith("HTTP/") or parts[0] == "ICY"):
        raise PushError(f"the server answered {line[:60]!r}, not HTTP")
    if not parts[1].isdigit():
        raise PushError(f"the server answered {line[:60]!r}, not HTTP")
    return int(parts[1]), parts[2] if len(parts) > 2 else ""


def tcp_connect(
    reactor: Any, host: str, port: int, tls: IOpenSSLClientConnectionCreator | None = None
) -> Connect:
    """
    A L{Connect} over TCP to C{host} and C{port}, with TLS when C{tls}
    (which checks the server's certificate) is given.

    @param reactor: provides C{IReactorTCP} and C{IReactorTime}.
    """
    endpoint: IStreamClientEndpoint = HostnameEndpoint(reactor, host, port)
    if tls is not None:
        endpoint = wrapClientTLS(tls, endpoint)

    def connect(protocol: Protocol) -> Deferred[Any]:
        connected: Deferred[Any] = connectProtocol(endpoint, protocol)
        return connected

    return connect


def server_connections(
    reactor: Any, url: str, trust: object | None = None
) -> tuple[Connect, Agent]:
    """
    How to reach the server at C{url}: a L{Connect} for the source
    connection and an L{Agent} for title updates; over TLS for an
    C{https://} URL, checking the server's certificate against C{trust}
    and its name.

    @param reactor: provides C{IReactorTCP} and C{IReactorTime}.
    @param url: the server and mount.
    @param trust: the authorities the certificate must chain to (from
        L{twisted.internet.ssl.platformTrust} or
        L{twisted.internet.ssl.trustRootFromCertificates}); the system's
        by default.
    """
    host, port, _ = parse_target(url)
    if urlsplit(url).scheme != "https":
        return tcp_connect(reactor, host, port), Agent(reactor)
    policy = BrowserLikePolicyForHTTPS(trustRoot=trust)
    tls: IOpenSSLClientConnectionCreator = policy.creatorForNetloc(host.encode("idna"), port)
    return tcp_connect(reactor, host, port, tls), Agent(reactor, contextFactory=policy)


def announce_title(agent: Agent, options: PushOptions, title: str) -> Deferred[None]:
    """
    Send a title update to C{/admin/metadata} with the source credentials.

    @param agent: makes the request.
    @param options: the target and credentials.
    @param title: the new title.
    @return: fires when the server accepted it; fails with L{PushError}
        when it answered with an error.
    """
    headers = Headers({b"Authorization": [_authorization(options.user, options.password).encode()]})
    url = metadata_target(options, title).encode("ascii")
    d = agent.request(b"GET", url, headers)

    def check(response: Any) -> Deferred[None]:
        def judge(body: bytes) -> None:
            if not 200 <= response.code < 300:
                raise PushError(f"{response.code} {body[:80].decode('utf-8', 'replace')}")

        return cast("Deferred[None]", readBody(response).addCallback(judge))

    return d.addCallback(check)


@implementer(IPushProducer)
class SourceProtocol(Protocol):
    """
    One source connection: sends the request, waits for the reply, then
    carries audio.

    @ivar answered: fires with the reply's status code and reason, or
        fails with L{PushError} if the connection ends first.
    @ivar closed: fires when the connection has ended.
    @ivar backlog: seconds of audio written while the transport was
        paused.
    """

    _log = Logger()

    def __init__(self, request: bytes, max_backlog: float = MAX_BACKLOG) -> None:
        """
        @param request: the request head to send.
        @param max_backlog: seconds of unsent audio that end the connection.
        """
        self.request = request
        self.max_backlog = max_backlog
        self.answered: Deferred[tuple[int, str]] = Deferred()
        self.closed: Deferred[None] = Deferred()
        self.paused = False
        self.backlog = 0.0
        self._head = b""

    def connectionMade(self) -> None:
        """
        Send the request.
        """
        assert self.transport is not None
        self.transport.write(self.request)

    def dataReceived(self, data: bytes) -> None:
        """
        Read the reply's status line; ignore what follows.
        """
        if self.answered.called:
            return
        self._head += data
        if b"\n" not in self._head:
            if len(self._head) > 8192:
                self._answer_failed(PushError("the server's reply is not HTTP"))
            return
        try:
            status = parse_status(self._head)
        except PushError as error:
            self._answer_failed(error)
            return
        self.answered.callback(status)

    def _answer_failed(self, error: PushError) -> None:
        self.answered.errback(error)
        assert self.transport is not None
        self.transport.loseConnection()

    def connectionLost(self, reason: Failure = connectionDone) -> None:
        """
        Fail the answer if none came, and fire L{closed}.
        """
        if not self.answered.called:
            self.answered.errback(PushError("the server closed the connection without answering"))
        if not self.closed.called:
            self.closed.callback(None)

    def start_streaming(self) -> None:
        """
        Ask the transport to tell us when the server stops reading.
        """
        assert self.transport is not None
        cast(IConsumer, self.transport).registerProducer(self, True)

    def send(self, frames: Sequence[Frame]) -> None:
        """
        Write frames; give up the connection if too much is waiting.
        """
        assert self.transport is not None
        self.transport.write(b"".join(frame.data for frame in frames))
        if self.paused:
            self.backlog += sum(f.header.samples / f.header.sample_rate for f in frames)
            if self.backlog > self.max_backlog:
                self._log.warn(
                    "The server has not read the last {seconds:.1f} s of audio; disconnecting",
                    seconds=self.backlog,
                )
                self.transport.abortConnection()  # type: ignore[attr-defined]

    def pauseProducing(self) -> None:
        """
        The server stopped reading.
        """
        self.paused = True

    def resumeProducing(self) -> None:
        """
        The server reads again: nothing is waiting any more.
        """
        self.paused = False
        self.backlog = 0.0

    def stopProducing(self) -> None:
        """
        The connection is going away.
        """
        self.paused = True


def _close(protocol: SourceProtocol) -> None:
    """
    Close C{protocol}'s connection, if it has one.
    """
    if protocol.transport is not None:
        protocol.transport.loseConnection()


class SourceClient:
    """
    One server mount that radiod sends a stream to as a source client:
    opens source connections to it and tells it each new title.

    @ivar options: the target, credentials and stream description.
    """

    _log = Logger()

    def __init__(
        self,
        reactor: Any,
        options: PushOptions,
        connect: Connect | None = None,
        announce: Announce | None = None,
        trust: object | None = None,
        max_backlog: float = MAX_BACKLOG,
        fields: Mapping[str, object] | None = None,
    ) -> None:
        """
        @param reactor: provides C{IReactorTCP} and C{IReactorTime}.
        @param options: what to push where.
        @param connect: connects a protocol to the server (by default over
            TCP, or TLS for C{https://}, to the URL's host and port).
        @param announce: sends a title update (by default a C{GET} to
            C{/admin/metadata}).
        @param trust: the authorities an C{https://} server's certificate
            must chain to (see L{server_connections}).
        @param max_backlog: seconds of unsent audio that end a connection.
        @param fields: structured fields added to each log event (the
            URL is always one).
        @raise PushError: if the options' URL is not a server and mount.
        """
        self.options = options
        default_connect, agent = server_connections(reactor, options.url, trust)
        self._connect = connect if connect is not None else default_connect
        if announce is None:

            def announce(title: str) -> Deferred[Any]:
                return announce_title(agent, options, title)

        self._announce: Announce = announce
        self._max_backlog = max_backlog
        self._fields = dict(fields or {})

    async def open(self, unanswered_fallback: bool = True) -> tuple[SourceProtocol, str]:
        """
        Open a source connection the server accepts: C{PUT}, then
        C{SOURCE} when the server answers C{PUT} with one of
        L{RETRY_WITH_SOURCE} (or, with C{unanswered_fallback}, does not
        answer it in HTTP at all).  A connection refused is closed; if
        this is cancelled, the connection under way is closed.

        @return: the connection, answered with 2xx, and its method.
        @raise Unreachable: when a connection could not be made.
        @raise Refused: when the server answered the last request with a
            status other than 2xx.
        @raise PushError: when the server closed the connection without
            answering, or answered something that is not HTTP.
        """
        method = "PUT"
        while True:
            protocol = SourceProtocol(source_request(method, self.options), self._max_backlog)
            try:
                await self._connect(protocol)
            except CancelledError:
                raise
            except Exception as error:
                raise Unreachable(str(error) or type(error).__name__) from error
            try:
                code, reason = await protocol.answered
            except PushError:
                _close(protocol)
                if method == "PUT" and unanswered_fallback:
                    method = "SOURCE"
                    continue
                raise
            except BaseException:
                _close(protocol)
                raise
            if 200 <= code < 300:
                return protocol, method
            _close(protocol)
            if method == "PUT" and code in RETRY_WITH_SOURCE:
                method = "SOURCE"
                continue
            raise Refused(code, reason)

    def send_title(self, track: TrackInfo) -> None:
        """
        Tell the server that C{track} is playing now; a failure is logged.
        """
        d = self._announce(track.stream_title)
        d.addErrback(
            lambda failure: self._log.warn(
                "Cannot update the title on {url}: {reason}",
                url=self.options.url,
                reason=failure.getErrorMessage(),
                **self._fields,
            )
        )
