"""
Tests for L{radiod.ffmpeg.ladder}: rung settings, the track map, the rungs' live
sources with fake converters, and the configuration keys and command-line
option of the bitrate ladder.
"""

from __future__ import annotations

import io
import sys
from collections.abc import Sequence

from twisted.internet.task import Clock
from twisted.internet.testing import StringTransport
from twisted.logger import LogEvent, capturedLogs, formatEvent
from twisted.trial.unittest import SynchronousTestCase
from zope.interface.verify import verifyObject

from radiod.audio.format import AudioFormat
from radiod.audio.track import Play, TrackInfo
from radiod.broadcast.mount import Mount
from radiod.config import ConfigError, MountConfig, StationConfig, load_config, validate
from radiod.ffmpeg.ladder import (
    MAX_PENDING,
    RESTART_MAX,
    STEADY,
    Ladders,
    RungSource,
    TrackMap,
    rung_configs,
    rung_format,
    served_rungs,
)
from radiod.interfaces import ILiveSource
from radiod.station.options import Options
from radiod.station.worker import config_from_json, config_to_json
from radiod.testing import Cues, FakeConverter, FakeConverters, FakeFrameSource, silent_frame

A = TrackInfo("a.mp3", "Song A", "Artist")
B = TrackInfo("b.mp3", "Song B", "Artist")
LIVE = TrackInfo("", "Live Show")
PLAY_A = Play(1, A)
PLAY_B = Play(2, B)
MAIN = silent_frame()
OUT64 = silent_frame(bitrate=64)
OUT32 = silent_frame(version="2", bitrate=32, sample_rate=22050)
LONG = silent_frame(bitrate=64, sample_rate=32000)
FRAME = MAIN.header.duration


def log_text(events: Sequence[LogEvent]) -> list[str]:
    """
    The messages of captured log events, formatted.
    """
    return [formatEvent(event) for event in events]


