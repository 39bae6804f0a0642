"""Retrieval requests (調閱申請, docs/requirements.md R5) as a pure state machine over plain dicts.

    filed --approve--> approved (a single-use grant exists) --use--> used
          |                                                 \\--grant expires--> lapsed
          \\--reject--> rejected

"approve" is the last step of the request's approval chain (sign-offs by different approvers,
fixed at filing from the site's [policy], edged/config/policy.py: the steps every request passes,
the steps of the units that manage its cameras, the requester's own unit chief; design/0075); an
approval before the last only records its step, and the request stays `filed`.

No I/O and no clock: every function takes `now_us`. storage/people/retrieval_store.py keeps the rows and
names their states; edged/people.py applies these rules to them.
Personal data is kept to the minimum (R7.4): a citizen's ID number only masked plus a keyed
hash (to find the same person's earlier requests), and the requester's personal fields are
purged once the request has been closed for `keep_years` (R5.7).
"""

from __future__ import annotations

import hashlib
import hmac
import re
from datetime import datetime, timezone, tzinfo
from typing import Any, Mapping, Sequence

from edged.rules import chains, deadlines
from edged.rules.persons import NOBODY, Names, person
from storage.states.cameras import PORTABLE_PREFIX
from edged.config.policy import (  # noqa: F401  (CATEGORIES, COPY_KINDS, DAY_US: re-exported for readers)
    CATEGORIES as CATEGORIES,
    COPY_KINDS as COPY_KINDS,
    DAY_US as DAY_US,
    KINDS as KINDS,
    COPY as COPY,
    MODES,
    VIEW,
    REQUESTER_UNIT,
    RequestPolicy as RequestPolicy,
    Step,
    default_policy,
    distinct_signers,
)
from edged.i18n import _, hinted, us
from edged.rules.words import KIND_WORDS, kind_word, listed, mode_either, mode_word, word
from storage.states.requests import (  # the desk reads them here: retrieval.FILED, rq.USED, rq.LAPSED
    APPROVED as APPROVED, FILED as FILED, LAPSED as LAPSED, REJECTED as REJECTED, USED as USED)

FLAGS = ("major", "abnormal")
# The fields that say who the requester is: cleared when the request is purged.
PERSONAL = ("requester_name", "requester_org", "requester_contact", "citizen_id_masked", "citizen_id_hmac",
            "reason", "letter_ref", "purpose")
_ID = re.compile(r"[A-Za-z0-9]{6,20}")
DEFAULT_POLICY = default_policy()
ONE_STEP: list[dict[str, Any]] = [{"name": "approver", "approvers": None}]  # a request filed before site policies existed


class RequestRuleError(ValueError):
    """A request or a step that the rules refuse; the message says which rule."""


# filing ---------------------------------------------------------------------------------
def filing(policy: RequestPolicy, fields: Mapping[str, Any], *, now_us: int, tz: tzinfo | None = None
           ) -> dict[str, Any]:
    """The policy's part of filing a request: kind, category and mode allowed; what is kept
    with the request (due time, the chain that applies to its cameras, copy rules). `tz`: the
    site's zone, on whose calendar a due time in days is counted (design/0089)."""
    kind = str(fields.get("kind") or "")
    if kind not in policy.kinds:
        if kind in KINDS:
            raise hinted(RequestRuleError(_("At {us}, requests from {kind} are not taken; requests from {kinds} are.").format(us=us(),
                kind=word(KIND_WORDS, kind), kinds=listed(KIND_WORDS, policy.kinds))), "[policy] kinds")
        raise RequestRuleError(_("unknown request kind {kind!r}; kinds are {kinds}").format(
            kind=kind, kinds=', '.join(policy.kinds)))
    rules = policy.kinds[kind]
    category = str(fields.get("category") or "")
    if category not in policy.categories:
        raise RequestRuleError(_("unknown reason category {category!r}; categories are {categories}").format(
            category=category, categories=', '.join(policy.categories)))
    mode = str(fields.get("mode") or VIEW)
    if mode not in MODES:
        raise RequestRuleError(_("mode is view or copy, not {mode!r}").format(mode=mode))
    if mode not in rules.modes:
        raise hinted(RequestRuleError(_("Under {us}'s rules, a request from {kind} may only {modes} the footage, "
                                        "not {mode} it.").format(us=us(),
            kind=kind_word(kind), modes=mode_either(sorted(rules.modes, reverse=True)),
            mode=mode_word(mode))), f"[policy.{kind}] modes")
    cameras = sorted({str(c) for c in fields.get("cameras") or ()})
    chain = filed_chain(policy, rules.chain, cameras, str(fields.get("requester_org") or "").strip())
    due = None if rules.due_us is None else deadlines.answer_due_us(now_us, rules.due_us,
                                                                    tz if rules.due_days else None)
    return {"due_us": due, "chain": chain,
            "copy_to": rules.copy_to if mode == COPY else None, "receipt": bool(rules.receipt and mode == COPY)}


