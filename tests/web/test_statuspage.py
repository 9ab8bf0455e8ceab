"""
Tests for L{radiod.web.statuspage} (the HTML pages at Icecast's
C{/status.xsl} and C{/server_version.xsl}, rendered from fixed
snapshots), for those pages on a station's site, and for the station's
location and contact on every status document that carries them.
"""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ElementTree
from dataclasses import replace
from html.parser import HTMLParser

from hypothesis import given
from hypothesis import strategies as st
from twisted.trial.unittest import SynchronousTestCase

from radiod.web.status import StationStatus
from radiod.web.statuspage import PAGE_POLICY, render_server_version, render_status_page
from tests.web.test_monitoring import StationTestCase, basic
from tests.web.test_status import OTHER, STATION, STREAM

TAGS = {
    "html",
    "head",
    "meta",
    "title",
    "style",
    "body",
    "header",
    "h1",
    "h2",
    "dl",
    "dt",
    "dd",
    "main",
    "section",
    "div",
    "span",
    "a",
    "code",
    "table",
    "tr",
    "th",
    "td",
    "time",
    "p",
    "footer",
}
"""
Every element the pages are made of.
"""

_NOT_HTML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff\ufffe\uffff]")


class Page(HTMLParser):
    """
    A page as a browser parses it: its elements, the addresses it links
    to, and the text of its body, a space at each element's edge.
    """

    def __init__(self, body: bytes) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.links: list[str] = []
        self.text = ""
        self._skip = False
        self.feed(body.decode("utf-8"))
        self.close()

    @property
    def words(self) -> str:
        """
        The text, its runs of white space made single spaces.
        """
        return " ".join(self.text.split())

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        self._skip = tag in ("style", "title")
        self.links += [value or "" for name, value in attrs if name == "href"]
        self.text += " "

    def handle_endtag(self, tag: str) -> None:
        self._skip = False
        self.text += " "

    def handle_data(self, data: str) -> None:
        if not self._skip:
            self.text += data


def shown(text: str) -> str:
    """
    C{text} as a page shows it (what HTML cannot carry replaced).
    """
    return _NOT_HTML.sub("\ufffd", text)


