"""The cost of the office's verdicts on clocks (issue 86 item 6, design/0405): a fleet of boxes that
answer the office's signed time requests as real boxes do, a day's outage of their backlog judged,
then an hour of the office asking every minute, in one run, against the reference in the same run:

    .venv/bin/python -m bench.clock_fleet [--nodes 4] [--reference bacfb3bd] [--full-history]
        [--fleet 4000] [--instances 3] [--aligned]           (from the repository root)

The cameras cut their segments 3 s apart (`STAGGER`, design/0456), as a box's cameras cut at their own
keyframes; `--aligned`: every camera's segment ends on the minute, the shape of the figures before 0456.

Each box is bench/central_ingest.py's 16-camera node (its audit records, chain heads, people's work:
bench/central_fleet.py's day) whose clock runs a little ahead of the office's, whose retention
reports are the box's own (edged/daemon/reporting.py `retention_messages`, its readings by
storage/time/readings.py), and whose answers to the office's time requests are the box's own
(mqtt/office_time.py `answer_message`, signed with its node key); the office asks every minute
(central/verifier/clock_samples.py `asked`, the answers made samples by `take_for`, as in the field).
The real store (SQLite, in this process) and the real verifier judge.

The life: recording from day 0 (a footage message an hour), answering every minute; the office away
for a day from day 30, 00:05, when the boxes' first destructions fall due (each destroys each
camera's segment at 30 days and 5 minutes, a pass a minute, and queues the day: 6,624 durable
messages); back a day later: the backlog delivered and verified (every destruction judged on the
clock line around its two readings), then an hour of the office's minute requests (each answer
re-judges what waits on a sample; the hourly watch).
Without --full-history the boxes answer in the days around the readings the backlog is judged at
(days 0-3 and 28-30; a line reads no sample further than 2 days from a reading and the one beyond):
the same lines at a seventh of the set-up.

Two offices judge the same stored backlog: the reference (`--reference`: storage/time/interval.py
as of that commit, the line rebuilt each time, no memo) and this tree's (central/verifier/
clock_lines.py: each node's pairs kept, the offset of a set of stretches made once). Printed: CPU
a message and a node-day of verification, the share building clock lines, CPU a node-hour of the
minute requests, round trips (statements) a message, the same verdicts from both, and the day's
outage of `--fleet` nodes on `--instances` instances extrapolated from CPU a node-day (a core an
instance, the busiest's share of central/intake/leases.py's split, each statement charged
`--round-trip-ms`). Output: stdout and bench/out/clock_fleet.txt.
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import io
import pstats
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import types
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from bench import central_ingest as ci
from bench.common import OUT, command_line, table
from central.store.store import Store
from central.verifier import clock_samples
from central.verifier.verifier import Verifier
from edged.daemon.reporting import retention_messages
from mqtt import office_time
from storage.keys.nodekey import NodeKey

S, MIN, HOUR, DAY = 1_000_000, 60_000_000, 3_600_000_000, 86_400_000_000
T0 = 1_795_000_000 * S - (1_795_000_000 * S) % DAY  # a midnight (UTC)
KEEP_MIN = 30 * 1440 + 5  # a segment destroyed at 30 days and 5 minutes (the box's gate proves 30 days first)
AWAY = 30 * 1440 + 5  # the outage: a day from minute AWAY, the first destruction's (day 30, 00:05)
RTT = 80_000  # the answers' round trip
STAGGER = 3_000_007  # camera j's segments end j times this before the minute: a box's cameras cut at their own
# keyframes, never together (--aligned: 0, every camera's segment ends at the minute, as before design/0456)
REFERENCE = "bacfb3bd"  # issue 86 items 1-5 (design/0364-0369), before this measure
lines: list[str] = []
PROFILE = False  # --profile: the backlog's verification profiled (its CPU figures then the profiler's)
OPEN: Any = lambda where, clock: Store(where, clock=clock)  # the office's store (bench/clock_fleet_pg.py: PostgreSQL)
SERVER_CPU: Any = None  # CPU s of the store's server so far (bench/clock_fleet_pg.py), None: in this process


def log(msg: str = "") -> None:
    print(msg, flush=True)
    lines.append(msg)


def cpu_model() -> str:
    """The CPU's model and the flags that matter to a figure of CPU (read from /proc/cpuinfo)."""
    text = Path("/proc/cpuinfo").read_text()
    model = next((ln.split(":", 1)[1].strip() for ln in text.splitlines() if ln.startswith("model name")), "?")
    flags = set(next((ln.split(":", 1)[1].split() for ln in text.splitlines() if ln.startswith("flags")), []))
    have = [f for f in ("avx2", "avx512f", "avx512_vnni", "sha_ni") if f in flags]
    return f"{model} ({os.cpu_count()} cores; {', '.join(have) or 'no avx2'}; no avx512_vnni)" if (
        "avx512_vnni" not in flags) else f"{model} ({os.cpu_count()} cores; {', '.join(have)})"


