"""
Tests for L{radiod.web.nowplaying}: now playing in AzuraCast's form, its
documents and its live updates, in memory on a L{Clock}.
"""

from __future__ import annotations

import base64
import json
import os
from dataclasses import replace
from typing import Any
from urllib.parse import quote

from twisted.internet.interfaces import IPushProducer
from twisted.internet.task import Clock
from twisted.internet.testing import StringTransport
from twisted.trial.unittest import SynchronousTestCase
from zope.interface.verify import verifyObject

from radiod import testing
from radiod.audio.track import TrackInfo
from radiod.broadcast.mount import Mount
from radiod.config import MountConfig, StationConfig
from radiod.library.library import Library
from radiod.library.programme import Programme
from radiod.testing import FakeFrameSource, Reply, SlowTransport, silent_frame, synchronous_runner
from radiod.web.nowplaying import (
    HISTORY_ITEMS,
    LIVE_PATH,
    MAX_CONNECT,
    MAX_SUBS,
    NOWPLAYING_PATH,
    OFFLINE_SONG_ID,
    PING,
    STALL,
    TICK,
    shortcode,
    song_id,
)
from radiod.web.nowplaying_sse import Subscription, attach_nowplaying, parse_connect
from radiod.web.tree import station_site
from radiod.wire.server import RadioFactory, RadioProtocol
from tests.web.test_admin import write_track

T0 = 1_767_225_600.0
"""
The clock's time when a test's station starts (2026-01-01, UTC).
"""

ALPHA = TrackInfo("/music/a.mp3", "First Song", "Alpha Artist", "Tests", 2.6)
BETA = TrackInfo("/music/b.mp3", "Second Song", "Beta Artist", duration=2.6)
FRAME = silent_frame()
FRAMES_PER_TRACK = 100  # about 2.6 s each
TRACK_SECONDS = FRAMES_PER_TRACK * FRAME.header.duration
PASSWORD = "hackme"

# The fields of AzuraCast's documented NowPlaying schema (its OpenAPI
# components Api_NowPlaying and those it refers to), each with the JSON
# types it may take.
NULLABLE_TEXT = (str, type(None))
NOWPLAYING_FIELDS: dict[str, Any] = {
    "station": dict,
    "listeners": dict,
    "live": dict,
    "now_playing": (dict, type(None)),
    "playing_next": (dict, type(None)),
    "song_history": list,
    "is_online": bool,
    "cache": NULLABLE_TEXT,
}
STATION_FIELDS: dict[str, Any] = {
    "id": int,
    "name": str,
    "shortcode": str,
    "description": str,
    "frontend": str,
    "backend": str,
    "timezone": str,
    "listen_url": NULLABLE_TEXT,
    "url": NULLABLE_TEXT,
    "public_player_url": str,
    "playlist_pls_url": str,
    "playlist_m3u_url": str,
    "is_public": bool,
    "requests_enabled": bool,
    "mounts": list,
    "remotes": list,
    "hls_enabled": bool,
    "hls_is_default": bool,
    "hls_url": NULLABLE_TEXT,
    "hls_listeners": int,
}
MOUNT_FIELDS: dict[str, Any] = {
    "id": int,
    "name": str,
    "url": str,
    "bitrate": (int, type(None)),
    "format": NULLABLE_TEXT,
    "listeners": dict,
    "path": str,
    "is_default": bool,
}
LISTENERS_FIELDS: dict[str, Any] = {"total": int, "unique": int, "current": int}
LIVE_FIELDS: dict[str, Any] = {
    "is_live": bool,
    "streamer_name": str,
    "broadcast_start": (int, type(None)),
    "art": NULLABLE_TEXT,
}
SONG_HISTORY_FIELDS: dict[str, Any] = {
    "sh_id": int,
    "played_at": int,
    "duration": int,
    "playlist": NULLABLE_TEXT,
    "streamer": NULLABLE_TEXT,
    "is_request": bool,
    "song": dict,
}
CURRENT_SONG_FIELDS: dict[str, Any] = {**SONG_HISTORY_FIELDS, "elapsed": int, "remaining": int}
QUEUE_FIELDS: dict[str, Any] = {
    "cued_at": int,
    "played_at": (int, type(None)),
    "duration": float,
    "playlist": NULLABLE_TEXT,
    "is_request": bool,
    "song": dict,
}
SONG_FIELDS: dict[str, Any] = {
    "id": str,
    "text": str,
    "artist": NULLABLE_TEXT,
    "title": NULLABLE_TEXT,
    "album": NULLABLE_TEXT,
    "genre": NULLABLE_TEXT,
    "isrc": NULLABLE_TEXT,
    "lyrics": NULLABLE_TEXT,
    "art": str,
    "custom_fields": (list, dict),
}


def check_fields(test: SynchronousTestCase, value: Any, fields: dict[str, Any], at: str) -> None:
    """
    Check that C{value} is an object with exactly the keys of C{fields},
    each of one of the JSON types given (a boolean is no number, a number
    of one kind no number of the other).
    """
    test.assertIsInstance(value, dict, at)
    test.assertEqual(set(value), set(fields), at)
    for key, kinds in fields.items():
        allowed = kinds if isinstance(kinds, tuple) else (kinds,)
        test.assertIn(type(value[key]), allowed, f"{at}.{key} = {value[key]!r}")