class RungFormatTests(SynchronousTestCase):
    """
    Tests for L{rung_format} and L{rung_configs}.
    """

    def test_format(self) -> None:
        """
        A rung keeps the main mount's sample rate and channels from 64
        kbit/s up, and halves the rate below; its bitrate is the nearest
        one the rate allows.
        """
        self.assertEqual(rung_format(64, 44100, 2), AudioFormat(44100, 2, 64))
        self.assertEqual(rung_format(320, 48000, 1), AudioFormat(48000, 1, 320))
        self.assertEqual(rung_format(32, 44100, 2), AudioFormat(22050, 2, 32))
        self.assertEqual(rung_format(56, 48000, 2), AudioFormat(24000, 2, 56))
        self.assertEqual(rung_format(32, 32000, 1), AudioFormat(16000, 1, 32))
        self.assertEqual(rung_format(32, 22050, 2), AudioFormat(22050, 2, 32))
        self.assertEqual(rung_format(320, 22050, 2), AudioFormat(22050, 2, 160))
        self.assertEqual(rung_format(144, 44100, 2), AudioFormat(44100, 2, 128))

    def test_configs(self) -> None:
        """
        Each rung is named after the mount and its bitrate, shares the
        station's headers and limits, plays nothing of its own, and has the
        main mount's metaint, burst and queue scaled to the same seconds.
        """
        main = MountConfig(
            name="/radio",
            music="/srv/music",
            station_name="Ladder FM",
            genre="Jazz",
            max_listeners=50,
            bitrate=128,
            ladder=(64, 32, 256),
            relay="http://up/live",
            push_to=("http://s:p@h:1/m",),
            record=True,
            source_password="pw",
        )
        rungs = rung_configs(main)
        self.assertEqual(
            [(r.name, r.bitrate) for r in rungs],
            [("/radio-64", 64), ("/radio-32", 32), ("/radio-256", 256)],
        )
        self.assertEqual([r.metaint for r in rungs], [8000, 4000, 32000])
        self.assertEqual([r.burst_size for r in rungs], [32768, 16384, 131072])
        self.assertEqual([r.queue_size for r in rungs], [262144, 131072, 1048576])
        for rung in rungs:
            self.assertEqual((rung.station_name, rung.genre), ("Ladder FM", "Jazz"))
            self.assertEqual(rung.max_listeners, 50)
            self.assertEqual((rung.music, rung.relay, rung.push_to), ("", "", ()))
            self.assertEqual((rung.ladder, rung.ladder_names), ((), ()))
            self.assertFalse(rung.record)
            self.assertEqual(rung.source_password, "")
            validate(StationConfig(mounts=(rung,)))

    def test_configs_named_and_clamped(self) -> None:
        """
        Explicit names are used in order; a mount with no bitrate is taken
        as 128 kbit/s; scaled sizes stay within their ranges, the burst
        below the queue.
        """
        main = MountConfig(
            name="/s",
            ladder=(8, 320),
            ladder_names=("/tiny", "/huge"),
            metaint=300,
            burst_size=60000,
            queue_size=65536,
        )
        tiny, huge = rung_configs(main)
        self.assertEqual((tiny.name, huge.name), ("/tiny", "/huge"))
        self.assertEqual((tiny.metaint, tiny.queue_size, tiny.burst_size), (256, 4096, 3750))
        self.assertEqual((huge.metaint, huge.queue_size, huge.burst_size), (750, 163840, 150000))
        small = rung_configs(MountConfig(ladder=(8,), burst_size=65000, queue_size=65536))[0]
        self.assertEqual((small.queue_size, small.burst_size), (4096, 4062))
        rates = rung_configs(MountConfig(sample_rate=44100, normalize=True, ladder=(32, 64)))
        self.assertEqual(
            [(r.sample_rate, r.normalize) for r in rates], [(22050, False), (44100, False)]
        )

    def test_served_rungs(self) -> None:
        """
        The rungs of every mount, mount after mount, and none without
        ffmpeg; a worker's configuration carries the ladder keys.
        """
        config = StationConfig(
            mounts=(
                MountConfig(name="/a", ladder=(64,)),
                MountConfig(name="/b"),
                MountConfig(name="/c", ladder=(32, 96), ladder_names=("/c-lo", "/c-hi")),
            )
        )
        names = [rung.name for rung in served_rungs(config, "/usr/bin/ffmpeg")]
        self.assertEqual(names, ["/a-64", "/c-lo", "/c-hi"])
        self.assertEqual(served_rungs(config, None), ())
        self.assertEqual(config_from_json(config_to_json(config)), config)


