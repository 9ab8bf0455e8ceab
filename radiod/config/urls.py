# -*- test-case-name: tests.config.test_urls -*-
"""
The URLs a mount names: the stream it relays (C{relay}) and the servers it
pushes to as a source (C{push_to}).  The checks read them with these
functions, and so do the relay and the pusher that connect to them.
"""

from __future__ import annotations

from urllib.parse import unquote, urlsplit

__all__ = ["is_tls_url", "parse_http_url", "parse_push_url"]


def parse_http_url(url: str) -> tuple[str, int, str]:
    """
    Read the URL of a stream to relay.

    @param url: C{http://host[:port][/path][?query]}, or C{https://...}
        (see L{is_tls_url}).
    @return: the host, the port (80, or 443 for C{https}, when not given)
        and the path with its query (C{"/"} when empty).
    @raise ValueError: with a short reason, if C{url} is not such a URL.
    """
    if not url.isprintable() or any(c.isspace() for c in url):
        raise ValueError(f"must be a URL without spaces or control characters: {url!r}")
    parts = urlsplit(url)
    if parts.scheme.lower() not in ("http", "https"):
        raise ValueError(f"must be an http:// or https:// URL, not {url!r}")
    if parts.username is not None or parts.password is not None:
        raise ValueError(f"must not contain a user or password: {url!r}")
    host = parts.hostname
    if not host:
        raise ValueError(f"must name a host: {url!r}")
    try:
        port = parts.port
    except ValueError:
        raise ValueError(f"has a bad port: {url!r}") from None
    if port == 0:
        raise ValueError(f"has a bad port: {url!r}")
    path = parts.path or "/"
    if parts.query:
        path += "?" + parts.query
    return host, port or (443 if is_tls_url(url) else 80), path


def is_tls_url(url: str) -> bool:
    """
    Whether C{url} is an C{https://} URL (a connection made with TLS, the
    server's certificate and name checked).
    """
    return urlsplit(url).scheme.lower() == "https"


def parse_push_url(url: str) -> tuple[str, str, str, int, str]:
    """
    Read the URL of a server mount to push to as a source.

    @param url: C{http://[user]:password@host[:port]/mount}; the user is
        C{source} when empty, the port 80 when not given.
    @return: the user, the password, the host, the port and the mount.
    @raise ValueError: with a short reason that never shows the password,
        if C{url} is not such a URL.
    """
    if not url.isprintable() or any(c.isspace() for c in url):
        raise ValueError("must be a URL without spaces or control characters")
    parts = urlsplit(url)
    if parts.password is None:
        raise ValueError("must give the source password: http://user:password@host:port/mount")
    user = unquote(parts.username or "") or "source"
    password = unquote(parts.password)
    bare = parts._replace(netloc=parts.netloc.rpartition("@")[2]).geturl()
    host, port, mount = parse_http_url(bare)
    if mount == "/" or parts.query or parts.fragment:
        raise ValueError(f"must name a mount and nothing after it: {bare!r}")
    if ":" in user:
        raise ValueError("the user must not contain ':'")
    return user, password, host, port, mount
