"""The office hears of each intake (issue 76, design/0349): the box's `intake` message built from its
`evidence.imported` record passes the wire's declared fields (mqtt/kinds.py INTAKE), the office's
verifier keeps it (central/store/intakes.py) and the month page lists it beside the destructions, in
the sites' language; its original's destruction (design/0355) is recorded on its row, judged against the
minimum counted from the intake and shown beside it. A real SQLite store fed through its ingest."""

from __future__ import annotations

import json
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from central.i18n import Speaker
from central.report import month
from central.store.store import Store, now_us
from central.verifier.verifier import Verifier
from edged.rules import intakes
from mqtt import kinds
from storage.keys.nodekey import NodeKey
from tests.support.month_page import month_of, rendered, section, store_path

TAIPEI = ZoneInfo("Asia/Taipei")
SHA = "cd" * 32


def record(t0: int) -> dict:
    """An `evidence.imported` audit record as storage/footage/intakes.py writes it."""
    return {"seq": 5, "at_us": t0, "actor": "carol (os: root)", "action": "evidence.imported",
            "detail": {"intake": 3, "device": "bwc-7", "camera": "portable.bwc-7", "filmed_by": "officer Lin",
                       "sha256": SHA, "bytes": 123456, "request": 7, "segments": 9,
                       "claimed_start_us": 1_420_099_200_000_000, "claimed_from": "creation_time", "model": "BWC-7X",
                       "note": None}}


def test_the_boxs_intake_message_has_the_wires_fields():
    m = intakes.notice(record(1_800_000_000_000_000))
    assert m is not None and m["intake"] == 3 and m["sha256"] == SHA and m["taken_by"] == "carol (os: root)"
    for f in kinds.INTAKE.fields:
        assert (f.name in m) or not f.required, f.name
        assert f.name not in m or f.type.check(m[f.name]), f.name
    assert set(m) <= {f.name for f in kinds.INTAKE.fields}
    assert intakes.notice({**record(0), "action": "export.done"}) is None   # only an intake's record


@pytest.mark.both_engines  # issue 76, design/0349
def test_the_office_keeps_each_intake_and_the_month_lists_it(tmp_path):
    t0 = now_us() - 60_000_000
    key, base = NodeKey(Ed25519PrivateKey.generate()), "edged/v1/s/n1"
    birth = {"ts_us": t0 - 1000, "version": "0.2", "session": 1, "config_hash": "h", "public_key": key.public_b64,
             "cameras": [{"id": "cam"}], "retention": {"min_days": 30, "max_days": 365}}
    body = intakes.notice(record(t0))
    msgs = [(f"{base}/status", b"online"), (f"{base}/birth", json.dumps(birth).encode()),
            (f"{base}/{kinds.INTAKE.topic}", json.dumps({"seq": 1, "ts_us": t0, **body}).encode()),
            (f"{base}/{kinds.INTAKE.topic}", json.dumps({"seq": 2, "ts_us": t0, **body}).encode())]  # said twice
    store = Store(tmp_path / "central.db")
    store.ingest(msgs, now_us())
    Verifier(store, TAIPEI, gap_grace_us=0).run_once()
    store.close()
    ym = datetime.fromtimestamp(now_us() / 1e6, TAIPEI).strftime("%Y-%m")
    store = Store(tmp_path / "central.db", readonly=True)
    try:
        rows = list(month.section_rows(store, "intakes", "s", ym, TAIPEI, now_us()))
    finally:
        store.close()
    assert [(r["node"], r["camera"], r["taken_by"], r["filmed_by"], r["original_sha256"], r["request"])
            for r in rows] == [("s/n1", "portable.bwc-7", "carol (os: root)", "officer Lin", SHA, 7)]
    zh = Speaker("zh-TW", TAIPEI)
    assert month.headers(zh, "intakes")[0] == "中心收到時間" and "intakes" in month.SECTIONS
    assert month.cells(zh, "intakes", rows[0])[3] == "portable.bwc-7"


DAY_US = 86_400_000_000


def gone(intake: int, at_us: int, sha: str = SHA, seq: int = 40) -> dict:
    """An `evidence.original_destroyed` audit record as storage/retention/originals.py writes it."""
    return {"seq": seq, "at_us": at_us, "actor": "edged", "action": "evidence.original_destroyed",
            "detail": {"intake": intake, "camera": "portable.bwc-7", "sha256": sha, "bytes": 123456,
                       "original": f"imports/{sha}/original.mp4", "intake_us": 0, "start_us": 0, "end_us": 0,
                       "reason": "max_retention", "pass": 12}}


