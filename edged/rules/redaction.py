"""What a citizen's grant shows (design/0174): pure, over the site's [policy.citizen].

A citizen sees footage of themselves and no one else (seed 000 四(二), 002 八(三) and 九; PDPA
§10, Government Information Act §18): their grant shows a redacted copy (storage/redact/), in
the site's mode; where the site is silent, a copy hides "everything" but the applicant and an
accompanied viewing alone shows the footage (edged/config/policy.py silent_redaction, design/0327). The whole
picture only where an approver the site names in `unredacted_by` allows it, with a reason, which
goes on the record; anyone else, or no reason, is refused. Other kinds of request are not redacted.
`whole_picture` is that decision on one request (design/0276): an approver's, never the filer's,
never a custodian's alone, while the grant waits to be used; the custodian who then uses the grant
is never the approver who allowed it. `release_refusal` says who may release a copy made
(design/0328): the custodian who prepared it, or, where the site's [policy.citizen]
release_by_another asks a second person (seed 000 四(二)2: 會同系統管理人辦理), only a custodian or
approver who did not prepare it.
"""

from __future__ import annotations

from dataclasses import dataclass

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from edged.config.policy import KindRules
from edged.i18n import _
from edged.rules.persons import NOBODY, Names, person
from edged.rules.roles import APPROVER, CUSTODIAN

CITIZEN, NONE = "citizen", "none"
REDACTED = "redacted"   # a use of a grant for its redacted copy (design/0232): the staging export it is made from
MIN_REASON = 4   # characters: a reason says something ("法院" is two words of Chinese; "ok" is not a reason)


class RedactionRuleError(ValueError):
    """The whole picture asked for where the rules refuse it; the message says why."""


@dataclass(frozen=True)
class Shown:
    """What the grant shows: `redact` is a storage/redact/plan.py mode, or "none" (the whole
    picture); `allowed_by` and `reason` when an approver allowed the whole picture."""
    redact: str
    allowed_by: str | None = None
    reason: str | None = None


def shown(kind: str, rules: KindRules, unredacted_by: str | None = None, reason: str | None = None) -> Shown:
    """What a grant of a request of `kind` shows, `rules` its [policy.<kind>]; `unredacted_by`:
    the approver asking for the whole picture (with `reason`), or None."""
    if kind != CITIZEN or rules.redact == NONE:
        return Shown(NONE)
    if unredacted_by is None:
        return Shown(rules.redact)
    if unredacted_by not in rules.unredacted_by:
        raise RedactionRuleError(_("only the approvers named in [policy.citizen] unredacted_by may allow a citizen "
                                   "the whole picture; {who} is not one of them").format(who=unredacted_by))
    text = (reason or "").strip()
    if len(text) < MIN_REASON:
        raise RedactionRuleError(_("allowing a citizen the whole picture needs a reason on the record "
                                   "(at least {n} characters)").format(n=MIN_REASON))
    return Shown(NONE, unredacted_by, text)


def whole_picture(req: Mapping[str, Any], rules: KindRules | None, *, by: str, roles: Sequence[str],
                  reason: str | None, now_us: int, names: Names = NOBODY) -> Shown:
    """An approver's allowance of the whole picture on one citizen's request (design/0276): `by`,
    holding `roles`, asks it for `req` (a request row with its grant) with `reason`, under the
    request's kind's `rules`. The Shown the grant is then used with (`allowed_by`, `reason` for the
    record); RedactionRuleError says why not. Refused: anyone not an approver (a custodian alone,
    the auditor, a clerk); whoever filed or asked for the request; a request whose grant is not
    redacted, not issued yet, used, expired or already allowed; then `shown`: an approver the site
    does not name in unredacted_by, or no reason."""
    rid, kind = req.get("id"), str(req.get("kind") or "")
    if APPROVER not in roles:
        raise RedactionRuleError(_("allowing a citizen the whole picture is an approver's decision; {who} is not an "
                                   "approver").format(who=person(names, by)))
    if by in (req.get("filed_by"), req.get("requester_account")):
        raise RedactionRuleError(_("{who} filed or asked for request {id}: another approver decides whether the "
                                   "citizen sees the whole picture").format(who=person(names, by), id=rid))
    if rules is None or shown(kind, rules).redact == NONE:
        raise RedactionRuleError(_("request {id} is not redacted: its grant shows the whole picture already").format(
            id=rid))
    grant = req.get("grant")
    if not grant or grant.get("used_us") is not None or now_us >= int(grant["expires_us"]):
        raise RedactionRuleError(_("request {id} has no grant waiting to be used: the whole picture is allowed "
                                   "after its approval and before its grant is used").format(id=rid))
    if grant.get("unredacted_by"):
        raise RedactionRuleError(_("{who} already allowed request {id} the whole picture").format(
            who=person(names, str(grant["unredacted_by"])), id=rid))
    return shown(kind, rules, by, reason)


def allower_refusal(grant: Mapping[str, Any], user: str, names: Names = NOBODY) -> str | None:
    """Separation of duties: the approver who allowed a grant the whole picture never uses it."""
    if grant.get("unredacted_by") and grant["unredacted_by"] == user:
        return _("{who} allowed grant {id} the whole picture: another custodian uses it (separation of "
                 "duties)").format(who=person(names, user), id=grant.get("id"))
    return None


