# -*- test-case-name: tests.test_tap,tests.station.test_e2e -*-
"""
The station as a Twisted service: mounts with their programmes, and the
listening port.
"""

from __future__ import annotations

import os
import random
from dataclasses import replace
from typing import TypeVar

from twisted.application.service import MultiService
from twisted.internet.defer import (
    Deferred,
    FirstError,
    fail,
    gatherResults,
    maybeDeferred,
    succeed,
)
from twisted.internet.endpoints import serverFromString
from twisted.internet.interfaces import (
    IReactorTime,
    IStreamServerEndpoint,
)
from twisted.logger import Logger
from twisted.python.failure import Failure

from radiod import demo
from radiod.audience.countries import open_countries
from radiod.audience.databases import session_database
from radiod.audience.session import AddressHasher, ListenerSession
from radiod.audience.store import KEY_FILE, SessionStore, WriterThread
from radiod.audience.today import DayFigures, Today
from radiod.audio.format import AudioFormat
from radiod.broadcast.mount import Mount
from radiod.broadcast.registry import Mounts
from radiod.broadcast.switch import Switch
from radiod.config import MountConfig, StationConfig, is_tls_url, parse_push_url
from radiod.config.windows import load_zone
from radiod.ffmpeg.binary import find_ffmpeg
from radiod.ffmpeg.cache import ConversionCache
from radiod.ffmpeg.converter import ffmpeg_aac_encoders, ffmpeg_converters
from radiod.ffmpeg.ladder import ffmpeg_ladders
from radiod.ffmpeg.transcoder import Transcoder
from radiod.hls.output import HlsOutputs
from radiod.hls.shift import TimeShift
from radiod.ingest.relay import Relay
from radiod.interfaces import IFrameSource, Runner
from radiod.library.library import Library, scan_location
from radiod.library.programme import Playlist, Programme
from radiod.library.requests import RequestQueue
from radiod.library.rotation import Rules
from radiod.library.tags import info_from_name
from radiod.outbound.hooks import TrackHook
from radiod.outbound.relay import RelayOut
from radiod.outbound.webhooks import Webhooks
from radiod.station.announce import DRAIN_TIMEOUT, Announcer
from radiod.station.edge import Edge
from radiod.station.listen import (
    ListenService,
    ReusePortEndpoint,
    endpoint_description,
)
from radiod.station.mountauth import MountAuth
from radiod.station.mountfiles import MountFiles
from radiod.station.playlistlog import PlaylistLog
from radiod.station.workers import WorkerPool
from radiod.tls import load_trust, tls_endpoint_description
from radiod.web.admin import Admin
from radiod.web.art import CoverArt
from radiod.web.audience import STATS_PATH, AudienceCollector, AudienceStats
from radiod.web.files import OnDemand
from radiod.web.hls import HlsResource
from radiod.web.monitoring import Monitoring
from radiod.web.nowplaying_sse import attach_nowplaying
from radiod.web.page import StationPage
from radiod.web.site import attach
from radiod.web.tree import station_site
from radiod.wire.accesslog import AccessLog
from radiod.wire.server import RadioFactory
from radiod.wire.shoutcast import ShoutcastFactory

__all__ = ["StationService", "check_music", "share_limits", "takes_sources"]

_T = TypeVar("_T")


FORMAT_KEYS = ("bitrate", "sample_rate", "channels")
"""
The mount keys of its format, which a reload does not change.
"""


def check_music(location: str) -> None:
    """
    Fail fast, before the reactor runs, on a music location that cannot
    work: missing, unreadable, or holding nothing playable.  Only file
    names are looked at; tags are read later, in a thread.

    @raise LibraryError: naming the problem in one line.
    """
    scan_location(location, {}, read=info_from_name)


def takes_sources(config: StationConfig) -> bool:
    """
    Whether any source password is configured, on the server or on a
    mount: without one, every live source is refused.
    """
    return bool(config.source_password) or any(m.source_password for m in config.mounts)


