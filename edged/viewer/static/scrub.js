// edged viewer: a granted viewing's scrub timeline (design/0114). Plain JS, no build step.
// The box answers the grant's range as bands (recorded, fetched later from the camera's card,
// recorded by the standby box, gaps, no record) and one thumbnail a slot; dragging along the bar
// (or the arrow keys) seeks the viewing. Nothing outside the grant is asked for or shown.
// A day and time typed (115/11/24 14:30:05 in the ROC calendar, or Gregorian) or picked from the
// desk's calendar (desk.js, design/0113) goes there too: the box reads it, keeps it inside the
// grant or refuses it in words, seeks, and answers the moment in the page's calendar.
// Loaded before viewer.js, whose t(), boxTime(), say() and api() it uses once a viewing has started.
"use strict";

const Scrub = (() => {
  const KINDS = [["footage", "recorded"], ["backfilled", "fetched later from the camera's own recording"],
    ["stood-in", "recorded by the standby box"], ["gap", "gap: not recorded"], ["none", "no record"]];
  const el = (id) => document.getElementById(id);
  const shown = { thumbs: 0, missing: 0, bands: [], slots: 0, seeks: 0, jumps: 0, jumpedTo: null };  // what the tests read
  window.edgedScrub = shown;
  let s = null;  // { view, camera, from, to, send, dragging, at }

  const frac = (us) => Math.min(1, Math.max(0, (us - s.from) / Math.max(1, s.to - s.from)));
  function timeAt(clientX) {
    const r = el("scrub-bar").getBoundingClientRect();
    return Math.round(s.from + Math.min(1, Math.max(0, (clientX - r.left) / Math.max(1, r.width))) * (s.to - s.from));
  }
  function place(us) {
    s.at = us;
    const bar = el("scrub-bar");
    el("scrub-head").style.left = `${100 * frac(us)}%`;
    bar.setAttribute("aria-valuenow", String(Math.round(1000 * frac(us))));
    bar.setAttribute("aria-valuetext", boxTime(us));
  }
  function tip(us) {
    const box = el("scrub-tip");
    if (us === null) { box.hidden = true; return; }
    box.hidden = false;
    box.textContent = boxTime(us);
    box.style.left = `${Math.min(88, Math.max(12, 100 * frac(us)))}%`;
  }
  function seek(us) {
    if (!s) return;
    place(us);
    shown.seeks += 1;
    s.send({ op: "seek", at_us: Math.min(s.to - 1, Math.max(s.from, us)) });
  }

  async function draw() {
    const strip = await api(`/api/view/${s.view}/strip?camera=${encodeURIComponent(s.camera)}`);
    if (!el("jump-at").value) el("jump-at").value = strip.from_text;  // the picker opens on the grant's day
    const bands = el("scrub-bands");
    bands.textContent = "";
    const words = Object.fromEntries(KINDS);
    for (const b of strip.bands) {
      const span = document.createElement("span");
      span.className = `sb-${b.kind}`;
      span.style.left = `${100 * frac(b.from_us)}%`;
      span.style.width = `${Math.max(0.2, 100 * (frac(b.to_us) - frac(b.from_us)))}%`;
      span.title = `${t(words[b.kind] || b.kind)} ${boxTime(b.from_us)} ～ ${boxTime(b.to_us)}`;
      bands.append(span);
    }
    const key = el("scrub-key");
    key.textContent = "";
    for (const [kind, word] of KINDS) {
      if (!strip.bands.some((b) => b.kind === kind)) continue;
      const li = document.createElement("li");
      const swatch = document.createElement("i");
      swatch.className = `sb-${kind}`;
      li.append(swatch, t(word));
      key.append(li);
    }
    const thumbs = el("scrub-thumbs");
    thumbs.textContent = "";
    Object.assign(shown, { bands: strip.bands, slots: strip.slots, thumbs: 0, missing: 0 });
    for (let i = 0; i < strip.slots; i += 1) {  // one picture a slot: the box decodes each once
      const cell = document.createElement("span");
      const img = document.createElement("img");
      img.alt = "";
      img.onload = () => { shown.thumbs += 1; };
      img.onerror = () => { shown.missing += 1; img.remove(); };  // 204: no key frame in the slot
      img.src = `/api/view/${s.view}/thumb?camera=${encodeURIComponent(s.camera)}&slot=${i}`;
      cell.append(img);
      thumbs.append(cell);
    }
  }

  async function jump(e) {
    e.preventDefault();
    if (!s) return;
    say("");
    try {
      const r = await api(`/api/view/${s.view}/jump`, { at: el("jump-at").value });
      el("jump-at").value = r.text;  // what was typed, as the box read it, in the page's calendar
      place(r.at_us);
      shown.jumps += 1;
      shown.jumpedTo = r.at_us;
    } catch (err) { say(err.message); }
  }

  function wire() {
    el("jump").onsubmit = jump;
    const bar = el("scrub-bar");
    bar.onpointerdown = (e) => {
      if (!s) return;
      s.dragging = true;
      bar.setPointerCapture(e.pointerId);
      place(timeAt(e.clientX));
      tip(s.at);
    };
    bar.onpointermove = (e) => {
      if (!s) return;
      const us = timeAt(e.clientX);
      if (s.dragging) place(us);
      tip(us);
    };
    bar.onpointerup = (e) => {
      if (!s || !s.dragging) return;
      s.dragging = false;
      seek(timeAt(e.clientX));
    };
    bar.onpointerleave = () => { if (s && !s.dragging) tip(null); };
    bar.onkeydown = (e) => {
      if (!s) return;
      const step = { ArrowLeft: -5e6, ArrowRight: 5e6, PageUp: -60e6, PageDown: 60e6 }[e.key];
      if (step !== undefined) seek(s.at + step);
      else if (e.key === "Home") seek(s.from);
      else if (e.key === "End") seek(s.to - 1);
      else return;
      e.preventDefault();
    };
  }

  return {
    async start(view, camera, from, to, send) {
      s = { view, camera, from, to, send, dragging: false, at: from };
      el("scrub-from").textContent = boxTime(from);
      el("scrub-to").textContent = boxTime(to);
      el("scrub").hidden = false;
      wire();
      place(from);
      await draw();
    },
    async camera(camera) { if (s) { s.camera = camera; await draw(); } },
    position(us) { if (s && !s.dragging) place(us); },
    get dragging() { return Boolean(s && s.dragging); },
    stop() {
      if (!s) return;
      s.send = () => {};
      el("scrub-bar").setAttribute("aria-disabled", "true");
      el("jump").hidden = true;
    },
  };
})();
