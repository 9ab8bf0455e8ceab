"""
Tests for L{radiod.hls.shift}.
"""

from __future__ import annotations

from twisted.trial.unittest import SynchronousTestCase

from radiod.audio.track import Play, TrackInfo
from radiod.hls.shift import TimeShift
from radiod.hls.store import SegmentStore
from radiod.testing import synchronous_runner
from tests.hls.test_rendition import Cutter, demo_frames
from tests.hls.test_store import SEGMENT, long_window

FIRST = TrackInfo("a.mp3", "Morning", "The Band")
SECOND = TrackInfo("b.mp3", "Evening", "Other Band")


class TimeShiftTests(SynchronousTestCase):
    """
    A listener in the past hears the rendition's frames from the moment
    asked for on, in order, with the titles of their tags.
    """

    def setUp(self) -> None:
        self.cutter = Cutter()
        self.rendition = long_window(self.cutter, window=30 * SEGMENT, memory=4 * SEGMENT)
        self.store = SegmentStore(self.mktemp(), synchronous_runner)
        self.store.follow(self.rendition)
        frames = demo_frames()
        self.frames = frames * 4
        self.cutter.air(self.frames[:1500], Play(1, FIRST))
        self.cutter.air(self.frames[1500:], Play(2, SECOND))

    def test_plays_from_the_moment(self) -> None:
        """
        The frames start with the frame playing at the moment (within
        half a frame) and go on in order, through segments read from disk
        and from memory, each with its segment's title; a new title starts
        a play.
        """
        entries = self.rendition.entries()
        self.assertIsNone(self.rendition.segment(entries[1].sequence))
        moment = entries[1].started + 1.0
        shift = TimeShift(self.rendition, self.store, moment)
        shift.start()
        cues = []
        while (cue := shift.next_frame()) is not None:
            cues.append(cue)
        self.assertGreater(len(cues), 1500)
        # The frame playing at the moment, counted from the first one
        # cut; frames differ only where parts begin (every 38 frames:
        # rewritten to borrow nothing).
        start = round((moment - self.cutter.segments[0].started) / (1152 / 44100))
        for index, cue in enumerate(cues[:400]):
            original = self.frames[start + index]
            if (start + index) % 38:
                self.assertEqual(cue.frame.data, original.data, start + index)
            else:
                self.assertEqual(cue.frame.header.samples, original.header.samples)
        titles = [(cue.track.title, cue.starts) for cue in cues]
        self.assertEqual(titles[0], ("Morning", True))
        changes = [title for title, starts in titles if starts]
        self.assertEqual(changes, ["Morning", "Evening"])

    def test_stop(self) -> None:
        """
        A stopped source hands out nothing more.
        """
        shift = TimeShift(self.rendition, self.store, self.rendition.entries()[0].started)
        shift.start()
        self.assertIsNotNone(shift.next_frame())
        shift.stop()
        self.assertIsNone(shift.next_frame())
