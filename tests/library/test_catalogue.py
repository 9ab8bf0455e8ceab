"""
Tests for L{radiod.library.catalogue}: the library as clients browse it.
"""

from __future__ import annotations

import json
import os

from twisted.trial.unittest import SynchronousTestCase

from radiod.audio.track import TrackInfo
from radiod.library.catalogue import (
    DEFAULT_LIMIT,
    FORMATS,
    MAX_LIMIT,
    Catalogue,
    FileFormat,
    Item,
    Selection,
    SelectionError,
    file_format,
    inside,
    parse_selection,
    render_error,
    render_listing,
    select,
)
from radiod.library.library import Library, track_id
from radiod.testing import synchronous_runner

TAGS = {
    "one.mp3": ("Blue Moon", "Alpha Artist", "Night Songs", 200.0),
    "two.mp3": ("Red Sun", "Beta Band", "Day Songs", 100.0),
    "three.mp3": ("Blue Sky", "beta band", "Day Songs", 0.0),
}


def tags(path: str, title: str) -> TrackInfo:
    """
    A tag reader giving the tags in L{TAGS}.
    """
    name, artist, album, duration = TAGS[os.path.basename(path)]
    return TrackInfo(path, name, artist, album, duration)


def item(name: str, title: str = "T", artist: str = "", album: str = "") -> Item:
    """
    A catalogue item for a file called C{name}.
    """
    path = "/music/" + name
    track = TrackInfo(path, title, artist, album, 60.0)
    return Item(track_id(path), track, file_format(path), 480000, "/music")


class FormatTests(SynchronousTestCase):
    """
    L{file_format} names a file's format and media type from its
    extension.
    """

    def test_known(self) -> None:
        """
        Each format radiod plays has its name and media type.
        """
        expected = {
            "a.mp3": ("mp3", "audio/mpeg"),
            "a.FLAC": ("flac", "audio/flac"),
            "a.ogg": ("ogg", "audio/ogg"),
            "a.oga": ("ogg", "audio/ogg"),
            "a.opus": ("opus", "audio/ogg; codecs=opus"),
            "a.wav": ("wav", "audio/wav"),
            "a.aiff": ("aiff", "audio/aiff"),
            "a.aif": ("aiff", "audio/aiff"),
            "a.m4a": ("m4a", "audio/mp4"),
            "a.aac": ("aac", "audio/aac"),
        }
        for name, (format_name, content_type) in expected.items():
            self.assertEqual(file_format(name), FileFormat(format_name, content_type), name)
        self.assertTrue(all(extension.startswith(".") for extension in FORMATS))

    def test_unknown(self) -> None:
        """
        An unknown extension is served as bytes.
        """
        self.assertEqual(file_format("a.xyz"), FileFormat("xyz", "application/octet-stream"))


class InsideTests(SynchronousTestCase):
    """
    L{inside} tells whether a path's name lies under a folder.
    """

    def test_inside(self) -> None:
        self.assertTrue(inside("/music", "/music/a.mp3"))
        self.assertTrue(inside("/music", "/music/x/y/a.mp3"))
        self.assertTrue(inside("/", "/anything"))

    def test_outside(self) -> None:
        self.assertFalse(inside("/music", "/musical/a.mp3"))
        self.assertFalse(inside("/music", "/etc/passwd"))
        self.assertFalse(inside("/music", "relative.mp3"))


class SelectionTests(SynchronousTestCase):
    """
    L{parse_selection} reads a listing query, refusing nonsense in one
    line.
    """

    def test_defaults(self) -> None:
        self.assertEqual(parse_selection({}), Selection())
        self.assertEqual(Selection().limit, DEFAULT_LIMIT)

    def test_values(self) -> None:
        selection = parse_selection(
            {
                "q": ["Blue  moon", "night"],
                "artist": [" Alpha Artist "],
                "album": ["Night Songs"],
                "format": ["mp3,FLAC", "ogg"],
                "offset": ["20"],
                "limit": [str(MAX_LIMIT)],
                "_": ["123"],
            }
        )
        self.assertEqual(
            selection,
            Selection(
                words=("blue", "moon", "night"),
                artist="alpha artist",
                album="night songs",
                formats=frozenset({"mp3", "flac", "ogg"}),
                offset=20,
                limit=MAX_LIMIT,
            ),
        )

    def test_refused(self) -> None:
        """
        Bad numbers, unknown formats and repeated single values are
        refused with a one-line message.
        """
        for query in (
            {"limit": ["0"]},
            {"limit": [str(MAX_LIMIT + 1)]},
            {"limit": ["ten"]},
            {"limit": ["-1"]},
            {"limit": ["1e3"]},
            {"offset": ["-5"]},
            {"offset": ["\u0661"]},
            {"offset": ["9" * 50]},
            {"format": ["mp3,wma"]},
            {"artist": ["a", "b"]},
            {"offset": ["1", "2"]},
        ):
            with self.assertRaises(SelectionError, msg=repr(query)) as caught:
                parse_selection(query)
            self.assertNotIn("\n", str(caught.exception))