def filed_chain(policy: RequestPolicy, steps: Sequence[Step], cameras: Sequence[str], org: str
                ) -> list[dict[str, Any]]:
    """The chain a request on `cameras` by someone of unit `org` passes, as kept with it: each
    step's name, its approvers (None: any approver) and, for a step limited to some cameras, the
    request's cameras it signs for (the approver's rights need cover only those, R4.2).

    A `unit = "requester"` step becomes the approvers of the requester's unit; it is left out when
    they all sign another step of this chain anyway (the managing section's own request: its chief
    signs once). Refused when no set of different people could sign every step."""
    chain: list[dict[str, Any]] = []
    for s in steps:
        if not s.applies(cameras):
            continue
        approvers = s.approvers
        if s.unit == REQUESTER_UNIT:
            if org not in policy.units:
                raise hinted(RequestRuleError(_("{name} is signed by the chief of the requester's unit, and "
                                                "「{org}」 is not a unit of {us}: choose one of {units}.").format(us=us(),
                    name=s.name, org=org, units=_(", ").join(policy.units))), "--org; [policy.units]")
            approvers = policy.units[org]
            if any(o is not s and o.approvers is not None and o.unit is None and o.applies(cameras)
                   and approvers <= o.approvers for o in steps):
                continue
        step: dict[str, Any] = {"name": s.name, "approvers": None if approvers is None else sorted(approvers)}
        if s.cameras is not None:
            step["cameras"] = sorted(s.cameras & set(cameras))
        chain.append(step)
    if not distinct_signers([st["approvers"] for st in chain if st["approvers"] is not None]):
        raise hinted(RequestRuleError(_("The sign-offs of this request ({steps}) cannot each be signed by a "
                                        "different person: {us}'s rules name too few approvers.").format(us=us(),
            steps=_(", ").join(st["name"] for st in chain))), "[policy] chain")
    return chain


# identity -----------------------------------------------------------------------------
def normalise_id(id_number: str) -> str:
    text = re.sub(r"[\s-]", "", str(id_number)).upper()
    if not _ID.fullmatch(text):
        raise RequestRuleError(_("the ID number should be 6 to 20 letters and digits (e.g. A123456789)"))
    return text


def mask_id(id_number: str) -> str:
    """Enough to recognise on a form, not enough to identify: A123456789 -> A******789."""
    text = normalise_id(id_number)
    return text[0] + "*" * (len(text) - 4) + text[-3:]


def id_hmac(id_number: str, key: bytes) -> str:
    """A keyed hash: the same person's requests can be found, the number cannot be recovered."""
    return hmac.new(key, normalise_id(id_number).encode(), hashlib.sha256).hexdigest()


