# -*- test-case-name: tests.hls.test_rendition -*-
"""
One rung of a mount as HLS: its frames cut into parts and segments of
packed MP3, a window of them kept, and requests for ones still to come
parked until they exist.

Every part and segment starts with an ID3 tag (L{radiod.audio.id3}): the
timestamp of its first sample and the title playing then.  Its first
frame is made to decode without the frames before it
(L{radiod.audio.reservoir}), so a player may start at any part or
segment.  A part is closed as soon as its last frame arrives, and a
segment with its last part.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from twisted.internet.defer import Deferred
from twisted.internet.interfaces import IDelayedCall, IReactorTime

from radiod.audio.frames import Frame
from radiod.audio.id3 import segment_tag
from radiod.audio.reservoir import self_contained
from radiod.audio.track import Play, TrackInfo
from radiod.hls.playlist import MediaPlaylist, PartEntry, SegmentEntry, media_playlist
from radiod.hls.timing import Timing

__all__ = ["BLOCK", "Part", "Rendition", "Segment", "part_name", "segment_name"]

_EPSILON = 1e-6
_RESERVOIR_FRAMES = 12
"""
Frames kept from before a part, enough to hold the most a frame borrows
(511 bytes) at the lowest bitrates.
"""
BLOCK = 1024
"""
A segment's audio is a whole number of these: zero bytes between its tag
and its first frame make up the difference.  ffmpeg's HLS reader takes
packed MP3 in blocks of 1024 bytes and dates each frame from the last ID3
tag it has read, so a block reaching into the next segment would date the
previous segment's last frames from the next one's tag.  MP3 readers skip
zeros while they look for a frame header.
"""
_LISTED_PARTS = 3
"""
How many of the newest segments a playlist lists the parts of.
"""


def segment_name(sequence: int, extension: str = "mp3") -> str:
    """
    The file name of segment C{sequence}.
    """
    return f"{sequence}.{extension}"


def part_name(sequence: int, index: int, extension: str = "mp3") -> str:
    """
    The file name of part C{index} of segment C{sequence}.
    """
    return f"{sequence}.{index}.{extension}"


@dataclass(frozen=True, slots=True)
class Part:
    """
    One part: a stretch of frames of a segment, tagged.

    @ivar sequence: the number of its segment.
    @ivar index: its place in the segment, from 0.
    @ivar duration: its seconds of audio.
    @ivar data: its bytes: the ID3 tag, then the frames.
    @ivar tag_length: the length of the tag.
    @ivar track: what plays at its start.
    @ivar start: its position (see L{radiod.hls.timing}).
    """

    sequence: int
    index: int
    duration: float
    data: bytes
    tag_length: int
    track: TrackInfo
    start: float


@dataclass(frozen=True, slots=True)
class Entry:
    """
    A segment as a playlist lists it, kept for the whole window whether
    its bytes are in memory or only in a store on disk.

    @ivar sequence: its media sequence number.
    @ivar duration: its seconds of audio.
    @ivar started: the wall-clock time of its first sample.
    @ivar discontinuous: whether a discontinuity comes before it.
    """

    sequence: int
    duration: float
    started: float
    discontinuous: bool


@dataclass(frozen=True, slots=True)
class Segment:
    """
    One complete segment.

    @ivar sequence: its media sequence number.
    @ivar duration: its seconds of audio.
    @ivar started: the wall-clock time of its first sample.
    @ivar discontinuous: whether a discontinuity comes before it.
    @ivar data: its bytes: the ID3 tag, zero bytes up to a whole number
        of L{BLOCK}s after the tag, and the frames of its parts.
    @ivar parts: its parts.
    """

    sequence: int
    duration: float
    started: float
    discontinuous: bool
    data: bytes
    parts: tuple[Part, ...]

    @property
    def entry(self) -> Entry:
        """
        What a playlist needs to know of it.
        """
        return Entry(self.sequence, self.duration, self.started, self.discontinuous)

    @property
    def bits_per_second(self) -> int:
        """
        Its bitrate, tag included.
        """
        return round(len(self.data) * 8 / self.duration) if self.duration else 0


class Rendition:
    """
    One rung's parts and segments.

    @ivar name: the rung's name in URLs.
    @ivar timing: the mount's parts and segments.
    @ivar window: seconds of segments listed.
    @ivar discontinuity_sequence: discontinuities that have left the
        listed window.
    @ivar on_part: called with each part as it is closed.
    @ivar on_segment: called with each segment as it is closed.
    """

    def __init__(
        self,
        name: str,
        timing: Timing,
        clock: IReactorTime,
        window: float,
        extension: str = "mp3",
        memory: float | None = None,
    ) -> None:
        """
        @param name: the rung's name in URLs.
        @param timing: the mount's parts and segments.
        @param clock: for parked requests' timeouts.
        @param window: seconds of segments listed.
        @param extension: C{"mp3"} for MP3 frames, C{"aac"} for AAC frames
            in ADTS (which borrow nothing from each other and need no
            padding).
        @param memory: seconds of segments kept in memory, when less than
            the window (the rest is read from a store on disk: see
            L{radiod.hls.store}); C{None} to keep the whole window.
        """
        self.name = name
        self.extension = extension
        self._mp3 = extension == "mp3"
        self.timing = timing
        self.window = window
        self._clock = clock
        self._segments: deque[Segment] = deque()
        self._index: deque[Entry] = deque()
        self._memory = memory
        self._parts: list[Part] = []
        self._frames: list[Frame] = []
        self._key: tuple[int, int] | None = None
        self._start = 0.0
        self._end = 0.0
        self._track: TrackInfo | None = None
        self._recent: deque[Frame] = deque(maxlen=_RESERVOIR_FRAMES)
        self._format: tuple[int, int] | None = None
        self._resume = 0
        self._discontinuous = False
        self._pending_discontinuous = False
        self.discontinuity_sequence = 0
        self._waiting: list[tuple[int, int | None, Deferred[bool], IDelayedCall]] = []
        self.on_part: list[Callable[[Part], None]] = []
        self.on_segment: list[Callable[[Segment], None]] = []
        self._version = 0
        self._rendered: tuple[object, bytes] | None = None

    # Cutting

    def take(self, frames: Sequence[tuple[Frame, Play]], positions: Sequence[float]) -> None:
        """
        Cut frames as they air, each at its position.
        """
        timing = self.timing
        for (frame, play), position in zip(frames, positions, strict=True):
            header = frame.header
            duration = header.duration
            shape = (header.sample_rate, header.channels)
            key = timing.part_of(position + duration / 2)
            if self._format is not None and shape != self._format:
                self._break()
            elif self._key is not None and key != self._key:
                self._break()
            elif self._key is None and self._parts and key != self.next_part():
                self._break()
            elif self._key is None and self._end and position > self._end + duration / 2:
                self._discontinuous = True
            self._format = shape
            if key[0] < self._resume:
                continue
            if self._key is None:
                self._key = key
                self._start = position
                self._track = play.track
                if not self._parts:
                    self._pending_discontinuous = self._discontinuous
                    self._discontinuous = False
            self._frames.append(frame)
            self._end = position + duration
            sequence, index = key
            if self._end >= timing.start_of(sequence, index + 1) - duration / 2 + _EPSILON:
                self._close_part()
                if index == timing.parts_per_segment - 1:
                    self._close_segment()

    def _break(self) -> None:
        """
        The audio changed format, or some is missing (a converter
        restarted): close the segment in progress as it is, and start
        again, after a discontinuity, with the next segment (a number
        belongs to one stretch of audio, the same on every rung).
        """
        sequence = self._key[0] if self._key is not None else None
        if sequence is None and self._parts:
            sequence = self._parts[-1].sequence
        self._close_segment()
        if sequence is not None:
            self._resume = sequence + 1
        self._discontinuous = True

    def _close_part(self) -> None:
        frames = self._frames
        if not frames or self._key is None or self._track is None:
            self._key = None
            return
        sequence, index = self._key
        track = self._track
        start = self._snap(self._start, sequence, index)
        first = self_contained(frames[0], self._recent) if self._mp3 else frames[0]
        tag = segment_tag(self.timing.ticks(start), track.title, track.artist, track.album)
        body = b"".join([first.data, *(frame.data for frame in frames[1:])])
        duration = sum(frame.header.duration for frame in frames)
        part = Part(sequence, index, duration, tag + body, len(tag), track, start)
        self._parts.append(part)
        self._recent.extend(frames)
        self._frames = []
        self._key = None
        self._version += 1
        for observer in self.on_part:
            observer(part)
        self._fire()

    def _snap(self, position: float, sequence: int, index: int) -> float:
        """
        The part's nominal start when its first frame starts there (to
        within half a frame), so every rung stamps the same time.
        """
        nominal = self.timing.start_of(sequence, index)
        frame = self.timing.part_length / self.timing.part_frames
        return nominal if abs(position - nominal) < frame / 2 else position

    def _close_segment(self) -> None:
        self._close_part()
        parts = tuple(self._parts)
        if not parts:
            return
        self._parts = []
        first = parts[0]
        tag = segment_tag(
            self.timing.ticks(first.start), first.track.title, first.track.artist, first.track.album
        )
        audio = b"".join(part.data[part.tag_length :] for part in parts)
        padding = bytes(-len(audio) % BLOCK) if self._mp3 else b""
        data = b"".join([tag, padding, audio])
        segment = Segment(
            sequence=first.sequence,
            duration=sum(part.duration for part in parts),
            started=self.timing.wall(first.start),
            discontinuous=self._pending_discontinuous,
            data=data,
            parts=parts,
        )
        self._pending_discontinuous = False
        self._segments.append(segment)
        self._index.append(segment.entry)
        self._prune()
        self._version += 1
        for observer in self.on_segment:
            observer(segment)
        self._fire()

    def _prune(self) -> None:
        """
        Forget segments a while after they leave the window (players that
        read the playlist just before may still ask for them).
        """
        kept = self.listed + 2
        while len(self._index) > kept:
            if self._index.popleft().discontinuous:
                self.discontinuity_sequence += 1
        held = kept
        if self._memory is not None:
            held = min(
                kept, max(_LISTED_PARTS + 2, round(self._memory / self.timing.segment_length))
            )
        while len(self._segments) > held:
            self._segments.popleft()

    # Reading

    @property
    def listed(self) -> int:
        """
        How many segments a playlist lists (at least three).
        """
        return max(3, int(self.window / self.timing.segment_length + _EPSILON))

    def segment(self, sequence: int) -> Segment | None:
        """
        Complete segment C{sequence}, while it is kept in memory.
        """
        for segment in reversed(self._segments):
            if segment.sequence == sequence:
                return segment
            if segment.sequence < sequence:
                break
        return None

    def part(self, sequence: int, index: int) -> Part | None:
        """
        Part C{index} of segment C{sequence}, while it is kept.
        """
        for part in self._parts:
            if (part.sequence, part.index) == (sequence, index):
                return part
        segment = self.segment(sequence)
        if segment is not None and 0 <= index < len(segment.parts):
            return segment.parts[index]
        return None

    @property
    def last(self) -> tuple[int, int] | None:
        """
        The newest part's segment number and index, if there is one.
        """
        if self._parts:
            return self._parts[-1].sequence, self._parts[-1].index
        if self._segments:
            segment = self._segments[-1]
            return segment.sequence, len(segment.parts) - 1
        return None

    @property
    def oldest(self) -> int | None:
        """
        The number of the oldest segment kept (in memory or on disk), if
        any.
        """
        return self._index[0].sequence if self._index else None

    def kept(self, sequence: int) -> bool:
        """
        Whether segment C{sequence} is kept, in memory or on disk.
        """
        return bool(self._index) and self._index[0].sequence <= sequence <= self._index[-1].sequence

    def entries(self) -> list[Entry]:
        """
        The segments a playlist lists, oldest first.
        """
        return list(self._index)[-self.listed :]

    def rendered(
        self, reports: Sequence[tuple[str, int, int]] = (), start: float | None = None
    ) -> bytes:
        """
        The media playlist with parts as text, rendered once per change:
        every player reloading it between two parts gets the same bytes
        (low-latency players reload it for every part).
        """
        key = (self._version, tuple(reports), start)
        cached = self._rendered
        if cached is not None and cached[0] == key:
            return cached[1]
        text = media_playlist(self.playlist(reports=reports, start=start)).encode()
        self._rendered = (key, text)
        return text

    def offset_of(self, moment: float) -> float | None:
        """
        Where wall-clock time C{moment} is in the playlist: seconds from
        the start of the first segment listed, or C{None} when the listed
        segments did not play it.
        """
        listed = self.entries()
        for entry in listed:
            if entry.started <= moment < entry.started + entry.duration:
                return sum(e.duration for e in listed if e.sequence < entry.sequence) + (
                    moment - entry.started
                )
        return None

    def has(self, sequence: int, index: int | None) -> bool:
        """
        Whether a playlist lists segment C{sequence} complete (C{index}
        C{None}) or its part C{index}.
        """
        if index is None:
            return bool(self._segments) and self._segments[-1].sequence >= sequence
        last = self.last
        return last is not None and last >= (sequence, index)

    def next_part(self) -> tuple[int, int] | None:
        """
        The part that comes next (for the preload hint).
        """
        last = self.last
        if last is None:
            return None
        sequence, index = last
        if index + 1 >= self.timing.parts_per_segment:
            return sequence + 1, 0
        return sequence, index + 1

    def playlist(
        self,
        parts: bool = True,
        reports: Sequence[tuple[str, int, int]] = (),
        start: float | None = None,
    ) -> MediaPlaylist:
        """
        The media playlist as it stands: the listed segments, and with
        C{parts}, the parts of the newest ones and of the segment in
        progress, and the hint at the next.
        """
        listed = self.entries()
        first = listed[0].sequence if listed else self.timing.first
        dropped = [s for s in self._index if s.sequence < first and s.discontinuous]
        newest = {
            segment.sequence: segment for segment in list(self._segments)[-_LISTED_PARTS:] if parts
        }
        entries = [
            SegmentEntry(
                uri=segment_name(entry.sequence, self.extension),
                duration=entry.duration,
                started=entry.started,
                discontinuous=entry.discontinuous,
                parts=tuple(
                    PartEntry(part_name(part.sequence, part.index, self.extension), part.duration)
                    for part in newest[entry.sequence].parts
                )
                if entry.sequence in newest
                else (),
            )
            for entry in listed
        ]
        pending = (
            [
                PartEntry(part_name(part.sequence, part.index, self.extension), part.duration)
                for part in self._parts
            ]
            if parts
            else []
        )
        upcoming = self.next_part() if parts else None
        return MediaPlaylist(
            target=self.timing.segment_length,
            sequence=first,
            discontinuity_sequence=self.discontinuity_sequence + len(dropped),
            segments=entries,
            part_target=self.timing.part_length if parts else 0.0,
            pending=pending,
            pending_discontinuous=self._pending_discontinuous and bool(self._parts),
            pending_started=self.timing.wall(self._parts[0].start) if self._parts else 0.0,
            hint=part_name(*upcoming, self.extension) if upcoming is not None else "",
            reports=reports,
            start=start,
        )

    # Waiting

    def wait(self, sequence: int, index: int | None, timeout: float) -> Deferred[bool]:
        """
        Fires with C{True} once L{has} the segment or part, at once if it
        already does, or with C{False} after C{timeout} seconds.
        """
        if self.has(sequence, index):
            waiting: Deferred[bool] = Deferred()
            waiting.callback(True)
            return waiting
        waiting = Deferred(lambda d: self._forget(d))
        timer = self._clock.callLater(timeout, self._expire, waiting)
        self._waiting.append((sequence, index, waiting, timer))
        return waiting

    def _expire(self, waiting: Deferred[bool]) -> None:
        for entry in self._waiting:
            if entry[2] is waiting:
                self._waiting.remove(entry)
                waiting.callback(False)
                return

    def _forget(self, waiting: Deferred[bool]) -> None:
        for entry in self._waiting:
            if entry[2] is waiting:
                self._waiting.remove(entry)
                if entry[3].active():
                    entry[3].cancel()
                return

    def _fire(self) -> None:
        if not self._waiting:
            return
        ready = [entry for entry in self._waiting if self.has(entry[0], entry[1])]
        for entry in ready:
            self._waiting.remove(entry)
            if entry[3].active():
                entry[3].cancel()
            entry[2].callback(True)

    def bitrates(self) -> tuple[int, int] | None:
        """
        The peak and the average bitrate of the segments kept, tags
        included (the peak of those at least half the target length, as a
        short segment's tag weighs more), or C{None} before the first.
        """
        segments = self._segments
        if not segments:
            return None
        seconds = sum(segment.duration for segment in segments)
        average = round(sum(len(segment.data) for segment in segments) * 8 / seconds)
        full = [s for s in segments if s.duration >= self.timing.segment_length / 2] or segments
        return max(average, *(segment.bits_per_second for segment in full)), average

    @property
    def waiting(self) -> int:
        """
        Requests parked until a segment or part exists.
        """
        return len(self._waiting)

    def stop(self) -> None:
        """
        Answer every parked request: what it waits for will not come.
        """
        waiting, self._waiting = self._waiting, []
        for _, _, deferred, timer in waiting:
            if timer.active():
                timer.cancel()
            deferred.callback(False)
