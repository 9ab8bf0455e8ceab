"""
The servers under test, as child processes: radiod, and Icecast 2 fed by
ffmpeg; plus the test music and the C{/proc} accounting of a process tree.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from base64 import b64encode
from dataclasses import dataclass
from pathlib import Path
from typing import IO

REPO = Path(__file__).resolve().parent.parent
TITLE = "Benchmark tone"
ARTIST = "radiod bench"
BITRATE_KBPS = 128
PAGE_KIB = os.sysconf("SC_PAGE_SIZE") // 1024
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


class ServerError(Exception):
    """
    A server could not be started (it exited, or never became ready).
    """


def make_music(cache: Path, seconds: int = 240) -> Path:
    """
    Make (once) a folder holding one 128 kbps 44.1 kHz stereo CBR MP3.

    @param cache: the cache folder; the music goes in C{cache/music}.
    @param seconds: the track's length.
    @return: the music folder.
    """
    folder = cache / "music"
    target = folder / f"bench-{BITRATE_KBPS}k-{seconds}s.mp3"
    if target.exists() and target.stat().st_size > 0:
        return folder
    folder.mkdir(parents=True, exist_ok=True)
    partial = folder / "partial.mp3.tmp"
    source = (
        f"sine=frequency=220:sample_rate=44100:duration={seconds},"
        "aeval=val(0)*0.5|val(0)*0.4:channel_layout=stereo"
    )
    command = ["ffmpeg", "-hide_banner", "-loglevel", "error", "-nostdin", "-y"]
    command += ["-f", "lavfi", "-i", source, "-c:a", "libmp3lame"]
    command += ["-b:a", f"{BITRATE_KBPS}k", "-ar", "44100", "-ac", "2"]
    command += ["-metadata", f"title={TITLE}", "-metadata", f"artist={ARTIST}"]
    command += ["-f", "mp3", str(partial)]
    subprocess.run(command, check=True)
    partial.rename(target)
    return folder


def repo_env() -> dict[str, str]:
    """
    This process's environment with this checkout first on C{PYTHONPATH},
    for a child that runs radiod from it.
    """
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    return env


def free_port() -> int:
    """
    A TCP port on 127.0.0.1 that nothing listens on now.
    """
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def probe(port: int, path: str = "/stream", timeout: float = 2.0) -> int:
    """
    Ask for a stream once and wait for its first audio byte.

    @return: the status code, or 0 when there was no answer with audio.
    """
    request = f"GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\nIcy-MetaData: 1\r\n\r\n"
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
            s.sendall(request.encode("ascii"))
            data = b""
            while b"\r\n\r\n" not in data or data.endswith(b"\r\n\r\n"):
                chunk = s.recv(65536)
                if not chunk:
                    break
                data += chunk
            parts = data.split(b"\r\n", 1)[0].split()
            if b"\r\n\r\n" in data and len(parts) > 1 and parts[1].isdigit():
                return int(parts[1])
    except OSError:
        pass
    return 0


@dataclass
class Sample:
    """
    One reading of a process tree's accounting.

    @ivar at: C{time.monotonic()} of the reading.
    @ivar cpu_s: user plus system CPU seconds of the live processes.
    @ivar rss_kib: the sum of their resident set sizes (shared pages of
        forked workers are counted once per process).
    @ivar fds: their open file descriptors.
    @ivar threads: their threads.
    @ivar processes: how many processes.
    @ivar pss_kib: the sum of their proportional set sizes (shared pages
        divided among the processes sharing them).
    """

    at: float
    cpu_s: float
    rss_kib: int
    fds: int
    threads: int
    processes: int
    pss_kib: int


def _stat_fields(pid: int) -> list[str]:
    with open(f"/proc/{pid}/stat") as f:
        text = f.read()
    return text[text.rindex(")") + 2 :].split()


def process_tree(root: int) -> list[int]:
    """
    A process and all its descendants.
    """
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                parent = int(_stat_fields(int(entry))[1])
            except (OSError, ValueError, IndexError):
                continue
            children.setdefault(parent, []).append(int(entry))
    found, todo = [], [root]
    while todo:
        pid = todo.pop()
        found.append(pid)
        todo.extend(children.get(pid, []))
    return found


def sample(root: int) -> Sample:
    """
    Read the CPU time, memory, descriptors and threads of a process tree.
    """
    at = time.monotonic()
    cpu = 0.0
    rss = fds = threads = count = pss = 0
    for pid in process_tree(root):
        try:
            fields = _stat_fields(pid)
            fd_count = len(os.listdir(f"/proc/{pid}/fd"))
            pss += _pss_kib(pid)
        except (OSError, ValueError):
            continue
        cpu += (int(fields[11]) + int(fields[12])) / CLOCK_TICKS
        threads += int(fields[17])
        rss += int(fields[21]) * PAGE_KIB
        fds += fd_count
        count += 1
    return Sample(at, cpu, rss, fds, threads, count, pss)


def _pss_kib(pid: int) -> int:
    with open(f"/proc/{pid}/smaps_rollup") as f:
        for line in f:
            if line.startswith("Pss:"):
                return int(line.split()[1])
    return 0


def machine_busy() -> tuple[float, float]:
    """
    The machine's busy and total CPU time so far, in seconds (all cores).
    """
    with open("/proc/stat") as f:
        values = [int(v) for v in f.readline().split()[1:]]
    idle = values[3] + values[4]
    total = sum(values[:8])
    return (total - idle) / CLOCK_TICKS, total / CLOCK_TICKS


def stop_process(process: subprocess.Popen[bytes] | None, grace: float = 10.0) -> None:
    """
    End a child: SIGTERM, then SIGKILL after C{grace} seconds.
    """
    if process is None or process.poll() is not None:
        return
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(grace)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


class Server:
    """
    A stream server run as a child process for one measurement.

    @ivar name: the name in tables (C{radiod}, C{icecast}).
    @ivar port: where it listens.
    @ivar pid: the process to account for (with its descendants).
    @ivar notes: anything worth printing with its results.
    """

    name = "server"

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None
        self.notes: list[str] = []
        self.logs: list[Path] = []

    @property
    def pid(self) -> int:
        """
        The server's own process id.
        """
        assert self.process is not None
        return self.process.pid

    def command(self) -> list[str]:
        """
        The server's command line.
        """
        raise NotImplementedError()

    def start(self) -> None:
        """
        Start the server and return once its stream answers with audio.

        @raise ServerError: if it exits or never becomes ready.
        """
        raise NotImplementedError()

    def stop(self) -> None:
        """
        Stop everything this server started.
        """
        stop_process(self.process)

    def alive(self) -> bool:
        """
        Whether the server process is still running.
        """
        return self.process is not None and self.process.poll() is None

    def _wait_ready(self, timeout: float, what: str) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self.alive():
                raise ServerError(f"{what} exited with status {self._status()}: {self._tail()}")
            if probe(self.port) == 200:
                return
            time.sleep(0.25)
        raise ServerError(f"{what} did not serve audio within {timeout:g} s: {self._tail()}")

    def _status(self) -> int | None:
        return None if self.process is None else self.process.poll()

    def _tail(self, lines: int = 3) -> str:
        text = []
        for log in self.logs:
            if log.exists():
                text += [line for line in log.read_text(errors="replace").splitlines() if line]
        return " | ".join(text[-lines:]) or "(no output)"

    def _open_log(self, name: str) -> IO[bytes]:
        path = self.workdir / name
        self.logs.append(path)
        return open(path, "wb")


class Radiod(Server):
    """
    radiod under twistd, playing the test music folder.
    """

    name = "radiod"

    def __init__(
        self, workdir: Path, music: Path, max_listeners: int, extra: list[str] | None = None
    ) -> None:
        super().__init__(workdir)
        self.music = music
        self.max_listeners = max_listeners
        self.extra = list(extra or [])

    def command(self) -> list[str]:
        """
        The twistd command line, with any extra radiod arguments last.
        """
        twistd = [sys.executable, "-c", "from twisted.scripts.twistd import run; run()"]
        twistd += ["-n", "--pidfile=", f"--logfile={self.workdir / 'radiod.log'}", "radiod"]
        args = ["--port", str(self.port), "--music", str(self.music), "--metaint", "16000"]
        args += ["--queue-size", "512KiB", "--burst-size", "64KiB"]
        args += ["--max-listeners", str(self.max_listeners)]
        # Every simulated listener comes from this machine's address.
        args += ["--max-per-address", "0"]
        return twistd + args + self.extra

    def start(self) -> None:
        env = repo_env()
        self.logs.append(self.workdir / "radiod.log")
        with self._open_log("radiod.out") as out:
            self.process = subprocess.Popen(
                self.command(), stdout=out, stderr=subprocess.STDOUT, env=env, cwd=self.workdir
            )
        try:
            self._wait_ready(30.0, "radiod")
        except ServerError as e:
            if self._status() and "error:" in str(e):
                given = " ".join(self.extra) or "(no extra arguments)"
                raise ServerError(f"radiod rejected its command line ({given}): {e}") from None
            raise


ICECAST_CONFIG = """\
<icecast>
  <location>loopback</location>
  <admin>bench@localhost</admin>
  <hostname>127.0.0.1</hostname>
  <limits>
    <clients>{clients}</clients>
    <sources>4</sources>
    <queue-size>524288</queue-size>
    <client-timeout>30</client-timeout>
    <header-timeout>15</header-timeout>
    <source-timeout>10</source-timeout>
    <burst-on-connect>1</burst-on-connect>
    <burst-size>65536</burst-size>
  </limits>
  <authentication>
    <source-password>{password}</source-password>
    <relay-password>{password}</relay-password>
    <admin-user>admin</admin-user>
    <admin-password>{password}</admin-password>
  </authentication>
  <listen-socket>
    <port>{port}</port>
    <bind-address>127.0.0.1</bind-address>
  </listen-socket>
  <mount type="normal">
    <mount-name>/stream</mount-name>
    <mp3-metadata-interval>16000</mp3-metadata-interval>
  </mount>
  <fileserve>1</fileserve>
  <paths>
    <basedir>{workdir}</basedir>
    <logdir>{logdir}</logdir>
    <webroot>/usr/share/icecast2/web</webroot>
    <adminroot>/usr/share/icecast2/admin</adminroot>
  </paths>
  <logging>
    <accesslog>access.log</accesslog>
    <errorlog>error.log</errorlog>
    <loglevel>3</loglevel>
    <logsize>100000</logsize>
  </logging>
  <security>
    <chroot>0</chroot>
  </security>
