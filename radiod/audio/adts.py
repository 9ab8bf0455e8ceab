# -*- test-case-name: tests.audio.test_adts -*-
"""
AAC frames in ADTS: header parsing and a resynchronising frame splitter.

An ffmpeg child encoding AAC writes ADTS (C{-f adts}): each raw AAC frame
preceded by a 7-byte header (9 with a CRC) that carries the frame's
length, sample rate and channel configuration (ISO/IEC 13818-7, section
6.2; ISO/IEC 14496-3, section 1.A.2).  L{AdtsSplitter} cuts that byte
stream into whole frames, so that HLS segments can be cut on frame
boundaries, and L{AdtsHeader.duration} tells how long each one plays.

Everything here is pure: bytes in, values out, no I/O and no reactor.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from enum import Enum
from typing import Final, Literal

__all__ = [
    "AdtsFrame",
    "AdtsHeader",
    "AdtsSplitter",
    "codecs_value",
    "parse_adts_header",
]

# Samples per channel in one raw data block of AAC (the long window).
_BLOCK_SAMPLES = 1024

# Sample rates by sampling_frequency_index; 13 and 14 are reserved, 15
# means an explicit rate, which ADTS cannot carry.
_SAMPLE_RATES = (
    96000,
    88200,
    64000,
    48000,
    44100,
    32000,
    24000,
    22050,
    16000,
    12000,
    11025,
    8000,
    7350,
)

# Channels by channel_configuration; 0 means "described in the stream",
# which radiod does not accept.
_CHANNELS = (0, 1, 2, 3, 4, 5, 6, 8)

_HEADER = 7
_CRC = 2
_ID3V2_HEADER = 10


@dataclass(frozen=True, slots=True)
class AdtsHeader:
    """
    The decoded fields of one ADTS frame header.

    @ivar profile: the MPEG-4 audio object type: the header's profile field
        plus one (2 is AAC-LC).
    @ivar sample_rate: samples per second.
    @ivar channels: how many channels play: the channel configuration, but
        8 for configuration 7 (7.1).
    @ivar length: the whole frame's length in bytes, header included.
    @ivar header_length: the header's length in bytes: 7, or 9 with a CRC
        (two more for each raw data block past the first, whose positions
        a protected header lists).
    @ivar blocks: how many raw data blocks the frame carries (the header's
        number_of_raw_data_blocks_in_frame plus one).
    """

    profile: int
    sample_rate: int
    channels: int
    length: int
    header_length: int
    blocks: int

    @property
    def samples(self) -> int:
        """
        The samples per channel the frame carries: 1024 per raw data block.
        """
        return _BLOCK_SAMPLES * self.blocks

    @property
    def duration(self) -> float:
        """
        The frame's playing time in seconds.
        """
        return self.samples / self.sample_rate


@dataclass(frozen=True, slots=True)
class AdtsFrame:
    """
    One complete ADTS frame.

    @ivar header: its decoded header.
    @ivar data: its bytes, header included; C{len(data) == header.length}.
    """

    header: AdtsHeader
    data: bytes

    @property
    def duration(self) -> float:
        """
        The frame's playing time in seconds.
        """
        return self.header.duration


def parse_adts_header(data: bytes | bytearray | memoryview, offset: int = 0) -> AdtsHeader | None:
    """
    Decode the ADTS header at C{data[offset:]}.

    Only its first seven bytes are read: a CRC, when there is one, is
    counted in L{AdtsHeader.header_length} but not checked.

    @param data: the bytes holding the header.
    @param offset: where in C{data} the header starts.
    @return: the header, or L{None} when these bytes are not a usable ADTS
        header: fewer than seven of them, no sync word (twelve bits set), a
        layer other than 0, a reserved or explicit sampling frequency index
        (13 to 15), channel configuration 0 (channels described only in the
        raw data, which radiod needs in the header), or a frame length
        shorter than the header.
    """
    if offset < 0 or len(data) - offset < _HEADER:
        return None
    b1, b2, b3, b4, b5, b6 = (data[offset + i] for i in range(1, _HEADER))
    if data[offset] != 0xFF or (b1 & 0xF6) != 0xF0:
        return None
    rate_index = (b2 >> 2) & 0x0F
    configuration = ((b2 & 0x01) << 2) | (b3 >> 6)
    if rate_index >= len(_SAMPLE_RATES) or configuration == 0:
        return None
    blocks = (b6 & 0x03) + 1
    header_length = _HEADER
    if not b1 & 0x01:
        header_length += _CRC * blocks
    length = ((b3 & 0x03) << 11) | (b4 << 3) | (b5 >> 5)
    if length < header_length:
        return None
    return AdtsHeader(
        profile=(b2 >> 6) + 1,
        sample_rate=_SAMPLE_RATES[rate_index],
        channels=_CHANNELS[configuration],
        length=length,
        header_length=header_length,
        blocks=blocks,
    )


def codecs_value(header: AdtsHeader) -> str:
    """
    The HLS C{CODECS} attribute value (RFC 6381) for a stream of such
    frames: C{"mp4a.40."} then the audio object type, so C{"mp4a.40.2"}
    for AAC-LC and C{"mp4a.40.5"} for HE-AAC.

    @param header: a header of the stream.
    """
    return f"mp4a.40.{header.profile}"


class _Need(Enum):
    """
    The answer "cannot tell yet": more data must arrive first.
    """

    MORE = "more"


_MORE: Final = _Need.MORE

# Anything worth stopping at while skipping garbage: the sync word with
# layer 0 (either MPEG version, with or without CRC), or an ID3v2 tag.
_CANDIDATES = re.compile(b"\\xff[\\xf0\\xf1\\xf8\\xf9]|ID3")
_LONGEST_SIGNATURE = len(b"ID3")


def _could_begin_header(data: bytearray, at: int) -> bool:
    """
    Whether the bytes from C{at} to the end of C{data}, fewer than a
    header, may be the start of an ADTS header.
    """
    return data[at] == 0xFF and (len(data) - at < 2 or (data[at + 1] & 0xF6) == 0xF0)


def _id3v2_length(data: bytearray, pos: int) -> int | None:
    """
    Measure the ID3v2 tag whose ten-byte header is at C{data[pos:]}.

    @return: the tag's whole length, header and footer included (it may
        reach beyond C{data}), or L{None} if the bytes are not a
        well-formed ID3v2.2, 2.3 or 2.4 header.
    """
    if data[pos : pos + 3] != b"ID3":
        return None
    major, revision, flags = data[pos + 3], data[pos + 4], data[pos + 5]
    size = data[pos + 6 : pos + _ID3V2_HEADER]
    if not 2 <= major <= 4 or revision == 0xFF or flags & 0x0F or any(b & 0x80 for b in size):
        return None
    length = _ID3V2_HEADER + ((size[0] << 21) | (size[1] << 14) | (size[2] << 7) | size[3])
    if flags & 0x10:
        length += _ID3V2_HEADER
    return length


@dataclass
class AdtsSplitter:
    """
    Split a stream of bytes into validated ADTS frames, incrementally.

    A header counts only if the frame it announces is followed by another
    header of the same sample rate and channel count, by an ID3v2 tag, or
    by the end of the stream (or fewer bytes than a header that may begin
    one).  So a frame is returned only once the next header has arrived,
    or at L{finish}.  ID3v2 tags are skipped whole; anything else that is
    not a confirmed frame (garbage, a frame directly followed by garbage,
    an incomplete last frame) is skipped until a possible header or tag.

    At most a frame and the next header are kept between calls, beside
    garbage's last two bytes (which may begin a tag).

    @ivar frames: how many frames have been returned.
    @ivar skipped: how many bytes were skipped: garbage and ID3v2 tags.
    @ivar tags_skipped: how many ID3v2 tags were skipped.
    """

    frames: int = field(default=0, init=False)
    skipped: int = field(default=0, init=False)
    tags_skipped: int = field(default=0, init=False)
    _buffer: bytearray = field(default_factory=bytearray, init=False, repr=False)
    _skip: int = field(default=0, init=False, repr=False)
    _finished: bool = field(default=False, init=False, repr=False)

    @property
    def pending(self) -> int:
        """
        How many bytes are held, undecided, until more data arrives.
        """
        return len(self._buffer)

    def feed(self, data: bytes | bytearray | memoryview) -> list[AdtsFrame]:
        """
        Add bytes to the stream.

        @param data: the next bytes, of any length.
        @return: the frames that are now complete and validated, in order.
        @raise ValueError: if L{finish} was already called.
        """
        if self._finished:
            raise ValueError("feed() after finish()")
        self._buffer += data
        return self._split(final=False)

    def finish(self) -> list[AdtsFrame]:
        """
        Declare the end of the stream.

        @return: the remaining frames; a last frame counts if it is complete.
        @raise ValueError: if L{finish} was already called.
        """
        if self._finished:
            raise ValueError("finish() called twice")
        self._finished = True
        return self._split(final=True)

    def _split(self, final: bool) -> list[AdtsFrame]:
        """
        Consume as much of the buffer as can be decided on now.

        @param final: whether the buffer ends the stream.
        @return: the frames found.
        """
        buffer = self._buffer
        end = len(buffer)
        frames: list[AdtsFrame] = []
        pos = min(self._skip, end)
        self._skip -= pos
        self.skipped += pos
        while pos < end:
            if buffer[pos] == 0xFF:
                header = self._frame_at(pos, final)
                if header is _MORE:
                    break
                if header is not None:
                    frames.append(AdtsFrame(header, bytes(buffer[pos : pos + header.length])))
                    self.frames += 1
                    pos += header.length
                    continue
            else:
                length = self._tag_at(pos, final)
                if length is _MORE:
                    break
                if length is not None:
                    taken = min(length, end - pos)
                    self._skip = length - taken
                    self.skipped += taken
                    self.tags_skipped += 1
                    pos += taken
                    continue
            resume = self._next_candidate(pos + 1, final)
            self.skipped += resume - pos
            pos = resume
        del buffer[:pos]
        return frames

    def _next_candidate(self, start: int, final: bool) -> int:
        """
        Find where a header or tag might start, from C{start} on.

        @return: the earliest such offset, or the end of the buffer; before
            the end of the stream, the last two bytes are always offered, as
            they may begin a header or tag that is not complete yet.
        """
        end = len(self._buffer)
        match = _CANDIDATES.search(self._buffer, start)
        found = end if match is None else match.start()
        if final:
            return found
        return min(found, max(start, end - _LONGEST_SIGNATURE + 1))

    def _frame_at(self, pos: int, final: bool) -> AdtsHeader | Literal[_Need.MORE] | None:
        """
        Decide whether a validated frame starts at C{pos}.

        @return: its header, L{None} if there is none, or C{_MORE}.
        """
        buffer = self._buffer
        end = len(buffer)
        if end - pos < _HEADER:
            return None if final or not _could_begin_header(buffer, pos) else _MORE
        header = parse_adts_header(buffer, pos)
        if header is None:
            return None
        stop = pos + header.length
        if stop > end:
            return None if final else _MORE
        followed = self._followed(header, stop, final)
        if followed is _MORE:
            return _MORE
        return header if followed else None

    def _followed(self, header: AdtsHeader, at: int, final: bool) -> bool | Literal[_Need.MORE]:
        """
        Whether what lies at C{at}, just after a frame with C{header},
        confirms that frame.
        """
        buffer = self._buffer
        rest = len(buffer) - at
        if rest == 0:
            return True if final else _MORE
        if buffer[at] != 0xFF:
            tag = self._tag_at(at, final)
            return tag if tag is _MORE else tag is not None
        if rest < _HEADER:
            return _could_begin_header(buffer, at) if final else _MORE
        following = parse_adts_header(buffer, at)
        return (
            following is not None
            and following.sample_rate == header.sample_rate
            and following.channels == header.channels
        )

    def _tag_at(self, pos: int, final: bool) -> int | Literal[_Need.MORE] | None:
        """
        Recognise an ID3v2 tag at C{pos} and measure it.

        @return: the tag's whole length (which may reach beyond the buffer),
            L{None} if no tag starts there, or C{_MORE}.
        """
        buffer = self._buffer
        available = len(buffer) - pos
        if buffer[pos : pos + _LONGEST_SIGNATURE] != b"ID3"[:available]:
            return None
        if available < _ID3V2_HEADER:
            return None if final else _MORE
        return _id3v2_length(buffer, pos)
