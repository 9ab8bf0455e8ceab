"""
radiod as a source client: pushing a mount to other Icecast-compatible
servers (L{radiod.outbound.relay}), and the C{radiod-push} command that
streams a folder of files to a server (L{radiod.outbound.cli}), both
built on L{radiod.outbound.client}.

It may import L{radiod.audio}, the shared base, L{radiod.broadcast},
L{radiod.ffmpeg} and L{radiod.library}.
"""
