"""
Tests for L{radiod.station.mountauth}: a real station asking a real HTTP
server the test starts, as Icecast asks its C{<authentication
type="url">} URLs, about its listeners, its sources and its mounts.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import replace
from typing import Any
from urllib.parse import parse_qsl

from twisted.internet import reactor as _reactor
from twisted.internet.endpoints import TCP4ClientEndpoint, connectProtocol
from twisted.internet.interfaces import IReactorCore
from twisted.trial.unittest import SynchronousTestCase, TestCase
from twisted.web.resource import Resource
from twisted.web.server import Request, Site

from radiod.config import MountConfig, StationConfig
from radiod.runner import thread_runner
from radiod.station.mountauth import auth_options
from radiod.station.service import StationService
from tests.ingest.test_source import auth
from tests.support.loopback import FIXTURES, Reader, asynchronous, wait_for

reactor: Any = _reactor


class AuthServer(Resource):
    """
    An auth server as a web application writes one: it lets in C{alice}
    with her password, for 3600 seconds, and any source logging in as
    C{dj}; it refuses everyone else with a message; it keeps every form
    it is sent.
    """

    isLeaf = True

    def __init__(self) -> None:
        super().__init__()
        self.forms: list[dict[str, str]] = []

    def render_POST(self, request: Request) -> bytes:
        assert request.content is not None
        form = dict(parse_qsl(request.content.read().decode(), keep_blank_values=True))
        form["_path"] = request.path.decode()
        self.forms.append(form)
        action = form.get("action")
        let_in = (
            action == "listener_add" and (form["user"], form["pass"]) == ("alice", "wonder")
        ) or (action == "stream_auth" and form["user"] == "dj")
        if let_in:
            request.setHeader(b"icecast-auth-user", b"1")
            request.setHeader(b"icecast-auth-timelimit", b"3600")
        elif action in ("listener_add", "stream_auth"):
            request.setHeader(b"icecast-auth-message", b"Members only")
        return b"ok"

    def actions(self) -> list[str]:
        return [form["action"] for form in self.forms]


class OptionsTests(SynchronousTestCase):
    """
    L{auth_options}: a mount's keys as Icecast's options.
    """

    def test_none(self) -> None:
        """
        A mount without URLs has none.
        """
        self.assertEqual(auth_options(MountConfig(auth_user="a", auth_password="b")), [])

    def test_options(self) -> None:
        """
        Each URL, the login, the headers and the prefix become options.
        """
        mount = MountConfig(
            auth_listener_add="http://a.example/add",
            auth_stream="http://a.example/src",
            auth_user="radio",
            auth_password="secret",
            auth_headers=("Referer", "Cookie"),
        )
        self.assertEqual(
            auth_options(mount),
            [
                ("listener_add", "http://a.example/add"),
                ("stream_auth", "http://a.example/src"),
                ("username", "radio"),
                ("password", "secret"),
                ("auth_header", "icecast-auth-user: 1"),
                ("timelimit_header", "icecast-auth-timelimit:"),
                ("header_prefix", "ClientHeader."),
                ("headers", "Referer,Cookie"),
            ],
        )


class StationAuthTests(TestCase):
    """
    A station with authentication URLs, its listeners and sources on
    loopback, its auth server a real HTTP server.
    """

    timeout = 60

    async def setUp(self) -> None:  # type: ignore[override]
        self.auth = AuthServer()
        port = reactor.listenTCP(0, Site(self.auth), interface="127.0.0.1")
        self.addCleanup(port.stopListening)
        self.url = f"http://127.0.0.1:{port.getHost().port}"

    def music(self) -> str:
        folder = str(self.mktemp())
        os.makedirs(folder)
        shutil.copy(os.path.join(FIXTURES, "alpha-artist-first-song.mp3"), folder)
        return folder

    def config(self) -> StationConfig:
        urls = {
            "auth_listener_add": self.url + "/listener",
            "auth_listener_remove": self.url + "/listener",
            "auth_mount_add": self.url + "/mount",
            "auth_mount_remove": self.url + "/mount",
            "auth_stream": self.url + "/source",
        }
        music = self.music()
        return StationConfig(
            port=0,
            interface="127.0.0.1",
            public_url="http://radio.example.org",
            mounts=(
                MountConfig(name="/members", music=music, **urls),  # type: ignore[arg-type]
                MountConfig(name="/live", live_only=True, **urls),  # type: ignore[arg-type]
                MountConfig(name="/free", music=music),
            ),
        )

    async def start(self, config: StationConfig) -> tuple[StationService, int]:
        core: IReactorCore = reactor
        service = StationService(config, reactor, thread_runner(core, reactor.getThreadPool()))
        service.startService()
        self.addCleanup(service.stopService)
        port = (await service.listener.listening).getHost().port  # type: ignore[attr-defined]
        return service, port

    async def connect(self, port: int, request: bytes) -> Reader:
        reader = Reader(request, reactor)
        await connectProtocol(TCP4ClientEndpoint(reactor, "127.0.0.1", port), reader)
        self.addCleanup(lambda: reader.transport.loseConnection() if reader.transport else None)
        return reader

    @asynchronous
    async def test_listeners(self) -> None:
        """
        The music mount is told of as on the air at the start; a listener
        without the right login gets C{401} and the auth server's message;
        Alice, with hers, hears the mount, and when she leaves the auth
        server is told with Icecast's fields, the listener count and how
        long she stayed; the mount without URLs asks nothing.
        """
        service, port = await self.start(self.config())
        await wait_for(lambda: "mount_add" in self.auth.actions(), 10, reactor)
        [added] = [form for form in self.auth.forms if form["action"] == "mount_add"]
        self.assertEqual(
            added,
            {
                "action": "mount_add",
                "mount": "/members",
                "server": "radio.example.org",
                "port": str(service.config.port),
                "_path": "/mount",
            },
        )
        stranger = await self.connect(port, b"GET /members HTTP/1.0\r\nUser-Agent: mpv\r\n\r\n")
        await stranger.gone
        self.assertEqual(stranger.capture.status_line, "HTTP/1.0 401 Unauthorized")
        self.assertEqual(bytes(stranger.capture.audio), b"401 Members only\n")
        self.assertEqual(stranger.capture.headers["www-authenticate"], 'Basic realm="radiod"')
        alice = await self.connect(
            port,
            b"GET /members?token=x HTTP/1.0\r\nUser-Agent: VLC/3.0\r\nIcy-MetaData: 1\r\n"
            + auth("alice", "wonder")
            + b"\r\n",
        )
        await wait_for(lambda: len(alice.capture.audio) > 10000, 10, reactor)
        self.assertEqual(alice.capture.status_line, "HTTP/1.0 200 OK")
        asked = [form for form in self.auth.forms if form["action"] == "listener_add"][-1]
        self.assertEqual(
            {key: asked[key] for key in ("mount", "user", "pass", "ip", "agent", "listeners")},
            {
                "mount": "/members?token=x",
                "user": "alice",
                "pass": "wonder",
                "ip": "127.0.0.1",
                "agent": "VLC/3.0",
                "listeners": "0",
            },
        )
        free = await self.connect(port, b"GET /free HTTP/1.0\r\n\r\n")
        await wait_for(lambda: len(free.capture.audio) > 1000, 10, reactor)
        assert alice.transport is not None
        alice.transport.loseConnection()
        await wait_for(lambda: "listener_remove" in self.auth.actions(), 10, reactor)
        removed = next(form for form in self.auth.forms if form["action"] == "listener_remove")
        self.assertEqual((removed["client"], removed["user"]), (asked["client"], "alice"))
        self.assertEqual(removed["listeners"], "0")
        self.assertGreaterEqual(float(removed["duration"]), 0)
        self.assertEqual(len([f for f in self.auth.forms if f.get("mount") == "/free"]), 0)

    @asynchronous
    async def test_sources_and_reload(self) -> None:
        """
        A source logging in as C{dj} is let in by the auth server (its
        password unchecked) and puts the live-only mount on the air
        (C{mount_add}); another is refused with C{401}.  A reload that
        takes the URLs away tells C{mount_remove}.
        """
        config = self.config()
        service, port = await self.start(config)
        head = b"SOURCE /live HTTP/1.0\r\nContent-Type: audio/mpeg\r\n"
        refused = await self.connect(port, head + auth("mallory", "x") + b"\r\n")
        await refused.gone
        self.assertTrue(
            refused.capture.status_line.startswith("HTTP/1.0 401"), refused.capture.status_line
        )
        dj = await self.connect(port, head + auth("dj", "anything") + b"\r\n")
        await wait_for(lambda: dj.capture.status_line != "", 10, reactor)
        self.assertEqual(dj.capture.status_line, "HTTP/1.0 200 OK")
        await wait_for(
            lambda: any(
                f["action"] == "mount_add" and f["mount"] == "/live" for f in self.auth.forms
            ),
            10,
            reactor,
        )
        [source] = [
            form
            for form in self.auth.forms
            if form["action"] == "stream_auth" and form["user"] == "dj"
        ]
        self.assertEqual(
            (source["mount"], source["pass"], source["ip"]), ("/live", "anything", "127.0.0.1")
        )
        bare = replace(
            config.mounts[0],
            auth_listener_add="",
            auth_listener_remove="",
            auth_mount_add="",
            auth_mount_remove="",
            auth_stream="",
        )
        service.reload(replace(service.config, mounts=(bare, *config.mounts[1:])))
        await wait_for(
            lambda: any(
                f["action"] == "mount_remove" and f["mount"] == "/members" for f in self.auth.forms
            ),
            10,
            reactor,
        )
        self.assertNotIn("/members", service.factory.authenticators)
