# -*- test-case-name: tests.library.test_programme -*-
"""
The programme: a library played track after track as one frame source.
(One noun, L{Programme}, with the inspection of a file it reads ahead;
its three lifecycles read best beside each other.)

Files are read and split into frames in a thread, one track ahead of the
one playing, so the pacer always finds the next frame ready.  The library
is rescanned on a timer: new files join the rotation, removed ones leave
it, and a file replaced on disk is read afresh.  A file that cannot be
read or holds no usable audio is skipped with a log line.  Which track
comes next under the rotation rules is decided by
L{radiod.library.rotation}; the programme only keeps the plays it needs.

A programme plays one format (L{Programme.format}) from start to end: the
one configured, with what is left open taken from the first track that
plays.  MP3 files in that format play as they are; every other file is
converted to it while the track before it plays (see L{radiod.ffmpeg.transcoder}),
and with normalization on, brought to the same loudness (see
L{radiod.audio.loudness}).
"""

from __future__ import annotations

import math
import random
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, replace
from datetime import UTC, tzinfo
from enum import Enum
from itertools import chain
from typing import Final, Protocol, TypeAlias

from twisted.internet.defer import Deferred, gatherResults, succeed
from twisted.internet.interfaces import IReactorTime
from twisted.internet.task import LoopingCall
from twisted.logger import Logger
from twisted.python.failure import Failure
from zope.interface import implementer

from radiod.audio.block import FrameBlock, read_block
from radiod.audio.format import ANY_FORMAT, AudioFormat, Probe, mount_format, plays_unchanged, probe
from radiod.audio.frames import Frame
from radiod.audio.loudness import GAIN_TOLERANCE, read_replaygain
from radiod.audio.reservoir import self_contained
from radiod.audio.splice import CuePoints, Join, trim
from radiod.audio.track import Cue, TrackInfo
from radiod.config import PlaylistConfig
from radiod.config.windows import parse_schedule
from radiod.ffmpeg.transcoder import ConversionError, Transcoder
from radiod.interfaces import IFrameSource, Runner
from radiod.library.library import Library, LibraryChange
from radiod.library.rotation import (
    DEFAULT,
    Aired,
    Candidate,
    InOrder,
    Rules,
    ShuffleBag,
    Slot,
    TurnState,
    after_turn,
    choose,
    take_turn,
)

__all__ = [
    "AIRED_KEPT",
    "QUEUED",
    "Inspection",
    "Programme",
    "RequestSource",
    "Requested",
    "inspect",
    "load_frames",
]

AIRED_KEPT = 1000
"""
How many past plays the programme keeps for its rotation rules.
"""


QUEUED = "(queued)"
"""
Where a track asked for with L{Programme.queue} comes from, in place of a
playlist's name.
"""

SKIP_LEAD = 1.0
"""
Seconds a skipped track plays on, with a crossfade, before its overlap
into the next starts: time for ffmpeg to render the overlap.
"""

REQUESTED = "(requested)"
"""
Where a listener's request comes from, in place of a playlist's name.
"""


class Requested(Protocol):
    """
    A listener's request, as the programme sees it.
    """

    @property
    def id(self) -> str: ...

    @property
    def path(self) -> str: ...


class RequestSource(Protocol):
    """
    Listeners' requests waiting to play (L{radiod.library.requests}).
    """

    def next_playable(
        self, aired: Sequence[Aired], rules: Rules, starts_at: float
    ) -> Requested | None:
        """
        The oldest request whose track keeps the rules if it starts at
        C{starts_at}, or C{None}.
        """

    def started(self, request_id: str, now: float) -> None:
        """
        The request's track began to play.
        """

    def forget(self, paths_present: AbstractSet[str]) -> None:
        """
        Drop the requests of tracks no longer in the library.
        """


class Playlist:
    """
    One of a mount's extra playlists at run time: its library, where it
    is in its order, and how it takes its turn.

    @ivar config: its configuration.
    @ivar library: its tracks.
    @ivar slot: how it takes its turn (see L{radiod.library.rotation}).
    @ivar order: what it deals next.
    """

    def __init__(self, config: PlaylistConfig, library: Library, rng: random.Random) -> None:
        self.config = config
        self.library = library
        self.order: ShuffleBag | InOrder = (
            ShuffleBag([], rng) if config.order == "shuffle" else InOrder([])
        )
        self.slot = Slot(
            config.name,
            config.weight,
            config.every_songs,
            config.every_minutes,
            None if config.at_minute < 0 else config.at_minute,
            parse_schedule(config.schedule) if config.schedule else (),
        )

    def track(self, path: str) -> TrackInfo | None:
        """
        The track of C{path} in this playlist, or C{None}.
        """
        for track in self.library.tracks:
            if track.path == path:
                return track
        return None

    def shown(self, track: TrackInfo) -> TrackInfo:
        """
        C{track} as listeners see it: under the playlist's title when it
        has one, marked a jingle when the playlist holds jingles.
        """
        if self.config.title:
            track = replace(track, title=self.config.title, artist="", album="")
        return replace(track, jingle=self.config.jingle)


def load_frames(path: str) -> FrameBlock:
    """
    Read a whole file and split it into frames.  Blocking: run it in a
    thread.

    @raise OSError: if the file cannot be read.
    @raise radiod.audio.frames.UnsupportedAudio: if it holds no usable MP3 audio.
    """
    with open(path, "rb") as f:
        data = f.read()
    return read_block(data)


