"""
Tests for L{radiod.library.art}, and for the cover art a L{Library} scan
finds: pictures made with Pillow, kept in real files.
"""

from __future__ import annotations

import base64
import io
import os
import shutil
import subprocess
from collections.abc import Mapping, Sequence
from typing import Any

from mutagen.flac import FLAC
from mutagen.flac import Picture as FlacPicture
from mutagen.id3 import APIC, ID3, ID3NoHeaderError
from mutagen.mp4 import MP4, MP4Cover
from mutagen.oggvorbis import OggVorbis
from PIL import Image
from twisted.logger import capturedLogs
from twisted.trial.unittest import SynchronousTestCase

import radiod.library.art as art
from radiod.library.art import (
    FOLDER_IMAGES,
    FolderArt,
    Picture,
    ScalingError,
    ScalingUnavailable,
    art_id,
    find_folder_image,
    identify,
    image_kind,
    read_folder_picture,
    scale_picture,
    scaled_path,
    store_picture,
    stored_picture,
)
from radiod.library.library import Library, scan_location
from radiod.library.tags import read_picture, read_track_info
from radiod.testing import synchronous_runner
from tests.library.test_tags import write_mp3
from tests.support.tools import require_ffmpeg

RED = (200, 30, 30)
FIXTURES = os.path.join(os.path.dirname(os.path.dirname(__file__)), "fixtures")


def make_picture(
    kind: str = "PNG",
    size: tuple[int, int] = (40, 30),
    color: tuple[int, ...] = RED,
    mode: str = "RGB",
) -> bytes:
    """
    A picture of one colour, as the bytes of a file of C{kind} (Pillow's
    name of a format: C{"PNG"}, C{"JPEG"}, C{"GIF"}, C{"WEBP"}).
    """
    out = io.BytesIO()
    Image.new(mode, size, color).save(out, kind)
    return out.getvalue()


def write(path: str, data: bytes) -> str:
    """
    Write C{data} to C{path}, making its folder; return C{path}.
    """
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(data)
    return path


def add_apic(path: str, data: bytes, kind: int = 3, description: str = "") -> str:
    """
    Add an ID3 C{APIC} frame holding C{data}, of picture type C{kind} (3,
    the front cover, by default), to the ID3v2 tag of C{path} (made when
    it has none); return C{path}.
    """
    try:
        tag = ID3(path)
    except ID3NoHeaderError:
        tag = ID3()
    tag.add(APIC(encoding=3, mime="image/jpeg", type=kind, desc=description, data=data))
    tag.save(path)
    return path


def flac_picture(data: bytes, kind: int = 3) -> FlacPicture:
    """
    A FLAC picture block holding C{data}.
    """
    block = FlacPicture()
    block.type = kind
    block.mime = "image/png"
    block.data = data
    return block


def warnings(events: Sequence[Mapping[str, Any]]) -> list[str]:
    """
    The texts of the cover art log lines among C{events}.
    """
    return [
        f"{event['source'] if 'source' in event else event.get('path')}: {event.get('reason')}"
        for event in events
        if str(event.get("log_format", "")).startswith("Cover art")
    ]


