"""
Tests for L{radiod.ingest.metadata}: parsing metadata update requests, the
replies, and updates carried out by the server for live sources.
"""

from __future__ import annotations

import base64

from twisted.internet.task import Clock
from twisted.logger import capturedLogs, formatEvent
from twisted.trial.unittest import SynchronousTestCase

from radiod.audio.track import TrackInfo
from radiod.broadcast.mount import Mount
from radiod.config import MountConfig, StationConfig
from radiod.ingest.metadata import (
    MAX_BODY,
    MetadataError,
    decode_value,
    icecast_reply,
    parse_form,
    parse_update,
    raw_query,
    shoutcast_reply,
)
from radiod.testing import Connection, FakeFrameSource, silent_frame
from radiod.web.tree import station_site
from radiod.wire.server import RadioFactory, RadioProtocol

SONG = TrackInfo("/a.mp3", "First Song", "Alpha Artist")
PLAYLIST_FRAME = silent_frame()
LIVE_FRAME = silent_frame(fill=0x55)
PASSWORD = "hackme"
ADMIN_PASSWORD = "s3cret"
SUCCESS = (
    b'<?xml version="1.0"?>\n<iceresponse><message>Metadata update successful</message>'
    b"<return>1</return></iceresponse>"
)


def auth(user: str = "source", password: str = PASSWORD) -> str:
    """
    An C{Authorization} header line.
    """
    token = base64.b64encode(f"{user}:{password}".encode()).decode()
    return f"Authorization: Basic {token}\r\n"


class ParsingTests(SynchronousTestCase):
    """
    L{parse_update} and its helpers read Icecast and SHOUTcast update
    requests.
    """

    def test_song(self) -> None:
        """
        C{song=} is the title, C{+} is a space, and the mount name is
        percent-decoded.
        """
        update = parse_update("mount=%2Fstream&mode=updinfo&song=Hello+World%21")
        self.assertEqual(update.mount, "/stream")
        self.assertEqual(update.title(), "Hello World!")
        self.assertIsNone(update.password)

    def test_artist_and_title(self) -> None:
        """
        Without C{song=}, C{artist=} and C{title=} together make
        C{"artist - title"}; one of them alone is no title.
        """
        update = parse_update("mode=updinfo&mount=/s&artist=Alpha&title=Beta")
        self.assertEqual(update.title(), "Alpha - Beta")
        song_wins = parse_update("mode=updinfo&song=Gamma&artist=Alpha&title=Beta")
        self.assertEqual(song_wins.title(), "Gamma")
        error = self.assertRaises(MetadataError, parse_update("mode=updinfo&artist=Alpha").title)
        self.assertEqual((error.status, error.message), (400, "No song given"))

    def test_charset(self) -> None:
        """
        Percent-encoded bytes are decoded with C{charset=}; without it, as
        UTF-8, or as Latin-1 when they are not UTF-8.
        """
        latin = parse_update("mode=updinfo&song=Caf%E9&charset=ISO-8859-1")
        self.assertEqual(latin.title(), "Café")
        utf8 = parse_update("mode=updinfo&song=Caf%C3%A9&charset=UTF%2d8")
        self.assertEqual(utf8.title(), "Café")
        self.assertEqual(parse_update("mode=updinfo&song=Caf%C3%A9").title(), "Café")
        self.assertEqual(parse_update("mode=updinfo&song=Caf%E9").title(), "Café")
        latin_pair = parse_update("mode=updinfo&artist=Ren%E9&title=%C0+vous&charset=latin1")
        self.assertEqual(latin_pair.title(), "René - À vous")

    def test_decode_value(self) -> None:
        """
        A charset names any codec; an unknown one falls back to UTF-8 then
        Latin-1, and bytes invalid in the named charset are replaced.
        """
        self.assertEqual(decode_value(b"\x80", "windows-1252"), "€")
        self.assertEqual(decode_value(b"\xc3\xa9", "no-such-charset"), "é")
        self.assertEqual(decode_value(b"\xe9", "utf-8"), "\ufffd")

    def test_form_body(self) -> None:
        """
        A form body gives the same fields as a query; a key in both takes
        the query's value.
        """
        update = parse_update("", b"mode=updinfo&mount=%2Flive&song=From+Body")
        self.assertEqual((update.mount, update.title()), ("/live", "From Body"))
        both = parse_update("song=From+Query", b"mode=updinfo&song=From+Body")
        self.assertEqual(both.title(), "From Query")
        self.assertEqual(parse_form(b"a=1&a=2&&b"), {"a": [b"1", b"2"], "b": [b""]})

    def test_mode(self) -> None:
        """
        Without C{mode=} or with a mode other than C{updinfo}, the update
        is refused with a 400.
        """
        missing = self.assertRaises(MetadataError, parse_update("song=x").title)
        self.assertEqual((missing.status, missing.message), (400, "Missing parameter"))
        wrong = self.assertRaises(MetadataError, parse_update("mode=stats&song=x").title)
        self.assertEqual((wrong.status, wrong.message), (400, "No such action"))
        self.assertEqual(parse_update("mode=UPDINFO&song=x").title(), "x")

    def test_shoutcast_password(self) -> None:
        """
        SHOUTcast's C{pass=} is kept; C{mount=} is optional.
        """
        update = parse_update("mode=updinfo&pass=p%40ss&song=Hi")
        self.assertEqual((update.mount, update.password, update.title()), (None, "p@ss", "Hi"))

    def test_raw_query(self) -> None:
        """
        The raw query is what follows the first C{?}, still encoded.
        """
        self.assertEqual(
            raw_query("/admin/metadata?mount=%2Fa&song=b%3Fc"), "mount=%2Fa&song=b%3Fc"
        )
        self.assertEqual(raw_query("/admin/metadata"), "")

    def test_replies(self) -> None:
        """
        Replies are Icecast's XML (text escaped) or, for C{/admin.cgi}, an
        HTML page.
        """
        self.assertEqual(icecast_reply("Metadata update successful", True), SUCCESS)
        self.assertEqual(
            icecast_reply("a<b&c", False),
            b'<?xml version="1.0"?>\n<iceresponse><message>a&lt;b&amp;c</message>'
            b"<return>0</return></iceresponse>",
        )
        self.assertIn(
            b"<p>Metadata update successful</p>", shoutcast_reply("Metadata update successful")
        )


