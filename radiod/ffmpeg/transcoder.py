# -*- test-case-name: tests.ffmpeg.test_transcoder -*-
"""
Converting library files to a mount's format, ahead of their turn,
measuring their loudness and their cue points, and rendering crossfades.

A mount plays one format from start to end (see
L{radiod.ffmpeg.converter}).  An MP3 file already in that format plays
untouched; any other file (another sample rate, channel count or, when
the mount sets one, bitrate; or not an MP3 at all: FLAC, Ogg Vorbis,
Opus, WAV, AIFF, AAC) is converted by an ffmpeg child process, an
L{FfmpegRun}, into an MP3 file in the mount's format, while the track
before it plays.  The L{Transcoder} keeps converted files and loudness
measurements in a L{radiod.ffmpeg.cache.ConversionCache}, so a track
converts (and is measured) once however often it plays.

Nothing here blocks the reactor: ffmpeg runs as a child process writing
straight to disk, and every file operation (the cache's, and reading the
converted frames) runs through a L{radiod.interfaces.Runner}, in a
thread.

A track's cue points (where its sound starts and where its trailing
silence begins, see L{radiod.audio.splice}) are measured once by ffmpeg
and cached beside its loudness.  A crossfade's overlap is rendered by
ffmpeg in the same turns and time limits as conversions (see
L{radiod.ffmpeg.crossfade}).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TypeVar

from twisted.application.service import Service
from twisted.internet.defer import Deferred, DeferredList, DeferredSemaphore, fail, succeed
from twisted.internet.error import ProcessDone
from twisted.internet.interfaces import IReactorProcess, IReactorTime
from twisted.logger import Logger
from twisted.python.failure import Failure

from radiod.audio.block import FrameBlock, read_block
from radiod.audio.format import AudioFormat
from radiod.audio.frames import Frame, UnsupportedAudio
from radiod.audio.loudness import Loudness, measure_arguments, parse_ebur128
from radiod.audio.splice import CuePoints, Join, no_overlap, parse_cues
from radiod.ffmpeg import crossfade as _crossfade
from radiod.ffmpeg.arguments import convert_arguments, cue_arguments, run_timeout
from radiod.ffmpeg.cache import CacheEntry, ConversionCache
from radiod.ffmpeg.process import FfmpegProcess
from radiod.interfaces import Runner

__all__ = [
    "CONCURRENT_RUNS",
    "ConversionError",
    "ConversionJob",
    "FfmpegRun",
    "Transcoder",
    "load_converted",
]

_T = TypeVar("_T")

CONCURRENT_RUNS = max(1, (os.cpu_count() or 2) - 1)
"""
How many ffmpeg runs (conversions and loudness measurements of all
mounts together) go at once, the others waiting their turn: one fewer
than the machine has processors, so that one is always left for the
reactor.
"""


class ConversionError(Exception):
    """
    A file could not be converted (or measured).  The message is one line,
    fit for the log line that skips the track.
    """


class FfmpegRun(FfmpegProcess):
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
        @param timeout: seconds the run may take, from its start.
        """
        super().__init__()
        self._clock = clock
        self._timeout = timeout
        self.done: Deferred[str] = Deferred()
        self.ended: Deferred[None] = Deferred()

    def connectionMade(self) -> None:
        """
        ffmpeg started: its time starts running, and it reads nothing.
        """
        self.kill_after(self._clock, self._timeout, f"took longer than {self._timeout:g} s")
        assert self.transport is not None
        self.transport.closeStdin()

    def processEnded(self, reason: Failure) -> None:
        """
        ffmpeg is gone: L{done} fires with its standard error, or fails
        saying how it ended; then L{ended} fires.
        """
        super().processEnded(reason)
        if self.killed_for or not reason.check(ProcessDone):
            self.done.errback(ConversionError(self.describe(reason)))
        else:
            self.done.callback(self.stderr)
        self.ended.callback(None)


