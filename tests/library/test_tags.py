# mypy: disallow-untyped-calls=False
"""
Tests for L{radiod.library.tags}.
"""

from __future__ import annotations

import os

import mutagen.id3
from mutagen.apev2 import APEv2
from mutagen.id3 import ID3, TALB, TIT2, TPE1, TPE2
from twisted.trial.unittest import SynchronousTestCase

from radiod.audio.frames import build_header
from radiod.audio.track import TrackInfo
from radiod.library.tags import clean_text, info_from_name, read_track_info

# MPEG-1 layer III, 128 kbit/s, 44.1 kHz, unpadded: 417 bytes a frame.
FRAME = build_header() + bytes(413)
FRAME_COUNT = 20
FRAME_SECONDS = 1152 / 44100


def write_mp3(path: str, frames: int = FRAME_COUNT) -> str:
    """
    Write an untagged MP3 file of silent-looking synthetic frames.

    @return: C{path}.
    """
    with open(path, "wb") as f:
        f.write(FRAME * frames)
    return path


def tag_id3(path: str, v1: bool = False, v2: bool = True, **frames: str | list[str]) -> None:
    """
    Write ID3 text frames (given by identifier) onto a file, as an ID3v2
    tag, an ID3v1 tag or both.
    """
    kinds = {"TIT2": TIT2, "TPE1": TPE1, "TPE2": TPE2, "TALB": TALB}
    tag = ID3()
    for key, text in frames.items():
        tag.add(kinds[key](encoding=3, text=text))
    tag.save(path, v1=2 if v1 else 0)
    if not v2:
        mutagen.id3.delete(path, delete_v1=False, delete_v2=True)


def tag_ape(path: str, **values: str) -> None:
    """
    Write an APEv2 tag with the given keys onto a file.
    """
    tag = APEv2()
    for key, value in values.items():
        tag[key] = value
    tag.save(path)


