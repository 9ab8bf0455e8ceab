# -*- test-case-name: tests.ingest.test_source -*-
"""
The station's live sources over the Icecast source protocol (C{PUT} and
C{SOURCE}), and SHOUTcast v1 sources handed over already answered.

L{Sources} judges a source request (mount name, Basic credentials,
content type, whether the mount is free) and puts an accepted source on
its mount: a mount that plays a playlist is taken over through its
L{radiod.broadcast.switch.Switch}; any other mount name becomes a live mount
for as long as the source is connected.  Each source is then a
L{radiod.ingest.source.SourceConnection}.  On a mount configured with
C{record}, each show's whole frames also go to a
L{radiod.ingest.recording.Recorder}.  On a mount with a
C{silence_timeout}, a source that sends dead air is taken off the air
until it sounds again (L{radiod.ingest.silence}), which L{Sources.on_silence}
tells.
"""

from __future__ import annotations

from collections.abc import Callable, MutableMapping
from typing import cast

from twisted.internet.defer import Deferred, succeed
from twisted.internet.interfaces import IPushProducer, IReactorProcess, IReactorTime
from twisted.logger import Logger

from radiod.audio.track import TrackInfo
from radiod.auth import parse_basic_auth
from radiod.broadcast.live import LiveSource
from radiod.broadcast.mount import Mount
from radiod.broadcast.switch import Switch
from radiod.config import PLAYLIST_SUFFIXES, MountConfig, StationConfig, source_password
from radiod.ffmpeg.binary import find_ffmpeg
from radiod.ingest.recording import Recorder
from radiod.ingest.silence import SilenceWatches
from radiod.ingest.source import SOURCE_TIMEOUT, SourceConnection
from radiod.ingest.stream import StreamInfo
from radiod.request import Request
from radiod.secret import same_secret

__all__ = [
    "ACCEPTED_TYPES",
    "CONTINUE",
    "OK",
    "SOURCE_METHODS",
    "STALE_AFTER",
    "SourceRefused",
    "Sources",
]

STALE_AFTER = 2.0
"""
Seconds of silence after which a source counts as stale: the same
credentials connecting again replace it instead of being refused.
"""

ACCEPTED_TYPES = frozenset({"audio/mpeg", "audio/mp3", "audio/x-mpeg"})
"""
The content types a source may send.
"""

CONTINUE = b"HTTP/1.1 100 Continue\r\nContent-Length: 0\r\n\r\n"
"""
The interim reply to C{Expect: 100-continue}, as Icecast 2.4 sends it.
"""

OK = b"HTTP/1.0 200 OK\r\n\r\n"
"""
The reply that tells a source to start sending audio.
"""

SOURCE_METHODS = "GET, HEAD, OPTIONS, PUT, SOURCE"
"""
The C{Allow} header of a 401: libshout sends C{PUT} only if it is listed.
"""


def _matches(given: tuple[str, str], user: str, password: str) -> bool:
    """
    Whether credentials are C{user} and C{password}, compared in constant
    time (both parts are always compared, each hashed first so that the
    time taken does not tell their lengths).
    """
    user_ok = same_secret(given[0], user)
    password_ok = same_secret(given[1], password)
    return user_ok and password_ok


def _valid_mount_name(name: str) -> bool:
    """
    Whether a source may use C{name} as a mount: the rules of configured
    mount names.
    """
    return (
        name.startswith("/")
        and len(name) > 1
        and name.isprintable()
        and not any(c.isspace() or c in "?#;" for c in name)
        and ".." not in name
        and not name.lower().endswith(PLAYLIST_SUFFIXES)
    )


class SourceRefused(Exception):
    """
    A source request is refused.

    @ivar status: the HTTP status to answer.
    @ivar reason: the text of the answer's body.
    @ivar headers: extra headers for the answer.
    """

    def __init__(self, status: int, reason: str, headers: list[tuple[str, str]] | None = None):
        super().__init__(status, reason)
        self.status = status
        self.reason = reason
        self.headers = headers or []


