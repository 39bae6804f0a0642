"""`edgectl doctor` and `edgectl retention --estimate` against the real daemon recording a real
RTSP camera (design/0077), then with failures injected: the secrets file opened to others, the
camera gone, the daemon stopped."""

from __future__ import annotations

import json

import pytest

from tests.support.cameras import RtspServer, make_clip
from tests.support.daemon import Daemon, ctl, wait_for, write_config


def doctor(d: Daemon, config) -> tuple[int, dict[str, dict]]:
    out = ctl(d, "doctor", "--json", "--config", str(config))
    assert out.returncode in (0, 1, 2), out.stderr
    return out.returncode, {c["id"]: c for c in json.loads(out.stdout)["checks"]}


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("site")
    clip = make_clip(tmp / "clips", width=320, height=240, fps=20, gop=20, seconds=10)
    server = RtspServer({"gate": clip.spec()}).start()
    secrets = tmp / "secrets.toml"
    secrets.write_text(f'[cameras]\ngate = "{server.url("gate").replace("rtsp://", "rtsp://admin:pw@")}"\n')
    secrets.chmod(0o600)
    data = tmp / "data"
    config = write_config(tmp / "edged.toml", data, [{"id": "gate", "name": "Gate"}], tables={
        "secrets": {"file": str(secrets)},
        "health": {"min_width": 320, "min_height": 240, "min_pixels": 0, "raise_after": "1s", "clear_after": "1s"}})
    d = Daemon(config, data, tmp / "edged.log").start()
    try:
        wait_for(lambda: len(d.segments("gate")) >= 2, 60, "two segments of the gate camera")
        wait_for(lambda: (d.camera("gate") or {}).get("compliance") == "ok", 60, "the floor judged")
        yield d, config, secrets, server
    finally:
        server.close()
        if d.proc and d.proc.poll() is None:
            d.stop()


def test_doctor_on_a_recording_box(site):
    d, config, _secrets, _server = site
    code, checks = doctor(d, config)
    assert checks["secrets"]["status"] == "pass"
    assert checks["camera:gate"]["status"] == "pass", checks["camera:gate"]
    assert checks["space"]["status"] == "pass", checks["space"]
    assert checks["inspections"]["status"] == "pass"
    # no broker in this config: said, with what to set
    assert checks["broker"]["status"] == "warn" and "[mqtt]" in checks["broker"]["fix"]
    assert checks["audit"]["status"] == "warn" and checks["audit"]["fix"] == "edgectl audit report"
    assert checks["enrolment"]["status"] == "warn" and "edgectl enrol" in checks["enrolment"]["fix"]  # design/0097
    # the test's data folder is on the root filesystem: a real site's would not be
    assert checks["disk"]["status"] == "fail" and "root filesystem" in checks["disk"]["detail"]
    assert code == 2
    text = ctl(d, "doctor", "--config", str(config))
    assert text.returncode == 2 and "FAIL" in text.stdout and "TO FIX" in text.stdout


def test_retention_estimate_from_the_recorded_rate(site):
    d, *_ = site
    out = ctl(d, "retention", "--estimate", "--json")
    assert out.returncode == 0, out.stderr
    est = json.loads(out.stdout)
    gate = next(c for c in est["cameras"] if c["camera"] == "gate")
    assert gate["rate_from"] == "measured" and 100_000 < gate["rate_bps"] < 5_000_000  # the 500 kbit/s clip
    assert gate["days"] >= 30 and not gate["breached"] and est["enough"]
    # a camera not recording yet at a rate this disk cannot keep for 30 days
    big = est["disk_total"] * 8 / (20 * 86400)  # fills the whole disk in 20 days
    out = ctl(d, "retention", "--estimate", "--bitrate", f"yard={big:.0f}")
    assert out.returncode == 0, out.stderr
    assert "BREACHED for: " in out.stdout and "yard" in out.stdout and "NOT ENOUGH DISK" in out.stdout
    bad = ctl(d, "retention", "--estimate", "--bitrate", "yard=fast")
    assert bad.returncode == 2 and "CAMERA=4M" in bad.stderr


def test_doctor_names_each_injected_failure(site):
    d, config, secrets, server = site
    secrets.chmod(0o644)
    try:
        _code, checks = doctor(d, config)
        assert checks["secrets"]["status"] == "fail" and f"chmod 600 {secrets}" in checks["secrets"]["fix"]
    finally:
        secrets.chmod(0o600)
    server.stop()
    wait_for(lambda: (d.camera("gate") or {}).get("state") in ("offline", "connecting"), 60, "the camera gone")
    _code, checks = doctor(d, config)
    assert checks["camera:gate"]["status"] == "fail" and "camera probe" in checks["camera:gate"]["fix"]
    assert d.stop() == 0
    code, checks = doctor(d, config)
    assert code == 2 and checks["daemon"]["status"] == "fail" and "systemctl start edged" in checks["daemon"]["fix"]
    assert checks["secrets"]["status"] == "pass"  # the local checks still run
