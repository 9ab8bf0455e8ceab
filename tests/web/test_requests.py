"""
Tests for L{radiod.web.requests}: song requests over real HTTP, to a
station's site listening on a loopback port.
"""

from __future__ import annotations

import base64
import json
import os
from collections.abc import Sequence
from typing import Any
from urllib.parse import quote

from twisted.internet.endpoints import TCP4ClientEndpoint, connectProtocol
from twisted.internet.interfaces import IListeningPort, IReactorTCP
from twisted.logger import LogEvent, capturedLogs
from twisted.trial.unittest import TestCase

from radiod.audio.track import TrackInfo
from radiod.broadcast.mount import Mount
from radiod.config import MountConfig, StationConfig
from radiod.library.library import Library, track_id
from radiod.library.programme import Programme
from radiod.library.requests import RequestQueue
from radiod.library.rotation import Aired
from radiod.testing import FakeFrameSource, Reply, parse_reply, synchronous_runner
from radiod.web.requests import ADMIN_REQUESTS_PATH, MAX_BODY, REQUESTS_PATH
from radiod.web.tree import station_site
from radiod.wire.server import RadioFactory
from tests.support.loopback import asynchronous, reactor
from tests.web.test_admin_e2e import OneShot

ADMIN_PASSWORD = "r3quests-Adm1n"
TAGS = {
    "a.mp3": TrackInfo("", "First Song", "Alpha Artist", "Greatest Hits", 181.5),
    "b.mp3": TrackInfo("", "Second Song", "Beta Artist", "Greatest Hits", 200.0),
    "c.mp3": TrackInfo("", "Third Song", "Gamma Artist", "Live", 0.0),
    "d.mp3": TrackInfo("", "Alphabet", "Delta Artist", "Letters", 120.0),
    "e.mp3": TrackInfo("", "Fifth Song", "Epsilon Artist", "", 90.0),
    "f.mp3": TrackInfo("", "Sixth Song", "Zeta Artist", "", 90.0),
}


def read_tags(path: str, title: str) -> TrackInfo:
    """
    The made-up tags of a test file.
    """
    tags = TAGS[os.path.basename(path)]
    return TrackInfo(path, tags.title, tags.artist, tags.album, tags.duration)


def refusals(events: Sequence[LogEvent]) -> list[LogEvent]:
    """
    The refusals among logged events.
    """
    return [event for event in events if "Refused" in event.get("log_format", "")]


