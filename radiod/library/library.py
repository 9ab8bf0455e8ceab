# -*- test-case-name: tests.library.test_library -*-
"""
The music library: which files a station plays, in which order, and what
they are called.

A library's location is a folder, walked recursively in sorted order, or a
playlist file (C{.m3u}, C{.m3u8}, C{.pls}) whose local entries are played
in the playlist's order.  L{scan_location} does the blocking work and
reuses what it already knows about files that have not changed;
L{Library} runs it in a thread through a L{Runner} and reports what each
rescan added, removed or replaced.

A library also finds its tracks' cover art (see L{radiod.library.art}): a
file's own picture, which its tags give, else the folder image next to
it.
"""

from __future__ import annotations

import hashlib
import os
import re
import stat
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, replace

from twisted.internet.defer import Deferred, DeferredLock

from radiod.audio.track import TrackInfo
from radiod.interfaces import Runner
from radiod.library.art import FolderArt, FolderImage
from radiod.library.playlist import parse_playlist
from radiod.library.tags import read_track_info

__all__ = [
    "PLAYABLE_EXTENSIONS",
    "PLAYLIST_EXTENSIONS",
    "Entry",
    "Library",
    "LibraryChange",
    "LibraryError",
    "TagReader",
    "is_playable",
    "scan_location",
    "track_id",
]

PLAYABLE_EXTENSIONS = (
    ".mp3",
    ".flac",
    ".ogg",
    ".oga",
    ".opus",
    ".wav",
    ".aif",
    ".aiff",
    ".m4a",
    ".aac",
)
"""
The file name extensions played: MP3 as it is (when in the mount's
format), the others converted (see L{radiod.ffmpeg.transcoder}).
"""
PLAYLIST_EXTENSIONS = (".m3u", ".m3u8", ".pls")

Entry = tuple[float, int, TrackInfo]
"""A scanned file: its modification time, its size and its description."""

TagReader = Callable[[str, str], TrackInfo]
"""Describes a file from its path and a display title (see L{read_track_info})."""


class LibraryError(Exception):
    """
    The library cannot be used: its location is missing or unreadable, or
    holds nothing playable.  The message is one line, fit for a log or a
    startup error.
    """


def is_playable(name: str) -> bool:
    """
    Whether a file name has an extension radiod can play.
    """
    return name.lower().endswith(PLAYABLE_EXTENSIONS)


_TRACK_ID = re.compile(r"[0-9a-f]{16}")


def track_id(path: str) -> str:
    """
    A short id for a library file, the same for the same path on every
    scan and every start.

    @param path: the file's absolute path, as the library lists it.
    @return: 16 hexadecimal digits.
    """
    return hashlib.blake2b(os.fsencode(path), digest_size=8).hexdigest()


def _is_playlist(name: str) -> bool:
    """
    Whether a file name has a playlist extension.
    """
    return name.lower().endswith(PLAYLIST_EXTENSIONS)


def _reason(error: OSError) -> str:
    """
    The human part of an operating system error, such as C{"Permission denied"}.
    """
    return error.strerror or str(error)


def _sort_key(entry: os.DirEntry[str]) -> tuple[str, str]:
    """
    Sort folder entries case-insensitively, ties broken by exact name.
    """
    return (entry.name.casefold(), entry.name)


def _walk(folder: str, seen: set[tuple[int, int]]) -> Iterator[tuple[str, os.stat_result]]:
    """
    Yield the playable regular files under C{folder} with their status,
    depth first in sorted order, skipping hidden names, unreadable
    subfolders and symbolic-link loops.
    """
    with os.scandir(folder) as scan:
        entries = sorted(scan, key=_sort_key)
    for entry in entries:
        if entry.name.startswith("."):
            continue
        try:
            status = entry.stat()
        except OSError:
            continue
        if stat.S_ISDIR(status.st_mode):
            identity = (status.st_dev, status.st_ino)
            if identity in seen:
                continue
            seen.add(identity)
            try:
                yield from _walk(entry.path, seen)
            except OSError:
                continue
        elif stat.S_ISREG(status.st_mode) and is_playable(entry.name):
            yield entry.path, status


