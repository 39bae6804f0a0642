"""Issue 90, "How it is checked": with NTS heard, destruction by age resumes on time (design/0397).

A real NTS server and client (two chronyd, configured by storage/time/nts_conf.py's lines; the
box's follows the office's over NTS only) and the real daemon, which reads the box's chronyd with
`chronyc` as on a box. edged records two real cameras three days before the true time (the clock
shim: from the box's side the footage is three days old once it is rebooted on the true clock, a
downtime it cannot measure), then starts again after a reboot. Nothing vouches: footage past the
1-day maximum by the true time waits, one alarm says how to settle it. Then the site's NTS comes
up: within chrony's reading period and a pass the footage goes, every destruction at an age of at
least the maximum, and the alarm clears.
"""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Iterator

import pytest

from storage.catalog import open_db
from tests.support.catalog import rows
from tests.support.daemon import wait_for
from tests.support.nts import Nts
from tests.test_time_box_daemon import OTHER_NTP, Cameras, Site, by_age, complete, passes, shared_cameras, standing

DAY = 86_400_000_000
CHRONY_EVERY_S = 2  # [time] chrony_interval: chrony is read this often (a minute by default)


@pytest.fixture(scope="module")
def cameras(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cameras]:
    """The clock shim and two cameras under it (tests/test_time_box_daemon.py Cameras)."""
    yield from shared_cameras(tmp_path_factory)


def test_nts_heard_after_a_reboot_resumes_destruction_by_age(cameras, tmp_path, monkeypatch):
    nts = Nts(tmp_path / "nts")
    site = Site(cameras, tmp_path, monkeypatch, OTHER_NTP, {"min_retention": "1h", "max_retention": "1d"},
                tables={"time": {"chrony_interval": f"{CHRONY_EVERY_S}s"}})
    monkeypatch.setenv("PATH", f"{nts.chronyc_on_path(tmp_path / 'chrony-bin')}:{os.environ['PATH']}")
    try:
        d = site.start(-3 * DAY, str(uuid.uuid4()))  # run 1: three days before the true time
        try:
            wait_for(lambda: len(complete(d)) >= 6, 120, "six segments three days back")
        finally:
            assert d.stop() == 0, d.log[-4000:]
        earlier = {r["id"] for r in rows(open_db(site.data / "catalog.db"), "segments")}
        d = site.start(0, str(uuid.uuid4()))  # rebooted on the true clock; chronyd not yet running
        try:
            wait_for(lambda: passes(d) >= 15, 120, "fifteen passes with no authenticated source")
            assert [r for r in by_age(d) if r["segment_id"] in earlier] == [], \
                "destroyed by age after a reboot before anything vouched for the time"
            held = wait_for(lambda: standing(d), 30, "the alarm while nothing vouches")
            assert "NTS" in held[0]["message"] and "confirm-time" in held[0]["message"], held
            nts.start()
            reading = nts.wait_synced()
            synced = time.monotonic()
            wait_for(lambda: [r for r in by_age(d) if r["segment_id"] in earlier], CHRONY_EVERY_S + 30,
                     "destruction by age once NTS is heard")
            took = time.monotonic() - synced
            wait_for(lambda: not standing(d), 30, "the alarm cleared")
        finally:
            assert d.stop() == 0, d.log[-4000:]
            nts.stop()
    finally:
        site.close()
    assert "authenticated time source: chrony:127.0.0.1 (NTS)" in d.log, d.log[-3000:]
    gone = rows(open_db(site.data / "catalog.db"), "destructions", lambda r: r["reason"] == "max_retention")
    mine = [r for r in gone if r["segment_id"] in earlier]
    print(f"\nissue 90, NTS: chrony synchronised over NTS (offset {reading.offset_us} us); {len(mine)} of "
          f"{len(earlier)} segments recorded before the reboot destroyed by age {took:.0f} s later "
          f"(chrony read every {CHRONY_EVERY_S} s)")
    assert len(mine) == len(earlier), "every segment three days old goes once NTS vouches"
    for r in gone:
        assert r["destroyed_us"] - r["end_us"] >= DAY, r
