"""`audit verify` over a million audit records (issue 7's benchmark).

    .venv/bin/python -m bench.audit_verify [--records 1000000] [--runs 3] [--out bench/out/audit]

A catalog is made with `open_db` (the real schema and migrations) and filled with --records
audit records shaped like the daemon's (logins, holds, grant uses, retention pass summaries;
actors with non-ASCII names; 60-200 byte details), chained with the real hash (each hash
computed here in Python, then written with one executemany). Then, each --runs times:
1. `storage.audit.verify` in this process on a fresh read-only connection (the check itself);
2. `edgectl audit verify --catalog FILE` as a subprocess (what a person runs: interpreter start,
   imports, the check, the output);
3. `storage.audit.verify_lines` over an export of the whole log (`python3 -m storage.audit`
   does this for a third party), the export written once by `records` + `export_line`.
Figures: median and max seconds, records per second, catalog and export sizes. The catalog
is cached under --out and rebuilt with --rebuild.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import shlex
import statistics
import subprocess
import sys
import time
from pathlib import Path

from storage import audit
from storage.catalog import open_db
from storage.readonly import open_readonly

ROOT = Path(__file__).resolve().parents[1]
T0 = 1_795_000_000_000_000
ACTORS = ["edged", "carol", "alice (os: root)", "陳怡君", "admin (os: root)", "mqtt:key:3f9a1c0d"]


def detail(i: int) -> dict:
    kind = i % 5
    if kind == 0:
        return {"via": "edgectl (os: root)", "expires_us": T0 + i * 1000 + 900_000_000}
    if kind == 1:
        return {"id": i, "kind": "evidence", "cameras": ["counter-1", "door"], "from_us": T0, "to_us": T0 + 60_000_000,
                "reason": "爭議 at counter 2", "case_ref": f"C-{i}", "expires_us": T0 + 30 * 86_400_000_000}
    if kind == 2:
        return {"grant": i, "request": i, "cameras": ["door"], "from_us": T0, "to_us": T0 + 1, "mode": "view",
                "approver": "alice"}
    if kind == 3:
        return {"pass": i, "destroyed": 12, "bytes": 362_000_000, "by_reason": {"max_retention": 12}}
    return {}


def build(path: Path, n: int) -> float:
    started = time.perf_counter()
    db = open_db(path)
    rows = []
    prev = audit.GENESIS
    for i in range(1, n + 1):
        body = {"seq": i, "at_us": T0 + i * 1000, "actor": ACTORS[i % len(ACTORS)],
                "action": ("login", "hold.add", "grant.use", "retention.pass", "logout")[i % 5], "detail": detail(i)}
        digest = hashlib.sha256(prev.encode() + audit._canonical(body)).hexdigest()
        rows.append((i, body["at_us"], body["actor"], body["action"], audit._canonical(body["detail"]).decode(),
                     prev, digest))
        prev = digest
    with db.atomic():
        db.conn.executemany("INSERT INTO audit (seq, at_us, actor, action, detail, prev_hash, hash)"
                            " VALUES (?, ?, ?, ?, ?, ?, ?)", rows)
    db.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    db.conn.close()
    return time.perf_counter() - started


def timed(fn) -> float:
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--records", type=int, default=1_000_000)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--out", type=Path, default=ROOT / "bench/out/audit")
    ap.add_argument("--rebuild", action="store_true")
    args = ap.parse_args()
    data = args.out / f"audit-{args.records}"
    catalog = data / "catalog.db"
    if args.rebuild and data.exists():
        for p in data.iterdir():
            p.unlink()
    data.mkdir(parents=True, exist_ok=True)
    build_s = None
    if not catalog.exists():
        build_s = build(catalog, args.records)
    export = data / "audit.jsonl"
    if not export.exists():
        db = open_readonly(catalog)
        with export.open("w", encoding="utf-8") as f:
            after = 0
            while page := audit.records(db, after_seq=after, limit=50_000):
                f.writelines(audit.export_line(r) + "\n" for r in page)
                after = page[-1]["seq"]
        db.conn.close()

    def in_process() -> None:
        db = open_readonly(catalog)
        n, problem = audit.verify(db)
        db.conn.close()
        assert (n, problem) == (args.records, None), (n, problem)

    cli = [sys.executable, "-m", "edged.cli.edgectl", "audit", "verify", "--catalog", str(catalog)]

    def edgectl() -> None:
        r = subprocess.run(cli, capture_output=True, text=True, cwd=ROOT)
        assert r.returncode == 0 and f"{args.records} records" in r.stdout, r.stderr

    def lines() -> None:
        with export.open(encoding="utf-8") as f:
            n, problem, _ = audit.verify_lines(f)
        assert (n, problem) == (args.records, None), (n, problem)

    results = {}
    for name, fn in (("storage.audit.verify (in process)", in_process), ("edgectl audit verify (subprocess)", edgectl),
                     ("verify_lines over the JSON-lines export", lines)):
        times = [timed(fn) for _ in range(args.runs)]
        results[name] = times

    print(f"# audit verify, {args.records:,} records\n")
    print(f"command: cd {ROOT} && .venv/bin/python -m bench.audit_verify " + shlex.join(sys.argv[1:]))
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, load {os.getloadavg()[0]:.2f}, "
          f"Python {platform.python_version()}, SQLite {__import__('sqlite3').sqlite_version}")
    print(f"catalog: {catalog.stat().st_size / 1e6:.0f} MB; export: {export.stat().st_size / 1e6:.0f} MB"
          + (f"; built in {build_s:.1f} s" if build_s else " (cached)"))
    print(f"edgectl command timed: {shlex.join(cli)}\n")
    print("| what | runs | median s | max s | records/s |")
    print("|---|---|---|---|---|")
    for name, times in results.items():
        med = statistics.median(times)
        print(f"| {name} | {len(times)} | {med:.2f} | {max(times):.2f} | {args.records / med:,.0f} |")
    print("\n" + json.dumps({k: [round(t, 3) for t in v] for k, v in results.items()}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
