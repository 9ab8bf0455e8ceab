# -*- test-case-name: tests.audio.test_frames -*-
"""
Tests for L{radiod.audio.frames}.
"""

from __future__ import annotations

import math
import random
import struct

from hypothesis import given, settings
from hypothesis import strategies as st
from twisted.trial.unittest import SynchronousTestCase

from radiod.audio.frames import Frame, FrameSplitter, UnsupportedAudio, build_header, parse_header
from radiod.testing import read_frames

_RATES = {"1": (44100, 48000, 32000), "2": (22050, 24000, 16000), "2.5": (11025, 12000, 8000)}
_BITRATES = {
    (True, 2): (32, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320, 384),
    (True, 3): (32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320),
    (False, 2): (8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160),
    (False, 3): (8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160),
}


def make_frame(
    version: str = "1",
    layer: int = 3,
    bitrate: int = 128,
    sample_rate: int = 44100,
    padding: bool = False,
    channels: int = 2,
    protected: bool = False,
    seed: int = 0,
) -> bytes:
    """
    Build one whole frame: a header, a CRC if C{protected}, and a payload of
    bytes that never contain C{0xFF}.
    """
    header = bytearray(build_header(version, layer, bitrate, sample_rate, padding, channels))
    if protected:
        header[1] &= 0xFE
    parsed = parse_header(header)
    assert parsed is not None
    payload = bytes((seed * 31 + i * 7) % 251 for i in range(parsed.length - 4))
    return bytes(header) + payload


def stream(count: int = 5, **kwargs: object) -> list[bytes]:
    """
    Build C{count} frames of one format, each with a different payload.
    """
    return [make_frame(seed=i, **kwargs) for i in range(count)]  # type: ignore[arg-type]


def split(data: bytes, splitter: FrameSplitter | None = None) -> list[bytes]:
    """
    Split C{data} in one call and return the frames' bytes.
    """
    splitter = FrameSplitter() if splitter is None else splitter
    return [frame.data for frame in splitter.feed(data) + splitter.finish()]


def split_in_chunks(data: bytes, sizes: list[int]) -> tuple[list[Frame], FrameSplitter]:
    """
    Feed C{data} in chunks of the given sizes (cycled), then finish.
    """
    splitter = FrameSplitter()
    frames: list[Frame] = []
    pos = 0
    index = 0
    while pos < len(data):
        size = sizes[index % len(sizes)]
        frames += splitter.feed(data[pos : pos + size])
        pos += size
        index += 1
    return frames + splitter.finish(), splitter


def syncsafe(size: int) -> bytes:
    """
    Encode C{size} as an ID3v2 syncsafe integer.
    """
    return bytes((size >> shift) & 0x7F for shift in (21, 14, 7, 0))


def id3v2(body: bytes, footer: bool = False) -> bytes:
    """
    Build an ID3v2.4 tag around C{body}, with a footer if asked.
    """
    flags = 0x10 if footer else 0
    tag = b"ID3\x04\x00" + bytes([flags]) + syncsafe(len(body)) + body
    if footer:
        tag += b"3DI\x04\x00" + bytes([flags]) + syncsafe(len(body))
    return tag


def ape(body: bytes, header: bool = True) -> bytes:
    """
    Build an APEv2 tag around C{body} (standing for its items), with a
    footer and, if asked, a header.
    """
    size = len(body) + 32
    count = 1
    flags = 1 << 31 if header else 0
    footer = b"APETAGEX" + struct.pack("<IIII", 2000, size, count, flags) + bytes(8)
    if not header:
        return body + footer
    head = b"APETAGEX" + struct.pack("<IIII", 2000, size, count, flags | 1 << 29) + bytes(8)
    return head + body + footer


def hidden_audio() -> bytes:
    """
    Bytes that look like two chained frames, to hide inside a tag.
    """
    return make_frame(bitrate=64, seed=8) + make_frame(bitrate=64, seed=9)


