# -*- test-case-name: tests.ffmpeg.test_cache -*-
"""
The disk cache of library conversions and of measurements: loudness and
cue points.

A converted file is kept in a L{ConversionCache} folder, keyed by the
source file (path, size and modification time), the format and the gain,
so a track converts once however often it plays; a track's loudness and
its cue points are kept beside it, each in a small JSON file keyed by the
source file alone (and, for cue points, the silence threshold they were
measured at).  The least recently used files go when the folder outgrows
its size.

Nothing here blocks the reactor: every file operation (looking up,
renaming, evicting, reading and writing measurements) runs through a
L{radiod.interfaces.Runner}, in a thread, one at a time.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import math
import os
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, TypeVar

from twisted.internet.defer import Deferred, DeferredLock
from twisted.logger import Logger

from radiod.audio.format import AudioFormat
from radiod.audio.loudness import Loudness
from radiod.audio.splice import SILENCE_THRESHOLD, CuePoints
from radiod.interfaces import Runner

__all__ = [
    "CacheEntry",
    "ConversionCache",
    "cache_key",
    "evict",
]

_T = TypeVar("_T")


@dataclass(frozen=True, slots=True)
class CacheEntry:
    """
    A place in the cache for one conversion.

    @ivar key: the cache key, in hexadecimal; the names of the entry's
        files start with it.
    @ivar path: the converted file (present when L{hit}).
    @ivar part: where the conversion is written until it is complete.
    @ivar hit: whether the converted file was there already.
    """

    key: str
    path: str
    part: str
    hit: bool


def cache_key(parts: Iterable[object]) -> str:
    """
    A short, stable hexadecimal digest of JSON-able parts.
    """
    text = json.dumps(list(parts), separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:32]


def _source_parts(source: str) -> list[object]:
    """
    What identifies a source file's content: its absolute path, size and
    modification time.  Blocks (a C{stat}).
    """
    status = os.stat(source)
    return [os.path.abspath(source), status.st_size, status.st_mtime_ns]


def _touch(path: str) -> bool:
    """
    Mark a cached file as just used; C{False} when it is not there.
    """
    try:
        os.utime(path)
    except FileNotFoundError:
        return False
    return True


def evict(directory: str, max_size: int, held: frozenset[str]) -> list[str]:
    """
    Shrink a cache folder to C{max_size} bytes by removing its least
    recently used files (oldest modification time first), and remove
    partial files left over by conversions that are not running.  Blocks.

    @param held: the keys of entries in use (being written, or about to be
        read), whose files are never removed.
    @return: the names of the files removed.
    """
    removed: list[str] = []
    candidates: list[tuple[int, str, int]] = []
    total = 0
    try:
        scan = list(os.scandir(directory))
    except FileNotFoundError:
        return removed
    for entry in scan:
        try:
            if not entry.is_file(follow_symlinks=False):
                continue
            status = entry.stat(follow_symlinks=False)
        except OSError:
            continue
        key = entry.name.split(".", 1)[0]
        if entry.name.endswith(".part") and key not in held:
            if _remove(entry.path):
                removed.append(entry.name)
            continue
        total += status.st_size
        if key not in held and entry.name.endswith((".mp3", ".json")):
            candidates.append((status.st_mtime_ns, entry.name, status.st_size))
    candidates.sort()
    for _, name, size in candidates:
        if total <= max_size:
            break
        if _remove(os.path.join(directory, name)):
            removed.append(name)
            total -= size
    return removed


def _remove(path: str) -> bool:
    """
    Remove a file; C{False} when it is gone already or cannot be removed.
    """
    try:
        os.remove(path)
    except OSError:
        return False
    return True


class ConversionCache:
    """
    A folder of converted files and measured loudness, at most about
    C{max_size} bytes, the least recently used going first.

    Every file operation runs through the runner, one at a time, so that a
    lookup never races an eviction.  An entry is I{held} from the lookup
    that finds or reserves it until L{release}: a held entry's files are
    never evicted, so a conversion being written, or one about to be read,
    stays.  A conversion is written to a partial file and renamed into
    place when complete, so a partial file is never taken for a converted
    one.

    @ivar directory: the folder, created when first needed.
    @ivar max_size: the size the folder is kept to, in bytes (held files
        may take it over).
    """

    _log = Logger()

    def __init__(self, directory: str, max_size: int, runner: Runner) -> None:
        """
        @param directory: the cache folder.
        @param max_size: its size limit in bytes.
        @param runner: runs file operations off the reactor thread.
        """
        self.directory = directory
        self.max_size = max_size
        self._runner = runner
        self._lock = DeferredLock()
        self._held: Counter[str] = Counter()
        self._parts = itertools.count(1)

    @property
    def held(self) -> frozenset[str]:
        """
        The keys of the entries in use.
        """
        return frozenset(key for key, count in self._held.items() if count > 0)

    def _serial(self, work: Callable[[], _T]) -> Deferred[_T]:
        """
        Run C{work} through the runner once every operation before it is
        done.
        """
        return self._lock.run(lambda: self._runner(work))

    def open(self, source: str, target: AudioFormat, gain: float) -> Deferred[CacheEntry]:
        """
        Find the converted file for C{source} in C{target}'s format with
        C{gain}, marking it used, or reserve a place to write it; either
        way the entry is held until L{release}.

        @raise OSError: (through the Deferred) if the source cannot be
            looked at, or the folder cannot be created.
        """
        directory = self.directory
        number = next(self._parts)
        pid = os.getpid()

        def look() -> CacheEntry:
            parts = _source_parts(source)
            parts += [target.sample_rate, target.channels, target.bitrate, f"{gain:.2f}"]
            key = cache_key(parts)
            os.makedirs(directory, exist_ok=True)
            path = os.path.join(directory, key + ".mp3")
            return CacheEntry(key, path, f"{path}.{pid}-{number}.part", _touch(path))

        def hold(entry: CacheEntry) -> CacheEntry:
            self._held[entry.key] += 1
            return entry

        return self._lock.run(lambda: self._runner(look).addCallback(hold))

    def release(self, entry: CacheEntry) -> None:
        """
        The entry is no longer in use: its files may be evicted.
        """
        self._held[entry.key] -= 1
        if self._held[entry.key] <= 0:
            del self._held[entry.key]

    def store(self, entry: CacheEntry) -> Deferred[None]:
        """
        Put a complete conversion, written to C{entry.part}, in place; then
        evict what the size limit asks for.
        """

        def commit() -> None:
            os.replace(entry.part, entry.path)

        return self._serial(commit).addCallback(lambda _: self.evict())

    def discard(self, entry: CacheEntry) -> Deferred[None]:
        """
        Remove the partial file of a conversion that failed.
        """

        def remove() -> None:
            _remove(entry.part)

        return self._serial(remove)

    def evict(self) -> Deferred[None]:
        """
        Shrink the folder to the size limit, sparing held entries.
        """

        def run() -> Deferred[None]:
            held = self.held
            directory, max_size = self.directory, self.max_size
            d = self._runner(lambda: evict(directory, max_size, held))
            return d.addCallback(self._evicted)

        return self._lock.run(run)

    def _evicted(self, removed: list[str]) -> None:
        if removed:
            self._log.info(
                "Conversion cache {directory}: removed {count} files to stay under {size} bytes",
                directory=self.directory,
                count=len(removed),
                size=self.max_size,
            )

    def load_loudness(self, source: str) -> Deferred[tuple[str, Loudness | None]]:
        """
        The loudness measured before for C{source} as it is now, marking it
        used.

        @return: (via the Deferred) the key to store a measurement under,
            and the measurement, or C{None} when there is none.
        """
        return self._load(["loudness"], source, _loudness_from_json)

    def save_loudness(self, key: str, source: str, loudness: Loudness) -> Deferred[None]:
        """
        Keep a measurement of C{source} under C{key} (from
        L{load_loudness}).
        """
        data = {"source": source, "integrated": loudness.integrated, "peak": loudness.peak}
        return self._save(key, data)

    def load_cues(self, source: str) -> Deferred[tuple[str, CuePoints | None]]:
        """
        The cue points measured before for C{source} as it is now, at
        today's silence threshold, marking them used.

        @return: (via the Deferred) the key to store a measurement under,
            and the measurement, or C{None} when there is none.
        """
        return self._load(["cues", SILENCE_THRESHOLD], source, _cues_from_json)

    def save_cues(self, key: str, source: str, cues: CuePoints) -> Deferred[None]:
        """
        Keep the cue points of C{source} under C{key} (from L{load_cues}).
        """
        return self._save(key, {"source": source, "start": cues.start, "end": cues.end})

    def _load(
        self, kind: list[object], source: str, decode: Callable[[Any], _T | None]
    ) -> Deferred[tuple[str, _T | None]]:
        """
        A measurement of C{source} read back, marking it used.

        @param kind: what sets this kind of measurement apart, put in the
            key before the source file's parts.
        @param decode: makes the measurement of the file's JSON, or
            returns C{None} when it does not hold one.
        @return: (via the Deferred) the key, and the measurement or
            C{None}.
        """
        directory = self.directory

        def look() -> tuple[str, _T | None]:
            key = cache_key([*kind, *_source_parts(source)])
            path = os.path.join(directory, key + ".json")
            try:
                with open(path, "rb") as f:
                    data = json.loads(f.read())
                os.utime(path)
            except (OSError, ValueError):
                return key, None
            return key, decode(data)

        return self._serial(look)

    def _save(self, key: str, data: dict[str, object]) -> Deferred[None]:
        """
        Write a measurement's JSON under C{key}, whole or not at all; then
        evict what the size limit asks for.
        """
        directory = self.directory
        number = next(self._parts)

        def write() -> None:
            os.makedirs(directory, exist_ok=True)
            path = os.path.join(directory, key + ".json")
            part = f"{path}.{os.getpid()}-{number}.part"
            with open(part, "w", encoding="utf-8") as f:
                json.dump(data, f)
            os.replace(part, path)

        return self._serial(write).addCallback(lambda _: self.evict())


def _loudness_from_json(data: Any) -> Loudness | None:
    """
    A measurement read back from its cache file, or C{None} if the file
    does not hold one.
    """
    if not isinstance(data, dict):
        return None
    integrated, peak = data.get("integrated"), data.get("peak")
    if isinstance(integrated, bool) or not isinstance(integrated, int | float):
        return None
    if peak is not None and (isinstance(peak, bool) or not isinstance(peak, int | float)):
        return None
    return Loudness(float(integrated), None if peak is None else float(peak))


def _number(value: object) -> float | None:
    """
    A finite number read back from JSON, or C{None}.
    """
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) else None


def _cues_from_json(data: Any) -> CuePoints | None:
    """
    Cue points read back from their cache file, or C{None} if the file
    does not hold them.
    """
    if not isinstance(data, dict):
        return None
    start, end = _number(data.get("start")), _number(data.get("end"))
    if start is None or end is None:
        return None
    return CuePoints(start, end)
