# -*- test-case-name: tests.audio.test_adts -*-
"""
Tests for L{radiod.audio.adts}.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess

from twisted.trial.unittest import SynchronousTestCase

from radiod.audio.adts import (
    AdtsFrame,
    AdtsHeader,
    AdtsSplitter,
    codecs_value,
    parse_adts_header,
)
from radiod.audio.id3 import segment_tag
from tests.support.tools import FFMPEG_HINT, require_ffmpeg, require_tool

# A 371-byte AAC-LC frame at 44.1 kHz, stereo, without CRC, worked out bit
# by bit:
#   FF        1111 1111  syncword, first eight bits
#   F1        1111       syncword, last four bits
#                  0     ID: MPEG-4
#                   00   layer: 0
#                     1  protection_absent: no CRC
#   50        01         profile: 1, so object type 2 (AAC-LC)
#               0100     sampling_frequency_index: 4 (44100 Hz)
#                   0    private_bit
#                    0   channel_configuration, high bit (2 = 010)
#   80        10         channel_configuration, low two bits
#               0000     original/copy, home, copyright id bit and start
#                   00   aac_frame_length bits 12-11 (371 = 0 0001 0111 0011)
#   2E        0010 1110  aac_frame_length bits 10-3
#   7F        011        aac_frame_length bits 2-0
#                1 1111  adts_buffer_fullness, high five bits (0x7FF: VBR)
#   FC        1111 11    adts_buffer_fullness, low six bits
#                    00  number_of_raw_data_blocks_in_frame: 0, so one block
LC_STEREO_44100 = bytes((0xFF, 0xF1, 0x50, 0x80, 0x2E, 0x7F, 0xFC))
LC_LENGTH = 371

# A single frame of AAC is 1024 samples per channel long.
SAMPLES = 1024


def header_bytes(
    length: int = LC_LENGTH,
    rate_index: int = 4,
    configuration: int = 2,
    profile_field: int = 1,
    crc: bool = False,
    mpeg2: bool = False,
    layer: int = 0,
    raw_blocks: int = 0,
) -> bytes:
    """
    An ADTS header built from its fields, CRC bytes (zero) included when
    C{crc} is set.
    """
    b1 = 0xF0 | (int(mpeg2) << 3) | (layer << 1) | int(not crc)
    b2 = (profile_field << 6) | (rate_index << 2) | (configuration >> 2)
    b3 = ((configuration & 0x03) << 6) | (length >> 11)
    b4 = (length >> 3) & 0xFF
    b5 = ((length & 0x07) << 5) | 0x1F
    b6 = 0xFC | raw_blocks
    header = bytes((0xFF, b1, b2, b3, b4, b5, b6))
    return header + bytes(2 * (raw_blocks + 1)) if crc else header


def make_frame(
    length: int = LC_LENGTH, rate_index: int = 4, configuration: int = 2, crc: bool = False
) -> bytes:
    """
    A whole frame of C{length} bytes: a header from L{header_bytes} and a
    payload of C{!} bytes, which cannot be mistaken for a header or tag.
    """
    header = header_bytes(length, rate_index=rate_index, configuration=configuration, crc=crc)
    return header + b"!" * (length - len(header))


def split(data: bytes, chunk: int | None = None) -> tuple[list[AdtsFrame], AdtsSplitter]:
    """
    Feed C{data} to a new splitter, whole or in chunks of C{chunk} bytes,
    then finish it.

    @return: every frame it returned, and the splitter.
    """
    splitter = AdtsSplitter()
    frames: list[AdtsFrame] = []
    if chunk is None:
        frames += splitter.feed(data)
    else:
        for start in range(0, len(data), chunk):
            frames += splitter.feed(data[start : start + chunk])
    frames += splitter.finish()
    return frames, splitter


class ParseTests(SynchronousTestCase):
    """
    L{parse_adts_header} decodes a header's fields and refuses what is not
    a usable ADTS header.
    """

    def test_hand_built(self) -> None:
        """
        The hand-built 44.1 kHz stereo AAC-LC header of a 371-byte frame
        decodes to its fields; the frame plays 1024 samples.
        """
        self.assertEqual(header_bytes(), LC_STEREO_44100)
        header = parse_adts_header(LC_STEREO_44100)
        self.assertEqual(
            header,
            AdtsHeader(
                profile=2,
                sample_rate=44100,
                channels=2,
                length=LC_LENGTH,
                header_length=7,
                blocks=1,
            ),
        )
        assert header is not None
        self.assertEqual(header.samples, SAMPLES)
        self.assertAlmostEqual(header.duration, SAMPLES / 44100)

    def test_offset(self) -> None:
        """
        The header is read at C{offset}, from bytes, a bytearray or a
        memoryview.
        """
        data = b"\x00\x01\x02" + LC_STEREO_44100
        expected = parse_adts_header(LC_STEREO_44100)
        self.assertIsNotNone(expected)
        for view in (data, bytearray(data), memoryview(data)):
            self.assertEqual(parse_adts_header(view, 3), expected)
        self.assertIsNone(parse_adts_header(data))

    def test_crc(self) -> None:
        """
        A header with C{protection_absent} clear is followed by a two-byte
        CRC: nine bytes in all.
        """
        data = header_bytes(crc=True)
        self.assertEqual(data[1], 0xF0)
        header = parse_adts_header(data)
        assert header is not None
        self.assertEqual(header.header_length, 9)
        self.assertEqual(header.length, LC_LENGTH)

    def test_blocks(self) -> None:
        """
        A frame of several raw data blocks carries 1024 samples each; with
        a CRC, the header lists the position of each block past the first.
        """
        header = parse_adts_header(header_bytes(raw_blocks=3))
        assert header is not None
        self.assertEqual((header.blocks, header.samples, header.header_length), (4, 4096, 7))
        header = parse_adts_header(header_bytes(raw_blocks=3, crc=True))
        assert header is not None
        self.assertEqual(header.header_length, 7 + 3 * 2 + 2)

    def test_fields(self) -> None:
        """
        Every sampling frequency index from 0 to 12, every channel
        configuration from 1 to 7 (7.1 plays 8 channels), every profile and
        either MPEG version decode.
        """
        rates = [96000, 88200, 64000, 48000, 44100, 32000, 24000, 22050]
        rates += [16000, 12000, 11025, 8000, 7350]
        for index, rate in enumerate(rates):
            header = parse_adts_header(header_bytes(rate_index=index))
            assert header is not None
            self.assertEqual(header.sample_rate, rate)
        for configuration, channels in enumerate([1, 2, 3, 4, 5, 6, 8], 1):
            header = parse_adts_header(header_bytes(configuration=configuration))
            assert header is not None
            self.assertEqual(header.channels, channels)
        for field in range(4):
            header = parse_adts_header(header_bytes(profile_field=field))
            assert header is not None
            self.assertEqual(header.profile, field + 1)
        self.assertEqual(
            parse_adts_header(header_bytes(mpeg2=True)), parse_adts_header(LC_STEREO_44100)
        )

    def test_largest_length(self) -> None:
        """
        All thirteen bits of the frame length are read.
        """
        header = parse_adts_header(header_bytes(length=0x1FFF))
        assert header is not None
        self.assertEqual(header.length, 8191)

    def test_rejected(self) -> None:
        """
        A bad sync word, a layer other than 0, a sampling frequency index
        of 13 to 15, channel configuration 0, a frame shorter than its
        header, or fewer than seven bytes are not a header.
        """
        good = bytearray(LC_STEREO_44100)
        bad_sync = [bytes([0xFE]) + good[1:], bytes([0xFF, 0xE1]) + good[2:]]
        layers = [header_bytes(layer=layer) for layer in (1, 2, 3)]
        rates = [header_bytes(rate_index=index) for index in (13, 14, 15)]
        short = [header_bytes(length=6), header_bytes(length=8, crc=True)]
        for data in [*bad_sync, *layers, *rates, header_bytes(configuration=0), *short]:
            self.assertIsNone(parse_adts_header(data), data.hex())
        self.assertIsNone(parse_adts_header(LC_STEREO_44100[:6]))
        self.assertIsNone(parse_adts_header(LC_STEREO_44100, 1))
        self.assertIsNotNone(parse_adts_header(header_bytes(length=7)))
        self.assertIsNotNone(parse_adts_header(header_bytes(length=9, crc=True)))


class CodecsTests(SynchronousTestCase):
    """
    L{codecs_value} names the audio object type for an HLS C{CODECS}
    attribute.
    """

    def test_codecs(self) -> None:
        """
        AAC-LC is C{mp4a.40.2}, AAC Main C{mp4a.40.1}, HE-AAC C{mp4a.40.5}.
        """
        lc = parse_adts_header(LC_STEREO_44100)
        main = parse_adts_header(header_bytes(profile_field=0))
        assert lc is not None and main is not None
        self.assertEqual(codecs_value(lc), "mp4a.40.2")
        self.assertEqual(codecs_value(main), "mp4a.40.1")
        he = AdtsHeader(
            profile=5, sample_rate=48000, channels=2, length=9, header_length=7, blocks=1
        )
        self.assertEqual(codecs_value(he), "mp4a.40.5")


class SplitterTests(SynchronousTestCase):
    """
    L{AdtsSplitter} cuts synthetic ADTS streams into frames.
    """

    def test_confirmed_by_next(self) -> None:
        """
        A frame is returned once the next header has arrived; the last one
        at L{AdtsSplitter.finish}.
        """
        first, second = make_frame(100), make_frame(120)
        splitter = AdtsSplitter()
        self.assertEqual(splitter.feed(first), [])
        self.assertEqual(splitter.pending, 100)
        self.assertEqual(splitter.feed(second[:6]), [])
        frames = splitter.feed(second[6:])
        self.assertEqual([frame.data for frame in frames], [first])
        self.assertEqual([frame.data for frame in splitter.finish()], [second])
        self.assertEqual((splitter.frames, splitter.skipped, splitter.pending), (2, 0, 0))

    def test_finish_twice(self) -> None:
        """
        Nothing may be fed after L{AdtsSplitter.finish}, which is called
        once.
        """
        splitter = AdtsSplitter()
        splitter.finish()
        self.assertRaises(ValueError, splitter.feed, b"")
        self.assertRaises(ValueError, splitter.finish)

    def test_chunks(self) -> None:
        """
        Frames of different lengths, with and without CRC, split the same
        whatever the chunk size.
        """
        frames = [make_frame(length, crc=length % 2 == 0) for length in range(30, 400, 17)]
        data = b"".join(frames)
        for chunk in (None, 1, 2, 7, 100):
            found, splitter = split(data, chunk)
            self.assertEqual([frame.data for frame in found], frames, chunk)
            self.assertEqual(splitter.skipped, 0)

    def test_garbage(self) -> None:
        """
        Garbage before the first frame is skipped, and so is a frame
        directly followed by garbage, which nothing confirms; the last frame
        counts when the stream ends right after it or within a header that
        it cuts short.
        """
        frames = [make_frame(50 + i) for i in range(4)]
        head, tail = b"junk" + frames[0] + frames[1], frames[2] + frames[3] + b"\xff\xf1\x50"
        data = head + b"\xff\xf1junk" + tail
        for chunk in (None, 1, 5):
            found, splitter = split(data, chunk)
            self.assertEqual([frame.data for frame in found], [frames[0], frames[2], frames[3]])
            self.assertEqual(splitter.skipped, 4 + len(frames[1]) + 6 + 3)

    def test_false_sync(self) -> None:
        """
        A header in the garbage that no matching header follows is
        skipped, and so is one followed by a header of another sample rate
        or channel count.
        """
        frames = [make_frame(60) for _ in range(3)]
        fake = header_bytes(length=20) + b"!" * 20
        other_rate = make_frame(40, rate_index=3)
        other_channels = make_frame(40, configuration=1)
        data = fake + frames[0] + frames[1] + other_rate + other_channels + frames[2]
        for chunk in (None, 1, 3):
            found, splitter = split(data, chunk)
            self.assertEqual([frame.data for frame in found], [frames[0], frames[2]])
            skipped = len(fake) + len(frames[1]) + len(other_rate) + len(other_channels)
            self.assertEqual(splitter.skipped, skipped)

    def test_id3(self) -> None:
        """
        ID3v2 tags before, between and after frames are skipped whole,
        even when they hold what looks like a header, and confirm the frame
        before them.
        """
        frames = [make_frame(80) for _ in range(3)]
        tag = segment_tag(12345, title="ÿñ")
        trap = b"ID3\x04\x00\x00\x00\x00\x00\x09" + LC_STEREO_44100 + b"!!"
        data = tag + frames[0] + trap + frames[1] + tag + frames[2] + tag
        for chunk in (None, 1, 4, 11):
            found, splitter = split(data, chunk)
            self.assertEqual([frame.data for frame in found], frames, chunk)
            self.assertEqual(splitter.skipped, 3 * len(tag) + len(trap))
            self.assertEqual(splitter.tags_skipped, 4)

    def test_incomplete_end(self) -> None:
        """
        A last frame cut short is dropped at L{AdtsSplitter.finish}; the
        frame before it, whose header is whole or not, is kept.
        """
        first, second = make_frame(40), make_frame(40)
        for cut in (3, 6, 7, 39):
            found, splitter = split(first + second[:cut])
            self.assertEqual([frame.data for frame in found], [first], cut)
            self.assertEqual(splitter.skipped, cut)


class FFmpegTests(SynchronousTestCase):
    """
    L{AdtsSplitter} splits what ffmpeg's AAC encoder writes, and the frames
    it returns make a stream ffmpeg reads.
    """

    def setUp(self) -> None:
        """
        Three seconds of a 440 Hz sine, AAC-LC at 44.1 kHz, stereo, in ADTS.
        """
        ffmpeg = require_ffmpeg()
        self.folder = self.mktemp()
        os.makedirs(self.folder)
        path = os.path.join(self.folder, "sine.aac")
        subprocess.run(
            [
                *(ffmpeg, "-v", "error", "-nostdin", "-f", "lavfi"),
                *("-i", "sine=frequency=440:duration=3", "-c:a", "aac", "-b:a", "96k"),
                *("-ar", "44100", "-ac", "2", "-f", "adts", path),
            ],
            capture_output=True,
            check=True,
            timeout=60,
        )
        with open(path, "rb") as file:
            self.data = file.read()

    def test_whole(self) -> None:
        """
        Fed whole, the stream splits into AAC-LC frames of 1024 samples at
        44.1 kHz, stereo, that together are the stream; ffmpeg's encoder
        adds a frame of priming samples ahead of the three seconds and pads
        the last frame, so the rest plays three seconds and less than one
        frame more.
        """
        frames, splitter = split(self.data)
        self.assertEqual(b"".join(frame.data for frame in frames), self.data)
        self.assertEqual((splitter.skipped, splitter.frames), (0, len(frames)))
        headers = {frame.header for frame in frames}
        self.assertEqual({header.profile for header in headers}, {2})
        self.assertEqual({frame.header.samples for frame in frames}, {SAMPLES})
        self.assertEqual({(h.sample_rate, h.channels) for h in headers}, {(44100, 2)})
        for frame in frames:
            self.assertEqual(len(frame.data), frame.header.length)
        audio = sum(frame.duration for frame in frames) - SAMPLES / 44100
        self.assertGreaterEqual(audio, 3.0)
        self.assertLess(audio, 3.0 + SAMPLES / 44100)
        self.assertEqual(codecs_value(frames[0].header), "mp4a.40.2")

    def test_chunks(self) -> None:
        """
        Fed in chunks of 1, 7, 100 or 4096 bytes, the stream splits into
        the same frames as fed whole.
        """
        whole, _ = split(self.data)
        for chunk in (1, 7, 100, 4096):
            frames, splitter = split(self.data, chunk)
            self.assertEqual(frames, whole, chunk)
            self.assertEqual(splitter.skipped, 0)

    def test_garbage_and_tag(self) -> None:
        """
        Garbage and an ID3v2 tag between frames are skipped and counted,
        all the frames kept, and ffprobe reads what they make without a
        word on its error output.
        """
        ffprobe = require_tool("ffprobe", shutil.which("ffprobe"), FFMPEG_HINT)
        whole, _ = split(self.data)
        tag = segment_tag(90_000, title="Sine", artist="ffmpeg")
        garbage = b"\x00\xff\xfe garbage \xff\xf1"
        cut = len(b"".join(frame.data for frame in whole[:10]))
        data = tag + self.data[:cut] + tag + garbage + self.data[cut:] + tag
        for chunk in (None, 1, 7, 100, 4096):
            frames, splitter = split(data, chunk)
            self.assertEqual(frames, whole, chunk)
            self.assertEqual(splitter.skipped, 3 * len(tag) + len(garbage))
            self.assertEqual(splitter.tags_skipped, 3)
        path = os.path.join(self.folder, "split.aac")
        with open(path, "wb") as file:
            file.write(b"".join(frame.data for frame in frames))
        result = subprocess.run(
            [
                *(ffprobe, "-v", "error", "-of", "json", path),
                *("-show_entries", "stream=codec_name,sample_rate,channels"),
            ],
            capture_output=True,
            check=True,
            timeout=30,
        )
        self.assertEqual(result.stderr, b"")
        [stream] = json.loads(result.stdout)["streams"]
        self.assertEqual(
            (stream["codec_name"], stream["sample_rate"], stream["channels"]), ("aac", "44100", 2)
        )
