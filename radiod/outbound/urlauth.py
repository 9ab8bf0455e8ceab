# -*- test-case-name: tests.outbound.test_urlauth -*-
"""
Icecast's URL authentication (C{<authentication type="url">}), the HTTP
client side: asking an auth server whether a listener or a source may
come in, and telling it when listeners leave and mounts come and go.

L{UrlAuthenticator} makes the requests a L{UrlAuthConfig} names (read
from Icecast's options by L{radiod.outbound.authconfig}).  Each request
is a C{POST} of an C{application/x-www-form-urlencoded} body, with
C{User-Agent: radiod/<version>} and, when the options give a
C{username} and a C{password} (or the URL holds credentials, which come
first), HTTP basic authentication.  The fields are Icecast's, in its
order (the values URL-encoded in UTF-8):

  - C{listener_add}: C{action=listener_add}, C{server} (the host name),
    C{port}, C{client} (the listener's id), C{mount} (as the listener
    asked for it, query string included), C{user} and C{pass} (the
    listener's basic credentials, empty when none), C{ip}, C{agent}
    (C{-} when none), C{referer} (empty when none), C{listeners} (the
    mount's listeners now, as Icecast-KH sends it), then, for each header
    named by the C{headers} option that the listener sent,
    C{<header_prefix><name>}.
  - C{listener_remove}: C{action=listener_remove}, C{server}, C{port},
    C{client}, C{mount}, C{user}, C{pass}, C{duration} (whole seconds
    connected), C{ip}, C{agent}, C{listeners}.
  - C{mount_add} and C{mount_remove}: C{action}, C{mount}, C{server},
    C{port}.
  - C{stream_auth} (a source connecting): C{action=stream_auth},
    C{mount}, C{ip}, C{server}, C{port}, C{user}, C{pass}.

The answer to C{listener_add} or C{stream_auth} admits only when it
carries the auth header (C{auth_header}, by default C{icecast-auth-user:
1}) with its value: the name is matched whatever its case, the value
after trimming and, as Icecast compares them, whatever its case too (an
C{auth_header} with no value admits on the header's presence).  Any
other answer below 500, a 200 included, is a refusal; its
C{icecast-auth-message} is the message to show the listener.  An
admission may carry a time limit (C{timelimit_header}, by default
C{icecast-auth-timelimit}): the whole seconds the listener may stay.

An auth server that cannot be reached, does not answer within
L{UrlAuthConfig.timeout} or answers with a 5xx leaves listeners to
L{UrlAuthConfig.failure}: refused (C{"deny"}) or let in (C{"allow"}); a
source is always refused then.  Each such failure is one log line with
the mount, the address and why.  Admissions and refusals (never those
failures) may be kept for L{UrlAuthConfig.cache_seconds}, by mount,
credentials, address and user agent, so that a listener reconnecting
is not asked about again.

The other requests are sent and forgotten: a failure is one log line.
Nothing here blocks the reactor.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote, urlencode, urlsplit

from twisted.internet.defer import Deferred, succeed
from twisted.internet.interfaces import IReactorTime
from twisted.internet.protocol import Protocol, connectionDone
from twisted.internet.task import deferLater
from twisted.logger import Logger
from twisted.python.failure import Failure
from twisted.web.client import (
    Agent,
    BrowserLikePolicyForHTTPS,
    HTTPConnectionPool,
    _HTTP11ClientFactory,
)
from twisted.web.http_headers import Headers
from twisted.web.iweb import IAgent, IResponse

from radiod.interfaces import (
    ALLOWED,
    CANCELLED,
    REFUSED,
    UNCHECKED,
    UNREACHABLE_ALLOWED,
    UNREACHABLE_DENIED,
    AuthRequest,
    AuthResult,
    UrlAuth,
)
from radiod.outbound.authconfig import URL_OPTIONS, UrlAuthConfig
from radiod.outbound.webhooks import USER_AGENT, MemoryBody, request_uri

__all__ = [
    "ALLOWED",
    "CANCELLED",
    "REFUSED",
    "UNCHECKED",
    "UNREACHABLE_ALLOWED",
    "UNREACHABLE_DENIED",
    "USER_AGENT",
    "AuthRequest",
    "AuthResult",
    "UrlAuth",
    "UrlAuthenticator",
]

_MESSAGE_HEADER = b"icecast-auth-message"

_MESSAGE_KEPT = 200
"""
The most characters of an C{icecast-auth-message} kept.
"""

_CACHE_KEPT = 10000
"""
The most answers kept for L{UrlAuthConfig.cache_seconds}; past it, the
oldest are dropped.
"""


_CANCELLED = AuthResult(False, "", None, CANCELLED)


@dataclass(frozen=True, slots=True)
class _Target:
    """
    Where one kind of request goes.

    @ivar uri: the URL without its credentials or fragment, as the agent
        takes it.
    @ivar shown: the URL as log lines show it: without credentials or
        query.
    @ivar authorization: the C{Authorization} header's value, or L{None}.
    """

    uri: bytes
    shown: str
    authorization: bytes | None


def _target(url: str, username: str | None, password: str | None) -> _Target:
    """
    Where requests for C{url} go, with the credentials it holds or else
    C{username} and C{password}.
    """
    parts = urlsplit(url)
    userinfo, at, host = parts.netloc.rpartition("@")
    if at:
        user, _, secret = userinfo.partition(":")
        username, password = unquote(user), unquote(secret)
    bare = parts._replace(netloc=host, fragment="")
    authorization = None
    if username is not None and password is not None:
        pair = f"{username}:{password}".encode()
        authorization = b"Basic " + base64.b64encode(pair)
    shown = bare._replace(query="").geturl()
    if bare.query:
        shown += "?..."
    return _Target(request_uri(bare.geturl()), shown, authorization)


@dataclass(frozen=True, slots=True)
class _Reply:
    """
    The head of an auth server's answer.
    """

    code: int
    phrase: str
    headers: Headers


class _NoAnswer(Exception):
    """
    The auth server did not answer within the timeout.
    """


def _why(failure: Failure) -> str:
    """
    Why a request failed, in a few words for a log line: the reasons the
    agent wraps, else the error's message, else its name.
    """
    error = failure.value
    wrapped = getattr(error, "reasons", None)
    if isinstance(wrapped, list):
        reasons = [_why(each) for each in wrapped if isinstance(each, Failure)]
        if reasons:
            return "; ".join(reasons)
    return str(error) or type(error).__name__


def _printable(text: str) -> str:
    """
    C{text} in one line of printable characters, shortened.
    """
    kept = "".join(each if each.isprintable() else " " for each in text)
    return " ".join(kept.split())[:_MESSAGE_KEPT]


class _Drain(Protocol):
    """
    Reads an answer's body and forgets it, so that its connection can
    serve the next request.

    @ivar done: fires once the body has all come, or was cut short;
        cancelling it closes the connection.
    """

    def __init__(self) -> None:
        self.done: Deferred[None] = Deferred(self._cancel)

    def dataReceived(self, data: bytes) -> None:
        """
        Forget the body.
        """

    def connectionLost(self, reason: Failure = connectionDone) -> None:
        """
        The body has all come, or was cut short.
        """
        if not self.done.called:
            self.done.callback(None)

    def _cancel(self, done: Deferred[None]) -> None:
        """
        The body took too long: close the connection.
        """
        if self.transport is not None:
            self.transport.loseConnection()


def _default_agent(
    reactor: IReactorTime, trust: object | None
) -> tuple[IAgent, HTTPConnectionPool]:
    """
    An agent keeping connections to the auth server open between
    requests, checking C{https://} servers' certificates against
    C{trust} (the system's authorities by default) and their names, and
    its pool.
    """
    pool = HTTPConnectionPool(reactor, persistent=True)
    # One connection per question in a burst of listeners: not two log
    # lines each ("Starting factory", "Stopping factory").
    pool._factory = _QuietFactory
    policy = BrowserLikePolicyForHTTPS(trustRoot=trust)
    agent: IAgent = Agent(reactor, contextFactory=policy, pool=pool)
    return agent, pool


class _QuietFactory(_HTTP11ClientFactory):
    noisy = False


class UrlAuthenticator:
    """
    Asks one auth server about listeners and sources, as Icecast's URL
    authentication does (see the module's docstring).

    @ivar config: the options.
    @ivar server_name: the host name sent in the C{server} field.
    @ivar port: the port sent in the C{port} field.
    """

    _log = Logger()

    def __init__(
        self,
        reactor: IReactorTime,
        config: UrlAuthConfig,
        server_name: str,
        port: int,
        agent: IAgent | None = None,
        clock: IReactorTime | None = None,
        trust: object | None = None,
    ) -> None:
        """
        @param reactor: connects to the auth server (it must then provide
            C{IReactorTCP} too, and C{IReactorSSL} for C{https://}) unless
            C{agent} is given; the clock too unless C{clock} is given.
        @param config: the options.
        @param server_name: the station's host name, for the C{server}
            field.
        @param port: the station's port, for the C{port} field.
        @param agent: makes the requests; by default an L{Agent} on
            C{reactor} with a pool of persistent connections, which
            L{close} closes.
        @param clock: for the timeouts and the cache; C{reactor} by
            default.
        @param trust: the authorities an C{https://} auth server's
            certificate must chain to (see L{radiod.tls.load_trust}); the
            system's by default.  Unused with C{agent}.
        @raise ValueError: if a URL's host cannot be written in IDNA.
        """
        self.config = config
        self.server_name = server_name
        self.port = port
        self._reactor = reactor
        self._clock = clock if clock is not None else reactor
        self._pool: HTTPConnectionPool | None = None
        if agent is None:
            agent, self._pool = _default_agent(reactor, trust)
        self._agent = agent
        self._targets: dict[str, _Target] = {}
        for name in URL_OPTIONS:
            url = getattr(config, name)
            if url is not None:
                self._targets[name] = _target(url, config.username, config.password)
        self._cache: dict[tuple[str, str, str, str, str], tuple[float, AuthResult]] = {}
        self._under_way: set[Deferred[Any]] = set()
        self._draining: set[Deferred[None]] = set()
        self._closed = False

    @property
    def checks_listeners(self) -> bool:
        """
        Whether there is a C{listener_add} URL to ask about listeners.
        """
        return "listener_add" in self._targets

    @property
    def checks_sources(self) -> bool:
        """
        Whether there is a C{stream_auth} URL to ask about sources.
        """
        return "stream_auth" in self._targets

    def listener_add(self, request: AuthRequest) -> Deferred[AuthResult]:
        """
        Ask the auth server whether a listener may come in.

        Without a C{listener_add} URL, it may (L{UNCHECKED}).  An answer
        kept from the same mount, credentials, address and user agent
        within L{UrlAuthConfig.cache_seconds} is given again without
        asking.

        @param request: the listener.
        @return: fires with the outcome; it never fails.  Cancelled, it
            abandons the request and fires at once with a refusal
            (L{CANCELLED}), as it does after L{close}.
        """
        if self._closed:
            return succeed(_CANCELLED)
        target = self._targets.get("listener_add")
        if target is None:
            return succeed(AuthResult(True, "", None, UNCHECKED))
        key = (request.mount, request.user, request.password, request.ip, request.agent)
        kept = self._cached(key)
        if kept is not None:
            return succeed(kept)
        fields = self._listener_fields("listener_add", request)
        fields.append(("referer", request.referer))
        fields.append(("listeners", str(request.listeners)))
        fields.extend(self._passed_headers(request.headers))
        asked = self._ask(target, fields, request.mount, request.ip, "listener_add", listener=True)
        if self.config.cache_seconds > 0:
            asked.addCallback(self._keep, key)
        return asked

    def listener_remove(self, request: AuthRequest, duration: float) -> None:
        """
        Tell the auth server that a listener left, if there is a
        C{listener_remove} URL; a failure is logged.

        @param request: the listener, with the mount's listeners now.
        @param duration: the seconds it was connected (sent whole).
        """
        target = self._targets.get("listener_remove")
        if target is None or self._closed:
            return
        fields = self._listener_fields("listener_remove", request)
        # Icecast sends the duration before the address.
        ip = fields.index(("ip", request.ip))
        fields.insert(ip, ("duration", str(max(0, int(duration)))))
        fields.append(("listeners", str(request.listeners)))
        self._tell(target, fields, request.mount, "listener_remove")

    def mount_add(self, mount: str) -> None:
        """
        Tell the auth server that C{mount} went on air, if there is a
        C{mount_add} URL; a failure is logged.
        """
        self._mount("mount_add", mount)

    def mount_remove(self, mount: str) -> None:
        """
        Tell the auth server that C{mount} went off air, if there is a
        C{mount_remove} URL; a failure is logged.
        """
        self._mount("mount_remove", mount)

    def stream_auth(self, mount: str, ip: str, user: str, password: str) -> Deferred[AuthResult]:
        """
        Ask the auth server whether a source may come in.

        Without a C{stream_auth} URL, it may not (L{UNCHECKED}: its
        password is to be checked instead; see L{checks_sources}).  When
        the auth server cannot be asked it may not either, whatever
        L{UrlAuthConfig.failure} says.  Answers are never kept.

        @param mount: the mount it streams to.
        @param ip: its address.
        @param user: the user of its credentials.
        @param password: their password.
        @return: fires with the outcome; it never fails.  Cancelled, it
            abandons the request and fires at once with a refusal
            (L{CANCELLED}), as it does after L{close}.
        """
        if self._closed:
            return succeed(_CANCELLED)
        target = self._targets.get("stream_auth")
        if target is None:
            return succeed(AuthResult(False, "", None, UNCHECKED))
        fields = [
            ("action", "stream_auth"),
            ("mount", mount),
            ("ip", ip),
            ("server", self.server_name),
            ("port", str(self.port)),
            ("user", user),
            ("pass", password),
        ]
        return self._ask(target, fields, mount, ip, "stream_auth", listener=False)

    def close(self) -> Deferred[None]:
        """
        Cancel every request under way (those asking fire with
        L{CANCELLED}), forget the answers kept, ask and tell nothing
        more, and close the connections kept open.

        @return: fires once the connections are closed.
        """
        self._closed = True
        self._cache.clear()
        for each in list(self._under_way):
            each.cancel()
        for each in list(self._draining):
            each.cancel()

        async def closing() -> None:
            # A connection whose answer was read in this turn goes back to
            # the pool at its end, and cancelled ones close at the next.
            await deferLater(self._reactor, 0)
            if self._pool is not None:
                await self._pool.closeCachedConnections()

        return Deferred.fromCoroutine(closing())

    def _listener_fields(self, action: str, request: AuthRequest) -> list[tuple[str, str]]:
        """
        The fields every request about a listener starts with, in
        Icecast's order.
        """
        return [
            ("action", action),
            ("server", self.server_name),
            ("port", str(self.port)),
            ("client", str(request.client)),
            ("mount", request.mount),
            ("user", request.user),
            ("pass", request.password),
            ("ip", request.ip),
            ("agent", request.agent or "-"),
        ]

    def _passed_headers(self, headers: Mapping[str, str]) -> list[tuple[str, str]]:
        """
        The fields of the listener's headers named by the C{headers}
        option, in its order, for those the listener sent.
        """
        if not self.config.headers:
            return []
        sent = {name.lower(): value for name, value in headers.items()}
        prefix = self.config.header_prefix
        return [
            (prefix + name, sent[name.lower()])
            for name in self.config.headers
            if name.lower() in sent
        ]

    def _mount(self, action: str, mount: str) -> None:
        """
        Tell the auth server of a mount's C{action}.
        """
        target = self._targets.get(action)
        if target is None or self._closed:
            return
        fields = [
            ("action", action),
            ("mount", mount),
            ("server", self.server_name),
            ("port", str(self.port)),
        ]
        self._tell(target, fields, mount, action)

    def _cached(self, key: tuple[str, str, str, str, str]) -> AuthResult | None:
        """
        The answer kept for C{key}, if it is still fresh.
        """
        if not self._cache:
            return None
        now = self._clock.seconds()
        while self._cache:
            oldest = next(iter(self._cache))
            if self._cache[oldest][0] > now:
                break
            del self._cache[oldest]
        kept = self._cache.get(key)
        return kept[1] if kept is not None else None

    def _keep(self, result: AuthResult, key: tuple[str, str, str, str, str]) -> AuthResult:
        """
        Keep an admission or refusal for L{UrlAuthConfig.cache_seconds}.
        """
        if result.reason in (ALLOWED, REFUSED) and not self._closed:
            self._cache.pop(key, None)
            self._cache[key] = (self._clock.seconds() + self.config.cache_seconds, result)
            while len(self._cache) > _CACHE_KEPT:
                del self._cache[next(iter(self._cache))]
        return result

    def _ask(
        self,
        target: _Target,
        fields: list[tuple[str, str]],
        mount: str,
        ip: str,
        action: str,
        listener: bool,
    ) -> Deferred[AuthResult]:
        """
        Ask the auth server, and judge its answer.

        @param listener: whether it is about a listener (to whom the
            failure policy applies) rather than a source.
        @return: fires with the outcome, never fails.
        """
        cancelled = False

        def cancel(result: Deferred[AuthResult]) -> None:
            nonlocal cancelled
            cancelled = True
            exchange.cancel()
            if not result.called:
                result.callback(_CANCELLED)

        result: Deferred[AuthResult] = Deferred(cancel)

        def answered(reply: _Reply) -> None:
            if result.called:
                return
            if reply.code >= 500:
                why = f"answered {reply.code} {reply.phrase}".rstrip()
                result.callback(self._unreachable(target, mount, ip, action, why, listener))
            else:
                result.callback(self._judge(reply, mount, ip, action))

        def failed(failure: Failure) -> None:
            if cancelled or result.called:
                return
            if self._closed:
                result.callback(_CANCELLED)
                return
            why = _why(failure)
            result.callback(self._unreachable(target, mount, ip, action, why, listener))

        def crashed(failure: Failure) -> None:
            self._log.failure(
                "URL auth: {action} for {mount} failed", failure, action=action, mount=mount
            )
            if not result.called:
                result.callback(AuthResult(False, "", None, UNREACHABLE_DENIED))

        exchange = self._post(target, fields)
        exchange.addCallbacks(answered, failed).addErrback(crashed)
        return result

    def _judge(self, reply: _Reply, mount: str, ip: str, action: str) -> AuthResult:
        """
        Whether an answer admits, with its message and time limit.
        """
        config = self.config
        messages = reply.headers.getRawHeaders(_MESSAGE_HEADER) or []
        message = _printable(messages[0].decode("utf-8", "replace")) if messages else ""
        values = reply.headers.getRawHeaders(config.auth_header.encode("ascii")) or []
        wanted = config.auth_value.casefold()
        admitted = any(
            not wanted or value.decode("latin-1").strip().casefold() == wanted for value in values
        )
        if not admitted:
            self._log.info(
                "URL auth ({action}) refused {ip} on {mount}: {answer} {message}",
                action=action,
                ip=ip,
                mount=mount,
                answer=reply.code,
                message=message or "(no message)",
            )
            return AuthResult(False, message, None, REFUSED)
        return AuthResult(True, message, self._time_limit(reply, mount, ip), ALLOWED)

    def _time_limit(self, reply: _Reply, mount: str, ip: str) -> float | None:
        """
        The seconds an admitted listener may stay, from the answer's
        time limit header, or L{None}.
        """
        name = self.config.timelimit_header
        limits = reply.headers.getRawHeaders(name.encode("ascii"))
        if not limits:
            return None
        text = limits[0].decode("latin-1").strip()
        digits = re.match(r"\d+", text)
        if digits is None:
            self._log.warn(
                "URL auth: {ip} on {mount} admitted with a {header} of {value!r}, "
                "not a number of seconds; no time limit",
                ip=ip,
                mount=mount,
                header=name,
                value=text,
            )
            return None
        return float(int(digits.group()))

    def _unreachable(
        self, target: _Target, mount: str, ip: str, action: str, why: str, listener: bool
    ) -> AuthResult:
        """
        The outcome, and its log line, when the auth server could not be
        asked.
        """
        allowed = listener and self.config.failure == "allow"
        self._log.warn(
            "URL auth ({action}) for {ip} on {mount}: {url} failed: {why}; {outcome}",
            action=action,
            ip=ip,
            mount=mount,
            url=target.shown,
            why=why,
            outcome="let in anyway" if allowed else "refused",
        )
        reason = UNREACHABLE_ALLOWED if allowed else UNREACHABLE_DENIED
        return AuthResult(allowed, "", None, reason)

    def _tell(
        self, target: _Target, fields: list[tuple[str, str]], mount: str, action: str
    ) -> None:
        """
        Send a request whose answer does not matter; log a failure.
        """

        def answered(reply: _Reply) -> None:
            if reply.code >= 400:
                failed_with(f"answered {reply.code} {reply.phrase}".rstrip())

        def failed(failure: Failure) -> None:
            if not self._closed:
                failed_with(_why(failure))

        def failed_with(why: str) -> None:
            self._log.warn(
                "URL auth: {action} for {mount} to {url} failed: {why}",
                action=action,
                mount=mount,
                url=target.shown,
                why=why,
            )

        exchange = self._post(target, fields)
        exchange.addCallbacks(answered, failed)

    def _post(self, target: _Target, fields: list[tuple[str, str]]) -> Deferred[_Reply]:
        """
        Post C{fields} to C{target}, within the timeout.

        @return: fires with the head of the answer; fails with
            L{_NoAnswer} if it takes longer than the timeout, or as the
            request failed.  It is under way until it fires, for
            L{close} to cancel.
        """
        timeout = self.config.timeout
        deadline = self._clock.seconds() + timeout

        def late(result: object, timeout: float) -> Failure:
            return Failure(_NoAnswer(f"no answer within {timeout:g} s"))

        exchange = Deferred.fromCoroutine(self._exchange(target, fields, deadline))
        exchange.addTimeout(timeout, self._clock, onTimeoutCancel=late)
        self._under_way.add(exchange)

        def done(result: object) -> object:
            self._under_way.discard(exchange)
            return result

        exchange.addBoth(done)
        return exchange

    async def _exchange(
        self, target: _Target, fields: list[tuple[str, str]], deadline: float
    ) -> _Reply:
        """
        Send the request and read the head of its answer; its body is
        read and forgotten after, until C{deadline} at the latest.
        """
        headers = Headers(
            {
                b"Content-Type": [b"application/x-www-form-urlencoded"],
                b"User-Agent": [USER_AGENT.encode("ascii")],
            }
        )
        if target.authorization is not None:
            headers.addRawHeader(b"Authorization", target.authorization)
        body = urlencode(fields, encoding="utf-8").encode("ascii")
        response: IResponse = await self._agent.request(
            b"POST", target.uri, headers, MemoryBody(body)
        )
        self._drain(response, deadline)
        return _Reply(response.code, response.phrase.decode("latin-1"), response.headers)

    def _drain(self, response: IResponse, deadline: float) -> None:
        """
        Read C{response}'s body and forget it; close its connection if it
        has not all come by C{deadline}.
        """
        drain = _Drain()
        response.deliverBody(drain)
        done = drain.done
        if done.called:
            return
        if self._closed:
            done.cancel()
            return
        done.addTimeout(max(0.0, deadline - self._clock.seconds()), self._clock)
        self._draining.add(done)

        def drained(result: object) -> None:
            self._draining.discard(done)

        done.addBoth(drained)
