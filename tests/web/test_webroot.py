"""
Tests for L{radiod.web.webroot}: the operator's files served where the
station's site has nothing else, from real files on disk, asked through
the real protocol in memory.
"""

from __future__ import annotations

import os
from dataclasses import replace

from twisted.internet.task import Clock
from twisted.logger import capturedLogs
from twisted.trial.unittest import SynchronousTestCase

from radiod.broadcast.mount import Mount
from radiod.config import MountConfig, StationConfig
from radiod.testing import (
    Connection,
    FakeFrameSource,
    LaterRunner,
    Reply,
    parse_reply,
    silent_frame,
)
from radiod.web.filebody import CHUNK_SIZE
from radiod.web.page import StationPage
from radiod.web.site import StationSite
from radiod.web.tree import station_site
from radiod.web.webroot import Found, attach_webroot, find_file, webroot_names
from radiod.wire.server import RadioFactory
from tests.web.test_monitoring import ALPHA, StationTestCase

CSS = b"body { color: teal; }\n"
PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4
BIG = bytes(range(251)) * (3 * CHUNK_SIZE // 251 + 7)
SECRET = b"the secret outside the webroot\n"


def write(path: str, data: bytes) -> None:
    """
    Write C{data} to C{path}, making its folders.
    """
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as file:
        file.write(data)


def make_webroot(top: str) -> str:
    """
    A webroot under C{top} (with a secret file and folder beside it, and
    links to them from inside it).

    @return: the webroot's path.
    """
    root = os.path.join(top, "web")
    outside = os.path.join(top, "outside")
    write(os.path.join(outside, "secret.txt"), SECRET)
    write(os.path.join(outside, "index.html"), SECRET)
    write(os.path.join(top, "secret.txt"), SECRET)
    files = {
        "style.css": CSS,
        "logo.png": PNG,
        "big.bin": BIG,
        "notes.qqq": b"notes\n",
        "index.html": b"<p>the webroot's own index</p>\n",
        "status.xsl": b"<xsl:stylesheet/>\n",
        "custom.xsl": b"<xsl:stylesheet/>\n",
        "stream.m3u": b"not the mount's playlist\n",
        "sub/index.html": b"<p>sub</p>\n",
        "sub/page.html": b"<p>page</p>\n",
        "web/extra.css": CSS,
        "web/app.js": b"not the page's script\n",
        "api/x.json": b"{}\n",
        ".well-known/acme-challenge/token": b"token\n",
        "a b/\u00e9t\u00e9.txt": b"summer\n",
    }
    for name, data in files.items():
        write(os.path.join(root, name), data)
    os.makedirs(os.path.join(root, "empty"))
    os.symlink(os.path.join(root, "style.css"), os.path.join(root, "inside.css"))
    os.symlink(os.path.join(outside, "secret.txt"), os.path.join(root, "out.txt"))
    os.symlink(outside, os.path.join(root, "outdir"))
    os.symlink(os.path.join(root, "sub"), os.path.join(root, "subdir"))
    return root


class WebrootTests(StationTestCase):
    """
    A station whose webroot has style sheets, pictures, folders with and
    without an index, files at the paths of the site's own, and links
    leading in and out of it.
    """

    def station(self) -> tuple[Clock, RadioFactory, str]:
        """
        The station, its webroot, and its page on its site.
        """
        root = make_webroot(os.path.abspath(self.mktemp()))
        clock, factory, monitoring = self.build(webroot=root)
        page = StationPage(clock, factory)
        self.addCleanup(page.close)
        return clock, factory, root

    def ask(
        self, factory: RadioFactory, target: str, headers: str = "", method: str = "GET"
    ) -> Reply:
        """
        Ask for C{target}; the complete reply.
        """
        head = f"Host: radio.example:8000\r\n{headers}".encode()
        return self.get(factory, target, head, method)

    def test_file(self) -> None:
        """
        A file is sent as it is, with its content type, its length, its
        validators, ranges offered, and no sniffing.
        """
        clock, factory, root = self.station()
        reply = self.ask(factory, "/style.css")
        self.assertEqual(reply.status, 200)
        self.assertEqual(reply.body, CSS)
        self.assertEqual(reply.headers["content-type"], "text/css")
        self.assertEqual(int(reply.headers["content-length"]), len(CSS))
        self.assertEqual(reply.headers["accept-ranges"], "bytes")
        self.assertEqual(reply.headers["x-content-type-options"], "nosniff")
        self.assertEqual(reply.headers["server"], "radiod/0.1.0")
        self.assertIn("last-modified", reply.headers)
        self.assertIn("etag", reply.headers)
        head = self.ask(factory, "/style.css", method="HEAD")
        self.assertEqual((head.status, head.body), (200, b""))
        self.assertEqual(head.headers["content-length"], str(len(CSS)))
        self.assertEqual(head.headers["content-type"], "text/css")

    def test_content_types(self) -> None:
        """
        The content type comes from the file's name; a name that says none
        is sent as bytes.
        """
        clock, factory, root = self.station()
        for path, content_type, body in [
            ("/logo.png", "image/png", PNG),
            ("/sub/page.html", "text/html", b"<p>page</p>\n"),
            ("/notes.qqq", "application/octet-stream", b"notes\n"),
            ("/a%20b/%C3%A9t%C3%A9.txt", "text/plain", b"summer\n"),
            ("/.well-known/acme-challenge/token", "application/octet-stream", b"token\n"),
        ]:
            reply = self.ask(factory, path)
            self.assertEqual((reply.status, reply.body), (200, body), path)
            self.assertEqual(reply.headers["content-type"], content_type, path)

    def test_big_file(self) -> None:
        """
        A file of several chunks arrives whole.
        """
        clock, factory, root = self.station()
        reply = self.ask(factory, "/big.bin")
        self.assertEqual(reply.status, 200)
        self.assertEqual(len(reply.body), len(BIG))
        self.assertEqual(reply.body, BIG)

    def test_not_modified(self) -> None:
        """
        A client whose copy is current (by its date or its tag) is told so
        with C{304} and no body; an older copy gets the file.
        """
        clock, factory, root = self.station()
        first = self.ask(factory, "/style.css")
        for header in (
            f"If-Modified-Since: {first.headers['last-modified']}\r\n",
            f"If-None-Match: {first.headers['etag']}\r\n",
        ):
            reply = self.ask(factory, "/style.css", header)
            self.assertEqual((reply.status, reply.body), (304, b""), header)
        stale = self.ask(
            factory, "/style.css", "If-Modified-Since: Mon, 01 Jan 2001 00:00:00 GMT\r\n"
        )
        self.assertEqual((stale.status, stale.body), (200, CSS))

    def test_range(self) -> None:
        """
        A byte range is sent as C{206} with its C{Content-Range}; a range
        past the end is C{416}.
        """
        clock, factory, root = self.station()
        part = self.ask(factory, "/logo.png", "Range: bytes=8-15\r\n")
        self.assertEqual(part.status, 206)
        self.assertEqual(part.body, PNG[8:16])
        self.assertEqual(part.headers["content-range"], f"bytes 8-15/{len(PNG)}")
        beyond = self.ask(factory, "/logo.png", f"Range: bytes={len(PNG) + 10}-\r\n")
        self.assertEqual(beyond.status, 416)

    def test_folders(self) -> None:
        """
        A folder is its C{index.html}: with its slash, the page; without,
        a redirect to the path with it (its query kept).  A folder
        without an index is not found, as any missing path: no listing.
        """
        clock, factory, root = self.station()
        page = self.ask(factory, "/sub/")
        self.assertEqual((page.status, page.body), (200, b"<p>sub</p>\n"))
        self.assertEqual(page.headers["content-type"], "text/html")
        for target, location in [("/sub", "/sub/"), ("/sub?a=1&b=%20", "/sub/?a=1&b=%20")]:
            moved = self.ask(factory, target)
            self.assertEqual(moved.status, 301, target)
            self.assertEqual(moved.headers["location"], location)
        for target in ("/empty", "/empty/", "/style.css/", "/nothing/", "/nothing"):
            reply = self.ask(factory, target)
            self.assertEqual((reply.status, reply.body), (404, b"404 File Not Found\n"), target)

    def test_traversal(self) -> None:
        """
        No path leads out of the webroot, however its dots and slashes are
        written, nor names a file by a name with a NUL in it.
        """
        clock, factory, root = self.station()
        for target in [
            "/../secret.txt",
            "/%2e%2e/secret.txt",
            "/%2E%2E/secret.txt",
            "/.%2e/secret.txt",
            "/sub/../../secret.txt",
            "/sub/%2e%2e/%2e%2e/secret.txt",
            "/%2e%2e%2fsecret.txt",
            "/sub%2f..%2f..%2fsecret.txt",
            "/sub/..%2f..%2fsecret.txt",
            "/..%5csecret.txt",
            "/sub/%2e%2e%5c%2e%2e%5csecret.txt",
            "/%00",
            "/style.css%00.png",
            "/./style.css",
            "/sub//page.html",
            "/%ff.css",
            "//secret.txt",
        ]:
            reply = self.ask(factory, target)
            # The stream server refuses some of these itself (400).
            self.assertIn(reply.status, (400, 404), target)
            self.assertNotIn(SECRET, reply.body)

    def test_links(self) -> None:
        """
        A symbolic link to a file or folder inside the webroot is
        followed; one leading out of it is not found, and logged.
        """
        clock, factory, root = self.station()
        self.assertEqual(self.ask(factory, "/inside.css").body, CSS)
        self.assertEqual(self.ask(factory, "/subdir/page.html").body, b"<p>page</p>\n")
        for target in ("/out.txt", "/outdir/secret.txt", "/outdir/", "/outdir"):
            with capturedLogs() as events:
                reply = self.ask(factory, target)
            self.assertEqual(reply.status, 404, target)
            self.assertNotIn(SECRET, reply.body)
            warned = [e for e in events if "real" in e]
            self.assertEqual(len(warned), 1, target)
            self.assertTrue(warned[0]["real"].startswith(os.path.dirname(root)), target)

    def test_site_wins(self) -> None:
        """
        Where the site serves something itself, the webroot's file of the
        same path is never sent; beside the site's own paths, it is.
        """
        clock, factory, root = self.station()
        status = self.ask(factory, "/status.xsl")
        self.assertEqual(status.headers["content-type"], "text/html; charset=utf-8")
        self.assertIn(b"Mount point", status.body)
        for target in ("/", "/index.html"):
            page = self.ask(factory, target)
            self.assertNotIn(b"the webroot's own index", page.body, target)
            self.assertIn("content-security-policy", page.headers, target)
        self.assertNotIn(b"not the page's script", self.ask(factory, "/web/app.js").body)
        self.assertNotIn(b"not the mount's playlist", self.ask(factory, "/stream.m3u").body)
        self.assertEqual(self.ask(factory, "/web/extra.css").body, CSS)
        self.assertEqual(self.ask(factory, "/api/x.json").body, b"{}\n")

    def test_templates_never_sent(self) -> None:
        """
        An C{.xsl} file, which Icecast only ever runs through its XSLT
        engine, is not sent as it is.
        """
        clock, factory, root = self.station()
        self.assertEqual(self.ask(factory, "/custom.xsl").status, 404)
        self.assertEqual(self.ask(factory, "/CUSTOM.XSL").status, 404)

    def test_methods(self) -> None:
        """
        A file takes C{GET}, C{HEAD} and C{OPTIONS}; another method is a
        C{405} where there is a file, a C{404} where there is none.
        """
        clock, factory, root = self.station()
        self.assertEqual(self.ask(factory, "/style.css", method="POST").status, 405)
        self.assertEqual(self.ask(factory, "/style.css", method="DELETE").status, 405)
        self.assertEqual(self.ask(factory, "/missing.css", method="POST").status, 404)
        preflight = self.ask(factory, "/style.css", method="OPTIONS")
        self.assertEqual(preflight.status, 204)

    def test_reload(self) -> None:
        """
        The webroot is the one configured when the request comes: a reload
        that changes it, or takes it away, counts at once.
        """
        clock, factory, root = self.station()
        other = os.path.abspath(self.mktemp())
        write(os.path.join(other, "style.css"), b"/* other */\n")
        factory.config = replace(factory.config, webroot=other)
        self.assertEqual(self.ask(factory, "/style.css").body, b"/* other */\n")
        self.assertEqual(self.ask(factory, "/logo.png").status, 404)
        factory.config = replace(factory.config, webroot="")
        self.assertEqual(self.ask(factory, "/style.css").status, 404)
        factory.config = replace(factory.config, webroot=os.path.join(other, "gone"))
        self.assertEqual(self.ask(factory, "/style.css").status, 404)

    def test_none(self) -> None:
        """
        Without a webroot, a path the site has nothing at is not found.
        """
        clock, factory, monitoring = self.build()
        reply = self.ask(factory, "/style.css")
        self.assertEqual((reply.status, reply.body), (404, b"404 File Not Found\n"))


class WebrootRunnerTests(SynchronousTestCase):
    """
    The disk work is the runner's (a thread's, on a running station).
    """

    def build(self) -> tuple[RadioFactory, LaterRunner]:
        """
        A site with the webroot looked up through a runner that runs
        work when the test says.
        """
        clock = Clock()
        config = MountConfig(name="/stream")
        mount = Mount(config, FakeFrameSource([(ALPHA, silent_frame(), 100)]), clock)
        mount.start()
        self.addCleanup(mount.stop)
        root = make_webroot(os.path.abspath(self.mktemp()))
        factory = RadioFactory(
            clock, StationConfig(mounts=(config,), webroot=root), {"/stream": mount}
        )
        site: StationSite = station_site(factory, clock)
        runner = LaterRunner()
        attach_webroot(site, factory, runner)
        return factory, runner

    def test_off_the_reactor(self) -> None:
        """
        Nothing is answered until the runner has found and read the file.
        """
        factory, runner = self.build()
        client = Connection(factory)
        self.assertEqual(client.send(b"GET /style.css HTTP/1.0\r\n\r\n"), b"")
        runner.run()  # finding and opening
        self.assertEqual(client.received(), b"")
        runner.run_all()  # reading
        reply = parse_reply(client.received())
        self.assertEqual((reply.status, reply.body), (200, CSS))

    def test_client_left(self) -> None:
        """
        A client that leaves while the file is being found gets nothing,
        and the file opened meanwhile is closed.
        """
        factory, runner = self.build()
        client = Connection(factory)
        client.send(b"GET /style.css HTTP/1.0\r\n\r\n")
        client.lose()
        opened: list[Found] = []
        work, done = runner.pending.pop()

        def spy() -> object:
            found = work()
            assert isinstance(found, Found)
            opened.append(found)
            return found

        runner.pending.append((spy, done))
        runner.run()
        assert opened[0].opened is not None
        fd = opened[0].opened.fd
        self.assertRaises(OSError, os.fstat, fd)
        self.assertEqual(runner.pending, [])


class NamesTests(SynchronousTestCase):
    """
    L{webroot_names} and L{find_file}, without a request.
    """

    def test_names(self) -> None:
        """
        Segments become names; those that can name nothing make none.
        """
        self.assertEqual(webroot_names([b"a", b"b.css"]), ["a", "b.css"])
        self.assertEqual(webroot_names([b"a", b""]), ["a", ""])
        self.assertEqual(webroot_names([b"\xc3\xa9"]), ["\u00e9"])
        for segments in [
            [],
            [b""],
            [b".."],
            [b"a", b".", b"b"],
            [b"a/b"],
            [b"a\\b"],
            [b"a\x00"],
            [b"", b"a"],
            [b"a", b"", b"b"],
            [b"\xff"],
            [b"t.xsl"],
            [b"T.XSL"],
        ]:
            self.assertIsNone(webroot_names(segments), segments)

    def test_find_file(self) -> None:
        """
        L{find_file} opens a file, a folder's index, or nothing; and tells
        a folder asked for without its slash, and a link out.
        """
        root = make_webroot(os.path.abspath(self.mktemp()))
        found = find_file(root, ["style.css"])
        assert found.opened is not None
        self.addCleanup(os.close, found.opened.fd)
        self.assertEqual(os.read(found.opened.fd, 100), CSS)
        index = find_file(root, ["sub", ""])
        assert index.opened is not None
        self.addCleanup(os.close, index.opened.fd)
        self.assertEqual(index.opened.path, os.path.realpath(os.path.join(root, "sub/index.html")))
        self.assertTrue(find_file(root, ["sub"]).folder)
        self.assertIsNone(find_file(root, ["sub"]).opened)
        self.assertIsNone(find_file(root, ["empty", ""]).opened)
        self.assertFalse(find_file(root, ["empty"]).folder)
        self.assertTrue(find_file(root, ["out.txt"]).outside)
        self.assertIsNone(find_file(os.path.join(root, "nothing"), ["style.css"]).opened)
