"""
Tests for L{radiod.hls.timing}.
"""

from __future__ import annotations

from twisted.trial.unittest import SynchronousTestCase

from radiod.hls.timing import Timing

FRAME = 1152 / 44100
"""
Seconds in an MPEG-1 Layer III frame at 44.1 kHz: 0.0261224... s.
"""

MPEG2_FRAME = 576 / 22050
"""
Seconds in an MPEG-2 Layer III frame at 22.05 kHz: the same 0.0261224... s.
"""

PART = 43776 / 44100
"""
38 frames at 44.1 kHz (38 * 1152 = 43776 samples): 0.99265306... s.
"""

SEGMENT = 262656 / 44100
"""
Six such parts (6 * 43776 = 262656 samples): 5.95591836... s.
"""

BEGAN = 1796634000.25
"""
A wall-clock time HLS might begin at: 2026-12-07 09:00:00.25 UTC.
"""

FIRST = 301655243
"""
The segment number at L{BEGAN}: 1796634000.25 / 5.95591836... =
301655242.64..., rounded down, plus one (the next number after the one the
wall clock is in).
"""


class LengthTests(SynchronousTestCase):
    """
    Parts are whole numbers of frames and segments whole numbers of parts,
    as close to the configured lengths as those allow.
    """

    def test_mp3_44100(self) -> None:
        """
        At 44.1 kHz a 1 s part is 38 frames (1 / 0.0261 = 38.3) and a 6 s
        segment six of those parts (6 / 0.9927 = 6.04).
        """
        timing = Timing(FRAME, 1.0, 6.0, 0.0)
        self.assertEqual(timing.part_frames, 38)
        self.assertAlmostEqual(timing.part_length, PART, places=12)
        self.assertEqual(timing.parts_per_segment, 6)
        self.assertAlmostEqual(timing.segment_length, SEGMENT, places=12)

    def test_mpeg2_22050(self) -> None:
        """
        MPEG-2 frames at 22.05 kHz last as long as MPEG-1 frames at
        44.1 kHz (half the samples at half the rate): the same numbers.
        """
        timing = Timing(MPEG2_FRAME, 1.0, 6.0, 0.0)
        self.assertEqual(timing.part_frames, 38)
        self.assertAlmostEqual(timing.part_length, PART, places=12)
        self.assertEqual(timing.parts_per_segment, 6)
        self.assertAlmostEqual(timing.segment_length, SEGMENT, places=12)

    def test_half_second_parts(self) -> None:
        """
        A 0.5 s part is 19 frames (0.5 / 0.0261 = 19.1), 0.4963 s, and a
        6 s segment twelve of them (6 / 0.4963 = 12.09): again 262656
        samples.
        """
        timing = Timing(FRAME, 0.5, 6.0, 0.0)
        self.assertEqual(timing.part_frames, 19)
        self.assertAlmostEqual(timing.part_length, 21888 / 44100, places=12)
        self.assertEqual(timing.parts_per_segment, 12)
        self.assertAlmostEqual(timing.segment_length, SEGMENT, places=12)

    def test_48000(self) -> None:
        """
        At 48 kHz (0.024 s frames) a 1 s part is 42 frames (41.7 rounded),
        1.008 s, and a 6 s segment six of them (5.95 rounded), 6.048 s.
        """
        timing = Timing(1152 / 48000, 1.0, 6.0, 0.0)
        self.assertEqual(timing.part_frames, 42)
        self.assertAlmostEqual(timing.part_length, 1.008, places=12)
        self.assertEqual(timing.parts_per_segment, 6)
        self.assertAlmostEqual(timing.segment_length, 6.048, places=12)

    def test_rounded_to_nearest(self) -> None:
        """
        Counts round to the nearest whole number, up as well as down: a
        2 s part is 77 frames (76.6), 2.0114 s, and a 6 s segment three of
        them (2.98), 6.0343 s.
        """
        timing = Timing(FRAME, 2.0, 6.0, 0.0)
        self.assertEqual(timing.part_frames, 77)
        self.assertAlmostEqual(timing.part_length, 77 * 1152 / 44100, places=12)
        self.assertEqual(timing.parts_per_segment, 3)
        self.assertAlmostEqual(timing.segment_length, 3 * 77 * 1152 / 44100, places=12)

    def test_segment_shorter_than_part(self) -> None:
        """
        A segment shorter than a part is one part.
        """
        timing = Timing(FRAME, 1.0, 0.4, 0.0)
        self.assertEqual(timing.part_frames, 38)
        self.assertEqual(timing.parts_per_segment, 1)
        self.assertEqual(timing.segment_length, timing.part_length)

    def test_part_shorter_than_frame(self) -> None:
        """
        A part shorter than a frame is one frame.
        """
        timing = Timing(FRAME, 0.01, 0.05, 0.0)
        self.assertEqual(timing.part_frames, 1)
        self.assertEqual(timing.part_length, FRAME)
        self.assertEqual(timing.parts_per_segment, 2)


