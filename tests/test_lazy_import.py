"""numpy on first use in the recorder worker (design/0025's addendum): not imported by the
worker's start, and imported once, whole, when several threads reach for it at the same time
(3.11's LazyLoader alone hands a half-imported module to all but one of them)."""

from __future__ import annotations

import subprocess
import sys

from tests.support.daemon import ROOT

PROBE = """
import sys, threading
import recorder.worker, edged.config
from types import ModuleType
np = sys.modules["numpy"]
assert type(np) is not ModuleType and "numpy.core" not in sys.modules and "numpy._core" not in sys.modules, \\
    "numpy was imported by the worker's or the config's imports"
errors, go = [], threading.Barrier(16)
def use():
    go.wait()
    try:
        assert float(np.zeros(4, dtype=np.float32).sum()) == 0.0
    except Exception as exc:
        errors.append(repr(exc))
threads = [threading.Thread(target=use) for _ in range(16)]
[t.start() for t in threads]
[t.join() for t in threads]
import numpy
assert numpy is np and type(np) is ModuleType, type(np)
print("errors:", errors)
"""


def test_numpy_is_imported_on_first_use_and_whole_for_every_thread():
    for _ in range(3):  # a race shows in most runs without the lock; three to be sure it does not
        r = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, cwd=ROOT, timeout=60)
        assert r.returncode == 0, r.stderr
        assert r.stdout.strip() == "errors: []", r.stdout