class IdentifyTests(SynchronousTestCase):
    """
    L{image_kind}, L{art_id} and L{identify}: which bytes are taken as a
    picture, and what they are called.
    """

    def test_kinds(self) -> None:
        """
        JPEG, PNG, GIF and WebP pictures are told by their signatures;
        anything else is no picture.
        """
        kinds = {name: image_kind(make_picture(name)) for name in ("JPEG", "PNG", "GIF", "WEBP")}
        self.assertEqual(kinds, {"JPEG": "jpg", "PNG": "png", "GIF": "gif", "WEBP": "webp"})
        self.assertIsNone(image_kind(b"BM" + bytes(60)))
        self.assertIsNone(image_kind(b""))

    def test_picture(self) -> None:
        """
        A picture is taken with its kind, content type and art id: 16
        hexadecimal digits of its hash, the same for the same bytes and
        different for others.
        """
        data = make_picture("JPEG")
        picture = identify(data, "/music/a.mp3")
        self.assertEqual(picture, Picture(data, "jpg", art_id(data)))
        assert picture is not None
        self.assertEqual(picture.content_type, "image/jpeg")
        self.assertRegex(picture.id, r"^[0-9a-f]{16}$")
        self.assertEqual(art_id(bytes(data)), picture.id)
        self.assertNotEqual(art_id(make_picture("JPEG", color=(0, 0, 255))), picture.id)

    def test_not_a_picture(self) -> None:
        """
        Bytes that are not a picture are skipped with one log line naming
        where they come from.
        """
        with capturedLogs() as events:
            self.assertIsNone(identify(b"http://example.org/cover.jpg", "/music/a.mp3"))
        self.assertEqual(warnings(events), ["/music/a.mp3: not a JPEG, PNG, GIF or WebP picture"])

    def test_damaged(self) -> None:
        """
        A picture whose signature is right but that Pillow cannot open (a
        JPEG cut after its first bytes) is skipped with a log line.
        """
        data = make_picture("JPEG")[:40]
        with capturedLogs() as events:
            self.assertIsNone(identify(data, "/music/a.mp3"))
        [line] = warnings(events)
        self.assertTrue(line.startswith("/music/a.mp3: "), line)

    def test_without_pillow(self) -> None:
        """
        Without Pillow, only the signature is checked.
        """
        self.patch(art, "HAS_PILLOW", False)
        data = make_picture("JPEG")[:40]
        self.assertEqual(identify(data, "/music/a.mp3"), Picture(data, "jpg", art_id(data)))

    def test_too_large(self) -> None:
        """
        A picture over L{art.MAX_PICTURE_SIZE} bytes is skipped.
        """
        data = make_picture("PNG")
        self.patch(art, "MAX_PICTURE_SIZE", len(data) - 1)
        with capturedLogs() as events:
            self.assertIsNone(identify(data, "/music/a.flac"))
        self.assertEqual(
            warnings(events), [f"/music/a.flac: {len(data)} bytes, more than {len(data) - 1}"]
        )


class FolderImageTests(SynchronousTestCase):
    """
    L{find_folder_image} and L{read_folder_picture}: the picture next to
    the files of a folder.
    """

    def folder(self, *names: str) -> str:
        """
        A new folder holding pictures with these names (a name ending
        C{/} is a subfolder).
        """
        top = os.path.abspath(str(self.mktemp()))
        os.makedirs(top)
        for name in names:
            if name.endswith("/"):
                os.makedirs(os.path.join(top, name))
            else:
                write(os.path.join(top, name), make_picture("PNG"))
        return top

    def test_names(self) -> None:
        """
        C{cover}, C{folder} and C{front}, each as C{.jpg}, C{.jpeg} and
        C{.png}, are folder images, in that order of preference, whatever
        their case; other names are not.
        """
        self.assertEqual(
            FOLDER_IMAGES,
            (
                *("cover.jpg", "cover.jpeg", "cover.png"),
                *("folder.jpg", "folder.jpeg", "folder.png"),
                *("front.jpg", "front.jpeg", "front.png"),
            ),
        )
        top = self.folder("FRONT.PNG", "Folder.jpg", "back.jpg")
        self.assertEqual(find_folder_image(top), os.path.join(top, "Folder.jpg"))
        top = self.folder("front.png", "Cover.Png")
        self.assertEqual(find_folder_image(top), os.path.join(top, "Cover.Png"))
        self.assertIsNone(find_folder_image(self.folder("back.jpg", "cover.gif", "cover.jpg/")))
        self.assertIsNone(find_folder_image(os.path.join(self.mktemp(), "missing")))

    def test_read(self) -> None:
        """
        The folder image's picture is read; a folder image that is not a
        picture gives none, with a log line.
        """
        top = self.folder("cover.png")
        data = make_picture("PNG")
        self.assertEqual(read_folder_picture(top), Picture(data, "png", art_id(data)))
        write(os.path.join(top, "cover.jpg"), b"not a picture")
        with capturedLogs() as events:
            self.assertIsNone(read_folder_picture(top))
        self.assertEqual(
            warnings(events),
            [f"{os.path.join(top, 'cover.jpg')}: not a JPEG, PNG, GIF or WebP picture"],
        )
        self.assertIsNone(read_folder_picture(self.folder()))


