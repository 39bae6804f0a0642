"""[policy.holds]: who may preserve footage, whether an approver must agree, and for how long
(design/0041; R6, R8.3).

The seed sites differ: 000 §4(1)2 preserves a staff member's footage only with the director's
approval; 004 §5 has student affairs preserve evidence for 30 days at most, on the director of
student affairs' approval (the form's 影像保存 box). `HoldPolicy` says it per kind of hold;
Where a site is silent the strictest reading applies (design/0076; `strict(max_retention)`): an
evidence hold waits for an approver other than the placer and lapses at [retention]
max_retention unless an approver extends it; a legal hold takes two people (the placer and an
approver) and a review date, and an alarm says when that date has passed. No rule here ends
footage early: a hold only keeps footage, and nothing deletes it by hand.

    [policy.holds.evidence]
    placed_by = ["custodian"]   # the roles that may place one (custodian and/or approver)
    approval = true             # it is pending until an approver other than the placer approves it
    approvers = ["主任"]         # who approves (and extends) it: accounts or [policy.titles] (default: any approver)
    max = "30d"                 # the longest an evidence hold is placed or extended for (004 §5)
    pending_for = "3d"          # a pending hold keeps its footage this long at most, then lapses
    extend_by = ["approver"]    # who may extend an evidence hold (by at most `max` from now)
    term = false                # the rule sets no term: kept until released (000 §4(1)2; issue 56)

    [policy.holds.legal]
    placed_by = ["approver"]
    approval = true             # false only where the site's rule lets one person hold footage for good
    approvers = ["主任"]
    review = "365d"             # the review date is at most this far ahead; an alarm when it passes

Pure data; the rules that apply it are edged/rules/holds.py.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any, Mapping

from edged.config.values import DAY, HOUR, ConfigError, _bool, _check_keys, _describe, _duration, _join, _string

EVIDENCE, LEGAL = "evidence", "legal"
HOLD_KINDS = (EVIDENCE, LEGAL)
# Who may place or extend a hold: those who handle footage or judge its use (never the viewer, the
# auditor or the admin: R4.4, design/0009).
HOLD_ROLES = ("custodian", "approver")


@dataclass(frozen=True, slots=True)
class HoldRules:
    placed_by: frozenset[str] = frozenset({"custodian"})
    approval: bool = True              # pending until an approver (not the placer) approves it
    max_us: int | None = None          # evidence: the longest expiry from placing or extending (None: no cap)
    pending_for_us: int = 3 * DAY      # a pending hold keeps its footage this long, then lapses
    extend_by: frozenset[str] = frozenset({"approver"})
    approvers: frozenset[str] | None = None   # the accounts that approve (and extend) it; None: any approver
    review_us: int | None = None       # legal: the review date is at most this far ahead (None: none asked)
    term: bool = True                  # evidence: expires unless extended; False: kept until released
    max_months: int | None = None      # evidence: max_us is max_retention written in calendar months, said so


DEFAULT_REVIEW_US = 365 * DAY   # a legal hold is reviewed at least once a year where the site is silent


@dataclass(frozen=True, slots=True)
class HoldPolicy:
    """`HoldPolicy()`: the strict defaults with no cap on an evidence hold's length; a site's
    config without [policy.holds] gets `strict(max_retention)`."""

    evidence: HoldRules = HoldRules()
    legal: HoldRules = field(default_factory=lambda: HoldRules(
        placed_by=frozenset({"custodian", "approver"}), extend_by=frozenset({"approver"}),
        review_us=DEFAULT_REVIEW_US))

    def of(self, kind: str) -> HoldRules:
        return self.legal if kind == LEGAL else self.evidence

    @classmethod
    def strict(cls, max_retention_us: int | None) -> HoldPolicy:
        """Where a site is silent (design/0076): an evidence hold lapses at max_retention unless an
        approver other than its placer extends it."""
        base = cls()
        return cls(evidence=replace(base.evidence, max_us=max_retention_us), legal=base.legal)


_KEYS = ("placed_by", "approval", "approvers", "max", "pending_for", "extend_by", "term")
_LEGAL_KEYS = ("placed_by", "approval", "approvers", "pending_for", "extend_by", "review")
_HINTS = {"approved_by": 'did you mean "approvers"? (accounts or [policy.titles] titles)',
          "max_length": 'did you mean "max"? (a duration, e.g. "30d")',
          "review_date": 'did you mean "review"? (a duration, e.g. "365d")',
          "roles": 'did you mean "placed_by"? (e.g. ["custodian"])'}


def _holds(t: object, evidence_default_us: int, max_retention_us: int | None = None,
           titles: Mapping[str, frozenset[str]] | None = None, max_retention_months: int | None = None) -> HoldPolicy:
    """[policy.holds]; `evidence_default_us`: [retention] evidence_hold, which a `max` may not be under;
    `max_retention_us`: an evidence hold's `max` where the site is silent; `titles`: [policy.titles]."""
    if not isinstance(t, dict):
        raise ConfigError("policy.holds", f"expected a table ([policy.holds.evidence]), found {_describe(t)}")
    _check_keys(t, "policy.holds", HOLD_KINDS)
    base = HoldPolicy.strict(max_retention_us)
    evidence = _rules(t.get(EVIDENCE, {}), "policy.holds.evidence", base.evidence, EVIDENCE, titles or {})
    legal = _rules(t.get(LEGAL, {}), "policy.holds.legal", base.legal, LEGAL, titles or {})
    if "max" not in t.get(EVIDENCE, {}) and evidence.max_us is not None:
        # silent: at max_retention, or at [retention] evidence_hold where the site set that longer
        evidence = replace(evidence, max_us=max(evidence.max_us, evidence_default_us))
        if max_retention_months is not None and evidence.max_us == max_retention_us:   # 「1年內」: said in months
            evidence = replace(evidence, max_months=max_retention_months)   # (issue 91, design/0394)
    if evidence.max_us is not None and evidence.max_us < evidence_default_us:
        raise ConfigError("policy.holds.evidence.max", "is shorter than [retention] evidence_hold, the length an "
                                                       "evidence hold gets when none is asked for; lower that too")
    return HoldPolicy(evidence=evidence, legal=legal)


