"""
Tests for L{radiod.outbound.authconfig} (reading the options) and
L{radiod.outbound.urlauth} (asking a real auth server on loopback, a
small L{twisted.web} resource the test scripts, about listeners and
sources); and for L{radiod.testing.FakeUrlAuthenticator}.
"""

from __future__ import annotations

import base64
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl

from twisted.internet import tcp
from twisted.internet.defer import Deferred
from twisted.internet.interfaces import IListeningPort
from twisted.internet.task import Clock
from twisted.logger import LogEvent, LogLevel, capturedLogs, formatEvent
from twisted.trial.unittest import SynchronousTestCase, TestCase
from twisted.web.http_headers import Headers
from twisted.web.resource import Resource
from twisted.web.server import NOT_DONE_YET, Request, Site

from radiod import __version__
from radiod.outbound.authconfig import URL_AUTH_OPTIONS, UrlAuthConfig, url_auth_config
from radiod.outbound.urlauth import (
    ALLOWED,
    CANCELLED,
    REFUSED,
    UNCHECKED,
    UNREACHABLE_ALLOWED,
    UNREACHABLE_DENIED,
    AuthRequest,
    AuthResult,
    UrlAuth,
    UrlAuthenticator,
)
from radiod.testing import FakeUrlAuthenticator
from tests.support.loopback import asynchronous, reactor, wait_for

LISTENER = AuthRequest(
    mount="/live",
    client=17,
    user="fred",
    password="secret",
    ip="203.0.113.9",
    agent="VLC/3.0.20 LibVLC/3.0.20",
    referer="https://radio.example/player",
    listeners=4,
)

ADMIT = [(b"icecast-auth-user", b"1")]


@dataclass
class Received:
    """
    One request the auth server received.

    @ivar path: its path.
    @ivar headers: its headers.
    @ivar fields: its form's fields, in order.
    """

    path: bytes
    headers: Headers
    fields: list[tuple[str, str]]

    def field(self, name: str) -> str:
        """
        The value of the field C{name}, which must be there once.
        """
        [value] = [value for key, value in self.fields if key == name]
        return value

    def header(self, name: bytes) -> str | None:
        """
        The value of the header C{name}, or L{None}.
        """
        values = self.headers.getRawHeaders(name)
        return values[0].decode("latin-1") if values else None


class AuthServer(Resource):
    """
    An auth server: keeps each request's form, answers with L{status} and
    the headers of L{reply}, or not at all while L{hold}, or with the
    start of a body that never ends while L{stall}.

    @ivar received: the requests, in order.
    @ivar held: the requests not answered, each with its end.
    """

    isLeaf = True

    def __init__(self) -> None:
        super().__init__()
        self.received: list[Received] = []
        self.status = 200
        self.reply: list[tuple[bytes, bytes]] = list(ADMIT)
        self.hold = False
        self.stall = False
        self.held: list[Deferred[None]] = []

    def render_POST(self, request: Request) -> bytes | int:
        assert request.content is not None
        request.content.seek(0)
        body = request.content.read().decode("ascii")
        fields = parse_qsl(body, keep_blank_values=True, strict_parsing=bool(body))
        self.received.append(Received(request.path, request.requestHeaders, fields))
        if self.hold:
            self.held.append(self._ended(request))
            return NOT_DONE_YET
        request.setResponseCode(self.status)
        for name, value in self.reply:
            request.responseHeaders.addRawHeader(name, value)
        if self.stall:
            self.held.append(self._ended(request))
            request.setHeader(b"content-length", b"1000")
            request.write(b"the start")
            return NOT_DONE_YET
        return b"ok\n"

    @staticmethod
    def _ended(request: Request) -> Deferred[None]:
        """
        Fires when C{request}'s connection ends, however it ends (the
        client hanging up on a request held open is what these tests
        make happen, not an error).
        """
        ended = request.notifyFinish()
        ended.addErrback(lambda failure: None)
        return ended

    def last(self) -> Received:
        """
        The latest request.
        """
        return self.received[-1]


def connections() -> list[object]:
    """
    The TCP connections the reactor is watching.
    """
    watched = reactor.getReaders() + reactor.getWriters()
    return [each for each in watched if isinstance(each, tcp.Connection)]


def warnings(events: Sequence[LogEvent]) -> list[str]:
    """
    The lines this module's code logged as warnings among C{events}.
    """
    return [
        formatEvent(event)
        for event in events
        if event.get("log_level") == LogLevel.warn
        and str(event.get("log_namespace", "")).startswith("radiod.outbound.urlauth")
    ]


