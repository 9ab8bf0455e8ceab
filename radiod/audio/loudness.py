# -*- test-case-name: tests.audio.test_loudness -*-
"""
Loudness normalization: how much louder or quieter a track should play so
that every track of a mount sounds about as loud as the others.

A track's gain comes from its ReplayGain tag when it has one
(C{REPLAYGAIN_TRACK_GAIN} in an ID3 C{TXXX} frame, an APEv2 tag, Vorbis
comments or an MP4 freeform atom; C{R128_TRACK_GAIN} in Opus files), and
otherwise from measuring the file once with ffmpeg's C{ebur128} filter
(EBU R128 integrated loudness and true peak), which radiod does in a
child process and caches (see L{radiod.ffmpeg.transcoder}).

Every track is brought to L{TARGET_LOUDNESS}, -18 LUFS: the reference
level of ReplayGain 2.0, which is the loudness ReplayGain 1's 89 dB
reference stands for.  So a track with a ReplayGain tag and a track that
was measured end up equally loud, and quiet tracks have headroom to be
raised.  A track is never raised so far that its peak would go above
L{PEAK_CEILING} (when its peak is known), and no gain goes beyond
L{GAIN_LIMIT} either way.

The tag readers block on file I/O, so they run in a thread; the parsers
are pure.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import mutagen
from mutagen.apev2 import APEv2

__all__ = [
    "GAIN_LIMIT",
    "GAIN_TOLERANCE",
    "PEAK_CEILING",
    "TARGET_LOUDNESS",
    "Loudness",
    "gain_for",
    "measure_arguments",
    "parse_ebur128",
    "parse_gain",
    "read_replaygain",
    "replaygain_from_fields",
]

TARGET_LOUDNESS = -18.0
"""
The loudness every track is brought to, in LUFS: ReplayGain 2.0's
reference level.
"""

PEAK_CEILING = -1.0
"""
The highest a track's peak may be raised to, in dBFS.
"""

GAIN_LIMIT = 24.0
"""
The largest gain applied either way, in dB.
"""

GAIN_TOLERANCE = 0.5
"""
Gains smaller than this (in dB, either way) are not worth converting an
MP3 that is otherwise in the mount's format.
"""

_R128_REFERENCE = -23.0
"""
The loudness Opus's C{R128_TRACK_GAIN} brings a track to, in LUFS.
"""

_GAIN = re.compile(r"\s*([+-]?(?:\d+(?:\.\d*)?|\.\d+))\s*(?:db)?\s*", re.IGNORECASE)
_INTEGRATED = re.compile(r"^\s*I:\s*(-?(?:\d+(?:\.\d*)?|inf))\s*LUFS", re.MULTILINE)
_TRUE_PEAK = re.compile(r"^\s*Peak:\s*(-?(?:\d+(?:\.\d*)?|inf))\s*dBFS", re.MULTILINE)

# mutagen's loaders carry no annotations; these names give them types.
_load_file: Callable[..., Any] = mutagen.File
_load_ape: Callable[..., Any] = APEv2


@dataclass(frozen=True, slots=True)
class Loudness:
    """
    A measured track: its EBU R128 integrated loudness and true peak.

    @ivar integrated: loudness in LUFS.
    @ivar peak: true peak in dBFS, or C{None} when there is no signal.
    """

    integrated: float
    peak: float | None

    @property
    def gain(self) -> float:
        """
        The gain that brings this track to L{TARGET_LOUDNESS}.
        """
        return gain_for(TARGET_LOUDNESS - self.integrated, self.peak)


def gain_for(gain: float, peak: float | None = None) -> float:
    """
    Limit a gain so that the track's peak stays at or below
    L{PEAK_CEILING}, and within L{GAIN_LIMIT}.

    @param gain: the gain wanted, in dB.
    @param peak: the track's peak in dBFS, or C{None} when unknown.
    @return: the gain to apply, in dB, rounded to hundredths.
    """
    if peak is not None and math.isfinite(peak):
        gain = min(gain, PEAK_CEILING - peak)
    return round(max(-GAIN_LIMIT, min(GAIN_LIMIT, gain)), 2)


def parse_gain(text: str) -> float | None:
    """
    Read a ReplayGain value such as C{"-6.20 dB"} or C{"+1.5"}.

    @return: the number of decibels, or C{None} if C{text} is not one.
    """
    match = _GAIN.fullmatch(text)
    if match is None:
        return None
    value = float(match.group(1))
    return value if math.isfinite(value) else None


def _peak_db(text: str | None) -> float | None:
    """
    A ReplayGain peak (linear, 1.0 is full scale) in dBFS.
    """
    if text is None:
        return None
    try:
        linear = float(text.strip())
    except ValueError:
        return None
    if not math.isfinite(linear) or linear <= 0:
        return None
    return 20 * math.log10(linear)


def replaygain_from_fields(fields: Mapping[str, str]) -> float | None:
    """
    The gain a track's ReplayGain tags ask for.

    @param fields: tag values by lower-cased name (C{replaygain_track_gain},
        C{replaygain_track_peak}, C{r128_track_gain}).
    @return: the gain in dB, limited as L{gain_for} does, or C{None}
        when the tags give none.
    """
    text = fields.get("replaygain_track_gain")
    gain = parse_gain(text) if text is not None else None
    if gain is not None:
        return gain_for(gain, _peak_db(fields.get("replaygain_track_peak")))
    r128 = fields.get("r128_track_gain")
    if r128 is not None:
        try:
            steps = int(r128.strip())
        except ValueError:
            return None
        return gain_for(steps / 256 + TARGET_LOUDNESS - _R128_REFERENCE)
    return None


def _text(value: object) -> str:
    """
    The first text of a tag value of any of mutagen's kinds.
    """
    if isinstance(value, list | tuple):
        if not value:
            return ""
        value = value[0]
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return str(value)


def _tag_fields(tags: Any) -> dict[str, str]:
    """
    The free-form tag fields of a mutagen tag, by lower-cased name: ID3
    C{TXXX} frames by description, MP4 C{----} atoms by name, Vorbis
    comments and APEv2 items by key.
    """
    fields: dict[str, str] = {}
    if tags is None:
        return fields
    if hasattr(tags, "getall"):
        for frame in tags.getall("TXXX"):
            fields.setdefault(str(frame.desc).lower(), _text(frame.text))
        return fields
    for key, value in tags.items():
        name = str(key)
        if name.startswith("----:"):
            name = name.rsplit(":", 1)[-1]
        fields.setdefault(name.lower(), _text(value))
    return fields


def read_replaygain(path: str) -> float | None:
    """
    The gain a file's ReplayGain tags ask for.  Blocks on file I/O; never
    raises.

    @param path: an audio file of any kind mutagen reads.
    @return: the gain in dB, or C{None} when the file has no usable tag.
    """
    fields: dict[str, str] = {}
    try:
        audio = _load_file(path)
        if audio is not None:
            fields.update(_tag_fields(audio.tags))
    except Exception:
        pass
    if "replaygain_track_gain" not in fields and path.lower().endswith(".mp3"):
        try:
            fields.update(_tag_fields(_load_ape(path)))
        except Exception:
            pass
    return replaygain_from_fields(fields)


def measure_arguments(ffmpeg: str, path: str) -> list[str]:
    """
    The ffmpeg command line that measures a file's loudness: it decodes
    the first audio stream through the C{ebur128} filter (with true peak)
    and writes nothing but the summary, on standard error.
    """
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
        "file:" + os.path.abspath(path),
        "-map",
        "0:a:0",
        "-af",
        "ebur128=peak=true:framelog=verbose",
        "-f",
        "null",
        "-",
    ]


def parse_ebur128(log: str) -> Loudness | None:
    """
    Read the summary the C{ebur128} filter logs at the end of a run.

    @param log: ffmpeg's standard error.
    @return: the loudness and true peak of the last summary, or C{None}
        when there is none.
    """
    integrated = _INTEGRATED.findall(log)
    if not integrated:
        return None
    value = float(integrated[-1])
    if not math.isfinite(value):
        return None
    peaks = _TRUE_PEAK.findall(log)
    peak = float(peaks[-1]) if peaks else None
    if peak is not None and not math.isfinite(peak):
        peak = None
    return Loudness(value, peak)
