"""
Tests for L{radiod.audience.agents}: User-Agent strings of each family, as
listeners' programs send them.
"""

from __future__ import annotations

from twisted.trial.unittest import SynchronousTestCase

from radiod.audience.agents import (
    APP,
    BOT,
    BROWSER,
    FAMILIES,
    OTHER,
    PLAYER,
    SPEAKER,
    Agent,
    classify,
    family,
)

BROWSERS = {
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/124.0.0.0 Safari/537.36": "Chrome",
    "Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/124.0.0.0 Mobile Safari/537.36": "Chrome",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) CriOS/124.0.6367.88 Mobile/15E148 Safari/604.1": "Chrome",
    "Mozilla/5.0 (X11; Ubuntu; Linux x86_64; rv:125.0) Gecko/20100101 Firefox/125.0": "Firefox",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/17.4.1 Safari/605.1.15": "Safari",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4_1 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.4.1 Mobile/15E148 Safari/604.1": "Safari",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/124.0.0.0 Safari/537.36 Edg/124.0.2478.80": "Edge",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/123.0.0.0 Safari/537.36 OPR/109.0.0.0": "Opera",
    "Mozilla/5.0 (Linux; Android 14; SAMSUNG SM-S918B) AppleWebKit/537.36 (KHTML, like Gecko) "
    "SamsungBrowser/24.0 Chrome/117.0.0.0 Mobile Safari/537.36": "Samsung Internet",
    "Mozilla/5.0 (Windows NT 10.0; WOW64; Trident/7.0; rv:11.0) like Gecko": "Internet Explorer",
    # A phone model written in capitals ends with "BOT": still a browser.
    "Mozilla/5.0 (Linux; Android 10; CUBOT X30) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/120.0.0.0 Mobile Safari/537.36": "Chrome",
}

APPS = {
    "TuneIn Radio/32.1.1; Android 14; Pixel 8; Java": "TuneIn",
    "TuneIn%20Radio/32.0 CFNetwork/1494.0.7 Darwin/23.4.0": "TuneIn",
    "radio.de/5.21.0 (Android 13; SM-A536B)": "radio.net",
    "radio.net/6.4.1 (iPhone; iOS 17.4.1; Scale/3.00)": "radio.net",
    "Simple Radio/3.1.7 (Android 12)": "Simple Radio",
    "myTuner Radio/9.0.7 (iPad; iOS 16.6)": "myTuner",
    "iHeartRadio/10.38.0 (Android 14; Pixel 7)": "iHeartRadio",
    "AppleCoreMedia/1.0.0.21E236 (iPhone; U; CPU OS 17_4_1 like Mac OS X; en_us)": (
        "AppleCoreMedia (iOS)"
    ),
    "AppleCoreMedia/1.0.0.21L227 (Apple TV; U; CPU OS 17_4 like Mac OS X; en_us)": (
        "AppleCoreMedia (iOS)"
    ),
    "Music/1.4.5 (Macintosh; OS X 14.4.1) AppleWebKit/618.1.15.11.14": "Apple Music",
    "RadioApp/2.3 CFNetwork/1410.0.3 Darwin/22.6.0": "Apple app (CFNetwork)",
    "MyStation/1.0 (Linux;Android 13) ExoPlayerLib/2.19.1": "Android (ExoPlayer)",
    "Dalvik/2.1.0 (Linux; U; Android 11; Redmi Note 8 Pro Build/RP1A.200720.011)": (
        "Android (Dalvik)"
    ),
    "okhttp/4.12.0": "Android (OkHttp)",
    "stagefright/1.2 (Linux;Android 5.1.1)": "Android (stagefright)",
}

SPEAKERS = {
    # An Echo names ExoPlayer, like an Android app.
    "AlexaMediaPlayer/2.1.4676.0 (Linux;Android 5.1.1) ExoPlayerLib/1.5.9": "Amazon Alexa",
    "Echo/1.0(APNG)": "Amazon Alexa",
    "Sonos/79.1-54070 (ZPS38)": "Sonos",
    "Linux UPnP/1.0 Sonos/63.2-88230 (ZPS1)": "Sonos",
    # A Chromecast names Chrome, like a browser.
    "Mozilla/5.0 (X11; Linux armv7l) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/90.0.4430.225 Safari/537.36 CrKey/1.56.500000": "Chromecast",
    "Google Home/1.0 (Linux; Nest Audio)": "Google Home",
    "Bose/1.0 SoundTouch": "Bose",
    "AppleCoreMedia/1.0.0.21L227 (HomePod; U; CPU OS 17_4 like Mac OS X; en_us)": ("Apple HomePod"),
    "FSL IR/0.1": "internet radio",
    "Amazon/1.0 (Linux; Fire OS 7.6; AFTMM)": "Amazon device",
}

