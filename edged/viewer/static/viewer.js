// edged viewer: login, live view and granted playback over WebRTC. Plain JS, no build step.
// Nothing here offers a download: no links to files, no MediaRecorder, no context menu.
"use strict";

const $ = (id) => document.getElementById(id);
// What the tests and the benchmark read: the open view and click-to-first-frame timing.
const state = { view: null, pc: null, channel: null, clockOffsetMs: 0, overlay: "", footageUs: null,
                clickAt: null, firstFrameMs: null, playback: null, ended: false, messages: 0, marks: {}, sound: false,
                timeZone: undefined, names: {} };
const nameOf = (camera) => state.names[camera] || camera;  // the camera's name, as the desk shows it
const mark = (name) => { if (state.clickAt !== null) state.marks[name] = Math.round(performance.now() - state.clickAt); };
window.edged = state;

document.addEventListener("contextmenu", (e) => e.preventDefault());
document.addEventListener("dragstart", (e) => e.preventDefault());
document.addEventListener("keydown", (e) => {
  if ((e.ctrlKey || e.metaKey) && ["s", "p"].includes(e.key.toLowerCase())) e.preventDefault();
});

// The page's language: its messages come in <body data-texts> (edged/viewer/texts.py); t() looks
// one up and fills its {placeholders}. Dates in the ROC calendar when the page is zh-TW.
let texts = null;
function t(text, values = {}) {
  if (texts === null) texts = JSON.parse(document.body.dataset.texts || "{}");
  return (texts[text] || text).replace(/\{(\w+)\}/g, (m, k) => (k in values ? String(values[k]) : m));
}
const LOCALE = document.documentElement.lang === "zh-Hant-TW" ? "zh-TW-u-ca-roc" : undefined;

// Sound: a mute switch and a volume slider for a video (the live page, each grid tile, playback;
// issue 56). A page starts muted (a browser plays sound only after a click); the switch turns it on.
function hearable(video, yes) {
  if (video.soundBox) video.soundBox.hidden = !yes;
}

function soundControls(video) {
  const box = document.createElement("span");
  box.className = "sound";
  const b = document.createElement("button");
  b.type = "button";
  b.className = "sound-mute";
  const v = document.createElement("input");
  Object.assign(v, { type: "range", min: "0", max: "1", step: "0.05", value: String(video.volume), className: "sound-volume" });
  v.setAttribute("aria-label", t("Volume"));
  const show = () => {
    b.textContent = video.muted ? t("Turn the sound on") : t("Mute");
    b.setAttribute("aria-pressed", String(video.muted));
    v.value = String(video.volume);
  };
  b.addEventListener("click", () => { video.muted = !video.muted; show(); });
  v.addEventListener("input", () => { video.volume = Number(v.value); video.muted = video.volume === 0; show(); });
  video.addEventListener("volumechange", show);
  show();
  box.append(b, " ", v);
  box.hidden = true;        // shown only while the camera's sound is sent (issue 77: no switch that unmutes nothing)
  video.soundBox = box;
  return box;
}

function say(text) { const m = $("message"); if (m) m.textContent = text || ""; }
function status(text) { const m = $("status"); if (m) m.textContent = text || ""; }

async function api(path, body) {
  const init = body === undefined ? { method: "GET" }
    : { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) };
  init.credentials = "same-origin";
  const r = await fetch(path, init);
  let data = {};
  try { data = await r.json(); } catch (_) { /* an empty answer */ }
  if (r.status === 401 && document.body.dataset.page !== "login") { location.href = "/login"; }
  if (!r.ok) throw new Error(data.error || t("the box answered {status}", { status: r.status }));
  return data;
}

function boxTime(us) {
  const d = us === undefined ? new Date(Date.now() + state.clockOffsetMs) : new Date(us / 1000);
  return d.toLocaleString(LOCALE, { year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit",
    minute: "2-digit", second: "2-digit", hourCycle: "h23",
    timeZone: state.timeZone });  // the site's zone (no zone name); the 24-hour clock of the desk's forms
}

