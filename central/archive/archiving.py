"""`edged-central archive` and `restore` (issue 43 item 4, design/0120): a closed month's messages
out of the live store into a file, and back. Blocking (a command, never the event loop).

Archive, in this order, so that nothing is lost whatever stops it: (1) PostgreSQL: the month's
partition is detached and renamed `archiving_messages_YYYY_MM` in one short transaction (ingest
waits a moment; a late message of the month finds no partition of that name and makes a fresh
one); SQLite: nothing changes yet. (2) The rows are written to `messages-YYYY-MM.jsonl.gz.part`,
flushed and fsynced, renamed, the folder fsynced; (3) the file is read back from the disk: its
SHA-256 and its rows must be those written; (4) the manifest is signed with the office's key and
written beside it (fsynced); (5) in one transaction the hash and manifest are anchored in the
`archives` table and the month's rows dropped (PostgreSQL: the detached table; SQLite: a DELETE).
Run again after a crash, it takes up the detached table where it was.

The month is the one the office received the messages in (design/0140). What the verifier drew
from them goes with them, into a second file (`derived-YYYY-MM.jsonl.gz`, its SHA-256 in the same
manifest): the destructions one by one, the audit records and chain heads the month's messages
brought (but the accesses, their approvals and each node's newest head, which later checks read),
the messages turned away that month. The summaries a report reads (camera-day destructions,
alarms, inspections, findings) stay; the month's page says what was archived.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from central.archive import archive
from central.archive.archive import ArchiveError
from central.store import archives
from central.store.store import Store
from storage.disk.fsutil import fsync_dir

Progress = Callable[[str], None]
BATCH = 5000    # rows a restore transaction
EVERY_S = 1.0   # a progress line at most this often


def file_name(month: str) -> str:
    return f"messages-{month}.jsonl.gz"


def _pg(store: Store) -> Any:
    return getattr(store, "pg", None)  # a PgStore's psycopg connection; None on SQLite


def anchored(store: Store, month: str) -> dict[str, Any] | None:
    return archives.anchored(store, month)


def archived(store: Store, from_us: int, to_us: int) -> list[dict[str, Any]]:
    """The archives (not restored) a report of [from_us, to_us) must name instead of zeros: the months
    it touches, and every other month archived with destructions made on its days (a backlog the
    office received later; issue 73 item 7): `destroyed_here` counts those."""
    months = archive.months_between(from_us, to_us)
    out = []
    for r in archives.not_restored(store):
        try:
            made = json.loads(r["manifest"]).get("derived") or {}
            derived, where = made.get("rows") or {}, made.get("destroyed_in") or {}
        except (ValueError, AttributeError):
            derived, where = {}, {}
        here = sum(int(n) for m, n in where.items() if m in months and isinstance(n, int))
        if r["month"] not in months and not here:
            continue
        out.append({**{k: r[k] for k in ("month", "rows", "bytes", "sha256", "file", "archived_us")},
                    "derived": {k: int(v) for k, v in derived.items() if isinstance(v, int)},
                    "destroyed_here": here, "elsewhere": r["month"] not in months})
    return out


def _source(store: Store, month: str, start: int, end: int) -> str | None:
    """Where the month's rows are read from: PostgreSQL, the detached table (detached now if it
    is still a partition; None if the month has none); SQLite, the messages table."""
    pg = _pg(store)
    if pg is None:
        return "messages" if archives.held(store, start, end) else None
    part = "messages_" + month.replace("-", "_")
    held = "archiving_" + part
    if archives.exists(pg, held):
        return held  # an archive stopped midway: take it up
    if not archives.exists(pg, part):
        return None
    archives.detach(pg, part, held)
    store.db.months.discard(part)  # type: ignore[attr-defined]
    return held


def _rows(store: Store, source: str, start: int, end: int) -> Iterator[tuple[Any, ...]]:
    yield from archives.rows(store, _pg(store), source, archive.COLUMNS, start, end, BATCH)


class _Hashing:
    """A file that hashes what is written to it."""

    def __init__(self, f: Any):
        self.f, self.sha = f, hashlib.sha256()

    def write(self, b: bytes) -> int:
        self.sha.update(b)
        return int(self.f.write(b))

    def flush(self) -> None:
        self.f.flush()


def _ticker(progress: Progress) -> Callable[[str, bool], None]:
    last = [0.0]

    def tick(text: str, force: bool = False) -> None:
        if force or time.monotonic() - last[0] >= EVERY_S:
            last[0] = time.monotonic()
            progress(text)
    return tick


def read_back(path: Path, check: Callable[[bytes], object] = archive.decode) -> tuple[str, int]:
    """The SHA-256 of the file as on the disk, and the rows it holds (each line passed to `check`,
    which raises ValueError for a line that is not one of the file's)."""
    sha, n = hashlib.sha256(), 0
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            sha.update(chunk)
    try:
        with gzip.open(path, "rb") as g:
            for line in g:
                check(line)
                n += 1
    except (OSError, EOFError, ValueError) as exc:
        raise ArchiveError(f"{path} cannot be read back: {exc}") from None
    return sha.hexdigest(), n


def archive_month(store: Store, month: str, out: Path, key: Any, progress: Progress) -> dict[str, Any]:
    """Archive ``month`` (YYYY-MM) of ``store`` into the folder ``out``; the anchored record."""
    start, end = archive.month_range(month)
    pg = _pg(store)
    source = _archivable(store, pg, month, start, end)
    out.mkdir(parents=True, exist_ok=True)
    path = out / file_name(month)
    if path.exists():
        raise ArchiveError(f"{path} exists already: move it away (or archive into another folder with --out)")
    tick = _ticker(progress)
    part = path.with_name(path.name + ".part")
    nodes: dict[str, list[int]] = {}
    n = 0
    with open(part, "wb") as raw:
        h = _Hashing(raw)
        with gzip.GzipFile(fileobj=h, mode="wb", mtime=0) as g:
            for row in _rows(store, source, start, end):
                g.write(archive.encode(row))
                s = nodes.setdefault(row[0], [0, row[1], row[1]])
                s[0], s[2] = s[0] + 1, row[1]
                n += 1
                tick(f"archive {month}: {n} messages written", False)
        raw.flush()
        os.fsync(raw.fileno())
    os.replace(part, path)
    fsync_dir(out)
    tick(f"archive {month}: {n} messages written; reading the file back", True)
    sha, back = read_back(path)
    if sha != h.sha.hexdigest() or back != n:
        raise ArchiveError(f"{path} read back does not match what was written ({back} of {n} messages, SHA-256 "
                           f"{sha}): the disk may be failing; nothing was dropped, the month is still in the store")
    derived = _write_derived(store, source, month, out, tick)
    doc = archive.sign(key, archive.manifest(month=month, rows=n, nodes=nodes, file=path.name,
                                             size=path.stat().st_size, sha256=sha,
                                             store="postgresql" if pg is not None else "sqlite",
                                             made_us=store.now_us(), derived=derived))
    mpath = path.with_name(path.name + ".manifest.json")
    text = json.dumps(doc, ensure_ascii=False, indent=1, sort_keys=True) + "\n"
    _write_synced(mpath, text)
    with store.writing() as conn:  # the anchor and the drop, at once
        archives.anchor_and_drop(conn, pg, month, [n, doc["bytes"], sha, str(path), text, doc["made_us"]],
                                 source, start, end)
    tick(f"archive {month}: {n} messages archived to {path}; dropped from the store", True)
    return {"month": month, "rows": n, "nodes": len(nodes), "file": str(path), "manifest": str(mpath),
            "bytes": doc["bytes"], "sha256": sha, "derived": derived["rows"]}


def _archivable(store: Store, pg: Any, month: str, start: int, end: int) -> str:
    """The table or query the month's messages are read from; ArchiveError if the month is not
    closed yet, is archived already, or has no message in the store. A month whose PostgreSQL
    partition was detached by a run that stopped is taken up again whatever the clock says."""
    done = anchored(store, month)
    stopped = pg is not None and archives.exists(pg, "archiving_messages_" + month.replace("-", "_"))
    if not stopped:
        why = archive.not_closed(month, store.now_us(), archives.unverified(store, start, end))
        if why:
            raise ArchiveError(why)
    if done and done["restored_us"] is None and not stopped and not archives.held(store, start, end):
        raise ArchiveError(f"the month {month} is already archived ({done['file']}, SHA-256 {done['sha256']})")
    source = _source(store, month, start, end)
    if source is None:
        raise ArchiveError(f"no message of the month {month} is in the store: nothing to archive")
    return source


def _write_synced(path: Path, text: str) -> None:
    """`text` to `path`, on the disk before this returns (the file and its folder fsynced)."""
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())
    fsync_dir(path.parent)


