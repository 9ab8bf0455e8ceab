# -*- test-case-name: tests.station.test_errorlog -*-
"""
Icecast's error log: radiod's log events written in the shape of the
C{<errorlog>} Icecast keeps in its C{<logdir>}::

    [2026-12-07  14:23:25] INFO wire.server/RadioFactory Listening on port 8000
    [2026-12-07  14:23:31] EROR broadcast.pacer/Pacer Source failed: ValueError: bad frame

Each entry is the local time (two spaces between the date and the time,
as Icecast writes them), a level of four letters, C{module/function}, and
the message.

  - Levels: critical and error are C{EROR}, warn is C{WARN}, info is
    C{INFO}, debug is C{DBUG}.  Icecast's C{<loglevel>} picks what is
    written: 1 errors only, 2 warnings too, 3 information too (Icecast's
    default), 4 everything.
  - C{module/function} comes from the event's C{log_namespace}: a leading
    C{radiod.} is dropped, the last dotted component is the function
    (for a class's logger, which names the class, that is the class) and
    everything before it the module, dots kept:
    C{radiod.wire.server.RadioFactory} is C{wire.server/RadioFactory}, a
    module's own logger C{radiod.station.options} is C{station/options},
    Twisted's C{twisted.internet.tcp.Port} is C{twisted.internet.tcp/Port}.
    A namespace of one component is both parts, as Icecast's C{main/main}
    (C{radiod.tap} is C{tap/tap}); an event without one is C{-/-}.
  - The message is the event as L{twisted.logger.formatEvent} formats it,
    kept on one line: a line break in it becomes a space and any other
    control character but a tab is written C{\\xHH}, so one line is one event and a
    peer's text can never forge an entry.  An event carrying a failure
    adds C{: Type: message} for the exception and then its traceback, one
    line each, every line starting with a tab, so C{grep -v '^\\t'} still
    gives one line per event.

The file (an L{AppendFile<radiod.wire.accesslog.AppendFile>}, as the
access log's) is opened for appending (C{O_APPEND}) when the L{ErrorLog} is
made, which raises C{OSError} if it cannot be; each entry is written with
one C{write} as its event is observed, so nothing is lost if radiod dies
right after logging an error.  That runs on the thread that logged, as
twistd's own log file does: an entry is a few hundred bytes handed to the
kernel's page cache, with no C{fsync}.  L{ErrorLog.reopen} starts a new
file at the path after logrotate moved the old one (on C{SIGHUP}).  A
write that fails is logged once, through the other observers, until a
write works again; it is never raised to the logger.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable

from twisted.application.service import Service
from twisted.logger import ILogObserver, LogEvent, Logger, LogLevel, LogPublisher, formatEvent
from twisted.python.failure import Failure
from twisted.python.reflect import qual
from zope.interface import implementer

from radiod.wire.accesslog import AppendFile

__all__ = [
    "DEFAULT_LEVEL",
    "LEVEL_NAMES",
    "ErrorLog",
    "ErrorLogService",
    "entry_source",
    "format_entry",
    "icecast_level",
]

DEFAULT_LEVEL = 3
"""
Icecast's default C{<loglevel>}: errors, warnings and information.
"""

LEVEL_NAMES: dict[LogLevel, str] = {
    LogLevel.critical: "EROR",
    LogLevel.error: "EROR",
    LogLevel.warn: "WARN",
    LogLevel.info: "INFO",
    LogLevel.debug: "DBUG",
}
"""
Icecast's four-letter name of each log level.
"""

_LOGLEVELS: dict[LogLevel, int] = {
    LogLevel.critical: 1,
    LogLevel.error: 1,
    LogLevel.warn: 2,
    LogLevel.info: 3,
    LogLevel.debug: 4,
}

_BREAKS = re.compile("\r\n|[\n\r\v\f\x1c\x1d\x1e\x85\u2028\u2029]")
_CONTROLS = re.compile("[\x00-\x08\x0e-\x1b\x7f-\x84\x86-\x9f]")


def icecast_level(level: LogLevel) -> int:
    """
    The least Icecast C{<loglevel>} that writes events of C{level}.

    @return: 1 for critical and error, 2 for warn, 3 for info, 4 for debug.
    """
    return _LOGLEVELS.get(level, 3)


def entry_source(namespace: str | None) -> str:
    """
    The C{module/function} part of an entry (see the module docstring).

    @param namespace: the event's C{log_namespace}.
    @return: such as C{"wire.server/RadioFactory"}.
    """
    if not namespace:
        return "-/-"
    if namespace.startswith("radiod."):
        namespace = namespace[len("radiod.") :]
    module, dot, function = namespace.rpartition(".")
    if not dot:
        return f"{function}/{function}"
    return f"{module}/{function}"


def _one_line(text: str) -> str:
    """
    C{text} on one line: line breaks become spaces, other control
    characters (a tab aside) C{\\xHH}.
    """
    text = _BREAKS.sub(" ", text)
    return _CONTROLS.sub(lambda match: f"\\x{ord(match.group()):02x}", text)


def _summary(failure: Failure) -> str:
    """
    One line naming a failure's exception: C{Type: message}, the type
    without C{builtins.}.
    """
    name = qual(failure.type) if failure.type is not None else "Failure"
    if name.startswith("builtins."):
        name = name[len("builtins.") :]
    message = failure.getErrorMessage()
    return f"{name}: {message}" if message else name


def format_entry(event: LogEvent, when: float) -> str:
    """
    The error log entry of one event.

    @param event: the event.
    @param when: the entry's time, in seconds since the epoch; written in
        local time.
    @return: the entry and its line end; with a failure, its traceback
        follows on lines starting with a tab.
    """
    stamp = time.strftime("%Y-%m-%d  %H:%M:%S", time.localtime(when))
    level = LEVEL_NAMES.get(event.get("log_level", LogLevel.info), "INFO")
    source = entry_source(event.get("log_namespace"))
    message = _one_line(formatEvent(event))
    failure = event.get("log_failure")
    trace: list[str] = []
    if isinstance(failure, Failure):
        summary = _one_line(_summary(failure))
        message = f"{message}: {summary}" if message else summary
        trace = ["\t" + _one_line(line) for line in failure.getTraceback().splitlines()]
    lines = [f"[{stamp}] {level} {source} {message}", *trace]
    return "\n".join(lines) + "\n"


@implementer(ILogObserver)
class ErrorLog:
    """
    A log observer writing Icecast-shaped error log entries to a file.

    @ivar path: the file, or C{"-"} for standard output.
    @ivar level: Icecast's C{<loglevel>}, 1 to 4.
    @ivar written: entries written.
    @ivar failing: whether the last write failed.
    @ivar closed: whether L{close} was called.
    """

    _log = Logger()

    def __init__(
        self,
        path: str,
        level: int,
        now: Callable[[], float],
        opener: Callable[[str], AppendFile] = AppendFile,
    ) -> None:
        """
        Open the file.

        @param path: the file, created if missing (its folder is not), or
            C{"-"} for standard output.
        @param level: Icecast's C{<loglevel>}: 1 errors, 2 and warnings,
            3 and information, 4 and debug.
        @param now: the time of an entry, in seconds since the epoch
            (such as C{reactor.seconds}).
        @param opener: makes the file for a path.
        @raise ValueError: for a level outside 1 to 4.
        @raise OSError: if the file cannot be opened.
        """
        if level not in (1, 2, 3, 4):
            raise ValueError(f"loglevel must be 1 to 4, not {level!r}")
        self.path = path
        self.level = level
        self._now = now
        self._file = opener(path)
        self._file.reopen()
        self._lock = threading.Lock()
        self.written = 0
        self.failing = False
        self.closed = False

    def wants(self, level: LogLevel) -> bool:
        """
        Whether events of C{level} are written at this log's level.
        """
        return icecast_level(level) <= self.level

    def __call__(self, event: LogEvent) -> None:
        """
        Write the entry of C{event}, if its level is wanted.  Never raises.
        """
        if not self.wants(event.get("log_level", LogLevel.info)):
            return
        data = format_entry(event, self._now()).encode("utf-8", "backslashreplace")
        with self._lock:
            if self.closed:
                return
            try:
                self._file.write(data)
            except OSError as error:
                problem: OSError | None = error
            else:
                problem = None
                self.written += 1
        if problem is None:
            self.failing = False
        else:
            self._failed(problem)

    def _failed(self, error: OSError) -> None:
        """
        Log a failure to write, once until a write works again (the event
        reaches this log too, which will most likely fail to write it).
        """
        if self.failing:
            return
        self.failing = True
        self._log.error(
            "Cannot write error log {path}: {error}",
            path=self.path,
            error=error.strerror or str(error),
        )

    def reopen(self) -> None:
        """
        Close the file and open its path anew, after log rotation moved
        it; an error is logged, and the next entry tries to open it again.
        """
        with self._lock:
            if self.closed:
                return
            try:
                self._file.reopen()
            except OSError as error:
                problem: OSError | None = error
            else:
                problem = None
        if problem is None:
            self.failing = False
        else:
            self._failed(problem)

    def close(self) -> None:
        """
        Close the file; later events are not written.
        """
        with self._lock:
            if self.closed:
                return
            self.closed = True
            try:
                self._file.close()
            except OSError:
                pass


class ErrorLogService(Service):
    """
    Writes the process's log to an L{ErrorLog} while running: the log is
    added to C{publisher}'s observers when the service starts, and
    removed and closed when it stops.

    @ivar log: the error log.
    """

    def __init__(self, log: ErrorLog, publisher: LogPublisher) -> None:
        """
        @param log: the error log.
        @param publisher: where the process's events are published
            (twistd's C{globalLogPublisher}).
        """
        self.log = log
        self._publisher = publisher

    def startService(self) -> None:
        super().startService()
        self._publisher.addObserver(self.log)

    def stopService(self) -> None:
        self._publisher.removeObserver(self.log)
        self.log.close()
        return super().stopService()  # type: ignore[no-any-return]
