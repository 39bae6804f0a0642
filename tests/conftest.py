"""Test tiers: each test is marked by the real parts its module starts, read from what it
imports from tests/support, so `scripts/test -m pure` (a test with none of the others) runs
the core alone in under a minute (design/0206, 0266), and a new test file is tiered without anyone
remembering to mark it.

A module marks itself too (`pytestmark = pytest.mark.daemon`) where it starts a part without
going through tests/support.

`scripts/test` runs the suite on several processes (pytest-xdist, `--dist loadgroup`): the tests
of one module stay on one process, in order, sharing its module fixtures (a camera server, a
daemon); the modules that make OS accounts take turns at useradd/groupdel through a file lock
(tests/support/osuser.py), not by sharing one process; `solo` modules measure time, descriptors or CPU under a flood, or boot a
container, and run after the others, alone: those that measure nothing (SOLO_PAIRED) side by side with the light
floods (SOLO_LIGHT), then those that make idle-priority copies (SOLO_IDLE) side by side, then the others one at a
time (design/0278, 0415, 0494).

The groups are handed out longest first (the modules that start real parts by the wall time
the last full runs recorded in tests/durations.json, then the pure ones), not as xdist orders
them by default (most tests first): that put the one-test daemon modules of two minutes last,
and the run ended on one worker's lonely tail (design/0390).
"""

from __future__ import annotations

import gc
import re
import sys
from pathlib import Path
from typing import Any

import hypothesis  # imported now, not at the session's end: see below
import pytest

from tests.support import engines, logs, timing

# Hypothesis's pytest plugin imports hypothesis at the terminal summary if nothing did before, and
# pytest parses each of its modules (ast.parse, to rewrite asserts). On Python 3.11 a parse that the
# garbage collector interrupts with a finalizer formatting a traceback (itself an ast.parse, for the
# carets) ends in "SystemError: AST constructor recursion depth mismatch": the solo modules' run
# failed so after every test had passed (design/0296). Imported here, before any test made garbage.
# Property tests have no per-example deadline: on a loaded 2-core box one example of a pure function
# may take over Hypothesis's 200 ms, and a deadline then fails a test whose property holds.
hypothesis.settings.register_profile("edged", deadline=None)
hypothesis.settings.load_profile("edged")

# support module -> the tier of what it starts
TIERS = {
    "daemon": "daemon", "control": "daemon", "flood": "daemon",
    "cameras": "rtsp", "bad_cameras": "rtsp", "recorders": "rtsp", "rtsp_server": "rtsp",
    "quirk_camera": "rtsp", "profile_g": "rtsp",
    "broker": "broker",
    "browser": "browser",
    "container": "boot",
    "postgres": "postgres",
    "faces": "media", "scenes": "media", "portable": "media",
}
MARKERS = {
    "daemon": "starts a real edged daemon",
    "rtsp": "starts a real RTSP server (gst-rtsp-server or VLC) or the scriptable quirk camera",
    "broker": "starts a real mosquitto",
    "browser": "drives a real Chromium",
    "boot": "boots a Debian container under a real systemd",
    "postgres": "starts a real PostgreSQL",
    "media": ("runs the face detector, re-encodes video (a redacted copy) or encodes and decodes the motion scenes "
              "(ffmpeg, 40 s clips): seconds to minutes a module"),
    "slow": ("no real part, but seconds a test: data built at the scale a bound is held at (a month four times the "
             "size, a listing flood) or a capture replayed in real time to libavformat; outside the pure tier's minute "
             "(design/0289); a test marks itself"),
    "process": ("no server, but a program started for the test: ffmpeg makes its clip, or the checker, edgectl or a "
                "fresh Python runs in a process of its own as a court, a person or a box would (what an import loads); "
                "a second or more of CPU a module, outside the pure tier's minute (design/0473); a test marks itself"),
    "pure": "none of the above: no server, daemon, browser or container of its own, nothing built at scale",
    "solo": ("measures time, descriptors or CPU under load, or boots a container: run after the others, apart from "
             "them (scripts/test; SOLO_PAIRED with SOLO_LIGHT side by side, SOLO_IDLE side by side, the rest one at a time)"),
    "validator": "ONVIF's media-signing-framework validator, installed by the tester ($EDGED_MSF_PREFIX): runs only with -m validator",
    "package": "builds the .deb packages (scripts/package) and installs, upgrades, downgrades and purges them in a "
               "booted Debian 12 and Debian 13 container: runs only with -m package",
}
ASKED_ONLY = ("validator", "package")  # tiers that build outside tools: skipped unless the -m expression names them
SELF_MARKED = ("slow", "process")  # tiers no tests/support module implies: the test marks itself
# (test_evidence_import_eight, the intake's full check, left the solo tier: its counts held at a load of 42-55
# beside other developers' runs, and alone it was two to three minutes of one tier's wall: design/0471)
SOLO = {"test_boot", "test_systemd", "test_systemd_install", "test_package", "test_insider_flood", "test_viewer_flood", "test_viewer_tls_flood",
        "test_recovery_writer",
        "test_failover_guide",   # three daemons and a broker in namespaces of their own (its "timeout" beside two
        # other workers was its socket path, too long under an xdist worker's folder: design/0278)
        # a copy made at the idle scheduling class (SCHED_IDLE) runs only on a core nothing else wants: on a box
        # the parallel run fills, one waited past 600 s in CI (105 s in another run, 31 s alone), and beside the
        # paired modules' container boot and pip one ran past 9 minutes: these run one at a time
        "test_desk_redaction", "test_desk_redaction_marks", "test_desk_redaction_release"}
