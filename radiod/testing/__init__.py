# -*- test-case-name: tests.test_testing -*-
"""
Fakes and helpers shared by radiod's tests (and useful to anyone testing
code built on radiod): synthetic frames, a scripted frame source, a
synchronous runner, a clock whose system time can be stepped, a transport
that pushes back like a slow client, a parser for what a listener
receives, a client connection to a server in memory, a runner whose work
runs when the test says, a converter that converts nothing, and a process
reactor whose children the test plays.

Each fake provides the interface of what it stands in for and behaves
like it where a test can tell; C{tests/test_testing.py} runs the same
checks against the fake and the real thing.
"""

from __future__ import annotations

from radiod.testing.audio import MetadataInterleaver, read_frames
from radiod.testing.clocks import SteppedClock
from radiod.testing.connections import (
    Connection,
    ListenerCapture,
    Reply,
    SlowTransport,
    parse_reply,
)
from radiod.testing.converters import FakeConverter, FakeConverters
from radiod.testing.processes import FakeProcess, FakeProcessReactor
from radiod.testing.runners import LaterRunner, synchronous_runner
from radiod.testing.sources import Cues, FakeFrameSource, silent_frame
from radiod.testing.urlauth import FakeUrlAuthenticator

__all__ = [
    "Connection",
    "Cues",
    "FakeConverter",
    "FakeConverters",
    "FakeFrameSource",
    "FakeProcess",
    "FakeProcessReactor",
    "FakeUrlAuthenticator",
    "LaterRunner",
    "ListenerCapture",
    "MetadataInterleaver",
    "Reply",
    "SlowTransport",
    "SteppedClock",
    "parse_reply",
    "read_frames",
    "silent_frame",
    "synchronous_runner",
]
