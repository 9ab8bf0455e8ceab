# -*- test-case-name: tests.test_config -*-
"""
Station configuration: immutable values built from the command line and an
optional TOML file, validated once at start-up.

A configuration file looks like this (every key is optional unless noted)::

    [server]
    port = 8000                 # 1..65535 (0 asks the system for a free port)
    interface = ""              # address to bind; "" for all
    max_listeners = 0           # on all mounts together; 0 for no limit
    max_per_address = 100       # connections one client address may hold; 0 for no limit
    header_timeout = 15         # seconds to send a complete request, (0, 3600]
    send_buffer = "64KiB"       # kernel send buffer per listener; 0 lets the kernel size it
    workers = 1                 # processes serving listeners (1..64)
    source_password = ""        # live sources' password; "" refuses them
    admin_user = "admin"        # admin user name (no ":")
    admin_password = ""         # "" for one generated at the first start, kept in state_dir
    state_dir = ""              # play history and admin password; "" for "state"
    access_log = ""             # combined log format file; "-" for standard output; "" for none
    tls_port = 0                # HTTPS listener port; 0 for none
    tls_cert = ""               # PEM certificate (chain) for HTTPS
    tls_key = ""                # PEM private key; "" when it is in tls_cert
    tls_ca = ""                 # PEM authorities trusted for https:// relays and pushes
    log_format = "text"         # "text" or "json" (one JSON object per line)
    trusted_proxies = []        # addresses and networks whose X-Forwarded-For is believed
    cache_dir = ""              # converted files; "" for "cache" in state_dir
    cache_size = "2GiB"         # the conversion cache's size limit

    [[mount]]
    name = "/stream"            # required: "/" then no spaces, ? # ; or ..
    music = "/srv/music"        # folder or playlist; "" plays the demo library
    shuffle = false
    station_name = "radiod"     # icy-name
    genre = ""                  # icy-genre
    description = ""            # icy-description
    url = ""                    # icy-url
    public = false              # icy-pub
    metaint = 16000             # audio bytes between ICY metadata, 256..65535
    burst_size = "64KiB"        # smaller than queue_size
    queue_size = "512KiB"       # 4KiB..16MiB
    max_listeners = 0           # on this mount; 0 for no limit
    charset = "utf-8"           # "utf-8" or "latin-1" (ICY titles)
    status_line = "http"        # "http" (HTTP/1.0 200 OK) or "icy" (ICY 200 OK)
    rescan_interval = 30        # seconds between looks for library changes, > 0
    live_only = false           # plays only live sources (or its relay); no music
    fallback = ""               # live_only mounts: where listeners go between shows
    fallback_override = true    # bring them back when the live source returns
    source_password = ""        # overrides the server's for this mount
    record = false              # write each live show to a file
    record_dir = "recordings"   # where recordings go
    relay = ""                  # http:// URL of a stream to relay; music is the fallback
    push_to = []                # http://user:password@host:port/mount servers to push to
    ladder = []                 # kbit/s of extra copies of this mount, such as [64, 32]
    ladder_names = []           # their mount names; by default "<name>-<kbit/s>"
    bitrate = 0                 # kbit/s of converted tracks; only MP3s at it pass; 0: any
    sample_rate = 0             # Hz; 0 for the first track's
    channels = 0                # 1 or 2; 0 for the first track's
    normalize = false           # bring every track to the same loudness

Each C{[[mount]]} table declares one mount; the first is the default mount.
Sizes are integers (bytes) or strings with a unit: C{"64KiB"},
C{"512 KiB"}, C{"1MiB"} (units B, K/KiB, M/MiB, G/GiB, all powers of 1024).
A relative C{music} or C{record_dir} path set in the file is taken from
the file's folder; the default C{record_dir}, C{"recordings"}, and a
relative C{record_dir} set otherwise are taken from the working
directory.  So is C{state_dir}: relative to the file's folder when the file
sets it, else to the working directory (its default is C{"state"}).  So is
C{cache_dir}, whose default is C{"cache"} in the state folder.
A relative C{access_log} path is taken the same way.
Unknown keys are errors, so a misspelt key is not silently ignored.

Every problem raises L{ConfigError} whose text is one line naming the file,
the line and the key, such as C{radiod.toml line 12: mount[1].burst_size:
must be smaller than queue_size (524288)}.  Mounts are counted from 0.
"""

from __future__ import annotations

import difflib
import json
import math
import os
import re
import tomllib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any
from urllib.parse import unquote, urlsplit

from radiod.audio.format import MP3_SAMPLE_RATES, ladder_sample_rate, mp3_bitrates
from radiod.forwarded import parse_networks

__all__ = [
    "DEFAULT_CACHE_DIR",
    "DEFAULT_STATE_DIR",
    "ConfigError",
    "KeyPath",
    "MountConfig",
    "StationConfig",
    "default_folders",
    "find_key_line",
    "format_key_path",
    "is_tls_url",
    "load_config",
    "normalize_charset",
    "parse_http_url",
    "parse_push_url",
    "parse_size",
    "read_config",
    "source_password",
    "validate",
    "with_default_folders",
]

KIB = 1024

KeyPath = tuple[str | int, ...]
"""
Where a value lives in the TOML document: C{("mount", 1, "burst_size")}.
"""

PORT_RANGE = (0, 65535)
METAINT_RANGE = (256, 65535)
QUEUE_SIZE_RANGE = (4 * KIB, 16 * KIB * KIB)
HEADER_TIMEOUT_MAX = 3600.0
SEND_BUFFER_RANGE = (4 * KIB, 16 * 1024 * KIB)
CACHE_SIZE_MIN = KIB * KIB
WORKERS_MAX = 64
CHARSETS = ("utf-8", "latin-1")
LOG_FORMATS = ("text", "json")
PLAYLIST_SUFFIXES = (".m3u", ".pls", ".xspf")
DEFAULT_CACHE_DIR = "cache"
"""
The conversion cache folder, relative to the state folder, when
C{cache_dir} is empty.
"""
DEFAULT_STATE_DIR = "state"
"""
The state folder, relative to the working directory, when C{state_dir} is
empty.
"""


