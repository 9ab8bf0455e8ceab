"""
The shared-buffer fan-out: the pacer that keeps a mount in real time, the
buffer of immutable chunks every listener reads from, the listener (a
cursor and a push producer) and its fast write path, the mount that ties
them together, the live switch (a presenter or relay over the playlist)
and the fallback between mounts.

It may import L{radiod.audio} and the shared base (L{radiod.config},
L{radiod.interfaces}); it knows nothing of files, ffmpeg, HTTP or the
station around it.
"""