class ReadTrackInfoTests(SynchronousTestCase):
    """
    Tests for L{read_track_info}.
    """

    def setUp(self) -> None:
        self.folder = self.mktemp()
        os.makedirs(self.folder)

    def mp3(self, name: str = "Fallback Name.mp3") -> str:
        """
        Make an untagged MP3 file in the test's folder.
        """
        return write_mp3(os.path.join(self.folder, name))

    def test_id3v2(self) -> None:
        """
        Title, artist and album come from the ID3v2 C{TIT2}, C{TPE1} and
        C{TALB} frames, and the duration from the MPEG stream.
        """
        path = self.mp3()
        tag_id3(path, TIT2="Song", TPE1="Singer", TALB="Record")
        info = read_track_info(path)
        self.assertEqual(
            (info.path, info.title, info.artist, info.album),
            (path, "Song", "Singer", "Record"),
        )
        self.assertApproximates(info.duration, FRAME_COUNT * FRAME_SECONDS, 0.05)

    def test_album_artist_fallback(self) -> None:
        """
        Without C{TPE1}, the artist comes from C{TPE2}.
        """
        path = self.mp3()
        tag_id3(path, TIT2="Song", TPE2="Band")
        self.assertEqual(read_track_info(path).artist, "Band")

    def test_lead_artist_preferred(self) -> None:
        """
        C{TPE1} wins over C{TPE2} when both are present.
        """
        path = self.mp3()
        tag_id3(path, TIT2="Song", TPE1="Singer", TPE2="Band")
        self.assertEqual(read_track_info(path).artist, "Singer")

    def test_id3v1(self) -> None:
        """
        A file with only an ID3v1 tag gets its title, artist and album.
        """
        path = self.mp3()
        tag_id3(path, v1=True, v2=False, TIT2="Old Song", TPE1="Old Singer", TALB="Old LP")
        with open(path, "rb") as f:
            self.assertFalse(f.read(3) == b"ID3")
        info = read_track_info(path)
        self.assertEqual(
            (info.title, info.artist, info.album), ("Old Song", "Old Singer", "Old LP")
        )

    def test_apev2(self) -> None:
        """
        An APEv2 tag's C{Title}, C{Artist} and C{Album} are read whatever
        the case of their keys.
        """
        path = self.mp3()
        tag_ape(path, TITLE="Ape Song", artist="Ape Singer", Album="Ape LP")
        info = read_track_info(path)
        self.assertEqual(
            (info.title, info.artist, info.album), ("Ape Song", "Ape Singer", "Ape LP")
        )
        self.assertApproximates(info.duration, FRAME_COUNT * FRAME_SECONDS, 0.05)

    def test_precedence(self) -> None:
        """
        Field by field, ID3v2 wins over APEv2, which wins over ID3v1.
        """
        path = self.mp3()
        tag_ape(path, Artist="ape artist", Album="ape album")
        tag_id3(path, v1=True, TIT2="v2 title")
        # Give the ID3v1 tag values of its own, leaving the ID3v2 tag as is.
        with open(path, "r+b") as f:
            f.seek(-128, os.SEEK_END)
            f.write(b"TAG" + b"v1 title".ljust(30, b"\0") + b"v1 artist".ljust(30, b"\0"))
            f.write(b"v1 album".ljust(30, b"\0"))
        info = read_track_info(path)
        self.assertEqual(
            (info.title, info.artist, info.album), ("v2 title", "ape artist", "ape album")
        )
        os.remove(path)
        path = self.mp3()
        tag_id3(path, v1=True, v2=False, TIT2="v1 title", TALB="v1 album")
        info = read_track_info(path)
        self.assertEqual((info.title, info.album), ("v1 title", "v1 album"))

    def test_clean_values(self) -> None:
        """
        Tag values lose surrounding whitespace and NULs, and several values
        in one frame are joined with C{" / "}.
        """
        path = self.mp3()
        tag_id3(path, TIT2="  Spaced \x00", TPE1=["One", " ", "Two\n"], TALB="\tLP\r\n")
        info = read_track_info(path)
        self.assertEqual((info.title, info.artist, info.album), ("Spaced", "One / Two", "LP"))

    def test_blank_title_tag(self) -> None:
        """
        A title tag holding only whitespace counts as absent: the title
        comes from the file name, while the artist tag is still used.
        """
        path = self.mp3("Named Song.mp3")
        tag_id3(path, TIT2="   ", TPE1="Tagged Singer")
        info = read_track_info(path)
        self.assertEqual((info.title, info.artist), ("Named Song", "Tagged Singer"))

    def test_untagged(self) -> None:
        """
        An untagged file is named after its file and still has a duration.
        """
        info = read_track_info(self.mp3("Somebody - Something.mp3"))
        self.assertEqual((info.title, info.artist, info.album), ("Something", "Somebody", ""))
        self.assertApproximates(info.duration, FRAME_COUNT * FRAME_SECONDS, 0.05)

    def test_display_title(self) -> None:
        """
        A display title given by a playlist replaces the file name when the
        file has no title tag, but not when it has one.
        """
        path = self.mp3("track.mp3")
        info = read_track_info(path, "Listed Artist - Listed Title")
        self.assertEqual((info.title, info.artist), ("Listed Title", "Listed Artist"))
        tag_id3(path, TIT2="Tagged")
        self.assertEqual(read_track_info(path, "Listed").title, "Tagged")

    def test_garbage_file(self) -> None:
        """
        A file of noise gets its name for a title and no duration.
        """
        path = os.path.join(self.folder, "07 - Noise.mp3")
        with open(path, "wb") as f:
            f.write(bytes(range(256)) * 8)
        self.assertEqual(read_track_info(path), TrackInfo(path=path, title="Noise"))

    def test_corrupt_id3(self) -> None:
        """
        A damaged ID3v2 header (a size far past the end of the file, then
        nonsense) does not raise: the file name supplies the title.
        """
        path = os.path.join(self.folder, "Broken - Header.mp3")
        with open(path, "wb") as f:
            f.write(b"ID3\x04\x00\x00\x7f\x7f\x7f\x7fTIT2\xff\xff\xff\xff\x00\x00junk")
        info = read_track_info(path)
        self.assertEqual((info.title, info.artist, info.duration), ("Header", "Broken", 0.0))

    def test_truncated_ape(self) -> None:
        """
        An APE footer announcing more items than the file holds does not
        raise; the ID3v2 tag before it is still read.
        """
        path = self.mp3()
        tag_id3(path, TIT2="Still Read")
        with open(path, "ab") as f:
            f.write(b"APETAGEX" + (2000).to_bytes(4, "little") + (999).to_bytes(4, "little"))
            f.write((99).to_bytes(4, "little") + bytes(12))
        self.assertEqual(read_track_info(path).title, "Still Read")

    def test_empty_file(self) -> None:
        """
        An empty file is named after its file.
        """
        path = os.path.join(self.folder, "Empty.mp3")
        open(path, "wb").close()
        self.assertEqual(read_track_info(path), TrackInfo(path=path, title="Empty"))

    def test_missing_file(self) -> None:
        """
        A file that does not exist (it vanished) does not raise.
        """
        path = os.path.join(self.folder, "Gone - Away.mp3")
        self.assertEqual(read_track_info(path), TrackInfo(path=path, title="Away", artist="Gone"))


