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
from typing import Any, Protocol

from twisted.internet.error import ProcessDone
from twisted.internet.interfaces import IReactorProcess, IReactorTime
from twisted.logger import Logger
from twisted.python.failure import Failure

from radiod.audio.adts import AdtsSplitter
from radiod.audio.format import AudioFormat
from radiod.audio.frames import Frame, FrameSplitter
from radiod.ffmpeg.arguments import aac_arguments, live_arguments
from radiod.ffmpeg.process import FfmpegProcess
from radiod.interfaces import Converter, MakeConverter

__all__ = [
    "FINISH_TIMEOUT",
    "AacEncoder",
    "FfmpegConverter",
    "ffmpeg_aac_encoders",
    "ffmpeg_converters",
]

FINISH_TIMEOUT = 5.0
"""
Seconds the converter has, once its input ended, to write out the rest
before it is killed.
"""


class FfmpegConverter(FfmpegProcess):
    """
    A converter running ffmpeg as a child process: MP3 in on its standard
    input, MP3 in the target format out of its standard output.

    @ivar failed: whether ffmpeg ended on its own, before L{finish}, or
        did not end in time after it.
    @ivar target: the format converted to.
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
        @raise OSError: if ffmpeg cannot be started.
        """
        super().__init__()
        self._clock = clock
        self._deliver = deliver
        self._ended = ended
        self._name = name
        self._splitter = self.splitter()
        self._finishing = False
        self.failed = False
        self.target = target
        self.start(reactor, self.arguments(ffmpeg, target))

    def arguments(self, ffmpeg: str, target: AudioFormat) -> list[str]:
        """
        The command line: MP3 to MP3 in C{target}'s format.
        """
        return live_arguments(ffmpeg, target)

    def splitter(self) -> Splitter:
        """
        What cuts the output into frames: MP3 frames.
        """
        return FrameSplitter()

    def feed(self, frames: list[Frame]) -> None:
        """
        Write C{frames} to ffmpeg's standard input, unless it is finishing
        or gone.
        """
        if self._finishing or self.exited or self.transport is None:
            return
        self.transport.write(b"".join(frame.data for frame in frames))

    def finish(self) -> None:
        """
        The input has ended: close ffmpeg's standard input, and give it
        L{FINISH_TIMEOUT} seconds to write out the rest.
        """
        if self._finishing or self.exited:
            return
        self._finishing = True
        if self.transport is not None:
            self.transport.closeStdin()
        self.kill_after(self._clock, FINISH_TIMEOUT, f"did not finish in {FINISH_TIMEOUT:g} s")

    def stop(self) -> None:
        """
        Kill ffmpeg now; what it has not written out is lost.
        """
        self._finishing = True
        self.kill("was stopped")

    def overdue(self) -> None:
        """
        ffmpeg did not finish in time: it has failed.
        """
        self._log.warn(
            "Converter for {mount} did not finish in {seconds} s; killing it",
            mount=self._name,
            seconds=FINISH_TIMEOUT,
        )
        self.failed = True

    # ProcessProtocol

    def outReceived(self, data: bytes) -> None:
        """
        Pass on the whole frames ffmpeg wrote.
        """
        frames = self._splitter.feed(data)
        if frames:
            self._deliver(frames)

    def processEnded(self, reason: Failure) -> None:
        """
        ffmpeg is gone: pass on the last frames (unless it failed), log an
        end nobody asked for, and say whether it ended as asked.
        """
        super().processEnded(reason)
        rest = self._splitter.finish()
        if rest and not self.failed:
            self._deliver(rest)
        clean = self._finishing and not self.failed and reason.check(ProcessDone) is not None
        if not self._finishing:
            self.failed = True
            self._log.error(
                "Converter for {mount} stopped: {reason}",
                mount=self._name,
                reason=self.describe(reason),
            )
        self._ended(clean and not self.failed)


class Splitter(Protocol):
    """
    Cuts a byte stream of audio into whole frames.
    """

    def feed(self, data: bytes) -> list[Any]: ...

    def finish(self) -> list[Any]: ...


class AacEncoder(FfmpegConverter):
    """
    An encoder running ffmpeg as a child process: MP3 in on its standard
    input, AAC-LC in ADTS out of its standard output, handed on as
    L{AdtsFrame}s (in place of the L{Frame}s a converter hands on).
    """

    def arguments(self, ffmpeg: str, target: AudioFormat) -> list[str]:
        """
        The command line: MP3 to AAC in C{target}'s format.
        """
        return aac_arguments(ffmpeg, target)

    def splitter(self) -> Splitter:
        """
        What cuts the output into frames: ADTS frames.
        """
        return AdtsSplitter()


def ffmpeg_aac_encoders(
    reactor: IReactorProcess, clock: IReactorTime, ffmpeg: str | None
) -> MakeConverter | None:
    """
    A L{MakeConverter} making L{AacEncoder}s; C{None} without ffmpeg.
    """
    if ffmpeg is None:
        return None

    def make(
        target: AudioFormat,
        deliver: Callable[[list[Frame]], None],
        ended: Callable[[bool], None],
        name: str,
    ) -> Converter | None:
        return AacEncoder(reactor, clock, ffmpeg, target, deliver, ended, name)

    return make


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
