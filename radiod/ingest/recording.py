# -*- test-case-name: tests.ingest.test_recording -*-
"""
Recording live shows to disk.

A L{Recorder} writes the whole frames of one live show, as they arrive,
to C{<record_dir>/<mount>-<YYYYmmdd-HHMMSS>.mp3} (the UTC time of the
show's first frames; C{-1}, C{-2} ... is added when that name is taken).
A show that never sends a whole frame leaves no file.

Each batch of frames is written and flushed to the operating system at
once, so nothing already received is lost if radiod dies mid-show; the
file is C{fsync}ed at most once per L{SYNC_INTERVAL} and when the show
ends, so a crash of the machine loses at most about a second.

This runs on the reactor thread.  A batch is a few KiB (the frames of one
C{dataReceived}), which a buffered write and flush hand to the kernel's
page cache without waiting for the disk.  Creating the folder and the file
happens once per show and is a metadata operation on a local disk.  The
C{fsync} is the one call that may wait for the disk; it is bounded to once
a second per recorded show, with at most a second of audio (tens of KiB)
to write out, which keeps it short on a working disk.

Any C{OSError} (disk full, folder not writable ...) is logged once, with
the mount and the path, and ends the recording of that show; it never
reaches the caller, so the stream and its listeners carry on.
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Callable, Sequence

from twisted.internet.interfaces import IReactorTime
from twisted.logger import Logger

from radiod.audio.frames import Frame
from radiod.broadcast.dump import MAX_SUFFIX, SYNC_INTERVAL
from radiod.broadcast.dump import DumpTarget as RecordingFile

__all__ = ["MAX_SUFFIX", "SYNC_INTERVAL", "Recorder", "RecordingFile", "recording_name"]

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]")


def _open_new(path: str) -> RecordingFile:
    """
    Create C{path}, failing with C{FileExistsError} if it exists.
    """
    return open(path, "xb")


def recording_name(mount: str, started: float, suffix: int = 0) -> str:
    """
    The file name of a recording.

    @param mount: the mount name, such as C{"/live/show"}; its leading
        slash is dropped and any other character than letters, digits,
        C{.}, C{_} and C{-} (slashes included) becomes C{_}.
    @param started: the show's start, in seconds since the epoch.
    @param suffix: 0 for the plain name, else a number to tell it apart.
    @return: such as C{"live_show-20240102-030405.mp3"} or
        C{"live_show-20240102-030405-1.mp3"}.
    """
    base = _UNSAFE.sub("_", mount.lstrip("/")) or "mount"
    stamp = time.strftime("%Y%m%d-%H%M%S", time.gmtime(started))
    extra = f"-{suffix}" if suffix else ""
    return f"{base}-{stamp}{extra}.mp3"


class Recorder:
    """
    The recording of one live show.

    @ivar path: the file being written, once the first frames arrived.
    @ivar written: audio bytes written.
    @ivar failed: whether an error ended the recording.
    @ivar closed: whether L{close} was called.
    """

    _log = Logger()

    def __init__(
        self,
        mount: str,
        directory: str,
        clock: IReactorTime,
        opener: Callable[[str], RecordingFile] = _open_new,
        fsync: Callable[[int], None] = os.fsync,
        sync_interval: float = SYNC_INTERVAL,
    ) -> None:
        """
        @param mount: the mount name, for the file name and logs.
        @param directory: the folder to write into (created if missing).
        @param clock: gives the start time and paces C{fsync}.
        @param opener: creates a new file, raising C{FileExistsError} if
            the name is taken.
        @param fsync: forces a file descriptor's data to disk.
        @param sync_interval: least seconds between two C{fsync}s.
        """
        self.mount = mount
        self.directory = directory
        self._clock = clock
        self._opener = opener
        self._fsync = fsync
        self._interval = sync_interval
        self._file: RecordingFile | None = None
        self._synced = 0.0
        self._dirty = False
        self.path: str | None = None
        self.written = 0
        self.failed = False
        self.closed = False

    def write(self, frames: Sequence[Frame]) -> None:
        """
        Append whole frames to the recording and flush them to the
        operating system; C{fsync} if the last one is a second old.  Does
        nothing once closed or failed.
        """
        if self.closed or self.failed or not frames:
            return
        try:
            if self._file is None:
                self._file = self._create()
            data = b"".join(frame.data for frame in frames)
            self._file.write(data)
            self._file.flush()
            self.written += len(data)
            self._dirty = True
            now = self._clock.seconds()
            if now - self._synced >= self._interval:
                self._sync(now)
        except OSError as error:
            self._fail(error)

    def close(self) -> None:
        """
        The show ended: C{fsync} and close the file.
        """
        if self.closed:
            return
        self.closed = True
        if self._file is None or self.failed:
            return
        try:
            self._file.flush()
            if self._dirty:
                self._sync(self._clock.seconds())
            self._file.close()
        except OSError as error:
            self._fail(error)
            return
        finally:
            self._file = None
        self._log.info(
            "Recording of {mount} saved to {path} ({bytes} bytes)",
            mount=self.mount,
            path=self.path,
            bytes=self.written,
        )

    def _sync(self, now: float) -> None:
        assert self._file is not None
        self._fsync(self._file.fileno())
        self._synced = now
        self._dirty = False

    def _create(self) -> RecordingFile:
        """
        Create the folder and a new file named after the mount and the
        current time, numbering it if the name is taken.
        """
        started = self._clock.seconds()
        os.makedirs(self.directory, exist_ok=True)
        for suffix in range(MAX_SUFFIX):
            path = os.path.join(self.directory, recording_name(self.mount, started, suffix))
            self.path = path
            try:
                opened = self._opener(path)
            except FileExistsError:
                continue
            self._synced = started
            self._log.info("Recording {mount} to {path}", mount=self.mount, path=path)
            return opened
        raise FileExistsError(f"{MAX_SUFFIX} recordings with the same name exist")

    def _fail(self, error: OSError) -> None:
        self.failed = True
        self._log.error(
            "Recording of {mount} to {path} stopped: {error}",
            mount=self.mount,
            path=self.path or self.directory,
            error=error.strerror or str(error),
        )
        if self._file is not None:
            try:
                self._file.close()
            except OSError:
                pass
            self._file = None