class LibraryArtTests(SynchronousTestCase):
    """
    The cover art a library's scans give its tracks: a file's own
    picture, else its folder image.
    """

    def setUp(self) -> None:
        self.top = os.path.abspath(self.mktemp())
        os.makedirs(self.top)
        self.cover = make_picture("PNG", color=(10, 200, 10))
        self.own = make_picture("JPEG", color=(10, 10, 200))

    def mp3(self, name: str) -> str:
        path = os.path.join(self.top, name)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        return write_mp3(path)

    def arts(self, library: Library) -> dict[str, str]:
        """
        The art id of each track, by path relative to the library.
        """
        return {os.path.relpath(track.path, self.top): track.art for track in library.tracks}

    def test_folder_and_own(self) -> None:
        """
        A file with an embedded picture has that picture's art; a file
        without has the art of the folder image next to it; a file with
        neither has none.  L{Library.art_paths} lists the files of each
        art id.
        """
        self.mp3("album/a.mp3")
        add_apic(self.mp3("album/b.mp3"), self.own)
        self.mp3("loose/c.mp3")
        write(os.path.join(self.top, "album", "cover.png"), self.cover)
        library = Library(self.top, synchronous_runner)
        self.successResultOf(library.scan())
        cover, own = art_id(self.cover), art_id(self.own)
        self.assertEqual(
            self.arts(library),
            {"album/a.mp3": cover, "album/b.mp3": own, "loose/c.mp3": ""},
        )
        self.assertEqual(library.art_paths(cover), [os.path.join(self.top, "album", "a.mp3")])
        self.assertEqual(library.art_paths(own), [os.path.join(self.top, "album", "b.mp3")])
        self.assertEqual(library.art_paths("0123456789abcdef"), [])

    def test_damaged_folder_image(self) -> None:
        """
        A folder image that is not a picture is skipped with one log line
        for the scan, and its folder's tracks play without art.
        """
        self.mp3("a.mp3")
        self.mp3("b.mp3")
        image = write(os.path.join(self.top, "folder.jpg"), b"\xff\xd8\xff\xe0 damaged")
        library = Library(self.top, synchronous_runner)
        with capturedLogs() as events:
            self.successResultOf(library.scan())
        self.assertEqual(self.arts(library), {"a.mp3": "", "b.mp3": ""})
        [line] = warnings(events)
        self.assertTrue(line.startswith(image + ": "), line)

    def test_rescan_follows_folder_image(self) -> None:
        """
        A rescan notices a folder image added, replaced or removed, even
        for files that did not change themselves.
        """
        self.mp3("a.mp3")
        library = Library(self.top, synchronous_runner)
        self.successResultOf(library.scan())
        self.assertEqual(self.arts(library), {"a.mp3": ""})
        image = write(os.path.join(self.top, "cover.png"), self.cover)
        self.successResultOf(library.scan())
        self.assertEqual(self.arts(library), {"a.mp3": art_id(self.cover)})
        os.remove(image)
        write(os.path.join(self.top, "front.jpg"), self.own)
        self.successResultOf(library.scan())
        self.assertEqual(self.arts(library), {"a.mp3": art_id(self.own)})
        os.remove(os.path.join(self.top, "front.jpg"))
        self.successResultOf(library.scan())
        self.assertEqual(self.arts(library), {"a.mp3": ""})

    def test_folder_image_read_once(self) -> None:
        """
        A folder image is read once per scan however many files share it,
        and not again by a later scan while it has not changed.
        """
        for name in ("a.mp3", "b.mp3", "c.mp3"):
            self.mp3(name)
        write(os.path.join(self.top, "cover.png"), self.cover)
        reads: list[str] = []
        read = art._read_picture_file

        def counting(path: str) -> bytes | None:
            reads.append(path)
            return read(path)

        self.patch(art, "_read_picture_file", counting)
        library = Library(self.top, synchronous_runner)
        self.successResultOf(library.scan())
        self.successResultOf(library.scan())
        self.assertEqual(reads, [os.path.join(self.top, "cover.png")])
        self.assertEqual(set(self.arts(library).values()), {art_id(self.cover)})

    def test_names_only(self) -> None:
        """
        A scan told nothing of folder images (the start-up check, which
        reads names only) does not look for them.
        """
        self.mp3("a.mp3")
        write(os.path.join(self.top, "cover.png"), self.cover)
        [(_, _, info)] = scan_location(self.top, {}).values()
        self.assertEqual(info.art, "")
        folders = FolderArt()
        [(_, _, info)] = scan_location(self.top, {}, folders=folders).values()
        self.assertEqual(info.art, art_id(self.cover))
        self.assertEqual(list(folders.found), [self.top])