def _write_derived(store: Store, source: str, month: str, out: Path, tick: Callable[[str, bool], None]) -> dict[str, Any]:
    """The derived rows of the month to their file (written, fsynced, read back as the messages'
    file is); what the manifest says of it."""
    start, end = archive.month_range(month)
    path = out / archive.derived_file(month)
    part = path.with_name(path.name + ".part")
    counts: dict[str, int] = {}
    destroyed_in: dict[str, int] = {}   # the months whose days these destructions were made in (issue 73 item 7)
    with open(part, "wb") as raw:
        h = _Hashing(raw)
        with gzip.GzipFile(fileobj=h, mode="wb", mtime=0) as g:
            for table in archives.TABLES:
                counts[table] = 0
                for row in archives.derived_rows(store, table, source, start, end):
                    g.write(json.dumps([table, row], ensure_ascii=False, separators=(",", ":")).encode() + b"\n")
                    counts[table] += 1
                    if table == "destructions" and isinstance(row.get("destroyed_us"), int):
                        when = archive.month_of(row["destroyed_us"])
                        destroyed_in[when] = destroyed_in.get(when, 0) + 1
                tick(f"archive {month}: {counts[table]} rows of {table} written", True)
        raw.flush()
        os.fsync(raw.fileno())
    os.replace(part, path)
    fsync_dir(out)
    sha, back = read_back(path, _derived_line)
    if sha != h.sha.hexdigest() or back != sum(counts.values()):
        raise ArchiveError(f"{path} read back does not match what was written: the disk may be failing; nothing "
                           "was dropped, the month is still in the store")
    return {"file": path.name, "bytes": path.stat().st_size, "sha256": sha, "rows": counts,
            "destroyed_in": dict(sorted(destroyed_in.items()))}


