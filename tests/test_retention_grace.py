"""Issue 14: a retention change is on the record and footage it makes due waits out a grace
period. With an injected clock on a real catalog: max_retention 365 d -> 1 h over footage 2
days old destroys nothing until 24 h later. Against a real daemon and mosquitto: the same
change by SIGHUP is an audit record with old and new values, an alarm, a new birth, and
nothing is destroyed; a change made while edged was stopped is recorded at the next start."""

from __future__ import annotations

import json
import signal
from collections import namedtuple
from dataclasses import replace

from central.checks import node_births
from edged.config import RetentionConfig
from storage import cameras as camera_table
from storage.footage import segment_rows
from storage.catalog import Catalog, open_db
from storage.time.clock import SYSTEM, FakeClock
from storage.retention.holds import add_hold, release_hold
from storage.retention.grace import policy_doc, record_policy
from storage.retention.report import retention_report
from storage.retention.run import (
    run_pass,
)
from tests.support.broker import Broker, Subscriber
from tests.support.cameras import RtspServer, make_clip
from tests.support.catalog import alarms, audit_rows, rows
from tests.support.daemon import Daemon, wait_for, write_config
from tests.support.footage import clip_mp4, write_segments
from storage import alarm_kinds as kinds

S = 1_000_000
H = 3600 * S
D = 24 * H
Usage = namedtuple("Usage", "total used free")


def roomy(_path):
    return Usage(10**12, 10**9, 10**12 - 10**9)


class Cam:
    def __init__(self, id):
        self.id, self.min_retention_us, self.max_retention_us = id, None, None


def catalog_with_old_footage(tmp_path, now, cam="c"):
    cat = Catalog(open_db(tmp_path / "catalog.db"))
    camera_table.sync(cat.db, [{"id": cam, "name": cam, "url": "", "enabled": 1}], cat.clock.now_us())
    paths = []
    for i, start in enumerate([now - 2 * D, now - 2 * D + 60 * S, now - 10 * 60 * S]):
        rel = f"video/{cam}/x/{i}.mp4"
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_bytes(b"x" * 100)
        segment_rows.open_row(cat.db, cam, start, rel, start)
        segment_rows.close(cat.db, rel, {"end_us": start + 60 * S, "bytes": 100, "sha256": f"h{i}"})
        paths.append(rel)
    return cat.db, paths


def test_lowered_max_destroys_nothing_before_the_grace_ends(tmp_path):
    now = SYSTEM.now_us()
    db, paths = catalog_with_old_footage(tmp_path, now)
    cams = [Cam("c")]
    before = RetentionConfig()
    after = replace(before, min_retention_us=60 * S, max_retention_us=H, allow_short_for_tests=True)
    assert record_policy(db, policy_doc(before, cams), grace_us=D, now=now, actor="edged", source={}) is None
    assert record_policy(db, policy_doc(before, cams), grace_us=D, now=now, actor="edged", source={}) is None
    change = record_policy(db, policy_doc(after, cams), grace_us=D, now=now, actor="edged",
                           source={"config": "edged.toml"})
    assert change["lowered"] == {"c": (365 * D, H)} and change["grace_until_us"] == now + D
    rec = json.loads(audit_rows(db, "retention.change")[0]["detail"])
    assert rec["old"]["max_us"] == 365 * D and rec["new"]["max_us"] == H
    assert {"setting": "max_us", "old": 365 * D, "new": H} in rec["changes"] and rec["grace_until_us"] == now + D
    for t in (now, now + H, now + 23 * H, now + D - 1):
        r = run_pass(db, tmp_path, after, cams, roomy, clock=FakeClock(t))
        assert r.destroyed == 0 and [a.kind for a in r.plan.alarms] == [kinds.RETENTION_GRACE.name], t
    assert all((tmp_path / p).exists() for p in paths)
    rep = retention_report(db, after, cams, tmp_path, clock=FakeClock(now + H))  # what edgectl retention shows
    assert rep["grace_us"] == D and rep["cameras"][0]["grace_until_us"] == now + D
    assert rep["cameras"][0]["grace_max_us"] == 365 * D
    r = run_pass(db, tmp_path, after, cams, roomy, clock=FakeClock(now + D))
    assert r.destroyed == 3 and {d.reason for d in r.plan.destroy} == {"max_retention"}
    assert not any((tmp_path / p).exists() for p in paths)


