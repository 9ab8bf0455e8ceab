# -*- test-case-name: tests.config -*-
"""
Station configuration: immutable values built from the command line and an
optional TOML file, checked once at start-up.

The package owns the configuration's values and nothing that acts on
them:

  - L{radiod.config.schema}: L{StationConfig} and L{MountConfig}, their
    defaults, and the file key each field is read from (L{server_keys},
    L{mount_keys});
  - L{radiod.config.values}: sizes, charset names and the converters from
    TOML values;
  - L{radiod.config.urls}: the relay and push URLs a mount names;
  - L{radiod.config.windows}: the time windows of playlists' schedules,
    and the station's time zone;
  - L{radiod.config.check}: L{validate}, the ranges and the rules between
    values, shared by files, the command line and code;
  - L{radiod.config.toml}: L{load_config} and L{read_config}, and
    L{find_key_line} for the messages;
  - L{radiod.config.errors}: L{ConfigError}, one line naming the key (and
    the file line where known);
  - L{radiod.config.icecast}: an Icecast 2.4 C{icecast.xml} read into a
    station (L{read_icecast_config}), with a warning for each element
    radiod does not take;
  - L{radiod.config.render}: a configuration written back out as
    C{radiod.toml} (L{render_config});
  - L{radiod.config.cli}: the C{radiod-config} command.

It is pure: no I/O but L{read_config}'s reading of the file, and nothing
from Twisted.  It may import L{radiod.audio} (the MP3 tables the checks
need) and L{radiod.forwarded} (the proxy networks), and nothing else of
radiod.  Other modules import these names from C{radiod.config} itself.
"""

from radiod.config.check import (
    METAINT_RANGE,
    PLAYLIST_SUFFIXES,
    QUEUE_SIZE_RANGE,
    WEBHOOK_EVENTS,
    validate,
)
from radiod.config.errors import ConfigError, KeyPath, format_key_path
from radiod.config.icecast import (
    IcecastConfig,
    IcecastExtras,
    MountExtras,
    load_icecast_config,
    read_icecast_config,
)
from radiod.config.render import render_config
from radiod.config.schema import (
    DEFAULT_CACHE_DIR,
    DEFAULT_STATE_DIR,
    MountConfig,
    PlaylistConfig,
    Setting,
    StationConfig,
    WebhookConfig,
    default_folders,
    mount_keys,
    playlist_keys,
    server_keys,
    source_password,
    webhook_keys,
    with_default_folders,
)
from radiod.config.toml import find_key_line, load_config, read_config
from radiod.config.urls import is_tls_url, parse_http_url, parse_push_url
from radiod.config.values import KIB, normalize_charset, parse_size

__all__ = [
    "DEFAULT_CACHE_DIR",
    "DEFAULT_STATE_DIR",
    "KIB",
    "METAINT_RANGE",
    "PLAYLIST_SUFFIXES",
    "QUEUE_SIZE_RANGE",
    "WEBHOOK_EVENTS",
    "ConfigError",
    "IcecastConfig",
    "IcecastExtras",
    "KeyPath",
    "MountConfig",
    "MountExtras",
    "PlaylistConfig",
    "Setting",
    "StationConfig",
    "WebhookConfig",
    "default_folders",
    "find_key_line",
    "format_key_path",
    "is_tls_url",
    "load_config",
    "load_icecast_config",
    "mount_keys",
    "normalize_charset",
    "parse_http_url",
    "parse_push_url",
    "parse_size",
    "playlist_keys",
    "read_config",
    "read_icecast_config",
    "render_config",
    "server_keys",
    "source_password",
    "validate",
    "webhook_keys",
    "with_default_folders",
]
