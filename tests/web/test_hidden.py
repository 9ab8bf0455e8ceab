"""
Tests for hidden mounts across the station's site: left off every public
list (Icecast's and SHOUTcast's status documents, the status page,
radiod's status API, AzuraCast's now playing, the station page's picker
and its list of HLS streams), answered as unknown when asked for by name
on those, yet still reachable at their own address and shown to the
admin; a station in memory, asked through the real protocol.
"""

from __future__ import annotations

import base64
import json
import xml.etree.ElementTree as ElementTree
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any
from urllib.parse import quote

from prometheus_client.parser import text_string_to_metric_families
from twisted.internet.task import Clock
from twisted.trial.unittest import SynchronousTestCase

from radiod.audio.track import TrackInfo
from radiod.broadcast.mount import Mount
from radiod.config import MountConfig, StationConfig
from radiod.hls.output import HlsOutputs
from radiod.testing import (
    Connection,
    FakeFrameSource,
    Reply,
    parse_reply,
    silent_frame,
    synchronous_runner,
)
from radiod.web.admin import Admin
from radiod.web.events import EVENTS_PATH
from radiod.web.hls import HlsResource
from radiod.web.monitoring import Monitoring
from radiod.web.nowplaying import LIVE_PATH, NOWPLAYING_PATH
from radiod.web.nowplaying_sse import attach_nowplaying
from radiod.web.page import StationPage
from radiod.web.site import attach
from radiod.web.tree import station_site
from radiod.wire.server import RadioFactory, RadioProtocol
from tests.web.test_events import read_stream

START = 1_795_235_201.0
SONG = TrackInfo("/a.mp3", "Secret Song", "Hush Artist", duration=1.04)
FRAME = silent_frame()
NAMES = ("/stream", "/secret", "/other")
STATIONS = {"/stream": "Test FM", "/secret": "Secret FM", "/other": "Other FM"}
HOST = b"Host: radio.example:8000\r\n"


def basic(user: str, password: str) -> bytes:
    """
    An C{Authorization} header line.
    """
    token = base64.b64encode(f"{user}:{password}".encode()).decode()
    return f"Authorization: Basic {token}\r\n".encode()


ADMIN = basic("admin", "secret")


@dataclass
class Station:
    """
    A station in memory with every public list of mounts on its site.

    @ivar clock: its clock.
    @ivar factory: its stream server.
    @ivar mounts: its mounts by name.
    """

    clock: Clock
    factory: RadioFactory
    mounts: dict[str, Mount]


