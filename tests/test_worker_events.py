"""The worker pipe's typed events (recorder/events.py, design/0039) and what the supervisor
makes of them when a segment's `Closed` (sent after its hash) arrives after the next `Opened`.

The events go through the real encode/decode and the real supervisor into a real catalog; only
the worker process is left out, so the order the events arrive in is the test's to choose.
"""

from __future__ import annotations

import asyncio

import pytest

from edged.config import default_config
from edged.daemon.recording.supervisor import Supervisor
from recorder import events
from storage import cameras as camera_table
from storage.catalog import CatalogWriter
from storage.footage.segment_rows import COMPLETE, WRITING
from storage.time.clock import FakeClock
from tests.support.catalog import rows

S = 1_000_000
T0 = 1_800_000_000 * S


def test_every_event_survives_the_pipe_and_garbage_is_refused():
    samples = [
        events.State("a", "offline", "refused", "refused", 3, None, T0),
        events.Opened("a", "video/a/x.mp4", T0, T0 + 1, T0 - 1_000 * S),
        events.Closed("a", "video/a/x.mp4", T0 + 60 * S, "boundary", "ab" * 32, T0 + 61 * S, 10, 1500, "h264",
                      1920, 1080, 0),
        events.Closing("a", "video/a/x.mp4", T0, "close failed").closed(None, T0),
        events.Stranded("a", "video/a/y.mp4", T0, "disconnect", "not at its path"),
        events.Stats("a", 25.0, 4_000_000, "h264", 1920, 1080, 1, T0, 2000, 2.0, None, 40, "aac", 0, 0, 0, 0),
        events.Image("a", T0, {"width": 1920, "change": None}, "AAAA", 1.5, 2),
        events.Bye(),
    ]
    for ev in samples:
        line = events.encode(ev)
        assert line.endswith("\n") and line.count("\n") == 1
        assert events.decode(line.encode()) == ev
    assert events.to_dict(samples[1]) == {"ev": "open", "camera": "a", "path": "video/a/x.mp4", "start_us": T0,
                                          "at": T0 + 1, "basis_us": T0 - 1_000 * S}
    for bad in (b"not json", b'{"ev": "ended", "camera": "a"}', b'{"ev": "open", "camera": "a"}', b"[]"):
        with pytest.raises(ValueError):
            events.decode(bad)


def _closed(path: str, end_us: int, reason: str, sha256: str | None = "cd" * 32) -> events.Closed:
    return events.Closed("a", path, end_us, reason, sha256, end_us + S, 1000, 25, "h264", 640, 360, 0)


async def test_a_close_reported_after_the_next_open_gives_the_gap_it_would_have_given_before(tmp_path):
    cfg = default_config(tmp_path)
    writer = CatalogWriter(tmp_path / "catalog.db")
    await writer.start()
    await writer.run(lambda c: camera_table.sync(
        c.db, [{"id": "a", "name": "a", "url": "synthetic:", "enabled": 1}], c.clock.now_us()))
    sup = Supervisor(cfg, writer, clock=FakeClock(T0))
    paths = [f"video/a/{i}.mp4" for i in range(6)]
    try:
        async with asyncio.TaskGroup() as tg:
            sup._tg = tg
            feed = [
                events.Opened("a", paths[0], T0, T0),
                # a minute boundary: the next segment opens while the first is still being hashed
                events.Opened("a", paths[1], T0 + 60 * S, T0 + 60 * S),
                _closed(paths[0], T0 + 60 * S, "boundary"),
                # NTP stepped the clock 30 s forward: closed, reopened at once, hashed later (no gap)
                events.Opened("a", paths[2], T0 + 100 * S, T0 + 100 * S),
                _closed(paths[1], T0 + 70 * S, "host clock step"),
                # the stream stalled; the camera said so, came back, and only then the hash arrived
                events.State("a", "offline", "the stream stalled", "stalled", 1, T0 + 110 * S, T0 + 111 * S),
                events.State("a", "recording", None, None, 1, T0 + 110 * S, T0 + 115 * S),
                events.Opened("a", paths[3], T0 + 115 * S, T0 + 115 * S),
                _closed(paths[2], T0 + 110 * S, "disconnect"),
                # a close that failed: the row is left `writing` for the reconciliation
                events.Opened("a", paths[4], T0 + 175 * S, T0 + 175 * S),
                _closed(paths[3], T0 + 175 * S, "boundary"),
                _closed(paths[4], T0 + 180 * S, "close failed", sha256=None),
                events.Opened("a", paths[5], T0 + 190 * S, T0 + 190 * S),
            ]
            for ev in feed:
                await sup.handle(events.decode(events.encode(ev)), 0)
            sup.gaps.forget(0)  # the worker ends with paths[5] open: nothing waits for it
        gaps = await writer.run(lambda c: rows(c.db, "gaps", order="from_us"))
        segs = {r["path"]: r for r in await writer.run(lambda c: rows(c.db, "segments"))}
    finally:
        await writer.close()
    # the hole at the host clock step is the step, not missing footage: no gap row (design/0096)
    assert [(g["from_us"] - T0, g["to_us"] - T0, g["reason"]) for g in gaps] == [
        (110 * S, 115 * S, "the stream stalled"),
        (180 * S, 190 * S, "close failed"),
    ]
    assert [segs[p]["state"] for p in paths] == [COMPLETE, COMPLETE, COMPLETE, COMPLETE, WRITING, WRITING]
    assert segs[paths[0]]["sha256"] == "cd" * 32 and segs[paths[1]]["end_us"] == T0 + 70 * S
    assert not sup.gaps.unclosed and not sup.gaps.newest


