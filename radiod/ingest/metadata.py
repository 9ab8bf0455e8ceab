# -*- test-case-name: tests.ingest.test_metadata -*-
"""
Metadata update requests from live sources, and the replies to them.

Icecast's C{/admin/metadata?mount=/live&mode=updinfo&song=...} (as a query
or as an C{application/x-www-form-urlencoded} C{POST} body) and
SHOUTcast's C{/admin.cgi?mode=updinfo&pass=...&song=...} are read by
L{parse_update} into a L{MetadataUpdate}.  Values are percent-decoded to
bytes first and then decoded with the request's C{charset}, so a title
sent as ISO-8859-1 arrives intact.  L{icecast_reply} and L{shoutcast_reply}
build the bodies Icecast 2.4 answers with.

Everything here is pure: text and bytes in, values out.
"""

from __future__ import annotations

import codecs
from dataclasses import dataclass
from urllib.parse import unquote_to_bytes
from xml.sax.saxutils import escape

__all__ = [
    "ADMIN_CGI",
    "HTML_CONTENT_TYPE",
    "MAX_BODY",
    "METADATA_PATH",
    "SUCCESS",
    "XML_CONTENT_TYPE",
    "MetadataError",
    "MetadataUpdate",
    "decode_value",
    "icecast_reply",
    "parse_form",
    "parse_update",
    "raw_query",
    "shoutcast_reply",
]

METADATA_PATH = "/admin/metadata"
"""
Icecast's metadata update path.
"""

ADMIN_CGI = "/admin.cgi"
"""
SHOUTcast's admin path, which takes metadata updates from SHOUTcast v1
sources.
"""

MAX_BODY = 8192
"""
The largest form body a metadata update may have, in bytes.
"""

XML_CONTENT_TYPE = "text/xml; charset=utf-8"
"""
The content type of Icecast's XML admin replies.
"""

HTML_CONTENT_TYPE = "text/html; charset=utf-8"
"""
The content type of the reply to C{/admin.cgi}.
"""

SUCCESS = "Metadata update successful"
"""
The message of a successful update.
"""


class MetadataError(Exception):
    """
    A metadata update request cannot be carried out.

    @ivar status: the HTTP status to answer.
    @ivar message: the text of the reply's message.
    """

    def __init__(self, status: int, message: str) -> None:
        super().__init__(status, message)
        self.status = status
        self.message = message


@dataclass(frozen=True)
class MetadataUpdate:
    """
    One metadata update request, parsed but not yet judged.

    @ivar mount: the mount named by C{mount=}, or C{None} if not given.
    @ivar mode: C{mode=}, or C{None} if not given.
    @ivar song: the new stream title: C{song=}, else C{"artist - title"}
        when both are given, else C{None}.
    @ivar password: SHOUTcast's C{pass=}, or C{None} if not given.
    """

    mount: str | None
    mode: str | None
    song: str | None
    password: str | None = None

    def title(self) -> str:
        """
        The new title, once the request has been checked.

        @return: L{song}.
        @raise MetadataError: 400 C{"Missing parameter"} without C{mode=},
            400 C{"No such action"} for a mode other than C{updinfo}, and
            400 C{"No song given"} without a title.
        """
        if self.mode is None:
            raise MetadataError(400, "Missing parameter")
        if self.mode.strip().lower() != "updinfo":
            raise MetadataError(400, "No such action")
        if self.song is None:
            raise MetadataError(400, "No song given")
        return self.song


def raw_query(target: str) -> str:
    """
    The still percent-encoded query of a request target.

    @param target: the target as sent, C{/admin/metadata?mode=updinfo&...}.
    @return: what follows the first C{?}, or C{""}.
    """
    return target.partition("?")[2].partition("#")[0]


def parse_form(text: str | bytes) -> dict[str, list[bytes]]:
    """
    Split an C{application/x-www-form-urlencoded} string, without decoding
    the values to text.

    @param text: a query string or form body.
    @return: each key (decoded as UTF-8, or Latin-1 when it is not UTF-8)
        mapped to its values in order, as bytes with C{+} read as a space
        and percent escapes decoded.
    """
    if isinstance(text, bytes):
        text = text.decode("latin-1")
    result: dict[str, list[bytes]] = {}
    for item in text.split("&"):
        if not item:
            continue
        key, _, value = item.partition("=")
        name = _default_decode(unquote_to_bytes(key.replace("+", " ")))
        result.setdefault(name, []).append(unquote_to_bytes(value.replace("+", " ")))
    return result


def _default_decode(raw: bytes) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("latin-1")


def decode_value(raw: bytes, charset: str | None = None) -> str:
    """
    Decode a percent-decoded value.

    @param raw: the value's bytes.
    @param charset: the request's C{charset=}, or C{None}.
    @return: C{raw} decoded with C{charset} (undecodable bytes replaced)
        when it names a known codec; otherwise as UTF-8, or as Latin-1 when
        it is not valid UTF-8.
    """
    if charset:
        try:
            codecs.lookup(charset.strip())
        except LookupError:
            pass
        else:
            return raw.decode(charset.strip(), errors="replace")
    return _default_decode(raw)


def _first(form: dict[str, list[bytes]], key: str) -> bytes | None:
    values = form.get(key)
    return values[0] if values else None


def parse_update(query: str, body: bytes = b"") -> MetadataUpdate:
    """
    Read a metadata update from a request's query and form body.

    A key given in both takes its value from the query.  C{song=} is the
    whole title; without it, C{artist=} and C{title=} (both needed) make
    C{"artist - title"}.  Values are decoded with C{charset=} (see
    L{decode_value}); the mount name, mode and password as UTF-8 or
    Latin-1.

    @param query: the raw query (see L{raw_query}).
    @param body: a form body, or C{b""}.
    @return: the update; L{MetadataUpdate.title} judges it.
    """
    form = parse_form(body)
    for key, values in parse_form(query).items():
        form[key] = values + form.get(key, [])
    charset_bytes = _first(form, "charset")
    charset = charset_bytes.decode("latin-1") if charset_bytes else None

    def get(key: str, charset: str | None = None) -> str | None:
        raw = _first(form, key)
        return None if raw is None else decode_value(raw, charset)

    song = get("song", charset)
    if not song:
        artist, name = get("artist", charset), get("title", charset)
        song = f"{artist} - {name}" if artist and name else None
    return MetadataUpdate(mount=get("mount"), mode=get("mode"), song=song, password=get("pass"))


def icecast_reply(message: str, success: bool) -> bytes:
    """
    An Icecast admin reply body.

    @param message: the message, C{"Metadata update successful"} say.
    @param success: whether the command succeeded (C{<return>} 1 or 0).
    @return: the XML document, UTF-8 encoded.
    """
    return (
        '<?xml version="1.0"?>\n<iceresponse><message>'
        f"{escape(message)}</message><return>{1 if success else 0}</return>"
        "</iceresponse>"
    ).encode()


def shoutcast_reply(message: str) -> bytes:
    """
    The HTML page Icecast answers C{/admin.cgi} with.

    @param message: the message to show.
    @return: the page, UTF-8 encoded.
    """
    return (
        "<html><head><title>Admin request successful</title></head>"
        f"<body><p>{escape(message)}</p></body></html>"
    ).encode()
