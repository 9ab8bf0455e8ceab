# -*- test-case-name: tests.library.test_tags,tests.library.test_art -*-
"""
Track metadata from tags, with the file name as the last resort.

For an MP3 file, L{read_track_info} reads ID3v2, APEv2 and ID3v1 tags with
mutagen, in that order of preference field by field, and the playing time
from the MPEG stream.  For the other formats it reads the format's own
tags with mutagen: Vorbis comments (FLAC, Ogg Vorbis, Opus), MP4 atoms
(M4A), ID3 (AIFF, WAV, and an ID3v2 tag in front of raw AAC) or a WAV
file's C{LIST INFO} chunk; and the playing time from the stream.  It
blocks, so it runs in a thread, and it never raises for a bad or missing
file: whatever it cannot learn from tags it takes from the name.

It also finds the picture embedded in the tags (an ID3 C{APIC} frame, an
MP4 C{covr} atom, a FLAC picture block or a Vorbis comment's
C{METADATA_BLOCK_PICTURE}), the front cover when one is marked as such,
and gives the track its art id (see L{radiod.library.art});
L{read_picture} reads the same picture again when it is to be served.
"""

from __future__ import annotations

import base64
import os
import re
from collections.abc import Callable, Iterable, Mapping
from typing import IO, Any, TypeVar

import mutagen
from mutagen.aac import AAC
from mutagen.apev2 import APENoHeaderError, APETextValue, APEv2
from mutagen.flac import Picture as FlacPicture
from mutagen.id3 import ID3, ID3NoHeaderError, ParseID3v1
from mutagen.id3 import PictureType as _PictureType
from mutagen.mp3 import MPEGInfo
from mutagen.mp4 import MP4Tags

from radiod.audio.track import TrackInfo
from radiod.library.art import Picture, identify

__all__ = [
    "clean_text",
    "embedded_picture",
    "info_from_name",
    "read_picture",
    "read_track_info",
    "riff_info_fields",
]

_FIELDS = ("title", "artist", "album")

# Frame identifiers by field, most wanted first.
_ID3_FRAMES: Mapping[str, tuple[str, ...]] = {
    "title": ("TIT2",),
    "artist": ("TPE1", "TPE2"),
    "album": ("TALB",),
}

# MP4 atoms by field, most wanted first.
_MP4_ATOMS: Mapping[str, tuple[str, ...]] = {
    "title": ("\xa9nam",),
    "artist": ("\xa9ART", "aART"),
    "album": ("\xa9alb",),
}

# Vorbis comment (and APEv2) keys by field, lower-cased, most wanted first.
_COMMENT_KEYS: Mapping[str, tuple[str, ...]] = {
    "title": ("title",),
    "artist": ("artist", "albumartist", "album artist"),
    "album": ("album",),
}

# RIFF INFO chunk identifiers by field.
_RIFF_INFO: Mapping[bytes, str] = {b"INAM": "title", b"IART": "artist", b"IPRD": "album"}

_CONTROL = re.compile(r"[\x00-\x1f\x7f]+")
_TRACK_NUMBER = re.compile(r"^\d{1,3}\s*[-.]\s+")
_ID3V1_SIZE = 128
_FRONT_COVER = int(_PictureType.COVER_FRONT)
_ID3_TEXT_FRAMES = ("TIT2", "TPE1", "TPE2", "TALB")

_T = TypeVar("_T")

# mutagen's loaders carry no annotations; these names give them types.
_load_id3: Callable[..., Any] = ID3
_load_ape: Callable[..., Any] = APEv2
_parse_id3v1: Callable[[bytes], dict[str, Any] | None] = ParseID3v1
_load_file: Callable[..., Any] = mutagen.File
_load_flac_picture: Callable[[bytes], Any] = FlacPicture


def clean_text(value: str) -> str:
    """
    Make a tag value or name fit for display and for the wire.

    Control characters (NULs included) become single spaces, characters
    that cannot be encoded as UTF-8 (lone surrogates from undecodable file
    names) become C{"?"}, and surrounding whitespace is removed.
    """
    value = value.encode("utf-8", "replace").decode("utf-8")
    return _CONTROL.sub(" ", value).strip()


def _joined(values: Iterable[object]) -> str:
    """
    Join a multi-valued tag (values may themselves be NUL-separated).
    """
    parts = [clean_text(part) for value in values for part in str(value).split("\x00")]
    return " / ".join(part for part in parts if part)


