"""How many days of footage each camera keeps on this disk at these bitrates, under the site's
retention rules (design/0077, `edgectl retention --estimate`). Pure: plain numbers in, plain
dicts out; the planner's own rule (storage.retention.forecast_by_camera, design/0035) decides.

Inputs are the daemon's retention report (each camera's write rate over the last day, its
limits, the disk, the reserve, the held bytes) and the technician's figures for cameras that
do not record yet (`--bitrate CAM=4Mbit`), or another disk (`--disk 8TB`).
"""

from __future__ import annotations

import re
from typing import Any

from storage.retention.forecast import forecast_by_camera
from storage.retention.plan import DAY_US, Limits, Policy
from storage.states.cameras import PORTABLE_PREFIX

MARGIN = 1.1  # "AT RISK" below this times the minimum (storage.retention.verdict): the disk needed keeps it
_RATE = re.compile(r"^\s*([0-9]+(?:\.[0-9]+)?)\s*([kmg]?)(?:bit/s|bps|bit|b)?\s*$", re.I)
_SCALE = {"": 1, "k": 1e3, "m": 1e6, "g": 1e9}


def parse_bitrate(text: str) -> float:
    """ "4M", "4Mbit/s", "2500k", "800kbps" -> bits per second (powers of 1000, as cameras state them)."""
    m = _RATE.match(text)
    if m is None:
        raise ValueError(f"{text!r} is not a bitrate")  # i18n: the CLI says it (edged/cli/retention.py)
    return float(m.group(1)) * _SCALE[m.group(2).lower()]


def estimate(report: dict[str, Any], bitrates: dict[str, float] | None = None,
             disk_total: int | None = None) -> dict[str, Any]:
    """Per camera: the rate used (bytes/s, and where it came from), the days kept, its minimum
    and whether it would be breached; and the disk needed to keep every minimum (with the 10 %
    margin the retention verdict asks). `bitrates` are bits/s by camera id (new ids get the
    site's limits); `disk_total` replaces the disk's size (the reserve scales with it)."""
    bitrates = bitrates or {}
    site = Limits(report["site_min_us"], report["site_max_us"])
    rows = {c["camera"]: c for c in report["cameras"] if c.get("mode") != "live"
            and not c["camera"].startswith(PORTABLE_PREFIX)}   # an intake is no camera to plan for (design/0429)
    limits = {cam: Limits(r["min_us"], r["max_us"]) for cam, r in rows.items()}
    rates: dict[str, float] = {}
    source: dict[str, str] = {}
    for cam, r in rows.items():
        if r.get("write_rate_bps"):
            rates[cam], source[cam] = float(r["write_rate_bps"]), "measured"
    for cam, bps in bitrates.items():
        rates[cam], source[cam] = bps / 8, "given"
        limits.setdefault(cam, site)
    for cam in limits:
        rates.setdefault(cam, 0.0)
        source.setdefault(cam, "none")
    total = disk_total or report["disk_total"]
    scale = total / report["disk_total"] if report["disk_total"] else 1.0
    reserve = int(report["reserve"] * scale) if report["disk_total"] else report["reserve"]
    intakes = int(report.get("intake_share", 0) * scale)   # the intakes' share: never the cameras' room
    held = max((r.get("held_bytes") or 0 for r in rows.values()), default=0)  # a site-wide hold counts once
    policy = Policy(site, limits, reserve)
    forecasts = forecast_by_camera(total - reserve - intakes, held, rates, policy)
    cams = []
    for cam in sorted(limits):
        days = forecasts.get(cam)
        lim = limits[cam]
        cams.append({"camera": cam, "rate_bps": rates[cam] * 8, "rate_from": source[cam],
                     "days": None if days is None else days / DAY_US, "min_days": lim.min_us / DAY_US,
                     "max_days": lim.max_us / DAY_US,
                     "breached": days is not None and days < lim.min_us,
                     "at_risk": days is not None and lim.min_us <= days < lim.min_us * MARGIN})
    need = sum(rates[c] * limits[c].min_us / 1e6 for c in limits) * MARGIN + held
    # the reserve and the intakes' share are shares of the disk: the disk that leaves `need` after them
    share = (reserve + intakes) / total if total else 0.0
    needed = int(need / (1 - share)) if share < 1 else None
    return {"disk_total": total, "reserve": reserve, "intake_share": intakes, "held_bytes": held, "cameras": cams,
            "disk_needed": needed, "enough": needed is not None and needed <= total,
            "no_rate": [c["camera"] for c in cams if c["rate_from"] == "none"]}
