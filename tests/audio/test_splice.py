"""
Tests for L{radiod.audio.splice}: cue points read from ffmpeg's report,
the frames a track keeps once its silence is skipped, and the plan and
splicing of a crossfade's overlap, on synthetic frames.
"""

from __future__ import annotations

import math
from dataclasses import replace

from twisted.trial.unittest import SynchronousTestCase

from radiod.audio.frames import Frame
from radiod.audio.reservoir import main_data_begin
from radiod.audio.splice import (
    ENCODER_DELAY,
    SILENCE_PADDING,
    CuePoints,
    Join,
    Overlap,
    no_overlap,
    outgoing_tail,
    parse_cues,
    plan_overlap,
    splice,
    trim,
)
from radiod.testing import silent_frame

# What ffmpeg 5.1 logs measuring a 5.04 s tone with a second of silence
# before it and a second after (the whole track's detector first).
REPORT = """\
  Stream #0:0 -> #0:0 (mp3 (mp3float) -> pcm_s16le (native))
  silencedetect:default -> Stream #0:0 (pcm_s16le)
[silencedetect @ 0x556e18a07100] silence_start: 0
[silencedetect @ 0x556e18a07100] silence_end: 1.00002 | silence_duration: 1.00002
[silencedetect @ 0x556e18a07100] silence_start: 4
[silencedetect @ 0x556e18a09e00] silence_start: 2.99998
[silencedetect @ 0x556e18a09e00] silence_end: 4.99998 | silence_duration: 2
[silencedetect @ 0x556e18a07100] silence_end: 6 | silence_duration: 2
"""


def report(lines: list[tuple[str, str, float]]) -> str:
    """
    A log of C{silencedetect} lines: (instance, C{"start"} or C{"end"},
    time).
    """
    return "".join(
        f"[silencedetect @ {instance}] silence_{kind}: {time:g}\n" for instance, kind, time in lines
    )


def borrowing(count: int, **kwargs: int | str) -> Frame:
    """
    A silent frame (see L{silent_frame}, given C{kwargs}) whose data
    begins C{count} bytes back in the frames before it.
    """
    frame = silent_frame(**kwargs)  # type: ignore[arg-type]
    data = bytearray(frame.data)
    if frame.header.version == "1":
        data[4] = count >> 1
        data[5] = (data[5] & 0x7F) | ((count & 1) << 7)
    else:
        data[4] = count
    return Frame(frame.header, bytes(data))


