"""The store's own verbs of `edged-central` (issue 43 item 4): archive, restore.

    edged-central archive --month YYYY-MM [--out DIR] [--json]   a closed month out of the store
    edged-central restore --file FILE [--json]                    an archived month back
    edged-central migrate [--dry-run] [--json]                    the store to this version's schema
    edged-central backup --out FILE [--json]                      the SQLite store copied while it runs

Progress goes to standard error, the result to standard output (`--json` for a script); an
error a person can put right is one line saying what to do, and leaves the store as it was.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from central import config as cfgmod
from central.archive import archive, archiving, backup
from central.keys import ca_split, keylist
from central.store import migrate
from central.store.versions import SchemaError

VERBS = ("archive", "restore", "migrate", "backup")


def register(sub: Any) -> list[argparse.ArgumentParser]:
    a = sub.add_parser("archive", help="write a closed month's messages to a signed archive file and drop them "
                       "from the store (reports keep what they read)")
    a.add_argument("--month", required=True, metavar="YYYY-MM", help="the month of the messages' seqs (UTC)")
    a.add_argument("--out", type=Path, metavar="DIR", help="where the archive goes (default: DATA_DIR/archive)")
    a.add_argument("--json", action="store_true")
    r = sub.add_parser("restore", help="bring an archived month back into the store (signature and hash checked)")
    r.add_argument("--file", required=True, type=Path, metavar="FILE", help="the archive or its manifest")
    r.add_argument("--json", action="store_true")
    m = sub.add_parser("migrate", help="bring the store to this edged-central's schema version (stop every "
                       "instance first)")
    m.add_argument("--dry-run", action="store_true", help="say what would change (statements, rows) and change nothing")
    m.add_argument("--json", action="store_true")
    b = sub.add_parser("backup", help="copy the embedded SQLite store while it runs (PostgreSQL: pg_basebackup "
                       "and a WAL archive)")
    b.add_argument("--out", required=True, type=Path, metavar="FILE")
    b.add_argument("--json", action="store_true")
    return [a, r, m, b]


def _progress(text: str) -> None:
    print(f"edged-central: {text}", file=sys.stderr, flush=True)


def _out(args: argparse.Namespace, data: Any, text: str) -> None:
    if args.json:
        json.dump(data, sys.stdout, ensure_ascii=False, indent=1, sort_keys=True)
        sys.stdout.write("\n")
    else:
        print(text)


def cmd_archive(cfg: cfgmod.CentralConfig, args: argparse.Namespace, usage: type[Exception]) -> int:
    try:
        archive.month_range(args.month)
        store = cfg.open_store()
    except (archive.ArchiveError, FileNotFoundError, ConnectionError) as exc:
        raise usage(str(exc)) from None
    try:
        r = archiving.archive_month(store, args.month, args.out or cfg.storage.data_dir / "archive",
                                    keylist.central_key(cfg.storage.data_dir), _progress)
    except (archive.ArchiveError, OSError) as exc:
        raise usage(str(exc) if isinstance(exc, archive.ArchiveError) else
                    f"the archive could not be written ({exc}); nothing was dropped") from None
    finally:
        store.close()
    _out(args, r, f"{r['month']}: {r['rows']} messages of {r['nodes']} nodes archived to {r['file']} "
                  f"({r['bytes']} bytes, SHA-256 {r['sha256']}); manifest {r['manifest']}")
    return 0


def cmd_restore(cfg: cfgmod.CentralConfig, args: argparse.Namespace, usage: type[Exception]) -> int:
    try:
        store = cfg.open_store()
    except (FileNotFoundError, ConnectionError) as exc:
        raise usage(str(exc)) from None
    try:
        try:
            r = archiving.restore_file(store, args.file, keylist.central_key(cfg.storage.data_dir).fingerprint, _progress)
        except archive.ArchiveError as exc:
            earlier = ca_split.earlier_fingerprint(cfg.storage.data_dir)   # a month archived before the CA's split
            if earlier is None or "not by this office's key" not in str(exc):
                raise
            r = archiving.restore_file(store, args.file, earlier, _progress)
    except archive.ArchiveError as exc:
        raise usage(str(exc)) from None
    finally:
        store.close()
    _out(args, r, f"{r['month']}: {r['rows']} messages restored from {r['file']} (SHA-256 {r['sha256']})")
    return 0


def cmd_migrate(cfg: cfgmod.CentralConfig, args: argparse.Namespace, usage: type[Exception]) -> int:
    try:
        store = cfg.open_store(migrate=True)
    except (FileNotFoundError, ConnectionError) as exc:
        raise usage(str(exc)) from None
    try:
        r = migrate.run(store, dry_run=args.dry_run, progress=_progress)
    except SchemaError as exc:
        raise usage(str(exc)) from None
    finally:
        store.close()
    lines = [f"the store is at schema version {r['from']}; this edged-central expects {r['to']}"]
    for step in r["steps"]:
        rows = ", ".join(f"{t} {'(new)' if n is None else f'{n} rows'}" for t, n in step["tables"].items())
        lines.append(f"{'would run' if r['dry_run'] else 'ran'} schema {step['version']}: "
                     f"{len(step['statements'])} statements over {rows}")
        lines += [f"  {' '.join(sql.split())}" for sql in step["statements"]] if r["dry_run"] else []
    if not r["steps"]:
        lines.append("nothing to do")
    _out(args, r, "\n".join(lines))
    return 0


def cmd_backup(cfg: cfgmod.CentralConfig, args: argparse.Namespace, usage: type[Exception]) -> int:
    import sqlite3


    if cfg.storage.url:
        raise usage("the store is on PostgreSQL: back it up with pg_basebackup and a WAL archive (archive_command "
                    "or pg_receivewal), as docs/ref/central.md says; `edged-central backup` copies the SQLite store")
    try:
        r = backup.backup(cfg.db_path, args.out, _progress)
    except backup.BackupError as exc:
        raise usage(str(exc)) from None
    except (OSError, sqlite3.Error) as exc:
        raise usage(f"the backup could not be written ({exc}); nothing was written to {args.out}") from None
    _out(args, r, f"the store (schema {r['schema_version']}, {r['messages']} messages) copied to {r['file']} "
                  f"({r['bytes']} bytes), integrity checked")
    return 0
