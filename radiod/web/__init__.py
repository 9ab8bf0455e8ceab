"""
Everything that is not a stream: status pages and metrics, the admin
interface, the station's web page and its event streams, the library's
files on demand, and the play history kept across restarts.  The page's own
assets are in C{static/}.

It may import every layer below it, L{radiod.wire} included.
"""
