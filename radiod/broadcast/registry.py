# -*- test-case-name: tests.broadcast.test_registry -*-
"""
The station's mounts, in one place: every part that looks a mount up by
name (the stream server, the fallbacks, the live sources, the bitrate
ladders, the station service) shares one L{Mounts}.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, MutableMapping

from radiod.broadcast.mount import Mount

__all__ = ["Mounts"]


class Mounts(MutableMapping[str, Mount]):
    """
    The mounts by name, in order: the first is the default mount.

    Reading it is reading a mapping (C{mounts[name]}, C{name in mounts},
    iteration in order); a mount added goes last, and setting a name that
    is already there keeps its place.
    """

    def __init__(self, mounts: Mapping[str, Mount] | Iterable[Mount] = ()) -> None:
        """
        @param mounts: the first mounts, in order: by name, or each under
            its own name.
        """
        self._mounts: dict[str, Mount] = {}
        if isinstance(mounts, Mapping):
            self._mounts.update(mounts)
        else:
            for mount in mounts:
                self.add(mount)

    @classmethod
    def of(cls, mounts: Mapping[str, Mount]) -> Mounts:
        """
        C{mounts} itself when it is a registry, else a registry of the
        same mounts in the same order.
        """
        return mounts if isinstance(mounts, Mounts) else cls(mounts)

    def __getitem__(self, name: str) -> Mount:
        return self._mounts[name]

    def __setitem__(self, name: str, mount: Mount) -> None:
        self._mounts[name] = mount

    def __delitem__(self, name: str) -> None:
        del self._mounts[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._mounts)

    def __len__(self) -> int:
        return len(self._mounts)

    def __repr__(self) -> str:
        return f"Mounts({list(self._mounts)!r})"

    @property
    def default(self) -> Mount:
        """
        The first mount, which C{/;} reaches.

        @raise StopIteration: when there is no mount at all.
        """
        return next(iter(self._mounts.values()))

    def add(self, mount: Mount) -> None:
        """
        Serve C{mount} under its name: last, or in the place of the mount
        of that name.
        """
        self._mounts[mount.name] = mount

    def remove(self, name: str) -> Mount | None:
        """
        Stop serving the mount called C{name}.

        @return: that mount, or C{None} when there was none.
        """
        return self._mounts.pop(name, None)

    def reorder(self, names: Iterable[str]) -> None:
        """
        Put the mounts called C{names} first, in that order (names of no
        mount are passed over); the others follow in their present order.
        """
        first = {name: self._mounts[name] for name in names if name in self._mounts}
        rest = {name: mount for name, mount in self._mounts.items() if name not in first}
        self._mounts = first | rest
