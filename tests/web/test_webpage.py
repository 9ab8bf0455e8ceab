"""
The station page in a real browser: a station on a loopback port, the
distribution's Chromium driven by Playwright.

Playwright's synchronous API runs the whole browser session in one thread
of the reactor's pool, while the reactor goes on serving the station; the
test waits for the session's Deferred, then checks what it saw.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from importlib.util import find_spec
from typing import Any

from twisted.internet.interfaces import IReactorCore
from twisted.internet.threads import deferToThreadPool
from twisted.trial.unittest import TestCase

from radiod.config import MountConfig, StationConfig
from radiod.runner import thread_runner
from radiod.station.service import StationService
from tests.support.loopback import FIRST, FIXTURES, SECOND, asynchronous, reactor, wait_for
from tests.support.tools import require_tool

PHONE_WIDTH = 390
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--autoplay-policy=no-user-gesture-required",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--no-first-run",
    "--mute-audio",
]
WAIT_MS = 20_000

TITLE = "document.getElementById('now-title').textContent"
NOW_PLAYING = (
    "() => [document.getElementById('now-title').textContent,"
    " document.getElementById('now-artist').textContent]"
)
TITLES = {FIRST.split(" - ")[1], SECOND.split(" - ")[1]}


def find_chromium() -> str:
    """
    The system Chromium, once Playwright is known to be there too; or skip
    (fail under continuous integration, see L{tests.support.tools.require}).
    """
    chromium = require_tool(
        "chromium",
        shutil.which("chromium") or shutil.which("chromium-browser"),
        "apt-get install chromium",
    )
    require_tool("playwright", find_spec("playwright"), "pip install playwright")
    return chromium


def browse(chromium: str, session: Callable[[Any, list[str]], dict[str, Any]]) -> dict[str, Any]:
    """
    Run C{session(page, errors)} in a fresh headless Chromium at phone
    width, collecting console errors and uncaught exceptions into
    C{errors}.  Blocks: call it in a thread.
    """
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=chromium, headless=True, args=CHROMIUM_ARGS
        )
        try:
            page = browser.new_page(viewport={"width": PHONE_WIDTH, "height": 844})
            page.set_default_timeout(WAIT_MS)
            errors: list[str] = []
            page.on(
                "console",
                lambda message: errors.append(message.text) if message.type == "error" else None,
            )
            page.on("pageerror", lambda error: errors.append(str(error)))
            result = session(page, errors)
            result["errors"] = errors
            page.close()
            return result
        finally:
            browser.close()


def listen_and_follow(page: Any, errors: list[str], base: str) -> dict[str, Any]:
    """
    Load the page, start the player, and wait for the audio to advance
    and for the title to change.
    """
    page.goto(base + "/")
    page.wait_for_function(f"() => {TITLE} !== 'Connecting…'")
    first_title, first_artist = page.evaluate(NOW_PLAYING)
    result: dict[str, Any] = {
        "station": page.text_content("#station-name"),
        "first_title": first_title,
        "first_artist": first_artist,
        "m3u": page.get_attribute("#link-m3u", "href"),
        "pls": page.get_attribute("#link-pls", "href"),
        "audio_src": page.eval_on_selector("#player", "audio => audio.src"),
        "picker_hidden": page.eval_on_selector("#mounts", "nav => nav.hidden"),
    }
    page.eval_on_selector("#player", "audio => audio.play()")
    page.wait_for_function("() => document.getElementById('player').currentTime > 1.5")
    result["current_time"] = page.eval_on_selector("#player", "audio => audio.currentTime")
    result["paused"] = page.eval_on_selector("#player", "audio => audio.paused")
    page.wait_for_function(f"title => {TITLE} !== title", arg=result["first_title"])
    result["second_title"], result["second_artist"] = page.evaluate(NOW_PLAYING)
    page.wait_for_function("() => document.querySelectorAll('#recent li').length > 0")
    result["recent"] = page.eval_on_selector_all(
        "#recent li .what", "items => items.map(item => item.textContent)"
    )
    page.wait_for_function("() => document.getElementById('listener-count').textContent === '1'")
    result["listeners"] = page.text_content("#listener-count")
    result["document_title"] = page.title()
    result["overflow"] = page.evaluate(
        "() => document.documentElement.scrollWidth - document.documentElement.clientWidth"
    )
    return result


def pick_mount(page: Any, errors: list[str], base: str) -> dict[str, Any]:
    """
    Load the page, pick the other mount, and read its page.
    """
    page.goto(base + "/")
    page.wait_for_function(f"() => {TITLE} !== 'Connecting…'")
    result: dict[str, Any] = {
        "station": page.text_content("#station-name"),
        "options": page.eval_on_selector_all(
            "#mount-picker option", "options => options.map(option => option.value)"
        ),
        "picker_hidden": page.eval_on_selector("#mounts", "nav => nav.hidden"),
    }
    with page.expect_navigation():
        page.select_option("#mount-picker", "/other")
    page.wait_for_function(
        "() => document.getElementById('station-name').textContent === 'Other FM'"
        f" && {TITLE} !== 'Connecting…'"
    )
    result["path"] = page.evaluate("() => location.pathname")
    result["other_station"] = page.text_content("#station-name")
    result["other_title"] = page.text_content("#now-title")
    result["other_m3u"] = page.get_attribute("#link-m3u", "href")
    result["other_audio"] = page.eval_on_selector("#player", "audio => audio.src")
    result["selected"] = page.eval_on_selector("#mount-picker", "select => select.value")
    return result


class WebPageTests(TestCase):
    """
    The station page, loaded by Chromium from a running station.
    """

    timeout = 120

    def setUp(self) -> None:
        self.chromium = find_chromium()

    async def start_station(self, *names: str) -> tuple[StationService, str]:
        """
        Start a station whose mounts play the two fixture songs (about
        three seconds each) in turn, on a free loopback port.

        @return: the service and the station's base URL.
        """
        music = self.mktemp()
        os.makedirs(music)
        for name in ("alpha-artist-first-song.mp3", "beta-artist-second-song.mp3"):
            shutil.copy(os.path.join(FIXTURES, name), music)
        mounts = tuple(
            MountConfig(name=name, music=music, station_name=station)
            for name, station in zip(names, ("Web FM", "Other FM"), strict=False)
        )
        config = StationConfig(port=0, interface="127.0.0.1", mounts=mounts)
        core: IReactorCore = reactor
        service = StationService(config, reactor, thread_runner(core, reactor.getThreadPool()))
        service.startService()
        self.addCleanup(service.stopService)
        port = await service.listener.listening
        address: Any = port.getHost()
        return service, f"http://127.0.0.1:{address.port}"

    async def in_browser(
        self,
        service: StationService,
        session: Callable[[Any, list[str], str], dict[str, Any]],
        base: str,
    ) -> dict[str, Any]:
        """
        Run a browser session in a thread while the reactor serves; once
        the browser is gone, wait until the station has seen its
        connections close.
        """
        result: dict[str, Any] = await deferToThreadPool(
            reactor,
            reactor.getThreadPool(),
            browse,
            self.chromium,
            lambda page, errors: session(page, errors, base),
        )
        mounts = service.mounts.values()
        await wait_for(
            lambda: (
                not service.page.events.streams and not any(mount.listeners for mount in mounts)
            ),
            10,
            reactor,
        )
        return result

    @asynchronous
    async def test_plays_and_follows_titles(self) -> None:
        """
        At phone width, with no console error: the page shows the station
        and the current title with its artist and links to the playlists;
        its player really plays the stream (its time advances); and the
        title changes, without a reload, when the track changes, the
        previous track moving to the recently played list.
        """
        service, base = await self.start_station("/stream")
        seen = await self.in_browser(service, listen_and_follow, base)
        self.assertEqual(seen["errors"], [])
        self.assertEqual(seen["station"], "Web FM")
        self.assertIn(seen["first_title"], TITLES)
        self.assertIn(seen["first_artist"], ("Alpha Artist", "Beta Artist"))
        self.assertEqual(seen["m3u"], "/stream.m3u")
        self.assertEqual(seen["pls"], "/stream.pls")
        self.assertEqual(seen["audio_src"], base + "/stream")
        self.assertTrue(seen["picker_hidden"])
        self.assertGreater(seen["current_time"], 1.5)
        self.assertFalse(seen["paused"])
        self.assertIn(seen["second_title"], TITLES)
        self.assertNotEqual(seen["second_title"], seen["first_title"])
        self.assertIn(seen["second_artist"], ("Alpha Artist", "Beta Artist"))
        self.assertIn(f"{seen['first_artist']} \u2013 {seen['first_title']}", seen["recent"])
        self.assertEqual(seen["listeners"], "1")
        self.assertIn("Web FM", seen["document_title"])
        self.assertLessEqual(seen["overflow"], 0)

    @asynchronous
    async def test_pick_another_mount(self) -> None:
        """
        With two mounts, C{/} shows the default one and a picker; picking
        the other opens its own page, C{/other/}, which shows and plays
        that mount.
        """
        service, base = await self.start_station("/stream", "/other")
        seen = await self.in_browser(service, pick_mount, base)
        self.assertEqual(seen["errors"], [])
        self.assertEqual(seen["station"], "Web FM")
        self.assertFalse(seen["picker_hidden"])
        self.assertEqual(seen["options"], ["/stream", "/other"])
        self.assertEqual(seen["path"], "/other/")
        self.assertEqual(seen["other_station"], "Other FM")
        self.assertIn(seen["other_title"], TITLES)
        self.assertEqual(seen["other_m3u"], "/other.m3u")
        self.assertEqual(seen["other_audio"], base + "/other")
        self.assertEqual(seen["selected"], "/other")
