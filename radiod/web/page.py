# -*- test-case-name: tests.web.test_page,tests.web.test_hidden -*-
"""
The station's web page: the files in L{radiod.web.static} served at C{/}
(the first mount that is not hidden), at C{/<mount>/} (any mount) and under
L{ASSET_PREFIX}, and the event streams that keep it up to date
(L{radiod.web.events}), as resources of the station's site.

The page is static: its script reads the mount from the address, opens
the mount's event stream and fills the page in from the events.  A hidden
mount has its page at its address, but is not offered on the others
(L{radiod.web.events.listed_mounts}).  The files are read once, when the
page is set up, and revalidated by browsers with their C{ETag}.  The
script plays the mount's HLS stream where the station serves one
(L{HLS_LIST} says which), through the vendored hls.js (L{HLS_SCRIPT}) in
browsers that need it.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import resources
from urllib.parse import quote, unquote

from twisted.internet.interfaces import IReactorTime
from twisted.web.http import CACHED
from twisted.web.resource import IResource
from twisted.web.server import NOT_DONE_YET

from radiod.web.events import EVENTS_PATH, MAX_STREAMS, EventStreams
from radiod.web.hls import HlsResource
from radiod.web.site import (
    Branch,
    Refusal,
    StationRequest,
    StationResource,
    StationRoot,
    StationSite,
    attach,
)
from radiod.wire.server import RadioFactory

__all__ = [
    "ASSETS",
    "ASSET_PREFIX",
    "HLS_LIST",
    "HLS_SCRIPT",
    "HLS_SCRIPT_SHA256",
    "HLS_SCRIPT_VERSION",
    "PAGE_PATHS",
    "Asset",
    "Document",
    "HlsList",
    "StationPage",
    "etag_matches",
    "load_asset",
    "not_modified",
]

ASSET_PREFIX = "/web/"
"""
Where the page's script, style sheet and icon are served.
"""

PAGE_PATHS = ("/", "/index.html")
"""
The paths of the page showing the first mount that is not hidden.
"""

ASSETS = {
    "app.js": "text/javascript; charset=utf-8",
    "style.css": "text/css; charset=utf-8",
    "icon.svg": "image/svg+xml",
}
"""
The page's files besides the page itself, with their content types.
"""

HLS_SCRIPT = "hls.min.js"
"""
hls.js, which plays HLS through Media Source Extensions: served under
L{ASSET_PREFIX} as L{ASSETS} are, and loaded by the page's script only
for a mount served as HLS in a browser that has those extensions.  It is
the light build (C{dist/hls.light.min.js}) of the npm package C{hls.js}
at L{HLS_SCRIPT_VERSION}, unchanged (L{HLS_SCRIPT_SHA256}); its licence,
Apache 2.0, is C{hls.js.LICENSE} beside it.
"""

HLS_SCRIPT_VERSION = "1.7.4"
"""
The version of hls.js vendored as L{HLS_SCRIPT}.
"""

HLS_SCRIPT_SHA256 = "482cccb3a224554f64d8c2cf0d335dba4a3819bdb726afbfddfe15de4c277d82"
"""
The SHA-256 of L{HLS_SCRIPT}, as published in the npm package.
"""

HLS_LIST = "hls.json"
"""
Where, under L{ASSET_PREFIX}, the page's script finds which mounts are
served as HLS: a JSON object from each such mount's name to the path of
its multivariant playlist (see L{HlsList}).
"""

_PAGE = ("index.html", "text/html; charset=utf-8")

_ALWAYS = [
    ("Cache-Control", "no-cache"),
    ("X-Content-Type-Options", "nosniff"),
    ("Referrer-Policy", "same-origin"),
]

# hls.js plays from a MediaSource (a blob: address) and keeps the ID3 tags
# it reads in a metadata <track> whose address is an empty data: WebVTT.
_PAGE_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; "
    "media-src 'self' blob: data:; connect-src 'self'; object-src 'none'; "
    "base-uri 'none'; form-action 'none'"
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
    Read one of the files shipped in L{radiod.web.static}.

    @param name: its file name.
    @param content_type: its C{Content-Type}.
    """
    body = (resources.files("radiod.web.static") / name).read_bytes()
    digest = hashlib.sha256(body).hexdigest()[:20]
    return Asset(body, content_type, f'"{digest}"')


