# -*- test-case-name: tests.wire.test_server -*-
"""
Playlist files for every mount: C{/<mount>.m3u}, C{.pls} and C{.xspf},
which players open to find the stream, as resources of the station's site.
"""

from __future__ import annotations

from urllib.parse import unquote

from twisted.web.resource import IResource

from radiod.broadcast.mount import Mount
from radiod.library.playlist import (
    M3U_CONTENT_TYPE,
    PLS_CONTENT_TYPE,
    XSPF_CONTENT_TYPE,
    render_m3u,
    render_pls,
    render_xspf,
    stream_url,
)
from radiod.web.site import StationRequest, StationResource
from radiod.wire.server import RadioFactory
from radiod.wire.stream import CORS

__all__ = ["Playlist", "playlist_for"]

ENDINGS = (".m3u", ".pls", ".xspf")
"""
The playlist files each mount has.
"""


class Playlist(StationResource):
    """
    One mount's playlist in one format.
    """

    isLeaf = True

    def __init__(self, factory: RadioFactory, mount: Mount, ending: str) -> None:
        super().__init__(factory)
        self.mount = mount
        self.ending = ending

    def render_GET(self, request: StationRequest) -> bytes:
        config = self.factory.config
        mount = self.mount
        default_host = (
            config.interface if config.interface not in ("", "0.0.0.0", "::") else "localhost"
        )
        url = stream_url(request.header("Host"), default_host, config.port, mount.name)
        title = mount.config.station_name
        if self.ending == ".xspf":
            text = render_xspf(url, title, mount.config.description)
            content_type = XSPF_CONTENT_TYPE
        elif self.ending == ".pls":
            text, content_type = render_pls(url, title), PLS_CONTENT_TYPE
        else:
            text, content_type = render_m3u(url, title), M3U_CONTENT_TYPE
        filename = mount.name.strip("/").replace("/", "-") + self.ending
        request.setHeader("Content-Type", content_type)
        request.setHeader("Content-Disposition", f'inline; filename="{filename}"')
        for name, value in CORS:
            request.setHeader(name, value)
        return text.encode("utf-8")


def playlist_for(factory: RadioFactory, request: StationRequest) -> IResource | None:
    """
    The playlist resource a request's path names (C{/<mount>.m3u} ...),
    or C{None}.
    """
    path = unquote(request.path.decode("latin-1"))
    stem, dot, extension = path.rpartition(".")
    mount = factory.mounts.get(stem) if dot else None
    if mount is None or "." + extension not in ENDINGS:
        return None
    return Playlist(factory, mount, "." + extension)