class ParseCuesTests(SynchronousTestCase):
    """
    L{parse_cues} reads the last silence of each of ffmpeg's two branches.
    """

    def test_report(self) -> None:
        """
        The leading silence is how much sooner the branch without it ends;
        the trailing silence starts where the whole track's last silence
        does.
        """
        cues = parse_cues(REPORT, 5.04)
        assert cues is not None
        self.assertAlmostEqual(cues.start, 1.00002)
        self.assertEqual(cues.end, 4.0)

    def test_instances_in_any_order(self) -> None:
        """
        Which branch is which is told by where each ends, not by the order
        of the lines.
        """
        lines = [("b", "start", 2.0), ("b", "end", 4.0), ("a", "start", 3.0), ("a", "end", 5.0)]
        self.assertEqual(parse_cues(report(lines)), CuePoints(1.0, 3.0))
        self.assertEqual(parse_cues(report(lines[2:] + lines[:2])), CuePoints(1.0, 3.0))

    def test_no_silence(self) -> None:
        """
        A track with sound from its first sample to its last skips
        nothing: its last silence is the padding alone, and it ends at the
        duration given, or where ffmpeg's decoding ended when that is
        later (or the duration unknown).
        """
        end = 3.5 + SILENCE_PADDING
        lines = [("a", "start", 3.5), ("a", "end", end), ("b", "start", 3.5), ("b", "end", end)]
        self.assertEqual(parse_cues(report(lines), 3.52), CuePoints(0.0, 3.52))
        self.assertEqual(parse_cues(report(lines)), CuePoints(0.0, 3.5))
        self.assertEqual(parse_cues(report(lines), 3.0), CuePoints(0.0, 3.5))

    def test_named_instances(self) -> None:
        """
        Reports of filters named after their place in the graph, as some
        ffmpeg versions log them, read the same.
        """
        named = REPORT.replace("silencedetect @ 0x556e18a07100", "Parsed_silencedetect_1 @ 0x1")
        named = named.replace("silencedetect @ 0x556e18a09e00", "Parsed_silencedetect_4 @ 0x2")
        self.assertEqual(parse_cues(named, 5.04), parse_cues(REPORT, 5.04))

    def test_pauses_ignored(self) -> None:
        """
        Silences within the track are not cue points.
        """
        lines = [
            ("a", "start", 1.0),
            ("b", "start", 1.0),
            ("a", "end", 2.0),
            ("b", "end", 2.0),
            ("a", "start", 9.0),
            ("b", "start", 9.0),
            ("a", "end", 10.0),
            ("b", "end", 10.0),
        ]
        self.assertEqual(parse_cues(report(lines), 9.0), CuePoints(0.0, 9.0))

    def test_silent_track(self) -> None:
        """
        A track silent throughout plays whole.
        """
        lines = [("a", "start", 0.0), ("a", "end", 4.0), ("b", "start", 0.0), ("b", "end", 1.0)]
        self.assertEqual(parse_cues(report(lines), 3.0), CuePoints(0.0, 3.0))

    def test_not_measured(self) -> None:
        """
        A log without both branches' last silence, or with times that are
        not numbers, measured nothing.
        """
        self.assertIsNone(parse_cues(""))
        self.assertIsNone(parse_cues(report([("a", "start", 1.0), ("a", "end", 2.0)])))
        self.assertIsNone(
            parse_cues(report([("a", "start", 1.0), ("a", "end", 2.0), ("b", "end", 2.0)]))
        )
        three = [(name, kind, 1.0) for name in "abc" for kind in ("start", "end")]
        self.assertIsNone(parse_cues(report(three)))
        self.assertIsNone(parse_cues(REPORT.replace("silence_start: 4", "silence_start: nan")))
        self.assertIsNone(parse_cues(REPORT.replace("silence_start: 4", "silence_start: 4x")))


class TrimTests(SynchronousTestCase):
    """
    L{trim} keeps the whole frames that hold a track's sound.
    """

    frame = silent_frame()
    seconds = 1152 / 44100

    def test_whole(self) -> None:
        """
        Cue points at the ends keep every frame.
        """
        frames = [self.frame] * 100
        self.assertEqual(trim(frames, CuePoints(0.0, 100 * self.seconds)), (0, 100))
        self.assertEqual(trim(frames, CuePoints(0.0, 1000.0)), (0, 100))

    def test_rounds_outwards(self) -> None:
        """
        The frame in which the sound starts plays; so does every frame that
        starts before the trailing silence, with the encoder's delay to
        spare.
        """
        frames = [self.frame] * 100
        first, last = trim(frames, CuePoints(0.5, 2.0))
        self.assertEqual(first, math.floor(0.5 / self.seconds))
        self.assertEqual(last, math.ceil((2.0 + ENCODER_DELAY / 44100) / self.seconds))
        self.assertEqual((first, last), (19, 78))
        # A frame that ends where the sound starts is skipped.
        self.assertEqual(trim(frames, CuePoints(19 * self.seconds, 2.0))[0], 19)

    def test_half_rate(self) -> None:
        """
        At 22,050 Hz, frames of 576 samples, the delay spared is twice as
        long.
        """
        frame = silent_frame(version="2", bitrate=64, sample_rate=22050, channels=1)
        frames = [frame] * 200
        seconds = 576 / 22050
        last = math.ceil((2.0 + ENCODER_DELAY / 22050) / seconds)
        self.assertEqual(trim(frames, CuePoints(1.0, 2.0)), (38, last))

    def test_nonsense(self) -> None:
        """
        Cue points that are not finite, negative, in the wrong order, or
        that leave nothing to play keep the track whole.
        """
        frames = [self.frame] * 100
        whole = (0, 100)
        for cues in (
            CuePoints(math.nan, 2.0),
            CuePoints(0.0, math.inf),
            CuePoints(-1.0, 2.0),
            CuePoints(2.0, 1.0),
            CuePoints(1.0, 1.0),
            CuePoints(100 * self.seconds, 1000.0),
            CuePoints(500.0, 1000.0),
        ):
            self.assertEqual(trim(frames, cues), whole, cues)
        self.assertEqual(trim([], CuePoints(1.0, 2.0)), (0, 0))

    def test_never_nothing(self) -> None:
        """
        However short the sound, at least one frame plays.
        """
        frames = [self.frame] * 100
        first, last = trim(frames, CuePoints(1.0, 1.0001))
        self.assertGreater(last, first)


