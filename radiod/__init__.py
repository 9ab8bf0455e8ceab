"""
radiod: an internet radio server built on Twisted.

It plays a music library as one continuous MP3 programme, paced in real
time, and serves it to any number of listeners over HTTP with ICY in-band
metadata.
"""

__all__ = ["__version__"]

__version__ = "0.1.0"
