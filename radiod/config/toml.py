# -*- test-case-name: tests.config.test_toml -*-
"""
Reading a configuration file: TOML text in, a checked L{StationConfig}
out, or a L{ConfigError} whose text is one line naming the file, the line
and the key, such as C{radiod.toml line 12: mount[1].burst_size: must be
smaller than queue_size (524288)}.  Mounts are counted from 0.

The file has a C{[server]} table, whose keys are L{server_keys}, one
C{[[mount]]} table per mount, whose keys are L{mount_keys} (the first
mount is the default mount), within it one C{[[mount.playlist]]} table
per extra playlist (L{playlist_keys}), and one C{[[webhook]]} table per
webhook (L{webhook_keys}).  Every key is optional except each mount's
C{name}.  The user guide's sample file lists every key with its default.
Sizes are integers (bytes) or strings with a unit: C{"64KiB"},
C{"512 KiB"}, C{"1MiB"} (units B, K/KiB, M/MiB, G/GiB, all powers of
1024).  Unknown keys are errors, so a misspelt key is not silently
ignored.

A relative C{music} (a mount's or a playlist's) or C{record_dir} path
set in the file is taken from the file's folder; the default C{record_dir}, C{"recordings"}, and a
relative C{record_dir} set otherwise are taken from the working
directory.  So is C{state_dir}: relative to the file's folder when the file
sets it, else to the working directory (its default is C{"state"}).  So is
C{cache_dir}, whose default is C{"cache"} in the state folder.  A relative
C{access_log} path, the TLS files, C{default_art} and the listener lists
(C{deny_agents_file}, C{allow_ips}, C{deny_ips}, the server's and each
mount's) are taken the same way.

C{tomllib} reads the values; a small reader of its own finds the line
each key is on (L{find_key_line}), for the messages.
"""

from __future__ import annotations

import difflib
import json
import os
import re
import tomllib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from typing import Any

from radiod.config.check import LIST_KEYS, check
from radiod.config.errors import ConfigError, Invalid, KeyPath, format_key_path
from radiod.config.schema import (
    MountConfig,
    PlaylistConfig,
    Setting,
    StationConfig,
    WebhookConfig,
    mount_keys,
    playlist_keys,
    server_keys,
    webhook_keys,
)

__all__ = ["find_key_line", "load_config", "read_config"]

_SERVER = server_keys()
_MOUNT = mount_keys()
_PLAYLIST = playlist_keys()
_WEBHOOK = webhook_keys()
_TABLES = ["server", "mount", "webhook"]


def _unknown(key: str, known: Sequence[str]) -> str:
    """
    Explain an unknown key, suggesting the known key it most resembles.
    """
    close = difflib.get_close_matches(key, known, n=1)
    if close:
        return f'unknown key (did you mean "{close[0]}"?)'
    return "unknown key (known keys: " + ", ".join(known) + ")"


def _convert(
    table: Mapping[str, object], keys: Mapping[str, Setting], where: KeyPath
) -> dict[str, Any]:
    """
    Check and convert every key of one TOML table into dataclass arguments.
    """
    arguments: dict[str, Any] = {}
    for key, value in table.items():
        if key not in keys:
            raise Invalid((*where, key), _unknown(key, list(keys)))
        setting = keys[key]
        try:
            arguments[setting.field_name] = setting.convert(value)
        except ValueError as e:
            raise Invalid((*where, key), str(e)) from None
    return arguments


