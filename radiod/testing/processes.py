# -*- test-case-name: tests.test_testing -*-
"""
A process reactor whose children the test plays.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping, Sequence
from typing import AnyStr, TypeVar

from twisted.internet.error import ProcessDone, ProcessExitedAlready
from twisted.internet.interfaces import (
    IAddress,
    IProcessProtocol,
    IProcessTransport,
    IReactorProcess,
)
from twisted.internet.protocol import Protocol as TwistedProtocol
from twisted.python.failure import Failure
from zope.interface import implementer

__all__ = ["FakeProcess", "FakeProcessReactor"]

_T = TypeVar("_T")
_P = TypeVar("_P", bound=TwistedProtocol)
_P_co = TypeVar("_P_co", bound=TwistedProtocol, covariant=True)


@implementer(IProcessTransport)
class FakeProcess:
    """
    A child process that never runs, as L{FakeProcessReactor} spawns it:
    the test plays its part (L{output}, L{end}) and checks what was done
    to it.

    @ivar protocol: its process protocol.
    @ivar executable: the program asked for.
    @ivar args: its arguments.
    @ivar pid: a made-up process id.
    @ivar signals: the signals sent to it, in order.
    @ivar paused: whether reading its output is paused.
    @ivar stdin_closed: whether its standard input was closed.
    @ivar lost: whether its pipes were closed (L{loseConnection}).
    @ivar ended: whether it has exited (L{end}).
    @ivar written: what was written to its standard input.
    """

    def __init__(
        self, protocol: IProcessProtocol, executable: bytes | str, args: list[str], pid: int
    ) -> None:
        """
        @param protocol: its process protocol.
        @param executable: the program asked for.
        @param args: its arguments.
        @param pid: the process id to report while it runs.
        """
        self.protocol = protocol
        self.executable = executable
        self.args = args
        self.pid: int | None = pid
        self.signals: list[str] = []
        self.paused = False
        self.stdin_closed = False
        self.lost = False
        self.ended = False
        self.written = b""

    def output(self, data: bytes, fd: int = 1) -> None:
        """
        The process writes C{data} to its standard output (or C{fd}).
        """
        self.protocol.childDataReceived(fd, data)

    def end(self, reason: Failure | None = None) -> None:
        """
        The process exits: by default cleanly, or as C{reason} says.
        """
        self.ended = True
        self.pid = None
        self.protocol.processEnded(reason or Failure(ProcessDone(0)))

    # IProcessTransport

    def closeStdin(self) -> None:
        """
        Close its standard input.
        """
        self.stdin_closed = True

    def closeStdout(self) -> None:
        """
        Stop reading its standard output (noted as L{lost}).
        """
        self.lost = True

    def closeStderr(self) -> None:
        """
        Stop reading its standard error (nothing to note).
        """

    def closeChildFD(self, descriptor: int) -> None:
        """
        Close one of its pipes; closing 0 closes its standard input.
        """
        if descriptor == 0:
            self.stdin_closed = True

    def writeToChild(self, childFD: int, data: bytes) -> None:
        """
        Write C{data} to one of its pipes (all recorded in L{written}).
        """
        self.written += data

    def loseConnection(self) -> None:
        """
        Close its pipes.
        """
        self.stdin_closed = True
        self.lost = True

    def signalProcess(self, signalID: str | int) -> None:
        """
        Record the signal, by name (C{"KILL"}) or number, as sent.

        @raise ProcessExitedAlready: if it has ended, as a real process
            transport does.
        """
        if self.ended:
            raise ProcessExitedAlready()
        self.signals.append(str(signalID))

    def write(self, data: bytes) -> None:
        """
        Write C{data} to its standard input.
        """
        self.written += data

    def writeSequence(self, data: Iterable[bytes]) -> None:
        """
        Write each of C{data} to its standard input.
        """
        self.written += b"".join(data)

    def getPeer(self) -> IAddress:
        """
        The process's address (it has none worth the name).
        """
        return _ProcessAddress()

    def getHost(self) -> IAddress:
        """
        This end's address (there is none worth the name).
        """
        return _ProcessAddress()

    # What Twisted's process transports also do

    def pauseProducing(self) -> None:
        """
        Stop reading its output.
        """
        self.paused = True

    def resumeProducing(self) -> None:
        """
        Read its output again.
        """
        self.paused = False


@implementer(IAddress)
class _ProcessAddress:
    """
    The address of a fake process (it has none).
    """


@implementer(IReactorProcess)
class FakeProcessReactor:
    """
    Spawns L{FakeProcess}es instead of processes, connecting each to its
    protocol at once, as a reactor does.

    @ivar spawned: every process spawned, in order.
    """

    def __init__(self) -> None:
        self.spawned: list[FakeProcess] = []

    def spawnProcess(
        self,
        processProtocol: IProcessProtocol,
        executable: bytes | str,
        args: Sequence[bytes | str],
        env: Mapping[AnyStr, AnyStr] | None = None,
        path: bytes | str | None = None,
        uid: int | None = None,
        gid: int | None = None,
        usePTY: bool = False,
        childFDs: Mapping[int, str | int] | None = None,
    ) -> FakeProcess:
        """
        Start a fake process (see L{IReactorProcess.spawnProcess}); only
        the protocol, executable and arguments (as text) are kept.

        @return: the process, already connected to C{processProtocol}.
        """
        process = FakeProcess(
            processProtocol,
            executable,
            [os.fsdecode(arg) for arg in args],
            10000 + len(self.spawned),
        )
        self.spawned.append(process)
        processProtocol.makeConnection(process)
        return process