class StoreTests(SynchronousTestCase):
    """
    The art folder: pictures kept as found (L{store_picture}) and scaled
    (L{scale_picture}).
    """

    def setUp(self) -> None:
        self.folder = os.path.abspath(self.mktemp())

    def test_store(self) -> None:
        """
        A picture is kept as C{<id>.<kind>}, the folder made as needed,
        with no partial file left; L{stored_picture} finds it.
        """
        data = make_picture("GIF")
        picture = Picture(data, "gif", art_id(data))
        self.assertIsNone(stored_picture(self.folder, picture.id))
        path = store_picture(self.folder, picture)
        self.assertEqual(path, os.path.join(self.folder, picture.id + ".gif"))
        with open(path, "rb") as f:
            self.assertEqual(f.read(), data)
        self.assertEqual(os.listdir(self.folder), [picture.id + ".gif"])
        self.assertEqual(stored_picture(self.folder, picture.id), path)

    def test_scale(self) -> None:
        """
        A picture is scaled to a JPEG that fits the size, keeping its
        proportions, its transparent parts white; a smaller picture keeps
        its size.
        """
        source = write(
            os.path.join(self.folder, "a.png"),
            make_picture("PNG", (400, 300), (0, 0, 0, 0), mode="RGBA"),
        )
        target = scaled_path(self.folder, "0123456789abcdef", 256)
        self.assertEqual(target, os.path.join(self.folder, "0123456789abcdef-256.jpg"))
        scale_picture(source, target, 256)
        with Image.open(target) as image:
            self.assertEqual((image.format, image.size), ("JPEG", (256, 192)))
            red, green, blue = image.convert("RGB").getpixel((128, 96))  # type: ignore[misc]
            self.assertGreater(min(red, green, blue), 240)
        small = write(os.path.join(self.folder, "b.jpg"), make_picture("JPEG", (50, 20)))
        scale_picture(small, target, 512)
        with Image.open(target) as image:
            self.assertEqual(image.size, (50, 20))
        self.assertFalse([name for name in os.listdir(self.folder) if name.endswith(".part")])

    def test_scale_damaged(self) -> None:
        """
        A file Pillow cannot read is not scaled: L{ScalingError}, and no
        file left behind.
        """
        source = write(os.path.join(self.folder, "a.jpg"), b"\xff\xd8\xff\xe0 damaged")
        target = os.path.join(self.folder, "x-64.jpg")
        self.assertRaises(ScalingError, scale_picture, source, target, 64)
        self.assertEqual(os.listdir(self.folder), ["a.jpg"])

    def test_scale_without_pillow(self) -> None:
        """
        Without Pillow, nothing is scaled: L{ScalingUnavailable}.
        """
        self.patch(art, "HAS_PILLOW", False)
        source = write(os.path.join(self.folder, "a.png"), make_picture("PNG"))
        target = os.path.join(self.folder, "x-64.jpg")
        self.assertRaises(ScalingUnavailable, scale_picture, source, target, 64)
        self.assertFalse(os.path.exists(target))


