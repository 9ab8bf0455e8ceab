# -*- test-case-name: tests.outbound.test_urlauth -*-
"""
What Icecast's URL authentication (C{<authentication type="url">}) is
told: L{url_auth_config} reads its C{<option name=... value=.../>} pairs,
as Icecast reads them, into a L{UrlAuthConfig}, checked whole, for
L{radiod.outbound.urlauth.UrlAuthenticator}.  Pure.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from urllib.parse import urlsplit

__all__ = ["URL_AUTH_OPTIONS", "URL_OPTIONS", "UrlAuthConfig", "url_auth_config"]

URL_AUTH_OPTIONS = frozenset(
    {
        "listener_add",
        "listener_remove",
        "mount_add",
        "mount_remove",
        "stream_auth",
        "username",
        "password",
        "auth_header",
        "timelimit_header",
        "headers",
        "header_prefix",
    }
)
"""
The option names L{url_auth_config} reads.
"""

URL_OPTIONS = ("listener_add", "listener_remove", "mount_add", "mount_remove", "stream_auth")
"""
The options that name the auth server's URLs, one for each request.
"""

_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+\Z")
"""
An HTTP header name (a token).
"""


def _check_url(name: str, url: str) -> None:
    """
    @raise ValueError: if C{url} is not an C{http://} or C{https://} URL
        with a host.
    """
    if any(each.isspace() or not each.isprintable() for each in url):
        raise ValueError(f"url authentication: {name} holds a space or a control: {url!r}")
    try:
        parts = urlsplit(url)
        _ = parts.port
    except ValueError as error:
        raise ValueError(f"url authentication: {name} is not a URL ({error}): {url!r}") from None
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        raise ValueError(f"url authentication: {name} must be an http:// or https:// URL: {url!r}")


def _header_name(option: str, name: str) -> str:
    """
    C{name} trimmed.

    @raise ValueError: if it is not a header name.
    """
    trimmed = name.strip()
    if not _TOKEN.match(trimmed):
        raise ValueError(f"url authentication: {option} has no valid header name: {name!r}")
    return trimmed


@dataclass(frozen=True, slots=True)
class UrlAuthConfig:
    """
    How one C{<authentication type="url">} asks its auth server.

    @ivar listener_add: where to ask whether a listener may come in; none
        lets every listener in.
    @ivar listener_remove: where to tell that a listener left.
    @ivar mount_add: where to tell that a mount went on air.
    @ivar mount_remove: where to tell that a mount went off air.
    @ivar stream_auth: where to ask whether a source may come in.
    @ivar username: the user of the basic authentication sent to the auth
        server, sent only with L{password}.
    @ivar password: its password.
    @ivar auth_header: the name of the answer's header that admits.
    @ivar auth_value: the value it must have (trimmed, whatever its
        case); when empty, the header's presence admits.
    @ivar timelimit_header: the name of the answer's header giving the
        seconds an admitted listener may stay.
    @ivar headers: the names of the listener's request headers passed on
        to C{listener_add}.
    @ivar header_prefix: what the field of each passed header is named
        with, before the header's name.
    @ivar timeout: seconds the auth server has to answer (its whole
        answer's head; the connection included).
    @ivar failure: what a listener gets when the auth server cannot be
        reached, does not answer in time or answers with a 5xx:
        C{"deny"} or C{"allow"}.  A source is always refused.
    @ivar cache_seconds: how long an admission or refusal is kept for the
        same mount, credentials, address and user agent; 0 keeps none.
    """

    listener_add: str | None = None
    listener_remove: str | None = None
    mount_add: str | None = None
    mount_remove: str | None = None
    stream_auth: str | None = None
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    auth_header: str = "icecast-auth-user"
    auth_value: str = "1"
    timelimit_header: str = "icecast-auth-timelimit"
    headers: tuple[str, ...] = ()
    header_prefix: str = "ClientHeader."
    timeout: float = 5.0
    failure: str = "deny"
    cache_seconds: float = 0.0

    def __post_init__(self) -> None:
        """
        @raise ValueError: with a one-line message, if an option is wrong.
        """
        for name in URL_OPTIONS:
            url = getattr(self, name)
            if url is not None:
                _check_url(name, url)
        if (self.username is None) != (self.password is None):
            raise ValueError("url authentication: username and password go together")
        _header_name("auth_header", self.auth_header)
        _header_name("timelimit_header", self.timelimit_header)
        for name in self.headers:
            _header_name("headers", name)
        if self.failure not in ("deny", "allow"):
            raise ValueError(
                f'url authentication: failure must be "deny" or "allow", not {self.failure!r}'
            )
        if not self.timeout > 0:
            raise ValueError(f"url authentication: the timeout must be positive: {self.timeout}")
        if not self.cache_seconds >= 0:
            raise ValueError(
                f"url authentication: cache_seconds must be 0 or more: {self.cache_seconds}"
            )


def url_auth_config(
    options: Sequence[tuple[str, str]],
    *,
    timeout: float = 5.0,
    failure: str = "deny",
    cache_seconds: float = 0.0,
) -> UrlAuthConfig:
    """
    Read the options of an Icecast C{<authentication type="url">}.

    Each option is read as Icecast reads it; the last of the same name
    counts.  C{auth_header} is a header's name and value, such as
    C{icecast-auth-user: 1}; C{timelimit_header} a header's name, with
    or without its colon; C{headers} names separated by commas.

    @param options: each C{<option>}'s name and value, in order.
    @param timeout: see L{UrlAuthConfig.timeout}.
    @param failure: see L{UrlAuthConfig.failure}.
    @param cache_seconds: see L{UrlAuthConfig.cache_seconds}.
    @raise ValueError: with a one-line message, for an unknown option or
        a wrong value (a URL that is not C{http://} or C{https://}, an
        C{auth_header} without a colon, a C{username} without a
        C{password} ...).
    """
    found: dict[str, str] = {}
    for name, value in options:
        if name not in URL_AUTH_OPTIONS:
            raise ValueError(f"url authentication: unknown option {name!r}")
        found[name] = value
    defaults = UrlAuthConfig()
    auth_header, auth_value = defaults.auth_header, defaults.auth_value
    if "auth_header" in found:
        header, colon, value = found["auth_header"].partition(":")
        if not colon:
            raise ValueError(
                "url authentication: auth_header must be a header and its value, "
                f"such as 'icecast-auth-user: 1': {found['auth_header']!r}"
            )
        auth_header, auth_value = _header_name("auth_header", header), value.strip()
    timelimit_header = defaults.timelimit_header
    if "timelimit_header" in found:
        header, colon, rest = found["timelimit_header"].partition(":")
        if rest.strip():
            raise ValueError(
                "url authentication: timelimit_header must be a header's name: "
                f"{found['timelimit_header']!r}"
            )
        timelimit_header = _header_name("timelimit_header", header)
    names = (name.strip() for name in found.get("headers", "").split(","))
    return UrlAuthConfig(
        listener_add=found.get("listener_add"),
        listener_remove=found.get("listener_remove"),
        mount_add=found.get("mount_add"),
        mount_remove=found.get("mount_remove"),
        stream_auth=found.get("stream_auth"),
        username=found.get("username"),
        password=found.get("password"),
        auth_header=auth_header,
        auth_value=auth_value,
        timelimit_header=timelimit_header,
        headers=tuple(name for name in names if name),
        header_prefix=found.get("header_prefix", defaults.header_prefix),
        timeout=timeout,
        failure=failure,
        cache_seconds=cache_seconds,
    )
