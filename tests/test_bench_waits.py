"""bench/central_ingest's waits on its bare subscriber (issue 43, item 8): with PYTHONUNBUFFERED=1
its "subscribed" line came split by another thread's line and the benchmark waited for ever.
Every wait now has a deadline and ends at EOF."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest

from bench.common import Lines


def child(code: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True,
                            env={**os.environ, "PYTHONUNBUFFERED": "1"})


def test_a_line_split_by_another_threads_output_is_still_found():
    p = child("import sys; sys.stdout.write('subscri'); sys.stdout.write('0 0\\n'); print('bed'); "
              "print('subscribed 12 3'); import time; time.sleep(30)")
    try:
        Lines(p.stdout, "child").wait_for("subscribed", time.monotonic() + 20)
    finally:
        p.kill()
        p.wait()


def test_a_child_that_exits_ends_the_wait():
    p = child("print('0 0')")
    out = Lines(p.stdout, "child")
    t = time.monotonic()
    with pytest.raises(EOFError, match="child: its output ended"):
        out.wait_for("subscribed", time.monotonic() + 60)
    with pytest.raises(EOFError):
        out.next(time.monotonic() + 60)
    assert time.monotonic() - t < 30
    p.wait()


def test_a_silent_child_ends_the_wait_at_the_deadline():
    p = child("import time; time.sleep(60)")
    try:
        t = time.monotonic()
        with pytest.raises(TimeoutError, match="no line before the deadline"):
            Lines(p.stdout, "child").wait_for("subscribed", time.monotonic() + 0.5)
        assert 0.4 < time.monotonic() - t < 10
    finally:
        p.kill()
        p.wait()
