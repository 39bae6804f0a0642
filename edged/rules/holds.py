"""Holds by the site's policy (R6, R8.3; design/0041): a pure function per step over plain data.

    place --(approval = false)--> active --expires / released--> ended
          \\--(approval = true)--> pending --approve (another person)--> active
                                          \\--reject, or nobody decides in time--> ended

Who may place each kind, whether an approver must agree and which ones, the longest an evidence
hold lasts, who may extend it and when a legal hold is reviewed are [policy.holds]
(edged/config/holds.py); where a site is silent, the strictest reading (design/0076). A pending hold keeps its footage
while it waits (evidence must not be overwritten before the director signs), but only for
`pending_for`. No I/O and no clock: every function takes `now_us`; a hold is a dict as
storage/retention/holds.py's `hold_row` returns it.
"""

from __future__ import annotations

from typing import Any, Mapping, Sequence

from edged.config.holds import EVIDENCE, HOLD_KINDS, LEGAL, HoldPolicy, HoldRules
from edged.i18n import _, hinted, ngettext, us
from edged.rules import persons
from edged.rules.persons import NOBODY, Names
from edged.rules.roles import ROLES
from edged.rules.words import HOLD_END_WORDS, HOLD_WORDS, ROLE_WORDS, either, word
from storage.states.holds import ACTIVE, PENDING, REJECTED

DAY_US = 86_400_000_000


class HoldRuleError(ValueError):
    """A hold step the site's rules refuse; the message says which rule."""


def person(actor: str) -> str:
    """The account in an actor string: "alice" from "alice (os: root)"."""
    return str(actor).split(" (", 1)[0].strip()


def _days(us: int) -> str:
    return _("{n} days").format(n=f"{us / DAY_US:g}")


def longest(rules: HoldRules) -> str:
    """An evidence hold's longest term as the site's rule writes it: in calendar months where its
    retention is written so (001's 1年內 is 12 months, never 372 days: issue 91, design/0394)."""
    if rules.max_months is not None:
        return ngettext("{n} month", "{n} months", rules.max_months).format(n=rules.max_months)
    return _days(rules.max_us or 0)


def placing(policy: HoldPolicy, *, kind: str, roles: Sequence[str] | None, expires_us: int | None, now_us: int,
            default_us: int, review_us: int | None = None) -> dict[str, Any]:
    """What a new hold is: {state, expires_us, wanted_expires_us, review_us}. `roles`: the placer's
    roles (None for a signed MQTT command, which has no account: the role rule does not apply, the
    others do). `expires_us`: the evidence hold's expiry asked for (None: `default_us` from now).
    `review_us`: a legal hold's review date, required where the site reviews legal holds."""
    if kind not in HOLD_KINDS:
        raise HoldRuleError(_("unknown hold kind {value!r}: evidence or legal").format(value=str(kind)[:20]))
    rules = policy.of(kind)
    if roles is not None and rules.placed_by.isdisjoint(roles):
        raise hinted(HoldRuleError(_("At {us}, only the {placed_by} may place this kind of hold: {kind}.").format(us=us(),
            placed_by=either(ROLE_WORDS, [r for r in ROLES if r in rules.placed_by]), kind=word(HOLD_WORDS, kind))),
            f"[policy.holds.{kind}] placed_by = {sorted(rules.placed_by)}")
    expires = None
    if kind == EVIDENCE and (rules.term or expires_us is not None):   # no term where the rule sets none
        expires = now_us + default_us if expires_us is None else int(expires_us)
        if expires <= now_us:
            raise HoldRuleError(_("an evidence hold needs an expiry in the future"))
        if rules.max_us is not None and expires - now_us > rules.max_us:
            raise hinted(HoldRuleError(_("At {us}, an evidence hold lasts at most {max}: ask for less; an approver can "
                                         "extend it when it must be kept longer.").format(us=us(), max=longest(rules))),
                         "[policy.holds.evidence] max")
    review = None
    if kind == LEGAL and rules.review_us is not None:
        review = _review_date(rules, review_us, now_us)
    if not rules.approval:
        return {"state": ACTIVE, "expires_us": expires, "wanted_expires_us": None, "review_us": review}
    wait = now_us + rules.pending_for_us
    return {"state": PENDING, "expires_us": wait if expires is None else min(expires, wait),
            "wanted_expires_us": expires, "review_us": review}


