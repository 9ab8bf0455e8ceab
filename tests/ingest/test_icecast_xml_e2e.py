"""
End to end: radiod started from an Icecast configuration file, with the
encoders an Icecast station has (ffmpeg and ezstream, configured as for
Icecast) streaming to it, and listeners playing.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import replace

from twisted.internet.defer import Deferred
from twisted.internet.endpoints import TCP4ClientEndpoint, connectProtocol
from twisted.internet.interfaces import IReactorCore, IReactorProcess
from twisted.trial.unittest import TestCase

from radiod.config import MountConfig, StationConfig, read_icecast_config
from radiod.runner import thread_runner
from radiod.station.service import StationService
from tests.ingest.test_ezstream import LIVE_FILE, PLAYLIST_FILE, Ezstream, ezstream_config
from tests.ingest.test_live_e2e import LIVE_TITLE, TONE, run
from tests.support.loopback import FIRST, SECOND, Reader, asynchronous, reactor, wait_for
from tests.support.tools import require_ffmpeg, require_tool

ICECAST_XML = """<icecast>
    <limits>
        <clients>100</clients>
        <queue-size>524288</queue-size>
        <burst-size>65536</burst-size>
    </limits>
    <authentication>
        <source-password>station-source</source-password>
        <admin-user>admin</admin-user>
        <admin-password>station-admin</admin-password>
    </authentication>
    <listen-socket>
        <port>8000</port>
    </listen-socket>
    <mount type="normal">
        <mount-name>/live</mount-name>
        <password>live-show-pw</password>
        <fallback-mount>/radio</fallback-mount>
        <fallback-override>1</fallback-override>
        <stream-name>Live Desk</stream-name>
    </mount>
</icecast>
"""


class IcecastConfigEndToEndTests(TestCase):
    """
    A station read from an C{icecast.xml}: its live mount falls back to the
    music mount radiod.toml declares, and Icecast's encoders stream to it.
    """

    timeout = 90

    @asynchronous
    async def test_encoders_and_listeners(self) -> None:
        """
        ffmpeg streams to the live mount with the mount's own password:
        its listener, on the music meanwhile, hears the show, then the
        music again, on one connection, and the audio decodes.  ezstream
        streams to the music mount with the server's source password and
        takes it over.
        """
        require_ffmpeg()
        ezstream = require_tool("ezstream", shutil.which("ezstream"), "apt-get install ezstream")
        folder = os.path.abspath(str(self.mktemp()))
        music = os.path.join(folder, "music")
        os.makedirs(music)
        shutil.copy(PLAYLIST_FILE, music)
        xml = os.path.join(folder, "icecast.xml")
        with open(xml, "w", encoding="utf-8") as f:
            f.write(ICECAST_XML)
        base = StationConfig(mounts=(MountConfig(name="/radio", music=music, metaint=2000),))
        read = read_icecast_config(xml, base=base)
        config = replace(read.station, port=0, interface="127.0.0.1")
        self.assertEqual(
            [(m.name, m.live_only, m.fallback) for m in config.mounts],
            [("/radio", False, ""), ("/live", True, "/radio")],
        )
        core: IReactorCore = reactor
        service = StationService(config, reactor, thread_runner(core, reactor.getThreadPool()))
        service.startService()
        self.addCleanup(service.stopService)
        port = (await service.listener.listening).getHost().port  # type: ignore[attr-defined]

        reader = Reader(b"GET /live HTTP/1.0\r\nIcy-MetaData: 1\r\n\r\n", reactor)
        await connectProtocol(TCP4ClientEndpoint(reactor, "127.0.0.1", port), reader)
        self.addCleanup(lambda: reader.transport.loseConnection() if reader.transport else None)
        await wait_for(lambda: len(reader.capture.titles) >= 1, 10, reactor)

        target = f"icecast://source:live-show-pw@127.0.0.1:{port}/live"
        code, log = await run(
            [
                *("-hide_banner", "-nostdin", "-re", "-i", TONE, "-c", "copy"),
                *("-content_type", "audio/mpeg", "-ice_name", LIVE_TITLE, "-f", "mp3", target),
            ]
        )
        self.assertEqual(code, 0, log)

        def titles() -> list[str]:
            return [title for _, title in reader.capture.titles]

        await wait_for(lambda: LIVE_TITLE in titles() and titles()[-1] != LIVE_TITLE, 20, reactor)
        self.assertEqual(titles()[0], SECOND)
        self.assertFalse(reader.gone.called)
        heard = os.path.join(folder, "heard.mp3")
        with open(heard, "wb") as audio:
            audio.write(bytes(reader.capture.audio))
        code, log = await run(
            ["-hide_banner", "-nostdin", "-v", "error", "-i", heard, "-f", "null", "-"]
        )
        self.assertEqual((code, log), (0, ""))

        path = os.path.join(folder, "ezstream.xml")
        with open(path, "w", encoding="utf-8") as f:
            f.write(ezstream_config(port, "/radio", "station-source", LIVE_FILE))
        os.chmod(path, 0o600)
        protocol = Ezstream()
        process: IReactorProcess = reactor
        transport = process.spawnProcess(
            protocol, ezstream, [ezstream, "-c", path], env=os.environ.copy()
        )

        def kill() -> Deferred[None]:
            if not protocol.ended.called:
                transport.signalProcess("KILL")
            return protocol.ended

        self.addCleanup(kill)
        sources = service.factory.sources
        assert sources is not None
        await wait_for(lambda: "/radio" in sources.connected, 15, reactor)
        await wait_for(lambda: FIRST in titles(), 15, reactor)
