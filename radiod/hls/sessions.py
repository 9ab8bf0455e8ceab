# -*- test-case-name: tests.hls.test_sessions -*-
"""
HLS listeners: a session per player, live while it keeps fetching its
media playlist.

A player that opens the multivariant playlist gets variant URLs carrying a
session token of its own (C{?sid=}), so each of its playlist reloads names
it, even through a cache (the token is part of the URL).  A player that
opens a media playlist without one is known by its address and user agent.
A session ends a few segment lengths after its last reload; then it is
told to the access log as one request lasting the whole session.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass

from twisted.internet.interfaces import IDelayedCall, IReactorTime

from radiod.broadcast.mount import Mount

__all__ = ["HlsSession", "HlsSessions", "new_token"]

TOKEN_BYTES = 8


def new_token() -> str:
    """
    A fresh session token: 16 hexadecimal digits.
    """
    return secrets.token_hex(TOKEN_BYTES)


def valid_token(token: str) -> bool:
    """
    Whether C{token} looks like one L{new_token} makes.
    """
    return len(token) == 2 * TOKEN_BYTES and all(c in "0123456789abcdef" for c in token)


@dataclass(slots=True)
class HlsSession:
    """
    One player's listening.

    @ivar key: what names it: its token, or its address and user agent.
    @ivar mount: the mount it listens to.
    @ivar rung: the rendition it fetched last.
    @ivar client: its address, without a port.
    @ivar user_agent: its C{User-Agent}.
    @ivar referer: its C{Referer}.
    @ivar started: when it first fetched a media playlist.
    @ivar seen: when it last did.
    @ivar reloads: its media playlist fetches.
    @ivar sent: the bytes of audio its time listening amounts to, at the
        bitrate of the rendition it fetched (segments are shared, so what
        one player fetched is not known).
    """

    key: str
    mount: Mount
    rung: str
    client: str
    user_agent: str
    referer: str
    started: float
    seen: float
    reloads: int = 0
    sent: int = 0

    @property
    def duration(self) -> float:
        """
        Seconds from its first fetch to its last.
        """
        return self.seen - self.started


class HlsSessions:
    """
    The HLS sessions of a station.

    @ivar sessions: by key.
    @ivar on_end: called with each session as it ends.
    """

    def __init__(self, clock: IReactorTime) -> None:
        self._clock = clock
        self.sessions: dict[str, HlsSession] = {}
        self._expiry: dict[str, IDelayedCall] = {}
        self.on_end: list[Callable[[HlsSession], None]] = []

    def seen(
        self,
        mount: Mount,
        rung: str,
        token: str,
        client: str,
        user_agent: str,
        referer: str,
        linger: float,
        bits_per_second: int,
    ) -> HlsSession:
        """
        A player fetched a media playlist of C{mount}: its session goes on
        (or begins), and ends C{linger} seconds after this unless it
        fetches again.

        @param token: the session token from the URL, or C{""}.
        @param bits_per_second: the rendition's bitrate, for L{HlsSession.sent}.
        """
        now = self._clock.seconds()
        key = token if valid_token(token) else f"{client} {user_agent}"
        session = self.sessions.get(key)
        if session is not None and session.mount is not mount:
            self._end(key)
            session = None
        if session is None:
            session = HlsSession(key, mount, rung, client, user_agent, referer, now, now)
            self.sessions[key] = session
            mount.hls_listener_joined()
        session.sent += round(max(0.0, now - session.seen) * bits_per_second / 8)
        session.seen = now
        session.rung = rung
        session.reloads += 1
        expiry = self._expiry.get(key)
        if expiry is not None and expiry.active():
            expiry.reset(linger)
        else:
            self._expiry[key] = self._clock.callLater(linger, self._end, key)
        return session

    def count(self, mount: Mount) -> int:
        """
        The sessions of C{mount} now.
        """
        return sum(1 for session in self.sessions.values() if session.mount is mount)

    def _end(self, key: str) -> None:
        session = self.sessions.pop(key, None)
        expiry = self._expiry.pop(key, None)
        if expiry is not None and expiry.active():
            expiry.cancel()
        if session is None:
            return
        session.mount.hls_listener_left()
        for observer in self.on_end:
            observer(session)

    def stop(self) -> None:
        """
        End every session now.
        """
        for key in list(self.sessions):
            self._end(key)
