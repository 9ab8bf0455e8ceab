"""
Tests for L{radiod.broadcast.mount}, L{radiod.broadcast.listener} and
L{radiod.broadcast.buffer}: the
shared buffer, fan-out, ICY interleaving and backpressure, driven by hand
on StringTransports and a Clock.
"""

from __future__ import annotations

from dataclasses import replace

from twisted.internet.interfaces import IPushProducer
from twisted.internet.task import Clock
from twisted.logger import capturedLogs
from twisted.trial.unittest import SynchronousTestCase
from zope.interface.verify import verifyObject

from radiod.audio.frames import parse_header
from radiod.audio.icy import encode_metadata
from radiod.audio.track import Cue, Play, TrackInfo
from radiod.broadcast.buffer import StreamBuffer
from radiod.broadcast.listener import MAX_WRITE, Listener
from radiod.broadcast.mount import Mount
from radiod.broadcast.switch import Switch
from radiod.config import MountConfig, StationConfig
from radiod.interfaces import Frames, IFrameSource
from radiod.testing import FakeFrameSource, ListenerCapture, SlowTransport, silent_frame

FRAME = silent_frame(fill=0x55)
FRAME_SIZE = len(FRAME.data)
ALPHA = TrackInfo("/a.mp3", "First Song", "Alpha Artist")
BETA = TrackInfo("/b.mp3", "Second Song", "Beta Artist")


def frame_aligned(audio: bytes | bytearray) -> bool:
    """
    Whether C{audio} is a whole number of our test frames.
    """
    if len(audio) % FRAME_SIZE:
        return False
    return all(parse_header(audio, i) is not None for i in range(0, len(audio), FRAME_SIZE))


class BufferTests(SynchronousTestCase):
    """
    L{StreamBuffer} keeps a bounded window of chunks at absolute offsets.
    """

    def test_append_and_trim(self) -> None:
        """
        Chunks get consecutive offsets; whole chunks older than C{keep}
        bytes are forgotten.
        """
        buffer = StreamBuffer(keep=1000)
        for _ in range(10):
            buffer.append(b"x" * 300, ALPHA, b"\x00")
        self.assertEqual(buffer.head, 3000)
        self.assertEqual(buffer.tail, 1800)
        self.assertEqual(len(buffer), 1200)

    def test_burst_start_on_chunk_boundary(self) -> None:
        """
        The burst point is the oldest chunk start within the burst size,
        or the head for a burst of zero.
        """
        buffer = StreamBuffer(keep=10000)
        for _ in range(10):
            buffer.append(b"x" * 300, ALPHA, b"\x00")
        self.assertEqual(buffer.burst_start(1000), 2100)
        self.assertEqual(buffer.burst_start(0), 3000)
        self.assertEqual(buffer.burst_start(10**6), 0)

    def test_read_from_middle(self) -> None:
        """
        Reading from an offset inside a chunk starts at that byte.
        """
        buffer = StreamBuffer(keep=10000)
        buffer.append(b"abc", ALPHA, b"\x00")
        buffer.append(b"def", BETA, b"\x00")
        got = [(bytes(c.view[o:]), c.track) for c, o in buffer.read(1)]
        self.assertEqual(got, [(b"bc", ALPHA), (b"def", BETA)])
        self.assertEqual(list(buffer.read(6)), [])
        self.assertRaises(IndexError, lambda: list(buffer.read(7)))