def _build(document: Mapping[str, object], base: StationConfig) -> StationConfig:
    """
    Turn a parsed TOML document into a (not yet checked) configuration.
    """
    for key in document:
        if key not in _TABLES:
            raise Invalid((key,), _unknown(key, _TABLES))
    server = document.get("server", {})
    if not isinstance(server, dict):
        raise Invalid(("server",), "must be a table ([server])")
    config = replace(base, **_convert(server, _SERVER, ("server",)))
    if "webhook" in document:
        hooks = _array(document, "webhook", "[[webhook]]")
        config = replace(
            config,
            webhooks=tuple(
                WebhookConfig(**_convert(table, _WEBHOOK, ("webhook", index)))
                for index, table in enumerate(hooks)
            ),
        )
    if "mount" not in document:
        return config
    tables = _array(document, "mount", "[[mount]]")
    mounts = []
    for index, table in enumerate(tables):
        if "name" not in table:
            raise Invalid(
                ("mount", index, "name"), 'missing (every mount needs one, like "/stream")'
            )
        keys = {key: value for key, value in table.items() if key != "playlist"}
        mount = MountConfig(**_convert(keys, _MOUNT, ("mount", index)))
        if "playlist" in table:
            where = ("mount", index)
            playlists = _array(table, "playlist", "[[mount.playlist]]", where)
            mount = replace(
                mount,
                playlists=tuple(
                    PlaylistConfig(**_convert(each, _PLAYLIST, (*where, "playlist", number)))
                    for number, each in enumerate(playlists)
                ),
            )
        mounts.append(mount)
    return replace(config, mounts=tuple(mounts))


def _array(
    table: Mapping[str, object], key: str, header: str, where: KeyPath = ()
) -> list[dict[str, object]]:
    """
    An array of tables of C{table}, each one a C{header} block.
    """
    found = table[key]
    if not isinstance(found, list) or not all(isinstance(t, dict) for t in found):
        raise Invalid((*where, key), f"must be an array of tables, each one starting {header}")
    return found


# Finding the line a key is on.

_KEY_PART = r'(?:[A-Za-z0-9_-]+|"(?:[^"\\]|\\.)*"|\'[^\']*\')'
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
    counts: dict[KeyPath, int] = {}
    table: KeyPath = ()
    open_quote = ""
    for number, line in enumerate(text.splitlines(), start=1):
        if open_quote:
            if line.count(open_quote) % 2:
                open_quote = ""
            continue
        if match := _ARRAY_HEADER.match(line):
            name = _key_parts(match.group(1))
            # [[mount.playlist]] belongs to the [[mount]] block above it:
            # ("mount", 1, "playlist", 0), counted within that mount.
            parent: KeyPath = ()
            if len(name) > 1 and table[: len(name) - 1] == name[:-1] and len(table) >= len(name):
                parent = table[: len(name)]
                name = name[-1:]
            counted = (*parent, *name)
            counts[counted] = counts.get(counted, -1) + 1
            table = (*counted, counts[counted])
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


def _file_error(filename: str, text: str, problem: Invalid) -> ConfigError:
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
                    playlists=tuple(
                        replace(playlist, music=os.path.join(folder, playlist.music))
                        if playlist.music
                        else playlist
                        for playlist in m.playlists
                    ),
                )
                for m, table in zip(config.mounts, tables, strict=True)
            )
            config = replace(config, mounts=mounts)
        if folder and config.state_dir and "state_dir" in document.get("server", {}):
            config = replace(config, state_dir=os.path.join(folder, config.state_dir))
        if folder and config.cache_dir and "cache_dir" in document.get("server", {}):
            config = replace(config, cache_dir=os.path.join(folder, config.cache_dir))
        for log in ("access_log", "playlist_log"):
            if (
                folder
                and getattr(config, log) not in ("", "-")
                and log in document.get("server", {})
            ):
                moved: dict[str, Any] = {log: os.path.join(folder, getattr(config, log))}
                config = replace(config, **moved)
        server_keys = document.get("server", {})
        paths: dict[str, Any] = {
            key: os.path.join(folder, getattr(config, key))
            for key in (
                "tls_cert",
                "tls_key",
                "tls_ca",
                "default_art",
                "geoip_database",
                "icecast_config",
                *LIST_KEYS,
            )
            if folder and getattr(config, key) and key in server_keys
        }
        config = replace(config, **paths)
        if folder and "mount" in document:
            listed: list[MountConfig] = []
            for m, table in zip(config.mounts, document["mount"], strict=True):
                lists: dict[str, Any] = {
                    key: os.path.join(folder, getattr(m, key))
                    for key in LIST_KEYS
                    if getattr(m, key) and key in table
                }
                listed.append(replace(m, **lists))
            config = replace(config, mounts=tuple(listed))
        check(config, path_exists)
    except Invalid as e:
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
