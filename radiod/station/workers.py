# -*- test-case-name: tests.station.test_workers -*-
"""
Serving one station from several processes.

With C{--workers N}, the main process plays the programme and serves
listeners as usual, and starts N-1 worker processes (L{radiod.station.worker}).
Every process listens on the same port with C{SO_REUSEPORT}, so the kernel
spreads new connections across them.  The main process writes every
broadcast to each worker's standard input as a feed (L{radiod.station.feed}), so all
listeners, whichever process serves them, hear the same audio with the same
titles at the same time.
"""

from __future__ import annotations

import base64
import os
import sys
from collections import Counter
from collections.abc import Callable
from typing import Any

from twisted.application.service import Service
from twisted.internet.defer import Deferred, DeferredList
from twisted.internet.error import ProcessDone
from twisted.internet.interfaces import (
    IDelayedCall,
    IReactorProcess,
)
from twisted.internet.protocol import ProcessProtocol
from twisted.logger import Logger
from twisted.python.failure import Failure

import radiod
from radiod.audio.track import Play
from radiod.broadcast.mount import Mount
from radiod.config import StationConfig
from radiod.interfaces import Deliver, Frames
from radiod.station.feed import (
    ControlMessage,
    FeedDecoder,
    FeedError,
    encode_audio,
    encode_control,
    encode_track,
)
from radiod.station.worker import CONFIG_VARIABLE, config_to_json
from radiod.wire.limits import Limits

__all__ = ["WorkerPool"]

RESTART_DELAY = 1.0
STOP_TIMEOUT = 5.0
READY_FD = 3
"""
The worker writes C{ready} to this descriptor once it listens.
"""
_KEPT_PLAYS = 16


class _Worker(ProcessProtocol):
    """
    One worker process as the main process sees it.

    @ivar announced: the plays this worker has been told about, with the
        index of the mount each was announced on (a rung of a bitrate
        ladder plays the same tracks as its mount).
    @ivar ready: whether it listens on the port yet.
    @ivar counted: the connections of each client address this worker
        had counted in the station-wide limit and not yet released.
    """

    _log = Logger()

    def __init__(self, pool: WorkerPool, index: int) -> None:
        self.pool = pool
        self.index = index
        self.running = False
        self.ready = False
        self.announced: set[tuple[int, int]] = set()
        self.ended: Deferred[None] = Deferred()
        self.counted: Counter[str] = Counter()
        self._decoder = FeedDecoder()

    def childDataReceived(self, childFD: int, data: bytes) -> None:
        if childFD != READY_FD:
            return
        try:
            messages = self._decoder.feed(data)
        except FeedError as error:
            self._log.error(
                "Bad message from worker {index}: {error}", index=self.index, error=str(error)
            )
            if self.transport is not None:
                self.transport.signalProcess("KILL")
            return
        for message in messages:
            if isinstance(message, ControlMessage):
                self.pool.control(self, message.fields)

    def answer(self, fields: dict[str, Any]) -> None:
        """
        Send a control message to the worker, in its feed.
        """
        if self.running and self.transport is not None:
            self.transport.write(encode_control(fields))

    def connectionMade(self) -> None:
        self.running = True
        self.pool.worker_started(self)

    def send(self, segments: list[tuple[int, Play, bytes]]) -> None:
        """
        Write audio segments (mount index, play, audio message),
        announcing each play first if this worker has not heard of it.
        """
        if not self.running or self.transport is None:
            return
        parts = []
        for index, play, audio in segments:
            number = play.number
            if (index, number) not in self.announced:
                self.announced.add((index, number))
                if len(self.announced) > 4 * _KEPT_PLAYS:
                    self.announced = {
                        a for a in self.announced if a[0] != index or a[1] > number - _KEPT_PLAYS
                    }
                parts.append(encode_track(index, number, play.track))
            parts.append(audio)
        self.transport.write(b"".join(parts))

    def processEnded(self, reason: Failure) -> None:
        self.running = False
        self.pool.worker_ended(self, reason)
        if not self.ended.called:
            self.ended.callback(None)