def split_reply(reply: bytes) -> tuple[str, dict[str, str], bytes]:
    """
    The status line, headers (lower-cased names) and body of a reply.
    """
    head, _, body = reply.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return lines[0], headers, body


class UpdateTests(SynchronousTestCase):
    """
    The server carries out metadata updates for live sources.
    """

    def build(self, admin_password: str = ADMIN_PASSWORD) -> tuple[Clock, RadioFactory, Mount]:
        """
        A station with one playlist mount C{/stream} (ICY interval 1000),
        accepting sources.
        """
        clock = Clock()
        config = MountConfig(name="/stream", metaint=1000, burst_size=0)
        stream = Mount(config, FakeFrameSource([(SONG, PLAYLIST_FRAME, 100000)]), clock)
        stream.start()
        self.addCleanup(stream.stop)
        station = StationConfig(
            mounts=(config,), source_password=PASSWORD, admin_password=admin_password
        )
        factory = RadioFactory(clock, station, {"/stream": stream}, accept_sources=True)
        station_site(factory, clock)
        assert factory.sources is not None
        self.addCleanup(factory.sources.stop)
        clock.pump([0.1] * 5)
        return clock, factory, stream

    def go_live(self, clock: Clock, factory: RadioFactory) -> Connection[RadioProtocol]:
        """
        Connect a source to C{/stream} and play it for a second.
        """
        source = Connection(factory, port=2)
        head = f"SOURCE /stream HTTP/1.0\r\n{auth()}ice-name: Night Show\r\n\r\n".encode()
        source.send(head + LIVE_FRAME.data * 30)
        self.play(clock, source, 10)
        return source

    def play(self, clock: Clock, source: Connection[RadioProtocol], ticks: int) -> None:
        """
        Advance C{ticks} pacer ticks while the source keeps sending four
        frames a tick (a little more than real time).
        """
        for _ in range(ticks):
            source.send(LIVE_FRAME.data * 4)
            clock.advance(0.1)

    def update(self, factory: RadioFactory, request: str, body: bytes = b"") -> bytes:
        """
        Send one request; return the reply.
        """
        return Connection(factory, port=3).send(request.encode("latin-1") + body)

    def title(self, factory: RadioFactory) -> str | None:
        """
        The title of the live source on C{/stream}.
        """
        assert factory.sources is not None
        live = factory.sources.live_source("/stream")
        return live.track.title if live is not None else None

    def test_source_credentials(self) -> None:
        """
        A GET with the source's credentials and a URL-encoded mount (as
        libshout sends it) changes the live title and gets Icecast's XML
        success reply.
        """
        clock, factory, _ = self.build()
        self.go_live(clock, factory)
        reply = self.update(
            factory,
            "GET /admin/metadata?mode=updinfo&mount=%2fstream&charset=UTF%2d8"
            f"&song=Caf%C3%A9+Tunes HTTP/1.0\r\n{auth()}\r\n",
        )
        status, headers, body = split_reply(reply)
        self.assertEqual(status, "HTTP/1.0 200 OK")
        self.assertEqual(headers["content-type"], "text/xml; charset=utf-8")
        self.assertEqual(body, SUCCESS)
        self.assertEqual(self.title(factory), "Café Tunes")

    def test_admin_credentials(self) -> None:
        """
        The admin user and password may update any mount's title; with no
        admin password configured they are refused.
        """
        clock, factory, _ = self.build()
        self.go_live(clock, factory)
        request = (
            "GET /admin/metadata?mode=updinfo&mount=/stream&artist=A&title=B HTTP/1.1\r\n"
            f"Host: x\r\n{auth('admin', ADMIN_PASSWORD)}\r\n"
        )
        self.assertTrue(self.update(factory, request).startswith(b"HTTP/1.0 200 OK\r\n"))
        self.assertEqual(self.title(factory), "A - B")
        clock, factory, _ = self.build(admin_password="")
        self.go_live(clock, factory)
        empty = "GET /admin/metadata?mode=updinfo&mount=/stream&song=C HTTP/1.0\r\n"
        reply = self.update(factory, empty + auth("admin", "") + "\r\n")
        self.assertTrue(reply.startswith(b"HTTP/1.0 401 "))
        self.assertEqual(self.title(factory), "Night Show")

    def test_unauthorised(self) -> None:
        """
        Missing or wrong credentials get a 401 with C{WWW-Authenticate}
        and change nothing; the password never appears in the logs.
        """
        clock, factory, _ = self.build()
        self.go_live(clock, factory)
        target = "/admin/metadata?mode=updinfo&mount=/stream&song=Nope"
        with capturedLogs() as events:
            for credentials in ["", auth(password="wrong-pw"), auth("admin", "wrong-pw")]:
                reply = self.update(factory, f"GET {target} HTTP/1.0\r\n{credentials}\r\n")
                status, headers, body = split_reply(reply)
                self.assertTrue(status.startswith("HTTP/1.0 401 "), status)
                self.assertEqual(headers["www-authenticate"], 'Basic realm="radiod"')
                self.assertIn(b"<return>0</return>", body)
            shoutcast = "GET /admin.cgi?mode=updinfo&pass=wrong-pw&song=Nope HTTP/1.0\r\n\r\n"
            self.assertTrue(self.update(factory, shoutcast).startswith(b"HTTP/1.0 401 "))
        self.assertEqual(self.title(factory), "Night Show")
        text = " ".join(formatEvent(event) for event in events)
        self.assertIn("401", text)
        self.assertNotIn("wrong-pw", text)

    def test_errors(self) -> None:
        """
        A mount without a live source answers "Source does not exist"; a
        missing mode, a wrong mode or no title answer 400; all in
        Icecast's XML form, and the playlist title is left alone.
        """
        clock, factory, mount = self.build()
        query = "mode=updinfo&mount=/stream&song=X"
        reply = self.update(factory, f"GET /admin/metadata?{query} HTTP/1.0\r\n{auth()}\r\n")
        status, _, body = split_reply(reply)
        self.assertEqual(status, "HTTP/1.0 400 Bad Request")
        self.assertEqual(
            body,
            b'<?xml version="1.0"?>\n<iceresponse><message>Source does not exist</message>'
            b"<return>0</return></iceresponse>",
        )
        self.assertIs(mount.now_playing, SONG)
        self.go_live(clock, factory)
        for query, message in [
            ("mount=/stream&song=X", b"Missing parameter"),
            ("mode=kill&mount=/stream&song=X", b"No such action"),
            ("mode=updinfo&mount=/stream", b"No song given"),
            ("mode=updinfo&song=X", b"Missing parameter"),
        ]:
            reply = self.update(factory, f"GET /admin/metadata?{query} HTTP/1.0\r\n{auth()}\r\n")
            status, _, body = split_reply(reply)
            self.assertEqual(status, "HTTP/1.0 400 Bad Request", query)
            self.assertIn(b"<message>" + message + b"</message>", body)
        reply = self.update(factory, "HEAD /admin/metadata HTTP/1.0\r\n\r\n")
        self.assertTrue(reply.startswith(b"HTTP/1.0 405 "))
        self.assertEqual(self.title(factory), "Night Show")

    def test_post_form(self) -> None:
        """
        A form POST is read to its C{Content-Length}, however the body is
        split, before it is answered.
        """
        clock, factory, _ = self.build()
        self.go_live(clock, factory)
        body = b"mode=updinfo&mount=%2Fstream&song=Caf%E9&charset=ISO-8859-1"
        client = Connection(factory, port=3)
        head = (
            f"POST /admin/metadata HTTP/1.1\r\nHost: x\r\n{auth()}"
            "Content-Type: application/x-www-form-urlencoded\r\n"
            f"Content-Length: {len(body)}\r\n\r\n"
        )
        self.assertEqual(client.send(head.encode() + body[:10]), b"")
        reply = client.send(body[10:])
        self.assertEqual(split_reply(reply)[2], SUCCESS)
        self.assertEqual(self.title(factory), "Café")

    def test_post_limits(self) -> None:
        """
        A body larger than L{MAX_BODY} is refused with 400; a body that
        does not arrive within the header timeout closes the connection.
        """
        clock, factory, _ = self.build()
        self.go_live(clock, factory)
        head = f"POST /admin/metadata HTTP/1.0\r\n{auth()}Content-Length: {{}}\r\n\r\n"
        reply = self.update(factory, head.format(MAX_BODY + 1))
        self.assertTrue(reply.startswith(b"HTTP/1.0 400 "), reply)
        slow = Connection(factory, port=4)
        slow.send(head.format(40) + "mode=updinfo")
        self.assertEqual(self.title(factory), "Night Show")
        clock.advance(factory.config.header_timeout - 1)
        self.assertFalse(slow.closed)
        clock.advance(1)
        self.assertTrue(slow.closed)
        self.assertEqual(slow.transport.value(), b"")

    def test_shoutcast_admin_cgi(self) -> None:
        """
        SHOUTcast's C{/admin.cgi} with the source password in C{pass=}
        updates the default mount's live source and answers with an HTML
        page.
        """
        clock, factory, _ = self.build()
        self.go_live(clock, factory)
        reply = self.update(
            factory,
            f"GET /admin.cgi?mode=updinfo&pass={PASSWORD}&song=Caf%E9 HTTP/1.0\r\n"
            "User-Agent: Winamp (Mozilla compatible)\r\n\r\n",
        )
        status, headers, body = split_reply(reply)
        self.assertEqual(status, "HTTP/1.0 200 OK")
        self.assertEqual(headers["content-type"], "text/html; charset=utf-8")
        self.assertIn(b"Metadata update successful", body)
        self.assertEqual(self.title(factory), "Café")
        admin = f"GET /admin.cgi?mode=updinfo&mount=/stream&pass={ADMIN_PASSWORD}&song=Z HTTP/1.0"
        self.assertTrue(self.update(factory, admin + "\r\n\r\n").startswith(b"HTTP/1.0 200 "))
        self.assertEqual(self.title(factory), "Z")

    def test_listeners_hear_title_with_audio(self) -> None:
        """
        Each listener gets the new title at its first metadata position at
        or after the audio that followed the update, and the old title
        before it.
        """
        clock, factory, _ = self.build()
        source = self.go_live(clock, factory)
        early = Connection(factory, port=10)
        early.send(b"GET /stream HTTP/1.0\r\nIcy-MetaData: 1\r\n\r\n")
        self.play(clock, source, 7)
        late = Connection(factory, port=11)
        late.send(b"GET /stream HTTP/1.0\r\nIcy-MetaData: 1\r\n\r\n")
        self.play(clock, source, 3)
        before = {c: len(c.capture().audio) for c in (early, late)}
        request = (
            f"GET /admin/metadata?mode=updinfo&mount=/stream&song=Next HTTP/1.0\r\n{auth()}\r\n"
        )
        self.assertEqual(split_reply(self.update(factory, request))[2], SUCCESS)
        self.play(clock, source, 20)
        for connection, offset in before.items():
            capture = connection.capture()
            self.assertEqual(capture.audio.count(PLAYLIST_FRAME.data), 0)
            self.assertGreater(len(capture.audio), offset + 3000)
            self.assertEqual(capture.titles[0], (1000, "Night Show"))
            expected = max(1000, -(-offset // 1000) * 1000)
            self.assertEqual(capture.titles[-1], (expected, "Next"))
            self.assertEqual(len(capture.titles), 2)
