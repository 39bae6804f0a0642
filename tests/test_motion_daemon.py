"""Recording modes through the whole daemon (design/0038): real RTSP cameras serving the walk
scene (a person crosses at 6-9 s and 20-24 s of every 40 s loop), real recorder workers,
catalog, edgectl, a real mosquitto; SIGHUP switching a camera's mode."""

from __future__ import annotations

import json
import signal
import subprocess
from pathlib import Path

from storage.footage.segment_rows import FOOTAGE_STATES
from tests.support.broker import Broker, Subscriber
from tests.support.cameras import RtspServer, free_port
from tests.support.catalog import alarms, audit_rows, rows
from tests.support.daemon import Daemon, ctl, toml_value, wait_for
from tests.support.scenes import scene_clip

S = 1_000_000
PRE, POST = 3 * S, 3 * S
BASE = "edged/v1/test/node1"


def config(tmp_path: Path, cameras: list[dict], motion: dict | None = None, mqtt_port: int | None = None) -> Path:
    """cameras: key -> value lines; a camera with `motion` gets its [cameras.motion] table."""
    data = tmp_path / "data"
    lines = ["[site]", 'id = "test"', "", "[storage]", f"data_dir = {toml_value(str(data))}", 'segment_length = "10s"']
    if mqtt_port is not None:
        lines += ["", "[mqtt]", "enabled = true", 'host = "127.0.0.1"', f"port = {mqtt_port}", 'reconnect_max = "1s"',
                  "homeassistant = true"]
    for cam in cameras:
        cam = dict(cam)
        table = cam.pop("motion", None)
        lines += ["", "[[cameras]]"] + [f"{k} = {toml_value(v)}" for k, v in cam.items()]
        if table is not None:
            lines += ["[cameras.motion]"] + [f"{k} = {v if k == 'masks' else toml_value(v)}" for k, v in table.items()]
    path = tmp_path / "edged.toml"
    path.write_text("\n".join(lines) + "\n")
    return path


def runs(segments: list[dict]) -> list[tuple[int, int, list[dict]]]:
    """(start, end, segments) of each stretch of contiguous footage."""
    out: list[tuple[int, int, list[dict]]] = []
    for s in sorted(segments, key=lambda r: r["start_us"]):
        if out and out[-1][1] == s["start_us"]:
            out[-1] = (out[-1][0], s["end_us"], out[-1][2] + [s])
        else:
            out.append((s["start_us"], s["end_us"], [s]))
    return out


def first_frame_is_key(path: Path) -> bool:
    out = subprocess.run(["ffprobe", "-v", "error", "-select_streams", "v:0", "-show_entries", "frame=key_frame",
                          "-read_intervals", "%+#1", "-of", "csv=p=0", str(path)],
                         capture_output=True, text=True, timeout=30).stdout.split()
    return [line.split(",")[0] for line in out[:1]] == ["1"]  # "1," when the frame has side data


def ctl_json(d: Daemon, *args: str) -> object:
    r = ctl(d, *args, "--json", timeout=60)
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)


