"""The replay of a camera's own recording (design/0106) against GStreamer's ONVIF replay server
(tests/support/profile_g_server.py): frames timed from the 0xABAC extension, stored as segments
that decode, and a start the camera no longer holds refused."""

from __future__ import annotations

import json
import subprocess
import threading
import time

import pytest

from edged.rules import backfill as rules
from recorder.replay import BackfillFile, Replay
from recorder.rtsp_session import RtspFailure
from storage.time.clock import SYSTEM
from tests.support.cameras import packet_pts
from tests.support.profile_g import ProfileGServer

FPS = 10
FRAME_US = 1_000_000 // FPS


@pytest.fixture(scope="module")
def replay_server():
    start = SYSTEM.now_us() // 1_000_000 - 600.0  # the camera has recorded for ten minutes, from a whole second
    with ProfileGServer(start, fps=FPS) as srv:
        yield srv


def decode_errors(path) -> str:
    out = subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-xerror", "-i", str(path), "-f", "null", "-"],
                         capture_output=True, text=True, timeout=60)
    return out.stderr or ("" if out.returncode == 0 else f"ffmpeg exited with {out.returncode}")


def test_replay_frames_carry_the_recordings_times_and_store_as_segments_that_decode(replay_server, tmp_path):
    start_us = int((replay_server.start_s + 120.05) * 1e6)  # not on a frame: the camera starts at its keyframe there
    end_us = start_us + 4_000_000
    replay = Replay(replay_server.url("replay"), start_us, end_us, pace=rules.pace_s)
    began = time.monotonic()
    replay.open()
    try:
        frames = list(replay.frames())
    finally:
        replay.close()
    took = time.monotonic() - began
    assert frames and frames[0].key
    times = [f.t_us for f in frames]
    assert abs(times[0] - start_us) <= FRAME_US, (times[0], start_us)
    assert times[-1] < end_us and end_us - times[-1] <= 2 * FRAME_US
    assert all(abs(b - a - FRAME_US) <= 1000 for a, b in zip(times[1:], times[2:])), times[:5]
    assert replay.untimed == 0
    # the recording's frame n was taken at START + n / FPS: each frame carries that time
    grid = [(t - replay_server.start_s * 1e6) / FRAME_US for t in times[1:]]
    assert all(abs(g - round(g)) * FRAME_US <= 1000 for g in grid), grid[:5]
    assert took < 4.0, f"Rate-Control: no should replay faster than real time ({took:.1f} s for 4 s)"

    assert replay.media is not None
    cuts = [i for i, f in enumerate(frames) if f.key and i and f.t_us - frames[0].t_us >= 2_000_000][:1]
    pieces = [frames[:cuts[0]], frames[cuts[0]:]] if cuts else [frames]
    for n, piece in enumerate(pieces):
        out = BackfillFile(tmp_path / f"s{n}.mp4", replay.media, replay.codec, piece[0], 1_000_000, FRAME_US, {})
        for f in piece:
            out.write(f)
        fields = out.close()
        path = tmp_path / f"s{n}.mp4"
        assert decode_errors(path) == ""
        assert fields["frames"] == len(piece) and fields["sha256"]
        pts = packet_pts(path)
        assert len(pts) == len(piece)
        assert all(abs(p * 1e6 - (f.t_us - piece[0].t_us)) <= 1000 for p, f in zip(pts, piece))


def test_a_start_the_camera_overwrote_is_refused(replay_server):
    start_us = int((replay_server.start_s - 30) * 1e6)
    replay = Replay(replay_server.url("replay"), start_us, start_us + 2_000_000, stop=threading.Event())
    with pytest.raises(RtspFailure) as failed:
        replay.open()
    replay.close()
    assert failed.value.status == 457