def _derived_line(line: bytes) -> None:
    table, row = json.loads(line)
    if table not in archives.TABLES or not isinstance(row, dict):
        raise ValueError(f"a line of table {table!r}")


def _paths(file: Path) -> tuple[Path, Path]:
    if file.name.endswith(".manifest.json"):
        return file.with_name(file.name[:-len(".manifest.json")]), file
    return file, file.with_name(file.name + ".manifest.json")


def restore_file(store: Store, file: Path, fingerprint: str, progress: Progress) -> dict[str, Any]:
    """Bring back the month archived in ``file`` (the archive or its manifest), its manifest's
    signature (by the office's key ``fingerprint``) and the file's SHA-256 checked first."""
    data, mpath = _paths(file)
    try:
        doc = archive.check(json.loads(mpath.read_text(encoding="utf-8")), fingerprint)
    except FileNotFoundError:
        raise ArchiveError(f"no manifest beside the archive: {mpath} does not exist") from None
    except (OSError, ValueError) as exc:
        if isinstance(exc, ArchiveError):
            raise
        raise ArchiveError(f"{mpath} cannot be read as a manifest: {exc}") from None
    month = doc["month"]
    tick = _ticker(progress)
    tick(f"restore {month}: checking {data}", True)
    if not data.exists():
        raise ArchiveError(f"the archive {data} does not exist")
    sha, n = read_back(data)
    if sha != doc["sha256"] or n != doc["rows"]:
        raise ArchiveError(f"archive hash mismatch: {data} has SHA-256 {sha} ({n} messages), its signed manifest "
                           f"says {doc['sha256']} ({doc['rows']}): the file was altered or damaged; nothing was "
                           "restored (restore from another copy)")
    known = anchored(store, month)
    if known is not None and known["sha256"] != sha:
        raise ArchiveError(f"archive hash mismatch: the store anchored SHA-256 {known['sha256']} for {month}, the "
                           f"file has {sha}: it is not the archive this office made of that month; nothing was "
                           "restored")
    done = 0
    with gzip.open(data, "rb") as g:
        batch: list[tuple[Any, ...]] = []
        for line in g:
            batch.append(archive.decode(line))
            if len(batch) >= BATCH:
                done += _insert(store, batch)
                tick(f"restore {month}: {done} of {n} messages", False)
        done += _insert(store, batch)
    if isinstance(doc.get("derived"), dict):
        _restore_derived(store, data.with_name(str(doc["derived"].get("file"))), doc["derived"], tick)
    with store.writing() as conn:
        if known is not None:
            archives.restored(conn, month, store.now_us())
    tick(f"restore {month}: {n} messages back in the store", True)
    return {"month": month, "rows": n, "file": str(data), "sha256": sha, "anchored": known is not None}


def _restore_derived(store: Store, path: Path, said: dict[str, Any], tick: Callable[[str, bool], None]) -> None:
    """The derived rows back, their file checked against the signed manifest first."""
    if not path.exists():
        raise ArchiveError(f"the archive of the derived rows {path} does not exist")
    sha, n = read_back(path, _derived_line)
    if sha != said.get("sha256") or n != sum((said.get("rows") or {}).values()):
        raise ArchiveError(f"archive hash mismatch: {path} has SHA-256 {sha} ({n} rows), its signed manifest says "
                           f"{said.get('sha256')}: the file was altered or damaged; the messages are back, the "
                           "derived rows are not")
    with gzip.open(path, "rb") as g, store.writing() as conn:
        for line in g:
            table, row = json.loads(line)
            archives.put_derived(conn, table, row)
    tick(f"restore: {n} derived rows back", True)


def _insert(store: Store, rows: list[tuple[Any, ...]]) -> int:
    if not rows:
        return 0
    with store.writing() as conn:
        archives.put_messages(conn, archive.COLUMNS, rows)
    n = len(rows)
    rows.clear()
    return n
