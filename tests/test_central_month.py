"""The auditor's month at the dashboard (issue 43 item 6, design/0117): every finding kind has a
title and explanation in zh_TW, a forged alarm is suspect (never "None"), the CSV opens in Excel;
then one Chromium run over a store fed directly (no edged daemon): the month page in zh-TW with
ROC dates, a destruction with its reason and hash, an access with its approval chain by name, the
findings translated, a suspect alarm, and a CSV downloaded."""

from __future__ import annotations

import asyncio
import csv
import io
import json
import re
import threading
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from central import compliance, finding_words, login, month
from central.i18n import Speaker
from central.store import Store, now_us
from central.verifier import Verifier
from storage import audit
from storage.keys import chainhead
from storage.keys.nodekey import NodeKey

ROOT = Path(__file__).resolve().parent.parent
TAIPEI = ZoneInfo("Asia/Taipei")
SHA = "ab" * 32


def finding_kinds() -> set[str]:
    """Every finding kind the docs' table names or central/ raises."""
    doc = (ROOT / "docs/ref/central.md").read_text(encoding="utf-8")
    table = doc.split("What each finding means:", 1)[1].split("\n\n", 2)[1]
    kinds = {k for line in table.splitlines()[2:] for k in re.findall(r"`([a-z_]+)`", line.split("|")[1])}
    code = "\n".join(p.read_text(encoding="utf-8") for p in (ROOT / "central").glob("*.py"))
    kinds |= set(re.findall(r'Finding\(\s*"([a-z_]+)"', code))
    kinds |= set(re.findall(r"'([a-z_]+)', '(?:critical|warning|info)'", code))           # written in SQL
    kinds |= set(re.findall(r'(?:rejects|refused)\.append\(\([^"]*"([a-z_]+)"', code))    # refused messages
    kinds |= set(re.findall(r'kind = "([a-z_]+)" if .* else "([a-z_]+)"', code)[0])
    return kinds


@pytest.mark.pure
def test_every_finding_kind_has_a_title_and_explanation_in_zh_tw():
    kinds = finding_kinds()
    assert {"audit_fork", "destroyed_early", "min_retention_breached", "seq_implausible", "quota_exceeded"} <= kinds
    missing = sorted(kinds - set(finding_words.FINDINGS))
    assert not missing, f"finding kinds without a title and explanation in central/finding_words.py: {missing}"
    assert not set(finding_words.FINDINGS) - kinds, "a line for a kind nothing raises"
    zh = Speaker("zh-TW", TAIPEI)
    for kind, words in [*finding_words.FINDINGS.items(), ("?", finding_words.UNKNOWN)]:
        for text in words:
            said = zh.word(text)
            assert said != text and not re.search(r"[a-z]{3}", said.replace("edged", "")), (kind, said)


@pytest.mark.pure
@pytest.mark.parametrize("alarm, why", [
    ({"severity": "critical", "raised_us": 1_000}, None),
    ({"severity": "maintenance", "raised_us": 1_000}, None),
    ({"severity": None, "raised_us": 1_000}, "unknown severity"),
    ({"severity": "CRITICAL", "raised_us": 1_000}, "unknown severity"),
    ({"severity": "warning", "raised_us": 10_000 + compliance.FUTURE_SLACK_US}, None),   # a drift
    ({"severity": "warning", "raised_us": 10_001 + compliance.FUTURE_SLACK_US}, "start in the future"),
    ({"severity": "info", "raised_us": "soon"}, "start in the future"),
])
def test_an_alarm_with_a_bad_severity_or_a_future_start_is_suspect(alarm, why):
    assert compliance.suspect(alarm, 10_000) == why


@pytest.mark.pure
def test_the_csv_is_the_pages_cells_in_utf8_with_a_bom():
    zh = Speaker("zh-TW", TAIPEI)
    at = int(datetime(2026, 11, 3, 9, 5, 1, tzinfo=TAIPEI).timestamp() * 1e6)
    rows = [{"raised_us": at, "cleared_us": None, "node": "s/n1", "id": "a1", "kind": "x", "severity": None,
             "camera": "=cmd()", "suspect": "unknown severity"}]
    body = month.to_csv(zh, "alarms", rows)
    assert body.startswith(b"\xef\xbb\xbf")
    got = list(csv.reader(io.StringIO(body[3:].decode("utf-8"))))
    assert got[0] == ["發生時間", "解除時間", "節點", "警報", "警報類型", "嚴重度", "監視器", "可疑"], got[0]
    assert got[1] == ["115/11/03 09:05:01", "-", "n1", "a1", "x", "", "'=cmd()", "可疑：嚴重度不明"]
    assert [str(v) for v in month.cells(zh, "alarms", rows[0])] == got[1][:6] + ["=cmd()", got[1][7]], \
        "the page shows the same cells (escaped as HTML, not as CSV)"


# the page in Chromium ---------------------------------------------------------------------------------
def _chain(t0: int) -> list[dict]:
    """carol files request 7, alice approves it as grant 7, bob views camera cam with it."""
    steps = [("carol", "request.file", {"request": 7}), ("alice", "request.approve", {"request": 7, "grant": 7}),
             ("bob", "grant.use", {"grant": 7, "camera": "cam"})]
    prev, out = audit.GENESIS, []
    for i, (actor, action, detail) in enumerate(steps, 1):
        body = {"seq": i, "at_us": t0 + i, "actor": actor, "action": action, "detail": detail}
        h = audit.record_hash(prev, body)
        out.append({"seq_local": i, "at_us": t0 + i, "actor": actor, "action": action, "detail": detail,
                    "prev_hash": prev, "hash": h})
        prev = h
    return out


