"""A page of a node's messages as the verifier's pass reads it (central/verifier/verifier.py): each
body parsed, and what the page will ask of the store (central/verifier/evidence.py prefetch)."""

from __future__ import annotations

import json
from typing import Any

from central.checks import verify


def parse(payload: str) -> Any:
    """A stored message's body, or why it cannot be read (a finding of its message, in the pass)."""
    try:
        return json.loads(payload)
    except ValueError as exc:
        return exc


def wanted(msgs: list[Any], bodies: list[Any]) -> tuple[list[int], list[int], list[tuple[int, int]], list[dict[str, Any]]]:
    """What a page of messages will ask of the store: the audit records (seq_local, the one
    before it, a head's), the segments its destructions name, its footage messages' (seq,
    first_id) and its accesses and approvals (central/verifier/evidence.py prefetch)."""
    audits: list[int] = []
    segments: list[int] = []
    footage: list[tuple[int, int]] = []
    people: list[dict[str, Any]] = []
    for (seq, kind, _r, _p), m in zip(msgs, bodies):
        if not isinstance(m, dict):
            continue
        if kind == "audit":
            if m.get("action") in verify.ACCESS_ACTIONS or m.get("action") == "request.approve":
                people.append(m)
            s, head = m.get("seq_local"), m.get("signed_head")
            if isinstance(s, int):
                audits += [s, s - 1]
            if isinstance(head, dict) and isinstance(head.get("seq"), int):
                audits.append(head["seq"])
        elif kind == "retention":
            segments += [d["segment_id"] for d in verify.destructions(m)
                         if isinstance(d, dict) and isinstance(d.get("segment_id"), int)]
        elif kind == "footage" and isinstance(m.get("first_id"), int) and isinstance(m.get("last_id"), int):
            footage.append((seq, m["first_id"]))
    return audits, segments, footage, people
