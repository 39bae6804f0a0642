"""The audit chain (R7): `edgectl audit verify` notices an edited, deleted, inserted or reordered
record on a real catalog; exports re-check without edged; the audit report covers R7.2."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys

import pytest
from hypothesis import given
from hypothesis import strategies as st

from edged import people as people_rules
from edged.cli.audit import report_text
from edged.documents import Doc
from edged.documents.audit import audit_report_html
from edged.i18n import speaking
from storage import audit, audit_report, cameras as camera_table
from storage.people import accounts, retrieval_store, sessions
from storage.catalog import open_db
from storage.time.clock import SYSTEM
from tests.support.catalog import delete_audit, insert_audit, one, rows, set_audit, set_node, shift_audit, swap_audit
from tests.support.daemon import ROOT

S = 1_000_000
T0 = 1_795_000_000 * S
N = 20


@pytest.fixture
def catalog(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    db = open_db(data / "catalog.db")
    for i in range(1, N + 1):
        audit.append(db, f"person{i % 3}", "hold.add" if i % 2 else "login", {"i": i, "note": "ü \"q\""},
                     at_us=T0 + i * S)
    db.conn.close()
    return data


def verify_cli(data, *extra):
    return subprocess.run([sys.executable, "-m", "edged.cli.edgectl", "audit", "verify",
                           "--catalog", str(data / "catalog.db"), *extra],
                          capture_output=True, text=True, cwd=ROOT, timeout=60)


def tamper(data, *changes):
    """Change the catalog as someone with the file would, behind edged's back."""
    conn = sqlite3.connect(data / "catalog.db")
    for change in changes:
        change(conn)
    conn.commit()
    conn.close()


def test_an_intact_chain_verifies(catalog):
    r = verify_cli(catalog, "--json")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["records"] == N


def test_an_edited_record_is_found(catalog):
    tamper(catalog, lambda c: set_audit(c, 7, detail='{"i":7,"note":"nothing"}'))
    r = verify_cli(catalog)
    assert r.returncode == 2 and "record 7 was altered" in r.stderr and "Traceback" not in r.stderr


def test_an_edited_actor_is_found(catalog):
    tamper(catalog, lambda c: set_audit(c, 12, actor="somebody else"))
    assert "record 12 was altered" in verify_cli(catalog).stderr


def test_a_deleted_record_is_found(catalog):
    tamper(catalog, lambda c: delete_audit(c, 5))
    r = verify_cli(catalog)
    assert r.returncode == 2 and "record 5 is missing" in r.stderr


def test_a_deleted_record_with_the_rest_renumbered_is_found(catalog):
    tamper(catalog, lambda c: delete_audit(c, 5), lambda c: shift_audit(c, after=5, by=-1))
    r = verify_cli(catalog)
    assert r.returncode == 2 and "record 5 does not follow" in r.stderr


def test_an_inserted_record_is_found(catalog):
    """A forged record slipped in after 9 with a correct-looking hash: the old record 10 (now 11) no longer follows."""
    conn = sqlite3.connect(catalog / "catalog.db")
    prev = one(conn, "audit", lambda r: r["seq"] == 9)["hash"]
    shift_audit(conn, after=9, by=1)
    body = {"seq": 10, "at_us": T0 + 9 * S + 1, "actor": "intruder", "action": "login", "detail": {}}
    insert_audit(conn, {**body, "detail": "{}", "prev_hash": prev, "hash": audit.record_hash(prev, body)})
    conn.commit()
    conn.close()
    r = verify_cli(catalog)
    assert r.returncode == 2 and "record 11 does not follow" in r.stderr, r.stderr


def test_reordered_records_are_found(catalog):
    """Records 3 and 4 swap places (their seq numbers swapped)."""
    tamper(catalog, lambda c: swap_audit(c, 3, 4))
    r = verify_cli(catalog)
    assert r.returncode == 2 and "record 3" in r.stderr


