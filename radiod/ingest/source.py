# -*- test-case-name: tests.ingest.test_source -*-
"""
One accepted live source on its connection.

A L{SourceConnection} carries the connection's body bytes (de-chunked by
L{radiod.ingest.dechunk.Dechunker} when needed) into a
L{radiod.broadcast.live.LiveSource}, pauses reading while the live queue is
full, and disconnects a source that goes silent.  Which requests are
accepted, and on which mount each source goes, is the business of
L{radiod.ingest.sources.Sources}, which makes them.
"""

from __future__ import annotations

from collections.abc import Callable

from twisted.internet.interfaces import IDelayedCall, IPushProducer, IReactorTime
from twisted.logger import Logger
from zope.interface import implementer

from radiod.audio.track import TrackInfo
from radiod.broadcast.live import LiveSource
from radiod.ingest.dechunk import ChunkError, Dechunker
from radiod.ingest.stream import StreamInfo

__all__ = ["SOURCE_TIMEOUT", "SourceConnection"]

SOURCE_TIMEOUT = 10.0
"""
Seconds a source may send nothing before it is disconnected.
"""


@implementer(IPushProducer)
class SourceConnection:
    """
    One accepted source: its body bytes go to a L{LiveSource}, and it is
    disconnected after L{SOURCE_TIMEOUT} seconds without data.

    It is the live source's producer: when the live queue is too long it
    pauses reading the transport (and the timeout, since the silence is
    then ours).

    @ivar mount: the mount name.
    @ivar peer: the source's address, for logs.
    @ivar live: where its audio goes.
    @ivar received: body bytes received (after de-chunking).
    @ivar last_data: clock time of the last bytes received.
    """

    _log = Logger()

    def __init__(
        self,
        clock: IReactorTime,
        transport: IPushProducer,
        close: Callable[[], None],
        mount: str,
        peer: str,
        credentials: tuple[str, str],
        track: TrackInfo,
        info: StreamInfo,
        chunked: bool,
        timeout: float = SOURCE_TIMEOUT,
    ) -> None:
        """
        @param clock: for the source timeout.
        @param transport: the connection, paused when the queue is full.
        @param close: closes the connection.
        @param mount: the mount name.
        @param peer: the source's address, for logs.
        @param credentials: the user and password it gave.
        @param track: what its audio is announced as.
        @param info: what the source said about its stream.
        @param chunked: whether the body is chunked.
        @param timeout: seconds of silence before disconnecting.
        """
        self._clock = clock
        self._transport = transport
        self._close = close
        self.mount = mount
        self.peer = peer
        self.credentials = credentials
        self.info = info
        self.live = LiveSource(track, producer=self)
        self._dechunker = Dechunker() if chunked else None
        self._timeout = timeout
        self._timer: IDelayedCall | None = clock.callLater(timeout, self._timed_out)
        self.received = 0
        self.last_data = clock.seconds()
        self.paused = False
        self.ended = False
        self.on_end: list[Callable[[SourceConnection], None]] = []

    def silent_for(self) -> float:
        """
        Seconds since the source last sent data; 0 while we are not
        reading from it.
        """
        if self.paused:
            return 0.0
        return self._clock.seconds() - self.last_data

    def data_received(self, data: bytes) -> None:
        """
        Body bytes from the source: de-chunk them and queue their frames.
        """
        if self.ended or not data:
            return
        self.last_data = self._clock.seconds()
        if self._timer is not None and self._timer.active():
            self._timer.reset(self._timeout)
        if self._dechunker is not None:
            try:
                data = self._dechunker.feed(data)
            except ChunkError as error:
                self._log.warn(
                    "Source on {mount} from {peer} sent a bad chunked body ({error}); closing",
                    mount=self.mount,
                    peer=self.peer,
                    error=str(error),
                )
                self.disconnect()
                return
        self.received += len(data)
        self.live.feed(data)
        if self._dechunker is not None and self._dechunker.done:
            self.disconnect()

    def _timed_out(self) -> None:
        self._timer = None
        self._log.warn(
            "Source on {mount} from {peer} sent nothing for {seconds} s; disconnecting",
            mount=self.mount,
            peer=self.peer,
            seconds=self._timeout,
        )
        self.disconnect()

    def disconnect(self) -> None:
        """
        Close the connection; the source ends at once.
        """
        self.connection_lost()
        self._close()

    def connection_lost(self) -> None:
        """
        The connection ended: stop the timer, let the live audio drain and
        tell the station.
        """
        if self.ended:
            return
        self.ended = True
        self._cancel_timer()
        self.live.finish()
        self._log.info(
            "Source on {mount} from {peer} left after {received} bytes",
            mount=self.mount,
            peer=self.peer,
            received=self.received,
        )
        for callback in self.on_end:
            callback(self)

    def _cancel_timer(self) -> None:
        if self._timer is not None and self._timer.active():
            self._timer.cancel()
        self._timer = None

    # IPushProducer, for the live queue

    def pauseProducing(self) -> None:
        """
        The live queue is full: stop reading the source, and stop timing
        it out.
        """
        self.paused = True
        self._cancel_timer()
        self._transport.pauseProducing()

    def resumeProducing(self) -> None:
        """
        The live queue drained: read the source again.
        """
        if self.ended:
            return
        self.paused = False
        self.last_data = self._clock.seconds()
        self._timer = self._clock.callLater(self._timeout, self._timed_out)
        self._transport.resumeProducing()

    def stopProducing(self) -> None:
        """
        Close the connection.
        """
        self.disconnect()
