# -*- test-case-name: tests.config.test_check -*-
"""
The checks on a finished configuration, however it was built (file,
command line, code): each value in its range, and the rules that tie
values together: a burst smaller than the queue, fallbacks only from
live-only mounts and never in a loop, no two mounts or ladder rungs with
one name, MP3 bitrates that fit the sample rate.

The checks raise L{Invalid}; L{validate} turns it into a L{ConfigError}
naming the key, and L{radiod.config.toml} into one naming the file and the
line as well.
"""

from __future__ import annotations

import math
import shlex
from collections.abc import Callable, Sequence
from urllib.parse import urlsplit

from radiod.audio.format import MP3_SAMPLE_RATES, ladder_sample_rate, mp3_bitrates
from radiod.config.errors import ConfigError, Invalid, KeyPath, format_key_path
from radiod.config.schema import MountConfig, PlaylistConfig, StationConfig, mount_keys
from radiod.config.urls import parse_http_url, parse_push_url
from radiod.config.values import KIB
from radiod.config.windows import ScheduleError, load_zone, parse_schedule
from radiod.forwarded import parse_networks

__all__ = [
    "AAC_BITRATE_RANGE",
    "CACHE_SIZE_MIN",
    "CHARSETS",
    "CROSSFADE_MAX",
    "HEADER_TIMEOUT_MAX",
    "HLS_PART_RANGE",
    "HLS_SEGMENT_RANGE",
    "HLS_WINDOW_MAX",
    "LIST_KEYS",
    "LOG_FORMATS",
    "METAINT_RANGE",
    "PLAYLIST_ORDERS",
    "PLAYLIST_SUFFIXES",
    "PLAYLIST_TURNS",
    "PORT_RANGE",
    "QUEUE_SIZE_RANGE",
    "REQUEST_QUEUE_MAX",
    "SEND_BUFFER_RANGE",
    "SEPARATION_MAX",
    "WEBHOOK_EVENTS",
    "WEIGHT_MAX",
    "WORKERS_MAX",
    "check",
    "validate",
]

PORT_RANGE = (0, 65535)
"""
The lowest and highest C{port} and C{tls_port}.
"""
METAINT_RANGE = (256, 65535)
"""
The fewest and most audio bytes between ICY metadata blocks.
"""
QUEUE_SIZE_RANGE = (4 * KIB, 16 * KIB * KIB)
"""
The smallest and largest C{queue_size}, in bytes.
"""
SEPARATION_MAX = 7 * 86400.0
"""
The longest C{artist_separation} or C{title_separation}, in seconds.
"""
AAC_BITRATE_RANGE = (16, 320)
"""
The lowest and highest bitrate of an AAC rendition, in kbit/s.
"""
HLS_PART_RANGE = (0.2, 5.0)
"""
The shortest and longest C{hls_part}, in seconds.
"""
HLS_SEGMENT_RANGE = (1.0, 30.0)
"""
The shortest and longest C{hls_segment}, in seconds.
"""
HLS_WINDOW_MAX = 86400.0
"""
The longest C{hls_window}, in seconds (beyond two minutes, segments are
kept on disk: see L{radiod.hls.store}).
"""
HEADER_TIMEOUT_MAX = 3600.0
"""
The longest C{header_timeout}, in seconds.
"""
SEND_BUFFER_RANGE = (4 * KIB, 16 * 1024 * KIB)
"""
The smallest and largest C{send_buffer} other than 0, in bytes.
"""
CACHE_SIZE_MIN = KIB * KIB
"""
The smallest C{cache_size}, in bytes.
"""
WORKERS_MAX = 64
"""
The most C{workers}.
"""
CHARSETS = ("utf-8", "latin-1")
"""
The ICY title charsets, as radiod spells them.
"""
LOG_FORMATS = ("text", "json")
"""
The values of C{log_format}.
"""
CROSSFADE_MAX = 15.0
"""
The longest C{crossfade}, in seconds.
"""
WEIGHT_MAX = 1000.0
"""
The largest C{weight} and C{default_weight}.
"""
REQUEST_QUEUE_MAX = 1000
"""
The most requests that may wait on a mount (and per address).
"""
PLAYLIST_ORDERS = ("shuffle", "sequential")
"""
The values of a playlist's C{order}.
"""
PLAYLIST_TURNS = ("weight", "every_songs", "every_minutes", "schedule")
"""
The keys, one of which says how a playlist takes its turn.
"""
WEBHOOK_EVENTS = (
    "track",
    "live_start",
    "live_end",
    "silence",
    "station_up",
    "station_down",
    "listener_peak",
)
"""
The events a webhook may be sent.
"""
LIST_KEYS = ("deny_agents_file", "allow_ips", "deny_ips")
"""
The keys, of the server and of each mount, naming the files of who may
listen.
"""
PLAYLIST_SUFFIXES = (".m3u", ".pls", ".xspf")
"""
The endings of playlist URLs, which no mount name may have.
"""

