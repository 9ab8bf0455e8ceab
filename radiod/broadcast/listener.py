# -*- test-case-name: tests.broadcast.test_mount -*-
"""
One listener: a cursor into its mount's shared buffer, and the push
producer that feeds its transport.

A listener owns no audio.  On every fan-out the mount asks each listener to
deliver; a listener whose transport is not paused writes from its cursor
towards the head in one call (at most L{MAX_WRITE} bytes of audio), with
ICY metadata blocks interleaved at its own metaint positions.  When the
transport's buffer fills, Twisted pauses the listener; it then writes
nothing, and when resumed it catches up from its cursor.  A listener whose
cursor falls more than the queue size behind the head is disconnected.

The audio between two offsets is the same bytes for every listener: a
fan-out joins it once (a L{Span}, kept in the fan-out's L{Spans} for the
listeners that come next with the same cursor and head), and each
listener only cuts it at its own metadata positions.  Most listeners of
a fan-out are at the same cursor (the head of their last turn), so each
one's work is a lookup, a cut or two and one system call.
"""

from __future__ import annotations

import itertools
from bisect import bisect_right
from typing import Protocol

from twisted.internet.interfaces import IPushProducer
from twisted.logger import Logger
from zope.interface import implementer

from radiod.audio.icy import EMPTY_BLOCK
from radiod.broadcast.buffer import StreamBuffer
from radiod.broadcast.sender import direct_socket, send

__all__ = ["Listener", "ListenerTransport", "Span", "Spans", "span"]

_ids = itertools.count(1)

MAX_WRITE = 64 * 1024
"""
The most audio one delivery writes.  A listener catching up (after a pause,
or its burst) gets the rest on its next turn, so no listener ever holds more
than this in Twisted's buffer: the lag stays in the shared buffer.
"""


class Span:
    """
    The audio of a mount's buffer between two offsets, joined into one
    string, and the ICY metadata block announcing the audio at each of
    its offsets.

    @ivar data: the audio.
    @ivar view: a memoryview of L{data}.
    @ivar starts: the offset in L{data} where each chunk's audio starts,
        in order (the first is 0).
    @ivar blocks: the metadata block of each chunk, in the same order.
    """

    __slots__ = ("blocks", "data", "starts", "view")

    def __init__(self, data: bytes, starts: list[int], blocks: list[bytes]) -> None:
        self.data = data
        self.view = memoryview(data)
        self.starts = starts
        self.blocks = blocks

    def block_at(self, offset: int) -> bytes:
        """
        The block announcing the audio at C{offset} in L{data}.
        """
        if len(self.starts) == 1:
            return self.blocks[0]
        return self.blocks[bisect_right(self.starts, offset) - 1]


Spans = dict[tuple[int, int], Span]
"""
The spans one fan-out has joined, by their start and end offsets.
"""


def span(buffer: StreamBuffer, start: int, end: int) -> Span:
    """
    The audio of C{buffer} from C{start} to C{end} (both within it), as a
    L{Span}.
    """
    pieces: list[bytes | memoryview] = []
    starts: list[int] = []
    blocks: list[bytes] = []
    for chunk, offset in buffer.read(start):
        starts.append(chunk.start + offset - start)
        blocks.append(chunk.block)
        stop = end - chunk.start
        if stop >= len(chunk.data):
            pieces.append(chunk.view[offset:] if offset else chunk.data)
            if stop == len(chunk.data):
                break
        else:
            pieces.append(chunk.view[offset:stop])
            break
    data = pieces[0] if len(pieces) == 1 and isinstance(pieces[0], bytes) else b"".join(pieces)
    return Span(data, starts, blocks)


class ListenerTransport(Protocol):
    """
    What a listener needs of its transport (a TCP transport provides it).
    """

    def write(self, data: bytes, /) -> None: ...

    def registerProducer(self, producer: object, streaming: bool, /) -> None: ...

    def unregisterProducer(self) -> None: ...

    def abortConnection(self) -> None: ...

    def loseConnection(self) -> None: ...


class ListenerHost(Protocol):
    """
    What a listener needs of its mount.
    """

    name: str
    buffer: StreamBuffer
    queue_size: int

    def remove_listener(self, listener: Listener, /) -> None: ...

    def listener_dropped(self, listener: Listener, lag: int, /) -> None: ...


