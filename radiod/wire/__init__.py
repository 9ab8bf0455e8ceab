"""
The bytes on a listener's or a source's socket: the ICY/HTTP protocol for
streams and sources on the station's ports, the SHOUTcast v1 source port,
the per-address and login limits every connection goes through, and the
access log of connections.

It may import everything below it: L{radiod.audio}, the shared base,
L{radiod.broadcast}, L{radiod.ffmpeg}, L{radiod.library} and
L{radiod.ingest}.
"""
