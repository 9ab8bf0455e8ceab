// The admin page: asks the admin API what every mount is doing every few
// seconds and shows it (what plays and what is next, the source, the
// listeners, the queue and the song requests), draws the listeners of the
// last day and the listening hours of the last month as SVG, and carries
// out actions through the admin commands.  Every text from the server
// goes in through textContent or as an attribute value, never as markup.
(function () {
  "use strict";

  var MOUNTS = "/api/v1/admin/mounts";
  var HEADCOUNT = "/api/v1/admin/headcount";
  var REQUESTS = "/api/v1/admin/requests";
  var FIGURES = "/api/v1/stats";
  var LIBRARY = "/library";
  var POLL_MS = 2000;
  var HEADCOUNT_MS = 60000;
  var FIGURES_MS = 600000;
  var DAY = 86400;
  var MONTH_DAYS = 30;
  var RESULTS = 20;
  var SERIES_COLOURS = 6;
  var SVG = "http://www.w3.org/2000/svg";

  var page = {
    status: byId("status"),
    updated: byId("updated"),
    reload: byId("reload"),
    reloadConfig: byId("reload-config"),
    mounts: byId("mounts"),
    noMounts: byId("no-mounts"),
    listenersChart: byId("listeners-chart"),
    legend: byId("listeners-legend"),
    tlhChart: byId("tlh-chart"),
    tlhNone: byId("tlh-none"),
    mountTemplate: byId("mount-template"),
    listenerTemplate: byId("listener-template")
  };

  var views = {}; // mount name -> its view (see makeView)
  var offset = 0; // server clock minus our clock, in seconds
  var pollTimer = null;

  function byId(id) {
    return document.getElementById(id);
  }

  function setText(element, text) {
    var value = text == null ? "" : String(text);
    if (element.textContent !== value) {
      element.textContent = value;
    }
  }

  function now() {
    return Date.now() / 1000;
  }

  function pad(number) {
    return (number < 10 ? "0" : "") + number;
  }

  // "m:ss", "h:mm:ss", or "d days h:mm:ss".
  function duration(seconds) {
    seconds = Math.max(0, Math.floor(seconds));
    var days = Math.floor(seconds / DAY);
    var hours = Math.floor((seconds % DAY) / 3600);
    var minutes = Math.floor((seconds % 3600) / 60);
    var rest = seconds % 60;
    var clock = hours || days ? hours + ":" + pad(minutes) + ":" + pad(rest) : minutes + ":" + pad(rest);
    return days ? days + (days === 1 ? " day " : " days ") + clock : clock;
  }

  // A server clock time as the browser's local time of day.
  function localTime(serverSeconds) {
    var when = new Date((serverSeconds - offset) * 1000);
    return pad(when.getHours()) + ":" + pad(when.getMinutes()) + ":" + pad(when.getSeconds());
  }

  function bytes(count) {
    if (count < 1024) {
      return count + " B";
    }
    if (count < 1024 * 1024) {
      return (count / 1024).toFixed(1) + " KiB";
    }
    return (count / 1024 / 1024).toFixed(1) + " MiB";
  }

  function trackText(track) {
    if (!track) {
      return "";
    }
    return track.artist ? track.artist + " \u2013 " + track.title : track.title;
  }

  function setStatus(text, error) {
    setText(page.status, text);
    page.status.classList.toggle("error", Boolean(error));
  }

  // Requests

  // What went wrong with a reply: its JSON error, its Icecast message,
  // or its status line.
  function failure(response, text) {
    var reason = response.status + " " + response.statusText;
    try {
      var answer = JSON.parse(text);
      if (answer && typeof answer.error === "string") {
        return answer.error;
      }
    } catch (ignored) {
      // Not JSON.
    }
    var message = icecastReply(text);
    return message ? message.message : reason;
  }

  function request(method, url, body, contentType) {
    var options = { method: method, credentials: "same-origin", cache: "no-store", headers: {} };
    if (body != null) {
      options.body = body;
      options.headers["Content-Type"] = contentType;
    }
    return fetch(url, options).then(function (response) {
      return response.text().then(function (text) {
        if (!response.ok) {
          var error = new Error(failure(response, text));
          error.status = response.status;
          throw error;
        }
        return text;
      });
    });
  }

  function getJSON(url) {
    return request("GET", url).then(JSON.parse);
  }

  // An action of radiod's admin API: a JSON object posted.
  function postJSON(url, params) {
    return request("POST", url, JSON.stringify(params), "application/json").then(JSON.parse);
  }

  // Icecast's <iceresponse>: its message and whether it succeeded.
  function icecastReply(text) {
    var parsed = new DOMParser().parseFromString(text, "text/xml");
    var message = parsed.querySelector("iceresponse > message");
    var done = parsed.querySelector("iceresponse > return");
    if (!message) {
      return null;
    }
    return { message: message.textContent, ok: done !== null && done.textContent === "1" };
  }

  // An Icecast admin command: its parameters posted as a form.
  function icecast(path, params) {
    var body = new URLSearchParams(params).toString();
    return request("POST", path, body, "application/x-www-form-urlencoded").then(function (text) {
      var reply = icecastReply(text);
      if (!reply) {
        throw new Error("Unexpected answer from " + path);
      }
      if (!reply.ok) {
        throw new Error(reply.message);
      }
      return reply.message;
    });
  }

  // Run an action from a button: the button is disabled meanwhile, the
  // outcome goes to the status line, and the mounts are asked for again.
  function act(button, action, describe) {
    button.disabled = true;
    setStatus("Working\u2026", false);
    action()
      .then(function (result) {
        setStatus(describe(result), false);
      })
      .catch(function (error) {
        setStatus(error.message, true);
      })
      .then(function () {
        button.disabled = false;
        poll();
      });
  }

  function requestsPath(mountName) {
    return REQUESTS + mountName.split("/").map(encodeURIComponent).join("/");
  }

  // The mounts

  function make(template) {
    return template.content.firstElementChild.cloneNode(true);
  }

  function makeView(name) {
    var root = make(page.mountTemplate);
    var view = {
      name: name,
      root: root,
      mountName: root.querySelector(".mount-name"),
      station: root.querySelector(".mount-station"),
      count: root.querySelector(".listener-count"),
      nowTitle: root.querySelector(".now-title"),
      nowArtist: root.querySelector(".now-artist"),
      nowTime: root.querySelector(".now-time"),
      next: root.querySelector(".next"),
      sourceText: root.querySelector(".source-text"),
      killSource: root.querySelector(".kill-source"),
      actions: root.querySelector(".actions"),
      skip: root.querySelector(".skip"),
      queueBox: root.querySelector(".queue-box"),
      search: root.querySelector(".search"),
      words: root.querySelector(".search-words"),
      results: root.querySelector(".results"),
      queuedHead: root.querySelector(".queued-head"),
      queued: root.querySelector(".queued"),
      requestsBox: root.querySelector(".requests-box"),
      requests: root.querySelector(".requests"),
      rows: root.querySelector(".listeners tbody"),
      table: root.querySelector(".listeners"),
      noListeners: root.querySelector(".no-listeners"),
      listeners: {}, // listener id -> its row
      destinations: null
    };
    root.dataset.mount = name;
    setText(view.mountName, name);
    view.skip.addEventListener("click", function () {
      act(
        view.skip,
        function () {
          return postJSON("/api/v1/admin/skip", { mount: name });
        },
        function (reply) {
          return "Skipped " + trackText(reply.skipped) + " on " + reply.mount;
        }
      );
    });
    view.killSource.addEventListener("click", function () {
      act(
        view.killSource,
        function () {
          return icecast("/admin/killsource", { mount: name });
        },
        function (message) {
          return message + " (" + name + ")";
        }
      );
    });
    view.search.addEventListener("submit", function (event) {
      event.preventDefault();
      search(view);
    });
    return view;
  }

  function search(view) {
    var words = view.words.value.trim();
    var url = LIBRARY + "?limit=" + RESULTS + (words ? "&q=" + encodeURIComponent(words) : "");
    getJSON(url)
      .then(function (listing) {
        showResults(view, listing.tracks || [], listing.total || 0);
      })
      .catch(function (error) {
        setStatus("Library search failed: " + error.message, true);
      });
  }

  function showResults(view, tracks, total) {
    view.results.replaceChildren();
    if (!tracks.length) {
      var none = document.createElement("li");
      none.className = "empty";
      setText(none, "Nothing found.");
      view.results.appendChild(none);
      return;
    }
    tracks.forEach(function (track) {
      var item = document.createElement("li");
      item.className = "result";
      var what = document.createElement("span");
      what.className = "what";
      setText(what, trackText(track) + (track.album ? " (" + track.album + ")" : ""));
      var button = document.createElement("button");
      button.type = "button";
      button.className = "queue";
      setText(button, "Queue");
      button.addEventListener("click", function () {
        act(
          button,
          function () {
            return postJSON("/api/v1/admin/queue", { mount: view.name, id: track.id });
          },
          function (reply) {
            return "Queued " + trackText(reply.queued) + " on " + reply.mount + ", place " + reply.position;
          }
        );
      });
      item.appendChild(what);
      item.appendChild(document.createTextNode(" "));
      item.appendChild(button);
      view.results.appendChild(item);
    });
    if (total > tracks.length) {
      var more = document.createElement("li");
      more.className = "empty";
      setText(more, "\u2026 and " + (total - tracks.length) + " more: narrow the search.");
      view.results.appendChild(more);
    }
  }

  function showList(list, items, text) {
    list.replaceChildren();
    items.forEach(function (item) {
      var entry = document.createElement("li");
      setText(entry, text(item));
      list.appendChild(entry);
    });
  }

  function sourceText(source) {
    var encoder = source.encoder;
    var since = "";
    if (encoder && encoder.connected_at != null) {
      since = ", connected since " + localTime(encoder.connected_at);
    }
    if (source.kind === "live" && encoder) {
      return "Live encoder from " + encoder.address + since;
    }
    if (source.kind === "live") {
      return "Live";
    }
    if (source.kind === "relay") {
      return "Relay" + (source.relay ? " of " + source.relay : "");
    }
    var text = source.kind === "none" ? "Nothing on air" : "Playlist";
    if (encoder) {
      text += "; live encoder from " + encoder.address + since + " getting ready";
    }
    return text;
  }

  function renderMount(view, mount, time, names) {
    setText(view.station, mount.station_name ? "\u2013 " + mount.station_name : "");
    setText(view.count, mount.listeners);
    var playing = mount.now_playing;
    setText(view.nowTitle, playing ? playing.title : "Nothing yet");
    setText(view.nowArtist, playing && playing.artist ? " \u2013 " + playing.artist : "");
    var timing = "";
    if (playing) {
      timing = " (" + duration(time - playing.started);
      timing += playing.duration ? " / " + duration(playing.duration) + ")" : ")";
    }
    setText(view.nowTime, timing);
    setText(view.next, mount.next ? trackText(mount.next) + (mount.next.requested ? " (requested)" : "") : "\u2014");
    setText(view.sourceText, sourceText(mount.source));
    view.root.dataset.source = mount.source.kind;
    view.killSource.hidden = !mount.source.encoder;
    view.actions.hidden = !mount.library;
    view.queueBox.hidden = !mount.library;
    view.queuedHead.hidden = !mount.queued.length;
    showList(view.queued, mount.queued, trackText);
    if (!mount.requests) {
      view.requestsBox.hidden = true;
    }
    renderListeners(view, mount, names);
  }

  function renderRequests(view, pending) {
    var waiting = pending.requests || [];
    view.requestsBox.hidden = !waiting.length;
    showList(view.requests, waiting, function (waitingRequest) {
      return trackText(waitingRequest.track) + " \u2014 asked at " + localTime(waitingRequest.at);
    });
  }

  function updateDestinations(view, row, names) {
    var others = names.filter(function (other) {
      return other !== view.name;
    });
    var key = others.join("\n");
    if (row.dataset.destinations === key) {
      return;
    }
    row.dataset.destinations = key;
    var select = row.querySelector(".move-to");
    var chosen = select.value;
    select.replaceChildren();
    others.forEach(function (other) {
      var option = document.createElement("option");
      option.value = other;
      setText(option, other);
      select.appendChild(option);
    });
    if (others.indexOf(chosen) >= 0) {
      select.value = chosen;
    }
    select.disabled = !others.length;
    row.querySelector(".move").disabled = !others.length;
  }

  function makeRow(view, id) {
    var row = make(page.listenerTemplate);
    row.dataset.id = String(id);
    setText(row.querySelector(".id"), id);
    var kick = row.querySelector(".kick");
    var move = row.querySelector(".move");
    var select = row.querySelector(".move-to");
    kick.addEventListener("click", function () {
      act(
        kick,
        function () {
          return icecast("/admin/killclient", { mount: view.name, id: String(id) });
        },
        function (message) {
          return message;
        }
      );
    });
    move.addEventListener("click", function () {
      var destination = select.value;
      if (!destination) {
        return;
      }
      act(
        move,
        function () {
          return icecast("/admin/moveclients", { mount: view.name, destination: destination, id: String(id) });
        },
        function () {
          return "Moved listener " + id + " from " + view.name + " to " + destination;
        }
      );
    });
    return row;
  }

  // Put child at place index of parent, moving it only when it is not
  // there already (moving an element closes its open menus and takes its
  // focus away).
  function place(parent, child, index) {
    var there = parent.children[index] || null;
    if (there !== child) {
      parent.insertBefore(child, there);
    }
  }

  function renderListeners(view, mount, names) {
    var seen = {};
    mount.clients.forEach(function (client) {
      seen[String(client.id)] = true;
    });
    Object.keys(view.listeners).forEach(function (id) {
      if (!seen[id]) {
        view.listeners[id].remove();
        delete view.listeners[id];
      }
    });
    mount.clients.forEach(function (client, index) {
      var id = String(client.id);
      var row = view.listeners[id];
      if (!row) {
        row = view.listeners[id] = makeRow(view, client.id);
      }
      setText(row.querySelector(".address"), client.address);
      setText(row.querySelector(".agent"), client.user_agent || "(none)");
      setText(row.querySelector(".connected"), duration(client.connected));
      var lag = bytes(client.lag);
      if (client.lag_seconds != null) {
        lag = client.lag_seconds.toFixed(1) + " s (" + lag + ")";
      }
      setText(row.querySelector(".lag"), lag);
      updateDestinations(view, row, names);
      place(view.rows, row, index); // in the order given: oldest first
    });
    view.table.hidden = !mount.clients.length;
    view.noListeners.hidden = Boolean(mount.clients.length);
  }

  function render(state) {
    offset = state.time - now();
    var names = state.mounts.map(function (mount) {
      return mount.name;
    });
    Object.keys(views).forEach(function (name) {
      if (names.indexOf(name) < 0) {
        views[name].root.remove();
        delete views[name];
      }
    });
    state.mounts.forEach(function (mount, index) {
      var view = views[mount.name];
      if (!view) {
        view = views[mount.name] = makeView(mount.name);
      }
      renderMount(view, mount, state.time, names);
      place(page.mounts, view.root, index); // in the station's order
      if (mount.requests) {
        getJSON(requestsPath(mount.name))
          .then(function (waiting) {
            if (views[mount.name] === view) {
              renderRequests(view, waiting);
            }
          })
          .catch(function () {
            view.requestsBox.hidden = true;
          });
      }
    });
    page.noMounts.hidden = Boolean(names.length);
    setText(page.updated, "Updated " + localTime(state.time));
  }

  function poll() {
    if (pollTimer !== null) {
      clearTimeout(pollTimer);
      pollTimer = null;
    }
    return getJSON(MOUNTS)
      .then(function (state) {
        render(state);
        page.updated.classList.remove("error");
      })
      .catch(function (error) {
        setText(page.updated, "Not updated: " + error.message);
        page.updated.classList.add("error");
      })
      .then(function () {
        if (pollTimer === null) {
          pollTimer = setTimeout(poll, POLL_MS);
        }
      });
  }

  // Charts

  function svg(name, attributes, parent) {
    var element = document.createElementNS(SVG, name);
    Object.keys(attributes).forEach(function (key) {
      element.setAttribute(key, String(attributes[key]));
    });
    if (parent) {
      parent.appendChild(element);
    }
    return element;
  }

  function label(parent, x, y, text, anchor) {
    var element = svg("text", { x: x, y: y, "text-anchor": anchor || "middle", class: "label" }, parent);
    element.textContent = text;
    return element;
  }

  // A round ceiling for an axis: 1, 2 or 5 times a power of ten.
  function niceMax(value) {
    if (value <= 1) {
      return 1;
    }
    var power = Math.pow(10, Math.floor(Math.log10(value)));
    var steps = [1, 2, 5, 10];
    for (var i = 0; i < steps.length; i += 1) {
      if (steps[i] * power >= value) {
        return steps[i] * power;
      }
    }
    return 10 * power;
  }

  // The frame of a chart: its plot area, with the y axis from 0 to top
  // (labelled only at whole numbers when whole is set).
  function frame(chart, top, unit, whole) {
    chart.replaceChildren();
    var box = { left: 44, right: 632, top: 10, bottom: 176 };
    [0, 0.5, 1].forEach(function (fraction) {
      var y = box.bottom - fraction * (box.bottom - box.top);
      svg("line", { x1: box.left, x2: box.right, y1: y, y2: y, class: "grid" }, chart);
      var value = top * fraction;
      if (whole && !Number.isInteger(value)) {
        return;
      }
      var text = Number.isInteger(value) ? String(value) : value.toFixed(1);
      label(chart, box.left - 6, y + 4, text + (fraction === 1 && unit ? " " + unit : ""), "end");
    });
    return box;
  }

  function drawListeners(counts) {
    var chart = page.listenersChart;
    var end = counts.time;
    var start = end - counts.span;
    var most = 0;
    counts.mounts.forEach(function (mount) {
      mount.samples.forEach(function (sample) {
        most = Math.max(most, sample[1]);
      });
    });
    var top = niceMax(most);
    var box = frame(chart, top, "", true);
    var width = box.right - box.left;
    var height = box.bottom - box.top;
    function x(t) {
      return (box.left + ((t - start) / (end - start)) * width).toFixed(1);
    }
    function y(count) {
      return (box.bottom - (count / top) * height).toFixed(1);
    }
    // A tick every six hours of the browser's clock.
    var first = new Date((start - offset) * 1000);
    first.setMinutes(0, 0, 0);
    first.setHours(Math.ceil(first.getHours() / 6) * 6);
    for (var tick = first.getTime() / 1000 + offset; tick <= end; tick += 6 * 3600) {
      if (tick < start) {
        continue;
      }
      svg("line", { x1: x(tick), x2: x(tick), y1: box.bottom, y2: box.bottom + 4, class: "axis" }, chart);
      var when = new Date((tick - offset) * 1000);
      label(chart, x(tick), box.bottom + 18, pad(when.getHours()) + ":00");
    }
    page.legend.replaceChildren();
    counts.mounts.forEach(function (mount, index) {
      var colour = "series-" + (index % SERIES_COLOURS);
      var path = "";
      var previous = null;
      mount.samples.forEach(function (sample) {
        var gap = previous === null || sample[0] - previous > 1.5 * counts.interval;
        path += (gap ? "M" : "L") + x(sample[0]) + " " + y(sample[1]) + " ";
        if (gap) {
          // A lone sample still shows: as a short step over its minute.
          path += "L" + x(sample[0] + counts.interval) + " " + y(sample[1]) + " ";
        }
        previous = sample[0];
      });
      if (path) {
        var line = svg("path", { d: path.trim(), class: "series " + colour }, chart);
        line.dataset.mount = mount.mount;
        var title = svg("title", {}, line);
        title.textContent = mount.mount;
      }
      var item = document.createElement("li");
      var swatch = document.createElement("span");
      swatch.className = "swatch " + colour;
      item.appendChild(swatch);
      item.appendChild(document.createTextNode(mount.mount));
      page.legend.appendChild(item);
    });
  }

  function drawFigures(figures) {
    var chart = page.tlhChart;
    var periods = (figures.station && figures.station.periods) || [];
    var most = 0;
    periods.forEach(function (period) {
      most = Math.max(most, period.tlh);
    });
    var top = niceMax(most);
    var box = frame(chart, top, "h", false);
    var slot = (box.right - box.left) / Math.max(1, periods.length);
    periods.forEach(function (period, index) {
      var height = (period.tlh / top) * (box.bottom - box.top);
      var bar = svg(
        "rect",
        {
          x: (box.left + index * slot + slot * 0.15).toFixed(1),
          y: (box.bottom - height).toFixed(1),
          width: (slot * 0.7).toFixed(1),
          height: height.toFixed(1),
          class: "bar"
        },
        chart
      );
      var day = String(period.start).slice(0, 10);
      bar.dataset.day = day;
      var title = svg("title", {}, bar);
      title.textContent = day + ": " + period.tlh.toFixed(2) + " listening hours";
      if (index % 7 === 0) {
        label(chart, (box.left + (index + 0.5) * slot).toFixed(1), box.bottom + 18, day.slice(5));
      }
    });
  }

  function loadHeadcount() {
    getJSON(HEADCOUNT)
      .then(drawListeners)
      .catch(function (error) {
        setStatus("Listener counts unavailable: " + error.message, true);
      });
  }

  function loadFigures() {
    var end = Math.floor(now() + offset);
    var url = FIGURES + "?by=day&from=" + (end - MONTH_DAYS * DAY) + "&to=" + end;
    getJSON(url)
      .then(function (figures) {
        // An <svg> has no hidden property: its attribute is set instead.
        page.tlhChart.toggleAttribute("hidden", false);
        page.tlhNone.hidden = true;
        drawFigures(figures);
      })
      .catch(function (error) {
        page.tlhChart.toggleAttribute("hidden", true);
        page.tlhNone.hidden = false;
        setText(
          page.tlhNone,
          error.status === 503 ? "No audience figures: this station keeps no listener sessions." : "No audience figures: " + error.message
        );
      });
  }

  page.reloadConfig.addEventListener("click", function () {
    act(
      page.reloadConfig,
      function () {
        return postJSON("/api/v1/admin/reload-config", {});
      },
      function () {
        return "Configuration read again and applied";
      }
    );
  });

  page.reload.addEventListener("click", function () {
    act(
      page.reload,
      function () {
        return postJSON("/api/v1/admin/reload", {});
      },
      function (reply) {
        return (
          "Libraries rescanned: " +
          reply.mounts
            .map(function (each) {
              return each.mount + " (" + each.tracks + " tracks)";
            })
            .join(", ")
        );
      }
    );
  });

  // The charts follow the first answer, which sets the server's clock.
  poll().then(function () {
    loadHeadcount();
    loadFigures();
  });
  setInterval(loadHeadcount, HEADCOUNT_MS);
  setInterval(loadFigures, FIGURES_MS);
})();