class ConfigTests(SynchronousTestCase):
    """
    L{url_auth_config} reads Icecast's options, and refuses wrong ones in
    one line.
    """

    def test_defaults(self) -> None:
        """
        Without options, every URL is missing and the headers are
        Icecast's.
        """
        config = url_auth_config([])
        self.assertEqual(config, UrlAuthConfig())
        self.assertEqual(
            (config.listener_add, config.stream_auth, config.username, config.password),
            (None, None, None, None),
        )
        self.assertEqual(
            (config.auth_header, config.auth_value, config.timelimit_header),
            ("icecast-auth-user", "1", "icecast-auth-timelimit"),
        )
        self.assertEqual((config.headers, config.header_prefix), ((), "ClientHeader."))
        self.assertEqual((config.timeout, config.failure, config.cache_seconds), (5.0, "deny", 0))

    def test_options(self) -> None:
        """
        Every option is read; the last of a name counts; the settings that
        are not Icecast's come as arguments.
        """
        config = url_auth_config(
            [
                ("listener_add", "http://auth.example/old"),
                ("listener_add", "http://auth.example/add?key=1"),
                ("listener_remove", "https://auth.example/remove"),
                ("mount_add", "http://auth.example/mount_add"),
                ("mount_remove", "http://auth.example/mount_remove"),
                ("stream_auth", "http://auth.example/source"),
                ("username", "radiod"),
                ("password", "hunter2"),
                ("auth_header", " X-Auth-OK :  yes "),
                ("timelimit_header", "X-Limit:"),
                ("headers", "x-forwarded-for, Cookie,,"),
                ("header_prefix", "H-"),
            ],
            timeout=2.5,
            failure="allow",
            cache_seconds=30,
        )
        self.assertEqual(
            config,
            UrlAuthConfig(
                listener_add="http://auth.example/add?key=1",
                listener_remove="https://auth.example/remove",
                mount_add="http://auth.example/mount_add",
                mount_remove="http://auth.example/mount_remove",
                stream_auth="http://auth.example/source",
                username="radiod",
                password="hunter2",
                auth_header="X-Auth-OK",
                auth_value="yes",
                timelimit_header="X-Limit",
                headers=("x-forwarded-for", "Cookie"),
                header_prefix="H-",
                timeout=2.5,
                failure="allow",
                cache_seconds=30,
            ),
        )
        self.assertNotIn("hunter2", repr(config))
        self.assertEqual(
            url_auth_config([("timelimit_header", "x-limit")]).timelimit_header, "x-limit"
        )
        self.assertEqual(url_auth_config([("auth_header", "x-auth:")]).auth_value, "")

    def test_known_options(self) -> None:
        """
        L{URL_AUTH_OPTIONS} names the options read, Icecast's.
        """
        self.assertEqual(
            URL_AUTH_OPTIONS,
            {
                "listener_add",
                "listener_remove",
                "mount_add",
                "mount_remove",
                "stream_auth",
                "username",
                "password",
                "auth_header",
                "timelimit_header",
                "headers",
                "header_prefix",
            },
        )

    def test_refused(self) -> None:
        """
        A wrong option is refused with one line that says which.
        """
        cases: list[tuple[list[tuple[str, str]], dict[str, Any], str]] = [
            ([("auth_header", "icecast-auth-user 1")], {}, "auth_header"),
            ([("auth_header", ": 1")], {}, "auth_header"),
            ([("auth_header", "bad header: 1")], {}, "auth_header"),
            ([("timelimit_header", "x-limit: 5")], {}, "timelimit_header"),
            ([("timelimit_header", "")], {}, "timelimit_header"),
            ([("headers", "x-ok, bad name")], {}, "headers"),
            ([("listener_add", "ftp://auth.example/add")], {}, "listener_add"),
            ([("listener_remove", "auth.example/remove")], {}, "listener_remove"),
            ([("mount_add", "http:///no-host")], {}, "mount_add"),
            ([("mount_remove", "http://auth.example:port/")], {}, "mount_remove"),
            ([("stream_auth", "http://auth.example/a b")], {}, "stream_auth"),
            ([("username", "radiod")], {}, "username and password"),
            ([("password", "hunter2")], {}, "username and password"),
            ([("listener_ad", "http://auth.example/")], {}, "unknown option 'listener_ad'"),
            ([], {"failure": "maybe"}, "failure"),
            ([], {"timeout": 0}, "timeout"),
            ([], {"cache_seconds": -1}, "cache_seconds"),
        ]
        for options, settings, said in cases:
            with self.assertRaises(ValueError, msg=repr(options)) as raised:
                url_auth_config(options, **settings)
            message = str(raised.exception)
            self.assertIn(said, message)
            self.assertNotIn("\n", message)


