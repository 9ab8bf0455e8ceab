# -*- test-case-name: tests.station.test_workers -*-
"""
A worker process: serves listeners from the main process's programme.

The main process starts each worker as C{python -m radiod.station.workermain INDEX}
with the station's configuration in the C{RADIOD_WORKER_CONFIG}
environment variable, and writes the feed (L{radiod.station.feed}) to the worker's
standard input.  The worker listens on the same port (C{SO_REUSEPORT}), so
the kernel spreads new listeners across processes, and broadcasts the fed
frames to its own listeners exactly as the main process does.  It exits
when its standard input closes.
"""

from __future__ import annotations

import base64
import json
import resource
from collections.abc import Callable
from dataclasses import asdict, fields
from typing import Any

from twisted.internet import stdio
from twisted.internet.defer import Deferred
from twisted.internet.error import ConnectionLost
from twisted.internet.interfaces import IReactorTime
from twisted.internet.protocol import Protocol
from twisted.logger import Logger
from twisted.python.failure import Failure
from zope.interface import implementer

from radiod import demo
from radiod.audio.track import Play, TrackInfo
from radiod.broadcast.mount import Mount
from radiod.config import MountConfig, StationConfig
from radiod.ffmpeg.binary import find_ffmpeg
from radiod.ffmpeg.ladder import served_rungs
from radiod.interfaces import Deliver, ILiveSource
from radiod.library.watch import LibraryWatch
from radiod.runner import thread_runner
from radiod.station.feed import (
    AudioMessage,
    ControlMessage,
    FeedDecoder,
    FeedError,
    TrackMessage,
    encode_control,
    split_frames,
)
from radiod.station.listen import listen_reuse_port
from radiod.web.files import OnDemand
from radiod.web.monitoring import Monitoring
from radiod.web.page import StationPage
from radiod.web.tree import station_site
from radiod.wire.accesslog import AccessLog
from radiod.wire.server import RadioFactory

__all__ = [
    "FeedProtocol",
    "FeedSource",
    "StationLink",
    "config_from_json",
    "config_to_json",
    "serve",
]

CONFIG_VARIABLE = "RADIOD_WORKER_CONFIG"
READY_FD = 3
_KEPT_PLAYS = 16


def config_to_json(config: StationConfig) -> str:
    """
    The configuration as JSON, for a worker's environment.
    """
    return json.dumps(asdict(config))


def config_from_json(text: str) -> StationConfig:
    """
    The inverse of L{config_to_json}.
    """
    data = json.loads(text)
    mounts = tuple(MountConfig(**mount) for mount in data.pop("mounts"))
    known = {field.name for field in fields(StationConfig)}
    return StationConfig(**{k: v for k, v in data.items() if k in known}, mounts=mounts)


@implementer(ILiveSource)
class FeedSource:
    """
    The frames of one mount, as the main process sends them: each with
    its play, under the number the main process's mount gave it.
    """

    _log = Logger()

    def __init__(self, name: str) -> None:
        self.name = name
        self._deliver: Deliver | None = None
        self._plays: dict[int, Play] = {}

    def attach(self, deliver: Deliver) -> None:
        self._deliver = deliver

    def start(self) -> None:
        pass

    def stop(self) -> None:
        self._deliver = None

    def receive(self, message: TrackMessage | AudioMessage) -> None:
        """
        Take one feed message for this mount.
        """
        if isinstance(message, TrackMessage):
            self._plays[message.play] = Play(message.play, message.track)
            while len(self._plays) > _KEPT_PLAYS:
                del self._plays[min(self._plays)]
            return
        play = self._plays.get(message.play)
        if play is None:
            play = self._plays[message.play] = Play(message.play, TrackInfo("", ""))
        if self._deliver is not None and message.audio:
            frames = split_frames(message.audio)
            self._deliver([(frame, play) for frame in frames])


