# -*- test-case-name: tests.test_fixtures -*-
"""
Generate radiod's shipped demo library and its MP3 test fixtures.

Usage, from the repository root::

    python tools/make_media.py [--demo] [--fixtures]

With neither flag, both are made.  The audio comes from ffmpeg's lavfi
sources (C{sine}, C{aevalsrc}) encoded with libmp3lame; tags are written with
mutagen, or built byte by byte where mutagen cannot write them (ID3v2 footer,
Lyrics3 v2, VBRI).  Output is reproducible for a given ffmpeg build: bit-exact
flags, no copied metadata, and fixed seeds for every random byte.
"""

from __future__ import annotations

import argparse
import io
import random
import shutil
import struct
import subprocess
import sys
import tempfile
import wave
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from mutagen import PaddingInfo
from mutagen.apev2 import APEv2
from mutagen.id3 import ID3, TALB, TDRC, TIT2, TPE1, TRCK, MakeID3v1

ROOT = Path(__file__).resolve().parent.parent
DEMO_DIR = ROOT / "radiod" / "demo"
FIXTURE_DIR = ROOT / "tests" / "fixtures"

_BITEXACT = ["-fflags", "+bitexact", "-flags:a", "+bitexact", "-map_metadata", "-1"]


def find_ffmpeg() -> str:
    """
    Locate an ffmpeg executable.

    @return: the ffmpeg on C{PATH}, or else the one bundled with imageio-ffmpeg.
    @raise SystemExit: if neither is available.
    """
    found = shutil.which("ffmpeg")
    if found:
        return found
    try:
        import imageio_ffmpeg
    except ImportError:
        raise SystemExit("ffmpeg not found: install it or imageio-ffmpeg") from None
    return str(imageio_ffmpeg.get_ffmpeg_exe())


def has_encoder(ffmpeg: str, name: str) -> bool:
    """
    Tell whether this ffmpeg build has the audio encoder C{name}.
    """
    out = subprocess.run(
        [ffmpeg, "-hide_banner", "-encoders"], capture_output=True, text=True, check=True
    ).stdout
    return any(line.split()[1:2] == [name] for line in out.splitlines())


def encode(
    ffmpeg: str,
    source: str,
    codec: Sequence[str],
    filters: str | None = None,
    xing: bool = True,
    fmt: str = "mp3",
) -> bytes:
    """
    Render a lavfi source through ffmpeg and return the encoded bytes.

    @param source: a lavfi graph, e.g. C{"sine=frequency=440:duration=1"}.
    @param codec: encoder arguments, e.g. C{["-c:a", "libmp3lame", "-b:a", "64k"]}.
    @param filters: an optional C{-af} filter chain.
    @param xing: whether the muxer writes its Xing/Info (LAME) header frame.
    @param fmt: the output muxer.
    @return: the file's bytes, with no ID3 tag.
    """
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / f"out.{fmt}"
        cmd = [ffmpeg, "-hide_banner", "-loglevel", "error", "-nostdin", "-y"]
        cmd += ["-f", "lavfi", "-i", source, *_BITEXACT]
        if filters:
            cmd += ["-af", filters]
        cmd += list(codec)
        if fmt == "mp3":
            cmd += ["-id3v2_version", "0", "-write_xing", "1" if xing else "0"]
        cmd += ["-f", fmt, str(out)]
        subprocess.run(cmd, check=True)
        return out.read_bytes()


def split_frames(data: bytes) -> list[bytes]:
    """
    Cut a clean MPEG audio stream (Layer II or III, no tags) into frames.

    @raise ValueError: if a frame header is missing where one should start.
    """
    frames = []
    pos = 0
    while pos < len(data):
        length = _frame_length(data[pos : pos + 4])
        if length is None or pos + length > len(data):
            raise ValueError(f"no whole frame at offset {pos}")
        frames.append(data[pos : pos + length])
        pos += length
    return frames


