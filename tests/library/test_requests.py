"""
Tests for L{radiod.library.requests}: which song requests a mount takes,
and in which order they play, with hand-made plays and clock times.
"""

from __future__ import annotations

import os

from twisted.internet.task import Clock
from twisted.trial.unittest import SynchronousTestCase

from radiod.audio.track import TrackInfo
from radiod.library.library import Library, track_id
from radiod.library.programme import Programme
from radiod.library.requests import (
    FULL,
    LIMITED,
    NOT_FOUND,
    RECENT,
    RequestQueue,
    RequestRefused,
    SongRequest,
)
from radiod.library.rotation import Aired, Candidate, Rules
from radiod.testing import silent_frame, synchronous_runner

HOUR = 3600.0
START = 1_700_000_000.0
ALPHA = Candidate("/music/alpha.mp3", "Alpha Artist", "First Song")
ALPHA_TWO = Candidate("/music/alpha-2.mp3", "Alpha Artist", "Second Song")
BETA = Candidate("/music/beta.mp3", "Beta Artist", "Third Song")
GAMMA = Candidate("/music/gamma.mp3", "Gamma Artist", "Fourth Song")
DELTA = Candidate("/music/delta.mp3", "", "Untagged")
HOME = "198.51.100.7"
AWAY = "203.0.113.9"


def aired(track: Candidate, at: float) -> Aired:
    """
    A play of C{track} that started at C{at}.
    """
    return Aired(track.path, track.artist, track.title, at)


