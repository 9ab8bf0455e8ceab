# -*- test-case-name: tests.web.test_files,tests.web.test_files_e2e -*-
"""
A library file heard as MP3, transcoded on the fly by an ffmpeg child
process for one client: C{GET /files/<id>?bitrate=N&start=S}.

ffmpeg decodes the file from C{start} seconds and encodes MP3 at N kbit/s;
what it writes is sent as it comes, and while the client does not read,
ffmpeg's output is not read either, so ffmpeg waits.  A client that
leaves takes its ffmpeg with it.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import cast

from twisted.internet.interfaces import IPushProducer, IReactorProcess
from twisted.logger import Logger
from twisted.python.failure import Failure
from zope.interface import implementer

from radiod.ffmpeg.arguments import mp3_output
from radiod.ffmpeg.process import FfmpegProcess
from radiod.library.catalogue import Item, SelectionError
from radiod.web.site import StationRequest, refuse
from radiod.wire.server import RadioFactory

__all__ = [
    "TRANSCODE_BITRATES",
    "Transcode",
    "TranscodeRequest",
    "parse_transcode",
    "transcode_arguments",
]

TRANSCODE_BITRATES = (32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320)
"""
The bitrates, in kbit/s, a file can be transcoded to (MPEG-1 Layer III).
"""

_SECONDS = re.compile(r"[0-9]{1,9}(\.[0-9]{1,6})?")


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
class Transcode(FfmpegProcess):
    """
    One file transcoded for one client by an ffmpeg child process.

    The response head is written with ffmpeg's first output, so a file
    ffmpeg cannot read is answered with an error instead.  While the
    client's connection is full, ffmpeg's output is not read (the process
    transport is paused), so ffmpeg blocks; when the client leaves,
    ffmpeg is killed.

    @ivar request: the client's request.
    @ivar pid: ffmpeg's process id, once it runs.
    @ivar sent_head: whether the response head was written.
    @ivar ended: whether ffmpeg has exited.
    """

    _log = Logger()

    def __init__(
        self,
        request: StationRequest,
        factory: RadioFactory,
        item: Item,
        wanted: TranscodeRequest,
        on_end: Callable[[Transcode], None],
    ) -> None:
        """
        @param request: the client's request.
        @param factory: the station's server factory (for refusals).
        @param item: the file transcoded.
        @param wanted: how it is transcoded.
        @param on_end: called with this transcode once ffmpeg has exited.
        """
        super().__init__()
        self.request = request
        self._factory = factory
        self.item = item
        self.wanted = wanted
        self._on_end = on_end
        self.pid: int | None = None
        self.sent_head = False
        self.ended = False
        self._gone = False

    def spawn(self, reactor: IReactorProcess, ffmpeg: str, path: str) -> None:
        """
        Start ffmpeg on the file's real C{path}.
        """
        self.pid = self.start(reactor, transcode_arguments(ffmpeg, path, self.wanted)).pid

    # ProcessProtocol

    def connectionMade(self) -> None:
        """
        ffmpeg started: send what it writes to the client, and follow the
        client's connection.
        """
        assert self.transport is not None
        self.transport.closeStdin()
        self.request.notifyFinish().addErrback(self._left)
        self.request.registerProducer(self, True)

    def outReceived(self, data: bytes) -> None:
        """
        Send what ffmpeg wrote, after the response head.
        """
        if self._gone:
            return
        request = self.request
        if not self.sent_head:
            self.sent_head = True
            request.setHeader("Content-Type", "audio/mpeg")
            request.setHeader("Accept-Ranges", "none")
            request.setHeader("Cache-Control", "no-cache")
            request.setHeader("Access-Control-Allow-Origin", "*")
        request.write(data)

    def processEnded(self, reason: Failure) -> None:
        """
        ffmpeg is gone: end the response (or answer with an error when it
        wrote nothing), and free its place.
        """
        super().processEnded(reason)
        self.ended = True
        self._on_end(self)
        if self._gone:
            return
        self._gone = True
        request = self.request
        request.unregisterProducer()
        if not self.sent_head:
            self._log.error(
                "Cannot transcode {path} for {peer}: {stderr}",
                path=self.item.track.path,
                peer=request.peer_name,
                stderr=self.describe(reason),
            )
            body = refuse(request, self._factory, 500, "Cannot transcode the file")
            request.setHeader("Content-Length", str(len(body)))
            request.write(body)
            request.finish()
            return
        if self.last_line:
            self._log.warn(
                "Transcoding {path} for {peer} ended: {stderr}",
                path=self.item.track.path,
                peer=request.peer_name,
                stderr=self.last_line,
            )
        request.finish()

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
        if self._gone:
            return
        self._gone = True
        if self.transport is None or self.ended:
            return
        self.kill("was stopped")
        self.transport.loseConnection()

    def _left(self, reason: Failure) -> None:
        self.stopProducing()
