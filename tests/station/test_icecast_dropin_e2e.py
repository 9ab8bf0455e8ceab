"""
End to end: C{twistd radiod --icecast-config icecast.xml}, as an Icecast
operator switches, with the Icecast features the file asks for: listener
authentication by URL against a real HTTP server, an intro from the
webroot, a dump file, Icecast's error and playlist logs, and an alias;
ffmpeg as the listener, logging in when asked.
"""

from __future__ import annotations

import os
import re
import shutil
from typing import Any

from twisted.internet import reactor as _reactor
from twisted.internet.endpoints import TCP4ClientEndpoint, connectProtocol
from twisted.internet.task import deferLater
from twisted.trial.unittest import TestCase
from twisted.web.server import Site

from radiod.broadcast.intro import read_intro
from tests.ingest.test_live_e2e import run
from tests.ingest.test_source import auth
from tests.station.test_mountauth import AuthServer
from tests.station.test_signals import PATIENCE, free_port, twistd
from tests.support.loopback import (
    FIXTURES,
    Reader,
    asynchronous,
    decoded_seconds,
    run_ffmpeg,
    wait_for,
)
from tests.support.tools import require_ffmpeg

reactor: Any = _reactor

ICECAST_XML = """<icecast>
    <location>Studio 4, Lyon</location>
    <admin>ops@radio.example.org</admin>
    <hostname>radio.example.org</hostname>
    <limits><clients>50</clients></limits>
    <authentication>
        <source-password>dropin-source</source-password>
        <admin-password>dropin-admin</admin-password>
    </authentication>
    <listen-socket>
        <port>{port}</port>
        <bind-address>127.0.0.1</bind-address>
    </listen-socket>
    <mount>
        <mount-name>/stream</mount-name>
        <intro>/intro.mp3</intro>
        <dump-file>{folder}/dumps/stream-%Y%m%d.mp3</dump-file>
        <authentication type="url">
            <option name="listener_add" value="{auth}/listener"/>
            <option name="listener_remove" value="{auth}/listener"/>
        </authentication>
    </mount>
    <paths>
        <logdir>{folder}/logs</logdir>
        <webroot>{folder}/web</webroot>
        <alias source="/" destination="/status-json.xsl"/>
    </paths>
    <logging>
        <accesslog>access.log</accesslog>
        <errorlog>error.log</errorlog>
        <playlistlog>playlist.log</playlistlog>
        <loglevel>3</loglevel>
    </logging>
</icecast>
"""

ENTRY = re.compile(r"\[\d{4}-\d\d-\d\d  \d\d:\d\d:\d\d\] (EROR|WARN|INFO|DBUG) [\w.-]+/[\w.-]+ ")


