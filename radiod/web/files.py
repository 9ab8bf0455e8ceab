# -*- test-case-name: tests.web.test_files,tests.web.test_files_e2e -*-
"""
On-demand files: the library's listing and its files, served as they are
or transcoded to MP3 on the fly.

C{GET /library} lists the catalogue (L{radiod.library.catalogue}) as JSON, a page
at a time.  C{GET /files/<id>} sends one file's bytes as they are on disk,
with validators and single byte ranges (L{radiod.web.ranges}); the file is
read in bounded chunks in a thread, one chunk each time the client's
connection wants more, so neither a large file nor a slow client costs
memory.  With C{?bitrate=N} the file goes through an ffmpeg child process
instead, which decodes it from C{start} seconds and encodes MP3 at N
kbit/s; what it writes is sent as it comes, and while the client does not
read, ffmpeg's output is not read either, so ffmpeg waits.  A client that
leaves takes its ffmpeg with it.

No request names a path: an id is looked up among the files the last
library scan listed, and a file is opened only after its real path (all
symbolic links resolved) is found under its library's real folder.
"""

from __future__ import annotations

import email.utils
import math
import os
import re
import stat
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from functools import partial
from typing import cast
from urllib.parse import quote

from twisted.internet.error import ProcessExitedAlready
from twisted.internet.interfaces import (
    IConsumer,
    IPullProducer,
    IPushProducer,
    IReactorProcess,
    IReactorTime,
)
from twisted.internet.protocol import ProcessProtocol
from twisted.internet.task import LoopingCall
from twisted.logger import Logger
from twisted.python.failure import Failure
from zope.interface import implementer

from radiod.broadcast.mount import Mount
from radiod.ffmpeg.converter import mp3_output
from radiod.interfaces import Runner
from radiod.library.catalogue import (
    FILES_PREFIX,
    LIBRARY_PATH,
    Catalogue,
    Item,
    SelectionError,
    inside,
    parse_selection,
    render_error,
    render_listing,
    select,
)
from radiod.library.library import Library
from radiod.library.programme import Programme
from radiod.request import Request, build_response_head
from radiod.web.page import etag_matches
from radiod.web.ranges import ByteRange, Unsatisfiable, parse_range
from radiod.wire.accesslog import mask_target
from radiod.wire.server import SERVER, RadioFactory, RadioProtocol

__all__ = [
    "CHUNK_SIZE",
    "MAX_TRANSCODES",
    "TRANSCODE_BITRATES",
    "FileBody",
    "LibraryWatch",
    "OnDemand",
    "OpenFile",
    "OutsideLibrary",
    "Transcode",
    "TranscodeRequest",
    "if_range_allows",
    "mount_libraries",
    "open_inside",
    "parse_transcode",
    "transcode_arguments",
]

CHUNK_SIZE = 64 * 1024
"""
The most bytes read from a file at once.
"""

MAX_TRANSCODES = 4
"""
The most files transcoded at once by one process; more are refused with
503.
"""

TRANSCODE_BITRATES = (32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320)
"""
The bitrates, in kbit/s, a file can be transcoded to (MPEG-1 Layer III).
"""

_JSON = "application/json; charset=utf-8"
_TEXT = "text/plain; charset=utf-8"
_NO_CACHE = [("Cache-Control", "no-cache")]
_CORS = [("Access-Control-Allow-Origin", "*")]
_SAFE_NAME = re.compile(r"[^A-Za-z0-9 !#$&'()*+,.:;<=>?@\[\]^_`{|}~-]")
_SECONDS = re.compile(r"[0-9]{1,9}(\.[0-9]{1,6})?")


def mount_libraries(mounts: Mapping[str, Mount]) -> list[Library]:
    """
    The libraries of the mounts that play music from one, in mount order.
    """
    libraries = []
    for mount in mounts.values():
        playlist: object = mount.switch.playlist if mount.switch is not None else None
        if isinstance(playlist, Programme):
            libraries.append(playlist.library)
    return libraries