def etag_matches(if_none_match: str | None, etag: str) -> bool:
    """
    Whether an C{If-None-Match} header names C{etag} (weakly compared, as
    the header asks), so that a C{304 Not Modified} will do (for the
    library's files, L{radiod.web.files}; the page's own files use
    L{not_modified}).

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


def not_modified(request: StationRequest, etag: str) -> bool:
    """
    Give the response its entity tag, and say whether the client has this
    version already, in which case the response is now
    C{304 Not Modified} (twisted.web's own conditional request).

    C{If-None-Match} compares tags weakly, so the weak form of the tag
    (which a proxy that compresses on the way hands on) matches too.

    @param etag: the entity tag, quoted.
    """
    weak = request.setETag(b"W/" + etag.encode("ascii"))
    return CACHED in (weak, request.setETag(etag.encode("ascii")))


class Document(StationResource):
    """
    One file of the page: C{GET} and C{HEAD}, revalidated by its C{ETag}
    on every use, sniffing and referrers off.

    @ivar asset: the file.
    @ivar headers: more headers for a C{200} answer.
    """

    def __init__(
        self,
        factory: RadioFactory,
        asset: Asset,
        headers: Sequence[tuple[str, str]] = (),
        leaf: bool = False,
    ) -> None:
        """
        @param factory: the station's server factory.
        @param asset: the file served.
        @param headers: more headers for a C{200} answer.
        @param leaf: whether this answers for every path below it too (as
            for a mount's page, whose lookup has read the whole path).
        """
        super().__init__(factory)
        self.asset = asset
        self.headers = tuple(headers)
        self.isLeaf = leaf

    def getChild(self, path: bytes, request: StationRequest) -> IResource:
        """
        A file has nothing below it.
        """
        return Refusal(self.factory)

    def render_GET(self, request: StationRequest) -> bytes | int:
        """
        The file, or C{304 Not Modified} without a body when the client
        has it already.
        """
        for name, value in _ALWAYS:
            request.setHeader(name, value)
        if not_modified(request, self.asset.etag):
            # Finished here: a 304 carries no Content-Length.
            request.finish()
            return NOT_DONE_YET
        request.setHeader("Content-Type", self.asset.content_type)
        for name, value in self.headers:
            request.setHeader(name, value)
        return self.asset.body


class HlsList(StationResource):
    """
    Which mounts are served as HLS (L{HLS_LIST}), asked of the C{/hls}
    resource of the station's site on every request, so that the list
    follows the mounts as they come and go.  On a site without that
    resource, the list is empty.

    Hidden mounts are left out, but for the one C{?mount=} names (the
    page of a hidden mount, reached by its address, asks for its own).
    """

    def __init__(self, factory: RadioFactory, root: StationRoot) -> None:
        """
        @param factory: the station's server factory.
        @param root: the root of the station's site, where C{/hls} is.
        """
        super().__init__(factory)
        self.root = root

    def getChild(self, path: bytes, request: StationRequest) -> IResource:
        """
        Nothing is below it.
        """
        return Refusal(self.factory)

    def playlists(self, shown: str | None = None) -> dict[str, str]:
        """
        The path of the multivariant playlist of each mount served as HLS,
        by the mount's name.

        @param shown: the name of a mount listed even if it is hidden.
        """
        hls = self.root.getStaticEntity(b"hls")
        if not isinstance(hls, HlsResource):
            return {}
        outputs = hls.outputs.outputs
        return {
            f"/{name}": f"/hls/{quote(name, safe='')}/index.m3u8"
            for name in sorted(outputs)
            if not outputs[name].mount.config.hidden or outputs[name].mount.name == shown
        }

    def render_GET(self, request: StationRequest) -> bytes:
        """
        The list, as JSON, never cached without asking.
        """
        for name, value in _ALWAYS:
            request.setHeader(name, value)
        request.setHeader("Content-Type", "application/json")
        shown = request.text_args().get("mount", [None])[0]
        return json.dumps(self.playlists(shown), separators=(",", ":")).encode()


class StationPage:
    """
    The station page, its files and its event streams on the station's
    site.

    Constructing it puts them on the site's resource tree (the factory
    has its site already): the page at L{PAGE_PATHS} and, through the
    root's lookups, at each mount's C{/<mount>/}; L{ASSETS}, L{HLS_SCRIPT}
    and L{HLS_LIST} under L{ASSET_PREFIX}; the event streams at
    L{EVENTS_PATH}.

    @ivar events: the event streams.
    """

    def __init__(
        self,
        clock: IReactorTime,
        factory: RadioFactory,
        max_streams: int = MAX_STREAMS,
    ) -> None:
        """
        @param clock: the time source for the event streams.
        @param factory: the station's server factory, whose site serves
            the page.
        @param max_streams: the most event streams open at once.
        """
        site = factory.site
        assert isinstance(site, StationSite)
        root = site.resource
        assert isinstance(root, StationRoot)
        self._factory = factory
        asset = load_asset(*_PAGE)
        page = Document(factory, asset, [("Content-Security-Policy", _PAGE_POLICY)])
        self._mount_page = Document(
            factory, asset, [("Content-Security-Policy", _PAGE_POLICY)], leaf=True
        )
        for path in PAGE_PATHS:
            root.putChild(path.removeprefix("/").encode("ascii"), page)
        root.lookups.append(self.mount_page)
        # A mount named like the folder still has its page: what the folder
        # has not, the root's lookups find.
        web = Branch(root)
        root.putChild(ASSET_PREFIX.strip("/").encode("ascii"), web)
        files = {**ASSETS, HLS_SCRIPT: "text/javascript; charset=utf-8"}
        for name, content_type in files.items():
            web.putChild(name.encode("ascii"), Document(factory, load_asset(name, content_type)))
        web.putChild(HLS_LIST.encode("ascii"), HlsList(factory, root))
        self.events = EventStreams(clock, factory, max_streams)
        attach(site, EVENTS_PATH, self.events)

    def mount_page(self, request: StationRequest) -> IResource | None:
        """
        The page, for a request whose path is a mount's name and a slash;
        else C{None}.
        """
        path = unquote(request.path.decode("latin-1"))
        if path.endswith("/") and path[:-1] in self._factory.mounts:
            return self._mount_page
        return None

    def close(self) -> None:
        """
        End every event stream (the station is stopping).
        """
        self.events.close()
