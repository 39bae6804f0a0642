"""The office's `intake` message for an `evidence.imported` audit record (issue 76, design/0349), and
its `intake_destroyed` message for an `evidence.original_destroyed` record (design/0355): each sent
once, right after its record (edged/daemon/reporting.py), with what the record says of the intake.
Pure."""

from __future__ import annotations

from typing import Any

from edged.rules.audit_words import EVIDENCE_IMPORTED, ORIGINAL_DESTROYED
from mqtt import kinds

SHORT = 256   # mqtt/kinds.py SHORT_STR: a short string's most characters on the wire


def _short(v: Any) -> str | None:
    return v[:SHORT] if isinstance(v, str) else None


def _text(v: Any) -> str | None:
    """A device's file name as the wire's TEXT takes it (the box keeps it under the rule already,
    design/0403; an old record's name that would not pass is left out, never sent to be refused)."""
    return v if kinds.TEXT.check(v) else None


def _count(v: Any) -> int | None:
    return v if isinstance(v, int) and not isinstance(v, bool) else None


def notice(record: dict[str, Any]) -> dict[str, Any] | None:
    """The `intake` message of one audit record ({seq, at_us, actor, action, detail}), or None
    when the record is not an intake's."""
    d = record.get("detail") or {}
    if record.get("action") != EVIDENCE_IMPORTED or not isinstance(d.get("intake"), int):
        return None
    body = {"intake": d["intake"], "sha256": _short(d.get("sha256")), "bytes": _count(d.get("bytes")),
            "camera": _short(d.get("camera")), "device": _short(d.get("device")),
            "taken_by": _short(record.get("actor")), "filmed_by": _short(d.get("filmed_by")),
            "request": _count(d.get("request")), "segments": _count(d.get("segments")),
            "claimed_start_us": _count(d.get("claimed_start_us")), "at_us": _count(record.get("at_us")),
            "audit_seq": _count(record.get("seq")), "file_name": _text(d.get("file_name"))}
    return {k: v for k, v in body.items() if v is not None}


def destroyed(record: dict[str, Any]) -> dict[str, Any] | None:
    """The `intake_destroyed` message of one audit record, or None when the record is not an
    original's destruction (storage/retention/originals.py writes it: the record's time is the
    pass's, on the box's trusted clock)."""
    d = record.get("detail") or {}
    if record.get("action") != ORIGINAL_DESTROYED or not isinstance(d.get("intake"), int):
        return None
    body = {"intake": d["intake"], "sha256": _short(d.get("sha256")), "destroyed_us": _count(record.get("at_us")),
            "camera": _short(d.get("camera")), "pass_id": _count(d.get("pass")), "reason": _short(d.get("reason")),
            "bytes": _count(d.get("bytes")), "intake_us": _count(d.get("intake_us")),
            "audit_seq": _count(record.get("seq"))}
    return {k: v for k, v in body.items() if v is not None}
