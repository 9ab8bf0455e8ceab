# -*- test-case-name: tests.ffmpeg.test_arguments -*-
"""
What ffmpeg is run with: the command lines of live conversion and of
library conversion, the output options they share, and the time a run
over a track is allowed.

Everything here is pure: values in, lists of arguments (or seconds) out.
"""

from __future__ import annotations

import os

from radiod.audio.format import AudioFormat

__all__ = [
    "MIN_TIMEOUT",
    "UNKNOWN_DURATION_TIMEOUT",
    "convert_arguments",
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