def default_folders(environ: Mapping[str, str]) -> tuple[str, str]:
    """
    Where a station keeps its state and its conversion cache when the
    configuration names neither, following the conventions of the system
    it runs on: systemd's C{StateDirectory=} and C{CacheDirectory=} (the
    C{$STATE_DIRECTORY} and C{$CACHE_DIRECTORY} it sets), else the XDG
    base directories (C{$XDG_STATE_HOME/radiod}, C{$XDG_CACHE_HOME/radiod}),
    else C{~/.local/state/radiod} and C{~/.cache/radiod}.

    @param environ: the process's environment.
    @return: the state folder and the cache folder.
    """
    home = environ.get("HOME") or os.path.expanduser("~")

    def first(value: str) -> str:
        # systemd lists one folder per StateDirectory= entry, colon-separated.
        return value.split(":")[0]

    if environ.get("STATE_DIRECTORY"):
        state = first(environ["STATE_DIRECTORY"])
    else:
        base = environ.get("XDG_STATE_HOME") or os.path.join(home, ".local", "state")
        state = os.path.join(base, "radiod")
    if environ.get("CACHE_DIRECTORY"):
        cache = first(environ["CACHE_DIRECTORY"])
    else:
        base = environ.get("XDG_CACHE_HOME") or os.path.join(home, ".cache")
        cache = os.path.join(base, "radiod")
    return state, cache


def with_default_folders(config: StationConfig, environ: Mapping[str, str]) -> StationConfig:
    """
    C{config} with its state and cache folders filled in from
    L{default_folders} where it names none.  An explicit C{state_dir}
    wins, and keeps its C{cache} subfolder when C{cache_dir} is not set
    (unless systemd names a cache directory).
    """
    state, cache = default_folders(environ)
    if config.cache_dir:
        cache = config.cache_dir
    elif config.state_dir and not environ.get("CACHE_DIRECTORY"):
        cache = os.path.join(config.state_dir, DEFAULT_CACHE_DIR)
    return replace(config, state_dir=config.state_dir or state, cache_dir=cache)


class ConfigError(Exception):
    """
    The configuration cannot be used.  C{str(error)} is one line for the
    operator, naming the option or key (and the file line where known).

    @ivar path: the key at fault, or C{()} when none is.
    @ivar reason: the message without the key and file, as in
        C{"must be smaller than queue_size (524288)"}.
    @ivar alternatives: other C{(path, reason)} ways to tell the same
        problem, blaming another key involved (for burst and queue size,
        the queue size); a caller blames the one the user actually set.
    """

    def __init__(
        self,
        message: str,
        path: KeyPath = (),
        reason: str = "",
        alternatives: Sequence[tuple[KeyPath, str]] = (),
    ) -> None:
        super().__init__(message)
        self.path = path
        self.reason = reason or message
        self.alternatives = tuple(alternatives)


@dataclass(frozen=True)
class MountConfig:
    """
    One mount point: a URL path listeners connect to, and what it plays.

    @ivar name: the path, with its leading slash (C{"/stream"}).
    @ivar music: a folder or playlist file to play; empty means the
        demo library shipped with radiod.
    @ivar shuffle: play in random order (reshuffled every round).
    @ivar station_name: C{icy-name}.
    @ivar genre: C{icy-genre}.
    @ivar description: C{icy-description}.
    @ivar url: C{icy-url}, the station's home page.
    @ivar public: C{icy-pub}: may directories list it.
    @ivar metaint: audio bytes between ICY metadata blocks.
    @ivar burst_size: bytes of recent audio sent at once to a new listener.
    @ivar queue_size: bytes a listener may lag behind before it is dropped.
    @ivar max_listeners: listeners allowed on this mount; 0 for no limit.
    @ivar charset: C{"utf-8"} or C{"latin-1"}, for ICY titles.
    @ivar icy_status_line: answer C{ICY 200 OK} instead of C{HTTP/1.0 200 OK}.
    @ivar rescan_interval: seconds between looks for library changes.
    @ivar live_only: the mount plays only live sources (and its relay,
        if any): no music, and no audio between shows.
    @ivar fallback: for a live-only mount, the name of the mount its
        listeners hear when it has no audio (see L{radiod.broadcast.fallback});
        empty for none, when they are closed instead.
    @ivar fallback_override: whether listeners moved to the fallback come
        back when a live source returns.
    @ivar source_password: the password a live source for this mount
        gives; empty to use the station's L{StationConfig.source_password}.
    @ivar record: whether each live show on this mount is written to a
        file (see L{radiod.ingest.recording}).
    @ivar record_dir: the folder recordings go into, created when needed.
    @ivar relay: the C{http://} URL of a stream this mount relays (see
        L{radiod.ingest.relay}), its music playing while the upstream is down;
        empty for none.
    @ivar push_to: C{http://user:password@host:port/mount} URLs of
        Icecast-compatible servers this mount is pushed to as a source
        (see L{radiod.outbound.relay}); empty for none.
    @ivar ladder: the bitrates, in kbit/s, of the rungs of this mount's
        bitrate ladder: extra mounts playing the same programme, at the
        same moment, re-encoded at these bitrates (see L{radiod.ffmpeg.ladder});
        empty for none.
    @ivar ladder_names: the names of those mounts, one per entry of
        L{ladder}; empty for the default C{<name>-<kbit/s>} (see
        L{rung_names}).
    @ivar bitrate: kbit/s of the MP3 the mount's music is converted to;
        when set, only MP3 files at exactly this bitrate play unconverted;
        0 lets any bitrate pass (and converts at the first track's).
    @ivar sample_rate: the sample rate the mount plays, in Hz; 0 for the
        first track's (see L{radiod.ffmpeg.transcode}).
    @ivar channels: 1 or 2; 0 for the first track's.
    @ivar normalize: whether every track is brought to the same loudness
        (see L{radiod.audio.loudness}).
    """

    name: str = "/stream"
    music: str = ""
    shuffle: bool = False
    station_name: str = "radiod"
    genre: str = ""
    description: str = ""
    url: str = ""
    public: bool = False
    metaint: int = 16000
    burst_size: int = 64 * KIB
    queue_size: int = 512 * KIB
    max_listeners: int = 0
    charset: str = "utf-8"
    icy_status_line: bool = False
    rescan_interval: float = 30.0
    live_only: bool = False
    fallback: str = ""
    fallback_override: bool = True
    source_password: str = ""
    record: bool = False
    record_dir: str = "recordings"
    relay: str = ""
    push_to: tuple[str, ...] = ()
    ladder: tuple[int, ...] = ()
    ladder_names: tuple[str, ...] = ()
    bitrate: int = 0
    sample_rate: int = 0
    channels: int = 0
    normalize: bool = False

    def __post_init__(self) -> None:
        # Kept a tuple (hashable, equal after a JSON round trip) whatever
        # sequence the caller gives.
        object.__setattr__(self, "push_to", tuple(self.push_to))
        object.__setattr__(self, "ladder", tuple(self.ladder))
        object.__setattr__(self, "ladder_names", tuple(self.ladder_names))

    @property
    def rung_names(self) -> tuple[str, ...]:
        """
        The mount names of the rungs of this mount's L{ladder}, in order:
        L{ladder_names}, or C{<name>-<kbit/s>} (C{/stream-64}).
        """
        if self.ladder_names:
            return self.ladder_names
        return tuple(f"{self.name}-{kbps}" for kbps in self.ladder)


