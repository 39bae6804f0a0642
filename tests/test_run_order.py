"""How scripts/test hands the modules to its xdist workers (tests/conftest.py): the longest
first, so no worker ends the run alone on a two-minute module; every module its own group."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import LONGEST, SOLO, SOLO_PAIRED, SPLIT, group_of, group_of_id, run_order
from tests.support.workers import BUSY, IDLE, idle_share, workers

TESTS = Path(__file__).parent


def test_the_longest_modules_go_first_then_those_with_real_parts_then_the_pure(tmp_path):
    bodies = {"test_a": "def test_x():\n    pass\n",
              "test_inspections": "from tests.support.daemon import Daemon\n",
              "test_b": "from tests.support.cameras import RtspServer\n",
              "test_c": "import json\n",
              "test_health_daemon": "from tests.support.daemon import Daemon\n"}
    paths = []
    for name, body in bodies.items():
        (tmp_path / f"{name}.py").write_text(body)
        paths.append(tmp_path / f"{name}.py")
    assert LONGEST["test_health_daemon"] > LONGEST["test_inspections"]
    # the longest by their seconds, then the real parts' modules, then the pure, each as collected
    assert run_order(paths) == ["test_health_daemon", "test_inspections", "test_b", "test_a", "test_c"]


def test_every_module_is_its_own_group_and_the_lists_name_real_modules():
    assert group_of(TESTS / "test_viewer.py") == "test_viewer"  # OS accounts take turns by a lock, not a group
    missing = [m for m in [*LONGEST, *SOLO] if not (TESTS / f"{m}.py").exists()]
    assert missing == [], f"tests/conftest.py names modules that are gone: {missing}"
    # the solo modules run side by side are solo ones (scripts/test runs the rest of SOLO one at a time), and none
    # of them measures a flood, which needs the box to itself (design/0278)
    assert SOLO_PAIRED < SOLO and not any("flood" in m for m in SOLO_PAIRED), SOLO_PAIRED


def test_a_split_modules_parametrized_tests_are_groups_of_their_own_handed_out_by_their_seconds(tmp_path):
    walks = tmp_path / "test_desk_sites.py"
    walks.write_text("from tests.support.daemon import Daemon\n")
    other = tmp_path / "test_b.py"
    other.write_text("from tests.support.cameras import RtspServer\n")
    assert group_of(walks, "000") == "test_desk_sites[000]" and group_of(other, "x") == "test_b"
    order = run_order([other, walks], {walks: ["000", "001"]})
    assert order == ["test_desk_sites[000]", "test_desk_sites[001]", "test_b"] and SPLIT["test_desk_sites"] > 0


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
    assert workers(1.0) == workers(0.95) == IDLE == 4
    assert workers(0.5) == workers(0.89) == BUSY == 3   # stress-ng --cpu 1 on two cores: about 0.5
    assert 0.0 <= idle_share(0.05) <= 1.0
