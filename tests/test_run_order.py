"""How scripts/test hands the modules to its xdist workers (tests/conftest.py): the longest
first, so no worker ends the run alone on a two-minute module; every module its own group."""

from __future__ import annotations

import ast
import os
from pathlib import Path

from tests.conftest import SOLO, SOLO_IDLE, SOLO_LIGHT, SOLO_PAIRED, SPLIT, group_of, group_of_id, run_order
from tests.support import ctlfork, timing
from tests.support.sources import text, tree
from tests.support.workers import BUSY, IDLE, idle_share, workers

TESTS = Path(__file__).parent


def test_the_groups_go_out_by_their_recorded_seconds_the_unrecorded_real_ones_first_the_pure_last(tmp_path):
    bodies = {"test_a": "def test_x():\n    pass\n",
              "test_inspections": "from tests.support.daemon import Daemon\n",
              "test_b": "from tests.support.cameras import RtspServer\n",
              "test_c": "import json\n",
              "test_health_daemon": "from tests.support.daemon import Daemon\n",
              "test_new": "from tests.support.broker import Broker\n"}
    paths = []
    for name, body in bodies.items():
        (tmp_path / f"{name}.py").write_text(body)
        paths.append(tmp_path / f"{name}.py")
    seconds = {"test_health_daemon": {"wall": 108.0}, "test_inspections": {"wall": 50.0}, "test_b": {"wall": 3.0},
               "test_c": {"wall": 2.0}, "test_a": {"wall": 0.5}}
    # a real part's group never recorded counts as the middle one recorded of its kind (50 s: after the ties'
    # first), then by seconds; the pure ones last, by their seconds too
    assert run_order(paths, seconds=seconds) == ["test_health_daemon", "test_inspections", "test_new", "test_b",
                                                 "test_c", "test_a"]
    # with nothing recorded: the real parts' groups, then the pure, each as collected
    assert run_order(paths, seconds={}) == ["test_inspections", "test_b", "test_health_daemon", "test_new",
                                           "test_a", "test_c"]


def test_a_full_run_replaces_its_groups_seconds_and_keeps_the_others():
    old = {"test_a": {"wall": 10.0, "cpu": 3.0, "tests": 2}, "test_b": {"wall": 5.0, "cpu": 1.0, "tests": 1}}
    out = timing.merged(old, {"test_a": {"wall": 12.34, "cpu": 4.56, "own": 1.23, "tests": 3.0}})
    assert out["groups"] == {"test_a": {"wall": 12.3, "cpu": 4.6, "own": 1.2, "tests": 3}, "test_b": old["test_b"]}
    assert timing.tier_of({"daemon": 1, "rtsp": 1}) == "daemon" and timing.tier_of({"solo": 1, "boot": 1}) == "solo"
    assert timing.tier_of({}) == "pure"


def test_the_recorded_groups_name_real_modules():
    """tests/durations.json is read by run_order: a group whose module is gone is dropped by the next full run,
    but its file must at least parse and carry numbers."""
    recorded = timing.load()
    assert recorded, "tests/durations.json is missing or unreadable"
    assert all(isinstance(g["wall"], (int, float)) and g["wall"] >= 0 for g in recorded.values())


def test_every_module_is_its_own_group_and_the_lists_name_real_modules():
    assert group_of(TESTS / "test_viewer.py") == "test_viewer"  # OS accounts take turns by a lock, not a group
    missing = [m for m in SOLO if not (TESTS / f"{m}.py").exists()]
    assert missing == [], f"tests/conftest.py names modules that are gone: {missing}"
    # the solo modules run side by side are solo ones (scripts/test runs the rest of SOLO one at a time), and none
    # of them measures a flood, which needs the box to itself (design/0278)
    assert SOLO_PAIRED < SOLO and not any("flood" in m for m in SOLO_PAIRED), SOLO_PAIRED
    # the idle-priority copies side by side are solo ones, and none is also in the pair (design/0415)
    assert SOLO_IDLE < SOLO and not SOLO_IDLE & SOLO_PAIRED and all("redaction" in m for m in SOLO_IDLE), SOLO_IDLE
    # the floods beside the pair are solo ones in neither list; the catalog writer's waits, which judge the box, are
    # not one of them (design/0494, 0522)
    assert SOLO_LIGHT < SOLO and not SOLO_LIGHT & (SOLO_PAIRED | SOLO_IDLE) and "test_recovery_writer" not in SOLO_LIGHT


def test_a_split_modules_parametrized_tests_are_groups_of_their_own_handed_out_by_their_seconds(tmp_path):
    walks = tmp_path / "test_desk_sites.py"
    walks.write_text("from tests.support.daemon import Daemon\n")
    other = tmp_path / "test_b.py"
    other.write_text("from tests.support.cameras import RtspServer\n")
    assert group_of(walks, "000") == "test_desk_sites[000]" and group_of(other, "x") == "test_b"
    order = run_order([other, walks], {walks: ["000", "001"]},
                      seconds={"test_desk_sites[000]": {"wall": 70.0}, "test_desk_sites[001]": {"wall": 80.0},
                               "test_b": {"wall": 20.0}})
    assert order == ["test_desk_sites[001]", "test_desk_sites[000]", "test_b"] and "test_desk_sites" in SPLIT


