"""
Tests for L{radiod.web.admin}, L{radiod.web.listings} and
L{radiod.web.guard}: Icecast's admin commands and radiod's admin API, on an
in-memory station driven by a L{Clock}.
"""

from __future__ import annotations

import base64
import json
import os
from collections.abc import Callable
from typing import Any

from twisted.internet.address import IPv4Address
from twisted.internet.defer import Deferred
from twisted.internet.error import ConnectionDone
from twisted.internet.task import Clock
from twisted.internet.testing import StringTransport
from twisted.logger import capturedLogs, formatEvent
from twisted.python.failure import Failure
from twisted.trial.unittest import SynchronousTestCase
from twisted.web.resource import IResource, Resource

from radiod.audio.track import TrackInfo
from radiod.auth import Administrator
from radiod.broadcast.mount import Mount
from radiod.broadcast.switch import Switch
from radiod.config import MountConfig, StationConfig
from radiod.library.library import Library, track_id
from radiod.library.programme import Programme
from radiod.testing import (
    Connection,
    FakeFrameSource,
    Reply,
    parse_reply,
    silent_frame,
    synchronous_runner,
)
from radiod.web.admin import (
    API,
    API_PATHS,
    ICECAST,
    ICECAST_PATHS,
    Admin,
    Call,
    Command,
    CommandPage,
)
from radiod.web.guard import AdminLogin
from radiod.web.listings import (
    ClientRow,
    MountRow,
    render_listclients,
    render_listmounts,
    track_json,
)
from radiod.web.monitoring import Monitoring
from radiod.web.requests import ADMIN_REQUESTS_PATH
from radiod.web.site import StationChannel, StationSite, attach
from radiod.web.tree import station_site
from radiod.wire.server import RadioFactory, RadioProtocol

ADMIN_PASSWORD = "adm1n-Pa55"
SOURCE_PASSWORD = "s0urce-Pa55"
FRAME = silent_frame()
LIVE_FRAME = silent_frame(fill=0x55)
UNAUTHORISED_BODY = b"401 You need to authenticate\n"


def basic(user: str = "admin", password: str = ADMIN_PASSWORD) -> str:
    """
    An C{Authorization} header line for HTTP Basic credentials.
    """
    token = base64.b64encode(f"{user}:{password}".encode()).decode()
    return f"Authorization: Basic {token}\r\n"


def iceresponse(message: str, success: bool) -> bytes:
    """
    Icecast's reply body for an admin command.
    """
    flag = 1 if success else 0
    return (
        f'<?xml version="1.0"?>\n<iceresponse><message>{message}</message>'
        f"<return>{flag}</return></iceresponse>"
    ).encode()


def write_track(folder: str, name: str, frames: int) -> str:
    """
    Write an MP3 file of C{frames} silent frames; return its path.
    """
    path = os.path.join(folder, name)
    with open(path, "wb") as f:
        f.write(FRAME.data * frames)
    return path


