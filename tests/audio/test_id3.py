"""
Tests for L{radiod.audio.id3}.
"""

from __future__ import annotations

import json
import os
import shutil
import struct
import subprocess

from twisted.trial.unittest import SynchronousTestCase

from radiod.audio.id3 import (
    TIMESTAMP_OWNER,
    TIMESTAMP_RATE,
    TIMESTAMP_WRAP,
    read_tag,
    segment_tag,
    timestamp_ticks,
)
from radiod.testing import silent_frame
from tests.support.tools import FFMPEG_HINT, require_tool


def _syncsafe(value: int) -> bytes:
    """
    Encode C{value} as four seven-bit bytes, written out the long way.
    """
    return bytes([(value >> 21) & 0x7F, (value >> 14) & 0x7F, (value >> 7) & 0x7F, value & 0x7F])


def _v23_frame(frame_id: bytes, body: bytes) -> bytes:
    """
    An ID3v2.3 frame: its size is a plain big-endian 32-bit integer.
    """
    return frame_id + struct.pack(">I", len(body)) + b"\x00\x00" + body


class TimestampTests(SynchronousTestCase):
    """
    L{timestamp_ticks}.
    """

    def test_ticks(self) -> None:
        """
        Seconds become 90 kHz ticks, rounded to nearest.
        """
        self.assertEqual(timestamp_ticks(0), 0)
        self.assertEqual(timestamp_ticks(1), TIMESTAMP_RATE)
        self.assertEqual(timestamp_ticks(0.5), 45_000)
        self.assertEqual(timestamp_ticks(1 / 90_000 * 0.6), 1)
        self.assertEqual(timestamp_ticks(1 / 90_000 * 0.4), 0)

    def test_wrap(self) -> None:
        """
        Ticks wrap at 2**33: the timestamp of a huge time is its ticks
        modulo 2**33, always within 33 bits.
        """
        self.assertEqual(TIMESTAMP_WRAP, 2**33)
        wrap_seconds = TIMESTAMP_WRAP // TIMESTAMP_RATE
        self.assertEqual(
            timestamp_ticks(wrap_seconds), (wrap_seconds * TIMESTAMP_RATE) % TIMESTAMP_WRAP
        )
        huge = 10**9 + 0.25
        ticks = timestamp_ticks(huge)
        self.assertEqual(ticks, round(huge * TIMESTAMP_RATE) % 2**33)
        self.assertLess(ticks, 2**33)
        self.assertEqual(timestamp_ticks(TIMESTAMP_WRAP / TIMESTAMP_RATE), 0)
        self.assertEqual(timestamp_ticks(-1 / TIMESTAMP_RATE), TIMESTAMP_WRAP - 1)
        self.assertEqual(read_tag(segment_tag(ticks))[0], ticks)