class StatusPageTests(SynchronousTestCase):
    """
    L{render_status_page}.
    """

    def test_mount_block(self) -> None:
        """
        Each mount has a block with Icecast's facts about it, its name
        and links to listen.
        """
        page = Page(render_status_page(STATION))
        for label, value in [
            ("Mount point", "/stream"),
            ("Stream Name", "Test FM"),
            ("Stream Description", "Tests all day"),
            ("Content Type", "audio/mpeg"),
            ("Stream started", "Sat, 21 Nov 2026 04:26:41 +0000"),
            ("Bitrate", "128 kbit/s"),
            ("Listeners (current)", "3"),
            ("Listeners (peak)", "7"),
            ("Stream Genre", "Rock"),
            ("Stream URL", "http://example.org/"),
            ("Currently playing", "Alpha Artist - First Song"),
        ]:
            self.assertIn(f"{label} {value}", page.words, label)
        self.assertEqual(
            [link for link in page.links if link.startswith("/stream")],
            ["/stream", "/stream.m3u", "/stream.pls", "/stream.xspf"],
        )
        self.assertIn("http://example.org/", page.links)
        self.assertNotIn("script", page.tags)
        self.assertLessEqual(set(page.tags), TAGS)

    def test_mounts_in_order(self) -> None:
        """
        The mounts come in the station's order; one with nothing on air
        says so; facts without a value are left out.
        """
        off = replace(OTHER, now_playing=None, bitrate=0)
        text = Page(render_status_page(replace(STATION, mounts=(STREAM, off)))).words
        self.assertLess(text.index("/stream"), text.index("/other"))
        block = text[text.index("/other") :]
        self.assertIn("Currently playing Off the air", block)
        self.assertIn("Bitrate unknown", block)
        self.assertNotIn("Stream Genre", block)
        self.assertNotIn("Stream Description", block)

    def test_station_facts(self) -> None:
        """
        The station's name, location, contact (a mail link for an
        address), listeners and start head the page; the location and
        contact only when set.
        """
        status = replace(STATION, location="Pier 4, Harbour", admin="ops@example.org")
        page = Page(render_status_page(status))
        text = page.words
        self.assertTrue(text.startswith("Test FM"), text[:40])
        self.assertIn("Location Pier 4, Harbour", text)
        self.assertIn("Contact ops@example.org", text)
        self.assertIn("mailto:ops@example.org", page.links)
        self.assertIn("Listeners 3", text)
        self.assertIn("Running since Sat, 21 Nov 2026 04:26:41 +0000", text)
        person = Page(render_status_page(replace(STATION, admin="Ann at the desk")))
        self.assertIn("Contact Ann at the desk", person.words)
        self.assertFalse([link for link in person.links if link.startswith("mailto:")])
        unset = Page(render_status_page(STATION)).text
        self.assertNotIn("Location", unset)
        self.assertNotIn("Contact", unset)

    def test_hidden(self) -> None:
        """
        A hidden mount has no block and its listeners are not counted;
        asked for by name, it shows no mount, as an unknown one.
        """
        hidden = replace(OTHER, name="/secret", station_name="Secret FM", hidden=True, listeners=4)
        status = replace(STATION, mounts=(STREAM, hidden))
        body = render_status_page(status)
        self.assertNotIn(b"/secret", body)
        self.assertNotIn(b"Secret FM", body)
        self.assertIn("Listeners 3", Page(body).words)
        self.assertEqual(render_status_page(status, "/secret"), render_status_page(status, "/nope"))
        self.assertIn(b"No mounts to show.", render_status_page(status, "/secret"))

    def test_one_mount(self) -> None:
        """
        C{mount} keeps one mount's block.
        """
        status = replace(STATION, mounts=(STREAM, OTHER))
        text = Page(render_status_page(status, "/other")).text
        self.assertIn("/other", text)
        self.assertNotIn("/stream", text)

    def test_links_made_safe(self) -> None:
        """
        A stream URL is a link only when it is C{http} or C{https}; a
        mount's name is escaped in the addresses it links to.
        """
        for url in ("javascript:alert(1)", "data:text/html,<b>x</b>", "//evil.example/", "x"):
            mount = replace(STREAM, url=url)
            page = Page(render_status_page(replace(STATION, mounts=(mount,))))
            self.assertNotIn(url, page.links, url)
            self.assertIn(url, page.text, url)
        odd = replace(STREAM, name='/a b"<i>&')
        page = Page(render_status_page(replace(STATION, mounts=(odd,))))
        self.assertIn("/a%20b%22%3Ci%3E%26.m3u", page.links)
        self.assertIn('/a b"<i>&', page.text)
        self.assertNotIn("i", page.tags)

    @given(
        text=st.text(max_size=40),
        title=st.text(max_size=40),
        place=st.text(max_size=40),
        contact=st.text(max_size=40),
    )
    def test_any_text(self, text: str, title: str, place: str, contact: str) -> None:
        """
        Whatever the titles, names, location and contact hold, the page is
        made of its own elements only, and shows them as text.
        """
        mount = replace(
            STREAM,
            station_name=text,
            description=text,
            genre=text,
            url=text,
            now_playing=replace(STREAM.now_playing, artist="", title=title)
            if STREAM.now_playing
            else None,
        )
        status = replace(STATION, name=text, mounts=(mount,), location=place, admin=contact)
        pages = [
            (render_status_page(status), (text, title, place, contact)),
            (render_server_version(status), (place, contact)),
        ]
        for body, values in pages:
            page = Page(body)
            self.assertLessEqual(set(page.tags), TAGS)
            self.assertEqual(page.tags.count("style"), 1)
            for value in values:
                self.assertIn(shown(value), page.text)


class ServerVersionTests(SynchronousTestCase):
    """
    L{render_server_version}.
    """

    def test_facts(self) -> None:
        """
        The server's page tells where the station is, whom to contact, the
        host it was reached by, the server's version and its start.
        """
        status = replace(STATION, location="Pier 4", admin="ops@example.org")
        text = Page(render_server_version(status)).words
        for fact in [
            "Location Pier 4",
            "Admin ops@example.org",
            "Host radio.example",
            "Server Version radiod/0.1.0",
            "Running since Sat, 21 Nov 2026 04:26:41 +0000",
        ]:
            self.assertIn(fact, text)
        unset = Page(render_server_version(STATION)).text
        self.assertNotIn("Location", unset)
        self.assertNotIn("Admin", unset)

    def test_no_mounts(self) -> None:
        """
        The server's page says nothing of the mounts.
        """
        body = render_server_version(replace(STATION, mounts=(STREAM, OTHER)))
        self.assertNotIn(b"/other", body)
        self.assertNotIn(b"Alpha Artist", body)