class Station:
    """
    A station's site on a loopback port: C{/stream} takes requests for its
    library of six tracks (limit 2 per address, 4 waiting at most, an
    hour's threshold); C{/jazz} plays a library but takes no requests;
    C{/live} takes them by its configuration but has no library.
    """

    def __init__(self, test: TestCase, trusted: tuple[str, ...] = ("127.0.0.1",)) -> None:
        """
        @param trusted: the proxies whose C{X-Forwarded-For} is taken.
        """
        self.test = test
        folder = os.path.abspath(test.mktemp())
        os.makedirs(folder)
        for name in TAGS:
            with open(os.path.join(folder, name), "wb") as f:
                f.write(b"\xff\xfb")
        library = Library(folder, synchronous_runner, read=read_tags)
        test.successResultOf(library.scan())
        self.tracks = {os.path.basename(track.path): track for track in library.tracks}
        self.queue = RequestQueue(3600.0, 2, 4)
        self.programme = Programme(
            library, reactor, synchronous_runner, rescan_interval=0, requests=self.queue
        )
        stream = MountConfig(
            name="/stream", requests=True, request_limit=2, request_queue=4, request_threshold=3600
        )
        jazz = MountConfig(name="/jazz")
        live = MountConfig(name="/live", live_only=True, requests=True)
        jazz_programme = Programme(
            library, reactor, synchronous_runner, rescan_interval=0, requests=RequestQueue(1, 1, 1)
        )
        mounts = {
            "/stream": Mount(stream, self.programme, reactor),
            "/jazz": Mount(jazz, jazz_programme, reactor),
            "/live": Mount(live, FakeFrameSource([]), reactor),
        }
        config = StationConfig(
            port=0,
            mounts=(stream, jazz, live),
            admin_password=ADMIN_PASSWORD,
            trusted_proxies=trusted,
            max_per_address=0,
        )
        self.factory = RadioFactory(reactor, config, mounts)
        self.factory.throttle.free = 10**6
        station_site(self.factory, reactor)
        self.port: IListeningPort = reactor.listenTCP(0, self.factory, interface="127.0.0.1")
        test.addCleanup(self.port.stopListening)

    def id(self, name: str) -> str:
        """
        The id of a track of the library.
        """
        return track_id(self.tracks[name].path)

    def played(self, name: str, ago: float) -> None:
        """
        Note that a track started playing C{ago} seconds ago.
        """
        track = self.tracks[name]
        at = reactor.seconds() - ago
        self.programme.aired.append(Aired(track.path, track.artist, track.title, at))

    async def send(
        self,
        method: str,
        target: str,
        body: bytes = b"",
        headers: str = "",
    ) -> tuple[str, Reply]:
        """
        Send one request over a real connection.

        @return: the status line, and the reply.
        """
        if body:
            headers += f"Content-Length: {len(body)}\r\n"
        head = f"{method} {target} HTTP/1.1\r\nHost: radio.example\r\n{headers}\r\n"
        client = OneShot(head.encode("utf-8") + body)
        address: Any = self.port.getHost()
        tcp: IReactorTCP = reactor
        await connectProtocol(TCP4ClientEndpoint(tcp, "127.0.0.1", address.port), client)
        data = await client.done
        return data.partition(b"\r\n")[0].decode("latin-1"), parse_reply(data)

    async def ask(
        self, name: str, mount: str = "stream", client: str | None = None
    ) -> tuple[str, Reply]:
        """
        Request track C{name} on C{mount}, with a JSON body, from C{client}
        (as C{X-Forwarded-For} names it).
        """
        headers = "Content-Type: application/json\r\n"
        if client is not None:
            headers += f"X-Forwarded-For: {client}\r\n"
        body = json.dumps({"id": self.id(name)}).encode()
        return await self.send("POST", f"{REQUESTS_PATH}/{mount}", body, headers)

    async def list(self, query: str = "", client: str | None = None) -> Any:
        """
        The listing of C{/stream}'s tracks, which must be answered with 200.
        """
        headers = f"X-Forwarded-For: {client}\r\n" if client is not None else ""
        _, reply = await self.send("GET", f"{REQUESTS_PATH}/stream{query}", headers=headers)
        self.test.assertEqual(reply.status, 200, reply.body)
        return document(reply)

    async def admin(
        self, method: str, path: str, password: str | None = ADMIN_PASSWORD
    ) -> tuple[str, Reply]:
        """
        An admin request, with the admin's credentials (or another
        password, or none).
        """
        headers = ""
        if password is not None:
            token = base64.b64encode(f"admin:{password}".encode()).decode()
            headers = f"Authorization: Basic {token}\r\n"
        return await self.send(method, ADMIN_REQUESTS_PATH + path, headers=headers)


def document(reply: Reply) -> Any:
    """
    The JSON document of a reply, checking its content type.
    """
    assert reply.headers["content-type"] == "application/json; charset=utf-8", reply
    return json.loads(reply.body)


