"""The auditor's month at the dashboard (issue 43 item 6, design/0117): every finding kind has a
title and explanation in zh_TW, a forged alarm is suspect (never "None"), the CSV opens in Excel,
the month's figures from a store fed directly (also on PostgreSQL: tests/test_central_postgres.py).
The page itself in Chromium: tests/test_central_month_page.py."""

from __future__ import annotations

import asyncio
import csv
import gc
import io
import json
import re
import tracemalloc
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from central.report import compliance, month
from central import finding_words
from central.checks import verify
from central.pages.dashboard import Dashboard
from central.i18n import Speaker
from central.store.store import Store, now_us
from central.verifier.verifier import Verifier
from storage import audit
from storage.keys import chainhead
from storage.keys.nodekey import NodeKey
from tests.support.catalog import central_add_alarm, central_add_audit

ROOT = Path(__file__).resolve().parent.parent
TAIPEI = ZoneInfo("Asia/Taipei")
SHA = "ab" * 32


def finding_kinds() -> set[str]:
    """Every finding kind the docs' table names or central/ raises."""
    doc = (ROOT / "docs/ref/central.md").read_text(encoding="utf-8")
    table = doc.split("What each finding means:", 1)[1].split("\n\n", 2)[1]
    kinds = {k for line in table.splitlines()[2:] for k in re.findall(r"`([a-z_]+)`", line.split("|")[1])}
    code = "\n".join(p.read_text(encoding="utf-8") for p in (ROOT / "central").rglob("*.py"))
    kinds |= set(re.findall(r'Finding\(\s*"([a-z_]+)"', code))
    kinds |= set(re.findall(r"'([a-z_]+)', '(?:critical|warning|info)'", code))           # written in SQL
    kinds |= set(re.findall(r'(?:rejects|refused)\.(?:append|extend)\(\([^"\n]*"([a-z_]+)"', code))  # refused
    kinds |= set(re.findall(r'return \("([a-z_]+)", (?:f"|Msg\()', code))  # central/intake/plausible.py's verdicts
    kinds |= set(verify.DESTROYED_KINDS.values())  # a destruction's finding, by its verdict
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
    assert got[0] == ["發生時間", "解除時間", "節點", "警報", "警報類型", "警報名稱", "嚴重度", "攝影機", "說明", "可疑"], got[0]
    assert got[1] == ["115/11/03 09:05:01", "-", "n1", "a1", "x", "", "", "'=cmd()", "", "可疑：嚴重度不明"]
    assert [str(v) for v in month.cells(zh, "alarms", rows[0])] == got[1][:7] + ["=cmd()", *got[1][8:]], \
        "the page shows the same cells (escaped as HTML, not as CSV)"


@pytest.mark.pure
@pytest.mark.parametrize("lang, zone", [("zh-TW", "Asia/Taipei"), ("en", "UTC"), ("zh-TW", "Asia/Kolkata"),
                                        ("en", "America/St_Johns")])
def test_the_streamed_destructions_csv_says_what_the_page_says(lang, zone):
    """design/0141: the destructions' CSV is written by a fast path (a minute's text made once);
    cell for cell it is the page's cells, in zones with half-hour offsets and across a DST change."""
    sp = Speaker(lang, ZoneInfo(zone))
    start = int(datetime(2026, 11, 1, 2, tzinfo=ZoneInfo("UTC")).timestamp()) * 1_000_000
    rows = [{"destroyed_us": start + k * 61_000_017, "node": "s/n1", "camera": "=cam" if k % 2 else "cam",
             "reason": ("max_retention", "capacity", "other")[k % 3], "verdict": ("ok", "early", "unjudged")[k % 3],
             "segment_id": k or None, "sha256": "ab" * 32, "bytes": None if k % 5 == 0 else 100,
             "start_us": start - k * 997, "end_us": None if k % 7 == 0 else start + k} for k in range(500)]
    page = [[month.report_html.csv_safe(v) if isinstance(v, str) and v != "-" else v
             for v in month.cells(sp, "destructions", r)] for r in rows]
    out = io.StringIO()
    csv.writer(out).writerows(page)
    streamed = b"".join(month.csv_chunks(sp, "destructions", rows, every=7)).decode()
    assert streamed.split("\r\n", 1)[1] == out.getvalue()