class Station:
    """
    A station on a L{Clock} with the admin interface: C{/stream} plays a
    library of three tracks (C{a.mp3}, C{b.mp3}, C{c.mp3}, about ten
    seconds each), C{/other} plays scripted frames (no library), and
    C{/live} is a live-only mount with no source.
    """

    def __init__(self, test: SynchronousTestCase, admin_password: str = ADMIN_PASSWORD):
        self.test = test
        self.clock = Clock()
        self.folder = os.path.abspath(test.mktemp())
        os.makedirs(self.folder)
        for name in ("a.mp3", "b.mp3", "c.mp3"):
            write_track(self.folder, name, 400)
        stream = MountConfig(name="/stream", burst_size=0, metaint=1000)
        other = MountConfig(name="/other", burst_size=0)
        live = MountConfig(name="/live", live_only=True, fallback="/stream")
        self.config = StationConfig(
            mounts=(stream, other, live),
            source_password=SOURCE_PASSWORD,
            admin_password=admin_password,
            # In-memory connections are never closed: no per-address cap.
            max_per_address=0,
        )
        self.programme = Programme(
            Library(self.folder, synchronous_runner),
            self.clock,
            synchronous_runner,
            rescan_interval=0,
            name="/stream",
        )
        song = TrackInfo("/x/other.mp3", "Other Song", "Other Artist")
        self.mounts = {
            "/stream": Mount(stream, self.programme, self.clock),
            "/other": Mount(other, FakeFrameSource([(song, FRAME, 100000)]), self.clock),
            "/live": Mount(live, Switch(None, name="/live"), self.clock),
        }
        for mount in self.mounts.values():
            mount.start()
            test.addCleanup(mount.stop)
        self.factory = RadioFactory(self.clock, self.config, self.mounts, accept_sources=True)
        # Failed logins here are about the answer, not its delay (which
        # tests.wire.test_limits covers): never throttle them.
        self.factory.throttle.free = 10**6
        assert self.factory.sources is not None
        test.addCleanup(self.factory.sources.stop)
        station_site(self.factory, self.clock)
        self.admin = Admin(self.clock, self.factory)
        self.monitoring = Monitoring(
            self.clock, synchronous_runner, self.factory, process_metrics=False
        )
        self.ports = iter(range(40000, 50000))
        self.clock.pump([0.1] * 5)

    def connect(self) -> Connection[RadioProtocol]:
        return Connection(self.factory, next(self.ports))

    def request(
        self,
        method: str,
        target: str,
        credentials: str | None = None,
        body: bytes = b"",
        headers: str = "",
    ) -> Reply:
        """
        Send one request (with the admin credentials unless others are
        given) and return the complete reply.
        """
        if credentials is None:
            credentials = basic()
        length = f"Content-Length: {len(body)}\r\n" if body else ""
        head = f"{method} {target} HTTP/1.0\r\n{credentials}{headers}{length}\r\n"
        connection = self.connect()
        data = connection.send(head.encode("utf-8") + body)
        self.test.assertTrue(connection.closed, data)
        return parse_reply(data)

    def api(self, path: str, document: object = None, method: str = "POST") -> Reply:
        """
        Call the admin API with a JSON body.
        """
        body = b"" if document is None else json.dumps(document).encode()
        headers = "Content-Type: application/json\r\n" if body else ""
        return self.request(method, path, body=body, headers=headers)

    def listen(
        self, mount: str = "/stream", user_agent: str | None = "VLC/3.0.18"
    ) -> Connection[RadioProtocol]:
        """
        Connect a listener to C{mount}.
        """
        connection = self.connect()
        agent = f"User-Agent: {user_agent}\r\n" if user_agent is not None else ""
        reply = connection.send(f"GET {mount} HTTP/1.0\r\n{agent}\r\n".encode())
        self.test.assertTrue(reply.startswith(b"HTTP/1.0 200 OK\r\n"), reply)
        return connection

    def go_live(self, mount: str = "/stream") -> Connection[RadioProtocol]:
        """
        Connect a live source to C{mount} and play it for a second.
        """
        source = self.connect()
        token = base64.b64encode(f"source:{SOURCE_PASSWORD}".encode()).decode()
        head = f"SOURCE {mount} HTTP/1.0\r\nAuthorization: Basic {token}\r\n\r\n"
        source.send(head.encode() + LIVE_FRAME.data * 30)
        for _ in range(10):
            source.send(LIVE_FRAME.data * 4)
            self.clock.advance(0.1)
        return source

    def channel(self, request: bytes) -> tuple[StationChannel, StringTransport]:
        """
        Hand C{request} to the station's site on a connection of its own,
        as the stream server does.
        """
        site = self.factory.site
        assert isinstance(site, StationSite)
        transport = StringTransport(peerAddress=IPv4Address("TCP", "192.0.2.9", 1))
        channel = site.channel("192.0.2.9", "192.0.2.9:1", transport.getPeer())
        channel.makeConnection(transport)
        channel.dataReceived(request)
        return channel, transport

    def add(self, path: str, resource: Callable[[Administrator], IResource]) -> None:
        """
        Put C{resource} at C{path} on the station's site, behind the admin
        login.
        """
        site = self.factory.site
        assert isinstance(site, StationSite)
        attach(site, path, AdminLogin(self.factory, resource))

    def add_command(self, command: Command) -> None:
        """
        Answer C{command} too, as the station's own commands are.
        """

        def page(admin: Administrator) -> IResource:
            return CommandPage(self.admin, command, admin)

        self.add(command.path, page)

    def now_playing(self, mount: str = "/stream") -> str:
        track = self.mounts[mount].now_playing
        assert track is not None
        return os.path.basename(track.path)


def json_body(reply: Reply) -> Any:
    """
    The JSON document of an API reply, checking its content type.
    """
    assert reply.headers["content-type"] == "application/json; charset=utf-8", reply
    return json.loads(reply.body)


