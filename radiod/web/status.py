# -*- test-case-name: tests.web.test_status -*-
"""
The station's status as values, and the status documents built from them.

A L{StationStatus} is a snapshot: plain values, taken at one moment (see
L{radiod.web.monitoring}).  The renderers here turn one into the bytes of a
reply, and do nothing else:

  - L{render_status_json}: Icecast 2.4's C{/status-json.xsl}, with its
    quirks (C{source} an object for one mount and a list for several,
    C{"dummy": null} closing each source);
  - L{render_admin_stats}: Icecast's C{/admin/stats} XML;
  - L{render_seven_html}, L{render_shoutcast_xml} and
    L{render_shoutcast_json}: SHOUTcast's C{/7.html} and C{/stats?sid=N};
  - L{render_api_status}: radiod's own versioned JSON (C{/api/v1/status}).

Icecast's HTML pages (C{/status.xsl}, C{/server_version.xsl}) are
L{radiod.web.statuspage}'s.  A mount whose configuration hides it is in
every snapshot; L{StationStatus.listed} is the snapshot the public sees.

Whatever the titles hold, the JSON is valid JSON and the XML well-formed:
text that JSON or XML cannot carry (lone surrogates; control characters,
in XML) is replaced with U+FFFD.  Times are POSIX seconds.
"""

from __future__ import annotations

import html
import json
import math
import re
import time
from collections.abc import Iterable
from dataclasses import dataclass, replace
from typing import Any

__all__ = [
    "API_VERSION",
    "SOURCE_KINDS",
    "MountStatus",
    "NowPlaying",
    "PlayedTrack",
    "StationStatus",
    "http_date",
    "icecast_iso8601",
    "iso8601",
    "render_admin_stats",
    "render_api_status",
    "render_seven_html",
    "render_shoutcast_json",
    "render_shoutcast_xml",
    "render_status_json",
]

API_VERSION = 1
"""
The version of L{render_api_status}'s document, in its C{api_version} key
and in its path.
"""

SOURCE_KINDS = ("playlist", "live", "relay", "none")
"""
What a mount can be playing: its playlist, a live source, its relay, or
nothing (a live-only mount between shows).
"""

_DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
# Characters XML 1.0 cannot carry at all, even escaped.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
_XML_WHITESPACE = {ord("\r"): "&#13;", ord("\n"): "&#10;", ord("\t"): "&#9;"}
_SURROGATES = re.compile("[\ud800-\udfff]")
_LINE_BREAKS = re.compile("[\x00-\x1f\x7f]")


@dataclass(frozen=True)
class PlayedTrack:
    """
    A track that played (or will play).

    @ivar artist: the artist, or C{""} when unknown.
    @ivar title: the title (for a live source, its whole stream title).
    @ivar started: when it started, or C{0.0} for a track still to come.
    @ivar requested: whether a listener asked for it.
    @ivar art: the path of the cover art shown with it (its own, or the
        station's default picture; see L{radiod.audio.track.art_path}),
        or C{""} when there is none.
    """

    artist: str
    title: str
    started: float = 0.0
    requested: bool = False
    art: str = ""

    @property
    def stream_title(self) -> str:
        """
        C{"Artist - Title"}, or the title alone without an artist.
        """
        return f"{self.artist} - {self.title}" if self.artist else self.title


@dataclass(frozen=True)
class NowPlaying(PlayedTrack):
    """
    The track at the head of a mount's stream.

    @ivar duration: its length in seconds, or C{None} when unknown (live).
    @ivar elapsed: seconds since it started.
    """

    duration: float | None = None
    elapsed: float = 0.0