class FirstTests(SynchronousTestCase):
    """
    L{Timing.first}: segments are numbered from the wall-clock epoch.
    """

    def test_epoch(self) -> None:
        """
        Beginning at the epoch, or within the first segment length of it,
        the first segment is number 1 (the next after the clock's); just
        after, number 2.
        """
        self.assertEqual(Timing(FRAME, 1.0, 6.0, 0.0).first, 1)
        self.assertEqual(Timing(FRAME, 1.0, 6.0, 5.9).first, 1)
        self.assertEqual(Timing(FRAME, 1.0, 6.0, 5.96).first, 2)
        self.assertEqual(Timing(FRAME, 1.0, 6.0, 11.95).first, 3)

    def test_now(self) -> None:
        """
        The first segment number is the wall-clock time divided by the
        segment length, rounded down, plus one.
        """
        timing = Timing(FRAME, 1.0, 6.0, BEGAN)
        self.assertEqual(timing.first, FIRST)
        self.assertIsInstance(timing.first, int)

    def test_rising_across_restarts(self) -> None:
        """
        A timing made later numbers its first segment at least as high as
        one made earlier, and higher once a segment length has passed: an
        hour is 604.4 segments.
        """
        first = Timing(FRAME, 1.0, 6.0, BEGAN).first
        self.assertEqual(Timing(FRAME, 1.0, 6.0, BEGAN + 0.1).first, first)
        self.assertEqual(Timing(FRAME, 1.0, 6.0, BEGAN + 6.0).first, first + 1)
        self.assertEqual(Timing(FRAME, 1.0, 6.0, BEGAN + 3600).first, first + 605)
        previous = first
        for seconds in range(0, 7200, 7):
            later = Timing(FRAME, 1.0, 6.0, BEGAN + seconds).first
            self.assertGreaterEqual(later, previous)
            previous = later