class RenderTests(SynchronousTestCase):
    """
    The XML documents of C{listclients} and C{listmounts}, and the JSON
    form of a track.
    """

    def test_listclients(self) -> None:
        """
        C{listclients} is Icecast's document: the mount, C{Listeners}, and
        per listener C{IP}, C{UserAgent}, C{Connected}, C{ID} (plus
        C{lag}); a listener without a user agent is C{Unknown}.
        """
        document = render_listclients(
            "/live.mp3",
            [
                ClientRow(35, "127.0.0.1", "Lavf/59.27.100", 1, 0),
                ClientRow(36, "::1", "", 20, 4096),
            ],
        )
        self.assertEqual(
            document,
            b'<?xml version="1.0"?>\n<icestats><source mount="/live.mp3">'
            b"<Listeners>2</Listeners>"
            b"<listener><IP>127.0.0.1</IP><UserAgent>Lavf/59.27.100</UserAgent>"
            b"<Connected>1</Connected><ID>35</ID><lag>0</lag></listener>"
            b"<listener><IP>::1</IP><UserAgent>Unknown</UserAgent>"
            b"<Connected>20</Connected><ID>36</ID><lag>4096</lag></listener>"
            b"</source></icestats>\n",
        )

    def test_listclients_escaped(self) -> None:
        """
        Text is escaped, and characters XML cannot carry are replaced, so
        the document stays well-formed whatever a client sends.
        """
        document = render_listclients('/a"b', [ClientRow(1, "x", "<&>\x01\ud800", 0, 0)])
        self.assertIn(b'<source mount="/a&quot;b">', document)
        self.assertIn("<UserAgent>&lt;&amp;&gt;\ufffd\ufffd</UserAgent>".encode(), document)

    def test_listclients_empty(self) -> None:
        """
        A mount without listeners has C{Listeners} 0 and nothing else.
        """
        self.assertEqual(
            render_listclients("/m", []),
            b'<?xml version="1.0"?>\n<icestats><source mount="/m">'
            b"<Listeners>0</Listeners></source></icestats>\n",
        )

    def test_listmounts(self) -> None:
        """
        C{listmounts} has a C{source} per mount with C{fallback},
        C{listeners}, C{Connected} and C{content-type}.
        """
        document = render_listmounts(
            [MountRow("/live.mp3", "", 1, 34), MountRow("/show", "/live.mp3", 0, 5)]
        )
        self.assertEqual(
            document,
            b'<?xml version="1.0"?>\n<icestats>'
            b'<source mount="/live.mp3"><fallback></fallback><listeners>1</listeners>'
            b"<Connected>34</Connected><content-type>audio/mpeg</content-type></source>"
            b'<source mount="/show"><fallback>/live.mp3</fallback><listeners>0</listeners>'
            b"<Connected>5</Connected><content-type>audio/mpeg</content-type></source>"
            b"</icestats>\n",
        )

    def test_track_json(self) -> None:
        """
        A track has its id, its path in the library, its tags, and its
        duration (C{None} when unknown).
        """
        library = Library("/music", synchronous_runner)
        track = TrackInfo("/music/x/a.mp3", "A", "Artist", "Album", 61.23456)
        self.assertEqual(
            track_json(track, library),
            {
                "id": track_id("/music/x/a.mp3"),
                "path": os.path.join("x", "a.mp3"),
                "title": "A",
                "artist": "Artist",
                "album": "Album",
                "duration": 61.235,
            },
        )
        unknown = TrackInfo("/elsewhere/b.mp3", "B")
        self.assertEqual(track_json(unknown, library)["duration"], None)
        self.assertEqual(track_json(unknown, library)["path"], "/elsewhere/b.mp3")


class AuthenticationTests(SynchronousTestCase):
    """
    Every admin request needs the admin credentials; whatever is wrong
    with them, the refusal is the same.
    """

    def test_wrong_credentials_identical(self) -> None:
        """
        No credentials, malformed ones, a wrong password, a wrong user or
        the source's credentials all get the same 401 with
        C{WWW-Authenticate}, on every admin path, before the parameters
        are looked at; nothing changes and no password is logged.
        """
        station = Station(self)
        listener = station.listen()
        paths = [
            *ICECAST_PATHS,
            *API_PATHS,
            "/admin/stats",
            f"{ADMIN_REQUESTS_PATH}/stream",
            f"{ADMIN_REQUESTS_PATH}/stream/1",
        ]
        attempts = [
            "",
            "Authorization: Basic\r\n",
            "Authorization: Basic !!not-base64!!\r\n",
            "Authorization: Bearer wrong-pw-1\r\n",
            basic("admin", "wrong-pw-2"),
            basic("root", ADMIN_PASSWORD),
            basic("admin", ADMIN_PASSWORD + "x"),
            basic("source", SOURCE_PASSWORD),
            basic("admin", ""),
        ]
        replies = set()
        with capturedLogs() as events:
            for path in paths:
                for attempt in attempts:
                    for method in ("GET", "POST"):
                        target = f"{path}?mount=/nowhere&id=1&destination=/other"
                        reply = station.request(method, target, attempt)
                        self.assertEqual(reply.status, 401, (path, attempt))
                        self.assertEqual(reply.headers["www-authenticate"], 'Basic realm="radiod"')
                        replies.add((reply.headers["content-type"], reply.body))
        self.assertEqual(replies, {("text/plain; charset=utf-8", UNAUTHORISED_BODY)})
        self.assertFalse(listener.transport.disconnecting)
        self.assertEqual(len(station.mounts["/stream"].listeners), 1)
        text = "\n".join(formatEvent(event) + repr(event) for event in events)
        for secret in ("wrong-pw", ADMIN_PASSWORD, SOURCE_PASSWORD):
            self.assertNotIn(secret, text)

    def test_password_not_logged(self) -> None:
        """
        Successful admin requests log what was done and by whom, never
        the password.
        """
        station = Station(self)
        listener = station.listen()
        assert listener.protocol.listener is not None
        number = listener.protocol.listener.id
        with capturedLogs() as events:
            station.request("GET", "/admin/listclients?mount=/stream")
            station.request("GET", f"/admin/killclient?mount=/stream&id={number}")
            station.api("/api/v1/admin/skip")
        text = "\n".join(formatEvent(event) + repr(event) for event in events)
        self.assertNotIn(ADMIN_PASSWORD, text)
        self.assertIn("Admin admin from 192.0.2.9:", text)
        self.assertIn(f"disconnected listener {number}", text)

    def test_no_admin_password(self) -> None:
        """
        A station built without an admin password refuses every admin
        request, even one with an empty password.
        """
        station = Station(self, admin_password="")
        for path in ICECAST_PATHS:
            reply = station.request("GET", f"{path}?mount=/stream", basic("admin", ""))
            self.assertEqual(reply.status, 401)


class Broken(Resource):
    """
    A resource that fails to render.
    """

    isLeaf = True

    def render(self, request: object) -> bytes:
        raise RuntimeError("broken")


