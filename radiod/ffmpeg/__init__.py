"""
Every ffmpeg child process, on one shared base (L{radiod.ffmpeg.process}):
finding the binary, the command lines, converting live audio to a mount's
format, converting library files and measuring their loudness (with their
cache), and the encoders of a mount's bitrate ladder.

It may import L{radiod.audio}, the shared base and L{radiod.broadcast}.
"""
