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
"""

from __future__ import annotations

import itertools
from typing import Protocol

from twisted.internet.interfaces import IPushProducer
from twisted.logger import Logger
from zope.interface import implementer

from radiod.audio.icy import EMPTY_BLOCK
from radiod.broadcast.buffer import StreamBuffer
from radiod.broadcast.sender import direct_socket, send

__all__ = ["Listener", "ListenerTransport"]

_ids = itertools.count(1)

MAX_WRITE = 64 * 1024
"""
The most audio one delivery writes.  A listener catching up (after a pause,
or its burst) gets the rest on its next turn, so no listener ever holds more
than this in Twisted's buffer: the lag stays in the shared buffer.
"""


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
        self._until_block = metaint
        self._last_block: bytes | None = None
        self._handle = direct_socket(transport)

    @property
    def lag(self) -> int:
        """
        Bytes of audio this listener is behind the head.
        """
        return self.mount.buffer.head - self.position

    def deliver(self) -> None:
        """
        Write from the cursor towards the head (at most L{MAX_WRITE} audio
        bytes at a time), unless paused; drop this listener if it lags
        more than the queue size.
        """
        if self.stopped:
            return
        buffer = self.mount.buffer
        position = self.position
        if buffer.head - position > self.mount.queue_size or position < buffer.tail:
            self._drop()
            return
        if self.paused or position == buffer.head:
            return
        self._send_to(buffer, min(buffer.head, position + MAX_WRITE))

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
        position = self.position
        pieces: list[bytes | memoryview] = []
        if self.metaint:
            self._interleave(buffer, end, pieces)
        else:
            for chunk, offset in buffer.read(position):
                stop = end - chunk.start
                if stop >= len(chunk.data):
                    pieces.append(chunk.view[offset:] if offset else chunk.data)
                else:
                    pieces.append(chunk.view[offset:stop])
                    break
        self.sent += end - position
        self.position = end
        # One write per delivery, straight to the socket when possible.  The
        # transport may call pauseProducing from inside it.
        send(self.transport, self._handle, b"".join(pieces))

    def _interleave(self, buffer: StreamBuffer, end: int, pieces: list[bytes | memoryview]) -> None:
        """
        Append to C{pieces} the audio from the cursor to C{end} with
        metadata blocks at this listener's metaint positions.  A block
        announces the track of the audio that follows it, and is sent in
        full only when it differs from the last one this listener got.
        """
        until = self._until_block
        last = self._last_block
        metaint = self.metaint
        for chunk, offset in buffer.read(self.position):
            view = chunk.view
            size = min(len(view), end - chunk.start)
            while offset < size:
                if until == 0:
                    block = chunk.block
                    if block is last:
                        pieces.append(EMPTY_BLOCK)
                    else:
                        pieces.append(block)
                        last = block
                    until = metaint
                take = size - offset
                if take > until:
                    take = until
                pieces.append(view[offset : offset + take])
                offset += take
                until -= take
            if chunk.end >= end:
                break
        self._until_block = until
        self._last_block = last

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
