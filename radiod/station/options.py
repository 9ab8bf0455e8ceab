# -*- test-case-name: tests.station.test_options -*-
"""
The command line of C{twistd radiod}.

Values come, from weakest to strongest, from the built-in defaults, the
C{--config} file, and the options actually given on the command line.  With
a configuration file that declares several mounts, the command line's mount
options change the first (default) mount.

Every mistake ends the program with one line on standard error, such as
C{twistd radiod: error: --port: expected a whole number, not 'nope' (see
twistd radiod --help)}, rather than twistd's whole usage text.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Any, ClassVar

from twisted.logger import Logger
from twisted.python import usage

from radiod.config import (
    DEFAULT_CACHE_DIR,
    DEFAULT_STATE_DIR,
    ConfigError,
    KeyPath,
    MountConfig,
    StationConfig,
    normalize_charset,
    parse_size,
    read_config,
    read_icecast_config,
    validate,
)

_log = Logger(namespace="radiod.station.options")

__all__ = ["Options", "format_size"]

COMMAND = "twistd radiod"


def format_size(size: int) -> str:
    """
    Write a byte count the short way C{--burst-size} accepts it.

    @param size: bytes.
    @return: C{"64KiB"}, C{"1MiB"}, or the plain number if no unit fits.
    """
    for unit, factor in (("GiB", 1024**3), ("MiB", 1024**2), ("KiB", 1024)):
        if size and size % factor == 0:
            return f"{size // factor}{unit}"
    return str(size)


def _whole_number(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise ValueError(f"expected a whole number, not {text!r}") from None


def _seconds(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise ValueError(f"expected a number of seconds, not {text!r}") from None


def _text(text: str) -> str:
    return text


def _address_list(text: str) -> tuple[str, ...]:
    return tuple(part for part in text.replace(",", " ").split() if part)


def _bitrates(text: str) -> tuple[int, ...]:
    parts = [part for part in text.replace(",", " ").split() if part]
    try:
        rates = tuple(int(part) for part in parts)
    except ValueError:
        rates = ()
    if not rates:
        raise ValueError(
            f"expected bitrates in kbit/s separated by commas, such as 128,64,32, not {text!r}"
        )
    return rates


_STATION = StationConfig()
_MOUNT = MountConfig()

# option: (StationConfig field, parser); the TOML key is the field name.
_SERVER_OPTIONS: dict[str, tuple[str, Callable[[str], Any]]] = {
    "port": ("port", _whole_number),
    "interface": ("interface", _text),
    "max-listeners": ("max_listeners", _whole_number),
    "max-per-address": ("max_per_address", _whole_number),
    "tls-port": ("tls_port", _whole_number),
    "tls-cert": ("tls_cert", _text),
    "tls-key": ("tls_key", _text),
    "tls-ca": ("tls_ca", _text),
    "header-timeout": ("header_timeout", _seconds),
    "send-buffer": ("send_buffer", parse_size),
    "workers": ("workers", _whole_number),
    "source-password": ("source_password", _text),
    "state-dir": ("state_dir", _text),
    "access-log": ("access_log", _text),
    "log-format": ("log_format", _text),
    "trusted-proxies": ("trusted_proxies", _address_list),
    "cache-dir": ("cache_dir", _text),
    "cache-size": ("cache_size", parse_size),
}
# option: (MountConfig field, TOML key, parser), applied to the first mount.
_MOUNT_OPTIONS: dict[str, tuple[str, str, Callable[[str], Any]]] = {
    "music": ("music", "music", _text),
    "mount": ("name", "name", _text),
    "name": ("station_name", "station_name", _text),
    "genre": ("genre", "genre", _text),
    "description": ("description", "description", _text),
    "url": ("url", "url", _text),
    "metaint": ("metaint", "metaint", _whole_number),
    "burst-size": ("burst_size", "burst_size", parse_size),
    "queue-size": ("queue_size", "queue_size", parse_size),
    "max-listeners-per-mount": ("max_listeners", "max_listeners", _whole_number),
    "charset": ("charset", "charset", normalize_charset),
    "bitrate": ("bitrate", "bitrate", _whole_number),
    "sample-rate": ("sample_rate", "sample_rate", _whole_number),
    "channels": ("channels", "channels", _whole_number),
}
# flag: (MountConfig field, TOML key), applied to the first mount.
_MOUNT_FLAGS: dict[str, tuple[str, str]] = {
    "shuffle": ("shuffle", "shuffle"),
    "public": ("public", "public"),
    "icy-status-line": ("icy_status_line", "status_line"),
    "normalize": ("normalize", "normalize"),
    "hls": ("hls", "hls"),
}


class Options(usage.Options):
    """
    The options of C{twistd radiod}.

    Parameters default to C{None}, meaning "not given": only the options a
    user actually gives override the configuration file.

    @ivar config: the checked configuration, once options are parsed.
    """

    synopsis = "[options]"
    longdesc = (
        "Plays a music library as one continuous MP3 stream, paced in real time, to any "
        "number of listeners over HTTP with ICY metadata. Without --music it plays the demo "
        "library shipped with radiod, at http://localhost:8000/stream. Sizes take bytes or a "
        "unit: 65536, 64KiB, 1MiB. A --config TOML file can declare the server and any number "
        "of mounts; options given on the command line override it, and mount options apply to "
        "its first mount. Examples: 'twistd -n radiod --music ~/Music --shuffle' plays a folder "
        "in random order; 'twistd -n radiod --music party.m3u --mount /party --name Party "
        "--port 8080' plays a playlist at http://localhost:8080/party; 'twistd -n radiod "
        "--config radiod.toml' runs the station that file declares."
    )
    optParameters: ClassVar[list[list[Any]]] = [
        ["port", "p", None, f"TCP port listeners connect to [default: {_STATION.port}]"],
        ["interface", None, None, "Address to listen on [default: all addresses]"],
        [
            "music",
            None,
            None,
            "Folder or playlist file (.m3u, .m3u8, .pls) to play "
            "[default: the demo library shipped with radiod]",
        ],
        ["mount", None, None, f"URL path of the stream [default: {_MOUNT.name}]"],
        ["name", None, None, f"Station name, sent as icy-name [default: {_MOUNT.station_name}]"],
        ["genre", None, None, "Genre, sent as icy-genre [default: none]"],
        ["description", None, None, "Description, sent as icy-description [default: none]"],
        ["url", None, None, "Station home page, sent as icy-url [default: none]"],
        [
            "config",
            None,
            None,
            "TOML file declaring the server and its mounts; options given here override it "
            "[default: none]",
        ],
        [
            "icecast-config",
            None,
            None,
            "Icecast 2.4 icecast.xml to take the server, its mounts and relays from, over "
            "--config; options given here override it [default: none]",
        ],
        [
            "metaint",
            None,
            None,
            f"Audio bytes between ICY metadata blocks, 256 to 65535 [default: {_MOUNT.metaint}]",
        ],
        [
            "burst-size",
            None,
            None,
            "Recent audio sent at once to a new listener; smaller than --queue-size "
            f"[default: {format_size(_MOUNT.burst_size)}]",
        ],
        [
            "queue-size",
            None,
            None,
            "How far a listener may fall behind before it is dropped "
            f"[default: {format_size(_MOUNT.queue_size)}]",
        ],
        [
            "max-listeners",
            None,
            None,
            f"Listeners allowed on all mounts together, 0 for no limit "
            f"[default: {_STATION.max_listeners}]",
        ],
        ["tls-port", None, None, "Port of an HTTPS listener as well, 0 for none [default: 0]"],
        ["tls-cert", None, None, "PEM certificate (chain) of the HTTPS listener [default: none]"],
        [
            "tls-key",
            None,
            None,
            "PEM private key of the HTTPS listener [default: in the --tls-cert file]",
        ],
        [
            "tls-ca",
            None,
            None,
            "PEM authorities trusted for https:// relays and pushes [default: the system's]",
        ],
        [
            "max-per-address",
            None,
            None,
            f"Connections one client address may hold at once, 0 for no limit "
            f"[default: {_STATION.max_per_address}]",
        ],
        [
            "max-listeners-per-mount",
            None,
            None,
            f"Listeners allowed on the stream's mount, 0 for no limit "
            f"[default: {_MOUNT.max_listeners}]",
        ],
        [
            "header-timeout",
            None,
            None,
            f"Seconds a client has to send its request [default: {_STATION.header_timeout:g}]",
        ],
        [
            "workers",
            None,
            None,
            f"Processes serving listeners on the same port, all playing the same "
            f"programme [default: {_STATION.workers}]",
        ],
        [
            "send-buffer",
            None,
            None,
            f"Kernel send buffer per listener, 0 for the kernel's own sizing "
            f"[default: {format_size(_STATION.send_buffer)}]",
        ],
        [
            "source-password",
            None,
            None,
            "Password live sources give (user 'source') to stream to a mount over PUT or "
            "SOURCE; without one, live sources are refused [default: none]",
        ],
        [
            "charset",
            None,
            None,
            f"Character set of ICY titles: utf-8 or latin-1 [default: {_MOUNT.charset}]",
        ],
        [
            "state-dir",
            None,
            None,
            "Folder where the play history and the generated admin password are kept "
            "across restarts, created when needed "
            f"[default: {DEFAULT_STATE_DIR!r} in the working directory]",
        ],
        [
            "access-log",
            None,
            None,
            "File the access log (combined log format, one line per request and per "
            "listening session) is appended to; - for standard output [default: none]",
        ],
        [
            "log-format",
            None,
            None,
            f"Server log format: text, or json for one JSON object per line "
            f"[default: {_STATION.log_format}]",
        ],
        [
            "trusted-proxies",
            None,
            None,
            "Reverse proxies whose X-Forwarded-For header names the client: addresses and "
            "CIDR networks separated by commas, such as 127.0.0.1,10.0.0.0/8 [default: none]",
        ],
        [
            "bitrate",
            None,
            None,
            "MP3 bitrate in kbit/s the stream's music is converted to; when set, only MP3 "
            "files at exactly this bitrate play unconverted; 0 lets any bitrate pass "
            f"[default: {_MOUNT.bitrate}]",
        ],
        [
            "sample-rate",
            None,
            None,
            "Sample rate in Hz of the stream (an MP3 rate, such as 44100); tracks at "
            f"another rate are converted; 0 for the first track's [default: {_MOUNT.sample_rate}]",
        ],
        [
            "channels",
            None,
            None,
            "Channels of the stream, 1 or 2; tracks with another count are converted; 0 for "
            f"the first track's [default: {_MOUNT.channels}]",
        ],
        [
            "cache-dir",
            None,
            None,
            "Folder where converted tracks are kept, created when needed "
            f"[default: {DEFAULT_CACHE_DIR!r} in the state folder]",
        ],
        [
            "cache-size",
            None,
            None,
            "Size the folder of converted tracks is kept to, least recently played "
            f"going first [default: {format_size(_STATION.cache_size)}]",
        ],
        [
            "bitrates",
            None,
            None,
            "Bitrates in kbit/s of the stream and of copies of it, such as 128,64,32: the "
            "stream plays at the first, and the others are extra mounts (/stream-64, "
            "/stream-32) playing the same programme in step, re-encoded by ffmpeg "
            "[default: the stream only]",
        ],
    ]
    optFlags: ClassVar[list[list[Any]]] = [
        ["shuffle", None, "Play in random order, reshuffled every round"],
        ["public", None, "Let stream directories list the station (icy-pub: 1)"],
        [
            "icy-status-line",
            None,
            "Answer 'ICY 200 OK' instead of 'HTTP/1.0 200 OK', for very old players",
        ],
        [
            "normalize",
            None,
            "Bring every track to the same loudness (ReplayGain tags, else measured once)",
        ],
        [
            "hls",
            None,
            "Also serve the stream as HLS and low-latency HLS, every bitrate of it, "
            "under /hls/<mount>/index.m3u8",
        ],
    ]
    config: StationConfig | None = None
    icecast_warnings: tuple[str, ...] = ()

    def parseOptions(self, options: Sequence[str] | None = None) -> None:
        """
        Parse the command line and check the configuration it describes.

        @param options: the arguments; by default C{sys.argv[1:]}.
        @raise SystemExit: carrying one line, C{twistd radiod: error:
            <problem> (see twistd radiod --help)}, for any mistake.
        """
        try:
            super().parseOptions(options)
        except usage.UsageError as e:
            message = " ".join(str(e).split())
            raise SystemExit(f"{COMMAND}: error: {message} (see {COMMAND} --help)") from None

    def postOptions(self) -> None:
        """
        Build and check the configuration, so mistakes surface now.

        @raise usage.UsageError: with one line naming the option or key.
        """
        try:
            self.config = self._build()
        except ConfigError as e:
            raise usage.UsageError(str(e)) from None

    def given(self) -> set[str]:
        """
        Say which options the command line actually gave.

        @return: long option names, such as C{"port"} and C{"shuffle"}.
        """
        names = {name for name in [*_SERVER_OPTIONS, *_MOUNT_OPTIONS] if self[name] is not None}
        names.update(name for name in _MOUNT_FLAGS if self[name])
        if self["bitrates"] is not None:
            names.add("bitrates")
        if self["config"] is not None:
            names.add("config")
        return names

    def to_config(self) -> StationConfig:
        """
        The checked configuration the options describe.

        @return: built-in defaults, changed by the C{--config} file, changed
            by the options given.
        @raise ConfigError: with one line naming the option or key at fault.
        """
        if self.config is None:
            self.config = self._build()
        return self.config

    def reread(self) -> StationConfig:
        """
        Build the configuration again, reading the C{--config} file anew
        (for a reload); the options given still win over it.

        @raise ConfigError: as L{to_config} does; the configuration built
            before stays.
        """
        self.config = self._build()
        return self.config

    def _build(self) -> StationConfig:
        base = StationConfig() if self["config"] is None else read_config(self["config"])
        icecast = self["icecast-config"] or base.icecast_config
        if icecast:
            read = read_icecast_config(icecast, base=base, path_exists=os.path.exists)
            if tuple(read.warnings) != self.icecast_warnings:
                # Said once, not again at each reload.
                for warning in read.warnings:
                    _log.warn("{unsupported}", unsupported=warning)
                self.icecast_warnings = tuple(read.warnings)
            base = read.station
        server: dict[str, Any] = {}
        for name, (field_name, parse) in _SERVER_OPTIONS.items():
            if self[name] is not None:
                server[field_name] = _parsed(name, parse, self[name])
        mount: dict[str, Any] = {}
        for name, (field_name, _, parse) in _MOUNT_OPTIONS.items():
            if self[name] is not None:
                mount[field_name] = _parsed(name, parse, self[name])
        for name, (field_name, _) in _MOUNT_FLAGS.items():
            if self[name]:
                mount[field_name] = True
        if self["bitrates"] is not None:
            rates = _parsed("bitrates", _bitrates, self["bitrates"])
            if mount.get("bitrate", rates[0]) != rates[0]:
                reason = f"starts at {rates[0]}, but --bitrate is {mount['bitrate']}"
                raise ConfigError(f"--bitrates: {reason}", reason=reason)
            mount["bitrate"], mount["ladder"] = rates[0], rates[1:]
        first = replace(base.mounts[0], **mount)
        config = replace(base, **server, mounts=(first, *base.mounts[1:]))
        try:
            validate(config, path_exists=os.path.exists)
        except ConfigError as e:
            raise self._blame(e) from None
        return config

    def _blame(self, error: ConfigError) -> ConfigError:
        """
        Retell a problem in terms of the option the user gave, if any.
        """
        options: dict[KeyPath, str] = {("server", f): n for n, (f, _) in _SERVER_OPTIONS.items()}
        for name, (_, key, _) in _MOUNT_OPTIONS.items():
            options["mount", 0, key] = name
        for name, (_, key) in _MOUNT_FLAGS.items():
            options["mount", 0, key] = name
        given = self.given()
        for key in ("bitrate", "ladder"):
            if options.get(("mount", 0, key)) not in given:
                options["mount", 0, key] = "bitrates"
        for path, reason in [(error.path, error.reason), *error.alternatives]:
            if options.get(path) in given:
                return ConfigError(f"--{options[path]}: {reason}", path, reason)
        if self["config"] is not None:
            return ConfigError(f"{error} (with {self['config']} and the options given)", error.path)
        return error


def _parsed(name: str, parse: Callable[[str], Any], text: str) -> Any:
    """
    Parse one option's value, naming the option if it is wrong.
    """
    try:
        return parse(text)
    except ValueError as e:
        raise ConfigError(f"--{name}: {e}", reason=str(e)) from None