def test_the_scheduler_reads_each_tests_group_off_its_id():
    """scripts/test's xdist scheduler (tests/conftest.py pytest_xdist_make_scheduler) groups by
    group_of_id: xdist's own loadgroup lost the groups under pytest 9.2 and ran a module's tests
    on every worker, each setting up the module's fixtures again (design/0278)."""
    assert group_of_id("tests/test_viewer.py::test_live_view_plays") == "test_viewer"
    assert group_of_id("tests/test_desk_words.py::test_every_page[002]") == "test_desk_words"   # not split
    assert group_of_id("tests/test_desk_sites.py::test_a_request[002]") == "test_desk_sites[002]"
    assert group_of_id("tests/test_desk_sites.py::test_a_request[002]@test_desk_sites[002]") == "test_desk_sites[002]"
    assert group_of_id("tests/test_viewer.py::test_x[a@b]") == "test_viewer"   # an @ in a parameter is not a group
    assert group_of_id("tests/test_viewer.py::Test::test_x") == "test_viewer"


def test_a_busy_box_gets_the_count_proven_on_one():
    """scripts/test's parallel count (design/0289): four on a free box, three on a busy one."""
    assert workers(1.0) == workers(0.95) == IDLE == 5
    assert workers(0.5) == workers(0.89) == BUSY == 3   # stress-ng --cpu 1 on two cores: about 0.5
    assert 0.0 <= idle_share(0.05) <= 1.0


def test_the_run_sums_each_programs_cpu_from_the_kernels_records():
    """tests/support/acct.py reads struct acct_v3 as the kernel writes it: a recorder worker's camera
    thread, the last of its threads to end, is counted as the worker; comp_t's exponent is read."""
    from tests.support import acct

    def record(name: bytes, utime: int, stime: int, pid: int) -> bytes:
        return acct.RECORD.pack(0, 3, 0, 0, 0, 0, pid, 1, 0, 0.0, utime, stime, 0, 0, 0, 0, 0, 0, name)

    assert acct.comp_t((1 << 13) | 5) == 40
    data = record(b"edged-recorder", 30, 10, 7) + record(b"cam-door", 10, 0, 8) + record(b"ffmpeg", 150, 50, 9)
    data += acct.RECORD.pack(0, 2, *([0] * 16), b"old")  # another version: skipped
    rows = acct.records(data)
    assert rows == [("edged-recorder", 0.4, 7), ("edged-recorder", 0.1, 8), ("ffmpeg", 2.0, 9)]
    lines = acct.table(rows)
    assert "3 processes ended, 2 s of CPU" in lines[0]
    assert lines[2].split()[1:] == ["2.0", "80.0%", "1", "2.00", "ffmpeg"]
    assert lines[3].split()[1:] == ["0.5", "20.0%", "2", "0.25", "edged-recorder"]


def _is_os(node: ast.AST, attr: str) -> bool:
    """`node` is `os.<attr>`."""
    return isinstance(node, ast.Attribute) and node.attr == attr and isinstance(node.value, ast.Name) \
        and node.value.id == "os"


def _read_at_import(parsed: ast.Module) -> set[str]:
    """The EDGED_ variables a module reads of its environment as it is imported: an `os.environ.get(...)`,
    `os.getenv(...)` or `os.environ[...]` outside every function and lambda."""
    found: set[str] = set()

    def visit(node: ast.AST) -> None:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
            return
        key = None
        if isinstance(node, ast.Call) and node.args and isinstance(f := node.func, ast.Attribute) and (
                (f.attr == "get" and _is_os(f.value, "environ")) or _is_os(f, "getenv")):
            key = node.args[0]
        elif isinstance(node, ast.Subscript) and _is_os(node.value, "environ"):
            key = node.slice
        if isinstance(key, ast.Constant) and isinstance(key.value, str) and key.value.startswith("EDGED_"):
            found.add(key.value)
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(parsed)
    return found


def test_a_daemon_is_forked_warm_only_when_what_its_modules_read_at_import_is_the_zygotes():
    """tests/support/ctlfork.py forks a test's daemon from a zygote that imported edged without the test's EDGED_
    variables; a variable a module reads into a constant at its import must send that daemon to a process of its
    own, or the daemon would run on the zygote's value, not the test's."""
    read = set()
    for package in ("edged", "storage", "recorder", "central", "mqtt"):
        for path in sorted((TESTS.parent / package).rglob("*.py")):
            if "EDGED_" in text(path):  # a file that names none reads none (most of them: not parsed)
                read |= _read_at_import(tree(path))
    assert read == set(ctlfork.READ_AT_IMPORT)
    probe = ast.parse('import os\nA = os.environ.get("EDGED_A")\nB = os.environ["EDGED_B"]\n'
                      'def f():\n    return os.getenv("EDGED_C")\n')
    assert _read_at_import(probe) == {"EDGED_A", "EDGED_B"}  # the check sees a read at import, not one in a function


def test_the_zygote_is_started_in_the_test_process_s_own_environment_not_a_test_s(monkeypatch):
    """The first test of a worker to start a daemon starts its zygote: under a test's clock shim (LD_PRELOAD), a
    locale or an EDGED_ variable of its own, every later daemon of the worker would differ from it and start cold
    (design/0527). The zygote is started in the environment the process had as it started, the rest kept."""
    monkeypatch.setenv("LD_PRELOAD", "/nowhere/clockshim.so")
    monkeypatch.setenv("EDGED_TEST_CLOCK_OFFSET", "/nowhere/offset")
    monkeypatch.setenv("LC_ALL", "C.Big5")
    monkeypatch.setenv("SOMETHING_ELSE", "kept")
    env = ctlfork.zygote_env(os.environ)
    assert not any(k.startswith("EDGED_") for k in env) and env["SOMETHING_ELSE"] == "kept"
    assert {k: v for k, v in env.items() if k.startswith(("LD_", "LC_", "LANG", "PYTHON"))} == \
        {k: v for k, v in ctlfork._START_ENV.items() if k.startswith(("LD_", "LC_", "LANG", "PYTHON"))}
    assert env.get("LD_PRELOAD") != "/nowhere/clockshim.so" and env.get("LC_ALL") != "C.Big5"
