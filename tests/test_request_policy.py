"""Site policy for retrieval requests (design/0036): the defaults are edged's old rules
exactly; approval chains of one to three distinct approvers, optionally per camera; copy
rules and receipts; checks a config loader reports by field. Pure: no disk, no clock."""

from __future__ import annotations

import re
from datetime import datetime, timezone
from typing import NamedTuple

import pytest
from hypothesis import strategies as st

from edged.i18n import hint_of, speaking
from edged.rules import retrieval as rq
from edged.rules.persons import Named
from edged.config.policy import COPY, VIEW, KindRules, RequestPolicy, Step, default_policy, distinct_signers, problems
from edged.rules.retrieval import RequestRuleError, approver_refusal, copy_refusal, filing, grant_lifetime, next_step
from tests.support.properties import at_two_lengths


class Signed(NamedTuple):
    changes: dict
    grant: dict | None
    step: dict       # the step just signed
    final: bool      # the request is decided


def sign(req, **kw) -> Signed:
    """One step of the chain (retrieval.decide), with what the store reads off it."""
    changes, grant = rq.decide(req, **kw)
    return Signed(changes, grant, changes["steps"][-1], "state" in changes)


S = 1_000_000
DAY = 86_400 * S
T0 = int(datetime(2026, 3, 2, 9, 0, tzinfo=timezone.utc).timestamp()) * S
KEY = b"k" * 32


def fields(kind="internal", mode="view", cameras=("door",), **over):
    base = {"kind": kind, "category": "lost-property", "reason": "a wallet left at the counter", "mode": mode,
            "cameras": list(cameras), "from_us": T0 - 3600 * S, "to_us": T0 - 1800 * S,
            "requester_name": "Chen", "requester_org": "civil affairs", "letter_ref": "L-1",
            "id_number": "A123456789", "identity_checked": True}
    return {**base, **over}


def filed(policy, f, by="desk"):
    return {**rq.new_request(f, filed_by=by, now_us=T0, id_key=KEY, policy=policy), "id": 7}


SCHOOL = RequestPolicy(  # 004: no citizens (outsiders go through the police, §4(3)); three sign-offs
    kinds={"internal": KindRules(chain=(Step("managing unit"), Step("safety office", frozenset({"lee", "wu"})),
                                        Step("student affairs director", frozenset({"hsu"})))),
           "agency": KindRules(modes=frozenset({VIEW}), chain=(Step("student affairs director", frozenset({"hsu"})),))},
    categories=("lost-property", "damage", "campus-safety"))


# defaults = edged before site policies -------------------------------------------------------
def test_the_default_policy_is_the_old_behaviour_exactly():
    pol = default_policy()
    assert set(pol.kinds) == set(rq.KINDS) and pol.categories == rq.CATEGORIES
    for kind in rq.KINDS:
        rules = pol.kinds[kind]
        assert rules.modes == ({VIEW, COPY} if kind in rq.COPY_KINDS else {VIEW})
        assert rules.due_us == (6 * DAY if kind == "citizen" else None)
        assert len(rules.chain) == 1 and rules.chain[0].approvers is None and rules.chain[0].cameras is None
        assert not rules.receipt and rules.copy_to == "anyone"
    assert problems(pol) == []
    # One step by any approver who did not file decides it, with the same changes and grant as before.
    for approve in (True, False):
        req = filed(pol, fields(kind="agency", mode=COPY))
        assert req["chain"] == [{"name": "approver", "approvers": None}] and req["steps"] == []
        changes, grant, step, final = sign(req, approver="boss", approve=approve, reason="necessary", now_us=T0,
                                           grant_ttl_us=DAY)
        assert final and {k: v for k, v in changes.items() if k != "steps"} == {
            "state": rq.APPROVED if approve else rq.REJECTED, "decided_by": "boss", "decided_us": T0,
            "decision_reason": "necessary", **({} if approve else {"closed_us": T0})}
        assert step == {"step": 0, "name": "approver", "by": "boss", "at_us": T0, "approve": approve,
                        "reason": "necessary"}
        assert (grant is None) == (not approve)
        if grant:
            assert grant == {"request_id": 7, "cameras": ["door"], "from_us": T0 - 3600 * S, "to_us": T0 - 1800 * S,
                             "mode": COPY, "approver": "boss", "approvers": ["boss"], "requester": "Chen",
                             "created_us": T0, "expires_us": T0 + DAY, "used_us": None, "used_by": None,
                             "watcher": None}
    assert filed(pol, fields(kind="citizen"))["due_us"] == T0 + 6 * DAY
    with pytest.raises(RequestRuleError, match="may only view"):
        filing(pol, fields(kind="citizen", mode=COPY), now_us=T0)


