"""Issue 27: nothing a person on the box can drive shares a resource with recording
(design/0062). The pools' caps and the storage probe's own thread, table-tested; then floods
on the control socket from other OS accounts against a real daemon recording a real camera:
afterwards the footage has no hole, the catalog and outbox grew by less than 1 MB, the
descriptors are back, and another OS account's login worked throughout."""

from __future__ import annotations

import asyncio
import json
import os
import tempfile
import threading
import time
from pathlib import Path

import pytest

from edged import pools
from edged.coalesce import Coalescer
from edged.daemon import storage_watch
from edged.daemon.storage_watch import StorageWatch
from storage import audit
from tests.support.cameras import RtspServer, free_port, make_clip
from tests.support.broker import Broker
from tests.support.catalog import audit_rows, node_value, rows
from tests.support.daemon import Daemon, wait_for, write_config
from tests.support.flood import fd_count, stored_bytes
from tests.support.insider import (PYTHON, flood_as, grant, live_refusals, login, outcome, playback_starts, request_as,
                                   viewer_cookie)
from tests.support.people import People

FLOOD_S = float(os.environ.get("EDGED_FLOOD_S", "20"))
FLOODER, OTHER, LEGIT = 65534, 65533, 65532   # nobody and two more OS accounts, in group nogroup


def test_pool_caps_each_caller_and_all_together():
    p = pools.Pool("t", "jobs", threads=1, per_caller=2, queue=3)
    p.admit("uid 1"), p.admit("uid 1")
    with pytest.raises(pools.Busy, match="2 jobs"):
        p.admit("uid 1")
    p.admit("uid 2")
    with pytest.raises(pools.Busy):
        p.admit("uid 3")  # three in all
    p.release("uid 1")
    p.admit("uid 3")
    assert p.refused == 2 and dict(p.busy) == {"uid 1": 1, "uid 2": 1, "uid 3": 1}


def test_pool_runs_on_its_own_threads_with_the_callers_cap():
    p = pools.Pool("own", "jobs", threads=2, per_caller=1, queue=8)
    gate = threading.Event()

    async def run():
        pools.CALLER.set("uid 7")
        first = asyncio.ensure_future(p.run(lambda: (gate.wait(10), threading.current_thread().name)[1]))
        await asyncio.sleep(0)
        with pytest.raises(pools.Busy):
            await p.run(lambda: None)   # the same caller, one already running
        pools.CALLER.set("uid 8")
        other = await p.run(lambda: "done")  # another caller is not held up
        gate.set()
        return await first, other
    name, other = asyncio.run(run())
    assert name.startswith("edged-own") and other == "done" and not p.busy


def test_refusals_coalesce_to_one_record_per_caller_a_minute():
    c = Coalescer(window_s=60)
    assert [c.note("s1", t) for t in (0, 1, 2, 3)] == [True, False, False, False]
    assert c.note("s2", 5) is True, "another session has its own minute"
    assert c.due(59) == [] and c.note("s1", 59.5) is False
    assert c.due(61) == [("s1", 4)], "the rest, counted, once the minute is over"
    assert c.due(200) == [] and c.started == {} and c.note("s1", 200) is True


def test_audit_detail_is_bounded():
    long = "x" * 7000
    kept = audit.bounded({"camera": long, "why": "no such camera", "list": [long], long: 1})
    assert kept["why"] == "no such camera" and len(kept["camera"]) < 250 and "7000 characters" in kept["camera"]
    assert kept["camera"] == kept["list"][0] and len(json.dumps(kept)) < 1000
    assert audit.bounded("y" * audit.MAX_TEXT) == "y" * audit.MAX_TEXT


def test_storage_probe_has_a_thread_of_its_own(tmp_path):
    """The default executor full of stuck jobs: the probe still answers at once."""
    (tmp_path / "video").mkdir()
    watch = StorageWatch(tmp_path, None, None, None)
    stuck = threading.Event()

    async def run():
        loop = asyncio.get_running_loop()
        jobs = [loop.run_in_executor(None, stuck.wait, 30) for _ in range(64)]
        try:
            t = time.monotonic()
            probes = await watch._probe()
            return probes, time.monotonic() - t
        finally:
            stuck.set()
            await asyncio.gather(*jobs)
    probes, took = asyncio.run(run())
    assert probes is not None and set(probes) == {"data folder", "video folder"} and took < 2


