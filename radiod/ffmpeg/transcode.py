# -*- test-case-name: tests.ffmpeg.test_transcode -*-
"""
Converting library files to a mount's format, ahead of their turn, through
a disk cache.

A mount plays one format from start to end (see L{radiod.ffmpeg.converter}).  An
MP3 file already in that format plays untouched; any other file (another
sample rate, channel count or, when the mount sets one, bitrate; or not an
MP3 at all: FLAC, Ogg Vorbis, Opus, WAV, AIFF, AAC) is converted by an
ffmpeg child process into an MP3 file in the mount's format, while the
track before it plays.  Converted files are kept in a L{ConversionCache}
folder, keyed by the source file (path, size and modification time), the
format and the gain, so a track converts once however often it plays; the
least recently used files go when the folder outgrows its size.

Nothing here blocks the reactor: ffmpeg runs as a child process writing
straight to disk, and every file operation (looking up, renaming,
evicting, reading the converted frames) runs through a
L{radiod.interfaces.Runner}, in a thread.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import os
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from twisted.application.service import Service
from twisted.internet.defer import (
    Deferred,
    DeferredList,
    DeferredLock,
    DeferredSemaphore,
    fail,
    succeed,
)
from twisted.internet.error import ProcessDone, ProcessExitedAlready, ProcessTerminated
from twisted.internet.interfaces import IDelayedCall, IReactorProcess, IReactorTime
from twisted.internet.protocol import ProcessProtocol
from twisted.logger import Logger
from twisted.python.failure import Failure

from radiod.audio.format import AudioFormat
from radiod.audio.frames import Frame, FrameBlock, read_block
from radiod.audio.loudness import Loudness, measure_arguments, parse_ebur128
from radiod.ffmpeg.converter import format_output
from radiod.interfaces import Runner

__all__ = [
    "CONCURRENT_RUNS",
    "MIN_TIMEOUT",
    "CacheEntry",
    "ConversionCache",
    "ConversionError",
    "FfmpegRun",
    "Transcoder",
    "convert_arguments",
    "run_timeout",
]

_T = TypeVar("_T")


MIN_TIMEOUT = 60.0
"""
The fewest seconds an ffmpeg run is given before it is killed; a run
over a long track gets twice the track's duration.
"""

UNKNOWN_DURATION_TIMEOUT = 900.0
"""
The seconds an ffmpeg run is given for a track of unknown duration.
"""

CONCURRENT_RUNS = max(1, (os.cpu_count() or 2) - 1)
"""
How many ffmpeg runs (conversions and loudness measurements of all
mounts together) go at once, the others waiting their turn: one fewer
than the machine has processors, so that one is always left for the
reactor.
"""

_STDERR_KEPT = 8192


def run_timeout(duration: float) -> float:
    """
    The seconds an ffmpeg run over a track of C{duration} seconds may take
    before it is killed: twice the duration, at least L{MIN_TIMEOUT}.
    """
    if duration <= 0:
        return UNKNOWN_DURATION_TIMEOUT
    return max(MIN_TIMEOUT, 2 * duration)


def convert_arguments(
    ffmpeg: str, source: str, output: str, target: AudioFormat, gain: float = 0.0
) -> list[str]:
    """
    The ffmpeg command line that converts the first audio stream of
    C{source} into a constant bitrate MP3 file in C{target}'s format,
    without tags or a Xing header, turned up or down by C{gain} dB.
    """
    arguments = [
        ffmpeg,
        "-hide_banner",
        "-nostdin",
        "-nostats",
        "-loglevel",
        "error",
        "-threads",
        "1",
        "-i",
        "file:" + os.path.abspath(source),
        "-map",
        "0:a:0",
        "-map_metadata",
        "-1",
    ]
    if gain:
        arguments += ["-af", f"volume={gain:.2f}dB"]
    return [
        *arguments,
        *format_output(target),
        "-y",
        "file:" + os.path.abspath(output),
    ]


class ConversionError(Exception):
    """
    A file could not be converted (or measured).  The message is one line,
    fit for the log line that skips the track.
    """


class FfmpegRun(ProcessProtocol):
    """
    One ffmpeg child process run to its end, killed if it takes longer
    than its time limit.

    @ivar done: fires with what ffmpeg wrote on its standard error (its
        last 8 KiB) when it exits with status 0; fails with
        L{ConversionError} when it exits otherwise, dies, or is killed.
    @ivar ended: fires with C{None} when the process is gone, however it
        ended.
    """

    def __init__(self, clock: IReactorTime, timeout: float) -> None:
        """
        @param clock: for the time limit.
        @param timeout: seconds the run may take.
        """
        self._clock = clock
        self._timeout = timeout
        self._timer: IDelayedCall | None = None
        self._stderr = bytearray()
        self._killed_for = ""
        self._gone = False
        self.done: Deferred[str] = Deferred()
        self.ended: Deferred[None] = Deferred()

    def connectionMade(self) -> None:
        self._timer = self._clock.callLater(self._timeout, self._overdue)
        assert self.transport is not None
        self.transport.closeStdin()

    def _overdue(self) -> None:
        self._timer = None
        self.kill(f"took longer than {self._timeout:g} s")

    def kill(self, reason: str) -> None:
        """
        End the process now; L{done} fails with C{reason}.
        """
        if self._gone or self._killed_for:
            return
        self._killed_for = reason
        if self.transport is not None:
            try:
                self.transport.signalProcess("KILL")
            except ProcessExitedAlready:
                pass

    def errReceived(self, data: bytes) -> None:
        self._stderr += data
        if len(self._stderr) > 2 * _STDERR_KEPT:
            del self._stderr[:-_STDERR_KEPT]

    @property
    def stderr(self) -> str:
        """
        The end of what the process wrote on its standard error.
        """
        return bytes(self._stderr[-_STDERR_KEPT:]).decode("utf-8", "replace")

    def processEnded(self, reason: Failure) -> None:
        self._gone = True
        if self._timer is not None and self._timer.active():
            self._timer.cancel()
        self._timer = None
        if self._killed_for:
            self.done.errback(ConversionError(f"ffmpeg {self._killed_for}"))
        elif reason.check(ProcessDone):
            self.done.callback(self.stderr)
        else:
            self.done.errback(ConversionError(self._describe(reason)))
        self.ended.callback(None)

    def _describe(self, reason: Failure) -> str:
        lines = [line.strip() for line in self.stderr.splitlines() if line.strip()]
        said = f": {lines[-1]}" if lines else ""
        value = reason.value
        if isinstance(value, ProcessTerminated):
            if value.exitCode is not None:
                return f"ffmpeg exited with status {value.exitCode}{said}"
            return f"ffmpeg was killed by signal {value.signal}{said}"
        return f"ffmpeg failed: {reason.getErrorMessage()}{said}"


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
        directory = self.directory

        def look() -> tuple[str, Loudness | None]:
            key = cache_key(["loudness", *_source_parts(source)])
            path = os.path.join(directory, key + ".json")
            try:
                with open(path, "rb") as f:
                    data = json.loads(f.read())
                os.utime(path)
            except (OSError, ValueError):
                return key, None
            return key, _loudness_from_json(data)

        return self._serial(look)

    def save_loudness(self, key: str, source: str, loudness: Loudness) -> Deferred[None]:
        """
        Keep a measurement of C{source} under C{key} (from
        L{load_loudness}).
        """
        directory = self.directory
        number = next(self._parts)
        data = {"source": source, "integrated": loudness.integrated, "peak": loudness.peak}

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


def load_converted(path: str, target: AudioFormat) -> FrameBlock:
    """
    Read a converted file into frames, checking they are in the format
    asked for.  Blocks.

    @raise ConversionError: if they are not.
    @raise OSError: if the file cannot be read.
    """
    with open(path, "rb") as f:
        data = f.read()
    frames = read_block(data)
    streams = {(header.sample_rate, header.channels) for header in frames.headers()}
    if streams != {(target.sample_rate, target.channels)}:
        raise ConversionError(f"ffmpeg wrote another format than {target.describe()}")
    return frames


class Transcoder(Service):
    """
    Converts library files into a mount's format, and measures their
    loudness, with ffmpeg child processes and a L{ConversionCache}.

    One transcoder serves every mount of a station, so a file two mounts
    play in the same format converts once.  When stopped, it kills the
    ffmpeg processes still running and waits for them to end.

    @ivar ffmpeg: the ffmpeg executable, or C{None} when there is none
        (then nothing converts).
    @ivar cache: where conversions and measurements are kept.
    @ivar runs: the ffmpeg processes running now.
    @ivar conversions: ffmpeg conversions started so far.
    @ivar measurements: ffmpeg loudness measurements started so far.
    """

    _log = Logger()

    def __init__(
        self,
        reactor: IReactorProcess,
        clock: IReactorTime,
        runner: Runner,
        cache: ConversionCache,
        ffmpeg: str | None,
    ) -> None:
        """
        @param reactor: spawns ffmpeg.
        @param clock: for ffmpeg's time limits.
        @param runner: runs file operations off the reactor thread.
        @param cache: the cache of converted files.
        @param ffmpeg: the ffmpeg executable, or C{None}.
        """
        self._reactor = reactor
        self._clock = clock
        self._runner = runner
        self.cache = cache
        self.ffmpeg = ffmpeg
        self.runs: set[FfmpegRun] = set()
        self.conversions = 0
        self.measurements = 0
        self._turns = DeferredSemaphore(CONCURRENT_RUNS)
        self._converting: dict[str, list[Deferred[None]]] = {}
        self._stopping = False

    @property
    def available(self) -> bool:
        """
        Whether files can be converted: there is an ffmpeg.
        """
        return self.ffmpeg is not None

    def convert(
        self, source: str, target: AudioFormat, gain: float, duration: float, name: str = ""
    ) -> Deferred[Sequence[Frame]]:
        """
        The frames of C{source} in C{target}'s format with C{gain} applied:
        from the cache, or converted now (a conversion another mount has
        under way is waited for rather than repeated).

        @param source: the library file.
        @param target: the mount's format.
        @param gain: dB to turn it up (or down, when negative).
        @param duration: the track's length in seconds (0 when unknown),
            for the time ffmpeg is allowed.
        @param name: the mount's name, for logs.
        @return: a Deferred firing with the frames, or failing with
            L{ConversionError} or L{OSError}.
        """
        if self.ffmpeg is None:
            return fail(
                ConversionError(f"needs converting to {target.describe()}, and there is no ffmpeg")
            )
        opened = self.cache.open(source, target, gain)
        return opened.addCallback(self._produce, source, target, gain, duration, name)

    def _produce(
        self,
        entry: CacheEntry,
        source: str,
        target: AudioFormat,
        gain: float,
        duration: float,
        name: str,
    ) -> Deferred[Sequence[Frame]]:
        if entry.hit:
            self._log.info(
                "Converted {path} for {mount} found in the cache", path=source, mount=name
            )
            ready: Deferred[None] = succeed(None)
        else:
            ready = self._once(entry, source, target, gain, duration, name)
        loaded = ready.addCallback(
            lambda _: self._runner(lambda: load_converted(entry.path, target))
        )

        def release(result: _T) -> _T:
            self.cache.release(entry)
            return result

        return loaded.addBoth(release)

    def _once(
        self,
        entry: CacheEntry,
        source: str,
        target: AudioFormat,
        gain: float,
        duration: float,
        name: str,
    ) -> Deferred[None]:
        """
        Convert into C{entry}, or wait for the conversion into the same
        entry that is under way.
        """
        waiting = self._converting.get(entry.key)
        if waiting is not None:
            waiter: Deferred[None] = Deferred()
            waiting.append(waiter)
            return waiter
        waiters: list[Deferred[None]] = []
        self._converting[entry.key] = waiters
        done = self._convert(entry, source, target, gain, duration, name)

        def tell(result: Failure | None) -> Failure | None:
            del self._converting[entry.key]
            for waiter in waiters:
                if isinstance(result, Failure):
                    waiter.errback(result)
                else:
                    waiter.callback(None)
            return result

        return done.addBoth(tell)

    def _convert(
        self,
        entry: CacheEntry,
        source: str,
        target: AudioFormat,
        gain: float,
        duration: float,
        name: str,
    ) -> Deferred[None]:
        assert self.ffmpeg is not None
        arguments = convert_arguments(self.ffmpeg, source, entry.part, target, gain)
        started = self._clock.seconds()
        self.conversions += 1
        self._log.info(
            "Converting {path} for {mount} to {target}{gain}",
            path=source,
            mount=name,
            target=target.describe(),
            gain=f", {gain:+.2f} dB" if gain else "",
        )
        ran = self._turns.run(self._spawn, arguments, run_timeout(duration))

        def converted(_: str) -> Deferred[None]:
            self._log.info(
                "Converted {path} for {mount} in {seconds:.1f} s",
                path=source,
                mount=name,
                seconds=self._clock.seconds() - started,
            )
            return self.cache.store(entry)

        def failed(failure: Failure) -> Deferred[None]:
            return self.cache.discard(entry).addCallback(lambda _: failure)

        return ran.addCallbacks(converted, failed)

    def loudness(self, source: str, duration: float, name: str = "") -> Deferred[Loudness]:
        """
        The loudness of C{source}: measured before (and cached), or
        measured now by ffmpeg.

        @return: a Deferred firing with the measurement, or failing with
            L{ConversionError} or L{OSError}.
        """
        looked = self.cache.load_loudness(source)

        def measure(found: tuple[str, Loudness | None]) -> Deferred[Loudness]:
            key, known = found
            if known is not None:
                return succeed(known)
            if self.ffmpeg is None:
                return fail(ConversionError("cannot measure its loudness: there is no ffmpeg"))
            self.measurements += 1
            self._log.info("Measuring the loudness of {path} for {mount}", path=source, mount=name)
            arguments = measure_arguments(self.ffmpeg, source)
            ran = self._turns.run(self._spawn, arguments, run_timeout(duration))
            return ran.addCallback(self._measured, key, source)

        return looked.addCallback(measure)

    def _measured(self, log: str, key: str, source: str) -> Deferred[Loudness]:
        loudness = parse_ebur128(log)
        if loudness is None:
            raise ConversionError("ffmpeg measured no loudness")
        return self.cache.save_loudness(key, source, loudness).addCallback(lambda _: loudness)

    def _spawn(self, arguments: list[str], timeout: float) -> Deferred[str]:
        """
        Run ffmpeg with C{arguments} to its end.
        """
        if self._stopping:
            return fail(ConversionError("radiod is stopping"))
        run = FfmpegRun(self._clock, timeout)
        try:
            self._reactor.spawnProcess(
                run, arguments[0], arguments, env=None, childFDs={0: "w", 1: "r", 2: "r"}
            )
        except OSError as error:
            return fail(ConversionError(f"cannot start ffmpeg: {error.strerror or error}"))
        self.runs.add(run)
        run.ended.addCallback(lambda _: self.runs.discard(run))
        return run.done

    def stopService(self) -> Deferred[None]:
        """
        Kill the ffmpeg processes still running; fires once they are gone.
        """
        super().stopService()
        self._stopping = True
        ended = [run.ended for run in self.runs]
        for run in list(self.runs):
            run.kill("was stopped with radiod")
        return DeferredList(ended).addCallback(lambda _: None)

    def startService(self) -> None:
        """
        Tidy the cache: keep it to its size (which may have shrunk since
        the last run), and remove partial files a crash left behind.
        """
        super().startService()
        self._stopping = False
        self.cache.evict().addErrback(self._untidy)

    def _untidy(self, failure: Failure) -> None:
        self._log.warn(
            "Cannot tidy the conversion cache {directory}: {reason}",
            directory=self.cache.directory,
            reason=failure.getErrorMessage(),
        )
