# -*- test-case-name: tests.station.test_announce -*-
"""
What happens on the air, told to the world outside: the C{[[webhook]]}
URLs (L{radiod.outbound.webhooks}) and the C{on_track} command
(L{radiod.outbound.hooks}).

L{Announcer} watches the station and turns what it sees into events:

  - C{track}: a mount's new track (not a jingle), with its title, artist,
    album, when it started and the mount's listeners; the C{on_track}
    command gets the same document;
  - C{live_start} and C{live_end}: a live source connected to a mount, or
    left it;
  - C{silence}: a live source taken off the air for dead air
    (C{"silent": true}), or put back on (C{"silent": false});
  - C{station_up} and C{station_down}: the station started, or is
    stopping (it waits a few seconds for the webhooks to take that one);
  - C{listener_peak}: a mount reached more listeners than ever before
    since the station started, told at most once every
    L{PEAK_INTERVAL} seconds per mount, with the newest peak.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from twisted.internet.defer import Deferred, succeed
from twisted.internet.interfaces import IReactorTime
from twisted.internet.task import LoopingCall
from twisted.logger import Logger

from radiod.audio.track import TrackInfo
from radiod.broadcast.mount import Mount
from radiod.ingest.source import SourceConnection
from radiod.outbound.hooks import TrackHook
from radiod.outbound.webhooks import Webhooks

__all__ = ["DRAIN_TIMEOUT", "PEAK_INTERVAL", "Announcer"]

PEAK_INTERVAL = 60.0
"""
Seconds between two C{listener_peak} events of one mount, at most.
"""

DRAIN_TIMEOUT = 5.0
"""
Seconds the station waits, when stopping, for the webhooks to deliver
what they hold (C{station_down} among it).
"""


def track_document(mount: Mount, track: TrackInfo, started: float) -> dict[str, Any]:
    """
    The document of a C{track} event (and of the C{on_track} command).
    """
    return {
        "mount": mount.name,
        "title": track.title,
        "artist": track.artist,
        "album": track.album,
        "duration": track.duration,
        "requested": track.requested,
        "started": started,
        "listeners": mount.audience,
    }


class Announcer:
    """
    Sends the station's events to its webhooks and its C{on_track}
    command.

    @ivar webhooks: where events are POSTed, or C{None} for nowhere.
    @ivar hook: the C{on_track} command, or C{None}.
    """

    _log = Logger()

    def __init__(
        self,
        clock: IReactorTime,
        webhooks: Webhooks | None,
        hook: TrackHook | None,
    ) -> None:
        """
        @param clock: for times and the peak check.
        @param webhooks: where events go, or C{None}.
        @param hook: the C{on_track} command, or C{None}.
        """
        self._clock = clock
        self.webhooks = webhooks
        self.hook = hook
        self._peaks: dict[str, int] = {}
        self._told: dict[str, float] = {}
        self._mounts: dict[str, Mount] = {}
        self._check = LoopingCall(self._check_peaks)
        self._check.clock = clock

    def _send(self, event: str, document: Mapping[str, object]) -> None:
        if self.webhooks is not None:
            self.webhooks.send(event, document)

    def watch(self, mount: Mount) -> None:
        """
        Tell the tracks and listener peaks of C{mount}.
        """
        if mount.name in self._mounts:
            return
        self._mounts[mount.name] = mount
        self._peaks[mount.name] = mount.peak_listeners
        mount.on_track_change.append(lambda track: self._track(mount, track))

    def forget(self, name: str) -> None:
        """
        Stop telling about the mount called C{name} (it was removed).
        """
        self._mounts.pop(name, None)

    def _track(self, mount: Mount, track: TrackInfo) -> None:
        if mount.name not in self._mounts or track.jingle:
            return
        document = track_document(mount, track, self._clock.seconds())
        self._send("track", document)
        if self.hook is not None:
            self.hook.run(document)

    def live(self, source: SourceConnection) -> None:
        """
        A live source connected: tell it, and tell when it leaves.
        """
        self._send("live_start", {"mount": source.mount, "peer": source.peer})
        source.on_end.append(
            lambda ended: self._send("live_end", {"mount": ended.mount, "peer": ended.peer})
        )

    def silence(self, mount: str, peer: str, silent: bool) -> None:
        """
        A live source was taken off the air for dead air, or put back.
        """
        self._send("silence", {"mount": mount, "peer": peer, "silent": silent})

    def _check_peaks(self) -> None:
        now = self._clock.seconds()
        for name, mount in self._mounts.items():
            peak = mount.peak_listeners
            if peak <= self._peaks.get(name, 0):
                continue
            if now - self._told.get(name, -PEAK_INTERVAL) < PEAK_INTERVAL:
                continue
            self._peaks[name] = peak
            self._told[name] = now
            self._send("listener_peak", {"mount": name, "listeners": peak})

    def up(self, mounts: list[str]) -> None:
        """
        The station started with C{mounts}.
        """
        self._send("station_up", {"mounts": mounts})
        if not self._check.running:
            self._check.start(PEAK_INTERVAL / 6, now=False)

    def down(self) -> Deferred[None]:
        """
        The station is stopping: tell the webhooks, give them up to
        L{DRAIN_TIMEOUT} seconds to deliver, then stop them and the
        command.
        """
        if self._check.running:
            self._check.stop()
        self._send("station_down", {})
        webhooks = self.webhooks
        hook_stopped = self.hook.stop() if self.hook is not None else succeed(None)
        if webhooks is None:
            return hook_stopped
        drained: Deferred[None] = Deferred()
        deadline = self._clock.seconds() + DRAIN_TIMEOUT

        def look() -> None:
            idle = all(webhook.idle for webhook in webhooks.webhooks)
            if idle or self._clock.seconds() >= deadline:
                if not idle:
                    self._log.warn("Webhooks still had events to deliver at shutdown")
                webhooks.stop().chainDeferred(drained)
            else:
                self._clock.callLater(0.1, look)

        look()
        return drained.addCallback(lambda _: hook_stopped)
