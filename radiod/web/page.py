# -*- test-case-name: tests.web.test_page -*-
"""
The station's web page: the files in L{radiod.web} served at C{/} (the
default mount), at C{/<mount>/} (any mount) and under L{ASSET_PREFIX},
and the event streams that keep it up to date (L{radiod.web.events}).

The page is static: its script reads the mount from the address, opens
the mount's event stream and fills the page in from the events.  The files
are read once, when the page is set up, and revalidated by browsers with
their C{ETag}.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from importlib import resources

from twisted.internet.interfaces import IReactorTime

from radiod.request import Request
from radiod.web.events import EVENTS_PATH, MAX_STREAMS, EventStreams
from radiod.wire.server import RadioFactory, RadioProtocol

__all__ = [
    "ASSETS",
    "ASSET_PREFIX",
    "PAGE_PATHS",
    "Asset",
    "StationPage",
    "etag_matches",
    "load_asset",
]

ASSET_PREFIX = "/web/"
"""
Where the page's script, style sheet and icon are served.
"""

PAGE_PATHS = ("/", "/index.html")
"""
The paths of the page showing the default mount.
"""

ASSETS = {
    "app.js": "text/javascript; charset=utf-8",
    "style.css": "text/css; charset=utf-8",
    "icon.svg": "image/svg+xml",
}
"""
The page's files besides the page itself, with their content types.
"""

_PAGE = ("index.html", "text/html; charset=utf-8")

_SECURITY = [
    ("X-Content-Type-Options", "nosniff"),
    ("Referrer-Policy", "same-origin"),
]

_PAGE_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; "
    "media-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'none'; "
    "form-action 'none'"
)


@dataclass(frozen=True)
class Asset:
    """
    One file of the page, ready to send.

    @ivar body: its bytes.
    @ivar content_type: its C{Content-Type}.
    @ivar etag: its entity tag (quoted), from a hash of C{body}.
    """

    body: bytes
    content_type: str
    etag: str


def load_asset(name: str, content_type: str) -> Asset:
    """
    Read one of the files shipped in L{radiod.web}.

    @param name: its file name.
    @param content_type: its C{Content-Type}.
    """
    body = (resources.files("radiod.web") / "static" / name).read_bytes()
    digest = hashlib.sha256(body).hexdigest()[:20]
    return Asset(body, content_type, f'"{digest}"')


def etag_matches(if_none_match: str | None, etag: str) -> bool:
    """
    Whether an C{If-None-Match} header names C{etag} (weakly compared, as
    the header asks), so that a C{304 Not Modified} will do.

    @param if_none_match: the header's value, or C{None} when absent.
    @param etag: the current entity tag, quoted.
    """
    if if_none_match is None:
        return False
    if if_none_match.strip() == "*":
        return True

    def opaque(tag: str) -> str:
        tag = tag.strip()
        return tag[2:] if tag.startswith("W/") else tag

    return any(opaque(tag) == opaque(etag) for tag in if_none_match.split(","))


class StationPage:
    """
    Serves the station page and its files, and its event streams.

    Constructing it registers its routes with the factory: L{PAGE_PATHS},
    each mount's C{/<mount>/}, L{ASSETS} under L{ASSET_PREFIX}, and
    L{EVENTS_PATH}.

    @ivar events: the event streams.
    @ivar page: the page.
    @ivar assets: the other files, by path.
    """

    def __init__(
        self,
        clock: IReactorTime,
        factory: RadioFactory,
        max_streams: int = MAX_STREAMS,
    ) -> None:
        """
        @param clock: the time source for the event streams.
        @param factory: the station's server factory, to serve from.
        @param max_streams: the most event streams open at once.
        """
        self.page = load_asset(*_PAGE)
        self.assets = {
            ASSET_PREFIX + name: load_asset(name, content_type)
            for name, content_type in ASSETS.items()
        }
        self.events = EventStreams(clock, factory, max_streams)
        for path in PAGE_PATHS:
            factory.routes[path] = self.serve_page
        factory.mount_page = self.serve_page
        for path in self.assets:
            factory.routes[path] = self.serve_asset
        factory.routes[EVENTS_PATH] = self.events.serve

    def serve_page(self, protocol: RadioProtocol, request: Request, body: bytes) -> None:
        """
        The route for the page (the same for every mount).
        """
        self._send(protocol, request, self.page, [("Content-Security-Policy", _PAGE_POLICY)])

    def serve_asset(self, protocol: RadioProtocol, request: Request, body: bytes) -> None:
        """
        The route for one of the page's files.
        """
        self._send(protocol, request, self.assets[request.path], [])

    def _send(
        self,
        protocol: RadioProtocol,
        request: Request,
        asset: Asset,
        extra: list[tuple[str, str]],
    ) -> None:
        """
        Answer with C{asset}, or C{304 Not Modified} when the client has
        it already; C{405} for methods other than C{GET} and C{HEAD}.
        """
        if request.method not in ("GET", "HEAD"):
            protocol.refuse(405, "Method Not Allowed", request)
            return
        headers = [("ETag", asset.etag), ("Cache-Control", "no-cache"), *_SECURITY]
        if etag_matches(request.header("If-None-Match"), asset.etag):
            protocol.reply(304, headers, head_only=True)
            return
        protocol.reply(
            200,
            [("Content-Type", asset.content_type), *headers, *extra],
            asset.body,
            head_only=request.method == "HEAD",
        )

    def close(self) -> None:
        """
        End every event stream (the station is stopping).
        """
        self.events.close()
