"""
Tests for L{radiod.ffmpeg}.
"""
