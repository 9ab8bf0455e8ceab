"""
End-to-end tests of the benchmarks' compiled programs: the listener swarm
(C{benchmarks/swarm.c}, built by C{benchmarks/swarm.py}) against a small
server on loopback that answers with a known stream as fast as the socket
takes it, then closes; and the physical-floor sender (C{benchmarks/floor.c},
run by C{benchmarks/floor.py}) read by the swarm.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

import floor
import swarm
from twisted.internet import reactor as _reactor
from twisted.internet.interfaces import IAddress, IListeningPort
from twisted.internet.protocol import Factory, Protocol
from twisted.internet.threads import deferToThread
from twisted.internet.utils import getProcessOutputAndValue
from twisted.trial.unittest import TestCase

from tests.support.loopback import asynchronous
from tests.support.tools import require_tool

reactor: Any = _reactor

METAINT = 1000
"""
Audio bytes between two metadata blocks of the test stream.
"""

TITLE = b"StreamTitle='Benchmark tone';"

LONG_TITLE = b"StreamTitle='" + b"x" * 4000 + b"';"
"""
A title whose block (4,032 bytes) is likely to be split between reads.
"""

BLOCKS = 120
"""
Metadata blocks in the test stream.
"""

BROKEN = 7
"""
The one metadata block of the test stream that is not a title.
"""

NOT_FOUND = b"HTTP/1.0 404 Not Found\r\nContent-Type: text/plain\r\n\r\nno such mount\n"

BUILT = Path("benchmark-programs")
"""
Where the tests build the programs, relative to trial's working folder
(resolved when a test runs, in that folder), once.
"""


def metadata_block(text: bytes) -> bytes:
    """
    An ICY metadata block: its length byte (in units of 16 bytes), then the
    text padded with NUL bytes.
    """
    units = -(-len(text) // 16)
    return bytes([units]) + text.ljust(units * 16, b"\0")


def icy_body() -> tuple[bytes, int]:
    """
    A stream body with a metadata block after every L{METAINT} audio bytes:
    in turn a title, an empty block (length 0), a block of NUL padding, and
    a long title; except block L{BROKEN}, which is text but not a title.
    Audio bytes follow a pattern that differs from block to block, and
    half a metaint of audio ends the body.

    @return: the body and how many of its bytes are audio.
    """
    pieces = []
    audio = 0
    kinds = [metadata_block(TITLE), b"\0", bytes([1]) + b"\0" * 16, metadata_block(LONG_TITLE)]
    for index in range(BLOCKS):
        pieces.append(bytes((index * 31 + offset) % 256 for offset in range(METAINT)))
        audio += METAINT
        if index == BROKEN:
            pieces.append(metadata_block(b"Artist='someone';"))
        else:
            pieces.append(kinds[index % len(kinds)])
    tail = b"\xff" * (METAINT // 2)
    return b"".join([*pieces, tail]), audio + len(tail)


class FixedAnswer(Protocol):
    """
    Reads one request's head, writes the answer for its path and closes.
    """

    def __init__(self, server: FixedServer) -> None:
        self.server = server
        self.head = b""
        self.answered = False

    def dataReceived(self, data: bytes) -> None:
        if self.answered:
            return
        self.head += data
        if b"\r\n\r\n" not in self.head:
            return
        self.answered = True
        self.server.requests.append(self.head)
        parts = self.head.split(b" ", 2)
        path = parts[1] if len(parts) > 2 else b""
        assert self.transport is not None
        self.transport.write(self.server.answers.get(path, NOT_FOUND))
        self.transport.loseConnection()


class FixedServer(Factory):
    """
    A server that answers each request for a path with fixed bytes.

    @ivar answers: the whole answer, head and body, for each path.
    @ivar requests: the request heads received.
    """

    def __init__(self, answers: dict[bytes, bytes]) -> None:
        self.answers = answers
        self.requests: list[bytes] = []

    def buildProtocol(self, addr: IAddress | None) -> FixedAnswer:
        return FixedAnswer(self)


async def built(source: Path) -> Path:
    """
    Build one of the benchmarks' C programs, off the reactor thread.

    @return: its path.
    """
    require_tool("a C compiler (cc, gcc or clang)", swarm.compiler(), "apt-get install gcc")
    program: Path | None = await deferToThread(swarm.build_program, source, BUILT.resolve())
    assert program is not None
    return program


class SwarmTests(TestCase):
    """
    The swarm counts a stream's audio bytes and ICY framing errors
    exactly, and reports times to first byte and refusals.
    """

    timeout = 60

    def serve(self, answers: dict[bytes, bytes]) -> tuple[FixedServer, int]:
        """
        Start a L{FixedServer} on a loopback port for this test.
        """
        server = FixedServer(answers)
        port: IListeningPort = reactor.listenTCP(0, server, interface="127.0.0.1")
        self.addCleanup(port.stopListening)
        return server, port.getHost().port  # type: ignore[attr-defined]

    async def swarm(self, port: int, *options: str) -> dict[str, Any]:
        """
        Run the swarm against a port with a short window and its
        per-listener figures kept.

        @return: its JSON summary.
        """
        program = await built(swarm.SOURCE)
        out = self.mktemp()
        arguments = ["--port", str(port), "--rate", "200", "--warmup", "0", "--window", "1.5"]
        arguments += ["--start-at", repr(time.monotonic() + 0.2), "--keep-columns", "--quiet"]
        arguments += ["--json", out, *options]
        _, error, code = await getProcessOutputAndValue(
            str(program), arguments, env=dict(os.environ), reactor=reactor
        )
        self.assertEqual(code, 0, error.decode("utf-8", "replace"))
        summary: dict[str, Any] = json.loads(Path(out).read_text())
        return summary

    @asynchronous
    async def test_icy(self) -> None:
        """
        With C{Icy-MetaData: 1} each listener counts the audio bytes alone
        (not the metadata), every metadata block, and the one block that is
        neither a title nor empty as one framing error; each has a time to
        first byte, and was dropped when the server closed.
        """
        body, audio = icy_body()
        head = b"ICY 200 OK\r\nicy-br: 128\r\nicy-metaint: %d\r\n\r\n" % METAINT
        server, port = self.serve({b"/stream": head + body})
        summary = await self.swarm(port, "--listeners", "3")
        columns = summary["columns"]
        self.assertEqual(columns["audio_bytes"], [audio] * 3)
        self.assertEqual(columns["body_bytes"], [len(body)] * 3)
        self.assertEqual(columns["meta_blocks"], [BLOCKS] * 3)
        self.assertEqual(columns["framing_errors"], [1] * 3)
        self.assertEqual(summary["audio_bytes"], 3 * audio)
        self.assertEqual(summary["icy"]["framing_errors"], 3)
        self.assertEqual(summary["icy"]["metaint"], {str(METAINT): 3})
        self.assertEqual(summary["icy"]["icy_br"], {"128": 3})
        self.assertEqual(summary["icy"]["titles"], {TITLE.decode(): 3})
        self.assertEqual(summary["nominal_bytes_per_s"], 16000)
        for ttfb in columns["ttfb_ms"]:
            self.assertGreater(ttfb, 0)
        self.assertIsNotNone(summary["ttfb_ms"]["p99"])
        self.assertEqual(summary["got_audio"], 3)
        self.assertEqual((summary["refused"], summary["dropped"]), (0, 3))
        self.assertEqual(summary["errors"], {"dropped: closed": 3})
        self.assertEqual(len(server.requests), 3)
        for request in server.requests:
            self.assertTrue(request.startswith(b"GET /stream HTTP/1.0\r\n"))
            self.assertIn(b"\r\nIcy-MetaData: 1\r\n", request)
            self.assertIn(b"\r\nUser-Agent: ", request)

    @asynchronous
    async def test_without_metadata(self) -> None:
        """
        Without C{Icy-MetaData: 1} the swarm does not ask for metadata and
        counts the whole body as audio, even when the headers name a
        metaint; an C{HTTP/1.0 200} answer is a stream like C{ICY 200}.
        Two processes share the listeners and their figures are merged.
        """
        body, _ = icy_body()
        head = b"HTTP/1.0 200 OK\r\nContent-Type: audio/mpeg\r\nicy-metaint: 1000\r\n\r\n"
        server, port = self.serve({b"/plain": head + body})
        options = ["--listeners", "4", "--processes", "2", "--path", "/plain", "--no-metadata"]
        summary = await self.swarm(port, *options)
        self.assertEqual(summary["columns"]["audio_bytes"], [len(body)] * 4)
        self.assertEqual(summary["icy"]["framing_errors"], 0)
        self.assertEqual(summary["icy"]["meta_blocks"], 0)
        self.assertEqual(summary["got_audio"], 4)
        self.assertEqual(summary["loadgen"]["processes"], 2)
        self.assertEqual(len(server.requests), 4)
        for request in server.requests:
            self.assertNotIn(b"Icy-MetaData", request)

    @asynchronous
    async def test_refused(self) -> None:
        """
        A listener answered with a status other than 200 is refused, with
        the status as the reason, and has no time to first byte.
        """
        _, port = self.serve({})
        summary = await self.swarm(port, "--listeners", "2")
        self.assertEqual(summary["refused"], 2)
        self.assertEqual(summary["errors"], {"refused: status 404": 2})
        self.assertEqual(summary["got_audio"], 0)
        self.assertEqual(summary["columns"]["ttfb_ms"], [None, None])
        self.assertEqual(summary["audio_bytes"], 0)


class FloorTests(TestCase):
    """
    The floor's sender writes fixed-size chunks to every connection the
    swarm makes, and reports its own CPU over the window.
    """

    timeout = 60

    @asynchronous
    async def test_floor(self) -> None:
        """
        Every connection is made and kept; every send in the window is
        taken whole; the swarm hears every connection; the table has a row
        for the size.
        """
        sender = await built(floor.SOURCE)
        reader = await built(swarm.SOURCE)
        options = ["--connections", "4", "--sizes", "1000", "--bytes-per-second", "10000"]
        options += ["--tick", "0.05", "--rate", "100", "--warmup", "0.2", "--window", "1"]
        args = floor.parse_args(options)
        folder = Path(self.mktemp())
        folder.mkdir()
        result: dict[str, Any] = await deferToThread(
            floor.measure, sender, reader, args, 1000, folder
        )
        sent, heard = result["sender"], result["reader"]
        self.assertTrue(sent["measured"])
        self.assertEqual(sent["connections"], 4)
        self.assertEqual((sent["lost_before_end"], sent["short_sends"]), (0, 0))
        self.assertGreater(sent["window_sends"], 0)
        self.assertEqual(sent["window_bytes"], 1000 * sent["window_sends"])
        self.assertEqual(set(sent["us_per_listener_s"]), {"user", "system", "total"})
        self.assertGreater(sent["listener_seconds"], 0)
        self.assertEqual((heard["got_audio"], heard["refused"], heard["dropped"]), (4, 0, 0))
        self.assertLessEqual(heard["audio_bytes"], sent["bytes"])
        self.assertIn("1,000", floor.table({1000: result}))
