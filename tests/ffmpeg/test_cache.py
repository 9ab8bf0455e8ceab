"""
Tests for L{radiod.ffmpeg.cache}: keys, hits, partial files, eviction and
loudness records.
"""

from __future__ import annotations

import os

from twisted.trial.unittest import SynchronousTestCase

from radiod.audio.format import AudioFormat
from radiod.audio.loudness import Loudness
from radiod.ffmpeg.cache import CacheEntry, ConversionCache, evict
from radiod.testing import synchronous_runner

STEREO = AudioFormat(44100, 2, 128)


class CacheTests(SynchronousTestCase):
    """
    The conversion cache: keys, hits, partial files and eviction.
    """

    def setUp(self) -> None:
        self.music = self.mktemp()
        os.makedirs(self.music)
        self.source = os.path.join(self.music, "a.flac")
        with open(self.source, "wb") as f:
            f.write(b"flac" * 100)
        self.folder = self.mktemp()
        self.cache = ConversionCache(self.folder, 10_000, synchronous_runner)

    def open(self, target: AudioFormat = STEREO, gain: float = 0.0) -> CacheEntry:
        return self.successResultOf(self.cache.open(self.source, target, gain))

    def fill(self, entry: CacheEntry, size: int = 100) -> None:
        with open(entry.part, "wb") as f:
            f.write(b"x" * size)
        self.successResultOf(self.cache.store(entry))

    def test_miss_then_hit(self) -> None:
        """
        A conversion stored is found by the next lookup for the same file,
        format and gain; the folder is created when first needed.
        """
        entry = self.open()
        self.assertFalse(entry.hit)
        self.assertTrue(os.path.isdir(self.folder))
        self.assertTrue(entry.part.startswith(entry.path))
        self.assertTrue(entry.part.endswith(".part"))
        self.fill(entry)
        self.cache.release(entry)
        again = self.open()
        self.assertTrue(again.hit)
        self.assertEqual(again.path, entry.path)
        self.assertTrue(os.path.exists(again.path))
        self.assertFalse(os.path.exists(entry.part))

    def test_key(self) -> None:
        """
        The key changes with the format, the gain, and the file's
        modification time and size.
        """
        first = self.open()
        self.assertNotEqual(self.open(AudioFormat(48000, 2, 128)).key, first.key)
        self.assertNotEqual(self.open(AudioFormat(44100, 1, 128)).key, first.key)
        self.assertNotEqual(self.open(AudioFormat(44100, 2, 192)).key, first.key)
        self.assertNotEqual(self.open(gain=-3.0).key, first.key)
        self.assertEqual(self.open().key, first.key)
        status = os.stat(self.source)
        os.utime(self.source, ns=(status.st_atime_ns, status.st_mtime_ns + 1_000_000_000))
        self.assertNotEqual(self.open().key, first.key)
        moved = self.open().key
        with open(self.source, "ab") as f:
            f.write(b"more")
        os.utime(self.source, ns=(status.st_atime_ns, status.st_mtime_ns + 1_000_000_000))
        self.assertNotEqual(self.open().key, moved)

    def test_partial_never_used(self) -> None:
        """
        A partial file left where a conversion was written is not a hit.
        """
        entry = self.open()
        with open(entry.part, "wb") as f:
            f.write(b"half")
        self.cache.release(entry)
        self.assertFalse(self.open().hit)

    def test_missing_source(self) -> None:
        """
        A source that is gone fails the lookup.
        """
        os.remove(self.source)
        self.failureResultOf(self.cache.open(self.source, STEREO, 0.0), FileNotFoundError)

    def test_lru_eviction(self) -> None:
        """
        Over the size limit, the least recently used conversions go first:
        a hit counts as a use.
        """
        self.cache.max_size = 300
        entries = []
        for bitrate in (96, 128, 160):
            entry = self.open(AudioFormat(44100, 2, bitrate))
            self.fill(entry)
            self.cache.release(entry)
            os.utime(entry.path, ns=(0, bitrate * 1_000_000_000))
            entries.append(entry)
        # The oldest is used again.
        self.assertTrue(self.open(AudioFormat(44100, 2, 96)).hit)
        self.cache.release(entries[0])
        entry = self.open(AudioFormat(44100, 2, 192))
        self.fill(entry)
        self.cache.release(entry)
        present = [os.path.exists(e.path) for e in entries]
        self.assertEqual(present, [True, False, True])
        self.assertTrue(os.path.exists(entry.path))

    def test_held_spared(self) -> None:
        """
        Entries in use (being written or about to be read) are never
        evicted, even over the limit; partial files of conversions not
        running are removed.
        """
        self.cache.max_size = 50
        held = self.open()
        self.fill(held)
        writing = self.open(AudioFormat(48000, 2, 128))
        with open(writing.part, "wb") as f:
            f.write(b"y" * 100)
        leftover = os.path.join(self.folder, "0123.mp3.99-1.part")
        with open(leftover, "wb") as f:
            f.write(b"z")
        self.successResultOf(self.cache.evict())
        self.assertTrue(os.path.exists(held.path))
        self.assertTrue(os.path.exists(writing.part))
        self.assertFalse(os.path.exists(leftover))
        self.cache.release(held)
        self.successResultOf(self.cache.evict())
        self.assertFalse(os.path.exists(held.path))
        self.assertTrue(os.path.exists(writing.part))

    def test_evict_missing_folder(self) -> None:
        """
        Evicting from a folder not created yet removes nothing.
        """
        self.assertEqual(evict(self.mktemp(), 0, frozenset()), [])

    def test_loudness(self) -> None:
        """
        A measurement is kept for the file as it is, and forgotten when
        the file changes; a damaged record counts as none.
        """
        key, known = self.successResultOf(self.cache.load_loudness(self.source))
        self.assertIsNone(known)
        self.successResultOf(self.cache.save_loudness(key, self.source, Loudness(-12.5, -1.5)))
        self.assertEqual(
            self.successResultOf(self.cache.load_loudness(self.source)),
            (key, Loudness(-12.5, -1.5)),
        )
        with open(os.path.join(self.folder, key + ".json"), "w") as f:
            f.write('{"integrated": "loud"}')
        self.assertIsNone(self.successResultOf(self.cache.load_loudness(self.source))[1])
        with open(self.source, "ab") as f:
            f.write(b"changed")
        self.assertNotEqual(self.successResultOf(self.cache.load_loudness(self.source))[0], key)
