"""A recorder worker's address space is bounded (recorder/worker.py MemoryLimit, design/0063):
a runaway allocation fails in that worker instead of taking the box's memory."""

from __future__ import annotations

import subprocess
import sys

import pytest

from edged.config import ConfigError, parse_config

PROBE = """
import resource
from recorder.worker import MemoryLimit
limit = MemoryLimit(256, 64)
limit.fit(2)
print(resource.getrlimit(resource.RLIMIT_AS)[0] >> 20)
limit.fit(1)  # fewer cameras never lowers it
print(resource.getrlimit(resource.RLIMIT_AS)[0] >> 20)
try:
    big = bytearray(1 << 30)
    print("allocated")
except MemoryError:
    print("refused")
"""


@pytest.mark.process
def test_a_worker_cannot_allocate_past_its_limit():
    out = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, timeout=120, check=True)
    assert out.stdout.split() == ["384", "384", "refused"]


@pytest.mark.process
def test_no_limit_when_both_shares_are_zero():
    probe = ("import resource\nfrom recorder.worker import MemoryLimit\nMemoryLimit(0, 0).fit(3)\n"
             "print(resource.getrlimit(resource.RLIMIT_AS)[0] == resource.RLIM_INFINITY)")
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120, check=True)
    assert out.stdout.strip() == "True"


@pytest.mark.parametrize("recorder, field, expected", [
    ({}, None, (1024, 256)),
    ({"worker_memory_mb": 0, "camera_memory_mb": 0}, None, (0, 0)),
    ({"worker_memory_mb": 2048, "camera_memory_mb": 512}, None, (2048, 512)),
    ({"worker_memory_mb": 100}, "recorder.worker_memory_mb", None),
    ({"camera_memory_mb": "lots"}, "recorder.camera_memory_mb", None),
])
def test_the_memory_shares_are_checked_at_load(tmp_path, recorder, field, expected):
    data = {"site": {"id": "s"}, "storage": {"data_dir": str(tmp_path)}, "recorder": recorder}
    if field is not None:
        with pytest.raises(ConfigError) as info:
            parse_config(data)
        assert info.value.field == field
        return
    r = parse_config(data).recorder
    assert (r.worker_memory_mb, r.camera_memory_mb) == expected
