"""
Finding the station in what C{makeService} or a C{.tac} file built.
"""

from __future__ import annotations

from twisted.application.service import IService, IServiceCollection

from radiod.station.service import StationService

__all__ = ["station_in"]


def station_in(service: IService) -> StationService:
    """
    The L{StationService} in C{service} or among its descendants.

    @raise AssertionError: when there is none.
    """
    if isinstance(service, StationService):
        return service
    collection = IServiceCollection(service, None)
    for child in collection or ():
        try:
            return station_in(child)
        except AssertionError:
            continue
    raise AssertionError(f"no station in {service!r}")
