# -*- test-case-name: tests.outbound.test_push -*-
"""
C{radiod-push}: a source client that streams local files to any
Icecast-compatible server in real time, with their titles.

The files are played by a L{Programme} paced by a L{Pacer}, exactly as a
radiod mount plays them, and each frame is written to the server as it
falls due.  The source request is C{PUT} (Icecast 2.4 and later, radiod),
falling back once to C{SOURCE} for servers that do not understand it.  At
each track change the new title is sent to C{/admin/metadata} on a
separate short connection.  A dropped connection is retried with a
growing delay; a refusal (wrong password, mount in use) ends the push.

L{parse_target}, L{source_request}, L{metadata_target} and L{parse_status}
are pure.
"""

from __future__ import annotations

import argparse
import base64
import os
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, cast
from urllib.parse import quote, urlsplit

from twisted.internet._sslverify import IOpenSSLTrustRoot
from twisted.internet.defer import Deferred, ensureDeferred
from twisted.internet.endpoints import HostnameEndpoint, connectProtocol, wrapClientTLS
from twisted.internet.interfaces import (
    IConsumer,
    IDelayedCall,
    IOpenSSLClientConnectionCreator,
    IPushProducer,
    IReactorTime,
    IStreamClientEndpoint,
)
from twisted.internet.protocol import Protocol
from twisted.internet.ssl import platformTrust
from twisted.internet.task import react
from twisted.logger import Logger, globalLogBeginner, textFileLogObserver
from twisted.python.failure import Failure
from twisted.web.client import Agent, BrowserLikePolicyForHTTPS, readBody
from twisted.web.http_headers import Headers
from zope.interface import implementer

from radiod.audio.frames import Frame
from radiod.audio.track import TrackInfo
from radiod.broadcast.pacer import Pacer
from radiod.interfaces import Runner
from radiod.library.library import PLAYLIST_EXTENSIONS, Entry, Library, LibraryError, is_playable
from radiod.library.programme import Programme
from radiod.library.tags import read_track_info
from radiod.runner import thread_runner
from radiod.tls import client_options

__all__ = [
    "MAX_BACKLOG",
    "FileLibrary",
    "PushError",
    "PushOptions",
    "Pusher",
    "SourceProtocol",
    "announce_title",
    "main",
    "metadata_target",
    "parse_status",
    "parse_target",
    "source_request",
    "tcp_connect",
]

MAX_BACKLOG = 5.0
"""
Seconds of audio that may wait unsent while the server does not read
before the connection is given up.
"""

RETRY_WITH_SOURCE = frozenset({400, 405, 501})
"""
Replies to C{PUT} that mean the server does not know the method.
"""

Connect = Callable[[Protocol], "Deferred[Any]"]
"""Connects a protocol to the server; fires when connected."""

Announce = Callable[[str], "Deferred[Any]"]
"""Sends a title update for the current track."""


class PushError(Exception):
    """
    The push cannot go on; the message is one line for the user.
    """


@dataclass(frozen=True, slots=True)
class PushOptions:
    """
    What to push where.

    @ivar url: the server and mount, C{http://host:8000/stream}.
    @ivar location: a file, a folder or a playlist file.
    @ivar password: the source password.
    @ivar user: the source user name.
    @ivar name: C{ice-name}, or empty.
    @ivar genre: C{ice-genre}, or empty.
    @ivar description: C{ice-description}, or empty.
    @ivar homepage: C{ice-url}, or empty.
    @ivar public: C{ice-public}.
    @ivar shuffle: play in random order.
    @ivar loop: start again after the last track (else stop).
    """

    url: str
    location: str
    password: str
    user: str = "source"
    name: str = ""
    genre: str = ""
    description: str = ""
    homepage: str = ""
    public: bool = False
    shuffle: bool = False
    loop: bool = True