class AddTests(SynchronousTestCase):
    """
    L{RequestQueue.add} takes a request, or refuses it with the status
    and reason to answer.
    """

    def add(
        self,
        queue: RequestQueue,
        track: Candidate,
        address: str = HOME,
        now: float = START,
        plays: list[Aired] | None = None,
    ) -> tuple[SongRequest, int]:
        return queue.add(track, track_id(track.path), address, now, plays or [])

    def refused(
        self,
        queue: RequestQueue,
        track: Candidate,
        address: str = HOME,
        now: float = START,
        plays: list[Aired] | None = None,
    ) -> RequestRefused:
        """
        The refusal of a request, which must be refused; the queue must be
        as it was.
        """
        before = queue.pending
        with self.assertRaises(RequestRefused) as caught:
            self.add(queue, track, address, now, plays)
        self.assertEqual(queue.pending, before)
        refusal: RequestRefused = caught.exception
        return refusal

    def test_taken(self) -> None:
        """
        A request is taken with a fresh id and its place in the queue;
        the queue lists requests oldest first.
        """
        queue = RequestQueue(HOUR, 2, 20)
        first, place = self.add(queue, ALPHA, now=START)
        self.assertEqual(place, 1)
        self.assertEqual(
            first,
            SongRequest(
                id=first.id,
                path=ALPHA.path,
                track_id=track_id(ALPHA.path),
                address=HOME,
                at=START,
                artist="Alpha Artist",
                title="First Song",
            ),
        )
        second, place = self.add(queue, BETA, AWAY, START + 5)
        third, third_place = self.add(queue, GAMMA, HOME, START + 9)
        self.assertEqual((place, third_place), (2, 3))
        self.assertEqual(queue.pending, [first, second, third])
        self.assertEqual(len({first.id, second.id, third.id}), 3)

    def test_track_info(self) -> None:
        """
        A library track itself may be given, as well as a candidate.
        """
        queue = RequestQueue(HOUR, 2, 20)
        track = TrackInfo("/music/x.mp3", "X Song", "X Artist", "X Album", 200.0)
        request, _ = queue.add(track, "0123456789abcdef", HOME, START, [])
        self.assertEqual(
            (request.path, request.artist, request.title, request.track_id),
            ("/music/x.mp3", "X Artist", "X Song", "0123456789abcdef"),
        )

    def test_played_recently(self) -> None:
        """
        A track that played less than the threshold ago is refused with
        409, saying when it may be asked for; from the threshold on, it
        is taken.  Other tracks, by the same artist too, are taken.
        """
        queue = RequestQueue(HOUR, 5, 20)
        plays = [aired(BETA, START - 7200), aired(ALPHA, START - 600), aired(GAMMA, START)]
        refusal = self.refused(queue, ALPHA, plays=plays)
        self.assertEqual(refusal.status, RECENT)
        self.assertEqual(
            refusal.reason, "This track played 10 min ago; it may be requested again in 50 min"
        )
        self.assertEqual(self.refused(queue, GAMMA, plays=plays).status, RECENT)
        self.add(queue, ALPHA_TWO, plays=plays)
        self.add(queue, BETA, plays=plays)
        self.add(queue, ALPHA, now=START - 600 + HOUR, plays=plays)

    def test_latest_play_counts(self) -> None:
        """
        Of several plays of a track, the latest counts, in whatever order
        they are given.
        """
        queue = RequestQueue(HOUR, 2, 20)
        plays = [aired(ALPHA, START - 30), aired(ALPHA, START - 5000)]
        self.assertEqual(self.refused(queue, ALPHA, plays=plays).status, RECENT)
        self.assertEqual(
            self.refused(queue, ALPHA, plays=plays[::-1]).reason,
            "This track played 30 s ago; it may be requested again in 60 min",
        )

    def test_already_requested(self) -> None:
        """
        A track waiting already is refused with 409, whoever asks and
        however long it has waited.
        """
        queue = RequestQueue(HOUR, 2, 20)
        self.add(queue, ALPHA, HOME, START)
        for address, now in ((HOME, START + 1), (AWAY, START + 2), (AWAY, START + 3 * HOUR)):
            refusal = self.refused(queue, ALPHA, address, now)
            self.assertEqual(refusal.status, RECENT)
            self.assertEqual(refusal.reason, "This track is already requested")

    def test_requested_recently(self) -> None:
        """
        A track requested less than the threshold ago is refused with 409
        even once that request has played (from when it was asked for,
        and again from when it started), and even though the plays given
        do not show it.
        """
        queue = RequestQueue(HOUR, 2, 20)
        request, _ = self.add(queue, ALPHA, HOME, START)
        queue.started(request.id, START + 600)
        self.assertEqual(queue.pending, [])
        refusal = self.refused(queue, ALPHA, AWAY, START + 1200)
        self.assertEqual(refusal.status, RECENT)
        self.assertEqual(
            refusal.reason,
            "This track was requested 10 min ago; it may be requested again in 50 min",
        )
        self.refused(queue, ALPHA, AWAY, START + 600 + HOUR - 1)
        self.add(queue, ALPHA, AWAY, START + 600 + HOUR)

    def test_address_limit(self) -> None:
        """
        An address with C{limit} requests waiting is refused with 429
        until one of them plays; other addresses are not.
        """
        queue = RequestQueue(HOUR, 2, 20)
        first, _ = self.add(queue, ALPHA, HOME)
        self.add(queue, BETA, HOME)
        refusal = self.refused(queue, GAMMA, HOME)
        self.assertEqual(refusal.status, LIMITED)
        self.assertEqual(
            refusal.reason,
            "You have 2 requests waiting, the most allowed; ask again once one has played",
        )
        self.add(queue, GAMMA, AWAY)
        queue.started(first.id, START + 60)
        self.add(queue, DELTA, HOME, START + 61)

    def test_full(self) -> None:
        """
        A queue with C{capacity} requests waiting refuses more with 503.
        """
        queue = RequestQueue(HOUR, 2, 3)
        self.add(queue, ALPHA, HOME)
        self.add(queue, BETA, HOME)
        self.add(queue, GAMMA, AWAY)
        refusal = self.refused(queue, DELTA, "192.0.2.1")
        self.assertEqual(refusal.status, FULL)
        self.assertEqual(refusal.reason, "The request queue is full (3 waiting); try again later")

    def test_order_of_refusals(self) -> None:
        """
        What is wrong with the track is said before what is wrong with the
        address, and that before the queue being full.
        """
        queue = RequestQueue(HOUR, 1, 1)
        self.add(queue, ALPHA, HOME)
        self.assertEqual(self.refused(queue, ALPHA, HOME).status, RECENT)
        self.assertEqual(self.refused(queue, BETA, HOME).status, LIMITED)
        self.assertEqual(self.refused(queue, BETA, AWAY).status, FULL)

    def test_no_limits(self) -> None:
        """
        A limit or capacity of 0 is no limit; a threshold of 0 only keeps
        a track from waiting twice.
        """
        queue = RequestQueue(0, 0, 0)
        plays = [aired(ALPHA, START)]
        request, _ = self.add(queue, ALPHA, plays=plays)
        for track in (BETA, GAMMA, DELTA, ALPHA_TWO):
            self.add(queue, track)
        self.assertEqual(self.refused(queue, ALPHA).status, RECENT)
        queue.started(request.id, START)
        self.add(queue, ALPHA, plays=plays)

    def test_refusal_changes_nothing(self) -> None:
        """
        L{RequestQueue.refusal} and L{RequestQueue.refusals} say what
        L{RequestQueue.add} would answer, and take nothing.
        """
        queue = RequestQueue(HOUR, 1, 20)
        plays = [aired(BETA, START - 60)]
        self.assertIsNone(queue.refusal(ALPHA.path, HOME, START, plays))
        refusal = queue.refusal(BETA.path, HOME, START, plays)
        assert refusal is not None
        self.assertEqual(refusal.status, RECENT)
        self.add(queue, ALPHA, HOME)
        refused = queue.refusals([ALPHA.path, BETA.path, GAMMA.path], HOME, START, plays)
        self.assertEqual(
            {path: refusal.status for path, refusal in refused.items()},
            {ALPHA.path: RECENT, BETA.path: RECENT, GAMMA.path: LIMITED},
        )
        self.assertEqual(queue.refusals([GAMMA.path], AWAY, START, plays), {})
        self.assertEqual(len(queue.pending), 1)

    def test_refused(self) -> None:
        """
        L{RequestRefused} carries the status and the reason, and reads as
        both.
        """
        refusal = RequestRefused(NOT_FOUND, "No such track")
        self.assertEqual((refusal.status, refusal.reason), (404, "No such track"))
        self.assertEqual(str(refusal), "404 No such track")


