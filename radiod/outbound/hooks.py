# -*- test-case-name: tests.outbound.test_hooks -*-
"""
The C{on_track} command (L{radiod.config.StationConfig.on_track}): a
program run at each new track, which reads the track on its standard
input.

L{TrackHook.run} starts the command with the track as one JSON document
(the fields the station gives it, such as C{mount}, C{title}, C{artist},
C{album}, C{started} and C{listeners}) and a newline written to its
standard input, which is then closed.  The command is split into words as
a shell would (L{shlex.split}) and run without a shell, as a child
process, in radiod's environment and working directory.  What it writes
to its standard output is discarded.

At most one runs at a time.  A track that comes while it runs waits for
it, and only the newest waiting track is kept: the one it replaces is
skipped, with a log line, so a slow command is never more than one track
behind.  A run longer than the timeout is killed (C{SIGKILL}; children
it started are not).  A run that exits with a status other than 0, or is
killed, is logged in one line with the first line of its standard error.
A program that cannot be found or started is one log line, and the track
is skipped.

Nothing here blocks the reactor.
"""

from __future__ import annotations

import json
import shlex
import shutil
from collections.abc import Mapping
from dataclasses import dataclass

from twisted.internet.defer import Deferred, succeed
from twisted.internet.error import ProcessExitedAlready, ProcessTerminated
from twisted.internet.interfaces import IDelayedCall, IReactorProcess, IReactorTime
from twisted.internet.protocol import ProcessProtocol
from twisted.logger import Logger
from twisted.python.failure import Failure

__all__ = ["STDERR_KEPT", "TIMEOUT", "TrackHook", "track_document"]

TIMEOUT = 30.0
"""
Seconds a run of the command may take before it is killed.
"""

STDERR_KEPT = 4096
"""
How many bytes of the start of a run's standard error are kept.
"""

_LINE_KEPT = 200
"""
The most characters of the standard error's first line a log line quotes.
"""


def track_document(document: Mapping[str, object]) -> bytes:
    """
    What the command reads on its standard input: C{document} as one line
    of compact JSON in UTF-8, and a newline.

    @raise TypeError: if the document holds a value JSON cannot write.
    @raise ValueError: if it holds a float that is not a number.
    """
    text = json.dumps(dict(document), ensure_ascii=False, allow_nan=False, separators=(",", ":"))
    return (text + "\n").encode("utf-8")


@dataclass(frozen=True, slots=True)
class _Track:
    """
    A track for the command.

    @ivar title: its title, for log lines.
    @ivar data: what the command reads.
    """

    title: str
    data: bytes


class _Run(ProcessProtocol):
    """
    One run of the command: writes the track to its standard input, keeps
    the start of its standard error, and tells its hook when it ended.

    @ivar track: the track it was given.
    @ivar killed: whether it was killed for taking too long (or for the
        hook's stop).
    """

    def __init__(self, hook: TrackHook, track: _Track) -> None:
        self.track = track
        self.killed = False
        self._hook = hook
        self._stderr = bytearray()
        self._waiting: list[Deferred[None]] = []

    def connectionMade(self) -> None:
        """
        Write the track and close the standard input.
        """
        assert self.transport is not None
        self.transport.write(self.track.data)
        self.transport.closeStdin()

    def outReceived(self, data: bytes) -> None:
        """
        Discard the standard output.
        """

    def errReceived(self, data: bytes) -> None:
        """
        Keep the start of the standard error, in bounded memory.
        """
        room = STDERR_KEPT - len(self._stderr)
        if room > 0:
            self._stderr += data[:room]

    @property
    def first_line(self) -> str:
        """
        The first line, not blank, of the standard error (stripped and
        shortened), or an empty string.
        """
        text = bytes(self._stderr).decode("utf-8", "replace")
        for line in text.splitlines():
            if line.strip():
                return line.strip()[:_LINE_KEPT]
        return ""

    def kill(self) -> None:
        """
        End the process now with C{SIGKILL}, and stop reading its pipes
        (which children it started may hold open).  A process that exited
        meanwhile is no error.
        """
        if self.killed or self.transport is None:
            return
        self.killed = True
        try:
            self.transport.signalProcess("KILL")
        except ProcessExitedAlready:
            pass
        self.transport.loseConnection()

    def wait(self) -> Deferred[None]:
        """
        A L{Deferred} that fires once the process has ended.
        """
        waiting: Deferred[None] = Deferred()
        self._waiting.append(waiting)
        return waiting

    def processEnded(self, reason: Failure) -> None:
        """
        The process has exited and its pipes are closed: tell the hook,
        then those waiting.
        """
        self._hook._ended(self, reason)
        waiting, self._waiting = self._waiting, []
        for each in waiting:
            each.callback(None)


