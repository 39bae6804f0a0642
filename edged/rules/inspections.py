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

from edged.config.health import InspectionConfig
from edged.i18n import N_, Msg, _
from edged.rules.health import clock_drift
from storage import alarm_kinds as kinds
from storage.states.cameras import RECORDING

ITEMS = kinds.REGISTER_ITEMS
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
HOST_FAULT = {True: N_("camera clock not measured"),
              False: N_("camera clock not judged: the host clock stepped or is off")}


def item(ok: bool | None, *found: str) -> dict[str, Any]:
    """One register item: ok, its English `detail` (the log, MQTT and the stored register keep
    it), and `said`, each finding's template and values, which the desk and the printed register
    say in the site's words (design/0240)."""
    msgs = [m if isinstance(m, Msg) else Msg(N_("{error}"), error=m) for m in found]  # someone else's words
    return {"ok": ok, "detail": "; ".join(msgs), "said": [m.stored() for m in msgs]}


def checklist(cam: dict[str, Any], now_us: int, segment_us: int) -> dict[str, dict[str, Any]]:
    """The inspection items for one camera from what the health monitor knows of it.

    `cam`: enabled, audio_required, state, last_error, stats (or None), image_fresh (bool), alarms
    (active health alarm kinds -> Msg), last_segment_us, compliance, reasons, operators_login, host.
    Each item is `item()`'s: {"ok": True | False | None (not applicable), "detail", "said"}; an
    item is abnormal while an alarm that marks it (storage/alarm_kinds.py `item`) is active.
    """
    alarms: dict[str, Msg] = cam.get("alarms") or {}
    stats, recording = cam.get("stats") or {}, cam.get("state") == RECORDING
    # box-wide, looked up by the runner: the operators' login (權限登入; the camera's is camera_login), the host
    items = {k: cam.get(key) or item(None, Msg(N_("not looked up"))) for k, key in BOX_WIDE}
    if not cam.get("enabled", True):
        return {i: item(None, Msg(N_("camera disabled"))) for i in ITEMS}

    marked = {name: [alarms[k.name] for k in kinds.marking(name) if k.name in alarms] for name in ITEMS}
    if not recording:
        items["picture"] = item(False, Msg(N_("no picture: camera not recording")))
    elif marked["picture"]:
        items["picture"] = item(False, *marked["picture"])
    elif not cam.get("image_fresh"):
        items["picture"] = item(False, Msg(N_("no recent picture sample (image checks off or failing)")))
    else:
        items["picture"] = item(True, Msg(N_("picture present and clear")))

    if not cam.get("audio_required"):
        items["audio"] = item(None, Msg(N_("not required for this camera")))
    elif recording and stats.get("audio_packets", stats.get("audio")):
        items["audio"] = item(True, Msg(N_("audio arriving")))
    else:
        items["audio"] = item(False, Msg(N_("no audio from a camera marked audio_required")))

    last = cam.get("last_segment_us")
    if recording and last is not None and now_us - last <= 2 * segment_us:
        items["recording"] = item(True, Msg(N_("segments being written")))
    else:
        items["recording"] = item(False, Msg(N_("not recording: {error}"), error=cam.get("last_error") or
                                             f"state {cam.get('state') or 'unknown'}"))

    error = cam.get("last_error") or ""
    if recording:
        items["camera_login"] = item(True, Msg(N_("the camera accepts edged's login")))
    elif "401" in error or "403" in error or "nauthori" in error:
        items["camera_login"] = item(False, Msg(N_("the camera refuses the login: {error}"), error=error))
    else:
        items["camera_login"] = item(False, Msg(N_("not connected: {error}"), error=error or "unknown"))

    items["clock"] = _clock(cam, stats, recording)
    verdict, reasons = cam.get("compliance") or "unknown", cam.get("reasons") or []
    items["quality"] = item({"ok": True, "fail": False}.get(verdict), *(
        reasons or [Msg(N_("meets the floor")) if verdict == "ok" else Msg(N_("unknown"))]))
    return _marked(items, marked)


def _clock(cam: dict[str, Any], stats: dict[str, Any], recording: bool) -> dict[str, Any]:
    skew, host_ok = stats.get("clock_skew_us"), cam.get("host_clock_ok", True)  # design/0059
    drift = clock_drift(skew, cam.get("clock_tolerance_us", CLOCK_TOLERANCE_US)) if recording and host_ok else None
    if drift is None or skew is None:  # only a measured skew is judged
        return item(None if recording else False, Msg(HOST_FAULT[host_ok]))
    if drift:
        return item(False, drift)
    return item(True, Msg(N_("camera clock within {s} s of the host"), s=f"{abs(skew) / 1e6:.1f}"))


def _marked(items: dict[str, dict[str, Any]], marked: dict[str, list[Msg]]) -> dict[str, dict[str, Any]]:
    """Each camera item abnormal while an alarm that marks it is active, with the alarm's words
    (an item the checks already found abnormal keeps its own). A new kind of the PICTURE group
    marks the picture without a line here."""
    for name, found in items.items():
        if found["ok"] is not False and name not in dict(BOX_WIDE) and marked.get(name):
            items[name] = item(False, *marked[name])
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
        return item(None, Msg(N_("no operator account on this box")))
    return item(any(seen.values()), *(Msg(LOGGED_IN[role], account=v["account"], at=fmt(v["at_us"])) if v
                                      else Msg(NEVER_LOGGED_IN[role]) for role, v in seen.items()))


# each operator role's login in words (the role's key is English the register must not show)
LOGGED_IN = {"custodian": N_("custodian: {account} {at}"), "approver": N_("approver: {account} {at}")}
NEVER_LOGGED_IN = {"custodian": N_("custodian: never logged in"), "approver": N_("approver: never logged in")}


# Host-wide alarms that mean the recorder host does not run as it should (004 annex 4's 監視主機):
# the kinds that declare they mark the host item (storage/alarm_kinds.py).
HOST_FAULTS = tuple(k.name for k in kinds.marking(kinds.HOST_ITEM))


def host_running(active: dict[str, str]) -> dict[str, Any]:
    """The register's host item, the same for every camera of a run: normal while edged runs
    this inspection with none of HOST_FAULTS active (`active`: kind -> message, a Msg where the
    catalog kept its template)."""
    faults = [Msg(N_("{kind}: {what}"), kind=k, what=active[k] if isinstance(active[k], Msg)
                  else Msg(N_("{error}"), error=active[k])) for k in HOST_FAULTS if k in active]
    return item(not faults, *faults) if faults else item(True, Msg(N_("the recorder host runs and writes footage")))


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
