"""
Tests for L{radiod.station.errorlog}: radiod's log events written as
Icecast's error log.
"""

from __future__ import annotations

import calendar
import errno
import os
import time
from typing import Any, cast

from twisted.logger import ILogObserver, LogEvent, Logger, LogLevel, LogPublisher
from twisted.python.failure import Failure
from twisted.trial.unittest import SynchronousTestCase
from zope.interface.verify import verifyObject

from radiod.station.errorlog import (
    ErrorLog,
    entry_source,
    format_entry,
    icecast_level,
)
from radiod.wire.accesslog import AppendFile

WHEN = float(calendar.timegm((2026, 12, 7, 14, 23, 25, 0, 0, 0)))
"""
2026-12-07 14:23:25 UTC.
"""

LEVELS = [LogLevel.critical, LogLevel.error, LogLevel.warn, LogLevel.info, LogLevel.debug]


def in_zone(case: SynchronousTestCase, zone: str) -> None:
    """
    Run the rest of C{case} with the local time zone C{zone} (a POSIX
    C{TZ} value), restoring the one before at cleanup.
    """
    before = os.environ.get("TZ")

    def restore() -> None:
        if before is None:
            os.environ.pop("TZ", None)
        else:
            os.environ["TZ"] = before
        time.tzset()

    case.addCleanup(restore)
    os.environ["TZ"] = zone
    time.tzset()


def event(
    text: str = "Listening on port {port}",
    level: LogLevel = LogLevel.info,
    namespace: str = "radiod.wire.server.RadioFactory",
    **fields: Any,
) -> LogEvent:
    """
    A log event as L{Logger} emits it.
    """
    return {
        "log_format": text,
        "log_level": level,
        "log_namespace": namespace,
        "log_time": WHEN,
        "port": 8000,
        **fields,
    }


def a_failure() -> Failure:
    """
    A failure with a traceback.
    """
    try:
        raise ZeroDivisionError("division by zero")
    except ZeroDivisionError:
        return Failure()
    raise AssertionError("no exception")


def read_lines(path: str) -> list[str]:
    """
    The lines of a file, without their line ends.
    """
    with open(path, encoding="utf-8") as f:
        return f.read().splitlines()


class FormatTests(SynchronousTestCase):
    """
    Tests for L{format_entry}, L{entry_source} and L{icecast_level}.
    """

    def setUp(self) -> None:
        """
        Local time is UTC.
        """
        in_zone(self, "UTC0")

    def test_shape(self) -> None:
        """
        An entry is the local date and time (two spaces apart) in square
        brackets, the level, C{module/function} and the message, on one
        line.
        """
        self.assertEqual(
            format_entry(event(), WHEN),
            "[2026-12-07  14:23:25] INFO wire.server/RadioFactory Listening on port 8000\n",
        )

    def test_levels(self) -> None:
        """
        Critical and error are C{EROR}, then C{WARN}, C{INFO} and C{DBUG}.
        """
        names = [format_entry(event(level=level), WHEN).split()[2] for level in LEVELS]
        self.assertEqual(names, ["EROR", "EROR", "WARN", "INFO", "DBUG"])
        self.assertEqual([icecast_level(level) for level in LEVELS], [1, 1, 2, 3, 4])

    def test_local_time(self) -> None:
        """
        The time is local, as Icecast writes it.
        """
        in_zone(self, "EST5")
        self.assertTrue(format_entry(event(), WHEN).startswith("[2026-12-07  09:23:25] "))

    def test_namespaces(self) -> None:
        """
        C{radiod.} is dropped; the last component is the function and the
        rest the module; one component is both; none is C{-/-}.
        """
        cases = {
            "radiod.wire.server.RadioFactory": "wire.server/RadioFactory",
            "radiod.station.options": "station/options",
            "radiod.station.worker.3": "station.worker/3",
            "radiod.tap": "tap/tap",
            "twisted.internet.tcp.Port": "twisted.internet.tcp/Port",
            "log_legacy": "log_legacy/log_legacy",
            "": "-/-",
        }
        self.assertEqual({name: entry_source(name) for name in cases}, cases)
        self.assertEqual(entry_source(None), "-/-")
        self.assertIn(" -/- ", format_entry(event(namespace=""), WHEN))

    def test_one_line(self) -> None:
        """
        Line breaks in a message become spaces and other control
        characters C{\\xHH}, so an entry stays on one line.
        """
        entry = format_entry(event("Bad agent {agent}", agent="evil\r\n[x] EROR a/b\x1b[31m"), WHEN)
        self.assertEqual(
            entry,
            "[2026-12-07  14:23:25] INFO wire.server/RadioFactory "
            "Bad agent evil [x] EROR a/b\\x1b[31m\n",
        )

    def test_failure(self) -> None:
        """
        A failure adds its exception to the message, then its traceback,
        each line starting with a tab.
        """
        failure = a_failure()
        entry = format_entry(
            event("Tick failed", level=LogLevel.critical, log_failure=failure), WHEN
        )
        lines = entry.splitlines()
        self.assertEqual(
            lines[0],
            "[2026-12-07  14:23:25] EROR wire.server/RadioFactory "
            "Tick failed: ZeroDivisionError: division by zero",
        )
        self.assertEqual(lines[1:], ["\t" + line for line in failure.getTraceback().splitlines()])
        self.assertEqual(lines[1], "\tTraceback (most recent call last):")
        self.assertIn("a_failure", entry)
        self.assertTrue(entry.endswith("\n"))

    def test_failure_without_message(self) -> None:
        """
        A failure logged without a message is summed up alone; an
        exception defined outside C{builtins} keeps its module's name,
        and one without a message is its name alone.
        """
        failure = Failure(Unexplained())
        line = format_entry(event("", level=LogLevel.error, log_failure=failure), WHEN)
        self.assertEqual(
            line.splitlines()[0],
            "[2026-12-07  14:23:25] EROR wire.server/RadioFactory "
            "tests.station.test_errorlog.Unexplained",
        )