# filing -------------------------------------------------------------------------------
# Over 60 lines on purpose: the filing rules of R5.1-R5.2 checked one after the other, in the
# order a person fixes them (the first refusal is the one shown).
def new_request(fields: dict[str, Any], *, filed_by: str, now_us: int, id_key: bytes,
                policy: RequestPolicy = DEFAULT_POLICY, known_cameras: Sequence[str] | None = None,
                tz: tzinfo | None = None) -> dict[str, Any]:
    """Check a request as filed and return its row (state `filed`). The site's policy says
    which kinds, categories and modes it takes, and what is kept with the request: its due
    time, its approval chain and its copy rules (design/0036)."""
    kept = filing(policy, fields, now_us=now_us, tz=tz)
    kind, category = str(fields["kind"]), str(fields["category"])
    mode = str(fields.get("mode") or "view")
    reason = str(fields.get("reason") or "").strip()
    if not reason:
        raise hinted(RequestRuleError(_("A request names its reason: the approver checks it is necessary.")), "--reason")
    cameras = fields.get("cameras")
    if not cameras or not isinstance(cameras, (list, tuple)):
        raise hinted(RequestRuleError(_("A request names its cameras.")), "--camera")
    cameras = sorted({str(c) for c in cameras})
    if known_cameras is not None:
        unknown = sorted(set(cameras) - set(known_cameras))
        if unknown:
            raise RequestRuleError(_("unknown camera(s): {unknown}").format(unknown=', '.join(unknown)))
    try:
        from_us, to_us = int(fields["from_us"]), int(fields["to_us"])
    except (KeyError, TypeError, ValueError):
        raise hinted(RequestRuleError(_("A request names its time range.")), "--from, --to") from None
    if to_us <= from_us:
        raise RequestRuleError(_("the time range's end must be after its start"))
    if from_us > now_us and not any(c.startswith(PORTABLE_PREFIX) for c in cameras):
        # a portable device's times are its claim, and its clock may be ahead of the box's (design/0400)
        raise RequestRuleError(_("the time range starts in the future: there is no footage yet"))
    purpose = str(fields.get("purpose") or "").strip() or None
    if policy.asks_purpose and not purpose:   # 002 §8(1)(2): 敘明具體事由及用途
        raise hinted(RequestRuleError(_("A request at {us} says what the footage is for (its use), beside "
                                        "the reason.").format(us=us())), "--purpose")
    name = str(fields.get("requester_name") or "").strip()
    if not name:
        raise hinted(RequestRuleError(_("A request names its requester.")), "--requester")
    row: dict[str, Any] = {
        "kind": kind, "state": FILED, "category": category, "reason": reason, "purpose": purpose, "cameras": cameras,
        "from_us": from_us, "to_us": to_us, "mode": mode, "requester_name": name,
        "requester_org": str(fields.get("requester_org") or "").strip() or None,
        "requester_contact": str(fields.get("requester_contact") or "").strip() or None,
        "requester_account": str(fields.get("requester_account") or "").strip() or None,
        "letter_ref": str(fields.get("letter_ref") or "").strip() or None,
        "citizen_id_masked": None, "citizen_id_hmac": None, "identity_checked": 0,
        "flag": None, "flag_note": None, "filed_by": filed_by, "filed_us": now_us, "due_us": kept["due_us"],
        "decided_by": None, "decided_us": None, "decision_reason": None, "closed_us": None, "purged_us": None,
        "chain": kept["chain"], "steps": [], "copy_to": kept["copy_to"], "receipt": int(kept["receipt"]),
    }
    if kind == "citizen":
        if not fields.get("id_number"):
            raise hinted(RequestRuleError(_("A citizen's request needs their ID number: only a masked form and a "
                                            "keyed hash are kept.")), "--id-number")
        if not fields.get("identity_checked"):
            raise hinted(RequestRuleError(_("Check the citizen's identity document first: a citizen may only see "
                                            "footage of themselves.")), "--identity-checked (R5.1)")
        row["citizen_id_masked"] = mask_id(fields["id_number"])
        row["citizen_id_hmac"] = id_hmac(fields["id_number"], id_key)
        row["identity_checked"] = 1
    elif kind in ("agency", "police-urgent") and not row["letter_ref"]:
        raise hinted(RequestRuleError(_("A request from {kind} gives its official letter or case number.").format(
            kind=kind_word(kind))), "--letter")
    elif kind == "internal" and not row["requester_org"]:
        raise hinted(RequestRuleError(_("An internal request names the requester's unit.")), "--org")
    flag = fields.get("flag") or ("major" if category == "major-incident" else None)
    if flag is not None:
        row["flag"] = check_flag(flag)
        row["flag_note"] = str(fields.get("flag_note") or "").strip() or None
    return row


def check_flag(flag: str) -> str:
    if flag not in FLAGS:
        raise RequestRuleError(_("a flag is major or abnormal, not {flag!r}").format(flag=flag))
    return flag


# deciding: one step of the chain -------------------------------------------------------
def steps_signed(req: Mapping[str, Any]) -> list[dict[str, Any]]:
    return list(req.get("steps") or [])


def next_step(req: Mapping[str, Any]) -> tuple[int, dict[str, Any]] | None:
    """(index, step) of the sign-off the request waits for; None once decided."""
    if req["state"] != FILED:
        return None
    chain = req.get("chain") or ONE_STEP
    done = len(steps_signed(req))
    return (done, chain[done]) if done < len(chain) else None


