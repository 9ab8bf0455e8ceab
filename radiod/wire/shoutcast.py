# -*- test-case-name: tests.wire.test_shoutcast -*-
"""
Live sources over the SHOUTcast v1 source protocol, on the port after the
listener port.

An encoder connects and sends its password on one line (C{password},
C{password:#sid} or C{dj:password[:#sid]}), then C{icy-*} header lines, a
blank line and audio, all possibly in one packet (darkice does not wait
for the reply).  The station answers the password line with L{ACCEPTED}
(or L{INVALID_PASSWORD}, closing the connection).  The source goes on
the station's default mount through the same L{radiod.ingest.sources.Sources} as
Icecast sources, so takeover, "mount in use", the source timeout and
backpressure work the same.

L{HandshakeParser}, L{parse_login} and L{stream_info} are pure.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import cast

from twisted.internet.interfaces import IAddress, IDelayedCall, IPushProducer, IReactorTime
from twisted.internet.protocol import Factory, Protocol
from twisted.logger import Logger
from twisted.python.failure import Failure

from radiod.config import StationConfig, source_password
from radiod.forwarded import format_peer
from radiod.ingest.source import SourceConnection
from radiod.ingest.sources import ACCEPTED_TYPES, SourceRefused, Sources
from radiod.ingest.stream import StreamInfo
from radiod.secret import same_secret
from radiod.wire.limits import (
    AddressLimit,
    Limits,
    LoginThrottle,
    StationLimits,
    enable_keepalive,
    socket_of,
)

__all__ = [
    "ACCEPTED",
    "INVALID_PASSWORD",
    "MAX_HANDSHAKE",
    "HandshakeError",
    "HandshakeParser",
    "IcyHeaders",
    "Login",
    "ShoutcastFactory",
    "ShoutcastProtocol",
    "parse_login",
    "stream_info",
]

ACCEPTED = b"OK2\r\nicy-caps:11\r\n\r\n"
"""
The reply to a right password; C{icy-caps:11} tells liquidsoap that
metadata updates are welcome.
"""

POKE = "!POKE"
"""
The password line of libshout's probe (C{!POKE} then a header saying it is
a poke request), sent before it logs in for real.
"""

INVALID_PASSWORD = b"invalid password\r\n"
"""
The reply to a wrong password, as SHOUTcast sends it before closing.
"""

MAX_HANDSHAKE = 8192
"""
The most bytes the password and header lines together may take.
"""


@dataclass(frozen=True)
class Login:
    """
    A source's password line, taken apart.

    @ivar password: the password.
    @ivar dj: the DJ name before the password, or C{""}.
    @ivar sid: the stream id after C{:#}, or C{None}.
    @ivar text: the line without its stream id, for passwords that
        themselves contain a colon.
    """

    password: str
    dj: str = ""
    sid: int | None = None
    text: str = ""


@dataclass(frozen=True)
class IcyHeaders:
    """
    The header lines a source sent after its password.

    @ivar fields: the C{(name, value)} pairs, names in lower case.
    """

    fields: tuple[tuple[str, str], ...]

    def get(self, name: str) -> str | None:
        """
        The last value of header C{name} (any case), or C{None}.
        """
        name = name.lower()
        found = None
        for key, value in self.fields:
            if key == name:
                found = value
        return found


class HandshakeError(Exception):
    """
    The password and header lines are longer than L{MAX_HANDSHAKE}.
    """


def _text(data: bytes) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("latin-1")


def parse_login(line: str) -> Login:
    """
    Read a password line: C{password}, C{password:#sid},
    C{dj:password} or C{dj:password:#sid}.

    @param line: the line without its line end.
    @return: its parts.
    """
    text = line.strip()
    sid: int | None = None
    head, marker, tail = text.rpartition(":#")
    if marker and tail.isascii() and tail.isdigit():
        text, sid = head, int(tail)
    dj, colon, password = text.partition(":")
    if not colon:
        dj, password = "", text
    return Login(password=password, dj=dj, sid=sid, text=text)


def stream_info(headers: IcyHeaders) -> StreamInfo:
    """
    The stream description in a v1 source's C{icy-*} headers.

    @param headers: the header lines.
    @return: the same L{StreamInfo} an Icecast source's C{ice-*} headers
        give; C{icy-br} becomes C{bitrate=N} audio info.
    """

    def get(key: str) -> str:
        return (headers.get("icy-" + key) or "").strip()

    public = get("pub")
    bitrate = get("br")
    return StreamInfo(
        name=get("name"),
        genre=get("genre"),
        description=get("description"),
        url=get("url"),
        public=None if not public else public not in ("0", "false", "no"),
        audio_info=f"bitrate={bitrate}" if bitrate.isdigit() else "",
    )


class HandshakeParser:
    """
    Split a v1 source's bytes incrementally into its password line, its
    header lines and its audio.  Lines may end with CRLF, a bare LF or
    even CR CR LF.
    """

    def __init__(self) -> None:
        self._buffer = bytearray()
        self._state = "password"
        self._fields: list[tuple[str, str]] = []
        self._size = 0

    def feed(self, data: bytes) -> list[Login | IcyHeaders | bytes]:
        """
        Parse the next bytes.

        @return: in order, the L{Login} once the password line is
            complete, the L{IcyHeaders} once the blank line after them has
            arrived, and then audio as C{bytes}.
        @raise HandshakeError: if the lines before the audio exceed
            L{MAX_HANDSHAKE} bytes.
        """
        if self._state == "audio":
            return [data] if data else []
        self._buffer += data
        events: list[Login | IcyHeaders | bytes] = []
        while self._state != "audio":
            end = self._buffer.find(b"\n")
            if end < 0:
                if self._size + len(self._buffer) > MAX_HANDSHAKE:
                    raise HandshakeError("source handshake too long")
                break
            self._size += end + 1
            if self._size > MAX_HANDSHAKE:
                raise HandshakeError("source handshake too long")
            line = _text(bytes(self._buffer[:end]).rstrip(b"\r"))
            del self._buffer[: end + 1]
            if self._state == "password":
                events.append(parse_login(line))
                self._state = "headers"
            elif not line.strip():
                events.append(IcyHeaders(tuple(self._fields)))
                self._state = "audio"
            else:
                name, colon, value = line.partition(":")
                if colon:
                    self._fields.append((name.strip().lower(), value.strip()))
        if self._state == "audio" and self._buffer:
            events.append(bytes(self._buffer))
            self._buffer.clear()
        return events


class ShoutcastProtocol(Protocol):
    """
    One SHOUTcast v1 source connection.

    @ivar source: the accepted source, once its headers are complete.
    """

    _log = Logger()

    def __init__(self, factory: ShoutcastFactory) -> None:
        self._factory = factory
        self._parser: HandshakeParser | None = HandshakeParser()
        self._timeout: IDelayedCall | None = None
        self._login: Login | None = None
        self.source: SourceConnection | None = None
        self._closed = False
        self._counted: str | None = None
        self.peer = "-"

    def connectionMade(self) -> None:
        """
        Count the connection against its address's limit (refusing it when
        over), and start the clock on the password and header lines.
        """
        assert self.transport is not None
        address = self.transport.getPeer()
        self.peer = format_peer(address)
        enable_keepalive(socket_of(self.transport))
        host = str(getattr(address, "host", None) or "-")
        self._counted = host
        self._timeout = self._factory.clock.callLater(
            self._factory.config.header_timeout, self._timed_out
        )
        self._factory.limits.admit(host).addCallback(self._admitted)

    def _admitted(self, admitted: bool) -> None:
        if not admitted and self._counted is not None:
            self._close()

    def _timed_out(self) -> None:
        self._timeout = None
        self._log.info("No complete source handshake from {peer} in time; closing", peer=self.peer)
        self._close()

    def _cancel_timeout(self) -> None:
        if self._timeout is not None and self._timeout.active():
            self._timeout.cancel()
        self._timeout = None

    def _refuse_login(self) -> None:
        if self.transport is not None and self.connected:
            self.transport.write(INVALID_PASSWORD)
        self._close()

    def _close(self) -> None:
        self._closed = True
        self._parser = None
        self._cancel_timeout()
        assert self.transport is not None
        self.transport.loseConnection()

    def dataReceived(self, data: bytes) -> None:
        """
        Feed the handshake parser; pass audio to the accepted source.
        """
        if self.source is not None:
            self._audio(data)
            return
        if self._parser is None:
            return
        try:
            events = self._parser.feed(data)
        except HandshakeError:
            self._log.warn("Source handshake from {peer} too long; closing", peer=self.peer)
            self._close()
            return
        for event in events:
            if self._closed:
                return
            if isinstance(event, Login):
                self._check(event)
            elif isinstance(event, IcyHeaders):
                self._connect(event)
            else:
                self._audio(event)

    def _audio(self, data: bytes) -> None:
        if self.source is not None:
            self.source.data_received(data)

    def _check(self, login: Login) -> None:
        assert self.transport is not None
        if login.text == POKE:
            # libshout's probe for the kind of server: answered as
            # SHOUTcast answers it, and not a failed login.
            self._log.info("SHOUTcast server probe from {peer}", peer=self.peer)
            self.transport.write(INVALID_PASSWORD)
            self._close()
            return
        expected = source_password(self._factory.config, self._factory.mount)
        # Both readings of the line are compared, always.
        right = [same_secret(given, expected) for given in (login.password, login.text)]
        if not expected or not any(right):
            host = str(getattr(self.transport.getPeer(), "host", self.peer))
            self._log.warn(
                "Refused SHOUTcast source from {peer}: invalid password{why}",
                peer=self.peer,
                mount=self._factory.mount,
                why="" if expected else " (no source password is configured)",
            )
            # Read nothing more; answer when the throttle says.
            self._closed = True
            self._parser = None
            self._cancel_timeout()
            self._factory.limits.failed(host).addCallback(self._answer_failed)
            return
        self._login = login
        self.transport.write(ACCEPTED)

    def _answer_failed(self, delay: float) -> None:
        if delay:
            # Guessing: answer later.
            self._factory.clock.callLater(delay, self._refuse_login)
        else:
            self._refuse_login()

    def _connect(self, headers: IcyHeaders) -> None:
        assert self.transport is not None and self._login is not None
        self._cancel_timeout()
        self._parser = None
        content_type = headers.get("content-type")
        if content_type and content_type.split(";")[0].strip().lower() not in ACCEPTED_TYPES:
            self._refuse("Content-type not supported")
            return
        try:
            self.source = self._factory.sources.connect_v1(
                self._factory.mount,
                ("source", self._login.password),
                stream_info(headers),
                cast(IPushProducer, self.transport),
                self.transport.loseConnection,
                self.peer,
            )
        except SourceRefused as refused:
            self._refuse(refused.reason)

    def _refuse(self, reason: str) -> None:
        assert self.transport is not None
        self._log.warn(
            "Refused SHOUTcast source from {peer}: {reason}",
            peer=self.peer,
            mount=self._factory.mount,
            reason=reason,
        )
        self.transport.write(reason.encode("utf-8") + b"\r\n")
        self._close()

    def connectionLost(self, reason: Failure = Failure(ConnectionError())) -> None:  # noqa: B008
        """
        End the source, if it was accepted.
        """
        self._cancel_timeout()
        self._parser = None
        if self._counted is not None:
            self._factory.limits.release(self._counted)
            self._counted = None
        if self.source is not None:
            self.source.connection_lost()


class ShoutcastFactory(Factory):
    """
    Builds a L{ShoutcastProtocol} per source connection.

    @ivar mount: the mount v1 sources go on (the station's default mount).
    @ivar limits: the per-address and login limits, shared with the
        listener port.
    """

    def __init__(
        self,
        clock: IReactorTime,
        config: StationConfig,
        sources: Sources,
        limits: Limits | None = None,
    ) -> None:
        """
        @param clock: for handshake timeouts.
        @param config: the station's settings (passwords, header timeout,
            the per-address limit).
        @param sources: the station's live sources, shared with the
            Icecast source protocol.
        @param limits: the connections and failed logins by address,
            shared with the listener port (by default, counted apart).
        """
        self.clock = clock
        self.config = config
        self.sources = sources
        self.limits: Limits = limits or StationLimits(
            AddressLimit(config.max_per_address),
            LoginThrottle(clock),
            lambda: self.config.max_per_address,
        )
        self.mount = config.mounts[0].name

    def reconfigure(self, config: StationConfig) -> None:
        """
        Use new settings (the password, the first mount) from the next
        connection on.
        """
        self.config = config
        self.mount = config.mounts[0].name

    def buildProtocol(self, addr: IAddress | None) -> ShoutcastProtocol:
        """
        A protocol for one source connection.
        """
        return ShoutcastProtocol(self)
