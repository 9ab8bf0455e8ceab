# -*- test-case-name: tests.library.test_playlist -*-
"""
Playlist files: reading the station's own, writing the listeners'.

Reading: L{parse_playlist} turns the bytes of an C{.m3u}, C{.m3u8} or
C{.pls} file into L{PlaylistEntry} values, resolving relative paths against
the playlist's folder.  Writing: L{render_m3u}, L{render_pls} and
L{render_xspf} describe one stream for a listener's player, at the URL
L{stream_url} builds from the request's C{Host} header.

Everything here is pure: text or bytes in, values out, no file access.
"""

from __future__ import annotations

import os.path
import re
from dataclasses import dataclass
from urllib.parse import quote, unquote, urlsplit
from xml.etree import ElementTree

__all__ = [
    "M3U_CONTENT_TYPE",
    "PLS_CONTENT_TYPE",
    "XSPF_CONTENT_TYPE",
    "PlaylistEntry",
    "parse_m3u",
    "parse_playlist",
    "parse_pls",
    "render_m3u",
    "render_pls",
    "render_xspf",
    "stream_url",
]

M3U_CONTENT_TYPE = "audio/x-mpegurl"
PLS_CONTENT_TYPE = "audio/x-scpls"
XSPF_CONTENT_TYPE = "application/xspf+xml"

_URL = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")
_PLS_KEY = re.compile(r"^(file|title|length)(\d+)$")
_XSPF_NS = "http://xspf.org/ns/0/"
# Characters XML 1.0 cannot carry even when escaped.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff\ud800-\udfff]")
_LINE_BREAKS = re.compile(r"[\r\n]+")
# A host name, IPv4 address or bracketed IPv6 address, with an optional port.
_HOST = re.compile(r"^(?:[A-Za-z0-9_](?:[A-Za-z0-9_.-]*)|\[[0-9A-Fa-f:.]+\])(?::[0-9]{1,5})?$")
_DEFAULT_PORTS = {"http": 80, "https": 443}
_PATH_SAFE = "/-._~!$&'()*+,;=:@"


@dataclass(frozen=True, slots=True)
class PlaylistEntry:
    """
    One item of a playlist file.

    @ivar location: an absolute (or, with a relative base, base-relative)
        file path, or the URL itself for a remote entry.
    @ivar title: the playlist's display title for the entry (M3U
        C{#EXTINF}, PLS C{TitleN}), or an empty string.
    @ivar duration: the playlist's length for the entry in seconds, or
        L{None} when absent or given as unknown (negative).
    @ivar remote: whether C{location} is a network URL rather than a file.
    """

    location: str
    title: str = ""
    duration: float | None = None
    remote: bool = False


def _entry(reference: str, base: str, title: str, duration: float | None) -> PlaylistEntry:
    """
    Resolve one playlist reference (path or URL) into an entry.
    """
    if _URL.match(reference):
        try:
            parts = urlsplit(reference)
        except ValueError:
            # Not a URL after all (an unbalanced "[" in the host part):
            # a remote entry nothing will play.
            return PlaylistEntry(reference, title, duration, remote=True)
        if parts.scheme.lower() != "file":
            return PlaylistEntry(reference, title, duration, remote=True)
        path = unquote(parts.path)
    else:
        path = reference.replace("\\", "/")
    return PlaylistEntry(os.path.normpath(os.path.join(base, path)), title, duration)


def _seconds(text: str) -> float | None:
    """
    A playlist length field as seconds, or L{None} for unknown or invalid.
    """
    try:
        value = float(text.strip())
    except ValueError:
        return None
    return value if value >= 0 else None


def parse_m3u(text: str, base: str) -> list[PlaylistEntry]:
    """
    Parse an M3U playlist (plain or extended).

    Blank lines and C{#} comments are skipped; C{#EXTINF:seconds,title}
    gives the title and length of the entry that follows it.  Relative
    paths (C{\\} or C{/} separated) are resolved against C{base},
    C{file://} URLs become paths, and other URLs are kept as remote entries.

    @param text: the playlist's decoded text.
    @param base: the folder relative paths are relative to.
    @return: the entries in playlist order.
    """
    entries = []
    title, duration = "", None
    for raw in text.lstrip("\ufeff").splitlines():
        line = raw.strip()
        if not line:
            continue
        if line.startswith("#"):
            if line[:8].upper() == "#EXTINF:":
                length, _, title = line[8:].partition(",")
                title = title.strip()
                duration = _seconds(length.split()[0] if length.split() else "")
            continue
        entries.append(_entry(line, base, title, duration))
        title, duration = "", None
    return entries


