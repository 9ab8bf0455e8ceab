# -*- test-case-name: tests.web.test_hls -*-
"""
HLS on the station's site: C{/hls/<mount>/index.m3u8} (the multivariant
playlist), C{/hls/<mount>/<rung>/media.m3u8} (a rung's media playlist,
reloaded blocking with C{_HLS_msn} and C{_HLS_part}),
C{/hls/<mount>/<rung>/<n>.mp3} (segments) and C{<n>.<i>.mp3} (parts, the
next one waited for).

Segments and parts never change, so caches may keep them for a day;
playlists change with every part, so caches keep them for about half of
one.  A request that waits parks a Deferred on the rendition: nothing
blocks, and a client that leaves is forgotten.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable

from twisted.internet.defer import CancelledError, Deferred
from twisted.logger import Logger
from twisted.web.server import NOT_DONE_YET

from radiod.audience.session import ListenerSession
from radiod.hls.output import HlsOutput, HlsOutputs, rendition_name
from radiod.hls.rendition import Rendition
from radiod.hls.sessions import HlsSession, new_token
from radiod.hls.store import SegmentStore
from radiod.web.site import StationRequest, StationResource, refuse
from radiod.wire.accesslog import Access
from radiod.wire.admission import refusal
from radiod.wire.server import RadioFactory
from radiod.wire.stream import CORS

__all__ = ["PLAYLIST_TYPE", "SEGMENT_TYPE", "HlsResource"]

_log = Logger()

PLAYLIST_TYPE = "application/vnd.apple.mpegurl"
SEGMENT_TYPE = "audio/mpeg"
_IMMUTABLE = "public, max-age=86400, immutable"
_FILE = re.compile(r"^(\d{1,18})(?:\.(\d{1,4}))?\.(mp3|aac)$")
_TYPES = {"mp3": SEGMENT_TYPE, "aac": "audio/aac"}
_NUMBER = re.compile(r"^\d{1,18}$")
LINGER = 3
"""
Segment lengths after its last playlist reload when a session ends.
"""
_ADVANCE = 2
"""
How many segments past the newest a blocking reload may ask for (RFC 8216
says 2); further is a bad request.
"""


class HlsResource(StationResource):
    """
    Everything under C{/hls}.
    """

    isLeaf = True

    def __init__(self, factory: RadioFactory, outputs: HlsOutputs) -> None:
        super().__init__(factory)
        self.outputs = outputs
        outputs.sessions.on_end.append(self._ended)

    def _ended(self, session: HlsSession) -> None:
        """
        Tell the access log about a session that ended, as one request
        for its media playlist lasting the whole session, and the
        audience figures as one listener session.
        """
        access = Access(
            client=session.client,
            ended=session.seen,
            duration=session.duration,
            status=200,
            sent=session.sent,
            method="GET",
            target=f"/hls/{rendition_name(session.mount)}/{session.rung}/media.m3u8",
            version="HTTP/1.1",
            referer=session.referer or None,
            user_agent=session.user_agent or None,
        )
        for observer in self.factory.on_access:
            observer(access)
        heard = ListenerSession(
            mount=session.mount.name,
            kind="hls",
            start=session.started,
            end=max(session.started, session.seen),
            bytes=session.sent,
            user_agent=session.user_agent,
            referrer=session.referer,
            client=session.client,
        )
        for tell in self.factory.on_session:
            tell(heard)

    def render_HEAD(self, request: StationRequest) -> bytes | int:
        return self.render_GET(request)

    def render_GET(self, request: StationRequest) -> bytes | int:
        found_output = self._find(request.postpath or [])
        if found_output is None:
            return refuse(request, self.factory, 404, "File Not Found")
        output, rest = found_output
        refused = self._forbidden(request, output)
        if refused is not None:
            return refused
        if rest == ["index.m3u8"]:
            start = request.text_args().get("start", [""])[0]
            if start and self._start(output.renditions.get(output.name), start) is None:
                return refuse(request, self.factory, 400, "start= is not a time in the window")
            # Each answer names a new session, so no cache may share it.
            text = output.multivariant(new_token(), start)
            return self._send(request, text.encode(), PLAYLIST_TYPE, "no-store")
        rendition = output.renditions.get("/".join(rest[:-1]))
        if rendition is None:
            return refuse(request, self.factory, 404, "File Not Found")
        if rest[-1] == "media.m3u8":
            return self._media(request, output, rendition)
        found = _FILE.match(rest[-1])
        if found is None or found.group(3) != rendition.extension:
            return refuse(request, self.factory, 404, "File Not Found")
        sequence = int(found.group(1))
        if found.group(2) is None:
            segment = rendition.segment(sequence)
            store = self.outputs.stores.get(output.name)
            if segment is None and store is not None and rendition.kept(sequence):
                return self._stored(request, store, rendition, sequence)
            if segment is None:
                return refuse(request, self.factory, 404, "Segment not available")
            return self._send(request, segment.data, _TYPES[rendition.extension], _IMMUTABLE)
        return self._part(request, rendition, sequence, int(found.group(2)))

    def _forbidden(self, request: StationRequest, output: HlsOutput) -> bytes | None:
        """
        Refuse a client the lists of who may listen to the output's mount
        turn away (see L{radiod.wire.admission}): C{403}, and one log line
        naming the list; C{None} for a client that may listen.
        """
        rules = self.factory.admission.rules_for(output.mount.name)
        reason = refusal(rules, request.client_host, request.header("User-Agent") or "")
        if reason is None:
            return None
        self.factory.refused += 1
        _log.warn(
            "Refused HLS listener {peer} on {mount}: 403 {reason}",
            peer=request.peer_name,
            mount=output.mount.name,
            reason=reason,
        )
        request.setResponseCode(403)
        request.setHeader("Content-Type", "text/plain; charset=utf-8")
        for name, value in CORS:
            request.setHeader(name, value)
        return b"403 Forbidden\n"

    def _find(self, segments: list[bytes]) -> tuple[HlsOutput, list[str]] | None:
        """
        The output the path below C{/hls/} names, and what is left of the
        path below it (a mount's name may hold slashes: C{/live/main} is
        C{/hls/live/main/}, and its rungs' names too).
        """
        path = [segment.decode("latin-1") for segment in segments]
        for cut in range(len(path) - 1, 0, -1):
            output = self.outputs.outputs.get("/".join(path[:cut]))
            if output is not None:
                return output, path[cut:]
        return None

    def _send(self, request: StationRequest, body: bytes, kind: str, cache: str) -> bytes:
        # A session's line in the access log stands for its requests.
        request.logged = False
        request.setHeader("Content-Type", kind)
        request.setHeader("Cache-Control", cache)
        for name, value in CORS:
            request.setHeader(name, value)
        # Players behind a cache judge how stale a playlist is by its age.
        request.setHeader("Access-Control-Expose-Headers", "Age")
        request.setHeader("Content-Length", str(len(body)))
        return b"" if request.method == b"HEAD" else body

    def _playlist_cache(self, rendition: Rendition) -> str:
        return f"max-age={max(1, round(rendition.timing.part_length / 2))}"

    def _media(
        self, request: StationRequest, output: HlsOutput, rendition: Rendition
    ) -> bytes | int:
        args = request.text_args()
        self.outputs.sessions.seen(
            output.mount,
            rendition.name,
            args.get("sid", [""])[0],
            request.client_host,
            request.header("User-Agent") or "",
            request.header("Referer") or "",
            LINGER * rendition.timing.segment_length,
            output.bitrate(rendition.name),
        )
        start = args.get("start", [""])[0]
        offset = self._start(rendition, start) if start else None
        if start and offset is None:
            return refuse(request, self.factory, 400, "start= is not a time in the window")
        msn = args.get("_HLS_msn", [None])[0]
        part = args.get("_HLS_part", [None])[0]
        if msn is None and part is None:
            return self._send_media(request, output, rendition, start=offset)
        if msn is None or not _NUMBER.match(msn) or (part is not None and not _NUMBER.match(part)):
            return refuse(request, self.factory, 400, "Bad _HLS_msn or _HLS_part")
        sequence = int(msn)
        index = int(part) if part is not None else None
        if index is not None and index >= rendition.timing.parts_per_segment:
            # Past the last part of a segment: the first of the next.
            sequence, index = sequence + 1, 0
        last = rendition.last
        newest = last[0] if last is not None else rendition.timing.first
        if sequence > newest + _ADVANCE:
            return refuse(request, self.factory, 400, "_HLS_msn or _HLS_part too far ahead")
        timeout = 3 * rendition.timing.segment_length
        waiting = rendition.wait(sequence, index, timeout)
        blocking = f"max-age={round(6 * rendition.timing.segment_length)}"
        return self._park(
            request, waiting, lambda: self._send_media(request, output, rendition, blocking)
        )

    def _start(self, rendition: Rendition | None, start: str) -> float | None:
        """
        Where the time C{start} (Unix seconds) is in C{rendition}'s
        playlist, or C{None} when it is not a time the playlist holds.
        """
        try:
            moment = float(start)
        except ValueError:
            return None
        if rendition is None or not math.isfinite(moment):
            return None
        return rendition.offset_of(moment)

    def _stored(
        self, request: StationRequest, store: SegmentStore, rendition: Rendition, sequence: int
    ) -> int:
        """
        Answer with a segment read from the time-shift store.
        """
        reading = store.read(rendition, sequence)

        def send(data: bytes | None) -> None:
            if request.finished or request._disconnected:
                return
            if data is None:
                body = refuse(request, self.factory, 404, "Segment not available")
            else:
                body = self._send(request, data, _TYPES[rendition.extension], _IMMUTABLE)
            request.write(body)
            request.finish()

        reading.addCallback(send)
        return NOT_DONE_YET

    def _send_media(
        self,
        request: StationRequest,
        output: HlsOutput,
        rendition: Rendition,
        cache: str = "",
        start: float | None = None,
    ) -> bytes:
        text = rendition.rendered(output.reports(rendition.name), start)
        cache = cache or self._playlist_cache(rendition)
        return self._send(request, text, PLAYLIST_TYPE, cache)

    def _part(
        self, request: StationRequest, rendition: Rendition, sequence: int, index: int
    ) -> bytes | int:
        found = rendition.part(sequence, index)
        if found is not None:
            return self._send(request, found.data, _TYPES[rendition.extension], _IMMUTABLE)
        upcoming = rendition.next_part()
        if upcoming is None or (sequence, index) != upcoming:
            return refuse(request, self.factory, 404, "Part not available")
        waiting = rendition.wait(sequence, index, 3 * rendition.timing.segment_length)

        def send() -> bytes:
            ready = rendition.part(sequence, index)
            if ready is None:
                return refuse(request, self.factory, 404, "Part not available")
            return self._send(request, ready.data, _TYPES[rendition.extension], _IMMUTABLE)

        return self._park(request, waiting, send)

    def _park(
        self, request: StationRequest, waiting: Deferred[bool], send: Callable[[], bytes]
    ) -> bytes | int:
        """
        Answer with C{send()} once C{waiting} fires (at once if it has), or
        with C{503} if what the request waits for did not come in time.
        """
        if waiting.called:
            came: list[bool] = []
            waiting.addCallback(came.append)
            if came and came[0]:
                return send()
            return refuse(request, self.factory, 503, "Not available in time")

        def ready(came: bool) -> None:
            if request.finished or request._disconnected:
                return
            body = send() if came else refuse(request, self.factory, 503, "Not available in time")
            request.write(body)
            request.finish()

        waiting.addCallback(ready)
        waiting.addErrback(lambda failure: failure.trap(CancelledError))
        request.notifyFinish().addErrback(lambda _: waiting.cancel())
        return NOT_DONE_YET
