# -*- test-case-name: tests.audio.test_splice -*-
"""
Joining tracks at frame boundaries: skipping their leading and trailing
silence (autocue), and overlapping the end of one with the start of the
next (crossfade).

B{Autocue.}  A track's cue points (L{CuePoints}) say where its sound
starts and where its trailing silence begins.  They are measured once per
track by ffmpeg (see L{radiod.ffmpeg.arguments.cue_arguments}, and
L{parse_cues} for what it reports): silence is audio whose every sample,
on every channel, stays below L{SILENCE_THRESHOLD} (-50 dBFS), low enough
that a quiet fade or a reverb tail counts as sound, high enough that
dither and tape hiss count as silence.  L{trim} turns cue points into the
range of whole frames that plays.

B{Crossfade.}  The last frames of the outgoing track and the first frames
of the incoming one are replaced by frames rendered ahead of time, in
which the outgoing track fades out while the incoming one plays.
L{plan_overlap} decides which frames are replaced and what ffmpeg is
given; L{splice} picks the rendered frames that replace them and says how
the tracks join (a L{Join}).  The overlap has exactly as many frames as
the stretch of the incoming track it replaces, so the incoming track goes
on after it at the very audio moment it would have reached, and the
stream's time (frames times their duration) is exact.

Rendering has to line up with the frames around it, sample for sample.
An MP3 encoder's output decodes L{ENCODER_DELAY} samples late, so the
overlap is rendered with some of the outgoing track before it (the
I{pre-roll}), encoded, and the frames the pre-roll fills are dropped: the
first frame kept then decodes to the first samples of the overlap.  That
frame must not borrow from the dropped ones (the bit reservoir, see
L{radiod.audio.reservoir}): ffmpeg renders without the reservoir, and a
first frame that borrows all the same is rewritten to carry what it
borrows.  Decoding starts a few frames before the audio needed (the
decoder's I{warm-up}), so the first samples used decode as they do on
air.

Everything here is pure: frames and numbers in, frames and numbers out.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass

from radiod.audio.frames import Frame
from radiod.audio.reservoir import main_data_begin, self_contained

__all__ = [
    "ENCODER_DELAY",
    "SILENCE_MINIMUM",
    "SILENCE_PADDING",
    "SILENCE_THRESHOLD",
    "CuePoints",
    "Join",
    "Overlap",
    "no_overlap",
    "outgoing_tail",
    "parse_cues",
    "plan_overlap",
    "splice",
    "trim",
]

SILENCE_THRESHOLD = -50.0
"""
The level, in dBFS, below which every sample of a stretch of audio must
stay for it to count as silence.
"""

SILENCE_MINIMUM = 0.5
"""
The shortest silence, in seconds, ffmpeg reports while measuring cue
points.  Only the silences at either end of a track matter, and those are
measured to the sample whatever their length (see L{parse_cues}); a
longer minimum keeps pauses within a track out of ffmpeg's report.
"""

SILENCE_PADDING = 1.0
"""
Seconds of digital silence appended to a track while its cue points are
measured, so that its end always reads as a silence (see L{parse_cues}).
"""

ENCODER_DELAY = 1105
"""
How many samples late audio encoded by LAME (ffmpeg's C{libmp3lame})
decodes: LAME's own delay of 576 samples and the decoder's 529, at every
sample rate.  ffmpeg records the same number as the encoder's initial
padding, and skips it when a file's LAME tag says so.
"""

_WARM_UP = 2
"""
Frames decoded, and thrown away, before the first whose samples are used:
a frame's first granule is completed by the one before it.
"""

_LENDERS = 64
"""
How many frames before a frame are enough to hold every byte it may
borrow from them (511 bytes at most, from frames of 24 bytes and more).
"""

_PRE_ROLL = 1152
"""
The fewest samples of the outgoing track rendered before the overlap: a
whole granule pair, so the first frame kept is encoded in context.
"""

_SILENCE_LINE = re.compile(
    # "[silencedetect @ 0x55d5c1b0f8c0] silence_start: 4": the bracket
    # names the filter instance (its address, or its name in the graph).
    r"^\[(?P<instance>[^\]]*silencedetect[^\]]*)\] silence_(?P<kind>start|end): (?P<time>\S+)",
    re.MULTILINE,
)


@dataclass(frozen=True, slots=True)
class CuePoints:
    """
    Where a track's sound is: what plays of it when its leading and
    trailing silence are skipped.

    @ivar start: seconds of leading silence to skip (0 when there is
        none).
    @ivar end: the time, in seconds from the track's start, where its
        trailing silence begins; the track's duration when there is none.
    """

    start: float
    end: float


def parse_cues(log: str, duration: float = 0.0) -> CuePoints | None:
    """
    Read the cue points of a track from what ffmpeg logged measuring them
    (with L{radiod.ffmpeg.arguments.cue_arguments}).

    ffmpeg decodes the track along two branches, each followed by
    L{SILENCE_PADDING} seconds of digital silence and C{silencedetect}:
    the whole track, and the track with its leading silence removed.  The
    last silence each reports is its trailing silence with the padding,
    ending where its branch ends, so everything needed is in the last
    lines of the log: the whole track's last silence starts where its
    trailing silence begins, and the two branches end as far apart as the
    leading silence is long.  Silences within the track are ignored.

    @param log: ffmpeg's standard error (its end is enough).
    @param duration: the track's duration in seconds, to report as the
        end when there is no trailing silence (or the length ffmpeg
        decoded, when that is longer, so a duration too short never cuts
        the track); 0 when unknown.
    @return: the cue points; C{CuePoints(0, duration)} for a track that
        is silent throughout (it plays whole); C{None} when the log does
        not hold the measurement.
    """
    last: dict[str, dict[str, float]] = {}
    for match in _SILENCE_LINE.finditer(log):
        try:
            time = float(match.group("time"))
        except ValueError:
            return None
        if not math.isfinite(time):
            return None
        last.setdefault(match.group("instance"), {})[match.group("kind")] = time
    if len(last) != 2 or any(set(found) != {"start", "end"} for found in last.values()):
        return None
    whole, rest = sorted(last.values(), key=lambda found: found["end"], reverse=True)
    decoded = whole["end"] - SILENCE_PADDING
    length = max(duration, decoded)
    lead = max(0.0, whole["end"] - rest["end"])
    # The padding alone starts a silence exactly where the audio ends (a
    # hair before it is the rounding of times to six significant digits).
    end = length if whole["start"] >= decoded - 0.001 else whole["start"]
    if lead >= end:
        return CuePoints(0.0, length)
    return CuePoints(lead, end)


def trim(frames: Sequence[Frame], cues: CuePoints) -> tuple[int, int]:
    """
    The frames of a track that play once its silence is skipped.

    Whole frames are kept, rounding outwards: the frame in which the
    sound starts plays, and so does every frame that starts before the
    trailing silence does, and L{ENCODER_DELAY} samples more.  (ffmpeg
    measures an MP3 with a LAME tag from after the delay the tag
    announces, so the sound may lie that much later in the frames than
    measured; an MP3 without one, and a converted file, it measures as
    its frames play.)

    The first frame kept may borrow from the frames skipped before it:
    to start a stream, or follow another track, rewrite it with
    L{radiod.audio.reservoir.self_contained}.

    @param frames: the whole track.
    @param cues: its cue points.
    @return: C{(first, last)}: the index of the first frame that plays and
        the index after the last; C{(0, len(frames))} (the whole track)
        when the cue points are not finite, negative, or would leave
        nothing to play.
    """
    count = len(frames)
    start, end = cues.start, cues.end
    if not (math.isfinite(start) and math.isfinite(end)) or not 0 <= start < end:
        return 0, count
    if count:
        end += ENCODER_DELAY / frames[0].header.sample_rate
    first = 0
    last = 0
    elapsed = 0.0
    for index, frame in enumerate(frames):
        if elapsed >= end:
            break
        elapsed += frame.duration
        if elapsed <= start:
            first = index + 1
        last = index + 1
    if first >= last:
        return 0, count
    return first, last


@dataclass(frozen=True, slots=True)
class Join:
    """
    How two tracks join: the frames that play, in order, are
    C{outgoing[:outgoing_end]}, then C{overlap}, then C{resume} (when not
    C{None}), then C{incoming[incoming_start + 1:]}.

    @ivar outgoing_end: how many frames of the outgoing track play before
        the overlap.
    @ivar overlap: the frames rendered for the overlap (none when the
        tracks do not overlap).
    @ivar incoming_start: the index of the first frame of the incoming
        track played after the overlap: as many frames as the overlap
        has, so the incoming track goes on at the right moment.
    @ivar resume: C{incoming[incoming_start]} rewritten to carry the
        bytes it borrows from the frames the overlap replaced (see
        L{radiod.audio.reservoir.self_contained}); C{None} when the
        incoming track has no frame left after the overlap.
    """

    outgoing_end: int
    overlap: tuple[Frame, ...]
    incoming_start: int
    resume: Frame | None


@dataclass(frozen=True, slots=True)
class Overlap:
    """
    Where an overlap falls, and what ffmpeg is given to render it.

    Sample positions count from the first sample of the outgoing frames
    given to ffmpeg (L{outgoing_from}) as they decode; the rendered audio
    starts L{skip} samples in, with L{pre_roll} samples of the outgoing
    track alone, then the overlap's L{frames} frames of both tracks, then
    the incoming track alone until L{length}.

    @ivar frames: how many frames the overlap has, and how many frames of
        each track it replaces.
    @ivar samples: samples (per channel) in each frame.
    @ivar outgoing_end: how many frames of the outgoing track play before
        the overlap.
    @ivar outgoing_from: the first outgoing frame given to ffmpeg.
    @ivar incoming_to: how many of the incoming track's first frames are
        given to ffmpeg.
    @ivar skip: samples of the decoded outgoing frames before the
        rendered audio starts; negative when the outgoing track is too
        short, for as many samples of silence before it.
    @ivar pre_roll: samples of the outgoing track rendered before the
        overlap starts.
    @ivar length: samples rendered.
    @ivar dropped: frames the encoder writes before the overlap's first,
        which are dropped.
    """

    frames: int
    samples: int
    outgoing_end: int
    outgoing_from: int
    incoming_to: int
    skip: int
    pre_roll: int
    length: int
    dropped: int

    @property
    def fade(self) -> int:
        """
        How many samples the overlap lasts.
        """
        return self.frames * self.samples


def plan_overlap(
    outgoing: int, incoming: int, seconds: float, samples: int, sample_rate: int
) -> Overlap | None:
    """
    Plan the overlap of two tracks of C{outgoing} and C{incoming} frames.

    The overlap lasts C{seconds} rounded to whole frames.  When either
    track is shorter than twice that, the overlap is shortened to half
    the shorter track (in whole frames, rounded down), so that no more
    than half of a track is ever faded.

    @param outgoing: frames of the outgoing track, as it plays.
    @param incoming: frames of the incoming track, as it plays.
    @param seconds: how long the overlap should last.
    @param samples: samples (per channel) in each frame of both tracks.
    @param sample_rate: their sample rate.
    @return: the plan, or C{None} when there is no overlap: C{seconds} is
        not positive, or a track has fewer than two frames.
    """
    if not (math.isfinite(seconds) and seconds > 0):
        return None
    frames = min(round(seconds * sample_rate / samples), outgoing // 2, incoming // 2)
    if frames < 1:
        return None
    dropped = -(-(ENCODER_DELAY + _PRE_ROLL) // samples)
    pre_roll = dropped * samples - ENCODER_DELAY
    outgoing_end = outgoing - frames
    outgoing_from = max(0, outgoing_end - dropped - _WARM_UP)
    tail = dropped + _WARM_UP
    return Overlap(
        frames=frames,
        samples=samples,
        outgoing_end=outgoing_end,
        outgoing_from=outgoing_from,
        incoming_to=min(incoming, frames + tail),
        skip=(outgoing_end - outgoing_from) * samples - pre_roll,
        pre_roll=pre_roll,
        length=pre_roll + (frames + tail) * samples,
        dropped=dropped,
    )


def _before(frames: Sequence[Frame], index: int) -> Sequence[Frame]:
    """
    The frames before C{frames[index]} it may borrow from.
    """
    return frames[max(0, index - _LENDERS) : index]


def outgoing_tail(outgoing: Sequence[Frame], overlap: Overlap) -> list[Frame]:
    """
    The outgoing frames ffmpeg decodes for the overlap: from
    L{Overlap.outgoing_from} to the end, the first rewritten so that it
    decodes without the frames before it.
    """
    start = overlap.outgoing_from
    first = self_contained(outgoing[start], _before(outgoing, start))
    return [first, *outgoing[start + 1 :]]


def _resume(incoming: Sequence[Frame], index: int) -> Frame | None:
    """
    C{incoming[index]} rewritten to decode without the frames before it,
    or C{None} past the end.
    """
    if index >= len(incoming):
        return None
    return self_contained(incoming[index], _before(incoming, index))


def no_overlap(outgoing: Sequence[Frame], incoming: Sequence[Frame]) -> Join:
    """
    The join of two tracks that do not overlap: one plays whole after the
    other.
    """
    return Join(len(outgoing), (), 0, _resume(incoming, 0))


def splice(incoming: Sequence[Frame], overlap: Overlap, rendered: Sequence[Frame]) -> Join:
    """
    Join two tracks with the frames rendered for their overlap.

    @param incoming: the incoming track's frames, as it plays.
    @param overlap: the plan the frames were rendered by.
    @param rendered: every frame the encoder wrote, in order.
    @return: the join: the overlap's frames are the rendered ones after
        the L{Overlap.dropped} pre-roll frames, the first rewritten to
        carry what it borrows from them, if anything.
    @raise ValueError: if there are too few rendered frames, they are not
        of the incoming track's sample rate and channels, or the first
        cannot be rewritten.
    """
    dropped, count = overlap.dropped, overlap.frames
    if len(rendered) < dropped + count:
        raise ValueError(f"ffmpeg rendered {len(rendered)} frames of the {dropped + count} needed")
    stream = incoming[0].header
    for frame in rendered[: dropped + count]:
        header = frame.header
        if (header.layer, header.sample_rate, header.channels, header.samples) != (
            3,
            stream.sample_rate,
            stream.channels,
            overlap.samples,
        ):
            raise ValueError("ffmpeg rendered frames in another format than the tracks'")
    first = self_contained(rendered[dropped], _before(rendered, dropped))
    if main_data_begin(first) != 0:
        raise ValueError("the overlap's first frame cannot be made to stand alone")
    frames = (first, *rendered[dropped + 1 : dropped + count])
    return Join(overlap.outgoing_end, frames, count, _resume(incoming, count))