async def test_a_pass_between_a_reload_and_its_record_keeps_the_old_max(tmp_path):
    """SIGHUP hands the retention runner its new config at once, and the change goes on the record
    a step later (edged/daemon/signals.py, after the cameras' reload): a pass in between used to
    destroy footage 2 days old by the new 1 h max there and then (the daemon test below, in a CI run
    of 2026-12-02). It keeps the recorded max, said by the grace alarm, and the record follows."""
    from edged.alarms import Alarms
    from edged.config import default_config
    from edged.daemon.retention_runner import RetentionRunner
    from storage.catalog import CatalogWriter

    now = SYSTEM.now_us()
    db, paths = catalog_with_old_footage(tmp_path, now, cam="demo")
    db.close()
    cfg = default_config(tmp_path)
    before = replace(cfg, retention=replace(cfg.retention, reserve_bytes=1, reserve_percent=None))  # any disk
    after = replace(before, retention=replace(before.retention, min_retention_us=60 * S, max_retention_us=H,
                                              allow_short_for_tests=True))
    writer = CatalogWriter(tmp_path / "catalog.db")
    await writer.start()
    try:
        runner = RetentionRunner(before, writer, Alarms(writer))
        assert await runner.apply_policy(before, {}) is None  # the first policy a catalog sees: stored
        runner.cfg = after  # what the SIGHUP handler does before the reload's steps run
        for _ in range(2):
            r = await runner.pass_once()
            assert r is not None and r.destroyed == 0, [(d.segment, d.reason) for d in r.plan.destroy]
            assert [(a.kind, a.camera) for a in r.plan.alarms] == [(kinds.RETENTION_GRACE.name, "demo")]
        change = await runner.apply_policy(after, {"config": "edged.toml"})
        assert change is not None and change["lowered"] == {"demo": (365 * D, H)}
        r = await runner.pass_once()
        assert r is not None and r.destroyed == 0
        assert all((tmp_path / p).exists() for p in paths)
    finally:
        await writer.close()


def test_a_released_hold_waits_out_the_grace_too(tmp_path):
    now = SYSTEM.now_us()
    db, paths = catalog_with_old_footage(tmp_path, now)
    cams = [Cam("c")]
    cfg = replace(RetentionConfig(), min_retention_us=60 * S, max_retention_us=H, allow_short_for_tests=True)
    hold = add_hold(db, kind="evidence", cameras=["c"], from_us=now - 3 * D, to_us=now, reason="r", case_ref="C",
                    placed_by="carol", expires_us=now + 10 * D, now=now - D)
    assert run_pass(db, tmp_path, cfg, cams, roomy, clock=FakeClock(now)).destroyed == 0
    release_hold(db, hold["id"], actor="carol", reason="done", approver=None, now=now)
    assert run_pass(db, tmp_path, cfg, cams, roomy, clock=FakeClock(now + 23 * H)).destroyed == 0
    assert run_pass(db, tmp_path, cfg, cams, roomy, clock=FakeClock(now + D)).destroyed == 3


