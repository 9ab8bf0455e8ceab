# -*- test-case-name: tests.web.test_art -*-
"""
Cover art over HTTP, under L{ART_PATH}.

  - C{GET /art/<id>}: the picture of art id C{<id>} (see
    L{radiod.library.art}) as found, a JPEG, PNG, GIF or WebP file;
  - C{GET /art/<id>?size=N}, C{N} one of L{ART_SIZES}: the picture scaled
    to fit in C{N} by C{N} pixels, as a JPEG file made with Pillow the
    first time it is asked for and kept;
  - C{GET /art/default} (with or without C{size}): the station's default
    picture, the file its C{default_art} key names, shown with tracks
    that have none of their own.

A picture named by its id never changes, so it is sent with
C{ETag: "<id>"} (C{"<id>-<N>"} scaled) and
C{Cache-Control: public, max-age=31536000, immutable}, and a request
whose C{If-None-Match} names it gets C{304} at once.  The default picture
can change (the file, or the key on a reload): it is sent with the ETag of
what it holds now and C{Cache-Control: no-cache}, so clients check it each
time and get C{304} while it is the same.

Only the ids of tracks that the mounts' libraries list are served (their
music and their playlists'); any other id gets C{404}, a size that is not
one of L{ART_SIZES} C{400}, and C{default} without a default picture
C{404}.  The first time an id is asked for, its picture is read again from
a track that has it (its tags, else its folder image), checked against
the id, and kept in the art folder (L{ART_FOLDER} in the cache folder), from
which it is sent from then on; scaled copies are kept beside it.
Without Pillow, a scaled picture is sent as it was found (said once in
the log), and so is one that Pillow cannot read.

Every file operation (reading tags and pictures, writing, Pillow's work,
opening) runs through the runner, and the file is sent by
L{radiod.web.filebody.FileBody}, read in a thread; the reactor never
waits on a file.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any, TypeVar

from twisted.internet.defer import Deferred, succeed
from twisted.logger import Logger
from twisted.python.failure import Failure
from twisted.web import http
from twisted.web.resource import IResource
from twisted.web.server import NOT_DONE_YET

from radiod.audio.track import ART_PATH, DEFAULT_ART
from radiod.broadcast.mount import Mount
from radiod.interfaces import Runner
from radiod.library.art import (
    ART_ID,
    CONTENT_TYPES,
    MAX_PICTURE_SIZE,
    ScalingError,
    ScalingUnavailable,
    identify,
    read_folder_picture,
    scale_picture,
    scaled_path,
    store_picture,
    stored_picture,
)
from radiod.library.library import Library
from radiod.library.programme import Programme
from radiod.library.tags import read_picture
from radiod.web.confine import OpenFile
from radiod.web.filebody import FileBody
from radiod.web.files import departure
from radiod.web.site import Refusal, StationRequest, StationResource, refuse
from radiod.wire.server import RadioFactory

__all__ = [
    "ART_FOLDER",
    "ART_PATH",
    "ART_SIZES",
    "IMMUTABLE",
    "ArtPicture",
    "CoverArt",
    "Scaler",
    "art_libraries",
    "art_url",
    "parse_size",
]

ART_SIZES = (64, 128, 256, 512)
"""
The sizes, in pixels, a picture is scaled to on request.
"""

IMMUTABLE = "public, max-age=31536000, immutable"
"""
The C{Cache-Control} of a picture named by its id.
"""

ART_FOLDER = "art"
"""
The folder of the cache folder where pictures are kept.
"""

Scaler = Callable[[str, str, int], None]
"""
Scales the picture of a file into another file to a size (see
L{scale_picture}); blocks.
"""

_T = TypeVar("_T")


def art_url(path: str, public_url: str) -> str:
    """
    The URL of cover art to give out: C{path} (see
    L{radiod.audio.track.art_path}) under the station's public URL when
    it has one, else the path itself.

    @param path: a path under L{ART_PATH}, or C{""} for no art.
    @param public_url: the station's C{public_url}, or C{""}.
    @return: the URL, or C{""} for no art.
    """
    if not path or not public_url:
        return path
    return public_url.rstrip("/") + path


def art_libraries(mounts: Mapping[str, Mount]) -> list[Library]:
    """
    The libraries the mounts play from: each programme's music, then its
    playlists', in mount order.
    """
    libraries: list[Library] = []
    for mount in mounts.values():
        playlist: object = mount.switch.playlist if mount.switch is not None else None
        if isinstance(playlist, Programme):
            libraries.append(playlist.library)
            libraries.extend(each.library for each in playlist.playlists)
    return libraries


def parse_size(args: Mapping[str, Sequence[str]]) -> int | None:
    """
    The size a request's query asks for.

    @param args: the query's arguments, as text.
    @return: one of L{ART_SIZES}, or C{None} when the query asks for none.
    @raise ValueError: with a short reason, if C{size} is given and is
        not one of them (or is given twice).
    """
    values = args.get("size")
    if values is None:
        return None
    allowed = {str(size): size for size in ART_SIZES}
    if len(values) != 1 or values[0] not in allowed:
        choices = ", ".join(str(size) for size in ART_SIZES)
        raise ValueError(f"size must be one of {choices}")
    return allowed[values[0]]


class _Gone(Exception):
    """
    The picture asked for can no longer be read: no track that had it
    still has it, or the default picture is not a picture.
    """


@dataclass(frozen=True, slots=True)
class _Default:
    """
    The default picture as last read: the file it came from, that file's
    modification time (ns) and size then, its art id, and the file the
    art folder keeps of it.
    """

    source: str
    stamp: tuple[int, int]
    art: str
    stored: str


def _etag(art: str, size: int | None) -> str:
    return f'"{art}-{size}"' if size is not None else f'"{art}"'


def _kept_original(folder: str, art: str, sources: Sequence[str]) -> str:
    """
    The file the art folder keeps of picture C{art}: the one already
    there, else the picture read from the first of C{sources} (audio
    files listed with that art) that still has it, in its tags or as its
    folder image, and kept.  Blocks.

    @raise _Gone: if none of them has it any more.
    """
    stored = stored_picture(folder, art)
    if stored is not None:
        return stored
    for path in sources:
        for read in (read_picture, lambda p: read_folder_picture(os.path.dirname(p))):
            picture = read(path)
            if picture is not None and picture.id == art:
                return store_picture(folder, picture)
    raise _Gone(f"no track has cover art {art} any more")


def _kept_scaled(folder: str, art: str, size: int, original: str, scale: Scaler) -> str:
    """
    The file the art folder keeps of picture C{art} scaled to C{size}:
    the one already there, else one made from C{original}.  Blocks.

    @raise ScalingError: if it cannot be made.
    """
    target = scaled_path(folder, art, size)
    if os.path.isfile(target):
        return target
    scale(original, target, size)
    return target


def _read_default(folder: str, source: str, previous: _Default | None) -> _Default:
    """
    The default picture read from file C{source}, and kept in the art
    folder: as C{previous} when that file has not changed since, else
    read again.  Blocks.

    @raise _Gone: if the file is not a picture.
    @raise OSError: if it cannot be read.
    """
    status = os.stat(source)
    stamp = (status.st_mtime_ns, status.st_size)
    if (
        previous is not None
        and (previous.source, previous.stamp) == (source, stamp)
        and os.path.isfile(previous.stored)
    ):
        return previous
    with open(source, "rb") as f:
        data = f.read(MAX_PICTURE_SIZE + 1)
    picture = identify(data, source)
    if picture is None:
        raise _Gone(f"the default picture {source} is not a picture")
    stored = stored_picture(folder, picture.id) or store_picture(folder, picture)
    return _Default(source, stamp, picture.id, stored)


def _open(path: str, etag: str) -> OpenFile:
    """
    Open a file of the art folder for sending.  Blocks.
    """
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))
    try:
        status = os.fstat(fd)
    except BaseException:
        os.close(fd)
        raise
    return OpenFile(fd, path, status.st_size, status.st_mtime, etag)


def _finish(request: StationRequest, body: bytes) -> None:
    """
    Send a whole body (none for C{HEAD}) and finish the response.
    """
    request.setHeader("Content-Length", str(len(body)))
    request.write(body)
    request.finish()


class CoverArt(StationResource):
    """
    The resource at L{ART_PATH}: each picture below it (L{ArtPicture}),
    nothing at the path itself.

    @ivar folder: the art folder, created when first written to.
    """

    _log = Logger()

    def __init__(
        self,
        factory: RadioFactory,
        runner: Runner,
        cache: str,
        libraries: Callable[[], Iterable[Library]] | None = None,
        scale: Scaler = scale_picture,
    ) -> None:
        """
        @param factory: the station's server factory (its mounts, its
            configuration's C{default_art}, its refusals).
        @param runner: runs every file operation off the reactor thread.
        @param cache: the station's cache folder, whose L{ART_FOLDER}
            folder keeps the pictures.
        @param libraries: gives the libraries whose tracks' art is served;
            by default those the factory's mounts play (L{art_libraries}).
        @param scale: scales pictures (L{scale_picture}).
        """
        super().__init__(factory)
        self.folder = os.path.join(cache, ART_FOLDER)
        self._runner = runner
        self._libraries = libraries or partial(art_libraries, factory.mounts)
        self._scale = scale
        self._making: dict[tuple[str, int], list[Deferred[Any]]] = {}
        self._default: _Default | None = None
        self._unscalable: set[str] = set()
        self._no_pillow = False

    def getChild(self, path: bytes, request: StationRequest) -> IResource:
        """
        The picture named by C{path}; nothing is below a picture.
        """
        if request.postpath:
            return Refusal(self.factory)
        return ArtPicture(self, path.decode("latin-1"))

    def render(self, request: StationRequest) -> bytes | int:
        """
        C{404}: nothing is at L{ART_PATH} itself.
        """
        return Refusal(self.factory).render(request)

    def sources(self, art: str) -> list[str]:
        """
        The audio files listed with art id C{art} by the libraries, in
        order: where its picture can be read; empty for an id no track
        has (or that is no art id).
        """
        if ART_ID.fullmatch(art) is None:
            return []
        found: dict[str, None] = {}
        for library in self._libraries():
            for path in library.art_paths(art):
                found[path] = None
        return list(found)

    # Answers

    def answer(self, request: StationRequest, name: str) -> bytes | int:
        """
        Answer a C{GET} or C{HEAD} of the picture C{name} (an art id, or
        L{DEFAULT_ART}).
        """
        try:
            size = parse_size(request.text_args())
        except ValueError as error:
            return refuse(request, self.factory, 400, str(error))
        if name == DEFAULT_ART:
            return self._answer_default(request, size)
        sources = self.sources(name)
        if not sources:
            return refuse(request, self.factory, 404, "No such cover art")
        etag = _etag(name, size)
        if self._not_modified(request, etag, IMMUTABLE):
            return NOT_DONE_YET
        left = departure(request)
        original = self._shared((name, 0), partial(_kept_original, self.folder, name, sources))
        self._deliver(request, left, original, name, size, IMMUTABLE)
        return NOT_DONE_YET

    def _answer_default(self, request: StationRequest, size: int | None) -> bytes | int:
        """
        Answer a request for the default picture, once it is read.
        """
        source = self.factory.config.default_art
        if not source:
            return refuse(request, self.factory, 404, "No default cover art is configured")
        left = departure(request)
        reading = self._runner(partial(_read_default, self.folder, source, self._default))

        def read(default: _Default) -> None:
            self._default = default
            if left():
                return
            if self._not_modified(request, _etag(default.art, size), "no-cache"):
                return
            self._deliver(request, left, succeed(default.stored), default.art, size, "no-cache")

        reading.addCallbacks(read, partial(self._failed, request, left, "the default picture"))
        reading.addErrback(self._crashed, request, left)
        return NOT_DONE_YET

    def _not_modified(self, request: StationRequest, etag: str, cache: str) -> bool:
        """
        Answer C{304} and return C{True} when the request's
        C{If-None-Match} names C{etag}; else only set the ETag.
        """
        if request.setETag(etag.encode("ascii")) is not http.CACHED:
            return False
        self._set_headers(request, cache)
        # Finished here, with no Content-Length: a 304 has no body.
        request.finish()
        return True

    def _deliver(
        self,
        request: StationRequest,
        left: Callable[[], bool],
        original: Deferred[str],
        art: str,
        size: int | None,
        cache: str,
    ) -> None:
        """
        Send the picture once its original is kept (C{original} fires
        with its file), scaled when a size is asked for.
        """
        etag = _etag(art, size)

        def scale(path: str) -> Deferred[str]:
            if size is None or left():
                return succeed(path)
            return self._scaled(art, size, path)

        def open_file(path: str) -> Deferred[OpenFile | None]:
            if left():
                return succeed(None)
            return self._runner(partial(_open, path, etag))

        def send(opened: OpenFile | None) -> None:
            if opened is None:
                return
            if left():
                os.close(opened.fd)
                return
            self._set_headers(request, cache)
            kind = os.path.splitext(opened.path)[1].lstrip(".")
            request.setHeader("Content-Type", CONTENT_TYPES.get(kind, "application/octet-stream"))
            request.setHeader("Content-Length", str(opened.size))
            if request.method == b"HEAD":
                os.close(opened.fd)
                request.finish()
                return
            FileBody(request, opened, 0, opened.size, self._runner).start()

        sending = original.addCallback(scale).addCallback(open_file)
        sending.addCallbacks(send, partial(self._failed, request, left, f"cover art {art}"))
        sending.addErrback(self._crashed, request, left)

    def _set_headers(self, request: StationRequest, cache: str) -> None:
        """
        The headers of every answer with or about a picture.
        """
        request.setHeader("Cache-Control", cache)
        request.setHeader("Access-Control-Allow-Origin", "*")
        request.setHeader("X-Content-Type-Options", "nosniff")

    def _failed(
        self, request: StationRequest, left: Callable[[], bool], what: str, failure: Failure
    ) -> None:
        """
        The picture cannot be sent: C{404} when it is gone, else C{500};
        logged either way.
        """
        request.etag = None
        if failure.check(_Gone, FileNotFoundError):
            self._log.warn(
                "Cannot send {what} to {peer}: {reason}",
                what=what,
                peer=request.peer_name,
                reason=failure.getErrorMessage(),
            )
            status, reason = 404, "No such cover art"
        else:
            self._log.failure(
                "Cannot send {what} to {peer}", failure, what=what, peer=request.peer_name
            )
            status, reason = 500, "Cannot read the cover art"
        if not left():
            _finish(request, refuse(request, self.factory, status, reason))

    def _crashed(self, failure: Failure, request: StationRequest, left: Callable[[], bool]) -> None:
        """
        An answer failed half-way: log it, and answer C{500} unless the
        client has left.
        """
        if left():
            self._log.failure("Cannot answer {peer}", failure, peer=request.peer_name)
        else:
            request.processingFailed(failure)

    # Making files, once at a time

    def _shared(self, key: tuple[str, int], work: Callable[[], _T]) -> Deferred[_T]:
        """
        Run C{work} through the runner, unless the same work (by C{key})
        is under way: then wait for its outcome, so that a file is made
        once however many ask for it at the same time.
        """
        waiting = self._making.get(key)
        if waiting is not None:
            waiter: Deferred[_T] = Deferred()
            waiting.append(waiter)
            return waiter
        waiting = self._making[key] = []

        def done(result: _T | Failure) -> _T | Failure:
            del self._making[key]
            for each in waiting:
                if isinstance(result, Failure):
                    each.errback(result)
                else:
                    each.callback(result)
            return result

        return self._runner(work).addBoth(done)

    def _scaled(self, art: str, size: int, original: str) -> Deferred[str]:
        """
        The file of picture C{art} scaled to C{size}, made when needed;
        C{original} when it cannot be made (no Pillow, or a picture Pillow
        cannot read), which is logged once.
        """
        if self._no_pillow or art in self._unscalable:
            return succeed(original)
        work = partial(_kept_scaled, self.folder, art, size, original, self._scale)

        def unscaled(failure: Failure) -> str:
            failure.trap(ScalingError)
            if failure.check(ScalingUnavailable):
                if not self._no_pillow:
                    self._log.warn(
                        "Pillow is not installed: cover art is sent at its own size, not scaled"
                    )
                self._no_pillow = True
            else:
                self._unscalable.add(art)
                self._log.warn(
                    "Cannot scale cover art {art}, sent at its own size: {reason}",
                    art=art,
                    reason=failure.getErrorMessage(),
                )
            return original

        return self._shared((art, size), work).addErrback(unscaled)


class ArtPicture(StationResource):
    """
    One picture under L{ART_PATH}, by its art id or L{DEFAULT_ART}.
    """

    isLeaf = True

    def __init__(self, art: CoverArt, name: str) -> None:
        super().__init__(art.factory)
        self._art = art
        self._name = name

    def render_GET(self, request: StationRequest) -> bytes | int:
        return self._art.answer(request, self._name)

    render_HEAD = render_GET
