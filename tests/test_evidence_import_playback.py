"""A grant's supervised playback of imported footage (issue 76, "a grant's playback ... of the imported
footage"; design/0349: a portable device's footage is a camera's like any other). The real daemon
with its viewer on takes in a body camera's file claiming 2015 by edgectl; a citizen's request names
the device's camera `portable.bwc-7` over ten seconds of its claimed time, an approver grants it, and
a custodian plays it to the citizen in a real headless Chromium: the granted range is shown once, to
its end, watched by the requester and accompanied by the custodian, on the audit chain."""

from __future__ import annotations

import json
import os
from datetime import datetime, timezone
from pathlib import Path

import pytest

from tests.support import portable
from tests.support.browser import CHROMIUM, launch, login_page
from tests.support.cameras import free_port
from tests.support.catalog import audit_rows
from tests.support.daemon import Daemon, wait_for, write_config
from tests.support.people import People
from tests.test_viewer import iso, playing

S = 1_000_000
FRAME = S // 15   # the body camera's file: 15 pictures a second
CLAIMED_2015 = int(datetime(2015, 1, 1, 8, tzinfo=timezone.utc).timestamp() * S)


@pytest.fixture(scope="module")
def bwc(tmp_path_factory):
    d = tmp_path_factory.mktemp("devices")
    os.chmod(d, 0o755)
    path = portable.body_camera(d / "bwc.mp4", seconds=25)
    os.chmod(path, 0o644)
    return path


def test_a_grant_plays_imported_footage_to_its_requester_accompanied(tmp_path, bwc):
    if not Path(CHROMIUM).exists():
        pytest.fail("Debian's chromium-headless-shell is needed for the viewer tests: scripts/bootstrap --test")
    port, data = free_port(), tmp_path / "data"
    cfg = write_config(tmp_path / "edged.toml", data, [{"id": "cam", "url": "synthetic:?width=320&height=240&fps=5"}],
                       tables={"viewer": {"enabled": True, "listen": f"127.0.0.1:{port}"},
                               "health": {"sample_interval": "0s"}})
    base = f"http://127.0.0.1:{port}"
    d = Daemon(cfg, data, tmp_path / "edged.log").start()
    pw = browser = None
    try:
        wait_for(lambda: "web viewer listening" in d.log, 30, "the web viewer")
        people = People(cfg, tmp_path)
        for name, role in (("vera", "viewer"), ("carl", "custodian"), ("adam", "approver")):
            people.add(name, role)
        r = people.as_("carl").ctl("evidence", "import", str(bwc), "--device", "bwc-7", "--by", "officer Lin")
        assert r.returncode == 0, r.stdout + r.stderr
        g_from, g_to = CLAIMED_2015 + 5 * S, CLAIMED_2015 + 15 * S
        r = people.as_("vera").ctl("request", "file", "--kind", "internal", "--category", "lost-property",
                                   "--reason", "a dispute filmed at the duty desk", "--camera", "portable.bwc-7",
                                   "--from", iso(g_from), "--to", iso(g_to), "--requester", "Bob Citizen",
                                   "--org", "Front desk", "--json")
        assert r.returncode == 0, r.stderr
        r = people.as_("adam").ctl("request", "approve", str(json.loads(r.stdout)["id"]), "--reason", "necessary",
                                   "--json")
        assert r.returncode == 0, r.stderr
        grant = json.loads(r.stdout)["grant"]

        pw, browser = launch()
        page = login_page(browser, base, "carl")
        page.goto(base + "/playback")
        page.wait_for_selector("body[data-ready='1']")
        page.fill("#grant", str(grant["id"]))
        page.click("#lookup button")
        page.wait_for_selector("#start", state="visible")
        assert page.input_value("#camera") == "portable.bwc-7"
        page.click("#start")
        page.wait_for_selector("#controls", state="visible")
        playing(page, "the imported footage's playback")
        assert page.text_content("#overlay").startswith("watched by Bob Citizen, accompanied by carl")
        wait_for(lambda: page.evaluate("edged.playback.state") == "ended", 60, "the end of the granted range")
        [stop] = wait_for(lambda: audit_rows(d, "playback.stop"), 10, "the playback's stop record")
        detail = json.loads(stop["detail"])
        assert stop["actor"] == "carl" and detail["camera"] == "portable.bwc-7", detail
        assert detail["reason"] == "end of the granted range", detail
        assert [json.loads(r["detail"])["grant"] for r in audit_rows(d, "grant.use")] == [grant["id"]]
        page.context.close()
        # a camcorder's H.264 has B-frames (this file's libx264: two reordered): the range reader stops at the
        # first picture shown at or past the grant's end, never one decoded before it and shown after; it gives
        # up that reference picture's B-frames before the end with it (three pictures; one more of slack)
        assert g_from <= detail["shown_from_us"] and g_to - 4 * FRAME <= detail["shown_to_us"] < g_to, detail
        print(f"shown {(detail['shown_from_us'] - g_from) / 1000:+.1f} ms after the grant's start to "
              f"{(g_to - detail['shown_to_us']) / 1000:.1f} ms before its end")
    finally:
        if browser is not None:
            browser.close()
        if pw is not None:
            pw.stop()
        d.stop()
