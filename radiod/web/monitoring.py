# -*- test-case-name: tests.web.test_monitoring -*-
"""
The station's monitoring: the status pages, the metrics, the play history
kept across restarts and the reactor lag monitor, as one service.

L{Monitoring} watches the mounts and the live sources through their
observer lists (listeners joining and leaving, track changes, sources
connecting and leaving), takes a L{radiod.web.status.StationStatus} snapshot
when a status page is asked for, and registers these routes on the
station's L{RadioFactory}:

  - C{/status-json.xsl} (Icecast 2.4's public JSON, C{?mount=} optional);
  - C{/admin/stats} (Icecast's XML, with HTTP Basic admin credentials);
  - C{/7.html} and C{/stats?sid=N[&json=1[&callback=f]]} (SHOUTcast's);
  - C{/api/v1/status} (radiod's own JSON, C{?mount=} optional);
  - L{METRICS_PATH} (Prometheus).

Each answers C{GET} and C{HEAD}; other methods get 405.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Callable, Mapping, Sequence
from urllib.parse import urlsplit

from twisted.application.service import Service
from twisted.internet.defer import Deferred, succeed
from twisted.internet.interfaces import IReactorTime

from radiod import __version__
from radiod.audio.track import TrackInfo
from radiod.auth import CHALLENGE, UNAUTHORISED, AdminAccess
from radiod.broadcast.listener import Listener
from radiod.broadcast.mount import Mount
from radiod.config import StationConfig
from radiod.ingest.metadata import XML_CONTENT_TYPE
from radiod.ingest.relay import Relay
from radiod.ingest.source import SourceConnection
from radiod.interfaces import Runner
from radiod.library.playlist import stream_url
from radiod.library.programme import Programme
from radiod.request import Request
from radiod.web.history import HISTORY_FILE, PlayHistory
from radiod.web.lag import LagMonitor
from radiod.web.metrics import METRICS_PATH, MountTally, StationMetrics, render_metrics
from radiod.web.status import (
    MountStatus,
    NowPlaying,
    PlayedTrack,
    StationStatus,
    render_admin_stats,
    render_api_status,
    render_seven_html,
    render_shoutcast_json,
    render_shoutcast_xml,
    render_status_json,
)
from radiod.wire.server import SERVER, RadioFactory, RadioProtocol

__all__ = [
    "ADMIN_STATS_PATH",
    "API_STATUS_PATH",
    "SEVEN_PATH",
    "SHOUTCAST_STATS_PATH",
    "STATUS_JSON_PATH",
    "Monitoring",
    "admin_authorised",
    "parse_sid",
    "peer_host",
]

STATUS_JSON_PATH = "/status-json.xsl"
ADMIN_STATS_PATH = "/admin/stats"
SEVEN_PATH = "/7.html"
SHOUTCAST_STATS_PATH = "/stats"
API_STATUS_PATH = "/api/v1/status"

JSON_CONTENT_TYPE = "application/json; charset=utf-8"
HTML_CONTENT_TYPE = "text/html; charset=utf-8"
JAVASCRIPT_CONTENT_TYPE = "application/javascript; charset=utf-8"

_NO_CACHE = [
    ("Cache-Control", "no-cache, no-store"),
    ("Pragma", "no-cache"),
    ("Expires", "Mon, 26 Jul 1997 05:00:00 GMT"),
]
_PUBLIC = [*_NO_CACHE, ("Access-Control-Allow-Origin", "*")]
_CALLBACK = re.compile(r"[A-Za-z_$][A-Za-z0-9_$.]{0,63}")
_SID = re.compile(r"[0-9]{1,6}")

_Handler = Callable[[RadioProtocol, Request, bytes], None]


def admin_authorised(config: StationConfig, authorization: str | None) -> bool:
    """
    Whether a request's C{Authorization} header gives the admin user and
    password of C{config}, checked by L{radiod.auth.AdminChecker} (in
    constant time).  Always false while no admin password is configured.

    @param config: the station's settings.
    @param authorization: the header's value, or C{None}.
    """
    return AdminAccess.for_config(lambda: config).allows_header(authorization)


def parse_sid(values: Sequence[str] | None) -> int | None:
    """
    Read SHOUTcast's C{sid} parameter.

    @param values: the parameter's values, or C{None} when absent.
    @return: the stream number (1 when absent), or C{None} when it is not
        a whole number from 1.
    """
    if not values:
        return 1
    text = values[0].strip()
    if not _SID.fullmatch(text) or int(text) < 1:
        return None
    return int(text)


def _first(query: Mapping[str, list[str]], key: str) -> str | None:
    values = query.get(key)
    return values[0] if values else None


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
        @param runner: reads and writes the history file off the reactor
            thread.
        @param factory: the station's listener server: its mounts, its
            settings and its sources; the routes are registered on it.
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
        routes: dict[str, _Handler] = {
            STATUS_JSON_PATH: self._status_json,
            ADMIN_STATS_PATH: self._admin_stats,
            SEVEN_PATH: self._seven,
            SHOUTCAST_STATS_PATH: self._shoutcast_stats,
            API_STATUS_PATH: self._api_status,
            METRICS_PATH: self._metrics,
        }
        factory.routes.update(routes)

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
        playing = None
        if mount.now_playing is not None and kind != "none":
            track = mount.now_playing
            duration = track.duration if math.isfinite(track.duration) else 0.0
            playing = NowPlaying(
                artist=track.artist,
                title=track.title,
                started=mount.track_started,
                duration=duration or None,
                elapsed=max(0.0, now - mount.track_started),
            )
        following = None
        programme: object = mount.switch.playlist if mount.switch is not None else None
        if kind == "playlist" and isinstance(programme, Programme):
            upcoming = programme.next_track()
            if upcoming is not None:
                following = PlayedTrack(upcoming.artist, upcoming.title)
        live = kind == "live" and connected is not None
        return MountStatus(
            name=mount.name,
            listen_url=listen_url,
            station_name=(info.name if info else "") or config.station_name,
            description=(info.description if info else "") or config.description,
            genre=(info.genre if info else "") or config.genre,
            url=(info.url if info else "") or config.url,
            public=config.public if info is None or info.public is None else info.public,
            bitrate=audio.bitrate,
            sample_rate=audio.sample_rate,
            channels=audio.channels,
            audio_info=(info.audio_info if info else "") or audio.ice_audio_info(),
            listeners=len(listeners),
            peak_listeners=mount.peak_listeners,
            max_listeners=min(limits) if limits else 0,
            unique_listeners=len({peer_host(listener.peer) for listener in listeners}),
            average_time=sum(times) / len(times) if times else 0.0,
            connections=self._tally(mount.name).listener_connections,
            bytes_sent=mount.bytes_sent,
            bytes_read=connected.received if live and connected is not None else 0,
            slow_listeners=mount.dropped,
            source=kind,
            source_ip=peer_host(connected.peer) if live and connected is not None else "",
            stream_start=self._source_started.get(mount.name, self.started)
            if live
            else self.started,
            now_playing=playing,
            next_up=following,
            history=tuple(
                PlayedTrack(track.artist, track.title, started) for track, started in mount.history
            ),
        )

    # Routes

    def _readable(self, protocol: RadioProtocol, request: Request) -> bool:
        """
        Whether the request may be answered (C{GET} or C{HEAD}); a 405
        otherwise.
        """
        if request.method in ("GET", "HEAD"):
            return True
        protocol.refuse(405, "Method Not Allowed", request)
        return False

    def _send(
        self,
        protocol: RadioProtocol,
        request: Request,
        content_type: str,
        body: bytes,
        headers: list[tuple[str, str]],
    ) -> None:
        protocol.reply(
            200,
            [("Content-Type", content_type), *headers],
            body,
            head_only=request.method == "HEAD",
        )

    def _status_json(self, protocol: RadioProtocol, request: Request, body: bytes) -> None:
        if self._readable(protocol, request):
            status = self.snapshot(request.host)
            page = render_status_json(status, _first(request.query, "mount"))
            self._send(protocol, request, JSON_CONTENT_TYPE, page, _PUBLIC)

    def _admin_stats(self, protocol: RadioProtocol, request: Request, body: bytes) -> None:
        # The credentials first, as on every admin path: a wrong login is
        # 401 whatever else is wrong with the request.
        if not self.factory.admin_access.allows_header(request.header("Authorization")):
            protocol.refuse(401, UNAUTHORISED, request, [CHALLENGE])
            return
        if not self._readable(protocol, request):
            return
        mount = _first(request.query, "mount")
        if mount is not None and mount not in self.factory.mounts:
            protocol.refuse(400, "Source does not exist", request)
            return
        page = render_admin_stats(self.snapshot(request.host), mount)
        self._send(protocol, request, XML_CONTENT_TYPE, page, _NO_CACHE)

    def _stream_for(
        self, protocol: RadioProtocol, request: Request
    ) -> tuple[MountStatus, StationStatus] | None:
        """
        The stream SHOUTcast's C{sid} names (mounts counted from 1, as
        they are configured, live-only mounts after them) and the
        snapshot it is part of; C{None}, after refusing the request, for
        a malformed (400) or unknown (404) one.
        """
        sid = parse_sid(request.query.get("sid"))
        if sid is None:
            protocol.refuse(400, "Bad Request: sid must be a stream number from 1", request)
            return None
        status = self.snapshot(request.host)
        if sid > len(status.mounts):
            protocol.refuse(404, "No such stream", request)
            return None
        return status.mounts[sid - 1], status

    def _seven(self, protocol: RadioProtocol, request: Request, body: bytes) -> None:
        if not self._readable(protocol, request):
            return
        found = self._stream_for(protocol, request)
        if found is not None:
            page = render_seven_html(found[0])
            self._send(protocol, request, HTML_CONTENT_TYPE, page, _PUBLIC)

    def _shoutcast_stats(self, protocol: RadioProtocol, request: Request, body: bytes) -> None:
        if not self._readable(protocol, request):
            return
        callback = _first(request.query, "callback")
        if callback is not None and not _CALLBACK.fullmatch(callback):
            protocol.refuse(400, "Bad Request: callback must be a JavaScript name", request)
            return
        found = self._stream_for(protocol, request)
        if found is None:
            return
        mount, status = found
        if (_first(request.query, "json") or "").strip() == "1":
            page = render_shoutcast_json(mount, status, callback)
            content_type = JAVASCRIPT_CONTENT_TYPE if callback else JSON_CONTENT_TYPE
            self._send(protocol, request, content_type, page, _PUBLIC)
        else:
            self._send(
                protocol, request, XML_CONTENT_TYPE, render_shoutcast_xml(mount, status), _PUBLIC
            )

    def _api_status(self, protocol: RadioProtocol, request: Request, body: bytes) -> None:
        if not self._readable(protocol, request):
            return
        mount = _first(request.query, "mount")
        if mount is not None and mount not in self.factory.mounts:
            protocol.refuse(404, "No such mount", request)
            return
        page = render_api_status(self.snapshot(request.host), mount)
        self._send(protocol, request, JSON_CONTENT_TYPE, page, _PUBLIC)

    def _metrics(self, protocol: RadioProtocol, request: Request, body: bytes) -> None:
        if not self._readable(protocol, request):
            return
        self._watch_all()
        page, content_type = render_metrics(self.metrics.registry, request.header("Accept"))
        self._send(protocol, request, content_type, page, _NO_CACHE)
