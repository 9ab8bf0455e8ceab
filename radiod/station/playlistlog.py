# -*- test-case-name: tests.station.test_playlistlog -*-
"""
Icecast's playlist log: a line at each track change on a mount,

    07/Dec/2026:13:20:05 +0000|/stream|12|Artist - Title

the local time as Icecast writes it, the mount, its listeners then and
the title (as ICY players see it).  The lines are written off the reactor
thread by the same writer as the access log (L{radiod.wire.accesslog}),
and reopened with it on C{SIGHUP}, so logrotate handles both alike.
"""

from __future__ import annotations

import time

from radiod.audio.track import TrackInfo
from radiod.broadcast.mount import Mount
from radiod.wire.accesslog import AccessLog

__all__ = ["PlaylistLog", "playlist_line"]


def playlist_line(when: float, mount: str, listeners: int, title: str) -> str:
    """
    One line of the playlist log, without its line end.  A C{|} or a
    line break in the title is replaced by a space, so each field stays
    whole.
    """
    stamp = time.strftime("%d/%b/%Y:%H:%M:%S %z", time.localtime(when))
    clean = " ".join(title.replace("|", " ").split())
    return f"{stamp}|{mount}|{listeners}|{clean}"


class PlaylistLog:
    """
    Writes a mount's track changes to the playlist log.
    """

    def __init__(self, writer: AccessLog) -> None:
        """
        @param writer: appends lines to the file, off the reactor.
        """
        self.writer = writer
        self._watched: set[str] = set()

    def watch(self, mount: Mount) -> None:
        """
        Log the track changes of C{mount} from now on.
        """
        if mount.name in self._watched:
            return
        self._watched.add(mount.name)

        def changed(track: TrackInfo) -> None:
            if mount.name in self._watched:
                started = mount.track_started
                title = track.stream_title
                self.writer.write(playlist_line(started, mount.name, mount.audience, title))

        mount.on_track_change.append(changed)

    def forget(self, name: str) -> None:
        """
        Stop logging the mount called C{name}.
        """
        self._watched.discard(name)
