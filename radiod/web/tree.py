# -*- test-case-name: tests.web.test_site,tests.web.test_requests,tests.web.test_adminpage -*-
"""
The station's resource tree: which resource answers which path on the
site that shares the stream server's ports.
"""

from __future__ import annotations

from twisted.internet.interfaces import IReactorTime

from radiod.web.adminpage import attach_admin_page
from radiod.web.playlists import playlist_for
from radiod.web.requests import (
    ADMIN_REQUESTS_PATH,
    REQUESTS_PATH,
    AiredLookup,
    QueueLookup,
    RequestAdmin,
    RequestList,
    SongRequests,
    TrackLookup,
    programme_aired,
    programme_queues,
    programme_tracks,
)
from radiod.web.site import StationRoot, StationSite, attach
from radiod.web.titles import TitleUpdate
from radiod.wire.server import RadioFactory

__all__ = ["station_site"]


def station_site(
    factory: RadioFactory,
    clock: IReactorTime,
    request_queues: QueueLookup | None = None,
    library_tracks: TrackLookup | None = None,
    aired: AiredLookup | None = None,
) -> StationSite:
    """
    The station's site over C{factory}'s mounts and settings, with every
    resource it serves, made the stream server's L{RadioFactory.site}:

      - C{/admin/} (and C{/admin}, which redirects there): the admin
        page and its files (L{radiod.web.adminpage});
      - C{/admin/metadata} and C{/admin.cgi}: title updates
        (L{radiod.web.titles});
      - C{/api/v1/requests/<mount>} and C{/api/v1/admin/requests/<mount>}:
        song requests (L{radiod.web.requests});
      - C{/<mount>.m3u}, C{.pls}, C{.xspf}: playlists
        (L{radiod.web.playlists});
      - any other path: C{404}, unless a resource put on the site later
        answers it (the status pages, the station page, or, last of all,
        a file of the station's webroot, L{radiod.web.webroot}).

    @param factory: the stream server's factory.
    @param clock: the station's clock (timeouts, log times, when requests
        are made).
    @param request_queues: the request queue of a mount by its name, or
        C{None} for a mount that takes no requests; by default the queue
        its programme plays requests from (L{programme_queues}).
    @param library_tracks: the tracks a mount's listeners may request,
        by the mount's name, or C{None} when it has none; by default its
        programme's library (L{programme_tracks}).
    @param aired: a mount's past plays, by its name; by default those
        its programme keeps (L{programme_aired}).
    """
    root = StationRoot(factory)
    root.lookups.append(lambda request: playlist_for(factory, request))
    site = StationSite(
        root, clock, lambda: factory.on_access, timeout=factory.config.header_timeout
    )
    attach_admin_page(site)
    attach(site, "/admin/metadata", TitleUpdate(factory, shoutcast=False))
    attach(site, "/admin.cgi", TitleUpdate(factory, shoutcast=True))
    requests = SongRequests(
        clock,
        factory,
        request_queues or programme_queues(factory.mounts),
        library_tracks or programme_tracks(factory.mounts),
        aired or programme_aired(factory.mounts),
    )
    attach(site, REQUESTS_PATH, RequestList(requests))
    attach(site, ADMIN_REQUESTS_PATH, RequestAdmin(requests))
    factory.site = site
    return site
