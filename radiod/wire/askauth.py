# -*- test-case-name: tests.wire.test_askauth -*-
"""
What the stream server tells an authentication URL about a listener or a
source (Icecast's C{<authentication type="url">}), and what it remembers
of a listener the URL let in.

The stream server asks before anything of the stream is sent (see
L{radiod.wire.server.RadioProtocol}): a listener waits, its connection
not read meanwhile, until the answer comes (or the mount's
C{auth_timeout} passes and its C{auth_failure} policy decides).  A
listener let in is told about again when it leaves (C{listener_remove},
with how long it stayed), and is disconnected when the time limit the
answer gave runs out.  The asking itself is
L{radiod.outbound.urlauth.UrlAuthenticator}'s; the station gives the
server one per mount that has authentication URLs.
"""

from __future__ import annotations

import itertools
from dataclasses import replace

from twisted.internet.interfaces import IReactorTime

from radiod.auth import parse_basic_auth
from radiod.interfaces import AuthRequest, UrlAuth
from radiod.request import Request

__all__ = ["Admitted", "listener_request", "refusal_headers"]

_clients = itertools.count(1)


def listener_request(request: Request, ip: str, listeners: int) -> AuthRequest:
    """
    What the authentication URL is told of a listener asking for a mount:
    the mount as asked for (with its query, where players carry tokens),
    a number for the connection, the credentials it gave (HTTP basic),
    its address, user agent, referrer and headers, and the mount's
    listeners now.

    @param request: the listener's request.
    @param ip: its address.
    @param listeners: the listeners of the mount it asks for.
    """
    credentials = parse_basic_auth(request.header("Authorization"))
    user, password = credentials if credentials is not None else ("", "")
    return AuthRequest(
        mount=request.target if request.target.startswith("/") else request.path,
        client=next(_clients),
        user=user,
        password=password,
        ip=ip,
        agent=request.header("User-Agent") or "",
        referer=request.header("Referer") or "",
        headers=dict(request.headers),
        listeners=listeners,
    )


def refusal_headers() -> list[tuple[str, str]]:
    """
    The headers of a listener's refusal: a player may ask its user for a
    name and a password, and try again with them.
    """
    return [("WWW-Authenticate", 'Basic realm="radiod"')]


class Admitted:
    """
    A listener the authentication URL let in.

    @ivar request: what the URL was told of it.
    @ivar since: clock time it was let in.
    """

    def __init__(self, auth: UrlAuth, request: AuthRequest, clock: IReactorTime) -> None:
        """
        @param auth: the mount's authenticator.
        @param request: what it was told of the listener.
        @param clock: for how long the listener stays.
        """
        self._auth = auth
        self._clock = clock
        self.request = request
        self.since = clock.seconds()

    def left(self, listeners: int) -> None:
        """
        Tell the URL that the listener left, with the mount's listeners
        now and how long it stayed.
        """
        self._auth.listener_remove(
            replace(self.request, listeners=listeners), self._clock.seconds() - self.since
        )