class RequestListTests(TestCase):
    """
    C{GET} and C{POST} at L{REQUESTS_PATH}: finding tracks and asking for
    them.
    """

    timeout = 30

    @asynchronous
    async def test_listing(self) -> None:
        """
        The listing is a JSON list of the mount's tracks in library order,
        readable by scripts on other sites and never cached, each with its
        id, tags and whether it may be requested.
        """
        station = Station(self)
        _, reply = await station.send("GET", f"{REQUESTS_PATH}/stream")
        self.assertEqual(reply.status, 200)
        self.assertEqual(reply.headers["access-control-allow-origin"], "*")
        self.assertIn("POST", reply.headers["access-control-allow-methods"])
        self.assertEqual(reply.headers["cache-control"], "no-cache, no-store")
        listed = document(reply)
        self.assertEqual([item["title"] for item in listed], [t.title for t in TAGS.values()])
        self.assertEqual(
            listed[0],
            {
                "id": station.id("a.mp3"),
                "artist": "Alpha Artist",
                "title": "First Song",
                "album": "Greatest Hits",
                "duration": 181.5,
                "requestable": True,
            },
        )
        self.assertIsNone(listed[2]["duration"])

    @asynchronous
    async def test_search(self) -> None:
        """
        C{q} finds the tracks whose artist, title or album hold every word,
        in any case; C{limit} and C{offset} page through them; a limit
        that is not a whole number in range is refused with 400.
        """
        station = Station(self)

        async def titles(query: str) -> list[str]:
            return [item["title"] for item in await station.list(query)]

        self.assertEqual(await titles("?q=ALPHA"), ["First Song", "Alphabet"])
        self.assertEqual(await titles("?q=greatest%20hits"), ["First Song", "Second Song"])
        self.assertEqual(await titles("?q=hits&q=beta"), ["Second Song"])
        self.assertEqual(await titles("?q=letters"), ["Alphabet"])
        self.assertEqual(await titles("?q=nothing"), [])
        self.assertEqual(await titles("?q=song&limit=2"), ["First Song", "Second Song"])
        self.assertEqual(await titles("?q=song&limit=2&offset=2"), ["Third Song", "Fifth Song"])
        for query in ("?limit=0", "?limit=x", "?limit=100000", "?offset=-1"):
            _, reply = await station.send("GET", f"{REQUESTS_PATH}/stream{query}")
            self.assertEqual(reply.status, 400, query)
            self.assertIn("must be a whole number", document(reply)["error"])

    @asynchronous
    async def test_request(self) -> None:
        """
        A request for a track is answered 201 with the request's id, its
        place in the queue and the track; the queue holds it, from the
        client's address; the listing says it may not be requested again.
        """
        station = Station(self)
        with capturedLogs() as events:
            status, reply = await station.ask("b.mp3")
        self.assertEqual(status, "HTTP/1.0 201 Created")
        self.assertEqual(reply.headers["access-control-allow-origin"], "*")
        answer = document(reply)
        [waiting] = station.queue.pending
        self.assertEqual(
            answer,
            {
                "id": waiting.id,
                "mount": "/stream",
                "place": 1,
                "track": {
                    "id": station.id("b.mp3"),
                    "artist": "Beta Artist",
                    "title": "Second Song",
                    "album": "Greatest Hits",
                    "duration": 200.0,
                },
            },
        )
        self.assertEqual(waiting.address, "127.0.0.1")
        self.assertEqual(waiting.path, station.tracks["b.mp3"].path)
        [logged] = [event for event in events if event.get("request") == waiting.id]
        self.assertEqual(logged["mount"], "/stream")
        self.assertEqual(logged["place"], 1)
        self.assertTrue(logged["peer"].startswith("127.0.0.1:"))
        status, reply = await station.ask("c.mp3", client="192.0.2.44")
        self.assertEqual(document(reply)["place"], 2)
        listed = {item["title"]: item for item in await station.list()}
        self.assertEqual(listed["Second Song"]["reason"], "This track is already requested")
        self.assertFalse(listed["Second Song"]["requestable"])
        self.assertTrue(listed["First Song"]["requestable"])
        self.assertNotIn("reason", listed["First Song"])

    @asynchronous
    async def test_form(self) -> None:
        """
        A form body (C{id=...}) is taken as well as JSON.
        """
        station = Station(self)
        body = f"id={station.id('d.mp3')}".encode()
        _, reply = await station.send(
            "POST",
            f"{REQUESTS_PATH}/stream",
            body,
            "Content-Type: application/x-www-form-urlencoded\r\n",
        )
        self.assertEqual(reply.status, 201, reply.body)
        self.assertEqual(document(reply)["track"]["title"], "Alphabet")

    @asynchronous
    async def test_refusals(self) -> None:
        """
        A track unknown, played or requested too recently, an address with
        as many requests as it may have, and a full queue are refused with
        404, 409, 429 and 503, in JSON, each with one log line naming the
        client.
        """
        station = Station(self)
        station.played("a.mp3", 600)
        with capturedLogs() as events:
            status, unknown = await station.send(
                "POST", f"{REQUESTS_PATH}/stream", b'{"id": "0123456789abcdef"}'
            )
            _, played = await station.ask("a.mp3")
            await station.ask("b.mp3")
            _, again = await station.ask("b.mp3", client="192.0.2.1")
            await station.ask("c.mp3")
            limit_status, limited = await station.ask("d.mp3")
            await station.ask("d.mp3", client="192.0.2.2")
            await station.ask("e.mp3", client="192.0.2.3")
            full_status, full = await station.ask("f.mp3", client="192.0.2.4")
        self.assertEqual(status, "HTTP/1.0 404 Not Found")
        self.assertEqual(document(unknown), {"error": "No such track in the library of /stream"})
        self.assertEqual(played.status, 409)
        self.assertEqual(
            document(played)["error"],
            "This track played 10 min ago; it may be requested again in 50 min",
        )
        self.assertEqual(again.status, 409)
        self.assertEqual(document(again)["error"], "This track is already requested")
        self.assertEqual(limit_status, "HTTP/1.0 429 Too Many Requests")
        self.assertIn("You have 2 requests waiting", document(limited)["error"])
        self.assertEqual(full_status, "HTTP/1.0 503 Service Unavailable")
        self.assertIn("The request queue is full", document(full)["error"])
        self.assertEqual(len(station.queue.pending), 4)
        logged = refusals(events)
        self.assertEqual([event["status"] for event in logged], [404, 409, 409, 429, 503])
        for event in logged:
            self.assertEqual(event["path"], f"{REQUESTS_PATH}/stream")
        peers = [event["peer"] for event in logged]
        self.assertEqual((peers[2], peers[4]), ("192.0.2.1", "192.0.2.4"))
        for peer in (peers[0], peers[1], peers[3]):
            self.assertTrue(peer.startswith("127.0.0.1:"), peer)
        listed = {item["title"]: item for item in await station.list()}
        self.assertEqual(listed["First Song"]["reason"], document(played)["error"])
        self.assertEqual(listed["Sixth Song"]["reason"], document(limited)["error"])
        listed = {item["title"]: item for item in await station.list(client="192.0.2.9")}
        self.assertEqual(listed["Sixth Song"]["reason"], document(full)["error"])

    @asynchronous
    async def test_bad_bodies(self) -> None:
        """
        A body that is not a JSON object with a string C{id}, or a form
        with one, is refused with 400; one over L{MAX_BODY} bytes with
        413; nothing is queued.
        """
        station = Station(self)
        bodies = [
            (b"", "application/json"),
            (b"not json", "application/json"),
            (b'["id"]', "application/json"),
            (b"{}", "application/json"),
            (b'{"id": 7}', "application/json"),
            (b'{"id": " "}', "application/json"),
            (b"name=x", "application/x-www-form-urlencoded"),
            (b"\xff\xfe", ""),
        ]
        with capturedLogs() as events:
            for body, content_type in bodies:
                headers = f"Content-Type: {content_type}\r\n" if content_type else ""
                _, reply = await station.send("POST", f"{REQUESTS_PATH}/stream", body, headers)
                self.assertEqual(reply.status, 400, body)
                self.assertTrue(document(reply)["error"], body)
            large = json.dumps({"id": station.id("a.mp3"), "x": "y" * MAX_BODY}).encode()
            _, reply = await station.send("POST", f"{REQUESTS_PATH}/stream", large)
        self.assertEqual(reply.status, 413)
        self.assertEqual(document(reply), {"error": f"The body is over {MAX_BODY} bytes"})
        self.assertEqual(station.queue.pending, [])
        self.assertEqual(
            [event["status"] for event in refusals(events)], [400] * len(bodies) + [413]
        )

    @asynchronous
    async def test_mounts(self) -> None:
        """
        An unknown mount, one whose configuration takes no requests, one
        with no library, and a path naming no mount are refused with 404
        and a reason, to C{GET} and C{POST} alike.
        """
        station = Station(self)
        cases = {
            "/nowhere": "No such mount: /nowhere",
            "/jazz": "Mount /jazz takes no requests",
            "/live": "Mount /live takes no requests",
            "": f"Name a mount: {REQUESTS_PATH}/<mount>",
            "/stream/": f"Name a mount: {REQUESTS_PATH}/<mount>",
        }
        for path, reason in cases.items():
            for method in ("GET", "POST"):
                body = json.dumps({"id": station.id("a.mp3")}).encode()
                _, reply = await station.send(method, REQUESTS_PATH + path, body)
                self.assertEqual(reply.status, 404, (path, method))
                self.assertEqual(document(reply), {"error": reason})
        self.assertEqual(station.queue.pending, [])

    @asynchronous
    async def test_methods(self) -> None:
        """
        C{HEAD} is answered as C{GET} without a body; C{OPTIONS} is a CORS
        preflight that allows C{POST}; other methods are refused with 405
        and the methods allowed.
        """
        station = Station(self)
        _, head = await station.send("HEAD", f"{REQUESTS_PATH}/stream")
        self.assertEqual(head.status, 200)
        self.assertEqual(head.body, b"")
        self.assertGreater(int(head.headers["content-length"]), 0)
        _, options = await station.send("OPTIONS", f"{REQUESTS_PATH}/stream")
        self.assertEqual(options.status, 204)
        self.assertEqual(
            options.headers["access-control-allow-methods"], "GET, HEAD, POST, OPTIONS"
        )
        self.assertIn("Content-Type", options.headers["access-control-allow-headers"])
        for method in ("PUT", "DELETE", "PATCH"):
            _, reply = await station.send(method, f"{REQUESTS_PATH}/stream")
            self.assertEqual(reply.status, 405, method)
            self.assertEqual(reply.headers["allow"], "GET, HEAD, POST, OPTIONS")
            self.assertEqual(document(reply), {"error": "Method Not Allowed"})

    @asynchronous
    async def test_forwarded_for(self) -> None:
        """
        A client's address is the one C{X-Forwarded-For} gives only when
        the connection comes from a trusted proxy; otherwise the header
        is ignored, so that it cannot dodge the limit per address.
        """
        trusting = Station(self)
        await trusting.ask("a.mp3", client="198.51.100.1")
        self.assertEqual([r.address for r in trusting.queue.pending], ["198.51.100.1"])
        wary = Station(self, trusted=())
        await wary.ask("a.mp3", client="198.51.100.1")
        await wary.ask("b.mp3", client="198.51.100.2")
        _, reply = await wary.ask("c.mp3", client="198.51.100.3")
        self.assertEqual(reply.status, 429)
        self.assertEqual({r.address for r in wary.queue.pending}, {"127.0.0.1"})

    @asynchronous
    async def test_given_lookups(self) -> None:
        """
        The station may give the site its queues, libraries and plays
        itself, for mounts that play no programme.
        """
        config = MountConfig(name="/radio/one", requests=True)
        mount = Mount(config, FakeFrameSource([]), reactor)
        factory = RadioFactory(
            reactor, StationConfig(port=0, mounts=(config,)), {"/radio/one": mount}
        )
        queue = RequestQueue(3600.0, 2, 20)
        track = TrackInfo("/x/song.mp3", "Song", "Singer")
        played = reactor.seconds() - 120
        station_site(
            factory,
            reactor,
            request_queues=lambda name: queue if name == "/radio/one" else None,
            library_tracks=lambda name: [track] if name == "/radio/one" else None,
            aired=lambda name: [Aired(track.path, "Singer", "Song", played)],
        )
        port: IListeningPort = reactor.listenTCP(0, factory, interface="127.0.0.1")
        self.addCleanup(port.stopListening)
        address: Any = port.getHost()
        tcp: IReactorTCP = reactor
        client = OneShot(f"GET {REQUESTS_PATH}/{quote('radio/one')} HTTP/1.0\r\n\r\n".encode())
        await connectProtocol(TCP4ClientEndpoint(tcp, "127.0.0.1", address.port), client)
        listed = document(parse_reply(await client.done))
        self.assertEqual([item["id"] for item in listed], [track_id(track.path)])
        self.assertFalse(listed[0]["requestable"])
        self.assertIn("played 2 min ago", listed[0]["reason"])


