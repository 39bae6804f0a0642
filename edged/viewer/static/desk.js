// The desk's one script (design/0113). The desk works without it; it adds two things:
// 1. a date picker in the site's calendar beside each date field (data-calendar="roc": years of
//    the Republic of China, 115/11/24 14:30, as the site's forms write them; "gregorian":
//    2026-11-24 14:30). What the picker writes is what a person would type, and the server
//    reads both calendars (storage/time/rocdate.py).
// 2. a half-typed form outlives the session: what is typed in a desk form is kept in this tab's
//    sessionStorage, keyed by the account, the page and the form (never a password, a hidden
//    field or a field marked data-nokeep such as an ID number); when the session ended and the
//    login brought the person back (?ended=why), the form is filled in again and the line that
//    says why is shown; a form sent while the session was alive is forgotten.
// 3. a citizen's redacted copy (design/0232, 0279): a clip scrubbed with a slider, and a drag on
//    its picture writes a mark of the applicant (or a box hidden) at that moment, in the clip's own
//    pixels, into the fields beside it; while the copy is made the page's progress bar asks the
//    box how far it is, then shows the copy.
"use strict";
(function () {
  const body = document.body;
  const words = JSON.parse(body.dataset.picker || "{}");
  const account = body.dataset.account || "";

  // --- dates --------------------------------------------------------------------------------
  const pad = (n) => String(n).padStart(2, "0");
  function parse(text) {
    // the same grammar as rocdate.parse_date/parse_datetime/parse_month: 1-3 digit years are ROC
    // (and to the second where a field takes one: the playback's jump, edged/viewer/scrub.py)
    const m = /^\s*(?:民國)?\s*(\d{1,4})\s*(?:[/\-.]|年)\s*(\d{1,2})(?:\s*(?:[/\-.]|月)\s*(\d{1,2})\s*日?)?(?:(?:\s+|T)(\d{1,2})[:：](\d{2})(?:[:：](\d{2}))?)?\s*$/.exec(text || "");
    if (!m) return null;
    const year = m[1].length === 4 ? +m[1] : +m[1] + 1911;
    const time = m[4] ? pad(m[4]) + ":" + m[5] + (m[6] ? ":" + m[6] : "") : null;
    return {year, month: +m[2], day: m[3] ? +m[3] : 1, time};
  }
  function write(cal, y, mo, d, time, monthOnly) {
    const year = cal === "roc" ? String(y - 1911) : String(y);
    const sep = cal === "roc" ? "/" : "-";
    let text = year + sep + pad(mo);
    if (!monthOnly) text += sep + pad(d);
    if (time) text += " " + time;
    return text;
  }
  function heading(cal, y, mo, monthOnly) {
    const locale = cal === "roc" ? "zh-TW-u-ca-roc" : document.documentElement.lang || "en";
    const opts = monthOnly ? {year: "numeric"} : {year: "numeric", month: "long"};
    return new Intl.DateTimeFormat(locale, opts).format(new Date(y, mo - 1, 1));
  }

  let open = null;   // the picker shown, if any
  function close() {
    if (open) { open.panel.remove(); open.button.setAttribute("aria-expanded", "false"); open = null; }
  }
  function button(text, label, onClick, cls) {
    const b = document.createElement("button");
    b.type = "button";
    b.textContent = text;
    if (label) b.setAttribute("aria-label", label);
    if (cls) b.className = cls;
    b.addEventListener("click", onClick);
    return b;
  }
  function show(input, opener) {
    close();
    const cal = input.dataset.calendar;
    const monthOnly = input.dataset.month === "1";
    const withTime = input.dataset.time === "1";
    const seconds = input.dataset.seconds === "1";   // a field that takes 14:30:05
    const clock = seconds ? /^\d{1,2}[:：]\d{2}(?:[:：]\d{2})?$/ : /^\d{1,2}[:：]\d{2}$/;
    const now = new Date();
    const typed = parse(input.value) || {year: now.getFullYear(), month: now.getMonth() + 1, day: now.getDate(), time: null};
    const state = {year: typed.year, month: typed.month};
    const panel = document.createElement("div");
    panel.className = "picker";
    panel.setAttribute("role", "dialog");
    panel.setAttribute("aria-label", words.open || "");
    const time = document.createElement("input");
    time.type = "text"; time.className = "picker-time";
    time.value = typed.time && (seconds || typed.time.length === 5) ? typed.time : (seconds ? "00:00:00" : "00:00");
    time.setAttribute("aria-label", words.time || "");
    function pick(y, mo, d) {
      const t = withTime ? (clock.test(time.value.trim()) ? time.value.trim().replaceAll("：", ":") : "00:00") : null;
      input.value = write(cal, y, mo, d, t, monthOnly);
      input.dispatchEvent(new Event("input", {bubbles: true}));
      close();
      input.focus();
    }
    function draw() {
      panel.replaceChildren();
      const head = document.createElement("div");
      head.className = "picker-head";
      const step = monthOnly ? 12 : 1;
      const move = (n) => () => {
        const k = state.year * 12 + state.month - 1 + n;
        state.year = Math.floor(k / 12); state.month = k % 12 + 1; draw();
      };
      const title = document.createElement("strong");
      title.textContent = heading(cal, state.year, state.month, monthOnly);
      title.setAttribute("aria-live", "polite");
      head.append(button("‹", words.prev, move(-step)), title, button("›", words.next, move(step)));
      panel.append(head);
      const grid = document.createElement("div");
      grid.className = monthOnly ? "picker-months" : "picker-days";
      if (monthOnly) {
        const fmt = new Intl.DateTimeFormat(document.documentElement.lang || "en", {month: "short"});
        for (let mo = 1; mo <= 12; mo++) {
          grid.append(button(fmt.format(new Date(state.year, mo - 1, 1)), "", () => pick(state.year, mo, 1)));
        }
      } else {
        const names = new Intl.DateTimeFormat(document.documentElement.lang || "en", {weekday: "narrow"});
        for (let i = 0; i < 7; i++) {
          const h = document.createElement("span");
          h.className = "picker-dow"; h.textContent = names.format(new Date(2024, 0, 7 + i));   // a Sunday first
          grid.append(h);
        }
        const first = new Date(state.year, state.month - 1, 1).getDay();
        for (let i = 0; i < first; i++) grid.append(document.createElement("span"));
        const days = new Date(state.year, state.month, 0).getDate();
        for (let d = 1; d <= days; d++) {
          const chosen = typed.year === state.year && typed.month === state.month && typed.day === d;
          const b = button(String(d), write(cal, state.year, state.month, d, null, false),
                           () => pick(state.year, state.month, d), chosen ? "chosen" : "");
          grid.append(b);
        }
      }
      panel.append(grid);
      const foot = document.createElement("div");
      foot.className = "picker-foot";
      if (withTime) foot.append(time);
      foot.append(button(words.today || "Today", "", () => {
        const t = new Date(); state.year = t.getFullYear(); state.month = t.getMonth() + 1;
        if (monthOnly) pick(state.year, state.month, 1); else draw();
      }), button(words.close || "Close", "", close));
      panel.append(foot);
    }
    draw();
    panel.addEventListener("keydown", (e) => { if (e.key === "Escape") { e.preventDefault(); close(); input.focus(); } });
    opener.after(panel);
    opener.setAttribute("aria-expanded", "true");
    open = {panel, button: opener};
    const focusable = panel.querySelector(".chosen") || panel.querySelector(".picker-days button, .picker-months button");
    if (focusable) focusable.focus();
  }
  for (const input of document.querySelectorAll("input[data-calendar]")) {
    const opener = button(words.open || "Calendar", "", () => (open && open.button === opener ? close() : show(input, opener)),
                          "picker-open");
    opener.setAttribute("aria-expanded", "false");
    opener.setAttribute("aria-controls", input.id);
    input.after(opener);
  }
  document.addEventListener("click", (e) => {
    if (open && !open.panel.contains(e.target) && e.target !== open.button) close();
  });

  // --- a half-typed form kept while the session ends ----------------------------------------
  const PREFIX = "edged.kept.", SENT = "edged.sent";
  if (!account) return;   // the login page: keep everything for after the login
  const store = window.sessionStorage;
  for (let i = store.length - 1; i >= 0; i--) {   // another person's half-typed forms go
    const k = store.key(i);
    if (k && k.startsWith(PREFIX) && !k.startsWith(PREFIX + account + "|")) store.removeItem(k);
  }
  const keyOf = (form) => PREFIX + account + "|" + location.pathname + "|" + (form.getAttribute("action") || "");
  const kept = (el) => el.name && el.name !== "csrf" && el.type !== "password" && el.type !== "hidden"
    && el.type !== "file" && el.type !== "submit" && el.type !== "button" && !("nokeep" in el.dataset);
  function save(form) {
    const fields = [];
    for (const el of form.elements) {
      if (!kept(el)) continue;
      if (el.type === "checkbox" || el.type === "radio") fields.push([el.name, el.value, el.checked]);
      else if (el.multiple) fields.push([el.name, Array.from(el.selectedOptions, (o) => o.value)]);
      else fields.push([el.name, el.value]);
    }
    store.setItem(keyOf(form), JSON.stringify(fields));
  }
  function restore(form, fields) {
    const els = Array.from(form.elements).filter(kept);
    for (const [name, value, checked] of fields) {
      for (const el of els.filter((e) => e.name === name)) {
        if (el.type === "checkbox" || el.type === "radio") { if (el.value === value) el.checked = checked; }
        else if (el.multiple) { for (const o of el.options) o.selected = value.includes(o.value); }
        else if (!Array.isArray(value)) el.value = value;
      }
    }
  }
  const sent = store.getItem(SENT);
  store.removeItem(SENT);
  const back = new URLSearchParams(location.search).has("ended");
  if (sent && !back) store.removeItem(sent);   // sent while the session lived: done with it
  let restored = false;
  for (const form of document.querySelectorAll("main form[method=post]")) {
    if (form.querySelector("input[type=password]")) continue;   // never a password's form
    const key = keyOf(form);
    const fields = store.getItem(key);
    if (fields && back) { restore(form, JSON.parse(fields)); restored = true; }
    form.addEventListener("input", () => save(form));
    form.addEventListener("change", () => save(form));
    form.addEventListener("submit", () => { save(form); store.setItem(SENT, key); });
  }
  const note = document.getElementById("kept-note");
  if (restored && note) note.hidden = false;

  // --- a redacted copy --------------------------------------------------------------------
  // Each clip is scrubbed with its slider; a drag on its picture adds a line at the moment shown:
  // the applicant's region ("2.35 x,y,w,h", replacing a mark at that moment) or, with the tool
  // "Hide a box", a box hidden for a second from there ("2.35-3.35 x,y,w,h"). The lines are the
  // form's fields, which the custodian may correct by hand (edged/viewer/desk/marks.py reads them).
  for (const fig of document.querySelectorAll("figure.mark")) {
    const video = fig.querySelector("video");
    const shown = fig.querySelector(".mark-box");
    const marks = document.getElementById(fig.dataset.marks);
    const hide = document.getElementById(fig.dataset.hide);
    const scrub = fig.querySelector("input.scrub");
    const at = fig.querySelector("output.at");
    const secs = () => Math.round(video.currentTime * 100) / 100;
    const tool = () => (fig.querySelector("input[type=radio]:checked") || {}).value || "applicant";
    let from = null;
    const point = (e) => {
      const r = video.getBoundingClientRect();
      return [Math.max(0, Math.min(r.width, e.clientX - r.left)), Math.max(0, Math.min(r.height, e.clientY - r.top))];
    };
    const draw = (a, b) => {
      shown.hidden = false;
      shown.classList.toggle("hide", tool() === "hide");
      shown.style.left = Math.min(a[0], b[0]) + "px";
      shown.style.top = Math.min(a[1], b[1]) + "px";
      shown.style.width = Math.abs(a[0] - b[0]) + "px";
      shown.style.height = Math.abs(a[1] - b[1]) + "px";
    };
    const showTime = () => { at.value = secs().toFixed(2); };
    video.addEventListener("loadedmetadata", () => { scrub.max = String(video.duration || 0); showTime(); });
    scrub.addEventListener("input", () => { video.currentTime = Number(scrub.value); shown.hidden = true; });
    video.addEventListener("seeked", () => { scrub.value = String(video.currentTime); showTime(); });
    video.addEventListener("pointerdown", (e) => { e.preventDefault(); from = point(e); video.setPointerCapture(e.pointerId); });
    video.addEventListener("pointermove", (e) => { if (from) draw(from, point(e)); });
    video.addEventListener("pointerup", (e) => {
      if (!from) return;
      const to = point(e), r = video.getBoundingClientRect();
      const sx = (video.videoWidth || r.width) / r.width, sy = (video.videoHeight || r.height) / r.height;
      draw(from, to);
      const box = [Math.min(from[0], to[0]) * sx, Math.min(from[1], to[1]) * sy,
                   Math.abs(from[0] - to[0]) * sx, Math.abs(from[1] - to[1]) * sy].map(Math.round).join(",");
      from = null;
      if (box.split(",").slice(2).some((v) => v === "0")) return;   // a click, not a drag
      const t = secs();
      if (tool() === "hide") {
        const end = Math.round(Math.min(video.duration || t + 1, t + 1) * 100) / 100;
        hide.value = (hide.value.trim() ? hide.value.trim() + "\n" : "") + t + "-" + end + " " + box;
        hide.dispatchEvent(new Event("input", {bubbles: true}));
      } else {
        const lines = marks.value.split("\n").map((l) => l.trim()).filter((l) => l && Number(l.split(/\s+/)[0]) !== t);
        lines.push(t + " " + box);
        lines.sort((a, b) => Number(a.split(/\s+/)[0]) - Number(b.split(/\s+/)[0]));
        marks.value = lines.join("\n");
        marks.dispatchEvent(new Event("input", {bubbles: true}));
      }
    });
  }
  // the made copy's moments to check (design/0285, 0290): marks on a bar of the clip's length under
  // its player, placed once the player knows the length; a mark takes the player to its moment
  for (const checks of document.querySelectorAll("div.checks")) {
    const video = checks.previousElementSibling;
    const place = () => {
      const length = video.duration || 0;
      if (!length) return;
      checks.style.width = video.clientWidth + "px";   // the bar as wide as the player above it
      for (const b of checks.querySelectorAll("button")) {
        const from = Number(b.dataset.from), to = Number(b.dataset.to);
        b.style.left = (100 * from / length).toFixed(2) + "%";
        b.style.width = Math.max(0.5, 100 * (to - from) / length).toFixed(2) + "%";
      }
    };
    if (video.readyState >= 1) place(); else video.addEventListener("loadedmetadata", place);
    for (const b of checks.querySelectorAll("button")) {
      b.addEventListener("click", () => { video.pause(); video.currentTime = Number(b.dataset.from); });
    }
  }
  const bar = document.getElementById("redact-progress");
  if (bar) {
    const poll = () => fetch(bar.dataset.poll, {credentials: "same-origin"}).then((r) => r.json()).then((p) => {
      bar.value = p.fraction;
      const going = document.getElementById("redact-resumed");   // a copy taken up again (design/0277)
      if (going && going.hidden && p.resumed !== null && p.resumed !== undefined) {
        going.textContent = going.dataset.text.replace("{pct}", String(p.resumed));
        going.hidden = false;
      }
      if (p.done) location.reload(); else setTimeout(poll, 1000);
    }).catch(() => setTimeout(poll, 2000));
    poll();
  }
})();
