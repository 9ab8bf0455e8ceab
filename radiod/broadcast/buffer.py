# -*- test-case-name: tests.broadcast.test_mount -*-
"""
The shared buffer of recent audio for one mount.

Audio is kept as a list of immutable chunks addressed by absolute byte
offsets since the mount started.  Every chunk starts on a frame boundary and
belongs to one track, and carries the ICY metadata block for that track, so
a listener reading old audio from the burst hears the title that went with
it.  Listeners hold nothing but an offset into this buffer.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

from radiod.audio.track import TrackInfo

__all__ = ["Chunk", "StreamBuffer"]


@dataclass(frozen=True, slots=True)
class Chunk:
    """
    A run of whole frames of one play, shared by every listener.

    @ivar start: absolute offset of C{data[0]} in the mount's stream.
    @ivar data: the frames' bytes.
    @ivar track: the track the frames belong to.
    @ivar block: the encoded ICY metadata block announcing C{track}.
    @ivar play: the number of the play the frames belong to (see
        L{radiod.audio.track.Play}), or 0 when not told.
    @ivar view: a memoryview of C{data}, for slicing without copies.
    """

    start: int
    data: bytes
    track: TrackInfo
    block: bytes
    play: int = 0
    view: memoryview = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "view", memoryview(self.data))

    @property
    def end(self) -> int:
        """
        The absolute offset just past this chunk.
        """
        return self.start + len(self.data)


class StreamBuffer:
    """
    A bounded window of the most recent audio of one mount.

    @ivar head: absolute offset just past the newest byte.
    @ivar tail: absolute offset of the oldest byte still held (the head,
        before any audio).
    @ivar keep: bytes of history kept behind the head.
    """

    def __init__(self, keep: int) -> None:
        """
        @param keep: how many bytes of recent audio to keep; at least the
            larger of the burst size and the queue size.
        """
        self.keep = keep
        self.head = 0
        self.tail = 0
        self._chunks: list[Chunk] = []

    def __len__(self) -> int:
        return self.head - self.tail

    def append(self, data: bytes, track: TrackInfo, block: bytes, play: int = 0) -> Chunk:
        """
        Add whole frames of one play (number C{play}, of C{track}) at the
        head and forget audio older than C{keep} bytes (whole chunks only).

        @return: the new chunk.
        """
        chunk = Chunk(self.head, data, track, block, play)
        self._chunks.append(chunk)
        self.head = chunk.end
        limit = self.head - self.keep
        drop = 0
        for old in self._chunks:
            if old.end > limit:
                break
            drop += 1
        if drop:
            del self._chunks[:drop]
        self.tail = self._chunks[0].start
        return chunk

    def burst_start(self, burst: int) -> int:
        """
        Where a new listener starts: the first chunk (hence frame) boundary
        at most C{burst} bytes behind the head, or the head itself.
        """
        if burst <= 0:
            return self.head
        limit = self.head - burst
        for chunk in self._chunks:
            if chunk.start >= limit:
                return chunk.start
        return self.head

    def newest(self) -> Chunk | None:
        """
        The chunk at the head, or L{None} before any audio arrived.
        """
        return self._chunks[-1] if self._chunks else None

    def read(self, position: int) -> Iterator[tuple[Chunk, int]]:
        """
        Yield each chunk holding audio at or after C{position}, with the
        offset inside the chunk where that audio begins.

        @raise IndexError: if C{position} is older than the tail (the
            audio is gone) or beyond the head.
        """
        if position < self.tail or position > self.head:
            raise IndexError(position)
        chunks = self._chunks
        index = len(chunks)
        # Listeners are nearly always at or near the head: search backwards.
        while index > 0 and chunks[index - 1].start > position:
            index -= 1
        if index == 0:
            return
        first = chunks[index - 1]
        if position < first.end:
            yield first, position - first.start
        for chunk in chunks[index:]:
            yield chunk, 0