@dataclass(frozen=True, slots=True)
class ConversionJob:
    """
    One library file to convert to a mount's format.

    @ivar source: the library file.
    @ivar target: the mount's format.
    @ivar gain: dB to turn it up (or down, when negative).
    @ivar duration: the track's length in seconds (0 when unknown), for
        the time ffmpeg is allowed.
    @ivar name: the mount's name, for logs.
    """

    source: str
    target: AudioFormat
    gain: float
    duration: float
    name: str = ""


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
    Converts library files into a mount's format, measures their
    loudness and cue points, and renders crossfades, with ffmpeg child
    processes and a L{ConversionCache}.

    One transcoder serves every mount of a station, so a file two mounts
    play in the same format converts once.  When stopped, it kills the
    ffmpeg processes still running and waits for them to end.

    @ivar ffmpeg: the ffmpeg executable, or C{None} when there is none
        (then nothing converts).
    @ivar cache: where conversions and measurements are kept.
    @ivar runs: the ffmpeg processes running now.
    @ivar conversions: ffmpeg conversions started so far.
    @ivar measurements: ffmpeg loudness measurements started so far.
    @ivar cue_measurements: ffmpeg measurements of cue points started so
        far.
    @ivar crossfades: ffmpeg renderings of crossfades started so far.
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
        self.cue_measurements = 0
        self.crossfades = 0
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
        job = ConversionJob(source, target, gain, duration, name)
        opened = self.cache.open(source, target, gain)
        return opened.addCallback(self._produce, job)

    def _produce(self, entry: CacheEntry, job: ConversionJob) -> Deferred[Sequence[Frame]]:
        """
        The frames of C{job}, read from C{entry} once it holds them.
        """
        if entry.hit:
            self._log.info(
                "Converted {path} for {mount} found in the cache", path=job.source, mount=job.name
            )
            ready: Deferred[None] = succeed(None)
        else:
            ready = self._once(entry, job)
        loaded = ready.addCallback(
            lambda _: self._runner(lambda: load_converted(entry.path, job.target))
        )

        def release(result: _T) -> _T:
            self.cache.release(entry)
            return result

        return loaded.addBoth(release)

    def _once(self, entry: CacheEntry, job: ConversionJob) -> Deferred[None]:
        """
        Convert C{job} into C{entry}, or wait for the conversion into the
        same entry that is under way.
        """
        waiting = self._converting.get(entry.key)
        if waiting is not None:
            waiter: Deferred[None] = Deferred()
            waiting.append(waiter)
            return waiter
        waiters: list[Deferred[None]] = []
        self._converting[entry.key] = waiters
        done = self._convert(entry, job)

        def tell(result: Failure | None) -> Failure | None:
            del self._converting[entry.key]
            for waiter in waiters:
                if isinstance(result, Failure):
                    waiter.errback(result)
                else:
                    waiter.callback(None)
            return result

        return done.addBoth(tell)

    def _convert(self, entry: CacheEntry, job: ConversionJob) -> Deferred[None]:
        """
        Run ffmpeg to convert C{job} into C{entry}'s partial file, and put
        it in place when complete (or remove it when not).
        """
        assert self.ffmpeg is not None
        arguments = convert_arguments(self.ffmpeg, job.source, entry.part, job.target, job.gain)
        started = self._clock.seconds()
        self.conversions += 1
        self._log.info(
            "Converting {path} for {mount} to {target}{gain}",
            path=job.source,
            mount=job.name,
            target=job.target.describe(),
            gain=f", {job.gain:+.2f} dB" if job.gain else "",
        )
        ran = self._turns.run(self._spawn, arguments, run_timeout(job.duration))

        def converted(_: str) -> Deferred[None]:
            self._log.info(
                "Converted {path} for {mount} in {seconds:.1f} s",
                path=job.source,
                mount=job.name,
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

    def cue_points(self, source: str, duration: float, name: str = "") -> Deferred[CuePoints]:
        """
        The cue points of C{source}: where its sound starts and where its
        trailing silence begins (see L{radiod.audio.splice}), measured
        before (and cached), or measured now by ffmpeg.

        @param source: the library file.
        @param duration: its length in seconds (0 when unknown): the end
            reported when it has no trailing silence, and the time ffmpeg
            is allowed.
        @param name: the mount's name, for logs.
        @return: a Deferred firing with the cue points, or failing with
            L{ConversionError} or L{OSError}.
        """
        looked = self.cache.load_cues(source)

        def measure(found: tuple[str, CuePoints | None]) -> Deferred[CuePoints]:
            key, known = found
            if known is not None:
                return succeed(known)
            if self.ffmpeg is None:
                return fail(ConversionError("cannot measure its silence: there is no ffmpeg"))
            self.cue_measurements += 1
            self._log.info("Measuring the silence of {path} for {mount}", path=source, mount=name)
            arguments = cue_arguments(self.ffmpeg, source)
            ran = self._turns.run(self._spawn, arguments, run_timeout(duration))
            return ran.addCallback(self._cued, key, source, duration)

        return looked.addCallback(measure)

    def _cued(self, log: str, key: str, source: str, duration: float) -> Deferred[CuePoints]:
        cues = parse_cues(log, duration)
        if cues is None:
            raise ConversionError("ffmpeg measured no silence")
        return self.cache.save_cues(key, source, cues).addCallback(lambda _: cues)

    def crossfade(
        self,
        outgoing: Sequence[Frame],
        incoming: Sequence[Frame],
        seconds: float,
        target: AudioFormat,
        fade_in: bool = False,
        name: str = "",
    ) -> Deferred[Join]:
        """
        Overlap the end of one track with the start of the next for
        C{seconds}: the outgoing track fades out while the incoming one
        plays at its own level (or fades in too, with C{fade_in}).  The
        overlap is rendered now by ffmpeg, into frames in C{target}'s
        format, and spliced in at frame boundaries (see
        L{radiod.ffmpeg.crossfade} and L{radiod.audio.splice}).

        The overlap lasts C{seconds} rounded to whole frames, but when
        either track is shorter than twice that, it is shortened to half
        the shorter track; tracks with fewer than two frames, or
        C{seconds} of 0, do not overlap (and need no ffmpeg).

        @param outgoing: the outgoing track's frames as they will play
            (without their trailing silence), in C{target}'s sample rate
            and channels.
        @param incoming: the incoming track's frames as they will play
            (without their leading silence), likewise.
        @param seconds: how long the overlap should last.
        @param target: the mount's format.
        @param fade_in: whether the incoming track fades in too.
        @param name: the mount's name, for logs.
        @return: a Deferred firing with the join, or failing with
            L{ConversionError} (the frames are not in C{target}'s format,
            there is no ffmpeg, or it failed) or L{OSError}.
        """
        try:
            overlap = _crossfade.plan(outgoing, incoming, seconds, target)
        except ValueError as error:
            return fail(ConversionError(f"cannot crossfade: {error}"))
        if overlap is None:
            return succeed(no_overlap(outgoing, incoming))
        if self.ffmpeg is None:
            return fail(ConversionError("cannot crossfade: there is no ffmpeg"))
        self.crossfades += 1
        started = self._clock.seconds()
        length = overlap.fade / target.sample_rate
        self._log.info(
            "Rendering a {seconds:.2f} s crossfade for {mount}", seconds=length, mount=name
        )

        def run(arguments: list[str], timeout: float) -> Deferred[str]:
            return self._turns.run(self._spawn, arguments, timeout)

        rendered = _crossfade.render(
            run, self._runner, self.ffmpeg, outgoing, incoming, overlap, target, fade_in
        )

        def done(join: Join) -> Join:
            self._log.info(
                "Rendered a {seconds:.2f} s crossfade for {mount} in {elapsed:.2f} s",
                seconds=length,
                mount=name,
                elapsed=self._clock.seconds() - started,
            )
            return join

        def unspliced(failure: Failure) -> Failure:
            failure.trap(ValueError, UnsupportedAudio)
            raise ConversionError(f"cannot crossfade: {failure.getErrorMessage()}")

        return rendered.addCallbacks(done, unspliced)

    def _spawn(self, arguments: list[str], timeout: float) -> Deferred[str]:
        """
        Run ffmpeg with C{arguments} to its end.
        """
        if self._stopping:
            return fail(ConversionError("radiod is stopping"))
        run = FfmpegRun(self._clock, timeout)
        try:
            run.start(self._reactor, arguments)
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
