# -*- test-case-name: tests.web.test_admin -*-
"""
The admin interface: Icecast's admin commands, and radiod's own admin API.

Every request needs the admin credentials (HTTP Basic, checked by the
factory's L{radiod.auth.AdminAccess}); missing or wrong ones get a 401
with C{WWW-Authenticate} and the same body whatever was wrong.

Icecast's commands answer in Icecast's XML (C{text/xml}), to C{GET} and to
C{POST} with the parameters in a form body (the listings to C{HEAD} too):

  - C{/admin/listmounts}: the mounts that have audio;
  - C{/admin/listclients?mount=/m}: a mount's listeners;
  - C{/admin/killclient?mount=/m&id=N}: disconnect one listener;
  - C{/admin/killsource?mount=/m}: disconnect a mount's live source;
  - C{/admin/moveclients?mount=/m&destination=/d}: move every listener of
    a mount to another, without a break.

Their errors are C{<iceresponse>} documents with C{<return>0</return>}:
400 C{Missing parameter}, C{Source does not exist}, C{No such
destination} ...; a listener that is not there is Icecast's 200 C{Client N
not found}.

radiod's own API speaks JSON, under C{/api/v1/admin/}; actions take
C{POST} with their parameters in a JSON object (or a form body, or the
query), and C{mount} defaults to the default mount:

  - C{POST skip}: the mount's playlist moves on to its next track;
  - C{POST queue} with C{id} or C{path}: a library track plays next;
  - C{POST reload}: rescan the library of a mount (or of every mount);
  - C{GET library}: a mount's library, with each track's C{id}.

Their errors are C{{"error": "..."}} with 400, 404, 405 or 409.

The renderers (L{render_listclients}, L{render_listmounts}, L{track_json})
are pure; L{Admin} is the glue that registers the routes.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any
from xml.sax.saxutils import escape

from twisted.cred.error import UnauthorizedLogin
from twisted.internet.defer import Deferred, gatherResults
from twisted.internet.interfaces import IReactorTime
from twisted.logger import Logger
from twisted.python.failure import Failure

from radiod.audio.track import TrackInfo
from radiod.auth import CHALLENGE, UNAUTHORISED, Administrator
from radiod.broadcast.mount import Mount
from radiod.ingest.metadata import XML_CONTENT_TYPE, decode_value, icecast_reply, parse_form
from radiod.ingest.source import SourceConnection
from radiod.library.library import Library, track_id
from radiod.library.programme import Programme
from radiod.request import Request
from radiod.web.monitoring import peer_host
from radiod.wire.server import RadioFactory, RadioProtocol

__all__ = [
    "API_PATHS",
    "ICECAST_PATHS",
    "JSON_CONTENT_TYPE",
    "Admin",
    "AdminError",
    "ClientRow",
    "MountRow",
    "render_listclients",
    "render_listmounts",
    "track_json",
]

LISTMOUNTS_PATH = "/admin/listmounts"
LISTCLIENTS_PATH = "/admin/listclients"
KILLCLIENT_PATH = "/admin/killclient"
KILLSOURCE_PATH = "/admin/killsource"
MOVECLIENTS_PATH = "/admin/moveclients"
ICECAST_PATHS = (
    LISTMOUNTS_PATH,
    LISTCLIENTS_PATH,
    KILLCLIENT_PATH,
    KILLSOURCE_PATH,
    MOVECLIENTS_PATH,
)
"""
Icecast's admin commands that radiod answers (besides C{/admin/metadata}
and C{/admin/stats}).
"""

SKIP_PATH = "/api/v1/admin/skip"
QUEUE_PATH = "/api/v1/admin/queue"
RELOAD_PATH = "/api/v1/admin/reload"
LIBRARY_PATH = "/api/v1/admin/library"
API_PATHS = (SKIP_PATH, QUEUE_PATH, RELOAD_PATH, LIBRARY_PATH)
"""
radiod's own admin API.
"""

JSON_CONTENT_TYPE = "application/json; charset=utf-8"

_NO_CACHE = [("Cache-Control", "no-cache, no-store")]
_LISTINGS = ("GET", "HEAD", "POST")
_COMMANDS = ("GET", "POST")
_READ = ("GET", "HEAD")
_ACT = ("POST",)
_ID = re.compile(r"[0-9]{1,18}")
# Characters XML 1.0 cannot carry at all, even escaped.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
_FORM = "application/x-www-form-urlencoded"


class AdminError(Exception):
    """
    An admin request that cannot be carried out.

    @ivar status: the HTTP status to answer.
    @ivar message: what went wrong, for the reply and the log.
    """

    def __init__(self, status: int, message: str) -> None:
        super().__init__(status, message)
        self.status = status
        self.message = message


@dataclass(frozen=True)
class ClientRow:
    """
    One listener, as C{listclients} shows it.

    @ivar id: the listener's number.
    @ivar ip: its address.
    @ivar user_agent: its C{User-Agent}, or C{""} when it sent none.
    @ivar connected: whole seconds since it connected.
    @ivar lag: bytes of audio it is behind the head of the stream.
    """

    id: int
    ip: str
    user_agent: str
    connected: int
    lag: int


@dataclass(frozen=True)
class MountRow:
    """
    One mount, as C{listmounts} shows it.

    @ivar name: the mount's path.
    @ivar fallback: its fallback mount, or C{""}.
    @ivar listeners: listeners connected now.
    @ivar connected: whole seconds since its stream started (the station,
        or the live source on air).
    @ivar content_type: the stream's content type.
    """

    name: str
    fallback: str
    listeners: int
    connected: int
    content_type: str = "audio/mpeg"


def _xml_text(text: str) -> str:
    """
    C{text} escaped for XML content, with what XML cannot carry replaced.
    """
    return escape(_NOT_XML.sub("\ufffd", text))


def _xml_attribute(text: str) -> str:
    """
    C{text} as a double-quoted XML attribute value.
    """
    return '"' + escape(_NOT_XML.sub("\ufffd", text), {'"': "&quot;"}) + '"'


def _elements(fields: Iterable[tuple[str, object]]) -> str:
    return "".join(f"<{name}>{_xml_text(str(value))}</{name}>" for name, value in fields)


def render_listclients(mount: str, clients: Sequence[ClientRow]) -> bytes:
    """
    Icecast's C{/admin/listclients} document: the mount's C{source}
    element with C{Listeners} (capitalised, as Icecast 2.4 writes it) and
    a C{listener} element for each client: C{IP}, C{UserAgent}
    (C{Unknown} when it sent none), C{Connected}, C{ID}, and C{lag}.

    @param mount: the mount's name.
    @param clients: its listeners, in the order to list them.
    @return: the UTF-8 XML document.
    """
    parts = [
        '<?xml version="1.0"?>\n<icestats>',
        f"<source mount={_xml_attribute(mount)}>",
        _elements([("Listeners", len(clients))]),
    ]
    for client in clients:
        fields = [
            ("IP", client.ip),
            ("UserAgent", client.user_agent or "Unknown"),
            ("Connected", client.connected),
            ("ID", client.id),
            ("lag", client.lag),
        ]
        parts.append(f"<listener>{_elements(fields)}</listener>")
    parts.append("</source></icestats>\n")
    return "".join(parts).encode("utf-8")


def render_listmounts(mounts: Sequence[MountRow]) -> bytes:
    """
    Icecast's C{/admin/listmounts} document: a C{source} element per mount
    with C{fallback}, C{listeners}, C{Connected} and C{content-type}.

    @param mounts: the mounts, in the order to list them.
    @return: the UTF-8 XML document.
    """
    parts = ['<?xml version="1.0"?>\n<icestats>']
    for mount in mounts:
        fields = [
            ("fallback", mount.fallback),
            ("listeners", mount.listeners),
            ("Connected", mount.connected),
            ("content-type", mount.content_type),
        ]
        parts.append(f"<source mount={_xml_attribute(mount.name)}>{_elements(fields)}</source>")
    parts.append("</icestats>\n")
    return "".join(parts).encode("utf-8")


def track_json(track: TrackInfo, library: Library) -> dict[str, Any]:
    """
    A library track as the admin API shows it.

    @param track: the track.
    @param library: its library (for its path relative to the library).
    @return: C{id} (see L{radiod.library.library.track_id}), C{path}, C{title},
        C{artist}, C{album} and C{duration} (seconds, or C{None} when
        unknown).
    """
    duration = track.duration
    return {
        "id": track_id(track.path),
        "path": library.relative(track.path),
        "title": track.title,
        "artist": track.artist,
        "album": track.album,
        "duration": round(duration, 3) if math.isfinite(duration) and duration > 0 else None,
    }


def _json(document: object) -> bytes:
    """
    A JSON document in UTF-8; a lone surrogate (from a file name that is
    not UTF-8) is written as its C{\\u} escape.
    """
    text = json.dumps(document, ensure_ascii=False, allow_nan=False)
    return text.encode("utf-8", "backslashreplace")


_Params = dict[str, str]
_Command = Callable[[RadioProtocol, Request, _Params, Administrator], "Deferred[None] | None"]


class Admin:
    """
    The admin routes of a station's server.

    @ivar factory: the station's server, whose mounts and sources the
        commands act on and whose routes they are.
    @ivar started: clock time the station started (a playlist stream's
        start, for C{listmounts}).
    """

    _log = Logger()

    def __init__(self, clock: IReactorTime, factory: RadioFactory) -> None:
        """
        @param clock: the station's clock (connection times).
        @param factory: the server to answer admin requests on.
        """
        self._clock = clock
        self.factory = factory
        self.started = clock.seconds()
        self._source_started: dict[str, float] = {}
        icecast: dict[str, tuple[_Command, tuple[str, ...]]] = {
            LISTMOUNTS_PATH: (self._listmounts, _LISTINGS),
            LISTCLIENTS_PATH: (self._listclients, _LISTINGS),
            KILLCLIENT_PATH: (self._killclient, _COMMANDS),
            KILLSOURCE_PATH: (self._killsource, _COMMANDS),
            MOVECLIENTS_PATH: (self._moveclients, _COMMANDS),
        }
        for path, (command, methods) in icecast.items():
            factory.routes[path] = self._icecast_route(command, methods)
        api: dict[str, tuple[_Command, tuple[str, ...]]] = {
            SKIP_PATH: (self._skip, _ACT),
            QUEUE_PATH: (self._queue, _ACT),
            RELOAD_PATH: (self._reload, _ACT),
            LIBRARY_PATH: (self._library, _READ),
        }
        for path, (command, methods) in api.items():
            factory.routes[path] = self._api_route(command, methods)
        factory.form_paths.update(ICECAST_PATHS, (SKIP_PATH, QUEUE_PATH, RELOAD_PATH))
        if factory.sources is not None:
            factory.sources.on_connect.append(self._source_connected)

    def _source_connected(self, source: SourceConnection) -> None:
        self._source_started[source.mount] = self._clock.seconds()

    # Requests

    def _route(
        self,
        command: _Command,
        methods: tuple[str, ...],
        params: Callable[[Request, bytes], dict[str, str]],
        refuse: Callable[[RadioProtocol, Request, AdminError, list[tuple[str, str]]], None],
    ) -> Callable[[RadioProtocol, Request, bytes], None]:
        """
        A route that checks the credentials, then the method, then reads
        the parameters and runs C{command}; an L{AdminError} is answered
        with C{refuse}.
        """

        def route(protocol: RadioProtocol, request: Request, body: bytes) -> None:
            logged_in = self.factory.admin_access.login(request.header("Authorization"))

            def allowed(admin: Administrator) -> Deferred[None] | None:
                if request.method not in methods:
                    allow = [("Allow", ", ".join(methods))]
                    refuse(protocol, request, AdminError(405, "Method not allowed"), allow)
                    return None
                return command(protocol, request, params(request, body), admin)

            def denied(failure: Failure) -> None:
                failure.trap(UnauthorizedLogin)
                protocol.refuse(401, UNAUTHORISED, request, [CHALLENGE])

            def failed(failure: Failure) -> None:
                if failure.check(AdminError):
                    error = failure.value
                    assert isinstance(error, AdminError)
                    refuse(protocol, request, error, [])
                    return
                self._log.failure(
                    "Admin request {path} from {peer} failed",
                    failure,
                    path=request.path,
                    peer=protocol.peer,
                )
                if protocol.response_status is None:
                    refuse(protocol, request, AdminError(500, "Internal error"), [])

            logged_in.addCallbacks(allowed, denied).addErrback(failed)

        return route

    def _icecast_route(
        self, command: _Command, methods: tuple[str, ...]
    ) -> Callable[[RadioProtocol, Request, bytes], None]:
        return self._route(command, methods, _form_params, self._icecast_refuse)

    def _api_route(
        self, command: _Command, methods: tuple[str, ...]
    ) -> Callable[[RadioProtocol, Request, bytes], None]:
        return self._route(command, methods, _api_params, self._api_refuse)

    def _log_refusal(self, protocol: RadioProtocol, request: Request, error: AdminError) -> None:
        self.factory.refused += 1
        self._log.warn(
            "Refused admin request {method} {path} from {peer}: {status} {reason}",
            method=request.method,
            path=request.path,
            peer=protocol.peer,
            status=error.status,
            reason=error.message,
        )

    def _icecast_refuse(
        self,
        protocol: RadioProtocol,
        request: Request,
        error: AdminError,
        headers: list[tuple[str, str]],
    ) -> None:
        self._log_refusal(protocol, request, error)
        self._icecast_reply(protocol, request, error.status, error.message, False, headers)

    def _icecast_reply(
        self,
        protocol: RadioProtocol,
        request: Request,
        status: int,
        message: str,
        success: bool,
        headers: Sequence[tuple[str, str]] = (),
    ) -> None:
        protocol.reply(
            status,
            [("Content-Type", XML_CONTENT_TYPE), *_NO_CACHE, *headers],
            icecast_reply(message, success),
            head_only=request.method == "HEAD",
        )

    def _xml(self, protocol: RadioProtocol, request: Request, document: bytes) -> None:
        protocol.reply(
            200,
            [("Content-Type", XML_CONTENT_TYPE), *_NO_CACHE],
            document,
            head_only=request.method == "HEAD",
        )

    def _api_refuse(
        self,
        protocol: RadioProtocol,
        request: Request,
        error: AdminError,
        headers: list[tuple[str, str]],
    ) -> None:
        self._log_refusal(protocol, request, error)
        protocol.reply(
            error.status,
            [("Content-Type", JSON_CONTENT_TYPE), *_NO_CACHE, *headers],
            _json({"error": error.message}),
            head_only=request.method == "HEAD",
        )

    def _api_reply(self, protocol: RadioProtocol, request: Request, document: object) -> None:
        protocol.reply(
            200,
            [("Content-Type", JSON_CONTENT_TYPE), *_NO_CACHE],
            _json(document),
            head_only=request.method == "HEAD",
        )

    # Looking things up

    def _mount(self, params: dict[str, str]) -> Mount:
        """
        The mount Icecast's C{mount} parameter names.

        @raise AdminError: 400 C{Missing parameter} without one, 400
            C{Source does not exist} for an unknown one.
        """
        name = params.get("mount")
        if not name:
            raise AdminError(400, "Missing parameter")
        mount = self.factory.mounts.get(name)
        if mount is None:
            raise AdminError(400, "Source does not exist")
        return mount

    def _api_mount(self, params: dict[str, str]) -> Mount:
        """
        The mount the API's C{mount} parameter names, or the default mount.

        @raise AdminError: 404 for an unknown mount.
        """
        name = params.get("mount")
        if not name:
            return self.factory.default_mount
        mount = self.factory.mounts.get(name)
        if mount is None:
            raise AdminError(404, f"No such mount: {name}")
        return mount

    def _programme(self, mount: Mount) -> Programme:
        """
        The programme (library playlist) of a mount.

        @raise AdminError: 409 for a mount that plays no library.
        """
        playlist: object = mount.switch.playlist if mount.switch is not None else None
        if not isinstance(playlist, Programme):
            raise AdminError(409, f"Mount {mount.name} plays no library")
        return playlist

    # Icecast's commands

    def _listmounts(
        self,
        protocol: RadioProtocol,
        request: Request,
        params: dict[str, str],
        admin: Administrator,
    ) -> None:
        now = self._clock.seconds()
        sources = self.factory.sources
        rows = []
        for mount in list(self.factory.mounts.values()):
            if not mount.available:
                continue
            live = sources is not None and mount.name in sources.connected
            since = self._source_started.get(mount.name, self.started) if live else self.started
            rows.append(
                MountRow(
                    name=mount.name,
                    fallback=mount.config.fallback,
                    listeners=len(mount.listeners),
                    connected=max(0, int(now - since)),
                )
            )
        self._xml(protocol, request, render_listmounts(rows))

    def _listclients(
        self,
        protocol: RadioProtocol,
        request: Request,
        params: dict[str, str],
        admin: Administrator,
    ) -> None:
        mount = self._mount(params)
        now = self._clock.seconds()
        rows = [
            ClientRow(
                id=listener.id,
                ip=peer_host(listener.peer),
                user_agent=listener.user_agent,
                connected=max(0, int(now - listener.connected_at)),
                lag=max(0, listener.lag),
            )
            for listener in sorted(mount.listeners, key=lambda listener: listener.id)
        ]
        self._xml(protocol, request, render_listclients(mount.name, rows))

    def _killclient(
        self,
        protocol: RadioProtocol,
        request: Request,
        params: dict[str, str],
        admin: Administrator,
    ) -> None:
        mount = self._mount(params)
        text = params.get("id", "").strip()
        if not text:
            raise AdminError(400, "Missing parameter")
        if not _ID.fullmatch(text):
            raise AdminError(400, "Invalid client id")
        number = int(text)
        for listener in list(mount.listeners):
            if listener.id == number:
                self._log.info(
                    "Admin {user} from {peer} disconnected listener {listener} ({client}) "
                    "on {mount}",
                    user=admin.name,
                    peer=protocol.peer,
                    listener=number,
                    client=listener.peer,
                    mount=mount.name,
                )
                listener.transport.abortConnection()
                self._icecast_reply(protocol, request, 200, f"Client {number} removed", True)
                return
        self._icecast_reply(protocol, request, 200, f"Client {number} not found", False)

    def _killsource(
        self,
        protocol: RadioProtocol,
        request: Request,
        params: dict[str, str],
        admin: Administrator,
    ) -> None:
        mount = self._mount(params)
        sources = self.factory.sources
        source = sources.connected.get(mount.name) if sources is not None else None
        if source is None:
            raise AdminError(400, "Source does not exist")
        self._log.info(
            "Admin {user} from {peer} disconnected the source on {mount} ({source})",
            user=admin.name,
            peer=protocol.peer,
            mount=mount.name,
            source=source.peer,
        )
        source.disconnect()
        self._icecast_reply(protocol, request, 200, "Source Removed", True)

    def _moveclients(
        self,
        protocol: RadioProtocol,
        request: Request,
        params: dict[str, str],
        admin: Administrator,
    ) -> None:
        mount = self._mount(params)
        destination = params.get("destination")
        if not destination:
            raise AdminError(400, "Missing parameter")
        if destination == mount.name:
            raise AdminError(400, "supplied mountpoints are identical")
        target = self.factory.mounts.get(destination)
        if target is None:
            raise AdminError(400, "No such destination")
        if not target.available:
            raise AdminError(400, "Destination not running")
        listeners = sorted(mount.listeners, key=lambda listener: listener.id)
        for listener in listeners:
            mount.move_listener(listener, target, rehome=True)
        self._log.info(
            "Admin {user} from {peer} moved {count} listeners from {mount} to {target}",
            user=admin.name,
            peer=protocol.peer,
            count=len(listeners),
            mount=mount.name,
            target=target.name,
        )
        message = f"Clients moved from {mount.name} to {target.name}"
        self._icecast_reply(protocol, request, 200, message, True)

    # radiod's API

    def _skip(
        self,
        protocol: RadioProtocol,
        request: Request,
        params: dict[str, str],
        admin: Administrator,
    ) -> None:
        mount = self._api_mount(params)
        programme = self._programme(mount)
        assert mount.switch is not None
        if mount.switch.on_air:
            raise AdminError(409, f"Live audio is on air on {mount.name}; the playlist waits")
        skipped = programme.skip()
        if skipped is None:
            raise AdminError(409, f"Nothing plays on {mount.name} yet")
        self._log.info(
            "Admin {user} from {peer} skipped {title!r} on {mount}",
            user=admin.name,
            peer=protocol.peer,
            title=skipped.stream_title,
            mount=mount.name,
        )
        following = programme.next_track()
        library = programme.library
        self._api_reply(
            protocol,
            request,
            {
                "mount": mount.name,
                "skipped": track_json(skipped, library),
                "next": track_json(following, library) if following is not None else None,
            },
        )

    def _queue(
        self,
        protocol: RadioProtocol,
        request: Request,
        params: dict[str, str],
        admin: Administrator,
    ) -> None:
        mount = self._api_mount(params)
        programme = self._programme(mount)
        given = [key for key in ("id", "path") if params.get(key)]
        if len(given) != 1:
            raise AdminError(400, "Give the track's id or its path (one of them)")
        reference = params[given[0]]
        track = programme.library.find(reference)
        if track is None:
            raise AdminError(404, f"No such track in the library of {mount.name}")
        place = programme.queue(track.path)
        self._log.info(
            "Admin {user} from {peer} queued {title!r} on {mount} (place {place})",
            user=admin.name,
            peer=protocol.peer,
            title=track.stream_title,
            mount=mount.name,
            place=place,
        )
        self._api_reply(
            protocol,
            request,
            {
                "mount": mount.name,
                "queued": track_json(track, programme.library),
                "position": place,
            },
        )

    def _reload(
        self,
        protocol: RadioProtocol,
        request: Request,
        params: dict[str, str],
        admin: Administrator,
    ) -> Deferred[None]:
        if params.get("mount"):
            mount = self._api_mount(params)
            targets = [(mount.name, self._programme(mount))]
        else:
            targets = []
            for mount in list(self.factory.mounts.values()):
                playlist: object = mount.switch.playlist if mount.switch is not None else None
                if isinstance(playlist, Programme):
                    targets.append((mount.name, playlist))
            if not targets:
                raise AdminError(409, "No mount plays a library")
        self._log.info(
            "Admin {user} from {peer} asked to rescan the library of {mounts}",
            user=admin.name,
            peer=protocol.peer,
            mounts=", ".join(name for name, _ in targets),
        )
        scans = gatherResults([programme.rescan() for _, programme in targets])

        def done(_: object) -> None:
            self._api_reply(
                protocol,
                request,
                {
                    "mounts": [
                        {"mount": name, "tracks": len(programme.library.tracks)}
                        for name, programme in targets
                    ]
                },
            )

        return scans.addCallback(done)

    def _library(
        self,
        protocol: RadioProtocol,
        request: Request,
        params: dict[str, str],
        admin: Administrator,
    ) -> None:
        mount = self._api_mount(params)
        programme = self._programme(mount)
        library = programme.library
        queued = [library.find(path) for path in programme.queued]
        self._api_reply(
            protocol,
            request,
            {
                "mount": mount.name,
                "location": library.location,
                "tracks": [track_json(track, library) for track in library.tracks],
                "queued": [track_json(track, library) for track in queued if track is not None],
            },
        )


def _form_params(request: Request, body: bytes) -> dict[str, str]:
    """
    The parameters of an Icecast command: the query's, then those of a
    form body the query does not give (the first value of each).
    """
    params = {key: values[0] for key, values in request.query.items() if values}
    if body:
        for key, raw in parse_form(body).items():
            if raw and key not in params:
                params[key] = decode_value(raw[0])
    return params


def _api_params(request: Request, body: bytes) -> dict[str, str]:
    """
    The parameters of an API request: the query's, overridden by those of
    the body (a JSON object, or a form).

    @raise AdminError: 400 for a body that is neither, or a JSON value
        that is not a string.
    """
    params = {key: values[0] for key, values in request.query.items() if values}
    if not body.strip():
        return params
    content_type = (request.header("Content-Type") or "").partition(";")[0].strip().lower()
    if content_type == _FORM:
        for key, raw in parse_form(body).items():
            if raw:
                params[key] = decode_value(raw[0])
        return params
    try:
        document = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise AdminError(400, "The body is not JSON") from None
    if not isinstance(document, dict):
        raise AdminError(400, "The body is not a JSON object")
    for key, value in document.items():
        if value is None:
            continue
        if not isinstance(value, str):
            raise AdminError(400, f"{key} must be a string")
        params[key] = value
    return params
