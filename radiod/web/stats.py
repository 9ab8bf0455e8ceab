# -*- test-case-name: tests.web.test_monitoring -*-
"""
The status pages, as resources of the station's site:

  - L{STATUS_JSON_PATH}: Icecast 2.4's public JSON (C{?mount=} optional);
  - L{ADMIN_STATS_PATH}: Icecast's XML, for the admin (put behind the
    admin login by L{radiod.web.monitoring.Monitoring});
  - L{SEVEN_PATH} and L{SHOUTCAST_STATS_PATH}: SHOUTcast's one-line page
    and its C{/stats?sid=N[&json=1[&callback=f]]};
  - L{API_STATUS_PATH}: radiod's own JSON (C{?mount=} optional).

Each answers C{GET} and C{HEAD} (and C{OPTIONS} preflights); other
methods get 405.  Each renders a snapshot of the station taken when it is
asked (L{radiod.web.monitoring.Monitoring.snapshot}) with a renderer of
L{radiod.web.status}, and is never cached; the public ones may be read by
scripts on other sites.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

from radiod.ingest.metadata import XML_CONTENT_TYPE
from radiod.web.params import first, query
from radiod.web.site import Endpoint, StationRequest, refuse
from radiod.web.status import (
    MountStatus,
    StationStatus,
    render_admin_stats,
    render_api_status,
    render_seven_html,
    render_shoutcast_json,
    render_shoutcast_xml,
    render_status_json,
)
from radiod.wire.server import RadioFactory

__all__ = [
    "ADMIN_STATS_PATH",
    "API_STATUS_PATH",
    "NO_CACHE",
    "SEVEN_PATH",
    "SHOUTCAST_STATS_PATH",
    "STATUS_JSON_PATH",
    "AdminStats",
    "ApiStatus",
    "SevenHtml",
    "ShoutcastStats",
    "StatusJson",
    "parse_sid",
]

STATUS_JSON_PATH = "/status-json.xsl"
ADMIN_STATS_PATH = "/admin/stats"
SEVEN_PATH = "/7.html"
SHOUTCAST_STATS_PATH = "/stats"
API_STATUS_PATH = "/api/v1/status"

JSON_CONTENT_TYPE = "application/json; charset=utf-8"
HTML_CONTENT_TYPE = "text/html; charset=utf-8"
JAVASCRIPT_CONTENT_TYPE = "application/javascript; charset=utf-8"

NO_CACHE = (
    ("Cache-Control", "no-cache, no-store"),
    ("Pragma", "no-cache"),
    ("Expires", "Mon, 26 Jul 1997 05:00:00 GMT"),
)
"""
The headers that keep a status page or a scrape out of every cache.
"""

_PUBLIC = (*NO_CACHE, ("Access-Control-Allow-Origin", "*"))
_CALLBACK = re.compile(r"[A-Za-z_$][A-Za-z0-9_$.]{0,63}")
_SID = re.compile(r"[0-9]{1,6}")

Snapshot = Callable[[str | None], StationStatus]
"""
The station's status now, given the asking request's C{Host}.
"""


def parse_sid(values: Sequence[str] | None) -> int | None:
    """
    Read SHOUTcast's C{sid} parameter.

    @param values: the parameter's values, or C{None} when absent.
    @return: the stream number (1 when absent), or C{None} when it is not
        a whole number from 1.
    """
    if not values:
        return 1
    text = values[0].strip()
    if not _SID.fullmatch(text) or int(text) < 1:
        return None
    return int(text)


class _StatusPage(Endpoint):
    """
    A status page over the station's snapshots.
    """

    def __init__(self, factory: RadioFactory, snapshot: Snapshot) -> None:
        """
        @param factory: the stream server's factory (its mounts).
        @param snapshot: takes the station's status.
        """
        super().__init__(factory)
        self._snapshot = snapshot

    def _status(self, request: StationRequest) -> StationStatus:
        """
        The station's status now, its URLs as the request's C{Host} names
        it.
        """
        return self._snapshot(request.header("Host"))

    def _page(
        self,
        request: StationRequest,
        content_type: str,
        body: bytes,
        headers: Sequence[tuple[str, str]] = _PUBLIC,
    ) -> bytes:
        """
        Answer with C{body}: its content type, and C{headers} (by default,
        never cached and readable by scripts on other sites).
        """
        request.setHeader("Content-Type", content_type)
        for name, value in headers:
            request.setHeader(name, value)
        return body


class StatusJson(_StatusPage):
    """
    Icecast's C{/status-json.xsl}: every mount, or the one C{mount=}
    names (none for an unknown one).
    """

    def render_GET(self, request: StationRequest) -> bytes:
        """
        The document, for every mount or one.
        """
        page = render_status_json(self._status(request), first(query(request), "mount"))
        return self._page(request, JSON_CONTENT_TYPE, page)


class AdminStats(_StatusPage):
    """
    Icecast's C{/admin/stats}: every mount, or the one C{mount=} names
    (400 for an unknown one).
    """

    def render_GET(self, request: StationRequest) -> bytes:
        """
        The document, for every mount or one.
        """
        mount = first(query(request), "mount")
        if mount is not None and mount not in self.factory.mounts:
            return refuse(request, self.factory, 400, "Source does not exist")
        page = render_admin_stats(self._status(request), mount)
        return self._page(request, XML_CONTENT_TYPE, page, NO_CACHE)


class ApiStatus(_StatusPage):
    """
    radiod's C{/api/v1/status}: every mount, or the one C{mount=} names
    (404 for an unknown one).
    """

    def render_GET(self, request: StationRequest) -> bytes:
        """
        The document, for every mount or one.
        """
        mount = first(query(request), "mount")
        if mount is not None and mount not in self.factory.mounts:
            return refuse(request, self.factory, 404, "No such mount")
        page = render_api_status(self._status(request), mount)
        return self._page(request, JSON_CONTENT_TYPE, page)


class _ShoutcastPage(_StatusPage):
    """
    A SHOUTcast page about the stream C{sid} names: mounts counted from
    1, as they are configured, live-only mounts after them.
    """

    def _stream(
        self, request: StationRequest, params: dict[str, list[str]]
    ) -> tuple[MountStatus, StationStatus] | bytes:
        """
        The stream C{sid} names and the snapshot it is part of; or the
        refusal of a malformed (400) or unknown (404) one.
        """
        sid = parse_sid(params.get("sid"))
        if sid is None:
            message = "Bad Request: sid must be a stream number from 1"
            return refuse(request, self.factory, 400, message)
        status = self._status(request)
        if sid > len(status.mounts):
            return refuse(request, self.factory, 404, "No such stream")
        return status.mounts[sid - 1], status


class SevenHtml(_ShoutcastPage):
    """
    SHOUTcast's C{/7.html}: one stream's counts and title on one line.
    """

    def render_GET(self, request: StationRequest) -> bytes:
        """
        The line of the stream C{sid} names.
        """
        found = self._stream(request, query(request))
        if isinstance(found, bytes):
            return found
        return self._page(request, HTML_CONTENT_TYPE, render_seven_html(found[0]))


class ShoutcastStats(_ShoutcastPage):
    """
    SHOUTcast's C{/stats}: XML, JSON with C{json=1}, JSON-P with a
    C{callback} (400 for a callback that is not a JavaScript name).
    """

    def render_GET(self, request: StationRequest) -> bytes:
        """
        The statistics of the stream C{sid} names.
        """
        params = query(request)
        callback = first(params, "callback")
        if callback is not None and not _CALLBACK.fullmatch(callback):
            message = "Bad Request: callback must be a JavaScript name"
            return refuse(request, self.factory, 400, message)
        found = self._stream(request, params)
        if isinstance(found, bytes):
            return found
        mount, status = found
        if (first(params, "json") or "").strip() == "1":
            content_type = JAVASCRIPT_CONTENT_TYPE if callback else JSON_CONTENT_TYPE
            return self._page(request, content_type, render_shoutcast_json(mount, status, callback))
        return self._page(request, XML_CONTENT_TYPE, render_shoutcast_xml(mount, status))