def _feed(path: Path, t0: int) -> None:
    key, base = NodeKey(Ed25519PrivateKey.generate()), "edged/v1/s/n1"

    def durable(seq: int, body: dict) -> bytes:
        return json.dumps({"seq": seq, "ts_us": seq, **body}).encode()
    birth = {"ts_us": t0 - 1000, "version": "0.2", "session": 1, "config_hash": "h", "public_key": key.public_b64,
             "cameras": [{"id": "cam"}], "retention": {"min_days": 30, "max_days": 365}}
    msgs = [(f"{base}/status", b"online"), (f"{base}/birth", json.dumps(birth).encode())]
    msgs += [(f"{base}/audit", durable(t0 + 10 + i, {**r, "signed_head": chainhead.sign(
        key, "s", "n1", r["seq_local"], r["hash"], t0 + 20)})) for i, r in enumerate(_chain(t0))]
    # footage ten days old destroyed as past a maximum of 365 days: early, a critical finding
    msgs.append((f"{base}/retention", durable(t0 + 30, {"camera": "cam", "reason": "max_retention",
                                                        "start_us": t0 - 10 * 86_400_000_000,
                                                        "end_us": t0 - 10 * 86_400_000_000 + 60_000_000,
                                                        "destroyed_us": t0 + 30, "bytes": 1000, "sha256": SHA,
                                                        "segment_id": 41})))
    msgs.append((f"{base}/alarm", durable(t0 + 40, {"action": "raise", "id": "forged", "kind": "disk_full",
                                                    "severity": "bogus", "camera": "cam", "at_us": t0 + 40})))
    store = Store(path)
    store.ingest(msgs, now_us())
    Verifier(store, TAIPEI, gap_grace_us=0).run_once()
    store.close()


@pytest.mark.browser
def test_the_auditors_month_in_zh_tw_in_chromium(tmp_path):
    from central import config
    from central.dashboard import Dashboard
    from tests.support.browser import launch
    from tests.support.cameras import free_port

    t0 = now_us() - 120_000_000
    when = datetime.fromtimestamp((t0 + 30) / 1e6, TAIPEI)
    ym, roc_day = when.strftime("%Y-%m"), f"{when.year - 1911}/{when.month:02d}/{when.day:02d}"
    _feed(tmp_path / "central-data" / "central.db", t0)
    cfg = tmp_path / "c.toml"
    password = "a month of footage"
    cfg.write_text('[storage]\ndata_dir = "central-data"\n[report]\nlanguage = "zh-TW"\ntimezone = "Asia/Taipei"\n'
                   f'[dashboard.accounts.lin]\nrole = "auditor"\npassword_hash = "{login.hash_password(password)}"\n')
    loop, port = asyncio.new_event_loop(), free_port()
    dash = Dashboard(config.load(cfg))
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    asyncio.run_coroutine_threadsafe(dash.start("127.0.0.1", port), loop).result(30)
    pw, browser = launch()
    try:
        page = browser.new_context(accept_downloads=True).new_page()
        base = f"http://127.0.0.1:{port}"
        page.goto(f"{base}/login")
        page.fill("input[name=user]", "lin")
        page.fill("input[name=password]", password)
        page.click("button[type=submit]")
        page.wait_for_url(f"{base}/")
        page.goto(f"{base}/site/s")
        page.click(f"a[href='/site/s/month/{ym}']")   # reachable from the site's page
        page.wait_for_url(f"{base}/site/s/month/{ym}")
        text = page.inner_text("body")
        y, m = (int(x) for x in ym.split("-"))
        assert page.inner_text("h1") == f"s 場所，民國{y - 1911}年{m}月"
        assert "每部監視器每日保存達成情形" in text and "銷毀紀錄" in text and "調閱及其核准" in text
        row = page.locator("#destructions + p + table tbody tr").first.inner_text()
        assert row.startswith(roc_day) and "已逾最長保存期限" in row and SHA in row, row
        row = page.locator("#accesses + table tbody tr").first.inner_text().split("\t")
        assert row[0].startswith(roc_day) and row[2:4] == ["調閱", "bob"], row
        assert (row[6], row[8]) == ("carol", "alice"), "the approval chain by the names of the node's records"
        findings = page.locator("#findings + table").inner_text()
        assert "影像提早銷毀" in findings and "請向場所查明原因" in findings, findings
        for kind in finding_words.FINDINGS:   # no id shown as a finding's title
            assert not page.locator(f"#findings + table td:nth-child(4):text-is('{kind}')").count()
        alarm = page.locator("#alarms + table tbody tr.suspect").inner_text()
        assert "可疑：嚴重度不明" in alarm and "None" not in text, alarm
        assert page.evaluate("() => [...document.styleSheets].some(s => [...s.cssRules].some("
                             "r => r.media && r.media.mediaText === 'print'))"), "a print stylesheet"
        with page.expect_download() as got:
            page.click(f"a[href='/site/s/month/{ym}/destructions.csv']")
        body = Path(got.value.path()).read_bytes()
        assert body.startswith(b"\xef\xbb\xbf"), "a BOM: Excel reads UTF-8"
        rows = list(csv.reader(io.StringIO(body[3:].decode("utf-8"))))
        assert rows[0][0] == "銷毀時間" and rows[1][0].startswith(roc_day) and rows[1][3] == "已逾最長保存期限"
        assert rows[1][5] == SHA
    finally:
        browser.close()
        pw.stop()
        asyncio.run_coroutine_threadsafe(dash.close(), loop).result(30)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