# A mount field's TOML key, for the paths errors name.
_MOUNT_KEYS = {setting.field_name: setting.key for setting in mount_keys().values()}


def _one_line(path: KeyPath, text: str) -> None:
    if not text.isprintable():
        raise Invalid(path, "must be one line of text, without control characters")


def _check_mount_name(path: KeyPath, name: str) -> None:
    if not name.startswith("/") or len(name) < 2:
        raise Invalid(path, f'must start with "/" and name something, not {name!r}')
    if any(c.isspace() for c in name):
        raise Invalid(path, f"must not contain spaces: {name!r}")
    _one_line(path, name)
    for bad in "?#;":
        if bad in name:
            raise Invalid(path, f"must not contain {bad!r}: {name!r}")
    if ".." in name:
        raise Invalid(path, f"must not contain '..': {name!r}")
    if name.lower().endswith(PLAYLIST_SUFFIXES):
        raise Invalid(path, f"must not end with .m3u, .pls or .xspf (playlist URLs): {name!r}")


def _check_list(path: KeyPath, value: str, path_exists: Callable[[str], bool] | None) -> None:
    """
    Check a listener list's path: one line, and a file that exists (when
    paths are checked).  Its entries are read and checked by
    L{radiod.wire.admission}.
    """
    _one_line(path, value)
    if value and path_exists is not None and not path_exists(value):
        raise Invalid(path, f"no such file: {value}")


def _check_range(path: KeyPath, value: float, low: float, high: float, unit: str = "") -> None:
    if not low <= value <= high:
        raise Invalid(path, f"must be between {low} and {high}{unit}, not {value}")


