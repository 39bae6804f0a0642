"""Every finding the office makes is said in the sites' language (issue 53, design/0280): each kind
is produced here by the code that makes it (the pure verdicts in a table, ingest's through a real
SQLite store), stored and read back as the store does, and rendered under zh-TW. The test fails on
a kind no row produces, on a finding whose message is no Msg (it would be stored in English only),
on a template (at any depth) the catalog does not translate, and on a stored English that is not
the message's bytes."""

from __future__ import annotations

import csv
import io
import json
import re
from datetime import datetime
from pathlib import Path
from typing import Any, Callable
from zoneinfo import ZoneInfo

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from central.keys import ca, keystanding
from central import finding_words
from central.intake import plausible, quota
from central.store import seqs
from central.report import month
from storage.time import interval
from central.checks import node_births, verdicts, verify
from central.i18n import Speaker
from central.store.store import Store, now_us
from storage import audit
from storage.keys import chainhead
from storage.keys.nodekey import NodeKey
from storage.msg import FOREIGN, Msg, english, is_stored

pytestmark = pytest.mark.pure
TAIPEI = ZoneInfo("Asia/Taipei")
ZH = Speaker("zh-TW", TAIPEI)
DAY = 86_400_000_000
T0 = 1_790_000_000_000_000
KEY = NodeKey(Ed25519PrivateKey.generate())
OTHER = NodeKey(Ed25519PrivateKey.generate())


def _record(seq: int, prev: str, actor: str = "bob", action: str = "grant.use") -> dict[str, Any]:
    body = {"seq": seq, "at_us": T0 + seq, "actor": actor, "action": action, "detail": {"grant": 7}}
    return {"seq_local": seq, "at_us": T0 + seq, "actor": actor, "action": action, "detail": {"grant": 7},
            "prev_hash": prev, "hash": audit.record_hash(prev, body)}


R1 = _record(1, audit.GENESIS)
R2 = _record(2, R1["hash"])
BIRTH = {"ts_us": T0, "version": "0.2", "session": 2, "config_hash": "aaaaaaaaaaaaaaaa", "public_key": KEY.public_b64,
         "cameras": [{"id": "cam1"}, {"id": "cam2"}], "retention": {"min_days": 30, "max_days": 60}}


def _head(key: NodeKey, seq: int, digest: str) -> dict[str, Any]:
    return chainhead.sign(key, "s", "n1", seq, digest, T0 + 5)


def _range(first: int, heard_us: int) -> verdicts.Range:
    return verdicts.Range(first, first + 9, verdicts.Heard(heard_us, heard_us))


TRUE = interval.ClockLine([interval.Sample(t, t, t + 1_000_000, "b") for t in range(T0 - 100 * DAY, T0 + DAY,
                                                                                       3_600_000_000)])


def _destruction(reason: str, age_days: float, **more: Any) -> verdicts.Verdict:
    d = {"camera": "cam1", "reason": reason, "start_us": T0 - int(age_days * DAY) - 60_000_000,
         "end_us": T0 - int(age_days * DAY), "destroyed_us": T0, "segment_id": 41, **more}
    return verdicts.judge(d, heard=None, reported_us=T0, min_days=30, max_days=60)


