"""What retention has achieved and will achieve, and what it destroyed: the reports behind
`edgectl retention`/`destructions`, the retention runner's alarms and the MQTT `state` and
`retention` messages. Read-only queries.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Iterable

import sqlite_utils

from storage import alarm_kinds as kinds, node
from storage.footage import restamps
from storage.footage.spans import union
from storage.footage.segment_rows import FOOTAGE, PORTABLE_PREFIX, SEGMENT_LOOKBACK_US
from storage.time.clock import SYSTEM, Clock
from storage.retention.holds import active_holds
from storage.retention.forecast import NOT_RECORDED, forecast_by_camera, forecast_retention_us, verdict
from storage.retention.plan import Grace, Hold
from storage.retention.grace import active_graces, notice_until
from storage.retention.policy import policy_for

def destructions(db: sqlite_utils.Database, cameras: list[str] | None, from_us: int | None, to_us: int | None,
                 limit: int) -> list[dict[str, Any]]:
    """The record of destroyed footage (`cameras` None: every camera), for footage recorded in
    [from, to) when both are given, by camera then time."""
    sql = "SELECT * FROM destructions WHERE 1 = 1"
    params: list[Any] = []
    if cameras is not None:
        sql += f" AND camera IN ({','.join('?' * len(cameras))})"
        params += cameras
    if from_us is not None and to_us is not None:
        sql += " AND start_us < ? AND end_us > ?"
        params += [to_us, from_us]
    return list(db.query(sql + " ORDER BY camera, start_us LIMIT ?", [*params, limit]))


def destructions_after(db: sqlite_utils.Database, after_id: int, limit: int) -> list[dict[str, Any]]:
    """Destructions in id order after `after_id`, with their pass's disk figures (free_before,
    reserve): the central office sees whether a destruction for capacity had disk pressure; and
    a host clock correction (`shift_us`, design/0059), so that it judges the age by the true end."""
    return list(db.query("SELECT d.*, p.free_before, p.reserve, r.shift_us FROM destructions d LEFT JOIN"
                         " retention_passes p ON p.id = d.pass_id LEFT JOIN restamps r ON r.segment_id = d.segment_id"
                         " WHERE d.id > ? ORDER BY d.id LIMIT ?",
                         [after_id, limit]))


FOOTAGE_KEY = "mqtt_footage_id"  # the node key: the newest segment id the office has been told of
SPANS_KEY = "mqtt_spans_id"      # and the newest whose time covered it has been told (none before it open)
FIRST_KEY = "mqtt_footage_first"  # the first id of the last range told (told again with late spans)


def footage_since(db: sqlite_utils.Database) -> list[dict[str, Any]]:
    """The segments the office has not been told of (design/0095), as one range of ids (ids are
    the node's, whatever the camera): first and last id, first start and last end, how many, how
    many cameras. The first time (an upgrade), nothing: the footage already on record is older
    than the office's hearing of it, and is judged by its stamps."""
    mark = node.value(db, FOOTAGE_KEY)
    if mark is None:
        newest = db.execute("SELECT coalesce(max(id), 0) FROM segments").fetchone()[0]
        node.set_values(db, {FOOTAGE_KEY: newest, SPANS_KEY: newest})
        return []
    got = [dict(r) for r in db.query(
        "SELECT min(id) AS first_id, max(id) AS last_id, min(start_us) AS from_us, max(end_us) AS to_us,"
        " count(*) AS segments, count(DISTINCT camera) AS cameras FROM segments WHERE id > ?", [int(mark)])]
    got = [r for r in got if r["segments"]]
    # the time covered goes with it, up to the first segment still being written (design/0115);
    # what was being written then goes when it is closed: with the next range, or, when there is
    # none (a standby at rest), with the last range again (the office keeps when it first heard of it)
    after = int(node.value(db, SPANS_KEY) or mark)
    last = got[-1]["last_id"] if got else int(mark)
    writing = db.execute("SELECT min(id) FROM segments WHERE id > ? AND state = 'writing'", [after]).fetchone()[0]
    upto = last if writing is None else min(last, writing - 1)
    if not got and upto > after and node.value(db, FIRST_KEY) is not None:
        got = [{"first_id": int(node.value(db, FIRST_KEY) or 0), "last_id": int(mark)}]
    if got and upto > after:
        spans, upto = footage_spans(db, after, upto)  # over MAX_SPANS: the rest with the next message
        got[-1] = {**got[-1], "spans": spans, SPANS_KEY: upto}
    return got


SPAN_KINDS = {"live": "live", "backfilled": "backfilled", "standby": "standby"}  # a segment's source -> its kind
STOOD_IN = "stood_in"  # a standby's own recording of another box's camera (design/0107)
MAX_SPANS = 400        # per message (the time covered is merged, so a day is a handful); more: continued


def footage_spans(db: sqlite_utils.Database, after_id: int, last_id: int,
                  most: int | None = None) -> tuple[dict[str, list[list[Any]]], int]:
    """Per camera, the time the segments (after_id, upto] cover, merged, each with its kind:
    `live`, `backfilled` (the camera's own recording), `standby` (fetched back from the standby)
    or `stood_in` (this box, a standby, recorded another box's camera): the office counts a
    camera's time once, whichever boxes hold it (design/0115). `upto` is `last_id` unless that
    would take more than `most` spans (a box back after a long outage, many gaps): then the
    longest run of ids that fits, never a span cut off; the rest goes with the next message."""
    boxed = {r["id"] for r in db.query("SELECT id FROM cameras WHERE box IS NOT NULL")}
    found: list[tuple[int, str, str, int, int]] = []
    for r in db.query("SELECT id, camera, source, start_us, end_us FROM segments WHERE id > ? AND id <= ? AND "
                      + FOOTAGE + " AND end_us IS NOT NULL ORDER BY id", [after_id, last_id]):
        kind = STOOD_IN if r["camera"] in boxed and r["source"] == "live" else SPAN_KINDS.get(r["source"], r["source"])
        found.append((r["id"], r["camera"], kind, r["start_us"], r["end_us"]))
    most = MAX_SPANS if most is None else most
    out = _merged(found)
    if sum(len(v) for v in out.values()) <= most:
        return out, last_id
    lo, hi = min(most, len(found)), len(found)  # `most` segments make `most` spans at most: lo always fits
    while lo < hi:  # the longest prefix (by id) whose spans fit
        mid = (lo + hi + 1) // 2
        if sum(len(v) for v in _merged(found[:mid]).values()) <= most:
            lo = mid
        else:
            hi = mid - 1
    return _merged(found[:lo]), found[lo - 1][0] if lo else after_id


def _merged(found: list[tuple[int, str, str, int, int]]) -> dict[str, list[list[Any]]]:
    raw: dict[tuple[str, str], list[tuple[int, int]]] = {}
    for _id, camera, kind, a, b in found:
        raw.setdefault((camera, kind), []).append((a, b))
    out: dict[str, list[list[Any]]] = {}
    for (camera, kind), spans in sorted(raw.items()):
        out.setdefault(camera, []).extend([a, b, kind] for a, b in union(spans))
    return out


def write_rates(db: sqlite_utils.Database, now: int, window_us: int = 86_400_000_000) -> dict[str, float]:
    """Bytes per second written by each camera over the recent window."""
    rates = {}
    for r in db.query("SELECT camera, sum(bytes) AS b, min(start_us) AS s, max(end_us) AS e FROM segments"
                      " WHERE start_us >= ? AND " + FOOTAGE + " GROUP BY camera", [now - window_us]):
        span = (r["e"] - r["s"]) / 1e6 if r["e"] and r["s"] else 0
        rates[r["camera"]] = (r["b"] or 0) / span if span > 0 else 0.0
    return rates


def held_bytes(db: sqlite_utils.Database, holds: list[Hold], box_only: bool = False) -> int:
    """The bytes of footage the holds keep; `box_only`, of the box's own cameras (an intake's footage is
    inside the intakes' share: design/0459)."""
    total = 0
    for h in holds:
        cams = "" if h.cameras is None else " AND camera IN (SELECT value FROM json_each(?))"
        if box_only:
            cams += f" AND camera NOT LIKE '{PORTABLE_PREFIX}%'"
        params: list[Any] = [h.to_us, h.from_us] + ([] if h.cameras is None else [json.dumps(sorted(h.cameras))])
        # by index (camera, start): no segment is longer than SEGMENT_LOOKBACK_US
        total += next(db.query("SELECT coalesce(sum(bytes), 0) AS b FROM segments WHERE start_us < ? AND end_us > ?"
                               " AND camera IN (SELECT camera FROM camera_keys) AND start_us > ? AND " + FOOTAGE
                               + cams, [*params[:2], h.from_us - SEGMENT_LOOKBACK_US, *params[2:]]))["b"]
    return total


def breached_cameras(db: sqlite_utils.Database) -> set[str]:
    """Cameras with an active min_retention_breach alarm: the breach state (design/0024)."""
    return {r["camera"] for r in db.query(
        "SELECT camera FROM alarms WHERE kind = ? AND cleared_us IS NULL", [kinds.MIN_RETENTION_BREACH.name])}


def oldest_ages(db: sqlite_utils.Database, now: int) -> dict[str, int | None]:
    """Per camera, the age of its oldest footage on the true clock (design/0096): the retention it
    achieves (two index probes each, and the corrections)."""
    out: dict[str, int | None] = {}
    for r in list(db.query("SELECT id FROM cameras")):
        oldest = restamps.true_span(db, r["id"])[0]
        out[r["id"]] = None if oldest is None else now - oldest
    return out


@dataclass(frozen=True)
class Standing:
    """What follows a retention pass needs of the catalog, read once at its end (issue 57)."""
    raised: set[str]                  # cameras whose min_retention_breach alarm is active
    achieved: dict[str, int | None]   # each camera's oldest footage's age
    notice_until: int | None          # the end of a retention change's notice, if one is open
    held_bytes: int                   # what the active holds keep of the box's own cameras (design/0459)
    rates: dict[str, float]           # bytes a second each camera writes (portable ones' intakes included)


def standing(db: sqlite_utils.Database, now: int) -> Standing:
    return Standing(breached_cameras(db), oldest_ages(db, now), notice_until(db),
                    held_bytes(db, active_holds(db, now), box_only=True), write_rates(db, now))


UNJUDGED = "CANNOT BE JUDGED"  # a camera's verdict while the host clock is in dispute (issue 90, design/0372)


def judged_on_clock(report: dict[str, Any], dispute: str) -> dict[str, Any]:
    """Pure: the report as the clock allows (design/0372). While the host clock is in dispute
    (`dispute`, why: a source disagrees, or it runs ahead of the time retention can prove), the
    retention achieved is measured on a clock nothing vouches for: each camera's is None and its
    verdict CANNOT BE JUDGED (a live camera stays NOT RECORDED), and the report says why."""
    if not dispute:
        return report
    cams = [{**c, "achieved_us": None, "verdict": c["verdict"] if c["verdict"] == NOT_RECORDED else UNJUDGED}
            for c in report["cameras"]]
    return {**report, "cameras": cams, "clock_dispute": dispute}


def retention_report(db: sqlite_utils.Database, retention: Any, cameras: Iterable[Any], data_dir: Path,
                     clock: Clock = SYSTEM, usage: Any = None) -> dict[str, Any]:
    """Per camera: oldest footage, achieved and forecast retention, limits, held bytes, verdict
    (edgectl retention, and the `state` the central office sees)."""
    now = clock.now_us()
    cameras = list(cameras)
    if usage is None:  # the daemon hands its FreeSpace's reading (design/0069); edgectl's one-shot reads here
        usage = shutil.disk_usage(data_dir)
    policy = policy_for(retention, cameras, usage.total)
    holds = active_holds(db, now)
    # the box's cameras only: a portable device's intake is no rate of writing, and the intakes' share of the
    # disk is theirs whether they fill it or not, never room the cameras' minimum can count on (design/0429)
    rates = {c: r for c, r in write_rates(db, now).items() if not c.startswith(PORTABLE_PREFIX)}
    intakes = retention.intake_room(usage.total)
    usable, held = usage.total - policy.reserve_bytes - intakes, held_bytes(db, holds, box_only=True)
    site_forecast = forecast_retention_us(usable, held, sum(rates.values()))
    cam_ids = sorted({c.id for c in cameras} | {r["id"] for r in db.query("SELECT id FROM cameras")})
    forecasts = forecast_by_camera(usable, held, {c: rates.get(c, 0.0) for c in cam_ids}, policy)
    breached = breached_cameras(db)
    graces: dict[str, Grace] = {}
    for g in active_graces(db, now):
        if g.camera not in graces or g.until_us > graces[g.camera].until_us:
            graces[g.camera] = g
    cams = []
    modes = {c.id: getattr(c, "mode", "continuous") for c in cameras}
    for cam in cam_ids:
        limits = policy.limits(cam)
        oldest = restamps.true_span(db, cam)[0]  # on the true clock (design/0096)
        mine = [replace(h, cameras=frozenset({cam})) for h in holds if h.cameras is None or cam in h.cameras]
        forecast = forecasts.get(cam)
        mode = modes.get(cam, "continuous")
        cams.append({"camera": cam, "mode": mode, "oldest_us": oldest,
                     "achieved_us": None if oldest is None else now - oldest,
                     "forecast_us": forecast, "min_us": limits.min_us, "max_us": limits.max_us,
                     "held_bytes": held_bytes(db, mine), "write_rate_bps": rates.get(cam, 0.0),
                     # A live camera is not recorded by policy: no retention to keep (edgectl, MQTT alike).
                     "verdict": NOT_RECORDED if mode == "live" else verdict(forecast, limits.min_us, cam in breached),
                     "grace_until_us": graces[cam].until_us if cam in graces else None,
                     "grace_max_us": graces[cam].max_us if cam in graces else None})
    return {"disk_total": usage.total, "disk_free": usage.free, "reserve": policy.reserve_bytes, "intake_share": intakes,
            "on_full": policy.on_full, "forecast_us": site_forecast, "grace_us": retention.grace_us,
            "cameras": cams}
