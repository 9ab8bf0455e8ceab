# -*- test-case-name: tests.broadcast.test_intro -*-
"""
A mount's intro: an MP3 file every new listener hears before joining the
stream (Icecast's C{intro}).

The file is read once (L{read_intro}, blocking: the station reads it in a
thread when it starts or reloads) into its whole frames, tags and
anything else left out.  A listener joining the mount is sent the intro
first, with ICY metadata blocks at its own interval as in the stream (see
L{radiod.broadcast.listener.Listener.send_intro}), and then the stream
from a burst shortened by the intro's length, so that it joins no
further behind the live head than a listener without the intro.

An intro must be in the mount's format: a player cannot follow a change
of sample rate or channels in one stream.  One whose format differs from
the mount's audio is not sent (L{Intro.fits}); the mount logs it once.
"""

from __future__ import annotations

from dataclasses import dataclass

from radiod.audio.frames import FrameSplitter

__all__ = ["MAX_INTRO", "Intro", "read_intro"]

MAX_INTRO = 4 * 1024 * 1024
"""
The largest intro read, in bytes (four minutes at 128 kbit/s): each new
listener is sent it at once, so it sits in the listener's buffers.
"""


@dataclass(frozen=True)
class Intro:
    """
    An intro read from its file.
    """

    path: str
    """
    The file it was read from, for logs.
    """
    data: bytes
    """
    Its whole MP3 frames, back to back.
    """
    sample_rate: int
    """
    The sample rate of its first frame, in Hz.
    """
    channels: int
    """
    The channels of its first frame.
    """
    seconds: float
    """
    How long it plays.
    """

    def fits(self, sample_rate: int, channels: int) -> bool:
        """
        Whether it can be played before a stream of this format.
        """
        return (self.sample_rate, self.channels) == (sample_rate, channels)


def read_intro(path: str) -> Intro:
    """
    Read an intro file.  Blocking.

    @raise OSError: when the file cannot be read.
    @raise ValueError: when it holds no MP3 frames, or is larger than
        L{MAX_INTRO}.
    """
    with open(path, "rb") as f:
        data = f.read(MAX_INTRO + 1)
    if len(data) > MAX_INTRO:
        raise ValueError(f"larger than {MAX_INTRO // (1024 * 1024)} MiB")
    splitter = FrameSplitter()
    frames = splitter.feed(data) + splitter.finish()
    if not frames:
        raise ValueError("no MP3 audio in it")
    first = frames[0].header
    return Intro(
        path=path,
        data=b"".join(frame.data for frame in frames),
        sample_rate=first.sample_rate,
        channels=first.channels,
        seconds=sum(frame.header.duration for frame in frames),
    )
