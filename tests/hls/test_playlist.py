"""
Tests for L{radiod.hls.playlist}.
"""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

from twisted.trial.unittest import SynchronousTestCase

from radiod.hls.playlist import (
    MP3_CODECS,
    MediaPlaylist,
    PartEntry,
    SegmentEntry,
    Variant,
    media_playlist,
    multivariant_playlist,
    program_date_time,
)

FRAME = 1152 / 44100
"""
Seconds in an MPEG-1 Layer III frame at 44.1 kHz.
"""

PART = 38 * FRAME
"""
A part of 38 frames: 43776 / 44100 = 0.99265306... seconds.
"""

SEGMENT = 6 * PART
"""
A segment of six such parts: 262656 / 44100 = 5.95591836... seconds.
"""

START = 1796634000.25
"""
A Unix time: 2026-12-07 09:00:00.25 UTC.
"""

_NAME = r"[A-Z0-9-]+"
_INTEGER = r"[0-9]+"
_FLOAT = r"[0-9]+(?:\.[0-9]+)?"
_QUOTED = r'"[^"\r\n]*"'
_ENUMERATED = r'[^",\s]+'
_ATTRIBUTE = re.compile(rf"({_NAME})=({_QUOTED}|{_FLOAT}|{_ENUMERATED})")
_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{3}Z")


def attributes(text: str) -> dict[str, str]:
    """
    Parse an RFC 8216 attribute list (section 4.2): comma-separated
    C{NAME=value} pairs whose values are decimal numbers, quoted strings
    or enumerated strings.  Fail on anything else, or a repeated name.
    """
    parsed: dict[str, str] = {}
    rest = text
    while True:
        match = _ATTRIBUTE.match(rest)
        if match is None:
            raise AssertionError(f"not an attribute list: {text!r}")
        name, value = match.groups()
        if name in parsed:
            raise AssertionError(f"{name} twice in {text!r}")
        parsed[name] = value
        rest = rest[match.end() :]
        if not rest:
            return parsed
        if not rest.startswith(","):
            raise AssertionError(f"not an attribute list: {text!r}")
        rest = rest[1:]


def parse(text: str) -> list[tuple[str, str]]:
    """
    Check that C{text} is a playlist as RFC 8216 spells one and return its
    lines as (tag, value) pairs, URIs as ("URI", uri).

    It starts with C{#EXTM3U} and ends with a newline; every line is a tag
    starting with C{#EXT} or a URI; a URI follows, and only follows, an
    C{EXTINF} or C{EXT-X-STREAM-INF}; attribute lists, decimals and dates
    are well formed.
    """
    if not text.endswith("\n"):
        raise AssertionError("no newline at the end")
    lines = text[:-1].split("\n")
    if lines[0] != "#EXTM3U":
        raise AssertionError(f"starts with {lines[0]!r}")
    parsed: list[tuple[str, str]] = []
    expecting_uri = False
    for line in lines:
        if line.startswith("#EXT"):
            if expecting_uri:
                raise AssertionError(f"{line!r} where a URI belongs")
            tag, _, value = line.partition(":")
            parsed.append((tag, value))
            if tag == "#EXTINF":
                if not re.fullmatch(rf"{_FLOAT},", value):
                    raise AssertionError(f"bad EXTINF {value!r}")
                expecting_uri = True
            elif tag == "#EXT-X-STREAM-INF":
                attributes(value)
                expecting_uri = True
            elif tag == "#EXT-X-PROGRAM-DATE-TIME":
                if not _DATE.fullmatch(value):
                    raise AssertionError(f"bad date {value!r}")
            elif tag in (
                "#EXT-X-VERSION",
                "#EXT-X-TARGETDURATION",
                "#EXT-X-MEDIA-SEQUENCE",
                "#EXT-X-DISCONTINUITY-SEQUENCE",
            ):
                if not re.fullmatch(_INTEGER, value):
                    raise AssertionError(f"bad integer in {line!r}")
            elif value:
                attributes(value)
        else:
            if not expecting_uri:
                raise AssertionError(f"{line!r} is neither a tag nor a URI after one")
            if not line or line.startswith("#") or line != line.strip():
                raise AssertionError(f"bad URI {line!r}")
            parsed.append(("URI", line))
            expecting_uri = False
    if expecting_uri:
        raise AssertionError("the last tag wants a URI")
    return parsed


