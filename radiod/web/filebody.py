# -*- test-case-name: tests.web.test_files -*-
"""
One library file's bytes as the answer to one request: validators, byte
ranges, and reads in a thread.

L{LibraryFile} is twisted.web's L{static.File} over a file already opened
(in a thread, by L{radiod.web.confine.open_inside}): C{If-None-Match} and
C{If-Modified-Since} are answered by the request's own C{setETag} and
C{setLastModified} (C{304}), and a C{Range} header is read by
L{static.File}'s parser and answered by its C{206} and C{416} machinery.
What it adds: C{If-Range}, which twisted.web does not read (a range is
honoured only while the client's validator is current); one range at a
time (ranges that overlap or touch are sent as the one range they make,
and separate ranges get the whole file, as a server may always ignore
C{Range}, rather than a C{multipart/byteranges} body); and a body,
L{FileBody}, that reads the file in a thread, one bounded chunk at a time
and only while the client's connection takes more, where L{static.File}'s
producers read on the reactor thread.
"""

from __future__ import annotations

import email.utils
import math
import os
import re
from functools import partial
from urllib.parse import quote

from twisted.internet.interfaces import IPushProducer
from twisted.logger import Logger
from twisted.python.failure import Failure
from twisted.web import http, static
from twisted.web.server import NOT_DONE_YET
from zope.interface import implementer

from radiod.interfaces import Runner
from radiod.web.confine import OpenFile
from radiod.web.site import StationRequest, refuse
from radiod.wire.server import RadioFactory

__all__ = [
    "CHUNK_SIZE",
    "FileBody",
    "LibraryFile",
    "RangeNotSatisfiable",
    "if_range_allows",
]

CHUNK_SIZE = 64 * 1024
"""
The most bytes read from a file at once.
"""

_SAFE_NAME = re.compile(r"[^A-Za-z0-9 !#$&'()*+,.:;<=>?@\[\]^_`{|}~-]")


class RangeNotSatisfiable(Exception):
    """
    A well-formed C{Range} header none of whose ranges overlaps the file:
    the answer is C{416 Range Not Satisfiable}.
    """


