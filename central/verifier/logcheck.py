"""`edged-central verify-log --node N FILE`: a box's exported audit log (``edgectl audit export``)
checked against what the central office received: its own chain (storage/audit.verify_lines),
every record the central office holds (same hash), and every valid signed head (the file
must hold that record with that hash). Proves the box's log extends what it published, or
names the first record where it does not."""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from storage import audit
from central.store import passes
from central.store.store import Store


def check(store: Store, node: str, lines: Iterable[str]) -> dict[str, Any]:
    lines = list(lines)
    n, problem, last = audit.verify_lines(lines)
    first_bad: dict[str, Any] | None = None
    if problem:
        first_bad = {"seq": _seq_of_problem(lines, n), "why": problem}
    received = passes.every_hash(store.db, node)
    heads = store.heads(node)
    if not received and not heads:
        raise LookupError(f"the central office holds no audit record or head of node {node!r}")
    in_file: dict[int, str] = {}
    compared = 0
    for line in lines:
        if not line.strip():
            continue
        try:
            r = json.loads(line)
            seq, digest = int(r["seq"]), str(r["hash"])
        except (ValueError, KeyError, TypeError):
            break  # verify_lines has named it
        in_file[seq] = digest
        want = received.get(seq)
        if want is not None:
            compared += 1
            if want != digest and (first_bad is None or seq < first_bad["seq"]):
                first_bad = {"seq": seq, "why": f"record {seq} differs from the one the node published "
                             f"(hash {digest[:16]}, published {want[:16]}): it was rewritten after it was sent"}
                break
    matched, newest, later = 0, None, 0
    end_at = (last_at_us(lines) or 0)
    for h in heads:
        got = in_file.get(h["seq_local"])
        if got is None:
            if in_file and h["seq_local"] > max(in_file) and h["at_us"] <= end_at:
                # signed before the file's last record was written, yet past its end
                seq = max(in_file) + 1
                if first_bad is None or seq < first_bad["seq"]:
                    first_bad = {"seq": seq, "why": f"the file ends at record {max(in_file)}, but the node had signed "
                                 f"a head at record {h['seq_local']} before its last record: records were removed"}
            elif in_file and h["seq_local"] > max(in_file):
                later += 1  # published after the export was made: it says nothing about the file
            continue
        if got != h["hash"]:
            seq = h["seq_local"]
            if first_bad is None or seq < first_bad["seq"]:
                first_bad = {"seq": seq, "why": f"record {seq} does not have the hash of the signed head published "
                             f"{h['at_us']} ({h['hash'][:16]})"}
            continue
        matched += 1
        newest = h if newest is None or h["seq_local"] >= newest["seq_local"] else newest
    return {"node": node, "records": len(in_file), "compared_with_received": compared,
            "heads_matched": matched, "heads_known": len(heads), "heads_after_file": later, "ok": first_bad is None,
            "first_bad": first_bad, "file_head": last,
            "newest_head_matched": None if newest is None else {k: newest[k] for k in ("seq_local", "hash", "at_us")}}


def _seq_of_problem(lines: list[str], n: int) -> int:
    """verify_lines stopped at its n-th record: the seq it expected there, or the line's if lower."""
    seqs: list[int | None] = []
    for line in lines:
        if line.strip():
            try:
                seqs.append(int(json.loads(line)["seq"]))
            except (ValueError, KeyError, TypeError):
                seqs.append(None)
            if len(seqs) == n:
                break
    if not seqs or seqs[0] is None:
        return n
    expected = seqs[0] + len(seqs) - 1
    return min(expected, seqs[-1]) if seqs[-1] is not None else expected


def last_at_us(lines: list[str]) -> int | None:
    for line in reversed(lines):
        if line.strip():
            try:
                return int(json.loads(line)["at_us"])
            except (ValueError, KeyError, TypeError):
                return None
    return None