@dataclass(frozen=True)
class MountStatus:
    """
    One mount, as the status documents describe it.

    @ivar name: the mount's path.
    @ivar listen_url: the stream's URL, as the asking client reached us.
    @ivar station_name: C{icy-name} (a live source's own, if it gave one).
    @ivar description: C{icy-description}.
    @ivar genre: C{icy-genre}.
    @ivar url: C{icy-url}.
    @ivar public: C{icy-pub}.
    @ivar hidden: whether the mount is left off the public status
        documents (its C{hidden} setting; see L{StationStatus.listed}).
    @ivar content_type: the stream's content type.
    @ivar bitrate: kbit/s of the newest audio, or 0 before any.
    @ivar sample_rate: samples per second, or 0 before any audio.
    @ivar channels: 1 or 2, or 0 before any audio.
    @ivar audio_info: the C{ice-audio-info} value listeners are sent.
    @ivar listeners: listeners connected now.
    @ivar peak_listeners: the most listeners connected at once.
    @ivar max_listeners: the listeners allowed, or 0 for no limit.
    @ivar unique_listeners: distinct addresses among the listeners.
    @ivar average_time: mean seconds the current listeners have listened.
    @ivar connections: listener connections since the station started.
    @ivar bytes_sent: audio bytes sent to listeners.
    @ivar bytes_read: bytes received from the live source on air, if any.
    @ivar slow_listeners: listeners dropped for falling behind.
    @ivar listener_delay: how many seconds after the head of the stream
        a listener connecting now hears it (its burst; see
        L{radiod.web.events.burst_seconds}), or C{None} before any audio.
    @ivar source: one of L{SOURCE_KINDS}.
    @ivar source_ip: the live source's address, or C{""}.
    @ivar stream_start: when this stream started (the station, or the
        live source now connected).
    @ivar now_playing: the track at the head of the stream, if any.
    @ivar next_up: the playlist's next track, when known.
    @ivar history: the tracks played, newest first, the current one too.
    """

    name: str
    listen_url: str
    station_name: str = ""
    description: str = ""
    genre: str = ""
    url: str = ""
    public: bool = False
    hidden: bool = False
    content_type: str = "audio/mpeg"
    bitrate: int = 0
    sample_rate: int = 0
    channels: int = 0
    audio_info: str = ""
    listeners: int = 0
    peak_listeners: int = 0
    max_listeners: int = 0
    unique_listeners: int = 0
    average_time: float = 0.0
    connections: int = 0
    bytes_sent: int = 0
    bytes_read: int = 0
    slow_listeners: int = 0
    listener_delay: float | None = None
    source: str = "playlist"
    source_ip: str = ""
    stream_start: float = 0.0
    now_playing: NowPlaying | None = None
    next_up: PlayedTrack | None = None
    history: tuple[PlayedTrack, ...] = ()

    @property
    def on_air(self) -> bool:
        """
        Whether the mount has audio playing.
        """
        return self.now_playing is not None


@dataclass(frozen=True)
class StationStatus:
    """
    The whole station at one moment.

    @ivar name: the station's name (its default mount's).
    @ivar host: the host name the asking client used for us.
    @ivar server_id: the server's name and version, C{radiod/0.1.0}.
    @ivar version: radiod's version.
    @ivar started: when the station started.
    @ivar now: when this snapshot was taken.
    @ivar mounts: the mounts, in configuration order (live-only mounts
        after them), hidden ones included (see L{listed}).
    @ivar listener_connections: listener connections since it started.
    @ivar source_connections: live source connections since it started.
    @ivar admin: the contact Icecast calls C{admin} (the station's
        C{admin_contact}); C{""} when none.
    @ivar location: the location Icecast calls C{location}; C{""} when none.
    """

    name: str
    host: str
    server_id: str
    version: str
    started: float
    now: float
    mounts: tuple[MountStatus, ...] = ()
    listener_connections: int = 0
    source_connections: int = 0
    admin: str = ""
    location: str = ""

    @property
    def listeners(self) -> int:
        """
        Listeners on every mount together.
        """
        return sum(mount.listeners for mount in self.mounts)

    def listed(self) -> StationStatus:
        """
        The station as the public sees it: the same snapshot without its
        hidden mounts (which Icecast leaves off its public status pages
        too), so that every count and list made from it leaves them out.
        """
        return replace(self, mounts=tuple(m for m in self.mounts if not m.hidden))

    @property
    def uptime(self) -> float:
        """
        Seconds since the station started.
        """
        return max(0.0, self.now - self.started)


# Times


def _utc(seconds: float) -> time.struct_time:
    return time.gmtime(max(0, int(seconds)))


