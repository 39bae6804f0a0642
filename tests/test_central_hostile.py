"""edged-central against a hostile node (issue 28): root on one box has its broker password, so
every message is untrusted input. The schema, the quotas, the Host check and the CSV escaping
as tables; then each hostile message of the issue, a seq jump and a quota breach beside healthy
nodes (one with a forked audit chain) through the store and verifier, and through a real
mosquitto and a real `edged-central run`: the service keeps running (also restarted with the
poison still retained on the broker), the fork is found, each hostile message is a finding,
`status` and the dashboard render."""

from __future__ import annotations

import asyncio
import concurrent.futures
import http.client
import re
import json
import ssl
import urllib.parse
import urllib.error
import urllib.request
from zoneinfo import ZoneInfo

import paho.mqtt.client as paho
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion

from central import login
from central.intake import schema
from central.pages.dashboard import host_allowed
from central.keys.keylist import node_keys
from central.intake.quota import Limits, Quotas
from central.report.report_html import _cell
from central.store.store import Store, now_us
from central.verifier.verifier import Verifier
from storage import audit
from storage.keys import chainhead, fleetkeys, nodecert
from storage.keys.nodekey import NodeKey
from tests.support.broker import Broker, Subscriber, make_pki
from tests.support.catalog import central_put_alarm, central_put_retained
from tests.support.daemon import wait_for
from tests.test_central import Central

UTC = ZoneInfo("UTC")
BIG = 2**70


def chain(n: int, t0: int, actor: str = "carol") -> list[dict]:
    prev, out = audit.GENESIS, []
    for i in range(1, n + 1):
        body = {"seq": i, "at_us": t0 + i, "actor": actor, "action": "login", "detail": {"via": "cli"}}
        h = audit.record_hash(prev, body)
        out.append({"seq_local": i, "at_us": body["at_us"], "actor": actor, "action": "login",
                    "detail": body["detail"], "prev_hash": prev, "hash": h})
        prev = h
    return out


def durable(seq: int, body: dict) -> bytes:
    return json.dumps({"seq": seq, "ts_us": seq, **body}, separators=(",", ":")).encode()


def hostile(t0: int, base: str = "edged/v1/bad/evil") -> list[tuple[str, bytes, bool]]:
    """(topic, payload, retained): each message of issue 28 item 1, a seq jump far past the
    clock, and an alarm whose id is an object."""
    rec = chain(1, t0)[0]
    return [
        (f"{base}/birth", json.dumps({"ts_us": t0, "session": [1], "public_key": "k"}).encode(), True),
        (f"{base}/alarm", b'{"seq":%d,"ts_us":1,"id":"a","action":"raise"}' % BIG, False),
        (f"{base}/alarm", json.dumps({"seq": t0 + 1, "ts_us": {"x": 1}, "id": "a", "action": "raise"}).encode(), False),
        (f"{base}/audit", durable(t0 + 2, {**rec, "at_us": BIG}), False),
        (f"{base}/audit", durable(t0 + 3, rec).replace(b'"detail":{"via":"cli"}', b'"detail":{"x":NaN}'), False),
        (f"{base}/alarm", durable(t0 + 4, {"id": {"o": 1}, "action": "raise"}), False),
        (f"{base}/state", json.dumps({"ts_us": t0, "cameras": 5}).encode(), True),  # harmless in state: allowed
        (f"{base}/birth", json.dumps({"ts_us": t0 + 5, "session": 2, "cameras": 5}).encode(), True),
        (f"{base}/audit", durable(t0 + 6, {**rec, "kind": "chain_head", "signed_head": "abc"}), False),
        (f"{base}/alarm", durable(2**62 - 1, {"id": "jump", "action": "raise"}), False),  # the seq jump
    ]


HOSTILE_FINDINGS = 8  # malformed: birth, seq 2^70, ts_us, at_us, NaN, alarm id, second birth, signed_head


