"""
Tests for L{radiod.library.watch}: libraries scanned on their own, at
start and on a timer.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import TypeVar

from twisted.internet.defer import Deferred, fail
from twisted.internet.task import Clock
from twisted.logger import LogLevel, capturedLogs
from twisted.trial.unittest import SynchronousTestCase

from radiod.library.watch import LibraryWatch
from radiod.testing import synchronous_runner

_T = TypeVar("_T")


def write(path: str, data: bytes) -> None:
    """
    Write a file, making its folder.
    """
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(data)


class LibraryWatchTests(SynchronousTestCase):
    """
    L{LibraryWatch} scans libraries of its own, at start and on a timer.
    """

    def folder(self) -> str:
        """
        A library folder holding two files.
        """
        folder: str = os.path.abspath(self.mktemp())
        write(os.path.join(folder, "song.mp3"), b"\xff\xfb" * 100)
        write(os.path.join(folder, "deep", "tune.flac"), b"fLaC" + b"\x01" * 100)
        return folder

    def test_scans(self) -> None:
        """
        Each library is scanned at start and again at its interval; once
        stopped, nothing is left scheduled.
        """
        folder = self.folder()
        clock = Clock()
        watch = LibraryWatch(clock, synchronous_runner, [(folder, 30.0)])
        [library] = watch.libraries
        self.assertEqual(library.tracks, [])
        watch.start()
        self.assertEqual(len(library.tracks), 2)
        write(os.path.join(folder, "new.mp3"), b"new")
        clock.advance(30)
        self.assertEqual(len(library.tracks), 3)
        watch.stop()
        self.assertEqual(clock.getDelayedCalls(), [])

    def test_no_rescans(self) -> None:
        """
        A library whose interval is 0 is scanned once, at start.
        """
        folder = self.folder()
        clock = Clock()
        watch = LibraryWatch(clock, synchronous_runner, [(folder, 0)])
        watch.start()
        self.assertEqual(len(watch.libraries[0].tracks), 2)
        self.assertEqual(clock.getDelayedCalls(), [])
        watch.stop()

    def test_order(self) -> None:
        """
        The libraries are kept in the order of their locations.
        """
        first, second = self.folder(), self.folder()
        watch = LibraryWatch(Clock(), synchronous_runner, [(first, 0), (second, 0)])
        self.assertEqual([library.location for library in watch.libraries], [first, second])

    def test_scan_fails(self) -> None:
        """
        A scan that fails is logged as a warning naming the location, and
        the next one is still made.
        """
        clock = Clock()
        attempts: list[int] = []

        def broken(work: Callable[[], _T]) -> Deferred[_T]:
            attempts.append(1)
            return fail(OSError("disk gone"))

        watch = LibraryWatch(clock, broken, [(self.folder(), 10.0)])
        with capturedLogs() as events:
            watch.start()
            clock.advance(10)
        warnings = [event for event in events if event["log_level"] is LogLevel.warn]
        self.assertEqual(len(warnings), 2)
        self.assertEqual(warnings[0]["location"], watch.libraries[0].location)
        self.assertIn("disk gone", warnings[0]["error"])
        self.assertEqual(len(attempts), 2)
        watch.stop()