class GuardTests(SynchronousTestCase):
    """
    The admin login in front of every admin resource, and the commands'
    own answers to what goes wrong.
    """

    def test_throttled(self) -> None:
        """
        After a few wrong passwords from one address, the refusal comes
        later (logged at once, with the delay); a request without
        credentials, and the right password, are answered at once.
        """
        station = Station(self)
        station.factory.throttle.free = 1
        wrong = basic("admin", "wrong-pw")
        self.assertEqual(station.request("GET", "/admin/listmounts", wrong).status, 401)
        late = station.connect()
        with capturedLogs() as events:
            self.assertEqual(
                late.send(f"GET /admin/listmounts HTTP/1.0\r\n{wrong}\r\n".encode()), b""
            )
        self.assertEqual([event["status"] for event in events if "status" in event], [401])
        self.assertIn("answering in 1 s", "\n".join(formatEvent(event) for event in events))
        self.assertEqual(station.request("GET", "/admin/listmounts", "").status, 401)
        self.assertEqual(station.request("GET", "/admin/listmounts").status, 200)
        station.clock.advance(1)
        reply = parse_reply(bytes(late.transport.value()))
        self.assertEqual((reply.status, reply.body), (401, UNAUTHORISED_BODY))
        self.assertEqual(reply.headers["www-authenticate"], 'Basic realm="radiod"')
        self.assertTrue(late.transport.disconnecting)

    def test_departed(self) -> None:
        """
        A client that leaves while its refusal waits is not answered.
        """
        station = Station(self)
        station.factory.throttle.free = 0
        request = f"GET /admin/listmounts HTTP/1.0\r\n{basic('admin', 'x')}\r\n".encode()
        channel, transport = station.channel(request)
        channel.connectionLost(Failure(ConnectionDone()))
        station.clock.advance(20)
        self.assertEqual(transport.value(), b"")

    def test_resource_fails(self) -> None:
        """
        A resource behind the login that fails to render is a 500, and
        the failure is logged.
        """
        station = Station(self)
        station.add("/admin/broken", lambda admin: Broken())
        self.assertEqual(station.request("GET", "/admin/broken").status, 500)
        self.assertEqual(len(self.flushLoggedErrors(RuntimeError)), 1)

    def test_command_fails(self) -> None:
        """
        A command that fails unexpectedly, at once or later, is a 500 in
        its dialect, and the failure is logged.
        """
        station = Station(self)
        later: Deferred[bytes] = Deferred()

        def broken(admin: Admin, call: Call) -> bytes:
            raise RuntimeError("broken")

        station.add_command(Command("/admin/broken", ("GET",), ICECAST, (), broken))
        station.add_command(
            Command("/api/v1/admin/later", ("POST",), API, (), lambda admin, call: later)
        )
        reply = station.request("GET", "/admin/broken")
        self.assertEqual((reply.status, reply.body), (500, iceresponse("Internal error", False)))
        connection = station.connect()
        self.assertEqual(
            connection.send(b"POST /api/v1/admin/later HTTP/1.0\r\n" + basic().encode() + b"\r\n"),
            b"",
        )
        later.errback(RuntimeError("broken later"))
        reply = parse_reply(bytes(connection.transport.value()))
        self.assertEqual((reply.status, json_body(reply)), (500, {"error": "Internal error"}))
        self.assertEqual(len(self.flushLoggedErrors(RuntimeError)), 2)

    def test_command_departed(self) -> None:
        """
        A client that leaves before a command's answer is ready is not
        answered; the command still finishes.
        """
        station = Station(self)
        later: Deferred[bytes] = Deferred()
        station.add_command(
            Command("/api/v1/admin/later", ("POST",), API, (), lambda admin, call: later)
        )
        request = b"POST /api/v1/admin/later HTTP/1.0\r\n" + basic().encode() + b"\r\n"
        channel, transport = station.channel(request)
        channel.connectionLost(Failure(ConnectionDone()))
        later.callback(b"{}")
        self.assertEqual(transport.value(), b"")


class ListMountsTests(SynchronousTestCase):
    """
    C{/admin/listmounts} lists the mounts that have audio.
    """

    def test_listing(self) -> None:
        """
        Mounts with audio are listed with their fallback, listeners and
        seconds since their stream started; a live-only mount between
        shows is not listed.
        """
        station = Station(self)
        station.listen()
        station.listen()
        station.listen("/other")
        station.clock.advance(42)
        reply = station.request("GET", "/admin/listmounts")
        self.assertEqual(reply.status, 200)
        self.assertEqual(reply.headers["content-type"], "text/xml; charset=utf-8")
        self.assertEqual(
            reply.body,
            render_listmounts([MountRow("/stream", "", 2, 42), MountRow("/other", "", 1, 42)]),
        )

    def test_live_source(self) -> None:
        """
        A mount with a live source counts from when the source connected,
        and a live-only mount is listed while it has one.
        """
        station = Station(self)
        station.clock.advance(100)
        station.go_live("/live")
        station.clock.advance(9.5)
        reply = station.request("GET", "/admin/listmounts")
        self.assertIn(
            b'<source mount="/live"><fallback>/stream</fallback><listeners>0</listeners>'
            b"<Connected>10</Connected>",
            reply.body,
        )

    def test_head(self) -> None:
        """
        C{HEAD} gets the headers only; C{POST} works as C{GET}.
        """
        station = Station(self)
        reply = station.request("HEAD", "/admin/listmounts")
        self.assertEqual((reply.status, reply.body), (200, b""))
        self.assertNotEqual(reply.headers["content-length"], "0")
        self.assertEqual(station.request("POST", "/admin/listmounts").status, 200)


