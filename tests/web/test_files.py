"""
Tests for L{radiod.web.files} and the modules it serves files with
(L{radiod.web.confine}, L{radiod.web.filebody}, L{radiod.web.transcode}):
the listing, files, validators, ranges, traversal attempts and transcodes,
in memory (real files on disk, fake transports and a fake ffmpeg).
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from typing import Any

from hypothesis import given
from hypothesis import strategies as st
from twisted.internet.defer import Deferred
from twisted.internet.error import ConnectionDone, ProcessTerminated
from twisted.internet.task import Clock
from twisted.internet.testing import StringTransport
from twisted.logger import LogLevel, capturedLogs, formatEvent
from twisted.python.failure import Failure
from twisted.trial.unittest import SkipTest, SynchronousTestCase

from radiod.audio.track import TrackInfo
from radiod.broadcast.mount import Mount
from radiod.config import MountConfig, StationConfig
from radiod.library.library import Library, track_id
from radiod.library.programme import Programme
from radiod.testing import (
    Connection,
    FakeFrameSource,
    FakeProcessReactor,
    LaterRunner,
    Reply,
    SlowTransport,
    parse_reply,
    synchronous_runner,
)
from radiod.web.confine import OutsideLibrary, open_inside
from radiod.web.filebody import CHUNK_SIZE, if_range_allows
from radiod.web.files import OnDemand, mount_libraries
from radiod.web.transcode import TranscodeRequest, parse_transcode, transcode_arguments
from radiod.web.tree import station_site
from radiod.wire.accesslog import Access
from radiod.wire.server import RadioFactory, RadioProtocol

FFMPEG = "/opt/ffmpeg/bin/ffmpeg"


def describe(path: str, title: str) -> TrackInfo:
    """
    A tag reader: the file's name as its title, ten seconds long.
    """
    return TrackInfo(path, os.path.basename(path), "Artist", "Album", 10.0)


def write(path: str, data: bytes) -> None:
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(data)


def open_descriptors(path: str) -> int:
    """
    How many of this process's file descriptors are open on C{path}, as
    the system tells (Linux); the test is skipped where it does not.
    """
    if not os.path.isdir("/proc/self/fd"):
        raise SkipTest("the system does not list open files in /proc/self/fd")
    real = os.path.realpath(path)
    count = 0
    for name in os.listdir("/proc/self/fd"):
        try:
            target = os.readlink(f"/proc/self/fd/{name}")
        except OSError:
            continue
        count += target == real
    return count


class Station:
    """
    A server factory with on-demand files from one library folder, and a
    way to send it requests.
    """

    def __init__(
        self,
        test: SynchronousTestCase,
        ffmpeg: str | None = FFMPEG,
        runner: Callable[[Callable[[], Any]], Deferred[Any]] = synchronous_runner,
    ) -> None:
        base = os.path.abspath(test.mktemp())
        self.folder = os.path.join(base, "music")
        self.outside = os.path.join(base, "private")
        self.data = bytes(range(256)) * 800
        write(os.path.join(self.folder, "song.mp3"), self.data)
        write(os.path.join(self.folder, "deep", "tune.flac"), b"fLaC" + b"\x01" * 5000)
        write(os.path.join(self.outside, "secret.mp3"), b"secret")
        os.symlink(os.path.join(self.outside, "secret.mp3"), os.path.join(self.folder, "leak.mp3"))
        os.symlink(self.outside, os.path.join(self.folder, "leakdir"))
        self.library = Library(self.folder, synchronous_runner, read=describe)
        test.successResultOf(self.library.scan())
        self.clock = Clock()
        config = StationConfig(port=8000, mounts=(MountConfig(name="/stream"),))
        mounts = {"/stream": Mount(config.mounts[0], FakeFrameSource([]), self.clock)}
        self.factory = RadioFactory(self.clock, config, mounts)
        station_site(self.factory, self.clock)
        self.accesses: list[Access] = []
        self.factory.on_access.append(self.accesses.append)
        self.processes = FakeProcessReactor()
        self.files = OnDemand(
            self.processes,
            runner,
            self.factory,
            ffmpeg,
            libraries=lambda: [self.library],
            max_transcodes=2,
        )

    def id(self, name: str) -> str:
        return track_id(os.path.join(self.folder, name))

    def connect(
        self, target: str, method: str = "GET", headers: str = "", transport: Any = None
    ) -> tuple[RadioProtocol, StringTransport]:
        """
        Send one request; return the connection and its transport, with
        the reply (or its start) written.
        """
        connection = self.open(target, method, headers, transport)
        return connection.protocol, connection.transport

    def open(
        self,
        target: str,
        method: str = "GET",
        headers: str = "",
        transport: StringTransport | None = None,
    ) -> Connection[RadioProtocol]:
        """
        Send one request on a new connection, which is returned.
        """
        connection = Connection(self.factory, 41000, "192.0.2.7", transport)
        connection.send(f"{method} {target} HTTP/1.1\r\n{headers}\r\n")
        return connection

    def request(self, target: str, method: str = "GET", headers: str = "") -> Reply:
        """
        Send one request and read the whole reply, pulling a file body
        chunk by chunk as a connection would.
        """
        connection = self.open(target, method, headers)
        transport = connection.transport
        while transport.producer is not None:
            transport.producer.resumeProducing()
        assert transport.disconnecting, transport.value()[:300]
        connection.lose()
        return connection.reply()


class ListingTests(SynchronousTestCase):
    """
    C{GET /library} lists the library as JSON.
    """

    def setUp(self) -> None:
        self.station = Station(self)

    def test_listing(self) -> None:
        """
        The listing holds the library's files under its folder, with the
        total; symbolic links out of the folder are left out.
        """
        reply = self.station.request("/library")
        self.assertEqual(reply.status, 200)
        self.assertEqual(reply.headers["content-type"], "application/json; charset=utf-8")
        document = json.loads(reply.body)
        self.assertEqual(document["total"], 2)
        self.assertEqual([t["title"] for t in document["tracks"]], ["tune.flac", "song.mp3"])
        song = document["tracks"][1]
        self.assertEqual(song["id"], self.station.id("song.mp3"))
        self.assertEqual(song["size"], len(self.station.data))
        self.assertEqual(song["format"], "mp3")
        self.assertEqual(song["url"], "/files/" + song["id"])
        self.assertEqual(song["bitrate"], round(len(self.station.data) * 8 / 10 / 1000))

    def test_filter_and_page(self) -> None:
        document = json.loads(self.station.request("/library?q=SONG&limit=1").body)
        self.assertEqual((document["total"], len(document["tracks"])), (1, 1))
        document = json.loads(self.station.request("/library?format=flac").body)
        self.assertEqual([t["title"] for t in document["tracks"]], ["tune.flac"])
        document = json.loads(self.station.request("/library?offset=1&limit=5").body)
        self.assertEqual((document["total"], document["offset"], document["limit"]), (2, 1, 5))
        self.assertEqual([t["title"] for t in document["tracks"]], ["song.mp3"])

    def test_head(self) -> None:
        """
        C{HEAD} answers the same head, with the length, and no body.
        """
        get = self.station.request("/library")
        head = self.station.request("/library", "HEAD")
        self.assertEqual(head.status, 200)
        self.assertEqual(head.body, b"")
        self.assertEqual(head.headers["content-length"], str(len(get.body)))

    def test_bad_query(self) -> None:
        """
        A bad parameter is answered with 400 and a one-line JSON error,
        logged with the peer.
        """
        with capturedLogs() as events:
            reply = self.station.request("/library?limit=100000")
        self.assertEqual(reply.status, 400)
        self.assertEqual(reply.headers["content-type"], "application/json; charset=utf-8")
        self.assertEqual(reply.body.count(b"\n"), 1)
        self.assertIn("limit", json.loads(reply.body)["error"])
        lines = [formatEvent(event) for event in events]
        self.assertTrue(any("192.0.2.7" in line and "400" in line for line in lines), lines)

    def test_method(self) -> None:
        self.assertEqual(self.station.request("/library", "DELETE").status, 405)

    def test_preflight(self) -> None:
        """
        A CORS preflight for the listing or a file is answered C{204}, as
        anywhere on the site.
        """
        song = "/files/" + self.station.id("song.mp3")
        for target in ("/library", song):
            reply = self.station.request(target, "OPTIONS")
            self.assertEqual(reply.status, 204, target)
            self.assertEqual(reply.headers["access-control-allow-origin"], "*")

    def test_nothing_under(self) -> None:
        """
        Nothing is under the listing, and nothing is at the files' prefix
        itself.
        """
        for target in ("/library/", "/library/x", "/files"):
            reply = self.station.request(target)
            self.assertEqual((reply.status, reply.body), (404, b"404 File Not Found\n"), target)

    def test_mount_libraries(self) -> None:
        """
        The libraries offered by default are those of the mounts that play
        a programme.
        """
        clock = Clock()
        programme = Programme(self.station.library, clock, synchronous_runner)
        configs = (MountConfig(name="/a"), MountConfig(name="/b"))
        mounts = {
            "/a": Mount(configs[0], programme, clock),
            "/b": Mount(configs[1], FakeFrameSource([]), clock),
        }
        self.assertEqual(mount_libraries(mounts), [self.station.library])


class FileTests(SynchronousTestCase):
    """
    C{GET /files/<id>} sends a file's bytes, whole or one range of them.
    """

    def setUp(self) -> None:
        self.station = Station(self)
        self.song = "/files/" + self.station.id("song.mp3")

    def test_whole(self) -> None:
        reply = self.station.request(self.song)
        self.assertEqual(reply.status, 200)
        self.assertEqual(reply.body, self.station.data)
        self.assertEqual(reply.headers["content-type"], "audio/mpeg")
        self.assertEqual(reply.headers["content-length"], str(len(self.station.data)))
        self.assertEqual(reply.headers["accept-ranges"], "bytes")
        self.assertTrue(reply.headers["etag"].startswith('"'))
        self.assertTrue(reply.headers["last-modified"].endswith("GMT"))
        self.assertIn('filename="song.mp3"', reply.headers["content-disposition"])
        self.assertEqual(reply.headers["connection"], "Close")

    def test_content_type(self) -> None:
        reply = self.station.request("/files/" + self.station.id("deep/tune.flac"))
        self.assertEqual(reply.headers["content-type"], "audio/flac")
        self.assertEqual(reply.body[:4], b"fLaC")

    def test_ranges(self) -> None:
        """
        A single range is answered with 206 and exactly its bytes.
        """
        data = self.station.data
        size = len(data)
        for header, start, end in [
            ("bytes=0-1", 0, 1),
            ("bytes=0-0", 0, 0),
            ("bytes=100-199", 100, 199),
            ("bytes=70000-", 70000, size - 1),
            ("bytes=-500", size - 500, size - 1),
            ("bytes=-999999", 0, size - 1),
            ("bytes=5-999999", 5, size - 1),
            ("bytes=0-65535,65536-70000", 0, 70000),
        ]:
            reply = self.station.request(self.song, headers=f"Range: {header}\r\n")
            self.assertEqual(reply.status, 206, header)
            self.assertEqual(reply.body, data[start : end + 1], header)
            self.assertEqual(reply.headers["content-range"], f"bytes {start}-{end}/{size}")
            self.assertEqual(reply.headers["content-length"], str(end - start + 1))

    def test_unsatisfiable(self) -> None:
        size = len(self.station.data)
        reply = self.station.request(self.song, headers=f"Range: bytes={size}-\r\n")
        self.assertEqual(reply.status, 416)
        self.assertEqual(reply.headers["content-range"], f"bytes */{size}")

    def test_several_ranges_whole(self) -> None:
        """
        Separate ranges are answered with the whole file.
        """
        reply = self.station.request(self.song, headers="Range: bytes=0-1,10-11\r\n")
        self.assertEqual(reply.status, 200)
        self.assertEqual(reply.body, self.station.data)

    def test_if_range(self) -> None:
        """
        C{If-Range} with the current tag or date lets the range through;
        with another, the whole file is sent.
        """
        first = self.station.request(self.song)
        etag, date = first.headers["etag"], first.headers["last-modified"]
        for validator, status in [
            (etag, 206),
            (date, 206),
            ('"other"', 200),
            ("W/" + etag, 200),
            ("Mon, 01 Jan 2001 00:00:00 GMT", 200),
            ("garbage", 200),
        ]:
            headers = f"Range: bytes=0-1\r\nIf-Range: {validator}\r\n"
            self.assertEqual(self.station.request(self.song, headers=headers).status, status)

    def test_not_modified(self) -> None:
        etag = self.station.request(self.song).headers["etag"]
        reply = self.station.request(self.song, headers=f"If-None-Match: {etag}\r\n")
        self.assertEqual((reply.status, reply.body), (304, b""))

    def test_head(self) -> None:
        reply = self.station.request(self.song, "HEAD", "Range: bytes=0-1\r\n")
        self.assertEqual(reply.status, 206)
        self.assertEqual(reply.headers["content-length"], "2")
        self.assertEqual(reply.body, b"")

    def test_access_log(self) -> None:
        """
        The access log gets the status and the body bytes sent.
        """
        self.station.request(self.song, headers="Range: bytes=10-19\r\n")
        self.station.request(self.song)
        self.assertEqual(
            [(a.status, a.sent) for a in self.station.accesses],
            [(206, 10), (200, len(self.station.data))],
        )

    def test_chunks_bounded(self) -> None:
        """
        The file is written in chunks of at most L{CHUNK_SIZE} bytes, and
        only while the connection takes more: a full connection gets no
        more until it drains.
        """
        transport = SlowTransport()
        protocol, _ = self.station.connect(self.song, transport=transport)
        received = bytearray()
        while transport.producer is not None:
            self.assertTrue(transport.paused_producer)
            self.assertLessEqual(len(transport.value()), transport.threshold + CHUNK_SIZE)
            received += transport.drain()
        received += transport.drain()
        self.assertEqual(parse_reply(bytes(received)).body, self.station.data)
        self.assertTrue(all(size <= CHUNK_SIZE for size in transport.written_chunks))
        self.assertGreaterEqual(len(transport.written_chunks), 4)
        self.assertTrue(transport.disconnecting)

    def test_client_leaves(self) -> None:
        """
        A client that leaves mid-body stops the reads and closes the file,
        once the read under way has returned.
        """
        runner = LaterRunner()
        station = Station(self, runner=runner)
        path = os.path.join(station.folder, "song.mp3")
        protocol, transport = station.connect("/files/" + station.id("song.mp3"))
        runner.run()
        self.assertEqual(open_descriptors(path), 1)
        runner.run()
        sent = len(transport.value())
        self.assertEqual(len(runner.pending), 1)
        protocol.connectionLost(Failure(ConnectionDone()))
        self.assertEqual(open_descriptors(path), 1)
        runner.run()
        self.assertEqual(open_descriptors(path), 0)
        self.assertEqual(runner.pending, [])
        self.assertEqual(len(transport.value()), sent)
        self.assertEqual(len(parse_reply(transport.value()).body), CHUNK_SIZE)

    def test_validators(self) -> None:
        """
        A file's C{304} carries its validators and its headers, with no
        length; C{If-Modified-Since} a file's time or later is C{304} too,
        unless C{If-None-Match} names another tag.
        """
        first = self.station.request(self.song)
        etag, date = first.headers["etag"], first.headers["last-modified"]
        reply = self.station.request(self.song, headers=f"If-None-Match: {etag}\r\n")
        self.assertEqual(reply.headers["etag"], etag)
        self.assertEqual(reply.headers["last-modified"], date)
        self.assertEqual(reply.headers["content-type"], "audio/mpeg")
        self.assertEqual(reply.headers["cache-control"], "no-cache")
        self.assertNotIn("content-length", reply.headers)
        reply = self.station.request(self.song, headers=f"If-Modified-Since: {date}\r\n")
        self.assertEqual((reply.status, reply.body), (304, b""))
        headers = f'If-Modified-Since: {date}\r\nIf-None-Match: "other"\r\n'
        self.assertEqual(self.station.request(self.song, headers=headers).status, 200)
        old = "If-Modified-Since: Mon, 01 Jan 2001 00:00:00 GMT\r\n"
        self.assertEqual(self.station.request(self.song, headers=old).status, 200)

    def test_files_closed(self) -> None:
        """
        The file is closed after every answer: whole, a range, C{HEAD},
        C{304} and C{416}.
        """
        path = os.path.join(self.station.folder, "song.mp3")
        etag = self.station.request(self.song).headers["etag"]
        size = len(self.station.data)
        for method, headers in [
            ("GET", "Range: bytes=1-2\r\n"),
            ("HEAD", ""),
            ("GET", f"If-None-Match: {etag}\r\n"),
            ("GET", f"Range: bytes={size}-\r\n"),
        ]:
            self.station.request(self.song, method, headers)
            self.assertEqual(open_descriptors(path), 0, (method, headers))

    def test_file_vanished(self) -> None:
        """
        A file removed since the scan is not found.
        """
        os.remove(os.path.join(self.station.folder, "song.mp3"))
        self.assertEqual(self.station.request(self.song).status, 404)


class RangeTests(SynchronousTestCase):
    """
    How C{Range} headers are read: one range at a time, ranges that
    overlap or touch served as one, and anything else answered with the
    whole file or, when nothing asked for is in the file, C{416}.
    """

    def setUp(self) -> None:
        self.station = Station(self)
        self.song = "/files/" + self.station.id("song.mp3")
        self.size = len(self.station.data)

    def answer(self, header: str, target: str | None = None) -> Reply:
        """
        Ask for the song (or C{target}) with C{Range: header}.
        """
        return self.station.request(target or self.song, headers=f"Range: {header}\r\n")

    def assertRange(self, header: str, start: int, end: int) -> None:
        """
        C{header} gets bytes C{start} to C{end} (both included).
        """
        reply = self.answer(header)
        self.assertEqual(reply.status, 206, header)
        self.assertEqual(reply.headers["content-range"], f"bytes {start}-{end}/{self.size}")
        self.assertEqual(reply.body, self.station.data[start : end + 1], header)

    def assertWhole(self, header: str) -> None:
        """
        C{header} gets the whole file.
        """
        reply = self.answer(header)
        self.assertEqual(reply.status, 200, header)
        self.assertNotIn("content-range", reply.headers)
        self.assertEqual(reply.body, self.station.data, header)

    def assertUnsatisfiable(self, header: str, target: str | None = None, size: int = -1) -> None:
        """
        C{header} gets C{416}, naming the file's size.
        """
        reply = self.answer(header, target)
        self.assertEqual(reply.status, 416, header)
        size = self.size if size < 0 else size
        self.assertEqual(reply.headers["content-range"], f"bytes */{size}")
        self.assertEqual(reply.body, b"416 Range Not Satisfiable\n")

    def test_closed(self) -> None:
        """
        C{bytes=a-b} is bytes a to b, both included; an end past the file
        is clipped to its last byte.
        """
        size = self.size
        self.assertRange("bytes=0-499", 0, 499)
        self.assertRange("bytes=500-999", 500, 999)
        self.assertRange(f"bytes={size - 1}-{size - 1}", size - 1, size - 1)
        self.assertRange(f"bytes={size - 1000}-{size + 1000}", size - 1000, size - 1)

    def test_open(self) -> None:
        """
        C{bytes=a-} is from a to the end.
        """
        self.assertRange("bytes=0-", 0, self.size - 1)
        self.assertRange(f"bytes={self.size - 500}-", self.size - 500, self.size - 1)

    def test_suffix(self) -> None:
        """
        C{bytes=-n} is the last n bytes, or the whole file when it is
        shorter.
        """
        size = self.size
        self.assertRange("bytes=-500", size - 500, size - 1)
        self.assertRange("bytes=-1", size - 1, size - 1)
        self.assertRange(f"bytes=-{size + 1000}", 0, size - 1)

    def test_unsatisfiable(self) -> None:
        """
        A well-formed range that starts past the end, or an empty suffix,
        cannot be satisfied; the answer names the size.
        """
        size = self.size
        for header in (f"bytes={size}-", f"bytes={size}-{size + 5}", "bytes=-0"):
            self.assertUnsatisfiable(header)
        self.assertUnsatisfiable(f"bytes={2 * size}-{3 * size}")

    def test_empty_file(self) -> None:
        """
        No range of an empty file can be satisfied.
        """
        write(os.path.join(self.station.folder, "empty.mp3"), b"")
        self.successResultOf(self.station.library.scan())
        empty = "/files/" + self.station.id("empty.mp3")
        self.assertEqual(self.station.request(empty).status, 200)
        for header in ("bytes=0-", "bytes=0-0", "bytes=-5"):
            self.assertUnsatisfiable(header, empty, 0)

    def test_ignored(self) -> None:
        """
        Malformed headers, other units, backwards ranges and absurdly long
        numbers are ignored: the whole file is sent.
        """
        for header in (
            "bytes",
            "bytes=",
            "bytes=-",
            "bytes=a-b",
            "bytes=5-1",
            "bytes=1-2-3",
            "bytes=0x10-",
            "items=0-1",
            "bytes 0-1",
            "=0-1",
            f"bytes={'9' * 5000}-",
            f"bytes=0-{'9' * 5000}",
        ):
            self.assertWhole(header)

    def test_spelling(self) -> None:
        """
        The unit is read in any case, and blanks around the unit and the
        ranges are allowed.
        """
        self.assertRange("Bytes=0-1", 0, 1)
        self.assertRange("bytes = 0-1", 0, 1)
        self.assertRange("bytes=0-1, ", 0, 1)

    def test_several(self) -> None:
        """
        Several ranges that overlap or touch are served as one; ranges
        past the end are dropped; separate ranges get the whole file.
        """
        size = self.size
        self.assertRange("bytes=0-99,100-199", 0, 199)
        self.assertRange("bytes=50-150,0-99", 0, 150)
        self.assertRange(f"bytes=0-1,{2 * size}-", 0, 1)
        self.assertRange(",".join(["bytes=0-0"] + ["0-0"] * 100), 0, 0)
        self.assertUnsatisfiable(f"bytes={2 * size}-,-0")
        self.assertWhole("bytes=0-1,5-6")
        self.assertWhole("bytes=0-1,-1")
        self.assertWhole("bytes=0-1,junk")

    @given(st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=200))
    def test_any_text(self, header: str) -> None:
        """
        Any header gets a range within the file, a refusal naming the
        size, or the whole file; never an error.
        """
        self.check(self.answer(header))

    @given(
        st.lists(
            st.tuples(
                st.one_of(st.none(), st.integers(min_value=0, max_value=2**70)),
                st.one_of(st.none(), st.integers(min_value=0, max_value=2**70)),
            ),
            min_size=1,
            max_size=5,
        )
    )
    def test_any_ranges(self, specs: list[tuple[int | None, int | None]]) -> None:
        """
        Well-formed headers of any ranges get a valid answer; a single
        satisfiable range is served exactly as asked, clipped to the file.
        """
        size = self.size
        text = ",".join(
            f"{'' if first is None else first}-{'' if last is None else last}"
            for first, last in specs
        )
        reply = self.answer("bytes=" + text)
        self.check(reply)
        if len(specs) == 1:
            first, last = specs[0]
            if first is not None and (last is None or last >= first) and first < size:
                end = size - 1 if last is None else min(last, size - 1)
                self.assertEqual(reply.headers["content-range"], f"bytes {first}-{end}/{size}")
            elif first is None and last is not None and last > 0:
                start = max(0, size - last)
                self.assertEqual(reply.headers["content-range"], f"bytes {start}-{size - 1}/{size}")

    def check(self, reply: Reply) -> None:
        """
        C{reply} is the whole file, one range of it, or C{416}.
        """
        data = self.station.data
        self.assertIn(reply.status, (200, 206, 416))
        if reply.status == 200:
            self.assertEqual(reply.body, data)
        elif reply.status == 206:
            unit, _, rest = reply.headers["content-range"].partition(" ")
            span, _, size = rest.partition("/")
            first, _, last = span.partition("-")
            start, end = int(first), int(last)
            self.assertEqual((unit, int(size)), ("bytes", len(data)))
            self.assertTrue(0 <= start <= end < len(data), reply.headers)
            self.assertEqual(reply.body, data[start : end + 1])
        else:
            self.assertEqual(reply.headers["content-range"], f"bytes */{len(data)}")


class DepartureTests(SynchronousTestCase):
    """
    A client that leaves while its file is being opened gets nothing, and
    no ffmpeg is started for it.
    """

    def setUp(self) -> None:
        self.runner = LaterRunner()
        self.station = Station(self, runner=self.runner)
        self.song = "/files/" + self.station.id("song.mp3")

    def test_file(self) -> None:
        """
        The file opened for a client that has left is closed at once, and
        nothing is read from it.
        """
        path = os.path.join(self.station.folder, "song.mp3")
        protocol, transport = self.station.connect(self.song)
        self.assertEqual(len(self.runner.pending), 1)
        protocol.connectionLost(Failure(ConnectionDone()))
        self.runner.run()
        self.assertEqual(transport.value(), b"")
        self.assertEqual(self.runner.pending, [])
        self.assertEqual(open_descriptors(path), 0)

    def test_transcode(self) -> None:
        protocol, transport = self.station.connect(self.song + "?bitrate=64")
        protocol.connectionLost(Failure(ConnectionDone()))
        self.runner.run()
        self.assertEqual(self.station.processes.spawned, [])
        self.assertEqual(transport.value(), b"")
        self.station.connect(self.song + "?bitrate=64")
        self.station.connect(self.song + "?bitrate=64")
        self.runner.run()
        self.runner.run()
        self.assertEqual(len(self.station.processes.spawned), 2)

    def test_listing(self) -> None:
        """
        The listing is built in a thread; a client gone meanwhile gets
        nothing; one asking meanwhile waits for the same build.
        """
        first, first_transport = self.station.connect("/library")
        second, second_transport = self.station.connect("/library")
        self.assertEqual(len(self.runner.pending), 1)
        first.connectionLost(Failure(ConnectionDone()))
        self.runner.run()
        self.assertEqual(first_transport.value(), b"")
        self.assertEqual(parse_reply(second_transport.value()).status, 200)
        self.station.connect("/library")
        self.assertEqual(self.runner.pending, [])


class FileBodyTests(SynchronousTestCase):
    """
    L{radiod.web.filebody.FileBody} keeps at most one read under way, and
    closes its file only once that read has returned.
    """

    def test_close_after_pending_read(self) -> None:
        """
        A connection that pauses and resumes the body while a read is under
        way does not start another; a client that leaves meanwhile has the
        file closed once the read returns, and gets nothing more.
        """
        runner = LaterRunner()
        station = Station(self, runner=runner)
        path = os.path.join(station.folder, "song.mp3")
        transport = SlowTransport()
        protocol, _ = station.connect("/files/" + station.id("song.mp3"), transport=transport)
        runner.run()
        self.assertEqual(len(runner.pending), 1)
        assert transport.producer is not None
        transport.producer.pauseProducing()
        transport.producer.resumeProducing()
        self.assertEqual(len(runner.pending), 1)
        protocol.connectionLost(Failure(ConnectionDone()))
        self.assertEqual(open_descriptors(path), 1)
        runner.run()
        self.assertEqual(open_descriptors(path), 0)
        self.assertEqual(runner.pending, [])
        self.assertEqual(transport.value(), b"")


class TraversalTests(SynchronousTestCase):
    """
    No request reaches a file that is not in the library, under its
    folder: each is refused (404, or 400 when the request itself is
    malformed) with one log line naming the peer.
    """

    def setUp(self) -> None:
        self.station = Station(self)

    def refused(self, target: str, statuses: tuple[int, ...] = (404,)) -> None:
        with capturedLogs() as events:
            reply = self.station.request(target)
        self.assertIn(reply.status, statuses, target)
        self.assertNotIn(b"secret", reply.body)
        self.assertNotIn(b"root:", reply.body)
        lines = [formatEvent(event) for event in events if event.get("log_level") is LogLevel.warn]
        self.assertEqual(len(lines), 1, (target, lines))
        self.assertIn("192.0.2.7", lines[0])

    def test_dot_dot(self) -> None:
        for target in (
            "/files/../../etc/passwd",
            "/files/../private/secret.mp3",
            "/files/..",
            "/files/./song.mp3",
            "/files/deep/../song.mp3",
        ):
            self.refused(target)

    def test_percent_encoded(self) -> None:
        for target in (
            "/files/..%2f..%2fetc%2fpasswd",
            "/files/%2e%2e/%2e%2e/etc/passwd",
            "/files/%2e%2e%2fprivate%2fsecret.mp3",
            "/files/%2E%2E%2F%2E%2E%2Fetc%2Fpasswd",
            "/files/song%2emp3",
        ):
            self.refused(target)

    def test_double_encoded(self) -> None:
        for target in (
            "/files/%252e%252e%252f%252e%252e%252fetc%252fpasswd",
            "/files/%25%32%65%25%32%65/etc/passwd",
            "/files/" + "%25" + self.station.id("song.mp3"),
        ):
            self.refused(target)

    def test_absolute(self) -> None:
        for target in (
            "/files//etc/passwd",
            "/files/%2fetc%2fpasswd",
            "/files/" + os.path.join(self.station.folder, "song.mp3").lstrip("/"),
            "/files/" + os.path.join(self.station.folder, "song.mp3"),
        ):
            self.refused(target)

    def test_relative_path_is_no_id(self) -> None:
        """
        A library file's own relative path does not name it: only ids do.
        """
        self.refused("/files/song.mp3")
        self.refused("/files/deep/tune.flac")

    def test_nul(self) -> None:
        song = self.station.id("song.mp3")
        self.refused(f"/files/{song}%00", (400, 404))
        self.refused(f"/files/{song}%00.mp3", (400, 404))
        self.refused("/files/%00../../etc/passwd", (400, 404))

    def test_backslash(self) -> None:
        for target in (
            "/files/..\\..\\etc\\passwd",
            "/files/..%5c..%5cetc%5cpasswd",
            "/files/%5cetc%5cpasswd",
        ):
            self.refused(target)

    def test_not_ids(self) -> None:
        """
        Ids of files outside the library, malformed ids and ids with
        anything around them are not found.
        """
        song = self.station.id("song.mp3")
        for target in (
            "/files/",
            "/files/" + track_id("/etc/passwd"),
            "/files/" + track_id(os.path.join(self.station.outside, "secret.mp3")),
            # (An id of digits alone has no upper case of its own.)
            "/files/" + (song.upper() if song.upper() != song else "A" + song[1:]),
            "/files/" + song[:-1],
            "/files/" + song + "0",
            "/files/" + song + "/",
            "/files/" + song + "/..",
            "/files/%20" + song,
            "/files/" + song + ".mp3",
        ):
            self.refused(target)

    def test_symlink_out(self) -> None:
        """
        A library file that is a symbolic link out of the folder, or that
        lies in a linked folder outside it, is refused though the library
        lists it; the log says where it leads.
        """
        for name in ("leak.mp3", "leakdir/secret.mp3"):
            identifier = self.station.id(name)
            self.assertIsNotNone(self.station.library.by_id(identifier), name)
            with capturedLogs() as events:
                reply = self.station.request("/files/" + identifier)
            self.assertEqual(reply.status, 404)
            self.assertNotIn(b"secret", reply.body)
            lines = [formatEvent(event) for event in events]
            self.assertEqual(len(lines), 1, lines)
            self.assertIn("leads outside the library", lines[0])
            self.assertIn("192.0.2.7", lines[0])

    def test_swapped_for_symlink(self) -> None:
        """
        A file replaced by a symbolic link out of the folder after the scan
        is refused.
        """
        song = os.path.join(self.station.folder, "song.mp3")
        os.remove(song)
        os.symlink(os.path.join(self.station.outside, "secret.mp3"), song)
        self.refused("/files/" + self.station.id("song.mp3"))

    def test_transcode_refused_too(self) -> None:
        """
        A transcode of a file leading out of the folder is refused before
        ffmpeg starts.
        """
        self.refused("/files/" + self.station.id("leak.mp3") + "?bitrate=128")
        self.assertEqual(self.station.processes.spawned, [])

    def test_open_inside(self) -> None:
        """
        L{open_inside} opens files under the folder and refuses others.
        """
        folder = self.station.folder
        opened = open_inside(os.path.join(folder, "song.mp3"), folder)
        self.addCleanup(os.close, opened.fd)
        self.assertEqual(opened.size, len(self.station.data))
        self.assertEqual(opened.path, os.path.realpath(os.path.join(folder, "song.mp3")))
        self.assertRaises(OutsideLibrary, open_inside, os.path.join(folder, "leak.mp3"), folder)
        self.assertRaises(
            OutsideLibrary, open_inside, os.path.join(folder, "..", "private", "secret.mp3"), folder
        )
        self.assertRaises(OSError, open_inside, os.path.join(folder, "deep"), folder)
        self.assertRaises(FileNotFoundError, open_inside, os.path.join(folder, "no.mp3"), folder)


class IfRangeTests(SynchronousTestCase):
    """
    L{if_range_allows} compares C{If-Range} with the file's validators.
    """

    def test_cases(self) -> None:
        etag = '"10-20"'
        self.assertTrue(if_range_allows(None, etag, 1e9))
        self.assertTrue(if_range_allows('"10-20"', etag, 1e9))
        self.assertFalse(if_range_allows('W/"10-20"', etag, 1e9))
        self.assertFalse(if_range_allows('"10-21"', etag, 1e9))
        self.assertTrue(if_range_allows("Sun, 09 Sep 2001 01:46:40 GMT", etag, 1e9 + 0.5))
        self.assertFalse(if_range_allows("Sun, 09 Sep 2001 01:46:41 GMT", etag, 1e9))
        self.assertFalse(if_range_allows("Sun, 09 Sep 2001 01:46:40", etag, 1e9))
        for junk in ("", "junk", "Mon, 99 Foo 99999 99:99:99 GMT", "\x00"):
            self.assertFalse(if_range_allows(junk, etag, 1e9), junk)


class TranscodeQueryTests(SynchronousTestCase):
    """
    L{parse_transcode} reads C{bitrate} and C{start}.
    """

    def test_none(self) -> None:
        self.assertIsNone(parse_transcode({}, 10.0))
        self.assertIsNone(parse_transcode({"other": ["1"]}, 10.0))

    def test_values(self) -> None:
        self.assertEqual(parse_transcode({"bitrate": ["128"]}, 0), TranscodeRequest(128, 0.0))
        self.assertEqual(
            parse_transcode({"bitrate": ["64"], "start": ["2.5"]}, 10.0), TranscodeRequest(64, 2.5)
        )
        self.assertEqual(
            parse_transcode({"bitrate": ["320"], "t": ["9"]}, 10.0), TranscodeRequest(320, 9.0)
        )

    def test_refused(self) -> None:
        for query in (
            {"bitrate": ["100"]},
            {"bitrate": ["128k"]},
            {"bitrate": [""]},
            {"bitrate": ["-128"]},
            {"bitrate": ["9" * 40]},
            {"bitrate": ["128", "64"]},
            {"start": ["5"]},
            {"bitrate": ["128"], "start": ["-1"]},
            {"bitrate": ["128"], "start": ["nan"]},
            {"bitrate": ["128"], "start": ["inf"]},
            {"bitrate": ["128"], "start": ["1e3"]},
            {"bitrate": ["128"], "start": ["10"]},
            {"bitrate": ["128"], "start": ["1"], "t": ["2"]},
        ):
            with self.assertRaises(Exception, msg=repr(query)) as caught:
                parse_transcode(query, 10.0)
            self.assertIsInstance(caught.exception, ValueError)

    def test_arguments(self) -> None:
        """
        ffmpeg seeks before it opens the file, reads it by its path, and
        writes plain MP3 frames at the bitrate.
        """
        arguments = transcode_arguments(FFMPEG, "/m/a.flac", TranscodeRequest(96, 12.5))
        self.assertEqual(arguments[0], FFMPEG)
        self.assertLess(arguments.index("-ss"), arguments.index("-i"))
        self.assertEqual(arguments[arguments.index("-ss") + 1], "12.500")
        self.assertEqual(arguments[arguments.index("-i") + 1], "file:/m/a.flac")
        self.assertEqual(arguments[arguments.index("-b:a") + 1], "96k")
        self.assertEqual(arguments[-1], "pipe:1")
        self.assertNotIn("-ss", transcode_arguments(FFMPEG, "/m/a.flac", TranscodeRequest(96)))


class TranscodeTests(SynchronousTestCase):
    """
    C{?bitrate=N} streams the file through ffmpeg (faked here) with
    backpressure, and ffmpeg is killed when the client leaves.
    """

    def setUp(self) -> None:
        self.station = Station(self)
        self.song = "/files/" + self.station.id("song.mp3")

    def test_stream(self) -> None:
        """
        ffmpeg gets the file's real path and the bitrate; what it writes
        follows a head with no length; the end of its output ends the
        response.
        """
        protocol, transport = self.station.connect(self.song + "?bitrate=128&start=2")
        [process] = self.station.processes.spawned
        self.assertEqual(process.executable, FFMPEG)
        real = os.path.realpath(os.path.join(self.station.folder, "song.mp3"))
        self.assertIn("file:" + real, process.args)
        self.assertIn("128k", process.args)
        self.assertEqual(process.args[process.args.index("-ss") + 1], "2.000")
        self.assertTrue(process.stdin_closed)
        self.assertEqual(transport.value(), b"")
        process.output(b"\xff\xfb" + b"a" * 100)
        process.output(b"b" * 50)
        reply = parse_reply(transport.value())
        self.assertEqual(reply.status, 200)
        self.assertEqual(reply.headers["content-type"], "audio/mpeg")
        self.assertNotIn("content-length", reply.headers)
        self.assertEqual(reply.body, b"\xff\xfb" + b"a" * 100 + b"b" * 50)
        self.assertFalse(transport.disconnecting)
        process.end()
        self.assertTrue(transport.disconnecting)
        self.assertIsNone(transport.producer)
        protocol.connectionLost(Failure(ConnectionDone()))
        self.assertEqual(process.signals, [])
        self.assertEqual([(a.status, a.sent) for a in self.station.accesses], [(200, 152)])
        self.assertEqual(self.station.files.transcodes, set())

    def test_backpressure(self) -> None:
        """
        While the client's connection is full, ffmpeg's output is not
        read; it is read again once the client reads.
        """
        transport = SlowTransport(threshold=1000)
        self.station.connect(self.song + "?bitrate=64", transport=transport)
        [process] = self.station.processes.spawned
        process.output(b"x" * 500)
        self.assertFalse(process.paused)
        process.output(b"x" * 800)
        self.assertTrue(process.paused)
        transport.drain()
        self.assertFalse(process.paused)
        process.end()

    def test_client_leaves(self) -> None:
        """
        A client that leaves has its ffmpeg killed and its pipes closed.
        """
        protocol, transport = self.station.connect(self.song + "?bitrate=64")
        [process] = self.station.processes.spawned
        process.output(b"x" * 10)
        protocol.connectionLost(Failure(ConnectionDone()))
        self.assertEqual(process.signals[:1], ["KILL"])
        self.assertTrue(process.lost)
        process.end(Failure(ProcessTerminated(signal=9)))
        self.assertEqual(self.station.files.transcodes, set())

    def test_no_output(self) -> None:
        """
        An ffmpeg that fails before writing anything gets the client a 500
        and its complaint in the log.
        """
        protocol, transport = self.station.connect(self.song + "?bitrate=64")
        [process] = self.station.processes.spawned
        process.output(b"file:song.mp3: Invalid data found\n", fd=2)
        with capturedLogs() as events:
            process.end(Failure(ProcessTerminated(exitCode=1)))
        self.assertEqual(parse_reply(transport.value()).status, 500)
        self.assertTrue(any("Invalid data" in formatEvent(event) for event in events))

    def test_limit(self) -> None:
        """
        Beyond the most transcodes at once, requests are refused with 503
        until one ends.
        """
        self.station.connect(self.song + "?bitrate=64")
        self.station.connect(self.song + "?bitrate=64")
        reply = self.station.request(self.song + "?bitrate=64")
        self.assertEqual(reply.status, 503)
        self.assertIn("retry-after", reply.headers)
        self.station.processes.spawned[0].end()
        self.station.connect(self.song + "?bitrate=64")
        self.assertEqual(len(self.station.processes.spawned), 3)

    def test_no_ffmpeg(self) -> None:
        station = Station(self, ffmpeg=None)
        reply = station.request("/files/" + station.id("song.mp3") + "?bitrate=64")
        self.assertEqual(reply.status, 503)
        self.assertIn(b"ffmpeg", reply.body)

    def test_bad_parameters(self) -> None:
        for query in ("?bitrate=100", "?start=3", "?bitrate=128&start=11", "?bitrate=x"):
            reply = self.station.request(self.song + query)
            self.assertEqual(reply.status, 400, query)
            self.assertIn("error", json.loads(reply.body))
        self.assertEqual(self.station.processes.spawned, [])

    def test_head(self) -> None:
        reply = self.station.request(self.song + "?bitrate=128", "HEAD")
        self.assertEqual(reply.status, 200)
        self.assertEqual(reply.headers["content-type"], "audio/mpeg")
        self.assertEqual(self.station.processes.spawned, [])

    def test_close(self) -> None:
        """
        Stopping the station kills every transcode.
        """
        protocol, transport = self.station.connect(self.song + "?bitrate=64")
        [process] = self.station.processes.spawned
        self.station.files.close()
        self.assertEqual(process.signals, ["KILL"])
        self.assertTrue(transport.disconnecting)
