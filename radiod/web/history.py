# -*- test-case-name: tests.web.test_history -*-
"""
The play history kept across restarts: each mount's recent tracks, in one
JSON file per station (L{HISTORY_FILE} in the station's state folder).

The file is read once, in a thread, when the station starts; what it holds
goes after what the mounts have played since (still at most
L{radiod.broadcast.mount.HISTORY_SIZE} tracks a mount).  It is written, in a thread,
a few seconds after tracks change (changes in between share one write),
and once more when the station stops; each write goes to a temporary file
that then replaces the old one, so a crash never leaves half a file.  A
file that cannot be read or understood is reported in one log line and
otherwise ignored (the next write replaces it).

L{encode_history}, L{decode_history} and L{merge_history} are pure.
"""

from __future__ import annotations

import json
import math
import os
import tempfile
from collections import deque
from collections.abc import Iterable, Mapping
from contextlib import suppress
from typing import Any

from twisted.internet.defer import Deferred, succeed
from twisted.internet.interfaces import IDelayedCall, IReactorTime
from twisted.logger import Logger
from twisted.python.failure import Failure

from radiod.audio.track import TrackInfo
from radiod.broadcast.mount import Mount
from radiod.interfaces import Runner

__all__ = [
    "FORMAT",
    "HISTORY_FILE",
    "WRITE_DELAY",
    "HistoryError",
    "PlayHistory",
    "decode_history",
    "encode_history",
    "merge_history",
    "read_if_present",
    "write_atomically",
]

HISTORY_FILE = "history.json"
"""
The history file's name in the state folder.
"""

FORMAT = 1
"""
The version of the file's layout, in its C{format} key.
"""

WRITE_DELAY = 5.0
"""
Seconds between a track change and the write that records it.
"""

Played = tuple[TrackInfo, float]
"""
A track and the time (POSIX seconds) it started, as L{Mount.history}
holds them.
"""


class HistoryError(ValueError):
    """
    The history file's contents are not a history.
    """


def encode_history(mounts: Mapping[str, Iterable[Played]]) -> bytes:
    """
    The history file's contents.

    @param mounts: each mount's tracks, newest first.
    @return: JSON: C{{"format": 1, "mounts": {"/stream": [{"title": ...,
        "artist": ..., "album": ..., "path": ..., "duration": ...,
        "started": ..., "requested": ...}, ...]}}}.
    """
    document = {
        "format": FORMAT,
        "mounts": {
            name: [
                {
                    "title": track.title,
                    "artist": track.artist,
                    "album": track.album,
                    "path": track.path,
                    "duration": track.duration if math.isfinite(track.duration) else 0.0,
                    "started": started,
                    "requested": track.requested,
                    "art": track.art,
                }
                for track, started in played
            ]
            for name, played in mounts.items()
        },
    }
    # ASCII, so that any file name (even one that is not valid UTF-8)
    # survives the round trip.
    return json.dumps(document, indent=1).encode("ascii")


def _text(entry: Mapping[str, Any], key: str, required: bool = False) -> str:
    value = entry.get(key, None if required else "")
    if not isinstance(value, str):
        raise HistoryError(f"{key!r} must be text")
    return value


def _number(entry: Mapping[str, Any], key: str) -> float:
    value = entry.get(key, 0.0)
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise HistoryError(f"{key!r} must be a number")
    return float(value)


def decode_history(data: bytes) -> dict[str, list[Played]]:
    """
    Read the history file's contents.

    @param data: what L{encode_history} wrote (or anything else).
    @return: each mount's tracks, newest first.
    @raise HistoryError: with a short reason, if C{data} is not such a
        history.
    """
    try:
        document = json.loads(data)
    except (ValueError, RecursionError) as e:
        raise HistoryError(f"not JSON ({e})") from None
    if not isinstance(document, dict) or document.get("format") != FORMAT:
        raise HistoryError(f"not a play history of format {FORMAT}")
    mounts = document.get("mounts")
    if not isinstance(mounts, dict):
        raise HistoryError("'mounts' must be an object")
    result: dict[str, list[Played]] = {}
    for name, entries in mounts.items():
        if not isinstance(entries, list):
            raise HistoryError(f"the tracks of {name!r} must be a list")
        played = []
        for entry in entries:
            if not isinstance(entry, dict):
                raise HistoryError(f"a track of {name!r} is not an object")
            track = TrackInfo(
                path=_text(entry, "path"),
                title=_text(entry, "title", required=True),
                artist=_text(entry, "artist"),
                album=_text(entry, "album"),
                duration=_number(entry, "duration"),
                requested=entry.get("requested") is True,
                art=entry["art"] if isinstance(entry.get("art"), str) else "",
            )
            played.append((track, _number(entry, "started")))
        result[name] = played
    return result