def _check_mount(index: int, mount: MountConfig, path_exists: Callable[[str], bool] | None) -> None:
    def at(field_name: str) -> KeyPath:
        return ("mount", index, _MOUNT_KEYS[field_name])

    _check_mount_name(at("name"), mount.name)
    for field_name in ("station_name", "genre", "description", "url", "music", "record_dir"):
        _one_line(at(field_name), getattr(mount, field_name))
    if not mount.record_dir:
        raise Invalid(at("record_dir"), "must name a folder, not be empty")
    if mount.relay:
        try:
            parse_http_url(mount.relay)
        except ValueError as e:
            raise Invalid(at("relay"), str(e)) from None
    for position, url in enumerate(mount.push_to):
        try:
            parse_push_url(url)
        except ValueError as e:
            raise Invalid(at("push_to"), f"entry {position}: {e}") from None
    if len(set(mount.push_to)) < len(mount.push_to):
        raise Invalid(at("push_to"), "lists the same URL twice")
    for field_name in LIST_KEYS:
        _check_list(at(field_name), getattr(mount, field_name), path_exists)
    if mount.fallback_when_full and not mount.fallback:
        raise Invalid(
            at("fallback_when_full"), "needs a fallback (the mount listeners beyond the limit hear)"
        )
    if mount.music and path_exists is not None and not path_exists(mount.music):
        raise Invalid(at("music"), f"no such file or folder: {mount.music}")
    _check_range(at("metaint"), mount.metaint, *METAINT_RANGE)
    _check_range(at("queue_size"), mount.queue_size, *QUEUE_SIZE_RANGE, " bytes")
    if mount.burst_size < 0:
        raise Invalid(at("burst_size"), f"must be 0 or more, not {mount.burst_size}")
    if mount.burst_size >= mount.queue_size:
        raise Invalid(
            at("burst_size"),
            f"must be smaller than queue_size ({mount.queue_size})",
            [(at("queue_size"), f"must be larger than burst_size ({mount.burst_size})")],
        )
    if mount.max_listeners < 0:
        raise Invalid(
            at("max_listeners"), f"must be 0 (no limit) or more, not {mount.max_listeners}"
        )
    if mount.charset not in CHARSETS:
        raise Invalid(at("charset"), f'must be "utf-8" or "latin-1", not {mount.charset!r}')
    if not (math.isfinite(mount.rescan_interval) and mount.rescan_interval > 0):
        raise Invalid(
            at("rescan_interval"), f"must be more than 0 seconds, not {mount.rescan_interval}"
        )
    _check_ladder(at("ladder"), at("ladder_names"), mount)
    _check_format(at, mount)
    _check_hls(at, mount)
    for key in ("artist_separation", "title_separation", "request_threshold"):
        _check_range(at(key), getattr(mount, key), 0.0, SEPARATION_MAX, " seconds")
    _check_range(at("default_weight"), mount.default_weight, 0.0, WEIGHT_MAX)
    _check_range(at("crossfade"), mount.crossfade, 0.0, CROSSFADE_MAX, " seconds")
    _check_range(at("request_limit"), mount.request_limit, 1, REQUEST_QUEUE_MAX)
    _check_range(at("request_queue"), mount.request_queue, 1, REQUEST_QUEUE_MAX)
    _check_range(at("silence_timeout"), mount.silence_timeout, 0.0, 3600.0, " seconds")
    _check_range(at("silence_threshold"), mount.silence_threshold, -90.0, -10.0, " dBFS")
    _check_intro_and_dump(at, mount, path_exists)
    _check_auth(at, mount)
    names: dict[str, int] = {}
    for number, playlist in enumerate(mount.playlists):
        _check_playlist(("mount", index, "playlist", number), playlist, path_exists)
        if playlist.name in names:
            raise Invalid(
                ("mount", index, "playlist", number, "name"),
                f"{playlist.name!r} is already the name of playlist[{names[playlist.name]}]",
            )
        names[playlist.name] = number


AUTH_URL_KEYS = (
    "auth_listener_add",
    "auth_listener_remove",
    "auth_mount_add",
    "auth_mount_remove",
    "auth_stream",
)
"""
The mount keys that name an authentication URL (Icecast's URL
authentication; see L{radiod.outbound.urlauth}).
"""

DUMP_ROTATE_MAX = 31 * 86400.0
"""
The longest a dump file may be written before a new one starts.
"""

AUTH_FAILURE = ("deny", "allow")
"""
The values of a mount's C{auth_failure}.
"""


def _check_intro_and_dump(
    at: Callable[[str], KeyPath], mount: MountConfig, path_exists: Callable[[str], bool] | None
) -> None:
    """
    Check a mount's intro (a file that exists, when paths are checked)
    and its dump file's rotation.
    """
    for key in ("intro", "dump_file"):
        _one_line(at(key), getattr(mount, key))
    if mount.intro and path_exists is not None and not path_exists(mount.intro):
        raise Invalid(at("intro"), f"no such file: {mount.intro}")
    if mount.dump_size < 0:
        raise Invalid(at("dump_size"), f"must be 0 (no limit) or more, not {mount.dump_size}")
    _check_range(at("dump_rotate"), mount.dump_rotate, 0.0, DUMP_ROTATE_MAX, " seconds")
    for key in ("dump_size", "dump_rotate"):
        if getattr(mount, key) and not mount.dump_file:
            raise Invalid(at(key), "needs dump_file")


