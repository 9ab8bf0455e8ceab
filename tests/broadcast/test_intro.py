"""
Tests for L{radiod.broadcast.intro}: reading an intro, and a mount
sending it to each new listener before the stream.
"""

from __future__ import annotations

import os
from dataclasses import replace

from twisted.internet.task import Clock
from twisted.logger import capturedLogs, formatEvent
from twisted.trial.unittest import SynchronousTestCase

from radiod.audio.track import TrackInfo
from radiod.broadcast.intro import MAX_INTRO, Intro, read_intro
from radiod.broadcast.mount import Mount
from radiod.config import MountConfig
from radiod.testing import FakeFrameSource, ListenerCapture, SlowTransport, silent_frame
from tests.support.loopback import FIXTURES

STREAM_FRAME = silent_frame(fill=0x55)
INTRO_FRAME = silent_frame(fill=0x33)
TRACK = TrackInfo("/a.mp3", "First Song", "Alpha Artist")


def intro_of(frames: int, sample_rate: int = 44100) -> Intro:
    frame = silent_frame(fill=0x33, sample_rate=sample_rate)
    return Intro("intro.mp3", frame.data * frames, sample_rate, 2, frames * frame.duration)


class ReadTests(SynchronousTestCase):
    """
    L{read_intro} keeps an MP3 file's whole frames and its format.
    """

    def write(self, data: bytes) -> str:
        path = str(self.mktemp())
        with open(path, "wb") as f:
            f.write(data)
        return path

    def test_frames(self) -> None:
        """
        Tags and a partial frame at the end are left out; the format and
        length are the first frame's and the frames'.
        """
        tag = b"ID3\x04\x00\x00\x00\x00\x00\x0a" + b"\x00" * 10
        path = self.write(tag + INTRO_FRAME.data * 20 + INTRO_FRAME.data[:100])
        intro = read_intro(path)
        self.assertEqual(intro.data, INTRO_FRAME.data * 20)
        self.assertEqual((intro.sample_rate, intro.channels), (44100, 2))
        self.assertAlmostEqual(intro.seconds, 20 * INTRO_FRAME.duration)
        self.assertEqual(intro.path, path)

    def test_real_file(self) -> None:
        """
        A real MP3 file is read whole.
        """
        path = os.path.join(FIXTURES, "alpha-artist-first-song.mp3")
        intro = read_intro(path)
        self.assertGreater(intro.seconds, 0.5)
        self.assertLessEqual(len(intro.data), os.path.getsize(path))

    def test_bad_files(self) -> None:
        """
        A file without MP3 audio, or too large, is refused with a reason;
        one that is not there raises L{OSError}.
        """
        with self.assertRaises(ValueError) as caught:
            read_intro(self.write(b"OggS" + b"\x00" * 5000))
        self.assertEqual(str(caught.exception), "no MP3 audio in it")
        with self.assertRaises(ValueError) as caught:
            read_intro(self.write(INTRO_FRAME.data * (MAX_INTRO // len(INTRO_FRAME.data) + 1)))
        self.assertEqual(str(caught.exception), "larger than 4 MiB")
        self.assertRaises(OSError, read_intro, self.mktemp())


class MountIntroTests(SynchronousTestCase):
    """
    A mount with an intro sends it to each new listener, then the stream
    from a burst shortened by the intro's length.
    """

    def build(self, **settings: object) -> tuple[Clock, Mount]:
        clock = Clock()
        source = FakeFrameSource([(TRACK, STREAM_FRAME, 10000)])
        config = replace(MountConfig(name="/test"), **settings)  # type: ignore[arg-type]
        mount = Mount(config, source, clock)
        mount.start()
        self.addCleanup(mount.stop)
        clock.pump([0.1] * 100)
        return clock, mount

    def capture(self, transport: SlowTransport, metaint: int) -> ListenerCapture:
        capture = ListenerCapture()
        head = (
            f"HTTP/1.0 200 OK\r\nicy-metaint:{metaint}\r\n\r\n"
            if metaint
            else "HTTP/1.0 200 OK\r\n\r\n"
        )
        capture.feed(head.encode() + transport.value())
        return capture

    def test_intro_first(self) -> None:
        """
        The intro comes first, whole; the stream follows from a burst
        shortened by the intro's length (to the chunk boundary at or
        after it); the ICY metadata runs on across the join, the first
        block announcing the title on air.
        """
        clock, mount = self.build(metaint=1000, burst_size=16000)
        mount.intro = intro_of(10)
        intro_size = len(mount.intro.data)
        transport = SlowTransport(10**9)
        listener = mount.add_listener(transport, "127.0.0.1:5000", True)
        capture = self.capture(transport, 1000)
        audio = bytes(capture.audio)
        self.assertEqual(audio[:intro_size], mount.intro.data)
        stream = audio[intro_size:]
        self.assertTrue(stream, "no stream after the intro")
        self.assertEqual(stream, STREAM_FRAME.data * (len(stream) // len(STREAM_FRAME.data)))
        self.assertLessEqual(len(stream), 16000 - intro_size)
        self.assertEqual(listener.position - len(stream), mount.buffer.head - len(stream))
        self.assertEqual(capture.titles[0], (1000, "Alpha Artist - First Song"))
        self.assertEqual(capture.blocks, len(audio) // 1000)
        # The title is sent once, not again where the stream begins.
        self.assertEqual(len(capture.titles), 1)
        clock.pump([0.1] * 20)
        more = self.capture(transport, 1000)
        self.assertEqual(bytes(more.audio[: len(audio)]), audio)
        self.assertEqual(more.blocks, len(more.audio) // 1000)

    def test_without_metadata(self) -> None:
        """
        A listener that asked for no metadata gets the intro as it is.
        """
        clock, mount = self.build(burst_size=16000)
        mount.intro = intro_of(5)
        transport = SlowTransport(10**9)
        mount.add_listener(transport, "127.0.0.1:5000", False)
        self.assertTrue(transport.value().startswith(mount.intro.data))

    def test_longer_than_burst(self) -> None:
        """
        An intro longer than the burst leaves no burst: the stream joins
        at the head.
        """
        clock, mount = self.build(burst_size=4000)
        mount.intro = intro_of(20)
        transport = SlowTransport(10**9)
        mount.add_listener(transport, "127.0.0.1:5000", False)
        self.assertEqual(transport.value(), mount.intro.data)

    def test_other_format(self) -> None:
        """
        An intro at another sample rate than the mount's audio is not
        sent, and that is logged once.
        """
        clock, mount = self.build(burst_size=8000)
        mount.intro = intro_of(5, sample_rate=48000)
        with capturedLogs() as events:
            for _ in range(3):
                transport = SlowTransport(10**9)
                mount.add_listener(transport, "127.0.0.1:5000", False)
                self.assertTrue(transport.value().startswith(STREAM_FRAME.data))
        lines = [formatEvent(e) for e in events if "Intro" in formatEvent(e)]
        self.assertEqual(
            lines,
            [
                "Intro intro.mp3 of /test is 48000 Hz, 2 channel(s), the mount 44100 Hz, 2; "
                "listeners join without it"
            ],
        )
