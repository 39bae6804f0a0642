"""edgectl's printable documents (design/0048): the public notice and the camera inventory
(`edgectl cameras --notice|--inventory [--html FILE]`), the monthly inspection register
(`edgectl inspect report`), a request's application form (`edgectl request form ID`), a
flagged request's report to the ethics office (`edgectl request ethics-report ID`), the answer
to the applicant and the receipt for a copy (`edgectl request reply|receipt ID`), the usage
register (`edgectl request usage`, design/0089), and the pages of design/0088: an account's
application (`edgectl account form NAME`), a hold as the request to preserve footage (`edgectl
hold form ID`) and a maintenance record (`edgectl maintenance record ID`).
A document is in the site's language (`[site] language`) unless `--lang` names another; the
daemon's `cameras` answer carries the language, time zone and camera names."""

from __future__ import annotations

from dataclasses import replace
from typing import Any, Callable

from edged.cli import files
from edged.cli.display import UsageError, table
from edged.control.client import call
from edged.config.forms import forms_from_json
from edged.documents import Doc
from edged.documents.notice import inventory_headers, inventory_html, inventory_rows, notice_html, notice_text
from edged.documents.ethics import ethics_html
from edged.documents.reply import NotPrintable, receipt_html, reply_html
from edged.documents.pages import ACTIONS, account_event, account_html, hold_html, maintenance_html
from edged.documents.retrieval import application_html
from edged.documents.usage import usage_html
from edged.i18n import _, normalise, set_site_word, speaking, zone
from edged.rules.persons import names_of
from storage.time.clock import SYSTEM
from argparse import Namespace
from edged.cli.ctx import Ctx


def doc_of(reply: dict[str, Any], lang: str | None) -> Doc:
    """The document's language: `--lang`, else the site's; dates in the site's time zone; the
    site's rule and forms ([forms], design/0081) as the daemon has them."""
    chosen = normalise(lang) if lang else None
    return Doc(lang=chosen or normalise(reply.get("language")) or "en", tz=zone(reply.get("timezone")),
               site_name=reply.get("site_name") or "", forms=forms_from_json(reply.get("forms")))


def write(path: str, text: str) -> str:
    files.write_new(path, text)
    return _("wrote {path}").format(path=path)


def paper(ctx: Ctx, args: Namespace, default_out: str, render: Callable[[Doc, dict[str, str]], str]) -> tuple[str, str]:
    """Render a printed document in the site's language (with the cameras' names) and write it
    to `--out` or `default_out`: (the path, "wrote PATH")."""
    doc, names = site_doc(ctx, args.lang)
    with speaking(doc.lang):
        page = render(doc, names)
    out = args.out or default_out
    return out, write(out, page)


def cameras_document(reply: dict[str, Any], rows: list[dict[str, Any]], args: Namespace) -> str:
    """`edgectl cameras --notice` or `--inventory`: as text, or as a printable page (--html)."""
    doc = doc_of(reply, args.lang)
    changed, now = reply.get("list_changed_us"), SYSTEM.now_us()
    site = (reply.get("min_days"), reply.get("max_days"))   # a camera on the site's retention: the rule's words
    rows = [{**r, "site_retention": (r.get("min_days"), r.get("max_days")) == site} for r in rows]
    set_site_word(str(reply.get("us") or ""), reply.get("language"))  # the notice's 本所 (design/0412)
    with speaking(doc.lang):
        if args.html:
            page = (notice_html if args.notice else inventory_html)(doc, rows, changed, now)
            return write(args.html, page)
        if args.notice:
            return notice_text(doc, rows, changed, table)
        return table([h.upper() for h in inventory_headers()], inventory_rows(rows, doc))


def request_form(ctx: Ctx, args: Namespace) -> tuple[Any, str]:
    """`edgectl request form ID --out FILE`: the application and its approval record."""
    request = call(ctx.socket, "request.show", {"id": args.id})
    out, said = paper(ctx, args, f"request-{request['id']}.html",
                      lambda doc, names: application_html(doc, request, names, SYSTEM.now_us()))
    return {"request": request["id"], "html": out}, said