def decide(req: Mapping[str, Any], *, approver: str, approve: bool, reason: str, now_us: int,
           grant_ttl_us: int, approver_scope: Sequence[str] | None = None, names: Names = NOBODY
           ) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """One step of the request's chain, by `approver` (whose cameras are `approver_scope`,
    None: all): (changes to the request, the grant to issue or None).

    `changes["steps"]` always holds every step signed so far, the new one last. An approval
    before the last step changes nothing else (the request stays `filed`); the last approval
    decides it and issues the grant, which names every signer; a rejection at any step decides it.
    Refused (R5.3 and separation of duties): whoever filed or asked for the request; anyone
    who signed an earlier step of it; anyone the step does not list; an approver whose cameras
    do not cover the request's (R4.2); an approval that would leave a later step with nobody
    able to sign it (edged/rules/chains.py, design/0102). A refusal names people by `names` (0112)."""
    if req["state"] != FILED:
        raise RequestRuleError(_("request {id} is already {state}").format(id=req.get('id'), state=req['state']))
    if req.get("purged_us"):
        raise RequestRuleError(_("request {id} was purged").format(id=req.get('id')))
    index, step = next_step(req) or (0, ONE_STEP[0])
    chain = req.get("chain") or ONE_STEP
    where = _("step {value} of {n} ({name})").format(value=index + 1, n=len(chain), name=step['name'])
    if approver in (req["filed_by"], req.get("requester_account")):
        raise RequestRuleError(_("{approver} filed or asked for request {id}: another approver decides (who files "
                                 "or asks never approves)").format(approver=person(names, approver), id=req.get('id')))
    earlier = [s for s in steps_signed(req) if s["by"] == approver]
    if earlier:
        raise RequestRuleError(_("{approver} already signed {name} of request {id}; {where} needs a different "
                                 "approver").format(
            approver=person(names, approver), name=earlier[0]['name'], id=req.get('id'), where=where))
    if step.get("approvers") is not None and approver not in step["approvers"]:
        raise RequestRuleError(_("{where} is signed by {approvers}, not {approver}").format(
            where=where, approvers=_(", ").join(person(names, a) for a in step['approvers']), approver=person(names, approver)))
    signs_for = set(step.get("cameras") or req["cameras"])   # a camera-scoped step: its own cameras only
    if approver_scope is not None and not signs_for <= set(approver_scope):
        outside = sorted(signs_for - set(approver_scope))
        raise RequestRuleError(_("{approver} has no rights on camera(s) {outside} of request {id}; an approver for "
                                 "those cameras decides").format(
            approver=person(names, approver), outside=_(", ").join(outside), id=req.get('id')))
    blocked = chains.dead_end(req, index, approver) if approve else []
    if blocked:  # design/0102: a box signed now must not leave a later one with nobody to sign it
        raise RequestRuleError(_("{approver} signs {later} of request {id}; signing {where} too would leave {later} "
                                 "with nobody to sign it: another approver signs {where}").format(
            approver=person(names, approver), later=_(", ").join(blocked), id=req.get("id"), where=where))
    reason = reason.strip()
    if not reason:
        raise hinted(RequestRuleError(_("A decision gives its reason: necessity and relevance were checked.")), "--reason")
    steps = [*steps_signed(req), {"step": index, "name": step["name"], "by": approver, "at_us": now_us,
                                  "approve": bool(approve), "reason": reason}]
    changes: dict[str, Any] = {"steps": steps}
    if approve and index + 1 < len(chain):
        return changes, None
    changes.update(state=APPROVED if approve else REJECTED, decided_by=approver, decided_us=now_us,
                   decision_reason=reason)
    if not approve:
        changes["closed_us"] = now_us
        return changes, None
    grant = {"request_id": req.get("id"), "cameras": list(req["cameras"]), "from_us": req["from_us"],
             "to_us": req["to_us"], "mode": req["mode"], "approver": approver,
             "approvers": [s["by"] for s in steps], "requester": req["requester_name"], "created_us": now_us,
             "expires_us": now_us + grant_ttl_us, "used_us": None, "used_by": None, "watcher": None}
    return changes, grant