@dataclass
class Inspection:
    """
    What reading a library file ahead of its turn found.

    @ivar frames: an MP3 file's frames, or C{None} for another format (or
        once they are known not to be played as they are).
    @ivar probe: what those frames are, or C{None}.
    @ivar gain: the gain the file's ReplayGain tags ask for, or C{None}
        when they ask for none (or were not read).
    """

    frames: Sequence[Frame] | None
    probe: Probe | None
    gain: float | None


def inspect(path: str, loader: Callable[[str], Sequence[Frame]], replaygain: bool) -> Inspection:
    """
    Read an MP3 file's frames with C{loader}, and the file's ReplayGain
    tags when C{replaygain} is set.  Blocking: run it in a thread.

    @raise OSError: if an MP3 file cannot be read.
    @raise radiod.audio.frames.UnsupportedAudio: if it holds no usable MP3 audio.
    """
    frames = loader(path) if path.lower().endswith(".mp3") else None
    gain = read_replaygain(path) if replaygain else None
    return Inspection(frames, probe(frames) if frames else None, gain)


class _Run(Enum):
    """
    Where a programme is in its life (see L{Programme}).
    """

    STOPPED = "stopped"
    """
    Not started, or stopped: nothing is read, nothing rescanned.
    """

    STARTING = "starting"
    """
    The first scan of the library is under way; tracks are read as it
    finds them.
    """

    RUNNING = "running"
    """
    Scanned once: the library is rescanned on a timer.
    """


_RUN_MOVES: Final[Mapping[_Run, frozenset[_Run]]] = {
    # start()
    _Run.STOPPED: frozenset({_Run.STARTING}),
    # The first scan ended; stop()
    _Run.STARTING: frozenset({_Run.RUNNING, _Run.STOPPED}),
    # stop()
    _Run.RUNNING: frozenset({_Run.STOPPED}),
}


class _Turn(Enum):
    """
    Where the track playing is (see L{Programme}).
    """

    WAITING = "waiting"
    """
    No track has frames left to give (none has played yet, the last one
    ended, or the programme stopped): the next starts as soon as it is
    read.
    """

    PLAYING = "playing"
    """
    A track plays; the next starts when it ends.
    """

    SKIPPING = "skipping"
    """
    A track plays on only until the next is read, which then starts at
    once.
    """


_TURN_MOVES: Final[Mapping[_Turn, frozenset[_Turn]]] = {
    # The next track starts.
    _Turn.WAITING: frozenset({_Turn.PLAYING}),
    # skip(); the last frame was given, or stop().
    _Turn.PLAYING: frozenset({_Turn.SKIPPING, _Turn.WAITING}),
    # The next track starts; the last frame was given, or stop().
    _Turn.SKIPPING: frozenset({_Turn.PLAYING, _Turn.WAITING}),
}


@dataclass(frozen=True)
class _Reading:
    """
    The next track, being read.

    @ivar path: the file.
    @ivar queued: whether it was asked for with L{Programme.queue}, rather
        than being the next of the round.
    @ivar source: the playlist it comes from (L{DEFAULT} for the music),
        or L{QUEUED} or L{REQUESTED}.
    @ivar request: the id of the listener's request it answers, or C{""}.
    """

    path: str
    queued: bool
    source: str = DEFAULT
    request: str = ""


@dataclass(frozen=True)
class _Stale:
    """
    A file still being read whose frames are not wanted any more: it
    changed or left the library, or a queued track goes first.  When the
    read ends it is put back where it came from (unless it left), and the
    next track is read.

    @ivar path: the file.
    @ivar queued: whether it was asked for with L{Programme.queue}.
    @ivar source: as L{_Reading.source}.
    @ivar request: as L{_Reading.request}.
    """

    path: str
    queued: bool
    source: str = DEFAULT
    request: str = ""


@dataclass(frozen=True)
class _Ready:
    """
    The next track, read: it starts as soon as the one playing ends, or
    is skipped.

    @ivar track: the track.
    @ivar frames: its frames, in the format played.
    @ivar queued: whether it was asked for with L{Programme.queue}.
    @ivar source: as L{_Reading.source}.
    @ivar request: as L{_Reading.request}.
    """

    track: TrackInfo
    frames: Sequence[Frame]
    queued: bool
    source: str = DEFAULT
    request: str = ""

    @property
    def path(self) -> str:
        """
        The file.
        """
        return self.track.path


_Ahead: TypeAlias = _Reading | _Stale | _Ready | None
"""
The track after the one playing: nothing, being read, being read in vain,
or read.
"""