function tickOverlay() {
  const o = $("overlay");
  if (!o) return;
  if (!state.view) { o.textContent = ""; return; }
  let text = `${state.overlay}\n${boxTime()}`;
  if (state.sound) text += "\n" + t("sound on");
  if (state.footageUs !== null) text += "\n" + t("footage {time}", { time: boxTime(state.footageUs) });
  o.textContent = text;
}

async function whoAmI(query = "") {
  const me = await api("/api/me" + query);
  state.clockOffsetMs = me.now_us / 1000 - Date.now();
  $("who").textContent = `${me.person || me.account}（${me.role_words || me.roles.join(", ")}）`;
  state.timeZone = me.timezone || undefined;
  for (const c of me.live || []) state.names[c.id] = c.name || c.id;
  return me;
}

function watchFirstFrame(video) {
  const done = () => {
    if (state.firstFrameMs === null && state.clickAt !== null) {
      state.firstFrameMs = performance.now() - state.clickAt;
      mark("frame");
    }
  };
  if ("requestVideoFrameCallback" in video) video.requestVideoFrameCallback(done);
  else video.addEventListener("playing", done, { once: true });
}

function gathered(pc) {
  if (pc.iceGatheringState === "complete") return Promise.resolve();
  return new Promise((resolve) => {
    const check = () => { if (pc.iceGatheringState === "complete") resolve(); };
    pc.addEventListener("icegatheringstatechange", check);
    setTimeout(resolve, 3000);  // host candidates are enough on the LAN
  });
}

// Offer to receive one H.264 video (H.264 first: otherwise VP8 is chosen and nothing decodes).
async function connect(path, body) {
  const video = $("video");
  const pc = new RTCPeerConnection({ iceServers: [] });
  const tr = pc.addTransceiver("video", { direction: "recvonly" });
  const codecs = RTCRtpReceiver.getCapabilities("video").codecs;
  const isH264 = (c) => c.mimeType.toLowerCase() === "video/h264";
  if (tr.setCodecPreferences) tr.setCodecPreferences([...codecs.filter(isH264), ...codecs.filter((c) => !isH264(c))]);
  // The camera's sound, when its audio_in_viewer switch is on and it sends some; otherwise the
  // box answers this one inactive and nothing is heard (design/0087).
  pc.addTransceiver("audio", { direction: "recvonly" });
  const stream = new MediaStream();
  // The box tells the page why a view ends (session expired, time limit) on this channel;
  // playback's pause and seek go the other way.
  const channel = pc.createDataChannel("control");
  channel.addEventListener("message", (e) => {
    const m = JSON.parse(e.data);
    if (m.type === "end" && state.pc === pc) ended(t("the view ended: {reason}", { reason: m.reason }));
  });
  channel.addEventListener("close", () => { if (state.pc === pc) ended(t("the view ended")); });
  pc.ontrack = (e) => {
    stream.addTrack(e.track);
    if (e.track.kind === "audio") { video.muted = false; return; }
    mark("track");
    video.srcObject = stream;
    watchFirstFrame(video);
    video.play().catch(() => {});
  };
  pc.onconnectionstatechange = () => {
    if (["failed", "closed", "disconnected"].includes(pc.connectionState) && state.pc === pc) ended(t("the view ended"));
  };
  pc.addEventListener("connectionstatechange", () => mark(`pc-${pc.connectionState}`));
  await pc.setLocalDescription(await pc.createOffer());
  await gathered(pc);
  mark("gathered");
  let answer;
  try {
    answer = await api(path, { ...body, sdp: pc.localDescription.sdp, type: "offer" });
  } catch (err) {
    pc.close();
    throw err;
  }
  mark("answer");
  await pc.setRemoteDescription({ type: "answer", sdp: answer.sdp });
  state.pc = pc; state.channel = channel; state.view = answer.view; state.overlay = answer.overlay;
  state.sound = Boolean(answer.audio);
  hearable(video, state.sound);
  state.clockOffsetMs = answer.now_us / 1000 - Date.now();
  state.ended = false;
  tickOverlay();
  $("stop").hidden = false;
  status(t("{camera}: this view ends at the latest at {time}", { camera: nameOf(answer.camera),
    time: boxTime(answer.deadline_us) }));
  return answer;
}