def test_an_interrupted_backfill_resumes_where_it_stopped(replay_server, tmp_path):
    """The backfill task in-process (a real catalog, the fake ONVIF device, GStreamer's replay):
    stopped after its first segment, the gap row keeps the progress; the next run fetches the
    rest from there, so the segments abut and none is fetched twice."""
    import asyncio

    from edged.config import parse_config
    from edged.daemon.backfill import Backfill
    from storage.footage import backfill as store, gaps
    from storage import cameras as camera_table
    from storage.catalog import CatalogWriter
    from tests.support.catalog import rows
    from tests.support.profile_g import profile_g_camera

    onvif = profile_g_camera(replay_server, "rtsp://127.0.0.1:9/live")
    data = tmp_path / "data"
    data.mkdir()
    cfg = parse_config({"site": {"id": "t"}, "storage": {"data_dir": str(data), "segment_length": "2s",
                                                          "fragment_length": "500ms"}, "cameras": [
        {"id": "gate", "url": f"rtsp://{onvif.user}:{onvif.password}@127.0.0.1:9/live",
         "onvif": f"127.0.0.1:{onvif.port}", "edge_recording": True}]})
    gap_from = int((replay_server.start_s + 200.02) * 1e6)
    gap_to = gap_from + 6_030_000

    async def scenario() -> tuple[dict, dict, list, list]:
        writer = CatalogWriter(data / "catalog.db")
        await writer.start()
        try:
            await writer.run(lambda c: camera_table.sync(c.db, [{"id": "gate", "name": "gate", "url": "u",
                                                               "enabled": 1}], 0))
            await writer.run(lambda c: gaps.add(c.db, "gate", gap_from, gap_to, "no footage"))
            bf = Backfill(lambda: cfg, writer, data, settle_us=0)
            loop = asyncio.get_running_loop()
            first = asyncio.Event()
            bf.on_segment = lambda: loop.call_soon_threadsafe(first.set)  # edged stops after one segment
            assert await bf.once(first)
            (row,) = await writer.run(lambda c: rows(c.db, "gaps"))
            half = await writer.run(lambda c: rows(c.db, "segments", order="start_us"))
            bf.on_segment = None
            assert await bf.once(asyncio.Event())
            (done,) = await writer.run(lambda c: rows(c.db, "gaps"))
            whole = await writer.run(lambda c: rows(c.db, "segments", order="start_us"))
            assert await writer.run(lambda c: store.open_gaps(c.db, ["gate"])) == []
            return row, done, half, whole
        finally:
            await writer.close()

    try:
        row, done, half, whole = asyncio.run(scenario())
    finally:
        onvif.stop()
    # stopped: the segment being written when the stop came is closed whole, and the progress is its end
    assert row["backfill"] == "pending" and 1 <= len(half) < len(whole), (row, half)
    assert row["backfill_to_us"] == half[-1]["end_us"]
    assert done["backfill"] == "done", done
    assert whole[:len(half)] == half  # what the first run stored is kept as it was
    assert len(whole) >= 3 and all(s["source"] == "backfilled" and s["state"] == "complete" for s in whole)
    for a, b in zip(whole, whole[1:]):  # abutting, none fetched twice
        assert b["start_us"] >= a["end_us"] and b["start_us"] - a["end_us"] <= FRAME_US, (a, b)
    assert whole[0]["start_us"] - gap_from <= FRAME_US and gap_to - whole[-1]["end_us"] <= FRAME_US
    for s in whole:
        assert decode_errors(data / s["path"]) == ""


def test_a_camera_that_overwrote_the_time_gives_up_with_that_reason(replay_server, tmp_path):
    """Recording Search says the card holds the gap's time, but the replay answers 457 Invalid
    Range (the camera overwrote it meanwhile): the gap is given up, and says so; nothing stored."""
    import asyncio

    from edged.config import parse_config
    from edged.daemon.backfill import Backfill
    from storage import cameras as camera_table
    from storage.footage import gaps
    from storage.catalog import CatalogWriter
    from tests.support.catalog import rows
    from tests.support.profile_g import profile_g_camera

    onvif = profile_g_camera(replay_server, "rtsp://127.0.0.1:9/live", recording_from=replay_server.start_s - 900)
    data = tmp_path / "data"
    data.mkdir()
    cfg = parse_config({"site": {"id": "t"}, "storage": {"data_dir": str(data)}, "cameras": [
        {"id": "gate", "url": f"rtsp://{onvif.user}:{onvif.password}@127.0.0.1:9/live",
         "onvif": f"127.0.0.1:{onvif.port}", "edge_recording": True}]})
    gap_from = int((replay_server.start_s - 100) * 1e6)

    async def scenario() -> tuple[dict, list]:
        writer = CatalogWriter(data / "catalog.db")
        await writer.start()
        try:
            await writer.run(lambda c: camera_table.sync(c.db, [{"id": "gate", "name": "gate", "url": "u",
                                                               "enabled": 1}], 0))
            await writer.run(lambda c: gaps.add(c.db, "gate", gap_from, gap_from + 5_000_000, "no footage"))
            assert await Backfill(lambda: cfg, writer, data, settle_us=0).once(asyncio.Event())
            (row,) = await writer.run(lambda c: rows(c.db, "gaps"))
            return row, await writer.run(lambda c: rows(c.db, "segments"))
        finally:
            await writer.close()

    try:
        row, segs = asyncio.run(scenario())
    finally:
        onvif.stop()
    assert row["backfill"] == "given up" and segs == []
    assert json.loads(row["backfill_note"])["text"] == rules.OVERWRITTEN