# tables ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("what,payload,why", [
    ("birth", b'{"session":[1]}', "session"),
    ("birth", b'{"cameras":5}', "cameras"),
    ("birth", b'{"cameras":[{"id":{"x":1}}]}', "cameras"),
    ("birth", b'{"retention":{"max_days":"x"}}', "retention"),
    ("alarm", b'{"seq":1180591620717411303424,"ts_us":1,"id":"a","action":"raise"}', "out of range"),
    ("alarm", b'{"seq":1,"ts_us":{"x":1},"id":"a","action":"raise"}', "ts_us"),
    ("alarm", b'{"seq":1,"ts_us":1,"id":{"o":1},"action":"raise"}', "id"),
    ("alarm", b'{"seq":1,"ts_us":1,"id":"a"}', "action is missing"),
    ("alarm", b'{"seq":true,"ts_us":1,"id":"a","action":"raise"}', "seq"),
    ("alarm", b'{"seq":0,"ts_us":1,"id":"a","action":"raise"}', "seq"),
    ("audit", b'{"seq":1,"ts_us":1,"detail":{"x":NaN}}', "not finite"),
    ("audit", b'{"seq":1,"ts_us":1,"detail":{"x":1e999}}', "not finite"),
    ("audit", b'{"seq":1,"ts_us":1,"kind":"chain_head","signed_head":"abc"}', "signed_head"),
    ("audit", b'{"seq":1,"ts_us":1,"seq_local":2,"prev_hash":"x"}', "lacks"),
    ("retention", b'{"seq":1,"ts_us":1,"camera":"c","reason":"capacity","start_us":1,"end_us":1}', "destroyed_us"),
    ("inspection", b'{"seq":1,"ts_us":1,"run":"x"}', "run"),
    ("camera", b'[1,2]', "object"),
    ("state", b'{"a":' + b'[' * 20 + b']' * 20 + b'}', "nested"),
    ("state", b'{"a":"' + b'x' * 5000 + b'"}', "string"),
    ("state", b'\xff\xfe', "UTF-8"),
    ("state", b'x' * (schema.MAX_PAYLOAD + 1), "bytes"),
    ("status", b'online' * 20, "status"),
])
def test_the_schema_refuses_each_malformed_shape(what, payload, why):
    with pytest.raises(schema.Malformed, match=why):
        schema.check(what, payload)


def test_the_schema_accepts_what_an_edge_sends():
    rec = chain(1, 10)[0]
    head = {"seq": 1, "hash": rec["hash"], "at_us": 5, "sig": "c2ln"}
    for what, body in [
        ("birth", {"ts_us": 1, "session": 3, "public_key": "k", "config_hash": "h", "version": "0.2",
                   "cameras": [{"id": "cam", "name": "門口"}], "retention": {"min_days": 30, "max_days": None}}),
        ("state", {"ts_us": 1, "retention": {"achieved_days": 31.5}, "cameras": 5}),
        ("camera", {"ts_us": 1, "recording": True, "fps": 19.9, "health": "ok", "resolution": "1920x1080"}),
        ("alarm", {"seq": 9, "ts_us": 1, "id": "disk", "action": "raise", "severity": "critical"}),
        ("audit", {"seq": 9, "ts_us": 1, **rec, "signed_head": head}),
        ("audit", {"seq": 9, "ts_us": 1, "kind": "command", "detail": {}}),
        ("retention", {"seq": 9, "ts_us": 1, "camera": "c", "reason": "capacity", "start_us": 1, "end_us": 2,
                       "destroyed_us": 3, "bytes": 10, "free_before": -1, "reserve": 5}),
        ("inspection", {"seq": 9, "ts_us": 1, "run": 4, "cameras": {"c": "ok"}}),
        ("reply", {"seq": 9, "ts_us": 1, "ok": True}),
    ]:
        assert schema.check(what, json.dumps(body).encode()) == body
    assert schema.check("birth", b"") is None, "a cleared retained topic"
    assert schema.check("status", b"online") == "online"


def test_quotas_rate_bytes_and_retained_topics():
    q = Quotas(Limits(messages_per_second=10, burst=20, bytes_per_day=10_000, retained_topics=3))
    t = 1_000_000_000_000
    assert [q.admit("s/a", "x", 10, False, t) for _ in range(20)] == [None] * 20
    assert q.admit("s/a", "x", 10, False, t).startswith("rate:")
    assert q.admit("s/b", "x", 10, False, t) is None, "another node has its own bucket"
    assert q.admit("s/a", "x", 10, False, t + 1_000_000) is None, "refilled at 10 a second"
    assert q.admit("s/b", "x", 20_000, False, t).startswith("bytes:")
    for i in range(3):
        assert q.admit("s/c", f"t{i}", 1, True, t) is None
    assert q.admit("s/c", "t0", 1, True, t) is None, "a topic already held is no new topic"
    assert q.admit("s/c", "t9", 1, True, t).startswith("topics:")
    assert q.admit("s/b", "x", 9_000, False, t + 86_400_000_000) is None, "a new day"


@pytest.mark.parametrize("host,ok", [
    ("127.0.0.1:8780", True), ("localhost:8780", True), ("[::1]:8780", True), ("10.1.2.3:8780", True),
    ("central.example.tw", True), ("CENTRAL.example.tw:443", True), ("attacker.example.com:8780", False),
    ("", False), ("127.0.0.1.attacker.example:8780", False),
])
def test_the_dashboard_answers_only_its_own_names(host, ok):
    assert host_allowed(host, "127.0.0.1:8780", ("central.example.tw",)) is ok


@pytest.mark.parametrize("value,cell", [
    ("=HYPERLINK(\"http://x\")", "'=HYPERLINK(\"http://x\")"), ("+1", "'+1"), ("-1+2", "'-1+2"),
    ("@SUM(A1)", "'@SUM(A1)"), ("\tx", "'\tx"), ("\rx", "'\rx"), ("cam-1", "cam-1"), (-5, "-5"), (None, ""),
    (["=a", "b"], "'=a b"),
])
def test_csv_cells_are_never_formulas(value, cell):
    assert _cell(value) == cell


