"""
Every ffmpeg child process: finding the binary, converting live audio to a
mount's format, converting library files (with their cache), and the
encoders of a mount's bitrate ladder.

It may import L{radiod.audio}, the shared base and L{radiod.broadcast}.
"""
