# -*- test-case-name: tests.ingest.test_relay -*-
"""
Relaying: a mount that plays another server's stream.

A L{Relay} connects to an upstream URL (Icecast, SHOUTcast or another
radiod) as a listener asking for ICY metadata.  Its audio goes into a
L{radiod.broadcast.live.LiveSource} attached to the mount's L{radiod.broadcast.switch.Switch},
just as a live encoder's would, so the mount's playlist is the fallback
while the upstream is down, and the live source's backpressure pauses
the upstream socket.  The upstream's C{StreamTitle} values become the
titles listeners see.  When the upstream drops, refuses, sends no audio
for L{READ_TIMEOUT} seconds, or sends L{MAX_GARBAGE} bytes in a row that
are not MPEG audio, the relay reconnects after a delay that starts at
L{BACKOFF_START} and doubles up to L{BACKOFF_MAX}; it goes back to the
start once a connection has delivered audio (the relay's
L{radiod.reconnect.ReconnectingClient} counts a connection as accepted
then).  Only whole MPEG frames ever go on air: anything else the upstream
sends is dropped.  A relay given L{radiod.ingest.silence.SilenceWatches}
is taken off the air while the upstream sends dead air, as a live source
is.
"""

from __future__ import annotations

from typing import cast

from twisted.internet.defer import Deferred
from twisted.internet.error import ConnectionDone
from twisted.internet.interfaces import (
    IAddress,
    IConnector,
    IDelayedCall,
    IOpenSSLClientConnectionCreator,
    IPushProducer,
    IReactorTCP,
    IReactorTime,
    ITransport,
)
from twisted.internet.protocol import ClientFactory, Protocol, connectionDone
from twisted.logger import Logger
from twisted.python.failure import Failure
from twisted.web.client import BrowserLikePolicyForHTTPS

from radiod import __version__
from radiod.audio.icy import IcyDemuxer, IcyFramingError, parse_metadata
from radiod.audio.track import TrackInfo
from radiod.broadcast.live import LiveSource
from radiod.broadcast.switch import Switch
from radiod.config import is_tls_url, parse_http_url
from radiod.ingest.silence import SilenceWatch, SilenceWatches
from radiod.reconnect import BACKOFF_MAX, BACKOFF_START, ReconnectingClient
from radiod.tls import tls_failure_reason

__all__ = [
    "BACKOFF_MAX",
    "BACKOFF_START",
    "MAX_GARBAGE",
    "MAX_HEADER",
    "READ_TIMEOUT",
    "Relay",
    "RelayProtocol",
    "RelayRefused",
    "build_request",
    "parse_response_head",
]

READ_TIMEOUT = 10.0
"""
Seconds without a byte of response head, or without a whole audio frame
once the head is read, after which the upstream counts as gone.
"""

MAX_GARBAGE = 8 * 1024
"""
Bytes of body in a row that are neither MPEG audio nor a tag after which
the upstream counts as not sending audio: half a second of a 128 kbit/s
stream, about what the relay has queued, while a working stream has at
most a few stray bytes between two frames.
"""

MAX_HEADER = 16 * 1024
"""
The most bytes of response head accepted before giving up.
"""


class RelayRefused(Exception):
    """
    The upstream's answer cannot be relayed (status, content type or
    C{icy-metaint}); the text says why.
    """


def build_request(host: str, port: int, path: str) -> bytes:
    """
    The request a relay sends upstream.

    @param host: the upstream host name or address.
    @param port: its port.
    @param path: the path, with any query.
    @return: the request bytes, asking for ICY metadata.
    """
    name = f"[{host}]" if ":" in host else host
    if port != 80:
        name += f":{port}"
    lines = [
        f"GET {path} HTTP/1.0",
        f"Host: {name}",
        "Icy-MetaData: 1",
        f"User-Agent: radiod/{__version__}",
    ]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("utf-8")