def if_range_allows(if_range: str | None, etag: str, modified: float) -> bool:
    """
    Whether a C{Range} header may be honoured given the request's
    C{If-Range} (which twisted.web does not read): when there is none,
    when it is our entity tag (compared strongly: a weak tag never
    matches), or when it is an HTTP date equal to our C{Last-Modified}.
    Otherwise the whole file is sent.

    @param if_range: the header's value, or C{None} when absent.
    @param etag: our entity tag, quoted.
    @param modified: the time our C{Last-Modified} names, in seconds
        since the epoch.
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


class LibraryFile(static.File):
    """
    An opened library file, answering one C{GET} or C{HEAD}: all of it,
    one range of it, C{304} or C{416}.

    It is rendered once the file is open, and owns the open file from
    then on: it closes it, or hands it to the L{FileBody} that sends it.
    """

    def __init__(
        self,
        factory: RadioFactory,
        opened: OpenFile,
        name: str,
        content_type: str,
        runner: Runner,
    ) -> None:
        """
        @param factory: the station's server factory (for refusals).
        @param opened: the file.
        @param name: the file's path as its library lists it, which names
            it to the client.
        @param content_type: its C{Content-Type}.
        @param runner: reads it off the reactor thread.
        """
        super().__init__(opened.path)
        self.type = content_type
        self.encoding = None
        self.factory = factory
        self.opened = opened
        self._name = name
        self._runner = runner

    def getFileSize(self) -> int:
        """
        The file's size when it was opened.
        """
        return self.opened.size

    def _parseRangeHeader(self, range: bytes) -> list[tuple[int | None, int | None]]:
        """
        L{static.File}'s, except that the unit is read in any case (RFC
        9110, section 14.1).
        """
        unit, equals, ranges = range.partition(b"=")
        parsed: list[tuple[int | None, int | None]] = super()._parseRangeHeader(
            unit.lower() + equals + ranges
        )
        return parsed

    def _rangeToOffsetAndSize(self, start: int | None, end: int | None) -> tuple[int, int]:
        """
        L{static.File}'s, except that a suffix range longer than the file
        stands for all of it.
        """
        if start is None and end is not None:
            start, end = max(0, self.getFileSize() - end), None
        offset, size = super()._rangeToOffsetAndSize(start, end)
        return offset, size

    def byte_range(self, request: StationRequest) -> tuple[int, int] | None:
        """
        The one range of the file to send, from the request's C{Range} and
        C{If-Range} headers.

        @return: the first and last byte's offsets; C{None} to send the
            whole file (no C{Range} header, one that is malformed or not in
            bytes, separate ranges, or an C{If-Range} that is not current).
        @raise RangeNotSatisfiable: if no range of a well-formed header
            overlaps the file.
        """
        header = request.getHeader(b"range")
        opened = self.opened
        if header is None or not if_range_allows(
            request.header("If-Range"), opened.etag, math.ceil(opened.modified)
        ):
            return None
        try:
            parsed = self._parseRangeHeader(header)
        except ValueError:
            return None
        if not parsed:
            return None
        spans = sorted(
            span
            for span in (self._rangeToOffsetAndSize(first, last) for first, last in parsed)
            if span[1] > 0
        )
        if not spans:
            raise RangeNotSatisfiable(header)
        start, end = spans[0][0], spans[0][0] + spans[0][1]
        for offset, size in spans[1:]:
            if offset > end:
                return None
            end = max(end, offset + size)
        return start, end - 1

    def makeProducer(self, request: StationRequest, fileForReading: OpenFile) -> FileBody:
        """
        Set the status and the content headers for the whole file or the
        range asked for, and make the body that sends it (not started).

        @raise RangeNotSatisfiable: if no range asked for overlaps the
            file.
        """
        wanted = self.byte_range(request)
        if wanted is None:
            self._setContentHeaders(request)
            request.setResponseCode(http.OK)
            size = self.getFileSize()
            return FileBody(request, fileForReading, 0, size, self._runner)
        offset, size = self._doSingleRangeRequest(request, wanted)
        self._setContentHeaders(request, size)
        return FileBody(request, fileForReading, offset, size, self._runner)

    def render_GET(self, request: StationRequest) -> bytes | int:
        """
        Answer with the file: C{304} when the client's copy is current;
        C{416} when no range asked for is in it; the range asked for, or
        all of it.
        """
        opened = self.opened
        tagged = request.setETag(opened.etag.encode("ascii"))
        dated = request.setLastModified(opened.modified)
        # If-Modified-Since counts only without If-None-Match (RFC 9110,
        # section 13.2.2).
        if tagged is http.CACHED or (
            dated is http.CACHED and request.getHeader(b"If-None-Match") is None
        ):
            os.close(opened.fd)
            self._set_headers(request)
            # Finished here, with no Content-Length: returning an empty
            # body would claim a length of 0.
            request.finish()
            return NOT_DONE_YET
        try:
            body = self.makeProducer(request, opened)
        except RangeNotSatisfiable:
            os.close(opened.fd)
            content_range = f"bytes */{opened.size}"
            return refuse(
                request,
                self.factory,
                http.REQUESTED_RANGE_NOT_SATISFIABLE,
                "Range Not Satisfiable",
                [("Content-Range", content_range)],
            )
        self._set_headers(request)
        if request.method == b"HEAD":
            os.close(opened.fd)
            return b""
        body.start()
        return NOT_DONE_YET

    render_HEAD = render_GET

    def _set_headers(self, request: StationRequest) -> None:
        """
        The headers of every answer with or about the file.
        """
        request.setHeader("Content-Type", str(self.type))
        request.setHeader("Accept-Ranges", "bytes")
        request.setHeader("Content-Disposition", _disposition(self._name))
        request.setHeader("Cache-Control", "no-cache")
        request.setHeader("Access-Control-Allow-Origin", "*")


@implementer(IPushProducer)
class FileBody:
    """
    Sends part of an open file as the body of a response, read in a
    thread one chunk of at most L{CHUNK_SIZE} bytes at a time, and only
    while the client's connection takes more: the connection pauses it
    when its buffer is full and resumes it once drained, and at most one
    read is under way.  The file is closed, and the response finished,
    when the part is sent; a client that leaves (as
    C{request.notifyFinish} or the connection tells) stops it and closes
    the file once a read under way has returned.

    This is the threaded counterpart of L{static.File}'s producers, which
    read on the reactor thread.

    @ivar position: the offset of the next byte to read.
    @ivar remaining: the bytes still to send.
    """

    _log = Logger()

    def __init__(
        self,
        request: StationRequest,
        opened: OpenFile,
        start: int,
        length: int,
        runner: Runner,
        chunk_size: int = CHUNK_SIZE,
    ) -> None:
        """
        @param request: the request answered; its head is set.
        @param opened: the file; once started, this body closes it.
        @param start: the first byte to send.
        @param length: how many bytes to send.
        @param runner: runs the reads off the reactor thread.
        @param chunk_size: the most bytes read at once.
        """
        self._request = request
        self._fd: int | None = opened.fd
        self._path = opened.path
        self.position = start
        self.remaining = length
        self._runner = runner
        self._chunk_size = chunk_size
        self._reading = False
        self._paused = False
        self._done = False
        self._pumping = False

    def start(self) -> None:
        """
        Register with the request and start reading.
        """
        request = self._request
        request.notifyFinish().addErrback(self._left)
        request.registerProducer(self, True)
        self._pump()

    def pauseProducing(self) -> None:
        """
        The connection is full: read no more until resumed.
        """
        self._paused = True

    def resumeProducing(self) -> None:
        """
        The connection takes more: read on.
        """
        self._paused = False
        self._pump()

    def stopProducing(self) -> None:
        """
        The client left: stop, and close the file (once a read under way
        has returned).
        """
        self._done = True
        if not self._reading:
            self._close()

    def _left(self, reason: Failure) -> None:
        self.stopProducing()

    def _pump(self) -> None:
        """
        Read the next chunk unless a read is under way, the connection is
        full or the body is done; end the body once it is all sent.
        """
        if self._pumping:
            return
        self._pumping = True
        try:
            while not (self._reading or self._done):
                if self.remaining <= 0:
                    self._end()
                    break
                if self._paused or self._fd is None:
                    break
                self._reading = True
                size = min(self._chunk_size, self.remaining)
                read = partial(os.pread, self._fd, size, self.position)
                self._runner(read).addCallbacks(self._read, self._failed)
        finally:
            self._pumping = False

    def _read(self, data: bytes) -> None:
        self._reading = False
        if self._done:
            self._close()
            return
        if not data:
            self._log.warn(
                "{path} shrank while being sent to {peer}; closing",
                path=self._path,
                peer=self._request.peer_name,
            )
            self._end()
            return
        self.position += len(data)
        self.remaining -= len(data)
        self._request.write(data)
        self._pump()

    def _failed(self, failure: Failure) -> None:
        self._reading = False
        if self._done:
            self._close()
            return
        self._log.error(
            "Cannot read {path} for {peer}: {error}",
            path=self._path,
            peer=self._request.peer_name,
            error=failure.getErrorMessage(),
        )
        self._end()

    def _end(self) -> None:
        """
        The body is complete (or cannot be): close the file and finish the
        response.
        """
        self._done = True
        self._close()
        request = self._request
        request.unregisterProducer()
        request.finish()

    def _close(self) -> None:
        fd, self._fd = self._fd, None
        if fd is not None:
            os.close(fd)