class DropInTests(TestCase):
    """
    radiod started from an Icecast configuration behaves as the Icecast
    it replaces.
    """

    timeout = 240

    @asynchronous
    async def test_icecast_features(self) -> None:
        """
        A listener without a login is refused with C{401}; ffmpeg, given
        Alice's login in its URL, logs in when asked and plays the mount
        (the audio decodes); a listener hears the intro first, then the
        music; the mount's audio is dumped to a file that decodes; the
        error log has Icecast's shape and the playlist log a line per
        track; C{/} answers as C{/status-json.xsl}, with the location.
        """
        require_ffmpeg()
        folder = os.path.abspath(str(self.mktemp()))
        for name in ("music", "web", "logs"):
            os.makedirs(os.path.join(folder, name))
        shutil.copy(os.path.join(FIXTURES, "alpha-artist-first-song.mp3"), f"{folder}/music")
        shutil.copy(os.path.join(FIXTURES, "beta-artist-second-song.mp3"), f"{folder}/music")
        intro_file = os.path.join(folder, "web", "intro.mp3")
        shutil.copy(os.path.join(FIXTURES, "tone-mpeg1-44100-128k-cbr.mp3"), intro_file)
        server = AuthServer()
        listening = reactor.listenTCP(0, Site(server), interface="127.0.0.1")
        self.addCleanup(listening.stopListening)
        port = free_port()
        xml = os.path.join(folder, "icecast.xml")
        with open(xml, "w", encoding="utf-8") as f:
            f.write(
                ICECAST_XML.format(
                    port=port,
                    folder=folder,
                    auth=f"http://127.0.0.1:{listening.getHost().port}",
                )
            )
        station, process = twistd(
            folder, "--icecast-config", xml, "--music", f"{folder}/music", "--state-dir", "state"
        )

        def stop() -> Any:
            if not station.ended.called:
                process.signalProcess("TERM")
            return station.ended

        self.addCleanup(stop)

        async def connect(request: bytes) -> Reader:
            reader = Reader(request, reactor)
            deadline = reactor.seconds() + PATIENCE
            while True:
                try:
                    await connectProtocol(TCP4ClientEndpoint(reactor, "127.0.0.1", port), reader)
                    break
                except Exception:
                    if reactor.seconds() > deadline or station.ended.called:
                        raise AssertionError(station.output.decode("utf-8", "replace")) from None
                    await deferLater(reactor, 0.2, lambda: None)
            self.addCleanup(lambda: reader.transport.loseConnection() if reader.transport else None)
            return reader

        stranger = await connect(b"GET /stream HTTP/1.0\r\n\r\n")
        await stranger.gone
        self.assertEqual(stranger.capture.status_line, "HTTP/1.0 401 Unauthorized")

        alice = await connect(b"GET /stream HTTP/1.0\r\n" + auth("alice", "wonder") + b"\r\n")
        intro = read_intro(intro_file).data
        await wait_for(lambda: len(alice.capture.audio) > len(intro) + 20000, PATIENCE, reactor)
        heard = bytes(alice.capture.audio)
        self.assertEqual(heard[: len(intro)], intro)

        code, log = await run_ffmpeg(f"http://alice:wonder@127.0.0.1:{port}/stream", 4)
        self.assertEqual(code, 0, log)
        self.assertGreater(decoded_seconds(log), 3.5, log)
        actions = [form["action"] for form in server.forms]
        self.assertGreaterEqual(actions.count("listener_add"), 3)
        await wait_for(lambda: "listener_remove" in server.actions(), PATIENCE, reactor)

        status = await connect(b"GET / HTTP/1.0\r\n\r\n")
        await status.gone
        self.assertEqual(status.capture.status_line, "HTTP/1.0 200 OK")
        self.assertIn(b"Studio 4, Lyon", bytes(status.capture.audio))

        dumps = os.path.join(folder, "dumps")
        await wait_for(lambda: os.path.isdir(dumps) and bool(os.listdir(dumps)), PATIENCE, reactor)
        [dumped] = os.listdir(dumps)
        self.assertTrue(re.fullmatch(r"stream-\d{8}\.mp3", dumped), dumped)
        await wait_for(lambda: os.path.getsize(f"{dumps}/{dumped}") > 50000, PATIENCE, reactor)
        code, log = await run(
            [
                "-hide_banner",
                "-nostdin",
                "-v",
                "error",
                "-i",
                f"{dumps}/{dumped}",
                "-f",
                "null",
                "-",
            ]
        )
        self.assertEqual((code, log), (0, ""))

        await wait_for(
            lambda: (
                os.path.exists(f"{folder}/logs/playlist.log")
                and bool(open(f"{folder}/logs/playlist.log").read())
            ),
            PATIENCE,
            reactor,
        )
        with open(f"{folder}/logs/playlist.log") as f:
            self.assertRegex(
                f.readline().rstrip("\n"),
                r"\|/stream\|\d+\|(Alpha Artist - First Song|Beta Artist - Second Song)$",
            )
        with open(f"{folder}/logs/error.log") as f:
            entries = f.read().splitlines()
        self.assertTrue(entries)
        for entry in entries:
            if not entry.startswith("\t"):
                self.assertRegex(entry, ENTRY)
        self.assertTrue([e for e in entries if " INFO " in e and "/stream" in e], entries)
        self.assertTrue(os.path.exists(f"{folder}/logs/access.log"))