class Unexplained(Exception):
    """
    An exception without a message.
    """


class FullFile(AppendFile):
    """
    A file on a full disk: writes fail with C{ENOSPC} while L{full}.

    @ivar full: whether writes fail.
    @ivar data: what was written while not full.
    """

    def __init__(self, path: str) -> None:
        super().__init__(path)
        self.full = True
        self.data = b""

    def write(self, data: bytes) -> None:
        """
        Fail while full, else keep C{data}.
        """
        if self.full:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        self.data += data

    def reopen(self) -> None:
        """
        Nothing to open.
        """

    def close(self) -> None:
        """
        Nothing to close.
        """


class ErrorLogTests(SynchronousTestCase):
    """
    Tests for L{ErrorLog} writing real files.
    """

    def setUp(self) -> None:
        """
        Local time is UTC, the time is L{WHEN}, and the log goes to a file
        in a fresh folder.
        """
        in_zone(self, "UTC0")
        self.folder = os.path.abspath(self.mktemp())
        os.makedirs(self.folder)
        self.path = os.path.join(self.folder, "error.log")
        self.now = WHEN

    def errorlog(self, level: int = 3, path: str | None = None, **kwargs: Any) -> ErrorLog:
        """
        An error log at C{level} in the test folder, closed at cleanup.
        """
        log = ErrorLog(path or self.path, level, lambda: self.now, **kwargs)
        self.addCleanup(log.close)
        return log

    def publish(self, *observers: ILogObserver) -> Logger:
        """
        A logger in radiod's namespace whose events reach C{observers}
        through a L{LogPublisher}.
        """
        return Logger(
            namespace="radiod.wire.server.RadioFactory", observer=LogPublisher(*observers)
        )

    def test_interface(self) -> None:
        """
        An L{ErrorLog} is a log observer.
        """
        self.assertTrue(verifyObject(ILogObserver, self.errorlog()))

    def test_logger(self) -> None:
        """
        Events from a L{Logger} are written as they are observed, one
        entry each, at the time C{now} gives.
        """
        log = self.publish(self.errorlog())
        log.info("Listening on port {port}", port=8000)
        self.assertEqual(
            read_lines(self.path),
            ["[2026-12-07  14:23:25] INFO wire.server/RadioFactory Listening on port 8000"],
        )
        self.now += 61
        log.warn("Slow listener {peer}", peer="192.0.2.7")
        self.assertEqual(
            read_lines(self.path)[1],
            "[2026-12-07  14:24:26] WARN wire.server/RadioFactory Slow listener 192.0.2.7",
        )

    def test_logged_failure(self) -> None:
        """
        L{Logger.failure} writes the exception and its traceback.
        """
        log = self.publish(self.errorlog())
        try:
            raise KeyError("missing")
        except KeyError:
            log.failure("Lookup failed for {mount}", mount="/stream")
        lines = read_lines(self.path)
        self.assertEqual(
            lines[0],
            "[2026-12-07  14:23:25] EROR wire.server/RadioFactory "
            "Lookup failed for /stream: KeyError: 'missing'",
        )
        self.assertEqual(lines[1], "\tTraceback (most recent call last):")
        self.assertTrue(all(line.startswith("\t") for line in lines[1:]))
        self.assertEqual(lines[-1], "\tbuiltins.KeyError: 'missing'")

    def test_levels(self) -> None:
        """
        C{loglevel} 1 writes errors only, 2 warnings too, 3 information
        too and 4 debug too.
        """
        written = []
        for level in (1, 2, 3, 4):
            path = os.path.join(self.folder, f"level{level}.log")
            log = self.publish(self.errorlog(level, path))
            log.critical("c")
            log.error("e")
            log.warn("w")
            log.info("i")
            log.debug("d")
            written.append([line.split()[-1] for line in read_lines(path)])
        self.assertEqual(
            written,
            [["c", "e"], ["c", "e", "w"], ["c", "e", "w", "i"], ["c", "e", "w", "i", "d"]],
        )

    def test_appends(self) -> None:
        """
        The file is appended to, never truncated.
        """
        with open(self.path, "w", encoding="utf-8") as f:
            f.write("earlier\n")
        self.errorlog()(event())
        self.assertEqual(len(read_lines(self.path)), 2)
        self.assertEqual(read_lines(self.path)[0], "earlier")

    def test_reopen(self) -> None:
        """
        After logrotate moved the file away, entries go to the moved file
        until L{ErrorLog.reopen}, then to a new file at the path.
        """
        log = self.errorlog()
        log(event("one"))
        os.rename(self.path, self.path + ".1")
        log(event("two"))
        log.reopen()
        log(event("three"))
        self.assertEqual(
            [line.split()[-1] for line in read_lines(self.path + ".1")], ["one", "two"]
        )
        self.assertEqual([line.split()[-1] for line in read_lines(self.path)], ["three"])

    def test_reopen_fails(self) -> None:
        """
        A path that cannot be opened again is logged, through the other
        observers, and tried again at the next entry.
        """
        seen: list[LogEvent] = []
        log = self.errorlog()
        publisher = LogPublisher(log, cast(ILogObserver, seen.append))
        self.patch(ErrorLog, "_log", Logger(observer=publisher))
        os.remove(self.path)
        os.rmdir(self.folder)
        log.reopen()
        publisher(event("lost"))
        errors = [e for e in seen if e["log_level"] == LogLevel.error]
        self.assertEqual(len(errors), 1)
        self.assertEqual(errors[0]["path"], self.path)
        self.assertEqual(errors[0]["error"], os.strerror(errno.ENOENT))
        os.makedirs(self.folder)
        publisher(event("back"))
        self.assertEqual([line.split()[-1] for line in read_lines(self.path)], ["back"])
        self.assertFalse(log.failing)

    def test_write_fails(self) -> None:
        """
        A write that fails is logged once, through the other observers,
        until a write works again; nothing is raised.
        """
        files: list[FullFile] = []

        def opener(path: str) -> AppendFile:
            files.append(FullFile(path))
            return files[-1]

        seen: list[LogEvent] = []
        log = self.errorlog(opener=opener)
        publisher = LogPublisher(log, cast(ILogObserver, seen.append))
        self.patch(ErrorLog, "_log", Logger(observer=publisher))
        publisher(event("one"))
        publisher(event("two"))
        errors = [e for e in seen if e["log_level"] == LogLevel.error]
        self.assertEqual(len(errors), 1)
        self.assertEqual(errors[0]["error"], os.strerror(errno.ENOSPC))
        self.assertTrue(log.failing)
        files[0].full = False
        publisher(event("three"))
        self.assertFalse(log.failing)
        self.assertEqual(files[0].data.decode("utf-8"), format_entry(event("three"), WHEN))
        self.assertEqual(log.written, 1)

    def test_unopenable(self) -> None:
        """
        A file that cannot be opened (its folder missing, or a folder in
        its place) raises C{OSError} when the log is made, so the station
        can report it at start.
        """
        missing = os.path.join(self.folder, "nowhere", "error.log")
        self.assertRaises(FileNotFoundError, ErrorLog, missing, 3, lambda: WHEN)
        self.assertRaises(IsADirectoryError, ErrorLog, self.folder, 3, lambda: WHEN)

    def test_bad_level(self) -> None:
        """
        A level outside 1 to 4 is refused.
        """
        self.assertRaises(ValueError, ErrorLog, self.path, 0, lambda: WHEN)
        self.assertRaises(ValueError, ErrorLog, self.path, 5, lambda: WHEN)

    def test_close(self) -> None:
        """
        Nothing is written once closed.
        """
        log = self.errorlog()
        log(event("one"))
        log.close()
        log(event("two"))
        log.reopen()
        log(event("three"))
        self.assertEqual([line.split()[-1] for line in read_lines(self.path)], ["one"])