class LibraryWatch:
    """
    Libraries scanned on their own, at start and then every so often:
    what a process with no programme of its own (a worker process, which
    plays its mounts from the main process's feed) offers on demand.

    @ivar libraries: the libraries, in mount order.
    """

    _log = Logger()

    def __init__(
        self,
        clock: IReactorTime,
        runner: Runner,
        locations: Iterable[tuple[str, float]],
    ) -> None:
        """
        @param clock: schedules the rescans.
        @param runner: runs the scans off the reactor thread.
        @param locations: each library's folder or playlist file, with the
            seconds between its rescans (0 for never).
        """
        self.libraries: list[Library] = []
        self._loops: list[LoopingCall] = []
        self._intervals: list[float] = []
        for location, interval in locations:
            library = Library(location, runner)
            loop = LoopingCall(self._scan, library)
            loop.clock = clock
            self.libraries.append(library)
            self._loops.append(loop)
            self._intervals.append(interval)

    def start(self) -> None:
        """
        Scan every library now, and again at its interval.
        """
        for library, loop, interval in zip(
            self.libraries, self._loops, self._intervals, strict=True
        ):
            if interval > 0:
                loop.start(interval, now=True)
            else:
                self._scan(library)

    def stop(self) -> None:
        """
        Stop rescanning.
        """
        for loop in self._loops:
            if loop.running:
                loop.stop()

    def _scan(self, library: Library) -> None:
        def failed(failure: Failure) -> None:
            self._log.warn(
                "Cannot scan {location} for on-demand files: {error}",
                location=library.location,
                error=failure.getErrorMessage(),
            )

        library.scan().addErrback(failed)


def _departure(protocol: RadioProtocol) -> Callable[[], bool]:
    """
    Tells, when asked later, whether the client has left since now (for
    answers that wait on a thread).
    """
    lost: list[bool] = []
    protocol.on_lost.append(lambda: lost.append(True))
    return lambda: bool(lost)


# Opening files


class OutsideLibrary(Exception):
    """
    A file's real path is not under its library's real folder: a symbolic
    link leads out of it.
    """


@dataclass(frozen=True, slots=True)
class OpenFile:
    """
    A library file, opened for reading.

    @ivar fd: the open file descriptor; whoever holds this closes it.
    @ivar path: its real path.
    @ivar size: its size in bytes.
    @ivar modified: its modification time (seconds since the epoch).
    @ivar etag: its entity tag (quoted), from its size and modification
        time.
    """

    fd: int
    path: str
    size: int
    modified: float
    etag: str

    @property
    def last_modified(self) -> str:
        """
        The C{Last-Modified} header's value.
        """
        return email.utils.formatdate(self.modified, usegmt=True)


_OPEN_FLAGS = (
    os.O_RDONLY
    | getattr(os, "O_NOFOLLOW", 0)
    | getattr(os, "O_CLOEXEC", 0)
    | getattr(os, "O_NOCTTY", 0)
    | getattr(os, "O_NONBLOCK", 0)
)


def _opened_path(fd: int) -> str | None:
    """
    The path the system has for an open file, where it tells (Linux).
    """
    try:
        return os.readlink(f"/proc/self/fd/{fd}")
    except OSError:
        return None


def open_inside(path: str, root: str) -> OpenFile:
    """
    Open a library file for reading, if it really lies in its library.

    Blocks on file I/O: run it in a thread.  The path's symbolic links are
    resolved and the real path must be under the real C{root}; the file is
    opened without following a link in its last component (it has none,
    unless it was swapped since) and must be a regular file; where the
    system tells which file was opened, that is checked to be under
    C{root} too.

    @param path: the file's path, as its library lists it.
    @param root: its library's folder.
    @raise OutsideLibrary: if the file is not under C{root}.
    @raise OSError: if it cannot be opened or is not a regular file.
    """
    real_root = os.path.realpath(root)
    real = os.path.realpath(path)
    if not inside(real_root, real):
        raise OutsideLibrary(real)
    fd = os.open(real, _OPEN_FLAGS)
    try:
        status = os.fstat(fd)
        if not stat.S_ISREG(status.st_mode):
            raise IsADirectoryError(f"{real} is not a regular file")
        opened = _opened_path(fd)
        if opened is not None and not inside(real_root, opened):
            raise OutsideLibrary(opened)
    except BaseException:
        os.close(fd)
        raise
    etag = f'"{status.st_size:x}-{status.st_mtime_ns:x}"'
    return OpenFile(fd, real, status.st_size, status.st_mtime, etag)


