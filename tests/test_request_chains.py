"""Approval chains on the record (design/0036): a request filed under the site's [policy]
keeps its chain; each sign-off is an audit record; the last one issues the grant; whoever
signed never uses it. The store on a real SQLite catalog, then a daemon driven by edgectl."""

from __future__ import annotations

import json
import textwrap
from datetime import datetime, timezone

import pytest

from edged.config.policy import KindRules, RequestPolicy, Step
from edged.rules.retrieval import RequestRuleError
from storage import audit, cameras as camera_table
from edged import people
from storage.people import retrieval_store
from storage.catalog import open_db
from storage.time.clock import SYSTEM
from tests.support.daemon import Daemon, wait_for, write_config
from tests.support.people import People

S = 1_000_000
DAY = 86_400 * S
T0 = int(datetime(2026, 3, 2, 9, 0, tzinfo=timezone.utc).timestamp()) * S
KEY = b"k" * 32
SCHOOL = RequestPolicy(kinds={"internal": KindRules(chain=(
    Step("managing unit"), Step("safety office", frozenset({"lee", "wu"})),
    Step("student affairs director", frozenset({"hsu"}))))}, categories=("lost-property", "campus-safety"))


def internal(**over):
    return {"kind": "internal", "category": "lost-property", "reason": "a laptop gone from the library",
            "cameras": ["lib-1"], "from_us": T0 - 3600 * S, "to_us": T0 - 1800 * S, "requester_name": "Kao",
            "requester_org": "library", **over}


@pytest.fixture
def db(tmp_path):
    db = open_db(tmp_path / "catalog.db")
    camera_table.sync(db, [{"id": c, "name": c, "url": "synthetic:", "enabled": 1} for c in ("lib-1", "hall")],
                      SYSTEM.now_us())
    for name, roles, cams in (("desk", ["viewer"], None), ("ling", ["approver"], ["hall"]),
                              ("mei", ["approver"], ["lib-1"]), ("lee", ["approver"], None),
                              ("hsu", ["approver"], None), ("wu", ["approver", "custodian"], None),
                              ("carol", ["custodian"], None)):
        people.add_account(db, name, "a-long-password-1", roles, cams, by="admin", reason="test", now_us=T0 - DAY,
                       min_password=10)
    return db


def records(db):
    return [(r["actor"], r["action"], r["detail"]) for r in audit.records(db) if r["action"].startswith(
        ("request.", "grant."))]


def test_a_three_step_chain_on_the_record(db):
    r = people.file_request(db, internal(), filed_by="desk", now_us=T0, key=KEY, policy=SCHOOL)
    assert [s["name"] for s in r["chain"]] == ["managing unit", "safety office", "student affairs director"]
    assert r["steps"] == [] and r["due_us"] is None
    with pytest.raises(RequestRuleError, match="no rights on camera.s. lib-1"):
        people.decide_request(db, r["id"], approver="ling", approve=True, reason="ok", now_us=T0, grant_ttl_us=DAY)
    r = people.decide_request(db, r["id"], approver="mei", approve=True, reason="library camera", now_us=T0 + S,
                          grant_ttl_us=DAY)
    assert r["state"] == "filed" and r["grant"] is None and [s["by"] for s in r["steps"]] == ["mei"]
    with pytest.raises(RequestRuleError, match="already signed managing unit"):
        people.decide_request(db, r["id"], approver="mei", approve=True, reason="again", now_us=T0, grant_ttl_us=DAY)
    with pytest.raises(RequestRuleError, match="signed by lee, wu, not hsu"):
        people.decide_request(db, r["id"], approver="hsu", approve=True, reason="skip", now_us=T0, grant_ttl_us=DAY)
    people.decide_request(db, r["id"], approver="wu", approve=True, reason="safety ok", now_us=T0 + 2 * S,
                      grant_ttl_us=DAY)
    r = people.decide_request(db, r["id"], approver="hsu", approve=True, reason="approved", now_us=T0 + 3 * S,
                          grant_ttl_us=DAY)
    g = r["grant"]
    assert r["state"] == "approved" and g["approvers"] == ["mei", "wu", "hsu"] and g["approver"] == "hsu"
    # wu signed a step: wu is a custodian too, and still may not use the grant
    with pytest.raises(retrieval_store.GrantError, match="separation of duties"):
        people.use_grant(db, g["id"], custodian="wu", watcher="Kao", mode="view", now_us=T0 + 4 * S)
    people.use_grant(db, g["id"], custodian="carol", watcher="Kao", mode="view", now_us=T0 + 5 * S)
    steps = [(a, act, d.get("step"), d.get("step_name")) for a, act, d in records(db)]
    assert steps == [("desk", "request.file", None, None), ("mei", "request.step", 0, "managing unit"),
                     ("wu", "request.step", 1, "safety office"),
                     ("hsu", "request.approve", 2, "student affairs director"),
                     ("wu", "grant.refused", None, None), ("carol", "grant.use", None, None)]
    text = json.dumps(records(db))  # the chain holds the step reasons, never the requester
    assert "Kao" not in text and "laptop" not in text
    approve = [d for _, act, d in records(db) if act == "request.approve"][0]
    assert approve["approvers"] == ["mei", "wu", "hsu"] and approve["steps"] == 3
    assert audit.verify(db)[1] is None