@implementer(IPushProducer)
class Listener:
    """
    A listener of one mount, registered as a streaming producer with its
    transport.

    @ivar id: a number unique within the process, for logs.
    @ivar position: absolute stream offset of the next audio byte to send.
    @ivar paused: whether the transport asked us to stop writing.
    @ivar sent: audio bytes handed to the transport so far.
    @ivar metaint: audio bytes between metadata blocks, or 0 for none.
    @ivar home: the name of the mount the listener asked for; it may be
        listening to that mount's fallback meanwhile.
    @ivar connected_at: clock time it joined its first mount.
    @ivar user_agent: its C{User-Agent}, or C{""} when it sent none.
    @ivar slot: the fan-out slot its mount serves it in.
    """

    __slots__ = (
        "_handle",
        "_last_block",
        "_until_block",
        "connected_at",
        "home",
        "id",
        "metaint",
        "mount",
        "paused",
        "peer",
        "position",
        "sent",
        "slot",
        "stopped",
        "transport",
        "user_agent",
    )

    _log = Logger()

    def __init__(
        self,
        transport: ListenerTransport,
        mount: ListenerHost,
        peer: str,
        metaint: int,
        start: int,
        home: str = "",
    ) -> None:
        """
        @param transport: where the audio goes.
        @param mount: the mount whose buffer we read.
        @param peer: the client's address, for logs.
        @param metaint: the ICY metadata interval, or 0 when the client did
            not ask for metadata.
        @param start: the absolute offset to start from (the burst point).
        @param home: the mount asked for, when not C{mount}.
        """
        self.id = next(_ids)
        self.transport = transport
        self.mount = mount
        self.home = home or mount.name
        self.peer = peer
        self.metaint = metaint
        self.position = start
        self.paused = False
        self.stopped = False
        self.sent = 0
        self.connected_at = 0.0
        self.user_agent = ""
        self.slot = 0
        self._until_block = metaint
        self._last_block: bytes | None = None
        self._handle = direct_socket(transport)

    @property
    def lag(self) -> int:
        """
        Bytes of audio this listener is behind the head.
        """
        return self.mount.buffer.head - self.position

    def deliver(self, spans: Spans | None = None) -> None:
        """
        Write from the cursor towards the head (at most L{MAX_WRITE} audio
        bytes at a time), unless paused; drop this listener if it lags
        more than the queue size.

        @param spans: the spans joined so far in this fan-out, to take the
            audio from and keep it in for the listeners after this one.
        """
        if self.stopped:
            return
        mount = self.mount
        buffer = mount.buffer
        position = self.position
        head = buffer.head
        if head - position > mount.queue_size or position < buffer.tail:
            self._drop()
            return
        if self.paused or position == head:
            return
        end = head if head - position <= MAX_WRITE else position + MAX_WRITE
        if spans is None:
            audio = span(buffer, position, end)
        else:
            key = (position, end)
            found = spans.get(key)
            if found is None:
                audio = spans[key] = span(buffer, position, end)
            else:
                audio = found
        self.sent += end - position
        self.position = end
        data = self._with_metadata(audio) if self.metaint else audio.data
        # One write per delivery, straight to the socket when possible.  The
        # transport may call pauseProducing from inside it.
        send(self.transport, self._handle, data)

    def send_intro(self, data: bytes, block: bytes) -> None:
        """
        Send audio that comes before the stream (the mount's intro), with
        metadata blocks at this listener's metaint positions announcing
        C{block}; the stream's audio and blocks follow on from where it
        ends.  Called once, before the first delivery.
        """
        metaint = self.metaint
        if metaint:
            pieces: list[bytes | memoryview] = []
            view = memoryview(data)
            until = self._until_block
            offset = 0
            while offset < len(data):
                if until == 0:
                    pieces.append(EMPTY_BLOCK if block is self._last_block else block)
                    self._last_block = block
                    until = metaint
                take = min(until, len(data) - offset)
                pieces.append(view[offset : offset + take])
                offset += take
                until -= take
            self._until_block = until
            data = b"".join(pieces)
        send(self.transport, self._handle, data)

    def move_to(self, mount: ListenerHost) -> None:
        """
        Go on listening to another mount, from its head.

        What the old mount has that this listener was not sent yet is
        sent first (or, when the transport is paused or that is more than
        L{MAX_WRITE}, just the rest of the chunk being sent), so the client
        never gets part of a frame; then
        the cursor moves to the new mount's newest audio.  The metadata
        interval runs on, and the next block announces the new mount's
        title.
        """
        buffer = self.mount.buffer
        position = self.position
        if not self.stopped and buffer.tail <= position < buffer.head:
            end = buffer.head
            if self.paused or end - position > MAX_WRITE:
                for chunk, offset in buffer.read(position):
                    end = chunk.end if offset else position
                    break
            if end > position:
                self._send_to(buffer, end)
        self.mount = mount
        self.position = mount.buffer.head

    def _send_to(self, buffer: StreamBuffer, end: int) -> None:
        """
        Write the audio from the cursor to C{end}, with metadata blocks,
        in one write.
        """
        audio = span(buffer, self.position, end)
        self.sent += end - self.position
        self.position = end
        send(
            self.transport, self._handle, self._with_metadata(audio) if self.metaint else audio.data
        )

    def _with_metadata(self, audio: Span) -> bytes:
        """
        C{audio} with metadata blocks at this listener's metaint
        positions.  A block announces the track of the audio that follows
        it, and is sent in full only when it differs from the last one
        this listener got; one due exactly at the end of C{audio} is sent
        with the next audio.
        """
        until = self._until_block
        size = len(audio.data)
        if until >= size:
            self._until_block = until - size
            return audio.data
        metaint = self.metaint
        last = self._last_block
        view = audio.view
        pieces: list[bytes | memoryview] = []
        done = 0
        while until < size:
            if until:
                pieces.append(view[done:until])
            block = audio.block_at(until)
            if block is last:
                pieces.append(EMPTY_BLOCK)
            else:
                pieces.append(block)
                last = block
            done = until
            until += metaint
        pieces.append(view[done:])
        self._until_block = until - size
        self._last_block = last
        return b"".join(pieces)

    def _drop(self) -> None:
        """
        Disconnect this listener because it fell too far behind.
        """
        lag = self.lag
        self.stopped = True
        self._log.warn(
            "Listener {listener} from {peer} on {mount} fell {lag} bytes behind; disconnecting",
            listener=self.id,
            peer=self.peer,
            mount=self.mount.name,
            lag=lag,
        )
        self.mount.listener_dropped(self, lag)
        self.transport.abortConnection()

    def pauseProducing(self) -> None:
        """
        The transport's buffer is full: stop writing, keep the cursor.
        """
        self.paused = True

    def resumeProducing(self) -> None:
        """
        The transport drained its buffer: catch up from the cursor.
        """
        self.paused = False
        self.deliver()

    def stopProducing(self) -> None:
        """
        The connection is gone: leave the mount.
        """
        if not self.stopped:
            self.stopped = True
        self.mount.remove_listener(self)
