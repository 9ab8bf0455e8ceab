# -*- test-case-name: tests.ffmpeg.test_converter -*-
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

from twisted.internet.error import ProcessDone, ProcessExitedAlready
from twisted.internet.interfaces import IDelayedCall, IReactorProcess, IReactorTime
from twisted.internet.protocol import ProcessProtocol
from twisted.logger import Logger
from twisted.python.failure import Failure

from radiod.audio.format import AudioFormat
from radiod.audio.frames import Frame, FrameSplitter
from radiod.interfaces import Converter, MakeConverter

__all__ = [
    "FINISH_TIMEOUT",
    "FfmpegConverter",
    "ffmpeg_converters",
    "format_output",
    "mp3_output",
]

FINISH_TIMEOUT = 5.0
"""
Seconds the converter has, once its input ended, to write out the rest
before it is killed.
"""


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
