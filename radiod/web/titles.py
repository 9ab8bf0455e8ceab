# -*- test-case-name: tests.ingest.test_metadata -*-
"""
Title updates from encoders: Icecast's C{/admin/metadata} and SHOUTcast's
C{/admin.cgi}, as resources of the station's site.

An encoder (or the admin) sends C{mode=updinfo} with the new title, as a
query or as a form body, with the mount's source credentials (HTTP Basic,
or SHOUTcast's C{pass=}) or the admin's; the mount's live source takes the
title from its next frame.  The request is read by
L{radiod.ingest.metadata.parse_update}; the answers are Icecast's XML (an
HTML page for C{/admin.cgi}).
"""

from __future__ import annotations

from twisted.internet.defer import succeed
from twisted.logger import Logger
from twisted.web.server import NOT_DONE_YET

from radiod.auth import parse_basic_auth, source_allowed
from radiod.ingest.metadata import (
    ADMIN_CGI,
    HTML_CONTENT_TYPE,
    MAX_BODY,
    SUCCESS,
    XML_CONTENT_TYPE,
    MetadataError,
    icecast_reply,
    parse_update,
    raw_query,
    shoutcast_reply,
)
from radiod.web.site import Endpoint, StationRequest
from radiod.wire.server import RadioFactory

__all__ = ["TitleUpdate"]


class TitleUpdate(Endpoint):
    """
    One of the two title-update paths.

    @ivar shoutcast: whether this is SHOUTcast's C{/admin.cgi} (HTML
        answers, C{pass=}, the default mount when none is named) rather
        than Icecast's C{/admin/metadata}.
    """

    _log = Logger()

    def __init__(self, factory: RadioFactory, shoutcast: bool) -> None:
        super().__init__(factory)
        self.shoutcast = shoutcast

    def render_GET(self, request: StationRequest) -> bytes | int:
        return self._update(request)

    def render_POST(self, request: StationRequest) -> bytes | int:
        return self._update(request)

    def render(self, request: StationRequest) -> bytes | int:
        if request.method not in (b"GET", b"POST", b"HEAD", b"OPTIONS"):
            return self._answer(request, 405, "Method not allowed", False)
        if request.method == b"HEAD":
            return self._answer(request, 405, "Method not allowed", False)
        return super().render(request)

    def _update(self, request: StationRequest) -> bytes | int:
        factory = self.factory
        length = request.getHeader("Content-Length")
        if request.getHeader("Transfer-Encoding"):
            return self._answer(request, 400, "Length required", False)
        if length is not None and length.isdigit() and int(length) > MAX_BODY:
            return self._answer(request, 400, "Request too large", False)
        body = b""
        if request.method == b"POST" and request.content is not None:
            body = request.content.read()
        update = parse_update(raw_query(request.uri.decode("latin-1")), body)
        mount = update.mount
        if mount is None and self.shoutcast:
            mount = factory.default_mount.name
        if mount is None:
            return self._answer(request, 400, "Missing parameter", False)
        config = factory.config
        credentials = parse_basic_auth(request.header("Authorization"))
        admin = factory.admin_access
        allowed = source_allowed(config, mount, credentials) or admin.allows(credentials)
        if not allowed and self.shoutcast and update.password is not None:
            allowed = source_allowed(config, mount, ("source", update.password)) or admin.allows(
                (config.admin_user, update.password)
            )
        if not allowed:
            return self._refused_login(request)
        try:
            title = update.title()
        except MetadataError as error:
            return self._answer(request, error.status, error.message, False)
        sources = factory.sources
        live = sources.live_source(mount) if sources is not None else None
        if live is None:
            return self._answer(request, 400, "Source does not exist", False)
        live.set_title(title)
        self._log.info(
            "Metadata on {mount} changed to {title!r} by {peer}",
            mount=mount,
            title=title,
            peer=request.peer_name,
        )
        return self._answer(request, 200, SUCCESS, True)

    def _refused_login(self, request: StationRequest) -> int:
        """
        Answer wrong or missing credentials: at once for the first few
        failures from this client, later and later after that (see
        L{radiod.wire.limits.LoginThrottle}).
        """
        gave = request.getHeader("Authorization") is not None or b"pass=" in request.uri
        delay = self.factory.limits.failed(request.client_host) if gave else succeed(0.0)

        def answer(seconds: float) -> None:
            body = self._answer(
                request,
                401,
                "You need to authenticate",
                False,
                [("WWW-Authenticate", 'Basic realm="radiod"')],
            )
            if seconds:
                self._log.info(
                    "Failed login from {client}; answering in {delay:g} s",
                    client=request.client_host,
                    delay=seconds,
                )
                clock = self.factory.clock
                clock.callLater(seconds, _finish, request, body)
            else:
                _finish(request, body)

        delay.addCallback(answer)
        return NOT_DONE_YET

    def _answer(
        self,
        request: StationRequest,
        status: int,
        message: str,
        success: bool,
        extra: list[tuple[str, str]] | None = None,
    ) -> bytes:
        """
        Answer in Icecast's XML form (an HTML page for C{/admin.cgi}).  The
        target is not logged: it may hold a password.
        """
        if not success:
            self.factory.refused += 1
            self._log.warn(
                "Refused metadata update {method} {path} from {peer}: {status} {reason}",
                method=request.method.decode("latin-1"),
                path=ADMIN_CGI if self.shoutcast else request.path.decode("latin-1"),
                peer=request.peer_name,
                status=status,
                reason=message,
            )
        request.setResponseCode(status)
        if self.shoutcast:
            request.setHeader("Content-Type", HTML_CONTENT_TYPE)
            body = shoutcast_reply(message)
        else:
            request.setHeader("Content-Type", XML_CONTENT_TYPE)
            body = icecast_reply(message, success)
        if status == 405:
            request.setHeader("Allow", "GET, POST")
        for name, value in extra or []:
            request.setHeader(name, value)
        return body


def _finish(request: StationRequest, body: bytes) -> None:
    if request.finished or request._disconnected:
        return
    request.setHeader("Content-Length", str(len(body)))
    request.write(body)
    request.finish()