class LoopbackTests(TestCase):
    """
    L{UrlAuthenticator} asking a real auth server on loopback, through the
    real reactor.
    """

    timeout = 60

    def setUp(self) -> None:
        self.server = AuthServer()
        self.port: IListeningPort = reactor.listenTCP(0, Site(self.server), interface="127.0.0.1")
        self.addCleanup(self.port.stopListening)
        self.made: list[UrlAuthenticator] = []
        self.addCleanup(self.closed)

    def url(self, path: str) -> str:
        """
        The auth server's URL for C{path}.
        """
        return f"http://127.0.0.1:{self.port.getHost().port}{path}"  # type: ignore[attr-defined]

    async def closed_url(self) -> str:
        """
        A URL on loopback where nobody listens.
        """
        closed = reactor.listenTCP(0, Site(Resource()), interface="127.0.0.1")
        url = f"http://127.0.0.1:{closed.getHost().port}/auth"
        await closed.stopListening()
        return url

    def authenticator(self, clock: Clock | None = None, **options: Any) -> UrlAuthenticator:
        """
        A L{UrlAuthenticator} on the real reactor for a station at
        C{radio.example:8000}, asking the auth server at C{/add} and
        C{/source} within 30 s unless C{options} say otherwise; closed at
        the end of the test, after which no connection may be left.
        """
        settings: dict[str, Any] = {
            "listener_add": self.url("/add"),
            "stream_auth": self.url("/source"),
            "timeout": 30.0,
        }
        settings.update(options)
        built = UrlAuthenticator(
            reactor, UrlAuthConfig(**settings), "radio.example", 8000, clock=clock
        )
        self.made.append(built)
        return built

    def closed(self, *authenticators: UrlAuthenticator) -> Deferred[None]:
        """
        Close C{authenticators}, or all those made in the test; fires once
        no connection is left.
        """

        async def close() -> None:
            for each in authenticators or self.made:
                await each.close()
            await wait_for(lambda: not connections(), 10, reactor)

        return Deferred.fromCoroutine(close())

    @asynchronous
    async def test_admitted(self) -> None:
        """
        An answer with C{icecast-auth-user: 1} admits, with no message nor
        time limit.
        """
        auth = self.authenticator()
        result = await auth.listener_add(LISTENER)
        self.assertEqual(result, AuthResult(True, "", None, ALLOWED))
        self.assertEqual(self.server.last().path, b"/add")

    @asynchronous
    async def test_refused_without_header(self) -> None:
        """
        A 200 without the auth header refuses, as does one with the header
        and another value; neither is a failure.
        """
        auth = self.authenticator()
        for reply in ([], [(b"icecast-auth-user", b"0")]):
            self.server.reply = reply
            with capturedLogs() as events:
                result = await auth.listener_add(LISTENER)
            self.assertEqual(result, AuthResult(False, "", None, REFUSED))
            self.assertEqual(warnings(events), [])

    @asynchronous
    async def test_message(self) -> None:
        """
        The C{icecast-auth-message} of a refusal is the message for the
        listener; an admission's is kept too.
        """
        auth = self.authenticator()
        self.server.status = 403
        self.server.reply = [(b"icecast-auth-message", b"Subscription expired")]
        result = await auth.listener_add(LISTENER)
        self.assertEqual(result, AuthResult(False, "Subscription expired", None, REFUSED))
        self.server.status = 200
        self.server.reply = [*ADMIT, (b"Icecast-Auth-Message", b" welcome back ")]
        result = await auth.listener_add(LISTENER)
        self.assertEqual(result, AuthResult(True, "welcome back", None, ALLOWED))

    @asynchronous
    async def test_custom_auth_header(self) -> None:
        """
        The auth header the options name admits, its name in any case and
        its value trimmed; Icecast's default header then does not.  An
        auth header without a value admits on the header's presence.
        """
        config = url_auth_config(
            [("listener_add", self.url("/add")), ("auth_header", "X-Auth-OK: yes")]
        )
        auth = self.authenticator(auth_header=config.auth_header, auth_value=config.auth_value)
        cases = [
            ([(b"x-auth-ok", b"  yes ")], True),
            ([(b"X-AUTH-OK", b"YES")], True),
            ([(b"x-auth-ok", b"no"), (b"x-auth-ok", b"yes")], True),
            ([(b"x-auth-ok", b"yes please")], False),
            (ADMIT, False),
        ]
        for reply, admitted in cases:
            self.server.reply = reply
            result = await auth.listener_add(LISTENER)
            self.assertEqual(result.admitted, admitted, reply)
        present = self.authenticator(auth_header="x-auth-ok", auth_value="")
        self.server.reply = [(b"x-auth-ok", b"anything")]
        self.assertTrue((await present.listener_add(LISTENER)).admitted)
        self.server.reply = ADMIT
        self.assertFalse((await present.listener_add(LISTENER)).admitted)

    @asynchronous
    async def test_time_limit(self) -> None:
        """
        The time limit header's whole seconds are the admission's time
        limit; a value that is not a number is none, with a log line; the
        header the options name is read instead of Icecast's.
        """
        auth = self.authenticator()
        self.server.reply = [*ADMIT, (b"icecast-auth-timelimit", b" 900 ")]
        self.assertEqual(await auth.listener_add(LISTENER), AuthResult(True, "", 900.0, ALLOWED))
        self.server.reply = [*ADMIT, (b"icecast-auth-timelimit", b"soon")]
        with capturedLogs() as events:
            self.assertEqual((await auth.listener_add(LISTENER)).time_limit, None)
        [line] = warnings(events)
        self.assertIn("'soon'", line)
        self.assertIn("203.0.113.9", line)
        custom = self.authenticator(timelimit_header="x-limit")
        self.server.reply = [*ADMIT, (b"x-limit", b"60"), (b"icecast-auth-timelimit", b"900")]
        self.assertEqual((await custom.listener_add(LISTENER)).time_limit, 60.0)
        self.server.reply = [(b"icecast-auth-timelimit", b"900")]
        self.assertEqual(await auth.listener_add(LISTENER), AuthResult(False, "", None, REFUSED))

    @asynchronous
    async def test_fields(self) -> None:
        """
        C{listener_add} posts Icecast's fields in Icecast's order, then
        the mount's listeners, then the listener's headers the options
        name (those it sent), encoded as a form in UTF-8, with radiod's
        user agent and no credentials.
        """
        auth = self.authenticator(headers=("x-forwarded-for", "Cookie", "X-Missing"))
        request = AuthRequest(
            mount="/live?token=a b&x=1",
            client=42,
            user="J\xfcrgen",
            password="p@ss w:rd&=",
            ip="2001:db8::7",
            agent="VLC/3.0 (Linux)",
            referer="https://radio.example/player?x=1&y=2",
            headers={"X-Forwarded-For": "198.51.100.1", "cookie": "a=b; c=d", "Host": "radio"},
            listeners=7,
        )
        await auth.listener_add(request)
        received = self.server.last()
        self.assertEqual(
            received.fields,
            [
                ("action", "listener_add"),
                ("server", "radio.example"),
                ("port", "8000"),
                ("client", "42"),
                ("mount", "/live?token=a b&x=1"),
                ("user", "J\xfcrgen"),
                ("pass", "p@ss w:rd&="),
                ("ip", "2001:db8::7"),
                ("agent", "VLC/3.0 (Linux)"),
                ("referer", "https://radio.example/player?x=1&y=2"),
                ("listeners", "7"),
                ("ClientHeader.x-forwarded-for", "198.51.100.1"),
                ("ClientHeader.Cookie", "a=b; c=d"),
            ],
        )
        self.assertEqual(received.header(b"content-type"), "application/x-www-form-urlencoded")
        self.assertEqual(received.header(b"user-agent"), f"radiod/{__version__}")
        self.assertIsNone(received.header(b"authorization"))

    @asynchronous
    async def test_fields_blank(self) -> None:
        """
        A listener with no credentials, user agent or referer is sent with
        empty C{user}, C{pass} and C{referer} and an C{agent} of C{-}, as
        Icecast sends it; the header prefix is the one the options name.
        """
        auth = self.authenticator(headers=("x-token",), header_prefix="H-")
        await auth.listener_add(
            AuthRequest(mount="/live", client=1, ip="127.0.0.1", headers={"X-Token": "t"})
        )
        fields = dict(self.server.last().fields)
        self.assertEqual(
            [
                fields[name]
                for name in ("user", "pass", "agent", "referer", "listeners", "H-x-token")
            ],
            ["", "", "-", "", "0", "t"],
        )

    @asynchronous
    async def test_basic_auth(self) -> None:
        """
        With a C{username} and C{password}, requests carry them as basic
        authentication; credentials in the URL come first.
        """
        auth = self.authenticator(
            username="radiod",
            password="hunter2",
            listener_remove=self.url("/remove"),
            stream_auth=self.url("/source"),
        )
        expected = "Basic " + base64.b64encode(b"radiod:hunter2").decode()
        await auth.listener_add(LISTENER)
        await auth.stream_auth("/live", "127.0.0.1", "source", "pw")
        auth.listener_remove(LISTENER, 1)
        await wait_for(lambda: len(self.server.received) == 3, 10, reactor)
        for received in self.server.received:
            self.assertEqual(received.header(b"authorization"), expected)
        port = self.port.getHost().port  # type: ignore[attr-defined]
        in_url = self.authenticator(
            listener_add=f"http://url%40user:p%3Ass@127.0.0.1:{port}/add#part",
            username="radiod",
            password="hunter2",
        )
        await in_url.listener_add(LISTENER)
        self.assertEqual(
            self.server.last().header(b"authorization"),
            "Basic " + base64.b64encode(b"url@user:p:ss").decode(),
        )
        self.assertEqual(self.server.last().path, b"/add")

    @asynchronous
    async def test_listener_remove(self) -> None:
        """
        C{listener_remove} posts Icecast's fields, the whole seconds
        connected among them, then the mount's listeners; its answer does
        not matter.
        """
        auth = self.authenticator(listener_remove=self.url("/remove"))
        self.server.reply = []
        with capturedLogs() as events:
            auth.listener_remove(LISTENER, 61.9)
            await wait_for(lambda: len(self.server.received) == 1, 10, reactor)
        received = self.server.last()
        self.assertEqual(received.path, b"/remove")
        self.assertEqual(
            received.fields,
            [
                ("action", "listener_remove"),
                ("server", "radio.example"),
                ("port", "8000"),
                ("client", "17"),
                ("mount", "/live"),
                ("user", "fred"),
                ("pass", "secret"),
                ("duration", "61"),
                ("ip", "203.0.113.9"),
                ("agent", "VLC/3.0.20 LibVLC/3.0.20"),
                ("listeners", "4"),
            ],
        )
        self.assertEqual(warnings(events), [])

    @asynchronous
    async def test_mounts(self) -> None:
        """
        C{mount_add} and C{mount_remove} post the action, the mount, the
        server and the port, each to its URL.
        """
        auth = self.authenticator(mount_add=self.url("/on"), mount_remove=self.url("/off"))
        auth.mount_add("/live")
        await wait_for(lambda: len(self.server.received) == 1, 10, reactor)
        auth.mount_remove("/live")
        await wait_for(lambda: len(self.server.received) == 2, 10, reactor)
        self.assertEqual(
            [(received.path, received.fields) for received in self.server.received],
            [
                (
                    b"/on",
                    [
                        ("action", "mount_add"),
                        ("mount", "/live"),
                        ("server", "radio.example"),
                        ("port", "8000"),
                    ],
                ),
                (
                    b"/off",
                    [
                        ("action", "mount_remove"),
                        ("mount", "/live"),
                        ("server", "radio.example"),
                        ("port", "8000"),
                    ],
                ),
            ],
        )

    @asynchronous
    async def test_no_urls(self) -> None:
        """
        Without a C{listener_add} URL every listener is let in, without a
        C{stream_auth} URL every source refused, and nothing is asked or
        told without its URL.
        """
        auth = self.authenticator(listener_add=None, stream_auth=None)
        self.assertFalse(auth.checks_listeners)
        self.assertFalse(auth.checks_sources)
        self.assertEqual(await auth.listener_add(LISTENER), AuthResult(True, "", None, UNCHECKED))
        self.assertEqual(
            await auth.stream_auth("/live", "127.0.0.1", "source", "pw"),
            AuthResult(False, "", None, UNCHECKED),
        )
        auth.listener_remove(LISTENER, 5)
        auth.mount_add("/live")
        auth.mount_remove("/live")
        self.assertEqual(self.server.received, [])
        self.assertTrue(self.authenticator().checks_listeners)
        self.assertTrue(self.authenticator().checks_sources)

    @asynchronous
    async def test_stream_auth(self) -> None:
        """
        C{stream_auth} posts Icecast's fields, and admits only with the
        auth header.
        """
        auth = self.authenticator()
        result = await auth.stream_auth("/live", "192.0.2.5", "source", "hackme")
        self.assertEqual(result, AuthResult(True, "", None, ALLOWED))
        received = self.server.last()
        self.assertEqual(received.path, b"/source")
        self.assertEqual(
            received.fields,
            [
                ("action", "stream_auth"),
                ("mount", "/live"),
                ("ip", "192.0.2.5"),
                ("server", "radio.example"),
                ("port", "8000"),
                ("user", "source"),
                ("pass", "hackme"),
            ],
        )
        self.server.reply = [(b"icecast-auth-message", b"wrong password")]
        result = await auth.stream_auth("/live", "192.0.2.5", "source", "wrong")
        self.assertEqual(result, AuthResult(False, "wrong password", None, REFUSED))

    @asynchronous
    async def test_unreachable(self) -> None:
        """
        An auth server nobody listens at refuses listeners under the
        C{"deny"} policy and lets them in under C{"allow"}, each time with
        one log line naming the mount, the address and why.
        """
        url = await self.closed_url()
        for failure, expected in ((False, UNREACHABLE_DENIED), (True, UNREACHABLE_ALLOWED)):
            auth = self.authenticator(
                listener_add=url, failure="allow" if failure else "deny", cache_seconds=60
            )
            for _ in range(2):
                with capturedLogs() as events:
                    result = await auth.listener_add(LISTENER)
                self.assertEqual(result, AuthResult(failure, "", None, expected))
                [line] = warnings(events)
                for said in ("/live", "203.0.113.9", url, "refused"):
                    self.assertIn(said, line)

    @asynchronous
    async def test_source_unreachable(self) -> None:
        """
        A source is refused when the auth server cannot be asked, whatever
        the policy.
        """
        auth = self.authenticator(stream_auth=await self.closed_url(), failure="allow")
        with capturedLogs() as events:
            result = await auth.stream_auth("/live", "192.0.2.5", "source", "pw")
        self.assertEqual(result, AuthResult(False, "", None, UNREACHABLE_DENIED))
        [line] = warnings(events)
        self.assertIn("192.0.2.5", line)

    @asynchronous
    async def test_server_error(self) -> None:
        """
        A 5xx is a failure: the policy applies, even with the auth header;
        a 4xx is a refusal.
        """
        self.server.status = 503
        for failure, expected in (
            ("deny", AuthResult(False, "", None, UNREACHABLE_DENIED)),
            ("allow", AuthResult(True, "", None, UNREACHABLE_ALLOWED)),
        ):
            auth = self.authenticator(failure=failure)
            with capturedLogs() as events:
                result = await auth.listener_add(LISTENER)
            self.assertEqual(result, expected)
            [line] = warnings(events)
            self.assertIn("503", line)
        self.server.status = 404
        self.server.reply = []
        auth = self.authenticator(failure="allow")
        self.assertEqual(await auth.listener_add(LISTENER), AuthResult(False, "", None, REFUSED))

    @asynchronous
    async def test_timeout(self) -> None:
        """
        An auth server that does not answer within the timeout (on the
        clock given) is a failure: its request is abandoned, its
        connection closed, and the policy applies.
        """
        clock = Clock()
        self.server.hold = True
        auth = self.authenticator(clock, timeout=3.0)
        asked = auth.listener_add(LISTENER)
        await wait_for(lambda: len(self.server.received) == 1, 10, reactor)
        clock.advance(2.9)
        self.assertNoResult(asked)
        with capturedLogs() as events:
            clock.advance(0.1)
        self.assertEqual(
            self.successResultOf(asked), AuthResult(False, "", None, UNREACHABLE_DENIED)
        )
        [line] = warnings(events)
        self.assertIn("no answer within 3 s", line)
        await self.server.held[0].addErrback(lambda failure: None)

    @asynchronous
    async def test_slow_body(self) -> None:
        """
        An answer is judged by its head: a body that does not end does not
        hold the listener up, and its connection is closed at the
        timeout.
        """
        clock = Clock()
        self.server.stall = True
        auth = self.authenticator(clock, timeout=3.0)
        result = await auth.listener_add(LISTENER)
        self.assertEqual(result, AuthResult(True, "", None, ALLOWED))
        clock.advance(2.9)
        self.assertNoResult(self.server.held[0])
        clock.advance(0.1)
        await self.server.held[0].addErrback(lambda failure: None)

    @asynchronous
    async def test_cancelled(self) -> None:
        """
        A question cancelled by its caller fires with a refusal at once,
        with no log line, and its request is abandoned.
        """
        self.server.hold = True
        auth = self.authenticator(cache_seconds=60)
        asked = auth.listener_add(LISTENER)
        await wait_for(lambda: len(self.server.received) == 1, 10, reactor)
        with capturedLogs() as events:
            asked.cancel()
        self.assertEqual(self.successResultOf(asked), AuthResult(False, "", None, CANCELLED))
        self.assertEqual(warnings(events), [])
        await self.server.held[0].addErrback(lambda failure: None)
        self.server.hold = False
        self.assertEqual((await auth.listener_add(LISTENER)).reason, ALLOWED)

    @asynchronous
    async def test_close(self) -> None:
        """
        Closing fires the questions under way with a refusal, with no log
        line; after it, questions are refused at once and nothing is
        asked or told.
        """
        self.server.hold = True
        auth = self.authenticator(listener_remove=self.url("/remove"), mount_add=self.url("/on"))
        asked = auth.listener_add(LISTENER)
        source = auth.stream_auth("/live", "192.0.2.5", "source", "pw")
        auth.mount_add("/live")
        await wait_for(lambda: len(self.server.received) == 3, 10, reactor)
        with capturedLogs() as events:
            await self.closed(auth)
        refused = AuthResult(False, "", None, CANCELLED)
        self.assertEqual(self.successResultOf(asked), refused)
        self.assertEqual(self.successResultOf(source), refused)
        self.assertEqual(self.successResultOf(auth.listener_add(LISTENER)), refused)
        self.assertEqual(self.successResultOf(auth.stream_auth("/live", "", "", "")), refused)
        auth.listener_remove(LISTENER, 3)
        auth.mount_add("/live")
        self.assertEqual(warnings(events), [])
        self.assertEqual(len(self.server.received), 3)

    @asynchronous
    async def test_cache(self) -> None:
        """
        Within C{cache_seconds}, the same listener's admission or refusal
        is given again without asking; another mount, address, agent or
        credentials are asked about; after it, the listener is asked
        about again.
        """
        clock = Clock()
        auth = self.authenticator(clock, cache_seconds=30)
        first = await auth.listener_add(LISTENER)
        clock.advance(29)
        self.assertEqual(self.successResultOf(auth.listener_add(LISTENER)), first)
        self.assertEqual(len(self.server.received), 1)
        changes = [{"mount": "/other"}, {"ip": "192.0.2.1"}, {"agent": "mpv"}, {"password": "x"}]
        for change in changes:
            await auth.listener_add(AuthRequest(**{**vars_of(LISTENER), **change}))
        self.assertEqual(len(self.server.received), 5)
        self.server.reply = []
        clock.advance(1)
        refused = await auth.listener_add(LISTENER)
        self.assertEqual((refused.reason, len(self.server.received)), (REFUSED, 6))
        self.server.reply = list(ADMIT)
        self.assertEqual(self.successResultOf(auth.listener_add(LISTENER)), refused)
        self.assertEqual(len(self.server.received), 6)

    @asynchronous
    async def test_failures_not_cached(self) -> None:
        """
        A failure to ask is not kept: the next question asks again.
        """
        self.server.status = 500
        auth = self.authenticator(cache_seconds=30, failure="allow")
        with capturedLogs():
            for _ in range(2):
                self.assertEqual((await auth.listener_add(LISTENER)).reason, UNREACHABLE_ALLOWED)
        self.assertEqual(len(self.server.received), 2)

    @asynchronous
    async def test_telling_fails(self) -> None:
        """
        A C{listener_remove} or C{mount_remove} that fails, or is answered
        with an error, is one log line naming the mount and why.
        """
        auth = self.authenticator(
            listener_remove=await self.closed_url(), mount_remove=self.url("/off")
        )
        self.server.status = 404
        with capturedLogs() as events:
            auth.listener_remove(LISTENER, 10)
            auth.mount_remove("/gone")
            await wait_for(lambda: len(warnings(events)) == 2, 10, reactor)
        lines = sorted(warnings(events))
        self.assertIn("listener_remove for /live", lines[0])
        self.assertIn("mount_remove for /gone", lines[1])
        self.assertIn("404", lines[1])