def merge_history(history: deque[Played], saved: Iterable[Played]) -> None:
    """
    Put saved tracks after the ones played since, within the history's
    length, leaving out any already there.

    @param history: a mount's history, newest first, with a C{maxlen}.
    @param saved: older tracks, newest first.
    """
    present = {(track.stream_title, started) for track, started in history}
    for track, started in saved:
        if history.maxlen is not None and len(history) >= history.maxlen:
            break
        if (track.stream_title, started) not in present:
            history.append((track, started))


def read_if_present(path: str) -> bytes | None:
    """
    A file's contents, or C{None} if it does not exist.  Blocking.

    @raise OSError: if it exists but cannot be read.
    """
    try:
        with open(path, "rb") as f:
            return f.read()
    except FileNotFoundError:
        return None


def write_atomically(path: str, data: bytes) -> None:
    """
    Replace a file's contents in one step: write a temporary file in the
    same folder (created if missing), flush it to disk, then rename it
    over C{path}.  Blocking.

    @raise OSError: if any step fails (the temporary file is removed).
    """
    folder = os.path.dirname(path) or "."
    os.makedirs(folder, exist_ok=True)
    handle, temporary = tempfile.mkstemp(
        prefix="." + os.path.basename(path) + ".", suffix=".tmp", dir=folder
    )
    try:
        with os.fdopen(handle, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(temporary, path)
    except BaseException:
        with suppress(OSError):
            os.unlink(temporary)
        raise


class PlayHistory:
    """
    Keeps the mounts' play history in a file across restarts.

    @ivar path: the file.
    @ivar writes: the writes that succeeded.
    """

    _log = Logger()

    def __init__(
        self,
        path: str,
        mounts: Mapping[str, Mount],
        clock: IReactorTime,
        runner: Runner,
        delay: float = WRITE_DELAY,
    ) -> None:
        """
        @param path: the file.
        @param mounts: the station's mounts by name (the live dict: mounts
            added later are written too).
        @param clock: schedules writes.
        @param runner: reads and writes the file off the reactor thread.
        @param delay: seconds from a change to the write that records it.
        """
        self.path = path
        self._mounts = mounts
        self._clock = clock
        self._runner = runner
        self._delay = delay
        self._loaded = False
        self._dirty = False
        self._stopped = False
        self._timer: IDelayedCall | None = None
        self._writing: Deferred[None] | None = None
        self.writes = 0

    def load(self) -> Deferred[None]:
        """
        Read the file and put what it holds after each mount's history.

        @return: fires once that is done (it never fails: a file that
            cannot be used is logged and ignored).
        """
        path = self.path
        read: Deferred[bytes | None] = self._runner(lambda: read_if_present(path))
        return read.addCallbacks(self._read, self._unreadable)

    def _read(self, data: bytes | None) -> None:
        if data is not None:
            try:
                saved = decode_history(data)
            except HistoryError as e:
                self._ignore(str(e))
            else:
                for name, played in saved.items():
                    mount = self._mounts.get(name)
                    if mount is not None:
                        merge_history(mount.history, played)
        self._ready()

    def _unreadable(self, failure: Failure) -> None:
        self._ignore(failure.getErrorMessage())
        self._ready()

    def _ignore(self, reason: str) -> None:
        self._log.warn(
            "Ignoring the play history in {path}: {reason}", path=self.path, reason=reason
        )

    def _ready(self) -> None:
        self._loaded = True
        if self._dirty:
            self._schedule()

    def changed(self) -> None:
        """
        A mount's history changed: write the file soon.
        """
        self._dirty = True
        if self._loaded:
            self._schedule()

    def _schedule(self) -> None:
        if self._stopped or self._timer is not None or self._writing is not None:
            return
        self._timer = self._clock.callLater(self._delay, self._write)

    def _write(self) -> Deferred[None]:
        self._timer = None
        self._dirty = False
        data = encode_history({name: mount.history for name, mount in self._mounts.items()})
        path = self.path
        writing: Deferred[None] = self._runner(lambda: write_atomically(path, data))
        self._writing = writing
        writing.addCallbacks(self._written, self._write_failed)
        return writing

    def _written(self, _: object) -> None:
        self._writing = None
        self.writes += 1
        if self._dirty:
            self._schedule()

    def _write_failed(self, failure: Failure) -> None:
        self._writing = None
        self._log.warn(
            "Cannot write the play history to {path}: {reason}",
            path=self.path,
            reason=failure.getErrorMessage(),
        )

    def flush(self) -> Deferred[None]:
        """
        Write now what changed since the last write (after a write in
        progress ends).  Nothing is written before the file was read, so
        that a slow read never loses the saved history.

        @return: fires when the file is written (never fails).
        """
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if not self._loaded:
            return succeed(None)
        if self._writing is not None:
            done: Deferred[None] = Deferred()

            def after(_: object) -> None:
                self.flush().addCallback(done.callback)

            self._writing.addBoth(after)
            return done
        if self._dirty:
            return self._write()
        return succeed(None)

    def stop(self) -> Deferred[None]:
        """
        Write what is left, and write no more.

        @return: fires when the last write is done.
        """
        self._stopped = True
        return self.flush()
