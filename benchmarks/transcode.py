"""
Transcoding figures: how fast library files convert, how long the reactor
stalls while a bitrate ladder of three rungs plays, and how much memory
radiod uses while converting a one-hour file.

    python benchmarks/transcode.py                  # all three
    python benchmarks/transcode.py --ladder-seconds 120 --hour 3600

Everything runs in this process on the real reactor, with the station's
own code: L{radiod.ffmpeg.transcoder.Transcoder} converts (ffmpeg child
processes, the conversion cache), and a L{radiod.station.service.StationService}
with C{ladder = [64, 32]} plays the ladder to three reading listeners.
A L{LoopingCall} every 10 ms measures how late the reactor runs it: the
longest such delay is the longest stall.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from twisted.internet import reactor as _reactor  # noqa: E402
from twisted.internet.defer import Deferred, ensureDeferred  # noqa: E402
from twisted.internet.endpoints import TCP4ClientEndpoint, connectProtocol  # noqa: E402
from twisted.internet.protocol import Protocol  # noqa: E402
from twisted.internet.task import LoopingCall  # noqa: E402

from radiod.audio.format import AudioFormat  # noqa: E402
from radiod.config import MountConfig, StationConfig  # noqa: E402
from radiod.ffmpeg.binary import find_ffmpeg  # noqa: E402
from radiod.ffmpeg.cache import ConversionCache  # noqa: E402
from radiod.ffmpeg.transcoder import Transcoder  # noqa: E402
from radiod.runner import thread_runner  # noqa: E402
from radiod.station.service import StationService  # noqa: E402

reactor: Any = _reactor
FIXTURES = REPO / "tests" / "fixtures"
TICK = 0.01


class Stalls:
    """
    Measures how late the reactor runs a call scheduled every L{TICK}.
    """

    def __init__(self) -> None:
        self.delays: list[float] = []
        self._expected = 0.0
        self._loop = LoopingCall(self._tick)

    def start(self) -> None:
        self._expected = time.monotonic() + TICK
        self._loop.start(TICK, now=False)

    def stop(self) -> None:
        if self._loop.running:
            self._loop.stop()

    def _tick(self) -> None:
        now = time.monotonic()
        self.delays.append(max(0.0, now - self._expected))
        self._expected = now + TICK

    def summary(self) -> str:
        if not self.delays:
            return "no samples"
        ordered = sorted(self.delays)
        p99 = ordered[int(len(ordered) * 0.99) - 1]
        return (
            f"longest stall {max(ordered) * 1000:.1f} ms, p99 {p99 * 1000:.1f} ms, "
            f"median {statistics.median(ordered) * 1000:.2f} ms over {len(ordered)} ticks"
        )


class Drain(Protocol):
    """
    A listener that reads and counts.
    """

    def __init__(self, path: str) -> None:
        self.path = path
        self.received = 0

    def connectionMade(self) -> None:
        assert self.transport is not None
        self.transport.write(f"GET {self.path} HTTP/1.0\r\n\r\n".encode())

    def dataReceived(self, data: bytes) -> None:
        self.received += len(data)


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def running_children_cpu() -> float:
    """
    CPU seconds used so far by this process's running children (the
    ladder's ffmpeg processes, which C{RUSAGE_CHILDREN} counts only once
    they end).
    """
    pid = os.getpid()
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for task in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{task}/children") as f:
                children = f.read().split()
        except OSError:
            continue
        for child in children:
            try:
                with open(f"/proc/{child}/stat") as f:
                    fields = f.read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            total += (int(fields[11]) + int(fields[12])) / ticks
    return total


def peak_rss_mib(who: int = resource.RUSAGE_SELF) -> float:
    return resource.getrusage(who).ru_maxrss / 1024


def current_rss_mib() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def make_flac(ffmpeg: str, path: Path, seconds: int) -> None:
    """
    A FLAC file of C{seconds} of music-like sound (tones with noise), 48 kHz
    stereo, so the conversion resamples as well as encodes.
    """
    tone = f"sine=frequency=220:sample_rate=48000:duration={seconds}"
    noise = f"anoisesrc=color=pink:sample_rate=48000:amplitude=0.05:duration={seconds}"
    mix = "[0][1]amix=inputs=2,aformat=channel_layouts=stereo"
    command = [ffmpeg, "-v", "error", "-y", "-f", "lavfi", "-i", tone, "-f", "lavfi", "-i", noise]
    command += ["-filter_complex", mix, "-c:a", "flac", "-compression_level", "0", str(path)]
    subprocess.run(command, check=True)


async def sleep(seconds: float) -> None:
    done: Deferred[None] = Deferred()
    reactor.callLater(seconds, done.callback, None)
    await done


async def conversion(ffmpeg: str, work: Path, seconds: int, label: str) -> None:
    """
    Convert a C{seconds}-long FLAC to 128 kbit/s, 44.1 kHz stereo MP3
    through the station's transcoder; print throughput, stalls and memory.
    """
    source = work / f"{label}.flac"
    make_flac(ffmpeg, source, seconds)
    cache = ConversionCache(str(work / f"cache-{label}"), 8 * 1024**3, runner(reactor))
    transcoder = Transcoder(reactor, reactor, runner(reactor), cache, ffmpeg)
    transcoder.startService()
    stalls = Stalls()
    rss_before = current_rss_mib()
    cpu_before = children_cpu()
    started = time.monotonic()
    stalls.start()
    peak = [rss_before]
    sampler = LoopingCall(lambda: peak.append(current_rss_mib()))
    sampler.start(0.1)
    frames = await transcoder.convert(
        str(source), AudioFormat(44100, 2, 128), 0.0, float(seconds), name="/bench"
    )
    sampler.stop()
    stalls.stop()
    wall = time.monotonic() - started
    cpu = children_cpu() - cpu_before
    audio = sum(frame.header.duration for frame in frames)
    mp3 = sum(len(frame.data) for frame in frames)
    await transcoder.stopService()
    print(f"conversion of {seconds / 60:.0f} min ({label}):")
    print(f"  audio out {audio:.0f} s in {wall:.1f} s wall, ffmpeg CPU {cpu:.1f} s")
    print(
        f"  throughput {audio / cpu:.0f} s of audio per CPU second ({audio / wall:.0f}x real time)"
    )
    print(f"  reactor: {stalls.summary()}")
    decoded = seconds * 48000 * 2 * 2 / 1024**2
    print(
        f"  radiod RSS {rss_before:.0f} MiB before, peak {max(peak):.0f} MiB while converting "
        f"(the converted MP3 is {mp3 / 1024**2:.0f} MiB; the decoded audio would be "
        f"{decoded:.0f} MiB); ffmpeg peak RSS {peak_rss_mib(resource.RUSAGE_CHILDREN):.0f} MiB"
    )
    del frames


def runner(core: Any) -> Callable[..., Any]:
    return thread_runner(core, core.getThreadPool())


async def ladder(work: Path, seconds: float) -> None:
    """
    Play a mount with a ladder of three bitrates to a listener on each
    rung for C{seconds}; print the reactor's stalls and ffmpeg's CPU.
    """
    music = work / "music"
    music.mkdir()
    for name in ("alpha-artist-first-song.mp3", "beta-artist-second-song.mp3"):
        shutil.copy(FIXTURES / name, music)
    mount = MountConfig(name="/stream", music=str(music), bitrate=128, ladder=(64, 32))
    config = StationConfig(
        port=0, interface="127.0.0.1", mounts=(mount,), state_dir=str(work / "state")
    )
    service = StationService(config, reactor, runner(reactor))
    service.startService()
    port = (await service.listener.listening).getHost().port  # type: ignore[attr-defined]
    listeners = [Drain(path) for path in ("/stream", "/stream-64", "/stream-32")]
    for listener in listeners:
        await connectProtocol(TCP4ClientEndpoint(reactor, "127.0.0.1", port), listener)
    await sleep(3)
    stalls = Stalls()
    cpu_before = running_children_cpu()
    received_before = [listener.received for listener in listeners]
    stalls.start()
    await sleep(seconds)
    stalls.stop()
    cpu = running_children_cpu() - cpu_before
    rates = [
        (listener.received - before) * 8 / seconds / 1000
        for listener, before in zip(listeners, received_before, strict=True)
    ]
    await service.stopService()
    print(f"ladder 128/64/32 kbit/s for {seconds:.0f} s, a listener on each rung:")
    print(f"  reactor: {stalls.summary()}")
    print(
        "  listeners received " + ", ".join(f"{rate:.0f}" for rate in rates) + " kbit/s; "
        f"ffmpeg CPU {cpu:.1f} s = {cpu / seconds * 100:.1f} % of a core for two rungs"
    )


async def main(args: argparse.Namespace) -> None:
    ffmpeg = find_ffmpeg()
    if ffmpeg is None:
        raise SystemExit("needs ffmpeg")
    with tempfile.TemporaryDirectory() as folder:
        work = Path(folder)
        if args.minutes:
            await conversion(ffmpeg, work, args.minutes * 60, "throughput")
        if args.ladder_seconds:
            await ladder(work, args.ladder_seconds)
        if args.hour:
            await conversion(ffmpeg, work, args.hour, "one-hour")


def run(coroutine: Coroutine[Any, Any, None]) -> None:
    failures: list[Any] = []
    done = ensureDeferred(coroutine)
    done.addErrback(failures.append).addBoth(lambda _: reactor.stop())
    reactor.run()
    if failures:
        failures[0].printTraceback()
        raise SystemExit(1)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=int, default=10, help="throughput file length")
    parser.add_argument("--ladder-seconds", type=float, default=60)
    parser.add_argument("--hour", type=int, default=3600, help="long file length, seconds")
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    run(main(parser.parse_args()))
