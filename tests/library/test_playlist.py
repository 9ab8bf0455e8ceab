# mypy: disallow-untyped-calls=False
"""
Tests for L{radiod.library.playlist}.
"""

from __future__ import annotations

from xml.etree import ElementTree

from twisted.trial.unittest import SynchronousTestCase

from radiod.library.playlist import (
    M3U_CONTENT_TYPE,
    PLS_CONTENT_TYPE,
    XSPF_CONTENT_TYPE,
    PlaylistEntry,
    parse_m3u,
    parse_playlist,
    parse_pls,
    render_m3u,
    render_pls,
    render_xspf,
    stream_url,
)

BASE = "/music/lists"
XSPF = "{http://xspf.org/ns/0/}"


class ParseM3UTests(SynchronousTestCase):
    """
    Tests for L{parse_m3u}.
    """

    def test_plain(self) -> None:
        """
        Each non-blank, non-comment line is an entry; relative paths are
        resolved against the base and absolute ones kept.
        """
        text = "a.mp3\n\n# a comment\nsub/b.mp3\n../up.mp3\n/abs/c.mp3\n"
        self.assertEqual(
            [entry.location for entry in parse_m3u(text, BASE)],
            ["/music/lists/a.mp3", "/music/lists/sub/b.mp3", "/music/up.mp3", "/abs/c.mp3"],
        )

    def test_extinf(self) -> None:
        """
        C{#EXTINF} gives the next entry its title and length, and only
        that entry; a negative length is unknown.
        """
        text = (
            "#EXTM3U\n"
            "#EXTINF:123,Some Artist - Some Title\n"
            "one.mp3\n"
            "two.mp3\n"
            "#EXTINF:-1,Endless\n"
            "#EXTVLCOPT:network-caching=1000\n"
            "three.mp3\n"
        )
        self.assertEqual(
            parse_m3u(text, BASE),
            [
                PlaylistEntry("/music/lists/one.mp3", "Some Artist - Some Title", 123.0),
                PlaylistEntry("/music/lists/two.mp3"),
                PlaylistEntry("/music/lists/three.mp3", "Endless", None),
            ],
        )

    def test_extinf_attributes(self) -> None:
        """
        Attributes after the length, and a title holding commas, are
        tolerated.
        """
        text = '#EXTINF:5 tvg-id="x",Title, with comma\nx.mp3\n'
        self.assertEqual(
            parse_m3u(text, BASE),
            [PlaylistEntry("/music/lists/x.mp3", "Title, with comma", 5.0)],
        )

    def test_urls(self) -> None:
        """
        C{file://} URLs become paths (percent-decoded); other URLs are kept
        as they are and marked remote.
        """
        text = (
            "file:///srv/My%20Music/a.mp3\nhttp://example.com/stream\nHTTPS://example.com/b.mp3\n"
        )
        self.assertEqual(
            parse_m3u(text, BASE),
            [
                PlaylistEntry("/srv/My Music/a.mp3"),
                PlaylistEntry("http://example.com/stream", remote=True),
                PlaylistEntry("HTTPS://example.com/b.mp3", remote=True),
            ],
        )

    def test_windows(self) -> None:
        """
        CRLF line ends and backslash separators are understood.
        """
        text = "#EXTM3U\r\n#EXTINF:1,T\r\nsub\\dir\\a.mp3\r\n..\\b.mp3\r\n"
        self.assertEqual(
            parse_m3u(text, BASE),
            [
                PlaylistEntry("/music/lists/sub/dir/a.mp3", "T", 1.0),
                PlaylistEntry("/music/b.mp3"),
            ],
        )

    def test_surrounding_space(self) -> None:
        """
        Whitespace around a line is ignored, and a leading byte order mark
        does not become part of the first path.
        """
        self.assertEqual(
            parse_m3u("\ufeffa.mp3\n   b.mp3  \n", BASE),
            [PlaylistEntry("/music/lists/a.mp3"), PlaylistEntry("/music/lists/b.mp3")],
        )

    def test_empty(self) -> None:
        """
        A playlist of only comments has no entries.
        """
        self.assertEqual(parse_m3u("#EXTM3U\n# nothing\n\n", BASE), [])


