# -*- test-case-name: tests.station.test_edge -*-
"""
An edge: a radiod that mirrors every mount of an origin radiod, for
players that cannot use HLS (car radios, smart speakers, Winamp) once one
machine is not enough.

The edge reads the origin's mounts from its C{/api/v1/status} every
L{POLL} seconds and has a live-only mount of each name, with the origin's
station name, genre and description.  A mount is pulled from the origin
(a relay of C{<origin><mount>}, titles included) when its first listener
asks for it, and let go L{StationConfig.origin_linger} seconds after its
last listener left, so the origin sees one connection per mirrored mount
per edge, and none for mounts nobody hears.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from functools import partial
from typing import Any

from twisted.application.service import Service
from twisted.internet.defer import Deferred, succeed
from twisted.internet.interfaces import IDelayedCall, IReactorTCP, IReactorTime
from twisted.internet.task import LoopingCall
from twisted.logger import Logger
from twisted.python.failure import Failure
from twisted.web.client import Agent, readBody
from twisted.web.http_headers import Headers
from twisted.web.iweb import IResponse

from radiod.broadcast.mount import Mount
from radiod.config import MountConfig
from radiod.ingest.relay import Relay

__all__ = ["POLL", "Edge", "mirrored_mounts"]

POLL = 30.0
"""
Seconds between reads of the origin's mounts.
"""

RETRY = 2.0
"""
Seconds between reads of the origin's mounts until it first answers.
"""


def mirrored_mounts(document: Mapping[str, Any]) -> list[MountConfig]:
    """
    The mounts an edge mirrors from the origin's status document (pure):
    each one's name, station name, genre and description, live only.

    @raise ValueError: when the document is not radiod's status.
    """
    mounts = document.get("mounts")
    if not isinstance(mounts, list):
        raise ValueError("no list of mounts")
    configs = []
    for entry in mounts:
        if not isinstance(entry, dict) or not isinstance(entry.get("name"), str):
            raise ValueError("a mount without a name")
        name = entry["name"]
        if not name.startswith("/"):
            raise ValueError(f"a mount name without a slash: {name!r}")
        configs.append(
            MountConfig(
                name=name,
                live_only=True,
                music="",
                station_name=str(entry.get("station_name") or "radiod"),
                genre=str(entry.get("genre") or ""),
                description=str(entry.get("description") or ""),
            )
        )
    return configs


class Edge(Service):
    """
    Mirrors an origin's mounts (in place of the station's own of the same
    names).

    @ivar origin: the origin's URL, without a trailing slash.
    @ivar mirrored: the names of the mounts mirrored.
    @ivar relays: the relays pulling mounts now, by mount name.
    """

    _log = Logger()

    def __init__(
        self,
        reactor: IReactorTCP,
        clock: IReactorTime,
        origin: str,
        linger: float,
        mounts: Mapping[str, Mount],
        add: Callable[[MountConfig], None],
        trust: object | None = None,
        remove: Callable[[str], None] | None = None,
    ) -> None:
        """
        @param reactor: makes connections.
        @param clock: for the polls and the lingering.
        @param origin: the origin's URL.
        @param linger: seconds a mount is pulled after its last listener.
        @param mounts: the station's mounts, by name.
        @param add: adds a mount to the station.
        @param trust: the authorities an C{https://} origin must chain to.
        @param remove: removes a mount of the station (one of the same
            name as an origin's, which the origin's replaces).
        """
        self.origin = origin.rstrip("/")
        self.linger = linger
        self._reactor = reactor
        self._clock = clock
        self._mounts = mounts
        self._add = add
        self._remove = remove
        self._trust = trust
        self._agent = Agent(reactor)
        self.mirrored: set[str] = set()
        self.relays: dict[str, Relay] = {}
        self._lingering: dict[str, IDelayedCall] = {}
        self._loop: LoopingCall | None = None
        self._retry: IDelayedCall | None = None
        self._failing = False

    def startService(self) -> None:
        """
        Read the origin's mounts now and every L{POLL} seconds.
        """
        super().startService()
        loop = self._loop = LoopingCall(self.poll)
        loop.clock = self._clock
        loop.start(POLL, now=True)

    def stopService(self) -> Deferred[None] | None:
        """
        Stop reading, and let every mount go.
        """
        super().stopService()
        if self._loop is not None and self._loop.running:
            self._loop.stop()
        if self._retry is not None and self._retry.active():
            self._retry.cancel()
        self._retry = None
        for name in list(self.relays):
            self._release(name)
        return None

    def poll(self) -> Deferred[None]:
        """
        Read the origin's mounts and mirror the new ones.
        """
        url = f"{self.origin}/api/v1/status".encode()
        asked = self._agent.request(b"GET", url, Headers({b"User-Agent": [b"radiod edge"]}))

        def read(response: IResponse) -> Deferred[bytes]:
            if response.code != 200:
                raise ValueError(f"status {response.code}")
            return readBody(response)

        def got(body: bytes) -> None:
            self.mirror(mirrored_mounts(json.loads(body)))

        done: Deferred[None] = asked.addCallback(read).addCallback(got)
        return done.addErrback(self._failed)

    def _failed(self, failure: Failure) -> None:
        if not self._failing:
            self._log.warn(
                "Cannot read the mounts of origin {origin}: {error}; trying every {seconds:g} s",
                origin=self.origin,
                error=failure.getErrorMessage(),
                seconds=RETRY,
            )
        self._failing = True
        if self.running and not self.mirrored and self._retry is None:
            # Until the first answer, ask again soon (the origin may be
            # starting too).
            self._retry = self._clock.callLater(RETRY, self._again)

    def _again(self) -> None:
        self._retry = None
        if self.running:
            self.poll()

    def mirror(self, configs: list[MountConfig]) -> None:
        """
        Have a mount for each of the origin's.
        """
        if self._failing:
            self._log.info("Origin {origin} answers again", origin=self.origin)
        self._failing = False
        for config in configs:
            if config.name in self.mirrored:
                continue
            if config.name in self._mounts:
                if self._remove is None:
                    continue
                self._log.info(
                    "Mount {mount} is the origin's: it is mirrored instead", mount=config.name
                )
                self._remove(config.name)
            self._add(config)
            mount = self._mounts.get(config.name)
            if mount is None:
                continue
            self.mirrored.add(config.name)
            mount.on_listener_left.append(partial(self._left, config.name))
            self._log.info(
                "Mirroring {mount} from origin {origin}", mount=config.name, origin=self.origin
            )

    def demand(self, name: str) -> Deferred[None] | None:
        """
        A listener asks for mount C{name}: pull it from the origin, if it
        is the origin's, and fire once its audio is on air.

        @return: the Deferred, or C{None} for a mount not mirrored.
        """
        mount = self._mounts.get(name)
        if name not in self.mirrored or mount is None or mount.switch is None:
            return None
        lingering = self._lingering.pop(name, None)
        if lingering is not None and lingering.active():
            lingering.cancel()
        if name not in self.relays:
            relay = Relay(
                self._reactor,
                self._clock,
                mount.switch,
                f"{self.origin}{name}",
                name=name,
                trust=self._trust,
            )
            self.relays[name] = relay
            relay.start()
            self._log.info("Pulling {mount} from origin {origin}", mount=name, origin=self.origin)
        switch = mount.switch
        if switch.on_air:
            return succeed(None)
        on_air: Deferred[None] = Deferred()

        def changed() -> None:
            if switch.on_air and not on_air.called:
                switch.on_change.remove(changed)
                on_air.callback(None)

        def cancelled(_: Deferred[None]) -> None:
            if changed in switch.on_change:
                switch.on_change.remove(changed)

        on_air = Deferred(cancelled)
        switch.on_change.append(changed)
        return on_air

    def _left(self, name: str, listener: object = None) -> None:
        """
        A listener of mount C{name} left: let the mount go after the
        linger if it was the last.
        """
        mount = self._mounts.get(name)
        if mount is None or mount.listeners or name not in self.relays:
            return
        previous = self._lingering.pop(name, None)
        if previous is not None and previous.active():
            previous.cancel()
        self._lingering[name] = self._clock.callLater(self.linger, self._release, name)

    def _release(self, name: str) -> None:
        self._lingering.pop(name, None)
        mount = self._mounts.get(name)
        if mount is not None and mount.listeners:
            return
        relay = self.relays.pop(name, None)
        if relay is not None:
            relay.stop()
            self._log.info(
                "Let go of {mount}: no listener for {seconds:g} s", mount=name, seconds=self.linger
            )