def _check_auth(at: Callable[[str], KeyPath], mount: MountConfig) -> None:
    """
    Check a mount's URL authentication keys: C{http://} or C{https://}
    URLs, headers of the form C{name: value}, a timeout and a policy.
    """
    for key in AUTH_URL_KEYS:
        url = getattr(mount, key)
        if url:
            try:
                parse_http_url(url)
            except ValueError as e:
                raise Invalid(at(key), str(e)) from None
    for key in ("auth_user", "auth_password", "auth_header_prefix"):
        _one_line(at(key), getattr(mount, key))
    if ":" in mount.auth_user:
        raise Invalid(at("auth_user"), f"must not contain ':': {mount.auth_user!r}")
    if bool(mount.auth_user) != bool(mount.auth_password):
        key = "auth_password" if mount.auth_user else "auth_user"
        raise Invalid(at(key), "auth_user and auth_password go together")
    for key in ("auth_header", "auth_timelimit_header"):
        value = getattr(mount, key)
        _one_line(at(key), value)
        name = value.split(":", 1)[0].strip()
        if ":" not in value or not name or any(c.isspace() for c in name):
            raise Invalid(at(key), f'must be a header, "name: value", not {value!r}')
    for name in mount.auth_headers:
        if not name or any(c.isspace() or c == ":" for c in name) or not name.isprintable():
            raise Invalid(at("auth_headers"), f"must list header names, not {name!r}")
    _check_range(at("auth_timeout"), mount.auth_timeout, 0.1, 60.0, " seconds")
    if mount.auth_failure not in AUTH_FAILURE:
        raise Invalid(at("auth_failure"), f'must be "deny" or "allow", not {mount.auth_failure!r}')
    _check_range(at("auth_cache"), mount.auth_cache, 0.0, 86400.0, " seconds")


def _check_site_files(config: StationConfig, path_exists: Callable[[str], bool] | None) -> None:
    """
    Check the server keys of Icecast's files and pages: the webroot a
    folder that exists (when paths are checked), aliases of the form
    C{/asked=/answered}, and the error log's level.
    """
    for key in ("location", "admin_contact", "webroot", "error_log"):
        _one_line(("server", key), getattr(config, key))
    if config.webroot and path_exists is not None and not path_exists(config.webroot):
        raise Invalid(("server", "webroot"), f"no such folder: {config.webroot}")
    asked: set[str] = set()
    for position, alias in enumerate(config.aliases):
        source, equals, destination = alias.partition("=")
        if not equals or not source.startswith("/") or not destination.startswith("/"):
            raise Invalid(
                ("server", "aliases"),
                f'entry {position}: must be "/asked=/answered", not {alias!r}',
            )
        if any(c.isspace() or c in "?#" for c in alias) or not alias.isprintable():
            raise Invalid(
                ("server", "aliases"), f"entry {position}: must be two paths, not {alias!r}"
            )
        if source in asked:
            raise Invalid(("server", "aliases"), f"entry {position}: {source} is aliased twice")
        asked.add(source)
    _check_range(("server", "error_log_level"), config.error_log_level, 1, 4)


def _check_playlist(
    where: KeyPath, playlist: PlaylistConfig, path_exists: Callable[[str], bool] | None
) -> None:
    """
    Check one C{[[mount.playlist]]} table: a name and music, an order, one
    way of taking its turn, in range, and schedules that read.
    """

    def at(key: str) -> KeyPath:
        return (*where, key)

    if not playlist.name.strip():
        raise Invalid(at("name"), 'missing (every playlist needs one, like "jingles")')
    _one_line(at("name"), playlist.name)
    _one_line(at("title"), playlist.title)
    if not playlist.music:
        raise Invalid(at("music"), "missing (a folder or playlist file)")
    _one_line(at("music"), playlist.music)
    if path_exists is not None and not path_exists(playlist.music):
        raise Invalid(at("music"), f"no such file or folder: {playlist.music}")
    if playlist.order not in PLAYLIST_ORDERS:
        raise Invalid(at("order"), f'must be "shuffle" or "sequential", not {playlist.order!r}')
    _check_range(at("weight"), playlist.weight, 0.0, WEIGHT_MAX)
    _check_range(at("every_songs"), playlist.every_songs, 0, 1000)
    _check_range(at("every_minutes"), playlist.every_minutes, 0.0, 10080.0, " minutes")
    turns = [key for key in PLAYLIST_TURNS if getattr(playlist, key)]
    if not turns:
        raise Invalid(
            where,
            "needs one way to take its turn: weight, every_songs, every_minutes or schedule",
        )
    if len(turns) > 1:
        raise Invalid(at(turns[1]), f"a playlist takes its turn one way; it already has {turns[0]}")
    if playlist.at_minute != -1:
        if not playlist.every_minutes:
            raise Invalid(at("at_minute"), "needs every_minutes")
        if not 0 <= playlist.at_minute < playlist.every_minutes:
            raise Invalid(
                at("at_minute"),
                f"must be -1 or between 0 and every_minutes ({playlist.every_minutes:g}) - 1, "
                f"not {playlist.at_minute}",
            )
    if playlist.schedule:
        try:
            parse_schedule(playlist.schedule)
        except ScheduleError as e:
            raise Invalid(at("schedule"), str(e)) from None
    if playlist.crossfade != -1:
        _check_range(at("crossfade"), playlist.crossfade, 0.0, CROSSFADE_MAX, " seconds")


