# -*- test-case-name: tests.test_testing -*-
"""
A converter that converts nothing, and its maker.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from twisted.internet.protocol import Protocol as TwistedProtocol

from radiod.audio.format import AudioFormat
from radiod.audio.frames import Frame

__all__ = ["FakeConverter", "FakeConverters"]

_T = TypeVar("_T")
_P = TypeVar("_P", bound=TwistedProtocol)
_P_co = TypeVar("_P_co", bound=TwistedProtocol, covariant=True)


class FakeConverter:
    """
    A L{radiod.interfaces.Converter} that records what it is fed and
    converts nothing by itself: a test hands out "converted" frames with
    L{emit} and ends it with L{end}.

    Like the real one, it takes no more input once finishing or stopped,
    and reports its end once.

    @ivar target: the format asked for.
    @ivar fed: the frames fed so far.
    @ivar finishing: whether L{finish} was called.
    @ivar stopped: whether L{stop} was called.
    @ivar ends_on_stop: whether L{stop} ends it at once, or only L{end}
        does (like a process, which ends some time after it is killed).
    @ivar exited: whether its end was reported.
    """

    def __init__(
        self,
        target: AudioFormat,
        deliver: Callable[[list[Frame]], None],
        ended: Callable[[bool], None],
        ends_on_stop: bool = True,
    ) -> None:
        """
        @param target: the format to convert to.
        @param deliver: called with converted frames (see L{emit}).
        @param ended: called once, when it ends, with whether it ended
            as asked.
        @param ends_on_stop: see L{ends_on_stop}.
        """
        self.target = target
        self._deliver = deliver
        self._ended = ended
        self.fed: list[Frame] = []
        self.finishing = False
        self.stopped = False
        self.ends_on_stop = ends_on_stop
        self.exited = False

    def feed(self, frames: list[Frame]) -> None:
        """
        Record C{frames} as fed, unless it is finishing, stopped or ended.
        """
        if self.finishing or self.stopped or self.exited:
            return
        self.fed.extend(frames)

    def finish(self) -> None:
        """
        The input ended: note it; the test ends the converter with L{end}.
        """
        self.finishing = True

    def stop(self) -> None:
        """
        Note that it was stopped, and end it (not cleanly) at once when
        L{ends_on_stop}.
        """
        self.stopped = True
        if self.ends_on_stop:
            self._end(False)

    def emit(self, frames: list[Frame]) -> None:
        """
        Hand converted frames to the live source.
        """
        self._deliver(frames)

    def end(self, clean: bool = True) -> None:
        """
        End, as after L{finish} (C{clean}) or by dying; nothing more
        happens if it has ended already.
        """
        self._end(clean)

    def _end(self, clean: bool) -> None:
        if self.exited:
            return
        self.exited = True
        self._ended(clean)


class FakeConverters:
    """
    A L{radiod.interfaces.MakeConverter} that makes L{FakeConverter}s and
    keeps them, or makes none when C{available} is false (as the real one
    does without ffmpeg).

    @ivar available: whether it makes converters.
    @ivar ends_on_stop: given to each converter made (see
        L{FakeConverter.ends_on_stop}).
    @ivar made: the converters made, in order.
    """

    def __init__(self, available: bool = True, ends_on_stop: bool = True) -> None:
        """
        @param available: see L{available}.
        @param ends_on_stop: see L{ends_on_stop}.
        """
        self.available = available
        self.ends_on_stop = ends_on_stop
        self.made: list[FakeConverter] = []

    def __call__(
        self,
        target: AudioFormat,
        deliver: Callable[[list[Frame]], None],
        ended: Callable[[bool], None],
        name: str,
    ) -> FakeConverter | None:
        """
        Make a converter to C{target}, or none when not L{available}.

        @param target: the format to convert to.
        @param deliver: called with converted frames.
        @param ended: called once when the converter ends.
        @param name: the mount's name, for logs.
        """
        if not self.available:
            return None
        converter = FakeConverter(target, deliver, ended, self.ends_on_stop)
        self.made.append(converter)
        return converter
