# -*- test-case-name: tests.ffmpeg.test_arguments -*-
"""
What ffmpeg is run with: the command lines of live conversion, of
library conversion, of measuring a track's cue points and of rendering a
crossfade, the output options they share, and the time a run over a track
is allowed.

Everything here is pure: values in, lists of arguments (or seconds) out.
"""

from __future__ import annotations

import os

from radiod.audio.format import AudioFormat
from radiod.audio.splice import (
    SILENCE_MINIMUM,
    SILENCE_PADDING,
    SILENCE_THRESHOLD,
    Overlap,
)

__all__ = [
    "MIN_TIMEOUT",
    "PIPED_MP3_INPUT",
    "UNKNOWN_DURATION_TIMEOUT",
    "convert_arguments",
    "crossfade_arguments",
    "cue_arguments",
    "format_output",
    "live_arguments",
    "mp3_output",
    "run_timeout",
]

MIN_TIMEOUT = 60.0
"""
The fewest seconds an ffmpeg run is given before it is killed; a run
over a long track gets twice the track's duration.
"""

UNKNOWN_DURATION_TIMEOUT = 900.0
"""
The seconds an ffmpeg run is given for a track of unknown duration.
"""


def run_timeout(duration: float) -> float:
    """
    The seconds an ffmpeg run over a track of C{duration} seconds may take
    before it is killed: twice the duration, at least L{MIN_TIMEOUT}.
    """
    if duration <= 0:
        return UNKNOWN_DURATION_TIMEOUT
    return max(MIN_TIMEOUT, 2 * duration)


def mp3_output(bitrate: int) -> list[str]:
    """
    ffmpeg's output options for bare MP3 frames at C{bitrate} kbit/s: the
    LAME encoder, the raw MP3 muxer, no Xing header and no ID3 tag.
    """
    return [
        "-c:a",
        "libmp3lame",
        "-b:a",
        f"{bitrate}k",
        "-f",
        "mp3",
        "-write_xing",
        "0",
        "-id3v2_version",
        "0",
    ]


def format_output(target: AudioFormat) -> list[str]:
    """
    ffmpeg's output options for bare MP3 frames in C{target}'s format.
    """
    return [
        "-ar",
        str(target.sample_rate),
        "-ac",
        str(target.channels),
        *mp3_output(target.bitrate),
    ]


PIPED_MP3_INPUT = (
    "-fflags",
    "nobuffer",
    "-probesize",
    "32",
    "-analyzeduration",
    "0",
    "-f",
    "mp3",
    "-i",
    "pipe:0",
    "-map",
    "0:a:0",
)
"""
The input options of a command reading MP3 from its standard input with no
probing delay, its first audio stream taken.
"""


def _piped(ffmpeg: str, output: list[str]) -> list[str]:
    """
    A command line reading MP3 from standard input with no probing delay
    and writing C{output}'s frames to standard output as soon as each is
    encoded.
    """
    return [
        ffmpeg,
        "-hide_banner",
        "-nostdin",
        "-loglevel",
        "error",
        *PIPED_MP3_INPUT,
        *output,
        "-flush_packets",
        "1",
        "pipe:1",
    ]


def live_arguments(ffmpeg: str, target: AudioFormat) -> list[str]:
    """
    The ffmpeg command line of live conversion: read MP3 from standard
    input with no probing delay, write MP3 frames in C{target}'s format
    (no tags, no Xing header) to standard output as soon as each is
    encoded.
    """
    return _piped(ffmpeg, format_output(target))


def aac_arguments(ffmpeg: str, target: AudioFormat) -> list[str]:
    """
    The ffmpeg command line of an AAC encoder: read MP3 from standard
    input with no probing delay, write AAC-LC in ADTS at C{target}'s
    sample rate, channels and bitrate to standard output as soon as each
    frame is encoded.
    """
    output = ["-ar", str(target.sample_rate), "-ac", str(target.channels)]
    return _piped(ffmpeg, [*output, "-c:a", "aac", "-b:a", f"{target.bitrate}k", "-f", "adts"])


def convert_arguments(
    ffmpeg: str, source: str, output: str, target: AudioFormat, gain: float = 0.0
) -> list[str]:
    """
    The ffmpeg command line that converts the first audio stream of
    C{source} into a constant bitrate MP3 file in C{target}'s format,
    without tags or a Xing header, turned up or down by C{gain} dB.
    """
    arguments = [
        ffmpeg,
        "-hide_banner",
        "-nostdin",
        "-nostats",
        "-loglevel",
        "error",
        "-threads",
        "1",
        "-i",
        "file:" + os.path.abspath(source),
        "-map",
        "0:a:0",
        "-map_metadata",
        "-1",
    ]
    if gain:
        arguments += ["-af", f"volume={gain:.2f}dB"]
    return [
        *arguments,
        *format_output(target),
        "-y",
        "file:" + os.path.abspath(output),
    ]


