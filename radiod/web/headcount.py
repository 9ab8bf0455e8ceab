# -*- test-case-name: tests.web.test_adminpage -*-
"""
How many listened, minute by minute, over the last day: the series the
admin page draws (L{radiod.web.adminpage}), kept in memory.

A L{Headcount} keeps, for each mount, the most listeners it had at once
in each minute (as L{Mount.audience} counts them: connections, HLS
sessions and listeners in the past), for the last L{SPAN} seconds.  It
has no timer of its own: each mount tells it as it airs audio (it is one
of the mount's C{on_air} observers), which a running mount does several
times a second, so it stops when the mounts stop.  A mount with nothing
on air has no samples for that time; asking for the series counts every
mount once more.

The counts are those of this process: with several worker processes,
the main process's own listeners (as C{/admin/listclients} lists them).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping
from functools import partial
from typing import Any

from twisted.internet.interfaces import IReactorTime

from radiod.broadcast.mount import Mount
from radiod.interfaces import Frames

__all__ = ["INTERVAL", "SPAN", "Headcount"]

INTERVAL = 60.0
"""
Seconds each sample covers.
"""

SPAN = 86400.0
"""
Seconds of samples kept.
"""


class Headcount:
    """
    The listener counts of a station's mounts, one sample per mount per
    L{INTERVAL}, over the last L{SPAN}.

    @ivar interval: seconds each sample covers.
    @ivar span: seconds of samples kept.
    """

    def __init__(
        self,
        clock: IReactorTime,
        mounts: Mapping[str, Mount],
        interval: float = INTERVAL,
        span: float = SPAN,
    ) -> None:
        """
        @param clock: the station's clock (when each count is taken).
        @param mounts: the station's mounts by name, as they come and go.
        @param interval: seconds each sample covers.
        @param span: seconds of samples kept.
        """
        self._clock = clock
        self._mounts = mounts
        self.interval = interval
        self.span = span
        self._size = max(1, round(span / interval))
        self._samples: dict[str, deque[list[int]]] = {}
        self._watched: dict[str, Mount] = {}
        self.watch()

    def watch(self) -> None:
        """
        Follow every mount the station has now: those added since the
        last call, and those that replaced a mount of the same name.
        """
        for mount in list(self._mounts.values()):
            if self._watched.get(mount.name) is not mount:
                self._watched[mount.name] = mount
                mount.on_air.append(partial(self._aired, mount))

    def _aired(self, mount: Mount, frames: Frames) -> None:
        """
        C{mount} aired audio: count its listeners; at the start of each
        sample, look for mounts added meanwhile.
        """
        if self.note(mount):
            self.watch()

    def note(self, mount: Mount) -> bool:
        """
        Count C{mount}'s listeners now, into the sample of this interval.

        @return: whether this began a new sample.
        """
        if self._mounts.get(mount.name) is not mount:
            # A mount removed (or replaced) that still airs.
            return False
        slot = int(self._clock.seconds() // self.interval)
        count = mount.audience
        samples = self._samples.get(mount.name)
        if samples is None:
            samples = self._samples[mount.name] = deque(maxlen=self._size)
        if samples and samples[-1][0] == slot:
            samples[-1][1] = max(samples[-1][1], count)
            return False
        samples.append([slot, count])
        return True

    def series(self) -> dict[str, list[tuple[float, int]]]:
        """
        The samples of the last L{span}, of each mount the station has
        now (counted once more first), in the station's order.

        @return: for each mount's name, its samples, oldest first: the
            clock time each began, and the most listeners at once in it.
        """
        self.watch()
        oldest = int(self._clock.seconds() // self.interval) - self._size + 1
        found: dict[str, list[tuple[float, int]]] = {}
        for name, mount in list(self._mounts.items()):
            self.note(mount)
            found[name] = [
                (slot * self.interval, count)
                for slot, count in self._samples.get(name, ())
                if slot >= oldest
            ]
        return found

    def describe(self) -> dict[str, Any]:
        """
        L{series} as JSON-ready values.

        @return: C{interval} and C{span} (seconds), C{time} (the clock's
            time now) and C{mounts}: for each mount, C{mount} (its name)
            and C{samples}, a list of C{[start, listeners]} pairs, oldest
            first.
        """
        return {
            "interval": self.interval,
            "span": self.span,
            "time": self._clock.seconds(),
            "mounts": [
                {"mount": name, "samples": [[start, count] for start, count in samples]}
                for name, samples in self.series().items()
            ],
        }