def segment(
    uri: str,
    started: float,
    discontinuous: bool = False,
    parts: tuple[PartEntry, ...] = (),
) -> SegmentEntry:
    """
    A segment of L{SEGMENT} seconds.
    """
    return SegmentEntry(uri, SEGMENT, started, discontinuous, parts)


def parts_of(sequence: int, count: int) -> tuple[PartEntry, ...]:
    """
    The first C{count} parts of segment C{sequence}, each L{PART} long.
    """
    return tuple(PartEntry(f"{sequence}.{index}.mp3", PART) for index in range(count))


class ProgramDateTimeTests(SynchronousTestCase):
    """
    L{program_date_time}.
    """

    def test_epoch(self) -> None:
        """
        Unix time 0 is midnight, 1 January 1970, UTC, to the millisecond.
        """
        self.assertEqual(program_date_time(0.0), "1970-01-01T00:00:00.000Z")

    def test_known_instant(self) -> None:
        """
        A Unix time with a fraction is its UTC date and time, with the
        fraction as milliseconds; the same that L{datetime} gives.
        """
        self.assertEqual(program_date_time(START), "2026-12-07T09:00:00.250Z")
        expected = datetime(1970, 1, 1, tzinfo=UTC) + timedelta(seconds=START)
        self.assertEqual(expected, datetime(2026, 12, 7, 9, 0, 0, 250000, tzinfo=UTC))
        self.assertEqual(
            program_date_time(START),
            expected.strftime("%Y-%m-%dT%H:%M:%S.") + f"{expected.microsecond // 1000:03d}Z",
        )

    def test_rounds_to_milliseconds(self) -> None:
        """
        Fractions round to the nearest millisecond, carrying into the
        seconds, minutes, hours and days.
        """
        self.assertEqual(program_date_time(0.0004), "1970-01-01T00:00:00.000Z")
        self.assertEqual(program_date_time(0.0006), "1970-01-01T00:00:00.001Z")
        self.assertEqual(program_date_time(1.007), "1970-01-01T00:00:01.007Z")
        self.assertEqual(program_date_time(59.9996), "1970-01-01T00:01:00.000Z")
        self.assertEqual(program_date_time(86399.9999), "1970-01-02T00:00:00.000Z")

    def test_leap_day(self) -> None:
        """
        The days of leap years are counted: 2028-02-29 12:34:56.789 UTC.
        """
        instant = datetime(2028, 2, 29, 12, 34, 56, tzinfo=UTC).timestamp() + 0.789
        self.assertEqual(program_date_time(instant), "2028-02-29T12:34:56.789Z")


