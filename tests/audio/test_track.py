"""
Tests for L{radiod.audio.track}: tracks and their plays.
"""

from __future__ import annotations

from twisted.trial.unittest import SynchronousTestCase

from radiod.audio.track import Play, Plays, TrackInfo

SONG = TrackInfo("/a.mp3", "Song", "Artist")


class PlaysTests(SynchronousTestCase):
    """
    L{Plays} numbers the plays of a mount as they start.
    """

    def test_numbers(self) -> None:
        """
        Plays are numbered from 1, in the order they start, whatever the
        track: two plays of the same track have different numbers.
        """
        plays = Plays()
        first = plays.start(SONG)
        second = plays.start(SONG)
        self.assertEqual(first, Play(1, SONG))
        self.assertEqual(second, Play(2, SONG))
        self.assertNotEqual(first, second)
        self.assertEqual(plays.started, 2)

    def test_value(self) -> None:
        """
        A play is a value: equal number and track make equal plays.
        """
        self.assertEqual(Play(3, SONG), Play(3, TrackInfo("/a.mp3", "Song", "Artist")))
        self.assertEqual(hash(Play(3, SONG)), hash(Play(3, SONG)))