class SegmentTagTests(SynchronousTestCase):
    """
    L{segment_tag}, read back with L{read_tag}.
    """

    def test_exact_bytes(self) -> None:
        """
        A tag with only a timestamp is the ID3v2.4 header and one C{PRIV}
        frame: owner, NUL, and the ticks as eight big-endian bytes.
        """
        owner = b"com.apple.streaming.transportStreamTimestamp"
        self.assertEqual(len(owner), 44)
        # PRIV body: 44 owner bytes + NUL + 8 data bytes = 53 = 0x35.
        # Tag body: 10-byte frame header + 53 = 63 = 0x3f.
        expected = (
            b"ID3\x04\x00\x00\x00\x00\x00\x3f"
            + b"PRIV\x00\x00\x00\x35\x00\x00"
            + owner
            + b"\x00"
            + b"\x00\x00\x00\x01\x23\x45\x67\x89"
        )
        self.assertEqual(segment_tag(0x1_2345_6789), expected)
        self.assertEqual(read_tag(expected), (0x1_2345_6789, {}, 73))

    def test_round_trip(self) -> None:
        """
        The timestamp and texts come back as written, and the reported
        length is that of the whole tag, whatever follows it.
        """
        tag = segment_tag(
            TIMESTAMP_WRAP - 1, title="Blue in Green", artist="Miles Davis", album="Kind of Blue"
        )
        self.assertEqual(
            read_tag(tag + b"\xff\xfb\x90\x00audio"),
            (
                TIMESTAMP_WRAP - 1,
                {"TIT2": "Blue in Green", "TPE1": "Miles Davis", "TALB": "Kind of Blue"},
                len(tag),
            ),
        )

    def test_frame_order(self) -> None:
        """
        The C{PRIV} frame comes first, then C{TIT2}, C{TPE1} and C{TALB},
        each as UTF-8.
        """
        tag = segment_tag(5, title="t", artist="a", album="b")
        self.assertEqual(tag[10:14], b"PRIV")
        rest = tag[10 + 10 + 53 :]
        self.assertEqual(
            rest,
            b"TIT2\x00\x00\x00\x02\x00\x00\x03t"
            + b"TPE1\x00\x00\x00\x02\x00\x00\x03a"
            + b"TALB\x00\x00\x00\x02\x00\x00\x03b",
        )

    def test_large_tag(self) -> None:
        """
        A tag over 127 bytes (a 300-character title outside ASCII) has
        syncsafe tag and frame sizes that decode back to the text.
        """
        title = "Ünïcødé ♫ 日本" * 25
        self.assertEqual(len(title), 300)
        tag = segment_tag(42, title=title)
        encoded = title.encode("utf-8")
        frame_size = 1 + len(encoded)
        self.assertGreater(frame_size, 127)
        self.assertEqual(tag[6:10], _syncsafe(len(tag) - 10))
        self.assertTrue(all(b < 0x80 for b in tag[6:10]))
        frame = tag[10 + 63 :]
        self.assertEqual(frame[:4], b"TIT2")
        self.assertEqual(frame[4:8], _syncsafe(frame_size))
        self.assertNotEqual(frame[4:8], struct.pack(">I", frame_size))
        self.assertEqual(read_tag(tag), (42, {"TIT2": title}, len(tag)))

    def test_empty_fields_omitted(self) -> None:
        """
        Empty texts get no frame.
        """
        tag = segment_tag(7, title="", artist="Someone", album="")
        self.assertNotIn(b"TIT2", tag)
        self.assertNotIn(b"TALB", tag)
        self.assertEqual(read_tag(tag)[1], {"TPE1": "Someone"})
        self.assertEqual(segment_tag(7, "", "", ""), segment_tag(7))

    def test_nul_removed(self) -> None:
        """
        NUL characters are removed from the texts; a text of nothing but
        NULs gets no frame; other control characters are kept.
        """
        tag = segment_tag(1, title="a\x00b\x00", artist="\x00\x00", album="x\ty\x01")
        self.assertEqual(read_tag(tag)[1], {"TIT2": "ab", "TALB": "x\ty\x01"})
        self.assertNotIn(b"TPE1", tag)

    def test_ticks_out_of_range(self) -> None:
        """
        A timestamp outside 33 bits is refused.
        """
        self.assertRaises(ValueError, segment_tag, TIMESTAMP_WRAP)
        self.assertRaises(ValueError, segment_tag, -1)


