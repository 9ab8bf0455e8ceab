# -*- test-case-name: tests.broadcast.test_live -*-
"""
The switch that puts live audio on a mount's air in place of the playlist.

A L{Switch} is the frame source a mount's pacer pulls from: a live
source's frames (L{radiod.broadcast.live.LiveSource}) while one is on
air, the playlist's otherwise.  The playlist is simply not pulled while
live, so it resumes exactly where it left off.  A live source found to
send dead air (see L{radiod.ingest.silence}) is I{muted}: it stays
attached, but the air passes as if it were still collecting its first
audio, until it is unmuted.  Who has the air is a L{SwitchState}, moved
by one table; the class docstring draws it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from enum import Enum
from typing import Final

from twisted.logger import Logger
from zope.interface import implementer

from radiod.audio.track import Cue
from radiod.broadcast.live import PREBUFFER, LiveSource
from radiod.interfaces import IFrameSource

__all__ = ["Switch", "SwitchState"]


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
    A relay's live source collects its first audio, or is muted; the
    playlist plays on meanwhile.
    """

    RELAY_ON_AIR = "relay on air"
    """
    A relay's audio plays; an empty queue is an underrun.
    """

    PRESENTER_CUEING = "presenter cueing"
    """
    A presenter's live source collects its first audio, or is muted; the
    relay on standby, if any, fills in, else the playlist plays on.
    """

    PRESENTER_ON_AIR = "presenter on air"
    """
    A presenter's audio plays (while a presenter who took over collects
    their first audio, or is muted, the relay on standby fills in); an
    empty queue is an underrun.
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
    SILENT = "the live audio on air was muted, with none to fill in"
    STOPPED = "the mount stopped"


_PLAYLIST = SwitchState.PLAYLIST


_RELAY_CUEING = SwitchState.RELAY_CUEING


_RELAY_ON_AIR = SwitchState.RELAY_ON_AIR


_PRESENTER_CUEING = SwitchState.PRESENTER_CUEING


_PRESENTER_ON_AIR = SwitchState.PRESENTER_ON_AIR


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
    (C{PLAYED_OUT}).  Muting the live audio on air, with no unmuted relay
    on standby to fill in, takes it off the air (C{SILENT}); once unmuted
    it goes on air again with its next frame (C{AIRED})::

        PLAYLIST --presenter--> PRESENTER_CUEING
        PLAYLIST --relay--> RELAY_CUEING
        RELAY_CUEING --presenter--> PRESENTER_CUEING   (the relay waits on standby)
        RELAY_ON_AIR --presenter--> PRESENTER_ON_AIR   (the relay waits on standby)
        RELAY_CUEING --AIRED--> RELAY_ON_AIR
        PRESENTER_CUEING --AIRED--> PRESENTER_ON_AIR
        PRESENTER_CUEING --HANDED_BACK--> RELAY_CUEING
        PRESENTER_ON_AIR --HANDED_BACK--> RELAY_ON_AIR
        RELAY_ON_AIR --SILENT--> RELAY_CUEING
        PRESENTER_ON_AIR --SILENT--> PRESENTER_CUEING
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

    A muted live source (L{mute}) gives no frame and keeps only its
    newest audio, like a relay on standby; one that leaves while muted
    has played out at once.  A mount whose only live source is muted has
    no audio (L{has_audio}), so the listeners of a live-only mount go to
    its fallback, as when the source leaves.

    @ivar playlist: the source played when no live source is on air, or
        C{None} for a mount that only exists while a source is connected.
    @ivar on_drained: called when a live source that left has played out.
    @ivar on_change: called when a live source goes on air and when one
        that left has played out, after L{on_air} and L{live} changed.
    @ivar prepare: called with each live source as it is attached, before
        its first audio (to set the format it goes on air in).
    @ivar mutes: how many times a live source was muted (L{mute}).
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
        self._giving: IFrameSource | None = None
        self.on_drained: list[Callable[[], None]] = []
        self.on_change: list[Callable[[], None]] = []
        self.prepare: Callable[[LiveSource], None] | None = None
        self.mutes = 0

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
        that is not muted (on air, or collecting its first audio, or
        playing out), or a relay on standby that is not muted.
        """
        return self.playlist is not None or self._audible

    @property
    def _audible(self) -> bool:
        """
        Whether live audio may fill the air: the live source's, or while
        it is muted, that of the relay on standby.
        """
        live, standby = self._live, self._standby
        if live is None:
            return False
        return not live.muted or (standby is not None and not standby.muted)

    @property
    def muted(self) -> int:
        """
        How many of the live sources attached now are muted.
        """
        return sum(1 for live in (self._live, self._standby) if live is not None and live.muted)

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

    def mute(self, live: LiveSource) -> None:
        """
        Take C{live} off the air for sending dead air: it stays attached,
        but gives no frame, and the air passes as if it were collecting
        its first audio: to the relay on standby, if any is not muted,
        else to the playlist (or, on a mount without one, to nothing, so
        that its listeners go to its fallback).  Its newest audio is kept,
        ready for L{unmute}.  A live source the switch does not hold, or
        one already muted, is left alone.
        """
        if live.muted or live not in (self._live, self._standby):
            return
        had_audio = self.has_audio
        live.muted = True
        self.mutes += 1
        if self._state.on_air and not self._audible:
            self._off_air()
        elif had_audio and not self.has_audio:
            self._changed()

    def unmute(self, live: LiveSource) -> None:
        """
        C{live} sends sound again: let it have the air as before it was
        muted, from its next frame on.
        """
        live.muted = False

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

    def next_frame(self) -> Cue | None:
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
        if live.muted:
            live.trim(PREBUFFER)
        item = self._live_frame(live)
        if item is None and live.drained and self._standby is not None:
            live = self._hand_back()
            item = self._take(live)
        if item is not None:
            if not self._state.on_air:
                self._go_on_air()
            return item
        if live.drained:
            self._leave()
        elif self._state.on_air:
            if self._audible:
                return None
            # Muted, with nothing to fill in any more: the relay on
            # standby that filled in left, or the air was handed back to
            # a muted relay.
            self._off_air()
        return self._playlist_frame()

    def _live_frame(self, live: LiveSource) -> Cue | None:
        """
        The next frame of C{live}, or while a presenter's first audio is
        still coming, of the relay on standby.
        """
        item = self._take(live)
        standby = self._standby
        if item is None and standby is not None and not live.ready:
            item = self._take(standby)
        return item

    def _playlist_frame(self) -> Cue | None:
        if self.playlist is None:
            return None
        return self._take(self.playlist)

    def _take(self, source: IFrameSource) -> Cue | None:
        """
        The next frame of C{source}: when the air passes to it from
        another source, its first frame starts a new play even in the
        middle of its track.
        """
        cue = source.next_frame()
        if cue is not None and source is not self._giving:
            self._giving = source
            if not cue.starts:
                cue = cue._replace(starts=True)
        return cue

    def _go_on_air(self) -> None:
        self._fire(_Event.AIRED)
        self._log.info("Live source on air on {mount}", mount=self.name)
        self._changed()

    def _off_air(self) -> None:
        """
        The live audio on air was muted, and none fills in: the playlist
        has the air back until it is unmuted.
        """
        self._fire(_Event.SILENT)
        self._log.info("Live source off the air on {mount}: dead air", mount=self.name)
        if self.playlist is not None:
            self._log.info("Playlist resumes on {mount}", mount=self.name)
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
    (_RELAY_ON_AIR, _Event.SILENT): _RELAY_CUEING,
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
    (_PRESENTER_ON_AIR, _Event.SILENT): _PRESENTER_CUEING,
    (_PRESENTER_ON_AIR, _Event.STOPPED): _PLAYLIST,
}
