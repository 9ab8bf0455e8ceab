"""
Tests for L{radiod.hls.store} and the time-shift window of a rendition.
"""

from __future__ import annotations

import os

from twisted.trial.unittest import SynchronousTestCase

from radiod.audio.track import Play, TrackInfo
from radiod.hls.playlist import media_playlist
from radiod.hls.rendition import Rendition, segment_name
from radiod.hls.store import SegmentStore
from radiod.testing import synchronous_runner
from tests.hls.test_rendition import BEGAN, FRAME, Cutter, demo_frames

TRACK = TrackInfo("a.mp3", "Morning")
SEGMENT = 228 * FRAME


def long_window(cutter: Cutter, window: float, memory: float) -> Rendition:
    """
    Replace C{cutter}'s rendition with one of a long C{window} that keeps
    C{memory} seconds in memory.
    """
    rendition = Rendition("stream", cutter.timing, cutter.clock, window, memory=memory)
    rendition.on_segment.append(cutter.segments.append)
    cutter.rendition = rendition
    return rendition


class TimeShiftTests(SynchronousTestCase):
    """
    A window longer than memory: segments listed for the whole window,
    their bytes in memory only for the newest, the rest read from disk.
    """

    def setUp(self) -> None:
        self.cutter = Cutter()
        self.rendition = long_window(self.cutter, window=20 * SEGMENT, memory=6 * SEGMENT)
        self.store = SegmentStore(self.mktemp(), synchronous_runner)
        self.store.follow(self.rendition)

    def air(self, rounds: int) -> None:
        for _ in range(rounds):
            self.cutter.air(demo_frames(), Play(1, TRACK))

    def test_memory_stays_flat(self) -> None:
        """
        However long it plays, memory holds a few segments; the playlist
        lists the window; older segments are on disk, byte for byte, and
        those that left the window are deleted.
        """
        self.air(12)
        rendition = self.rendition
        segments = self.cutter.segments
        self.assertGreater(len(segments), 30)
        in_memory = [s for s in segments if rendition.segment(s.sequence) is not None]
        self.assertEqual(len(in_memory), 6)
        self.assertEqual(len(rendition.entries()), 20)
        playlist = media_playlist(rendition.playlist())
        oldest_listed = rendition.entries()[0].sequence
        self.assertIn(segment_name(oldest_listed), playlist)
        read: list[bytes | None] = []
        self.store.read(rendition, oldest_listed).addCallback(read.append)
        self.assertEqual(read, [next(s.data for s in segments if s.sequence == oldest_listed)])
        files = sorted(os.listdir(os.path.join(self.store.path, "stream")))
        self.assertEqual(len(files), 22)
        self.assertTrue(rendition.kept(oldest_listed - 2))
        self.assertFalse(rendition.kept(oldest_listed - 3))
        gone: list[bytes | None] = []
        self.store.read(rendition, segments[0].sequence).addCallback(gone.append)
        self.assertEqual(gone, [None])

    def test_offset_of(self) -> None:
        """
        A wall-clock time in the window is found in the playlist: its
        segment's place plus the time into it; a time outside is not.
        """
        self.air(6)
        entries = self.rendition.entries()
        third = entries[2]
        self.assertAlmostEqual(
            self.rendition.offset_of(third.started + 1.5) or 0.0,
            entries[0].duration + entries[1].duration + 1.5,
        )
        self.assertIsNone(self.rendition.offset_of(entries[0].started - 1))
        self.assertIsNone(self.rendition.offset_of(BEGAN + 10**6))
        text = media_playlist(self.rendition.playlist(start=12.5))
        self.assertIn("#EXT-X-START:TIME-OFFSET=12.5,PRECISE=YES", text)

    def test_discontinuities_counted_as_they_leave(self) -> None:
        """
        A discontinuity that leaves the window adds to the discontinuity
        sequence.
        """
        self.air(2)
        self.cutter.air(demo_frames()[:400], Play(1, TRACK), skip=20.0)
        self.assertEqual(self.rendition.playlist().discontinuity_sequence, 0)
        self.air(10)
        self.assertEqual(self.rendition.playlist().discontinuity_sequence, 1)
