"""
Tests for L{radiod.station.workers}: one station served by several processes.
"""

from __future__ import annotations

import base64
import json
import os
import re
import shutil
import signal
import socket
from typing import Any

from twisted.internet.endpoints import TCP4ClientEndpoint, connectProtocol
from twisted.trial.unittest import TestCase

from radiod.config import MountConfig, StationConfig
from radiod.runner import thread_runner
from radiod.station.service import StationService, share_limits
from radiod.testing import Reply, parse_reply
from tests.support.loopback import FIRST, FIXTURES, SECOND, Reader, asynchronous, reactor, wait_for
from tests.web.test_files_e2e import Client


def free_port() -> int:
    """
    A TCP port nobody listens on right now.
    """
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


class WorkersTests(TestCase):
    """
    With C{workers = 2} a worker process shares the port and relays the
    main process's programme.
    """

    timeout = 90

    async def start(self, **settings: Any) -> tuple[StationService, int]:
        music = self.mktemp()
        os.makedirs(music)
        for name in ("alpha-artist-first-song.mp3", "beta-artist-second-song.mp3"):
            shutil.copy(os.path.join(FIXTURES, name), music)
        port = free_port()
        mount = MountConfig(name="/stream", music=music, metaint=2000, burst_size=16384)
        config = StationConfig(
            port=port, interface="127.0.0.1", workers=2, mounts=(mount,), **settings
        )
        service = StationService(config, reactor, thread_runner(reactor, reactor.getThreadPool()))
        service.startService()
        self.addCleanup(service.stopService)
        await service.listener.listening
        assert service.pool is not None
        pool = service.pool
        await wait_for(lambda: any(worker.ready for worker in pool.workers), 20, reactor)
        return service, port

    async def listen(self, port: int, count: int) -> list[Reader]:
        readers = []
        for _ in range(count):
            reader = Reader(b"GET /stream HTTP/1.0\r\nIcy-MetaData: 1\r\n\r\n", reactor)
            await connectProtocol(TCP4ClientEndpoint(reactor, "127.0.0.1", port), reader)
            readers.append(reader)
        self.addCleanup(self.hang_up, readers)
        return readers

    @staticmethod
    def hang_up(readers: list[Reader]) -> None:
        for reader in readers:
            if reader.transport is not None:
                reader.transport.loseConnection()

    @asynchronous
    async def test_listeners_spread_and_hear_the_same(self) -> None:
        """
        Listeners are spread across the two processes, and every one of
        them hears the same audio and the same titles.
        """
        service, port = await self.start()
        mount = service.mounts["/stream"]
        await wait_for(lambda: mount.buffer.head > 20000, 20, reactor)
        readers = await self.listen(port, 24)
        await wait_for(lambda: all(len(r.capture.audio) > 40000 for r in readers), 30, reactor)
        here = len(mount.listeners)
        self.assertTrue(0 < here < 24, f"{here} of 24 listeners in the main process")
        reference = bytes(readers[0].capture.audio)
        for reader in readers:
            audio = bytes(reader.capture.audio)
            sample = audio[20000:24000]
            self.assertIn(sample, reference + b"", "a listener heard different audio")
            titles = [title for _, title in reader.capture.titles]
            self.assertTrue(set(titles) <= {FIRST, SECOND}, titles)
            self.assertTrue(titles)

    @asynchronous
    async def test_worker_restarted(self) -> None:
        """
        A worker that dies is replaced, and the port keeps serving.
        """
        service, port = await self.start()
        pool = service.pool
        assert pool is not None
        worker = pool.workers[0]
        assert worker.transport is not None
        pid: Any = worker.transport.pid
        os.kill(pid, signal.SIGKILL)
        await wait_for(lambda: any(w.ready and w is not worker for w in pool.workers), 20, reactor)
        readers = await self.listen(port, 4)
        await wait_for(lambda: all(len(r.capture.audio) > 1000 for r in readers), 20, reactor)

    @asynchronous
    async def test_files_from_every_process(self) -> None:
        """
        Every process serves the library's listing and its files (each
        scans the library itself), so whichever process a request reaches
        answers it the same.
        """
        service, port = await self.start()

        async def fetch(target: str, headers: str = "") -> Reply:
            client = Client(f"GET {target} HTTP/1.0\r\n{headers}\r\n".encode())
            await connectProtocol(TCP4ClientEndpoint(reactor, "127.0.0.1", port), client)
            await client.gone
            return parse_reply(bytes(client.data))

        async def listings() -> list[dict[str, Any]]:
            replies = [await fetch("/library") for _ in range(16)]
            return [json.loads(reply.body) for reply in replies if reply.status == 200]

        totals: list[int] = []
        deadline = reactor.seconds() + 20
        while reactor.seconds() < deadline:
            documents = await listings()
            totals = [document["total"] for document in documents]
            if totals == [2] * 16:
                break
        self.assertEqual(totals, [2] * 16)
        song = next(t for t in documents[0]["tracks"] if t["title"] == "First Song")
        with open(os.path.join(FIXTURES, "alpha-artist-first-song.mp3"), "rb") as f:
            data = f.read()
        for _ in range(16):
            reply = await fetch(song["url"], "Range: bytes=100-4099\r\n")
            self.assertEqual((reply.status, reply.body), (206, data[100:4100]))

    async def ask(self, port: int, request: bytes) -> Reply:
        """
        Send one request on its own connection; return the whole reply.
        """
        client = Client(request)
        await connectProtocol(TCP4ClientEndpoint(reactor, "127.0.0.1", port), client)
        await client.gone
        return parse_reply(bytes(client.data))

    @asynchronous
    async def test_per_address_limit_station_wide(self) -> None:
        """
        C{max_per_address} holds for the whole station, not per process:
        of 12 listeners from one address spread over both processes,
        exactly 4 are served and 8 refused with 503; once they leave, the
        address may connect again.
        """
        service, port = await self.start(max_per_address=4)
        assert service.pool is not None
        pool = service.pool
        readers = await self.listen(port, 12)
        await wait_for(lambda: all(r.capture.status_line for r in readers), 20, reactor)
        statuses = sorted(r.capture.status_line for r in readers)
        self.assertEqual(
            statuses, ["HTTP/1.0 200 OK"] * 4 + ["HTTP/1.0 503 Service Unavailable"] * 8
        )
        self.assertGreater(pool.admissions, 0, "no connection reached the worker")
        self.hang_up(readers)
        await wait_for(lambda: service.factory.per_address.open("127.0.0.1") == 0, 20, reactor)
        again = await self.listen(port, 4)
        await wait_for(lambda: all(r.capture.status_line for r in again), 20, reactor)
        self.assertEqual({r.capture.status_line for r in again}, {"HTTP/1.0 200 OK"})

    @asynchronous
    async def test_admin_answered_by_main_process(self) -> None:
        """
        Every admin request gets the main process's answer, whichever
        process it reaches: the same mount list on every connection, and
        the login throttle counting failures across the station (the
        fourth wrong password from one address waits, wherever the first
        three went).
        """
        service, port = await self.start(admin_password="adm-pw")
        assert service.pool is not None
        pool = service.pool
        token = base64.b64encode(b"admin:adm-pw").decode()
        listing = f"GET /admin/listmounts HTTP/1.0\r\nAuthorization: Basic {token}\r\n\r\n"
        replies = [await self.ask(port, listing.encode()) for _ in range(16)]
        self.assertEqual({reply.status for reply in replies}, {200})
        # The same answer everywhere, but for the seconds the mount has
        # been on, which may tick between two requests.
        bodies = {re.sub(rb"<Connected>\d+</Connected>", b"", reply.body) for reply in replies}
        self.assertEqual(len(bodies), 1)
        self.assertIn(b'<source mount="/stream">', replies[0].body)
        self.assertGreater(pool.handed_over, 0, "no request reached the worker")
        wrong = base64.b64encode(b"admin:nope").decode()
        guess = f"GET /admin/stats HTTP/1.0\r\nAuthorization: Basic {wrong}\r\n\r\n"
        for _ in range(3):
            self.assertEqual((await self.ask(port, guess.encode())).status, 401)
        self.assertEqual(service.factory.throttle.failures("127.0.0.1"), 3)
        started = reactor.seconds()
        self.assertEqual((await self.ask(port, guess.encode())).status, 401)
        self.assertGreaterEqual(reactor.seconds() - started, 0.9)
        self.assertEqual(service.factory.throttle.failures("127.0.0.1"), 4)

    def test_limits_shared(self) -> None:
        """
        Listener limits are shared out between the processes, rounded up.
        """
        config = StationConfig(
            workers=3, max_listeners=100, mounts=(MountConfig(max_listeners=10),)
        )
        shared = share_limits(config)
        self.assertEqual(shared.max_listeners, 34)
        self.assertEqual(shared.mounts[0].max_listeners, 4)
        self.assertEqual(share_limits(StationConfig()), StationConfig())
