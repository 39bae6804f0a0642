"""Whether a request's approval chain can still be signed (issue 42, design/0102).

A chain is signed box by box, each box by a different person who neither filed nor asked for
the request (R5.3). Where an early step is "any approver" and a later one names its approvers
(000's citizen 課長 then 主任), the director could sign the early box and leave his own later
box with nobody able to sign it: the request would wait until it lapsed. So

- `dead_end(req, index, approver)`: signing step `index` now would leave a later step with nobody
  able to sign it (though it could be signed before): the sign-off is refused and the inbox does
  not offer it;
- `stuck(req)`: a request that already waits in vain (filed before this rule, or its only
  approver filed it) says which step nobody can sign, why, and who can still close it.

Plain functions over the request's dict (its `chain`, `steps`, `filed_by`, `requester_account`).
"""

from __future__ import annotations

from typing import Any, Callable, Mapping, Sequence

from edged.config.policy import distinct_signers
from edged.i18n import _


def _barred(req: Mapping[str, Any], extra: Sequence[str] = ()) -> set[str]:
    """Who may sign no further step: every signer so far, the filer, the requester."""
    who = {str(s["by"]) for s in req.get("steps") or ()}
    who |= {str(x) for x in (req.get("filed_by"), req.get("requester_account")) if x}
    return who | set(extra)


def _named(chain: Sequence[Mapping[str, Any]], start: int) -> list[tuple[int, Mapping[str, Any]]]:
    return [(i, st) for i, st in enumerate(chain) if i >= start and st.get("approvers") is not None]


def _signable(steps: list[tuple[int, Mapping[str, Any]]], barred: set[str]) -> bool:
    return distinct_signers([set(st["approvers"]) - barred for _i, st in steps])


def dead_end(req: Mapping[str, Any], index: int, approver: str) -> list[str]:
    """The names of the later steps that `approver`'s sign-off of step `index` would leave with
    nobody to sign them; [] when the chain stays signable (or was already stuck: signing then
    changes nothing, and `stuck` says why). The steps the approver is named for come first:
    those are the boxes the approver should sign instead."""
    chain = list(req.get("chain") or ())
    later = _named(chain, index + 1)
    if not later or not _signable(later, _barred(req)) or _signable(later, _barred(req, (approver,))):
        return []
    mine = [st["name"] for _i, st in later if approver in st["approvers"]]
    return mine or [st["name"] for _i, st in later]


def stuck(req: Mapping[str, Any]) -> dict[str, Any] | None:
    """Why a filed request waits in vain, or None.

    {"step": the first step nobody can sign, "approvers": its approvers, "barred": those of them
    who filed, asked for or already signed the request, "waiting": the step the request waits
    for, "rejecters": who may still close it by rejecting that step (None: any approver who has
    not signed it; []: nobody)}"""
    if req.get("state") != "filed":
        return None
    chain = list(req.get("chain") or ())
    index = len(req.get("steps") or ())
    if index >= len(chain):
        return None
    barred = _barred(req)
    named = _named(chain, index)
    if _signable(named, barred):
        return None
    first = next(named[k - 1][1] for k in range(1, len(named) + 1) if not _signable(named[:k], barred))
    waiting = chain[index]
    rejecters = None if waiting.get("approvers") is None else sorted(set(waiting["approvers"]) - barred)
    return {"step": first["name"], "approvers": sorted(first["approvers"]),
            "barred": sorted(set(first["approvers"]) & barred), "waiting": waiting["name"], "rejecters": rejecters}


def stuck_text(why: Mapping[str, Any], name: Callable[[str], str] = str) -> str:
    """`stuck`'s answer in words: which step nobody can sign, why, and who can close the request
    (`name`: an account as the surface shows it, e.g. by its full name at the desk)."""
    text = _("Nobody can sign step {step} any more: its approvers ({who}) filed, asked for or already signed "
             "this request.").format(step=why["step"], who=_(", ").join(name(a) for a in why["approvers"]))
    if why["rejecters"] is None:
        close = _("Any approver who has not signed it can reject it at step {waiting}; the office then files it "
                  "again.").format(waiting=why["waiting"])
    elif why["rejecters"]:
        close = _("{who} can reject it at step {waiting}; the office then files it again.").format(
            who=_(", ").join(name(a) for a in why["rejecters"]), waiting=why["waiting"])
    else:
        close = _("Nobody can sign or reject it: the office files it again and asks the site's administrator to "
                  "name another approver for step {step}.").format(step=why["step"])
    return text + " " + close