@pytest.mark.pure
def test_every_reason_of_an_access_is_said_in_zh_tw():
    from central.checks.verify import judge_access

    rec = {"action": "grant.use", "at_us": 10, "detail": {"grant": 7}}
    approve = {"actor": "alice (os: root)", "detail": {"expires_us": 5, "mode": "view"}}
    cases = [judge_access({**rec, "detail": {}}, approve=None, filed=None, earlier_uses=0),
             judge_access(rec, approve=None, filed=None, earlier_uses=0),
             judge_access(rec, approve=approve, filed={"actor": "alice"}, earlier_uses=0),
             judge_access(rec, approve=approve, filed=None, earlier_uses=1),
             judge_access(rec, approve=approve, filed=None, earlier_uses=0),
             judge_access({**rec, "action": "export.done"}, approve=approve, filed=None, earlier_uses=0),
             judge_access(rec, approve={"actor": "alice", "detail": {}}, filed=None, earlier_uses=0)]
    assert [ok for ok, _ in cases] == [False] * 6 + [True]
    zh = Speaker("zh-TW", TAIPEI)
    said = [month.why(zh, reason) for _, reason in cases]
    assert len(set(said)) == 7 and all(
        not re.search(r"[a-z]{3}", s.replace("alice", "").replace("view", "")) for s in said), said
    assert said[-1] == "調閱許可 7，核准人 alice" and "alice" in said[2]


# a store fed directly (no edged daemon) ---------------------------------------------------------------------------------
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


def _feed(path: Path, t0: int, destructions: int = 1) -> None:
    key, base = NodeKey(Ed25519PrivateKey.generate()), "edged/v1/s/n1"

    def durable(seq: int, body: dict) -> bytes:
        return json.dumps({"seq": seq, "ts_us": seq, **body}).encode()
    birth = {"ts_us": t0 - 1000, "version": "0.2", "session": 1, "config_hash": "h", "public_key": key.public_b64,
             "cameras": [{"id": "cam"}], "retention": {"min_days": 30, "max_days": 365}}
    msgs = [(f"{base}/status", b"online"), (f"{base}/birth", json.dumps(birth).encode())]
    msgs += [(f"{base}/audit", durable(t0 + 10 + i, {**r, "signed_head": chainhead.sign(
        key, "s", "n1", r["seq_local"], r["hash"], t0 + 20)})) for i, r in enumerate(_chain(t0))]
    # footage ten days old destroyed as past a maximum of 365 days: early, a critical finding
    msgs += [(f"{base}/retention", durable(t0 + 30 + i, {"camera": "cam", "reason": "max_retention",
                                                         "start_us": t0 - 10 * 86_400_000_000,
                                                         "end_us": t0 - 10 * 86_400_000_000 + 60_000_000,
                                                         "destroyed_us": t0 + 30 + i, "bytes": 1000, "sha256": SHA,
                                                         "segment_id": 41 + i})) for i in range(destructions)]
    # a portable camera's recording the box took in (design/0349): listed beside the destructions
    msgs.append((f"{base}/intake", durable(t0 + 35, {"intake": 1, "sha256": SHA, "bytes": 5000, "camera": "portable.bwc-7",
                                                    "device": "bwc-7", "taken_by": "carol", "filmed_by": "officer Lin",
                                                    "request": 7, "segments": 2, "at_us": t0 + 35})))
    msgs.append((f"{base}/alarm", durable(t0 + 40, {"action": "raise", "id": "forged", "kind": "disk_full",
                                                    "severity": "bogus", "camera": "cam", "at_us": t0 + 40})))
    # the camera's time: 60 s live, 3 s backfilled from its recording, 30 s fetched from the standby, 2 s held by none
    a = t0 - 100_000_000
    msgs.append((f"{base}/footage", durable(t0 + 50, {"first_id": 1, "last_id": 9, "spans": {"cam": [
        [a, a + 60_000_000, "live"], [a + 60_000_000, a + 63_000_000, "backfilled"],
        [a + 63_000_000, a + 93_000_000, "standby"], [a + 95_000_000, a + 99_000_000, "live"]]}})))
    store = Store(path)
    store.ingest(msgs, now_us())
    Verifier(store, TAIPEI, gap_grace_us=0).run_once()
    store.close()


