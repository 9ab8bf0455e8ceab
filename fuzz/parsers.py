"""
Coverage-guided fuzzing of radiod's parsers with atheris (libFuzzer).

Each target feeds fuzzer-made bytes to one parser and checks what the
property tests check, at a far larger scale: the parser returns a value
or raises its own documented error, and what it returns is sound.  Any
other exception, or a broken invariant, is a crash that libFuzzer saves
as a reproducer.

Run one target (extra arguments go to libFuzzer)::

    pip install '.[fuzz]'
    python fuzz/parsers.py request -max_total_time=300

or every target in turn, with a summary table::

    python fuzz/campaign.py --seconds 300
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable

import atheris

# The working tree's radiod, not an installed copy.
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

with atheris.instrument_imports(include=["radiod"]):
    from radiod.audio.frames import FrameSplitter, UnsupportedAudio, parse_header
    from radiod.audio.icy import IcyDemuxer, IcyFramingError, encode_metadata, parse_metadata
    from radiod.config import ConfigError, load_config
    from radiod.library.playlist import parse_playlist
    from radiod.request import RequestError, RequestParser
    from radiod.wire.shoutcast import HandshakeError, HandshakeParser

MAX_PAYLOAD = 4080


def _pieces(provider: atheris.FuzzedDataProvider, data: bytes) -> list[bytes]:
    """
    C{data} cut where the fuzzer says, as a network would deliver it.
    """
    pieces = []
    at = 0
    while at < len(data):
        size = provider.ConsumeIntInRange(1, 512) if provider.remaining_bytes() else len(data)
        pieces.append(data[at : at + size])
        at += size
    return pieces


def request(data: bytes) -> None:
    provider = atheris.FuzzedDataProvider(data)
    body = provider.ConsumeBytes(provider.ConsumeIntInRange(0, 8192))
    parser = RequestParser()
    try:
        for piece in _pieces(provider, body):
            parsed = parser.feed(piece)
            if parsed is not None:
                assert parsed.method and parsed.method.isupper()
                assert "\r" not in parsed.target and "\n" not in parsed.target
                return
    except RequestError as error:
        assert 400 <= error.status < 600


def frames(data: bytes) -> None:
    provider = atheris.FuzzedDataProvider(data)
    body = provider.ConsumeBytes(provider.ConsumeIntInRange(0, 16384))
    splitter = FrameSplitter()
    out = []
    try:
        for piece in _pieces(provider, body):
            out.extend(splitter.feed(piece))
        out.extend(splitter.finish())
    except UnsupportedAudio:
        return
    for frame in out:
        assert parse_header(frame.data) == frame.header
        assert len(frame.data) == frame.header.length


def icy(data: bytes) -> None:
    provider = atheris.FuzzedDataProvider(data)
    charset = "utf-8" if provider.ConsumeBool() else "latin-1"
    title = provider.ConsumeUnicodeNoSurrogates(provider.ConsumeIntInRange(0, 6000))
    block = encode_metadata(title, charset)
    assert block[0] * 16 == len(block) - 1
    assert len(block) - 1 <= MAX_PAYLOAD
    assert list(parse_metadata(block[1:])) == ["StreamTitle"]
    metaint = provider.ConsumeIntInRange(1, 64)
    demuxer = IcyDemuxer(metaint)
    stream = provider.ConsumeBytes(provider.remaining_bytes())
    try:
        for piece in _pieces(atheris.FuzzedDataProvider(stream[:64]), stream):
            for kind, payload in demuxer.feed(piece):
                if kind == "metadata" and payload:
                    parse_metadata(payload)
    except IcyFramingError:
        pass


def handshake(data: bytes) -> None:
    provider = atheris.FuzzedDataProvider(data)
    body = provider.ConsumeBytes(provider.ConsumeIntInRange(0, 12000))
    parser = HandshakeParser()
    try:
        for piece in _pieces(provider, body):
            parser.feed(piece)
    except HandshakeError:
        pass


def playlist(data: bytes) -> None:
    provider = atheris.FuzzedDataProvider(data)
    name = ["a.m3u", "a.m3u8", "a.pls"][provider.ConsumeIntInRange(0, 2)]
    for entry in parse_playlist(name, provider.ConsumeBytes(provider.remaining_bytes()), "/m"):
        assert "\n" not in entry.location


def config(data: bytes) -> None:
    provider = atheris.FuzzedDataProvider(data)
    text = provider.ConsumeUnicodeNoSurrogates(provider.remaining_bytes())
    try:
        load_config(text, path_exists=lambda path: True)
    except ConfigError as error:
        assert "\n" not in str(error)


TARGETS: dict[str, Callable[[bytes], None]] = {
    "request": request,
    "frames": frames,
    "icy": icy,
    "handshake": handshake,
    "playlist": playlist,
    "config": config,
}


def main() -> None:
    if len(sys.argv) < 2 or sys.argv[1] not in TARGETS:
        raise SystemExit(f"usage: {sys.argv[0]} {{{','.join(TARGETS)}}} [libFuzzer options]")
    target = TARGETS[sys.argv[1]]
    atheris.Setup([sys.argv[0], *sys.argv[2:]], target)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