def _rules(t: object, path: str, default: HoldRules, kind: str, titles: Mapping[str, frozenset[str]]) -> HoldRules:
    if not isinstance(t, dict):
        raise ConfigError(path, f"expected a table ([{path}] section), found {_describe(t)}")
    _check_keys(t, path, _KEYS if kind == EVIDENCE else _LEGAL_KEYS, _HINTS)
    placed_by = _roles(t, "placed_by", path) if "placed_by" in t else default.placed_by
    if not placed_by:
        raise ConfigError(_join(path, "placed_by"), "an empty list: nobody could place one; name custodian "
                                                    "and/or approver")
    approval = _bool(t["approval"], _join(path, "approval")) if "approval" in t else default.approval
    max_us = _duration(t, "max", path, 0, HOUR, 3650 * DAY) if "max" in t else default.max_us
    pending = _duration(t, "pending_for", path, default.pending_for_us, HOUR, 30 * DAY)
    extend_by = _roles(t, "extend_by", path) if "extend_by" in t else default.extend_by
    approvers = _approvers(t, path, titles) if "approvers" in t else default.approvers
    if approvers is not None and not approval:
        raise ConfigError(_join(path, "approvers"), "names who approves a hold, and approval = false: nobody "
                                                    "would be asked; remove one")
    review = _duration(t, "review", path, 0, DAY, 3650 * DAY) if "review" in t else default.review_us
    term = _bool(t["term"], _join(path, "term")) if "term" in t else default.term
    if not term and "max" in t:
        raise ConfigError(_join(path, "max"), "caps the term of a hold, and term = false keeps it until released: "
                                              "remove one")
    return HoldRules(placed_by=placed_by, approval=approval, max_us=None if not term else max_us,
                     pending_for_us=pending, extend_by=extend_by, approvers=approvers, review_us=review, term=term)


def _approvers(t: dict[str, Any], path: str, titles: Mapping[str, frozenset[str]]) -> frozenset[str]:
    """Accounts, and titles of [policy.titles] as the accounts they name."""
    where = _join(path, "approvers")
    value = t["approvers"]
    if not isinstance(value, list) or not value:
        raise ConfigError(where, f"expected a non-empty array of accounts or titles, found {_describe(value)}")
    out: set[str] = set()
    for i, v in enumerate(value):
        name = _string(v, f"{where}[{i}]").strip()
        out |= titles.get(name, {name})
    return frozenset(out)


def _roles(t: dict[str, Any], key: str, path: str) -> frozenset[str]:
    where = _join(path, key)
    value = t[key]
    if not isinstance(value, list):
        raise ConfigError(where, f"expected an array of roles, found {_describe(value)}")
    roles = [_string(v, f"{where}[{i}]") for i, v in enumerate(value)]
    for role in roles:
        if role not in HOLD_ROLES:
            raise ConfigError(where, f"{role!r} may not hold footage; roles here are {', '.join(HOLD_ROLES)}")
    return frozenset(roles)
