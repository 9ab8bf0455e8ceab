# -*- test-case-name: tests.station.test_feed -*-
"""
The feed: how the main process hands its programme to worker processes.

Pure encoding and decoding, no I/O.  A feed is a sequence of messages,
each a one-byte kind, a four-byte big-endian payload length and the
payload:

  - C{T} (track): a JSON object announcing a play on a mount:
    C{{"mount": index, "play": number, "path", "title", "artist", "album",
    "duration"}}.
  - C{A} (audio): a two-byte mount index, a four-byte play number, then
    whole MPEG frames of that play.
  - C{C} (control): a JSON object, for the station-wide limits and admin
    requests that workers hand to the main process, and the answers.  A
    worker writes these (and only these) back to the main process on its
    descriptor 3 (see L{radiod.station.worker.StationLink}).

Frames are sent exactly as the main process broadcast them, so every
worker's listeners hear the same audio, cut at the same points, with the
same titles.
"""

from __future__ import annotations

import json
import struct
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from radiod.audio.frames import Frame, parse_header
from radiod.audio.track import TrackInfo

__all__ = [
    "AudioMessage",
    "ControlMessage",
    "FeedDecoder",
    "FeedError",
    "TrackMessage",
    "encode_audio",
    "encode_control",
    "encode_track",
    "split_frames",
]

_HEAD = struct.Struct(">cI")
_AUDIO = struct.Struct(">HI")
MAX_MESSAGE = 16 * 1024 * 1024


class FeedError(ValueError):
    """
    The feed is not well formed.
    """


@dataclass(frozen=True, slots=True)
class TrackMessage:
    """
    A new play on a mount.
    """

    mount: int
    play: int
    track: TrackInfo


@dataclass(frozen=True, slots=True)
class AudioMessage:
    """
    Whole frames of a play on a mount.
    """

    mount: int
    play: int
    audio: bytes


@dataclass(frozen=True, slots=True)
class ControlMessage:
    """
    A request between a worker and the main process, or its answer.

    @ivar fields: the message's JSON object.
    """

    fields: dict[str, Any]


def encode_control(fields: dict[str, Any]) -> bytes:
    """
    A C{C} message carrying C{fields} as JSON.
    """
    payload = json.dumps(fields, separators=(",", ":")).encode("utf-8")
    return _HEAD.pack(b"C", len(payload)) + payload


def encode_track(mount: int, play: int, track: TrackInfo) -> bytes:
    """
    A C{T} message announcing C{track} as play number C{play}.
    """
    payload = json.dumps(
        {
            "mount": mount,
            "play": play,
            "path": track.path,
            "title": track.title,
            "artist": track.artist,
            "album": track.album,
            "duration": track.duration,
            "jingle": track.jingle,
            "requested": track.requested,
            "art": track.art,
        },
        ensure_ascii=False,
    ).encode("utf-8", "surrogatepass")
    return _HEAD.pack(b"T", len(payload)) + payload


def encode_audio(mount: int, play: int, frames: Iterable[Frame] | bytes) -> bytes:
    """
    An C{A} message carrying C{frames} (or bytes that are whole frames).
    """
    audio = frames if isinstance(frames, bytes) else b"".join(frame.data for frame in frames)
    return _HEAD.pack(b"A", _AUDIO.size + len(audio)) + _AUDIO.pack(mount, play) + audio


def split_frames(audio: bytes) -> list[Frame]:
    """
    Split bytes known to be whole, valid frames (as a feed carries them).

    @raise FeedError: if they are not.
    """
    frames = []
    position = 0
    while position < len(audio):
        header = parse_header(audio, position)
        if header is None or position + header.length > len(audio):
            raise FeedError(f"audio is not whole frames at byte {position}")
        frames.append(Frame(header, audio[position : position + header.length]))
        position += header.length
    return frames


class FeedDecoder:
    """
    Turns feed bytes, in pieces of any size, back into messages.
    """

    def __init__(self) -> None:
        self._buffer = bytearray()

    def feed(self, data: bytes) -> list[TrackMessage | AudioMessage | ControlMessage]:
        """
        Add bytes; return every message now complete.

        @raise FeedError: on an unknown kind, an oversized or malformed
            message.
        """
        self._buffer += data
        messages: list[TrackMessage | AudioMessage | ControlMessage] = []
        buffer = self._buffer
        position = 0
        while len(buffer) - position >= _HEAD.size:
            kind, length = _HEAD.unpack_from(buffer, position)
            if length > MAX_MESSAGE:
                raise FeedError(f"message of {length} bytes is too large")
            end = position + _HEAD.size + length
            if end > len(buffer):
                break
            payload = bytes(buffer[position + _HEAD.size : end])
            position = end
            if kind == b"T":
                messages.append(_track(payload))
            elif kind == b"A":
                if len(payload) < _AUDIO.size:
                    raise FeedError("audio message too short")
                mount, play = _AUDIO.unpack_from(payload)
                messages.append(AudioMessage(mount, play, payload[_AUDIO.size :]))
            elif kind == b"C":
                messages.append(_control(payload))
            else:
                raise FeedError(f"unknown message kind {kind!r}")
        del buffer[:position]
        return messages


def _track(payload: bytes) -> TrackMessage:
    try:
        fields = json.loads(payload.decode("utf-8", "surrogatepass"))
        track = TrackInfo(
            path=str(fields["path"]),
            title=str(fields["title"]),
            artist=str(fields["artist"]),
            album=str(fields["album"]),
            duration=float(fields["duration"]),
            jingle=fields.get("jingle") is True,
            requested=fields.get("requested") is True,
            art=str(fields.get("art") or ""),
        )
        return TrackMessage(int(fields["mount"]), int(fields["play"]), track)
    except (ValueError, KeyError, TypeError) as error:
        raise FeedError(f"bad track message: {error}") from None


def _control(payload: bytes) -> ControlMessage:
    try:
        fields = json.loads(payload.decode("utf-8"))
    except ValueError as error:
        raise FeedError(f"bad control message: {error}") from None
    if not isinstance(fields, dict):
        raise FeedError("bad control message: not an object")
    return ControlMessage(fields)
