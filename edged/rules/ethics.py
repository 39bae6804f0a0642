"""The ethics office's notice of a major or abnormal request (issue 31 item 8, design/0083):
002 §13 and 003 §10 have such a request reported to the ethics office (政風室) at once.

Pure: the notice is derived from the audit record that flagged the request (`request.file`
with a flag, or a decision step that set one: `flag_set`), so it goes out over MQTT in the
audit chain's order, after the record it names, once, and survives a restart the way the
audit records do (edged/daemon/reporting.py forwards both after one persisted marker). It
carries what the audit record carries (rules.retrieval.stub): never the requester's personal
data; the printed report on the box (`edgectl request ethics-report ID`) has the rest.
"""

from __future__ import annotations

from typing import Any

FLAGGING = ("request.file", "request.step", "request.approve", "request.reject")


def notice(record: dict[str, Any]) -> dict[str, Any] | None:
    """The `ethics` message for one audit record ({seq, at_us, actor, action, detail}), or None
    when the record does not flag a request."""
    d = record.get("detail") or {}
    if record.get("action") not in FLAGGING or not d.get("flag") or not isinstance(d.get("request"), int):
        return None
    if record["action"] != "request.file" and not d.get("flag_set"):
        return None  # a later step of a request flagged before: already reported
    return {"request": d["request"], "flag": d["flag"], "kind": d.get("kind"), "category": d.get("category"),
            "cameras": d.get("cameras") or [], "from_us": d.get("from_us"), "to_us": d.get("to_us"),
            "mode": d.get("mode"), "action": record["action"], "actor": record.get("actor"),
            "audit_seq": record.get("seq"), "at_us": record.get("at_us"),
            "report": f"edgectl request ethics-report {d['request']}"}  # i18n: a command, not words
