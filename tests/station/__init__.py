"""
Tests for L{radiod.station}.
"""
