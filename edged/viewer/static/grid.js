// The live grid (design/0108): 1, 4, 9 or 16 tiles of the person's cameras, each with the camera's
// name and state and its own live view over WebRTC (the live page's path: /api/live/{camera}).
// Uses viewer.js's helpers (t, api, whoAmI, gathered, boxTime, say). Keyboard: 1-4 choose the
// layout, PageUp/PageDown page through the cameras, Enter shows a tile alone, Escape goes back.
// The grid is live only: a custodian's tile links to the playback of a view grant waiting for
// its camera (the desk's home page offers the same grants), where the date picker is.
"use strict";

const LAYOUTS = [1, 4, 9, 16];
const grid = { layout: 4, page: 0, cams: [], tiles: [], back: null, grants: {} };
window.edgedGrid = grid;

function stateBadge(cam) {
  const b = document.createElement("span");
  b.classList.add("state", `st-${cam.state_colour || "open"}`);
  b.textContent = cam.state_word || cam.state || "";
  return b;
}

function makeTile(cam) {
  const fig = document.createElement("figure");
  fig.className = "tile";
  fig.tabIndex = 0;
  fig.dataset.camera = cam.id;
  fig.setAttribute("aria-label", cam.name);
  const stage = document.createElement("div");
  stage.className = "tile-stage";
  const video = document.createElement("video");
  Object.assign(video, { autoplay: true, muted: true, playsInline: true, disablePictureInPicture: true });
  video.setAttribute("controlslist", ["nodownload", "nofullscreen", "noremoteplayback", "noplaybackrate"].join(" "));
  const overlay = document.createElement("div");
  overlay.className = "overlay";
  stage.append(video, overlay);
  const cap = document.createElement("figcaption");
  const name = document.createElement("span");
  name.className = "tile-name";
  name.textContent = cam.name;
  const note = document.createElement("span");
  note.className = "tile-note";
  cap.append(name, " ", stateBadge(cam), " ", soundControls(video), " ", note);
  for (const id of grid.grants[cam.id] || []) {  // a grant waiting for this camera: its viewing, one click
    const a = document.createElement("a");
    a.className = "tile-playback";
    a.href = `/playback?grant=${encodeURIComponent(id)}&camera=${encodeURIComponent(cam.id)}`;
    a.textContent = t("Playback of grant {id}", { id });
    cap.append(" ", a);
  }
  fig.append(stage, cap);
  const tile = { camera: cam.id, name: cam.name, el: fig, video, overlay, note, pc: null, view: null, text: "",
                 error: null };
  fig.addEventListener("keydown", (e) => {
    if (e.key === "Enter" && e.target === fig) { e.preventDefault(); alone(cam.id); }
  });
  fig.addEventListener("dblclick", () => alone(cam.id));
  return tile;
}

async function openTile(tile) {
  const pc = new RTCPeerConnection({ iceServers: [] });
  const tr = pc.addTransceiver("video", { direction: "recvonly" });
  const codecs = RTCRtpReceiver.getCapabilities("video").codecs;
  const isH264 = (c) => c.mimeType.toLowerCase() === "video/h264";
  if (tr.setCodecPreferences) tr.setCodecPreferences([...codecs.filter(isH264), ...codecs.filter((c) => !isH264(c))]);
  pc.addTransceiver("audio", { direction: "recvonly" });  // a tile starts muted: its sound switch turns it on
  const stream = new MediaStream();
  const channel = pc.createDataChannel("control");
  channel.addEventListener("message", (e) => {
    const m = JSON.parse(e.data);
    if (m.type === "end" && tile.pc === pc) closeTile(tile, t("the view ended: {reason}", { reason: m.reason }));
  });
  pc.ontrack = (e) => {
    stream.addTrack(e.track);
    if (e.track.kind !== "video") return;
    tile.video.srcObject = stream;
    tile.video.play().catch(() => {});
  };
  pc.onconnectionstatechange = () => {
    if (["failed", "closed"].includes(pc.connectionState) && tile.pc === pc) closeTile(tile, t("the view ended"));
  };
  tile.pc = pc;
  tile.note.textContent = t("connecting to {camera}...", { camera: tile.name });
  try {
    await pc.setLocalDescription(await pc.createOffer());
    await gathered(pc);
    const answer = await api(`/api/live/${encodeURIComponent(tile.camera)}`,
      { sdp: pc.localDescription.sdp, type: "offer" });
    if (tile.pc !== pc) { stopOnBox(answer.view); return; }  // the layout changed meanwhile
    tile.view = answer.view;  // before the next wait: a layout change during it stops this view on the box
    await pc.setRemoteDescription({ type: "answer", sdp: answer.sdp });
    if (tile.pc !== pc) return;  // closed meanwhile, its view stopped by closeTile
    tile.text = answer.overlay;
    hearable(tile.video, Boolean(answer.audio));
    tile.note.textContent = "";
  } catch (err) {
    pc.close();
    if (tile.pc !== pc) return;
    stopOnBox(tile.view);  // an answer the page could not take: its view ends now, not at the box's timeout
    tile.pc = null; tile.view = null; tile.error = err.message; tile.note.textContent = err.message;
  }
}