class FormatTests(SynchronousTestCase):
    """
    Every MPEG version, layer, bitrate and sample rate that radiod streams is
    split into its frames.
    """

    def check(self, frames: list[bytes]) -> None:
        """
        Assert that C{frames}, joined, split back into exactly themselves.
        """
        self.assertEqual(split(b"".join(frames)), frames)

    def test_every_version_and_sample_rate(self) -> None:
        """
        Layer II and III frames of MPEG-1, 2 and 2.5 at each of their sample
        rates are split, and their headers decoded.
        """
        for version, rates in _RATES.items():
            for layer in (2, 3):
                for rate in rates:
                    frames = stream(4, version=version, layer=layer, bitrate=64, sample_rate=rate)
                    splitter = FrameSplitter()
                    result = splitter.feed(b"".join(frames)) + splitter.finish()
                    self.assertEqual([frame.data for frame in result], frames)
                    header = result[0].header
                    self.assertEqual(
                        (header.version, header.layer, header.sample_rate),
                        (version, layer, rate),
                    )
                    self.assertEqual(splitter.frames, 4)

    def test_every_bitrate(self) -> None:
        """
        Every bitrate of each table is split, for every version.
        """
        for version in _RATES:
            for layer in (2, 3):
                for bitrate in _BITRATES[(version == "1", layer)]:
                    frames = stream(
                        3,
                        version=version,
                        layer=layer,
                        bitrate=bitrate,
                        sample_rate=_RATES[version][0],
                        channels=1,
                    )
                    self.check(frames)

    def test_variable_bitrate(self) -> None:
        """
        Frames whose bitrates change from one to the next are all split.
        """
        frames = [
            make_frame(bitrate=bitrate, seed=i)
            for i, bitrate in enumerate((128, 320, 32, 192, 40, 256, 64))
        ]
        self.check(frames)
        frames = [
            make_frame(version="2.5", bitrate=bitrate, sample_rate=8000, seed=i)
            for i, bitrate in enumerate((8, 160, 24, 144, 8))
        ]
        self.check(frames)

    def test_padding(self) -> None:
        """
        Padded frames are one byte longer, and are split at that length.
        """
        frames = [make_frame(padding=i % 3 == 0, seed=i) for i in range(7)]
        self.check(frames)
        self.assertEqual([len(frame) for frame in frames[:2]], [418, 417])

    def test_crc(self) -> None:
        """
        CRC-protected frames are split and say so.
        """
        frames = stream(4, protected=True)
        result = read_frames(b"".join(frames))
        self.assertEqual([frame.data for frame in result], frames)
        self.assertTrue(result[0].header.protected)

    def test_mono(self) -> None:
        """
        Mono frames are split and report one channel.
        """
        frames = stream(4, version="2", sample_rate=24000, channels=1)
        result = read_frames(b"".join(frames))
        self.assertEqual([frame.data for frame in result], frames)
        self.assertEqual(result[0].header.channels, 1)

    def test_layer_one_refused(self) -> None:
        """
        Layer I frames are not taken for audio.
        """
        self.assertEqual(split(b"".join(stream(5, layer=1))), [])

    def test_sample_rate_change(self) -> None:
        """
        A stream may switch sample rate when the new frames chain.
        """
        frames = (
            stream(3)
            + stream(3, sample_rate=48000)
            + stream(3, version="2", sample_rate=22050, bitrate=64)
        )
        self.check(frames)

    def test_unconfirmed_change(self) -> None:
        """
        A frame followed by a header of another sample rate that does not
        chain is not confirmed.
        """
        first, second = stream(2)
        other = make_frame(sample_rate=48000)
        tail = b"not audio at all"
        splitter = FrameSplitter()
        self.assertEqual(split(first + second + other + tail, splitter), [first])
        self.assertEqual(splitter.garbage_bytes, len(second + other + tail))

    def test_frames_reparse(self) -> None:
        """
        Every frame returned re-parses to its own header and is exactly as
        long as that header says.
        """
        data = b"".join(stream(3, padding=True) + stream(3, version="2.5", sample_rate=12000))
        for frame in read_frames(b"junk" + data + b"\xff\xfb"):
            self.assertEqual(parse_header(frame.data), frame.header)
            self.assertEqual(len(frame.data), frame.header.length)


