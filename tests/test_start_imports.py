"""What the daemon and a recorder worker import at start (design/0286): the daemon's rare work
(redaction's media, a standby's HTTPS, MQTT when it is on, the viewer, the face detector,
ONVIF) and a worker's unneeded asyncio and catalog code load when used, not at every start; a worker
imports PyAV in its main, before its settings (the pool's spare once given them, design/0291). A
top-level import that undoes this fails here. The daemon's running process is checked in tests/test_daemon_imports.py."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.process  # each test reads what a fresh Python loads (design/0473)

ROOT = Path(__file__).resolve().parent.parent

# A module "loaded" is one really imported: a module registered by storage/lazy.py for its first
# use is in sys.modules before that, as an instance of its own class, with no submodule loaded.
PROBE = """
import json, sys, types
for name in sys.argv[1:]:
    __import__(name)
def loaded(name):
    m = sys.modules.get(name)
    return m is not None and (type(m) is types.ModuleType or any(k.startswith(name + ".") for k in sys.modules))
tops = sorted({k.split(".")[0] for k in sys.modules})
print(json.dumps({k: loaded(k) for k in tops}))
"""

# Loaded only by the work that needs them, never by the daemon's start.
DAEMON_RARE = ("av", "aiohttp", "yarl", "multidict", "aiortc", "paho", "dns", "idna", "onnxruntime", "onvif", "zeep",
               "httpx", "PIL", "babel")
# What a worker records without: the event loop (and the ssl it imports), the catalog, the web.
WORKER_NOT = ("asyncio", "ssl", "sqlite3", "sqlite_utils", "cryptography", "aiohttp", "numpy", "paho")


def imported(*modules: str) -> dict[str, bool]:
    out = subprocess.run([sys.executable, "-c", PROBE, *modules], cwd=ROOT, capture_output=True, text=True,
                         timeout=120, check=True).stdout
    return dict(json.loads(out))


def test_the_daemon_loads_no_rare_work_at_start():
    """The composition root and everything it wires, as `edged run` imports them."""
    loaded = imported("edged.cli.main", "edged.app")
    assert [m for m in DAEMON_RARE if loaded.get(m)] == []
    assert loaded["sqlite_utils"] and loaded["cryptography"]  # the probe sees what the daemon does load


def test_a_worker_imports_nothing_recording_does_without_and_pyav_only_in_main():
    """PyAV is imported by the worker's main: before its settings, unless it is the pool's spare,
    which imports it once given them (design/0291; tests/test_daemon_imports.py runs both)."""
    loaded = imported("recorder.worker")
    assert not loaded["av"], "a module the worker imports loads PyAV: the pool's spare would hold it (design/0291)"
    assert [m for m in WORKER_NOT if loaded.get(m)] == []
