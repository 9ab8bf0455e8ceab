# -*- test-case-name: tests.audio.test_frames -*-
"""
A whole track's frames, held compactly: L{FrameBlock} keeps the file's own
bytes and an array of where each frame starts, and L{read_block} splits a
file into one.  Pure.
"""

from __future__ import annotations

from array import array
from collections.abc import Iterable, Iterator, Sequence
from typing import overload

from radiod.audio.frames import Frame, FrameHeader, FrameSplitter, UnsupportedAudio, trailing_tags

__all__ = ["FrameBlock", "read_block"]


class FrameBlock(Sequence[Frame]):
    """
    The frames of a whole track, stored compactly: their bytes back to
    back in one C{bytes}, an array of where each starts, and one shared
    L{FrameHeader} per distinct header.

    A list of L{Frame}s holds two tracked Python objects per frame, which
    the garbage collector walks again and again (an hour of MP3 is 138,000
    frames: a full collection over them stalls every thread for tens of
    milliseconds).  A block holds a handful, whatever its length; the
    L{Frame} each index gives is made when asked for and soon dropped.

    @ivar duration: the playing time of all the frames, in seconds.
    """

    __slots__ = ("_data", "_ends", "_header_of", "_headers", "_starts", "duration")

    def __init__(self, frames: Iterable[Frame] = (), within: bytes | None = None) -> None:
        """
        @param frames: the frames, in order (consumed once).
        @param within: bytes the frames were split from, in order (a whole
            file): the block then keeps these bytes and where each frame
            lies in them, instead of a copy of every frame.
        """
        data = bytearray()
        starts = array("Q")
        ends = array("Q")
        header_of = array("H")
        headers: list[FrameHeader] = []
        index: dict[FrameHeader, int] = {}
        duration = 0.0
        position = 0
        for frame in frames:
            if within is None:
                starts.append(len(data))
                data += frame.data
                ends.append(len(data))
            else:
                if not within.startswith(frame.data, position):
                    position = within.find(frame.data, position)
                    if position < 0:
                        raise ValueError("a frame is not in the bytes given")
                starts.append(position)
                position += len(frame.data)
                ends.append(position)
            header = frame.header
            number = index.get(header)
            if number is None:
                number = index[header] = len(headers)
                headers.append(header)
            header_of.append(number)
            duration += header.duration
        self._data = bytes(data) if within is None else within
        self._starts = starts
        self._ends = ends
        self._header_of = header_of
        self._headers = headers
        self.duration = duration

    def __len__(self) -> int:
        return len(self._header_of)

    @overload
    def __getitem__(self, index: int) -> Frame: ...

    @overload
    def __getitem__(self, index: slice) -> list[Frame]: ...

    def __getitem__(self, index: int | slice) -> Frame | list[Frame]:
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self)))]
        if index < 0:
            index += len(self)
        if not 0 <= index < len(self):
            raise IndexError("frame index out of range")
        start = self._starts[index]
        end = self._ends[index]
        return Frame(self._headers[self._header_of[index]], self._data[start:end])

    def __iter__(self) -> Iterator[Frame]:
        for index in range(len(self)):
            yield self[index]

    @property
    def size(self) -> int:
        """
        The bytes of all the frames.
        """
        return sum(self._ends) - sum(self._starts)

    def headers(self) -> Iterator[FrameHeader]:
        """
        The header of each frame in order, without making the frames.
        """
        headers = self._headers
        for number in self._header_of:
            yield headers[number]


def read_block(
    data: bytes | bytearray | memoryview, splitter: FrameSplitter | None = None
) -> FrameBlock:
    """
    Split a whole file into its audio frames (tags at its end measured from
    the end first, the rest through a L{FrameSplitter}), into
    a L{FrameBlock} over the file's own bytes: the splitter is fed a piece
    at a time, so no list of every frame, and no second copy of the audio,
    ever exists.

    @raise UnsupportedAudio: if there is no usable audio: no frames at
        all, or fewer bytes of frames than of garbage.  The reason names
        free format when free-format frames were seen.
    """
    splitter = FrameSplitter() if splitter is None else splitter
    view = memoryview(data)
    cut, kinds = trailing_tags(view)

    def frames() -> Iterator[Frame]:
        for start in range(0, cut, _BLOCK_PIECE):
            yield from splitter.feed(view[start : min(cut, start + _BLOCK_PIECE)])
        yield from splitter.finish()

    block = FrameBlock(frames(), within=bytes(data) if not isinstance(data, bytes) else data)
    for kind in kinds:
        splitter.tags_skipped[kind] = splitter.tags_skipped.get(kind, 0) + 1
    splitter.tag_bytes += len(view) - cut
    if not len(block) or block.size < splitter.garbage_bytes:
        if splitter.free_format_seen:
            raise UnsupportedAudio("free-format MPEG audio is not supported")
        raise UnsupportedAudio("no MPEG audio frames found")
    return block


_BLOCK_PIECE = 64 * 1024
"""
How much of a file L{read_block} feeds the splitter at a time.
"""
