# -*- test-case-name: tests.audio.test_format -*-
"""
The formats a mount plays, and the MP3 tables behind them.

A mount's listeners hear one format (sample rate and channels, and about
one bitrate) from start to end.  L{mount_format} settles it from the
configuration and the first track; L{plays_unchanged} says whether a file
can go on air as it is; the bitrate and sample rate rules say what an MP3
encoder can write.

Everything here is pure.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from radiod.audio.block import FrameBlock
from radiod.audio.frames import Frame, FrameHeader

__all__ = [
    "ANY_FORMAT",
    "DEFAULT_FORMAT",
    "LOW_BITRATE",
    "MP3_SAMPLE_RATES",
    "AudioFormat",
    "Probe",
    "encoder_bitrate",
    "ladder_sample_rate",
    "mount_format",
    "mp3_bitrates",
    "plays_unchanged",
    "probe",
    "standard_bitrate",
]


LOW_BITRATE = 64
"""
Copies of a stream below this many kbit/s are encoded at half its sample
rate (see L{ladder_sample_rate}).
"""


_MPEG1_BITRATES = (32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320)


_MPEG2_BITRATES = (8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160)


@dataclass(frozen=True)
class AudioFormat:
    """
    What listeners of a mount hear: an MP3 stream at this sample rate, with
    this many channels, at about this bitrate.

    @ivar sample_rate: samples per second.
    @ivar channels: 1 or 2.
    @ivar bitrate: kbit/s.
    """

    sample_rate: int
    channels: int
    bitrate: int

    def matches(self, header: FrameHeader) -> bool:
        """
        Whether a frame can go on air unchanged: same sample rate and
        channel count (the bitrate may differ, as in any VBR stream).
        """
        return header.sample_rate == self.sample_rate and header.channels == self.channels

    def describe(self) -> str:
        """
        For logs: C{44100 Hz stereo 128 kbit/s}.
        """
        layout = "stereo" if self.channels == 2 else "mono"
        return f"{self.sample_rate} Hz {layout} {self.bitrate} kbit/s"


def standard_bitrate(sample_rate: int, bitrate: int) -> int:
    """
    The MP3 bitrate nearest C{bitrate} that a stream at C{sample_rate} can
    use (MPEG-1 rates from 32 kHz up, MPEG-2 rates below).
    """
    choices = _MPEG1_BITRATES if sample_rate >= 32000 else _MPEG2_BITRATES
    return min(choices, key=lambda choice: (abs(choice - bitrate), choice))


def ladder_sample_rate(bitrate: int, sample_rate: int) -> int:
    """
    The sample rate a copy at C{bitrate} kbit/s of a stream at
    C{sample_rate} is encoded at: the same, except half of it (when that
    is 32 kHz or more) below L{LOW_BITRATE} kbit/s, where lame keeps only
    the lowest few kHz anyway and codes them more accurately at half rate
    (22.05 kHz for 44.1 kHz) than at full rate.
    """
    if bitrate < LOW_BITRATE and sample_rate >= 32000:
        return sample_rate // 2
    return sample_rate


MP3_SAMPLE_RATES = (8000, 11025, 12000, 16000, 22050, 24000, 32000, 44100, 48000)
"""
The sample rates an MP3 stream can have (MPEG-2.5, MPEG-2 and MPEG-1).
"""


_MPEG25_BITRATES = (8, 16, 24, 32, 40, 48, 56, 64)


ANY_FORMAT = AudioFormat(0, 0, 0)
"""
A mount format with nothing configured: every part is taken from the first
track played.
"""


DEFAULT_FORMAT = AudioFormat(44100, 2, 128)
"""
What a mount plays when its first track is not an MP3 and its
configuration leaves parts of the format open.
"""


def mp3_bitrates(sample_rate: int) -> tuple[int, ...]:
    """
    The bitrates, in kbit/s, an MP3 encoder can write at C{sample_rate}
    (LAME encodes MPEG-2.5 at 64 kbit/s at most); for 0, those of any
    sample rate.
    """
    if sample_rate == 0:
        return tuple(sorted({*_MPEG1_BITRATES, *_MPEG2_BITRATES}))
    if sample_rate >= 32000:
        return _MPEG1_BITRATES
    if sample_rate >= 16000:
        return _MPEG2_BITRATES
    return _MPEG25_BITRATES


def encoder_bitrate(sample_rate: int, bitrate: int) -> int:
    """
    The bitrate an MP3 encoder can write at C{sample_rate} nearest to
    C{bitrate} (the lower of two equally near).
    """
    return min(mp3_bitrates(sample_rate), key=lambda choice: (abs(choice - bitrate), choice))


@dataclass(frozen=True, slots=True)
class Probe:
    """
    What the frames of an MP3 file are.

    @ivar sample_rate: the first frame's sample rate.
    @ivar channels: the first frame's channel count.
    @ivar streams: every (sample rate, channels) pair among the frames.
    @ivar layers: every MPEG layer among the frames.
    @ivar bitrates: every frame bitrate, in kbit/s (one for CBR).
    @ivar bitrate: the average bitrate, in kbit/s.
    """

    sample_rate: int
    channels: int
    streams: frozenset[tuple[int, int]]
    layers: frozenset[int]
    bitrates: frozenset[int]
    bitrate: int


def probe(frames: Sequence[Frame]) -> Probe:
    """
    Describe a file's frames (at least one).
    """
    first = frames[0].header
    size = 0
    seconds = 0.0
    streams = set()
    layers = set()
    bitrates = set()
    headers = frames.headers() if isinstance(frames, FrameBlock) else (f.header for f in frames)
    for header in headers:
        streams.add((header.sample_rate, header.channels))
        layers.add(header.layer)
        bitrates.add(header.bitrate)
        size += header.length
        seconds += header.samples / header.sample_rate
    average = round(size * 8 / seconds / 1000) if seconds else first.bitrate
    return Probe(
        first.sample_rate,
        first.channels,
        frozenset(streams),
        frozenset(layers),
        frozenset(bitrates),
        average,
    )


def mount_format(requested: AudioFormat, first: Probe | None) -> AudioFormat:
    """
    The format a mount settles on: the configured parts of C{requested},
    and for those left 0 the first track's (or L{DEFAULT_FORMAT}'s, when
    the first track is not an MP3).

    @param requested: the mount's configured format; 0 for a part left
        open.
    @param first: the first track played, or C{None} when it is not an
        MP3.
    @return: a complete format; its bitrate is one the encoder can write
        at its sample rate.
    """
    default = DEFAULT_FORMAT
    if first is not None:
        single = next(iter(first.bitrates)) if len(first.bitrates) == 1 else first.bitrate
        default = AudioFormat(first.sample_rate, first.channels, single)
    sample_rate = requested.sample_rate or default.sample_rate
    channels = requested.channels or default.channels
    bitrate = requested.bitrate or default.bitrate
    return AudioFormat(sample_rate, channels, encoder_bitrate(sample_rate, bitrate))


def plays_unchanged(found: Probe, target: AudioFormat, exact_bitrate: bool) -> bool:
    """
    Whether an MP3 file can go on air as it is: every frame is Layer III
    at the target's sample rate and channel count, and, when the bitrate
    is set exactly, at the target's bitrate (so a VBR file is converted).
    """
    if found.streams != {(target.sample_rate, target.channels)} or found.layers != {3}:
        return False
    return not exact_bitrate or found.bitrates == {target.bitrate}
