# -*- test-case-name: tests.hls.test_rendition -*-
"""
Where each moment of a mount's programme falls in HLS: its part and its
segment.  Positions are seconds of the main mount's audio since HLS began
(L{radiod.broadcast.mount.Mount.aired}); every rung of the mount maps its
frames to the same positions, so one media sequence number covers the same
audio on every rung.
"""

from __future__ import annotations

import math

from radiod.audio.id3 import timestamp_ticks

__all__ = ["Timing"]

_EPSILON = 1e-6


class Timing:
    """
    The parts and segments of one mount.

    A part is a whole number of frames (L{part_frames}) and a segment a
    whole number of parts (L{parts_per_segment}), both as close to the
    configured lengths as whole numbers allow.  Segments are numbered from
    the wall-clock time HLS began, divided by the segment length, plus one,
    so that numbers keep rising across restarts (audio never runs ahead of
    the clock) and a cache never confuses an old segment with a new one of
    the same number.

    @ivar part_frames: frames in a part.
    @ivar part_length: seconds in a part.
    @ivar parts_per_segment: parts in a segment.
    @ivar segment_length: seconds in a segment.
    @ivar first: the number of the segment at position 0: the one after
        the wall clock's when HLS began.
    """

    def __init__(self, frame: float, part: float, segment: float, began: float) -> None:
        """
        @param frame: seconds in a frame of the mount's audio.
        @param part: the parts' target length, in seconds.
        @param segment: the segments' target length, in seconds.
        @param began: the wall-clock time of position 0 (Unix seconds).
        """
        self.part_frames = max(1, round(part / frame))
        self.part_length = self.part_frames * frame
        self.parts_per_segment = max(1, round(segment / self.part_length))
        self.segment_length = self.parts_per_segment * self.part_length
        # The next number after the one the wall clock is in: a process
        # that ran until now cannot have got to it, so a restart never
        # reuses a number a cache may hold.
        self.first = int(began // self.segment_length) + 1
        self._anchor = (0.0, began)

    def part_of(self, position: float) -> tuple[int, int]:
        """
        The segment number and part index of the part holding C{position}.
        """
        count = math.floor(position / self.part_length + _EPSILON)
        segment, index = divmod(count, self.parts_per_segment)
        return self.first + segment, index

    def start_of(self, sequence: int, index: int = 0) -> float:
        """
        The position where part C{index} of segment C{sequence} starts.
        """
        count = (sequence - self.first) * self.parts_per_segment + index
        return count * self.part_length

    def ticks(self, position: float) -> int:
        """
        The 90 kHz timestamp of C{position}: counted, like segment
        numbers, from the wall-clock epoch.
        """
        return timestamp_ticks(self.first * self.segment_length + position)

    def note(self, position: float, wall: float) -> None:
        """
        Audio at C{position} aired at wall-clock time C{wall}.
        """
        self._anchor = (position, wall)

    def wall(self, position: float) -> float:
        """
        The wall-clock time audio at C{position} aired (or airs), as last
        noted.
        """
        anchor, wall = self._anchor
        return wall + position - anchor
