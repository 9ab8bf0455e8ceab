# -*- test-case-name: tests.library.test_tags -*-
"""
What radiod knows about a track: where it is, what it is called, and
which cover art it has.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

from radiod.audio.frames import Frame

__all__ = ["ART_PATH", "DEFAULT_ART", "Cue", "Play", "Plays", "TrackInfo", "art_path"]

ART_PATH = "/art/"
"""
Where the station serves cover art (see L{radiod.web.art}): the art of id
C{i} at C{/art/i}.
"""

DEFAULT_ART = "default"
"""
The name under L{ART_PATH} of the station's default picture, shown for a
track without art of its own when one is configured.
"""


@dataclass(frozen=True, slots=True)
class TrackInfo:
    """
    An immutable description of one playable item.

    @ivar path: the file it comes from, or an empty string for live audio.
    @ivar title: the title; never empty (falls back to the file name).
    @ivar artist: the artist, or an empty string when unknown.
    @ivar album: the album, or an empty string when unknown.
    @ivar duration: playing time in seconds, or 0.0 when unknown.
    @ivar jingle: whether it is a jingle or station ID, kept out of the
        history of tracks played.
    @ivar requested: whether a listener asked for it.
    @ivar art: the id of its cover art (see L{radiod.library.art}), or an
        empty string when it has none.
    """

    path: str
    title: str
    artist: str = ""
    album: str = ""
    duration: float = 0.0
    jingle: bool = False
    requested: bool = False
    art: str = ""

    @property
    def stream_title(self) -> str:
        """
        The title as listeners see it: C{"Artist - Title"}, or the title
        alone when the artist is unknown.
        """
        if self.artist:
            return f"{self.artist} - {self.title}"
        return self.title


def art_path(track: TrackInfo, default: bool = False) -> str:
    """
    The path of the cover art shown with C{track}: its own art, else the
    station's default picture when there is one (L{DEFAULT_ART}).

    @param track: the track.
    @param default: whether the station has a default picture.
    @return: a path such as C{/art/0123456789abcdef}, or an empty string
        when there is nothing to show.
    """
    if track.art:
        return ART_PATH + track.art
    return ART_PATH + DEFAULT_ART if default else ""


@dataclass(frozen=True, slots=True)
class Play:
    """
    One airing of one track on a mount.  Two plays of the same track (a
    library of one, a track skipped back to) are told apart by their
    numbers, which a mount's L{Plays} gives out in order.

    @ivar number: the play's number on its mount; a later play has a
        greater one.
    @ivar track: the track played.
    """

    number: int
    track: TrackInfo


class Cue(NamedTuple):
    """
    One frame as a frame source hands it out: the frame, the track it
    belongs to, and whether it is the first frame of a new play.

    A source says where each play starts (a track begins, a live show
    begins or changes its title, the air passes from one source to
    another); the mount that airs the frames numbers those plays (see
    L{Plays}), so two plays of the same track are never confused.

    @ivar frame: the frame.
    @ivar track: the track it belongs to.
    @ivar starts: whether this frame starts a new play.
    """

    frame: Frame
    track: TrackInfo
    starts: bool = False


class Plays:
    """
    Numbers the plays of one mount, from 1, as its tracks start.

    @ivar started: the number of plays started so far (the last one's).
    """

    def __init__(self) -> None:
        self.started = 0

    def start(self, track: TrackInfo) -> Play:
        """
        A new play of C{track}, numbered after every play before it.
        """
        self.started += 1
        return Play(self.started, track)
