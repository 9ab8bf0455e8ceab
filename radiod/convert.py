# -*- test-case-name: tests.test_convert -*-
"""
Converting live MP3 audio to a mount's format as it arrives.

A mount's listeners hear one format (sample rate and channels) from start
to end: players and decoders stumble when it changes mid-stream (ffmpeg's
timestamps go backwards; browsers and phones glitch or stop).  When a live
source or relay sends audio in another format than the mount plays, its
frames go through an ffmpeg child process that resamples and re-encodes
them, and the frames it writes back are what goes on air.  Audio that
already matches passes through untouched.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from twisted.internet.error import ProcessDone, ProcessExitedAlready
from twisted.internet.interfaces import IDelayedCall, IReactorProcess, IReactorTime
from twisted.internet.protocol import ProcessProtocol
from twisted.logger import Logger
from twisted.python.failure import Failure

from radiod.frames import Frame, FrameHeader, FrameSplitter

__all__ = [
    "FINISH_TIMEOUT",
    "LOW_BITRATE",
    "AudioFormat",
    "Converter",
    "FfmpegConverter",
    "MakeConverter",
    "ffmpeg_converters",
    "format_output",
    "ladder_sample_rate",
    "mp3_output",
    "standard_bitrate",
]

FINISH_TIMEOUT = 5.0
"""
Seconds the converter has, once its input ended, to write out the rest
before it is killed.
"""

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


class Converter(Protocol):
    """
    Converts a stream of MP3 frames to another format.  Converted frames
    come out through the callback given to its maker, and the end (after
    L{finish} or a failure) through the other.
    """

    def feed(self, frames: list[Frame]) -> None:
        """
        Convert these frames (the next ones of the stream).
        """

    def finish(self) -> None:
        """
        The input ended: write out what is left, then end.
        """

    def stop(self) -> None:
        """
        End now, dropping what is left.
        """


MakeConverter = Callable[
    [AudioFormat, Callable[[list[Frame]], None], Callable[[bool], None], str], Converter | None
]
"""
Starts a converter to a format: given the target format, the callback for
converted frames, the callback for its end (called with whether it ended
as asked, rather than failing) and the mount's name for logs, it returns
the running converter, or C{None} when it cannot convert at all.
"""


class FfmpegConverter(ProcessProtocol):
    """
    A converter running ffmpeg as a child process: MP3 in on its standard
    input, MP3 in the target format out of its standard output.

    @ivar failed: whether ffmpeg ended on its own, before L{finish}, or
        did not end in time after it.
    """

    _log = Logger()

    def __init__(
        self,
        reactor: IReactorProcess,
        clock: IReactorTime,
        ffmpeg: str,
        target: AudioFormat,
        deliver: Callable[[list[Frame]], None],
        ended: Callable[[bool], None],
        name: str = "",
    ) -> None:
        """
        Start ffmpeg.

        @param reactor: spawns the process.
        @param clock: for the time allowed to finish.
        @param ffmpeg: the ffmpeg executable.
        @param target: the format to convert to.
        @param deliver: called with each batch of whole converted frames.
        @param ended: called once when the process is gone, with whether
            it ended as asked.
        @param name: the mount's name, for logs.
        """
        self._clock = clock
        self._deliver = deliver
        self._ended = ended
        self._name = name
        self._splitter = FrameSplitter()
        self._finishing = False
        self._done = False
        self._kill: IDelayedCall | None = None
        self._errors = bytearray()
        self.failed = False
        self.target = target
        reactor.spawnProcess(
            self,
            ffmpeg,
            self.arguments(ffmpeg, target),
            env=None,
            childFDs={0: "w", 1: "r", 2: "r"},
        )

    @staticmethod
    def arguments(ffmpeg: str, target: AudioFormat) -> list[str]:
        """
        ffmpeg's command line: read MP3 from standard input with no
        probing delay, write MP3 frames (no tags, no Xing header) to
        standard output as soon as each is encoded.
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
            *format_output(target),
            "-flush_packets",
            "1",
            "pipe:1",
        ]

    def feed(self, frames: list[Frame]) -> None:
        if self._finishing or self._done or self.transport is None:
            return
        self.transport.write(b"".join(frame.data for frame in frames))

    def finish(self) -> None:
        if self._finishing or self._done:
            return
        self._finishing = True
        if self.transport is not None:
            self.transport.closeStdin()
        self._kill = self._clock.callLater(FINISH_TIMEOUT, self._overdue)

    def stop(self) -> None:
        self._finishing = True
        self._signal()

    def _overdue(self) -> None:
        self._kill = None
        self._log.warn(
            "Converter for {mount} did not finish in {seconds} s; killing it",
            mount=self._name,
            seconds=FINISH_TIMEOUT,
        )
        self.failed = True
        self._signal()

    def _signal(self) -> None:
        if self.transport is None or self._done:
            return
        try:
            self.transport.signalProcess("KILL")
        except ProcessExitedAlready:
            pass

    # ProcessProtocol

    def outReceived(self, data: bytes) -> None:
        frames = self._splitter.feed(data)
        if frames:
            self._deliver(frames)

    def errReceived(self, data: bytes) -> None:
        if len(self._errors) < 4096:
            self._errors += data[: 4096 - len(self._errors)]

    def processEnded(self, reason: Failure) -> None:
        self._done = True
        if self._kill is not None and self._kill.active():
            self._kill.cancel()
        self._kill = None
        rest = self._splitter.finish()
        if rest and not self.failed:
            self._deliver(rest)
        clean = self._finishing and not self.failed and reason.check(ProcessDone) is not None
        if not self._finishing:
            self.failed = True
            message = bytes(self._errors).decode("utf-8", "replace").strip().splitlines()
            self._log.error(
                "Converter for {mount} stopped: {reason} {stderr}",
                mount=self._name,
                reason=reason.getErrorMessage(),
                stderr=message[-1] if message else "",
            )
        self._ended(clean and not self.failed)


def ffmpeg_converters(
    reactor: IReactorProcess, clock: IReactorTime, ffmpeg: str | None
) -> MakeConverter:
    """
    A L{MakeConverter} running C{ffmpeg}; with no ffmpeg it makes none.
    """
    log = Logger()

    def make(
        target: AudioFormat,
        deliver: Callable[[list[Frame]], None],
        ended: Callable[[bool], None],
        name: str,
    ) -> Converter | None:
        if ffmpeg is None:
            log.warn("No ffmpeg: live audio on {mount} goes on air in its own format", mount=name)
            return None
        return FfmpegConverter(reactor, clock, ffmpeg, target, deliver, ended, name)

    return make