def test_a_cut_tail_is_found_against_a_kept_head(catalog):
    db = open_db(catalog / "catalog.db")
    head = audit.head(db)
    db.conn.close()
    tamper(catalog, lambda c: delete_audit(c, N - 1, and_after=True))
    assert verify_cli(catalog).returncode == 0, "without a head kept elsewhere a cut tail looks whole"
    r = verify_cli(catalog, "--head", f"{head['seq']}:{head['hash']}")
    assert r.returncode == 2 and f"record {N}" in r.stderr and "cut short" in r.stderr
    tamper(catalog, lambda c: set_node(c, "mqtt_audit_seq", "19"))
    r = verify_cli(catalog)
    assert r.returncode == 2 and "central office was sent records up to 19" in r.stderr


def test_a_rewritten_chain_is_found_against_a_kept_head(tmp_path):
    db = open_db(tmp_path / "catalog.db")
    for i in range(5):
        audit.append(db, "a", "x", {"i": i})
    head = audit.head(db)
    delete_audit(db, 3, and_after=True)  # rewrite from 3 on, every hash recomputed
    for i in range(3):
        audit.append(db, "a", "x", {"i": 100 + i})
    assert audit.verify(db) == (5, None)
    n, problem = audit.verify(db, (head["seq"], head["hash"]))
    assert "rewritten" in problem


def test_export_round_trip_and_tampered_export(catalog, tmp_path):
    db = open_db(catalog / "catalog.db")
    lines = [audit.export_line(r) for r in audit.records(db, limit=1000)]
    db.conn.close()
    out = tmp_path / "audit.jsonl"
    out.write_text("\n".join(lines) + "\n")
    n, problem, head = audit.verify_lines(out.read_text().splitlines())
    assert (n, problem, head["seq"]) == (N, None, N)
    r = verify_cli(catalog, "--file", str(out), "--head", f"{head['seq']}:{head['hash']}")
    assert r.returncode == 0 and f"{N} records" in r.stdout
    elsewhere = subprocess.run([sys.executable, "-m", "edged.cli.edgectl", "--socket", str(tmp_path / "no-edged-here"),
                                "audit", "verify", "--file", str(out)], capture_output=True, text=True, cwd=ROOT)
    assert elsewhere.returncode == 0, "a third party needs no catalog"
    offline = subprocess.run([sys.executable, "-m", "storage.audit", str(out)], capture_output=True, text=True,
                             cwd=ROOT)
    assert offline.returncode == 0 and offline.stdout.startswith(f"intact: {N} records")
    assert audit.verify_lines(lines[5:])[1] is None, "a slice checks from its first prev_hash"
    edited = [json.loads(x) for x in lines]
    edited[8]["detail"]["i"] = 999
    out.write_text("\n".join(json.dumps(x) for x in edited) + "\n")
    assert "record 9 was altered" in verify_cli(catalog, "--file", str(out)).stderr
    out.write_text("\n".join(lines[:4] + lines[5:]) + "\n")
    assert "record 5 is missing" in verify_cli(catalog, "--file", str(out)).stderr
    out.write_text("\n".join(lines[:4] + [lines[5], lines[4]] + lines[6:]) + "\n")
    assert verify_cli(catalog, "--file", str(out)).returncode == 2
    out.write_text(lines[0] + "\nnot json\n")
    assert "line 2 is not an audit record" in verify_cli(catalog, "--file", str(out)).stderr


@given(actor=st.text(), action=st.text(), detail=st.dictionaries(
    st.text(), st.recursive(st.none() | st.booleans() | st.integers() | st.text() |
                            st.floats(allow_nan=False, allow_infinity=False),
                            lambda kids: st.lists(kids) | st.dictionaries(st.text(), kids), max_leaves=10)),
       seq=st.integers(1, 2**62), at_us=st.integers(0, 2**62))
def test_the_fast_body_is_the_canonical_json(actor, action, detail, seq, at_us):
    """verify() rebuilds the hashed bytes from the stored columns without parsing detail."""
    body = {"seq": seq, "at_us": at_us, "actor": actor, "action": action, "detail": detail}
    assert audit._body_bytes(seq, at_us, actor, action, audit._canonical(detail).decode()) == audit._canonical(body)