class TrackMapTests(SynchronousTestCase):
    """
    Tests for L{TrackMap}.
    """

    def test_same_durations(self) -> None:
        """
        With no delay, output frame N belongs to the track of input frame
        N: the title changes at the same frame.
        """
        tracks = TrackMap()
        tracks.feed([(MAIN, PLAY_A)] * 10 + [(MAIN, PLAY_B)] * 10)
        tagged = tracks.tag([OUT64] * 7) + tracks.tag([OUT64] * 13)
        self.assertEqual([play.track for _, play in tagged], [A] * 10 + [B] * 10)
        self.assertTrue(all(frame is OUT64 for frame, _ in tagged))
        self.assertEqual(tagged[-1][1], PLAY_B)

    def test_delay(self) -> None:
        """
        Output that lags by a delay changes track that much later.
        """
        tracks = TrackMap(delay=1.25 * FRAME)
        tracks.feed([(MAIN, PLAY_A)] * 10 + [(MAIN, PLAY_B)] * 10)
        tagged = tracks.tag([OUT64] * 20)
        self.assertEqual([play.track for _, play in tagged], [A] * 11 + [B] * 9)
        self.assertAlmostEqual(tracks.pending, 1.25 * FRAME)

    def test_other_durations(self) -> None:
        """
        Output frames of another duration change track at the frame whose
        middle is past the input boundary: positions count in seconds.
        """
        tracks = TrackMap()
        tracks.feed([(MAIN, PLAY_A)] * 10 + [(MAIN, PLAY_B)] * 10 + [(MAIN, Play(3, A))] * 3)
        tagged = tracks.tag([LONG] * 17)
        # Input boundaries at 0.261 and 0.522 s; 36 ms output frames.
        self.assertEqual([play.track for _, play in tagged], [A] * 7 + [B] * 8 + [A] * 2)
        self.assertEqual(OUT32.header.duration, FRAME)

    def test_ends(self) -> None:
        """
        Output past the input keeps the last track; output before any
        input is dropped; L{TrackMap.pending} counts what is not back yet.
        """
        tracks = TrackMap()
        self.assertEqual(tracks.tag([OUT64]), [])
        tracks = TrackMap()
        tracks.feed([(MAIN, PLAY_A)] * 4)
        self.assertAlmostEqual(tracks.pending, 4 * FRAME)
        tagged = tracks.tag([OUT64] * 6)
        self.assertEqual([play.track for _, play in tagged], [A] * 6)
        self.assertEqual(tracks.pending, 0.0)
        tracks.feed([(MAIN, PLAY_B)])
        self.assertEqual(tracks.tag([OUT64])[0][1].track, B)

    def test_same_title_other_play(self) -> None:
        """
        Plays are told apart by their numbers: a new play of the same
        track starts a new stretch.
        """
        again = Play(2, A)
        tracks = TrackMap()
        tracks.feed([(MAIN, PLAY_A)] * 2 + [(MAIN, again)] * 2)
        tagged = tracks.tag([OUT64] * 4)
        self.assertEqual([play == PLAY_A for _, play in tagged], [True, True, False, False])