def test_the_key_list_keeps_every_enrolment_of_a_node_and_its_revocation():
    """Built from the office's register (design/0097), not from births: each accepted key with
    when it was accepted, and when revoked."""
    a, b = (NodeKey(Ed25519PrivateKey.generate()) for _ in range(2))
    entries = [{"node": "s/n", "public_key": a.public_b64, "fingerprint": a.fingerprint, "serial": "1",
                "accepted_us": 1, "revoked_us": 3},
               {"node": "s/n", "public_key": b.public_b64, "fingerprint": b.fingerprint, "serial": "2",
                "accepted_us": 5, "revoked_us": None},
               {"node": "s/m", "public_key": b.public_b64, "fingerprint": b.fingerprint, "serial": "3",
                "accepted_us": 2, "revoked_us": None}]
    got = node_keys(entries)
    assert [(x["site"], x["node"]) for x in got] == [("s", "m"), ("s", "n")]
    assert [(k["fingerprint"], k["first_us"], k["last_us"], k["revoked_us"]) for k in got[1]["keys"]] == [
        (a.fingerprint, 1, 3, 3), (b.fingerprint, 5, None, None)]
    central = NodeKey(Ed25519PrivateKey.generate())
    doc = fleetkeys.sign(central, got, 9)
    assert fleetkeys.check(json.dumps(doc), central.fingerprint)["nodes"] == got
    with pytest.raises(fleetkeys.KeyListError, match="altered"):
        fleetkeys.check(json.dumps({**doc, "made_us": 10}))


# the store and the verifier ---------------------------------------------------------------------
def healthy_with_fork(base: str, key: NodeKey, site: str, name: str, t0: int) -> tuple[list, list]:
    """A healthy node's messages, then the same audit record 2 again with another hash (a fork)."""
    birth = {"ts_us": t0, "version": "0.2", "session": 1, "config_hash": "h", "public_key": key.public_b64,
             "cameras": [{"id": "cam"}], "retention": {"min_days": 30, "max_days": 365}}
    c = chain(3, t0)
    first = [(f"{base}/status", b"online", True), (f"{base}/birth", json.dumps(birth).encode(), True),
             (f"{base}/camera/cam/state", json.dumps({"ts_us": t0, "recording": True}).encode(), True)]
    first += [(f"{base}/audit", durable(t0 + 10 + i, {**r, "signed_head": chainhead.sign(
        key, site, name, r["seq_local"], r["hash"], t0 + 20)}), False) for i, r in enumerate(c)]
    forked = {**c[1], "actor": "mallory"}
    forked["hash"] = audit.record_hash(forked["prev_hash"], {"seq": 2, "at_us": forked["at_us"], "actor": "mallory",
                                                             "action": "login", "detail": forked["detail"]})
    return first, [(f"{base}/audit", durable(t0 + 13, forked), False)]


@pytest.mark.both_engines
def test_hostile_messages_are_findings_and_the_fork_beside_them_is_found(tmp_path):
    t0 = now_us() - 60_000_000
    key = NodeKey(Ed25519PrivateKey.generate())
    store = Store(tmp_path / "c.db")
    first, fork = healthy_with_fork("edged/v1/zz/victim", key, "zz", "victim", t0)
    bad = hostile(t0, "edged/v1/aa/evil")
    store.ingest([(t, p) for t, p, _ in bad + first], now_us())
    store.ingest([(t, p) for t, p, _ in fork], now_us())
    v = Verifier(store, UTC, gap_grace_us=0)
    v.run_once()
    kinds = [(f["node"], f["kind"], f["severity"]) for f in store.findings(limit=100)]
    assert ("zz/victim", "audit_fork", "critical") in kinds, kinds
    evil = [k for k in kinds if k[0] == "aa/evil"]
    assert sum(1 for k in evil if k[1] == "malformed_message") == HOSTILE_FINDINGS, evil
    assert ("aa/evil", "seq_implausible", "critical") in evil
    assert len(store.rejected("aa/evil")) == HOSTILE_FINDINGS + 1
    assert store.unverified() == 0


