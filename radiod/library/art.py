# -*- test-case-name: tests.library.test_art -*-
"""
Cover art: the pictures of tracks, and the files the station keeps of them.

A track's picture is the one embedded in its tags (read by
L{radiod.library.tags}), else a folder image next to it: C{cover},
C{folder} or C{front}, with the extension C{.jpg}, C{.jpeg} or C{.png},
in any case (L{FOLDER_IMAGES} gives the order of preference).  A picture
is named by its I{art id}, a hash of its bytes (L{art_id}): identical
pictures share one id, and the picture behind an id never changes, so a
URL naming it can be cached for good.

Only JPEG, PNG, GIF and WebP pictures are taken; anything else (a damaged
picture, a link instead of a picture, a picture over L{MAX_PICTURE_SIZE})
is skipped with a log line, and the track has no art.  When Pillow is
installed, a picture must also open with it.

The station keeps each picture served in its art folder (the C{art}
folder of the cache folder) as C{<id>.<kind>}, and the copies scaled to
a size as C{<id>-<size>.jpg} (L{scale_picture}, with Pillow).

Every function here blocks on file I/O (or on Pillow's work): call them in
a thread.  They log from the thread that calls them.
"""

from __future__ import annotations

import hashlib
import io
import os
import re
import stat
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from importlib.util import find_spec
from typing import NamedTuple

from twisted.logger import Logger

# Pillow is optional (pictures are then sent as they are), and imported
# only when a picture is first looked at.
HAS_PILLOW = find_spec("PIL") is not None

__all__ = [
    "ART_ID",
    "CONTENT_TYPES",
    "FOLDER_IMAGES",
    "HAS_PILLOW",
    "MAX_PICTURE_SIZE",
    "FolderArt",
    "FolderImage",
    "Picture",
    "ScalingError",
    "ScalingUnavailable",
    "art_id",
    "find_folder_image",
    "identify",
    "image_kind",
    "read_folder_picture",
    "scale_picture",
    "scaled_path",
    "store_picture",
    "stored_picture",
]

ART_ID = re.compile(r"[0-9a-f]{16}")
"""
What an art id looks like: 16 lower-case hexadecimal digits.
"""

CONTENT_TYPES = {
    "jpg": "image/jpeg",
    "png": "image/png",
    "gif": "image/gif",
    "webp": "image/webp",
}
"""
The kinds of picture taken, by the extension their files get, with their
content types.
"""

FOLDER_IMAGES = tuple(
    stem + extension
    for stem in ("cover", "folder", "front")
    for extension in (".jpg", ".jpeg", ".png")
)
"""
The names of folder images, compared without regard to case, most wanted
first.
"""

MAX_PICTURE_SIZE = 16 * 1024 * 1024
"""
The largest picture taken, in bytes.
"""

_SCALED_QUALITY = 85

_log = Logger()


def image_kind(data: bytes) -> str | None:
    """
    The kind of picture C{data} starts as, from its signature.

    @return: a key of L{CONTENT_TYPES}, or C{None} when C{data} is none of
        them.
    """
    if data.startswith(b"\xff\xd8\xff"):
        return "jpg"
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if data.startswith((b"GIF87a", b"GIF89a")):
        return "gif"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "webp"
    return None


def art_id(data: bytes) -> str:
    """
    The art id of a picture: the first 64 bits of its BLAKE2b hash, in
    hexadecimal (see L{ART_ID}).
    """
    return hashlib.blake2b(data, digest_size=8).hexdigest()


@dataclass(frozen=True, slots=True)
class Picture:
    """
    A picture taken as cover art.

    @ivar data: its bytes.
    @ivar kind: its kind, a key of L{CONTENT_TYPES}.
    @ivar id: its art id.
    """

    data: bytes
    kind: str
    id: str

    @property
    def content_type(self) -> str:
        """
        Its C{Content-Type}.
        """
        return CONTENT_TYPES[self.kind]