class WorkerPool(Service):
    """
    Starts, feeds and restarts the worker processes.

    @ivar workers: the running workers.
    @ivar handed_over: requests the workers handed over to be answered
        here (admin requests).
    @ivar admissions: connections the workers asked to have counted in
        the station-wide per-address limit.
    """

    _log = Logger()

    def __init__(
        self,
        reactor: IReactorProcess,
        config: StationConfig,
        mounts: list[Mount],
        count: int,
        executable: str = sys.executable,
        limits: Limits | None = None,
        answer: Callable[[bytes, str], Deferred[bytes]] | None = None,
    ) -> None:
        """
        @param reactor: spawns the processes and schedules restarts.
        @param config: the configuration each worker serves.
        @param mounts: the main process's mounts, in configuration order.
        @param count: the number of worker processes (besides this one).
        @param executable: the Python interpreter to run them with.
        @param limits: the station-wide limits the workers' connections
            are counted in (the main process's own).
        @param answer: answers a request a worker hands over (an admin
            request) as the main process would, with the client's
            address.
        """
        self._reactor = reactor
        self.config = config
        self.mounts = mounts
        self.count = count
        self._executable = executable
        self._limits = limits
        self._answer = answer
        self.handed_over = 0
        self.admissions = 0
        self.workers: list[_Worker] = []
        self._restarts: list[IDelayedCall] = []
        for index, mount in enumerate(mounts):
            mount.on_air.append(self._observer(index))

    def _observer(self, index: int) -> Deliver:
        def observe(frames: Frames) -> None:
            self._broadcast(index, frames)

        return observe

    def startService(self) -> None:
        super().startService()
        for index in range(1, self.count + 1):
            self._spawn(index)

    def stopService(self) -> Deferred[None]:
        """
        Close every worker's feed, which makes it exit, and wait for them
        all to end (killing any still running after L{STOP_TIMEOUT}).
        """
        super().stopService()
        for call in self._restarts:
            if call.active():
                call.cancel()
        waiting = []
        for worker in self.workers:
            worker.running = False
            if worker.transport is not None:
                waiting.append(worker.ended)
                worker.transport.closeStdin()
                clock: Any = self._reactor
                kill = clock.callLater(STOP_TIMEOUT, self._kill, worker)
                worker.ended.addCallback(_cancel, kill)
        done: Deferred[Any] = DeferredList(waiting, consumeErrors=True)
        return done.addCallback(lambda _: None)

    def _kill(self, worker: _Worker) -> None:
        if worker.transport is not None and worker.transport.pid is not None:
            self._log.warn("Worker {index} did not stop; killing it", index=worker.index)
            worker.transport.signalProcess("KILL")

    def _spawn(self, index: int) -> None:
        worker = _Worker(self, index)
        env = dict(os.environ)
        env[CONFIG_VARIABLE] = config_to_json(self.config)
        # The worker imports the same radiod as this process.
        here = os.path.dirname(os.path.dirname(os.path.abspath(radiod.__file__)))
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [here, env.get("PYTHONPATH")]))
        self._reactor.spawnProcess(
            worker,
            self._executable,
            [self._executable, "-m", "radiod.station.workermain", str(index)],
            env=env,
            childFDs={0: "w", 1: 1, 2: 2, READY_FD: "r"},
        )

    def worker_ready(self, worker: _Worker) -> None:
        """
        A worker listens on the port.
        """
        worker.ready = True
        self._log.info("Worker {index} is serving listeners", index=worker.index)

    def control(self, worker: _Worker, fields: dict[str, Any]) -> None:
        """
        Act on a control message from a worker: it listens; count or
        release a connection in the station-wide per-address limit; count
        a failed login; answer an admin request.
        """
        number = fields.get("id")
        if fields.get("ready"):
            self.worker_ready(worker)
        elif "admit" in fields and self._limits is not None:
            address = str(fields["admit"])
            self.admissions += 1
            worker.counted[address] += 1
            self._limits.admit(address).addCallback(
                lambda admitted: worker.answer({"id": number, "admitted": admitted})
            )
        elif "release" in fields and self._limits is not None:
            address = str(fields["release"])
            if worker.counted[address] > 0:
                worker.counted[address] -= 1
                if not worker.counted[address]:
                    del worker.counted[address]
                self._limits.release(address)
        elif "failed" in fields and self._limits is not None:
            self._limits.failed(str(fields["failed"])).addCallback(
                lambda delay: worker.answer({"id": number, "delay": delay})
            )
        elif "request" in fields and self._answer is not None:
            self.handed_over += 1
            raw = base64.b64decode(str(fields["request"]))
            self._answer(raw, str(fields.get("client", "-"))).addCallback(
                lambda reply: worker.answer(
                    {"id": number, "reply": base64.b64encode(reply).decode("ascii")}
                )
            )
        else:
            self._log.warn(
                "Unknown control message from worker {index}: {fields}",
                index=worker.index,
                fields=sorted(fields),
            )

    def worker_started(self, worker: _Worker) -> None:
        """
        A worker is up: give it the recent audio of every mount, so its
        listeners get their burst at once; the live feed follows.
        """
        self.workers.append(worker)
        for index, mount in enumerate(self.mounts):
            segments = []
            for chunk, _ in mount.buffer.read(mount.buffer.tail):
                play = Play(chunk.play, chunk.track)
                segments.append((index, play, encode_audio(index, chunk.play, chunk.data)))
            worker.send(segments)

    def worker_ended(self, worker: _Worker, reason: Failure) -> None:
        """
        A worker stopped: start another unless we are stopping.
        """
        if worker in self.workers:
            self.workers.remove(worker)
        if self._limits is not None:
            # Its connections are gone with it.
            for address, count in worker.counted.items():
                for _ in range(count):
                    self._limits.release(address)
        worker.counted.clear()
        if not self.running:
            return
        how = "exited" if reason.check(ProcessDone) else reason.getErrorMessage()
        self._log.error(
            "Worker {index} {how}; restarting in {delay} s",
            index=worker.index,
            how=how,
            delay=RESTART_DELAY,
        )
        self._restarts = [call for call in self._restarts if call.active()]
        clock: Any = self._reactor
        self._restarts.append(clock.callLater(RESTART_DELAY, self._spawn, worker.index))

    def _broadcast(self, index: int, frames: Frames) -> None:
        """
        Send one broadcast of a mount to every worker, one segment per
        play, under the play's number.
        """
        if not self.workers:
            return
        segments = []
        first = 0
        for end in range(1, len(frames) + 1):
            play = frames[first][1]
            if end == len(frames) or frames[end][1].number != play.number:
                run = [frame for frame, _ in frames[first:end]]
                segments.append((index, play, encode_audio(index, play.number, run)))
                first = end
        for worker in list(self.workers):
            worker.send(segments)


def _cancel(result: None, call: Any) -> None:
    if call.active():
        call.cancel()
    return result
