"""
End-to-end test of a live source with the real ezstream (libshout): the
station on a loopback port, ezstream streaming an MP3 file to it over the
Icecast protocol, and a raw socket listening throughout.
"""

from __future__ import annotations

import os
import shutil
from typing import Any
from xml.sax.saxutils import escape

from twisted.internet import reactor as _reactor
from twisted.internet.defer import Deferred
from twisted.internet.endpoints import TCP4ClientEndpoint, connectProtocol
from twisted.internet.interfaces import IReactorCore, IReactorProcess
from twisted.internet.protocol import ProcessProtocol
from twisted.python.failure import Failure
from twisted.trial.unittest import TestCase

from radiod.config import MountConfig, StationConfig
from radiod.runner import thread_runner
from radiod.station.service import StationService
from tests.support.loopback import FIRST, FIXTURES, SECOND, Reader, asynchronous, wait_for
from tests.support.tools import require_tool

reactor: Any = _reactor

PASSWORD = "ez-s3cret"
STREAM_NAME = "Ezstream Live"
LIVE_FILE = os.path.join(FIXTURES, "alpha-artist-first-song.mp3")
PLAYLIST_FILE = os.path.join(FIXTURES, "beta-artist-second-song.mp3")


def ezstream_config(port: int, mount: str, password: str, filename: str) -> str:
    """
    An ezstream 1.0 configuration that streams C{filename} as-is (MP3,
    paced by libshout), over and over, to C{mount} on 127.0.0.1:C{port}
    with plain HTTP and no TLS.
    """
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<ezstream>
  <servers>
    <server>
      <protocol>HTTP</protocol>
      <hostname>127.0.0.1</hostname>
      <port>{port}</port>
      <user>source</user>
      <password>{escape(password)}</password>
      <tls>None</tls>
      <reconnect_attempts>1</reconnect_attempts>
    </server>
  </servers>
  <streams>
    <stream>
      <mountpoint>{escape(mount)}</mountpoint>
      <format>MP3</format>
      <stream_name>{escape(STREAM_NAME)}</stream_name>
      <stream_genre>Test</stream_genre>
      <stream_bitrate>128</stream_bitrate>
    </stream>
  </streams>
  <intakes>
    <intake>
      <type>file</type>
      <filename>{escape(filename)}</filename>
      <stream_once>0</stream_once>
    </intake>
  </intakes>
</ezstream>
"""


class Ezstream(ProcessProtocol):
    """
    Collects an ezstream run's output and tells when it has ended.
    """

    def __init__(self) -> None:
        self.output = b""
        self.ended: Deferred[None] = Deferred()

    def outReceived(self, data: bytes) -> None:
        self.output += data

    def errReceived(self, data: bytes) -> None:
        self.output += data

    def processEnded(self, reason: Failure) -> None:
        self.ended.callback(None)


class EzstreamTests(TestCase):
    """
    ezstream as a live source on a playlist mount.
    """

    timeout = 60

    def setUp(self) -> None:
        self.ezstream = require_tool(
            "ezstream", shutil.which("ezstream"), "apt-get install ezstream"
        )

    @asynchronous
    async def test_ezstream_takes_over_and_leaves(self) -> None:
        """
        ezstream (libshout: an unauthenticated probe, then the real request
        with the source password) takes over a playlist mount: a listener
        connected throughout gets the playlist's title, then the title of
        the file ezstream streams (which ezstream sends as C{artist=} and
        C{title=} in an C{/admin/metadata} update), and live audio; when ezstream is killed
        the listener stays connected and the playlist's title comes back.
        """
        music = self.mktemp()
        os.makedirs(music)
        shutil.copy(PLAYLIST_FILE, music)
        mount_config = MountConfig(
            name="/stream", music=music, station_name="E2E FM", metaint=2000, burst_size=0
        )
        config = StationConfig(
            port=0, interface="127.0.0.1", mounts=(mount_config,), source_password=PASSWORD
        )
        core: IReactorCore = reactor
        service = StationService(config, reactor, thread_runner(core, reactor.getThreadPool()))
        service.startService()
        self.addCleanup(service.stopService)
        port = (await service.listener.listening).getHost().port  # type: ignore[attr-defined]
        mount = service.mounts["/stream"]
        sources = service.factory.sources
        assert sources is not None

        reader = Reader(b"GET /stream HTTP/1.0\r\nIcy-MetaData: 1\r\n\r\n", reactor)
        await connectProtocol(TCP4ClientEndpoint(reactor, "127.0.0.1", port), reader)
        self.addCleanup(lambda: reader.transport.loseConnection() if reader.transport else None)
        await wait_for(lambda: len(reader.capture.titles) >= 1, 10, reactor)
        self.assertEqual(reader.capture.titles[0][1], SECOND)

        folder = self.mktemp()
        os.makedirs(folder)
        path = os.path.join(folder, "ezstream.xml")
        with open(path, "w", encoding="utf-8") as f:
            f.write(ezstream_config(port, "/stream", PASSWORD, LIVE_FILE))
        os.chmod(path, 0o600)
        protocol = Ezstream()
        process: IReactorProcess = reactor
        transport = process.spawnProcess(
            protocol, self.ezstream, [self.ezstream, "-v", "-c", path], env=os.environ.copy()
        )

        def kill() -> Deferred[None]:
            if not protocol.ended.called:
                transport.signalProcess("KILL")
            return protocol.ended

        self.addCleanup(kill)

        def titles() -> list[str]:
            return [title for _, title in reader.capture.titles]

        def log() -> str:
            return protocol.output.decode("utf-8", "replace")

        await wait_for(lambda: "/stream" in sources.connected, 10, reactor)
        source = sources.connected["/stream"]
        self.assertEqual(source.info.name, STREAM_NAME)
        await wait_for(lambda: FIRST in titles(), 10, reactor)
        at_live = len(reader.capture.audio)
        await wait_for(lambda: source.received > 48000, 10, reactor)
        self.assertFalse(protocol.ended.called, log())

        await kill()
        await wait_for(lambda: "/stream" not in sources.connected, 5, reactor)
        await wait_for(lambda: titles()[-1] == SECOND, 15, reactor)

        seen = titles()
        self.assertEqual(seen[0], SECOND)
        live_at = seen.index(FIRST)
        # Before ezstream's update reaches the air, the live audio may be
        # announced by its stream name; nothing else comes in between.
        self.assertLessEqual(set(seen[1:live_at]), {STREAM_NAME}, seen)
        self.assertEqual(seen[live_at + 1 :], [SECOND], seen)
        self.assertFalse(reader.gone.called)
        self.assertEqual(len(mount.listeners), 1)
        # About 3 s of live 128 kbit/s audio reached the listener.
        self.assertGreater(len(reader.capture.audio) - at_live, 40000)
