# -*- test-case-name: tests.web.test_admin -*-
"""
The admin interface: Icecast's admin commands, and radiod's own admin API,
as resources of the station's site.

The module is one noun, the command table, and the page that serves any
of its commands.

Every command is declared once in L{COMMANDS}: its path, the methods it
takes, its dialect (how it reads its parameters and writes its answers),
the parameters it reads, and what it does.  Each sits behind the admin
login (L{radiod.web.guard.AdminLogin}): missing or wrong credentials get
a 401 with C{WWW-Authenticate} and the same body whatever was wrong,
before the method or the parameters are looked at.

Icecast's commands answer in Icecast's XML (C{text/xml}), to C{GET} and to
C{POST} with the parameters in a form body (the listings to C{HEAD} too):

  - C{/admin/listmounts}: the mounts that have audio;
  - C{/admin/listclients?mount=/m}: a mount's listeners;
  - C{/admin/killclient?mount=/m&id=N}: disconnect one listener;
  - C{/admin/killsource?mount=/m}: disconnect a mount's live source;
  - C{/admin/moveclients?mount=/m&destination=/d}: move every listener of
    a mount to another, without a break (only listener C{N} with
    C{&id=N}, as Icecast 2.5 does).

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
  - C{POST reload-config}: read the configuration again and apply it, as
    C{SIGHUP} does (when the station was started by C{twistd radiod});
  - C{GET library}: a mount's library, with each track's C{id};
  - C{GET mounts}: every mount, its source, what it plays and its
    listeners, as the admin page shows them (L{radiod.web.adminpage});
  - C{GET headcount}: each mount's listeners minute by minute over the
    last day (L{radiod.web.headcount}).

Their errors are C{{"error": "..."}} with 400, 404, 405 or 409.

The song requests waiting on a mount are seen and taken off under
C{/api/v1/admin/requests/<mount>}, behind the same login (see
L{radiod.web.requests}, whose paths name the mount and the request).

The documents listed are rendered by L{radiod.web.listings}.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from twisted.internet.defer import Deferred, gatherResults, maybeDeferred, succeed
from twisted.internet.interfaces import IReactorTime
from twisted.logger import Logger
from twisted.python.failure import Failure
from twisted.web.resource import IResource
from twisted.web.server import NOT_DONE_YET

from radiod.auth import Administrator
from radiod.broadcast.mount import Mount
from radiod.ingest.metadata import XML_CONTENT_TYPE, decode_value, icecast_reply, parse_form
from radiod.ingest.source import SourceConnection
from radiod.library.programme import Programme
from radiod.web.adminpage import describe_mounts
from radiod.web.guard import AdminLogin, Prepared
from radiod.web.headcount import Headcount
from radiod.web.listings import (
    ClientRow,
    MountRow,
    render_listclients,
    render_listmounts,
    track_json,
)
from radiod.web.monitoring import peer_host
from radiod.web.params import query
from radiod.web.site import StationRequest, StationResource, StationSite, attach
from radiod.wire.server import RadioFactory

__all__ = [
    "API",
    "API_PATHS",
    "COMMANDS",
    "ICECAST",
    "ICECAST_PATHS",
    "JSON_CONTENT_TYPE",
    "Admin",
    "AdminError",
    "Call",
    "Command",
    "CommandPage",
    "Dialect",
]

JSON_CONTENT_TYPE = "application/json; charset=utf-8"

_LISTINGS = ("GET", "HEAD", "POST")
_COMMANDS = ("GET", "POST")
_READ = ("GET", "HEAD")
_ACT = ("POST",)
_ID = re.compile(r"[0-9]{1,18}")
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
class Dialect:
    """
    How a family of admin commands reads its parameters and writes its
    answers.

    @ivar content_type: the content type of every answer.
    @ivar read: the parameters of a request, the first value of each.
    @ivar error: the body of a refusal with the given message.
    """

    content_type: str
    read: Callable[[StationRequest], dict[str, str]]
    error: Callable[[str], bytes]


@dataclass(frozen=True)
class Call:
    """
    One admin command asked for.

    @ivar admin: who asked.
    @ivar peer: from where, as logs name it.
    @ivar params: the parameters the command reads, as given.
    """

    admin: Administrator
    peer: str
    params: Mapping[str, str]


@dataclass(frozen=True)
class Command:
    """
    One admin command.

    @ivar path: where it is on the site.
    @ivar methods: the methods it takes; others are refused with C{405}.
    @ivar dialect: how it reads its parameters and answers.
    @ivar parameters: the parameters it reads.
    @ivar action: carries it out: the body of its answer, or a
        L{Deferred} that fires with it; an L{AdminError} is refused in
        the dialect.
    """

    path: str
    methods: tuple[str, ...]
    dialect: Dialect
    parameters: tuple[str, ...]
    action: Callable[[Admin, Call], bytes | Deferred[bytes]]


def _json(document: object) -> bytes:
    """
    A JSON document in UTF-8; a lone surrogate (from a file name that is
    not UTF-8) is written as its C{\\u} escape.
    """
    text = json.dumps(document, ensure_ascii=False, allow_nan=False)
    return text.encode("utf-8", "backslashreplace")


def _body(request: StationRequest) -> bytes:
    """
    The body of a C{POST} (the body of any other request is not read).
    """
    content = request.content
    if request.method != b"POST" or content is None:
        return b""
    content.seek(0)
    body: bytes = content.read()
    return body


def _icecast_params(request: StationRequest) -> dict[str, str]:
    """
    The parameters of an Icecast command: the query's, then those of a
    form body the query does not give.
    """
    params = {key: values[0] for key, values in query(request).items()}
    body = _body(request)
    if body:
        for key, raw in parse_form(body).items():
            if raw and key not in params:
                params[key] = decode_value(raw[0])
    return params


def _api_params(request: StationRequest) -> dict[str, str]:
    """
    The parameters of an API request: the query's, overridden by those of
    the body (a JSON object, or a form).

    @raise AdminError: 400 for a body that is neither, or a JSON value
        that is not a string.
    """
    params = {key: values[0] for key, values in query(request).items()}
    body = _body(request)
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


ICECAST = Dialect(XML_CONTENT_TYPE, _icecast_params, lambda message: icecast_reply(message, False))
"""
Icecast's admin commands: parameters in the query, or a form body;
answers in Icecast's XML.
"""

API = Dialect(JSON_CONTENT_TYPE, _api_params, lambda message: _json({"error": message}))
"""
radiod's admin API: parameters in the query, overridden by a JSON object
(or a form) in the body; answers in JSON.
"""


class CommandPage(StationResource):
    """
    One admin command, answering an administrator's request: the method
    checked against the command's, the parameters read in its dialect,
    the command carried out, and its answer (or its refusal, logged and
    counted) written in its dialect, never cached.
    """

    _log = Logger()

    def __init__(self, station: Admin, command: Command, admin: Administrator) -> None:
        """
        @param station: the admin interface the command acts through.
        @param command: the command.
        @param admin: who logged in.
        """
        super().__init__(station.factory)
        self.station = station
        self.command = command
        self.admin = admin

    def render(self, request: StationRequest) -> int:
        """
        Carry out the command and answer, now or once it is done.
        """
        left = request.notifyFinish()
        left.addErrback(lambda _: None)
        answer = maybeDeferred(self._run, request)
        answer.addErrback(self._refusal, request)
        answer.addCallback(self._send, request, left)
        return NOT_DONE_YET

    def _run(self, request: StationRequest) -> Deferred[bytes]:
        """
        Carry out the command, if it takes the request's method.

        @return: fires with the body of the answer.
        @raise AdminError: for another method, or bad parameters.
        """
        command = self.command
        if request.method.decode("latin-1") not in command.methods:
            raise AdminError(405, "Method not allowed")
        given = command.dialect.read(request)
        params = {name: given[name] for name in command.parameters if name in given}
        done = command.action(self.station, Call(self.admin, request.peer_name, params))
        return done if isinstance(done, Deferred) else succeed(done)

    def _refusal(self, failure: Failure, request: StationRequest) -> bytes:
        """
        The refusal of a command that could not be carried out: the
        status of its L{AdminError} (C{500} for anything else, which is
        logged), with one log line naming the client.
        """
        command = self.command
        error = failure.value
        if not isinstance(error, AdminError):
            self._log.failure(
                "Admin request {path} from {peer} failed",
                failure,
                path=command.path,
                peer=request.peer_name,
            )
            error = AdminError(500, "Internal error")
        self.factory.refused += 1
        self._log.warn(
            "Refused admin request {method} {path} from {peer}: {status} {reason}",
            method=request.method.decode("latin-1"),
            path=command.path,
            peer=request.peer_name,
            status=error.status,
            reason=error.message,
        )
        request.setResponseCode(error.status)
        if error.status == 405:
            request.setHeader("Allow", ", ".join(command.methods))
        return command.dialect.error(error.message)

    def _send(self, body: bytes, request: StationRequest, left: Deferred[None]) -> None:
        """
        Write the answer, unless the client has left.
        """
        if left.called:
            return
        request.setHeader("Content-Type", self.command.dialect.content_type)
        request.setHeader("Cache-Control", "no-cache, no-store")
        request.render(Prepared(body))


class Admin:
    """
    The admin interface of a station: puts every command of L{COMMANDS}
    on the station's site, behind the admin login, and carries them out.

    @ivar factory: the station's server, whose mounts and sources the
        commands act on and whose site they are on.
    @ivar started: clock time the station started (a playlist stream's
        start, for C{listmounts}).
    @ivar headcount: the listener counts of the last day.
    """

    _log = Logger()

    def __init__(self, clock: IReactorTime, factory: RadioFactory) -> None:
        """
        @param clock: the station's clock (connection times).
        @param factory: the server to answer admin requests on; it has
            its site (L{radiod.web.tree.station_site}).
        """
        self._clock = clock
        self.factory = factory
        self.started = clock.seconds()
        self._source_started: dict[str, float] = {}
        self.headcount = Headcount(clock, factory.mounts)
        self.reload_config: Callable[[], str | None] | None = None
        site = factory.site
        assert isinstance(site, StationSite)
        for command in COMMANDS:
            attach(site, command.path, self._login(command))
        if factory.sources is not None:
            factory.sources.on_connect.append(self._source_connected)

    def _login(self, command: Command) -> AdminLogin:
        """
        C{command}'s resource, behind the admin login.
        """

        def page(admin: Administrator) -> IResource:
            return CommandPage(self, command, admin)

        return AdminLogin(self.factory, page)

    def _source_connected(self, source: SourceConnection) -> None:
        self._source_started[source.mount] = self._clock.seconds()
        self.headcount.watch()

    # Looking things up

    def _mount(self, params: Mapping[str, str]) -> Mount:
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

    def _api_mount(self, params: Mapping[str, str]) -> Mount:
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

    def _listmounts(self, call: Call) -> bytes:
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
                    listeners=mount.audience,
                    connected=max(0, int(now - since)),
                )
            )
        return render_listmounts(rows)

    def _listclients(self, call: Call) -> bytes:
        mount = self._mount(call.params)
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
        return render_listclients(mount.name, rows)

    def _killclient(self, call: Call) -> bytes:
        mount = self._mount(call.params)
        text = call.params.get("id", "").strip()
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
                    user=call.admin.name,
                    peer=call.peer,
                    listener=number,
                    client=listener.peer,
                    mount=mount.name,
                )
                listener.transport.abortConnection()
                return icecast_reply(f"Client {number} removed", True)
        return icecast_reply(f"Client {number} not found", False)

    def _killsource(self, call: Call) -> bytes:
        mount = self._mount(call.params)
        sources = self.factory.sources
        source = sources.connected.get(mount.name) if sources is not None else None
        if source is None:
            raise AdminError(400, "Source does not exist")
        self._log.info(
            "Admin {user} from {peer} disconnected the source on {mount} ({source})",
            user=call.admin.name,
            peer=call.peer,
            mount=mount.name,
            source=source.peer,
        )
        source.disconnect()
        return icecast_reply("Source Removed", True)

    def _moveclients(self, call: Call) -> bytes:
        mount = self._mount(call.params)
        destination = call.params.get("destination")
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
        text = call.params.get("id", "").strip()
        if text:
            if not _ID.fullmatch(text):
                raise AdminError(400, "Invalid client id")
            listeners = [listener for listener in listeners if listener.id == int(text)]
            if not listeners:
                return icecast_reply(f"Client {text} not found", False)
        for listener in listeners:
            mount.move_listener(listener, target, rehome=True)
        self._log.info(
            "Admin {user} from {peer} moved {count} listeners from {mount} to {target}",
            user=call.admin.name,
            peer=call.peer,
            count=len(listeners),
            mount=mount.name,
            target=target.name,
        )
        return icecast_reply(f"Clients moved from {mount.name} to {target.name}", True)

    # radiod's API

    def _skip(self, call: Call) -> bytes:
        mount = self._api_mount(call.params)
        programme = self._programme(mount)
        assert mount.switch is not None
        if mount.switch.on_air:
            raise AdminError(409, f"Live audio is on air on {mount.name}; the playlist waits")
        skipped = programme.skip()
        if skipped is None:
            raise AdminError(409, f"Nothing plays on {mount.name} yet")
        self._log.info(
            "Admin {user} from {peer} skipped {title!r} on {mount}",
            user=call.admin.name,
            peer=call.peer,
            title=skipped.stream_title,
            mount=mount.name,
        )
        following = programme.next_track()
        library = programme.library
        return _json(
            {
                "mount": mount.name,
                "skipped": track_json(skipped, library),
                "next": track_json(following, library) if following is not None else None,
            }
        )

    def _queue(self, call: Call) -> bytes:
        mount = self._api_mount(call.params)
        programme = self._programme(mount)
        given = [key for key in ("id", "path") if call.params.get(key)]
        if len(given) != 1:
            raise AdminError(400, "Give the track's id or its path (one of them)")
        track = programme.library.find(call.params[given[0]])
        if track is None:
            raise AdminError(404, f"No such track in the library of {mount.name}")
        place = programme.queue(track.path)
        self._log.info(
            "Admin {user} from {peer} queued {title!r} on {mount} (place {place})",
            user=call.admin.name,
            peer=call.peer,
            title=track.stream_title,
            mount=mount.name,
            place=place,
        )
        return _json(
            {
                "mount": mount.name,
                "queued": track_json(track, programme.library),
                "position": place,
            }
        )

    def _reload(self, call: Call) -> Deferred[bytes]:
        if call.params.get("mount"):
            mount = self._api_mount(call.params)
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
            user=call.admin.name,
            peer=call.peer,
            mounts=", ".join(name for name, _ in targets),
        )
        scans = gatherResults([programme.rescan() for _, programme in targets])

        def done(_: object) -> bytes:
            return _json(
                {
                    "mounts": [
                        {"mount": name, "tracks": len(programme.library.tracks)}
                        for name, programme in targets
                    ]
                }
            )

        return scans.addCallback(done)

    def _reload_config(self, call: Call) -> bytes:
        reload = self.reload_config
        if reload is None:
            raise AdminError(409, "This station reads its configuration again only on SIGHUP")
        self._log.info(
            "Admin {user} from {peer} asked to read the configuration again",
            user=call.admin.name,
            peer=call.peer,
        )
        error = reload()
        if error is not None:
            raise AdminError(400, f"Reload refused, the running configuration is kept: {error}")
        return _json({"reloaded": True})

    def _library(self, call: Call) -> bytes:
        mount = self._api_mount(call.params)
        programme = self._programme(mount)
        library = programme.library
        queued = [library.find(path) for path in programme.queued]
        return _json(
            {
                "mount": mount.name,
                "location": library.location,
                "tracks": [track_json(track, library) for track in library.tracks],
                "queued": [track_json(track, library) for track in queued if track is not None],
            }
        )

    def _mounts(self, call: Call) -> bytes:
        now = self._clock.seconds()
        return _json(describe_mounts(self.factory, now, self._source_started))

    def _headcount(self, call: Call) -> bytes:
        return _json(self.headcount.describe())


COMMANDS = (
    Command("/admin/listmounts", _LISTINGS, ICECAST, (), Admin._listmounts),
    Command("/admin/listclients", _LISTINGS, ICECAST, ("mount",), Admin._listclients),
    Command("/admin/killclient", _COMMANDS, ICECAST, ("mount", "id"), Admin._killclient),
    Command("/admin/killsource", _COMMANDS, ICECAST, ("mount",), Admin._killsource),
    Command(
        "/admin/moveclients", _COMMANDS, ICECAST, ("mount", "destination", "id"), Admin._moveclients
    ),
    Command("/api/v1/admin/skip", _ACT, API, ("mount",), Admin._skip),
    Command("/api/v1/admin/queue", _ACT, API, ("mount", "id", "path"), Admin._queue),
    Command("/api/v1/admin/reload", _ACT, API, ("mount",), Admin._reload),
    Command("/api/v1/admin/reload-config", _ACT, API, (), Admin._reload_config),
    Command("/api/v1/admin/library", _READ, API, ("mount",), Admin._library),
    Command("/api/v1/admin/mounts", _READ, API, (), Admin._mounts),
    Command("/api/v1/admin/headcount", _READ, API, (), Admin._headcount),
)
"""
Every admin command radiod answers (besides C{/admin/metadata},
L{radiod.web.titles}; C{/admin/stats}, L{radiod.web.monitoring};
C{/api/v1/admin/requests}, L{radiod.web.requests}; and the admin page,
C{/admin/}, L{radiod.web.adminpage}).
"""

ICECAST_PATHS = tuple(command.path for command in COMMANDS if command.dialect is ICECAST)
"""
Icecast's admin commands that radiod answers.
"""

API_PATHS = tuple(command.path for command in COMMANDS if command.dialect is API)
"""
radiod's own admin API.
"""
