"""The video side in the office's words, in Chromium (issue 56 item 1, design/0190): a live tile
whose camera is down says so by the camera's name with what to check, never its id, its address
or the daemon's English; a grant that has expired offers nothing to start on the playback page and
says why. tests/test_desk_words.py reads the same answers without a browser at the five sites;
here the page shows them. A real daemon of a zh-TW site whose only camera does not answer (nothing
listens at its address), real accounts, a grant its approver gave 5 s (`request approve --expires 5s`)."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path

import pytest

from edged.i18n import in_language
from edged.viewer.rules import camera_down_words
from storage.time.clock import SYSTEM
from tests.support.browser import CHROMIUM, launch, login_page
from tests.support.daemon import Daemon, wait_for, write_config
from tests.support.leaks import ascii_separators, leaks
from tests.support.people import People
from tests.support.ports import free_port

ZH = "zh-TW"
NAME = "登記櫃檯"
S = 1_000_000


def iso(us: int) -> str:
    return datetime.fromtimestamp(us / S, timezone.utc).isoformat()


@pytest.mark.browser
def test_a_camera_down_and_an_expired_grant_in_the_persons_words(tmp_path):
    if not Path(CHROMIUM).exists():
        pytest.fail("Debian's chromium-headless-shell is needed: scripts/bootstrap --test")
    port, data = free_port(), tmp_path / "data"
    down = f"rtsp://127.0.0.1:{free_port()}/down"
    cfg = write_config(tmp_path / "edged.toml", data, [{"id": "cam1", "name": NAME, "url": down}],
                       tables={"viewer": {"enabled": True, "listen": f"127.0.0.1:{port}"}})
    cfg.write_text(cfg.read_text().replace('[site]\nid = "test"', '[site]\nid = "test"\nname = "測試地政事務所"\n'
                                           'language = "zh-TW"\ntimezone = "Asia/Taipei"', 1))
    base = f"http://127.0.0.1:{port}"
    d = Daemon(cfg, data, tmp_path / "edged.log").start()
    pw = browser = None
    try:
        wait_for(lambda: "web viewer listening" in d.log, 60, "the web viewer")
        people = People(cfg, tmp_path)
        people.add("vera", "viewer")
        people.add("carl", "custodian")
        people.add("adam", "approver")
        now = SYSTEM.now_us()
        r = people.as_("vera").ctl("request", "file", "--kind", "internal", "--category", "lost-property",
                                   "--reason", "a lost wallet at the counter", "--camera", "cam1",
                                   "--from", iso(now - 600 * S), "--to", iso(now - 60 * S),
                                   "--requester", "Bob Citizen", "--org", "Front desk", "--json")
        assert r.returncode == 0, r.stderr
        r = people.as_("adam").ctl("request", "approve", str(json.loads(r.stdout)["id"]), "--reason", "necessary",
                                   "--expires", "5s", "--json")   # shorter than the site's grant_ttl, as an approver may
        assert r.returncode == 0, r.stderr
        grant = json.loads(r.stdout)["grant"]
        pw, browser = launch()
        carl = login_page(browser, base, "carl")

        # the grid: the tile of the camera that is down says so, by its name, with what to check
        carl.goto(base + "/grid")
        carl.wait_for_selector("body[data-ready='1']")
        words = in_language(ZH, "{camera} is not answering: check that the camera has power and that its network "
                                "cable is plugged in, then try again; if it stays dark, call the technician.")
        assert words != camera_down_words(NAME)   # translated: the catalog has it
        expected = words.format(camera=NAME)
        tile = carl.locator(".tile[data-camera=cam1]")
        wait_for(lambda: expected in tile.inner_text(), 60, "the tile says the camera is down")
        shown = tile.inner_text()
        assert "離線" in shown and "OFFLINE" not in shown, shown   # its state in words too
        assert "cam1" not in shown and "rtsp" not in shown and "127.0.0.1" not in shown, shown
        assert leaks(shown, {NAME}) == [] and ascii_separators(shown) == [], shown

        # the expired grant: the playback page offers nothing to start and says why
        expired = in_language(ZH, "grant {id} expired; file a new request").format(id=grant["id"])
        wait_for(lambda: SYSTEM.now_us() > grant["expires_us"], 120, "the grant to expire")
        carl.goto(f"{base}/playback?grant={grant['id']}")
        carl.wait_for_selector("body[data-ready='1']")
        wait_for(lambda: expired in (carl.text_content("#message") or ""), 30, "the page to say the grant expired")
        assert not carl.is_visible("#start") and not carl.is_visible("#camera") and not carl.is_visible("#watcher")
        said = carl.text_content("#message") or ""
        assert leaks(said, set()) == [] and ascii_separators(said) == [], said
        carl.context.close()
    finally:
        if browser is not None:
            browser.close()
        if pw is not None:
            pw.stop()
        assert d.stop() == 0, d.log[-3000:]
