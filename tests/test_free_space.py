"""storage/disk/free_space.py: the data disk's free space has one reader, off the event loop (design/0069)."""

from __future__ import annotations

import asyncio
import shutil
import threading
from types import SimpleNamespace

from edged.config import default_config
from edged.daemon.retention_runner import SpaceCheck
from storage.time.clock import FakeClock
from storage.disk.free_space import FreeSpace


def counting(free: int, total: int = 100):
    calls: list[str] = []

    def usage(_path):
        calls.append(threading.current_thread().name)
        return SimpleNamespace(total=total, used=total - free, free=free)
    return usage, calls


def test_a_reading_is_kept_for_its_age_and_then_read_again(tmp_path):
    clock = FakeClock()
    usage, calls = counting(40)
    free = FreeSpace(tmp_path, clock, max_age_s=1.0, usage=usage)
    assert free.last() is None and free.fresh() is None
    assert free.recent().free == 40 and free.recent().free == 40 and len(calls) == 1
    clock.advance(s=1.5)
    assert free.fresh() is None and free.last().free == 40  # old, but still the last one known
    free.recent()
    assert len(calls) == 2
    free.read()  # a fresh reading whatever the age (the retention pass, before and after)
    assert len(calls) == 3


async def test_from_the_event_loop_the_disk_is_read_in_a_thread(tmp_path):
    usage, calls = counting(40)
    free = FreeSpace(tmp_path, FakeClock(), usage=usage)
    assert (await free.get()).free == 40 and (await free.get()).free == 40
    assert len(calls) == 1 and calls[0] != threading.current_thread().name


def test_the_real_disk(tmp_path):
    free = FreeSpace(tmp_path)
    assert free.read().total == shutil.disk_usage(tmp_path).total


async def test_a_segment_opening_on_a_short_disk_asks_for_a_pass_without_reading_on_the_loop(tmp_path):
    cfg = default_config(tmp_path)
    usage, calls = counting(free=0, total=10**12)  # nothing free: below any reserve
    check = SpaceCheck(cfg, FreeSpace(tmp_path, FakeClock(), usage=usage))
    check()  # on the loop: schedules the reading
    assert not check.short.is_set()
    await asyncio.wait_for(check.short.wait(), 10)
    assert calls and calls[0] != threading.current_thread().name
    check.short.clear()
    check()  # a fresh reading is judged at once
    assert check.short.is_set() and len(calls) == 1