def test_disk_lost_only_after_consecutive_misses(tmp_path, monkeypatch):
    (tmp_path / "video").mkdir()
    monkeypatch.setattr(storage_watch, "PROBE_TIMEOUT_S", 0.2)
    monkeypatch.setattr(storage_watch, "POLL_S", 0.05)
    real = storage_watch.volume.probe
    answer = threading.Event()
    answer.set()

    def probe(path):
        answer.wait(30)
        return real(path)
    monkeypatch.setattr(storage_watch.volume, "probe", probe)
    lost: list[str] = []

    async def on_lost(why):
        lost.append(why)

    async def on_back(_dev):
        pass

    async def run():
        watch = StorageWatch(tmp_path, "x", on_lost, on_back)
        watch.problem, watch.start = None, {}
        watch._judge = lambda probes: None if probes is not None else "no answer"   # the identity is not tested here
        stopping = asyncio.Event()
        task = asyncio.ensure_future(watch.run(stopping))
        answer.clear()                  # two slow probes, then it answers
        while watch.missed < storage_watch.MISSES - 1:
            await asyncio.sleep(0.02)
        answer.set()
        while watch.missed:
            await asyncio.sleep(0.02)
        assert lost == [], "two misses are not a lost disk"
        answer.clear()                  # now it hangs for good
        while not lost:
            await asyncio.sleep(0.02)
        missed = watch.missed
        answer.set()
        stopping.set()
        await task
        return missed
    assert asyncio.run(asyncio.wait_for(run(), 30)) == storage_watch.MISSES and lost == ["no answer"]


@pytest.mark.skipif(os.geteuid() != 0 or not os.access(PYTHON, os.X_OK),
                    reason="the floods come from other OS accounts (run as root, with /usr/bin/python3)")
def test_floods_cost_recording_nothing(tmp_path):
    """All at once, for FLOOD_S (20 s; EDGED_FLOOD_S to change it): nobody's 300 clients log in with
    unknown names and hold 200 idle connections; another uid's 24 clients verify the audit chain
    with a viewer's session; a viewer account asks for live views of 7,000-character camera ids; a
    custodian starts playback of a grant not yet used from 8 clients at once (each start seeks)."""
    clip = make_clip(tmp_path, fps=20, gop=20, seconds=10)
    run_dir = Path(tempfile.mkdtemp(prefix="edged-flood-"))   # the socket where other uids can reach it
    run_dir.chmod(0o755)
    broker = Broker(tmp_path / "broker").start()
    port = free_port()
    with RtspServer({"cam": f"clip:{clip.video}@20"}) as cameras:
        data = tmp_path / "data"
        config = write_config(tmp_path / "edged.toml", data, [{"id": "cam", "url": cameras.url("cam")}],
                              storage={"segment_length": "2s"},
                              tables={"control": {"socket": str(run_dir / "control.sock"), "group": "nogroup"},
                                      "viewer": {"enabled": True, "listen": f"127.0.0.1:{port}"},
                                      "mqtt": {"enabled": True, "host": "127.0.0.1", "port": broker.port}})
        d = Daemon(config, data, tmp_path / "edged.log").start()
        try:
            wait_for(lambda: "web viewer listening" in d.log, 60, "the web viewer")
            people = People(config, tmp_path)
            people.add("vera", "viewer")
            people.add("lena", "viewer")
            people.add("carl", "custodian")
            people.add("adam", "approver")
            first = wait_for(lambda: d.segments("cam")[:2], 60, "recording")[0]
            sock = d.socket
            token = request_as(OTHER, sock, login("vera"))["result"]["token"]
            cookie = viewer_cookie(port, "lena")
            granted = grant(people, "cam", first["start_us"], first["end_us"])
            custodian = viewer_cookie(port, "carl")
            wait_for(lambda: node_value(d, "mqtt_audit_seq"), 60, "MQTT caught up")
            fds_before, size_before = fd_count(d.proc.pid), stored_bytes(data)
            refused_before = len(audit_rows(d, "live.refused"))

            started = time.monotonic()
            logins = flood_as(FLOODER, sock, {"op": "login", "args": {"name": "ghost", "password": "guess"}},
                              FLOOD_S, 300, idle=200)
            verifies = flood_as(OTHER, sock, {"op": "audit.verify", "args": {}, "token": token}, FLOOD_S, 24)

            async def viewer_flood_and_checks():
                # lena's refusals end 5 s before her minute would: ended with the flood, a last
                # refusal a moment late opened a second minute, whose summary came a minute later
                live = asyncio.ensure_future(live_refusals(port, cookie, FLOOD_S - 5))
                plays = asyncio.ensure_future(playback_starts(port, custodian, granted, "cam", FLOOD_S,
                                                              source="127.0.0.4"))
                during = []
                for k in (1, 2, 3):   # root's own request, and vera's login from a third uid, while it runs
                    await asyncio.sleep(max(0.0, started + k * FLOOD_S / 4 - time.monotonic()))
                    status = await asyncio.to_thread(people.ctl, "status")
                    legit = await asyncio.to_thread(request_as, LEGIT, sock, login("vera"))
                    during.append((status.returncode, legit["ok"]))
                return await live, await plays, during
            live, plays, during = asyncio.run(viewer_flood_and_checks())
            flood, verify = outcome(logins, FLOOD_S + 180), outcome(verifies, FLOOD_S + 180)
            print("logins:", flood, "verify:", verify, "live:", dict(live), "playback:", dict(plays), "during:", during)
            assert during == [(0, True)] * 3, during
            assert flood.get("ok", 0) == 0 and flood.get("idle_held", 0) == 0, flood
            assert flood.get("idle_closed", 0) >= 1, "idle connections are closed or refused"
            assert verify.get("ok", 0) >= 1, verify
            assert live.get(404, 0) >= 100 and set(live) <= {404, "reset", "connect-failed"}, live
            # each start seeks (at most two of carl's at once, the rest 429), then has no offer: 400,
            # and the grant is still unused
            assert plays.get(400, 0) >= 1 and set(plays) <= {400, 429, "reset", "connect-failed"}, plays
            assert rows(d, "grants")[0]["used_us"] is None

            # nobody's bucket: 10 tries, then one each 6 s; each try it had is on the record
            failures = rows(d, "login_failures")
            assert 1 <= len(failures) <= 10 + FLOOD_S / 6 + 2, len(failures)
            assert len(audit_rows(d, "login.failed")) == len(failures)
            assert flood.get("refused", 0) > 10 * len(failures), flood
            # lena's refusals: one record in full a minute, the rest counted in summaries
            refused = audit_rows(d, "live.refused")[refused_before:]
            assert 1 <= len(refused) <= FLOOD_S / 60 + 1 and all(len(r["detail"]) < 1000 for r in refused)
            wait_for(lambda: sum(json.loads(r["detail"])["refused"] for r in audit_rows(d, "live.refused.summary"))
                     + len(refused) >= live[404], 120, "the summary that counts the rest of lena's refusals")
            assert "storage lost" not in d.log and "did not answer" not in d.log, d.log[-3000:]
            wait_for(lambda: fd_count(d.proc.pid) <= fds_before + 5, 60, "descriptors back to normal")
            grown = stored_bytes(data) - size_before
            assert grown < 1_000_000, f"catalog and outbox grew by {grown} bytes"
            segs = [s for s in d.segments("cam") if s["start_us"] >= first["start_us"]]
            assert all(a["end_us"] == b["start_us"] for a, b in zip(segs, segs[1:]))
            assert segs[-1]["end_us"] - first["start_us"] > FLOOD_S * 1e6 and d.gaps("cam") == []
        finally:
            assert d.stop() == 0, d.log[-3000:]
            broker.stop()


