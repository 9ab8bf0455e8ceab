# mypy: disallow-untyped-calls=False
"""
Tests for L{radiod.library.library}.
"""

from __future__ import annotations

import os
import pickle
import pwd
import shutil
import tempfile
from collections.abc import Callable
from functools import partial
from typing import Any, TypeVar

from twisted.trial.unittest import FailTest, SynchronousTestCase

from radiod.audio.track import TrackInfo
from radiod.library.library import (
    Entry,
    Library,
    LibraryChange,
    LibraryError,
    is_playable,
    scan_location,
    track_id,
)
from radiod.library.tags import read_track_info
from radiod.testing import LaterRunner, synchronous_runner
from tests.library.test_tags import tag_id3, write_mp3
from tests.support.tools import require

_T = TypeVar("_T")


class CountingReader:
    """
    Reads tags with L{read_track_info}, recording which files it read.

    @ivar reads: the paths read, in order.
    """

    def __init__(self) -> None:
        self.reads: list[str] = []

    def __call__(self, path: str, display_title: str) -> TrackInfo:
        self.reads.append(path)
        return read_track_info(path, display_title)


class FolderMixin:
    """
    Builds music folders in a temporary directory.
    """

    mktemp: Callable[[], str]

    def folder(self, *names: str, under: str | None = None) -> str:
        """
        Make a folder holding MP3 files (names ending C{.mp3}, any case),
        other files, and subfolders (names ending C{/}); paths use C{/}.

        @param under: a directory to make the folder in, as C{music};
            by default, a new path in the test's temporary directory.

        @return: the folder's absolute path.
        """
        top = os.path.abspath(self.mktemp() if under is None else os.path.join(under, "music"))
        os.makedirs(top)
        for name in names:
            path = os.path.join(top, name)
            if name.endswith("/"):
                os.makedirs(path, exist_ok=True)
                continue
            os.makedirs(os.path.dirname(path), exist_ok=True)
            if is_playable(name):
                write_mp3(path)
            else:
                with open(path, "wb") as f:
                    f.write(b"not audio")
        return top


def as_nobody(function: Callable[..., _T], *args: Any) -> _T:
    """
    Call C{function(*args)} in a child process running as the unprivileged
    user C{nobody}, with its group and no other: file permissions do not
    apply to root.

    The child is forked, not started afresh, so it needs no access to the
    Python installation (which may be in root's home), only to the files
    C{function} uses.

    @return: what the call returned, pickled by the child.
    @raise Exception: what the call raised, pickled by the child.
    @raise FailTest: if the child could not report either.
    """
    users = {user.pw_name: user for user in pwd.getpwall()}
    require("nobody" in users, "there is no user nobody to run as")
    nobody = users["nobody"]
    readable, writable = os.pipe()
    pid = os.fork()
    if pid == 0:
        status = 1
        try:
            os.close(readable)
            os.setgroups([])
            os.setgid(nobody.pw_gid)
            os.setuid(nobody.pw_uid)
            outcome: tuple[bool, object]
            try:
                outcome = (True, function(*args))
            except Exception as e:
                outcome = (False, e)
            with os.fdopen(writable, "wb") as pipe:
                pickle.dump(outcome, pipe)
            status = 0
        finally:
            os._exit(status)
    os.close(writable)
    with os.fdopen(readable, "rb") as pipe:
        report = pipe.read()
    code = os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])
    if code != 0 or not report:
        raise FailTest(f"the child process running as nobody exited with {code}, reporting nothing")
    returned, value = pickle.loads(report)
    if not returned:
        assert isinstance(value, Exception)
        raise value
    return value  # type: ignore[no-any-return]


def relative(top: str, paths: Any) -> list[str]:
    """
    The given absolute paths relative to C{top}, with C{/} separators.
    """
    return [os.path.relpath(path, top).replace(os.sep, "/") for path in paths]


