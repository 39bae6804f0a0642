"""A chain that dead-ends (issue 42 item 1, design/0102): deciding a step refuses a sign-off that
would leave a later step with nobody able to sign it, the inbox does not offer it, and a request
that already waits in vain says which step, why, and who can still close it. Pure tables over
edged/rules/chains.py and edged/rules/retrieval.py's decide()."""

from __future__ import annotations

import pytest

from edged.rules import chains, retrieval as rq

DAY = 86_400_000_000
ANY = None


def req(chain, signed=(), filed_by="desk", requester=None, state="filed"):
    return {"id": 7, "state": state, "filed_by": filed_by, "requester_account": requester, "cameras": ["c1"],
            "from_us": 0, "to_us": 1, "mode": "view", "requester_name": "Lin",
            "chain": [{"name": n, "approvers": a} for n, a in chain],
            "steps": [{"step": i, "name": chain[i][0], "by": by, "at_us": 1, "approve": True, "reason": "x"}
                      for i, by in enumerate(signed)]}


CITIZEN_000 = [("課長", ANY), ("秘書", ["lin"]), ("主任", ["huang"])]


@pytest.mark.parametrize("chain, signed, approver, blocked", [
    # 000's citizen chain: the director may not sign the any-approver 課長 box, nor the secretary
    (CITIZEN_000, (), "huang", ["主任"]),
    (CITIZEN_000, (), "lin", ["秘書"]),
    (CITIZEN_000, (), "chang", []),                    # a section chief signs it: fine
    # a later step two people may sign: one of them signing early leaves the other
    ([("a", ANY), ("b", ["x", "y"])], (), "x", []),
    # two later steps whose only shared pool is the approver and one other
    ([("a", ANY), ("b", ["x", "y"]), ("c", ["y"])], (), "x", ["b"]),
    ([("a", ANY), ("b", ["x", "y"]), ("c", ["y"])], (), "z", []),
    # the last step: nothing after it
    (CITIZEN_000, ("chang", "lin"), "huang", []),
    # already stuck (the filer is the only director): signing changes nothing, stuck() says why
    ([("a", ANY), ("b", ["desk"])], (), "x", []),
])
def test_a_sign_off_that_leaves_a_later_step_with_nobody(chain, signed, approver, blocked):
    r = req(chain, signed)
    assert chains.dead_end(r, len(signed), approver) == blocked


def test_decide_refuses_it_and_names_the_box_to_sign_instead():
    r = req(CITIZEN_000)
    with pytest.raises(rq.RequestRuleError, match="huang signs 主任 of request 7; signing step 1 of 3"):
        rq.decide(r, approver="huang", approve=True, reason="ok", now_us=1, grant_ttl_us=DAY)
    # a rejection leaves nothing to sign: the director may still reject at the first box
    changes, grant = rq.decide(r, approver="huang", approve=False, reason="no", now_us=1, grant_ttl_us=DAY)
    assert changes["state"] == rq.REJECTED and grant is None
    changes, _g = rq.decide(r, approver="chang", approve=True, reason="ok", now_us=1, grant_ttl_us=DAY)
    assert [s["by"] for s in changes["steps"]] == ["chang"]


@pytest.mark.parametrize("chain, signed, filed_by, expected", [
    (CITIZEN_000, (), "desk", None),
    (CITIZEN_000, ("chang", "lin"), "desk", None),
    # signed before the rule: the director took the first box, his own is left
    (CITIZEN_000, ("huang",), "desk",
     {"step": "主任", "approvers": ["huang"], "barred": ["huang"], "waiting": "秘書", "rejecters": ["lin"]}),
    # the only approver of the waiting step filed it: nobody can sign or reject it
    ([("主任", ["huang"])], (), "huang",
     {"step": "主任", "approvers": ["huang"], "barred": ["huang"], "waiting": "主任", "rejecters": []}),
    # an any-approver step waits: any approver who has not signed may reject it
    ([("a", ANY), ("b", ["desk"])], (), "desk",
     {"step": "b", "approvers": ["desk"], "barred": ["desk"], "waiting": "a", "rejecters": None}),
    # two boxes, one person left for both
    ([("b", ["x", "y"]), ("c", ["x", "y"])], ("q",), "y",
     {"step": "c", "approvers": ["x", "y"], "barred": ["y"], "waiting": "b", "rejecters": ["x"]}),
])
def test_a_stuck_request_says_which_step_why_and_who_can_close_it(chain, signed, filed_by, expected):
    r = req(list(chain), signed, filed_by=filed_by)
    if signed == ("q",):  # a step signed by q before the two boxes
        r["chain"].insert(0, {"name": "pre", "approvers": None})
        r["steps"] = [{"step": 0, "name": "pre", "by": "q", "at_us": 1, "approve": True, "reason": "x"}]
    assert chains.stuck(r) == expected


def test_a_decided_request_is_never_stuck():
    r = req([("主任", ["huang"])], filed_by="huang", state="approved")
    assert chains.stuck(r) is None


def test_edgectl_request_show_and_the_desk_say_why_and_who():
    """`edgectl request show` prints the stuck request's reason under its approvals, in words."""
    from edged.cli.people import _chain_text
    from edged.i18n import speaking

    r = req(CITIZEN_000, ("huang",))
    r["steps"][0]["approve"], r["steps"][0]["reason"] = True, "ok"
    with speaking("zh-TW"):
        text = _chain_text(r)
        said = chains.stuck_text(chains.stuck(r))
    assert "「主任」已無人能核章" in text and "lin 可於「秘書」退件" in text, text
    assert said in text


def test_the_people_a_stuck_request_names_are_listed_in_the_sites_marks():
    """Several approvers in zh-TW: 「鄭文華、黃志明」, never an ASCII comma between Chinese (issue 56)."""
    from edged.i18n import speaking
    from tests.support.leaks import ascii_separators

    why = {"step": "主任", "approvers": ["鄭文華", "黃志明"], "rejecters": ["林書記", "吳秘書"], "waiting": "秘書"}
    with speaking("zh-TW"):
        said = chains.stuck_text(why)
    assert "鄭文華、黃志明" in said and "林書記、吳秘書" in said and ascii_separators(said) == [], said