class RungTests(SynchronousTestCase):
    """
    Tests for L{RungSource} and L{Ladders}, with fake converters and a main
    mount broadcasting by hand.
    """

    def setUp(self) -> None:
        self.cues = Cues()
        self.clock = Clock()
        self.main = Mount(
            MountConfig(name="/stream", bitrate=128, ladder=(64, 32), metaint=2000),
            FakeFrameSource([]),
            self.clock,
        )
        self.converters = FakeConverters()
        self.ladders = Ladders(self.clock, self.converters)
        made, dropped = self.ladders.update([self.main])
        self.assertEqual(dropped, [])
        for rung in made:
            rung.start()
        self.rung = self.ladders.mounts["/stream-64"]
        self.low = self.ladders.mounts["/stream-32"]
        self.heard: list[TrackInfo] = []
        self.rung.on_air.append(lambda frames: self.heard.extend(p.track for _, p in frames))

    def source(self, mount: Mount) -> RungSource:
        source = mount.source
        assert isinstance(source, RungSource)
        return source

    def converter(self, index: int = -1) -> FakeConverter:
        """
        The newest converter of the 64 kbit/s rung (or the one at C{index}).
        """
        mine = [c for c in self.converters.made if c.target.bitrate == 64]
        return mine[index]

    def test_interface(self) -> None:
        """
        A rung's source is an L{ILiveSource}; rungs are mounts in the
        order of the ladder, with the derived settings.
        """
        verifyObject(ILiveSource, self.source(self.rung))
        self.assertEqual(list(self.ladders.mounts), ["/stream-64", "/stream-32"])
        self.assertEqual(self.rung.config, rung_configs(self.main.config)[0])
        self.assertIsNone(self.rung.switch)

    def test_converts_from_first_audio(self) -> None:
        """
        Each rung starts its converter with the first audio of the main
        mount, in the rung's format, and feeds it every frame.
        """
        self.assertEqual(self.converters.made, [])
        self.main.broadcast(self.cues([(MAIN, A)] * 4))
        targets = [c.target for c in self.converters.made]
        self.assertEqual(targets, [AudioFormat(44100, 2, 64), AudioFormat(22050, 2, 32)])
        self.main.broadcast(self.cues([(MAIN, A)] * 3))
        self.assertEqual(len(self.converter().fed), 7)
        self.assertEqual(self.source(self.low).target, AudioFormat(22050, 2, 32))

    def test_titles_follow_position(self) -> None:
        """
        Converted frames go on air on the rung with the track of the main
        audio at the same position, the very track objects, so its title
        changes where the main mount's does.
        """
        self.main.broadcast(self.cues([(MAIN, A)] * 4 + [(MAIN, B)] * 2))
        self.main.broadcast(self.cues([(MAIN, LIVE)] * 2))
        self.converter().emit([OUT64] * 3)
        self.assertIs(self.rung.now_playing, A)
        self.converter().emit([OUT64] * 4)
        self.assertEqual(self.heard, [A] * 4 + [B] * 2 + [LIVE])
        self.assertIs(self.rung.now_playing, LIVE)
        self.assertEqual([track for track, _ in self.rung.history], [LIVE, B, A])
        self.assertEqual(self.rung.audio.bitrate, 64)

    def test_restart_with_backoff(self) -> None:
        """
        A converter that dies is replaced at the first audio after a pause
        that doubles with each failure in a row, up to a limit; the main
        mount's audio meanwhile is not converted.
        """
        self.main.broadcast(self.cues([(MAIN, A)]))
        pauses = []
        with capturedLogs() as events:
            for _ in range(8):
                before = self.converter()
                before.end(False)
                self.main.broadcast(self.cues([(MAIN, A)]))
                self.assertIs(self.converter(), before)
                waited = 0.0
                while self.converter() is before:
                    self.clock.advance(0.5)
                    waited += 0.5
                    self.main.broadcast(self.cues([(MAIN, A)]))
                pauses.append(waited)
        self.assertEqual(pauses, [1.0, 2.0, 4.0, 8.0, 16.0, RESTART_MAX, RESTART_MAX, RESTART_MAX])
        self.assertEqual(self.source(self.rung).failures, 8)
        messages = log_text(events)
        self.assertIn(
            "Converter of rung /stream-64 stopped; its listeners hear a gap, and another "
            "starts in 1 s",
            messages,
        )
        self.assertEqual(self.converter().fed, [MAIN])

    def test_steady_resets_backoff(self) -> None:
        """
        A converter that ran for a while before it failed counts as the
        first failure again.
        """
        self.main.broadcast(self.cues([(MAIN, A)]))
        self.converter().end(False)
        self.clock.advance(1)
        self.main.broadcast(self.cues([(MAIN, A)]))
        self.converter().end(False)
        self.clock.advance(2)
        self.main.broadcast(self.cues([(MAIN, A)]))
        self.clock.advance(STEADY)
        made = len(self.converters.made)
        self.converter().end(False)
        self.clock.advance(1)
        self.main.broadcast(self.cues([(MAIN, A)]))
        self.assertEqual(len(self.converters.made), made + 1)

    def test_listeners_stay_through_restart(self) -> None:
        """
        A rung's listeners stay connected while its converter is replaced,
        and hear the new converter's audio.
        """
        self.main.broadcast(self.cues([(MAIN, A)] * 2))
        self.converter().emit([OUT64] * 2)
        transport = StringTransport()
        listener = self.rung.add_listener(transport, "10.0.0.1:5", False)
        self.converter().end(False)
        self.clock.advance(1)
        self.main.broadcast(self.cues([(MAIN, B)] * 2))
        self.converter().emit([OUT64] * 2)
        self.assertIn(listener, self.rung.listeners)
        self.assertFalse(transport.disconnecting)
        self.assertIn(OUT64.data * 2, transport.value())
        self.assertIs(self.rung.now_playing, B)

    def test_stalled_converter_replaced(self) -> None:
        """
        A converter more than L{MAX_PENDING} seconds behind is stopped, and
        a new one starts after the pause; output the old one writes after
        it was stopped is ignored.
        """
        batch = [(MAIN, A)] * 40
        with capturedLogs() as events:
            self.main.broadcast(self.cues(batch))
            while not self.converter(0).stopped:
                self.main.broadcast(self.cues(batch))
        self.assertGreater(len(self.converter(0).fed) * FRAME, MAX_PENDING)
        self.assertTrue(any("fell 5.2 s behind" in text for text in log_text(events)))
        self.clock.advance(1)
        self.main.broadcast(self.cues([(MAIN, B)]))
        self.assertEqual(len([c for c in self.converters.made if c.target.bitrate == 64]), 2)
        self.converter(0).emit([OUT64] * 3)
        self.assertEqual(self.heard, [])
        self.converter().emit([OUT64])
        self.assertEqual(self.heard, [B])

    def test_cannot_convert(self) -> None:
        """
        When no converter can be made, the rung stays silent and tries
        again after a pause.
        """
        self.converters.available = False
        with capturedLogs() as events:
            self.main.broadcast(self.cues([(MAIN, A)]))
        self.assertEqual(self.source(self.rung).failures, 1)
        self.assertTrue(any("could not start" in text for text in log_text(events)))
        self.converters.available = True
        self.main.broadcast(self.cues([(MAIN, A)]))
        self.assertEqual(self.converters.made, [])
        self.clock.advance(1)
        self.main.broadcast(self.cues([(MAIN, A)]))
        self.assertEqual(len(self.converters.made), 2)

    def test_target_kept(self) -> None:
        """
        A rung's format is chosen once: a replacement converter makes the
        same even if the main mount's audio changed format.
        """
        self.main.broadcast(self.cues([(MAIN, A)]))
        self.converter().end(False)
        self.clock.advance(1)
        self.main.broadcast(self.cues([(silent_frame(sample_rate=48000, channels=1), A)]))
        self.assertEqual(self.converter().target, AudioFormat(44100, 2, 64))

    def test_stop(self) -> None:
        """
        Stopping a rung stops its converter, stops taking the main mount's
        audio and ignores what the converter still writes; L{Ladders.ended}
        fires once every converter has ended.
        """
        converters = FakeConverters(ends_on_stop=False)
        ladders = Ladders(self.clock, converters)
        made, _ = ladders.update([self.main])
        for rung in made:
            rung.start()
        self.main.broadcast(self.cues([(MAIN, A)]))
        observers = len(self.main.on_air)
        for rung in made:
            rung.stop()
        self.assertEqual(len(self.main.on_air), observers - 2)
        self.assertTrue(all(converter.stopped for converter in converters.made))
        ended = ladders.ended()
        self.assertNoResult(ended)
        converters.made[0].emit([OUT64])
        self.assertIsNone(made[0].now_playing)
        for converter in converters.made:
            converter.end(False)
        self.successResultOf(ended)
        self.successResultOf(ladders.ended())

    def test_dropped_rungs_awaited(self) -> None:
        """
        L{Ladders.ended} also waits for the converters of rungs dropped by
        an update or removed.
        """
        converters = FakeConverters(ends_on_stop=False)
        ladders = Ladders(self.clock, converters)
        made, _ = ladders.update([self.main])
        for rung in made:
            rung.start()
        self.main.broadcast(self.cues([(MAIN, A)]))
        for rung in ladders.remove({"/stream-64"}) + ladders.update([])[1]:
            rung.stop()
        self.assertEqual(ladders.mounts, {})
        ended = ladders.ended()
        converters.made[0].end(False)
        self.assertNoResult(ended)
        converters.made[1].end(False)
        self.successResultOf(ended)
        self.main.broadcast(self.cues([(MAIN, A)]))
        self.assertEqual(len(converters.made), 2)

    def test_update(self) -> None:
        """
        L{Ladders.update} follows the main mount's settings: rungs still
        listed keep their mount and take new settings, rungs gone or whose
        bitrate changed are dropped, new ones made.
        """
        rung = self.rung
        self.main.reconfigure(
            MountConfig(name="/stream", bitrate=128, ladder=(64, 96), station_name="New")
        )
        made, dropped = self.ladders.update([self.main])
        self.assertEqual([m.name for m in made], ["/stream-96"])
        self.assertEqual(dropped, [self.low])
        self.assertIs(self.ladders.mounts["/stream-64"], rung)
        self.assertEqual(rung.config.station_name, "New")
        self.assertEqual(list(self.ladders.mounts), ["/stream-64", "/stream-96"])

        self.main.reconfigure(
            MountConfig(name="/stream", bitrate=128, ladder=(48,), ladder_names=("/stream-64",))
        )
        made, dropped = self.ladders.update([self.main])
        self.assertEqual({m.name for m in dropped}, {"/stream-64", "/stream-96"})
        self.assertEqual([(m.name, m.config.bitrate) for m in made], [("/stream-64", 48)])

        made, dropped = self.ladders.update([])
        self.assertEqual((made, [m.name for m in dropped]), ([], ["/stream-64"]))
        self.assertEqual(self.ladders.mounts, {})

    def test_remove(self) -> None:
        """
        L{Ladders.remove} forgets rungs by name and returns them.
        """
        removed = self.ladders.remove({"/stream-32", "/other"})
        self.assertEqual(removed, [self.low])
        self.assertEqual(list(self.ladders.mounts), ["/stream-64"])

    def test_taken_names_wait(self) -> None:
        """
        A rung whose name a live source's mount has is not made until the
        name is free.
        """
        ladders = Ladders(self.clock, FakeConverters())
        with capturedLogs() as events:
            made, _ = ladders.update([self.main], taken={"/stream-32"})
        self.assertEqual([m.name for m in made], ["/stream-64"])
        self.assertIn(
            "Rung /stream-32 of /stream waits: a live source uses the name", log_text(events)
        )
        made, _ = ladders.update([self.main])
        self.assertEqual([m.name for m in made], ["/stream-32"])
        self.assertEqual(list(ladders.mounts), ["/stream-64", "/stream-32"])

    def test_no_ffmpeg(self) -> None:
        """
        Without converters no rung is made, with one warning per mount.
        """
        ladders = Ladders(self.clock, None)
        with capturedLogs() as events:
            self.assertEqual(ladders.update([self.main]), ([], []))
            ladders.update([self.main])
        self.assertEqual(
            log_text(events),
            ["No ffmpeg: the bitrate ladder of /stream (/stream-64, /stream-32) is not served"],
        )
        self.successResultOf(ladders.ended())