def cue_arguments(ffmpeg: str, source: str) -> list[str]:
    """
    The ffmpeg command line that measures a track's cue points, as
    L{radiod.audio.splice.parse_cues} reads them: it decodes the first
    audio stream of C{source} along two branches, the whole track and the
    track without its leading silence (C{silenceremove}), each followed
    by L{SILENCE_PADDING} seconds of digital silence and C{silencedetect}
    at L{SILENCE_THRESHOLD}, and writes nothing but their reports, on
    standard error.
    """
    threshold = f"{SILENCE_THRESHOLD:g}dB"
    detect = f"apad=pad_dur={SILENCE_PADDING:g},silencedetect=noise={threshold}"
    detect += f":duration={SILENCE_MINIMUM:g}"
    graph = (
        f"[0:a:0]asplit=2[whole][lead];[whole]{detect}[tail];"
        f"[lead]silenceremove=start_periods=1:start_threshold={threshold}"
        f":detection=peak,{detect}[rest]"
    )
    return [
        ffmpeg,
        "-hide_banner",
        "-nostdin",
        "-nostats",
        "-loglevel",
        "info",
        "-threads",
        "1",
        "-i",
        "file:" + os.path.abspath(source),
        "-filter_complex",
        graph,
        "-map",
        "[tail]",
        "-f",
        "null",
        "-",
        "-map",
        "[rest]",
        "-f",
        "null",
        "-",
    ]


def crossfade_arguments(
    ffmpeg: str,
    outgoing: str,
    incoming: str,
    output: str,
    overlap: Overlap,
    target: AudioFormat,
    fade_in: bool = False,
) -> list[str]:
    """
    The ffmpeg command line that renders a crossfade planned by
    L{radiod.audio.splice.plan_overlap} into a file of bare MP3 frames in
    C{target}'s format.

    Both inputs are bare MP3 frames, decoded as they play (without
    skipping an encoder delay).  The outgoing track is cut to start
    L{Overlap.skip} samples in (or delayed, when that is negative), and
    fades out over the overlap, linearly; the incoming track is delayed
    by the pre-roll and plays at its own level.  Both are padded or cut
    to L{Overlap.length} samples and added together without any other
    change of level (C{amix} with C{normalize=0}).

    The encoder's bit reservoir is off, so no rendered frame borrows from
    the frames before it: the overlap's first frame decodes after the
    outgoing track's as it is, and every frame has the target's bitrate
    (a frame that carries what it borrows is larger, and at the highest
    bitrates there is none larger).

    @param outgoing: the file of the outgoing frames from
        L{Overlap.outgoing_from} on.
    @param incoming: the file of the incoming track's first
        L{Overlap.incoming_to} frames.
    @param output: the file to write.
    @param fade_in: whether the incoming track fades in too; then both
        fades follow a quarter sine, so their power adds up to a constant.
    """
    length = overlap.length
    fitted = f"apad=whole_len={length},atrim=end_sample={length}"
    curve = "qsin" if fade_in else "tri"
    if overlap.skip >= 0:
        align = f"atrim=start_sample={overlap.skip},asetpts=PTS-STARTPTS"
    else:
        align = f"adelay=delays={-overlap.skip}S:all=1"
    fade_out = f"afade=t=out:start_sample={overlap.pre_roll}:nb_samples={overlap.fade}"
    incoming_chain = f"adelay=delays={overlap.pre_roll}S:all=1"
    if fade_in:
        incoming_chain = (
            f"afade=t=in:start_sample=0:nb_samples={overlap.fade}:curve={curve}," + incoming_chain
        )
    graph = (
        f"[0:a]{align},{fade_out}:curve={curve},{fitted}[out];"
        f"[1:a]{incoming_chain},{fitted}[in];"
        "[out][in]amix=inputs=2:normalize=0:duration=longest[mix]"
    )
    return [
        ffmpeg,
        "-hide_banner",
        "-nostdin",
        "-nostats",
        "-loglevel",
        "error",
        "-threads",
        "1",
        "-f",
        "mp3",
        "-i",
        "file:" + os.path.abspath(outgoing),
        "-f",
        "mp3",
        "-i",
        "file:" + os.path.abspath(incoming),
        "-filter_complex",
        graph,
        "-map",
        "[mix]",
        *format_output(target),
        "-reservoir",
        "0",
        "-y",
        "file:" + os.path.abspath(output),
    ]