class ParsePLSTests(SynchronousTestCase):
    """
    Tests for L{parse_pls}.
    """

    def test_entries(self) -> None:
        """
        Numbered C{File}, C{Title} and C{Length} keys make entries ordered
        by number, whatever order and case the keys come in.
        """
        text = (
            "[playlist]\n"
            "NumberOfEntries=3\n"
            "title2=Second\n"
            "File2=b.mp3\n"
            "FILE1=/abs/a.mp3\n"
            "Title1=First\n"
            "Length1=61\n"
            "length2=-1\n"
            "File10=http://example.com/live\n"
            "Version=2\n"
        )
        self.assertEqual(
            parse_pls(text, BASE),
            [
                PlaylistEntry("/abs/a.mp3", "First", 61.0),
                PlaylistEntry("/music/lists/b.mp3", "Second", None),
                PlaylistEntry("http://example.com/live", remote=True),
            ],
        )

    def test_windows(self) -> None:
        """
        CRLF line ends, backslashes and spaces around keys are understood.
        """
        text = "[playlist]\r\nFile1 = sub\\a.mp3 \r\nTitle1=A\r\n"
        self.assertEqual(parse_pls(text, BASE), [PlaylistEntry("/music/lists/sub/a.mp3", "A")])

    def test_title_without_file(self) -> None:
        """
        A number with a title but no file, and unknown keys, give nothing.
        """
        text = "[playlist]\nTitle1=Orphan\nFoo=bar\n; comment\nnonsense\n"
        self.assertEqual(parse_pls(text, BASE), [])

    def test_equals_in_value(self) -> None:
        """
        Only the first C{=} separates key from value.
        """
        text = "File1=http://example.com/s?a=1\n"
        self.assertEqual(
            parse_pls(text, BASE), [PlaylistEntry("http://example.com/s?a=1", remote=True)]
        )


class ParsePlaylistTests(SynchronousTestCase):
    """
    Tests for L{parse_playlist}.
    """

    def test_by_extension(self) -> None:
        """
        The format follows the extension, in any case.
        """
        self.assertEqual(
            parse_playlist("x.PLS", b"[playlist]\nFile1=a.mp3\n", BASE),
            [PlaylistEntry("/music/lists/a.mp3")],
        )
        self.assertEqual(
            parse_playlist("/y/x.M3U", b"a.mp3\n", BASE), [PlaylistEntry("/music/lists/a.mp3")]
        )

    def test_unknown_extension(self) -> None:
        """
        A name with another extension is refused.
        """
        self.assertRaises(ValueError, parse_playlist, "x.txt", b"a.mp3\n", BASE)

    def test_utf8_bom(self) -> None:
        """
        UTF-8 with a byte order mark decodes in all three formats.
        """
        for name, data in [
            ("l.m3u", "\ufeffCaf\u00e9.mp3\n"),
            ("l.m3u8", "\ufeffCaf\u00e9.mp3\n"),
            ("l.pls", "\ufeff[playlist]\nFile1=Caf\u00e9.mp3\n"),
        ]:
            self.assertEqual(
                parse_playlist(name, data.encode("utf-8"), BASE),
                [PlaylistEntry("/music/lists/Caf\u00e9.mp3")],
                name,
            )

    def test_latin1_fallback(self) -> None:
        """
        C{.m3u} and C{.pls} files that are not UTF-8 are read as Latin-1.
        """
        self.assertEqual(
            parse_playlist(
                "l.m3u", "#EXTINF:1,Se\u00f1or\nCaf\u00e9.mp3\n".encode("latin-1"), BASE
            ),
            [PlaylistEntry("/music/lists/Caf\u00e9.mp3", "Se\u00f1or", 1.0)],
        )
        self.assertEqual(
            parse_playlist("l.pls", "File1=\u00e9t\u00e9.mp3\r\n".encode("latin-1"), BASE),
            [PlaylistEntry("/music/lists/\u00e9t\u00e9.mp3")],
        )

    def test_m3u8_is_utf8(self) -> None:
        """
        C{.m3u8} is always UTF-8: stray bytes stay as the surrogate escapes
        that name the same bytes on disk, rather than turning into Latin-1.
        """
        [entry] = parse_playlist("l.m3u8", b"Caf\xe9.mp3\n", BASE)
        self.assertEqual(
            entry.location.encode("utf-8", "surrogateescape"), b"/music/lists/Caf\xe9.mp3"
        )


