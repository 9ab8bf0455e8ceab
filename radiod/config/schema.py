# -*- test-case-name: tests.config.test_schema -*-
"""
The configuration values: L{StationConfig} and its L{MountConfig}s,
frozen dataclasses with the built-in defaults.

Each field that a configuration file sets says so in its metadata: the
TOML key (the field's name unless told otherwise) and the converter from
L{radiod.config.values} that reads it.  L{server_keys} and L{mount_keys}
list them; the file reader and the checks take their keys from there, so
the schema is written once, here.  The user guide's sample file lists
every key with its default, and a test holds it to these fields.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from typing import TypeVar

import radiod.config.values as values
from radiod.config.values import KIB, Converter

__all__ = [
    "DEFAULT_CACHE_DIR",
    "DEFAULT_STATE_DIR",
    "FROM_STATION",
    "MountConfig",
    "PlaylistConfig",
    "Setting",
    "StationConfig",
    "WebhookConfig",
    "default_folders",
    "mount_keys",
    "playlist_keys",
    "server_keys",
    "source_password",
    "webhook_keys",
    "with_default_folders",
]

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

FROM_STATION = ("public_url", "default_art")
"""
The fields of L{MountConfig} that no mount table sets: each is a copy of
the station's key of the same name, which L{StationConfig} gives every one
of its mounts (a mount's ICY metadata names its cover art by the
station's public URL).
"""

_T = TypeVar("_T")
_SETTING = "radiod.config"


def _setting(default: _T, convert: Converter, key: str = "") -> _T:
    """
    A dataclass field that a configuration file sets.

    @param default: the field's default.
    @param convert: reads the TOML value into the field's value.
    @param key: the TOML key, when it is not the field's name.
    """
    return field(default=default, metadata={_SETTING: (key, convert)})


@dataclass(frozen=True)
class PlaylistConfig:
    """
    One of a mount's extra playlists (a C{[[mount.playlist]]} table): what
    it plays and how it takes its turn on the air beside the mount's own
    C{music}, the default rotation (see L{radiod.library.programme}).

    A playlist takes its turn in exactly one way: L{weight},
    L{every_songs}, L{every_minutes} or L{schedule}.
    """

    name: str = _setting("", values.string)
    """
    The playlist's name, unique on its mount (for logs, now-playing and
    history).
    """
    music: str = _setting("", values.string)
    """
    A folder or playlist file.
    """
    order: str = _setting("shuffle", values.string)
    """
    C{"shuffle"} (every item once, in random order, before any repeats)
    or C{"sequential"}.
    """
    weight: float = _setting(0.0, values.number)
    """
    Shares the default rotation's slots: a playlist of weight 2 beside the
    default rotation's 1 plays two songs for each one of the rotation's
    (see L{default_weight}).
    """
    every_songs: int = _setting(0, values.integer)
    """
    One item after every N songs (station IDs, jingles).
    """
    every_minutes: float = _setting(0.0, values.number)
    """
    One item as soon as the song playing ends once this many minutes have
    passed since the last one.
    """
    at_minute: int = _setting(-1, values.integer)
    """
    With L{every_minutes}, the item is due at this minute of each period
    of the wall clock instead (C{every_minutes = 60}, C{at_minute = 0}:
    the top of the hour); -1 to count from the last one.
    """
    schedule: tuple[str, ...] = _setting((), values.string_list("time windows"))
    """
    Time windows, such as C{"Mon-Fri 06:00-10:00"}, in the station's
    L{StationConfig.timezone}, during which the playlist replaces the
    default rotation (see L{radiod.library.schedule}).
    """
    jingle: bool = _setting(False, values.boolean)
    """
    Whether the items are jingles or station IDs: left out of the recently
    played history and of the rotation rules, and shown under L{title}.
    """
    title: str = _setting("", values.string)
    """
    The title shown while an item plays instead of its own tags; empty
    for the item's own, or, for a jingle, the title already on the air.
    """
    crossfade: float = _setting(-1.0, values.number)
    """
    Seconds this playlist's items overlap their neighbours; -1 for the
    mount's L{MountConfig.crossfade}, 0 for none.
    """

    def __post_init__(self) -> None:
        object.__setattr__(self, "schedule", tuple(self.schedule))

    @property
    def turn(self) -> str:
        """
        How the playlist takes its turn: C{"weight"}, C{"every_songs"},
        C{"every_minutes"} or C{"schedule"} (the first set, in that order),
        or C{""} when none is set.
        """
        for key in ("weight", "every_songs", "every_minutes", "schedule"):
            if getattr(self, key):
                return key
        return ""


@dataclass(frozen=True)
class WebhookConfig:
    """
    One C{[[webhook]]} table: a URL that station events are POSTed to
    (see L{radiod.outbound.webhooks}).
    """

    url: str = _setting("", values.string)
    """
    The C{http://} or C{https://} URL.
    """
    events: tuple[str, ...] = _setting((), values.string_list("event names"))
    """
    The events sent: any of C{track}, C{live_start}, C{live_end},
    C{silence}, C{station_up}, C{station_down}, C{listener_peak}; empty
    for all of them.
    """
    secret: str = _setting("", values.string)
    """
    When set, each body is signed with HMAC-SHA256 under this secret, in
    the C{X-Radiod-Signature} header (C{sha256=<hex>}).
    """

    def __post_init__(self) -> None:
        object.__setattr__(self, "events", tuple(self.events))


@dataclass(frozen=True)
class MountConfig:
    """
    One mount point: a URL path listeners connect to, and what it plays.
    """

    name: str = _setting("/stream", values.string)
    """
    The path, with its leading slash (C{"/stream"}).
    """
    music: str = _setting("", values.string)
    """
    A folder or playlist file to play; empty means the demo library
    shipped with radiod.
    """
    shuffle: bool = _setting(False, values.boolean)
    """
    Play in random order (reshuffled every round).
    """
    station_name: str = _setting("radiod", values.string)
    """
    C{icy-name}.
    """
    genre: str = _setting("", values.string)
    """
    C{icy-genre}.
    """
    description: str = _setting("", values.string)
    """
    C{icy-description}.
    """
    url: str = _setting("", values.string)
    """
    C{icy-url}, the station's home page.
    """
    public: bool = _setting(False, values.boolean)
    """
    C{icy-pub}: may directories list it.
    """
    metaint: int = _setting(16000, values.integer)
    """
    Audio bytes between ICY metadata blocks.
    """
    burst_size: int = _setting(64 * KIB, values.size)
    """
    Bytes of recent audio sent at once to a new listener.
    """
    queue_size: int = _setting(512 * KIB, values.size)
    """
    Bytes a listener may lag behind before it is dropped.
    """
    max_listeners: int = _setting(0, values.integer)
    """
    Listeners allowed on this mount; 0 for no limit.
    """
    charset: str = _setting("utf-8", values.charset)
    """
    C{"utf-8"} or C{"latin-1"}, for ICY titles.
    """
    icy_status_line: bool = _setting(False, values.status_line, key="status_line")
    """
    Answer C{ICY 200 OK} instead of C{HTTP/1.0 200 OK}; the file's
    C{status_line} key, C{"icy"} or C{"http"}.
    """
    rescan_interval: float = _setting(30.0, values.number)
    """
    Seconds between looks for library changes.
    """
    live_only: bool = _setting(False, values.boolean)
    """
    The mount plays only live sources (and its relay, if any): no music,
    and no audio between shows.
    """
    fallback: str = _setting("", values.string)
    """
    For a live-only mount, the name of the mount its listeners hear when
    it has no audio (see L{radiod.broadcast.fallback}); empty for none,
    when they are closed instead.
    """
    fallback_override: bool = _setting(True, values.boolean)
    """
    Whether listeners moved to the fallback come back when a live source
    returns.
    """
    fallback_when_full: bool = _setting(False, values.boolean)
    """
    Whether listeners beyond L{max_listeners} hear the L{fallback} mount
    instead of being refused (Icecast's C{fallback-when-full}).
    """
    deny_agents_file: str = _setting("", values.string)
    """
    A file of user agents refused on this mount, one pattern per line
    (C{*} for any characters), replacing the station's
    L{StationConfig.deny_agents_file}; empty for the station's (see
    L{radiod.wire.admission}).
    """
    allow_ips: str = _setting("", values.string)
    """
    A file of the only addresses and CIDR networks that may listen to
    this mount, one per line, replacing the station's
    L{StationConfig.allow_ips}; empty for the station's.
    """
    deny_ips: str = _setting("", values.string)
    """
    A file of addresses and CIDR networks refused on this mount,
    replacing the station's L{StationConfig.deny_ips}; empty for the
    station's.
    """
    source_password: str = _setting("", values.string)
    """
    The password a live source for this mount gives; empty to use the
    station's L{StationConfig.source_password}.
    """
    record: bool = _setting(False, values.boolean)
    """
    Whether each live show on this mount is written to a file (see
    L{radiod.ingest.recording}).
    """
    record_dir: str = _setting("recordings", values.string)
    """
    The folder recordings go into, created when needed.
    """
    intro: str = _setting("", values.string)
    """
    An MP3 file every new listener hears before joining the stream
    (Icecast's C{intro}); empty for none.  The listener's burst is
    shortened by its length, so it joins no further behind the head.
    """
    dump_file: str = _setting("", values.string)
    """
    A file everything the mount broadcasts is written to (Icecast's
    C{dump-file}; C{strftime} patterns allowed, see
    L{radiod.broadcast.dump}); empty for none.
    """
    dump_size: int = _setting(0, values.size)
    """
    The size at which the dump file is rotated to a new one; 0 for no
    limit.
    """
    dump_rotate: float = _setting(0.0, values.duration)
    """
    How often the dump file is rotated to a new one, on the clock's
    boundaries (C{"1h"}: on the hour); 0 for never.
    """
    hidden: bool = _setting(False, values.boolean)
    """
    Whether the mount is left off the public status pages, listings,
    stream lists and the page (its admin pages still show it).
    """
    auth_listener_add: str = _setting("", values.string)
    """
    A URL asked, with Icecast's C{listener_add} form, whether each new
    listener may listen (see L{radiod.outbound.urlauth}); empty to let
    everyone listen.
    """
    auth_listener_remove: str = _setting("", values.string)
    """
    A URL told, with Icecast's C{listener_remove} form, when a listener
    leaves; empty for none.
    """
    auth_mount_add: str = _setting("", values.string)
    """
    A URL told when the mount starts (Icecast's C{mount_add}).
    """
    auth_mount_remove: str = _setting("", values.string)
    """
    A URL told when the mount stops (Icecast's C{mount_remove}).
    """
    auth_stream: str = _setting("", values.string)
    """
    A URL asked, with Icecast's C{stream_auth} form, whether a live
    source may stream to the mount, instead of checking its password.
    """
    auth_user: str = _setting("", values.string)
    """
    The user radiod logs in to the authentication URLs as (HTTP basic);
    empty for none.
    """
    auth_password: str = _setting("", values.string)
    """
    The password for L{auth_user}.
    """
    auth_header: str = _setting("icecast-auth-user: 1", values.string)
    """
    The header (C{name: value}) in the reply that admits a listener.
    """
    auth_timelimit_header: str = _setting("icecast-auth-timelimit:", values.string)
    """
    The header in the reply giving the seconds an admitted listener may
    stay.
    """
    auth_headers: tuple[str, ...] = _setting((), values.string_list("header names"))
    """
    The listener's request headers passed on to C{listener_add}.
    """
    auth_header_prefix: str = _setting("ClientHeader.", values.string)
    """
    What the field of each passed header is named with.
    """
    auth_timeout: float = _setting(5.0, values.number)
    """
    Seconds to wait for the authentication URL.
    """
    auth_failure: str = _setting("deny", values.string)
    """
    What to do when the authentication URL cannot be reached, times out
    or fails: C{"deny"} refuses the listener, C{"allow"} lets it in.
    """
    auth_cache: float = _setting(0.0, values.duration)
    """
    Seconds an answer about the same listener (mount, user, password,
    address, agent) is kept; 0 to ask every time.
    """
    relay: str = _setting("", values.string)
    """
    The C{http://} URL of a stream this mount relays (see
    L{radiod.ingest.relay}), its music playing while the upstream is down;
    empty for none.
    """
    push_to: tuple[str, ...] = _setting((), values.string_list("URLs"))
    """
    C{http://user:password@host:port/mount} URLs of Icecast-compatible
    servers this mount is pushed to as a source (see
    L{radiod.outbound.relay}); empty for none.
    """
    ladder: tuple[int, ...] = _setting((), values.bitrate_list)
    """
    The bitrates, in kbit/s, of the rungs of this mount's bitrate ladder:
    extra mounts playing the same programme, at the same moment,
    re-encoded at these bitrates (see L{radiod.ffmpeg.ladder}); empty for
    none.
    """
    ladder_names: tuple[str, ...] = _setting((), values.string_list("mount names"))
    """
    The names of those mounts, one per entry of L{ladder}; empty for the
    default C{<name>-<kbit/s>} (see L{rung_names}).
    """
    bitrate: int = _setting(0, values.integer)
    """
    kbit/s of the MP3 the mount's music is converted to; when set, only
    MP3 files at exactly this bitrate play unconverted; 0 lets any bitrate
    pass (and converts at the first track's).
    """
    sample_rate: int = _setting(0, values.integer)
    """
    The sample rate the mount plays, in Hz; 0 for the first track's (see
    L{radiod.ffmpeg.transcoder}).
    """
    channels: int = _setting(0, values.integer)
    """
    1 or 2; 0 for the first track's.
    """
    normalize: bool = _setting(False, values.boolean)
    """
    Whether every track is brought to the same loudness (see
    L{radiod.audio.loudness}).
    """
    artist_separation: float = _setting(0.0, values.duration)
    """
    The least time, in seconds (or a duration such as C{"30m"}), between
    two tracks of the same artist; 0 for no rule (see
    L{radiod.library.rotation}).
    """
    title_separation: float = _setting(0.0, values.duration)
    """
    The least time between two plays of the same song; 0 for no rule.
    """
    hls: bool = _setting(False, values.boolean)
    """
    Whether the mount is also served as HLS under C{/hls/<name>/} (see
    L{radiod.hls}): every rung of its ladder, in segments and parts.
    """
    hls_segment: float = _setting(6.0, values.number)
    """
    The target length of an HLS segment, in seconds (a whole number of
    parts).
    """
    hls_part: float = _setting(1.0, values.number)
    """
    The target length of a low-latency HLS part, in seconds (a whole
    number of frames).
    """
    hls_aac: tuple[int, ...] = _setting((), values.bitrate_list)
    """
    The bitrates, in kbit/s, of AAC-LC renditions added to the mount's HLS
    (one ffmpeg encoder each), listed after its MP3 rungs; empty for none.
    """
    hls_window: float = _setting(60.0, values.number)
    """
    Seconds of HLS segments kept and listed in the media playlists.
    """
    default_weight: float = _setting(1.0, values.number)
    """
    The default rotation's (L{music}'s) weight beside playlists that share
    its slots by L{PlaylistConfig.weight}.
    """
    crossfade: float = _setting(0.0, values.number)
    """
    Seconds the end of one track overlaps the start of the next; 0 for
    none (see L{radiod.ffmpeg.crossfade}).
    """
    requests: bool = _setting(False, values.boolean)
    """
    Whether listeners may request songs through C{/api/v1/requests/} (see
    L{radiod.library.requests}).
    """
    request_threshold: float = _setting(3600.0, values.duration)
    """
    How long after a track played, or was requested, it may be requested
    again (a duration such as C{"60m"}).
    """
    request_limit: int = _setting(2, values.integer)
    """
    Requests one client address may have waiting at once.
    """
    request_queue: int = _setting(20, values.integer)
    """
    Requests that may wait at once on the mount.
    """
    silence_timeout: float = _setting(15.0, values.number)
    """
    Seconds of silence after which a live source or relay is taken off
    the air (see L{radiod.ingest.silence}); 0 to never take it off.
    """
    silence_threshold: float = _setting(-50.0, values.number)
    """
    The level, in dBFS, below which live audio counts as silence.
    """
    icy_art: bool = _setting(False, values.boolean)
    """
    Whether ICY metadata blocks name the cover art of the track playing,
    as C{StreamUrl='<URL>';} after its title (see
    L{radiod.broadcast.mount}); needs the station's
    L{StationConfig.public_url}.  Off by default: some players print the
    URL.
    """
    playlists: tuple[PlaylistConfig, ...] = ()
    """
    The mount's extra playlists, one C{[[mount.playlist]]} table each.
    """
    public_url: str = ""
    """
    The station's L{StationConfig.public_url}, copied by the station (see
    L{FROM_STATION}).
    """
    default_art: str = ""
    """
    The station's L{StationConfig.default_art}, copied by the station (see
    L{FROM_STATION}).
    """

    def __post_init__(self) -> None:
        # Kept a tuple (hashable, equal after a JSON round trip) whatever
        # sequence the caller gives.
        object.__setattr__(self, "playlists", tuple(self.playlists))
        object.__setattr__(self, "push_to", tuple(self.push_to))
        object.__setattr__(self, "ladder", tuple(self.ladder))
        object.__setattr__(self, "ladder_names", tuple(self.ladder_names))
        object.__setattr__(self, "hls_aac", tuple(self.hls_aac))
        object.__setattr__(self, "auth_headers", tuple(self.auth_headers))

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
    """

    port: int = _setting(8000, values.integer)
    """
    TCP port for listeners.
    """
    interface: str = _setting("", values.string)
    """
    Address to bind; empty or C{0.0.0.0} for all.
    """
    max_listeners: int = _setting(0, values.integer)
    """
    Listeners allowed on all mounts together; 0 for no limit.
    """
    max_per_address: int = _setting(100, values.integer)
    """
    Connections one client address may hold at once (listeners, pages,
    sources together); 0 for no limit.  Behind a trusted proxy, the
    address it forwards counts.
    """
    header_timeout: float = _setting(15.0, values.number)
    """
    Seconds a client has to send a complete request.
    """
    send_buffer: int = _setting(64 * KIB, values.size)
    """
    The kernel send buffer (C{SO_SNDBUF}) of each listener's socket, or 0
    to let the kernel size it.  Bounding it bounds the audio that can pile
    up unseen in the kernel for a stalled listener, so the queue size
    decides when it is dropped.
    """
    workers: int = _setting(1, values.integer)
    """
    Processes serving listeners; more than 1 starts worker processes that
    share the port and relay the main process's programme (see
    L{radiod.station.workers}).  Listener limits are shared out evenly
    between them.
    """
    mounts: tuple[MountConfig, ...] = field(default_factory=lambda: (MountConfig(),))
    """
    The mounts, one C{[[mount]]} table each; the first is the default
    mount, which C{/;} and C{/;stream.mp3} also reach.
    """
    source_password: str = _setting("", values.string)
    """
    The password live sources give; empty refuses live sources (unless a
    mount sets its own).
    """
    admin_user: str = _setting("admin", values.string)
    """
    The user name for the admin interface.
    """
    admin_password: str = _setting("", values.string)
    """
    The admin password; empty for the one kept in the state folder,
    generated at the first start (see L{radiod.auth.with_admin_password},
    which the entry points call).  A station built with an empty one
    refuses every admin login.
    """
    state_dir: str = _setting("", values.string)
    """
    The folder where the station keeps what it must remember across
    restarts (the play history, the generated admin password), created
    when needed; empty for L{DEFAULT_STATE_DIR} in the working directory.
    """
    access_log: str = _setting("", values.string)
    """
    The file the access log is appended to (see L{radiod.wire.accesslog});
    C{"-"} for standard output; empty for none.
    """
    tls_port: int = _setting(0, values.integer)
    """
    The port of the HTTPS listener (streams, pages, sources, admin, as on
    L{port}); 0 for none.
    """
    tls_cert: str = _setting("", values.string)
    """
    The PEM file of its certificate (with any intermediates after it).
    """
    tls_key: str = _setting("", values.string)
    """
    The PEM file of its private key; empty when the key is in
    L{tls_cert}.
    """
    tls_ca: str = _setting("", values.string)
    """
    A PEM file of the authorities trusted when radiod connects to
    C{https://} servers (relays, pushes); empty for the system's.
    """
    log_format: str = _setting("text", values.string)
    """
    C{"text"}, or C{"json"} for one JSON object per log event (see
    L{radiod.station.jsonlog}).
    """
    trusted_proxies: tuple[str, ...] = _setting((), values.string_list("addresses and networks"))
    """
    The addresses and CIDR networks of reverse proxies whose
    C{X-Forwarded-For} header names the client (see L{radiod.forwarded});
    empty to ignore the header.
    """
    deny_agents_file: str = _setting("", values.string)
    """
    A file of user agents refused (C{403}), one pattern per line, C{*}
    for any characters, without regard to case (see
    L{radiod.wire.admission}); empty for none.  Read again on a reload.
    """
    allow_ips: str = _setting("", values.string)
    """
    A file of the only addresses and CIDR networks that may listen, one
    per line; empty to let every address listen.  Read again on a
    reload.
    """
    deny_ips: str = _setting("", values.string)
    """
    A file of addresses and CIDR networks that may not listen (C{403}),
    one per line; empty for none.  Read again on a reload.
    """
    cache_dir: str = _setting("", values.string)
    """
    The folder where converted tracks and measured loudness are kept (see
    L{radiod.ffmpeg.cache}), created when needed; empty for
    C{"cache"} in the state folder (see L{cache_path}).
    """
    cache_size: int = _setting(2 * KIB**3, values.size)
    """
    The size, in bytes, the conversion cache is kept to.
    """
    origin: str = _setting("", values.string)
    """
    The C{http://} URL of another radiod this one mirrors as an edge (see
    L{radiod.station.edge}): every mount the origin lists, pulled while
    listeners want it; empty for none.
    """
    origin_linger: float = _setting(30.0, values.number)
    """
    Seconds an edge keeps pulling a mount from its origin after its last
    listener left.
    """
    redirect_when_full: tuple[str, ...] = _setting((), values.string_list("URLs"))
    """
    C{http://host:port} URLs of other servers of the same programme that a
    listener is sent to (C{302}, in turn) when the listener limits are
    reached, instead of C{503}; empty for none.
    """
    hls_dir: str = _setting("", values.string)
    """
    A folder where every HLS mount's segments and playlists are also
    written, in C{<mount>/} folders laid out as their URLs (see
    L{radiod.hls.folder}), for a web server to serve; empty for none.
    """
    timezone: str = _setting("UTC", values.string)
    """
    The station's time zone, an IANA name such as C{"Europe/Paris"}: the
    one playlists' schedules and C{at_minute} are read in.
    """
    on_track: str = _setting("", values.string)
    """
    A command run at each new track, with the track as JSON on its
    standard input (see L{radiod.outbound.hooks}); empty for none.  Split
    into words as a shell would, but run without a shell.
    """
    public_url: str = _setting("", values.string)
    """
    The station's address as listeners' players reach it, such as
    C{"https://radio.example.org"} (behind a proxy, the proxy's): the base
    of the absolute URLs radiod sends out (the cover art in ICY metadata,
    see L{MountConfig.icy_art}); empty for none.
    """
    default_art: str = _setting("", values.string)
    """
    A picture file shown as the cover art of tracks that have none (see
    L{radiod.web.art}); empty for none.
    """
    stats_database: str = _setting("", values.string)
    """
    Where listener sessions are stored for the audience figures (see
    L{radiod.audience.store}): empty for an SQLite file in the state
    folder, a C{postgresql://user:password@host/database} URL for
    PostgreSQL (several processes or edges sharing one store), or
    C{"off"} to store none.
    """
    stats_days: int = _setting(400, values.integer)
    """
    Days listener sessions are kept; 0 to keep them forever.
    """
    playlist_log: str = _setting("", values.string)
    """
    A file a line is appended to at each track change, as Icecast's
    playlist log writes it (C{time|mount|listeners|title}; see
    L{radiod.station.playlistlog}); C{"-"} for standard output; empty for
    none.
    """
    location: str = _setting("", values.string)
    """
    Where the station is, shown on the status pages (Icecast's
    C{location}).
    """
    admin_contact: str = _setting("", values.string)
    """
    Who runs the station (an e-mail address), shown on the status pages
    (Icecast's C{admin}).
    """
    webroot: str = _setting("", values.string)
    """
    A folder of static files served at the paths the site has nothing
    at (Icecast's C{webroot}); empty for none.
    """
    aliases: tuple[str, ...] = _setting((), values.string_list("aliases"))
    """
    Paths answered as others, each C{"/asked=/answered"} (Icecast's
    C{alias}): the stream or page at the second answers the first.
    """
    error_log: str = _setting("", values.string)
    """
    A file radiod's log is also written to in Icecast's error log shape
    (see L{radiod.station.errorlog}); C{"-"} for standard output; empty
    for none.
    """
    error_log_level: int = _setting(3, values.integer)
    """
    What the error log keeps: 1 errors, 2 and warnings, 3 and
    information, 4 and debugging (Icecast's C{loglevel}).
    """
    icecast_config: str = _setting("", values.string)
    """
    An Icecast 2.4 C{icecast.xml} whose server, mounts and relays the
    station takes, over this file's (see L{radiod.config.icecast});
    empty for none.  C{--icecast-config} says the same.
    """
    geoip_database: str = _setting("", values.string)
    """
    A MaxMind-format country database (C{.mmdb}) the countries of
    listener sessions are found in (see L{radiod.audience.countries});
    empty for none.
    """
    stats_addresses: str = _setting("hashed", values.string)
    """
    C{"hashed"}: client addresses are stored as a keyed hash whose key
    changes every day (sessions link within a day only); C{"plain"}: as
    they are.
    """
    webhooks: tuple[WebhookConfig, ...] = ()
    """
    The URLs station events are POSTed to, one C{[[webhook]]} table each.
    """

    def __post_init__(self) -> None:
        # Kept a tuple (hashable, equal after a JSON round trip) whatever
        # sequence the caller gives.
        object.__setattr__(self, "trusted_proxies", tuple(self.trusted_proxies))
        object.__setattr__(self, "redirect_when_full", tuple(self.redirect_when_full))
        object.__setattr__(self, "aliases", tuple(self.aliases))
        object.__setattr__(self, "webhooks", tuple(self.webhooks))
        copies = {name: getattr(self, name) for name in FROM_STATION}
        object.__setattr__(
            self,
            "mounts",
            tuple(
                mount
                if all(getattr(mount, name) == value for name, value in copies.items())
                else replace(mount, **copies)
                for mount in self.mounts
            ),
        )

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


@dataclass(frozen=True)
class Setting:
    """
    One key of a configuration file's C{[server]} or C{[[mount]]} table.
    """

    key: str
    """
    The TOML key, such as C{"status_line"}.
    """
    field_name: str
    """
    The field of L{StationConfig} or L{MountConfig} it sets, such as
    C{"icy_status_line"}.
    """
    default: object
    """
    The field's default, as the dataclass holds it (C{False}, where the
    file writes C{status_line = "http"}).
    """
    convert: Converter
    """
    Reads the TOML value into the field's value; raises C{ValueError}
    with a short reason.
    """


def _settings(
    schema: type[StationConfig | MountConfig | PlaylistConfig | WebhookConfig],
) -> dict[str, Setting]:
    """
    The keys of a table, from the metadata of C{schema}'s fields.
    """
    found = {}
    for each in fields(schema):
        if _SETTING in each.metadata:
            key, convert = each.metadata[_SETTING]
            setting = Setting(key or each.name, each.name, each.default, convert)
            found[setting.key] = setting
    return found


def server_keys() -> dict[str, Setting]:
    """
    The keys of the C{[server]} table, which set L{StationConfig}'s fields
    (all but C{mounts}).

    @return: each key's L{Setting}, by key, in the order of the fields.
    """
    return _settings(StationConfig)


def mount_keys() -> dict[str, Setting]:
    """
    The keys of a C{[[mount]]} table, which set L{MountConfig}'s fields.

    @return: each key's L{Setting}, by key, in the order of the fields.
    """
    return _settings(MountConfig)


def playlist_keys() -> dict[str, Setting]:
    """
    The keys of a C{[[mount.playlist]]} table, which set
    L{PlaylistConfig}'s fields.
    """
    return _settings(PlaylistConfig)


def webhook_keys() -> dict[str, Setting]:
    """
    The keys of a C{[[webhook]]} table, which set L{WebhookConfig}'s
    fields.
    """
    return _settings(WebhookConfig)


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
