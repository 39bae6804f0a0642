"""The benchmarks' environment line says when the box is a guest that gives its free memory back
to its host (design/0304): the figures at 96 cameras depend on it."""

from __future__ import annotations

from pathlib import Path

from bench.common import memory_return


def put(root: Path, rel: str, text: str) -> None:
    (root / rel).parent.mkdir(parents=True, exist_ok=True)
    (root / rel).write_text(text)


def test_a_box_that_keeps_its_memory_says_nothing(tmp_path):
    assert memory_return(tmp_path) == ""


def test_free_page_reporting_and_a_running_damon_are_named(tmp_path):
    put(tmp_path, "module/page_reporting/parameters/page_reporting_order", "9\n")
    put(tmp_path, "module/page_reporting/parameters/reported_kib", f"{175 * 2**20}\n")
    put(tmp_path, "kernel/mm/damon/admin/kdamonds/0/state", "on\n")
    put(tmp_path, "kernel/mm/damon/admin/kdamonds/nr_kdamonds", "1\n")
    assert memory_return(tmp_path) == ("; the guest returns free memory to its host: free page reporting "
                                       "(order 9, 175 GB given back since boot), DAMON on")


def test_a_stopped_damon_is_not_named(tmp_path):
    put(tmp_path, "kernel/mm/damon/admin/kdamonds/0/state", "off\n")
    assert memory_return(tmp_path) == ""