def _check_webhooks(config: StationConfig) -> None:
    """
    Check the C{[[webhook]]} tables: http(s) URLs, known events.
    """
    for index, hook in enumerate(config.webhooks):
        if not hook.url:
            raise Invalid(("webhook", index, "url"), "missing (an http:// or https:// URL)")
        try:
            parse_http_url(hook.url)
        except ValueError as e:
            raise Invalid(("webhook", index, "url"), str(e)) from None
        for event in hook.events:
            if event not in WEBHOOK_EVENTS:
                raise Invalid(
                    ("webhook", index, "events"),
                    f"unknown event {event!r} (known: {', '.join(WEBHOOK_EVENTS)})",
                )
        _one_line(("webhook", index, "secret"), hook.secret)


def _check_hls(at: Callable[[str], KeyPath], mount: MountConfig) -> None:
    """
    Check a mount's HLS keys: parts of 0.2 to 5 s, segments of 1 to 30 s
    and at least one part, a window of at least three segments.
    """
    _check_range(at("hls_part"), mount.hls_part, *HLS_PART_RANGE, " seconds")
    _check_range(at("hls_segment"), mount.hls_segment, *HLS_SEGMENT_RANGE, " seconds")
    if mount.hls_segment < mount.hls_part:
        raise Invalid(
            at("hls_segment"),
            f"must be at least hls_part ({mount.hls_part:g} seconds), not {mount.hls_segment:g}",
        )
    low = 3 * mount.hls_segment
    _check_range(at("hls_window"), mount.hls_window, low, HLS_WINDOW_MAX, " seconds")
    for position, kbps in enumerate(mount.hls_aac):
        _check_range(at("hls_aac"), kbps, *AAC_BITRATE_RANGE, " kbit/s")
        if kbps in mount.hls_aac[:position]:
            raise Invalid(at("hls_aac"), f"lists {kbps} twice")
    if mount.hls_aac and not mount.hls:
        raise Invalid(at("hls_aac"), "needs hls = true (AAC renditions are HLS only)")


def _check_format(at: Callable[[str], KeyPath], mount: MountConfig) -> None:
    """
    Check a mount's format keys: an MP3 sample rate, 1 or 2 channels, and
    a bitrate an MP3 encoder writes at that sample rate (at some sample
    rate, when it is left to the first track); none on a live-only mount.
    """
    if mount.sample_rate and mount.sample_rate not in MP3_SAMPLE_RATES:
        rates = ", ".join(str(rate) for rate in MP3_SAMPLE_RATES)
        raise Invalid(
            at("sample_rate"),
            f"must be 0 (the first track's) or an MP3 sample rate ({rates}), "
            f"not {mount.sample_rate}",
        )
    if mount.channels not in (0, 1, 2):
        raise Invalid(
            at("channels"), f"must be 0 (the first track's), 1 or 2, not {mount.channels}"
        )
    allowed = mp3_bitrates(mount.sample_rate)
    if mount.bitrate and mount.bitrate not in allowed:
        where = f" at {mount.sample_rate} Hz" if mount.sample_rate else ""
        rates = ", ".join(str(rate) for rate in allowed)
        raise Invalid(
            at("bitrate"),
            f"must be 0 (any) or an MP3 bitrate{where} in kbit/s ({rates}), not {mount.bitrate}",
        )
    if mount.live_only:
        for field_name in ("bitrate", "sample_rate", "channels", "normalize"):
            if getattr(mount, field_name):
                raise Invalid(
                    at(field_name),
                    "a live_only mount plays no music (its live audio takes its fallback's format)",
                )