class MultivariantPlaylistTests(SynchronousTestCase):
    """
    L{multivariant_playlist}.
    """

    def test_two_variants(self) -> None:
        """
        The playlist has the header, then one C{EXT-X-STREAM-INF} line and
        URI per variant, in the order given, with MP3's codecs string.
        """
        text = multivariant_playlist(
            [
                Variant("hi/index.m3u8", 330_000, 320_000),
                Variant("lo/index.m3u8", 70_000, 64_000),
            ]
        )
        self.assertEqual(
            text,
            "#EXTM3U\n"
            "#EXT-X-VERSION:6\n"
            "#EXT-X-INDEPENDENT-SEGMENTS\n"
            '#EXT-X-STREAM-INF:BANDWIDTH=330000,AVERAGE-BANDWIDTH=320000,CODECS="mp4a.40.34"\n'
            "hi/index.m3u8\n"
            '#EXT-X-STREAM-INF:BANDWIDTH=70000,AVERAGE-BANDWIDTH=64000,CODECS="mp4a.40.34"\n'
            "lo/index.m3u8\n",
        )
        parse(text)

    def test_order_kept(self) -> None:
        """
        Variants are listed in the order given, not sorted by bandwidth.
        """
        text = multivariant_playlist(
            [
                Variant("b.m3u8", 70_000, 64_000),
                Variant("c.m3u8", 200_000, 192_000),
                Variant("a.m3u8", 140_000, 128_000),
            ]
        )
        uris = [value for tag, value in parse(text) if tag == "URI"]
        self.assertEqual(uris, ["b.m3u8", "c.m3u8", "a.m3u8"])

    def test_codecs(self) -> None:
        """
        The default codecs value is MPEG Layer III's; another one is
        written as given, quoted.
        """
        self.assertEqual(MP3_CODECS, "mp4a.40.34")
        text = multivariant_playlist([Variant("aac.m3u8", 1000, 900, codecs="mp4a.40.2")])
        infos = [value for tag, value in parse(text) if tag == "#EXT-X-STREAM-INF"]
        self.assertEqual(
            [attributes(info) for info in infos],
            [{"BANDWIDTH": "1000", "AVERAGE-BANDWIDTH": "900", "CODECS": '"mp4a.40.2"'}],
        )

    def test_no_variants(self) -> None:
        """
        Without variants the playlist is just its header.
        """
        self.assertEqual(
            multivariant_playlist([]),
            "#EXTM3U\n#EXT-X-VERSION:6\n#EXT-X-INDEPENDENT-SEGMENTS\n",
        )


