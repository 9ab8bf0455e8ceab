# -*- test-case-name: tests.outbound.test_relay -*-
"""
Relaying out: pushing a mount to another Icecast-compatible server as a
source client, so relays and CDNs can carry the station further.

A L{RelayOut} observes a L{Mount}: every batch of frames the mount
broadcasts (already paced in real time) is written to a source connection
opened by a L{radiod.outbound.client.SourceClient}, and every track change
is sent as a title update to the server's C{/admin/metadata}.  The source
request is C{PUT}, falling back to C{SOURCE} for servers that do not know
it.  Any failure, refusals included, is retried by a
L{radiod.reconnect.ReconnectingClient} with a delay doubling from 1 s to
60 s, back to 1 s once a connection is accepted.  Audio is dropped, never
queued, while there is no connection or while the server has not read the
last few seconds sent.
"""

from __future__ import annotations

from typing import Any

from twisted.internet.defer import CancelledError, Deferred, ensureDeferred
from twisted.internet.interfaces import ITransport
from twisted.logger import Logger
from twisted.python.failure import Failure

from radiod.audio.frames import Frame
from radiod.audio.track import TrackInfo
from radiod.broadcast.mount import Mount
from radiod.interfaces import Frames
from radiod.outbound.client import (
    Announce,
    Connect,
    PushError,
    PushOptions,
    Refused,
    SourceClient,
    SourceProtocol,
    Unreachable,
)
from radiod.reconnect import BACKOFF_MAX, ReconnectingClient

__all__ = ["DROP_AFTER", "MAX_DELAY", "STALL_LIMIT", "RelayOut"]

DROP_AFTER = 3.0
"""Seconds of unread audio after which new audio is dropped."""

STALL_LIMIT = 30.0
"""Seconds of audio dropped in a row before a stalled connection is closed."""

MAX_DELAY = BACKOFF_MAX
"""The longest wait between two connection attempts."""


def _seconds(frames: list[Frame]) -> float:
    return sum(frame.header.samples / frame.header.sample_rate for frame in frames)


class RelayOut:
    """
    Pushes one mount to one server mount for as long as it runs.

    @ivar url: the target, C{http://host:port/mount}, without credentials.
    @ivar connection: the connection carrying audio, if any.
    @ivar method: the source method the server last accepted.
    @ivar dropped: seconds of audio dropped so far.
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
        trust: object | None = None,
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
            must chain to (from L{twisted.internet.ssl.platformTrust} or
            L{twisted.internet.ssl.trustRootFromCertificates}); the
            system's by default.
        """
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
        self._source = SourceClient(
            reactor,
            self.options,
            connect,
            announce,
            trust,
            max_backlog=float("inf"),
            fields={"mount": mount.name},
        )
        self._client = ReconnectingClient(reactor, self._attempt, self._retrying, max_delay)
        self.max_delay = max_delay
        self.drop_after = drop_after
        self.connection: SourceProtocol | None = None
        self.method = "PUT"
        self.dropped = 0.0
        self._stalled = 0.0
        self._running = False

    @property
    def delay(self) -> float:
        """
        The wait before the next connection attempt, should the current
        one fail.
        """
        return self._client.delay

    def start(self) -> None:
        """
        Observe the mount and connect.
        """
        if self._running:
            return
        self._running = True
        self.mount.on_air.append(self._deliver)
        self.mount.on_track_change.append(self._track_changed)
        self._client.start()

    def stop(self) -> None:
        """
        Stop observing the mount, stop retrying and close the connection.
        """
        if not self._running:
            return
        self._running = False
        self.mount.on_air.remove(self._deliver)
        self.mount.on_track_change.remove(self._track_changed)
        self.connection = None
        self._client.stop()

    # Connections

    def _attempt(self) -> Deferred[ITransport]:
        """
        Open a source connection, logging why it failed if it did.
        """
        return ensureDeferred(self._open()).addErrback(self._failed)

    async def _open(self) -> ITransport:
        protocol, method = await self._source.open()
        assert protocol.transport is not None
        self._stream(protocol, method)
        protocol.closed.addCallback(lambda _: self._closed(protocol))
        return protocol.transport

    def _failed(self, failure: Failure) -> Failure:
        error = failure.value
        mount, url = self.mount.name, self.url
        if isinstance(error, CancelledError):
            pass
        elif isinstance(error, Unreachable):
            self._log.warn(
                "Cannot connect to {url}: {reason}", mount=mount, url=url, reason=str(error)
            )
        elif isinstance(error, Refused):
            self._log.warn(
                "{url} refused the source: {code} {reason}",
                mount=mount,
                url=url,
                code=error.code,
                reason=error.reason,
            )
        elif isinstance(error, PushError):
            self._log.warn("{url}: {error}", mount=mount, url=url, error=str(error))
        else:
            self._log.failure("Pushing {mount} to {url} failed", failure, mount=mount, url=url)
        return failure

    def _stream(self, protocol: SourceProtocol, method: str) -> None:
        self._log.info(
            "Pushing {mount} to {url} ({method})",
            mount=self.mount.name,
            url=self.url,
            method=method,
        )
        self.method = method
        self._stalled = 0.0
        self.connection = protocol
        protocol.start_streaming()
        if self.mount.now_playing is not None:
            self._source.send_title(self.mount.now_playing)

    def _closed(self, protocol: SourceProtocol) -> None:
        if self.connection is protocol:
            self.connection = None
        if self._running:
            self._log.warn("{url} closed the connection", mount=self.mount.name, url=self.url)
        self._client.lost()

    def _retrying(self, delay: float) -> None:
        self.connection = None
        self._log.info(
            "Reconnecting to {url} in {delay:.0f} s",
            mount=self.mount.name,
            url=self.url,
            delay=delay,
        )

    # Audio and titles

    def _deliver(self, due: Frames) -> None:
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
            self._source.send_title(track)