class TagTests(SynchronousTestCase):
    """
    Tags are skipped whole, so audio-like bytes inside them are never taken
    for frames.
    """

    def check(self, data: bytes, frames: list[bytes], kind: str, count: int = 1) -> None:
        """
        Assert that C{data} splits into C{frames}, with C{count} tags of
        C{kind} and no garbage, both in one piece and byte by byte.
        """
        splitter = FrameSplitter()
        self.assertEqual(split(data, splitter), frames)
        self.assertEqual(splitter.tags_skipped, {kind: count})
        self.assertEqual(splitter.garbage_bytes, 0)
        self.assertEqual(splitter.tag_bytes, len(data) - len(b"".join(frames)))
        result, _ = split_in_chunks(data, [1])
        self.assertEqual([frame.data for frame in result], frames)

    def test_id3v2_start(self) -> None:
        """
        An ID3v2 tag at the start is skipped by its declared size.
        """
        frames = stream(3)
        self.check(id3v2(hidden_audio()) + b"".join(frames), frames, "id3v2")

    def test_id3v2_footer(self) -> None:
        """
        An ID3v2.4 tag with a footer is skipped, footer included.
        """
        frames = stream(3)
        tag = id3v2(hidden_audio(), footer=True)
        self.check(tag + b"".join(frames), frames, "id3v2")

    def test_id3v2_middle_and_end(self) -> None:
        """
        ID3v2 tags between frames and after the last one are skipped.
        """
        frames = stream(4)
        tag = id3v2(hidden_audio(), footer=True)
        data = b"".join(frames[:2]) + tag + b"".join(frames[2:]) + tag
        self.check(data, frames, "id3v2", 2)

    def test_appended_footer(self) -> None:
        """
        A lone ID3v2 footer is skipped.
        """
        frames = stream(3)
        self.check(b"".join(frames) + b"3DI\x04\x00\x10" + syncsafe(100), frames, "id3v2")

    def test_id3v1(self) -> None:
        """
        An ID3v1 tag is skipped, with the last frame before it kept.
        """
        frames = stream(3)
        tag = b"TAG" + make_frame()[:40] + bytes(85)
        self.assertEqual(len(tag), 128)
        self.check(b"".join(frames) + tag, frames, "id3v1")

    def test_id3v1_enhanced(self) -> None:
        """
        An enhanced C{TAG+} block and the ID3v1 tag after it are skipped.
        """
        frames = stream(3)
        tag = b"TAG+" + hidden_audio()[:223] + b"TAG" + bytes(125)
        self.check(b"".join(frames) + tag, frames, "id3v1")

    def test_apev2(self) -> None:
        """
        An APEv2 tag with a header is skipped by its declared size.
        """
        frames = stream(3)
        tag = ape(hidden_audio())
        self.check(tag + b"".join(frames) + tag, frames, "apev2", 2)

    def test_apev2_footer_only(self) -> None:
        """
        An APEv2 tag without a header at the end of a file is found from its
        footer by L{read_frames}.
        """
        frames = stream(3)
        splitter = FrameSplitter()
        data = b"".join(frames) + ape(hidden_audio(), header=False) + b"TAG" + bytes(125)
        result = read_frames(data, splitter)
        self.assertEqual([frame.data for frame in result], frames)
        self.assertEqual(splitter.tags_skipped, {"apev2": 1, "id3v1": 1})
        self.assertEqual(splitter.garbage_bytes, 0)

    def test_trailing_tags(self) -> None:
        """
        L{read_frames} measures every kind of tag appended at the end from
        the end, so none of their contents is read as audio.
        """
        frames = stream(3)
        lyrics = b"LYRICSBEGIN" + b"IND00002" + b"11" + hidden_audio()
        data = (
            b"".join(frames)
            + id3v2(hidden_audio(), footer=True)
            + ape(hidden_audio(), header=False)
            + b"LYRICSBEGIN" + hidden_audio() + b"LYRICSEND"
            + lyrics + b"%06d" % len(lyrics) + b"LYRICS200"
            + b"TAG+" + bytes(223) + b"TAG" + bytes(125)
        )  # fmt: skip
        splitter = FrameSplitter()
        result = read_frames(data, splitter)
        self.assertEqual([frame.data for frame in result], frames)
        self.assertEqual(splitter.tags_skipped, {"id3v2": 1, "apev2": 1, "lyrics3": 2, "id3v1": 1})
        self.assertEqual(splitter.tag_bytes, len(data) - len(b"".join(frames)))
        self.assertEqual(splitter.garbage_bytes, 0)

    def test_lyrics3_v1(self) -> None:
        """
        A Lyrics3 v1 tag is skipped up to C{LYRICSEND}.
        """
        frames = stream(3)
        tag = b"LYRICSBEGIN" + hidden_audio() + b"LYRICSEND"
        self.check(b"".join(frames) + tag, frames, "lyrics3")

    def test_lyrics3_v2(self) -> None:
        """
        A Lyrics3 v2 tag is skipped up to its size and C{LYRICS200}.
        """
        frames = stream(3)
        body = b"LYRICSBEGIN" + b"IND00002" + b"11" + b"LYR00010" + b"LYRICS200"
        body += hidden_audio()
        tag = body + b"%06d" % len(body) + b"LYRICS200"
        self.check(b"".join(frames) + tag + b"".join(frames), frames * 2, "lyrics3")

    def test_large_tag_not_held(self) -> None:
        """
        A large tag is discarded as it arrives rather than kept whole.
        """
        frames = stream(3)
        data = id3v2(hidden_audio() * 500) + b"".join(frames)
        splitter = FrameSplitter()
        result = []
        for pos in range(0, len(data), 1000):
            result += splitter.feed(data[pos : pos + 1000])
            self.assertLessEqual(splitter.pending, 1000)
        result += splitter.finish()
        self.assertEqual([frame.data for frame in result], frames)

    def test_all_kinds_together(self) -> None:
        """
        A file with every kind of tag splits to its audio alone.
        """
        frames = stream(4)
        data = (
            id3v2(hidden_audio())
            + b"".join(frames[:2])
            + ape(hidden_audio())
            + b"".join(frames[2:])
            + b"LYRICSBEGIN" + hidden_audio() + b"LYRICSEND"
            + b"TAG" + bytes(125)
        )  # fmt: skip
        splitter = FrameSplitter()
        self.assertEqual(split(data, splitter), frames)
        self.assertEqual(splitter.tags_skipped, {"id3v2": 1, "apev2": 1, "lyrics3": 1, "id3v1": 1})