def vars_of(request: AuthRequest) -> dict[str, Any]:
    """
    The fields of C{request}, by name.
    """
    return {name: getattr(request, name) for name in AuthRequest.__dataclass_fields__}


class FakeTests(SynchronousTestCase):
    """
    L{FakeUrlAuthenticator} keeps what it is asked and told, and answers
    as the test says.
    """

    def test_protocol(self) -> None:
        """
        It is a L{UrlAuth}, as L{UrlAuthenticator} is; it checks listeners
        and sources unless told otherwise.
        """
        fake: UrlAuth = FakeUrlAuthenticator()
        real: UrlAuth = UrlAuthenticator(Clock(), UrlAuthConfig(), "radio.example", 8000)
        self.assertEqual((fake.checks_listeners, fake.checks_sources), (True, True))
        self.assertEqual((real.checks_listeners, real.checks_sources), (False, False))

    def test_records(self) -> None:
        """
        It records every question and notice, and answers at once with
        the results it was given.
        """
        refused = AuthResult(False, "go away", None, REFUSED)
        fake = FakeUrlAuthenticator(result=refused)
        self.assertEqual(self.successResultOf(fake.listener_add(LISTENER)), refused)
        self.assertEqual(
            self.successResultOf(fake.stream_auth("/live", "192.0.2.5", "source", "pw")),
            AuthResult(True, "", None, ALLOWED),
        )
        fake.listener_remove(LISTENER, 12.5)
        fake.mount_add("/live")
        fake.mount_remove("/live")
        self.assertEqual(fake.listeners_added, [LISTENER])
        self.assertEqual(fake.listeners_removed, [(LISTENER, 12.5)])
        self.assertEqual(fake.sources, [("/live", "192.0.2.5", "source", "pw")])
        self.assertEqual((fake.mounts_added, fake.mounts_removed), (["/live"], ["/live"]))
        self.assertEqual(
            self.successResultOf(FakeUrlAuthenticator().listener_add(LISTENER)).reason, ALLOWED
        )

    def test_hold(self) -> None:
        """
        While holding, questions wait until answered: with the result for
        their kind, or the one given, in the order the test says.
        """
        limited = AuthResult(True, "", 60.0, ALLOWED)
        source = AuthResult(False, "", None, REFUSED)
        fake = FakeUrlAuthenticator(result=limited, source_result=source, hold=True)
        first = fake.listener_add(LISTENER)
        second = fake.stream_auth("/live", "192.0.2.5", "source", "pw")
        third = fake.listener_add(LISTENER)
        for each in (first, second, third):
            self.assertNoResult(each)
        self.assertEqual(
            [kind for _, kind in fake.pending], ["listener_add", "stream_auth", "listener_add"]
        )
        fake.answer(index=-1)
        self.assertEqual(self.successResultOf(third), limited)
        fake.answer()
        self.assertEqual(self.successResultOf(first), limited)
        other = AuthResult(True, "ok", None, ALLOWED)
        fake.answer(other)
        self.assertEqual(self.successResultOf(second), other)
        self.assertRaises(IndexError, fake.answer)
        fake.hold = False
        self.assertEqual(self.successResultOf(fake.stream_auth("/a", "", "", "")), source)

    def test_cancel(self) -> None:
        """
        A question cancelled while waiting fires with a refusal, as the
        real one's does, and waits no more.
        """
        fake = FakeUrlAuthenticator(hold=True)
        asked = fake.listener_add(LISTENER)
        kept = fake.listener_add(LISTENER)
        asked.cancel()
        self.assertEqual(self.successResultOf(asked), AuthResult(False, "", None, CANCELLED))
        self.assertEqual([waiting for waiting, _ in fake.pending], [kept])

    def test_close(self) -> None:
        """
        Closing fires the questions waiting with a refusal; after it,
        questions are refused at once and nothing more is recorded.
        """
        fake = FakeUrlAuthenticator(hold=True)
        asked = fake.listener_add(LISTENER)
        source = fake.stream_auth("/live", "192.0.2.5", "source", "pw")
        self.successResultOf(fake.close())
        refused = AuthResult(False, "", None, CANCELLED)
        self.assertEqual(
            (self.successResultOf(asked), self.successResultOf(source)), (refused, refused)
        )
        self.assertTrue(fake.closed)
        self.assertEqual(fake.pending, [])
        self.assertEqual(self.successResultOf(fake.listener_add(LISTENER)), refused)
        self.assertEqual(self.successResultOf(fake.stream_auth("/a", "", "", "")), refused)
        fake.listener_remove(LISTENER, 1)
        fake.mount_add("/a")
        fake.mount_remove("/a")
        self.assertEqual(
            (
                len(fake.listeners_added),
                len(fake.sources),
                fake.listeners_removed,
                fake.mounts_added,
                fake.mounts_removed,
            ),
            (1, 1, [], [], []),
        )