class NextPlayableTests(SynchronousTestCase):
    """
    L{RequestQueue.next_playable} gives the oldest request that keeps the
    rotation rules, and L{RequestQueue.started} takes it off.
    """

    def queue(self, *tracks: Candidate) -> tuple[RequestQueue, list[SongRequest]]:
        """
        A queue holding requests for C{tracks}, in order, a minute apart.
        """
        queue = RequestQueue(HOUR, 0, 0)
        requests = []
        for number, track in enumerate(tracks):
            request, _ = queue.add(track, track_id(track.path), HOME, START + 60 * number, [])
            requests.append(request)
        return queue, requests

    def test_oldest_first(self) -> None:
        """
        Without rules the oldest request plays first; C{next_playable}
        changes nothing until C{started} says it played.
        """
        queue, (alpha, beta) = self.queue(ALPHA, BETA)
        self.assertIs(queue.next_playable([], Rules(), START), alpha)
        self.assertIs(queue.next_playable([], Rules(), START), alpha)
        queue.started(alpha.id, START + 200)
        self.assertIs(queue.next_playable([], Rules(), START + 200), beta)
        queue.started(beta.id, START + 400)
        self.assertIsNone(queue.next_playable([], Rules(), START + 400))

    def test_rules_make_a_request_wait(self) -> None:
        """
        A request whose artist played too recently waits while a later one
        that keeps the rules plays first; once the separation has passed,
        it plays.  A request is never played by relaxing the rules: when
        every one waiting breaks a rule, none is given.
        """
        queue, (alpha, beta) = self.queue(ALPHA, BETA)
        rules = Rules(artist_separation=1800)
        plays = [aired(ALPHA_TWO, START)]
        self.assertIs(queue.next_playable(plays, rules, START + 300), beta)
        queue.started(beta.id, START + 300)
        plays.append(aired(BETA, START + 300))
        self.assertIsNone(queue.next_playable(plays, rules, START + 600))
        self.assertIs(queue.next_playable(plays, rules, START + 1800), alpha)

    def test_title_rule(self) -> None:
        """
        The title rule counts too: a song aired under another file waits.
        """
        queue, (alpha, gamma) = self.queue(ALPHA, GAMMA)
        same_song = Aired("/other/alpha.mp3", "alpha artist ", "FIRST SONG", START)
        rules = Rules(title_separation=3 * HOUR)
        self.assertIs(queue.next_playable([same_song], rules, START + 60), gamma)
        self.assertIs(queue.next_playable([same_song], rules, START + 3 * HOUR), alpha)

    def test_started_unknown(self) -> None:
        """
        C{started} with an id that is not waiting (taken off meanwhile)
        changes nothing.
        """
        queue, (alpha,) = self.queue(ALPHA)
        queue.started("no-such-id", START)
        self.assertEqual(queue.pending, [alpha])