def _check_ladder(path: KeyPath, names_path: KeyPath, mount: MountConfig) -> None:
    """
    Check a mount's own C{ladder} and C{ladder_names}; clashes with other
    mounts are L{_check_rung_names}'s.
    """
    bitrates = mp3_bitrates(0)
    for position, kbps in enumerate(mount.ladder):
        if kbps not in bitrates:
            rates = ", ".join(str(rate) for rate in bitrates)
            raise Invalid(path, f"{kbps} is not an MP3 bitrate (kbit/s: {rates})")
        if kbps in mount.ladder[:position]:
            raise Invalid(path, f"lists {kbps} twice")
        if kbps == mount.bitrate:
            raise Invalid(path, f"{kbps} is the mount's own bitrate")
        rate = ladder_sample_rate(kbps, mount.sample_rate)
        if mount.sample_rate and kbps not in mp3_bitrates(rate):
            rates = ", ".join(str(choice) for choice in mp3_bitrates(rate))
            raise Invalid(
                path,
                f"an MP3 at {rate} Hz cannot have {kbps} kbit/s (kbit/s: {rates})",
            )
    if mount.ladder_names and len(mount.ladder_names) != len(mount.ladder):
        raise Invalid(
            names_path,
            f"must give one name per entry of ladder ({len(mount.ladder)}), "
            f"not {len(mount.ladder_names)}",
        )
    for position, name in enumerate(mount.ladder_names):
        try:
            _check_mount_name(names_path, name)
        except Invalid as e:
            raise Invalid(names_path, f"entry {position}: {e.reason}") from None


def _check_rung_names(mounts: Sequence[MountConfig]) -> None:
    """
    Check that no rung of a ladder takes the name of a mount or of
    another rung, and that live-only mounts have none.
    """
    owners = {mount.name: f"mount[{index}]" for index, mount in enumerate(mounts)}
    for index, mount in enumerate(mounts):
        key = "ladder_names" if mount.ladder_names else "ladder"
        if mount.ladder and mount.live_only:
            raise Invalid(
                ("mount", index, "ladder"),
                "a live_only mount has no ladder (its listeners move to its fallback "
                "between shows)",
            )
        for name in mount.rung_names:
            if name in owners:
                raise Invalid(
                    ("mount", index, key), f"{name!r} is already the name of {owners[name]}"
                )
            owners[name] = f"a rung of mount[{index}]"


def _check_tls(config: StationConfig, path_exists: Callable[[str], bool] | None) -> None:
    for key in ("tls_cert", "tls_key", "tls_ca"):
        value = getattr(config, key)
        _one_line(("server", key), value)
        if value and path_exists is not None and not path_exists(value):
            raise Invalid(("server", key), f"no such file: {value}")
    if not config.tls_port:
        if config.tls_port < 0:
            raise Invalid(("server", "tls_port"), f"must be a port, not {config.tls_port}")
        return
    _check_range(("server", "tls_port"), config.tls_port, *PORT_RANGE)
    if config.tls_port in (config.port, config.port + 1) and config.port:
        raise Invalid(
            ("server", "tls_port"),
            f"must differ from port ({config.port}) and the SHOUTcast source port after it",
        )
    if not config.tls_cert:
        raise Invalid(
            ("server", "tls_port"), "needs tls_cert (and tls_key, unless the cert holds it)"
        )


def _check_art(config: StationConfig, path_exists: Callable[[str], bool] | None) -> None:
    """
    Check the keys of cover art: the public URL an C{http://} or
    C{https://} URL without a query, the default picture a file that
    exists (when paths are checked), and mounts that send their art in
    ICY metadata only with a public URL to name it by.
    """
    if config.public_url:
        try:
            parse_http_url(config.public_url)
        except ValueError as e:
            raise Invalid(("server", "public_url"), str(e)) from None
        parts = urlsplit(config.public_url)
        if parts.query or parts.fragment or config.public_url.endswith(("?", "#")):
            raise Invalid(
                ("server", "public_url"),
                f"must not have a query or a fragment: {config.public_url!r}",
            )
    _one_line(("server", "default_art"), config.default_art)
    if config.default_art and path_exists is not None and not path_exists(config.default_art):
        raise Invalid(("server", "default_art"), f"no such file: {config.default_art}")
    for index, mount in enumerate(config.mounts):
        if mount.icy_art and not config.public_url:
            raise Invalid(
                ("mount", index, "icy_art"),
                "needs the server's public_url (players need an absolute URL)",
            )