class ListClientsTests(SynchronousTestCase):
    """
    C{/admin/listclients?mount=} lists a mount's listeners.
    """

    def test_listing(self) -> None:
        """
        Each listener of the mount is listed, in connection order, with
        its address, user agent, seconds connected and id.
        """
        station = Station(self)
        first = station.listen(user_agent="Lavf/59.27.100")
        station.clock.advance(5)
        second = station.listen(user_agent=None)
        station.listen("/other")
        station.clock.advance(2.5)
        reply = station.request("GET", "/admin/listclients?mount=%2Fstream")
        self.assertEqual(reply.status, 200)
        self.assertEqual(reply.headers["content-type"], "text/xml; charset=utf-8")
        listeners = [first.protocol.listener, second.protocol.listener]
        assert listeners[0] is not None and listeners[1] is not None
        expected = render_listclients(
            "/stream",
            [
                ClientRow(listeners[0].id, "192.0.2.9", "Lavf/59.27.100", 7, listeners[0].lag),
                ClientRow(listeners[1].id, "192.0.2.9", "", 2, listeners[1].lag),
            ],
        )
        self.assertEqual(reply.body, expected)

    def test_errors(self) -> None:
        """
        A missing, empty or unknown mount gets Icecast's 400 replies.
        """
        station = Station(self)
        cases = [
            ("/admin/listclients", "Missing parameter"),
            ("/admin/listclients?mount", "Missing parameter"),
            ("/admin/listclients?mount=&id=1", "Missing parameter"),
            ("/admin/listclients?mount=/nowhere", "Source does not exist"),
            ("/admin/listclients?mount=%zz&&=", "Source does not exist"),
            ("/admin/listclients?mount=stream", "Source does not exist"),
        ]
        for target, message in cases:
            reply = station.request("GET", target)
            self.assertEqual(reply.status, 400, target)
            self.assertEqual(reply.headers["content-type"], "text/xml; charset=utf-8")
            self.assertEqual(reply.body, iceresponse(message, False), target)

    def test_wrong_method(self) -> None:
        """
        Methods other than C{GET}, C{HEAD} and C{POST} get a 405 in
        Icecast's form with C{Allow}.
        """
        station = Station(self)
        for method in ("PUT", "DELETE", "PATCH"):
            reply = station.request(method, "/admin/listclients?mount=/stream")
            self.assertEqual(reply.status, 405)
            self.assertEqual(reply.headers["allow"], "GET, HEAD, POST")
            self.assertEqual(reply.body, iceresponse("Method not allowed", False))


class KillClientTests(SynchronousTestCase):
    """
    C{/admin/killclient?mount=&id=} disconnects one listener.
    """

    def test_removed(self) -> None:
        """
        The listener with that id is disconnected at once; the others
        keep listening.
        """
        station = Station(self)
        doomed = station.listen()
        other = station.listen()
        assert doomed.protocol.listener is not None
        number = doomed.protocol.listener.id
        reply = station.request("GET", f"/admin/killclient?mount=/stream&id={number}")
        self.assertEqual(reply.status, 200)
        self.assertEqual(reply.body, iceresponse(f"Client {number} removed", True))
        self.assertTrue(doomed.transport.disconnecting)
        self.assertFalse(other.transport.disconnecting)

    def test_form_body(self) -> None:
        """
        The parameters may come in a C{POST} form body.
        """
        station = Station(self)
        doomed = station.listen()
        assert doomed.protocol.listener is not None
        number = doomed.protocol.listener.id
        body = f"mount=%2Fstream&id={number}".encode()
        form = "Content-Type: application/x-www-form-urlencoded\r\n"
        reply = station.request("POST", "/admin/killclient", body=body, headers=form)
        self.assertEqual(reply.body, iceresponse(f"Client {number} removed", True))
        self.assertTrue(doomed.transport.disconnecting)

    def test_not_found(self) -> None:
        """
        An id no listener of that mount has gets Icecast's C{Client N not
        found} (status 200, return 0), also for a listener of another
        mount.
        """
        station = Station(self)
        elsewhere = station.listen("/other")
        assert elsewhere.protocol.listener is not None
        for number in (99999, elsewhere.protocol.listener.id):
            reply = station.request("GET", f"/admin/killclient?mount=/stream&id={number}")
            self.assertEqual(reply.status, 200)
            self.assertEqual(reply.body, iceresponse(f"Client {number} not found", False))
        self.assertFalse(elsewhere.transport.disconnecting)

    def test_bad_parameters(self) -> None:
        """
        A missing or non-numeric id, or a missing or unknown mount, gets a
        400 in Icecast's form.
        """
        station = Station(self)
        listener = station.listen()
        cases = [
            ("mount=/stream", "Missing parameter"),
            ("mount=/stream&id=", "Missing parameter"),
            ("mount=/stream&id=abc", "Invalid client id"),
            ("mount=/stream&id=-1", "Invalid client id"),
            ("mount=/stream&id=1.5", "Invalid client id"),
            ("mount=/stream&id=1e3", "Invalid client id"),
            ("mount=/stream&id=99999999999999999999999", "Invalid client id"),
            ("id=1", "Missing parameter"),
            ("mount=/nowhere&id=1", "Source does not exist"),
        ]
        for query, message in cases:
            reply = station.request("GET", f"/admin/killclient?{query}")
            self.assertEqual(reply.status, 400, query)
            self.assertEqual(reply.body, iceresponse(message, False), query)
        self.assertFalse(listener.transport.disconnecting)

    def test_wrong_method(self) -> None:
        """
        C{HEAD} (which must not act) and other methods get a 405.
        """
        station = Station(self)
        for method in ("HEAD", "PUT", "DELETE"):
            reply = station.request(method, "/admin/killclient?mount=/stream&id=1")
            self.assertEqual(reply.status, 405, method)
            self.assertEqual(reply.headers["allow"], "GET, POST")


