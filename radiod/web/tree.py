# -*- test-case-name: tests.web.test_site -*-
"""
The station's resource tree: which resource answers which path on the
site that shares the stream server's ports.
"""

from __future__ import annotations

from twisted.internet.interfaces import IReactorTime

from radiod.web.playlists import playlist_for
from radiod.web.site import StationRoot, StationSite, attach
from radiod.web.titles import TitleUpdate
from radiod.wire.server import RadioFactory

__all__ = ["station_site"]


def station_site(factory: RadioFactory, clock: IReactorTime) -> StationSite:
    """
    The station's site over C{factory}'s mounts and settings, with every
    resource it serves, made the stream server's L{RadioFactory.site}:

      - C{/admin/metadata} and C{/admin.cgi}: title updates
        (L{radiod.web.titles});
      - C{/<mount>.m3u}, C{.pls}, C{.xspf}: playlists
        (L{radiod.web.playlists});
      - any other path: C{404}.
    """
    root = StationRoot(factory)
    root.lookups.append(lambda request: playlist_for(factory, request))
    site = StationSite(
        root, clock, lambda: factory.on_access, timeout=factory.config.header_timeout
    )
    attach(site, "/admin/metadata", TitleUpdate(factory, shoutcast=False))
    attach(site, "/admin.cgi", TitleUpdate(factory, shoutcast=True))
    factory.site = site
    return site
