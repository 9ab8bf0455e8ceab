# -*- test-case-name: tests.test_testing -*-
"""
Synthetic frames and a scripted frame source.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import TypeVar

from twisted.internet.protocol import Protocol as TwistedProtocol
from zope.interface import implementer

from radiod.audio.frames import Frame, build_header, parse_header
from radiod.audio.track import Cue, TrackInfo
from radiod.interfaces import IFrameSource

__all__ = ["Cues", "FakeFrameSource", "silent_frame"]

_T = TypeVar("_T")
_P = TypeVar("_P", bound=TwistedProtocol)
_P_co = TypeVar("_P_co", bound=TwistedProtocol, covariant=True)


def silent_frame(
    version: str = "1",
    bitrate: int = 128,
    sample_rate: int = 44100,
    channels: int = 2,
    padding: bool = False,
    layer: int = 3,
    fill: int = 0,
) -> Frame:
    """
    A frame with a real header and a payload of C{fill} bytes (all zero
    decodes as silence for layer III main data of length zero).

    @param version: the MPEG version: C{"1"}, C{"2"} or C{"2.5"}.
    @param bitrate: kbit/s, one the version and layer allow.
    @param sample_rate: samples per second, one the version allows.
    @param channels: 1 or 2.
    @param padding: whether the frame has its padding slot.
    @param layer: the MPEG layer, 1 to 3.
    @param fill: the byte the payload is made of.
    @return: the frame, as the real parser reads it.
    """
    header_bytes = build_header(version, layer, bitrate, sample_rate, padding, channels)
    header = parse_header(header_bytes)
    assert header is not None
    return Frame(header, header_bytes + bytes([fill]) * (header.length - 4))


@dataclass
class _Segment:
    """
    One scripted track of a L{FakeFrameSource}.
    """

    track: TrackInfo
    frame: Frame
    count: int


class Cues:
    """
    Marks where plays start in frames written out by hand as (frame,
    track) pairs, for tests that broadcast them on a mount: a frame whose
    track differs from the one before it (in the pairs given to this
    object so far) starts a play, as a new track from a programme would.
    """

    def __init__(self) -> None:
        self._last: TrackInfo | None = None

    def __call__(self, pairs: Iterable[tuple[Frame, TrackInfo]]) -> list[Cue]:
        """
        The pairs as L{Cue}s, in order.
        """
        cues: list[Cue] = []
        last = self._last
        for frame, track in pairs:
            cues.append(Cue(frame, track, track != last))
            last = track
        self._last = last
        return cues


@implementer(IFrameSource)
class FakeFrameSource:
    """
    A frame source that plays scripted tracks of synthetic frames, round
    after round, as a programme plays its library (every frame of a track
    with the same L{TrackInfo}, the first starting a play).  Unlike a programme, it plays whether
    started or not.

    @ivar ready: while false, L{next_frame} returns L{None} (an underrun).
    @ivar started: whether L{start} was called (and L{stop} not since).
    @ivar handed: frames handed out so far.
    """

    def __init__(self, segments: Iterable[tuple[TrackInfo, Frame, int]]) -> None:
        """
        @param segments: (track, frame, count): play C{count} copies of
            C{frame} as C{track}, then the next segment.
        """
        self._segments = [_Segment(*segment) for segment in segments]
        self._index = 0
        self._played = 0
        self.ready = True
        self.started = False
        self.handed = 0

    def start(self) -> None:
        """
        Note that the source was started.
        """
        self.started = True

    def stop(self) -> None:
        """
        Note that the source was stopped.
        """
        self.started = False

    def next_frame(self) -> Cue | None:
        """
        The next scripted frame and its track, the first of each segment
        starting a play, or L{None} while not L{ready} (or with nothing
        scripted).
        """
        if not self.ready or not self._segments:
            return None
        segment = self._segments[self._index]
        if self._played >= segment.count:
            self._index = (self._index + 1) % len(self._segments)
            self._played = 0
            segment = self._segments[self._index]
        starts = self._played == 0
        self._played += 1
        self.handed += 1
        return Cue(segment.frame, segment.track, starts)
