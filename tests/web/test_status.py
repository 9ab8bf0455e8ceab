"""
Tests for L{radiod.web.status}: the status documents, rendered from fixed
snapshots.
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ElementTree
from dataclasses import replace
from typing import Any

from hypothesis import given
from hypothesis import strategies as st
from twisted.trial.unittest import SynchronousTestCase

from radiod.web.status import (
    API_VERSION,
    MountStatus,
    NowPlaying,
    PlayedTrack,
    StationStatus,
    http_date,
    icecast_iso8601,
    iso8601,
    render_admin_stats,
    render_api_status,
    render_seven_html,
    render_shoutcast_json,
    render_shoutcast_xml,
    render_status_json,
)

# Sat, 21 Nov 2026 04:26:41 UTC
START = 1795235201.0

ART = "/art/0123456789abcdef"

PLAYING = NowPlaying(
    artist="Alpha Artist",
    title="First Song",
    started=START + 100,
    art=ART,
    duration=187.5,
    elapsed=12.25,
)

STREAM = MountStatus(
    name="/stream",
    listen_url="http://radio.example:8000/stream",
    station_name="Test FM",
    description="Tests all day",
    genre="Rock",
    url="http://example.org/",
    public=True,
    bitrate=128,
    sample_rate=44100,
    channels=2,
    audio_info="ice-samplerate=44100;ice-bitrate=128;ice-channels=2",
    listeners=3,
    peak_listeners=7,
    max_listeners=100,
    unique_listeners=2,
    average_time=61.9,
    connections=42,
    bytes_sent=123456,
    bytes_read=0,
    slow_listeners=1,
    listener_delay=4.096,
    source="playlist",
    stream_start=START,
    now_playing=PLAYING,
    next_up=PlayedTrack("Beta Artist", "Second Song", requested=True, art="/art/default"),
    history=(
        PlayedTrack("Alpha Artist", "First Song", START + 100, art=ART),
        PlayedTrack("", "Old Title", START + 10),
    ),
)

OTHER = MountStatus(
    name="/other",
    listen_url="http://radio.example:8000/other",
    station_name="Other FM",
    source="live",
    source_ip="192.0.2.9",
    bytes_read=999,
    stream_start=START + 50,
    now_playing=NowPlaying(artist="", title="Night Show", started=START + 60, elapsed=5.0),
)

STATION = StationStatus(
    name="Test FM",
    host="radio.example",
    server_id="radiod/0.1.0",
    version="0.1.0",
    started=START,
    now=START + 112.25,
    mounts=(STREAM,),
    listener_connections=42,
    source_connections=0,
)


def status_json(status: StationStatus, mount: str | None = None) -> dict[str, Any]:
    """
    The parsed C{icestats} object of L{render_status_json}.
    """
    stats: dict[str, Any] = json.loads(render_status_json(status, mount))["icestats"]
    return stats


titles = st.text(min_size=1, max_size=60)
"""
Any title at all, control characters and quotes included.
"""


class TimeTests(SynchronousTestCase):
    """
    Time formats.
    """

    def test_formats(self) -> None:
        """
        Icecast's two forms and plain ISO 8601 in UTC, all in English and
        in UTC whatever the locale and time zone.
        """
        self.assertEqual(http_date(START), "Sat, 21 Nov 2026 04:26:41 +0000")
        self.assertEqual(icecast_iso8601(START), "2026-11-21T04:26:41+0000")
        self.assertEqual(iso8601(START), "2026-11-21T04:26:41Z")
        self.assertEqual(iso8601(-5), "1970-01-01T00:00:00Z")


class StatusJsonTests(SynchronousTestCase):
    """
    Icecast's C{/status-json.xsl}.
    """

    def test_one_mount(self) -> None:
        """
        With one mount, C{source} is that mount's object with Icecast's
        keys, ending with C{"dummy": null}.
        """
        stats = status_json(STATION)
        self.assertEqual(
            list(stats),
            [
                "admin",
                "host",
                "location",
                "server_id",
                "server_start",
                "server_start_iso8601",
                "source",
            ],
        )
        self.assertEqual(stats["host"], "radio.example")
        self.assertEqual(stats["server_id"], "radiod/0.1.0")
        self.assertEqual(stats["server_start"], "Sat, 21 Nov 2026 04:26:41 +0000")
        self.assertEqual(stats["server_start_iso8601"], "2026-11-21T04:26:41+0000")
        self.assertEqual(
            stats["source"],
            {
                "artist": "Alpha Artist",
                "audio_info": "ice-samplerate=44100;ice-bitrate=128;ice-channels=2",
                "bitrate": 128,
                "channels": 2,
                "genre": "Rock",
                "listener_peak": 7,
                "listeners": 3,
                "listenurl": "http://radio.example:8000/stream",
                "samplerate": 44100,
                "server_description": "Tests all day",
                "server_name": "Test FM",
                "server_type": "audio/mpeg",
                "server_url": "http://example.org/",
                "stream_start": "Sat, 21 Nov 2026 04:26:41 +0000",
                "stream_start_iso8601": "2026-11-21T04:26:41+0000",
                "title": "First Song",
                "dummy": None,
            },
        )
        self.assertEqual(list(stats["source"])[-1], "dummy")

    def test_location_and_admin(self) -> None:
        """
        The station's location and contact are Icecast's C{location} and
        C{admin}, as given.
        """
        stats = status_json(replace(STATION, location="Pier 4 <north>", admin="ops@example.org"))
        self.assertEqual((stats["location"], stats["admin"]), ("Pier 4 <north>", "ops@example.org"))

    def test_hidden_left_out(self) -> None:
        """
        A hidden mount is left out, as Icecast leaves it out of its public
        statistics; asked for by name, it is answered as an unknown mount.
        """
        status = replace(STATION, mounts=(STREAM, replace(OTHER, hidden=True)))
        self.assertEqual(status_json(status)["source"]["listenurl"], STREAM.listen_url)
        self.assertNotIn("source", status_json(status, "/other"))
        self.assertEqual(status_json(status, "/other"), status_json(status, "/nope"))
        self.assertNotIn("source", status_json(replace(STATION, mounts=(status.mounts[1],))))

    def test_several_mounts(self) -> None:
        """
        With several mounts, C{source} is a list in mount order; a title
        without artist is the whole title, and unknown values are left
        out.
        """
        stats = status_json(replace(STATION, mounts=(STREAM, OTHER)))
        self.assertIsInstance(stats["source"], list)
        first, second = stats["source"]
        self.assertEqual(first["listenurl"], "http://radio.example:8000/stream")
        self.assertEqual(second["title"], "Night Show")
        for key in ("artist", "bitrate", "channels", "samplerate", "audio_info", "server_url"):
            self.assertNotIn(key, second)
        self.assertIsNone(second["dummy"])

    def test_no_mounts(self) -> None:
        """
        Without mounts there is no C{source} key at all.
        """
        self.assertNotIn("source", status_json(replace(STATION, mounts=())))

    def test_mount_filter(self) -> None:
        """
        C{?mount=} keeps only that mount (as an object); an unknown one
        leaves C{source} out.
        """
        both = replace(STATION, mounts=(STREAM, OTHER))
        self.assertEqual(status_json(both, "/other")["source"]["server_name"], "Other FM")
        self.assertNotIn("source", status_json(both, "/nope"))

    def test_no_track(self) -> None:
        """
        Before anything plays, neither C{title} nor C{artist} is given.
        """
        source = status_json(replace(STATION, mounts=(replace(STREAM, now_playing=None),)))
        self.assertNotIn("title", source["source"])
        self.assertNotIn("artist", source["source"])

    def test_numeric_and_special_titles(self) -> None:
        """
        Titles that look like numbers, booleans, null or a lone dash stay
        strings, and the document stays valid JSON.
        """
        for title in ("1999", "-", "true", "null", "1e5", " ", '"', "\\"):
            playing = replace(PLAYING, artist="", title=title)
            mount = replace(STREAM, now_playing=playing)
            source = status_json(replace(STATION, mounts=(mount,)))["source"]
            self.assertEqual(source["title"], title)

    @given(title=titles, artist=st.text(max_size=30), name=st.text(max_size=30))
    def test_any_text_is_valid_json(self, title: str, artist: str, name: str) -> None:
        """
        Whatever the titles and names hold (quotes, backslashes, control
        characters, any Unicode), the document parses and gives them back.
        """
        playing = replace(PLAYING, artist=artist, title=title)
        mount = replace(STREAM, now_playing=playing, station_name=name)
        source = status_json(replace(STATION, mounts=(mount,)))["source"]
        self.assertEqual(source["title"], title)
        self.assertEqual(source.get("artist", ""), artist)
        self.assertEqual(source["server_name"], name)

    def test_lone_surrogate(self) -> None:
        """
        Text UTF-8 cannot carry (a lone surrogate, as an undecodable file
        name gives) is replaced, and the document is still UTF-8 JSON.
        """
        playing = replace(PLAYING, title="bad \udcff name")
        body = render_status_json(replace(STATION, mounts=(replace(STREAM, now_playing=playing),)))
        self.assertEqual(
            json.loads(body.decode("utf-8"))["icestats"]["source"]["title"], "bad \ufffd name"
        )


class AdminStatsTests(SynchronousTestCase):
    """
    Icecast's C{/admin/stats} XML.
    """

    def test_hidden_mounts_shown(self) -> None:
        """
        The admin's document shows hidden mounts too, and counts them.
        """
        status = replace(STATION, mounts=(STREAM, replace(OTHER, hidden=True, listeners=2)))
        root = ElementTree.fromstring(render_admin_stats(status, None))
        self.assertEqual([s.get("mount") for s in root.findall("source")], ["/stream", "/other"])
        self.assertEqual((root.findtext("sources"), root.findtext("listeners")), ("2", "5"))
        one = ElementTree.fromstring(render_admin_stats(status, "/other"))
        self.assertEqual([s.get("mount") for s in one.findall("source")], ["/other"])

    def test_document(self) -> None:
        """
        The global counters, then one C{source} element per mount with
        the hidden fields, element names as Icecast's, in its order.
        """
        body = render_admin_stats(replace(STATION, mounts=(STREAM, OTHER), source_connections=2))
        self.assertTrue(body.startswith(b'<?xml version="1.0"?>\n<icestats>'))
        root = ElementTree.fromstring(body)
        self.assertEqual(root.tag, "icestats")
        top = [child.tag for child in root if child.tag != "source"]
        self.assertEqual(
            top,
            [
                "admin",
                "host",
                "listener_connections",
                "listeners",
                "location",
                "server_id",
                "server_start",
                "server_start_iso8601",
                "source_client_connections",
                "source_total_connections",
                "sources",
            ],
        )
        self.assertEqual(root.findtext("listeners"), "3")
        self.assertEqual(root.findtext("listener_connections"), "42")
        self.assertEqual(root.findtext("source_client_connections"), "2")
        self.assertEqual(root.findtext("sources"), "2")
        stream, other = root.findall("source")
        self.assertEqual(stream.get("mount"), "/stream")
        names = [child.tag for child in stream]
        self.assertEqual(names, sorted(names))
        self.assertEqual(stream.findtext("max_listeners"), "100")
        self.assertEqual(stream.findtext("public"), "1")
        self.assertEqual(stream.findtext("slow_listeners"), "1")
        self.assertEqual(stream.findtext("total_bytes_sent"), "123456")
        self.assertEqual(stream.findtext("artist"), "Alpha Artist")
        self.assertEqual(stream.findtext("title"), "First Song")
        self.assertIsNone(stream.find("source_ip"))
        self.assertEqual(other.findtext("max_listeners"), "unlimited")
        self.assertEqual(other.findtext("source_ip"), "192.0.2.9")
        self.assertEqual(other.findtext("total_bytes_read"), "999")

    def test_mount_filter(self) -> None:
        """
        With a mount, only its C{source} element is given.
        """
        root = ElementTree.fromstring(
            render_admin_stats(replace(STATION, mounts=(STREAM, OTHER)), "/other")
        )
        self.assertEqual([s.get("mount") for s in root.findall("source")], ["/other"])

    @given(title=titles, name=st.text(max_size=30))
    def test_any_text_is_well_formed(self, title: str, name: str) -> None:
        """
        Titles and names with markup, entities, quotes and control
        characters are escaped (or replaced where XML cannot carry them).
        """
        mount = replace(
            STREAM,
            name="/a\"<b>&'",
            station_name=name,
            now_playing=replace(PLAYING, artist="", title=title),
        )
        root = ElementTree.fromstring(render_admin_stats(replace(STATION, mounts=(mount,))))
        source = root.find("source")
        assert source is not None
        self.assertEqual(source.get("mount"), "/a\"<b>&'")
        text = source.findtext("title")
        assert text is not None
        self.assertEqual(len(text), len(title))
        for given_char, got in zip(title, text, strict=True):
            self.assertIn(got, (given_char, "\ufffd"))


class ShoutcastTests(SynchronousTestCase):
    """
    SHOUTcast's C{/7.html} and C{/stats}.
    """

    def test_seven_html(self) -> None:
        """
        Listeners, status, peak, maximum, unique listeners, bitrate and
        the song title, comma-separated in a bare page.
        """
        self.assertEqual(
            render_seven_html(STREAM),
            b"<html><body>3,1,7,100,2,128,Alpha Artist - First Song</body></html>",
        )

    def test_seven_html_nothing_playing(self) -> None:
        """
        Without a track the status is 0 and the title empty.
        """
        self.assertEqual(
            render_seven_html(replace(STREAM, now_playing=None, listeners=0)),
            b"<html><body>0,0,7,100,2,128,</body></html>",
        )

    def test_seven_html_markup(self) -> None:
        """
        Markup in a title is escaped and line breaks become spaces, so
        the page stays one line of text.
        """
        playing = replace(PLAYING, artist="", title="<b>A & B</b>\r\nC")
        self.assertEqual(
            render_seven_html(replace(STREAM, now_playing=playing)),
            b"<html><body>3,1,7,100,2,128,&lt;b&gt;A &amp; B&lt;/b&gt;  C</body></html>",
        )

    def test_stats_xml(self) -> None:
        """
        A C{SHOUTCASTSERVER} document with DNAS 2's elements.
        """
        body = render_shoutcast_xml(STREAM, STATION)
        self.assertTrue(
            body.startswith(b'<?xml version="1.0" encoding="UTF-8" standalone="yes" ?>')
        )
        root = ElementTree.fromstring(body)
        self.assertEqual(root.tag, "SHOUTCASTSERVER")
        values = {child.tag: child.text or "" for child in root}
        self.assertEqual(
            values,
            {
                "CURRENTLISTENERS": "3",
                "PEAKLISTENERS": "7",
                "MAXLISTENERS": "100",
                "UNIQUELISTENERS": "2",
                "AVERAGETIME": "61",
                "SERVERGENRE": "Rock",
                "SERVERURL": "http://example.org/",
                "SERVERTITLE": "Test FM",
                "SONGTITLE": "Alpha Artist - First Song",
                "NEXTTITLE": "Beta Artist - Second Song",
                "STREAMHITS": "42",
                "STREAMSTATUS": "1",
                "BACKUPSTATUS": "0",
                "STREAMLISTED": "0",
                "STREAMPATH": "/stream",
                "STREAMUPTIME": "112",
                "BITRATE": "128",
                "SAMPLERATE": "44100",
                "CONTENT": "audio/mpeg",
                "VERSION": "radiod/0.1.0",
            },
        )

    def test_stats_json(self) -> None:
        """
        The same fields in lower case; bitrate and sample rate are strings.
        """
        document = json.loads(render_shoutcast_json(STREAM, STATION))
        self.assertEqual(document["currentlisteners"], 3)
        self.assertEqual(document["songtitle"], "Alpha Artist - First Song")
        self.assertEqual(document["bitrate"], "128")
        self.assertEqual(document["samplerate"], "44100")
        self.assertEqual(document["streamuptime"], 112)
        self.assertEqual(len(document), 20)

    def test_stats_jsonp(self) -> None:
        """
        With a callback, the JSON is its argument.
        """
        body = render_shoutcast_json(STREAM, STATION, "show.stats")
        self.assertTrue(body.startswith(b"show.stats({"))
        self.assertTrue(body.endswith(b"});"))
        self.assertEqual(json.loads(body[len(b"show.stats(") : -2])["bitrate"], "128")

    @given(title=titles)
    def test_any_title(self, title: str) -> None:
        """
        Any title keeps both forms valid.
        """
        mount = replace(STREAM, now_playing=replace(PLAYING, artist="", title=title))
        self.assertEqual(json.loads(render_shoutcast_json(mount, STATION))["songtitle"], title)
        ElementTree.fromstring(render_shoutcast_xml(mount, STATION))
        render_seven_html(mount).decode("utf-8")


class ApiStatusTests(SynchronousTestCase):
    """
    radiod's own C{/api/v1/status}.
    """

    def test_document(self) -> None:
        """
        The station, then every mount with its format, now playing, next
        up, counters, source kind and history; each track with the path of
        its cover art, or C{null}.
        """
        station = replace(
            STATION,
            mounts=(STREAM, OTHER),
            location="Harbour \u00b7 Pier 4",
            admin="ops@example.org",
        )
        document = json.loads(render_api_status(station))
        self.assertEqual(document["api_version"], API_VERSION)
        self.assertEqual(
            document["station"],
            {
                "name": "Test FM",
                "version": "0.1.0",
                "started_at": "2026-11-21T04:26:41Z",
                "uptime": 112,
                "listeners": 3,
                "location": "Harbour \u00b7 Pier 4",
                "admin_contact": "ops@example.org",
            },
        )
        stream, other = document["mounts"]
        self.assertEqual(
            stream,
            {
                "name": "/stream",
                "listen_url": "http://radio.example:8000/stream",
                "station_name": "Test FM",
                "description": "Tests all day",
                "genre": "Rock",
                "url": "http://example.org/",
                "hidden": False,
                "format": {
                    "content_type": "audio/mpeg",
                    "bitrate": 128,
                    "sample_rate": 44100,
                    "channels": 2,
                },
                "source": "playlist",
                "now_playing": {
                    "artist": "Alpha Artist",
                    "title": "First Song",
                    "requested": False,
                    "art": ART,
                    "started_at": "2026-11-21T04:28:21Z",
                    "duration": 187.5,
                    "elapsed": 12.2,
                },
                "next_up": {
                    "artist": "Beta Artist",
                    "title": "Second Song",
                    "requested": True,
                    "art": "/art/default",
                },
                "listeners": 3,
                "peak_listeners": 7,
                "max_listeners": 100,
                "listener_delay": 4.1,
                "bytes_sent": 123456,
                "slow_listeners_dropped": 1,
                "history": [
                    {
                        "artist": "Alpha Artist",
                        "title": "First Song",
                        "requested": False,
                        "art": ART,
                        "started_at": "2026-11-21T04:28:21Z",
                    },
                    {
                        "artist": None,
                        "title": "Old Title",
                        "requested": False,
                        "art": None,
                        "started_at": "2026-11-21T04:26:51Z",
                    },
                ],
            },
        )
        self.assertEqual(other["source"], "live")
        self.assertEqual(other["now_playing"]["artist"], None)
        self.assertIsNone(other["now_playing"]["art"])
        self.assertIsNone(other["now_playing"]["duration"])
        self.assertIsNone(other["next_up"])
        self.assertIsNone(other["max_listeners"])
        self.assertIsNone(other["listener_delay"])
        self.assertEqual(other["format"]["bitrate"], None)

    def test_station_unset(self) -> None:
        """
        Without a location or a contact, both are empty text.
        """
        station = json.loads(render_api_status(STATION))["station"]
        self.assertEqual((station["location"], station["admin_contact"]), ("", ""))

    def test_hidden_flagged(self) -> None:
        """
        The renderer shows whatever mounts it is given, a hidden one
        flagged (the public is given L{StationStatus.listed}).
        """
        hidden = replace(OTHER, hidden=True)
        status = replace(STATION, mounts=(STREAM, hidden))
        document = json.loads(render_api_status(status))
        self.assertEqual([m["hidden"] for m in document["mounts"]], [False, True])
        public = json.loads(render_api_status(status.listed()))
        self.assertEqual([m["name"] for m in public["mounts"]], ["/stream"])

    def test_mounts_always_a_list(self) -> None:
        """
        C{mounts} is a list with one mount, none, or one chosen.
        """
        one = json.loads(render_api_status(STATION))
        self.assertEqual([m["name"] for m in one["mounts"]], ["/stream"])
        none = json.loads(render_api_status(replace(STATION, mounts=())))
        self.assertEqual(none["mounts"], [])
        chosen = json.loads(render_api_status(replace(STATION, mounts=(STREAM, OTHER)), "/other"))
        self.assertEqual([m["name"] for m in chosen["mounts"]], ["/other"])

    def test_nothing_playing(self) -> None:
        """
        Before any audio, now playing is null, and the format and the
        listeners' delay unknown.
        """
        mount = replace(
            STREAM, now_playing=None, bitrate=0, sample_rate=0, channels=0, listener_delay=None
        )
        document = json.loads(render_api_status(replace(STATION, mounts=(mount,))))
        self.assertIsNone(document["mounts"][0]["now_playing"])
        self.assertIsNone(document["mounts"][0]["listener_delay"])
        self.assertEqual(
            document["mounts"][0]["format"],
            {"content_type": "audio/mpeg", "bitrate": None, "sample_rate": None, "channels": None},
        )

    def test_odd_durations(self) -> None:
        """
        A duration that is not a finite number is null, never invalid JSON.
        """
        for duration in (float("nan"), float("inf")):
            mount = replace(STREAM, now_playing=replace(PLAYING, duration=duration))
            document = json.loads(render_api_status(replace(STATION, mounts=(mount,))))
            self.assertIsNone(document["mounts"][0]["now_playing"]["duration"])

    @given(title=titles, artist=st.text(max_size=30))
    def test_any_text(self, title: str, artist: str) -> None:
        """
        Any title and artist come back intact from valid JSON.
        """
        played = PlayedTrack(artist, title, START)
        mount = replace(
            STREAM,
            now_playing=replace(PLAYING, artist=artist, title=title),
            next_up=played,
            history=(played,),
        )
        document = json.loads(render_api_status(replace(STATION, mounts=(mount,))))
        entry = document["mounts"][0]
        for track in (entry["now_playing"], entry["next_up"], entry["history"][0]):
            self.assertEqual(track["title"], title)
            self.assertEqual(track["artist"], artist or None)
