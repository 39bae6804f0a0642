"""A camera's day at the web desk (issue 30 item 2, design/0084), on the fixtures of
tests/test_desk.py (a real daemon recording a real RTSP camera, headless Chromium): the camera's
server goes away and comes back, so the day has footage and a gap with the daemon's reason; a
custodian sees both on the timeline, picks the gap's range with the keyboard and lands on the
request and hold forms prefilled with the camera and the range; the listing is on the audit
record, as `edgectl segments` is. A clerk (no footage metadata in the role matrix) and an
account whose cameras do not include this one are refused. Screenshotted in zh-TW and English.
"""

from __future__ import annotations

import signal
from urllib.parse import parse_qs, urlsplit

import pytest

from tests.support.daemon import wait_for
from tests.support.people import password_for
from tests.test_desk import both_languages, desk, shoot  # noqa: F401 (the fixture)


@pytest.fixture(scope="module")
def outage(desk):  # noqa: F811
    """carl the custodian, vera the clerk, olga an auditor of another camera only; then cam1's
    server stops until the camera is offline and starts again: a gap in the day."""
    d = desk
    # a second camera (its server never answers) for an account whose scope is that camera only
    d.daemon.config.write_text(d.daemon.config.read_text() + '\n[[cameras]]\nid = "cam2"\nname = "後門"\n'
                               'url = "rtsp://127.0.0.1:9/none"\n')
    d.daemon.signal(signal.SIGHUP)
    wait_for(lambda: d.daemon.camera("cam2"), 30, "cam2 added")
    d.people.add("carl", "custodian")
    d.people.add("vera", "viewer")
    d.people.add("olga", "auditor", cameras=["cam2"])
    wait_for(lambda: len(d.daemon.segments("cam1")) >= 1, 60, "footage of cam1")
    d.rtsp.stop()
    wait_for(lambda: (d.daemon.camera("cam1") or {}).get("state") == "offline", 60, "cam1 offline")
    d.rtsp.start()
    gap = wait_for(lambda: d.daemon.gaps("cam1"), 90, "the outage filed as a gap")[0]
    wait_for(lambda: any(s["start_us"] >= gap["to_us"] for s in d.daemon.segments("cam1")), 60,
             "footage after the gap")
    return gap


def test_a_custodian_sees_footage_and_a_gap_with_its_reason_and_files_for_a_range(desk, outage):  # noqa: F811
    d, gap = desk, outage
    carl = d.login("carl", password_for("carl"))
    carl.click("nav a[href='/desk/timeline']")          # in the navigation
    assert carl.locator("svg rect.b-footage").count() >= 2, "footage before and after the gap"
    assert carl.locator("svg rect.b-gap").count() == 1
    holes = carl.text_content("main table") or ""   # the reason folds under "technical detail" (design/0103)
    assert gap["reason"] in holes, (gap["reason"], holes)
    listed = [r for r in d.audit("footage.list") if r["actor"] == "carl"]
    assert listed and listed[-1]["detail"]["cameras"] == ["cam1"], "the listing is on the record"
    door = listed[-1]["detail"]   # the desk's door on the record (issue 45 item 6), never the token
    assert door["via"] == "desk" and door["address"] == "127.0.0.1" and len(door["session"]) == 12, door
    shoot(d, carl, "timeline-carl", "zh-TW")

    # the gap's range, picked with the keyboard: Tab to its span, Enter
    span = carl.locator("svg a:has(rect.b-gap)")
    span.focus()
    carl.keyboard.press("Enter")
    carl.wait_for_url("**from=*")
    picked = parse_qs(urlsplit(carl.url).query)
    assert picked["camera"] == ["cam1"]
    assert carl.locator("svg rect.b-range").count() == 1, "the range is drawn"
    start, end = carl.input_value("#range input[name=from]"), carl.input_value("#range input[name=to]")
    assert (start, end) == (picked["from"][0], picked["to"][0]) and start < end
    shoot(d, carl, "timeline-range-carl", "zh-TW")
    carl.click("#range button[formaction='/desk/requests/new']")
    carl.wait_for_url("**/desk/requests/new?*")
    assert carl.is_checked("input[name=cameras][value=cam1]")
    assert (carl.input_value("input[name=from]"), carl.input_value("input[name=to]")) == (start, end)
    carl.go_back()
    carl.click("#range button[formaction='/desk/holds/new']")
    carl.wait_for_url("**/desk/holds/new?*")
    assert carl.is_checked("input[name=cameras][value=cam1]")
    assert (carl.input_value("input[name=from]"), carl.input_value("input[name=to]")) == (start, end)
    carl.context.close()
    both_languages(d, {"timeline": "/desk/timeline"}, "carl", password_for("carl"))


def test_a_clerk_and_an_account_without_the_camera_are_refused(desk, outage):  # noqa: F811
    d = desk
    vera = d.login("vera", password_for("vera"))
    assert vera.locator("nav a[href='/desk/timeline']").count() == 0, "not offered to the clerk"
    r = vera.request.get(d.base + "/desk/timeline?camera=cam1")
    # refused in the office's words (design/0103): no operation key on the page
    assert r.status == 403 and "拒絕：此作業須由" in r.text() and "segments" not in r.text()
    vera.context.close()
    olga = d.login("olga", password_for("olga"))
    olga.goto(d.base + "/desk/timeline?camera=cam1")
    assert olga.locator(".notice-error").count() == 1
    assert olga.locator("svg rect.b-footage").count() == 0, "nothing of cam1 shown"
    assert olga.request.get(d.base + "/desk/timeline?camera=cam1").status == 403
    assert not [r for r in d.audit("footage.list") if r["actor"] == "olga"], "nothing listed"
    olga.context.close()
