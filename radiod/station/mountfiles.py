# -*- test-case-name: tests.station.test_mountfiles -*-
"""
The files a mount reads and writes besides its music: its intro (read in
a thread, see L{radiod.broadcast.intro}) and its dump file (everything it
airs, see L{radiod.broadcast.dump}).

L{MountFiles} follows the station's mounts: it reads a mount's intro when
the mount starts or its C{intro} changes, and keeps a dump file open
while the mount's C{dump_file} says so.  An intro that cannot be read is
logged in one line naming the mount and the file, and the mount plays on
without one; a reload that names a new intro keeps the old one until the
new one is read.
"""

from __future__ import annotations

from twisted.internet.interfaces import IReactorTime
from twisted.logger import Logger
from twisted.python.failure import Failure

from radiod.broadcast.dump import DumpFile
from radiod.broadcast.intro import Intro, read_intro
from radiod.broadcast.mount import Mount
from radiod.interfaces import Runner

__all__ = ["MountFiles"]


class MountFiles:
    """
    The intros and dump files of a station's mounts.
    """

    _log = Logger()

    def __init__(self, clock: IReactorTime, runner: Runner) -> None:
        """
        @param clock: the station's clock (dump file names and rotation).
        @param runner: runs the reading of intro files off the reactor.
        """
        self._clock = clock
        self._runner = runner
        self._intros: dict[str, str] = {}
        self._mounts: dict[str, Mount] = {}
        self.dumps: dict[str, DumpFile] = {}
        self._dumped: dict[str, tuple[str, int, float]] = {}

    def watch(self, mount: Mount) -> None:
        """
        Give C{mount} the intro and the dump file its configuration names,
        now (a mount just started) or again (its configuration changed).
        """
        self._mounts[mount.name] = mount
        self._update_intro(mount)
        self._update_dump(mount)

    def forget(self, mount: Mount) -> None:
        """
        Stop following a mount that is going away: close its dump file.
        """
        self._intros.pop(mount.name, None)
        self._mounts.pop(mount.name, None)
        self._dumped.pop(mount.name, None)
        dump = self.dumps.pop(mount.name, None)
        if dump is not None:
            if dump in mount.on_air:
                mount.on_air.remove(dump)
            dump.close()

    def reopen(self) -> None:
        """
        Read every intro again (its file may have changed), and reopen
        every dump file (after C{logrotate} moved them away).
        """
        for mount in self._mounts.values():
            self._update_intro(mount, again=True)
        for dump in self.dumps.values():
            dump.reopen()

    def close(self) -> None:
        """
        Close every dump file (the station is stopping).
        """
        for dump in self.dumps.values():
            dump.close()
        self.dumps.clear()

    def _update_intro(self, mount: Mount, again: bool = False) -> None:
        path = mount.config.intro
        if self._intros.get(mount.name) == path and not (again and path):
            return
        self._intros[mount.name] = path
        if not path:
            mount.intro = None
            return

        def read() -> Intro:
            return read_intro(path)

        def done(intro: Intro) -> None:
            if self._intros.get(mount.name) == path:
                mount.intro = intro
                self._log.info(
                    "Intro of {mount}: {path} ({seconds:.1f} s)",
                    mount=mount.name,
                    path=path,
                    seconds=intro.seconds,
                )

        def failed(failure: Failure) -> None:
            if self._intros.get(mount.name) != path:
                return
            error = failure.value
            reason = (error.strerror or str(error)) if isinstance(error, OSError) else str(error)
            self._log.error(
                "Intro {path} of {mount} not read, listeners join without it: {reason}",
                path=path,
                mount=mount.name,
                reason=reason,
            )
            mount.intro = None

        reading = self._runner(read)
        reading.addCallbacks(done, failed)

    def _update_dump(self, mount: Mount) -> None:
        config = mount.config
        dump = self.dumps.get(mount.name)
        wanted = (config.dump_file, config.dump_size, config.dump_rotate)
        if dump is not None:
            if self._dumped.get(mount.name) == wanted:
                return
            if dump in mount.on_air:
                mount.on_air.remove(dump)
            dump.close()
            del self.dumps[mount.name]
            del self._dumped[mount.name]
        if not config.dump_file:
            return
        dump = DumpFile(
            mount.name,
            config.dump_file,
            self._clock,
            max_size=config.dump_size,
            rotate_every=config.dump_rotate,
        )
        self.dumps[mount.name] = dump
        self._dumped[mount.name] = wanted
        mount.on_air.append(dump)
