# -*- test-case-name: tests.broadcast.test_fallback -*-
"""
Fallback mounts: which mount a listener hears when the one it asked for
has no audio.

A mount that only plays live sources (C{live_only}) has nothing to play
between shows.  Its listeners then hear its C{fallback} mount, or that
mount's fallback, and so on down the chain to the first mount that has
audio; with none, they are closed cleanly.  When the live source returns
and goes on air, the listeners who asked for the mount move back to it
(unless its C{fallback_override} is off), as Icecast's fallback-override
does, but only those: the fallback mount's own listeners stay.

Moving a listener never closes its connection: it is sent the rest of
what it was hearing, then goes on from the other mount's newest audio
(see L{radiod.broadcast.listener.Listener.move_to}).
"""

from __future__ import annotations

from collections.abc import Mapping

from twisted.internet.interfaces import IReactorTime
from twisted.logger import Logger

from radiod.audio.format import AudioFormat, standard_bitrate
from radiod.broadcast.live import LiveSource
from radiod.broadcast.mount import Mount
from radiod.interfaces import MakeConverter

__all__ = ["Fallbacks"]


class Fallbacks:
    """
    Keeps each listener on the first mount with audio along the fallback
    chain of the mount it asked for.
    """

    _log = Logger()

    def __init__(
        self,
        mounts: Mapping[str, Mount],
        clock: IReactorTime,
        converters: MakeConverter | None = None,
    ) -> None:
        """
        @param mounts: the station's mounts by name (live mounts come and
            go in this very mapping).
        @param clock: to rebalance once a pacer's tick is over.
        @param converters: starts the converters that put live audio on
            air in its mount's format (see L{format_for}); without it,
            live audio plays as it comes.
        """
        self._mounts = mounts
        self._clock = clock
        self._converters = converters

    def watch(self, mount: Mount) -> None:
        """
        Rebalance listeners whenever C{mount}'s live source goes on air or
        finishes playing out.

        A source goes on air as its first frame is pulled, before the
        pacer delivers it, so listeners move at once and hear it from that
        frame.  A source is found played out while the pacer pulls the
        frames after its last ones, which are delivered at the end of that
        tick, so listeners move just after the tick.
        """
        switch = mount.switch
        if switch is None:
            return
        converters = self._converters
        if converters is not None:

            def prepare(live: LiveSource) -> None:
                live.convert_to(self.format_for(mount), converters, mount.name)

            switch.prepare = prepare

        def changed() -> None:
            if switch.on_air:
                self.rebalance()
            else:
                self._clock.callLater(0, self.rebalance)

        switch.on_change.append(changed)

    def resolve(self, name: str) -> Mount | None:
        """
        The mount a listener asking for C{name} hears now: C{name} itself
        when it has audio, else the first mount with audio along its
        fallback chain, or C{None}.
        """
        seen: set[str] = set()
        while name and name not in seen:
            seen.add(name)
            mount = self._mounts.get(name)
            if mount is None:
                return None
            if mount.available:
                return mount
            name = mount.config.fallback
        return None

    def format_for(self, mount: Mount) -> AudioFormat | None:
        """
        The format listeners of C{mount} hear from its music, which its
        live sources should match: the music it plays, or for a live-only
        mount the music of the first mount along its fallback chain that
        has some.  That is the programme's fixed format (see
        L{radiod.library.programme.Programme.format}) once it has one, else the
        format of the audio it last played.  C{None} when there is no such
        music, or it has not played yet.
        """
        seen: set[str] = set()
        current: Mount | None = mount
        while current is not None and current.name not in seen:
            seen.add(current.name)
            switch = current.switch
            if switch is None or switch.playlist is not None:
                fixed = getattr(switch.playlist if switch is not None else None, "format", None)
                if isinstance(fixed, AudioFormat):
                    return fixed
                audio = current.audio
                if not audio.sample_rate:
                    return None
                bitrate = standard_bitrate(audio.sample_rate, audio.bitrate)
                return AudioFormat(audio.sample_rate, audio.channels, bitrate)
            current = self._mounts.get(current.config.fallback)
        return None

    def rebalance(self) -> None:
        """
        Move every listener that is not on the mount it should hear now:
        away from mounts that lost their audio, and back home to mounts
        that have it again.  Listeners with nowhere to go are closed.
        """
        for mount in list(self._mounts.values()):
            for listener in list(mount.listeners):
                target = self.resolve(listener.home)
                if target is mount:
                    continue
                if target is None:
                    if not mount.available:
                        self._log.info(
                            "Closing listener {listener} from {peer}: {mount} has no audio "
                            "and no fallback",
                            listener=listener.id,
                            peer=listener.peer,
                            mount=mount.name,
                        )
                        listener.transport.loseConnection()
                    continue
                if mount.available and not self._overrides(listener.home, target):
                    continue
                mount.move_listener(listener, target)

    def _overrides(self, home: str, target: Mount) -> bool:
        """
        Whether listeners of C{home} that hear a fallback should move to
        C{target}, which has audio again: only when C{home}'s
        C{fallback_override} is on.
        """
        mount = self._mounts.get(home)
        return mount is not None and mount.config.fallback_override
