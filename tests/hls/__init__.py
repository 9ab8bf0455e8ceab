"""
Tests for L{radiod.hls}.
"""