def test_a_request_filed_before_site_policies_still_has_its_one_step():
    req = rq.new_request(fields(), filed_by="desk", now_us=T0, id_key=KEY)  # no chain kept with it
    assert next_step(req) == (0, {"name": "approver", "approvers": None})
    assert sign(req, approver="boss", approve=True, reason="ok", now_us=T0, grant_ttl_us=DAY).final


# chains ------------------------------------------------------------------------------------------
def test_a_three_step_chain_needs_three_different_approvers_in_order():
    req = filed(SCHOOL, fields())
    assert [s["name"] for s in req["chain"]] == ["managing unit", "safety office", "student affairs director"]
    d1 = sign(req, approver="ling", approve=True, reason="the counter camera covers it", now_us=T0, grant_ttl_us=DAY)
    assert not d1.final and d1.grant is None and d1.changes == {"steps": [d1.step]}
    req = {**req, **d1.changes}
    assert req["state"] == rq.FILED and next_step(req)[0] == 1
    with pytest.raises(RequestRuleError, match="already signed managing unit"):
        sign(req, approver="ling", approve=True, reason="again", now_us=T0, grant_ttl_us=DAY)
    with pytest.raises(RequestRuleError, match="signed by lee, wu, not kao"):
        sign(req, approver="kao", approve=True, reason="me", now_us=T0, grant_ttl_us=DAY)
    req = {**req, **sign(req, approver="wu", approve=True, reason="safety ok", now_us=T0 + S, grant_ttl_us=DAY).changes}
    d3 = sign(req, approver="hsu", approve=True, reason="approved", now_us=T0 + 2 * S, grant_ttl_us=DAY)
    assert d3.final and d3.changes["state"] == rq.APPROVED and d3.changes["decided_by"] == "hsu"
    assert d3.grant["approvers"] == ["ling", "wu", "hsu"] and d3.grant["expires_us"] == T0 + 2 * S + DAY
    assert [(s["step"], s["name"], s["by"]) for s in d3.changes["steps"]] == [
        (0, "managing unit", "ling"), (1, "safety office", "wu"), (2, "student affairs director", "hsu")]
    with pytest.raises(RequestRuleError, match="already approved"):
        sign({**req, **d3.changes}, approver="lee", approve=True, reason="x", now_us=T0, grant_ttl_us=DAY)


def test_a_refusal_names_people_by_their_names_not_their_logins():   # issue 42 item 2, design/0112
    names = {"lee": Named("李建國", ("圖書館主任",)), "wu": Named("吳淑惠"), "kao": Named("高文華"),
             "ling": Named("林雅婷")}
    req = {**(r := filed(SCHOOL, fields())), **sign(r, approver="ling", approve=True, reason="ok", now_us=T0,
                                                    grant_ttl_us=DAY).changes}
    with speaking("zh-TW"), pytest.raises(RequestRuleError) as refused:
        rq.decide(req, approver="kao", approve=True, reason="me", now_us=T0, grant_ttl_us=DAY, names=names)
    said = str(refused.value)
    assert "圖書館主任 李建國" in said and "吳淑惠" in said and "高文華" in said, said
    assert not {"lee", "wu", "kao"} & set(re.findall(r"[a-z]+", said)), said