async function stopView(reason) {
  const view = state.view, pc = state.pc;
  state.pc = null; state.channel = null; state.view = null;
  $("video").srcObject = null;
  $("video").muted = true; state.sound = false; hearable($("video"), false);
  // the stop first, the connection after: closed first, the box would record "connection lost"
  if (view) { try { await api(`/api/view/${view}/stop`, {}); } catch (_) { /* already closed */ } }
  if (pc) pc.close();
  if (reason) status(reason);
}

function ended(why) {
  if (state.ended) return;
  state.ended = true;
  const view = state.view;
  state.view = null;
  if (state.pc) state.pc.close();
  state.pc = null;
  status(why);
  if ($("stop")) $("stop").hidden = true;
  if (view) api("/api/me").catch(() => {});  // a session that ended sends the page to the login
}

window.addEventListener("pagehide", () => {
  if (state.view) navigator.sendBeacon(`/api/view/${state.view}/stop`, new Blob(["{}"], { type: "application/json" }));
});

function common() {
  const out = $("logout");
  if (out) out.addEventListener("click", async () => {
    await stopView();
    await api("/api/logout", {}).catch(() => {});
    location.href = "/login";
  });
  const stop = $("stop");
  if (stop) stop.addEventListener("click", () => stopView(t("you stopped watching")));
  setInterval(tickOverlay, 250);
}

// pages ------------------------------------------------------------------------------
async function loginPage() {
  $("login").addEventListener("submit", async (e) => {
    e.preventDefault();
    say("");
    try {
      await api("/api/login", { name: $("name").value, password: $("password").value });
      location.href = "/live";
    } catch (err) {
      say(err.message);
      $("password").value = "";
    }
  });
}

async function livePage() {
  const me = await whoAmI();
  $("playback-link").hidden = !me.playback;
  const list = $("cameras");
  $("stop").before(soundControls($("video")));
  if (!me.live.length) say(me.live_refusal || t("Your account may not watch any camera live."));
  for (const cam of me.live) {
    const b = document.createElement("button");
    b.type = "button";
    b.dataset.camera = cam.id;
    b.textContent = cam.name;
    b.addEventListener("click", () => watchLive(cam));
    list.appendChild(b);
  }
}

async function watchLive(cam) {
  say("");
  await stopView();
  state.clickAt = performance.now();
  state.firstFrameMs = null;
  state.marks = {};
  state.footageUs = null;
  status(t("connecting to {camera}...", { camera: cam.name }));
  try {
    await connect(`/api/live/${encodeURIComponent(cam.id)}`, {});
  } catch (err) {
    status("");
    say(err.message);
  }
}