class StationLink:
    """
    A worker's line to the main process, for what must hold across the
    whole station: the per-address connection count and the login
    throttle (L{radiod.wire.limits.Limits}), which the main process keeps for
    every process, and admin requests, which the main process answers
    (it owns the programme).  Requests go out as feed control messages on
    the worker's descriptor 3; answers come back in the feed.

    Messages on one pipe keep their order, so a connection released right
    after it was counted is never counted twice, whatever the answer's
    timing.
    """

    _log = Logger()

    def __init__(self, write: Callable[[bytes], None]) -> None:
        """
        @param write: writes bytes to the main process.
        """
        self._write = write
        self._next = 0
        self._waiting: dict[int, Deferred[dict[str, Any]]] = {}

    def _ask(self, fields: dict[str, Any]) -> Deferred[dict[str, Any]]:
        self._next += 1
        waiting: Deferred[dict[str, Any]] = Deferred()
        self._waiting[self._next] = waiting
        self._write(encode_control({"id": self._next, **fields}))
        return waiting

    def ready(self) -> None:
        """
        Tell the main process this worker listens.
        """
        self._write(encode_control({"ready": True}))

    def admit(self, address: str) -> Deferred[bool]:
        return self._ask({"admit": address}).addCallback(lambda f: bool(f["admitted"]))

    def release(self, address: str) -> None:
        self._write(encode_control({"release": address}))

    def failed(self, address: str) -> Deferred[float]:
        return self._ask({"failed": address}).addCallback(lambda f: float(f["delay"]))

    def forward(self, raw: bytes, client: str) -> Deferred[bytes]:
        """
        Have the main process answer a request C{client} sent.

        @return: fires with the reply to write.
        """
        request = {"request": base64.b64encode(raw).decode("ascii"), "client": client}
        return self._ask(request).addCallback(lambda f: base64.b64decode(f["reply"]))

    def answered(self, message: ControlMessage) -> None:
        """
        Take an answer from the main process.
        """
        number = message.fields.get("id")
        waiting = self._waiting.pop(number, None) if isinstance(number, int) else None
        if waiting is None:
            self._log.warn(
                "Unexpected answer from the main process: {fields}", fields=message.fields
            )
            return
        waiting.callback(message.fields)

    def lost(self) -> None:
        """
        The main process is gone: nothing waiting will be answered.
        """
        waiting, self._waiting = self._waiting, {}
        for each in waiting.values():
            each.errback(ConnectionLost("the main process is gone"))


class FeedProtocol(Protocol):
    """
    Reads the feed from standard input and hands each message to its
    mount's source, and each answer to the L{StationLink}.
    """

    _log = Logger()

    def __init__(
        self, sources: list[FeedSource], on_end: object, link: StationLink | None = None
    ) -> None:
        self._sources = sources
        self._decoder = FeedDecoder()
        self._on_end = on_end
        self.link = link

    def dataReceived(self, data: bytes) -> None:
        try:
            messages = self._decoder.feed(data)
            for message in messages:
                if isinstance(message, ControlMessage):
                    if self.link is not None:
                        self.link.answered(message)
                elif 0 <= message.mount < len(self._sources):
                    self._sources[message.mount].receive(message)
        except FeedError as error:
            self._log.error("Bad feed from the main process: {error}", error=str(error))
            assert self.transport is not None
            self.transport.loseConnection()

    def connectionLost(self, reason: Failure | None = None) -> None:
        if self.link is not None:
            self.link.lost()
        if callable(self._on_end):
            self._on_end()


def raise_file_limit() -> None:
    """
    Raise the soft limit on open files to the hard limit: every listener
    is a file descriptor.
    """
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def serve(reactor: Any, config: StationConfig, index: int) -> None:
    """
    Set up one worker on C{reactor}: its mounts fed from standard input,
    and its listening socket shared with the other processes.  The
    reactor stops when the main process closes the feed.
    """
    log = Logger(namespace=f"radiod.station.worker.{index}")

    def main_process_gone() -> None:
        if reactor.running:
            reactor.stop()

    clock: IReactorTime = reactor
    # The main process feeds its mounts, then the rungs of their bitrate
    # ladders, in this order.
    configs = [*config.mounts, *served_rungs(config, find_ffmpeg())]
    sources = [FeedSource(mount.name) for mount in configs]
    mounts = {
        mount.name: Mount(mount, source, clock)
        for mount, source in zip(configs, sources, strict=True)
    }
    for mount in mounts.values():
        mount.start()
    factory = RadioFactory(clock, config, mounts)
    station_site(factory, clock)
    feed = FeedProtocol(sources, main_process_gone)
    # Answers come in on standard input; requests go out on descriptor 3.
    channel = stdio.StandardIO(feed, stdin=0, stdout=READY_FD, reactor=reactor)  # type: ignore[call-arg]
    link = feed.link = StationLink(channel.write)
    factory.limits = link
    factory.forward = link.forward
    StationPage(clock, factory)
    # The library's files on demand, from libraries this process scans
    # itself: any process may get the request.
    runner = thread_runner(reactor, reactor.getThreadPool())
    locations = [
        (m.music or demo.location(), m.rescan_interval) for m in config.mounts if not m.live_only
    ]
    watch = LibraryWatch(clock, runner, locations)
    files = OnDemand(reactor, runner, factory, find_ffmpeg(), lambda: watch.libraries)
    watch.start()
    reactor.addSystemEventTrigger("before", "shutdown", files.close)
    # Status pages and metrics for this process's listeners; the main
    # process alone keeps the play history.
    monitoring = Monitoring(
        clock, thread_runner(reactor, reactor.getThreadPool()), factory, keep_history=False
    )
    monitoring.startService()
    if config.access_log:
        access_log = AccessLog(
            config.access_log, clock, thread_runner(reactor, reactor.getThreadPool())
        )
        factory.on_access.append(access_log.log)
        access_log.startService()
        reactor.addSystemEventTrigger("before", "shutdown", access_log.stopService)
    listen_reuse_port(reactor, config, factory)
    log.info("Worker {index} serving {mounts}", index=index, mounts=", ".join(mounts))
    link.ready()
