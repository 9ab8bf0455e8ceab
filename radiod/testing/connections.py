# -*- test-case-name: tests.test_testing -*-
"""
Clients in memory: a transport that pushes back like a slow client, what
a listener receives, a parsed reply, and a connection to any server
factory.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Generic, Protocol, TypeVar

from twisted.internet.address import IPv4Address, IPv6Address
from twisted.internet.error import ConnectionDone
from twisted.internet.interfaces import (
    IAddress,
)
from twisted.internet.protocol import Protocol as TwistedProtocol
from twisted.internet.testing import StringTransport
from twisted.python.failure import Failure

from radiod.audio.icy import IcyDemuxer, parse_metadata

__all__ = ["Connection", "ListenerCapture", "Reply", "SlowTransport", "parse_reply"]

_T = TypeVar("_T")
_P = TypeVar("_P", bound=TwistedProtocol)
_P_co = TypeVar("_P_co", bound=TwistedProtocol, covariant=True)


class SlowTransport(StringTransport):
    """
    A StringTransport that behaves like a TCP transport whose peer reads
    slowly: while more than C{threshold} bytes are written and not yet
    L{drain}ed, each write pauses its streaming producer (again, if it is
    paused already), and draining resumes it once, as Twisted does with
    its send buffer.

    @ivar threshold: the bytes it holds before it pauses its producer.
    @ivar aborted: whether L{abortConnection} was called.
    @ivar paused_producer: whether it paused its producer and has not
        resumed it since.
    @ivar written_chunks: the size of each write, in order.
    """

    def __init__(self, threshold: int = 65536) -> None:
        """
        @param threshold: the bytes it holds before it pauses its
            producer; by default, as much as a Twisted transport buffers
            (C{FileDescriptor.bufferSize}).
        """
        super().__init__()
        self.threshold = threshold
        self.aborted = False
        self.paused_producer = False
        self.written_chunks: list[int] = []
        self._pending = 0

    def write(self, data: bytes) -> None:
        """
        Hold C{data} for the peer; pause the streaming producer if more
        than the threshold is held.
        """
        super().write(data)
        self.written_chunks.append(len(data))
        self._pending += len(data)
        if self._pending > self.threshold and self.producer is not None and self.streaming:
            self.paused_producer = True
            self.producer.pauseProducing()

    def writeSequence(self, data: Iterable[bytes | memoryview]) -> None:
        """
        Write the pieces of C{data} joined, in one write.
        """
        self.write(b"".join(data))

    def drain(self) -> bytes:
        """
        The peer reads everything written so far; resume the producer.
        """
        data: bytes = self.value()
        self.clear()
        self._pending = 0
        if self.producer is not None and self.paused_producer:
            self.paused_producer = False
            self.producer.resumeProducing()
        return data

    def abortConnection(self) -> None:
        """
        Close at once, noting that it was aborted.
        """
        self.aborted = True
        self.loseConnection()


@dataclass
class ListenerCapture:
    """
    What a listener received: the response head, the audio, and each ICY
    title with the audio offset where it arrived.

    @ivar status_line: the response's first line.
    @ivar headers: its header fields by lower-cased name.
    @ivar audio: the audio received, without ICY metadata.
    @ivar titles: each C{StreamTitle} received, with the length of
        L{audio} when it arrived.
    @ivar blocks: the metadata blocks received, empty ones included.
    """

    status_line: str = ""
    headers: dict[str, str] = field(default_factory=dict)
    audio: bytearray = field(default_factory=bytearray)
    titles: list[tuple[int, str]] = field(default_factory=list)
    blocks: int = 0
    _head: bytearray = field(default_factory=bytearray)
    _demuxer: IcyDemuxer | None = None
    _done: bool = False

    def feed(self, data: bytes) -> None:
        """
        Parse more of the listener's byte stream.
        """
        if not self._done:
            self._head += data
            end = self._head.find(b"\r\n\r\n")
            if end < 0:
                return
            lines = bytes(self._head[:end]).decode("latin-1").split("\r\n")
            self.status_line = lines[0]
            for line in lines[1:]:
                name, _, value = line.partition(":")
                self.headers[name.strip().lower()] = value.strip()
            data = bytes(self._head[end + 4 :])
            self._done = True
            metaint = int(self.headers.get("icy-metaint", "0"))
            self._demuxer = IcyDemuxer(metaint) if metaint else None
        if self._demuxer is None:
            self.audio += data
            return
        for kind, payload in self._demuxer.feed(data):
            if kind == "audio":
                self.audio += payload
            else:
                self.blocks += 1
                if payload:
                    title = parse_metadata(payload).get("StreamTitle", "")
                    self.titles.append((len(self.audio), title))


@dataclass(frozen=True)
class Reply:
    """
    A complete HTTP reply, as a client received it.

    @ivar status: the status code.
    @ivar headers: the header fields by lower-cased name (the last value
        of a repeated one).
    @ivar body: what followed the head.
    """

    status: int
    headers: dict[str, str]
    body: bytes


def parse_reply(data: bytes) -> Reply:
    """
    Split a reply into its status, headers and body.

    @param data: everything the server wrote.
    @return: the reply.
    @raise ValueError: if C{data} holds no complete head.
    """
    head, found, body = data.partition(b"\r\n\r\n")
    if not found:
        raise ValueError(f"no complete reply head in {data[:200]!r}")
    lines = head.decode("latin-1").split("\r\n")
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return Reply(int(lines[0].split()[1]), headers, body)


class _ServerFactory(Protocol[_P_co]):
    """
    A factory that builds a protocol for each connection it accepts.
    """

    def buildProtocol(self, addr: IAddress | None) -> _P_co: ...


class Connection(Generic[_P]):
    """
    One client's connection to a server, in memory: the protocol that
    C{factory} builds for a client at C{host}, port C{port}, connected to
    a L{StringTransport} that keeps what the server writes.

    The same bytes sent get the same reply as on a TCP connection to the
    same factory.  Closing is only noted, as L{StringTransport} notes it:
    when the server closes, L{closed} turns true and its protocol is not
    told the connection was lost; the test says when the client leaves,
    with L{lose}.

    @ivar transport: the server's transport: what it wrote is its
        C{value()}.
    @ivar protocol: the server's protocol for this connection.
    """

    def __init__(
        self,
        factory: _ServerFactory[_P],
        port: int = 40000,
        host: str = "192.0.2.9",
        transport: StringTransport | None = None,
    ) -> None:
        """
        @param factory: the server's factory (a station's
            L{radiod.wire.server.RadioFactory}, say).
        @param port: the client's port.
        @param host: the client's address, IPv4 or IPv6.
        @param transport: the transport to connect the protocol to (a
            L{SlowTransport}, say), or L{None} for a new
            L{StringTransport}; it is given the client's address as its
            peer.
        """
        address = (IPv6Address if ":" in host else IPv4Address)("TCP", host, port)
        if transport is None:
            transport = StringTransport()
        transport.peerAddr = address
        self.transport = transport
        self.protocol: _P = factory.buildProtocol(address)
        self.protocol.makeConnection(transport)

    def send(self, data: bytes | str) -> bytes:
        """
        The client sends C{data} (text as UTF-8).

        @return: everything the server has written so far (see
            L{received}).
        """
        self.protocol.dataReceived(data.encode("utf-8") if isinstance(data, str) else data)
        return self.received()

    def received(self) -> bytes:
        """
        Everything the server has written so far.
        """
        return bytes(self.transport.value())

    def capture(self) -> ListenerCapture:
        """
        Everything the server has written so far, read as a listener reads
        it.
        """
        capture = ListenerCapture()
        capture.feed(self.received())
        return capture

    def reply(self) -> Reply:
        """
        Everything the server has written so far, read as a complete reply.

        @raise ValueError: if it holds no complete head.
        """
        return parse_reply(self.received())

    @property
    def closed(self) -> bool:
        """
        Whether the server has closed the connection.
        """
        return bool(self.transport.disconnecting)

    def lose(self, reason: Failure | None = None) -> None:
        """
        The client goes away: the server's protocol is told the connection
        was lost.

        @param reason: why, by default a clean close (L{ConnectionDone}),
            as TCP reports a client that closed its end.
        """
        self.protocol.connectionLost(reason or Failure(ConnectionDone()))