PLAYERS = {
    "VLC/3.0.20 LibVLC/3.0.20": "VLC",
    "WinampMPEG/5.66, Ultravox/2.1": "Winamp",
    "foobar2000/2.1.4": "foobar2000",
    "mpv 0.37.0": "mpv",
    "libmpv": "mpv",
    "MPlayer 1.5-12.2.0": "MPlayer",
    "iTunes/12.13.1 (Windows; Microsoft Windows 10 x64) AppleWebKit/7618.1015.1001.3": "iTunes",
    "NSPlayer/12.00.19041.3636 WMFSDK/12.00.19041.3636": "Windows Media Player",
    "Lavf/60.16.100": "FFmpeg",
    "Kodi/20.2 (X11; Linux x86_64) Ubuntu/22.04 App_Bitness/64 Version/20.2-(20.2.0)": "Kodi",
    "Audacious/4.3.1": "Audacious",
    "Music Player Daemon 0.23.15": "Music Player Daemon",
    "Streamripper/1.x": "Streamripper",
    "GStreamer souphttpsrc 1.22.0 libsoup/3.4.4": "GStreamer",
    "AppleCoreMedia/1.0.0.23E224 (Macintosh; U; Intel Mac OS X 14_4_1; en_us)": (
        "AppleCoreMedia (macOS)"
    ),
}

BOTS = {
    "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)": "crawler",
    "Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)": "crawler",
    "Mozilla/5.0 (compatible; AhrefsBot/7.0; +http://ahrefs.com/robot/)": "crawler",
    "facebookexternalhit/1.1 (+http://www.facebook.com/externalhit_uatext.php)": "link preview",
    "Mozilla/5.0 (compatible; UptimeRobot/2.0; http://www.uptimerobot.com/)": "monitor",
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "HeadlessChrome/124.0.6367.60 Safari/537.36": "Headless Chrome",
}

OTHERS = {
    "curl/8.7.1": "curl",
    "Wget/1.21.4": "Wget",
    "python-requests/2.31.0": "Python",
    "Go-http-client/1.1": "Go",
    "Java/17.0.10": "Java",
    "Icecast 2.4.4": "",
    "": "",
    "Mozilla/5.0": "",
}


class ClassifyTests(SynchronousTestCase):
    """
    Tests for L{classify} and L{family}.
    """

    def check(self, expected: str, cases: dict[str, str]) -> None:
        """
        Each User-Agent of C{cases} is of family C{expected} and has the
        name given.
        """
        for user_agent, name in cases.items():
            self.assertEqual(classify(user_agent), Agent(expected, name), user_agent)
            self.assertEqual(family(user_agent), expected, user_agent)

    def test_browsers(self) -> None:
        """
        Browsers, each named by its own token rather than the ones it
        copies (Edge and Opera claim Chrome, Chrome claims Safari).
        """
        self.check(BROWSER, BROWSERS)

    def test_apps(self) -> None:
        """
        Radio apps by name, and the frameworks apps play through on iOS
        and Android.
        """
        self.check(APP, APPS)

    def test_speakers(self) -> None:
        """
        Smart speakers, including those whose strings also carry app or
        browser tokens.
        """
        self.check(SPEAKER, SPEAKERS)

    def test_players(self) -> None:
        """
        Desktop and command-line players.
        """
        self.check(PLAYER, PLAYERS)

    def test_bots(self) -> None:
        """
        Crawlers, link previews, monitors and headless browsers, though
        most of them claim to be a browser.
        """
        self.check(BOT, BOTS)

    def test_others(self) -> None:
        """
        Tools and libraries are named but of no listening family; what
        nothing matches, the empty string and a bare C{Mozilla/5.0}
        included, is C{other} with no name.
        """
        self.check(OTHER, OTHERS)

    def test_surrounding_space(self) -> None:
        """
        Space around the string does not change the answer.
        """
        self.assertEqual(classify("  VLC/3.0.20 LibVLC/3.0.20 \t"), Agent(PLAYER, "VLC"))

    def test_families(self) -> None:
        """
        L{FAMILIES} lists the six families, in report order.
        """
        self.assertEqual(FAMILIES, ("browser", "app", "smart speaker", "player", "bot", "other"))
