"""An alarm's words across the wire (issue 80, design/0342): a box's alarm carries its message's
template and values (`words`, mqtt/kinds.py) beside the English; the office keeps them and says the
alarm in the sites' language, its title from the kind the box declared (storage/alarm_kinds.py) and
its message from the same words the box's catalog has; an alarm from a box before issue 80 (English
only) still shows, in its English. The dashboard's site page and the auditor's month page are read
in Chromium."""

from __future__ import annotations

import asyncio
import json
import threading
from datetime import datetime

import pytest
from babel.messages.pofile import read_po

from central import config, finding_words, login
from central.i18n import Speaker
from central.intake import schema
from central.store.store import Store, now_us
from central.verifier.verifier import Verifier
from edged.alarms import Alarms
from edged.i18n import Msg, N_
from storage import alarm_kinds
from storage.catalog import CatalogWriter
from tests.support.ports import free_port
from tests.test_central_month import TAIPEI, _feed
from tests.test_wire_kinds import ROOT

BLURRED = Msg(N_("picture blurred (focus {focus} < {floor})"), focus="12.0", floor="40.0")  # edged/rules/health.py's


def _catalog(domain: str):
    with open(ROOT / f"{domain}/locale/zh_TW/LC_MESSAGES/{domain}.po", "rb") as f:
        return read_po(f, locale="zh_TW")


@pytest.mark.pure
def test_the_office_says_each_alarm_as_the_box_does():
    """Every alarm kind's title, and every message the picture's rules make, is in the office's
    catalog with the box's own words (scripts/i18n compile copies them from edged.po)."""
    box, office = _catalog("edged"), _catalog("central")
    wanted = {k.title for k in alarm_kinds.KINDS.values()} | {BLURRED.template}
    unlike = sorted(m for m in wanted if office.get(m) is None or office.get(m).string != box.get(m).string)
    assert not unlike, f"alarm words the office says otherwise than the box (run scripts/i18n compile): {unlike}"


def test_the_box_sends_an_alarms_words_beside_its_english(tmp_path):
    """edged/alarms.py: a raise made with a Msg carries its template and values as `words`, which
    the office's schema takes; one made with a plain string (a caller not yet on Msg) carries none."""
    published: list[dict] = []

    async def scenario() -> None:
        writer = CatalogWriter(tmp_path / "catalog.db")
        await writer.start()
        try:
            alarms = Alarms(writer)

            async def publish(event: dict) -> None:
                published.append(event)

            alarms.publish.connect(publish)
            await alarms.raise_(alarm_kinds.VIDEO_BLURRED, BLURRED, camera="cam")
            await alarms.raise_(alarm_kinds.CAMERA_OFFLINE, "camera cam2 is not recording", camera="cam2")
        finally:
            await writer.close()

    asyncio.run(scenario())
    blurred, offline = published
    assert blurred["words"] == BLURRED.stored() and blurred["message"] == str(BLURRED)
    assert "words" not in offline
    for event in published:
        assert schema.check("alarm", json.dumps({"seq": 1, "ts_us": 1, **event}).encode())["id"] == event["id"]


@pytest.mark.pure
def test_an_alarms_words_are_said_in_the_sites_language():
    zh, en = Speaker("zh-TW", TAIPEI), Speaker("en", TAIPEI)
    row = {"message": str(BLURRED), "said": BLURRED.stored()}
    assert finding_words.alarm_message(zh, row) == "畫面模糊（清晰度 12.0，低於 40.0）"
    assert finding_words.alarm_message(en, row) == str(BLURRED)
    old = {"message": "camera cam-1 is not recording: connection refused", "said": None}
    assert finding_words.alarm_message(zh, old) == old["message"], "a box before issue 80: its English"
    assert finding_words.alarm_title(zh, "video_blurred", "video_blurred:cam") == "畫面模糊"
    assert finding_words.alarm_title(zh, "lens_from_a_newer_box", "lens_from_a_newer_box:cam") == \
        "lens_from_a_newer_box:cam", "a kind this office does not know: its key"


