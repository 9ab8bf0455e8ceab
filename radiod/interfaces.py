"""
The contracts between radiod's parts.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Protocol, TypeVar

from twisted.internet.defer import Deferred
from zope.interface import Interface

from radiod.audio.format import AudioFormat
from radiod.audio.frames import Frame
from radiod.audio.track import Cue, Play

__all__ = [
    "ALLOWED",
    "CANCELLED",
    "REFUSED",
    "UNCHECKED",
    "UNREACHABLE_ALLOWED",
    "UNREACHABLE_DENIED",
    "AuthRequest",
    "AuthResult",
    "Converter",
    "Deliver",
    "Frames",
    "IFrameSource",
    "ILiveSource",
    "MakeConverter",
    "Pulled",
    "Runner",
    "UrlAuth",
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


# Listener and source authentication by URL (Icecast's
# <authentication type="url">): what the stream server asks, and what it
# is answered; see radiod.outbound.urlauth.

ALLOWED = "allowed"
"""
L{AuthResult.reason} of an admission by the auth server.
"""

REFUSED = "refused"
"""
L{AuthResult.reason} of a refusal by the auth server.
"""

UNREACHABLE_ALLOWED = "unreachable-allowed"
"""
L{AuthResult.reason} of a listener let in because the auth server could
not be asked (C{failure = "allow"}).
"""

UNREACHABLE_DENIED = "unreachable-denied"
"""
L{AuthResult.reason} of a listener or source refused because the auth
server could not be asked.
"""

UNCHECKED = "unchecked"
"""
L{AuthResult.reason} when there is no URL to ask: a listener is let in
(there is no C{listener_add}), a source refused (there is no
C{stream_auth}: its password is to be checked instead).
"""

CANCELLED = "cancelled"
"""
L{AuthResult.reason} of a request cancelled by its caller or by
L{radiod.outbound.urlauth.UrlAuthenticator.close}: a refusal.
"""


@dataclass(frozen=True, slots=True)
class AuthRequest:
    """
    What the server knows of a listener, for the auth server.

    @ivar mount: the mount as the listener asked for it, with its query
        string if any (auth servers often read tokens from it).
    @ivar client: the listener's connection id.
    @ivar user: the user of the listener's basic credentials, empty when
        none.
    @ivar password: their password, empty when none.
    @ivar ip: the listener's address.
    @ivar agent: its C{User-Agent}, empty when none.
    @ivar referer: its C{Referer}, empty when none.
    @ivar headers: its request's headers, by name (any case); those the
        C{headers} option names are passed on.
    @ivar listeners: the mount's listeners now.
    """

    mount: str
    client: int
    user: str = ""
    password: str = field(default="", repr=False)
    ip: str = ""
    agent: str = ""
    referer: str = ""
    headers: Mapping[str, str] = field(default_factory=dict)
    listeners: int = 0


@dataclass(frozen=True, slots=True)
class AuthResult:
    """
    Whether a listener or source may come in.

    @ivar admitted: whether it may.
    @ivar message: the auth server's C{icecast-auth-message}, to show a
        refused listener; empty when none.
    @ivar time_limit: the seconds an admitted listener may stay, or
        L{None} for no limit.
    @ivar reason: how it was decided, for log lines: L{ALLOWED},
        L{REFUSED}, L{UNREACHABLE_ALLOWED}, L{UNREACHABLE_DENIED},
        L{UNCHECKED} or L{CANCELLED}.
    """

    admitted: bool
    message: str
    time_limit: float | None
    reason: str


class UrlAuth(Protocol):
    """
    What asks an auth server about listeners and sources:
    L{radiod.outbound.urlauth.UrlAuthenticator}, or L{radiod.testing.FakeUrlAuthenticator} in
    tests.
    """

    @property
    def checks_listeners(self) -> bool:
        """
        Whether listeners are asked about.
        """

    @property
    def checks_sources(self) -> bool:
        """
        Whether sources are asked about (else their password is to be
        checked).
        """

    def listener_add(self, request: AuthRequest) -> Deferred[AuthResult]:
        """
        Ask whether a listener may come in; see
        L{radiod.outbound.urlauth.UrlAuthenticator.listener_add}.
        """

    def listener_remove(self, request: AuthRequest, duration: float) -> None:
        """
        Tell that a listener left; see L{radiod.outbound.urlauth.UrlAuthenticator.listener_remove}.
        """

    def mount_add(self, mount: str) -> None:
        """
        Tell that a mount went on air.
        """

    def mount_remove(self, mount: str) -> None:
        """
        Tell that a mount went off air.
        """

    def stream_auth(self, mount: str, ip: str, user: str, password: str) -> Deferred[AuthResult]:
        """
        Ask whether a source may come in; see
        L{radiod.outbound.urlauth.UrlAuthenticator.stream_auth}.
        """

    def close(self) -> Deferred[None]:
        """
        Cancel what is under way and ask nothing more.
        """
