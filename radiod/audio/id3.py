# -*- test-case-name: tests.audio.test_id3 -*-
"""
The ID3v2 tag that starts each HLS packed-audio segment: writing it with
L{segment_tag} and reading it back with L{read_tag}.

RFC 8216 section 3.4 has every packed-audio segment begin with an ID3v2
tag holding a C{PRIV} frame owned by L{TIMESTAMP_OWNER}, whose eight bytes
of private data carry the 33-bit MPEG-2 90 kHz timestamp of the segment's
first sample (big-endian, in the lower 33 bits; the upper 31 are zero).
Players also show the tag's text frames, so the tag carries the title,
artist and album of what plays at the start of the segment.

Tags are written as ID3v2.4 without padding, unsynchronisation or
extended header; simple ID3v2.3 and ID3v2.4 tags are read.  Pure: bytes
in, values out.
"""

from __future__ import annotations

import struct

__all__ = [
    "TIMESTAMP_OWNER",
    "TIMESTAMP_RATE",
    "TIMESTAMP_WRAP",
    "read_tag",
    "segment_tag",
    "timestamp_ticks",
]

TIMESTAMP_OWNER = "com.apple.streaming.transportStreamTimestamp"
"""
The owner identifier of the C{PRIV} frame that carries a segment's
timestamp.
"""

TIMESTAMP_RATE = 90_000
"""
Ticks per second of an MPEG-2 timestamp.
"""

TIMESTAMP_WRAP = 1 << 33
"""
Where an MPEG-2 timestamp wraps back to zero: it has 33 bits.
"""

_HEADER = 10
# A syncsafe integer keeps 7 bits in each of its four bytes.
_SYNCSAFE_LIMIT = 1 << 28
_OWNER = TIMESTAMP_OWNER.encode("latin-1") + b"\x00"
_UTF8 = b"\x03"
_TEXT_IDS = (b"TIT2", b"TPE1", b"TALB")
_TEXT_ENCODINGS = {0: "latin-1", 1: "utf-16", 2: "utf-16-be", 3: "utf-8"}
# Tag header flags.
_UNSYNCHRONISED = 0x80
_EXTENDED = 0x40
_FOOTER = 0x10
# Tag header flags each version leaves undefined (must be clear).
_UNDEFINED_FLAGS = {3: 0x1F, 4: 0x0F}
# Frame format flags (second flag byte) under which the body is not plain:
# v2.3 compression, encryption, grouping; v2.4 grouping, compression,
# encryption, unsynchronisation, data length indicator.
_ENCODED_FRAME = {3: 0xE0, 4: 0x4F}
_FRAME_ID_BYTES = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789")


def timestamp_ticks(seconds: float) -> int:
    """
    The MPEG-2 timestamp of a time: 90 kHz ticks, rounded to nearest,
    wrapped into 33 bits.

    @param seconds: the time, in seconds (negative times wrap too).
    @return: the ticks, from 0 to L{TIMESTAMP_WRAP} - 1.
    @raise ValueError: if C{seconds} is not a number.
    @raise OverflowError: if C{seconds} is infinite.
    """
    return round(seconds * TIMESTAMP_RATE) % TIMESTAMP_WRAP


def _syncsafe(value: int) -> bytes:
    """
    Encode a size as an ID3v2 syncsafe integer: four bytes of seven bits.

    @raise ValueError: if C{value} needs more than 28 bits.
    """
    if not 0 <= value < _SYNCSAFE_LIMIT:
        raise ValueError(f"ID3v2 size {value} does not fit in 28 bits")
    return bytes(((value >> 21) & 0x7F, (value >> 14) & 0x7F, (value >> 7) & 0x7F, value & 0x7F))


def _unsyncsafe(data: bytes, offset: int) -> int:
    """
    Decode the syncsafe integer at C{data[offset:]}.

    @raise ValueError: if a byte has its top bit set.
    """
    b0, b1, b2, b3 = data[offset : offset + 4]
    if (b0 | b1 | b2 | b3) & 0x80:
        raise ValueError("ID3v2 syncsafe size has a byte with its top bit set")
    return (b0 << 21) | (b1 << 14) | (b2 << 7) | b3


def _frame(frame_id: bytes, body: bytes) -> bytes:
    """
    An ID3v2.4 frame: its id, the syncsafe size of C{body}, no flags, then
    C{body}.
    """
    return frame_id + _syncsafe(len(body)) + b"\x00\x00" + body


def segment_tag(ticks: int, title: str = "", artist: str = "", album: str = "") -> bytes:
    """
    The ID3v2.4 tag that starts an HLS packed-audio segment: the
    timestamp's C{PRIV} frame first, then C{TIT2}, C{TPE1} and C{TALB}
    (UTF-8) for those of C{title}, C{artist} and C{album} that are not
    empty.

    NUL characters are removed from the texts (a text that held nothing
    else is left out); anything else is kept as given.  Lone surrogates,
    which UTF-8 cannot encode, become C{?}.

    @param ticks: the 90 kHz timestamp of the segment's first sample (see
        L{timestamp_ticks}).
    @param title: the title of what plays at the segment's start.
    @param artist: its artist.
    @param album: its album.
    @return: the whole tag, header included.
    @raise ValueError: if C{ticks} is not within 0 and
        L{TIMESTAMP_WRAP} - 1, or the tag would exceed the 256 MiB an
        ID3v2 size can express.
    """
    if not 0 <= ticks < TIMESTAMP_WRAP:
        raise ValueError(f"timestamp {ticks} is not a 33-bit value")
    frames = [_frame(b"PRIV", _OWNER + ticks.to_bytes(8, "big"))]
    for frame_id, text in zip(_TEXT_IDS, (title, artist, album), strict=True):
        text = text.replace("\x00", "")
        if text:
            frames.append(_frame(frame_id, _UTF8 + text.encode("utf-8", "replace")))
    content = b"".join(frames)
    return b"ID3\x04\x00\x00" + _syncsafe(len(content)) + content


