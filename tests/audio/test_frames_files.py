"""
L{radiod.audio.frames} on the real MP3 files in tests/fixtures (made by
tools/make_media.py with ffmpeg's LAME encoder and mutagen).
"""

from __future__ import annotations

import gc
import os

import mutagen.mp3
from twisted.trial.unittest import SynchronousTestCase

from radiod.audio.block import FrameBlock, read_block
from radiod.audio.frames import FrameSplitter, UnsupportedAudio
from radiod.testing import read_frames
from tests.support.loopback import FIXTURES

# name: (MPEG version, layer, sample rate, VBR header frames, tags skipped)
PLAYABLE = {
    "tone-mpeg1-44100-128k-cbr.mp3": ("1", 3, 44100, 1, {}),
    "tone-mpeg1-48000-320k-cbr.mp3": ("1", 3, 48000, 1, {}),
    "tone-mpeg1-32000-32k-cbr.mp3": ("1", 3, 32000, 1, {}),
    "tone-mpeg2-22050-64k-cbr.mp3": ("2", 3, 22050, 1, {}),
    "tone-mpeg2-24000-48k-cbr.mp3": ("2", 3, 24000, 1, {}),
    "tone-mpeg2-16000-32k-cbr.mp3": ("2", 3, 16000, 1, {}),
    "tone-mpeg25-11025-16k-cbr.mp3": ("2.5", 3, 11025, 1, {}),
    "tone-mpeg25-12000-16k-cbr.mp3": ("2.5", 3, 12000, 1, {}),
    "tone-mpeg25-8000-8k-cbr.mp3": ("2.5", 3, 8000, 1, {}),
    "tone-mpeg1-44100-vbr.mp3": ("1", 3, 44100, 1, {}),
    "tone-mpeg1-44100-64k-vbri.mp3": ("1", 3, 44100, 1, {}),
    "tone-mpeg1-44100-64k-mono-noxing.mp3": ("1", 3, 44100, 0, {}),
    "tone-layer2-mpeg1-44100-96k.mp2": ("1", 2, 44100, 0, {}),
    "tags-id3v24.mp3": ("1", 3, 44100, 0, {"id3v2": 1}),
    "tags-id3v24-footer.mp3": ("1", 3, 44100, 0, {"id3v2": 1}),
    "tags-id3v1.mp3": ("1", 3, 44100, 0, {"id3v1": 1}),
    "tags-apev2.mp3": ("1", 3, 44100, 0, {"apev2": 1}),
    "tags-lyrics3v2.mp3": ("1", 3, 44100, 0, {"id3v1": 1, "lyrics3": 1}),
    "tags-all.mp3": ("1", 3, 44100, 0, {"id3v2": 1, "id3v1": 1, "lyrics3": 1, "apev2": 1}),
    "alpha-artist-first-song.mp3": ("1", 3, 44100, 1, {"id3v2": 1}),
}


def load(name: str) -> bytes:
    with open(os.path.join(FIXTURES, name), "rb") as f:
        return f.read()