class IsPlayableTests(SynchronousTestCase):
    """
    Tests for L{is_playable}.
    """

    def test_mp3(self) -> None:
        """
        MP3 files are playable whatever the case of the extension; other
        names are not.
        """
        self.assertEqual(
            [is_playable(n) for n in ["a.mp3", "B.MP3", "c.Mp3", "d.mid", "mp3", "e.mp3.txt"]],
            [True, True, True, False, False, False],
        )

    def test_other_formats(self) -> None:
        """
        FLAC, Ogg Vorbis, Opus, WAV, AIFF and AAC (raw or in M4A) files are
        playable too, whatever the case of the extension.
        """
        names = ["a.flac", "b.OGG", "c.oga", "d.opus", "e.wav", "f.aif", "g.AIFF", "h.m4a"]
        self.assertTrue(all(is_playable(name) for name in [*names, "i.aac"]))
        self.assertFalse(any(is_playable(name) for name in ["j.mid", "k.flac.part", "l.m4v"]))


class ScanFolderTests(FolderMixin, SynchronousTestCase):
    """
    Tests for L{scan_location} on folders.
    """

    def test_recursive_sorted(self) -> None:
        """
        A folder is walked depth first in sorted order (case-insensitive),
        keeping MP3 files of any extension case and nothing else, keyed by
        absolute path.
        """
        top = self.folder(
            "b.mp3", "A.MP3", "c/z.mp3", "c/d/y.mp3", "C2/x.mp3", "cover.jpg", "notes.txt"
        )
        found = scan_location(top, {})
        self.assertEqual(
            relative(top, found), ["A.MP3", "b.mp3", "c/d/y.mp3", "c/z.mp3", "C2/x.mp3"]
        )
        self.assertTrue(all(os.path.isabs(path) for path in found))

    def test_entry_values(self) -> None:
        """
        Each file maps to its modification time, size and description.
        """
        top = self.folder("Band - Song.mp3")
        path = os.path.join(top, "Band - Song.mp3")
        status = os.stat(path)
        [(mtime, size, info)] = scan_location(top, {}).values()
        self.assertEqual((mtime, size), (status.st_mtime, status.st_size))
        self.assertEqual((info.path, info.title, info.artist), (path, "Song", "Band"))

    def test_hidden_skipped(self) -> None:
        """
        Hidden files and everything in hidden folders are skipped.
        """
        top = self.folder("a.mp3", ".hidden.mp3", ".trash/b.mp3", "sub/.c.mp3", "sub/d.mp3")
        self.assertEqual(relative(top, scan_location(top, {})), ["a.mp3", "sub/d.mp3"])

    def test_relative_location(self) -> None:
        """
        A relative location still gives absolute paths.
        """
        top = self.folder("a.mp3")
        self.patch(os, "getcwd", lambda: os.path.dirname(top))
        found = scan_location(os.path.basename(top), {})
        self.assertEqual(list(found), [os.path.join(top, "a.mp3")])

    def test_symlinks(self) -> None:
        """
        Links to files and folders are followed, but a link back up the
        tree does not make the walk loop.
        """
        top = self.folder("a.mp3", "sub/b.mp3")
        os.symlink(os.path.join(top, "a.mp3"), os.path.join(top, "link.mp3"))
        os.symlink(top, os.path.join(top, "sub", "loop"))
        os.symlink(os.path.join(top, "gone.mp3"), os.path.join(top, "dangling.mp3"))
        self.assertEqual(relative(top, scan_location(top, {})), ["a.mp3", "link.mp3", "sub/b.mp3"])

    def test_folder_named_mp3(self) -> None:
        """
        A folder whose name ends in C{.mp3} is walked, not played.
        """
        top = self.folder("album.mp3/a.mp3")
        self.assertEqual(relative(top, scan_location(top, {})), ["album.mp3/a.mp3"])

    def test_tags_cached(self) -> None:
        """
        Tags are read once per file; a rescan with the previous result
        reuses them for files whose modification time and size are
        unchanged, and reads them again for files where either changed.
        """
        top = self.folder("a.mp3", "b.mp3", "c.mp3")
        reader = CountingReader()
        first = scan_location(top, {}, reader)
        self.assertEqual(relative(top, reader.reads), ["a.mp3", "b.mp3", "c.mp3"])
        del reader.reads[:]
        second = scan_location(top, first, reader)
        self.assertEqual(reader.reads, [])
        self.assertEqual(second, first)
        a, b, _ = first
        status = os.stat(a)
        os.utime(a, (status.st_atime, status.st_mtime - 10))
        write_mp3(b, frames=3)
        os.utime(b, (status.st_atime, status.st_mtime))
        scan_location(top, second, reader)
        self.assertEqual(relative(top, reader.reads), ["a.mp3", "b.mp3"])

    def test_cache_not_trusted_on_change(self) -> None:
        """
        A file rewritten with new tags (so a new size) gets its new title.
        """
        top = self.folder("a.mp3")
        first = scan_location(top, {})
        path = os.path.join(top, "a.mp3")
        tag_id3(path, TIT2="New Title")
        self.assertEqual(scan_location(top, first)[path][2].title, "New Title")

    def test_missing(self) -> None:
        """
        A folder that does not exist is a L{LibraryError} saying so.
        """
        missing = os.path.abspath(self.mktemp())
        error = self.assertRaises(LibraryError, scan_location, missing, {})
        self.assertEqual(str(error), f"music folder {missing} does not exist")

    def test_empty(self) -> None:
        """
        A folder with no MP3 file (even with other files) is a
        L{LibraryError}.
        """
        top = self.folder("cover.jpg", "sub/", ".hidden.mp3")
        error = self.assertRaises(LibraryError, scan_location, top, {})
        self.assertEqual(str(error), f"no playable audio files in {top}")

    def test_not_a_folder(self) -> None:
        """
        A location that is a file but not a playlist is a L{LibraryError}.
        """
        top = self.folder("notes.txt")
        path = os.path.join(top, "notes.txt")
        error = self.assertRaises(LibraryError, scan_location, path, {})
        self.assertEqual(
            str(error), f"{path} is not a folder or a playlist file (.m3u, .m3u8, .pls)"
        )

    def test_loop_location(self) -> None:
        """
        A location that cannot even be looked at is a L{LibraryError}
        giving the reason.
        """
        top = self.folder()
        loop = os.path.join(top, "loop")
        os.symlink(loop, loop)
        error = self.assertRaises(LibraryError, scan_location, loop, {})
        self.assertTrue(str(error).startswith(f"cannot read music folder {loop}: "), str(error))

    def test_unreadable(self) -> None:
        """
        A folder that cannot be listed is a L{LibraryError} giving the
        reason; an unreadable subfolder is skipped.

        Permissions do not apply to root, so as root the folders are
        scanned by a child process running as C{nobody} (see L{as_nobody}),
        in a temporary directory that C{nobody} can reach.
        """
        scan: Callable[..., dict[str, Entry]] = scan_location
        if os.geteuid() == 0:
            base = tempfile.mkdtemp(prefix="radiod-library-")
            self.addCleanup(shutil.rmtree, base)
            top = self.folder("a.mp3", "locked/b.mp3", under=base)
            for folder in (base, top):
                os.chmod(folder, 0o755)
            os.chmod(os.path.join(top, "a.mp3"), 0o644)
            scan = partial(as_nobody, scan_location)
        else:
            top = self.folder("a.mp3", "locked/b.mp3")
        locked = os.path.join(top, "locked")
        os.chmod(locked, 0)
        self.addCleanup(os.chmod, locked, 0o755)
        self.assertEqual(relative(top, scan(top, {})), ["a.mp3"])
        error = self.assertRaises(LibraryError, scan, locked, {})
        self.assertEqual(str(error), f"cannot read music folder {locked}: Permission denied")


