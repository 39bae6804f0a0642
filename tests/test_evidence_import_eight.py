"""The issue's full check (issue 87, "How it is checked"; design/0460, after issue 76's "recording of 8
cameras meanwhile with no frame lost", design/0349): a real daemon records eight real RTSP cameras while
custodians take in every layout a device writes (a phone's MP4 with its index at the end claiming 2015, an
H.265 MOV with G.711, an AVCHD .MTS, `hvc1` and `hev1`, Matroska, a file trimmed behind an edit list, a
fragmented MP4 whole and cut at 55 %, open GOPs, and a camcorder claiming 2031), all at once. Then a restart:
no footage `missing`, no host-clock alarm, no camera flagged, every import as it was. Then the daemon's
retention pass at the minimum and the maximum counted from the intakes, at the time it is told: nothing
imported goes before its maximum (a full disk before the minimum, a roomy one past it), everything imported
goes, its original too, once past it. Every segment decodes under `ffmpeg -v error -xerror` (each camera's
and each import's segments played in turn, one decoder each, as a copy joins them) and shows the pictures the catalog
counts; each camera lost no frame in either run. It runs in the parallel tier, beside the other tests' daemons
(design/0471: its counts held at a load of 42-55)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess

import pytest

from edged.config import CameraConfig, RetentionConfig
from storage.catalog import open_db
from storage.retention.policy import policy_for
from storage.retention.run import run_pass
from storage.time.clock import FakeClock
from tests.support import portable
from tests.support.cameras import RtspServer, make_clip
from tests.support.catalog import alarms, audit_rows, node_value, rows
from tests.support.daemon import ROOT, Daemon, ctl_argv, wait_for, write_config
from tests.support.people import People
from tests.test_intake_eight import MAKERS, shown, shown_in_turn

S = 1_000_000
D = 86_400 * S
FPS = 10
CAMERAS = [f"cam{i}" for i in range(8)]
SEAM_US = S // 2     # segments of one camera follow each other: any seam is far under a GOP (1 s)
AHEAD = "2031-06-01T08:00:00Z"
LAYOUTS = {**MAKERS,
           "hev1": lambda d: portable.hevc_tagged(d / "PXL_0009.mp4", tag="hev1"),
           "ahead": lambda d: portable.body_camera(d / "FUTURE_0010.mp4", seconds=4, created=AHEAD,
                                                   model="CAMCORDER-31"),
           "frag_cut": lambda d: cut_at(portable.fragmented(d / "whole.mp4", seconds=8), d / "BWC_0011.MP4", 0.55)}


def cut_at(src, dst, fraction: float):
    made = portable.cut(src, dst, int(src.stat().st_size * fraction))
    src.unlink()
    return made


@pytest.fixture(scope="module")
def cameras(tmp_path_factory):
    clip = make_clip(tmp_path_factory.mktemp("clip"), width=320, height=240, fps=FPS, gop=FPS, seconds=10)
    with RtspServer({cam: f"clip:{clip.video}@{FPS}" for cam in CAMERAS}) as server:
        yield server


@pytest.fixture(scope="module")
def devices(tmp_path_factory):
    d = tmp_path_factory.mktemp("devices")
    os.chmod(d, 0o755)
    made = {k: make(d) for k, make in LAYOUTS.items()}
    for p in made.values():
        os.chmod(p, 0o644)
    return made


def take_in_at_once(people: People, devices: dict, tmp_path) -> None:
    """Each file sent by its own custodian at once (one intake at a time per custodian: design/0404)."""
    sessions = {}
    for k in devices:
        people.add(f"cu-{k}", "custodian")
    for k in devices:
        people.as_(f"cu-{k}")
        sessions[k] = tmp_path / f"session-{k}.json"
        shutil.copy(people.session, sessions[k])
    sent = {k: subprocess.Popen([*ctl_argv(people.socket), "evidence", "import", str(src), "--device", f"dev-{k}",
                                 "--by", "officer Lin"], cwd=ROOT, text=True, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, env={**people.env, "EDGECTL_SESSION": str(sessions[k])})
            for k, src in devices.items()}
    said = {k: p.communicate(timeout=900) for k, p in sent.items()}
    assert all(p.returncode == 0 for p in sent.values()), said


def newest_ids(d: Daemon) -> dict[str, int]:
    return {c: max((s["id"] for s in d.segments(c)), default=0) for c in CAMERAS}


def order_checked_through(d: Daemon, segment_id: int) -> None:
    """The host clock's order detector (edged/daemon/host_clock.py) has read every row up to this id."""
    def through() -> bool:
        value = node_value(d, "order_checked")
        return value is not None and json.loads(value)["through"] >= segment_id
    wait_for(through, 60, f"the order detector past segment {segment_id}")