@pytest.mark.both_engines
def test_the_months_figures_from_the_store(tmp_path):
    """A destruction one by one with its reason and hash (paged), an access with who filed and
    who approved it, a finding with its words, a forged alarm suspect, from one store."""
    t0 = now_us() - 120_000_000
    ym = datetime.fromtimestamp((t0 + 30) / 1e6, TAIPEI).strftime("%Y-%m")
    path = tmp_path / "central.db"
    _feed(path, t0, destructions=3)
    store = Store(path, readonly=True)
    try:
        m = month.gather(store, "s", ym, TAIPEI, now_us(), page=2, per_page=2)
        everything = month.gather(store, "s", ym, TAIPEI, now_us(), per_page=None)
    finally:
        store.close()
    assert m["destructions_total"] == 3 and [d["segment_id"] for d in m["destructions"]] == [43]
    assert [d["segment_id"] for d in everything["destructions"]] == [41, 42, 43]
    assert {(d["reason"], d["sha256"]) for d in everything["destructions"]} == {("max_retention", SHA)}
    s = month.sections(m)
    assert [(a["who"], a["request"], a["filed_by"], a["approved_by"], a["ok"]) for a in s["accesses"]] == \
        [("bob", 7, "carol", "alice", True)]
    assert [(a["severity"], a["suspect"]) for a in s["alarms"]] == [("bogus", "unknown severity")]
    early = [f for f in s["findings"] if f["kind"] == "destroyed_early"]
    assert early and early[0]["title"] == "footage destroyed early", s["findings"]
    zh = Speaker("zh-TW", TAIPEI)
    assert month.cells(zh, "destructions", everything["destructions"][0])[3] == "已逾最長保存期限"
    assert [x for x in s["retention"] if x["day"] == datetime.fromtimestamp((t0 + 30) / 1e6, TAIPEI)
            .date().isoformat()][0]["destroyed_early"] == 3
    # the time covered by kind: what was backfilled and fetched back shown apart from what was live
    days = [c for c in s["coverage"] if c["camera"] == "cam"]  # one day, or two across a midnight
    day = {k: sum(c[k] for c in days) for k in ("covered", "live", "backfilled", "standby", "stood_in", "not_covered")}
    assert (day["covered"], day["live"], day["backfilled"], day["standby"], day["stood_in"]) in \
        [(97, 64, 3, 30, 0), (96, 63, 3, 30, 0), (96, 64, 3, 29, 0), (96, 64, 2, 30, 0)]  # whole seconds a day
    assert day["not_covered"] > 0 and month.bad("coverage", days[0])  # the rest of the day: no box holds it
    assert month.headers(zh, "coverage")[5] == "自備援主機回補"


# each CSV section streamed (design/0273) ------------------------------------------------------------------------------
class _Dash:
    """What central/pages/month_page.py needs of the dashboard: the store opened read-only in a thread."""

    def __init__(self, path: Path):
        from types import SimpleNamespace

        self.cfg = SimpleNamespace(tz=TAIPEI, open_store=lambda readonly=True: Store(path, readonly=readonly))
        self.sp = Speaker("zh-TW", TAIPEI)

    _read = Dashboard._read   # the dashboard's own: a store opened read-only in a thread, a call


