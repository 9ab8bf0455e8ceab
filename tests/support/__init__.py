"""
Helpers shared by radiod's tests.
"""
