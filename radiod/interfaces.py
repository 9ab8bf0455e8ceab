"""
The contracts between radiod's parts.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol, TypeVar

from twisted.internet.defer import Deferred
from zope.interface import Interface

from radiod.audio.format import AudioFormat
from radiod.audio.frames import Frame
from radiod.audio.track import Cue, Play

__all__ = [
    "Converter",
    "Deliver",
    "Frames",
    "IFrameSource",
    "ILiveSource",
    "MakeConverter",
    "Pulled",
    "Runner",
]

_T = TypeVar("_T")


class Runner(Protocol):
    """
    Runs a blocking callable away from the reactor thread and fires its
    Deferred, on the reactor thread, with the result.  The real one wraps
    C{deferToThreadPool}; tests use L{radiod.testing.synchronous_runner}.
    """

    def __call__(self, work: Callable[[], _T], /) -> Deferred[_T]: ...


class IFrameSource(Interface):
    """
    Something a mount's pacer pulls MPEG audio frames from, one at a time.
    """

    def next_frame() -> Cue | None:
        """
        Return the next frame to broadcast, the track it belongs to, and
        whether it starts a new play.

        The first frame of every play (a track beginning, even the same
        track again) is marked C{starts}; the mount that airs the frames
        numbers the plays from those marks (see L{radiod.audio.track.Play}).

        Called on the reactor thread, so it must not block: a source that
        reads files does so ahead of time in a thread.

        @return: the frame and its track, or L{None} when no frame is ready
            yet (the pacer then tries again on its next tick).
        """

    def start() -> None:
        """
        Begin preparing frames (load the first track, start watching).
        """

    def stop() -> None:
        """
        Stop preparing frames and release what the source holds.
        """


Pulled = list[Cue]
"""
Frames as frame sources hand them out (see L{IFrameSource.next_frame}), in
order, each with its track and where plays start.
"""

Frames = list[tuple[Frame, Play]]
"""
Frames on air, in order, each with the play it belongs to.
"""

Deliver = Callable[[Frames], None]
"""
Receives frames on air, in order, with the play each belongs to.
"""


class ILiveSource(Interface):
    """
    A source whose audio arrives already in real time (another process,
    an encoder, a relay): it pushes frames as they come instead of being
    paced by the mount.
    """

    def attach(deliver: Deliver) -> None:
        """
        Set where frames go from now on.
        """

    def start() -> None:
        """
        Begin receiving audio.
        """

    def stop() -> None:
        """
        Stop receiving audio.
        """


class Converter(Protocol):
    """
    Converts a stream of MP3 frames to another format.  Converted frames
    come out through the callback given to its maker, and the end (after
    L{finish} or a failure) through the other.
    """

    def feed(self, frames: list[Frame]) -> None:
        """
        Convert these frames (the next ones of the stream).
        """

    def finish(self) -> None:
        """
        The input ended: write out what is left, then end.
        """

    def stop(self) -> None:
        """
        End now, dropping what is left.
        """


MakeConverter = Callable[
    [AudioFormat, Callable[[list[Frame]], None], Callable[[bool], None], str], Converter | None
]
"""
Starts a converter to a format: given the target format, the callback for
converted frames, the callback for its end (called with whether it ended
as asked, rather than failing) and the mount's name for logs, it returns
the running converter, or C{None} when it cannot convert at all.
"""