def test_a_silent_media_worker_is_killed(monkeypatch):
    """A seek the worker does not answer in time kills it: the viewing ends, the thread is free."""
    from edged.viewer import playback
    monkeypatch.setattr(playback, "ANSWER_S", 0.05)   # the worker is still importing PyAV by then
    reader = playback.RemoteRangeReader([playback.Piece(Path("/nonexistent.mp4"), 0, 10_000_000)], 0, 10_000_000, 720)
    t = time.monotonic()
    assert reader.seek(0) is None and reader.ended and reader._worker is None
    assert time.monotonic() - t < 10


def test_one_stuck_view_does_not_hold_up_the_sweep():
    """Two views whose session ended: the first's close never returns, the second is still closed."""
    from edged.viewer import rules as view_rules
    from edged.viewer.views import View, Views
    from storage.time.clock import SYSTEM

    class Access:
        clock = SYSTEM

    views = Views(Access(), None, view_rules.ViewLimits(3_600_000_000, 3_600_000_000), max_views=4)
    closed, stuck = [], asyncio.Event()

    async def close(view, reason):
        if view.id == "a":
            await stuck.wait()
        views.open.pop(view.id, None)
        closed.append((view.id, reason))
    views.close = close

    async def run():
        for vid in ("a", "b"):
            views.open[vid] = View(vid, "live", "cam", "vera", f"t{vid}", 0, 0, None, None, None, connected=True)
        await asyncio.wait_for(views.sweep({"ta": None, "tb": None}), 5)
        while not closed:
            await asyncio.sleep(0.01)
        await views.sweep({"ta": None})   # "a" is being closed already: not twice
        assert views.closing == {"a"}
        stuck.set()
        while len(closed) < 2:
            await asyncio.sleep(0.01)
    asyncio.run(asyncio.wait_for(run(), 10))
    assert closed == [("b", "session ended"), ("a", "session ended")] and not views.open
