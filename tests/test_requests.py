"""Retrieval requests (R5): the pure state machine with an injected clock, then the store on a
real SQLite catalog (citizen due date, grants once only, the 3-year purge keeping an audit stub)."""

from __future__ import annotations

import json
from datetime import datetime, timezone

import pytest

from edged import people as people_rules
from edged.rules import retrieval as rq
from edged.rules.retrieval import RequestRuleError
from storage import audit, cameras as camera_table
from storage.people import retrieval_store
from storage.catalog import open_db
from storage.time.clock import SYSTEM
from tests.support.catalog import audit_rows

S = 1_000_000
DAY = 86_400 * S
T0 = int(datetime(2026, 3, 2, 9, 0, tzinfo=timezone.utc).timestamp()) * S
KEY = b"k" * 32


def citizen(**over):
    fields = {"kind": "citizen", "category": "lost-property", "reason": "lost a wallet at counter 2",
              "cameras": ["counter-1"], "from_us": T0 - 3 * 3600 * S, "to_us": T0 - 2 * 3600 * S,
              "requester_name": "Wang Xiao-ming", "id_number": "A123456789", "identity_checked": True}
    return {**fields, **over}


def agency(**over):
    fields = {"kind": "agency", "category": "other", "reason": "traffic accident outside", "mode": "copy",
              "cameras": ["door"], "from_us": T0 - 3600 * S, "to_us": T0 - 1800 * S,
              "requester_name": "Officer Lin", "requester_org": "Zhongzheng precinct", "letter_ref": "ZZ-2026-031"}
    return {**fields, **over}


def filed(fields, now=T0, by="desk"):
    return {**rq.new_request(fields, filed_by=by, now_us=now, id_key=KEY), "id": 7}


# --- filing --------------------------------------------------------------------------------------
def test_citizen_request_is_due_in_six_days_and_keeps_only_a_masked_id():
    r = filed(citizen())
    assert r["state"] == rq.FILED and r["due_us"] == T0 + 6 * DAY
    assert r["citizen_id_masked"] == "A******789"
    assert "A123456789" not in json.dumps(r)
    assert r["citizen_id_hmac"] == rq.id_hmac("a1234-56789", KEY), "the same person is found again"
    assert r["citizen_id_hmac"] != rq.id_hmac("A123456789", b"x" * 32), "the hash is keyed"


def test_overdue_after_six_days_only_while_undecided():
    r = filed(citizen())
    assert not rq.overdue(r, T0 + 6 * DAY)
    assert rq.overdue(r, T0 + 6 * DAY + 1)
    changes, _ = rq.decide(r, approver="boss", approve=False, reason="not on record", now_us=T0 + 7 * DAY,
                           grant_ttl_us=DAY)
    assert not rq.overdue({**r, **changes}, T0 + 8 * DAY)
    assert not rq.overdue(filed(agency()), T0 + 100 * DAY), "only citizens' requests have the 6-day rule"


@pytest.mark.parametrize("fields, problem", [
    (citizen(kind="neighbour"), "unknown request kind"),
    (citizen(category="curiosity"), "unknown reason category"),
    (citizen(reason="  "), "names its reason"),
    (citizen(cameras=[]), "names its cameras"),
    (citizen(to_us=T0 - 4 * 3600 * S), "end must be after its start"),
    (citizen(from_us=T0 + S, to_us=T0 + 2 * S), "starts in the future"),
    (citizen(requester_name=""), "names its requester"),
    (citizen(id_number=None), "ID number"),
    (citizen(identity_checked=False), "identity document"),
    (citizen(id_number="12"), "6 to 20 letters and digits"),
    (citizen(mode="copy"), "may only view"),
    ({**citizen(), "kind": "quick-look", "mode": "copy"}, "may only view"),
    (agency(letter_ref=None), "official letter"),
    ({**agency(), "kind": "internal", "mode": "view", "requester_org": None}, "unit"),
    (citizen(mode="print"), "view or copy"),
    (citizen(flag="urgent"), "major or abnormal"),
])
def test_filing_rules(fields, problem):
    with pytest.raises(RequestRuleError, match=problem):
        rq.new_request(fields, filed_by="desk", now_us=T0, id_key=KEY)