def _folder_files(folder: str) -> Iterator[tuple[str, os.stat_result, str]]:
    """
    The playable files of a folder, with no display titles.

    @raise LibraryError: if the folder cannot be listed.
    """
    try:
        top = os.stat(folder)
        files = list(_walk(folder, {(top.st_dev, top.st_ino)}))
    except OSError as e:
        raise LibraryError(f"cannot read music folder {folder}: {_reason(e)}") from e
    for path, status in files:
        yield path, status, ""


def _playlist_files(playlist: str) -> Iterator[tuple[str, os.stat_result, str]]:
    """
    The local, existing, playable entries of a playlist file, with the
    playlist's titles for them.

    @raise LibraryError: if the playlist cannot be read.
    """
    try:
        with open(playlist, "rb") as f:
            data = f.read()
    except OSError as e:
        raise LibraryError(f"cannot read playlist {playlist}: {_reason(e)}") from e
    for item in parse_playlist(playlist, data, os.path.dirname(playlist)):
        if item.remote or not is_playable(item.location):
            continue
        try:
            status = os.stat(item.location)
        except (OSError, ValueError):
            continue
        if stat.S_ISREG(status.st_mode):
            yield item.location, status, item.title


def scan_location(
    location: str,
    known: Mapping[str, Entry],
    read: TagReader = read_track_info,
    folders: FolderArt | None = None,
) -> dict[str, Entry]:
    """
    List the playable files of a folder or playlist file, with their tags.

    Blocks on file I/O.  Files are keyed by absolute path and listed in
    play order (sorted folder order, or playlist order; a file a playlist
    names twice is listed once).  A file whose modification time and size
    match its entry in C{known} keeps that entry's L{TrackInfo} (unless
    its folder image changed); any other file's tags are read with
    C{read}.

    @param location: a folder, or a C{.m3u}, C{.m3u8} or C{.pls} file.
    @param known: the result of the previous scan, or an empty mapping.
    @param read: reads a file's description; L{read_track_info} by default.
    @param folders: the folder images of this scan: a file whose
        description has no art gets the art of the folder image next to
        it.  Without it, folder images are not looked for.
    @return: the files found, in order, as C{(mtime, size, info)}.
    @raise LibraryError: if the location does not exist, cannot be read,
        or holds no playable file.
    """
    location = os.path.abspath(location)
    kind = "playlist" if _is_playlist(location) else "music folder"
    try:
        mode = os.stat(location).st_mode
    except FileNotFoundError:
        raise LibraryError(f"{kind} {location} does not exist") from None
    except OSError as e:
        raise LibraryError(f"cannot read {kind} {location}: {_reason(e)}") from e
    if stat.S_ISDIR(mode):
        files = _folder_files(location)
    elif kind == "playlist":
        files = _playlist_files(location)
    else:
        extensions = ", ".join(PLAYLIST_EXTENSIONS)
        raise LibraryError(f"{location} is not a folder or a playlist file ({extensions})")
    found: dict[str, Entry] = {}
    for path, status, title in files:
        if path in found:
            continue
        folder = os.path.dirname(path)
        previous = known.get(path)
        if (
            previous is not None
            and previous[:2] == (status.st_mtime, status.st_size)
            and (folders is None or not folders.changed(folder))
        ):
            found[path] = previous
            continue
        info = read(path, title)
        if folders is not None and not info.art:
            art = folders.image(folder).art
            if art:
                info = replace(info, art=art)
        found[path] = (status.st_mtime, status.st_size, info)
    if not found:
        raise LibraryError(f"no playable audio files in {location}")
    return found


@dataclass(frozen=True, slots=True)
class LibraryChange:
    """
    What one scan changed, as sorted tuples of absolute paths.

    @ivar added: files new to the library.
    @ivar removed: files no longer in it.
    @ivar changed: files still there whose modification time or size
        changed (replaced or rewritten), whose tags were read again.
    """

    added: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()
    changed: tuple[str, ...] = ()

    @property
    def empty(self) -> bool:
        """
        Whether the scan found nothing new.
        """
        return not (self.added or self.removed or self.changed)