async def _download(dash: _Dash, paths: list[str]) -> dict[str, tuple[int, int, int, int]]:
    """Each path's (status, lines, peak bytes Python held while it was served and read: the
    dashboard's thread, the response and this client together, a page's table rows)."""
    from aiohttp import web
    from aiohttp.test_utils import TestClient, TestServer

    from central.pages import month_page
    from central.pages.pages import ROLE

    async def handler(request: web.Request) -> web.StreamResponse:
        request[ROLE] = "auditor"
        return await month_page.csv_file(dash, request)

    async def page(request: web.Request) -> web.StreamResponse:
        request[ROLE] = "auditor"
        return await month_page.page(dash, request)
    app = web.Application()
    app.router.add_get("/site/{site}/month/{month}/{section}.csv", handler)
    app.router.add_get("/site/{site}/month/{month}", page)
    out = {}
    async with TestClient(TestServer(app)) as http:
        for path in paths:
            gc.collect()
            tracemalloc.start()
            try:
                lines = rows = 0
                tail = b""
                async with http.get(path) as r:
                    async for chunk in r.content.iter_chunked(1 << 16):
                        lines += chunk.count(b"\n")
                        rows += (tail + chunk).count(b"<tr class=")  # one split by a chunk's end counted once
                        tail = chunk[-9:]
                    status = r.status
                peak = tracemalloc.get_traced_memory()[1]
            finally:
                tracemalloc.stop()
            out[path] = (status, lines, peak, rows)
    return out


ALARMS = 20_000


@pytest.mark.slow
@pytest.mark.both_engines  # design/0273: through the cursor
def test_each_csv_section_is_streamed_in_bounded_memory(tmp_path):
    """design/0273: a section's CSV is written as the store's cursor reads it, never the month
    built whole first: with 20,000 alarms in the month (a site-month's worth of a section; the
    whole month built at once held 17 MB for each section), each section's CSV is served and read with
    under 12 MB held (PostgreSQL's cursor reads 5,000 rows a round trip), every row in it, the
    findings' titles and explanations in the site's language."""
    t0 = now_us() - 120_000_000
    ym = datetime.fromtimestamp((t0 + 30) / 1e6, TAIPEI).strftime("%Y-%m")
    path = tmp_path / "central.db"
    _feed(path, t0)
    store = Store(path)
    try:
        store.ingest([("edged/v1/s/n1/alarm", json.dumps({
            "seq": t0 + 100 + i, "ts_us": t0 + 100 + i, "action": "raise", "id": f"a{i}", "kind": "disk_full",
            "severity": "warning", "camera": "cam", "at_us": t0 + 100 + i}).encode()) for i in range(ALARMS)], now_us())
        Verifier(store, TAIPEI, gap_grace_us=0).run_once()
    finally:
        store.close()
    base = f"/site/s/month/{ym}"
    got = asyncio.run(_download(_Dash(path), [f"{base}/{s}.csv" for s in month.SECTIONS]
                                + [f"{base}/alarms.csv?x=whole", "/site/nope/month/2026-01/alarms.csv",
                                   f"{base}/alarms.csv?x=again"]))
    mib = {p.replace(base + "/", ""): round(peak / 2**20, 1) for p, (_s, _h, peak, _r) in got.items()}
    print("peak MiB held a CSV:", mib)
    assert all(status == 200 for p, (status, _h, _p, _r) in got.items() if "nope" not in p), got
    assert got["/site/nope/month/2026-01/alarms.csv"][0] == 404
    assert all(peak < 12 * 2**20 for _s, _n, peak, _r in got.values()), mib
    assert got[f"{base}/alarms.csv"][1] == 1 + 1 + ALARMS, "the forged alarm and the 20,000, each a line"
    assert got[f"{base}/retention.csv"][1] == 1 + len(compliance.month_days(ym, TAIPEI))
    # every row, as the page's cells say it (a row a line: no cell here holds a line break)
    zh = Speaker("zh-TW", TAIPEI)

    def whole(section: str) -> list[list[str]]:
        body = []
        store = Store(path, readonly=True)
        try:
            for chunk in month.csv_chunks(zh, section, month.section_rows(store, section, "s", ym, TAIPEI, now_us())):
                body.append(chunk)
        finally:
            store.close()
        return list(csv.reader(io.StringIO(b"".join(body)[3:].decode("utf-8"))))
    alarms = (whole("alarms"))
    assert len(alarms) == 1 + ALARMS + 1 and alarms[0] == month.headers(zh, "alarms"), len(alarms)
    findings = (whole("findings"))
    early = [r for r in findings[1:] if r[5] == "destroyed_early"]
    title, explanation = (zh.word(w) for w in finding_words.words("destroyed_early"))
    assert early and (early[0][3], early[0][4]) == (title, explanation) and re.search(r"[\u4e00-\u9fff]", title)
    kept = (whole("retention_findings"))
    assert [r[3] for r in kept[1:]] == [title], kept


