"""The recording core end to end: the real daemon, a real RTSP server, ffprobe on the output."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from datetime import datetime
from pathlib import Path

import pytest

from recorder.timeline import CUT_TOLERANCE_US
from storage.footage.segment_rows import COMPLETE, RECOVERED, WRITING
from storage.time.clock import SYSTEM
from storage.disk.hashing import sha256_file
from tests.support.cameras import (
    RtspServer,
    ffprobe,
    ffprobe_errors,
    free_port,
    make_clip,
)
from tests.support.catalog import rows
from tests.support.daemon import ROOT, Daemon, wait_for, write_config
from tests.support.people import People

S = 1_000_000
SEGMENT_S = 3
GOP_US = 1 * S  # the clips have a keyframe every 20 frames at 20 fps


@pytest.fixture(scope="module")
def clips(tmp_path_factory):
    d = tmp_path_factory.mktemp("clips")
    return make_clip(d, fps=20, gop=20, seconds=20), make_clip(d, fps=20, gop=20, seconds=20, audio=True)


@pytest.fixture(scope="module")
def cameras(clips):
    video, av = clips
    spec = f"clip:{video.video}@20"
    server = RtspServer({"cam1": spec, "cam2": spec, "cam3": spec, "av": f"clipav:{av.video},{av.audio}@20"})
    server.start()
    yield server
    server.stop()


def make_daemon(tmp_path: Path, cams: list[dict], **kw) -> Daemon:
    data = tmp_path / "data"
    config = write_config(tmp_path / "edged.toml", data, cams, **kw)
    return Daemon(config, data, tmp_path / "edged.log")


def now_us() -> int:
    return SYSTEM.now_us()


def contiguous(segs: list[dict], tolerance_us: int = 100_000) -> list[tuple[int, int]]:
    """The holes between consecutive segments (should be none within a run)."""
    return [(a["end_us"], b["start_us"]) for a, b in zip(segs, segs[1:])
            if abs(b["start_us"] - a["end_us"]) > tolerance_us]


def assert_plays(daemon: Daemon, seg: dict, audio: bool = False) -> None:
    path = daemon.data_dir / seg["path"]
    assert ffprobe_errors(path) == "", f"{seg['path']} does not play cleanly"
    probe = ffprobe(path)  # its streams and format, read once (tests/support/cameras.py media_duration's)
    streams = {s["codec_type"]: s for s in probe["streams"]}
    assert streams["video"]["codec_name"] == "h264"
    assert ("audio" in streams) == audio
    assert float(probe["format"]["duration"]) == pytest.approx((seg["end_us"] - seg["start_us"]) / S, abs=0.15)
    # Provenance in the MP4's metadata: a copied file still names its site, node, camera and start.
    tags = probe["format"]["tags"]
    assert tags["title"].startswith(f"test/node1/{seg['camera']} 20"), tags
    assert json.loads(tags["comment"].removeprefix("edged ")) == {
        "site": "test", "node": "node1", "camera": seg["camera"], "start_us": seg["start_us"]}


def test_records_playable_wall_aligned_segments_and_closes_them_on_sigterm(tmp_path, cameras):
    # Sound is recorded by libavformat's reader (design/0079): "av" stays "auto" when the suite forces one.
    d = make_daemon(tmp_path, [{"id": "cam1", "url": cameras.url("cam1")},
                               {"id": "av", "url": cameras.url("av"), "reader": "auto"}])
    d.start()
    try:
        for cam in ("cam1", "av"):
            wait_for(lambda: len(d.segments(cam)) >= 4, 40, f"four complete segments of {cam}")
    finally:
        stop_at = now_us()
        assert d.stop() == 0, d.log
    assert not rows(d, "segments", lambda r: r["state"] != COMPLETE), "SIGTERM left a segment open"
    for cam, audio in (("cam1", False), ("av", True)):
        segs = d.segments(cam)
        assert contiguous(segs) == [], "a run's segments must cover its wall time"
        assert d.gaps(cam) == []
        for seg in segs:
            path = d.data_dir / seg["path"]
            assert seg["sha256"] == sha256_file(path) and seg["bytes"] == path.stat().st_size
            assert seg["frames"] > 0 and (seg["width"], seg["height"]) == (320, 240)
            assert_plays(d, seg, audio)
        for seg in segs[1:-1]:  # the first and last of a run are cut by start and stop
            assert abs(seg["end_us"] - seg["start_us"] - SEGMENT_S * S) <= GOP_US
            # A cut is taken at the first keyframe at the boundary or up to the cut tolerance before it
            # (recorder/timeline.py is_cut: RTP stamps jitter round the RTCP mapping).
            late = (seg["start_us"] + CUT_TOLERANCE_US) % (SEGMENT_S * S) - CUT_TOLERANCE_US
            assert -CUT_TOLERANCE_US <= late <= GOP_US + 20_000, "segments start on wall-clock multiples"
        assert segs[-1]["end_us"] >= stop_at - S, "SIGTERM closes the open segment with what it had"

    # Reading the footage list goes through the daemon, as a custodian (design/0017).
    first_run = {cam: d.segments(cam) for cam in ("cam1", "av")}
    until = datetime.fromtimestamp(stop_at / S).astimezone().isoformat()
    d.start()
    try:
        people = People(d.config, tmp_path)
        people.add("cus", "custodian")
        people.as_("cus")
        listed = people.ctl("segments", "--camera", "av", "--from", "-10m", "--to", until, "--json")
        assert listed.returncode == 0, listed.stderr
        assert [r["path"] for r in json.loads(listed.stdout)["segments"]] == [r["path"] for r in first_run["av"]]
        table = people.ctl("segments", "--from", "-10m", "--to", until)
        assert table.returncode == 0, table.stderr
        assert table.stdout.count(" complete ") == len(first_run["av"]) + len(first_run["cam1"])
        bad = people.ctl("segments", "--from", "yesterday")
        assert bad.returncode == 2 and "ISO 8601" in bad.stderr and "Traceback" not in bad.stderr
    finally:
        assert d.stop() == 0, d.log


def test_camera_outage_is_a_gap_and_recording_resumes_within_5_s(tmp_path, clips, cameras):
    own = RtspServer({"cam1": f"clip:{clips[0].video}@20"})
    own.start()
    d = make_daemon(tmp_path, [{"id": "flaky", "url": own.url("cam1")}, {"id": "steady", "url": cameras.url("cam2")}])
    d.start()
    try:
        wait_for(lambda: len(d.segments("flaky")) >= 2, 30, "flaky recording")
        own.stop()
        wait_for(lambda: "connection refused" in ((d.camera("flaky") or {}).get("last_error") or ""), 15,
                 "a reconnect attempt to the stopped camera refused")
        assert d.camera("flaky")["state"] == "offline"
        wait_for(lambda: not rows(d, "segments", lambda r: r["camera"] == "flaky" and r["state"] == WRITING), 10,
                 "flaky's last segment closed")
        before = d.segments("flaky")[-1]
        own.restart()
        back = now_us()
        resumed = wait_for(lambda: rows(d, "segments", lambda r: r["camera"] == "flaky"
                                        and r["start_us"] > before["start_us"]), 15, "flaky recording again")[0]
        assert resumed["start_us"] - back <= 5 * S, "recording resumes within 5 s of the camera coming back"
        gap = wait_for(lambda: d.gaps("flaky"), 10, "the gap row")[0]
        assert gap["from_us"] == before["end_us"] and gap["to_us"] == resumed["start_us"]
        assert "connection refused" in gap["reason"]
        wait_for(lambda: len(d.segments("steady")) >= 6, 30, "steady kept recording")
    finally:
        assert d.stop() == 0, d.log
        own.stop()
    assert d.gaps("steady") == [] and contiguous(d.segments("steady")) == [], "the other camera never noticed"


def test_sigkill_mid_segment_is_recovered_at_the_next_start(tmp_path, cameras):
    d = make_daemon(tmp_path, [{"id": "cam1", "url": cameras.url("cam1")}], storage={"segment_length": "10s"})
    d.start()
    seg = wait_for(lambda: rows(d, "segments", lambda r: r["camera"] == "cam1" and r["state"] == WRITING
                                and r["created_us"] < now_us() - 3 * S), 40, "a segment 3 s into writing")[0]
    killed = now_us()
    d.kill_all()
    d.start()
    try:
        row = wait_for(lambda: rows(d, "segments", lambda r: r["path"] == seg["path"] and r["state"] == RECOVERED),
                       30, "the cut segment recovered")[0]
        assert killed - row["end_us"] <= S, "a kill -9 loses at most about one fragment"
        assert row["sha256"] == sha256_file(d.data_dir / row["path"])
        assert_plays(d, row)
        wait_for(lambda: rows(d, "segments", lambda r: r["camera"] == "cam1" and r["start_us"] > row["start_us"]),
                 30, "recording after the restart")
        gap = wait_for(lambda: d.gaps("cam1"), 10, "the outage recorded as a gap")[0]
        assert gap["from_us"] == row["end_us"] and gap["reason"] == "edged was not recording"
    finally:
        assert d.stop() == 0, d.log


def test_killed_worker_is_restarted_and_other_workers_never_notice(tmp_path, cameras):
    d = make_daemon(tmp_path, [{"id": "cam1", "url": cameras.url("cam1")}, {"id": "cam2", "url": cameras.url("cam2")}],
                    storage={"segment_length": "6s"}, recorder={"workers": 2})
    d.start()
    try:
        wait_for(lambda: len(d.segments("cam1")) >= 2 and len(d.segments("cam2")) >= 2, 30, "both recording")
        victim = d.worker_of("cam1")
        assert victim != d.worker_of("cam2"), "the two cameras should be on different workers"
        open_seg = wait_for(lambda: rows(d, "segments", lambda r: r["camera"] == "cam1" and r["state"] == WRITING
                                         and now_us() - 4 * S <= r["created_us"] <= now_us() - 2 * S),
                            20, "a cam1 segment 2-4 s into writing")
        killed = now_us()
        os.kill(victim, signal.SIGKILL)
        resumed = wait_for(lambda: rows(d, "segments", lambda r: r["camera"] == "cam1" and r["created_us"] > killed),
                           15, "cam1 recording again")[0]
        assert resumed["start_us"] - killed <= 5 * S, "cameras of a dead worker resume within 5 s"
        for seg in open_seg:
            row = wait_for(lambda: rows(d, "segments", lambda r: r["path"] == seg["path"] and r["state"] == RECOVERED),
                           10, "the cut segment recovered")[0]
            assert_plays(d, row)
            assert killed - row["end_us"] <= S
        assert "recorder worker died" in d.gaps("cam1")[0]["reason"]
        wait_for(lambda: rows(d, "segments", lambda r: r["camera"] == "cam2" and r["state"] == COMPLETE
                              and r["start_us"] > killed + 3 * S), 20, "cam2 still recording")
    finally:
        assert d.stop() == 0, d.log
    assert d.gaps("cam2") == [] and contiguous(d.segments("cam2")) == [], "cam2 never noticed"


def test_unreachable_camera_shows_in_edgectl_and_nothing_crashes(tmp_path, cameras):
    dead_url = f"rtsp://admin:hunter2@127.0.0.1:{free_port()}/stream"
    d = make_daemon(tmp_path, [{"id": "dead", "url": dead_url}, {"id": "cam3", "url": cameras.url("cam3")}])
    d.start()
    try:
        wait_for(lambda: (d.camera("dead") or {}).get("state") == "offline", 20, "dead camera offline")
        wait_for(lambda: len(d.segments("cam3")) >= 1, 30, "the good camera recording")
        ctl = d.ctl
        out = subprocess.run(ctl + ["cameras"], capture_output=True, text=True, cwd=ROOT, check=True).stdout
        line = next(l for l in out.splitlines() if l.startswith("dead "))
        assert "OFFLINE" in line and "connection refused" in line and "nothing listens there" in line
        assert "rtsp://admin:***@" in line
        status = subprocess.run(ctl + ["status"], capture_output=True, text=True, cwd=ROOT, check=True).stdout
        assert "running" in status and "1/2 recording" in status
        assert d.proc.poll() is None
    finally:
        assert d.stop() == 0
    assert "hunter2" not in d.log, "a camera password reached the log"


def test_sighup_adds_and_removes_cameras_without_touching_the_others(tmp_path, cameras):
    one = [{"id": "cam1", "url": cameras.url("cam1")}]
    d = make_daemon(tmp_path, one)
    d.start()
    try:
        wait_for(lambda: len(d.segments("cam1")) >= 1, 30, "cam1 recording")
        write_config(d.config, d.data_dir, one + [{"id": "cam2", "url": cameras.url("cam2")}])
        d.signal(signal.SIGHUP)
        wait_for(lambda: len(d.segments("cam2")) >= 1, 30, "cam2 added by SIGHUP")
        write_config(d.config, d.data_dir, [{"id": "cam2", "url": cameras.url("cam2")}])
        d.signal(signal.SIGHUP)
        wait_for(lambda: (d.camera("cam1") or {}).get("configured") == 0, 10, "cam1 removed by SIGHUP")
        wait_for(lambda: (d.camera("cam1") or {}).get("state") == "stopped", 10, "cam1 stopped")
        n = len(d.segments("cam2"))
        wait_for(lambda: len(d.segments("cam2")) > n, 20, "cam2 still recording")
    finally:
        assert d.stop() == 0, d.log
    assert d.gaps("cam2") == [] and contiguous(d.segments("cam2")) == []
    assert d.gaps("cam1") == [] and contiguous(d.segments("cam1")) == []
    assert not rows(d, "segments", lambda r: r["state"] == WRITING)


def test_embedded_default_records_the_demo_camera_and_says_where(tmp_path):
    log = tmp_path / "log"
    with open(log, "wb") as out:
        proc = subprocess.Popen([sys.executable, "-m", "edged.cli", "run"], cwd=tmp_path, stdout=out,
                                stderr=subprocess.STDOUT, env={**os.environ, "PYTHONPATH": str(ROOT)})
    try:
        wait_for(lambda: list((tmp_path / "data" / "video" / "demo").glob("*/*.mp4")), 30, "a demo segment")
        assert f"built-in demo camera into {tmp_path / 'data'}" in log.read_text()
    finally:
        proc.send_signal(signal.SIGINT)
        assert proc.wait(30) == 0
    files = list((tmp_path / "data" / "video" / "demo").glob("*/*.mp4"))
    assert all(ffprobe_errors(f) == "" for f in files)
    assert ffprobe(files[0])["streams"][0]["width"] == 1280


@pytest.mark.parametrize("body, field", [
    ('[site]\nid = "x"\n[storage]\nsegmnet_length = "60s"\n', "storage.segmnet_length"),
    ('[site]\nid = "x"\n[storage]\nsegment_length = "60"\n', "storage.segment_length"),
    ('[site]\nid = "x"\n[[cameras]]\nid = "a"\nurl = "rtsp://u:pw@h/1"\n[[cameras]]\nid = "a"\nurl = "rtsp://h/2"\n',
     "cameras[1].id"),
])
def test_bad_config_exits_78_naming_the_field(tmp_path, body, field):
    path = tmp_path / "edged.toml"
    path.write_text(body)
    for cmd in (["run", "--config", str(path)], ["check-config", str(path)]):
        r = subprocess.run([sys.executable, "-m", "edged.cli", *cmd], capture_output=True, text=True, cwd=ROOT,
                           timeout=30)
        assert r.returncode == 78
        assert field in r.stderr and "Traceback" not in r.stderr and "pw@" not in r.stderr