def test_a_portable_devices_claim_ahead_of_the_box_may_be_asked_for():
    """Issue 87 (design/0400): a device whose clock is ahead claims times the box has not reached; its
    footage is on the box all the same, so a range in the future is refused only for the box's cameras."""
    ahead = {"from_us": T0 + 4000 * DAY, "to_us": T0 + 4000 * DAY + 60 * S}
    got = rq.new_request(agency(cameras=["portable.cam-31"], **ahead), filed_by="desk", now_us=T0, id_key=KEY)
    assert (got["from_us"], got["cameras"]) == (ahead["from_us"], ["portable.cam-31"])
    with pytest.raises(RequestRuleError, match="starts in the future"):
        rq.new_request(agency(cameras=["counter-1"], **ahead), filed_by="desk", now_us=T0, id_key=KEY)


def test_unknown_cameras_are_refused_when_the_list_is_known():
    with pytest.raises(RequestRuleError, match="unknown camera"):
        rq.new_request(citizen(cameras=["nope"]), filed_by="desk", now_us=T0, id_key=KEY, known_cameras=["counter-1"])


def test_major_incident_is_flagged_major():
    assert filed(citizen(category="major-incident"))["flag"] == "major"
    assert filed(citizen(flag="abnormal", flag_note="asks for the same minute again"))["flag"] == "abnormal"
    assert filed(citizen())["flag"] is None


# --- deciding and using --------------------------------------------------------------------------
def test_approval_yields_a_single_use_grant_with_an_expiry():
    r = filed(agency())
    changes, grant = rq.decide(r, approver="chief", approve=True, reason="letter checked", now_us=T0 + S,
                               grant_ttl_us=3 * DAY)
    assert changes["state"] == rq.APPROVED and changes["decided_by"] == "chief"
    assert grant["mode"] == "copy" and grant["cameras"] == ["door"] and grant["expires_us"] == T0 + S + 3 * DAY
    g = {**grant, "id": 1}
    assert rq.refuse_use(g, mode="copy", now_us=T0 + 2 * S) is None
    assert "is for copy, not view" in rq.refuse_use(g, mode="view", now_us=T0 + 2 * S)
    assert "expired" in rq.refuse_use(g, mode="copy", now_us=T0 + S + 3 * DAY)
    used = {**g, "used_us": T0 + 3 * S, "used_by": "carol"}
    assert "already used (by carol)" in rq.refuse_use(used, mode="copy", now_us=T0 + 4 * S)
    assert "no grant 9" in rq.refuse_use(None, mode="copy", now_us=T0, grant_id=9)


def test_an_approver_cannot_decide_what_they_filed_or_asked_for():
    r = filed(citizen(), by="alice")
    with pytest.raises(RequestRuleError, match="another approver decides"):
        rq.decide(r, approver="alice", approve=True, reason="ok", now_us=T0, grant_ttl_us=DAY)
    r = filed({**agency(), "kind": "internal", "mode": "view", "requester_account": "bob"})
    with pytest.raises(RequestRuleError, match="another approver"):
        rq.decide(r, approver="bob", approve=True, reason="ok", now_us=T0, grant_ttl_us=DAY)


def test_decisions_need_a_reason_and_happen_once():
    r = filed(citizen())
    with pytest.raises(RequestRuleError, match="gives its reason"):
        rq.decide(r, approver="boss", approve=True, reason=" ", now_us=T0, grant_ttl_us=DAY)
    changes, grant = rq.decide(r, approver="boss", approve=False, reason="no", now_us=T0, grant_ttl_us=DAY)
    assert grant is None and changes["closed_us"] == T0
    with pytest.raises(RequestRuleError, match="already rejected"):
        rq.decide({**r, **changes}, approver="boss2", approve=True, reason="yes", now_us=T0, grant_ttl_us=DAY)