def _check_fallbacks(mounts: Sequence[MountConfig]) -> None:
    by_name = {mount.name: mount for mount in mounts}
    for index, mount in enumerate(mounts):
        if mount.fallback == mount.name:
            raise Invalid(("mount", index, "fallback"), "must name another mount, not this one")
        if mount.fallback and mount.fallback not in by_name:
            raise Invalid(("mount", index, "fallback"), f"no mount is named {mount.fallback!r}")
        if mount.fallback and not mount.live_only:
            raise Invalid(
                ("mount", index, "fallback"),
                "only a live_only mount falls back (a mount with music always has audio)",
            )
        if mount.live_only and mount.music:
            raise Invalid(("mount", index, "music"), "a live_only mount plays no music")
    for index, mount in enumerate(mounts):
        chain = [mount.name]
        while by_name[chain[-1]].fallback:
            chain.append(by_name[chain[-1]].fallback)
            if chain[-1] in chain[:-1]:
                loop = " -> ".join(chain)
                raise Invalid(("mount", index, "fallback"), f"fallbacks go round in a loop: {loop}")


def check(config: StationConfig, path_exists: Callable[[str], bool] | None) -> None:
    """
    Raise L{Invalid} for the first value in C{config} that cannot be used.

    @param config: the configuration.
    @param path_exists: if given, C{music}, TLS, C{default_art} and
        listener list file paths are checked with it.
    @raise Invalid: naming the key and the reason, without a file.
    """
    _check_range(("server", "port"), config.port, *PORT_RANGE)
    _check_site_files(config, path_exists)
    interface = config.interface
    if any(c.isspace() for c in interface) or not interface.isprintable():
        raise Invalid(
            ("server", "interface"), f"must be an address, or empty for all: {interface!r}"
        )
    if config.max_per_address < 0:
        raise Invalid(
            ("server", "max_per_address"),
            f"must be 0 (no limit) or more, not {config.max_per_address}",
        )
    if config.max_listeners < 0:
        raise Invalid(
            ("server", "max_listeners"), f"must be 0 (no limit) or more, not {config.max_listeners}"
        )
    timeout = config.header_timeout
    if not 0 < timeout <= HEADER_TIMEOUT_MAX:  # also refuses nan
        raise Invalid(
            ("server", "header_timeout"),
            f"must be more than 0 and at most {HEADER_TIMEOUT_MAX:g} seconds, not {timeout:g}",
        )
    if (
        config.send_buffer != 0
        and not SEND_BUFFER_RANGE[0] <= config.send_buffer <= SEND_BUFFER_RANGE[1]
    ):
        raise Invalid(
            ("server", "send_buffer"),
            f"must be 0 (kernel default) or between {SEND_BUFFER_RANGE[0]} and "
            f"{SEND_BUFFER_RANGE[1]} bytes, not {config.send_buffer}",
        )
    if not 1 <= config.workers <= WORKERS_MAX:
        raise Invalid(
            ("server", "workers"), f"must be between 1 and {WORKERS_MAX}, not {config.workers}"
        )
    if not config.admin_user or ":" in config.admin_user or not config.admin_user.isprintable():
        raise Invalid(("server", "admin_user"), 'must be a non-empty name without ":"')
    for key in (
        "source_password",
        "admin_password",
        "state_dir",
        "access_log",
        "cache_dir",
        "hls_dir",
    ):
        _one_line(("server", key), getattr(config, key))
    _check_tls(config, path_exists)
    if config.cache_size < CACHE_SIZE_MIN:
        raise Invalid(
            ("server", "cache_size"),
            f"must be at least {CACHE_SIZE_MIN} bytes (1MiB), not {config.cache_size}",
        )
    if config.log_format not in LOG_FORMATS:
        raise Invalid(
            ("server", "log_format"), f'must be "text" or "json", not {config.log_format!r}'
        )
    for key in LIST_KEYS:
        _check_list(("server", key), getattr(config, key), path_exists)
    try:
        parse_networks(config.trusted_proxies)
    except ValueError as e:
        raise Invalid(("server", "trusted_proxies"), str(e)) from None
    if not config.mounts:
        raise Invalid(("mount",), "at least one mount is needed")
    first_index: dict[str, int] = {}
    for index, mount in enumerate(config.mounts):
        _check_mount(index, mount, path_exists)
        _one_line(("mount", index, "source_password"), mount.source_password)
        if mount.name in first_index:
            first = first_index[mount.name]
            raise Invalid(
                ("mount", index, "name"),
                f"{mount.name!r} is already the name of mount[{first}]",
                [
                    (
                        ("mount", first, "name"),
                        f"{mount.name!r} is already the name of mount[{index}]",
                    )
                ],
            )
        first_index[mount.name] = index
    _check_art(config, path_exists)
    _check_fallbacks(config.mounts)
    _check_rung_names(config.mounts)
    _check_edge(config)
    _check_webhooks(config)
    try:
        load_zone(config.timezone)
    except ScheduleError as e:
        raise Invalid(("server", "timezone"), str(e)) from None
    _one_line(("server", "on_track"), config.on_track)
    _one_line(("server", "stats_database"), config.stats_database)
    database = config.stats_database
    if database and database != "off" and "://" in database:
        if not database.startswith(("postgresql://", "postgres://")):
            raise Invalid(
                ("server", "stats_database"),
                'must be empty (SQLite in the state folder), "off", a file, or a postgresql:// URL',
            )
    _check_range(("server", "stats_days"), config.stats_days, 0, 100000, " days")
    _one_line(("server", "geoip_database"), config.geoip_database)
    _one_line(("server", "playlist_log"), config.playlist_log)
    if config.geoip_database and path_exists is not None:
        if not path_exists(config.geoip_database):
            raise Invalid(("server", "geoip_database"), f"no such file: {config.geoip_database}")
    if config.stats_addresses not in ("hashed", "plain"):
        raise Invalid(
            ("server", "stats_addresses"),
            f'must be "hashed" or "plain", not {config.stats_addresses!r}',
        )
    try:
        shlex.split(config.on_track)
    except ValueError as e:
        raise Invalid(("server", "on_track"), f"cannot be split into words: {e}") from None
    for index, mount in enumerate(config.mounts):
        if mount.live_only and config.workers > 1:
            raise Invalid(
                ("mount", index, "live_only"),
                "needs workers = 1 (one process takes the live sources)",
            )
        if mount.hls and config.workers > 1:
            raise Invalid(
                ("mount", index, "hls"),
                "needs workers = 1 (one process cuts and serves the segments)",
            )
        if config.workers > 1:
            for key in AUTH_URL_KEYS:
                if getattr(mount, key):
                    raise Invalid(
                        ("mount", index, key),
                        "needs workers = 1 (one process asks about every listener)",
                    )
        if (mount.intro or mount.dump_file) and config.workers > 1:
            key = "intro" if mount.intro else "dump_file"
            raise Invalid(
                ("mount", index, key), "needs workers = 1 (one process serves the listeners)"
            )


