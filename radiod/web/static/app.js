// The station page: follows one mount's event stream and shows what it
// says (with the cover art of the track playing), and plays the mount:
// its HLS stream where the station serves one and the browser can play
// it, else its ICY stream.  Once the player plays, the title is that of
// the audio it plays, which reached the head of the stream (where the
// events come from) some seconds before.  Every text from the server goes
// in through textContent.
(function () {
  "use strict";

  var EVENTS = "/api/v1/events";
  var RECONNECT_MS = 15000;
  var HLS_LIST = "/web/hls.json";
  var HLS_SCRIPT = "/web/hls.min.js";
  var HLS_TYPE = "application/vnd.apple.mpegurl";
  var ART_SIZE = 256; // the cover's size, in pixels (twice that on dense screens)
  var REMEMBERED = 30; // the tracks of the timeline, at most
  var EARLY = 0.01; // seconds a track may be shown before its start time
  var TAG_SLACK = 0.5; // seconds a tagged track may start after the audio's time

  var page = {
    stationName: byId("station-name"),
    description: byId("station-description"),
    genre: byId("station-genre"),
    mounts: byId("mounts"),
    picker: byId("mount-picker"),
    live: byId("live"),
    art: byId("now-art"),
    title: byId("now-title"),
    artist: byId("now-artist"),
    album: byId("now-album"),
    nextUp: byId("next-up"),
    nextTitle: byId("next-title"),
    elapsed: byId("now-elapsed"),
    listeners: byId("listener-count"),
    listenerWord: byId("listener-word"),
    player: byId("player"),
    m3u: byId("link-m3u"),
    pls: byId("link-pls"),
    stream: byId("link-stream"),
    recent: byId("recent"),
    recentEmpty: byId("recent-empty"),
    status: byId("status")
  };

  // The mount this page shows: "/stream/" shows "/stream"; "/" and
  // "/index.html" show whatever the server's default mount is.
  var wanted = mountFromPath(window.location.pathname);
  var state = null;
  var offset = 0; // server clock minus our clock, in seconds
  var source = null;
  var pausedAt = null;
  var playlists = null; // mount name -> HLS playlist, once known
  var mode = null; // how the player plays: "icy", "hls.js" or "native"
  var hls = null; // the hls.js player, in mode "hls.js"
  var heard = null; // the title, artist and album the audio's ID3 tags name
  var timeline = []; // the tracks the events named, newest first
  var shown = null; // the track shown as playing
  var offAir = false; // whether the mount has gone
  var played = false; // whether the player has played since it (re)loaded
  var requestedAt = null; // server time the player asked for the ICY stream
  var streamStart = null; // server time the ICY player's first audio was at the head
  var switchTimer = null;
  var recentShown = null;

  function byId(id) {
    return document.getElementById(id);
  }

  function mountFromPath(path) {
    if (path.length > 1 && path.charAt(path.length - 1) === "/") {
      return path.slice(0, -1);
    }
    return null;
  }

  function setText(element, text) {
    element.textContent = text == null ? "" : String(text);
  }

  function showText(element, text) {
    setText(element, text);
    element.hidden = !text;
  }

  function now() {
    return Date.now() / 1000;
  }

  function serverNow() {
    return now() + offset;
  }

  function clockTime(seconds) {
    var minutes = Math.floor(seconds / 60);
    var rest = Math.floor(seconds % 60);
    return minutes + ":" + (rest < 10 ? "0" : "") + rest;
  }

  function timeOfDay(serverSeconds) {
    var when = new Date((serverSeconds - offset) * 1000);
    return when.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
  }

  // The cover art at path (as the events give it, "/art/<id>"), scaled
  // by the server; none without a path, or when it cannot be loaded.
  function renderArt(path) {
    var art = page.art;
    if (!path) {
      art.hidden = true;
      art.removeAttribute("src");
      art.removeAttribute("srcset");
      delete art.dataset.art;
      return;
    }
    if (art.dataset.art !== path) {
      art.dataset.art = path;
      delete art.dataset.failed;
      art.srcset = path + "?size=" + ART_SIZE + " 1x, " + path + "?size=" + 2 * ART_SIZE + " 2x";
      art.src = path + "?size=" + ART_SIZE;
    }
    art.hidden = art.dataset.failed === path;
  }

  // The cover art of the track with this title among those the events
  // name (over HLS, the track heard may not be the events' current one).
  function artOfTitle(title) {
    var tracks = [state.now_playing, state.next].concat(state.recent || []);
    for (var i = 0; i < tracks.length; i += 1) {
      if (tracks[i] && tracks[i].title === title) {
        return tracks[i].art;
      }
    }
    return null;
  }

  function displayTitle(track) {
    return track.artist ? track.artist + " – " + track.title : track.title;
  }

  function render(next) {
    state = next;
    offAir = false;
    offset = next.time - now();
    remember(next);
    var station = next.station || {};
    setText(page.stationName, station.name || next.mount);
    showText(page.description, station.description);
    showText(page.genre, station.genre);
    renderMounts(next.mounts || [], next.mount);
    renderListeners(next.listeners);
    setLinks(next);
    follow();
  }

  // The timeline: the tracks the events have named, newest first, each
  // with the server time it reached the head of the stream (started):
  // the one there now, those played before, and those that were there
  // before and that the events no longer list (jingles).
  function remember(next) {
    var head = next.now_playing;
    var seen = {};
    timeline = [head].concat(next.recent || [], timeline).filter(function (track) {
      if (!track || typeof track.started !== "number" || (head && track.started > head.started)) {
        return false;
      }
      var key = track.started + "\n" + track.title;
      if (seen[key]) {
        return false;
      }
      seen[key] = true;
      return true;
    }).sort(function (one, other) {
      return other.started - one.started;
    }).slice(0, REMEMBERED);
  }

  // The server time at which the audio the player plays now was at the
  // head of the stream: over HLS, its program date; over ICY, that of the
  // first audio it got (see anchor) plus what it has played since.  Null
  // until the player plays: the page then shows the head of the stream.
  function heardAt() {
    var player = page.player;
    if (!played) {
      return null;
    }
    if (mode === "hls.js") {
      var date = hls && hls.playingDate;
      return date ? date.getTime() / 1000 : null;
    }
    if (mode === "native") {
      var start = typeof player.getStartDate === "function" ? player.getStartDate().getTime() : NaN;
      return isFinite(start) ? start / 1000 + player.currentTime : null;
    }
    return streamStart === null ? null : streamStart + player.currentTime;
  }

  // When the ICY player's first audio was at the head: it asked for the
  // stream at requestedAt, and was sent the burst the events tell of
  // (burst_seconds when they were sent; it grows, just after the mount
  // started, until it is the full burst).
  function anchor() {
    var asked = requestedAt !== null ? requestedAt : serverNow() - page.player.currentTime;
    var burst = 0;
    if (typeof state.burst_seconds === "number") {
      burst = state.burst_seconds;
      if (typeof state.full_burst_seconds === "number" && burst < state.full_burst_seconds) {
        burst = Math.min(state.full_burst_seconds, burst + Math.max(0, asked - state.time));
      }
    }
    streamStart = asked - burst;
  }

  // The newest track of the timeline that had reached the head by
  // server time at (the oldest one known if none had).
  function trackAt(at) {
    for (var i = 0; i < timeline.length; i += 1) {
      if (timeline[i].started <= at + EARLY) {
        return timeline[i];
      }
    }
    return timeline.length ? timeline[timeline.length - 1] : null;
  }

  // What the listener hears.  Before the player plays, the events'
  // track; then the track of the timeline at the time of the audio
  // (heardAt).  Over HLS the audio's ID3 tags name the track at the start
  // of each segment and have the last word: the timeline only moves the
  // title on to a track that started within the segment.
  function heardTrack() {
    var at = heardAt();
    var byTime = at === null ? null : trackAt(at);
    if (!heard) {
      return byTime || state.now_playing;
    }
    var tagged = taggedTrack(at);
    if (tagged && byTime && byTime.started >= tagged.started) {
      return byTime;
    }
    if (tagged) {
      return tagged;
    }
    if (!heard.track) {
      heard.track = {
        title: heard.title,
        artist: heard.artist,
        album: heard.album,
        live: Boolean(state.now_playing && state.now_playing.live),
        art: artOfTitle(heard.title)
      };
    }
    return heard.track;
  }

  // The track of the timeline the ID3 tags name: the newest of their
  // title that had reached the head by the time of the audio; else, the
  // clocks of the playlists and of the events differing a little, one
  // that reached it just after.
  function taggedTrack(at) {
    var soon = null;
    for (var i = 0; i < timeline.length; i += 1) {
      var track = timeline[i];
      if (track.title === heard.title) {
        if (at === null || track.started <= at + EARLY) {
          return track;
        }
        if (track.started <= at + TAG_SLACK) {
          soon = track;
        }
      }
    }
    return soon;
  }

  // Show the track heard and, while the player plays, switch to the
  // next one when its audio plays: when the time of the audio reaches
  // the time that track reached the head.
  function follow() {
    window.clearTimeout(switchTimer);
    switchTimer = null;
    if (!state || offAir) {
      return;
    }
    showNowPlaying();
    var at = heardAt();
    if (at === null || page.player.paused) {
      return;
    }
    for (var i = timeline.length - 1; i >= 0; i -= 1) {
      if (timeline[i].started > at + EARLY) {
        var wait = (timeline[i].started - at) / (page.player.playbackRate || 1);
        switchTimer = window.setTimeout(follow, Math.max(10, wait * 1000));
        return;
      }
    }
  }

  function showNowPlaying() {
    shown = heardTrack();
    renderNowPlaying(shown, state.station && state.station.name || state.mount);
    renderNext(upNext(shown));
    renderRecent(playedBefore(shown));
    tick();
  }

  // The track after the one heard: the one after it in the timeline
  // while the audio has not reached the head; else the events' next
  // track, or, over HLS while the tags name a track the timeline does not
  // know, the events' track.
  function upNext(track) {
    var index = timeline.indexOf(track);
    if (index > 0) {
      return timeline[index - 1];
    }
    var current = state.now_playing;
    if (track && index < 0 && current && !current.live && track.title !== current.title) {
      return current;
    }
    return state.next;
  }

  // The recently played tracks, those before the track heard.
  function playedBefore(track) {
    var recent = state.recent || [];
    if (!track || typeof track.started !== "number") {
      return recent;
    }
    return recent.filter(function (each) {
      return each.started < track.started;
    });
  }

  function renderNext(track) {
    if (!track || !track.title) {
      setText(page.nextTitle, "");
      page.nextUp.hidden = true;
      return;
    }
    setText(page.nextTitle, displayTitle(track));
    page.nextUp.hidden = false;
  }

  function renderNowPlaying(track, stationName) {
    if (!track) {
      setText(page.title, "Nothing is playing");
      setText(page.artist, "");
      showText(page.album, "");
      renderArt(null);
      page.live.hidden = true;
      document.title = stationName;
      return;
    }
    setText(page.title, track.title);
    setText(page.artist, track.artist);
    showText(page.album, track.album);
    renderArt(track.art);
    page.live.hidden = !track.live;
    document.title = displayTitle(track) + " · " + stationName;
    if ("mediaSession" in navigator && typeof window.MediaMetadata === "function") {
      navigator.mediaSession.metadata = new window.MediaMetadata({
        title: track.title,
        artist: track.artist || stationName,
        album: track.album || stationName,
        artwork: track.art ? [{ src: absolute(track.art + "?size=" + 2 * ART_SIZE) }] : []
      });
    }
  }

  function renderListeners(count) {
    setText(page.listeners, count);
    setText(page.listenerWord, count === 1 ? "listener" : "listeners");
  }

  function renderRecent(tracks) {
    var key = JSON.stringify(tracks.map(function (track) {
      return [track.started, track.title, track.artist];
    }));
    if (key === recentShown) {
      return;
    }
    recentShown = key;
    var items = [];
    tracks.forEach(function (track) {
      var item = document.createElement("li");
      var when = document.createElement("time");
      setText(when, timeOfDay(track.started));
      var what = document.createElement("span");
      what.className = "what";
      setText(what, displayTitle(track));
      item.appendChild(when);
      item.appendChild(what);
      items.push(item);
    });
    page.recent.replaceChildren.apply(page.recent, items);
    page.recentEmpty.hidden = items.length > 0;
  }

  function renderMounts(mounts, current) {
    page.mounts.hidden = mounts.length < 2;
    var options = mounts.map(function (mount) {
      var option = document.createElement("option");
      option.value = mount.name;
      setText(option, mount.station && mount.station !== mount.name
        ? mount.station + " (" + mount.name + ")" : mount.name);
      option.selected = mount.name === current;
      return option;
    });
    page.picker.replaceChildren.apply(page.picker, options);
  }

  function setLinks(next) {
    page.m3u.href = next.m3u;
    page.pls.href = next.pls;
    page.stream.href = next.stream;
    if (mode === null && page.player.getAttribute("src") === null) {
      // Until the choice of player, the ICY stream (nothing is loaded
      // before play).
      page.player.src = absolute(next.stream);
    }
    choosePlayer();
  }

  // The elapsed time of the track heard, counted here between events
  // (nothing for a track only the ID3 tags name).
  function tick() {
    var track = shown;
    if (!track || typeof track.started !== "number") {
      setText(page.elapsed, "");
      return;
    }
    var at = heardAt();
    var elapsed = Math.max(0, (at === null ? serverNow() : at) - track.started);
    if (track.duration > 0) {
      elapsed = Math.min(elapsed, track.duration);
      setText(page.elapsed, clockTime(elapsed) + " / " + clockTime(track.duration));
    } else {
      setText(page.elapsed, clockTime(elapsed));
    }
  }

  function parse(event) {
    try {
      return JSON.parse(event.data);
    } catch (error) {
      return null;
    }
  }

  function connect() {
    var url = EVENTS + (wanted ? "?mount=" + encodeURIComponent(wanted) : "");
    source = new EventSource(url);
    source.addEventListener("open", function () {
      setText(page.status, "");
    });
    source.addEventListener("snapshot", onState);
    source.addEventListener("track", onState);
    source.addEventListener("next", function (event) {
      var data = parse(event);
      if (data && state) {
        state.next = data.next;
        if (!offAir) {
          renderNext(upNext(shown));
        }
      }
    });
    source.addEventListener("listeners", function (event) {
      var data = parse(event);
      if (data && state) {
        state.listeners = data.listeners;
        renderListeners(data.listeners);
      }
    });
    source.addEventListener("gone", function () {
      source.close();
      offAir = true;
      window.clearTimeout(switchTimer);
      setText(page.status, "This mount has gone off the air.");
      setText(page.title, "Off the air");
      setText(page.artist, "");
      renderArt(null);
      renderNext(null);
      window.setTimeout(connect, RECONNECT_MS);
    });
    source.addEventListener("error", function () {
      if (source.readyState === EventSource.CLOSED) {
        // Refused (a mount that is gone, or too many pages open): try
        // again later, as EventSource itself gives up.
        setText(page.status, "Live updates are unavailable; trying again soon.");
        window.setTimeout(connect, RECONNECT_MS);
      } else {
        setText(page.status, "Reconnecting for live updates…");
      }
    });
  }

  function onState(event) {
    var data = parse(event);
    if (data) {
      render(data);
    }
  }

  function absolute(path) {
    return new URL(path, window.location.href).href;
  }

  function play() {
    var playing = page.player.play();
    if (playing && playing.catch) {
      playing.catch(function () {});
    }
  }

  // Once both the mount and the list of HLS playlists are known: HLS
  // through hls.js where the browser has Media Source Extensions (it
  // reads the ID3 titles; the script is loaded only then), natively where
  // it has not but plays HLS itself (iOS before 17.1), else ICY.
  function choosePlayer() {
    if (mode !== null || playlists === null || !state) {
      return;
    }
    var playlist = playlists[state.mount];
    if (!playlist) {
      playIcy();
    } else if (window.MediaSource || window.ManagedMediaSource) {
      mode = "loading";
      loadScript(HLS_SCRIPT, function () {
        if (window.Hls && window.Hls.isSupported()) {
          playHlsJs(absolute(playlist), false);
        } else {
          playIcy();
        }
      }, playIcy);
    } else if (page.player.canPlayType(HLS_TYPE)) {
      playNative(absolute(playlist));
    } else {
      playIcy();
    }
  }

  function loadScript(src, loaded, failed) {
    var script = document.createElement("script");
    script.src = src;
    script.addEventListener("load", loaded);
    script.addEventListener("error", failed);
    document.head.appendChild(script);
  }

  // The player chosen, also shown on the element (data-player) for
  // styles and for tools driving the page.
  function setMode(chosen) {
    mode = chosen;
    page.player.dataset.player = chosen;
  }

  // Each switch keeps the player playing if it was.
  function playIcy() {
    var url = absolute(state.stream);
    var playing = !page.player.paused;
    if (hls) {
      hls.destroy();
      hls = null;
    }
    setMode("icy");
    heard = null;
    if (page.player.src !== url) {
      page.player.src = url;
      if (playing) {
        play();
      }
    }
    follow();
  }

  function playNative(url) {
    var playing = !page.player.paused;
    setMode("native");
    page.player.src = url;
    if (playing) {
      play();
    }
  }

  // hls.js loads no audio before the first play.  Whole segments, not
  // low-latency parts: hls.js 1.7 misplaces the later parts of packed MP3
  // segments in time, so that only the first part of each plays.  Without
  // a worker: the page's policy allows no scripts from blob: addresses.
  function playHlsJs(url, start) {
    var Hls = window.Hls;
    var playing = start || !page.player.paused;
    setMode("hls.js");
    hls = new Hls({ enableWorker: false, lowLatencyMode: false, autoStartLoad: playing });
    hls.on(Hls.Events.ERROR, function (event, data) {
      if (data.fatal) {
        playIcy();
      }
    });
    hls.loadSource(url);
    hls.attachMedia(page.player);
    if (playing) {
      play();
    }
  }

  // hls.js keeps the ID3 tags of what it plays as cues of a metadata
  // track (Safari does too, natively), active while their audio plays:
  // the title changes as it is heard.
  page.player.textTracks.addEventListener("addtrack", function (event) {
    var track = event.track;
    if (track.kind === "metadata") {
      track.mode = "hidden";
      track.addEventListener("cuechange", function () {
        onTags(track.activeCues);
      });
    }
  });

  function onTags(cues) {
    var newest = -Infinity;
    var frames = {};
    Array.prototype.forEach.call(cues || [], function (cue) {
      var frame = cue.value;
      if (!frame || typeof frame.key !== "string" || cue.startTime < newest) {
        return;
      }
      if (cue.startTime > newest) {
        newest = cue.startTime;
        frames = {};
      }
      frames[frame.key] = frame.data;
    });
    if (frames.TIT2 && mode !== "icy") {
      heard = { title: frames.TIT2, artist: frames.TPE1 || "", album: frames.TALB || "" };
      follow();
    }
  }

  page.art.addEventListener("error", function () {
    if (page.art.dataset.art) {
      page.art.dataset.failed = page.art.dataset.art;
    }
    page.art.hidden = true;
  });

  page.picker.addEventListener("change", function () {
    var name = page.picker.value;
    if (name && (!state || name !== state.mount)) {
      window.location.assign(name + "/");
    }
  });

  // A live stream resumed after a pause would play old audio: after more
  // than a few seconds, start again from the live point.
  page.player.addEventListener("pause", function () {
    pausedAt = now();
  });
  // Each load starts afresh: the player asks for its stream when it
  // loads while playing, or when it plays first after a load.
  page.player.addEventListener("loadstart", function () {
    played = false;
    streamStart = null;
    requestedAt = page.player.paused ? null : serverNow();
    follow();
  });
  page.player.addEventListener("play", function () {
    if (!played) {
      requestedAt = serverNow();
    }
    var resumeAfter = pausedAt;
    pausedAt = null;
    var stale = resumeAfter !== null && now() - resumeAfter > 5;
    if (mode === "hls.js" && stale) {
      var url = hls.url;
      hls.destroy();
      playHlsJs(url, true);
    } else if (mode === "hls.js" && !hls.loadingEnabled) {
      hls.startLoad();
    } else if (stale && mode !== "hls.js") {
      page.player.src = page.player.currentSrc;
      play();
    }
  });
  page.player.addEventListener("playing", function () {
    setText(page.status, "");
    if (!played && state) {
      played = true;
      anchor();
    }
    follow();
  });
  ["pause", "seeked", "ratechange"].forEach(function (name) {
    page.player.addEventListener(name, follow);
  });
  page.player.addEventListener("error", function () {
    if (mode === "native") {
      playIcy();
    } else if (page.player.getAttribute("src") !== null) {
      setText(page.status, "The stream cannot be played right now.");
    }
  });

  // A hidden mount is listed only for its own page, which names it.
  var hlsList = HLS_LIST + (wanted ? "?mount=" + encodeURIComponent(wanted) : "");
  fetch(hlsList).then(function (response) {
    return response.ok ? response.json() : {};
  }).catch(function () {
    return {};
  }).then(function (list) {
    playlists = list || {};
    choosePlayer();
  });
  // Every second, the elapsed time; and the title, should the time of
  // the audio have jumped (a player that skipped ahead to live).
  window.setInterval(function () {
    if (state && !offAir && heardTrack() !== shown) {
      follow();
    } else {
      tick();
    }
  }, 1000);
  connect();
})();
