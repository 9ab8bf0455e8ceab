# -*- test-case-name: tests.config.test_render -*-
"""
Writing a configuration back out: a L{StationConfig} in, the text of a
C{radiod.toml} that L{load_config<radiod.config.toml.load_config>} reads
back into the same configuration out.

Only the keys whose values differ from the built-in defaults are written
(and any key given a note), each under a comment line saying what it is,
so that the file reads as the list of what this station changes.  Sizes
are written with units where they divide evenly (C{"512KiB"}), the ICY
status line as C{"http"} or C{"icy"}.  Mounts are written, with their
playlists, unless the station has just the default mount; webhooks
when there are some.

Relative paths are written as they are: a file loaded from another
folder takes them from its own, so a configuration meant to be moved
should hold absolute paths.

Pure: no I/O.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import replace

import radiod.config.values as values
from radiod.config.errors import KeyPath
from radiod.config.schema import (
    FROM_STATION,
    MountConfig,
    Setting,
    StationConfig,
    mount_keys,
    playlist_keys,
    server_keys,
    webhook_keys,
)
from radiod.config.values import KIB

__all__ = ["COMMENTS", "render_config", "toml_string", "toml_value"]

COMMENTS: Mapping[str, Mapping[str, str]] = {
    "server": {
        "port": "TCP port for listeners, sources and pages (0 asks the system for a free one).",
        "interface": 'Address to bind; "" for all.',
        "max_listeners": "Listeners allowed on all mounts together; 0 for no limit.",
        "max_per_address": "Connections one client address may hold at once; 0 for no limit.",
        "header_timeout": "Seconds a client has to send a complete request.",
        "send_buffer": "Kernel send buffer of each listener's socket; 0 lets the kernel size it.",
        "workers": "Processes serving listeners.",
        "source_password": 'The password live sources give (user "source"); "" refuses them.',
        "admin_user": "The admin interface's user.",
        "admin_password": 'The admin password; "" for one generated at the first start.',
        "state_dir": "Where the play history and the admin password are kept.",
        "access_log": 'The access log file; "-" for standard output; "" for none.',
        "tls_port": "The HTTPS listener's port; 0 for none.",
        "tls_cert": "The HTTPS listener's PEM certificate (with intermediates).",
        "tls_key": 'Its PEM private key; "" when it is in tls_cert.',
        "tls_ca": "PEM authorities trusted for https:// relays and pushes.",
        "log_format": '"text" or "json" (one JSON object per line).',
        "trusted_proxies": "Proxies whose X-Forwarded-For header is believed.",
        "deny_agents_file": 'User agents refused, one pattern per line (* for any); "" none.',
        "allow_ips": 'The only addresses and CIDR networks that may listen, a file; "" all.',
        "deny_ips": 'Addresses and CIDR networks that may not listen, a file; "" none.',
        "cache_dir": "Where converted tracks are kept.",
        "cache_size": "The conversion cache's size limit.",
        "origin": "The http:// URL of the radiod this one mirrors as an edge.",
        "origin_linger": "Seconds an edge keeps pulling a mount after its last listener left.",
        "redirect_when_full": "Servers listeners are sent to when the limits are reached.",
        "hls_dir": "A folder HLS segments and playlists are also written to.",
        "timezone": "The time zone playlist schedules are read in.",
        "on_track": "A command run at each new track, with the track as JSON on its input.",
        "public_url": "The station's address as listeners' players reach it.",
        "default_art": "A picture shown as the cover of tracks without one.",
        "stats_database": 'Where listener sessions are stored: "" (SQLite), a URL, or "off".',
        "stats_days": "Days listener sessions are kept; 0 to keep them forever.",
        "geoip_database": "A MaxMind-format country database (.mmdb) for the sessions.",
        "icecast_config": "An Icecast icecast.xml the server and mounts are taken from.",
        "playlist_log": "Icecast's playlist log (time|mount|listeners|title), or -.",
        "stats_addresses": '"hashed" or "plain" client addresses in the sessions.',
        "location": "Where the station is, on the status pages.",
        "admin_contact": "Who runs the station, on the status pages.",
        "webroot": "A folder of static files served where the site has nothing.",
        "aliases": 'Paths answered as others, each "/asked=/answered".',
        "error_log": "A log in Icecast's error log shape, or -.",
        "error_log_level": "1 errors, 2 warnings, 3 information, 4 debugging.",
    },
    "mount": {
        "name": "The mount's path.",
        "music": 'A folder or playlist file to play; "" for the demo library.',
        "shuffle": "Play in random order.",
        "station_name": "icy-name.",
        "genre": "icy-genre.",
        "description": "icy-description.",
        "url": "icy-url, the station's home page.",
        "public": "icy-pub: may directories list it.",
        "metaint": "Audio bytes between ICY metadata blocks.",
        "burst_size": "Recent audio sent at once to a new listener (less than queue_size).",
        "queue_size": "How far a listener may lag behind before it is dropped.",
        "max_listeners": "Listeners allowed on this mount; 0 for no limit.",
        "charset": '"utf-8" or "latin-1", for ICY titles.',
        "status_line": '"http" (HTTP/1.0 200 OK) or "icy" (ICY 200 OK).',
        "rescan_interval": "Seconds between looks for library changes.",
        "live_only": "Plays only live sources (and its relay): no music.",
        "fallback": "The mount listeners hear when this live-only mount has no audio.",
        "fallback_override": "Whether they come back when a live source returns.",
        "fallback_when_full": "Whether listeners beyond max_listeners hear the fallback instead.",
        "deny_agents_file": "This mount's user-agent deny list (instead of the server's).",
        "allow_ips": "This mount's address allow list (instead of the server's).",
        "deny_ips": "This mount's address deny list (instead of the server's).",
        "source_password": "This mount's source password (instead of the server's).",
        "record": "Write each live show to a file.",
        "record_dir": "Where recordings go.",
        "relay": "The http:// URL of a stream this mount relays.",
        "push_to": "Servers this mount is pushed to as a source.",
        "ladder": "kbit/s of extra copies of this mount.",
        "ladder_names": "The names of those copies.",
        "bitrate": "kbit/s tracks are converted to; 0 for any.",
        "sample_rate": "Hz; 0 for the first track's.",
        "channels": "1 or 2; 0 for the first track's.",
        "normalize": "Bring every track to the same loudness.",
        "artist_separation": "Least time between two tracks of one artist.",
        "title_separation": "Least time between two plays of one song.",
        "hls": "Also serve HLS under /hls/<name>/.",
        "hls_segment": "Seconds per HLS segment.",
        "hls_part": "Seconds per low-latency HLS part.",
        "hls_aac": "kbit/s of AAC-LC renditions added to the HLS.",
        "hls_window": "Seconds of HLS segments listed.",
        "default_weight": "The music's weight beside playlists that take turns by weight.",
        "crossfade": "Seconds one track overlaps the next.",
        "requests": "Whether listeners may request songs.",
        "request_threshold": "How soon a track played or requested may be requested again.",
        "request_limit": "Requests one address may have waiting.",
        "request_queue": "Requests that may wait on the mount.",
        "silence_timeout": "Seconds of silence before a live source is taken off; 0 never.",
        "silence_threshold": "dBFS below which live audio counts as silence.",
        "icy_art": "ICY metadata names each track's cover (needs public_url).",
        "intro": "An MP3 file each new listener hears first.",
        "dump_file": "A file everything the mount broadcasts is written to.",
        "dump_size": "Its size when a new one is started; 0 no limit.",
        "dump_rotate": 'How often a new one is started ("1h", "1d"); 0 never.',
        "hidden": "Left off the public status pages and listings.",
        "auth_listener_add": "URL asked whether each listener may listen (Icecast's listener_add).",
        "auth_listener_remove": "URL told when a listener leaves.",
        "auth_mount_add": "URL told when the mount starts.",
        "auth_mount_remove": "URL told when the mount stops.",
        "auth_stream": "URL asked whether a live source may stream (stream_auth).",
        "auth_user": "User radiod logs in to those URLs as.",
        "auth_password": "Its password.",
        "auth_header": "The reply header that admits a listener.",
        "auth_timelimit_header": "The reply header with the seconds a listener may stay.",
        "auth_headers": "Listener request headers passed on to listener_add.",
        "auth_header_prefix": "Prefix of the fields those headers are sent in.",
        "auth_timeout": "Seconds to wait for the authentication URL.",
        "auth_failure": '"deny" or "allow" listeners when the URL fails.',
        "auth_cache": "Seconds an answer about the same listener is kept; 0 never.",
    },
    "playlist": {
        "name": "The playlist's name, unique on its mount.",
        "music": "A folder or playlist file.",
        "order": '"shuffle" or "sequential".',
        "weight": "Takes its turn as a share of the music's slots.",
        "every_songs": "Takes its turn as one item after every N songs.",
        "every_minutes": "Takes its turn as one item once this many minutes have passed.",
        "at_minute": "With every_minutes: at this minute of each period; -1 for none.",
        "schedule": "Takes the music's place in these time windows.",
        "jingle": "Items are jingles: left out of history and rules.",
        "title": "The title shown while an item plays.",
        "crossfade": "Seconds its items overlap their neighbours; -1 for the mount's.",
    },
    "webhook": {
        "url": "The http:// or https:// URL events are POSTed to.",
        "events": "The events sent; [] for all.",
        "secret": "Signs each body with HMAC-SHA256 under this secret.",
    },
}
"""
The comment written above each key, by table (C{server}, C{mount},
C{playlist}, C{webhook}) and key.  A key missing here is written without
one (a test holds the table to the schema).
"""

_UNITS = ((KIB**3, "GiB"), (KIB**2, "MiB"), (KIB, "KiB"))
# Characters TOML's basic strings must escape.
_ESCAPES = {'"': '\\"', "\\": "\\\\", "\b": "\\b", "\t": "\\t", "\n": "\\n"}
_ESCAPES.update({"\f": "\\f", "\r": "\\r"})


def toml_string(text: str) -> str:
    """
    A TOML basic string holding C{text}, control characters escaped.
    """
    out = []
    for c in text:
        if c in _ESCAPES:
            out.append(_ESCAPES[c])
        elif ord(c) < 0x20 or ord(c) == 0x7F:
            out.append(f"\\u{ord(c):04x}")
        else:
            out.append(c)
    return '"' + "".join(out) + '"'


def _number(value: float) -> str:
    """
    A float as TOML writes it: whole numbers without a fraction.
    """
    if math.isfinite(value) and value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    if math.isnan(value):
        return "nan"
    if math.isinf(value):
        return "inf" if value > 0 else "-inf"
    return repr(value)


def _size(value: int) -> str:
    for factor, unit in _UNITS:
        if value and value % factor == 0:
            return f'"{value // factor}{unit}"'
    return str(value)


def toml_value(value: object, setting: Setting) -> str:
    """
    A field's value as its key is written in a file.

    @param value: the field's value.
    @param setting: the key, whose converter tells how (a size, the
        status line).
    @raise TypeError: for a value no key holds.
    """
    if setting.convert is values.status_line:
        return '"icy"' if value else '"http"'
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return _size(value) if setting.convert is values.size else str(value)
    if isinstance(value, float):
        return _number(value)
    if isinstance(value, str):
        return toml_string(value)
    if isinstance(value, tuple):
        return "[" + ", ".join(toml_value(item, setting) for item in value) + "]"
    raise TypeError(f"cannot write {value!r} for {setting.key}")


def _comment(text: str) -> list[str]:
    """
    Comment lines for C{text}, one per line of it.
    """
    return [f"# {line}".rstrip() for line in text.splitlines()] or ["#"]


def _table(
    header: str,
    table: str,
    config: object,
    keys: Mapping[str, Setting],
    where: KeyPath,
    notes: Mapping[KeyPath, str],
    always: Sequence[str] = (),
) -> list[str]:
    """
    The lines of one table: C{header}, then each key that differs from
    its default, is in C{always}, or has a note.
    """
    lines = []
    for key, setting in keys.items():
        value = getattr(config, setting.field_name)
        note = notes.get((*where, key))
        if value == setting.default and key not in always and note is None:
            continue
        comment = COMMENTS[table].get(key)
        if comment:
            lines.extend(_comment(comment))
        if note:
            lines.extend(_comment(f"  {note}"))
        lines.append(f"{key} = {toml_value(value, setting)}")
    if not lines:
        return []
    return ["", header, *lines]


def _default_mounts(config: StationConfig) -> bool:
    """
    Whether the station has just the default mount (as a file without
    mount tables gives it).
    """
    copies = {name: getattr(config, name) for name in FROM_STATION}
    return config.mounts == (replace(MountConfig(), **copies),)


def render_config(
    config: StationConfig,
    header: Sequence[str] = (),
    notes: Mapping[KeyPath, str] | None = None,
) -> str:
    """
    Write a configuration as the text of a C{radiod.toml}.

    @param config: the configuration.
    @param header: lines of comment for the top of the file.
    @param notes: a line added to the comment of a key, by key path
        (such as C{("mount", 0, "name")}); a key with a note is written
        even with its default value.
    @return: TOML text that L{load_config<radiod.config.toml.load_config>}
        reads back into C{config}.
    """
    notes = notes or {}
    lines = [line for text in header for line in _comment(text)]
    lines += _table("[server]", "server", config, server_keys(), ("server",), notes)
    mount_table = mount_keys()
    if not _default_mounts(config) or any(path[0] == "mount" for path in notes):
        for index, mount in enumerate(config.mounts):
            where = ("mount", index)
            lines += _table("[[mount]]", "mount", mount, mount_table, where, notes, ["name"])
            for number, playlist in enumerate(mount.playlists):
                lines += _table(
                    "[[mount.playlist]]",
                    "playlist",
                    playlist,
                    playlist_keys(),
                    (*where, "playlist", number),
                    notes,
                    ["name"],
                )
    for index, hook in enumerate(config.webhooks):
        lines += _table(
            "[[webhook]]", "webhook", hook, webhook_keys(), ("webhook", index), notes, ["url"]
        )
    if lines and not lines[0]:
        lines.pop(0)
    return "\n".join(lines) + "\n"
