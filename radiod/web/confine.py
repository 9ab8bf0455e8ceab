# -*- test-case-name: tests.web.test_files -*-
"""
Opening a library file only where it really lies in its library.

No request names a path: an id is looked up among the files the last
library scan listed (L{radiod.library.catalogue}), and the file is opened
here only after its real path (all symbolic links resolved) is found under
its library's real folder.  Everything here blocks on file I/O: run it in
a thread.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass

from radiod.library.catalogue import inside

__all__ = ["OpenFile", "OutsideLibrary", "open_inside", "real_path_inside"]


class OutsideLibrary(Exception):
    """
    A file's real path is not under its library's real folder: a symbolic
    link leads out of it.
    """


@dataclass(frozen=True, slots=True)
class OpenFile:
    """
    A library file, opened for reading.

    @ivar fd: the open file descriptor; whoever holds this closes it.
    @ivar path: its real path.
    @ivar size: its size in bytes.
    @ivar modified: its modification time (seconds since the epoch).
    @ivar etag: its entity tag (quoted), from its size and modification
        time.
    """

    fd: int
    path: str
    size: int
    modified: float
    etag: str


_OPEN_FLAGS = (
    os.O_RDONLY
    | getattr(os, "O_NOFOLLOW", 0)
    | getattr(os, "O_CLOEXEC", 0)
    | getattr(os, "O_NOCTTY", 0)
    | getattr(os, "O_NONBLOCK", 0)
)


def _opened_path(fd: int) -> str | None:
    """
    The path the system has for an open file, where it tells (Linux).
    """
    try:
        return os.readlink(f"/proc/self/fd/{fd}")
    except OSError:
        return None


def open_inside(path: str, root: str) -> OpenFile:
    """
    Open a library file for reading, if it really lies in its library.

    The path's symbolic links are resolved and the real path must be
    under the real C{root}; the file is opened without following a link
    in its last component (it has none, unless it was swapped since) and
    must be a regular file; where the system tells which file was opened,
    that is checked to be under C{root} too.

    @param path: the file's path, as its library lists it.
    @param root: its library's folder.
    @raise OutsideLibrary: if the file is not under C{root}.
    @raise OSError: if it cannot be opened or is not a regular file.
    """
    real_root = os.path.realpath(root)
    real = os.path.realpath(path)
    if not inside(real_root, real):
        raise OutsideLibrary(real)
    fd = os.open(real, _OPEN_FLAGS)
    try:
        status = os.fstat(fd)
        if not stat.S_ISREG(status.st_mode):
            raise IsADirectoryError(f"{real} is not a regular file")
        opened = _opened_path(fd)
        if opened is not None and not inside(real_root, opened):
            raise OutsideLibrary(opened)
    except BaseException:
        os.close(fd)
        raise
    etag = f'"{status.st_size:x}-{status.st_mtime_ns:x}"'
    return OpenFile(fd, real, status.st_size, status.st_mtime, etag)


def real_path_inside(path: str, root: str) -> str:
    """
    The real path of a library file that really lies in its library (see
    L{open_inside}), for a child process to open.

    @raise OutsideLibrary: if the file is not under C{root}.
    @raise OSError: if it cannot be opened or is not a regular file.
    """
    opened = open_inside(path, root)
    os.close(opened.fd)
    return opened.path
