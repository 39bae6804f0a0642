"""A month of the store archived (issue 43 item 4, design/0120): the pure part. What a month is
(the UTC month in which the office received the messages, on its own clock, as PostgreSQL
partitions them: design/0140; a seq is the node's outbox counter, not a time),
when it is closed, how a stored message is one line of the archive file, and the manifest the
office signs. central/archive/archiving.py does the reading, writing and dropping.

The file: gzip of JSON lines, one stored message a line, ``[node, seq, kind, ts_us, received_us,
verified, payload]`` (the payload is the text as stored), in (node, seq) order. The manifest: a
JSON object beside it with the month, the seq range, the rows, each node's rows and seq range,
the file's name, size and SHA-256, signed with the office's Ed25519 key over its canonical JSON
(sorted keys, no spaces, UTF-8; everything but "sig"), as the fleet's key list is.
"""

from __future__ import annotations

import json
import re
from datetime import datetime, timezone
from typing import Any

from storage.keys import nodekey, signed_doc

FORMAT = "edged-central archive v1"
DAY_US = 86_400_000_000
# a month is closed this long after its end: a node keeps its durable messages 14 days for a
# resend (design/0116), so a gap of the month's last day can still be filled till then
CLOSED_AFTER_US = 15 * DAY_US
COLUMNS = ("node", "seq", "kind", "ts_us", "received_us", "verified", "payload")
def derived_file(month: str) -> str:
    return f"derived-{month}.jsonl.gz"


class ArchiveError(Exception):
    """Something a person can put right; the text says what happened and what to do."""


def month_range(month: str) -> tuple[int, int]:
    """[start, end) in microseconds (UTC) of "YYYY-MM"; ArchiveError if it is not one."""
    m = re.fullmatch(r"(\d{4})-(\d{2})", month or "")
    if not m or not 1 <= int(m.group(2)) <= 12 or int(m.group(1)) < 1970:
        raise ArchiveError(f"--month {month!r}: expected a month as YYYY-MM, e.g. 2026-10")
    y, mo = int(m.group(1)), int(m.group(2))
    start = datetime(y, mo, 1, tzinfo=timezone.utc)
    end = datetime(y + mo // 12, mo % 12 + 1, 1, tzinfo=timezone.utc)
    return int(start.timestamp()) * 1_000_000, int(end.timestamp()) * 1_000_000


def month_of(us: int) -> str:
    d = datetime.fromtimestamp(max(us, 0) / 1e6, timezone.utc)
    return f"{d.year:04d}-{d.month:02d}"


def months_between(from_us: int, to_us: int) -> list[str]:
    """Every month (UTC) that [from_us, to_us) touches, oldest first."""
    out, at = [], from_us
    while at < to_us:
        out.append(month_of(at))
        at = month_range(out[-1])[1]
    return out


def not_closed(month: str, now_us: int, unverified: int) -> str | None:
    """Why ``month`` cannot be archived yet (None: it can)."""
    _start, end = month_range(month)
    if now_us < end + CLOSED_AFTER_US:
        days = CLOSED_AFTER_US // DAY_US
        return (f"the month {month} is not closed: it closes {days} days after its end (a node may still resend "
                f"its messages till then); archive it from {month_of(end)}-{1 + days:02d}")
    if unverified:
        return (f"the month {month} is not closed: {unverified} of its messages are not verified yet; let "
                "`edged-central run` verify them first")
    return None


def encode(row: tuple[Any, ...] | list[Any]) -> bytes:
    """One stored message as a line of the archive file."""
    return json.dumps(list(row), ensure_ascii=False, separators=(",", ":")).encode() + b"\n"


def decode(line: bytes) -> tuple[Any, ...]:
    row = json.loads(line)
    if not isinstance(row, list) or len(row) != len(COLUMNS) or not isinstance(row[1], int):
        raise ArchiveError("the archive file holds a line that is not a stored message: it is not an archive "
                           "of edged-central, or it is damaged")
    return tuple(row)


def manifest(*, month: str, rows: int, nodes: dict[str, list[int]], file: str, size: int, sha256: str,
             store: str, made_us: int, derived: dict[str, Any] | None = None) -> dict[str, Any]:
    """The manifest of an archive (unsigned); ``nodes``: node -> [rows, first seq, last seq];
    ``derived``: the file of the derived rows ({"file", "bytes", "sha256", "rows": {table: n}})."""
    start, end = month_range(month)
    return {"format": FORMAT, "month": month, "table": "messages", "by": "received_us", "from_us": start,
            "to_us": end, "columns": list(COLUMNS), "rows": rows, "nodes": nodes, "file": file, "bytes": size,
            "sha256": sha256, "store": store, "made_us": made_us, "derived": derived}


def sign(key: nodekey.NodeKey, doc: dict[str, Any]) -> dict[str, Any]:
    return signed_doc.sign(key, doc)


def check(doc: Any, fingerprint: str) -> dict[str, Any]:
    """The manifest, its signature checked and made by the key of ``fingerprint`` (this office's)."""
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise ArchiveError(f"not the manifest of an edged-central archive (format {FORMAT!r} expected)")
    try:
        signer = signed_doc.signer(doc)
    except nodekey.NodeKeyError as exc:
        raise ArchiveError(f"the manifest's key or signature is unreadable: {exc}") from None
    if signer is None:
        raise ArchiveError("the manifest's signature does not match: it was altered after the office signed it; "
                           "nothing was restored")
    if signer != fingerprint:
        raise ArchiveError(f"the manifest is signed by {signer}, not by this office's key {fingerprint}; "
                           "nothing was restored")
    for k, t in (("month", str), ("rows", int), ("sha256", str), ("file", str), ("bytes", int)):
        if not isinstance(doc.get(k), t):
            raise ArchiveError(f"the manifest lacks {k}")
    month_range(doc["month"])
    return doc
