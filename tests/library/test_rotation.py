"""
Tests for L{radiod.library.rotation}: the pure decisions of a rotation.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta, tzinfo
from fractions import Fraction
from itertools import pairwise
from zoneinfo import ZoneInfo

from twisted.trial.unittest import SynchronousTestCase

from radiod.audio.track import TrackInfo
from radiod.config.windows import parse_schedule
from radiod.library.rotation import (
    DEFAULT,
    Aired,
    Candidate,
    Choice,
    Rules,
    ShuffleBag,
    Slot,
    TurnState,
    after_turn,
    choose,
    every_minutes_due,
    every_songs_due,
    fixed_offset,
    take_turn,
    weighted,
)

ITEMS = [f"{letter}.mp3" for letter in "abcdefg"]


def deal(bag: ShuffleBag, count: int) -> list[str]:
    """
    The next C{count} items of C{bag}.
    """
    dealt: list[str] = []
    for _ in range(count):
        item = bag.next()
        assert item is not None
        dealt.append(item)
    return dealt


def utc(hour: int, minute: int, second: int = 0, day: int = 1) -> float:
    """
    Station clock time of a moment in January 2024, UTC.
    """
    return datetime(2024, 1, day, hour, minute, second, tzinfo=UTC).timestamp()


class ShuffleBagTests(SynchronousTestCase):
    """
    Tests for L{ShuffleBag}.
    """

    def rounds(self, seed: int, count: int) -> list[list[str]]:
        """
        C{count} rounds of a bag of L{ITEMS}.
        """
        bag = ShuffleBag(ITEMS, random.Random(seed))
        dealt = deal(bag, len(ITEMS) * count)
        return [dealt[i : i + len(ITEMS)] for i in range(0, len(dealt), len(ITEMS))]

    def test_every_item_once_per_round(self) -> None:
        """
        Over 50 rounds, each round gives out every item exactly once.
        """
        for round_ in self.rounds(1, 50):
            self.assertEqual(sorted(round_), ITEMS)

    def test_no_repeat_at_round_boundary(self) -> None:
        """
        A round never starts with the item that ended the round before,
        whatever the seed.
        """
        for seed in range(20):
            rounds = self.rounds(seed, 50)
            for before, after in pairwise(rounds):
                self.assertNotEqual(before[-1], after[0])

    def test_reshuffled(self) -> None:
        """
        Each round is shuffled afresh: the rounds do not all come in the
        same order, nor in the order given.
        """
        rounds = [tuple(round_) for round_ in self.rounds(2, 50)]
        self.assertGreater(len(set(rounds)), 40)
        self.assertNotIn(tuple(ITEMS), rounds[:3])

    def test_two_items_alternate(self) -> None:
        """
        With two items the boundary rule forces them to alternate.
        """
        bag = ShuffleBag(["a", "b"], random.Random(3))
        dealt = deal(bag, 40)
        for before, after in pairwise(dealt):
            self.assertNotEqual(before, after)

    def test_one_item(self) -> None:
        """
        A single item is given out again and again.
        """
        bag = ShuffleBag(["a"], random.Random(4))
        self.assertEqual(deal(bag, 3), ["a", "a", "a"])

    def test_empty(self) -> None:
        """
        A bag without items gives out C{None} and has nothing upcoming;
        duplicates count once.
        """
        bag = ShuffleBag([], random.Random(5))
        self.assertIsNone(bag.next())
        self.assertEqual(bag.upcoming(), [])
        bag.update(["a", "a"])
        self.assertEqual(bag.upcoming(), ["a"])

    def test_upcoming(self) -> None:
        """
        L{ShuffleBag.upcoming} is the rest of the round, in the order
        L{ShuffleBag.next} gives it out; once the round is used up it is
        the next round.
        """
        bag = ShuffleBag(ITEMS, random.Random(6))
        upcoming = bag.upcoming()
        self.assertEqual(sorted(upcoming), ITEMS)
        self.assertEqual(deal(bag, 3), upcoming[:3])
        self.assertEqual(bag.upcoming(), upcoming[3:])
        deal(bag, 4)
        following = bag.upcoming()
        self.assertEqual(sorted(following), ITEMS)
        self.assertEqual(deal(bag, 7), following)

    def test_update_added_and_removed(self) -> None:
        """
        Removed items leave the current round and never come out again;
        added items join the current round.
        """
        bag = ShuffleBag(ITEMS, random.Random(7))
        played = deal(bag, 3)
        rest = bag.upcoming()
        gone = rest[0]
        items = [item for item in ITEMS if item != gone] + ["new.mp3"]
        bag.update(items)
        upcoming = bag.upcoming()
        self.assertEqual(sorted(upcoming), sorted([*rest[1:], "new.mp3"]))
        self.assertEqual(sorted(played + deal(bag, len(upcoming))), sorted(items))
        later = deal(bag, len(items) * 20)
        self.assertNotIn(gone, later)
        self.assertEqual(later.count("new.mp3"), 20)

    def test_update_keeps_order(self) -> None:
        """
        An update that changes nothing leaves the round as it was.
        """
        bag = ShuffleBag(ITEMS, random.Random(8))
        deal(bag, 2)
        upcoming = bag.upcoming()
        bag.update(list(reversed(ITEMS)))
        self.assertEqual(bag.upcoming(), upcoming)

    def test_take(self) -> None:
        """
        L{ShuffleBag.take} takes an item out of the round, which goes on
        without it; paths that are not items are ignored.
        """
        bag = ShuffleBag(ITEMS, random.Random(9))
        upcoming = bag.upcoming()
        bag.take(upcoming[2])
        bag.take("unknown.mp3")
        self.assertEqual(bag.upcoming(), upcoming[:2] + upcoming[3:])
        self.assertEqual(deal(bag, 6), upcoming[:2] + upcoming[3:])
        self.assertEqual(sorted(bag.upcoming()), ITEMS)

    def test_take_ends_round(self) -> None:
        """
        An item taken to end a round counts as the last one given out:
        the next round does not start with it.
        """
        for seed in range(30):
            bag = ShuffleBag(ITEMS, random.Random(seed))
            deal(bag, len(ITEMS) - 1)
            [last] = bag.upcoming()
            bag.take(last)
            self.assertNotEqual(bag.upcoming()[0], last)


ARTISTS = [f"Artist {n}" for n in range(10)]
LIBRARY = [
    Candidate(f"{artist}/{title}.mp3", artist, f"Title {title}")
    for artist in ARTISTS
    for title in range(5)
]
HALF_HOUR = 30 * 60.0


class ChooseTests(SynchronousTestCase):
    """
    Tests for L{choose}.
    """

    def test_artist_separation_over_a_day(self) -> None:
        """
        Over a simulated day of 400 picks from a library of 10 artists
        with 5 titles each, dealt by a shuffle bag and ordered round
        first, then the rest of the library, no artist plays twice within
        30 minutes, and no choice has to be relaxed.
        """
        rng = random.Random(10)
        by_path = {candidate.path: candidate for candidate in LIBRARY}
        bag = ShuffleBag(list(by_path), rng)
        rules = Rules(artist_separation=HALF_HOUR)
        history: list[Aired] = []
        now = 0.0
        for _ in range(400):
            round_ = bag.upcoming()
            rest = [path for path in by_path if path not in round_]
            choice = choose([by_path[path] for path in round_ + rest], history, rules, now)
            assert choice is not None
            self.assertFalse(choice.relaxed, choice.reason)
            bag.take(choice.path)
            picked = by_path[choice.path]
            history.append(Aired(picked.path, picked.artist, picked.title, now))
            now += rng.uniform(200.0, 260.0)
        self.assertGreater(now, 22 * 3600.0)
        last: dict[str, float] = {}
        for play in history:
            if play.artist in last:
                self.assertGreaterEqual(play.at - last[play.artist], HALF_HOUR)
            last[play.artist] = play.at
        self.assertEqual({play.path for play in history}, set(by_path))

    def test_first_that_keeps_the_rules(self) -> None:
        """
        The first candidate in order that breaks no rule is taken, not
        relaxed; a rule of 0 is off.
        """
        a, b, c = LIBRARY[0], LIBRARY[5], LIBRARY[10]
        history = [Aired(a.path, a.artist, a.title, 900.0)]
        self.assertEqual(
            choose([a, b, c], history, Rules(artist_separation=600.0), 1000.0),
            Choice(b.path, relaxed=False, reason=""),
        )
        self.assertEqual(
            choose([a, b, c], history, Rules(), 1000.0),
            Choice(a.path, relaxed=False, reason=""),
        )

    def test_separation_boundary(self) -> None:
        """
        A play exactly the separation ago no longer conflicts.
        """
        a, b = LIBRARY[0], LIBRARY[1]
        history = [Aired(a.path, a.artist, a.title, 1000.0)]
        rules = Rules(artist_separation=HALF_HOUR)
        choice = choose([b], history, rules, 1000.0 + HALF_HOUR)
        assert choice is not None
        self.assertFalse(choice.relaxed)
        choice = choose([b], history, rules, 999.0 + HALF_HOUR)
        assert choice is not None
        self.assertTrue(choice.relaxed)

    def test_title_separation(self) -> None:
        """
        The same song (same path, or same artist and title in another
        file) is kept apart by the title rule; another song by the same
        artist is not.
        """
        song = Candidate("album/song.mp3", "Band", "Song")
        live = Candidate("live/song.mp3", " band ", "SONG ")
        other = Candidate("album/other.mp3", "Band", "Other")
        history = [Aired(song.path, song.artist, song.title, 0.0)]
        rules = Rules(title_separation=3 * 3600.0)
        choice = choose([song, live, other], history, rules, 3600.0)
        self.assertEqual(choice, Choice(other.path, relaxed=False, reason=""))
        choice = choose([song, live, other], history, rules, 3 * 3600.0)
        self.assertEqual(choice, Choice(song.path, relaxed=False, reason=""))

    def test_empty_artist_never_conflicts(self) -> None:
        """
        An unknown artist never breaks the artist rule, and two songs of
        unknown artists with the same title are not the same song; the
        same file still is.
        """
        jingle = Candidate("jingle.mp3", "", "Intro")
        other = Candidate("other-intro.mp3", "  ", "Intro")
        history = [Aired("x.mp3", "", "Intro", 990.0)]
        rules = Rules(artist_separation=HALF_HOUR, title_separation=HALF_HOUR)
        self.assertEqual(
            choose([jingle, other], history, rules, 1000.0),
            Choice(jingle.path, relaxed=False, reason=""),
        )
        history.append(Aired(jingle.path, "", "Intro", 995.0))
        self.assertEqual(
            choose([jingle, other], history, rules, 1000.0),
            Choice(other.path, relaxed=False, reason=""),
        )

    def test_case_insensitive_artists(self) -> None:
        """
        Artists are compared case-insensitively, spaces around stripped.
        """
        first = Candidate("a.mp3", "  The BAND ", "One")
        second = Candidate("b.mp3", "the band", "Two")
        third = Candidate("c.mp3", "Another", "Three")
        history = [Aired(first.path, first.artist, first.title, 0.0)]
        choice = choose([second, third], history, Rules(artist_separation=HALF_HOUR), 60.0)
        self.assertEqual(choice, Choice(third.path, relaxed=False, reason=""))

    def test_relaxed_single_artist(self) -> None:
        """
        With a library of one artist every track breaks the artist rule:
        the choice is relaxed, never C{None}, says why in one line, and
        takes the track breaking fewest rules (a song not played within
        the title separation) or, when all break both, the song whose
        last play is oldest, whatever the order.
        """
        solo = [Candidate(f"solo/{n}.mp3", "Solo", f"Song {n}") for n in range(5)]
        rules = Rules(artist_separation=HALF_HOUR, title_separation=2 * 3600.0)
        history = [
            Aired(solo[n].path, "Solo", solo[n].title, at)
            for n, at in [(2, 100.0), (0, 200.0), (4, 300.0), (1, 400.0)]
        ]
        choice = choose(list(reversed(solo)), history, rules, 600.0)
        assert choice is not None
        self.assertEqual((choice.path, choice.relaxed), (solo[3].path, True))
        self.assertIn("artist separation (30 min; aired 3.3 min ago)", choice.reason)
        self.assertNotIn("title separation", choice.reason)
        history.append(Aired(solo[3].path, "Solo", solo[3].title, 500.0))
        choice = choose(list(reversed(solo)), history, rules, 600.0)
        assert choice is not None
        self.assertEqual((choice.path, choice.relaxed), (solo[2].path, True))
        self.assertIn(repr(solo[2].path), choice.reason)
        self.assertIn("artist separation (30 min; aired 1.7 min ago)", choice.reason)
        self.assertIn("title separation (120 min; aired 8.3 min ago)", choice.reason)
        self.assertNotIn("\n", choice.reason)

    def test_relaxed_ranking(self) -> None:
        """
        When every track breaks the rules, the one breaking fewest rules
        is taken, and among those the one least inside its separations,
        whichever rule it breaks, and whatever the order.
        """
        a = Candidate("a.mp3", "A", "Song A")
        b = Candidate("b.mp3", "B", "Song B")
        c = Candidate("c.mp3", "C", "Song C")
        history = [
            # a breaks both rules, with the oldest plays of all.
            Aired("a.mp3", "A", "Song A", 600.0),
            # b breaks the artist rule only, 500 s inside it.
            Aired("b-other.mp3", "B", "Other", 1000.0),
            # c breaks the title rule only, 200 s inside it.
            Aired("c.mp3", "C", "Song C", 1500.0 - 9800.0),
        ]
        rules = Rules(artist_separation=1000.0, title_separation=10_000.0)
        choice = choose([a, b, c], history, rules, 1500.0)
        assert choice is not None
        self.assertEqual((choice.path, choice.relaxed), (c.path, True))
        self.assertIn("title separation", choice.reason)
        self.assertNotIn("artist separation", choice.reason)
        choice = choose([a, b], history, rules, 1500.0)
        assert choice is not None
        self.assertEqual((choice.path, choice.relaxed), (b.path, True))
        choice = choose([a, a], history, rules, 1500.0)
        self.assertEqual(choice, choose([a], history, rules, 1500.0))

    def test_never_stalls(self) -> None:
        """
        Picking from one artist's songs again and again never gives
        C{None}, and cycles through the songs, oldest first.
        """
        solo = [Candidate(f"solo/{n}.mp3", "Solo", f"Song {n}") for n in range(3)]
        rules = Rules(artist_separation=HALF_HOUR, title_separation=3600.0)
        history: list[Aired] = []
        picked = []
        for n in range(9):
            choice = choose(solo, history, rules, n * 200.0)
            assert choice is not None
            picked.append(choice.path)
            history.append(Aired(choice.path, "Solo", choice.path, n * 200.0))
        self.assertEqual(picked, [candidate.path for candidate in solo] * 3)

    def test_empty_order(self) -> None:
        """
        Nothing to choose from: C{None}.
        """
        self.assertIsNone(choose([], [], Rules(artist_separation=1.0), 0.0))

    def test_from_track(self) -> None:
        """
        L{Candidate.from_track} takes a library track's path, artist and
        title.
        """
        track = TrackInfo("a.mp3", "Title", "Artist", "Album", 12.0)
        self.assertEqual(Candidate.from_track(track), Candidate("a.mp3", "Artist", "Title"))


class EverySongsTests(SynchronousTestCase):
    """
    Tests for L{every_songs_due}.
    """

    def test_due(self) -> None:
        """
        An item after every 3 songs is due once 3 songs have played.
        """
        self.assertEqual(
            [every_songs_due(songs, 3) for songs in range(5)],
            [False, False, False, True, True],
        )

    def test_never(self) -> None:
        """
        Every 0 songs means never.
        """
        self.assertFalse(every_songs_due(10, 0))


class EveryMinutesTests(SynchronousTestCase):
    """
    Tests for L{every_minutes_due}.
    """

    def test_interval(self) -> None:
        """
        Without a minute set, the item is due once the minutes have passed
        since it last played.
        """
        self.assertFalse(every_minutes_due(1000.0 + 1799.0, 1000.0, 30))
        self.assertTrue(every_minutes_due(1000.0 + 1800.0, 1000.0, 30))
        self.assertTrue(every_minutes_due(1000.0 + 5000.0, 1000.0, 30))

    def test_never_played_counts_from_start(self) -> None:
        """
        An item that has not played is counted from the start of the
        rotation.
        """
        self.assertFalse(every_minutes_due(500.0 + 1799.0, None, 30, start=500.0))
        self.assertTrue(every_minutes_due(500.0 + 1800.0, None, 30, start=500.0))
        start = utc(12, 10)
        self.assertFalse(every_minutes_due(utc(12, 59, 59), None, 60, 0, start=start))
        self.assertTrue(every_minutes_due(utc(13, 0), None, 60, 0, start=start))

    def test_never(self) -> None:
        """
        A period of 0 minutes means never.
        """
        self.assertFalse(every_minutes_due(10_000.0, 0.0, 0))
        self.assertFalse(every_minutes_due(10_000.0, 0.0, 0, 0))

    def test_top_of_hour(self) -> None:
        """
        At minute 0 of every hour, UTC: due from the next top of the hour
        after the last play; one that played at the top of the hour is
        next due at the next.
        """
        self.assertFalse(every_minutes_due(utc(12, 59, 59), utc(12, 0), 60, 0))
        self.assertTrue(every_minutes_due(utc(13, 0), utc(12, 0), 60, 0))
        self.assertTrue(every_minutes_due(utc(13, 4), utc(12, 0), 60, 0))
        self.assertFalse(every_minutes_due(utc(13, 59), utc(13, 4), 60, 0))
        self.assertTrue(every_minutes_due(utc(14, 0, 1), utc(13, 4), 60, 0))
        self.assertTrue(every_minutes_due(utc(12, 0), utc(11, 59, 59), 60, 0))

    def test_top_of_hour_across_midnight(self) -> None:
        """
        With a fixed offset from UTC, the top of the hour is the local
        one: the midnight item at UTC+2 is due at 22:00 UTC, then at 01:00
        local; at UTC+5:30, local midnight is 18:30 UTC.
        """
        plus_two = fixed_offset(2 * 3600)
        last = utc(21, 0)  # 23:00 local
        self.assertFalse(every_minutes_due(utc(21, 59, 59), last, 60, 0, local=plus_two))
        self.assertTrue(every_minutes_due(utc(22, 0), last, 60, 0, local=plus_two))
        last = utc(22, 3)  # 00:03 local, the next day
        self.assertFalse(every_minutes_due(utc(22, 59), last, 60, 0, local=plus_two))
        self.assertTrue(every_minutes_due(utc(23, 0, 30), last, 60, 0, local=plus_two))

        plus_five_thirty = fixed_offset(5.5 * 3600)
        last = utc(17, 40)  # 23:10 local
        self.assertFalse(every_minutes_due(utc(18, 29, 59), last, 60, 0, local=plus_five_thirty))
        self.assertTrue(every_minutes_due(utc(18, 30), last, 60, 0, local=plus_five_thirty))
        self.assertTrue(every_minutes_due(utc(18, 30), last, 60, 0))

    def test_minute_of_period(self) -> None:
        """
        Every 30 minutes at minute 15: due at :15 and :45.
        """
        self.assertFalse(every_minutes_due(utc(12, 44, 59), utc(12, 15), 30, 15))
        self.assertTrue(every_minutes_due(utc(12, 45), utc(12, 15), 30, 15))
        self.assertTrue(every_minutes_due(utc(12, 15), utc(11, 50), 30, 15))

    def test_daily(self) -> None:
        """
        Once a day at 18:00 local, counted from local midnight.
        """
        local = fixed_offset(-5 * 3600)  # 18:00 local is 23:00 UTC
        last = utc(23, 0, day=1)
        self.assertFalse(every_minutes_due(utc(22, 59, day=2), last, 1440, 18 * 60, local=local))
        self.assertTrue(every_minutes_due(utc(23, 0, day=2), last, 1440, 18 * 60, local=local))

    def test_minute_out_of_period(self) -> None:
        """
        A minute outside the period is a mistake.
        """
        self.assertRaises(ValueError, every_minutes_due, 0.0, None, 60, 60)
        self.assertRaises(ValueError, every_minutes_due, 0.0, None, 60, -1)


class WeightedTests(SynchronousTestCase):
    """
    Tests for L{weighted}.
    """

    def run_slots(self, playlists: list[tuple[str, float]], slots: int) -> list[str]:
        """
        The playlists taking C{slots} slots, checking after each that
        every playlist has had its share give or take less than one.
        """
        total = sum(Fraction(weight) for _, weight in playlists)
        counts: dict[str, int] = {}
        taken = []
        for n in range(1, slots + 1):
            name = weighted(playlists, counts)
            assert name is not None
            taken.append(name)
            counts[name] = counts.get(name, 0) + 1
            for other, weight in playlists:
                share = n * Fraction(weight) / total
                self.assertLess(abs(counts.get(other, 0) - share), 1)
        return taken

    def test_shares(self) -> None:
        """
        Over 1000 slots with weights 3:1:1, each playlist has its share
        within one slot at every point, so 600:200:200 at the end.
        """
        taken = self.run_slots([("music", 3.0), ("news", 1.0), ("talk", 1.0)], 1000)
        counts = [taken.count(name) for name in ("music", "news", "talk")]
        for count, share in zip(counts, [600, 200, 200], strict=True):
            self.assertLessEqual(abs(count - share), 1)

    def test_sequence(self) -> None:
        """
        Weights 3:1:1 give A B A C A over and over (with k = 3 playlists
        the slack is 1/4 and the shares 3/5, 1/5, 1/5: slot 1 only A is
        owed 1/4; slot 2 A is owed 1/5, B and C 2/5 with equal deadlines
        (1 - 1/4) * 5, so B, listed first; slot 3 A's deadline 35/12 beats
        C's 15/4; slot 4 C's 15/4 beats A's 55/12; slot 5 A, the others
        owed nothing).  2:1 gives A B A over and over.
        """
        self.assertEqual(
            "".join(self.run_slots([("A", 3), ("B", 1), ("C", 1)], 15)),
            "ABACA" * 3,
        )
        self.assertEqual("".join(self.run_slots([("A", 2), ("B", 1)], 9)), "ABA" * 3)
        self.assertEqual("".join(self.run_slots([("A", 1), ("B", 1), ("C", 1)], 6)), "ABC" * 2)

    def test_random_weights(self) -> None:
        """
        Any number of playlists with any weights keep within one slot of
        their shares.
        """
        rng = random.Random(11)
        for _ in range(30):
            playlists = [
                (str(n), rng.choice([float(rng.randint(1, 9)), rng.uniform(0.05, 5.0)]))
                for n in range(rng.randint(1, 7))
            ]
            self.run_slots(playlists, 200)

    def test_no_weight(self) -> None:
        """
        Playlists without a weight never take a slot; with none left, or
        none at all, there is no answer.
        """
        self.assertEqual(self.run_slots([("off", 0.0), ("on", 1.0)], 3), ["on"] * 3)
        self.assertEqual(weighted([("off", 0.0), ("on", 1.0)], {}), "on")
        self.assertIsNone(weighted([("off", 0.0)], {}))
        self.assertIsNone(weighted([], {}))

    def test_foreign_counts(self) -> None:
        """
        Counts of playlists not listed are ignored, and counts that are
        out of balance (a playlist just added) catch up without failing.
        """
        playlists: list[tuple[str, float]] = [("A", 1.0), ("B", 1.0)]
        self.assertEqual(weighted(playlists, {"gone": 50, "A": 1}), "B")
        counts = {"A": 10}
        for _ in range(10):
            name = weighted(playlists, counts)
            assert name is not None
            counts[name] = counts.get(name, 0) + 1
        self.assertEqual(counts, {"A": 10, "B": 10})


SONG = 210.0
JINGLE = 10.0
PARIS = ZoneInfo("Europe/Paris")


def air(
    slots: list[Slot],
    start: datetime,
    hours: float,
    zone: tzinfo = UTC,
    default_weight: float = 1.0,
    unavailable: tuple[str, ...] = (),
) -> list[tuple[float, str]]:
    """
    Play a mount's playlists for C{hours} from C{start}: songs of
    L{SONG} seconds, interstitials of L{JINGLE}, each item chosen by
    L{take_turn} at the end of the one before.

    @return: each item's start (station clock) and playlist.
    """
    slot_of = {slot.name: slot for slot in slots}
    at = start.timestamp()
    end = at + hours * 3600
    state = TurnState(start=at)
    played = []
    while at < end:
        name = take_turn(slots, state, at, zone, default_weight, unavailable)
        played.append((at, name))
        state = after_turn(slots, state, name, at)
        slot = slot_of.get(name)
        at += JINGLE if slot is not None and slot.interstitial else SONG
    return played


def local(at: float, zone: tzinfo) -> datetime:
    return datetime.fromtimestamp(at, zone)


class TakeTurnTests(SynchronousTestCase):
    """
    L{take_turn} and L{after_turn}, played over simulated hours and days:
    which of a mount's playlists gives each item.
    """

    def test_default_alone(self) -> None:
        """
        Without extra playlists every item is the default rotation's.
        """
        played = air([], datetime(2026, 3, 2, tzinfo=UTC), 2)
        self.assertEqual({name for _, name in played}, {DEFAULT})

    def test_every_songs(self) -> None:
        """
        C{every_songs = 2}: a jingle after every two songs, all day.
        """
        played = air([Slot("ids", every_songs=2)], datetime(2026, 3, 2, tzinfo=UTC), 24)
        names = [name for _, name in played]
        self.assertEqual(names[:7], ["", "", "ids", "", "", "ids", ""])
        for position, name in enumerate(names):
            if name == "ids":
                self.assertEqual(names[position - 2 : position], ["", ""])

    def test_top_of_the_hour_across_midnight(self) -> None:
        """
        C{every_minutes = 60, at_minute = 0}: one ID at the first song end
        after each hour starts, however the songs fall, through midnight.
        """
        played = air(
            [Slot("top", every_minutes=60, at_minute=0)],
            datetime(2026, 3, 2, 22, 10, tzinfo=UTC),
            4,
        )
        tops = [at for at, name in played if name == "top"]
        hours = [local(at, UTC).strftime("%d %H") for at in tops]
        self.assertEqual(hours, ["02 23", "03 00", "03 01", "03 02"])
        for at in tops:
            # Late by less than a song, never early.
            self.assertLess(local(at, UTC).minute * 60 + local(at, UTC).second, SONG)

    def test_every_minutes_from_the_last(self) -> None:
        """
        Without C{at_minute}, an item once 20 minutes have passed since
        the last one (first 20 minutes after the start).
        """
        played = air([Slot("promo", every_minutes=20)], datetime(2026, 3, 2, tzinfo=UTC), 3)
        promos = [at for at, name in played if name == "promo"]
        start = datetime(2026, 3, 2, tzinfo=UTC).timestamp()
        self.assertGreaterEqual(promos[0] - start, 1200)
        for before, after in pairwise(promos):
            self.assertGreaterEqual(after - before, 1200)
            self.assertLess(after - before, 1200 + SONG + JINGLE)

    def test_daylight_saving(self) -> None:
        """
        The top-of-the-hour ID follows the station's wall clock: 23 on the
        day Paris springs forward, 25 on the day it falls back, and always
        within a song of a local hour.
        """
        slots = [Slot("top", every_minutes=60, at_minute=0)]
        for day, expected in (
            (datetime(2026, 3, 29, tzinfo=PARIS), 23),
            (datetime(2026, 10, 25, tzinfo=PARIS), 25),
        ):
            start = day.replace(hour=0, minute=5)
            end = (day + timedelta(days=1)).replace(hour=0, minute=0)
            hours = (end.timestamp() - start.timestamp()) / 3600
            played = air(slots, start, hours, PARIS)
            tops = [at for at, name in played if name == "top"]
            # The 00:00 one of the next day falls outside; the day's first is at 01:00.
            self.assertEqual(len(tops), expected - 1, day)
            for at in tops:
                minute = local(at, PARIS)
                self.assertLess(minute.minute * 60 + minute.second, SONG, day)

    def test_interplay(self) -> None:
        """
        With an ID every 3 songs and one at the top of the hour, there is
        never more than one interstitial between two songs, except the
        top-of-the-hour one right after a jingle (the clock does not wait);
        a due C{every_songs} item waits for the next song end, and no
        item is lost: every 3 songs bring one ID, every hour one top.
        """
        slots = [Slot("top", every_minutes=60, at_minute=0), Slot("ids", every_songs=3)]
        played = air(slots, datetime(2026, 3, 2, tzinfo=UTC), 24 * 7)
        names = [name for _, name in played]
        for first, second in pairwise(names):
            if first and second:
                self.assertEqual((first, second), ("ids", "top"))
        self.assertEqual(names.count("top"), 24 * 7 - 1)
        songs = 0
        for name in names:
            if name == DEFAULT:
                songs += 1
            elif name == "ids":
                self.assertGreaterEqual(songs, 3)
                self.assertLessEqual(songs, 4)
                songs = 0

    def test_week_of_weekday_windows(self) -> None:
        """
        A C{"Mon-Fri 06:00-10:00"} show in Paris replaces the music from
        the first song end at or after 06:00 to the last before 10:00,
        Monday to Friday, and never at the weekend; the weighted playlist
        sits out the show with the music.
        """
        slots = [
            Slot("morning", windows=parse_schedule("Mon-Fri 06:00-10:00")),
            Slot("new", weight=1),
        ]
        played = air(slots, datetime(2026, 3, 2, tzinfo=PARIS), 24 * 7, PARIS)
        for at, name in played:
            when = local(at, PARIS)
            inside = when.weekday() < 5 and 6 <= when.hour < 10
            self.assertEqual(name == "morning", inside, when)
            if not inside:
                self.assertIn(name, (DEFAULT, "new"))
        days = {local(at, PARIS).date() for at, name in played if name == "morning"}
        self.assertEqual(len(days), 5)
        outside = [name for at, name in played if name != "morning"]
        self.assertLessEqual(abs(outside.count("new") - outside.count(DEFAULT)), 1)

    def test_window_starts_when_the_song_ends(self) -> None:
        """
        A window that opens mid-song takes the air at the song's end.
        """
        slots = [Slot("show", windows=parse_schedule("daily 12:00-13:00"))]
        start = datetime(2026, 3, 2, 11, 58, tzinfo=UTC)
        played = air(slots, start, 0.5)
        self.assertEqual(played[0][1], DEFAULT)
        self.assertEqual(played[1], (start.timestamp() + SONG, "show"))

    def test_weights(self) -> None:
        """
        C{weight = 2} beside the default's 1: two of its songs for each of
        the default's, spread out.
        """
        played = air([Slot("new", weight=2)], datetime(2026, 3, 2, tzinfo=UTC), 3)
        names = [name for _, name in played]
        self.assertEqual(names[:6], ["new", "", "new", "new", "", "new"])

    def test_unavailable(self) -> None:
        """
        A playlist with nothing to play is passed over: the show's window
        falls back to the music, an empty jingle list plays nothing.
        """
        slots = [
            Slot("show", windows=parse_schedule("daily 00:00-00:00")),
            Slot("ids", every_songs=1),
        ]
        played = air(slots, datetime(2026, 3, 2, tzinfo=UTC), 2, unavailable=("show", "ids"))
        self.assertEqual({name for _, name in played}, {DEFAULT})
