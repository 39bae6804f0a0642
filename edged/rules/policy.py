"""A site's rules for retrieval requests, as plain data (design/0036; R5, R8.4, R8.5, R8.7).

The five seed sites differ in who may ask for what, who signs and by when: one approver at a
township office (003 §8), three sign-offs at a school (004 annex 2), copies with a signed
receipt for officers and citizens at the police (002 §8(2)(3)), outsiders only through the
police (004 §4(3)). `RequestPolicy` says it per request kind; `default_policy()` is what edged
did before sites could say it (one approver, copies only for agencies and the police, a
citizen's answer due in 6 days).

Pure: no I/O and no clock. The chain a request must pass is fixed when it is filed (`filing`)
and kept with it, so a reload mid-way does not change the rules under a request already in
hand. `sign` is one step of the chain; the last approval issues the grant.
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping, Sequence

from edged.rules.retrieval import APPROVED, CATEGORIES, COPY_KINDS, DAY_US, FILED, KINDS, MODES, REJECTED, \
    RequestRuleError

VIEW, COPY = "view", "copy"
COPY_TO = ("anyone", "requester")   # who may receive a copy: whoever the custodian names, or the requester only
MAX_CHAIN = 3
HOUR_US = 3_600_000_000
_NAME = re.compile(r"[a-z0-9][a-z0-9-]{0,39}")


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


# the chain ------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Decision:
    changes: dict[str, Any]           # to the request row (state, steps, decided_*)
    step: dict[str, Any]              # the step just signed (for the audit record)
    grant: dict[str, Any] | None      # issued by the last approval
    final: bool                       # the request is decided (approved at the last step, or rejected)


def signed(req: Mapping[str, Any]) -> list[dict[str, Any]]:
    return list(req.get("steps") or [])


def next_step(req: Mapping[str, Any]) -> tuple[int, dict[str, Any]] | None:
    """(index, step) of the sign-off the request waits for; None once decided."""
    if req["state"] != FILED:
        return None
    chain = req.get("chain") or [{"name": "approver", "approvers": None}]
    done = len(signed(req))
    return (done, chain[done]) if done < len(chain) else None


def sign(req: Mapping[str, Any], *, approver: str, approve: bool, reason: str, now_us: int,
         grant_ttl_us: int, approver_scope: Sequence[str] | None = None) -> Decision:
    """One step of the chain, by `approver` (whose cameras are `approver_scope`, None: all).

    R5.3 and separation of duties: not whoever filed or asked for the request, not anyone who
    signed an earlier step, only a listed approver where the step lists them, and only an
    approver whose cameras cover the request's. A rejection at any step decides the request."""
    if req.get("purged_us"):
        raise RequestRuleError(f"request {req.get('id')} was purged")
    nxt = next_step(req)
    if nxt is None:
        raise RequestRuleError(f"request {req.get('id')} is already {req['state']}")
    index, step = nxt
    chain = req.get("chain") or [step]
    where = f"step {index + 1} of {len(chain)} ({step['name']})"
    if approver in (req["filed_by"], req.get("requester_account")):
        raise RequestRuleError(f"{approver} filed or asked for request {req.get('id')}: another approver decides "
                               "(R5.3)")
    earlier = [s for s in signed(req) if s["by"] == approver]
    if earlier:
        raise RequestRuleError(f"{approver} already signed {earlier[0]['name']} of request {req.get('id')}; "
                               f"{where} needs a different approver")
    if step.get("approvers") is not None and approver not in step["approvers"]:
        raise RequestRuleError(f"{where} is signed by {', '.join(step['approvers'])}, not {approver}")
    if approver_scope is not None and not set(req["cameras"]) <= set(approver_scope):
        outside = sorted(set(req["cameras"]) - set(approver_scope))
        raise RequestRuleError(f"{approver} has no rights on camera(s) {', '.join(outside)} of request "
                               f"{req.get('id')}; an approver for those cameras decides")
    reason = reason.strip()
    if not reason:
        raise RequestRuleError("a decision gives its reason (--reason): necessity and relevance were checked")
    record = {"step": index, "name": step["name"], "by": approver, "at_us": now_us, "approve": bool(approve),
              "reason": reason}
    steps = [*signed(req), record]
    changes: dict[str, Any] = {"steps": steps}
    last = index + 1 == len(chain)
    if approve and not last:
        return Decision(changes, record, None, False)
    changes.update(state=APPROVED if approve else REJECTED, decided_by=approver, decided_us=now_us,
                   decision_reason=reason)
    if not approve:
        changes["closed_us"] = now_us
        return Decision(changes, record, None, True)
    grant = {"request_id": req.get("id"), "cameras": list(req["cameras"]), "from_us": req["from_us"],
             "to_us": req["to_us"], "mode": req["mode"], "approver": approver,
             "approvers": [s["by"] for s in steps], "requester": req["requester_name"], "created_us": now_us,
             "expires_us": now_us + grant_ttl_us, "used_us": None, "used_by": None, "watcher": None}
    return Decision(changes, record, grant, True)


# using a grant and copying --------------------------------------------------------------
def grant_lifetime(asked_us: int | None, default_us: int, max_us: int) -> tuple[int, bool]:
    """An approver's `--expires`: (lifetime, clamped). Zero or negative is refused; longer than
    the site's grant_ttl is cut to it (the caller says so)."""
    if asked_us is None:
        return default_us, False
    if asked_us <= 0:
        raise RequestRuleError("a grant's lifetime must be positive (--expires, e.g. 2d)")
    return (max_us, True) if asked_us > max_us else (asked_us, False)


def user_refusal(grant: Mapping[str, Any], user: str) -> str | None:
    """Separation of duties: whoever approved a request never uses its grant."""
    approvers = grant.get("approvers") or [grant.get("approver")]
    if user in approvers:
        return (f"{user} approved request {grant.get('request_id')}: another custodian uses its grant "
                "(separation of duties)")
    return None


def copy_refusal(req: Mapping[str, Any], *, recipient: str, receipt_by: str | None) -> str | None:
    """The copy rules kept with the request: to the requester only where the site says so; a
    signed receipt where the site asks for one (002 §8(2))."""
    recipient = recipient.strip()
    if req.get("copy_to") == "requester" and recipient not in ("", req.get("requester_name")):
        return (f"a copy for a {req['kind']} request goes to its requester only, not to {recipient} "
                "(the site's [policy])")
    if req.get("receipt") and not (receipt_by or "").strip():
        return "this copy needs the recipient's signed receipt: name who signed it (--receipt)"
    return None