function stopOnBox(view) {
  return view ? api(`/api/view/${view}/stop`, {}).catch(() => {}) : Promise.resolve();
}

function closeTile(tile, why) {
  const view = tile.view, pc = tile.pc;
  tile.pc = null; tile.view = null;
  tile.video.srcObject = null; hearable(tile.video, false);
  if (why !== undefined) tile.note.textContent = why;
  // the stop first, the connection after: closed first, the box would record "connection lost"
  stopOnBox(view).finally(() => { if (pc) pc.close(); });
}

function pages() { return Math.max(1, Math.ceil(grid.cams.length / grid.layout)); }

function show() {
  for (const tile of grid.tiles) closeTile(tile);
  grid.page = Math.min(grid.page, pages() - 1);
  const box = $("grid");
  box.textContent = "";
  box.dataset.layout = String(grid.layout);
  const cams = grid.cams.slice(grid.page * grid.layout, (grid.page + 1) * grid.layout);
  grid.tiles = cams.map(makeTile);
  for (const tile of grid.tiles) box.append(tile.el);
  for (let i = cams.length; i < grid.layout && grid.cams.length > 1; i += 1) {  // empty places keep the layout
    const empty = document.createElement("div");
    empty.classList.add("tile", "empty");
    empty.setAttribute("aria-hidden", "true");
    box.append(empty);
  }
  for (const b of document.querySelectorAll("#layouts > button")) {
    b.setAttribute("aria-pressed", String(Number(b.dataset.layout) === grid.layout));
  }
  $("prev").disabled = grid.page === 0;
  $("next").disabled = grid.page >= pages() - 1;
  $("paging").textContent = t("cameras {first} to {last} of {all}", { first: grid.page * grid.layout + 1,
    last: grid.page * grid.layout + cams.length, all: grid.cams.length });
  grid.tiles.forEach((tile) => openTile(tile));
}

function choose(layout, page = 0) {
  grid.layout = layout; grid.page = page; grid.back = null;
  show();
}

function alone(camera) {
  const back = { layout: grid.layout, page: grid.page };
  choose(1, Math.max(0, grid.cams.findIndex((c) => c.id === camera)));
  grid.back = back;
  if (grid.tiles[0]) grid.tiles[0].el.focus();
}

function tickTiles() {
  for (const tile of grid.tiles) tile.overlay.textContent = tile.view ? `${tile.text}\n${boxTime()}` : "";
}

async function refreshStates() {  // the cameras' states as the box sees them now
  const me = await api("/api/me").catch(() => null);
  if (!me) return;
  for (const cam of me.live) {
    const known = grid.cams.find((c) => c.id === cam.id);
    if (known) Object.assign(known, cam);
    const tile = grid.tiles.find((x) => x.camera === cam.id);
    if (tile) tile.el.querySelector(".state").replaceWith(stateBadge(cam));
  }
}

async function gridPage() {
  const me = await whoAmI("?grants=1");
  $("playback-link").hidden = !me.playback;
  grid.cams = me.live;
  grid.grants = me.grants || {};
  if (!me.live.length) { say(me.live_refusal || t("Your account may not watch any camera live.")); return; }
  grid.layout = me.live.length === 1 ? 1 : 4;
  for (const b of document.querySelectorAll("#layouts > button")) {
    b.addEventListener("click", () => choose(Number(b.dataset.layout)));
  }
  $("prev").addEventListener("click", () => { grid.page -= 1; show(); });
  $("next").addEventListener("click", () => { grid.page += 1; show(); });
  document.addEventListener("keydown", (e) => {
    if (e.ctrlKey || e.metaKey || e.altKey || ["INPUT", "SELECT", "TEXTAREA"].includes(e.target.tagName)) return;
    const n = "1234".indexOf(e.key);
    if (n >= 0) { choose(LAYOUTS[n]); return; }
    if (e.key === "PageDown" && grid.page < pages() - 1) { e.preventDefault(); grid.page += 1; show(); }
    if (e.key === "PageUp" && grid.page > 0) { e.preventDefault(); grid.page -= 1; show(); }
    if (e.key === "Escape" && grid.back) { const b = grid.back; choose(b.layout, b.page); }
  });
  window.addEventListener("pagehide", () => {
    for (const tile of grid.tiles) {
      if (tile.view) navigator.sendBeacon(`/api/view/${tile.view}/stop`, new Blob(["{}"], { type: "application/json" }));
    }
  });
  setInterval(tickTiles, 500);
  setInterval(refreshStates, 10000);
  show();
}

document.addEventListener("DOMContentLoaded", () => {
  gridPage().catch((err) => say(err.message)).finally(() => { document.body.dataset.ready = "1"; });
});
