# -*- test-case-name: tests.web.test_adminpage,tests.web.test_adminpage_e2e -*-
"""
The admin page: a page for the browser, at L{PAGE_PATH}, that shows what
every mount is doing and acts on it through the admin interface
(L{radiod.web.admin}).

The page is static, like the station page (L{radiod.web.page}): its
script (C{admin.js} in L{radiod.web.static}) asks the admin API every few
seconds what the mounts are doing (C{GET /api/v1/admin/mounts}, whose
document L{describe_mounts} makes), draws its charts from the listener
counts of the last day (C{GET /api/v1/admin/headcount},
L{radiod.web.headcount}) and from the audience figures
(L{radiod.web.audience}), and carries out what is asked through the
admin commands that exist for it: skip, queue, reload, C{killclient},
C{moveclients}, C{killsource}.  Every text it shows goes in as text.

The page and its files sit behind the admin login
(L{radiod.web.guard.AdminLogin}); its files are under L{ASSET_PREFIX},
a name no Icecast admin command has.  C{/admin}, without the slash,
redirects to the page.  Every other path under C{/admin/} is left to the
admin commands.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from twisted.web.resource import IResource

from radiod.auth import Administrator
from radiod.broadcast.listener import Listener
from radiod.broadcast.mount import Mount
from radiod.broadcast.switch import SwitchState
from radiod.library.programme import Programme
from radiod.web.events import describe_next, describe_track, up_next
from radiod.web.guard import AdminLogin
from radiod.web.listings import track_json
from radiod.web.monitoring import peer_host
from radiod.web.page import Document, load_asset
from radiod.web.site import (
    Branch,
    StationRequest,
    StationRoot,
    StationSite,
    refuse,
)
from radiod.wire.server import RadioFactory
from radiod.wire.stream import SERVER

__all__ = [
    "ASSETS",
    "ASSET_PREFIX",
    "PAGE_PATH",
    "PAGE_POLICY",
    "AdminFolder",
    "attach_admin_page",
    "describe_listener",
    "describe_mounts",
    "describe_source",
    "source_kind",
]

PAGE_PATH = "/admin/"
"""
Where the admin page is.
"""

ASSET_PREFIX = "/admin/app/"
"""
Where the admin page's script and style sheet are.
"""

ASSETS = {
    "admin.js": "text/javascript; charset=utf-8",
    "admin.css": "text/css; charset=utf-8",
}
"""
The admin page's files besides the page itself, with their content types.
"""

PAGE_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
    "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)
"""
The admin page's C{Content-Security-Policy}: its own script and style
sheet, requests to the station only, nothing inline, never in a frame.
"""

_PAGE = ("admin.html", "text/html; charset=utf-8")

_PAGE_HEADERS = [
    ("Content-Security-Policy", PAGE_POLICY),
    ("X-Frame-Options", "DENY"),
    ("Referrer-Policy", "no-referrer"),
    ("Cache-Control", "no-cache, no-store"),
]


class AdminFolder(Branch):
    """
    C{/admin}: asked for itself, it redirects to the admin page
    (L{PAGE_PATH}); below it are the page, its files and the admin
    commands.
    """

    def render(self, request: StationRequest) -> bytes | int:
        """
        C{301} to L{PAGE_PATH} for C{GET} and C{HEAD}; C{OPTIONS} answered
        for preflights; other methods refused with C{405}.
        """
        request.setHeader("Server", SERVER)
        if request.method == b"OPTIONS":
            return self.render_OPTIONS(request)
        if request.method not in (b"GET", b"HEAD"):
            return refuse(request, self.factory, 405, "Method Not Allowed")
        request.setResponseCode(301)
        request.setHeader("Location", PAGE_PATH)
        request.setHeader("Content-Type", "text/plain; charset=utf-8")
        return f"301 Moved Permanently: {PAGE_PATH}\n".encode()


def attach_admin_page(site: StationSite) -> None:
    """
    Put the admin page on C{site}: an L{AdminFolder} at C{/admin} (which
    keeps whatever is under C{/admin} already), the page at L{PAGE_PATH}
    and its files under L{ASSET_PREFIX}, each behind the admin login.

    @param site: the station's site.
    """
    root = site.resource
    assert isinstance(root, StationRoot)
    factory = root.factory
    folder = AdminFolder(root)
    previous = root.getStaticEntity(b"admin")
    if isinstance(previous, Branch):
        for name, child in previous.children.items():
            folder.putChild(name, child)
    root.putChild(b"admin", folder)
    page = Document(factory, load_asset(*_PAGE), _PAGE_HEADERS)
    folder.putChild(b"", _behind_login(factory, page))
    app = Branch(root)
    folder.putChild(b"app", app)
    for name, content_type in ASSETS.items():
        asset = Document(factory, load_asset(name, content_type))
        app.putChild(name.encode("ascii"), _behind_login(factory, asset))


def _behind_login(factory: RadioFactory, resource: IResource) -> AdminLogin:
    """
    C{resource}, for administrators only.
    """

    def page(admin: Administrator) -> IResource:
        return resource

    return AdminLogin(factory, page)


# The document the page reads


def _programme(mount: Mount) -> Programme | None:
    playlist: object = mount.switch.playlist if mount.switch is not None else None
    return playlist if isinstance(playlist, Programme) else None


def source_kind(mount: Mount, encoder: bool) -> str:
    """
    What C{mount} plays now, as the status API names it
    (L{radiod.web.status.SOURCE_KINDS}).

    @param mount: the mount.
    @param encoder: whether a live source (an encoder) is connected to it.
    @return: C{"live"} (a live source on air), C{"relay"} (its relay on
        air), C{"playlist"}, or C{"none"} (a live-only mount with nothing
        on air).
    """
    switch = mount.switch
    if switch is None:
        return "live" if encoder else "playlist"
    if switch.on_air:
        return "relay" if switch.state is SwitchState.RELAY_ON_AIR else "live"
    return "playlist" if switch.playlist is not None else "none"


def _without_credentials(url: str) -> str:
    """
    C{url} with any user and password taken out.
    """
    parts = urlsplit(url)
    if "@" not in parts.netloc:
        return url
    host = parts.netloc.rpartition("@")[2]
    return urlunsplit((parts.scheme, host, parts.path, parts.query, parts.fragment))


def describe_source(
    mount: Mount, factory: RadioFactory, connected_at: Mapping[str, float]
) -> dict[str, Any]:
    """
    Where C{mount}'s audio comes from.

    @param mount: the mount.
    @param factory: the station's server (its live sources).
    @param connected_at: when the live source on each mount connected, by
        the mount's name.
    @return: C{kind} (see L{source_kind}); C{encoder}, the live source
        connected (C{address}, C{connected_at}: clock time, or C{None}
        when not known), or C{None}; and C{relay}, the URL the mount
        relays (without credentials), or C{None}.
    """
    sources = factory.sources
    connection = sources.connected.get(mount.name) if sources is not None else None
    encoder = None
    if connection is not None:
        encoder = {
            "address": peer_host(connection.peer),
            "connected_at": connected_at.get(mount.name),
        }
    relay = mount.config.relay
    return {
        "kind": source_kind(mount, connection is not None),
        "encoder": encoder,
        "relay": _without_credentials(relay) if relay else None,
    }


def describe_listener(listener: Listener, now: float, bitrate: int) -> dict[str, Any]:
    """
    One listener, as the admin page lists it.

    @param listener: the listener.
    @param now: the clock's time.
    @param bitrate: its mount's bitrate in kbit/s, or 0 when not known.
    @return: C{id} (the number C{killclient} and C{moveclients} take),
        C{address}, C{user_agent} (C{""} when it sent none),
        C{connected_at} (clock time), C{connected} (seconds), C{lag} (bytes
        of audio it is behind the newest) and C{lag_seconds} (the same in
        seconds of audio, or C{None} when the bitrate is not known).
    """
    lag = max(0, listener.lag)
    return {
        "id": listener.id,
        "address": peer_host(listener.peer),
        "user_agent": listener.user_agent,
        "connected_at": listener.connected_at,
        "connected": round(max(0.0, now - listener.connected_at), 3),
        "lag": lag,
        "lag_seconds": round(lag * 8 / (bitrate * 1000), 3) if bitrate else None,
    }


def _finite(described: dict[str, Any] | None) -> dict[str, Any] | None:
    """
    A described track with an unknown (infinite) duration given as 0, as
    JSON can carry it.
    """
    if described is not None and not math.isfinite(described["duration"]):
        described["duration"] = 0.0
    return described


def _describe_mount(
    mount: Mount, factory: RadioFactory, now: float, connected_at: Mapping[str, float]
) -> dict[str, Any]:
    config = mount.config
    sources = factory.sources
    info = sources.info_for(mount.name) if sources is not None else None
    default_art = bool(factory.config.default_art)
    programme = _programme(mount)
    playing = None
    if mount.now_playing is not None:
        playing = _finite(describe_track(mount.now_playing, mount.track_started, default_art))
    queued = []
    if programme is not None:
        library = programme.library
        for path in programme.queued:
            track = library.find(path)
            if track is not None:
                queued.append(track_json(track, library))
    bitrate = mount.audio.bitrate
    limits = [limit for limit in (config.max_listeners, factory.config.max_listeners) if limit]
    return {
        "name": mount.name,
        "station_name": (info.name if info is not None else "") or config.station_name,
        "listeners": mount.audience,
        "peak_listeners": mount.peak_listeners,
        "max_listeners": min(limits) if limits else None,
        "bitrate": bitrate or None,
        "library": programme is not None,
        "requests": programme is not None and config.requests,
        "source": describe_source(mount, factory, connected_at),
        "now_playing": playing,
        "next": _finite(describe_next(up_next(mount), default_art)),
        "queued": queued,
        "clients": [
            describe_listener(listener, now, bitrate)
            for listener in sorted(mount.listeners, key=lambda listener: listener.id)
        ],
    }


def describe_mounts(
    factory: RadioFactory, now: float, connected_at: Mapping[str, float]
) -> dict[str, Any]:
    """
    Everything the admin page shows about the mounts, as
    C{GET /api/v1/admin/mounts} answers it.

    @param factory: the station's server: its mounts, their listeners and
        live sources.
    @param now: the clock's time.
    @param connected_at: when the live source on each mount connected, by
        the mount's name.
    @return: C{time} (the clock's time) and C{mounts}, in the station's
        order, each with C{name}, C{station_name}, C{listeners} (everyone
        listening, HLS sessions included), C{peak_listeners},
        C{max_listeners} (C{None} for no limit), C{bitrate} (kbit/s, or
        C{None} before any audio), C{library} (whether it plays a library,
        which skip, queue and reload act on), C{requests} (whether it
        takes song requests), C{source} (see L{describe_source}),
        C{now_playing} (as the events give it, or C{None}), C{next} (the
        track up next, or C{None}), C{queued} (the tracks queued, next
        first, as the admin API shows tracks) and C{clients} (its
        listeners' connections, oldest first, see L{describe_listener}).
    """
    return {
        "time": now,
        "mounts": [
            _describe_mount(mount, factory, now, connected_at)
            for mount in list(factory.mounts.values())
        ],
    }
