# -*- test-case-name: tests.audio.test_reservoir -*-
"""
The MP3 bit reservoir, and frames that start a stream without it.

A Layer III frame may begin its audio data (its I{main data}) in the
frames before it: C{main_data_begin}, in its side information, counts the
bytes it borrows from the end of their data areas.  A decoder that starts
at such a frame has not seen those bytes and cannot decode it.  Cutting a
stream into pieces that each decode on their own (HLS segments) needs the
first frame of every piece to carry what it borrows.

L{self_contained} rewrites such a frame in place of the original: the
borrowed bytes move into the frame itself, which takes the next frame size
up (a higher bitrate index, as in a VBR stream) with C{main_data_begin} of
0, and filler goes right after the frame's own data, so every byte a later
frame borrows stays at the same distance from the end.  The frame still
plays the same 1152 (or 576) samples, so the timeline is unchanged, and
the frames after it are untouched.
"""

from __future__ import annotations

from collections.abc import Sequence

from radiod.audio.frames import Frame, parse_header

__all__ = ["main_data_begin", "main_data_length", "self_contained"]


def _side_info_size(frame: Frame) -> int:
    header = frame.header
    if header.version == "1":
        return 17 if header.channels == 1 else 32
    return 9 if header.channels == 1 else 17


def _area_start(frame: Frame) -> int:
    """
    Where the frame's data area (after header, CRC and side information)
    starts in its bytes.
    """
    return 4 + (2 if frame.header.protected else 0) + _side_info_size(frame)


def _bits(data: bytes, position: int, count: int) -> int:
    """
    C{count} bits of C{data} from bit C{position}, most significant first.
    """
    value = 0
    for bit in range(position, position + count):
        value = (value << 1) | ((data[bit >> 3] >> (7 - (bit & 7))) & 1)
    return value


def main_data_begin(frame: Frame) -> int:
    """
    How many bytes of the frames before it a Layer III frame's data
    begins with (0 for other layers).
    """
    if frame.header.layer != 3:
        return 0
    side = frame.data[4 + (2 if frame.header.protected else 0) :]
    if frame.header.version == "1":
        return _bits(side, 0, 9)
    return side[0]


def main_data_length(frame: Frame) -> int:
    """
    The bytes of a Layer III frame's own audio data (scale factors and
    Huffman codes of all its granules and channels), wherever they start.
    """
    header = frame.header
    if header.layer != 3:
        return 0
    side = frame.data[4 + (2 if header.protected else 0) :]
    channels = header.channels
    if header.version == "1":
        start = 9 + (5 if channels == 1 else 3) + 4 * channels
        fields = [start + index * 59 for index in range(2 * channels)]
    else:
        start = 8 + (1 if channels == 1 else 2)
        fields = [start + index * 63 for index in range(channels)]
    bits = sum(_bits(side, field, 12) for field in fields)
    return (bits + 7) // 8


def _same_stream(frame: Frame, other: Frame) -> bool:
    a, b = frame.header, other.header
    return (a.version, a.layer, a.channels, a.sample_rate, a.protected) == (
        b.version,
        b.layer,
        b.channels,
        b.sample_rate,
        b.protected,
    )


def _borrowed(frame: Frame, before: Sequence[Frame], count: int) -> bytes | None:
    """
    The last C{count} bytes of the data areas of C{before}, or C{None}
    when they do not hold that many (or change format).
    """
    pieces: list[bytes] = []
    held = 0
    for previous in reversed(before):
        if held >= count:
            break
        if not _same_stream(frame, previous):
            return None
        area = previous.data[_area_start(previous) :]
        pieces.append(area)
        held += len(area)
    if held < count:
        return None
    return b"".join(reversed(pieces))[-count:]


def _larger(frame: Frame, area: int) -> tuple[bytes, int] | None:
    """
    The smallest header of the same stream as C{frame} (another bitrate
    index, with or without padding) whose data area holds C{area} bytes,
    and that area's size; C{None} when even the largest frame cannot.
    """
    data = frame.data
    best: tuple[bytes, int] | None = None
    for index in range(1, 15):
        for padding in (0, 1):
            b2 = (index << 4) | (data[2] & 0x0C) | (padding << 1) | (data[2] & 0x01)
            candidate = bytes((data[0], data[1], b2, data[3]))
            header = parse_header(candidate)
            if header is None:
                continue
            room = header.length - _area_start(frame)
            if room >= area and (best is None or room < best[1]):
                best = (candidate, room)
    return best


def self_contained(frame: Frame, before: Sequence[Frame]) -> Frame:
    """
    C{frame} rewritten so that decoding can start at it: the bytes it
    borrows from C{before} (the frames that came before it, oldest first)
    carried in the frame itself.

    @return: the rewritten frame; C{frame} itself when it borrows nothing,
        or when it cannot be rewritten: the frames before it do not hold
        what it borrows, it has a CRC (rewriting would need a new one), or
        no frame size is large enough.
    """
    borrowed_count = main_data_begin(frame)
    if borrowed_count == 0 or frame.header.protected:
        return frame
    borrowed = _borrowed(frame, before, borrowed_count)
    if borrowed is None:
        return frame
    start = _area_start(frame)
    stream = borrowed + frame.data[start:]
    own = main_data_length(frame)
    if own > len(stream):
        return frame
    larger = _larger(frame, len(stream))
    if larger is None:
        return frame
    header_bytes, room = larger
    side = bytearray(frame.data[4:start])
    if frame.header.version == "1":
        side[0] = 0
        side[1] &= 0x7F
    else:
        side[0] = 0
    filler = bytes(room - len(stream))
    data = header_bytes + bytes(side) + stream[:own] + filler + stream[own:]
    header = parse_header(data)
    assert header is not None and header.length == len(data)
    return Frame(header, data)