def check_document(test: SynchronousTestCase, document: Any) -> None:
    """
    Check a now-playing document against AzuraCast's schema, all the way
    down.
    """
    check_fields(test, document, NOWPLAYING_FIELDS, "np")
    station = document["station"]
    check_fields(test, station, STATION_FIELDS, "station")
    for index, mount in enumerate(station["mounts"]):
        check_fields(test, mount, MOUNT_FIELDS, f"station.mounts[{index}]")
        check_fields(test, mount["listeners"], LISTENERS_FIELDS, f"mounts[{index}].listeners")
    check_fields(test, document["listeners"], LISTENERS_FIELDS, "listeners")
    check_fields(test, document["live"], LIVE_FIELDS, "live")
    if document["now_playing"] is not None:
        check_fields(test, document["now_playing"], CURRENT_SONG_FIELDS, "now_playing")
        check_fields(test, document["now_playing"]["song"], SONG_FIELDS, "now_playing.song")
    if document["playing_next"] is not None:
        check_fields(test, document["playing_next"], QUEUE_FIELDS, "playing_next")
        check_fields(test, document["playing_next"]["song"], SONG_FIELDS, "playing_next.song")
    for index, played in enumerate(document["song_history"]):
        check_fields(test, played, SONG_HISTORY_FIELDS, f"song_history[{index}]")
        check_fields(test, played["song"], SONG_FIELDS, f"song_history[{index}].song")


def messages(data: bytes) -> list[Any]:
    """
    The messages of an event stream, after its head, each event's data
    parsed as JSON.
    """
    body = data.partition(b"\r\n\r\n")[2].decode("utf-8")
    found = []
    for block in body.split("\n\n"):
        lines = [line for line in block.split("\n") if line]
        if not lines:
            continue
        data_lines = [line.removeprefix("data: ") for line in lines if line.startswith("data: ")]
        found.append(json.loads("\n".join(data_lines)))
    return found


def connect_query(*channels: str) -> str:
    """
    The query AzuraCast's own player sends to follow C{channels}.
    """
    request = {"subs": {channel: {"recover": True} for channel in channels}}
    return "?cf_connect=" + quote(json.dumps(request))


class Station:
    """
    A station on a L{Clock} that starts at L{T0}: C{/stream} ("Test FM",
    public, taking requests, served as HLS, with a 64 kbit/s rung
    C{/stream-64}) and C{/other} ("Other FM") play two scripted tracks of
    about 2.6 s in turn; live sources are accepted.
    """

    def __init__(self, test: SynchronousTestCase, start: bool = True, **settings: Any) -> None:
        """
        @param start: whether the mounts start playing.
        @param settings: the station's settings that differ.
        """
        self.test = test
        self.clock = Clock()
        self.clock.advance(T0)
        test.addCleanup(lambda: test.assertEqual(self.clock.getDelayedCalls(), []))
        stream = MountConfig(
            name="/stream",
            station_name="Test FM",
            description="Tests all day",
            url="https://test.example/",
            public=True,
            requests=True,
            ladder=(64,),
            hls=True,
        )
        other = MountConfig(name="/other", station_name="Other FM")
        config = StationConfig(
            port=8000, mounts=(stream, other), source_password=PASSWORD, timezone="Europe/Paris"
        )
        config = replace(config, **settings)
        self.mounts: dict[str, Mount] = {}
        for mount_config in (*config.mounts, MountConfig(name="/stream-64")):
            source = FakeFrameSource([(track, FRAME, FRAMES_PER_TRACK) for track in (ALPHA, BETA)])
            mount = Mount(mount_config, source, self.clock)
            if start:
                mount.start()
            test.addCleanup(mount.stop)
            self.mounts[mount_config.name] = mount
        self.factory = RadioFactory(self.clock, config, self.mounts, accept_sources=True)
        self.updates = attach_nowplaying(
            station_site(self.factory, self.clock), self.factory, self.clock
        )
        test.addCleanup(self.updates.close)
        if start:
            self.clock.advance(0)

    def get(self, target: str, host: str = "radio.example", port: int = 40000) -> Reply:
        """
        Ask for C{target}; the whole reply.
        """
        connection = self.connect(target, host, port)
        return connection.reply()

    def document(self, target: str = NOWPLAYING_PATH + "/stream") -> Any:
        """
        The JSON of C{target}, which must be answered with 200.
        """
        reply = self.get(target)
        self.test.assertEqual(reply.status, 200, reply.body)
        return json.loads(reply.body)

    def connect(
        self,
        target: str,
        host: str = "radio.example",
        port: int = 40000,
        transport: StringTransport | None = None,
        method: str = "GET",
    ) -> testing.Connection[RadioProtocol]:
        """
        Send a request and keep its connection open.
        """
        connection = testing.Connection(self.factory, port=port, transport=transport)
        connection.send(f"{method} {target} HTTP/1.1\r\nHost: {host}\r\n\r\n")
        return connection

    def listen(self, mount: str, address: str, port: int) -> testing.Connection[RadioProtocol]:
        """
        Connect a listener to C{mount} from C{address}.
        """
        connection = testing.Connection(self.factory, port=port, host=address)
        connection.send(f"GET {mount} HTTP/1.0\r\n\r\n")
        self.test.addCleanup(connection.lose)
        return connection

    def go_live(self, name: str = "DJ Night") -> testing.Connection[RadioProtocol]:
        """
        Connect a live source calling itself C{name} to C{/stream} and
        send it some audio.
        """
        source = testing.Connection(self.factory, port=41000)
        auth = base64.b64encode(f"source:{PASSWORD}".encode()).decode()
        source.send(
            "PUT /stream HTTP/1.1\r\n"
            f"Authorization: Basic {auth}\r\nContent-Type: audio/mpeg\r\nIce-Name: {name}\r\n\r\n"
        )
        self.test.assertIn(b"200 OK", source.received())
        source.send(silent_frame(fill=0x55).data * 400)
        return source

    def next_track(self) -> None:
        """
        Play on until the next track starts.
        """
        self.clock.pump([0.1] * int(TRACK_SECONDS * 10 + 2))


