"""
Tests for L{radiod.web.monitoring}: the status and metrics endpoints of a
station in memory, asked through the real protocol.
"""

from __future__ import annotations

import base64
import json
import os
import xml.etree.ElementTree as ElementTree
from dataclasses import replace
from types import SimpleNamespace
from typing import Any, cast

from prometheus_client.parser import text_string_to_metric_families
from twisted.internet.task import Clock
from twisted.logger import capturedLogs
from twisted.trial.unittest import SynchronousTestCase

from radiod.audio.track import TrackInfo
from radiod.broadcast.live import LiveSource
from radiod.broadcast.mount import Mount
from radiod.config import MountConfig, StationConfig
from radiod.ingest.relay import Relay
from radiod.library.art import art_id
from radiod.library.library import Library
from radiod.library.programme import Programme
from radiod.testing import (
    Connection,
    FakeFrameSource,
    Reply,
    parse_reply,
    silent_frame,
    synchronous_runner,
)
from radiod.web.monitoring import Monitoring, peer_host
from radiod.web.stats import parse_sid
from radiod.web.tree import station_site
from radiod.wire.server import RadioFactory, RadioProtocol
from tests.library.test_art import make_picture

START = 1_795_235_201.0
ALPHA = TrackInfo("/a.mp3", "First Song", "Alpha Artist", duration=1.04)
BETA = TrackInfo("/b.mp3", '"Quoted" \\ Song\n', "Beta Artist")
FRAME = silent_frame()
LIVE_FRAME = silent_frame(fill=0x55)
PATHS = ("/status-json.xsl", "/admin/stats", "/7.html", "/stats", "/api/v1/status", "/metrics")


def basic(user: str, password: str) -> bytes:
    """
    An C{Authorization} header line.
    """
    token = base64.b64encode(f"{user}:{password}".encode()).decode()
    return f"Authorization: Basic {token}\r\n".encode()


def metric_samples(body: bytes) -> dict[tuple[str, str], float]:
    """
    The samples of an exposition labelled by mount, by name and mount.
    """
    found = {}
    for family in text_string_to_metric_families(body.decode("utf-8")):
        for sample in family.samples:
            found[sample.name, sample.labels.get("mount", "")] = sample.value
    return found


class StationTestCase(SynchronousTestCase):
    """
    A station in memory with its monitoring, asked through the real
    protocol: mounts C{/stream} (two tracks that alternate) and
    C{/other}.  It has no tests of its own; the endpoints' tests build on
    it.
    """

    def build(self, start: float = START, **station: Any) -> tuple[Clock, RadioFactory, Monitoring]:
        """
        A started station and its monitoring, with admin password
        C{secret} and source password C{hackme}, started at C{start}.
        """
        clock = Clock()
        clock.advance(start)
        configs = (
            MountConfig(name="/stream", station_name="Test FM", genre="Rock", burst_size=0),
            MountConfig(name="/other", station_name="Other FM", max_listeners=5, burst_size=0),
        )
        sources = {
            "/stream": FakeFrameSource([(ALPHA, FRAME, 40), (BETA, FRAME, 40)]),
            "/other": FakeFrameSource([(ALPHA, FRAME, 100000)]),
        }
        mounts = {config.name: Mount(config, sources[config.name], clock) for config in configs}
        settings: dict[str, Any] = {
            "port": 8000,
            "mounts": configs,
            "admin_password": "secret",
            "source_password": "hackme",
            "state_dir": self.mktemp(),
        }
        settings.update(station)
        factory = RadioFactory(clock, StationConfig(**settings), mounts, accept_sources=True)
        station_site(factory, clock)
        factory.throttle.free = 10**6  # failed logins are throttled in tests.wire.test_limits
        assert factory.sources is not None
        self.addCleanup(factory.sources.stop)
        monitoring = Monitoring(clock, synchronous_runner, factory, process_metrics=False)
        monitoring.startService()
        self.addCleanup(monitoring.stopService)
        for mount in mounts.values():
            mount.start()
            self.addCleanup(mount.stop)
        clock.pump([0.1] * 3)
        return clock, factory, monitoring

    def get(
        self,
        factory: RadioFactory,
        target: str,
        headers: bytes = b"Host: radio.example:8000\r\n",
        method: str = "GET",
    ) -> Reply:
        """
        Ask for C{target}; the complete reply.
        """
        client = Connection(factory, 50000, host="192.0.2.7")
        data = client.send(f"{method} {target} HTTP/1.1\r\n".encode() + headers + b"\r\n")
        self.assertTrue(client.closed)
        return parse_reply(data)

    def listen(
        self, factory: RadioFactory, port: int, path: str = "/stream"
    ) -> Connection[RadioProtocol]:
        """
        Connect a listener.
        """
        client = Connection(factory, port, host=f"192.0.2.{port % 250 + 1}")
        client.send(f"GET {path} HTTP/1.0\r\n\r\n".encode())
        return client

    def go_live(
        self, clock: Clock, factory: RadioFactory, port: int = 2
    ) -> Connection[RadioProtocol]:
        """
        Connect a live source to C{/stream} and let it go on air.
        """
        source = Connection(factory, port, host="198.51.100.4")
        head = (
            b"PUT /stream HTTP/1.1\r\n"
            + basic("source", "hackme")
            + b"Content-Type: audio/mpeg\r\nice-name: Night Show\r\n\r\n"
        )
        source.send(head + LIVE_FRAME.data * 40)
        clock.pump([0.1] * 3)
        return source