class GarbageTests(SynchronousTestCase):
    """
    Bytes that are neither frames nor tags are skipped, and splitting
    resumes on the next validated header.
    """

    def test_leading_garbage(self) -> None:
        """
        Garbage before the first frame, false sync words included, is skipped
        and counted.
        """
        frames = stream(3)
        junk = b"RIFF\x00\xff\xfb\x90\x00" + bytes(range(200)) + b"\xff\xe2\xff"
        splitter = FrameSplitter()
        self.assertEqual(split(junk + b"".join(frames), splitter), frames)
        self.assertEqual(splitter.garbage_bytes, len(junk))

    def test_between_frames(self) -> None:
        """
        Garbage between frames, holding headers that do not chain, costs only
        the frame before it.
        """
        frames = stream(6)
        junk = b"xx" + make_frame(bitrate=320)[:300] + b"\xff\xfb\x90\x64" + b"\xff\xf3" * 40
        data = b"".join(frames[:3]) + junk + b"".join(frames[3:])
        splitter = FrameSplitter()
        self.assertEqual(split(data, splitter), frames[:2] + frames[3:])
        self.assertEqual(splitter.garbage_bytes, len(frames[2] + junk))

    def test_truncated_last_frame(self) -> None:
        """
        A final frame cut short is dropped.
        """
        frames = stream(3)
        splitter = FrameSplitter()
        self.assertEqual(split(b"".join(frames) + frames[0][:200], splitter), frames)
        self.assertEqual(splitter.garbage_bytes, 200)

    def test_last_frame_counts_at_end(self) -> None:
        """
        The last frame counts because the data ends where it does, even with
        fewer bytes than a header after it.
        """
        frames = stream(2)
        self.assertEqual(split(b"".join(frames)), frames)
        self.assertEqual(split(b"".join(frames) + b"\xff\xfb"), frames)
        self.assertEqual(split(frames[0]), frames[:1])

    def test_held_back_until_confirmed(self) -> None:
        """
        A frame is returned only once the next header confirms it.
        """
        first, second = stream(2)
        splitter = FrameSplitter()
        self.assertEqual(splitter.feed(first), [])
        self.assertEqual([frame.data for frame in splitter.feed(second[:4])], [first])
        self.assertEqual([frame.data for frame in splitter.finish()], [])
        self.assertEqual(splitter.garbage_bytes, 4)

    def test_buffer_stays_small(self) -> None:
        """
        While splitting audio, no more than a couple of frames are held.
        """
        data = b"".join(stream(40, bitrate=320))
        splitter = FrameSplitter()
        for pos in range(0, len(data), 4096):
            splitter.feed(data[pos : pos + 4096])
            self.assertLessEqual(splitter.pending, 2 * 1045)

    def test_feed_after_finish(self) -> None:
        """
        The stream cannot go on once finished.
        """
        splitter = FrameSplitter()
        splitter.finish()
        self.assertRaises(ValueError, splitter.feed, b"")
        self.assertRaises(ValueError, splitter.finish)


