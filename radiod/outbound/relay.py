# -*- test-case-name: tests.outbound.test_relay -*-
"""
Relaying out: pushing a mount to another Icecast-compatible server as a
source client, so relays and CDNs can carry the station further.

A L{RelayOut} observes a L{Mount}: every batch of frames the mount
broadcasts (already paced in real time) is written to a source connection
made with L{radiod.outbound.push.SourceProtocol}, and every track change is sent as
a title update to the server's C{/admin/metadata}.  The source request is
C{PUT}, falling back to C{SOURCE} for servers that do not know it.  Any
failure, refusals included, is retried with a delay doubling from 1 s to
60 s, back to 1 s once a connection is accepted.  Audio is dropped, never
queued, while there is no connection or while the server has not read the
last few seconds sent.
"""

from __future__ import annotations

from typing import Any

from twisted.internet._sslverify import IOpenSSLTrustRoot
from twisted.internet.defer import Deferred, ensureDeferred
from twisted.internet.interfaces import IDelayedCall, IReactorTime
from twisted.logger import Logger
from twisted.python.failure import Failure

from radiod.audio.frames import Frame
from radiod.audio.track import TrackInfo
from radiod.broadcast.mount import Mount
from radiod.outbound.push import (
    RETRY_WITH_SOURCE,
    Announce,
    Connect,
    PushError,
    PushOptions,
    SourceProtocol,
    announce_title,
    server_connections,
    source_request,
)

__all__ = ["DROP_AFTER", "MAX_DELAY", "STALL_LIMIT", "RelayOut"]

DROP_AFTER = 3.0
"""Seconds of unread audio after which new audio is dropped."""

STALL_LIMIT = 30.0
"""Seconds of audio dropped in a row before a stalled connection is closed."""

MAX_DELAY = 60.0
"""The longest wait between two connection attempts."""


def _seconds(frames: list[Frame]) -> float:
    return sum(frame.header.samples / frame.header.sample_rate for frame in frames)


