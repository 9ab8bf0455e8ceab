# -*- test-case-name: tests.web.test_events,tests.web.test_hidden -*-
"""
Live updates for the station page: a Server-Sent Events stream per
client, at L{EVENTS_PATH}C{?mount=/stream}.

A stream starts with a C{snapshot} event describing the mount (station,
now playing, up next, listeners, recently played, and how far behind the
head of the stream a player that connects hears it, see
L{burst_seconds}); then a C{track} event, with the same fields, whenever
a new track reaches the head of the mount's stream (a new file, or a live
source's new title); a C{next} event when
the track up next has changed otherwise (a track queued, say) and a
C{listeners} event when the listener count has changed, both checked
every L{TICK} seconds; a comment at
least every L{KEEPALIVE} seconds so that proxies keep the connection
open; and a C{gone} event, after which the stream ends, when a live mount
is removed.

Event streams are not listeners: they are not counted as such, and their
number is capped separately (L{MAX_STREAMS}).

A hidden mount (its C{hidden} setting) is followed when asked for by
name, but the mounts an event lists for the page's picker leave it out
unless it is the one followed (L{listed_mounts}), and a stream that names
no mount follows the first mount that is not hidden.

A stream is the body of the answer to a C{GET}, written as events happen:
the site answers in HTTP/1.0 with no C{Content-Length}, so the body is not
chunked and runs until the connection closes.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from functools import partial
from itertools import count
from typing import Any

from twisted.internet.interfaces import IPushProducer, IReactorTime
from twisted.internet.task import LoopingCall
from twisted.logger import Logger
from twisted.web.resource import IResource
from twisted.web.server import NOT_DONE_YET
from zope.interface import implementer

from radiod.audio.track import TrackInfo, art_path
from radiod.broadcast.mount import Mount
from radiod.ingest.stream import StreamInfo
from radiod.library.programme import Programme
from radiod.web.site import Refusal, StationRequest, StationResource, refuse
from radiod.web.sse import CONTENT_TYPE, format_comment, format_event
from radiod.wire.server import RadioFactory

__all__ = [
    "EVENTS_PATH",
    "KEEPALIVE",
    "MAX_STREAMS",
    "RECENT",
    "RETRY",
    "TICK",
    "EventStream",
    "EventStreams",
    "burst_seconds",
    "describe_mount",
    "describe_next",
    "describe_track",
    "listed_mounts",
    "up_next",
]

EVENTS_PATH = "/api/v1/events"
"""
Where the event streams are served.
"""

MAX_STREAMS = 1000
"""
The most event streams one process serves at once.
"""

TICK = 5.0
"""
Seconds between two checks of the listener counts (and of live mounts
that were removed).
"""

KEEPALIVE = 15.0
"""
The longest a stream stays silent: after this many seconds without an
event it gets a comment.
"""

RETRY = 5000
"""
Milliseconds a client waits before reconnecting a stream that ended.
"""

RECENT = 10
"""
How many previously played tracks an event lists.
"""

_HEADERS = [
    ("Content-Type", CONTENT_TYPE),
    ("Cache-Control", "no-cache"),
    ("X-Accel-Buffering", "no"),
    ("Access-Control-Allow-Origin", "*"),
]


def _split_live_title(track: TrackInfo) -> tuple[str, str]:
    """
    The artist and title to show: a live title with no artist of its own
    is split at the first C{" - "}, the way encoders send C{Artist - Title}.
    """
    if track.path or track.artist or " - " not in track.title:
        return track.artist, track.title
    artist, _, title = track.title.partition(" - ")
    return artist, title


def describe_track(track: TrackInfo, started: float, default_art: bool = False) -> dict[str, Any]:
    """
    A track as events carry it.

    @param track: the track.
    @param started: the clock time it reached the head of the stream.
    @param default_art: whether the station has a default picture.
    @return: C{title}, C{artist}, C{album}, C{duration} (seconds, 0 when
        unknown), C{stream_title} (as ICY listeners see it), C{live}
        (whether it is live audio rather than a file), C{started} and
        C{art} (the path of its cover art, see
        L{radiod.audio.track.art_path}, or C{None}).
    """
    artist, title = _split_live_title(track)
    return {
        "title": title,
        "artist": artist,
        "album": track.album,
        "duration": track.duration,
        "stream_title": track.stream_title,
        "live": not track.path,
        "started": started,
        "art": art_path(track, default_art) or None,
    }


def describe_next(track: TrackInfo | None, default_art: bool = False) -> dict[str, Any] | None:
    """
    The track up next, as events carry it.

    @param track: the track, or C{None} when it is not known.
    @param default_art: whether the station has a default picture.
    @return: C{title}, C{artist}, C{album}, C{duration} (seconds, 0 when
        unknown), C{requested} (whether a listener asked for it) and
        C{art} (as L{describe_track} gives it); or C{None}.
    """
    if track is None:
        return None
    return {
        "title": track.title,
        "artist": track.artist,
        "album": track.album,
        "duration": track.duration,
        "requested": track.requested,
        "art": art_path(track, default_art) or None,
    }


def up_next(mount: Mount) -> TrackInfo | None:
    """
    The track expected to follow the one playing on C{mount}: its
    programme's next track (L{Programme.next_track}) while the programme
    is on air; C{None} while live audio is, or when the mount plays no
    library.
    """
    switch = mount.switch
    if switch is None or switch.on_air:
        return None
    programme: object = switch.playlist
    return programme.next_track() if isinstance(programme, Programme) else None


def burst_seconds(mount: Mount) -> tuple[float, float] | None:
    """
    How far behind the head of C{mount}'s stream a player that connects
    plays: the audio it is sent at once on connecting, in seconds at the
    mount's bitrate.

    A listener starts with the mount's C{burst_size} bytes of recent audio
    (from the first chunk boundary within them), or with all the audio the
    mount holds while that is less (just after it started), then follows
    the head; so it hears each moment of the stream that long after it
    reached the head, plus its player's own buffering.

    @param mount: the mount.
    @return: the burst of a player connecting now, and the full burst
        (C{burst_size}), which the first grows to at a second per second
        of audio the mount airs; or C{None} before any audio (the bitrate
        is not known).
    """
    rate = mount.audio.bitrate * 1000 / 8
    if rate <= 0:
        return None
    size = max(0, mount.config.burst_size)
    return min(size, len(mount.buffer)) / rate, size / rate


def listed_mounts(mounts: Iterable[Mount], shown: Mount | None = None) -> list[Mount]:
    """
    The mounts the station page offers, in the station's order: those
    that are not hidden, and C{shown}, the one a page shows, whatever its
    setting (its listeners reached it by its address).
    """
    return [each for each in mounts if not each.config.hidden or each is shown]


def _rounded(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds, 3)


def describe_mount(
    mount: Mount,
    mounts: list[Mount],
    info: StreamInfo | None,
    now: float,
    following: TrackInfo | None = None,
    default_art: bool = False,
) -> dict[str, Any]:
    """
    Everything the station page shows about a mount, as a C{snapshot}
    (and C{track}) event carries it.

    @param mount: the mount described.
    @param mounts: the mounts the page's picker offers (see
        L{listed_mounts}).
    @param info: what a live source on the mount says about its stream
        (its name and description replace the configured ones), or
        C{None}.
    @param now: the clock's time.
    @param following: the track up next (see L{up_next}), or C{None}
        when it is not known.
    @param default_art: whether the station has a default picture, shown
        with tracks that have no cover art of their own.
    @return: a JSON-ready dictionary: C{mount}, C{station} (C{name},
        C{description}, C{genre}, C{url}), C{now_playing} (see
        L{describe_track}; C{None} before the first audio), C{next} (see
        L{describe_next}; C{None} when not known), C{listeners},
        C{recent} (up to L{RECENT} tracks played before, newest first),
        C{mounts} (C{name} and C{station} of each of C{mounts}),
        C{stream}, C{m3u}, C{pls} (the paths to listen with),
        C{burst_seconds} and C{full_burst_seconds} (see L{burst_seconds};
        C{None} before any audio) and C{time} (the clock's time, to tell
        how long ago C{started} was, and when C{burst_seconds} was
        right).
    """
    config = mount.config
    info = info or StreamInfo()
    history = list(mount.history)
    now_playing = None
    if mount.now_playing is not None:
        now_playing = describe_track(mount.now_playing, mount.track_started, default_art)
        if history and history[0][0] is mount.now_playing:
            history = history[1:]
    burst, full_burst = burst_seconds(mount) or (None, None)
    return {
        "mount": mount.name,
        "station": {
            "name": info.name or config.station_name,
            "description": info.description or config.description,
            "genre": info.genre or config.genre,
            "url": info.url or config.url,
        },
        "now_playing": now_playing,
        "next": describe_next(following, default_art),
        "listeners": mount.audience,
        "recent": [
            describe_track(track, started, default_art) for track, started in history[:RECENT]
        ],
        "mounts": [{"name": each.name, "station": each.config.station_name} for each in mounts],
        "stream": mount.name,
        "m3u": mount.name + ".m3u",
        "pls": mount.name + ".pls",
        "burst_seconds": _rounded(burst),
        "full_burst_seconds": _rounded(full_burst),
        "time": now,
    }


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


@implementer(IPushProducer)
class EventStream:
    """
    One client's event stream on one mount: the producer of its request's
    body, registered with the request so that a client that does not read
    pauses it.

    While the client does not read, events are not written; when it reads
    again it gets a fresh C{snapshot} instead.

    @ivar id: a number naming the stream in logs.
    @ivar mount: the mount followed.
    @ivar request: the client's request, answered with the stream.
    @ivar peer: the client, as logs name it.
    @ivar listeners: the listener count last sent.
    @ivar next: the track up next last sent (as L{describe_next} gives
        it).
    @ivar last_write: the clock time of the last write.
    @ivar paused: whether the connection asked us to stop writing.
    @ivar missed: whether an event was not written while paused.
    @ivar closed: whether the stream has ended.
    """

    _ids = count(1)

    def __init__(
        self,
        streams: EventStreams,
        mount: Mount,
        request: StationRequest,
    ) -> None:
        """
        @param streams: the streams this one belongs to.
        @param mount: the mount to follow.
        @param request: the client's request, its response headers set.
        """
        self.id = next(self._ids)
        self._streams = streams
        self.mount = mount
        self.request = request
        self.peer = request.peer_name
        self.listeners = -1
        self.next: dict[str, Any] | None = None
        self.last_write = 0.0
        self.paused = False
        self.missed = False
        self.closed = False

    def _write(self, data: bytes) -> None:
        if self.closed:
            return
        if self.paused:
            self.missed = True
            return
        self.request.write(data)
        self.last_write = self._streams.clock.seconds()

    def send(self, event: bytes, state: Mapping[str, Any]) -> None:
        """
        Send a C{snapshot} or C{track} event.

        @param event: the framed event.
        @param state: what it carries (see L{describe_mount}).
        """
        self.listeners = state["listeners"]
        self.next = state["next"]
        self._write(event)

    def tick(self, now: float, listeners: int, following: dict[str, Any] | None = None) -> None:
        """
        Send the track up next if it changed, and the listener count if
        it changed; or a keep-alive comment if nothing was sent for
        L{EventStreams.keepalive} seconds.

        @param now: the clock's time.
        @param listeners: the mount's listener count now.
        @param following: the mount's track up next now (as
            L{describe_next} gives it).
        """
        if following != self.next:
            self.next = following
            self._write(format_event(_json({"next": following}), event="next"))
        if listeners != self.listeners:
            self.listeners = listeners
            self._write(format_event(_json({"listeners": listeners}), event="listeners"))
        elif now - self.last_write >= self._streams.keepalive:
            self._write(format_comment())

    def end(self, farewell: bytes = b"") -> None:
        """
        Stop following the mount and finish the response (the connection
        then closes).

        @param farewell: a last event to send first.
        """
        if self.closed:
            return
        if farewell:
            self._write(farewell)
        self.close()
        self.request.unregisterProducer()
        self.request.finish()

    def close(self) -> None:
        """
        Stop following the mount and forget this stream (the response is
        finished, or its client gone).
        """
        if self.closed:
            return
        self.closed = True
        self._streams.forget(self)

    # IPushProducer

    def pauseProducing(self) -> None:
        """
        The client is not reading: hold events back.
        """
        self.paused = True

    def resumeProducing(self) -> None:
        """
        The client reads again: bring it up to date if it missed events.
        """
        self.paused = False
        if self.missed and not self.closed:
            self.missed = False
            self.send(*self._streams.encode(self.mount, "snapshot"))

    def stopProducing(self) -> None:
        """
        The connection is gone.
        """
        self.close()


class EventStreams(StationResource):
    """
    The resource at L{EVENTS_PATH}, and every event stream it has open.

    Each mount with streams open has one observer in its
    C{on_track_change}, which frames the C{track} event once for all of
    them; the observer is removed when the mount's last stream ends.  One
    shared check runs every C{tick} seconds while any stream is open.

    @ivar streams: the open streams.
    @ivar clock: the time source.
    @ivar max_streams: the most streams open at once; more are refused
        with 503.
    @ivar keepalive: the longest a stream stays silent, in seconds.
    @ivar refused: streams refused for the limit.
    """

    _log = Logger()

    def __init__(
        self,
        clock: IReactorTime,
        factory: RadioFactory,
        max_streams: int = MAX_STREAMS,
        tick: float = TICK,
        keepalive: float = KEEPALIVE,
    ) -> None:
        """
        @param clock: the time source for the periodic checks.
        @param factory: the station's server factory (its mounts and
            sources).
        @param max_streams: the most streams open at once.
        @param tick: seconds between checks of the listener counts.
        @param keepalive: the longest silence on a stream, in seconds.
        """
        super().__init__(factory)
        self.clock = clock
        self.max_streams = max_streams
        self.keepalive = keepalive
        self.refused = 0
        self.streams: set[EventStream] = set()
        self._followers: dict[Mount, set[EventStream]] = {}
        self._observers: dict[Mount, Callable[[TrackInfo], None]] = {}
        self._tick = tick
        self._loop = LoopingCall(self._check)
        self._loop.clock = clock

    def getChild(self, path: bytes, request: StationRequest) -> IResource:
        """
        Nothing is below the event streams.
        """
        return Refusal(self.factory)

    def describe(self, mount: Mount) -> dict[str, Any]:
        """
        The snapshot of C{mount} now (see L{describe_mount}).
        """
        sources = self.factory.sources
        info = sources.info_for(mount.name) if sources is not None else None
        mounts = listed_mounts(self.factory.mounts.values(), mount)
        default_art = bool(self.factory.config.default_art)
        return describe_mount(
            mount, mounts, info, self.clock.seconds(), up_next(mount), default_art
        )

    def encode(
        self, mount: Mount, event: str, retry: int | None = None
    ) -> tuple[bytes, dict[str, Any]]:
        """
        Frame the state of C{mount} as an event.

        @return: the framed event, and the state it carries.
        """
        state = self.describe(mount)
        return format_event(_json(state), event=event, retry=retry), state

    def _choose(self, request: StationRequest) -> Mount | bytes:
        """
        The mount a request asks to follow, named by its C{mount} query
        parameter (without one, the first mount that is not hidden: the
        station page's own), its response headers set; or the body of its
        refusal: C{404} for an unknown mount (or no mount to show),
        C{503} for a stream beyond L{max_streams}.
        """
        names = request.text_args().get("mount")
        mounts = self.factory.mounts
        if names and names[0]:
            name = names[0] if names[0].startswith("/") else "/" + names[0]
            mount = mounts.get(name)
        else:
            mount = next(iter(listed_mounts(mounts.values())), None)
        if mount is None:
            return refuse(request, self.factory, 404, "No such mount")
        if len(self.streams) >= self.max_streams:
            self.refused += 1
            return refuse(
                request, self.factory, 503, "Too many event streams", [("Retry-After", "30")]
            )
        for header, value in _HEADERS:
            request.setHeader(header, value)
        return mount

    def render_HEAD(self, request: StationRequest) -> bytes:
        """
        The headers a stream would have, and no stream.
        """
        chosen = self._choose(request)
        return chosen if isinstance(chosen, bytes) else b""

    def render_GET(self, request: StationRequest) -> bytes | int:
        """
        Open an event stream: its body is written as events happen, until
        the client leaves or the stream ends.
        """
        mount = self._choose(request)
        if isinstance(mount, bytes):
            return mount
        stream = EventStream(self, mount, request)
        self.streams.add(stream)
        self._follow(stream)
        request.registerProducer(stream, True)
        request.notifyFinish().addBoth(lambda _: stream.close())
        stream.send(*self.encode(mount, "snapshot", retry=RETRY))
        if not self._loop.running:
            self._loop.start(self._tick, now=False)
        self._log.debug(
            "Event stream {stream} from {peer} opened on {mount} ({count} open)",
            stream=stream.id,
            peer=stream.peer,
            mount=mount.name,
            count=len(self.streams),
        )
        return NOT_DONE_YET

    def _follow(self, stream: EventStream) -> None:
        mount = stream.mount
        followers = self._followers.get(mount)
        if followers is None:
            followers = self._followers[mount] = set()
            observer = partial(self._track_changed, mount)
            self._observers[mount] = observer
            mount.on_track_change.append(observer)
        followers.add(stream)

    def _track_changed(self, mount: Mount, track: TrackInfo) -> None:
        """
        A new track reached the head of C{mount}: send its streams a
        C{track} event.
        """
        event, state = self.encode(mount, "track")
        for stream in list(self._followers.get(mount, ())):
            stream.send(event, state)

    def _check(self) -> None:
        """
        Give every stream the track up next and the listener count of its
        mount, where they changed (or a keep-alive); end the streams of
        mounts that were removed.
        """
        now = self.clock.seconds()
        for mount, followers in list(self._followers.items()):
            if self.factory.mounts.get(mount.name) is not mount:
                gone = format_event(_json({"mount": mount.name}), event="gone")
                for stream in list(followers):
                    stream.end(gone)
                continue
            listeners = mount.audience
            following = describe_next(up_next(mount), bool(self.factory.config.default_art))
            for stream in list(followers):
                stream.tick(now, listeners, following)

    def forget(self, stream: EventStream) -> None:
        """
        A stream ended: stop following its mount when it was the mount's
        last, and stop the checks when it was the last of all.
        """
        if stream not in self.streams:
            return
        self.streams.discard(stream)
        mount = stream.mount
        followers = self._followers.get(mount)
        if followers is not None:
            followers.discard(stream)
            if not followers:
                del self._followers[mount]
                observer = self._observers.pop(mount)
                if observer in mount.on_track_change:
                    mount.on_track_change.remove(observer)
        self._log.debug(
            "Event stream {stream} from {peer} closed ({count} open)",
            stream=stream.id,
            peer=stream.peer,
            count=len(self.streams),
        )
        if not self.streams and self._loop.running:
            self._loop.stop()

    def close(self) -> None:
        """
        End every stream (the station is stopping).
        """
        for stream in list(self.streams):
            stream.end()