class ChunkingTests(SynchronousTestCase):
    """
    How the data is cut into calls makes no difference.
    """

    def mixed(self) -> bytes:
        """
        A stream with tags, garbage, a VBR header, padding, CRC and a change
        of format.
        """
        xing = bytearray(make_frame())
        xing[36:40] = b"Xing"
        return b"".join(
            [
                id3v2(hidden_audio(), footer=True),
                b"\x00\x00\xff\xfb junk",
                ape(hidden_audio()),
                b"more junk",
                b"LYRICSBEGIN" + hidden_audio() + b"LYRICSEND",
                bytes(xing),
                *stream(3, padding=True),
                ape(hidden_audio()),
                *stream(3, protected=True),
                b"\xff\xfb\x90\x00garbage",
                *stream(3, version="2", sample_rate=16000, bitrate=8, channels=1),
                b"LYRICSBEGIN" + hidden_audio() + b"LYRICSEND",
                *stream(2, layer=2, bitrate=384),
                b"TAG+" + bytes(223) + b"TAG" + bytes(125),
            ]
        )

    def test_byte_by_byte(self) -> None:
        """
        Feeding one byte at a time gives the same frames and counters as
        feeding everything at once.
        """
        data = self.mixed()
        whole = FrameSplitter()
        expected = split(data, whole)
        self.assertEqual(len(expected), 11)
        result, splitter = split_in_chunks(data, [1])
        self.assertEqual([frame.data for frame in result], expected)
        self.assertEqual(splitter, whole)

    def test_every_cut(self) -> None:
        """
        Cutting a stream in two at any point, including inside a header or a
        tag signature that follows garbage, gives the same frames and
        counters as not cutting it.
        """
        frames = stream(2, bitrate=32)
        data = b"".join(
            [
                b"junk",
                id3v2(hidden_audio()[:80]),
                b"junk",
                ape(hidden_audio()[:80]),
                b"junkTAG" + bytes(125),
                frames[0],
                b"LYRICSBEGIN" + hidden_audio()[:80] + b"LYRICSEND",
                frames[1],
            ]
        )
        whole = FrameSplitter()
        self.assertEqual(split(data, whole), frames)
        self.assertEqual(whole.tags_skipped, {"id3v2": 1, "apev2": 1, "id3v1": 1, "lyrics3": 1})
        for cut in range(len(data)):
            result, splitter = split_in_chunks(data, [cut, len(data)])
            self.assertEqual([frame.data for frame in result], frames)
            self.assertEqual(splitter, whole)

    def test_random_chunks(self) -> None:
        """
        Feeding chunks of random sizes gives the same frames and counters as
        feeding everything at once.
        """
        data = self.mixed()
        whole = FrameSplitter()
        expected = split(data, whole)
        for seed in range(20):
            rng = random.Random(seed)
            sizes = [rng.randint(1, 700) for _ in range(50)]
            result, splitter = split_in_chunks(data, sizes)
            self.assertEqual([frame.data for frame in result], expected)
            self.assertEqual(splitter, whole)


