# -*- test-case-name: tests.broadcast.test_live -*-
"""
Live audio on a mount: the frames an encoder sends, and the switch that
puts them on air in place of the playlist.

A L{LiveSource} splits the bytes of one source connection into whole MPEG
frames and queues them for the mount's pacer, pausing the connection when
the queue grows too long.  A L{Switch} is the frame source a mount's pacer
pulls from: the live source's frames while one is on air, the playlist's
otherwise.  The playlist is simply not pulled while live, so it resumes
exactly where it left off.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable

from twisted.internet.interfaces import IPushProducer
from twisted.logger import Logger
from zope.interface import implementer

from radiod.audio.format import AudioFormat
from radiod.audio.frames import Frame, FrameSplitter
from radiod.audio.track import TrackInfo
from radiod.interfaces import Converter, IFrameSource, MakeConverter

__all__ = ["HIGH_WATER", "LOW_WATER", "PREBUFFER", "LiveSource", "Switch"]

HIGH_WATER = 4.0
"""
Seconds of queued live audio above which the encoder's connection is
paused.
"""

LOW_WATER = 2.0
"""
Seconds of queued live audio below which a paused connection resumes.
"""

PREBUFFER = 0.5
"""
Seconds of audio a live source collects before it goes on air, so that
network jitter does not starve the pacer at once.
"""


@implementer(IFrameSource)
class LiveSource:
    """
    The audio of one live source connection, as a queue of whole frames.

    Bytes go in through L{feed}; garbage, tags and partial frames are
    dropped by the frame splitter, so only whole frames come out of
    L{next_frame}, each with the live session's current L{track}.

    @ivar track: what listeners are told is playing; one object per live
        session (and per title change).
    @ivar queued: seconds of audio waiting to be pulled.
    @ivar ready: whether the source has had enough audio to go on air
        (at least L{PREBUFFER} seconds queued, or its end reached).
    @ivar finished: whether the connection ended; the queue still drains.
    @ivar frames_in: frames received in all.
    @ivar on_frames: called with each batch of whole frames as it is
        split from the encoder's bytes, before it is queued (a recorder
        writes them from here).
    @ivar converting: whether the audio goes on air converted to the
        mount's format (see L{convert_to}).
    """

    _log = Logger()

    def __init__(
        self,
        track: TrackInfo,
        producer: IPushProducer | None = None,
        high_water: float = HIGH_WATER,
        low_water: float = LOW_WATER,
        prebuffer: float = PREBUFFER,
    ) -> None:
        """
        @param track: the track live frames are announced as.
        @param producer: what to pause when the queue is too long (the
            source connection's transport), or C{None}.
        @param high_water: seconds of queued audio that pause C{producer}.
        @param low_water: seconds of queued audio that resume it.
        @param prebuffer: seconds of audio to collect before going on air.
        """
        self.track = track
        self._producer = producer
        self._high = high_water
        self._low = low_water
        self._prebuffer = prebuffer
        self._splitter = FrameSplitter()
        self._queue: deque[Frame] = deque()
        self.queued = 0.0
        self.ready = False
        self.finished = False
        self.paused = False
        self.frames_in = 0
        self.on_frames: list[Callable[[list[Frame]], None]] = []
        self.name = ""
        self._target: AudioFormat | None = None
        self._make: MakeConverter | None = None
        self._converter: Converter | None = None
        self._conversion_failed = False
        self._finishing = False

    @property
    def converting(self) -> bool:
        return self._converter is not None

    @property
    def converter(self) -> Converter | None:
        """
        The converter the audio goes through while L{converting}.
        """
        return self._converter

    @property
    def garbage(self) -> int:
        """
        Bytes dropped so far as neither audio frames nor tags.
        """
        return self._splitter.garbage_bytes

    def convert_to(self, target: AudioFormat | None, make: MakeConverter, name: str = "") -> None:
        """
        Put this source's audio on air in C{target}'s format: frames with
        another sample rate or channel count start a converter made by
        C{make}, and from then on every frame goes through it.

        @param target: the mount's format, or C{None} to play the audio
            as it comes.
        @param make: starts a converter.
        @param name: the mount's name, for logs.
        """
        self._target = target
        self._make = make
        self.name = name

    def set_title(self, title: str) -> None:
        """
        Announce the frames pulled from now on under a new title.
        """
        self.track = TrackInfo(path="", title=title)

    def feed(self, data: bytes) -> int:
        """
        Add bytes from the encoder; pause the producer if the queue is now
        longer than the high-water mark.

        @return: the number of whole frames the bytes completed.
        """
        frames = self._splitter.feed(data)
        self._received(frames)
        if not self.paused and self._producer is not None and self.queued > self._high:
            self.paused = True
            self._producer.pauseProducing()
        return len(frames)

    def finish(self) -> None:
        """
        The connection ended: keep the last whole frames and let the queue
        drain.
        """
        if self.finished or self._finishing:
            return
        self._received(self._splitter.finish())
        self.ready = True
        self._producer = None
        if self._converter is not None:
            # Finished once the converter has written out the rest.
            self._finishing = True
            self._converter.finish()
        else:
            self.finished = True

    def _received(self, frames: list[Frame]) -> None:
        """
        Whole frames from the encoder: show them to the observers, then
        queue them, or hand them to the converter.
        """
        if not frames:
            return
        for observer in self.on_frames:
            observer(frames)
        self.frames_in += len(frames)
        target = self._target
        if (
            self._converter is None
            and target is not None
            and self._make is not None
            and not self._conversion_failed
            and not all(target.matches(frame.header) for frame in frames)
        ):
            header = next(f.header for f in frames if not target.matches(f.header))
            self._converter = self._make(target, self._add, self._converter_ended, self.name)
            if self._converter is None:
                self._conversion_failed = True
            else:
                self._log.info(
                    "Converting live audio on {mount} from {rate} Hz, {channels} channels "
                    "to {target}",
                    mount=self.name,
                    rate=header.sample_rate,
                    channels=header.channels,
                    target=target.describe(),
                )
        if self._converter is not None:
            self._converter.feed(frames)
        else:
            self._add(frames)

    def _converter_ended(self, clean: bool) -> None:
        self._converter = None
        if self._finishing:
            self._finishing = False
            self.finished = True
        elif not clean:
            self._conversion_failed = True
            self._log.warn(
                "Live audio on {mount} goes on air unconverted from now on", mount=self.name
            )

    def _add(self, frames: list[Frame]) -> None:
        for frame in frames:
            self._queue.append(frame)
            self.queued += frame.header.duration
        if not self.ready and self.queued >= self._prebuffer:
            self.ready = True

    def trim(self, keep: float) -> None:
        """
        Drop the oldest queued frames until at most C{keep} seconds are
        left (a relay waiting on standby stays current this way), and
        resume a paused producer.
        """
        queue = self._queue
        while queue and self.queued > keep:
            self.queued = max(0.0, self.queued - queue.popleft().header.duration)
        if self.paused and self.queued < self._low:
            self.paused = False
            if self._producer is not None:
                self._producer.resumeProducing()

    @property
    def drained(self) -> bool:
        """
        Whether the connection ended and every frame has been pulled.
        """
        return self.finished and not self._queue

    # IFrameSource

    def start(self) -> None:
        """
        Nothing to do: audio arrives as the encoder sends it.
        """

    def stop(self) -> None:
        """
        Drop the queued audio, and stop converting.
        """
        self._queue.clear()
        self.queued = 0.0
        converter, self._converter = self._converter, None
        if converter is not None:
            converter.stop()
        if self._finishing:
            self._finishing = False
            self.finished = True

    def next_frame(self) -> tuple[Frame, TrackInfo] | None:
        """
        The oldest queued frame with the current track, or C{None} before
        the source is ready or when its queue is empty; resume the
        producer once the queue is below the low-water mark.
        """
        if not self.ready or not self._queue:
            return None
        frame = self._queue.popleft()
        self.queued = max(0.0, self.queued - frame.header.duration)
        if self.paused and self.queued < self._low:
            self.paused = False
            if self._producer is not None:
                self._producer.resumeProducing()
        return frame, self.track


@implementer(IFrameSource)
class Switch:
    """
    A mount's frame source: a live source while one is on air, the
    playlist otherwise.

    A live source goes on air at the first frame after it is
    L{LiveSource.ready}; until then the playlist keeps playing.  Once on
    air it stays on air until it is detached and its queue has drained:
    a momentarily empty queue is an underrun (a short gap), never a burst
    of playlist audio in the middle of the show.  Then the playlist plays
    on from the frame after the last one it gave.

    A presenter outranks a relay: a relay's live source attached while a
    presenter's is there waits on standby, and a presenter attached while
    a relay plays sends the relay to standby.  The standby relay keeps
    only its newest audio, fills in while the presenter's first audio is
    collected, and goes back on air as soon as the presenter's show has
    played out.

    @ivar playlist: the source played when no live source is on air, or
        C{None} for a mount that only exists while a source is connected.
    @ivar live: the attached live source, if any.
    @ivar standby: a relay's live source waiting for L{live}, a
        presenter's, to end.
    @ivar on_air: whether the last frame given was live.
    @ivar on_drained: called when a live source that left has played out.
    @ivar on_change: called when a live source goes on air and when one
        that left has played out, after L{on_air} and L{live} changed.
    @ivar prepare: called with each live source as it is attached, before
        its first audio (to set the format it goes on air in).
    """

    _log = Logger()

    def __init__(self, playlist: IFrameSource | None, name: str = "") -> None:
        """
        @param playlist: the fallback source, or C{None}.
        @param name: the mount's name, for logs.
        """
        self.playlist = playlist
        self.name = name
        self.live: LiveSource | None = None
        self.standby: LiveSource | None = None
        self._relays: set[LiveSource] = set()
        self.on_air = False
        self.on_drained: list[Callable[[], None]] = []
        self.on_change: list[Callable[[], None]] = []
        self.prepare: Callable[[LiveSource], None] | None = None

    @property
    def has_audio(self) -> bool:
        """
        Whether there is something to play: a playlist, or a live source
        (on air, or collecting its first audio, or playing out).
        """
        return self.playlist is not None or self.live is not None

    def attach(self, live: LiveSource, relay: bool = False) -> None:
        """
        Put C{live} on air as soon as it is ready, in place of any live
        source of the same kind attached before; a relay's waits on
        standby while a presenter's is attached.

        @param relay: whether C{live} is a relay's rather than a
            presenter's.
        """
        if self.prepare is not None:
            self.prepare(live)
        current = self.live
        if relay:
            self._relays.add(live)
            if current is not None and current not in self._relays and not current.drained:
                self._replace_standby(live)
                self._log.info("Relay on standby on {mount} during a live show", mount=self.name)
                return
        elif current is not None and current in self._relays and not current.finished:
            self._replace_standby(current)
            self._log.info("Relay on standby on {mount}: a live show begins", mount=self.name)
            current = None
        if current is not None and current is not live:
            self._drop(current)
        self.live = live

    def _replace_standby(self, live: LiveSource) -> None:
        old, self.standby = self.standby, live
        if old is not None and old is not live:
            self._drop(old)

    def _drop(self, live: LiveSource) -> None:
        live.finish()
        live.stop()
        self._relays.discard(live)

    def detach(self, live: LiveSource) -> None:
        """
        The connection of C{live} ended: play what it queued, then return
        to the relay on standby, if any, else the playlist.
        """
        if live is self.standby:
            self.standby = None
            self._drop(live)
            return
        live.finish()

    # IFrameSource

    def start(self) -> None:
        """
        Start the playlist.
        """
        if self.playlist is not None:
            self.playlist.start()

    def stop(self) -> None:
        """
        Stop the playlist and drop any live audio.
        """
        if self.playlist is not None:
            self.playlist.stop()
        for live in (self.live, self.standby):
            if live is not None:
                live.stop()
        self.live = self.standby = None
        self._relays.clear()

    def next_frame(self) -> tuple[Frame, TrackInfo] | None:
        """
        The next live frame while live, else the next playlist frame.
        """
        standby = self.standby
        if standby is not None:
            standby.trim(PREBUFFER)
        live = self.live
        if live is not None:
            item = live.next_frame()
            if item is None and standby is not None and not live.drained and not live.ready:
                # The presenter's first audio is still coming: the relay
                # fills in.
                item = standby.next_frame()
            if item is not None:
                if not self.on_air:
                    self.on_air = True
                    self._log.info("Live source on air on {mount}", mount=self.name)
                    self._changed()
                return item
            if live.drained and standby is not None:
                self._relays.discard(live)
                self.live, self.standby = standby, None
                self._log.info("Relay back on air on {mount}", mount=self.name)
                item = standby.next_frame()
                if item is not None or self.on_air:
                    return item
                live = standby
            if live.drained:
                self._relays.discard(live)
                self.live = None
                was_on_air, self.on_air = self.on_air, False
                if was_on_air:
                    self._log.info("Live source left {mount}", mount=self.name)
                    if self.playlist is not None:
                        self._log.info("Playlist resumes on {mount}", mount=self.name)
                for callback in self.on_drained:
                    callback()
                self._changed()
            elif self.on_air:
                return None
        if self.playlist is None:
            return None
        return self.playlist.next_frame()

    def _changed(self) -> None:
        for callback in list(self.on_change):
            callback()