def _frame_length(header: bytes) -> int | None:
    """
    Compute a Layer II/III frame's length from its four header bytes.
    """
    if len(header) < 4 or header[0] != 0xFF or header[1] & 0xE0 != 0xE0:
        return None
    version = (header[1] >> 3) & 3  # 3: MPEG-1, 2: MPEG-2, 0: MPEG-2.5
    layer = 4 - ((header[1] >> 1) & 3)
    index, rate_index = header[2] >> 4, (header[2] >> 2) & 3
    if version == 1 or layer not in (2, 3) or index in (0, 15) or rate_index == 3:
        return None
    mpeg1 = version == 3
    if mpeg1 and layer == 2:
        kbps = (0, 32, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320, 384)[index]
    elif mpeg1:
        kbps = (0, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320)[index]
    else:
        kbps = (0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160)[index]
    rate = {3: (44100, 48000, 32000), 2: (22050, 24000, 16000), 0: (11025, 12000, 8000)}
    sample_rate = rate[version][rate_index]
    coefficient = 144 if mpeg1 or layer == 2 else 72
    return coefficient * kbps * 1000 // sample_rate + ((header[2] >> 1) & 1)


# Tags ------------------------------------------------------------------


def id3v2(
    title: str,
    artist: str,
    album: str | None = None,
    track: str | None = None,
    year: str | None = None,
    version: int = 4,
    padding: int = 0,
) -> bytes:
    """
    Build an ID3v2.3 or ID3v2.4 tag with mutagen.

    @param padding: bytes of zero padding after the frames.
    @return: the tag's bytes, header included.
    """
    tags = ID3()
    tags.add(TIT2(encoding=3, text=title))
    tags.add(TPE1(encoding=3, text=artist))
    if album is not None:
        tags.add(TALB(encoding=3, text=album))
    if track is not None:
        tags.add(TRCK(encoding=3, text=track))
    if year is not None:
        tags.add(TDRC(encoding=3, text=year))
    out = io.BytesIO()
    fixed: Callable[[PaddingInfo], int] = lambda info: padding  # noqa: E731
    tags.save(out, v1=0, v2_version=version, padding=fixed)
    return out.getvalue()


def add_id3v2_footer(tag: bytes) -> bytes:
    """
    Give an unpadded ID3v2.4 tag the footer that ID3v2.4 section 3.4 allows.

    The header's footer flag (bit 4 of the flags byte) is set and a ten-byte
    footer is appended: C{"3DI"}, then the header's version, flags and size.
    """
    if tag[:3] != b"ID3" or tag[3] != 4:
        raise ValueError("not an ID3v2.4 tag")
    header = bytearray(tag[:10])
    header[5] |= 0x10
    footer = b"3DI" + bytes(header[3:])
    return bytes(header) + tag[10:] + footer


def id3v1(title: str, artist: str, album: str, year: str, track: int) -> bytes:
    """
    Build a 128-byte ID3v1.1 tag with mutagen.
    """
    tags = ID3()
    tags.add(TIT2(encoding=3, text=title))
    tags.add(TPE1(encoding=3, text=artist))
    tags.add(TALB(encoding=3, text=album))
    tags.add(TDRC(encoding=3, text=year))
    tags.add(TRCK(encoding=3, text=str(track)))
    return bytes(MakeID3v1(tags))


def apev2(title: str, artist: str) -> bytes:
    """
    Build an APEv2 tag (header, items, footer) with mutagen.
    """
    tags = APEv2()
    tags["Title"] = title
    tags["Artist"] = artist
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "tag.ape"
        path.write_bytes(b"")
        tags.save(str(path))
        return path.read_bytes()


def lyrics3v2(title: str, artist: str, lyrics: str) -> bytes:
    """
    Build a Lyrics3 v2.00 tag: C{LYRICSBEGIN}, fields, a six-digit size, C{LYRICS200}.

    Each field is a three-letter id, a five-digit length and the text; the
    size counts everything from C{LYRICSBEGIN} to the end of the last field.
    """

    def field(name: str, value: str) -> bytes:
        raw = value.encode("latin-1")
        return name.encode("ascii") + b"%05d" % len(raw) + raw

    body = b"LYRICSBEGIN" + field("IND", "10") + field("LYR", lyrics)
    body += field("ETT", title) + field("EAR", artist)
    return body + b"%06d" % len(body) + b"LYRICS200"


