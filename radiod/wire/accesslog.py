# -*- test-case-name: tests.wire.test_accesslog -*-
"""
The access log: one line per request in the combined log format, with the
connection's duration in seconds appended, as Icecast writes it::

    192.0.2.7 - - [02/Jan/2024:03:04:05 +0000] "GET /stream HTTP/1.1" 200 1048576 "-" "VLC/3.0" 65

A line is written when the connection ends: for a listener, when it
leaves, so the bytes are the audio it was sent and the duration how long it
listened.  The date is that moment, in UTC.  The bytes are the response
body: a reply's body, or a stream's audio (the response head and ICY
metadata blocks are not counted).  Passwords never reach the log: the
values of C{pass}, C{password} and C{passwd} in the query (of the target
and of the referrer) are written C{***}, and no other header than
C{Referer} and C{User-Agent} is logged.

L{format_line} and L{mask_target} are pure.  L{AccessLog} keeps lines in
memory and appends them to the file from a thread (C{O_APPEND}, so several
processes can share one file) at least once a second, so a slow disk never
stalls the reactor; L{AccessLog.reopen} starts a new file after log
rotation.
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import unquote_plus

from twisted.application.service import Service
from twisted.internet.defer import Deferred, DeferredLock, succeed
from twisted.internet.interfaces import IReactorTime
from twisted.internet.task import LoopingCall
from twisted.logger import Logger
from twisted.python.failure import Failure

from radiod.interfaces import Runner

__all__ = [
    "FLUSH_INTERVAL",
    "FLUSH_SIZE",
    "MAX_BACKLOG",
    "SECRET_KEYS",
    "Access",
    "AccessLog",
    "AppendFile",
    "clf_time",
    "format_line",
    "mask_target",
]

FLUSH_INTERVAL = 1.0
"""
Most seconds a line waits in memory before it is written.
"""

FLUSH_SIZE = 64 * 1024
"""
Bytes of waiting lines that are written at once, without waiting for the
next flush.
"""

MAX_BACKLOG = 4 * 1024 * 1024
"""
Bytes of lines kept while the file cannot keep up (a stalled disk or
pipe); lines beyond it are dropped and counted.
"""

SECRET_KEYS = frozenset({"pass", "password", "passwd"})
"""
Query keys (in any case) whose values are never logged.
"""

_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_SEPARATORS = re.compile(r"([&;])")
_USERINFO = re.compile(r"(?i)^(https?://)[^/?#@]*@")


@dataclass(frozen=True)
class Access:
    """
    One request, as the access log tells it.

    @ivar client: the client's address, without a port.
    @ivar ended: when the connection ended, in seconds since the epoch.
    @ivar duration: seconds the connection lasted.
    @ivar status: the status answered, or C{None} if unknown.
    @ivar sent: body bytes sent (a stream's audio bytes).
    @ivar method: the request method, or C{None} if the request could
        not be read.
    @ivar target: the request target exactly as sent (masked when written).
    @ivar version: the HTTP version.
    @ivar referer: the C{Referer} header, if any.
    @ivar user_agent: the C{User-Agent} header, if any.
    """

    client: str
    ended: float
    duration: float
    status: int | None
    sent: int
    method: str | None = None
    target: str | None = None
    version: str | None = None
    referer: str | None = None
    user_agent: str | None = None


def mask_target(target: str) -> str:
    """
    A request target or URL with its secrets hidden.

    @param target: such as C{/admin.cgi?pass=secret&mode=updinfo}.
    @return: the same text with the value of every query item whose key
        (percent-decoded, in any case) is in L{SECRET_KEYS} replaced by
        C{***}, and the user and password of an absolute URL
        (C{http://user:pass@host/}) replaced by C{***}:
        C{/admin.cgi?pass=***&mode=updinfo}.  Items are split at C{&} and
        C{;}.
    """
    target = _USERINFO.sub(r"\1***@", target)
    base, question, rest = target.partition("?")
    if not question:
        return target
    query, hash_mark, fragment = rest.partition("#")
    parts = _SEPARATORS.split(query)
    for index in range(0, len(parts), 2):
        key, equals, _ = parts[index].partition("=")
        if equals and unquote_plus(key).strip().lower() in SECRET_KEYS:
            parts[index] = f"{key}=***"
    return f"{base}?{''.join(parts)}{hash_mark}{fragment}"


def clf_time(when: float) -> str:
    """
    A time as the common log format writes it, in UTC.

    @param when: seconds since the epoch.
    @return: such as C{02/Jan/2024:03:04:05 +0000} (English month names,
        whatever the locale).
    """
    t = time.gmtime(when)
    return (
        f"{t.tm_mday:02d}/{_MONTHS[t.tm_mon - 1]}/{t.tm_year}:"
        f"{t.tm_hour:02d}:{t.tm_min:02d}:{t.tm_sec:02d} +0000"
    )


def _escape(text: str) -> str:
    """
    Text safe inside a quoted log field: backslash and double quote
    escaped with a backslash, control and other unprintable characters
    written C{\\xHH} (or C{\\uHHHH}).
    """
    out = []
    for char in text:
        if char in '"\\':
            out.append("\\" + char)
        elif char.isprintable():
            out.append(char)
        elif ord(char) < 0x100:
            out.append(f"\\x{ord(char):02x}")
        else:
            out.append(f"\\u{ord(char):04x}")
    return "".join(out)


def _quoted(text: str | None) -> str:
    return '"' + (_escape(text) if text else "-") + '"'


def format_line(access: Access) -> str:
    """
    The access log line of one request, without its line end.

    @param access: the request.
    @return: C{client - - [date] "METHOD target VERSION" status bytes
        "referer" "user-agent" duration}; C{"-"} stands for a request that
        could not be read, an absent header, or an unknown status; the
        target and the referrer are masked with L{mask_target}; the
        duration is in whole seconds.
    """
    if access.method is None:
        request = "-"
    else:
        request = f"{access.method} {mask_target(access.target or '')} {access.version or '-'}"
    status = "-" if access.status is None else str(access.status)
    referer = mask_target(access.referer) if access.referer else None
    duration = max(0, int(access.duration))
    return (
        f"{access.client or '-'} - - [{clf_time(access.ended)}] {_quoted(request)} "
        f"{status} {access.sent} {_quoted(referer)} {_quoted(access.user_agent)} {duration}"
    )


class AppendFile:
    """
    A file that lines are appended to (C{O_APPEND}), opened when first
    written; C{"-"} is standard output (descriptor 1).  It blocks: use it
    from one thread at a time, away from the reactor.

    @ivar path: the file's path, or C{"-"}.
    """

    def __init__(self, path: str) -> None:
        """
        @param path: the file, created if missing; or C{"-"}.
        """
        self.path = path
        self._fd: int | None = None

    def _open(self) -> int:
        if self.path == "-":
            return 1
        return os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o644)

    def write(self, data: bytes) -> None:
        """
        Append C{data}, opening the file first if needed.

        @raise OSError: if the file cannot be opened or written.
        """
        if self._fd is None:
            self._fd = self._open()
        view = memoryview(data)
        while view:
            view = view[os.write(self._fd, view) :]

    def reopen(self) -> None:
        """
        Close the file and open its path again (a new file, after log
        rotation moved the old one away).

        @raise OSError: if the path cannot be opened.
        """
        self.close()
        self._fd = self._open()

    def close(self) -> None:
        """
        Close the file (standard output stays open).
        """
        fd, self._fd = self._fd, None
        if fd is not None and fd != 1:
            os.close(fd)


class AccessLog(Service):
    """
    Writes access log lines without blocking the reactor.

    Lines wait in memory and are appended to the file in a thread every
    L{FLUSH_INTERVAL} seconds while the service runs, or as soon as
    L{FLUSH_SIZE} bytes wait; one write runs at a time, in order.  An
    error (disk full, folder gone) is logged once, with the path, until a
    write works again; the lines of a failed write are lost, the station
    carries on.  Once the service has stopped, each line is appended at
    once (there are only a few, from connections closing at shutdown).

    @ivar path: the file, or C{"-"} for standard output.
    @ivar written: lines handed to the file.
    @ivar dropped: lines lost, to errors or to a file that could not keep
        up.
    """

    _log = Logger()

    def __init__(
        self,
        path: str,
        clock: IReactorTime,
        runner: Runner,
        interval: float = FLUSH_INTERVAL,
        opener: Callable[[str], AppendFile] = AppendFile,
    ) -> None:
        """
        @param path: the file (created if missing), or C{"-"}.
        @param clock: times the flushes.
        @param runner: runs the writes away from the reactor thread.
        @param interval: most seconds a line waits before it is written.
        @param opener: makes the file for a path.
        """
        self.path = path
        self._clock = clock
        self._runner = runner
        self._interval = interval
        self._opener = opener
        self._file = opener(path)
        self._lock = DeferredLock()
        self._pending: list[str] = []
        self._pending_size = 0
        self._backlog = 0
        self._loop: LoopingCall | None = None
        self._failing = False
        self._stopped = False
        self.written = 0
        self.dropped = 0

    def log(self, access: Access) -> None:
        """
        Log one request.
        """
        self.write(format_line(access))

    def write(self, line: str) -> None:
        """
        Log one line.

        @param line: the line, without its line end.
        """
        text = line + "\n"
        if self._stopped:
            self._append_now(text)
            return
        if self._backlog + self._pending_size + len(text) > MAX_BACKLOG:
            if not self.dropped:
                self._log.warn("Access log {path} cannot keep up; dropping lines", path=self.path)
            self.dropped += 1
            return
        self._pending.append(text)
        self._pending_size += len(text)
        if self._pending_size >= FLUSH_SIZE:
            self.flush()

    def flush(self) -> Deferred[None]:
        """
        Write the lines logged so far.

        @return: fires once they and every earlier line have been handed
            to the file (or lost to an error, which is logged); it never
            fails.
        """
        if not self._pending:
            return self._lock.run(succeed, None)
        data = "".join(self._pending).encode("utf-8")
        count = len(self._pending)
        self._pending = []
        self._pending_size = 0
        self._backlog += len(data)

        def written(_: object) -> None:
            self._backlog -= len(data)
            self.written += count
            if self._failing:
                self._failing = False
                self._log.info("Access log {path} is written again", path=self.path)

        def failed(failure: Failure) -> None:
            self._backlog -= len(data)
            self.dropped += count
            self._failed(failure)

        work = self._lock.run(self._runner, lambda: self._file.write(data))
        return work.addCallbacks(written, failed)

    def _failed(self, failure: Failure) -> None:
        if not self._failing:
            self._failing = True
            self._log.error(
                "Cannot write access log {path}: {error}",
                path=self.path,
                error=failure.getErrorMessage(),
            )

    def reopen(self) -> Deferred[None]:
        """
        Write what is waiting, then close the file and open its path anew,
        as log rotation needs.

        @return: fires when the new file is open (or the error is logged).
        """
        self.flush()
        reopened = self._lock.run(self._runner, self._file.reopen)
        return reopened.addCallbacks(lambda _: None, self._failed)

    def _tick(self) -> None:
        if self._pending:
            self.flush()

    def _append_now(self, text: str) -> None:
        """
        Append one line at once, opening and closing the file.
        """
        appender = self._opener(self.path)
        try:
            appender.write(text.encode("utf-8"))
            self.written += 1
        except OSError as error:
            self.dropped += 1
            self._failed(Failure(error))
        finally:
            appender.close()

    def startService(self) -> None:
        """
        Start writing waiting lines every interval.
        """
        super().startService()
        self._stopped = False
        loop = self._loop = LoopingCall(self._tick)
        loop.clock = self._clock
        loop.start(self._interval, now=False)

    def stopService(self) -> Deferred[None]:
        """
        Write every waiting line and close the file; later lines are
        appended one by one.

        @return: fires when the file is closed.
        """
        super().stopService()
        if self._loop is not None and self._loop.running:
            self._loop.stop()
        self._loop = None
        flushed = self.flush()

        def close(_: object) -> Deferred[None]:
            self._stopped = True
            late, self._pending, self._pending_size = self._pending, [], 0
            for text in late:
                self._append_now(text)
            closing = self._lock.run(self._runner, self._file.close)
            return closing.addCallbacks(lambda _: None, self._failed)

        return flushed.addCallback(close)
