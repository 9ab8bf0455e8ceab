"""
What comes into the station live: Icecast and SHOUTcast sources' audio and
title updates, relays pulled from other servers, and recordings of live
shows.

It may import L{radiod.audio}, the shared base and L{radiod.broadcast}; it
does not know the socket protocol that accepted a source.
"""