def grant_redacted(grant: Mapping[str, Any] | None, kind: Any, redacted: Iterable[str]) -> bool:
    """Whether a grant shows only a redacted copy: its request's kind is one the site redacts and no
    approver allowed it the whole picture (design/0276)."""
    return kind in set(redacted) and not (grant or {}).get("unredacted_by")


def redacted_kinds(kinds: Mapping[str, KindRules]) -> frozenset[str]:
    """The kinds of request of this site whose grant shows only a redacted copy (design/0232)."""
    return frozenset(k for k, rules in kinds.items() if shown(k, rules).redact != NONE)


def modes_offered(rules: KindRules | None) -> tuple[str, ...]:
    """The modes a citizen's redacted copy is made in at this site (design/0348): the site's
    [policy.citizen] redact first, then the other where it lists both; none where it is not redacted."""
    if rules is None or rules.redact == NONE:
        return ()
    return (rules.redact, *rules.redact_also)


def mode_refusal(mode: str, offered: Sequence[str]) -> str | None:
    """Why a citizen's redacted copy may not be made in `mode` at a site that `offered` those, or None."""
    if not offered or mode in offered:
        return None
    return _("this site makes a citizen's redacted copy only with {modes} ([policy.citizen] redact), not with "
             "{mode}").format(modes=" / ".join(offered), mode=mode)


def checked_as(grant: Mapping[str, Any] | None, mode: str) -> str:
    """The mode a use is checked against the grant's: a redacted copy's use takes the grant's own."""
    return str(grant["mode"]) if grant is not None and mode == REDACTED else mode


def redacted_refusal(grant: Mapping[str, Any], *, mode: str, redacted: bool) -> str | None:
    """A grant whose request shows only a redacted copy (edged/rules/redaction.py) is used only for
    that copy (`mode` REDACTED, the export the desk makes it from), never played or exported whole;
    another grant is never used that way. None: the use may go on."""
    if redacted and mode != REDACTED:
        return _("grant {id} shows a citizen only a redacted copy: prepare it on the request's page at the desk, "
                 "where the viewing or the copy waits for it, or on the box with edgectl export --grant {id} "
                 "--redacted").format(id=grant["id"])
    if not redacted and mode == REDACTED:
        return _("grant {id} is not one for a redacted copy").format(id=grant["id"])
    return None


def staged_read_refusal(detail: Mapping[str, Any], name: str, *, via: str | None, released: bool) -> str | None:
    """Why a file of an export may not be read (`export.read`), or None (issue 74, design/0321). An
    export staged for a citizen's redacted copy (its detail says "redacted") never leaves the box:
    only its clips are read, one piece at a time, to the desk's scrub view where the custodian marks
    the applicant, and only until the copy is released; never its signed manifest, signature, key
    or certificates, and nothing through edgectl. What leaves is the redacted copy (`redact.read`)."""
    if not detail.get("redacted"):
        return None
    clips = {str(c.get("file")) for c in detail.get("clips", []) if isinstance(c, Mapping)}
    if via != "desk" or name not in clips:
        return _("export {id} is staged for a citizen's redacted copy and never leaves the box; only the "
                 "redacted copy does (edgectl redact, or the request's page at the desk)")
    if released:
        return _("the redacted copy of export {id} was released; its original is not shown any more")
    return None


def release_refusal(export: int, *, prepared_by: str, by: str, roles: Sequence[str], by_another: bool, moments: int,
                    checked: bool, names: Names = NOBODY) -> str | None:
    """Why `by` (holding `roles`) may not release the redacted copy of `export` `prepared_by` made, or None
    (design/0328). Where the site asks no second person, the custodian who prepared it releases it
    (design/0232); where [policy.citizen] release_by_another asks one, a custodian or approver who
    did not prepare it, never the preparer. Either way a copy with `moments` to check is released
    only by one who says they played them (`checked`, design/0326)."""
    if by_another:
        if by == prepared_by:
            return _("{who} prepared the redacted copy of export {id}: the site asks a second person to release "
                     "it, a custodian or approver who did not prepare it").format(who=person(names, by), id=export)
        if CUSTODIAN not in roles and APPROVER not in roles:
            return _("{who} is neither a custodian nor an approver: a redacted copy is released by one").format(
                who=person(names, by))
    elif by != prepared_by:
        return _("the redacted copy of export {id} was prepared by {who}, who releases it").format(
            id=export, who=person(names, prepared_by))
    if moments and not checked:
        return _("the redacted copy of export {id} has {n} moments to check (a stranger in or near the applicant's "
                 "region, the region unsure, or one pass of the detector finding a face another missed): play each, "
                 "hide what shows a stranger, then release it saying they were checked").format(id=export, n=moments)
    return None


def not_installed_refusal(package: str) -> str:
    """A redacted copy asked of a box without the face detector's package (design/0408): one sentence,
    naming the package and where the request can be served instead."""
    return _("this box cannot make a redacted copy because the face detector's package, {package}, is not "
             "installed here: install it (apt install {package}) or serve the request on a box that has "
             "it").format(package=package)
