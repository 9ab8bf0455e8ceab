"""
The station page in a real browser: a station on a loopback port, the
distribution's Chromium driven by Playwright.

Playwright's synchronous API runs the whole browser session in one thread
of the reactor's pool, while the reactor goes on serving the station; the
test waits for the session's Deferred, then checks what it saw.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from importlib import resources
from importlib.util import find_spec
from itertools import pairwise
from typing import Any

from twisted.internet.interfaces import IReactorCore
from twisted.internet.threads import deferToThreadPool
from twisted.logger import Logger
from twisted.trial.unittest import SynchronousTestCase, TestCase

from radiod.broadcast.mount import Mount
from radiod.config import MountConfig, StationConfig
from radiod.library.art import art_id
from radiod.runner import thread_runner
from radiod.station.service import StationService
from radiod.web.events import EVENTS_PATH
from radiod.web.page import HLS_SCRIPT, HLS_SCRIPT_SHA256, HLS_SCRIPT_VERSION
from tests.library.test_art import add_apic, make_picture, write
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
NEXT_UP = "document.getElementById('next-up')"
TITLES = {FIRST.split(" - ")[1], SECOND.split(" - ")[1]}
ARTISTS = {FIRST.split(" - ")[0], SECOND.split(" - ")[0]}

HLS_SCRIPT_PATH = "/web/" + HLS_SCRIPT
SEGMENT = re.compile(r"/hls/stream/stream/\d+(\.\d+)?\.mp3$")
PLAYER = "document.getElementById('player')"
CUE_TITLES = (
    "() => Array.from(document.getElementById('player').textTracks)"
    " .filter(track => track.kind === 'metadata')"
    " .flatMap(track => Array.from(track.cues || []))"
    " .filter(cue => cue.value && cue.value.key === 'TIT2')"
    " .map(cue => cue.value.data)"
)


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


def record_requests(page: Any) -> list[str]:
    """
    The paths of the requests C{page} makes from now on, as they go.
    """
    paths: list[str] = []
    page.on("request", lambda request: paths.append(re.sub(r"^\w+://[^/]*", "", request.url)))
    return paths


def start_playing(page: Any) -> None:
    """
    Press play once the page has chosen its player (C{data-player}), and
    again until it plays: a C{play()} made while hls.js attaches its media
    source is interrupted by that load.
    """
    page.wait_for_function(f"() => Boolean({PLAYER}.dataset.player)")
    page.wait_for_function(
        f"() => {{ if ({PLAYER}.paused) {PLAYER}.play().catch(() => null);"
        f" return !{PLAYER}.paused && {PLAYER}.readyState >= 3; }}",
        polling=200,
    )


def play_for(page: Any, seconds: float) -> dict[str, Any]:
    """
    Start the player and wait until it has played C{seconds} of audio.

    @return: where it started, where it is, and its source.
    """
    start_playing(page)
    start = page.evaluate(f"() => {PLAYER}.currentTime")
    page.wait_for_function(f"start => {PLAYER}.currentTime > start + {seconds}", arg=start)
    return {
        "start": start,
        "current_time": page.evaluate(f"() => {PLAYER}.currentTime"),
        "paused": page.evaluate(f"() => {PLAYER}.paused"),
        "current_src": page.evaluate(f"() => {PLAYER}.currentSrc"),
    }


def listen_and_follow(page: Any, errors: list[str], base: str) -> dict[str, Any]:
    """
    Load the page, start the player, and wait for the audio to advance,
    for the title to change and for the track up next to follow.

    Until the player plays, the page shows the track at the head of the
    stream; once it plays, the track it plays (C{"playing_title"}), which
    may be an earlier one.
    """
    requests = record_requests(page)
    page.goto(base + "/")
    page.wait_for_function(f"() => {TITLE} !== 'Connecting…'")
    first_title, first_artist = page.evaluate(NOW_PLAYING)
    page.wait_for_function(f"() => !{NEXT_UP}.hidden")
    result: dict[str, Any] = {
        "station": page.text_content("#station-name"),
        "first_title": first_title,
        "first_artist": first_artist,
        "first_next": page.text_content("#next-up"),
        "m3u": page.get_attribute("#link-m3u", "href"),
        "pls": page.get_attribute("#link-pls", "href"),
        "audio_src": page.eval_on_selector("#player", "audio => audio.src"),
        "picker_hidden": page.eval_on_selector("#mounts", "nav => nav.hidden"),
    }
    start_playing(page)
    page.wait_for_function(f"() => {PLAYER}.currentTime > 0.3")
    result["playing_title"], result["playing_artist"] = page.evaluate(NOW_PLAYING)
    page.wait_for_function("() => document.getElementById('player').currentTime > 1.5")
    result["current_time"] = page.eval_on_selector("#player", "audio => audio.currentTime")
    result["paused"] = page.eval_on_selector("#player", "audio => audio.paused")
    page.wait_for_function(f"title => {TITLE} !== title", arg=result["playing_title"])
    result["second_title"], result["second_artist"] = page.evaluate(NOW_PLAYING)
    # The track that was up next is on, and the one after it up next.
    expected = f"Up next: {result['playing_artist']} \u2013 {result['playing_title']}"
    page.wait_for_function(f"text => {NEXT_UP}.textContent === text", arg=expected)
    result["second_next"] = page.text_content("#next-up")
    result["next_below_title"] = page.evaluate(
        f"() => document.getElementById('now-title').compareDocumentPosition({NEXT_UP})"
        " & Node.DOCUMENT_POSITION_FOLLOWING"
    )
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
    result["hls_list"] = page.evaluate("() => fetch('/web/hls.json').then(r => r.json())")
    result["requests"] = list(requests)
    return result


def listen_to_hls(page: Any, errors: list[str], base: str) -> dict[str, Any]:
    """
    Load the page of a mount served as HLS, play it for a few seconds, and
    wait for the title to change.
    """
    requests = record_requests(page)
    page.goto(base + "/")
    page.wait_for_function(f"() => {TITLE} !== 'Connecting…'")
    result = play_for(page, 4)
    result["hls_version"] = page.evaluate("() => window.Hls && window.Hls.version")
    page.wait_for_function(f"() => ({CUE_TITLES})().length > 0")
    result["cue_titles"] = page.evaluate(CUE_TITLES)
    result["title"], result["artist"] = page.evaluate(NOW_PLAYING)
    page.wait_for_function(f"title => {TITLE} !== title", arg=result["title"])
    result["next_title"], result["next_artist"] = page.evaluate(NOW_PLAYING)
    result["listeners"] = page.text_content("#listener-count")
    result["hls_list"] = page.evaluate("() => fetch('/web/hls.json').then(r => r.json())")
    result["requests"] = list(requests)
    return result


# What the player plays, as the page's listener hears it: its audio is
# taken through Web Audio, and each block of 2048 samples is timed by the
# audio clock (the output time of the block, mapped to the page's clock,
# so that the output latency counts) and its tone measured by counting
# zero crossings.  The title is timed as it changes in the document.
# Times are in milliseconds of the page's clock (performance.now()).
LISTEN = """
() => {
  const player = document.getElementById('player');
  const title = document.getElementById('now-title');
  const probe = {
    origin: performance.timeOrigin,
    titles: [[performance.now(), title.textContent]],
    blocks: []
  };
  window.probe = probe;
  new MutationObserver(() => {
    const text = title.textContent;
    if (text !== probe.titles[probe.titles.length - 1][1]) {
      probe.titles.push([performance.now(), text]);
    }
  }).observe(title, { childList: true, characterData: true, subtree: true });
  const context = new AudioContext();
  const node = context.createScriptProcessor(2048, 1, 1);
  let last = 0;
  node.onaudioprocess = (event) => {
    const samples = event.inputBuffer.getChannelData(0);
    let crossings = 0;
    let energy = 0;
    for (let i = 0; i < samples.length; i += 1) {
      const sample = samples[i];
      if ((sample >= 0) !== (last >= 0)) {
        crossings += 1;
      }
      last = sample;
      energy += sample * sample;
    }
    const seconds = samples.length / context.sampleRate;
    const stamp = context.getOutputTimestamp();
    if (!stamp.performanceTime) {
      return;
    }
    // The input block came in one block before the output block that
    // plays at playbackTime.
    const played = event.playbackTime - 2 * seconds;
    const start = stamp.performanceTime + (played - stamp.contextTime) * 1000;
    const loud = Math.sqrt(energy / samples.length) > 0.01;
    probe.blocks.push([start, start + seconds * 1000, loud ? crossings / 2 / seconds : 0]);
  };
  context.createMediaElementSource(player).connect(node).connect(context.destination);
  return context.resume();
}
"""
TONES = {"First Song": 440.0, "Second Song": 660.0}
"""
The tone of each fixture song, in Hz.
"""
LISTEN_SECONDS = 10.5
"""
Seconds of audio to listen to: three changes of track at least.
"""
LONG_BURST = 160 * 1024
"""
A burst of 10.24 seconds at the fixtures' 128 kbit/s: longer than a
browser takes to start and open the page, however loaded the machine, and
shorter than L{listen_twice} listens the first time.
"""
SAME_TIME_MS = 500.0
"""
How close to the change of audio the change of title must come.
"""
SHORTEST_RUN_MS = 300.0
"""
A tone heard for less than this is a glitch (a player that waited for
data may repeat a few milliseconds), not a track.
"""

_log = Logger()


def listen_closely(page: Any, base: str) -> dict[str, Any]:
    """
    Load the page, play it through L{LISTEN} for L{LISTEN_SECONDS} of
    audio, and return what was heard and shown: the page's clock origin
    (C{origin}, Unix milliseconds), the title changes (C{titles}, time and
    text), the blocks of audio (C{blocks}, start, end, frequency or 0 for
    silence), the C{listener_delay} the status API gave as it started, and
    when it asked to play (C{asked}, Unix time).
    """
    page.goto(base + "/")
    page.wait_for_function(f"() => {TITLE} !== 'Connecting…'")
    page.wait_for_function(f"() => Boolean({PLAYER}.dataset.player)")
    page.evaluate(LISTEN)
    asked = page.evaluate("() => Date.now() / 1000")
    start_playing(page)
    start = page.evaluate(f"() => {PLAYER}.currentTime")
    delay = page.evaluate(
        "() => fetch('/api/v1/status?mount=/stream')"
        ".then(response => response.json()).then(status => status.mounts[0].listener_delay)"
    )
    page.wait_for_function(
        f"start => {PLAYER}.currentTime > start + {LISTEN_SECONDS}",
        arg=start,
        timeout=3 * WAIT_MS,
        polling=200,
    )
    heard: dict[str, Any] = page.evaluate("() => window.probe")
    heard["listener_delay"] = delay
    heard["asked"] = asked
    heard["player"] = page.evaluate(f"() => {PLAYER}.dataset.player")
    return heard


def listen_once(page: Any, errors: list[str], base: str) -> dict[str, Any]:
    """
    Listen closely (see L{listen_closely}) to a station that has just
    started.
    """
    return {"heard": listen_closely(page, base)}


def listen_twice(page: Any, errors: list[str], base: str) -> dict[str, Any]:
    """
    Listen closely (see L{listen_closely}) to a station that has just
    started, and so holds less audio than a burst (of L{LONG_BURST}), then
    again once it has aired more than a burst.
    """
    return {"fresh": listen_closely(page, base), "settled": listen_closely(page, base)}


@dataclass(frozen=True)
class Run:
    """
    A stretch of audio of one tone, in milliseconds of the page's clock.

    @ivar title: the title of the song of that tone.
    """

    title: str
    start: float
    end: float


@dataclass(frozen=True)
class Change:
    """
    Where the audio changed from one song to the next: between the end of
    the last block of the one and the start of the first of the other.
    """

    title: str
    after: float
    before: float

    @property
    def middle(self) -> float:
        """
        The best guess of the moment.
        """
        return (self.after + self.before) / 2

    @property
    def uncertainty(self) -> float:
        """
        How far the moment may be from L{middle}.
        """
        return (self.before - self.after) / 2


def tone_title(frequency: float) -> str | None:
    """
    The song whose tone C{frequency} is, if any.
    """
    for title, tone in TONES.items():
        if abs(frequency - tone) < 60:
            return title
    return None


def audio_runs(blocks: Sequence[Sequence[float]]) -> list[Run]:
    """
    The stretches of one tone in the blocks heard, glitches left out.
    """

    def joined(runs: Sequence[Run]) -> list[Run]:
        merged: list[Run] = []
        for run in runs:
            if merged and merged[-1].title == run.title:
                merged[-1] = Run(run.title, merged[-1].start, run.end)
            else:
                merged.append(run)
        return merged

    toned = []
    for start, end, frequency in sorted(blocks, key=lambda block: block[0]):
        title = tone_title(frequency)
        if title is not None:
            toned.append(Run(title, start, end))
    return joined([run for run in joined(toned) if run.end - run.start >= SHORTEST_RUN_MS])


def audio_changes(runs: Sequence[Run]) -> list[Change]:
    """
    The changes of song between consecutive runs.
    """
    return [Change(now.title, before.end, now.start) for before, now in pairwise(runs)]


@dataclass
class Head:
    """
    What happened at the head of a mount's stream, as it happened.

    @ivar tracks: the clock time each track reached it, and its title.
    @ivar joined: the clock time each listener joined, and the burst it
        was sent, in bytes.
    """

    tracks: list[tuple[float, str]] = field(default_factory=list)
    joined: list[tuple[float, int]] = field(default_factory=list)

    def burst(self, since: float) -> float:
        """
        The burst, in seconds at the fixtures' 128 kbit/s, of the first
        listener that joined after clock time C{since}.
        """
        return next(size for when, size in self.joined if when >= since) / 16000

    def behind(self, heard: dict[str, Any], expected: float = 0.0) -> list[float]:
        """
        How many seconds after it reached the head each change of song
        was heard (see L{listen_closely}).  The songs take turns, so that
        each reached the head every other track: the time taken is the
        one closest to C{expected} seconds, of those before it was heard.
        """
        delays = []
        for change in audio_changes(audio_runs(heard["blocks"])):
            heard_at = (heard["origin"] + change.middle) / 1000
            before = [
                heard_at - when
                for when, title in self.tracks
                if title == change.title and when < heard_at
            ]
            delays.append(min(before, key=lambda delay: abs(delay - expected)))
        return delays


def watch_head(mount: Mount) -> Head:
    """
    Follow the head of C{mount}'s stream from now on.
    """
    head = Head()
    mount.on_track_change.append(lambda track: head.tracks.append((reactor.seconds(), track.title)))
    mount.on_listener_joined.append(
        lambda listener: head.joined.append(
            (reactor.seconds(), mount.buffer.head - listener.position)
        )
    )
    return head


def title_at(titles: Sequence[Sequence[Any]], moment: float) -> str:
    """
    The title shown at C{moment}.
    """
    shown = ""
    for when, text in titles:
        if when > moment:
            break
        shown = text
    return str(shown)


ART = "document.getElementById('now-art')"


def see_covers(page: Any, errors: list[str], base: str) -> dict[str, Any]:
    """
    Load the page, wait for the cover of the track playing to show, then
    for the next track's.
    """
    page.goto(base + "/")
    page.wait_for_function(f"() => !{ART}.hidden && {ART}.complete && {ART}.naturalWidth > 0")

    def seen() -> dict[str, Any]:
        return {
            "title": page.text_content("#now-title"),
            "src": page.evaluate(f"() => {ART}.getAttribute('src')"),
            "loaded": page.evaluate(f"() => [{ART}.currentSrc, {ART}.naturalWidth]"),
            "beside": page.evaluate(
                f"() => {ART}.getBoundingClientRect().right"
                " <= document.getElementById('now-title').getBoundingClientRect().left"
            ),
        }

    first = seen()
    page.wait_for_function(f"title => {TITLE} !== title", arg=first["title"])
    page.wait_for_function(
        f"src => !{ART}.hidden && {ART}.getAttribute('src') !== src"
        f" && {ART}.complete && {ART}.naturalWidth > 0",
        arg=first["src"],
    )
    return {"first": first, "second": seen()}


def snapshot(title: str) -> str:
    """
    An event stream that sends one C{snapshot} of mount C{/stream} playing
    C{title}, and asks to be reconnected only after a minute.
    """
    track = {
        "title": title,
        "artist": "Not An Artist",
        "album": "",
        "duration": 0,
        "stream_title": title,
        "live": False,
        "started": time.time(),
    }
    data = {
        "mount": "/stream",
        "station": {"name": "Web FM", "description": "", "genre": "", "url": ""},
        "now_playing": track,
        "listeners": 0,
        "recent": [],
        "mounts": [{"name": "/stream", "station": "Web FM"}],
        "stream": "/stream",
        "m3u": "/stream.m3u",
        "pls": "/stream.pls",
        "time": time.time(),
    }
    return f"retry: 60000\nevent: snapshot\ndata: {json.dumps(data)}\n\n"


def title_from_tags(page: Any, errors: list[str], base: str) -> dict[str, Any]:
    """
    Load the page of a mount served as HLS with its event stream replaced
    by one that names another title, play it, and see the title of the
    ID3 tags replace that one.
    """
    page.route(
        f"**{EVENTS_PATH}*",
        lambda route: route.fulfill(
            status=200, content_type="text/event-stream", body=snapshot("Not From The Audio")
        ),
    )
    page.goto(base + "/")
    page.wait_for_function(f"() => {TITLE} !== 'Connecting…'")
    result: dict[str, Any] = {"first_title": page.text_content("#now-title")}
    start_playing(page)
    page.wait_for_function(f"() => {TITLE} !== 'Not From The Audio'")
    result["title"], result["artist"] = page.evaluate(NOW_PLAYING)
    result["document_title"] = page.title()
    return result


def fall_back(page: Any, errors: list[str], base: str) -> dict[str, Any]:
    """
    Load the page of a mount served as HLS twice, hls.js failing each time
    (its script empty, then its playlist not found), and play what the
    page falls back to.
    """
    requests = record_requests(page)
    page.route(
        f"**{HLS_SCRIPT_PATH}",
        lambda route: route.fulfill(status=200, content_type="text/javascript", body=""),
    )
    with page.expect_response(f"**{HLS_SCRIPT_PATH}"):
        page.goto(base + "/")
    page.wait_for_function(f"() => {TITLE} !== 'Connecting…'")
    result: dict[str, Any] = {"empty_script": play_for(page, 1.5)}
    result["empty_script"]["hls"] = page.evaluate("() => typeof window.Hls")
    page.unroute(f"**{HLS_SCRIPT_PATH}")
    page.route(
        "**/hls/stream/index.m3u8",
        lambda route: route.fulfill(status=404, content_type="text/plain", body="Not found"),
    )
    # hls.js, attached to the player (its source a blob:), asks for the
    # playlist before any play; once that has failed, the page falls back.
    with page.expect_response("**/hls/stream/index.m3u8"):
        page.goto(base + "/")
    page.wait_for_function(f"() => {PLAYER}.src.endsWith('/stream')")
    result["no_playlist"] = play_for(page, 1.5)
    result["no_playlist"]["hls"] = page.evaluate("() => typeof window.Hls")
    result["requests"] = list(requests)
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

    async def start_station(
        self, *names: str, hls: bool = False, art: bool = False, burst_size: int = 64 * 1024
    ) -> tuple[StationService, str]:
        """
        Start a station whose mounts play the two fixture songs (about
        three seconds each) in turn, on a free loopback port.

        @param hls: whether the mounts are served as HLS too (in segments
            of 2 seconds, parts of half a second).
        @param art: whether the first song has a picture of its own and
            the second the folder's (their art ids in L{covers}, by title).
        @param burst_size: the mounts' burst, in bytes.
        @return: the service and the station's base URL.
        """
        music = self.mktemp()
        os.makedirs(music)
        for name in ("alpha-artist-first-song.mp3", "beta-artist-second-song.mp3"):
            shutil.copy(os.path.join(FIXTURES, name), music)
        if art:
            own = make_picture("PNG", (600, 600), (220, 40, 40))
            folder = make_picture("JPEG", (600, 600), (40, 40, 220))
            add_apic(os.path.join(music, "alpha-artist-first-song.mp3"), own)
            write(os.path.join(music, "cover.jpg"), folder)
            self.covers = {"First Song": art_id(own), "Second Song": art_id(folder)}
        mounts = tuple(
            MountConfig(
                name=name,
                music=music,
                station_name=station,
                hls=hls,
                hls_segment=2.0,
                hls_part=0.5,
                burst_size=burst_size,
            )
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
        and the current title with its artist, the track up next under
        it, and links to the playlists; its player really plays the
        stream (its time advances); and the title changes, without a
        reload, when the track played changes, the previous track moving
        to the recently played list and the track up next following.
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
        self.assertIn(seen["playing_title"], TITLES)
        self.assertIn(seen["second_title"], TITLES)
        self.assertNotEqual(seen["second_title"], seen["playing_title"])
        self.assertIn(seen["second_artist"], ("Alpha Artist", "Beta Artist"))
        # Up next, under the title: the other song (the songs take turns),
        # then, once it plays, the one before it again.
        other = TITLES - {seen["first_title"]}
        self.assertEqual(seen["first_next"].split(" \u2013 ")[-1], other.pop())
        playing = f"{seen['playing_artist']} \u2013 {seen['playing_title']}"
        self.assertEqual(seen["second_next"], f"Up next: {playing}")
        self.assertTrue(seen["next_below_title"])
        self.assertIn(playing, seen["recent"])
        self.assertEqual(seen["listeners"], "1")
        self.assertIn("Web FM", seen["document_title"])
        self.assertLessEqual(seen["overflow"], 0)
        # Not served as HLS: hls.js is not even loaded.
        self.assertEqual(seen["hls_list"], {})
        self.assertIn("/web/hls.json", seen["requests"])
        self.assertNotIn(HLS_SCRIPT_PATH, seen["requests"])
        self.assertFalse([path for path in seen["requests"] if path.startswith("/hls/")])

    @asynchronous
    async def test_title_when_heard(self) -> None:
        """
        Over ICY, the title changes when the audio the page plays changes
        track (within L{SAME_TIME_MS}, as heard through Web Audio), not
        when the track reaches the head of the stream, seconds before
        (its burst, and the player's own buffering): with a burst shorter
        than configured (a station that just started) and with a full
        one.  While a song plays, its title is shown, and the title
        changes at no other time.
        """
        service, base = await self.start_station("/stream", burst_size=LONG_BURST)
        head = watch_head(service.mounts["/stream"])
        seen = await self.in_browser(service, listen_twice, base)
        self.assertEqual(seen["errors"], [])
        full = LONG_BURST / 16000
        for phase in ("fresh", "settled"):
            heard = seen[phase]
            self.assertEqual(heard["player"], "icy", phase)
            burst = head.burst(heard["asked"])
            if phase == "fresh":
                self.assertLess(burst, full - 1)
            else:
                self.assertGreater(burst, full - 0.3)
                self.assertEqual(heard["listener_delay"], round(full, 1))
            # The audio comes a burst after the head at least.
            behind = head.behind(heard, burst)
            for delay in behind:
                self.assertGreater(delay, burst - 0.2, (phase, behind))
            self.check_titles_heard(phase, heard, behind)

    @asynchronous
    async def test_title_when_heard_over_hls(self) -> None:
        """
        Over HLS (hls.js), too, the title changes when the audio changes
        track, within L{SAME_TIME_MS}, although tracks change within
        segments.
        """
        service, base = await self.start_station("/stream", hls=True)
        head = watch_head(service.mounts["/stream"])
        seen = await self.in_browser(service, listen_once, base)
        self.assertEqual(seen["errors"], [])
        self.assertEqual(seen["heard"]["player"], "hls.js")
        self.check_titles_heard("HLS", seen["heard"], head.behind(seen["heard"]))

    def check_titles_heard(self, phase: str, heard: dict[str, Any], behind: list[float]) -> None:
        """
        Check that the titles followed the audio heard (see
        L{listen_closely}): each change of song has its title within
        L{SAME_TIME_MS}, however uncertain the moment of the change; the
        song heard has its title shown; and no other change of title came
        once the audio began.  Log how far from the audio the titles
        changed, and how far C{behind} the head the audio was.
        """
        titles = heard["titles"]
        runs = audio_runs(heard["blocks"])
        changes = audio_changes(runs)
        self.assertGreaterEqual(len(changes), 3, (phase, runs))
        offsets = []
        for change in changes:
            shown = [when for when, text in titles if text == change.title]
            self.assertTrue(shown, (phase, change))
            nearest = min(shown, key=lambda when: abs(when - change.middle))
            offset = nearest - change.middle
            self.assertLessEqual(abs(offset) + change.uncertainty, SAME_TIME_MS, (phase, change))
            offsets.append(round(offset))
        for when, text in titles:
            if when > runs[0].start + SAME_TIME_MS:
                self.assertTrue(
                    any(abs(when - change.middle) <= SAME_TIME_MS for change in changes),
                    (phase, when, text, changes),
                )
        for run in runs:
            for moment in (run.start + SAME_TIME_MS, run.end - SAME_TIME_MS):
                if run.start + SAME_TIME_MS <= moment <= run.end - SAME_TIME_MS:
                    self.assertEqual(title_at(titles, moment), run.title, (phase, run, moment))
        _log.info(
            "Titles {phase}: changed {offsets} ms after the audio, which was {behind} s"
            " behind the head (listener_delay {delay} s)",
            phase=phase,
            offsets=offsets,
            behind=[round(delay, 2) for delay in behind],
            delay=heard["listener_delay"],
        )

    @asynchronous
    async def test_cover_art(self) -> None:
        """
        The cover art of the track playing shows beside its title, scaled
        by the station to the size the page asks for, and changes with the
        track.
        """
        service, base = await self.start_station("/stream", art=True)
        seen = await self.in_browser(service, see_covers, base)
        self.assertEqual(seen["errors"], [])
        for shown in (seen["first"], seen["second"]):
            cover = f"/art/{self.covers[shown['title']]}?size=256"
            self.assertEqual(shown["src"], cover)
            self.assertEqual(shown["loaded"], [base + cover, 256])
            self.assertTrue(shown["beside"])
        self.assertNotEqual(seen["first"]["title"], seen["second"]["title"])

    @asynchronous
    async def test_plays_hls(self) -> None:
        """
        A mount served as HLS is played as HLS: Chromium loads hls.js,
        which plays the mount's segments through Media Source Extensions
        (a C{blob:} source), never the ICY stream; the ID3 tags of the
        segments become cues of a metadata track; and the title changes
        with the tracks, as without HLS.
        """
        service, base = await self.start_station("/stream", hls=True)
        seen = await self.in_browser(service, listen_to_hls, base)
        self.assertEqual(seen["errors"], [])
        self.assertEqual(seen["hls_list"], {"/stream": "/hls/stream/index.m3u8"})
        self.assertEqual(seen["hls_version"], HLS_SCRIPT_VERSION)
        self.assertIn(HLS_SCRIPT_PATH, seen["requests"])
        self.assertIn("/hls/stream/index.m3u8", seen["requests"])
        self.assertTrue([path for path in seen["requests"] if SEGMENT.search(path)])
        self.assertNotIn("/stream", seen["requests"])
        self.assertTrue(seen["current_src"].startswith("blob:"), seen["current_src"])
        self.assertGreater(seen["current_time"], seen["start"] + 4)
        self.assertFalse(seen["paused"])
        self.assertTrue(set(seen["cue_titles"]) <= TITLES, seen["cue_titles"])
        self.assertIn(seen["title"], TITLES)
        self.assertIn(seen["artist"], ARTISTS)
        self.assertIn(seen["next_title"], TITLES)
        self.assertNotEqual(seen["next_title"], seen["title"])

    @asynchronous
    async def test_title_from_tags(self) -> None:
        """
        While HLS plays, the title shown is the one the ID3 tags of the
        audio name, whatever the event stream says.
        """
        service, base = await self.start_station("/stream", hls=True)
        seen = await self.in_browser(service, title_from_tags, base)
        self.assertEqual(seen["errors"], [])
        self.assertEqual(seen["first_title"], "Not From The Audio")
        self.assertIn(seen["title"], TITLES)
        self.assertIn(seen["artist"], ARTISTS)
        self.assertIn(seen["title"], seen["document_title"])

    @asynchronous
    async def test_falls_back_to_icy(self) -> None:
        """
        Where hls.js cannot play (its script does nothing, or the playlist
        is not found), the page plays the ICY stream instead.
        """
        service, base = await self.start_station("/stream", hls=True)
        seen = await self.in_browser(service, fall_back, base)
        for attempt in ("empty_script", "no_playlist"):
            played = seen[attempt]
            self.assertEqual(played["current_src"], base + "/stream", attempt)
            self.assertGreater(played["current_time"], played["start"] + 1.5, attempt)
            self.assertFalse(played["paused"], attempt)
        self.assertEqual(seen["empty_script"]["hls"], "undefined")
        self.assertEqual(seen["no_playlist"]["hls"], "function")
        self.assertEqual(seen["requests"].count(HLS_SCRIPT_PATH), 2)
        self.assertFalse([path for path in seen["requests"] if SEGMENT.search(path)])
        # The errors are the playlist's 404, which Chromium reports.
        self.assertTrue(seen["errors"])
        for error in seen["errors"]:
            self.assertIn("404", error)

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


class VendoredHlsTests(SynchronousTestCase):
    """
    The vendored hls.js is the published file, shipped with its licence.
    """

    def test_published_file(self) -> None:
        """
        L{HLS_SCRIPT} is the file whose SHA-256 L{HLS_SCRIPT_SHA256} records,
        and its licence is beside it.
        """
        static = resources.files("radiod.web.static")
        body = (static / HLS_SCRIPT).read_bytes()
        self.assertEqual(hashlib.sha256(body).hexdigest(), HLS_SCRIPT_SHA256)
        self.assertIn("Apache License", (static / "hls.js.LICENSE").read_text("utf-8"))