class EmbeddedPictureTests(SynchronousTestCase):
    """
    The pictures embedded in real audio files' tags, as
    L{read_track_info} names them and L{read_picture} reads them again.
    """

    def setUp(self) -> None:
        self.folder = os.path.abspath(self.mktemp())
        os.makedirs(self.folder)
        self.front = make_picture("PNG", color=(250, 200, 0))
        self.back = make_picture("JPEG", color=(0, 0, 90))

    def encode(self, name: str, codec: str) -> str:
        """
        A second of a tone encoded by ffmpeg with C{codec} into the file
        C{name}.
        """
        path = os.path.join(self.folder, name)
        subprocess.run(
            [
                *(require_ffmpeg(), "-nostdin", "-loglevel", "error"),
                *("-f", "lavfi", "-i", "sine=f=440:sample_rate=44100", "-t", "1"),
                *("-c:a", codec, path),
            ],
            check=True,
        )
        return path

    def check(self, path: str, data: bytes) -> None:
        """
        C{path} has the art of picture C{data}, and its picture reads back
        as C{data}.
        """
        self.assertEqual(read_track_info(path).art, art_id(data))
        picture = read_picture(path)
        assert picture is not None
        self.assertEqual((picture.data, picture.id), (data, art_id(data)))

    def test_mp3_front_cover(self) -> None:
        """
        Of an MP3 file's C{APIC} frames, the one marked as the front cover
        is taken, wherever it is; the tags still give the title.
        """
        path = os.path.join(self.folder, "song.mp3")
        shutil.copy(os.path.join(FIXTURES, "alpha-artist-first-song.mp3"), path)
        add_apic(path, self.back, kind=4, description="back")
        add_apic(path, self.front, kind=3, description="front")
        self.check(path, self.front)
        self.assertEqual(read_track_info(path).title, "First Song")

    def test_mp3_first(self) -> None:
        """
        Without a front cover, the first picture is taken.
        """
        path = add_apic(write_mp3(os.path.join(self.folder, "a.mp3")), self.back, kind=0)
        self.check(path, self.back)

    def test_flac(self) -> None:
        """
        A FLAC file's picture block is its art.
        """
        path = self.encode("a.flac", "flac")
        audio = FLAC(path)
        audio.add_picture(flac_picture(self.back, kind=0))
        audio.add_picture(flac_picture(self.front))
        audio.save()
        self.check(path, self.front)

    def test_m4a(self) -> None:
        """
        An M4A file's C{covr} atom is its art.
        """
        path = self.encode("a.m4a", "aac")
        audio = MP4(path)
        audio["covr"] = [MP4Cover(self.back, imageformat=MP4Cover.FORMAT_JPEG)]
        audio.save()
        self.check(path, self.back)

    def test_ogg_vorbis(self) -> None:
        """
        An Ogg Vorbis file's C{METADATA_BLOCK_PICTURE} comment is its art.
        """
        path = self.encode("a.ogg", "libvorbis")
        audio = OggVorbis(path)
        block = base64.b64encode(flac_picture(self.front).write()).decode("ascii")
        audio["metadata_block_picture"] = [block]
        audio.save()
        self.check(path, self.front)

    def test_damaged(self) -> None:
        """
        An embedded picture that is not a picture (damaged, or a link) is
        skipped with a log line: the track has its tags and no art.
        """
        path = os.path.join(self.folder, "song.mp3")
        shutil.copy(os.path.join(FIXTURES, "alpha-artist-first-song.mp3"), path)
        add_apic(path, b"\x89PNG\r\n\x1a\n" + b"broken" * 10)
        with capturedLogs() as events:
            info = read_track_info(path)
        self.assertEqual((info.title, info.art), ("First Song", ""))
        [line] = warnings(events)
        self.assertTrue(line.startswith(path + ": "), line)

    def test_damaged_vorbis_block(self) -> None:
        """
        A C{METADATA_BLOCK_PICTURE} that is not a picture block is skipped
        with a log line.
        """
        path = self.encode("a.ogg", "libvorbis")
        audio = OggVorbis(path)
        audio["metadata_block_picture"] = [base64.b64encode(b"nonsense").decode("ascii")]
        audio.save()
        with capturedLogs() as events:
            self.assertEqual(read_track_info(path).art, "")
        self.assertEqual(warnings(events), [f"{path}: not a JPEG, PNG, GIF or WebP picture"])

    def test_none(self) -> None:
        """
        A file without a picture, or no file at all, has no art.
        """
        path = write_mp3(os.path.join(self.folder, "a.mp3"))
        self.assertEqual(read_track_info(path).art, "")
        self.assertIsNone(read_picture(path))
        self.assertIsNone(read_picture(os.path.join(self.folder, "gone.flac")))
