# -*- test-case-name: tests.test_request -*-
"""
HTTP/1.x and ICY request heads: an incremental parser for what listeners and
source clients send, and a builder for response heads.

The parser is strict about framing (CRLF line ends, no obs-fold, one
Content-Length, a bounded head) because a radio server has no use for the
lenient corners of HTTP and every one of them is a smuggling or
denial-of-service risk. It is lenient about content: unknown methods and
headers are returned for the router to judge.

Everything here is pure: bytes in, values out, no I/O and no reactor.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from urllib.parse import unquote, unquote_to_bytes

__all__ = [
    "MAX_HEAD",
    "REASONS",
    "Request",
    "RequestError",
    "RequestParser",
    "build_response_head",
]

MAX_HEAD = 8192
"""
The most bytes a request line and its headers may take, final blank line
included.
"""

REASONS: dict[int, str] = {
    100: "Continue",
    200: "OK",
    204: "No Content",
    206: "Partial Content",
    302: "Found",
    304: "Not Modified",
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    408: "Request Timeout",
    409: "Conflict",
    411: "Length Required",
    413: "Content Too Large",
    415: "Unsupported Media Type",
    416: "Range Not Satisfiable",
    431: "Request Header Fields Too Large",
    500: "Internal Server Error",
    503: "Service Unavailable",
    505: "HTTP Version Not Supported",
}
"""
Reason phrases for the statuses radiod sends.
"""

_VERSIONS = ("HTTP/1.0", "HTTP/1.1")
_TOKEN = re.compile(rb"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_TOKEN_STR = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_VERSION = re.compile(rb"HTTP/[0-9]\.[0-9]")
# Printable ASCII only: no controls, no DEL, no bytes above 0x7E.
_REQUEST_LINE_BYTES = re.compile(rb"[\x21-\x7e]+")
# Anything a field value may not contain: controls other than HTAB, and DEL.
_BAD_VALUE_BYTES = re.compile(rb"[\x00-\x08\x0a-\x1f\x7f]")
_ABSOLUTE = re.compile(r"(?i)https?://([^/?#]+)(.*)")
_ATOI = re.compile(r"[+-]?([0-9]+)")


class RequestError(Exception):
    """
    The request cannot be served; answer with C{status} and close.

    @ivar status: the HTTP status to answer with (400, 431, 505).
    @ivar reason: a short phrase for the log and the response body.
    """

    def __init__(self, status: int, reason: str) -> None:
        """
        @param status: the HTTP status to answer with.
        @param reason: a short phrase saying what was wrong.
        """
        super().__init__(status, reason)
        self.status = status
        self.reason = reason

    def __str__(self) -> str:
        """
        @return: C{"<status> <reason>"}.
        """
        return f"{self.status} {self.reason}"


_KEPT_HEADERS = frozenset({"user-agent", "referer"})
_NO_QUERY: dict[str, list[str]] = {}  # Shared by kept requests; never changed.


@dataclass(frozen=True, slots=True)
class Request:
    """
    A parsed request head.

    @ivar method: the method token, as sent (C{GET}, C{SOURCE}, C{PUT} ...).
    @ivar target: the request target exactly as sent.
    @ivar path: the percent-decoded path, without the query; for an
        absolute-form target, only its path part; C{"*"} for C{OPTIONS *}.
    @ivar query: the query's keys mapped to their values in order, with
        C{+} as space and each item decoded as UTF-8, or as Latin-1 when it
        is not valid UTF-8.
    @ivar version: C{"HTTP/1.0"} or C{"HTTP/1.1"}.
    @ivar headers: the header fields in the order received, names as sent,
        values with surrounding blanks removed, decoded as UTF-8 or, failing
        that, Latin-1.
    """

    method: str
    target: str
    path: str
    query: dict[str, list[str]]
    version: str
    headers: tuple[tuple[str, str], ...]
    _index: dict[str, list[str]] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        """
        Index the headers by lower-cased name.
        """
        index: dict[str, list[str]] = {}
        for name, value in self.headers:
            index.setdefault(name.lower(), []).append(value)
        object.__setattr__(self, "_index", index)

    def kept(self) -> Request:
        """
        What a connection keeps of its request while it streams: the
        request line, and the headers its log lines name (C{User-Agent},
        C{Referer}); the rest of the head is let go.
        """
        headers = tuple(
            (name, value) for name, value in self.headers if name.lower() in _KEPT_HEADERS
        )
        return Request(self.method, self.target, self.path, _NO_QUERY, self.version, headers)

    def header(self, name: str) -> str | None:
        """
        @param name: a header name, in any case.
        @return: the first value of that header, or C{None} if absent.
        """
        values = self._index.get(name.lower())
        return values[0] if values else None

    def header_list(self, name: str) -> list[str]:
        """
        @param name: a header name, in any case.
        @return: every value of that header in the order received (empty if
            absent).
        """
        return list(self._index.get(name.lower(), ()))

    @property
    def wants_metadata(self) -> bool:
        """
        Whether the client asked for in-band ICY metadata.

        True when an C{Icy-MetaData} header is present and its value, like
        C{atoi} reads it (leading blanks, an optional sign, digits), is a
        non-zero integer: C{1}, C{" 1"}, C{"1 "} are true; C{0}, C{""} and
        C{yes} are false. This is Icecast's rule.
        """
        value = self.header("Icy-MetaData")
        if value is None:
            return False
        match = _ATOI.match(value.lstrip(" \t\n\v\f\r"))
        return match is not None and int(match.group(1)) != 0

    @property
    def host(self) -> str | None:
        """
        The C{Host} header, or C{None} if the client sent none.
        """
        return self.header("Host")


def _decode_text(raw: bytes) -> str:
    """
    @param raw: bytes from the wire.
    @return: C{raw} decoded as UTF-8, or as Latin-1 if it is not valid UTF-8.
    """
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("latin-1")


def _parse_query(query: str) -> dict[str, list[str]]:
    """
    Parse an C{application/x-www-form-urlencoded} query string.

    @param query: the part of the target after C{?}.
    @return: keys mapped to their values in order; a bare key has C{""}.
    """
    result: dict[str, list[str]] = {}
    for item in query.split("&"):
        if not item:
            continue
        key, _, value = item.partition("=")
        decoded_key = _decode_text(unquote_to_bytes(key.replace("+", " ")))
        decoded_value = _decode_text(unquote_to_bytes(value.replace("+", " ")))
        result.setdefault(decoded_key, []).append(decoded_value)
    return result


def _split_target(method: str, target: str) -> tuple[str, str]:
    """
    Find the path and query of a request target.

    @param method: the request method.
    @param target: the ASCII request target.
    @return: the raw (still percent-encoded) path and query.
    @raise RequestError: 400 if the target is not origin-form, absolute-form
        with an C{http} or C{https} scheme, or C{*} with C{OPTIONS}.
    """
    if target == "*":
        if method == "OPTIONS":
            return "*", ""
        raise RequestError(400, "asterisk target outside OPTIONS")
    if not target.startswith("/"):
        absolute = _ABSOLUTE.fullmatch(target)
        if absolute is None:
            raise RequestError(400, "bad request target")
        target = absolute.group(2)
        if not target.startswith("/"):
            target = "/" + target
    target = target.partition("#")[0]
    path, _, query = target.partition("?")
    return path, query


def _parse_request_line(line: bytes) -> tuple[str, str, str]:
    """
    @param line: the first line of the head, without its CRLF.
    @return: the method, target and version.
    @raise RequestError: 400 if malformed, 505 for an unsupported version.
    """
    parts = line.split(b" ")
    if len(parts) != 3 or not all(_REQUEST_LINE_BYTES.fullmatch(part) for part in parts):
        raise RequestError(400, "malformed request line")
    method, target, version = parts
    if not _TOKEN.fullmatch(method):
        raise RequestError(400, "bad method")
    if not _VERSION.fullmatch(version):
        raise RequestError(400, "malformed HTTP version")
    if version.decode("ascii") not in _VERSIONS:
        raise RequestError(505, "unsupported HTTP version")
    return method.decode("ascii"), target.decode("ascii"), version.decode("ascii")


def _parse_header(line: bytes) -> tuple[str, str]:
    """
    @param line: one header line, without its CRLF.
    @return: the name as sent and the value without surrounding blanks.
    @raise RequestError: 400 for obs-fold, a missing colon, a name that is
        not a token, or control characters in the value.
    """
    if line[:1] in (b" ", b"\t"):
        raise RequestError(400, "obsolete header line folding")
    name, colon, value = line.partition(b":")
    if not colon:
        raise RequestError(400, "header line without a colon")
    if not _TOKEN.fullmatch(name):
        raise RequestError(400, "bad header name")
    if _BAD_VALUE_BYTES.search(value):
        raise RequestError(400, "control character in header value")
    return name.decode("ascii"), _decode_text(value.strip(b" \t"))


def _parse_head(head: bytes) -> Request:
    """
    Parse a complete head.

    @param head: the request line and header lines, each ending in CRLF,
        without the final blank line.
    @return: the request.
    @raise RequestError: if anything is wrong with it.
    """
    lines = head.split(b"\r\n")
    lines.pop()  # The empty string after the last CRLF.
    if any(b"\r" in line for line in lines):
        raise RequestError(400, "bare CR in request head")
    method, target, version = _parse_request_line(lines[0])
    headers = tuple(_parse_header(line) for line in lines[1:])
    request_path, query = _split_target(method, target)
    try:
        path = unquote(request_path, errors="strict")
    except UnicodeDecodeError:
        raise RequestError(400, "path is not UTF-8") from None
    if any(ord(char) < 0x20 or ord(char) == 0x7F for char in path):
        raise RequestError(400, "control character in path")
    request = Request(method, target, path, _parse_query(query), version, headers)
    if len(request.header_list("Content-Length")) > 1:
        raise RequestError(400, "duplicate Content-Length")
    content_length = request.header("Content-Length")
    if content_length is not None:
        if not content_length.isascii() or not content_length.isdigit():
            raise RequestError(400, "bad Content-Length")
        if request.header_list("Transfer-Encoding"):
            raise RequestError(400, "Content-Length with Transfer-Encoding")
    if len(request.header_list("Host")) > 1:
        raise RequestError(400, "duplicate Host")
    return request


class RequestParser:
    """
    Read one request head from a connection, however it is split.

    Feed it bytes as they arrive; it returns the L{Request} once the blank
    line ending the head has been seen. It fails as soon as the bytes so far
    can no longer become a valid head: a bare LF, or more than L{MAX_HEAD}
    bytes without the end of the head.

    @ivar remainder: the bytes received after the head (the start of a
        source client's body, say); empty until the head is complete.
    """

    def __init__(self) -> None:
        self._buffer = bytearray()
        self._scanned = 0
        self._error: RequestError | None = None
        self._request: Request | None = None
        self.remainder = b""

    def feed(self, data: bytes) -> Request | None:
        """
        Consume the next bytes from the client.

        @param data: any number of bytes.
        @return: the request once its head is complete, C{None} while more
            is needed and after the request has been returned (later bytes
            are added to L{remainder}).
        @raise RequestError: 400 for malformed framing or content, 431 if the
            head exceeds L{MAX_HEAD} bytes, 505 for an HTTP version other than
            1.0 and 1.1. Once raised, every later call raises it again.
        """
        if self._error is not None:
            raise self._error
        if self._request is not None:
            self.remainder += data
            return None
        try:
            return self._feed(data)
        except RequestError as error:
            self._error = error
            self._buffer.clear()
            raise

    def _feed(self, data: bytes) -> Request | None:
        """
        Add C{data} to the head and parse it once it is complete.

        @param data: the new bytes.
        @return: the request, or C{None} if the head is not complete yet.
        @raise RequestError: as described in L{feed}.
        """
        buffer = self._buffer
        buffer += data
        start = self._scanned
        end = buffer.find(b"\r\n\r\n", max(0, start - 3))
        limit = len(buffer) if end < 0 else end + 4
        # Bytes past MAX_HEAD are never scanned: they fail with 431 below,
        # whichever way the head was split.
        newline = buffer.find(b"\n", start, min(limit, MAX_HEAD))
        while newline >= 0:
            if newline == 0 or buffer[newline - 1] != 0x0D:
                raise RequestError(400, "line not ended by CRLF")
            newline = buffer.find(b"\n", newline + 1, min(limit, MAX_HEAD))
        self._scanned = limit
        if end < 0:
            if len(buffer) >= MAX_HEAD:
                # The end of the head needs at least one more byte.
                raise RequestError(431, "request head too large")
            return None
        if end + 4 > MAX_HEAD:
            raise RequestError(431, "request head too large")
        self.remainder = bytes(buffer[end + 4 :])
        head = bytes(buffer[: end + 2])
        buffer.clear()
        self._request = _parse_head(head)
        return self._request


def build_response_head(
    status: int,
    headers: list[tuple[str, str]],
    *,
    icy: bool = False,
    reason: str | None = None,
) -> bytes:
    """
    Build a response status line and headers, ending with the blank line.

    The status line is C{HTTP/1.0 <status> <reason>}, or C{ICY <status>
    <reason>} when C{icy} is set. Headers are written in the order given,
    names and values exactly as given; names starting with C{icy-} (in any
    case) are written C{name:value} with no space, as Icecast and SHOUTcast
    do, others C{name: value}. Values are encoded as UTF-8.

    @param status: the status code.
    @param headers: the header names and values.
    @param icy: whether to use the SHOUTcast C{ICY} status line.
    @param reason: the reason phrase; by default the one in L{REASONS}.
    @return: the bytes to write before the body.
    @raise ValueError: if a header name is not a token, if a value or the
        reason contains CR, LF or NUL, or if C{status} has no known reason
        and none is given.
    """
    if reason is None:
        if status not in REASONS:
            raise ValueError(f"no reason phrase known for status {status}")
        reason = REASONS[status]
    if not 100 <= status <= 999:
        raise ValueError(f"bad status {status}")
    _check_value(reason)
    lines = [f"{'ICY' if icy else 'HTTP/1.0'} {status} {reason}"]
    for name, value in headers:
        if not _TOKEN_STR.fullmatch(name):
            raise ValueError(f"bad header name {name!r}")
        _check_value(value)
        separator = ":" if name[:4].lower() == "icy-" else ": "
        lines.append(f"{name}{separator}{value}")
    lines.extend(("", ""))
    return "\r\n".join(lines).encode("utf-8")


def _check_value(value: str) -> None:
    """
    @param value: text bound for a response head.
    @raise ValueError: if it contains CR, LF or NUL.
    """
    if "\r" in value or "\n" in value or "\x00" in value:
        raise ValueError(f"line break or NUL in response head text {value!r}")