class SelectTests(SynchronousTestCase):
    """
    L{select} filters and pages; L{render_listing} writes the page as
    JSON.
    """

    def setUp(self) -> None:
        self.items = [
            item("a.mp3", "Blue Moon", "Alpha Artist", "Night Songs"),
            item("b.flac", "Red Sun", "Beta Band", "Day Songs"),
            item("c.ogg", "Blue Sky", "beta band", "Day Songs"),
            item("d.opus", "Green", "Gamma", ""),
        ]

    def ids(self, selection: Selection) -> list[str]:
        return [found.track.title for found in select(self.items, selection)[1]]

    def test_all(self) -> None:
        total, page = select(self.items, Selection())
        self.assertEqual((total, page), (4, self.items))

    def test_words(self) -> None:
        """
        Every word must appear, in any case, in the title, artist or
        album.
        """
        self.assertEqual(self.ids(parse_selection({"q": ["blue"]})), ["Blue Moon", "Blue Sky"])
        self.assertEqual(self.ids(parse_selection({"q": ["BLUE day"]})), ["Blue Sky"])
        self.assertEqual(self.ids(parse_selection({"q": ["band"]})), ["Red Sun", "Blue Sky"])
        self.assertEqual(self.ids(parse_selection({"q": ["nothing"]})), [])

    def test_artist_album(self) -> None:
        """
        Artist and album match whole, in any case.
        """
        self.assertEqual(
            self.ids(parse_selection({"artist": ["BETA BAND"]})), ["Red Sun", "Blue Sky"]
        )
        self.assertEqual(self.ids(parse_selection({"artist": ["beta"]})), [])
        self.assertEqual(
            self.ids(parse_selection({"album": ["day songs"], "q": ["red"]})), ["Red Sun"]
        )

    def test_format(self) -> None:
        self.assertEqual(self.ids(parse_selection({"format": ["flac,opus"]})), ["Red Sun", "Green"])

    def test_paging(self) -> None:
        """
        Pages are slices of the matching tracks, in order; the total
        counts them all.
        """
        total, page = select(self.items, Selection(offset=1, limit=2))
        self.assertEqual((total, page), (4, self.items[1:3]))
        total, page = select(self.items, Selection(offset=10, limit=2))
        self.assertEqual((total, page), (4, []))
        total, page = select(self.items, Selection(words=("blue",), offset=1, limit=1))
        self.assertEqual((total, page), (2, [self.items[2]]))

    def test_render(self) -> None:
        selection = Selection(offset=1, limit=1)
        total, page = select(self.items, selection)
        document = json.loads(render_listing(total, selection, page))
        identifier = track_id("/music/b.flac")
        self.assertEqual(
            document,
            {
                "total": 4,
                "offset": 1,
                "limit": 1,
                "tracks": [
                    {
                        "id": identifier,
                        "title": "Red Sun",
                        "artist": "Beta Band",
                        "album": "Day Songs",
                        "duration": 60.0,
                        "bitrate": 64,
                        "format": "flac",
                        "size": 480000,
                        "url": "/files/" + identifier,
                    }
                ],
            },
        )

    def test_render_error(self) -> None:
        self.assertEqual(render_error('bad "x"'), b'{"error": "bad \\"x\\""}\n')


