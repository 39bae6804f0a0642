"""Image checks: the metrics on real decoded keyframes of the health clips, the bounded pool,
and a real recorder worker sampling real RTSP cameras while it records.

The metrics are read against the daemon's thresholds (HealthConfig) the way the daemon does (crossed()):
each faulty clip must cross its threshold and the healthy one none.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from pathlib import Path

import av
import numpy as np
import pytest

from recorder import imagecheck as ic
from recorder.events import to_dict
from recorder.sample_budget import slot_us
from edged.config.health import HealthConfig
from storage.time.clock import SYSTEM
from tests.support.cameras import RtspServer
from tests.support.daemon import ROOT, wait_for
from tests.support.health_clips import health_clip

T = HealthConfig()  # the daemon's thresholds, the one table (edged/config/health.py)

S = 1_000_000


@pytest.fixture(scope="module")
def clip_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("health-clips")


def keyframes(clip) -> tuple[str, bytes | None, list[bytes]]:
    """(codec, extradata, every keyframe's bytes) of a clip, as the camera thread sees them."""
    with av.open(str(clip.video), format="h264") as c:
        s = c.streams.video[0]
        frames = [bytes(p) for p in c.demux(s) if p.size and p.is_keyframe]
        return s.codec_context.name, s.codec_context.extradata, frames


def samples(clip_dir, kind: str) -> list[dict]:
    """The image events the pool would emit for each keyframe of a clip, in order."""
    cam = ic.CameraSamples(kind, pool=None)
    codec, extradata, frames = keyframes(health_clip(clip_dir, kind))
    assert len(frames) >= 3, "a 6 s clip with a 2 s GOP has 3 keyframes"
    return [ic.check(cam, codec, extradata, data, k) for k, data in enumerate(frames)]


def crossed(m: dict, similarity: float | None = None) -> set[str]:
    """Which conditions a sample's metrics meet, with the precedence recorder/imagecheck.py asks for."""
    out = set()
    if m["dark"] > T.dark_fraction or m["luma"] < T.dark_luma:
        out.add("dark")
    if m["bright"] > T.bright_fraction:
        out.add("bright")
    if m["contrast"] < T.covered_contrast:
        out.add("covered")
    if out:
        return out  # no usable picture: the other checks would only echo it
    if m["change"] is not None and m["change"] < T.frozen_change:
        out.add("frozen")
    if m["sharpness"] < T.blur_sharpness:
        out.add("blurred")
    if m["colour"] < T.colour_min:
        out.add("mono")
    if similarity is not None and similarity < T.moved_similarity:
        out.add("moved")
    return out


def thumb(event: dict) -> np.ndarray:
    return ic.decode_thumb(event["thumb"])


# the faults, one clip each ---------------------------------------------------------------------
def test_healthy_1080p_colour_stream_crosses_no_threshold(clip_dir):
    events = samples(clip_dir, "healthy")
    ref = thumb(events[0])
    for e in events:
        m = e["metrics"]
        assert (m["width"], m["height"]) == (1920, 1080)
        assert crossed(m, ic.similarity(ref, thumb(e))) == set(), m


@pytest.mark.parametrize("kind, condition", [
    ("black", "dark"), ("bright", "bright"), ("mono", "mono"), ("blurred", "blurred"), ("frozen", "frozen"),
])
def test_each_faulty_stream_crosses_its_threshold(clip_dir, kind, condition):
    events = samples(clip_dir, kind)
    for e in events[1:]:  # the first has nothing to compare `change` with
        got = crossed(e["metrics"])
        assert condition in got, (kind, e["metrics"])
        if condition not in ("dark", "bright"):
            assert got == {condition}, (kind, e["metrics"])  # and nothing else


def test_a_running_burnt_in_clock_does_not_defeat_frozen(clip_dir):
    events = samples(clip_dir, "frozen")
    for e in events[1:]:
        change = e["metrics"]["change"]
        # The clock did change the picture (the test could fail) ...
        assert change > 0, "the burnt-in clock should change a block or two"
        # ... but only a small corner of it.
        assert change < T.frozen_change


def test_low_resolution_stream_is_a_quality_floor_matter_not_an_image_fault(clip_dir):
    events = samples(clip_dir, "lowres")
    assert (events[0]["metrics"]["width"], events[0]["metrics"]["height"]) == (640, 480)
    for e in events:
        assert crossed(e["metrics"]) == set(), e["metrics"]


# moved --------------------------------------------------------------------------------------------
def test_a_different_scene_scores_low_and_the_same_scene_high(clip_dir):
    reference = thumb(samples(clip_dir, "healthy")[0])
    other = [ic.similarity(reference, thumb(e)) for e in samples(clip_dir, "scene")]
    same = [ic.similarity(reference, thumb(e)) for e in samples(clip_dir, "healthy")[1:]]
    dusk = [ic.similarity(reference, thumb(e)) for e in samples(clip_dir, "dim")]
    assert max(other) < T.moved_similarity - 0.2, other
    assert min(same) > T.moved_similarity + 0.3, same
    assert min(dusk) > T.moved_similarity + 0.3, dusk  # darker, flatter, noisier: still the scene
    for e in samples(clip_dir, "scene"):
        assert crossed(e["metrics"], ic.similarity(reference, thumb(e))) == {"moved"}, e["metrics"]


def test_similarity_ignores_light_and_noise_but_not_a_turn(clip_dir):
    grey = samples(clip_dir, "healthy")[1]
    g = thumb(grey).astype(np.float32)
    rng = np.random.default_rng(5)
    for gain, offset, noise in ((0.5, 10, 6), (1.4, 20, 4), (0.3, 0, 12)):
        lit = np.clip(g * gain + offset + rng.normal(0, noise, g.shape), 0, 255)
        assert ic.similarity(g, lit) > 0.8, (gain, offset, noise)
    assert ic.similarity(g, np.roll(g, 1, axis=1)) > 0.6  # a shake of one thumbnail pixel
    assert ic.similarity(g, np.roll(g, 8, axis=1)) < T.moved_similarity  # turned by 1/8 of the view


# the pure functions on made-up pictures ---------------------------------------------------------
def test_changed_fraction_counts_blocks_not_pixels():
    rng = np.random.default_rng(1)
    a = rng.integers(40, 200, (ic.HEIGHT, ic.WIDTH)).astype(np.uint8)
    assert ic.changed_fraction(a, a) == 0.0
    noisy = np.clip(a + rng.normal(0, 2, a.shape), 0, 255)  # noise everywhere, under the block threshold
    assert ic.changed_fraction(a, noisy) == 0.0
    b = a.copy()
    b[:20, :40] = 255 - b[:20, :40]  # a clock-sized corner: 2 x 4 blocks of 18 x 32
    assert ic.changed_fraction(a, b) == pytest.approx(8 / (18 * 32))
    ta, tb = ic.thumbnail(a), ic.thumbnail(b)
    assert 0 < ic.changed_fraction(ta, tb) < 0.03  # thumbnails work the same way
    with pytest.raises(ValueError):
        ic.changed_fraction(a, ta)


def test_similarity_of_flat_pictures_is_zero_and_of_itself_one():
    rng = np.random.default_rng(2)
    a = rng.integers(0, 255, (ic.THUMB_H, ic.THUMB_W)).astype(np.uint8)
    assert ic.similarity(a, a) == pytest.approx(1.0)
    flat = np.full_like(a, 16)
    assert ic.similarity(a, flat) == 0.0
    assert ic.similarity(flat, flat) == 0.0


def test_thumbnail_round_trips_through_the_event():
    grey = np.arange(ic.HEIGHT * ic.WIDTH, dtype=np.uint32).reshape(ic.HEIGHT, ic.WIDTH) % 251
    t = ic.thumbnail(grey.astype(np.uint8))
    assert t.shape == (ic.THUMB_H, ic.THUMB_W) and t.dtype == np.uint8
    assert np.array_equal(ic.decode_thumb(ic.encode_thumb(t)), t)


# the pool ------------------------------------------------------------------------------------------
def test_a_full_pool_skips_and_counts_without_blocking_the_camera_thread(clip_dir):
    codec, extradata, frames = keyframes(health_clip(clip_dir, "healthy"))
    release = threading.Event()
    events: list[dict] = []

    stuck = threading.Event()

    def slow_emit(event):  # the daemon stops reading: the pool thread is stuck in emit
        stuck.set()
        release.wait(30)
        events.append(to_dict(event))

    pool = ic.ImageSampler(slow_emit, threads=1, depth=1)
    pkt = av.Packet(frames[1])
    cams = [pool.camera(f"cam{k}") for k in range(3)]
    for c in cams:
        c.codec, c.extradata = codec, extradata
    try:
        t0 = time.monotonic()
        cams[0].offer(pkt, 1)        # taken by the pool thread, which then blocks in emit
        assert time.monotonic() - t0 < 1.0, "offer() must never wait for the pool"
        # in emit, its event made: a skip counted from now on goes out with cam0's next sample (the
        # queue empty was not enough: on a loaded box the thread was still decoding, and the
        # skip below went out with this sample)
        wait_for(stuck.is_set, 10, "the pool thread to take the first sample and block in emit")
        t0 = time.monotonic()
        cams[1].offer(pkt, 2)        # waits in the queue (depth 1)
        cams[2].offer(pkt, 3)        # queue full: skipped
        cams[0].offer(pkt, 4)        # cam0's sample is still in the pool: skipped
        assert time.monotonic() - t0 < 1.0, "offer() must never wait for the pool"
        assert (cams[0].skipped, cams[1].skipped, cams[2].skipped) == (1, 0, 1)
        release.set()
        wait_for(lambda: len(events) == 2, 10, "the two accepted samples")
        cams[0].offer(pkt, 5)  # the pool is free again: the skip goes out with this one
        wait_for(lambda: len(events) == 3, 10, "cam0's next sample")
    finally:
        release.set()
        pool.close()
    assert [(e["camera"], e["at"], e["skipped"]) for e in events] == [("cam0", 1, 0), ("cam1", 2, 0),
                                                                       ("cam0", 5, 1)]
    assert cams[2].skipped == 1  # still waiting for cam2's next event


def test_a_picture_that_does_not_decode_is_a_skipped_sample(clip_dir, caplog):
    events: list[dict] = []
    pool = ic.ImageSampler(lambda e: events.append(to_dict(e)), threads=1, depth=2)
    cam = pool.camera("cam")
    codec, extradata, frames = keyframes(health_clip(clip_dir, "healthy"))
    cam.codec, cam.extradata = codec, extradata
    try:
        cam.offer(av.Packet(b"\x00\x00\x00\x01\x65" + b"\xff" * 64), 1)  # garbage IDR
        wait_for(lambda: not cam.busy, 10, "the bad sample to be dropped")
        assert cam.skipped == 1 and events == []
        cam.offer(av.Packet(frames[0]), 2)
        wait_for(lambda: events, 10, "the next good sample")
    finally:
        pool.close()
    assert events[0]["skipped"] == 1 and events[0]["metrics"]["change"] is None
    assert "cannot check a picture" in caplog.text


def test_a_decoded_picture_is_checked_without_a_second_decode(clip_dir):
    """A motion camera's detector hands its decoded keyframe (design/0078): the same metrics as
    the packet's own decode, for a fraction of the CPU."""
    events: list[dict] = []
    pool = ic.ImageSampler(lambda e: events.append(to_dict(e)), threads=1, depth=2)
    cam = pool.camera("cam")
    codec, extradata, frames = keyframes(health_clip(clip_dir, "healthy"))
    cam.codec, cam.extradata = codec, extradata
    try:
        cam.offer(av.Packet(frames[0]), 1)
        wait_for(lambda: len(events) == 1, 10, "the packet's sample")
        from_packet = cam.cost_us
        cam.previous = None  # the same picture again: compare like with like
        cam.offer_frame(ic.decode_keyframe(codec, extradata, frames[0]), 2)
        wait_for(lambda: len(events) == 2, 10, "the decoded picture's sample")
    finally:
        pool.close()
    assert events[0]["metrics"] == events[1]["metrics"]
    one = ic.check(ic.CameraSamples("x", None), codec, extradata, frames[0], 0)["cpu_us"]
    two = ic.check(ic.CameraSamples("x", None), codec, extradata, ic.decode_keyframe(codec, extradata, frames[0]),
                   0)["cpu_us"]
    assert two < one / 2, (one, two, from_packet)


def test_the_pool_sets_the_interval_to_its_cpu_budget(clip_dir):
    """The pool measures a check per camera and the rest of the process, and the interval in
    force follows recorder/sample_budget.py; each event says it."""
    events: list[dict] = []
    pool = ic.ImageSampler(lambda e: events.append(to_dict(e)), threads=1, depth=4, shortest_us=1 * S,
                           longest_us=60 * S, review_us=0)
    codec, extradata, frames = keyframes(health_clip(clip_dir, "healthy"))
    cams = [pool.camera(f"cam{k}") for k in range(3)]
    for c in cams:
        c.codec, c.extradata = codec, extradata
    try:
        assert pool.interval_us == 1 * S  # nothing measured yet: the shortest
        for k, c in enumerate(cams):
            c.offer(av.Packet(frames[0]), k)
            wait_for(lambda: len(events) == k + 1, 10, "the sample")
        # A rest of the recorder that spent nothing: any check is over budget, the longest
        assert all(c.cost_us and c.cost_us > 0 for c in cams)
        now = pool._now()
        assert pool.review(now, (now[0] - S, now[1], now[2])) == 60 * S
        # a rest of ten cores: far under budget, the shortest
        assert pool.review(now, (now[0] - S, now[1] - 10 * S, now[2])) == 1 * S
        # a rest the checks outweigh ninefold: sum(costs) * 0.9 / (0.1 * rest), rest = sum(costs) / 9 a second
        round_us = sum(c.cost_us for c in cams)
        assert pool.review(now, (now[0] - S, now[1] - round_us / 9, now[2])) == 60 * S  # 81 s, held at the longest
        pool.longest_us = 600 * S
        assert pool.review(now, (now[0] - S, now[1] - round_us / 9, now[2])) == 81 * S
        # the checks' own CPU is not the rest: the same with the pool's CPU in both
        assert pool.review(now, (now[0] - S, now[1] - round_us / 9 - 5 * S, now[2] - 5 * S)) == 81 * S
        cams[0].offer(av.Packet(frames[1]), 9)
        wait_for(lambda: len(events) == 4, 10, "the next sample")
    finally:
        pool.close()
    # each event says the interval in force once its check was counted (review_us=0: at every check)
    assert all(1 * S <= e["interval_us"] <= 600 * S for e in events)
    assert events[-1]["interval_us"] == pool.interval_us


def test_a_workers_cameras_are_checked_across_the_interval_not_at_once():
    """32 cameras connected together (keyframes every 2 s, the same instants for all), the interval
    the shortest (10 s) until the budget's review makes it 60 s: as the camera thread decides
    (recorder/camera.py), each camera is checked once an interval, and the worker's checks spread
    over it (design/0561): no 2 s holds more than 4 of them, any 40 s between 20 and 24 of the 32
    cameras' (before: all 32 in one keyframe, and a 40 s window 0 or 32)."""
    pool = ic.ImageSampler(lambda e: None, threads=1, depth=1, shortest_us=10 * S, longest_us=60 * S)
    try:
        cams = [pool.camera(f"cam{k}") for k in range(32)]
    finally:
        pool.close()
    start = 1_000 * S + 123_456  # monotonic us at the connection
    due = {c.camera: slot_us(start + 5 * S, 10 * S, c.phase) for c in cams}  # the first run's (recorder/camera.py)
    checks: dict[str, list[int]] = {c.camera: [] for c in cams}
    for mono in range(start + 300_000, start + 900 * S, 2 * S):  # each keyframe
        pool.interval_us = 10 * S if mono < start + 20 * S else 60 * S  # the review
        for c in cams:
            if mono >= due[c.camera]:
                checks[c.camera].append(mono)
                due[c.camera] = c.next_due(due[c.camera], mono)
    for c in cams:
        first, later = checks[c.camera][0], [t for t in checks[c.camera] if t >= start + 120 * S]
        assert start + 5 * S <= first < start + 17 * S  # about one interval in (design/0056)
        assert all(b - a == pytest.approx(60 * S, abs=2 * S) for a, b in zip(later, later[1:]))
    every = sorted(t for ts in checks.values() for t in ts if t >= start + 120 * S)
    assert max(every.count(t) for t in every) <= 4
    for w0 in range(start + 120 * S, start + 800 * S, S):
        assert 20 <= sum(w0 <= t < w0 + 40 * S for t in every) <= 24


# a real worker process ----------------------------------------------------------------------------
class Worker:
    """`python -m recorder.worker` with the daemon's JSON-lines protocol; events collected."""

    def __init__(self, settings: dict, log_path: Path):
        self._log = open(log_path, "wb")
        self.proc = subprocess.Popen([sys.executable, "-m", "recorder.worker"], cwd=ROOT, stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=self._log, text=True, bufsize=1)
        self.events: list[dict] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        self.send(settings)

    def _read(self):
        for line in self.proc.stdout:
            self.events.append(json.loads(line))

    def send(self, msg: dict) -> None:
        self.proc.stdin.write(json.dumps(msg) + "\n")
        self.proc.stdin.flush()

    def of(self, kind: str, camera: str | None = None) -> list[dict]:
        return [e for e in list(self.events) if e["ev"] == kind and (camera is None or e.get("camera") == camera)]

    def stop(self, timeout: float = 30) -> int:
        if self.proc.poll() is None:
            self.send({"cmd": "stop"})
        rc = self.proc.wait(timeout)
        self._reader.join(5)
        self._log.close()
        return rc


def test_worker_sends_image_events_at_the_sampling_rate_while_recording(tmp_path, clip_dir):
    healthy = health_clip(clip_dir, "healthy")
    audio = health_clip(clip_dir, "audio")
    sample_us = 3 * S  # GOP 2 s: samples land 2 or 4 s apart, 3 s on average
    settings = {"data_dir": str(tmp_path / "data"), "segment_us": 4 * S, "fragment_us": S, "fsync_us": 2 * S,
                "connect_timeout_us": 5 * S, "read_timeout_us": 5 * S, "reconnect_max_us": 2 * S,
                "sample_us": sample_us, "sample_max_us": sample_us}
    with RtspServer({"hd": healthy.spec(), "av": audio.spec()}) as server:
        w = Worker(settings, tmp_path / "worker.log")
        try:
            for cam in ("hd", "av"):
                w.send({"cmd": "add", "camera": {"id": cam, "url": server.url(cam)}})
            wait_for(lambda: len(w.of("image", "hd")) >= 2, 60, "two image events")
            # The daemon's reference picture (design/0297): hd's first sample; av's is not a thumbnail.
            w.send({"cmd": "reference", "camera": "hd", "set_us": 7, "thumb": w.of("image", "hd")[0]["thumb"]})
            w.send({"cmd": "reference", "camera": "av", "set_us": 8, "thumb": "AAAA"})
            wait_for(lambda: len(w.of("image", "hd")) >= 6 and len(w.of("image", "av")) >= 6
                     and sum(e["reference_at"] == 7 for e in w.of("image", "hd")) >= 2, 60,
                     "six image events per camera, two of hd's compared with its reference")
            wait_for(lambda: len(w.of("closed", "hd")) >= 3 and w.of("stats", "av"), 30,
                     "three closed segments and stats")
        finally:
            rc = w.stop()
    assert rc == 0, (tmp_path / "worker.log").read_text()
    assert w.of("bye")
    for cam, clip in (("hd", healthy), ("av", audio)):
        images = w.of("image", cam)
        ats = [e["at"] for e in images]
        gaps = np.diff(ats) / S
        assert gaps.min() >= 1.5 and gaps.max() <= 4.5, gaps
        assert np.mean(gaps) == pytest.approx(sample_us / S, abs=0.6), gaps
        ref = thumb(images[0])
        for e in images:
            m = e["metrics"]
            assert (m["width"], m["height"]) == (clip.width, clip.height)
            assert crossed(m, ic.similarity(ref, thumb(e))) == set(), m
            assert e["skipped"] == 0 and 0 < e["decode_ms"] < 1000
        assert images[0]["metrics"]["change"] is None and images[1]["metrics"]["change"] is not None
        # The first sample is one interval into the connection, not its first keyframe (design/0056):
        # the first keyframe after connect + 3 s, with keyframes 2 s apart.
        first = min(e["start_us"] for e in w.of("open", cam))
        assert images[0]["at"] - first >= 1.5 * S, (images[0]["at"], first)
        # The picture's time is the keyframe's wall time: close to when it was sampled.
        assert abs(images[-1]["at"] - SYSTEM.now_us()) < 60 * S
        # Recording is untouched: whole segments hold every frame of their span.
        closed = w.of("closed", cam)
        opens = {e["path"]: e["start_us"] for e in w.of("open", cam)}
        for seg in closed[:-1]:
            span = (seg["end_us"] - opens[seg["path"]]) / S
            assert seg["frames"] == pytest.approx(span * clip.fps, abs=1), seg
            assert seg["sha256"]
        windows = w.of("stats", cam)
        stats = windows[-1]
        # a window's fps is the frames that arrived in its 5 s: a stall of the busy box moves frames into the
        # next window, so the clip's rate is the windows' mean
        assert sum(x["fps"] for x in windows) / len(windows) == pytest.approx(clip.fps, rel=0.15)
        assert stats["keyframe_interval"] == pytest.approx(2.0, abs=0.05)
        # gst-rtsp-server sends RTCP sender reports from this host's clock: no skew but transit.
        assert stats["clock_skew_us"] is not None and abs(stats["clock_skew_us"]) < 2 * S
    # hd's samples after its reference are compared with it, as the daemon would (before: none); av's never
    hd = w.of("image", "hd")
    compared = [e for e in hd if e["reference_at"] == 7]
    assert [e for e in hd if e not in compared] == hd[:len(hd) - len(compared)], "compared from one sample on"
    assert all(e["similarity"] is None and e["reference_at"] is None for e in hd[:len(hd) - len(compared)])
    for e in compared:
        assert e["similarity"] == pytest.approx(ic.similarity(thumb(hd[0]), thumb(e)), abs=1e-4)
        assert e["similarity"] > T.moved_similarity + 0.3
    assert all(e["similarity"] is None and e["reference_at"] is None for e in w.of("image", "av"))
    assert "camera av: reference picture refused" in (tmp_path / "worker.log").read_text()
    assert w.of("stats", "av")[-1]["audio_packets"] > 0 and w.of("stats", "av")[-1]["audio_codec"] == "aac"
    assert w.of("stats", "hd")[-1]["audio_packets"] == 0 and w.of("stats", "hd")[-1]["audio_codec"] is None


def test_sampling_off_sends_no_image_events(tmp_path, clip_dir):
    clip = health_clip(clip_dir, "lowres")
    settings = {"data_dir": str(tmp_path / "data"), "segment_us": 4 * S, "fragment_us": S, "fsync_us": 2 * S,
                "connect_timeout_us": 5 * S, "read_timeout_us": 5 * S, "reconnect_max_us": 2 * S, "sample_us": 0}
    with RtspServer({"cam": clip.spec()}) as server:
        w = Worker(settings, tmp_path / "worker.log")
        try:
            w.send({"cmd": "add", "camera": {"id": "cam", "url": server.url("cam")}})
            wait_for(lambda: len(w.of("stats", "cam")) >= 2, 30, "two stats windows")
        finally:
            assert w.stop() == 0
    assert w.of("image") == []
    assert w.of("stats", "cam")[-1]["keyframe_interval"] == pytest.approx(2.0, abs=0.05)