def real_path_inside(path: str, root: str) -> str:
    """
    The real path of a library file that really lies in its library (see
    L{open_inside}), for a child process to open.  Blocks on file I/O.

    @raise OutsideLibrary: if the file is not under C{root}.
    @raise OSError: if it cannot be opened or is not a regular file.
    """
    opened = open_inside(path, root)
    os.close(opened.fd)
    return opened.path


def if_range_allows(if_range: str | None, etag: str, modified: float) -> bool:
    """
    Whether a C{Range} header may be honoured given the request's
    C{If-Range}: when there is none, when it is our entity tag (compared
    strongly: a weak tag never matches), or when it is an HTTP date equal
    to our C{Last-Modified}.  Otherwise the whole file is sent.
    """
    if if_range is None:
        return True
    value = if_range.strip()
    if value.startswith(('"', "W/")):
        return value == etag
    try:
        date = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError, OverflowError):
        return False
    return date.tzinfo is not None and int(date.timestamp()) == int(modified)


def _disposition(path: str) -> str:
    """
    A C{Content-Disposition} naming the file: an ASCII name for every
    client and the real one for those that read C{filename*}.
    """
    name = os.path.basename(path)
    ascii_name = _SAFE_NAME.sub("_", name)
    encoded = quote(name.encode("utf-8", "replace"), safe="")
    return f"inline; filename=\"{ascii_name}\"; filename*=UTF-8''{encoded}"


# Sending files


@implementer(IPullProducer)
class FileBody:
    """
    Sends part of an open file to a client: each time the connection
    wants more, one chunk of at most L{CHUNK_SIZE} bytes is read in a
    thread and written; then the connection is closed.  The file is
    closed when the body is sent or the client leaves.

    @ivar position: the offset of the next byte to read.
    @ivar remaining: the bytes still to send.
    """

    _log = Logger()

    def __init__(
        self,
        opened: OpenFile,
        start: int,
        length: int,
        protocol: RadioProtocol,
        runner: Runner,
        chunk_size: int = CHUNK_SIZE,
    ) -> None:
        """
        @param opened: the file; it is closed by this body.
        @param start: the first byte to send.
        @param length: how many bytes to send.
        @param protocol: the client's connection; the response head has
            been written.
        @param runner: runs the reads off the reactor thread.
        @param chunk_size: the most bytes read at once.
        """
        self._fd: int | None = opened.fd
        self._path = opened.path
        self.position = start
        self.remaining = length
        self._protocol = protocol
        self._runner = runner
        self._chunk_size = chunk_size
        self._reading = False
        self._done = False

    @property
    def _consumer(self) -> IConsumer:
        transport = self._protocol.transport
        assert transport is not None
        return cast(IConsumer, transport)

    def start(self) -> None:
        """
        Register with the client's connection, which asks for the first
        chunk.
        """
        self._protocol.on_lost.append(self.stopProducing)
        if self.remaining <= 0:
            self._finish()
            return
        self._consumer.registerProducer(self, False)

    def resumeProducing(self) -> None:
        """
        The connection wants more: read the next chunk.
        """
        if self._reading or self._done or self._fd is None:
            return
        if self.remaining <= 0:
            self._end()
            return
        self._reading = True
        fd, size, offset = self._fd, min(self._chunk_size, self.remaining), self.position
        self._runner(lambda: os.pread(fd, size, offset)).addCallbacks(self._read, self._failed)

    def stopProducing(self) -> None:
        """
        The client left: stop, and close the file (once a read under way
        has returned).
        """
        self._done = True
        if not self._reading:
            self._close()

    def _read(self, data: bytes) -> None:
        self._reading = False
        if self._done:
            self._close()
            return
        if not data:
            self._log.warn(
                "{path} shrank while being sent to {peer}; closing",
                path=self._path,
                peer=self._protocol.peer,
            )
            self._end()
            return
        self.position += len(data)
        self.remaining -= len(data)
        self._consumer.write(data)
        self._protocol.response_sent += len(data)
        if self.remaining <= 0:
            self._end()

    def _failed(self, failure: Failure) -> None:
        self._reading = False
        self._log.error(
            "Cannot read {path} for {peer}: {error}",
            path=self._path,
            peer=self._protocol.peer,
            error=failure.getErrorMessage(),
        )
        self._end()

    def _end(self) -> None:
        """
        The body is complete (or cannot be): close the file and the
        connection.
        """
        if self._done:
            return
        self._consumer.unregisterProducer()
        self._finish()

    def _finish(self) -> None:
        self._done = True
        self._close()
        transport = self._protocol.transport
        assert transport is not None
        transport.loseConnection()

    def _close(self) -> None:
        fd, self._fd = self._fd, None
        if fd is not None:
            os.close(fd)