</icecast>
"""


class Icecast(Server):
    """
    Icecast 2 with a generated configuration, fed the test music in real
    time by ffmpeg.  As root it runs as C{nobody}: Icecast refuses to run
    as root without C{<changeowner>}.
    """

    name = "icecast"

    def __init__(self, workdir: Path, binary: str, music: Path, clients: int) -> None:
        super().__init__(workdir)
        self.binary = binary
        self.song = next(music.glob("*.mp3"))
        self.clients = clients
        self.password = b64encode(os.urandom(9)).decode("ascii").replace("/", "x")
        self.feeder: subprocess.Popen[bytes] | None = None

    def command(self) -> list[str]:
        return [self.binary, "-c", str(self.workdir / "icecast.xml")]

    def start(self) -> None:
        logdir = self.workdir / "icecast-logs"
        logdir.mkdir(exist_ok=True)
        config = self.workdir / "icecast.xml"
        config.write_text(
            ICECAST_CONFIG.format(
                clients=self.clients,
                password=self.password,
                port=self.port,
                workdir=self.workdir,
                logdir=logdir,
            )
        )
        self.logs.append(logdir / "error.log")
        root = os.geteuid() == 0
        if root:
            os.chmod(self.workdir, 0o755)
            config.chmod(0o644)
            shutil.chown(logdir, "nobody", "nogroup")
            self.notes.append("icecast ran as nobody:nogroup")
        with self._open_log("icecast.out") as out:
            self.process = subprocess.Popen(
                self.command(),
                stdout=out,
                stderr=subprocess.STDOUT,
                cwd=self.workdir,
                user="nobody" if root else None,
                group="nogroup" if root else None,
                extra_groups=[] if root else None,
            )
        self._wait_listening(15.0)
        self._start_feeder()
        self._wait_ready(30.0, "icecast (with its ffmpeg source)")
        self._set_title()

    def _wait_listening(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self.alive():
                raise ServerError(f"icecast exited with status {self._status()}: {self._tail()}")
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return
            except OSError:
                time.sleep(0.2)
        raise ServerError(f"icecast did not listen within {timeout:g} s: {self._tail()}")

    def _start_feeder(self) -> None:
        target = f"icecast://source:{self.password}@127.0.0.1:{self.port}/stream"
        command = ["ffmpeg", "-hide_banner", "-loglevel", "warning", "-nostdin", "-re"]
        command += ["-stream_loop", "-1", "-i", str(self.song), "-c", "copy"]
        command += ["-id3v2_version", "0", "-write_xing", "0"]
        command += ["-content_type", "audio/mpeg", "-ice_name", "radiod benchmark"]
        command += ["-f", "mp3", target]
        with self._open_log("ffmpeg.out") as out:
            self.feeder = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT)

    def _set_title(self) -> None:
        """
        Give the stream the title radiod reads from the tags, so both send
        metadata blocks of the same size.
        """
        song = urllib.parse.quote(f"{ARTIST} - {TITLE}")
        url = f"http://127.0.0.1:{self.port}/admin/metadata?mount=/stream&mode=updinfo&song={song}"
        token = b64encode(f"admin:{self.password}".encode()).decode("ascii")
        request = urllib.request.Request(url, headers={"Authorization": f"Basic {token}"})
        try:
            with urllib.request.urlopen(request, timeout=5) as response:
                response.read()
        except OSError as e:
            self.notes.append(f"could not set the icecast title: {e}")

    def alive(self) -> bool:
        return super().alive() and (self.feeder is None or self.feeder.poll() is None)

    def stop(self) -> None:
        stop_process(self.feeder)
        super().stop()


def scrape_metrics(port: int, timeout: float = 5.0) -> dict[str, float]:
    """
    Read radiod's C{/metrics} once.

    @return: every series's value by its name with labels, as written
        (C{radiod_listeners{mount="/stream"}}); empty when it did not answer.
    """
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=timeout) as r:
            text = r.read().decode("utf-8", "replace")
    except OSError:
        return {}
    series: dict[str, float] = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        name, _, value = line.rpartition(" ")
        try:
            series[name] = float(value)
        except ValueError:
            continue
    return series


def metric_total(series: dict[str, float], name: str) -> float:
    """
    The sum of a metric over all its label sets (0.0 when absent).
    """
    return sum(v for k, v in series.items() if k == name or k.startswith(name + "{"))


def new_workdir(parent: Path, name: str) -> Path:
    """
    A fresh folder for one server's configuration and logs.
    """
    parent.mkdir(parents=True, exist_ok=True)
    return Path(tempfile.mkdtemp(prefix=f"{name}-", dir=parent))