class PartOfTests(SynchronousTestCase):
    """
    L{Timing.part_of} and L{Timing.start_of}.
    """

    def setUp(self) -> None:
        """
        38-frame parts, six to a segment, beginning at L{BEGAN}.
        """
        self.timing = Timing(FRAME, 1.0, 6.0, BEGAN)

    def test_start(self) -> None:
        """
        Position 0 is the first part of the first segment.
        """
        self.assertEqual(self.timing.part_of(0.0), (FIRST, 0))
        self.assertEqual(self.timing.part_of(0.5), (FIRST, 0))

    def test_summed_frames(self) -> None:
        """
        A position reached by adding up 38 frame durations, which floating
        point leaves a hair short of 38 frames, is the start of part 1, not
        the end of part 0.
        """
        position = 0.0
        for _ in range(38):
            position += FRAME
        self.assertLess(position, 38 * FRAME)
        self.assertEqual(self.timing.part_of(position), (FIRST, 1))
        self.assertEqual(self.timing.part_of(position - FRAME), (FIRST, 0))

    def test_summed_frames_for_an_hour(self) -> None:
        """
        Over an hour of frames added one by one, each part boundary starts
        the next part, and the frames before it belong to the part before:
        part k of the mount's count is segment k // 6, index k % 6.
        """
        position = 0.0
        for frame in range(138_000):
            count, offset = divmod(frame, 38)
            expected = (FIRST + count // 6, count % 6)
            self.assertEqual(self.timing.part_of(position), expected, f"frame {frame}")
            if offset == 0:
                self.assertAlmostEqual(self.timing.start_of(*expected), position, places=6)
            position += FRAME

    def test_segment_boundary(self) -> None:
        """
        The last part of a segment is index 5; the next position is the
        next segment's part 0.
        """
        self.assertEqual(self.timing.part_of(5 * PART), (FIRST, 5))
        self.assertEqual(self.timing.part_of(SEGMENT - 0.001), (FIRST, 5))
        self.assertEqual(self.timing.part_of(SEGMENT), (FIRST + 1, 0))
        self.assertEqual(self.timing.part_of(SEGMENT + 0.001), (FIRST + 1, 0))
        self.assertEqual(self.timing.part_of(2 * SEGMENT + 3.5 * PART), (FIRST + 2, 3))

    def test_start_of(self) -> None:
        """
        Parts start at whole multiples of the part length from position 0.
        """
        self.assertEqual(self.timing.start_of(FIRST), 0.0)
        self.assertEqual(self.timing.start_of(FIRST, 0), 0.0)
        self.assertAlmostEqual(self.timing.start_of(FIRST, 1), PART, places=12)
        self.assertAlmostEqual(self.timing.start_of(FIRST + 1), SEGMENT, places=12)
        self.assertAlmostEqual(self.timing.start_of(FIRST + 2, 3), 15 * PART, places=12)
        self.assertAlmostEqual(self.timing.start_of(FIRST, 6), self.timing.start_of(FIRST + 1))

    def test_inverse(self) -> None:
        """
        L{Timing.start_of} is the inverse of L{Timing.part_of}: a part
        starts where it starts, for a week of segments; every position
        lies in the part that starts at or before it, within one part.
        """
        for sequence in [*range(FIRST, FIRST + 50), FIRST + 101_000, FIRST + 101_556]:
            for index in range(6):
                start = self.timing.start_of(sequence, index)
                self.assertEqual(self.timing.part_of(start), (sequence, index))
                self.assertEqual(self.timing.part_of(start + PART / 2), (sequence, index))
        for tenths in range(0, 20_000, 3):
            position = tenths / 10
            start = self.timing.start_of(*self.timing.part_of(position))
            self.assertLessEqual(start, position + 1e-9)
            self.assertLess(position, start + PART)


class TicksTests(SynchronousTestCase):
    """
    L{Timing.ticks}: 90 kHz timestamps counted from the wall-clock epoch.
    """

    def test_from_epoch(self) -> None:
        """
        With the first segment at the epoch (beginning in the segment
        before it), ticks count from position 0: a frame is 2351 ticks
        (2351.02), a part 89339 (89338.78).
        """
        timing = Timing(FRAME, 1.0, 6.0, -SEGMENT / 2)
        self.assertEqual(timing.first, 0)
        self.assertEqual(timing.ticks(0.0), 0)
        self.assertEqual(timing.ticks(FRAME), 2351)
        self.assertEqual(timing.ticks(PART), 89339)
        self.assertEqual(timing.ticks(1.0), 90_000)
        self.assertEqual(timing.ticks(SEGMENT), 536_033)

    def test_now(self) -> None:
        """
        Position 0 is the start of segment L{FIRST}: FIRST * 262656 /
        44100 s after the epoch, 161697060215118.4 ticks, which modulo
        2**33 is 131455310.
        """
        timing = Timing(FRAME, 1.0, 6.0, BEGAN)
        self.assertEqual(timing.ticks(0.0), 131_455_310)
        self.assertEqual(timing.ticks(1.0), 131_455_310 + 90_000)

    def test_wrap(self) -> None:
        """
        Ticks wrap at 2**33 (95443.7 s, 26.5 hours).
        """
        timing = Timing(FRAME, 1.0, 6.0, -SEGMENT / 2)
        self.assertEqual(timing.ticks(2**33 / 90_000), 0)
        self.assertEqual(timing.ticks(2**33 / 90_000 + 1.0), 90_000)
        self.assertEqual(timing.ticks(2**33 / 90_000 - 1.0), 2**33 - 90_000)
        later = Timing(FRAME, 1.0, 6.0, BEGAN)
        for position in (0.0, 1.0, 3600.0, 86400.0 * 3):
            self.assertGreaterEqual(later.ticks(position), 0)
            self.assertLess(later.ticks(position), 2**33)

    def test_same_across_restarts(self) -> None:
        """
        A segment has the same timestamp whenever HLS began: its number
        alone fixes it.
        """
        early = Timing(FRAME, 1.0, 6.0, BEGAN)
        late = Timing(FRAME, 1.0, 6.0, BEGAN + 3600.3)
        self.assertEqual(late.first, FIRST + 605)
        for sequence in range(late.first, late.first + 20):
            self.assertAlmostEqual(
                early.ticks(early.start_of(sequence)),
                late.ticks(late.start_of(sequence)),
                delta=1,
            )


class WallTests(SynchronousTestCase):
    """
    L{Timing.note} and L{Timing.wall}.
    """

    def test_began(self) -> None:
        """
        Until something is noted, position 0 aired when HLS began.
        """
        timing = Timing(FRAME, 1.0, 6.0, 1000.0)
        self.assertEqual(timing.wall(0.0), 1000.0)
        self.assertEqual(timing.wall(2.5), 1002.5)

    def test_noted(self) -> None:
        """
        After noting that position p aired at w, position x aired at
        w + x - p, before p as well as after.
        """
        timing = Timing(FRAME, 1.0, 6.0, 1000.0)
        timing.note(10.0, 2000.5)
        self.assertEqual(timing.wall(10.0), 2000.5)
        self.assertEqual(timing.wall(12.5), 2003.0)
        self.assertEqual(timing.wall(8.0), 1998.5)

    def test_latest_note(self) -> None:
        """
        The latest note counts; noting moves neither numbering nor
        timestamps.
        """
        timing = Timing(FRAME, 1.0, 6.0, BEGAN)
        ticks = timing.ticks(100.0)
        timing.note(10.0, 2000.5)
        timing.note(20.0, 2010.25)
        self.assertEqual(timing.wall(21.0), 2011.25)
        self.assertEqual(timing.wall(20.0), 2010.25)
        self.assertEqual(timing.first, FIRST)
        self.assertEqual(timing.part_of(0.0), (FIRST, 0))
        self.assertEqual(timing.ticks(100.0), ticks)
