/**
 * The dashboard's script. Plain browser JavaScript (no framework, no build):
 * it renders with DOM calls and `textContent` only, so names a peer chooses
 * are never parsed as HTML.
 *
 * @module
 */

/** `/dashboard.js`. */
export const DASHBOARD_JS = String.raw`"use strict";
(function () {
  var TOKEN_KEY = "wormhole.adminToken";
  var HISTORY = 60;
  var model = { requests: [], peers: [], apps: [], denied: [], offers: [] };
  var spark = {};
  var listening = false;
  var refreshing = null;

  function $(id) { return document.getElementById(id); }
  function token() { return sessionStorage.getItem(TOKEN_KEY) || ""; }

  function el(tag, className, text) {
    var node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }

  function bytes(n) {
    var units = ["B", "KiB", "MiB", "GiB", "TiB"];
    var i = 0;
    while (n >= 1024 && i < units.length - 1) { n /= 1024; i++; }
    return (i === 0 ? String(n) : n.toFixed(n < 10 ? 1 : 0)) + " " + units[i];
  }

  function age(iso) {
    if (!iso) return "-";
    var s = Math.max(0, Math.round((Date.now() - Date.parse(iso)) / 1000));
    if (s < 60) return s + "s";
    if (s < 3600) return Math.floor(s / 60) + "m" + (s % 60 ? " " + (s % 60) + "s" : "");
    if (s < 86400) return Math.floor(s / 3600) + "h " + Math.floor((s % 3600) / 60) + "m";
    return Math.floor(s / 86400) + "d " + Math.floor((s % 86400) / 3600) + "h";
  }

  function setStatus(state, text) {
    var status = $("status");
    status.dataset.state = state;
    status.textContent = text;
  }

  function showError(message) {
    var error = $("error");
    error.hidden = !message;
    error.textContent = message || "";
  }

  function showLogin(message) {
    listening = false;
    $("main").hidden = true;
    $("login").hidden = false;
    $("login-message").textContent = message || "";
    setStatus("login", "token needed");
    $("token").focus();
  }

  function headers(write) {
    var h = { accept: "application/json" };
    // The admin API's guard: writes must be JSON (never a simple cross-site request).
    if (write) h["content-type"] = "application/json";
    if (token()) h.authorization = "Bearer " + token();
    return h;
  }

  // Resolves with the parsed body, null after 204, or undefined after a 401 (the login shows).
  async function api(method, path) {
    var response = await fetch(path, {
      method: method,
      headers: headers(method !== "GET"),
      body: method === "GET" ? undefined : "{}",
      cache: "no-store",
      credentials: "omit",
    });
    if (response.status === 401) {
      showLogin(token() ? "That token was refused." : "This admin API needs its token.");
      return undefined;
    }
    if (!response.ok) {
      var detail = await response.json().catch(function () { return {}; });
      throw new Error(detail.error || method + " " + path + " failed with " + response.status);
    }
    return response.status === 204 ? null : response.json();
  }

  function table(id, head, rows, empty) {
    var node = $(id);
    node.replaceChildren();
    var tr = el("tr");
    head.forEach(function (h) {
      var th = el("th", (h.num ? "num " : "") + (h.wide ? "wide" : ""), h.label);
      tr.append(th);
    });
    var thead = el("thead");
    thead.append(tr);
    var tbody = el("tbody");
    if (rows.length === 0) {
      var row = el("tr");
      var td = el("td", "empty", empty);
      td.colSpan = head.length;
      row.append(td);
      tbody.append(row);
    }
    rows.forEach(function (cells) {
      var row = el("tr");
      if (cells.key) row.dataset.key = cells.key;
      cells.forEach(function (cell, i) {
        var td = el("td", (cell && cell.className ? cell.className + " " : "") + (head[i].wide ? "wide" : ""));
        if (cell && cell.node) td.append.apply(td, cell.node);
        else td.textContent = cell && cell.text !== undefined ? cell.text : String(cell);
        if (cell && cell.field) td.dataset.field = cell.field;
        if (cell && cell.since) td.dataset.since = cell.since;
        row.append(td);
      });
      tbody.append(row);
    });
    node.append(thead, tbody);
  }

  // --ha: the replica that holds each row, as a column after the first (the CLI's
  // REPLICA); a lone server's items have no replica and its tables keep their shape.
  function withReplica(items, head, rows) {
    if (!items.some(function (item) { return item.replica !== undefined; })) return head;
    rows.forEach(function (cells, i) {
      cells.splice(1, 0, { text: items[i].replica || "-", field: "replica" });
    });
    return head.slice(0, 1).concat([{ label: "REPLICA" }], head.slice(1));
  }

  function fingerprint(fp) {
    var span = el("span", "fp");
    (fp.match(/.{1,4}/g) || []).forEach(function (group) { span.append(el("span", "", group)); });
    span.title = fp;
    return span;
  }

  function button(label, className, action) {
    var b = el("button", className, label);
    b.type = "button";
    b.addEventListener("click", function () {
      b.disabled = true;
      action().catch(function (e) { showError(e.message); }).finally(function () {
        b.disabled = false;
        refresh();
      });
    });
    return b;
  }

  // Revoking disconnects a peer: the first click arms the button, the second revokes.
  function revokeButton(name) {
    var b = el("button", "danger", "Revoke");
    b.type = "button";
    b.dataset.action = "revoke";
    b.addEventListener("click", function () {
      if (!b.classList.contains("armed")) {
        b.classList.add("armed");
        b.textContent = "Revoke " + name + "?";
        return;
      }
      b.disabled = true;
      api("DELETE", "/v1/peers/" + encodeURIComponent(name))
        .catch(function (e) { showError(e.message); })
        .finally(refresh);
    });
    return b;
  }

  function renderRequests() {
    $("requests-count").textContent = String(model.requests.length);
    var rows = model.requests.map(function (r) {
      var approve = button("Approve", "primary", function () {
        return api("POST", "/v1/requests/" + encodeURIComponent(r.fingerprint));
      });
      approve.dataset.action = "approve";
      var decline = button("Decline", "danger", function () {
        return api("DELETE", "/v1/requests/" + encodeURIComponent(r.fingerprint));
      });
      decline.dataset.action = "decline";
      var cells = [
        r.name, r.remote, { text: age(r.waitingSince), since: r.waitingSince },
        { node: [fingerprint(r.fingerprint)], className: "fp" }, { node: [approve, decline] },
      ];
      cells.key = r.fingerprint;
      return cells;
    });
    table("requests", withReplica(model.requests, [
      { label: "NAME" }, { label: "ADDRESS" }, { label: "WAITING" }, { label: "FINGERPRINT" },
      { label: "" },
    ], rows), rows, "No client is waiting.");
  }

  function renderPeers() {
    var rows = model.peers.map(function (p) {
      var cells = [
        p.name, { text: p.status, className: p.status }, p.remote || "-",
        { text: age(p.connectedSince), since: p.connectedSince },
        { text: bytes(p.bytesIn), className: "num", field: "bytesIn" },
        { text: bytes(p.bytesOut), className: "num", field: "bytesOut" },
        { text: String(p.streamsOpen), className: "num", field: "streamsOpen" },
        { node: [revokeButton(p.name)] },
      ];
      cells.key = p.name;
      return cells;
    });
    table("peers", withReplica(model.peers, [
      { label: "NAME" }, { label: "STATUS" }, { label: "ADDRESS", wide: true },
      { label: "SINCE" }, { label: "IN", num: true }, { label: "OUT", num: true },
      { label: "STREAMS", num: true, wide: true },
      { label: "" },
    ], rows), rows, "No peer yet.");
  }

  function sparkline(key) {
    var values = spark[key] || [];
    var svg = document.createElementNS("http://www.w3.org/2000/svg", "svg");
    svg.setAttribute("class", "spark");
    svg.setAttribute("viewBox", "0 0 " + HISTORY + " 20");
    svg.setAttribute("preserveAspectRatio", "none");
    var max = Math.max.apply(null, values.concat([1]));
    var points = values.map(function (v, i) {
      return (HISTORY - values.length + i) + "," + (19 - (v / max) * 18).toFixed(1);
    }).join(" ");
    var line = document.createElementNS("http://www.w3.org/2000/svg", "polyline");
    line.setAttribute("points", points);
    svg.append(line);
    var last = values.length ? values[values.length - 1] : 0;
    svg.setAttribute("aria-label", bytes(last) + "/s");
    return svg;
  }

  function renderApps() {
    var rows = model.apps.map(function (a) {
      var key = a.peer + "/" + a.app;
      var cells = [
        a.peer, a.app, a.endpoint,
        { text: bytes(a.bytesIn), className: "num", field: "bytesIn" },
        { text: bytes(a.bytesOut), className: "num", field: "bytesOut" },
        { text: String(a.streamsOpen), className: "num", field: "streamsOpen" },
        { node: [sparkline(key)] },
      ];
      cells.key = key;
      return cells;
    });
    table("apps", withReplica(model.apps, [
      { label: "PEER" }, { label: "APP" }, { label: "ENDPOINT" }, { label: "IN", num: true },
      { label: "OUT", num: true }, { label: "CONNS", num: true, wide: true },
      { label: "THROUGHPUT", wide: true },
    ], rows), rows, "No app is exposed.");
  }

  // Apps the server offers its clients; the section shows only on a server that offers some.
  function renderOffers() {
    $("offers-section").hidden = model.offers.length === 0;
    var rows = model.offers.map(function (o) {
      var cells = [
        o.app, o.upstream, o.peers ? o.peers.join(", ") : "every peer",
        { text: bytes(o.bytesIn), className: "num", field: "bytesIn" },
        { text: bytes(o.bytesOut), className: "num", field: "bytesOut" },
        { text: String(o.streamsOpen), className: "num", field: "streamsOpen" },
      ];
      cells.key = o.app;
      return cells;
    });
    table("offers", [
      { label: "APP" }, { label: "UPSTREAM" }, { label: "OFFERED TO" }, { label: "IN", num: true },
      { label: "OUT", num: true }, { label: "CONNS", num: true, wide: true },
    ], rows, "No app is offered.");
  }

  async function loadOffers() {
    var offers = await api("GET", "/v1/offers");
    if (offers === undefined) return;
    model.offers = offers;
    renderOffers();
  }

  function renderDenied() {
    table("denied", [
      { label: "NAME" }, { label: "REASON" }, { label: "SINCE" }, { label: "UNTIL", wide: true },
      { label: "FINGERPRINT" }, { label: "" },
    ], model.denied.map(function (d) {
      var lift = button("Lift", "", function () {
        return api("DELETE", "/v1/denied/" + encodeURIComponent(d.fingerprint));
      });
      lift.dataset.action = "lift";
      lift.title = "Let this key ask for approval again";
      var cells = [
        d.name || "-", d.reason, { text: age(d.since), since: d.since },
        d.until ? new Date(d.until).toLocaleString() : "forever",
        { node: [fingerprint(d.fingerprint)], className: "fp" }, { node: [lift] },
      ];
      cells.key = d.fingerprint;
      return cells;
    }), "No key is denied.");
  }

  function renderAll() {
    renderRequests();
    renderPeers();
    renderApps();
    renderOffers();
    renderDenied();
  }

  async function load() {
    var lists = await Promise.all([
      api("GET", "/v1/requests?detail=1"),
      api("GET", "/v1/peers?detail=1"),
      api("GET", "/v1/apps?detail=1"),
      api("GET", "/v1/denied"),
      api("GET", "/v1/offers"),
    ]);
    if (lists.some(function (list) { return list === undefined; })) return false;
    model.requests = lists[0];
    model.peers = lists[1];
    model.apps = lists[2];
    model.denied = lists[3];
    model.offers = lists[4];
    past();
    renderAll();
    showError("");
    return true;
  }

  // One load at a time; a change during a load loads once more after it.
  function refresh() {
    if (refreshing) {
      refreshing.again = true;
      return refreshing.promise;
    }
    var run = { again: false };
    run.promise = load().catch(function (e) {
      showError(e.message);
      return false;
    }).then(function (ok) {
      refreshing = null;
      return run.again ? refresh() : ok;
    });
    refreshing = run;
    return run.promise;
  }

  function addEvent(kind, data) {
    var text = kind;
    if (kind.indexOf("request.") === 0) text = "request " + kind.slice(8) + ": " + data.name;
    else if (kind.indexOf("peer.") === 0) text = "peer " + data.name + " " + kind.slice(5);
    else if (kind.indexOf("app.") === 0) text = "app " + data.peer + "/" + data.app + " " + kind.slice(4);
    var li = el("li");
    li.append(el("time", "", new Date().toLocaleTimeString()), document.createTextNode(text));
    var list = $("events");
    list.prepend(li);
    while (list.children.length > 30) list.lastElementChild.remove();
  }

  function onTraffic(sample) {
    var byPeer = {};
    sample.apps.forEach(function (a) {
      var key = a.peer + "/" + a.app;
      var values = spark[key] || (spark[key] = []);
      values.push(a.bytesInPerSecond + a.bytesOutPerSecond);
      if (values.length > HISTORY) values.shift();
      model.apps.forEach(function (m) {
        if (m.peer === a.peer && m.app === a.app) {
          m.bytesIn = a.bytesIn;
          m.bytesOut = a.bytesOut;
          m.streamsOpen = a.streamsOpen;
        }
      });
      var sum = byPeer[a.peer] || (byPeer[a.peer] = { bytesIn: 0, bytesOut: 0, streamsOpen: 0 });
      sum.bytesIn += a.bytesIn;
      sum.bytesOut += a.bytesOut;
      sum.streamsOpen += a.streamsOpen;
    });
    renderApps();
    // The samples cover exposed apps only: offers' counters come with their list.
    if (model.offers.length) loadOffers().catch(function (e) { showError(e.message); });
    // A peer's totals include apps no longer exposed: the part the samples do not
    // cover was fixed at the last load (see past()).
    model.peers.forEach(function (p) {
      var live = byPeer[p.name];
      if (!live) return;
      p.bytesIn = (p.pastIn || 0) + live.bytesIn;
      p.bytesOut = (p.pastOut || 0) + live.bytesOut;
      p.streamsOpen = live.streamsOpen;
      var row = document.querySelector("#peers tr[data-key=\"" + CSS.escape(p.name) + "\"]");
      if (!row) return;
      row.querySelector("[data-field=bytesIn]").textContent = bytes(p.bytesIn);
      row.querySelector("[data-field=bytesOut]").textContent = bytes(p.bytesOut);
      row.querySelector("[data-field=streamsOpen]").textContent = String(p.streamsOpen);
    });
  }

  // What each peer's totals hold beyond its exposed apps (apps withdrawn before).
  function past() {
    model.peers.forEach(function (p) {
      var apps = model.apps.filter(function (a) { return a.peer === p.name; });
      p.pastIn = p.bytesIn - apps.reduce(function (n, a) { return n + a.bytesIn; }, 0);
      p.pastOut = p.bytesOut - apps.reduce(function (n, a) { return n + a.bytesOut; }, 0);
    });
  }

  function onBlock(block) {
    var kind = "message";
    var data = "";
    block.split("\n").forEach(function (line) {
      if (line.indexOf("event:") === 0) kind = line.slice(6).trim();
      else if (line.indexOf("data:") === 0) data += line.slice(5).trim();
    });
    if (!data) return;
    var parsed = JSON.parse(data);
    if (kind === "traffic") return onTraffic(parsed);
    if (kind === "dropped") return;
    addEvent(kind, parsed);
    // Peer totals, denials and new rows come from the detailed lists.
    refresh();
  }

  async function listen() {
    if (listening) return;
    listening = true;
    try {
      var response = await fetch("/v1/events", {
        headers: headers(false),
        cache: "no-store",
        credentials: "omit",
      });
      if (response.status === 401) {
        showLogin("This admin API needs its token.");
        return;
      }
      if (!response.ok || !response.body) throw new Error("events: HTTP " + response.status);
      setStatus("live", "live");
      var reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
      var buffer = "";
      for (;;) {
        var chunk = await reader.read();
        if (chunk.done) break;
        buffer += chunk.value;
        var blocks = buffer.split("\n\n");
        buffer = blocks.pop();
        blocks.forEach(onBlock);
      }
      setStatus("error", "event stream ended; reconnecting");
    } catch (e) {
      setStatus("error", "disconnected (" + e.message + "); reconnecting");
    }
    if (!listening) return;
    listening = false;
    setTimeout(start, 2000);
  }

  async function start() {
    $("login").hidden = true;
    $("main").hidden = false;
    $("forget").hidden = !token();
    setStatus("loading", "loading…");
    if (await refresh()) listen();
  }

  document.addEventListener("DOMContentLoaded", function () {
    $("login").addEventListener("submit", function (event) {
      event.preventDefault();
      sessionStorage.setItem(TOKEN_KEY, $("token").value.trim());
      $("token").value = "";
      start();
    });
    $("forget").addEventListener("click", function () {
      sessionStorage.removeItem(TOKEN_KEY);
      location.reload();
    });
    setInterval(function () {
      document.querySelectorAll("[data-since]").forEach(function (cell) {
        cell.textContent = age(cell.dataset.since);
      });
    }, 1000);
    start();
  });
})();
`;
