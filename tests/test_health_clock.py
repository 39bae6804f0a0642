"""The camera-clock alarm (R2.3) against a real daemon: a camera whose clock is 30 s ahead (its
RTCP sender reports say so) while most cameras agree with the host raises `clock_drift` after
raise_after (design/0096: a camera is blamed only when it disagrees with the others and the host);
one allowed a minute of slack by its own [cameras.health] never does; set right, the alarm clears
after clear_after."""

from __future__ import annotations

from tests.support.cameras import RtspServer, make_clip
from tests.support.catalog import alarms
from tests.support.daemon import Daemon, wait_for, write_config


def active(d: Daemon, key: str) -> list[dict]:
    return alarms(d, lambda r: r["key"] == key, active=True)


def test_a_camera_with_a_wrong_clock_raises_clock_drift_and_clears_when_set_right(tmp_path):
    clip = make_clip(tmp_path, fps=20, gop=20, seconds=10)
    spec = f"clip:{clip.video}@20"
    with RtspServer({"door": spec, "yard": spec}, clock_offset_s=30) as cams, \
            RtspServer({"gate": spec, "hall": spec}) as right:  # two cameras on the host's time
        data = tmp_path / "data"
        config = write_config(tmp_path / "edged.toml", data, [
            {"id": "gate", "url": right.url("gate")}, {"id": "hall", "url": right.url("hall")},
            {"id": "door", "url": cams.url("door")}, {"id": "yard", "url": cams.url("yard")}],
            tables={"health": {"sample_interval": "0s", "raise_after": "4s", "clear_after": "4s",
                               "min_width": 0, "min_height": 0, "min_pixels": 0, "min_fps": 0}})
        # The yard camera's own tolerance: a minute (`[cameras.health]` under its [[cameras]]).
        config.write_text(config.read_text() + '\n[cameras.health]\nclock_tolerance = "60s"\n')
        d = Daemon(config, data, tmp_path / "edged.log").start()
        try:
            raised = wait_for(lambda: active(d, "clock_drift:door"), 60, "clock_drift on the door camera")[0]
            assert raised["severity"] == "warning" and "ahead of the host clock" in raised["message"]
            door = d.camera("door")
            assert 28_000_000 <= door["clock_skew_us"] <= 32_000_000, door["clock_skew_us"]
            assert door["compliance"] == "fail" and "clock" in door["compliance_reasons"]
            assert door["state"] == "degraded"
            yard = d.camera("yard")
            assert yard["clock_skew_us"] >= 28_000_000 and yard["compliance"] == "ok"
            assert alarms(d, lambda r: r["camera"] == "yard") == []

            cams.clock_offset_s = 0  # the camera's clock is set right (it reconnects)
            cams.restart()
            wait_for(lambda: not active(d, "clock_drift:door"), 60, "clock_drift to clear")
            wait_for(lambda: abs(d.camera("door")["clock_skew_us"] or 10**9) < 2_000_000, 30, "a right clock")
            assert d.camera("door")["compliance"] == "ok"
            assert alarms(d, lambda r: r["camera"] == "yard") == []
        finally:
            d.stop()