def info_from_name(path: str, display_title: str = "") -> TrackInfo:
    """
    Guess a track's title and artist from its name.

    The name is C{display_title} when one is given (a playlist's own title
    for the entry), otherwise the file name without its extension, with
    underscores read as spaces and a leading track number (C{"01 - "},
    C{"01. "}) dropped.  C{"Artist - Title"} splits at the first C{" - "};
    anything else is the title alone.

    @param path: the file's path.
    @param display_title: a title to prefer over the file name.
    @return: a L{TrackInfo} with no album and no duration.
    """
    name = clean_text(display_title)
    if not name:
        stem = os.path.splitext(os.path.basename(path))[0]
        name = clean_text(stem.replace("_", " "))
        name = _TRACK_NUMBER.sub("", name, count=1).strip() or name
    artist, sep, title = name.partition(" - ")
    if sep and artist.strip() and title.strip():
        return TrackInfo(path=path, title=title.strip(), artist=artist.strip())
    return TrackInfo(path=path, title=name or clean_text(os.path.basename(path)) or path)


def _id3v2_tag(fileobj: IO[bytes]) -> Any:
    """
    Read the ID3v2 tag at the start of the file, or C{None} without one.
    """
    fileobj.seek(0)
    try:
        return _load_id3(fileobj, load_v1=False)
    except ID3NoHeaderError:
        return None


def _id3_fields(tag: Any) -> dict[str, str]:
    """
    The fields of an ID3 tag (or of any tag with ID3 frames).
    """
    return _frame_fields({key: tag.getall(key) for key in _ID3_TEXT_FRAMES})


def _id3v1_fields(fileobj: IO[bytes]) -> dict[str, str]:
    """
    Read the ID3v1 tag in the file's last 128 bytes.
    """
    fileobj.seek(0, os.SEEK_END)
    if fileobj.tell() < _ID3V1_SIZE:
        return {}
    fileobj.seek(-_ID3V1_SIZE, os.SEEK_END)
    data = fileobj.read(_ID3V1_SIZE)
    if not data.startswith(b"TAG"):
        return {}
    frames = _parse_id3v1(data)
    if not frames:
        return {}
    return _frame_fields({key: [frame] for key, frame in frames.items()})


def _frame_fields(frames: Mapping[str, list[Any]]) -> dict[str, str]:
    """
    Pick each field's text from ID3 text frames keyed by identifier.
    """
    fields = {}
    for field, keys in _ID3_FRAMES.items():
        for key in keys:
            text = _joined(value for frame in frames.get(key, []) for value in frame.text)
            if text:
                fields[field] = text
                break
    return fields


def _ape_fields(fileobj: IO[bytes]) -> dict[str, str]:
    """
    Read an APEv2 tag (at the end of the file, before any ID3v1 tag).
    """
    fileobj.seek(0)
    try:
        tag = _load_ape(fileobj)
    except APENoHeaderError:
        return {}
    fields = {}
    for key, value in tag.items():
        field = str(key).lower()
        if field in _FIELDS and isinstance(value, APETextValue):
            text = _joined(value)
            if text:
                fields[field] = text
    return fields


def _duration(fileobj: IO[bytes]) -> float:
    """
    The MPEG stream's playing time in seconds, or 0.0 when unknown.
    """
    fileobj.seek(0)
    length = float(MPEGInfo(fileobj).length)
    return length if length > 0 else 0.0


def _attempt(read: Callable[[IO[bytes]], _T], fileobj: IO[bytes], default: _T) -> _T:
    """
    Call C{read(fileobj)}, returning C{default} if the file defeats it.

    Damaged files make mutagen raise all sorts of exceptions, and none of
    them may stop a track from getting a name.
    """
    try:
        return read(fileobj)
    except Exception:
        return default


def _comment_fields(tags: Any) -> dict[str, str]:
    """
    Pick each field's text from Vorbis comments (or any tag mapping keys
    to lists of text), keys compared without regard to case.
    """
    values: dict[str, Any] = {}
    for key, value in tags.items():
        values.setdefault(str(key).lower(), value)
    fields = {}
    for field, keys in _COMMENT_KEYS.items():
        for key in keys:
            value = values.get(key)
            text = _joined(value if isinstance(value, list) else [value]) if value else ""
            if text:
                fields[field] = text
                break
    return fields


