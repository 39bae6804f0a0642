"""`edgectl`: the maintenance CLI. Read-only for now: it reads the catalog directly
(WAL lets it read while the daemon writes). Tables for people, `--json` for scripts."""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from edged import ctl_export, ctl_health, ctl_maintenance, ctl_people, ctl_retention
from edged.cli import resolve_config
from edged.config import Config, ConfigError
from edged.control import RequestError
from edged.display import UsageError, fmt_age, fmt_bytes, fmt_time, parse_when, table
from storage.catalog import FOOTAGE, open_readonly, segments_between
from storage.layout import CATALOG_FILE

HEARTBEAT_STALE_US = 10_000_000


# commands ---------------------------------------------------------------------------
@dataclass
class Ctx:
    """What every command gets: the catalog (read-only), the data folder, the config."""

    db: Any
    data_dir: Path
    cfg: Config
    socket: Path


def cmd_status(ctx: Ctx, args) -> tuple[Any, str]:
    db, data_dir = ctx.db, ctx.data_dir
    now = time.time_ns() // 1000
    node = {r["key"]: r["value"] for r in db.query("SELECT key, value FROM node")}
    pid = int(node["pid"]) if node.get("pid") else None
    beat = int(node["heartbeat_us"]) if node.get("heartbeat_us") else None
    running = bool(pid and _alive(pid) and beat and now - beat < HEARTBEAT_STALE_US and not node.get("stopped_us"))
    states = {r["state"]: r["n"] for r in db.query(
        "SELECT state, count(*) AS n FROM cameras WHERE configured = 1 GROUP BY state")}
    seg = next(db.query(
        "SELECT count(*) AS n, sum(bytes) AS bytes, min(start_us) AS oldest, max(end_us) AS newest FROM segments"
        " WHERE " + FOOTAGE))
    open_n = next(db.query("SELECT count(*) AS n FROM segments WHERE state = 'writing'"))["n"]
    gaps = next(db.query("SELECT count(*) AS n FROM gaps WHERE to_us >= ?", [now - 86_400_000_000]))["n"]
    disk = shutil.disk_usage(data_dir)
    data = {
        "running": running, "pid": pid if running else None, "version": node.get("version"),
        "site": node.get("site"), "site_name": node.get("site_name"), "node": node.get("node"),
        "started_us": _int(node.get("started_us")), "heartbeat_us": beat, "data_dir": str(data_dir),
        "disk_total": disk.total, "disk_free": disk.free, "cameras": states,
        "segments": seg["n"], "footage_bytes": seg["bytes"] or 0, "oldest_us": seg["oldest"],
        "newest_us": seg["newest"], "open_segments": open_n, "gaps_24h": gaps, "broker": node.get("mqtt_status"),
    }
    total = sum(states.values())
    recording = states.get("recording", 0)
    lines = [
        f"edged {data['version'] or '?'}  site {data['site'] or '?'} ({data['site_name'] or '-'}), node {data['node'] or '-'}",
        "daemon:    " + (f"running (pid {pid}), up since {fmt_time(data['started_us'])}" if running
                         else f"NOT RUNNING (last heartbeat {fmt_age(beat, now)})"),
        f"cameras:   {recording}/{total} recording" + "".join(
            f", {n} {s}" for s, n in sorted(states.items()) if s != "recording"),
        f"footage:   {seg['n']} segments, {fmt_bytes(data['footage_bytes'])}, "
        f"{fmt_time(seg['oldest'])} to {fmt_time(seg['newest'])}; {open_n} being written",
        f"gaps:      {gaps} in the last 24 h",
        f"broker:    {node.get('mqtt_status') or 'not configured'}",
        f"disk:      {fmt_bytes(disk.free)} free of {fmt_bytes(disk.total)} ({data_dir})",
    ]
    return data, "\n".join(lines)


def cmd_cameras(ctx: Ctx, args) -> tuple[Any, str]:
    db = ctx.db
    now = time.time_ns() // 1000
    rows = list(db.query("SELECT * FROM cameras WHERE configured = 1 OR ? ORDER BY id", [int(args.all)]))
    for r in rows:
        for col in ("health", "image", "compliance_reasons"):
            r[col] = json.loads(r[col]) if r.get(col) else None
    if args.notice:
        return rows, notice(ctx, [r for r in rows if r["configured"] and r["enabled"]])
    out = []
    for r in rows:
        res = f"{r['width']}x{r['height']}" if r["width"] else "-"
        problem = r["last_error"] if r["state"] in ("offline", "connecting") else \
            "; ".join((r["health"] or {}).get("conditions", {}).values())
        out.append([r["id"], r["name"], r["state"].upper() if r["state"] in ("offline", "degraded") else r["state"],
                    fmt_age(r["state_since_us"], now), f"{r['fps']:.1f}" if r["fps"] is not None else "-",
                    f"{r['bitrate'] / 1e6:.2f}M" if r["bitrate"] else "-", res,
                    fmt_age(r["last_packet_us"], now), r["compliance"] or "-", r["url"],
                    problem or "; ".join(r["compliance_reasons"] or [])])
    text = table(["ID", "NAME", "STATE", "SINCE", "FPS", "BITRATE", "RES", "LAST PACKET", "FLOOR", "URL", "PROBLEM"],
                 out)
    return rows, text if rows else "no cameras configured"


