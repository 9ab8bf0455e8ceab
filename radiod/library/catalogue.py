# -*- test-case-name: tests.library.test_catalogue -*-
"""
The catalogue: the station's music library as clients browse and fetch
it, through C{GET /library} and C{GET /files/<id>} (L{radiod.web.files}).

It is the union of the libraries of every mount that plays music, each
file once, named by its L{track_id}.  Only files under their library's
folder are offered (a playlist's entries elsewhere are played but not
served).  Selecting a page of it from a request's query and rendering it
as JSON are pure functions; L{Catalogue} keeps the union up to date as the
libraries are rescanned.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from twisted.internet.defer import Deferred, succeed
from twisted.python.failure import Failure

from radiod.audio.track import TrackInfo
from radiod.interfaces import Runner
from radiod.library.library import Library, track_id

__all__ = [
    "DEFAULT_LIMIT",
    "FILES_PREFIX",
    "FORMATS",
    "LIBRARY_PATH",
    "MAX_LIMIT",
    "Catalogue",
    "FileFormat",
    "Item",
    "Selection",
    "SelectionError",
    "file_format",
    "inside",
    "parse_selection",
    "render_error",
    "render_listing",
    "select",
]

LIBRARY_PATH = "/library"
"""
Where the catalogue is listed.
"""

FILES_PREFIX = "/files/"
"""
Where each file is served, followed by its id.
"""

DEFAULT_LIMIT = 100
"""
Tracks on one page of the listing when the request names no C{limit}.
"""

MAX_LIMIT = 1000
"""
The most tracks one page of the listing may hold.
"""


@dataclass(frozen=True, slots=True)
class FileFormat:
    """
    What kind of audio file a file is.

    @ivar name: the format's short name in the listing (C{mp3}, C{flac},
        C{ogg}, C{opus}, C{wav}, C{aiff}, C{m4a}, C{aac}).
    @ivar content_type: the media type the file is served with.
    """

    name: str
    content_type: str


_MP3 = FileFormat("mp3", "audio/mpeg")
_FLAC = FileFormat("flac", "audio/flac")
_OGG = FileFormat("ogg", "audio/ogg")
_OPUS = FileFormat("opus", "audio/ogg; codecs=opus")
_WAV = FileFormat("wav", "audio/wav")
_AIFF = FileFormat("aiff", "audio/aiff")
_M4A = FileFormat("m4a", "audio/mp4")
_AAC = FileFormat("aac", "audio/aac")

FORMATS: Mapping[str, FileFormat] = {
    ".mp3": _MP3,
    ".flac": _FLAC,
    ".ogg": _OGG,
    ".oga": _OGG,
    ".opus": _OPUS,
    ".wav": _WAV,
    ".aif": _AIFF,
    ".aiff": _AIFF,
    ".aifc": _AIFF,
    ".m4a": _M4A,
    ".m4b": _M4A,
    ".mp4": _M4A,
    ".aac": _AAC,
}
"""
The formats of audio files, by lower-case file extension.
"""

_FORMAT_NAMES = tuple(dict.fromkeys(f.name for f in FORMATS.values()))


def file_format(path: str) -> FileFormat:
    """
    The format of a file, from its extension; an unknown extension gives
    a format named after it, served as C{application/octet-stream}.
    """
    extension = os.path.splitext(path)[1].lower()
    known = FORMATS.get(extension)
    if known is not None:
        return known
    return FileFormat(extension[1:], "application/octet-stream")


def inside(root: str, path: str) -> bool:
    """
    Whether C{path} names something under the folder C{root} (both
    absolute), judged from the names alone.
    """
    try:
        return os.path.commonpath([root, path]) == root
    except ValueError:
        return False


@dataclass(frozen=True, slots=True)
class Item:
    """
    One file of the catalogue.

    @ivar id: its L{track_id}.
    @ivar track: its description.
    @ivar format: its format.
    @ivar size: its size in bytes when its library was scanned.
    @ivar root: the folder of the library it belongs to; it is served
        only if it really lies under this folder.
    @ivar text: its title, artist and album in one case-folded string,
        for searching.
    """

    id: str
    track: TrackInfo
    format: FileFormat
    size: int
    root: str
    text: str = field(default="", repr=False, compare=False)

    def __post_init__(self) -> None:
        if not self.text:
            track = self.track
            text = f"{track.title}\n{track.artist}\n{track.album}".casefold()
            object.__setattr__(self, "text", text)

    @property
    def bitrate(self) -> int:
        """
        The average bitrate in kbit/s, from the size and the playing time
        (tags and cover art included), or 0 when the time is unknown.
        """
        duration = self.track.duration
        if duration <= 0:
            return 0
        return round(self.size * 8 / duration / 1000)

    def describe(self) -> dict[str, Any]:
        """
        The item as the listing shows it.
        """
        track = self.track
        return {
            "id": self.id,
            "title": track.title,
            "artist": track.artist,
            "album": track.album,
            "duration": round(track.duration, 3),
            "bitrate": self.bitrate,
            "format": self.format.name,
            "size": self.size,
            "url": FILES_PREFIX + self.id,
        }


def _size(library: Library, track: TrackInfo) -> int:
    """
    A track's size in bytes as its library's last scan found it.
    """
    entry = library.entry(track.path)
    return entry[1] if entry is not None else 0


def _item(library: Library, track: TrackInfo, root: str) -> Item | None:
    """
    The catalogue's item for one of a library's tracks, or C{None} when
    its name lies outside the library's folder.
    """
    if not inside(root, os.path.abspath(track.path)):
        return None
    return Item(track_id(track.path), track, file_format(track.path), _size(library, track), root)


def _same(
    sources: tuple[tuple[Library, list[TrackInfo]], ...],
    built: tuple[tuple[Library, list[TrackInfo]], ...],
) -> bool:
    """
    Whether the libraries and their scans are those the catalogue was
    built from.
    """
    return len(sources) == len(built) and all(
        library is built_library and tracks is built_tracks
        for (library, tracks), (built_library, built_tracks) in zip(sources, built, strict=True)
    )


def _real_items(candidates: Iterable[tuple[TrackInfo, str, int]]) -> list[Item]:
    """
    The catalogue's items for these tracks (with their library's folder
    and size), in order, each file once, leaving out those whose real
    path is not under their library's real folder.  Blocks on file
    system look-ups: run it in a thread.
    """
    items: list[Item] = []
    seen: set[str] = set()
    real_roots: dict[str, str] = {}
    for track, root, size in candidates:
        identifier = track_id(track.path)
        if identifier in seen:
            continue
        real_root = real_roots.get(root)
        if real_root is None:
            real_root = real_roots[root] = os.path.realpath(root)
        if not inside(root, os.path.abspath(track.path)):
            continue
        if not inside(real_root, os.path.realpath(track.path)):
            continue
        seen.add(identifier)
        items.append(Item(identifier, track, file_format(track.path), size, root))
    return items


class Catalogue:
    """
    The union of the current libraries, kept up to date: rebuilt, in a
    thread, when a rescan replaced a library's tracks or the libraries
    changed.  The rebuild resolves each file's symbolic links and leaves
    out the files that really lie outside their library's folder.
    """

    def __init__(self, libraries: Callable[[], Iterable[Library]], runner: Runner) -> None:
        """
        @param libraries: gives the libraries of the mounts playing music
            now, in mount order.
        @param runner: runs the rebuild off the reactor thread.
        """
        self._libraries = libraries
        self._runner = runner
        self._built: tuple[tuple[Library, list[TrackInfo]], ...] | None = None
        self._items: list[Item] = []
        self._waiting: list[Deferred[list[Item]]] = []

    def items(self) -> Deferred[list[Item]]:
        """
        Every file, in a stable order: libraries in mount order, each in
        its own order (sorted folder order, or playlist order), each file
        once.

        @return: a L{Deferred} firing with the items (at once when
            nothing changed since the last rebuild).
        """
        sources = tuple((library, library.tracks) for library in self._libraries())
        if self._built is not None and _same(sources, self._built):
            return succeed(self._items)
        waiter: Deferred[list[Item]] = Deferred()
        self._waiting.append(waiter)
        if len(self._waiting) == 1:
            candidates = [
                (track, library.root, _size(library, track))
                for library, tracks in sources
                for track in tracks
            ]
            rebuilt = self._runner(lambda: _real_items(candidates))
            rebuilt.addBoth(self._rebuilt, sources)
        return waiter

    def _rebuilt(
        self,
        result: list[Item] | Failure,
        sources: tuple[tuple[Library, list[TrackInfo]], ...],
    ) -> None:
        waiting, self._waiting = self._waiting, []
        if isinstance(result, Failure):
            for waiter in waiting:
                waiter.errback(result)
            return
        self._items = result
        self._built = sources
        for waiter in waiting:
            waiter.callback(result)

    def get(self, identifier: str) -> Item | None:
        """
        The file with this id, looked up in the last scan of each library
        (L{Library.by_id}): never turned into a path.

        @return: the item, or C{None} when no library has such a file
            under its folder.
        """
        for library in self._libraries():
            track = library.by_id(identifier)
            if track is not None:
                item = _item(library, track, library.root)
                if item is not None:
                    return item
        return None


class SelectionError(ValueError):
    """
    A listing request's query is not understood; the message is one line
    for the client.
    """


@dataclass(frozen=True, slots=True)
class Selection:
    """
    Which tracks a listing request asks for.

    @ivar words: each must appear (in any case) in the title, artist or
        album.
    @ivar artist: the artist, in any case, or C{None} for any.
    @ivar album: the album, in any case, or C{None} for any.
    @ivar formats: the formats wanted, or empty for any.
    @ivar offset: how many matching tracks to skip.
    @ivar limit: the most tracks to return.
    """

    words: tuple[str, ...] = ()
    artist: str | None = None
    album: str | None = None
    formats: frozenset[str] = frozenset()
    offset: int = 0
    limit: int = DEFAULT_LIMIT

    def matches(self, item: Item) -> bool:
        """
        Whether C{item} is one of the tracks asked for.
        """
        track = item.track
        if self.formats and item.format.name not in self.formats:
            return False
        if self.artist is not None and track.artist.casefold() != self.artist:
            return False
        if self.album is not None and track.album.casefold() != self.album:
            return False
        return all(word in item.text for word in self.words)


def _single(query: Mapping[str, list[str]], key: str) -> str | None:
    values = query.get(key)
    if not values:
        return None
    if len(values) > 1:
        raise SelectionError(f"{key} given more than once")
    return values[0]


def _count(query: Mapping[str, list[str]], key: str, default: int, low: int, high: int) -> int:
    text = _single(query, key)
    if text is None:
        return default
    text = text.strip()
    if not (text.isascii() and text.isdigit()) or len(text) > 9 or not low <= int(text) <= high:
        raise SelectionError(f"{key} must be a whole number from {low} to {high}, not {text!r}")
    return int(text)


def parse_selection(query: Mapping[str, list[str]]) -> Selection:
    """
    Read a listing request's query: C{q} (words to find in the title,
    artist or album; may repeat), C{artist} and C{album} (exact, in any
    case), C{format} (names, comma-separated; may repeat), C{offset} and
    C{limit} (at most L{MAX_LIMIT}).  Other keys are ignored.

    @raise SelectionError: for a value that makes no sense.
    """
    words = tuple(word.casefold() for text in query.get("q", ()) for word in text.split())
    formats: set[str] = set()
    for text in query.get("format", ()):
        for name in text.split(","):
            name = name.strip().lower()
            if not name:
                continue
            if name not in _FORMAT_NAMES:
                known = ", ".join(_FORMAT_NAMES)
                raise SelectionError(f"unknown format {name!r} (known: {known})")
            formats.add(name)
    artist = _single(query, "artist")
    album = _single(query, "album")
    return Selection(
        words=words,
        artist=artist.strip().casefold() if artist is not None else None,
        album=album.strip().casefold() if album is not None else None,
        formats=frozenset(formats),
        offset=_count(query, "offset", 0, 0, 10**9),
        limit=_count(query, "limit", DEFAULT_LIMIT, 1, MAX_LIMIT),
    )


def select(items: Iterable[Item], selection: Selection) -> tuple[int, list[Item]]:
    """
    The page of matching items a selection asks for.

    @return: how many items match in all, and the page of them.
    """
    matching = [item for item in items if selection.matches(item)]
    end = selection.offset + selection.limit
    return len(matching), matching[selection.offset : end]


def render_listing(total: int, selection: Selection, page: Sequence[Item]) -> bytes:
    """
    The listing as JSON: C{total} (matching tracks in all), C{offset},
    C{limit} and C{tracks} (the page, each as L{Item.describe} gives it).
    """
    document = {
        "total": total,
        "offset": selection.offset,
        "limit": selection.limit,
        "tracks": [item.describe() for item in page],
    }
    text = json.dumps(document, ensure_ascii=False, separators=(",", ":"))
    return text.encode("utf-8", "replace")


def render_error(message: str) -> bytes:
    """
    A one-line JSON error: C{{"error": message}}.
    """
    return json.dumps({"error": message}).encode("ascii") + b"\n"