class ValuesTests(SynchronousTestCase):
    """
    Shortcodes and song identifiers are computed as AzuraCast's are.
    """

    def test_song_id(self) -> None:
        """
        A song's identifier is AzuraCast's: the one its documentation
        shows for its example song, and the identifier of the offline
        song for a song with no text.
        """
        self.assertEqual(song_id("Chet Porter - Aluko River"), "9f33bbc912c19603e51be8e0987d076b")
        self.assertEqual(song_id("Station Offline"), OFFLINE_SONG_ID)
        self.assertEqual(song_id(""), OFFLINE_SONG_ID)
        self.assertEqual(song_id(" - "), OFFLINE_SONG_ID)

    def test_song_id_forgiving(self) -> None:
        """
        Case, spaces, dashes, quotes and line breaks do not change a
        song's identifier; only its first 150 characters count.
        """
        self.assertEqual(
            song_id("CHET PORTER-'Aluko' \"River\"\n"), song_id("Chet Porter - Aluko River")
        )
        long = "x" * 150
        self.assertEqual(song_id(long + "y"), song_id(long + "z"))
        self.assertNotEqual(song_id("Zoë - Été"), song_id("Zoe - Ete"))

    def test_shortcode(self) -> None:
        """
        A shortcode is the mount's name without its slash, nested slashes
        turned to underscores.
        """
        self.assertEqual(shortcode("/stream"), "stream")
        self.assertEqual(shortcode("/live/main"), "live_main")
        self.assertEqual(shortcode("/radio.mp3"), "radio.mp3")