class VBRHeaderTests(SynchronousTestCase):
    """
    Xing, Info and VBRI frames are dropped.
    """

    def check(self, marker: bytes, offset: int, **kwargs: object) -> None:
        """
        Assert that a first frame with C{marker} at C{offset} is dropped and
        the others are kept.
        """
        frames = stream(4, **kwargs)
        header = bytearray(frames[0])
        header[offset : offset + 4] = marker
        splitter = FrameSplitter()
        self.assertEqual(split(bytes(header) + b"".join(frames[1:]), splitter), frames[1:])
        self.assertEqual(splitter.vbr_headers_dropped, 1)
        self.assertEqual(splitter.frames, 3)

    def test_xing_offsets(self) -> None:
        """
        A Xing tag is found after the side information of each kind of
        frame, two bytes later when a CRC is present.
        """
        self.check(b"Xing", 36)
        self.check(b"Xing", 21, channels=1)
        self.check(b"Xing", 21, version="2", sample_rate=22050, bitrate=64)
        self.check(b"Xing", 13, version="2.5", sample_rate=11025, bitrate=64, channels=1)
        self.check(b"Xing", 38, protected=True)
        self.check(b"Xing", 15, version="2", sample_rate=24000, channels=1, protected=True)

    def test_info(self) -> None:
        """
        A LAME Info frame (the CBR form of Xing) is dropped.
        """
        self.check(b"Info", 36)
        self.check(b"Info", 21, version="2", sample_rate=16000, bitrate=32)

    def test_vbri(self) -> None:
        """
        A VBRI frame is dropped.
        """
        self.check(b"VBRI", 36)
        self.check(b"VBRI", 36, version="2", sample_rate=22050, bitrate=64, channels=1)

    def test_elsewhere_is_audio(self) -> None:
        """
        A frame with a marker at some other offset is audio.
        """
        frames = stream(3)
        first = bytearray(frames[0])
        first[21:25] = b"Xing"
        data = bytes(first) + b"".join(frames[1:])
        self.assertEqual(split(data), [bytes(first), *frames[1:]])


def free_format(count: int) -> bytes:
    """
    Build free-format frames: bitrate index 0, 653 bytes, padded every third
    frame.
    """
    header = bytearray(build_header())
    header[2] &= 0x0F
    frames = []
    for i in range(count):
        padded = i % 3 == 2
        header[2] = (header[2] & ~0x02) | (padded << 1)
        frames.append(bytes(header) + bytes([i % 200]) * (649 + padded))
    return b"".join(frames)


def wav() -> bytes:
    """
    Build a WAV file of a 441 Hz tone, one whole period every 100 samples.
    """
    samples = [int(20000 * math.sin(2 * math.pi * i / 100)) for i in range(100)] * 400
    pcm = struct.pack(f"<{len(samples)}h", *samples)
    fmt = struct.pack("<HHIIHH", 1, 1, 44100, 88200, 2, 16)
    body = b"WAVEfmt " + struct.pack("<I", 16) + fmt + b"data" + struct.pack("<I", len(pcm)) + pcm
    return b"RIFF" + struct.pack("<I", len(body)) + body


