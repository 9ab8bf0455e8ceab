# -*- test-case-name: tests.audience.test_agents -*-
"""
What kind of program a listener tunes in with, read from its C{User-Agent}.

L{classify} sorts a User-Agent string into one of the L{FAMILIES} and names
the program where it can:

  - C{"bot"}: crawlers, link previews and uptime monitors.  They are
    tested first, since many of them claim to be a browser as well.
  - C{"smart speaker"}: networked audio hardware: Amazon Echo (Alexa),
    Sonos, Google Home and Chromecast (C{CrKey}), Bose, HomePod, and
    internet radio receivers.  Tested before apps and browsers, because
    their strings carry app and browser tokens too (an Echo's names
    ExoPlayer, a Chromecast's names Chrome).
  - C{"app"}: radio and music apps on phones and tablets: TuneIn,
    radio.net (radio.de), Simple Radio, myTuner, iHeartRadio, Apple and
    Amazon Music, and the media frameworks such apps play through: iOS's
    AppleCoreMedia and CFNetwork, Android's ExoPlayer (Media3), Dalvik,
    OkHttp and stagefright.
  - C{"player"}: desktop and command-line players and media centres: VLC,
    Winamp, foobar2000, mpv, MPlayer, iTunes, Windows Media Player
    (C{NSPlayer}), FFmpeg (C{Lavf}), Kodi, Audacious, Music Player Daemon,
    Streamripper, GStreamer and the players built on it.
  - C{"browser"}: a C{Mozilla/5.0} string with a browser's token (Edge,
    Opera, Samsung Internet, Firefox, Chrome, Safari, Internet Explorer),
    whether the page plays the stream or an app's web view does.
  - C{"other"}: everything else, HTTP libraries and tools (curl, Wget,
    python-requests…) included, and the empty string.

The table is ordered and the first row whose pattern matches wins, so a
row for a specific program comes before a broader row it would also
match.  Nothing here does I/O or keeps state beyond a cache of answers.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Final

__all__ = [
    "APP",
    "BOT",
    "BROWSER",
    "FAMILIES",
    "OTHER",
    "PLAYER",
    "SPEAKER",
    "Agent",
    "classify",
    "family",
]

BROWSER: Final = "browser"
APP: Final = "app"
SPEAKER: Final = "smart speaker"
PLAYER: Final = "player"
BOT: Final = "bot"
OTHER: Final = "other"

FAMILIES: Final[tuple[str, ...]] = (BROWSER, APP, SPEAKER, PLAYER, BOT, OTHER)
"""
Every family L{classify} answers with, in the order reports list them.
"""


@dataclass(frozen=True)
class Agent:
    """
    What a User-Agent string says about the program that sent it.

    @ivar family: one of L{FAMILIES}.
    @ivar name: the program or framework, as reports show it (C{"VLC"},
        C{"TuneIn"}); C{""} when nothing names it.
    """

    family: str
    name: str


_RULES: Final[tuple[tuple[str, str, str], ...]] = (
    # Robots first: many of them also claim to be a browser.  "bot" must
    # be lower case or start a capitalised word so that a phone model
    # written in capitals ("CUBOT") is not taken for one.
    (BOT, "Headless Chrome", r"HeadlessChrome"),
    (BOT, "link preview", r"facebookexternalhit|Twitterbot|Slackbot|WhatsApp|TelegramBot"),
    (BOT, "monitor", r"Pingdom|StatusCake|Site24x7|check_http|UptimeRobot|Uptime-Kuma"),
    (BOT, "crawler", r"(?:bot|Bot|crawler|Crawler|spider|Spider)\b|Slurp"),
    # Speakers and other audio hardware, before apps and browsers.
    (SPEAKER, "Apple HomePod", r"HomePod"),
    (SPEAKER, "Amazon Alexa", r"Alexa(?:MediaPlayer|\b)|\bEcho\b|Amazon-?Echo"),
    (SPEAKER, "Sonos", r"Sonos"),
    (SPEAKER, "Google Home", r"(?i)Google[ -]?(?:Home|Nest)"),
    (SPEAKER, "Chromecast", r"CrKey"),
    (SPEAKER, "Bose", r"\bBose|SoundTouch"),
    (SPEAKER, "Denon HEOS", r"\bHEOS\b"),
    (SPEAKER, "Yamaha MusicCast", r"MusicCast"),
    (SPEAKER, "BluOS", r"BluOS"),
    (SPEAKER, "internet radio", r"Frontier ?Silicon|\bFSL IR\b|Reciva|vTuner"),
    # Radio and music apps by name.
    (APP, "TuneIn", r"(?i)\btune-?in"),
    (APP, "radio.net", r"(?i)\bradio\.(?:net|de|at|fr|it|es|pl|pt|dk|se)\b|radioNet"),
    (APP, "Simple Radio", r"(?i)simple ?radio"),
    (APP, "myTuner", r"(?i)mytuner"),
    (APP, "iHeartRadio", r"(?i)iheart"),
    (APP, "Radio Garden", r"(?i)radio ?garden"),
    (APP, "Radioplayer", r"(?i)\bradioplayer\b"),
    (APP, "Replaio", r"(?i)replaio"),
    (APP, "RadioDroid", r"RadioDroid"),
    (APP, "Audials", r"Audials"),
    (APP, "Amazon Music", r"AmazonMusic|Amazon Music"),
    (APP, "Apple Music", r"AppleMusic|Apple Music|^Music/\d"),
    # The media frameworks apps play through.
    (APP, "AppleCoreMedia (iOS)", r"AppleCoreMedia/[^(]*\((?:iPhone|iPad|iPod|Apple TV)"),
    (APP, "Apple app (CFNetwork)", r"CFNetwork/.*Darwin/"),
    (APP, "Android (ExoPlayer)", r"ExoPlayer|AndroidXMedia3"),
    (APP, "Android (stagefright)", r"stagefright"),
    (APP, "Android (Dalvik)", r"Dalvik/"),
    (APP, "Android (OkHttp)", r"(?i)okhttp"),
    # A bare "Amazon": one of its devices, once its apps are ruled out.
    (SPEAKER, "Amazon device", r"\bAmazon\b"),
    # Desktop and command-line players.
    (PLAYER, "VLC", r"\bVLC\b|LibVLC"),
    (PLAYER, "Winamp", r"Winamp|Ultravox"),
    (PLAYER, "foobar2000", r"(?i)foobar2000"),
    (PLAYER, "mpv", r"\bmpv\b|libmpv"),
    (PLAYER, "MPlayer", r"MPlayer"),
    (PLAYER, "iTunes", r"iTunes"),
    (PLAYER, "Windows Media Player", r"NSPlayer|Windows-Media-Player|WMFSDK"),
    (PLAYER, "Kodi", r"Kodi|XBMC"),
    (PLAYER, "Audacious", r"(?i)audacious"),
    (PLAYER, "Music Player Daemon", r"Music Player Daemon|\bMPD\b"),
    (PLAYER, "Streamripper", r"(?i)streamripper"),
    (PLAYER, "AIMP", r"\bAIMP\b"),
    (PLAYER, "Clementine", r"Clementine"),
    (PLAYER, "Strawberry", r"Strawberry"),
    (PLAYER, "Rhythmbox", r"Rhythmbox"),
    (PLAYER, "QuickTime", r"QuickTime"),
    (PLAYER, "RealPlayer", r"RealPlayer|RealMedia"),
    (PLAYER, "BASS", r"^BASS/"),
    (PLAYER, "GStreamer", r"GStreamer"),
    (PLAYER, "AppleCoreMedia (macOS)", r"AppleCoreMedia"),
    (PLAYER, "FFmpeg", r"\bLavf\b|Lavf/"),
    # Browsers: each token before the ones its strings also carry (Edge
    # and Opera strings name Chrome, Chrome's name Safari).
    (BROWSER, "Edge", r"^Mozilla/5\.0 .*\bEdg(?:e|A|iOS)?/"),
    (BROWSER, "Opera", r"^Mozilla/5\.0 .*(?:\bOPR/|\bOPT/|Opera)"),
    (BROWSER, "Samsung Internet", r"^Mozilla/5\.0 .*SamsungBrowser/"),
    (BROWSER, "Firefox", r"^Mozilla/5\.0 .*(?:Firefox/|FxiOS/)"),
    (BROWSER, "Chrome", r"^Mozilla/5\.0 .*(?:Chrome/|CriOS/|Chromium/)"),
    (BROWSER, "Safari", r"^Mozilla/5\.0 .*(?:Safari/|AppleWebKit/.*Mobile/)"),
    (BROWSER, "Internet Explorer", r"^Mozilla/[45]\.0 .*(?:Trident/|MSIE )"),
    # Tools and libraries: someone's script, or a program not known here.
    (OTHER, "curl", r"^curl/"),
    (OTHER, "Wget", r"^Wget/"),
    (OTHER, "Python", r"python-requests|Python-urllib|aiohttp|httpx"),
    (OTHER, "Go", r"Go-http-client"),
    (OTHER, "Java", r"^Java/|Apache-HttpClient"),
    (OTHER, "Node.js", r"node-fetch|axios|undici"),
)
"""
The classification table: family, name and pattern, first match wins.
"""

_COMPILED: Final = tuple((family, name, re.compile(pattern)) for family, name, pattern in _RULES)


@lru_cache(maxsize=4096)
def classify(user_agent: str) -> Agent:
    """
    Sort a User-Agent string into its family and name the program.

    @param user_agent: the C{User-Agent} header as the client sent it;
        C{""} when it sent none.
    @return: the first matching row of the table, or C{Agent("other",
        "")} when no row matches.
    """
    text = user_agent.strip()
    for family_, name, pattern in _COMPILED:
        if pattern.search(text):
            return Agent(family_, name)
    return Agent(OTHER, "")


def family(user_agent: str) -> str:
    """
    The family of a User-Agent string: the L{Agent.family} of
    L{classify}.

    @param user_agent: the C{User-Agent} header; C{""} when there was none.
    @return: one of L{FAMILIES}.
    """
    return classify(user_agent).family
