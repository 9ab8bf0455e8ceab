# -*- test-case-name: tests.broadcast.test_pacer -*-
"""
Real-time pacing: pull frames from a source exactly as fast as they play.

The pacer counts the audio time it has sent and the time elapsed since it
started, and on every tick sends each frame whose start time has come.  The
tick rate only decides how finely the stream is sliced, never how much audio
is sent, so tracks of any bitrate and sample rate play at their own speed,
the stream does not drift, and a reactor that stalled catches up with
whatever is due.
"""

from __future__ import annotations

from collections.abc import Callable

from twisted.internet.defer import Deferred
from twisted.internet.interfaces import IReactorTime
from twisted.internet.task import LoopingCall
from twisted.logger import Logger
from twisted.python.failure import Failure

from radiod.interfaces import IFrameSource, Pulled

__all__ = ["Pacer"]


class Pacer:
    """
    Sends a source's frames to a callback at the rate they play.

    @ivar sent: seconds of audio sent since the pacer (re)anchored.
    @ivar frames: frames sent in all.
    @ivar underruns: ticks on which the source had nothing ready.
    """

    _log = Logger()

    def __init__(
        self,
        clock: IReactorTime,
        source: IFrameSource,
        deliver: Callable[[Pulled], None],
        interval: float = 0.1,
        max_catchup: float = 30.0,
        name: str = "",
    ) -> None:
        """
        @param clock: the time source and scheduler.
        @param source: where frames come from.
        @param deliver: called once per tick with the frames now due (and
            not called when none are).
        @param interval: seconds between ticks.
        @param max_catchup: the largest backlog, in seconds, sent at once;
            beyond it (a clock step or a suspended machine) the pacer
            re-anchors at the present instead of flooding listeners.
        @param name: the mount's name, for logs.
        """
        self._clock = clock
        self._source = source
        self._deliver = deliver
        self.interval = interval
        self.max_catchup = max_catchup
        self.name = name
        self._anchor = 0.0
        self.sent = 0.0
        self.frames = 0
        self.underruns = 0
        self._starved = True
        self._began = False
        self._loop: LoopingCall | None = None

    @property
    def running(self) -> bool:
        """
        Whether the pacer is ticking.
        """
        return self._loop is not None and self._loop.running

    def start(self) -> None:
        """
        Start ticking now; audio time starts at zero.
        """
        self._anchor = self._clock.seconds()
        self.sent = 0.0
        loop = LoopingCall(self.tick)
        loop.clock = self._clock
        self._loop = loop
        done: Deferred[LoopingCall] = loop.start(self.interval, now=True)
        done.addErrback(self._failed)

    def stop(self) -> None:
        """
        Stop ticking.
        """
        if self._loop is not None and self._loop.running:
            self._loop.stop()
        self._loop = None

    def _failed(self, failure: Failure) -> None:
        self._log.failure("Pacer for {mount} stopped", failure, mount=self.name)

    def elapsed(self) -> float:
        """
        Seconds since the pacer (re)anchored.
        """
        return self._clock.seconds() - self._anchor

    def _reanchor(self) -> None:
        self._anchor = self._clock.seconds() - self.sent

    def tick(self) -> None:
        """
        Send every frame whose start time has come.
        """
        elapsed = self.elapsed()
        behind = elapsed - self.sent
        if behind > self.max_catchup or behind < -self.max_catchup:
            self._log.warn(
                "Clock for {mount} jumped by {seconds:.1f} s; resynchronising",
                mount=self.name,
                seconds=behind,
            )
            self._reanchor()
            elapsed = self.sent
        due: Pulled = []
        sent = self.sent
        next_frame = self._source.next_frame
        while sent <= elapsed:
            item = next_frame()
            if item is None:
                break
            due.append(item)
            sent += item[0].header.samples / item[0].header.sample_rate
        self.sent = sent
        if sent <= elapsed:
            # The source had nothing ready: the listeners hear a gap.  When
            # audio comes back it plays from then on rather than rushing to
            # make up the time it missed.
            if self._began:
                self.underruns += 1
                if not self._starved:
                    self._log.warn("Source for {mount} has no audio ready", mount=self.name)
            self._starved = True
            self._reanchor()
        elif self._starved:
            self._starved = False
            if self._began:
                self._log.info("Source for {mount} is sending audio again", mount=self.name)
            self._began = True
        if due:
            self.frames += len(due)
            self._deliver(due)