def http_date(seconds: float) -> str:
    """
    A time the way Icecast writes C{server_start} and C{stream_start}:
    C{"Sat, 21 Nov 2026 04:26:41 +0000"} (always in UTC, English names
    whatever the locale).
    """
    t = _utc(seconds)
    return (
        f"{_DAYS[t.tm_wday]}, {t.tm_mday:02d} {_MONTHS[t.tm_mon - 1]} {t.tm_year} "
        f"{t.tm_hour:02d}:{t.tm_min:02d}:{t.tm_sec:02d} +0000"
    )


def icecast_iso8601(seconds: float) -> str:
    """
    A time the way Icecast writes C{server_start_iso8601}:
    C{"2026-11-21T04:26:41+0000"}.
    """
    return time.strftime("%Y-%m-%dT%H:%M:%S+0000", _utc(seconds))


def iso8601(seconds: float) -> str:
    """
    A time in ISO 8601 / RFC 3339 form, in UTC: C{"2026-11-21T04:26:41Z"}.
    """
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", _utc(seconds))


# Text


def _json_text(text: str) -> str:
    """
    C{text} with lone surrogates (which UTF-8 cannot carry) replaced.
    """
    return _SURROGATES.sub("\ufffd", text)


def _xml_text(text: str) -> str:
    """
    C{text} escaped for XML content or a double-quoted attribute, with the
    characters XML 1.0 cannot carry replaced.
    """
    escaped = html.escape(_NOT_XML.sub("\ufffd", text), quote=True)
    # As references, line ends and tabs survive a parser's normalisation.
    return escaped.translate(_XML_WHITESPACE)


def _one_line(text: str) -> str:
    """
    C{text} with line breaks and other control characters turned to spaces.
    """
    return _LINE_BREAKS.sub(" ", _json_text(text))


def _json(document: Any) -> bytes:
    return json.dumps(document, ensure_ascii=False, allow_nan=False).encode("utf-8")


def _seconds(value: float | None, digits: int = 3) -> float | None:
    """
    A number of seconds for JSON: rounded, or C{None} if not finite.
    """
    if value is None or not math.isfinite(value):
        return None
    return round(value, digits)


def _xml(elements: Iterable[tuple[str, object]]) -> str:
    return "".join(f"<{name}>{_xml_text(str(value))}</{name}>" for name, value in elements)


# Icecast


def _selected(status: StationStatus, mount: str | None) -> tuple[MountStatus, ...]:
    if mount is None:
        return status.mounts
    return tuple(m for m in status.mounts if m.name == mount)


def _icecast_title(mount: MountStatus) -> list[tuple[str, object]]:
    playing = mount.now_playing
    if playing is None:
        return []
    if playing.artist:
        return [("artist", playing.artist), ("title", playing.title)]
    return [("title", playing.title)]


def _icecast_source(mount: MountStatus) -> list[tuple[str, object]]:
    """
    The keys Icecast's public stats give a source, in Icecast's order
    (alphabetical), each present only when known.
    """
    fields: list[tuple[str, object]] = []
    title = _icecast_title(mount)
    if title and title[0][0] == "artist":
        fields.append(title.pop(0))
    if mount.bitrate:
        fields.append(("audio_info", mount.audio_info))
        fields.append(("bitrate", mount.bitrate))
        fields.append(("channels", mount.channels))
    fields += [
        ("genre", mount.genre),
        ("listener_peak", mount.peak_listeners),
        ("listeners", mount.listeners),
        ("listenurl", mount.listen_url),
    ]
    if mount.sample_rate:
        fields.append(("samplerate", mount.sample_rate))
    fields += [
        ("server_description", mount.description),
        ("server_name", mount.station_name),
        ("server_type", mount.content_type),
    ]
    if mount.url:
        fields.append(("server_url", mount.url))
    fields += [
        ("stream_start", http_date(mount.stream_start)),
        ("stream_start_iso8601", icecast_iso8601(mount.stream_start)),
    ]
    return fields + title


def _icecast_head(status: StationStatus) -> list[tuple[str, object]]:
    return [
        ("admin", status.admin),
        ("host", status.host),
        ("location", status.location),
        ("server_id", status.server_id),
        ("server_start", http_date(status.started)),
        ("server_start_iso8601", icecast_iso8601(status.started)),
    ]