class MountTests(SynchronousTestCase):
    """
    A L{Mount} fans one paced stream out to many listeners.
    """

    def build(
        self,
        segments: list[tuple[TrackInfo, object, int]] | None = None,
        **settings: object,
    ) -> tuple[Clock, Mount]:
        """
        A started mount on a Clock, playing ALPHA then BETA (100 frames
        each) unless told otherwise.
        """
        clock = Clock()
        source = FakeFrameSource(segments or [(ALPHA, FRAME, 100), (BETA, FRAME, 100)])  # type: ignore[arg-type]
        config = replace(MountConfig(name="/test"), **settings)  # type: ignore[arg-type]
        mount = Mount(config, source, clock)
        mount.start()
        self.addCleanup(mount.stop)
        return clock, mount

    def test_plays_numbered(self) -> None:
        """
        Frames pulled from a source are aired as numbered plays: frames
        go on as the same play across broadcasts until one marked
        C{starts} begins the next play (even of the same track), which the
        mount's history records.
        """
        mount = Mount(MountConfig(name="/test"), Switch(None, name="/test"), Clock())
        aired: list[Frames] = []
        mount.on_air.append(aired.append)
        mount.broadcast([Cue(FRAME, ALPHA, True), Cue(FRAME, ALPHA)])
        mount.broadcast([Cue(FRAME, ALPHA), Cue(FRAME, BETA, True)])
        mount.broadcast([Cue(FRAME, ALPHA, True)])
        plays = [play for batch in aired for _, play in batch]
        self.assertEqual([play.number for play in plays], [1, 1, 1, 2, 3])
        self.assertEqual([play.track for play in plays], [ALPHA] * 3 + [BETA, ALPHA])
        self.assertEqual(mount.playing, Play(3, ALPHA))
        self.assertEqual([track for track, _ in mount.history], [ALPHA, BETA, ALPHA])

    def test_air_plays(self) -> None:
        """
        Plays already numbered (a live source's) keep their numbers, and
        a chunk of the buffer holds the frames of one play under its
        number.
        """
        mount = Mount(MountConfig(name="/test"), Switch(None, name="/test"), Clock())
        mount.air([(FRAME, Play(7, ALPHA)), (FRAME, Play(7, ALPHA)), (FRAME, Play(8, ALPHA))])
        self.assertEqual(mount.playing, Play(8, ALPHA))
        chunks = [chunk for chunk, _ in mount.buffer.read(mount.buffer.tail)]
        self.assertEqual(
            [(chunk.play, len(chunk.data)) for chunk in chunks],
            [(7, 2 * FRAME_SIZE), (8, FRAME_SIZE)],
        )
        self.assertEqual(len(mount.history), 2)

    def listen(
        self, mount: Mount, metadata: bool = True, threshold: int = 10**9
    ) -> tuple[SlowTransport, Listener]:
        """
        Connect a listener on a L{SlowTransport}.
        """
        transport = SlowTransport(threshold)
        listener = mount.add_listener(transport, "127.0.0.1:5000", metadata)
        return transport, listener

    def test_interfaces(self) -> None:
        """
        Listeners are push producers and the fake source is a frame source.
        """
        clock, mount = self.build()
        transport, listener = self.listen(mount)
        self.assertTrue(verifyObject(IPushProducer, listener))
        self.assertTrue(verifyObject(IFrameSource, mount.source))
        self.assertIs(transport.producer, listener)
        self.assertTrue(transport.streaming)

    def test_burst_on_connect(self) -> None:
        """
        A new listener at once receives up to burst-size bytes of recent
        audio, starting on a frame boundary.
        """
        clock, mount = self.build(burst_size=8000)
        clock.pump([0.1] * 50)
        transport, listener = self.listen(mount, metadata=False)
        audio = transport.value()
        self.assertTrue(8000 - 2 * 2000 < len(audio) <= 8000, len(audio))
        self.assertTrue(frame_aligned(audio))

    def test_zero_burst(self) -> None:
        """
        With a burst size of zero a listener starts at the head and gets
        nothing until the next tick.
        """
        clock, mount = self.build(burst_size=0)
        clock.advance(5)
        transport, listener = self.listen(mount, metadata=False)
        self.assertEqual(transport.value(), b"")
        clock.advance(0.1)
        self.assertTrue(frame_aligned(transport.value()))
        self.assertTrue(transport.value())

    def test_full_rate(self) -> None:
        """
        A listener that keeps up receives exactly the audio sent, at the
        stream's rate: one frame per frame duration.
        """
        clock, mount = self.build(burst_size=0)
        transport, listener = self.listen(mount, metadata=False)
        clock.pump([0.1] * 100)
        frames = len(transport.value()) / FRAME_SIZE
        expected = 10.0 / FRAME.duration
        self.assertTrue(expected - 1 <= frames <= expected + 2, frames)

    def test_metadata_interleaved_every_metaint(self) -> None:
        """
        With Icy-MetaData, a block follows every metaint audio bytes; the
        first is the current title and later unchanged ones are one zero
        byte.
        """
        clock, mount = self.build(metaint=1000)
        clock.advance(1)
        transport, listener = self.listen(mount)
        clock.advance(0.5)
        capture = ListenerCapture()
        capture.feed(b"HTTP/1.0 200 OK\r\nicy-metaint:1000\r\n\r\n" + transport.value())
        self.assertEqual(capture.titles, [(1000, "Alpha Artist - First Song")])
        self.assertEqual(capture.blocks, len(capture.audio) // 1000)
        self.assertTrue(
            frame_aligned(capture.audio[: len(capture.audio) // FRAME_SIZE * FRAME_SIZE])
        )

    def test_title_changes_at_audio_position(self) -> None:
        """
        A listener gets the new title at the first metadata point after
        the audio of the new track begins, wherever it started listening,
        not when the server moved on.
        """
        clock, mount = self.build(metaint=700, burst_size=30000)
        clock.advance(100 * FRAME.duration - 1.0)
        late = ListenerCapture()
        late.feed(b"HTTP/1.0 200 OK\r\nicy-metaint:700\r\n\r\n")
        transport, listener = self.listen(mount)
        clock.advance(2.0)
        late.feed(transport.value())
        change = 100 * FRAME_SIZE - listener_start(mount, listener, late)
        titles = late.titles
        self.assertEqual(titles[0], (700, "Alpha Artist - First Song"))
        self.assertEqual(titles[1][1], "Beta Artist - Second Song")
        self.assertTrue(change <= titles[1][0] < change + 700, (change, titles))

    def test_paused_listener_catches_up(self) -> None:
        """
        A listener paused by its transport receives nothing while paused,
        and everything it missed, in order, when resumed.
        """
        clock, mount = self.build(burst_size=0, metaint=1000)
        transport, listener = self.listen(mount)
        start = listener.position
        clock.pump([0.1] * 10)
        listener.pauseProducing()
        before = len(transport.value())
        clock.pump([0.1] * 20)
        self.assertEqual(len(transport.value()), before)
        listener.resumeProducing()
        capture = ListenerCapture()
        capture.feed(b"HTTP/1.0 200 OK\r\nicy-metaint:1000\r\n\r\n" + transport.value())
        self.assertEqual(len(capture.audio), mount.buffer.head - start)
        self.assertTrue(
            frame_aligned(capture.audio[: len(capture.audio) // FRAME_SIZE * FRAME_SIZE])
        )

    def test_catch_up_in_bounded_writes(self) -> None:
        """
        A listener far behind catches up in writes of at most MAX_WRITE
        audio bytes, so its transport never buffers more than that, and
        ends up at the head with nothing lost or duplicated.
        """
        clock, mount = self.build(burst_size=0, queue_size=400000, metaint=5000)
        transport, listener = self.listen(mount)
        start = listener.position
        listener.pauseProducing()
        clock.pump([0.1] * 150)
        self.assertGreater(listener.lag, 3 * MAX_WRITE)
        before = bytes(transport.value())
        transport.clear()
        writes = []
        received = bytearray(before)
        listener.resumeProducing()
        while True:
            data = transport.value()
            transport.clear()
            writes.append(len(data))
            received += data
            if not listener.lag:
                break
            listener.deliver()
        self.assertTrue(all(size <= MAX_WRITE + 5 * 300 for size in writes), writes)
        self.assertGreater(len(writes), 3)
        capture = ListenerCapture()
        capture.feed(b"HTTP/1.0 200 OK\r\nicy-metaint:5000\r\n\r\n" + bytes(received))
        self.assertEqual(len(capture.audio), mount.buffer.head - start)
        self.assertTrue(
            frame_aligned(capture.audio[: len(capture.audio) // FRAME_SIZE * FRAME_SIZE])
        )
        self.assertEqual(capture.blocks, len(capture.audio) // 5000)

    def test_transport_backpressure(self) -> None:
        """
        A transport that fills pauses the listener from inside the write;
        draining it resumes the listener, which catches up.
        """
        clock, mount = self.build(burst_size=0, queue_size=200000)
        transport, listener = self.listen(mount, metadata=False, threshold=10000)
        start = listener.position
        clock.pump([0.1] * 5)
        self.assertFalse(listener.paused)
        clock.pump([0.1] * 10)
        self.assertTrue(listener.paused)
        self.assertTrue(transport.paused_producer)
        self.assertLess(listener.position, mount.buffer.head)
        received = transport.drain()
        self.assertEqual(listener.position, mount.buffer.head)
        clock.pump([0.1] * 3)
        received += transport.drain()
        received += transport.drain()
        self.assertEqual(len(received), mount.buffer.head - start)

    def test_slow_listener_dropped(self) -> None:
        """
        A listener lagging more than the queue size is disconnected and
        logged, while another listener keeps full rate.
        """
        clock, mount = self.build(burst_size=1000, queue_size=20000)
        slow, slow_listener = self.listen(mount, metadata=False, threshold=100)
        fast, fast_listener = self.listen(mount, metadata=False)
        with capturedLogs() as events:
            clock.pump([0.1] * 30)
        self.assertTrue(slow.aborted)
        self.assertNotIn(slow_listener, mount.listeners)
        self.assertIn(fast_listener, mount.listeners)
        self.assertEqual(mount.dropped, 1)
        self.assertTrue(any("fell" in e["log_format"] and e["peer"] for e in events))
        self.assertEqual(fast_listener.position, mount.buffer.head)

    def test_fanout_coalesces_with_many_listeners(self) -> None:
        """
        With a handful of listeners every tick is delivered to all; with
        thousands, each listener gets one write every five ticks, the slots
        taking turns so each tick serves about a fifth of them, and every
        listener still receives every byte, in order.
        """
        clock, mount = self.build(burst_size=0)
        few = [self.listen(mount, metadata=False) for _ in range(3)]
        clock.pump([0.1] * 10)
        self.assertEqual(mount.fanout_stride(), 1)
        counts = [len(t.written_chunks) for t, _ in few]
        self.assertTrue(all(9 <= c <= 11 for c in counts), counts)
        crowd = [self.listen(mount, metadata=False) for _ in range(3000)]
        self.assertEqual(mount.fanout_stride(), 5)
        for transport, _ in few + crowd:
            transport.written_chunks.clear()
        served: list[int] = []
        for _ in range(50):
            before = sum(len(t.written_chunks) for t, _ in crowd)
            clock.advance(0.1)
            served.append(sum(len(t.written_chunks) for t, _ in crowd) - before)
        self.assertTrue(all(550 <= n <= 650 for n in served[1:]), served)
        for transport, listener in few + crowd[:20]:
            self.assertTrue(9 <= len(transport.written_chunks) <= 11)
            self.assertLessEqual(mount.buffer.head - listener.position, 25 * FRAME_SIZE)
            self.assertEqual(len(transport.value()), listener.sent)
            self.assertTrue(frame_aligned(transport.value()))
        leaving = crowd[0][1]
        leaving.stopProducing()
        self.assertNotIn(leaving, mount.listeners)

    def test_listener_leaves(self) -> None:
        """
        stopProducing (connection lost) removes the listener.
        """
        clock, mount = self.build()
        transport, listener = self.listen(mount)
        listener.stopProducing()
        self.assertEqual(mount.listeners, set())

    def test_history_and_bytes_sent(self) -> None:
        """
        The mount remembers the tracks it played, newest first with the
        time each began, and counts the bytes sent to listeners who left
        as well as those still listening.
        """
        clock, mount = self.build(burst_size=0)
        clock.advance(1)
        self.assertEqual([(t.title, at) for t, at in mount.history], [("First Song", 0.0)])
        first, one = self.listen(mount, metadata=False)
        second, two = self.listen(mount, metadata=False)
        clock.pump([0.1] * 30)
        self.assertEqual([t.title for t, at in mount.history], ["Second Song", "First Song"])
        started = mount.history[0][1]
        self.assertTrue(abs(started - 100 * FRAME.duration) <= 0.2, started)
        one.stopProducing()
        clock.advance(1)
        self.assertEqual(mount.bytes_sent, len(first.value()) + len(second.value()))
        self.assertGreater(len(second.value()), len(first.value()))

    def test_audio_info(self) -> None:
        """
        The mount reports the bitrate, sample rate and channels it plays.
        """
        clock, mount = self.build()
        clock.advance(1)
        self.assertEqual(
            (mount.audio.bitrate, mount.audio.sample_rate, mount.audio.channels),
            (128, 44100, 2),
        )

    def test_block_cache(self) -> None:
        """
        Each title is encoded once and shared.
        """
        clock, mount = self.build(charset="latin-1")
        self.assertIs(mount.block_for(ALPHA), mount.block_for(replace(ALPHA)))
        self.assertEqual(
            mount.block_for(ALPHA), encode_metadata("Alpha Artist - First Song", "latin-1")
        )


class IcyArtTests(SynchronousTestCase):
    """
    A mount configured with C{icy_art} names the cover art of each track
    in its ICY metadata blocks, after the title.
    """

    def mount(self, public_url: str = "", default_art: str = "") -> Mount:
        """
        A mount with C{icy_art} of a station with the given keys.
        """
        station = StationConfig(
            public_url=public_url,
            default_art=default_art,
            mounts=(MountConfig(name="/test", icy_art=True),),
        )
        return Mount(station.mounts[0], FakeFrameSource([]), Clock())

    def test_block(self) -> None:
        """
        The block holds C{StreamUrl} with the art's absolute URL under the
        station's public URL, after C{StreamTitle}, NUL-padded to whole
        16-byte units counted by its first byte.
        """
        mount = self.mount(public_url="https://radio.example.org/")
        block = mount.block_for(replace(ALPHA, art="0123456789abcdef"))
        self.assertEqual(
            block,
            b"\x07StreamTitle='Alpha Artist - First Song';"
            b"StreamUrl='https://radio.example.org/art/0123456789abcdef';" + b"\x00" * 13,
        )

    def test_default(self) -> None:
        """
        A track without art is given the station's default picture when
        there is one, and no C{StreamUrl} otherwise.
        """
        mount = self.mount(public_url="http://radio.example:8000/radio")
        self.assertEqual(mount.block_for(ALPHA), encode_metadata("Alpha Artist - First Song"))
        mount = self.mount(public_url="http://radio.example:8000/radio", default_art="/c.png")
        self.assertEqual(
            mount.block_for(ALPHA),
            encode_metadata(
                "Alpha Artist - First Song", url="http://radio.example:8000/radio/art/default"
            ),
        )

    def test_off(self) -> None:
        """
        Without C{icy_art} (the default), or without a public URL, the
        block holds the title alone.
        """
        track = replace(ALPHA, art="0123456789abcdef")
        title = encode_metadata("Alpha Artist - First Song")
        station = StationConfig(
            public_url="https://radio.example.org", mounts=(MountConfig(name="/test"),)
        )
        self.assertEqual(
            Mount(station.mounts[0], FakeFrameSource([]), Clock()).block_for(track), title
        )
        self.assertEqual(self.mount().block_for(track), title)

    def test_listener_hears_url(self) -> None:
        """
        A listener asking for metadata gets the block with the URL, and
        the block changes when the station's public URL does.
        """
        track = replace(ALPHA, art="0123456789abcdef")
        clock = Clock()
        config = StationConfig(
            public_url="https://radio.example.org",
            mounts=(MountConfig(name="/test", icy_art=True, metaint=1000),),
        ).mounts[0]
        mount = Mount(config, FakeFrameSource([(track, FRAME, 100)]), clock)
        mount.start()
        self.addCleanup(mount.stop)
        transport = SlowTransport(10**9)
        mount.add_listener(transport, "127.0.0.1:5000", True)
        clock.pump([0.1] * 5)
        url = b"StreamUrl='https://radio.example.org/art/0123456789abcdef';"
        self.assertIn(url, transport.value())
        mount.reconfigure(replace(config, public_url="https://other.example.org"))
        self.assertIn(b"other.example.org/art/", mount.block_for(track))


def listener_start(mount: Mount, listener: Listener, capture: ListenerCapture) -> int:
    """
    The absolute stream offset where C{listener} started.
    """
    return listener.position - len(capture.audio)