class KillSourceTests(SynchronousTestCase):
    """
    C{/admin/killsource?mount=} disconnects a mount's live source.
    """

    def test_removed(self) -> None:
        """
        The live source is disconnected and the mount plays on without
        it.
        """
        station = Station(self)
        source = station.go_live()
        assert station.factory.sources is not None
        self.assertIn("/stream", station.factory.sources.connected)
        reply = station.request("GET", "/admin/killsource?mount=/stream")
        self.assertEqual(reply.status, 200)
        self.assertEqual(reply.body, iceresponse("Source Removed", True))
        self.assertTrue(source.transport.disconnecting)
        self.assertNotIn("/stream", station.factory.sources.connected)

    def test_no_source(self) -> None:
        """
        A mount without a live source, or no mount, gets Icecast's 400.
        """
        station = Station(self)
        for query, message in [
            ("mount=/stream", "Source does not exist"),
            ("mount=/nowhere", "Source does not exist"),
            ("", "Missing parameter"),
        ]:
            reply = station.request("GET", f"/admin/killsource?{query}")
            self.assertEqual(reply.status, 400)
            self.assertEqual(reply.body, iceresponse(message, False))


class MoveClientsTests(SynchronousTestCase):
    """
    C{/admin/moveclients?mount=&destination=} moves every listener of a
    mount to another.
    """

    def test_moved(self) -> None:
        """
        The listeners go on from the destination on the same connection,
        and it becomes their home.
        """
        station = Station(self)
        listeners = [station.listen(), station.listen()]
        reply = station.request("GET", "/admin/moveclients?mount=/stream&destination=/other")
        self.assertEqual(reply.status, 200)
        self.assertEqual(reply.body, iceresponse("Clients moved from /stream to /other", True))
        self.assertEqual(station.mounts["/stream"].listeners, set())
        moved = {connection.protocol.listener for connection in listeners}
        self.assertEqual(station.mounts["/other"].listeners, moved)
        for connection in listeners:
            self.assertFalse(connection.transport.disconnecting)
            assert connection.protocol.listener is not None
            self.assertEqual(connection.protocol.listener.home, "/other")
        sent = [len(connection.transport.value()) for connection in listeners]
        station.clock.advance(1)
        self.assertTrue(
            all(len(c.transport.value()) > s for c, s in zip(listeners, sent, strict=True))
        )

    def test_errors(self) -> None:
        """
        A missing destination, the same mount, an unknown destination and
        one with nothing playing get Icecast's 400s; nobody moves.
        """
        station = Station(self)
        station.listen()
        cases = [
            ("mount=/stream", "Missing parameter"),
            ("destination=/other", "Missing parameter"),
            ("mount=/stream&destination=/stream", "supplied mountpoints are identical"),
            ("mount=/stream&destination=/nowhere", "No such destination"),
            ("mount=/stream&destination=/live", "Destination not running"),
            ("mount=/nowhere&destination=/other", "Source does not exist"),
        ]
        for query, message in cases:
            reply = station.request("GET", f"/admin/moveclients?{query}")
            self.assertEqual(reply.status, 400, query)
            self.assertEqual(reply.body, iceresponse(message, False), query)
        self.assertEqual(len(station.mounts["/stream"].listeners), 1)


