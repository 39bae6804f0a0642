"""The benchmarks' environment line says when the box is a guest that gives its free memory back
to its host, and when that is held for a run (design/0304): the figures at 96 cameras depend on it."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.common import memory_return

BUDDYINFO = "Node 0, zone    DMA32     31     62     75     82     78     80     68     56     47     31    710\n"


@pytest.fixture
def roots(tmp_path):
    sys_root, proc_root = tmp_path / "sys", tmp_path / "proc"
    put(proc_root, "buddyinfo", BUDDYINFO)
    return sys_root, proc_root


def put(root: Path, rel: str, text: str) -> None:
    (root / rel).parent.mkdir(parents=True, exist_ok=True)
    (root / rel).write_text(text)


def reporting(sys_root: Path, order: int) -> None:
    put(sys_root, "module/page_reporting/parameters/page_reporting_order", f"{order}\n")
    put(sys_root, "module/page_reporting/parameters/reported_kib", f"{175 * 2**20}\n")


def damon(sys_root: Path, state: str) -> None:
    put(sys_root, "kernel/mm/damon/admin/kdamonds/nr_kdamonds", "1\n")
    put(sys_root, "kernel/mm/damon/admin/kdamonds/0/state", f"{state}\n")


def test_a_box_that_keeps_its_memory_says_nothing(roots):
    assert memory_return(*roots) == ""


def test_free_page_reporting_and_a_running_damon_are_named(roots):
    reporting(roots[0], 9)
    damon(roots[0], "on")
    assert memory_return(*roots) == ("; the guest returns free memory to its host: free page reporting "
                                     "(order 9, 175 GB given back since boot), DAMON on")


def test_reporting_above_the_largest_block_and_a_stopped_damon_are_memory_kept(roots):
    reporting(roots[0], 11)
    damon(roots[0], "off")
    assert memory_return(*roots) == ("; the guest keeps its free memory: free page reporting held (order 11, "
                                     "above the largest free block's 10; 175 GB given back since boot), DAMON off")


def test_damon_alone_gives_memory_back(roots):
    reporting(roots[0], 11)
    damon(roots[0], "on")
    assert memory_return(*roots).startswith("; the guest returns free memory to its host: DAMON on, free page "
                                            "reporting held")