def ethics_report(ctx: Ctx, args: Namespace) -> tuple[Any, str]:
    """`edgectl request ethics-report ID --out FILE`: a flagged request's report to the ethics office."""
    request = call(ctx.socket, "request.show", {"id": args.id})
    if not request.get("flag"):
        raise UsageError(_("request {id} is not flagged major or abnormal: nothing to report to the ethics "
                           "office").format(id=request["id"]))
    out, said = paper(ctx, args, f"ethics-report-{request['id']}.html",
                      lambda doc, names: ethics_html(doc, request, names, SYSTEM.now_us()))
    return {"request": request["id"], "html": out}, said


def request_page(ctx: Ctx, args: Namespace, render: Callable[..., str], stem: str) -> tuple[Any, str]:
    """`edgectl request reply|receipt ID --out FILE`: a page of one request (design/0089)."""
    request = call(ctx.socket, "request.show", {"id": args.id})
    try:
        out, said = paper(ctx, args, f"{stem}-{request['id']}.html",
                          lambda doc, names: render(doc, request, names, SYSTEM.now_us()))
    except NotPrintable as exc:
        raise UsageError(str(exc)) from None
    return {"request": request["id"], "html": out, "due_us": request.get("due_us")}, said


def request_reply(ctx: Ctx, args: Namespace) -> tuple[Any, str]:
    return request_page(ctx, args, reply_html, "reply")


def request_receipt(ctx: Ctx, args: Namespace) -> tuple[Any, str]:
    return request_page(ctx, args, receipt_html, "receipt")


def usage_register(ctx: Ctx, args: Namespace, start: int, end: int) -> tuple[Any, str]:
    """`edgectl request usage --from T [--to T] --out FILE`: the usage register (001 附件5)."""
    answer = call(ctx.socket, "usage.register", {"from_us": start, "to_us": end})
    out, said = paper(ctx, args, "usage-register.html", lambda doc, names: usage_html(doc, answer, names,
                                                                                     SYSTEM.now_us()))
    return {"uses": len(answer["uses"]), "html": out}, said


def site_doc(ctx: Ctx, lang: str | None) -> tuple[Doc, dict[str, str]]:
    """The site's language, zone and name, the people by their names and titles (design/0112),
    and the cameras' names (every camera ever configured), for a document whose data comes from
    another verb."""
    reply = call(ctx.socket, "cameras", {"all": True, "people": True})
    doc, people = doc_of(reply, lang), reply.get("people") or {}
    with speaking(doc.lang):   # a unit chief's title in the document's language
        names = names_of(people.get("accounts") or [], people.get("titles") or {}, people.get("units") or {})
    return replace(doc, names=names), {c["id"]: c["name"] for c in reply["cameras"]}


def account_form(ctx: Ctx, args: Namespace) -> tuple[Any, str]:
    """`edgectl account form NAME [--action opened|password|revoked] --out FILE`: the account
    application (001 annex 2) for that event of the account's history."""
    a = call(ctx.socket, "account.show", {"name": args.name})
    if account_event(a, args.action) is None:
        raise UsageError(_("account {name} has no such event on record ({action}); its history: {events}").format(
            name=a["name"], action=args.action, events=", ".join(e["action"] for e in a.get("events") or []) or "-"))
    out, said = paper(ctx, args, f"account-{a['name']}-{args.action}.html",
                      lambda doc, names: account_html(doc, a, args.action, names, SYSTEM.now_us()))
    return {"account": a["name"], "html": out}, said


def hold_form(ctx: Ctx, args: Namespace) -> tuple[Any, str]:
    """`edgectl hold form ID --out FILE`: the request to preserve footage and its approval."""
    h = call(ctx.socket, "hold.show", {"id": args.id})
    out, said = paper(ctx, args, f"hold-{h['id']}.html", lambda doc, names: hold_html(doc, h, names, SYSTEM.now_us()))
    return {"hold": h["id"], "html": out}, said


def maintenance_record(ctx: Ctx, args: Namespace) -> tuple[Any, str]:
    """`edgectl maintenance record ID --out FILE`: one window as the maintenance record."""
    w = next((r for r in call(ctx.socket, "maintenance.list", {"limit": 1_000_000}) if r["id"] == args.id), None)
    if w is None:
        raise UsageError(_("no maintenance window {id} on record").format(id=args.id))
    out, said = paper(ctx, args, f"maintenance-{w['id']}.html", lambda doc, _names: maintenance_html(doc, w,
                                                                                                     SYSTEM.now_us()))
    return {"window": w["id"], "html": out}, said


ACCOUNT_ACTIONS = tuple(ACTIONS)