@pytest.mark.both_engines
def test_a_late_message_below_the_cursor_is_still_verified(tmp_path):
    """The cursor blinding of issue 28: a seq a little ahead moves the cursor, the genuine
    messages after it have lower seqs and are verified all the same."""
    t0 = now_us() - 60_000_000
    key = NodeKey(Ed25519PrivateKey.generate())
    store = Store(tmp_path / "c.db")
    first, fork = healthy_with_fork("edged/v1/s/n", key, "s", "n", t0)
    store.ingest([(t, p) for t, p, _ in first], now_us())
    store.ingest([("edged/v1/s/n/alarm", durable(now_us() + 300_000_000, {"id": "x", "action": "raise"}))], now_us())
    # issue 43 item 3 (design/0119): 5 minutes ahead is far past what the node's rate allows since its
    # last message: quarantined as critical, not stored (it was stored with only a seq_gap warning)
    ahead = [f for f in store.findings(node="s/n") if f["kind"] == "seq_beyond_rate"]
    assert [f["severity"] for f in ahead] == ["critical"] and len(store.rejected("s/n")) == 1
    assert store.nodes()[0]["max_seq"] < now_us(), "the cursor did not move"
    v = Verifier(store, UTC, gap_grace_us=0)
    v.run_once()
    store.ingest([(t, p) for t, p, _ in fork], now_us())
    v.run_once()
    assert [f for f in store.findings(node="s/n") if f["kind"] == "audit_fork"]


def test_status_and_the_site_page_render_a_store_holding_what_the_schema_now_refuses(tmp_path):
    """A store written before the schema check may hold a retained `{"cameras": 5}` birth, a
    list as a camera state, a string as retention: the overview and the pages still render."""
    from central.pages import fleet
    from central.cli import main

    store = Store(tmp_path / "central-data" / "central.db")
    store.ingest([("edged/v1/aa/evil/status", b"online")], now_us())
    central_put_retained(store, "aa/evil",
                         [("edged/v1/aa/evil/birth", "birth", '{"cameras": 5, "session": [1], "version": {}}'),
                          ("edged/v1/aa/evil/state", "state", '{"retention": "x"}'),
                          ("edged/v1/aa/evil/camera/c/state", "camera", "[1, 2]")])
    central_put_alarm(store, "aa/evil", 5, 1)
    o = fleet.overview(store, now_us(), 60_000_000)
    n = o["nodes"][0]
    assert (n["cameras"], n["session"], n["version"], n["retention_days"]) == (1, None, None, None)
    store.close()
    cfg = tmp_path / "c.toml"
    cfg.write_text('[storage]\ndata_dir = "central-data"\n')
    assert main(["--config", str(cfg), "status"]) == 0
    assert main(["--config", str(cfg), "status", "--json"]) == 0
    from central import config
    from central.pages.dashboard import Dashboard
    from tests.support.cameras import free_port

    async def pages() -> list[tuple[int, str]]:
        dash, port = Dashboard(config.load(cfg)), free_port()
        await dash.start("127.0.0.1", port)
        try:
            return [await asyncio.to_thread(get, f"http://127.0.0.1:{port}{path}") for path in ("/", "/site/aa")]
        finally:
            await dash.close()
    (s1, p1), (s2, p2) = asyncio.run(pages())
    assert s1 == 200 and s2 == 200 and "evil" in p2 and "<td>5</td>" in p2, p2


