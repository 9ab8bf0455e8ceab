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

from twisted.internet.defer import Deferred, succeed
from twisted.logger import Logger
from twisted.python.failure import Failure

from radiod.hls.playlist import media_playlist
from radiod.hls.rendition import Rendition, Segment, segment_name
from radiod.interfaces import Runner

__all__ = ["HlsFolder", "write_atomically"]

_log = Logger()


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


class HlsFolder:
    """
    Writes one mount's renditions to its folder.

    @ivar path: the mount's folder.
    @ivar failed: whether a write failed (logged once, until one works).
    """

    def __init__(self, path: str, runner: Runner, variants: Callable[[], str]) -> None:
        """
        @param path: the mount's folder; what is in it is removed first.
        @param runner: runs the file operations off the reactor thread.
        @param variants: the multivariant playlist's text, as it stands.
        """
        self.path = path
        self._runner = runner
        self._variants = variants
        self.failed = False
        self._queue: Deferred[None] = succeed(None)
        self._written: dict[str, list[int]] = {}
        self._do(lambda: self._clean())

    def _clean(self) -> None:
        shutil.rmtree(self.path, ignore_errors=True)
        os.makedirs(self.path, exist_ok=True)

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

        self._do(write)

    def _do(self, work: Callable[[], None]) -> None:
        def run(_: object) -> Deferred[None]:
            return self._runner(work)

        def worked(_: object) -> None:
            if self.failed:
                _log.info("HLS files are written to {path} again", path=self.path)
            self.failed = False

        def failed(failure: Failure) -> None:
            if not self.failed:
                _log.error(
                    "Cannot write HLS files to {path}: {error}",
                    path=self.path,
                    error=failure.getErrorMessage(),
                )
            self.failed = True

        self._queue = self._queue.addCallback(run).addCallbacks(worked, failed)

    def done(self) -> Deferred[None]:
        """
        Fires once every write asked for so far is done.
        """
        finished: Deferred[None] = Deferred()

        def fire(result: object) -> object:
            finished.callback(None)
            return result

        self._queue.addBoth(fire)
        return finished