class MediaPlaylistWithoutPartsTests(SynchronousTestCase):
    """
    L{media_playlist} of a playlist without parts.
    """

    def test_text(self) -> None:
        """
        The whole text: header, target duration rounded up, the sequence
        numbers, and per segment its discontinuity (if any), its program
        date-time and its C{EXTINF} with URI.
        """
        text = media_playlist(
            MediaPlaylist(
                target=SEGMENT,
                sequence=301,
                discontinuity_sequence=2,
                segments=[
                    segment("301.mp3", START),
                    segment("302.mp3", START + SEGMENT, discontinuous=True),
                    SegmentEntry("303.mp3", 2.5, START + 2 * SEGMENT),
                ],
            )
        )
        self.assertEqual(
            text,
            "#EXTM3U\n"
            "#EXT-X-VERSION:6\n"
            "#EXT-X-TARGETDURATION:6\n"
            "#EXT-X-MEDIA-SEQUENCE:301\n"
            "#EXT-X-DISCONTINUITY-SEQUENCE:2\n"
            "#EXT-X-PROGRAM-DATE-TIME:2026-12-07T09:00:00.250Z\n"
            "#EXTINF:5.95592,\n"
            "301.mp3\n"
            "#EXT-X-DISCONTINUITY\n"
            "#EXT-X-PROGRAM-DATE-TIME:2026-12-07T09:00:06.206Z\n"
            "#EXTINF:5.95592,\n"
            "302.mp3\n"
            "#EXT-X-PROGRAM-DATE-TIME:2026-12-07T09:00:12.162Z\n"
            "#EXTINF:2.5,\n"
            "303.mp3\n",
        )
        parse(text)

    def test_no_low_latency_tags(self) -> None:
        """
        Without a part target there is no server control, part
        information, part or preload hint.
        """
        text = media_playlist(
            MediaPlaylist(
                target=SEGMENT,
                sequence=5,
                discontinuity_sequence=0,
                segments=[segment("5.mp3", START), segment("6.mp3", START + SEGMENT)],
            )
        )
        tags = {tag for tag, _ in parse(text)}
        for tag in (
            "#EXT-X-SERVER-CONTROL",
            "#EXT-X-PART-INF",
            "#EXT-X-PART",
            "#EXT-X-PRELOAD-HINT",
            "#EXT-X-RENDITION-REPORT",
        ):
            self.assertNotIn(tag, tags)

    def test_target_duration_rounded_up(self) -> None:
        """
        C{EXT-X-TARGETDURATION} is the target's ceiling: a whole number
        of seconds no segment's duration exceeds.
        """
        for target, expected in [(5.955, "6"), (6.0, "6"), (6.01, "7"), (0.5, "1"), (10.0, "10")]:
            text = media_playlist(MediaPlaylist(target, 0, 0, []))
            durations = [value for tag, value in parse(text) if tag == "#EXT-X-TARGETDURATION"]
            self.assertEqual(durations, [expected], f"target {target}")

    def test_sequence_numbers(self) -> None:
        """
        C{EXT-X-MEDIA-SEQUENCE} and C{EXT-X-DISCONTINUITY-SEQUENCE} are
        the values given, once each, before the first segment.
        """
        text = media_playlist(
            MediaPlaylist(
                target=6.0,
                sequence=301_655_242,
                discontinuity_sequence=17,
                segments=[segment("a.mp3", START)],
            )
        )
        parsed = parse(text)
        self.assertEqual(
            parsed[3:6],
            [
                ("#EXT-X-MEDIA-SEQUENCE", "301655242"),
                ("#EXT-X-DISCONTINUITY-SEQUENCE", "17"),
                ("#EXT-X-PROGRAM-DATE-TIME", "2026-12-07T09:00:00.250Z"),
            ],
        )

    def test_durations(self) -> None:
        """
        C{EXTINF} durations have at most five decimals, rounded, with
        trailing zeros (and a bare point) left off; zeros of the whole
        seconds stay.
        """
        cases = [
            (6.0, "6"),
            (10.0, "10"),
            (100.0, "100"),
            (2.5, "2.5"),
            (10.1, "10.1"),
            (SEGMENT, "5.95592"),
            (PART, "0.99265"),
            (0.123456, "0.12346"),
            (1.000004, "1"),
            (1.000006, "1.00001"),
            (0.02612, "0.02612"),
        ]
        text = media_playlist(
            MediaPlaylist(
                target=100.0,
                sequence=0,
                discontinuity_sequence=0,
                segments=[
                    SegmentEntry(f"{number}.mp3", duration, START)
                    for number, (duration, _) in enumerate(cases)
                ],
            )
        )
        extinfs = [value for tag, value in parse(text) if tag == "#EXTINF"]
        self.assertEqual(extinfs, [f"{expected}," for _, expected in cases])

    def test_program_date_time_per_segment(self) -> None:
        """
        Every segment is preceded by its own program date-time, even when
        segments follow each other without a gap.
        """
        text = media_playlist(
            MediaPlaylist(
                target=SEGMENT,
                sequence=0,
                discontinuity_sequence=0,
                segments=[segment(f"{n}.mp3", n * SEGMENT) for n in range(4)],
            )
        )
        parsed = parse(text)
        dates = [value for tag, value in parsed if tag == "#EXT-X-PROGRAM-DATE-TIME"]
        # 0, 5.9559..., 11.9118..., 17.8677... seconds after the epoch.
        self.assertEqual(
            dates,
            [
                "1970-01-01T00:00:00.000Z",
                "1970-01-01T00:00:05.956Z",
                "1970-01-01T00:00:11.912Z",
                "1970-01-01T00:00:17.868Z",
            ],
        )
        tags = [tag for tag, _ in parsed[5:]]
        self.assertEqual(tags, ["#EXT-X-PROGRAM-DATE-TIME", "#EXTINF", "URI"] * 4)

    def test_discontinuities(self) -> None:
        """
        C{EXT-X-DISCONTINUITY} comes right before the program date-time of
        each discontinuous segment except the first listed (whose
        discontinuity the discontinuity sequence already counts).
        """
        text = media_playlist(
            MediaPlaylist(
                target=SEGMENT,
                sequence=10,
                discontinuity_sequence=3,
                segments=[
                    segment("10.mp3", START, discontinuous=True),
                    segment("11.mp3", START + SEGMENT),
                    segment("12.mp3", START + 2 * SEGMENT, discontinuous=True),
                    segment("13.mp3", START + 3 * SEGMENT, discontinuous=True),
                    segment("14.mp3", START + 4 * SEGMENT),
                ],
            )
        )
        parsed = parse(text)
        before = [
            parsed[index + 3][1]
            for index, (tag, _) in enumerate(parsed)
            if tag == "#EXT-X-DISCONTINUITY"
        ]
        self.assertEqual(before, ["12.mp3", "13.mp3"])
        for index, (tag, _) in enumerate(parsed):
            if tag == "#EXT-X-DISCONTINUITY":
                self.assertEqual(parsed[index + 1][0], "#EXT-X-PROGRAM-DATE-TIME")

    def test_empty(self) -> None:
        """
        A playlist without segments is its header alone.
        """
        self.assertEqual(
            media_playlist(MediaPlaylist(6.0, 0, 0, [])),
            "#EXTM3U\n"
            "#EXT-X-VERSION:6\n"
            "#EXT-X-TARGETDURATION:6\n"
            "#EXT-X-MEDIA-SEQUENCE:0\n"
            "#EXT-X-DISCONTINUITY-SEQUENCE:0\n",
        )