class DocumentTests(SynchronousTestCase):
    """
    L{NOWPLAYING_PATH} and L{NOWPLAYING_PATH}C{/<station>} answer in
    AzuraCast's now-playing shape.
    """

    def test_list(self) -> None:
        """
        The list holds one document per configured mount, in order,
        numbered from 1; a rung is no station.  It is JSON, never cached,
        readable by scripts on other sites.
        """
        station = Station(self)
        reply = station.get(NOWPLAYING_PATH)
        self.assertEqual(reply.status, 200)
        self.assertEqual(reply.headers["content-type"], "application/json; charset=utf-8")
        self.assertEqual(reply.headers["cache-control"], "no-cache")
        self.assertEqual(reply.headers["access-control-allow-origin"], "*")
        documents = json.loads(reply.body)
        self.assertEqual(
            [(each["station"]["id"], each["station"]["shortcode"]) for each in documents],
            [(1, "stream"), (2, "other")],
        )
        for each in documents:
            check_document(self, each)
        self.assertEqual(json.loads(station.get(NOWPLAYING_PATH + "/").body), documents)

    def test_station(self) -> None:
        """
        The station part names the station, its URLs as the client
        reached the server, and its mounts: the mount itself first (the
        default), then its rungs.
        """
        station = Station(self)
        document = station.document()
        check_document(self, document)
        self.assertEqual(
            document["station"],
            {
                "id": 1,
                "name": "Test FM",
                "shortcode": "stream",
                "description": "Tests all day",
                "frontend": "radiod",
                "backend": "radiod",
                "timezone": "Europe/Paris",
                "listen_url": "http://radio.example/stream",
                "url": "https://test.example/",
                "public_player_url": "http://radio.example/stream/",
                "playlist_pls_url": "http://radio.example/stream.pls",
                "playlist_m3u_url": "http://radio.example/stream.m3u",
                "is_public": True,
                "requests_enabled": True,
                "mounts": [
                    {
                        "id": 1,
                        "name": "/stream (128kbps MP3)",
                        "url": "http://radio.example/stream",
                        "bitrate": 128,
                        "format": "mp3",
                        "listeners": {"total": 0, "unique": 0, "current": 0},
                        "path": "/stream",
                        "is_default": True,
                    },
                    {
                        "id": 2,
                        "name": "/stream-64 (64kbps MP3)",
                        "url": "http://radio.example/stream-64",
                        "bitrate": 64,
                        "format": "mp3",
                        "listeners": {"total": 0, "unique": 0, "current": 0},
                        "path": "/stream-64",
                        "is_default": False,
                    },
                ],
                "remotes": [],
                "hls_enabled": True,
                "hls_is_default": False,
                "hls_url": "http://radio.example/hls/stream/index.m3u8",
                "hls_listeners": 0,
            },
        )
        other = station.document(NOWPLAYING_PATH + "/other")["station"]
        self.assertEqual((other["id"], other["name"], other["url"]), (2, "Other FM", None))
        self.assertEqual((other["is_public"], other["requests_enabled"]), (False, False))
        self.assertEqual((other["hls_enabled"], other["hls_url"]), (False, None))
        self.assertEqual([mount["path"] for mount in other["mounts"]], ["/other"])

    def test_urls_from_host(self) -> None:
        """
        The URLs name the host and port the client used; without a usable
        C{Host}, the server's own address and port.
        """
        station = Station(self)
        reply = station.get(NOWPLAYING_PATH + "/stream", host="radio.example:8443")
        self.assertEqual(
            json.loads(reply.body)["station"]["listen_url"], "http://radio.example:8443/stream"
        )
        reply = station.get(NOWPLAYING_PATH + "/stream", host="bad host")
        self.assertEqual(
            json.loads(reply.body)["station"]["listen_url"], "http://localhost:8000/stream"
        )

    def test_by_number(self) -> None:
        """
        A station may be named by its number instead of its shortcode.
        """
        station = Station(self)
        self.assertEqual(station.document(NOWPLAYING_PATH + "/2")["station"]["shortcode"], "other")

    def test_unknown(self) -> None:
        """
        An unknown station, or a path below a station, is C{404} with
        AzuraCast's error document.
        """
        station = Station(self)
        for target in ("/nowhere", "/3", "/stream/art", "/stream-64"):
            reply = station.get(NOWPLAYING_PATH + target)
            self.assertEqual(reply.status, 404, target)
            self.assertEqual(reply.headers["content-type"], "application/json; charset=utf-8")
            body = json.loads(reply.body)
            self.assertEqual((body["code"], body["success"]), (404, False))
            self.assertEqual(body["message"], "Record not found")
        self.assertEqual(station.factory.refused, 4)

    def test_methods(self) -> None:
        """
        C{HEAD} gets the headers alone; C{POST} gets C{405}.
        """
        station = Station(self)
        head = station.connect(NOWPLAYING_PATH + "/stream", method="HEAD").reply()
        self.assertEqual((head.status, head.body), (200, b""))
        self.assertEqual(head.headers["content-type"], "application/json; charset=utf-8")
        post = station.connect(NOWPLAYING_PATH, method="POST").reply()
        self.assertEqual(post.status, 405)

    def test_now_playing(self) -> None:
        """
        The track at the head of the stream is now playing: when it
        started and how long it lasts in whole seconds, how far it has
        played and how long it has left, and the song: its text as
        C{Artist - Title}, its parts and AzuraCast's identifier.
        """
        station = Station(self)
        station.clock.pump([0.1] * 12)
        document = station.document()
        self.assertTrue(document["is_online"])
        self.assertIsNone(document["cache"])
        started = station.mounts["/stream"].track_started
        self.assertEqual(
            document["now_playing"],
            {
                "sh_id": int(started * 1000),
                "played_at": int(started),
                "duration": 3,
                "playlist": "",
                "streamer": "",
                "is_request": False,
                "song": {
                    "text": "Alpha Artist - First Song",
                    "artist": "Alpha Artist",
                    "title": "First Song",
                    "album": "Tests",
                    "genre": "",
                    "isrc": "",
                    "lyrics": "",
                    "id": song_id("Alpha Artist - First Song"),
                    "art": "",
                    "custom_fields": [],
                },
                "elapsed": 1,
                "remaining": 2,
            },
        )
        self.assertEqual(document["song_history"], [])
        self.assertIsNone(document["playing_next"])

    def test_elapsed_bounded(self) -> None:
        """
        Past its duration, a track has played its duration and has
        nothing left, as AzuraCast counts.
        """
        station = Station(self)
        station.clock.pump([0.1] * 25)
        station.mounts["/stream"].track_started -= 60
        playing = station.document()["now_playing"]
        self.assertEqual((playing["elapsed"], playing["remaining"]), (3, 0))

    def test_history(self) -> None:
        """
        The song history lists the tracks played before the current one,
        newest first, at most L{HISTORY_ITEMS} of them, without the time
        played so far.
        """
        station = Station(self)
        station.next_track()
        document = station.document()
        self.assertEqual(document["now_playing"]["song"]["title"], "Second Song")
        [played] = document["song_history"]
        first = station.mounts["/stream"].history[1][1]
        self.assertEqual(
            played,
            {
                "sh_id": int(first * 1000),
                "played_at": int(first),
                "duration": 3,
                "playlist": "",
                "streamer": "",
                "is_request": False,
                "song": {
                    "text": "Alpha Artist - First Song",
                    "artist": "Alpha Artist",
                    "title": "First Song",
                    "album": "Tests",
                    "genre": "",
                    "isrc": "",
                    "lyrics": "",
                    "id": song_id("Alpha Artist - First Song"),
                    "art": "",
                    "custom_fields": [],
                },
            },
        )
        for _ in range(HISTORY_ITEMS + 2):
            station.next_track()
        document = station.document()
        check_document(self, document)
        history = document["song_history"]
        self.assertEqual(len(history), HISTORY_ITEMS)
        self.assertNotIn(document["now_playing"]["sh_id"], [each["sh_id"] for each in history])
        times = [each["sh_id"] for each in history]
        self.assertEqual(times, sorted(times, reverse=True))
        self.assertGreater(document["now_playing"]["sh_id"], times[0])

    def test_offline(self) -> None:
        """
        A station with no audio yet is offline and, as in AzuraCast, its
        song is the offline song.
        """
        station = Station(self, start=False)
        document = station.document()
        check_document(self, document)
        self.assertFalse(document["is_online"])
        self.assertEqual(
            document["now_playing"],
            {
                "sh_id": 0,
                "played_at": 0,
                "duration": 0,
                "playlist": None,
                "streamer": None,
                "is_request": False,
                "song": {
                    "text": "Station Offline",
                    "artist": "",
                    "title": "Station Offline",
                    "album": "",
                    "genre": "",
                    "isrc": "",
                    "lyrics": "",
                    "id": OFFLINE_SONG_ID,
                    "art": "",
                    "custom_fields": [],
                },
                "elapsed": 0,
                "remaining": 0,
            },
        )
        self.assertIsNone(document["playing_next"])
        self.assertEqual(document["station"]["mounts"][0]["bitrate"], None)
        self.assertEqual(document["station"]["mounts"][0]["name"], "/stream (MP3)")

    def test_text_json_cannot_carry(self) -> None:
        """
        Text that JSON in UTF-8 cannot carry (a lone surrogate, from a file
        name that is not UTF-8) is replaced, and the document is still
        JSON.
        """
        station = Station(self, start=False)
        station.mounts["/stream"].now_playing = TrackInfo("/music/odd.mp3", "Caf\udce9", "Band")
        song = station.document()["now_playing"]["song"]
        self.assertEqual(song["title"], "Caf\ufffd")
        self.assertEqual(song["id"], song_id("Band - Caf\udce9"))

    def test_listeners(self) -> None:
        """
        The station's listeners are those of its mount and its rungs;
        unique ones are counted by address; each mount counts its own.
        """
        station = Station(self)
        station.clock.pump([0.1] * 5)
        station.listen("/stream", "198.51.100.1", 50001)
        station.listen("/stream", "198.51.100.1", 50002)
        station.listen("/stream-64", "198.51.100.2", 50003)
        station.mounts["/stream"].hls_listener_joined()
        document = station.document()
        self.assertEqual(document["listeners"], {"total": 4, "unique": 2, "current": 4})
        first, rung = document["station"]["mounts"]
        self.assertEqual(first["listeners"], {"total": 3, "unique": 1, "current": 3})
        self.assertEqual(rung["listeners"], {"total": 1, "unique": 1, "current": 1})
        self.assertEqual(document["station"]["hls_listeners"], 1)
        station.mounts["/stream"].hls_listener_left()

    def test_live(self) -> None:
        """
        While a live source is connected the station is live: its name is
        the streamer's, and the broadcast started when it connected; its
        title, split into artist and title, is now playing, the streamer
        named.  Once it leaves, the station is no longer live.
        """
        station = Station(self)
        station.clock.pump([0.1] * 5)
        self.assertEqual(
            station.document()["live"],
            {"is_live": False, "streamer_name": "", "broadcast_start": None, "art": None},
        )
        connected = station.clock.seconds()
        source = station.go_live("DJ Night - Late Show")
        station.clock.pump([0.1] * 20)
        document = station.document()
        check_document(self, document)
        self.assertEqual(
            document["live"],
            {
                "is_live": True,
                "streamer_name": "DJ Night - Late Show",
                "broadcast_start": int(connected),
                "art": None,
            },
        )
        playing = document["now_playing"]
        self.assertEqual(
            (playing["song"]["artist"], playing["song"]["title"], playing["streamer"]),
            ("DJ Night", "Late Show", "DJ Night - Late Show"),
        )
        self.assertEqual((playing["duration"], playing["remaining"]), (0, 0))
        self.assertIsNone(document["playing_next"])
        self.assertEqual(document["song_history"][0]["song"]["title"], "First Song")
        source.lose()
        self.assertFalse(station.document()["live"]["is_live"])
        station.clock.pump([0.1] * 5)

    def test_live_mount_no_station(self) -> None:
        """
        A mount that exists only for a live source is no station.
        """
        station = Station(self)
        source = testing.Connection(station.factory, port=41000)
        auth = base64.b64encode(f"source:{PASSWORD}".encode()).decode()
        source.send(
            f"PUT /show HTTP/1.1\r\nAuthorization: Basic {auth}\r\nContent-Type: audio/mpeg\r\n\r\n"
        )
        self.assertIn("/show", station.factory.mounts)
        shortcodes = [each["station"]["shortcode"] for each in station.document(NOWPLAYING_PATH)]
        self.assertEqual(shortcodes, ["stream", "other"])
        self.assertEqual(station.get(NOWPLAYING_PATH + "/show").status, 404)
        source.lose()
        station.clock.advance(1)

    def test_nested_name(self) -> None:
        """
        A mount named with nested slashes has them turned to underscores
        in its shortcode, and kept in its URLs.
        """
        mounts = (MountConfig(name="/live/main", hls=True), MountConfig(name="/other"))
        station = Station(self, mounts=mounts)
        document = station.document(NOWPLAYING_PATH + "/live_main")
        self.assertEqual(document["station"]["shortcode"], "live_main")
        self.assertEqual(document["station"]["listen_url"], "http://radio.example/live/main")
        self.assertEqual(
            document["station"]["hls_url"], "http://radio.example/hls/live/main/index.m3u8"
        )