class MonitoringTests(StationTestCase):
    """
    The endpoints, over a station with mounts C{/stream} (two tracks that
    alternate) and C{/other}.
    """

    def test_routes(self) -> None:
        """
        Every endpoint is on the station's site.
        """
        clock, factory, monitoring = self.build()
        auth = b"Host: radio.example\r\n" + basic("admin", "secret")
        for path in PATHS:
            self.assertEqual(self.get(factory, path, auth).status, 200, path)

    def test_around_the_routes(self) -> None:
        """
        The paths that only lead to endpoints, and paths beside them, are
        C{404 File Not Found} as any path nothing answers; C{OPTIONS} on
        a public endpoint is a CORS preflight.
        """
        clock, factory, monitoring = self.build()
        for path in ("/api", "/api/", "/api/v1", "/api/v1/nothing", "/api/v1/status/x"):
            reply = self.get(factory, path)
            self.assertEqual((reply.status, reply.body), (404, b"404 File Not Found\n"), path)
        preflight = self.get(factory, "/status-json.xsl", method="OPTIONS")
        self.assertEqual(preflight.status, 204)
        self.assertEqual(preflight.headers["access-control-allow-origin"], "*")

    def test_status_json(self) -> None:
        """
        Icecast's JSON, valid whatever the titles, with the listener
        count, the URL the client used, Icecast's content type and CORS.
        """
        clock, factory, monitoring = self.build()
        self.listen(factory, 1)
        clock.pump([0.1] * 12)
        reply = self.get(factory, "/status-json.xsl")
        self.assertEqual(reply.status, 200)
        self.assertEqual(reply.headers["content-type"], "application/json; charset=utf-8")
        self.assertEqual(reply.headers["access-control-allow-origin"], "*")
        self.assertEqual(reply.headers["cache-control"], "no-cache, no-store")
        self.assertEqual(int(reply.headers["content-length"]), len(reply.body))
        stats = json.loads(reply.body)["icestats"]
        self.assertEqual(stats["host"], "radio.example")
        stream, other = stats["source"]
        self.assertEqual(stream["listenurl"], "http://radio.example:8000/stream")
        self.assertEqual(stream["listeners"], 1)
        self.assertEqual(stream["listener_peak"], 1)
        self.assertEqual(stream["server_name"], "Test FM")
        self.assertEqual(stream["artist"], "Beta Artist")
        self.assertEqual(stream["title"], '"Quoted" \\ Song\n')
        self.assertEqual(stream["bitrate"], 128)
        self.assertEqual(other["listeners"], 0)
        one = json.loads(self.get(factory, "/status-json.xsl?mount=/other").body)
        self.assertEqual(one["icestats"]["source"]["server_name"], "Other FM")
        unknown = self.get(factory, "/status-json.xsl?mount=/nope")
        self.assertEqual(unknown.status, 200)
        self.assertNotIn("source", json.loads(unknown.body)["icestats"])

    def test_head_and_methods(self) -> None:
        """
        C{HEAD} gives every endpoint's head without its body (but with
        its length); C{POST} and C{PUT} get 405.
        """
        clock, factory, monitoring = self.build()
        auth = b"Host: radio.example\r\n" + basic("admin", "secret")
        for path in PATHS:
            got = self.get(factory, path, auth)
            head = self.get(factory, path, auth, method="HEAD")
            self.assertEqual(head.status, 200, path)
            self.assertEqual(head.body, b"", path)
            self.assertEqual(head.headers["content-type"], got.headers["content-type"], path)
            self.assertGreater(int(head.headers["content-length"]), 0, path)
            for method in ("POST", "DELETE"):
                refused = self.get(factory, path, auth, method=method)
                self.assertEqual(refused.status, 405, (path, method))
                self.assertEqual(refused.headers["allow"], "GET, HEAD, OPTIONS")

    def test_api_status(self) -> None:
        """
        radiod's own JSON: the station, and every mount with what it
        plays, its counters and its history, newest first.
        """
        clock, factory, monitoring = self.build()
        listener = self.listen(factory, 1)
        clock.pump([0.1] * 12)
        listener.protocol.connectionLost()
        reply = self.get(factory, "/api/v1/status")
        self.assertEqual(reply.status, 200)
        self.assertEqual(reply.headers["content-type"], "application/json; charset=utf-8")
        document = json.loads(reply.body)
        self.assertEqual(document["api_version"], 1)
        self.assertEqual(document["station"]["name"], "Test FM")
        self.assertEqual(document["station"]["started_at"], "2026-11-21T04:26:41Z")
        self.assertEqual(document["station"]["uptime"], 1)
        self.assertEqual(document["station"]["listeners"], 0)
        stream, other = document["mounts"]
        self.assertEqual(stream["name"], "/stream")
        self.assertEqual(stream["source"], "playlist")
        self.assertEqual(stream["now_playing"]["title"], '"Quoted" \\ Song\n')
        self.assertEqual(stream["now_playing"]["artist"], "Beta Artist")
        self.assertIsNone(stream["now_playing"]["duration"])
        self.assertEqual(stream["peak_listeners"], 1)
        self.assertGreater(stream["bytes_sent"], 0)
        self.assertEqual(
            [(h["artist"], h["title"]) for h in stream["history"]],
            [("Beta Artist", BETA.title), ("Alpha Artist", "First Song")],
        )
        self.assertEqual(stream["format"]["bitrate"], 128)
        self.assertIsNone(stream["next_up"])
        self.assertEqual(other["max_listeners"], 5)
        self.assertEqual(other["now_playing"]["duration"], 1.04)
        one = json.loads(self.get(factory, "/api/v1/status?mount=%2Fother").body)
        self.assertEqual([m["name"] for m in one["mounts"]], ["/other"])

    def test_listener_delay(self) -> None:
        """
        The status API tells how far behind the head of its stream a
        listener that connects hears each mount: its burst, in seconds at
        its bitrate, less while the mount holds less audio than its burst
        size; none with no burst.
        """
        clock, factory, monitoring = self.build()
        mount = factory.mounts["/stream"]
        mount.reconfigure(replace(mount.config, burst_size=32000))

        def delays() -> dict[str, float]:
            document = json.loads(self.get(factory, "/api/v1/status").body)
            return {each["name"]: each["listener_delay"] for each in document["mounts"]}

        self.assertLess(len(mount.buffer), 32000)
        self.assertEqual(delays(), {"/stream": round(len(mount.buffer) / 16000, 1), "/other": 0})
        clock.pump([0.1] * 30)
        self.assertEqual(delays(), {"/stream": 2.0, "/other": 0})

    def test_api_unknown_mount(self) -> None:
        """
        An unknown mount is a 404, logged with the peer.
        """
        clock, factory, monitoring = self.build()
        with capturedLogs() as events:
            reply = self.get(factory, "/api/v1/status?mount=/nope")
        self.assertEqual(reply.status, 404)
        self.assertEqual(len(events), 1)
        self.assertEqual(events[0]["peer"], "192.0.2.7:50000")

    def test_malformed_queries(self) -> None:
        """
        Broken escapes, empty keys and repeated keys neither fail nor
        confuse: the first value counts, and broken ones are plain text.
        """
        clock, factory, monitoring = self.build()
        for target, status in [
            ("/status-json.xsl?%zz&&=&mount", 200),
            ("/api/v1/status?mount=%zz", 404),
            ("/api/v1/status?mount=/other&mount=/nope", 200),
            ("/api/v1/status?%ff%fe=1&x=%00", 200),
            ("/stats?sid=1&sid=zz&json=%31", 200),
            ("/7.html?sid=%", 400),
        ]:
            self.assertEqual(self.get(factory, target).status, status, target)
        one = json.loads(self.get(factory, "/api/v1/status?mount=/other&mount=/nope").body)
        self.assertEqual([m["name"] for m in one["mounts"]], ["/other"])
        self.assertEqual(
            json.loads(self.get(factory, "/stats?sid=1&json=%31").body)["streampath"], "/stream"
        )

    def test_admin_stats(self) -> None:
        """
        With the admin credentials, Icecast's admin XML; a mount chosen
        with C{mount=}; an unknown mount is a 400.
        """
        clock, factory, monitoring = self.build()
        self.listen(factory, 1)
        auth = basic("admin", "secret")
        reply = self.get(factory, "/admin/stats", auth)
        self.assertEqual(reply.status, 200)
        self.assertEqual(reply.headers["content-type"], "text/xml; charset=utf-8")
        root = ElementTree.fromstring(reply.body)
        self.assertEqual(root.findtext("listeners"), "1")
        self.assertEqual(root.findtext("listener_connections"), "1")
        self.assertEqual([s.get("mount") for s in root.findall("source")], ["/stream", "/other"])
        other = ElementTree.fromstring(self.get(factory, "/admin/stats?mount=/other", auth).body)
        source = other.find("source")
        assert source is not None
        self.assertEqual(source.get("mount"), "/other")
        self.assertEqual(source.findtext("max_listeners"), "5")
        self.assertEqual(self.get(factory, "/admin/stats?mount=/nope", auth).status, 400)

    def test_admin_refused(self) -> None:
        """
        Without credentials, with wrong ones, with the source password or
        while no admin password is configured, the answer is 401 with a
        Basic challenge, logged with the peer.
        """
        clock, factory, monitoring = self.build()
        for headers in [
            b"",
            basic("admin", "wrong"),
            basic("root", "secret"),
            basic("source", "hackme"),
            b"Authorization: Bearer secret\r\n",
            b"Authorization: Basic !!!\r\n",
        ]:
            with capturedLogs() as events:
                reply = self.get(factory, "/admin/stats", headers)
            self.assertEqual(reply.status, 401, headers)
            self.assertEqual(reply.headers["www-authenticate"], 'Basic realm="radiod"')
            self.assertNotIn(b"<icestats>", reply.body)
            self.assertEqual(events[0]["peer"], "192.0.2.7:50000")
        clock, factory, monitoring = self.build(admin_password="")
        self.assertEqual(self.get(factory, "/admin/stats", basic("admin", "")).status, 401)

    def test_admin_authorised(self) -> None:
        """
        The check compares both user and password.
        """
        clock, factory, monitoring = self.build(admin_user="boss", admin_password="pw")
        self.assertEqual(self.get(factory, "/admin/stats", basic("boss", "pw")).status, 200)
        self.assertEqual(self.get(factory, "/admin/stats", b"").status, 401)
        self.assertEqual(self.get(factory, "/admin/stats", basic("boss", "p")).status, 401)
        self.assertEqual(self.get(factory, "/admin/stats", basic("bos", "pw")).status, 401)
        clock, factory, monitoring = self.build(admin_user="boss", admin_password="")
        self.assertEqual(self.get(factory, "/admin/stats", basic("boss", "pw")).status, 401)
        self.assertEqual(self.get(factory, "/admin/stats", basic("boss", "")).status, 401)

    def test_seven_html(self) -> None:
        """
        SHOUTcast's one-line page, for the first mount by default or the
        one C{sid} counts to.
        """
        clock, factory, monitoring = self.build()
        self.listen(factory, 1)
        self.listen(factory, 2)
        reply = self.get(factory, "/7.html")
        self.assertEqual(reply.status, 200)
        self.assertEqual(reply.headers["content-type"], "text/html; charset=utf-8")
        self.assertEqual(
            reply.body, b"<html><body>2,1,2,0,2,128,Alpha Artist - First Song</body></html>"
        )
        other = self.get(factory, "/7.html?sid=2").body
        self.assertEqual(
            other, b"<html><body>0,1,0,5,0,128,Alpha Artist - First Song</body></html>"
        )

    def test_sid(self) -> None:
        """
        A C{sid} that is not a stream number is a 400; one past the
        mounts, a 404.
        """
        clock, factory, monitoring = self.build()
        for path in ("/7.html", "/stats"):
            for sid in ("0", "-1", "abc", "1.5", "", "99999999"):
                self.assertEqual(self.get(factory, f"{path}?sid={sid}").status, 400, (path, sid))
            self.assertEqual(self.get(factory, f"{path}?sid=3").status, 404, path)
            self.assertEqual(self.get(factory, f"{path}?sid=2").status, 200, path)
        self.assertEqual(parse_sid(None), 1)
        self.assertEqual(parse_sid([" 2 "]), 2)

    def test_shoutcast_stats(self) -> None:
        """
        C{/stats} is XML by default, JSON with C{json=1}, and JSON-P with a
        callback; a callback that is not a name is a 400.
        """
        clock, factory, monitoring = self.build()
        self.listen(factory, 1)
        xml = self.get(factory, "/stats?sid=1")
        self.assertEqual(xml.headers["content-type"], "text/xml; charset=utf-8")
        root = ElementTree.fromstring(xml.body)
        self.assertEqual(root.findtext("CURRENTLISTENERS"), "1")
        self.assertEqual(root.findtext("STREAMHITS"), "1")
        self.assertEqual(root.findtext("SERVERGENRE"), "Rock")
        as_json = self.get(factory, "/stats?sid=1&json=1")
        self.assertEqual(as_json.headers["content-type"], "application/json; charset=utf-8")
        self.assertEqual(json.loads(as_json.body)["currentlisteners"], 1)
        jsonp = self.get(factory, "/stats?sid=1&json=1&callback=update")
        self.assertEqual(jsonp.headers["content-type"], "application/javascript; charset=utf-8")
        self.assertTrue(jsonp.body.startswith(b"update({"))
        for callback in ("alert(1)//", "a b", "1x", "x" * 100):
            reply = self.get(factory, f"/stats?json=1&callback={callback}".replace(" ", "%20"))
            self.assertEqual(reply.status, 400, callback)
        self.assertTrue(self.get(factory, "/stats?json=0").body.startswith(b"<?xml"))

    def test_live_source(self) -> None:
        """
        A live source on air makes the mount C{live}, with its name as
        title and station name, its address and connection time; when it
        leaves, the playlist is back.
        """
        clock, factory, monitoring = self.build()
        source = self.go_live(clock, factory)
        document = json.loads(self.get(factory, "/api/v1/status?mount=/stream").body)
        stream = document["mounts"][0]
        self.assertEqual(stream["source"], "live")
        self.assertEqual(stream["station_name"], "Night Show")
        self.assertEqual(stream["now_playing"]["title"], "Night Show")
        self.assertIsNone(stream["next_up"])
        admin = ElementTree.fromstring(
            self.get(factory, "/admin/stats?mount=/stream", basic("admin", "secret")).body
        )
        self.assertEqual(admin.findtext("source/source_ip"), "198.51.100.4")
        self.assertGreater(int(admin.findtext("source/total_bytes_read") or 0), 0)
        self.assertEqual(admin.findtext("source_client_connections"), "1")
        self.assertEqual(admin.findtext("source/stream_start_iso8601"), "2026-11-21T04:26:41+0000")
        source.protocol.connectionLost()
        clock.pump([0.1] * 20)
        stream = json.loads(self.get(factory, "/api/v1/status").body)["mounts"][0]
        self.assertEqual(stream["source"], "playlist")

    def test_live_only_mount(self) -> None:
        """
        A mount a source creates is watched too; after it is gone, its
        counters stay in the metrics.
        """
        clock, factory, monitoring = self.build()
        source = Connection(factory, 3, host="198.51.100.4")
        head = (
            b"PUT /pop HTTP/1.1\r\n"
            + basic("source", "hackme")
            + b"Content-Type: audio/mpeg\r\n\r\n"
        )
        source.send(head + LIVE_FRAME.data * 40)
        clock.pump([0.1] * 3)
        listener = self.listen(factory, 9, "/pop")
        pop = json.loads(self.get(factory, "/api/v1/status?mount=/pop").body)["mounts"][0]
        self.assertEqual(pop["source"], "live")
        self.assertEqual(pop["listeners"], 1)
        source.protocol.connectionLost()
        clock.pump([0.1] * 30)
        self.assertNotIn("/pop", factory.mounts)
        self.assertTrue(listener.transport.disconnecting)
        listener.protocol.connectionLost()
        found = metric_samples(self.get(factory, "/metrics").body)
        self.assertEqual(found["radiod_listener_connections_total", "/pop"], 1.0)
        self.assertEqual(found["radiod_listener_disconnections_total", "/pop"], 1.0)
        self.assertEqual(found["radiod_source_disconnections_total", "/pop"], 1.0)
        self.assertNotIn(("radiod_listeners", "/pop"), found)

    def test_relay(self) -> None:
        """
        A mount whose relay's audio is on air plays C{relay}.
        """
        clock = Clock()
        config = MountConfig(name="/stream", burst_size=0)
        mount = Mount(config, FakeFrameSource([(ALPHA, FRAME, 100000)]), clock)
        mount.start()
        self.addCleanup(mount.stop)
        factory = RadioFactory(clock, StationConfig(mounts=(config,)), {"/stream": mount})
        station_site(factory, clock)
        live = LiveSource(TrackInfo("", "Upstream"))
        relay = cast(Relay, SimpleNamespace(name="/stream", protocol=SimpleNamespace(live=live)))
        monitoring = Monitoring(clock, synchronous_runner, factory, [relay], False)
        assert mount.switch is not None
        mount.switch.attach(live)
        live.feed(LIVE_FRAME.data * 40)
        clock.pump([0.1] * 3)
        self.assertEqual(monitoring.source_kind(mount), "relay")
        document = json.loads(self.get(factory, "/api/v1/status").body)
        self.assertEqual(document["mounts"][0]["source"], "relay")

    def test_next_up(self) -> None:
        """
        A mount playing its programme tells the next track.
        """
        folder = self.mktemp()
        os.makedirs(folder)
        for name in ("a.mp3", "b.mp3"):
            with open(os.path.join(folder, name), "wb") as f:
                f.write(FRAME.data * 100)
        clock = Clock()
        config = MountConfig(name="/stream", burst_size=0)
        programme = Programme(
            Library(folder, synchronous_runner), clock, synchronous_runner, name="/stream"
        )
        mount = Mount(config, programme, clock)
        mount.start()
        self.addCleanup(mount.stop)
        factory = RadioFactory(clock, StationConfig(mounts=(config,)), {"/stream": mount})
        station_site(factory, clock)
        Monitoring(clock, synchronous_runner, factory, process_metrics=False)
        clock.pump([0.1] * 3)
        stream = json.loads(self.get(factory, "/api/v1/status").body)["mounts"][0]
        self.assertEqual(stream["now_playing"]["title"], "a")
        self.assertEqual(
            stream["next_up"], {"artist": None, "title": "b", "requested": False, "art": None}
        )
        self.assertIn(b"<NEXTTITLE>b</NEXTTITLE>", self.get(factory, "/stats").body)

    def test_art(self) -> None:
        """
        The track playing, the track up next and the tracks played each
        give the path of their cover art (here a folder image), or of the
        station's default picture for a track without art when one is
        configured, or C{null}.
        """
        folder = self.mktemp()
        for name in ("one", "two"):
            os.makedirs(os.path.join(folder, name))
        for name in ("one/a.mp3", "two/b.mp3"):
            with open(os.path.join(folder, name), "wb") as f:
                f.write(FRAME.data * 100)
        picture = make_picture("PNG")
        with open(os.path.join(folder, "one", "Cover.PNG"), "wb") as f:
            f.write(picture)
        clock = Clock()
        config = MountConfig(name="/stream", burst_size=0)
        programme = Programme(
            Library(folder, synchronous_runner), clock, synchronous_runner, name="/stream"
        )
        mount = Mount(config, programme, clock)
        mount.start()
        self.addCleanup(mount.stop)
        station = StationConfig(mounts=(config,))
        factory = RadioFactory(clock, station, {"/stream": mount})
        station_site(factory, clock)
        Monitoring(clock, synchronous_runner, factory, process_metrics=False)
        clock.pump([0.1] * 3)
        cover = "/art/" + art_id(picture)
        stream = json.loads(self.get(factory, "/api/v1/status").body)["mounts"][0]
        playing, following = stream["now_playing"], stream["next_up"]
        self.assertEqual((playing["title"], playing["art"]), ("a", cover))
        self.assertEqual((following["title"], following["art"]), ("b", None))
        self.assertEqual([each["art"] for each in stream["history"]], [cover])
        factory.config = replace(station, default_art="/srv/radio/default.png")
        stream = json.loads(self.get(factory, "/api/v1/status").body)["mounts"][0]
        self.assertEqual(stream["now_playing"]["art"], cover)
        self.assertEqual(stream["next_up"]["art"], "/art/default")

    def test_metrics_follow_events(self) -> None:
        """
        The metrics change as listeners connect and leave, tracks change
        and a source connects and leaves.
        """
        clock, factory, monitoring = self.build()
        reply = self.get(factory, "/metrics")
        self.assertEqual(reply.status, 200)
        self.assertTrue(reply.headers["content-type"].startswith("text/plain"))
        before = metric_samples(reply.body)
        self.assertEqual(before["radiod_listeners", "/stream"], 0.0)
        self.assertEqual(before["radiod_track_changes_total", "/stream"], 1.0)
        first = self.listen(factory, 1)
        self.listen(factory, 2)
        clock.pump([0.1] * 12)
        during = metric_samples(self.get(factory, "/metrics").body)
        self.assertEqual(during["radiod_listeners", "/stream"], 2.0)
        self.assertEqual(during["radiod_listener_connections_total", "/stream"], 2.0)
        self.assertEqual(during["radiod_track_changes_total", "/stream"], 2.0)
        self.assertGreater(during["radiod_sent_bytes_total", "/stream"], 0.0)
        first.protocol.connectionLost()
        source = self.go_live(clock, factory, port=3)
        after = metric_samples(self.get(factory, "/metrics").body)
        self.assertEqual(after["radiod_listeners", "/stream"], 1.0)
        self.assertEqual(after["radiod_listener_disconnections_total", "/stream"], 1.0)
        self.assertEqual(after["radiod_source_connections_total", "/stream"], 1.0)
        self.assertEqual(after["radiod_source_disconnections_total", "/stream"], 0.0)
        self.assertEqual(after["radiod_track_changes_total", "/stream"], 3.0)
        self.assertEqual(after["radiod_mount_source", "/stream"], 0.0)
        source.protocol.connectionLost()
        clock.pump([0.1] * 20)
        gone = metric_samples(self.get(factory, "/metrics").body)
        self.assertEqual(gone["radiod_source_disconnections_total", "/stream"], 1.0)
        self.assertGreater(gone["radiod_requests_refused_total", ""], -1)

    def test_mount_source_metric(self) -> None:
        """
        The mount's source kind is one of four, the current one at 1.
        """
        clock, factory, monitoring = self.build()
        self.go_live(clock, factory)
        body = self.get(factory, "/metrics").body.decode()
        self.assertIn('radiod_mount_source{kind="live",mount="/stream"} 1.0', body)
        self.assertIn('radiod_mount_source{kind="playlist",mount="/stream"} 0.0', body)

    def test_lag_monitor(self) -> None:
        """
        The lag monitor runs while the service runs and feeds the
        histogram.
        """
        clock, factory, monitoring = self.build()
        self.assertTrue(monitoring.lag.running)
        clock.advance(0.7)
        found = metric_samples(self.get(factory, "/metrics").body)
        self.assertGreater(found["radiod_reactor_lag_seconds_count", ""], 0.0)
        self.assertGreater(found["radiod_reactor_lag_max_seconds", ""], 0.0)
        self.successResultOf(monitoring.stopService())
        self.assertFalse(monitoring.lag.running)

    def test_history_across_restart(self) -> None:
        """
        Stopping writes the history; a station started on the same state
        folder shows it after what it has played since.
        """
        clock, factory, monitoring = self.build()
        clock.pump([0.1] * 12)
        state = factory.config.state_dir
        self.successResultOf(monitoring.stopService())
        self.assertTrue(os.path.exists(os.path.join(state, "history.json")))
        clock, factory, monitoring = self.build(START + 3600, state_dir=state)
        history = json.loads(self.get(factory, "/api/v1/status").body)["mounts"][0]["history"]
        self.assertEqual(
            [(h["title"], h["started_at"]) for h in history],
            [
                ("First Song", "2026-11-21T05:26:41Z"),
                (BETA.title, "2026-11-21T04:26:42Z"),
                ("First Song", "2026-11-21T04:26:41Z"),
            ],
        )

    def test_peer_host(self) -> None:
        """
        Addresses are read from every form a peer takes.
        """
        self.assertEqual(peer_host("192.0.2.1:4000"), "192.0.2.1")
        self.assertEqual(peer_host("[2001:db8::1]:4000"), "2001:db8::1")
        self.assertEqual(peer_host("2001:db8::1"), "2001:db8::1")
        self.assertEqual(peer_host("192.0.2.1"), "192.0.2.1")
