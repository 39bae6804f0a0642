"""The fleet at a glance, for `edged-central status` and the dashboard: per node, whether it is
up, what its cameras are doing, its open alarms, findings and newest verified head."""

from __future__ import annotations

from typing import Any

from central import finding_words
from central.i18n import Speaker
from central.report.compliance import clock_disputed
from central.store.store import Store


def overview(store: Store, now_us: int, silent_after_us: int, site: str | None = None) -> dict[str, Any]:
    counts = store.finding_counts()
    alarms: dict[str, list[dict[str, Any]]] = {}
    for a in store.open_alarms(site):
        alarms.setdefault(a["node"], []).append(a)
    nodes = []
    for n in store.nodes(site):
        said = store.retained_of(n["node"])
        cams = said["cameras"]
        recording = sum(1 for c in cams.values() if isinstance(c, dict) and c.get("recording"))
        silent = now_us - n["last_us"] > silent_after_us
        up = said["status"] == "online" and not silent
        birth = _obj(said["birth"])  # defensive: a store from before the schema check may hold anything
        state = _obj(said["state"])
        births_cams = birth.get("cameras")
        package = birth.get("package")  # the Debian package's version, where it runs from one (design/0253)
        version = package if isinstance(package, str) and package else birth.get("version")
        session = birth.get("session")
        nodes.append({
            "node": n["node"], "site": n["site"], "name": n["name"],
            "up": up, "status": said["status"] or "unknown", "silent": silent, "last_us": n["last_us"],
            "version": version if isinstance(version, str) else None,
            "session": session if isinstance(session, int) and not isinstance(session, bool) else None,
            "cameras": len(cams) or (len(births_cams) if isinstance(births_cams, list) else 0),
            "recording": recording,
            **retention_said(_obj(state.get("retention"))),
            "open_alarms": len(alarms.get(n["node"], [])),
            "alarms": [{"id": a["id"], "kind": a["kind"], "severity": a["severity"], "camera": a["camera"],
                        "raised_us": a["raised_us"], "message": a["message"], "said": finding_words.alarm_words(a)}
                       for a in alarms.get(n["node"], [])],
            "findings": counts.get(n["node"], {}),
            "head": None if n["head_seq"] is None else {"seq": n["head_seq"], "hash": n["head_hash"],
                                                        "at_us": n["head_at_us"]},
            "verified_seq": n["verified_seq"], "max_seq": n["max_seq"]})
    sites: dict[str, dict[str, int]] = {}
    for x in nodes:
        s = sites.setdefault(x["site"], {"nodes": 0, "up": 0, "cameras": 0, "recording": 0, "open_alarms": 0,
                                         "critical": 0})
        s["nodes"] += 1
        s["up"] += x["up"]
        s["cameras"] += x["cameras"]
        s["recording"] += x["recording"]
        s["open_alarms"] += x["open_alarms"]
        s["critical"] += x["findings"].get("critical", 0)
    total = {k: sum(s[k] for s in sites.values()) for k in ("nodes", "up", "cameras", "recording", "open_alarms",
                                                           "critical")}
    return {"made_us": now_us, "total": total, "sites": sites, "nodes": nodes}


def retention_said(retention: dict[str, Any]) -> dict[str, Any]:
    """Pure: what the office shows of a node's retention achieved from its `state` (design/0372,
    0416). The message is the box's word, untrusted: a box that says its clock is in dispute
    (`cannot_be_judged`, any non-empty text) is taken at that word, the weaker claim, and any figure
    beside it dropped; the text itself is never shown. Else its figure, where it is a number."""
    if clock_disputed(retention):
        return {"retention_days": None, "retention_unjudged": True}
    return {"retention_days": _number(retention.get("achieved_days")), "retention_unjudged": False}


def retention_cell(sp: Speaker, n: dict[str, Any]) -> str:
    """Pure: a node's retention achieved in the site's words, as retention_said left it: "cannot be
    judged" while the node's clock is in dispute, its days, or "-" where it sent none."""
    if n.get("retention_unjudged"):
        return sp._("cannot be judged (the node's clock is in dispute)")
    return "-" if n.get("retention_days") is None else sp._("{n} d").format(n=n["retention_days"])


def _obj(v: Any) -> dict[str, Any]:
    return v if isinstance(v, dict) else {}


def _number(v: Any) -> float | None:
    return v if isinstance(v, (int, float)) and not isinstance(v, bool) and abs(v) < 1e12 else None