def share_limits(config: StationConfig) -> StationConfig:
    """
    The configuration one of C{config.workers} processes serves with: the
    listener limits shared out between them (rounded up).
    """
    if config.workers <= 1:
        return config

    def share(limit: int) -> int:
        return -(-limit // config.workers) if limit else 0

    mounts = tuple(replace(m, max_listeners=share(m.max_listeners)) for m in config.mounts)
    return replace(config, max_listeners=share(config.max_listeners), mounts=mounts)


class StationService(MultiService):
    """
    Every mount of the station and the port listeners connect to.

    @ivar mounts: the mounts by path, shared with the server, its
        fallbacks and its live sources: the configured mounts, in the
        order of the configuration, then the rungs and the live mounts.
    @ivar factory: the listener server's factory.
    @ivar site: answers every request that is not a stream or a source.
    @ivar page: the station's web page and its event streams.
    @ivar relays: the relays of mounts configured with C{relay}.
    @ivar ladders: the rungs of the mounts' bitrate ladders (see
        L{radiod.ffmpeg.ladder}), which are in L{mounts} too.
    @ivar relays_out: one L{RelayOut} per URL in each mount's C{push_to}.
    @ivar monitoring: the status pages, metrics and play history.
    @ivar admin: the admin interface (Icecast's commands and radiod's API).
    @ivar files: the library's listing and its files, on demand.
    @ivar access_log: the access log, or C{None} when none is configured.
    @ivar shoutcast: the SHOUTcast v1 source port's listening service, or
        C{None} when the station does not listen for v1 sources.
    @ivar shoutcast_factory: the factory of that port's connections.
    @ivar tls_listener: the HTTPS listener's service, when C{tls_port} is
        set: the same server as on the plain port.
    @ivar trust: the authorities C{https://} relays and pushes must chain
        to (from C{tls_ca}), or C{None} for the system's.
    """

    _log = Logger()

    def __init__(
        self,
        config: StationConfig,
        reactor: IReactorTime,
        runner: Runner,
        sources: dict[str, IFrameSource] | None = None,
        shoutcast_port: int | None = None,
    ) -> None:
        """
        @param config: the validated configuration.
        @param reactor: the reactor (time, and the listening port).
        @param runner: runs blocking work off the reactor thread.
        @param sources: frame sources by mount path, replacing the
            library programme of those mounts (any L{IFrameSource} works).
        @param shoutcast_port: the port for SHOUTcast v1 sources (0 for any
            free port); by default the listener port plus one, or none when
            the listener port is 0.  Only a station that accepts live
            sources (one process) listens for them.
        """
        super().__init__()
        self.config = config
        self._reactor = reactor
        self._runner = runner
        self.trust = load_trust(config.tls_ca) if config.tls_ca else None
        cache = ConversionCache(config.cache_path, config.cache_size, runner)
        self.transcoder = Transcoder(reactor, reactor, runner, cache, find_ffmpeg())  # type: ignore[arg-type]
        self.transcoder.setServiceParent(self)
        self.mounts = Mounts()
        for mount_config in config.mounts:
            source = (sources or {}).get(mount_config.name)
            self.mounts.add(Mount(mount_config, source or self._programme(mount_config), reactor))
        self.ladders = ffmpeg_ladders(reactor, reactor, find_ffmpeg())  # type: ignore[arg-type]
        made, _ = self.ladders.update(list(self.mounts.values()))
        for rung in made:
            self.mounts.add(rung)
        self.pool: WorkerPool | None = None
        serving = share_limits(config)
        self.factory = RadioFactory(
            reactor,
            serving,
            self.mounts,
            accept_sources=config.workers <= 1,
            converters=ffmpeg_converters(reactor, reactor, find_ffmpeg()),  # type: ignore[arg-type]
        )
        self.site = station_site(self.factory, reactor)
        self.hls = HlsOutputs(
            reactor,
            runner,
            config.hls_dir,
            ffmpeg_aac_encoders(reactor, reactor, find_ffmpeg()),  # type: ignore[arg-type]
            os.path.join(config.cache_path, "hls"),
        )
        attach(self.site, "/hls", HlsResource(self.factory, self.hls))
        attach(self.site, "/art", CoverArt(self.factory, runner, config.cache_path))
        self.factory.time_shift = self._time_shift
        self.page = StationPage(reactor, self.factory)
        self.nowplaying = attach_nowplaying(self.site, self.factory, reactor)
        self.access_log: AccessLog | None = None
        if config.access_log:
            self.access_log = AccessLog(config.access_log, reactor, runner)
            self.access_log.setServiceParent(self)
            self.factory.on_access.append(self.access_log.log)
        if config.workers > 1:
            endpoint: IStreamServerEndpoint = ReusePortEndpoint(reactor, config)
            self.pool = WorkerPool(
                reactor,  # type: ignore[arg-type]
                serving,
                list(self.mounts.values()),
                config.workers - 1,
                limits=self.factory.limits,
                answer=self.factory.answer,
            )
        else:
            endpoint = serverFromString(reactor, endpoint_description(config))
        self.listener = ListenService(endpoint, self.factory, f"port {config.port}")
        self.listener.setServiceParent(self)
        self.tls_listener: ListenService | None = None
        if config.tls_port:
            self.tls_listener = ListenService(
                serverFromString(reactor, tls_endpoint_description(config)),
                self.factory,
                f"TLS port {config.tls_port}",
            )
            self.tls_listener.setServiceParent(self)
        if shoutcast_port is None and 0 < config.port < 65535:
            shoutcast_port = config.port + 1
        self._shoutcast_port = shoutcast_port
        self._bound: bool | Failure = False
        self._waiting: list[Deferred[None]] = []
        self.shoutcast: ListenService | None = None
        self.shoutcast_factory: ShoutcastFactory | None = None
        if self.factory.sources is not None and shoutcast_port is not None:
            self.shoutcast_factory = ShoutcastFactory(
                reactor,
                config,
                self.factory.sources,
                self.factory.limits,
            )
            if takes_sources(config):
                self._open_shoutcast()
        if self.pool is not None:
            self.pool.setServiceParent(self)
        self.relays: list[Relay] = []
        for mount_config in config.mounts:
            if mount_config.relay:
                self._add_relay(mount_config.name, mount_config.relay)
        self.edge: Edge | None = None
        if config.origin:
            self.edge = Edge(
                reactor,  # type: ignore[arg-type]
                reactor,
                config.origin,
                config.origin_linger,
                self.mounts,
                self._add_mount,
                self.trust,
                lambda name: self._remove_mount(name, {}),
            )
            self.edge.setServiceParent(self)
            self.factory.demand = self.edge.demand
        self.audience: SessionStore | None = None
        self._hasher = AddressHasher(config.stats_addresses)
        self._writer: WriterThread | None = None
        if config.stats_database != "off":
            self._writer = WriterThread(reactor)  # type: ignore[arg-type]
            self.audience = SessionStore(
                session_database(config.stats_database, config.state_path),
                reactor,
                self._writer,
                days=config.stats_days,
                hasher=self._hasher,
                key_path=os.path.join(config.state_path, KEY_FILE),
            )
        self.today = Today(load_zone(config.timezone))
        self._countries = open_countries(config.geoip_database)
        self.factory.on_session.append(self._record_session)
        attach(
            self.site,
            STATS_PATH,
            AudienceStats(
                self.factory,
                lambda: self.audience,
                runner,
                lambda: load_zone(self.config.timezone),
                lambda: self.config.default_mount.station_name,
            ),
        )
        self.mount_files = MountFiles(reactor, runner)
        self.playlist_log: PlaylistLog | None = None
        if config.playlist_log:
            writer = AccessLog(config.playlist_log, reactor, runner)
            writer.setServiceParent(self)
            self.playlist_log = PlaylistLog(writer)
            for name in self._configured():
                self.playlist_log.watch(self.mounts[name])
        self.announcer = Announcer(reactor, *self._outbound(config))
        for name in self._configured():
            self.announcer.watch(self.mounts[name])
        self.mount_auth = MountAuth(reactor, self.factory.authenticators)
        if self.factory.sources is not None:
            self.factory.sources.on_connect.append(self.announcer.live)
            self.factory.sources.on_connect.append(self.mount_auth.live)
            self.factory.sources.on_silence.append(self.announcer.silence)
        self.relays_out: list[RelayOut] = []
        for mount_config in config.mounts:
            self._add_relays_out(mount_config)
        self.monitoring = Monitoring(reactor, runner, self.factory, self.relays)
        self.monitoring.setServiceParent(self)
        self.monitoring.metrics.registry.register(AudienceCollector(self._today))
        self.admin = Admin(reactor, self.factory)
        self.files = OnDemand(reactor, runner, self.factory, find_ffmpeg())  # type: ignore[arg-type]

    def _open_shoutcast(self) -> None:
        """
        Listen for SHOUTcast v1 sources on their port, on the station's
        interface.
        """
        assert self.shoutcast_factory is not None and self._shoutcast_port is not None
        port = self._shoutcast_port
        self.shoutcast = ListenService(
            serverFromString(self._reactor, endpoint_description(self.config, port)),
            self.shoutcast_factory,
            f"SHOUTcast source port {port}",
        )
        self.shoutcast.setServiceParent(self)

    def _update_shoutcast(self) -> None:
        """
        Open the SHOUTcast v1 source port when a source password has just
        been configured, and close it when the last one has gone.
        """
        if self.shoutcast_factory is None:
            return
        wanted = takes_sources(self.config)
        if wanted and self.shoutcast is None:
            self._open_shoutcast()
            self._log.info("SHOUTcast source port {port} opened", port=self._shoutcast_port)
        elif not wanted and self.shoutcast is not None:
            closing, self.shoutcast = self.shoutcast, None
            closing.disownServiceParent()
            self._log.info(
                "SHOUTcast source port {port} closed: no source password is configured",
                port=self._shoutcast_port,
            )

    @property
    def listening(self) -> Deferred[None]:
        """
        Fires once every port the station opened at start is listening, or
        fails with L{CannotListen} (naming the port and the reason) when
        one could not be opened.
        """
        if isinstance(self._bound, Failure):
            return fail(self._bound)
        if self._bound:
            return succeed(None)
        waiter: Deferred[None] = Deferred()
        self._waiting.append(waiter)
        return waiter

    def _listen(self) -> None:
        """
        Note when every port is listening, or the first that cannot.
        """
        services = [self.listener, self.tls_listener, self.shoutcast]
        opened = [service for service in services if service is not None]
        done = gatherResults([service.listening for service in opened], consumeErrors=True)

        def bound(_: object) -> None:
            self._bound = True
            self._log.info(
                "radiod listening on {ports} with mounts {mounts}",
                ports=", ".join(service.what for service in opened),
                mounts=", ".join(self.mounts),
            )
            waiting, self._waiting = self._waiting, []
            for waiter in waiting:
                waiter.callback(None)

        def failed(failure: Failure) -> None:
            if isinstance(failure.value, FirstError):
                failure = failure.value.subFailure
            self._bound = failure
            waiting, self._waiting = self._waiting, []
            for waiter in waiting:
                waiter.errback(failure)

        done.addCallbacks(bound, failed)

    def _programme(self, config: MountConfig, previous: object = None) -> IFrameSource:
        """
        What a configured mount plays: its music, or for a live-only mount
        a switch with no playlist.  A programme replacing C{previous} keeps
        playing its format.
        """
        if config.live_only:
            return Switch(None, name=config.name)
        target = AudioFormat(config.sample_rate, config.channels, config.bitrate)
        kept = None
        if isinstance(previous, Programme):
            target, kept = previous.requested, previous.format
        return Programme(
            Library(config.music or demo.location(), self._runner),
            self._reactor,
            self._runner,
            shuffle=config.shuffle,
            rescan_interval=config.rescan_interval,
            name=config.name,
            target=target,
            normalize=config.normalize,
            transcoder=self.transcoder,
            keep_format=kept,
            rules=Rules(config.artist_separation, config.title_separation),
            playlists=[
                Playlist(playlist, self._library(playlist.music), random.Random())
                for playlist in config.playlists
            ],
            zone=load_zone(self.config.timezone),
            default_weight=config.default_weight,
            requests=RequestQueue(
                config.request_threshold, config.request_limit, config.request_queue
            ),
            crossfade=config.crossfade,
        )

    def _stop_audience(self, store: SessionStore) -> Deferred[None]:
        """
        Write what the session store holds, then let its thread go.
        """
        stopped: Deferred[None] = maybeDeferred(store.stopService)
        writer = self._writer

        def done(_: object) -> None:
            if writer is not None:
                writer.stop()

        stopped.addBoth(done)
        return stopped

    def _record_session(self, session: ListenerSession) -> None:
        """
        Keep a listener's session for the audience figures, its address
        hashed as the configuration asks.
        """
        kept = self._hashed(session)
        self.today.ended(kept)
        if self.audience is not None:
            self.audience.record(kept)

    def _hashed(self, session: ListenerSession) -> ListenerSession:
        """
        C{session} with its client's address as the station keeps it, and
        its country when the station has a GeoIP database.
        """
        return replace(
            session,
            client=self._hasher.client(session.client, session.end),
            country=session.country or self._countries.country(session.client),
        )

    def _today(self) -> dict[str, DayFigures]:
        """
        Today's audience figures so far, per mount.
        """
        going_on = [self._hashed(s) for s in self.factory.current_sessions()]
        return self.today.figures(self._reactor.seconds(), going_on)

    def _replace_outbound(self, config: StationConfig) -> None:
        """
        Send events to the webhooks and command of a reloaded
        configuration; what the old ones still hold is delivered.
        """
        announcer = self.announcer
        previous = (announcer.webhooks, announcer.hook)
        announcer.webhooks, announcer.hook = self._outbound(config)
        webhooks, hook = previous
        if webhooks is not None:
            self._reactor.callLater(DRAIN_TIMEOUT, webhooks.stop)
        if hook is not None:
            hook.stop()

    def _outbound(self, config: StationConfig) -> tuple[Webhooks | None, TrackHook | None]:
        """
        The webhooks and the C{on_track} command C{config} asks for.
        """
        webhooks = None
        if config.webhooks:
            webhooks = Webhooks(
                config.webhooks,
                self._reactor,
                station=config.default_mount.station_name,
                trust=self.trust,
            )
        hook = None
        if config.on_track:
            hook = TrackHook(self._reactor, config.on_track, self._reactor)  # type: ignore[arg-type]
        return webhooks, hook

    def _library(self, location: str) -> Library:
        """
        A library of the music at C{location}, read off the reactor thread.
        """
        return Library(location, self._runner)

    def _add_relays_out(self, config: MountConfig) -> list[RelayOut]:
        """
        Push mount C{config.name} to each server in its C{push_to}.
        """
        added = []
        for url in config.push_to:
            user, password, host, port, path = parse_push_url(url)
            scheme = "https" if is_tls_url(url) else "http"
            target = f"{scheme}://{host}:{port}{path}"
            mount = self.mounts[config.name]
            added.append(RelayOut(self._reactor, mount, target, user, password, trust=self.trust))
        self.relays_out.extend(added)
        return added

    def _add_relay(self, name: str, url: str) -> Relay | None:
        """
        Relay C{url} on mount C{name}, when the station runs in one
        process and the mount is paced.
        """
        switch = self.mounts[name].switch
        if self.config.workers > 1 or switch is None:
            self._log.warn(
                "Relay for {mount} from {upstream} ignored: relaying needs workers = 1",
                mount=name,
                upstream=url,
            )
            return None
        relay = Relay(
            self._reactor,  # type: ignore[arg-type]
            self._reactor,
            switch,
            url,
            name=name,
            trust=self.trust,
            silence=self.factory.sources.silence if self.factory.sources is not None else None,
        )
        self.relays.append(relay)
        return relay

    def startService(self) -> None:
        """
        Start every mount, then listen.
        """
        for mount in self.mounts.values():
            mount.start()
        for name in self._configured():
            self.mount_files.watch(self.mounts[name])
        self.mount_auth.update(self.config)
        for relay in self.relays:
            relay.start()
        for relay_out in self.relays_out:
            relay_out.start()
        self._update_hls()
        if self.audience is not None:
            self.audience.startService()
        super().startService()
        self._listen()
        self.announcer.up(list(self._configured()))

    def stopService(self) -> Deferred[None]:
        """
        Stop listening and close every listener.
        """
        stopped = super().stopService()
        for relay in self.relays:
            relay.stop()
        for relay_out in self.relays_out:
            relay_out.stop()
        self.page.close()
        self.nowplaying.close()
        self.files.close()
        self.hls.stop()
        encoded = self.hls.ended()
        detected: Deferred[None] = succeed(None)
        if self.factory.sources is not None:
            self.factory.sources.stop()
            detected = self.factory.sources.ended()
        for mount in self.mounts.values():
            mount.stop()
        self.mount_files.close()
        announced = self.announcer.down()
        stored: Deferred[None] = succeed(None)
        if self.audience is not None:
            # The listeners still here are sessions too.
            self.factory.end_sessions()
            stored = self._stop_audience(self.audience)
        converted = gatherResults(
            [
                self.ladders.ended(),
                encoded.addCallback(lambda _: None),
                announced,
                detected,
                stored,
                self.mount_auth.close(),
            ]
        )
        return stopped.addCallback(lambda _: converted)  # type: ignore[no-any-return]

    # Reloading

    def reload(self, config: StationConfig) -> None:
        """
        Apply a re-read configuration without dropping a listener, and
        rescan every library.

        Mounts whose settings changed keep their listeners; new listeners
        get the new settings, and a changed C{music}, C{shuffle},
        C{rescan_interval} or C{live_only} swaps the programme from the
        next frame.  New mounts start; a removed mount moves its listeners
        to its fallback, or closes them cleanly.  Passwords, limits and
        timeouts apply at once, and the lists of who may listen are read
        again for new listeners (a list that cannot be read keeps the
        rules in force).  The port, interface and number of worker
        processes need a restart: changes to them are logged and ignored.

        @param config: the new, validated configuration.
        """
        old = self.config
        if old.workers > 1:
            self._log.warn("Reload ignored: with several workers, restart radiod instead")
            return
        fixed = (old.port, old.interface, old.workers)
        if (config.port, config.interface, config.workers) != fixed:
            self._log.warn(
                "port, interface and workers change only on restart; keeping {port}",
                port=old.port,
            )
            config = replace(config, port=old.port, interface=old.interface, workers=old.workers)
        wanted = {mount.name: mount for mount in config.mounts}
        self._drop_rungs(self.ladders.remove(wanted))
        for name in [name for name in self._configured() if name not in wanted]:
            self._remove_mount(name, wanted)
        live = self._live()
        mirrored = self.edge.mirrored if self.edge is not None else set()
        for mount_config in config.mounts:
            if mount_config.name in mirrored:
                continue
            mount = self.mounts.get(mount_config.name)
            if mount is None or mount_config.name in live:
                self._add_mount(mount_config)
            elif mount.config != mount_config:
                self._update_mount(mount, mount_config)
        self.mounts.reorder(c.name for c in config.mounts)
        self._reload_ladders()
        outbound = ("webhooks", "on_track", "tls_ca")
        if any(getattr(old, key) != getattr(config, key) for key in outbound):
            self._replace_outbound(config)
        self.config = config
        self.factory.reread_lists(config)
        self.factory.config = share_limits(config)
        self.mount_auth.update(config)
        if self.factory.sources is not None:
            self.factory.sources.reconfigure(config)
        if self.shoutcast_factory is not None:
            self.shoutcast_factory.reconfigure(config)
            self._update_shoutcast()
        self.factory.fallbacks.rebalance()
        if self.access_log is not None:
            self.access_log.reopen()
        if self.playlist_log is not None:
            self.playlist_log.writer.reopen()
        self.mount_files.reopen()
        for mount in self.mounts.values():
            playlist: object = mount.switch.playlist if mount.switch is not None else None
            if isinstance(playlist, Programme):
                playlist.zone = load_zone(config.timezone)
                playlist.rescan()
        self.today.zone = load_zone(config.timezone)
        live = self._live()
        self._log.info(
            "Configuration reloaded: mounts {mounts}",
            mounts=", ".join(name for name in self.mounts if name not in live),
        )

    def _live(self) -> set[str]:
        """
        The names of the mounts that exist only for a live source.
        """
        sources = self.factory.sources
        return set(sources.created) if sources is not None else set()

    def _configured(self) -> list[str]:
        """
        The names of the configured mounts being served (neither rungs
        nor live mounts), in order.
        """
        rungs = self.ladders.mounts
        live = self._live()
        mirrored = self.edge.mirrored if self.edge is not None else set()
        return [
            name
            for name in self.mounts
            if name not in rungs and name not in live and name not in mirrored
        ]

    def _reload_ladders(self) -> None:
        """
        Bring the rungs of bitrate ladders in step with the reloaded
        mounts (see L{radiod.ffmpeg.ladder}): rungs still listed keep their
        listeners and take the new settings, the others close, new ones
        start.
        """
        mains = [self.mounts[name] for name in self._configured()]
        made, dropped = self.ladders.update(mains, self._live())
        self._drop_rungs(dropped)
        for rung in made:
            self.mounts.add(rung)
            rung.start()
        self._update_hls()

    def _time_shift(self, mount: Mount, offset: float) -> Mount | None:
        """
        A mount of its own for a listener of C{mount} joining C{offset}
        seconds in the past: the mount's HLS rendition played from then on
        (see L{radiod.hls.shift}), or C{None} when it keeps no such past.
        """
        output = self.hls.outputs.get(mount.name.lstrip("/"))
        rendition = output.renditions.get(output.name) if output is not None else None
        if output is None or rendition is None:
            return None
        moment = self._reactor.seconds() - offset
        if rendition.offset_of(moment) is None:
            return None
        source = TimeShift(rendition, self.hls.stores.get(output.name), moment)
        shifted = Mount(mount.config, source, self._reactor)
        shifted.start()
        return shifted

    def _update_hls(self) -> None:
        """
        Serve HLS for the mounts that ask for it, with their rungs.
        """
        mains = [self.mounts[name] for name in self._configured()]
        self.hls.update(mains, list(self.ladders.mounts.values()))

    def _drop_rungs(self, rungs: list[Mount]) -> None:
        for rung in rungs:
            self.mounts.remove(rung.name)
            rung.stop()

    def _add_mount(self, config: MountConfig) -> None:
        if config.name in self.mounts:
            self._log.warn(
                "Mount {mount} is live right now; it is added at the next reload",
                mount=config.name,
            )
            return
        mount = Mount(config, self._programme(config), self._reactor)
        self.mounts.add(mount)
        self.factory.fallbacks.watch(mount)
        self.announcer.watch(mount)
        if self.playlist_log is not None:
            self.playlist_log.watch(mount)
        mount.start()
        self.mount_files.watch(mount)
        started: list[Relay | RelayOut] = list(self._add_relays_out(config))
        if config.relay:
            relay = self._add_relay(config.name, config.relay)
            if relay is not None:
                started.append(relay)
        for service in started:
            service.start()
        self._log.info("Mount {mount} added", mount=config.name)

    def _remove_mount(self, name: str, wanted: dict[str, MountConfig]) -> None:
        mount = self.mounts.pop(name)
        self.announcer.forget(name)
        if self.playlist_log is not None:
            self.playlist_log.forget(name)
        self.mount_files.forget(mount)
        self._stop_relays(name)
        fallback = mount.config.fallback if mount.config.fallback in wanted else ""
        target = self.factory.fallbacks.resolve(fallback) if fallback else None
        moved = 0
        for listener in list(mount.listeners):
            if target is not None:
                mount.move_listener(listener, target, rehome=True)
                moved += 1
        for other in self.mounts.values():
            for listener in other.listeners:
                if listener.home == name:
                    listener.home = other.name
        if self.factory.sources is not None:
            self.factory.sources.disconnect(name)
        mount.stop()
        self._log.info(
            "Mount {mount} removed; {moved} listeners moved to {target}",
            mount=name,
            moved=moved,
            target=target.name if target is not None else "none (closed)",
        )

    def _update_mount(self, mount: Mount, config: MountConfig) -> None:
        old = mount.config
        mount.reconfigure(config)
        self.mount_files.watch(mount)
        programme_keys = ("music", "shuffle", "rescan_interval", "live_only")
        switch = mount.switch
        if switch is not None and any(
            getattr(old, key) != getattr(config, key) for key in programme_keys
        ):
            previous = switch.playlist
            playlist = self._programme(config, previous)
            if isinstance(playlist, Switch):
                switch.playlist = None
            else:
                playlist.start()
                switch.playlist = playlist
            if previous is not None:
                previous.stop()
        playing: object = switch.playlist if switch is not None else None
        if isinstance(playing, Programme):
            playing.normalize = config.normalize
            playing.rules = Rules(config.artist_separation, config.title_separation)
            playing.default_weight = config.default_weight
            playing.crossfade = config.crossfade
            if isinstance(playing.requests, RequestQueue):
                playing.requests.update(
                    config.request_threshold, config.request_limit, config.request_queue
                )
                if not config.requests:
                    playing.requests.clear()
            if old.playlists != config.playlists:
                playing.set_playlists(config.playlists, self._library)
        if any(getattr(old, key) != getattr(config, key) for key in FORMAT_KEYS):
            self._log.warn(
                "The format of {mount} (bitrate, sample_rate, channels) changes only on restart",
                mount=mount.name,
            )
        if (old.relay, old.push_to) != (config.relay, config.push_to):
            self._stop_relays(mount.name)
            started: list[Relay | RelayOut] = list(self._add_relays_out(config))
            if config.relay:
                relay = self._add_relay(config.name, config.relay)
                if relay is not None:
                    started.append(relay)
            for service in started:
                service.start()
        self._log.info("Mount {mount} reconfigured", mount=mount.name)

    def _stop_relays(self, name: str) -> None:
        for relay in [relay for relay in self.relays if relay.name == name]:
            relay.stop()
            self.relays.remove(relay)
        for relay_out in [r for r in self.relays_out if r.mount.name == name]:
            relay_out.stop()
            self.relays_out.remove(relay_out)