class PlanTests(SynchronousTestCase):
    """
    L{plan_overlap} places the overlap and what ffmpeg renders around it.
    """

    def assert_lined_up(self, plan: Overlap) -> None:
        """
        The rendered audio lines up with the frames around it: the frames
        dropped, delayed by the encoder, end where the overlap starts; the
        pre-roll ends where the outgoing track's overlap starts; and the
        rendered audio covers every frame kept.
        """
        samples = plan.samples
        self.assertEqual(plan.dropped * samples - ENCODER_DELAY, plan.pre_roll)
        self.assertGreaterEqual(plan.pre_roll, 1152)
        start = (plan.outgoing_end - plan.outgoing_from) * samples
        self.assertEqual(plan.skip + plan.pre_roll, start)
        self.assertGreaterEqual(plan.length, plan.pre_roll + plan.fade)
        self.assertEqual(plan.fade, plan.frames * samples)

    def test_full_rate(self) -> None:
        """
        Two seconds at 44,100 Hz are 77 frames of 1152 samples; two frames
        of pre-roll come before them, decoded from two frames earlier.
        """
        plan = plan_overlap(1000, 800, 2.0, 1152, 44100)
        assert plan is not None
        self.assertEqual(plan.frames, 77)
        self.assertEqual(plan.outgoing_end, 923)
        self.assertEqual(plan.dropped, 2)
        self.assertEqual(plan.pre_roll, 2 * 1152 - ENCODER_DELAY)
        self.assertEqual(plan.outgoing_from, 919)
        self.assertEqual(plan.skip, 2 * 1152 + ENCODER_DELAY)
        self.assertEqual(plan.incoming_to, 81)
        self.assert_lined_up(plan)

    def test_half_rate(self) -> None:
        """
        At 22,050 Hz, frames of 576 samples, the pre-roll takes four.
        """
        plan = plan_overlap(500, 500, 2.0, 576, 22050)
        assert plan is not None
        self.assertEqual(plan.frames, 77)
        self.assertEqual(plan.dropped, 4)
        self.assertEqual(plan.incoming_to, 77 + 6)
        self.assert_lined_up(plan)

    def test_short_tracks(self) -> None:
        """
        A track shorter than twice the overlap shortens it to half the
        shorter track.
        """
        plan = plan_overlap(100, 61, 4.0, 1152, 44100)
        assert plan is not None
        self.assertEqual(plan.frames, 30)
        self.assertEqual(plan.outgoing_end, 70)
        plan = plan_overlap(61, 1000, 4.0, 1152, 44100)
        assert plan is not None
        self.assertEqual(plan.frames, 30)
        self.assertEqual(plan.outgoing_end, 31)

    def test_very_short_outgoing(self) -> None:
        """
        An outgoing track too short for the pre-roll is decoded from its
        first frame, after a moment of silence.
        """
        plan = plan_overlap(2, 100, 2.0, 1152, 44100)
        assert plan is not None
        self.assertEqual((plan.frames, plan.outgoing_end, plan.outgoing_from), (1, 1, 0))
        self.assertLess(plan.skip, 0)
        self.assert_lined_up(plan)

    def test_incoming_shorter_than_render(self) -> None:
        """
        ffmpeg is given no more incoming frames than there are.
        """
        plan = plan_overlap(100, 4, 2.0, 1152, 44100)
        assert plan is not None
        self.assertEqual((plan.frames, plan.incoming_to), (2, 4))

    def test_no_overlap(self) -> None:
        """
        No time, or a track of fewer than two frames, means no overlap.
        """
        self.assertIsNone(plan_overlap(100, 100, 0.0, 1152, 44100))
        self.assertIsNone(plan_overlap(100, 100, -1.0, 1152, 44100))
        self.assertIsNone(plan_overlap(100, 100, math.nan, 1152, 44100))
        self.assertIsNone(plan_overlap(1, 100, 2.0, 1152, 44100))
        self.assertIsNone(plan_overlap(100, 1, 2.0, 1152, 44100))
        self.assertIsNone(plan_overlap(100, 100, 0.01, 1152, 44100))