def grant_lifetime(asked_us: int | None, default_us: int, max_us: int) -> tuple[int, bool]:
    """An approver's `--expires`: (lifetime, clamped). Zero or negative is refused; longer than
    the site's grant_ttl is cut to it (the caller says so)."""
    if asked_us is None:
        return default_us, False
    if asked_us <= 0:
        raise hinted(RequestRuleError(_("A grant's lifetime is a span of time after the decision, e.g. 2 days.")),
                     "--expires, e.g. 2d")
    return (max_us, True) if asked_us > max_us else (asked_us, False)


# using --------------------------------------------------------------------------------
def refuse_use(grant: dict[str, Any] | None, *, mode: str, now_us: int, grant_id: int | None = None,
               names: Names = NOBODY) -> str | None:
    """Why this use of the grant is refused, or None (R5.4: one application, one viewing). People
    by their names (`names`, design/0112)."""
    if grant is None:
        return _("no grant {grant_id}").format(grant_id=grant_id)
    if grant.get("used_us") is not None:
        return _("grant {id} was already used (by {used_by}); a new viewing needs a new request").format(
            id=grant['id'], used_by=person(names, grant['used_by']))
    if now_us >= grant["expires_us"]:
        return _("grant {id} expired; file a new request").format(id=grant['id'])
    if mode != grant["mode"]:
        return _("grant {id} is for {mode}, not {mode2}").format(id=grant['id'], mode=mode_word(grant['mode']),
                                                                mode2=mode_word(mode))
    return None


def approver_refusal(grant: Mapping[str, Any], user: str, names: Names = NOBODY) -> str | None:
    """Separation of duties: whoever signed any step of the request never uses its grant. The
    refusal names the person by name (`names`, design/0112)."""
    if user in (grant.get("approvers") or [grant.get("approver")]):
        return (_("{user} approved request {request_id}: another custodian uses its grant (separation of "
                  "duties)").format(
            user=person(names, user), request_id=grant.get('request_id')))
    return None


def copy_refusal(req: Mapping[str, Any], *, recipient: str, receipt_by: str | None) -> str | None:
    """The copy rules kept with the request: to the requester only where the site says so; a
    signed receipt where the site asks for one (002 §8(2))."""
    recipient = recipient.strip()
    if req.get("copy_to") == "requester" and recipient not in ("", req.get("requester_name")):
        return (_("At {us}, a copy of a request from {kind} goes to its requester only, not to {recipient}.").format(
            us=us(), kind=kind_word(req['kind']), recipient=recipient))
    if req.get("receipt") and not (receipt_by or "").strip():
        return _("This copy needs the recipient's signed receipt: name who signed it.")
    return None


# time rules ---------------------------------------------------------------------------
def overdue(req: dict[str, Any], now_us: int) -> bool:
    """R5.6: a citizen's request still undecided past its due time."""
    return req["state"] == FILED and req.get("due_us") is not None and now_us > req["due_us"]


def lapsed(req: dict[str, Any], grant: dict[str, Any] | None, now_us: int) -> bool:
    """An approved request whose grant expired unused."""
    return req["state"] == APPROVED and grant is not None and grant.get("used_us") is None \
        and now_us >= grant["expires_us"]


def add_years(us: int, years: int) -> int:
    """The same calendar day `years` later (29 February becomes 28 February)."""
    dt = datetime.fromtimestamp(us / 1e6, tz=timezone.utc)
    try:
        later = dt.replace(year=dt.year + years)
    except ValueError:
        later = dt.replace(year=dt.year + years, day=28)
    return int(later.timestamp()) * 1_000_000 + us % 1_000_000


def purge_due(req: dict[str, Any], now_us: int, keep_years: int = 3) -> bool:
    """R5.7: a closed request is kept `keep_years`, then its personal data goes."""
    closed = req.get("closed_us")
    return closed is not None and not req.get("purged_us") and now_us >= add_years(closed, keep_years)


def purged(req: dict[str, Any], now_us: int) -> dict[str, Any]:
    """The changes that purge a request: what it was stays, who asked goes."""
    return {**{k: None for k in PERSONAL}, "reason": "[purged]", "requester_name": "[purged]",
            "flag_note": None, "purged_us": now_us}


def stub(req: dict[str, Any]) -> dict[str, Any]:
    """What the audit chain says about a request: never the requester's personal data."""
    return {"request": req.get("id"), "kind": req["kind"], "category": req["category"], "cameras": req["cameras"],
            "from_us": req["from_us"], "to_us": req["to_us"], "mode": req["mode"], "flag": req.get("flag")}