# The solo modules that measure nothing: they are solo for a place of their own (a container under its own systemd;
# the guide's fixed ports and pgrep in namespaces) and a box not full of the parallel run's daemons, and mostly wait
# (on pip, a boot, a takeover), so scripts/test runs these side by side, each alone on its xdist worker, before
# the others, which measure time, descriptors or CPU under a flood, or make idle-priority copies, and run one at a
# time (design/0278).
SOLO_PAIRED = {"test_boot", "test_failover_guide", "test_systemd_install"}
# The solo modules whose copies are made at the idle scheduling class: alone for a box the parallel run does not
# fill, but side by side with each other, their copies at the same idle class and their daemons and Chromium
# mostly waiting on them (scripts/test runs them after the pair, each on its own worker: design/0415).
SOLO_IDLE = {"test_desk_redaction", "test_desk_redaction_marks", "test_desk_redaction_release"}
# The solo modules whose floods each judge their own daemon's answers, descriptors and pings, not the box's CPU (the
# viewer's login and connection flood, the half-open TLS flood, the watchdog's pings: 13 s of CPU in about a minute
# together; the insider flood, 20 s of it in about 45 s): scripts/test runs them beside the pair, each on a worker
# of its own; the catalog writer's waits still run one at a time (design/0494, 0522).
SOLO_LIGHT = {"test_systemd", "test_viewer_flood", "test_viewer_tls_flood", "test_insider_flood"}
# a module whose every test marks itself a tier (`pytestmark = pytest.mark.process`): none of it is pure
_SELF_TIERED = re.compile(rf"^pytestmark = pytest\.mark\.(?:{'|'.join(SELF_MARKED)})\b", re.M)
_IMPORT = re.compile(r"^\s*from tests\.support(?:\.(\w+))? import ([\w, ()]+)", re.M)

_cache: dict[Path, frozenset[str]] = {}


def support_of(path: Path) -> frozenset[str]:
    """The tests/support modules a test module imports."""
    if path not in _cache:
        found = set()
        for mod, names in _IMPORT.findall(path.read_text(encoding="utf-8")):
            found.update([mod] if mod else re.findall(r"\w+", names))
        _cache[path] = frozenset(found)
    return _cache[path]


def tiers_of(path: Path) -> frozenset[str]:
    return frozenset(TIERS[name] for name in support_of(path) if name in TIERS)


