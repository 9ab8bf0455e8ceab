"""
radiod as a source client: pushing a mount to other Icecast-compatible
servers (relay out), and the C{radiod-push} command that streams a folder
of files to a server.

It may import L{radiod.audio}, the shared base, L{radiod.broadcast},
L{radiod.ffmpeg} and L{radiod.library}.
"""
