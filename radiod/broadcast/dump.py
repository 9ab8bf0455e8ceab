# -*- test-case-name: tests.broadcast.test_dump -*-
"""
Dump files: everything a mount airs, written to disk as it airs (Icecast's
C{<dump-file>}).

A L{DumpFile} is a L{radiod.broadcast.mount.Mount.on_air} observer.  It
writes the whole frames of every batch the mount airs, in order, byte for
byte, so a dump is a playable MP3 file of exactly what listeners heard.

File names
==========

  - A path with a C{%} in it is a C{strftime} pattern, as Icecast 2.5
    allows (C{/var/log/icecast/dump-%Y%m%d-%H%M%S.mp3}), expanded in UTC
    when each file is opened (C{%%} is a C{%} of its own; L{dump_path}
    checks a pattern when the configuration is read).
  - A path without a pattern, with rotation on (a size limit or a time
    interval), names every file, the first one included, after the UTC
    time it was opened, put before the extension: C{show.mp3} becomes
    C{show-20261207-142310.mp3}.  No file is ever renamed, and the
    configured path itself is not written.
  - A file named from a pattern or a time is always a new file: when the
    name is taken (a restart within the same second, or a pattern coarser
    than the rotation, such as C{%Y%m%d} rotated hourly) C{-1}, C{-2} ...
    is put before the extension (C{show-20261207-142310-1.mp3}).
  - A path without a pattern and without rotation is appended to.  Icecast
    2.4 truncates it when the mount starts; appending instead loses
    nothing across restarts (an MP3 file of back-to-back runs still plays,
    frame after frame), and an operator who wants one file per run uses a
    pattern.

Missing parent folders are created when a file is opened.

Rotation
========

A file is only ever cut between two frames, so every file starts and ends
at a frame boundary and plays on its own:

  - with C{max_size}, before a frame that would take the file past that
    many bytes (a frame larger than the limit gets a file of its own);
  - with C{rotate_every}, at the first batch aired once the interval's
    boundary has passed.  Boundaries are whole multiples of the interval
    since the epoch, in UTC, as logrotate's hourly and daily runs fall on
    the clock: with C{rotate_every=3600} a file opened at 14:23:10 is
    closed at 15:00:00 and the next at 16:00:00; with 86400, at midnight
    UTC.

Writing
=======

This follows L{radiod.ingest.recording}: it runs on the reactor thread;
each batch (the frames of one pacer tick or one C{dataReceived}, a few
KiB) is written and flushed to the operating system at once, which hands
it to the kernel's page cache without waiting for the disk, so nothing
aired is lost if radiod dies; the file is C{fsync}ed at most once per
L{SYNC_INTERVAL}, at each rotation and when closed, which bounds the one
call that waits for the disk to about a second of audio.

Any C{OSError} (disk full, a folder where the file should be, no
permission ...) closes the file and is logged, with the mount and the
path, once until a batch is written again; it never reaches the mount, so
the stream, its listeners and its other observers carry on.  Dumping
stops until the next time-rotation boundary (with C{rotate_every}) or
until L{DumpFile.reopen}, whichever comes first, and then tries again.
"""

from __future__ import annotations

import errno
import os
import time
from collections.abc import Callable
from typing import Protocol

from twisted.internet.interfaces import IReactorTime
from twisted.logger import Logger

from radiod.interfaces import Frames

__all__ = ["MAX_SUFFIX", "SYNC_INTERVAL", "DumpFile", "DumpTarget", "dump_path", "next_boundary"]

SYNC_INTERVAL = 1.0
"""
Least seconds between two C{fsync}s of a dump file.
"""

MAX_SUFFIX = 1000
"""
How many numbered names are tried when a dump file's name is taken.
"""

_STAMP = "%Y%m%d-%H%M%S"
_UNSYNCABLE = frozenset({errno.EINVAL, errno.ENOTSUP, errno.EROFS})


class DumpTarget(Protocol):
    """
    What a dump needs of an open file.
    """

    def write(self, data: bytes, /) -> int:
        """
        Write bytes.
        """

    def flush(self) -> None:
        """
        Hand written bytes to the operating system.
        """

    def fileno(self) -> int:
        """
        The file descriptor, for C{fsync}.
        """

    def close(self) -> None:
        """
        Close the file.
        """