class CatalogueTests(SynchronousTestCase):
    """
    L{Catalogue} is the union of the mounts' libraries, each file once,
    under its library's folder, rebuilt after rescans.
    """

    def setUp(self) -> None:
        self.folder = os.path.abspath(self.mktemp())
        os.makedirs(self.folder)
        for name in TAGS:
            with open(os.path.join(self.folder, name), "wb") as f:
                f.write(b"x" * 1000)
        self.library = Library(self.folder, synchronous_runner, read=tags)
        self.successResultOf(self.library.scan())
        self.libraries = [self.library]
        self.catalogue = Catalogue(lambda: self.libraries, synchronous_runner)

    def test_items(self) -> None:
        """
        The items are the library's files in its order, with their sizes
        and average bitrates.
        """
        items = self.successResultOf(self.catalogue.items())
        self.assertEqual([i.track.title for i in items], ["Blue Moon", "Blue Sky", "Red Sun"])
        self.assertEqual([i.size for i in items], [1000, 1000, 1000])
        self.assertEqual([i.bitrate for i in items], [0, 0, 0])
        self.assertEqual(items[0].id, track_id(os.path.join(self.folder, "one.mp3")))
        self.assertEqual({i.root for i in items}, {self.folder})

    def test_cached_until_rescan(self) -> None:
        """
        The union is rebuilt only when a library was rescanned.
        """
        first = self.successResultOf(self.catalogue.items())
        self.assertIs(self.successResultOf(self.catalogue.items()), first)
        os.remove(os.path.join(self.folder, "two.mp3"))
        self.successResultOf(self.library.scan())
        second = self.successResultOf(self.catalogue.items())
        self.assertEqual([i.track.title for i in second], ["Blue Moon", "Blue Sky"])

    def test_union(self) -> None:
        """
        Two mounts playing the same folder list each file once; a second
        folder's files follow the first's.
        """
        other = os.path.abspath(self.mktemp())
        os.makedirs(other)
        with open(os.path.join(other, "two.mp3"), "wb") as f:
            f.write(b"y" * 10)
        second = Library(other, synchronous_runner, read=tags)
        self.successResultOf(second.scan())
        same = Library(self.folder, synchronous_runner, read=tags)
        self.successResultOf(same.scan())
        self.libraries = [self.library, same, second]
        items = self.successResultOf(self.catalogue.items())
        self.assertEqual(len(items), 4)
        self.assertEqual(items[3].root, other)
        self.assertEqual(items[3].size, 10)
        self.assertEqual(len({i.id for i in items}), 4)

    def test_symlink_out_not_listed(self) -> None:
        """
        A file that is a symbolic link to somewhere outside the library's
        folder is not listed; one to a file inside it is.
        """
        outside = os.path.abspath(self.mktemp())
        os.makedirs(outside)
        secret = os.path.join(outside, "secret.mp3")
        with open(secret, "wb") as f:
            f.write(b"secret")
        os.symlink(secret, os.path.join(self.folder, "one.mp3.link.mp3"))
        os.symlink(os.path.join(self.folder, "two.mp3"), os.path.join(self.folder, "alias.mp3"))

        def read(path: str, title: str) -> TrackInfo:
            return TrackInfo(path, os.path.basename(path))

        library = Library(self.folder, synchronous_runner, read=read)
        self.successResultOf(library.scan())
        self.libraries = [library]
        names = [i.track.title for i in self.successResultOf(self.catalogue.items())]
        self.assertEqual(names, ["alias.mp3", "one.mp3", "three.mp3", "two.mp3"])
        linked = library.by_id(track_id(os.path.join(self.folder, "one.mp3.link.mp3")))
        self.assertIsNotNone(linked)

    def test_playlist_entries_elsewhere_not_listed(self) -> None:
        """
        A playlist's entries outside the playlist's folder are played but
        not offered.
        """
        lists = os.path.abspath(self.mktemp())
        os.makedirs(lists)
        with open(os.path.join(lists, "near.mp3"), "wb") as f:
            f.write(b"z")
        playlist = os.path.join(lists, "list.m3u")
        with open(playlist, "w") as text:
            text.write(f"{os.path.join(self.folder, 'one.mp3')}\nnear.mp3\n")

        def read(path: str, title: str) -> TrackInfo:
            return TrackInfo(path, os.path.basename(path))

        library = Library(playlist, synchronous_runner, read=read)
        self.successResultOf(library.scan())
        self.assertEqual(len(library.tracks), 2)
        self.libraries = [library]
        items = self.successResultOf(self.catalogue.items())
        self.assertEqual([i.track.title for i in items], ["near.mp3"])
        self.assertIsNone(self.catalogue.get(track_id(os.path.join(self.folder, "one.mp3"))))

    def test_get(self) -> None:
        """
        A file is found by its id alone: paths, partial ids and other
        strings find nothing.
        """
        path = os.path.join(self.folder, "two.mp3")
        found = self.catalogue.get(track_id(path))
        assert found is not None
        self.assertEqual(found.track.title, "Red Sun")
        self.assertEqual(found.size, 1000)
        for reference in (
            path,
            "two.mp3",
            track_id(path)[:15],
            track_id(path).upper(),
            track_id(path) + "/",
            "",
            "../" + track_id(path),
        ):
            self.assertIsNone(self.catalogue.get(reference), reference)