def _mp4_fields(tags: Any) -> dict[str, str]:
    """
    Pick each field's text from MP4 atoms.
    """
    fields = {}
    for field, keys in _MP4_ATOMS.items():
        for key in keys:
            text = _joined(tags.get(key, []))
            if text:
                fields[field] = text
                break
    return fields


def riff_info_fields(fileobj: IO[bytes]) -> dict[str, str]:
    """
    Read the title, artist and album of a WAV file's C{LIST INFO} chunk
    (C{INAM}, C{IART}, C{IPRD}), walking the RIFF chunks without reading
    the audio.  Text is UTF-8, or Latin-1 when it does not decode as such.
    """
    fileobj.seek(0)
    head = fileobj.read(12)
    if len(head) < 12 or head[:4] != b"RIFF" or head[8:12] != b"WAVE":
        return {}
    while True:
        chunk = fileobj.read(8)
        if len(chunk) < 8:
            return {}
        size = int.from_bytes(chunk[4:8], "little")
        if chunk[:4] == b"LIST":
            body = fileobj.read(size)
            if body[:4] == b"INFO":
                return _info_items(body[4:])
            if size & 1:
                fileobj.seek(1, os.SEEK_CUR)
        else:
            fileobj.seek(size + (size & 1), os.SEEK_CUR)


def _info_items(body: bytes) -> dict[str, str]:
    """
    The fields of the items of a C{LIST INFO} chunk.
    """
    fields: dict[str, str] = {}
    position = 0
    while position + 8 <= len(body):
        item = body[position : position + 4]
        length = int.from_bytes(body[position + 4 : position + 8], "little")
        raw = body[position + 8 : position + 8 + length].split(b"\x00", 1)[0]
        position += 8 + length + (length & 1)
        field = _RIFF_INFO.get(item)
        if field is None or field in fields:
            continue
        try:
            text = clean_text(raw.decode("utf-8"))
        except UnicodeDecodeError:
            text = clean_text(raw.decode("latin-1"))
        if text:
            fields[field] = text
    return fields


def _vorbis_pictures(tags: Any) -> list[tuple[int, bytes]]:
    """
    The pictures of Vorbis comments, with their picture types: the FLAC
    picture blocks of C{METADATA_BLOCK_PICTURE} (in Base64), then the
    bare pictures of the older C{COVERART}.  A value that does not decode
    stands for a damaged picture, as empty bytes.
    """
    found: list[tuple[int, bytes]] = []
    for value in tags.get("metadata_block_picture", []):
        try:
            block = _load_flac_picture(base64.b64decode(str(value)))
            found.append((int(block.type), bytes(block.data)))
        except Exception:
            found.append((0, b""))
    for value in tags.get("coverart", []):
        try:
            found.append((0, base64.b64decode(str(value))))
        except ValueError:
            found.append((0, b""))
    return found


def embedded_picture(audio: Any) -> bytes | None:
    """
    The bytes of the picture embedded in what mutagen read: a file's FLAC
    picture blocks and tags, or a tag itself (ID3 C{APIC} frames, MP4
    C{covr} atoms, Vorbis comments' pictures).  Of several pictures, the
    first marked as the front cover is taken, else the first.

    @param audio: a mutagen file, or a mutagen tag.
    @return: the picture's bytes as stored (not checked to be a picture),
        or C{None} when there is none.
    """
    found: list[tuple[int, bytes]] = [
        (int(picture.type), bytes(picture.data)) for picture in getattr(audio, "pictures", [])
    ]
    tags = audio.tags if hasattr(audio, "info") else audio
    if tags is None:
        pass
    elif hasattr(tags, "getall"):
        found += [(int(frame.type), bytes(frame.data)) for frame in tags.getall("APIC")]
    elif isinstance(tags, MP4Tags):
        found += [(_FRONT_COVER, bytes(cover)) for cover in tags.get("covr", [])]
    elif hasattr(tags, "get"):
        found += _vorbis_pictures(tags)
    if not found:
        return None
    fronts = [data for kind, data in found if kind == _FRONT_COVER]
    return fronts[0] if fronts else found[0][1]


_Read = tuple[dict[str, str], float, bytes | None]


