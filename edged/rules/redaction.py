"""What a citizen's grant shows (design/0174): pure, over the site's [policy.citizen].

A citizen sees footage of themselves and no one else (seed 000 四(二), 002 八(三) and 九; PDPA
§10, Government Information Act §18): their grant shows a redacted copy (storage/redact/), in
the site's mode, "everything" hidden but the applicant where the site is silent. The whole
picture only where an approver the site names in `unredacted_by` allows it, with a reason, which
goes on the record; anyone else, or no reason, is refused. Other kinds of request are not redacted.
"""

from __future__ import annotations

from dataclasses import dataclass

from collections.abc import Mapping
from typing import Any

from edged.config.policy import KindRules
from edged.i18n import _

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


def redacted_kinds(kinds: Mapping[str, KindRules]) -> frozenset[str]:
    """The kinds of request of this site whose grant shows only a redacted copy (design/0232)."""
    return frozenset(k for k, rules in kinds.items() if shown(k, rules).redact != NONE)


def checked_as(grant: Mapping[str, Any] | None, mode: str) -> str:
    """The mode a use is checked against the grant's: a redacted copy's use takes the grant's own."""
    return str(grant["mode"]) if grant is not None and mode == REDACTED else mode


def redacted_refusal(grant: Mapping[str, Any], *, mode: str, redacted: bool) -> str | None:
    """A grant whose request shows only a redacted copy (edged/rules/redaction.py) is used only for
    that copy (`mode` REDACTED, the export the desk makes it from), never played or exported whole;
    another grant is never used that way. None: the use may go on."""
    if redacted and mode != REDACTED:
        return _("grant {id} shows a citizen only a redacted copy: prepare it on the request's page at the desk, "
                 "where the viewing or the copy waits for it").format(id=grant["id"])
    if not redacted and mode == REDACTED:
        return _("grant {id} is not one for a redacted copy").format(id=grant["id"])
    return None
