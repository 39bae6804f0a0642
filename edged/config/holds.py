"""[policy.holds]: who may preserve footage, whether an approver must agree, and for how long
(design/0041; R6, R8.3).

The seed sites differ: 000 §4(1)2 preserves a staff member's footage only with the director's
approval; 004 §5 has student affairs preserve evidence for 30 days at most, on the director of
student affairs' approval (the form's 影像保存 box). `HoldPolicy` says it per kind of hold;
`HoldPolicy()` is what edged did before sites could say it (a custodian places either kind at
once, an evidence hold as long as asked).

    [policy.holds.evidence]
    placed_by = ["custodian"]   # the roles that may place one (custodian and/or approver)
    approval = true             # it is pending until an approver other than the placer approves it
    max = "30d"                 # the longest an evidence hold is placed or extended for (004 §5)
    pending_for = "3d"          # a pending hold keeps its footage this long at most, then lapses
    extend_by = ["approver"]    # who may extend an evidence hold (by at most `max` from now)

    [policy.holds.legal]
    placed_by = ["approver"]
    approval = false

Pure data; the rules that apply it are edged/rules/holds.py.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from edged.config.values import DAY, HOUR, ConfigError, _bool, _check_keys, _describe, _duration, _join, _string

EVIDENCE, LEGAL = "evidence", "legal"
HOLD_KINDS = (EVIDENCE, LEGAL)
# Who may place or extend a hold: those who handle footage or judge its use (never the viewer, the
# auditor or the admin: R4.4, design/0009).
HOLD_ROLES = ("custodian", "approver")


@dataclass(frozen=True, slots=True)
class HoldRules:
    placed_by: frozenset[str] = frozenset({"custodian"})
    approval: bool = False             # pending until an approver (not the placer) approves it
    max_us: int | None = None          # evidence: the longest expiry from placing or extending (None: no cap)
    pending_for_us: int = 3 * DAY      # a pending hold keeps its footage this long, then lapses
    extend_by: frozenset[str] = frozenset({"approver"})


@dataclass(frozen=True, slots=True)
class HoldPolicy:
    evidence: HoldRules = HoldRules()
    legal: HoldRules = field(default_factory=lambda: HoldRules(extend_by=frozenset()))

    def of(self, kind: str) -> HoldRules:
        return self.legal if kind == LEGAL else self.evidence


_KEYS = ("placed_by", "approval", "max", "pending_for", "extend_by")
_HINTS = {"approvers": 'did you mean "approval"? (true: an approver other than the placer approves the hold)',
          "max_length": 'did you mean "max"? (a duration, e.g. "30d")',
          "roles": 'did you mean "placed_by"? (e.g. ["custodian"])'}


def _holds(t: object, evidence_default_us: int) -> HoldPolicy:
    """[policy.holds]; `evidence_default_us`: [retention] evidence_hold, which a `max` may not be under."""
    if not isinstance(t, dict):
        raise ConfigError("policy.holds", f"expected a table ([policy.holds.evidence]), found {_describe(t)}")
    _check_keys(t, "policy.holds", HOLD_KINDS)
    base = HoldPolicy()
    evidence = _rules(t.get(EVIDENCE, {}), "policy.holds.evidence", base.evidence, EVIDENCE)
    legal = _rules(t.get(LEGAL, {}), "policy.holds.legal", base.legal, LEGAL)
    if evidence.max_us is not None and evidence.max_us < evidence_default_us:
        raise ConfigError("policy.holds.evidence.max", "is shorter than [retention] evidence_hold, the length an "
                                                       "evidence hold gets when none is asked for; lower that too")
    return HoldPolicy(evidence=evidence, legal=legal)


def _rules(t: object, path: str, default: HoldRules, kind: str) -> HoldRules:
    if not isinstance(t, dict):
        raise ConfigError(path, f"expected a table ([{path}] section), found {_describe(t)}")
    _check_keys(t, path, _KEYS if kind == EVIDENCE else ("placed_by", "approval", "pending_for"), _HINTS)
    placed_by = _roles(t, "placed_by", path) if "placed_by" in t else default.placed_by
    if not placed_by:
        raise ConfigError(_join(path, "placed_by"), "an empty list: nobody could place one; name custodian "
                                                    "and/or approver")
    approval = _bool(t["approval"], _join(path, "approval")) if "approval" in t else default.approval
    max_us = _duration(t, "max", path, 0, HOUR, 3650 * DAY) if "max" in t else default.max_us
    pending = _duration(t, "pending_for", path, default.pending_for_us, HOUR, 30 * DAY)
    extend_by = _roles(t, "extend_by", path) if "extend_by" in t else default.extend_by
    return HoldRules(placed_by=placed_by, approval=approval, max_us=max_us, pending_for_us=pending,
                     extend_by=extend_by)


def _roles(t: dict, key: str, path: str) -> frozenset[str]:
    where = _join(path, key)
    value = t[key]
    if not isinstance(value, list):
        raise ConfigError(where, f"expected an array of roles, found {_describe(value)}")
    roles = [_string(v, f"{where}[{i}]") for i, v in enumerate(value)]
    for role in roles:
        if role not in HOLD_ROLES:
            raise ConfigError(where, f"{role!r} may not hold footage; roles here are {', '.join(HOLD_ROLES)}")
    return frozenset(roles)
