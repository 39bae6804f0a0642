"""`edged-central migrate` (issue 43 item 4, design/0121): the store brought to this code's schema
version, a version a transaction, with progress; `--dry-run` says what would change (each
version's statements and the rows of the tables they touch) and changes nothing. The version
is kept in the store (SQLite: `PRAGMA user_version`; PostgreSQL: the `schema_version` table);
no other verb changes it, and an instance of another version refuses to start (central/store/versions.py).
A running instance stops the migration, and the refusal names it (design/0211): on PostgreSQL a
live heartbeat in `instances` (its id, host, pid), on SQLite the lock `run` holds on
`central.db.run` in the data folder (its pid and host). Blocking (a command)."""

from __future__ import annotations

import fcntl
import os
import re
import socket
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from central.store.store import Store
from central.store.store_schema import SCHEMA_VERSION, STEPS
from central.store.versions import SchemaError
from central.store import instances

_TABLES = re.compile(r"\b(?:UPDATE|ALTER TABLE|ON|FROM|TABLE IF NOT EXISTS)\s+(\w+)", re.I)


def _exists(store: Store, table: str) -> bool:
    pg = getattr(store, "pg", None)
    if pg is not None:
        return pg.execute("SELECT to_regclass(%s)", [table]).fetchone()[0] is not None
    return table in store.db.table_names()


def _rows(store: Store, table: str) -> int:
    return int(store.db.execute(f"SELECT count(*) FROM {table}").fetchone()[0])


def plan(store: Store) -> dict[str, Any]:
    """What migrating ``store`` would do: {"from", "to", "steps": [{"version", "statements",
    "tables": {table: rows, or None for a table made new}}]}."""
    found = store.schema_version()
    if found > SCHEMA_VERSION:
        raise SchemaError(f"the store is at schema version {found}, newer than this edged-central ({SCHEMA_VERSION}): "
                          "it cannot be migrated back; run the edged-central that made it")
    steps = []
    for v in sorted(STEPS):
        if v <= found:
            continue
        statements = store.migration_steps(v)
        tables: dict[str, int | None] = {}
        for sql in STEPS[v]:
            for t in _TABLES.findall(sql):
                if t not in tables and t.lower() not in ("select", "messages.node"):
                    tables[t] = _rows(store, t) if _exists(store, t) else None
        steps.append({"version": v, "statements": statements, "tables": tables})
    return {"from": found, "to": SCHEMA_VERSION, "steps": steps}


def run(store: Store, *, dry_run: bool, progress: Callable[[str], None]) -> dict[str, Any]:
    """Migrate ``store`` (opened with ``migrate=True``), or only say what would change."""
    p = plan(store)
    if dry_run or not p["steps"]:
        return {**p, "dry_run": dry_run, "done": []}
    pg = getattr(store, "pg", None)
    running = _running_pg(pg) if pg is not None else _running_sqlite(store)
    if running:
        raise SchemaError(refusal(running, p["steps"]))
    done = []
    for step in p["steps"]:
        v, n = step["version"], len(step["statements"])
        with store.writing():
            for i, sql in enumerate(step["statements"], 1):
                progress(f"schema {v}: statement {i} of {n}: {' '.join(sql.split())[:100]}")
                (pg.execute if pg is not None else store.db.execute)(sql)
            store.set_schema_version(v)
        progress(f"schema {v}: done")
        done.append(v)
    return {**p, "dry_run": False, "done": done}


# who is running on the store ----------------------------------------------------------------------
def refusal(running: list[str], steps: list[dict[str, Any]]) -> str:
    """The refusal while instances run: which, why not beside them, what to do."""
    versions = ", ".join(str(x["version"]) for x in steps)
    return (f"edged-central instances are still running on this store ({'; '.join(running)}): schema step(s) "
            f"{versions} cannot run beside them (an instance of the old version keeps writing the old tables: "
            "step 7 copies `messages` into a table partitioned by another key, which PostgreSQL cannot change in "
            "place; design/0140). Stop every instance listed (e.g. `systemctl stop edged-central` on each host), "
            "then migrate, then start them at this version; boxes keep their messages meanwhile (design/0139)")


def _running_pg(pg: Any) -> list[str]:
    live, rows, now = instances.read(pg)
    return [f"{r['id']} on {r['host']}, pid {r['pid']}, heartbeat {(now - r['heartbeat_us']) / 1e6:.0f} s ago"
            for r in rows if r["id"] in live]


def run_lock_path(db_path: Path) -> Path:
    return db_path.with_name(db_path.name + ".run")


@contextmanager
def running_here(db_path: Path) -> Iterator[None]:
    """Held by `edged-central run` on a SQLite store for its lifetime: `migrate` sees it (a shared
    flock, so a standby's second `run` on the same folder is not refused here) and names the pid."""
    path = run_lock_path(db_path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a+", encoding="utf-8") as f:
        fcntl.flock(f, fcntl.LOCK_SH)
        f.write(f"{os.getpid()} {socket.gethostname()}\n")
        f.flush()
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def _running_sqlite(store: Store) -> list[str]:
    path = getattr(store, "path", None)
    if path is None or not run_lock_path(path).exists():
        return []
    with open(run_lock_path(path), "r+", encoding="utf-8") as f:
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            seen = [ln.split() for ln in f.read().splitlines() if ln.strip()]
            alive = [f"pid {pid} on {host}" for pid, host, *_ in seen if host != socket.gethostname() or _alive(pid)]
            return alive or ["an edged-central run (its pid not recorded)"]
        f.truncate(0)  # nobody runs: the pids of runs that ended go
        fcntl.flock(f, fcntl.LOCK_UN)
        return []


def _alive(pid: str) -> bool:
    try:
        os.kill(int(pid), 0)
        return True
    except (ValueError, ProcessLookupError):
        return False
    except PermissionError:
        return True
