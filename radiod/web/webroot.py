# -*- test-case-name: tests.web.test_webroot -*-
"""
The webroot: a folder of the operator's own files (Icecast's
C{webroot}: pictures, style sheets, pages), served where the station's
site has nothing else.

The folder is the station's C{webroot} setting, read at each request (a
reload may change it); without one, nothing is served from here.  The
webroot is the last place the site's root looks (its
L{StationRoot.fallbacks}), so what the site serves itself (the station
page, the status pages, the streams, playlists, APIs) always wins.

A request's path names a file under the folder, segment by segment:

  - a file is sent as it is (L{WebrootFile}, twisted.web's
    L{static.File} machinery as the library's files use it,
    L{radiod.web.filebody}): its content type from its name,
    C{Last-Modified} and C{ETag} with C{304}, C{HEAD}, one byte range,
    and reads in a thread, only as fast as the client takes them;
  - a folder is its C{index.html} (asked for without its slash, it
    redirects to the path with one); a folder without one is
    C{404 File Not Found} as any missing path: there are no listings;
  - a segment C{.} or C{..} (however it was escaped), an empty one
    before the last, one with a slash, a backslash or a NUL (C{%2F},
    C{%5C}, C{%00}), or one that is not UTF-8 finds nothing; nor does a
    file whose real path, symbolic links resolved, is not under the
    folder's real path (L{radiod.web.confine});
  - an C{.xsl} file finds nothing: Icecast only ever sends its
    templates through its XSLT engine, never as they are, and radiod has
    its own pages at the paths of Icecast's (L{radiod.web.statuspage}).

Everything that touches the disk (finding, opening, reading) runs
through the station's L{Runner}, off the reactor thread.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial
from urllib.parse import quote

from twisted.logger import Logger
from twisted.python.failure import Failure
from twisted.web import static
from twisted.web.resource import IResource
from twisted.web.server import NOT_DONE_YET

from radiod.interfaces import Runner
from radiod.web.confine import OpenFile, OutsideLibrary, open_inside, real_path_inside
from radiod.web.filebody import LibraryFile
from radiod.web.files import departure
from radiod.web.guard import Prepared
from radiod.web.site import StationRequest, StationResource, StationRoot, StationSite, refuse
from radiod.wire.server import RadioFactory
from radiod.wire.stream import SERVER

__all__ = [
    "INDEX",
    "Found",
    "Webroot",
    "WebrootFile",
    "attach_webroot",
    "find_file",
    "webroot_names",
]

INDEX = "index.html"
"""
The file that stands for its folder.
"""

DEFAULT_TYPE = "application/octet-stream"
"""
The content type of a file whose name says none.
"""

_NEVER_SENT = (".xsl",)
_FORBIDDEN_IN_NAMES = ("/", "\\", "\x00")


@dataclass(frozen=True)
class Found:
    """
    What a path names in the webroot.

    @ivar opened: the file to send, opened; C{None} when there is none.
    @ivar folder: whether the path names a folder that has an
        L{INDEX}, without the slash after it (the answer is a redirect to
        the path with it).
    @ivar outside: the real path outside the webroot that a symbolic
        link led to, or C{""}.
    """

    opened: OpenFile | None = None
    folder: bool = False
    outside: str = ""


def webroot_names(segments: Sequence[bytes]) -> list[str] | None:
    """
    The names a request's path segments give under the webroot (pure).

    @param segments: the path's segments, unescaped, as twisted.web gives
        them (C{/a/b/} is C{[b"a", b"b", b""]}).
    @return: the names, the last C{""} when the path ends with a slash;
        or C{None} when the path can name nothing there: a segment that
        is not UTF-8, is C{.} or C{..}, holds a slash, a backslash or a
        NUL, or is empty before the last; no segment at all; or a file
        that is never sent (an C{.xsl}).
    """
    names: list[str] = []
    for index, segment in enumerate(segments):
        try:
            name = segment.decode("utf-8")
        except UnicodeDecodeError:
            return None
        if name in (".", "..") or any(bad in name for bad in _FORBIDDEN_IN_NAMES):
            return None
        if not name and index != len(segments) - 1:
            return None
        names.append(name)
    if not names or names == [""]:
        return None
    if names[-1].lower().endswith(_NEVER_SENT):
        return None
    return names


def find_file(root: str, names: Sequence[str]) -> Found:
    """
    Find and open what C{names} name under the folder C{root}.  This
    blocks on the disk: run it in a thread.

    @param root: the webroot.
    @param names: as L{webroot_names} gives them.
    @return: the file opened (a folder's L{INDEX} for a path ending with a
        slash), a folder with an index asked for without its slash, a
        symbolic link that leads outside C{root}, or nothing.
    """
    if not os.path.isdir(root):
        return Found()
    slash = names[-1] == ""
    path = os.path.join(root, *(names[:-1] if slash else names))
    try:
        if os.path.isdir(path):
            index = os.path.join(path, INDEX)
            if slash:
                return Found(open_inside(index, root))
            real_path_inside(index, root)
            return Found(folder=True)
        if slash:
            return Found()
        return Found(open_inside(path, root))
    except OutsideLibrary as error:
        return Found(outside=str(error))
    except OSError:
        return Found()


class WebrootFile(StationResource):
    """
    What one request's path names in the webroot: a file, a redirect to a
    folder's slash, or C{404 File Not Found}; found and sent off the
    reactor thread.  A method other than C{GET}, C{HEAD} and C{OPTIONS}
    gets C{405} where there is a file, C{404} where there is none.
    """

    isLeaf = True
    _log = Logger()

    def __init__(
        self, factory: RadioFactory, runner: Runner, root: str, names: Sequence[str]
    ) -> None:
        """
        @param factory: the station's server factory (for refusals).
        @param runner: runs the disk work off the reactor thread.
        @param root: the webroot, as configured when the request came.
        @param names: the path's names under it (see L{webroot_names}).
        """
        super().__init__(factory)
        self._runner = runner
        self.root = root
        self.names = tuple(names)

    def render(self, request: StationRequest) -> bytes | int:
        """
        Look for the file in a thread, then answer.
        """
        request.setHeader("Server", SERVER)
        if request.method == b"OPTIONS":
            return self.render_OPTIONS(request)
        left = departure(request)
        finding = self._runner(partial(find_file, self.root, self.names))
        finding.addCallback(self._answer, request, left)
        finding.addErrback(self._crashed, request, left)
        return NOT_DONE_YET

    def _answer(self, found: Found, request: StationRequest, left: Callable[[], bool]) -> None:
        opened = found.opened
        if left():
            if opened is not None:
                os.close(opened.fd)
            return
        if found.outside:
            self._log.warn(
                "Not serving {path} to {peer}: a link in the webroot leads out of it, to {real}",
                path="/" + "/".join(self.names),
                peer=request.peer_name,
                real=found.outside,
            )
        if opened is None and not found.folder:
            request.render(Prepared(refuse(request, self.factory, 404, "File Not Found")))
            return
        if request.method not in (b"GET", b"HEAD"):
            if opened is not None:
                os.close(opened.fd)
            request.render(Prepared(refuse(request, self.factory, 405, "Method Not Allowed")))
            return
        if opened is None:
            request.render(self._to_folder(request))
            return
        content_type, _ = static.getTypeAndEncoding(
            opened.path, static.File.contentTypes, {}, DEFAULT_TYPE
        )
        request.render(_Body(self.factory, opened, str(content_type), self._runner))

    def _to_folder(self, request: StationRequest) -> Prepared:
        """
        The redirect from a folder's path to the same path with its slash
        (its query kept), which its page's relative links need.
        """
        location = "/" + "/".join(quote(name, safe="") for name in self.names) + "/"
        _, mark, query = request.uri.decode("latin-1").partition("?")
        if mark:
            location += "?" + quote(query, safe="=&;%+/:@!$'()*,~-._")
        request.setResponseCode(301)
        request.setHeader("Location", location)
        request.setHeader("Content-Type", "text/plain; charset=utf-8")
        return Prepared(b"301 Moved Permanently\n")

    def _crashed(self, failure: Failure, request: StationRequest, left: Callable[[], bool]) -> None:
        """
        The answer failed: log it, and answer C{500} unless the client has
        left, as twisted.web does for a resource that raises.
        """
        if left():
            self._log.failure("Cannot answer {peer}", failure, peer=request.peer_name)
        else:
            request.processingFailed(failure)


class _Body(LibraryFile):
    """
    An opened webroot file, sent as the library's files are: validators,
    C{304}, one byte range, reads in a thread.
    """

    def __init__(
        self, factory: RadioFactory, opened: OpenFile, content_type: str, runner: Runner
    ) -> None:
        super().__init__(factory, opened, opened.path, content_type, runner)

    def _set_headers(self, request: StationRequest) -> None:
        """
        The headers of every answer with or about the file: its type,
        byte ranges, revalidation on every use (the operator may change
        it at any time), and no sniffing.
        """
        request.setHeader("Content-Type", str(self.type))
        request.setHeader("Accept-Ranges", "bytes")
        request.setHeader("Cache-Control", "no-cache")
        request.setHeader("X-Content-Type-Options", "nosniff")


class Webroot:
    """
    The root's last lookup: the webroot's resource for a request's path,
    while the station has a webroot.
    """

    def __init__(self, factory: RadioFactory, runner: Runner) -> None:
        """
        @param factory: the station's server factory, whose configuration
            names the webroot.
        @param runner: runs the disk work off the reactor thread.
        """
        self.factory = factory
        self._runner = runner

    def __call__(self, request: StationRequest) -> IResource | None:
        """
        What the webroot answers for C{request}'s whole path, or C{None}
        when the station has no webroot or the path can name nothing in
        one.
        """
        root = self.factory.config.webroot
        if not root:
            return None
        names = webroot_names([*(request.prepath or ()), *(request.postpath or ())])
        if names is None:
            return None
        return WebrootFile(self.factory, self._runner, root, names)


def attach_webroot(site: StationSite, factory: RadioFactory, runner: Runner) -> Webroot:
    """
    Serve the station's webroot where C{site} has nothing else.

    @param site: the station's site.
    @param factory: the station's server factory.
    @param runner: runs the disk work off the reactor thread.
    @return: the root's new fallback.
    """
    root = site.resource
    assert isinstance(root, StationRoot)
    webroot = Webroot(factory, runner)
    root.fallbacks.append(webroot)
    return webroot