def parse_target(url: str) -> tuple[str, int, str]:
    """
    Split a server URL.

    @param url: C{http://host[:port]/mount} or C{https://...}.
    @return: the host, the port (8000, or 443 for C{https}, when not
        given) and the mount.
    @raise PushError: if it is not an C{http} or C{https} URL with a mount.
    """
    parts = urlsplit(url)
    try:
        port = parts.port or (443 if parts.scheme == "https" else 8000)
    except ValueError:
        raise PushError(f"bad port in {url}") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise PushError(f"{url} is not an http://host:port/mount URL")
    if parts.path in ("", "/"):
        raise PushError(f"{url} names no mount (http://host:port/mount)")
    return parts.hostname, port, parts.path


def _authorization(user: str, password: str) -> str:
    token = base64.b64encode(f"{user}:{password}".encode()).decode("ascii")
    return f"Basic {token}"


def _header_value(value: str) -> str:
    """
    A header value on one line, encoded as UTF-8 would be read as Latin-1.
    """
    flat = " ".join(value.split())
    return flat.encode("utf-8").decode("latin-1")


def source_request(method: str, options: PushOptions) -> bytes:
    """
    The request that opens a source connection.

    @param method: C{"PUT"} (sent as HTTP/1.1) or C{"SOURCE"} (HTTP/1.0).
    @param options: the target, credentials and stream description.
    @return: the request head, ready to write.
    """
    host, port, mount = parse_target(options.url)
    version = "HTTP/1.1" if method == "PUT" else "HTTP/1.0"
    lines = [
        f"{method} {quote(mount)} {version}",
        f"Host: {host}:{port}",
        f"Authorization: {_authorization(options.user, options.password)}",
        "User-Agent: radiod-push",
        "Content-Type: audio/mpeg",
    ]
    described = [
        ("ice-name", options.name),
        ("ice-genre", options.genre),
        ("ice-description", options.description),
        ("ice-url", options.homepage),
    ]
    lines += [f"{key}: {_header_value(value)}" for key, value in described if value]
    lines.append(f"ice-public: {1 if options.public else 0}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def metadata_target(options: PushOptions, title: str) -> str:
    """
    The URL of the title update for C{title}.

    @return: C{http://host:port/admin/metadata?mount=...&mode=updinfo&song=...}.
    """
    host, port, mount = parse_target(options.url)
    return (
        f"http://{host}:{port}/admin/metadata?mount={quote(mount, safe='')}"
        f"&mode=updinfo&song={quote(title, safe='')}&charset=UTF-8"
    )


def tcp_connect(
    reactor: Any, host: str, port: int, tls: IOpenSSLClientConnectionCreator | None = None
) -> Connect:
    """
    A L{Connect} over TCP to C{host} and C{port}, with TLS when C{tls}
    (which checks the server's certificate) is given.

    @param reactor: provides C{IReactorTCP} and C{IReactorTime}.
    """
    endpoint: IStreamClientEndpoint = HostnameEndpoint(reactor, host, port)
    if tls is not None:
        endpoint = wrapClientTLS(tls, endpoint)

    def connect(protocol: Protocol) -> Deferred[Any]:
        connected: Deferred[Any] = connectProtocol(endpoint, protocol)
        return connected

    return connect


def server_connections(
    reactor: Any, url: str, trust: IOpenSSLTrustRoot | None = None
) -> tuple[Connect, Agent]:
    """
    How to reach the server at C{url}: a L{Connect} for the source
    connection and an L{Agent} for title updates; over TLS for an
    C{https://} URL, checking the server's certificate against C{trust}
    (the system's authorities by default) and its name.
    """
    host, port, _ = parse_target(url)
    if urlsplit(url).scheme != "https":
        return tcp_connect(reactor, host, port), Agent(reactor)
    roots = trust if trust is not None else platformTrust()
    return (
        tcp_connect(reactor, host, port, client_options(host, roots)),
        Agent(reactor, contextFactory=BrowserLikePolicyForHTTPS(trustRoot=roots)),
    )


def announce_title(agent: Agent, options: PushOptions, title: str) -> Deferred[None]:
    """
    Send a title update to C{/admin/metadata} with the source credentials.

    @param agent: makes the request.
    @param options: the target and credentials.
    @param title: the new title.
    @return: fires when the server accepted it; fails with L{PushError}
        when it answered with an error.
    """
    headers = Headers({b"Authorization": [_authorization(options.user, options.password).encode()]})
    url = metadata_target(options, title).encode("ascii")
    d = agent.request(b"GET", url, headers)

    def check(response: Any) -> Deferred[None]:
        def judge(body: bytes) -> None:
            if not 200 <= response.code < 300:
                raise PushError(f"{response.code} {body[:80].decode('utf-8', 'replace')}")

        return cast("Deferred[None]", readBody(response).addCallback(judge))

    return d.addCallback(check)


def parse_status(head: bytes) -> tuple[int, str]:
    """
    Read a reply's status line.

    @param head: the reply, at least its first line.
    @return: the status code and reason.
    @raise PushError: if the first line is not an HTTP or ICY status line.
    """
    line = head.split(b"\n", 1)[0].strip().decode("latin-1")
    parts = line.split(None, 2)
    if len(parts) < 2 or not (parts[0].startswith("HTTP/") or parts[0] == "ICY"):
        raise PushError(f"the server answered {line[:60]!r}, not HTTP")
    if not parts[1].isdigit():
        raise PushError(f"the server answered {line[:60]!r}, not HTTP")
    return int(parts[1]), parts[2] if len(parts) > 2 else ""


@implementer(IPushProducer)
class SourceProtocol(Protocol):
    """
    One source connection: sends the request, waits for the reply, then
    carries audio.

    @ivar answered: fires with the reply's status code and reason, or
        fails with L{PushError} if the connection ends first.
    @ivar closed: fires when the connection has ended.
    @ivar backlog: seconds of audio written while the transport was
        paused.
    """

    _log = Logger()

    def __init__(self, request: bytes, max_backlog: float = MAX_BACKLOG) -> None:
        """
        @param request: the request head to send.
        @param max_backlog: seconds of unsent audio that end the connection.
        """
        self.request = request
        self.max_backlog = max_backlog
        self.answered: Deferred[tuple[int, str]] = Deferred()
        self.closed: Deferred[None] = Deferred()
        self.paused = False
        self.backlog = 0.0
        self._head = b""

    def connectionMade(self) -> None:
        assert self.transport is not None
        self.transport.write(self.request)

    def dataReceived(self, data: bytes) -> None:
        if self.answered.called:
            return
        self._head += data
        if b"\n" not in self._head:
            if len(self._head) > 8192:
                self._answer_failed(PushError("the server's reply is not HTTP"))
            return
        try:
            status = parse_status(self._head)
        except PushError as error:
            self._answer_failed(error)
            return
        self.answered.callback(status)

    def _answer_failed(self, error: PushError) -> None:
        self.answered.errback(error)
        assert self.transport is not None
        self.transport.loseConnection()

    def connectionLost(self, reason: Failure = Failure(ConnectionError())) -> None:  # noqa: B008
        if not self.answered.called:
            self.answered.errback(PushError("the server closed the connection without answering"))
        if not self.closed.called:
            self.closed.callback(None)

    def start_streaming(self) -> None:
        """
        Ask the transport to tell us when the server stops reading.
        """
        assert self.transport is not None
        cast(IConsumer, self.transport).registerProducer(self, True)

    def send(self, frames: Sequence[Frame]) -> None:
        """
        Write frames; give up the connection if too much is waiting.
        """
        assert self.transport is not None
        self.transport.write(b"".join(frame.data for frame in frames))
        if self.paused:
            self.backlog += sum(f.header.samples / f.header.sample_rate for f in frames)
            if self.backlog > self.max_backlog:
                self._log.warn(
                    "The server has not read the last {seconds:.1f} s of audio; disconnecting",
                    seconds=self.backlog,
                )
                self.transport.abortConnection()  # type: ignore[attr-defined]

    def pauseProducing(self) -> None:
        self.paused = True

    def resumeProducing(self) -> None:
        self.paused = False
        self.backlog = 0.0

    def stopProducing(self) -> None:
        self.paused = True


def scan_file(path: str, known: dict[str, Entry]) -> dict[str, Entry]:
    """
    The one-entry library of a single file.  Blocking.

    @raise LibraryError: if it is missing or not an MP3 file.
    """
    path = os.path.abspath(path)
    try:
        status = os.stat(path)
    except FileNotFoundError:
        raise LibraryError(f"{path} does not exist") from None
    except OSError as e:
        raise LibraryError(f"cannot read {path}: {e.strerror or e}") from e
    if not is_playable(path):
        raise LibraryError(f"{path} is not an MP3 file, a folder or a playlist")
    previous = known.get(path)
    if previous is not None and previous[:2] == (status.st_mtime, status.st_size):
        return {path: previous}
    return {path: (status.st_mtime, status.st_size, read_track_info(path))}


class FileLibrary(Library):
    """
    A library of one file (L{Library} takes folders and playlists).
    """

    def _scan(self) -> Deferred[Any]:
        known = dict(self._entries)
        return self._runner(lambda: scan_file(self.location, known)).addCallback(self._apply)


def make_library(location: str, runner: Runner) -> Library:
    """
    The library for a file, a folder or a playlist file.
    """
    if os.path.isdir(location) or location.lower().endswith(PLAYLIST_EXTENSIONS):
        return Library(location, runner)
    return FileLibrary(location, runner)


class Pusher:
    """
    Streams a library to one server mount until stopped (or, without
    looping, until every track has played once).

    @ivar done: fires when the push ends, or fails with L{PushError} when
        the server refuses it or cannot be reached at first.
    @ivar connection: the connection carrying audio, if any.
    """

    _log = Logger()

    def __init__(
        self,
        reactor: Any,
        options: PushOptions,
        runner: Runner,
        connect: Connect | None = None,
        announce: Announce | None = None,
        max_delay: float = 30.0,
    ) -> None:
        """
        @param reactor: provides C{IReactorTCP} and C{IReactorTime}.
        @param options: what to push where.
        @param runner: runs file reads in threads (see L{thread_runner}).
        @param connect: connects a protocol to the server (by default over
            TCP to the URL's host and port).
        @param announce: sends a title update (by default a C{GET} to
            C{/admin/metadata}).
        @param max_delay: the longest wait between reconnection attempts.
        """
        self._clock: IReactorTime = reactor
        self.options = options
        _, _, self.mount = parse_target(options.url)
        default_connect, agent = server_connections(reactor, options.url)
        self._connect = connect if connect is not None else default_connect
        self._announce = announce if announce is not None else self._http_announce
        self._agent: Agent | None = agent if announce is None else None
        self.max_delay = max_delay
        self.library = make_library(options.location, runner)
        self.programme = Programme(
            self.library,
            reactor,
            runner,
            shuffle=options.shuffle,
            rescan_interval=30.0 if options.loop else 0.0,
            name=self.mount,
        )
        self.pacer = Pacer(reactor, self.programme, self._deliver, name=self.mount)
        self.done: Deferred[None] = Deferred()
        self.connection: SourceProtocol | None = None
        self.titles: list[str] = []
        self._playing: TrackInfo | None = None
        self._plays = 0
        self._accepted = False
        self._delay = 1.0
        self._retry: IDelayedCall | None = None
        self._stopping = False
        self._current: SourceProtocol | None = None

    # Starting and stopping

    def stopping(self) -> bool:
        """
        Whether the push has been stopped or has ended.
        """
        return self._stopping

    def start(self) -> Deferred[None]:
        """
        Scan the library, then connect.

        @return: L{done}.
        """
        scanned = self.library.scan()

        def scanned_ok(_: object) -> None:
            self.programme.started.addCallback(lambda _: self._begin())
            self.programme.start()

        def scan_failed(failure: Failure) -> None:
            self._finish(PushError(failure.getErrorMessage()))

        scanned.addCallbacks(scanned_ok, scan_failed)
        return self.done

    def _begin(self) -> None:
        if not self.library.tracks:
            self._finish(PushError(f"nothing to play in {self.options.location}"))
            return
        self._attempt("PUT")

    def stop(self) -> None:
        """
        Stop streaming and close the connection.
        """
        self._finish(None)

    def _finish(self, error: PushError | None) -> None:
        if self._stopping:
            return
        self._stopping = True
        self.pacer.stop()
        self.programme.stop()
        if self._retry is not None and self._retry.active():
            self._retry.cancel()
        if self._current is not None and self._current.transport is not None:
            self._current.transport.loseConnection()
        if error is None:
            self.done.callback(None)
        else:
            self.done.errback(error)

    # Connections

    def _attempt(self, method: str) -> None:
        protocol = SourceProtocol(source_request(method, self.options))
        self._current = protocol
        d = ensureDeferred(self._session(protocol, method))
        d.addErrback(self._failed)

    def _failed(self, failure: Failure) -> None:
        if failure.check(PushError):
            self._finish(cast(PushError, failure.value))
            return
        self._log.failure("Push to {url} failed", failure, url=self.options.url)
        self._finish(PushError(failure.getErrorMessage() or repr(failure.value)))

    async def _session(self, protocol: SourceProtocol, method: str) -> None:
        if self._stopping:
            return
        try:
            await self._connect(protocol)
        except Exception as error:
            reason = str(error) or type(error).__name__
            if not self._accepted:
                raise PushError(f"cannot connect to {self.options.url}: {reason}") from None
            self._log.warn(
                "Cannot reconnect to {url}: {reason}", url=self.options.url, reason=reason
            )
            self._reconnect()
            return
        if self.stopping():
            assert protocol.transport is not None
            protocol.transport.loseConnection()
            return
        try:
            code, reason = await protocol.answered
        except PushError as error:
            if method == "PUT" and not self._accepted:
                self._attempt("SOURCE")
                return
            if not self._accepted:
                raise
            self._log.warn("{url}: {error}", url=self.options.url, error=str(error))
            self._reconnect()
            return
        if self.stopping():
            return
        if method == "PUT" and code in RETRY_WITH_SOURCE:
            assert protocol.transport is not None
            protocol.transport.loseConnection()
            self._attempt("SOURCE")
            return
        if not 200 <= code < 300:
            assert protocol.transport is not None
            protocol.transport.loseConnection()
            raise PushError(_refusal(code, reason, self.options.url))
        self._stream(protocol, method)
        await protocol.closed
        self.connection = None
        self.pacer.stop()
        if not self.stopping():
            self._log.warn("{url} closed the connection", url=self.options.url)
            self._reconnect()

    def _stream(self, protocol: SourceProtocol, method: str) -> None:
        self._log.info("Streaming to {url} ({method})", url=self.options.url, method=method)
        self._accepted = True
        self._delay = 1.0
        self.connection = protocol
        protocol.start_streaming()
        if self._playing is not None:
            self._send_title(self._playing)
        self.pacer.start()

    def _reconnect(self) -> None:
        delay = self._delay
        self._delay = min(self._delay * 2, self.max_delay)
        self._log.info("Reconnecting in {delay:.0f} s", delay=delay)
        method = "PUT"
        self._retry = self._clock.callLater(delay, self._attempt, method)

    # Audio and titles

    def _deliver(self, due: list[tuple[Frame, TrackInfo]]) -> None:
        batch: list[Frame] = []
        for frame, track in due:
            if track is not self._playing:
                self._plays += 1
                if not self.options.loop and self._plays > len(self.library.tracks):
                    self._send(batch)
                    self._log.info("Every track has played once; stopping")
                    self._finish(None)
                    return
                self._send(batch)
                batch = []
                self._playing = track
                self._log.info("Now playing {title}", title=track.stream_title)
                self._send_title(track)
            batch.append(frame)
        self._send(batch)

    def _send(self, frames: list[Frame]) -> None:
        if frames and self.connection is not None:
            self.connection.send(frames)

    def _send_title(self, track: TrackInfo) -> None:
        title = track.stream_title
        self.titles.append(title)
        d = self._announce(title)
        d.addErrback(
            lambda failure: self._log.warn(
                "Cannot update the title on {url}: {reason}",
                url=self.options.url,
                reason=failure.getErrorMessage(),
            )
        )

    def _http_announce(self, title: str) -> Deferred[None]:
        assert self._agent is not None
        return announce_title(self._agent, self.options, title)


def _refusal(code: int, reason: str, url: str) -> str:
    """
    One line telling the user why the server refused the source.
    """
    hints = {
        401: "wrong user name or password",
        403: "the mount is in use or does not take sources",
        409: "the mount is in use",
        415: "the server does not take MP3",
    }
    hint = hints.get(code)
    text = f"{url} refused the source: {code} {reason}".rstrip()
    return f"{text} ({hint})" if hint else text


def parse_arguments(argv: Sequence[str]) -> PushOptions:
    """
    Read the command line.

    @raise SystemExit: on a usage error (after printing it).
    """
    parser = argparse.ArgumentParser(
        prog="radiod-push",
        description="Stream MP3 files to an Icecast-compatible server in real time.",
    )
    parser.add_argument("--user", default="source", help="source user name (default: source)")
    parser.add_argument("--password", required=True, help="source password")
    parser.add_argument("--name", default="", help="stream name (ice-name)")
    parser.add_argument("--genre", default="", help="stream genre (ice-genre)")
    parser.add_argument("--description", default="", help="stream description")
    parser.add_argument("--url", dest="homepage", default="", help="stream home page (ice-url)")
    parser.add_argument("--public", action="store_true", help="ask to be listed in directories")
    parser.add_argument("--shuffle", action="store_true", help="play in random order")
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--loop", dest="loop", action="store_true", default=True)
    group.add_argument("--once", dest="loop", action="store_false", help="stop after one round")
    parser.add_argument("target", metavar="URL", help="http://host:port/mount")
    parser.add_argument("location", metavar="FILE_OR_FOLDER_OR_PLAYLIST")
    args = parser.parse_args(argv)
    options = PushOptions(
        url=args.target,
        location=args.location,
        password=args.password,
        user=args.user,
        name=args.name,
        genre=args.genre,
        description=args.description,
        homepage=args.homepage,
        public=args.public,
        shuffle=args.shuffle,
        loop=args.loop,
    )
    try:
        parse_target(options.url)
    except PushError as error:
        parser.error(str(error))
    return options


async def _run(reactor: Any, options: PushOptions) -> None:
    pusher = Pusher(reactor, options, thread_runner(reactor, reactor.getThreadPool()))
    reactor.addSystemEventTrigger("before", "shutdown", pusher.stop)
    try:
        await pusher.start()
    except (PushError, LibraryError) as error:
        print(f"radiod-push: {error}", file=sys.stderr)
        raise SystemExit(1) from None


def main(argv: Sequence[str] | None = None) -> None:
    """
    The C{radiod-push} command.

    @param argv: the arguments, without the program name; C{sys.argv[1:]}
        by default.
    """
    options = parse_arguments(sys.argv[1:] if argv is None else argv)
    globalLogBeginner.beginLoggingTo([textFileLogObserver(sys.stderr)], redirectStandardIO=False)
    react(lambda r: _run(r, options), [])