NAMES = {"ling": Named("林雅婷"), "hsu": Named("許文華", ("學務主任",)), "carol": Named("陳美玲")}
GRANT = {"id": 3, "request_id": 7, "approver": "hsu", "approvers": ["ling", "hsu"], "mode": "view",
         "expires_us": T0 + DAY, "used_us": None, "used_by": None}


@pytest.mark.parametrize("refusal, shown", [   # issue 42 item 2: every refusal a desk can show, by name
    (lambda: approver_refusal(GRANT, "ling", NAMES), "林雅婷"),
    (lambda: approver_refusal(GRANT, "hsu", NAMES), "學務主任 許文華"),
    (lambda: rq.refuse_use({**GRANT, "used_us": T0, "used_by": "carol"}, mode="view", now_us=T0, names=NAMES),
     "陳美玲"),
    (lambda: rq.decide(filed(SCHOOL, fields(), by="ling"), approver="ling", approve=True, reason="x", now_us=T0,
                       grant_ttl_us=DAY, names=NAMES), "林雅婷"),
    (lambda: grant_lifetime(0, DAY, DAY), "2"),
])
def test_refusals_a_desk_shows_name_people_and_rules_in_words(refusal, shown):
    """No login name, no requirement id such as (R5.3), no command-line flag: the person's name
    and the rule said in words (the flag or the id is the technician's hint, design/0103)."""
    with speaking("zh-TW"):
        try:
            said = refusal()
        except RequestRuleError as exc:
            said = str(exc)
    assert said and shown in said, said
    assert not re.search(r"\(R\d|--[a-z]|\b(ling|hsu|carol)\b", said), said
    assert not re.search(r"[A-Za-z]{3,}", said), f"English left in the zh-TW refusal: {said}"


def test_a_rejection_at_any_step_decides_the_request():
    req = filed(SCHOOL, fields())
    req = {**req, **sign(req, approver="ling", approve=True, reason="ok", now_us=T0, grant_ttl_us=DAY).changes}
    d = sign(req, approver="lee", approve=False, reason="not necessary", now_us=T0 + S, grant_ttl_us=DAY)
    assert d.final and d.grant is None and d.changes["state"] == rq.REJECTED and d.changes["closed_us"] == T0 + S
    assert next_step({**req, **d.changes}) is None


def test_whoever_filed_or_asked_signs_no_step():
    req = filed(SCHOOL, {**fields(), "requester_account": "wu"}, by="ling")
    for who in ("ling", "wu"):
        with pytest.raises(RequestRuleError, match="who files or asks never approves"):
            sign(req, approver=who, approve=True, reason="mine", now_us=T0, grant_ttl_us=DAY)


def test_a_step_scoped_by_camera_applies_only_to_requests_on_its_cameras():
    pol = RequestPolicy(kinds={"internal": KindRules(chain=(
        Step("library", cameras=frozenset({"lib-1", "lib-2"})), Step("workshop", cameras=frozenset({"ws-1"})),
        Step("director", frozenset({"hsu"}))))})
    assert [s["name"] for s in filed(pol, fields(cameras=["lib-2"]))["chain"]] == ["library", "director"]
    assert [s["name"] for s in filed(pol, fields(cameras=["hall"]))["chain"]] == ["director"]
    assert [s["name"] for s in filed(pol, fields(cameras=["ws-1", "lib-1"]))["chain"]] == [
        "library", "workshop", "director"]


def test_an_approver_decides_only_on_cameras_in_their_scope():
    req = filed(default_policy(), fields(cameras=["door", "vault"]))
    with pytest.raises(RequestRuleError, match="no rights on camera.s. vault"):
        sign(req, approver="boss", approve=True, reason="ok", now_us=T0, grant_ttl_us=DAY, approver_scope=["door"])
    assert sign(req, approver="boss", approve=True, reason="ok", now_us=T0, grant_ttl_us=DAY,
                approver_scope=["door", "vault", "hall"]).final