@implementer(IFrameSource)
class Programme:
    """
    Plays a library in order or shuffled, round after round.

    A programme keeps three small lifecycles, each as named states.  Its
    run::

        STOPPED --start()--> STARTING --first scan ended--> RUNNING
        STARTING, RUNNING --stop()--> STOPPED

    L{start} while started is ignored; the end of the first scan fires
    L{started} even when the programme stopped meanwhile.

    The track after the one playing is read ahead into one slot, holding
    nothing, or a file being read (C{reading}), being read in vain
    (C{stale}) or read (C{ready})::

        nothing --the next path is picked--> reading
        reading --read--> ready
        reading --no audio in it--> nothing (skipped)
        reading, stale --the read fails--> nothing (skipped)
        reading --superseded--> stale
        stale --read--> nothing (put back unless it left; the next is read)
        ready --its turn came--> nothing (the next is read)
        ready --superseded--> nothing (put back unless it left)
        ready --stop()--> nothing

    Superseded means that L{queue} put another track first, or that a
    rescan found the file changed or gone.  Each state remembers whether
    its file came from L{queue} or from the round, so that it goes back
    where it came from.

    The track playing::

        WAITING --the next track is ready and a frame is asked for--> PLAYING
        PLAYING --skip()--> SKIPPING --the next track is ready--> PLAYING
        PLAYING, SKIPPING --its last frame given, or stop()--> WAITING

    @ivar playing: the track whose frames are being handed out.
    @ivar upcoming: paths still to play in this round, next first.
    @ivar skipped: tracks skipped because they could not be played.
    @ivar broken: paths that could not be played, left out of the
        rotation until a rescan finds them changed.
    @ivar requested: the format asked for; parts left 0 are taken from the
        first track that plays.
    @ivar normalize: whether tracks are brought to the same loudness.
    @ivar started: fires once the first scan of the library has ended.
    """

    _log = Logger()

    def __init__(
        self,
        library: Library,
        clock: IReactorTime,
        runner: Runner,
        shuffle: bool = False,
        rescan_interval: float = 30.0,
        rng: random.Random | None = None,
        loader: Callable[[str], Sequence[Frame]] = load_frames,
        name: str = "",
        target: AudioFormat = ANY_FORMAT,
        normalize: bool = False,
        transcoder: Transcoder | None = None,
        keep_format: AudioFormat | None = None,
        rules: Rules | None = None,
        playlists: Sequence[Playlist] = (),
        zone: tzinfo = UTC,
        default_weight: float = 1.0,
        requests: RequestSource | None = None,
        crossfade: float = 0.0,
    ) -> None:
        """
        @param library: the tracks to play.
        @param clock: schedules rescans.
        @param runner: runs file reads and scans off the reactor thread.
        @param shuffle: random order, reshuffled every round.
        @param rescan_interval: seconds between library rescans; 0 for
            never.
        @param rng: the random source for shuffling.
        @param loader: reads an MP3 file into frames (blocking).
        @param name: the mount's name, for logs.
        @param target: the format to play, with 0 for each part to take
            from the first track that plays.
        @param normalize: bring tracks to the same loudness.
        @param transcoder: converts files that are not MP3 in the format
            played, and measures loudness; without one, such files are
            skipped.
        @param keep_format: a format fixed before (by the programme this
            one replaces), played rather than settling one.
        @param rules: the rotation rules the next track is chosen by (see
            L{radiod.library.rotation}); none by default.
        @param playlists: the mount's extra playlists, beside C{library}
            (the default rotation), in the order configured.
        @param zone: the station's time zone, for schedules and clock
            times.
        @param default_weight: the default rotation's weight beside
            weighted playlists.
        @param requests: listeners' requests, played as soon as the rules
            allow; none by default.
        @param crossfade: seconds one track overlaps the next (see
            L{radiod.audio.splice}); 0 for none.  A playlist may say
            otherwise for its items.
        """
        self.library = library
        self._clock = clock
        self._runner = runner
        self.shuffle = shuffle
        self.rescan_interval = rescan_interval
        self._rng = rng if rng is not None else random.Random()
        self._loader = loader
        self.name = name
        self._run = _Run.STOPPED
        self._turn = _Turn.WAITING
        self.playing: TrackInfo | None = None
        self._frames: Sequence[Frame] = []
        self._index = 0
        self._ahead: _Ahead = None
        self.upcoming: list[str] = []
        self.rules = rules if rules is not None else Rules()
        self.aired: deque[Aired] = deque(maxlen=AIRED_KEPT)
        self.playlists: list[Playlist] = list(playlists)
        self.zone = zone
        self.default_weight = default_weight
        self.requests = requests
        self.turns = TurnState(start=clock.seconds())
        self._unavailable: set[str] = set()
        # What the listeners are shown for the frames handed out, and
        # whether the track playing started a play of its own.
        self._shown: TrackInfo | None = None
        self._new_play = True
        self.crossfade = crossfade
        # Where the track playing comes from; where its frames end (before
        # the overlap, when it crossfades into the next); the overlap
        # rendered for the track read ahead, and the render under way.
        self._source = DEFAULT
        self._end = 0
        self._join: tuple[_Ready, Join] | None = None
        self._joins = 0
        self._unfaded_warned = False
        self._crossfade_warned: set[tuple[str, float, str]] = set()
        self._queued: list[str] = []
        self.broken: set[str] = set()
        self.skipped = 0
        # The library scan under way, if any.
        self._scanning: Deferred[LibraryChange] | None = None
        self._rescan: LoopingCall | None = None
        self.started: Deferred[None] = Deferred()
        self.requested = target
        self.normalize = normalize
        self._transcoder = transcoder
        self._format = keep_format
        if self._format is None and target.sample_rate and target.channels and target.bitrate:
            self._format = target
        self._unmeasured_warned = False

    @property
    def format(self) -> AudioFormat | None:
        """
        The format this programme plays, fixed for as long as it runs: the
        one asked for, with the parts left open filled in from the first
        track that played; C{None} until then.
        """
        return self._format

    def _to_run(self, run: _Run) -> None:
        if run not in _RUN_MOVES[self._run]:
            raise RuntimeError(f"no move from {self._run.name} to {run.name}")
        self._run = run

    def _to_turn(self, turn: _Turn) -> None:
        if turn not in _TURN_MOVES[self._turn]:
            raise RuntimeError(f"no move from {self._turn.name} to {turn.name}")
        self._turn = turn

    # IFrameSource

    def start(self) -> None:
        """
        Scan the library, then read the first track; rescan on a timer.
        Ignored while started.
        """
        if self._run is not _Run.STOPPED:
            return
        self._to_run(_Run.STARTING)
        self._scan().addCallback(lambda _: self._started())

    def _started(self) -> None:
        """
        The first scan since L{start} ended.
        """
        if not self.started.called:
            self.started.callback(None)
        if self._run is not _Run.STARTING:
            return
        self._to_run(_Run.RUNNING)
        self._prefetch()
        if self.rescan_interval > 0:
            loop = LoopingCall(self._scan)
            loop.clock = self._clock
            self._rescan = loop
            loop.start(self.rescan_interval, now=False)

    def stop(self) -> None:
        """
        Stop rescanning and drop the frames held.
        """
        if self._run is not _Run.STOPPED:
            self._to_run(_Run.STOPPED)
        if self._rescan is not None and self._rescan.running:
            self._rescan.stop()
        self._rescan = None
        self._frames = []
        self._end = 0
        self._join = None
        self._joins += 1
        if self._turn is not _Turn.WAITING:
            self._to_turn(_Turn.WAITING)
        if isinstance(self._ahead, _Ready):
            self._ahead = None

    def next_frame(self) -> Cue | None:
        """
        The next frame of the current track, moving on to the next track
        (already read in the background) when this one ends, or once it
        is read after L{skip}.
        """
        ahead = self._ahead
        if self._join is not None and self._join[0] is not ahead:
            # The next track changed (queued, rescanned): no overlap.
            self._join = None
            self._end = len(self._frames)
        if isinstance(ahead, _Ready) and self._turn is not _Turn.PLAYING:
            self._begin(ahead)
        elif self._turn is _Turn.WAITING:
            self._prefetch()
            return None
        index = self._index
        frame = self._frames[index]
        self._index = index + 1
        if self._index >= self._end:
            self._to_turn(_Turn.WAITING)
        shown = self._shown
        assert shown is not None
        return Cue(frame, shown, index == 0 and self._new_play)

    def _begin(self, ready: _Ready) -> None:
        """
        The track read ahead starts, and the one after it is read.
        """
        self._ahead = None
        now = self._clock.seconds()
        track = ready.track
        playlist = self._playlist(ready.source)
        shown = playlist.shown(track) if playlist is not None else track
        if ready.request:
            shown = replace(shown, requested=True)
            if self.requests is not None:
                self.requests.started(ready.request, now)
        if shown.jingle and playlist is not None and not playlist.config.title and self._shown:
            # A jingle without a title of its own goes out under the title
            # on the air, as part of the same play.
            self._new_play = False
        else:
            self._shown = shown
            self._new_play = True
        self.playing = track
        if not shown.jingle:
            self.aired.append(Aired(track.path, track.artist, track.title, now))
        self.turns = after_turn(self._slots(), self.turns, ready.source, now)
        joined = self._join
        self._join = None
        if joined is not None and joined[0] is ready:
            join = joined[1]
            resume = [join.resume] if join.resume is not None else []
            self._frames = [*join.overlap, *resume, *ready.frames[join.incoming_start + 1 :]]
        else:
            self._frames = ready.frames
        self._end = len(self._frames)
        self._source = ready.source
        self._index = 0
        self._to_turn(_Turn.PLAYING)
        self._prefetch()

    def next_track(self) -> TrackInfo | None:
        """
        The track expected to play after the current one, as far as the
        programme knows it: the one read ahead, else the one being read,
        else the next playable one left in this round.  Changes nothing.

        @return: the track, or C{None} when the next is not known yet (at
            the end of a round, or with nothing playable).
        """
        ahead = self._ahead
        if isinstance(ahead, _Ready):
            playlist = self._playlist(ahead.source)
            if playlist is None:
                return replace(ahead.track, requested=bool(ahead.request))
            if playlist.config.jingle and not playlist.config.title:
                # Goes out under the title on the air: nothing new to show.
                return None
            return playlist.shown(ahead.track)
        if ahead is not None and ahead.source not in (DEFAULT, QUEUED):
            return None
        pending = [ahead.path] if ahead is not None else []
        for path in chain(pending, self._queued, self.upcoming):
            if path not in self.broken:
                track = self._track(path)
                if track is not None:
                    return track
        return None

    def _playlist(self, name: str) -> Playlist | None:
        """
        The extra playlist called C{name}, or C{None} (for the default
        rotation, a queued track or a request).
        """
        for playlist in self.playlists:
            if playlist.config.name == name:
                return playlist
        return None

    def _slots(self) -> list[Slot]:
        return [playlist.slot for playlist in self.playlists]

    def set_playlists(
        self, configs: Sequence[PlaylistConfig], make_library: Callable[[str], Library]
    ) -> None:
        """
        Take new extra playlists (a reload): a playlist whose name, music
        and order are unchanged keeps its library and its place in its
        order; the others are read afresh.  The item read ahead stays.

        @param configs: the playlists, in the order configured.
        @param make_library: a library for a C{music} location.
        """
        kept = {(p.config.name, p.config.music, p.config.order): p for p in self.playlists}
        playlists = []
        fresh = []
        for config in configs:
            found = kept.get((config.name, config.music, config.order))
            if found is None:
                found = Playlist(config, make_library(config.music), self._rng)
                fresh.append(found)
            else:
                slot = Playlist(config, found.library, self._rng).slot
                found.config, found.slot = config, slot
            playlists.append(found)
        self.playlists = playlists
        self._unavailable &= {p.config.name for p in playlists}
        if fresh and self._run is not _Run.STOPPED:
            for playlist in fresh:
                self._scan_playlist(playlist)

    @property
    def queued(self) -> list[str]:
        """
        The paths asked for with L{queue} still to play, next first
        (played in this order after the current track, before the rest of
        the round).
        """
        ahead = self._ahead
        if ahead is not None and ahead.queued:
            return [ahead.path, *self._queued]
        return list(self._queued)

    def skip(self) -> TrackInfo | None:
        """
        Move on to the next track: its first frame follows the next frame
        asked for, since it is normally read ahead already; if it is still
        being read, the current track plays on until it is ready.

        @return: the track skipped, or C{None} when none is playing.
        """
        current = self.playing
        if current is None:
            return None
        if self._fade_out_soon():
            return current
        if self._turn is _Turn.PLAYING:
            self._to_turn(_Turn.SKIPPING)
        self._prefetch()
        return current

    # Crossfades

    def _fade_of(self, source: str) -> float:
        """
        Seconds the items of C{source} overlap their neighbours.
        """
        playlist = self._playlist(source)
        if playlist is not None and playlist.config.crossfade >= 0:
            return playlist.config.crossfade
        return self.crossfade

    def _can_fade(self) -> bool:
        transcoder = self._transcoder
        if transcoder is not None and transcoder.available:
            return True
        if not self._unfaded_warned:
            self._unfaded_warned = True
            self._log.warn("No ffmpeg: tracks on {mount} play without crossfades", mount=self.name)
        return False

    def _fade_out_soon(self) -> bool:
        """
        For L{skip} with a crossfade: end the track playing with an overlap
        into the one read ahead, starting L{SKIP_LEAD} seconds from now
        (time for ffmpeg to render it), rather than cutting it at once.

        @return: whether it will; if not, the track is cut as usual.
        """
        ahead = self._ahead
        if not isinstance(ahead, _Ready) or self._turn is not _Turn.PLAYING:
            return False
        seconds = min(self._fade_of(self._source), self._fade_of(ahead.source))
        if seconds <= 0 or not self._can_fade():
            return False
        frame = self._frames[min(self._index, len(self._frames) - 1)].header.duration
        end = self._index + math.ceil((SKIP_LEAD + seconds) / frame)
        if end >= self._end:
            # It ends sooner than that anyway.
            return True
        self._join = None
        self._end = end
        self._prepare_join()
        return True

    def _prepare_join(self) -> None:
        """
        Have the overlap from the track playing into the one read ahead
        rendered, when both want a crossfade; it is spliced in when it
        comes back in time.
        """
        ready = self._ahead
        if not isinstance(ready, _Ready) or self._turn is not _Turn.PLAYING:
            return
        seconds = min(self._fade_of(self._source), self._fade_of(ready.source))
        target = self._format
        if seconds <= 0 or target is None or not self._can_fade():
            return
        transcoder = self._transcoder
        assert transcoder is not None
        if self._end - self._index < 2:
            return
        # Only the ends meet: the tail of one and the head of the other,
        # long enough that the overlap is not shortened for them.
        span = math.ceil((2 * seconds + 2.0) / ready.frames[0].header.duration)
        start = max(self._index, self._end - span)
        outgoing = self._frames[start : self._end]
        incoming = ready.frames[:span] if len(ready.frames) > span else ready.frames
        self._joins += 1
        turn, frames = self._joins, self._frames
        rendered = transcoder.crossfade(outgoing, incoming, seconds, target, name=self.name)

        def done(join: Join) -> None:
            join = replace(join, outgoing_end=join.outgoing_end + start)
            if turn != self._joins or self._ahead is not ready or self._frames is not frames:
                return
            if self._turn is not _Turn.PLAYING or join.outgoing_end < self._index:
                self._log.info(
                    "The crossfade into {path} on {mount} came too late; it starts without",
                    path=ready.path,
                    mount=self.name,
                )
                return
            self._join = (ready, join)
            self._end = join.outgoing_end

        def failed(failure: Failure) -> None:
            if turn == self._joins:
                self._log.warn(
                    "No crossfade into {path} on {mount}: {reason}",
                    path=ready.path,
                    mount=self.name,
                    reason=failure.getErrorMessage(),
                )

        rendered.addCallbacks(done, failed)

    def queue(self, path: str) -> int:
        """
        Play a library file next: after the current track and the tracks
        queued before it, then the round goes on where it was, without
        it.  A track read ahead from the round waits its turn again (or,
        when it is the one asked for, stays next).

        @param path: the file's path, as the library lists it.
        @return: its place among the tracks to come (1 for the next).
        @raise KeyError: when the library has no such file.
        """
        if self._track(path) is None:
            raise KeyError(path)
        self.broken.discard(path)
        self.upcoming = [other for other in self.upcoming if other != path]
        ahead = self._ahead
        if ahead is not None and not ahead.queued and ahead.path == path:
            self._ahead = replace(ahead, queued=True)
            return 1
        self._queued.append(path)
        place = len(self.queued)
        if ahead is not None and not ahead.queued:
            if isinstance(ahead, _Ready):
                self._put_back(ahead)
                self._ahead = None
            else:
                # Put back in the round when its read ends.
                self._ahead = _Stale(ahead.path, False, ahead.source, ahead.request)
        self._prefetch()
        return place

    # Rotation

    def _new_round(self) -> list[str]:
        paths = [track.path for track in self.library.tracks]
        if self.shuffle:
            self._rng.shuffle(paths)
            if len(paths) > 1 and self.playing is not None and paths[0] == self.playing.path:
                paths[0], paths[-1] = paths[-1], paths[0]
        return paths

    def _next_path(self) -> str | None:
        """
        The next path to play, skipping files known to be unplayable; or
        L{None} when none is playable.
        """
        playable = [t.path for t in self.library.tracks if t.path not in self.broken]
        if not playable:
            return None
        self.upcoming = [path for path in self.upcoming if path not in self.broken]
        if not self.upcoming:
            self.upcoming = [path for path in self._new_round() if path not in self.broken]
        rules = self.rules
        if not (rules.artist_separation or rules.title_separation):
            return self.upcoming.pop(0)
        # The rest of the round first, then the rest of the library, in
        # case nothing left in the round keeps the rules.
        rest = [path for path in playable if path not in self.upcoming]
        order = [
            Candidate.from_track(track)
            for track in (self._track(path) for path in [*self.upcoming, *rest])
            if track is not None
        ]
        choice = choose(order, list(self.aired), rules, self._starts_at())
        if choice is None:
            return self.upcoming.pop(0)
        if choice.relaxed:
            self._log.info(
                "Rotation rules on {mount}: {reason}", mount=self.name, reason=choice.reason
            )
        if choice.path in self.upcoming:
            self.upcoming.remove(choice.path)
        return choice.path

    def _pick(self) -> _Reading | None:
        """
        What plays next, as the playlists take their turns (see
        L{radiod.library.rotation.take_turn}): a due jingle, a listener's
        request that keeps the rules, a scheduled or weighted playlist's
        item, or the music; C{None} when nothing is playable.
        """
        at = self._starts_at()
        slots = self._slots()
        unavailable: set[str] = set()
        for each in self.playlists:
            if not self._playable(each.library):
                unavailable.add(each.config.name)
        for name in sorted(unavailable - self._unavailable):
            self._log.warn(
                "Playlist {playlist} on {mount} has nothing to play; it is passed over",
                playlist=name,
                mount=self.name,
            )
        self._unavailable = unavailable
        name = take_turn(slots, self.turns, at, self.zone, self.default_weight, unavailable)
        playlist = self._playlist(name)
        if (playlist is None or not playlist.slot.interstitial) and self.requests is not None:
            request = self.requests.next_playable(list(self.aired), self.rules, at)
            if request is not None and self._track(request.path) is not None:
                # The round goes on without it, as with a queued track.
                self.upcoming = [path for path in self.upcoming if path != request.path]
                return _Reading(request.path, False, REQUESTED, request.id)
        if playlist is None:
            path = self._next_path()
            return None if path is None else _Reading(path, False)
        path = self._playlist_path(playlist, at)
        if path is None:
            return None
        return _Reading(path, False, playlist.config.name)

    def _playable(self, library: Library) -> bool:
        return any(track.path not in self.broken for track in library.tracks)

    def _playlist_path(self, playlist: Playlist, at: float) -> str | None:
        """
        The next path of an extra playlist: the next of its order, or for
        music (not jingles), the first of its order that keeps the rules.
        """
        order = playlist.order
        upcoming = [path for path in order.upcoming() if path not in self.broken]
        if not upcoming:
            return None
        rules = self.rules
        if playlist.config.jingle or not (rules.artist_separation or rules.title_separation):
            order.take(upcoming[0])
            return upcoming[0]
        candidates = [
            Candidate.from_track(track)
            for track in (playlist.track(path) for path in upcoming)
            if track is not None
        ]
        choice = choose(candidates, list(self.aired), rules, at)
        path = upcoming[0] if choice is None else choice.path
        if choice is not None and choice.relaxed:
            self._log.info(
                "Rotation rules on {mount}, playlist {playlist}: {reason}",
                mount=self.name,
                playlist=playlist.config.name,
                reason=choice.reason,
            )
        order.take(path)
        return path

    def _starts_at(self) -> float:
        """
        When the track read next will start: when the one playing ends.
        """
        left = self._frames[self._index : self._end] if self._turn is _Turn.PLAYING else ()
        return self._clock.seconds() + sum(frame.header.duration for frame in left)

    def _next_queued(self) -> str | None:
        """
        The next queued path still playable, or C{None}.
        """
        while self._queued:
            path = self._queued.pop(0)
            if path not in self.broken:
                return path
        return None

    def _prefetch(self) -> None:
        """
        Start reading the next track unless one is ready or being read,
        or the programme is stopped.
        """
        if self._ahead is not None or self._run is _Run.STOPPED:
            return
        if self._run is _Run.STARTING and self.playlists:
            # The first choice waits for every playlist's first scan.
            return
        queued = self._next_queued()
        reading = _Reading(queued, True, QUEUED) if queued is not None else self._pick()
        if reading is None:
            return
        self._ahead = reading
        path = reading.path
        loaded = self._read(path)
        loaded.addCallbacks(
            self._loaded, self._load_failed, callbackArgs=(path,), errbackArgs=(path,)
        )

    def _read(self, path: str) -> Deferred[tuple[Sequence[Frame], AudioFormat]]:
        """
        Get a file's frames in the format played: an MP3 file in that format
        as it is, any other converted (with its gain, when normalizing).
        """
        loader = self._loader
        transcoder = self._transcoder
        measure = self.normalize and transcoder is not None and transcoder.available
        if self.normalize and not measure and not self._unmeasured_warned:
            self._unmeasured_warned = True
            self._log.warn(
                "No ffmpeg: tracks on {mount} play without loudness normalization",
                mount=self.name,
            )
        ahead = self._ahead
        track = self._track(path, ahead.source if ahead is not None else DEFAULT)
        duration = track.duration if track is not None else 0.0
        found = self._runner(lambda: inspect(path, loader, measure))

        def gain(found: Inspection) -> Deferred[float]:
            if not measure or found.gain is not None:
                return succeed(found.gain or 0.0)
            assert transcoder is not None
            measured = transcoder.loudness(path, duration, self.name)
            return measured.addCallback(lambda loudness: loudness.gain)

        def choose(gain: float, found: Inspection) -> Deferred[tuple[Sequence[Frame], AudioFormat]]:
            target = self._format or mount_format(self.requested, found.probe)
            frames = found.frames
            if (
                frames is not None
                and found.probe is not None
                and plays_unchanged(found.probe, target, exact_bitrate=self.requested.bitrate != 0)
                and abs(gain) < GAIN_TOLERANCE
            ):
                return succeed((frames, target))
            found.frames = None
            if transcoder is None:
                raise ConversionError(
                    f"needs converting to {target.describe()}, and there is no converter"
                )
            converted = transcoder.convert(path, target, gain, duration, self.name)
            return converted.addCallback(lambda frames: (frames, target))

        read = found.addCallback(lambda found: gain(found).addCallback(choose, found))
        source = ahead.source if ahead is not None else DEFAULT
        if self._fade_of(source) > 0 and transcoder is not None and transcoder.available:
            read.addCallback(self._cue, path, duration)
        return read

    def _cue(
        self, read: tuple[Sequence[Frame], AudioFormat], path: str, duration: float
    ) -> Deferred[tuple[Sequence[Frame], AudioFormat]]:
        """
        Skip a track's leading and trailing silence (autocue), measured
        once by ffmpeg (see L{radiod.audio.splice.trim}); a track that
        cannot be measured plays whole.
        """
        frames, target = read
        transcoder = self._transcoder
        assert transcoder is not None
        measured = transcoder.cue_points(path, duration, self.name)

        def trimmed(cues: CuePoints) -> tuple[Sequence[Frame], AudioFormat]:
            first, last = trim(frames, cues)
            if (first, last) == (0, len(frames)):
                return read
            kept = list(frames[first:last])
            if first:
                kept[0] = self_contained(frames[first], frames[:first])
            return kept, target

        def unmeasured(failure: Failure) -> tuple[Sequence[Frame], AudioFormat]:
            self._log.warn(
                "Cannot measure the silence of {path} on {mount}: {reason}; it plays whole",
                path=path,
                mount=self.name,
                reason=failure.getErrorMessage(),
            )
            return read

        return measured.addCallbacks(trimmed, unmeasured)

    def _track(self, path: str, source: str = DEFAULT) -> TrackInfo | None:
        """
        The track of C{path} in the library of C{source}: an extra
        playlist's, or the music's.
        """
        playlist = self._playlist(source)
        if playlist is not None:
            return playlist.track(path)
        for track in self.library.tracks:
            if track.path == path:
                return track
        return None

    def _read_ended(self, path: str) -> _Reading | _Stale:
        """
        The read of C{path} ended: nothing is read ahead any more.

        @return: what was being read.
        """
        ahead = self._ahead
        assert isinstance(ahead, _Reading | _Stale) and ahead.path == path
        self._ahead = None
        return ahead

    def _loaded(self, result: tuple[Sequence[Frame], AudioFormat], path: str) -> None:
        frames, played_in = result
        read = self._read_ended(path)
        track = self._track(path, read.source)
        if isinstance(read, _Stale) or track is None:
            # Replaced or removed while we were reading it.
            if track is not None:
                self._put_back(read)
            self._prefetch()
            return
        if not frames:
            self._skip(path, "no audio frames")
            return
        if self._format is None:
            self._format = played_in
            self._log.info(
                "{mount} plays {played} from now on",
                mount=self.name,
                played=played_in.describe(),
            )
        self._ahead = _Ready(track, frames, read.queued, read.source, read.request)
        self._prepare_join()

    def _put_back(self, ahead: _Reading | _Stale | _Ready) -> None:
        """
        Make a path read ahead (or being read) the next to read again, in
        the queue or the round it came from.  An extra playlist's item or
        a request is not put back: the playlist's order has moved on, and
        a request waits in its queue until it plays.
        """
        if ahead.queued:
            self._queued.insert(0, ahead.path)
        elif ahead.source == DEFAULT:
            self.upcoming.insert(0, ahead.path)

    def _load_failed(self, failure: Failure, path: str) -> None:
        self._read_ended(path)
        if self._run is _Run.STOPPED:
            return
        self._skip(path, failure.getErrorMessage() or repr(failure.value))

    def _skip(self, path: str, reason: str) -> None:
        self.skipped += 1
        # Not tried again until a rescan finds it changed (or re-added).
        self.broken.add(path)
        self._log.warn(
            "Skipping {path} on {mount}: {reason}", path=path, mount=self.name, reason=reason
        )
        self._prefetch()

    # Library changes

    def _held_changed(self, change: LibraryChange, present: set[str]) -> None:
        """
        Log, file by file, what a rescan's changes mean for the tracks
        held in memory: the track playing plays on as it was read, and a
        track read ahead (or being read) is read again, or left out when
        it is gone.
        """
        playing = self.playing.path if self.playing is not None else None
        ahead = self._ahead.path if self._ahead is not None else None
        for path in (*change.removed, *change.changed):
            what = "replaced" if path in present else "removed"
            if path == playing and self._turn is not _Turn.WAITING:
                self._log.info(
                    "{path} on {mount} was {what} while playing; it plays on as it was read",
                    path=path,
                    mount=self.name,
                    what=what,
                )
            if path == ahead:
                self._log.info(
                    "{path} on {mount}, read ahead, was {what}; {outcome}",
                    path=path,
                    mount=self.name,
                    what=what,
                    outcome="it is read again" if path in present else "it is left out",
                )

    def rescan(self) -> Deferred[None]:
        """
        Look for library changes now, rather than at the next timed
        rescan; fires when the scan is done (at once if one is running).
        """
        return self._scan()

    def _scan(self) -> Deferred[None]:
        """
        Scan the music and every extra playlist; fires when all are done.
        """
        scans = [self._scan_music(), *(self._scan_playlist(p) for p in self.playlists)]
        return gatherResults(scans).addCallback(lambda _: self._check_crossfades())

    def _check_crossfades(self) -> None:
        """
        Warn, once for each finding, about a crossfade longer than half a
        track it applies to: such a track overlaps its neighbours by half
        its length instead.
        """
        libraries = [(DEFAULT, self.library), *((p.config.name, p.library) for p in self.playlists)]
        for source, library in libraries:
            seconds = self._fade_of(source)
            lengths = [t for t in library.tracks if t.duration > 0]
            if seconds <= 0 or not lengths:
                continue
            shortest = min(lengths, key=lambda track: track.duration)
            finding = (source, seconds, shortest.path)
            if shortest.duration >= 2 * seconds or finding in self._crossfade_warned:
                continue
            self._crossfade_warned.add(finding)
            self._log.warn(
                "crossfade {seconds:g} s on {mount}{playlist} is longer than half of "
                "{path} ({duration:.1f} s): it overlaps its neighbours by half its length",
                seconds=seconds,
                mount=self.name,
                playlist=f", playlist {source}" if source else "",
                path=shortest.path,
                duration=shortest.duration,
            )

    def _scan_music(self) -> Deferred[None]:
        if self._scanning is not None:
            return succeed(None)
        scanned = self._scanning = self.library.scan()

        def done(change: LibraryChange) -> None:
            self._scanning = None
            self._apply(change)

        def failed(failure: Failure) -> None:
            self._scanning = None
            self._log.error(
                "Cannot scan the library of {mount}: {reason}",
                mount=self.name,
                reason=failure.getErrorMessage(),
            )

        scanned.addCallbacks(done, failed)
        return scanned.addCallback(lambda _: None)

    def _apply(self, change: LibraryChange) -> None:
        present = {track.path for track in self.library.tracks}
        if change.added or change.removed or change.changed:
            self._log.info(
                "Library of {mount} changed: {added} added, {removed} removed, {changed} replaced",
                mount=self.name,
                added=len(change.added),
                removed=len(change.removed),
                changed=len(change.changed),
            )
            self._held_changed(change, present)
        self.upcoming = [path for path in self.upcoming if path in present]
        self._queued = [path for path in self._queued if path in present]
        if self.requests is not None:
            self.requests.forget(present)
        added = [track.path for track in self.library.tracks if track.path in change.added]
        ahead = self._ahead
        if self.shuffle:
            for path in added:
                self.upcoming.insert(self._rng.randint(0, len(self.upcoming)), path)
        elif added:
            # The rest of the round, in library order, after the track
            # already read ahead (or being read, or playing).
            order = [track.path for track in self.library.tracks]
            if ahead is not None and not ahead.queued:
                anchor: str | None = ahead.path
            else:
                anchor = self.playing.path if self.playing is not None else None
            if anchor in present:
                self.upcoming = order[order.index(anchor) + 1 :]
            else:
                self.upcoming.extend(added)
        if ahead is not None and self._playlist(ahead.source) is None:
            self._supersede(ahead, present, change)
        self.broken -= {*change.changed, *change.added, *change.removed}
        self._prefetch()

    def _supersede(
        self, ahead: _Reading | _Stale | _Ready, present: set[str], change: LibraryChange
    ) -> None:
        """
        Drop the track read ahead (or make its read stale) when a rescan of
        its library found it changed or gone.
        """
        if ahead.path in present and ahead.path not in change.changed:
            return
        if isinstance(ahead, _Ready):
            self._ahead = None
            if ahead.path in present:
                self._put_back(ahead)
        else:
            self._ahead = _Stale(ahead.path, ahead.queued, ahead.source, ahead.request)

    def _scan_playlist(self, playlist: Playlist) -> Deferred[None]:
        """
        Scan an extra playlist's library and deal its tracks from then on.
        """
        scanned = playlist.library.scan()

        def done(change: LibraryChange) -> None:
            paths = [track.path for track in playlist.library.tracks]
            if change.added or change.removed or change.changed:
                self._log.info(
                    "Playlist {playlist} of {mount} changed: {added} added, {removed} removed, "
                    "{changed} replaced",
                    playlist=playlist.config.name,
                    mount=self.name,
                    added=len(change.added),
                    removed=len(change.removed),
                    changed=len(change.changed),
                )
            playlist.order.update(paths)
            ahead = self._ahead
            if ahead is not None and ahead.source == playlist.config.name:
                self._supersede(ahead, set(paths), change)
            self.broken -= {*change.changed, *change.added, *change.removed}
            self._prefetch()

        def failed(failure: Failure) -> None:
            self._log.error(
                "Cannot scan playlist {playlist} of {mount}: {reason}",
                playlist=playlist.config.name,
                mount=self.name,
                reason=failure.getErrorMessage(),
            )

        scanned.addCallbacks(done, failed)
        return scanned.addCallback(lambda _: None)
