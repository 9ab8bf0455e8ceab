# -*- test-case-name: tests.wire.test_server -*-
"""
The stream server: the ICY/HTTP protocol on the station's ports.  One
protocol per connection reads the request head and counts the client; a
mount's stream (and its C{/;} aliases) and a source's C{PUT}/C{SOURCE}
stay here, every other request is handed to the station's site on the same
connection (L{WebSide}).

Requests are parsed by L{radiod.request}; a stream's headers come from
L{radiod.wire.stream}, and a request a worker hands over is answered on
L{radiod.wire.handover}'s transport.  The module is one noun, the stream
server: its factory (what connections share) and its protocol (one
connection's life, L{Phase}, and what each phase does), which read best
together and whole, as Twisted keeps C{HTTPFactory} beside
C{HTTPChannel}.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import replace
from enum import Enum
from typing import Protocol as TypingProtocol
from typing import cast

from twisted.internet.address import IPv4Address, IPv6Address
from twisted.internet.defer import Deferred
from twisted.internet.error import ConnectionDone
from twisted.internet.interfaces import (
    IAddress,
    IDelayedCall,
    IProtocol,
    IPushProducer,
    IReactorTime,
)
from twisted.internet.protocol import Factory, Protocol
from twisted.logger import Logger
from twisted.python.failure import Failure

from radiod.audience.session import ListenerSession
from radiod.auth import AdminAccess, parse_basic_auth
from radiod.broadcast.fallback import Fallbacks
from radiod.broadcast.listener import Listener, ListenerTransport
from radiod.broadcast.mount import Mount
from radiod.broadcast.registry import Mounts
from radiod.config import StationConfig
from radiod.forwarded import Network, client_address, format_peer, is_trusted, parse_networks
from radiod.ingest.metadata import (
    ADMIN_CGI,
    HTML_CONTENT_TYPE,
    MAX_BODY,
    METADATA_PATH,
    XML_CONTENT_TYPE,
    icecast_reply,
    shoutcast_reply,
)
from radiod.ingest.source import SourceConnection
from radiod.ingest.sources import SourceRefused, Sources
from radiod.interfaces import AuthResult, MakeConverter, UrlAuth
from radiod.request import Request, RequestError, RequestParser, build_response_head
from radiod.wire.accesslog import Access, mask_target
from radiod.wire.admission import Admission, ListError, read_admission, refusal
from radiod.wire.aliases import alias_map, rewrite
from radiod.wire.askauth import Admitted, listener_request, refusal_headers
from radiod.wire.handover import ReplyTransport, handed_over
from radiod.wire.limits import (
    AddressLimit,
    Keepalive,
    Limits,
    LoginThrottle,
    StationLimits,
    enable_keepalive,
    socket_of,
)
from radiod.wire.stream import (
    ALLOWED,
    AUDIO_WAIT,
    CORS,
    SERVER,
    limit_send_buffer,
    stream_headers,
)

__all__ = [
    "Phase",
    "RadioFactory",
    "RadioProtocol",
    "WebSide",
]


class WebSide(TypingProtocol):
    """
    What answers every request that is not a stream or a source, on the
    same connection (L{radiod.web.site.StationSite}): the stream server
    hands it the connection once it has read the request head.
    """

    def channel(self, client: str, peer: str, address: IAddress, logged: bool = True) -> IProtocol:
        """
        A protocol for one connection from C{client} (as logs name it,
        C{peer}), fed from the start of the request; its requests go to
        the access log unless C{logged} is false (a request a worker handed
        over, which the worker logs).
        """

    def claims(self, path: str) -> bool:
        """
        Whether a resource of the site answers C{path} (so that, say, a
        C{PUT} there is the site's to refuse, not a new live mount).
        """


class RadioFactory(Factory):
    """
    Builds a L{RadioProtocol} per connection and holds what they share.

    @ivar mounts: the mounts by path, in configuration order: the registry
        it was given (a plain mapping is made into one), which its
        fallbacks and live sources share.
    @ivar config: the station's settings.
    @ivar fallbacks: which mount a listener hears when the one it asks for
        has no audio.
    @ivar on_access: called with an L{Access} for each request when its
        connection ends (the access log).
    @ivar on_session: called with a L{ListenerSession} for each listener
        that heard a stream, when it leaves (the audience figures); its
        client is the plain address.
    @ivar streaming: the connections of the listeners hearing a stream
        now.
    @ivar per_address: the open connections of each client address, and
        the limit on them (L{StationConfig.max_per_address}).
    @ivar throttle: the failed logins of each client address, which slow
        down its further failures.
    @ivar admin_access: the admin credentials check (of the current
        L{config}), shared by every admin request.
    @ivar keepalive: the TCP keepalive timings of every connection.
    @ivar limits: the per-address and login limits every connection
        goes through: L{per_address} and L{throttle} in a station of one
        process; the main process's, asked over the feed, in a worker.
    @ivar forward: in a worker process, sends an admin request (its raw
        bytes, and the client's address) to the main process and fires
        with the reply to write; C{None} to answer admin requests here.
    @ivar site: answers every request that is not a stream or a source
        (and no route here takes); without one, those get C{404}.
    @ivar time_shift: makes a mount of its own for a listener joining a
        mount C{offset} seconds in the past (C{?offset=}), playing the
        mount's time-shift store, or C{None} when the mount keeps no such
        past; C{None} when no mount does.
    @ivar demand: in an edge, starts pulling a mount that has no audio
        here from the origin, and gives a Deferred that fires once its
        audio is on air (C{None} for a mount that is not the origin's);
        C{None} elsewhere.
    @ivar admission: who may listen to each mount, read from the lists
        the configuration names (see L{radiod.wire.admission}).
    """

    _log = Logger()

    def __init__(
        self,
        clock: IReactorTime,
        config: StationConfig,
        mounts: Mapping[str, Mount],
        accept_sources: bool = False,
        converters: MakeConverter | None = None,
    ):
        """
        @param clock: for header timeouts.
        @param config: station-wide settings and limits.
        @param mounts: the mounts by path; the first is the default mount.
        @param accept_sources: whether C{PUT} and C{SOURCE} requests reach
            L{sources} (otherwise they are refused with 405).
        @param converters: starts converters that put live audio on air in
            its mount's format; without them it plays as it comes.
        @raise ListError: when a list of who may listen that C{config}
            names cannot be read (they are read here, before serving).
        """
        self.clock = clock
        self.config = config
        self.mounts = Mounts.of(mounts)
        self.fallbacks = Fallbacks(self.mounts, clock, converters)
        for mount in self.mounts.values():
            self.fallbacks.watch(mount)
        self.sources: Sources | None = (
            Sources(clock, config, self.mounts) if accept_sources else None
        )
        self.refused = 0
        self.noisy = False
        self.on_access: list[Callable[[Access], None]] = []
        self.on_session: list[Callable[[ListenerSession], None]] = []
        self.streaming: set[RadioProtocol] = set()
        self.per_address = AddressLimit(config.max_per_address)
        self.throttle = LoginThrottle(clock)
        self.limits: Limits = StationLimits(
            self.per_address, self.throttle, lambda: self.config.max_per_address
        )
        self.forward: Callable[[bytes, str], Deferred[bytes]] | None = None
        self.demand: Callable[[str], Deferred[None] | None] | None = None
        self.time_shift: Callable[[Mount, float], Mount | None] | None = None
        self._peers = 0
        self.site: WebSide | None = None
        self.authenticators: dict[str, UrlAuth] = {}
        self.keepalive = Keepalive()
        self.admin_access = AdminAccess.for_config(lambda: self.config)
        self._trusted: tuple[tuple[str, ...], tuple[Network, ...]] = ((), ())
        self.admission: Admission = read_admission(config)
        self._aliases: tuple[tuple[str, ...], dict[str, str]] = ((), {})

    @property
    def aliases(self) -> dict[str, str]:
        """
        The paths answered as others (the configuration's C{aliases}), by
        the path asked for.
        """
        listed = self.config.aliases
        if self._aliases[0] != listed:
            self._aliases = (listed, alias_map(listed))
        return self._aliases[1]

    def reread_lists(self, config: StationConfig) -> bool:
        """
        Read the lists of who may listen again (blocking: on a reload), for
        the listeners who come next.  A list that cannot be read is logged
        and the rules in force are kept.

        @param config: the configuration naming the lists.
        @return: whether the new rules are in force.
        """
        try:
            self.admission = read_admission(config)
        except ListError as error:
            self._log.error(
                "Listener lists not reloaded, keeping the ones in force: {error}",
                error=str(error),
            )
            return False
        return True

    @property
    def trusted_proxies(self) -> tuple[Network, ...]:
        """
        The proxies whose C{X-Forwarded-For} is taken, from the current
        L{StationConfig.trusted_proxies}.
        """
        proxies = self.config.trusted_proxies
        if proxies != self._trusted[0]:
            self._trusted = (proxies, parse_networks(proxies))
        return self._trusted[1]

    def next_peer(self) -> str | None:
        """
        The server to send the next listener turned away to, in turn
        (L{StationConfig.redirect_when_full}), or C{None} for none.
        """
        peers = self.config.redirect_when_full
        if not peers:
            return None
        self._peers += 1
        return peers[(self._peers - 1) % len(peers)]

    @property
    def default_mount(self) -> Mount:
        """
        The mount C{/;} reaches.
        """
        return next(iter(self.mounts.values()))

    def end_sessions(self) -> None:
        """
        Tell L{on_session} now about every listener still connected, as if
        it had left (the station is stopping, and its session store with
        it); each is told once.
        """
        for protocol in list(self.streaming):
            if protocol.listener is not None:
                protocol._tell_session(protocol.listener)

    def current_sessions(self) -> list[ListenerSession]:
        """
        The sessions of the listeners connected now, as far as they went.
        """
        now = self.clock.seconds()
        return [
            protocol.session(protocol.listener, now)
            for protocol in self.streaming
            if protocol.listener is not None
        ]

    @property
    def listener_count(self) -> int:
        """
        Listeners on all mounts together.
        """
        return sum(len(mount.listeners) + mount.shifted_listeners for mount in self.mounts.values())

    def buildProtocol(self, addr: IAddress | None) -> RadioProtocol:
        """
        A protocol for one connection, sharing our clock.
        """
        return RadioProtocol(self, self.clock)

    def answer(self, raw: bytes, client: str) -> Deferred[bytes]:
        """
        Answer a request a worker process received and handed over (an
        admin request): as if C{client} had sent C{raw} here, without
        counting it against the client's limit again (the worker's
        connection is counted) or logging it (the worker logs it).

        @return: fires with the complete reply, once written.
        """
        family = IPv6Address if ":" in client else IPv4Address
        reply = ReplyTransport(family("TCP", client, 0))
        # One request, one reply: the site closes after answering it.
        line, _, rest = raw.partition(b"\r\n")
        raw = line + b"\r\nConnection: close\r\n" + rest
        protocol = RadioProtocol(self, self.clock, relayed=True)
        protocol.makeConnection(reply)
        protocol.dataReceived(raw)

        def done(data: bytes) -> bytes:
            protocol.connectionLost(Failure(ConnectionDone()))
            return data

        return reply.done.addCallback(done)


class Phase(Enum):
    """
    Where a connection is in its life (see L{RadioProtocol}).
    """

    HEAD = "reading the request head"
    ADMITTING = "the head is read; counting the client it names"
    BODY = "reading a request body to hand over to the main process"
    ANSWERING = "answering here (a reply, a refusal, or waiting to give one)"
    STREAMING = "a listener hearing a mount"
    SOURCING = "a live source sending audio"
    HANDED_OFF = "the site has the connection"
    CLOSED = "the connection is gone"


_READ = RequestParser()
"""
The parser a connection holds once its request is read and it streams:
one for all of them, never fed (only a connection reading its head
feeds its parser).
"""

_MOVES: dict[Phase, frozenset[Phase]] = {
    Phase.HEAD: frozenset({Phase.ADMITTING, Phase.ANSWERING}),
    Phase.ADMITTING: frozenset(
        {Phase.BODY, Phase.ANSWERING, Phase.STREAMING, Phase.SOURCING, Phase.HANDED_OFF}
    ),
    Phase.BODY: frozenset({Phase.ANSWERING}),
    Phase.ANSWERING: frozenset({Phase.STREAMING}),
    Phase.STREAMING: frozenset(),
    Phase.SOURCING: frozenset(),
    Phase.HANDED_OFF: frozenset(),
    Phase.CLOSED: frozenset(),
}
"""
The moves a connection may make, besides to L{Phase.CLOSED}, which any
phase may move to.
"""


class RadioProtocol(Protocol):
    """
    One client connection: a request, then a reply or a stream.

    Its life is a few phases (L{phase}, a L{Phase})::

        HEAD --head read--> ADMITTING    (the client it names is counted)
        ADMITTING --> STREAMING          (GET or HEAD on a mount, or /;)
        ADMITTING --> SOURCING           (PUT or SOURCE, accepted)
        ADMITTING --> HANDED_OFF         (anything else: the site answers)
        ADMITTING --> BODY               (a worker's admin POST, to forward)
        HEAD, ADMITTING, BODY --> ANSWERING   (a refusal, a forwarded
                                 request, a listener's reply waiting for audio)
        ANSWERING --audio known--> STREAMING
        any --connection lost--> CLOSED

    What arrives on the connection goes where the phase says: to the
    request parser, the body, the source, the site, or nowhere.

    @ivar peer: the client, for logs: C{host:port} of the connection, or,
        once the request is read, the address C{X-Forwarded-For} gives when
        the connection comes from a trusted proxy.
    @ivar client: the client's address without a port, for the access log.
    @ivar request: the request, once read.
    @ivar response_status: the status answered, for the access log; a
        route that writes its own response head sets it.
    @ivar response_sent: the body bytes answered, for the access log; a
        route that writes its own body adds to it.
    @ivar phase: where the connection is in its life.
    """

    _log = Logger()

    # What most connections never change is a class attribute until one
    # does: a listener may stay for days, and an instance with more than
    # 30 attributes of its own takes four times the memory.
    source: SourceConnection | None = None
    _remainder = b""
    _awaiting: tuple[Request, int] | None = None
    _over_limit = False
    _paused = False
    _channel: IProtocol | None = None
    _throttled = False
    _delayed: IDelayedCall | None = None
    _audio_wait: Deferred[None] | None = None
    _shifted: Mount | None = None
    _shifted_from: Mount | None = None
    _session_told = False
    _auth_wait: Deferred[AuthResult] | None = None
    _let_in: tuple[Admitted, str] | None = None
    _time_limit: IDelayedCall | None = None

    def __init__(self, factory: RadioFactory, clock: IReactorTime, relayed: bool = False) -> None:
        """
        @param factory: what the connections share.
        @param clock: for timeouts.
        @param relayed: whether this answers a request a worker process
            handed over (see L{RadioFactory.answer}): not counted against
            the client's limit, not logged as an access.
        """
        self.radio = factory
        self._relayed = relayed
        self._clock = clock
        self.phase = Phase.HEAD
        self._parser = RequestParser()
        self._timeout: IDelayedCall | None = None
        self.listener: Listener | None = None
        self.peer = "-"
        self.client = "-"
        self._counted: str | None = None
        self._raw = bytearray()
        self.request: Request | None = None
        self.response_status: int | None = None
        self.response_sent = 0
        self._connected_at = 0.0

    def _move(self, phase: Phase) -> None:
        """
        Go to C{phase}, a move L{_MOVES} allows (or to L{Phase.CLOSED}).
        """
        if phase is self.phase:
            return
        if phase is not Phase.CLOSED and phase not in _MOVES[self.phase]:
            raise RuntimeError(f"a connection cannot go from {self.phase.name} to {phase.name}")
        self.phase = phase

    @property
    def _lost(self) -> bool:
        return self.phase is Phase.CLOSED

    def connectionMade(self) -> None:
        """
        Start the clock on the request headers.
        """
        address = self.transport.getPeer() if self.transport else None
        self.peer = format_peer(address)
        self.client = str(getattr(address, "host", None) or "-")
        self._connected_at = self._clock.seconds()
        enable_keepalive(socket_of(self.transport), self.radio.keepalive)
        self._timeout = self._clock.callLater(
            self.radio.config.header_timeout, self._header_timeout
        )
        # A trusted proxy's connections count for the client it forwards,
        # once the request says which.
        if not self._from_proxy() and not self._relayed:
            self._admit(self.client, self._admitted)

    def _admitted(self) -> None:
        """
        Refuse a connection over its address's limit before reading its
        request.
        """
        if self._over_limit:
            self._cancel_timeout()
            self._move(Phase.ANSWERING)
            self._too_many(None)

    def _from_proxy(self) -> bool:
        return is_trusted(self.client, self.radio.trusted_proxies)

    def _admit(self, address: str, then: Callable[[], None]) -> None:
        """
        Count this connection against C{address}'s limit, then carry on
        with C{then} once the answer is known (at once in a station of one
        process; a worker waits for the main process, reading nothing
        meanwhile).
        """
        self._counted = address
        self._paused = False
        answered = False

        def decided(admitted: bool) -> None:
            nonlocal answered
            answered = True
            if self._lost:
                return
            self._over_limit = not admitted
            if self._paused and self.transport is not None:
                self._paused = False
                self.transport.resumeProducing()  # type: ignore[attr-defined]
            then()

        self.radio.limits.admit(address).addCallback(decided)
        if not answered and self.transport is not None:
            # Not decided yet: read nothing more until it is.
            self._paused = True
            self.transport.pauseProducing()  # type: ignore[attr-defined]

    def _gave_credentials(self) -> bool:
        """
        Whether the request carried a password (an C{Authorization}
        header, or SHOUTcast's C{pass=} parameter).
        """
        request = self.request
        if request is None:
            return False
        return request.header("Authorization") is not None or "pass=" in request.target

    def _too_many(self, request: Request | None) -> None:
        """
        Refuse a connection over its address's limit: 503 at once (the
        limits log the first one over, so a flood does not flood the log).
        """
        self.radio.refused += 1
        self.reply(
            503,
            [("Content-Type", "text/plain; charset=utf-8"), ("Retry-After", "10"), *CORS],
            b"503 Too many connections from your address\n",
            head_only=request is not None and request.method == "HEAD",
        )

    def _header_timeout(self) -> None:
        self._timeout = None
        if self.phase in (Phase.HEAD, Phase.BODY):
            self._move(Phase.ANSWERING)
        self._awaiting = None
        self._log.info("No complete request from {peer} in time; closing", peer=self.peer)
        assert self.transport is not None
        self.transport.loseConnection()

    def _cancel_timeout(self) -> None:
        if self._timeout is not None:
            if self._timeout.active():
                self._timeout.cancel()
            self._timeout = None

    def dataReceived(self, data: bytes) -> None:
        """
        Feed the request parser; once a request is complete, answer it.
        Bytes a listener sends after its request are ignored; a source's
        are its audio.
        """
        phase = self.phase
        if phase is Phase.SOURCING:
            assert self.source is not None
            self.source.data_received(data)
            return
        if phase is Phase.HANDED_OFF:
            assert self._channel is not None
            self._channel.dataReceived(data)
            return
        if phase is Phase.BODY:
            self._body_received(data)
            return
        if phase is not Phase.HEAD:
            return
        parser = self._parser
        self._raw += data
        try:
            request = parser.feed(data)
        except RequestError as error:
            self._cancel_timeout()
            self._move(Phase.ANSWERING)
            self.refuse(error.status, error.reason, None)
            return
        if request is None:
            return
        self._move(Phase.ADMITTING)
        self._remainder = parser.remainder
        del self._raw[len(self._raw) - len(self._remainder) :]
        self._identify(request)

    def _read(self, request: Request) -> None:
        """
        Answer a request whose head has been read and whose client has been
        counted: refuse it over the limit, read its body, or handle it.
        """
        if self._over_limit:
            self._cancel_timeout()
            self._move(Phase.ANSWERING)
            self._too_many(request)
            return
        aliases = self.radio.aliases
        if aliases and request.path in aliases:
            request, raw = rewrite(request, bytes(self._raw), aliases)
            self._raw = bytearray(raw)
            self.request = request
        forwarded = self._forwarded(request)
        if request.method == "POST" and forwarded:
            self._await_body(request)
            return
        self._cancel_timeout()
        if forwarded:
            self._move(Phase.ANSWERING)
            self._forward(request, b"")
            return
        self._handle(request)

    def _forwarded(self, request: Request) -> bool:
        """
        Whether this request goes to the main process: every admin request
        does, from a worker, so that every connection gets the same answer
        from the process that owns the programme.
        """
        return self.radio.forward is not None and handed_over(request.path)

    def _forward(self, request: Request, body: bytes) -> None:
        """
        Send the request to the main process and write its reply.
        """
        assert self.radio.forward is not None
        raw = bytes(self._raw) + body
        self._raw = bytearray()
        answered = self.radio.forward(raw, self.client)

        def write(reply: bytes) -> None:
            if self._lost or self.transport is None:
                return
            status_line, _, rest = reply.partition(b"\r\n")
            parts = status_line.split(b" ", 2)
            if len(parts) > 1 and parts[1].isdigit():
                self.response_status = int(parts[1])
            self.response_sent = len(rest.partition(b"\r\n\r\n")[2])
            self.transport.write(reply)
            self.transport.loseConnection()

        def failed(failure: Failure) -> None:
            self._log.error(
                "Admin request from {peer} not answered by the main process: {reason}",
                peer=self.peer,
                reason=failure.getErrorMessage(),
            )
            if not self._lost:
                self.refuse(503, "Service Unavailable", request)

        answered.addCallbacks(write, failed)

    def _await_body(self, request: Request) -> None:
        """
        Read the form body of a route's C{POST} (at most L{MAX_BODY}
        bytes, within the header timeout) before answering it.
        """
        length = request.header("Content-Length")
        size = int(length) if length is not None else 0
        if request.header_list("Transfer-Encoding") or size > MAX_BODY:
            self._cancel_timeout()
            self._move(Phase.ANSWERING)
            message = "Request too large" if size > MAX_BODY else "Length required"
            self.refuse(413 if size > MAX_BODY else 411, message, request)
            return
        self._awaiting = (request, size)
        self._move(Phase.BODY)
        self._body_received(b"")

    def _body_received(self, data: bytes) -> None:
        assert self._awaiting is not None
        request, size = self._awaiting
        self._remainder += data
        if len(self._remainder) < size:
            return
        self._awaiting = None
        self._cancel_timeout()
        self._move(Phase.ANSWERING)
        self._forward(request, self._remainder[:size])

    def _identify(self, request: Request) -> None:
        """
        Note the request, and when the connection comes from a trusted
        proxy, take the client's address from C{X-Forwarded-For}.
        """
        self.request = request
        trusted = self.radio.trusted_proxies
        if not trusted or self._counted is not None or self._relayed:
            self._read(request)
            return
        forwarded = client_address(self.client, request.header_list("X-Forwarded-For"), trusted)
        if forwarded != self.client:
            self.client = forwarded
            self.peer = forwarded
            self._admit(forwarded, lambda: self._read(request))
            return
        self._read(request)

    def connectionLost(self, reason: Failure = Failure(ConnectionError())) -> None:  # noqa: B008
        """
        Forget our listener and timers, tell the site or the source, and log the
        request for the access log.
        """
        self._move(Phase.CLOSED)
        self._cancel_timeout()
        if self._delayed is not None and self._delayed.active():
            self._delayed.cancel()
        if self._audio_wait is not None:
            waiting, self._audio_wait = self._audio_wait, None
            waiting.cancel()
        if self._auth_wait is not None:
            asking, self._auth_wait = self._auth_wait, None
            asking.cancel()
        if self._time_limit is not None and self._time_limit.active():
            self._time_limit.cancel()
        self._log_access()
        if self._channel is not None:
            # The site learns that its client left (notifyFinish).
            self._channel.connectionLost(reason)
        if self._counted is not None:
            self.radio.limits.release(self._counted)
            self._counted = None
        if self.listener is not None:
            self._tell_session(self.listener)
            self.listener.stopProducing()
            self.listener = None
        if self._shifted is not None:
            # A listener in the past had a mount of its own.
            self._shifted.stop()
            self._shifted = None
        if self._shifted_from is not None:
            self._shifted_from.shifted_listener_left()
            self._shifted_from = None
        if self.source is not None:
            self.source.connection_lost()
        if self._let_in is not None:
            admitted, name = self._let_in
            self._let_in = None
            mount = self.radio.mounts.get(name)
            admitted.left(mount.audience if mount is not None else 0)

    def _tell_session(self, listener: Listener) -> None:
        """
        Tell L{RadioFactory.on_session} about the listener leaving: its
        session on the mount it tuned in to.
        """
        self.radio.streaming.discard(self)
        if not self.radio.on_session or self._relayed or self._session_told:
            return
        self._session_told = True
        session = self.session(listener, self._clock.seconds())
        for observer in self.radio.on_session:
            observer(session)

    def session(self, listener: Listener, end: float) -> ListenerSession:
        """
        The listener's session on the mount it tuned in to, as if it
        ended at C{end}; its client is the plain address.
        """
        request = self.request
        return ListenerSession(
            mount=listener.home,
            kind="icy",
            start=min(self._connected_at, end),
            end=end,
            bytes=listener.sent,
            user_agent=(request.header("User-Agent") or "") if request else "",
            referrer=(request.header("Referer") or "") if request else "",
            client=self.client,
        )

    def _log_access(self) -> None:
        """
        Tell L{RadioFactory.on_access} about the request this connection
        carried, if it carried one (or was refused one).
        """
        request = self.request
        if self._relayed:
            return
        if (request is None and self.response_status is None) or not self.radio.on_access:
            return
        now = self._clock.seconds()
        access = Access(
            client=self.client,
            ended=now,
            duration=now - self._connected_at,
            status=self.response_status,
            sent=self.listener.sent if self.listener is not None else self.response_sent,
            method=request.method if request else None,
            target=request.target if request else None,
            version=request.version if request else None,
            referer=request.header("Referer") if request else None,
            user_agent=request.header("User-Agent") if request else None,
        )
        for observer in self.radio.on_access:
            observer(access)

    # Replies

    def reply(
        self,
        status: int,
        headers: list[tuple[str, str]],
        body: bytes = b"",
        head_only: bool = False,
    ) -> None:
        """
        Write a complete reply and close the connection.

        @param status: the status code.
        @param headers: headers besides C{Server}, C{Connection} and
            C{Content-Length}, which are added.
        @param body: the body.
        @param head_only: send the head without the body (for C{HEAD}).

        A 401 to a request that gave credentials counts as a failed login
        from this client; after a few, the reply waits (see
        L{radiod.wire.limits.LoginThrottle}).
        """
        assert self.transport is not None
        if status == 401 and not self._throttled and self._gave_credentials():
            self._throttled = True

            def answer(delay: float) -> None:
                if self._lost:
                    return
                if not delay:
                    self.reply(status, headers, body, head_only)
                    return
                self._log.info(
                    "Failed login from {client}; answering in {delay:g} s",
                    client=self.client,
                    delay=delay,
                )
                self._delayed = self._clock.callLater(
                    delay, self.reply, status, headers, body, head_only
                )

            self.radio.limits.failed(self.client).addCallback(answer)
            return
        self._delayed = None
        full = [("Server", SERVER), ("Connection", "Close"), *headers]
        if body or not head_only:
            full.append(("Content-Length", str(len(body))))
        self.response_status = status
        self.response_sent = 0 if head_only else len(body)
        self.transport.write(build_response_head(status, full) + (b"" if head_only else body))
        self.transport.loseConnection()

    def refuse(
        self,
        status: int,
        reason: str,
        request: Request | None,
        extra: list[tuple[str, str]] | None = None,
    ) -> None:
        """
        Answer with an error in plain text, and log it with the peer.

        @param status: the status code.
        @param reason: the reason phrase, also the body.
        @param request: the request refused, if it was parsed.
        @param extra: more headers.
        """
        self.radio.refused += 1
        self._log.warn(
            "Refused {method} {path} from {peer}: {status} {reason}",
            method=request.method if request else "-",
            path=mask_target(request.target) if request else "-",
            peer=self.peer,
            status=status,
            reason=reason,
        )
        headers = [("Content-Type", "text/plain; charset=utf-8"), *CORS]
        if status == 405:
            headers.append(("Allow", ALLOWED))
        headers.extend(extra or [])
        body = f"{status} {reason}\n".encode()
        self.reply(
            status, headers, body, head_only=request is not None and request.method == "HEAD"
        )

    # Routing

    def _handle(self, request: Request) -> None:
        """
        Answer a request: a mount's stream (and its C{/;} aliases) and a
        source's C{PUT} or C{SOURCE} here, anything else on the site.
        """
        method = request.method
        path = request.path
        stream = path in self.radio.mounts or path.startswith("/;")
        if stream and method in ("GET", "HEAD"):
            name = self.radio.default_mount.name if path[:2] == "/;" else path
            if self._forbidden(request, name):
                return
            auth = self.radio.authenticators.get(name)
            if auth is not None and auth.checks_listeners:
                self._ask_listener(request, name, auth)
            else:
                self._stream(request, name)
            return
        site = self.radio.site
        sources = self.radio.sources
        if method in ("PUT", "SOURCE") and sources is not None:
            if site is None or not site.claims(path):
                self._source(request, sources)
                return
        if stream and method != "OPTIONS":
            self._move(Phase.ANSWERING)
            self.refuse(405, "Method Not Allowed", request)
            return
        self._hand_off()

    def _forbidden(self, request: Request, name: str) -> bool:
        """
        Refuse a listener that the lists of who may listen to C{name} turn
        away: C{403}, before anything of the stream is sent, and one log
        line naming the list.

        @return: whether it was refused.
        """
        rules = self.radio.admission.rules_for(name)
        reason = refusal(rules, self.client, request.header("User-Agent") or "")
        if reason is None:
            return False
        self._move(Phase.ANSWERING)
        self.radio.refused += 1
        self._log.warn(
            "Refused listener {peer} on {mount}: 403 {reason}",
            peer=self.peer,
            mount=name,
            reason=reason,
        )
        self.reply(
            403,
            [("Content-Type", "text/plain; charset=utf-8"), *CORS],
            b"403 Forbidden\n",
            head_only=request.method == "HEAD",
        )
        return True

    def _ask_listener(self, request: Request, name: str, auth: UrlAuth) -> None:
        """
        Ask the mount's authentication URL whether the listener may
        listen (see L{radiod.wire.askauth}); stream to it if so, else
        refuse it with C{401} and the URL's message.
        """
        mount = self.radio.mounts.get(name)
        asking = listener_request(request, self.client, mount.audience if mount is not None else 0)
        answer = auth.listener_add(asking)
        self._auth_wait = answer

        def answered(result: AuthResult) -> None:
            if self._auth_wait is not answer:
                return  # The listener left meanwhile.
            self._auth_wait = None
            if not result.admitted:
                self._move(Phase.ANSWERING)
                reason = result.message or "Authentication Required"
                self.refuse(401, " ".join(reason.split()), request, refusal_headers())
                return
            self._let_in = (Admitted(auth, replace(asking, headers={}), self._clock), name)
            if result.time_limit is not None:
                self._time_limit = self._clock.callLater(
                    result.time_limit, self._out_of_time, name, result.time_limit
                )
            self._stream(request, name)

        answer.addCallback(answered)

    def _out_of_time(self, name: str, limit: float) -> None:
        """
        The time an authentication URL gave the listener has run out.
        """
        self._log.info(
            "Listener {peer} on {mount} reached its time limit ({limit:g} s); disconnecting",
            peer=self.peer,
            mount=name,
            limit=limit,
        )
        if self.transport is not None:
            self.transport.loseConnection()

    def _hand_off(self) -> None:
        """
        Give the connection to the site, from the start of the request it
        carries: everything that is not a stream or a source is answered
        there (without a site, with C{404}).
        """
        site = self.radio.site
        request = self.request
        assert self.transport is not None and request is not None
        if site is None:
            self._move(Phase.ANSWERING)
            self.refuse(404, "File Not Found", request)
            return
        length = request.header("Content-Length")
        size = int(length) if length is not None and length.isdigit() else 0
        if request.header_list("Transfer-Encoding") or size > MAX_BODY:
            # The site reads a body whole before answering: bounded here.
            self._move(Phase.ANSWERING)
            message = "Request too large" if size > MAX_BODY else "Length required"
            if request.path in (METADATA_PATH, ADMIN_CGI):
                self._body_refused(request, message)
            else:
                self.refuse(413 if size > MAX_BODY else 411, message, request)
            return
        channel = site.channel(
            self.client, self.peer, self.transport.getPeer(), logged=not self._relayed
        )
        self._channel = channel
        self._move(Phase.HANDED_OFF)
        # The site answers and logs from here on.
        self.request = None
        raw, self._raw = bytes(self._raw) + self._remainder, bytearray()
        self._remainder = b""
        channel.makeConnection(self.transport)
        channel.dataReceived(raw)

    def _body_refused(self, request: Request, message: str) -> None:
        """
        Refuse a title update's body in Icecast's form (an HTML page for
        C{/admin.cgi}), as the title update itself would.
        """
        self.radio.refused += 1
        self._log.warn(
            "Refused metadata update {method} {path} from {peer}: {status} {reason}",
            method=request.method,
            path=request.path,
            peer=self.peer,
            status=400,
            reason=message,
        )
        if request.path == ADMIN_CGI:
            self.reply(400, [("Content-Type", HTML_CONTENT_TYPE)], shoutcast_reply(message))
        else:
            self.reply(400, [("Content-Type", XML_CONTENT_TYPE)], icecast_reply(message, False))

    def _source(self, request: Request, sources: Sources, asked: bool = False) -> None:
        transport = self.transport
        assert transport is not None
        auth = self.radio.authenticators.get(request.path)
        if auth is not None and auth.checks_sources and not asked:
            self._ask_source(request, sources, auth)
            return
        try:
            self.source = sources.connect(
                request,
                cast(IPushProducer, transport),
                transport.write,
                transport.loseConnection,
                self.peer,
                authorised=asked,
            )
        except SourceRefused as refused:
            self._move(Phase.ANSWERING)
            self.refuse(refused.status, refused.reason, request, refused.headers)
            return
        self._move(Phase.SOURCING)
        self.response_status = 200
        remainder, self._remainder = self._remainder, b""
        self.source.data_received(remainder)

    def _ask_source(self, request: Request, sources: Sources, auth: UrlAuth) -> None:
        """
        Ask the mount's authentication URL (C{stream_auth}) whether a
        source may stream to it, instead of checking its password; its
        connection is not read meanwhile, so that none of its audio is
        lost.
        """
        transport = self.transport
        assert transport is not None
        credentials = parse_basic_auth(request.header("Authorization"))
        user, password = credentials if credentials is not None else ("", "")
        reading = cast(IPushProducer, transport)
        reading.pauseProducing()
        answer = auth.stream_auth(request.path, self.client, user, password)
        self._auth_wait = answer

        def answered(result: AuthResult) -> None:
            if self._auth_wait is not answer:
                return
            self._auth_wait = None
            reading.resumeProducing()
            if not result.admitted:
                self._move(Phase.ANSWERING)
                reason = result.message or "You need to authenticate"
                self.refuse(401, " ".join(reason.split()), request, refusal_headers())
                return
            self._source(request, sources, asked=True)

        answer.addCallback(answered)

    def _stream(self, request: Request, name: str, waited: bool = False) -> None:
        mount = self.radio.fallbacks.resolve(name)
        if mount is None and not waited and self.radio.demand is not None:
            # An edge's mount is pulled from its origin when asked for.
            coming = self.radio.demand(name)
            if coming is not None:
                self._move(Phase.ANSWERING)
                self._await_audio(request, name, coming)
                return
        refused = None
        limit = self.radio.config.max_listeners
        if mount is None:
            refused = 404, "Source not live"
        elif limit and self.radio.listener_count >= limit:
            refused = 503, "Server full: too many listeners"
        elif _full(mount):
            overflow = self._overflow(mount)
            if overflow is None:
                refused = 503, f"Mount {mount.name} is full: too many listeners"
            else:
                mount, name = overflow, overflow.name
        if refused is not None:
            self._move(Phase.ANSWERING)
            peer = self.radio.next_peer() if refused[0] == 503 else None
            if peer is not None:
                self._redirect(request, peer, refused[1])
                return
            self.refuse(refused[0], refused[1], request)
            return
        assert mount is not None and self.transport is not None
        offset = request.query.get("offset")
        if offset and self._shifted is None:
            shifted = self._shift(mount, offset[0])
            if shifted is None:
                self._move(Phase.ANSWERING)
                self.refuse(400, "offset= is not a time in the mount's time-shift window", request)
                return
            self._shifted = shifted
            waited = False
        home = mount
        if self._shifted is not None:
            mount = self._shifted
        if not mount.audio.bitrate and not waited:
            self._move(Phase.ANSWERING)
            self._await_audio(request, name, mount.audio_known())
            return
        metadata = request.wants_metadata
        sources = self.radio.sources
        info = sources.info_for(mount.name) if sources is not None else None
        head = build_response_head(
            200,
            [("Server", SERVER), ("Connection", "Close"), *stream_headers(mount, info, metadata)],
            icy=mount.config.icy_status_line,
        )
        self.response_status = 200
        if request.method == "HEAD":
            self._move(Phase.ANSWERING)
            self.transport.write(head)
            self.transport.loseConnection()
            return
        self._move(Phase.STREAMING)
        limit_send_buffer(self.transport, self.radio.config.send_buffer, self.peer)
        self.transport.write(head)
        if self._shifted is not None:
            # Heard in the past, counted with the mount it was heard on.
            self._shifted_from = home
            home.shifted_listener_joined()
        self.radio.streaming.add(self)
        self.listener = mount.add_listener(
            cast(ListenerTransport, self.transport),
            self.peer,
            metadata,
            home=name,
            user_agent=request.header("User-Agent") or "",
        )
        # A listener may stay for days: keep only what its log lines need.
        self.request = request.kept()
        self._parser = _READ
        self._raw = bytearray()

    def _overflow(self, full: Mount) -> Mount | None:
        """
        The mount a listener turned away by C{full}'s own limit hears
        instead, when C{full} sends its extra listeners to its fallback
        (C{fallback_when_full}): the first mount with audio and room along
        the fallback chain, or C{None} to refuse the listener.
        """
        mount = full
        seen = {full.name}
        while mount.config.fallback_when_full and mount.config.fallback:
            target = self.radio.fallbacks.resolve(mount.config.fallback)
            if target is None or target.name in seen:
                return None
            seen.add(target.name)
            if not _full(target):
                self._log.info(
                    "Mount {mount} is full; listener {peer} hears {fallback}",
                    mount=full.name,
                    peer=self.peer,
                    fallback=target.name,
                )
                return target
            mount = target
        return None

    def _shift(self, mount: Mount, offset: str) -> Mount | None:
        """
        A mount of its own for a listener that joins C{offset} seconds in
        the past, or C{None} when the mount keeps no such past.
        """
        try:
            seconds = float(offset)
        except ValueError:
            return None
        if self.radio.time_shift is None or not 0 < seconds < 1e9:
            return None
        return self.radio.time_shift(mount, seconds)

    def _redirect(self, request: Request, peer: str, reason: str) -> None:
        """
        Send a listener the limits turned away to another server of the
        same programme: C{302} to the same path there, logged with the
        reason.
        """
        location = peer.rstrip("/") + request.target
        self.radio.refused += 1
        self._log.info(
            "Redirected {path} from {peer} to {location}: {reason}",
            path=mask_target(request.target),
            peer=self.peer,
            location=mask_target(location),
            reason=reason,
        )
        self.reply(
            302,
            [("Location", location), ("Content-Type", "text/plain; charset=utf-8"), *CORS],
            f"302 Found: {location}\n".encode(),
            head_only=request.method == "HEAD",
        )

    def _await_audio(self, request: Request, name: str, waiting: Deferred[None]) -> None:
        """
        Hold the reply to a listener until C{waiting} fires: the first
        audio of a mount whose format is not known yet (the station has
        just started, or a rung's encoder has not reported), so that the
        reply carries C{icy-br} and C{ice-audio-info}, or the audio of a
        mount an edge pulls from its origin.  After L{AUDIO_WAIT} seconds
        it goes on without.
        """
        self._audio_wait = waiting
        timer = self._clock.callLater(AUDIO_WAIT, waiting.cancel)

        def answer(_: object) -> None:
            if timer.active():
                timer.cancel()
            if self._audio_wait is waiting:
                # Still connected (a lost connection forgets its wait).
                self._audio_wait = None
                self._stream(request, name, waited=True)

        waiting.addBoth(answer)


def _full(mount: Mount) -> bool:
    """
    Whether C{mount} has as many listeners as its own limit allows.
    """
    limit = mount.config.max_listeners
    return bool(limit) and len(mount.listeners) >= limit
