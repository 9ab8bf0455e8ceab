# -*- test-case-name: tests.station.test_mountauth -*-
"""
The station's authentication URLs (Icecast's C{<authentication
type="url">}): one L{UrlAuthenticator<radiod.outbound.urlauth.UrlAuthenticator>}
per mount whose configuration names any, given to the stream server
(L{RadioFactory.authenticators<radiod.wire.server.RadioFactory>}), which
asks it about each listener and each source.

L{MountAuth} also tells the URLs when mounts go on and off the air
(C{mount_add}, C{mount_remove}): a mount that plays music is on the air
from the station's start (or from the reload that adds it, or gives it
authentication) to its stop; a live-only mount while a live source
streams to it.  A reload that changes a mount's authentication keys
replaces its authenticator; listeners let in by the old one are told
about to it when they leave.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from twisted.internet.defer import Deferred, gatherResults
from twisted.internet.interfaces import IReactorTime
from twisted.logger import Logger

from radiod.config import MountConfig, StationConfig
from radiod.ingest.source import SourceConnection
from radiod.interfaces import UrlAuth
from radiod.outbound.authconfig import url_auth_config
from radiod.outbound.urlauth import UrlAuthenticator

__all__ = ["AUTH_KEYS", "MountAuth", "auth_options"]

AUTH_KEYS = (
    "auth_listener_add",
    "auth_listener_remove",
    "auth_mount_add",
    "auth_mount_remove",
    "auth_stream",
    "auth_user",
    "auth_password",
    "auth_header",
    "auth_timelimit_header",
    "auth_headers",
    "auth_header_prefix",
    "auth_timeout",
    "auth_failure",
    "auth_cache",
)
"""
The mount keys of URL authentication.
"""

_URLS = (
    ("listener_add", "auth_listener_add"),
    ("listener_remove", "auth_listener_remove"),
    ("mount_add", "auth_mount_add"),
    ("mount_remove", "auth_mount_remove"),
    ("stream_auth", "auth_stream"),
)


def auth_options(mount: MountConfig) -> list[tuple[str, str]]:
    """
    A mount's authentication keys as the options of Icecast's
    C{<authentication type="url">}; empty when it names no URL.
    """
    options = [(option, getattr(mount, key)) for option, key in _URLS if getattr(mount, key)]
    if not options:
        return []
    if mount.auth_user or mount.auth_password:
        options += [("username", mount.auth_user), ("password", mount.auth_password)]
    options += [
        ("auth_header", mount.auth_header),
        ("timelimit_header", mount.auth_timelimit_header),
        ("header_prefix", mount.auth_header_prefix),
    ]
    if mount.auth_headers:
        options.append(("headers", ",".join(mount.auth_headers)))
    return options


def _server_name(config: StationConfig) -> str:
    """
    The name the station goes by, sent as C{server}: its public URL's
    host, else its interface, else C{localhost}.
    """
    host = urlsplit(config.public_url).hostname if config.public_url else None
    return host or config.interface or "localhost"


class MountAuth:
    """
    The authenticators of a station's mounts.

    @ivar authenticators: by mount name (the stream server's own dict).
    """

    _log = Logger()

    def __init__(self, reactor: IReactorTime, authenticators: dict[str, UrlAuth]) -> None:
        """
        @param reactor: does the asking and times it.
        @param authenticators: the stream server's authenticators by mount
            name, kept up to date here.
        """
        self._reactor = reactor
        self.authenticators = authenticators
        self._keys: dict[str, tuple[object, ...]] = {}
        self._on_air: set[str] = set()
        self._retired: list[UrlAuth] = []

    def update(self, config: StationConfig) -> None:
        """
        Make the authenticators match C{config}: new ones for mounts that
        gain or change authentication keys, none for those that lose them
        or are gone; tell C{mount_add} of music mounts now on the air and
        C{mount_remove} of those no longer.

        @raise ValueError: when a mount's keys make no authenticator (the
            configuration checks refuse such keys first).
        """
        wanted = {mount.name: mount for mount in config.mounts if auth_options(mount)}
        for name in list(self.authenticators):
            mount = wanted.get(name)
            if mount is None or self._keys[name] != self._key(mount, config):
                self._drop(name)
        for name, mount in wanted.items():
            if name in self.authenticators:
                continue
            options = auth_options(mount)
            authenticator = UrlAuthenticator(
                self._reactor,
                url_auth_config(
                    options,
                    timeout=mount.auth_timeout,
                    failure=mount.auth_failure,
                    cache_seconds=mount.auth_cache,
                ),
                _server_name(config),
                config.port,
            )
            self.authenticators[name] = authenticator
            self._keys[name] = self._key(mount, config)
            if not mount.live_only:
                self._on_air.add(name)
                authenticator.mount_add(name)

    def live(self, source: SourceConnection) -> None:
        """
        A live source connected: a live-only mount is on the air until it
        leaves.
        """
        name = source.mount
        authenticator = self.authenticators.get(name)
        if authenticator is None or name in self._on_air:
            return
        self._on_air.add(name)
        authenticator.mount_add(name)

        def ended(_: SourceConnection) -> None:
            if self.authenticators.get(name) is authenticator and name in self._on_air:
                self._on_air.discard(name)
                authenticator.mount_remove(name)

        source.on_end.append(ended)

    def close(self) -> Deferred[None]:
        """
        The station stops: tell C{mount_remove} of every mount on the air,
        and close every authenticator (their pending questions are
        refused).
        """
        for name in list(self.authenticators):
            self._drop(name)
        retired, self._retired = self._retired, []
        closing = [authenticator.close() for authenticator in retired]
        return gatherResults(closing).addCallback(lambda _: None)

    def _drop(self, name: str) -> None:
        """
        Stop using a mount's authenticator.  It is closed when the station
        stops, not now: listeners it let in tell it when they leave.
        """
        authenticator = self.authenticators.pop(name)
        del self._keys[name]
        if name in self._on_air:
            self._on_air.discard(name)
            authenticator.mount_remove(name)
        self._retired.append(authenticator)

    @staticmethod
    def _key(mount: MountConfig, config: StationConfig) -> tuple[object, ...]:
        return (
            tuple(getattr(mount, key) for key in AUTH_KEYS),
            mount.live_only,
            _server_name(config),
            config.port,
        )
