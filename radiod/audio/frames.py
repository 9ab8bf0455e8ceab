# -*- test-case-name: tests.audio.test_frames -*-
"""
MPEG audio frames: header parsing and a resynchronising frame splitter.

Everything here is pure: bytes in, values out, no I/O and no reactor.
The module is one noun, the frame, and reads best whole: the splitter's
rules (what a header must be followed by, which tags and VBR headers are
skipped) are the header's rules applied to a stream.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from enum import Enum
from typing import Final, Literal

__all__ = [
    "Frame",
    "FrameHeader",
    "FrameSplitter",
    "UnsupportedAudio",
    "build_header",
    "parse_header",
    "trailing_tags",
]

# Version codes as they appear in the header's two version bits.
_MPEG25 = 0
_MPEG2 = 2
_MPEG1 = 3

# Layer codes as they appear in the header's two layer bits.
_LAYER3 = 1
_LAYER2 = 2
_LAYER1 = 3

_VERSION_NAMES = {_MPEG1: "1", _MPEG2: "2", _MPEG25: "2.5"}
_LAYER_NUMBERS = {_LAYER1: 1, _LAYER2: 2, _LAYER3: 3}

_BITRATES: dict[tuple[bool, int], tuple[int, ...]] = {
    # (is MPEG-1, layer number) -> kbit/s by bitrate index (index 0 is free format)
    (True, 1): (0, 32, 64, 96, 128, 160, 192, 224, 256, 288, 320, 352, 384, 416, 448),
    (True, 2): (0, 32, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320, 384),
    (True, 3): (0, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320),
    (False, 1): (0, 32, 48, 56, 64, 80, 96, 112, 128, 144, 160, 176, 192, 224, 256),
    (False, 2): (0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160),
    (False, 3): (0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160),
}

_SAMPLE_RATES = {
    _MPEG1: (44100, 48000, 32000),
    _MPEG2: (22050, 24000, 16000),
    _MPEG25: (11025, 12000, 8000),
}


@dataclass(frozen=True, slots=True)
class FrameHeader:
    """
    The decoded fields of one MPEG audio frame header.

    @ivar version: C{"1"}, C{"2"} or C{"2.5"}.
    @ivar layer: 1, 2 or 3.
    @ivar bitrate: kbit/s of this frame.
    @ivar sample_rate: samples per second.
    @ivar channels: 1 (mono) or 2.
    @ivar samples: samples per channel carried by the frame.
    @ivar length: the frame's length in bytes, header included.
    @ivar padding: whether the frame carries the padding slot.
    @ivar protected: whether a CRC follows the header.
    @ivar mode: the channel mode bits (3 is mono).
    """

    version: str
    layer: int
    bitrate: int
    sample_rate: int
    channels: int
    samples: int
    length: int
    padding: bool
    protected: bool
    mode: int

    @property
    def duration(self) -> float:
        """
        The frame's playing time in seconds.
        """
        return self.samples / self.sample_rate


@dataclass(frozen=True, slots=True)
class Frame:
    """
    One complete MPEG audio frame.

    @ivar header: its decoded header.
    @ivar data: its bytes, header included; C{len(data) == header.length}.
    """

    header: FrameHeader
    data: bytes

    @property
    def duration(self) -> float:
        """
        The frame's playing time in seconds.
        """
        return self.header.duration


def parse_header(data: bytes | bytearray | memoryview, offset: int = 0) -> FrameHeader | None:
    """
    Decode the four-byte frame header at C{data[offset:]}.

    @return: the header, or L{None} when these bytes are not a usable
        Layer I, II or III header: no sync word, a reserved version, layer,
        sample rate or emphasis, a bad bitrate index, or free format (bitrate
        index 0), which radiod does not stream.
    """
    if len(data) - offset < 4:
        return None
    b0, b1, b2, b3 = data[offset], data[offset + 1], data[offset + 2], data[offset + 3]
    if b0 != 0xFF or (b1 & 0xE0) != 0xE0:
        return None
    version_bits = (b1 >> 3) & 0x03
    layer_bits = (b1 >> 1) & 0x03
    if version_bits == 1 or layer_bits == 0:
        return None
    bitrate_index = b2 >> 4
    rate_index = (b2 >> 2) & 0x03
    if bitrate_index in (0, 15) or rate_index == 3:
        return None
    if (b3 & 0x03) == 2:
        return None
    layer = _LAYER_NUMBERS[layer_bits]
    mpeg1 = version_bits == _MPEG1
    bitrate = _BITRATES[(mpeg1, layer)][bitrate_index]
    sample_rate = _SAMPLE_RATES[version_bits][rate_index]
    padding = bool((b2 >> 1) & 0x01)
    mode = b3 >> 6
    if layer == 1:
        samples = 384
        length = (12 * bitrate * 1000 // sample_rate + padding) * 4
    elif layer == 2 or mpeg1:
        samples = 1152
        length = 144 * bitrate * 1000 // sample_rate + padding
    else:
        samples = 576
        length = 72 * bitrate * 1000 // sample_rate + padding
    return FrameHeader(
        version=_VERSION_NAMES[version_bits],
        layer=layer,
        bitrate=bitrate,
        sample_rate=sample_rate,
        channels=1 if mode == 3 else 2,
        samples=samples,
        length=length,
        padding=padding,
        protected=not (b1 & 0x01),
        mode=mode,
    )


def build_header(
    version: str = "1",
    layer: int = 3,
    bitrate: int = 128,
    sample_rate: int = 44100,
    padding: bool = False,
    channels: int = 2,
) -> bytes:
    """
    Encode a four-byte frame header (no CRC); the inverse of L{parse_header}.

    Used to make silent or synthetic frames.

    @raise ValueError: if the combination does not exist.
    """
    version_bits = {v: k for k, v in _VERSION_NAMES.items()}.get(version)
    layer_bits = {v: k for k, v in _LAYER_NUMBERS.items()}.get(layer)
    if version_bits is None or layer_bits is None:
        raise ValueError(f"no MPEG version {version!r} layer {layer!r}")
    table = _BITRATES[(version_bits == _MPEG1, layer)]
    if bitrate not in table[1:]:
        raise ValueError(f"no bitrate {bitrate} for MPEG-{version} layer {layer}")
    rates = _SAMPLE_RATES[version_bits]
    if sample_rate not in rates:
        raise ValueError(f"no sample rate {sample_rate} for MPEG-{version}")
    b1 = 0xE0 | (version_bits << 3) | (layer_bits << 1) | 0x01
    b2 = (table.index(bitrate) << 4) | (rates.index(sample_rate) << 2) | (int(padding) << 1)
    b3 = (3 if channels == 1 else 0) << 6
    return bytes((0xFF, b1, b2, b3))


class UnsupportedAudio(Exception):
    """
    The data holds no MPEG audio radiod can stream.

    C{str()} of the exception is a one-line reason fit for a log line.
    """


class _Need(Enum):
    """
    The answer "cannot tell yet": more data must arrive first.
    """

    MORE = "more"


_MORE: Final = _Need.MORE

# The second byte of a Layer II or III header: the rest of the sync word, a
# version that exists, and the layer.
_SECOND_BYTES = bytes(
    b for b in range(0xE0, 0x100) if (b >> 3) & 0x03 != 1 and (b >> 1) & 0x03 in (_LAYER2, _LAYER3)
)
# Anything worth stopping at while skipping garbage: a possible frame header
# or the start of a tag.
_CANDIDATES = re.compile(
    b"\\xff["
    + b"".join(b"\\x%02x" % b for b in _SECOND_BYTES)
    + b"]|ID3|3DI|TAG|APETAGEX|LYRICSBEGIN"
)
_LONGEST_SIGNATURE = len(b"LYRICSBEGIN")

_ID3V2_HEADER = 10
_ID3V1 = 128
_ID3V1_ENHANCED = 227
_APE_HEADER = 32
_APE_HAS_HEADER = 1 << 31
_APE_IS_HEADER = 1 << 29
# Lyrics3 v2 declares its size in six decimal digits.
_LYRICS3_LIMIT = len(b"LYRICSBEGIN") + 999_999 + len(b"999999LYRICS200")
# Lyrics3 v1 holds at most 5100 bytes of lyrics between its markers.
_LYRICS3_V1_LIMIT = len(b"LYRICSBEGIN") + 5100 + len(b"LYRICSEND")
# The longest free-format frame a decoder would accept (640 kbit/s at 8 kHz,
# padded).
_FREE_FORMAT_LONGEST = 72 * 640_000 // 8000 + 1
# Xing, Info and VBRI markers sit just after the side information, whose
# size depends on the MPEG version and on whether the frame is mono.
_XING_OFFSETS = {(True, 2): 4 + 32, (True, 1): 4 + 17, (False, 2): 4 + 17, (False, 1): 4 + 9}
_VBRI_OFFSET = 4 + 32


def _syncsafe(data: bytes | bytearray, offset: int) -> int:
    """
    Decode the four seven-bit bytes of an ID3v2 size at C{data[offset:]}.
    """
    b0, b1, b2, b3 = data[offset : offset + 4]
    return (b0 << 21) | (b1 << 14) | (b2 << 7) | b3


def _id3v2_valid(data: bytes | bytearray, offset: int) -> bool:
    """
    Whether the ten bytes at C{data[offset:]}, which start with C{ID3} or
    C{3DI}, are a well-formed ID3v2 header or footer.
    """
    major, revision, flags = data[offset + 3], data[offset + 4], data[offset + 5]
    size = data[offset + 6 : offset + 10]
    return 2 <= major <= 4 and revision != 0xFF and not flags & 0x0F and all(b < 0x80 for b in size)


def _le32(data: bytes | bytearray, offset: int) -> int:
    """
    Decode a little-endian unsigned 32-bit integer at C{data[offset:]}.
    """
    return int.from_bytes(data[offset : offset + 4], "little")


def _is_vbr_header(header: FrameHeader, data: bytes) -> bool:
    """
    Whether a frame is a Xing, Info (LAME) or VBRI header frame rather than
    audio.
    """
    if header.layer != 3:
        return False
    offset = _XING_OFFSETS[(header.version == "1", header.channels)] + 2 * header.protected
    return data[offset : offset + 4] in (b"Xing", b"Info") or (
        data[_VBRI_OFFSET : _VBRI_OFFSET + 4] == b"VBRI"
    )


def _is_free_format(b1: int, b2: int, b3: int) -> bool:
    """
    Whether header bytes 1 to 3 describe a Layer II or III free-format frame
    that is otherwise well formed.
    """
    return (
        (b1 & 0xE0) == 0xE0
        and (b1 >> 3) & 0x03 != 1
        and (b1 >> 1) & 0x03 in (_LAYER2, _LAYER3)
        and b2 >> 4 == 0
        and (b2 >> 2) & 0x03 != 3
        and (b3 & 0x03) != 2
    )


def _same_free_format(data: bytearray, first: int, other: int) -> bool:
    """
    Whether the free-format header at C{first} recurs at C{other}: the same
    version, layer, protection, sample rate and channel mode.
    """
    return other + 4 <= len(data) and (
        data[other : other + 2] == data[first : first + 2]
        and data[other + 2] & 0xFC == data[first + 2] & 0xFC
        and data[other + 3] & 0xC0 == data[first + 3] & 0xC0
    )


def _padding(data: bytearray, header: int) -> int:
    """
    The padding bit of the header at C{data[header:]}.
    """
    return (data[header + 2] >> 1) & 0x01


@dataclass
class FrameSplitter:
    """
    Split a stream of bytes into validated MPEG audio frames, incrementally.

    Layer II and III frames of MPEG-1, 2 and 2.5 are accepted, at any
    bitrate and sample rate, constant or variable.  A header counts only if
    the frame it announces is followed by another header of the same
    version, layer and sample rate, by a tag, or by the end of the data; a
    change of sample rate is accepted when the new header is itself followed
    by a matching one.  ID3v2, ID3v1, APEv2 and Lyrics3 tags are skipped
    whole, anything else between frames is skipped as garbage, and Xing,
    Info and VBRI header frames are dropped.

    At most a few frames of data are kept between calls, except while a
    Lyrics3 tag is being looked through for its end marker.

    @ivar frames: how many frames have been returned.
    @ivar garbage_bytes: how many bytes were skipped as neither audio nor tag.
    @ivar tag_bytes: how many bytes of tags were skipped.
    @ivar tags_skipped: how many tags were skipped, by kind: C{"id3v2"},
        C{"id3v1"}, C{"apev2"} or C{"lyrics3"}.
    @ivar vbr_headers_dropped: how many Xing, Info or VBRI frames were dropped.
    @ivar free_format_seen: whether the audio starts with free-format frames
        (bitrate index 0), which are not supported and are skipped as garbage.
    """

    frames: int = field(default=0, init=False)
    garbage_bytes: int = field(default=0, init=False)
    tag_bytes: int = field(default=0, init=False)
    tags_skipped: dict[str, int] = field(default_factory=dict, init=False)
    vbr_headers_dropped: int = field(default=0, init=False)
    free_format_seen: bool = field(default=False, init=False)
    _buffer: bytearray = field(default_factory=bytearray, init=False, repr=False)
    _skip: int = field(default=0, init=False, repr=False)
    _known: tuple[int, FrameHeader] | None = field(default=None, init=False, repr=False)
    _finished: bool = field(default=False, init=False, repr=False)
    _clean_start: bool = field(default=True, init=False, repr=False)

    @property
    def pending(self) -> int:
        """
        How many bytes are held, undecided, until more data arrives.
        """
        return len(self._buffer)

    def feed(self, data: bytes | bytearray | memoryview) -> list[Frame]:
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

    def finish(self) -> list[Frame]:
        """
        Declare the end of the stream.

        @return: the remaining frames; a last frame counts if it is complete.
        @raise ValueError: if L{finish} was already called.
        """
        if self._finished:
            raise ValueError("finish() called twice")
        self._finished = True
        return self._split(final=True)

    def _split(self, final: bool) -> list[Frame]:
        """
        Consume as much of the buffer as can be decided on now.

        @param final: whether the buffer ends the stream.
        @return: the frames found.
        """
        buffer = self._buffer
        end = len(buffer)
        frames: list[Frame] = []
        pos = min(self._skip, end)
        self._skip -= pos
        self.tag_bytes += pos
        while pos < end:
            if buffer[pos] == 0xFF:
                header = self._frame_at(pos, final)
                if header is _MORE:
                    break
                if header is not None:
                    data = bytes(buffer[pos : pos + header.length])
                    if _is_vbr_header(header, data):
                        self.vbr_headers_dropped += 1
                    else:
                        frames.append(Frame(header, data))
                        self.frames += 1
                    pos += header.length
                    continue
                if self._check_free_format(pos, final) is _MORE:
                    break
            else:
                length = self._tag_at(pos, final)
                if length is _MORE:
                    break
                if length is not None:
                    taken = min(length, end - pos)
                    self._skip = length - taken
                    self.tag_bytes += taken
                    pos += taken
                    continue
            resume = self._next_candidate(pos + 1, final)
            self.garbage_bytes += resume - pos
            if self._clean_start and buffer.count(0, pos, resume) != resume - pos:
                self._clean_start = False
            pos = resume
        del buffer[:pos]
        self._known = None
        return frames

    def _next_candidate(self, start: int, final: bool) -> int:
        """
        Find where a header or tag might start, from C{start} on.

        @return: the earliest such offset, or the end of the buffer; before
            the end of the stream, the last few bytes are always offered, as
            they may begin a tag that is not complete yet.
        """
        end = len(self._buffer)
        match = _CANDIDATES.search(self._buffer, start)
        found = end if match is None else match.start()
        if final:
            return found
        return min(found, max(start, end - _LONGEST_SIGNATURE + 1))

    def _header(self, pos: int) -> FrameHeader | None:
        """
        Parse the header at C{pos}, refusing Layer I.
        """
        if self._known is not None and self._known[0] == pos:
            return self._known[1]
        header = parse_header(self._buffer, pos)
        if header is None or header.layer == 1:
            return None
        return header

    def _frame_at(self, pos: int, final: bool) -> FrameHeader | Literal[_Need.MORE] | None:
        """
        Decide whether a validated frame starts at C{pos}.

        @return: its header, L{None} if there is none, or C{_MORE}.
        """
        end = len(self._buffer)
        if end - pos < 4:
            return None if final else _MORE
        header = self._header(pos)
        if header is None:
            return None
        stop = pos + header.length
        if stop > end:
            return None if final else _MORE
        followed = self._followed(header, stop, final, True)
        if followed is _MORE:
            return _MORE
        return header if followed else None

    def _followed(
        self, header: FrameHeader, at: int, final: bool, may_change: bool
    ) -> bool | Literal[_Need.MORE]:
        """
        Whether what lies at C{at}, just after a frame with C{header},
        confirms that frame.

        @param may_change: whether a header of another version, layer or
            sample rate may confirm it, provided that it is confirmed in turn.
        """
        buffer = self._buffer
        end = len(buffer)
        if end - at < 4:
            return True if final else _MORE
        if buffer[at] != 0xFF:
            tag = self._tag_kind(at, final)
            return tag if tag is _MORE else tag is not None
        following = self._header(at)
        if following is None:
            return False
        if (following.version, following.layer, following.sample_rate) == (
            header.version,
            header.layer,
            header.sample_rate,
        ):
            self._known = (at, following)
            return True
        if not may_change:
            return False
        stop = at + following.length
        if stop > end:
            return False if final else _MORE
        return self._followed(following, stop, final, False)

    def _tag_kind(self, pos: int, final: bool) -> str | Literal[_Need.MORE] | None:
        """
        Recognise the start of a tag at C{pos} by its signature and, where it
        has one, its fixed header.

        @return: the tag's kind, L{None} if no tag starts there, or C{_MORE}.
        """
        buffer = self._buffer
        available = len(buffer) - pos
        for signature, needed, kind in (
            (b"ID3", _ID3V2_HEADER, "id3v2"),
            (b"3DI", _ID3V2_HEADER, "id3v2"),
            (b"TAG", 3, "id3v1"),
            (b"APETAGEX", _APE_HEADER, "apev2"),
            (b"LYRICSBEGIN", _LONGEST_SIGNATURE, "lyrics3"),
        ):
            if buffer[pos : pos + len(signature)] != signature[:available]:
                continue
            if available < needed:
                return None if final else _MORE
            if kind == "id3v2" and not _id3v2_valid(buffer, pos):
                return None
            if kind == "apev2" and _le32(buffer, pos + 8) not in (1000, 2000):
                return None
            return kind
        return None

    def _tag_at(self, pos: int, final: bool) -> int | Literal[_Need.MORE] | None:
        """
        Recognise a tag at C{pos}, count it, and measure it.

        @return: the tag's whole length (which may reach beyond the buffer),
            L{None} if no tag starts there, or C{_MORE}.
        """
        kind = self._tag_kind(pos, final)
        if kind is None or kind is _MORE:
            return kind
        buffer = self._buffer
        length: int | Literal[_Need.MORE] | None
        if kind == "id3v2":
            length = _ID3V2_HEADER
            if buffer[pos] == ord("I"):
                length += _syncsafe(buffer, pos + 6)
                if buffer[pos + 5] & 0x10:
                    length += _ID3V2_HEADER
        elif kind == "id3v1":
            length = self._id3v1_length(pos, final)
        elif kind == "apev2":
            length = _APE_HEADER
            if _le32(buffer, pos + 20) & _APE_IS_HEADER:
                length += _le32(buffer, pos + 12)
        else:
            length = self._lyrics3_length(pos, final)
        if isinstance(length, int):
            self.tags_skipped[kind] = self.tags_skipped.get(kind, 0) + 1
        return length

    def _id3v1_length(self, pos: int, final: bool) -> int | Literal[_Need.MORE]:
        """
        Measure an ID3v1 tag at C{pos}: 128 bytes, or 355 if it opens with
        an enhanced C{TAG+} block.
        """
        buffer = self._buffer
        available = len(buffer) - pos
        enhanced = buffer[pos + 3 : pos + 4] == b"+"
        if not final and (available < 4 or (enhanced and available < _ID3V1_ENHANCED + 3)):
            return _MORE
        if enhanced and buffer[pos + _ID3V1_ENHANCED : pos + _ID3V1_ENHANCED + 3] == b"TAG":
            return _ID3V1_ENHANCED + _ID3V1
        return _ID3V1

    def _lyrics3_length(self, pos: int, final: bool) -> int | Literal[_Need.MORE] | None:
        """
        Measure a Lyrics3 tag at C{pos} by finding its end marker: C{LYRICSEND}
        (version 1) or a six-digit size and C{LYRICS200} (version 2).
        """
        buffer = self._buffer
        limit = min(len(buffer), pos + _LYRICS3_LIMIT)
        start = pos + _LONGEST_SIGNATURE
        while (found := buffer.find(b"LYRICS", start, limit)) >= 0:
            marker = buffer[found + 6 : found + 9]
            if marker == b"END":
                return found + 9 - pos
            digits = buffer[found - 6 : found]
            if marker == b"200" and digits.isdigit() and int(digits) == found - 6 - pos:
                return found + 9 - pos
            start = found + 1
        if final or limit == pos + _LYRICS3_LIMIT:
            return None
        return _MORE

    def _check_free_format(self, pos: int, final: bool) -> Literal[_Need.MORE] | None:
        """
        Note whether a free-format stream, which is not usable, starts at
        C{pos}: the same header must recur three times at the spacing that
        the first recurrence sets, each frame one byte longer when padded.

        Only the start of the audio is examined (nothing but tags and zero
        bytes skipped so far), as that is where a free-format file has its
        first frame, while periodic sound in a file of another kind can
        mimic recurring headers later on.
        """
        buffer = self._buffer
        end = len(buffer)
        if self.free_format_seen or not self._clean_start or end - pos < 4:
            return None
        if not _is_free_format(buffer[pos + 1], buffer[pos + 2], buffer[pos + 3]):
            return None
        if end < pos + 3 * _FREE_FORMAT_LONGEST + 4 and not final:
            return _MORE
        sync = buffer[pos : pos + 2]
        limit = min(end, pos + _FREE_FORMAT_LONGEST + 1)
        at = buffer.find(sync, pos + 2, limit)
        while at >= 0 and not _same_free_format(buffer, pos, at):
            at = buffer.find(sync, at + 2, limit)
        if at < 0:
            return None
        length = at - pos - _padding(buffer, pos)
        for _ in range(2):
            at += length + _padding(buffer, at)
            if not _same_free_format(buffer, pos, at):
                return None
        self.free_format_seen = True
        return None


def trailing_tags(data: bytes | bytearray | memoryview) -> tuple[int, list[str]]:
    """
    Find the tags appended at the end of a whole file, reading backwards, so
    that even one without a header (an APEv2 tag with only a footer) is
    skipped whole.

    @return: where the tags begin, and their kinds.
    """
    cut = len(data)
    kinds: list[str] = []
    while True:
        if cut >= _ID3V1 and data[cut - _ID3V1 : cut - _ID3V1 + 3] == b"TAG":
            cut -= _ID3V1
            if cut >= _ID3V1_ENHANCED and data[cut - _ID3V1_ENHANCED :][:4] == b"TAG+":
                cut -= _ID3V1_ENHANCED
            kinds.append("id3v1")
            continue
        footer = bytes(data[cut - _APE_HEADER : cut]) if cut >= _APE_HEADER else b""
        if footer[:8] == b"APETAGEX" and _le32(footer, 8) in (1000, 2000):
            size, flags = _le32(footer, 12), _le32(footer, 20)
            start = cut - size - (_APE_HEADER if flags & _APE_HAS_HEADER else 0)
            if size >= _APE_HEADER and start >= 0:
                cut = start
                kinds.append("apev2")
                continue
        tail = bytes(data[max(0, cut - 15) : cut])
        start = -1
        if tail[-9:] == b"LYRICS200" and tail[:6].isdigit():
            start = cut - 15 - int(tail[:6])
        elif tail[-9:] == b"LYRICSEND":
            window = max(0, cut - _LYRICS3_V1_LIMIT)
            found = bytes(data[window:cut]).rfind(b"LYRICSBEGIN")
            start = window + found if found >= 0 else -1
        if start >= 0 and data[start : start + _LONGEST_SIGNATURE] == b"LYRICSBEGIN":
            cut = start
            kinds.append("lyrics3")
            continue
        footer = bytes(data[cut - _ID3V2_HEADER : cut]) if cut >= _ID3V2_HEADER else b""
        if footer[:3] == b"3DI" and _id3v2_valid(footer, 0):
            start = cut - 2 * _ID3V2_HEADER - _syncsafe(footer, 6)
            if start >= 0 and data[start : start + 3] == b"ID3":
                cut = start
                kinds.append("id3v2")
                continue
        return cut, kinds