# Fixtures --------------------------------------------------------------


def tone(frequency: float, sample_rate: int, seconds: float) -> str:
    """
    A lavfi sine source.
    """
    return f"sine=frequency={frequency}:sample_rate={sample_rate}:duration={seconds}"


def lame(kbps: int | None = None, quality: int | None = None, channels: int = 2) -> list[str]:
    """
    libmp3lame arguments: CBR at C{kbps}, or VBR at C{-q:a quality}.
    """
    args = ["-c:a", "libmp3lame", "-ac", str(channels)]
    if kbps is not None:
        args += ["-b:a", f"{kbps}k"]
    if quality is not None:
        args += ["-q:a", str(quality)]
    return args


def garbage_blocks(seed: int) -> list[bytes]:
    """
    Make junk to put between frames: random bytes salted with false sync words.

    The false headers are well formed (MPEG-1, MPEG-2 and MPEG-2.5 Layer III,
    and a run of 0xFF bytes) but no real frame follows where they point.
    """
    rng = random.Random(seed)
    false_syncs = [b"\xff\xfb\x90\x64", b"\xff\xf3\x48\xc4", b"\xff\xe3\x18\xc4", b"\xff" * 6]
    blocks = []
    for size in (37, 200, 513):
        block = bytearray(rng.randbytes(size))
        for sync in false_syncs:
            at = rng.randrange(0, size - len(sync))
            block[at : at + len(sync)] = sync
        blocks.append(bytes(block))
    return blocks


def with_garbage(frames: list[bytes], seed: int) -> bytes:
    """
    Join C{frames} with three junk blocks after frames 2, 7 and 12.
    """
    blocks = dict(zip((2, 7, 12), garbage_blocks(seed), strict=True))
    return b"".join(frame + blocks.get(i, b"") for i, frame in enumerate(frames))


def free_format(frames: list[bytes]) -> bytes:
    """
    Relabel every frame as free format by zeroing its bitrate index.

    Frame sizes, padding bits and audio data are untouched, so the result is
    a well-formed free-format stream whose (unlisted) bitrate is the one the
    frames were encoded at; only the distance between sync words gives a
    frame's length.
    """
    out = bytearray()
    for frame in frames:
        out += frame[:2] + bytes([frame[2] & 0x0F]) + frame[3:]
    return bytes(out)


def vbri_frame(frames: list[bytes]) -> bytes:
    """
    Build a Fraunhofer VBRI header frame describing C{frames}.

    It copies the first frame's header without padding, leaves the side
    information zeroed (so it decodes as silence) and puts the VBRI
    structure 32 bytes after the header, with a TOC of one entry per four
    frames giving each group's size in bytes.
    """
    header = frames[0][:2] + bytes([frames[0][2] & 0xFD]) + frames[0][3:4]
    length = _frame_length(header)
    assert length is not None
    per_entry = 4
    toc = [sum(len(f) for f in frames[i : i + per_entry]) for i in range(0, len(frames), per_entry)]
    total = length + sum(len(f) for f in frames)
    vbri = b"VBRI" + struct.pack(">HHHIIHHHH", 1, 576, 75, total, len(frames), len(toc), 1, 2, 4)
    vbri += b"".join(struct.pack(">H", size) for size in toc)
    body = header + bytes(32) + vbri
    return body + bytes(length - len(body))