class NextTests(SynchronousTestCase):
    """
    A mount playing its programme says what it plays next.
    """

    def build(self) -> tuple[Station, Programme]:
        """
        The test station, whose C{/stream} plays a library of three
        tracks (C{a.mp3}, C{b.mp3}, C{c.mp3}, about half a minute each)
        in order.
        """
        station = Station(self, start=False)
        folder = os.path.abspath(self.mktemp())
        os.makedirs(folder)
        for name in ("a.mp3", "b.mp3", "c.mp3"):
            write_track(folder, name, 1200)
        programme = Programme(
            Library(folder, synchronous_runner),
            station.clock,
            synchronous_runner,
            rescan_interval=0,
            name="/stream",
        )
        mount = Mount(station.mounts["/stream"].config, programme, station.clock)
        station.mounts["/stream"] = mount
        station.factory.mounts["/stream"] = mount
        mount.start()
        self.addCleanup(mount.stop)
        station.clock.pump([0.1] * 5)
        return station, programme

    def test_playing_next(self) -> None:
        """
        The programme's next track is playing next: cued when the current
        one started, expected when it ends, its duration in seconds as a
        number with a fraction, as AzuraCast's queue gives it.
        """
        station, programme = self.build()
        document = station.document()
        check_document(self, document)
        mount = station.mounts["/stream"]
        current = mount.now_playing
        assert current is not None
        following = document["playing_next"]
        self.assertEqual(following["cued_at"], int(mount.track_started))
        self.assertEqual(following["played_at"], int(mount.track_started + current.duration))
        self.assertIsInstance(following["duration"], float)
        self.assertGreater(following["duration"], 30)
        self.assertEqual((following["playlist"], following["is_request"]), ("", False))
        self.assertEqual(following["song"]["title"], "b")
        self.assertEqual(following["song"]["id"], song_id("b"))
        programme.queue(programme.library.tracks[2].path)
        self.assertEqual(station.document()["playing_next"]["song"]["title"], "c")


