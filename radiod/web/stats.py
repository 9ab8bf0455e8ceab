# -*- test-case-name: tests.web.test_monitoring,tests.web.test_statuspage,tests.web.test_hidden -*-
"""
The status pages, as resources of the station's site:

  - L{STATUS_JSON_PATH}: Icecast 2.4's public JSON (C{?mount=} optional);
  - L{STATUS_PAGE_PATH} and L{SERVER_VERSION_PATH}: the HTML pages at
    Icecast's paths (L{radiod.web.statuspage});
  - L{ADMIN_STATS_PATH}: Icecast's XML, for the admin (put behind the
    admin login by L{radiod.web.monitoring.Monitoring});
  - L{SEVEN_PATH} and L{SHOUTCAST_STATS_PATH}: SHOUTcast's one-line page
    and its C{/stats?sid=N[&json=1[&callback=f]]};
  - L{API_STATUS_PATH}: radiod's own JSON (C{?mount=} optional).

The public pages leave hidden mounts out, and answer for a hidden mount
asked for by name as for an unknown one (as Icecast does); the admin's
C{/admin/stats}, and C{/api/v1/status?hidden=1} with the admin's
credentials, show them.

Each answers C{GET} and C{HEAD} (and C{OPTIONS} preflights); other
methods get 405.  Each renders a snapshot of the station taken when it is
asked (L{radiod.web.monitoring.Monitoring.snapshot}) with a renderer of
L{radiod.web.status}, and is never cached; the public ones may be read by
scripts on other sites.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

from twisted.web.resource import IResource

from radiod.auth import Administrator
from radiod.ingest.metadata import XML_CONTENT_TYPE
from radiod.web.guard import AdminLogin
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
from radiod.web.statuspage import PAGE_POLICY, render_server_version, render_status_page
from radiod.wire.server import RadioFactory

__all__ = [
    "ADMIN_STATS_PATH",
    "API_STATUS_PATH",
    "NO_CACHE",
    "SERVER_VERSION_PATH",
    "SEVEN_PATH",
    "SHOUTCAST_STATS_PATH",
    "STATUS_JSON_PATH",
    "STATUS_PAGE_PATH",
    "AdminStats",
    "ApiStatus",
    "ServerVersion",
    "SevenHtml",
    "ShoutcastStats",
    "StatusJson",
    "StatusPage",
    "parse_sid",
]

STATUS_JSON_PATH = "/status-json.xsl"
STATUS_PAGE_PATH = "/status.xsl"
SERVER_VERSION_PATH = "/server_version.xsl"
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
_HTML_PAGE = (
    *_PUBLIC,
    ("Content-Security-Policy", PAGE_POLICY),
    ("X-Content-Type-Options", "nosniff"),
    ("Referrer-Policy", "same-origin"),
)
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
    Icecast's C{/status-json.xsl}: every public mount, or the one
    C{mount=} names (none for an unknown or hidden one).
    """

    def render_GET(self, request: StationRequest) -> bytes:
        """
        The document, for every mount or one.
        """
        page = render_status_json(self._status(request), first(query(request), "mount"))
        return self._page(request, JSON_CONTENT_TYPE, page)


class StatusPage(_StatusPage):
    """
    The status page at Icecast's C{/status.xsl}: every public mount, or
    the one C{mount=} names (none for an unknown or hidden one).
    """

    def render_GET(self, request: StationRequest) -> bytes:
        """
        The page, for every mount or one.
        """
        page = render_status_page(self._status(request), first(query(request), "mount"))
        return self._page(request, HTML_CONTENT_TYPE, page, _HTML_PAGE)


class ServerVersion(_StatusPage):
    """
    The server's page at Icecast's C{/server_version.xsl}.
    """

    def render_GET(self, request: StationRequest) -> bytes:
        """
        The page.
        """
        page = render_server_version(self._status(request))
        return self._page(request, HTML_CONTENT_TYPE, page, _HTML_PAGE)


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
    radiod's C{/api/v1/status}: every public mount, or the one C{mount=}
    names (404 for an unknown or hidden one).

    With C{hidden=1}, the hidden mounts too, for the admin only: the
    request goes through the admin login (L{AdminLogin}: without the
    admin's credentials it is refused with C{401}, and failed logins are
    slowed down as on every admin page).  Without it, credentials are not
    looked at (a proxy in front may send its own).
    """

    def __init__(self, factory: RadioFactory, snapshot: Snapshot, admin: bool = False) -> None:
        """
        @param factory: the stream server's factory (its mounts).
        @param snapshot: takes the station's status.
        @param admin: whether this answers a logged-in admin (hidden mounts
            shown, never cached, not for scripts on other sites).
        """
        super().__init__(factory, snapshot)
        self._admin = admin
        self._login: IResource | None = None
        if not admin:
            full = ApiStatus(factory, snapshot, admin=True)

            def for_admin(admin: Administrator) -> IResource:
                return full

            self._login = AdminLogin(factory, for_admin)

    def render(self, request: StationRequest) -> bytes | int:
        """
        Log the admin in first, when the request asks for the hidden
        mounts.
        """
        if self._login is not None and (first(query(request), "hidden") or "").strip() == "1":
            answer: bytes | int = self._login.render(request)
            return answer
        return super().render(request)

    def render_GET(self, request: StationRequest) -> bytes:
        """
        The document, for every mount or one.
        """
        status = self._status(request)
        if not self._admin:
            status = status.listed()
        mount = first(query(request), "mount")
        if mount is not None and all(each.name != mount for each in status.mounts):
            return refuse(request, self.factory, 404, "No such mount")
        page = render_api_status(status, mount)
        headers = NO_CACHE if self._admin else _PUBLIC
        return self._page(request, JSON_CONTENT_TYPE, page, headers)


class _ShoutcastPage(_StatusPage):
    """
    A SHOUTcast page about the stream C{sid} names: mounts counted from
    1, as they are configured, live-only mounts after them.  Hidden
    mounts keep their numbers (so that hiding one does not give another
    its number), but are answered as numbers no stream has; without a
    C{sid}, the stream is the first mount that is not hidden (the first
    mount, unless it is hidden).
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
        if not params.get("sid"):
            listed = status.listed().mounts
            if not listed:
                return refuse(request, self.factory, 404, "No such stream")
            return listed[0], status
        if sid > len(status.mounts) or status.mounts[sid - 1].hidden:
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
