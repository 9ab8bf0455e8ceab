# -*- test-case-name: tests.web.test_admin -*-
"""
The admin login of the station's site: every admin resource (Icecast's
admin commands, radiod's admin API, C{/admin/stats}) sits behind an
L{AdminLogin}, which logs in through the station's C{twisted.cred}
portal (L{radiod.auth.AdminAccess}: L{radiod.auth.AdminChecker} and
L{radiod.auth.AdminRealm}) before anything else about the request is
looked at.
"""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import urlsplit

from twisted.cred.error import LoginFailed
from twisted.internet.defer import CancelledError, Deferred
from twisted.internet.task import deferLater
from twisted.logger import Logger
from twisted.python.failure import Failure
from twisted.web.resource import IResource, Resource
from twisted.web.server import NOT_DONE_YET

from radiod.auth import CHALLENGE, UNAUTHORISED, Administrator
from radiod.web.site import Endpoint, StationRequest, refuse
from radiod.wire.server import RadioFactory
from radiod.wire.stream import SERVER

__all__ = ["AdminLogin", "Prepared"]


class Prepared(Resource):
    """
    An answer made before it is sent: its status and headers are already
    set on the request, and rendering it gives its body (only its length
    to C{HEAD}).
    """

    isLeaf = True

    def __init__(self, body: bytes) -> None:
        super().__init__()
        self.body = body

    def render(self, request: StationRequest) -> bytes:
        """
        The body, its length in C{Content-Length}.
        """
        request.setHeader("Content-Length", str(len(self.body)))
        return b"" if request.method == b"HEAD" else self.body


def cross_site(request: StationRequest) -> bool:
    """
    Whether a browser sent C{request} for a page of another site: its
    C{Sec-Fetch-Site} says C{cross-site}, or its C{Origin} is not the host
    it asks.  Encoders, scripts and monitoring send neither header.
    """
    if request.header("Sec-Fetch-Site") == "cross-site":
        return True
    origin = request.header("Origin")
    if origin is None:
        return False
    host = (request.header("Host") or "").lower()
    return origin == "null" or urlsplit(origin).netloc.lower() != host


class AdminLogin(Endpoint):
    """
    An admin resource behind the admin login.

    With the admin credentials (HTTP Basic), the request goes to the
    resource made for the L{Administrator} the portal's realm gives, as
    C{twisted.web.guard.HTTPAuthSessionWrapper} hands a request to the
    avatar its realm gives.  Without them, whatever was wrong, the answer
    is radiod's one refusal for every login: C{401} in plain text with
    C{WWW-Authenticate: Basic realm="radiod"}, one log line, the
    station's count of refusals, and, when credentials were given, the
    login throttle's delay (L{radiod.wire.limits.LoginThrottle}).

    C{HTTPAuthSessionWrapper} cannot give that answer: its C{401} says
    C{Unauthorized} with C{basic realm=...}, is neither logged nor
    counted, never waits, and its realm must hand out resources where
    radiod's hands out an L{Administrator}.

    The login comes before everything else, method included: a wrong
    login is C{401} whatever else is wrong with the request.
    """

    _log = Logger()

    def __init__(
        self, factory: RadioFactory, resource: Callable[[Administrator], IResource]
    ) -> None:
        """
        @param factory: the stream server's factory, whose admin access,
            login limits and clock the login uses.
        @param resource: makes the resource that answers an
            administrator's request.
        """
        super().__init__(factory)
        self._resource = resource

    def render(self, request: StationRequest) -> int | bytes:
        """
        Log in, then answer with the administrator's resource, or refuse.
        """
        request.setHeader("Server", SERVER)
        if cross_site(request):
            # A page of another site making the browser of a logged-in
            # admin act (request forgery): its credentials would go along.
            return refuse(request, self.factory, 403, "Admin requests from other sites are refused")
        logged_in = self.factory.admin_access.login(request.header("Authorization"))
        answer: Deferred[IResource] = logged_in.addCallbacks(
            self._resource, self._refused, errbackArgs=(request,)
        )
        request.notifyFinish().addErrback(lambda _: answer.cancel())
        answer.addCallback(request.render).addErrback(self._unanswered, request)
        return NOT_DONE_YET

    def _refused(
        self, failure: Failure, request: StationRequest
    ) -> IResource | Deferred[IResource]:
        """
        The refusal of a failed login: at once for a request without
        credentials or for the first few failures from its client, later
        and later after that.
        """
        failure.trap(LoginFailed)
        refusal = Prepared(refuse(request, self.factory, 401, UNAUTHORISED, [CHALLENGE]))
        gave = request.getHeader("Authorization") is not None or b"pass=" in request.uri
        if not gave:
            return refusal
        client = request.client_host

        def wait(seconds: float) -> IResource | Deferred[IResource]:
            if not seconds:
                return refusal
            self._log.info(
                "Failed login from {client}; answering in {delay:g} s",
                client=client,
                delay=seconds,
            )
            return deferLater(self.factory.clock, seconds, lambda: refusal)

        return self.factory.limits.failed(client).addCallback(wait)

    def _unanswered(self, failure: Failure, request: StationRequest) -> None:
        """
        Nothing to answer when the client has left; an error page for a
        failure, which is logged.
        """
        if failure.check(CancelledError):
            return
        request.processingFailed(failure)
