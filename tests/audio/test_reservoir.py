"""
Tests for L{radiod.audio.reservoir}.
"""

from __future__ import annotations

import array
import os
import subprocess

from twisted.trial.unittest import SynchronousTestCase

from radiod.audio.frames import Frame, FrameSplitter
from radiod.audio.reservoir import main_data_begin, main_data_length, self_contained
from radiod.testing import silent_frame
from tests.support.loopback import ROOT
from tests.support.tools import require_ffmpeg

DEMO = os.path.join(ROOT, "radiod", "demo", "01-morning-arpeggio.mp3")


def demo_frames() -> list[Frame]:
    with open(DEMO, "rb") as file:
        return FrameSplitter().feed(file.read())


def decode(ffmpeg: str, frames: list[Frame]) -> array.array[int]:
    """
    The 16-bit samples ffmpeg decodes from C{frames}, which it must decode
    without a word on its error output.
    """
    done = subprocess.run(
        [ffmpeg, "-v", "error", "-f", "mp3", "-i", "-", "-f", "s16le", "-"],
        input=b"".join(frame.data for frame in frames),
        capture_output=True,
        timeout=60,
        check=True,
    )
    if done.stderr:
        raise AssertionError(done.stderr.decode(errors="replace"))
    return array.array("h", done.stdout)


class ReservoirTests(SynchronousTestCase):
    """
    L{self_contained} makes a frame that borrows from the frames before it
    decodable as the first frame of a stream, playing the same samples.
    """

    def test_reads_side_information(self) -> None:
        """
        The demo file's frames borrow from the ones before them (all but
        the first), never more than MPEG-1 allows, and each has data of its
        own that fits a frame and what it may borrow.
        """
        frames = demo_frames()
        borrowed = [main_data_begin(frame) for frame in frames]
        self.assertEqual(borrowed[0], 0)
        self.assertGreater(min(borrowed[1:]), 0)
        self.assertLessEqual(max(borrowed), 511)
        for frame in frames[1:50]:
            self.assertGreater(main_data_length(frame), 0)
            self.assertLessEqual(main_data_length(frame), main_data_begin(frame) + len(frame.data))

    def test_nothing_borrowed(self) -> None:
        """
        A frame that borrows nothing, or whose lender is missing, is
        returned as it is.
        """
        frames = demo_frames()
        self.assertIs(self_contained(frames[0], []), frames[0])
        self.assertIs(self_contained(frames[10], []), frames[10])
        self.assertIs(self_contained(frames[10], frames[9:10]), frames[10])
        silent = silent_frame()
        self.assertIs(self_contained(silent, [silent] * 3), silent)

    def test_rewritten_frame(self) -> None:
        """
        The rewritten frame is the same stream (format and duration),
        larger, borrows nothing, and carries the bytes it borrowed right
        before its own.
        """
        frames = demo_frames()
        index = 300
        original = frames[index]
        rewritten = self_contained(original, frames[:index])
        self.assertIsNot(rewritten, original)
        self.assertEqual(main_data_begin(rewritten), 0)
        self.assertEqual(main_data_length(rewritten), main_data_length(original))
        self.assertEqual(rewritten.header.samples, original.header.samples)
        self.assertEqual(rewritten.header.sample_rate, original.header.sample_rate)
        self.assertEqual(rewritten.header.channels, original.header.channels)
        self.assertGreater(len(rewritten.data), len(original.data))
        self.assertEqual(rewritten.header.length, len(rewritten.data))

    def test_decodes_from_any_frame(self) -> None:
        """
        A stream cut at a frame that borrows decodes, from its second frame
        on, exactly as the uncut stream does when that first frame is
        rewritten; left as it is, the cut stream's first frames decode
        wrong (which is what the rewrite is for).  The first frame differs
        only by the decoder's warm-up, which no cut avoids.
        """
        ffmpeg = require_ffmpeg()
        frames = demo_frames()
        per_frame = frames[0].header.samples * frames[0].header.channels
        for index in (120, 301, 555):
            whole = decode(ffmpeg, frames[index - 10 : index + 20])[10 * per_frame :]
            plain = decode(ffmpeg, frames[index : index + 20])
            fixed = decode(
                ffmpeg,
                [self_contained(frames[index], frames[:index]), *frames[index + 1 : index + 20]],
            )
            self.assertEqual(len(fixed), len(whole))
            self.assertEqual(fixed[per_frame:], whole[per_frame:], f"cut at {index}")
            self.assertNotEqual(plain[per_frame : 2 * per_frame], whole[per_frame : 2 * per_frame])