def render_status_json(status: StationStatus, mount: str | None = None) -> bytes:
    """
    Icecast 2.4's C{/status-json.xsl}.

    The C{icestats} object holds C{source}: absent without mounts, the
    mount's object for one, a list of them for several, as Icecast gives
    it (consumers already cope with that).  Each source object ends with
    C{"dummy": null}, as Icecast's does.  Numbers are numbers and text is
    text, whatever it looks like.  Hidden mounts are left out, as Icecast
    leaves them out of its public statistics: asked for by name, a hidden
    mount is answered as an unknown one.

    @param status: the snapshot.
    @param mount: only this mount (Icecast's C{?mount=}); an unknown one
        leaves C{source} out.
    @return: UTF-8 JSON.
    """
    stats: dict[str, Any] = {key: _json_text(str(value)) for key, value in _icecast_head(status)}
    sources = []
    for each in _selected(status.listed(), mount):
        source: dict[str, Any] = {
            key: value if isinstance(value, int) else _json_text(str(value))
            for key, value in _icecast_source(each)
        }
        source["dummy"] = None
        sources.append(source)
    if len(sources) == 1:
        stats["source"] = sources[0]
    elif sources:
        stats["source"] = sources
    return _json({"icestats": stats})


def render_admin_stats(status: StationStatus, mount: str | None = None) -> bytes:
    """
    Icecast's C{/admin/stats}: the global counters, then a C{source}
    element per mount with the fields public stats hide (limits,
    slow listeners, bytes, the source's address).

    @param status: the snapshot.
    @param mount: only this mount's C{source} element.
    @return: the UTF-8 XML document.
    """
    head = _icecast_head(status)
    globals_: list[tuple[str, object]] = [
        *head[:2],
        ("listener_connections", status.listener_connections),
        ("listeners", status.listeners),
        *head[2:],
        ("source_client_connections", status.source_connections),
        ("source_total_connections", status.source_connections),
        ("sources", len(status.mounts)),
    ]
    parts = ['<?xml version="1.0"?>\n<icestats>', _xml(globals_)]
    for each in _selected(status, mount):
        fields = _icecast_source(each)
        fields += [
            ("max_listeners", each.max_listeners or "unlimited"),
            ("public", 1 if each.public else 0),
            ("slow_listeners", each.slow_listeners),
            ("total_bytes_read", each.bytes_read),
            ("total_bytes_sent", each.bytes_sent),
        ]
        if each.source_ip:
            fields.append(("source_ip", each.source_ip))
        ordered = sorted(fields, key=lambda item: item[0])
        parts.append(f'<source mount="{_xml_text(each.name)}">{_xml(ordered)}</source>')
    parts.append("</icestats>\n")
    return "".join(parts).encode("utf-8")


# SHOUTcast


def render_seven_html(mount: MountStatus) -> bytes:
    """
    SHOUTcast's C{/7.html}: C{current listeners, stream status, peak,
    maximum, unique listeners, bitrate, song title}, comma-separated in a
    bare HTML page.

    @param mount: the stream described.
    @return: the UTF-8 page.
    """
    playing = mount.now_playing
    title = html.escape(_one_line(playing.stream_title), quote=False) if playing else ""
    values = [
        mount.listeners,
        1 if mount.on_air else 0,
        mount.peak_listeners,
        mount.max_listeners,
        mount.unique_listeners,
        mount.bitrate,
    ]
    line = ",".join(str(value) for value in values) + "," + title
    return f"<html><body>{line}</body></html>".encode()


def _shoutcast_fields(mount: MountStatus, status: StationStatus) -> list[tuple[str, object]]:
    playing = mount.now_playing
    following = mount.next_up
    return [
        ("CURRENTLISTENERS", mount.listeners),
        ("PEAKLISTENERS", mount.peak_listeners),
        ("MAXLISTENERS", mount.max_listeners),
        ("UNIQUELISTENERS", mount.unique_listeners),
        ("AVERAGETIME", int(mount.average_time)),
        ("SERVERGENRE", mount.genre),
        ("SERVERURL", mount.url),
        ("SERVERTITLE", mount.station_name),
        ("SONGTITLE", playing.stream_title if playing else ""),
        ("NEXTTITLE", following.stream_title if following else ""),
        ("STREAMHITS", mount.connections),
        ("STREAMSTATUS", 1 if mount.on_air else 0),
        ("BACKUPSTATUS", 0),
        ("STREAMLISTED", 0),
        ("STREAMPATH", mount.name),
        ("STREAMUPTIME", int(max(0.0, status.now - mount.stream_start))),
        ("BITRATE", str(mount.bitrate)),
        ("SAMPLERATE", str(mount.sample_rate)),
        ("CONTENT", mount.content_type),
        ("VERSION", status.server_id),
    ]