# --- the report ---------------------------------------------------------------------------------
def test_audit_report_covers_r7_2(tmp_path):
    db = open_db(tmp_path / "catalog.db")
    camera_table.sync(db, [{"id": "door", "name": "Door", "url": "synthetic:", "enabled": 1}], SYSTEM.now_us())
    people_rules.add_account(db, "boss", "long-password-1", ["approver"], None, by="admin", reason="app 1", now_us=T0)
    people_rules.add_account(db, "carol", "long-password-2", ["custodian"], ["door"], by="admin", reason="app 2",
                             now_us=T0)
    people_rules.add_account(db, "gone", "long-password-3", ["viewer"], None, by="admin", reason="app 3", now_us=T0)
    accounts.revoke_account(db, "gone", by="admin", reason="transferred", now_us=T0 + S)
    with pytest.raises(accounts.AuthError):
        sessions.login(db, "carol", "wrong", now_us=T0 + 2 * S, via="test")
    with pytest.raises(accounts.AuthError):
        sessions.login(db, "mallory", "guess", now_us=T0 + 3 * S, via="test")
    req = people_rules.file_request(db, {"kind": "agency", "category": "other", "reason": "<script>", "mode": "copy",
                               "cameras": ["door"], "from_us": T0 - 60 * S, "to_us": T0, "requester_name": "Lin",
                               "letter_ref": "L-1"}, filed_by="carol", now_us=T0 + 4 * S, key=b"k" * 32)
    req = people_rules.decide_request(db, req["id"], approver="boss", approve=True, reason="ok", now_us=T0 + 5 * S,
                            grant_ttl_us=3600 * S)
    people_rules.use_grant(db, req["grant"]["id"], custodian="carol", watcher="Lin", mode="copy", now_us=T0 + 6 * S)
    retrieval_store.record_export(db, req["grant"]["id"], out_dir="/x/e1", custodian="carol", now_us=T0 + 7 * S,
                                  bytes_=1234, manifest_sha256="ab" * 32)
    db["holds"].insert({"kind": "evidence", "cameras": '["door"]', "from_us": T0 - 60 * S, "to_us": T0,
                        "reason": "r", "case_ref": "C-1", "placed_by": "carol", "placed_us": T0 + 8 * S,
                        "expires_us": T0 + 3600 * S})
    db["destructions"].insert({"segment_id": 1, "camera": "door", "start_us": T0 - 99 * S, "end_us": T0 - 98 * S,
                               "path": "p", "bytes": 10, "sha256": "h", "reason": "max_retention",
                               "destroyed_us": T0 + 9 * S, "pass_id": 1})
    db["inspection_runs"].insert({"kind": "manual", "ran_us": T0 + 10 * S, "ran_by": "carol", "cameras": 1,
                                  "anomalies": 0})
    audit.append(db, "vic", "live.view", {"camera": "door"}, at_us=T0 + 11 * S)
    r = audit_report.build(db, T0, T0 + 20 * S, now_us=T0 + 30 * S)
    assert [a["name"] for a in r["accounts"]] == ["boss", "carol", "gone"]
    assert r["accounts"][2]["revoked_us"] == T0 + S and r["accounts"][1]["cameras"] == ["door"]
    assert [q["state"] for q in r["requests"]] == ["used"]
    assert r["exports"][0]["bytes"] == 1234 and r["exports"][0]["approver"] == "boss"
    assert [h["case_ref"] for h in r["holds"]] == ["C-1"]
    assert r["destructions"]["segments"] == 1 and r["destructions"]["by_camera"][0]["reason"] == "max_retention"
    assert len(r["inspections"]) == 1
    assert r["failed_logins"]["by_account"] == {"carol": 1, "mallory": 1}
    assert [x["action"] for x in r["live_and_playback"]] == ["live.view"]
    assert r["audit_chain"]["intact"] and r["audit_chain"]["records"] >= 8
    empty = audit_report.build(db, T0 + 100 * S, T0 + 200 * S, now_us=T0 + 300 * S)
    assert empty["requests"] == [] and empty["failed_logins"]["total"] == 0 and len(empty["accounts"]) == 3
    text = report_text(r)
    for title in ("Accounts and their rights", "Retrieval requests", "Viewings", "Exports", "Holds",
                  "Destructions", "Inspections", "Failed logins (2)"):
        assert title in text
    with speaking("en"):
        page = audit_report_html(Doc("en", None, "Test <office>"), r, T0 + 40 * S)
    assert page.startswith("<!doctype html>") and "mallory" in page and "<script>" not in page
    assert "Test &lt;office&gt;" in page and "Failed logins" in page and "past its longest retention" in page
    with speaking("zh-TW"):
        page = audit_report_html(Doc("zh-TW", None, "景美辦事處"), r, T0 + 40 * S)
    for word in ("錄影監視系統稽核報告", "帳號及權限", "調閱申請", "登入失敗", "mallory", "稽核紀錄鏈："):
        assert word in page, word