def _review_date(rules: HoldRules, review_us: int | None, now_us: int) -> int:
    if review_us is None:
        raise hinted(HoldRuleError(_("A legal hold names its review date: it keeps footage until released, so "
                                     "someone must look at it again by then.")), "--review, e.g. 180d")
    review_us = int(review_us)
    if review_us <= now_us:
        raise HoldRuleError(_("a legal hold's review date must be in the future"))
    if rules.review_us is not None and review_us - now_us > rules.review_us:
        raise hinted(HoldRuleError(_("At {us}, a legal hold is reviewed within {max}: set an earlier date.").format(us=us(),
            max=_days(rules.review_us))), "[policy.holds.legal] review")
    return review_us


def _listed(rules: HoldRules, who: str, kind: str, names: Names = NOBODY) -> None:
    """Where the site names who approves this kind, only they do (and extend or review it); the
    refusal names the people by their full names and titles (`names`, design/0112)."""
    if rules.approvers is not None and person(who) not in rules.approvers:
        raise hinted(HoldRuleError(_("At {us}, {approvers} approve this kind of hold ({kind}), not {who}.").format(us=us(),
            approvers=_(", ").join(persons.person(names, a) for a in sorted(rules.approvers)), kind=word(HOLD_WORDS, kind),
            who=persons.person(names, person(who)))),
            f"[policy.holds.{kind}] approvers")


def deciding(hold: Mapping[str, Any], *, approver: str, approve: bool, reason: str, now_us: int,
             policy: HoldPolicy | None = None, names: Names = NOBODY) -> dict[str, Any]:
    """The changes when an approver approves or rejects a pending hold. The approver is never the
    person who placed it (separation of duties, 000 §4(1)2, 004 §5), and is one the site's
    `approvers` names where it names them (the director, 000 §4(1)2; student affairs', 004 §5)."""
    if hold["ended_us"] is not None:
        raise HoldRuleError(_("hold {id} already ended ({ended_how})").format(
            id=hold['id'], ended_how=word(HOLD_END_WORDS, hold['ended_how'])))
    if hold.get("state", ACTIVE) != PENDING:
        raise HoldRuleError(_("hold {id} is not waiting for an approval").format(id=hold['id']))
    if person(approver) == person(hold["placed_by"]):
        raise HoldRuleError(_("{approver} placed hold {id}: another approver decides it").format(
            approver=persons.person(names, person(approver)), id=hold['id']))
    if policy is not None:
        _listed(policy.of(hold["kind"]), approver, hold["kind"], names)
    reason = str(reason or "").strip()
    if not approve and not reason:
        raise HoldRuleError(_("rejecting a hold needs a reason"))
    decided = {"decided_by": person(approver), "decided_us": now_us, "decision_reason": reason or None}
    if not approve:
        return {**decided, "ended_us": now_us, "ended_how": REJECTED, "ended_by": person(approver),
                "end_reason": reason}
    expires = None if hold["kind"] == LEGAL else hold.get("wanted_expires_us")
    if expires is not None and expires <= now_us:
        raise HoldRuleError(_("hold {id} would have expired already; it lapses unapproved (place a new one)").format(
            id=hold['id']))
    return {**decided, "state": ACTIVE, "expires_us": expires}


