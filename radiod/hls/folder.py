# -*- test-case-name: tests.hls.test_folder -*-
"""
HLS written to a folder: a mount's segments and playlists as files, for a
web server (nginx) or a CDN origin to serve without radiod in the path.

The folder of a mount (C{<hls_dir>/<mount>/}) is laid out as its URLs:
C{index.m3u8}, and for each rung C{<rung>/media.m3u8} and C{<rung>/<n>.mp3}.
Its playlists are plain HLS, without parts: low latency needs the blocking
reloads only radiod answers.  Every file is written to a temporary name
and renamed into place, so a reader never sees half a file, and a segment
is written before the playlist that lists it.  Segments are deleted a
while after they leave the window.  Writing happens in a thread, one file
operation after another, never on the reactor thread.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from typing import TypeVar

from twisted.internet.defer import Deferred, succeed
from twisted.logger import Logger
from twisted.python.failure import Failure

from radiod.hls.playlist import media_playlist
from radiod.hls.rendition import Rendition, Segment, segment_name
from radiod.interfaces import Runner

__all__ = ["FileQueue", "HlsFolder", "write_atomically"]

_log = Logger()
_T = TypeVar("_T")


def write_atomically(path: str, data: bytes) -> None:
    """
    Write C{data} to C{path} through a temporary file renamed into place.
    """
    folder = os.path.dirname(path)
    os.makedirs(folder, exist_ok=True)
    temporary = os.path.join(folder, f".{os.path.basename(path)}.tmp")
    with open(temporary, "wb") as file:
        file.write(data)
    os.replace(temporary, path)


class FileQueue:
    """
    File operations on a folder of HLS files, run through a L{Runner} one
    after another (never on the reactor thread); a failure is logged once,
    with the folder, until an operation works again.  The folder is
    emptied first.

    @ivar path: the folder.
    @ivar failed: whether the last operation failed.
    """

    def __init__(self, path: str, runner: Runner, failing: str, working: str) -> None:
        """
        @param path: the folder.
        @param runner: runs the operations.
        @param failing: the log line of a failure (with C{path} and
            C{error} fields).
        @param working: the log line once operations work again (with a
            C{path} field).
        """
        self.path = path
        self._runner = runner
        self._failing = failing
        self._working = working
        self.failed = False
        self._queue: Deferred[None] = succeed(None)
        self.do(self._clean)

    def _clean(self) -> None:
        shutil.rmtree(self.path, ignore_errors=True)
        os.makedirs(self.path, exist_ok=True)

    def do(self, work: Callable[[], None]) -> None:
        """
        Run C{work} after every operation asked for before.
        """

        def run(_: object) -> Deferred[None]:
            return self._runner(work)

        def worked(_: object) -> None:
            if self.failed:
                _log.info(self._working, path=self.path)
            self.failed = False

        def failed(failure: Failure) -> None:
            if not self.failed:
                _log.error(self._failing, path=self.path, error=failure.getErrorMessage())
            self.failed = True

        self._queue = self._queue.addCallback(run).addCallbacks(worked, failed)

    def ask(self, work: Callable[[], _T | None]) -> Deferred[_T | None]:
        """
        Run C{work} after every operation asked for before, and fire with
        its result, or with C{None} when it failed (which is logged).
        """
        answer: Deferred[_T | None] = Deferred()

        def run(_: object) -> Deferred[None]:
            return self._runner(work).addCallbacks(answer.callback, _logged, errbackArgs=(answer,))

        self._queue = self._queue.addCallback(run)
        return answer

    def done(self) -> Deferred[None]:
        """
        Fires once every operation asked for so far is done.
        """
        finished: Deferred[None] = Deferred()

        def fire(result: object) -> object:
            finished.callback(None)
            return result

        self._queue.addBoth(fire)
        return finished


def _logged(failure: Failure, answer: Deferred[_T | None]) -> None:
    _log.failure("An HLS file operation failed", failure)
    answer.callback(None)


class HlsFolder:
    """
    Writes one mount's renditions to its folder.

    @ivar path: the mount's folder.
    """

    def __init__(self, path: str, runner: Runner, variants: Callable[[], str]) -> None:
        """
        @param path: the mount's folder; what is in it is removed first.
        @param runner: runs the file operations off the reactor thread.
        @param variants: the multivariant playlist's text, as it stands.
        """
        self.path = path
        self._variants = variants
        self._files = FileQueue(
            path,
            runner,
            "Cannot write HLS files to {path}: {error}",
            "HLS files are written to {path} again",
        )
        self._written: dict[str, list[int]] = {}

    @property
    def failed(self) -> bool:
        """
        Whether the last write failed (logged once, until one works).
        """
        return self._files.failed

    def follow(self, rendition: Rendition) -> None:
        """
        Write C{rendition}'s segments from now on.
        """
        rendition.on_segment.append(lambda segment: self._segment(rendition, segment))

    def _segment(self, rendition: Rendition, segment: Segment) -> None:
        name = rendition.name
        folder = os.path.join(self.path, name)
        data = segment.data
        playlist = media_playlist(rendition.playlist(parts=False)).encode()
        variants = self._variants().encode()
        written = self._written.setdefault(name, [])
        written.append(segment.sequence)
        oldest = rendition.oldest
        stale = [n for n in written if oldest is not None and n < oldest]
        self._written[name] = [n for n in written if n not in stale]

        def write() -> None:
            write_atomically(
                os.path.join(folder, segment_name(segment.sequence, rendition.extension)), data
            )
            write_atomically(os.path.join(folder, "media.m3u8"), playlist)
            write_atomically(os.path.join(self.path, "index.m3u8"), variants)
            for number in stale:
                try:
                    os.remove(os.path.join(folder, segment_name(number, rendition.extension)))
                except FileNotFoundError:
                    pass

        self._files.do(write)

    def done(self) -> Deferred[None]:
        """
        Fires once every write asked for so far is done.
        """
        return self._files.done()
