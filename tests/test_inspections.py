"""Inspections against a real daemon: written on schedule, signed, countersigned, overdue
when left unsigned, and listed with their anomalies and signatures in the monthly register."""

from __future__ import annotations

import csv
import json
import signal
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from storage.time.clock import SYSTEM
from storage.health.inspections import SCHEDULED
from tests.support.cameras import RtspServer, free_port, make_clip
from tests.support.catalog import alarms, audit_rows, rows as table_rows
from tests.support.daemon import Daemon, wait_for, write_config
from tests.support.people import People
from storage import alarm_kinds as kinds


def next_minute_window() -> str:
    """A one-minute window starting at the next whole minute at least 12 s away (a reload read on a
    loaded box before it falls due: a due date read after its start would be the next day's)."""
    start = (datetime.fromtimestamp(SYSTEM.now_us() / 1e6) + timedelta(seconds=72)).replace(second=0, microsecond=0)
    if start.hour == 0 and start.minute == 0 or (start + timedelta(minutes=1)).day != start.day:
        pytest.skip("the next minute crosses midnight; a window cannot")
    end = start + timedelta(minutes=1)
    return f"{start:%H:%M}-{end:%H:%M}"


def scheduled(run: dict) -> bool:
    return run["kind"] == SCHEDULED


def overdue(alarm: dict) -> bool:
    return alarm["key"] == kinds.INSPECTION_OVERDUE.name


def test_scheduled_inspection_register_and_signatures(tmp_path, monkeypatch):
    clip = make_clip(tmp_path, fps=20, gop=20, seconds=10)
    with RtspServer({"counter": f"clip:{clip.video}@20"}) as cams:
        data = tmp_path / "data"
        cameras = [{"id": "counter", "url": cams.url("counter"), "location": "Counter 1",
                    "purpose": "counter disputes", "manager": "Chen", "contact": "ext. 215"},
                   {"id": "gone", "url": f"rtsp://viewer:hunter2@127.0.0.1:{free_port()}/x", "location": "Back door"}]
        health = {"sample_interval": "2s", "sample_interval_max": "2s", "raise_after": "2s", "clear_after": "2s",
                  "min_width": 320, "min_height": 240, "min_pixels": 0}  # the clip is 320x240: healthy, not degraded

        def configure(inspection: dict[str, str]) -> Path:
            return write_config(tmp_path / "edged.toml", data, cameras, tables={"inspection": inspection, "health": health})

        config = configure({"schedule": "off"})
        d = Daemon(config, data, tmp_path / "edged.log").start()
        try:
            people = People(config, tmp_path, monkeypatch)
            people.add("lin", "custodian")
            people.add("wang", "approver")
            # Once the counter records, the schedule is set by a reload (SIGHUP) and in force at once:
            # the inspection falls due at the next whole minute.
            wait_for(lambda: d.segments("counter") and d.camera("counter")["state"] == "recording", 60,
                     "the counter camera recording")
            configure({"schedule": "daily", "window": next_minute_window(), "sign_within": "1s"})
            d.signal(signal.SIGHUP)
            wait_for(lambda: "the inspection schedule changed by a reload" in d.log, 30, "the schedule reloaded")
            wait_for(lambda: table_rows(d, "inspection_runs", scheduled), 90, "the scheduled inspection")
            run = table_rows(d, "inspection_runs", scheduled)[0]
            records = {r["camera"]: r for r in table_rows(d, "inspections", lambda r: r["run_id"] == run["id"])}
            assert set(records) == {"counter", "gone"}
            gone = json.loads(records["gone"]["items"])
            assert gone["recording"]["ok"] is False and gone["camera_login"]["ok"] is False
            assert "recording runs" in records["gone"]["anomalies"] and "hunter2" not in records["gone"]["anomalies"]
            counter = json.loads(records["counter"]["items"])
            assert counter["recording"]["ok"] and counter["camera_login"]["ok"]
            assert counter["audio"]["ok"] is None, "audio is not required of this camera"

            # Unsigned past sign_within: overdue. Signing clears it.
            wait_for(lambda: alarms(d, overdue, active=True), 20, "the overdue alarm (woken at its deadline)")
            people.as_("wang")
            r = people.ctl("inspect", "sign", str(run["id"]), "--name", "Wang")
            assert r.returncode == 2 and "inspect.sign needs the custodian role" in r.stderr
            people.as_("lin")
            r = people.ctl("inspect", "countersign", str(run["id"]), "--name", "Lin")
            assert r.returncode == 2, "a technician cannot countersign"
            r = people.ctl("inspect", "sign", str(run["id"]), "--name", "Lin Mei",
                           "--note", "gone=cable cut, repair ordered", "--json")
            assert r.returncode == 0, r.stderr
            assert json.loads(r.stdout)["inspector"].startswith("Lin Mei")
            assert not alarms(d, overdue, active=True)
            assert people.ctl("inspect", "sign", str(run["id"]), "--name", "Lin").returncode == 2, "signed once"
            people.as_("wang")
            r = people.ctl("inspect", "countersign", str(run["id"]), "--name", "Wang")
            assert r.returncode == 0, r.stderr

            # A manual inspection, run and signed at once.
            people.as_("lin")
            r = people.ctl("inspect", "--sign", "Lin Mei", "--json")
            assert r.returncode == 0, r.stderr
            manual = json.loads(r.stdout)
            assert manual["kind"] == "manual" and manual["signed_us"] and len(manual["records"]) == 2

            out = tmp_path / "register"
            month = datetime.fromtimestamp(SYSTEM.now_us() / 1e6).strftime("%Y-%m")
            r = people.ctl("inspect", "report", "--month", month, "--out", str(out),
                           "--json")
            assert r.returncode == 0, r.stderr
            summary = json.loads(r.stdout)
            assert summary["runs"] == 2 and summary["unsigned"] == 0
            rows = list(csv.DictReader(open(summary["csv"], encoding="utf-8")))
            assert len(rows) == 4
            sched = [x for x in rows if x["run"] == str(run["id"]) and x["camera"] == "gone"][0]
            assert sched["recording"] == "FAIL" and "cable cut" in sched["handling"]
            assert sched["inspector"].startswith("Lin Mei") and sched["supervisor"].startswith("Wang")
            page = open(summary["html"], encoding="utf-8").read()
            assert "Lin Mei" in page and "Wang" in page and "cable cut" in page and "hunter2" not in page
            # R3.2: the register says when it is due ([inspection] register_due_day, the 5th by default).
            y, m = map(int, month.split("-"))
            assert f"Due to the supervisor by {y + m // 12:04d}-{m % 12 + 1:02d}-05" in page
            actions = [a["action"] for a in audit_rows(d)]
            assert {"inspection.run", "inspection.sign", "inspection.countersign"} <= set(actions)

            notice = people.ctl("cameras", "--notice")
            assert notice.returncode == 0 and "Counter 1" in notice.stdout and "counter disputes" in notice.stdout
            assert "ext. 215" in notice.stdout and "rtsp" not in notice.stdout
        finally:
            d.stop()