class ReadTagTests(SynchronousTestCase):
    """
    L{read_tag} on tags it did not write, and on malformed ones.
    """

    def test_v23(self) -> None:
        """
        An ID3v2.3 tag, whose frame sizes are plain 32-bit integers, is
        read, in each text encoding, with trailing NULs dropped; padding
        after the frames is skipped.
        """
        frames = (
            _v23_frame(b"PRIV", TIMESTAMP_OWNER.encode("latin-1") + b"\x00" + (90_000).to_bytes(8))
            + _v23_frame(b"TIT2", b"\x00Caf\xe9\x00")
            + _v23_frame(b"TPE1", b"\x01" + "Björk".encode("utf-16") + b"\x00\x00")
            + _v23_frame(b"TALB", b"\x02" + "Début".encode("utf-16-be"))
            + _v23_frame(b"TCON", b"\x03Ambient")
            + _v23_frame(b"TXXX", b"\x03desc\x00value")
            + _v23_frame(b"PRIV", b"other.owner\x00data")
        )
        # A frame over 127 bytes, whose plain size differs from a syncsafe one.
        frames += _v23_frame(b"COMM", b"\x00eng\x00" + b"c" * 200)
        padding = b"\x00" * 20
        body = frames + padding
        tag = b"ID3\x03\x00\x00" + _syncsafe(len(body)) + body
        self.assertEqual(
            read_tag(tag + b"more"),
            (
                90_000,
                {"TIT2": "Café", "TPE1": "Björk", "TALB": "Début", "TCON": "Ambient"},
                len(tag),
            ),
        )

    def test_no_timestamp(self) -> None:
        """
        A tag without the timestamp frame reads as no timestamp.
        """
        body = b"TIT2" + _syncsafe(3) + b"\x00\x00\x03hi"
        tag = b"ID3\x04\x00\x00" + _syncsafe(len(body)) + body
        self.assertEqual(read_tag(tag), (None, {"TIT2": "hi"}, len(tag)))

    def test_wrong_magic(self) -> None:
        """
        Data that does not start with C{ID3} is refused.
        """
        tag = segment_tag(1)
        self.assertRaises(ValueError, read_tag, b"ID2" + tag[3:])
        self.assertRaises(ValueError, read_tag, b"\xff\xfb" + tag)
        self.assertRaises(ValueError, read_tag, b"")
        self.assertRaises(ValueError, read_tag, b"ID3\x04")

    def test_size_beyond_data(self) -> None:
        """
        A tag that claims more bytes than are given is refused.
        """
        tag = segment_tag(1, title="title")
        self.assertRaises(ValueError, read_tag, tag[:-1])
        self.assertRaises(ValueError, read_tag, tag[:10])

    def test_bad_sizes(self) -> None:
        """
        A syncsafe size with a byte's top bit set is refused, in the tag
        header or in an ID3v2.4 frame header.
        """
        tag = bytearray(segment_tag(1))
        tag[9] |= 0x80
        self.assertRaises(ValueError, read_tag, bytes(tag))
        tag = bytearray(segment_tag(1))
        tag[17] |= 0x80
        self.assertRaises(ValueError, read_tag, bytes(tag))

    def test_truncated_frame(self) -> None:
        """
        A frame that runs past the end of the tag, or a frame header cut
        short by it, is refused.
        """
        tag = segment_tag(1, title="title")
        # Shrink the tag size so that the TIT2 frame ends outside it.
        short = tag[:6] + _syncsafe(len(tag) - 10 - 1) + tag[10:]
        self.assertRaises(ValueError, read_tag, short)
        # Only part of a frame header after the PRIV frame.
        cut = tag[: 10 + 63 + 4]
        self.assertRaises(ValueError, read_tag, cut[:6] + _syncsafe(len(cut) - 10) + cut[10:])

    def test_bad_frames(self) -> None:
        """
        A frame with a bad id, an unknown text encoding, text that does not
        decode, or a timestamp not 33 bits in 8 bytes is refused.
        """

        def tag(frame_id: bytes, body: bytes) -> bytes:
            frame = frame_id + _syncsafe(len(body)) + b"\x00\x00" + body
            return b"ID3\x04\x00\x00" + _syncsafe(len(frame)) + frame

        owner = TIMESTAMP_OWNER.encode("latin-1") + b"\x00"
        self.assertRaises(ValueError, read_tag, tag(b"ti!2", b"\x03x"))
        self.assertRaises(ValueError, read_tag, tag(b"TIT2", b"\x04x"))
        self.assertRaises(ValueError, read_tag, tag(b"TIT2", b""))
        self.assertRaises(ValueError, read_tag, tag(b"TIT2", b"\x03\xff\xfe\xfd"))
        self.assertRaises(ValueError, read_tag, tag(b"PRIV", owner + b"\x00" * 7))
        self.assertRaises(ValueError, read_tag, tag(b"PRIV", owner + b"\x02" + b"\x00" * 7))
        self.assertEqual(read_tag(tag(b"PRIV", owner + b"\x00" * 7 + b"\x09"))[0], 9)

    def test_unsupported_flags(self) -> None:
        """
        Unsynchronised tags, tags with an extended header, undefined flags
        and versions other than 2.3 and 2.4 are refused.
        """
        tag = segment_tag(1)
        for flags in (0x80, 0x40, 0x01):
            self.assertRaises(ValueError, read_tag, tag[:5] + bytes([flags]) + tag[6:])
        for version in (2, 5):
            self.assertRaises(ValueError, read_tag, tag[:3] + bytes([version]) + tag[4:])

    def test_footer(self) -> None:
        """
        An ID3v2.4 footer counts in the tag's length.
        """
        tag = segment_tag(3)
        footer = b"3DI" + tag[3:10]
        with_footer = tag[:5] + b"\x10" + tag[6:] + footer
        self.assertEqual(read_tag(with_footer), (3, {}, len(tag) + 10))
        self.assertRaises(ValueError, read_tag, with_footer[:-1])


class FFprobeTests(SynchronousTestCase):
    """
    ffmpeg reads the tag as L{read_tag} does.
    """

    def test_ffprobe(self) -> None:
        """
        ffprobe reads the title and artist of an MP3 file that starts with
        a segment tag.
        """
        ffprobe = require_tool("ffprobe", shutil.which("ffprobe"), FFMPEG_HINT)
        folder = self.mktemp()
        os.makedirs(folder)
        path = os.path.join(folder, "segment.mp3")
        with open(path, "wb") as f:
            f.write(segment_tag(timestamp_ticks(12.5), title="Título ♫", artist="Ärtist"))
            f.write(silent_frame().data * 10)
        result = subprocess.run(
            [ffprobe, "-v", "error", "-show_entries", "format_tags", "-of", "json", path],
            capture_output=True,
            check=True,
            timeout=30,
        )
        tags = json.loads(result.stdout)["format"]["tags"]
        self.assertEqual(tags.get("title"), "Título ♫")
        self.assertEqual(tags.get("artist"), "Ärtist")
