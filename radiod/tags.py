# -*- test-case-name: tests.test_tags -*-
"""
Track metadata from tags, with the file name as the last resort.

L{read_track_info} reads ID3v2, APEv2 and ID3v1 tags with mutagen, in that
order of preference field by field, and the playing time from the MPEG
stream.  It blocks, so it runs in a thread, and it never raises for a bad
or missing file: whatever it cannot learn from tags it takes from the name.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterable, Mapping
from typing import IO, Any, TypeVar

from mutagen.apev2 import APENoHeaderError, APETextValue, APEv2
from mutagen.id3 import ID3, ID3NoHeaderError, ParseID3v1
from mutagen.mp3 import MPEGInfo

from radiod.track import TrackInfo

__all__ = ["clean_text", "info_from_name", "read_track_info"]

_FIELDS = ("title", "artist", "album")

# Frame identifiers by field, most wanted first.
_ID3_FRAMES: Mapping[str, tuple[str, ...]] = {
    "title": ("TIT2",),
    "artist": ("TPE1", "TPE2"),
    "album": ("TALB",),
}

_CONTROL = re.compile(r"[\x00-\x1f\x7f]+")
_TRACK_NUMBER = re.compile(r"^\d{1,3}\s*[-.]\s+")
_ID3V1_SIZE = 128

_T = TypeVar("_T")

# mutagen's loaders carry no annotations; these names give them types.
_load_id3: Callable[..., Any] = ID3
_load_ape: Callable[..., Any] = APEv2
_parse_id3v1: Callable[[bytes], dict[str, Any] | None] = ParseID3v1


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


def _id3v2_fields(fileobj: IO[bytes]) -> dict[str, str]:
    """
    Read the ID3v2 tag at the start of the file.
    """
    fileobj.seek(0)
    try:
        tag = _load_id3(fileobj, load_v1=False)
    except ID3NoHeaderError:
        return {}
    return _frame_fields({key: tag.getall(key) for key in ("TIT2", "TPE1", "TPE2", "TALB")})


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


def read_track_info(path: str, display_title: str = "") -> TrackInfo:
    """
    Describe the MP3 file at C{path} from its tags and stream.

    Each of title, artist and album comes from the first tag that has it:
    ID3v2 (C{TIT2}; C{TPE1}, else C{TPE2}; C{TALB}), then APEv2 (C{Title},
    C{Artist}, C{Album}, any case), then ID3v1.  When no tag gives a title,
    title and artist come from L{info_from_name}.  Blocks on file I/O.

    @param path: the file to read.
    @param display_title: a title to use instead of the file name when the
        file has no title tag (a playlist's title for the entry).
    @return: the track's description; never raises for an unreadable,
        missing or damaged file.
    """
    fields: dict[str, str] = {}
    nothing: dict[str, str] = {}
    duration = 0.0
    try:
        with open(path, "rb") as fileobj:
            for reader in (_id3v1_fields, _ape_fields, _id3v2_fields):
                fields.update(_attempt(reader, fileobj, nothing))
            duration = _attempt(_duration, fileobj, 0.0)
    except OSError:
        pass
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
    )
