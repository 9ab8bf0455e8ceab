# -*- test-case-name: tests.outbound.test_cli -*-
"""
C{radiod-push}: a source client that streams local files to any
Icecast-compatible server in real time, with their titles.

The files are played by a L{Programme} paced by a L{Pacer}, exactly as a
radiod mount plays them, and each frame is written to the server as it
falls due.  The source request is C{PUT} (Icecast 2.4 and later, radiod),
falling back once to C{SOURCE} for servers that do not understand it.  At
each track change the new title is sent to C{/admin/metadata} on a
separate short connection.  A dropped connection is retried with a
growing delay by a L{radiod.reconnect.ReconnectingClient}; a refusal
(wrong password, mount in use) ends the push.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from typing import Any

from twisted.internet.defer import CancelledError, Deferred, ensureDeferred
from twisted.internet.interfaces import ITransport
from twisted.internet.task import react
from twisted.logger import Logger, globalLogBeginner, textFileLogObserver
from twisted.python.failure import Failure

from radiod.audio.frames import Frame
from radiod.audio.track import Cue, TrackInfo
from radiod.broadcast.pacer import Pacer
from radiod.interfaces import Runner
from radiod.library.library import PLAYLIST_EXTENSIONS, Entry, Library, LibraryError, is_playable
from radiod.library.programme import Programme
from radiod.library.tags import read_track_info
from radiod.outbound.client import (
    Announce,
    Connect,
    PushError,
    PushOptions,
    Refused,
    SourceClient,
    SourceProtocol,
    Unreachable,
    parse_target,
)
from radiod.reconnect import ReconnectingClient
from radiod.runner import thread_runner

__all__ = [
    "MAX_DELAY",
    "FileLibrary",
    "Pusher",
    "main",
    "make_library",
    "parse_arguments",
    "scan_file",
]

MAX_DELAY = 30.0
"""
The longest wait between two reconnection attempts.
"""


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
        max_delay: float = MAX_DELAY,
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
        self.options = options
        _, _, self.mount = parse_target(options.url)
        self._source = SourceClient(reactor, options, connect, announce)
        self._client = ReconnectingClient(reactor, self._attempt, self._retrying, max_delay)
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
        self._playing: TrackInfo | None = None
        self._plays = 0
        self._accepted = False
        self._stopping = False

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
        if self._stopping:
            return
        if not self.library.tracks:
            self._finish(PushError(f"nothing to play in {self.options.location}"))
            return
        self._client.start()

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
        self._client.stop()
        if error is None:
            self.done.callback(None)
        else:
            self.done.errback(error)

    # Connections

    def _attempt(self) -> Deferred[ITransport]:
        """
        Open a source connection; end the push if the server refused it,
        or could not be reached before it ever accepted one.
        """
        return ensureDeferred(self._open()).addErrback(self._failed)

    async def _open(self) -> ITransport:
        protocol, method = await self._source.open(unanswered_fallback=not self._accepted)
        assert protocol.transport is not None
        self._stream(protocol, method)
        protocol.closed.addCallback(lambda _: self._closed())
        return protocol.transport

    def _failed(self, failure: Failure) -> Failure:
        url = self.options.url
        error = failure.value
        if failure.check(CancelledError):
            pass
        elif isinstance(error, Unreachable):
            if self._accepted:
                self._log.warn("Cannot reconnect to {url}: {reason}", url=url, reason=str(error))
            else:
                self._finish(PushError(f"cannot connect to {url}: {error}"))
        elif isinstance(error, Refused):
            self._finish(PushError(_refusal(error.code, error.reason, url)))
        elif isinstance(error, PushError):
            if self._accepted:
                self._log.warn("{url}: {error}", url=url, error=str(error))
            else:
                self._finish(error)
        else:
            self._log.failure("Push to {url} failed", failure, url=url)
            self._finish(PushError(failure.getErrorMessage() or repr(error)))
        return failure

    def _stream(self, protocol: SourceProtocol, method: str) -> None:
        self._log.info("Streaming to {url} ({method})", url=self.options.url, method=method)
        self._accepted = True
        self.connection = protocol
        protocol.start_streaming()
        if self._playing is not None:
            self._source.send_title(self._playing)
        self.pacer.start()

    def _closed(self) -> None:
        self.connection = None
        self.pacer.stop()
        if not self._stopping:
            self._log.warn("{url} closed the connection", url=self.options.url)
        self._client.lost()

    def _retrying(self, delay: float) -> None:
        if not self._stopping:
            self._log.info("Reconnecting in {delay:.0f} s", delay=delay)

    # Audio and titles

    def _deliver(self, due: list[Cue]) -> None:
        batch: list[Frame] = []
        for frame, track, starts in due:
            if starts:
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
                self._source.send_title(track)
            batch.append(frame)
        self._send(batch)

    def _send(self, frames: list[Frame]) -> None:
        if frames and self.connection is not None:
            self.connection.send(frames)


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