def _pillow_problem(data: bytes) -> str:
    """
    Why Pillow cannot open C{data} as a picture, or C{""} when it can (or
    is not installed).  Only the picture's header is read.
    """
    if not HAS_PILLOW:
        return ""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(data)) as image:
            width, height = image.size
    except UnidentifiedImageError:
        return "Pillow cannot read it"
    except Exception as error:
        return f"damaged ({error or type(error).__name__})"
    if width <= 0 or height <= 0:
        return "it has no pixels"
    return ""


def identify(data: bytes, source: str) -> Picture | None:
    """
    Take C{data} as cover art, or skip it with a log line.

    @param data: the picture's bytes, as a tag or a file holds them.
    @param source: where they come from, for the log (a file's path).
    @return: the picture; C{None} when C{data} is not a JPEG, PNG, GIF or
        WebP picture, is over L{MAX_PICTURE_SIZE}, or does not open with
        Pillow.
    """
    kind = image_kind(data)
    if kind is None:
        reason = "not a JPEG, PNG, GIF or WebP picture"
    elif len(data) > MAX_PICTURE_SIZE:
        reason = f"{len(data)} bytes, more than {MAX_PICTURE_SIZE}"
    else:
        reason = _pillow_problem(data)
    if kind is None or reason:
        _log.warn("Cover art of {source} skipped: {reason}", source=source, reason=reason)
        return None
    return Picture(data, kind, art_id(data))


# Folder images


def find_folder_image(folder: str) -> str | None:
    """
    The folder image of C{folder} (see L{FOLDER_IMAGES}): its path, or
    C{None} when it has none or cannot be listed.  Of two names differing
    only in case, the first in sorted order is taken.
    """
    found: dict[str, str] = {}
    try:
        with os.scandir(folder) as scan:
            entries = sorted(scan, key=lambda entry: entry.name)
    except OSError:
        return None
    for entry in entries:
        name = entry.name.lower()
        if name in FOLDER_IMAGES and name not in found:
            try:
                if entry.is_file():
                    found[name] = entry.path
            except OSError:
                continue
    for name in FOLDER_IMAGES:
        if name in found:
            return found[name]
    return None


def _read_picture_file(path: str) -> bytes | None:
    """
    The bytes of a picture file, or C{None} (logged) when it cannot be
    read or is over L{MAX_PICTURE_SIZE}.
    """
    try:
        with open(path, "rb") as f:
            data = f.read(MAX_PICTURE_SIZE + 1)
    except OSError as error:
        reason = error.strerror or str(error)
        _log.warn("Cover art {path} skipped: {reason}", path=path, reason=reason)
        return None
    return data


def read_folder_picture(folder: str) -> Picture | None:
    """
    The picture of C{folder}'s folder image, when it has one that is a
    picture.
    """
    path = find_folder_image(folder)
    if path is None:
        return None
    data = _read_picture_file(path)
    return identify(data, path) if data is not None else None


class FolderImage(NamedTuple):
    """
    A folder's image as one scan found it.

    @ivar path: the image file, or C{""} when the folder has none.
    @ivar stamp: the file's modification time (ns), size and inode, which
        tell whether it changed since another scan; empty without a file.
    @ivar art: the picture's art id, or C{""} when there is no image or
        it is not a picture.
    """

    path: str
    stamp: tuple[int, ...]
    art: str


_NO_IMAGE = FolderImage("", (), "")


