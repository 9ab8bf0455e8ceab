"""
Tests for L{radiod.ffmpeg.arguments}: ffmpeg's command lines and time
limits.
"""

from __future__ import annotations

from twisted.trial.unittest import SynchronousTestCase

from radiod.audio.format import AudioFormat
from radiod.ffmpeg.arguments import (
    MIN_TIMEOUT,
    convert_arguments,
    format_output,
    live_arguments,
    mp3_output,
    run_timeout,
)

STEREO = AudioFormat(44100, 2, 128)


class ArgumentsTests(SynchronousTestCase):
    """
    The command lines of live and library conversion, and the time a run
    is allowed.
    """

    def test_output(self) -> None:
        """
        The output options write bare CBR MP3 frames, in a format's sample
        rate and channels when one is given.
        """
        self.assertEqual(
            mp3_output(96),
            [
                "-c:a",
                "libmp3lame",
                "-b:a",
                "96k",
                "-f",
                "mp3",
                "-write_xing",
                "0",
                "-id3v2_version",
                "0",
            ],
        )
        self.assertEqual(
            format_output(AudioFormat(22050, 1, 48)), ["-ar", "22050", "-ac", "1", *mp3_output(48)]
        )

    def test_timeout(self) -> None:
        """
        ffmpeg gets twice the track's duration, at least a minute, and 15
        minutes for a track of unknown length.
        """
        self.assertEqual(run_timeout(10), MIN_TIMEOUT)
        self.assertEqual(run_timeout(300), 600)
        self.assertEqual(run_timeout(0), 900)

    def test_convert(self) -> None:
        """
        The conversion reads the first audio stream and writes CBR MP3 in
        the format, without tags or Xing header, with the gain as a volume
        filter only when there is one.
        """
        arguments = convert_arguments("ffmpeg", "/m/a.flac", "/c/x.part", STEREO)
        self.assertEqual(arguments[0], "ffmpeg")
        line = " ".join(arguments)
        self.assertIn("-i file:/m/a.flac -map 0:a:0", line)
        self.assertIn("-ar 44100 -ac 2 -c:a libmp3lame -b:a 128k -f mp3", line)
        self.assertIn("-write_xing 0 -id3v2_version 0", line)
        self.assertEqual(arguments[-1], "file:/c/x.part")
        self.assertNotIn("-af", arguments)
        louder = convert_arguments("ffmpeg", "/m/a.flac", "/c/x.part", STEREO, 3.456)
        self.assertIn("volume=3.46dB", louder)

    def test_live(self) -> None:
        """
        ffmpeg reads MP3 from its standard input without probing and writes
        bare MP3 frames in the target format to its standard output.
        """
        args = live_arguments("ffmpeg", AudioFormat(48000, 1, 96))
        joined = " ".join(args)
        self.assertIn("-f mp3 -i pipe:0", joined)
        self.assertIn("-ar 48000 -ac 1 -c:a libmp3lame -b:a 96k", joined)
        self.assertIn("-write_xing 0 -id3v2_version 0", joined)
        self.assertEqual(args[-1], "pipe:1")