async function playbackPage() {
  let grant = null;
  $("lookup").addEventListener("submit", async (e) => {
    e.preventDefault();
    say("");
    try {
      grant = await api(`/api/grant/${encodeURIComponent($("grant").value.trim())}`);
    } catch (err) { say(err.message); return; }
    const facts = $("facts");
    facts.textContent = "";
    Object.assign(state.names, grant.names || {});
    const rows = [[t("Grant"), grant.id], [t("Request"), grant.request_id],
      [t("Cameras"), grant.cameras.map(nameOf).join("、")],
      [t("From"), boxTime(grant.from_us)], [t("To"), boxTime(grant.to_us)], [t("Approved by"), grant.approver_person || grant.approver],
      [t("Requester"), grant.requester || "-"], [t("Expires"), boxTime(grant.expires_us)],
      [t("Used"), grant.used_us ? t("{time} by {custodian}", { time: boxTime(grant.used_us), custodian: grant.used_by_person || grant.used_by })
        : t("not yet")]];
    for (const [k, v] of rows) {
      const dt = document.createElement("dt"); dt.textContent = k;
      const dd = document.createElement("dd"); dd.textContent = String(v);
      facts.append(dt, dd);
    }
    const sel = $("camera");
    sel.textContent = "";
    for (const c of grant.cameras) { const o = document.createElement("option"); o.value = c; o.textContent = nameOf(c); sel.append(o); }
    const wanted = new URLSearchParams(location.search).get("camera");  // from a live grid's tile
    if (grant.cameras.includes(wanted)) sel.value = wanted;
    $("watcher").value = grant.requester || "";
    // a used or expired grant offers nothing to start: the page says why and what to do (issue 56)
    for (const id of ["camera", "watcher", "start"]) {  // a style the page's CSS cannot override, as it can [hidden]
      $(id).closest(".field, button").style.display = grant.unusable ? "none" : "";
    }
    if (grant.unusable) say(grant.unusable);
    $("details").hidden = false;
  });
  $("start").addEventListener("click", async () => {
    if (!grant) return;
    say("");
    state.clickAt = performance.now();
    state.firstFrameMs = null;
    state.marks = {};
    status(t("starting the viewing..."));
    $("stage").hidden = false;
    try {
      const answer = await connect("/api/playback", { grant: grant.id, camera: $("camera").value,
        watcher: $("watcher").value });
      state.playback = { from: answer.from_us, to: answer.to_us, state: "playing", position: answer.start_us };
      state.footageUs = answer.start_us;
      $("details").hidden = true;
      $("controls").hidden = false;
      const sw = $("switch");
      sw.textContent = "";
      for (const c of grant.cameras) { const o = document.createElement("option"); o.value = c; o.textContent = nameOf(c); sw.append(o); }
      sw.value = answer.camera;
      sw.hidden = grant.cameras.length < 2;
      wireControls();
      Scrub.start(answer.view, answer.camera, answer.from_us, answer.to_us, send).catch((err) => say(err.message));
    } catch (err) {
      status("");
      say(err.message);
    }
  });
  $("controls").append(" ", soundControls($("video")));
  const me = await whoAmI();
  $("live-link").hidden = !me.live.length;  // live view only for those given it (design/0108)
  // a role that may not start a viewing meets who may, before it types anything (issue 56)
  if (!me.playback) { $("lookup").style.display = "none"; say(me.playback_refusal); return; }
  const asked = new URLSearchParams(location.search).get("grant");  // one click from the request's page
  if (asked) { $("grant").value = asked; $("lookup").requestSubmit(); }
}

function send(msg) {
  if (state.channel && state.channel.readyState === "open") state.channel.send(JSON.stringify(msg));
}

function wireControls() {  // the position is the scrub timeline's (scrub.js, design/0114)
  const pause = $("pause");
  pause.onclick = () => send({ op: state.playback.state === "paused" ? "play" : "pause" });
  $("switch").onchange = async () => {  // another camera of the same grant, same footage time
    say("");
    try {
      const r = await api(`/api/view/${state.view}/camera`, { camera: $("switch").value });
      state.sound = Boolean(r.audio); hearable($("video"), state.sound);  // the grant's other camera may be heard or not (design/0087)
      await Scrub.camera(r.camera);
    } catch (err) { say(err.message); }
  };
  state.channel.addEventListener("message", (e) => {
    const m = JSON.parse(e.data);
    if (m.type !== "state") return;
    state.messages += 1;
    const p = state.playback;
    Object.assign(p, { state: m.state, position: m.position_us, shown: m.shown });
    state.footageUs = m.position_us;
    pause.textContent = m.state === "paused" ? t("Play") : t("Pause");
    Scrub.position(m.position_us);
    $("position").textContent = boxTime(m.position_us);
    if (m.state === "ended") {
      pause.disabled = true;
      Scrub.stop();
      ended(t("end of the granted range: the viewing is over (a new viewing needs a new request)"));
    }
  });
}

document.addEventListener("DOMContentLoaded", () => {
  common();
  const page = document.body.dataset.page;
  const run = { login: loginPage, live: livePage, playback: playbackPage }[page];
  if (run) run().catch((err) => say(err.message)).finally(() => { document.body.dataset.ready = "1"; });
});