class RenderTests(SynchronousTestCase):
    """
    Tests for L{render_m3u}, L{render_pls} and L{render_xspf}.
    """

    url = "http://radio.example:8000/live"

    def test_content_types(self) -> None:
        """
        Each format has the content type players expect.
        """
        self.assertEqual(
            (M3U_CONTENT_TYPE, PLS_CONTENT_TYPE, XSPF_CONTENT_TYPE),
            ("audio/x-mpegurl", "audio/x-scpls", "application/xspf+xml"),
        )

    def test_m3u(self) -> None:
        """
        The M3U playlist names the stream and its title, and parses back.
        """
        text = render_m3u(self.url, "My Radio")
        self.assertEqual(text, "#EXTM3U\n#EXTINF:-1,My Radio\nhttp://radio.example:8000/live\n")
        self.assertEqual(
            parse_m3u(text, BASE), [PlaylistEntry(self.url, "My Radio", None, remote=True)]
        )

    def test_pls(self) -> None:
        """
        The PLS playlist names the stream and its title, and parses back.
        """
        text = render_pls(self.url, "My Radio")
        self.assertTrue(text.startswith("[playlist]\n"))
        self.assertIn("NumberOfEntries=1\n", text)
        self.assertIn("Version=2\n", text)
        self.assertEqual(
            parse_pls(text, BASE), [PlaylistEntry(self.url, "My Radio", None, remote=True)]
        )

    def test_line_breaks_in_title(self) -> None:
        """
        A title with line breaks cannot add entries to either text format.
        """
        title = "Evil\r\nhttp://elsewhere.example/\nFile2=http://elsewhere.example/"
        self.assertEqual(len(parse_m3u(render_m3u(self.url, title), BASE)), 1)
        self.assertEqual(len(parse_pls(render_pls(self.url, title), BASE)), 1)
        self.assertEqual(render_m3u(self.url, title).count("\n"), 3)

    def test_xspf(self) -> None:
        """
        The XSPF playlist is an XSPF version 1 document with one track
        holding the location, title and annotation.
        """
        root = ElementTree.fromstring(render_xspf(self.url, "My Radio", "Hits all day"))
        self.assertEqual((root.tag, root.get("version")), (f"{XSPF}playlist", "1"))
        self.assertEqual(root.findtext(f"{XSPF}title"), "My Radio")
        [track] = root.findall(f"{XSPF}trackList/{XSPF}track")
        self.assertEqual(track.findtext(f"{XSPF}location"), self.url)
        self.assertEqual(track.findtext(f"{XSPF}title"), "My Radio")
        self.assertEqual(track.findtext(f"{XSPF}annotation"), "Hits all day")

    def test_xspf_declaration(self) -> None:
        """
        The document starts with an XML declaration naming UTF-8.
        """
        self.assertTrue(
            render_xspf(self.url, "x").startswith('<?xml version="1.0" encoding="UTF-8"?>\n')
        )

    def test_xspf_no_annotation(self) -> None:
        """
        Without an annotation there is no annotation element.
        """
        root = ElementTree.fromstring(render_xspf(self.url, "x"))
        self.assertIsNone(root.find(f"{XSPF}trackList/{XSPF}track/{XSPF}annotation"))

    def test_xspf_escaped(self) -> None:
        """
        Markup characters in the values are escaped, so they come back as
        text, and characters XML cannot carry are dropped.
        """
        title = '<b>Rock & "Roll"</b> ]]> \x01\x1b'
        url = "http://h/a?x=1&y=<2>"
        document = render_xspf(url, title, "</annotation><evil/>")
        self.assertNotIn("<b>", document)
        root = ElementTree.fromstring(document)
        self.assertEqual(root.findtext(f"{XSPF}title"), '<b>Rock & "Roll"</b> ]]> ')
        track = root.find(f"{XSPF}trackList/{XSPF}track")
        assert track is not None
        self.assertEqual(track.findtext(f"{XSPF}location"), url)
        self.assertEqual(track.findtext(f"{XSPF}annotation"), "</annotation><evil/>")
        self.assertEqual(
            [child.tag for child in track], [f"{XSPF}location", f"{XSPF}title", f"{XSPF}annotation"]
        )

    def test_xspf_unicode(self) -> None:
        """
        Non-ASCII titles pass through unchanged.
        """
        root = ElementTree.fromstring(render_xspf(self.url, "R\u00e1dio \u65e5\u672c"))
        self.assertEqual(root.findtext(f"{XSPF}title"), "R\u00e1dio \u65e5\u672c")


