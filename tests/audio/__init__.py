"""
Tests for L{radiod.audio}.
"""