class ListedTests(SynchronousTestCase):
    """
    L{StationStatus.listed}.
    """

    def test_listed(self) -> None:
        """
        The public's snapshot is the same without hidden mounts, its
        listener count with them.
        """
        status: StationStatus = replace(
            STATION, mounts=(replace(STREAM, hidden=True), OTHER), location="x"
        )
        listed = status.listed()
        self.assertEqual(listed.mounts, (OTHER,))
        self.assertEqual((listed.listeners, status.listeners), (0, 3))
        self.assertEqual(replace(listed, mounts=status.mounts), status)


class StatusPagesOnSiteTests(StationTestCase):
    """
    The pages, and the station's location and contact, on a station's
    site.
    """

    def test_pages(self) -> None:
        """
        Both pages are HTML, never cached, with a policy that runs no
        script; C{HEAD} gives their head, other methods C{405}, and
        nothing is below them.
        """
        clock, factory, monitoring = self.build()
        for path in ("/status.xsl", "/server_version.xsl"):
            reply = self.get(factory, path)
            self.assertEqual(reply.status, 200, path)
            self.assertEqual(reply.headers["content-type"], "text/html; charset=utf-8")
            self.assertEqual(reply.headers["content-security-policy"], PAGE_POLICY)
            self.assertEqual(reply.headers["cache-control"], "no-cache, no-store")
            self.assertEqual(reply.headers["x-content-type-options"], "nosniff")
            self.assertEqual(int(reply.headers["content-length"]), len(reply.body))
            self.assertTrue(reply.body.startswith(b"<!DOCTYPE html>"), path)
            head = self.get(factory, path, method="HEAD")
            self.assertEqual((head.status, head.body), (200, b""))
            self.assertEqual(head.headers["content-length"], reply.headers["content-length"])
            self.assertEqual(self.get(factory, path, method="POST").status, 405)
            self.assertEqual(self.get(factory, path + "/x").status, 404)
        self.assertNotIn("script-src", PAGE_POLICY)

    def test_status_page(self) -> None:
        """
        C{/status.xsl} shows every mount with what it plays and its
        listeners now, and C{?mount=} keeps one.
        """
        clock, factory, monitoring = self.build()
        self.listen(factory, 1)
        clock.pump([0.1] * 3)
        text = Page(self.get(factory, "/status.xsl").body).words
        self.assertIn("Mount point /stream", text)
        self.assertIn("Mount point /other", text)
        self.assertIn("Stream Name Test FM", text)
        self.assertIn("Listeners (current) 1", text)
        self.assertIn("Currently playing Alpha Artist - First Song", text)
        one = Page(self.get(factory, "/status.xsl?mount=/other").body).text
        self.assertNotIn("/stream", one)

    def test_location_everywhere(self) -> None:
        """
        The station's location and contact, as configured when asked (a
        reload changes them), are on Icecast's documents (its C{location}
        and C{admin}), on both pages and on radiod's status API.
        """
        clock, factory, monitoring = self.build(location="Pier 4", admin_contact="ops@example.org")
        admin = b"Host: radio.example\r\n" + basic("admin", "secret")
        for location, contact in [("Pier 4", "ops@example.org"), ("Dock 9", "desk@example.net")]:
            factory.config = replace(factory.config, location=location, admin_contact=contact)
            stats = json.loads(self.get(factory, "/status-json.xsl").body)["icestats"]
            self.assertEqual((stats["location"], stats["admin"]), (location, contact))
            xml = ElementTree.fromstring(self.get(factory, "/admin/stats", admin).body)
            self.assertEqual((xml.findtext("location"), xml.findtext("admin")), (location, contact))
            api = json.loads(self.get(factory, "/api/v1/status").body)["station"]
            self.assertEqual((api["location"], api["admin_contact"]), (location, contact))
            for path in ("/status.xsl", "/server_version.xsl"):
                text = Page(self.get(factory, path).body).text
                self.assertIn(location, text, path)
                self.assertIn(contact, text, path)