def test_retention_change_by_reload_and_by_restart(tmp_path):
    clip = make_clip(tmp_path, fps=20, gop=20, seconds=10)
    broker = Broker(tmp_path / "broker").start()
    sub = Subscriber(broker, "edged/v1/test/node1/#").start()
    data = tmp_path / "data"
    data.mkdir()
    now = SYSTEM.now_us()
    old = write_segments(data, "cam", clip_mp4(clip), [(now - 2 * D, 12)], segment_s=3)
    with RtspServer({"cam": f"clip:{clip.video}@20"}) as cameras:
        def config(**retention):
            return write_config(tmp_path / "edged.toml", data, [{"id": "cam", "url": cameras.url("cam")}],
                                tables={"retention": {"interval": "1s", **retention},
                                        "mqtt": {"enabled": True, "host": "127.0.0.1", "port": broker.port}})

        d = Daemon(config(), data, tmp_path / "edged.log").start()
        try:
            wait_for(lambda: d.segments("cam")[len(old):], 30, "recording")
            births = lambda: [m.json() for m in list(sub.messages) if m.topic.endswith("/birth") and m.payload]
            wait_for(births, 20, "the first birth")
            config(min_retention="1m", max_retention="1h", allow_short_for_tests=True)
            d.signal(signal.SIGHUP)
            rec = wait_for(lambda: audit_rows(d, "retention.change"), 20,
                           "the retention.change record")[0]
            detail = json.loads(rec["detail"])
            assert rec["actor"] == "edged" and detail["old"]["max_us"] == 365 * D and detail["new"]["max_us"] == H
            assert detail["lowered"] == {"cam": {"old_max_us": 365 * D, "new_max_us": H}}
            assert detail["source"]["config"].endswith("edged.toml") and len(detail["source"]["sha256"]) == 64
            alarm = wait_for(lambda: alarms(d, lambda r: r["key"] == kinds.RETENTION_CHANGED.name), 10,
                             "the alarm")[0]
            assert "max_us 365d -> 1h" in alarm["message"] and "after the grace period" in alarm["message"]
            birth = wait_for(lambda: [b for b in births() if b["retention"]["max_days"] < 1], 20, "a new birth")[-1]
            assert birth["retention"]["grace_hours"] == 24 and birth["session"] == births()[0]["session"]
            # the test setting is in the birth (issue 28), and the central office reads both births:
            # the lowered maximum is a warning, the test setting critical
            assert births()[0]["retention"]["allow_short_for_tests"] is False
            assert birth["retention"]["allow_short_for_tests"] is True
            lowered = [f for f in node_births.birth_changes(births()[0], birth) if f.kind == "retention_lowered"]
            assert lowered and lowered[0].severity == "warning", lowered
            changes = {c["setting"]: (c["camera"], c["new"]) for c in lowered[0].detail["changes"]}
            assert changes == {"min_days": (None, 60 / 86_400), "max_days": (None, 1 / 24)}, lowered[0].detail
            # (this box has no source to corroborate its clock with: the office's warning, design/0095)
            assert [(f.kind, f.severity) for f in node_births.birth_rules(birth)] == [
                ("time_sources_none", "warning"), ("test_retention_allowed", "critical")]
            assert [f.kind for f in node_births.birth_rules(births()[0])] == ["time_sources_none"]
            grace = wait_for(lambda: alarms(d, lambda r: r["key"] == "retention_grace:cam"), 20,
                             "the grace alarm")[0]
            assert "destroyed from" in grace["message"]
            passes = len(rows(d, "retention_passes"))
            wait_for(lambda: len(rows(d, "retention_passes")) >= passes + 3, 20, "three more passes")
            assert rows(d, "destructions") == [], "nothing destroyed in the grace period"
            assert d.stop() == 0
            # changed while stopped: recorded at the next start
            config(min_retention="1m", max_retention="1h", allow_short_for_tests=True, on_full="stop")
            d.start()
            wait_for(lambda: len(audit_rows(d, "retention.change")) == 2, 30,
                     "the change made while edged was stopped")
            last = json.loads(audit_rows(d, "retention.change")[-1]["detail"])
            assert last["changes"] == [{"setting": "on_full", "old": "overwrite", "new": "stop"}]
        finally:
            if d.proc.poll() is None:
                assert d.stop() == 0, d.log[-3000:]
            broker.stop()