def render_shoutcast_xml(mount: MountStatus, status: StationStatus) -> bytes:
    """
    SHOUTcast 2's C{/stats?sid=N}: a C{SHOUTCASTSERVER} document.

    @param mount: the stream asked for.
    @param status: the snapshot it belongs to (for uptime and version).
    @return: the UTF-8 XML document.
    """
    body = _xml(_shoutcast_fields(mount, status))
    return (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes" ?>'
        f"<SHOUTCASTSERVER>{body}</SHOUTCASTSERVER>"
    ).encode()


def render_shoutcast_json(
    mount: MountStatus, status: StationStatus, callback: str | None = None
) -> bytes:
    """
    SHOUTcast 2's C{/stats?sid=N&json=1}: the same fields in lower case,
    the bitrate and sample rate as strings; wrapped in C{callback(...)}
    for JSON-P when given.

    @param mount: the stream asked for.
    @param status: the snapshot it belongs to.
    @param callback: a JavaScript function name, already checked.
    @return: UTF-8 JSON (or JavaScript).
    """
    document = {
        name.lower(): value if isinstance(value, int) else _json_text(str(value))
        for name, value in _shoutcast_fields(mount, status)
    }
    body = _json(document)
    if callback:
        return callback.encode("ascii") + b"(" + body + b");"
    return body


# radiod's own


def _track(track: PlayedTrack) -> dict[str, Any]:
    return {
        "artist": _json_text(track.artist) or None,
        "title": _json_text(track.title),
        "requested": track.requested,
        "art": track.art or None,
    }


def _api_mount(mount: MountStatus) -> dict[str, Any]:
    playing = mount.now_playing
    now_playing = None
    if playing is not None:
        now_playing = {
            **_track(playing),
            "started_at": iso8601(playing.started),
            "duration": _seconds(playing.duration),
            "elapsed": _seconds(playing.elapsed, 1),
        }
    return {
        "name": _json_text(mount.name),
        "listen_url": _json_text(mount.listen_url),
        "station_name": _json_text(mount.station_name),
        "description": _json_text(mount.description),
        "genre": _json_text(mount.genre),
        "url": _json_text(mount.url),
        "hidden": mount.hidden,
        "format": {
            "content_type": mount.content_type,
            "bitrate": mount.bitrate or None,
            "sample_rate": mount.sample_rate or None,
            "channels": mount.channels or None,
        },
        "source": mount.source,
        "now_playing": now_playing,
        "next_up": _track(mount.next_up) if mount.next_up is not None else None,
        "listeners": mount.listeners,
        "peak_listeners": mount.peak_listeners,
        "max_listeners": mount.max_listeners or None,
        "listener_delay": _seconds(mount.listener_delay, 1),
        "bytes_sent": mount.bytes_sent,
        "slow_listeners_dropped": mount.slow_listeners,
        "history": [
            {**_track(track), "started_at": iso8601(track.started)} for track in mount.history
        ],
    }


def render_api_status(status: StationStatus, mount: str | None = None) -> bytes:
    """
    radiod's status document, C{/api/v1/status}: the station, then
    C{mounts}, always a list (one entry with C{mount}).

    @param status: the snapshot (L{StationStatus.listed} for the public).
    @param mount: only this mount, if given (the caller checks it exists).
    @return: UTF-8 JSON.
    """
    document = {
        "api_version": API_VERSION,
        "station": {
            "name": _json_text(status.name),
            "version": status.version,
            "started_at": iso8601(status.started),
            "uptime": int(status.uptime),
            "listeners": status.listeners,
            "location": _json_text(status.location),
            "admin_contact": _json_text(status.admin),
        },
        "mounts": [_api_mount(each) for each in _selected(status, mount)],
    }
    return _json(document)
