# -*- test-case-name: tests.web.test_nowplaying,tests.web.test_nowplaying_e2e -*-
"""
Now playing in AzuraCast's form, for the widgets, apps, bots and
scrobblers written against AzuraCast's public API.

Each mount the configuration lists is one I{station} (its ladder's rungs
are that station's other mounts; mounts that exist only while a live
source is connected are not stations).  A station is named by its
I{shortcode}, its mount's name without the leading slash and with any
other slash turned to C{_}, or by its number, its place in the
configuration counted from 1.  A hidden mount (its C{hidden} setting) is
no station: it is left off the list, and its shortcode and number are
answered as unknown ones.

  - L{NOWPLAYING_PATH}: every station's now-playing document, a JSON list
    (L{NowPlayingList});
  - L{NOWPLAYING_PATH}C{/<shortcode>}: one station's, or C{404}
    (L{StationNowPlaying});
  - L{LIVE_PATH}C{?cf_connect=<json>}: AzuraCast's high-performance
    updates (L{radiod.web.nowplaying_sse}): a C{pub} message whenever a
    station changes (a new track or track up next, a live source coming
    or going, the listener count, its going on or off the air).

The documents are built by L{Stations} from the mounts, the live sources
and the programmes as they are when asked: nothing is kept but when each
live source connected.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote

from twisted.internet.interfaces import IReactorTime
from twisted.web.resource import IResource

from radiod.audio.track import TrackInfo, art_path
from radiod.broadcast.mount import Mount
from radiod.hls.output import rendition_name
from radiod.ingest.source import SourceConnection
from radiod.library.playlist import stream_url
from radiod.library.programme import Programme
from radiod.web.site import (
    JSON_CONTENT_TYPE,
    StationRequest,
    StationResource,
    refuse_json,
)
from radiod.wire.server import RadioFactory
from radiod.wire.stream import CORS

__all__ = [
    "HISTORY_ITEMS",
    "LIVE_PATH",
    "MAX_STREAMS",
    "NOWPLAYING_PATH",
    "OFFLINE_SONG_ID",
    "OFFLINE_TEXT",
    "PING",
    "STALL",
    "TICK",
    "NowPlayingList",
    "Station",
    "StationNowPlaying",
    "Stations",
    "shortcode",
    "song_art",
    "song_id",
    "to_json",
]

NOWPLAYING_PATH = "/api/nowplaying"
"""
Where the now-playing documents are served.
"""

LIVE_PATH = "/api/live/nowplaying/sse"
"""
Where the live updates are served.
"""

HISTORY_ITEMS = 5
"""
How many tracks played before the current one a document lists
(AzuraCast's default).
"""

OFFLINE_TEXT = "Station Offline"
"""
What a station off the air is said to play, as AzuraCast says it.
"""

OFFLINE_SONG_ID = "5a6a865199cf5df73b1417326d2ff24f"
"""
AzuraCast's identifier of L{OFFLINE_TEXT}, which is also that of a song
with no text.
"""

FORMAT = "mp3"
"""
The format of every mount, in AzuraCast's words.
"""

SOFTWARE = "radiod"
"""
The station's C{frontend} and C{backend}.
"""

TICK = 5.0
"""
Seconds between two checks of the stations followed for changes not
announced by an event (the listener count, the track up next).
"""

PING = 25
"""
Seconds of silence after which a live update stream gets a ping (the
interval Centrifugo announces in its C{connect} reply).
"""

STALL = 60.0
"""
Seconds a client may go without reading its live updates before it is
disconnected.
"""

MAX_STREAMS = 1000
"""
The most live update streams one process serves at once.
"""

MAX_CONNECT = 4096
"""
The longest C{cf_connect} taken, in characters.
"""

MAX_SUBS = 32
"""
The most channels one stream may follow.
"""

CHANNEL_PREFIX = "station:"
"""
The namespace of a station's channel: C{station:<shortcode>}.
"""

_HASH_DROPPED = frozenset(" -\"'\n\t\r")
_SURROGATES = re.compile("[\ud800-\udfff]")


# Values


def shortcode(name: str) -> str:
    """
    The shortcode of the station a mount is: its name without the
    leading slash, any other slash turned to C{_} (C{/live/main} is
    C{live_main}).
    """
    return name.lstrip("/").replace("/", "_")


def song_id(text: str) -> str:
    """
    A song's identifier as AzuraCast computes it from its text
    (C{"Artist - Title"}): the MD5, in hex, of its first 150 characters
    lower-cased, without spaces, dashes, quotes, tabs or line breaks (so
    that small differences in how a title was relayed do not matter).
    Text left empty gives L{OFFLINE_SONG_ID}.
    """
    kept = "".join(char for char in text[:150] if char not in _HASH_DROPPED)
    if not kept:
        return OFFLINE_SONG_ID
    data = kept.lower().encode("utf-8", "surrogatepass")
    return hashlib.md5(data, usedforsecurity=False).hexdigest()


def song_art(mount: Mount, track: TrackInfo | None, root: str) -> str:
    """
    The URL of the artwork shown with C{track} on C{mount}, or C{""} while
    there is none to show.

    @param mount: the station's mount.
    @param track: the track, or C{None} for the song shown while the
        station is off the air.
    @param root: the absolute URL of the site's root, as the asking client
        reached it, ending with C{/} (C{http://radio.example/}).
    @return: the absolute URL of its cover (under the station's
        C{public_url} when it has one), of the station's default picture
        when it has none, or C{""}.
    """
    if track is None:
        return ""
    path = art_path(track, bool(mount.config.default_art))
    if not path:
        return ""
    base = mount.config.public_url or root
    return base.rstrip("/") + path


def _artist_and_title(track: TrackInfo) -> tuple[str, str]:
    """
    The artist and title of C{track}: a live title with no artist is
    split at its first C{" - "}, as encoders send C{Artist - Title}.
    """
    if track.path or track.artist or " - " not in track.title:
        return track.artist, track.title
    artist, _, title = track.title.partition(" - ")
    return artist, title


def _seconds(value: float) -> float:
    """
    A duration, 0 when unknown or not finite.
    """
    return value if math.isfinite(value) and value > 0 else 0.0


def _song(mount: Mount, root: str, track: TrackInfo | None) -> dict[str, Any]:
    """
    A song as AzuraCast describes one: C{track}, or L{OFFLINE_TEXT} for
    C{None} (C{root} as L{song_art} takes it).
    """
    if track is None:
        artist, title, album = "", OFFLINE_TEXT, ""
    else:
        artist, title = _artist_and_title(track)
        album = track.album
    text = f"{artist} - {title}" if artist else title
    return {
        "text": text,
        "artist": artist,
        "title": title,
        "album": album,
        "genre": "",
        "isrc": "",
        "lyrics": "",
        "id": song_id(text),
        "art": song_art(mount, track, root),
        "custom_fields": [],
    }


def _sh_id(started: float) -> int:
    """
    The identifier of one play: the millisecond it started at, which no
    two plays on one mount share.
    """
    return int(started * 1000)


def _played(
    mount: Mount, root: str, track: TrackInfo, started: float, streamer: str
) -> dict[str, Any]:
    """
    One play of C{track} as AzuraCast's song history lists it.
    """
    return {
        "sh_id": _sh_id(started),
        "played_at": int(started),
        "duration": round(_seconds(track.duration)),
        "playlist": "",
        "streamer": streamer,
        "is_request": track.requested,
        "song": _song(mount, root, track),
    }


def _offline(mount: Mount, root: str) -> dict[str, Any]:
    """
    What a station off the air is said to play, as AzuraCast says it.
    """
    return {
        "sh_id": 0,
        "played_at": 0,
        "duration": 0,
        "playlist": None,
        "streamer": None,
        "is_request": False,
        "song": _song(mount, root, None),
        "elapsed": 0,
        "remaining": 0,
    }


def _listeners(total: int, unique: int) -> dict[str, int]:
    """
    Listener counts as AzuraCast gives them (C{current} is C{total}).
    """
    return {"total": total, "unique": unique, "current": total}


def _address(peer: str) -> str:
    """
    The address of a listener named C{host:port}, C{[v6]:port}, or by an
    address alone.
    """
    if peer.startswith("["):
        return peer[1:].partition("]")[0]
    if peer.count(":") == 1:
        return peer.partition(":")[0]
    return peer


def _addresses(mounts: Iterable[Mount]) -> set[str]:
    """
    The addresses of the listeners connected to C{mounts}.
    """
    return {_address(listener.peer) for mount in mounts for listener in mount.listeners}


def to_json(value: Any) -> str:
    """
    Compact JSON, any lone surrogate in its text replaced (UTF-8 cannot
    carry one).
    """
    return _SURROGATES.sub("\ufffd", json.dumps(value, ensure_ascii=False, separators=(",", ":")))


# Stations


@dataclass(frozen=True)
class Station:
    """
    One station: a configured mount and its rungs, as they are now.

    @ivar id: its place in the configuration, from 1.
    @ivar mount: its mount.
    @ivar rungs: the rungs of its mount's ladder that exist, with their
        configured bitrates, in the ladder's order.
    """

    id: int
    mount: Mount
    rungs: tuple[tuple[Mount, int], ...] = ()

    @property
    def shortcode(self) -> str:
        """
        Its shortcode (see L{shortcode}).
        """
        return shortcode(self.mount.name)

    @property
    def members(self) -> tuple[Mount, ...]:
        """
        Its mount, then its rungs.
        """
        return (self.mount, *(rung for rung, _ in self.rungs))


@dataclass
class _Live:
    """
    A live source on a station's mount, and when it connected.
    """

    source: SourceConnection
    since: float


class Stations:
    """
    The station's mounts as AzuraCast stations, and their now-playing
    documents.

    @ivar on_live: called with a mount's name when a live source connects
        to it or leaves it.
    """

    def __init__(self, clock: IReactorTime, factory: RadioFactory) -> None:
        """
        @param clock: the time source (when live sources connect, how far
            tracks have played).
        @param factory: the stream server's factory: its configuration,
            mounts and live sources.
        """
        self._clock = clock
        self._factory = factory
        self._live: dict[str, _Live] = {}
        self.on_live: list[Callable[[str], None]] = []
        if factory.sources is not None:
            factory.sources.on_connect.append(self._connected)

    def _connected(self, source: SourceConnection) -> None:
        self._live[source.mount] = _Live(source, self._clock.seconds())
        source.on_end.append(self._ended)
        self._tell(source.mount)

    def _ended(self, source: SourceConnection) -> None:
        live = self._live.get(source.mount)
        if live is not None and live.source is source:
            del self._live[source.mount]
        self._tell(source.mount)

    def _tell(self, name: str) -> None:
        for observer in list(self.on_live):
            observer(name)

    def all(self) -> list[Station]:
        """
        Every station, in the configuration's order, but for hidden
        mounts (which keep their numbers, unused meanwhile).
        """
        found = []
        mounts = self._factory.mounts
        for index, config in enumerate(self._factory.config.mounts, 1):
            mount = mounts.get(config.name)
            if mount is None or mount.config.hidden:
                continue
            rungs = []
            for name, kbps in zip(config.rung_names, config.ladder, strict=False):
                rung = mounts.get(name)
                if rung is not None:
                    rungs.append((rung, kbps))
            found.append(Station(index, mount, tuple(rungs)))
        return found

    def find(self, key: str) -> Station | None:
        """
        The station named C{key}: its shortcode, else its number.
        """
        stations = self.all()
        for station in stations:
            if station.shortcode == key:
                return station
        if key.isdigit() and key.isascii():
            for station in stations:
                if station.id == int(key):
                    return station
        return None

    def of(self, name: str) -> Station | None:
        """
        The station whose mount is named C{name}, if it is one.
        """
        for station in self.all():
            if station.mount.name == name:
                return station
        return None

    def _url(self, host: str | None, path: str) -> str:
        """
        The absolute URL of C{path} as a client asking with C{host} reached
        the server (see L{stream_url}).
        """
        config = self._factory.config
        interface = config.interface
        default = interface if interface not in ("", "0.0.0.0", "::") else "localhost"
        return stream_url(host, default, config.port, path)

    def describe(self, station: Station, host: str | None) -> dict[str, Any]:
        """
        The now-playing document of C{station}, in AzuraCast's shape.

        @param station: the station.
        @param host: the asking request's C{Host}, for the URLs.
        @return: a JSON-ready dictionary: C{station}, C{listeners},
            C{live}, C{now_playing}, C{playing_next}, C{song_history},
            C{is_online} and C{cache}.
        """
        now = self._clock.seconds()
        mount = station.mount
        members = station.members
        total = sum(member.audience for member in members)
        live = self._describe_live(mount)
        online = mount.available and mount.now_playing is not None
        root = self._url(host, "/")
        now_playing = _offline(mount, root)
        history = list(mount.history)
        current = mount.now_playing
        if online and current is not None:
            streamer = live["streamer_name"] if live["is_live"] and not current.path else ""
            now_playing = _played(mount, root, current, mount.track_started, streamer)
            duration = now_playing["duration"]
            elapsed = max(0, int(now) - now_playing["played_at"])
            remaining = 0
            if duration:
                elapsed = min(elapsed, duration)
                remaining = duration - elapsed
            now_playing["elapsed"] = elapsed
            now_playing["remaining"] = remaining
            if history and history[0][0] is current and history[0][1] == mount.track_started:
                history = history[1:]
        return {
            "station": self._describe_station(station, host),
            "listeners": _listeners(total, len(_addresses(members))),
            "live": live,
            "now_playing": now_playing,
            "playing_next": self._describe_next(mount, root) if online else None,
            "song_history": [
                _played(mount, root, track, started, "")
                for track, started in history[:HISTORY_ITEMS]
            ],
            "is_online": online,
            "cache": None,
        }

    def _describe_station(self, station: Station, host: str | None) -> dict[str, Any]:
        """
        The C{station} part of a document: what the station is called,
        its URLs, and its mounts with their listeners.
        """
        mount = station.mount
        config = mount.config
        mounts = []
        members = ((mount, config.bitrate or mount.audio.bitrate), *station.rungs)
        for index, (member, kbps) in enumerate(members, 1):
            label = f"{kbps}kbps {FORMAT.upper()}" if kbps else FORMAT.upper()
            mounts.append(
                {
                    "id": index,
                    "name": f"{member.name} ({label})",
                    "url": self._url(host, member.name),
                    "bitrate": kbps or None,
                    "format": FORMAT,
                    "listeners": _listeners(member.audience, len(_addresses([member]))),
                    "path": member.name,
                    "is_default": member is mount,
                }
            )
        hls = config.hls
        return {
            "id": station.id,
            "name": config.station_name,
            "shortcode": station.shortcode,
            "description": config.description,
            "frontend": SOFTWARE,
            "backend": SOFTWARE,
            "timezone": self._factory.config.timezone,
            "listen_url": self._url(host, mount.name),
            "url": config.url or None,
            "public_player_url": self._url(host, mount.name + "/"),
            "playlist_pls_url": self._url(host, mount.name + ".pls"),
            "playlist_m3u_url": self._url(host, mount.name + ".m3u"),
            "is_public": config.public,
            "requests_enabled": config.requests,
            "mounts": mounts,
            "remotes": [],
            "hls_enabled": hls,
            "hls_is_default": False,
            "hls_url": self._url(host, f"/hls/{rendition_name(mount)}/index.m3u8") if hls else None,
            "hls_listeners": sum(member.hls_listeners for member in station.members),
        }

    def _describe_live(self, mount: Mount) -> dict[str, Any]:
        """
        The C{live} part of a document: whether a live source is connected
        to C{mount}, its name, and when it connected.
        """
        live = self._live.get(mount.name)
        sources = self._factory.sources
        source = sources.connected.get(mount.name) if sources is not None else None
        if source is None:
            return {"is_live": False, "streamer_name": "", "broadcast_start": None, "art": None}
        since = live.since if live is not None and live.source is source else None
        return {
            "is_live": True,
            "streamer_name": source.info.name,
            "broadcast_start": int(since) if since is not None else None,
            "art": None,
        }

    def _describe_next(self, mount: Mount, root: str) -> dict[str, Any] | None:
        """
        The track the programme of C{mount} plays next, while it is on
        the air; else C{None}.
        """
        switch = mount.switch
        if switch is None or switch.on_air:
            return None
        programme: object = switch.playlist
        if not isinstance(programme, Programme):
            return None
        following = programme.next_track()
        if following is None:
            return None
        current = mount.now_playing
        length = _seconds(current.duration) if current is not None else 0.0
        return {
            "cued_at": int(mount.track_started),
            "played_at": int(mount.track_started + length) if length else None,
            "duration": float(_seconds(following.duration)),
            "playlist": "",
            "is_request": following.requested,
            "song": _song(mount, root, following),
        }


# The JSON documents


def _answer(request: StationRequest, document: Any) -> bytes:
    """
    Answer with C{document} as JSON, never cached, readable by scripts on
    other sites.
    """
    request.setHeader("Content-Type", JSON_CONTENT_TYPE)
    request.setHeader("Cache-Control", "no-cache")
    for name, value in CORS:
        request.setHeader(name, value)
    return to_json(document).encode("utf-8")


def _not_found(request: StationRequest, factory: RadioFactory) -> bytes:
    """
    C{404}, its body AzuraCast's error document (with radiod's C{error}
    key besides).
    """
    refuse_json(request, factory, 404, "Record not found")
    return to_json(
        {
            "code": 404,
            "type": "NotFoundException",
            "message": "Record not found",
            "formatted_message": "Record not found",
            "extra_data": [],
            "success": False,
            "error": "Record not found",
        }
    ).encode("utf-8")


class NowPlayingList(StationResource):
    """
    L{NOWPLAYING_PATH}: every station's document, in a list; and, below
    it, each station's own (L{StationNowPlaying}).
    """

    def __init__(self, factory: RadioFactory, stations: Stations) -> None:
        super().__init__(factory)
        self._stations = stations

    def getChild(self, path: bytes, request: StationRequest) -> IResource:
        """
        The document of the station C{path} names (the list again for an
        empty name, as C{/api/nowplaying/} asks).
        """
        if not path and not request.postpath:
            return self
        key = unquote(path.decode("latin-1"), errors="replace")
        return StationNowPlaying(self.factory, self._stations, key)

    def render_GET(self, request: StationRequest) -> bytes:
        host = request.header("Host")
        return _answer(
            request, [self._stations.describe(each, host) for each in self._stations.all()]
        )

    render_HEAD = render_GET


class StationNowPlaying(StationResource):
    """
    One station's document, or C{404} (for an unknown station, or any
    path below a station).
    """

    isLeaf = True

    def __init__(self, factory: RadioFactory, stations: Stations, key: str) -> None:
        """
        @param key: the station's shortcode or number, as asked.
        """
        super().__init__(factory)
        self._stations = stations
        self._key = key

    def render_GET(self, request: StationRequest) -> bytes:
        station = self._stations.find(self._key) if not request.postpath else None
        if station is None:
            return _not_found(request, self.factory)
        return _answer(request, self._stations.describe(station, request.header("Host")))

    render_HEAD = render_GET


# Live updates