class ParseConnectTests(SynchronousTestCase):
    """
    L{parse_connect} reads the channels of a Centrifugo connect request.
    """

    def test_channels(self) -> None:
        """
        The channels are the keys of C{subs}, in order; a request without
        C{subs}, or none at all, follows nothing.
        """
        self.assertEqual(
            parse_connect('{"subs": {"station:a": {"recover": true}, "station:b": {}}}'),
            ["station:a", "station:b"],
        )
        self.assertEqual(parse_connect("{}"), [])
        self.assertEqual(parse_connect('{"token": "x"}'), [])
        self.assertEqual(parse_connect(None), [])

    def test_malformed(self) -> None:
        """
        Anything but such an object is refused, and so are requests too
        long or following too many channels.
        """
        many: dict[str, dict[str, Any]] = {
            "subs": {f"station:{n}": {} for n in range(MAX_SUBS + 1)}
        }
        for text in (
            "",
            "not json",
            "[]",
            '"station:a"',
            '{"subs": []}',
            '{"subs": {"station:a": 1}}',
            json.dumps(many),
            '{"subs": {"station:a": {}}, "data": "' + "x" * MAX_CONNECT + '"}',
        ):
            self.assertRaises(ValueError, parse_connect, text)


class LiveUpdatesTests(SynchronousTestCase):
    """
    L{LIVE_PATH} sends the state of the stations a client follows, then a
    publication whenever one changes, in Centrifugo's form.
    """

    def open(self, station: Station, *channels: str, **kwargs: Any) -> Any:
        """
        Open a stream following C{channels}.
        """
        return station.connect(LIVE_PATH + connect_query(*channels), **kwargs)

    def test_connect(self) -> None:
        """
        A stream answers 200 with C{text/event-stream}, never cached, and
        starts with Centrifugo's C{connect} reply: the server's time in
        milliseconds, the ping interval, and for each channel followed
        the station's state now as its one publication, as AzuraCast
        publishes it.
        """
        station = Station(self)
        station.clock.pump([0.1] * 5)
        connection = self.open(station, "station:stream")
        reply = connection.reply()
        self.assertEqual(reply.status, 200)
        self.assertEqual(reply.headers["content-type"], "text/event-stream; charset=utf-8")
        self.assertEqual(reply.headers["cache-control"], "no-cache")
        self.assertEqual(reply.headers["access-control-allow-origin"], "*")
        self.assertNotIn("content-length", reply.headers)
        self.assertTrue(reply.body.startswith(b'data: {"connect":'))
        self.assertFalse(connection.closed)
        [message] = messages(connection.received())
        connect = message["connect"]
        self.assertEqual(connect["time"], int(station.clock.seconds() * 1000))
        self.assertEqual(connect["ping"], PING)
        self.assertIsInstance(connect["client"], str)
        [(channel, sub)] = connect["subs"].items()
        self.assertEqual(channel, "station:stream")
        [publication] = sub["publications"]
        data = publication["data"]
        self.assertEqual(set(data), {"np", "triggers", "current_time"})
        self.assertEqual(data["triggers"], [])
        self.assertEqual(data["current_time"], int(station.clock.seconds()))
        check_document(self, data["np"])
        self.assertEqual(data["np"]["cache"], "event")
        self.assertEqual(data["np"]["station"]["listen_url"], "http://radio.example/stream")
        self.assertEqual(data["np"]["now_playing"]["song"]["title"], "First Song")
        expected = station.document()
        expected["cache"] = "event"
        self.assertEqual(data["np"], expected)

    def test_track_change(self) -> None:
        """
        When a new track reaches the head of the stream, every follower
        gets a publication on its channel at once, C{song_changed} among
        its triggers.
        """
        station = Station(self)
        connection = self.open(station, "station:stream")
        another = self.open(station, "station:1", port=40001)
        while station.mounts["/stream"].now_playing is ALPHA:
            station.clock.advance(0.1)
        [_, message] = messages(connection.received())
        self.assertEqual(message["channel"], "station:stream")
        self.assertEqual(message["pub"]["offset"], 2)
        data = message["pub"]["data"]
        self.assertEqual(data["triggers"], ["song_changed"])
        self.assertEqual(data["np"]["now_playing"]["song"]["title"], "Second Song")
        self.assertEqual(data["np"]["song_history"][0]["song"]["title"], "First Song")
        check_document(self, data["np"])
        [_, other] = messages(another.received())
        self.assertEqual(other["channel"], "station:1")
        self.assertEqual(other["pub"]["data"], data)

    def test_listeners_change(self) -> None:
        """
        A change in the listener count is published at the next check,
        once; nothing is published when nothing changed.
        """
        station = Station(self, start=False)
        connection = self.open(station, "station:stream")
        station.clock.advance(TICK)
        self.assertEqual(len(messages(connection.received())), 1)
        mount = station.mounts["/stream"]
        mount.hls_listener_joined()
        station.clock.advance(TICK / 2)
        self.assertEqual(len(messages(connection.received())), 1)
        station.clock.advance(TICK / 2)
        found = messages(connection.received())
        self.assertEqual(len(found), 2)
        data = found[1]["pub"]["data"]
        self.assertEqual(data["triggers"], ["listener_gained"])
        self.assertEqual(data["np"]["listeners"]["current"], 1)
        self.assertEqual(data["np"]["station"]["hls_listeners"], 1)
        station.clock.advance(TICK)
        self.assertEqual(len(messages(connection.received())), 2)
        mount.hls_listener_left()
        station.clock.advance(TICK)
        found = messages(connection.received())
        self.assertEqual(found[-1]["pub"]["data"]["triggers"], ["listener_lost"])
        self.assertEqual(found[-1]["pub"]["offset"], 3)

    def test_live(self) -> None:
        """
        A live source connecting is published at once (C{live_connect}),
        and so is its leaving (C{live_disconnect}).
        """
        station = Station(self)
        station.clock.pump([0.1] * 5)
        connection = self.open(station, "station:stream")
        source = station.go_live()
        data = messages(connection.received())[-1]["pub"]["data"]
        self.assertEqual(data["triggers"], ["live_connect"])
        self.assertEqual(data["np"]["live"]["streamer_name"], "DJ Night")
        source.lose()
        data = messages(connection.received())[-1]["pub"]["data"]
        self.assertEqual(data["triggers"], ["live_disconnect"])
        station.clock.pump([0.1] * 5)

    def test_unknown_channels(self) -> None:
        """
        A channel that names no station is subscribed to, and never gets
        a publication.
        """
        station = Station(self)
        connection = self.open(station, "station:nowhere", "chat:1", "station:other")
        [message] = messages(connection.received())
        subs = message["connect"]["subs"]
        self.assertEqual(list(subs), ["station:nowhere", "chat:1", "station:other"])
        self.assertEqual((subs["station:nowhere"], subs["chat:1"]), ({}, {}))
        self.assertEqual(len(subs["station:other"]["publications"]), 1)
        station.next_track()
        channels = {each["channel"] for each in messages(connection.received())[1:]}
        self.assertEqual(channels, {"station:other"})

    def test_no_cf_connect(self) -> None:
        """
        Without C{cf_connect}, the stream follows nothing and gets pings.
        """
        station = Station(self)
        connection = station.connect(LIVE_PATH)
        [message] = messages(connection.received())
        self.assertEqual(message["connect"]["subs"], {})
        station.clock.advance(PING + TICK)
        self.assertEqual(messages(connection.received())[1:], [{}])

    def test_malformed(self) -> None:
        """
        A malformed C{cf_connect} is refused with C{400} and a JSON body.
        """
        station = Station(self)
        for value in ("not json", "[1]", '{"subs": "station:stream"}'):
            reply = station.connect(LIVE_PATH + "?cf_connect=" + quote(value)).reply()
            self.assertEqual(reply.status, 400, value)
            self.assertEqual(reply.headers["content-type"], "application/json; charset=utf-8")
            self.assertIn("error", json.loads(reply.body))
        self.assertEqual(station.updates.subscriptions, set())

    def test_ping(self) -> None:
        """
        After L{PING} seconds without a message, a stream gets C{{}}, as
        Centrifugo pings.
        """
        station = Station(self, start=False)
        connection = self.open(station, "station:stream")
        station.clock.advance(TICK)
        self.assertEqual(len(messages(connection.received())), 1)
        station.clock.pump([TICK] * (PING // int(TICK)))
        self.assertEqual(messages(connection.received())[1:], [{}])

    def test_hosts(self) -> None:
        """
        Each follower gets URLs naming the host it used.
        """
        station = Station(self)
        first = self.open(station, "station:stream")
        second = self.open(station, "station:stream", host="other.example", port=40001)
        station.next_track()
        for connection, host in ((first, "radio.example"), (second, "other.example")):
            found = messages(connection.received())
            np = found[-1]["pub"]["data"]["np"]
            self.assertEqual(np["station"]["listen_url"], f"http://{host}/stream")

    def test_limit(self) -> None:
        """
        Streams beyond the limit are refused with C{503}.
        """
        station = Station(self)
        station.updates.max_streams = 1
        self.open(station, "station:stream")
        reply = self.open(station, "station:stream", port=40001).reply()
        self.assertEqual(reply.status, 503)
        self.assertEqual(reply.headers["retry-after"], "30")
        self.assertEqual(station.updates.refused, 1)
        self.assertEqual(len(station.updates.subscriptions), 1)

    def test_methods(self) -> None:
        """
        C{HEAD} gets the headers and no stream; C{POST} gets C{405}.
        """
        station = Station(self)
        head = self.open(station, "station:stream", method="HEAD")
        self.assertTrue(head.received().startswith(b"HTTP/1.0 200 OK\r\n"))
        self.assertTrue(head.received().endswith(b"\r\n\r\n"))
        self.assertTrue(head.closed)
        post = self.open(station, "station:stream", method="POST").reply()
        self.assertEqual(post.status, 405)
        self.assertEqual(station.updates.subscriptions, set())

    def test_client_leaves(self) -> None:
        """
        When its client leaves, a stream is forgotten; the station's
        observer goes with its last follower, and the checks stop with
        the last stream.
        """
        station = Station(self)
        mount = station.mounts["/stream"]
        observers = list(mount.on_track_change)
        first = self.open(station, "station:stream")
        second = self.open(station, "station:stream", port=40001)
        self.assertEqual(len(mount.on_track_change), len(observers) + 1)
        first.lose()
        self.assertEqual(len(mount.on_track_change), len(observers) + 1)
        second.lose()
        self.assertEqual(mount.on_track_change, observers)
        self.assertEqual(station.updates.subscriptions, set())

    def test_slow_client(self) -> None:
        """
        A client that stops reading is sent nothing meanwhile; reading
        again, it gets the state of its stations; one that does not read
        for L{STALL} seconds is disconnected, without disturbing the
        others.
        """
        station = Station(self)
        transport = SlowTransport(threshold=100)
        slow = self.open(station, "station:stream", transport=transport)
        fast = self.open(station, "station:stream", port=40001)
        [subscription] = [
            each for each in station.updates.subscriptions if each.request.transport is transport
        ]
        verifyObject(IPushProducer, subscription)
        self.assertTrue(transport.paused_producer)
        written = len(transport.value())
        station.next_track()
        self.assertEqual(len(transport.value()), written)
        self.assertEqual(len(messages(fast.received())), 2)
        transport.drain()
        [message] = messages(b"\r\n\r\n" + transport.value())
        self.assertEqual(
            message["pub"]["data"]["np"]["now_playing"]["song"]["title"], "Second Song"
        )
        # The client stops reading again.
        subscription.pauseProducing()
        station.clock.pump([TICK] * int(STALL / TICK))
        self.assertTrue(transport.aborted)
        self.assertNotIn(subscription, station.updates.subscriptions)
        self.assertEqual(station.updates.dropped, 1)
        slow.lose()
        self.assertFalse(fast.closed)
        before = len(messages(fast.received()))
        station.next_track()
        self.assertEqual(len(messages(fast.received())), before + 1)

    def test_close(self) -> None:
        """
        Closing the live updates tells every client that the server shuts
        down, as Centrifugo does, and ends its stream.
        """
        station = Station(self)
        connection = self.open(station, "station:stream")
        station.updates.close()
        self.assertEqual(
            messages(connection.received())[-1],
            {"disconnect": {"code": 3001, "reason": "shutdown"}},
        )
        self.assertTrue(connection.closed)
        self.assertEqual(station.updates.subscriptions, set())

    def test_subscription_is_producer(self) -> None:
        """
        A subscription is a push producer.
        """
        station = Station(self)
        self.open(station, "station:stream")
        [subscription] = station.updates.subscriptions
        self.assertIsInstance(subscription, Subscription)
        self.assertTrue(verifyObject(IPushProducer, subscription))
