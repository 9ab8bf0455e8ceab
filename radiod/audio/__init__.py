"""
Pure codec knowledge: MPEG audio frames and their headers, the formats a
mount plays and the MP3 tables behind them, ICY metadata blocks, tracks and
loudness figures.

Everything here is bytes and values in, values out: no I/O, no clock, and
nothing from C{twisted.internet}.  It imports nothing else of radiod.
"""
