# -*- test-case-name: tests.ffmpeg.test_process -*-
"""
What every ffmpeg child process has in common: starting it with pipes to
its standard input, output and error, keeping the end of what it writes
on its standard error, killing it (now, or once a time limit has passed)
whether or not it has exited meanwhile, and saying in one line how it
ended.

L{FfmpegProcess} is the base of each of radiod's ffmpeg processes: the
live converter (L{radiod.ffmpeg.converter.FfmpegConverter}), the library
conversion and loudness measurement run
(L{radiod.ffmpeg.transcoder.FfmpegRun}), and the on-demand transcode of a
library file.  A subclass reads the standard output as it likes
(C{outReceived}) and extends C{processEnded}, calling this class's first.
"""

from __future__ import annotations

from collections.abc import Sequence

from twisted.internet.error import ProcessDone, ProcessExitedAlready, ProcessTerminated
from twisted.internet.interfaces import (
    IDelayedCall,
    IProcessTransport,
    IReactorProcess,
    IReactorTime,
)
from twisted.internet.protocol import ProcessProtocol
from twisted.python.failure import Failure

__all__ = ["STDERR_KEPT", "FfmpegProcess"]

STDERR_KEPT = 8192
"""
How many bytes of the end of a process's standard error are kept.
"""


class FfmpegProcess(ProcessProtocol):
    """
    One ffmpeg child process: its start, the end of its standard error,
    its killing and the one-line account of its end.

    @ivar exited: whether the process has ended (L{processEnded} was
        called).
    @ivar killed_for: why the process was killed, as L{describe} puts it
        (C{"took longer than 60 s"}); empty unless L{kill} was called.
    """

    def __init__(self) -> None:
        self._limit: IDelayedCall | None = None
        self._stderr = bytearray()
        self.exited = False
        self.killed_for = ""

    def start(self, reactor: IReactorProcess, arguments: Sequence[str]) -> IProcessTransport:
        """
        Start the process, with pipes to its standard input, output and
        error, in radiod's own environment.

        @param reactor: spawns the process.
        @param arguments: its command line; the first is the executable.
        @return: the process's transport (also this protocol's
            C{transport} from then on).
        @raise OSError: if the process cannot be started.
        """
        return reactor.spawnProcess(
            self,
            arguments[0],
            list(arguments),
            env=None,
            childFDs={0: "w", 1: "r", 2: "r"},
        )

    def kill(self, why: str) -> None:
        """
        End the process now with C{SIGKILL}, unless it has ended or was
        killed already.  A process that exits meanwhile is no error.

        @param why: what happened, as L{describe} will say it after
            "ffmpeg" (C{"was stopped"}).
        """
        if self.exited or self.killed_for:
            return
        self.killed_for = why
        self._cancel_limit()
        if self.transport is not None:
            try:
                self.transport.signalProcess("KILL")
            except ProcessExitedAlready:
                pass

    def kill_after(self, clock: IReactorTime, seconds: float, why: str) -> None:
        """
        Kill the process if it is still running C{seconds} from now: then
        L{overdue} is called, and L{kill} with C{why}.  A limit set before
        is replaced.

        @param clock: for the time limit.
        @param seconds: how long the process may still run.
        @param why: what L{describe} says of a process killed for it.
        """
        self._cancel_limit()
        self._limit = clock.callLater(seconds, self._expired, why)

    def _expired(self, why: str) -> None:
        self._limit = None
        self.overdue()
        self.kill(why)

    def overdue(self) -> None:
        """
        The time limit set with L{kill_after} has passed and the process
        still runs; it is killed as soon as this returns.  Here it does
        nothing: a subclass may log it, or note that the process failed.
        """

    def _cancel_limit(self) -> None:
        if self._limit is not None and self._limit.active():
            self._limit.cancel()
        self._limit = None

    @property
    def stderr(self) -> str:
        """
        The end of what the process wrote on its standard error (its last
        L{STDERR_KEPT} bytes), decoded.
        """
        return bytes(self._stderr[-STDERR_KEPT:]).decode("utf-8", "replace")

    @property
    def last_line(self) -> str:
        """
        The last line, not blank, the process wrote on its standard error
        (without surrounding white space), or an empty string.
        """
        for line in reversed(self.stderr.splitlines()):
            if line.strip():
                return line.strip()
        return ""

    def describe(self, reason: Failure) -> str:
        """
        How the process ended, in one line fit for a log: why it was
        killed, or its exit status or signal, followed by the last line of
        its standard error.

        @param reason: what C{processEnded} was given.
        """
        if self.killed_for:
            return f"ffmpeg {self.killed_for}"
        said = f": {self.last_line}" if self.last_line else ""
        value = reason.value
        if isinstance(value, ProcessTerminated):
            if value.exitCode is not None:
                return f"ffmpeg exited with status {value.exitCode}{said}"
            return f"ffmpeg was killed by signal {value.signal}{said}"
        if isinstance(value, ProcessDone):
            return f"ffmpeg exited with status 0{said}"
        return f"ffmpeg failed: {reason.getErrorMessage()}{said}"

    # ProcessProtocol

    def errReceived(self, data: bytes) -> None:
        """
        Keep the end of the standard error, in bounded memory.
        """
        self._stderr += data
        if len(self._stderr) > 2 * STDERR_KEPT:
            del self._stderr[:-STDERR_KEPT]

    def processEnded(self, reason: Failure) -> None:
        """
        The process is gone: it is L{exited}, and its time limit is
        cancelled.  Subclasses extend this, calling it first.
        """
        self.exited = True
        self._cancel_limit()