# Transcoding


@dataclass(frozen=True, slots=True)
class TranscodeRequest:
    """
    A request to hear a file as MP3.

    @ivar bitrate: kbit/s, one of L{TRANSCODE_BITRATES}.
    @ivar start: where to start, in seconds from the file's start.
    """

    bitrate: int
    start: float = 0.0


def _one(query: Mapping[str, list[str]], key: str) -> str | None:
    values = query.get(key)
    if not values:
        return None
    if len(values) > 1:
        raise SelectionError(f"{key} given more than once")
    return values[0].strip()


def parse_transcode(query: Mapping[str, list[str]], duration: float) -> TranscodeRequest | None:
    """
    Read a file request's query: C{bitrate} (kbit/s, one of
    L{TRANSCODE_BITRATES}) asks for MP3, and C{start} (or C{t}) for a
    start that many seconds in.

    @param query: the request's query.
    @param duration: the file's playing time, or 0 when unknown.
    @return: the transcode asked for, or C{None} for the file as it is.
    @raise SelectionError: for a value that makes no sense, or a start
        without a bitrate.
    """
    bitrate_text = _one(query, "bitrate")
    start_text = _one(query, "start")
    t_text = _one(query, "t")
    if start_text is not None and t_text is not None:
        raise SelectionError("give start or t, not both")
    if start_text is None:
        start_text = t_text
    if bitrate_text is None:
        if start_text is not None:
            raise SelectionError("start needs a bitrate (the file itself is sent whole)")
        return None
    known = ", ".join(str(rate) for rate in TRANSCODE_BITRATES)
    if not (bitrate_text.isascii() and bitrate_text.isdigit()) or len(bitrate_text) > 4:
        raise SelectionError(f"bitrate must be one of {known} (kbit/s), not {bitrate_text!r}")
    bitrate = int(bitrate_text)
    if bitrate not in TRANSCODE_BITRATES:
        raise SelectionError(f"bitrate must be one of {known} (kbit/s), not {bitrate}")
    start = 0.0
    if start_text is not None:
        if _SECONDS.fullmatch(start_text) is None:
            raise SelectionError(f"start must be seconds, such as 90 or 90.5, not {start_text!r}")
        start = float(start_text)
        if not math.isfinite(start) or (duration > 0 and start >= duration):
            raise SelectionError(f"start {start_text} is past the end ({duration:.1f} s)")
    return TranscodeRequest(bitrate, start)


def transcode_arguments(ffmpeg: str, path: str, wanted: TranscodeRequest) -> list[str]:
    """
    ffmpeg's command line to decode a file from C{wanted.start} seconds
    (seeking before decoding) and write MP3 at C{wanted.bitrate} kbit/s
    to its standard output: the first audio stream, at an MPEG-1 sample
    rate, mono or stereo, with no tags and no Xing header.
    """
    arguments = [ffmpeg, "-hide_banner", "-nostdin", "-loglevel", "error"]
    if wanted.start > 0:
        arguments += ["-ss", f"{wanted.start:.3f}"]
    return [
        *arguments,
        "-i",
        "file:" + path,
        "-map",
        "0:a:0",
        "-map_metadata",
        "-1",
        "-af",
        "aformat=sample_rates=44100|48000|32000:channel_layouts=stereo|mono",
        *mp3_output(wanted.bitrate),
        "pipe:1",
    ]