class ScanPlaylistTests(FolderMixin, SynchronousTestCase):
    """
    Tests for L{scan_location} on playlist files.
    """

    def playlist(self, top: str, name: str, data: bytes) -> str:
        """
        Write a playlist file into C{top}.
        """
        path = os.path.join(top, name)
        with open(path, "wb") as f:
            f.write(data)
        return path

    def test_m3u(self) -> None:
        """
        An M3U playlist's local, existing MP3 entries are kept once each,
        in playlist order, with relative paths resolved against the
        playlist's folder; missing files, URLs, other formats and folders
        are left out.
        """
        top = self.folder("lists/", "music/b.mp3", "music/a.mp3", "other/c.mp3", "x.mid")
        data = (
            "#EXTM3U\n"
            "../music/b.mp3\n"
            f"{top}/other/c.mp3\n"
            "../music/missing.mp3\n"
            "http://example.com/d.mp3\n"
            "../x.mid\n"
            "../music\n"
            "../music/a.mp3\n"
            "../music/b.mp3\n"
        )
        path = self.playlist(os.path.join(top, "lists"), "list.m3u", data.encode())
        self.assertEqual(
            relative(top, scan_location(path, {})), ["music/b.mp3", "other/c.mp3", "music/a.mp3"]
        )

    def test_titles(self) -> None:
        """
        A playlist's titles name files that have no title tag.
        """
        top = self.folder("a.mp3", "b.mp3")
        tag_id3(os.path.join(top, "b.mp3"), TIT2="Tagged")
        data = b"#EXTINF:1,Listed - One\na.mp3\n#EXTINF:1,Listed - Two\nb.mp3\n"
        found = scan_location(self.playlist(top, "l.m3u", data), {})
        self.assertEqual(
            [(info.artist, info.title) for _, _, info in found.values()],
            [("Listed", "One"), ("", "Tagged")],
        )

    def test_pls(self) -> None:
        """
        A PLS playlist's entries are kept in number order.
        """
        top = self.folder("a.mp3", "b.mp3")
        data = b"[playlist]\r\nFile2=a.mp3\r\nFile1=b.mp3\r\nNumberOfEntries=2\r\n"
        self.assertEqual(
            relative(top, scan_location(self.playlist(top, "l.pls", data), {})),
            ["b.mp3", "a.mp3"],
        )

    def test_windows_m3u8(self) -> None:
        """
        A UTF-8 playlist with a byte order mark, CRLF line ends and
        backslash separators finds its files.
        """
        top = self.folder("sub/Caf\u00e9.mp3", "a.mp3")
        data = "\ufeffsub\\Caf\u00e9.mp3\r\na.mp3\r\n".encode()
        self.assertEqual(
            relative(top, scan_location(self.playlist(top, "l.m3u8", data), {})),
            ["sub/Caf\u00e9.mp3", "a.mp3"],
        )

    def test_latin1_m3u(self) -> None:
        """
        A Latin-1 M3U playlist is decoded as such.
        """
        top = self.folder("\u00e9t\u00e9.mp3")
        data = "\u00e9t\u00e9.mp3\n".encode("latin-1")
        self.assertEqual(
            relative(top, scan_location(self.playlist(top, "l.m3u", data), {})),
            ["\u00e9t\u00e9.mp3"],
        )

    def test_missing(self) -> None:
        """
        A playlist that does not exist is a L{LibraryError} saying so.
        """
        path = os.path.abspath(self.mktemp()) + ".m3u"
        error = self.assertRaises(LibraryError, scan_location, path, {})
        self.assertEqual(str(error), f"playlist {path} does not exist")

    def test_unreadable(self) -> None:
        """
        A playlist that cannot be read is a L{LibraryError} giving the
        reason.
        """
        top = self.folder()
        path = os.path.join(top, "loop.pls")
        os.symlink(path, path)
        error = self.assertRaises(LibraryError, scan_location, path, {})
        self.assertEqual(
            str(error), f"cannot read playlist {path}: Too many levels of symbolic links"
        )

    def test_nothing_playable(self) -> None:
        """
        A playlist none of whose entries can be played is a
        L{LibraryError}.
        """
        top = self.folder()
        path = self.playlist(top, "l.m3u", b"missing.mp3\nhttp://example.com/a.mp3\n")
        error = self.assertRaises(LibraryError, scan_location, path, {})
        self.assertEqual(str(error), f"no playable audio files in {path}")