class RelayOut:
    """
    Pushes one mount to one server mount for as long as it runs.

    @ivar url: the target, C{http://host:port/mount}, without credentials.
    @ivar connection: the connection carrying audio, if any.
    @ivar method: the source method the server last accepted.
    @ivar delay: the wait before the next connection attempt.
    @ivar dropped: seconds of audio dropped so far.
    @ivar titles: every title sent, oldest first.
    """

    _log = Logger()

    def __init__(
        self,
        reactor: Any,
        mount: Mount,
        target_url: str,
        user: str,
        password: str,
        connect: Connect | None = None,
        announce: Announce | None = None,
        max_delay: float = MAX_DELAY,
        drop_after: float = DROP_AFTER,
        trust: IOpenSSLTrustRoot | None = None,
    ) -> None:
        """
        @param reactor: provides C{IReactorTCP} and C{IReactorTime}.
        @param mount: the mount to push.
        @param target_url: C{http://host:port/mount}, without credentials.
        @param user: the source user name.
        @param password: the source password (never logged).
        @param connect: connects a protocol to the server (by default over
            TCP to the URL's host and port).
        @param announce: sends a title update (by default a C{GET} to
            C{/admin/metadata}).
        @param max_delay: the longest wait between connection attempts.
        @param drop_after: seconds of unread audio after which new audio
            is dropped.
        @param trust: the authorities an C{https://} target's certificate
            must chain to; the system's by default.
        """
        self._clock: IReactorTime = reactor
        self.mount = mount
        self.url = target_url
        config = mount.config
        self.options = PushOptions(
            url=target_url,
            location="",
            password=password,
            user=user,
            name=config.station_name,
            genre=config.genre,
            description=config.description,
            homepage=config.url,
            public=config.public,
        )
        default_connect, agent = server_connections(reactor, target_url, trust)
        self._connect = connect if connect is not None else default_connect
        if announce is None:

            def announce(title: str) -> Deferred[Any]:
                return announce_title(agent, self.options, title)

        self._announce: Announce = announce
        self.max_delay = max_delay
        self.drop_after = drop_after
        self.connection: SourceProtocol | None = None
        self.method = "PUT"
        self.delay = 1.0
        self.dropped = 0.0
        self.titles: list[str] = []
        self._stalled = 0.0
        self._current: SourceProtocol | None = None
        self._retry: IDelayedCall | None = None
        self._running = False

    def start(self) -> None:
        """
        Observe the mount and connect.
        """
        if self._running:
            return
        self._running = True
        self.mount.on_broadcast.append(self._deliver)
        self.mount.on_track_change.append(self._track_changed)
        self._attempt(self.method)

    def stop(self) -> None:
        """
        Stop observing the mount, stop retrying and close the connection.
        """
        if not self._running:
            return
        self._running = False
        self.mount.on_broadcast.remove(self._deliver)
        self.mount.on_track_change.remove(self._track_changed)
        if self._retry is not None and self._retry.active():
            self._retry.cancel()
        self.connection = None
        current, self._current = self._current, None
        if current is not None and current.transport is not None:
            current.transport.loseConnection()

    # Connections

    def _attempt(self, method: str) -> None:
        if not self._running:
            return
        protocol = SourceProtocol(source_request(method, self.options), max_backlog=float("inf"))
        self._current = protocol
        d = ensureDeferred(self._session(protocol, method))
        d.addErrback(self._unexpected)

    def _unexpected(self, failure: Failure) -> None:
        self._log.failure(
            "Pushing {mount} to {url} failed", failure, mount=self.mount.name, url=self.url
        )
        self._reconnect()

    async def _session(self, protocol: SourceProtocol, method: str) -> None:
        try:
            await self._connect(protocol)
        except Exception as error:
            reason = str(error) or type(error).__name__
            self._log.warn(
                "Cannot connect to {url}: {reason}",
                mount=self.mount.name,
                url=self.url,
                reason=reason,
            )
            self._reconnect()
            return
        if protocol is not self._current:
            if protocol.transport is not None:
                protocol.transport.loseConnection()
            return
        try:
            code, reason = await protocol.answered
        except PushError as error:
            if protocol is not self._current:
                return
            if method == "PUT":
                self._attempt("SOURCE")
                return
            self._log.warn("{url}: {error}", mount=self.mount.name, url=self.url, error=str(error))
            self._reconnect()
            return
        if protocol is not self._current:
            return
        if not 200 <= code < 300:
            assert protocol.transport is not None
            protocol.transport.loseConnection()
            if method == "PUT" and code in RETRY_WITH_SOURCE:
                self._attempt("SOURCE")
                return
            self._log.warn(
                "{url} refused the source: {code} {reason}",
                mount=self.mount.name,
                url=self.url,
                code=code,
                reason=reason,
            )
            self._reconnect()
            return
        self._stream(protocol, method)
        await protocol.closed
        if protocol is self._current:
            self.connection = None
            self._log.warn("{url} closed the connection", mount=self.mount.name, url=self.url)
            self._reconnect()

    def _stream(self, protocol: SourceProtocol, method: str) -> None:
        self._log.info(
            "Pushing {mount} to {url} ({method})",
            mount=self.mount.name,
            url=self.url,
            method=method,
        )
        self.method = method
        self.delay = 1.0
        self._stalled = 0.0
        self.connection = protocol
        protocol.start_streaming()
        if self.mount.now_playing is not None:
            self._send_title(self.mount.now_playing)

    def _reconnect(self) -> None:
        self.connection = None
        self._current = None
        if not self._running:
            return
        delay = self.delay
        self.delay = min(self.delay * 2, self.max_delay)
        self._log.info(
            "Reconnecting to {url} in {delay:.0f} s",
            mount=self.mount.name,
            url=self.url,
            delay=delay,
        )
        self._retry = self._clock.callLater(delay, self._attempt, "PUT")

    # Audio and titles

    def _deliver(self, due: list[tuple[Frame, TrackInfo]]) -> None:
        frames = [frame for frame, _ in due]
        connection = self.connection
        if connection is None:
            self.dropped += _seconds(frames)
            return
        if connection.paused and connection.backlog >= self.drop_after:
            seconds = _seconds(frames)
            self.dropped += seconds
            self._stalled += seconds
            if self._stalled > STALL_LIMIT:
                self._log.warn(
                    "{url} has read nothing for {seconds:.0f} s; disconnecting",
                    mount=self.mount.name,
                    url=self.url,
                    seconds=self._stalled,
                )
                assert connection.transport is not None
                connection.transport.abortConnection()  # type: ignore[attr-defined]
            return
        self._stalled = 0.0
        connection.send(frames)

    def _track_changed(self, track: TrackInfo) -> None:
        if self.connection is not None:
            self._send_title(track)

    def _send_title(self, track: TrackInfo) -> None:
        title = track.stream_title
        self.titles.append(title)
        d = self._announce(title)
        d.addErrback(
            lambda failure: self._log.warn(
                "Cannot update the title on {url}: {reason}",
                mount=self.mount.name,
                url=self.url,
                reason=failure.getErrorMessage(),
            )
        )
