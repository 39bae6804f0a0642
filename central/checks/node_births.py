"""What a node's births say of it (its restarts, its key, its config, its cameras and software)
and the retention rules they announce (R1.3-R1.5 of docs/requirements.md): pure functions over
plain data, each returning findings (central/checks/verify.py's `Finding`). Split from central/checks/verify.py
(issue 57: central/ under the size rule); the trust model is design/0026.
"""

from __future__ import annotations

from typing import Any, Callable

from central.i18n import N_
from central.checks.verify import CRITICAL, INFO, WARNING, Finding
from storage.msg import Msg


def birth_changes(prev: dict[str, Any] | None, new: dict[str, Any]) -> list[Finding]:
    """A new (or republished) birth against the one before it."""
    if prev is None:
        return []
    out: list[Finding] = []
    ts = new.get("ts_us")
    sess_old, sess_new = prev.get("session"), new.get("session")
    new_session = isinstance(sess_new, int) and isinstance(sess_old, int) and sess_new > sess_old
    if isinstance(sess_new, int) and isinstance(sess_old, int) and sess_new < sess_old:
        out.append(Finding("session_regressed", CRITICAL,
                           Msg(N_("the start counter went back from {before} to {after}: the node's catalog was "
                                  "replaced or restored from an older copy"), before=sess_old, after=sess_new),
                           f"session_regressed:{ts}", ts,
                           {"before": sess_old, "after": sess_new}))
    k_old, k_new = prev.get("public_key"), new.get("public_key")
    if k_old and k_new and k_old != k_new:
        if new_session:
            out.append(Finding("key_changed", WARNING,
                               Msg(N_("the node key changed at restart {session}: exports and heads signed before "
                                      "name the old key; confirm the box was replaced or re-keyed on purpose"),
                                   session=sess_new),
                               f"key_changed:{ts}", ts, {"before": k_old, "after": k_new}))
        else:
            out.append(Finding("key_changed_without_birth", CRITICAL,
                               Msg(N_("the node key changed without a restart (start counter still {session}): "
                                      "another key is speaking for this node"), session=sess_new),
                               f"key_changed_without_birth:{ts}", ts,
                               {"before": k_old, "after": k_new}))
    if prev.get("config_hash") != new.get("config_hash"):
        out.append(Finding("config_changed", INFO, Msg(N_("config changed ({before} -> {after})"),
                                                       before=str(prev.get('config_hash'))[:12],
                                                       after=str(new.get('config_hash'))[:12]), f"config_changed:{ts}", ts,
                           {"before": prev.get("config_hash"), "after": new.get("config_hash")}))
    cams: Callable[[dict[str, Any]], set[str]] = lambda b: {  # noqa: E731
        str(c.get("id")) for c in b.get("cameras") or [] if isinstance(c, dict)}
    added, removed = sorted(cams(new) - cams(prev)), sorted(cams(prev) - cams(new))
    if added or removed:
        said = [Msg(N_("added: {cameras}"), cameras=", ".join(added)) if added else None,
                Msg(N_("removed: {cameras}"), cameras=", ".join(removed)) if removed else None]
        what = [x for x in said if x is not None]
        out.append(Finding("cameras_changed", INFO, Msg(N_("cameras {changes}"), changes=what[0]) if len(what) == 1 else
                           Msg(N_("cameras {added}; {removed}"), added=what[0], removed=what[1]),
                           f"cameras_changed:{ts}", ts, {"added": added, "removed": removed}))
    out += retention_lowered(prev, new)
    if prev.get("version") != new.get("version"):
        out.append(Finding("software_changed", INFO, Msg(N_("edged {before} -> {after}"), before=prev.get('version'),
                                                         after=new.get('version')),
                           f"software_changed:{ts}", ts))
    return out


# retention rules in births (R1.3-R1.5) ----------------------------------------------------------
def _days(v: Any) -> float | None:
    return float(v) if isinstance(v, (int, float)) and not isinstance(v, bool) and v == v else None


def retention_rules(birth: dict[str, Any] | None) -> dict[str, Any]:
    """The retention a birth announces: {"min_days", "max_days", "cameras": {id: (min, max)},
    "short": allow_short_for_tests}; a per-camera entry holds both of that camera's limits
    (edged/daemon/reporting.py). Anything not a number is None (unknown)."""
    r = (birth or {}).get("retention")
    r = r if isinstance(r, dict) else {}
    cams: dict[str, Any] = r["cameras"] if isinstance(r.get("cameras"), dict) else {}
    return {"min_days": _days(r.get("min_days")), "max_days": _days(r.get("max_days")),
            "cameras": {str(c): (_days(v.get("min_days")), _days(v.get("max_days")))
                        for c, v in cams.items() if isinstance(v, dict)},
            "short": r.get("allow_short_for_tests") is True}