TWO_MOUNTS = """\
[[mount]]
name = "/stream"
bitrate = 128

[[mount]]
name = "/jazz"
{extra}
"""


class LadderConfigTests(SynchronousTestCase):
    """
    Tests for the C{ladder} and C{ladder_names} mount keys.
    """

    def assert_error(self, text: str, message: str) -> None:
        with self.assertRaises(ConfigError) as caught:
            load_config(text)
        self.assertEqual(str(caught.exception), message)

    def test_read(self) -> None:
        """
        C{ladder} is a list of bitrates (or one), C{ladder_names} a list
        of names (or one); both are empty by default.
        """
        config = load_config(
            TWO_MOUNTS.format(extra='ladder = [64, 32]\nladder_names = ["/jazz-lo", "/jazz-xs"]')
        )
        jazz = config.mounts[1]
        self.assertEqual((jazz.ladder, jazz.ladder_names), ((64, 32), ("/jazz-lo", "/jazz-xs")))
        self.assertEqual(jazz.rung_names, ("/jazz-lo", "/jazz-xs"))
        self.assertEqual(config.mounts[0].ladder, ())
        one = load_config(TWO_MOUNTS.format(extra='ladder = 64\nladder_names = "/lo"'))
        self.assertEqual((one.mounts[1].ladder, one.mounts[1].rung_names), ((64,), ("/lo",)))
        plain = load_config(TWO_MOUNTS.format(extra="ladder = [320, 8]"))
        self.assertEqual(plain.mounts[1].rung_names, ("/jazz-320", "/jazz-8"))
        listed = MountConfig(ladder=[64], ladder_names=["/x"])  # type: ignore[arg-type]
        self.assertEqual(listed, MountConfig(ladder=(64,), ladder_names=("/x",)))

    def test_errors(self) -> None:
        """
        Bad values are one line naming the file, line and key.
        """
        rates = "8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160, 192, 224, 256, 320"
        cases = [
            ('ladder = "64"', "ladder: must be a list of bitrates in kbit/s, not a string"),
            ('ladder = ["64"]', "ladder: must be an integer, not a string"),
            ("ladder = [64, 33]", f"ladder: 33 is not an MP3 bitrate (kbit/s: {rates})"),
            ("ladder = [64, 32, 64]", "ladder: lists 64 twice"),
            ("bitrate = 64\nladder = [64]", "ladder: 64 is the mount's own bitrate"),
            (
                "sample_rate = 22050\nladder = [192]",
                "ladder: an MP3 at 22050 Hz cannot have 192 kbit/s (kbit/s: 8, 16, 24, 32, "
                "40, 48, 56, 64, 80, 96, 112, 128, 144, 160)",
            ),
            ("ladder_names = 1", "ladder_names: must be a list of mount names, not an integer"),
            (
                'ladder = [64, 32]\nladder_names = ["/a"]',
                "ladder_names: must give one name per entry of ladder (2), not 1",
            ),
            (
                'ladder = [64]\nladder_names = ["/a b"]',
                "ladder_names: entry 0: must not contain spaces: '/a b'",
            ),
            (
                'ladder = [64]\nladder_names = ["/jazz.m3u"]',
                "ladder_names: entry 0: must not end with .m3u, .pls or .xspf (playlist "
                "URLs): '/jazz.m3u'",
            ),
            (
                'ladder = [64]\nladder_names = ["/stream"]',
                "ladder_names: '/stream' is already the name of mount[0]",
            ),
            (
                'ladder = [64, 32]\nladder_names = ["/lo", "/lo"]',
                "ladder_names: '/lo' is already the name of a rung of mount[1]",
            ),
            (
                "live_only = true\nladder = [64]",
                "ladder: a live_only mount has no ladder (its listeners move to its "
                "fallback between shows)",
            ),
        ]
        for extra, message in cases:
            key = message.split(":")[0]
            line = 7 + next(i for i, text in enumerate(extra.split("\n")) if text.startswith(key))
            self.assert_error(
                TWO_MOUNTS.format(extra=extra), f"radiod.toml line {line}: mount[1].{message}"
            )

    def test_clash_with_other_mounts(self) -> None:
        """
        A rung may not take the name of another mount, nor of a rung of
        another mount.
        """
        text = TWO_MOUNTS.replace('"/jazz"', '"/stream-64"').format(extra="")
        self.assert_error(
            text.replace("bitrate = 128", "bitrate = 128\nladder = [64]"),
            "radiod.toml line 4: mount[0].ladder: '/stream-64' is already the name of mount[1]",
        )
        mounts = (
            MountConfig(name="/a", ladder=(64,), ladder_names=("/low",)),
            MountConfig(name="/b", ladder=(32,), ladder_names=("/low",)),
        )
        with self.assertRaises(ConfigError) as caught:
            validate(StationConfig(mounts=mounts))
        self.assertEqual(
            str(caught.exception),
            "mount[1].ladder_names: '/low' is already the name of a rung of mount[0]",
        )
        validate(StationConfig(workers=4, mounts=(MountConfig(ladder=(64, 32)),)))


