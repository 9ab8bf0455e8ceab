# -*- test-case-name: tests.broadcast.test_sender -*-
"""
The fast path for writing to a listener's socket.

Twisted's C{transport.write} appends to a buffer and registers the socket
for writability, so every write costs an extra trip through the reactor and
two epoll updates, even when the kernel has room for the data at once.  For
a live stream the kernel nearly always has room, so when the transport holds
nothing unsent we hand the bytes straight to C{socket.send}; whatever the
kernel does not take goes through C{transport.write} as usual, which keeps
Twisted's buffering, producer pausing and error handling in charge of the
slow case.
"""

from __future__ import annotations

import socket
from typing import Any

from twisted.protocols.policies import ProtocolWrapper

__all__ = ["direct_socket", "send"]


def direct_socket(transport: Any) -> socket.socket | None:
    """
    The socket under C{transport} if it is a plain TCP transport whose
    buffer we can inspect, else L{None} (TLS, test transports, ...).

    A TLS transport (like any protocol wrapper) wraps a TCP one and passes
    attribute lookups through to it, so it is recognised by its type, not
    by what it answers: bytes written to its socket would skip the
    encryption.
    """
    if isinstance(transport, ProtocolWrapper):
        return None
    handle = getattr(transport, "socket", None)
    if not isinstance(handle, socket.socket):
        return None
    if not all(hasattr(transport, name) for name in ("dataBuffer", "offset", "_tempDataLen")):
        return None
    return handle


def send(transport: Any, handle: socket.socket | None, data: bytes) -> None:
    """
    Write C{data} to C{transport}, straight to the kernel when nothing is
    queued before it.

    @param handle: the transport's socket from L{direct_socket}, or L{None}
        to always use C{transport.write}.
    """
    if (
        handle is not None
        and not transport._tempDataLen
        and transport.offset == len(transport.dataBuffer)
        and transport.connected
        and not transport.disconnecting
    ):
        try:
            sent = handle.send(data)
        except (BlockingIOError, InterruptedError):
            sent = 0
        except OSError:
            # Let the transport meet the error and close as it always does.
            sent = 0
        if sent == len(data):
            return
        data = data[sent:]
    transport.write(data)