class RealFileTests(SynchronousTestCase):
    """
    Every fixture splits into exactly its audio frames.
    """

    def test_playable_files(self) -> None:
        """
        Each playable fixture yields frames of its own version, layer and
        sample rate, playing as long as mutagen says the file lasts; every
        byte is accounted for as audio, a skipped tag or a dropped VBR
        header frame, with no garbage.
        """
        for name, (version, layer, rate, vbr, tags) in PLAYABLE.items():
            data = load(name)
            splitter = FrameSplitter()
            frames = read_frames(data, splitter)
            headers = {(f.header.version, f.header.layer, f.header.sample_rate) for f in frames}
            self.assertEqual(headers, {(version, layer, rate)}, name)
            self.assertEqual(splitter.vbr_headers_dropped, vbr, name)
            self.assertEqual(splitter.tags_skipped, tags, name)
            self.assertEqual(splitter.garbage_bytes, 0, name)
            audio = sum(len(f.data) for f in frames)
            leftover = len(data) - audio - splitter.tag_bytes
            self.assertTrue(0 <= leftover <= 1500 * vbr, (name, leftover))
            for frame in frames:
                self.assertNotIn(frame.data[4:40].lstrip(b"\0")[:4], (b"Xing", b"Info", b"VBRI"))
            if layer == 3 and not name.startswith("tags-"):
                length = mutagen.mp3.MP3(os.path.join(FIXTURES, name)).info.length  # type: ignore[attr-defined]
                played = sum(f.duration for f in frames)
                self.assertTrue(abs(played - length) < 0.03, (name, played, length))

    def test_garbage_between_frames(self) -> None:
        """
        Garbage between frames (with false sync words in it) is skipped and
        every real frame kept.
        """
        splitter = FrameSplitter()
        frames = read_frames(load("garbage-between-frames.mp3"), splitter)
        self.assertGreater(splitter.garbage_bytes, 0)
        self.assertEqual(
            len(load("garbage-between-frames.mp3")),
            sum(len(f.data) for f in frames) + splitter.garbage_bytes,
        )
        self.assertGreater(len(frames), 30)

    def test_truncated(self) -> None:
        """
        A file cut in the middle of a frame yields its whole frames only.
        """
        frames = read_frames(load("truncated-mid-frame.mp3"))
        self.assertTrue(frames)
        for frame in frames:
            self.assertEqual(len(frame.data), frame.header.length)

    def test_refused(self) -> None:
        """
        Free-format, non-MP3 and empty files are refused with a reason.
        """
        for name, reason in [
            ("freeformat-48000.mp3", "free-format MPEG audio is not supported"),
            ("not-mp3.mp3", "no MPEG audio frames found"),
            ("empty.mp3", "no MPEG audio frames found"),
        ]:
            with self.assertRaises(UnsupportedAudio) as raised:
                read_frames(load(name))
            self.assertEqual(str(raised.exception), reason, name)

    def test_fed_in_pieces(self) -> None:
        """
        Fed to a splitter in network-sized pieces, a tagged VBR file gives
        the same frames as read whole.
        """
        for name in ("tone-mpeg1-44100-vbr.mp3", "tags-id3v24.mp3", "alpha-artist-first-song.mp3"):
            data = load(name)
            splitter = FrameSplitter()
            pieces = []
            for start in range(0, len(data), 1400):
                pieces.extend(splitter.feed(data[start : start + 1400]))
            pieces.extend(splitter.finish())
            self.assertEqual([f.data for f in pieces], [f.data for f in read_frames(data)], name)


class FrameBlockTests(SynchronousTestCase):
    """
    L{read_block} gives the same frames as L{read_frames}, held compactly.
    """

    def test_same_frames(self) -> None:
        """
        For every playable fixture, the block's frames, headers, duration
        and size are those of the list, and the splitter's counters agree.
        """
        for name in PLAYABLE:
            with open(os.path.join(FIXTURES, name), "rb") as f:
                data = f.read()
            listed_splitter, block_splitter = FrameSplitter(), FrameSplitter()
            listed = read_frames(data, listed_splitter)
            block = read_block(data, block_splitter)
            self.assertEqual(list(block), listed, name)
            self.assertEqual(len(block), len(listed))
            self.assertEqual(list(block.headers()), [frame.header for frame in listed])
            self.assertAlmostEqual(block.duration, sum(f.duration for f in listed))
            self.assertEqual(block.size, sum(len(f.data) for f in listed))
            self.assertEqual(block_splitter.tags_skipped, listed_splitter.tags_skipped)
            self.assertEqual(block[-1], listed[-1])
            self.assertEqual(block[1:4], listed[1:4])
            self.assertRaises(IndexError, block.__getitem__, len(listed))

    def test_refused_alike(self) -> None:
        """
        Files with no usable audio are refused the same way.
        """
        for name in ("not-mp3.mp3", "empty.mp3", "freeformat-48000.mp3"):
            with open(os.path.join(FIXTURES, name), "rb") as f:
                data = f.read()
            with self.assertRaises(UnsupportedAudio) as listed:
                read_frames(data)
            with self.assertRaises(UnsupportedAudio) as block:
                read_block(data)
            self.assertEqual(str(block.exception), str(listed.exception))

    def test_few_tracked_objects(self) -> None:
        """
        However many frames, a block is a handful of objects for the
        garbage collector: one per distinct header, not two per frame.
        """
        with open(os.path.join(FIXTURES, "tone-mpeg1-44100-vbr.mp3"), "rb") as f:
            data = f.read()
        block = read_block(data)
        longer = read_block(data * 3)

        def tracked(block: FrameBlock) -> int:
            return sum(gc.is_tracked(o) for o in gc.get_referents(block))

        self.assertEqual(tracked(longer), tracked(block))
        self.assertLessEqual(tracked(block), 6)
        self.assertGreaterEqual(len(longer), 3 * len(block) - 3)
        distinct = len(set(block.headers()))
        self.assertGreater(len(block), distinct)