def no_frame_lost(cam: str, segs: list[dict]) -> str:
    """One run of a camera: no seam between its segments, as many pictures as the stream's time holds."""
    seams = [b["start_us"] - a["end_us"] for a, b in zip(segs, segs[1:])]
    assert all(abs(s) < SEAM_US for s in seams), (cam, seams)
    span_s = (segs[-1]["end_us"] - segs[0]["start_us"]) / S
    frames = sum(s["frames"] for s in segs)
    assert abs(frames - span_s * FPS) <= len(segs), f"{cam}: {frames} pictures in {span_s:.2f} s at {FPS} fps"
    return f"{len(segs)} segments, {frames} pictures in {span_s:.2f} s, widest seam {max(map(abs, seams)) / 1e3:.1f} ms"


@pytest.mark.timeout(900)   # eleven remuxes beside eight cameras, then every segment decoded, on a shared box
def test_eight_cameras_every_layout_a_restart_and_retention_from_the_intake(tmp_path, monkeypatch, cameras,
                                                                           devices):
    data = tmp_path / "data"
    config = write_config(tmp_path / "edged.toml", data, [{"id": c, "url": cameras.url(c)} for c in CAMERAS],
                          storage={"segment_length": "3s"})
    log = tmp_path / "edged.log"
    d = Daemon(config, data, log).start()
    try:
        people = People(config, tmp_path, monkeypatch, timeout=300)
        wait_for(lambda: all(len(d.segments(c)) >= 2 for c in CAMERAS), 120, "every camera's first segments")
        before = {c: len(d.segments(c)) for c in CAMERAS}
        take_in_at_once(people, devices, tmp_path)
        wait_for(lambda: all(len(d.segments(c)) >= before[c] + 3 for c in CAMERAS), 120, "segments after the intakes")
    finally:
        assert d.stop() == 0, d.log[-3000:]
    taken = {t["device"][len("dev-"):]: t for t in rows(d, "intakes", order="id")}
    assert sorted(taken) == sorted(devices)
    assert taken["ahead"]["claimed_start_us"] > taken["ahead"]["intake_us"] + 4 * 365 * D, "a claim ahead"
    assert taken["phone"]["claimed_start_us"] < taken["phone"]["intake_us"] - 10 * 365 * D, "a claim long past"
    imported = {k: d.segments(t["camera"]) for k, t in taken.items()}
    assert all(imported.values()), {k: len(v) for k, v in imported.items()}
    # every segment each intake recorded still footage: none marked (tampered, quarantined) by the daemon's own
    # watch as it placed the intakes beside the cameras (the states, the notes and the journal's words if not)
    every = {k: rows(d, "segments", lambda r, c=t["camera"]: r["camera"] == c) for k, t in taken.items()}
    tampers = alarms(d, lambda r: r["kind"] == "tamper")
    assert {k: len(v) for k, v in imported.items()} == {k: t["segments"] for k, t in taken.items()} and not tampers, (
        tampers,
        {k: [(r["state"], r["frames"], r["note"]) for r in v] for k, v in every.items()},
        {k: t["note"] for k, t in taken.items()}, [line for line in d.log.splitlines() if "tamper" in line][-20:])
    first_run = {c: d.segments(c) for c in CAMERAS}
    last_id = max(r["id"] for r in rows(d, "segment_rows"))

    # the restart: every import as it was, and none judges the box's clock
    d = Daemon(config, data, log, init_data=False).start()
    try:
        wait_for(lambda: d.log.count("catalog reconciled with the disk") >= 2, 60, "the start-up reconcile")
        wait_for(lambda: all(n > last_id for n in newest_ids(d).values()), 60, "every camera after the restart")
        order_checked_through(d, max(newest_ids(d).values()))
        restarted = {c: len(d.segments(c)) for c in CAMERAS}
        wait_for(lambda: all(len(d.segments(c)) >= restarted[c] + 2 for c in CAMERAS), 60, "segments after it")
        assert rows(d, "segments", lambda r: r["state"] == "missing") == []
        assert alarms(d, lambda r: r["kind"] in ("footage_missing", "host_clock_step", "segments_flagged")) == []
        assert audit_rows(d, "footage.missing") == [] and audit_rows(d, "segments.flagged") == []
        assert rows(d, "restamps") == [], "no segment flagged or re-stamped, a fixed camera's nor a device's"
        assert "host clock stepped" not in d.log
    finally:
        assert d.stop() == 0, d.log[-3000:]
    assert {k: d.segments(t["camera"]) for k, t in taken.items()} == imported, "the imports untouched"

    # every fixed camera: no frame lost in either run, every segment decoded and its pictures counted
    for cam in CAMERAS:
        segs = d.segments(cam)
        runs = [segs[:len(first_run[cam])], segs[len(first_run[cam]):]]
        assert runs[0] == first_run[cam] and all(s["id"] > last_id for s in runs[1])
        print(cam, "; ".join(no_frame_lost(cam, run) for run in runs))
        assert all(g["from_us"] >= runs[0][-1]["end_us"] - SEAM_US and g["to_us"] <= runs[1][0]["start_us"] + SEAM_US
                   for g in d.gaps(cam)), (cam, d.gaps(cam))
        # one decoder a camera (a process a segment cost minutes on a loaded box): every segment under -xerror
        assert shown_in_turn([data / s["path"] for s in segs], tmp_path / f"{cam}.txt") == sum(
            s["frames"] for s in segs), cam

    # every import: its segments played in turn (one decoder, as a copy joins them; each alone is
    # tests/test_intake_eight.py's) show the pictures the catalog counts, those its original shows
    for k, src in devices.items():
        segs = imported[k]
        joined = shown_in_turn([data / s["path"] for s in segs], tmp_path / f"{k}.txt")
        whole = sum(s["frames"] for s in segs)
        # the cut file keeps its whole fragments only: fewer than the 8 s at 15 fps it was cut from
        assert joined == whole and (0 < whole < 8 * 15 if k == "frag_cut" else whole == shown(src)), (k, joined, whole)
        assert all(a["end_us"] == b["start_us"] for a, b in zip(segs, segs[1:])), (k, "segments abut")

    # retention at the time the pass is told, from the intakes: the minimum and the maximum
    first, last = min(t["intake_us"] for t in taken.values()), max(t["intake_us"] for t in taken.values())
    originals = {k: data / t["original"] for k, t in taken.items()}
    policy = RetentionConfig(max_retention_us=30 * D, min_retention_us=D)
    fixed = [CameraConfig(id=c, name=c, url=cameras.url(c)) for c in CAMERAS]
    disk = shutil.disk_usage(data)
    # a disk a byte short of its reserve: rule 2 frees room from footage past its minimum, the cameras' older
    # footage, never an import inside its own (design/0381)
    short = disk._replace(free=policy_for(policy, fixed, disk.total).reserve_bytes - 1)
    roomy = disk._replace(free=disk.total)   # whatever this machine's disk holds
    db = open_db(data / "catalog.db")
    try:
        def kept() -> dict[str, int]:
            return {k: len(rows(db, "segments", lambda r, c=t["camera"]: r["camera"] == c)) for k, t in taken.items()}

        for at, usage in ((first + D - S, short), (last + D + S, roomy), (first + 30 * D - S, roomy)):
            r = run_pass(db, data, policy, fixed, lambda _p, u=usage: u, clock=FakeClock(at))
            assert r.originals == 0 and kept() == {k: len(v) for k, v in imported.items()}, (at - first, kept())
            assert all(f.exists() for f in originals.values())
            assert all(x.segment.camera in CAMERAS for x in r.plan.destroy)
            assert (at - first, bool(r.destroyed)) != (D - S, False), "the disk short: a camera's surplus went"
        r = run_pass(db, data, policy, fixed, lambda _p: roomy, clock=FakeClock(last + 30 * D + S))
        assert r.originals == len(taken) and set(kept().values()) == {0}, kept()
        assert not any(f.exists() for f in originals.values()), "every original destroyed at its maximum"
        assert all(t["destroyed_us"] for t in rows(db, "intakes")), rows(db, "intakes")
        gone = {json.loads(x["detail"])["intake"] for x in audit_rows(db, "evidence.original_destroyed")}
        assert gone == {t["id"] for t in taken.values()}
    finally:
        db.conn.close()
