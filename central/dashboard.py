"""The read-only dashboard (aiohttp): the fleet overview and a page per site, server-rendered
plain HTML with no script at all, under the viewer's strict CSP (edged/viewer/server.py). GET
only; it reads the store through a read-only connection in a thread, never on the loop."""

from __future__ import annotations

import asyncio
import html
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from aiohttp import web

from central import fleet
from central.config import CentralConfig
from central.store import Store, now_us

STATIC = Path(__file__).with_name("static")
HEADERS = {
    "Content-Security-Policy": "default-src 'none'; style-src 'self'; img-src 'self'; frame-ancestors 'none'; "
                               "base-uri 'none'; form-action 'none'",
    "Cache-Control": "no-store",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
}
REFRESH_S = 10
e = html.escape


def _when(us: int | None) -> str:
    return "-" if not us else datetime.fromtimestamp(us / 1e6, timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")


def _page(title: str, body: list[str]) -> web.Response:
    text = (f"<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>{e(title)}</title>"
            f"<meta http-equiv=\"refresh\" content=\"{REFRESH_S}\"><link rel=\"stylesheet\" href=\"/central.css\">"
            f"</head><body data-page=\"{e(title)}\">\n" + "\n".join(body) + "\n</body></html>\n")
    return web.Response(text=text, content_type="text/html", headers=HEADERS)


def _table(cols: list[str], rows: list[tuple[str, list[str]]]) -> str:
    head = "".join(f"<th>{e(c)}</th>" for c in cols)
    body = "".join(f"<tr class=\"{cls}\">" + "".join(f"<td>{v}</td>" for v in cells) + "</tr>" for cls, cells in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _findings_cell(counts: dict[str, int]) -> str:
    return " ".join(f"<span class=\"{e(sev)}\">{counts[sev]} {e(sev)}</span>"
                    for sev in ("critical", "warning", "info") if counts.get(sev)) or "none"


class Dashboard:
    def __init__(self, cfg: CentralConfig):
        self.cfg = cfg
        self.app = web.Application()
        self.app.router.add_get("/", self.index)
        self.app.router.add_get("/site/{site}", self.site)
        self.app.router.add_get("/central.css", self.css)
        self.app.router.add_get("/api/status", self.api_status)
        self.app.router.add_get("/favicon.ico", self.no_icon)
        self._runner: web.AppRunner | None = None

    async def _read(self, fn: Any) -> Any:
        def work() -> Any:
            store = Store(self.cfg.db_path, readonly=True)
            try:
                return fn(store)
            finally:
                store.close()
        return await asyncio.to_thread(work)

    async def _overview(self, site: str | None = None) -> dict[str, Any]:
        return await self._read(lambda s: fleet.overview(s, now_us(), self.cfg.silent_after_us, site))

    async def css(self, _r: web.Request) -> web.Response:
        return web.Response(body=(STATIC / "central.css").read_bytes(), content_type="text/css", headers=HEADERS)

    async def no_icon(self, _r: web.Request) -> web.Response:
        return web.Response(status=204, headers=HEADERS)

    async def api_status(self, _r: web.Request) -> web.Response:
        return web.json_response(await self._overview(), headers=HEADERS)

    async def index(self, _r: web.Request) -> web.Response:
        o = await self._overview()
        t = o["total"]
        body = ["<h1>edged fleet</h1>",
                f"<p class=\"tiles\"><span id=\"nodes-up\">nodes up: {t['up']} / {t['nodes']}</span>"
                f"<span id=\"cameras-recording\">cameras recording: {t['recording']} / {t['cameras']}</span>"
                f"<span id=\"open-alarms\">open alarms: {t['open_alarms']}</span>"
                f"<span id=\"critical-findings\" class=\"{'critical' if t['critical'] else ''}\">critical findings: "
                f"{t['critical']}</span></p>", "<h2>Sites</h2>"]
        rows = [("down" if s["up"] < s["nodes"] or s["critical"] else "",
                 [f"<a href=\"/site/{e(name)}\">{e(name)}</a>", f"{s['up']} / {s['nodes']}",
                  f"{s['recording']} / {s['cameras']}", str(s["open_alarms"]), str(s["critical"])])
                for name, s in sorted(o["sites"].items())]
        body.append(_table(["site", "nodes up", "cameras recording", "open alarms", "critical findings"], rows)
                    if rows else "<p>No node has reported yet.</p>")
        body.append(f"<p class=\"muted\">Read-only. Made {_when(o['made_us'])}; refreshes every {REFRESH_S} s.</p>")
        return _page("edged fleet", body)

    async def site(self, request: web.Request) -> web.Response:
        site = request.match_info["site"]

        def gather(s: Store) -> tuple[dict[str, Any], list[dict[str, Any]], dict[str, dict]]:
            o = fleet.overview(s, now_us(), self.cfg.silent_after_us, site)
            cams = {n["node"]: s.retained_of(n["node"])["cameras"] for n in o["nodes"]}
            return o, s.findings(site=site, limit=50), cams

        o, findings, cams = await self._read(gather)
        if not o["nodes"]:
            raise web.HTTPNotFound(text=f"no node of site {site} has reported", headers=HEADERS)
        body = [f"<h1>Site {e(site)}</h1>", "<p><a href=\"/\">fleet</a></p>", "<h2>Nodes</h2>"]
        body.append(_table(["node", "state", "version", "cameras recording", "retention achieved", "open alarms",
                            "findings", "signed head", "last heard"],
                           [("" if n["up"] else "down",
                             [e(n["name"]), "up" if n["up"] else e(n["status"] + (" (silent)" if n["silent"] else "")),
                              e(str(n["version"] or "-")), f"{n['recording']} / {n['cameras']}",
                              e("-" if n["retention_days"] is None else f"{n['retention_days']} d"),
                              str(n["open_alarms"]), _findings_cell(n["findings"]),
                              "-" if not n["head"] else f"{n['head']['seq']} {e(n['head']['hash'][:16])}",
                              _when(n["last_us"])]) for n in o["nodes"]]))
        body.append("<h2>Cameras</h2>")
        rows = []
        for node, by_cam in sorted(cams.items()):
            for cam, st in sorted(by_cam.items()):
                st = st or {}
                rows.append(("" if st.get("recording") else "down",
                             [e(node.split("/", 1)[1]), e(cam), "yes" if st.get("recording") else "no",
                              e(str(st.get("health") or "-")), e(str(st.get("fps") or "-")),
                              e(str(st.get("resolution") or "-"))]))
        body.append(_table(["node", "camera", "recording", "health", "fps", "resolution"], rows) if rows
                    else "<p>No camera state yet.</p>")
        alarms = [a | {"node": n["name"]} for n in o["nodes"] for a in n["alarms"]]
        body.append("<h2>Open alarms</h2>")
        body.append(_table(["node", "alarm", "severity", "camera", "since"],
                           [("", [e(a["node"]), e(a["id"]), e(str(a["severity"])), e(str(a["camera"] or "-")),
                                  _when(a["raised_us"])]) for a in alarms]) if alarms else "<p>None.</p>")
        body.append("<h2>Findings (newest 50)</h2>")
        body.append(_table(["node", "severity", "kind", "about", "message"],
                           [("bad" if f["severity"] == "critical" else "",
                             [e(f["node"].split("/", 1)[1]), f"<span class=\"{e(f['severity'])}\">{e(f['severity'])}"
                              "</span>", e(f["kind"]), _when(f["about_us"]), e(f["message"])]) for f in findings])
                    if findings else "<p>None.</p>")
        return _page(f"site {site}", body)

    async def start(self, host: str, port: int) -> None:
        self._runner = web.AppRunner(self.app, access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, host, port).start()

    async def close(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