def test_lapsed_when_the_grant_expires_unused():
    r = {**filed(citizen()), "state": rq.APPROVED}
    g = {"used_us": None, "expires_us": T0 + DAY}
    assert not rq.lapsed(r, g, T0 + DAY - 1) and rq.lapsed(r, g, T0 + DAY)
    assert not rq.lapsed(r, {**g, "used_us": T0}, T0 + 2 * DAY)


# --- the 3-year purge ----------------------------------------------------------------------------
def test_purge_three_calendar_years_after_closing():
    r = {**filed(citizen()), "closed_us": T0}
    three = int(datetime(2029, 3, 2, 9, 0, tzinfo=timezone.utc).timestamp()) * S
    assert not rq.purge_due(r, three - 1) and rq.purge_due(r, three)
    assert not rq.purge_due({**r, "closed_us": None}, three + 10 * 365 * DAY), "open requests are kept"
    assert not rq.purge_due({**r, "purged_us": three}, three + DAY), "once"
    leap = int(datetime(2028, 2, 29, 12, 0, tzinfo=timezone.utc).timestamp()) * S
    assert rq.add_years(leap, 3) == int(datetime(2031, 2, 28, 12, 0, tzinfo=timezone.utc).timestamp()) * S


def test_purged_request_keeps_what_it_was_not_who_asked():
    r = filed(citizen(requester_contact="0912-345-678"))
    after = {**r, **rq.purged(r, T0)}
    for key in ("citizen_id_masked", "citizen_id_hmac", "requester_contact", "requester_org", "letter_ref"):
        assert after[key] is None
    assert after["requester_name"] == "[purged]" and after["reason"] == "[purged]"
    assert after["kind"] == "citizen" and after["cameras"] == ["counter-1"] and after["from_us"] == r["from_us"]
    stub = rq.stub(r)
    assert "Wang" not in json.dumps(stub) and "wallet" not in json.dumps(stub)


# --- the store on a real catalog -----------------------------------------------------------------
@pytest.fixture
def db(tmp_path):
    db = open_db(tmp_path / "catalog.db")
    camera_table.sync(db, [{"id": c, "name": c, "url": "synthetic:", "enabled": 1} for c in ("counter-1", "door")],
                      SYSTEM.now_us())
    for name, role in (("desk", "viewer"), ("boss", "approver"), ("carol", "custodian")):
        people_rules.add_account(db, name, "a-long-password-1", [role], None, by="admin", reason="test",
                                 now_us=T0 - DAY,
                       min_password=10)
    return db


def actions(db):
    return [(r["actor"], r["action"], json.loads(r["detail"])) for r in audit_rows(db)]


def test_store_files_decides_uses_once_and_records_each_step(db):
    r = people_rules.file_request(db, citizen(), filed_by="desk", now_us=T0, key=KEY)
    assert r["state"] == "filed" and r["due_us"] == T0 + 6 * DAY
    with pytest.raises(RequestRuleError, match="another approver"):
        people_rules.decide_request(db, r["id"], approver="desk", approve=True, reason="me", now_us=T0,
                                    grant_ttl_us=DAY)
    r = people_rules.decide_request(db, r["id"], approver="boss", approve=True, reason="on record", now_us=T0 + S,
                          grant_ttl_us=DAY)
    g = r["grant"]
    assert retrieval_store.peek_grant(db, g["id"])["used_us"] is None
    with pytest.raises(retrieval_store.GrantError, match="is for view, not copy"):
        people_rules.use_grant(db, g["id"], custodian="carol", watcher="Wang", mode="copy", now_us=T0 + 2 * S)
    with pytest.raises(retrieval_store.GrantError, match="not an active custodian"):
        people_rules.use_grant(db, g["id"], custodian="boss", watcher="Wang", mode="view", now_us=T0 + 2 * S)
    used = people_rules.use_grant(db, g["id"], custodian="carol (os: root)", watcher="Wang", mode="view",
                                  now_us=T0 + 3 * S)
    assert used["used_by"] == "carol" and used["cameras"] == ["counter-1"] and used["mode"] == "view"
    assert {"id", "request_id", "from_us", "to_us", "approver", "requester", "expires_us"} <= set(used)
    with pytest.raises(retrieval_store.GrantError, match="already used"):
        people_rules.use_grant(db, g["id"], custodian="carol", watcher="Wang", mode="view", now_us=T0 + 4 * S)
    with pytest.raises(retrieval_store.GrantError, match="no grant 99"):
        people_rules.use_grant(db, 99, custodian="carol", watcher="x", mode="view", now_us=T0)
    assert retrieval_store.request_row(db, r["id"])["state"] == "used"
    steps = [(a, act) for a, act, _ in actions(db) if not act.startswith("account.")]
    assert steps == [("desk", "request.file"), ("boss", "request.approve"), ("carol", "grant.refused"),
                     ("boss", "grant.refused"), ("carol (os: root)", "grant.use"), ("carol", "grant.refused"),
                     ("carol", "grant.refused")]
    chain = json.dumps(actions(db))
    assert "A123456789" not in chain and "Wang" not in chain and "wallet" not in chain, \
        "the chain holds no requester's personal data"
    assert audit.verify(db) == (len(actions(db)), None)


