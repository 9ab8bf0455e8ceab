# -*- test-case-name: tests.wire.test_server -*-
"""
What a listener's reply says and the socket it streams on: the headers of
a mount's stream (ICY and Icecast names, no caching, CORS), the headers
every reply of the station carries, and the bound on a listener's kernel
send buffer.
"""

from __future__ import annotations

import socket
from dataclasses import replace

from twisted.internet.interfaces import ITransport
from twisted.logger import Logger

from radiod import __version__
from radiod.broadcast.mount import Mount
from radiod.ingest.stream import StreamInfo
from radiod.wire.limits import socket_of

__all__ = [
    "ALLOWED",
    "AUDIO_WAIT",
    "CORS",
    "NO_CACHE",
    "SERVER",
    "limit_send_buffer",
    "stream_headers",
]

_log = Logger()

SERVER = f"radiod/{__version__}"

AUDIO_WAIT = 5.0
"""
Seconds a listener's reply may wait for its mount's first audio, so that it
can name the mount's format.
"""

_EXPOSED = (
    "Icy-MetaInt, Icy-Br, Icy-Description, Icy-Genre, Icy-Name, Ice-Audio-Info, "
    "Icy-Url, Icy-Sr, Icy-Vbr, Icy-Pub"
)
CORS = [
    ("Access-Control-Allow-Origin", "*"),
    ("Access-Control-Allow-Methods", "GET, HEAD, OPTIONS"),
    ("Access-Control-Allow-Headers", "Icy-MetaData, Range, Origin, Accept, Content-Type"),
    ("Access-Control-Expose-Headers", _EXPOSED),
]
NO_CACHE = [
    ("Cache-Control", "no-cache, no-store"),
    ("Pragma", "no-cache"),
    ("Expires", "Mon, 26 Jul 1997 05:00:00 GMT"),
]
ALLOWED = "GET, HEAD, OPTIONS"
"""
The methods a path that is not a source's takes.
"""


def stream_headers(mount: Mount, info: StreamInfo | None, metadata: bool) -> list[tuple[str, str]]:
    """
    The headers of a reply streaming C{mount}, after C{Server} and
    C{Connection}.

    @param mount: the mount streamed.
    @param info: what the source connected to the mount says about its
        stream (its name, genre and so on win over the mount's settings),
        or C{None}.
    @param metadata: whether the listener asked for ICY metadata (then
        C{icy-metaint} says how often it comes).
    """
    config = mount.config
    if info is not None:
        config = replace(
            config,
            station_name=info.name or config.station_name,
            genre=info.genre or config.genre,
            description=info.description or config.description,
            url=info.url or config.url,
            public=config.public if info.public is None else info.public,
        )
    headers = [("Content-Type", "audio/mpeg")]
    audio = mount.audio
    if audio.bitrate:
        headers.append(("icy-br", str(audio.bitrate)))
        headers.append(
            (
                "ice-audio-info",
                info.audio_info if info and info.audio_info else audio.ice_audio_info(),
            )
        )
    if config.description:
        headers.append(("icy-description", config.description))
    if config.genre:
        headers.append(("icy-genre", config.genre))
    headers.append(("icy-name", config.station_name))
    headers.append(("icy-pub", "1" if config.public else "0"))
    if config.url:
        headers.append(("icy-url", config.url))
    if metadata:
        headers.append(("icy-metaint", str(config.metaint)))
    return [*headers, *NO_CACHE, *CORS]


def limit_send_buffer(transport: ITransport | None, size: int, peer: str) -> None:
    """
    Bound the kernel's send buffer of a listener's socket to C{size} bytes
    (nothing when 0), so a stalled listener's lag shows in the mount's
    queue instead of piling up in the kernel for minutes.

    @param peer: the listener, for the log line when the socket refuses.
    """
    handle = socket_of(transport)
    if size and handle is not None:
        try:
            handle.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, size)
        except OSError as error:
            _log.warn("Cannot set send buffer for {peer}: {error}", peer=peer, error=str(error))
