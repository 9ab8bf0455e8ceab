"""
Tests for L{radiod.web.adminpage}, L{radiod.web.headcount} and the admin
API they add to L{radiod.web.admin}: the admin page and its files behind
the admin login, the document it reads, the listener counts of the last
day, and C{moveclients} for one listener.  In memory on a L{Clock}, then
once over real sockets.
"""

from __future__ import annotations

import json
import math
import os
import re
import shutil
from importlib import resources
from typing import Any

from twisted.internet.endpoints import TCP4ClientEndpoint, connectProtocol
from twisted.internet.interfaces import IReactorCore, IReactorTCP
from twisted.internet.task import Clock
from twisted.trial.unittest import SynchronousTestCase, TestCase

from radiod.audio.track import TrackInfo
from radiod.broadcast.live import LiveSource
from radiod.broadcast.mount import Mount
from radiod.broadcast.switch import Switch
from radiod.config import MountConfig, StationConfig
from radiod.runner import thread_runner
from radiod.station.service import StationService
from radiod.testing import FakeFrameSource, Reply, parse_reply, silent_frame
from radiod.web.adminpage import (
    ASSET_PREFIX,
    ASSETS,
    PAGE_PATH,
    attach_admin_page,
    describe_source,
    source_kind,
)
from radiod.web.headcount import INTERVAL, SPAN, Headcount
from radiod.web.site import StationSite, attach
from radiod.web.titles import TitleUpdate
from tests.support.loopback import FIXTURES, Reader, asynchronous, reactor, wait_for
from tests.web.test_admin import (
    ADMIN_PASSWORD,
    UNAUTHORISED_BODY,
    Station,
    basic,
    iceresponse,
    json_body,
)
from tests.web.test_admin_e2e import OneShot

FRAME = silent_frame()
SONG = TrackInfo("/x/song.mp3", "Song", "Artist", duration=20.0)


def static_file(name: str) -> bytes:
    """
    One of the files shipped in L{radiod.web.static}.
    """
    return (resources.files("radiod.web.static") / name).read_bytes()


