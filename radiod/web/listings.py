# -*- test-case-name: tests.web.test_admin -*-
"""
What the admin interface lists, as documents: Icecast's C{listclients}
and C{listmounts} XML, and a library track as radiod's admin API shows
it.  Pure: values in, bytes or JSON-ready values out.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any
from xml.sax.saxutils import escape

from radiod.audio.track import TrackInfo
from radiod.library.library import Library, track_id

__all__ = [
    "ClientRow",
    "MountRow",
    "render_listclients",
    "render_listmounts",
    "track_json",
]

# Characters XML 1.0 cannot carry at all, even escaped.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


@dataclass(frozen=True)
class ClientRow:
    """
    One listener, as C{listclients} shows it.

    @ivar id: the listener's number.
    @ivar ip: its address.
    @ivar user_agent: its C{User-Agent}, or C{""} when it sent none.
    @ivar connected: whole seconds since it connected.
    @ivar lag: bytes of audio it is behind the head of the stream.
    """

    id: int
    ip: str
    user_agent: str
    connected: int
    lag: int


@dataclass(frozen=True)
class MountRow:
    """
    One mount, as C{listmounts} shows it.

    @ivar name: the mount's path.
    @ivar fallback: its fallback mount, or C{""}.
    @ivar listeners: listeners connected now.
    @ivar connected: whole seconds since its stream started (the station,
        or the live source on air).
    @ivar content_type: the stream's content type.
    """

    name: str
    fallback: str
    listeners: int
    connected: int
    content_type: str = "audio/mpeg"


def _xml_text(text: str) -> str:
    """
    C{text} escaped for XML content, with what XML cannot carry replaced.
    """
    return escape(_NOT_XML.sub("\ufffd", text))


def _xml_attribute(text: str) -> str:
    """
    C{text} as a double-quoted XML attribute value.
    """
    return '"' + escape(_NOT_XML.sub("\ufffd", text), {'"': "&quot;"}) + '"'


def _elements(fields: Iterable[tuple[str, object]]) -> str:
    return "".join(f"<{name}>{_xml_text(str(value))}</{name}>" for name, value in fields)


def render_listclients(mount: str, clients: Sequence[ClientRow]) -> bytes:
    """
    Icecast's C{/admin/listclients} document: the mount's C{source}
    element with C{Listeners} (capitalised, as Icecast 2.4 writes it) and
    a C{listener} element for each client: C{IP}, C{UserAgent}
    (C{Unknown} when it sent none), C{Connected}, C{ID}, and C{lag}.

    @param mount: the mount's name.
    @param clients: its listeners, in the order to list them.
    @return: the UTF-8 XML document.
    """
    parts = [
        '<?xml version="1.0"?>\n<icestats>',
        f"<source mount={_xml_attribute(mount)}>",
        _elements([("Listeners", len(clients))]),
    ]
    for client in clients:
        fields = [
            ("IP", client.ip),
            ("UserAgent", client.user_agent or "Unknown"),
            ("Connected", client.connected),
            ("ID", client.id),
            ("lag", client.lag),
        ]
        parts.append(f"<listener>{_elements(fields)}</listener>")
    parts.append("</source></icestats>\n")
    return "".join(parts).encode("utf-8")


def render_listmounts(mounts: Sequence[MountRow]) -> bytes:
    """
    Icecast's C{/admin/listmounts} document: a C{source} element per mount
    with C{fallback}, C{listeners}, C{Connected} and C{content-type}.

    @param mounts: the mounts, in the order to list them.
    @return: the UTF-8 XML document.
    """
    parts = ['<?xml version="1.0"?>\n<icestats>']
    for mount in mounts:
        fields = [
            ("fallback", mount.fallback),
            ("listeners", mount.listeners),
            ("Connected", mount.connected),
            ("content-type", mount.content_type),
        ]
        parts.append(f"<source mount={_xml_attribute(mount.name)}>{_elements(fields)}</source>")
    parts.append("</icestats>\n")
    return "".join(parts).encode("utf-8")


def track_json(track: TrackInfo, library: Library) -> dict[str, Any]:
    """
    A library track as the admin API shows it.

    @param track: the track.
    @param library: its library (for its path relative to the library).
    @return: C{id} (see L{radiod.library.library.track_id}), C{path}, C{title},
        C{artist}, C{album} and C{duration} (seconds, or C{None} when
        unknown).
    """
    duration = track.duration
    return {
        "id": track_id(track.path),
        "path": library.relative(track.path),
        "title": track.title,
        "artist": track.artist,
        "album": track.album,
        "duration": round(duration, 3) if math.isfinite(duration) and duration > 0 else None,
    }