def _may_change(rules: HoldRules, kind: str, hold: Mapping[str, Any], by: str, roles: Sequence[str], *,
                other_kind: str, not_allowed: str, same_person: str, names: Names = NOBODY) -> None:
    """Who may extend an evidence hold or review a legal one: a hold of that kind, in force and
    approved, by a role `extend_by` names (one of its approvers where it names them), and where the
    kind needs an approval never by the person who placed it. The refusals' words are the caller's."""
    if hold["kind"] != kind:
        raise HoldRuleError(other_kind)
    if hold["ended_us"] is not None:
        raise HoldRuleError(_("hold {id} already ended ({ended_how}); place a new one").format(
            id=hold['id'], ended_how=word(HOLD_END_WORDS, hold['ended_how'])))
    if hold.get("state", ACTIVE) == PENDING:
        raise HoldRuleError(_("hold {id} is waiting for an approval; approve it first").format(id=hold['id']))
    if not rules.extend_by or rules.extend_by.isdisjoint(roles):
        raise hinted(HoldRuleError(not_allowed.format(us=us(),
            who=either(ROLE_WORDS, [r for r in ROLES if r in rules.extend_by]) or _("nobody"))),
            f"[policy.holds.{kind}] extend_by = {sorted(rules.extend_by)}")
    if rules.approval and person(by) == person(hold["placed_by"]):
        raise HoldRuleError(same_person.format(by=persons.person(names, person(by)), id=hold['id']))
    if rules.extend_by & set(roles) <= {"approver"}:   # as an approver: one the site names
        _listed(rules, by, kind, names)


def extending(policy: HoldPolicy, hold: Mapping[str, Any], *, by: str, roles: Sequence[str], expires_us: int,
              now_us: int, names: Names = NOBODY) -> dict[str, Any]:
    """The changes when someone extends an active evidence hold: by a role `extend_by` names, to at
    most `max` from now; where holds need an approval, never by the person who placed it."""
    rules = policy.evidence
    _may_change(rules, EVIDENCE, hold, by, roles,
                other_kind=_("only an evidence hold is extended; a legal hold has no expiry (review it: a new "
                             "review date)"),
                not_allowed=_("At {us}, only the {who} may extend an evidence hold."),
                same_person=_("{by} placed hold {id}: another person extends it"), names=names)
    expires_us = int(expires_us)
    if expires_us <= max(now_us, hold["expires_us"] or 0):
        raise HoldRuleError(_("an extension ends later than the hold does now"))
    if rules.max_us is not None and expires_us - now_us > rules.max_us:
        raise hinted(HoldRuleError(_("At {us}, an evidence hold is extended by at most {max} from now; extend it "
                                     "again when that runs out.").format(
            us=us(), max=longest(rules))), "[policy.holds.evidence] max")
    return {"expires_us": expires_us, "extended_by": person(by), "extended_us": now_us}


def reviewing(policy: HoldPolicy, hold: Mapping[str, Any], *, by: str, roles: Sequence[str], review_us: int,
              now_us: int, names: Names = NOBODY) -> dict[str, Any]:
    """The changes when someone reviews an active legal hold: a new review date, within
    [policy.holds.legal] review from now, by a role `extend_by` names (one of its approvers where
    it names them), never by the person who placed it (two people keep footage for good)."""
    rules = policy.legal
    _may_change(rules, LEGAL, hold, by, roles,
                other_kind=_("only a legal hold is reviewed; an evidence hold is extended (a new expiry)"),
                not_allowed=_("At {us}, only the {who} may review a legal hold."),
                same_person=_("{by} placed hold {id}: another person reviews it"), names=names)
    return {"review_us": _review_date(rules, review_us, now_us), "extended_by": person(by), "extended_us": now_us}


def review_overdue(hold: Mapping[str, Any], now_us: int) -> bool:
    """A hold in force whose review date has passed (an alarm until it is reviewed or released)."""
    return hold.get("ended_us") is None and hold.get("review_us") is not None and now_us >= hold["review_us"]


def mqtt_bound(policy: HoldPolicy, now_us: int, default_us: int) -> int:
    """The latest expiry a signed MQTT hold may ask for: [retention] evidence_hold, and the site's
    `max` where it is shorter."""
    rules = policy.evidence
    return now_us + (default_us if rules.max_us is None else min(default_us, rules.max_us))
