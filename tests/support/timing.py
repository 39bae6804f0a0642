"""What every run of the suite costs, recorded and read back (design/0390).

Each test's wall time (its setup, call and teardown, as pytest measures them) and its CPU (the
worker's own and that of the parts it started and reaped: a module's daemon and cameras count in
the teardown of the test that stopped them), with the worker's own share apart (the test's Python,
its waits' polls, its in-process servers' threads: design/0516), travel with its reports to the
process that prints the run. At the end the run prints its slowest twenty tests and its wall, CPU and counts by tier, and
writes them to `.logs/tier-<label>.json` for scripts/test's closing table.

With `--record-durations`, which scripts/test passes on its full tiers, each xdist group's totals
(tests/conftest.py group_of) replace their entry in tests/durations.json, the file the parallel
tier is ordered from: the groups that cost most start first. A run of a few tests never rewrites it.
"""

from __future__ import annotations

import json
import os
import resource
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from tests.support import ctlfork

DURATIONS = Path(__file__).resolve().parent.parent / "durations.json"
LOGS = Path(os.environ.get("SETUP_LOGS") or Path(__file__).resolve().parents[2] / ".logs")
# the tiers a test is counted under, in the order its first is chosen (tests/conftest.py MARKERS)
TIER_ORDER = ("solo", "boot", "browser", "media", "postgres", "daemon", "rtsp", "broker", "slow", "process", "pure")


