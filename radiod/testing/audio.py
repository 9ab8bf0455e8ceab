# -*- test-case-name: tests.test_testing -*-
"""
Audio helpers for tests: a whole file split into a list of frames, and
ICY blocks placed in one listener's audio.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from twisted.internet.protocol import Protocol as TwistedProtocol

from radiod.audio.block import read_block
from radiod.audio.frames import Frame, FrameSplitter

__all__ = ["MetadataInterleaver", "read_frames"]

_T = TypeVar("_T")
_P = TypeVar("_P", bound=TwistedProtocol)
_P_co = TypeVar("_P_co", bound=TwistedProtocol, covariant=True)


def read_frames(
    data: bytes | bytearray | memoryview, splitter: FrameSplitter | None = None
) -> list[Frame]:
    """
    Split a whole file into a list of its audio frames (see
    L{radiod.audio.block.read_block}, which the station uses).

    @param splitter: a fresh splitter, whose counters the caller may read
        afterwards; a new one by default.
    @raise UnsupportedAudio: as L{read_block} does.
    """
    return list(read_block(data, splitter))


class MetadataInterleaver:
    """
    Insert metadata blocks into one listener's audio every C{metaint} bytes.

    The interleaver only counts; the caller decides what each block says.
    Audio is never copied: the pieces returned are the input itself or
    memoryview slices of it.

    @ivar metaint: the number of audio bytes between blocks.
    """

    __slots__ = ("_until_block", "metaint")

    def __init__(self, metaint: int) -> None:
        """
        @param metaint: the C{icy-metaint} announced to this listener.
        @raise ValueError: if C{metaint} is not positive.
        """
        if metaint <= 0:
            raise ValueError(f"metaint must be positive, not {metaint}")
        self.metaint = metaint
        self._until_block = metaint

    @property
    def until_block(self) -> int:
        """
        The number of audio bytes still to write before the next block; 0
        means a block is due before the next audio byte.
        """
        return self._until_block

    def interleave(
        self, audio: bytes | memoryview, block_at: Callable[[int], bytes]
    ) -> list[bytes | memoryview]:
        """
        Split C{audio} around the metadata blocks that fall inside it.

        A block is only written in front of the audio that follows it: one
        due exactly at the end of C{audio} is written at the start of the next
        call. So C{block_at(offset)} is always called with
        C{0 <= offset < len(audio)}, the index of the first audio byte after
        the block, in increasing order.

        @param audio: the next audio bytes for this listener.
        @param block_at: returns the block to insert before C{audio[offset]},
            either a full block from L{encode_metadata} or L{EMPTY_BLOCK}.
        @return: the pieces to write, in order.
        """
        size = len(audio)
        until = self._until_block
        if size <= until:
            self._until_block = until - size
            return [audio] if size else []
        view = audio if isinstance(audio, memoryview) else memoryview(audio)
        pieces: list[bytes | memoryview] = []
        position = 0
        metaint = self.metaint
        while position + until < size:
            offset = position + until
            if until:
                pieces.append(view[position:offset])
            pieces.append(block_at(offset))
            position = offset
            until = metaint
        pieces.append(view[position:])
        self._until_block = until - (size - position)
        return pieces