class SpliceTests(SynchronousTestCase):
    """
    L{outgoing_tail} and L{splice} make the frames around and in the
    overlap decode where they are put.
    """

    def test_outgoing_tail(self) -> None:
        """
        ffmpeg decodes the outgoing track from the plan's first frame on,
        that frame rewritten to carry what it borrows.
        """
        outgoing = [silent_frame()] * 77 + [borrowing(300)] + [borrowing(200)] * 22
        plan = plan_overlap(len(outgoing), 100, 0.5, 1152, 44100)
        assert plan is not None
        self.assertEqual((plan.frames, plan.outgoing_from), (19, 77))
        tail = outgoing_tail(outgoing, plan)
        self.assertEqual(len(tail), 23)
        self.assertEqual(main_data_begin(tail[0]), 0)
        self.assertEqual(tail[0].header.samples, 1152)
        self.assertEqual(tail[1:], outgoing[78:])

    def test_splice(self) -> None:
        """
        The overlap is the rendered frames after the pre-roll's, the
        first rewritten to borrow nothing; the incoming track resumes
        after as many frames as the overlap has, with its first frame
        rewritten too.
        """
        incoming = [borrowing(100) for _ in range(40)]
        plan = plan_overlap(40, len(incoming), 0.2, 1152, 44100)
        assert plan is not None
        self.assertEqual(plan.frames, 8)
        rendered = [silent_frame(), *[borrowing(120)] * (plan.dropped + plan.frames + 3)]
        join = splice(incoming, plan, rendered)
        self.assertEqual(join.outgoing_end, 32)
        self.assertEqual(join.incoming_start, 8)
        self.assertEqual(len(join.overlap), 8)
        self.assertEqual(main_data_begin(join.overlap[0]), 0)
        self.assertEqual(join.overlap[0].header.samples, 1152)
        self.assertEqual(list(join.overlap[1:]), rendered[plan.dropped + 1 : plan.dropped + 8])
        assert join.resume is not None
        self.assertEqual(main_data_begin(join.resume), 0)
        self.assertEqual(main_data_begin(incoming[8]), 100)

    def test_nothing_left(self) -> None:
        """
        An incoming track wholly overlapped resumes with no frame.
        """
        incoming = [silent_frame()] * 4
        plan = plan_overlap(40, 40, 0.2, 1152, 44100)
        assert plan is not None
        plan = replace(plan, frames=4)
        join = splice(incoming, plan, [silent_frame()] * 10)
        self.assertEqual((join.incoming_start, join.resume), (4, None))

    def test_too_few(self) -> None:
        """
        Fewer rendered frames than the pre-roll and the overlap need are
        an error.
        """
        plan = plan_overlap(40, 40, 0.2, 1152, 44100)
        assert plan is not None
        with self.assertRaises(ValueError) as caught:
            splice([silent_frame()] * 40, plan, [silent_frame()] * 9)
        self.assertEqual(str(caught.exception), "ffmpeg rendered 9 frames of the 10 needed")

    def test_other_format(self) -> None:
        """
        Rendered frames of another sample rate or channel count than the
        tracks' are an error.
        """
        plan = plan_overlap(40, 40, 0.2, 1152, 44100)
        assert plan is not None
        for other in (silent_frame(sample_rate=48000), silent_frame(channels=1)):
            with self.assertRaises(ValueError):
                splice([silent_frame()] * 40, plan, [silent_frame()] * 9 + [other])

    def test_cannot_stand_alone(self) -> None:
        """
        A first frame that borrows more than the dropped frames hold is an
        error: it could not decode after the outgoing track.
        """
        plan = plan_overlap(40, 40, 0.2, 1152, 44100)
        assert plan is not None
        small = silent_frame(bitrate=32)
        rendered = [small, small, borrowing(500), *[silent_frame()] * 7]
        with self.assertRaises(ValueError):
            splice([silent_frame()] * 40, plan, rendered)

    def test_no_overlap(self) -> None:
        """
        Tracks that do not overlap play one whole after the other.
        """
        outgoing = [silent_frame()] * 5
        incoming = [borrowing(0)] * 3
        self.assertEqual(no_overlap(outgoing, incoming), Join(5, (), 0, incoming[0]))
        self.assertEqual(no_overlap(outgoing, []), Join(5, (), 0, None))