def cpu_s(children: bool = True) -> float:
    """This process's CPU and (unless `children` is false) that of its reaped children, user and system, in s,
    with the edgectl calls forked for it by the zygote (tests/support/ctlfork.py), which are not its children."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN) if children else own
    return own.ru_utime + own.ru_stime + (kids.ru_utime + kids.ru_stime + ctlfork.spent if children else 0.0)


def box_busy_s() -> float:
    """The whole box's CPU time spent busy (every core's ticks but idle and I/O wait), in core-seconds, from
    /proc/stat: what the tier cost the box whoever spent it, counted once (a worker's CPU is also in the
    controller's reaped children), and against its wall times the cores it shows how full the box was."""
    with open("/proc/stat", encoding="ascii") as f:
        ticks = [int(v) for v in f.readline().split()[1:]]
    return (sum(ticks[:8]) - ticks[3] - ticks[4]) / os.sysconf("SC_CLK_TCK")


def load() -> dict[str, dict[str, float]]:
    """tests/durations.json: {group: {"wall": s, "cpu": s, "tests": n}}; empty when absent or unreadable."""
    try:
        data = json.loads(DURATIONS.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data.get("groups", {}) if isinstance(data, dict) else {}


def merged(old: dict[str, dict[str, float]], new: dict[str, dict[str, float]]) -> dict[str, Any]:
    """The file's content after a run: this run's groups replace theirs, the others are kept."""
    groups = {**old, **{g: {k: round(v, 1) if k != "tests" else int(v) for k, v in f.items()} for g, f in new.items()}}
    return {"about": "seconds per xdist group, written by scripts/test's full runs (tests/support/timing.py)",
            "groups": dict(sorted(groups.items()))}


def tier_of(keywords: Any) -> str:
    return next((t for t in TIER_ORDER if t in keywords), "pure")


class Timing:
    def __init__(self, config: pytest.Config) -> None:
        self.config = config
        self.start_wall, self.start_cpu, self.start_busy = time.monotonic(), cpu_s(), box_busy_s()
        self.start_own = cpu_s(children=False)
        self.tests: dict[str, dict[str, Any]] = {}
        self.worker_cpu: dict[str, float] = {}
        self._cpu0: dict[str, tuple[float, float]] = {}
        self.worker_done: list[float] = []   # when each xdist worker finished, s into the run
        self.busy_by_minute: list[float] = []  # the box's busy share of each minute of the run
        if not hasattr(config, "workerinput"):
            threading.Thread(target=self._sample, name="timing-busy", daemon=True).start()

    def _sample(self) -> None:
        """The box's busy share minute by minute, so a run's closing lines show where its cores sat idle
        (a tail of one worker, or every worker waiting on real time at once)."""
        last = self.start_busy
        while True:
            time.sleep(60)
            now = box_busy_s()
            self.busy_by_minute.append(round((now - last) / (60 * (os.cpu_count() or 1)), 2))
            last = now

    # -- on the process that runs the test
    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_setup(self, item: pytest.Item) -> None:
        self._cpu0[item.nodeid] = (cpu_s(), cpu_s(children=False))

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_makereport(self, item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
        outcome = yield
        if call.when == "teardown":
            start = self._cpu0.pop(item.nodeid, None)
            if start is not None:
                props = outcome.get_result().user_properties
                props.append(("cpu_s", cpu_s() - start[0]))
                props.append(("own_s", cpu_s(children=False) - start[1]))

    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        if hasattr(self.config, "workeroutput"):  # an xdist worker: its CPU goes to the controller
            self.config.workeroutput["cpu_s"] = cpu_s() - self.start_cpu

    # -- on the process that prints the run (the controller, or the only one)
    def pytest_testnodedown(self, node: Any, error: Any) -> None:
        out = getattr(node, "workeroutput", {}) or {}
        self.worker_cpu[str(out.get("workerid", id(node)))] = float(out.get("cpu_s", 0.0))
        self.worker_done.append(round(time.monotonic() - self.start_wall))

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        t = self.tests.setdefault(report.nodeid, {"wall": 0.0, "cpu": 0.0, "own": 0.0,
                                                  "tier": tier_of(report.keywords), "outcome": "passed"})
        t["wall"] += report.duration
        if report.failed:
            t["outcome"] = "failed"
        elif report.skipped and t["outcome"] == "passed":
            t["outcome"] = "skipped"
        for key, value in report.user_properties:
            if key in ("cpu_s", "own_s"):
                t["cpu" if key == "cpu_s" else "own"] += float(value)

    def figures(self) -> dict[str, Any]:
        wall = time.monotonic() - self.start_wall
        # with workers, theirs (each with its own reaped children) and the controller's own: the workers
        # themselves are the controller's children, so its children's figure would count them twice
        if self.worker_cpu:
            cpu = cpu_s(children=False) - self.start_own + sum(self.worker_cpu.values())
        else:
            cpu = cpu_s() - self.start_cpu
        counts: dict[str, dict[str, int]] = {}
        for t in self.tests.values():
            by = counts.setdefault(t["tier"], {})
            by[t["outcome"]] = by.get(t["outcome"], 0) + 1
        workers = len(self.worker_cpu) or 1
        busy = box_busy_s() - self.start_busy
        return {"wall_s": round(wall, 1), "cpu_s": round(cpu, 1), "workers": workers, "counts": counts,
                "loadavg": os.getloadavg()[0], "box_busy_s": round(busy, 1),
                "box_full": round(busy / max(wall * (os.cpu_count() or 1), 1e-9), 2),
                "workers_done_s": sorted(self.worker_done), "busy_by_minute": list(self.busy_by_minute)}

    def groups(self) -> dict[str, dict[str, float]]:
        from tests.conftest import group_of_id

        out: dict[str, dict[str, float]] = {}
        for nodeid, t in self.tests.items():
            g = out.setdefault(group_of_id(nodeid), {"wall": 0.0, "cpu": 0.0, "own": 0.0, "tests": 0})
            g["wall"] += t["wall"]
            g["cpu"] += t["cpu"]
            g["own"] += t["own"]
            g["tests"] += 1
        return out

    @pytest.hookimpl(trylast=True)
    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        if hasattr(self.config, "workeroutput") or not self.tests:
            return
        tr = terminalreporter
        f = self.figures()
        tr.write_sep("-", "the slowest twenty tests (wall, CPU of the test and what it started, the pytest process's own, s)")
        for nodeid, t in sorted(self.tests.items(), key=lambda kv: -kv[1]["wall"])[:20]:
            tr.write_line(f"{t['wall']:8.1f} {t['cpu']:8.1f} {t['own']:8.1f}  {nodeid}")
        own = sorted(self.tests.items(), key=lambda kv: -kv[1]["own"])[:10]
        tr.write_line(f"timing: the pytest processes' own CPU in tests {sum(t['own'] for t in self.tests.values()):.0f} s; "
                      "most: " + ", ".join(f"{t['own']:.1f} {nodeid}" for nodeid, t in own))
        counts = ", ".join(f"{tier} {sum(c.values())}" for tier, c in sorted(f["counts"].items()))
        outcomes: dict[str, int] = {}
        for c in f["counts"].values():
            for k, v in c.items():
                outcomes[k] = outcomes.get(k, 0) + v
        tr.write_line(f"timing: wall {f['wall_s']:.0f} s, CPU {f['cpu_s']:.0f} s on {f['workers']} process(es) "
                      f"(the box busy {f['box_busy_s']:.0f} core-s, {f['box_full']:.0%} of its {os.cpu_count()} cores); "
                      f"{', '.join(f'{v} {k}' for k, v in sorted(outcomes.items()))}; by tier: {counts}")
        if f["workers_done_s"]:
            tr.write_line(f"timing: workers done at {', '.join(map(str, f['workers_done_s']))} s; the box busy minute by "
                          f"minute (%): {' '.join(str(round(b * 100)) for b in f['busy_by_minute'])}")
        label = self.config.getoption("timing_label")
        if label:
            LOGS.mkdir(parents=True, exist_ok=True)
            (LOGS / f"tier-{label}.json").write_text(json.dumps(f), encoding="utf-8")
        if self.config.getoption("record_durations"):
            DURATIONS.write_text(json.dumps(merged(load(), self.groups()), indent=1) + "\n", encoding="utf-8")


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--record-durations", action="store_true", dest="record_durations",
                     help="write each group's wall and CPU into tests/durations.json (scripts/test's full tiers)")
    parser.addoption("--timing-label", dest="timing_label", default="",
                     help="write the run's wall, CPU and counts to .logs/tier-LABEL.json")


def pytest_configure(config: pytest.Config) -> None:
    config.pluginmanager.register(Timing(config), "edged-timing")


def table(total_s: float) -> str:
    """scripts/test's closing lines: each tier's figures from .logs/tier-*.json, and the whole run's wall."""
    lines = ["test: tier        wall s   CPU s  procs  box busy  tests (by tier)"]
    for label in ("parallel", "solo-pair", "solo-idle", "solo"):
        try:
            f = json.loads((LOGS / f"tier-{label}.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            lines.append(f"test: {label:<10}  (no figures: the tier did not finish)")
            continue
        counts = ", ".join(f"{t} {sum(c.values())}" for t, c in sorted(f["counts"].items()))
        lines.append(f"test: {label:<10} {f['wall_s']:7.0f} {f['cpu_s']:7.0f} {f['workers']:6d}  "
                     f"{f.get('box_full', 0):8.0%}  {counts}")
    lines.append(f"test: the whole run, install included: {total_s:.0f} s ({total_s / 60:.1f} min; the budget: 25 min)")
    return "\n".join(lines)


if __name__ == "__main__":
    import sys

    print(table(float(sys.argv[1])))