class LibraryTests(FolderMixin, SynchronousTestCase):
    """
    Tests for L{Library}.
    """

    def titles(self, library: Library) -> list[str]:
        """
        The titles of a library's tracks, in order.
        """
        return [track.title for track in library.tracks]

    def test_first_scan(self) -> None:
        """
        The first scan fills L{Library.tracks} in order and reports every
        file as added.
        """
        top = self.folder("b.mp3", "a.mp3")
        library = Library(top, synchronous_runner)
        self.assertEqual(library.tracks, [])
        change = self.successResultOf(library.scan())
        self.assertEqual(self.titles(library), ["a", "b"])
        self.assertEqual(relative(top, change.added), ["a.mp3", "b.mp3"])
        self.assertEqual((change.removed, change.changed), ((), ()))

    def test_rescan(self) -> None:
        """
        A rescan reports added, removed and replaced files, reads tags
        only for those added or replaced, and updates the tracks.
        """
        top = self.folder("a.mp3", "b.mp3", "c.mp3")
        reader = CountingReader()
        library = Library(top, synchronous_runner, reader)
        self.successResultOf(library.scan())
        del reader.reads[:]
        os.remove(os.path.join(top, "a.mp3"))
        write_mp3(os.path.join(top, "d.mp3"))
        replaced = os.path.join(top, "b.mp3")
        os.remove(replaced)
        write_mp3(replaced, frames=2)
        tag_id3(replaced, TIT2="Replacement")
        change = self.successResultOf(library.scan())
        self.assertEqual(
            change,
            LibraryChange(
                added=(os.path.join(top, "d.mp3"),),
                removed=(os.path.join(top, "a.mp3"),),
                changed=(replaced,),
            ),
        )
        self.assertFalse(change.empty)
        self.assertEqual(relative(top, reader.reads), ["b.mp3", "d.mp3"])
        self.assertEqual(self.titles(library), ["Replacement", "c", "d"])

    def test_unchanged(self) -> None:
        """
        A rescan of an unchanged folder reports an empty change and reads
        no tags.
        """
        top = self.folder("a.mp3")
        reader = CountingReader()
        library = Library(top, synchronous_runner, reader)
        self.successResultOf(library.scan())
        change = self.successResultOf(library.scan())
        self.assertTrue(change.empty)
        self.assertEqual(len(reader.reads), 1)
        self.assertEqual(self.titles(library), ["a"])

    def test_first_scan_fails(self) -> None:
        """
        A first scan of an empty folder fails with L{LibraryError} and
        leaves no tracks.
        """
        library = Library(self.folder(), synchronous_runner)
        self.failureResultOf(library.scan(), LibraryError)
        self.assertEqual(library.tracks, [])

    def test_failed_rescan(self) -> None:
        """
        A rescan that fails keeps the tracks of the last good scan, and
        the next good scan is compared with that one.
        """
        top = self.folder("a.mp3", "b.mp3")
        library = Library(top, synchronous_runner)
        self.successResultOf(library.scan())
        for name in ["a.mp3", "b.mp3"]:
            os.remove(os.path.join(top, name))
        failure = self.failureResultOf(library.scan(), LibraryError)
        self.assertEqual(str(failure.value), f"no playable audio files in {top}")
        self.assertEqual(self.titles(library), ["a", "b"])
        write_mp3(os.path.join(top, "c.mp3"))
        change = self.successResultOf(library.scan())
        self.assertEqual(relative(top, change.removed), ["a.mp3", "b.mp3"])
        self.assertEqual(relative(top, change.added), ["c.mp3"])

    def test_playlist(self) -> None:
        """
        A library can come from a playlist file, in its order.
        """
        top = self.folder("a.mp3", "b.mp3")
        path = os.path.join(top, "l.m3u")
        with open(path, "wb") as f:
            f.write(b"b.mp3\na.mp3\n")
        library = Library(path, synchronous_runner)
        self.successResultOf(library.scan())
        self.assertEqual(self.titles(library), ["b", "a"])

    def test_scans_do_not_overlap(self) -> None:
        """
        A scan asked for while another is running starts only when that
        one has finished, so results are applied in order.
        """
        top = self.folder("a.mp3")
        runner = LaterRunner()
        library = Library(top, runner)
        first = library.scan()
        write_mp3(os.path.join(top, "b.mp3"))
        second = library.scan()
        self.assertEqual(len(runner.pending), 1)
        runner.run()
        self.assertEqual(relative(top, self.successResultOf(first).added), ["a.mp3", "b.mp3"])
        self.assertNoResult(second)
        self.assertEqual(len(runner.pending), 1)
        runner.run()
        self.assertTrue(self.successResultOf(second).empty)
        self.assertEqual(self.titles(library), ["a", "b"])