def test_the_boxs_original_destroyed_message_has_the_wires_fields():
    m = intakes.destroyed(gone(3, 1_800_000_000_000_000))
    assert m == {"intake": 3, "sha256": SHA, "destroyed_us": 1_800_000_000_000_000, "camera": "portable.bwc-7",
                 "pass_id": 12, "reason": "max_retention", "bytes": 123456, "intake_us": 0, "audit_seq": 40}
    for f in kinds.INTAKE_DESTROYED.fields:
        assert (f.name in m) or not f.required, f.name
        assert f.name not in m or f.type.check(m[f.name]), f.name
    assert intakes.destroyed(record(0)) is None and intakes.notice(gone(3, 0)) is None   # each its own record's


@pytest.mark.both_engines  # design/0355
def test_an_originals_destruction_is_recorded_judged_and_listed(tmp_path):
    """Intake 3 taken in 40 days ago and destroyed now: on its row, no finding, its date on the month
    page; intake 4 destroyed 2 days after its intake (minimum 30; its message naming another camera, of a
    minimum of 1 day, changes nothing): destroyed early; intake 9 never
    heard of and intake 5 with another SHA-256: unverified, nothing recorded; intake 6: kept."""
    t0 = now_us() - 60_000_000
    key, base = NodeKey(Ed25519PrivateKey.generate()), "edged/v1/s/n1"
    birth = {"ts_us": t0 - 50 * DAY_US, "version": "0.2", "session": 1, "config_hash": "h",
             "public_key": key.public_b64, "cameras": [{"id": "cam"}], "retention": {
                 "min_days": 30, "max_days": 365, "cameras": {"portable.lax": {"min_days": 1, "max_days": 2}}}}
    taken = [{**intakes.notice(record(t0 - 40 * DAY_US)), "intake": n} for n in (3, 4, 5, 6)]
    taken[1]["at_us"] = t0 - 2 * DAY_US
    said = taken + [intakes.destroyed(gone(3, t0)), intakes.destroyed(gone(3, t0)),  # said twice: once
                    {**intakes.destroyed(gone(4, t0)), "camera": "portable.lax"},  # judged as its intake's camera
                    intakes.destroyed(gone(9, t0)),
                    intakes.destroyed(gone(5, t0, sha="ef" * 32))]
    msgs = [(f"{base}/status", b"online"), (f"{base}/birth", json.dumps(birth).encode())] + [
        (f"{base}/{(kinds.INTAKE if 'at_us' in m else kinds.INTAKE_DESTROYED).topic}",
         json.dumps({"seq": i, "ts_us": t0, **m}).encode()) for i, m in enumerate(said, 1)]
    store = Store(tmp_path / "central.db")
    store.ingest(msgs, now_us())
    Verifier(store, TAIPEI, gap_grace_us=0).run_once()
    found = sorted((f["kind"], f["key"].split(":", 1)[1]) for f in store.findings(limit=100)
                   if f["kind"] in ("destroyed_early", "destruction_unverified", "kept_past_maximum"))
    assert found == [("destroyed_early", "destroyed_early:intake:4"),
                     ("destruction_unverified", "destruction_unverified:intake:5"),
                     ("destruction_unverified", "destruction_unverified:intake:9")]
    ym = datetime.fromtimestamp(now_us() / 1e6, TAIPEI).strftime("%Y-%m")
    rows = list(month.section_rows(store, "intakes", "s", ym, TAIPEI, now_us()))
    store.close()
    assert [r["original_destroyed_us"] for r in rows] == [t0, t0, None, None]
    zh = Speaker("zh-TW", TAIPEI)
    assert month.headers(zh, "intakes")[-1] == "原始檔案銷毀時間"
    assert [month.cells(zh, "intakes", r)[-1] for r in rows] == [zh.local(t0), zh.local(t0), "保存中", "保存中"]


def test_the_month_page_shows_each_intakes_original_kept_or_destroyed_in_zh_tw(tmp_path):
    """The intakes' section as the dashboard serves it (design/0355; the page read in-process, the page as a
    whole in Chromium: tests/test_central_month_page.py): intake 1 kept, intake 2's original destroyed by
    the box, its time in ROC dates under 原始檔案銷毀時間."""
    t0 = now_us() - 120_000_000
    ym, roc_day = month_of(t0)
    taken = [{**intakes.notice(record(t0 - 40 * DAY_US)), "intake": n, "sha256": sha}
             for n, sha in ((1, SHA), (2, "ab" * 32))]
    said = taken + [intakes.destroyed(gone(2, t0 + 37_000_000, sha="ab" * 32))]
    _fed(store_path(tmp_path), t0, said)
    heading, headers, rows = section(rendered(tmp_path, "s", ym), "intakes")
    assert "納管之便攜式器材錄影" in heading and rows[0][0].startswith(roc_day), rows
    assert rows[0][-1] == "保存中", "its original kept"
    assert rows[1][-1].startswith(roc_day) and rows[1][-1] != rows[1][0], rows
    assert headers[-1] == "原始檔案銷毀時間"