@pytest.mark.pure
def test_the_words_must_be_a_template_and_values():
    body = {"seq": 5, "ts_us": 5, "action": "raise", "id": "video_blurred:cam", "kind": "video_blurred"}
    assert schema.check("alarm", json.dumps({**body, "words": BLURRED.stored()}).encode())["words"] == BLURRED.stored()
    for bad in ("picture blurred", {"params": {}}, {"template": 5}, {"template": "x", "params": [1]}):
        with pytest.raises(schema.Malformed, match="words"):
            schema.check("alarm", json.dumps({**body, "words": bad}).encode())


def _store(tmp_path, t0: int) -> None:
    """The month's fixture (tests/test_central_month.py: an old box's forged alarm, findings) and a
    new box's blurred picture, with its words."""
    path = tmp_path / "central-data" / "central.db"
    _feed(path, t0)
    raise_ = {"seq": t0 + 60, "ts_us": t0 + 60, "action": "raise", "id": "video_blurred:cam", "kind": "video_blurred",
              "severity": "critical", "camera": "cam", "message": str(BLURRED), "words": BLURRED.stored(),
              "at_us": t0 + 60}
    old = {"seq": t0 + 61, "ts_us": t0 + 61, "action": "raise", "id": "camera_offline:cam2", "kind": "camera_offline",
           "severity": "critical", "camera": "cam2", "message": "camera cam2 is not recording, said in English",
           "at_us": t0 + 61}
    store = Store(path)
    store.ingest([("edged/v1/s/n1/alarm", json.dumps(m).encode()) for m in (raise_, old)], now_us())
    Verifier(store, TAIPEI, gap_grace_us=0).run_once()
    kept = {a["id"]: a for a in store.open_alarms("s")}
    assert json.loads(kept["video_blurred:cam"]["said"]) == BLURRED.stored()
    assert kept["camera_offline:cam2"]["said"] is None
    store.close()


@pytest.mark.browser
def test_the_dashboard_and_the_month_say_the_alarms_in_chinese(tmp_path):
    from central.pages.dashboard import Dashboard
    from tests.support.browser import launch

    t0 = now_us() - 120_000_000
    ym = datetime.fromtimestamp((t0 + 30) / 1e6, TAIPEI).strftime("%Y-%m")
    _store(tmp_path, t0)
    cfg = tmp_path / "c.toml"
    password = "the office's own words"
    cfg.write_text('[storage]\ndata_dir = "central-data"\n[report]\nlanguage = "zh-TW"\ntimezone = "Asia/Taipei"\n'
                   f'[dashboard.accounts.lin]\nrole = "auditor"\npassword_hash = "{login.hash_password(password)}"\n')
    loop, port = asyncio.new_event_loop(), free_port()
    dash = Dashboard(config.load(cfg))
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    asyncio.run_coroutine_threadsafe(dash.start("127.0.0.1", port), loop).result(30)
    base = f"http://127.0.0.1:{port}"
    pw, browser = launch()
    try:
        page = browser.new_context().new_page()
        page.goto(f"{base}/login")
        page.fill("input[name=user]", "lin")
        page.fill("input[name=password]", password)
        page.click("button[type=submit]")
        page.wait_for_url(f"{base}/")
        page.goto(f"{base}/site/s")
        alarms = page.inner_text("body").split("未解除警報", 1)[1]  # the open alarms' table and what follows
        said = "畫面模糊（清晰度 12.0，低於 40.0）"
        assert "畫面模糊" in alarms and said in alarms, alarms                 # the new box's: title and words
        assert "video_blurred:cam" not in alarms, "the kind's title, not its key"
        assert "攝影機離線" in alarms and "camera cam2 is not recording, said in English" in alarms  # the old box's
        assert "資料磁碟已滿" in alarms, "the forged alarm's kind, by its title"
        page.goto(f"{base}/site/s/month/{ym}")
        month = page.inner_text("body")
        assert "畫面模糊" in month and said in month and "攝影機離線" in month, month
        assert "影像提早銷毀" in month, "the findings said in Chinese too"
    finally:
        browser.close()
        pw.stop()
        asyncio.run_coroutine_threadsafe(dash.close(), loop).result(30)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
