"""
The twistd plugin: C{twistd -n radiod --help}.
"""

from twisted.application.service import ServiceMaker

radiod = ServiceMaker(
    "radiod",
    "radiod.tap",
    "An internet radio server: a music library as a live ICY/HTTP MP3 stream.",
    "radiod",
)