# --- chain heads to the central office ------------------------------------------------------------
def test_chain_heads_go_to_the_central_office_and_catch_a_rewritten_log(tmp_path):
    """The daemon publishes the chain head (seq + hash) on the MQTT audit topic; the head the
    central office holds then catches a local rewrite that recomputed every hash."""
    from tests.support.broker import Broker, Subscriber
    from tests.support.daemon import Daemon, wait_for, write_config
    from tests.support.people import People

    base = "edged/v1/test/node1"
    broker = Broker(tmp_path / "broker").start()
    sub = Subscriber(broker, f"{base}/audit").start()
    data = tmp_path / "data"
    config = write_config(tmp_path / "edged.toml", data, [{"id": "demo", "url": "synthetic:?fps=5"}])
    config.write_text(config.read_text() + f'\n[mqtt]\nenabled = true\nhost = "127.0.0.1"\nport = {broker.port}\n'
                      'reconnect_max = "1s"\n')
    d = Daemon(config, data, tmp_path / "edged.log").start()
    try:
        people = People(config, tmp_path)
        people.add("audrey", "auditor")
        r = people.ctl("audit", "list")
        assert r.returncode == 2 and "needs the auditor role; admin has admin" in r.stderr
        people.as_("audrey")
        listed = json.loads(people.ctl("audit", "list", "--action", "account", "--json").stdout)
        assert [(x["action"], x["detail"]["account"]) for x in listed] == [("account.open", "admin"),
                                                                           ("account.open", "audrey"),
                                                                           ("account.password", "audrey")]
        export = tmp_path / "audit.jsonl"
        r = people.ctl("audit", "export", "--out", str(export))
        assert r.returncode == 0 and audit.verify_lines(export.read_text().splitlines())[1] is None
        page = tmp_path / "report.html"
        r = people.ctl("audit", "report", "--from", "-1h", "--out", str(page))
        assert r.returncode == 0 and "Failed logins (0)" in r.stdout and "audrey" in page.read_text()

        def heads():
            return [m.json() for m in sub.on(f"{base}/audit") if m.json().get("kind") == "chain_head"]

        head = wait_for(heads, 30, "a chain head on MQTT")[0]
        def records_to_the_accounts():  # the records come one by one: wait for the one asserted on, not the first
            got = [m.json() for m in sub.on(f"{base}/audit") if "action" in m.json()]
            return got if any(x["action"] == "account.open" for x in got) else None

        records = wait_for(records_to_the_accounts, 30, "the records up to the accounts' opening")
        assert records[0]["action"] == "data.init"  # the data folder's initialisation opens the chain
        opened = next(x for x in records if x["action"] == "account.open")
        assert opened["chain_head"] == opened["hash"]
        local = {r["seq"]: r["hash"] for r in rows(d, "audit")}
        assert local[head["seq_local"]] == head["hash"]
    finally:
        assert d.stop() == 0, d.log
        sub.stop()
        broker.stop()
    # someone rewrites the log from the published head on, recomputing every hash
    db = open_db(data / "catalog.db")
    delete_audit(db, head["seq_local"], and_after=True)
    set_node(db, "mqtt_audit_seq", None)
    audit.append(db, "nobody", "nothing.happened", {})
    db.conn.close()
    assert verify_cli(data).returncode == 0
    r = verify_cli(data, "--head", f"{head['seq_local']}:{head['hash']}")
    assert r.returncode == 2 and "rewritten" in r.stderr