def test_the_dashboard_and_the_report_speak_the_sites_language_with_roc_dates(tmp_path):
    """Issue 28 item 3: `[report] language = "zh-TW"`: the dashboard's pages and the report's HTML
    in Traditional Chinese with dates in the ROC calendar (民國 = Gregorian - 1911); the JSON and
    CSV keep English keys for scripts."""
    from datetime import datetime

    from central import config
    from central.cli import main
    from central.pages.dashboard import Dashboard
    from tests.support.cameras import free_port

    taipei = ZoneInfo("Asia/Taipei")
    t0 = now_us() - 60_000_000
    key = NodeKey(Ed25519PrivateKey.generate())
    store = Store(tmp_path / "central-data" / "central.db")
    first, fork = healthy_with_fork("edged/v1/s/n1", key, "s", "n1", t0)
    store.ingest([(t, p) for t, p, _ in first + fork], now_us())
    Verifier(store, taipei, gap_grace_us=0).run_once()
    store.close()
    cfg = tmp_path / "c.toml"
    cfg.write_text('[storage]\ndata_dir = "central-data"\n[report]\nlanguage = "zh-TW"\ntimezone = "Asia/Taipei"\n')

    def roc(d) -> str:
        return f"{d.year - 1911}/{d.month:02d}/{d.day:02d}"
    today = lambda: datetime.fromtimestamp(now_us() / 1e6, taipei)  # noqa: E731
    before = today().date()

    async def pages() -> list[tuple[int, str]]:
        dash, port = Dashboard(config.load(cfg)), free_port()
        await dash.start("127.0.0.1", port)
        try:
            return [await asyncio.to_thread(get, f"http://127.0.0.1:{port}{path}") for path in ("/", "/site/s")]
        finally:
            await dash.close()
    (s1, index), (s2, site) = asyncio.run(pages())
    month = today().strftime("%Y-%m")
    dates = {roc(before), roc(today().date())}  # the day may turn while the test runs
    assert s1 == 200 and s2 == 200
    assert '<html lang="zh-Hant-TW">' in index and "<h1>edged 設備總覽</h1>" in index and "<h2>場所</h2>" in index
    assert "運作中節點：1／1" in index and "<th>未解除警報</th>" in index, index
    assert any(f"製作於 {d} " in index for d in dates), index
    assert "<h2>節點</h2>" in site and "<h2>稽核發現（最新50筆）</h2>" in site and "嚴重" in site, site
    assert "audit_fork" in site, "the finding's kind stays the key scripts and the README name"
    assert any(f"<td>{d} " in site for d in dates), "the last-heard time in the ROC calendar"

    out = tmp_path / "report"
    assert main(["--config", str(cfg), "report", "--site", "s", "--month", month, "--out", str(out)]) == 0
    page = (out / "report.html").read_text(encoding="utf-8")
    y, m = (int(x) for x in month.split("-"))
    assert f"<h1>合規報告：s 場所，民國{y - 1911}年{m}月</h1>" in page, page[:600]
    assert "<h2>攝影機每日合規</h2>" in page and "<th>保存期限</th>" in page and "<h2>稽核發現</h2>" in page
    assert f"<td>{y - 1911}/{m:02d}/01</td>" in page, "each camera-day's date in the ROC calendar"
    assert "<td>已達保存</td>" in page or "<td>無資料</td>" in page
    rep = json.loads((out / "report.json").read_text(encoding="utf-8"))
    assert rep["camera_days"][0]["day"] == f"{month}-01" and rep["camera_days"][0]["retention"] in ("achieved",
                                                                                                 "no data")
    assert (out / "camera_days.csv").read_text(encoding="utf-8").startswith("day,node,camera,retention,")

    # --lang overrides [report] language for one report (an English copy for the central office's own staff)
    en = tmp_path / "report-en"
    assert main(["--config", str(cfg), "report", "--site", "s", "--month", month, "--out", str(en),
                 "--lang", "en"]) == 0
    page = (en / "report.html").read_text(encoding="utf-8")
    assert '<html lang="en">' in page and "<h1>Compliance report: site s, " in page and "合規" not in page, page[:600]
    assert main(["--config", str(cfg), "report", "--site", "s", "--month", month, "--out", str(tmp_path / "x"),
                 "--lang", "fr"]) == 2, "an unsupported language is a usage error"
    assert not (tmp_path / "x").exists()
    cfg.write_text('[storage]\ndata_dir = "central-data"\n[report]\ntimezone = "Asia/Taipei"\n')  # English
    zh = tmp_path / "report-zh"
    assert main(["--config", str(cfg), "report", "--site", "s", "--month", month, "--out", str(zh),
                 "--lang", "zh_TW"]) == 0
    assert f"<h1>合規報告：s 場所，民國{y - 1911}年{m}月</h1>" in (zh / "report.html").read_text(encoding="utf-8")


# through a real mosquitto -------------------------------------------------------------------------
def publish(port: int, msgs: list[tuple[str, bytes, bool]], client_id: str) -> None:
    c = paho.Client(CallbackAPIVersion.VERSION2, client_id=client_id, protocol=MQTTProtocolVersion.MQTTv5)
    c.connect("127.0.0.1", port)
    c.loop_start()
    try:
        for topic, payload, retain in msgs:
            c.publish(topic, payload, qos=1, retain=retain).wait_for_publish(30)
    finally:
        c.loop_stop()
        c.disconnect()


def get(url: str, host: str | None = None) -> tuple[int, str]:
    req = urllib.request.Request(url, headers={"Host": host} if host else {})
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def rejected(central: Central) -> int:
    store = Store(central.config.parent / "central-data" / "central.db", readonly=True)
    try:
        return len(store.rejected("aa/evil"))
    finally:
        store.close()