def pytest_ignore_collect(collection_path: Path, config: pytest.Config) -> bool | None:
    """`-m pure` imports no module none of whose tests can be pure (it starts a real part, read
    off its imports as below, is solo, or marks all its tests slow or process): importing and rewriting the asserts of those was a third
    of the tier's time on a first run. A module that marks a test pure itself is imported."""
    if str(config.getoption("markexpr", "") or "").strip() != "pure":
        return None
    path = collection_path
    if path.suffix != ".py" or not path.name.startswith("test_"):
        return None
    source = path.read_text(encoding="utf-8")
    if (tiers_of(path) or path.stem in SOLO or _SELF_TIERED.search(source)) and "mark.pure" not in source:
        return True
    return None


# Modules whose parametrized tests are each a group of their own, with each one's seconds: five
# site walks of a minute or more in one group were five minutes on one worker. A module whose
# parametrized tests share a module fixture (tests/test_desk_words.py's five sites, opened at once
# so that their grants expire while the others are walked) is not split: each worker would open
# it again (design/0200).
SPLIT = {"test_desk_sites"}   # issue 56: five sites, every role


def group_of(path: Path, param: str | None = None) -> str:
    """The xdist group: the module, or in a SPLIT module the test's parameters."""
    return f"{path.stem}[{param}]" if param is not None and path.stem in SPLIT else path.stem


def group_of_id(nodeid: str) -> str:
    """group_of() read off a test's id ("tests/test_x.py::test_y[000]"), as xdist's scheduler sees it
    (an "@group" suffix, which a pytest-xdist that works with pytest 9.2 would add, is dropped)."""
    at = nodeid.rfind("@")
    if at > nodeid.find("::") > 0 and _group_of_id(nodeid[:at]) == nodeid[at + 1:]:
        return nodeid[at + 1:]
    return _group_of_id(nodeid)


def _group_of_id(nodeid: str) -> str:
    path, _, name = nodeid.partition("::")
    param = name[name.index("[") + 1:-1] if name.endswith("]") and "[" in name else None
    return group_of(Path(path), param)


def _param(item: pytest.Item) -> str | None:
    spec = getattr(item, "callspec", None)
    return None if spec is None else str(spec.id)


def pytest_addoption(parser: pytest.Parser) -> None:
    timing.pytest_addoption(parser)


def pytest_sessionfinish(session: pytest.Session) -> None:
    """The process's one Chromium (tests/support/browser.py launch), if a test started it."""
    browser = sys.modules.get("tests.support.browser")
    if browser is not None:
        browser.shutdown()