def parse_response_head(head: bytes) -> tuple[dict[str, str], int]:
    """
    Judge an upstream's response head (status line and headers, without
    the blank line).

    @param head: the bytes before the first blank line.
    @return: the headers (names in lower case) and the C{icy-metaint},
        or 0 when the upstream sends no metadata.
    @raise RelayRefused: unless the status is C{HTTP/1.x 200} or
        C{ICY 200}, the content type C{audio/mpeg} and the metaint (if
        any) a positive number.
    """
    text = head.decode("latin-1")
    lines = text.replace("\r\n", "\n").split("\n")
    parts = lines[0].split(None, 2)
    if len(parts) < 2 or not (parts[0].startswith("HTTP/1.") or parts[0] == "ICY"):
        raise RelayRefused(f"not an HTTP or ICY response: {lines[0][:80]!r}")
    if parts[1] != "200":
        raise RelayRefused(f"upstream answered {' '.join(parts[1:])[:80]}")
    headers: dict[str, str] = {}
    for line in lines[1:]:
        name, colon, value = line.partition(":")
        if colon:
            headers[name.strip().lower()] = value.strip()
    content_type = headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type != "audio/mpeg":
        raise RelayRefused(f"content type is {content_type or 'missing'}, not audio/mpeg")
    metaint_text = headers.get("icy-metaint", "0")
    try:
        metaint = int(metaint_text)
    except ValueError:
        metaint = -1
    if metaint < 0:
        raise RelayRefused(f"bad icy-metaint {metaint_text[:20]!r}")
    return headers, metaint


class RelayProtocol(Protocol):
    """
    One connection to the upstream: request, response head, then audio
    with ICY metadata.
    """

    _log = Logger()

    def __init__(self, relay: Relay) -> None:
        """
        @param relay: the relay this connection serves.
        """
        self.relay = relay
        self.live: LiveSource | None = None
        self._watch: SilenceWatch | None = None
        self._head = b""
        self._demuxer: IcyDemuxer | None = None
        self._title: str | None = None
        self._timer: IDelayedCall | None = None
        self._garbage_since = 0
        self._refused = False

    def connectionMade(self) -> None:
        """
        Send the request and start the read timer.
        """
        assert self.transport is not None
        relay = self.relay
        relay.connected(self)
        self.transport.write(build_request(relay.host, relay.port, relay.path))
        self._timer = relay.clock.callLater(relay.read_timeout, self._timed_out)

    def _timed_out(self) -> None:
        self._timer = None
        self._log.warn(
            "Relay {mount}: no audio from {upstream} for {seconds} s",
            mount=self.relay.name,
            upstream=self.relay.url,
            seconds=self.relay.read_timeout,
        )
        assert self.transport is not None
        self.transport.abortConnection()  # type: ignore[attr-defined]

    def _alive(self) -> None:
        """
        The upstream sent part of its head or a whole audio frame: restart
        the read timer.
        """
        if self._timer is not None and self._timer.active():
            self._timer.reset(self.relay.read_timeout)

    def dataReceived(self, data: bytes) -> None:
        """
        Read the response head, then relay the audio and titles; once
        the upstream is refused, ignore what it still sends.
        """
        if self._refused:
            return
        try:
            if self.live is None:
                self._alive()
                self._head += data
                end = self._head.find(b"\r\n\r\n")
                if end < 0:
                    if len(self._head) > MAX_HEADER:
                        raise RelayRefused("response head too long")
                    return
                data = self._head[end + 4 :]
                self._start(self._head[:end])
            self._body(data)
        except (RelayRefused, IcyFramingError) as e:
            self._log.warn(
                "Relay {mount}: cannot relay {upstream}: {reason}",
                mount=self.relay.name,
                upstream=self.relay.url,
                reason=str(e),
            )
            self._refused = True
            assert self.transport is not None
            self.transport.loseConnection()

    def _start(self, head: bytes) -> None:
        headers, metaint = parse_response_head(head)
        if metaint:
            self._demuxer = IcyDemuxer(metaint)
        title = headers.get("icy-name") or self.relay.url
        producer = cast(IPushProducer, self.transport)
        self.live = LiveSource(TrackInfo(path="", title=title), producer=producer)
        self.relay.switch.attach(self.live, relay=True)
        silence = self.relay.silence
        if silence is not None:
            self._watch = silence.watch(self.relay.name, self.live, self.relay.url)
        self._log.info(
            "Relay {mount}: connected to {upstream}",
            mount=self.relay.name,
            upstream=self.relay.url,
        )

    def _body(self, data: bytes) -> None:
        live = self.live
        assert live is not None
        if self._demuxer is None:
            events = [("audio", data)]
        else:
            events = self._demuxer.feed(data)
        for kind, payload in events:
            if kind == "audio":
                self._audio(live, payload)
            elif payload:
                title = parse_metadata(payload).get("StreamTitle")
                if title is not None and title != self._title:
                    self._title = title
                    live.set_title(title)

    def _audio(self, live: LiveSource, data: bytes) -> None:
        """
        Queue the upstream's audio bytes, a slice at a time so that the
        garbage after the last whole frame is what gets counted: a slice
        that completes a frame restarts the read timer and the count.

        @raise RelayRefused: when more than L{MAX_GARBAGE} bytes of
            garbage came since the last frame.
        """
        step = MAX_GARBAGE // 2
        for start in range(0, len(data), step):
            if live.feed(data[start : start + step]):
                self._garbage_since = live.garbage
                self._alive()
                self.relay.delivered()
            elif live.garbage - self._garbage_since > MAX_GARBAGE:
                raise RelayRefused(f"no MPEG audio in {live.garbage - self._garbage_since} bytes")

    def connectionLost(self, reason: Failure | None = None) -> None:
        """
        Let the mount play out what arrived, and tell the relay.
        """
        if self._timer is not None and self._timer.active():
            self._timer.cancel()
        self._timer = None
        if self._watch is not None:
            self._watch.stop()
            self._watch = None
        if self.live is not None:
            self.relay.switch.detach(self.live)
        self.relay.lost(self, reason)