def _fed(path, t0: int, said: list[dict]) -> None:
    """A store at ``path`` fed a node's birth (minimum 30 days) and ``said`` (`intake` and
    `intake_destroyed` bodies, in order), verified."""
    key, base = NodeKey(Ed25519PrivateKey.generate()), "edged/v1/s/n1"
    birth = {"ts_us": t0 - 50 * DAY_US, "version": "0.2", "session": 1, "config_hash": "h",
             "public_key": key.public_b64, "cameras": [{"id": "cam"}], "retention": {"min_days": 30, "max_days": 365}}
    msgs = [(f"{base}/status", b"online"), (f"{base}/birth", json.dumps(birth).encode())] + [
        (f"{base}/{(kinds.INTAKE if 'at_us' in m else kinds.INTAKE_DESTROYED).topic}",
         json.dumps({"seq": i, "ts_us": t0, **m}).encode()) for i, m in enumerate(said, 1)]
    store = Store(path)
    store.ingest(msgs, now_us())
    Verifier(store, TAIPEI, gap_grace_us=0).run_once()
    store.close()


NAMES = ["GX010001.MP4", "錄影 0001.MTS", "evil\u202eKLM.MP4", "a\nb.MP4"]


def _box_records(tmp_path, names: list[str], t0: int) -> list[dict]:
    """Each name as the box keeps it on an intake (the control's rule, storage/free_text.py `file_name`) and
    writes it on its `evidence.imported` record (storage/footage/intakes.py), read as the daemon's reporter
    reads its records (storage/audit.py `records`)."""
    from storage import audit, free_text
    from storage.catalog import open_db
    from storage.footage import intakes as store
    db = open_db(tmp_path / "catalog.db")
    try:
        for i, name in enumerate(names):
            store.record(db, store.Intake(sha256=f"{i:02d}" * 32, bytes=10, device="bwc-7", recorded_by="officer Lin",
                                          taken_by="carol", request=None, intake_us=t0 + i, original=f"imports/{i}",
                                          claimed_start_us=None, claimed_from=None, model=None, note=None,
                                          file_name=free_text.file_name(name)), "carol")
        return audit.records(db, action="evidence.imported")
    finally:
        db.conn.close()


def test_the_devices_file_name_reaches_the_month_page_as_the_box_kept_it(tmp_path):
    """The box's own record, its own `intake` message and the office's real store and page: the device's
    file name on the month page (CJK as itself); one with a bidi override or a line break reaches it only as
    the box keeps it, escaped (it was not on the wire before: the page had no such column)."""
    t0 = now_us() - 60_000_000
    said = [intakes.notice(r) for r in _box_records(tmp_path, NAMES, t0)]
    assert [m.get("file_name") for m in said] == ["GX010001.MP4", "錄影 0001.MTS", "evil\\u202eKLM.MP4", "a\\nb.MP4"]
    _fed(store_path(tmp_path), t0, said)
    ym, _day = month_of(t0)
    store = Store(store_path(tmp_path), readonly=True)
    try:
        rows = list(month.section_rows(store, "intakes", "s", ym, TAIPEI, now_us()))
    finally:
        store.close()
    assert [r["file_name"] for r in rows] == [m["file_name"] for m in said]
    _heading, headers, shown = section(rendered(tmp_path, "s", ym), "intakes")
    at = headers.index("器材原始檔名")
    assert [r[at] for r in shown] == [m["file_name"] for m in said]


@pytest.mark.parametrize("name", ["evil\u202eKLM.MP4", "a\nb.MP4", "x" * 201, "", " lead.MP4", 7])
def test_the_office_refuses_an_intake_whose_file_name_breaks_the_rule(name):
    """Untrusted at the office: a message the box never sends (its names are kept under the rule) but a
    forger or a broken box might, refused by the office's schema before anything of it is kept."""
    from central.intake import schema
    body = {"seq": 1, "ts_us": 1, **intakes.notice(record(1_800_000_000_000_000)), "file_name": name}
    with pytest.raises(schema.Malformed, match="file_name"):
        schema.check(kinds.INTAKE.name, json.dumps(body).encode())
    assert schema.check(kinds.INTAKE.name, json.dumps({**body, "file_name": "錄影 0001.MTS"}).encode())