def notice(ctx: Ctx, rows: list[dict[str, Any]]) -> str:
    """The public notice of camera locations (R3.5): no addresses, no technical detail."""
    site = {r["key"]: r["value"] for r in ctx.db.query("SELECT key, value FROM node WHERE key IN ('site_name')")}
    lines = [f"CCTV NOTICE: {site.get('site_name') or ctx.cfg.site.name}",
             f"This site is recorded by {len(rows)} cameras. Footage is kept at least "
             f"{ctx.cfg.retention.min_retention_us // 86_400_000_000} days and destroyed within "
             f"{ctx.cfg.retention.max_retention_us // 86_400_000_000} days unless held as evidence.", ""]
    lines.append(table(["LOCATION", "CAMERA", "KIND", "PURPOSE", "COVERAGE", "RESPONSIBLE", "CONTACT"], [
        [r["location"] or "-", r["name"], r["kind"], r["purpose"] or "-", r["coverage"] or "-",
         r["manager"] or "-", r["contact"] or "-"] for r in rows]))
    lines.append(f"\nUpdated {fmt_time(time.time_ns() // 1000)}.")
    return "\n".join(lines)


def cmd_segments(ctx: Ctx, args) -> tuple[Any, str]:
    db = ctx.db
    now = time.time_ns() // 1000
    start = parse_when(args.from_, now) if args.from_ else now - 3_600_000_000
    end = parse_when(args.to, now) if args.to else now
    if end <= start:
        raise UsageError("--to must be after --from")
    if args.camera and not next(db.query("SELECT 1 AS x FROM cameras WHERE id = ?", [args.camera]), None):
        raise UsageError(f"no camera {args.camera!r}; `edgectl cameras` lists them")
    rows = segments_between(db, start, end, args.camera, args.limit)
    gaps = list(db.query(
        "SELECT * FROM gaps WHERE from_us < ? AND to_us >= ?" + (" AND camera = ?" if args.camera else "")
        + " ORDER BY camera, from_us", [end, start] + ([args.camera] if args.camera else [])))
    out = [[r["camera"], fmt_time(r["start_us"]), f"{((r['end_us'] or r['start_us']) - r['start_us']) / 1e6:.1f}s",
            fmt_bytes(r["bytes"]), r["frames"], r["state"], (r["sha256"] or "")[:12], r["path"]] for r in rows]
    text = table(["CAMERA", "START", "LENGTH", "SIZE", "FRAMES", "STATE", "SHA256", "PATH"], out)
    if gaps:
        text += "\n\ngaps:\n" + table(["CAMERA", "FROM", "TO", "LENGTH", "REASON"], [
            [g["camera"], fmt_time(g["from_us"]), fmt_time(g["to_us"]), f"{(g['to_us'] - g['from_us']) / 1e6:.1f}s",
             g["reason"]] for g in gaps])
    if len(rows) == args.limit:
        text += f"\n(first {args.limit} shown; use --limit)"
    return {"segments": rows, "gaps": gaps}, text if rows or gaps else "no footage in that range"


def _join_negative_times(argv: list[str]) -> list[str]:
    """Let `--from -2h` through: argparse would take "-2h" for an option."""
    out: list[str] = []
    for arg in argv:
        if out and out[-1] in ("--from", "--to") and arg[:1] == "-" and arg[1:2].isdigit():
            out[-1] = f"{out[-1]}={arg}"
        else:
            out.append(arg)
    return out


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _int(v: str | None) -> int | None:
    return int(v) if v else None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="edgectl", description="Maintenance CLI for the edged recorder.")
    parser.add_argument("--config", type=Path, help="the daemon's config file (default /etc/edged/edged.toml)")
    parser.add_argument("--data", type=Path, help="the data folder (overrides the config's)")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("status", help="is the daemon recording, and how much footage is there")
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=cmd_status)
    p = sub.add_parser("cameras", help="every camera with its state, rate and last problem")
    p.add_argument("--all", action="store_true", help="include cameras removed from the config")
    p.add_argument("--notice", action="store_true", help="print the public notice of camera locations (R3.5)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=cmd_cameras)
    p = sub.add_parser("segments", help="recorded segments and gaps in a time range")
    p.add_argument("--camera", help="only this camera")
    p.add_argument("--from", dest="from_", metavar="T", help="start (ISO 8601 local time, or -2h); default -1h")
    p.add_argument("--to", metavar="T", help="end (ISO 8601 or -10m); default now")
    p.add_argument("--limit", type=int, default=1000)
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=cmd_segments)
    ctl_retention.register(sub)
    ctl_maintenance.register(sub)
    ctl_health.register(sub)
    ctl_people.register(sub)
    ctl_export.register(sub)
    args = parser.parse_args(_join_negative_times(sys.argv[1:] if argv is None else argv))

    try:
        if getattr(args, "standalone", False):  # e.g. `verify`: works on any machine, no edged there
            data, text = args.handler(None, args)
            print(json.dumps(data, indent=2) if getattr(args, "json", False) else text)
            return 0
        cfg = resolve_config(args.config)[0]
        data_dir = args.data if args.data is not None else cfg.storage.data_dir
        try:
            db = open_readonly(data_dir / CATALOG_FILE)
        except FileNotFoundError:
            raise UsageError(f"no catalog in {data_dir}: has edged run there? (use --data or --config)") from None
        node = {r["key"]: r["value"] for r in db.query("SELECT key, value FROM node WHERE key = 'control_socket'")}
        sock = Path(node["control_socket"]) if args.data is not None and node.get("control_socket") \
            else cfg.control.socket
        data, text = args.handler(Ctx(db, data_dir, cfg, sock), args)
    except (UsageError, ConfigError, RequestError) as exc:
        print(f"edgectl: {exc}", file=sys.stderr)
        return 2
    print(json.dumps(data, indent=2) if getattr(args, "json", False) else text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