class Library:
    """
    The files a station plays, kept up to date by rescanning.

    @ivar location: the folder or playlist file the library comes from.
    @ivar tracks: the files' descriptions in play order; empty until the
        first successful scan.
    """

    def __init__(self, location: str, runner: Runner, read: TagReader = read_track_info) -> None:
        """
        @param location: a folder, or a C{.m3u}, C{.m3u8} or C{.pls} file.
        @param runner: runs the blocking scan away from the reactor thread.
        @param read: reads a file's description (see L{scan_location}).
        """
        self.location = location
        self.tracks: list[TrackInfo] = []
        self._runner = runner
        self._read = read
        self._entries: dict[str, Entry] = {}
        self._folder_images: dict[str, FolderImage] = {}
        self._lock = DeferredLock()
        self._index: dict[str, TrackInfo] | None = None
        self._art_index: dict[str, list[str]] | None = None

    @property
    def root(self) -> str:
        """
        The folder relative track paths are taken from: the location, or
        for a playlist file the folder it is in.
        """
        location = os.path.abspath(self.location)
        return os.path.dirname(location) if _is_playlist(location) else location

    def relative(self, path: str) -> str:
        """
        A track's path as the admin interface shows it: relative to
        L{root} when it is inside it, else absolute.
        """
        root = self.root
        if os.path.commonpath([root, path]) == root:
            return os.path.relpath(path, root)
        return path

    def find(self, reference: str) -> TrackInfo | None:
        """
        A track of the library by its L{track_id}, or by its path (relative
        to L{root}, or absolute).  Only files the last scan listed are
        found; nothing is looked up on disk, so no other file can be named.

        @param reference: an id or a path.
        @return: the track, or C{None} when the library has no such file.
        """
        if not reference:
            return None
        index = self._lookup()
        found = index.get(reference)
        if found is None:
            found = index.get(os.path.normpath(os.path.join(self.root, reference)))
        return found

    def by_id(self, identifier: str) -> TrackInfo | None:
        """
        A track of the last scan by its L{track_id} alone.  Unlike
        L{find}, nothing but an id is tried, so a request can never name a
        file by its path.

        @param identifier: the id, as L{track_id} makes it.
        @return: the track, or C{None} when no file of the last scan has
            that id.
        """
        if _TRACK_ID.fullmatch(identifier) is None:
            return None
        return self._lookup().get(identifier)

    def entry(self, path: str) -> Entry | None:
        """
        What the last scan found for a file: its modification time, size
        and description, or C{None} when it did not list C{path}.
        """
        return self._entries.get(path)

    def art_paths(self, art: str) -> list[str]:
        """
        The files of the last scan whose cover art is C{art}, in play
        order: where that picture can be read from.

        @param art: an art id.
        @return: their paths; empty when no file of the last scan has
            that art.
        """
        index = self._art_index
        if index is None:
            index = {}
            for track in self.tracks:
                if track.art:
                    index.setdefault(track.art, []).append(track.path)
            self._art_index = index
        return list(index.get(art, ()))

    def _lookup(self) -> dict[str, TrackInfo]:
        """
        The last scan's tracks by id and by normalised absolute path.
        """
        index = self._index
        if index is None:
            index = {}
            for track in self.tracks:
                index[track_id(track.path)] = track
                index[os.path.normpath(track.path)] = track
            self._index = index
        return index

    def scan(self) -> Deferred[LibraryChange]:
        """
        Scan the location again and update L{tracks}.

        Scans never overlap: one asked for while another runs starts after
        it.  A failed scan leaves L{tracks} as they were.

        @return: a L{Deferred} firing with what changed, or failing with
            L{LibraryError}.
        """
        return self._lock.run(self._scan)

    def _scan(self) -> Deferred[LibraryChange]:
        known = dict(self._entries)
        folders = FolderArt(self._folder_images)
        d = self._runner(lambda: scan_location(self.location, known, self._read, folders))
        return d.addCallback(self._apply, folders)

    def _apply(self, entries: dict[str, Entry], folders: FolderArt | None = None) -> LibraryChange:
        """
        Adopt a scan's result and describe how it differs from the last.

        @param entries: the files the scan found.
        @param folders: the folder images it found, if it looked for them.
        """
        old = self._entries
        change = LibraryChange(
            added=tuple(sorted(entries.keys() - old.keys())),
            removed=tuple(sorted(old.keys() - entries.keys())),
            changed=tuple(
                sorted(
                    path
                    for path in entries.keys() & old.keys()
                    if entries[path][:2] != old[path][:2]
                )
            ),
        )
        self._entries = entries
        if folders is not None:
            self._folder_images = folders.found
        self.tracks = [info for _, _, info in entries.values()]
        self._index = None
        self._art_index = None
        return change
