"""
Tests for L{radiod.web.page}: the station page and its files, in memory.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from importlib import resources

from twisted.internet.task import Clock
from twisted.trial.unittest import SynchronousTestCase
from twisted.web.resource import Resource
from twisted.web.static import Data

from radiod.broadcast.mount import Mount
from radiod.config import MountConfig, StationConfig
from radiod.testing import Connection, FakeFrameSource, Reply
from radiod.web.events import EVENTS_PATH
from radiod.web.page import ASSET_PREFIX, ASSETS, StationPage, etag_matches
from radiod.web.site import StationSite, attach
from radiod.web.tree import station_site
from radiod.wire.server import RadioFactory


def web_file(name: str) -> bytes:
    """
    One of the page's files as shipped.
    """
    return (resources.files("radiod.web.static") / name).read_bytes()


class StationPageTests(SynchronousTestCase):
    """
    L{StationPage} serves the page at C{/}, at each mount's C{/<mount>/},
    and its files under L{ASSET_PREFIX}.
    """

    def setUp(self) -> None:
        self.clock = Clock()
        self.factory, self.page = self.station("/stream", "/jazz/late")

    def station(
        self, *names: str, before: Callable[[RadioFactory, Resource], None] | None = None
    ) -> tuple[RadioFactory, StationPage]:
        """
        A station with mounts C{names}, its site and its page.

        @param before: called with the factory and the site's root before
            the page is put on the site.
        """
        configs = tuple(MountConfig(name=name) for name in names)
        mounts = {config.name: Mount(config, FakeFrameSource([]), self.clock) for config in configs}
        factory = RadioFactory(self.clock, StationConfig(port=8000, mounts=configs), mounts)
        site = station_site(factory, self.clock)
        if before is not None:
            before(factory, site.resource)
        page = StationPage(self.clock, factory)
        self.addCleanup(page.close)
        return factory, page

    def request(self, target: str, method: str = "GET", headers: str = "") -> Reply:
        """
        Send one request and return the reply; the connection must be
        closed after it.
        """
        connection = Connection(self.factory)
        connection.send(f"{method} {target} HTTP/1.1\r\n{headers}\r\n")
        self.assertTrue(connection.closed)
        return connection.reply()

    def test_page(self) -> None:
        """
        C{/} and C{/index.html} are the page, as HTML, revalidated on
        every use and limited to the station's own resources.
        """
        for path in ("/", "/index.html"):
            reply = self.request(path)
            self.assertEqual(reply.status, 200)
            self.assertEqual(reply.body, web_file("index.html"))
            self.assertEqual(reply.headers["content-type"], "text/html; charset=utf-8")
            self.assertEqual(reply.headers["cache-control"], "no-cache")
            self.assertEqual(reply.headers["content-length"], str(len(reply.body)))
            self.assertEqual(reply.headers["x-content-type-options"], "nosniff")
            self.assertTrue(reply.headers["etag"].startswith('"'))
            self.assertIn("default-src 'self'", reply.headers["content-security-policy"])

    def test_mount_pages(self) -> None:
        """
        A mount's name with a slash after it is the page too (the script
        shows that mount); a path that is no mount's is not found.
        """
        for path in ("/stream/", "/jazz/late/"):
            reply = self.request(path)
            self.assertEqual(reply.status, 200, path)
            self.assertEqual(reply.body, web_file("index.html"))
        for path in ("/nowhere/", "/jazz/", "//"):
            self.assertEqual(self.request(path).status, 404, path)

    def test_assets(self) -> None:
        """
        The script, style sheet and icon are served with their content
        types.
        """
        expected = {
            "app.js": "text/javascript; charset=utf-8",
            "style.css": "text/css; charset=utf-8",
            "icon.svg": "image/svg+xml",
        }
        self.assertEqual(ASSETS, expected)
        for name, content_type in expected.items():
            reply = self.request(ASSET_PREFIX + name)
            self.assertEqual(reply.status, 200)
            self.assertEqual(reply.body, web_file(name))
            self.assertEqual(reply.headers["content-type"], content_type)
            self.assertEqual(reply.headers["cache-control"], "no-cache")
            self.assertNotIn("content-security-policy", reply.headers)
        self.assertEqual(self.request(ASSET_PREFIX + "missing.js").status, 404)

    def test_not_modified(self) -> None:
        """
        A client that has the current version (by C{ETag}) gets
        C{304 Not Modified} with no body; one with another version gets
        the file.
        """
        etag = self.request("/web/app.js").headers["etag"]
        for header in (etag, f"W/{etag}", f'"other", {etag}', "*"):
            reply = self.request("/web/app.js", headers=f"If-None-Match: {header}\r\n")
            self.assertEqual(reply.status, 304, header)
            self.assertEqual(reply.body, b"")
            self.assertEqual(reply.headers["etag"], etag)
            self.assertNotIn("content-length", reply.headers)
        reply = self.request("/web/app.js", headers='If-None-Match: "old"\r\n')
        self.assertEqual(reply.status, 200)

    def test_head(self) -> None:
        """
        C{HEAD} gets the headers, with the length, and no body.
        """
        reply = self.request("/", "HEAD")
        self.assertEqual(reply.status, 200)
        self.assertEqual(reply.body, b"")
        self.assertEqual(reply.headers["content-length"], str(len(web_file("index.html"))))

    def test_other_methods(self) -> None:
        """
        Methods other than C{GET} and C{HEAD} are refused with 405.
        """
        for path in ("/", "/web/style.css", "/stream/"):
            reply = self.request(path, "DELETE")
            self.assertEqual(reply.status, 405, path)
            self.assertEqual(reply.headers["allow"], "GET, HEAD, OPTIONS")

    def test_preflight(self) -> None:
        """
        C{OPTIONS} gets the site's CORS preflight answer, as on every
        other path.
        """
        for path in ("/", "/web/style.css", "/stream/", EVENTS_PATH):
            reply = self.request(path, "OPTIONS")
            self.assertEqual(reply.status, 204, path)
            self.assertEqual(reply.headers["access-control-allow-origin"], "*")

    def test_nothing_below(self) -> None:
        """
        Nothing is found below a file or the event streams, nor at the
        folders that hold them.
        """
        for path in (
            "/index.html/x",
            "/web/app.js/x",
            "/web/",
            "/web",
            EVENTS_PATH + "/",
            "/api/v1",
            "/api",
        ):
            reply = self.request(path)
            self.assertEqual(reply.status, 404, path)
            self.assertEqual(reply.body, b"404 File Not Found\n", path)

    def test_mount_named_like_folder(self) -> None:
        """
        A mount named like the page's folder of files still has its page.
        """
        self.factory, self.page = self.station("/web")
        reply = self.request("/web/")
        self.assertEqual(reply.status, 200)
        self.assertEqual(reply.body, web_file("index.html"))
        self.assertEqual(self.request("/web/icon.svg").body, web_file("icon.svg"))

    def test_shared_api_folder(self) -> None:
        """
        The event streams join whatever else the site serves under
        C{/api/v1/}.
        """

        def status(factory: RadioFactory, root: Resource) -> None:
            assert isinstance(factory.site, StationSite)
            attach(factory.site, "/api/v1/status", Data(b"{}", "application/json"))

        self.factory, self.page = self.station("/stream", before=status)
        self.assertEqual(self.request("/api/v1/status").body, b"{}")
        self.assertIn(b"event: snapshot\n", self.open_events())

    def open_events(self) -> bytes:
        """
        Open an event stream on the default mount; what it received.
        """
        connection = Connection(self.factory, 40001)
        received = connection.send(f"GET {EVENTS_PATH} HTTP/1.1\r\n\r\n")
        self.assertFalse(connection.closed)
        return received

    def test_events_route(self) -> None:
        """
        The page's event streams are served at L{EVENTS_PATH}, and end
        when the page is closed.
        """
        connection = Connection(self.factory, 40001)
        connection.send(f"GET {EVENTS_PATH}?mount=/jazz/late HTTP/1.1\r\n\r\n")
        self.assertIn(b"event: snapshot\n", connection.received())
        self.assertIn(b'"mount":"/jazz/late"', connection.received())
        self.assertFalse(connection.closed)
        self.page.close()
        self.assertTrue(connection.closed)
        self.assertEqual(self.page.events.streams, set())


class AssetContentTests(SynchronousTestCase):
    """
    What the shipped files promise: nothing from elsewhere, and no markup
    built from text.
    """

    def test_page_references_local_files_only(self) -> None:
        """
        Every C{src} and C{href} of the page is a path on the station, and
        every file it names under L{ASSET_PREFIX} is served.
        """
        page = web_file("index.html").decode("utf-8")
        references = re.findall(r'(?:src|href)="([^"]*)"', page)
        self.assertTrue(references)
        for reference in references:
            self.assertTrue(reference.startswith("/"), reference)
            self.assertFalse(reference.startswith("//"), reference)
            if reference.startswith(ASSET_PREFIX):
                self.assertIn(reference.removeprefix(ASSET_PREFIX), ASSETS)

    def test_no_outside_network(self) -> None:
        """
        No file loads anything from another host (the SVG's namespace is a
        name, not a download).
        """
        for name in ("index.html", *ASSETS):
            text = web_file(name).decode("utf-8")
            text = text.replace('xmlns="http://www.w3.org/2000/svg"', "")
            self.assertNotIn("http://", text, name)
            self.assertNotIn("https://", text, name)
            self.assertNotIn("@import", text, name)

    def test_text_not_markup(self) -> None:
        """
        The script puts text into the page as text, never as markup.
        """
        script = web_file("app.js").decode("utf-8")
        for sink in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval("):
            self.assertNotIn(sink, script)
        self.assertIn("textContent", script)


class EtagMatchesTests(SynchronousTestCase):
    """
    L{etag_matches} reads C{If-None-Match}.
    """

    def test_matches(self) -> None:
        """
        The tag itself, its weak form, a list holding it, and C{*} match;
        nothing else does.
        """
        tag = '"abc"'
        for header in ('"abc"', 'W/"abc"', ' "x" , "abc" ', "*"):
            self.assertTrue(etag_matches(header, tag), header)
        others: tuple[str | None, ...] = (None, "", '"abd"', "abc", 'W/"x"')
        for other in others:
            self.assertFalse(etag_matches(other, tag), other)
