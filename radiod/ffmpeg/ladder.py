# -*- test-case-name: tests.ffmpeg.test_ladder -*-
"""
The bitrate ladder: copies of a mount at other bitrates, in step with it.

A mount configured with C{ladder = [64, 32]} gets two more mounts, its
I{rungs} (C{/stream-64} and C{/stream-32} by default), which play the very
programme of the main mount re-encoded at those bitrates.  Each rung is an
ordinary L{Mount} whose source is a L{RungSource}: every batch of frames the
main mount broadcasts (playlist, relay or live show alike) goes to an ffmpeg
child process for that rung, and the frames it writes back are broadcast on
the rung as soon as they come.  ffmpeg works much faster than real time and
is fed in real time, so the rung is paced by the main mount and runs about
a quarter of a second behind it.

Each converted frame is announced with the play of the main audio at the
same position: a L{TrackMap} notes, in seconds of input audio, where each
play begins, and counts the seconds of output, so a title changes on every
rung at the same point of the programme as on the main mount.

The format of a rung is chosen from the first audio it converts and kept
from then on: the main mount's sample rate and channels, except that rungs
below L{LOW_BITRATE} kbit/s are encoded at half that sample rate (22.05 kHz
for 44.1 kHz), where lame codes the little it keeps more accurately.

A converter that dies, or falls more than L{MAX_PENDING} seconds behind, is
replaced after a pause that doubles at each failure in a row (from
L{RESTART_DELAY} up to L{RESTART_MAX} seconds); the rung's listeners stay
connected meanwhile and hear a gap.  Without ffmpeg no rung is made, and a
rung's URL is not found.  With several processes the main process converts,
and its feed carries the rungs to every worker like any mount
(L{served_rungs} lists them in the same order on both sides).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass, replace

from twisted.internet.defer import Deferred, DeferredList, succeed
from twisted.internet.interfaces import IReactorProcess, IReactorTime
from twisted.logger import Logger
from zope.interface import implementer

from radiod.audio.format import LOW_BITRATE, AudioFormat, encoder_bitrate, ladder_sample_rate
from radiod.audio.frames import Frame, FrameHeader
from radiod.audio.track import Play
from radiod.broadcast.mount import Mount
from radiod.config import METAINT_RANGE, QUEUE_SIZE_RANGE, MountConfig, StationConfig
from radiod.ffmpeg.converter import ffmpeg_converters
from radiod.interfaces import Converter, Deliver, Frames, ILiveSource, MakeConverter

__all__ = [
    "AAC_RUNG",
    "LOW_BITRATE",
    "MAX_PENDING",
    "MP3_RUNG",
    "REFERENCE_BITRATE",
    "RESTART_DELAY",
    "RESTART_MAX",
    "Encoding",
    "Ladder",
    "Ladders",
    "RungSource",
    "TrackMap",
    "ffmpeg_ladders",
    "rung_configs",
    "rung_format",
    "served_rungs",
]

RESAMPLE_DELAY = 529
"""
Samples, at the rung's rate, by which ffmpeg's output lags its input when
it resamples (measured with libmp3lame; without resampling it is none).
"""

MAX_PENDING = 5.0
"""
Seconds of audio fed to a converter and not yet returned after which it
counts as stalled and is replaced; this also bounds what waits in its pipe.
"""

RESTART_DELAY = 1.0
"""
Seconds before the first attempt to replace a converter that failed.
"""

RESTART_MAX = 30.0
"""
The longest pause between attempts, which double from L{RESTART_DELAY}.
"""

STEADY = 30.0
"""
Seconds a converter must have run for its failure to count as the first in
a row again.
"""

REFERENCE_BITRATE = 128
"""
The bitrate, in kbit/s, a mount with no C{bitrate} set is taken to play at
when its sizes are scaled for its rungs.
"""


def rung_format(kbps: int, sample_rate: int, channels: int) -> AudioFormat:
    """
    The format of a rung of C{kbps} kbit/s for a main mount playing at
    C{sample_rate} with C{channels}: the same sample rate and channels, but
    half the rate below L{LOW_BITRATE}, and the bitrate nearest C{kbps}
    that the rate allows.
    """
    rate = ladder_sample_rate(kbps, sample_rate)
    return AudioFormat(rate, channels, encoder_bitrate(rate, kbps))


def _scaled(size: int, scale: float, low: int, high: int) -> int:
    return max(low, min(high, round(size * scale)))


def rung_configs(mount: MountConfig) -> tuple[MountConfig, ...]:
    """
    The settings of each rung of C{mount}'s ladder, in order.

    A rung has the main mount's station name, genre, description, URL,
    limits, charset and channels, and its own name, bitrate and sample
    rate (see L{rung_format}; 0 when the main mount's is 0).  Its metaint, burst
    and queue sizes are the main mount's scaled by the ratio of the
    bitrates (the main mount's taken as L{REFERENCE_BITRATE} when it sets
    none), so they are the same in seconds of audio on every rung: titles
    arrive as often, and a new listener starts as far behind.  A rung
    plays no music of its own, takes no live source, relays and pushes
    nothing.
    """
    reference = mount.bitrate or REFERENCE_BITRATE
    rungs = []
    for kbps, name in zip(mount.ladder, mount.rung_names, strict=True):
        scale = kbps / reference
        queue = _scaled(mount.queue_size, scale, *QUEUE_SIZE_RANGE)
        burst = min(_scaled(mount.burst_size, scale, 0, queue), queue - 1)
        rungs.append(
            replace(
                mount,
                name=name,
                bitrate=kbps,
                sample_rate=ladder_sample_rate(kbps, mount.sample_rate),
                normalize=False,
                metaint=_scaled(mount.metaint, scale, *METAINT_RANGE),
                burst_size=burst,
                queue_size=queue,
                music="",
                shuffle=False,
                live_only=False,
                fallback="",
                source_password="",
                record=False,
                relay="",
                push_to=(),
                ladder=(),
                ladder_names=(),
            )
        )
    return tuple(rungs)


def served_rungs(config: StationConfig, ffmpeg: str | None) -> tuple[MountConfig, ...]:
    """
    The settings of every rung the station serves, mount after mount, in
    the order the main process makes them: none without C{ffmpeg}.
    """
    if ffmpeg is None:
        return ()
    return tuple(rung for mount in config.mounts for rung in rung_configs(mount))


class TrackMap:
    """
    Which play each stretch of a converter's output belongs to.

    A converter turns each second of input into a second of output, a
    constant L{delay} later.  The map notes, in seconds of input, where
    each play begins, and counts the seconds of output: an output frame
    belongs to the play on air at its middle, less the delay.

    @ivar fed: seconds of input so far.
    @ivar converted: seconds of output so far.
    @ivar delay: seconds by which output lags input.
    @ivar origin: where the input began in the main mount's audio (its
        L{Mount.aired} then).
    @ivar positions: where each frame of the last output tagged starts in
        the main mount's audio, in seconds since it began (see
        L{Mount.aired}).
    """

    def __init__(self, delay: float = 0.0, origin: float = 0.0) -> None:
        self.delay = delay
        self.origin = origin
        self.fed = 0.0
        self.converted = 0.0
        self.positions: list[float] = []
        self._starts: deque[tuple[float, Play]] = deque()

    def feed(self, frames: Frames) -> None:
        """
        Note input frames, in order, with their plays.
        """
        starts = self._starts
        for frame, play in frames:
            if not starts or starts[-1][1].number != play.number:
                starts.append((self.fed, play))
            self.fed += frame.header.duration

    def tag(self, frames: Iterable[Frame]) -> Frames:
        """
        Pair output frames, in order, with the play of the input at the
        same position (the last one fed for output past the input, the
        first for output before it); frames that come before any input
        was fed are dropped.
        """
        starts = self._starts
        tagged: Frames = []
        positions: list[float] = []
        for frame in frames:
            duration = frame.header.duration
            middle = self.converted + duration / 2 - self.delay
            self.converted += duration
            while len(starts) > 1 and starts[1][0] <= middle:
                starts.popleft()
            if starts:
                tagged.append((frame, starts[0][1]))
                positions.append(self.origin + middle - duration / 2)
        self.positions = positions
        return tagged

    @property
    def pending(self) -> float:
        """
        Seconds of input not yet returned as output.
        """
        return max(0.0, self.fed - (self.converted - self.delay))


def _delay(target: AudioFormat, header: FrameHeader) -> float:
    if target.sample_rate == header.sample_rate:
        return 0.0
    return RESAMPLE_DELAY / target.sample_rate


@dataclass(frozen=True)
class Encoding:
    """
    How a rung is encoded: the format it plays for a main mount's, and
    the delay of its converters' output.

    @ivar format: the rung's format for its bitrate and the main mount's
        sample rate and channels.
    @ivar delay: seconds by which a converter's output lags its input,
        for the rung's format and the main audio's first frame.
    """

    format: Callable[[int, int, int], AudioFormat]
    delay: Callable[[AudioFormat, FrameHeader], float]


MP3_RUNG = Encoding(rung_format, _delay)
"""
An MP3 rung: see L{rung_format}; LAME adds no delay but the resampler's.
"""

AAC_PRIMING = 1024
"""
Samples of silence ffmpeg's AAC encoder writes before the audio.
"""


def _aac_format(kbps: int, sample_rate: int, channels: int) -> AudioFormat:
    return AudioFormat(sample_rate, channels, kbps)


def _aac_delay(target: AudioFormat, header: FrameHeader) -> float:
    return AAC_PRIMING / target.sample_rate + _delay(target, header)


AAC_RUNG = Encoding(_aac_format, _aac_delay)
"""
An AAC-LC rendition for HLS: the main mount's sample rate and channels at
its own bitrate, its output starting L{AAC_PRIMING} samples late.
"""


@implementer(ILiveSource)
class RungSource:
    """
    The audio of one rung: the main mount's broadcasts, converted to the
    rung's bitrate, each frame with the track of the main audio at the
    same position.

    @ivar main: the mount whose broadcasts are converted.
    @ivar kbps: the rung's bitrate.
    @ivar name: the rung's mount name, for logs.
    @ivar target: the rung's format, once its first audio came.
    @ivar converter: the converter at work, if any.
    @ivar failures: converters that died or stalled so far.
    @ivar positions: while the rung's L{Mount.on_air} observers see a
        batch, where each of its frames starts in the main mount's audio
        (see L{TrackMap.positions}), so that the same moment has the same
        position on every rung.
    """

    _log = Logger()

    def __init__(
        self,
        main: Mount,
        kbps: int,
        clock: IReactorTime,
        converters: MakeConverter,
        name: str,
        encoding: Encoding | None = None,
    ) -> None:
        """
        @param main: the mount whose programme the rung plays.
        @param kbps: the rung's bitrate.
        @param clock: for the pauses between attempts.
        @param converters: starts the converters.
        @param name: the rung's mount name.
        @param encoding: the rung's format and its converters' delay;
            L{MP3_RUNG} when not given.
        """
        self.main = main
        self.kbps = kbps
        self.name = name
        self._encoding = encoding or MP3_RUNG
        self._clock = clock
        self._converters = converters
        self._deliver: Deliver | None = None
        self.target: AudioFormat | None = None
        self.converter: Converter | None = None
        self.failures = 0
        self.positions: list[float] = []
        self._map = TrackMap()
        self._generation = 0
        self._started_at = 0.0
        self._resume_at = 0.0
        self._pause = RESTART_DELAY
        self._running = False
        self._alive = 0
        self._waiting: list[Deferred[None]] = []

    # ILiveSource

    def attach(self, deliver: Deliver) -> None:
        self._deliver = deliver

    def start(self) -> None:
        """
        Convert the main mount's broadcasts from now on.
        """
        if not self._running:
            self._running = True
            self.main.on_air.append(self._input)

    def stop(self) -> None:
        """
        Stop converting, and stop the converter.
        """
        self._running = False
        if self._input in self.main.on_air:
            self.main.on_air.remove(self._input)
        self._drop_converter()

    @property
    def busy(self) -> bool:
        """
        Whether a converter of this rung is running (or ending).
        """
        return self._alive > 0

    def ended(self) -> Deferred[None]:
        """
        Fires once no converter of this rung is running (at once when
        none is): after L{stop}, when its last ffmpeg is gone.
        """
        if not self._alive:
            return succeed(None)
        waiting: Deferred[None] = Deferred()
        self._waiting.append(waiting)
        return waiting

    # Input and output

    def _input(self, frames: Frames) -> None:
        if not frames or not self._running:
            return
        converter = self.converter
        if converter is None:
            converter = self._start(frames[0][0].header)
            if converter is None:
                return
        self._map.feed(frames)
        converter.feed([frame for frame, _ in frames])
        if self._map.pending > MAX_PENDING:
            self._failed(f"fell {self._map.pending:.1f} s behind")

    def _start(self, header: FrameHeader) -> Converter | None:
        """
        Start a converter, unless the pause after a failure is still on.
        """
        now = self._clock.seconds()
        if now < self._resume_at:
            return None
        target = self.target
        if target is None:
            target = self.target = self._encoding.format(
                self.kbps, header.sample_rate, header.channels
            )
            self._log.info(
                "Rung {mount} of {main} plays {audio}",
                mount=self.name,
                main=self.main.name,
                audio=target.describe(),
            )
        self._generation += 1
        generation = self._generation
        self._alive += 1
        try:
            converter = self._converters(
                target,
                lambda frames: self._output(generation, frames),
                lambda clean: self._ended(generation),
                self.name,
            )
        except OSError as error:
            self._log.error(
                "Cannot start the converter of {mount}: {error}", mount=self.name, error=error
            )
            converter = None
        if converter is None:
            self._gone()
            self._started_at = now
            self._failed("could not start")
            return None
        self.converter = converter
        self._map = TrackMap(self._encoding.delay(target, header), self.main.aired)
        self._started_at = now
        return converter

    def _output(self, generation: int, frames: list[Frame]) -> None:
        if generation != self._generation or self._deliver is None:
            return
        tagged = self._map.tag(frames)
        if tagged:
            self.positions = self._map.positions
            self._deliver(tagged)

    def _ended(self, generation: int) -> None:
        self._gone()
        if generation != self._generation:
            return
        self.converter = None
        self._generation += 1
        if self._running:
            self._failed("stopped")

    def _gone(self) -> None:
        self._alive -= 1
        if not self._alive:
            waiting, self._waiting = self._waiting, []
            for done in waiting:
                done.callback(None)

    def _drop_converter(self) -> None:
        converter, self.converter = self.converter, None
        self._generation += 1
        if converter is not None:
            converter.stop()

    def _failed(self, why: str) -> None:
        """
        The converter failed: drop it, and pause before the next.
        """
        self._drop_converter()
        now = self._clock.seconds()
        if now - self._started_at >= STEADY:
            self._pause = RESTART_DELAY
        self.failures += 1
        self._resume_at = now + self._pause
        self._log.error(
            "Converter of rung {mount} {why}; its listeners hear a gap, and another "
            "starts in {delay:g} s",
            mount=self.name,
            why=why,
            delay=self._pause,
        )
        self._pause = min(self._pause * 2, RESTART_MAX)


class Ladder:
    """
    The rungs of one mount.

    @ivar main: the mount.
    @ivar mounts: its rungs by name, in the order of its C{ladder}.
    """

    _log = Logger()

    def __init__(self, main: Mount, clock: IReactorTime, converters: MakeConverter) -> None:
        self.main = main
        self._clock = clock
        self._converters = converters
        self.mounts: dict[str, Mount] = {}

    def update(self, taken: Collection[str] = ()) -> tuple[list[Mount], list[Mount]]:
        """
        Follow the main mount's settings: rungs no longer in its ladder,
        or whose bitrate changed, go; new ones come (except on names in
        C{taken}); the others take the new settings, keeping their
        listeners.

        @return: the rungs made, not yet started, and the rungs dropped,
            not yet stopped.
        """
        wanted = {config.name: config for config in rung_configs(self.main.config)}
        dropped = []
        for name, mount in list(self.mounts.items()):
            config = wanted.get(name)
            if config is None or config.bitrate != mount.config.bitrate:
                dropped.append(self.mounts.pop(name))
            elif config != mount.config:
                mount.reconfigure(config)
        made = []
        for name, config in wanted.items():
            if name in self.mounts:
                continue
            if name in taken:
                self._log.warn(
                    "Rung {mount} of {main} waits: a live source uses the name",
                    mount=name,
                    main=self.main.name,
                )
                continue
            source = RungSource(self.main, config.bitrate, self._clock, self._converters, name)
            mount = Mount(config, source, self._clock)
            self.mounts[name] = mount
            made.append(mount)
        self.mounts = {name: self.mounts[name] for name in wanted if name in self.mounts}
        return made, dropped


class Ladders:
    """
    The ladders of all the station's mounts.

    @ivar ladders: each mount's ladder, by the mount's name.
    """

    _log = Logger()

    def __init__(self, clock: IReactorTime, converters: MakeConverter | None) -> None:
        """
        @param clock: for the rungs' mounts and the pauses after failures.
        @param converters: starts the rungs' converters; with none (no
            ffmpeg) no rung is made.
        """
        self._clock = clock
        self._converters = converters
        self.ladders: dict[str, Ladder] = {}
        self._warned: set[str] = set()
        self._retired: list[Mount] = []

    @property
    def mounts(self) -> dict[str, Mount]:
        """
        Every rung by name, mount after mount.
        """
        return {
            name: rung for ladder in self.ladders.values() for name, rung in ladder.mounts.items()
        }

    def update(
        self, mains: Iterable[Mount], taken: Collection[str] = ()
    ) -> tuple[list[Mount], list[Mount]]:
        """
        Follow the station's mounts and their settings: a mount with a
        C{ladder} gets its rungs, a mount gone or without one loses them.

        @param mains: the station's configured mounts.
        @param taken: names rungs cannot have now (live sources' mounts).
        @return: the rungs made, not yet started, and the rungs dropped,
            not yet stopped.
        """
        made: list[Mount] = []
        dropped: list[Mount] = []
        current: dict[str, Ladder] = {}
        converters = self._converters
        for main in mains:
            if not main.config.ladder:
                continue
            if converters is None:
                if main.name not in self._warned:
                    self._warned.add(main.name)
                    self._log.warn(
                        "No ffmpeg: the bitrate ladder of {mount} ({rungs}) is not served",
                        mount=main.name,
                        rungs=", ".join(main.config.rung_names),
                    )
                continue
            ladder = self.ladders.get(main.name)
            if ladder is None or ladder.main is not main:
                ladder = Ladder(main, self._clock, converters)
            current[main.name] = ladder
            new, old = ladder.update(taken)
            made += new
            dropped += old
        for name, ladder in self.ladders.items():
            if current.get(name) is not ladder:
                dropped += ladder.mounts.values()
        self.ladders = current
        self._retire(dropped)
        return made, dropped

    def _retire(self, rungs: list[Mount]) -> None:
        """
        Remember rungs dropped, until their converters have ended.
        """
        self._retired = [rung for rung in self._retired if _busy(rung)] + rungs

    def remove(self, names: Collection[str]) -> list[Mount]:
        """
        Forget the rungs with these names (before they become the names
        of configured mounts).

        @return: the rungs forgotten, not yet stopped.
        """
        removed = []
        for ladder in self.ladders.values():
            for name in [name for name in ladder.mounts if name in names]:
                removed.append(ladder.mounts.pop(name))
        self._retire(removed)
        return removed

    def ended(self) -> Deferred[None]:
        """
        Fires once every rung's converter has ended (after the rungs were
        stopped), dropped rungs' included.
        """
        rungs = [mount.source for mount in [*self.mounts.values(), *self._retired]]
        waiting = [rung.ended() for rung in rungs if isinstance(rung, RungSource)]
        return DeferredList(waiting).addCallback(lambda _: None)


def _busy(rung: Mount) -> bool:
    source = rung.source
    return isinstance(source, RungSource) and source.busy


def ffmpeg_ladders(reactor: IReactorProcess, clock: IReactorTime, ffmpeg: str | None) -> Ladders:
    """
    The station's L{Ladders}, converting with C{ffmpeg}; with no ffmpeg,
    ladders that make no rung.
    """
    return Ladders(clock, ffmpeg_converters(reactor, clock, ffmpeg) if ffmpeg else None)
