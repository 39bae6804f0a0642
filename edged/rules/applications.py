"""An account's application and its signatures (design/0088, 0260; issue 77): who may sign which box,
which boxes wait, whom a box signed on paper names, and what waits for a signer. Pure: plain data in,
a refusal's words or a list out; edged/people.py stores the signatures."""

from __future__ import annotations

from typing import Any, Iterable, Mapping

from edged.i18n import _
from storage.people import signatures


def sign_refusal(a: dict[str, Any], action: str, box: str, signer: str, boxes: list[str],
                 titles: Mapping[str, Iterable[str]] | None = None) -> str | None:
    """Why `signer` (an account) may not sign `box` of the application for the account's last
    `action` event (design/0088), or None. Pure: the boxes are the page's without a daemon value;
    the holder and the admin who carried the change out sign nothing, each box is one person's,
    and a box named for a title of [policy.titles] (001 附件2's 秘書, 主任) only by that title's
    holder (issue 56, design/0190). Said to the signer: no login name in it."""
    event = next((e for e in reversed(a.get("events") or []) if e["action"] == action), None)
    if event is None:
        return _("This account has no such change on record to sign.")
    if box not in boxes:
        return _("“{box}” is not a box to sign on the account application; boxes: {boxes}").format(
            box=box, boxes=_(", ").join(boxes) or _("(none)"))
    holders = set((titles or {}).get(box, ()))
    if holders and signer not in holders:
        return _("The box “{box}” is signed by the {box} only.").format(box=box)
    signed = signatures.application_signatures(a["events"], action)
    if box in signed:
        return _("The box “{box}” is already signed.").format(box=box)
    if signer == a["name"]:
        return _("You may not sign your own account's application.")
    if signer == signatures.actor_account(event["by"]):
        return _("You carried out this change and may not also approve it (separation of duties).")
    if any(signatures.actor_account(s["by"]) == signer for s in signed.values()):
        return _("You have already signed this application; each box is another person's.")
    return None


def waiting_signatures(rows: Iterable[dict[str, Any]], signer: str, boxes: list[str], *, signed_to_log_in: bool,
                       titles: Mapping[str, Iterable[str]] | None = None) -> list[dict[str, Any]]:
    """The applications `signer` must act on now (issue 77 D1, issue 91 D6, design/0391): one entry
    per account (name, full name, action, the boxes) for the signer's inbox and home page. Only
    where the site signs accounts to log in (`[accounts] signed_to_log_in`), and there only an
    application that holds its account back (`unsigned_boxes`: to open it, the first admin's
    excepted); cleared once the signer signed a box of it or every box is signed, moot once the
    account is revoked. The password and revocation applications stay signable on the account's
    page but wait for nobody: no rule holds an account back on them. Pure: sign_refusal decides each box."""
    if not signed_to_log_in:
        return []
    out = []
    for a in rows:
        if a.get("revoked_us") is not None or not unsigned_boxes(a, boxes):
            continue
        mine = [b for b in boxes if sign_refusal(a, "opened", b, signer, boxes, titles) is None]
        if mine:
            out.append({"name": a["name"], "full_name": a.get("full_name"), "action": "opened", "boxes": mine})
    return out


def unsigned_boxes(a: dict[str, Any], boxes: list[str]) -> list[str]:
    """The boxes of an account's application to open it that nobody has signed yet, which keep it
    from logging in where `[accounts] signed_to_log_in` (001 十一, design/0113). Pure. Not held
    back: the first admin (`init-admin`, root's act on the box) alone; the approvers are, and the
    first ones' boxes are recorded from the signed paper (design/0260, record_paper_signature)."""
    event = next((e for e in reversed(a.get("events") or []) if e["action"] == "opened"), None)
    if event is None or "(init-admin)" in str(event["by"]):
        return []
    signed = signatures.application_signatures(a["events"], "opened")
    return [b for b in boxes if b not in signed]


def paper_refusal(a: dict[str, Any], box: str, signed_by: str, boxes: list[str],
                  titles: Mapping[str, Iterable[str]], at_desk: list[str],
                  names: Mapping[str, str] | None = None) -> str | None:
    """Why the account administrator may not record `box` of `a`'s application to open it as
    signed on paper by `signed_by` (design/0260), or None. Pure. The paper route is the bootstrap
    the rule allows (附件2 is signed by hand): only while nobody usable may sign the box at the
    desk (`at_desk`, desk_signers); a box named for a title only by that title's holder."""
    if not any(e["action"] == "opened" for e in a.get("events") or []):
        return _("This account has no such change on record to sign.")
    if box not in boxes:
        return _("“{box}” is not a box to sign on the account application; boxes: {boxes}").format(
            box=box, boxes=_(", ").join(boxes) or _("(none)"))
    if box in signatures.application_signatures(a["events"], "opened"):
        return _("The box “{box}” is already signed.").format(box=box)
    holders = set(titles.get(box, ()))
    if not signed_by.strip():
        return _("Say who signed the box on paper.")
    if holders and signed_by not in holders:   # by their names, never a login name called one (issue 91)
        known = sorted(n for n in ((names or {}).get(h) for h in holders) if n)
        if not known:
            return _("The box “{box}” is signed by the {box} only: type the name of the {box} as on the paper "
                     "form.").format(box=box)
        return _("The box “{box}” is signed by the {box} only: type the name of the {box} ({names}), as on the "
                 "paper form.").format(box=box, names=_(", ").join(known))
    if at_desk:
        return _("The box “{box}” can be signed at the desk now: the paper is recorded only while nobody who may "
                 "sign it can log in.").format(box=box)
    return None


def paper_signer(typed: str, box: str, titles: Mapping[str, Iterable[str]], names: Mapping[str, str]) -> str:
    """Who signed a box on paper, as the admin types it from the form (issue 77): a title's holder by
    login name, by full name, or by the title itself where one person holds it; anything else as
    typed (paper_refusal says whom the box needs). Pure."""
    holders = list(titles.get(box, ()))
    if typed in holders:
        return typed
    by_name = [h for h in holders if names.get(h) and names[h] == typed]
    if len(by_name) == 1:
        return by_name[0]
    if typed == box and len(holders) == 1:
        return holders[0]
    return typed


def not_signed_words(name: str, pending: list[str], titles: Mapping[str, Iterable[str]]) -> str:
    """Why an account cannot log in yet: which boxes of its application wait, and for whom (the
    accounts of the box's title in [policy.titles], else any approver)."""
    def whom(box: str) -> str:   # by title, never by login name (issue 56)
        return _("the {title}").format(title=box) if titles.get(box) else _("an approver")
    boxes = _(", ").join(_("{box} (signed by {whom})").format(box=b, whom=whom(b)) for b in pending)
    return _("This account cannot log in yet: its application waits for its signatures: {boxes}. They sign it on "
             "the account's page at the desk.").format(boxes=boxes)