@dataclass(frozen=True)
class StationConfig:
    """
    The whole station.

    @ivar port: TCP port for listeners.
    @ivar interface: address to bind; empty or C{0.0.0.0} for all.
    @ivar max_listeners: listeners allowed on all mounts together; 0 for no
        limit.
    @ivar max_per_address: connections one client address may hold at
        once (listeners, pages, sources together); 0 for no limit.  Behind
        a trusted proxy, the address it forwards counts.
    @ivar header_timeout: seconds a client has to send a complete request.
    @ivar send_buffer: the kernel send buffer (C{SO_SNDBUF}) of each
        listener's socket, or 0 to let the kernel size it.  Bounding it
        bounds the audio that can pile up unseen in the kernel for a
        stalled listener, so the queue size decides when it is dropped.
    @ivar workers: processes serving listeners; more than 1 starts worker
        processes that share the port and relay the main process's
        programme (see L{radiod.station.workers}).  Listener limits are shared out
        evenly between them.
    @ivar mounts: the mounts; the first is the default mount, which C{/;}
        and C{/;stream.mp3} also reach.
    @ivar source_password: the password live sources give; empty refuses
        live sources (unless a mount sets its own).
    @ivar admin_user: the user name for the admin interface.
    @ivar admin_password: the admin password; empty for the one kept in
        the state folder, generated at the first start (see
        L{radiod.auth.with_admin_password}, which the entry points
        call).  A station built with an empty one refuses every admin
        login.
    @ivar state_dir: the folder where the station keeps what it must
        remember across restarts (the play history, the generated admin
        password), created when needed; empty for L{DEFAULT_STATE_DIR} in
        the working directory.
    @ivar access_log: the file the access log is appended to (see
        L{radiod.wire.accesslog}); C{"-"} for standard output; empty for none.
    @ivar log_format: C{"text"}, or C{"json"} for one JSON object per log
        event (see L{radiod.station.jsonlog}).
    @ivar cache_dir: the folder where converted tracks and measured
        loudness are kept (see L{radiod.ffmpeg.transcode}), created when needed;
        empty for C{"cache"} in the state folder (see L{cache_path}).
    @ivar cache_size: the size, in bytes, the conversion cache is kept to.
    @ivar trusted_proxies: the addresses and CIDR networks of reverse
        proxies whose C{X-Forwarded-For} header names the client (see
        L{radiod.forwarded}); empty to ignore the header.
    @ivar tls_port: the port of the HTTPS listener (streams, pages,
        sources, admin, as on L{port}); 0 for none.
    @ivar tls_cert: the PEM file of its certificate (with any
        intermediates after it).
    @ivar tls_key: the PEM file of its private key; empty when the key is
        in L{tls_cert}.
    @ivar tls_ca: a PEM file of the authorities trusted when radiod
        connects to C{https://} servers (relays, pushes); empty for the
        system's.
    """

    port: int = 8000
    interface: str = ""
    max_listeners: int = 0
    max_per_address: int = 100
    header_timeout: float = 15.0
    send_buffer: int = 64 * KIB
    workers: int = 1
    mounts: tuple[MountConfig, ...] = field(default_factory=lambda: (MountConfig(),))
    source_password: str = ""
    admin_user: str = "admin"
    admin_password: str = ""
    state_dir: str = ""
    access_log: str = ""
    log_format: str = "text"
    trusted_proxies: tuple[str, ...] = ()
    cache_dir: str = ""
    cache_size: int = 2 * KIB**3
    tls_port: int = 0
    tls_cert: str = ""
    tls_key: str = ""
    tls_ca: str = ""

    def __post_init__(self) -> None:
        # Kept a tuple (hashable, equal after a JSON round trip) whatever
        # sequence the caller gives.
        object.__setattr__(self, "trusted_proxies", tuple(self.trusted_proxies))

    @property
    def state_path(self) -> str:
        """
        The folder the station keeps its state in: L{state_dir}, or
        L{DEFAULT_STATE_DIR} when that is empty.
        """
        return self.state_dir or DEFAULT_STATE_DIR

    @property
    def cache_path(self) -> str:
        """
        The folder converted tracks are kept in: L{cache_dir}, or
        C{"cache"} in the L{state_path} when that is empty.
        """
        return self.cache_dir or os.path.join(self.state_path, DEFAULT_CACHE_DIR)

    @property
    def default_mount(self) -> MountConfig:
        """
        The mount that C{/;} reaches.
        """
        return self.mounts[0]


class _Invalid(Exception):
    """
    A value is wrong; carries the key and the reason, without a file name.
    """

    def __init__(
        self, path: KeyPath, reason: str, alternatives: Sequence[tuple[KeyPath, str]] = ()
    ) -> None:
        super().__init__(reason)
        self.path = path
        self.reason = reason
        self.alternatives = tuple(alternatives)


# Values: converting what tomllib gives into what the dataclasses hold.