class TrackHook:
    """
    Runs the C{on_track} command for each new track, one run at a time.

    @ivar command: the command, as configured.
    @ivar arguments: its words: the program, then its arguments.
    @ivar timeout: seconds a run may take before it is killed.
    @ivar runs: the runs started.
    @ivar skipped: the tracks skipped: replaced by a newer one while
        waiting, or whose program could not be started.
    @ivar failed: the runs that exited with a status other than 0, or
        were killed.
    """

    _log = Logger()

    def __init__(
        self,
        reactor: IReactorProcess,
        command: str,
        clock: IReactorTime,
        timeout: float = TIMEOUT,
    ) -> None:
        """
        @param reactor: starts the processes.
        @param command: the command line, split as a shell would.
        @param clock: for the timeout.
        @param timeout: seconds a run may take before it is killed.
        @raise ValueError: if the command cannot be split into words, or
            has none.
        """
        arguments = shlex.split(command)
        if not arguments:
            raise ValueError("the on_track command is empty")
        self.command = command
        self.arguments = arguments
        self.timeout = timeout
        self.runs = 0
        self.skipped = 0
        self.failed = 0
        self._reactor = reactor
        self._clock = clock
        self._running: _Run | None = None
        self._pending: _Track | None = None
        self._limit: IDelayedCall | None = None
        self._stopped = False

    @property
    def running(self) -> bool:
        """
        Whether a run of the command has not ended yet.
        """
        return self._running is not None

    def run(self, document: Mapping[str, object]) -> None:
        """
        Run the command for a new track now, or once the run under way
        has ended (replacing a track already waiting); nothing once
        L{stop} was called.  This returns at once.

        @param document: the track's fields, given to the command as JSON.
        @raise TypeError: if the document holds a value JSON cannot write.
        @raise ValueError: if it holds a float that is not a number.
        """
        track = _Track(str(document.get("title", "")), track_document(document))
        if self._stopped:
            return
        if self._running is None:
            self._start(track)
            return
        replaced = self._pending
        self._pending = track
        if replaced is not None:
            self.skipped += 1
            self._log.info(
                "The on_track command {program} is still running: skipped the track {title}",
                program=self.arguments[0],
                title=replaced.title,
            )

    def stop(self) -> Deferred[None]:
        """
        Forget the waiting track, kill the run under way, and run nothing
        more.

        @return: fires once the run under way, if any, has ended.
        """
        self._stopped = True
        self._pending = None
        running = self._running
        if running is None:
            return succeed(None)
        self._cancel_limit()
        ended = running.wait()
        running.kill()
        return ended

    def _start(self, track: _Track) -> None:
        """
        Start a run for C{track}, or log why it cannot start.
        """
        name = self.arguments[0]
        program = shutil.which(name)
        if program is None:
            self.skipped += 1
            self._log.warn("Cannot find the on_track program {program}", program=name)
            return
        run = _Run(self, track)
        self._running = run
        try:
            self._reactor.spawnProcess(
                run,
                program,
                self.arguments,
                env=None,
                childFDs={0: "w", 1: "r", 2: "r"},
            )
        except OSError as error:
            self._running = None
            self.skipped += 1
            self._log.warn(
                "Cannot run the on_track program {program}: {error}",
                program=name,
                error=error.strerror or str(error),
            )
            return
        self.runs += 1
        self._limit = self._clock.callLater(self.timeout, self._overdue, run)

    def _overdue(self, run: _Run) -> None:
        """
        C{run} took longer than the timeout: kill it.
        """
        self._limit = None
        run.kill()

    def _cancel_limit(self) -> None:
        """
        Cancel the time limit of the run under way, if any.
        """
        if self._limit is not None and self._limit.active():
            self._limit.cancel()
        self._limit = None

    def _ended(self, run: _Run, reason: Failure) -> None:
        """
        C{run} has ended: log how, if it failed, and start the track
        waiting, if any.
        """
        self._running = None
        self._cancel_limit()
        self._report(run, reason)
        pending, self._pending = self._pending, None
        if pending is not None and not self._stopped:
            self._start(pending)

    def _report(self, run: _Run, reason: Failure) -> None:
        """
        Log, in one line, how a run that failed ended.
        """
        program = self.arguments[0]
        said = run.first_line
        if run.killed and not self._stopped:
            self.failed += 1
            self._log.warn(
                "The on_track program {program} took longer than {timeout:g} s; killed",
                program=program,
                timeout=self.timeout,
                stderr=said,
            )
            return
        value = reason.value
        if not isinstance(value, ProcessTerminated) or run.killed:
            return
        self.failed += 1
        if value.exitCode is not None:
            self._log.warn(
                "The on_track program {program} exited with status {status}: {stderr}",
                program=program,
                status=value.exitCode,
                stderr=said or "(nothing on its standard error)",
            )
        else:
            self._log.warn(
                "The on_track program {program} was killed by signal {signal}: {stderr}",
                program=program,
                signal=value.signal,
                stderr=said or "(nothing on its standard error)",
            )
