// The station page: follows one mount's event stream and shows what it
// says.  Every text from the server goes in through textContent.
(function () {
  "use strict";

  var EVENTS = "/api/v1/events";
  var RECONNECT_MS = 15000;

  var page = {
    stationName: byId("station-name"),
    description: byId("station-description"),
    genre: byId("station-genre"),
    mounts: byId("mounts"),
    picker: byId("mount-picker"),
    live: byId("live"),
    title: byId("now-title"),
    artist: byId("now-artist"),
    album: byId("now-album"),
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

  function displayTitle(track) {
    return track.artist ? track.artist + " – " + track.title : track.title;
  }

  function render(next) {
    state = next;
    offset = next.time - now();
    var station = next.station || {};
    setText(page.stationName, station.name || next.mount);
    showText(page.description, station.description);
    showText(page.genre, station.genre);
    renderMounts(next.mounts || [], next.mount);
    renderNowPlaying(next.now_playing, station.name || next.mount);
    renderListeners(next.listeners);
    renderRecent(next.recent || []);
    setLinks(next);
    tick();
  }

  function renderNowPlaying(track, stationName) {
    if (!track) {
      setText(page.title, "Nothing is playing");
      setText(page.artist, "");
      showText(page.album, "");
      page.live.hidden = true;
      document.title = stationName;
      return;
    }
    setText(page.title, track.title);
    setText(page.artist, track.artist);
    showText(page.album, track.album);
    page.live.hidden = !track.live;
    document.title = displayTitle(track) + " · " + stationName;
    if ("mediaSession" in navigator && typeof window.MediaMetadata === "function") {
      navigator.mediaSession.metadata = new window.MediaMetadata({
        title: track.title,
        artist: track.artist || stationName,
        album: track.album || stationName
      });
    }
  }

  function renderListeners(count) {
    setText(page.listeners, count);
    setText(page.listenerWord, count === 1 ? "listener" : "listeners");
  }

  function renderRecent(tracks) {
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
    var url = new URL(next.stream, window.location.href).href;
    if (page.player.getAttribute("src") === null) {
      page.player.src = url;
    }
  }

  // The elapsed time of the track, counted here between events.
  function tick() {
    var track = state && state.now_playing;
    if (!track) {
      setText(page.elapsed, "");
      return;
    }
    var elapsed = Math.max(0, serverNow() - track.started);
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
    source.addEventListener("listeners", function (event) {
      var data = parse(event);
      if (data && state) {
        state.listeners = data.listeners;
        renderListeners(data.listeners);
      }
    });
    source.addEventListener("gone", function () {
      source.close();
      setText(page.status, "This mount has gone off the air.");
      setText(page.title, "Off the air");
      setText(page.artist, "");
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
  page.player.addEventListener("play", function () {
    var resumeAfter = pausedAt;
    pausedAt = null;
    if (resumeAfter !== null && now() - resumeAfter > 5 && state) {
      page.player.src = new URL(state.stream, window.location.href).href;
      var playing = page.player.play();
      if (playing && playing.catch) {
        playing.catch(function () {});
      }
    }
  });
  page.player.addEventListener("playing", function () {
    setText(page.status, "");
  });
  page.player.addEventListener("error", function () {
    if (page.player.getAttribute("src") !== null) {
      setText(page.status, "The stream cannot be played right now.");
    }
  });

  window.setInterval(tick, 1000);
  connect();
})();
