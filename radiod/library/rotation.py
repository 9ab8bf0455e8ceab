# -*- test-case-name: tests.library.test_rotation -*-
"""
Rotation: the pure decisions behind "which path plays next".

A station's air is programmed from a few parts, each decided here without
I/O, without Twisted and without reading a clock:

  - L{ShuffleBag} deals a playlist in a real shuffle: every item once, in
    random order, before any repeats; L{InOrder} deals one in its order.
  - L{choose} takes the first track of a preferred order that keeps the
    L{Rules} of separation (no artist, no song again too soon), and never
    stalls: when none keeps them all it takes the one that breaks them
    least, and says so.
  - L{every_songs_due} and L{every_minutes_due} say when an item (a jingle,
    a station ID) is due: after every N songs, or M minutes after the last
    one, or at fixed minutes of the wall clock.
  - L{weighted} shares slots among several playlists by weight.
  - L{take_turn} puts these together: which of a mount's playlists gives
    the next item, and L{after_turn} keeps the little it must remember.

Times are plain floats: seconds on the station clock, which reads seconds
since the Unix epoch (as C{reactor.seconds()} does).  Randomness comes
from an injected L{random.Random}, so every decision can be replayed.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, tzinfo
from fractions import Fraction

from radiod.audio.track import TrackInfo
from radiod.config.windows import Window
from radiod.library.schedule import pick

__all__ = [
    "DEFAULT",
    "Aired",
    "Candidate",
    "Choice",
    "InOrder",
    "Rules",
    "ShuffleBag",
    "Slot",
    "TurnState",
    "after_turn",
    "choose",
    "every_minutes_due",
    "every_songs_due",
    "fixed_offset",
    "take_turn",
    "weighted",
]


@dataclass(frozen=True)
class Candidate:
    """
    A track that could play next.

    @ivar path: the file.
    @ivar artist: the artist, or an empty string when unknown.
    @ivar title: the title.
    """

    path: str
    artist: str
    title: str

    @classmethod
    def from_track(cls, track: TrackInfo) -> Candidate:
        """
        The candidate for a library track.
        """
        return cls(track.path, track.artist, track.title)


@dataclass(frozen=True)
class Aired:
    """
    One past play, as the separation rules see it.

    @ivar path: the file.
    @ivar artist: the artist, or an empty string when unknown.
    @ivar title: the title.
    @ivar at: when it started, in station clock seconds.
    """

    path: str
    artist: str
    title: str
    at: float


class ShuffleBag:
    """
    A real shuffle: every item once, in random order, before any repeats.

    Items are dealt in rounds.  Each round is a fresh shuffle of all the
    items, and (when there are two or more) never starts with the item
    given out last, so no item plays twice in a row across a round
    boundary.  A round is dealt when the previous one is used up and an
    item is asked for (by L{next} or L{upcoming}).

    The items may change between picks (L{update}): removed items never
    come out again; added items join the current round at random places.
    """

    def __init__(self, items: Sequence[str], rng: random.Random) -> None:
        """
        @param items: the items to deal; duplicates count once.
        @param rng: the random source for shuffling.
        """
        self._rng = rng
        self._items: list[str] = list(dict.fromkeys(items))
        self._round: list[str] = []
        self._last: str | None = None

    def update(self, items: Sequence[str]) -> None:
        """
        Replace the items: those no longer present leave the current
        round, new ones are put into it at random places.

        @param items: the items from now on; duplicates count once.
        """
        new = list(dict.fromkeys(items))
        present = set(new)
        old = set(self._items)
        self._round = [item for item in self._round if item in present]
        for item in new:
            if item not in old:
                self._round.insert(self._rng.randint(0, len(self._round)), item)
        self._items = new

    def upcoming(self) -> list[str]:
        """
        The rest of this round, next first; a new round is dealt first if
        this one is used up.  Empty only when there are no items.
        """
        self._fill()
        return list(self._round)

    def take(self, path: str) -> None:
        """
        Take C{path} out of the current round, as if given out: it was
        picked out of order (by L{choose}, or queued by hand).  It counts
        as the item given out last, so the next round does not start with
        it.

        @param path: the item picked; ignored if it is not an item.
        """
        if path not in self._items:
            return
        if path in self._round:
            self._round.remove(path)
        self._last = path

    def next(self) -> str | None:
        """
        The next item, or C{None} when there are none.
        """
        self._fill()
        if not self._round:
            return None
        item = self._round.pop(0)
        self._last = item
        return item

    def _fill(self) -> None:
        """
        Deal a new round if this one is used up, and make sure the round
        does not start with the item given out last.
        """
        if not self._round:
            self._round = list(self._items)
            self._rng.shuffle(self._round)
        if len(self._round) >= 2 and self._round[0] == self._last:
            swap = self._rng.randrange(1, len(self._round))
            self._round[0], self._round[swap] = self._round[swap], self._round[0]


@dataclass(frozen=True)
class Rules:
    """
    Separation rules for L{choose}; 0 (or less) turns a rule off.

    @ivar artist_separation: seconds that must pass between the starts of
        two plays by the same artist.
    @ivar title_separation: seconds that must pass between the starts of
        two plays of the same song.
    """

    artist_separation: float = 0.0
    title_separation: float = 0.0


@dataclass(frozen=True)
class Choice:
    """
    What L{choose} picked.

    @ivar path: the file to play.
    @ivar relaxed: whether no candidate kept every rule, so the best of
        them was taken.
    @ivar reason: for a relaxed choice, a one-line explanation for the
        log; otherwise an empty string.
    """

    path: str
    relaxed: bool
    reason: str


def _key(text: str) -> str:
    """
    An artist or title as compared: case-insensitive, spaces around
    stripped.
    """
    return text.strip().casefold()


def _song_keys(path: str, artist: str, title: str) -> list[tuple[str, ...]]:
    """
    What makes two plays the same song: the same path, or the same known
    artist and title.
    """
    keys: list[tuple[str, ...]] = [("path", path)]
    if _key(artist):
        keys.append(("song", _key(artist), _key(title)))
    return keys


def _minutes(seconds: float) -> str:
    """
    A span of time for a log line, in minutes.
    """
    return f"{round(seconds / 60, 1):g} min"


def choose(
    order: Sequence[Candidate], history: Sequence[Aired], rules: Rules, now: float
) -> Choice | None:
    """
    Pick the next track: the first of C{order} that breaks no rule.

    A candidate breaks:
      - the artist rule when a play by its artist started less than
        C{rules.artist_separation} seconds before C{now}.  Artists are
        compared case-insensitively, spaces around stripped; an unknown
        (empty) artist never conflicts.
      - the title rule when a play of the same song started less than
        C{rules.title_separation} seconds before C{now}.  The same song
        means the same path, or the same known artist with the same title
        (compared like artists).

    When every candidate breaks some rule, the choice is relaxed rather
    than stalling.  The candidates are then ranked by, in order:
      1. the number of rules broken, fewer first;
      2. how far inside the separations their latest conflicting plays
         are, summed over the rules broken, least first: for each rule,
         the separation less the time since the latest conflicting play
         (the wait until that rule would be kept).  Under one rule, that
         takes the candidate whose conflicting play is oldest; with one
         artist under both rules, the song played longest ago;
      3. their place in C{order}.
    The first of that ranking is taken, with C{relaxed} set and a reason.

    To avoid relaxing merely because the rest of a shuffle round is short
    of artists, give an C{order} that goes on past the round (for instance
    L{ShuffleBag.upcoming} followed by the other tracks).

    @param order: the candidates in the order preferred, such as
        L{ShuffleBag.upcoming}, or the library in order from the current
        position.
    @param history: past plays, in any order.
    @param rules: the separation rules.
    @param now: the station clock time the pick will start playing.
    @return: the choice, or C{None} only when C{order} is empty.
    """
    if not order:
        return None
    last_artist: dict[str, float] = {}
    last_song: dict[tuple[str, ...], float] = {}
    for play in history:
        artist = _key(play.artist)
        if artist:
            last_artist[artist] = max(last_artist.get(artist, play.at), play.at)
        for song in _song_keys(play.path, play.artist, play.title):
            last_song[song] = max(last_song.get(song, play.at), play.at)

    best: tuple[int, float, int] | None = None
    best_breaks: list[str] = []
    for place, candidate in enumerate(order):
        breaks: list[str] = []
        inside = 0.0
        artist = _key(candidate.artist)
        if rules.artist_separation > 0 and artist in last_artist:
            at = last_artist[artist]
            if now - at < rules.artist_separation:
                breaks.append(
                    f"artist separation ({_minutes(rules.artist_separation)}; "
                    f"aired {_minutes(now - at)} ago)"
                )
                inside += rules.artist_separation - (now - at)
        if rules.title_separation > 0:
            played = [
                last_song[song]
                for song in _song_keys(candidate.path, candidate.artist, candidate.title)
                if song in last_song
            ]
            if played and now - max(played) < rules.title_separation:
                at = max(played)
                breaks.append(
                    f"title separation ({_minutes(rules.title_separation)}; "
                    f"aired {_minutes(now - at)} ago)"
                )
                inside += rules.title_separation - (now - at)
        if not breaks:
            return Choice(candidate.path, relaxed=False, reason="")
        rank = (len(breaks), inside, place)
        if best is None or rank < best:
            best, best_breaks = rank, breaks
    assert best is not None
    taken = order[best[2]]
    reason = (
        f"every track breaks a rotation rule; took {taken.path!r}, the least "
        f"inside the separations: it breaks {' and '.join(best_breaks)}"
    )
    return Choice(taken.path, relaxed=True, reason=reason)


def every_songs_due(songs_since: int, every: int) -> bool:
    """
    Whether an item played after every C{every} songs is due.

    @param songs_since: songs played since the item last played (or since
        the rotation started).
    @param every: songs between two items; 0 (or less) for never.
    """
    return every > 0 and songs_since >= every


def fixed_offset(seconds: float) -> Callable[[float], float]:
    """
    The local time of a fixed offset from UTC, for L{every_minutes_due}.

    For a zone with daylight saving time, pass instead a function that
    adds the offset in force at that moment, such as::

        lambda t: t + datetime.fromtimestamp(t, zone).utcoffset().total_seconds()

    @param seconds: the offset east of UTC, such as C{7200} for UTC+2.
    @return: a function from station clock time to local wall-clock time.
    """
    return lambda t: t + seconds


def _utc(t: float) -> float:
    """
    Wall-clock time in UTC: the station clock as it is.
    """
    return t


def every_minutes_due(
    now: float,
    last: float | None,
    minutes: float,
    at_minute: int | None = None,
    *,
    start: float = 0.0,
    local: Callable[[float], float] = _utc,
) -> bool:
    """
    Whether an item played every C{minutes} minutes is due at the end of
    the song playing at C{now}.  Ask at each song end: the item plays as
    soon as a song ends once it is due, so it may play late but never
    early, and plays once however late.

    Without C{at_minute}, the item is due once C{minutes} minutes have
    passed on the station clock since it last played.

    With C{at_minute}, the item is due at the first song end at or after
    the next slot since it last played, slots being the wall-clock times
    at C{at_minute} minutes into each period of C{minutes} minutes:
    C{minutes=60, at_minute=0} is the top of every hour, C{minutes=60,
    at_minute=30} half past, C{minutes=30, at_minute=0} both.  A slot is
    the start of its minute, and must come strictly after the last play:
    an item that played at 12:00:00 for the top of the hour is next due
    at 13:00:00, and one that played late, at 12:04, is due at 13:00 too.
    Periods are counted from midnight of the local epoch day, so a period
    that divides a day (15, 20, 30, 60, 120 minutes...) falls at the same
    wall-clock times every day.  Slots follow the wall clock through
    daylight-saving changes: slots in the hour the clocks skip never come
    (the next is the first after the jump), and when the clocks go back,
    the repeated hour's slots come again.

    @param now: the station clock time, at a song end.
    @param last: when the item last played (station clock); C{None} if it
        has not played since the rotation started, and then C{start}
        stands in for it: the first item is due C{minutes} minutes after
        the start, or at the first slot after it.
    @param minutes: the period, in minutes; 0 (or less) for never.
    @param at_minute: the minute into each period at which the item is
        due, or C{None} to count from the last play instead.
    @param start: when the rotation started (station clock).
    @param local: maps a station clock time to the local wall-clock time,
        in seconds since the epoch as the local wall clock reads it (the
        station time plus the offset from UTC in force then).  Time zones
        stay with the caller: see L{fixed_offset}.  Only used with
        C{at_minute}.  The default is UTC.
    @raise ValueError: if C{at_minute} is not in C{[0, minutes)}.
    """
    if minutes <= 0:
        return False
    since = start if last is None else last
    period = minutes * 60.0
    if at_minute is None:
        return now - since >= period
    if not 0 <= at_minute < minutes:
        raise ValueError(f"at_minute {at_minute} is not within a period of {minutes:g} minutes")
    offset = at_minute * 60.0

    def crossed(before: float, after: float) -> bool:
        # A slot lies in (before, after], both on one stretch of the wall
        # clock.
        return math.floor((after - offset) / period) > math.floor((before - offset) / period)

    shift_then, shift_now = local(since) - since, local(now) - now
    if shift_then == shift_now or now <= since:
        return crossed(since + shift_then, now + shift_now)
    # The clock changed in between: find when, to the second, and look for
    # a slot on each side of the change.
    low, high = since, now
    while high - low > 0.5:
        middle = (low + high) / 2
        if local(middle) - middle == shift_now:
            high = middle
        else:
            low = middle
    return crossed(since + shift_then, low + shift_then) or crossed(
        high + shift_now - 0.5, now + shift_now
    )


def weighted(playlists: Sequence[tuple[str, float]], counts: Mapping[str, int]) -> str | None:
    """
    Which playlist takes the next slot: a smooth weighted round robin,
    computed from the slots each playlist has had, so there is no state
    to keep but the counts.

    Playlist C{i} is owed the share C{q = weight / W} of the slots, C{W}
    being the sum of the weights.  With C{t - 1} slots filled (the sum of
    the listed playlists' counts) and C{k} playlists, slot C{t} goes to
    the playlist with the earliest "deadline" C{(count + 1 - C) / q} among
    those owed at least C{C = 1 / (2k - 2)} of a slot (C{t * q - count >=
    C}), the first listed on a tie.  This is Tijdeman's solution to the
    chairman assignment problem: after any number C{n} of slots, every
    playlist has had C{n * q} of them give or take at most C{1 - 1 / (2k -
    2)}, so always less than one slot off, and the slots are spread out:
    weights 3:1:1 give A B A C A, A B A C A..., 2:1 give A B A, A B A...
    (Plain smooth weighted round robin, as nginx does it, can fall behind
    by a little more than one slot with some weights.)
    Arithmetic is exact, on fractions of the weights.

    Counts that did not come from this function (weights changed, a
    playlist added) may leave no playlist owed C{C}; the slot then goes
    to the one owed most, and the counts settle back within bounds.

    The station's default rotation is one of the playlists like any
    other.

    @param playlists: the playlists' distinct names and weights; those
        with a weight of 0 or less never take a slot.
    @param counts: slots each playlist has had; missing names have had
        none, names not listed are ignored.
    @return: the name of the playlist, or C{None} when none has a weight.
    """
    live = [(name, Fraction(weight)) for name, weight in playlists if weight > 0]
    if not live:
        return None
    total = sum((weight for _, weight in live), Fraction(0))
    slack = Fraction(1, 2 * len(live) - 2) if len(live) > 1 else Fraction(0)
    slot = sum(counts.get(name, 0) for name, _ in live) + 1
    best: tuple[Fraction, str] | None = None
    most: tuple[Fraction, str] | None = None
    for name, weight in live:
        share = weight / total
        count = counts.get(name, 0)
        owed = slot * share - count
        if most is None or owed > most[0]:
            most = (owed, name)
        if owed >= slack:
            deadline = (count + 1 - slack) / share
            if best is None or deadline < best[0]:
                best = (deadline, name)
    chosen = best if best is not None else most
    assert chosen is not None
    return chosen[1]


DEFAULT = ""
"""
The name L{take_turn} gives the mount's default rotation (its C{music}).
"""


@dataclass(frozen=True)
class Slot:
    """
    How one of a mount's extra playlists takes its turn: by L{weight}
    beside the default rotation, one item after L{every_songs} songs, one
    item every L{every_minutes} minutes (at L{at_minute} of each period
    of the wall clock when set), or in place of the music during its
    L{windows}.

    @ivar name: the playlist's name.
    @ivar weight: its share of the default rotation's slots.
    @ivar every_songs: songs between two of its items; 0 for never.
    @ivar every_minutes: minutes between two of its items; 0 for never.
    @ivar at_minute: with C{every_minutes}, the minute of each period its
        item is due at, or C{None} to count from the last one.
    @ivar windows: when it replaces the music (L{radiod.library.schedule}).
    """

    name: str
    weight: float = 0.0
    every_songs: int = 0
    every_minutes: float = 0.0
    at_minute: int | None = None
    windows: tuple[Window, ...] = ()

    @property
    def interstitial(self) -> bool:
        """
        Whether its items come between songs (jingles, station IDs)
        rather than being songs themselves.
        """
        return bool(self.every_songs or self.every_minutes)


@dataclass(frozen=True)
class TurnState:
    """
    What L{take_turn} needs to know of the past, kept by the programme
    and moved on by L{after_turn} as each item starts.

    @ivar start: when the rotation started (station clock).
    @ivar songs_since: songs started since each interstitial playlist's
        last item (or since the start).
    @ivar last: when each interstitial playlist's last item started.
    @ivar counts: slots each weighted playlist (and L{DEFAULT}) has had.
    @ivar interstitial: whether the item that started last was an
        interstitial.
    """

    start: float
    songs_since: Mapping[str, int] = field(default_factory=dict)
    last: Mapping[str, float] = field(default_factory=dict)
    counts: Mapping[str, int] = field(default_factory=dict)
    interstitial: bool = False


def _local_time(zone: tzinfo) -> Callable[[float], float]:
    """
    Station clock time to the zone's local wall-clock time, as
    L{every_minutes_due} takes it.
    """

    def local(t: float) -> float:
        offset = datetime.fromtimestamp(t, zone).utcoffset()
        return t + (offset.total_seconds() if offset is not None else 0.0)

    return local


def take_turn(
    slots: Sequence[Slot],
    state: TurnState,
    at: float,
    zone: tzinfo,
    default_weight: float = 1.0,
    unavailable: Collection[str] = (),
) -> str:
    """
    Which playlist gives the item that starts at C{at}.

    In order:

      1. An interstitial that is due: an C{every_minutes} playlist first
         (the clock does not wait), then an C{every_songs} one, the first
         listed of each kind.  At most one interstitial plays between two
         songs: after one, a due C{every_songs} item waits for the next
         song end, and a due C{every_minutes} item plays right after only
         if it is clock-bound (C{at_minute}), as the top-of-the-hour ID is.
      2. A scheduled playlist whose window is open (the one that came on
         the air most recently: L{radiod.library.schedule.pick}): it
         replaces the music, weighted playlists included.
      3. The default rotation and the weighted playlists, sharing slots
         by weight (L{weighted}).

    @param slots: the mount's extra playlists, in the order configured.
    @param state: the past, as L{after_turn} keeps it.
    @param at: when the item will start (station clock, Unix seconds): the
        end of the item playing.
    @param zone: the station's time zone.
    @param default_weight: the default rotation's weight.
    @param unavailable: playlists with nothing playable now, passed over.
    @return: the playlist's name, or L{DEFAULT}.
    """
    live = [slot for slot in slots if slot.name not in unavailable]
    local = _local_time(zone)
    for slot in live:
        if not slot.every_minutes:
            continue
        if state.interstitial and slot.at_minute is None:
            continue
        if every_minutes_due(
            at,
            state.last.get(slot.name),
            slot.every_minutes,
            slot.at_minute,
            start=state.start,
            local=local,
        ):
            return slot.name
    if not state.interstitial:
        for slot in live:
            if slot.every_songs and every_songs_due(
                state.songs_since.get(slot.name, 0), slot.every_songs
            ):
                return slot.name
    scheduled = [(slot.name, slot.windows) for slot in live if slot.windows]
    if scheduled:
        on_air = pick(scheduled, datetime.fromtimestamp(at, UTC), zone)
        if on_air is not None:
            return on_air
    shares = [(DEFAULT, default_weight)]
    shares.extend((slot.name, slot.weight) for slot in live if slot.weight > 0)
    chosen = weighted(shares, state.counts)
    return DEFAULT if chosen is None else chosen


def after_turn(slots: Sequence[Slot], state: TurnState, name: str, at: float) -> TurnState:
    """
    The state once an item of playlist C{name} started at C{at}: a song
    counts towards every C{every_songs} playlist; an interstitial resets
    its own count and time; a default or weighted item takes a slot.

    @param slots: the mount's extra playlists.
    @param state: the state before.
    @param name: the playlist (or L{DEFAULT}) the item came from; an item
        from no listed playlist (queued by hand, requested) counts as a
        song and takes no slot.
    @param at: when it started.
    """
    by_name = {slot.name: slot for slot in slots}
    slot = by_name.get(name)
    if slot is not None and slot.interstitial:
        songs = dict(state.songs_since)
        songs[name] = 0
        last = dict(state.last)
        last[name] = at
        return replace(state, songs_since=songs, last=last, interstitial=True)
    songs = {
        other.name: state.songs_since.get(other.name, 0) + 1 for other in slots if other.every_songs
    }
    counts = dict(state.counts)
    if name == DEFAULT or (slot is not None and slot.weight > 0):
        counts[name] = counts.get(name, 0) + 1
    return replace(state, songs_since=songs, counts=counts, interstitial=False)


class InOrder:
    """
    A playlist dealt in its own order, round after round; the same
    interface as L{ShuffleBag}.
    """

    def __init__(self, items: Sequence[str]) -> None:
        """
        @param items: the items, in order; duplicates count once.
        """
        self._items: list[str] = list(dict.fromkeys(items))
        self._last: str | None = None

    def update(self, items: Sequence[str]) -> None:
        """
        Replace the items; the order goes on after the item given out last
        if it is still there, else from the top.
        """
        self._items = list(dict.fromkeys(items))
        if self._last not in self._items:
            self._last = None

    def upcoming(self) -> list[str]:
        """
        Every item, the one after the item given out last first.
        """
        if self._last is None:
            return list(self._items)
        after = self._items.index(self._last) + 1
        return self._items[after:] + self._items[:after]

    def take(self, path: str) -> None:
        """
        C{path} was given out (picked out of order): the order goes on
        after it.
        """
        if path in self._items:
            self._last = path

    def next(self) -> str | None:
        """
        The next item, or C{None} when there are none.
        """
        upcoming = self.upcoming()
        if not upcoming:
            return None
        self._last = upcoming[0]
        return upcoming[0]
