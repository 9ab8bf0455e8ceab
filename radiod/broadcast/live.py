# -*- test-case-name: tests.broadcast.test_live -*-
"""
Live audio on a mount: the frames an encoder sends, and the switch that
puts them on air in place of the playlist.

A L{LiveSource} splits the bytes of one source connection into whole MPEG
frames and queues them for the mount's pacer, pausing the connection when
the queue grows too long.  A L{Switch} is the frame source a mount's pacer
pulls from: the live source's frames while one is on air, the playlist's
otherwise.  The playlist is simply not pulled while live, so it resumes
exactly where it left off.

Both keep their lifecycles as named states, with a table of the moves
allowed between them; each class's docstring draws its states.  A move
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
from radiod.audio.track import TrackInfo
from radiod.interfaces import Converter, IFrameSource, MakeConverter

__all__ = ["HIGH_WATER", "LOW_WATER", "PREBUFFER", "LiveSource", "Switch", "SwitchState"]

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
    high-water mark is flow control, apart from both (L{paused}).

    @ivar track: what listeners are told is playing; one object per live
        session (and per title change).
    @ivar queued: seconds of audio waiting to be pulled.
    @ivar paused: whether the producer is paused because the queue grew
        past the high-water mark.
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
        self._producer = producer
        self._high = high_water
        self._low = low_water
        self._prebuffer = prebuffer
        self._splitter = FrameSplitter()
        self._queue: deque[Frame] = deque()
        self.queued = 0.0
        self.paused = False
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
        Whether the source has had enough audio to go on air: at least
        L{PREBUFFER} seconds queued, or its end reached.
        """
        return self._phase is not _Phase.COLLECTING

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
        Whether the connection ended and every frame has been pulled.
        """
        return self._phase is _Phase.FINISHED and not self._queue

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

    def next_frame(self) -> tuple[Frame, TrackInfo] | None:
        """
        The oldest queued frame with the current track, or C{None} before
        the source is ready or when its queue is empty; resume the
        producer once the queue is below the low-water mark.
        """
        if self._phase is _Phase.COLLECTING or not self._queue:
            return None
        frame = self._queue.popleft()
        self.queued = max(0.0, self.queued - frame.header.duration)
        self._resume_if_low()
        return frame, self.track


class SwitchState(Enum):
    """
    Who has a mount's air (see L{Switch}).
    """

    PLAYLIST = "playlist"
    """
    No live source: the playlist plays (or, without one, nothing).
    """

    RELAY_CUEING = "relay cueing"
    """
    A relay's live source collects its first audio; the playlist plays
    on meanwhile.
    """

    RELAY_ON_AIR = "relay on air"
    """
    A relay's audio plays; an empty queue is an underrun.
    """

    PRESENTER_CUEING = "presenter cueing"
    """
    A presenter's live source collects its first audio; the relay on
    standby, if any, fills in, else the playlist plays on.
    """

    PRESENTER_ON_AIR = "presenter on air"
    """
    A presenter's audio plays (while a presenter who took over collects
    their first audio, the relay on standby fills in); an empty queue is
    an underrun.
    """

    @property
    def on_air(self) -> bool:
        """
        Whether live audio is on air.
        """
        return self in (SwitchState.RELAY_ON_AIR, SwitchState.PRESENTER_ON_AIR)

    @property
    def presenter(self) -> bool:
        """
        Whether a presenter has the air (so a relay waits on standby).
        """
        return self in (SwitchState.PRESENTER_CUEING, SwitchState.PRESENTER_ON_AIR)


class _Event(Enum):
    """
    What moves a L{Switch} from one L{SwitchState} to another.
    """

    PRESENTER = "a presenter's live source was attached"
    RELAY = "a relay's live source was attached"
    AIRED = "the first live frame was given"
    HANDED_BACK = "the presenter's show played out, with a relay on standby"
    PLAYED_OUT = "the live source left and its last frame was given"
    STOPPED = "the mount stopped"


_PLAYLIST = SwitchState.PLAYLIST
_RELAY_CUEING = SwitchState.RELAY_CUEING
_RELAY_ON_AIR = SwitchState.RELAY_ON_AIR
_PRESENTER_CUEING = SwitchState.PRESENTER_CUEING
_PRESENTER_ON_AIR = SwitchState.PRESENTER_ON_AIR

_SWITCH_MOVES: Final[Mapping[tuple[SwitchState, _Event], SwitchState]] = {
    (_PLAYLIST, _Event.PRESENTER): _PRESENTER_CUEING,
    (_PLAYLIST, _Event.RELAY): _RELAY_CUEING,
    (_PLAYLIST, _Event.STOPPED): _PLAYLIST,
    # A presenter takes the air from a relay, which waits on standby; a
    # newer relay replaces the one there.
    (_RELAY_CUEING, _Event.PRESENTER): _PRESENTER_CUEING,
    (_RELAY_CUEING, _Event.RELAY): _RELAY_CUEING,
    (_RELAY_CUEING, _Event.AIRED): _RELAY_ON_AIR,
    (_RELAY_CUEING, _Event.PLAYED_OUT): _PLAYLIST,
    (_RELAY_CUEING, _Event.STOPPED): _PLAYLIST,
    (_RELAY_ON_AIR, _Event.PRESENTER): _PRESENTER_ON_AIR,
    (_RELAY_ON_AIR, _Event.RELAY): _RELAY_ON_AIR,
    (_RELAY_ON_AIR, _Event.PLAYED_OUT): _PLAYLIST,
    (_RELAY_ON_AIR, _Event.STOPPED): _PLAYLIST,
    # A relay never takes the air from a presenter: it waits on standby
    # until the show has played out.  A newer presenter replaces the one
    # there.
    (_PRESENTER_CUEING, _Event.PRESENTER): _PRESENTER_CUEING,
    (_PRESENTER_CUEING, _Event.RELAY): _PRESENTER_CUEING,
    (_PRESENTER_CUEING, _Event.AIRED): _PRESENTER_ON_AIR,
    (_PRESENTER_CUEING, _Event.HANDED_BACK): _RELAY_CUEING,
    (_PRESENTER_CUEING, _Event.PLAYED_OUT): _PLAYLIST,
    (_PRESENTER_CUEING, _Event.STOPPED): _PLAYLIST,
    (_PRESENTER_ON_AIR, _Event.PRESENTER): _PRESENTER_ON_AIR,
    (_PRESENTER_ON_AIR, _Event.RELAY): _PRESENTER_ON_AIR,
    (_PRESENTER_ON_AIR, _Event.HANDED_BACK): _RELAY_ON_AIR,
    (_PRESENTER_ON_AIR, _Event.PLAYED_OUT): _PLAYLIST,
    (_PRESENTER_ON_AIR, _Event.STOPPED): _PLAYLIST,
}


@implementer(IFrameSource)
class Switch:
    """
    A mount's frame source: a live source while one is on air, the
    playlist otherwise.

    A live source goes on air at the first frame after it is
    L{LiveSource.ready}; until then the playlist keeps playing.  Once on
    air it stays on air until it is detached and its queue has drained:
    a momentarily empty queue is an underrun (a short gap), never a burst
    of playlist audio in the middle of the show.  Then the playlist plays
    on from the frame after the last one it gave.

    A presenter outranks a relay: a relay's live source attached while a
    presenter's is there waits on standby, and a presenter attached while
    a relay plays sends the relay to standby.  The standby relay keeps
    only its newest audio, fills in while the presenter's first audio is
    collected, and goes back on air as soon as the presenter's show has
    played out.

    Who has the air is a L{SwitchState} (L{state}).  Attaching moves it
    at once; pulling frames moves it when a live source gives its first
    frame (C{AIRED}), and when one that left has played out: back to the
    relay on standby (C{HANDED_BACK}), or else to the playlist
    (C{PLAYED_OUT})::

        PLAYLIST --presenter--> PRESENTER_CUEING
        PLAYLIST --relay--> RELAY_CUEING
        RELAY_CUEING --presenter--> PRESENTER_CUEING   (the relay waits on standby)
        RELAY_ON_AIR --presenter--> PRESENTER_ON_AIR   (the relay waits on standby)
        RELAY_CUEING --AIRED--> RELAY_ON_AIR
        PRESENTER_CUEING --AIRED--> PRESENTER_ON_AIR
        PRESENTER_CUEING --HANDED_BACK--> RELAY_CUEING
        PRESENTER_ON_AIR --HANDED_BACK--> RELAY_ON_AIR
        any but PLAYLIST --PLAYED_OUT--> PLAYLIST
        any --stop()--> PLAYLIST

    A presenter or relay attached where one of the same kind is stays in
    the same state and replaces it (the old one is finished and stopped),
    and so does a relay attached where a presenter is: it waits on
    standby, in place of any relay there.  A relay never takes the air
    from a presenter.  A presenter attached where a relay whose
    connection has ended is drops the relay rather than sending it to
    standby.  A relay on standby exists only in the presenter's states;
    detaching it forgets it without a move.

    @ivar playlist: the source played when no live source is on air, or
        C{None} for a mount that only exists while a source is connected.
    @ivar on_drained: called when a live source that left has played out.
    @ivar on_change: called when a live source goes on air and when one
        that left has played out, after L{on_air} and L{live} changed.
    @ivar prepare: called with each live source as it is attached, before
        its first audio (to set the format it goes on air in).
    """

    _log = Logger()

    def __init__(self, playlist: IFrameSource | None, name: str = "") -> None:
        """
        @param playlist: the fallback source, or C{None}.
        @param name: the mount's name, for logs.
        """
        self.playlist = playlist
        self.name = name
        self._state = SwitchState.PLAYLIST
        self._live: LiveSource | None = None
        self._standby: LiveSource | None = None
        self.on_drained: list[Callable[[], None]] = []
        self.on_change: list[Callable[[], None]] = []
        self.prepare: Callable[[LiveSource], None] | None = None

    @property
    def state(self) -> SwitchState:
        """
        Who has the air now.
        """
        return self._state

    @property
    def live(self) -> LiveSource | None:
        """
        The live source that has the air, if any: on air, collecting its
        first audio, or playing out.
        """
        return self._live

    @property
    def standby(self) -> LiveSource | None:
        """
        A relay's live source waiting for L{live}, a presenter's, to end.
        """
        return self._standby

    @property
    def on_air(self) -> bool:
        """
        Whether the last frame given was live.
        """
        return self._state.on_air

    @property
    def has_audio(self) -> bool:
        """
        Whether there is something to play: a playlist, or a live source
        (on air, or collecting its first audio, or playing out).
        """
        return self.playlist is not None or self._live is not None

    def _fire(self, event: _Event) -> None:
        """
        Move as the table says C{event} moves the current state.

        @raise RuntimeError: if it does not move it.
        """
        moved = _SWITCH_MOVES.get((self._state, event))
        if moved is None:
            raise RuntimeError(f"no move from {self._state.name} upon {event.name}")
        self._state = moved

    def attach(self, live: LiveSource, relay: bool = False) -> None:
        """
        Put C{live} on air as soon as it is ready, in place of any live
        source of the same kind attached before; a relay's waits on
        standby while a presenter's is attached.

        @param relay: whether C{live} is a relay's rather than a
            presenter's.
        """
        if self.prepare is not None:
            self.prepare(live)
        if relay:
            self._relay_attached(live)
        else:
            self._presenter_attached(live)

    def _presenter_attached(self, live: LiveSource) -> None:
        current = self._live
        if current is not None and current is not live:
            if self._state.presenter or current.finished:
                self._drop(current)
            else:
                self._to_standby(current)
                self._log.info("Relay on standby on {mount}: a live show begins", mount=self.name)
        self._live = live
        self._fire(_Event.PRESENTER)

    def _relay_attached(self, live: LiveSource) -> None:
        if self._state.presenter:
            self._to_standby(live)
            self._log.info("Relay on standby on {mount} during a live show", mount=self.name)
        else:
            current = self._live
            if current is not None and current is not live:
                self._drop(current)
            self._live = live
        self._fire(_Event.RELAY)

    def _to_standby(self, live: LiveSource) -> None:
        old, self._standby = self._standby, live
        if old is not None and old is not live:
            self._drop(old)

    def _drop(self, live: LiveSource) -> None:
        live.finish()
        live.stop()

    def detach(self, live: LiveSource) -> None:
        """
        The connection of C{live} ended: play what it queued, then return
        to the relay on standby, if any, else the playlist.  A relay on
        standby is forgotten at once.
        """
        if live is self._standby:
            self._standby = None
            self._drop(live)
            return
        live.finish()

    # IFrameSource

    def start(self) -> None:
        """
        Start the playlist.
        """
        if self.playlist is not None:
            self.playlist.start()

    def stop(self) -> None:
        """
        Stop the playlist and drop any live audio.
        """
        if self.playlist is not None:
            self.playlist.stop()
        for live in (self._live, self._standby):
            if live is not None:
                live.stop()
        self._live = self._standby = None
        self._fire(_Event.STOPPED)

    def next_frame(self) -> tuple[Frame, TrackInfo] | None:
        """
        The next frame to play: live audio while a live source is on air
        (C{None} when its queue is momentarily empty), else the
        playlist's.

        The live source that has the air is asked first: its first frame
        puts it on air; once it has left and played out, the relay on
        standby, if any, has the air from this very frame on, else the
        playlist has it back.
        """
        standby = self._standby
        if standby is not None:
            standby.trim(PREBUFFER)
        live = self._live
        if live is None:
            return self._playlist_frame()
        item = self._live_frame(live)
        if item is None and live.drained and self._standby is not None:
            live = self._hand_back()
            item = live.next_frame()
        if item is not None:
            if not self._state.on_air:
                self._go_on_air()
            return item
        if live.drained:
            self._leave()
        elif self._state.on_air:
            return None
        return self._playlist_frame()

    def _live_frame(self, live: LiveSource) -> tuple[Frame, TrackInfo] | None:
        """
        The next frame of C{live}, or while a presenter's first audio is
        still coming, of the relay on standby.
        """
        item = live.next_frame()
        standby = self._standby
        if item is None and standby is not None and not live.ready:
            item = standby.next_frame()
        return item

    def _playlist_frame(self) -> tuple[Frame, TrackInfo] | None:
        if self.playlist is None:
            return None
        return self.playlist.next_frame()

    def _go_on_air(self) -> None:
        self._fire(_Event.AIRED)
        self._log.info("Live source on air on {mount}", mount=self.name)
        self._changed()

    def _hand_back(self) -> LiveSource:
        """
        The presenter's show played out: the relay on standby has the air.

        @return: the relay's live source.
        """
        relay = self._standby
        assert relay is not None
        self._live, self._standby = relay, None
        self._fire(_Event.HANDED_BACK)
        self._log.info("Relay back on air on {mount}", mount=self.name)
        return relay

    def _leave(self) -> None:
        """
        The live source that had the air played out: the playlist has it
        back.
        """
        was_on_air = self._state.on_air
        self._live = None
        self._fire(_Event.PLAYED_OUT)
        if was_on_air:
            self._log.info("Live source left {mount}", mount=self.name)
            if self.playlist is not None:
                self._log.info("Playlist resumes on {mount}", mount=self.name)
        for callback in self.on_drained:
            callback()
        self._changed()

    def _changed(self) -> None:
        for callback in list(self.on_change):
            callback()
