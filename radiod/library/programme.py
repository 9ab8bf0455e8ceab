# -*- test-case-name: tests.library.test_programme -*-
"""
The programme: a library played track after track as one frame source.

Files are read and split into frames in a thread, one track ahead of the
one playing, so the pacer always finds the next frame ready.  The library
is rescanned on a timer: new files join the rotation, removed ones leave
it, and a file replaced on disk is read afresh.  A file that cannot be
read or holds no usable audio is skipped with a log line.

A programme plays one format (L{Programme.format}) from start to end: the
one configured, with what is left open taken from the first track that
plays.  MP3 files in that format play as they are; every other file is
converted to it while the track before it plays (see L{radiod.ffmpeg.transcode}),
and with normalization on, brought to the same loudness (see
L{radiod.audio.loudness}).
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from itertools import chain

from twisted.internet.defer import Deferred, succeed
from twisted.internet.interfaces import IReactorTime
from twisted.internet.task import LoopingCall
from twisted.logger import Logger
from twisted.python.failure import Failure
from zope.interface import implementer

from radiod.audio.format import ANY_FORMAT, AudioFormat, Probe, mount_format, plays_unchanged, probe
from radiod.audio.frames import Frame, FrameBlock, read_block
from radiod.audio.loudness import GAIN_TOLERANCE, read_replaygain
from radiod.audio.track import TrackInfo
from radiod.ffmpeg.transcode import ConversionError, Transcoder
from radiod.interfaces import IFrameSource, Runner
from radiod.library.library import Library, LibraryChange

__all__ = ["Inspection", "Programme", "inspect", "load_frames"]


def load_frames(path: str) -> FrameBlock:
    """
    Read a whole file and split it into frames.  Blocking: run it in a
    thread.

    @raise OSError: if the file cannot be read.
    @raise radiod.audio.frames.UnsupportedAudio: if it holds no usable MP3 audio.
    """
    with open(path, "rb") as f:
        data = f.read()
    return read_block(data)


@dataclass
class Inspection:
    """
    What reading a library file ahead of its turn found.

    @ivar frames: an MP3 file's frames, or C{None} for another format (or
        once they are known not to be played as they are).
    @ivar probe: what those frames are, or C{None}.
    @ivar gain: the gain the file's ReplayGain tags ask for, or C{None}
        when they ask for none (or were not read).
    """

    frames: Sequence[Frame] | None
    probe: Probe | None
    gain: float | None


def inspect(path: str, loader: Callable[[str], Sequence[Frame]], replaygain: bool) -> Inspection:
    """
    Read an MP3 file's frames with C{loader}, and the file's ReplayGain
    tags when C{replaygain} is set.  Blocking: run it in a thread.

    @raise OSError: if an MP3 file cannot be read.
    @raise radiod.audio.frames.UnsupportedAudio: if it holds no usable MP3 audio.
    """
    frames = loader(path) if path.lower().endswith(".mp3") else None
    gain = read_replaygain(path) if replaygain else None
    return Inspection(frames, probe(frames) if frames else None, gain)


@implementer(IFrameSource)
class Programme:
    """
    Plays a library in order or shuffled, round after round.

    @ivar playing: the track whose frames are being handed out.
    @ivar upcoming: paths still to play in this round, next first.
    @ivar skipped: tracks skipped because they could not be played.
    @ivar broken: paths that could not be played, left out of the
        rotation until a rescan finds them changed.
    @ivar requested: the format asked for; parts left 0 are taken from the
        first track that plays.
    @ivar normalize: whether tracks are brought to the same loudness.
    """

    _log = Logger()

    def __init__(
        self,
        library: Library,
        clock: IReactorTime,
        runner: Runner,
        shuffle: bool = False,
        rescan_interval: float = 30.0,
        rng: random.Random | None = None,
        loader: Callable[[str], Sequence[Frame]] = load_frames,
        name: str = "",
        target: AudioFormat = ANY_FORMAT,
        normalize: bool = False,
        transcoder: Transcoder | None = None,
        keep_format: AudioFormat | None = None,
    ) -> None:
        """
        @param library: the tracks to play.
        @param clock: schedules rescans.
        @param runner: runs file reads and scans off the reactor thread.
        @param shuffle: random order, reshuffled every round.
        @param rescan_interval: seconds between library rescans; 0 for
            never.
        @param rng: the random source for shuffling.
        @param loader: reads an MP3 file into frames (blocking).
        @param name: the mount's name, for logs.
        @param target: the format to play, with 0 for each part to take
            from the first track that plays.
        @param normalize: bring tracks to the same loudness.
        @param transcoder: converts files that are not MP3 in the format
            played, and measures loudness; without one, such files are
            skipped.
        @param keep_format: a format fixed before (by the programme this
            one replaces), played rather than settling one.
        """
        self.library = library
        self._clock = clock
        self._runner = runner
        self.shuffle = shuffle
        self.rescan_interval = rescan_interval
        self._rng = rng if rng is not None else random.Random()
        self._loader = loader
        self.name = name
        self.playing: TrackInfo | None = None
        self._frames: Sequence[Frame] = []
        self._index = 0
        self.upcoming: list[str] = []
        self._ready: tuple[TrackInfo, Sequence[Frame]] | None = None
        self._loading: str | None = None
        self._stale = False
        self._queued: list[str] = []
        self._ahead_queued = False
        self._skipping = False
        self.broken: set[str] = set()
        self.skipped = 0
        self._scanning = False
        self._rescan: LoopingCall | None = None
        self._running = False
        self.started: Deferred[None] = Deferred()
        self.requested = target
        self.normalize = normalize
        self._transcoder = transcoder
        self._format = keep_format
        if self._format is None and target.sample_rate and target.channels and target.bitrate:
            self._format = target
        self._unmeasured_warned = False

    @property
    def format(self) -> AudioFormat | None:
        """
        The format this programme plays, fixed for as long as it runs: the
        one asked for, with the parts left open filled in from the first
        track that played; C{None} until then.
        """
        return self._format

    # IFrameSource

    def start(self) -> None:
        """
        Scan the library, then read the first track; rescan on a timer.
        """
        self._running = True
        self._scan().addCallback(lambda _: self._started())

    def _started(self) -> None:
        if not self.started.called:
            self.started.callback(None)
        if self.rescan_interval > 0 and self._running:
            loop = LoopingCall(self._scan)
            loop.clock = self._clock
            self._rescan = loop
            loop.start(self.rescan_interval, now=False)

    def stop(self) -> None:
        """
        Stop rescanning and drop the frames held.
        """
        self._running = False
        if self._rescan is not None and self._rescan.running:
            self._rescan.stop()
        self._rescan = None
        self._frames = []
        self._ready = None
        self._skipping = False

    def next_frame(self) -> tuple[Frame, TrackInfo] | None:
        """
        The next frame of the current track, moving on to the next track
        (already read in the background) when this one ends, or once it
        is read after L{skip}.
        """
        if self._index >= len(self._frames) or (self._skipping and self._ready is not None):
            if self._ready is None:
                self._prefetch()
                return None
            track, frames = self._ready
            self._ready = None
            self._skipping = False
            # A fresh object per play, so a repeated track is a new play.
            self.playing = replace(track)
            self._frames = frames
            self._index = 0
            self._prefetch()
        frame = self._frames[self._index]
        self._index += 1
        assert self.playing is not None
        return frame, self.playing

    def next_track(self) -> TrackInfo | None:
        """
        The track expected to play after the current one, as far as the
        programme knows it: the one read ahead, else the one being read,
        else the next playable one left in this round.  Changes nothing.

        @return: the track, or C{None} when the next is not known yet (at
            the end of a round, or with nothing playable).
        """
        if self._ready is not None:
            return self._ready[0]
        pending = [self._loading] if self._loading is not None else []
        for path in chain(pending, self._queued, self.upcoming):
            if path not in self.broken:
                track = self._track(path)
                if track is not None:
                    return track
        return None

    @property
    def queued(self) -> list[str]:
        """
        The paths asked for with L{queue} still to play, next first
        (played in this order after the current track, before the rest of
        the round).
        """
        ahead = self._ready[0].path if self._ready is not None else self._loading
        if ahead is not None and self._ahead_queued:
            return [ahead, *self._queued]
        return list(self._queued)

    def skip(self) -> TrackInfo | None:
        """
        Move on to the next track: its first frame follows the next frame
        asked for, since it is normally read ahead already; if it is still
        being read, the current track plays on until it is ready.

        @return: the track skipped, or C{None} when none is playing.
        """
        current = self.playing
        if current is None:
            return None
        self._skipping = True
        self._prefetch()
        return current

    def queue(self, path: str) -> int:
        """
        Play a library file next: after the current track and the tracks
        queued before it, then the round goes on where it was, without
        it.  A track read ahead from the round waits its turn again (or,
        when it is the one asked for, stays next).

        @param path: the file's path, as the library lists it.
        @return: its place among the tracks to come (1 for the next).
        @raise KeyError: when the library has no such file.
        """
        if self._track(path) is None:
            raise KeyError(path)
        self.broken.discard(path)
        self.upcoming = [other for other in self.upcoming if other != path]
        ahead = self._ready[0].path if self._ready is not None else self._loading
        if ahead == path and not self._ahead_queued:
            self._ahead_queued = True
            return 1
        self._queued.append(path)
        place = len(self.queued)
        if not self._ahead_queued:
            if self._ready is not None:
                self.upcoming.insert(0, self._ready[0].path)
                self._ready = None
            elif self._loading is not None:
                # Put back in the round when its read ends.
                self._stale = True
        self._prefetch()
        return place

    # Rotation

    def _new_round(self) -> list[str]:
        paths = [track.path for track in self.library.tracks]
        if self.shuffle:
            self._rng.shuffle(paths)
            if len(paths) > 1 and self.playing is not None and paths[0] == self.playing.path:
                paths[0], paths[-1] = paths[-1], paths[0]
        return paths

    def _next_path(self) -> str | None:
        """
        The next path to play, skipping files known to be unplayable; or
        L{None} when none is playable.
        """
        playable = [t.path for t in self.library.tracks if t.path not in self.broken]
        if not playable:
            return None
        while True:
            if not self.upcoming:
                self.upcoming = self._new_round()
            path = self.upcoming.pop(0)
            if path not in self.broken:
                return path

    def _next_queued(self) -> str | None:
        """
        The next queued path still playable, or C{None}.
        """
        while self._queued:
            path = self._queued.pop(0)
            if path not in self.broken:
                return path
        return None

    def _prefetch(self) -> None:
        """
        Start reading the next track unless one is ready or being read.
        """
        if self._ready is not None or self._loading is not None or not self._running:
            return
        queued = self._next_queued()
        path = queued if queued is not None else self._next_path()
        if path is None:
            return
        self._ahead_queued = queued is not None
        self._loading = path
        self._stale = False
        loaded = self._read(path)
        loaded.addCallbacks(
            self._loaded, self._load_failed, callbackArgs=(path,), errbackArgs=(path,)
        )

    def _read(self, path: str) -> Deferred[tuple[Sequence[Frame], AudioFormat]]:
        """
        Get a file's frames in the format played: an MP3 file in that format
        as it is, any other converted (with its gain, when normalizing).
        """
        loader = self._loader
        transcoder = self._transcoder
        measure = self.normalize and transcoder is not None and transcoder.available
        if self.normalize and not measure and not self._unmeasured_warned:
            self._unmeasured_warned = True
            self._log.warn(
                "No ffmpeg: tracks on {mount} play without loudness normalization",
                mount=self.name,
            )
        track = self._track(path)
        duration = track.duration if track is not None else 0.0
        found = self._runner(lambda: inspect(path, loader, measure))

        def gain(found: Inspection) -> Deferred[float]:
            if not measure or found.gain is not None:
                return succeed(found.gain or 0.0)
            assert transcoder is not None
            measured = transcoder.loudness(path, duration, self.name)
            return measured.addCallback(lambda loudness: loudness.gain)

        def choose(gain: float, found: Inspection) -> Deferred[tuple[Sequence[Frame], AudioFormat]]:
            target = self._format or mount_format(self.requested, found.probe)
            frames = found.frames
            if (
                frames is not None
                and found.probe is not None
                and plays_unchanged(found.probe, target, exact_bitrate=self.requested.bitrate != 0)
                and abs(gain) < GAIN_TOLERANCE
            ):
                return succeed((frames, target))
            found.frames = None
            if transcoder is None:
                raise ConversionError(
                    f"needs converting to {target.describe()}, and there is no converter"
                )
            converted = transcoder.convert(path, target, gain, duration, self.name)
            return converted.addCallback(lambda frames: (frames, target))

        return found.addCallback(lambda found: gain(found).addCallback(choose, found))

    def _track(self, path: str) -> TrackInfo | None:
        for track in self.library.tracks:
            if track.path == path:
                return track
        return None

    def _loaded(self, result: tuple[Sequence[Frame], AudioFormat], path: str) -> None:
        frames, played_in = result
        self._loading = None
        track = self._track(path)
        if self._stale or track is None:
            # Replaced or removed while we were reading it.
            if track is not None:
                self._put_back(path)
            self._prefetch()
            return
        if not frames:
            self._skip(path, "no audio frames")
            return
        if self._format is None:
            self._format = played_in
            self._log.info(
                "{mount} plays {played} from now on",
                mount=self.name,
                played=played_in.describe(),
            )
        self._ready = (track, frames)

    def _put_back(self, path: str) -> None:
        """
        Make the path read ahead (or being read) the next to read again,
        in the queue or the round it came from.
        """
        (self._queued if self._ahead_queued else self.upcoming).insert(0, path)

    def _load_failed(self, failure: Failure, path: str) -> None:
        self._loading = None
        if not self._running:
            return
        self._skip(path, failure.getErrorMessage() or repr(failure.value))

    def _skip(self, path: str, reason: str) -> None:
        self.skipped += 1
        # Not tried again until a rescan finds it changed (or re-added).
        self.broken.add(path)
        self._log.warn(
            "Skipping {path} on {mount}: {reason}", path=path, mount=self.name, reason=reason
        )
        self._prefetch()

    # Library changes

    def _held_changed(self, change: LibraryChange, present: set[str]) -> None:
        """
        Log, file by file, what a rescan's changes mean for the tracks
        held in memory: the track playing plays on as it was read, and a
        track read ahead (or being read) is read again, or left out when
        it is gone.
        """
        playing = self.playing.path if self.playing is not None else None
        ahead = self._ready[0].path if self._ready is not None else self._loading
        for path in (*change.removed, *change.changed):
            what = "replaced" if path in present else "removed"
            if path == playing and self._index < len(self._frames):
                self._log.info(
                    "{path} on {mount} was {what} while playing; it plays on as it was read",
                    path=path,
                    mount=self.name,
                    what=what,
                )
            if path == ahead:
                self._log.info(
                    "{path} on {mount}, read ahead, was {what}; {outcome}",
                    path=path,
                    mount=self.name,
                    what=what,
                    outcome="it is read again" if path in present else "it is left out",
                )

    def rescan(self) -> Deferred[None]:
        """
        Look for library changes now, rather than at the next timed
        rescan; fires when the scan is done (at once if one is running).
        """
        return self._scan()

    def _scan(self) -> Deferred[None]:
        if self._scanning:
            return succeed(None)
        self._scanning = True
        scanned = self.library.scan()

        def done(change: LibraryChange) -> None:
            self._scanning = False
            self._apply(change)

        def failed(failure: Failure) -> None:
            self._scanning = False
            self._log.error(
                "Cannot scan the library of {mount}: {reason}",
                mount=self.name,
                reason=failure.getErrorMessage(),
            )

        scanned.addCallbacks(done, failed)
        return scanned.addCallback(lambda _: None)

    def _apply(self, change: LibraryChange) -> None:
        present = {track.path for track in self.library.tracks}
        if change.added or change.removed or change.changed:
            self._log.info(
                "Library of {mount} changed: {added} added, {removed} removed, {changed} replaced",
                mount=self.name,
                added=len(change.added),
                removed=len(change.removed),
                changed=len(change.changed),
            )
            self._held_changed(change, present)
        self.upcoming = [path for path in self.upcoming if path in present]
        self._queued = [path for path in self._queued if path in present]
        added = [track.path for track in self.library.tracks if track.path in change.added]
        if self.shuffle:
            for path in added:
                self.upcoming.insert(self._rng.randint(0, len(self.upcoming)), path)
        elif added:
            # The rest of the round, in library order, after the track
            # already read ahead (or being read, or playing).
            order = [track.path for track in self.library.tracks]
            if self._ready is not None and not self._ahead_queued:
                anchor: str | None = self._ready[0].path
            elif self._loading is not None and not self._ahead_queued:
                anchor = self._loading
            else:
                anchor = self.playing.path if self.playing is not None else None
            if anchor in present:
                self.upcoming = order[order.index(anchor) + 1 :]
            else:
                self.upcoming.extend(added)
        if self._ready is not None:
            path = self._ready[0].path
            if path not in present or path in change.changed:
                self._ready = None
                if path in present:
                    self._put_back(path)
        if self._loading is not None and (
            self._loading not in present or self._loading in change.changed
        ):
            self._stale = True
        self.broken -= {*change.changed, *change.added, *change.removed}
        self._prefetch()