def _by_office(reason: str, recorded_days: float = 2, line: bool = True) -> verdicts.Verdict | None:
    """Recorded ``recorded_days`` before T0 by the office's samples (its stamps say 100 days), destroyed at T0."""
    d = {"camera": "cam1", "reason": reason, "start_us": T0 - 100 * DAY, "end_us": T0 - 100 * DAY + 60_000_000,
         "destroyed_us": T0, "segment_id": 41}
    ahead = int((100 - recorded_days) * DAY)  # its clock was this far behind when it recorded: true since
    samples = [interval.Sample(t, t - ahead if t < T0 - int(recorded_days * DAY) + DAY // 2 else t, t + 1_000_000, "b")
               for t in range(T0 - 200 * DAY, T0 + DAY, 3_600_000_000)] if line else []
    return verdicts.by_office(d, heard=None, reported_us=T0, min_days=30, max_days=60,
                              line=interval.ClockLine(samples))


def _breach(v: verdicts.Verdict | None) -> verify.Finding:
    assert v is not None and v.verdict != "ok", v
    return verify.destroyed(v.verdict, "cam1", "115/10/01", v.why, "2026-10-01", T0, {})


def _changed(**new: Any) -> list[verify.Finding]:
    return node_births.birth_changes(BIRTH, {**BIRTH, **new})


ALLOWED = {"alice"}
# what each row produces: the pure verdicts and findings, as the verifier calls them
WORDS: list[tuple[str, Callable[[], Any]]] = [
    ("a gap", lambda: verify.gap(10, 20)),
    ("a gap, the outbox afresh", lambda: verify.gap(10, 20_000_000)),
    ("a gap the node refused to resend", lambda: verify.gap(10, 20, verify.resend_answered(
        {"ok": False, "error": "busy {now}"}, 11, 19) or "")),
    ("a gap the node no longer has", lambda: verify.gap(10, 20, verify.resend_answered(
        {"ok": True, "result": {"missing": [[11, 19]], "history_days": 7}}, 11, 19) or "")),
    ("a gap asked for in vain", lambda: [verify.gap(10, 20, verify.unanswered(3, answered)) for answered in (True, False)]),
    ("a gap the office could not ask for", lambda: verify.gap(10, 20, verify.not_asked())),
    ("late, all of them", lambda: verify.late(11, 19, 9, 9)),
    ("late, some of them", lambda: verify.late(11, 19, 9, 4)),
    ("births", lambda: _changed(session=1, public_key=OTHER.public_b64, config_hash="b", version="0.3",
                                cameras=[{"id": "cam2"}, {"id": "cam3"}])),
    ("a new key at a restart", lambda: _changed(session=3, public_key=OTHER.public_b64)),
    ("cameras added only", lambda: _changed(cameras=[*BIRTH["cameras"], {"id": "cam3"}])),
    ("retention lowered", lambda: _changed(retention={"min_days": 20, "max_days": 40, "grace_hours": 12,
                                                      "cameras": {"cam1": {"min_days": 10, "max_days": 30}}})),
    ("a birth's rules", lambda: node_births.birth_rules({**BIRTH, "time_sources": [],
                                                    "retention": {"allow_short_for_tests": True}})),
    ("a record altered", lambda: verify.check_record({**R2, "actor": "mallory"}, before=R1["hash"], known=None)),
    ("a record again", lambda: verify.check_record(R2, before=R1["hash"], known="f" * 64)),
    ("a record after another", lambda: verify.check_record(R2, before="e" * 64, known=None)),
    ("a head before a key", lambda: verify.check_head(_head(KEY, 2, R2["hash"]), site="s", name="n1", key=None,
                                                      record_hash=None, last=None)),
    ("a head by another key", lambda: verify.check_head(_head(OTHER, 2, R2["hash"]), site="s", name="n1",
                                                        key=KEY.public_b64, record_hash=None, last=None)),
    ("a head against its record", lambda: verify.check_head(_head(KEY, 2, R2["hash"]), site="s", name="n1",
                                                            key=KEY.public_b64, record_hash="d" * 64, last=None)),
    ("a head behind", lambda: verify.check_head(_head(KEY, 2, R2["hash"]), site="s", name="n1", key=KEY.public_b64,
                                                record_hash=None, last={"seq": 5, "hash": "c" * 64})),
    ("a head again", lambda: verify.check_head(_head(KEY, 2, R2["hash"]), site="s", name="n1", key=KEY.public_b64,
                                               record_hash=None, last={"seq": 2, "hash": "c" * 64})),
    ("ethics", lambda: verify.ethics(9, {"request": 12, "flag": "major", "kind": "police", "category": "crime",
                                         "actor": "carol (os: root)", "cameras": ["cam1", "cam2"], "at_us": T0})),
    ("ethics, bare", lambda: verify.ethics(9, {"request": 12, "flag": "abnormal", "actor": "carol"})),
    ("unapproved accesses", lambda: [verify.unapproved(
        {**R2, "seq": 2}, verify.judge_access(R2, approve=approve, filed=filed, earlier_uses=uses)[1])
        for approve, filed, uses in [(None, None, 0), ({"actor": "carol", "detail": {}}, {"actor": "carol"}, 0),
                                     ({"actor": "alice", "detail": {}}, None, 1),
                                     ({"actor": "alice", "detail": {"expires_us": 1}}, None, 0)]]
        + [verify.unapproved({**R2, "seq": 2, "action": "export.done", "detail": {}}, verify.judge_access(
            {**R2, "action": "export.done", "detail": {}}, approve=None, filed=None, earlier_uses=0)[1]),
           verify.unapproved({**R2, "seq": 2, "action": "export.done"}, verify.judge_access(
               {**R2, "action": "export.done"}, approve={"actor": "a", "detail": {"mode": "view"}}, filed=None,
               earlier_uses=0)[1])]),
    ("destroyed early by its own stamps", lambda: _breach(_destruction("max_retention", 5))),
    ("destroyed with free space", lambda: _breach(_destruction("capacity", 50, free_before=10, reserve=5))),
    ("destroyed below the minimum", lambda: _breach(_destruction("capacity", 5))),
    ("destroyed for another reason", lambda: _breach(_destruction("whim", 5))),
    ("destroyed early by the office's clock", lambda: _breach(_by_office("max_retention"))),
    ("destroyed below the minimum by the office's clock", lambda: _breach(_by_office("capacity"))),
    ("destroyed past its maximum by the office's clock", lambda: _breach(_by_office("max_retention", 90))),
    ("a destruction the office cannot verify", lambda: [_breach(_by_office(r, line=False)) for r in
                                                         ("max_retention", "capacity")]),
    ("kept past its maximum by its own stamps", lambda: _breach(_destruction("max_retention", 70))),
    ("kept past its maximum", lambda: verdicts.kept(_range(1, T0 - 90 * DAY), _range(100, T0), 60, [], TRUE)),
    ("retention stopped", lambda: [verdicts.stopped(_range(1, T0 - 90 * DAY), _range(100, T0), 60, [], None, TRUE),
                                   verdicts.stopped(_range(1, T0 - 90 * DAY), _range(100, T0), 60, [], T0 - 5 * DAY,
                                                    TRUE)]),
    ("a key never enrolled", lambda: ca.birth_findings(ALLOWED, BIRTH)),
    ("a revoked key's birth", lambda: keystanding.birth_findings(
        keystanding.Standing(keystanding.REVOKED, T0 - DAY), BIRTH, T0)),
    ("a node not enrolled", lambda: keystanding.birth_findings(keystanding.Standing(keystanding.NEVER, has_ca=True),
                                                               BIRTH, T0)),
    ("a revoked key's messages", lambda: [keystanding.revoked_message(Msg(what, seq=4), "x", T0, keystanding.Standing(
        keystanding.REVOKED, T0 - DAY)) for what in ("audit record {seq}", "chain head {seq}")]),
    ("a revoked key's messages, counted", lambda: keystanding.revoked_messages(
        keystanding.Standing(keystanding.REVOKED, T0 - DAY), [("alarm", 4, T0), ("footage", 9, T0 + 1)],
        {"messages": 3, "first": {"kind": "state", "seq": 1, "ts_us": T0 - 5}})),
    ("a forged record of destructions", lambda: verify.forged(7, {"ts_us": T0, "destructions": [
        {"camera": "cam1", "reason": "max_retention", "start_us": 0, "end_us": 1, "destroyed_us": T0 + DAY,
         "segment_id": 3}]})),
    ("the shell's own", lambda: [verify.failed(ValueError("no {such} thing"), 3),
                                 verify.unreadable(Msg("{kind} message {seq}", kind="audit", seq=5), "k", T0,
                                                   KeyError("camera")),
                                 verify.unreadable(Msg("birth {ts}", ts=T0), "k", T0, TypeError("x")),
                                 verify.unreadable(Msg("retention message {seq}, destruction {n}", seq=5, n=2), "k",
                                                   None, KeyError("end_us")),
                                 verify.head_unsigned(3, 5, T0), verify.head_mismatch(5, T0)]),
]


def _findings(got: Any) -> list[verify.Finding]:
    if isinstance(got, tuple):  # check_head's (valid, findings)
        got = got[1]
    got = got if isinstance(got, list) else [got]
    assert got and all(isinstance(f, verify.Finding) for f in got), got
    return got


def _stored_by_ingest(path: Path) -> list[dict[str, Any]]:
    """ingest's own findings, through a real store: what it turns away, what a quota refuses, a
    node over its birth's budget."""
    store = Store(path)
    base, now = "edged/v1/s/n1", T0
    anchor = plausible.Anchor(per_minute=10, first_seq=T0 - DAY, last_seq=T0 - 2_000_000_000, last_us=T0 - 60_000_000)
    refused = [(f"{base}/audit", *v, b"{}") for v in (plausible.judge(T0 + 1, anchor, now),
                                                      plausible.judge(T0 - 2 * DAY, anchor, now))]
    quotas = quota.Quotas(quota.Limits(messages_per_second=1, burst=1, bytes_per_day=10, retained_topics=0))
    refused += [(f"{base}/alarm", "quota_exceeded", quotas.admit("s/n1", f"{base}/alarm", 100, False, now) or "", b"{}"),
                (f"{base}/cam/x", "quota_exceeded", quotas.admit("s/n2", f"{base}/cam/x", 1, True, now) or "", b"{}")]
    store.ingest([(f"{base}/audit", json.dumps({"seq": T0 + 3 * DAY, "ts_us": 1}).encode()),
                  (f"{base}/retention", b'{"seq": "x"}'),
                  (f"{base}/" + "x" * 600, b"{}"),
                  (f"{base}/state", json.dumps({"ts_us": T0, "too_large": [
                      {"seq": 9, "kind": "alarm", "bytes": 300_000, "limit": 262_144}]}).encode())], now, refused)
    budget, why = quota.birth_budget(BIRTH)
    with store.db.conn:
        seqs.over_budget(store.db.conn, "s/n1", budget + 1, budget, why, now)
    out = store.findings(site="s")
    store.close()
    return out


def _templates(stored: Any) -> list[str]:
    """Every template of a stored Msg, its Msg values' too (a FOREIGN value is never said)."""
    out = [stored["template"]]
    for k, v in stored["params"].items():
        if is_stored(v) and k != FOREIGN:
            out += _templates(v)
    return out


def _said(english_text: str, stored: Any, where: str) -> list[str]:
    """What is wrong with one finding said in zh-TW (an empty list: nothing)."""
    if not is_stored(stored):
        return [f"{where}: its message is no Msg, stored in English only: {english_text!r}"]
    wrong = [] if english(stored) == english_text else [f"{where}: the stored English {english(stored)!r} is not "
                                                        f"the message {english_text!r}"]
    wrong += [f"{where}: untranslated template {t!r}" for t in _templates(stored)
              if re.search(r"[a-z]{3}", re.sub(r"\{[a-z_]+\}", "", t)) and ZH._(t) == t]
    said = ZH.said(english_text, stored)
    if said == english_text or not re.search(r"[\u4e00-\u9fff]", said):
        wrong.append(f"{where}: said as {said!r}")
    return wrong


def test_every_finding_kind_is_said_in_zh_tw(tmp_path):
    wrong, kinds = [], set()
    for label, make in WORDS:
        for f in _findings(make()):
            kinds.add(f.kind)
            row = finding_words.read({"detail": finding_words.detail_json(f.message, f.detail)})
            assert row["detail"] == json.loads(json.dumps(f.detail)), "the detail scripts read is as before"
            wrong += _said(f.message, row[finding_words.SAID], f"{label} ({f.kind})")
    for row in _stored_by_ingest(tmp_path / "central.db"):
        kinds.add(row["kind"])
        wrong += _said(row["message"], row[finding_words.SAID], f"ingest ({row['kind']}: {row['key']})")
    assert not wrong, "\n".join(wrong)
    missing = sorted(set(finding_words.FINDINGS) - kinds)
    assert not missing, f"finding kinds no row of WORDS produces (add one): {missing}"


def test_a_box_s_words_are_said_as_they_came_and_a_bad_template_falls_back_to_english():
    f = verify.gap(10, 20, verify.resend_answered({"ok": False, "error": "{0} 忙碌 {x.__class__}"}, 11, 19) or "")
    stored = json.loads(json.dumps(f.message.stored()))
    said = ZH.said(f.message, stored)
    assert said.endswith("；節點拒絕重送：{0} 忙碌 {x.__class__}"), said
    assert ZH.said("kept English", {"template": "{missing} here", "params": {}}) == "kept English"
    assert ZH.said("kept English", None) == "kept English"  # a finding stored before design/0280
    assert ZH.said("kept English", {"template": "{a}", "params": {"a": {"template": "{b.c}", "params": {"b": 1}}}}) \
        == "kept English"


def test_the_month_s_findings_csv_and_the_report_say_the_message_in_the_sites_language(tmp_path):
    """A store fed and verified as the office does (tests/test_central_month.py `_feed`: footage
    destroyed ten days old under a maximum of 365, a destroyed_early finding): the month's findings
    section (the page's and the CSV's cells), `report`'s findings.csv and HTML say its message in
    zh-TW; report.json and the store keep the English."""
    from central.report import report, report_files
    from tests.test_central_month import _feed

    t0 = now_us() - 120_000_000
    ym = datetime.fromtimestamp((t0 + 30) / 1e6, TAIPEI).strftime("%Y-%m")
    _feed(tmp_path / "central.db", t0)
    store = Store(tmp_path / "central.db", readonly=True)
    try:
        rows = list(month.section_rows(store, "findings", "s", ym, TAIPEI, now_us()))
        r = report.build(store, "s", ym, TAIPEI, now_us())
    finally:
        store.close()
    early = [f for f in rows if f["kind"] == "destroyed_early"]
    assert early and early[0]["message"].startswith("camera cam: footage "), rows
    cells = month.cells(ZH, "findings", early[0])
    assert any(isinstance(c, str) and c.startswith("攝影機 cam：") and "以超過最長期限銷毀" in c for c in cells), cells
    report_files.write(r, tmp_path / "out", TAIPEI, "zh-TW")
    table = list(csv.reader(io.StringIO((tmp_path / "out/findings.csv").read_text(encoding="utf-8"))))
    said = dict(zip(table[0], [x for x in table[1:] if x[1] == "destroyed_early"][0]))
    assert said["message"] == early[0]["message"] and said["said"].startswith("攝影機 cam："), said
    assert said["said"] in (tmp_path / "out/report.html").read_text(encoding="utf-8")
    kept = json.loads((tmp_path / "out/report.json").read_text(encoding="utf-8"))["findings"]
    assert early[0]["message"] in [f["message"] for f in kept]


def test_the_report_written_as_the_store_is_read_is_the_report_built_whole(tmp_path):
    """`edged-central report`'s files written as the store is read (design/0281) are, byte for
    byte, those written from the report built whole (report.build, the page's), in both languages."""
    from central.report import report, report_files
    from tests.test_central_month import _feed

    t0 = now_us() - 120_000_000
    ym = datetime.fromtimestamp((t0 + 30) / 1e6, TAIPEI).strftime("%Y-%m")
    _feed(tmp_path / "central.db", t0, destructions=3)
    store = Store(tmp_path / "central.db", readonly=True)
    try:
        now = now_us()
        for lang in ("en", "zh-TW"):
            whole = report_files.write(report.build(store, "s", ym, TAIPEI, now), tmp_path / f"whole-{lang}", TAIPEI,
                                       lang)
            streamed, summary = report_files.write_streamed(store, "s", ym, TAIPEI, now, tmp_path / f"streamed-{lang}",
                                                            lang)
            assert [p.name for p in whole] == [p.name for p in streamed]
            for a, b in zip(whole, streamed):
                assert a.read_bytes() == b.read_bytes(), a.name
            assert sorted(p.name for p in (tmp_path / f"streamed-{lang}").iterdir()) == sorted(p.name for p in streamed)
            assert summary == json.loads(streamed[0].read_text(encoding="utf-8"))["summary"]
            assert summary["camera_days"] and summary["accesses"] and summary["findings"], summary
        with pytest.raises(LookupError):
            report_files.write_streamed(store, "nowhere", ym, TAIPEI, now, tmp_path / "x")
    finally:
        store.close()
    assert not (tmp_path / "x").exists()


def test_an_accesss_why_is_kept_as_a_template_and_said_in_the_sites_language(tmp_path):
    """design/0287: `report` keeps each access's why in English in report.json (scripts read it)
    and its template and values beside it as "said"; its accesses.csv (a last column "said"),
    report.html and the month's cells say it in zh-TW from them, the action among the values as
    its word; a row of a report.json written before (an English why, no "said") is shown as it
    came, in English, never read back from its words."""
    from central.report import report, report_files, report_html
    from tests.test_central_month import _feed

    t0 = now_us() - 120_000_000
    ym = datetime.fromtimestamp((t0 + 30) / 1e6, TAIPEI).strftime("%Y-%m")
    _feed(tmp_path / "central.db", t0)
    store = Store(tmp_path / "central.db", readonly=True)
    try:
        r = report.build(store, "s", ym, TAIPEI, now_us())
        page = list(month.section_rows(store, "accesses", "s", ym, TAIPEI, now_us()))
    finally:
        store.close()
    report_files.write(r, tmp_path / "out", TAIPEI, "zh-TW")
    kept = json.loads((tmp_path / "out/report.json").read_text(encoding="utf-8"))["accesses"]
    assert [(a["why"], a["said"]) for a in kept] == [("grant 7, approved by alice", {
        "template": "grant {grant}, approved by {who}", "params": {"grant": 7, "who": "alice"}})]
    table = list(csv.reader(io.StringIO((tmp_path / "out/accesses.csv").read_text(encoding="utf-8"))))
    row = dict(zip(table[0], table[1]))
    assert (row["why"], row["said"]) == ("grant 7, approved by alice", "調閱許可 7，核准人 alice"), row
    assert "調閱許可 7，核准人 alice" in (tmp_path / "out/report.html").read_text(encoding="utf-8")
    assert month.cells(ZH, "accesses", page[0])[-1] == "調閱許可 7，核准人 alice"
    assert month.cells(ZH, "accesses", kept[0])[-1] == "調閱許可 7，核准人 alice", "from report.json's row as read"
    before = {k: v for k, v in kept[0].items() if k != "said"}
    assert month.cells(ZH, "accesses", before)[-1] == report_html.said(ZH, "accesses", before) == \
        "grant 7, approved by alice"
    ungranted = verify.judge_access({"action": "playback.start", "detail": {}}, approve=None, filed=None,
                                    earlier_uses=0)[1]
    stored = json.loads(json.dumps({"why": ungranted, "said": ungranted.stored()}))  # as report.json keeps it
    assert report_html.said(ZH, "accesses", stored) == "播放 未指明調閱許可：未經核准的申請即取得影像"
    hostile = {"why": "x", "said": {"template": "{nope}", "params": {"action": "grant.use"}}}
    assert report_html.said(ZH, "accesses", hostile) == "x", "a template that will not take its values: the English"