class UnsupportedTests(SynchronousTestCase):
    """
    Data that is not streamable MPEG audio is refused with a clear reason.
    """

    def refused(self, data: bytes) -> str:
        """
        Return the reason L{read_frames} gives for refusing C{data}.
        """
        return str(self.assertRaises(UnsupportedAudio, read_frames, data))

    def test_free_format(self) -> None:
        """
        Free-format audio is refused as such, and the splitter says it saw it.
        """
        reason = "free-format MPEG audio is not supported"
        self.assertEqual(self.refused(free_format(20)), reason)
        self.assertEqual(self.refused(id3v2(b"x" * 20) + bytes(30) + free_format(20)), reason)
        splitter = FrameSplitter()
        data = free_format(40)
        for pos in range(0, len(data), 100):
            self.assertEqual(splitter.feed(data[pos : pos + 100]), [])
        self.assertTrue(splitter.free_format_seen)
        self.assertEqual(splitter.finish(), [])
        self.assertEqual(splitter.garbage_bytes, len(data))

    def test_not_free_format(self) -> None:
        """
        A lone free-format header, or one not at the start, is not enough to
        call the data free format.
        """
        splitter = FrameSplitter()
        split(free_format(1) + bytes(30000), splitter)
        self.assertFalse(splitter.free_format_seen)
        splitter = FrameSplitter()
        split(b"abc" + free_format(20), splitter)
        self.assertFalse(splitter.free_format_seen)

    def test_not_mpeg(self) -> None:
        """
        WAV, Ogg, text and empty files have no MPEG audio frames.
        """
        rng = random.Random(4)
        ogg = b"".join(
            b"OggS\x00\x00" + rng.randbytes(20) + b"\x10" + bytes([255] * 16) + rng.randbytes(4080)
            for _ in range(20)
        )
        text = b"Just some words, not music.\n" * 1000
        for data in (wav(), ogg, text, b"", id3v2(hidden_audio())):
            self.assertEqual(self.refused(data), "no MPEG audio frames found")

    def test_mostly_garbage(self) -> None:
        """
        A couple of frames in a sea of other bytes are not a usable file.
        """
        data = random.Random(2).randbytes(50000) + b"".join(stream(2))
        self.assertEqual(self.refused(data), "no MPEG audio frames found")

    def test_usable(self) -> None:
        """
        Audio after a little garbage is read.
        """
        frames = stream(10)
        result = read_frames(b"\x00junk" * 10 + b"".join(frames))
        self.assertEqual([frame.data for frame in result], frames)


class PropertyTests(SynchronousTestCase):
    """
    Whatever the input, the splitter returns only valid frames.
    """

    @settings(max_examples=200, deadline=None)
    @given(st.binary(max_size=4000))
    def test_any_bytes(self, data: bytes) -> None:
        """
        Arbitrary bytes split without error into frames that re-parse.
        """
        for frame in split_in_chunks(data, [len(data) or 1])[0]:
            self.assertEqual(parse_header(frame.data), frame.header)
            self.assertEqual(len(frame.data), frame.header.length)

    @settings(max_examples=100, deadline=None)
    @given(
        st.lists(
            st.one_of(
                st.builds(
                    make_frame,
                    bitrate=st.sampled_from((32, 128, 320)),
                    padding=st.booleans(),
                    protected=st.booleans(),
                    seed=st.integers(0, 9),
                ),
                st.binary(max_size=50),
                st.builds(id3v2, st.binary(max_size=300), st.booleans()),
                st.just(b"\xff\xfb\x90\x00"),
            ),
            max_size=12,
        ),
        st.lists(st.integers(1, 600), min_size=1, max_size=8),
    )
    def test_any_mix(self, parts: list[bytes], sizes: list[int]) -> None:
        """
        Frames, tags and garbage fed in any chunks split as they do in one
        piece, into valid frames that all appear in the input.
        """
        data = b"".join(parts)
        expected = split(data)
        result, _ = split_in_chunks(data, sizes)
        self.assertEqual([frame.data for frame in result], expected)
        for frame in result:
            self.assertEqual(parse_header(frame.data), frame.header)
            self.assertEqual(len(frame.data), frame.header.length)
            self.assertIn(frame.data, data)