def _other_fields(path: str, fileobj: IO[bytes]) -> _Read:
    """
    Read the tags, the playing time and the embedded picture of a file in
    another format than MP3 with mutagen.
    """
    raw_aac = path.lower().endswith(".aac")
    fileobj.seek(0)
    # A raw AAC stream with an ID3v2 tag looks like MP3 to mutagen's guess.
    audio = _load_file(fileobj, options=[AAC] if raw_aac else None)
    duration = 0.0
    fields: dict[str, str] = {}
    picture = None
    if audio is not None:
        length = float(getattr(audio.info, "length", 0.0) or 0.0)
        duration = length if length > 0 else 0.0
        tags = audio.tags
        if tags is None:
            pass
        elif hasattr(tags, "getall"):
            fields = _id3_fields(tags)
        elif isinstance(tags, MP4Tags):
            fields = _mp4_fields(tags)
        else:
            fields = _comment_fields(tags)
        picture = _attempt(embedded_picture, audio, None)
    if raw_aac and not (fields and picture is not None):
        tag = _attempt(_id3v2_tag, fileobj, None)
        if tag is not None:
            fields = fields or _attempt(_id3_fields, tag, {})
            picture = picture if picture is not None else _attempt(embedded_picture, tag, None)
    if not fields and path.lower().endswith(".wav"):
        fields = _attempt(riff_info_fields, fileobj, {})
    return fields, duration, picture


def _mp3_fields(fileobj: IO[bytes]) -> _Read:
    """
    Read the tags, the playing time and the embedded picture of an MP3
    file: each field from the first of ID3v2, APEv2 and ID3v1 that has
    it.
    """
    fields: dict[str, str] = {}
    nothing: dict[str, str] = {}
    for reader in (_id3v1_fields, _ape_fields):
        fields.update(_attempt(reader, fileobj, nothing))
    picture = None
    tag = _attempt(_id3v2_tag, fileobj, None)
    if tag is not None:
        fields.update(_attempt(_id3_fields, tag, nothing))
        picture = _attempt(embedded_picture, tag, None)
    return fields, _attempt(_duration, fileobj, 0.0), picture


def _read_file(path: str) -> _Read:
    """
    Read what the tags and the stream of the file at C{path} say: its
    fields, its playing time and its embedded picture's bytes.  Never
    raises.
    """
    nothing: _Read = ({}, 0.0, None)
    try:
        with open(path, "rb") as fileobj:
            if path.lower().endswith(".mp3"):
                return _mp3_fields(fileobj)
            return _attempt(lambda f: _other_fields(path, f), fileobj, nothing)
    except OSError:
        return nothing


def read_picture(path: str) -> Picture | None:
    """
    The picture embedded in the tags of the file at C{path}: the one
    L{read_track_info} takes the file's art id from.  Blocks on file I/O.

    @return: the picture, or C{None} when the file has none, or none that
        is a picture (logged), or cannot be read.
    """
    data = _read_file(path)[2]
    return identify(data, path) if data is not None else None


def read_track_info(path: str, display_title: str = "") -> TrackInfo:
    """
    Describe the audio file at C{path} from its tags and stream.

    For an MP3 file, each of title, artist and album comes from the first
    tag that has it: ID3v2 (C{TIT2}; C{TPE1}, else C{TPE2}; C{TALB}), then
    APEv2 (C{Title}, C{Artist}, C{Album}, any case), then ID3v1.  Other
    formats' tags are read as mutagen reads them: Vorbis comments
    (C{TITLE}; C{ARTIST}, else C{ALBUMARTIST}; C{ALBUM}), MP4 atoms
    (C{\xa9nam}; C{\xa9ART}, else C{aART}; C{\xa9alb}), ID3 in AIFF and
    WAV files and in front of raw AAC, and a WAV file's C{LIST INFO}
    chunk.  When no tag gives a title, title and artist come from
    L{info_from_name}.  The art id is that of the embedded picture (see
    L{embedded_picture}); one that is not a picture is skipped with a log
    line.  Blocks on file I/O.

    @param path: the file to read.
    @param display_title: a title to use instead of the file name when the
        file has no title tag (a playlist's title for the entry).
    @return: the track's description; never raises for an unreadable,
        missing or damaged file.
    """
    fields, duration, data = _read_file(path)
    picture = identify(data, path) if data is not None else None
    if "title" not in fields:
        guess = info_from_name(path, display_title)
        fields["title"] = guess.title
        if guess.artist:
            fields.setdefault("artist", guess.artist)
    return TrackInfo(
        path=path,
        title=fields["title"],
        artist=fields.get("artist", ""),
        album=fields.get("album", ""),
        duration=duration,
        art=picture.id if picture is not None else "",
    )
