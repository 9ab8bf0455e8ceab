"""
Tests for L{radiod.station.feed} and the worker-side L{radiod.station.worker.FeedSource}.
"""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st
from twisted.internet.error import ConnectionLost
from twisted.trial.unittest import SynchronousTestCase
from zope.interface.verify import verifyObject

from radiod.audio.track import TrackInfo
from radiod.config import MountConfig, StationConfig
from radiod.interfaces import Frames, ILiveSource
from radiod.station.feed import (
    AudioMessage,
    ControlMessage,
    FeedDecoder,
    FeedError,
    TrackMessage,
    encode_audio,
    encode_control,
    encode_track,
    split_frames,
)
from radiod.station.worker import FeedSource, StationLink, config_from_json, config_to_json
from radiod.testing import silent_frame

TRACK = TrackInfo(
    "/music/caf\u00e9.mp3",
    "Caf\u00e9 Song",
    "\u6771\u4eac Band",
    "Album",
    201.5,
    requested=True,
    art="0123456789abcdef",
)
FRAMES = [silent_frame(), silent_frame(padding=True), silent_frame(bitrate=320)]


class FeedTests(SynchronousTestCase):
    """
    Feed messages survive encoding and decoding, in pieces of any size.
    """

    def stream(self) -> bytes:
        return (
            encode_track(0, 7, TRACK)
            + encode_audio(0, 7, FRAMES)
            + encode_audio(1, 8, b"".join(f.data for f in FRAMES))
        )

    def test_round_trip(self) -> None:
        """
        Track and audio messages decode to what was encoded.
        """
        messages = FeedDecoder().feed(self.stream())
        audio = b"".join(f.data for f in FRAMES)
        self.assertEqual(
            messages,
            [TrackMessage(0, 7, TRACK), AudioMessage(0, 7, audio), AudioMessage(1, 8, audio)],
        )

    def test_any_split(self) -> None:
        """
        Feeding the bytes in two pieces, split anywhere, gives the same
        messages.
        """
        data = self.stream()
        whole = FeedDecoder().feed(data)
        for cut in range(len(data) + 1):
            decoder = FeedDecoder()
            self.assertEqual(decoder.feed(data[:cut]) + decoder.feed(data[cut:]), whole)

    def test_split_frames(self) -> None:
        """
        Audio bytes split back into the frames they were made of; bytes
        that are not whole frames are refused.
        """
        audio = b"".join(f.data for f in FRAMES)
        self.assertEqual(split_frames(audio), FRAMES)
        self.assertRaises(FeedError, split_frames, audio[:-1])
        self.assertRaises(FeedError, split_frames, b"junk" + audio)

    def test_bad_messages(self) -> None:
        """
        Unknown kinds, oversized lengths and malformed tracks are errors.
        """
        self.assertRaises(FeedError, FeedDecoder().feed, b"X\x00\x00\x00\x00")
        self.assertRaises(FeedError, FeedDecoder().feed, b"A\xff\xff\xff\xff")
        self.assertRaises(FeedError, FeedDecoder().feed, b"T\x00\x00\x00\x02{}")
        self.assertRaises(FeedError, FeedDecoder().feed, b"A\x00\x00\x00\x01x")

    @given(st.binary(max_size=200))
    def test_arbitrary_bytes(self, data: bytes) -> None:
        """
        Arbitrary bytes give messages or L{FeedError}, nothing else.
        """
        try:
            FeedDecoder().feed(data)
        except FeedError:
            pass

    def test_config_round_trip(self) -> None:
        """
        A worker rebuilds exactly the configuration the main process has.
        """
        config = StationConfig(
            port=9000,
            workers=3,
            mounts=(MountConfig(name="/a", genre="Jazz"), MountConfig(name="/b", metaint=8192)),
        )
        self.assertEqual(config_from_json(config_to_json(config)), config)


class FeedSourceTests(SynchronousTestCase):
    """
    The worker's source turns feed messages into frames with tracks.
    """

    def test_delivers_frames_with_tracks(self) -> None:
        """
        Audio is delivered as frames of the announced play, under its
        number, so a repeated track is a new play.
        """
        source = FeedSource("/stream")
        self.assertTrue(verifyObject(ILiveSource, source))
        got: list[Frames] = []
        source.attach(got.append)
        decoder = FeedDecoder()
        for message in decoder.feed(
            encode_track(0, 1, TRACK)
            + encode_audio(0, 1, FRAMES)
            + encode_track(0, 2, TRACK)
            + encode_audio(0, 2, FRAMES[:1])
        ):
            assert not isinstance(message, ControlMessage)
            source.receive(message)
        self.assertEqual([frame for frame, _ in got[0]], FRAMES)
        self.assertEqual(got[0][0][1].track, TRACK)
        self.assertNotEqual(got[0][0][1].number, got[1][0][1].number)
        self.assertEqual(got[0][0][1].number, got[0][2][1].number)

    def test_audio_before_track(self) -> None:
        """
        Audio of a play never announced still plays, with an empty title.
        """
        source = FeedSource("/stream")
        got: list[Frames] = []
        source.attach(got.append)
        for message in FeedDecoder().feed(encode_audio(0, 5, FRAMES)):
            assert not isinstance(message, ControlMessage)
            source.receive(message)
        self.assertEqual(got[0][0][1].track.title, "")


class ControlTests(SynchronousTestCase):
    """
    Control messages, and L{StationLink}: a worker's requests to the main
    process and their answers.
    """

    def test_round_trip(self) -> None:
        """
        A control message comes back as the same JSON object, however the
        bytes are split; a payload that is not a JSON object is refused.
        """
        data = encode_control({"id": 7, "admit": "2001:db8::1"}) + encode_control({"ready": True})
        decoder = FeedDecoder()
        messages = [m for byte in range(len(data)) for m in decoder.feed(data[byte : byte + 1])]
        self.assertEqual(
            messages,
            [ControlMessage({"id": 7, "admit": "2001:db8::1"}), ControlMessage({"ready": True})],
        )
        for payload in (b"[1]", b"{not json"):
            with self.assertRaises(FeedError):
                FeedDecoder().feed(b"C" + len(payload).to_bytes(4, "big") + payload)

    def test_link(self) -> None:
        """
        Each request goes out with its own number and fires when the
        answer with that number comes back; a release needs no answer;
        when the main process is gone, whatever waits fails.
        """
        written: list[bytes] = []
        link = StationLink(written.append)
        admitted = link.admit("192.0.2.1")
        delay = link.failed("192.0.2.1")
        reply = link.forward(b"GET /admin/stats HTTP/1.0\r\n\r\n", "192.0.2.1")
        link.release("192.0.2.1")
        sent = [m.fields for m in FeedDecoder().feed(b"".join(written))]  # type: ignore[union-attr]
        self.assertEqual(
            [sorted(fields) for fields in sent],
            [["admit", "id"], ["failed", "id"], ["client", "id", "request"], ["release"]],
        )
        link.answered(ControlMessage({"id": sent[1]["id"], "delay": 2.0}))
        link.answered(ControlMessage({"id": sent[0]["id"], "admitted": False}))
        self.assertEqual(self.successResultOf(admitted), False)
        self.assertEqual(self.successResultOf(delay), 2.0)
        self.assertNoResult(reply)
        link.lost()
        self.failureResultOf(reply, ConnectionLost)