class _RelayFactory(ClientFactory):
    """
    Builds the relay's connection and reports failures to connect.
    """

    def __init__(self, relay: Relay) -> None:
        self.relay = relay

    def buildProtocol(self, addr: IAddress | None) -> RelayProtocol:
        return RelayProtocol(self.relay)

    def clientConnectionFailed(self, connector: IConnector, reason: Failure) -> None:
        self.relay.lost(None, reason)


class Relay:
    """
    Keeps a mount relaying an upstream URL, reconnecting with backoff
    through a L{ReconnectingClient}: a connection counts as accepted once
    it has delivered a whole audio frame.

    @ivar url: the upstream URL.
    @ivar name: the mount's name, for logs.
    @ivar switch: the mount's switch the relayed audio goes on air through.
    @ivar silence: watches the relayed audio for dead air, or C{None}.
    @ivar protocol: the current connection, once made.
    """

    _log = Logger()

    def __init__(
        self,
        reactor: IReactorTCP,
        clock: IReactorTime,
        switch: Switch,
        url: str,
        name: str = "",
        read_timeout: float = READ_TIMEOUT,
        trust: object | None = None,
        silence: SilenceWatches | None = None,
    ) -> None:
        """
        @param reactor: makes the connections.
        @param clock: keeps time (read timeout, reconnection delays).
        @param switch: the mount's switch.
        @param url: the upstream, C{http://host[:port]/path}.
        @param name: the mount's name, for logs.
        @param read_timeout: seconds of upstream silence that count as a
            drop.
        @param trust: the authorities an C{https://} upstream's certificate
            must chain to (from L{twisted.internet.ssl.platformTrust} or
            L{twisted.internet.ssl.trustRootFromCertificates}); the
            system's by default.
        @param silence: watches the relayed audio for dead air, with the
            settings of the mount called C{name} (see
            L{radiod.ingest.silence}); by default it is not watched.
        @raise ValueError: if C{url} is not such a URL.
        """
        self.reactor = reactor
        self.clock = clock
        self.switch = switch
        self.url = url
        self.name = name
        self.read_timeout = read_timeout
        self.silence = silence
        self.host, self.port, self.path = parse_http_url(url)
        self.tls: IOpenSSLClientConnectionCreator | None = None
        if is_tls_url(url):
            policy = BrowserLikePolicyForHTTPS(trustRoot=trust)
            self.tls = policy.creatorForNetloc(self.host.encode("idna"), self.port)
        self.protocol: RelayProtocol | None = None
        self._client = ReconnectingClient(clock, self._attempt, self._retrying)
        self._accepting: Deferred[ITransport] | None = None
        self._connector: IConnector | None = None
        self._reason: Failure | None = None
        self._reconnecting = False

    @property
    def delay(self) -> float:
        """
        Seconds the next reconnection waits, should the upstream drop now.
        """
        return self._client.delay

    @property
    def pending(self) -> IDelayedCall | None:
        """
        The scheduled reconnection, if any.
        """
        return self._client.retry

    def start(self) -> None:
        """
        Connect to the upstream.
        """
        self._client.start()

    def stop(self) -> None:
        """
        Stop relaying: cancel any reconnection and close the connection.
        """
        self._client.stop()

    def _attempt(self) -> Deferred[ITransport]:
        """
        Connect; fire with the transport once the upstream sent audio.
        """
        if self._reconnecting:
            self._reconnecting = False
            self._log.info(
                "Relay {mount}: reconnecting to {upstream}", mount=self.name, upstream=self.url
            )
        self.protocol = None
        self._reason = None
        self._accepting = Deferred(self._cancel)
        factory = _RelayFactory(self)
        if self.tls is not None:
            self._connector = self.reactor.connectSSL(  # type: ignore[attr-defined]
                self.host, self.port, factory, self.tls, timeout=self.read_timeout
            )
        else:
            self._connector = self.reactor.connectTCP(
                self.host, self.port, factory, timeout=self.read_timeout
            )
        return self._accepting

    def _cancel(self, accepting: Deferred[ITransport]) -> None:
        """
        Abandon the attempt: close its connection, or stop connecting.
        """
        if self.protocol is not None and self.protocol.transport is not None:
            self.protocol.transport.loseConnection()
        elif self._connector is not None:
            self._connector.stopConnecting()

    def delivered(self) -> None:
        """
        The upstream delivered audio: the connection is accepted, and its
        drop will be retried quickly again.
        """
        accepting = self._accepting
        protocol = self.protocol
        if accepting is None or accepting.called or protocol is None:
            return
        assert protocol.transport is not None
        accepting.callback(protocol.transport)

    def connected(self, protocol: RelayProtocol) -> None:
        """
        Note the current connection.
        """
        self.protocol = protocol

    def lost(self, protocol: RelayProtocol | None, reason: Failure | None) -> None:
        """
        A connection ended or could not be made: unless it was accepted,
        the attempt failed.  Either way the relay reconnects after a
        delay, which doubles after each failure in a row.
        """
        if self.protocol is not protocol:
            return
        self.protocol = None
        self._connector = None
        self._reason = reason
        accepting, self._accepting = self._accepting, None
        if accepting is None:
            return
        if not accepting.called:
            accepting.errback(reason if reason is not None else Failure(ConnectionDone()))
        else:
            self._client.lost(reason if reason is not None else connectionDone)

    def _retrying(self, delay: float) -> None:
        """
        Log the drop, and that a reconnection waits C{delay} seconds.
        """
        reason = self._reason
        self._reconnecting = True
        self._log.warn(
            "Relay {mount}: lost {upstream} ({reason}); reconnecting in {delay} s",
            mount=self.name,
            upstream=self.url,
            reason=tls_failure_reason(reason) if reason is not None else "closed",
            delay=delay,
        )
