# -*- test-case-name: tests.hls.test_shift -*-
"""
ICY listeners in the past: a frame source that plays a rendition's
segments from some seconds ago on, in real time, so that a listener of
C{/stream?offset=300} hears the programme five minutes late, titles
included.

The segments come from the rendition (the newest, in memory) or from the
time-shift store (the older, on disk, read in a thread ahead of their
turn).  Their ID3 tags give the titles; the frames are the mount's own.
"""

from __future__ import annotations

from collections import deque

from twisted.internet.defer import Deferred, succeed
from twisted.logger import Logger
from zope.interface import implementer

from radiod.audio.frames import Frame, FrameSplitter
from radiod.audio.id3 import read_tag
from radiod.audio.track import Cue, TrackInfo
from radiod.hls.rendition import Rendition
from radiod.hls.store import SegmentStore
from radiod.interfaces import IFrameSource

__all__ = ["AHEAD", "TimeShift"]

AHEAD = 2
"""
Segments read ahead of the one playing.
"""

_log = Logger()


@implementer(IFrameSource)
class TimeShift:
    """
    Plays a rendition from a moment in the past on.

    @ivar sequence: the segment read next.
    """

    def __init__(
        self,
        rendition: Rendition,
        store: SegmentStore | None,
        moment: float,
    ) -> None:
        """
        @param rendition: what is played (an MP3 rendition).
        @param store: where segments that left memory are read from.
        @param moment: the wall-clock time to start at (its segment must
            be kept).
        """
        self._rendition = rendition
        self._store = store
        self._frames: deque[Cue] = deque()
        self._loading = 0
        self._ready: dict[int, bytes | None] = {}
        self._appending = 0
        self._track: TrackInfo | None = None
        self._running = False
        entries = [e for e in rendition.entries() if e.started <= moment]
        first = entries[-1] if entries else rendition.entries()[0]
        self.sequence = first.sequence
        self._appending = first.sequence
        self._skip = max(0.0, moment - first.started)

    def start(self) -> None:
        """
        Read the first segments.
        """
        self._running = True
        self._fill()

    def stop(self) -> None:
        """
        Stop reading; drop what was read.
        """
        self._running = False
        self._frames.clear()

    def next_frame(self) -> Cue | None:
        """
        The next frame, or C{None} while its segment is being read.
        """
        if len(self._frames) < 600 and self._loading == 0:
            self._fill()
        if not self._frames:
            return None
        return self._frames.popleft()

    def _fill(self) -> None:
        """
        Read the next segments, in order.
        """
        while self._running and self._loading < AHEAD:
            sequence = self.sequence
            if not self._rendition.kept(sequence):
                return
            self.sequence += 1
            self._loading += 1
            self._read(sequence).addCallback(self._loaded, sequence)

    def _read(self, sequence: int) -> Deferred[bytes | None]:
        segment = self._rendition.segment(sequence)
        if segment is not None:
            return succeed(segment.data)
        if self._store is None:
            return succeed(None)
        return self._store.read(self._rendition, sequence)

    def _loaded(self, data: bytes | None, sequence: int) -> None:
        """
        A segment was read: its frames go after the segments before it
        (reads from memory finish before reads from disk).
        """
        self._loading -= 1
        if not self._running:
            return
        self._ready[sequence] = data
        while self._appending in self._ready:
            ready = self._ready.pop(self._appending)
            self._appending += 1
            if ready is not None:
                self._append(ready, self._appending - 1)

    def _append(self, data: bytes, sequence: int) -> None:
        try:
            _, texts, length = read_tag(data)
        except ValueError:
            _log.warn("Segment {sequence} has no readable tag; skipped", sequence=sequence)
            return
        track = TrackInfo(
            path="",
            title=texts.get("TIT2", "") or "-",
            artist=texts.get("TPE1", ""),
            album=texts.get("TALB", ""),
        )
        splitter = FrameSplitter()
        frames: list[Frame] = splitter.feed(data[length:]) + splitter.finish()
        skip = self._skip
        self._skip = 0.0
        for frame in frames:
            if skip > frame.header.duration / 2:
                skip -= frame.header.duration
                continue
            starts = self._track is None or track != self._track
            self._track = track
            self._frames.append(Cue(frame, track, starts))
