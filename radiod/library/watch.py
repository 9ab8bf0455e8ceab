# -*- test-case-name: tests.library.test_watch -*-
"""
Libraries kept scanned on their own: what a process with no programme of
its own (a worker process, which plays its mounts from the main process's
feed) offers on demand.
"""

from __future__ import annotations

from collections.abc import Iterable

from twisted.internet.interfaces import IReactorTime
from twisted.internet.task import LoopingCall
from twisted.logger import Logger
from twisted.python.failure import Failure

from radiod.interfaces import Runner
from radiod.library.library import Library

__all__ = ["LibraryWatch"]


class LibraryWatch:
    """
    Libraries scanned at start and then every so often.

    @ivar libraries: the libraries, in mount order.
    """

    _log = Logger()

    def __init__(
        self,
        clock: IReactorTime,
        runner: Runner,
        locations: Iterable[tuple[str, float]],
    ) -> None:
        """
        @param clock: schedules the rescans.
        @param runner: runs the scans off the reactor thread.
        @param locations: each library's folder or playlist file, with the
            seconds between its rescans (0 for never).
        """
        self.libraries: list[Library] = []
        self._loops: list[LoopingCall] = []
        self._intervals: list[float] = []
        for location, interval in locations:
            library = Library(location, runner)
            loop = LoopingCall(self._scan, library)
            loop.clock = clock
            self.libraries.append(library)
            self._loops.append(loop)
            self._intervals.append(interval)

    def start(self) -> None:
        """
        Scan every library now, and again at its interval.
        """
        for library, loop, interval in zip(
            self.libraries, self._loops, self._intervals, strict=True
        ):
            if interval > 0:
                loop.start(interval, now=True)
            else:
                self._scan(library)

    def stop(self) -> None:
        """
        Stop rescanning.
        """
        for loop in self._loops:
            if loop.running:
                loop.stop()

    def _scan(self, library: Library) -> None:
        def failed(failure: Failure) -> None:
            self._log.warn(
                "Cannot scan {location} for on-demand files: {error}",
                location=library.location,
                error=failure.getErrorMessage(),
            )

        library.scan().addErrback(failed)