def test_kinds_and_categories_a_site_does_not_take():
    with pytest.raises(RequestRuleError, match="requests from citizen are not taken"):
        filing(SCHOOL, fields(kind="citizen"), now_us=T0)
    with pytest.raises(RequestRuleError, match="unknown reason category 'counter-dispute'"):
        filing(SCHOOL, fields(category="counter-dispute"), now_us=T0)
    assert filing(SCHOOL, fields(category="campus-safety"), now_us=T0)["due_us"] is None
    with pytest.raises(RequestRuleError, match="may only view the footage, not copy it"):
        filing(SCHOOL, fields(kind="agency", mode=COPY), now_us=T0)


# copies, receipts, grants ---------------------------------------------------------------------
POLICE = RequestPolicy(kinds={  # 002 §8(2)(3): officers and citizens may get copies, the applicant signs
    k: KindRules(modes=frozenset({VIEW, COPY}), copy_to="requester", receipt=True,
                 due_us=6 * DAY if k == "citizen" else None, chain=(Step("precinct chief"),))
    for k in ("internal", "citizen", "agency")})


def test_copy_rules_and_the_signed_receipt_are_kept_with_the_request():
    req = filed(POLICE, fields(kind="citizen", mode=COPY))
    assert (req["copy_to"], req["receipt"], req["due_us"]) == ("requester", True, T0 + 6 * DAY)
    assert "requester only" in copy_refusal(req, recipient="a journalist", receipt_by="x")
    assert "receipt" in copy_refusal(req, recipient="Chen", receipt_by=" ")
    assert copy_refusal(req, recipient="", receipt_by="Chen") is None
    viewing = filed(POLICE, fields(kind="citizen"))
    assert (viewing["copy_to"], viewing["receipt"]) == (None, False), "a viewing has no copy to sign for"
    old = filed(default_policy(), fields(kind="agency", mode=COPY))
    assert copy_refusal(old, recipient="Officer Lin of the precinct", receipt_by=None) is None


def test_a_grants_lifetime_is_clamped_and_never_negative():
    assert grant_lifetime(None, 3 * DAY, 3 * DAY) == (3 * DAY, False)
    assert grant_lifetime(DAY, 3 * DAY, 3 * DAY) == (DAY, False)
    assert grant_lifetime(30 * DAY, 3 * DAY, 3 * DAY) == (3 * DAY, True)
    for bad in (0, -DAY):
        with pytest.raises(RequestRuleError, match="span of time after the decision") as refused:
            grant_lifetime(bad, 3 * DAY, 3 * DAY)
        assert "--expires" not in str(refused.value) and hint_of(refused.value).startswith("--expires")


def test_whoever_approved_never_uses_the_grant():
    grant = {"request_id": 7, "approver": "hsu", "approvers": ["ling", "wu", "hsu"]}
    assert "separation of duties" in approver_refusal(grant, "ling")
    assert approver_refusal(grant, "carol") is None
    assert "separation of duties" in approver_refusal({"request_id": 1, "approver": "boss"}, "boss"), "old grants too"