class Sources:
    """
    The station's live sources: which mount each is on, and the checks a
    source request must pass.

    @ivar connected: the connected sources by mount name.
    @ivar created: the mounts that exist only for a live source.
    @ivar recordings: the recorder of each connected source's show, by
        mount name, on mounts that record.
    @ivar make_recorder: builds the recorder of a show on a mount, from
        the mount's settings.
    @ivar on_connect: called with each source put on a mount (its
        C{on_end} tells when it leaves).
    @ivar silence: the dead-air detection of the sources (which relays
        given it share), or C{None} for none.
    @ivar on_silence: called with the mount's name, the source's peer
        and C{True} when a live source (or a relay given L{silence}) is
        taken off the air for sending dead air, C{False} when it is back
        on (see L{SilenceWatches.on_silence}).
    """

    _log = Logger()

    def __init__(
        self,
        clock: IReactorTime,
        config: StationConfig,
        mounts: MutableMapping[str, Mount],
        timeout: float = SOURCE_TIMEOUT,
        stale_after: float = STALE_AFTER,
        make_recorder: Callable[[MountConfig], Recorder] | None = None,
        silence: SilenceWatches | None = None,
    ) -> None:
        """
        @param clock: for timeouts, new mounts' pacers and recordings'
            start times.
        @param config: the station's settings (passwords).
        @param mounts: the station's mounts by name (the registry the
            server shares, see L{radiod.broadcast.registry}); live mounts
            are added to it and removed from it.
        @param timeout: seconds of silence before a source is disconnected.
        @param stale_after: seconds of silence after which a source may be
            replaced by one with the same credentials.
        @param make_recorder: builds a show's recorder; by default one
            writing into the mount's C{record_dir}.
        @param silence: watches sources for dead air; by default, when
            C{clock} can also spawn processes (it is the reactor), one
            running the ffmpeg L{radiod.ffmpeg.binary.find_ffmpeg}
            finds, else none.
        """
        self._clock = clock
        self._config = config
        self._mounts = mounts
        self._timeout = timeout
        self._stale_after = stale_after
        self.connected: dict[str, SourceConnection] = {}
        self.created: set[str] = set()
        self.recordings: dict[str, Recorder] = {}
        self.make_recorder = make_recorder or self._recorder
        self.on_connect: list[Callable[[SourceConnection], None]] = []
        if silence is None and IReactorProcess.providedBy(clock):
            silence = SilenceWatches(cast(IReactorProcess, clock), clock, mounts, find_ffmpeg())
        self.silence = silence
        self.on_silence: list[Callable[[str, str, bool], None]] = (
            silence.on_silence if silence is not None else []
        )
        if not config.source_password and not any(m.source_password for m in config.mounts):
            self._log.info("No source password is configured: live sources are refused")

    def info_for(self, mount: str) -> StreamInfo | None:
        """
        What the source connected to C{mount} says about its stream, if
        one is connected.
        """
        source = self.connected.get(mount)
        return source.info if source is not None else None

    def reconfigure(self, config: StationConfig) -> None:
        """
        Check sources against new settings (passwords) from now on.
        """
        self._config = config

    def disconnect(self, mount: str) -> None:
        """
        Disconnect the source on C{mount}, if one is connected.
        """
        source = self.connected.get(mount)
        if source is not None:
            source.disconnect()

    def _password(self, name: str) -> str:
        return source_password(self._config, name)

    def live_source(self, mount: str) -> LiveSource | None:
        """
        The live source of the source connected to C{mount}, if one is
        connected.
        """
        source = self.connected.get(mount)
        return source.live if source is not None else None

    def check(self, request: Request, authorised: bool = False) -> tuple[tuple[str, str], bool]:
        """
        Judge a source request.

        @param authorised: whether an authentication URL let the source
            in (its password is not checked then).
        @return: the credentials given, and whether the body is chunked.
        @raise SourceRefused: 400 for a bad mount name or transfer coding,
            401 for missing or wrong credentials (or when no password is
            configured), 415 for a content type other than MPEG audio.
        """
        name = request.path
        if not _valid_mount_name(name):
            raise SourceRefused(400, "Bad mount name")
        unauthorised = SourceRefused(
            401,
            "You need to authenticate",
            [("WWW-Authenticate", 'Basic realm="radiod"'), ("Allow", SOURCE_METHODS)],
        )
        expected = source_password(self._config, name)
        credentials = parse_basic_auth(request.header("Authorization"))
        if authorised:
            credentials = credentials or ("source", "")
        elif not expected:
            self._log.warn(
                "Refusing source for {mount}: no source password is configured", mount=name
            )
            raise unauthorised
        elif credentials is None or not _matches(credentials, "source", expected):
            raise unauthorised
        content_type = request.header("Content-Type")
        if content_type is None:
            if request.method == "PUT":
                raise SourceRefused(400, "No Content-type given")
            content_type = "audio/mpeg"
        if content_type.split(";", 1)[0].strip().lower() not in ACCEPTED_TYPES:
            raise SourceRefused(415, "Content-type not supported")
        codings = [
            c.strip().lower()
            for c in ",".join(request.header_list("Transfer-Encoding")).split(",")
            if c.strip()
        ]
        if codings not in ([], ["chunked"]):
            raise SourceRefused(400, "Transfer-Encoding not supported")
        return credentials, codings == ["chunked"]

    def connect(
        self,
        request: Request,
        transport: IPushProducer,
        write: Callable[[bytes], None],
        close: Callable[[], None],
        peer: str,
        authorised: bool = False,
    ) -> SourceConnection:
        """
        Check a source request and, if it passes, answer it and put the
        source on its mount.

        @param request: the source's request.
        @param transport: its connection, to pause when the queue is full.
        @param write: writes bytes to the source.
        @param close: closes the connection.
        @param peer: the source's address, for logs.
        @param authorised: whether an authentication URL let it in
            (see L{check}).
        @return: the accepted source; feed it the body bytes.
        @raise SourceRefused: as L{check} does, or 403 when the mount
            already has a live source that is not stale or does not have
            the same credentials, or when the mount cannot take one.
        """
        credentials, chunked = self.check(request, authorised)
        name = request.path
        self._take_over(name, credentials, peer)
        mount = self._mounts.get(name)
        if mount is not None and mount.switch is None:
            raise SourceRefused(403, "Mountpoint does not take live sources")
        info = StreamInfo.from_request(request)
        if mount is None:
            mount = self._create(name, info)
        expect = (request.header("Expect") or "").strip().lower()
        if request.method == "PUT" and expect == "100-continue":
            write(CONTINUE)
        write(OK)
        source = self._attach(mount, credentials, info, chunked, transport, close, peer)
        self._log.info(
            "Source from {peer} connected to {mount} ({method}, {content_type})",
            peer=peer,
            mount=name,
            method=request.method,
            content_type=request.header("Content-Type") or "audio/mpeg",
        )
        return source

    def connect_v1(
        self,
        name: str,
        credentials: tuple[str, str],
        info: StreamInfo,
        transport: IPushProducer,
        close: Callable[[], None],
        peer: str,
    ) -> SourceConnection:
        """
        Put a SHOUTcast v1 source, already authenticated and answered, on
        the existing mount C{name}.

        @param name: the mount name.
        @param credentials: the user and password it gave.
        @param info: what it said about its stream.
        @param transport: its connection, to pause when the queue is full.
        @param close: closes the connection.
        @param peer: the source's address, for logs.
        @return: the accepted source; feed it the audio bytes.
        @raise SourceRefused: 403 as L{connect} does, or when C{name} is
            not a mount that takes live sources.
        """
        self._take_over(name, credentials, peer)
        mount = self._mounts.get(name)
        if mount is None or mount.switch is None:
            raise SourceRefused(403, "Mountpoint does not take live sources")
        source = self._attach(mount, credentials, info, False, transport, close, peer)
        self._log.info("SHOUTcast source from {peer} connected to {mount}", peer=peer, mount=name)
        return source

    def _take_over(self, name: str, credentials: tuple[str, str], peer: str) -> None:
        """
        Make room on C{name}: replace a source there that has gone silent
        and gave the same credentials.

        @raise SourceRefused: 403 when the mount has a live source that is
            not stale or gave other credentials.
        """
        old = self.connected.get(name)
        if old is None:
            return
        same = same_secret("\0".join(old.credentials), "\0".join(credentials))
        if not same or old.silent_for() < self._stale_after:
            raise SourceRefused(403, "Mountpoint in use")
        self._log.info(
            "Source on {mount} from {peer} is silent; replaced by {new}",
            mount=name,
            peer=old.peer,
            new=peer,
        )
        old.disconnect()

    def _attach(
        self,
        mount: Mount,
        credentials: tuple[str, str],
        info: StreamInfo,
        chunked: bool,
        transport: IPushProducer,
        close: Callable[[], None],
        peer: str,
    ) -> SourceConnection:
        """
        Put an accepted source on air on C{mount}, recording it if asked.
        """
        switch = mount.switch
        assert switch is not None
        track = TrackInfo(path="", title=info.name or mount.config.station_name)
        source = SourceConnection(
            self._clock,
            transport,
            close,
            mount.name,
            peer,
            credentials,
            track,
            info,
            chunked,
            timeout=self._timeout,
        )
        switch.attach(source.live)
        self.connected[mount.name] = source
        source.on_end.append(self._ended)
        self._record(source, mount)
        self._watch(source)
        for observer in self.on_connect:
            observer(source)
        return source

    def _recorder(self, config: MountConfig) -> Recorder:
        return Recorder(config.name, config.record_dir, self._clock)

    def _record(self, source: SourceConnection, mount: Mount) -> None:
        """
        On a mount that records, write the source's whole frames to a new
        recording as they arrive, and close it when the source ends (after
        its last frames were split off).
        """
        if not mount.config.record:
            return
        recorder = self.make_recorder(mount.config)
        self.recordings[source.mount] = recorder
        source.live.on_frames.append(recorder.write)

        def ended(source: SourceConnection) -> None:
            recorder.close()
            if self.recordings.get(source.mount) is recorder:
                del self.recordings[source.mount]

        source.on_end.insert(0, ended)

    def _watch(self, source: SourceConnection) -> None:
        """
        Watch the source for dead air while it is connected, if its mount
        asks for it.
        """
        if self.silence is None:
            return
        watch = self.silence.watch(source.mount, source.live, source.peer)
        if watch is not None:
            source.on_end.insert(0, lambda _: watch.stop())

    def _create(self, name: str, info: StreamInfo) -> Mount:
        config = MountConfig(
            name=name,
            station_name=info.name or name,
            genre=info.genre,
            description=info.description,
            url=info.url,
            public=bool(info.public),
        )
        switch = Switch(None, name=name)
        mount = Mount(config, switch, self._clock)

        def drained() -> None:
            self._clock.callLater(0, self._remove, mount)

        switch.on_drained.append(drained)
        mount.start()
        self._mounts[name] = mount
        self.created.add(name)
        self._log.info("Live mount {mount} created", mount=name)
        return mount

    def _remove(self, mount: Mount) -> None:
        """
        A live mount's source left and its audio has played out: close its
        listeners and forget it, unless a new source took it over.
        """
        switch = mount.switch
        assert switch is not None
        if switch.live is not None or self._mounts.get(mount.name) is not mount:
            return
        del self._mounts[mount.name]
        self.created.discard(mount.name)
        count = len(mount.listeners)
        mount.stop()
        self._log.info(
            "Live mount {mount} removed; {count} listeners closed", mount=mount.name, count=count
        )

    def _ended(self, source: SourceConnection) -> None:
        if self.connected.get(source.mount) is source:
            del self.connected[source.mount]
        mount = self._mounts.get(source.mount)
        if mount is not None and mount.switch is not None:
            mount.switch.detach(source.live)

    def ended(self) -> Deferred[None]:
        """
        Fires once the dead-air detectors of the sources stopped so far
        (and of the relays that share L{silence}) have ended: after
        L{stop}, once no ffmpeg of theirs is left.
        """
        if self.silence is None:
            return succeed(None)
        return self.silence.ended()

    def stop(self) -> None:
        """
        Disconnect every source and remove the live mounts (see L{ended}
        for their dead-air detectors).
        """
        for source in list(self.connected.values()):
            source.disconnect()
        for name in list(self.created):
            mount = self._mounts.pop(name, None)
            if mount is not None:
                mount.stop()
        self.created.clear()