def test_store_lapses_unused_grants_and_purges_after_three_years(db):
    a = people_rules.file_request(db, citizen(), filed_by="desk", now_us=T0, key=KEY)
    people_rules.decide_request(db, a["id"], approver="boss", approve=True, reason="ok", now_us=T0 + S,
                                grant_ttl_us=DAY)
    b = people_rules.file_request(db, citizen(category="major-incident"), filed_by="desk", now_us=T0, key=KEY)
    c = people_rules.file_request(db, agency(), filed_by="desk", now_us=T0, key=KEY)
    out = people_rules.sweep(db, T0 + DAY + S, keep_years=3)
    assert out["lapsed"] == [{"id": a["id"], "grant": 1}]
    assert [r["id"] for r in out["flagged"]] == [b["id"]]
    assert out["overdue"] == [] and out["purged"] == []
    assert [r["id"] for r in people_rules.sweep(db, T0 + 7 * DAY, 3)["overdue"]] == [b["id"]], "c is an agency request"
    people_rules.decide_request(db, c["id"], approver="boss", approve=False, reason="no letter", now_us=T0 + 8 * DAY,
                      grant_ttl_us=DAY)
    closed_a = retrieval_store.request_row(db, a["id"])["closed_us"]
    assert closed_a == T0 + S + DAY, "closed when its grant expired"
    assert people_rules.sweep(db, rq.add_years(closed_a, 3) - 1, 3)["purged"] == []
    out = people_rules.sweep(db, rq.add_years(closed_a, 3), 3)
    assert out["purged"] == [{"id": a["id"]}]
    gone = retrieval_store.request_row(db, a["id"])
    assert gone["requester_name"] == "[purged]" and gone["citizen_id_hmac"] is None and gone["purged_us"]
    assert gone["grant"]["requester"] is None and gone["kind"] == "citizen"
    assert retrieval_store.request_row(db, c["id"])["requester_name"] == "Officer Lin", "c closed later: kept for now"
    stub = [d for _, act, d in actions(db) if act == "request.purge"]
    assert stub == [{"request": a["id"], "kind": "citizen", "category": "lost-property", "cameras": ["counter-1"],
                     "from_us": a["from_us"], "to_us": a["to_us"], "mode": "view", "flag": None,
                     "filed_us": T0, "closed_us": closed_a}]
    # b was never decided: it lapsed at the sweep 3 years on (request_lapse, design/0019) and is purged
    # 3 years after that; a is not purged twice
    assert people_rules.sweep(db, rq.add_years(closed_a, 10), 3)["purged"] == [{"id": b["id"]}, {"id": c["id"]}], \
        "each is purged once"
    found = retrieval_store.list_requests(db, id_hmac=rq.id_hmac("A123456789", KEY))
    assert found == [], "the citizen is findable no more"
