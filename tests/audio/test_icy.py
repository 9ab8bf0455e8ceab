# mypy: disallow-untyped-calls=False
"""
Tests for L{radiod.audio.icy}.
"""

from __future__ import annotations

import random

from hypothesis import given, settings
from hypothesis import strategies as st
from twisted.trial.unittest import SynchronousTestCase

from radiod.audio.icy import (
    EMPTY_BLOCK,
    MAX_PAYLOAD,
    IcyDemuxer,
    IcyFramingError,
    encode_metadata,
    parse_metadata,
    sanitise,
)
from radiod.testing import MetadataInterleaver


def _title_of(block: bytes) -> str:
    """
    Decode a whole block the way a listener would.

    @param block: a block with its length byte.
    @return: its C{StreamTitle}.
    """
    return parse_metadata(block[1:])["StreamTitle"]


class EncodeMetadataTests(SynchronousTestCase):
    """
    Tests for L{encode_metadata}.
    """

    def assertWellFramed(self, block: bytes) -> None:
        """
        Assert that C{block} has a correct length byte and NUL padding.

        @param block: a block with its length byte.
        """
        self.assertEqual(len(block), 1 + block[0] * 16)
        self.assertGreater(block[0], 0)
        payload = block[1:]
        text = payload.rstrip(b"\x00")
        self.assertNotIn(b"\x00", text)
        self.assertLess(len(payload) - len(text), 16)
        self.assertTrue(text.startswith(b"StreamTitle='"))
        self.assertTrue(text.endswith(b"';"))

    def test_icecast_example(self) -> None:
        """
        The block matches Icecast's byte for byte: length byte 4, the text
        with apostrophes sent verbatim, and 14 NULs of padding.
        """
        block = encode_metadata("Guns N' Roses - Sweet Child O' Mine")
        self.assertEqual(
            block,
            b"\x04StreamTitle='Guns N' Roses - Sweet Child O' Mine';" + b"\x00" * 14,
        )
        self.assertEqual(_title_of(block), "Guns N' Roses - Sweet Child O' Mine")

    def test_empty_title(self) -> None:
        """
        An empty title gives Icecast's first block, C{\\x01StreamTitle='';}
        and one NUL.
        """
        self.assertEqual(encode_metadata(""), b"\x01StreamTitle='';\x00")

    def test_exact_multiple_of_sixteen(self) -> None:
        """
        A payload whose length is already a multiple of 16 gets no padding.
        """
        block = encode_metadata("x" * 17)
        self.assertEqual(block, b"\x02StreamTitle='" + b"x" * 17 + b"';")

    def test_ascii_round_trip(self) -> None:
        """
        A plain ASCII title comes back unchanged.
        """
        block = encode_metadata("Daft Punk - One More Time")
        self.assertWellFramed(block)
        self.assertEqual(_title_of(block), "Daft Punk - One More Time")

    def test_accents_round_trip(self) -> None:
        """
        Accented text is sent as UTF-8 by default and decodes back.
        """
        block = encode_metadata("Motörhead - Ace of Spades (Édition)")
        self.assertIn("Motörhead".encode(), block)
        self.assertEqual(_title_of(block), "Motörhead - Ace of Spades (Édition)")

    def test_cjk_round_trip(self) -> None:
        """
        CJK text survives the round trip in UTF-8.
        """
        block = encode_metadata("東京事変 - 群青日和")
        self.assertWellFramed(block)
        self.assertEqual(_title_of(block), "東京事変 - 群青日和")

    def test_url(self) -> None:
        """
        A URL follows the title as C{StreamUrl}.
        """
        block = encode_metadata("A - B", url="http://example.org/a?b=c")
        self.assertWellFramed(block)
        self.assertIn(b"StreamTitle='A - B';StreamUrl='http://example.org/a?b=c';", block)
        self.assertEqual(
            parse_metadata(block[1:]),
            {"StreamTitle": "A - B", "StreamUrl": "http://example.org/a?b=c"},
        )

    def test_quote_semicolon_never_inside(self) -> None:
        """
        C{';} inside a title is rewritten to C{' ;}, so the value is not cut
        short and the only C{';} in the block is the terminator.
        """
        block = encode_metadata("Rock';n Roll")
        text = block[1:].rstrip(b"\x00")
        self.assertEqual(text, b"StreamTitle='Rock' ;n Roll';")
        self.assertEqual(text.count(b"';"), 1)
        self.assertEqual(_title_of(block), "Rock' ;n Roll")

    def test_leading_semicolon_removed(self) -> None:
        """
        A title starting with C{;} loses it, so C{='} is never followed by
        C{;} (which FFmpeg would read as the end of the value).
        """
        block = encode_metadata(" ;;Title")
        self.assertIn(b"StreamTitle='Title';", block)

    def test_line_breaks_and_nul(self) -> None:
        """
        CR, LF and NUL, and blanks around them, become one space; trailing
        ones disappear.
        """
        block = encode_metadata("Artist \r\n\r\n - Title\x00Part 2\r\n")
        self.assertWellFramed(block)
        self.assertEqual(_title_of(block), "Artist - Title Part 2")
        self.assertNotIn(b"\r", block)
        self.assertNotIn(b"\n", block)

    def test_cap_ascii(self) -> None:
        """
        An overlong title is cut so the payload fills exactly 4080 bytes,
        length byte 255, and still parses.
        """
        block = encode_metadata("a" * 10000)
        self.assertEqual(block[0], 255)
        self.assertEqual(len(block), 1 + MAX_PAYLOAD)
        self.assertWellFramed(block)
        self.assertEqual(_title_of(block), "a" * (MAX_PAYLOAD - len("StreamTitle='';")))

    def test_cap_multibyte_boundary(self) -> None:
        """
        When the budget ends in the middle of a multi-byte character, the
        whole character is dropped, and the block still decodes as UTF-8.
        """
        budget = MAX_PAYLOAD - len("StreamTitle='';")
        for prefix in range(4):
            title = "a" * prefix + "東" * 2000
            block = encode_metadata(title)
            self.assertWellFramed(block)
            decoded = _title_of(block)
            self.assertTrue(title.startswith(decoded))
            expected = prefix + (budget - prefix) // 3
            self.assertEqual(len(decoded), expected)
            block[1:].rstrip(b"\x00").decode("utf-8")

    def test_cap_keeps_url(self) -> None:
        """
        With a URL, the title is the one shortened, not the URL.
        """
        block = encode_metadata("é" * 5000, url="http://example.org/")
        self.assertEqual(block[0], 255)
        fields = parse_metadata(block[1:])
        self.assertEqual(fields["StreamUrl"], "http://example.org/")
        self.assertTrue(fields["StreamTitle"].startswith("ééé"))

    def test_cap_overlong_url(self) -> None:
        """
        A URL too long for the block on its own is shortened too, leaving an
        empty title; the block still parses.
        """
        block = encode_metadata("Title", url="http://x/" + "u" * 5000)
        self.assertEqual(len(block), 1 + MAX_PAYLOAD)
        fields = parse_metadata(block[1:])
        self.assertEqual(fields["StreamTitle"], "")
        self.assertTrue(fields["StreamUrl"].startswith("http://x/uuu"))

    def test_latin1(self) -> None:
        """
        In Latin-1, characters Latin-1 has are sent as single bytes.
        """
        block = encode_metadata("Motörhead - Café", charset="latin-1")
        self.assertIn(b"StreamTitle='Mot\xf6rhead - Caf\xe9';", block)
        self.assertEqual(_title_of(block), "Motörhead - Café")

    def test_latin1_transliteration(self) -> None:
        """
        In Latin-1, other characters lose their accents or compatibility
        forms, and those that cannot be brought into Latin-1 become C{?}.
        """
        block = encode_metadata("Dvořák ﬁnale ő € 東京", charset="latin-1")
        self.assertIn(b"StreamTitle='Dvor\xe1k finale o ? ??';", block)

    def test_latin1_transliteration_cannot_create_terminator(self) -> None:
        """
        A fullwidth semicolon, which decomposes to C{;}, cannot smuggle a
        C{';} into a Latin-1 block.
        """
        block = encode_metadata("Rock'\uff1bRoll", charset="latin-1")
        self.assertEqual(_title_of(block), "Rock' ;Roll")

    def test_latin1_cap(self) -> None:
        """
        The cap applies to Latin-1 output too.
        """
        block = encode_metadata("é" * 5000, charset="latin-1")
        self.assertEqual(len(block), 1 + MAX_PAYLOAD)
        self.assertWellFramed(block)

    def test_charset_aliases(self) -> None:
        """
        Common spellings of the two charsets are accepted.
        """
        self.assertEqual(
            encode_metadata("é", charset="ISO-8859-1"), encode_metadata("é", "latin-1")
        )
        self.assertEqual(encode_metadata("é", charset="UTF8"), encode_metadata("é"))

    def test_unknown_charset(self) -> None:
        """
        Any other charset is refused.
        """
        self.assertRaises(ValueError, encode_metadata, "x", charset="koi8-r")

    def test_empty_block(self) -> None:
        """
        L{EMPTY_BLOCK} is the single zero length byte.
        """
        self.assertEqual(EMPTY_BLOCK, b"\x00")

    @settings(max_examples=300, deadline=None)
    @given(st.text(), st.sampled_from(["utf-8", "latin-1"]))
    def test_round_trip_property(self, title: str, charset: str) -> None:
        """
        For any title and charset, the block is well framed, at most 4080
        bytes of payload, and parses back to a prefix of the sanitised
        title (all of it when it fits), with exactly one C{';}.
        """
        block = encode_metadata(title, charset=charset)
        self.assertWellFramed(block)
        self.assertLessEqual(len(block) - 1, MAX_PAYLOAD)
        text = block[1:].rstrip(b"\x00")
        self.assertEqual(text.count(b"';"), 1)
        decoded = text[len(b"StreamTitle='") : -2].decode(charset)
        self.assertEqual(parse_metadata(block[1:]).keys(), {"StreamTitle"})
        if charset == "utf-8":
            expected = sanitise(title)
            self.assertEqual(_title_of(block), decoded)
            self.assertTrue(expected.startswith(decoded))
            if len(expected.encode()) <= MAX_PAYLOAD - 15:
                self.assertEqual(decoded, expected)
        else:
            self.assertNotIn("\r", decoded)
            self.assertNotIn("\n", decoded)
            if title.isascii():
                self.assertTrue(sanitise(title).startswith(decoded))

    @settings(max_examples=100, deadline=None)
    @given(st.text(alphabet=st.characters(min_codepoint=0x80)), st.integers(0, 5000))
    def test_cap_property(self, title: str, repeat: int) -> None:
        """
        However long the title, the payload stays within 4080 bytes and
        decodes as UTF-8.
        """
        block = encode_metadata(title * (repeat // max(1, len(title))) + title)
        self.assertLessEqual(len(block), 1 + MAX_PAYLOAD)
        self.assertWellFramed(block)
        block[1:].rstrip(b"\x00").decode("utf-8")


class UndecodableTitleTests(SynchronousTestCase):
    """
    Titles taken from undecodable file names carry lone surrogates.
    """

    def test_lone_surrogate(self) -> None:
        """
        A lone surrogate becomes C{?} instead of failing the encoding.
        """
        for charset in ("utf-8", "latin-1"):
            block = encode_metadata("Caf\udce9 Song", charset)
            self.assertEqual(parse_metadata(block[1:])["StreamTitle"], "Caf? Song")


class SanitiseTests(SynchronousTestCase):
    """
    Tests for L{sanitise}.
    """

    def test_plain(self) -> None:
        """
        Ordinary text, apostrophes and inner double spaces included, is kept.
        """
        self.assertEqual(sanitise("Guns N' Roses  - It's So Easy"), "Guns N' Roses  - It's So Easy")

    def test_terminator(self) -> None:
        """
        Every C{';} gains a space, including consecutive ones.
        """
        self.assertEqual(sanitise("a';b'';c"), "a' ;b'' ;c")

    def test_edges(self) -> None:
        """
        Leading semicolons and blanks and trailing blanks are removed.
        """
        self.assertEqual(sanitise("  ; ;x y  "), "x y")
        self.assertEqual(sanitise(";"), "")


class ParseMetadataTests(SynchronousTestCase):
    """
    Tests for L{parse_metadata}.
    """

    def test_padding(self) -> None:
        """
        NUL padding is ignored.
        """
        self.assertEqual(
            parse_metadata(b"StreamTitle='x';\x00\x00\x00"),
            {"StreamTitle": "x"},
        )

    def test_value_ends_at_first_terminator(self) -> None:
        """
        As in FFmpeg, a value runs to the first C{';}, and parsing goes on
        from there.
        """
        self.assertEqual(parse_metadata(b"StreamTitle='Rock';n Roll';"), {"StreamTitle": "Rock"})
        self.assertEqual(
            parse_metadata(b"StreamTitle='a';StreamUrl='b';"),
            {"StreamTitle": "a", "StreamUrl": "b"},
        )

    def test_latin1_fallback(self) -> None:
        """
        Bytes that are not valid UTF-8 are read as Latin-1.
        """
        self.assertEqual(
            parse_metadata(b"StreamTitle='Mot\xf6rhead';"), {"StreamTitle": "Motörhead"}
        )

    def test_utf8(self) -> None:
        """
        Valid UTF-8 is read as UTF-8.
        """
        self.assertEqual(
            parse_metadata("StreamTitle='Motörhead';".encode()), {"StreamTitle": "Motörhead"}
        )

    def test_unterminated(self) -> None:
        """
        A key or value without its end is ignored.
        """
        self.assertEqual(parse_metadata(b"StreamTitle='x"), {})
        self.assertEqual(parse_metadata(b"StreamTitle='a';StreamUrl"), {"StreamTitle": "a"})
        self.assertEqual(parse_metadata(b""), {})

    def test_empty_value(self) -> None:
        """
        C{StreamTitle='';} is an empty title.
        """
        self.assertEqual(parse_metadata(b"StreamTitle='';"), {"StreamTitle": ""})


def _stream(metaint: int, audio: bytes, blocks: list[bytes]) -> bytes:
    """
    Build an ICY stream by hand.

    @param metaint: bytes of audio between blocks.
    @param audio: the audio; its length must be at least C{len(blocks) *
        metaint}.
    @param blocks: the blocks, length bytes included, in order.
    @return: the stream.
    """
    out = bytearray()
    for index, block in enumerate(blocks):
        out += audio[index * metaint : (index + 1) * metaint] + block
    out += audio[len(blocks) * metaint :]
    return bytes(out)


def _collect(events: list[tuple[str, bytes]]) -> tuple[bytes, list[tuple[int, bytes]]]:
    """
    Merge demuxer events.

    @param events: the events from one or more L{IcyDemuxer.feed} calls.
    @return: all the audio, and each block payload with the number of audio
        bytes before it.
    """
    audio = bytearray()
    blocks: list[tuple[int, bytes]] = []
    for kind, data in events:
        if kind == "audio":
            audio += data
        else:
            blocks.append((len(audio), data))
    return bytes(audio), blocks


class IcyDemuxerTests(SynchronousTestCase):
    """
    Tests for L{IcyDemuxer}.
    """

    def setUp(self) -> None:
        """
        Build a small stream with a full block, an empty block and another
        full block.
        """
        self.metaint = 7
        self.audio = bytes(range(26))
        self.first = encode_metadata("one")
        self.second = encode_metadata("two", url="u")
        self.stream = _stream(self.metaint, self.audio, [self.first, EMPTY_BLOCK, self.second])
        self.expected = [(7, self.first[1:]), (14, b""), (21, self.second[1:])]

    def test_whole(self) -> None:
        """
        Fed at once, the stream splits into audio runs and block payloads in
        order, each run its own event.
        """
        demuxer = IcyDemuxer(self.metaint)
        events = demuxer.feed(self.stream)
        self.assertEqual(
            events,
            [
                ("audio", self.audio[0:7]),
                ("metadata", self.first[1:]),
                ("audio", self.audio[7:14]),
                ("metadata", b""),
                ("audio", self.audio[14:21]),
                ("metadata", self.second[1:]),
                ("audio", self.audio[21:]),
            ],
        )
        self.assertEqual(demuxer.audio_bytes, 26)

    def test_every_split(self) -> None:
        """
        Split at any one or two places, the stream gives the same audio and
        blocks at the same offsets.
        """
        stream = self.stream
        for first in range(len(stream) + 1):
            for second in range(first, len(stream) + 1, 5):
                demuxer = IcyDemuxer(self.metaint)
                events = (
                    demuxer.feed(stream[:first])
                    + demuxer.feed(stream[first:second])
                    + demuxer.feed(stream[second:])
                )
                self.assertEqual(_collect(events), (self.audio, self.expected))
                self.assertEqual(demuxer.audio_bytes, len(self.audio))

    def test_byte_by_byte(self) -> None:
        """
        Fed one byte at a time, the result is the same.
        """
        demuxer = IcyDemuxer(self.metaint)
        events = []
        for index in range(len(self.stream)):
            events += demuxer.feed(self.stream[index : index + 1])
        self.assertEqual(_collect(events), (self.audio, self.expected))

    def test_audio_bytes_progress(self) -> None:
        """
        C{audio_bytes} counts only audio, not length bytes or metadata.
        """
        demuxer = IcyDemuxer(self.metaint)
        demuxer.feed(self.stream[:10])
        self.assertEqual(demuxer.audio_bytes, 7)

    def test_empty_feed(self) -> None:
        """
        Feeding nothing yields nothing.
        """
        self.assertEqual(IcyDemuxer(5).feed(b""), [])

    def test_padding_only_block(self) -> None:
        """
        A non-empty block of nothing but NULs is accepted.
        """
        demuxer = IcyDemuxer(2)
        events = demuxer.feed(b"ab\x01" + b"\x00" * 16 + b"cd")
        self.assertEqual(events[1], ("metadata", b"\x00" * 16))

    def test_out_of_step(self) -> None:
        """
        A block that does not start with C{StreamTitle=} (here because the
        metaint is wrong) raises L{IcyFramingError}, a L{ValueError}, and
        the demuxer stays failed.
        """
        demuxer = IcyDemuxer(2)
        error = self.assertRaises(
            IcyFramingError, demuxer.feed, b"ab\x01" + b"\xff\xfb\x90\x00" * 4 + b"cd"
        )
        self.assertIsInstance(error, ValueError)
        self.assertIn("StreamTitle", str(error))
        self.assertRaises(IcyFramingError, demuxer.feed, b"cd")

    def test_bad_metaint(self) -> None:
        """
        A metaint that is not positive is refused.
        """
        self.assertRaises(ValueError, IcyDemuxer, 0)
        self.assertRaises(ValueError, MetadataInterleaver, -1)

    def test_large_chunk(self) -> None:
        """
        A multi-megabyte chunk with thousands of blocks is split correctly.
        """
        metaint = 1000
        audio = random.Random(1).randbytes(5_000_000)
        block = encode_metadata("t")
        count = len(audio) // metaint
        stream = _stream(metaint, audio, [block] * count)
        demuxer = IcyDemuxer(metaint)
        got_audio, got_blocks = _collect(demuxer.feed(stream))
        self.assertEqual(got_audio, audio)
        self.assertEqual(len(got_blocks), count)
        self.assertEqual(got_blocks[-1], (count * metaint, block[1:]))


class MetadataInterleaverTests(SynchronousTestCase):
    """
    Tests for L{MetadataInterleaver}.
    """

    def test_no_block_in_range(self) -> None:
        """
        Audio shorter than the distance to the next block comes back as is,
        the very same object, and the distance shrinks.
        """
        interleaver = MetadataInterleaver(10)
        audio = b"abcd"
        pieces = interleaver.interleave(audio, lambda offset: self.fail("no block due"))
        self.assertEqual(len(pieces), 1)
        self.assertIs(pieces[0], audio)
        self.assertEqual(interleaver.until_block, 6)

    def test_blocks_inserted(self) -> None:
        """
        Blocks go in every metaint bytes; C{block_at} gets the offset of the
        audio byte after each block.
        """
        interleaver = MetadataInterleaver(4)
        offsets: list[int] = []

        def block_at(offset: int) -> bytes:
            offsets.append(offset)
            return EMPTY_BLOCK if offset > 4 else b"\x01" + b"X" * 16

        pieces = interleaver.interleave(b"0123456789", block_at)
        self.assertEqual(offsets, [4, 8])
        self.assertEqual(
            [bytes(piece) for piece in pieces],
            [b"0123", b"\x01" + b"X" * 16, b"4567", b"\x00", b"89"],
        )
        self.assertEqual(interleaver.until_block, 2)

    def test_audio_not_copied(self) -> None:
        """
        Audio pieces are memoryviews onto the caller's buffer, whether it
        was given as bytes or as a memoryview.
        """
        interleaver = MetadataInterleaver(3)
        audio = b"abcdef"
        pieces = interleaver.interleave(audio, lambda offset: EMPTY_BLOCK)
        self.assertEqual(len(pieces), 3)
        first, last = pieces[0], pieces[2]
        assert isinstance(first, memoryview) and isinstance(last, memoryview)
        self.assertIs(first.obj, audio)
        self.assertIs(last.obj, audio)

        shared = bytearray(b"ghijkl")
        pieces = MetadataInterleaver(3).interleave(memoryview(shared), lambda offset: EMPTY_BLOCK)
        shared[0] = ord("Z")
        self.assertEqual([bytes(piece) for piece in pieces], [b"Zhi", b"\x00", b"jkl"])

    def test_block_at_end_deferred(self) -> None:
        """
        A block due exactly at the end of the audio is written before the
        next audio instead, at offset 0.
        """
        interleaver = MetadataInterleaver(4)
        offsets: list[int] = []

        def block_at(offset: int) -> bytes:
            offsets.append(offset)
            return EMPTY_BLOCK

        first = interleaver.interleave(b"abcd", block_at)
        self.assertEqual([bytes(p) for p in first], [b"abcd"])
        self.assertEqual(interleaver.until_block, 0)
        self.assertEqual(offsets, [])
        self.assertEqual(interleaver.interleave(b"", block_at), [])
        second = interleaver.interleave(b"ef", block_at)
        self.assertEqual([bytes(p) for p in second], [b"\x00", b"ef"])
        self.assertEqual(offsets, [0])
        self.assertEqual(interleaver.until_block, 2)

    def test_metaint_one(self) -> None:
        """
        With a metaint of 1, every audio byte but the first is preceded by a
        block.
        """
        interleaver = MetadataInterleaver(1)
        pieces = interleaver.interleave(b"abc", lambda offset: EMPTY_BLOCK)
        self.assertEqual(b"".join(pieces), b"a\x00b\x00c")

    def test_random_chunks_demux(self) -> None:
        """
        Over many calls with random chunk sizes, the concatenated output
        demuxes to exactly the input audio, with each block at the offset
        C{block_at} was asked about.
        """
        rng = random.Random(42)
        for metaint in (1, 3, 16, 100, 8192):
            interleaver = MetadataInterleaver(metaint)
            demuxer = IcyDemuxer(metaint)
            audio = rng.randbytes(50_000)
            written = bytearray()
            expected: list[tuple[int, bytes]] = []
            position = 0
            while position < len(audio):
                size = rng.choice((0, 1, 2, rng.randrange(1, 3000), rng.randrange(1, 40_000)))
                chunk = audio[position : position + size]
                base = position

                def block_at(
                    offset: int, base: int = base, expected: list[tuple[int, bytes]] = expected
                ) -> bytes:
                    absolute = base + offset
                    block = EMPTY_BLOCK if absolute % 3 else encode_metadata(f"at {absolute}")
                    expected.append((absolute, block[1:]))
                    return block

                for piece in interleaver.interleave(chunk, block_at):
                    written += piece
                position += len(chunk)
            got_audio, got_blocks = _collect(demuxer.feed(bytes(written)))
            self.assertEqual(got_audio, audio)
            self.assertEqual(got_blocks, expected)
            self.assertEqual(
                [offset for offset, _ in got_blocks],
                list(range(metaint, len(audio), metaint)),
            )

    @settings(max_examples=200, deadline=None)
    @given(st.integers(1, 50), st.lists(st.binary(max_size=120), max_size=30))
    def test_property(self, metaint: int, chunks: list[bytes]) -> None:
        """
        For any metaint and chunking, interleaving then demuxing returns the
        audio with a block every metaint bytes (strictly inside the audio).
        """
        interleaver = MetadataInterleaver(metaint)
        written = b"".join(
            b"".join(interleaver.interleave(chunk, lambda offset: encode_metadata(str(offset))))
            for chunk in chunks
        )
        audio, blocks = _collect(IcyDemuxer(metaint).feed(written))
        self.assertEqual(audio, b"".join(chunks))
        self.assertEqual(
            [offset for offset, _ in blocks], list(range(metaint, len(audio), metaint))
        )