class SkipTests(SynchronousTestCase):
    """
    C{POST /api/v1/admin/skip} moves a mount's playlist to its next track.
    """

    def test_skip(self) -> None:
        """
        The reply names the track skipped and the next; the next tick
        plays the next track.
        """
        station = Station(self)
        self.assertEqual(station.now_playing(), "a.mp3")
        reply = station.api("/api/v1/admin/skip", {"mount": "/stream"})
        self.assertEqual(reply.status, 200)
        document = json_body(reply)
        self.assertEqual(document["mount"], "/stream")
        self.assertEqual(document["skipped"]["path"], "a.mp3")
        self.assertEqual(document["next"]["path"], "b.mp3")
        self.assertEqual(document["next"]["id"], track_id(os.path.join(station.folder, "b.mp3")))
        station.clock.advance(0.1)
        self.assertEqual(station.now_playing(), "b.mp3")

    def test_default_mount(self) -> None:
        """
        Without a mount, the default mount's playlist skips; an empty
        body and a form body work too.
        """
        station = Station(self)
        self.assertEqual(station.request("POST", "/api/v1/admin/skip").status, 200)
        station.clock.advance(0.1)
        self.assertEqual(station.now_playing(), "b.mp3")
        form = "Content-Type: application/x-www-form-urlencoded\r\n"
        reply = station.request("POST", "/api/v1/admin/skip", body=b"mount=%2Fstream", headers=form)
        self.assertEqual(json_body(reply)["skipped"]["path"], "b.mp3")

    def test_errors(self) -> None:
        """
        An unknown mount is a 404, a mount without a library a 409, and a
        body that is not a JSON object of strings a 400, all as JSON.
        """
        station = Station(self)
        cases: list[tuple[object, int, str]] = [
            ({"mount": "/nowhere"}, 404, "No such mount: /nowhere"),
            ({"mount": "/other"}, 409, "Mount /other plays no library"),
            ({"mount": "/live"}, 409, "Mount /live plays no library"),
            ([1, 2], 400, "The body is not a JSON object"),
            ({"mount": 5}, 400, "mount must be a string"),
        ]
        for document, status, message in cases:
            reply = station.api("/api/v1/admin/skip", document)
            self.assertEqual(reply.status, status, document)
            self.assertEqual(json_body(reply), {"error": message})
        broken = station.request("POST", "/api/v1/admin/skip", body=b"{not json")
        self.assertEqual(
            (broken.status, json_body(broken)), (400, {"error": "The body is not JSON"})
        )
        self.assertEqual(station.now_playing(), "a.mp3")

    def test_live_on_air(self) -> None:
        """
        While a live source (or a relay) is on air the playlist waits: 409.
        """
        station = Station(self)
        station.go_live()
        reply = station.api("/api/v1/admin/skip", {"mount": "/stream"})
        self.assertEqual(reply.status, 409)
        message = "Live audio is on air on /stream; the playlist waits"
        self.assertEqual(json_body(reply), {"error": message})

    def test_wrong_method(self) -> None:
        """
        Actions take C{POST} only: others get a JSON 405 with C{Allow}.
        """
        station = Station(self)
        for method in ("GET", "HEAD", "PUT", "DELETE"):
            reply = station.request(method, "/api/v1/admin/skip")
            self.assertEqual(reply.status, 405, method)
            self.assertEqual(reply.headers["allow"], "POST")
            if method != "HEAD":
                self.assertEqual(json_body(reply), {"error": "Method not allowed"})
        self.assertEqual(station.now_playing(), "a.mp3")


class QueueTests(SynchronousTestCase):
    """
    C{POST /api/v1/admin/queue} plays a library track next.
    """

    def test_by_id(self) -> None:
        """
        A track queued by id plays after the current one.
        """
        station = Station(self)
        wanted = track_id(os.path.join(station.folder, "c.mp3"))
        reply = station.api("/api/v1/admin/queue", {"mount": "/stream", "id": wanted})
        self.assertEqual(reply.status, 200)
        document = json_body(reply)
        self.assertEqual(document["queued"]["path"], "c.mp3")
        self.assertEqual(document["position"], 1)
        station.api("/api/v1/admin/skip")
        station.clock.advance(0.1)
        self.assertEqual(station.now_playing(), "c.mp3")

    def test_by_path(self) -> None:
        """
        Tracks may be named by their path in the library or their
        absolute path; each is told its place.
        """
        station = Station(self)
        first = station.api("/api/v1/admin/queue", {"path": "c.mp3"})
        self.assertEqual(json_body(first)["position"], 1)
        absolute = os.path.join(station.folder, "a.mp3")
        second = station.api("/api/v1/admin/queue", {"mount": "/stream", "path": absolute})
        self.assertEqual(json_body(second)["position"], 2)
        self.assertEqual(
            station.programme.queued, [os.path.join(station.folder, "c.mp3"), absolute]
        )

    def test_outside_library(self) -> None:
        """
        Paths outside the library, files that are not tracks and unknown
        ids are 404s, and nothing is queued.
        """
        station = Station(self)
        outside = os.path.join(os.path.dirname(station.folder), "secret.mp3")
        write_track(os.path.dirname(station.folder), "secret.mp3", 10)
        for document in [
            {"path": "../secret.mp3"},
            {"path": outside},
            {"path": "/etc/passwd"},
            {"path": "../../../../../../../etc/passwd"},
            {"path": "missing.mp3"},
            {"id": "0123456789abcdef"},
            {"id": track_id(outside)},
        ]:
            reply = station.api("/api/v1/admin/queue", document)
            self.assertEqual(reply.status, 404, document)
            self.assertEqual(json_body(reply), {"error": "No such track in the library of /stream"})
        self.assertEqual(station.programme.queued, [])
        self.assertEqual(station.programme.next_track(), station.programme.library.find("b.mp3"))

    def test_bad_parameters(self) -> None:
        """
        Neither or both of C{id} and C{path} is a 400; a mount without a
        library a 409.
        """
        station = Station(self)
        message = "Give the track's id or its path (one of them)"
        for document in [{}, {"id": "", "path": ""}, {"id": "x", "path": "c.mp3"}]:
            reply = station.api("/api/v1/admin/queue", document)
            self.assertEqual((reply.status, json_body(reply)), (400, {"error": message}))
        reply = station.api("/api/v1/admin/queue", {"mount": "/other", "path": "c.mp3"})
        self.assertEqual(reply.status, 409)