class FindTests(FolderMixin, SynchronousTestCase):
    """
    L{Library.find} names a library track by id or path, and nothing
    outside the library.
    """

    def scanned(self, location: str) -> Library:
        library = Library(location, synchronous_runner)
        self.successResultOf(library.scan())
        return library

    def test_track_id(self) -> None:
        """
        A track's id is 16 hexadecimal digits, the same for the same path
        and different for another.
        """
        one = track_id("/music/a.mp3")
        self.assertRegex(one, "^[0-9a-f]{16}$")
        self.assertEqual(track_id("/music/a.mp3"), one)
        self.assertNotEqual(track_id("/music/b.mp3"), one)
        self.assertRegex(track_id("/music/\udcff.mp3"), "^[0-9a-f]{16}$")

    def test_by_id_and_path(self) -> None:
        """
        A track is found by its id, by its path relative to the library,
        with or without C{./} and C{..} detours inside it, and by its
        absolute path.
        """
        top = self.folder("a.mp3", "sub/b.mp3")
        library = self.scanned(top)
        b = os.path.join(top, "sub", "b.mp3")
        for reference in [track_id(b), "sub/b.mp3", "./sub/../sub/b.mp3", b]:
            found = library.find(reference)
            assert found is not None, reference
            self.assertEqual(found.path, b)
        self.assertEqual(library.relative(b), os.path.join("sub", "b.mp3"))

    def test_nothing_outside(self) -> None:
        """
        Paths outside the library, files in it that are not tracks, and
        unknown ids are not found.
        """
        top = self.folder("a.mp3", "notes.txt")
        library = self.scanned(top)
        outside = os.path.join(os.path.dirname(top), "x.mp3")
        with open(outside, "wb") as f:
            f.write(b"")
        for reference in [
            "",
            "notes.txt",
            "missing.mp3",
            "../x.mp3",
            outside,
            "../../../../../../etc/passwd",
            "/etc/passwd",
            "0123456789abcdef",
            track_id(outside),
        ]:
            self.assertIsNone(library.find(reference), reference)

    def test_follows_rescans(self) -> None:
        """
        A file added to the library is found after the next scan, and one
        removed is no longer found.
        """
        top = self.folder("a.mp3")
        library = self.scanned(top)
        self.assertIsNone(library.find("b.mp3"))
        write_mp3(os.path.join(top, "b.mp3"))
        os.remove(os.path.join(top, "a.mp3"))
        self.successResultOf(library.scan())
        self.assertIsNotNone(library.find("b.mp3"))
        self.assertIsNone(library.find("a.mp3"))

    def test_playlist_root(self) -> None:
        """
        A playlist library's paths are relative to the playlist's folder;
        a track outside that folder is shown by its absolute path, and
        found by either.
        """
        top = self.folder("lists/b.mp3", "a.mp3")
        playlist = os.path.join(top, "lists", "l.m3u")
        with open(playlist, "w") as f:
            f.write("b.mp3\n../a.mp3\n")
        library = self.scanned(playlist)
        self.assertEqual(library.root, os.path.join(top, "lists"))
        b = library.find("b.mp3")
        assert b is not None
        self.assertEqual(library.relative(b.path), "b.mp3")
        a_path = os.path.join(top, "a.mp3")
        for reference in ["../a.mp3", a_path]:
            a = library.find(reference)
            assert a is not None
            self.assertEqual(a.path, a_path)
        self.assertEqual(library.relative(a_path), a_path)