def _decode_text(frame_id: str, body: bytes) -> str:
    """
    The text of a text frame's body: its encoding byte, then the text,
    whose trailing NULs are dropped.

    @raise ValueError: if the body is empty, names an unknown encoding or
        does not decode.
    """
    if not body:
        raise ValueError(f"ID3v2 frame {frame_id} has no encoding byte")
    encoding = _TEXT_ENCODINGS.get(body[0])
    if encoding is None:
        raise ValueError(f"ID3v2 frame {frame_id} has unknown text encoding {body[0]}")
    text = body[1:]
    if body[0] in (1, 2) and len(text) % 2:
        # A UTF-16 text ended by a single NUL byte.
        if text[-1:] != b"\x00":
            raise ValueError(f"ID3v2 frame {frame_id} has an odd number of UTF-16 bytes")
        text = text[:-1]
    try:
        return text.decode(encoding).rstrip("\x00")
    except UnicodeDecodeError as e:
        raise ValueError(f"ID3v2 frame {frame_id} does not decode as {encoding}: {e}") from e


def _decode_timestamp(private: bytes) -> int:
    """
    The timestamp in the private data of L{TIMESTAMP_OWNER}'s C{PRIV}
    frame.

    @raise ValueError: if it is not eight bytes with the upper 31 bits
        clear.
    """
    if len(private) != 8:
        raise ValueError(f"timestamp PRIV frame holds {len(private)} bytes, not 8")
    ticks = int.from_bytes(private, "big")
    if ticks >= TIMESTAMP_WRAP:
        raise ValueError("timestamp PRIV frame has bits set above the lower 33")
    return ticks


def read_tag(data: bytes) -> tuple[int | None, dict[str, str], int]:
    """
    Parse the ID3v2.3 or ID3v2.4 tag at the start of C{data}.

    Text frames (ids starting with C{T}, but not C{TXXX}) are decoded in
    any of the four ID3v2 encodings, trailing NULs dropped; the values of
    a multi-valued ID3v2.4 frame stay separated by NUL.  When a frame
    occurs more than once, the first counts.  Frames whose body is
    compressed, encrypted, grouped, unsynchronised or preceded by a data
    length are skipped, and so is padding.

    @param data: bytes that start with the tag (more may follow).
    @return: the timestamp in ticks from the C{PRIV} frame of
        L{TIMESTAMP_OWNER} (L{None} without one), the text frames by id
        (C{{"TIT2": "..."}}), and the length of the whole tag in bytes,
        its 10-byte header (and footer, if any) included.
    @raise ValueError: if the data does not start with a well-formed
        ID3v2.3 or ID3v2.4 tag: wrong magic, another version, undefined
        flags, a size beyond the data, a truncated or misnamed frame, a
        text that does not decode, a timestamp that is not 33 bits in 8
        bytes; or if the tag is unsynchronised or has an extended header,
        which are not supported.
    """
    if len(data) < _HEADER:
        raise ValueError(f"{len(data)} bytes are too few for an ID3v2 header")
    if data[:3] != b"ID3":
        raise ValueError(f"data starts with {data[:3]!r}, not an ID3v2 tag")
    version, revision, flags = data[3], data[4], data[5]
    if version not in _UNDEFINED_FLAGS or revision == 0xFF:
        raise ValueError(f"unsupported ID3v2 version 2.{version}.{revision}")
    if flags & _UNDEFINED_FLAGS[version]:
        raise ValueError(f"ID3v2 tag has undefined flags set: {flags:#04x}")
    if flags & _UNSYNCHRONISED:
        raise ValueError("unsynchronised ID3v2 tags are not supported")
    if flags & _EXTENDED:
        raise ValueError("ID3v2 tags with an extended header are not supported")
    end = _HEADER + _unsyncsafe(data, 6)
    if end > len(data):
        raise ValueError(f"ID3v2 tag claims {end} bytes, but only {len(data)} are given")
    length = end + (_HEADER if flags & _FOOTER else 0)
    if length > len(data):
        raise ValueError("ID3v2 tag footer is missing")

    timestamp: int | None = None
    texts: dict[str, str] = {}
    offset = _HEADER
    while offset < end and data[offset] != 0:
        if offset + _HEADER > end:
            raise ValueError(f"ID3v2 frame header at {offset} is truncated")
        raw_id = data[offset : offset + 4]
        if not all(b in _FRAME_ID_BYTES for b in raw_id):
            raise ValueError(f"ID3v2 frame at {offset} has a bad id {raw_id!r}")
        frame_id = raw_id.decode("ascii")
        if version == 4:
            size = _unsyncsafe(data, offset + 4)
        else:
            (size,) = struct.unpack_from(">I", data, offset + 4)
        body_start = offset + _HEADER
        offset = body_start + size
        if offset > end:
            raise ValueError(f"ID3v2 frame {frame_id} is truncated")
        if data[body_start - 1] & _ENCODED_FRAME[version]:
            continue
        body = data[body_start:offset]
        if frame_id == "PRIV":
            owner, nul, private = body.partition(b"\x00")
            if nul and timestamp is None and owner == _OWNER[:-1]:
                timestamp = _decode_timestamp(private)
        elif frame_id[0] == "T" and frame_id != "TXXX" and frame_id not in texts:
            texts[frame_id] = _decode_text(frame_id, body)
    if offset < end and any(data[offset:end]):
        raise ValueError("ID3v2 padding holds non-zero bytes")
    return timestamp, texts, length