class Box(ci.Node):
    """A 16-camera box whose clock runs ``ahead`` us ahead of the office's, its day as bench/central_fleet's."""

    per_segment = False

    def __init__(self, i: int, cameras: int, key: NodeKey, ahead: int):
        self.ahead, self.i = ahead, i
        super().__init__(i, cameras, T0 + ahead, key)
        self.node = f"{self.site}/{self.name}"

    def stamp(self, t: int) -> int:
        return t + self.ahead

    def birth(self, ts: int) -> list[tuple[bytes, bytes, int, bool]]:
        """bench/central_ingest.py's birth at a 30-day maximum (the destructions are due at 30 days)."""
        out = super().birth(ts)
        body = json.loads(out[1][1])
        body["retention"].update(min_days=7.0, max_days=30.0)
        return [out[0], (out[1][0], json.dumps(body, separators=(",", ":")).encode(), 0, True)]

    def answer(self, nonce: str, t: int) -> tuple[str, bytes]:
        """Its answer to the office's request sent at ``t``: the box's own (mqtt/office_time.py)."""
        body = office_time.answer_message({"nonce": nonce, "at_us": t}, self.key.sign, self.stamp(t + RTT // 2),
                                          t - T0 + DAY + RTT // 2, "b1")
        return self.base.decode() + "clock", body

    def footage(self, first_min: int, last_min: int) -> tuple[bytes, bytes, int, bool]:
        """The footage message of minutes [first_min, last_min): ids minute * cameras + camera + 1."""
        c = len(self.cams)
        a, b = self.stamp(T0 + first_min * MIN), self.stamp(T0 + last_min * MIN)
        return self.durable("footage", {"first_id": first_min * c + 1, "last_id": last_min * c, "from_us": a,
                                        "to_us": b, "segments": (last_min - first_min) * c, "cameras": c,
                                        "spans": {cam: [[a, b, "live"]] for cam in self.cams}}, b)

    def minute(self, m: int) -> list[tuple[bytes, bytes, int, bool]]:
        """Minute ``m``'s durable messages: the pass's destructions (the box's own report), its record,
        the footage it forces, and the node's chain head and people's work (bench/central_ingest.py)."""
        ts, k, c = self.stamp(T0 + (m + 1) * MIN), m - KEEP_MIN, len(self.cams)
        out = []
        if k >= 0:
            gone = [{"camera": cam, "start_us": self.stamp(T0 + k * MIN) - j * STAGGER,
                     "end_us": self.stamp(T0 + (k + 1) * MIN) - j * STAGGER,
                     "path": f"{cam}/{k}.mp4", "bytes": 30_000_000, "sha256": "0" * 64, "reason": "max_retention",
                     "destroyed_us": ts, "pass_id": m, "free_before": None, "reserve": None,
                     "segment_id": k * c + j + 1} for j, cam in enumerate(self.cams)]
            out += [self.durable("retention", msg, ts) for msg in retention_messages(gone)]
            out.append(self.record(ts, "edged", "retention.pass", {"pass": m, "destroyed": c, "bytes": 30_000_000 * c,
                                                                   "by_reason": {"max_retention": c}}))
        out.append(self.footage(m, m + 1))
        for s in sorted({(45 - self.i) % 60, (5 - self.i) % 60}):
            out += [x for x in ci.Node.second(self, (m + 1) * 60 + s, self.i) if x[2]]
        return out


class Clock:
    def __init__(self, now: int):
        self.now = now

    def __call__(self) -> int:
        return self.now


class Office:
    """The real store and verifier on an injected clock; the boxes it asks."""

    def __init__(self, path: Any, boxes: list[Box]):
        self.path, self.boxes, self.clock = path, boxes, Clock(T0)
        self.store = OPEN(path, self.clock)
        self.v = Verifier(self.store, ZoneInfo("UTC"), gap_grace_us=0)

    def ask(self, t: int) -> None:
        """The office's time request to every box at ``t``, each answered, the answers taken."""
        nonce = f"n{t}"
        with self.store.writing(durable=False):
            clock_samples.asked(self.store.db, [(b.node, nonce, t) for b in self.boxes], t)
        self.clock.now = t + RTT
        self.store.ingest([b.answer(nonce, t) for b in self.boxes], t + RTT)
        self.v.take_clock_samples()

    def hear(self, msgs: list[tuple[bytes, bytes, int, bool]], t: int) -> None:
        self.clock.now = t
        for i in range(0, len(msgs), 2000):
            self.store.ingest([(tp.decode(), p) for tp, p, _q, _r in msgs[i:i + 2000]], t)

    def verify(self, t: int) -> int:
        self.clock.now, n = t, 0
        while True:
            got = self.v.run_once(t)
            n += got
            if not got:
                return n


def history(office: Office, full: bool) -> None:
    """Days 0-30: births, a footage message an hour, answers every minute (or around the readings only)."""
    office.hear([m for b in office.boxes for m in b.birth(b.stamp(T0))], T0)
    office.verify(T0 + S)
    answering = [(0, AWAY)] if full else [(0, 3 * 1440), (AWAY - 2 * 1440, AWAY)]
    for m in range(AWAY):
        t = T0 + m * MIN
        if any(a <= m < b for a, b in answering):
            office.ask(t)
        if m % 60 == 59:
            office.hear([b.footage(m - 59, m + 1) for b in office.boxes], t + MIN - S)
            if m % (6 * 60) == 359 or m >= AWAY - 1440:  # the watch hourly on the day before the outage
                office.verify(t + MIN)


@contextlib.contextmanager
def profiled(what: str) -> Iterator[None]:
    """--profile: cProfile what runs inside, its top printed (its CPU figures are then the profiler's)."""
    if not PROFILE:
        yield
        return
    prof = cProfile.Profile(time.process_time)  # CPU, not wall: the box is shared
    prof.enable()
    try:
        yield
    finally:
        prof.disable()
        text = io.StringIO()
        pstats.Stats(prof, stream=text).sort_stats("tottime").print_stats(22)
        log(f"{what} (cProfile, by own time):\n```\n" + text.getvalue().split("\n\n", 2)[-1].strip() + "\n```")


def measure(office: Office, t: int, msgs: int) -> dict[str, Any]:
    """The backlog verified, then an hour of minute requests: CPU, clock lines' share, statements."""
    spent = [0.0]
    built = clock_samples.line

    def timed(*a: Any, **k: Any) -> Any:
        began = time.process_time()
        try:
            return built(*a, **k)
        finally:
            spent[0] += time.process_time() - began
    clock_samples.line = timed  # type: ignore[assignment]
    try:
        server = SERVER_CPU or (lambda: 0.0)
        st0, c0, s0, w0 = office.v.statements, time.process_time(), server(), time.monotonic()
        with profiled("the backlog's verification"):
            verified = office.verify(t)
        out = {"verify_cpu": time.process_time() - c0, "verify_line": spent[0], "verified": verified,
               "statements": office.v.statements - st0, "verify_server": server() - s0,
               "verify_wall": time.monotonic() - w0}
        spent[0], c0, s0 = 0.0, time.process_time(), server()
        with profiled("the hour of requests a minute"):
            for m in range(60):
                office.ask(t + m * MIN + 30 * S)
                office.v.run_once(t + m * MIN + 40 * S)
            office.v.run_once(t + HOUR + S)  # the hourly watch
        out.update(hour_cpu=time.process_time() - c0, hour_line=spent[0], hour_server=server() - s0)
    finally:
        clock_samples.line = built  # type: ignore[assignment]
    from tests.support.catalog import central_destruction_days
    out["verdicts"] = central_destruction_days(office.store)
    out["findings"] = {r["kind"]: r["n"] for r in office.store.db.query("SELECT kind, count(*) AS n FROM findings GROUP BY 1")}
    assert out["verified"] >= msgs, (out["verified"], msgs)
    return out


def reference_interval(commit: str) -> types.ModuleType:
    """storage/time/interval.py as of ``commit``, a module of its own."""
    text = subprocess.run(["git", "show", f"{commit}:storage/time/interval.py"], cwd=ci.ROOT, capture_output=True,
                          text=True, check=True).stdout
    mod = types.ModuleType("reference_interval")
    sys.modules[mod.__name__] = mod  # dataclasses look their module up
    exec(compile(text, f"{commit}:storage/time/interval.py", "exec"), mod.__dict__)
    return mod


def judged(path: Path, boxes: list[Box], kept: Verifier | None, ref: types.ModuleType | None, t: int,
           msgs: int) -> dict[str, Any]:
    """One office judging the stored backlog at ``path``: this tree's (``kept``: the verifier that ran the
    history, its lines kept) or the reference (``ref``'s ClockLine, a fresh verifier, nothing kept)."""
    office = Office(path, boxes)
    if kept is not None:
        kept.store = office.store
        office.v = kept
    if ref is None:
        return measure(office, t, msgs)
    now = clock_samples.interval
    clock_samples.interval = ref  # type: ignore[assignment]
    office.v.lines = None  # type: ignore[assignment]
    try:
        return measure(office, t, msgs)
    finally:
        clock_samples.interval = now
        office.store.close()


def per_unit(r: dict[str, Any], nodes: int, msgs: int) -> dict[str, float]:
    return {"msg": r["verify_cpu"] / msgs, "node_day": r["verify_cpu"] / nodes, "line_share": r["verify_line"] / max(
        r["verify_cpu"], 1e-9), "hour": r["hour_cpu"] / nodes, "hour_line": r["hour_line"] / max(r["hour_cpu"], 1e-9),
            "rt": r["statements"] / msgs}


def outage_hours(u: dict[str, float], per_day: int, fleet: int, share: float, rt_ms: float) -> float:
    """A day's backlog of ``fleet`` nodes on instances a core each: the busiest's share of the node-days,
    each message's CPU and its statements' round trips."""
    return fleet * share * (u["node_day"] + per_day * u["rt"] * rt_ms / 1000) / 3600


# over 60 lines on purpose: the run and its report, in the order printed
def main(argv: list[str] | None = None) -> int:
    from central.intake import leases

    argv = sys.argv[1:] if argv is None else argv
    p = argparse.ArgumentParser(prog="bench.clock_fleet")
    p.add_argument("--nodes", type=int, default=4, help="boxes simulated (16 cameras each)")
    p.add_argument("--cameras", type=int, default=16)
    p.add_argument("--reference", default=REFERENCE, help="the commit whose storage/time/interval.py is the reference")
    p.add_argument("--full-history", action="store_true", help="answers every minute of days 0-30, not only around the readings")
    p.add_argument("--fleet", type=int, default=4000)
    p.add_argument("--instances", type=int, default=3)
    p.add_argument("--round-trip-ms", type=float, default=0.2, help="charged a statement (a PostgreSQL on its own machine)")
    p.add_argument("--profile", action="store_true", help="cProfile both offices' verification of the backlog")
    p.add_argument("--aligned", action="store_true", help="every camera's segments end together (the shape before"
                   " design/0456: one pass's destructions then share every reading)")
    args = p.parse_args(argv)
    global PROFILE, STAGGER
    PROFILE = args.profile
    STAGGER = 0 if args.aligned else STAGGER
    OUT.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="clock-fleet-", dir=OUT))
    try:
        log(f"# clock_fleet: {args.nodes} boxes x {args.cameras} cameras answering the office's time requests;"
            f" a day's outage judged, then an hour of requests a minute")
        log(f"command (from the repository root): {command_line('bench.clock_fleet')}")
        rev = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ci.ROOT, capture_output=True, text=True)
        log(f"{time.strftime('%Y-%m-%d %H:%M:%S %Z')}; CPU {cpu_model()}; load {ci.load()}; edged {rev.stdout.strip()};"
            f" reference storage/time/interval.py of {args.reference}; CPU is this process's (one thread, SQLite in it)")
        keys = [NodeKey(Ed25519PrivateKey.generate()) for _ in range(args.nodes)]
        boxes = [Box(i, args.cameras, keys[i], 800_000 + 37_000 * i) for i in range(args.nodes)]
        c0 = time.process_time()
        office = Office(work / "c.db", boxes)
        history(office, args.full_history)
        back = T0 + AWAY * MIN + DAY
        backlog = [m for b in boxes for minute in range(AWAY, AWAY + 1440) for m in b.minute(minute)]
        office.ask(back)  # back: the first request answered, then the outbox drained
        office.hear(backlog, back + 2 * S)
        office.store.close()
        kinds: dict[str, int] = {}
        for tp, _p, _q, _r in backlog:
            kinds[tp.rsplit(b"/", 1)[1].decode()] = kinds.get(tp.rsplit(b"/", 1)[1].decode(), 0) + 1
        counting = Store(work / "c.db")
        samples = next(iter(counting.db.query("SELECT count(*) AS n FROM clock_samples")))["n"]
        counting.close()
        log(f"set-up {time.process_time() - c0:.0f} CPU s: {samples:,} clock samples (answers a minute"
            f"{'' if args.full_history else ' around the readings'}); the backlog {len(backlog):,} durable messages"
            f" ({', '.join(f'{k} {v:,}' for k, v in sorted(kinds.items()))}), {len(backlog) // args.nodes:,} a node-day")
        shutil.copy(work / "c.db", work / "ref.db")
        t = back + 5 * S
        ref = judged(work / "ref.db", boxes, None, reference_interval(args.reference), t, len(backlog))
        new = judged(work / "c.db", boxes, office.v, None, t, len(backlog))
        a, b = per_unit(ref, args.nodes, len(backlog)), per_unit(new, args.nodes, len(backlog))
        kept = office.v.lines
        log(table(["figure", f"reference ({args.reference})", "this tree (lines kept)", "this / reference"], [
            ["verification CPU us a message", f"{1e6 * a['msg']:.0f}", f"{1e6 * b['msg']:.0f}", f"{b['msg'] / a['msg']:.2f}x"],
            ["verification CPU s a node-day", f"{a['node_day']:.2f}", f"{b['node_day']:.2f}",
             f"{b['node_day'] / a['node_day']:.2f}x"],
            ["of it building clock lines", f"{100 * a['line_share']:.0f} %", f"{100 * b['line_share']:.0f} %", "-"],
            ["an hour of requests a minute (answers taken, re-judging, the hourly watch): CPU s a node-hour",
             f"{a['hour']:.3f}", f"{b['hour']:.3f}", f"{b['hour'] / max(a['hour'], 1e-9):.2f}x"],
            ["of it building clock lines", f"{100 * a['hour_line']:.0f} %", f"{100 * b['hour_line']:.0f} %", "-"],
            ["statements (round trips) a message, verification", f"{a['rt']:.3f}", f"{b['rt']:.3f}", "-"],
            ["destructions by verdict", json.dumps(ref["verdicts"], sort_keys=True),
             json.dumps(new["verdicts"], sort_keys=True), "same" if ref["verdicts"] == new["verdicts"] else "DIFFERENT"],
            ["findings by kind", json.dumps(ref["findings"], sort_keys=True), json.dumps(new["findings"], sort_keys=True),
             "same" if ref["findings"] == new["findings"] else "DIFFERENT"]]))
        log(f"this tree's lines: {kept.built:,} built, {kept.pairs:,} pairs, {kept.fresh:,} worked out"
            f" ({100 * (1 - kept.fresh / max(kept.pairs, 1)):.0f} % from the nodes' memos), {kept.held:,} pairs kept")
        ids = tuple(f"central{k}" for k in range(args.instances))
        fleet_nodes = [f"site{i // ci.SITE_SIZE:04d}/node{i:04d}" for i in range(args.fleet)]
        share = max(leases.split(fleet_nodes, ids).values()) / args.fleet
        per_day = len(backlog) // args.nodes
        ha = outage_hours(a, per_day, args.fleet, share, args.round_trip_ms)
        hb = outage_hours(b, per_day, args.fleet, share, args.round_trip_ms)
        h1 = outage_hours(b, per_day, args.fleet, 1.0, args.round_trip_ms)
        log(f"\n## a day's outage: {args.fleet:,} nodes x {args.cameras} cameras, {per_day:,} messages a node-day")
        log(table(["figure", "reference", "this tree", "target"], [
            [f"hours on {args.instances} instances (a core each, busiest share {100 * share:.1f} %,"
             f" {args.round_trip_ms} ms a statement)", f"{ha:.2f}", f"{hb:.2f}", "< 1 h: " + ("met" if hb < 1 else "NOT met")],
            ["hours on 1 instance (the same)", f"{outage_hours(a, per_day, args.fleet, 1.0, args.round_trip_ms):.2f}",
             f"{h1:.2f}", "-"],
            [f"CPU s of the office's instances for the day's backlog ({args.fleet:,} node-days)",
             f"{args.fleet * a['node_day']:,.0f}", f"{args.fleet * b['node_day']:,.0f}", "-"],
            [f"CPU s an hour of requests a minute at {args.fleet:,} nodes (cores busy)",
             f"{args.fleet * a['hour']:,.0f} ({args.fleet * a['hour'] / 3600:.2f})",
             f"{args.fleet * b['hour']:,.0f} ({args.fleet * b['hour'] / 3600:.2f})", "-"]]))
        log("not in these figures: PostgreSQL's own CPU and its lock waits (the serial fraction): bench/central_fleet"
            " measures them on 1 and 3 instances; here every statement is charged a round trip instead")
    finally:
        (OUT / "clock_fleet.txt").write_text("\n".join(lines) + "\n")
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
