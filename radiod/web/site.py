# -*- test-case-name: tests.web.test_site,tests.web.test_webroot -*-
"""
The station's twisted.web side: everything on the station's ports that is
not a stream or a source.

The stream server (L{radiod.wire.server}) reads each request head itself.
A mount's stream, its C{/;} aliases and a source's C{PUT} or C{SOURCE}
stay with it; any other request is handed, head and all, to the
L{StationSite} on the same connection, whose resource tree answers it:
status pages, admin, metrics, the web page and its assets, playlists, title
updates, event streams and the library's files.

The policies every answer shares live here once: the C{Server} header,
CORS for scripts on other sites, the plain-text refusals (C{404 File Not
Found}, C{405} with C{Allow}) and their JSON form for the JSON APIs, each
with one log line naming the client, the C{OPTIONS} preflight, and the
access log line of each request.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence

from twisted.internet.interfaces import IAddress, IReactorTime
from twisted.logger import Logger
from twisted.python.failure import Failure
from twisted.web.http import HTTPChannel
from twisted.web.resource import IResource, Resource
from twisted.web.server import Request, Site

from radiod.request import REASONS
from radiod.wire.accesslog import Access, mask_target
from radiod.wire.server import RadioFactory
from radiod.wire.stream import ALLOWED, CORS, SERVER

__all__ = [
    "JSON_CONTENT_TYPE",
    "Branch",
    "Endpoint",
    "Refusal",
    "StationChannel",
    "StationRequest",
    "StationResource",
    "StationRoot",
    "StationSite",
    "attach",
    "refuse",
    "refuse_json",
]

JSON_CONTENT_TYPE = "application/json; charset=utf-8"
"""
The content type of the site's JSON answers.
"""


_log = Logger(namespace="radiod.web.site")

# Reason phrases for statuses only the site sends (Twisted has none for
# these).
_MORE_REASONS = {429: "Too Many Requests"}


class StationChannel(HTTPChannel):
    """
    One connection handed over by the stream server.

    @ivar client: the client's address, without a port (the one
        C{X-Forwarded-For} names when the connection comes from a trusted
        proxy), for limits and the access log.
    @ivar peer: the client as logs name it.
    @ivar connected_at: when the connection was made.
    """

    client = "-"
    peer = "-"
    connected_at = 0.0
    logged = True

    def checkPersistence(self, request: Request, version: bytes) -> bool:
        """
        One request per connection, as the stream server answers: the
        connection closes once the answer is written.
        """
        request.responseHeaders.setRawHeaders(b"connection", [b"Close"])
        return False


class StationRequest(Request):
    """
    A request on the station's port, which knows its client as the stream
    server identified it.
    """

    channel: StationChannel

    sent_version = "HTTP/1.0"
    """
    The HTTP version the client sent, for the access log.
    """

    client_host: str
    """
    The client's address, without a port.
    """

    peer_name: str
    """
    The client, as logs name it.
    """

    connected_at: float
    """
    When the client connected.
    """

    def requestReceived(self, command: bytes, path: bytes, version: bytes) -> None:
        """
        Answer in HTTP/1.0, one request per connection, as the stream
        server does (and as players and Icecast's tools expect): no
        chunked bodies, the connection closed after the answer.
        """
        self.sent_version = version.decode("latin-1")
        super().requestReceived(command, path, b"HTTP/1.0")

    def __init__(self, channel: StationChannel, *args: object, **kwargs: object) -> None:
        super().__init__(channel, *args, **kwargs)
        # Kept past the end of the connection, which clears the channel.
        self.client_host = channel.client
        self.peer_name = channel.peer
        self.connected_at = channel.connected_at
        self.logged = channel.logged

    def __repr__(self) -> str:
        """
        The request as Twisted's own log lines show it, its secrets masked.
        """
        method = getattr(self, "method", b"-")
        uri = getattr(self, "uri", b"-")
        target = mask_target(uri.decode("latin-1"))
        return f"<{type(self).__name__} {method.decode('latin-1')} {target}>"

    def connectionLost(self, reason: Failure) -> None:
        """
        The client left before the answer was finished (an event stream,
        say): log the request as far as it went.
        """
        site = self.channel.factory
        super().connectionLost(reason)
        site.log(self)

    def header(self, name: str) -> str | None:
        """
        The first value of request header C{name}, as text.
        """
        value = self.getHeader(name)
        return value if value is None else str(value)

    def text_args(self) -> dict[str, list[str]]:
        """
        The query and form arguments, as text (UTF-8, else Latin-1).
        """
        decoded: dict[str, list[str]] = {}
        for key, values in (self.args or {}).items():
            decoded[_text(key)] = [_text(value) for value in values]
        return decoded


def _text(data: bytes) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("latin-1")


def refuse(
    request: StationRequest,
    factory: RadioFactory,
    status: int,
    reason: str,
    extra: Sequence[tuple[str, str]] = (),
) -> bytes:
    """
    Refuse a request: the status, a one-line plain-text body saying it,
    CORS headers, and one log line naming the client; the station's count
    of refusals goes up.

    @param extra: more headers (an C{Allow} here replaces the one a
        C{405} gets by default).
    @return: the body, for a C{render} method to return.
    """
    _refused(request, factory, status, reason, extra)
    request.setHeader("Content-Type", "text/plain; charset=utf-8")
    return f"{status} {reason}\n".encode()


def refuse_json(
    request: StationRequest,
    factory: RadioFactory,
    status: int,
    reason: str,
    extra: Sequence[tuple[str, str]] = (),
) -> bytes:
    """
    Refuse a request to a JSON API as L{refuse} does, the body a JSON
    object C{{"error": reason}}, never cached.

    @return: the body, for a C{render} method to return.
    """
    _refused(request, factory, status, reason, extra)
    request.setHeader("Content-Type", JSON_CONTENT_TYPE)
    request.setHeader("Cache-Control", "no-cache, no-store")
    text = json.dumps({"error": reason}, ensure_ascii=False)
    return text.encode("utf-8", "backslashreplace") + b"\n"


def _refused(
    request: StationRequest,
    factory: RadioFactory,
    status: int,
    reason: str,
    extra: Sequence[tuple[str, str]],
) -> None:
    """
    What every refusal does besides its body: count it, log it in one
    line naming the client, and set its status and headers.
    """
    factory.refused += 1
    method = request.method.decode("latin-1")
    target = request.uri.decode("latin-1")
    _log.warn(
        "Refused {method} {path} from {peer}: {status} {reason}",
        method=method,
        path=mask_target(target),
        peer=request.peer_name,
        status=status,
        reason=reason,
    )
    phrase = REASONS.get(status) or _MORE_REASONS.get(status, "")
    request.setResponseCode(status, phrase.encode() or None)
    if status == 405:
        request.setHeader("Allow", ALLOWED)
    for name, value in (*CORS, *extra):
        request.setHeader(name, value)


class StationResource(Resource):
    """
    The base of every resource on the station's site: the C{Server}
    header on every answer, C{OPTIONS} answered for CORS preflights, and a
    method a resource does not take refused with C{405} as every other
    refusal is.

    @ivar factory: the stream server's factory (the station's mounts,
        configuration and counts).
    """

    def __init__(self, factory: RadioFactory) -> None:
        super().__init__()
        self.factory = factory

    def render(self, request: StationRequest) -> bytes | int:
        request.setHeader("Server", SERVER)
        method = request.method.decode("latin-1")
        if method == "OPTIONS":
            return self.render_OPTIONS(request)
        handler = getattr(self, f"render_{method}", None)
        if handler is None:
            return refuse(request, self.factory, 405, "Method Not Allowed")
        result: bytes | int = handler(request)
        return result

    def render_OPTIONS(self, request: StationRequest) -> bytes:
        """
        A CORS preflight: any path may be read by scripts on other sites.
        """
        request.setResponseCode(204)
        for name, value in CORS:
            request.setHeader(name, value)
        request.setHeader("Access-Control-Max-Age", "86400")
        return b""


class Refusal(StationResource):
    """
    What the site answers where it has nothing: C{404 File Not Found}
    (C{OPTIONS} is still answered, for preflights).
    """

    isLeaf = True

    def render(self, request: StationRequest) -> bytes | int:
        request.setHeader("Server", SERVER)
        if request.method == b"OPTIONS":
            return self.render_OPTIONS(request)
        return refuse(request, self.factory, 404, "File Not Found")


class StationRoot(StationResource):
    """
    The root of the station's resource tree: named children, then
    whatever L{lookups} find (paths that depend on the mounts, such as
    playlists), then whatever L{fallbacks} find (the webroot's files),
    else L{Refusal}.

    @ivar lookups: functions from a request to the resource for its path,
        or C{None}, tried in order for paths no child has.
    @ivar fallbacks: the same, tried in order after every lookup, however
        late the lookups were added: what the site serves itself always
        wins over what they find.
    """

    def __init__(self, factory: RadioFactory) -> None:
        super().__init__(factory)
        self.lookups: list[Callable[[StationRequest], IResource | None]] = []
        self.fallbacks: list[Callable[[StationRequest], IResource | None]] = []

    def render(self, request: StationRequest) -> bytes | int:
        return Refusal(self.factory).render(request)

    def getChild(self, path: bytes, request: StationRequest) -> IResource:
        for lookup in (*self.lookups, *self.fallbacks):
            found = lookup(request)
            if found is not None:
                return found
        return Refusal(self.factory)


class Branch(StationRoot):
    """
    A path segment that only leads to others, such as C{/api} or
    C{/api/v1}: asked for itself, it is C{404 File Not Found}, as any
    path the site has nothing at; a path under it that no child has is
    looked up from the root, so that the playlist of a mount named under
    it (C{/api/x.m3u}) is still found.
    """

    def __init__(self, root: StationRoot) -> None:
        """
        @param root: the site's root, whose lookups find what no child
            has.
        """
        super().__init__(root.factory)
        self._root = root

    def getChild(self, path: bytes, request: StationRequest) -> IResource:
        """
        What the root finds for the request's path, else L{Refusal}.
        """
        return self._root.getChild(path, request)

    def render(self, request: StationRequest) -> bytes | int:
        """
        C{404 File Not Found}.
        """
        return Refusal(self.factory).render(request)


class Endpoint(StationResource):
    """
    A resource that answers at its own path only: a path below it
    (C{/7.html/x}, or C{/api/v1/status/} with its slash) is C{404 File Not
    Found}, as any path the site has nothing at.
    """

    def getChild(self, path: bytes, request: StationRequest) -> IResource:
        """
        L{Refusal}, for any path below this one.
        """
        return Refusal(self.factory)


def attach(site: StationSite, path: str, resource: IResource) -> None:
    """
    Put C{resource} at C{path} on C{site}, under the children already at
    the segments before its last, or under new L{Branch}es where there
    are none.

    @param site: the station's site.
    @param path: an absolute path, such as C{/api/v1/status}.
    @param resource: what answers there.
    """
    root = site.resource
    assert isinstance(root, StationRoot)
    *parents, last = path.strip("/").encode("ascii").split(b"/")
    node: Resource = root
    for segment in parents:
        child = node.getStaticEntity(segment)
        if child is None:
            child = Branch(root)
            node.putChild(segment, child)
        assert isinstance(child, Resource)
        node = child
    node.putChild(last, resource)


class StationSite(Site):
    """
    The station's twisted.web site, sharing the stream server's ports.

    Each request it answers goes to the access log as the stream server's
    own requests do, with the client the stream server identified.
    """

    requestFactory = StationRequest
    displayTracebacks = False

    def __init__(
        self,
        root: StationRoot,
        clock: IReactorTime,
        on_access: Callable[[], Sequence[Callable[[Access], None]]],
        timeout: float,
    ) -> None:
        """
        @param root: the resource tree.
        @param clock: for connection timeouts and log times.
        @param on_access: the access log's observers, looked up at each
            request (they change on reload).
        @param timeout: seconds a kept-alive connection may be idle.
        """
        super().__init__(root, timeout=timeout, reactor=clock)
        self._clock = clock
        self._on_access = on_access

    def channel(
        self, client: str, peer: str, address: IAddress, logged: bool = True
    ) -> StationChannel:
        """
        A channel for a connection the stream server hands over.
        """
        channel = StationChannel()
        channel.factory = self
        channel.site = self  # type: ignore[attr-defined]
        channel.requestFactory = self.requestFactory  # type: ignore[assignment]
        channel.timeOut = self.timeOut  # type: ignore[assignment]
        channel.callLater = self.reactor.callLater  # type: ignore[assignment]
        channel.logged = logged
        channel.client = client
        channel.peer = peer
        channel.connected_at = self._clock.seconds()
        return channel

    def claims(self, path: str) -> bool:
        """
        Whether one of the site's resources answers C{path}: its first
        segment names a child of the root (C{/admin/...}, C{/web/...},
        C{/index.html}), or it is the root itself.
        """
        first = path.lstrip("/").split("/", 1)[0]
        root = self.resource
        assert isinstance(root, Resource)
        return first == "" or first.encode("utf-8", "replace") in root.children

    def log(self, request: Request) -> None:  # type: ignore[override]
        observers = self._on_access()
        assert isinstance(request, StationRequest)
        if not observers or not request.logged:
            return
        now = self._clock.seconds()
        version = request.sent_version
        access = Access(
            client=request.client_host,
            ended=now,
            duration=now - request.connected_at,
            status=request.code,
            sent=request.sentLength,
            method=request.method.decode("latin-1"),
            target=request.uri.decode("latin-1"),
            version=version,
            referer=request.header("Referer"),
            user_agent=request.header("User-Agent"),
        )
        for observer in observers:
            observer(access)
