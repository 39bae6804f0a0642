"""Inspections (docs/requirements.md R3.1-R3.2) as plain functions: when the next one is due, and the
checklist edged fills in for each camera. The person signs; edged does the looking.

The schedule is per site: daily, weekly (Monday-based weeks) or every 2 weeks. With
`random_time`, the day and minute inside the window are drawn from a hash of the site and the
period, so the time is unpredictable to staff but the same after a restart.
"""

from __future__ import annotations

import hashlib
from datetime import date, datetime, time, timedelta, tzinfo
from typing import Any

from edged.config.health import REGISTER_ITEMS, InspectionConfig
from edged.i18n import _
from edged.rules.health import clock_drift
from storage import alarm_kinds as kinds
from storage.states.cameras import RECORDING

ITEMS = REGISTER_ITEMS
ITEM_LABELS = {
    "host": "recorder host running",
    "picture": "picture present and clear",
    "audio": "sound",
    "recording": "recording runs",
    "login": "operators' login (the last successful login of each role on the box)",
    "camera_login": "camera login works",
    "clock": "time display correct",
    "quality": "quality floor (720p, 10 fps, colour)",
}
CLOCK_TOLERANCE_US = 2_000_000  # [health] clock_tolerance's default, for a snapshot that does not say


def _period_start(day: date, schedule: str) -> date:
    if schedule == "daily":
        return day
    monday = day - timedelta(days=day.weekday())
    if schedule == "biweekly":
        # Fortnights counted from a fixed Monday, so the pairing of weeks never shifts.
        weeks = (monday - date(2024, 1, 1)).days // 7
        monday -= timedelta(weeks=weeks % 2)
    return monday


def _draw(site: str, start: date, n: int) -> int:
    digest = hashlib.sha256(f"edged-inspection:{site}:{start.isoformat()}".encode()).digest()
    return int.from_bytes(digest[:8], "big") % n


