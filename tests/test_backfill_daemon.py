"""Backfill from the camera's own recording (issue 44 item 1, design/0106) against a real daemon,
a real live camera (gst-rtsp-server) and a Profile G camera (GStreamer's ONVIF replay server and
the fake ONVIF device's Recording Search and Replay): the live stream stops for a few seconds,
the gap it leaves is fetched from the camera's recording and stored as `backfilled` segments
that decode, whose frames carry the recording's times, inside the gap only (nothing recorded
live is touched); a camera that refuses replay ends with a reason, in `edgectl status` too."""

from __future__ import annotations

import hashlib
import json
import subprocess
import time

from storage.time.clock import SYSTEM
from tests.support.cameras import RtspServer, make_clip, packet_pts
from tests.support.catalog import alarms, audit_rows
from tests.support.daemon import Daemon, wait_for, write_config
from tests.support.profile_g import ProfileGServer, profile_g_camera

FPS = 10
FRAME_US = 1_000_000 // FPS
OUTAGE_S = 6


def _decode_errors(path) -> str:
    out = subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-xerror", "-i", str(path), "-f", "null", "-"],
                         capture_output=True, text=True, timeout=60)
    return out.stderr or ("" if out.returncode == 0 else f"ffmpeg exited with {out.returncode}")


def test_a_gap_is_backfilled_from_the_cameras_recording_and_a_refusal_is_said(tmp_path, monkeypatch):
    monkeypatch.setenv("EDGED_BACKFILL_POLL_S", "1")
    clip = make_clip(tmp_path, fps=20, gop=20, seconds=10)
    spec = f"clip:{clip.video}@20"
    start_s = SYSTEM.now_us() // 1_000_000 - 600.0  # the cameras' own recordings began ten minutes ago
    with RtspServer({"gate": spec, "yard": spec}) as live, ProfileGServer(start_s, fps=FPS) as replay:
        gate = profile_g_camera(replay, live.url("gate"))
        yard = profile_g_camera(replay, live.url("yard"), refuse=True)
        try:
            def url(mount: str) -> str:
                return live.url(mount).replace("rtsp://", f"rtsp://{gate.user}:{gate.password}@")
            data = tmp_path / "data"
            config = write_config(tmp_path / "edged.toml", data, [
                {"id": "gate", "url": url("gate"), "onvif": f"127.0.0.1:{gate.port}", "edge_recording": True},
                {"id": "yard", "url": url("yard"), "onvif": f"127.0.0.1:{yard.port}", "edge_recording": True}],
                recorder={"reconnect_max": "1s"})
            d = Daemon(config, data, tmp_path / "edged.log").start()
            try:
                wait_for(lambda: len(d.segments("gate")) >= 2 and d.segments("yard"), 60, "live footage of both")
                live.stop()  # the cameras' live streams stop: edged cannot record them
                wait_for(lambda: (d.camera("gate") or {}).get("state") in ("offline", "connecting"), 30, "gate offline")
                live_before = {r["id"]: r for r in d.segments("gate")}
                time.sleep(OUTAGE_S)  # the outage's length itself (what is waited for is the camera being down)
                live.start()
                gap = wait_for(lambda: [g for g in d.gaps("gate") if g["to_us"] - g["from_us"] >= 3_000_000], 60,
                               "the gate camera's gap")[0]
                done = wait_for(lambda: [g for g in d.gaps("gate") if g["id"] == gap["id"] and g["backfill"] == "done"],
                                90, "the gap backfilled\n" + d.log[-3000:])[0]
                refused = wait_for(lambda: [g for g in d.gaps("yard") if g["backfill"] == "given up"], 60,
                                   "the yard camera's backfill given up")[0]
                assert "refused to replay" in json.loads(refused["backfill_note"])["text"], refused
                assert done["backfill_to_us"] >= gap["to_us"] - 2 * FRAME_US

                segs = d.segments("gate")
                back = [s for s in segs if s["source"] == "backfilled"]
                assert back, segs
                for s in back:  # inside the gap only, never over live footage
                    assert gap["from_us"] <= s["start_us"] and s["end_us"] <= gap["to_us"], (s, gap)
                covered = sum(s["end_us"] - s["start_us"] for s in back)
                assert covered >= gap["to_us"] - gap["from_us"] - 2 * FRAME_US, (covered, gap, [(s["start_us"] - gap["from_us"], s["end_us"] - gap["from_us"], s["frames"]) for s in back])
                for rid, row in live_before.items():  # nothing recorded live is replaced or changed
                    now = next(s for s in segs if s["id"] == rid)
                    assert now == row
                assert all(s["source"] == "live" for s in segs if s["id"] in live_before)
                for s in back:
                    path = data / s["path"]
                    assert _decode_errors(path) == "", s["path"]
                    assert hashlib.sha256(path.read_bytes()).hexdigest() == s["sha256"]  # hashed as written
                    times = [s["start_us"] + round(p * 1e6) for p in packet_pts(path)]
                    assert len(times) == s["frames"]
                    # each frame carries the recording's time: frame n of it was taken at START + n / FPS
                    for t in times[1:]:
                        off = (t - start_s * 1e6) % FRAME_US
                        assert min(off, FRAME_US - off) <= 1000, (t, s["path"])
                    assert abs(times[0] - max(s["start_us"], gap["from_us"])) <= FRAME_US
                recorded = audit_rows(d, "segment.backfilled")
                assert sorted(json.loads(r["detail"])["segment"] for r in recorded) == sorted(s["path"] for s in back)
                assert alarms(d, lambda r: r["kind"] == "tamper") == []  # the tamper watcher knew the files as ours
                text = subprocess.run([*d.ctl, "status"], capture_output=True, text=True, timeout=30)
                assert text.returncode == 0, text.stderr
                assert "yard" in text.stdout and "not backfilled" in text.stdout, text.stdout
            finally:
                assert d.stop() == 0
        finally:
            gate.stop()
            yard.stop()
