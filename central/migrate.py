"""`edged-central migrate` (issue 43 item 4, design/0121): the store brought to this code's schema
version, a version a transaction, with progress; `--dry-run` says what would change (each
version's statements and the rows of the tables they touch) and changes nothing. The version
is kept in the store (SQLite: `PRAGMA user_version`; PostgreSQL: the `schema_version` table);
no other verb changes it, and an instance of another version refuses to start (central/versions.py).
On PostgreSQL a live instance (a heartbeat in `instances`) stops the migration: stop them first.
Blocking (a command)."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from central.store import SCHEMA_VERSION, STEPS, Store
from central.versions import SchemaError

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
    if pg is not None:
        from central import leases

        live = leases.read(pg)[0]
        if live:
            raise SchemaError(f"edged-central instances are still running on this store ({', '.join(live)}): "
                              "stop every instance, then migrate")
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
