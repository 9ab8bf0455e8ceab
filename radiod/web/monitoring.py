# -*- test-case-name: tests.web.test_monitoring,tests.web.test_webroot -*-
"""
The station's monitoring: the status pages, the metrics, the play history
kept across restarts and the reactor lag monitor, as one service.

L{Monitoring} watches the mounts and the live sources through their
observer lists (listeners joining and leaving, track changes, sources
connecting and leaving), takes a L{radiod.web.status.StationStatus} snapshot
when a status page is asked for, and puts these resources on the
station's site:

  - C{/status-json.xsl}, C{/status.xsl}, C{/server_version.xsl},
    C{/7.html}, C{/stats} and C{/api/v1/status} (L{radiod.web.stats});
  - C{/admin/stats} (L{radiod.web.stats}), behind the admin login
    (L{radiod.web.guard});
  - L{METRICS_PATH} (Prometheus, L{radiod.web.metrics});
  - the station's webroot, where the site has nothing else
    (L{radiod.web.webroot}).
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence
from urllib.parse import urlsplit

from twisted.application.service import Service
from twisted.internet.defer import Deferred, succeed
from twisted.internet.interfaces import IReactorTime
from twisted.web.resource import IResource

from radiod import __version__
from radiod.audio.track import TrackInfo, art_path
from radiod.auth import Administrator
from radiod.broadcast.listener import Listener
from radiod.broadcast.mount import Mount
from radiod.ingest.relay import Relay
from radiod.ingest.source import SourceConnection
from radiod.interfaces import Runner
from radiod.library.playlist import stream_url
from radiod.library.programme import Programme
from radiod.web.events import burst_seconds
from radiod.web.guard import AdminLogin
from radiod.web.history import HISTORY_FILE, PlayHistory
from radiod.web.lag import LagMonitor
from radiod.web.metrics import METRICS_PATH, MetricsPage, MountTally, StationMetrics
from radiod.web.site import StationSite, attach
from radiod.web.stats import (
    ADMIN_STATS_PATH,
    API_STATUS_PATH,
    SERVER_VERSION_PATH,
    SEVEN_PATH,
    SHOUTCAST_STATS_PATH,
    STATUS_JSON_PATH,
    STATUS_PAGE_PATH,
    AdminStats,
    ApiStatus,
    ServerVersion,
    SevenHtml,
    ShoutcastStats,
    StatusJson,
    StatusPage,
)
from radiod.web.status import MountStatus, NowPlaying, PlayedTrack, StationStatus
from radiod.web.webroot import attach_webroot
from radiod.wire.server import RadioFactory
from radiod.wire.stream import SERVER

__all__ = ["Monitoring", "peer_host"]


def peer_host(peer: str) -> str:
    """
    The address of a peer as logs name it: C{host:port}, C{[v6]:port},
    or an address alone (as C{X-Forwarded-For} gives it).
    """
    if peer.startswith("["):
        return peer[1:].partition("]")[0]
    if peer.count(":") == 1:
        return peer.partition(":")[0]
    return peer


class Monitoring(Service):
    """
    Counts what happens on a station and serves its status and metrics.

    @ivar factory: the station's listener server.
    @ivar started: when the station started, in POSIX seconds.
    @ivar tallies: events counted per mount name.
    @ivar history: the play history file, or C{None} in a process that
        does not keep it.
    @ivar lag: the reactor lag monitor.
    @ivar metrics: the station's metrics registry.
    """

    def __init__(
        self,
        clock: IReactorTime,
        runner: Runner,
        factory: RadioFactory,
        relays: Sequence[Relay] = (),
        process_metrics: bool = True,
        keep_history: bool = True,
    ) -> None:
        """
        @param clock: the reactor (time, timers).
        @param runner: reads and writes the history file, and reads the
            webroot's files, off the reactor thread.
        @param factory: the station's listener server: its mounts, its
            settings, its sources, and its site
            (L{radiod.web.tree.station_site}), which gets the status
            pages and the metrics.
        @param relays: the station's relays, to tell relayed audio from a
            live source's.
        @param process_metrics: include the process's own metrics.
        @param keep_history: keep the play history in the state folder
            (only one process of a station does).
        """
        self._clock = clock
        self.factory = factory
        self._relays = relays
        self.started = clock.seconds()
        self.tallies: dict[str, MountTally] = {}
        self._joined: dict[Listener, float] = {}
        self._source_started: dict[str, float] = {}
        self._watched: dict[str, Mount] = {}
        self.history: PlayHistory | None = None
        if keep_history:
            path = os.path.join(factory.config.state_path, HISTORY_FILE)
            self.history = PlayHistory(path, factory.mounts, clock, runner)
        self.lag = LagMonitor(clock)
        self.metrics = StationMetrics(self, process=process_metrics)
        self.lag.observers.append(self.metrics.observe_lag)
        self._watch_all()
        if factory.sources is not None:
            factory.sources.on_connect.append(self._source_connected)
        self._attach(factory, runner)

    def _attach(self, factory: RadioFactory, runner: Runner) -> None:
        """
        Put the status pages, the metrics and the webroot (where Icecast
        keeps its pages) on the station's site.
        """
        site = factory.site
        assert isinstance(site, StationSite)
        snapshot = self.snapshot
        admin_stats = AdminStats(factory, snapshot)

        def for_admin(admin: Administrator) -> IResource:
            return admin_stats

        attach(site, STATUS_JSON_PATH, StatusJson(factory, snapshot))
        attach(site, STATUS_PAGE_PATH, StatusPage(factory, snapshot))
        attach(site, SERVER_VERSION_PATH, ServerVersion(factory, snapshot))
        attach(site, ADMIN_STATS_PATH, AdminLogin(factory, for_admin))
        attach(site, SEVEN_PATH, SevenHtml(factory, snapshot))
        attach(site, SHOUTCAST_STATS_PATH, ShoutcastStats(factory, snapshot))
        attach(site, API_STATUS_PATH, ApiStatus(factory, snapshot))
        attach(site, METRICS_PATH, MetricsPage(factory, self.metrics.registry, self._watch_all))
        attach_webroot(site, factory, runner)

    # Service

    def startService(self) -> None:
        """
        Note the start time, start the lag monitor, read the history.
        """
        super().startService()
        self.started = self._clock.seconds()
        self.lag.start()
        if self.history is not None:
            self.history.load()

    def stopService(self) -> Deferred[None]:
        """
        Stop the lag monitor and write the history one last time.

        @return: fires once the history is written.
        """
        super().stopService()
        self.lag.stop()
        if self.history is None:
            return succeed(None)
        return self.history.stop()

    # What the metrics read (L{radiod.web.metrics.StationView})

    @property
    def mounts(self) -> Mapping[str, Mount]:
        """
        The mounts by name, live-only mounts included.
        """
        return self.factory.mounts

    @property
    def refused(self) -> int:
        """
        Requests answered with an error.
        """
        return self.factory.refused

    def lag_max(self) -> float:
        """
        The reactor's greatest lateness over the last minute.
        """
        return self.lag.recent_max()

    def source_kind(self, mount: Mount) -> str:
        """
        What C{mount} plays now: C{"live"} (a live source on air),
        C{"relay"} (its relay on air), C{"playlist"}, or C{"none"} (a
        live-only mount with nothing on air).
        """
        switch = mount.switch
        if switch is None:
            return "playlist"
        if switch.on_air:
            for relay in self._relays:
                protocol = relay.protocol
                if (
                    relay.name == mount.name
                    and protocol is not None
                    and protocol.live is not None
                    and protocol.live is switch.live
                ):
                    return "relay"
            return "live"
        return "playlist" if switch.playlist is not None else "none"

    # Events

    def _tally(self, name: str) -> MountTally:
        tally = self.tallies.get(name)
        if tally is None:
            tally = self.tallies[name] = MountTally()
        return tally

    def _watch_all(self) -> None:
        """
        Observe every mount the station has now (mounts can be added to
        it while it runs).
        """
        for mount in list(self.factory.mounts.values()):
            self._watch(mount)

    def _watch(self, mount: Mount) -> None:
        """
        Observe a mount's listeners and track changes (once per mount).
        """
        if self._watched.get(mount.name) is mount:
            return
        self._watched[mount.name] = mount
        tally = self._tally(mount.name)

        def joined(listener: Listener) -> None:
            tally.listener_connections += 1
            self._joined[listener] = self._clock.seconds()

        def left(listener: Listener) -> None:
            tally.listener_disconnections += 1
            self._joined.pop(listener, None)

        def track_changed(track: TrackInfo) -> None:
            tally.track_changes += 1
            if self.history is not None:
                self.history.changed()

        mount.on_listener_joined.append(joined)
        mount.on_listener_left.append(left)
        mount.on_track_change.append(track_changed)

    def _source_connected(self, source: SourceConnection) -> None:
        mount = self.factory.mounts.get(source.mount)
        if mount is not None:
            self._watch(mount)
        tally = self._tally(source.mount)
        tally.source_connections += 1
        self._source_started[source.mount] = self._clock.seconds()

        def ended(_: SourceConnection) -> None:
            tally.source_disconnections += 1

        source.on_end.append(ended)

    # Snapshots

    def _default_host(self) -> str:
        interface = self.factory.config.interface
        return interface if interface not in ("", "0.0.0.0", "::") else "localhost"

    def snapshot(self, host_header: str | None = None) -> StationStatus:
        """
        The station's status now.

        @param host_header: the asking request's C{Host}, for the URLs.
        """
        self._watch_all()
        now = self._clock.seconds()
        config = self.factory.config
        default_host = self._default_host()
        mounts = tuple(
            self.mount_status(mount, now, stream_url(host_header, default_host, config.port, name))
            for name, mount in list(self.factory.mounts.items())
        )
        base = stream_url(host_header, default_host, config.port, "/")
        first = next(iter(self.factory.mounts.values()), None)
        return StationStatus(
            name=first.config.station_name if first is not None else "",
            host=urlsplit(base).hostname or default_host,
            server_id=SERVER,
            version=__version__,
            started=self.started,
            now=now,
            mounts=mounts,
            listener_connections=sum(t.listener_connections for t in self.tallies.values()),
            source_connections=sum(t.source_connections for t in self.tallies.values()),
            admin=config.admin_contact,
            location=config.location,
        )

    def mount_status(self, mount: Mount, now: float, listen_url: str) -> MountStatus:
        """
        One mount's status now.

        @param mount: the mount.
        @param now: the snapshot's time.
        @param listen_url: the stream's URL.
        """
        config = mount.config
        station = self.factory.config
        sources = self.factory.sources
        info = sources.info_for(mount.name) if sources is not None else None
        connected = sources.connected.get(mount.name) if sources is not None else None
        kind = self.source_kind(mount)
        limits = [limit for limit in (config.max_listeners, station.max_listeners) if limit]
        audio = mount.audio
        listeners = list(mount.listeners)
        times = [now - self._joined.get(listener, now) for listener in listeners]
        default_art = bool(station.default_art)
        playing = None
        if mount.now_playing is not None and kind != "none":
            track = mount.now_playing
            duration = track.duration if math.isfinite(track.duration) else 0.0
            playing = NowPlaying(
                artist=track.artist,
                title=track.title,
                started=mount.track_started,
                requested=track.requested,
                art=art_path(track, default_art),
                duration=duration or None,
                elapsed=max(0.0, now - mount.track_started),
            )
        following = None
        programme: object = mount.switch.playlist if mount.switch is not None else None
        if kind == "playlist" and isinstance(programme, Programme):
            upcoming = programme.next_track()
            if upcoming is not None:
                following = PlayedTrack(
                    upcoming.artist,
                    upcoming.title,
                    requested=upcoming.requested,
                    art=art_path(upcoming, default_art),
                )
        live = kind == "live" and connected is not None
        burst = burst_seconds(mount)
        return MountStatus(
            name=mount.name,
            listen_url=listen_url,
            station_name=(info.name if info else "") or config.station_name,
            description=(info.description if info else "") or config.description,
            genre=(info.genre if info else "") or config.genre,
            url=(info.url if info else "") or config.url,
            public=config.public if info is None or info.public is None else info.public,
            hidden=config.hidden,
            bitrate=audio.bitrate,
            sample_rate=audio.sample_rate,
            channels=audio.channels,
            audio_info=(info.audio_info if info else "") or audio.ice_audio_info(),
            listeners=mount.audience,
            peak_listeners=mount.peak_listeners,
            max_listeners=min(limits) if limits else 0,
            unique_listeners=len({peer_host(listener.peer) for listener in listeners}),
            average_time=sum(times) / len(times) if times else 0.0,
            connections=self._tally(mount.name).listener_connections,
            bytes_sent=mount.bytes_sent,
            bytes_read=connected.received if live and connected is not None else 0,
            slow_listeners=mount.dropped,
            listener_delay=burst[0] if burst is not None else None,
            source=kind,
            source_ip=peer_host(connected.peer) if live and connected is not None else "",
            stream_start=self._source_started.get(mount.name, self.started)
            if live
            else self.started,
            now_playing=playing,
            next_up=following,
            history=tuple(
                PlayedTrack(
                    track.artist,
                    track.title,
                    started,
                    track.requested,
                    art_path(track, default_art),
                )
                for track, started in mount.history
            ),
        )