_SIZE = re.compile(r"\s*(\d+)\s*([A-Za-z]*)\s*")
_SIZE_UNITS = {"": 1, "b": 1, "k": KIB, "kib": KIB, "m": KIB**2, "mib": KIB**2}
_SIZE_UNITS.update({"g": KIB**3, "gib": KIB**3})
_CHARSET_NAMES = {"utf-8": "utf-8", "utf8": "utf-8", "latin-1": "latin-1", "latin1": "latin-1"}
_CHARSET_NAMES.update({"iso-8859-1": "latin-1", "iso8859-1": "latin-1"})


def parse_http_url(url: str) -> tuple[str, int, str]:
    """
    Read the URL of a stream to relay.

    @param url: C{http://host[:port][/path][?query]}, or C{https://...}
        (see L{is_tls_url}).
    @return: the host, the port (80, or 443 for C{https}, when not given)
        and the path with its query (C{"/"} when empty).
    @raise ValueError: with a short reason, if C{url} is not such a URL.
    """
    if not url.isprintable() or any(c.isspace() for c in url):
        raise ValueError(f"must be a URL without spaces or control characters: {url!r}")
    parts = urlsplit(url)
    if parts.scheme.lower() not in ("http", "https"):
        raise ValueError(f"must be an http:// or https:// URL, not {url!r}")
    if parts.username is not None or parts.password is not None:
        raise ValueError(f"must not contain a user or password: {url!r}")
    host = parts.hostname
    if not host:
        raise ValueError(f"must name a host: {url!r}")
    try:
        port = parts.port
    except ValueError:
        raise ValueError(f"has a bad port: {url!r}") from None
    if port == 0:
        raise ValueError(f"has a bad port: {url!r}")
    path = parts.path or "/"
    if parts.query:
        path += "?" + parts.query
    return host, port or (443 if is_tls_url(url) else 80), path


def is_tls_url(url: str) -> bool:
    """
    Whether C{url} is an C{https://} URL (a connection made with TLS, the
    server's certificate and name checked).
    """
    return urlsplit(url).scheme.lower() == "https"


def parse_push_url(url: str) -> tuple[str, str, str, int, str]:
    """
    Read the URL of a server mount to push to as a source.

    @param url: C{http://[user]:password@host[:port]/mount}; the user is
        C{source} when empty, the port 80 when not given.
    @return: the user, the password, the host, the port and the mount.
    @raise ValueError: with a short reason that never shows the password,
        if C{url} is not such a URL.
    """
    if not url.isprintable() or any(c.isspace() for c in url):
        raise ValueError("must be a URL without spaces or control characters")
    parts = urlsplit(url)
    if parts.password is None:
        raise ValueError("must give the source password: http://user:password@host:port/mount")
    user = unquote(parts.username or "") or "source"
    password = unquote(parts.password)
    bare = parts._replace(netloc=parts.netloc.rpartition("@")[2]).geturl()
    host, port, mount = parse_http_url(bare)
    if mount == "/" or parts.query or parts.fragment:
        raise ValueError(f"must name a mount and nothing after it: {bare!r}")
    if ":" in user:
        raise ValueError("the user must not contain ':'")
    return user, password, host, port, mount


def parse_size(text: str) -> int:
    """
    Read a size in bytes written with an optional binary unit.

    @param text: C{"65536"}, C{"64KiB"}, C{"512 KiB"}, C{"1MiB"}, C{"1G"};
        units are B, K or KiB, M or MiB, G or GiB, in any case.
    @return: the number of bytes.
    @raise ValueError: with a short reason, if C{text} is not such a size.
    """
    match = _SIZE.fullmatch(text)
    if match is None:
        raise ValueError(f"{text!r} is not a size (write bytes, or a number with KiB or MiB)")
    number, unit = match.groups()
    factor = _SIZE_UNITS.get(unit.lower())
    if factor is None:
        raise ValueError(f"unknown unit {unit!r} in {text!r} (use B, KiB, MiB or GiB)")
    return int(number) * factor


def normalize_charset(name: str) -> str:
    """
    Name a supported ICY title charset the way radiod spells it.

    @param name: C{"UTF-8"}, C{"utf8"}, C{"latin-1"}, C{"ISO-8859-1"} ...
    @return: C{"utf-8"} or C{"latin-1"}.
    @raise ValueError: for any other charset.
    """
    canonical = _CHARSET_NAMES.get(name.strip().lower().replace("_", "-"))
    if canonical is None:
        raise ValueError(f'must be "utf-8" or "latin-1", not {name!r}')
    return canonical


def _type_name(value: object) -> str:
    """
    Describe a TOML value's type the way the TOML specification does.
    """
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, float):
        return "a float"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, dict):
        return "a table"
    return "a date or time"


def _string(value: object) -> str:
    if not isinstance(value, str):
        raise ValueError(f"must be a string, not {_type_name(value)}")
    return value


def _boolean(value: object) -> bool:
    if not isinstance(value, bool):
        raise ValueError(f"must be true or false, not {_type_name(value)}")
    return value


def _integer(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"must be an integer, not {_type_name(value)}")
    return value


def _number(value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"must be a number, not {_type_name(value)}")
    return float(value)


def _size(value: object) -> int:
    if isinstance(value, str):
        return parse_size(value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f'must be a size such as 65536 or "64KiB", not {_type_name(value)}')
    return value


def _url_list(value: object) -> tuple[str, ...]:
    if isinstance(value, str):
        return (value,)
    if not isinstance(value, list):
        raise ValueError(f"must be a list of URLs, not {_type_name(value)}")
    return tuple(_string(item) for item in value)


def _bitrate_list(value: object) -> tuple[int, ...]:
    if isinstance(value, int) and not isinstance(value, bool):
        return (value,)
    if not isinstance(value, list):
        raise ValueError(f"must be a list of bitrates in kbit/s, not {_type_name(value)}")
    return tuple(_integer(item) for item in value)


def _name_list(value: object) -> tuple[str, ...]:
    if isinstance(value, str):
        return (value,)
    if not isinstance(value, list):
        raise ValueError(f"must be a list of mount names, not {_type_name(value)}")
    return tuple(_string(item) for item in value)


def _address_list(value: object) -> tuple[str, ...]:
    if isinstance(value, str):
        return (value,)
    if not isinstance(value, list):
        raise ValueError(f"must be a list of addresses and networks, not {_type_name(value)}")
    return tuple(_string(item) for item in value)


def _charset(value: object) -> str:
    return normalize_charset(_string(value))


