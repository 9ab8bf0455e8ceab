"""
The station page's files (HTML, script, style sheet and icon), served by
L{radiod.web.page}.  They need no build step and load nothing from elsewhere.
"""