def due_in_period(start: date, cfg: InspectionConfig, site: str, tz: tzinfo) -> datetime:
    days = {"daily": 1, "weekly": 7, "biweekly": 14}[cfg.schedule]
    first, last = cfg.window
    if cfg.random_time:
        pick = _draw(site, start, days * (last - first))
        day, minute = start + timedelta(days=pick // (last - first)), first + pick % (last - first)
    else:
        day, minute = start, first
    return datetime.combine(day, time(minute // 60, minute % 60), tz)


def next_due(after_us: int, cfg: InspectionConfig, site: str, tz: tzinfo) -> int | None:
    """The first scheduled inspection strictly after `after_us`; None when switched off."""
    if cfg.schedule == "off":
        return None
    after = datetime.fromtimestamp(after_us / 1e6, tz)
    start = _period_start(after.date(), cfg.schedule)
    step = timedelta(days={"daily": 1, "weekly": 7, "biweekly": 14}[cfg.schedule])
    for _attempt in range(3):
        due = due_in_period(start, cfg, site, tz)
        due_us = int(due.timestamp()) * 1_000_000
        if due_us > after_us:
            return due_us
        start += step
    raise AssertionError("unreachable: a period always has a due time")


BOX_WIDE = (("login", "operators_login"), ("host", "host"))  # item, and the key of `cam` the runner puts it in
# The clock item when no skew is judged: not measured, or the host clock is the one at fault (design/0059).
HOST_FAULT = {True: "measured", False: "judged: the host clock stepped or is off"}


def checklist(cam: dict[str, Any], now_us: int, segment_us: int) -> dict[str, dict[str, Any]]:
    """The inspection items for one camera from what the health monitor knows of it.

    `cam`: enabled, audio_required, state, last_error, stats (or None), image_fresh (bool), alarms
    (active health alarm kinds -> message), last_segment_us, compliance, reasons, operators_login, host.
    Each item is {"ok": True | False | None (not applicable), "detail": str}.
    """
    alarms: dict[str, str] = cam.get("alarms") or {}
    stats, recording = cam.get("stats") or {}, cam.get("state") == RECORDING
    # box-wide, looked up by the runner: the operators' login (權限登入; the camera's is camera_login), the host
    items = {k: cam.get(key) or {"ok": None, "detail": "not looked up"} for k, key in BOX_WIDE}
    if not cam.get("enabled", True):
        return {item: {"ok": None, "detail": "camera disabled"} for item in ITEMS}

    picture_faults = [alarms[k.name] for k in (kinds.VIDEO_DARK, kinds.VIDEO_FROZEN, kinds.VIDEO_BLURRED,
                                               kinds.CAMERA_MOVED, kinds.VIDEO_OVEREXPOSED) if k.name in alarms]
    if not recording:
        items["picture"] = {"ok": False, "detail": "no picture: camera not recording"}
    elif picture_faults:
        items["picture"] = {"ok": False, "detail": "; ".join(picture_faults)}
    elif not cam.get("image_fresh"):
        items["picture"] = {"ok": False, "detail": "no recent picture sample (image checks off or failing)"}
    else:
        items["picture"] = {"ok": True, "detail": "picture present and clear"}

    if not cam.get("audio_required"):
        items["audio"] = {"ok": None, "detail": "not required for this camera"}
    elif recording and stats.get("audio_packets", stats.get("audio")):
        items["audio"] = {"ok": True, "detail": "audio arriving"}
    else:
        items["audio"] = {"ok": False, "detail": "no audio from a camera marked audio_required"}

    last = cam.get("last_segment_us")
    if recording and last is not None and now_us - last <= 2 * segment_us:
        items["recording"] = {"ok": True, "detail": "segments being written"}
    else:
        items["recording"] = {"ok": False, "detail": "not recording: " + (cam.get("last_error") or
                                                                          f"state {cam.get('state') or 'unknown'}")}

    error = cam.get("last_error") or ""
    if recording:
        items["camera_login"] = {"ok": True, "detail": "the camera accepts edged's login"}
    elif "401" in error or "403" in error or "nauthori" in error:
        items["camera_login"] = {"ok": False, "detail": "the camera refuses the login: " + error}
    else:
        items["camera_login"] = {"ok": False, "detail": "not connected: " + (error or "unknown")}

    skew, host_ok = stats.get("clock_skew_us"), cam.get("host_clock_ok", True)  # design/0059
    drift = clock_drift(skew, cam.get("clock_tolerance_us", CLOCK_TOLERANCE_US)) if recording and host_ok else None
    if drift is None:
        items["clock"] = {"ok": None if recording else False, "detail": f"camera clock not {HOST_FAULT[host_ok]}"}
    elif drift:
        items["clock"] = {"ok": False, "detail": drift}
    elif skew is not None:  # always, when drift is "": only a measured skew is judged
        items["clock"] = {"ok": True, "detail": f"camera clock within {abs(skew) / 1e6:.1f} s of the host"}

    verdict, reasons = cam.get("compliance") or "unknown", cam.get("reasons") or []
    items["quality"] = {"ok": {"ok": True, "fail": False}.get(verdict),
                        "detail": "; ".join(reasons) or ("meets the floor" if verdict == "ok" else verdict)}
    return items


# Who logs in to operate the system: the register's 權限登入 (001 form 1) is their login, not the camera's.
OPERATOR_ROLES = ("custodian", "approver")


def operators_login(last: dict[str, dict[str, Any] | None], fmt: Any = str) -> dict[str, Any]:
    """The register's login item, the same for every camera of a run: the last successful login
    of each operator role on the box (`last`: role -> {account, at_us} or None; `fmt` shows a time).
    Normal once an operator has logged in with a personal account; abnormal when operator
    accounts exist and none ever has (the login is unproven); n/a with no operator account."""
    seen = {role: last.get(role) for role in OPERATOR_ROLES if role in last}
    if not seen:
        return {"ok": None, "detail": "no operator account on this box"}
    detail = "; ".join(f"{role}: {v['account']} {fmt(v['at_us'])}" if v else f"{role}: never logged in"
                       for role, v in seen.items())
    return {"ok": any(seen.values()), "detail": detail}


# Host-wide alarms that mean the recorder host does not run as it should (004 annex 4's 監視主機).
HOST_FAULTS = tuple(k.name for k in (kinds.STORAGE_LOST, kinds.DISK_FULL, kinds.RECORDING_STOPPED_DISK_FULL,
                                     kinds.DISK_FULL_HELD, kinds.FOOTAGE_MISSING, kinds.RETENTION_FILE_ERRORS,
                                     kinds.TASK_FAILED))


def host_running(active: dict[str, str]) -> dict[str, Any]:
    """The register's host item, the same for every camera of a run: normal while edged runs
    this inspection with none of HOST_FAULTS active (`active`: kind -> message)."""
    faults = [f"{k}: {active[k]}" for k in HOST_FAULTS if k in active]
    return {"ok": not faults, "detail": "; ".join(faults) or "the recorder host runs and writes footage"}


def anomalies(items: dict[str, dict[str, Any]]) -> str:
    return "; ".join(f"{ITEM_LABELS[k]}: {v['detail']}" for k, v in items.items() if v["ok"] is False)


def sign_refusal(run: dict[str, Any]) -> str | None:
    """Why `inspect.sign` refuses this run (None: it may be signed). The runner applies it when
    writing; the desk asks it, without writing, before it offers the form (design/0073)."""
    if run["signed_us"] is not None:
        return _("inspection {id} was already signed by {who}").format(id=run["id"], who=run["inspector"])
    return None


def account_of(signature: str) -> str:
    """The account behind a signature: "name (account)" when the name typed was not the
    account's, else the account alone. The check is by account: a second name typed by the same
    account is the same person (R3.2)."""
    if signature.endswith(")") and " (" in signature:
        return signature[signature.rindex(" (") + 2:-1]
    return signature


def countersign_refusal(run: dict[str, Any], signer: str, account: str | None = None,
                        units: dict[str, frozenset[str]] | None = None) -> str | None:
    """Why `inspect.countersign` refuses `signer` for this run (None: they may countersign, R3.2).
    With `units` ([policy.units], where the site countersigns per unit), `account` must be the
    chief of a unit whose cameras in the run are not countersigned yet (design/0082)."""
    if run["signed_us"] is None:
        return _("inspection {id} is not signed by its inspector yet").format(id=run["id"])
    if run["countersigned_us"] is not None:
        return _("inspection {id} was already countersigned by {who}").format(id=run["id"], who=run["supervisor"])
    if account_of(run["inspector"]) == (account or account_of(signer)):
        return _("the supervisor who countersigns cannot be the inspector")
    if units is not None and not units_to_countersign(run, account or signer, units):
        waiting = sorted(pending_units(run))
        return _("{account} is not the chief of a unit whose cameras wait for a countersignature in inspection {id} "
                 "(waiting: {units})").format(account=account or signer, id=run["id"], units=", ".join(waiting) or "-")
    return None


def pending_units(run: dict[str, Any]) -> set[str]:
    """The managing units whose cameras in this run are not countersigned yet ("": no unit)."""
    return {r.get("unit") or "" for r in run["records"] if r.get("countersigned_us") is None}


def units_to_countersign(run: dict[str, Any], account: str, units: dict[str, frozenset[str]]) -> list[str]:
    """The pending units `account` countersigns for: those whose chief it is; a row of no unit
    (a camera without one, a run from before units) is any supervisor's."""
    return sorted(u for u in pending_units(run) if u not in units or account in units[u])
