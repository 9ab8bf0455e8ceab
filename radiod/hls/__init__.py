"""
HLS output: a mount's programme cut into segments and low-latency parts
that any HTTP cache can serve, with playlists that list them.

L{radiod.hls.timing} says which part and segment each moment of a
mount's programme falls in, the same for every rung of its ladder;
L{radiod.hls.rendition} cuts one rung's frames into parts and segments
(packed MP3, each starting with an ID3 tag) and keeps a window of them;
L{radiod.hls.playlist} writes the playlists (pure);
L{radiod.hls.output} follows a mount and its rungs.  The web resources
that serve them are in L{radiod.web.hls}.

It may import L{radiod.audio}, the shared base and L{radiod.broadcast}.
"""
