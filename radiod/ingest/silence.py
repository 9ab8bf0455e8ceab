# -*- test-case-name: tests.ingest.test_silence -*-
"""
Dead-air detection: a live source or relay that sends silence is taken
off the air, and put back on once it sounds again.

While a live source (or a relay) is connected to a mount whose
C{silence_timeout} is not 0, a L{SilenceWatch} hands each batch of its
whole frames, as they are split from the connection's bytes, to an ffmpeg
child process (a L{SilenceDetector}).  ffmpeg decodes them and logs the
RMS level, in dBFS over all channels, of every L{WINDOW} seconds of audio;
L{LevelLog} reads those levels back from its standard error, and
L{DeadAir} judges them.  Time is counted in seconds of the source's own
audio, not on a clock: a source is silent after C{silence_timeout}
seconds of audio in a row below the mount's C{silence_threshold}, and
sounds again after L{RECOVERY} seconds in a row at or above it, however
the bytes were paced on the way.

A silent source is muted on its mount's switch
(L{radiod.broadcast.switch.Switch.mute}): listeners hear the playlist
again, or for a mount that only plays live sources, its fallback mount,
exactly as when a source leaves.  The connection stays open meanwhile:
the source's audio is still read, measured and recorded.  Once it sounds
again it is unmuted and goes back on the air.  Each move is logged with
the mount and the source's peer, counted on the switch
(L{radiod.broadcast.switch.Switch.mutes}, which the metrics read), and told
to the L{SilenceWatches.on_silence} callbacks.

A mount with nothing else to play (no playlist and no fallback) is not
watched: taking its source off the air would only close its listeners.
A mount's settings are read as a source connects to it.

A detector that dies, or stalls (see L{MAX_PENDING}), never takes a
source off the air: a source it had taken off is put back on, and
another detector starts with the first audio after a pause that doubles
at each failure in a row (see L{radiod.reconnect.backoff}; a detector
that ran for L{STEADY} seconds starts the count again).  A detector is
stopped with its source, its pipes closed at once; L{SilenceWatches.ended}
tells when the last is gone, for a station to wait for as it stops.
Without ffmpeg, dead-air detection is off, and says so once.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping

from twisted.internet.defer import Deferred, DeferredList, succeed
from twisted.internet.interfaces import IReactorProcess, IReactorTime
from twisted.logger import Logger
from twisted.python.failure import Failure

from radiod.audio.frames import Frame
from radiod.broadcast.live import LiveSource
from radiod.broadcast.mount import Mount
from radiod.broadcast.switch import Switch
from radiod.ffmpeg.arguments import PIPED_MP3_INPUT
from radiod.ffmpeg.process import FfmpegProcess
from radiod.reconnect import backoff

__all__ = [
    "MAX_LINE",
    "MAX_PENDING",
    "RECOVERY",
    "RESTART_MAX",
    "STEADY",
    "WINDOW",
    "DeadAir",
    "LevelLog",
    "SilenceDetector",
    "SilenceWatch",
    "SilenceWatches",
    "level_arguments",
    "window_samples",
]

WINDOW = 0.5
"""
Seconds of audio in each level measured.
"""

RECOVERY = 3.0
"""
Seconds of audio in a row at or above the threshold after which a source
taken off the air for dead air goes back on.
"""

MAX_PENDING = 10.0
"""
A detector that has more than this many seconds of audio written to it
and not yet measured, and has measured nothing for as many seconds on the
clock, counts as stalled and is replaced: a burst of audio on connection
is not a stall, a hung ffmpeg is, and what waits in its pipe stays
bounded.
"""

STEADY = 30.0
"""
Seconds a detector must have run for its failure to count as the first in
a row again.
"""

RESTART_MAX = 60.0
"""
The longest pause before another detector starts after a failure.
"""

MAX_LINE = 4096
"""
The longest line of a detector's log kept while waiting for its end; a
longer one is dropped.
"""

_EPSILON = 1e-9

_LEVEL = re.compile(rb"lavfi\.astats\.Overall\.RMS_level=(\S+)")

_COMPLAINTS = ("[warning]", "[error]", "[fatal]", "[panic]")


class DeadAir:
    """
    Judges, window after window of a source's audio, whether the source
    sends dead air.

    It is in one of two states, L{silent} or not, and moves between them
    on a run of audio that argues for the other one::

        sounding --timeout seconds in a row below the threshold--> silent
        silent --recovery seconds in a row at or above it--> sounding

    A single window that agrees with the current state starts the run
    again, so a short sound in dead air, or a short pause in a show,
    moves nothing.  A level that is not a number counts as below the
    threshold.

    @ivar timeout: seconds of audio below the threshold that make the
        source silent.
    @ivar threshold: the level, in dBFS, below which audio is silence.
    @ivar recovery: seconds of audio at or above the threshold that make a
        silent source sound again.
    @ivar silent: whether the source is silent now.
    @ivar run: seconds of audio in a row so far that argue for the other
        state.
    """

    def __init__(self, timeout: float, threshold: float, recovery: float = RECOVERY) -> None:
        """
        @param timeout: seconds below C{threshold} that make the source
            silent.
        @param threshold: the silence level, in dBFS.
        @param recovery: seconds at or above C{threshold} that make it
            sound again.
        @raise ValueError: if C{timeout} or C{recovery} is not positive.
        """
        if timeout <= 0 or recovery <= 0:
            raise ValueError("the timeout and the recovery must be positive")
        self.timeout = timeout
        self.threshold = threshold
        self.recovery = recovery
        self.silent = False
        self.run = 0.0

    def measure(self, seconds: float, level: float) -> bool | None:
        """
        Take C{seconds} more of the source's audio, at C{level}.

        @param seconds: how much audio was measured.
        @param level: its RMS level, in dBFS (C{-inf} for digital silence).
        @return: L{silent} when it changed (C{True}: the source went
            silent; C{False}: it sounds again), else C{None}.
        """
        quiet = not level >= self.threshold
        if quiet == self.silent:
            self.run = 0.0
            return None
        self.run += seconds
        needed = self.recovery if self.silent else self.timeout
        if self.run + _EPSILON < needed:
            return None
        self.silent = quiet
        self.run = 0.0
        return self.silent


class LevelLog:
    """
    Reads the levels a detector logs: its standard error in, as it comes,
    one level (in dBFS) per measured window out.

    Everything here is pure: bytes in, numbers out.
    """

    def __init__(self) -> None:
        self._partial = b""

    def feed(self, data: bytes) -> list[float]:
        """
        Take more of the log.

        @return: the levels of the lines it completed, in order; lines
            about anything else are passed over.
        """
        lines = (self._partial + data).split(b"\n")
        self._partial = lines.pop()
        if len(self._partial) > MAX_LINE:
            self._partial = b""
        levels = []
        for line in lines:
            found = _LEVEL.search(line)
            if found is None:
                continue
            try:
                levels.append(float(found.group(1).decode("ascii")))
            except (UnicodeDecodeError, ValueError):
                continue
        return levels


def window_samples(sample_rate: int) -> int:
    """
    How many samples each measured window holds at C{sample_rate}:
    L{WINDOW} seconds' worth, at least one.
    """
    return max(1, round(sample_rate * WINDOW))


def level_arguments(ffmpeg: str, sample_rate: int) -> list[str]:
    """
    The command line of a detector: read MP3 from standard input with no
    probing delay and log, for each window of L{window_samples} samples
    (at the audio's C{sample_rate}), its RMS level over all channels
    (C{lavfi.astats.Overall.RMS_level=-23.5}) as soon as it is measured;
    write no audio.  Each line of the log is tagged with its level
    (C{[info]}, C{[error]} ...).
    """
    measure = ",".join(
        [
            f"asetnsamples=n={window_samples(sample_rate)}:p=0",
            "astats=metadata=1:reset=1",
            "ametadata=mode=print:key=lavfi.astats.Overall.RMS_level",
        ]
    )
    return [
        ffmpeg,
        "-hide_banner",
        "-nostdin",
        "-nostats",
        "-loglevel",
        "level+info",
        *PIPED_MP3_INPUT,
        "-af",
        measure,
        "-f",
        "null",
        "-",
    ]


class SilenceDetector(FfmpegProcess):
    """
    ffmpeg measuring live audio as it comes: MP3 frames in on its
    standard input, the level of each L{WINDOW} seconds in its log (see
    L{level_arguments}).

    @ivar window: seconds of audio in each level.
    @ivar fed: seconds of audio written to it.
    @ivar measured: seconds of audio it has measured.
    """

    def __init__(
        self,
        reactor: IReactorProcess,
        ffmpeg: str,
        sample_rate: int,
        measured: Callable[[float, float], None],
        ended: Callable[[Failure], None],
    ) -> None:
        """
        Start ffmpeg.

        @param reactor: spawns the process.
        @param ffmpeg: the ffmpeg executable.
        @param sample_rate: the sample rate of the audio it measures.
        @param measured: called with the seconds of audio and the level,
            in dBFS, of each window measured.
        @param ended: called once when the process is gone, with why.
        @raise OSError: if ffmpeg cannot be started.
        """
        super().__init__()
        self._measured = measured
        self._ended = ended
        self._levels = LevelLog()
        self.window = window_samples(sample_rate) / sample_rate
        self.fed = 0.0
        self.measured = 0.0
        self.start(reactor, level_arguments(ffmpeg, sample_rate))

    @property
    def pending(self) -> float:
        """
        Seconds of audio written to it and not yet measured.
        """
        return max(0.0, self.fed - self.measured)

    def feed(self, frames: list[Frame]) -> None:
        """
        Write C{frames} to ffmpeg's standard input, unless it is gone or
        being killed.
        """
        if self.exited or self.killed_for or self.transport is None:
            return
        self.transport.write(b"".join(frame.data for frame in frames))
        self.fed += sum(frame.header.duration for frame in frames)

    def stop(self, why: str) -> None:
        """
        End ffmpeg now: kill it and close its pipes at once, so that the
        reactor watches nothing of it any more; what it has not measured
        is lost.

        @param why: what L{describe} says of it after "ffmpeg".
        """
        self.kill(why)
        if self.transport is not None and not self.exited:
            self.transport.loseConnection()

    @property
    def last_line(self) -> str:
        """
        The last line, not blank, ffmpeg logged as a warning or worse
        (its measurements and statistics are information), or an empty
        string.
        """
        for line in reversed(self.stderr.splitlines()):
            if any(tag in line for tag in _COMPLAINTS):
                return line.strip()
        return ""

    # ProcessProtocol

    def errReceived(self, data: bytes) -> None:
        """
        Keep the end of the log, and pass on the levels it gives, unless
        the process is being killed.
        """
        super().errReceived(data)
        for level in self._levels.feed(data):
            if self.killed_for:
                return
            self.measured += self.window
            self._measured(self.window, level)

    def processEnded(self, reason: Failure) -> None:
        """
        ffmpeg is gone: say why.
        """
        super().processEnded(reason)
        self._ended(reason)


class SilenceWatch:
    """
    Watches one live source for dead air while it is connected: feeds its
    frames to a L{SilenceDetector}, judges the levels with L{DeadAir}, and
    mutes and unmutes it on its mount's switch.

    @ivar live: the live source watched.
    @ivar mount: the mount's name, for logs.
    @ivar peer: the source's address (or a relay's upstream URL), for
        logs.
    @ivar gate: the judge of its levels.
    @ivar detector: the detector at work, if any.
    @ivar failures: detectors that failed in a row (see L{STEADY}).
    @ivar stopped: whether the watch is over (L{stop}).
    @ivar busy: how many of its detectors have not ended yet (the one at
        work, and those stopped but not yet gone).
    """

    _log = Logger()

    def __init__(
        self,
        reactor: IReactorProcess,
        clock: IReactorTime,
        ffmpeg: str,
        switch: Switch,
        live: LiveSource,
        mount: str,
        peer: str,
        timeout: float,
        threshold: float,
        changed: Callable[[bool], None],
    ) -> None:
        """
        Start watching C{live}; its first frames start a detector.

        @param reactor: spawns the detectors.
        @param clock: for the pauses after failures.
        @param ffmpeg: the ffmpeg executable.
        @param switch: the mount's switch, which C{live} is attached to.
        @param live: the live source to watch.
        @param mount: the mount's name.
        @param peer: the source's address, or a relay's upstream URL.
        @param timeout: seconds of silence that take it off the air.
        @param threshold: the silence level, in dBFS.
        @param changed: called with C{True} once the source is taken off
            the air, with C{False} once it is back on.
        """
        self._reactor = reactor
        self._clock = clock
        self._ffmpeg = ffmpeg
        self._switch = switch
        self._changed = changed
        self._policy = backoff(RESTART_MAX)
        self.live = live
        self.mount = mount
        self.peer = peer
        self.gate = DeadAir(timeout, threshold)
        self.detector: SilenceDetector | None = None
        self.failures = 0
        self.stopped = False
        self.busy = 0
        self._waiting: list[Deferred[None]] = []
        self._started_at = 0.0
        self._heard_at = 0.0
        self._resume_at = 0.0
        live.on_frames.append(self._frames)

    @property
    def silent(self) -> bool:
        """
        Whether the source is off the air for dead air.
        """
        return self.gate.silent

    def ended(self) -> Deferred[None]:
        """
        Fires once none of its detectors is running (at once when none
        is): after L{stop}, when the last ffmpeg is gone.
        """
        if not self.busy:
            return succeed(None)
        waiting: Deferred[None] = Deferred()
        self._waiting.append(waiting)
        return waiting

    def stop(self) -> None:
        """
        The source is gone: stop watching it, and stop the detector.  A
        source off the air stays off: it leaves from there.
        """
        if self.stopped:
            return
        self.stopped = True
        if self._frames in self.live.on_frames:
            self.live.on_frames.remove(self._frames)
        self._drop("was stopped")

    def _frames(self, frames: list[Frame]) -> None:
        """
        Whole frames from the source: measure them, starting a detector
        if none is at work (unless the pause after a failure is still on).
        """
        detector = self.detector
        if detector is None:
            detector = self._start(frames[0].header.sample_rate)
            if detector is None:
                return
        detector.feed(frames)
        silent_for = self._clock.seconds() - self._heard_at
        if detector.pending > MAX_PENDING and silent_for > MAX_PENDING:
            self._failed(f"measured nothing for {silent_for:.1f} s")

    def _start(self, sample_rate: int) -> SilenceDetector | None:
        now = self._clock.seconds()
        if now < self._resume_at:
            return None
        self._started_at = self._heard_at = now
        try:
            detector = SilenceDetector(
                self._reactor,
                self._ffmpeg,
                sample_rate,
                lambda seconds, level: self._measured(detector, seconds, level),
                lambda reason: self._ended(detector, reason),
            )
        except OSError as error:
            self._failed(f"could not start ({error})")
            return None
        self.busy += 1
        self.detector = detector
        return detector

    def _measured(self, detector: SilenceDetector, seconds: float, level: float) -> None:
        """
        A level from C{detector}: judge it, unless another detector took
        over since.
        """
        if detector is not self.detector:
            return
        self._heard_at = self._clock.seconds()
        change = self.gate.measure(seconds, level)
        if change is None:
            return
        if change:
            self._log.warn(
                "Dead air on {mount} from {peer}: {seconds} s below {threshold} dBFS; "
                "off the air until it sounds again",
                mount=self.mount,
                peer=self.peer,
                seconds=self.gate.timeout,
                threshold=self.gate.threshold,
            )
            self._switch.mute(self.live)
        else:
            self._switch.unmute(self.live)
            self._log.info(
                "Sound again on {mount} from {peer} for {seconds} s; back on the air",
                mount=self.mount,
                peer=self.peer,
                seconds=self.gate.recovery,
            )
        self._changed(change)

    def _ended(self, detector: SilenceDetector, reason: Failure) -> None:
        """
        C{detector} is gone: a failure, unless it was dropped.
        """
        self.busy -= 1
        if not self.busy:
            waiting, self._waiting = self._waiting, []
            for done in waiting:
                done.callback(None)
        if detector is self.detector:
            self._failed(detector.describe(reason))

    def _drop(self, why: str) -> None:
        detector, self.detector = self.detector, None
        if detector is not None:
            detector.stop(why)

    def _failed(self, why: str) -> None:
        """
        The detector failed: drop it, put the source back on the air if
        it was off, and pause before the next.
        """
        self._drop("was replaced")
        now = self._clock.seconds()
        if now - self._started_at >= STEADY:
            self.failures = 0
        self.failures += 1
        delay = self._policy(self.failures)
        self._resume_at = now + delay
        self._log.error(
            "Dead-air detector for {mount} from {peer}: {why}; another starts in {delay} s",
            mount=self.mount,
            peer=self.peer,
            why=why,
            delay=delay,
        )
        was_silent = self.gate.silent
        self.gate = DeadAir(self.gate.timeout, self.gate.threshold, self.gate.recovery)
        if was_silent:
            self._switch.unmute(self.live)
            self._log.warn(
                "{mount} from {peer} is back on the air: its silence cannot be measured",
                mount=self.mount,
                peer=self.peer,
            )
            self._changed(False)


class SilenceWatches:
    """
    Dead-air detection for a station's live sources and relays: one
    L{SilenceWatch} for each while it is connected to a mount that asks
    for one.

    @ivar on_silence: called with the mount's name, the source's peer (its
        address, or a relay's upstream URL) and C{True} when a live source
        or relay is taken off the air for dead air, C{False} when it is
        back on (it sounds again, or its silence can no longer be
        measured).  A source that leaves while off the air is not
        reported again.
    """

    _log = Logger()

    def __init__(
        self,
        reactor: IReactorProcess,
        clock: IReactorTime,
        mounts: Mapping[str, Mount],
        ffmpeg: str | None,
    ) -> None:
        """
        @param reactor: spawns the detectors.
        @param clock: for the pauses after failures.
        @param mounts: the station's mounts by name (the registry the
            live sources share), whose settings say which to watch.
        @param ffmpeg: the ffmpeg executable; with none, nothing is
            watched.
        """
        self._reactor = reactor
        self._clock = clock
        self._mounts = mounts
        self._ffmpeg = ffmpeg
        self._warned = False
        self._watches: list[SilenceWatch] = []
        self.on_silence: list[Callable[[str, str, bool], None]] = []

    def ended(self) -> Deferred[None]:
        """
        Fires once every watch made so far that was stopped has no
        detector running any more (at once when none has): the station
        waits for this once it has stopped its sources and relays, so that
        no ffmpeg outlives it.
        """
        self._watches = [watch for watch in self._watches if watch.busy or not watch.stopped]
        waiting = [watch.ended() for watch in self._watches if watch.stopped]
        return DeferredList(waiting).addCallback(lambda _: None)

    def watch(self, name: str, live: LiveSource, peer: str) -> SilenceWatch | None:
        """
        Watch C{live}, just attached to the switch of mount C{name}, for
        dead air, with the mount's C{silence_timeout} and
        C{silence_threshold}; call the watch's L{SilenceWatch.stop} when
        the source is gone.

        @param name: the mount's name.
        @param live: the source's live audio.
        @param peer: the source's address, or a relay's upstream URL.
        @return: the watch, or C{None} when the source is not watched: the
            mount's C{silence_timeout} is 0, it has nothing else to play
            (no playlist and no fallback), or there is no ffmpeg.
        """
        mount = self._mounts.get(name)
        if mount is None or mount.switch is None:
            return None
        config = mount.config
        switch = mount.switch
        if config.silence_timeout <= 0:
            return None
        if switch.playlist is None and not config.fallback:
            return None
        ffmpeg = self._ffmpeg
        if ffmpeg is None:
            if not self._warned:
                self._warned = True
                self._log.warn("No ffmpeg: dead-air detection of live sources and relays is off")
            return None

        def changed(silent: bool) -> None:
            for callback in list(self.on_silence):
                callback(name, peer, silent)

        watch = SilenceWatch(
            self._reactor,
            self._clock,
            ffmpeg,
            switch,
            live,
            name,
            peer,
            config.silence_timeout,
            config.silence_threshold,
            changed,
        )
        self._watches.append(watch)
        return watch
