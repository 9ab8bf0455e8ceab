# -*- test-case-name: tests.hls.test_store -*-
"""
The time-shift store: a mount's segments on disk for a window of hours,
so that players can seek back and listeners join in the past, while
memory holds only the newest minutes (see L{Rendition}'s C{memory}).

Each rendition's segments are files C{<root>/<rendition>/<n>.<ext>},
written as they close and deleted as they leave the window; the folder is
emptied when the store starts, so it never holds more than the window.
Reads and writes run in a thread, one after another, never on the
reactor thread.
"""

from __future__ import annotations

import os

from twisted.internet.defer import Deferred

from radiod.hls.folder import FileQueue, write_atomically
from radiod.hls.rendition import Rendition, Segment, segment_name
from radiod.interfaces import Runner

__all__ = ["MEMORY", "SegmentStore"]

MEMORY = 120.0
"""
Seconds of segments a rendition keeps in memory when its window is longer
and a store keeps the rest.
"""


class SegmentStore:
    """
    One mount's segments on disk.

    @ivar path: the mount's folder.
    """

    def __init__(self, path: str, runner: Runner) -> None:
        self.path = path
        self._files = FileQueue(
            path,
            runner,
            "Cannot keep HLS segments in {path}: {error}",
            "HLS segments are kept in {path} again",
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
        Keep C{rendition}'s segments from now on.
        """
        rendition.on_segment.append(lambda segment: self._segment(rendition, segment))

    def _file(self, rendition: Rendition, sequence: int) -> str:
        return os.path.join(self.path, rendition.name, segment_name(sequence, rendition.extension))

    def _segment(self, rendition: Rendition, segment: Segment) -> None:
        path = self._file(rendition, segment.sequence)
        data = segment.data
        written = self._written.setdefault(rendition.name, [])
        written.append(segment.sequence)
        oldest = rendition.oldest
        stale = [self._file(rendition, n) for n in written if oldest is not None and n < oldest]
        self._written[rendition.name] = [n for n in written if oldest is None or n >= oldest]

        def write() -> None:
            write_atomically(path, data)
            for old in stale:
                try:
                    os.remove(old)
                except FileNotFoundError:
                    pass

        self._files.do(write)

    def read(self, rendition: Rendition, sequence: int) -> Deferred[bytes | None]:
        """
        Segment C{sequence} of C{rendition} from disk, once every write
        before is done: its bytes, or C{None} when it is not there.
        """
        path = self._file(rendition, sequence)

        def load() -> bytes | None:
            try:
                with open(path, "rb") as file:
                    return file.read()
            except FileNotFoundError:
                return None

        return self._files.ask(load)
