# -*- test-case-name: tests.test_tap,tests.test_e2e -*-
"""
The station as a Twisted service: mounts with their programmes, and the
listening port.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from importlib import resources
from typing import Any, TypeVar

from twisted.application.service import MultiService, Service
from twisted.internet.defer import Deferred, maybeDeferred, succeed
from twisted.internet.endpoints import serverFromString
from twisted.internet.interfaces import (
    IListeningPort,
    IProtocolFactory,
    IReactorCore,
    IReactorTime,
    IStreamServerEndpoint,
)
from twisted.internet.protocol import Factory
from twisted.internet.threads import deferToThreadPool
from twisted.logger import Logger
from twisted.python.failure import Failure
from twisted.python.threadpool import ThreadPool
from zope.interface import implementer

from radiod.config import StationConfig, parse_push_url
from radiod.convert import ffmpeg_converters
from radiod.ffmpeg import find_ffmpeg
from radiod.interfaces import IFrameSource, Runner
from radiod.library import Library, scan_location
from radiod.live import Switch
from radiod.mount import Mount
from radiod.programme import Programme
from radiod.relay import Relay
from radiod.relayout import RelayOut
from radiod.server import RadioFactory
from radiod.shoutcast import ShoutcastFactory
from radiod.tags import info_from_name
from radiod.workers import WorkerPool, listen_reuse_port

__all__ = ["StationService", "demo_library", "endpoint_description", "thread_runner"]

_T = TypeVar("_T")

LISTEN_BACKLOG = 4096


def demo_library() -> str:
    """
    The folder of the demo tracks shipped inside the package.
    """
    return str(resources.files("radiod") / "demo")


def thread_runner(reactor: IReactorCore, pool: ThreadPool) -> Runner:
    """
    A L{Runner} that runs work in C{pool} and fires on the reactor thread.
    """

    def run(work: Callable[[], _T]) -> Deferred[_T]:
        return deferToThreadPool(reactor, pool, work)  # type: ignore[arg-type]

    return run


def endpoint_description(config: StationConfig, port: int | None = None) -> str:
    """
    The server endpoint string for the listener port, or for C{port} on
    the same interface.
    """
    interface = config.interface
    description = f"tcp:{config.port if port is None else port}:backlog={LISTEN_BACKLOG}"
    if interface:
        escaped = interface.replace(":", "\\:")
        description += f":interface={escaped}"
    return description


def check_music(location: str) -> None:
    """
    Fail fast, before the reactor runs, on a music location that cannot
    work: missing, unreadable, or holding nothing playable.  Only file
    names are looked at; tags are read later, in a thread.

    @raise LibraryError: naming the problem in one line.
    """
    scan_location(location, {}, read=info_from_name)


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


@implementer(IStreamServerEndpoint)
class ReusePortEndpoint:
    """
    A server endpoint on the station's port with C{SO_REUSEPORT}, shared
    with the worker processes.
    """

    def __init__(self, reactor: Any, config: StationConfig) -> None:
        self._reactor = reactor
        self._config = config

    def listen(self, protocolFactory: IProtocolFactory) -> Deferred[IListeningPort]:
        return maybeDeferred(listen_reuse_port, self._reactor, self._config, protocolFactory)


class ListenService(Service):
    """
    Listens on an endpoint while running, and tells when it is listening.

    @ivar listening: fires with the L{IListeningPort} once bound (or
        fails, when binding fails).
    """

    _log = Logger()

    def __init__(self, endpoint: IStreamServerEndpoint, factory: Factory) -> None:
        self._endpoint = endpoint
        self._factory = factory
        self.port: IListeningPort | None = None
        self.listening: Deferred[IListeningPort] = Deferred()

    def startService(self) -> None:
        super().startService()
        bound = self._endpoint.listen(self._factory)

        def ready(port: IListeningPort) -> IListeningPort:
            self.port = port
            return port

        bound.addCallback(ready).chainDeferred(self.listening)
        self.listening.addErrback(self._failed)

    def _failed(self, failure: Failure) -> None:
        self._log.critical("Cannot listen: {reason}", reason=failure.getErrorMessage())

    def stopService(self) -> Deferred[None]:
        super().stopService()
        port, self.port = self.port, None
        if port is None:
            return succeed(None)
        return maybeDeferred(lambda: port.stopListening()).addCallback(lambda _: None)


class StationService(MultiService):
    """
    Every mount of the station and the port listeners connect to.

    @ivar mounts: the mounts by path.
    @ivar factory: the listener server's factory.
    @ivar relays: the relays of mounts configured with C{relay}.
    @ivar relays_out: one L{RelayOut} per URL in each mount's C{push_to}.
    @ivar shoutcast: the SHOUTcast v1 source port's listening service, or
        C{None} when the station does not listen for v1 sources.
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
        self.mounts: dict[str, Mount] = {}
        for mount_config in config.mounts:
            source: IFrameSource | None = (sources or {}).get(mount_config.name)
            if source is None and mount_config.live_only:
                source = Switch(None, name=mount_config.name)
            elif source is None:
                location = mount_config.music or demo_library()
                source = Programme(
                    Library(location, runner),
                    reactor,
                    runner,
                    shuffle=mount_config.shuffle,
                    rescan_interval=mount_config.rescan_interval,
                    name=mount_config.name,
                )
            self.mounts[mount_config.name] = Mount(mount_config, source, reactor)
        self.pool: WorkerPool | None = None
        serving = share_limits(config)
        self.factory = RadioFactory(
            reactor,
            serving,
            self.mounts,
            accept_sources=config.workers <= 1,
            converters=ffmpeg_converters(reactor, reactor, find_ffmpeg()),  # type: ignore[arg-type]
        )
        if config.workers > 1:
            endpoint: IStreamServerEndpoint = ReusePortEndpoint(reactor, config)
            self.pool = WorkerPool(
                reactor,  # type: ignore[arg-type]
                serving,
                list(self.mounts.values()),
                config.workers - 1,
            )
        else:
            endpoint = serverFromString(reactor, endpoint_description(config))
        self.listener = ListenService(endpoint, self.factory)
        self.listener.setServiceParent(self)
        if shoutcast_port is None and 0 < config.port < 65535:
            shoutcast_port = config.port + 1
        self.shoutcast: ListenService | None = None
        if self.factory.sources is not None and shoutcast_port is not None:
            self.shoutcast = ListenService(
                serverFromString(reactor, endpoint_description(config, shoutcast_port)),
                ShoutcastFactory(reactor, config, self.factory.sources),
            )
            self.shoutcast.setServiceParent(self)
        if self.pool is not None:
            self.pool.setServiceParent(self)
        self.relays: list[Relay] = []
        for mount_config in config.mounts:
            if mount_config.relay:
                self._add_relay(mount_config.name, mount_config.relay)
        self.relays_out: list[RelayOut] = []
        for mount_config in config.mounts:
            for url in mount_config.push_to:
                user, password, host, port, path = parse_push_url(url)
                target = f"http://{host}:{port}{path}"
                mount = self.mounts[mount_config.name]
                self.relays_out.append(RelayOut(reactor, mount, target, user, password))

    def _add_relay(self, name: str, url: str) -> None:
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
            return
        self.relays.append(Relay(self._reactor, self._reactor, switch, url, name=name))  # type: ignore[arg-type]

    def startService(self) -> None:
        """
        Start every mount, then listen.
        """
        for mount in self.mounts.values():
            mount.start()
        for relay in self.relays:
            relay.start()
        for relay_out in self.relays_out:
            relay_out.start()
        super().startService()
        self._log.info(
            "radiod listening on port {port} with mounts {mounts}",
            port=self.config.port,
            mounts=", ".join(self.mounts),
        )

    def stopService(self) -> Deferred[None]:
        """
        Stop listening and close every listener.
        """
        stopped = super().stopService()
        for relay in self.relays:
            relay.stop()
        for relay_out in self.relays_out:
            relay_out.stop()
        if self.factory.sources is not None:
            self.factory.sources.stop()
        for mount in self.mounts.values():
            mount.stop()
        return stopped  # type: ignore[no-any-return]
