# -*- test-case-name: tests.hls.test_playlist -*-
"""
HLS playlists as text (RFC 8216 and its low-latency extension): the
multivariant playlist of a mount, listing its rungs, and the media
playlist of one rung, listing its segments, the parts of the newest ones
and the part to come.  Pure: values in, text out.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import dataclass

__all__ = [
    "AAC_CODECS",
    "MP3_CODECS",
    "MediaPlaylist",
    "PartEntry",
    "SegmentEntry",
    "Variant",
    "media_playlist",
    "multivariant_playlist",
    "program_date_time",
]

MP3_CODECS = "mp4a.40.34"
"""
The C{CODECS} value of MPEG-1/2 Layer III audio.
"""

AAC_CODECS = "mp4a.40.2"
"""
The C{CODECS} value of AAC-LC audio.
"""

VERSION = 6
"""
The playlists' C{EXT-X-VERSION}.
"""

PART_HOLD_BACK = 2.5
"""
How many part targets behind live a low-latency player stays
(C{PART-HOLD-BACK}).  RFC 8216bis requires at least two and recommends
three; audio parts are small (16 KiB at 128 kbps) and a blocking reload
answers as a part completes, so two and a half leave a player more than a
part of slack while keeping it within 3 seconds of the ICY stream's head
with 1-second parts.
"""


@dataclass(frozen=True, slots=True)
class Variant:
    """
    One rung as the multivariant playlist lists it.

    @ivar uri: its media playlist, relative to the multivariant one.
    @ivar bandwidth: the peak bits per second of its segments.
    @ivar average: the average bits per second of its segments.
    @ivar codecs: its C{CODECS} value.
    """

    uri: str
    bandwidth: int
    average: int
    codecs: str = MP3_CODECS


@dataclass(frozen=True, slots=True)
class PartEntry:
    """
    One part as a media playlist lists it.

    @ivar uri: where it is, relative to the playlist.
    @ivar duration: its seconds of audio.
    """

    uri: str
    duration: float


@dataclass(frozen=True, slots=True)
class SegmentEntry:
    """
    One segment as a media playlist lists it.

    @ivar uri: where it is, relative to the playlist.
    @ivar duration: its seconds of audio.
    @ivar started: the wall-clock time of its first sample (Unix seconds).
    @ivar discontinuous: whether a discontinuity comes before it (the
        audio's format changed, or audio is missing).
    @ivar parts: its parts, when they are listed.
    """

    uri: str
    duration: float
    started: float
    discontinuous: bool = False
    parts: tuple[PartEntry, ...] = ()


@dataclass(frozen=True, slots=True)
class MediaPlaylist:
    """
    A rung's media playlist.

    @ivar target: the segments' target duration, in seconds.
    @ivar sequence: the media sequence number of the first segment listed.
    @ivar discontinuity_sequence: discontinuities before the first segment
        listed.
    @ivar segments: the complete segments, oldest first.
    @ivar part_target: the parts' target duration, in seconds; 0 for a
        playlist without parts.
    @ivar pending: the parts of the segment in progress.
    @ivar pending_discontinuous: whether a discontinuity comes before the
        segment in progress.
    @ivar pending_started: the wall-clock time its first part started.
    @ivar hint: the URI of the next part, for C{EXT-X-PRELOAD-HINT}.
    @ivar reports: other rungs' playlists, each with its last segment and
        part, for C{EXT-X-RENDITION-REPORT}.
    @ivar start: where a player should start, in seconds from the start
        of the first segment listed (C{EXT-X-START}), or C{None} for the
        player's own choice (near live).
    """

    target: float
    sequence: int
    discontinuity_sequence: int
    segments: Sequence[SegmentEntry]
    part_target: float = 0.0
    pending: Sequence[PartEntry] = ()
    pending_discontinuous: bool = False
    pending_started: float = 0.0
    hint: str = ""
    reports: Sequence[tuple[str, int, int]] = ()
    start: float | None = None


def program_date_time(seconds: float) -> str:
    """
    C{EXT-X-PROGRAM-DATE-TIME}'s value for a Unix time: ISO 8601 in UTC,
    to the millisecond.
    """
    millis = round(seconds * 1000)
    whole, fraction = divmod(millis, 1000)
    stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(whole))
    return f"{stamp}.{fraction:03d}Z"


def _seconds(value: float) -> str:
    return f"{value:.5f}".rstrip("0").rstrip(".")


def multivariant_playlist(variants: Sequence[Variant]) -> str:
    """
    The multivariant playlist listing C{variants}, best first.
    """
    lines = ["#EXTM3U", f"#EXT-X-VERSION:{VERSION}", "#EXT-X-INDEPENDENT-SEGMENTS"]
    for variant in variants:
        lines.append(
            f"#EXT-X-STREAM-INF:BANDWIDTH={variant.bandwidth},"
            f"AVERAGE-BANDWIDTH={variant.average},"
            f'CODECS="{variant.codecs}"'
        )
        lines.append(variant.uri)
    return "\n".join(lines) + "\n"


def _part(part: PartEntry) -> str:
    return f'#EXT-X-PART:DURATION={_seconds(part.duration)},URI="{part.uri}",INDEPENDENT=YES'


def media_playlist(playlist: MediaPlaylist) -> str:
    """
    The text of a media playlist.

    With parts, the playlist says that it may be reloaded blocking and how
    far behind live a player should stay (L{PART_HOLD_BACK} parts, and
    three target durations without parts), lists the parts of its newest segments
    before each, the parts of the segment in progress after the last, and
    hints at the next part.
    """
    target = math.ceil(playlist.target)
    lines = [
        "#EXTM3U",
        f"#EXT-X-VERSION:{VERSION}",
        f"#EXT-X-TARGETDURATION:{target}",
    ]
    if playlist.start is not None:
        lines.append(f"#EXT-X-START:TIME-OFFSET={_seconds(playlist.start) or 0},PRECISE=YES")
    if playlist.part_target:
        lines.append(
            "#EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES,"
            f"PART-HOLD-BACK={_seconds(PART_HOLD_BACK * playlist.part_target)},"
            f"HOLD-BACK={_seconds(3 * target)}"
        )
        lines.append(f"#EXT-X-PART-INF:PART-TARGET={_seconds(playlist.part_target)}")
    lines.append(f"#EXT-X-MEDIA-SEQUENCE:{playlist.sequence}")
    lines.append(f"#EXT-X-DISCONTINUITY-SEQUENCE:{playlist.discontinuity_sequence}")
    for position, segment in enumerate(playlist.segments):
        if segment.discontinuous and position:
            lines.append("#EXT-X-DISCONTINUITY")
        lines.append(f"#EXT-X-PROGRAM-DATE-TIME:{program_date_time(segment.started)}")
        lines.extend(_part(part) for part in segment.parts)
        lines.append(f"#EXTINF:{_seconds(segment.duration)},")
        lines.append(segment.uri)
    if playlist.pending:
        if playlist.pending_discontinuous and playlist.segments:
            lines.append("#EXT-X-DISCONTINUITY")
        lines.append(f"#EXT-X-PROGRAM-DATE-TIME:{program_date_time(playlist.pending_started)}")
        lines.extend(_part(part) for part in playlist.pending)
    if playlist.hint:
        lines.append(f'#EXT-X-PRELOAD-HINT:TYPE=PART,URI="{playlist.hint}"')
    for uri, sequence, part in playlist.reports:
        lines.append(f'#EXT-X-RENDITION-REPORT:URI="{uri}",LAST-MSN={sequence},LAST-PART={part}')
    return "\n".join(lines) + "\n"
