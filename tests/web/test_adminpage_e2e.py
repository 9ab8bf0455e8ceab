"""
The admin page in a real browser: a station on a loopback port, with
real ICY listeners, and the distribution's Chromium driven by Playwright,
logged in with the admin credentials.

As in L{tests.web.test_webpage}, Playwright's synchronous API runs the
browser session in a thread of the reactor's pool while the reactor
serves the station; the session asks the reactor to connect a listener
when it needs one, and waits for it.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any

from mutagen.id3 import ID3, TIT2, TPE1
from twisted.internet.defer import Deferred
from twisted.internet.endpoints import TCP4ClientEndpoint, connectProtocol
from twisted.internet.interfaces import IReactorCore, IReactorTCP
from twisted.internet.threads import deferToThreadPool
from twisted.trial.unittest import TestCase

from radiod.broadcast.mount import Mount
from radiod.config import MountConfig, StationConfig
from radiod.runner import thread_runner
from radiod.station.service import StationService
from radiod.testing import silent_frame
from tests.support.loopback import Reader, asynchronous, reactor, wait_for
from tests.web.test_webpage import CHROMIUM_ARGS, WAIT_MS, find_chromium

ADMIN_USER = "admin"
ADMIN_PASSWORD = "e2e-Adm1n-Page"
FRAME = silent_frame()
TRACK_SECONDS = 120
FIRST_TITLE = "First <b>Song</b> & Co"
SECOND_TITLE = "Second Song"
AGENT = 'E2E <img src=x onerror="window.pwned=1"> Listener/1.0'

NO_FIGURES = (
    "Failed to load resource: the server responded with a status of 503 (Service Unavailable)"
)

STREAM = 'article.mount[data-mount="/stream"]'
OTHER = 'article.mount[data-mount="/other"]'


def write_track(folder: str, name: str, title: str, artist: str) -> None:
    """
    Write a silent MP3 of L{TRACK_SECONDS} seconds, long enough that no
    track ends by itself during a test, tagged with C{title} and
    C{artist}.
    """
    path = os.path.join(folder, name)
    frames = int(TRACK_SECONDS / FRAME.duration)
    with open(path, "wb") as f:
        f.write(FRAME.data * frames)
    tags = ID3()
    tags.add(TIT2(encoding=3, text=[title]))
    tags.add(TPE1(encoding=3, text=[artist]))
    tags.save(path)


def browse_as_admin(
    chromium: str, session: Callable[[Any, list[str]], dict[str, Any]]
) -> dict[str, Any]:
    """
    Run C{session(page, errors)} in a fresh headless Chromium that logs in
    with the admin credentials (HTTP Basic), collecting console errors
    (Content-Security-Policy violations among them) and uncaught
    exceptions into C{errors}.  Blocks: call it in a thread.
    """
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=chromium, headless=True, args=CHROMIUM_ARGS
        )
        try:
            context = browser.new_context(
                viewport={"width": 1280, "height": 900},
                http_credentials={"username": ADMIN_USER, "password": ADMIN_PASSWORD},
            )
            page = context.new_page()
            page.set_default_timeout(WAIT_MS)
            errors: list[str] = []
            page.on(
                "console",
                lambda message: errors.append(message.text) if message.type == "error" else None,
            )
            page.on("pageerror", lambda error: errors.append(str(error)))
            result = session(page, errors)
            result["errors"] = errors
            context.close()
            return result
        finally:
            browser.close()


def text(page: Any, selector: str) -> str:
    """
    The text of the first element C{selector} finds.
    """
    found: str = page.text_content(selector)
    return found


class AdminPageBrowserTests(TestCase):
    """
    The admin page, loaded by Chromium from a running station.
    """

    timeout = 120

    def setUp(self) -> None:
        self.chromium = find_chromium()

    async def start_station(self, stats_database: str = "") -> tuple[StationService, int]:
        """
        Start a station with an admin password on a free loopback port:
        C{/stream} and C{/other} play two silent tracks of two minutes,
        the first titled with markup in it.

        @param stats_database: where listener sessions are stored
            (C{"off"} for nowhere).
        @return: the service and its port.
        """
        music = os.path.abspath(self.mktemp())
        os.makedirs(music)
        write_track(music, "1-first.mp3", FIRST_TITLE, "Alpha")
        write_track(music, "2-second.mp3", SECOND_TITLE, "Beta")
        config = StationConfig(
            port=0,
            interface="127.0.0.1",
            mounts=(
                MountConfig(name="/stream", music=music, station_name="Admin FM"),
                MountConfig(name="/other", music=music, station_name="Other FM"),
            ),
            admin_user=ADMIN_USER,
            admin_password=ADMIN_PASSWORD,
            state_dir=os.path.abspath(self.mktemp()),
            stats_database=stats_database,
        )
        core: IReactorCore = reactor
        service = StationService(config, reactor, thread_runner(core, reactor.getThreadPool()))
        service.startService()
        self.addCleanup(service.stopService)
        port = await service.listener.listening
        address: Any = port.getHost()
        await wait_for(
            lambda: all(mount.now_playing is not None for mount in service.mounts.values()),
            10,
            reactor,
        )
        return service, address.port

    async def listen(self, port: int, mount: Mount) -> int:
        """
        Connect an ICY listener to C{mount}, with a user agent that holds
        markup, and wait until the mount has it.

        @return: the listener's id.
        """
        request = f"GET {mount.name} HTTP/1.0\r\nUser-Agent: {AGENT}\r\nIcy-MetaData: 1\r\n\r\n"
        reader = Reader(request.encode(), reactor)
        tcp: IReactorTCP = reactor
        await connectProtocol(TCP4ClientEndpoint(tcp, "127.0.0.1", port), reader)
        self.readers.append(reader)
        self.addCleanup(lambda: reader.transport.loseConnection() if reader.transport else None)
        await wait_for(lambda: len(mount.listeners) == 1, 10, reactor)
        (listener,) = mount.listeners
        return listener.id

    def connector(self, port: int, mount: Mount) -> Callable[[], int]:
        """
        What a browser session calls, from its thread, to connect a
        listener to C{mount}: its id.
        """

        def connect() -> int:
            connected: Future[int] = Future()

            def start() -> None:
                listening = Deferred.fromCoroutine(self.listen(port, mount))
                listening.addCallbacks(
                    connected.set_result, lambda failure: connected.set_exception(failure.value)
                )

            reactor.callFromThread(start)
            return connected.result(timeout=30)

        return connect

    async def in_browser(
        self, service: StationService, session: Callable[[Any, list[str]], dict[str, Any]]
    ) -> dict[str, Any]:
        """
        Run a browser session in a thread while the reactor serves.
        """
        result: dict[str, Any] = await deferToThreadPool(
            reactor, reactor.getThreadPool(), browse_as_admin, self.chromium, session
        )
        return result

    @asynchronous
    async def test_listener_skip_kick(self) -> None:
        """
        Logged in, with no console error: the page shows each mount with
        what plays; a listener that connects appears with its address and
        its user agent, shown as text (its markup does nothing); a skip
        changes the title shown to the track that was up next; kicking
        the listener removes it from the page and closes its connection.
        The charts are drawn: the listener counts of the mount, and a bar
        per day of listening hours.
        """
        self.readers: list[Reader] = []
        service, port = await self.start_station()
        base = f"http://127.0.0.1:{port}"
        connect = self.connector(port, service.mounts["/stream"])

        def session(page: Any, errors: list[str]) -> dict[str, Any]:
            seen: dict[str, Any] = {}
            response = page.goto(base + "/admin")
            seen["url"] = page.url
            seen["policy"] = response.header_value("content-security-policy")
            page.wait_for_function(
                "sel => { const t = document.querySelector(sel);"
                " return t && t.textContent !== '' && t.textContent !== 'Nothing yet'; }",
                arg=f"{STREAM} .now-title",
            )
            seen["mounts"] = page.eval_on_selector_all(
                "article.mount", "mounts => mounts.map(mount => mount.dataset.mount)"
            )
            seen["no_listeners"] = page.is_visible(f"{STREAM} .no-listeners")
            listener = connect()
            row = f'{STREAM} tr.listener[data-id="{listener}"]'
            page.wait_for_selector(row)
            seen["agent"] = text(page, f"{row} .agent")
            seen["address"] = text(page, f"{row} .address")
            seen["count"] = text(page, f"{STREAM} .listener-count")
            seen["injected"] = page.evaluate(
                "() => [window.pwned === undefined, document.querySelectorAll('main img').length]"
            )
            before = text(page, f"{STREAM} .now-title")
            seen["title_before"] = before
            seen["next_before"] = text(page, f"{STREAM} .next")
            page.click(f"{STREAM} button.skip")
            page.wait_for_function(
                "([sel, before]) => document.querySelector(sel).textContent !== before",
                arg=[f"{STREAM} .now-title", before],
            )
            seen["title_after"] = text(page, f"{STREAM} .now-title")
            seen["skip_status"] = text(page, "#status")
            page.click(f"{row} button.kick")
            page.wait_for_selector(row, state="detached")
            seen["kick_status"] = text(page, "#status")
            seen["count_after"] = text(page, f"{STREAM} .listener-count")
            # A line along the axis (no one listened yet) has no area: it
            # is there, not visible.
            page.wait_for_selector(
                '#listeners-chart path.series[data-mount="/stream"]', state="attached"
            )
            seen["legend"] = page.eval_on_selector_all(
                "#listeners-legend li", "items => items.map(item => item.textContent)"
            )
            page.wait_for_selector("#tlh-chart rect.bar", state="attached")
            seen["bars"] = page.eval_on_selector_all("#tlh-chart rect.bar", "bars => bars.length")
            seen["tlh_none"] = page.is_visible("#tlh-none")
            return seen

        seen = await self.in_browser(service, session)
        self.assertEqual(seen["errors"], [])
        self.assertEqual(seen["url"], base + "/admin/")
        self.assertIn("default-src 'none'", seen["policy"])
        self.assertEqual(seen["mounts"], ["/stream", "/other"])
        self.assertTrue(seen["no_listeners"])
        self.assertEqual(seen["agent"], AGENT)
        self.assertEqual(seen["address"], "127.0.0.1")
        self.assertEqual(seen["count"], "1")
        self.assertEqual(seen["injected"], [True, 0])
        self.assertIn(seen["title_before"], (FIRST_TITLE, SECOND_TITLE))
        self.assertNotEqual(seen["title_after"], seen["title_before"])
        self.assertIn(seen["title_after"], seen["next_before"])
        self.assertIn(seen["title_before"], seen["skip_status"])
        self.assertRegex(seen["kick_status"], r"^Client \d+ removed$")
        self.assertEqual(seen["count_after"], "0")
        self.assertEqual(seen["legend"], ["/stream", "/other"])
        self.assertGreaterEqual(seen["bars"], 30)
        self.assertFalse(seen["tlh_none"])
        (reader,) = self.readers
        await reader.gone
        self.assertFalse(service.mounts["/stream"].listeners)

    @asynchronous
    async def test_queue_and_move(self) -> None:
        """
        A track found by a library search is queued: it is listed as
        queued and up next.  A listener moved to another mount leaves the
        first mount's list for the other's, with the same id.  A station
        that keeps no listener sessions shows no listening-hours chart,
        and says so.
        """
        self.readers = []
        service, port = await self.start_station(stats_database="off")
        base = f"http://127.0.0.1:{port}"
        connect = self.connector(port, service.mounts["/stream"])

        def session(page: Any, errors: list[str]) -> dict[str, Any]:
            seen: dict[str, Any] = {}
            page.goto(base + "/admin/")
            page.wait_for_selector(f"{STREAM} .search-words")
            page.wait_for_selector("#tlh-none", state="visible")
            seen["tlh_none"] = text(page, "#tlh-none")
            seen["tlh_chart"] = page.is_visible("#tlh-chart")
            page.fill(f"{STREAM} .search-words", "second")
            page.click(f"{STREAM} .search button")
            page.wait_for_selector(f"{STREAM} .results li.result")
            seen["results"] = page.eval_on_selector_all(
                f"{STREAM} .results li.result .what", "items => items.map(item => item.textContent)"
            )
            page.click(f"{STREAM} .results li.result button.queue")
            page.wait_for_selector(f"{STREAM} .queued li")
            seen["queued"] = page.eval_on_selector_all(
                f"{STREAM} .queued li", "items => items.map(item => item.textContent)"
            )
            seen["next"] = text(page, f"{STREAM} .next")
            seen["queue_status"] = text(page, "#status")
            listener = connect()
            row = f'tr.listener[data-id="{listener}"]'
            page.wait_for_selector(f"{STREAM} {row}")
            seen["destinations"] = page.eval_on_selector_all(
                f"{STREAM} {row} .move-to option", "options => options.map(option => option.value)"
            )
            page.select_option(f"{STREAM} {row} .move-to", "/other")
            page.click(f"{STREAM} {row} button.move")
            page.wait_for_selector(f"{OTHER} {row}")
            page.wait_for_selector(f"{STREAM} {row}", state="detached")
            seen["moved_agent"] = text(page, f"{OTHER} {row} .agent")
            seen["move_status"] = text(page, "#status")
            return seen

        seen = await self.in_browser(service, session)
        # The browser reports the figures' refusal, which the page expects.
        self.assertEqual(seen["errors"], [NO_FIGURES])
        self.assertIn("keeps no listener sessions", seen["tlh_none"])
        self.assertFalse(seen["tlh_chart"])
        self.assertTrue(seen["results"])
        self.assertTrue(all(SECOND_TITLE in result for result in seen["results"]))
        self.assertEqual(seen["queued"], [f"Beta \u2013 {SECOND_TITLE}"])
        self.assertEqual(seen["next"], f"Beta \u2013 {SECOND_TITLE}")
        self.assertIn("place 1", seen["queue_status"])
        self.assertEqual(seen["destinations"], ["/other"])
        self.assertEqual(seen["moved_agent"], AGENT)
        self.assertIn("to /other", seen["move_status"])
        await wait_for(lambda: len(service.mounts["/other"].listeners) == 1, 5, reactor)
        self.assertFalse(service.mounts["/stream"].listeners)