class PageTests(SynchronousTestCase):
    """
    The admin page at C{/admin/}, its files under L{ASSET_PREFIX}, and
    C{/admin} redirecting to it.
    """

    def setUp(self) -> None:
        self.station = Station(self)

    def test_page(self) -> None:
        """
        With the admin credentials, C{/admin/} is the page, as HTML, under
        a strict content security policy, never framed or stored.
        """
        reply = self.station.request("GET", PAGE_PATH)
        self.assertEqual(reply.status, 200)
        self.assertEqual(reply.body, static_file("admin.html"))
        self.assertEqual(reply.headers["content-type"], "text/html; charset=utf-8")
        policy = reply.headers["content-security-policy"]
        self.assertIn("default-src 'none'", policy)
        self.assertIn("script-src 'self'", policy)
        self.assertIn("style-src 'self'", policy)
        self.assertIn("frame-ancestors 'none'", policy)
        self.assertNotIn("unsafe", policy)
        self.assertNotIn("http", policy)
        self.assertEqual(reply.headers["x-frame-options"], "DENY")
        self.assertEqual(reply.headers["x-content-type-options"], "nosniff")
        self.assertEqual(reply.headers["referrer-policy"], "no-referrer")
        self.assertEqual(reply.headers["cache-control"], "no-cache, no-store")

    def test_login(self) -> None:
        """
        Without credentials, or with wrong ones, the page and its files are
        the admin login's one refusal.
        """
        paths = [PAGE_PATH] + [ASSET_PREFIX + name for name in ASSETS]
        for credentials in ("", basic(password="wrong")):
            for path in paths:
                reply = self.station.request("GET", path, credentials=credentials)
                self.assertEqual(reply.status, 401, path)
                self.assertEqual(reply.body, UNAUTHORISED_BODY, path)
                self.assertEqual(reply.headers["www-authenticate"], 'Basic realm="radiod"')

    def test_assets(self) -> None:
        """
        The page's script and style sheet are served with their content
        types; a file that is not one of them is not found.
        """
        self.assertEqual(set(ASSETS), {"admin.js", "admin.css"})
        for name, content_type in ASSETS.items():
            reply = self.station.request("GET", ASSET_PREFIX + name)
            self.assertEqual(reply.status, 200, name)
            self.assertEqual(reply.body, static_file(name))
            self.assertEqual(reply.headers["content-type"], content_type)
        self.assertEqual(self.station.request("GET", ASSET_PREFIX + "index.html").status, 404)

    def test_redirect(self) -> None:
        """
        C{/admin} (to C{GET} and C{HEAD}, without logging in: it shows
        nothing) moves to C{/admin/}; other methods are refused.
        """
        for method in ("GET", "HEAD"):
            reply = self.station.request(method, "/admin", credentials="")
            self.assertEqual(reply.status, 301, method)
            self.assertEqual(reply.headers["location"], "/admin/")
        self.assertEqual(self.station.request("POST", "/admin").status, 405)
        self.assertEqual(self.station.request("OPTIONS", "/admin").status, 204)

    def test_icecast_paths_kept(self) -> None:
        """
        Icecast's admin commands, C{/admin/stats} and title updates under
        C{/admin/} answer as before, and a name under C{/admin/} that is
        none of them is not found.
        """
        self.station.listen()
        listing = self.station.request("GET", "/admin/listclients?mount=/stream")
        self.assertEqual(listing.status, 200)
        self.assertIn(b"<UserAgent>VLC/3.0.18</UserAgent>", listing.body)
        self.assertEqual(self.station.request("GET", "/admin/listmounts").status, 200)
        self.assertEqual(self.station.request("GET", "/admin/stats").status, 200)
        # Title updates answer as they do (a mount without a live source
        # takes none).
        title = self.station.request("GET", "/admin/metadata?mount=/stream&mode=updinfo&song=Hello")
        self.assertEqual(title.body, iceresponse("Source does not exist", False))
        self.assertEqual(self.station.request("GET", "/admin/nothing").status, 404)

    def test_attached_after(self) -> None:
        """
        Put on a site that has paths under C{/admin} already, the page
        keeps them.
        """
        station = Station(self)
        site = station.factory.site
        assert isinstance(site, StationSite)
        attach(site, "/admin/extra", TitleUpdate(station.factory, shoutcast=False))
        attach_admin_page(site)
        self.assertEqual(station.request("GET", PAGE_PATH).status, 200)
        self.assertEqual(station.request("GET", "/admin/listmounts").status, 200)
        extra = station.request("GET", "/admin/extra?mount=/stream&mode=updinfo&song=Hi")
        self.assertEqual(extra.body, iceresponse("Source does not exist", False))

    def test_files_load_nothing_else(self) -> None:
        """
        The page loads only the station's own files, has no inline script,
        style or event handler (its policy would refuse them), and its
        script never writes markup: every text goes in as text.
        """
        page = static_file("admin.html").decode("utf-8")
        self.assertNotRegex(page, r"(?i)(src|href)\s*=\s*\"(https?:)?//")
        self.assertNotRegex(page, r"(?i)\sstyle\s*=")
        self.assertNotRegex(page, r"(?i)\son[a-z]+\s*=")
        for script in re.findall(r"<script[^>]*>", page):
            self.assertIn(' src="/admin/app/', script)
        self.assertIn('href="/admin/app/admin.css"', page)
        script = static_file("admin.js").decode("utf-8")
        for sink in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval("):
            self.assertNotIn(sink, script)
        self.assertNotIn("new Function", script)
        self.assertNotIn('setAttribute("style"', script)
        self.assertEqual(
            set(re.findall(r"https?://[^\"' ]+", script)), {"http://www.w3.org/2000/svg"}
        )


class MountsDocumentTests(SynchronousTestCase):
    """
    C{GET /api/v1/admin/mounts}: every mount as the admin page shows it.
    """

    def test_login(self) -> None:
        """
        The document is for administrators only, and takes C{GET} and
        C{HEAD} only.
        """
        station = Station(self)
        refused = station.request("GET", "/api/v1/admin/mounts", credentials="")
        self.assertEqual(refused.status, 401)
        self.assertEqual(station.request("POST", "/api/v1/admin/mounts").status, 405)
        self.assertEqual(station.request("HEAD", "/api/v1/admin/mounts").status, 200)

    def test_mounts(self) -> None:
        """
        Each mount, in the station's order, with what plays, what is next,
        where its audio comes from and whether it plays a library.
        """
        station = Station(self)
        station.clock.advance(3)
        document = json_body(station.request("GET", "/api/v1/admin/mounts"))
        self.assertEqual(document["time"], station.clock.seconds())
        stream, other, live = document["mounts"]
        self.assertEqual(
            [stream["name"], other["name"], live["name"]], ["/stream", "/other", "/live"]
        )
        playing = station.mounts["/stream"].now_playing
        assert playing is not None
        self.assertEqual(stream["now_playing"]["title"], playing.title)
        self.assertEqual(stream["now_playing"]["started"], station.mounts["/stream"].track_started)
        self.assertIsNotNone(stream["next"])
        self.assertEqual(stream["source"], {"kind": "playlist", "encoder": None, "relay": None})
        self.assertTrue(stream["library"])
        self.assertFalse(stream["requests"])
        self.assertEqual(stream["bitrate"], 128)
        self.assertEqual(other["now_playing"]["title"], "Other Song")
        self.assertIsNone(other["next"])
        self.assertFalse(other["library"])
        self.assertEqual(live["source"]["kind"], "none")
        self.assertIsNone(live["now_playing"])
        self.assertIsNone(live["bitrate"])
        for mount in document["mounts"]:
            self.assertEqual(mount["clients"], [])
            self.assertEqual(mount["listeners"], 0)
            self.assertIsNone(mount["max_listeners"])

    def test_listeners(self) -> None:
        """
        Each listener of a mount, oldest first: its id, address, user
        agent as it sent it (markup and all), how long it has been
        connected, and how far behind it is, in bytes and in seconds of
        audio.
        """
        station = Station(self)
        agent = "<script>alert('x')</script> \u00e9 Player/1.0"
        first = station.listen(user_agent=agent)
        station.clock.advance(5)
        station.listen(user_agent=None)
        listener = first.protocol.listener
        assert listener is not None
        listener.pauseProducing()
        station.clock.pump([0.1] * 10)
        document = json_body(station.request("GET", "/api/v1/admin/mounts"))
        stream = document["mounts"][0]
        self.assertEqual(stream["listeners"], 2)
        old, new = stream["clients"]
        self.assertEqual(old["id"], listener.id)
        self.assertEqual(old["address"], "192.0.2.9")
        self.assertEqual(old["user_agent"], agent)
        self.assertEqual(old["connected_at"], listener.connected_at)
        self.assertAlmostEqual(old["connected"], 6.0, places=3)
        self.assertEqual(old["lag"], listener.lag)
        self.assertGreater(old["lag"], 0)
        self.assertAlmostEqual(old["lag_seconds"], old["lag"] * 8 / 128000, places=3)
        self.assertEqual(new["user_agent"], "")
        self.assertGreater(new["id"], old["id"])

    def test_queued(self) -> None:
        """
        The tracks queued on a mount are listed, next first, as the admin
        API shows tracks.
        """
        station = Station(self)
        playing = station.now_playing()
        others = sorted({"a.mp3", "b.mp3", "c.mp3"} - {playing})
        for name in others:
            station.api("/api/v1/admin/queue", {"path": name})
        document = json_body(station.request("GET", "/api/v1/admin/mounts"))
        queued = document["mounts"][0]["queued"]
        self.assertEqual([track["path"] for track in queued], others)
        self.assertEqual(document["mounts"][0]["next"]["title"], queued[0]["title"])

    def test_live_source(self) -> None:
        """
        A live source on air is the mount's source: its address and when
        it connected.
        """
        station = Station(self)
        station.clock.advance(10)
        station.go_live("/stream")
        document = json_body(station.request("GET", "/api/v1/admin/mounts"))
        source = document["mounts"][0]["source"]
        self.assertEqual(source["kind"], "live")
        self.assertEqual(source["encoder"]["address"], "192.0.2.9")
        self.assertGreaterEqual(source["encoder"]["connected_at"], 10.0)
        self.assertLessEqual(source["encoder"]["connected_at"], station.clock.seconds())
        self.assertIsNone(document["mounts"][0]["next"])

    def test_unknown_duration(self) -> None:
        """
        A track whose length is not a number is given with a length of 0,
        so that the document is still JSON.
        """
        station = Station(self)
        endless = TrackInfo("/x/endless.mp3", "Endless", duration=math.inf)
        mount = Mount(
            MountConfig(name="/endless"),
            FakeFrameSource([(endless, FRAME, 100000)]),
            station.clock,
        )
        station.factory.mounts.add(mount)
        mount.start()
        self.addCleanup(mount.stop)
        station.clock.pump([0.1] * 3)
        reply = station.request("GET", "/api/v1/admin/mounts")
        self.assertEqual(reply.status, 200, reply.body)
        self.assertEqual(json_body(reply)["mounts"][-1]["now_playing"]["duration"], 0.0)


class SourceTests(SynchronousTestCase):
    """
    L{source_kind} and L{describe_source}: where a mount's audio comes
    from.
    """

    def test_relay(self) -> None:
        """
        A relay on air is told from a live source, and the URL it relays
        is given without its credentials.
        """
        clock = Clock()
        switch = Switch(FakeFrameSource([(SONG, FRAME, 100000)]), name="/relayed")
        relay = LiveSource(TrackInfo("", "Relayed"), prebuffer=0)
        switch.attach(relay, relay=True)
        relay.feed(FRAME.data * 11)
        switch.next_frame()
        config = MountConfig(name="/relayed", relay="http://user:secret@up.example:8000/live")
        mount = Mount(config, switch, clock)
        self.assertEqual(source_kind(mount, encoder=False), "relay")
        station = Station(self)
        described = describe_source(mount, station.factory, {})
        self.assertEqual(
            described,
            {"kind": "relay", "encoder": None, "relay": "http://up.example:8000/live"},
        )

    def test_kinds(self) -> None:
        """
        A playlist, and a live-only mount with nothing on air.
        """
        clock = Clock()
        playlist = Mount(MountConfig(name="/a"), FakeFrameSource([]), clock)
        self.assertEqual(source_kind(playlist, encoder=False), "playlist")
        idle = Mount(MountConfig(name="/b", live_only=True), Switch(None, name="/b"), clock)
        self.assertEqual(source_kind(idle, encoder=False), "none")


class MoveOneTests(SynchronousTestCase):
    """
    C{/admin/moveclients} with C{id}: one listener moves, as in Icecast
    2.5.
    """

    def test_one(self) -> None:
        """
        Only the listener named moves; the others stay.
        """
        station = Station(self)
        first = station.listen()
        second = station.listen()
        moving = second.protocol.listener
        staying = first.protocol.listener
        assert moving is not None and staying is not None
        reply = station.request(
            "POST",
            "/admin/moveclients",
            body=f"mount=%2Fstream&destination=%2Fother&id={moving.id}".encode(),
            headers="Content-Type: application/x-www-form-urlencoded\r\n",
        )
        self.assertEqual(reply.status, 200)
        self.assertEqual(reply.body, iceresponse("Clients moved from /stream to /other", True))
        self.assertEqual(station.mounts["/other"].listeners, {moving})
        self.assertEqual(station.mounts["/stream"].listeners, {staying})
        self.assertEqual(moving.home, "/other")

    def test_unknown_and_invalid(self) -> None:
        """
        A listener that is not there is Icecast's C{Client N not found};
        an id that is not a number is refused; nobody moves.
        """
        station = Station(self)
        station.listen()
        reply = station.request("GET", "/admin/moveclients?mount=/stream&destination=/other&id=999")
        self.assertEqual(reply.status, 200)
        self.assertEqual(reply.body, iceresponse("Client 999 not found", False))
        reply = station.request("GET", "/admin/moveclients?mount=/stream&destination=/other&id=x")
        self.assertEqual(reply.status, 400)
        self.assertEqual(reply.body, iceresponse("Invalid client id", False))
        self.assertEqual(len(station.mounts["/stream"].listeners), 1)


class HeadcountTests(SynchronousTestCase):
    """
    L{Headcount} keeps the most listeners of each mount in each interval,
    sampled as the mounts air audio.
    """

    def setUp(self) -> None:
        self.clock = Clock()
        self.mounts: dict[str, Mount] = {}

    def mount(self, name: str) -> Mount:
        """
        A running mount named C{name}, which the station has.
        """
        mount = Mount(MountConfig(name=name), FakeFrameSource([(SONG, FRAME, 10**6)]), self.clock)
        self.mounts[name] = mount
        mount.start()
        self.addCleanup(mount.stop)
        return mount

    def test_defaults(self) -> None:
        """
        A sample a minute, for a day.
        """
        self.assertEqual((INTERVAL, SPAN), (60.0, 86400.0))
        headcount = Headcount(self.clock, self.mounts)
        self.assertEqual((headcount.interval, headcount.span), (INTERVAL, SPAN))

    def test_peak_per_interval(self) -> None:
        """
        Each interval's sample is the most listeners the mount had at once
        in it, HLS sessions included; an interval begins a new sample.
        """
        mount = self.mount("/a")
        headcount = Headcount(self.clock, self.mounts, interval=1.0, span=10.0)
        self.clock.pump([0.1] * 3)
        mount.hls_listener_joined()
        mount.hls_listener_joined()
        self.clock.pump([0.1] * 3)
        mount.hls_listener_left()
        self.clock.pump([0.1] * 6)
        self.assertEqual(headcount.series(), {"/a": [(0.0, 2), (1.0, 1)]})

    def test_span(self) -> None:
        """
        Samples older than the span are forgotten.
        """
        mount = self.mount("/a")
        headcount = Headcount(self.clock, self.mounts, interval=1.0, span=5.0)
        for _ in range(8):
            self.clock.pump([0.5, 0.5])
            mount.hls_listener_joined()
        series = headcount.series()["/a"]
        self.assertEqual([start for start, _ in series], [4.0, 5.0, 6.0, 7.0, 8.0])
        self.assertEqual(series[-1], (8.0, 8))

    def test_mounts_come_and_go(self) -> None:
        """
        A mount added later is followed from the next interval of any
        mount (or when asked); a mount replaced under its name is
        followed in its place, the old one's audio no longer counted.
        """
        self.mount("/a")
        headcount = Headcount(self.clock, self.mounts, interval=1.0, span=10.0)
        self.clock.pump([0.1] * 5)
        late = self.mount("/b")
        late.hls_listener_joined()
        self.clock.pump([0.1] * 6)
        self.assertEqual(headcount.series()["/b"], [(1.0, 1)])
        old = self.mounts["/a"]
        old.hls_listener_joined()
        old.hls_listener_joined()
        self.mount("/a")
        self.clock.pump([0.1] * 10)
        self.assertEqual(headcount.series()["/a"], [(0.0, 0), (1.0, 0), (2.0, 0)])

    def test_no_timer(self) -> None:
        """
        It keeps no timer of its own: mounts that do not air are counted
        only when the series is asked for.
        """
        mount = Mount(MountConfig(name="/quiet"), FakeFrameSource([]), self.clock)
        self.mounts["/quiet"] = mount
        headcount = Headcount(self.clock, self.mounts)
        self.assertEqual(self.clock.getDelayedCalls(), [])
        self.clock.advance(120)
        mount.hls_listener_joined()
        self.assertEqual(headcount.series(), {"/quiet": [(120.0, 1)]})
        self.assertEqual(self.clock.getDelayedCalls(), [])

    def test_endpoint(self) -> None:
        """
        C{GET /api/v1/admin/headcount} gives each mount's samples, for
        administrators only.
        """
        station = Station(self)
        station.listen()
        station.clock.pump([1.0] * 70)
        reply = station.request("GET", "/api/v1/admin/headcount")
        document = json_body(reply)
        self.assertEqual(document["interval"], 60.0)
        self.assertEqual(document["span"], 86400.0)
        self.assertEqual(document["time"], station.clock.seconds())
        self.assertEqual(
            [mount["mount"] for mount in document["mounts"]], ["/stream", "/other", "/live"]
        )
        self.assertEqual(document["mounts"][0]["samples"], [[0.0, 1], [60.0, 1]])
        self.assertEqual(document["mounts"][1]["samples"], [[0.0, 0], [60.0, 0]])
        refused = station.request("GET", "/api/v1/admin/headcount", credentials="")
        self.assertEqual(refused.status, 401)


class LoopbackTests(TestCase):
    """
    The admin page and its documents from a station started as in
    production, over real sockets.
    """

    timeout = 60

    async def get(self, port: int, target: str, password: str | None = ADMIN_PASSWORD) -> Reply:
        """
        C{GET} C{target}, with the admin credentials unless C{password}
        is C{None}.
        """
        authorization = basic(password=password) if password is not None else ""
        client = OneShot(f"GET {target} HTTP/1.0\r\n{authorization}\r\n".encode())
        tcp: IReactorTCP = reactor
        await connectProtocol(TCP4ClientEndpoint(tcp, "127.0.0.1", port), client)
        return parse_reply(await client.done)

    @asynchronous
    async def test_page_and_documents(self) -> None:
        """
        C{/admin} leads to the page, which needs the login; the mounts
        document lists a real listener with its address and user agent,
        and the headcount has counted it.
        """
        music = os.path.abspath(self.mktemp())
        os.makedirs(music)
        shutil.copy(os.path.join(FIXTURES, "alpha-artist-first-song.mp3"), music)
        config = StationConfig(
            port=0,
            interface="127.0.0.1",
            mounts=(MountConfig(name="/stream", music=music),),
            admin_password=ADMIN_PASSWORD,
            state_dir=os.path.abspath(self.mktemp()),
            stats_database="off",
        )
        core: IReactorCore = reactor
        service = StationService(config, reactor, thread_runner(core, reactor.getThreadPool()))
        service.startService()
        self.addCleanup(service.stopService)
        address: Any = (await service.listener.listening).getHost()
        port = address.port
        mount = service.mounts["/stream"]

        moved = await self.get(port, "/admin", password=None)
        self.assertEqual((moved.status, moved.headers["location"]), (301, "/admin/"))
        self.assertEqual((await self.get(port, "/admin/", password=None)).status, 401)
        page = await self.get(port, "/admin/")
        self.assertEqual(page.status, 200)
        self.assertEqual(page.body, static_file("admin.html"))
        self.assertIn("default-src 'none'", page.headers["content-security-policy"])

        reader = Reader(b"GET /stream HTTP/1.0\r\nUser-Agent: Loop/1.0\r\n\r\n", reactor)
        tcp: IReactorTCP = reactor
        await connectProtocol(TCP4ClientEndpoint(tcp, "127.0.0.1", port), reader)
        self.addCleanup(lambda: reader.transport.loseConnection() if reader.transport else None)
        await wait_for(lambda: len(mount.listeners) == 1, 10, reactor)
        (listener,) = mount.listeners

        mounts = await self.get(port, "/api/v1/admin/mounts")
        self.assertEqual(mounts.status, 200)
        (described,) = json.loads(mounts.body)["mounts"]
        (client,) = described["clients"]
        self.assertEqual(client["id"], listener.id)
        self.assertEqual(client["address"], "127.0.0.1")
        self.assertEqual(client["user_agent"], "Loop/1.0")
        self.assertGreaterEqual(client["lag"], 0)

        counts = json.loads((await self.get(port, "/api/v1/admin/headcount")).body)
        (stream,) = counts["mounts"]
        self.assertEqual(stream["samples"][-1][1], 1)
