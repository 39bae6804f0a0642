"""The seed sites' approval and hold rules as shipped (issue 31, design/0075, 0076): each
examples/sites/ config read as the daemon reads it, then its request chains and holds probed with
the pure rules (edged/rules/retrieval.py, edged/rules/holds.py). No daemon: the end-to-end walk is
tests/test_sites.py."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from edged.config import load_config
from edged.config.policy import KindRules, RequestPolicy, Step, distinct_signers, problems
from edged.rules import retrieval as rq
from edged.rules.retrieval import RequestRuleError
from tests.support.daemon import ROOT

SITES = ROOT / "examples" / "sites"
S = 1_000_000
DAY = 86_400 * S
T0 = int(datetime(2026, 3, 2, 9, 0, tzinfo=timezone.utc).timestamp()) * S
KEY = b"k" * 32


def site(name: str):
    return load_config(next(SITES.glob(f"{name}-*.toml")))


def request(policy, kind="internal", cameras=("counter-1",), org="戶籍課", by="desk", **over):
    fields = {"kind": kind, "category": policy.categories[0], "reason": "a wallet lost at the counter",
              "cameras": list(cameras), "from_us": T0 - 3600 * S, "to_us": T0 - 1800 * S,
              "requester_name": "Lin Mei", "requester_org": org, "letter_ref": "L-1",
              "id_number": "A123456789", "identity_checked": True, **over}
    return {**rq.new_request(fields, filed_by=by, now_us=T0, id_key=KEY, policy=policy), "id": 1}


def walk(req, signers, scopes=None):
    """Sign every step in turn; returns the grant the last one issues."""
    grant = None
    for who in signers:
        changes, grant = rq.decide(req, approver=who, approve=True, reason="necessary", now_us=T0,
                                   grant_ttl_us=DAY, approver_scope=(scopes or {}).get(who))
        req = {**req, **changes}
    assert req["state"] == "approved", req
    return grant


# approval chains (item 1) ----------------------------------------------------------------
def test_000_internal_is_the_four_boxes_of_annex_2_with_the_applying_sections_own_chief():
    pol = site("000").policy
    r = request(pol, org="戶籍課")
    assert [(s["name"], s["approvers"]) for s in r["chain"]] == [
        ("申請課室", ["chen"]), ("管理課室", ["chang"]), ("秘書", ["lin"]), ("主任", ["huang"])]
    with pytest.raises(RequestRuleError, match="signed by chen, not wu"):
        rq.decide(r, approver="wu", approve=True, reason="x", now_us=T0, grant_ttl_us=DAY)
    assert walk(r, ["chen", "chang", "lin", "huang"])["approvers"] == ["chen", "chang", "lin", "huang"]
    # another section's request: its own chief signs the first box
    assert request(pol, org="資訊課")["chain"][0]["approvers"] == ["wu"]
    # the managing section's own request: its chief signs once, as the managing section
    assert [s["name"] for s in request(pol, org="行政課")["chain"]] == ["管理課室", "秘書", "主任"]
    with pytest.raises(RequestRuleError, match="not a unit of this site's .policy.units. .戶籍課, 資訊課, 行政課"):
        request(pol, org="Counter section")


def test_001_internal_is_the_four_sign_offs_of_annex_4():
    pol = site("001").policy
    r = request(pol, cameras=["records-room"], org="登記課")
    assert [(s["name"], s["approvers"]) for s in r["chain"]] == [
        ("申請單位主管", ["kao"]), ("管理單位主管", ["lai"]), ("秘書", ["wu"]), ("主任", ["cheng"])]
    walk(r, ["kao", "lai", "wu", "cheng"])


def test_004_each_buildings_managing_unit_signs_for_its_own_cameras():
    pol = site("004").policy
    names = lambda cams: [s["name"] for s in request(pol, cameras=cams, org="Class 2A")["chain"]]  # noqa: E731
    assert names(["workshop-1"]) == ["業管單位：機械科", "學務處(學安室)", "學務主任"]
    assert names(["library-1"]) == ["業管單位：圖書館", "學務處(學安室)", "學務主任"]
    assert names(["gate"]) == ["學務處(學安室)", "學務主任"]          # §7(1): student affairs' own area
    both = request(pol, cameras=["library-1", "workshop-1"], org="Class 2A")
    assert [s["name"] for s in both["chain"]] == ["業管單位：圖書館", "業管單位：機械科", "學務處(學安室)", "學務主任"]
    # the department signs for its workshop camera only: its rights need not cover the library's
    scopes = {"mech": ["workshop-1"], "librarian": ["library-1"]}
    with pytest.raises(RequestRuleError, match="no rights on camera.s. library-1"):
        rq.decide(both, approver="mech", approve=True, reason="x", now_us=T0, grant_ttl_us=DAY,
                  approver_scope=scopes["mech"])
    walk(both, ["librarian", "mech", "safety", "hsu"], scopes)


def test_chains_of_any_length_and_scoped_steps_on_top():
    six = tuple(Step(f"s{i}", frozenset({f"a{i}"})) for i in range(6))
    scoped = tuple(Step(f"unit{i}", cameras=frozenset({f"cam{i}"})) for i in range(8))
    pol = RequestPolicy(kinds={"internal": KindRules(chain=scoped + six)}, categories=("other",))
    assert problems(pol) == []
    r = request(pol, cameras=["cam1", "cam5"], org="x")
    assert [s["name"] for s in r["chain"]] == ["unit1", "unit5", "s0", "s1", "s2", "s3", "s4", "s5"]
    assert r["chain"][0]["cameras"] == ["cam1"]
    walk(r, ["u1", "u5", "a0", "a1", "a2", "a3", "a4", "a5"])


def test_distinct_signers_is_a_matching():
    assert distinct_signers([{"a", "b"}, {"a"}])          # b, a
    assert not distinct_signers([{"a"}, {"a", "b"}, {"b"}])
    pools = [{f"p{i}", f"p{i + 1}"} for i in range(30)]   # long chains: no product of choices
    assert distinct_signers(pools) and not distinct_signers(pools + [{"p0"}, {"p1"}])


def test_a_unit_chief_who_cannot_be_told_apart_from_a_later_step_is_refused_at_filing():
    pol = RequestPolicy(kinds={"internal": KindRules(chain=(Step("own chief", unit="requester"),
                                                           Step("director", frozenset({"huang"}))))},
                        categories=("other",), units={"front": frozenset({"huang", "x"}), "odd": frozenset({"huang"})})
    assert [s["name"] for s in request(pol, org="front")["chain"]] == ["own chief", "director"]
    # "odd"'s only chief is the director, who signs the later box: one signature, not two
    assert [s["name"] for s in request(pol, org="odd")["chain"]] == ["director"]
