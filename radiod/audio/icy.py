# -*- test-case-name: tests.audio.test_icy -*-
"""
ICY in-band metadata: block encoding and decoding, the listener-side
demultiplexer and the per-listener interleaver.

An ICY stream carries C{metaint} bytes of audio, then one length byte C{L},
then C{L * 16} bytes of text padded with NUL, then C{metaint} bytes of audio
again, and so on. C{L = 0} means "unchanged". The text is
C{StreamTitle='...';} optionally followed by C{StreamUrl='...';}.

The protocol has no escaping: the de-facto end of a value is the two
characters C{';}, so the encoder rewrites titles that would contain it (see
L{sanitise}).

Everything here is pure: bytes in, values out, no I/O and no reactor.
"""

from __future__ import annotations

import re
import unicodedata

__all__ = [
    "EMPTY_BLOCK",
    "MAX_PAYLOAD",
    "IcyDemuxer",
    "IcyFramingError",
    "encode_metadata",
    "parse_metadata",
    "sanitise",
]

EMPTY_BLOCK = b"\x00"
"""
The one-byte block that tells a listener the metadata has not changed.
"""

MAX_PAYLOAD = 255 * 16
"""
The largest payload a block can carry: the length byte counts 16-byte units.
"""

_CHARSETS = ("utf-8", "latin-1")

# A run of CR, LF or NUL, together with the blanks around it.
_BREAKS = re.compile(r"[ \t]*[\r\n\x00][\r\n\x00 \t]*")
# Semicolons and blanks at the start of a value.
_LEADING = re.compile(r"^[\s;]+")


def sanitise(value: str) -> str:
    """
    Rewrite a metadata value so that it survives ICY framing.

    The rules, applied in this order:

      1. Every run of CR, LF and NUL characters, together with any spaces or
         tabs around it, becomes a single space.
      2. Leading semicolons and leading and trailing whitespace are removed
         (a value starting with C{;} would put C{';} right after the opening
         quote, which FFmpeg misreads).
      3. Every C{';} becomes C{' ;} (an apostrophe, a space, a semicolon), so
         C{Rock';n Roll} is sent as C{Rock' ;n Roll}. This is the only
         sequence that ends a value for FFmpeg, VLC and mpv; apostrophes on
         their own (C{Guns N' Roses}) are left alone.

    @param value: the text to clean.
    @return: the text as it will appear between the quotes.
    """
    value = _BREAKS.sub(" ", value)
    value = _LEADING.sub("", value).rstrip()
    return value.replace("';", "' ;")


def _transliterate(value: str) -> str:
    """
    Bring C{value} into Latin-1.

    Characters already in Latin-1 are kept. Others are decomposed (NFKD) and
    stripped of combining marks, so C{ő} becomes C{o} and C{ﬁ} becomes C{fi};
    a character that still does not fit becomes C{?}.

    @param value: any text.
    @return: text whose every character is in Latin-1.
    """
    if value.isascii():
        return value
    out: list[str] = []
    for char in value:
        if ord(char) < 0x100:
            out.append(char)
            continue
        decomposed = "".join(
            c for c in unicodedata.normalize("NFKD", char) if not unicodedata.combining(c)
        )
        if decomposed and all(ord(c) < 0x100 for c in decomposed):
            out.append(decomposed)
        else:
            out.append("?")
    return "".join(out)


def _truncate(encoded: bytes, limit: int, charset: str) -> bytes:
    """
    Cut C{encoded} to at most C{limit} bytes without splitting a character.

    @param encoded: text in C{charset}.
    @param limit: the byte budget, at least 0.
    @param charset: C{"utf-8"} or C{"latin-1"}.
    @return: a prefix of C{encoded} that decodes cleanly.
    """
    if len(encoded) <= limit:
        return encoded
    cut = encoded[:limit]
    if charset == "utf-8":
        cut = cut.decode("utf-8", "ignore").encode("utf-8")
    return cut


