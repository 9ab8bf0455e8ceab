"""
The music library and the programme played from it: scanning folders and
playlist files, reading tags, the catalogue that lists and searches it, and
the programme that reads tracks ahead and hands the pacer their frames.

It may import L{radiod.audio}, the shared base, L{radiod.broadcast} and
L{radiod.ffmpeg} (to convert tracks that are not in the mount's format).
"""