def parse_pls(text: str, base: str) -> list[PlaylistEntry]:
    """
    Parse a PLS playlist.

    Keys (C{FileN}, C{TitleN}, C{LengthN}) may come in any order and any
    case; entries are ordered by their number.  C{NumberOfEntries},
    C{Version}, section headers and comments are ignored, and a number with
    a title but no file gives no entry.

    @param text: the playlist's decoded text.
    @param base: the folder relative paths are relative to.
    @return: the entries in number order.
    """
    fields: dict[int, dict[str, str]] = {}
    for raw in text.lstrip("\ufeff").splitlines():
        key, sep, value = raw.partition("=")
        match = _PLS_KEY.match(key.strip().lower())
        if sep and match:
            fields.setdefault(int(match.group(2)), {})[match.group(1)] = value.strip()
    return [
        _entry(item["file"], base, item.get("title", ""), _seconds(item.get("length", "")))
        for _, item in sorted(fields.items())
        if item.get("file")
    ]


def parse_playlist(name: str, data: bytes, base: str) -> list[PlaylistEntry]:
    """
    Decode and parse a playlist file, choosing the format by its name.

    C{.m3u8} files are UTF-8.  C{.m3u} and C{.pls} files are UTF-8 when
    they decode as such (with or without a byte order mark), else Latin-1.
    Bytes that are not UTF-8 in an C{.m3u8} file are kept as the
    surrogate escapes Python uses for undecodable file names.

    @param name: the playlist's file name or path.
    @param data: its contents.
    @param base: the folder relative paths are relative to.
    @return: the entries in playlist order.
    @raise ValueError: if the name has none of the known extensions.
    """
    extension = os.path.splitext(name)[1].lower()
    if extension == ".m3u8":
        return parse_m3u(data.decode("utf-8-sig", "surrogateescape"), base)
    if extension not in (".m3u", ".pls"):
        raise ValueError(f"not a playlist file (.m3u, .m3u8, .pls): {name}")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = data.decode("latin-1")
    return parse_m3u(text, base) if extension == ".m3u" else parse_pls(text, base)


def _one_line(text: str) -> str:
    """
    Flatten a title onto one line so that it cannot add playlist lines.
    """
    return _LINE_BREAKS.sub(" ", text).strip()


def render_m3u(url: str, title: str) -> str:
    """
    An extended M3U playlist holding one stream.

    @param url: the stream's URL (see L{stream_url}).
    @param title: the station's name.
    @return: the playlist text, to be sent as UTF-8 with
        L{M3U_CONTENT_TYPE}.
    """
    return f"#EXTM3U\n#EXTINF:-1,{_one_line(title)}\n{_one_line(url)}\n"


def render_pls(url: str, title: str) -> str:
    """
    A PLS playlist holding one stream.

    @param url: the stream's URL (see L{stream_url}).
    @param title: the station's name.
    @return: the playlist text, to be sent as UTF-8 with
        L{PLS_CONTENT_TYPE}.
    """
    return (
        "[playlist]\n"
        "NumberOfEntries=1\n"
        f"File1={_one_line(url)}\n"
        f"Title1={_one_line(title)}\n"
        "Length1=-1\n"
        "Version=2\n"
    )


def render_xspf(url: str, title: str, annotation: str = "") -> str:
    """
    An XSPF playlist holding one stream.

    @param url: the stream's URL (see L{stream_url}).
    @param title: the station's name.
    @param annotation: a description of the station, or empty for none.
    @return: the XML document, to be sent as UTF-8 with
        L{XSPF_CONTENT_TYPE}.
    """

    def element(parent: ElementTree.Element, tag: str, text: str) -> None:
        ElementTree.SubElement(parent, tag).text = _NOT_XML.sub("", text)

    playlist = ElementTree.Element("playlist", version="1", xmlns=_XSPF_NS)
    element(playlist, "title", title)
    track = ElementTree.SubElement(ElementTree.SubElement(playlist, "trackList"), "track")
    element(track, "location", url)
    element(track, "title", title)
    if annotation:
        element(track, "annotation", annotation)
    ElementTree.indent(playlist)
    body = ElementTree.tostring(playlist, encoding="unicode")
    return f'<?xml version="1.0" encoding="UTF-8"?>\n{body}\n'


def stream_url(
    host_header: str | None,
    default_host: str,
    port: int,
    path: str,
    scheme: str = "http",
) -> str:
    """
    The URL of C{path} as the client reached the server.

    The client's C{Host} header (with its port, if it gave one) is used
    when it is a plain host name, IPv4 address or bracketed IPv6 address;
    a missing, empty or malformed header (anything that could smuggle
    other characters into a playlist) is replaced by C{default_host} and
    C{port}, the port being left out when it is the scheme's default.

    @param host_header: the request's C{Host} header value, or L{None}.
    @param default_host: the server's own name or address.
    @param port: the port the server listens on.
    @param path: the resource's path, such as C{"/live"}; characters not
        allowed in a URL path are percent-encoded.
    @param scheme: C{"http"} or C{"https"}.
    @return: an absolute URL.
    """
    host = (host_header or "").strip()
    if not _HOST.match(host):
        host = default_host
        if ":" in host and not host.startswith("["):
            host = f"[{host}]"
        if port != _DEFAULT_PORTS.get(scheme):
            host = f"{host}:{port}"
    if not path.startswith("/"):
        path = "/" + path
    return f"{scheme}://{host}{quote(path, safe=_PATH_SAFE)}"