def pytest_configure(config: pytest.Config) -> None:
    timing.pytest_configure(config)
    from storage.process.threadname import name_os_thread
    name_os_thread("pytest")  # the test processes' own CPU apart from the programs they start (tests/support/acct.py)
    from tests.support import fresh_catalog  # a new catalog is a copy of one migrated once a process
    fresh_catalog.install()
    for name, text in MARKERS.items():
        config.addinivalue_line("markers", f"{name}: {text}")
    config.addinivalue_line("markers", f"{engines.MARK}: an office store's test of tests/test_central_*.py run on SQLite "
                            "where it stands and on PostgreSQL by tests/test_central_postgres.py (design/0361)")
    if hasattr(config.option, "loadscopereorder"):  # xdist: keep the order run_order() gives
        config.option.loadscopereorder = False


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    """`--dist loadgroup` by group_of(): xdist's own loadgroup (pytest-xdist 3.8) puts a test's
    xdist_group into its id through an attribute that pytest 9.2 no longer reads, so it handed out
    every test alone: a module's tests went to every worker, each setting up the module's fixtures
    again (test_desk_words' five sites, a camera server), and the order within a module was not
    kept. This is xdist's scheduler by scope, the scope read off the test's id by group_of_id
    (design/0278). None (xdist's own) for any other --dist."""
    if config.getvalue("dist") != "loadgroup":
        return None
    from xdist.scheduler import LoadScopeScheduling

    class ByGroup(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            return group_of_id(nodeid)

    return ByGroup(config, log)


def pytest_collectstart(collector: pytest.Collector) -> None:
    """What collection makes (the modules imported, their tests, fixtures and marks) lives until
    the end: put out of the garbage collector's sight (gc.freeze) as it is made, before each
    module is imported and once all are, a full collection walks only what was made since, not
    every module again (2 s of the pure tier's CPU went to that while collecting). Still freed by
    reference counts; the tests' own objects are collected as before (design/0266)."""
    gc.freeze()


def pytest_collection_finish(session: pytest.Session) -> None:
    gc.freeze()


def run_order(paths: list[Path], params: dict[Path, list[str]] | None = None,
              seconds: dict[str, dict[str, float]] | None = None) -> list[str]:
    """The xdist groups of these test modules (`params`: a SPLIT module's tests' parameters), in
    the order they are handed out: by the wall time the last full runs recorded for each
    (tests/durations.json, `seconds`), the longest first; a group never recorded counts as the
    middle one of its kind; the groups that start real parts before the pure ones; ties as collected."""
    recorded = timing.load() if seconds is None else seconds
    first: dict[str, int] = {}
    real: dict[str, bool] = {}
    for path in paths:
        split = (params or {}).get(path, []) if path.stem in SPLIT else []
        for group in [group_of(path, p) for p in split] or [group_of(path)]:
            first.setdefault(group, len(first))
            real[group] = real.get(group, False) or bool(tiers_of(path))

    walls = sorted(float(recorded[g]["wall"]) for g in first if g in recorded and real[g])
    typical = walls[len(walls) // 2] if walls else 60.0

    def weight(group: str) -> float:
        known = recorded.get(group)
        # never recorded (a new module): as long as the middle one of its kind, until its first run says
        return float(known["wall"]) if known else (typical if real[group] else 0.0)

    return sorted(first, key=lambda g: (not real[g], -weight(g), first[g]))


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    asked = str(config.getoption("markexpr", "") or "")
    tiered = {*TIERS.values(), *ASKED_ONLY, *SELF_MARKED}
    group: dict[int, str] = {}  # each item's, found once: every process collects the whole suite (design/0516)
    for item in items:
        path = item.path
        tiers = tiers_of(path)
        marked = {m.name for m in item.iter_markers()}
        for tier in tiers:
            item.add_marker(tier)
        for name in ASKED_ONLY:
            if name in marked and name not in asked:
                item.add_marker(pytest.mark.skip(reason=f"the {name} tier runs only when asked: -m {name}"))
        if not tiers and path.stem not in SOLO and not marked & tiered:
            item.add_marker("pure")
        if path.stem in SOLO:
            item.add_marker("solo")
        group[id(item)] = group_of(path, _param(item))
        item.add_marker(pytest.mark.xdist_group(group[id(item)]))
    shorter = at_length_twins(items)
    if shorter:  # a run that draws a property's full count does not draw its quarter too (design/0473)
        config.hook.pytest_deselected(items=shorter)
        gone = {id(item) for item in shorter}
        items[:] = [item for item in items if id(item) not in gone]
    paths = list(dict.fromkeys(item.path for item in items))
    params: dict[Path, list[str]] = {}
    for item in items:
        if (p := _param(item)) is not None and item.path.stem in SPLIT:
            params.setdefault(item.path, []).append(p)
    rank = {g: n for n, g in enumerate(run_order(paths, params))}
    items.sort(key=lambda item: rank[group[id(item)]])  # stable: a group keeps its order


def at_length_twins(items: list[pytest.Item]) -> list[pytest.Item]:
    """The quarter-length copies of the properties whose full count (`<name>_at_length`, a slow test of the
    same module: tests/support/properties.py) is in the same run: the pure tier alone runs the quarter."""
    full = {(item.fspath, item.name[: -len("_at_length")]) for item in items if item.name.endswith("_at_length")}
    return [item for item in items if (item.fspath, item.name) in full]


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    """A failed test's report carries the tails of the logs of the parts it started (tests/support/logs.py)."""
    outcome = yield
    report = outcome.get_result()
    if report.failed:
        for title, tail in logs.tails():
            report.sections.append((title, tail))


def pytest_runtest_teardown(item: pytest.Item, nextitem: pytest.Item | None) -> None:
    """The logs are forgotten with the module that started them (a module's daemon serves all its tests)."""
    if nextitem is None or nextitem.path != item.path:
        logs.STARTED.clear()