def _open(path: str, mode: str) -> DumpTarget:
    """
    Open C{path} in C{mode}: C{"ab"} appends (creating the file if
    missing), C{"xb"} creates it, failing with C{FileExistsError} if it
    exists.
    """
    return open(path, mode)


def dump_path(pattern: str, when: float, stamped: bool, suffix: int = 0) -> str:
    """
    The path of a dump file opened at a given time.

    @param pattern: the configured path; if it holds a C{%}, a C{strftime}
        pattern.
    @param when: when the file is opened, in seconds since the epoch;
        patterns and stamps are in UTC.
    @param stamped: whether to put the time before the extension (a
        rotated dump whose path has no pattern).
    @param suffix: 0 for the plain name, else a number to tell it apart
        from a file of the same name.
    @return: such as C{"/dumps/show-20261207-142310-1.mp3"}.
    """
    moment = time.gmtime(when)
    path = time.strftime(pattern, moment) if "%" in pattern else pattern
    extras = ""
    if stamped:
        extras += "-" + time.strftime(_STAMP, moment)
    if suffix:
        extras += f"-{suffix}"
    if not extras:
        return path
    stem, extension = os.path.splitext(path)
    return f"{stem}{extras}{extension}"


def next_boundary(when: float, every: float) -> float:
    """
    The first whole multiple of C{every} seconds since the epoch after
    C{when}.

    @param when: seconds since the epoch.
    @param every: the interval, in seconds (more than 0).
    @return: with C{every=3600}, the next full hour (UTC).
    """
    return (when // every + 1) * every


class DumpFile:
    """
    Writes what one mount airs to a dump file; append it to the mount's
    L{on_air<radiod.broadcast.mount.Mount.on_air>}.

    @ivar mount: the mount's name, for logs.
    @ivar pattern: the configured path (see the module docstring).
    @ivar path: the file being written, or the last one tried; L{None}
        before the first frames.
    @ivar size: bytes written to the current file.
    @ivar written: bytes written to all files.
    @ivar files: files opened so far.
    @ivar failed: whether an error stopped dumping (until the next try).
    @ivar closed: whether L{close} was called.
    """

    _log = Logger()

    def __init__(
        self,
        mount: str,
        path: str,
        clock: IReactorTime,
        max_size: int = 0,
        rotate_every: float = 0.0,
        opener: Callable[[str, str], DumpTarget] = _open,
        fsync: Callable[[int], None] = os.fsync,
        sync_interval: float = SYNC_INTERVAL,
    ) -> None:
        """
        @param mount: the mount's name, for logs.
        @param path: the file, or a C{strftime} pattern for the files.
        @param clock: gives the time files are opened and rotated at, and
            paces C{fsync}.
        @param max_size: the most bytes in one file, or 0 for no limit.
        @param rotate_every: seconds a file covers at most (aligned to the
            clock), or 0 for no time rotation.
        @param opener: opens a path in mode C{"ab"} (append) or C{"xb"}
            (create, raising C{FileExistsError} if the name is taken).
        @param fsync: forces a file descriptor's data to disk.
        @param sync_interval: least seconds between two C{fsync}s.
        @raise ValueError: for a negative size or interval.
        """
        if max_size < 0 or rotate_every < 0:
            raise ValueError("max_size and rotate_every must be 0 or more")
        self.mount = mount
        self.pattern = path
        self._clock = clock
        self._max_size = max_size
        self._every = rotate_every
        self._opener = opener
        self._fsync = fsync
        self._interval = sync_interval
        rotating = bool(max_size or rotate_every)
        self._appending = "%" not in path and not rotating
        self._stamped = "%" not in path and rotating
        self._file: DumpTarget | None = None
        self._deadline: float | None = None
        self._retry: float | None = None
        self._reported = False
        self._synced = 0.0
        self._dirty = False
        self.path: str | None = None
        self.size = 0
        self.written = 0
        self.files = 0
        self.failed = False
        self.closed = False

    def __call__(self, frames: Frames) -> None:
        """
        Write a batch of aired frames, rotating between frames as needed.
        Never raises: errors are logged (see the module docstring).

        @param frames: the frames, in order, each with its play.
        """
        if self.closed or not frames:
            return
        now = self._clock.seconds()
        if self.failed:
            if self._retry is None or now < self._retry:
                return
            self.failed = False
            self._retry = None
        try:
            self._write(frames, now)
        except (OSError, ValueError) as error:
            # ValueError: a pattern strftime refuses (a NUL character).
            self._fail(error, now)

    def _write(self, frames: Frames, now: float) -> None:
        """
        Write C{frames} as whole frames, cutting files where rotation asks.
        """
        if self._file is not None and self._deadline is not None and now >= self._deadline:
            self._finish()
        run: list[bytes] = []
        run_size = 0
        for frame, _ in frames:
            data = frame.data
            if self._file is None:
                self._start(now)
            elif (
                self._max_size
                and self.size + run_size > 0
                and self.size + run_size + len(data) > self._max_size
            ):
                self._put(run, run_size)
                run = []
                run_size = 0
                self._finish()
                self._start(now)
            run.append(data)
            run_size += len(data)
        self._put(run, run_size)
        if now - self._synced >= self._interval:
            self._sync(now)

    def _put(self, run: list[bytes], size: int) -> None:
        """
        Write frames' bytes to the current file and flush them.
        """
        if not run:
            return
        assert self._file is not None
        self._file.write(b"".join(run))
        self._file.flush()
        self.size += size
        self.written += size
        self._dirty = True
        self._reported = False

    def _start(self, now: float) -> None:
        """
        Open the file for frames aired at C{now}: create its folder, then
        append to the path, or create a new file under the first free name.
        """
        first = dump_path(self.pattern, now, self._stamped)
        self.path = first
        folder = os.path.dirname(first)
        if folder:
            os.makedirs(folder, exist_ok=True)
        if self._appending:
            opened = self._opener(first, "ab")
        else:
            opened = self._create(now)
        self._file = opened
        self.size = 0
        self.files += 1
        self._synced = now
        self._dirty = False
        self._deadline = next_boundary(now, self._every) if self._every else None
        self._log.info("Dumping {mount} to {path}", mount=self.mount, path=self.path)

    def _create(self, now: float) -> DumpTarget:
        """
        Create a new file named after C{now}, numbering it if the name is
        taken.
        """
        for suffix in range(MAX_SUFFIX):
            path = dump_path(self.pattern, now, self._stamped, suffix)
            self.path = path
            try:
                return self._opener(path, "xb")
            except FileExistsError:
                continue
        raise FileExistsError(errno.EEXIST, f"{MAX_SUFFIX} dump files with the same name exist")

    def _sync(self, now: float) -> None:
        """
        Force the current file's data to disk; a file that cannot be synced
        (C{/dev/null}, a pipe) is not an error.
        """
        if self._file is None or not self._dirty:
            return
        try:
            self._fsync(self._file.fileno())
        except OSError as error:
            if error.errno not in _UNSYNCABLE:
                raise
        self._synced = now
        self._dirty = False

    def _finish(self) -> None:
        """
        Flush, sync and close the current file (closed even on an error,
        which is raised).
        """
        if self._file is None:
            return
        try:
            self._file.flush()
            self._sync(self._clock.seconds())
        finally:
            opened, self._file = self._file, None
            self._deadline = None
            opened.close()

    def _fail(self, error: OSError | ValueError, now: float) -> None:
        """
        Stop dumping after C{error}: log it (once until dumping works
        again), drop the file, and note when to try again.
        """
        self.failed = True
        self._retry = next_boundary(now, self._every) if self._every else None
        if not self._reported:
            self._reported = True
            self._log.error(
                "Dump of {mount} to {path} stopped: {error}",
                mount=self.mount,
                path=self.path or self.pattern,
                error=(isinstance(error, OSError) and error.strerror) or str(error),
            )
        opened, self._file = self._file, None
        self._deadline = None
        if opened is not None:
            try:
                opened.close()
            except OSError:
                pass

    def reopen(self) -> None:
        """
        Close the current file and write the next frames to a file opened
        anew (after log rotation moved the old one away, on C{SIGHUP}); a
        dump stopped by an error tries again.  Does nothing once closed.
        """
        if self.closed:
            return
        self._reported = False
        self._close_file()
        self.failed = False
        self._retry = None

    def close(self) -> None:
        """
        Flush, C{fsync} and close the file; later frames are not written.
        """
        if self.closed:
            return
        self.closed = True
        self._close_file()

    def _close_file(self) -> None:
        """
        Finish the current file, logging an error instead of raising it.
        """
        try:
            self._finish()
        except OSError as error:
            self._fail(error, self._clock.seconds())
