"""Issue 90 item 1 (design/0370) on the real daemon: steps of under a day, each vouched for by the
cameras, added up to more than the maximum.

edged records two real cameras (gst-rtsp-server) on the true clock, stops cleanly, and starts again
23 h ahead, then 46 h ahead, in the same boot (its monotonic time carries over: a few seconds), under
the LD_PRELOAD clock shim of tests/test_clock_step_daemon.py. The cameras follow the box's clock (a
spoofed site NTP server) and name another NTP server over ONVIF, so they count as independent and
agree with the host. No office, no NTS. With a 40 h maximum and 1 s passes, nothing recorded before
the first restart is destroyed by age: cameras may hold destruction back, never move judged time
forward. On main (086c4852) each step was under the cameras' one-day limit and each vouched pass
became the new proven time: every segment of the first run went as `max_retention` in the third.
"""

from __future__ import annotations

import time
import uuid

from storage.catalog import open_db
from tests.support.catalog import rows
from tests.support.daemon import wait_for
from tests.test_time_box_daemon import OTHER_NTP, Site, by_age, complete, passes, standing

H = 3_600_000_000


def test_steps_under_a_day_across_restarts_destroy_nothing_recorded_before(tmp_path, monkeypatch):
    site = Site(tmp_path, monkeypatch, OTHER_NTP, {"min_retention": "1h", "max_retention": "40h"})
    boot = str(uuid.uuid4())  # one boot throughout: the proven bound is carried on the monotonic clock
    try:
        d = site.start(0, boot)
        try:
            wait_for(lambda: len(complete(d)) >= 6, 120, "six segments on the true clock")
        finally:
            assert d.stop() == 0, d.log[-4000:]
        earlier = {r["id"] for r in rows(open_db(site.data / "catalog.db"), "segments")}
        gone: set[int] = set()
        alarm: list[dict] = []
        for ahead, n in ((23 * H, 8), (46 * H, 25)):
            d = site.start(ahead, boot)
            try:
                before = passes(d)
                t0 = time.monotonic()
                wait_for(lambda: passes(d) >= before + n, 120, f"{n} retention passes {ahead // H} h ahead")
                gone |= {r["segment_id"] for r in by_age(d)} & earlier
                alarm = standing(d)
            finally:
                assert d.stop() == 0, d.log[-4000:]
            print(f"\nissue 90 item 1: {ahead // H} h ahead, {passes(d) - before} passes in "
                  f"{time.monotonic() - t0:.0f} s: {len(gone)} of {len(earlier)} segments recorded before the "
                  "first restart destroyed as max_retention")
        assert gone == set(), f"{len(gone)} of {len(earlier)} segments destroyed by age on steps the cameras vouched for"
        assert len(alarm) == 1, "one alarm stands, 46 h ahead of what retention can prove"
        assert "cameras never vouch" in alarm[0]["message"] and "confirm-time" in alarm[0]["message"], alarm
    finally:
        site.close()