class RequestAdminTests(TestCase):
    """
    The requests waiting, seen and taken off at L{ADMIN_REQUESTS_PATH},
    behind the admin login.
    """

    timeout = 30

    @asynchronous
    async def test_login_first(self) -> None:
        """
        Without the admin's credentials, every admin request about
        requests is refused with 401, whatever its method or path, and
        nothing is taken off.
        """
        station = Station(self)
        await station.ask("a.mp3")
        for password in (None, "wrong"):
            for method, path in (
                ("GET", "/stream"),
                ("DELETE", "/stream"),
                ("DELETE", "/stream/1"),
                ("POST", "/nowhere"),
            ):
                _, reply = await station.admin(method, path, password)
                self.assertEqual(reply.status, 401, (method, path, password))
                self.assertEqual(reply.headers["www-authenticate"], 'Basic realm="radiod"')
        self.assertEqual(len(station.queue.pending), 1)

    @asynchronous
    async def test_list_and_remove(self) -> None:
        """
        An administrator sees the requests waiting, oldest first, with
        their place, client and track (C{HEAD}: the length alone); takes
        one off by its id, then all the others; each is logged with who
        did it.
        """
        station = Station(self)
        await station.ask("a.mp3")
        await station.ask("b.mp3", client="192.0.2.8")
        await station.ask("c.mp3")
        first, second, third = station.queue.pending
        _, reply = await station.admin("GET", "/stream")
        self.assertEqual(reply.status, 200)
        self.assertEqual(reply.headers["cache-control"], "no-cache, no-store")
        listed = document(reply)
        self.assertEqual(listed["mount"], "/stream")
        self.assertEqual(
            [(r["id"], r["place"], r["address"]) for r in listed["requests"]],
            [(first.id, 1, "127.0.0.1"), (second.id, 2, "192.0.2.8"), (third.id, 3, "127.0.0.1")],
        )
        self.assertEqual(listed["requests"][1]["at"], second.at)
        _, head = await station.admin("HEAD", "/stream")
        self.assertEqual((head.status, head.body), (200, b""))
        self.assertEqual(head.headers["content-length"], str(len(reply.body)))
        self.assertEqual(
            listed["requests"][1]["track"],
            {
                "id": station.id("b.mp3"),
                "artist": "Beta Artist",
                "title": "Second Song",
                "album": "Greatest Hits",
                "duration": 200.0,
            },
        )
        with capturedLogs() as events:
            _, reply = await station.admin("DELETE", f"/stream/{second.id}")
            self.assertEqual(document(reply), {"mount": "/stream", "removed": 1})
            self.assertEqual(station.queue.pending, [first, third])
            _, reply = await station.admin("DELETE", f"/stream/{second.id}")
            self.assertEqual(reply.status, 404)
            self.assertEqual(document(reply), {"error": f"No request {second.id} waits on /stream"})
            _, reply = await station.admin("DELETE", "/stream")
            self.assertEqual(document(reply), {"mount": "/stream", "removed": 2})
        self.assertEqual(station.queue.pending, [])
        taken = [event for event in events if "removed" in event]
        self.assertEqual([event["removed"] for event in taken], [1, 2])
        self.assertEqual({event["user"] for event in taken}, {"admin"})
        self.assertEqual([event["status"] for event in refusals(events)], [404])

    @asynchronous
    async def test_admin_refusals(self) -> None:
        """
        An unknown mount or one that takes no requests is 404; a method
        the path does not take is 405 with the methods it takes.
        """
        station = Station(self)
        cases = [
            ("GET", "/nowhere", 404, None),
            ("GET", "/jazz", 404, None),
            ("GET", "", 404, f"Name a mount: {ADMIN_REQUESTS_PATH}/<mount>"),
            ("POST", "/stream", 405, "GET, HEAD, DELETE"),
            ("GET", "/stream/1", 405, "DELETE"),
        ]
        for method, path, status, detail in cases:
            _, reply = await station.admin(method, path)
            self.assertEqual(reply.status, status, (method, path))
            error = document(reply)["error"]
            if status == 405:
                self.assertEqual(reply.headers["allow"], detail)
            elif detail is not None:
                self.assertEqual(error, detail)
            self.assertTrue(error)