class InfoFromNameTests(SynchronousTestCase):
    """
    Tests for L{info_from_name}.
    """

    def names(self, path: str) -> tuple[str, str]:
        """
        The artist and title guessed for C{path}.
        """
        info = info_from_name(path)
        self.assertEqual(info.path, path)
        return info.artist, info.title

    def test_artist_and_title(self) -> None:
        """
        C{"Artist - Title"} splits at the first C{" - "}.
        """
        self.assertEqual(self.names("/m/Artist - Title - Live.mp3"), ("Artist", "Title - Live"))

    def test_title_only(self) -> None:
        """
        A name without C{" - "} is the title alone.
        """
        self.assertEqual(self.names("/m/Just a Song.MP3"), ("", "Just a Song"))

    def test_underscores(self) -> None:
        """
        Underscores read as spaces, including around the separator.
        """
        self.assertEqual(self.names("/m/The_Band_-_Big_Hit.mp3"), ("The Band", "Big Hit"))

    def test_track_number(self) -> None:
        """
        A leading C{"01 - "} or C{"01. "} is dropped before splitting.
        """
        self.assertEqual(self.names("/m/01 - Intro.mp3"), ("", "Intro"))
        self.assertEqual(self.names("/m/12. Artist - Outro.mp3"), ("Artist", "Outro"))
        self.assertEqual(self.names("/m/03_-_Artist_-_Song.mp3"), ("Artist", "Song"))

    def test_number_kept_when_all(self) -> None:
        """
        Numbers that are the whole name, or part of a word, are kept.
        """
        self.assertEqual(self.names("/m/1999.mp3"), ("", "1999"))
        self.assertEqual(self.names("/m/7 Seconds.mp3"), ("", "7 Seconds"))

    def test_empty_side(self) -> None:
        """
        A name with nothing on one side of C{" - "} is not split.
        """
        self.assertEqual(self.names("/m/ - Lonely.mp3"), ("", "- Lonely"))

    def test_display_title(self) -> None:
        """
        A display title is used instead of the file name, split alike.
        """
        info = info_from_name("/m/x.mp3", " Listed - Name ")
        self.assertEqual((info.artist, info.title), ("Listed", "Name"))

    def test_undecodable_name(self) -> None:
        """
        File name bytes that are not UTF-8 (surrogate escapes) become
        C{"?"}, so the title can always be encoded.
        """
        path = os.fsdecode(b"/m/Caf\xe9.mp3")
        self.assertEqual(self.names(path), ("", "Caf?"))
        self.assertEqual(self.names(path)[1].encode("utf-8"), b"Caf?")


class CleanTextTests(SynchronousTestCase):
    """
    Tests for L{clean_text}.
    """

    def test_controls(self) -> None:
        """
        Control characters become spaces and the ends are stripped.
        """
        self.assertEqual(clean_text("\x00 a\tb\r\nc \x7f"), "a b c")

    def test_unicode_kept(self) -> None:
        """
        Ordinary non-ASCII text is unchanged.
        """
        self.assertEqual(clean_text("Sigur Rós \u2013 Hoppípolla"), "Sigur Rós \u2013 Hoppípolla")