class ManageTests(SynchronousTestCase):
    """
    Taking requests off, new settings, and tracks leaving the library.
    """

    def fill(self, queue: RequestQueue, *tracks: Candidate) -> list[SongRequest]:
        return [queue.add(track, track_id(track.path), HOME, START, [])[0] for track in tracks]

    def test_remove(self) -> None:
        """
        C{remove} takes one request off and says whether it was waiting;
        the places of the others move up.
        """
        queue = RequestQueue(HOUR, 0, 0)
        alpha, beta, gamma = self.fill(queue, ALPHA, BETA, GAMMA)
        self.assertTrue(queue.remove(beta.id))
        self.assertFalse(queue.remove(beta.id))
        self.assertEqual(queue.pending, [alpha, gamma])
        _, place = queue.add(DELTA, track_id(DELTA.path), AWAY, START + 1, [])
        self.assertEqual(place, 3)

    def test_clear(self) -> None:
        """
        C{clear} takes every request off and says how many there were;
        what was asked for is still remembered for the threshold.
        """
        queue = RequestQueue(HOUR, 0, 0)
        self.fill(queue, ALPHA, BETA)
        self.assertEqual(queue.clear(), 2)
        self.assertEqual(queue.pending, [])
        self.assertEqual(queue.clear(), 0)
        with self.assertRaises(RequestRefused) as caught:
            queue.add(ALPHA, track_id(ALPHA.path), AWAY, START + 60, [])
        self.assertEqual(caught.exception.status, RECENT)
        queue.add(ALPHA, track_id(ALPHA.path), AWAY, START + HOUR, [])

    def test_update(self) -> None:
        """
        New settings apply to the requests made from then on; those
        waiting stay.
        """
        queue = RequestQueue(HOUR, 3, 20)
        waiting = self.fill(queue, ALPHA, BETA, GAMMA)
        queue.update(60.0, 1, 2)
        self.assertEqual((queue.threshold, queue.limit, queue.capacity), (60.0, 1, 2))
        self.assertEqual(queue.pending, waiting)
        refusal = queue.refusal(DELTA.path, AWAY, START, [])
        assert refusal is not None
        self.assertEqual(refusal.status, FULL)
        queue.update(60.0, 1, 5)
        queue.add(DELTA, track_id(DELTA.path), AWAY, START, [])
        queue.started(waiting[0].id, START)
        queue.add(ALPHA, track_id(ALPHA.path), "192.0.2.1", START + 60, [])

    def test_forget(self) -> None:
        """
        Requests for tracks that left the library leave the queue, and
        what was asked for them is forgotten.
        """
        queue = RequestQueue(HOUR, 0, 0)
        alpha, beta, gamma = self.fill(queue, ALPHA, BETA, GAMMA)
        queue.started(alpha.id, START)
        queue.forget({BETA.path, ALPHA_TWO.path})
        self.assertEqual(queue.pending, [beta])
        # Back in the library, the tracks may be asked for again.
        queue.add(ALPHA, track_id(ALPHA.path), AWAY, START + 1, [])
        queue.add(GAMMA, track_id(GAMMA.path), AWAY, START + 1, [])


class ProgrammeTests(SynchronousTestCase):
    """
    A L{RequestQueue} is what a L{Programme} plays listeners' requests
    from.
    """

    def test_request_plays(self) -> None:
        """
        A request taken while a track plays goes out after the track read
        ahead, marked as requested, and leaves the queue; its track may
        not be asked for again before the threshold.
        """
        folder = os.path.abspath(self.mktemp())
        os.makedirs(folder)
        for name in ("a.mp3", "b.mp3", "c.mp3", "d.mp3"):
            with open(os.path.join(folder, name), "wb") as f:
                f.write(silent_frame().data * 4)
        clock = Clock()
        clock.advance(START)
        queue = RequestQueue(HOUR, 2, 20)
        programme = Programme(
            Library(folder, synchronous_runner),
            clock,
            synchronous_runner,
            rescan_interval=0,
            name="/t",
            requests=queue,
        )
        programme.start()
        self.addCleanup(programme.stop)
        started: list[TrackInfo] = []

        def air(count: int) -> None:
            while len(started) < count:
                cue = programme.next_frame()
                assert cue is not None
                if cue.starts:
                    started.append(cue.track)
                clock.advance(cue.frame.header.duration)

        air(1)
        track = programme.library.tracks[3]
        request, place = queue.add(
            track, track_id(track.path), HOME, clock.seconds(), list(programme.aired)
        )
        self.assertEqual(place, 1)
        air(4)
        names = [os.path.basename(track.path) for track in started]
        self.assertEqual(names, ["a.mp3", "b.mp3", "d.mp3", "c.mp3"])
        self.assertEqual([track.requested for track in started], [False, False, True, False])
        self.assertEqual(queue.pending, [])
        refusal = queue.refusal(track.path, AWAY, clock.seconds(), list(programme.aired))
        assert refusal is not None
        self.assertEqual(refusal.status, RECENT)
