"""The ethics notification (issue 31 item 8, design/0083): a request flagged major or abnormal,
at filing or at a decision, is on a real daemon at once a printable report for the ethics
office (`edgectl request ethics-report ID`, zh-TW with ROC dates) and an `ethics` message over
a real mosquitto that a real edged-central validates and shows as its own finding; the pure
parts (the notice, the schema) on their own."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path

import pytest

from central.intake import schema
from central.checks import verify
from edged.rules import ethics
from storage.time.clock import SYSTEM
from tests.support.broker import Broker
from tests.support.cameras import RtspServer, make_clip
from tests.support.daemon import wait_for
from tests.support.people import People
from tests.test_central import SITE, Central, iso, node

S = 1_000_000


def _record(action: str, **detail) -> dict:
    base = {"request": 7, "kind": "citizen", "category": "other", "cameras": ["cam"], "from_us": 1, "to_us": 2,
            "mode": "view", "flag": None}
    return {"seq": 12, "at_us": 5 * S, "actor": "carol", "action": action, "detail": {**base, **detail}}


def test_the_notice_comes_from_the_record_that_flagged_the_request_once():
    n = ethics.notice(_record("request.file", flag="abnormal"))
    assert n["request"] == 7 and n["flag"] == "abnormal" and n["audit_seq"] == 12 and n["actor"] == "carol"
    assert "ethics-report 7" in n["report"] and "requester_name" not in n  # no personal data
    assert ethics.notice(_record("request.file")) is None                      # not flagged
    assert ethics.notice(_record("request.approve", flag="major")) is None     # flagged earlier: reported then
    assert ethics.notice(_record("request.step", flag="major", flag_set=True))["flag"] == "major"
    assert ethics.notice(_record("grant.use", flag="major", flag_set=True)) is None


def test_central_checks_an_ethics_message_and_makes_it_a_finding():
    body = {"seq": 3, "ts_us": 9, **ethics.notice(_record("request.file", flag="major"))}
    checked = schema.check("ethics", json.dumps(body).encode())
    f = verify.ethics(3, checked)
    assert f.kind == "ethics" and f.severity == "critical" and "request 7" in f.message and f.key == "ethics:7:12"
    for bad in ({**body, "request": "7"}, {k: v for k, v in body.items() if k != "flag"},
                {**body, "cameras": "cam"}, {k: v for k, v in body.items() if k != "seq"}):
        with pytest.raises(schema.Malformed):
            schema.check("ethics", json.dumps(bad).encode())


def test_a_flagged_request_is_a_printable_report_and_a_finding_at_the_central_office(tmp_path):
    clip = make_clip(tmp_path, fps=20, gop=20, seconds=10)
    broker = Broker(tmp_path / "broker").start()
    central = Central(tmp_path, broker).start()
    d = None
    with RtspServer({"cam": f"clip:{clip.video}@20"}) as cameras:
        try:
            d = node(tmp_path, "n1", cameras.url("cam"), broker)
            d.config.write_text(d.config.read_text().replace("[site]\n", '[site]\nlanguage = "zh-TW"\n'
                                                             'timezone = "Asia/Taipei"\n', 1))
            d.start()
            people = People(d.config, tmp_path / "n1")
            people.add("carol", "custodian")
            people.add("alice", "approver")
            wait_for(lambda: len(d.segments("cam")) >= 2, 40, "two segments")
            segs = d.segments("cam")
            start, end = segs[0]["start_us"], segs[-1]["end_us"]
            people.as_("carol")
            r = people.ctl("request", "file", "--kind", "internal", "--category", "other", "--reason",
                           "the same colleague asks a third time", "--camera", "cam", "--from", iso(start), "--to",
                           iso(end), "--requester", "Lin", "--org", "front desk", "--flag", "abnormal", "--flag-note",
                           "third request this week", "--json")
            assert r.returncode == 0, r.stderr
            flagged = json.loads(r.stdout)["id"]
            r = people.ctl("request", "file", "--kind", "internal", "--category", "other", "--reason", "a wallet",
                           "--camera", "cam", "--from", iso(start), "--to", iso(end), "--requester", "Wu", "--org", "front desk", "--json")
            plain = json.loads(r.stdout)["id"]

            # at once: the central office shows it as its own finding, validated at ingest
            found = wait_for(lambda: [f for f in central.findings("ethics", f"{SITE}/n1")
                                      if f["detail"]["request"] == flagged], 30, "the ethics finding")[0]
            assert found["severity"] == "critical" and found["detail"]["flag"] == "abnormal"
            assert found["detail"]["actor"] == "carol" and "Lin" not in json.dumps(found)  # no personal data
            assert not [f for f in central.findings("malformed_message") if "ethics" in f["message"]]

            # and the printable report, in the site's language with ROC dates
            out = tmp_path / "ethics.html"
            r = people.ctl("request", "ethics-report", str(flagged), "--out", str(out))
            assert r.returncode == 0, r.stderr
            page = out.read_text()
            assert "政風室" in page and "third request this week" in page and 'lang="zh-Hant-TW"' in page
            roc = str(int(iso(start)[:4]) - 1911)
            assert f"{roc}/" in page and "異常" in page
            r = people.ctl("request", "ethics-report", str(plain), "--out", str(tmp_path / "plain.html"))
            assert r.returncode != 0 and not (tmp_path / "plain.html").exists()

            # flagged at a decision: a second notice, for that request only
            people.as_("alice")
            r = people.ctl("request", "approve", str(plain), "--reason", "ok", "--flag", "major", "--flag-note",
                           "the wallet held a badge", "--json")
            assert r.returncode == 0, r.stderr
            wait_for(lambda: [f for f in central.findings("ethics", f"{SITE}/n1")
                              if f["detail"]["request"] == plain and f["detail"]["action"] == "request.approve"],
                     30, "the second ethics finding")
            month = datetime.fromtimestamp(SYSTEM.now_us() / S, timezone.utc).strftime("%Y-%m")
            report = central.json("report", "--site", SITE, "--month", month, "--out", str(tmp_path / "report"))
            assert report["summary"]["findings_critical"] >= 2
            html = [p for p in map(Path, report["files"]) if p.suffix == ".html"]
            assert html and "ethics" in html[0].read_text()  # the report lists the findings
            assert len(central.findings("ethics", f"{SITE}/n1")) == 2  # each notice once
        finally:
            if d is not None:
                assert d.stop() == 0, d.log
            central.stop()
            broker.stop()
