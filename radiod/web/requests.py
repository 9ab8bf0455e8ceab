# -*- test-case-name: tests.web.test_requests -*-
"""
Song requests on the station's site: listeners find tracks in a mount's
library and ask for them; administrators see and prune what waits.

A mount takes requests when its configuration says so and it has a
L{RequestQueue} (by default, the one its programme plays requests from;
see L{radiod.library.requests}, where the rules for taking one are).
Under L{REQUESTS_PATH}, the mount named without its leading slash:

  - C{GET /api/v1/requests/<mount>?q=words&limit=N&offset=N}: the
    mount's library tracks whose title, artist or album hold every word
    (in any case), in library order: a JSON list of C{id}, C{artist},
    C{title}, C{album}, C{duration} (seconds, C{null} when unknown) and
    C{requestable}, with C{reason} when it is not (for the asking
    client: its own requests count against it);
  - C{POST /api/v1/requests/<mount>} with C{{"id": "<track id>"}} (or a
    form, C{id=...}): queue the track; C{201} with the request's C{id},
    its C{place} in the queue (1 for the first) and the C{track}.

Refusals are JSON C{{"error": reason}}, logged in one line with the
client: the status of a L{RequestRefused} (C{404}, C{409}, C{429},
C{503}); C{404} for a mount that is not there or takes no requests;
C{400} for a body or query that makes no sense; C{413} for a body over
L{MAX_BODY} bytes; C{405} for other methods.  Scripts on other sites may
read and post (CORS).  The client is the address the stream server
trusts: C{X-Forwarded-For} only from a trusted proxy.

Under L{ADMIN_REQUESTS_PATH}, behind the admin login
(L{radiod.web.guard.AdminLogin}):

  - C{GET /api/v1/admin/requests/<mount>}: the requests waiting, oldest
    first;
  - C{DELETE /api/v1/admin/requests/<mount>}: take them all off;
  - C{DELETE /api/v1/admin/requests/<mount>/<request id>}: take one off.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from twisted.internet.interfaces import IReactorTime
from twisted.logger import Logger
from twisted.web.resource import IResource

from radiod.audio.track import TrackInfo
from radiod.auth import Administrator
from radiod.broadcast.mount import Mount
from radiod.ingest.metadata import decode_value, parse_form
from radiod.library.library import track_id
from radiod.library.programme import Programme
from radiod.library.requests import NOT_FOUND, RequestQueue, RequestRefused, SongRequest
from radiod.library.rotation import Aired
from radiod.web.guard import AdminLogin
from radiod.web.params import query
from radiod.web.site import (
    JSON_CONTENT_TYPE,
    StationRequest,
    StationResource,
    refuse_json,
)
from radiod.wire.server import RadioFactory
from radiod.wire.stream import CORS, SERVER

__all__ = [
    "ADMIN_REQUESTS_PATH",
    "DEFAULT_LIMIT",
    "MAX_BODY",
    "MAX_LIMIT",
    "REQUESTS_PATH",
    "AiredLookup",
    "QueueLookup",
    "RequestAdmin",
    "RequestList",
    "SongRequests",
    "TrackLookup",
    "programme_aired",
    "programme_queues",
    "programme_tracks",
]

REQUESTS_PATH = "/api/v1/requests"
"""
Where listeners find and request tracks, followed by a mount's name.
"""

ADMIN_REQUESTS_PATH = "/api/v1/admin/requests"
"""
Where administrators see and take off requests, followed by a mount's
name (and a request's id).
"""

MAX_BODY = 4096
"""
The largest body a request for a track may have, in bytes.
"""

DEFAULT_LIMIT = 50
"""
Tracks listed when the query names no C{limit}.
"""

MAX_LIMIT = 500
"""
The most tracks one listing may hold.
"""

QueueLookup = Callable[[str], RequestQueue | None]
"""
A mount's request queue by the mount's name (with its slash), or C{None}
when it takes no requests.
"""

TrackLookup = Callable[[str], Sequence[TrackInfo] | None]
"""
A mount's library tracks by the mount's name, or C{None} when it plays
no library.
"""

AiredLookup = Callable[[str], Sequence[Aired]]
"""
A mount's past plays, as its rotation rules see them, by the mount's
name.
"""

_PUBLIC_METHODS = "GET, HEAD, POST, OPTIONS"
_ADMIN_METHODS = "GET, HEAD, DELETE"
_ONE_METHODS = "DELETE"
_FORM = "application/x-www-form-urlencoded"


def _json(document: object) -> bytes:
    """
    A JSON document in UTF-8; a lone surrogate (from a file name that is
    not UTF-8) is written as its C{\\u} escape.
    """
    text = json.dumps(document, ensure_ascii=False, allow_nan=False)
    return text.encode("utf-8", "backslashreplace")


def _duration(track: TrackInfo) -> float | None:
    duration = track.duration
    return round(duration, 3) if math.isfinite(duration) and duration > 0 else None


def _describe(identifier: str, track: TrackInfo) -> dict[str, Any]:
    """
    A track as the request API shows it.
    """
    return {
        "id": identifier,
        "artist": track.artist,
        "title": track.title,
        "album": track.album,
        "duration": _duration(track),
    }


def _programme(mount: Mount | None) -> Programme | None:
    """
    The programme (library playlist) a mount falls back to, if any.
    """
    if mount is None or mount.switch is None:
        return None
    playlist: object = mount.switch.playlist
    return playlist if isinstance(playlist, Programme) else None


def programme_queues(mounts: Mapping[str, Mount]) -> QueueLookup:
    """
    The request queue each mount's programme plays requests from
    (L{Programme.requests}), looked up in C{mounts} at each call (so
    that a programme replaced on reload is followed).
    """

    def queue(name: str) -> RequestQueue | None:
        programme = _programme(mounts.get(name))
        requests = programme.requests if programme is not None else None
        return requests if isinstance(requests, RequestQueue) else None

    return queue


def programme_tracks(mounts: Mapping[str, Mount]) -> TrackLookup:
    """
    The tracks of each mount's programme, looked up in C{mounts} at each
    call.
    """

    def tracks(name: str) -> Sequence[TrackInfo] | None:
        programme = _programme(mounts.get(name))
        return programme.library.tracks if programme is not None else None

    return tracks


def programme_aired(mounts: Mapping[str, Mount]) -> AiredLookup:
    """
    The past plays each mount's programme keeps for its rotation rules,
    looked up in C{mounts} at each call.
    """

    def aired(name: str) -> Sequence[Aired]:
        programme = _programme(mounts.get(name))
        return list(programme.aired) if programme is not None else []

    return aired


class _Refusal(Exception):
    """
    A request to refuse with C{status} and C{reason}.
    """

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(status, reason)
        self.status = status
        self.reason = reason


@dataclass(frozen=True)
class _Index:
    """
    One scan of a mount's library, made ready for looking up and
    searching.

    @ivar tracks: the scan's tracks, in library order.
    @ivar ids: their ids, in the same order.
    @ivar texts: their title, artist and album, case-folded, for
        searching.
    @ivar by_id: the tracks by id.
    """

    tracks: Sequence[TrackInfo]
    ids: list[str]
    texts: list[str]
    by_id: dict[str, TrackInfo]

    @classmethod
    def of(cls, tracks: Sequence[TrackInfo]) -> _Index:
        ids = [track_id(track.path) for track in tracks]
        texts = [f"{t.title}\n{t.artist}\n{t.album}".casefold() for t in tracks]
        return cls(tracks, ids, texts, dict(zip(ids, tracks, strict=True)))


@dataclass(frozen=True)
class _Desk:
    """
    What a request to one mount works with.

    @ivar name: the mount's name.
    @ivar queue: its requests.
    @ivar index: its library.
    """

    name: str
    queue: RequestQueue
    index: _Index


class SongRequests:
    """
    What the request resources share: how to reach each mount's request
    queue, library and past plays, and the clock requests are timed by.

    @ivar factory: the station's server (its mounts and their settings).
    """

    def __init__(
        self,
        clock: IReactorTime,
        factory: RadioFactory,
        queues: QueueLookup,
        tracks: TrackLookup,
        aired: AiredLookup,
    ) -> None:
        """
        @param clock: times requests.
        @param factory: the station's server.
        @param queues: a mount's request queue, or C{None} when it takes
            none.
        @param tracks: a mount's library tracks, or C{None} when it plays
            no library.
        @param aired: a mount's past plays.
        """
        self._clock = clock
        self.factory = factory
        self._queues = queues
        self._tracks = tracks
        self._aired = aired
        self._indexes: dict[str, _Index] = {}

    def now(self) -> float:
        """
        The station clock's time.
        """
        return self._clock.seconds()

    def aired(self, name: str) -> Sequence[Aired]:
        """
        The past plays of mount C{name}.
        """
        return self._aired(name)

    def desk(self, name: str) -> _Desk:
        """
        The queue and library of the mount named C{name}.

        @raise _Refusal: 404 for a mount that is not there, takes no
            requests, or plays no library.
        """
        mount = self.factory.mounts.get(name)
        if mount is None:
            raise _Refusal(404, f"No such mount: {name}")
        queue = self._queues(name) if mount.config.requests else None
        tracks = self._tracks(name) if queue is not None else None
        if queue is None or tracks is None:
            raise _Refusal(404, f"Mount {name} takes no requests")
        index = self._indexes.get(name)
        if index is None or index.tracks is not tracks:
            index = self._indexes[name] = _Index.of(tracks)
        return _Desk(name, queue, index)


def _headed(request: StationRequest, body: bytes) -> bytes:
    """
    The body to answer with: C{body}, or for C{HEAD} nothing, with
    C{body}'s length.
    """
    if request.method != b"HEAD":
        return body
    request.setHeader("Content-Length", str(len(body)))
    return b""


def _segments(request: StationRequest) -> list[str]:
    """
    The path segments below the resource, as text.
    """
    return [segment.decode("utf-8", "replace") for segment in request.postpath or []]


def _mount_name(segments: Sequence[str], prefix: str = REQUESTS_PATH) -> str:
    """
    The mount named by path segments (its name without the slash).

    @param prefix: the path the segments are under, for the refusal.
    @raise _Refusal: 404 when they name none.
    """
    if not segments or not all(segments):
        raise _Refusal(404, f"Name a mount: {prefix}/<mount>")
    return "/" + "/".join(segments)


def _count(params: Mapping[str, list[str]], key: str, default: int, high: int) -> int:
    """
    A whole number from the query, from 0 (1 for C{limit}) to C{high}.

    @raise _Refusal: 400 for anything else.
    """
    values = params.get(key)
    if not values:
        return default
    text = values[-1].strip()
    low = 1 if key == "limit" else 0
    if not (text.isascii() and text.isdigit()) or len(text) > 9 or not low <= int(text) <= high:
        raise _Refusal(400, f"{key} must be a whole number from {low} to {high}")
    return int(text)


def _body(request: StationRequest) -> bytes:
    """
    The body of the request.

    @raise _Refusal: 413 when it is over L{MAX_BODY} bytes.
    """
    content = request.content
    if content is None:
        return b""
    content.seek(0)
    body: bytes = content.read(MAX_BODY + 1)
    if len(body) > MAX_BODY:
        raise _Refusal(413, f"The body is over {MAX_BODY} bytes")
    return body


def _asked_id(request: StationRequest) -> str:
    """
    The track id a request's body gives: a JSON object's C{id}, or a
    form's.

    @raise _Refusal: 400 for a body that gives none, 413 for one too large.
    """
    body = _body(request)
    content_type = (request.header("Content-Type") or "").partition(";")[0].strip().lower()
    if content_type == _FORM:
        values = parse_form(body).get("id")
        identifier = decode_value(values[0]) if values else ""
    else:
        try:
            document = json.loads(body)
        except (ValueError, UnicodeDecodeError):
            raise _Refusal(400, 'The body is not JSON: send {"id": "<track id>"}') from None
        if not isinstance(document, dict):
            raise _Refusal(400, 'The body is not a JSON object: send {"id": "<track id>"}')
        value = document.get("id")
        if value is not None and not isinstance(value, str):
            raise _Refusal(400, "id must be a string")
        identifier = value or ""
    identifier = identifier.strip()
    if not identifier:
        raise _Refusal(400, "Give the id of the track to request")
    return identifier


class RequestList(StationResource):
    """
    The resource at L{REQUESTS_PATH}: a mount's requestable tracks, and
    requests for them.
    """

    isLeaf = True
    _log = Logger()

    def __init__(self, requests: SongRequests) -> None:
        """
        @param requests: the station's request queues and libraries.
        """
        super().__init__(requests.factory)
        self.requests = requests

    def render(self, request: StationRequest) -> bytes | int:
        """
        C{GET} (and C{HEAD}) lists, C{POST} requests, C{OPTIONS} answers
        a CORS preflight; other methods are refused with 405.
        """
        request.setHeader("Server", SERVER)
        method = request.method
        try:
            if method == b"OPTIONS":
                return self.render_OPTIONS(request)
            if method in (b"GET", b"HEAD"):
                return _headed(request, self._list(request))
            if method == b"POST":
                return self._ask(request)
            raise _Refusal(405, "Method Not Allowed")
        except _Refusal as refusal:
            return _headed(request, self._refuse(request, refusal.status, refusal.reason))
        except RequestRefused as refused:
            return self._refuse(request, refused.status, refused.reason)

    def render_OPTIONS(self, request: StationRequest) -> bytes:
        """
        A CORS preflight: scripts on other sites may post requests too.
        """
        super().render_OPTIONS(request)
        request.setHeader("Access-Control-Allow-Methods", _PUBLIC_METHODS)
        return b""

    def _refuse(self, request: StationRequest, status: int, reason: str) -> bytes:
        extra = [("Access-Control-Allow-Methods", _PUBLIC_METHODS)]
        if status == 405:
            extra.append(("Allow", _PUBLIC_METHODS))
        return refuse_json(request, self.factory, status, reason, extra)

    def _answer(self, request: StationRequest, status: int, document: object) -> bytes:
        request.setResponseCode(status)
        request.setHeader("Content-Type", JSON_CONTENT_TYPE)
        request.setHeader("Cache-Control", "no-cache, no-store")
        for name, value in CORS:
            request.setHeader(name, value)
        request.setHeader("Access-Control-Allow-Methods", _PUBLIC_METHODS)
        return _json(document)

    def _list(self, request: StationRequest) -> bytes:
        """
        The tracks matching the query, each said to be requestable or
        not (and why) for this client.
        """
        desk = self.requests.desk(_mount_name(_segments(request)))
        params = query(request)
        words = [word.casefold() for text in params.get("q", ()) for word in text.split()]
        limit = _count(params, "limit", DEFAULT_LIMIT, MAX_LIMIT)
        offset = _count(params, "offset", 0, 10**9)
        index = desk.index
        matching = [
            number for number, text in enumerate(index.texts) if all(word in text for word in words)
        ][offset : offset + limit]
        page = [index.tracks[number] for number in matching]
        refused = desk.queue.refusals(
            [track.path for track in page],
            request.client_host,
            self.requests.now(),
            self.requests.aired(desk.name),
        )
        listed = []
        for number, track in zip(matching, page, strict=True):
            item = _describe(index.ids[number], track)
            refusal = refused.get(track.path)
            item["requestable"] = refusal is None
            if refusal is not None:
                item["reason"] = refusal.reason
            listed.append(item)
        return self._answer(request, 200, listed)

    def _ask(self, request: StationRequest) -> bytes:
        """
        Queue the track the body names.
        """
        desk = self.requests.desk(_mount_name(_segments(request)))
        identifier = _asked_id(request)
        track = desk.index.by_id.get(identifier)
        if track is None:
            raise RequestRefused(NOT_FOUND, f"No such track in the library of {desk.name}")
        name = desk.name
        asked, place = desk.queue.add(
            track, identifier, request.client_host, self.requests.now(), self.requests.aired(name)
        )
        self._log.info(
            "Request {request} from {peer} for {title!r} on {mount} (place {place})",
            request=asked.id,
            peer=request.peer_name,
            title=track.stream_title,
            mount=name,
            place=place,
        )
        document = {
            "id": asked.id,
            "mount": name,
            "place": place,
            "track": _describe(identifier, track),
        }
        return self._answer(request, 201, document)


class RequestAdmin(StationResource):
    """
    The resource at L{ADMIN_REQUESTS_PATH}: every request to it goes
    through the admin login first, then to a L{_PendingPage}.
    """

    isLeaf = True

    def __init__(self, requests: SongRequests) -> None:
        """
        @param requests: the station's request queues and libraries.
        """
        super().__init__(requests.factory)
        self.requests = requests
        self._login = AdminLogin(self.factory, self._page)

    def _page(self, admin: Administrator) -> IResource:
        return _PendingPage(self.requests, admin)

    def render(self, request: StationRequest) -> int | bytes:
        """
        Log in, then answer as the administrator.
        """
        return self._login.render(request)


class _PendingPage(StationResource):
    """
    An administrator's request about the requests waiting on a mount.
    """

    isLeaf = True
    _log = Logger()

    def __init__(self, requests: SongRequests, admin: Administrator) -> None:
        super().__init__(requests.factory)
        self.requests = requests
        self.admin = admin

    def render(self, request: StationRequest) -> bytes:
        """
        C{GET} (and C{HEAD}) lists a mount's requests, C{DELETE} takes
        them, or one, off; other methods are refused with 405.
        """
        allowed = _ADMIN_METHODS
        try:
            name, request_id = self._target(request)
            if request_id is not None:
                allowed = _ONE_METHODS
            method = request.method.decode("latin-1")
            if method not in allowed.split(", "):
                raise _Refusal(405, "Method Not Allowed")
            desk = self.requests.desk(name)
            if method == "DELETE":
                document = self._delete(request, desk, request_id)
            else:
                document = self._pending(desk)
        except _Refusal as refusal:
            extra = [("Allow", allowed)] if refusal.status == 405 else []
            body = refuse_json(request, self.factory, refusal.status, refusal.reason, extra)
            return _headed(request, body)
        request.setHeader("Content-Type", JSON_CONTENT_TYPE)
        request.setHeader("Cache-Control", "no-cache, no-store")
        return _headed(request, _json(document))

    def _target(self, request: StationRequest) -> tuple[str, str | None]:
        """
        The mount, and the request id if any, that the path names: the
        whole path when it is a mount's name, else a mount and an id.
        """
        segments = _segments(request)
        name = _mount_name(segments, ADMIN_REQUESTS_PATH)
        if name in self.factory.mounts or len(segments) < 2:
            return name, None
        return _mount_name(segments[:-1], ADMIN_REQUESTS_PATH), segments[-1]

    def _pending(self, desk: _Desk) -> dict[str, Any]:
        """
        The requests waiting on a mount, oldest first.
        """
        listed = []
        for place, waiting in enumerate(desk.queue.pending, 1):
            listed.append(self._describe(desk, waiting, place))
        return {"mount": desk.name, "requests": listed}

    def _describe(self, desk: _Desk, waiting: SongRequest, place: int) -> dict[str, Any]:
        track = desk.index.by_id.get(waiting.track_id)
        if track is None:
            track = TrackInfo(waiting.path, waiting.title, waiting.artist)
        return {
            "id": waiting.id,
            "place": place,
            "address": waiting.address,
            "at": waiting.at,
            "track": _describe(waiting.track_id, track),
        }

    def _delete(self, request: StationRequest, desk: _Desk, request_id: str | None) -> object:
        """
        Take one request, or all of them, off a mount's queue.
        """
        queue = desk.queue
        if request_id is None:
            removed = queue.clear()
        elif queue.remove(request_id):
            removed = 1
        else:
            raise _Refusal(404, f"No request {request_id} waits on {desk.name}")
        self._log.info(
            "Admin {user} from {peer} took {removed} requests off {mount}{which}",
            user=self.admin.name,
            peer=request.peer_name,
            removed=removed,
            mount=desk.name,
            which=f" (request {request_id})" if request_id is not None else "",
        )
        return {"mount": desk.name, "removed": removed}
