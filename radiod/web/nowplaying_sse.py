# -*- test-case-name: tests.web.test_nowplaying,tests.web.test_nowplaying_e2e -*-
"""
AzuraCast's high-performance now-playing updates, as the Centrifugo server
behind it sends them over Server-Sent Events, at L{LIVE_PATH}
(L{LiveUpdates}): the client names the channels it follows
(C{cf_connect={"subs": {"station:<shortcode>": {}}}}); the first message is
the C{connect} reply, carrying each station's state now; then a C{pub}
message on the channel whenever the station changes, and C{{}} as a ping
after L{PING} seconds of silence.  The documents are
L{radiod.web.nowplaying}'s.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from itertools import count
from typing import Any

from twisted.internet.interfaces import IPushProducer, IReactorTime
from twisted.internet.task import LoopingCall
from twisted.logger import Logger
from twisted.web.server import NOT_DONE_YET
from zope.interface import implementer

from radiod import __version__
from radiod.audio.track import TrackInfo
from radiod.broadcast.mount import Mount
from radiod.web.nowplaying import (
    CHANNEL_PREFIX,
    LIVE_PATH,
    MAX_CONNECT,
    MAX_STREAMS,
    MAX_SUBS,
    NOWPLAYING_PATH,
    PING,
    STALL,
    TICK,
    NowPlayingList,
    Station,
    Stations,
    to_json,
)
from radiod.web.site import StationRequest, StationResource, StationSite, attach, refuse_json
from radiod.web.sse import CONTENT_TYPE, format_event
from radiod.wire.server import RadioFactory
from radiod.wire.stream import CORS

__all__ = ["ConnectError", "LiveUpdates", "Subscription", "attach_nowplaying", "parse_connect"]


class ConnectError(ValueError):
    """
    A C{cf_connect} parameter that is not a connect request.
    """


def parse_connect(text: str | None) -> list[str]:
    """
    The channels a Centrifugo connect request subscribes to.

    @param text: the C{cf_connect} parameter: a JSON object whose
        C{subs}, if any, maps each channel's name to its options (an
        object); or C{None} for a connect request with no channels.
    @return: the channels' names, in order.
    @raise ConnectError: if C{text} is not such an object, is longer than
        L{MAX_CONNECT} characters, or names more than L{MAX_SUBS}
        channels.
    """
    if text is None:
        return []
    if len(text) > MAX_CONNECT:
        raise ConnectError(f"cf_connect is longer than {MAX_CONNECT} characters")
    try:
        request = json.loads(text)
    except ValueError:
        raise ConnectError("cf_connect is not JSON") from None
    if not isinstance(request, dict):
        raise ConnectError("cf_connect is not a JSON object")
    subs = request.get("subs", {})
    if not isinstance(subs, dict) or not all(isinstance(each, dict) for each in subs.values()):
        raise ConnectError("cf_connect's subs is not an object of objects")
    if len(subs) > MAX_SUBS:
        raise ConnectError(f"cf_connect names more than {MAX_SUBS} channels")
    return list(subs)


_HEADERS = [
    ("Content-Type", CONTENT_TYPE),
    ("Cache-Control", "no-cache"),
    ("X-Accel-Buffering", "no"),
    *CORS,
]

_PING_FRAME = format_event("{}")


@implementer(IPushProducer)
class Subscription:
    """
    One client's live updates: the producer of its request's body,
    registered with the request so that a client that does not read
    pauses it.

    While the client does not read nothing is written; when it reads again
    it gets the state of every station it follows, as new publications.
    A client that does not read for L{LiveUpdates.stall} seconds is
    disconnected.

    @ivar id: a number naming it in logs.
    @ivar request: the client's request, answered with the stream.
    @ivar peer: the client, as logs name it.
    @ivar host: the request's C{Host}, for the URLs it is sent.
    @ivar last_write: the clock time of the last write.
    @ivar paused_at: when the connection asked us to stop writing, or
        C{None} while it reads.
    @ivar missed: whether a publication was not written while paused.
    @ivar closed: whether the stream has ended.
    """

    _ids = count(1)
    _log = Logger()

    def __init__(self, updates: LiveUpdates, request: StationRequest) -> None:
        """
        @param updates: the live updates it belongs to.
        @param request: the client's request, its response headers set.
        """
        self.id = next(self._ids)
        self._updates = updates
        self.request = request
        self.peer = request.peer_name
        self.host = request.header("Host")
        self.last_write = updates.clock.seconds()
        self.paused_at: float | None = None
        self.missed = False
        self.closed = False

    def write(self, data: bytes) -> None:
        """
        Write C{data}, unless paused or ended.
        """
        if self.closed:
            return
        if self.paused_at is not None:
            self.missed = True
            return
        self.request.write(data)
        self.last_write = self._updates.clock.seconds()

    def tick(self, now: float) -> None:
        """
        Disconnect the client if it has not read for too long; else ping
        it if nothing was sent for L{LiveUpdates.ping} seconds.
        """
        if self.paused_at is not None:
            if now - self.paused_at >= self._updates.stall:
                self._updates.dropped += 1
                self._log.info(
                    "Live updates {subscription} to {peer} dropped: not read for {seconds} s",
                    subscription=self.id,
                    peer=self.peer,
                    seconds=round(now - self.paused_at),
                )
                self.close()
                transport: Any = self.request.transport
                if transport is not None:
                    abort = getattr(transport, "abortConnection", transport.loseConnection)
                    abort()
            return
        if now - self.last_write >= self._updates.ping:
            self.write(_PING_FRAME)

    def end(self, farewell: bytes = b"") -> None:
        """
        Stop following and finish the response (the connection then
        closes).

        @param farewell: a last message to send first.
        """
        if self.closed:
            return
        if farewell:
            self.write(farewell)
        self.close()
        self.request.unregisterProducer()
        self.request.finish()

    def close(self) -> None:
        """
        Stop following (the response is finished, or its client gone).
        """
        if self.closed:
            return
        self.closed = True
        self._updates.forget(self)

    # IPushProducer

    def pauseProducing(self) -> None:
        """
        The client is not reading: hold publications back.
        """
        if self.paused_at is None:
            self.paused_at = self._updates.clock.seconds()

    def resumeProducing(self) -> None:
        """
        The client reads again: bring it up to date if it missed
        publications.
        """
        self.paused_at = None
        if self.missed and not self.closed:
            self.missed = False
            self._updates.catch_up(self)

    def stopProducing(self) -> None:
        """
        The connection is gone.
        """
        self.close()


@dataclass
class _Feed:
    """
    The live updates of one station: who follows it, what they were last
    told, and the observer on its mount.
    """

    mount: Mount
    observer: Callable[[TrackInfo], None]
    followers: dict[Subscription, list[str]] = field(default_factory=dict)
    offset: int = 0
    last: dict[str, Any] | None = None


def _signature(document: dict[str, Any]) -> tuple[Any, ...]:
    """
    What a publication is sent for a change of: everything in a document
    but the URLs, the measured bitrates and the time played so far.
    """
    playing = document["now_playing"]
    following = document["playing_next"]
    live = document["live"]
    station = document["station"]
    return (
        document["is_online"],
        playing["sh_id"],
        playing["song"]["id"],
        None
        if following is None
        else (following["song"]["id"], following["is_request"], following["played_at"]),
        (live["is_live"], live["streamer_name"], live["broadcast_start"]),
        tuple(document["listeners"].values()),
        tuple(tuple(each["listeners"].values()) for each in station["mounts"]),
        station["hls_listeners"],
    )


def _triggers(old: dict[str, Any] | None, new: dict[str, Any]) -> list[str]:
    """
    What changed from C{old} to C{new}, in the names AzuraCast gives its
    triggers.
    """
    if old is None:
        return []
    triggers = []
    before, after = old["listeners"]["current"], new["listeners"]["current"]
    if before > after:
        triggers.append("listener_lost")
    elif before < after:
        triggers.append("listener_gained")
    was, now = old["live"], new["live"]
    if now["is_live"] and (not was["is_live"] or was["streamer_name"] != now["streamer_name"]):
        triggers.append("live_connect")
    elif was["is_live"] and not now["is_live"]:
        triggers.append("live_disconnect")
    if old["is_online"] and not new["is_online"]:
        triggers.append("station_offline")
    elif new["is_online"] and not old["is_online"]:
        triggers.append("station_online")
    if old["now_playing"]["song"]["id"] != new["now_playing"]["song"]["id"]:
        triggers.append("song_changed")
        if now["is_live"]:
            triggers.append("song_changed_live")
    return triggers


def _publication(channel: str, data: str, offset: int) -> bytes:
    """
    A publication on C{channel} as Centrifugo pushes one: C{{"channel":
    ..., "pub": {"data": ..., "offset": ...}}}, framed as an event.

    @param data: the publication's data, as JSON already.
    """
    return format_event(
        f'{{"channel":{to_json(channel)},"pub":{{"data":{data},"offset":{offset}}}}}'
    )


class LiveUpdates(StationResource):
    """
    The resource at L{LIVE_PATH}, and every live update stream it has
    open.

    Each station followed has one observer in its mount's
    C{on_track_change}, removed when its last follower leaves; one shared
    check runs every C{tick} seconds while any stream is open.

    @ivar clock: the time source.
    @ivar stations: the stations.
    @ivar subscriptions: the open streams.
    @ivar max_streams: the most streams open at once; more are refused
        with C{503}.
    @ivar ping: seconds of silence before a ping.
    @ivar stall: seconds a client may go without reading.
    @ivar refused: streams refused for the limit.
    @ivar dropped: streams closed because their client stopped reading.
    """

    isLeaf = True
    _log = Logger()

    def __init__(
        self,
        clock: IReactorTime,
        factory: RadioFactory,
        stations: Stations,
        max_streams: int = MAX_STREAMS,
        tick: float = TICK,
        ping: int = PING,
        stall: float = STALL,
    ) -> None:
        """
        @param clock: the time source for the checks.
        @param factory: the stream server's factory.
        @param stations: the stations.
        @param max_streams: the most streams open at once.
        @param tick: seconds between checks for changes.
        @param ping: whole seconds of silence before a ping.
        @param stall: seconds a client may go without reading.
        """
        super().__init__(factory)
        self.clock = clock
        self.stations = stations
        self.max_streams = max_streams
        self.ping = ping
        self.stall = stall
        self.refused = 0
        self.dropped = 0
        self.subscriptions: set[Subscription] = set()
        self._feeds: dict[str, _Feed] = {}
        self._tick = tick
        self._loop = LoopingCall(self._check)
        self._loop.clock = clock
        stations.on_live.append(self._live_changed)

    def _open(self, request: StationRequest) -> dict[str, Station | None] | bytes:
        """
        The channels a request asks to follow, with the station each is
        (C{None} for none), its response headers set; or
        the body of its refusal: C{400} for a malformed C{cf_connect},
        C{503} beyond L{max_streams}.
        """
        values = request.text_args().get("cf_connect")
        try:
            names = parse_connect(values[0] if values else None)
        except ConnectError as error:
            return refuse_json(request, self.factory, 400, str(error))
        if len(self.subscriptions) >= self.max_streams:
            self.refused += 1
            return refuse_json(
                request, self.factory, 503, "Too many streams", [("Retry-After", "30")]
            )
        channels: dict[str, Station | None] = {}
        for name in names:
            found = name.startswith(CHANNEL_PREFIX)
            channels[name] = (
                self.stations.find(name.removeprefix(CHANNEL_PREFIX)) if found else None
            )
        for header, value in _HEADERS:
            request.setHeader(header, value)
        return channels

    def render_HEAD(self, request: StationRequest) -> bytes:
        """
        The headers a stream would have, and no stream.
        """
        opened = self._open(request)
        return opened if isinstance(opened, bytes) else b""

    def render_GET(self, request: StationRequest) -> bytes | int:
        """
        Open a stream: the C{connect} reply first, then publications as
        the stations followed change, until the client leaves.
        """
        channels = self._open(request)
        if isinstance(channels, bytes):
            return channels
        subscription = Subscription(self, request)
        self.subscriptions.add(subscription)
        request.registerProducer(subscription, True)
        request.notifyFinish().addBoth(lambda _: subscription.close())
        subs: dict[str, Any] = {}
        for channel, station in channels.items():
            subs[channel] = {}
            if station is not None:
                feed = self._follow(subscription, channel, station)
                data = self._data(feed, subscription.host, [])
                subs[channel] = {"publications": [{"data": data, "offset": feed.offset}]}
        connect = {
            "client": str(uuid.uuid4()),
            "version": __version__,
            "subs": subs,
            "ping": self.ping,
            "session": str(uuid.uuid4()),
            "time": int(self.clock.seconds() * 1000),
        }
        subscription.write(format_event(to_json({"connect": connect})))
        if not self._loop.running:
            self._loop.start(self._tick, now=False)
        self._log.debug(
            "Live updates {subscription} to {peer} opened on {channels} ({count} open)",
            subscription=subscription.id,
            peer=subscription.peer,
            channels=list(channels),
            count=len(self.subscriptions),
        )
        return NOT_DONE_YET

    def _follow(self, subscription: Subscription, channel: str, station: Station) -> _Feed:
        """
        Have C{subscription} follow C{station} on C{channel}.

        @return: the station's feed.
        """
        feed = self._feeds.get(station.mount.name)
        if feed is None:
            mount = station.mount

            def changed(track: TrackInfo) -> None:
                self.publish(mount.name)

            feed = self._feeds[mount.name] = _Feed(mount, changed)
            mount.on_track_change.append(changed)
            # What a new follower is sent counts as the first publication.
            feed.last = self.stations.describe(station, None)
            feed.offset = 1
        feed.followers.setdefault(subscription, []).append(channel)
        return feed

    def _data(self, feed: _Feed, host: str | None, triggers: Sequence[str]) -> dict[str, Any]:
        """
        The data of a publication of C{feed}'s station: its document with
        the URLs C{host} names, C{triggers} and the time now.
        """
        station = self.stations.of(feed.mount.name)
        assert station is not None
        document = self.stations.describe(station, host)
        document["cache"] = "event"
        return {
            "np": document,
            "triggers": list(triggers),
            "current_time": int(self.clock.seconds()),
        }

    def publish(self, name: str) -> None:
        """
        Send the followers of the station whose mount is C{name} its state
        now, if it changed since last sent.
        """
        feed = self._feeds.get(name)
        station = self.stations.of(name)
        if feed is None:
            return
        if station is None or station.mount is not feed.mount:
            self._unfollow(feed)
            return
        document = self.stations.describe(station, None)
        if feed.last is not None and _signature(feed.last) == _signature(document):
            return
        triggers = _triggers(feed.last, document)
        feed.last = document
        feed.offset += 1
        frames: dict[str | None, str] = {}
        for subscription, channels in list(feed.followers.items()):
            data = frames.get(subscription.host)
            if data is None:
                data = frames[subscription.host] = to_json(
                    self._data(feed, subscription.host, triggers)
                )
            for channel in channels:
                subscription.write(_publication(channel, data, feed.offset))

    def catch_up(self, subscription: Subscription) -> None:
        """
        Send C{subscription} the state now of every station it follows,
        as publications.
        """
        for feed in list(self._feeds.values()):
            channels = feed.followers.get(subscription)
            if not channels:
                continue
            if self.stations.of(feed.mount.name) is None:
                # No longer a station (removed, or hidden by a reload).
                self._unfollow(feed)
                continue
            data = to_json(self._data(feed, subscription.host, []))
            for channel in channels:
                subscription.write(_publication(channel, data, feed.offset))

    def _live_changed(self, name: str) -> None:
        """
        A live source connected to the mount C{name}, or left it.
        """
        self.publish(name)

    def _check(self) -> None:
        """
        Publish the stations whose state changed; ping the streams that
        were silent, and drop those whose client stopped reading.
        """
        for name in list(self._feeds):
            self.publish(name)
        now = self.clock.seconds()
        for subscription in list(self.subscriptions):
            subscription.tick(now)

    def _unfollow(self, feed: _Feed) -> None:
        """
        Stop following C{feed}'s station (it is gone, or no one follows
        it).
        """
        if self._feeds.get(feed.mount.name) is feed:
            del self._feeds[feed.mount.name]
        if feed.observer in feed.mount.on_track_change:
            feed.mount.on_track_change.remove(feed.observer)

    def forget(self, subscription: Subscription) -> None:
        """
        A stream ended: stop following the stations it was the last to
        follow, and stop the checks when it was the last of all.
        """
        if subscription not in self.subscriptions:
            return
        self.subscriptions.discard(subscription)
        for feed in list(self._feeds.values()):
            if feed.followers.pop(subscription, None) is not None and not feed.followers:
                self._unfollow(feed)
        self._log.debug(
            "Live updates {subscription} to {peer} closed ({count} open)",
            subscription=subscription.id,
            peer=subscription.peer,
            count=len(self.subscriptions),
        )
        if not self.subscriptions and self._loop.running:
            self._loop.stop()

    def close(self) -> None:
        """
        End every stream, telling each client that the server shuts down,
        as Centrifugo does.
        """
        farewell = format_event(to_json({"disconnect": {"code": 3001, "reason": "shutdown"}}))
        for subscription in list(self.subscriptions):
            subscription.end(farewell)


def attach_nowplaying(site: StationSite, factory: RadioFactory, clock: IReactorTime) -> LiveUpdates:
    """
    Put the now-playing documents at L{NOWPLAYING_PATH} and the live
    updates at L{LIVE_PATH} on C{site}.

    @param site: the station's site.
    @param factory: the stream server's factory.
    @param clock: the station's clock.
    @return: the live updates, to L{LiveUpdates.close} when the station
        stops.
    """
    stations = Stations(clock, factory)
    attach(site, NOWPLAYING_PATH, NowPlayingList(factory, stations))
    updates = LiveUpdates(clock, factory, stations)
    attach(site, LIVE_PATH, updates)
    return updates