class HiddenMountTests(SynchronousTestCase):
    """
    A station of three mounts, C{/stream}, C{/secret} and C{/other} (each
    called as L{STATIONS} says), some of them hidden.
    """

    def build(self, hidden: Sequence[str] = ("/secret",)) -> Station:
        """
        The station, its mounts playing, the mounts named in C{hidden}
        hidden; its monitoring, station page, now playing, admin and HLS
        on its site.
        """
        clock = Clock()
        clock.advance(START)
        configs = tuple(
            MountConfig(
                name=name,
                station_name=STATIONS[name],
                hidden=name in hidden,
                burst_size=0,
                hls=True,
            )
            for name in NAMES
        )
        mounts = {
            config.name: Mount(config, FakeFrameSource([(SONG, FRAME, 100000)]), clock)
            for config in configs
        }
        config = StationConfig(
            port=8000,
            mounts=configs,
            admin_password="secret",
            source_password="hackme",
            state_dir=self.mktemp(),
            max_per_address=0,
        )
        factory = RadioFactory(clock, config, mounts, accept_sources=True)
        factory.throttle.free = 10**6  # failed logins are throttled in tests.wire.test_limits
        assert factory.sources is not None
        self.addCleanup(factory.sources.stop)
        site = station_site(factory, clock)
        page = StationPage(clock, factory)
        self.addCleanup(page.close)
        updates = attach_nowplaying(site, factory, clock)
        self.addCleanup(updates.close)
        Admin(clock, factory)
        outputs = HlsOutputs(clock)
        outputs.update(list(mounts.values()), [])
        self.addCleanup(outputs.stop)
        attach(site, "/hls", HlsResource(factory, outputs))
        monitoring = Monitoring(clock, synchronous_runner, factory, process_metrics=False)
        monitoring.startService()
        self.addCleanup(monitoring.stopService)
        for mount in mounts.values():
            mount.start()
            self.addCleanup(mount.stop)
        clock.pump([0.1] * 3)
        return Station(clock, factory, mounts)

    def get(
        self, station: Station, target: str, headers: bytes = HOST, method: str = "GET"
    ) -> Reply:
        """
        Ask for C{target}; the complete reply.
        """
        client = Connection(station.factory, 50000, host="192.0.2.7")
        data = client.send(f"{method} {target} HTTP/1.1\r\n".encode() + headers + b"\r\n")
        self.assertTrue(client.closed, target)
        return parse_reply(data)

    def json(self, station: Station, target: str, headers: bytes = HOST) -> Any:
        """
        The JSON C{target} is answered with, which must be a 200.
        """
        reply = self.get(station, target, headers)
        self.assertEqual(reply.status, 200, (target, reply.body))
        return json.loads(reply.body)

    def listen(self, station: Station, name: str, port: int) -> Connection[RadioProtocol]:
        """
        Connect a listener to C{name}.
        """
        client = Connection(station.factory, port, host=f"192.0.2.{port % 250 + 1}")
        client.send(f"GET {name} HTTP/1.0\r\n\r\n".encode())
        self.addCleanup(client.lose)
        return client

    def test_status_json(self) -> None:
        """
        Icecast's public JSON leaves the hidden mount out; asked for by
        name, it is answered as an unknown mount is, as Icecast does.
        """
        station = self.build()
        sources = self.json(station, "/status-json.xsl")["icestats"]["source"]
        self.assertEqual(
            [s["listenurl"] for s in sources],
            ["http://radio.example:8000/stream", "http://radio.example:8000/other"],
        )
        secret = self.get(station, "/status-json.xsl?mount=/secret")
        unknown = self.get(station, "/status-json.xsl?mount=/nope")
        self.assertEqual((secret.status, secret.body), (unknown.status, unknown.body))
        self.assertNotIn(b"Secret", secret.body)

    def test_status_page(self) -> None:
        """
        The status page has no block for the hidden mount, nor anything
        that names it; asked for by name, it shows no mount.
        """
        station = self.build()
        page = self.get(station, "/status.xsl").body
        self.assertIn(b"Other FM", page)
        self.assertNotIn(b"/secret", page)
        self.assertNotIn(b"Secret FM", page)
        one = self.get(station, "/status.xsl?mount=/secret").body
        self.assertNotIn(b"/secret", one)
        self.assertIn(b"No mounts to show.", one)

    def test_shoutcast(self) -> None:
        """
        SHOUTcast's pages answer the hidden mount's stream number as one
        no stream has; the mounts after it keep their numbers.
        """
        station = self.build()
        for path in ("/7.html", "/stats"):
            self.assertEqual(self.get(station, f"{path}?sid=2").status, 404, path)
            self.assertEqual(self.get(station, f"{path}?sid=1").status, 200, path)
        other = ElementTree.fromstring(self.get(station, "/stats?sid=3").body)
        self.assertEqual(other.findtext("STREAMPATH"), "/other")
        self.assertEqual(other.findtext("SERVERTITLE"), "Other FM")

    def test_shoutcast_default_stream(self) -> None:
        """
        Without a C{sid}, SHOUTcast's pages are about the first mount that
        is not hidden; with every mount hidden, about none.
        """
        station = self.build(hidden=("/stream",))
        stats = ElementTree.fromstring(self.get(station, "/stats").body)
        self.assertEqual(stats.findtext("STREAMPATH"), "/secret")
        self.assertEqual(self.get(station, "/7.html?sid=1").status, 404)
        self.assertEqual(self.get(station, "/7.html").status, 200)
        station = self.build(hidden=NAMES)
        for path in ("/7.html", "/stats"):
            self.assertEqual(self.get(station, path).status, 404, path)

    def test_api_status_public(self) -> None:
        """
        radiod's status API leaves the hidden mount and its listeners out,
        and answers it by name as an unknown mount; credentials alone
        change nothing (a proxy in front may send its own).
        """
        station = self.build()
        self.listen(station, "/secret", 1)
        self.listen(station, "/stream", 2)
        station.clock.pump([0.1] * 3)
        document = self.json(station, "/api/v1/status")
        self.assertEqual([m["name"] for m in document["mounts"]], ["/stream", "/other"])
        self.assertEqual(document["station"]["listeners"], 1)
        self.assertEqual(self.get(station, "/api/v1/status?mount=/secret").status, 404)
        self.assertEqual(self.json(station, "/api/v1/status", HOST + ADMIN), document)
        wrong = self.json(station, "/api/v1/status", HOST + basic("admin", "nope"))
        self.assertEqual(wrong, document)

    def test_api_status_admin(self) -> None:
        """
        With C{hidden=1} and the admin's credentials, the status API shows
        the hidden mounts too, flagged, and is for no cache and no other
        site; without the credentials it is a 401, as the admin's pages
        are.
        """
        station = self.build()
        self.listen(station, "/secret", 1)
        station.clock.pump([0.1] * 3)
        reply = self.get(station, "/api/v1/status?hidden=1", HOST + ADMIN)
        self.assertEqual(reply.status, 200)
        self.assertNotIn("access-control-allow-origin", reply.headers)
        self.assertEqual(reply.headers["cache-control"], "no-cache, no-store")
        document = json.loads(reply.body)
        self.assertEqual(
            [(m["name"], m["hidden"]) for m in document["mounts"]],
            [("/stream", False), ("/secret", True), ("/other", False)],
        )
        self.assertEqual(document["station"]["listeners"], 1)
        one = self.json(station, "/api/v1/status?hidden=1&mount=/secret", HOST + ADMIN)
        self.assertEqual([m["name"] for m in one["mounts"]], ["/secret"])
        head = self.get(station, "/api/v1/status?hidden=1", HOST + ADMIN, method="HEAD")
        self.assertEqual((head.status, head.body), (200, b""))
        for headers in (HOST, HOST + basic("admin", "nope"), HOST + basic("source", "hackme")):
            refused = self.get(station, "/api/v1/status?hidden=1", headers)
            self.assertEqual(refused.status, 401, headers)
            self.assertNotIn(b"/secret", refused.body)

    def test_nowplaying(self) -> None:
        """
        AzuraCast's now playing has no station for the hidden mount: left
        off the list, and its shortcode and number not found; the
        stations after it keep their numbers.
        """
        station = self.build()
        stations = self.json(station, NOWPLAYING_PATH)
        self.assertEqual([s["station"]["shortcode"] for s in stations], ["stream", "other"])
        self.assertEqual([s["station"]["id"] for s in stations], [1, 3])
        for key in ("secret", "2"):
            self.assertEqual(self.get(station, f"{NOWPLAYING_PATH}/{key}").status, 404, key)
        self.assertEqual(self.json(station, f"{NOWPLAYING_PATH}/3")["station"]["name"], "Other FM")

    def test_nowplaying_live(self) -> None:
        """
        A live update stream that asks for the hidden station's channel
        gets nothing on it, as for an unknown station.
        """
        station = self.build()
        subs = quote(json.dumps({"subs": {"station:secret": {}, "station:stream": {}}}))
        client = Connection(station.factory, 50001)
        self.addCleanup(client.lose)
        client.send(f"GET {LIVE_PATH}?cf_connect={subs} HTTP/1.1\r\n".encode() + HOST + b"\r\n")
        _, events = read_stream(client.received())
        connect = events[0][1]["connect"]
        self.assertEqual(connect["subs"]["station:secret"], {})
        self.assertIn("publications", connect["subs"]["station:stream"])

    def events(self, station: Station, query: str) -> tuple[str, dict[str, Any]]:
        """
        The head of an event stream and its first event's data.
        """
        client = Connection(station.factory, 50002)
        self.addCleanup(client.lose)
        client.send(f"GET {EVENTS_PATH}{query} HTTP/1.1\r\n".encode() + HOST + b"\r\n")
        head, events = read_stream(client.received())
        return head, events[0][1] if events else {}

    def test_page_picker(self) -> None:
        """
        The station page's picker leaves the hidden mount out, but for the
        hidden mount's own page, which lists it; its page and its event
        stream are still there at its address.
        """
        station = self.build()
        _, state = self.events(station, "?mount=/stream")
        self.assertEqual([m["name"] for m in state["mounts"]], ["/stream", "/other"])
        _, own = self.events(station, "?mount=/secret")
        self.assertEqual(own["mount"], "/secret")
        self.assertEqual([m["name"] for m in own["mounts"]], ["/stream", "/secret", "/other"])
        page = self.get(station, "/secret/")
        self.assertEqual(page.status, 200)
        self.assertEqual(page.headers["content-type"], "text/html; charset=utf-8")

    def test_page_default_mount(self) -> None:
        """
        The event stream of the station's own page (no mount asked for)
        follows the first mount that is not hidden; with every mount
        hidden, there is none to follow.
        """
        station = self.build(hidden=("/stream", "/secret"))
        _, state = self.events(station, "")
        self.assertEqual(state["mount"], "/other")
        self.assertEqual([m["name"] for m in state["mounts"]], ["/other"])
        station = self.build(hidden=NAMES)
        head, _ = self.events(station, "")
        self.assertTrue(head.startswith("HTTP/1.0 404"), head)

    def test_hls_list(self) -> None:
        """
        The page's list of HLS streams leaves the hidden mount out, unless
        the page asking is the hidden mount's own.
        """
        station = self.build()
        listed = self.json(station, "/web/hls.json")
        self.assertEqual(sorted(listed), ["/other", "/stream"])
        own = self.json(station, "/web/hls.json?mount=%2Fsecret")
        self.assertEqual(own["/secret"], "/hls/secret/index.m3u8")
        self.assertEqual(sorted(own), ["/other", "/secret", "/stream"])

    def test_still_reachable(self) -> None:
        """
        Listeners still connect to the hidden mount and its playlists are
        still there.
        """
        station = self.build()
        listener = self.listen(station, "/secret", 3)
        station.clock.pump([0.1] * 3)
        capture = listener.capture()
        self.assertIn(" 200 OK", capture.status_line)
        self.assertGreater(len(capture.audio), 0)
        self.assertEqual(station.mounts["/secret"].audience, 1)
        playlist = self.get(station, "/secret.m3u")
        self.assertEqual(playlist.status, 200)
        self.assertIn(b"/secret", playlist.body)

    def test_admin_views(self) -> None:
        """
        The admin's statistics, mount list and the metrics show the hidden
        mount.
        """
        station = self.build()
        stats = ElementTree.fromstring(self.get(station, "/admin/stats", HOST + ADMIN).body)
        self.assertEqual([s.get("mount") for s in stats.findall("source")], list(NAMES))
        listed = ElementTree.fromstring(self.get(station, "/admin/listmounts", HOST + ADMIN).body)
        self.assertIn("/secret", [s.get("mount") for s in listed.findall("source")])
        one = self.get(station, "/admin/stats?mount=/secret", HOST + ADMIN)
        self.assertEqual(one.status, 200)
        metrics = self.get(station, "/metrics").body.decode("utf-8")
        labelled = {
            sample.labels.get("mount")
            for family in text_string_to_metric_families(metrics)
            for sample in family.samples
        }
        self.assertIn("/secret", labelled)

    def test_reload(self) -> None:
        """
        Hiding a mount, or showing it again, by reloading its settings
        takes effect at the next request.
        """
        station = self.build(hidden=())
        mount = station.mounts["/other"]

        def listed() -> list[str]:
            document = self.json(station, "/api/v1/status")
            return [m["name"] for m in document["mounts"]]

        self.assertEqual(listed(), list(NAMES))
        mount.reconfigure(replace(mount.config, hidden=True))
        station.factory.config = replace(
            station.factory.config,
            mounts=tuple(
                replace(each, hidden=each.name == "/other")
                for each in station.factory.config.mounts
            ),
        )
        self.assertEqual(listed(), ["/stream", "/secret"])
        self.assertEqual(self.get(station, "/7.html?sid=3").status, 404)
        self.assertEqual(self.get(station, f"{NOWPLAYING_PATH}/other").status, 404)
        mount.reconfigure(replace(mount.config, hidden=False))
        self.assertEqual(listed(), list(NAMES))