def _status_line(value: object) -> bool:
    style = _string(value).strip().lower()
    if style not in ("http", "icy"):
        raise ValueError(f'must be "http" or "icy", not {value!r}')
    return style == "icy"


_Converter = Callable[[object], Any]

# TOML key: (dataclass field, converter)
_SERVER_KEYS: dict[str, tuple[str, _Converter]] = {
    "port": ("port", _integer),
    "interface": ("interface", _string),
    "max_listeners": ("max_listeners", _integer),
    "max_per_address": ("max_per_address", _integer),
    "header_timeout": ("header_timeout", _number),
    "send_buffer": ("send_buffer", _size),
    "workers": ("workers", _integer),
    "source_password": ("source_password", _string),
    "admin_user": ("admin_user", _string),
    "admin_password": ("admin_password", _string),
    "state_dir": ("state_dir", _string),
    "access_log": ("access_log", _string),
    "tls_port": ("tls_port", _integer),
    "tls_cert": ("tls_cert", _string),
    "tls_key": ("tls_key", _string),
    "tls_ca": ("tls_ca", _string),
    "log_format": ("log_format", _string),
    "trusted_proxies": ("trusted_proxies", _address_list),
    "cache_dir": ("cache_dir", _string),
    "cache_size": ("cache_size", _size),
}
_MOUNT_KEYS: dict[str, tuple[str, _Converter]] = {
    "name": ("name", _string),
    "music": ("music", _string),
    "shuffle": ("shuffle", _boolean),
    "station_name": ("station_name", _string),
    "genre": ("genre", _string),
    "description": ("description", _string),
    "url": ("url", _string),
    "public": ("public", _boolean),
    "metaint": ("metaint", _integer),
    "burst_size": ("burst_size", _size),
    "queue_size": ("queue_size", _size),
    "max_listeners": ("max_listeners", _integer),
    "charset": ("charset", _charset),
    "status_line": ("icy_status_line", _status_line),
    "rescan_interval": ("rescan_interval", _number),
    "live_only": ("live_only", _boolean),
    "fallback": ("fallback", _string),
    "fallback_override": ("fallback_override", _boolean),
    "source_password": ("source_password", _string),
    "record": ("record", _boolean),
    "record_dir": ("record_dir", _string),
    "relay": ("relay", _string),
    "push_to": ("push_to", _url_list),
    "ladder": ("ladder", _bitrate_list),
    "ladder_names": ("ladder_names", _name_list),
    "bitrate": ("bitrate", _integer),
    "sample_rate": ("sample_rate", _integer),
    "channels": ("channels", _integer),
    "normalize": ("normalize", _boolean),
}
_MOUNT_FIELD_KEYS = {field_name: key for key, (field_name, _) in _MOUNT_KEYS.items()}


def _unknown(key: str, known: Sequence[str]) -> str:
    """
    Explain an unknown key, suggesting the known key it most resembles.
    """
    close = difflib.get_close_matches(key, known, n=1)
    if close:
        return f'unknown key (did you mean "{close[0]}"?)'
    return "unknown key (known keys: " + ", ".join(known) + ")"


def _convert(
    table: Mapping[str, object], keys: Mapping[str, tuple[str, _Converter]], where: KeyPath
) -> dict[str, Any]:
    """
    Check and convert every key of one TOML table into dataclass arguments.
    """
    arguments: dict[str, Any] = {}
    for key, value in table.items():
        if key not in keys:
            raise _Invalid((*where, key), _unknown(key, list(keys)))
        field_name, converter = keys[key]
        try:
            arguments[field_name] = converter(value)
        except ValueError as e:
            raise _Invalid((*where, key), str(e)) from None
    return arguments


def _build(document: Mapping[str, object], base: StationConfig) -> StationConfig:
    """
    Turn a parsed TOML document into a (not yet checked) configuration.
    """
    for key in document:
        if key not in ("server", "mount"):
            raise _Invalid((key,), _unknown(key, ["server", "mount"]))
    server = document.get("server", {})
    if not isinstance(server, dict):
        raise _Invalid(("server",), "must be a table ([server])")
    config = replace(base, **_convert(server, _SERVER_KEYS, ("server",)))
    if "mount" not in document:
        return config
    tables = document["mount"]
    if not isinstance(tables, list) or not all(isinstance(t, dict) for t in tables):
        raise _Invalid(("mount",), "must be an array of tables, each one starting [[mount]]")
    mounts = []
    for index, table in enumerate(tables):
        if "name" not in table:
            raise _Invalid(
                ("mount", index, "name"), 'missing (every mount needs one, like "/stream")'
            )
        mounts.append(MountConfig(**_convert(table, _MOUNT_KEYS, ("mount", index))))
    return replace(config, mounts=tuple(mounts))


# Checks on the finished values: shared by files and the command line.


def _one_line(path: KeyPath, text: str) -> None:
    if not text.isprintable():
        raise _Invalid(path, "must be one line of text, without control characters")


def _check_mount_name(path: KeyPath, name: str) -> None:
    if not name.startswith("/") or len(name) < 2:
        raise _Invalid(path, f'must start with "/" and name something, not {name!r}')
    if any(c.isspace() for c in name):
        raise _Invalid(path, f"must not contain spaces: {name!r}")
    _one_line(path, name)
    for bad in "?#;":
        if bad in name:
            raise _Invalid(path, f"must not contain {bad!r}: {name!r}")
    if ".." in name:
        raise _Invalid(path, f"must not contain '..': {name!r}")
    if name.lower().endswith(PLAYLIST_SUFFIXES):
        raise _Invalid(path, f"must not end with .m3u, .pls or .xspf (playlist URLs): {name!r}")


def _check_range(path: KeyPath, value: float, low: float, high: float, unit: str = "") -> None:
    if not low <= value <= high:
        raise _Invalid(path, f"must be between {low} and {high}{unit}, not {value}")