def test_camera_states_keep_one_record_of_state_outage_stats_and_reconnects():
    """edged/daemon/camera_states.py: what the supervisor's offline alarm and the health
    monitor both read (design/0040)."""
    from edged.daemon.camera_states import CameraStates

    clock = FakeClock(T0)
    cams = CameraStates(clock)

    def state(name: str, error: str | None = None) -> str | None:
        return cams.on_state(events.State("a", name, error, None, 0, None, clock.now_us()))

    assert state("connecting") is None
    clock.advance(s=3)
    assert state("recording") == "connecting"
    assert cams.down_since_us("a") is None and cams.down_for_s("a") == 0
    clock.advance(s=60)
    state("offline", "refused")
    down_at = clock.now_us()
    clock.advance(s=4)
    state("connecting")  # a retry does not restart the outage
    clock.advance(s=4)
    state("offline", "refused")
    assert cams.down_since_us("a") == down_at and cams.down_for_s("a") == pytest.approx(8)
    assert (cams.state("a"), cams.error("a"), cams.all()) == ("offline", "refused", {"a": "offline"})
    assert cams.reconnects_within("a", clock.now_us(), 3600 * S) == 1  # recording -> offline once
    cams.mark_offline("b")
    assert cams.state("b") == "offline" and cams.down_since_us("b") is None
    stats = events.Stats("a", 25.0, 1, "h264", 640, 360, 0, T0, None, None, None, 0, None, 0, 0, 0, 0)
    cams.on_stats(stats)
    assert cams.stats("a") == events.to_dict(stats)
    assert cams.take_fresh_stats() == {"a": events.to_dict(stats)} and cams.take_fresh_stats() == {}


def test_a_cameras_skew_heard_before_a_host_step_is_read_against_the_host_clock_before_it(tmp_path):
    """design/0570, with the daemon's own parts (CameraStates, HealthMonitor, the time gate's
    camera readings, corroboration's judge): both cameras' RTCP skews heard agreeing with the host,
    then the host clock stepped 6 h forward before their next stats. On main the skews heard
    before the step were read as current: the cameras still "agreed" with a host 6 h ahead of
    what they had said, for up to a stats window after the step (a test of the steps read that
    as the cameras vouching, then found them 6 h behind). Now they say the host is 6 h ahead
    until a skew measured after the step is heard; the age is monotonic, not wall."""
    from edged.daemon.camera_states import CameraStates
    from edged.daemon.health_monitor import HealthMonitor
    from edged.daemon.time_gate import camera_readings
    from storage.time import corroboration as co
    from tests.support.configs import MINIMAL, write
    from edged.config import load_config

    H = 3600 * S
    cfg = load_config(write(tmp_path, MINIMAL + f'[storage]\ndata_dir = "{tmp_path / "data"}"\n'
                            '[[cameras]]\nid = "door"\nurl = "rtsp://10.0.0.9/x"\n'
                            '[[cameras]]\nid = "yard"\nurl = "rtsp://10.0.0.10/x"\n'))
    clock = FakeClock(T0)
    cams = CameraStates(clock)
    monitor = HealthMonitor(cfg, CatalogWriter(tmp_path / "catalog.db", clock), None, cams, clock)
    read = camera_readings(monitor)

    def heard(skew_us: int) -> None:
        for cam in ("door", "yard"):
            cams.on_state(events.State(cam, "recording", None, None, 0, clock.now_us(), clock.now_us()))
            cams.on_stats(events.Stats(cam, 20.0, 1, "h264", 640, 360, 0, clock.now_us(), None, None, skew_us,
                                       0, None, 0, 0, 0, 0))

    def now() -> list[co.Reading]:
        return read(clock.now_us(), round(clock.monotonic() * S))

    heard(200_000)
    clock.advance(s=2)
    assert [(r.name, r.offset_us, r.age_us) for r in now()] == [("door", 200_000, 2 * S), ("yard", 200_000, 2 * S)]
    assert co.judge(now()).state == co.UNHEARD and co.judge(now()).source == co.CAMERA  # agreeing, vouching nothing
    clock.step(6 * H)  # the host stepped; the cameras' last word is from before it
    clock.advance(s=1)
    assert [r.offset_us for r in now()] == [200_000 - 6 * H] * 2 and [r.age_us for r in now()] == [3 * S] * 2
    verdict = co.judge(now())
    assert (verdict.state, verdict.source) == (co.DISAGREES, co.CAMERA) and "6.0 h ahead" in verdict.why, verdict
    heard(150_000)  # measured after the step: they followed it
    assert [r.offset_us for r in now()] == [150_000] * 2 and co.judge(now()).state == co.UNHEARD