def _more(path: Path, t0: int, n: int) -> None:
    """``n`` more accesses in the month (each its own request, filed, approved and used once) and
    ``n`` alarms raised and cleared on its day, straight into the store."""
    store = Store(path)
    try:
        with store.writing() as conn:
            for i in range(n):
                seq, at = 1000 + 3 * i, t0 + 1000 + 3 * i
                for k, (actor, action, detail) in enumerate((
                        ("carol", "request.file", {"request": 1000 + i}),
                        ("alice", "request.approve", {"request": 1000 + i, "grant": 1000 + i}),
                        ("bob", "grant.use", {"grant": 1000 + i, "camera": "cam"}))):
                    central_add_audit(conn, "s/n1", seq + k, at + k, actor, action, json.dumps(detail), at + k)
                central_add_alarm(conn, "s/n1", f"b{i}", t0 + 200 + i, t0 + 300 + i, "cam")
    finally:
        store.close()


@pytest.mark.slow
def test_the_page_and_its_csvs_hold_no_more_for_a_month_four_times_the_size(tmp_path, monkeypatch):
    """design/0287: the month page is written as the store's cursors read it, as its CSVs are
    (design/0273): with 1,500 and then 6,000 more accesses and alarms in the month, the page and
    the accesses', alarms' and camera-days' CSVs each hold (tracemalloc's peak while served and
    read) no more than 0.5 MiB more at the larger month (the page built whole held the month's
    rows, and the judge every grant's records), every row on the page and in the CSVs. Pieces of
    200 rows, not 2,000: both months are many pieces long, so what is held is what is in flight."""
    monkeypatch.setattr(month, "CHUNK_ROWS", 200)
    t0 = now_us() - 120_000_000
    ym = datetime.fromtimestamp((t0 + 30) / 1e6, TAIPEI).strftime("%Y-%m")
    base = f"/site/s/month/{ym}"
    paths = [base, f"{base}/accesses.csv", f"{base}/alarms.csv", f"{base}/retention.csv"]
    got = {}
    for n in (1500, 6000):
        path = tmp_path / str(n) / "central.db"
        path.parent.mkdir()
        _feed(path, t0)
        _more(path, t0, n)
        got[n] = asyncio.run(_download(_Dash(path), paths))
    mib = {n: {p.replace(base, "") or "page": round(g[2] / 2**20, 2) for p, g in got[n].items()} for n in got}
    print("peak MiB held:", mib)
    small, large = got[1500], got[6000]
    assert all(g[0] == 200 for g in [*small.values(), *large.values()])
    assert large[base][3] - small[base][3] == 2 * 4500, "the page has each access and each alarm a row"
    assert large[f"{base}/accesses.csv"][1] == 1 + 1 + 6000 and large[f"{base}/alarms.csv"][1] == 1 + 1 + 6000
    assert large[f"{base}/retention.csv"][1] == small[f"{base}/retention.csv"][1]
    assert all(large[p][2] - small[p][2] < 2**19 for p in paths), mib