def not_mp3() -> bytes:
    """
    A tenth of a second of quiet 8 kHz 8-bit WAV, with no 0xFF byte in it.
    """
    out = io.BytesIO()
    with wave.open(out, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(1)
        w.setframerate(8000)
        w.writeframes(bytes(128 + (i % 40) - 20 for i in range(800)))
    return out.getvalue()


def make_fixtures(ffmpeg: str, target: Path = FIXTURE_DIR) -> dict[str, bytes]:
    """
    Generate every test fixture into C{target}.

    @return: file name to contents, as written.
    """
    out: dict[str, bytes] = {}
    out["tone-mpeg1-44100-128k-cbr.mp3"] = encode(ffmpeg, tone(440, 44100, 1.5), lame(128))
    out["tone-mpeg1-48000-320k-cbr.mp3"] = encode(ffmpeg, tone(523.25, 48000, 1), lame(320))
    out["tone-mpeg1-32000-32k-cbr.mp3"] = encode(ffmpeg, tone(392, 32000, 2), lame(32))
    out["tone-mpeg2-22050-64k-cbr.mp3"] = encode(ffmpeg, tone(440, 22050, 1.5), lame(64))
    out["tone-mpeg2-24000-48k-cbr.mp3"] = encode(ffmpeg, tone(330, 24000, 1.5), lame(48))
    out["tone-mpeg2-16000-32k-cbr.mp3"] = encode(ffmpeg, tone(294, 16000, 1.5), lame(32))
    out["tone-mpeg25-11025-16k-cbr.mp3"] = encode(ffmpeg, tone(440, 11025, 2), lame(16))
    out["tone-mpeg25-12000-16k-cbr.mp3"] = encode(ffmpeg, tone(349, 12000, 2), lame(16, None, 1))
    out["tone-mpeg25-8000-8k-cbr.mp3"] = encode(ffmpeg, tone(262, 8000, 2), lame(8, None, 1))
    varied = (
        "aevalsrc=exprs='0.3*sin(2*PI*(220+440*t)*t)"
        "+if(gt(mod(t,0.5),0.3),0.4*(random(0)*2-1),0)':s=44100:d=2"
    )
    out["tone-mpeg1-44100-vbr.mp3"] = encode(ffmpeg, varied, lame(None, 4, 1))

    plain = encode(ffmpeg, tone(440, 44100, 1), lame(64, None, 1), xing=False)
    frames = split_frames(plain)
    out["tone-mpeg1-44100-64k-mono-noxing.mp3"] = plain
    out["tone-mpeg1-44100-64k-vbri.mp3"] = vbri_frame(frames) + plain

    names = {"title": "Fixture Tone", "artist": "radiod fixtures"}
    out["tags-id3v24.mp3"] = id3v2(album="radiod tests", **names) + plain
    footed = add_id3v2_footer(id3v2(album="radiod tests", **names))
    out["tags-id3v24-footer.mp3"] = footed + plain
    out["tags-id3v1.mp3"] = plain + id3v1("Fixture Tone", "radiod fixtures", "radiod", "2024", 1)
    out["tags-apev2.mp3"] = plain + apev2(**names)
    v1 = id3v1("Fixture Tone", "radiod fixtures", "radiod", "2024", 1)
    out["tags-lyrics3v2.mp3"] = plain + lyrics3v2(lyrics="La la la\r\nLa la", **names) + v1
    out["tags-all.mp3"] = (
        id3v2(version=3, padding=256, **names)
        + plain
        + apev2(**names)
        + lyrics3v2(lyrics="La", **names)
        + v1
    )

    out["garbage-between-frames.mp3"] = with_garbage(frames, seed=20240601)
    out["truncated-mid-frame.mp3"] = b"".join(frames[:10]) + frames[10][: len(frames[10]) // 2]
    free_source = encode(ffmpeg, tone(440, 48000, 1), lame(128), xing=False)
    out["freeformat-48000.mp3"] = free_format(split_frames(free_source))
    out["not-mp3.mp3"] = not_mp3()
    out["empty.mp3"] = b""
    if has_encoder(ffmpeg, "mp2"):
        out["tone-layer2-mpeg1-44100-96k.mp2"] = encode(
            ffmpeg, tone(440, 44100, 1), ["-c:a", "mp2", "-b:a", "96k", "-ac", "2"], fmt="mp2"
        )

    for tag, title, artist, frequency in [
        ("alpha-artist-first-song.mp3", "First Song", "Alpha Artist", 440),
        ("beta-artist-second-song.mp3", "Second Song", "Beta Artist", 660),
    ]:
        audio = encode(ffmpeg, tone(frequency, 44100, 3), lame(128))
        out[tag] = id3v2(title, artist, album="radiod tests") + audio

    target.mkdir(parents=True, exist_ok=True)
    for name, data in out.items():
        (target / name).write_bytes(data)
    return out


# Demo library ----------------------------------------------------------


@dataclass(frozen=True)
class Tune:
    """
    One demo track: a looping four-chord progression played as an arpeggio.

    @ivar number: track number, from 1.
    @ivar title: the track's title.
    @ivar step: seconds per arpeggio note; a chord lasts eight notes.
    @ivar chords: four chords, each four MIDI notes from the root up.
    @ivar pattern: the eight chord-tone indexes the arpeggio walks through.
    @ivar brightness: weight of the second and third harmonics.
    """

    number: int
    title: str
    step: float
    chords: tuple[tuple[int, int, int, int], ...]
    pattern: tuple[int, ...]
    brightness: float

    @property
    def filename(self) -> str:
        """
        The file name, e.g. C{01-morning-arpeggio.mp3}.
        """
        return f"{self.number:02d}-{self.title.lower().replace(' ', '-')}.mp3"


TUNES = (
    Tune(
        1,
        "Morning Arpeggio",
        60 / 96 / 4,
        ((60, 64, 67, 72), (57, 60, 64, 69), (53, 57, 60, 65), (55, 59, 62, 67)),
        (0, 1, 2, 3, 2, 1, 2, 1),
        0.35,
    ),
    Tune(
        2,
        "Harbour Lights",
        60 / 72 / 4,
        ((57, 60, 64, 69), (53, 57, 60, 65), (48, 52, 55, 60), (55, 59, 62, 67)),
        (0, 2, 1, 3, 0, 2, 1, 2),
        0.1,
    ),
    Tune(
        3,
        "Paper Kites",
        60 / 120 / 4,
        ((62, 66, 69, 74), (57, 61, 64, 69), (59, 62, 66, 71), (55, 59, 62, 67)),
        (0, 1, 2, 3, 1, 2, 3, 2),
        0.5,
    ),
)

DEMO_SECONDS = 20.0
DEMO_ARTIST = "radiod demo band"
DEMO_ALBUM = "radiod demo"
DEMO_YEAR = "2024"


def _hz(midi: int) -> str:
    """
    A MIDI note's frequency, as text for an ffmpeg expression.
    """
    return f"{440 * 2 ** ((midi - 69) / 12):.4f}"


def _choose(index: str, values: Sequence[str]) -> str:
    """
    An expression worth C{values[index]}, as a flat sum of C{eq()} terms.
    """
    return "(" + "+".join(f"eq({index},{i})*{v}" for i, v in enumerate(values)) + ")"


def tune_expression(tune: Tune, pan: float) -> str:
    """
    The aevalsrc expression for one channel of C{tune}.

    Three voices: an arpeggio (each note shaped by a half-sine window times
    a decay, so it starts and ends at zero and never clicks), a bass note on
    the chord root every half chord, and a soft pad holding the chord's third
    and fifth.  C{pan} (-1 to 1) leans alternate arpeggio notes to one side
    and detunes the pad a little, which gives the stereo image.
    """
    arp = [_hz(chord[i]) for chord in tune.chords for i in tune.pattern]
    bass = [_hz(chord[0] - 24) for chord in tune.chords]
    pad_third = [_hz(chord[1] - 12) for chord in tune.chords]
    pad_fifth = [_hz(chord[2] - 12) for chord in tune.chords]
    step, half, bar = tune.step, tune.step * 4, tune.step * 8
    b = tune.brightness
    detune = 1 + 0.002 * pan
    parts = [
        # arpeggio: 0 note number, 1 phase within the note, 2 frequency
        f"st(0,floor(t/{step}))",
        f"st(1,t/{step}-ld(0))",
        f"st(2,{_choose('mod(ld(0),32)', arp)})",
        f"st(3,sin(PI*ld(1))*exp(-3*ld(1))*(1+{0.25 * pan}*(2*mod(ld(0),2)-1))"
        f"*(sin(2*PI*ld(2)*ld(1)*{step})+{b}*sin(4*PI*ld(2)*ld(1)*{step})"
        f"+{b / 3:.4f}*sin(6*PI*ld(2)*ld(1)*{step})))",
        # bass: 4 half-chord number, 5 phase within it
        f"st(4,floor(t/{half}))",
        f"st(5,t/{half}-ld(4))",
        f"st(6,{_choose('mod(floor(ld(4)/2),4)', bass)})",
        f"st(7,sin(PI*ld(5))*exp(-1.5*ld(5))"
        f"*(sin(2*PI*ld(6)*ld(5)*{half})+0.2*sin(4*PI*ld(6)*ld(5)*{half})))",
        # pad: 8 chord number, 9 phase within the chord
        f"st(8,floor(t/{bar}))",
        f"st(9,t/{bar}-ld(8))",
        f"0.62*ld(3)+0.42*ld(7)+0.08*sin(PI*ld(9))*("
        f"sin(2*PI*{_choose('mod(ld(8),4)', pad_third)}*{detune}*ld(9)*{bar})"
        f"+sin(2*PI*{_choose('mod(ld(8),4)', pad_fifth)}*{detune}*ld(9)*{bar}))",
    ]
    return ";".join(parts)


def demo_audio(ffmpeg: str, tune: Tune) -> bytes:
    """
    Render C{tune} as a 20 s MPEG-1 Layer III, 44.1 kHz stereo, 96 kbit/s CBR file.

    A short fade in lets the first note start at once; a two second fade
    out ends the track in silence; a light echo softens it.
    """
    left, right = tune_expression(tune, -1.0), tune_expression(tune, 1.0)
    source = f"aevalsrc=exprs='{left}|{right}':s=44100:d={DEMO_SECONDS}"
    filters = (
        "aecho=0.8:0.6:170|260:0.18|0.12,volume=6dB,"
        "afade=t=in:d=0.02,"
        f"afade=t=out:st={DEMO_SECONDS - 2}:d=2"
    )
    return encode(ffmpeg, source, lame(96), filters=filters)


def make_demo(ffmpeg: str, target: Path = DEMO_DIR) -> dict[str, bytes]:
    """
    Generate the demo library into C{target}.

    @return: file name to contents, as written.
    """
    out = {}
    for tune in TUNES:
        tag = id3v2(
            tune.title,
            DEMO_ARTIST,
            album=DEMO_ALBUM,
            track=f"{tune.number}/{len(TUNES)}",
            year=DEMO_YEAR,
        )
        out[tune.filename] = tag + demo_audio(ffmpeg, tune)
    target.mkdir(parents=True, exist_ok=True)
    for name, data in out.items():
        (target / name).write_bytes(data)
    return out


def main(argv: Sequence[str] | None = None) -> int:
    """
    Parse the command line and generate what it asks for.
    """
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--demo", action="store_true", help="make radiod/demo/*.mp3")
    parser.add_argument("--fixtures", action="store_true", help="make tests/fixtures/*")
    args = parser.parse_args(argv)
    both = not (args.demo or args.fixtures)
    ffmpeg = find_ffmpeg()
    made: dict[str, bytes] = {}
    if args.demo or both:
        made.update({f"radiod/demo/{k}": v for k, v in make_demo(ffmpeg).items()})
    if args.fixtures or both:
        made.update({f"tests/fixtures/{k}": v for k, v in make_fixtures(ffmpeg).items()})
    for name, data in sorted(made.items()):
        print(f"{len(data):8d}  {name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