def limits(rules: dict[str, Any], camera: str | None) -> tuple[float | None, float | None]:
    """(min days, max days) in force for one camera under ``rules`` (retention_rules)."""
    own = rules["cameras"].get(camera) if camera is not None else None
    if own is None:
        return rules["min_days"], rules["max_days"]
    return (own[0] if own[0] is not None else rules["min_days"], own[1] if own[1] is not None else rules["max_days"])


def in_force(births: list[tuple[int, dict[str, Any]]], at_us: int) -> tuple[int | None, dict[str, Any]]:
    """The rules of the birth in force at ``at_us``: ``births`` are (ts_us, rules) of one node in
    ts_us order, a birth's ts_us being when the node set that config (start or reload). Before the
    first birth known, the first one's rules (the oldest known: nothing older was received)."""
    if not births:
        return None, retention_rules(None)
    chosen = births[0]
    for b in births:
        if b[0] > at_us:
            break
        chosen = b
    return chosen


def retention_lowered(prev: dict[str, Any], new: dict[str, Any]) -> list[Finding]:
    """A birth whose minimum or maximum (the site's or a camera's) is below the one before: a rule
    that lets footage go sooner. A warning (design/0026): lawful when the rules changed, and the
    node keeps a lowered maximum's old value for its grace, so there is time to ask; the
    destructions that follow are judged against it (critical when early)."""
    a, b = retention_rules(prev), retention_rules(new)
    ids: set[str] = {c["id"] for x in (prev, new) for c in (x["cameras"] if isinstance(x.get("cameras"), list) else [])
                     if isinstance(c, dict) and isinstance(c.get("id"), str)} | set(a["cameras"]) | set(b["cameras"])
    changes: list[dict[str, Any]] = []
    for cam in [None, *sorted(ids)]:
        old, now = limits(a, cam), limits(b, cam)
        if cam is not None and (old, now) == (limits(a, None), limits(b, None)):
            continue  # follows the site's: said once for the site
        for name, was, is_ in (("min_days", old[0], now[0]), ("max_days", old[1], now[1])):
            if was is not None and is_ is not None and is_ < was:
                changes.append({"camera": cam, "setting": name, "old": was, "new": is_})
    if not changes:
        return []
    ts = new.get("ts_us")
    grace = (new.get("retention") or {}).get("grace_hours") if isinstance(new.get("retention"), dict) else None
    return [Finding("retention_lowered", WARNING, Msg(
        N_("retention lowered ({changes}): footage may be destroyed sooner{grace}; confirm the change was ordered"),
        changes=_changes(changes), grace=Msg(N_("; the node keeps a lowered maximum's old value for its grace of {hours} h"),
                                             hours=f"{grace:g}") if isinstance(grace, (int, float)) else ""),
        f"retention_lowered:{ts}", ts if isinstance(ts, int) else None, {"changes": changes})]


_LOWERED = {(True, "min_days"): N_("site minimum {old} -> {new} days"),
            (True, "max_days"): N_("site maximum {old} -> {new} days"),
            (False, "min_days"): N_("camera {camera} minimum {old} -> {new} days"),
            (False, "max_days"): N_("camera {camera} maximum {old} -> {new} days")}


def _changes(changes: list[dict[str, Any]]) -> Msg:
    """The lowered settings, "; " between them: each a Msg, nested so that each is said whole."""
    said = [Msg(_LOWERED[(c["camera"] is None, c["setting"])], old=f"{c['old']:g}", new=f"{c['new']:g}",
                **({} if c["camera"] is None else {"camera": c["camera"]})) for c in changes]
    out = said[-1]
    for one in reversed(said[:-1]):
        out = Msg(N_("{one}; {rest}"), one=one, rest=out)
    return out


def birth_rules(birth: dict[str, Any]) -> list[Finding]:
    """What one birth says by itself, the first one included: a node running with the test
    setting `allow_short_for_tests` (critical: it lets the node destroy footage an hour old with
    a second's grace, below every floor of R1.3-R1.5; no real site runs with it); a node with
    nothing to corroborate its clock with (design/0095: `time_sources` is [])."""
    ts = birth.get("ts_us")
    out = []
    if birth.get("time_sources") == []:
        out.append(Finding("time_sources_none", WARNING, Msg(N_(
            "the node has nothing to corroborate its clock with (no command_key for the office's signed time, no "
            "NTS; cameras never vouch): footage recorded before each restart goes by age only as the time last "
            "proven advances on its monotonic clock, or on an approver's confirmation")),
                           f"time_sources_none:{birth.get('config_hash')}", ts if isinstance(ts, int) else None))
    if not retention_rules(birth)["short"]:
        return out
    return out + [Finding("test_retention_allowed", CRITICAL, Msg(N_(
        "the node runs with [retention] allow_short_for_tests = true: a test setting that lets it keep footage under "
        "a day with almost no grace; remove it")),
                    f"test_retention_allowed:{birth.get('config_hash')}", ts if isinstance(ts, int) else None)]