class ReloadTests(SynchronousTestCase):
    """
    C{POST /api/v1/admin/reload} rescans libraries now.
    """

    def test_reload_mount(self) -> None:
        """
        A file added to the folder is in the library once the reply comes,
        and can be queued.
        """
        station = Station(self)
        write_track(station.folder, "d.mp3", 10)
        reply = station.api("/api/v1/admin/reload", {"mount": "/stream"})
        self.assertEqual(reply.status, 200)
        self.assertEqual(json_body(reply), {"mounts": [{"mount": "/stream", "tracks": 4}]})
        queued = station.api("/api/v1/admin/queue", {"path": "d.mp3"})
        self.assertEqual(queued.status, 200)

    def test_reload_all(self) -> None:
        """
        Without a mount, every mount that plays a library is rescanned.
        """
        station = Station(self)
        os.remove(os.path.join(station.folder, "c.mp3"))
        reply = station.api("/api/v1/admin/reload")
        self.assertEqual(json_body(reply), {"mounts": [{"mount": "/stream", "tracks": 2}]})

    def test_errors(self) -> None:
        """
        A mount without a library is a 409, an unknown one a 404, and
        C{GET} a 405.
        """
        station = Station(self)
        self.assertEqual(station.api("/api/v1/admin/reload", {"mount": "/other"}).status, 409)
        self.assertEqual(station.api("/api/v1/admin/reload", {"mount": "/x"}).status, 404)
        self.assertEqual(station.request("GET", "/api/v1/admin/reload").status, 405)


class LibraryTests(SynchronousTestCase):
    """
    C{GET /api/v1/admin/library} lists a mount's library and queue.
    """

    def test_listing(self) -> None:
        """
        Every track is listed with its id and path, and the queue after.
        """
        station = Station(self)
        station.api("/api/v1/admin/queue", {"path": "c.mp3"})
        station.api("/api/v1/admin/queue", {"path": "b.mp3"})
        reply = station.request("GET", "/api/v1/admin/library?mount=/stream")
        self.assertEqual(reply.status, 200)
        document = json_body(reply)
        self.assertEqual(document["mount"], "/stream")
        self.assertEqual(document["location"], station.folder)
        self.assertEqual(
            [track["path"] for track in document["tracks"]], ["a.mp3", "b.mp3", "c.mp3"]
        )
        ids = [track_id(os.path.join(station.folder, n)) for n in ("a.mp3", "b.mp3", "c.mp3")]
        self.assertEqual([track["id"] for track in document["tracks"]], ids)
        self.assertEqual([track["path"] for track in document["queued"]], ["c.mp3", "b.mp3"])

    def test_errors(self) -> None:
        """
        C{POST} is a 405, an unknown mount a 404.
        """
        station = Station(self)
        self.assertEqual(station.request("POST", "/api/v1/admin/library").status, 405)
        reply = station.request("GET", "/api/v1/admin/library?mount=/nope")
        self.assertEqual(reply.status, 404)


class CrossSiteTests(SynchronousTestCase):
    """
    A browser's admin request made by a page of another site is refused
    with 403, credentials or not, before anything is done; the station's
    own page, encoders and scripts are not affected.
    """

    def test_refused(self) -> None:
        station = Station(self)
        listener = station.listen()
        for headers in [
            "Origin: http://evil.example\r\n",
            "Origin: null\r\n",
            "Sec-Fetch-Site: cross-site\r\n",
        ]:
            for path in ("/admin/killclient?mount=/stream&id=1", "/api/v1/admin/skip"):
                reply = station.request("GET", path, headers=headers)
                self.assertEqual(reply.status, 403, (path, headers))
        self.assertFalse(listener.closed)

    def test_same_site(self) -> None:
        """
        The same origin, or no browser headers at all, pass.
        """
        station = Station(self)
        same = "Host: radio.example:8000\r\nOrigin: http://radio.example:8000\r\n"
        reply = station.request("GET", "/admin/listmounts", headers=same)
        self.assertEqual(reply.status, 200)
        reply = station.request(
            "GET", "/admin/listmounts", headers="Sec-Fetch-Site: same-origin\r\n"
        )
        self.assertEqual(reply.status, 200)
        self.assertEqual(station.request("GET", "/admin/listmounts").status, 200)


class ReloadConfigTests(SynchronousTestCase):
    """
    C{POST /api/v1/admin/reload-config} does what C{SIGHUP} does, when
    the station was given a way to (L{Admin.reload_config}).
    """

    def test_reload(self) -> None:
        station = Station(self)
        self.assertEqual(station.api("/api/v1/admin/reload-config").status, 409)
        asked: list[bool] = []

        def reload() -> str | None:
            asked.append(True)
            return None

        station.admin.reload_config = reload
        reply = station.api("/api/v1/admin/reload-config")
        self.assertEqual((reply.status, json.loads(reply.body)), (200, {"reloaded": True}))
        self.assertEqual(asked, [True])
        station.admin.reload_config = lambda: "radiod.toml line 3: server.port: bad"
        reply = station.api("/api/v1/admin/reload-config")
        self.assertEqual(reply.status, 400)
        self.assertIn(b"line 3", reply.body)