class ByIdTests(FolderMixin, SynchronousTestCase):
    """
    L{Library.by_id} finds a track by its id and by nothing else, and
    L{Library.entry} gives what the last scan found for a file.
    """

    def test_by_id(self) -> None:
        top = self.folder("a.mp3", "sub/b.mp3")
        library = Library(top, synchronous_runner)
        self.successResultOf(library.scan())
        b = os.path.join(top, "sub", "b.mp3")
        found = library.by_id(track_id(b))
        assert found is not None
        self.assertEqual(found.path, b)
        for reference in [
            "",
            b,
            "sub/b.mp3",
            "a.mp3",
            track_id(b).upper(),
            track_id(b) + "\n",
            " " + track_id(b),
            track_id("/etc/passwd"),
        ]:
            self.assertIsNone(library.by_id(reference), reference)

    def test_entry(self) -> None:
        top = self.folder("a.mp3")
        library = Library(top, synchronous_runner)
        self.assertIsNone(library.entry(os.path.join(top, "a.mp3")))
        self.successResultOf(library.scan())
        path = os.path.join(top, "a.mp3")
        entry = library.entry(path)
        assert entry is not None
        mtime, size, info = entry
        self.assertEqual(size, os.path.getsize(path))
        self.assertEqual(info.path, path)
        self.assertIsNone(library.entry(os.path.join(top, "b.mp3")))