def test_a_gap_half_overwritten_is_backfilled_in_the_sites_10s_segments_and_says_how_much(replay_server, tmp_path,
                                                                                         caplog):
    """[storage] segment_length = "10s", fragment_length = "2s"; the camera's card no longer holds
    the gap's first 8.5 s. The rest is stored in segments cut on the site's 10 s grid (as the
    recorder cuts), `edgectl status` says how much was filled and why the rest was not, and the
    journal's figure is what was fetched, not the whole gap."""
    import asyncio
    import logging
    import re

    from edged.cli.edgectl import backfill_text
    from edged.config import parse_config
    from edged.daemon.backfill import Backfill
    from storage import cameras as camera_table
    from storage.footage import backfill as store, gaps
    from storage.catalog import CatalogWriter
    from tests.support.catalog import rows
    from tests.support.profile_g import profile_g_camera

    gap_from = int((replay_server.start_s + 300.3) * 1e6)
    gap_to = gap_from + 31_000_000
    onvif = profile_g_camera(replay_server, "rtsp://127.0.0.1:9/live", recording_from=gap_from / 1e6 + 8.5)
    data = tmp_path / "data"
    data.mkdir()
    cfg = parse_config({"site": {"id": "t"}, "storage": {"data_dir": str(data), "segment_length": "10s",
                                                          "fragment_length": "2s"}, "cameras": [
        {"id": "gate", "url": f"rtsp://{onvif.user}:{onvif.password}@127.0.0.1:9/live",
         "onvif": f"127.0.0.1:{onvif.port}", "edge_recording": True}]})

    async def scenario() -> tuple[list, list]:
        writer = CatalogWriter(data / "catalog.db")
        await writer.start()
        try:
            await writer.run(lambda c: camera_table.sync(c.db, [{"id": "gate", "name": "gate", "url": "u",
                                                               "enabled": 1}], 0))
            await writer.run(lambda c: gaps.add(c.db, "gate", gap_from, gap_to, "no footage"))
            assert await Backfill(lambda: cfg, writer, data, settle_us=0).once(asyncio.Event())
            return (await writer.run(lambda c: rows(c.db, "segments", order="start_us")),
                    await writer.run(lambda c: store.in_progress(c.db, 0)))
        finally:
            await writer.close()

    caplog.set_level(logging.INFO, logger="edged.daemon.backfill")
    try:
        segs, shown = asyncio.run(scenario())
    finally:
        onvif.stop()
    assert [s["source"] for s in segs] == ["backfilled"] * len(segs) and len(segs) in (3, 4), segs
    ten = 10_000_000
    for s in segs[1:]:  # each after the first opens at the first keyframe (one a second) on the 10 s wall-clock grid
        assert s["start_us"] % ten < 1_000_000, (s["start_us"] % ten, segs)
    for s in segs[1:-1]:
        assert abs(s["end_us"] - s["start_us"] - ten) <= FRAME_US, s
    for a, b in zip(segs, segs[1:]):
        assert 0 <= b["start_us"] - a["end_us"] <= FRAME_US, (a, b)
    assert segs[0]["start_us"] - (gap_from + 8_500_000) <= 1_000_000 and gap_to - segs[-1]["end_us"] <= FRAME_US
    for s in segs:
        assert decode_errors(data / s["path"]) == ""
    stored = sum(s["end_us"] - s["start_us"] for s in segs)
    (gap,) = shown
    assert gap["backfill"] == "given up" and json.loads(gap["backfill_note"])["text"] == rules.OVERWRITTEN
    assert gap["filled_us"] == stored
    text = backfill_text(gap)
    assert f"backfilled {round(stored / 1e6, 1):g}s of 31s" in text and "overwritten" in text, text
    said = [float(m.group(1)) for r in caplog.records
            if (m := re.search(r"([\d.]+) s of its recording fetched", r.getMessage()))]
    assert said == [round(stored / 1e6, 1)], (said, stored)