class LadderOptionTests(SynchronousTestCase):
    """
    Tests for C{--bitrates}.
    """

    def parse(self, *args: str) -> StationConfig:
        options = Options()
        options.parseOptions(list(args))
        assert options.config is not None
        return options.config

    def assert_exit(self, args: list[str], problem: str) -> None:
        with self.assertRaises(SystemExit) as caught:
            self.parse(*args)
        self.assertEqual(
            caught.exception.code, f"twistd radiod: error: {problem} (see twistd radiod --help)"
        )

    def test_bitrates(self) -> None:
        """
        The first bitrate is the stream's, the others its ladder's.
        """
        mount = self.parse("--bitrates", "128,64,32").mounts[0]
        self.assertEqual((mount.bitrate, mount.ladder), (128, (64, 32)))
        self.assertEqual(mount.rung_names, ("/stream-64", "/stream-32"))
        mount = self.parse("--bitrates", "96").mounts[0]
        self.assertEqual((mount.bitrate, mount.ladder), (96, ()))
        mount = self.parse("--bitrate", "128", "--bitrates", "128, 64").mounts[0]
        self.assertEqual((mount.bitrate, mount.ladder), (128, (64,)))
        mount = self.parse("--mount", "/radio", "--bitrates", "128,320").mounts[0]
        self.assertEqual(mount.rung_names, ("/radio-320",))

    def test_bitrates_over_file(self) -> None:
        """
        C{--bitrates} replaces the first mount's bitrate and ladder from
        the file, and keeps its names when they still fit.
        """
        path = self.mktemp()
        with open(path, "w") as f:
            f.write('[[mount]]\nname = "/s"\nladder = [64]\nladder_names = ["/s-lo"]\n')
        mount = self.parse("--config", path, "--bitrates", "128,32").mounts[0]
        self.assertEqual((mount.bitrate, mount.ladder, mount.rung_names), (128, (32,), ("/s-lo",)))
        self.assert_exit(
            ["--config", path, "--bitrates", "128,64,32"],
            f"mount[0].ladder_names: must give one name per entry of ladder (2), not 1 "
            f"(with {path} and the options given)",
        )

    def test_bad_bitrates(self) -> None:
        """
        Mistakes name C{--bitrates}.
        """
        self.assert_exit(
            ["--bitrates", "fast"],
            "--bitrates: expected bitrates in kbit/s separated by commas, such as 128,64,32, "
            "not 'fast'",
        )
        self.assert_exit(
            ["--bitrates", ""],
            "--bitrates: expected bitrates in kbit/s separated "
            "by commas, such as 128,64,32, not ''",
        )
        self.assert_exit(["--bitrates", "128,128"], "--bitrates: 128 is the mount's own bitrate")
        self.assert_exit(["--bitrates", "128,64,64"], "--bitrates: lists 64 twice")
        self.assertIn("--bitrates: 33 is not an MP3 bitrate", self.exit_text("128,33"))
        self.assertIn("--bitrates: must be 0 (any) or an MP3 bitrate", self.exit_text("33,64"))
        self.assert_exit(
            ["--bitrate", "96", "--bitrates", "128,64"],
            "--bitrates: starts at 128, but --bitrate is 96",
        )

    def exit_text(self, bitrates: str) -> str:
        with self.assertRaises(SystemExit) as caught:
            self.parse("--bitrates", bitrates)
        return str(caught.exception.code)

    def test_help(self) -> None:
        """
        The help text explains C{--bitrates}.
        """
        out = io.StringIO()
        self.patch(sys, "stdout", out)
        with self.assertRaises(SystemExit):
            self.parse("--help")
        usage = " ".join(out.getvalue().split())
        self.assertIn("--bitrates=", usage)
        self.assertIn("such as 128,64,32", usage)