def test_a_rejection_at_the_second_step_closes_the_request(db):
    r = people.file_request(db, internal(), filed_by="desk", now_us=T0, key=KEY, policy=SCHOOL)
    people.decide_request(db, r["id"], approver="lee", approve=True, reason="ok", now_us=T0 + S, grant_ttl_us=DAY)
    r = people.decide_request(db, r["id"], approver="wu", approve=False, reason="not necessary", now_us=T0 + 2 * S,
                          grant_ttl_us=DAY)
    assert r["state"] == "rejected" and r["closed_us"] == T0 + 2 * S and r["grant"] is None
    assert [act for _, act, _ in records(db)] == ["request.file", "request.step", "request.reject"]


def test_a_site_that_does_not_take_a_kind_refuses_it_at_filing(db):
    with pytest.raises(RequestRuleError, match="requests from citizen are not taken"):
        people.file_request(db, internal(kind="citizen", id_number="A123456789", identity_checked=True),
                        filed_by="desk", now_us=T0, key=KEY, policy=SCHOOL)
    assert records(db) == []


# the daemon, driven by edgectl -----------------------------------------------------------------
def test_edgectl_walks_a_two_step_chain_and_clamps_the_grant(tmp_path):
    data = tmp_path / "data"
    config = write_config(tmp_path / "edged.toml", data, [{"id": "cam", "url": "synthetic:"}])
    config.write_text(config.read_text() + textwrap.dedent("""
        [accounts]
        grant_ttl = "1d"

        [policy]
        categories = ["traffic-accident", "other"]

        [policy.agency]
        chain = [{ name = "section chief" }, { name = "director", approvers = ["dora"] }]
        copy_to = "requester"
        receipt = true
        """))
    d = Daemon(config, data, tmp_path / "edged.log").start()
    try:
        people = People(config, tmp_path)
        people.add("desk", "viewer")
        people.add("sam", "approver")
        people.add("dora", "approver")
        people.add("carol", "custodian")
        wait_for(lambda: len(d.segments("cam")) >= 2, 60, "footage")
        segs = d.segments("cam")
        iso = lambda us: datetime.fromtimestamp(us / S, timezone.utc).isoformat()  # noqa: E731
        people.as_("desk")
        r = people.ctl("request", "file", "--kind", "agency", "--category", "lost-property", "--reason", "x",
                       "--camera", "cam", "--from", iso(segs[0]["start_us"]), "--to", iso(segs[-1]["end_us"]),
                       "--requester", "Officer Lin", "--letter", "ZZ-1")
        assert r.returncode == 2 and "categories are traffic-accident, other" in r.stderr
        r = people.ctl("request", "file", "--kind", "agency", "--category", "traffic-accident", "--reason",
                       "accident outside",
                       "--camera", "cam", "--from", iso(segs[0]["start_us"]), "--to", iso(segs[-1]["end_us"]),
                       "--copy", "--requester", "Officer Lin", "--letter", "ZZ-1", "--json")
        assert r.returncode == 0, r.stderr
        rid = str(json.loads(r.stdout)["id"])
        people.as_("sam")
        r = people.ctl("request", "approve", rid, "--reason", "letter checked")
        assert r.returncode == 0, r.stderr
        assert "step 1 of 2 (section chief) approved; next: director, by dora" in r.stdout
        r = people.ctl("request", "approve", rid, "--reason", "again")
        assert r.returncode == 2 and "sam already signed section chief" in r.stderr
        people.as_("dora")
        r = people.ctl("request", "approve", rid, "--reason", "approved", "--expires", "30d", "--json")
        assert r.returncode == 0, r.stderr
        out = json.loads(r.stdout)
        g = out["grant"]
        assert g["approvers"] == ["sam", "dora"] and g["expires_us"] - g["created_us"] == DAY, "clamped to grant_ttl"
        assert "longer than this site allows" in out["note"] and "grant_ttl" not in out["note"]
        shown = people.ctl("request", "show", rid).stdout
        assert "1. section chief: approved by sam" in shown and "2. director: approved by dora" in shown
        people.add("aud", "auditor")
        people.as_("aud")
        acts = json.loads(people.ctl("audit", "list", "--json").stdout)
        assert [a["action"] for a in acts if a["action"].startswith("request.")] == [
            "request.file", "request.step", "request.approve"]
        r = people.ctl("request", "approve", rid, "--reason", "x", "--expires", "0s")
        assert r.returncode == 2 and "greater than zero" in r.stderr, "edgectl refuses it; the daemon too " \
            "(retrieval.grant_lifetime, for a caller that is not edgectl)"
        # The copy goes to the requester only, against a signed receipt (002 §8(2)); a refusal spends nothing.
        people.as_("carol")
        grant = str(g["id"])
        r = people.ctl("export", "--grant", grant, "--out", str(tmp_path / "e1"), "--recipient", "a reporter",
                       "--receipt", "a reporter")
        assert r.returncode == 2 and "goes to its requester only" in r.stderr
        r = people.ctl("export", "--grant", grant, "--out", str(tmp_path / "e2"))
        assert r.returncode == 2 and "signed receipt" in r.stderr and "grant was not used" in r.stderr
        r = people.ctl("export", "--grant", grant, "--out", str(tmp_path / "e3"), "--receipt", "Officer Lin",
                       "--json")
        assert r.returncode == 0, r.stderr
        manifest = json.loads((tmp_path / "e3" / "manifest.json").read_text())
        assert manifest["receipt_signed_by"] == "Officer Lin" and manifest["recipient"] == "Officer Lin"
    finally:
        assert d.stop() == 0, d.log
