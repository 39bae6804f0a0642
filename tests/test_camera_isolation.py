"""One camera cannot take down its neighbours (design/0063): against the real daemon, a camera
whose arrival kills its recorder worker (the test hook EDGED_TEST_KILL_ON_ADD in
recorder/worker.py, standing in for a stream that crashes FFmpeg) is moved to a worker of its
own, and the cameras it shared a worker with record on with no gap after that first crash."""

from __future__ import annotations

import signal

import pytest

from recorder.picture_size import declared_size
from tests.support.cameras import RtspServer, make_clip
from tests.support.catalog import alarms, rows
from tests.support.daemon import Daemon, wait_for, write_config
from tests.support.sps import h264_sps, with_sps

CRASH_GAP = "recorder worker died"
S = 1_000_000


@pytest.fixture(scope="module")
def cameras(tmp_path_factory):
    clip = make_clip(tmp_path_factory.mktemp("clips"), width=320, height=240, fps=20, gop=20, seconds=10)
    with RtspServer({c: f"clip:{clip.video}@20" for c in "abx"}) as server:
        yield server


def _complete(d: Daemon, cam: str, after_us: int = 0) -> list[dict]:
    return rows(d, "segments", lambda r: r["camera"] == cam and r["state"] == "complete"
                and r["start_us"] >= after_us, order="start_us")


def _after_crash(d: Daemon, cam: str) -> list[dict]:
    """The camera's complete segments since its own crash gap ended ([] before it has one)."""
    crash = [g for g in d.gaps(cam) if g["reason"] == CRASH_GAP]
    return _complete(d, cam, crash[0]["to_us"]) if crash else []


def test_a_camera_that_kills_its_worker_ends_alone_and_its_neighbours_record_on(tmp_path, cameras, monkeypatch):
    doomed = tmp_path / "doomed"
    monkeypatch.setenv("EDGED_TEST_KILL_ON_ADD", str(doomed))
    data = tmp_path / "data"
    cams = [{"id": c, "url": cameras.url(c)} for c in "abx"]
    config = write_config(tmp_path / "edged.toml", data, cams, recorder={"workers": 1})
    d = Daemon(config, data, tmp_path / "edged.log").start()
    try:
        for c in "abx":
            wait_for(lambda: _complete(d, c), 90, f"a complete segment of {c}")
        shared = d.worker_of("a")
        assert d.worker_of("x") == shared == d.worker_of("b")
        # x's stream now kills whichever worker takes it: re-add it (a change of what the recorder
        # is told does; a name alone no longer restarts a camera)
        doomed.write_text("x\n")
        write_config(config, data, [*cams[:2], {**cams[2], "transport": "tcp"}], recorder={"workers": 1})
        d.signal(signal.SIGHUP)
        wait_for(lambda: "x crashed alone" in d.log, 90, "x to kill a worker of its own")
        crash = wait_for(lambda: [g for g in d.gaps("a") if g["reason"] == CRASH_GAP], 60, "a's crash gap")[0]
        for c in "ab":  # several segments after the first crash, while x keeps crashing its own worker
            wait_for(lambda: len(_after_crash(d, c)) >= 4, 120, f"{c} recording on")
        assert d.proc.poll() is None, d.log[-4000:]
        assert d.worker_of("a") not in (shared, d.worker_of("b")), "a and b are in quarantine workers of their own"
        assert d.log.count("x crashed alone") >= 1
    finally:
        assert d.stop() == 0, d.log[-4000:]
    for c in "ab":
        # exactly one gap, the first crash, and no hole beside it: from the first segment to the
        # last, each piece of the timeline (footage, the recovered segment the crash cut, the gap)
        # begins where the one before ended. Each camera is measured from its own gap: the two
        # come back in workers of their own, in either order (measuring b from a's gap once
        # took b's first segment after the crash for a 3 s hole, design/0063).
        gaps = d.gaps(c)
        assert [g["reason"] for g in gaps] == [CRASH_GAP], gaps
        timeline = sorted([(r["start_us"], r["end_us"], r["state"]) for r in d.segments(c)]
                          + [(g["from_us"], g["to_us"], "gap") for g in gaps])
        holes = [(p, n) for p, n in zip(timeline, timeline[1:]) if n[0] != p[1]]
        assert not holes, (c, holes)
        assert len(_after_crash(d, c)) >= 4, (c, timeline)
    assert not _complete(d, "x", crash["to_us"]), "x never recorded again"


def test_a_camera_declaring_16000x16000_is_not_decoded_and_alarmed_and_its_neighbours_record_on(tmp_path):
    """Its stream is a real 320x240 clip whose SPS says 16000x16000 (tests/support/sps.py); the
    fake camera serves it as any other. The image checks refuse it before a decoder sees it."""
    clip = make_clip(tmp_path / "clips", width=320, height=240, fps=20, gop=20, seconds=10)
    big = tmp_path / "big.h264"
    big.write_bytes(with_sps(clip.video.read_bytes(), h264_sps(16000, 16000)))
    assert declared_size("h264", big.read_bytes()) == (16000, 16000)
    with RtspServer({"a": f"clip:{clip.video}@20", "b": f"clip:{clip.video}@20", "big": f"clip:{big}@20"}) as server:
        data = tmp_path / "data"
        config = write_config(tmp_path / "edged.toml", data, [{"id": c, "url": server.url(c)} for c in ("a", "b", "big")],
                              recorder={"workers": 1}, tables={"health": {
                                  "sample_interval": "2s", "sample_interval_max": "2s", "raise_after": "2s", "clear_after": "4s", "min_pixels": 0}})
        d = Daemon(config, data, tmp_path / "edged.log").start()
        try:
            wait_for(lambda: alarms(d, lambda r: r["key"] == "picture_too_big:big", active=True), 90,
                     "the picture_too_big alarm of the 16000x16000 camera")
            for c in ("a", "b", "big"):
                wait_for(lambda: len(_complete(d, c)) >= 3, 120, f"{c} recording")
            assert "recorder worker 0 exited" not in d.log
            assert "16000x16000" in d.log
        finally:
            assert d.stop() == 0, d.log[-4000:]
        for c in ("a", "b"):
            assert d.gaps(c) == [], d.gaps(c)