@implementer(IPushProducer)
class Transcode(ProcessProtocol):
    """
    One file transcoded for one client by an ffmpeg child process.

    The response head is written with ffmpeg's first output, so a file
    ffmpeg cannot read is answered with an error instead.  While the
    client's connection is full, ffmpeg's output is not read (the process
    transport is paused), so ffmpeg blocks; when the client leaves,
    ffmpeg is killed.

    @ivar protocol: the client's connection.
    @ivar pid: ffmpeg's process id, once it runs.
    @ivar sent_head: whether the response head was written.
    @ivar ended: whether ffmpeg has exited.
    """

    _log = Logger()

    def __init__(
        self,
        protocol: RadioProtocol,
        request: Request,
        item: Item,
        wanted: TranscodeRequest,
        on_end: Callable[[Transcode], None],
    ) -> None:
        """
        @param protocol: the client's connection.
        @param request: its request.
        @param item: the file transcoded.
        @param wanted: how it is transcoded.
        @param on_end: called with this transcode once ffmpeg has exited.
        """
        self.protocol = protocol
        self._request = request
        self.item = item
        self.wanted = wanted
        self._on_end = on_end
        self._errors = bytearray()
        self.pid: int | None = None
        self.sent_head = False
        self.ended = False
        self._gone = False

    def spawn(self, reactor: IReactorProcess, ffmpeg: str, path: str) -> None:
        """
        Start ffmpeg on the file's real C{path}.
        """
        process = reactor.spawnProcess(
            self,
            ffmpeg,
            transcode_arguments(ffmpeg, path, self.wanted),
            env=None,
            childFDs={0: "w", 1: "r", 2: "r"},
        )
        self.pid = process.pid

    # ProcessProtocol

    def connectionMade(self) -> None:
        """
        ffmpeg started: follow the client's connection.
        """
        assert self.transport is not None
        self.transport.closeStdin()
        self.protocol.on_lost.append(self.stopProducing)
        transport = self.protocol.transport
        if transport is None or self._gone:
            self.stopProducing()
            return
        cast(IConsumer, transport).registerProducer(self, True)

    def outReceived(self, data: bytes) -> None:
        """
        Send what ffmpeg wrote, after the response head.
        """
        transport = self.protocol.transport
        if self._gone or transport is None:
            return
        if not self.sent_head:
            self.sent_head = True
            self.protocol.response_status = 200
            headers = [
                ("Server", SERVER),
                ("Connection", "Close"),
                ("Content-Type", "audio/mpeg"),
                ("Accept-Ranges", "none"),
                *_NO_CACHE,
                *_CORS,
            ]
            transport.write(build_response_head(200, headers))
        transport.write(data)
        self.protocol.response_sent += len(data)

    def errReceived(self, data: bytes) -> None:
        """
        Keep the start of what ffmpeg complains about, for the log.
        """
        if len(self._errors) < 4096:
            self._errors += data[: 4096 - len(self._errors)]

    def processEnded(self, reason: Failure) -> None:
        """
        ffmpeg is gone: end the response (or answer with an error when it
        wrote nothing), and free its place.
        """
        self.ended = True
        self._on_end(self)
        if self._gone:
            return
        self._gone = True
        transport = self.protocol.transport
        assert transport is not None
        cast(IConsumer, transport).unregisterProducer()
        lines = bytes(self._errors).decode("utf-8", "replace").strip().splitlines()
        if not self.sent_head:
            self._log.error(
                "Cannot transcode {path} for {peer}: {stderr}",
                path=self.item.track.path,
                peer=self.protocol.peer,
                stderr=lines[-1] if lines else reason.getErrorMessage(),
            )
            self.protocol.refuse(500, "Cannot transcode the file", self._request)
            return
        if lines:
            self._log.warn(
                "Transcoding {path} for {peer} ended: {stderr}",
                path=self.item.track.path,
                peer=self.protocol.peer,
                stderr=lines[-1],
            )
        transport.loseConnection()

    # IPushProducer, for the client's connection

    def pauseProducing(self) -> None:
        """
        The client's connection is full: stop reading ffmpeg's output.
        """
        if self.transport is not None and not self.ended:
            cast(IPushProducer, self.transport).pauseProducing()

    def resumeProducing(self) -> None:
        """
        The client reads again: read ffmpeg's output again.
        """
        if self.transport is not None and not self.ended:
            cast(IPushProducer, self.transport).resumeProducing()

    def stopProducing(self) -> None:
        """
        The client left (or the station stops): kill ffmpeg and close its
        pipes.
        """
        self._gone = True
        if self.transport is None or self.ended:
            return
        try:
            self.transport.signalProcess("KILL")
        except ProcessExitedAlready:
            pass
        self.transport.loseConnection()


# The routes


