"""
Tests for L{radiod.hls.folder}.
"""

from __future__ import annotations

import os

from twisted.logger import capturedLogs
from twisted.trial.unittest import SynchronousTestCase

from radiod.audio.track import Play, TrackInfo
from radiod.hls.folder import HlsFolder, write_atomically
from radiod.hls.rendition import segment_name
from radiod.testing import synchronous_runner
from tests.hls.test_rendition import Cutter, demo_frames

TRACK = TrackInfo("a.mp3", "Morning")


class FolderTests(SynchronousTestCase):
    """
    A rendition's segments and playlists written as files.
    """

    def setUp(self) -> None:
        self.root = self.mktemp()
        self.path = os.path.join(self.root, "stream")

    def test_layout(self) -> None:
        """
        Each segment is written as the file its URL names, with the media
        playlist (plain HLS: no parts) and the multivariant playlist; no
        temporary file is left; segments that have left the window go.
        """
        os.makedirs(self.path)
        with open(os.path.join(self.path, "old.mp3"), "wb") as stale:
            stale.write(b"x")
        cutter = Cutter(window=18.0)
        folder = HlsFolder(self.path, synchronous_runner, lambda: "#EXTM3U\n")
        folder.follow(cutter.rendition)
        frames = demo_frames()
        cutter.air(frames, Play(1, TRACK))
        rung = os.path.join(self.path, "stream")
        for segment in cutter.segments:
            with open(os.path.join(rung, segment_name(segment.sequence)), "rb") as file:
                self.assertEqual(file.read(), segment.data)
        with open(os.path.join(rung, "media.m3u8")) as file:
            playlist = file.read()
        self.assertIn(segment_name(cutter.segments[-1].sequence), playlist)
        self.assertNotIn("#EXT-X-PART", playlist)
        self.assertNotIn("CAN-BLOCK-RELOAD", playlist)
        with open(os.path.join(self.path, "index.m3u8")) as file:
            self.assertEqual(file.read(), "#EXTM3U\n")
        self.assertFalse(os.path.exists(os.path.join(self.path, "old.mp3")))
        for _ in range(3):
            cutter.air(frames, Play(1, TRACK))
        names = sorted(name for name in os.listdir(rung) if name != "media.m3u8")
        kept = [
            segment_name(n)
            for n in range(cutter.rendition.oldest or 0, cutter.segments[-1].sequence + 1)
        ]
        self.assertEqual(names, sorted(kept))
        self.assertEqual([n for n in os.listdir(rung) if n.endswith(".tmp")], [])

    def test_failure_logged_once(self) -> None:
        """
        A folder that cannot be written is logged once, with its path, and
        writing goes on once it can.
        """
        os.makedirs(self.root)
        with open(self.path, "w") as blocker:
            blocker.write("a file where the folder should be")
        cutter = Cutter()
        with capturedLogs() as events:
            folder = HlsFolder(self.path, synchronous_runner, lambda: "#EXTM3U\n")
            folder.follow(cutter.rendition)
            cutter.air(demo_frames()[:700], Play(1, TRACK))
        errors = [e for e in events if "Cannot write HLS files" in e.get("log_format", "")]
        self.assertEqual(len(errors), 1)
        self.assertEqual(errors[0]["path"], self.path)
        self.assertTrue(folder.failed)
        os.remove(self.path)
        cutter.air(demo_frames()[:300], Play(1, TRACK))
        self.assertFalse(folder.failed)

    def test_write_atomically(self) -> None:
        """
        A file is replaced whole, its folder made when needed.
        """
        path = os.path.join(self.mktemp(), "deep", "file.m3u8")
        write_atomically(path, b"one")
        write_atomically(path, b"two")
        with open(path, "rb") as file:
            self.assertEqual(file.read(), b"two")
        self.assertEqual(os.listdir(os.path.dirname(path)), ["file.m3u8"])