def _check_edge(config: StationConfig) -> None:
    """
    Check the keys of an edge and of redirects: URLs, a linger of at most
    an hour, one process for an edge.
    """
    if config.origin:
        try:
            parse_http_url(config.origin)
        except ValueError as e:
            raise Invalid(("server", "origin"), str(e)) from None
        if config.workers > 1:
            raise Invalid(
                ("server", "origin"), "needs workers = 1 (one process pulls from the origin)"
            )
    _check_range(("server", "origin_linger"), config.origin_linger, 0.0, 3600.0, " seconds")
    for position, url in enumerate(config.redirect_when_full):
        try:
            parse_http_url(url)
        except ValueError as e:
            raise Invalid(("server", "redirect_when_full"), f"entry {position}: {e}") from None


def validate(config: StationConfig, path_exists: Callable[[str], bool] | None = None) -> None:
    """
    Check a configuration however it was built (file, command line, code).

    @param config: the configuration.
    @param path_exists: if given, C{music} and other file paths are
        checked with it.
    @raise ConfigError: naming the first key at fault, as in
        C{mount[0].metaint: must be between 256 and 65535, not 0}.
    """
    try:
        check(config, path_exists)
    except Invalid as e:
        raise ConfigError(
            f"{format_key_path(e.path)}: {e.reason}", e.path, e.reason, e.alternatives
        ) from None
