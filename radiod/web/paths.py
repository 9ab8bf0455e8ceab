# -*- test-case-name: tests.web.test_monitoring,tests.web.test_admin -*-
"""
The paths of the station's site: putting a resource at a path of several
segments (C{/api/v1/status}), sharing the segments before it with
whatever else lives under them (C{/api/v1/events}, C{/admin/metadata});
the branches those segments are; and endpoints, which answer at their
own path only.
"""

from __future__ import annotations

from twisted.web.resource import IResource, Resource

from radiod.web.site import Refusal, StationRequest, StationResource, StationRoot, StationSite

__all__ = ["Branch", "Endpoint", "attach"]


class Branch(StationRoot):
    """
    A path segment that only leads to others, such as C{/api} or
    C{/api/v1}: asked for itself, it is C{404 File Not Found}, as any
    path the site has nothing at; a path under it that no child has is
    looked up from the root, so that the playlist of a mount named under
    it (C{/api/x.m3u}) is still found.
    """

    def __init__(self, root: StationRoot) -> None:
        """
        @param root: the site's root, whose lookups find what no child
            has.
        """
        super().__init__(root.factory)
        self._root = root

    def getChild(self, path: bytes, request: StationRequest) -> IResource:
        """
        What the root finds for the request's path, else L{Refusal}.
        """
        return self._root.getChild(path, request)

    def render(self, request: StationRequest) -> bytes | int:
        """
        C{404 File Not Found}.
        """
        return Refusal(self.factory).render(request)


class Endpoint(StationResource):
    """
    A resource that answers at its own path only: a path below it
    (C{/7.html/x}, or C{/api/v1/status/} with its slash) is C{404 File Not
    Found}, as any path the site has nothing at.
    """

    def getChild(self, path: bytes, request: StationRequest) -> IResource:
        """
        L{Refusal}, for any path below this one.
        """
        return Refusal(self.factory)


def attach(site: StationSite, path: str, resource: IResource) -> None:
    """
    Put C{resource} at C{path} on C{site}, under the children already at
    the segments before its last, or under new L{Branch}es where there
    are none.

    @param site: the station's site.
    @param path: an absolute path, such as C{/api/v1/status}.
    @param resource: what answers there.
    """
    root = site.resource
    assert isinstance(root, StationRoot)
    *parents, last = path.strip("/").encode("ascii").split(b"/")
    node: Resource = root
    for segment in parents:
        child = node.getStaticEntity(segment)
        if child is None:
            child = Branch(root)
            node.putChild(segment, child)
        assert isinstance(child, Resource)
        node = child
    node.putChild(last, resource)
