# -*- test-case-name: tests.wire.test_aliases -*-
"""
Paths answered as others: the server's C{aliases} (Icecast's
C{<alias source=... destination=...>}).

An alias rewrites a request for its asked path, exactly, into a request
for its answered path before anything else looks at it: the stream, the
page or the file at the answered path answers, and the query is kept
(C{/?mount=/x} aliased from C{/} to C{/status.xsl} asks for
C{/status.xsl?mount=/x}).  An alias is followed once: an answered path
that is itself aliased is not rewritten again, as in Icecast.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import replace
from urllib.parse import quote

from radiod.request import Request

__all__ = ["alias_map", "rewrite"]


def alias_map(aliases: Iterable[str]) -> dict[str, str]:
    """
    The aliases of a configuration, by the path they answer for.

    @param aliases: entries of the form C{/asked=/answered}, already
        checked by the configuration's checks.
    """
    found: dict[str, str] = {}
    for alias in aliases:
        asked, _, answered = alias.partition("=")
        found[asked] = answered
    return found


def rewrite(request: Request, raw: bytes, aliases: Mapping[str, str]) -> tuple[Request, bytes]:
    """
    The request as its alias asks for it, and its raw head with the
    request line rewritten to match (for whatever reads the raw request
    again, such as the site); the same request and bytes when its path
    has no alias.

    @param request: the parsed request.
    @param raw: the request's raw bytes as received, from its request
        line on.
    @param aliases: answered paths by asked path (L{alias_map}).
    """
    answered = aliases.get(request.path)
    if answered is None:
        return request, raw
    _, question, query = request.target.partition("?")
    target = quote(answered, safe="/;:@!$&'()*+,=-._~") + question + query
    line_end = raw.find(b"\n")
    line = raw[:line_end] if line_end >= 0 else raw
    method, _, rest = line.partition(b" ")
    _, _, version = rest.rpartition(b" ")
    new_line = b" ".join((method, target.encode("utf-8"), version))
    rewritten = new_line + (raw[line_end:] if line_end >= 0 else b"")
    return replace(request, target=target, path=answered), rewritten