def test_a_hostile_node_beside_healthy_ones_through_mosquitto(tmp_path):
    broker = Broker(tmp_path / "broker", persistence=True, extra=["max_packet_size 262144"]).start()  # docs/ref/central.md
    central = Central(tmp_path, broker)
    central.config.write_text(central.config.read_text() + "[quota]\nmessages_per_second = 5\nburst = 30\n")
    t0 = now_us() - 60_000_000
    keys = {n: NodeKey(Ed25519PrivateKey.generate()) for n in ("victim", "calm")}
    # the victim is enrolled as its technician would (design/0097): its request carried to the office
    req, bundle = tmp_path / "victim-req.pem", tmp_path / "victim-bundle.pem"
    req.write_bytes(nodecert.make_request(keys["victim"], "zz", "victim"))
    acc = central.cli("nodes", "accept", "--file", str(req), "--by", "alice", "--fingerprint",
                      keys["victim"].fingerprint, "--out", str(bundle), "--json")
    assert acc.returncode == 0 and json.loads(acc.stdout)["node"] == "zz/victim", acc.stderr
    try:
        central.start()
        victim, fork = healthy_with_fork("edged/v1/zz/victim", keys["victim"], "zz", "victim", t0)
        calm, _ = healthy_with_fork("edged/v1/zz/calm", keys["calm"], "zz", "calm", t0)
        publish(broker.port, hostile(t0, "edged/v1/aa/evil"), "evil")
        publish(broker.port, victim + calm, "healthy")
        flood = [("edged/v1/aa/flood/alarm", durable(t0 + i, {"id": f"f{i}", "action": "clear"}), False)
                 for i in range(1, 200)]
        publish(broker.port, flood, "flood")
        publish(broker.port, fork, "healthy")
        wait_for(lambda: central.findings("audit_fork", "zz/victim"), 90, "the fork on zz/victim found")
        wait_for(lambda: len(central.findings("malformed_message", "aa/evil")) >= HOSTILE_FINDINGS, 60,
                 "every hostile message a finding")
        assert central.findings("seq_implausible", "aa/evil")
        assert central.findings("quota_exceeded", "aa/flood")
        assert central.proc.poll() is None, "the service keeps running"
        st = central.cli("status")
        assert st.returncode == 0 and "zz/victim" in st.stdout and "aa/evil" in st.stdout, st.stderr
        status, page = get(f"http://127.0.0.1:{central.port}/")
        assert status == 200 and "aa" in page
        status, page = get(f"http://127.0.0.1:{central.port}/site/aa")
        assert status == 200 and "evil" in page
        assert get(f"http://127.0.0.1:{central.port}/", host="rebind.attacker.example")[0] == 421
        # the signed key list: from the CLI and the dashboard, both checking out, naming the healthy keys
        out = tmp_path / "keys.json"
        k = central.cli("keys", "--out", str(out), "--json")
        assert k.returncode == 0, k.stderr
        pinned = json.loads(k.stdout)["central_fingerprint"]
        doc = fleetkeys.check(out.read_bytes(), pinned)
        assert [x["fingerprint"] for x in fleetkeys.keys_of(doc, "zz", "victim")] == [keys["victim"].fingerprint]
        assert fleetkeys.keys_of(doc, "zz", "calm") == [], "a key only announced in a birth is never on the list"
        assert fleetkeys.keys_of(doc, "aa", "evil") == [], "a birth that failed its schema names no key"
        status, served = get(f"http://127.0.0.1:{central.port}/keys.json")
        assert status == 200 and fleetkeys.check(served, pinned)["nodes"] == doc["nodes"]
        status, ca_pem = get(f"http://127.0.0.1:{central.port}/ca.pem")
        assert status == 200 and nodecert.check_chain(nodecert.load_pem_chain(bundle.read_bytes())[:1],
                                                      nodecert.load_pem_chain(ca_pem.encode())[0], None, None)
        # someone with the victim's broker login announces a key of their own: critical, and not the node's
        intruder = NodeKey(Ed25519PrivateKey.generate())
        publish(broker.port, [("edged/v1/zz/victim/birth", json.dumps(
            {"ts_us": t0 + 1000, "version": "0.2", "session": 2, "config_hash": "h", "public_key": intruder.public_b64,
             "cameras": [{"id": "cam"}], "retention": {"min_days": 30, "max_days": 365}}).encode(), True)], "intruder")
        wait_for(lambda: central.findings("key_not_enrolled", "zz/victim"), 60, "the intruder's key a finding")
        assert central.findings("key_not_enrolled", "zz/victim")[0]["severity"] == "critical"
        assert not central.findings("key_not_enrolled", "zz/calm"), "a node never enrolled is compared with nothing"
        # the victim's box is revoked; the signed list is retained on the broker for whoever checks exports
        rv = central.cli("nodes", "revoke", "zz/victim", "--by", "bob", "--reason", "box stolen", "--publish")
        assert rv.returncode == 0 and "retained on the broker" in rv.stdout, rv.stdout + rv.stderr
        crls = Subscriber(broker, "edged-office/v1/crl").start()
        try:
            # the copy the broker kept (retain set); the running office's schedule may publish the list again,
            # live, beside it: a message with retain unset (central/keys/crl_schedule.py)
            got = wait_for(lambda: next((m for m in crls.on("edged-office/v1/crl") if m.retain), None), 10,
                           "the retained revocation list")
            crl = nodecert.load_crl(got.payload, nodecert.load_pem_chain(ca_pem.encode())[0])
            serial = nodecert.load_pem_chain(bundle.read_bytes())[0].serial_number
            assert got.retain and crl.get_revoked_certificate_by_serial_number(serial) is not None
        finally:
            crls.stop()
        # a restart with the poison still retained on the broker: it comes again on connect
        before = rejected(central)
        central.stop()
        central.start()
        wait_for(lambda: rejected(central) > before, 60, "the retained poison received again after the restart")
        wait_for(lambda: central.cli("status").returncode == 0, 30, "status after the restart")
        assert central.proc.poll() is None, "a restart with the retained poison keeps running"
        assert get(f"http://127.0.0.1:{central.port}/api/status")[0] == 200
    finally:
        central.stop()
        broker.stop()


