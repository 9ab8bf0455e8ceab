"""
Tests for the spans of L{radiod.broadcast.listener}: audio joined once per
fan-out and cut at each listener's metadata positions gives every
listener exactly the bytes it would get on its own.
"""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st
from twisted.trial.unittest import SynchronousTestCase

from radiod.audio.icy import EMPTY_BLOCK
from radiod.audio.track import TrackInfo
from radiod.broadcast.buffer import StreamBuffer
from radiod.broadcast.listener import Listener, Spans, span
from radiod.testing import SlowTransport


class Host:
    """
    What a listener needs of a mount, and no more.
    """

    name = "/test"

    def __init__(self, buffer: StreamBuffer) -> None:
        self.buffer = buffer
        self.queue_size = 10**9

    def remove_listener(self, listener: Listener) -> None:
        pass

    def listener_dropped(self, listener: Listener, lag: int) -> None:
        raise AssertionError("dropped")


def expected(audio: bytes, blocks: list[bytes], metaint: int) -> bytes:
    """
    What a listener starting at offset 0 of C{audio} receives, as the ICY
    protocol says: a block after every C{metaint} bytes (the last one
    only when audio follows it), announcing the audio after it, empty
    when it says what the last one said.

    @param blocks: the block announcing each byte of C{audio}.
    """
    if not metaint:
        return audio
    out = bytearray()
    last: bytes | None = None
    for start in range(0, len(audio), metaint):
        if start:
            block = blocks[start]
            out += EMPTY_BLOCK if block is last else block
            last = block
        out += audio[start : start + metaint]
    return bytes(out)


class SpanTests(SynchronousTestCase):
    """
    L{span} and the deliveries built on it.
    """

    def test_block_at(self) -> None:
        """
        A span knows which chunk's block announces each of its offsets.
        """
        buffer = StreamBuffer(10**6)
        a, b = b"\x01", b"\x02"
        track = TrackInfo("/a.mp3", "A")
        buffer.append(b"x" * 100, track, a)
        buffer.append(b"y" * 50, track, b)
        buffer.append(b"z" * 70, track, a)
        found = span(buffer, 40, 200)
        self.assertEqual(found.data, b"x" * 60 + b"y" * 50 + b"z" * 50)
        self.assertEqual(found.starts, [0, 60, 110])
        self.assertEqual(
            [found.block_at(offset) for offset in (0, 59, 60, 109, 110, 159)], [a, a, b, b, a, a]
        )
        whole = span(buffer, 100, 150)
        self.assertIs(whole.data, buffer._chunks[1].data)

    @settings(max_examples=200, deadline=None)
    @given(
        chunks=st.lists(st.tuples(st.integers(1, 900), st.integers(0, 2)), min_size=1, max_size=30),
        metaints=st.lists(
            st.sampled_from([0, 1, 7, 100, 333, 1000, 16000]), min_size=1, max_size=4
        ),
        steps=st.lists(st.integers(1, 6), min_size=1, max_size=40),
        shared=st.booleans(),
    )
    def test_same_bytes(
        self, chunks: list[tuple[int, int]], metaints: list[int], steps: list[int], shared: bool
    ) -> None:
        """
        Listeners of any metaint, fed chunks of any size and track as the
        mount fans out (sharing spans or not), each receive exactly the
        stream with their own metadata.
        """
        titles = [bytes([1, 65 + n]) + b"\x00" * 15 for n in range(3)]
        track = TrackInfo("/a.mp3", "A")
        buffer = StreamBuffer(10**7)
        listeners = []
        for metaint in metaints:
            transport = SlowTransport(10**9)
            listener = Listener(transport, Host(buffer), "192.0.2.1:1", metaint, 0)
            listeners.append((listener, transport))
        audio = bytearray()
        blocks: list[bytes] = []
        queue = list(chunks)
        for step in steps:
            for size, title in queue[:step]:
                data = bytes((len(audio) + i) % 251 for i in range(size))
                buffer.append(data, track, titles[title])
                audio += data
                blocks += [titles[title]] * size
            queue = queue[step:]
            spans: Spans | None = {} if shared else None
            for listener, _ in listeners:
                listener.deliver(spans)
        for listener, transport in listeners:
            while listener.position < buffer.head:
                listener.deliver()
            self.assertEqual(
                transport.value(),
                expected(bytes(audio), blocks, listener.metaint),
                listener.metaint,
            )
