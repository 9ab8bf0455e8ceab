# -*- test-case-name: tests.broadcast.test_mount -*-
"""
A mount: one programme that listeners tune into by URL path.

The mount owns the pacer that pulls frames from its source, the shared
buffer those frames go into, and the set of listeners reading from it.  It
knows nothing about sockets beyond handing listeners their turn.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable

from twisted.internet.defer import Deferred, succeed
from twisted.internet.interfaces import IReactorTime
from twisted.logger import Logger

from radiod.audio.icy import EMPTY_BLOCK, encode_metadata
from radiod.audio.track import Play, Plays, TrackInfo, art_path
from radiod.broadcast.buffer import StreamBuffer
from radiod.broadcast.intro import Intro
from radiod.broadcast.listener import Listener, ListenerTransport, Spans
from radiod.broadcast.pacer import Pacer
from radiod.broadcast.switch import Switch
from radiod.config import MountConfig
from radiod.interfaces import Deliver, Frames, IFrameSource, ILiveSource, Pulled

__all__ = ["CHUNK_SIZE", "HISTORY_SIZE", "AudioInfo", "Mount"]

CHUNK_SIZE = 4096
"""
The largest chunk the buffer holds, in bytes (or one frame, if larger):
after a catch-up, a new listener's burst can still start close to the
burst size behind the head.
"""

HISTORY_SIZE = 50
"""
The tracks a mount remembers having played.
"""

FANOUT_SLOTS = 5
FANOUT_SMALL = 50
FANOUT_PER_STRIDE = 500
"""
Fan-out pacing.  Listeners are spread over L{FANOUT_SLOTS} slots.  With
fewer than L{FANOUT_SMALL} listeners every slot is served on every tick;
beyond that each slot is served every I{stride} ticks (one more tick for
every L{FANOUT_PER_STRIDE} listeners, at most L{FANOUT_SLOTS}), the slots
taking turns.  Each listener then gets one larger write every stride ticks
(at most every 0.5 s with the default 0.1 s tick, well inside the gap
players tolerate), system calls per listener-second fall, and the work of a
fan-out is spread evenly over the ticks instead of stalling the reactor
once per interval.
"""


class AudioInfo:
    """
    The format of a mount's audio as listeners are told it.

    @ivar bitrate: kbit/s (measured over the newest chunk for VBR).
    @ivar sample_rate: samples per second.
    @ivar channels: 1 or 2.
    """

    __slots__ = ("bitrate", "channels", "sample_rate")

    def __init__(self, bitrate: int = 0, sample_rate: int = 0, channels: int = 0) -> None:
        self.bitrate = bitrate
        self.sample_rate = sample_rate
        self.channels = channels

    def ice_audio_info(self) -> str:
        """
        The C{ice-audio-info} header value.
        """
        return (
            f"ice-samplerate={self.sample_rate};ice-bitrate={self.bitrate};"
            f"ice-channels={self.channels}"
        )


class Mount:
    """
    One live programme and its listeners.

    @ivar config: the mount's settings.
    @ivar buffer: recent audio shared by all listeners.
    @ivar listeners: the connected listeners.
    @ivar now_playing: the track at the head of the stream.
    @ivar playing: the play at the head of the stream.
    @ivar plays: numbers the plays of the frames pulled from a frame
        source (see L{broadcast}).
    @ivar aired: seconds of audio aired so far; while L{on_air} observers
        see a batch, where its first frame starts.
    @ivar audio: the format of the newest audio.
    @ivar peak_listeners: the most listeners seen at once (HLS sessions
        included).
    @ivar hls_listeners: the HLS sessions of the mount now (players
        fetching its playlists; see L{radiod.hls.sessions}).
    @ivar shifted_listeners: the listeners who joined the mount in the
        past (C{?offset=}) and are listening now.
    @ivar dropped: listeners disconnected for falling behind.
    @ivar track_started: clock time the current track reached the head.
    @ivar history: the tracks played (jingles left out), newest first,
        each with the clock time it reached the head (at most L{HISTORY_SIZE}).
    @ivar left_sent: audio bytes sent to listeners who have left.
    @ivar switch: for a paced source, what the pacer pulls from: the
        source, or a live source that takes it over (L{radiod.broadcast.live}).
    @ivar on_air: called with each batch of frames, with their plays,
        before it is buffered (what follows the mount's audio: the rungs
        of its bitrate ladder, the worker processes, relays out).
    @ivar on_listener_joined: called with each listener that connects.
    @ivar on_listener_left: called with each listener whose connection
        ends here (dropped for lagging or not).
    @ivar intro: what each new listener hears first (see
        L{radiod.broadcast.intro}), or C{None}.
    """

    _log = Logger()

    def __init__(
        self,
        config: MountConfig,
        source: IFrameSource | ILiveSource,
        clock: IReactorTime,
        tick: float = 0.1,
    ) -> None:
        """
        @param config: the mount's settings.
        @param source: where its audio comes from.
        @param clock: the time source for pacing.
        @param tick: seconds between deliveries.
        """
        self.config = config
        self.name = config.name
        self.queue_size = config.queue_size
        self.source = source
        self._clock = clock
        self.buffer = StreamBuffer(max(config.queue_size, config.burst_size) + 64 * 1024)
        self.listeners: set[Listener] = set()
        self.now_playing: TrackInfo | None = None
        self.playing: Play | None = None
        self.plays = Plays()
        self.aired = 0.0
        self._pulled: Play | None = None
        self.track_started = 0.0
        self.history: deque[tuple[TrackInfo, float]] = deque(maxlen=HISTORY_SIZE)
        self.left_sent = 0
        self.audio = AudioInfo()
        self._awaiting_audio: list[Deferred[None]] = []
        self.peak_listeners = 0
        self.hls_listeners = 0
        self.shifted_listeners = 0
        self.dropped = 0
        self.fanouts = 0
        self._slots: list[set[Listener]] = [set() for _ in range(FANOUT_SLOTS)]
        self._turn = 0
        self._blocks: dict[tuple[str, str | None], bytes] = {}
        self.on_track_change: list[Callable[[TrackInfo], None]] = []
        self.on_air: list[Deliver] = []
        self.on_listener_joined: list[Callable[[Listener], None]] = []
        self.on_listener_left: list[Callable[[Listener], None]] = []
        self.pacer: Pacer | None = None
        self.switch: Switch | None = None
        self.intro: Intro | None = None
        self._misfit: Intro | None = None
        if ILiveSource.providedBy(source):
            source.attach(self.air)
        else:
            switch = source if isinstance(source, Switch) else Switch(source, name=config.name)
            self.switch = switch
            self.pacer = Pacer(clock, switch, self.broadcast, interval=tick, name=config.name)

    def reconfigure(self, config: MountConfig) -> None:
        """
        Take new settings: new listeners get them (burst, metaint, limits,
        headers), titles are encoded in the new charset from the next
        track, and the queue size applies to everyone at once.
        """
        self.config = config
        self.queue_size = config.queue_size
        self.buffer.keep = max(
            self.buffer.keep, max(config.queue_size, config.burst_size) + 64 * 1024
        )
        self._blocks.clear()

    def start(self) -> None:
        """
        Start the source and, for a source that is not live, the pacer.
        """
        (self.switch or self.source).start()
        if self.pacer is not None:
            self.pacer.start()

    def stop(self) -> None:
        """
        Stop pacing and the source, and disconnect every listener.
        """
        if self.pacer is not None:
            self.pacer.stop()
        (self.switch or self.source).stop()
        for listener in list(self.listeners):
            listener.transport.loseConnection()
        self._audio_arrived()

    def block_for(self, track: TrackInfo) -> bytes:
        """
        The ICY metadata block announcing C{track}, encoded once per title
        (and cover art): C{StreamTitle='<title>';}, followed, on a mount
        configured with C{icy_art}, by C{StreamUrl='<URL>';} naming the
        track's cover art (see L{art_url}) when it has some to show.
        """
        title = track.stream_title
        url = self.art_url(track)
        block = self._blocks.get((title, url))
        if block is None:
            if len(self._blocks) > 64:
                self._blocks.clear()
            block = encode_metadata(title, self.config.charset, url)
            self._blocks[(title, url)] = block
        return block

    def art_url(self, track: TrackInfo) -> str | None:
        """
        The absolute URL of the cover art that ICY metadata names for
        C{track}: its own art, else the station's default picture, under
        the station's public URL; C{None} when the mount does not send art
        (C{icy_art} off, or no C{public_url}) or there is none to show.
        """
        config = self.config
        if not (config.icy_art and config.public_url):
            return None
        path = art_path(track, default=bool(config.default_art))
        return config.public_url.rstrip("/") + path if path else None

    def broadcast(self, frames: Pulled) -> None:
        """
        Air frames as a frame source hands them out: a frame marked
        C{starts} begins a new play (see L{IFrameSource.next_frame}),
        numbered by L{plays}.
        """
        play = self._pulled
        numbered: Frames = []
        for frame, track, starts in frames:
            if starts or play is None:
                play = self.plays.start(track)
            numbered.append((frame, play))
        self._pulled = play
        self.air(numbered)

    def air(self, frames: Frames) -> None:
        """
        Append frames to the buffer, one chunk per play, and let every
        listener deliver.
        """
        for observer in self.on_air:
            observer(frames)
        if self._awaiting_audio:
            # Listeners waiting for the format join before this audio, so
            # they hear it from its first frame.
            self._measure(frames, sum(len(frame.data) for frame, _ in frames))
            self._audio_arrived()
        run: list[bytes] = []
        run_size = 0
        play = frames[0][1]
        samples = 0
        total = 0
        seconds = 0.0
        for frame, frame_play in frames:
            size = len(frame.data)
            total += size
            seconds += frame.header.duration
            if frame_play.number != play.number or (run and run_size + size > CHUNK_SIZE):
                self._append(run, play)
                run = []
                run_size = 0
                play = frame_play
            run.append(frame.data)
            run_size += size
            samples += frame.header.samples
        self._append(run, play)
        self._measure(frames, total, samples)
        self.aired += seconds
        self.fanout()

    def _measure(self, frames: Frames, total: int, samples: int = 0) -> None:
        """
        Note the format of a broadcast of C{total} bytes and C{samples}
        samples (counted here when 0) in L{audio}.
        """
        if not samples:
            samples = sum(frame.header.samples for frame, _ in frames)
        last = frames[-1][0].header
        self.audio.sample_rate = last.sample_rate
        self.audio.channels = last.channels
        self.audio.bitrate = round(total * 8 * last.sample_rate / samples / 1000)

    def audio_known(self) -> Deferred[None]:
        """
        Fires once the mount's format (L{audio}) is known: at once when
        audio has been broadcast, else with the first broadcast (or when
        the mount stops).  Cancel it to stop waiting.
        """
        if self.audio.bitrate:
            return succeed(None)

        def forget(waiting: Deferred[None]) -> None:
            if waiting in self._awaiting_audio:
                self._awaiting_audio.remove(waiting)

        waiting: Deferred[None] = Deferred(forget)
        self._awaiting_audio.append(waiting)
        return waiting

    def _audio_arrived(self) -> None:
        waiting, self._awaiting_audio = self._awaiting_audio, []
        for each in waiting:
            each.callback(None)

    def fanout_stride(self) -> int:
        """
        Ticks between two deliveries to the same listener, growing with
        the number of listeners.
        """
        count = len(self.listeners)
        if count < FANOUT_SMALL:
            return 1
        return max(2, min(FANOUT_SLOTS, -(-count // FANOUT_PER_STRIDE)))

    def fanout(self) -> None:
        """
        Let the listeners whose turn it is write what they have not yet
        been sent.
        """
        self.fanouts += 1
        self._turn += 1
        stride = self.fanout_stride()
        turn = self._turn % stride
        spans: Spans = {}
        for index, slot in enumerate(self._slots):
            if index % stride == turn:
                for listener in list(slot):
                    listener.deliver(spans)

    def _append(self, run: list[bytes], play: Play) -> None:
        track = play.track
        if self.playing is None or play.number != self.playing.number:
            self.playing = play
            self.now_playing = track
            self.track_started = self._clock.seconds()
            if not track.jingle:
                self.history.appendleft((track, self.track_started))
            self._log.info(
                "Now playing on {mount}: {title}", mount=self.name, title=track.stream_title
            )
            for callback in self.on_track_change:
                callback(track)
        self.buffer.append(b"".join(run), track, self.block_for(track), play.number)

    @property
    def available(self) -> bool:
        """
        Whether this mount has audio of its own to play: a programme, or
        a live source or relay that is connected.  A mount that only plays
        live sources has none between shows.
        """
        return self.switch is None or self.switch.has_audio

    def add_listener(
        self,
        transport: ListenerTransport,
        peer: str,
        wants_metadata: bool,
        home: str = "",
        user_agent: str = "",
    ) -> Listener:
        """
        Start a listener at the burst point: register it as a streaming
        producer and send its burst now.

        The caller has already written the response headers.

        @param home: the mount the listener asked for, when this mount
            plays in its place (its fallback).
        @param user_agent: the listener's C{User-Agent}, for the admin
            interface.
        """
        metaint = self.config.metaint if wants_metadata else 0
        intro = self._intro_for_listener()
        burst = self.config.burst_size
        if intro is not None:
            # The intro stands in for as much of the burst.
            burst = max(0, burst - len(intro.data))
        listener = Listener(
            transport,
            self,
            peer,
            metaint,
            self.buffer.burst_start(burst),
            home,
        )
        listener.connected_at = self._clock.seconds()
        listener.user_agent = user_agent
        self._enrol(listener)
        for joined in self.on_listener_joined:
            joined(listener)
        transport.registerProducer(listener, True)
        if intro is not None:
            playing = self.now_playing
            listener.send_intro(intro.data, self.block_for(playing) if playing else EMPTY_BLOCK)
        self._log.info(
            "Listener {listener} from {peer} joined {mount} ({count} listening)",
            listener=listener.id,
            peer=peer,
            mount=self.name,
            count=len(self.listeners),
        )
        listener.deliver()
        return listener

    def _intro_for_listener(self) -> Intro | None:
        """
        The intro a new listener hears first: L{intro}, when there is one
        and it is in the format of the mount's audio (a mismatch is
        logged once per intro).
        """
        intro = self.intro
        if intro is None:
            return None
        audio = self.audio
        if audio.sample_rate and not intro.fits(audio.sample_rate, audio.channels):
            if self._misfit is not intro:
                self._misfit = intro
                self._log.warn(
                    "Intro {path} of {mount} is {rate} Hz, {channels} channel(s), the mount "
                    "{mount_rate} Hz, {mount_channels}; listeners join without it",
                    path=intro.path,
                    mount=self.name,
                    rate=intro.sample_rate,
                    channels=intro.channels,
                    mount_rate=audio.sample_rate,
                    mount_channels=audio.channels,
                )
            return None
        return intro

    def _enrol(self, listener: Listener) -> None:
        self.listeners.add(listener)
        slot = min(range(FANOUT_SLOTS), key=lambda index: len(self._slots[index]))
        self._slots[slot].add(listener)
        listener.slot = slot
        self.peak_listeners = max(self.peak_listeners, self.audience)

    @property
    def audience(self) -> int:
        """
        Everyone listening: the listeners connected here, the HLS
        sessions of the mount (see L{hls_listeners}) and its listeners in
        the past (see L{shifted_listeners}).
        """
        return len(self.listeners) + self.hls_listeners + self.shifted_listeners

    def shifted_listener_joined(self) -> None:
        """
        A listener joined this mount in the past (C{?offset=}), on a mount
        of its own that plays this one's kept audio.
        """
        self.shifted_listeners += 1
        self.peak_listeners = max(self.peak_listeners, self.audience)

    def shifted_listener_left(self) -> None:
        """
        A listener in this mount's past left.
        """
        self.shifted_listeners = max(0, self.shifted_listeners - 1)

    def hls_listener_joined(self) -> None:
        """
        An HLS session of this mount began.
        """
        self.hls_listeners += 1
        self.peak_listeners = max(self.peak_listeners, self.audience)

    def hls_listener_left(self) -> None:
        """
        An HLS session of this mount ended.
        """
        self.hls_listeners = max(0, self.hls_listeners - 1)

    def move_listener(self, listener: Listener, target: Mount, rehome: bool = False) -> None:
        """
        Hand a listener over to another mount without a break: it is sent
        what it has not had from here, then goes on from C{target}'s
        newest audio on the same connection.

        @param rehome: make C{target} the listener's home, so that it
            stays there when this mount has audio again (an operator's
            move); otherwise it is a fallback move and it comes back.
        """
        if listener not in self.listeners or target is self:
            return
        self._forget(listener)
        listener.move_to(target)
        if rehome:
            listener.home = target.name
        # The target counts only what it sends from now on.
        target.left_sent -= listener.sent
        target._enrol(listener)
        self._log.info(
            "Listener {listener} from {peer} moved from {mount} to {target}",
            listener=listener.id,
            peer=listener.peer,
            mount=self.name,
            target=target.name,
        )

    def remove_listener(self, listener: Listener) -> None:
        """
        Forget a listener whose connection ended.
        """
        if listener in self.listeners:
            self._forget(listener)
            for left in self.on_listener_left:
                left(listener)
            self._log.info(
                "Listener {listener} from {peer} left {mount} after {sent} bytes "
                "({count} listening)",
                listener=listener.id,
                peer=listener.peer,
                mount=self.name,
                sent=listener.sent,
                count=len(self.listeners),
            )

    def listener_dropped(self, listener: Listener, lag: int) -> None:
        """
        Count a listener disconnected for lagging.
        """
        self.dropped += 1
        self._forget(listener)
        for left in self.on_listener_left:
            left(listener)

    @property
    def bytes_sent(self) -> int:
        """
        Audio bytes sent to this mount's listeners, present and past.
        """
        return self.left_sent + sum(listener.sent for listener in self.listeners)

    def _forget(self, listener: Listener) -> None:
        if listener in self.listeners:
            self.left_sent += listener.sent
            self.listeners.discard(listener)
            self._slots[listener.slot].discard(listener)