def encode_metadata(title: str, charset: str = "utf-8", url: str | None = None) -> bytes:
    """
    Build a complete metadata block, length byte included.

    The payload is C{StreamTitle='<title>';}, then C{StreamUrl='<url>';} when
    C{url} is given, NUL-padded to a multiple of 16 bytes. Both values pass
    through L{sanitise} (after transliteration for Latin-1). If the payload
    would exceed L{MAX_PAYLOAD} bytes, the title is shortened at a character
    boundary; the framing is never cut, and the URL is only shortened when it
    does not fit even with an empty title.

    @param title: the title to announce, usually C{"Artist - Title"}.
    @param charset: C{"utf-8"} (the default) or C{"latin-1"}; in Latin-1,
        characters outside it are transliterated or replaced by C{?}.
    @param url: an optional C{StreamUrl} value.
    @return: the block, ready to be written between two audio runs.
    @raise ValueError: if C{charset} is not supported.
    """
    charset = charset.lower().replace("_", "-")
    if charset in ("iso-8859-1", "latin1"):
        charset = "latin-1"
    elif charset == "utf8":
        charset = "utf-8"
    if charset not in _CHARSETS:
        raise ValueError(f"unsupported ICY charset {charset!r}")

    def prepare(value: str) -> bytes:
        if charset == "latin-1":
            value = _transliterate(value)
        # Lone surrogates (from undecodable file names) become "?".
        return sanitise(value).encode(charset, "replace")

    head = b"StreamTitle='"
    tail = b"';"
    url_part = b""
    if url is not None:
        url_budget = MAX_PAYLOAD - len(head) - len(tail) - len(b"StreamUrl='") - len(tail)
        url_part = b"StreamUrl='" + _truncate(prepare(url), url_budget, charset) + tail
    budget = MAX_PAYLOAD - len(head) - len(tail) - len(url_part)
    payload = head + _truncate(prepare(title), budget, charset) + tail + url_part
    units = -(-len(payload) // 16)
    return bytes((units,)) + payload.ljust(units * 16, b"\x00")


def parse_metadata(payload: bytes) -> dict[str, str]:
    """
    Decode a block's payload into its keys and values, as FFmpeg does.

    The payload ends at its first NUL, so padding may be left on. The text is
    decoded as UTF-8, or as Latin-1 if it is not valid UTF-8. Then, from the
    start, each key runs up to the next C{='} and its value up to the next
    C{';} after that; parsing stops at the first key or value without an end.
    (FFmpeg starts looking for C{';} at the C{'} of C{='}, so it misreads a
    value beginning with C{;}; L{encode_metadata} never produces one.)

    @param payload: the bytes after the length byte.
    @return: the keys mapped to their values; a later duplicate key wins.
    """
    raw = payload.split(b"\x00", 1)[0]
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        text = raw.decode("latin-1")
    result: dict[str, str] = {}
    position = 0
    while position < len(text):
        equals = text.find("='", position)
        if equals < 0:
            break
        end = text.find("';", equals + 2)
        if end < 0:
            break
        result[text[position:equals]] = text[equals + 2 : end]
        position = end + 2
    return result


class IcyFramingError(ValueError):
    """
    The stream does not follow ICY framing at the announced C{metaint}: a
    metadata block does not start with C{StreamTitle=}, which means the
    reader is out of step with the sender.
    """


class IcyDemuxer:
    """
    Split a listener-side ICY stream (the body after the response headers)
    into audio and metadata.

    @ivar metaint: the announced number of audio bytes between blocks.
    @ivar audio_bytes: the number of audio bytes returned so far.
    """

    _AUDIO = 0
    _LENGTH = 1
    _BLOCK = 2

    def __init__(self, metaint: int) -> None:
        """
        @param metaint: the C{icy-metaint} value from the response headers.
        @raise ValueError: if C{metaint} is not positive.
        """
        if metaint <= 0:
            raise ValueError(f"metaint must be positive, not {metaint}")
        self.metaint = metaint
        self.audio_bytes = 0
        self._state = self._AUDIO
        self._wanted = metaint
        self._block = bytearray()
        self._error: IcyFramingError | None = None

    def feed(self, data: bytes) -> list[tuple[str, bytes]]:
        """
        Consume the next piece of the stream.

        @param data: any number of bytes, split anywhere.
        @return: events in stream order: C{("audio", bytes)} for each run of
            audio (one per run inside C{data}) and C{("metadata", payload)}
            for each block, where C{payload} is the raw block text after the
            length byte, NUL padding included, and C{b""} for an empty block.
        @raise IcyFramingError: if a non-empty block does not start with
            C{StreamTitle=}; the demuxer stays failed after that.
        """
        if self._error is not None:
            raise self._error
        events: list[tuple[str, bytes]] = []
        position = 0
        size = len(data)
        while position < size:
            if self._state == self._AUDIO:
                end = min(size, position + self._wanted)
                events.append(("audio", data[position:end]))
                taken = end - position
                self.audio_bytes += taken
                self._wanted -= taken
                position = end
                if self._wanted == 0:
                    self._state = self._LENGTH
            elif self._state == self._LENGTH:
                length = data[position] * 16
                position += 1
                if length == 0:
                    events.append(("metadata", b""))
                    self._start_audio()
                else:
                    self._state = self._BLOCK
                    self._wanted = length
            else:
                end = min(size, position + self._wanted)
                self._block += data[position:end]
                self._wanted -= end - position
                position = end
                if self._wanted == 0:
                    payload = bytes(self._block)
                    self._block.clear()
                    self._check(payload)
                    events.append(("metadata", payload))
                    self._start_audio()
        return events

    def _start_audio(self) -> None:
        """
        Expect C{metaint} bytes of audio next.
        """
        self._state = self._AUDIO
        self._wanted = self.metaint

    def _check(self, payload: bytes) -> None:
        """
        Refuse a block that cannot be ICY metadata.

        @param payload: a complete non-empty block payload.
        @raise IcyFramingError: if it is neither all padding nor starts with
            C{StreamTitle=}.
        """
        if payload.startswith(b"StreamTitle=") or not payload.strip(b"\x00"):
            return
        self._error = IcyFramingError(
            f"metadata block after {self.audio_bytes} audio bytes does not start "
            f"with StreamTitle= (metaint {self.metaint} out of step?): {payload[:32]!r}"
        )
        raise self._error
