"""The camera's clock over ONVIF (issue 32 item 3, design/0085) against a real daemon: a camera
whose RTSP stream carries no RTCP sender reports (so the stream says nothing of its wall clock)
and whose ONVIF clock is 40 s ahead, while another camera's ONVIF clock agrees with the host (a
camera is blamed only against the others and the host, design/0096), raises `clock_drift` from
ONVIF alone, and `edgectl cameras` shows the offset and where it was read."""

from __future__ import annotations

import json
import subprocess

from tests.support.cameras import RtspServer, make_clip
from tests.support.catalog import alarms
from tests.support.daemon import Daemon, wait_for, write_config
from tests.support.onvif_camera import FakeOnvifCamera, Profile


def test_clock_drift_rises_from_onvif_alone_where_the_stream_has_no_sender_reports(tmp_path):
    clip = make_clip(tmp_path, fps=20, gop=20, seconds=10)
    spec = f"clip:{clip.video}@20"
    with RtspServer({"gate": spec, "yard": spec, "hall": spec}, sender_reports=False) as cams, \
            FakeOnvifCamera([Profile("p1", "main", cams.url("gate"))], clock_offset_s=40.0) as onvif, \
            FakeOnvifCamera([Profile("p1", "main", cams.url("hall"))], clock_offset_s=0.0) as right:
        data = tmp_path / "data"
        config = write_config(tmp_path / "edged.toml", data, [
            {"id": "gate", "url": cams.url("gate"), "onvif": f"127.0.0.1:{onvif.port}"},
            {"id": "yard", "url": cams.url("yard"), "onvif": False},
            {"id": "hall", "url": cams.url("hall"), "onvif": f"127.0.0.1:{right.port}"}],
            tables={"health": {"sample_interval": "0s", "raise_after": "2s", "clear_after": "2s",
                               "min_width": 0, "min_height": 0, "min_pixels": 0, "min_fps": 0}})
        d = Daemon(config, data, tmp_path / "edged.log").start()
        try:
            raised = wait_for(lambda: alarms(d, lambda r: r["key"] == "clock_drift:gate", active=True), 60,
                              "clock_drift on the gate camera from ONVIF")[0]
            assert "ahead of the host clock" in raised["message"], raised["message"]
            assert ("GetSystemDateAndTime", None) in onvif.calls  # asked without a login
            # The stream gave no skew: the recorder measured none, so it came from ONVIF.
            wait_for(lambda: (d.camera("gate") or {}).get("fps"), 30, "stats from the gate camera")
            assert d.camera("gate")["clock_skew_us"] is None
            out = subprocess.run([*d.ctl, "cameras", "--json"], capture_output=True, text=True, timeout=30)
            assert out.returncode == 0, out.stderr
            rows = {r["id"]: r for r in json.loads(out.stdout)}
            clock = rows["gate"]["clock"]
            assert clock["source"] == "onvif" and 38_500_000 <= clock["offset_us"] <= 41_500_000, clock
            assert clock["at_us"] and clock["ntp"] is False
            assert rows["yard"]["clock"] is None  # no RTCP, ONVIF off: not judged
            text = subprocess.run([*d.ctl, "cameras"], capture_output=True, text=True, timeout=30).stdout
            assert "CLOCK" in text and "(onvif)" in text, text
            assert alarms(d, lambda r: r["camera"] in ("yard", "hall") and r["kind"] == "clock_drift") == []
        finally:
            d.stop()
