"""A site's rules for retrieval requests, as plain data (design/0036; R5, R8.4, R8.5, R8.7).

The five seed sites differ in who may ask for what, who signs and by when: one approver at a
township office (003 §8), three sign-offs at a school (004 annex 2), copies with a signed
receipt for officers and citizens at the police (002 §8(2)(3)), outsiders only through the
police (004 §4(3)). `RequestPolicy` says it per request kind; `default_policy()` is what edged
did before sites could say it (one approver, copies only for agencies and the police, a
citizen's answer due in 6 days).

Pure: no I/O and no clock. The chain a request must pass is fixed when it is filed (`filing`)
and kept with it, so a reload mid-way does not change the rules under a request already in
hand. The chain itself is walked by edged/rules/retrieval.py (`decide`).
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping, Sequence

KINDS = ("internal", "citizen", "agency", "police-urgent", "quick-look")
CATEGORIES = ("lost-property", "counter-dispute", "personal-safety", "major-incident", "other")
VIEW, COPY = "view", "copy"
MODES = (VIEW, COPY)
# The old rule, now the default: copies only for agencies and the police (R5.5); a quick look is a look (R5.9).
COPY_KINDS = frozenset({"agency", "police-urgent"})
DAY_US = 86_400_000_000
COPY_TO = ("anyone", "requester")   # who may receive a copy: whoever the custodian names, or the requester only
MAX_CHAIN = 3
HOUR_US = 3_600_000_000
_NAME = re.compile(r"[a-z0-9][a-z0-9-]{0,39}")


class RequestRuleError(ValueError):
    """A request or a step that the rules refuse; the message says which rule."""


@dataclass(frozen=True, slots=True)
class Step:
    """One sign-off of an approval chain (a box on the site's form: section chief, director).

    `approvers`: the accounts that may sign it (None: any approver). `cameras`: the step is
    needed only for requests naming one of these cameras (None: every request), e.g. the unit
    that manages a building's cameras (004 §7)."""

    name: str
    approvers: frozenset[str] | None = None
    cameras: frozenset[str] | None = None

    def applies(self, cameras: Iterable[str]) -> bool:
        return self.cameras is None or bool(self.cameras & set(cameras))


@dataclass(frozen=True, slots=True)
class KindRules:
    """What one kind of request may ask for and what it must pass."""

    modes: frozenset[str] = frozenset({VIEW})
    copy_to: str = "anyone"          # "requester": only the requester receives a copy
    receipt: bool = False            # the recipient signs a receipt, recorded with the export
    due_us: int | None = None        # the answer is due this long after filing (None: no due time)
    chain: tuple[Step, ...] = (Step("approver"),)


@dataclass(frozen=True, slots=True)
class RequestPolicy:
    kinds: Mapping[str, KindRules] = field(default_factory=dict)   # only these kinds may be filed
    categories: tuple[str, ...] = CATEGORIES

    def rules(self, kind: str) -> KindRules:
        if kind not in self.kinds:
            if kind in KINDS:
                raise RequestRuleError(f"this site does not take {kind} requests; it takes "
                                       f"{', '.join(self.kinds)} ([policy] kinds)")
            raise RequestRuleError(f"unknown request kind {kind!r}; kinds are {', '.join(self.kinds)}")
        return self.kinds[kind]


def default_policy(citizen_due_us: int = 6 * DAY_US) -> RequestPolicy:
    """edged's rules before site policies: every kind, one approver, copies for agencies and
    the police only (R5.5), a citizen answered within 6 days (R5.6)."""
    return RequestPolicy(
        kinds={k: KindRules(modes=frozenset({VIEW, COPY}) if k in COPY_KINDS else frozenset({VIEW}),
                            due_us=citizen_due_us if k == "citizen" else None) for k in KINDS},
        categories=CATEGORIES)


# checking a policy (the config loader names the field) ------------------------------------
def problems(policy: RequestPolicy, known_cameras: Sequence[str] | None = None) -> list[tuple[str, str]]:
    """Everything wrong with a policy, as (field path under [policy], what is wrong)."""
    out: list[tuple[str, str]] = []
    if not policy.kinds:
        out.append(("kinds", "no request kind is allowed; name at least one of " + ", ".join(KINDS)))
    for kind in policy.kinds:
        if kind not in KINDS:
            out.append(("kinds", f"unknown request kind {kind!r}; kinds are {', '.join(KINDS)}"))
    if not policy.categories:
        out.append(("categories", "no reason category; name at least one"))
    for cat in policy.categories:
        if not _NAME.fullmatch(cat):
            out.append(("categories", f"{cat!r} is not a category name (lower-case letters, digits and -)"))
    if len(set(policy.categories)) != len(policy.categories):
        out.append(("categories", "a category is named twice"))
    for kind, rules in policy.kinds.items():
        out += [(f"{kind}.{path}", why) for path, why in _kind_problems(kind, rules, known_cameras)]
    return out


def _kind_problems(kind: str, rules: KindRules, known: Sequence[str] | None) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    if not rules.modes or not rules.modes <= set(MODES):
        out.append(("modes", f"modes are view and/or copy, not {', '.join(sorted(rules.modes)) or 'none'}"))
    if kind == "quick-look" and COPY in rules.modes:
        out.append(("modes", "a quick look is a look (R5.9): view only"))
    if rules.copy_to not in COPY_TO:
        out.append(("copy_to", f"{rules.copy_to!r} is not a choice; use \"anyone\" (whoever the custodian "
                               "names) or \"requester\" (the requester only)"))
    if rules.receipt and COPY not in rules.modes:
        out.append(("receipt", "a receipt is signed for a copy, and this kind may not copy"))
    if rules.due_us is not None and rules.due_us < HOUR_US:
        out.append(("due", "an answer cannot be due in less than an hour"))
    chain = rules.chain
    if not 1 <= len(chain) <= MAX_CHAIN:
        out.append(("chain", f"an approval chain has 1 to {MAX_CHAIN} steps, not {len(chain)}"))
    names = [s.name for s in chain]
    for i, step in enumerate(chain):
        if not step.name.strip():
            out.append((f"chain[{i}].name", "a step has a name (the sign-off on the form)"))
        if step.approvers is not None and not step.approvers:
            out.append((f"chain[{i}].approvers", "an empty list: nobody could sign; leave it out for any approver"))
        if step.cameras is not None:
            if not step.cameras:
                out.append((f"chain[{i}].cameras", "an empty list: the step would never apply; leave it out"))
            elif known is not None and step.cameras - set(known):
                out.append((f"chain[{i}].cameras", "unknown camera(s): " + ", ".join(sorted(step.cameras - set(known)))))
    if len(set(names)) != len(names):
        out.append(("chain", "two steps have the same name"))
    if chain and all(s.cameras is not None for s in chain):
        out.append(("chain", "every step is limited to some cameras: a request on other cameras would have no "
                             "approver; leave `cameras` out of at least one step"))
    if chain and all(s.approvers is not None for s in chain) and not _distinct_signers(chain):
        out.append(("chain", "each step needs a different approver, and the listed approvers cannot "
                             "cover every step with different people"))
    return out


def _distinct_signers(chain: Sequence[Step]) -> bool:
    """Can every step be signed by a different account? (Chains are at most 3 long.)"""
    pools = [sorted(s.approvers or ()) for s in chain]
    return any(len(set(pick)) == len(pick) for pick in itertools.product(*pools))


# filing ---------------------------------------------------------------------------------
def filing(policy: RequestPolicy, fields: Mapping[str, Any], *, now_us: int) -> dict[str, Any]:
    """The policy's part of filing a request: kind, category and mode allowed; what is kept
    with the request (due time, the chain that applies to its cameras, copy rules)."""
    kind = str(fields.get("kind") or "")
    rules = policy.rules(kind)
    category = str(fields.get("category") or "")
    if category not in policy.categories:
        raise RequestRuleError(f"unknown reason category {category!r}; categories are "
                               f"{', '.join(policy.categories)}")
    mode = str(fields.get("mode") or VIEW)
    if mode not in MODES:
        raise RequestRuleError(f"mode is view or copy, not {mode!r}")
    if mode not in rules.modes:
        raise RequestRuleError(f"a {kind} request may only {'/'.join(sorted(rules.modes))} here, not {mode} "
                               "(the site's [policy])")
    cameras = sorted({str(c) for c in fields.get("cameras") or ()})
    chain = [{"name": s.name, "approvers": None if s.approvers is None else sorted(s.approvers)}
             for s in rules.chain if s.applies(cameras)]
    return {"due_us": None if rules.due_us is None else now_us + rules.due_us, "chain": chain,
            "copy_to": rules.copy_to if mode == COPY else None, "receipt": bool(rules.receipt and mode == COPY)}