def _check_mount(index: int, mount: MountConfig, path_exists: Callable[[str], bool] | None) -> None:
    def at(field_name: str) -> KeyPath:
        return ("mount", index, _MOUNT_FIELD_KEYS[field_name])

    _check_mount_name(at("name"), mount.name)
    for field_name in ("station_name", "genre", "description", "url", "music", "record_dir"):
        _one_line(at(field_name), getattr(mount, field_name))
    if not mount.record_dir:
        raise _Invalid(at("record_dir"), "must name a folder, not be empty")
    if mount.relay:
        try:
            parse_http_url(mount.relay)
        except ValueError as e:
            raise _Invalid(at("relay"), str(e)) from None
    for position, url in enumerate(mount.push_to):
        try:
            parse_push_url(url)
        except ValueError as e:
            raise _Invalid(at("push_to"), f"entry {position}: {e}") from None
    if len(set(mount.push_to)) < len(mount.push_to):
        raise _Invalid(at("push_to"), "lists the same URL twice")
    if mount.music and path_exists is not None and not path_exists(mount.music):
        raise _Invalid(at("music"), f"no such file or folder: {mount.music}")
    _check_range(at("metaint"), mount.metaint, *METAINT_RANGE)
    _check_range(at("queue_size"), mount.queue_size, *QUEUE_SIZE_RANGE, " bytes")
    if mount.burst_size < 0:
        raise _Invalid(at("burst_size"), f"must be 0 or more, not {mount.burst_size}")
    if mount.burst_size >= mount.queue_size:
        raise _Invalid(
            at("burst_size"),
            f"must be smaller than queue_size ({mount.queue_size})",
            [(at("queue_size"), f"must be larger than burst_size ({mount.burst_size})")],
        )
    if mount.max_listeners < 0:
        raise _Invalid(
            at("max_listeners"), f"must be 0 (no limit) or more, not {mount.max_listeners}"
        )
    if mount.charset not in CHARSETS:
        raise _Invalid(at("charset"), f'must be "utf-8" or "latin-1", not {mount.charset!r}')
    if not (math.isfinite(mount.rescan_interval) and mount.rescan_interval > 0):
        raise _Invalid(
            at("rescan_interval"), f"must be more than 0 seconds, not {mount.rescan_interval}"
        )
    _check_ladder(at("ladder"), at("ladder_names"), mount)
    _check_format(at, mount)


