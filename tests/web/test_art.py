"""
Tests for L{radiod.web.art}: cover art served from a library of real
files, in memory (in-memory connections, the runner run by hand or at
once) and over a real socket (a whole station on a loopback port).
"""

from __future__ import annotations

import io
import json
import os
import shutil
from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Any

from PIL import Image
from twisted.internet.defer import Deferred
from twisted.internet.endpoints import TCP4ClientEndpoint, connectProtocol
from twisted.internet.task import Clock
from twisted.logger import capturedLogs
from twisted.trial.unittest import SynchronousTestCase, TestCase

import radiod.library.art as art
from radiod.audio.icy import IcyDemuxer, parse_metadata
from radiod.broadcast.mount import Mount
from radiod.config import MountConfig, StationConfig
from radiod.library.art import ScalingError, art_id, scale_picture
from radiod.library.library import Library
from radiod.runner import thread_runner
from radiod.station.service import StationService
from radiod.testing import (
    Connection,
    FakeFrameSource,
    LaterRunner,
    Reply,
    parse_reply,
    synchronous_runner,
)
from radiod.web.art import ART_SIZES, IMMUTABLE, CoverArt, art_url, parse_size
from radiod.web.site import attach
from radiod.web.tree import station_site
from radiod.wire.server import RadioFactory, RadioProtocol
from tests.library.test_art import add_apic, make_picture, warnings, write
from tests.library.test_tags import write_mp3
from tests.support.loopback import FIXTURES, asynchronous, reactor, wait_for
from tests.web.test_files_e2e import Client

Runner = Callable[[Callable[[], Any]], Deferred[Any]]


class Scaler:
    """
    Scales pictures with Pillow (L{scale_picture}), counting each time.

    @ivar calls: the files made, in order.
    """

    def __init__(self) -> None:
        self.calls: list[str] = []

    def __call__(self, source: str, target: str, size: int) -> None:
        self.calls.append(os.path.basename(target))
        scale_picture(source, target, size)


class Station:
    """
    A station's site serving the cover art of one library: C{one/a.mp3}
    with a picture of its own (400 by 300), C{one/b.mp3} without, beside
    a folder image, and C{two/c.mp3} with neither.
    """

    def __init__(
        self,
        test: SynchronousTestCase,
        runner: Runner = synchronous_runner,
        default: str = "",
        scale: Callable[[str, str, int], None] | None = None,
    ) -> None:
        base = os.path.abspath(test.mktemp())
        self.music = os.path.join(base, "music")
        self.cache = os.path.join(base, "cache")
        self.own = make_picture("PNG", (400, 300), (200, 30, 30))
        self.cover = make_picture("JPEG", (80, 80), (30, 30, 200))
        self.a = add_apic(write_mp3(self.mp3("one/a.mp3")), self.own)
        write_mp3(self.mp3("one/b.mp3"))
        write(os.path.join(self.music, "one", "cover.jpg"), self.cover)
        write_mp3(self.mp3("two/c.mp3"))
        self.library = Library(self.music, synchronous_runner)
        test.successResultOf(self.library.scan())
        self.clock = Clock()
        config = StationConfig(default_art=default, mounts=(MountConfig(name="/stream"),))
        mounts = {"/stream": Mount(config.mounts[0], FakeFrameSource([]), self.clock)}
        self.factory = RadioFactory(self.clock, config, mounts)
        site = station_site(self.factory, self.clock)
        self.scaler = Scaler()
        self.art = CoverArt(
            self.factory,
            runner,
            self.cache,
            libraries=lambda: [self.library],
            scale=scale or self.scaler,
        )
        attach(site, "/art", self.art)

    def mp3(self, name: str) -> str:
        path = os.path.join(self.music, name)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        return path

    def open(self, target: str, method: str = "GET", headers: str = "") -> Connection[Any]:
        """
        Send one request on a new connection, which is returned.
        """
        connection: Connection[RadioProtocol] = Connection(self.factory, 41000, "192.0.2.7")
        connection.send(f"{method} {target} HTTP/1.1\r\nHost: radio.example\r\n{headers}\r\n")
        return connection

    def request(self, target: str, method: str = "GET", headers: str = "") -> Reply:
        """
        Send one request and read the whole reply, pulling a file body as
        a connection would.
        """
        connection = self.open(target, method, headers)
        return self.finish(connection)

    def finish(self, connection: Connection[Any]) -> Reply:
        """
        Read the rest of the reply on C{connection}.
        """
        transport = connection.transport
        while transport.producer is not None:
            transport.producer.resumeProducing()
        assert transport.disconnecting, transport.value()[:300]
        connection.lose()
        return connection.reply()


