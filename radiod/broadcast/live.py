# -*- test-case-name: tests.broadcast.test_live -*-
"""
Live audio on a mount: the frames an encoder (or a relay) sends.

A L{LiveSource} splits the bytes of one source connection into whole MPEG
frames and queues them for the mount's pacer, pausing the connection when
the queue grows too long; L{radiod.broadcast.switch.Switch} puts them on
air in place of the playlist.

Its lifecycle is kept as named states, with a table of the moves allowed
between them; the class docstring draws them.  A move
the table does not list is a bug, and raises L{RuntimeError}; inputs
that mean nothing in a state (finishing a finished source, say) are
ignored before they get that far.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Mapping
from enum import Enum
from typing import Final, TypeVar

from twisted.internet.interfaces import IPushProducer
from twisted.logger import Logger
from zope.interface import implementer

from radiod.audio.format import AudioFormat
from radiod.audio.frames import Frame, FrameSplitter
from radiod.audio.track import Cue, TrackInfo
from radiod.interfaces import Converter, IFrameSource, MakeConverter

__all__ = ["HIGH_WATER", "LOW_WATER", "PREBUFFER", "LiveSource"]

HIGH_WATER = 4.0
"""
Seconds of queued live audio above which the encoder's connection is
paused.
"""

LOW_WATER = 2.0
"""
Seconds of queued live audio below which a paused connection resumes.
"""

PREBUFFER = 0.5
"""
Seconds of audio a live source collects before it goes on air, so that
network jitter does not starve the pacer at once.
"""

_S = TypeVar("_S", bound=Enum)


def _move(moves: Mapping[_S, frozenset[_S]], old: _S, new: _S) -> _S:
    """
    Check a move against a table of the moves allowed from each state.

    @return: C{new}.
    @raise RuntimeError: if the table has no move from C{old} to C{new}.
    """
    if new not in moves[old]:
        raise RuntimeError(f"no move from {old.name} to {new.name}")
    return new


class _Phase(Enum):
    """
    How far a live source's connection is (see L{LiveSource}).
    """

    COLLECTING = "collecting"
    """
    Connected, collecting its first L{PREBUFFER} seconds: no frame comes
    out yet.
    """

    READY = "ready"
    """
    Connected and ready to go on air: frames come out as they are pulled.
    """

    FINISHING = "finishing"
    """
    The connection ended; the converter writes out the rest.
    """

    FINISHED = "finished"
    """
    The connection ended: the queue drains, and nothing more comes in.
    """


_PHASE_MOVES: Final[Mapping[_Phase, frozenset[_Phase]]] = {
    # Enough audio queued; or the connection ended (converting or not).
    _Phase.COLLECTING: frozenset({_Phase.READY, _Phase.FINISHING, _Phase.FINISHED}),
    # The connection ended (converting or not).
    _Phase.READY: frozenset({_Phase.FINISHING, _Phase.FINISHED}),
    # The converter ended, or was stopped.
    _Phase.FINISHING: frozenset({_Phase.FINISHED}),
    _Phase.FINISHED: frozenset(),
}


class _Conversion(Enum):
    """
    Whether a live source's audio is converted (see L{LiveSource}).
    """

    AS_IS = "as is"
    """
    Frames are queued as they come; the first not in the target format
    starts a converter.
    """

    CONVERTING = "converting"
    """
    Every frame goes through the converter, and what it gives back is
    queued.
    """

    UNCONVERTED = "unconverted"
    """
    No longer converted, for good: no converter could be had, it failed,
    or it was stopped.  Frames are queued as they come.
    """


_CONVERSION_MOVES: Final[Mapping[_Conversion, frozenset[_Conversion]]] = {
    # A frame in another format: a converter starts, or none can be had.
    _Conversion.AS_IS: frozenset({_Conversion.CONVERTING, _Conversion.UNCONVERTED}),
    # The converter ended as asked; or it failed, or was stopped.
    _Conversion.CONVERTING: frozenset({_Conversion.AS_IS, _Conversion.UNCONVERTED}),
    _Conversion.UNCONVERTED: frozenset(),
}


@implementer(IFrameSource)
class LiveSource:
    """
    The audio of one live source connection, as a queue of whole frames.

    Bytes go in through L{feed}; garbage, tags and partial frames are
    dropped by the frame splitter, so only whole frames come out of
    L{next_frame}, each with the live session's current L{track}.

    A live source lives through two small state machines.  Its connection
    (L{ready}, L{finished}, L{drained})::

        COLLECTING --PREBUFFER seconds queued--> READY
        COLLECTING, READY --finish(), converting--> FINISHING
        COLLECTING, READY --finish(), not converting--> FINISHED
        FINISHING --converter ended, or stop()--> FINISHED

    L{finish} in C{FINISHING} or C{FINISHED} is ignored.  And its
    conversion to the mount's format (L{converting}, see L{convert_to})::

        AS_IS --a frame in another format--> CONVERTING
        AS_IS --no converter to be had--> UNCONVERTED
        CONVERTING --converter ended as asked--> AS_IS
        CONVERTING --converter failed, or stop()--> UNCONVERTED

    Only the converter of C{CONVERTING} is heard: the frames and the end
    of one that was stopped are ignored.  Pausing the producer above the
    high-water mark is flow control, apart from both (L{paused}); so is
    being L{muted} for sending dead air, which the switch decides (see
    L{radiod.broadcast.switch.Switch.mute}).

    @ivar track: what listeners are told is playing; one object per live
        session (and per title change).
    @ivar queued: seconds of audio waiting to be pulled.
    @ivar paused: whether the producer is paused because the queue grew
        past the high-water mark.
    @ivar muted: whether the source is off the air for sending dead air:
        it gives no frame and is not L{ready} meanwhile, while its audio
        still comes in (its L{on_frames} observers still see it) and the
        switch keeps its queue short.
    @ivar frames_in: frames received in all.
    @ivar on_frames: called with each batch of whole frames as it is
        split from the encoder's bytes, before it is queued (a recorder
        writes them from here).
    @ivar name: the mount's name, for logs.
    """

    _log = Logger()

    def __init__(
        self,
        track: TrackInfo,
        producer: IPushProducer | None = None,
        high_water: float = HIGH_WATER,
        low_water: float = LOW_WATER,
        prebuffer: float = PREBUFFER,
    ) -> None:
        """
        @param track: the track live frames are announced as.
        @param producer: what to pause when the queue is too long (the
            source connection's transport), or C{None}.
        @param high_water: seconds of queued audio that pause C{producer}.
        @param low_water: seconds of queued audio that resume it.
        @param prebuffer: seconds of audio to collect before going on air.
        """
        self.track = track
        self._starts = True
        self._producer = producer
        self._high = high_water
        self._low = low_water
        self._prebuffer = prebuffer
        self._splitter = FrameSplitter()
        self._queue: deque[Frame] = deque()
        self.queued = 0.0
        self.paused = False
        self.muted = False
        self.frames_in = 0
        self.on_frames: list[Callable[[list[Frame]], None]] = []
        self.name = ""
        self._target: AudioFormat | None = None
        self._make: MakeConverter | None = None
        self._phase = _Phase.COLLECTING
        self._conversion = _Conversion.AS_IS
        self._converter: Converter | None = None

    @property
    def ready(self) -> bool:
        """
        Whether the source has had enough audio to go on air (at least
        L{PREBUFFER} seconds queued, or its end reached), and is not
        L{muted}.
        """
        return self._phase is not _Phase.COLLECTING and not self.muted

    @property
    def finished(self) -> bool:
        """
        Whether the connection ended (and the converter, if any, wrote out
        the rest); the queue still drains.
        """
        return self._phase is _Phase.FINISHED

    @property
    def drained(self) -> bool:
        """
        Whether the connection ended and every frame has been pulled (or,
        while L{muted}, will never be: dead air is not played out).
        """
        return self._phase is _Phase.FINISHED and (self.muted or not self._queue)

    @property
    def converting(self) -> bool:
        """
        Whether the audio goes on air converted to the mount's format
        (see L{convert_to}): a converter is running.
        """
        return self._conversion is _Conversion.CONVERTING

    @property
    def converter(self) -> Converter | None:
        """
        The converter the audio goes through while L{converting}.
        """
        return self._converter

    @property
    def garbage(self) -> int:
        """
        Bytes dropped so far as neither audio frames nor tags.
        """
        return self._splitter.garbage_bytes

    def convert_to(self, target: AudioFormat | None, make: MakeConverter, name: str = "") -> None:
        """
        Put this source's audio on air in C{target}'s format: frames with
        another sample rate or channel count start a converter made by
        C{make}, and from then on every frame goes through it.

        @param target: the mount's format, or C{None} to play the audio
            as it comes.
        @param make: starts a converter.
        @param name: the mount's name, for logs.
        """
        self._target = target
        self._make = make
        self.name = name

    def set_title(self, title: str) -> None:
        """
        Announce the frames pulled from now on under a new title.
        """
        self.track = TrackInfo(path="", title=title)
        self._starts = True

    def feed(self, data: bytes) -> int:
        """
        Add bytes from the encoder; pause the producer if the queue is now
        longer than the high-water mark.

        @return: the number of whole frames the bytes completed.
        """
        frames = self._splitter.feed(data)
        self._received(frames)
        if not self.paused and self._producer is not None and self.queued > self._high:
            self.paused = True
            self._producer.pauseProducing()
        return len(frames)

    def finish(self) -> None:
        """
        The connection ended: keep the last whole frames and let the queue
        drain (once the converter, if any, has written out the rest).
        Ignored once the source is finishing or finished.
        """
        if self._phase in (_Phase.FINISHING, _Phase.FINISHED):
            return
        self._received(self._splitter.finish())
        self._producer = None
        converter = self._converter
        if converter is None:
            self._to_phase(_Phase.FINISHED)
            return
        self._to_phase(_Phase.FINISHING)
        converter.finish()

    def _to_phase(self, phase: _Phase) -> None:
        self._phase = _move(_PHASE_MOVES, self._phase, phase)

    def _to_conversion(self, conversion: _Conversion, converter: Converter | None = None) -> None:
        """
        Move to C{conversion}, with C{converter} the converter running in
        it (only in C{CONVERTING}).
        """
        self._conversion = _move(_CONVERSION_MOVES, self._conversion, conversion)
        self._converter = converter

    def _received(self, frames: list[Frame]) -> None:
        """
        Whole frames from the encoder: show them to the observers, then
        queue them, or hand them to the converter.
        """
        if not frames:
            return
        for observer in self.on_frames:
            observer(frames)
        self.frames_in += len(frames)
        if self._conversion is _Conversion.AS_IS:
            self._convert_if_needed(frames)
        if self._converter is not None:
            self._converter.feed(frames)
        else:
            self._add(frames)

    def _convert_if_needed(self, frames: list[Frame]) -> None:
        """
        Start a converter if C{frames} are not all in the target format.
        """
        target, make = self._target, self._make
        if target is None or make is None:
            return
        header = next((f.header for f in frames if not target.matches(f.header)), None)
        if header is None:
            return
        converter = make(target, self._converted, self._converter_ended, self.name)
        if converter is None:
            self._to_conversion(_Conversion.UNCONVERTED)
            return
        self._to_conversion(_Conversion.CONVERTING, converter)
        self._log.info(
            "Converting live audio on {mount} from {rate} Hz, {channels} channels to {target}",
            mount=self.name,
            rate=header.sample_rate,
            channels=header.channels,
            target=target.describe(),
        )

    def _converted(self, frames: list[Frame]) -> None:
        """
        Frames the converter gave back: queued, unless it was stopped.
        """
        if self._conversion is _Conversion.CONVERTING:
            self._add(frames)

    def _converter_ended(self, clean: bool) -> None:
        """
        The converter ended, as asked (C{clean}) or not.
        """
        if self._conversion is not _Conversion.CONVERTING:
            # Stopped with this source: its end is no news.
            return
        if self._phase is _Phase.FINISHING:
            self._to_conversion(_Conversion.AS_IS)
            self._to_phase(_Phase.FINISHED)
        elif clean:
            self._to_conversion(_Conversion.AS_IS)
        else:
            self._to_conversion(_Conversion.UNCONVERTED)
            self._log.warn(
                "Live audio on {mount} goes on air unconverted from now on", mount=self.name
            )

    def _add(self, frames: list[Frame]) -> None:
        for frame in frames:
            self._queue.append(frame)
            self.queued += frame.header.duration
        if self._phase is _Phase.COLLECTING and self.queued >= self._prebuffer:
            self._to_phase(_Phase.READY)

    def _resume_if_low(self) -> None:
        """
        Resume a paused producer once the queue is below the low-water
        mark.
        """
        if self.paused and self.queued < self._low:
            self.paused = False
            if self._producer is not None:
                self._producer.resumeProducing()

    def trim(self, keep: float) -> None:
        """
        Drop the oldest queued frames until at most C{keep} seconds are
        left (a relay waiting on standby stays current this way), and
        resume a paused producer.
        """
        queue = self._queue
        while queue and self.queued > keep:
            self.queued = max(0.0, self.queued - queue.popleft().header.duration)
        self._resume_if_low()

    # IFrameSource

    def start(self) -> None:
        """
        Nothing to do: audio arrives as the encoder sends it.
        """

    def stop(self) -> None:
        """
        Drop the queued audio, and stop converting for good (a source that
        was finishing is finished).
        """
        self._queue.clear()
        self.queued = 0.0
        converter = self._converter
        if converter is None:
            return
        self._to_conversion(_Conversion.UNCONVERTED)
        if self._phase is _Phase.FINISHING:
            self._to_phase(_Phase.FINISHED)
        converter.stop()

    def next_frame(self) -> Cue | None:
        """
        The oldest queued frame with the current track (the first one
        since the source began or changed its title starts a play), or
        C{None} while the source is not L{ready} or its queue is empty;
        resume the producer once the queue is below the low-water mark.
        """
        if not self.ready or not self._queue:
            return None
        frame = self._queue.popleft()
        self.queued = max(0.0, self.queued - frame.header.duration)
        self._resume_if_low()
        starts = self._starts
        self._starts = False
        return Cue(frame, self.track, starts)