class FolderArt:
    """
    The folder images of one library scan: each folder is looked at once,
    and a picture is read again only when its file changed since the
    previous scan.

    @ivar found: the image of each folder looked at, by folder.
    """

    def __init__(self, previous: Mapping[str, FolderImage] | None = None) -> None:
        """
        @param previous: the images the previous scan found (its
            L{found}), or nothing for a first scan.
        """
        self._previous = dict(previous or {})
        self.found: dict[str, FolderImage] = {}

    def image(self, folder: str) -> FolderImage:
        """
        The image of C{folder} now.
        """
        image = self.found.get(folder)
        if image is None:
            image = self.found[folder] = self._look(folder)
        return image

    def changed(self, folder: str) -> bool:
        """
        Whether the image of C{folder} is not what the previous scan found
        (or that scan did not look at the folder).
        """
        return self.image(folder) != self._previous.get(folder)

    def _look(self, folder: str) -> FolderImage:
        path = find_folder_image(folder)
        if path is None:
            return _NO_IMAGE
        try:
            status = os.stat(path)
        except OSError:
            return _NO_IMAGE
        stamp = (status.st_mtime_ns, status.st_size, status.st_ino)
        before = self._previous.get(folder)
        if before is not None and (before.path, before.stamp) == (path, stamp):
            return before
        data = _read_picture_file(path)
        picture = identify(data, path) if data is not None else None
        return FolderImage(path, stamp, picture.id if picture is not None else "")


# The art folder


def _part(path: str) -> str:
    """
    A name to write C{path} under before it is complete, unique to this
    process and thread.
    """
    return f"{path}.{os.getpid()}-{threading.get_ident()}.part"


def stored_picture(folder: str, art: str) -> str | None:
    """
    The file the art folder C{folder} keeps of picture C{art}, or C{None}
    when it has none.
    """
    for kind in CONTENT_TYPES:
        path = os.path.join(folder, f"{art}.{kind}")
        try:
            if stat.S_ISREG(os.stat(path).st_mode):
                return path
        except OSError:
            continue
    return None


def store_picture(folder: str, picture: Picture) -> str:
    """
    Keep C{picture} in the art folder C{folder} (created when needed), as
    C{<id>.<kind>}: written to a partial file, then renamed into place, so
    that a file under that name is always complete.

    @return: the file's path.
    @raise OSError: if it cannot be written.
    """
    os.makedirs(folder, exist_ok=True)
    path = os.path.join(folder, f"{picture.id}.{picture.kind}")
    part = _part(path)
    try:
        with open(part, "wb") as f:
            f.write(picture.data)
        os.replace(part, path)
    except BaseException:
        _remove(part)
        raise
    return path


def scaled_path(folder: str, art: str, size: int) -> str:
    """
    Where the art folder C{folder} keeps picture C{art} scaled to C{size}.
    """
    return os.path.join(folder, f"{art}-{size}.jpg")


class ScalingError(Exception):
    """
    A picture could not be scaled; the message says why.
    """


class ScalingUnavailable(ScalingError):
    """
    Pillow is not installed, so no picture can be scaled.
    """


def scale_picture(source: str, target: str, size: int) -> None:
    """
    Write the picture of file C{source} as a JPEG file C{target} that fits
    in a square of C{size} pixels, keeping its proportions (a smaller
    picture keeps its size).  Transparent parts become white.  The file is
    written under another name and renamed into place once complete.

    @raise ScalingUnavailable: if Pillow is not installed.
    @raise ScalingError: if Pillow cannot read C{source} or the file
        cannot be written.
    """
    if not HAS_PILLOW:
        raise ScalingUnavailable("Pillow is not installed")
    from PIL import Image, ImageOps

    part = _part(target)
    try:
        with Image.open(source) as opened:
            opened.draft("RGB", (size, size))
            image = ImageOps.exif_transpose(opened)
            image.thumbnail((size, size), Image.Resampling.LANCZOS)
            if image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info:
                image = image.convert("RGBA")
                flat = Image.new("RGB", image.size, (255, 255, 255))
                flat.paste(image, mask=image.getchannel("A"))
                image = flat
            else:
                image = image.convert("RGB")
            image.save(part, "JPEG", quality=_SCALED_QUALITY, optimize=True)
        os.replace(part, target)
    except Exception as error:
        _remove(part)
        raise ScalingError(str(error) or type(error).__name__) from error


def _remove(path: str) -> None:
    try:
        os.remove(path)
    except OSError:
        pass
