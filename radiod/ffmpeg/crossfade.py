# -*- test-case-name: tests.ffmpeg.test_crossfade -*-
"""
Rendering the overlap of two tracks with ffmpeg, ahead of its turn.

A mount's C{crossfade} setting overlaps the end of each track with the
start of the next for that many seconds: the outgoing track fades out
while the incoming one plays at its own level.  The overlap is rendered
by an ffmpeg child process into MP3 frames in the mount's format, and
spliced in at frame boundaries (see L{radiod.audio.splice}, which plans
the overlap and lines it up with the frames around it, sample for
sample).  L{radiod.ffmpeg.transcoder.Transcoder.crossfade} is the way in:
it runs ffmpeg in its turn, within its time limit.

Here are the steps between: which frames ffmpeg is given (L{plan}), and
the run itself (L{render}), with the files it reads and writes kept in a
temporary folder of their own (a L{Workspace}).  Every file operation
runs through a L{radiod.interfaces.Runner}, in a thread.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from twisted.internet.defer import Deferred
from twisted.python.failure import Failure

from radiod.audio.block import read_block
from radiod.audio.format import AudioFormat
from radiod.audio.frames import Frame
from radiod.audio.splice import Join, Overlap, outgoing_tail, plan_overlap, splice
from radiod.ffmpeg.arguments import crossfade_arguments, run_timeout
from radiod.interfaces import Runner

__all__ = ["Workspace", "frame_samples", "plan", "render"]


def frame_samples(target: AudioFormat) -> int:
    """
    Samples (per channel) in each MP3 frame at C{target}'s sample rate:
    1152 for MPEG-1 (32 kHz and up), 576 below.
    """
    return 1152 if target.sample_rate >= 32000 else 576


def plan(
    outgoing: Sequence[Frame], incoming: Sequence[Frame], seconds: float, target: AudioFormat
) -> Overlap | None:
    """
    Plan the overlap of two tracks (see
    L{radiod.audio.splice.plan_overlap}), and check the frames ffmpeg is
    to be given are MP3 in C{target}'s sample rate and channels.

    @return: the plan, or C{None} when the tracks do not overlap.
    @raise ValueError: if the frames are not in C{target}'s format.
    """
    samples = frame_samples(target)
    overlap = plan_overlap(len(outgoing), len(incoming), seconds, samples, target.sample_rate)
    if overlap is None:
        return None
    given = [*outgoing[overlap.outgoing_from :], *incoming[: overlap.incoming_to]]
    for frame in given:
        header = frame.header
        if header.layer != 3 or header.samples != samples or not target.matches(header):
            raise ValueError(f"the tracks are not both in {target.describe()}")
    return overlap


@dataclass(frozen=True, slots=True)
class Workspace:
    """
    A temporary folder holding one crossfade's files.

    @ivar directory: the folder.
    @ivar outgoing: the outgoing frames ffmpeg decodes.
    @ivar incoming: the incoming frames ffmpeg decodes.
    @ivar output: where ffmpeg writes the rendered frames.
    """

    directory: str
    outgoing: str
    incoming: str
    output: str

    @classmethod
    def create(cls, outgoing: Sequence[Frame], incoming: Sequence[Frame]) -> Workspace:
        """
        Make a folder and write the frames ffmpeg is to decode into it.
        Blocks.

        @raise OSError: if the folder or a file cannot be written (then
            nothing is left behind).
        """
        directory = tempfile.mkdtemp(prefix="radiod-crossfade-")
        workspace = cls(
            directory,
            os.path.join(directory, "outgoing.mp3"),
            os.path.join(directory, "incoming.mp3"),
            os.path.join(directory, "overlap.mp3"),
        )
        try:
            for path, frames in ((workspace.outgoing, outgoing), (workspace.incoming, incoming)):
                with open(path, "wb") as f:
                    f.write(b"".join(frame.data for frame in frames))
        except OSError:
            workspace.remove()
            raise
        return workspace

    def rendered(self) -> Sequence[Frame]:
        """
        The frames ffmpeg wrote.  Blocks.

        @raise OSError: if the file cannot be read.
        @raise radiod.audio.frames.UnsupportedAudio: if it holds no frames.
        """
        with open(self.output, "rb") as f:
            return read_block(f.read())

    def remove(self) -> None:
        """
        Remove the folder and everything in it, as far as possible.
        Blocks; never raises.
        """
        shutil.rmtree(self.directory, ignore_errors=True)


def render(
    run: Callable[[list[str], float], Deferred[str]],
    runner: Runner,
    ffmpeg: str,
    outgoing: Sequence[Frame],
    incoming: Sequence[Frame],
    overlap: Overlap,
    target: AudioFormat,
    fade_in: bool = False,
) -> Deferred[Join]:
    """
    Render the overlap of two tracks and splice it in.

    The outgoing frames from L{Overlap.outgoing_from} (the first rewritten
    to stand alone) and the incoming track's first L{Overlap.incoming_to}
    frames are written to a L{Workspace}; ffmpeg mixes and encodes them
    (see L{radiod.ffmpeg.arguments.crossfade_arguments}); the frames it
    wrote are read back and spliced (L{radiod.audio.splice.splice}).  The
    workspace is removed however that ends.

    @param run: runs ffmpeg with a command line, within a time limit in
        seconds, firing with its standard error.
    @param runner: runs file operations off the reactor thread.
    @param ffmpeg: the ffmpeg executable.
    @param outgoing: the outgoing track's frames, as they play.
    @param incoming: the incoming track's frames, as they play.
    @param overlap: the plan, from L{plan}.
    @param target: the mount's format.
    @param fade_in: whether the incoming track fades in too.
    @return: a Deferred firing with the join, or failing with what
        C{run} fails with, L{OSError}, L{ValueError} (the rendered frames
        do not fit) or L{radiod.audio.frames.UnsupportedAudio} (ffmpeg
        wrote no frames).
    """
    tail = outgoing_tail(outgoing, overlap)
    head = incoming[: overlap.incoming_to]
    seconds = overlap.length / target.sample_rate

    def rendered(workspace: Workspace) -> Deferred[Join]:
        arguments = crossfade_arguments(
            ffmpeg,
            workspace.outgoing,
            workspace.incoming,
            workspace.output,
            overlap,
            target,
            fade_in,
        )

        def read(_: str) -> Deferred[Sequence[Frame]]:
            return runner(workspace.rendered)

        def joined(frames: Sequence[Frame]) -> Join:
            return splice(incoming, overlap, frames)

        def tidy(result: Join | Failure) -> Deferred[Join]:
            removed = runner(workspace.remove)
            return removed.addCallback(lambda _: result)

        done = run(arguments, run_timeout(seconds)).addCallback(read).addCallback(joined)
        return done.addBoth(tidy)

    return runner(lambda: Workspace.create(tail, head)).addCallback(rendered)