# the dashboard's login, over TLS ----------------------------------------------------------------
class TlsCentral(Central):
    def _up(self) -> bool:
        try:
            return https(self.port, self.ctx, "GET", "/login")[0] == 200
        except OSError:
            return False


def https(port: int, ctx, method: str, path: str, body: str | None = None, cookie: str | None = None
          ) -> tuple[int, dict, str]:
    conn = http.client.HTTPSConnection("127.0.0.1", port, context=ctx, timeout=20)
    try:
        headers = {"Content-Type": "application/x-www-form-urlencoded"} if body is not None else {}
        if cookie:
            headers["Cookie"] = cookie
        conn.request(method, path, body=body, headers=headers)
        r = conn.getresponse()
        return r.status, dict(r.getheaders()), r.read().decode()
    finally:
        conn.close()


def login_post(central, form: dict[str, str], origin: str | None = None) -> tuple[int, dict, str]:
    """A login as a browser sends it: the login page's CSRF cookie and field first (issue 45)."""
    _, headers, page = https(central.port, central.ctx, "GET", "/login")
    cookie = headers["Set-Cookie"].split(";", 1)[0]
    token = re.search(r'name="csrf" value="([^"]+)"', page).group(1)
    conn = http.client.HTTPSConnection("127.0.0.1", central.port, context=central.ctx, timeout=60)
    try:
        extra = {"Origin": origin} if origin else {}
        conn.request("POST", "/login", body=urllib.parse.urlencode({**form, "csrf": token}),
                     headers={"Content-Type": "application/x-www-form-urlencoded", "Cookie": cookie, **extra})
        r = conn.getresponse()
        return r.status, dict(r.getheaders()), r.read().decode()
    finally:
        conn.close()


def test_the_dashboard_logs_in_over_tls_with_roles(tmp_path):
    pki = make_pki(tmp_path / "pki")
    broker = Broker(tmp_path / "broker").start()
    central = TlsCentral(tmp_path, broker)
    central.ctx = ssl.create_default_context(cafile=str(pki.ca))
    audit_pw, tech_pw = "correct horse battery", "staple of the technician"
    text = central.config.read_text().replace("[dashboard]\n", "")
    text = text.replace(f'listen = "127.0.0.1:{central.port}"\n', "")
    text += (f'[dashboard]\nlisten = "127.0.0.1:{central.port}"\ntls_cert_file = "{pki.server_cert}"\n'
             f'tls_key_file = "{pki.server_key}"\n'
             f'[dashboard.accounts.lin]\nrole = "auditor"\npassword_hash = "{login.hash_password(audit_pw)}"\n'
             f'[dashboard.accounts.chen]\nrole = "technician"\npassword_hash = "{login.hash_password(tech_pw)}"\n')
    central.config.write_text(text)
    try:
        central.start()
        publish(broker.port, hostile(now_us(), "edged/v1/aa/evil"), "evil")
        wait_for(lambda: central.findings("malformed_message", "aa/evil"), 60, "a finding to show")
        status, headers, _ = https(central.port, central.ctx, "GET", "/")
        assert status == 303 and headers["Location"] == "/login"
        assert https(central.port, central.ctx, "GET", "/api/status")[0] == 401
        # the key list names every site and node: accounts only; what a verifier needs is open (design/0097)
        assert https(central.port, central.ctx, "GET", "/keys.json")[0] == 303
        assert central.cli("nodes", "ca", "--name", "Test Office").returncode == 0
        status, _, pem = https(central.port, central.ctx, "GET", "/ca.pem")
        assert status == 200 and "BEGIN CERTIFICATE" in pem
        # the running office signs its list once the CA is there and serves the file (design/0129)
        wait_for(lambda: https(central.port, central.ctx, "GET", "/crl.pem")[0] == 200, 30, "the first list signed")
        status, _, pem = https(central.port, central.ctx, "GET", "/crl.pem")
        assert status == 200 and "BEGIN X509 CRL" in pem
        assert https(central.port, central.ctx, "GET", "/crl.pem")[2] == pem, "signed once, not per request"
        status, _, page = https(central.port, central.ctx, "POST", "/login", "user=lin&password=" + audit_pw)
        assert status == 401 and "out of date" in page, "no CSRF token: no login (issue 45)"
        assert login_post(central, {"user": "lin", "password": audit_pw}, origin="null")[0] == 403
        status, _, page = login_post(central, {"user": "lin", "password": "wrong"})
        assert status == 401 and "Wrong account or password" in page
        assert login_post(central, {"user": "nobody", "password": "x"})[0] == 401

        def session(user: str, pw: str) -> str:
            status, headers, _ = login_post(central, {"user": user, "password": pw})
            assert status == 303, status
            cookie = headers["Set-Cookie"]
            assert "HttpOnly" in cookie and "Secure" in cookie and "SameSite=Strict" in cookie
            return cookie.split(";", 1)[0]

        auditor, tech = session("lin", audit_pw), session("chen", tech_pw)
        status, _, page = https(central.port, central.ctx, "GET", "/site/aa", cookie=auditor)
        assert status == 200 and "Findings" in page and "malformed_message" in page and "lin (auditor)" in page
        status, _, page = https(central.port, central.ctx, "GET", "/site/aa", cookie=tech)
        assert status == 200 and "evil" in page and "malformed_message" not in page
        assert https(central.port, central.ctx, "GET", "/api/status", cookie=tech)[0] == 200
        assert https(central.port, central.ctx, "POST", "/logout", cookie=tech)[0] == 303
        assert https(central.port, central.ctx, "GET", "/site/aa", cookie=tech)[0] == 303, "logged out"
        assert https(central.port, central.ctx, "GET", "/", cookie="edged_central_session=forged")[0] == 303

        # 200 wrong passwords at once from one address: each takes its place before the check, so
        # at most the limit are checked (it was 187 of a limit of 10, issue 45)
        with concurrent.futures.ThreadPoolExecutor(50) as pool:
            pages = list(pool.map(lambda _i: login_post(central, {"user": "lin", "password": "guess"})[2], range(200)))
        checked = sum("Wrong account or password" in p for p in pages)
        print(f"dashboard: 200 wrong passwords at once from one address, {checked} checked")   # the figure
        assert 1 <= checked <= login.MAX_FAILS - 2, checked   # two wrong ones above already count
        # the rest: the address's tries used up, or its one place among the checks taken (issue 56)
        assert sum("Too many failed logins" in p or "Many logins are being checked" in p for p in pages) == 200 - checked
    finally:
        central.stop()
        broker.stop()


