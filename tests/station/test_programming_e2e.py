"""
End to end: a programmed station, with real ffmpeg, real files, a real
socket and a real listener: jingles every two songs, a 2-second
crossfade between songs, artist separation, and a listener's request.
"""

from __future__ import annotations

import array
import json
import os
from io import BytesIO

from twisted.internet.endpoints import TCP4ClientEndpoint, connectProtocol
from twisted.internet.interfaces import IReactorCore
from twisted.internet.utils import getProcessOutputAndValue
from twisted.trial.unittest import TestCase
from twisted.web.client import Agent, FileBodyProducer, readBody
from twisted.web.http_headers import Headers

from radiod.config import MountConfig, PlaylistConfig, StationConfig
from radiod.ffmpeg.binary import find_ffmpeg
from radiod.library.library import track_id
from radiod.runner import thread_runner
from radiod.station.service import StationService
from tests.support.loopback import Reader, asynchronous, reactor, wait_for
from tests.support.tools import require_ffmpeg

SONGS = [
    ("1.mp3", "Alpha", "One", 330),
    ("2.mp3", "Alpha", "Two", 440),
    ("3.mp3", "Beta", "One", 550),
    ("4.mp3", "Gamma", "One", 660),
]
"""
The music: file, artist, title and the tone's frequency (Hz), 6 s each.
"""

ID = "Station ID"


async def make_tone(path: str, frequency: int, seconds: float, artist: str, title: str) -> None:
    """
    Write an MP3 (44.1 kHz stereo, 128 kbit/s) of a tone, tagged.
    """
    ffmpeg = find_ffmpeg()
    assert ffmpeg is not None
    out, err, code = await getProcessOutputAndValue(
        ffmpeg,
        [
            "-hide_banner",
            "-nostdin",
            "-v",
            "error",
            "-y",
            "-f",
            "lavfi",
            "-i",
            f"sine=frequency={frequency}:duration={seconds}",
            "-ac",
            "2",
            "-ar",
            "44100",
            "-c:a",
            "libmp3lame",
            "-b:a",
            "128k",
            "-metadata",
            f"artist={artist}",
            "-metadata",
            f"title={title}",
            path,
        ],
        env=os.environ.copy(),
    )
    assert code == 0, err


async def decode(data: bytes, folder: str) -> tuple[str, array.array[int]]:
    """
    Decode MP3 bytes with ffmpeg: its complaints and the mono PCM.
    """
    ffmpeg = find_ffmpeg()
    assert ffmpeg is not None
    heard = os.path.join(folder, "heard.mp3")
    pcm = os.path.join(folder, "heard.pcm")
    with open(heard, "wb") as f:
        f.write(data)
    out, err, code = await getProcessOutputAndValue(
        ffmpeg,
        [
            "-hide_banner",
            "-nostdin",
            "-v",
            "error",
            "-i",
            heard,
            "-ac",
            "1",
            "-f",
            "s16le",
            "-y",
            pcm,
        ],
        env=os.environ.copy(),
    )
    samples = array.array("h")
    with open(pcm, "rb") as f:
        samples.frombytes(f.read())
    return err.decode("utf-8", "replace") + ("" if code == 0 else f"exit {code}"), samples


def longest_silence(samples: array.array[int], rate: int = 44100) -> float:
    """
    The longest run of 10 ms windows whose peak is below -50 dBFS, in
    seconds.
    """
    window = rate // 100
    threshold = 32768 * 10 ** (-50 / 20)
    longest = run = 0
    for start in range(0, len(samples) - window, window):
        if max(abs(s) for s in samples[start : start + window]) < threshold:
            run += 1
            longest = max(longest, run)
        else:
            run = 0
    return longest * 0.01