def size_of(data: bytes) -> tuple[str, tuple[int, int]]:
    """
    The format and size of a picture, as Pillow reads it.
    """
    with Image.open(io.BytesIO(data)) as image:
        return str(image.format), image.size


class ParseTests(SynchronousTestCase):
    """
    L{parse_size} and L{art_url}.
    """

    def test_size(self) -> None:
        """
        A size is one of L{ART_SIZES}, given once; none is no size.
        """
        self.assertEqual(ART_SIZES, (64, 128, 256, 512))
        self.assertIsNone(parse_size({}))
        self.assertEqual([parse_size({"size": [str(n)]}) for n in ART_SIZES], list(ART_SIZES))
        for wrong in (["100"], ["064"], [""], ["big"], ["64", "64"], [" 64"]):
            self.assertRaises(ValueError, parse_size, {"size": wrong})

    def test_url(self) -> None:
        """
        A path is made absolute under a public URL, when there is one.
        """
        self.assertEqual(art_url("/art/default", ""), "/art/default")
        self.assertEqual(
            art_url("/art/0123456789abcdef", "https://radio.example.org/"),
            "https://radio.example.org/art/0123456789abcdef",
        )
        self.assertEqual(art_url("", "https://radio.example.org"), "")


class ArtTests(SynchronousTestCase):
    """
    C{GET /art/<id>}: the pictures of the library's tracks.
    """

    def setUp(self) -> None:
        self.station = Station(self)
        self.own = art_id(self.station.own)
        self.cover = art_id(self.station.cover)

    def test_original(self) -> None:
        """
        A track's own picture is sent as found, with its content type, a
        length, its id as ETag, and headers that let anyone cache it for
        good; it is kept in the art folder.
        """
        reply = self.station.request(f"/art/{self.own}")
        self.assertEqual(reply.status, 200)
        self.assertEqual(reply.body, self.station.own)
        headers = reply.headers
        self.assertEqual(headers["content-type"], "image/png")
        self.assertEqual(headers["content-length"], str(len(self.station.own)))
        self.assertEqual(headers["etag"], f'"{self.own}"')
        self.assertEqual(headers["cache-control"], "public, max-age=31536000, immutable")
        self.assertEqual(headers["cache-control"], IMMUTABLE)
        self.assertEqual(headers["access-control-allow-origin"], "*")
        self.assertEqual(headers["x-content-type-options"], "nosniff")
        self.assertEqual(os.listdir(os.path.join(self.station.cache, "art")), [f"{self.own}.png"])

    def test_folder_image(self) -> None:
        """
        A track's folder image is sent as found too.
        """
        reply = self.station.request(f"/art/{self.cover}")
        self.assertEqual((reply.status, reply.headers["content-type"]), (200, "image/jpeg"))
        self.assertEqual(reply.body, self.station.cover)

    def test_not_modified(self) -> None:
        """
        A request naming the picture's ETag in C{If-None-Match} gets C{304}
        with the same validators and no body, without any file being
        touched.
        """
        runner = LaterRunner()
        station = Station(self, runner)
        etag = f'"{self.own}"'
        connection = station.open(f"/art/{self.own}", headers=f"If-None-Match: {etag}\r\n")
        self.assertEqual(runner.pending, [])
        reply = station.finish(connection)
        self.assertEqual(reply.status, 304)
        self.assertEqual(reply.body, b"")
        self.assertEqual(reply.headers["etag"], f'"{self.own}"')
        self.assertEqual(reply.headers["cache-control"], IMMUTABLE)
        self.assertFalse(os.path.exists(station.cache))
        other = self.station.request(f"/art/{self.own}", headers='If-None-Match: "other"\r\n')
        self.assertEqual(other.status, 200)

    def test_head(self) -> None:
        """
        C{HEAD} gets the same head and no body.
        """
        reply = self.station.request(f"/art/{self.own}?size=64", method="HEAD")
        self.assertEqual(reply.status, 200)
        self.assertEqual(reply.body, b"")
        self.assertEqual(reply.headers["content-type"], "image/jpeg")
        self.assertEqual(reply.headers["etag"], f'"{self.own}-64"')
        self.assertGreater(int(reply.headers["content-length"]), 0)

    def test_sizes(self) -> None:
        """
        A size gets a JPEG picture that fits it, with its own ETag, made
        once: later requests are sent the file kept, Pillow not run again.
        """
        for size in ART_SIZES:
            reply = self.station.request(f"/art/{self.own}?size={size}")
            self.assertEqual(reply.status, 200)
            self.assertEqual(reply.headers["content-type"], "image/jpeg")
            self.assertEqual(reply.headers["etag"], f'"{self.own}-{size}"')
            self.assertEqual(reply.headers["cache-control"], IMMUTABLE)
            self.assertEqual(
                size_of(reply.body), ("JPEG", (min(size, 400), min(size, 400) * 3 // 4))
            )
        made = [f"{self.own}-{size}.jpg" for size in ART_SIZES]
        self.assertEqual(self.station.scaler.calls, made)
        again = self.station.request(f"/art/{self.own}?size=128")
        self.assertEqual(size_of(again.body), ("JPEG", (128, 96)))
        self.assertEqual(self.station.scaler.calls, made)
        kept = sorted(os.listdir(os.path.join(self.station.cache, "art")))
        self.assertEqual(kept, sorted([f"{self.own}.png", *made]))

    def test_made_once_at_a_time(self) -> None:
        """
        Requests for a size that is being made wait for it, rather than
        making it again; each gets the picture.
        """
        runner = LaterRunner()
        station = Station(self, runner)
        first = station.open(f"/art/{self.own}?size=64")
        second = station.open(f"/art/{self.own}?size=64")
        self.assertEqual(len(runner.pending), 1)
        while runner.pending:
            runner.run()
        self.assertEqual(station.scaler.calls, [f"{self.own}-64.jpg"])
        for connection in (first, second):
            while connection.transport.producer is not None:
                connection.transport.producer.resumeProducing()
                while runner.pending:
                    runner.run()
            connection.lose()
            reply = connection.reply()
            self.assertEqual(size_of(reply.body), ("JPEG", (64, 48)))

    def test_off_the_reactor(self) -> None:
        """
        Nothing is read or written until the runner runs the work: the
        reactor thread only passes it on.
        """
        runner = LaterRunner()
        station = Station(self, runner)
        connection = station.open(f"/art/{self.own}")
        self.assertEqual(connection.received(), b"")
        self.assertFalse(os.path.exists(station.cache))
        while connection.transport.producer is not None or runner.pending:
            while runner.pending:
                runner.run()
            if connection.transport.producer is not None:
                connection.transport.producer.resumeProducing()
        connection.lose()
        self.assertEqual(connection.reply().body, station.own)

    def test_bad_size(self) -> None:
        """
        A size that is not one of L{ART_SIZES} is refused with C{400}.
        """
        for query in ("size=100", "size=", "size=large", "size=64&size=128"):
            reply = self.station.request(f"/art/{self.own}?{query}")
            self.assertEqual(reply.status, 400, query)
            self.assertEqual(reply.body, b"400 size must be one of 64, 128, 256, 512\n")

    def test_unknown(self) -> None:
        """
        An id no track of the library has, anything that is no id, a path
        under a picture and the folder itself are not found, even when
        the art folder holds a file by that name.
        """
        stranger = make_picture("PNG", color=(1, 2, 3))
        os.makedirs(os.path.join(self.station.cache, "art"))
        write(os.path.join(self.station.cache, "art", art_id(stranger) + ".png"), stranger)
        for target in (
            f"/art/{art_id(stranger)}",
            "/art/0123456789ABCDEF",
            "/art/../cache",
            f"/art/{self.own}/x",
            f"/art/{self.own}.png",
            "/art",
            "/art/",
        ):
            reply = self.station.request(target)
            self.assertEqual(reply.status, 404, target)
            self.assertNotIn("etag", reply.headers)

    def test_gone(self) -> None:
        """
        A picture no track has any more (the file was changed since the
        scan) is not found, which is logged.
        """
        add_apic(self.station.a, make_picture("PNG", color=(0, 90, 0)))
        with capturedLogs() as events:
            reply = self.station.request(f"/art/{self.own}?size=64")
        self.assertEqual(reply.status, 404)
        self.assertNotIn("etag", reply.headers)
        messages = [event["reason"] for event in events if "reason" in event]
        self.assertIn(f"no track has cover art {self.own} any more", messages)

    def test_without_pillow(self) -> None:
        """
        Without Pillow, a size gets the picture as found, and the log says
        so once.
        """
        self.patch(art, "HAS_PILLOW", False)
        with capturedLogs() as events:
            first = self.station.request(f"/art/{self.own}?size=64")
            second = self.station.request(f"/art/{self.own}?size=128")
        for reply in (first, second):
            self.assertEqual((reply.status, reply.body), (200, self.station.own))
            self.assertEqual(reply.headers["content-type"], "image/png")
        self.assertEqual(second.headers["etag"], f'"{self.own}-128"')
        said = [e for e in events if "Pillow is not installed" in str(e.get("log_format"))]
        self.assertEqual(len(said), 1)

    def test_cannot_scale(self) -> None:
        """
        A picture Pillow cannot scale is sent as found, logged once, and
        not tried again.
        """
        calls: list[int] = []

        def failing(source: str, target: str, size: int) -> None:
            calls.append(size)
            raise ScalingError("broken")

        station = Station(self, scale=failing)
        with capturedLogs() as events:
            for size in (64, 256):
                reply = station.request(f"/art/{self.own}?size={size}")
                self.assertEqual((reply.status, reply.body), (200, station.own))
        self.assertEqual(calls, [64])
        said = [e for e in events if "Cannot scale" in str(e.get("log_format"))]
        self.assertEqual(len(said), 1)


class DefaultArtTests(SynchronousTestCase):
    """
    C{GET /art/default}: the station's default picture.
    """

    def test_none(self) -> None:
        """
        Without a default picture, there is none to send.
        """
        reply = Station(self).request("/art/default")
        self.assertEqual(reply.status, 404)

    def test_default(self) -> None:
        """
        The default picture is sent with the ETag of what it holds, to be
        checked each time; a request naming that ETag gets C{304}; a
        changed file gets a new ETag; sizes are made as for any picture.
        """
        path = os.path.join(os.path.abspath(self.mktemp()), "default.gif")
        picture = make_picture("GIF", (90, 90))
        write(path, picture)
        station = Station(self, default=path)
        reply = station.request("/art/default")
        self.assertEqual((reply.status, reply.body), (200, picture))
        self.assertEqual(reply.headers["content-type"], "image/gif")
        self.assertEqual(reply.headers["etag"], f'"{art_id(picture)}"')
        self.assertEqual(reply.headers["cache-control"], "no-cache")
        cached = station.request("/art/default", headers=f'If-None-Match: "{art_id(picture)}"\r\n')
        self.assertEqual((cached.status, cached.body), (304, b""))
        sized = station.request("/art/default?size=64")
        self.assertEqual(size_of(sized.body), ("JPEG", (64, 64)))
        self.assertEqual(sized.headers["etag"], f'"{art_id(picture)}-64"')
        changed = make_picture("PNG", (10, 10))
        write(path, changed)
        reply = station.request("/art/default", headers=f'If-None-Match: "{art_id(picture)}"\r\n')
        self.assertEqual((reply.status, reply.body), (200, changed))
        self.assertEqual(reply.headers["etag"], f'"{art_id(changed)}"')

    def test_not_a_picture(self) -> None:
        """
        A default picture that is not a picture, or is missing, is not
        found, which is logged.
        """
        path = os.path.join(os.path.abspath(self.mktemp()), "default.png")
        write(path, b"not a picture")
        station = Station(self, default=path)
        with capturedLogs() as events:
            self.assertEqual(station.request("/art/default").status, 404)
            os.remove(path)
            self.assertEqual(station.request("/art/default").status, 404)
        self.assertEqual(warnings(events), [f"{path}: not a JPEG, PNG, GIF or WebP picture"])

    def test_reloaded(self) -> None:
        """
        The default picture is the one the station's configuration names
        now.
        """
        station = Station(self)
        path = os.path.join(os.path.abspath(self.mktemp()), "default.png")
        write(path, make_picture("PNG"))
        station.factory.config = replace(station.factory.config, default_art=path)
        self.assertEqual(station.request("/art/default").status, 200)


class ArtEndToEndTests(TestCase):
    """
    A whole station serving cover art and naming it in its status and its
    ICY metadata, over real sockets.
    """

    timeout = 60

    async def fetch(self, port: int, target: str, headers: str = "") -> Reply:
        client = Client(f"GET {target} HTTP/1.1\r\nHost: x\r\n{headers}\r\n".encode())
        await connectProtocol(TCP4ClientEndpoint(reactor, "127.0.0.1", port), client)
        self.addCleanup(lambda: client.transport.loseConnection() if client.transport else None)
        await client.gone
        return parse_reply(bytes(client.data))

    async def metadata(self, port: int) -> dict[str, str]:
        """
        The first ICY metadata block a listener of C{/stream} gets.
        """
        request = b"GET /stream HTTP/1.0\r\nIcy-MetaData: 1\r\n\r\n"
        client = Client(request, pause_after=40000)
        await connectProtocol(TCP4ClientEndpoint(reactor, "127.0.0.1", port), client)
        self.addCleanup(lambda: client.transport.loseConnection() if client.transport else None)
        await client.started
        reply = parse_reply(bytes(client.data))
        events = IcyDemuxer(int(reply.headers["icy-metaint"])).feed(reply.body)
        payload = next(data for kind, data in events if kind == "metadata")
        return parse_metadata(payload)

    @asynchronous
    async def test_station(self) -> None:
        """
        The status names the playing track's cover art; its path serves
        the picture with its validators (C{304} when the client has it)
        and in sizes made once; the default picture is served too; and
        ICY listeners get the picture's absolute URL after the title.
        """
        base = os.path.abspath(self.mktemp())
        music = os.path.join(base, "music")
        os.makedirs(music)
        song = os.path.join(music, "song.mp3")
        shutil.copy(os.path.join(FIXTURES, "alpha-artist-first-song.mp3"), song)
        picture = make_picture("PNG", (300, 300), (250, 120, 0))
        add_apic(song, picture)
        default = write(os.path.join(base, "default.png"), make_picture("PNG", (20, 20)))
        mount = MountConfig(name="/stream", music=music, icy_art=True, metaint=8192)
        config = StationConfig(
            port=0,
            interface="127.0.0.1",
            cache_dir=os.path.join(base, "cache"),
            public_url="https://radio.example.org",
            default_art=default,
            mounts=(mount,),
        )
        service = StationService(config, reactor, thread_runner(reactor, reactor.getThreadPool()))
        service.startService()
        self.addCleanup(service.stopService)
        address: Any = (await service.listener.listening).getHost()
        port = address.port
        playing = service.mounts["/stream"]
        await wait_for(lambda: playing.now_playing is not None, 20, reactor)
        cover = f"/art/{art_id(picture)}"

        status = json.loads((await self.fetch(port, "/api/v1/status")).body)
        self.assertEqual(status["mounts"][0]["now_playing"]["art"], cover)

        reply = await self.fetch(port, cover)
        self.assertEqual((reply.status, reply.body), (200, picture))
        self.assertEqual(reply.headers["etag"], f'"{art_id(picture)}"')
        self.assertEqual(reply.headers["cache-control"], IMMUTABLE)
        cached = await self.fetch(port, cover, f'If-None-Match: "{art_id(picture)}"\r\n')
        self.assertEqual((cached.status, cached.body), (304, b""))

        sizes: Sequence[Reply] = [await self.fetch(port, cover + "?size=128") for _ in range(2)]
        for sized in sizes:
            self.assertEqual(sized.status, 200)
            self.assertEqual(size_of(sized.body), ("JPEG", (128, 128)))
        self.assertEqual(sizes[0].body, sizes[1].body)
        folder = os.path.join(base, "cache", "art")
        self.assertEqual(
            sorted(os.listdir(folder)),
            [f"{art_id(picture)}-128.jpg", f"{art_id(picture)}.png"],
        )

        fallback = await self.fetch(port, "/art/default")
        self.assertEqual(fallback.status, 200)
        self.assertEqual(fallback.headers["cache-control"], "no-cache")

        metadata = await self.metadata(port)
        self.assertEqual(metadata["StreamTitle"], "Alpha Artist - First Song")
        self.assertEqual(metadata["StreamUrl"], "https://radio.example.org" + cover)
