# -*- test-case-name: tests.library.test_requests -*-
"""
Song requests: the tracks listeners asked a mount to play, waiting their
turn, and the rules that decide which requests are taken.

A L{RequestQueue} per mount holds the requests still to play, oldest
first.  L{RequestQueue.add} takes a request or refuses it with a
L{RequestRefused} carrying the HTTP status and a one-line reason for the
client:

  - C{409}: the track played less than the threshold ago, or is already
    waiting, or was requested less than the threshold ago (even if that
    request has played since);
  - C{429}: the client's address has as many requests waiting as it may;
  - C{503}: the queue holds as many requests as it may.

The programme asks L{RequestQueue.next_playable} for the oldest request
that keeps its rotation rules (L{radiod.library.rotation.choose}), and
tells the queue with L{RequestQueue.started} when it begins playing it.
A request that would break a rule waits, while later ones that keep the
rules go first; it is never played by relaxing the rules.

Pure: no I/O, no Twisted, no clock of its own.  Times are floats, seconds
on the station clock, given by the caller.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass
from itertools import count
from typing import Protocol

from radiod.library.rotation import Aired, Candidate, Rules, choose

__all__ = [
    "FULL",
    "LIMITED",
    "NOT_FOUND",
    "RECENT",
    "RequestQueue",
    "RequestRefused",
    "Requestable",
    "SongRequest",
]

NOT_FOUND = 404
"""
The status of a request for a track the library does not have.
"""

RECENT = 409
"""
The status of a request for a track played, or requested, too recently,
or already waiting.
"""

LIMITED = 429
"""
The status of a request from an address with as many requests waiting as
it may have.
"""

FULL = 503
"""
The status of a request made while the queue is full.
"""


@dataclass(frozen=True)
class SongRequest:
    """
    One track a listener asked for.

    @ivar id: names the request, unique within its queue.
    @ivar path: the track's file, as the library lists it.
    @ivar track_id: the track's id (L{radiod.library.library.track_id}).
    @ivar address: the client address that asked.
    @ivar at: when it was asked for, in station clock seconds.
    @ivar artist: the track's artist, or an empty string when unknown.
    @ivar title: the track's title.
    """

    id: str
    path: str
    track_id: str
    address: str
    at: float
    artist: str
    title: str


class Requestable(Protocol):
    """
    What a request needs to know about a track: a library track
    (L{radiod.audio.track.TrackInfo}) or a rotation
    L{radiod.library.rotation.Candidate} will do.
    """

    @property
    def path(self) -> str:
        """
        The file.
        """

    @property
    def artist(self) -> str:
        """
        The artist, or an empty string when unknown.
        """

    @property
    def title(self) -> str:
        """
        The title.
        """


class RequestRefused(Exception):
    """
    A request that is not taken.

    @ivar status: the HTTP status to answer with: L{NOT_FOUND},
        L{RECENT}, L{LIMITED} or L{FULL}.
    @ivar reason: why, in one line, for the client.
    """

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(status, reason)
        self.status = status
        self.reason = reason

    def __str__(self) -> str:
        return f"{self.status} {self.reason}"


def _ago(seconds: float) -> str:
    """
    How long ago something was, for a client to read: whole seconds under
    a minute, else whole minutes (both rounded down).
    """
    if seconds < 60:
        return f"{max(0, math.floor(seconds))} s"
    return f"{math.floor(seconds / 60)} min"


def _wait(seconds: float) -> str:
    """
    How long until something may be done, for a client to read: whole
    seconds under a minute, else whole minutes (both rounded up).
    """
    if seconds <= 60:
        return f"{max(1, math.ceil(seconds))} s"
    return f"{math.ceil(seconds / 60)} min"


class RequestQueue:
    """
    The requests waiting on one mount, oldest first, and what was asked
    for recently.

    A request is remembered from when it is made, and again from when it
    starts playing, for L{threshold} seconds: the same track cannot be
    requested again meanwhile.  Taking a request off the queue
    (L{remove}, L{clear}) does not make it forgotten sooner.

    @ivar threshold: seconds after a track played, or was requested,
        before it may be requested again; 0 (or less) to check only that
        it is not waiting already.
    @ivar limit: the most requests one client address may have waiting;
        0 (or less) for no limit.
    @ivar capacity: the most requests that may wait at once; 0 (or less)
        for no limit.
    """

    def __init__(self, threshold: float, limit: int, capacity: int) -> None:
        """
        @param threshold: see L{threshold}.
        @param limit: see L{limit}.
        @param capacity: see L{capacity}.
        """
        self.threshold = threshold
        self.limit = limit
        self.capacity = capacity
        self._pending: list[SongRequest] = []
        # The latest time each path was requested or started playing as
        # a request, kept for the threshold.
        self._asked: dict[str, float] = {}
        self._ids = count(1)

    @property
    def pending(self) -> list[SongRequest]:
        """
        The requests still to play, oldest first (a copy).
        """
        return list(self._pending)

    def update(self, threshold: float, limit: int, capacity: int) -> None:
        """
        Take new settings (the configuration was reloaded).  Requests
        already waiting stay, even beyond a smaller limit or capacity;
        only new ones are refused.
        """
        self.threshold = threshold
        self.limit = limit
        self.capacity = capacity

    def refusal(
        self, path: str, address: str, now: float, aired: Sequence[Aired]
    ) -> RequestRefused | None:
        """
        Why a request for C{path} from C{address} would be refused now, or
        C{None} when it would be taken.  Changes nothing.

        @param path: the track's file.
        @param address: the client's address.
        @param now: the station clock time.
        @param aired: past plays on the mount, in any order.
        """
        return self.refusals([path], address, now, aired).get(path)

    def refusals(
        self, paths: Iterable[str], address: str, now: float, aired: Sequence[Aired]
    ) -> dict[str, RequestRefused]:
        """
        L{refusal} for each of several tracks, reading C{aired} once.

        @return: the refusal of each path that would be refused; paths
            that would be taken are left out.
        """
        wanted = set(paths)
        played: dict[str, float] = {}
        for play in aired:
            if play.path in wanted and play.at > played.get(play.path, -math.inf):
                played[play.path] = play.at
        waiting = {request.path for request in self._pending}
        mine = sum(1 for request in self._pending if request.address == address)
        threshold = self.threshold
        refused: dict[str, RequestRefused] = {}
        for path in wanted:
            at = played.get(path)
            asked = self._asked.get(path)
            if threshold > 0 and at is not None and now - at < threshold:
                refused[path] = RequestRefused(
                    RECENT,
                    f"This track played {_ago(now - at)} ago; it may be requested "
                    f"again in {_wait(threshold - (now - at))}",
                )
            elif path in waiting:
                refused[path] = RequestRefused(RECENT, "This track is already requested")
            elif threshold > 0 and asked is not None and now - asked < threshold:
                refused[path] = RequestRefused(
                    RECENT,
                    f"This track was requested {_ago(now - asked)} ago; it may be "
                    f"requested again in {_wait(threshold - (now - asked))}",
                )
            elif 0 < self.limit <= mine:
                refused[path] = RequestRefused(
                    LIMITED,
                    f"You have {mine} requests waiting, the most allowed; "
                    "ask again once one has played",
                )
            elif 0 < self.capacity <= len(self._pending):
                refused[path] = RequestRefused(
                    FULL,
                    f"The request queue is full ({len(self._pending)} waiting); try again later",
                )
        return refused

    def add(
        self,
        track: Requestable,
        track_id: str,
        address: str,
        now: float,
        aired: Sequence[Aired],
    ) -> tuple[SongRequest, int]:
        """
        Queue a request for a track, unless it is refused.

        @param track: the track asked for (its path, artist and title).
        @param track_id: its id, for the request's description.
        @param address: the client's address.
        @param now: the station clock time.
        @param aired: past plays on the mount, in any order.
        @return: the request, and its place in the queue (1 for the
            first).
        @raise RequestRefused: with L{RECENT}, L{LIMITED} or L{FULL} (see
            L{refusal}).
        """
        self._prune(now)
        refused = self.refusal(track.path, address, now, aired)
        if refused is not None:
            raise refused
        request = SongRequest(
            id=str(next(self._ids)),
            path=track.path,
            track_id=track_id,
            address=address,
            at=now,
            artist=track.artist,
            title=track.title,
        )
        self._pending.append(request)
        self._asked[track.path] = now
        return request, len(self._pending)

    def next_playable(
        self, aired: Sequence[Aired], rules: Rules, starts_at: float
    ) -> SongRequest | None:
        """
        The request to play next: the oldest waiting one whose track keeps
        the rotation rules if it starts at C{starts_at}.  Changes nothing:
        call L{started} once it plays.

        @param aired: past plays on the mount, in any order.
        @param rules: the mount's separation rules.
        @param starts_at: the station clock time the track would start.
        @return: the request, or C{None} when none is waiting or every
            one waiting would break a rule.
        """
        by_path = {request.path: request for request in self._pending}
        order = [
            Candidate(request.path, request.artist, request.title) for request in self._pending
        ]
        choice = choose(order, aired, rules, starts_at)
        if choice is None or choice.relaxed:
            return None
        return by_path[choice.path]

    def started(self, request_id: str, now: float) -> None:
        """
        A request started playing: it leaves the queue, and its track may
        not be requested again for L{threshold} seconds.  An id not
        waiting (a request taken off meanwhile) is ignored.

        @param request_id: the request's L{SongRequest.id}.
        @param now: the station clock time it started.
        """
        for request in self._pending:
            if request.id == request_id:
                self._pending.remove(request)
                self._asked[request.path] = max(self._asked.get(request.path, now), now)
                return

    def remove(self, request_id: str) -> bool:
        """
        Take one request off the queue.

        @param request_id: the request's L{SongRequest.id}.
        @return: whether it was waiting.
        """
        for request in self._pending:
            if request.id == request_id:
                self._pending.remove(request)
                return True
        return False

    def clear(self) -> int:
        """
        Take every request off the queue.

        @return: how many there were.
        """
        cleared = len(self._pending)
        self._pending.clear()
        return cleared

    def forget(self, paths_present: AbstractSet[str]) -> None:
        """
        The library changed: requests for tracks no longer in it leave the
        queue, and are forgotten.

        @param paths_present: the paths of every track in the library now.
        """
        self._pending = [request for request in self._pending if request.path in paths_present]
        self._asked = {path: at for path, at in self._asked.items() if path in paths_present}

    def _prune(self, now: float) -> None:
        """
        Forget what was asked for longer ago than the threshold.
        """
        threshold = self.threshold
        self._asked = {path: at for path, at in self._asked.items() if now - at < threshold}
