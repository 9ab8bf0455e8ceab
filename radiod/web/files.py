# -*- test-case-name: tests.web.test_files,tests.web.test_files_e2e -*-
"""
On-demand files: the library's listing and its files, as resources of the
station's site, served as they are or transcoded to MP3 on the fly.

C{GET /library} lists the catalogue (L{radiod.library.catalogue}) as JSON, a
page at a time.  C{GET /files/<id>} sends one file's bytes as they are on
disk, with validators and byte ranges, read in a thread
(L{radiod.web.filebody}); with C{?bitrate=N} the file goes through ffmpeg
instead (L{radiod.web.transcode}).

No request names a path: an id is looked up among the files the last
library scan listed, and a file is opened only after its real path (all
symbolic links resolved) is found under its library's real folder
(L{radiod.web.confine}).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Mapping
from functools import partial

from twisted.internet.interfaces import IReactorProcess
from twisted.logger import Logger
from twisted.python.failure import Failure
from twisted.web.resource import IResource
from twisted.web.server import NOT_DONE_YET

from radiod.broadcast.mount import Mount
from radiod.interfaces import Runner
from radiod.library.catalogue import (
    FILES_PREFIX,
    LIBRARY_PATH,
    Catalogue,
    Item,
    SelectionError,
    parse_selection,
    render_error,
    render_listing,
    select,
)
from radiod.library.library import Library
from radiod.library.programme import Programme
from radiod.web.confine import OpenFile, OutsideLibrary, open_inside, real_path_inside
from radiod.web.filebody import LibraryFile
from radiod.web.site import Refusal, StationRequest, StationResource, StationSite, refuse
from radiod.web.transcode import Transcode, TranscodeRequest, parse_transcode
from radiod.wire.accesslog import mask_target
from radiod.wire.server import RadioFactory

__all__ = [
    "MAX_TRANSCODES",
    "FileResource",
    "Files",
    "Listing",
    "Missing",
    "OnDemand",
    "departure",
    "mount_libraries",
]

MAX_TRANSCODES = 4
"""
The most files transcoded at once by one process; more are refused with
503.
"""

_JSON = "application/json; charset=utf-8"


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


def departure(request: StationRequest) -> Callable[[], bool]:
    """
    Tells, when asked later, whether the client has left since now (for
    answers that wait on a thread), as C{request.notifyFinish} says.
    """
    gone: list[Failure] = []
    request.notifyFinish().addErrback(gone.append)
    return lambda: bool(gone)


def _send(request: StationRequest, body: bytes) -> None:
    """
    Send a whole body (none for C{HEAD}) after the head set so far, and
    finish the response.
    """
    request.setHeader("Content-Length", str(len(body)))
    request.write(body)
    request.finish()


class OnDemand:
    """
    Serves the catalogue at L{LIBRARY_PATH} and its files under
    L{FILES_PREFIX}.

    Constructing it puts both on the station's site (L{Listing} and
    L{Files}).

    @ivar factory: the station's server factory.
    @ivar catalogue: the files offered.
    @ivar ffmpeg: the ffmpeg executable, or C{None} when there is none
        (transcodes are then refused with 503).
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
        @param factory: the station's server factory, whose site serves
            the files.
        @param ffmpeg: the ffmpeg executable, or C{None} when there is
            none.
        @param libraries: gives the libraries to offer; by default those
            of the factory's mounts (L{mount_libraries}).
        @param max_transcodes: the most transcodes running at once.
        """
        self._reactor = reactor
        self._runner = runner
        self.factory = factory
        self.ffmpeg = ffmpeg
        self.catalogue = Catalogue(libraries or partial(mount_libraries, factory.mounts), runner)
        self.transcodes: set[Transcode] = set()
        self.max_transcodes = max_transcodes
        self._starting = 0
        site = factory.site
        assert isinstance(site, StationSite)
        site.resource.putChild(LIBRARY_PATH.strip("/").encode(), Listing(self))
        site.resource.putChild(FILES_PREFIX.strip("/").encode(), Files(self))

    def close(self) -> None:
        """
        Stop every transcode and close its client's connection (the
        station is stopping).
        """
        for transcode in list(self.transcodes):
            transcode.stopProducing()
            transcode.request.loseConnection()

    # Refusals

    def bad_query(self, request: StationRequest, message: str) -> bytes:
        """
        Refuse a query that makes no sense: C{400} with a one-line JSON
        error, logged with the peer.

        @return: the body.
        """
        self._refused(request, 400, message)
        request.setResponseCode(400)
        request.setHeader("Content-Type", _JSON)
        request.setHeader("Access-Control-Allow-Origin", "*")
        return render_error(message)

    def not_found(self, request: StationRequest, why: str) -> bytes:
        """
        Refuse a file that is not there to serve: C{404}, logging why in
        one line with the peer.

        @return: the body.
        """
        self._refused(request, 404, why)
        request.setResponseCode(404)
        request.setHeader("Content-Type", "text/plain; charset=utf-8")
        return b"404 File Not Found\n"

    def cannot_open(self, request: StationRequest, item: Item, failure: Failure) -> bytes:
        """
        Refuse a file that cannot be opened: C{404} when it is gone or
        leads outside its library, C{500} otherwise.

        @return: the body.
        """
        path = item.track.path
        if failure.check(OutsideLibrary):
            why = f"{path} leads outside the library, to {failure.value}"
            return self.not_found(request, why)
        if failure.check(FileNotFoundError, NotADirectoryError, IsADirectoryError):
            return self.not_found(request, f"{path} is gone")
        self._log.error(
            "Cannot open {path} for {peer}: {error}",
            path=path,
            peer=request.peer_name,
            error=failure.getErrorMessage(),
        )
        return refuse(request, self.factory, 500, "Cannot read the file")

    def _refused(self, request: StationRequest, status: int, reason: str) -> None:
        self.factory.refused += 1
        self._log.warn(
            "Refused {method} {path} from {peer}: {status} {reason}",
            method=request.method.decode("latin-1"),
            path=mask_target(request.uri.decode("latin-1")),
            peer=request.peer_name,
            status=status,
            reason=reason,
        )

    # Answers

    def _crashed(self, failure: Failure, request: StationRequest, left: Callable[[], bool]) -> None:
        """
        An answer failed half-way: as twisted.web does for a resource that
        raises, log it and answer C{500} (unless the client has left).
        """
        if left():
            self._log.failure("Cannot answer {peer}", failure, peer=request.peer_name)
        else:
            request.processingFailed(failure)

    def listing(self, request: StationRequest) -> bytes | int:
        """
        A page of the catalogue as JSON, once the catalogue is built.
        """
        try:
            selection = parse_selection(request.text_args())
        except SelectionError as error:
            return self.bad_query(request, str(error))
        left = departure(request)

        def answer(items: list[Item]) -> None:
            if left():
                return
            total, page = select(items, selection)
            request.setHeader("Content-Type", _JSON)
            request.setHeader("Cache-Control", "no-cache")
            request.setHeader("Access-Control-Allow-Origin", "*")
            _send(request, render_listing(total, selection, page))

        def failed(failure: Failure) -> None:
            self._log.failure("Cannot list the library", failure)
            if not left():
                _send(request, refuse(request, self.factory, 500, "Cannot list the library"))

        building = self.catalogue.items().addCallbacks(answer, failed)
        building.addErrback(self._crashed, request, left)
        return NOT_DONE_YET

    def send_file(self, request: StationRequest, item: Item) -> int:
        """
        The file as it is, once opened in a thread (L{LibraryFile}).
        """
        left = departure(request)

        def opened(file: OpenFile) -> None:
            if left():
                os.close(file.fd)
                return
            content_type = item.format.content_type
            request.render(
                LibraryFile(self.factory, file, item.track.path, content_type, self._runner)
            )

        def failed(failure: Failure) -> None:
            if not left():
                _send(request, self.cannot_open(request, item, failure))

        opening = self._runner(partial(open_inside, item.track.path, item.root))
        opening.addCallbacks(opened, failed).addErrback(self._crashed, request, left)
        return NOT_DONE_YET

    def transcode(
        self, request: StationRequest, item: Item, wanted: TranscodeRequest
    ) -> bytes | int:
        """
        The file transcoded by ffmpeg, when there is an ffmpeg and room
        for one more transcode.
        """
        ffmpeg = self.ffmpeg
        if ffmpeg is None:
            return refuse(request, self.factory, 503, "Transcoding unavailable: ffmpeg not found")
        if len(self.transcodes) + self._starting >= self.max_transcodes:
            return refuse(
                request,
                self.factory,
                503,
                "Too many files being transcoded",
                [("Retry-After", "10")],
            )
        if request.method == b"HEAD":
            request.setHeader("Content-Type", "audio/mpeg")
            request.setHeader("Accept-Ranges", "none")
            request.setHeader("Cache-Control", "no-cache")
            request.setHeader("Access-Control-Allow-Origin", "*")
            return b""
        left = departure(request)
        self._starting += 1

        def start(path: str) -> None:
            self._starting -= 1
            if left():
                return
            transcode = Transcode(request, self.factory, item, wanted, self.transcodes.discard)
            self.transcodes.add(transcode)
            transcode.spawn(self._reactor, ffmpeg, path)
            self._log.info(
                "Transcoding {path} at {bitrate} kbit/s from {start} s for {peer}",
                path=item.track.path,
                bitrate=wanted.bitrate,
                start=wanted.start,
                peer=request.peer_name,
            )

        def failed(failure: Failure) -> None:
            self._starting -= 1
            if not left():
                _send(request, self.cannot_open(request, item, failure))

        finding = self._runner(partial(real_path_inside, item.track.path, item.root))
        finding.addCallbacks(start, failed).addErrback(self._crashed, request, left)
        return NOT_DONE_YET


# The resources


class Listing(StationResource):
    """
    L{LIBRARY_PATH}: a page of the catalogue as JSON; C{400} with a JSON
    error for a query that makes no sense.  Nothing is under it.
    """

    def __init__(self, files: OnDemand) -> None:
        super().__init__(files.factory)
        self._files = files

    def render_GET(self, request: StationRequest) -> bytes | int:
        return self._files.listing(request)

    def getChild(self, path: bytes, request: StationRequest) -> IResource:
        return Refusal(self.factory)


class Files(StationResource):
    """
    The files, each by its id under L{FILES_PREFIX}; an id the catalogue
    does not have, or anything after an id, is not found.  Nothing is at
    the prefix itself.
    """

    def __init__(self, files: OnDemand) -> None:
        super().__init__(files.factory)
        self._files = files

    def getChild(self, path: bytes, request: StationRequest) -> IResource:
        item = None if request.postpath else self._files.catalogue.get(path.decode("latin-1"))
        if item is None:
            return Missing(self._files, "no such file in the library")
        return FileResource(self._files, item)

    def render(self, request: StationRequest) -> bytes | int:
        return Refusal(self.factory).render(request)


class FileResource(StationResource):
    """
    One file of the catalogue: as it is, or transcoded when the query asks
    for a C{bitrate}.
    """

    isLeaf = True

    def __init__(self, files: OnDemand, item: Item) -> None:
        super().__init__(files.factory)
        self._files = files
        self.item = item

    def render_GET(self, request: StationRequest) -> bytes | int:
        files, item = self._files, self.item
        try:
            wanted = parse_transcode(request.text_args(), item.track.duration)
        except SelectionError as error:
            return files.bad_query(request, str(error))
        if wanted is not None:
            return files.transcode(request, item, wanted)
        return files.send_file(request, item)


class Missing(StationResource):
    """
    A file the catalogue does not have: C{404}, logged with why.
    """

    isLeaf = True

    def __init__(self, files: OnDemand, why: str) -> None:
        super().__init__(files.factory)
        self._files = files
        self._why = why

    def render_GET(self, request: StationRequest) -> bytes:
        return self._files.not_found(request, self._why)