def test_motion_mode_records_only_around_motion_lists_and_publishes_the_events(tmp_path):
    walk = scene_clip(tmp_path.parent / "scenes", "walk")
    broker = Broker(tmp_path / "broker").start()
    sub = Subscriber(broker, "#").start()  # the node's topics and its Home Assistant discovery
    try:
        with RtspServer({"door": walk.spec()}) as server:
            cam = {"id": "door", "url": server.url("door"), "mode": "motion", "detect_url": "/door",
                   "motion": {"pre_roll": "3s", "post_roll": "3s"}}
            d = Daemon(config(tmp_path, [cam], mqtt_port=broker.port), tmp_path / "data", tmp_path / "edged.log").start()
            try:
                done = lambda: [e for e in rows(d, "motion_events", lambda r: r["end_us"] is not None)]  # noqa: E731

                def two_runs_closed():
                    events = done()
                    segs = d.segments("door")
                    return len(events) >= 2 and segs and runs(segs)[-1][1] >= events[1]["end_us"] + POST and \
                        not rows(d, "segments", lambda r: r["state"] == "writing")
                wait_for(two_runs_closed, 150, "two walks recorded and their footage closed")
                listed = ctl_json(d, "events", "--camera", "door", "--since", "-10m")
                segments = ctl_json(d, "segments", "--camera", "door", "--from", "-10m")
                wait_for(lambda: len([m for m in sub.on(f"{BASE}/event")]) >= 4, 30, "four event messages")
            finally:
                assert d.stop() == 0, d.log[-5000:]
    finally:
        sub.stop()
        broker.stop()

    events = rows(d, "motion_events", order="start_us")
    assert len(events) >= 2 and all(e["peak"] > 0.003 and e["thumb"][:2] == b"\xff\xd8" for e in events[:2])
    footage = runs(d.segments("door"))
    # Each walk: footage from the pre-roll before it to the post-roll after it, and nothing else.
    assert len(footage) == len(events), (footage, events)  # a run per event (a third walk may have begun)
    for (start, end, segs), e in zip(footage[:2], events[:2]):
        assert start <= e["start_us"] - PRE and end >= e["end_us"] + POST
        assert start >= e["start_us"] - PRE - 2 * S - 2.5 * S and end <= e["end_us"] + POST + 2.5 * S
        assert first_frame_is_key(d.data_dir / segs[0]["path"])
    assert all(s["state"] in FOOTAGE_STATES for s in d.segments("door"))
    # Between the walks: not recorded by policy, not a gap; no alarm.
    policy = rows(d, "not_recorded", lambda r: r["camera"] == "door")
    assert [r["reason"] for r in policy] and {r["reason"] for r in policy} == {"no motion"}
    assert any(r["from_us"] == footage[0][1] and r["to_us"] == footage[1][0] for r in policy), (policy, footage)
    assert d.gaps("door") == [] and alarms(d) == []
    if len(footage) == 2:  # idle at the stop (no third walk begun): the stop closes the hole by policy there,
        assert max(r["to_us"] for r in policy) > footage[-1][1]  # so a restart's gap will not swallow it
    assert [r["reason"] for r in segments["not_recorded"]] and segments["gaps"] == []
    # edgectl events: both walks, in order; the listing is on the audit record.
    assert [(r["start_us"], r["end_us"]) for r in listed[:2]] == \
        [(e["start_us"], e["end_us"]) for e in events[:2]]
    assert audit_rows(d, "events.list")
    # MQTT: start, end, start, end with rising seq; Home Assistant has a motion sensor.
    msgs = [m.json() for m in sub.on(f"{BASE}/event")]
    first = {}
    for m in msgs:
        first.setdefault(m["seq"], m)
    ordered = sorted(first.values(), key=lambda m: m["seq"])
    assert [m["phase"] for m in ordered[:4]] == ["start", "end", "start", "end"]
    assert [m["start_us"] for m in ordered[:4]] == [events[0]["start_us"]] * 2 + [events[1]["start_us"]] * 2
    assert ordered[1]["end_us"] == events[0]["end_us"] and ordered[1]["camera"] == "door"
    discovery = [m for m in sub.messages if m.topic.endswith("/door_motion/config")]
    assert discovery and discovery[-1].json()["device_class"] == "motion"


def test_live_mode_records_nothing_alarms_when_offline_and_sighup_switches_modes(tmp_path):
    walk = scene_clip(tmp_path.parent / "scenes", "walk")
    with RtspServer({"desk": walk.spec()}) as server:
        desk = {"id": "desk", "url": server.url("desk"), "mode": "live"}
        gone = {"id": "gone", "url": f"rtsp://127.0.0.1:{free_port()}/x", "mode": "live"}
        path = config(tmp_path, [desk, gone])
        d = Daemon(path, tmp_path / "data", tmp_path / "edged.log").start()
        try:
            wait_for(lambda: (d.camera("desk") or {}).get("fps"), 60, "the live camera's stream read (stats)")
            wait_for(lambda: alarms(d, lambda a: a["kind"] == "camera_offline" and a["camera"] == "gone",
                                    active=True), 60, "an offline live camera is an alarm")
            assert d.segments("desk", ("writing", *FOOTAGE_STATES)) == [] and d.camera("desk")["mode"] == "live"
            cams = ctl_json(d, "cameras")
            assert {c["id"]: c["mode"] for c in cams} == {"desk": "live", "gone": "live"}
            notice = subprocess.run([*d.ctl, "cameras", "--notice"], capture_output=True, text=True, timeout=60).stdout
            # Both cameras are on the notice, each with "not recorded" where its retention would be.
            assert "2 cameras record at this site" in notice
            assert sum("not recorded" in line for line in notice.splitlines()) == 2, notice
            retention = ctl_json(d, "retention")
            assert {c["camera"]: c["mode"] for c in retention["cameras"]}["desk"] == "live"
            # SIGHUP: the desk camera records continuously from now on ...
            config(tmp_path, [{**desk, "mode": "continuous"}, gone])
            d.signal(signal.SIGHUP)
            wait_for(lambda: d.segments("desk"), 60, "footage after the switch to continuous")
            # ... and back to live: its footage stops, nothing new opens.
            config(tmp_path, [desk, gone])
            d.signal(signal.SIGHUP)
            wait_for(lambda: (d.camera("desk") or {}).get("mode") == "live"
                     and not rows(d, "segments", lambda r: r["camera"] == "desk" and r["state"] == "writing"),
                     60, "the switch back to live closed the footage")
            count = len(d.segments("desk"))
            last_state = wait_for(lambda: (d.camera("desk") or {}).get("state") == "recording" and d.camera("desk"),
                                  60, "the live stream up again")
            wait_for(lambda: (d.camera("desk") or {}).get("updated_us", 0) > last_state["updated_us"] + 5 * S, 60,
                     "the stream read for a while after the switch")
            assert len(d.segments("desk", ("writing", *FOOTAGE_STATES))) == count
        finally:
            assert d.stop() == 0, d.log[-5000:]
    assert [g for g in d.gaps("desk")] == []
