# -*- test-case-name: tests.hls.test_output -*-
"""
A mount as HLS: one L{Rendition} for the mount, one for each rung of its
ladder, and one for each AAC bitrate it asks for (an ffmpeg encoder fed
the mount's audio, like a rung without listeners of its own), all cut at
the same moments, and the multivariant playlist that lists them.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from functools import partial

from twisted.internet.defer import Deferred, gatherResults
from twisted.internet.interfaces import IReactorTime
from twisted.logger import Logger

from radiod.broadcast.mount import Mount
from radiod.config import MountConfig
from radiod.ffmpeg.ladder import AAC_RUNG, RungSource
from radiod.hls.folder import HlsFolder
from radiod.hls.playlist import AAC_CODECS, Variant, multivariant_playlist
from radiod.hls.rendition import Rendition
from radiod.hls.sessions import HlsSessions
from radiod.hls.store import MEMORY, SegmentStore
from radiod.hls.timing import Timing
from radiod.interfaces import Deliver, Frames, MakeConverter, Runner

__all__ = ["HlsOutput", "rendition_name"]


def hls_settings(config: MountConfig) -> tuple[float, float, float, tuple[int, ...]]:
    """
    The settings an output is made with: changing any of them on a reload
    makes a new output (segment numbers go on rising).
    """
    return (config.hls_segment, config.hls_part, config.hls_window, config.hls_aac)


def rendition_name(mount: Mount) -> str:
    """
    A rung's name in HLS URLs: its mount name without the slash.
    """
    return mount.name.lstrip("/")


class HlsOutput:
    """
    Follows a mount and the rungs of its ladder, cutting each into parts
    and segments from the first audio on.

    @ivar mount: the mount.
    @ivar rungs: the mount first, then its rungs, in the ladder's order.
    @ivar timing: the parts and segments, once the first audio came.
    @ivar renditions: by name, once the first audio came.
    @ivar on_rendition: called with each rendition as it is made.
    @ivar aac: the AAC encoders' sources, by rendition name.
    @ivar settings: its mount's HLS settings when it was made (see
        L{hls_settings}).
    @ivar memory: seconds of segments its renditions keep in memory, or
        C{None} for their whole window (see L{Rendition}).
    """

    _log = Logger()

    def __init__(
        self,
        mount: Mount,
        rungs: Sequence[Mount],
        clock: IReactorTime,
        encoders: MakeConverter | None = None,
    ) -> None:
        """
        @param mount: the mount.
        @param rungs: the rungs of its ladder, in order.
        @param clock: the reactor's time.
        @param encoders: start AAC encoders, for the mount's C{hls_aac};
            without them there are no AAC renditions.
        """
        self.mount = mount
        self.rungs = [mount, *rungs]
        self._clock = clock
        self.aac: dict[str, RungSource] = {}
        self.memory: float | None = None
        self.settings = hls_settings(mount.config)
        if mount.config.hls_aac and encoders is None:
            self._log.warn(
                "No ffmpeg: the AAC renditions of {mount} are not served", mount=mount.name
            )
        for kbps in mount.config.hls_aac:
            if encoders is None:
                break
            name = f"{rendition_name(mount)}-aac{kbps}"
            source = RungSource(mount, kbps, clock, encoders, f"/{name}", AAC_RUNG)
            source.attach(partial(self._encoded, name, source))
            self.aac[name] = source
        self.timing: Timing | None = None
        self.renditions: dict[str, Rendition] = {}
        self.on_rendition: list[Callable[[Rendition], None]] = []
        self._observers: list[tuple[Mount, Deliver]] = []

    @property
    def name(self) -> str:
        """
        The mount's name in HLS URLs.
        """
        return rendition_name(self.mount)

    def start(self) -> None:
        """
        Follow the mount and its rungs from now on.
        """
        for rung in self.rungs:
            observer = self._observer(rung)
            rung.on_air.append(observer)
            self._observers.append((rung, observer))
        for source in self.aac.values():
            source.start()

    def stop(self) -> None:
        """
        Stop following, and answer every parked request.
        """
        for rung, observer in self._observers:
            if observer in rung.on_air:
                rung.on_air.remove(observer)
        self._observers = []
        for source in self.aac.values():
            source.stop()
        for rendition in self.renditions.values():
            rendition.stop()

    def ended(self) -> Deferred[list[None]]:
        """
        Fires once every AAC encoder is gone (after L{stop}).
        """
        return gatherResults([source.ended() for source in self.aac.values()])

    def _observer(self, rung: Mount) -> Deliver:
        if rung is self.mount:

            def main(frames: Frames) -> None:
                self._main(frames)

            return main

        def other(frames: Frames) -> None:
            source = rung.source
            if isinstance(source, RungSource) and len(source.positions) == len(frames):
                self._take(rung, frames, source.positions)

        return other

    def _main(self, frames: Frames) -> None:
        position = self.mount.aired
        positions = []
        for frame, _ in frames:
            positions.append(position)
            position += frame.header.duration
        now = self._clock.seconds()
        if self.timing is None:
            config = self.mount.config
            self.timing = Timing(
                frames[0][0].header.duration,
                config.hls_part,
                config.hls_segment,
                now - position,
            )
        # The batch ends now: the pacer sends audio as it falls due.
        self.timing.note(position, now)
        self._take(self.mount, frames, positions)

    def _encoded(self, name: str, source: RungSource, frames: Frames) -> None:
        """
        AAC frames from an encoder, at the positions of the audio they
        were encoded from.
        """
        if len(source.positions) == len(frames):
            self._take_as(name, frames, source.positions, "aac")

    def _take(self, rung: Mount, frames: Frames, positions: Sequence[float]) -> None:
        self._take_as(rendition_name(rung), frames, positions, "mp3")

    def _take_as(
        self, name: str, frames: Frames, positions: Sequence[float], extension: str
    ) -> None:
        timing = self.timing
        if timing is None:
            return
        rendition = self.renditions.get(name)
        if rendition is None:
            window = self.mount.config.hls_window
            rendition = Rendition(name, timing, self._clock, window, extension, self.memory)
            self.renditions[name] = rendition
            for observer in self.on_rendition:
                observer(rendition)
        rendition.take(frames, positions)

    def variants(self, token: str = "", start: str = "") -> list[Variant]:
        """
        The renditions as the multivariant playlist lists them, in the
        order of the rungs: bandwidths measured on the segments kept, or
        the rung's bitrate until there are some; with C{token}, each media
        playlist's URL carries it (see L{radiod.hls.sessions}).
        """
        variants = []
        for rung in self.rungs:
            name = rendition_name(rung)
            rendition = self.renditions.get(name)
            nominal = (rung.audio.bitrate or rung.config.bitrate or 128) * 1000
            rates = rendition.bitrates() if rendition is not None else None
            peak, average = rates if rates is not None else (round(nominal * 1.05), nominal)
            query = _query(token, start)
            variants.append(Variant(f"{name}/media.m3u8{query}", peak, average))
        for name, source in self.aac.items():
            rendition = self.renditions.get(name)
            rates = rendition.bitrates() if rendition is not None else None
            nominal = source.kbps * 1000
            peak, average = rates if rates is not None else (round(nominal * 1.05), nominal)
            query = _query(token, start)
            variants.append(Variant(f"{name}/media.m3u8{query}", peak, average, AAC_CODECS))
        return variants

    def multivariant(self, token: str = "", start: str = "") -> str:
        """
        The text of the multivariant playlist (for the session C{token},
        starting at the time C{start} names).
        """
        return multivariant_playlist(self.variants(token, start))

    def bitrate(self, name: str) -> int:
        """
        The average bitrate of rendition C{name} (its rung's nominal one
        until it has segments).
        """
        rendition = self.renditions.get(name)
        rates = rendition.bitrates() if rendition is not None else None
        if rates is not None:
            return rates[1]
        for rung in self.rungs:
            if rendition_name(rung) == name:
                return (rung.audio.bitrate or rung.config.bitrate or 128) * 1000
        source = self.aac.get(name)
        return source.kbps * 1000 if source is not None else 0

    def reports(self, excluding: str) -> list[tuple[str, int, int]]:
        """
        Every other rendition's playlist with its newest part, for
        C{EXT-X-RENDITION-REPORT}.
        """
        reports = []
        up = "../" * (excluding.count("/") + 1)
        for name, rendition in self.renditions.items():
            last = rendition.last
            if name != excluding and last is not None:
                reports.append((f"{up}{name}/media.m3u8", last[0], last[1]))
        return reports


def _query(token: str, start: str) -> str:
    """
    The query of a media playlist's URL: its session and where to start.
    """
    items = [f"sid={token}"] if token else []
    if start:
        items.append(f"start={start}")
    return "?" + "&".join(items) if items else ""


class HlsOutputs:
    """
    The HLS outputs of a station: one per mount with C{hls} set, made,
    remade and dropped as the mounts and their ladders change.

    @ivar outputs: by the mount's name in HLS URLs.
    @ivar sessions: the players listening.
    @ivar folders: the folders outputs are written to, by the mount's name
        (with a C{folder}).
    """

    def __init__(
        self,
        clock: IReactorTime,
        runner: Runner | None = None,
        folder: str = "",
        encoders: MakeConverter | None = None,
        store: str = "",
    ) -> None:
        """
        @param clock: the reactor's time.
        @param runner: runs file operations off the reactor thread.
        @param folder: where every output is also written as files (see
            L{radiod.hls.folder}); empty for nowhere.
        @param encoders: start AAC encoders (see L{HlsOutput}).
        @param store: where outputs whose window is longer than
            L{MEMORY} keep their segments (see L{radiod.hls.store});
            empty to keep every window in memory.
        """
        self._clock = clock
        self._store = store
        self.stores: dict[str, SegmentStore] = {}
        self._encoders = encoders
        self._runner = runner
        self._folder = folder
        self.outputs: dict[str, HlsOutput] = {}
        self.sessions = HlsSessions(clock)
        self.folders: dict[str, HlsFolder] = {}
        self._retired: list[HlsOutput] = []

    def update(self, mains: Sequence[Mount], rungs: Sequence[Mount]) -> None:
        """
        Follow the station's configured mounts (C{mains}) and the rungs of
        their ladders (C{rungs}): an output for each mount with C{hls},
        kept while its mount and rungs stay the same.
        """
        wanted: dict[str, tuple[Mount, list[Mount]]] = {}
        for main in mains:
            if main.config.hls:
                names = set(main.config.rung_names)
                own = [rung for rung in rungs if rung.name in names]
                wanted[rendition_name(main)] = (main, own)
        for name, output in list(self.outputs.items()):
            entry = wanted.get(name)
            if (
                entry is None
                or output.rungs != [entry[0], *entry[1]]
                or output.settings != hls_settings(entry[0].config)
            ):
                output.stop()
                self._retired.append(output)
                del self.outputs[name]
        for name, (main, own) in wanted.items():
            if name not in self.outputs:
                output = HlsOutput(main, own, self._clock, self._encoders)
                self.outputs[name] = output
                if self._store and self._runner is not None and main.config.hls_window > MEMORY:
                    store = SegmentStore(os.path.join(self._store, name), self._runner)
                    self.stores[name] = store
                    output.memory = MEMORY
                    output.on_rendition.append(store.follow)
                if self._folder and self._runner is not None:
                    folder = HlsFolder(
                        os.path.join(self._folder, name), self._runner, output.multivariant
                    )
                    self.folders[name] = folder
                    output.on_rendition.append(folder.follow)
                output.start()

    def stop(self) -> None:
        """
        Stop every output, and end every session.
        """
        for output in self.outputs.values():
            output.stop()
            self._retired.append(output)
        self.outputs = {}
        self.sessions.stop()

    def ended(self) -> Deferred[list[list[None]]]:
        """
        Fires once the AAC encoders of every output stopped so far are
        gone.
        """
        retired, self._retired = self._retired, []
        return gatherResults([output.ended() for output in retired])
