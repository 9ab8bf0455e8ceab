"""
Tests for the shared fakes in L{radiod.testing}: they must behave like the
real things they stand in for.
"""

from __future__ import annotations

from twisted.internet.interfaces import IPushProducer
from twisted.trial.unittest import SynchronousTestCase
from zope.interface import implementer
from zope.interface.verify import verifyObject

from radiod.audio.icy import encode_metadata
from radiod.audio.track import TrackInfo
from radiod.interfaces import IFrameSource
from radiod.testing import (
    FakeFrameSource,
    ListenerCapture,
    SlowTransport,
    silent_frame,
    synchronous_runner,
)


@implementer(IPushProducer)
class RecordingProducer:
    def __init__(self) -> None:
        self.calls: list[str] = []

    def pauseProducing(self) -> None:
        self.calls.append("pause")

    def resumeProducing(self) -> None:
        self.calls.append("resume")

    def stopProducing(self) -> None:
        self.calls.append("stop")


class FakesTests(SynchronousTestCase):
    """
    Each fake keeps the contract of what it replaces.
    """

    def test_fake_frame_source(self) -> None:
        """
        The fake source provides IFrameSource, plays its segments in
        order, repeats, and returns nothing while not ready.
        """
        a, b = TrackInfo("/a", "A"), TrackInfo("/b", "B")
        source = FakeFrameSource([(a, silent_frame(), 2), (b, silent_frame(bitrate=64), 1)])
        self.assertTrue(verifyObject(IFrameSource, source))
        tracks = []
        for _ in range(6):
            item = source.next_frame()
            assert item is not None
            tracks.append(item[1])
        self.assertEqual(tracks, [a, a, b, a, a, b])
        source.ready = False
        self.assertIsNone(source.next_frame())

    def test_slow_transport_pauses_and_resumes(self) -> None:
        """
        The slow transport pauses its streaming producer past its
        threshold, once, and resumes it when drained, like a TCP transport.
        """
        transport = SlowTransport(threshold=10)
        producer = RecordingProducer()
        transport.registerProducer(producer, True)
        transport.write(b"x" * 5)
        self.assertEqual(producer.calls, [])
        transport.write(b"x" * 6)
        transport.write(b"x")
        self.assertEqual(producer.calls, ["pause"])
        self.assertEqual(transport.drain(), b"x" * 12)
        self.assertEqual(producer.calls, ["pause", "resume"])

    def test_synchronous_runner(self) -> None:
        """
        The runner returns a fired Deferred with the result or the error.
        """
        self.assertEqual(self.successResultOf(synchronous_runner(lambda: 3)), 3)
        failure = self.failureResultOf(synchronous_runner(lambda: 1 // 0))
        self.assertTrue(failure.check(ZeroDivisionError))

    def test_listener_capture(self) -> None:
        """
        The capture separates headers, audio and titles with their audio
        offsets.
        """
        block = encode_metadata("Artist - Title")
        stream = b"a" * 4 + block + b"b" * 4 + b"\x00" + b"c" * 2
        capture = ListenerCapture()
        head = b"HTTP/1.0 200 OK\r\nicy-metaint:4\r\nicy-name:X\r\n\r\n"
        for i in range(0, len(head + stream), 3):
            capture.feed((head + stream)[i : i + 3])
        self.assertEqual(capture.status_line, "HTTP/1.0 200 OK")
        self.assertEqual(capture.headers["icy-name"], "X")
        self.assertEqual(bytes(capture.audio), b"aaaabbbbcc")
        self.assertEqual(capture.titles, [(4, "Artist - Title")])
        self.assertEqual(capture.blocks, 2)