def _check_format(at: Callable[[str], KeyPath], mount: MountConfig) -> None:
    """
    Check a mount's format keys: an MP3 sample rate, 1 or 2 channels, and
    a bitrate an MP3 encoder writes at that sample rate (at some sample
    rate, when it is left to the first track); none on a live-only mount.
    """
    if mount.sample_rate and mount.sample_rate not in MP3_SAMPLE_RATES:
        rates = ", ".join(str(rate) for rate in MP3_SAMPLE_RATES)
        raise _Invalid(
            at("sample_rate"),
            f"must be 0 (the first track's) or an MP3 sample rate ({rates}), "
            f"not {mount.sample_rate}",
        )
    if mount.channels not in (0, 1, 2):
        raise _Invalid(
            at("channels"), f"must be 0 (the first track's), 1 or 2, not {mount.channels}"
        )
    allowed = mp3_bitrates(mount.sample_rate)
    if mount.bitrate and mount.bitrate not in allowed:
        where = f" at {mount.sample_rate} Hz" if mount.sample_rate else ""
        rates = ", ".join(str(rate) for rate in allowed)
        raise _Invalid(
            at("bitrate"),
            f"must be 0 (any) or an MP3 bitrate{where} in kbit/s ({rates}), not {mount.bitrate}",
        )
    if mount.live_only:
        for field_name in ("bitrate", "sample_rate", "channels", "normalize"):
            if getattr(mount, field_name):
                raise _Invalid(
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
            raise _Invalid(path, f"{kbps} is not an MP3 bitrate (kbit/s: {rates})")
        if kbps in mount.ladder[:position]:
            raise _Invalid(path, f"lists {kbps} twice")
        if kbps == mount.bitrate:
            raise _Invalid(path, f"{kbps} is the mount's own bitrate")
        rate = ladder_sample_rate(kbps, mount.sample_rate)
        if mount.sample_rate and kbps not in mp3_bitrates(rate):
            rates = ", ".join(str(choice) for choice in mp3_bitrates(rate))
            raise _Invalid(
                path,
                f"an MP3 at {rate} Hz cannot have {kbps} kbit/s (kbit/s: {rates})",
            )
    if mount.ladder_names and len(mount.ladder_names) != len(mount.ladder):
        raise _Invalid(
            names_path,
            f"must give one name per entry of ladder ({len(mount.ladder)}), "
            f"not {len(mount.ladder_names)}",
        )
    for position, name in enumerate(mount.ladder_names):
        try:
            _check_mount_name(names_path, name)
        except _Invalid as e:
            raise _Invalid(names_path, f"entry {position}: {e.reason}") from None


def _check_rung_names(mounts: Sequence[MountConfig]) -> None:
    """
    Check that no rung of a ladder takes the name of a mount or of
    another rung, and that live-only mounts have none.
    """
    owners = {mount.name: f"mount[{index}]" for index, mount in enumerate(mounts)}
    for index, mount in enumerate(mounts):
        key = "ladder_names" if mount.ladder_names else "ladder"
        if mount.ladder and mount.live_only:
            raise _Invalid(
                ("mount", index, "ladder"),
                "a live_only mount has no ladder (its listeners move to its fallback "
                "between shows)",
            )
        for name in mount.rung_names:
            if name in owners:
                raise _Invalid(
                    ("mount", index, key), f"{name!r} is already the name of {owners[name]}"
                )
            owners[name] = f"a rung of mount[{index}]"


def _check_tls(config: StationConfig, path_exists: Callable[[str], bool] | None) -> None:
    for key in ("tls_cert", "tls_key", "tls_ca"):
        value = getattr(config, key)
        _one_line(("server", key), value)
        if value and path_exists is not None and not path_exists(value):
            raise _Invalid(("server", key), f"no such file: {value}")
    if not config.tls_port:
        if config.tls_port < 0:
            raise _Invalid(("server", "tls_port"), f"must be a port, not {config.tls_port}")
        return
    _check_range(("server", "tls_port"), config.tls_port, *PORT_RANGE)
    if config.tls_port in (config.port, config.port + 1) and config.port:
        raise _Invalid(
            ("server", "tls_port"),
            f"must differ from port ({config.port}) and the SHOUTcast source port after it",
        )
    if not config.tls_cert:
        raise _Invalid(
            ("server", "tls_port"), "needs tls_cert (and tls_key, unless the cert holds it)"
        )


def _check_fallbacks(mounts: Sequence[MountConfig]) -> None:
    by_name = {mount.name: mount for mount in mounts}
    for index, mount in enumerate(mounts):
        if mount.fallback == mount.name:
            raise _Invalid(("mount", index, "fallback"), "must name another mount, not this one")
        if mount.fallback and mount.fallback not in by_name:
            raise _Invalid(("mount", index, "fallback"), f"no mount is named {mount.fallback!r}")
        if mount.fallback and not mount.live_only:
            raise _Invalid(
                ("mount", index, "fallback"),
                "only a live_only mount falls back (a mount with music always has audio)",
            )
        if mount.live_only and mount.music:
            raise _Invalid(("mount", index, "music"), "a live_only mount plays no music")
    for index, mount in enumerate(mounts):
        chain = [mount.name]
        while by_name[chain[-1]].fallback:
            chain.append(by_name[chain[-1]].fallback)
            if chain[-1] in chain[:-1]:
                loop = " -> ".join(chain)
                raise _Invalid(
                    ("mount", index, "fallback"), f"fallbacks go round in a loop: {loop}"
                )


def _check(config: StationConfig, path_exists: Callable[[str], bool] | None) -> None:
    """
    Raise L{_Invalid} for the first value in C{config} that cannot be used.
    """
    _check_range(("server", "port"), config.port, *PORT_RANGE)
    interface = config.interface
    if any(c.isspace() for c in interface) or not interface.isprintable():
        raise _Invalid(
            ("server", "interface"), f"must be an address, or empty for all: {interface!r}"
        )
    if config.max_per_address < 0:
        raise _Invalid(
            ("server", "max_per_address"),
            f"must be 0 (no limit) or more, not {config.max_per_address}",
        )
    if config.max_listeners < 0:
        raise _Invalid(
            ("server", "max_listeners"), f"must be 0 (no limit) or more, not {config.max_listeners}"
        )
    timeout = config.header_timeout
    if not 0 < timeout <= HEADER_TIMEOUT_MAX:  # also refuses nan
        raise _Invalid(
            ("server", "header_timeout"),
            f"must be more than 0 and at most {HEADER_TIMEOUT_MAX:g} seconds, not {timeout:g}",
        )
    if (
        config.send_buffer != 0
        and not SEND_BUFFER_RANGE[0] <= config.send_buffer <= SEND_BUFFER_RANGE[1]
    ):
        raise _Invalid(
            ("server", "send_buffer"),
            f"must be 0 (kernel default) or between {SEND_BUFFER_RANGE[0]} and "
            f"{SEND_BUFFER_RANGE[1]} bytes, not {config.send_buffer}",
        )
    if not 1 <= config.workers <= WORKERS_MAX:
        raise _Invalid(
            ("server", "workers"), f"must be between 1 and {WORKERS_MAX}, not {config.workers}"
        )
    if not config.admin_user or ":" in config.admin_user or not config.admin_user.isprintable():
        raise _Invalid(("server", "admin_user"), 'must be a non-empty name without ":"')
    for key in ("source_password", "admin_password", "state_dir", "access_log", "cache_dir"):
        _one_line(("server", key), getattr(config, key))
    _check_tls(config, path_exists)
    if config.cache_size < CACHE_SIZE_MIN:
        raise _Invalid(
            ("server", "cache_size"),
            f"must be at least {CACHE_SIZE_MIN} bytes (1MiB), not {config.cache_size}",
        )
    if config.log_format not in LOG_FORMATS:
        raise _Invalid(
            ("server", "log_format"), f'must be "text" or "json", not {config.log_format!r}'
        )
    try:
        parse_networks(config.trusted_proxies)
    except ValueError as e:
        raise _Invalid(("server", "trusted_proxies"), str(e)) from None
    if not config.mounts:
        raise _Invalid(("mount",), "at least one mount is needed")
    first_index: dict[str, int] = {}
    for index, mount in enumerate(config.mounts):
        _check_mount(index, mount, path_exists)
        _one_line(("mount", index, "source_password"), mount.source_password)
        if mount.name in first_index:
            first = first_index[mount.name]
            raise _Invalid(
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
    _check_fallbacks(config.mounts)
    _check_rung_names(config.mounts)
    for index, mount in enumerate(config.mounts):
        if mount.live_only and config.workers > 1:
            raise _Invalid(
                ("mount", index, "live_only"),
                "needs workers = 1 (one process takes the live sources)",
            )


def format_key_path(path: KeyPath) -> str:
    """
    Spell a key path the way error messages do: C{mount[1].burst_size}.

    @param path: the path, such as C{("mount", 1, "burst_size")}.
    @return: the dotted form; keys that are not bare TOML keys are quoted.
    """
    text = ""
    for part in path:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            name = part if _BARE_KEY.fullmatch(part) else '"' + part.replace('"', '\\"') + '"'
            text += "." + name if text else name
    return text


def validate(config: StationConfig, path_exists: Callable[[str], bool] | None = None) -> None:
    """
    Check a configuration however it was built (file, command line, code).

    @param config: the configuration.
    @param path_exists: if given, C{music} paths are checked with it.
    @raise ConfigError: naming the first key at fault, as in
        C{mount[0].metaint: must be between 256 and 65535, not 0}.
    """
    try:
        _check(config, path_exists)
    except _Invalid as e:
        raise ConfigError(
            f"{format_key_path(e.path)}: {e.reason}", e.path, e.reason, e.alternatives
        ) from None


# Finding the line a key is on.

_KEY_PART = r'(?:[A-Za-z0-9_-]+|"(?:[^"\\]|\\.)*"|\'[^\']*\')'
_BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")
_DOTTED = rf"{_KEY_PART}(?:\s*\.\s*{_KEY_PART})*"
_ARRAY_HEADER = re.compile(rf"\s*\[\[\s*({_DOTTED})\s*\]\]")
_TABLE_HEADER = re.compile(rf"\s*\[\s*({_DOTTED})\s*\]")
_KEY_LINE = re.compile(rf"\s*({_DOTTED})\s*=(.*)")
_PART = re.compile(_KEY_PART)


def _key_parts(dotted: str) -> tuple[str, ...]:
    parts = []
    for part in _PART.findall(dotted):
        if part[0] == '"':
            try:
                part = json.loads(part)
            except ValueError:
                part = part[1:-1]
        elif part[0] == "'":
            part = part[1:-1]
        parts.append(part)
    return tuple(parts)


def _key_lines(text: str) -> dict[KeyPath, int]:
    """
    Map each table and key path in a TOML text to the line (from 1) that
    declares it.  The Nth C{[[name]]} block is C{(name, N - 1)}.
    """
    lines: dict[KeyPath, int] = {}
    counts: dict[tuple[str, ...], int] = {}
    table: KeyPath = ()
    open_quote = ""
    for number, line in enumerate(text.splitlines(), start=1):
        if open_quote:
            if line.count(open_quote) % 2:
                open_quote = ""
            continue
        if match := _ARRAY_HEADER.match(line):
            name = _key_parts(match.group(1))
            counts[name] = counts.get(name, -1) + 1
            table = (*name, counts[name])
        elif match := _TABLE_HEADER.match(line):
            table = _key_parts(match.group(1))
        elif match := _KEY_LINE.match(line):
            key = (*table, *_key_parts(match.group(1)))
            lines.setdefault(key, number)
            for quote in ('"""', "'''"):
                if match.group(2).count(quote) % 2:
                    open_quote = quote
            continue
        else:
            continue
        lines.setdefault(table, number)
    return lines


def find_key_line(text: str, path: KeyPath) -> int | None:
    """
    Find the line of a TOML text that declares a key, or else the nearest
    enclosing table that is written out.

    @param text: the TOML document.
    @param path: the key, such as C{("mount", 1, "burst_size")}.
    @return: the line number, counting from 1, or C{None} if neither the
        key nor any table around it appears in the text.
    """
    lines = _key_lines(text)
    for end in range(len(path), 0, -1):
        if path[:end] in lines:
            return lines[path[:end]]
    return None


def _file_error(filename: str, text: str, problem: _Invalid) -> ConfigError:
    """
    Build the one-line error for a problem found in a file, blaming the
    key the file actually sets.
    """
    lines = _key_lines(text)
    path, reason = problem.path, problem.reason
    if path not in lines:
        for other_path, other_reason in problem.alternatives:
            if other_path in lines:
                path, reason = other_path, other_reason
                break
    line = find_key_line(text, path)
    where = filename if line is None else f"{filename} line {line}"
    return ConfigError(f"{where}: {format_key_path(path)}: {reason}", path, reason)


def _syntax_error(filename: str, text: str, error: tomllib.TOMLDecodeError) -> ConfigError:
    message = " ".join(str(error).split())
    match = re.search(r"\s*\(at line (\d+), column (\d+)\)$", message)
    if match:
        line = int(match.group(1))
        message = f"{message[: match.start()]} (column {match.group(2)})"
    else:
        line = max(len(text.splitlines()), 1)
        message = message.replace(" (at end of document)", " (at end of file)")
    return ConfigError(f"{filename} line {line}: not valid TOML: {message}")


def load_config(
    text: str,
    filename: str = "radiod.toml",
    base: StationConfig | None = None,
    path_exists: Callable[[str], bool] | None = None,
) -> StationConfig:
    """
    Read a configuration from the text of a TOML file.  Performs no I/O
    unless C{path_exists} does.

    @param text: the file's contents.
    @param filename: the file's name, for messages and for finding
        relative C{music} and C{record_dir} paths.
    @param base: the configuration the file's server keys change, and whose
        mounts are kept if the file declares none; by default the
        built-in defaults.  Declared mounts start from L{MountConfig}'s
        defaults.
    @param path_exists: if given, each C{music} path must satisfy it.
    @return: the checked configuration.
    @raise ConfigError: with a one-line message naming C{filename}, the line
        and the key.
    """
    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise _syntax_error(filename, text, e) from None
    folder = os.path.dirname(filename)
    try:
        config = _build(document, base or StationConfig())
        if folder and "mount" in document:
            tables = document["mount"]
            mounts = tuple(
                replace(
                    m,
                    music=os.path.join(folder, m.music) if m.music else "",
                    record_dir=(
                        os.path.join(folder, m.record_dir)
                        if m.record_dir and "record_dir" in table
                        else m.record_dir
                    ),
                )
                for m, table in zip(config.mounts, tables, strict=True)
            )
            config = replace(config, mounts=mounts)
        if folder and config.state_dir and "state_dir" in document.get("server", {}):
            config = replace(config, state_dir=os.path.join(folder, config.state_dir))
        if folder and config.cache_dir and "cache_dir" in document.get("server", {}):
            config = replace(config, cache_dir=os.path.join(folder, config.cache_dir))
        if (
            folder
            and config.access_log not in ("", "-")
            and "access_log" in document.get("server", {})
        ):
            config = replace(config, access_log=os.path.join(folder, config.access_log))
        server_keys = document.get("server", {})
        paths: dict[str, Any] = {
            key: os.path.join(folder, getattr(config, key))
            for key in ("tls_cert", "tls_key", "tls_ca")
            if folder and getattr(config, key) and key in server_keys
        }
        config = replace(config, **paths)
        _check(config, path_exists)
    except _Invalid as e:
        raise _file_error(filename, text, e) from None
    return config


def read_config(path: str) -> StationConfig:
    """
    Read and check a TOML configuration file; C{music} paths must exist.

    @param path: the file.
    @return: the checked configuration.
    @raise ConfigError: C{cannot read config <path>: <reason>} if the file
        cannot be read, else as L{load_config}.
    """
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError as e:
        raise ConfigError(f"cannot read config {path}: {e.strerror or e}") from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise ConfigError(f"cannot read config {path}: not UTF-8 text (byte {e.start})") from None
    return load_config(text, path, path_exists=os.path.exists)


def source_password(config: StationConfig, mount: str) -> str:
    """
    The password a source for C{mount} gives.

    @return: the mount's own source password if it is configured with one,
        else the station's (C{""} when none is set).
    """
    for mount_config in config.mounts:
        if mount_config.name == mount and mount_config.source_password:
            return mount_config.source_password
    return config.source_password
