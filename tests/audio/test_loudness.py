"""
Tests for L{radiod.audio.loudness}: ReplayGain tags, ebur128 summaries and the
gain applied.
"""

from __future__ import annotations

import math
import os
import subprocess

from mutagen.apev2 import APEv2
from mutagen.id3 import ID3, TXXX
from mutagen.mp4 import MP4, MP4FreeForm
from twisted.trial.unittest import SynchronousTestCase

from radiod.audio.loudness import (
    GAIN_LIMIT,
    TARGET_LOUDNESS,
    Loudness,
    gain_for,
    measure_arguments,
    parse_ebur128,
    parse_gain,
    read_replaygain,
    replaygain_from_fields,
)
from radiod.testing import silent_frame
from tests.support.tools import require_ffmpeg

SUMMARY = """\
[Parsed_ebur128_0 @ 0x55c131073f00] Summary:

  Integrated loudness:
    I:         -22.2 LUFS
    Threshold: -32.2 LUFS

  Loudness range:
    LRA:         0.0 LU

  True peak:
    Peak:      -18.5 dBFS
"""


class GainTests(SynchronousTestCase):
    """
    Reading gains and limiting them.
    """

    def test_parse_gain(self) -> None:
        """
        ReplayGain values are decibels with or without the unit.
        """
        self.assertEqual(parse_gain("-6.20 dB"), -6.2)
        self.assertEqual(parse_gain("+1.5"), 1.5)
        self.assertEqual(parse_gain(" 3 DB "), 3.0)
        self.assertEqual(parse_gain(".5 dB"), 0.5)
        self.assertIsNone(parse_gain("loud"))
        self.assertIsNone(parse_gain(""))

    def test_limits(self) -> None:
        """
        A gain never lifts the peak above -1 dBFS, and stays within 24 dB
        either way.
        """
        self.assertEqual(gain_for(6.0, -10.0), 6.0)
        self.assertEqual(gain_for(6.0, -3.0), 2.0)
        self.assertEqual(gain_for(-6.0, 0.5), -6.0)
        self.assertEqual(gain_for(60.0), GAIN_LIMIT)
        self.assertEqual(gain_for(-60.0), -GAIN_LIMIT)
        self.assertEqual(gain_for(1.23456), 1.23)

    def test_fields(self) -> None:
        """
        The track gain is taken from C{REPLAYGAIN_TRACK_GAIN}, limited by
        C{REPLAYGAIN_TRACK_PEAK}; Opus's C{R128_TRACK_GAIN} (Q7.8 dB to -23
        LUFS) is moved to radiod's reference.
        """
        self.assertEqual(replaygain_from_fields({"replaygain_track_gain": "-7.5 dB"}), -7.5)
        self.assertEqual(
            replaygain_from_fields(
                {"replaygain_track_gain": "+8 dB", "replaygain_track_peak": "0.5"}
            ),
            round(-1 - 20 * math.log10(0.5), 2),
        )
        self.assertEqual(replaygain_from_fields({"r128_track_gain": "-512"}), 3.0)
        self.assertIsNone(replaygain_from_fields({}))
        self.assertIsNone(replaygain_from_fields({"r128_track_gain": "x"}))
        self.assertIsNone(replaygain_from_fields({"replaygain_album_gain": "-3 dB"}))

    def test_ebur128(self) -> None:
        """
        The integrated loudness and true peak come from the summary; the
        gain brings the track to -18 LUFS.
        """
        loudness = parse_ebur128("frame lines\n" + SUMMARY)
        self.assertEqual(loudness, Loudness(-22.2, -18.5))
        assert loudness is not None
        self.assertEqual(loudness.gain, round(TARGET_LOUDNESS + 22.2, 2))
        self.assertEqual(Loudness(-8.0, -0.2).gain, -10.0)

    def test_ebur128_silence(self) -> None:
        """
        Silence has no peak; a log with no summary measures nothing.
        """
        silent = SUMMARY.replace("-22.2 LUFS", "-70.0 LUFS").replace("-18.5 dBFS", "-inf dBFS")
        self.assertEqual(parse_ebur128(silent), Loudness(-70.0, None))
        self.assertIsNone(parse_ebur128("Conversion failed!"))
        self.assertIsNone(parse_ebur128(SUMMARY.replace("-22.2 LUFS", "-inf LUFS")))

    def test_arguments(self) -> None:
        """
        The measurement decodes the first audio stream through ebur128 and
        writes nothing.
        """
        line = " ".join(measure_arguments("ffmpeg", "/m/a.flac"))
        self.assertIn("-i file:/m/a.flac -map 0:a:0", line)
        self.assertIn("-af ebur128=peak=true:framelog=verbose -f null -", line)


class TagTests(SynchronousTestCase):
    """
    L{read_replaygain} on tagged files of each kind.
    """

    def setUp(self) -> None:
        self.folder = self.mktemp()
        os.makedirs(self.folder)

    def mp3(self) -> str:
        path = os.path.join(self.folder, "a.mp3")
        with open(path, "wb") as f:
            f.write(silent_frame().data * 20)
        return path

    def encoded(self, name: str) -> str:
        """
        A short file made by ffmpeg, named for its format.
        """
        ffmpeg = require_ffmpeg()
        path = os.path.join(self.folder, name)
        subprocess.run(
            [ffmpeg, "-v", "error", "-nostdin", "-f", "lavfi", "-i", "sine=d=0.2", path],
            check=True,
        )
        return path

    def test_id3(self) -> None:
        """
        An MP3's ID3 C{TXXX:REPLAYGAIN_TRACK_GAIN} frame, in any case.
        """
        path = self.mp3()
        tag = ID3()
        tag.add(TXXX(encoding=3, desc="replaygain_track_gain", text=["-3.10 dB"]))
        tag.save(path)
        self.assertEqual(read_replaygain(path), -3.1)

    def test_ape(self) -> None:
        """
        An MP3's APEv2 tag.
        """
        path = self.mp3()
        tag = APEv2()
        tag["REPLAYGAIN_TRACK_GAIN"] = "+2.00 dB"
        tag.save(path)
        self.assertEqual(read_replaygain(path), 2.0)

    def test_untagged(self) -> None:
        """
        No tag, or no file, is no gain.
        """
        self.assertIsNone(read_replaygain(self.mp3()))
        self.assertIsNone(read_replaygain(os.path.join(self.folder, "missing.flac")))

    def test_vorbis_comments(self) -> None:
        """
        FLAC and Ogg Vorbis comments.
        """
        import mutagen

        for name in ("a.flac", "a.ogg"):
            path = self.encoded(name)
            audio = mutagen.File(path)
            audio["REPLAYGAIN_TRACK_GAIN"] = "-9.25 dB"
            audio.save()
            self.assertEqual(read_replaygain(path), -9.25, name)

    def test_mp4(self) -> None:
        """
        An M4A file's freeform atom.
        """
        path = self.encoded("a.m4a")
        audio = MP4(path)
        audio["----:com.apple.iTunes:replaygain_track_gain"] = [MP4FreeForm(b"-1.50 dB")]
        audio.save()
        self.assertEqual(read_replaygain(path), -1.5)