class StreamURLTests(SynchronousTestCase):
    """
    Tests for L{stream_url}.
    """

    def test_host_header(self) -> None:
        """
        The client's C{Host} header is the URL's host, port included when
        the client gave one.
        """
        self.assertEqual(
            stream_url("radio.example", "0.0.0.0", 8000, "/live"), "http://radio.example/live"
        )
        self.assertEqual(
            stream_url("radio.example:8000", "me", 8000, "/live"),
            "http://radio.example:8000/live",
        )
        self.assertEqual(
            stream_url("192.0.2.1:80", "me", 8000, "/live", "https"),
            "https://192.0.2.1:80/live",
        )

    def test_ipv6_host_header(self) -> None:
        """
        A bracketed IPv6 address, with or without port, is accepted.
        """
        self.assertEqual(stream_url("[::1]:8000", "me", 1, "/a"), "http://[::1]:8000/a")
        self.assertEqual(stream_url("[2001:db8::5]", "me", 1, "/a"), "http://[2001:db8::5]/a")

    def test_no_host_header(self) -> None:
        """
        Without a C{Host} header the default host and port are used, the
        port left out when it is the scheme's default.
        """
        self.assertEqual(
            stream_url(None, "radio.local", 8000, "/live"), "http://radio.local:8000/live"
        )
        self.assertEqual(
            stream_url("", "radio.local", 8000, "/live"), "http://radio.local:8000/live"
        )
        self.assertEqual(stream_url(None, "radio.local", 80, "/live"), "http://radio.local/live")
        self.assertEqual(
            stream_url(None, "radio.local", 443, "/live", "https"), "https://radio.local/live"
        )
        self.assertEqual(
            stream_url(None, "radio.local", 80, "/live", "https"), "https://radio.local:80/live"
        )

    def test_ipv6_default(self) -> None:
        """
        An IPv6 default host is bracketed.
        """
        self.assertEqual(stream_url(None, "::1", 8000, "/a"), "http://[::1]:8000/a")

    def test_hostile_host(self) -> None:
        """
        A C{Host} header with characters no host name has (markup, line
        breaks, spaces, user info, paths, quotes) is ignored in favour of
        the default host.
        """
        for hostile in [
            "evil.example\r\nFile2=http://x/",
            "<script>",
            'a"b',
            "user@evil.example",
            "evil.example/path",
            "evil example",
            "evil.example:80:80",
            "evil.example:port",
            "[::1]x",
            "-",
        ]:
            self.assertEqual(
                stream_url(hostile, "radio.local", 8000, "/live"),
                "http://radio.local:8000/live",
                hostile,
            )

    def test_path_quoted(self) -> None:
        """
        The path gains a leading slash if it lacks one, and characters not
        allowed in a URL path are percent-encoded.
        """
        self.assertEqual(stream_url("h", "d", 80, "live"), "http://h/live")
        self.assertEqual(stream_url("h", "d", 80, "/a b<c>%"), "http://h/a%20b%3Cc%3E%25")
        self.assertEqual(stream_url("h", "d", 80, "/live.mp3"), "http://h/live.mp3")