class OnDemand:
    """
    Serves the catalogue at L{LIBRARY_PATH} and its files under
    L{FILES_PREFIX}.

    Constructing it registers both routes with the factory.

    @ivar catalogue: the files offered.
    @ivar transcodes: the transcodes running.
    @ivar max_transcodes: the most transcodes running at once.
    """

    _log = Logger()

    def __init__(
        self,
        reactor: IReactorProcess,
        runner: Runner,
        factory: RadioFactory,
        ffmpeg: str | None,
        libraries: Callable[[], Iterable[Library]] | None = None,
        max_transcodes: int = MAX_TRANSCODES,
    ) -> None:
        """
        @param reactor: starts ffmpeg.
        @param runner: opens and reads files off the reactor thread.
        @param factory: the station's server factory, to serve from.
        @param ffmpeg: the ffmpeg executable, or C{None} when there is
            none (transcodes are then refused with 503).
        @param libraries: gives the libraries to offer; by default those
            of the factory's mounts (L{mount_libraries}).
        @param max_transcodes: the most transcodes running at once.
        """
        self._reactor = reactor
        self._runner = runner
        self._ffmpeg = ffmpeg
        self.catalogue = Catalogue(libraries or partial(mount_libraries, factory.mounts), runner)
        self.transcodes: set[Transcode] = set()
        self.max_transcodes = max_transcodes
        self._starting = 0
        factory.routes[LIBRARY_PATH] = self.serve_listing
        factory.prefix_routes[FILES_PREFIX] = self.serve_file

    def close(self) -> None:
        """
        Stop every transcode and close its client's connection (the
        station is stopping).
        """
        for transcode in list(self.transcodes):
            transcode.stopProducing()
            if transcode.protocol.transport is not None:
                transcode.protocol.transport.loseConnection()

    # The listing

    def serve_listing(self, protocol: RadioProtocol, request: Request, body: bytes) -> None:
        """
        The route for L{LIBRARY_PATH}: a page of the catalogue as JSON;
        400 with a JSON error for a query that makes no sense.
        """
        if request.method not in ("GET", "HEAD"):
            protocol.refuse(405, "Method Not Allowed", request)
            return
        head_only = request.method == "HEAD"
        try:
            selection = parse_selection(request.query)
        except SelectionError as error:
            self._bad_query(protocol, request, str(error))
            return
        left = _departure(protocol)

        def answer(items: list[Item]) -> None:
            if left():
                return
            total, page = select(items, selection)
            protocol.reply(
                200,
                [("Content-Type", _JSON), *_NO_CACHE, *_CORS],
                render_listing(total, selection, page),
                head_only=head_only,
            )

        def failed(failure: Failure) -> None:
            self._log.failure("Cannot list the library", failure)
            if not left():
                protocol.refuse(500, "Cannot list the library", request)

        self.catalogue.items().addCallbacks(answer, failed)

    def _bad_query(self, protocol: RadioProtocol, request: Request, message: str) -> None:
        protocol.radio.refused += 1
        self._log.warn(
            "Refused {method} {path} from {peer}: 400 {reason}",
            method=request.method,
            path=mask_target(request.target),
            peer=protocol.peer,
            reason=message,
        )
        protocol.reply(
            400,
            [("Content-Type", _JSON), *_CORS],
            render_error(message),
            head_only=request.method == "HEAD",
        )

    # One file

    def _not_found(self, protocol: RadioProtocol, request: Request, why: str) -> None:
        """
        Answer 404, logging why in one line with the peer.
        """
        protocol.radio.refused += 1
        self._log.warn(
            "Refused {method} {path} from {peer}: 404 {reason}",
            method=request.method,
            path=mask_target(request.target),
            peer=protocol.peer,
            reason=why,
        )
        protocol.reply(
            404,
            [("Content-Type", _TEXT)],
            b"404 File Not Found\n",
            head_only=request.method == "HEAD",
        )

    def serve_file(self, protocol: RadioProtocol, request: Request, body: bytes) -> None:
        """
        The route for L{FILES_PREFIX}: one file of the catalogue by its
        id, as it is or transcoded.
        """
        if request.method not in ("GET", "HEAD"):
            protocol.refuse(405, "Method Not Allowed", request)
            return
        identifier = request.path[len(FILES_PREFIX) :]
        item = self.catalogue.get(identifier)
        if item is None:
            self._not_found(protocol, request, "no such file in the library")
            return
        try:
            wanted = parse_transcode(request.query, item.track.duration)
        except SelectionError as error:
            self._bad_query(protocol, request, str(error))
            return
        if wanted is not None:
            self._transcode(protocol, request, item, wanted)
            return
        left = _departure(protocol)
        opening = self._runner(lambda: open_inside(item.track.path, item.root))
        opening.addCallbacks(
            lambda opened: self._send(protocol, request, item, opened, left()),
            lambda failure: self._cannot_open(protocol, request, item, failure, left()),
        )

    def _cannot_open(
        self,
        protocol: RadioProtocol,
        request: Request,
        item: Item,
        failure: Failure,
        lost: bool,
    ) -> None:
        if lost:
            return
        if failure.check(OutsideLibrary):
            self._not_found(
                protocol,
                request,
                f"{item.track.path} leads outside the library, to {failure.value}",
            )
        elif failure.check(FileNotFoundError, NotADirectoryError, IsADirectoryError):
            self._not_found(protocol, request, f"{item.track.path} is gone")
        else:
            self._log.error(
                "Cannot open {path} for {peer}: {error}",
                path=item.track.path,
                peer=protocol.peer,
                error=failure.getErrorMessage(),
            )
            protocol.refuse(500, "Cannot read the file", request)

    def _send(
        self,
        protocol: RadioProtocol,
        request: Request,
        item: Item,
        opened: OpenFile,
        lost: bool,
    ) -> None:
        """
        Answer with the open file: all of it, one range of it, 304 or 416.
        """
        if lost:
            os.close(opened.fd)
            return
        size = opened.size
        headers = [
            ("Content-Type", item.format.content_type),
            ("Accept-Ranges", "bytes"),
            ("ETag", opened.etag),
            ("Last-Modified", opened.last_modified),
            ("Content-Disposition", _disposition(item.track.path)),
            *_NO_CACHE,
            *_CORS,
        ]
        if etag_matches(request.header("If-None-Match"), opened.etag):
            os.close(opened.fd)
            protocol.reply(304, headers, head_only=True)
            return
        wanted: ByteRange | Unsatisfiable | None = None
        if if_range_allows(request.header("If-Range"), opened.etag, opened.modified):
            wanted = parse_range(request.header("Range"), size)
        if isinstance(wanted, Unsatisfiable):
            os.close(opened.fd)
            protocol.refuse(
                416, "Range Not Satisfiable", request, [("Content-Range", wanted.content_range)]
            )
            return
        status, start, length = 200, 0, size
        if wanted is not None:
            status, start, length = 206, wanted.start, wanted.length
            headers.append(("Content-Range", wanted.content_range))
        headers.append(("Content-Length", str(length)))
        transport = protocol.transport
        assert transport is not None
        transport.write(
            build_response_head(status, [("Server", SERVER), ("Connection", "Close"), *headers])
        )
        protocol.response_status = status
        if request.method == "HEAD":
            os.close(opened.fd)
            transport.loseConnection()
            return
        FileBody(opened, start, length, protocol, self._runner).start()

    def _transcode(
        self,
        protocol: RadioProtocol,
        request: Request,
        item: Item,
        wanted: TranscodeRequest,
    ) -> None:
        """
        Answer with the file transcoded by ffmpeg, when there is an ffmpeg
        and room for one more transcode.
        """
        ffmpeg = self._ffmpeg
        if ffmpeg is None:
            protocol.refuse(503, "Transcoding unavailable: ffmpeg not found", request)
            return
        if len(self.transcodes) + self._starting >= self.max_transcodes:
            protocol.refuse(
                503, "Too many files being transcoded", request, [("Retry-After", "10")]
            )
            return
        if request.method == "HEAD":
            protocol.reply(
                200,
                [("Content-Type", "audio/mpeg"), ("Accept-Ranges", "none"), *_NO_CACHE, *_CORS],
                head_only=True,
            )
            return
        left = _departure(protocol)
        self._starting += 1

        def start(path: str) -> None:
            self._starting -= 1
            if left():
                return
            transcode = Transcode(protocol, request, item, wanted, self.transcodes.discard)
            self.transcodes.add(transcode)
            transcode.spawn(self._reactor, ffmpeg, path)
            self._log.info(
                "Transcoding {path} at {bitrate} kbit/s from {start} s for {peer}",
                path=item.track.path,
                bitrate=wanted.bitrate,
                start=wanted.start,
                peer=protocol.peer,
            )

        def failed(failure: Failure) -> None:
            self._starting -= 1
            self._cannot_open(protocol, request, item, failure, left())

        self._runner(lambda: real_path_inside(item.track.path, item.root)).addCallbacks(
            start, failed
        )