def test_a_dashboard_reachable_from_the_network_needs_tls_and_accounts(tmp_path):
    from central import config

    path = tmp_path / "c.toml"
    path.write_text('[dashboard]\nlisten = "0.0.0.0:8780"\n')
    with pytest.raises(config.ConfigError, match="dashboard.listen.*reachable from the network"):
        config.load(path)
    path.write_text('[dashboard]\nlisten = "127.0.0.1:8780"\n[dashboard.accounts.x]\nrole = "boss"\n'
                    'password_hash = "x"\n')
    with pytest.raises(config.ConfigError, match="accounts.x.role"):
        config.load(path)
    assert login.check_password("a long password", login.hash_password("a long password"))
    assert not login.check_password("a long passwore", login.hash_password("a long password"))


@pytest.mark.both_engines
def test_a_node_whose_pass_fails_is_a_finding_and_the_others_are_verified(tmp_path, monkeypatch):
    """Whatever slips past the schema: a pass that raises for one node (sorted first) is a
    `verify_failed` finding, retried later, and the fork on the node after it is found."""
    t0 = now_us() - 60_000_000
    store = Store(tmp_path / "c.db")
    first, fork = healthy_with_fork("edged/v1/zz/victim", NodeKey(Ed25519PrivateKey.generate()), "zz", "victim", t0)
    store.ingest([(t, p) for t, p, _ in first + fork]
                 + [("edged/v1/aa/evil/alarm", durable(t0, {"id": "x", "action": "raise"}))], now_us())
    v = Verifier(store, UTC, gap_grace_us=0)
    real = v._pass

    def poisoned(node: str, now: int) -> int:
        if node == "aa/evil":
            raise OverflowError("Python int too large to convert to SQLite INTEGER")
        return real(node, now)
    monkeypatch.setattr(v, "_pass", poisoned)
    v.run_once()
    v.run_once()
    kinds = {(f["node"], f["kind"]) for f in store.findings()}
    assert ("aa/evil", "verify_failed") in kinds and ("zz/victim", "audit_fork") in kinds, kinds
    assert "aa/evil" in v.failed, "retried later, not on every interval"


@pytest.mark.both_engines
def test_a_flood_of_bad_messages_is_bounded(tmp_path):
    """What is turned away is kept up to REJECTED_PER_DAY a node a day, then one finding says
    the rest were dropped; a topic longer than MAX_TOPIC is itself malformed."""
    from central.store import store as store_mod

    store = Store(tmp_path / "c.db")
    now = now_us()
    bad = [("edged/v1/aa/evil/alarm", b'{"seq":%d,"ts_us":{}}' % i) for i in range(1, store_mod.REJECTED_PER_DAY + 6)]
    store.ingest(bad + [("edged/v1/aa/long/camera/" + "c" * 600 + "/state", b"{}")], now)
    assert len(store.rejected("aa/evil", limit=10_000)) == store_mod.REJECTED_PER_DAY
    kinds = [f["message"] for f in store.findings(node="aa/evil", limit=10_000)]
    assert len(kinds) == store_mod.REJECTED_PER_DAY + 1 and any("turned away today" in k for k in kinds)
    long = store.findings(node="aa/long")
    assert len(long) == 1 and "a topic of" in long[0]["message"]
    assert store.retained_of("aa/long")["cameras"] == {}