# checking a policy --------------------------------------------------------------------------------
@pytest.mark.parametrize("policy, path, problem", [
    (RequestPolicy(kinds={}), "kinds", "at least one"),
    (RequestPolicy(kinds={"neighbour": KindRules()}), "kinds", "unknown request kind"),
    (RequestPolicy(kinds={"internal": KindRules()}, categories=("Lost Property",)), "categories", "not a category"),
    (RequestPolicy(kinds={"internal": KindRules(modes=frozenset({"print"}))}), "internal.modes", "view and/or copy"),
    (RequestPolicy(kinds={"quick-look": KindRules(modes=frozenset({VIEW, COPY}))}), "quick-look.modes", "view only"),
    (RequestPolicy(kinds={"internal": KindRules(receipt=True)}), "internal.receipt", "may not copy"),
    (RequestPolicy(kinds={"internal": KindRules(copy_to="friends")}), "internal.copy_to", "not a choice"),
    (RequestPolicy(kinds={"citizen": KindRules(due_us=60 * S)}), "citizen.due", "less than an hour"),
    (RequestPolicy(kinds={"internal": KindRules(chain=())}), "internal.chain", "1 to 12 steps"),
    (RequestPolicy(kinds={"internal": KindRules(chain=tuple(Step(f"s{i}") for i in range(13)))}),
     "internal.chain", "not 13"),
    (RequestPolicy(kinds={"internal": KindRules(chain=(Step("a"), Step("a")))}), "internal.chain", "same name"),
    (RequestPolicy(kinds={"internal": KindRules(chain=(Step("a", cameras=frozenset({"door"})),))}),
     "internal.chain", "no approver"),
    (RequestPolicy(kinds={"internal": KindRules(chain=(Step("a", cameras=frozenset({"moon"})), Step("b")))}),
     "internal.chain[0].cameras", "unknown camera"),
    (RequestPolicy(kinds={"internal": KindRules(chain=(Step("a", frozenset()),))}), "internal.chain[0].approvers",
     "nobody could sign"),
    (RequestPolicy(kinds={"internal": KindRules(chain=(Step("a", frozenset({"hsu"})), Step("b", frozenset({"hsu"}))))}),
     "internal.chain", "different people"),
])
def test_what_is_wrong_with_a_policy_is_named_by_field(policy, path, problem):
    found = problems(policy, known_cameras=["door"])
    assert any(p == path and problem in why for p, why in found), found


def test_the_school_and_police_policies_are_sound():
    assert problems(SCHOOL) == [] and problems(POLICE) == []


# properties: whatever the chain and whoever tries, a grant needs every step by a different person --
ACCOUNTS = ["a", "b", "c", "d"]
steps = st.lists(st.tuples(st.one_of(st.none(), st.frozensets(st.sampled_from(ACCOUNTS), min_size=1)),
                           st.one_of(st.none(), st.frozensets(st.sampled_from(["door", "hall"]), min_size=1))),
                 min_size=1, max_size=3).map(lambda xs: tuple(Step(f"s{i}", a, c) for i, (a, c) in enumerate(xs)))
attempts = st.lists(st.tuples(st.sampled_from(ACCOUNTS + ["desk"]), st.booleans()), max_size=8)


@at_two_lengths(300, steps, st.sets(st.sampled_from(["door", "hall"]), min_size=1), attempts)
def test_a_grant_needs_every_applicable_step_signed_by_a_different_approver(chain, cams, tries):
    pol = RequestPolicy(kinds={"internal": KindRules(chain=chain)})
    if problems(pol):
        return
    applicable = [s for s in chain if s.applies(cams)]
    if not distinct_signers([s.approvers for s in applicable if s.approvers is not None]):
        # steps of several cameras' units that only the same people could sign: refused at filing
        with pytest.raises(RequestRuleError, match="cannot each be signed by a different person"):
            filed(pol, fields(cameras=sorted(cams)))
        return
    req = filed(pol, fields(cameras=sorted(cams)))
    grant = None
    for who, approve in tries:
        try:
            d = sign(req, approver=who, approve=approve, reason="r", now_us=T0, grant_ttl_us=DAY)
        except RequestRuleError:
            continue
        req = {**req, **d.changes}
        grant = d.grant or grant
    signers = [s["by"] for s in req.get("steps") or []]
    assert len(set(signers)) == len(signers) and "desk" not in signers
    for step, rec in zip(applicable, req.get("steps") or []):
        assert rec["name"] == step.name and (step.approvers is None or rec["by"] in step.approvers)
    if req["state"] == rq.APPROVED:
        assert grant is not None and grant["approvers"] == signers and len(signers) == len(applicable)
        assert all(s["approve"] for s in req["steps"])
    else:
        assert grant is None