class MediaPlaylistWithPartsTests(SynchronousTestCase):
    """
    L{media_playlist} of a low-latency playlist, with parts.
    """

    def low_latency(self, **changes: Any) -> MediaPlaylist:
        """
        Segment 301 without its parts, 302 with its six, two parts of 303
        pending, the third hinted, and two other rungs reported; with
        C{changes} made.
        """
        playlist = MediaPlaylist(
            target=SEGMENT,
            sequence=301,
            discontinuity_sequence=0,
            segments=[
                segment("301.mp3", START),
                segment("302.mp3", START + SEGMENT, parts=parts_of(302, 6)),
            ],
            part_target=PART,
            pending=parts_of(303, 2),
            pending_started=START + 2 * SEGMENT,
            hint="303.2.mp3",
            reports=[("../lo/index.m3u8", 303, 1), ("../mid/index.m3u8", 303, 1)],
        )
        return replace(playlist, **changes)

    def test_text(self) -> None:
        """
        The whole text: server control and part information after the
        target duration, the parts of segment 302 between its date-time
        and its C{EXTINF}, the pending parts after the last segment with
        their own date-time, then the preload hint and rendition reports.
        """
        part = '#EXT-X-PART:DURATION=0.99265,URI="{}",INDEPENDENT=YES\n'
        self.assertEqual(
            media_playlist(self.low_latency()),
            "#EXTM3U\n"
            "#EXT-X-VERSION:6\n"
            "#EXT-X-TARGETDURATION:6\n"
            "#EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES,PART-HOLD-BACK=2.48163,HOLD-BACK=18\n"
            "#EXT-X-PART-INF:PART-TARGET=0.99265\n"
            "#EXT-X-MEDIA-SEQUENCE:301\n"
            "#EXT-X-DISCONTINUITY-SEQUENCE:0\n"
            "#EXT-X-PROGRAM-DATE-TIME:2026-12-07T09:00:00.250Z\n"
            "#EXTINF:5.95592,\n"
            "301.mp3\n"
            "#EXT-X-PROGRAM-DATE-TIME:2026-12-07T09:00:06.206Z\n"
            + "".join(part.format(f"302.{index}.mp3") for index in range(6))
            + "#EXTINF:5.95592,\n"
            "302.mp3\n"
            "#EXT-X-PROGRAM-DATE-TIME:2026-12-07T09:00:12.162Z\n"
            + part.format("303.0.mp3")
            + part.format("303.1.mp3")
            + '#EXT-X-PRELOAD-HINT:TYPE=PART,URI="303.2.mp3"\n'
            '#EXT-X-RENDITION-REPORT:URI="../lo/index.m3u8",LAST-MSN=303,LAST-PART=1\n'
            '#EXT-X-RENDITION-REPORT:URI="../mid/index.m3u8",LAST-MSN=303,LAST-PART=1\n',
        )

    def test_parses(self) -> None:
        """
        Every line is a tag or a URI after an C{EXTINF}, every attribute
        list parses, and the text ends with a newline.
        """
        text = media_playlist(self.low_latency())
        self.assertTrue(text.endswith("\n"))
        self.assertFalse(text.endswith("\n\n"))
        for line in text.splitlines():
            self.assertTrue(line.startswith("#EXT") or line.endswith(".mp3"), line)
        parse(text)

    def test_server_control(self) -> None:
        """
        Players may block on reloads and stay two and a half part targets
        behind live with parts, three (whole) target durations without.
        """
        for target, part_target, expected in [
            (SEGMENT, PART, {"PART-HOLD-BACK": "2.48163", "HOLD-BACK": "18"}),
            (4.0, 1.0, {"PART-HOLD-BACK": "2.5", "HOLD-BACK": "12"}),
            (2.0, 0.5, {"PART-HOLD-BACK": "1.25", "HOLD-BACK": "6"}),
            (6.01, 0.2, {"PART-HOLD-BACK": "0.5", "HOLD-BACK": "21"}),
        ]:
            text = media_playlist(MediaPlaylist(target, 0, 0, [], part_target=part_target))
            controls = [value for tag, value in parse(text) if tag == "#EXT-X-SERVER-CONTROL"]
            self.assertEqual(
                [attributes(value) for value in controls],
                [{"CAN-BLOCK-RELOAD": "YES", **expected}],
            )
            hold_back = float(expected["PART-HOLD-BACK"])
            # RFC 8216bis: at least twice the part target.
            self.assertGreaterEqual(hold_back, 2 * part_target)

    def test_part_information(self) -> None:
        """
        C{EXT-X-PART-INF} states the part target, as many decimals as
        durations; it follows the server control, before the sequence.
        """
        parsed = parse(media_playlist(MediaPlaylist(4.0, 9, 1, [], part_target=0.5)))
        self.assertEqual(
            [tag for tag, _ in parsed],
            [
                "#EXTM3U",
                "#EXT-X-VERSION",
                "#EXT-X-TARGETDURATION",
                "#EXT-X-SERVER-CONTROL",
                "#EXT-X-PART-INF",
                "#EXT-X-MEDIA-SEQUENCE",
                "#EXT-X-DISCONTINUITY-SEQUENCE",
            ],
        )
        self.assertEqual(parsed[4][1], "PART-TARGET=0.5")

    def test_parts_before_their_segment(self) -> None:
        """
        A listed segment's parts come, in order, after its date-time and
        before its C{EXTINF}; each is independent.
        """
        parsed = parse(media_playlist(self.low_latency(pending=(), hint="")))
        extinf = parsed.index(("#EXTINF", "5.95592,"), 9)
        self.assertEqual(parsed[extinf + 1], ("URI", "302.mp3"))
        listed = [
            attributes(value) for tag, value in parsed[extinf - 6 : extinf] if tag == "#EXT-X-PART"
        ]
        self.assertEqual(
            listed,
            [
                {"DURATION": "0.99265", "URI": f'"302.{index}.mp3"', "INDEPENDENT": "YES"}
                for index in range(6)
            ],
        )
        self.assertEqual(parsed[extinf - 7][0], "#EXT-X-PROGRAM-DATE-TIME")

    def test_pending_parts(self) -> None:
        """
        The parts of the segment in progress follow the last segment's
        URI, after a program date-time of their own, with no C{EXTINF}.
        """
        parsed = parse(media_playlist(self.low_latency()))
        last = parsed.index(("URI", "302.mp3"))
        self.assertEqual(
            parsed[last + 1 : last + 4],
            [
                ("#EXT-X-PROGRAM-DATE-TIME", "2026-12-07T09:00:12.162Z"),
                ("#EXT-X-PART", 'DURATION=0.99265,URI="303.0.mp3",INDEPENDENT=YES'),
                ("#EXT-X-PART", 'DURATION=0.99265,URI="303.1.mp3",INDEPENDENT=YES'),
            ],
        )
        self.assertNotIn("#EXTINF", [tag for tag, _ in parsed[last:]])

    def test_pending_part_duration(self) -> None:
        """
        A pending part shorter than the target has its own duration.
        """
        text = media_playlist(
            self.low_latency(pending=(PartEntry("303.0.mp3", 0.2612244897959184),))
        )
        self.assertIn(
            '#EXT-X-PART:DURATION=0.26122,URI="303.0.mp3",INDEPENDENT=YES\n#EXT-X-PRELOAD-HINT',
            text,
        )

    def test_pending_discontinuity(self) -> None:
        """
        A discontinuity before the segment in progress comes before its
        date-time, unless no segment is listed before it.
        """
        parsed = parse(media_playlist(self.low_latency(pending_discontinuous=True)))
        last = parsed.index(("URI", "302.mp3"))
        self.assertEqual(parsed[last + 1], ("#EXT-X-DISCONTINUITY", ""))
        self.assertEqual(parsed[last + 2][0], "#EXT-X-PROGRAM-DATE-TIME")

        parsed = parse(media_playlist(self.low_latency(segments=[], pending_discontinuous=True)))
        tags = [tag for tag, _ in parsed]
        self.assertNotIn("#EXT-X-DISCONTINUITY", tags)
        self.assertEqual(
            tags[7:],
            [
                "#EXT-X-PROGRAM-DATE-TIME",
                "#EXT-X-PART",
                "#EXT-X-PART",
                "#EXT-X-PRELOAD-HINT",
                "#EXT-X-RENDITION-REPORT",
                "#EXT-X-RENDITION-REPORT",
            ],
        )

    def test_no_pending(self) -> None:
        """
        Without pending parts, no date-time follows the last segment; the
        hint then names the first part of the next segment.
        """
        parsed = parse(media_playlist(self.low_latency(pending=(), hint="303.0.mp3")))
        last = parsed.index(("URI", "302.mp3"))
        self.assertEqual(
            parsed[last + 1 :],
            [
                ("#EXT-X-PRELOAD-HINT", 'TYPE=PART,URI="303.0.mp3"'),
                (
                    "#EXT-X-RENDITION-REPORT",
                    'URI="../lo/index.m3u8",LAST-MSN=303,LAST-PART=1',
                ),
                (
                    "#EXT-X-RENDITION-REPORT",
                    'URI="../mid/index.m3u8",LAST-MSN=303,LAST-PART=1',
                ),
            ],
        )

    def test_preload_hint_and_reports(self) -> None:
        """
        The hint and each report parse as attribute lists with the values
        given; without them there are no such lines.
        """
        parsed = parse(media_playlist(self.low_latency()))
        self.assertEqual(
            [attributes(value) for tag, value in parsed if tag == "#EXT-X-PRELOAD-HINT"],
            [{"TYPE": "PART", "URI": '"303.2.mp3"'}],
        )
        self.assertEqual(
            [attributes(value) for tag, value in parsed if tag == "#EXT-X-RENDITION-REPORT"],
            [
                {"URI": '"../lo/index.m3u8"', "LAST-MSN": "303", "LAST-PART": "1"},
                {"URI": '"../mid/index.m3u8"', "LAST-MSN": "303", "LAST-PART": "1"},
            ],
        )
        tags = {tag for tag, _ in parse(media_playlist(self.low_latency(hint="", reports=())))}
        self.assertNotIn("#EXT-X-PRELOAD-HINT", tags)
        self.assertNotIn("#EXT-X-RENDITION-REPORT", tags)

    def test_parser_rejects(self) -> None:
        """
        The parse check used here is not a rubber stamp: it fails on a
        missing final newline, a URI without C{EXTINF}, an empty or missing
        URI, a comment line, an unquoted value with a comma, a fractional
        target duration and a date-time without milliseconds.
        """
        good = "#EXTM3U\n#EXT-X-TARGETDURATION:6\n#EXTINF:6,\na.mp3\n"
        parse(good)
        for bad in [
            good[:-1],
            "#EXTM3U\na.mp3\n",
            "#EXTM3U\n#EXTINF:6,\n\n",
            "#EXTM3U\n#EXTINF:6,\n",
            "#EXTM3U\n# comment\n",
            "#EXTM3U\n#EXT-X-PART:URI=a,b.mp3\n",
            "#EXTM3U\n#EXT-X-TARGETDURATION:6.5\n",
            "#EXTM3U\n#EXT-X-PROGRAM-DATE-TIME:2026-12-07T09:00:00Z\n",
        ]:
            self.assertRaises(AssertionError, parse, bad)