class ProgrammingEndToEndTests(TestCase):
    """
    A station with a jingle every 2 songs, a 2 s crossfade and a 13 s
    artist separation, heard by a real listener.
    """

    @asynchronous
    async def test_programmed_air(self) -> None:
        """
        The titles come in the order the rules make, the jingle under its
        own title after every two songs; a listener's request plays next,
        marked as requested; and the audio decodes with nothing said
        across every join, without a silence longer than 50 ms.
        """
        require_ffmpeg()
        folder = os.path.abspath(str(self.mktemp()))
        music = os.path.join(folder, "music")
        ids = os.path.join(folder, "ids")
        os.makedirs(music)
        os.makedirs(ids)
        for name, artist, title, frequency in SONGS:
            await make_tone(os.path.join(music, name), frequency, 6.0, artist, title)
        await make_tone(os.path.join(ids, "id.mp3"), 880, 1.5, "Radio", "Ident")
        mount = MountConfig(
            name="/stream",
            music=music,
            bitrate=128,
            sample_rate=44100,
            channels=2,
            artist_separation=13.0,
            crossfade=2.0,
            requests=True,
            request_threshold=5.0,
            playlists=(
                PlaylistConfig(
                    name="ids", music=ids, every_songs=2, jingle=True, title=ID, crossfade=0.0
                ),
            ),
        )
        config = StationConfig(
            port=0, interface="127.0.0.1", mounts=(mount,), state_dir=os.path.join(folder, "state")
        )
        core: IReactorCore = reactor
        service = StationService(config, reactor, thread_runner(core, reactor.getThreadPool()))
        service.startService()
        self.addCleanup(service.stopService)
        port = (await service.listener.listening).getHost().port  # type: ignore[attr-defined]
        listener = Reader(b"GET /stream HTTP/1.0\r\nIcy-MetaData: 1\r\n\r\n", reactor)
        await connectProtocol(TCP4ClientEndpoint(reactor, "127.0.0.1", port), listener)
        self.addCleanup(lambda: listener.transport.loseConnection() if listener.transport else None)

        def titles() -> list[str]:
            heard = [title for _, title in listener.capture.titles]
            return [t for i, t in enumerate(heard) if i == 0 or heard[i - 1] != t]

        # 0 s Alpha One; 4 s: Alpha Two would break the separation, Beta
        # One keeps it; 8 s: two songs, the ID; 11.5 s: Alpha Two still
        # too soon (the separation runs to 13 s), Gamma One; 15.5 s:
        # Alpha Two; 21.5 s: the ID.
        expected = ["Alpha - One", "Beta - One", ID, "Gamma - One", "Alpha - Two", ID]
        await wait_for(lambda: len(titles()) >= len(expected), 60, reactor)
        self.assertEqual(titles()[: len(expected)], expected)

        # A request for Gamma One (aired 12 s ago; no separation by title):
        # it plays as the next song.
        agent = Agent(reactor)
        url = f"http://127.0.0.1:{port}/api/v1/requests/stream"
        body = json.dumps({"id": track_id(os.path.join(music, "4.mp3"))}).encode()

        response = await agent.request(
            b"POST",
            url.encode(),
            Headers({b"Content-Type": [b"application/json"]}),
            FileBodyProducer(BytesIO(body)),
        )
        answer = json.loads(await readBody(response))
        self.assertEqual(response.code, 201, answer)
        await wait_for(lambda: "Gamma - One" in titles()[len(expected) :], 60, reactor)
        status = json.loads(
            await readBody(
                await agent.request(b"GET", f"http://127.0.0.1:{port}/api/v1/status".encode())
            )
        )
        history = status["mounts"][0]["history"]
        self.assertTrue(history[0]["requested"], history[0])
        self.assertNotIn(ID, [entry["title"] for entry in history])

        assert listener.transport is not None
        listener.transport.loseConnection()
        complaints, samples = await decode(bytes(listener.capture.audio), folder)
        self.assertEqual(complaints, "")
        # The first frames the listener got may start mid-reservoir; the
        # rest is one tone after another.
        self.assertLessEqual(longest_silence(samples[44100:]), 0.05)
