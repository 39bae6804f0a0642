"""The desk's page frame and HTML builders (design/0073). Plain functions: data in, HTML out.
Every value is escaped here; every text is the caller's, already translated."""

from __future__ import annotations

import base64
import hashlib
import html
from dataclasses import dataclass, field
from datetime import datetime, tzinfo
from typing import Any, Iterable, Sequence

from edged.documents import CSS
from edged.i18n import N_, _, fmt_date, fmt_datetime, local
from edged.rules import roles
from edged.rules.persons import Names, people, person
from edged.rules.words import ROLE_WORDS

# the printed forms' one inline <style>, allowed by its hash (design/0073): no 'unsafe-inline'
PRINT_CSP = ("default-src 'none'; style-src 'sha256-" + base64.b64encode(hashlib.sha256(CSS.encode()).digest()).decode()
             + "'; img-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'")

ROLE_LABELS = ROLE_WORDS  # the office's words for the roles (edged/rules/words.py; the admin: 帳號管理員)
# (path, label, the operation the page serves): shown to the roles that may run it
NAV = (("/desk/", N_("Home"), "whoami"),
       ("/desk/inbox", N_("Waiting for you"), "request.approve"),
       ("/desk/requests/new", N_("File a request"), "request.file"),
       ("/desk/requests", N_("Requests"), "request.list"),
       ("/desk/holds", N_("Holds"), "hold.list"),
       ("/desk/inspections", N_("Inspections"), "inspect.list"),
       ("/desk/cameras", N_("Cameras and alarms"), "cameras"),
       ("/desk/timeline", N_("Timeline"), "segments"),
       ("/desk/accounts", N_("Accounts"), "account.list"),
       ("/desk/audit", N_("Audit log"), "audit.list"),
       ("/desk/usage", N_("Usage register"), "usage.register"),
       ("/grid", N_("Live view"), "live.view"),
       ("/playback", N_("Playback of a grant"), "playback.start"),
       ("/desk/password", N_("Change password"), "account.passwd"))
LIVE_OP = "live.view"
# the four states a person must tell apart at a glance (a word and a colour, never colour alone)
WAIT, DUE, REFUSED, DONE, OPEN = "wait", "due", "refused", "done", "open"
LANG_NAMES = {"en": "English", "zh-TW": "中文"}


@dataclass
class Person:
    """Who a page serves: the web session's account, roles and cameras (None: every camera)."""

    account: str
    roles: tuple[str, ...]
    cameras: tuple[str, ...] | None = None
    must_change: bool = False
    session: dict[str, Any] = field(default_factory=dict, repr=False)


@dataclass
class Ctx:
    """One page's request: who asks (the session as a control Caller), in which language."""

    caller: Person
    lang: str
    site: str
    tz: tzinfo | None
    now_us: int
    path: str
    csrf: str = ""
    title: str = ""
    notes: list[str] = field(default_factory=list)
    names: Names = field(default_factory=dict)   # the people by their names and titles (design/0112)

    @property
    def account(self) -> str:
        return self.caller.account

    def may(self, op: str) -> bool:
        return roles.allowed(self.caller.roles, op)

    def offers(self, op: str) -> bool:
        """Whether the menu offers a page: the role may run it, and live view only to a person the
        admin gave it (design/0108; the session carries the account's `live`)."""
        return self.may(op) and (op != LIVE_OP or bool(self.caller.session.get("live")))

    def who(self, account: str | None) -> str:
        """A person on the page: title and full name (edged/rules/persons.py), never a login name."""
        return person(self.names, account)

    def whom(self, accounts: Iterable[str]) -> str:
        return people(self.names, accounts)

    def own_name(self) -> str:
        """This person's full name as a signature field offers it (the account where none is kept)."""
        named = self.names.get(self.account)
        return named.full_name if named and named.full_name else self.account

    def date(self, us: int | None, long: bool = False) -> str:
        return fmt_date(us, self.lang, self.tz, long)

    def when(self, us: int | None) -> str:
        return fmt_datetime(us, self.lang, self.tz)

    def input_time(self, us: int | None) -> str:
        """A moment as <input type=datetime-local> writes it, in the site's zone."""
        return "" if us is None else local(us, self.tz).strftime("%Y-%m-%dT%H:%M")

    def parse_time(self, text: str) -> int | None:
        try:
            t = datetime.strptime(text.strip(), "%Y-%m-%dT%H:%M")
        except ValueError:
            return None
        aware = t.replace(tzinfo=self.tz) if self.tz else t.astimezone()
        return int(aware.timestamp() * 1_000_000)


def esc(value: Any) -> str:
    return html.escape("-" if value is None or value == "" else str(value))


def attr(value: Any) -> str:
    return html.escape("" if value is None else str(value), quote=True)


def badge(state: str, text: str) -> str:
    return f'<span class="state st-{state}">{esc(text)}</span>'


def table(headers: Sequence[str], rows: Iterable[Sequence[str]], caption: str = "") -> str:
    """Cells are HTML already (built with esc, link, badge); headers are escaped here."""
    head = "".join(f'<th scope="col">{esc(h)}</th>' for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in row) + "</tr>" for row in rows)
    cap = f"<caption>{esc(caption)}</caption>" if caption else ""
    return f'<div class="scroll"><table>{cap}<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></div>'


def facts(pairs: Iterable[tuple[str, str]]) -> str:
    """A definition list; values are HTML already."""
    return '<dl class="facts">' + "".join(f"<dt>{esc(k)}</dt><dd>{v}</dd>" for k, v in pairs) + "</dl>"


def link(href: str, text: str, cls: str = "") -> str:
    return f'<a href="{attr(href)}"{f" class={chr(34)}{cls}{chr(34)}" if cls else ""}>{esc(text)}</a>'


def message(kind: str, text: str) -> str:
    """A notice on top of the page: kind is ok or error (read out by screen readers)."""
    role = "alert" if kind == "error" else "status"
    return f'<p class="notice notice-{kind}" role="{role}">{esc(text)}</p>'


def form(ctx: Ctx, action: str, body: str, cls: str = "") -> str:
    token = f'<input type="hidden" name="csrf" value="{attr(ctx.csrf)}">'
    return f'<form method="post" action="{attr(action)}" class="{cls}">{token}{body}</form>'


def field_(label: str, control: str, hint: str = "", wide: bool = False) -> str:
    hint_html = f'<span class="hint">{esc(hint)}</span>' if hint else ""
    return f'<label class="field{" wide" if wide else ""}"><span class="label">{esc(label)}</span>{control}{hint_html}</label>'


def text_input(name: str, value: str = "", *, required: bool = False, kind: str = "text", extra: str = "") -> str:
    req = " required" if required else ""
    return f'<input type="{kind}" name="{name}" id="f-{name}" value="{attr(value)}"{req} {extra}>'


def textarea(name: str, value: str = "", *, required: bool = False) -> str:
    req = " required" if required else ""
    return f'<textarea name="{name}" id="f-{name}" rows="3"{req}>{html.escape(value)}</textarea>'


def select(name: str, options: Sequence[tuple[str, str]], chosen: str = "", *, required: bool = False) -> str:
    opts = "".join(f'<option value="{attr(v)}"{" selected" if v == chosen else ""}>{esc(t)}</option>'
                   for v, t in options)
    return f'<select name="{name}" id="f-{name}"{" required" if required else ""}>{opts}</select>'


def checks(name: str, options: Sequence[tuple[str, str]], chosen: Iterable[str], legend: str) -> str:
    picked = set(chosen)
    boxes = "".join(f'<label class="check"><input type="checkbox" name="{name}" value="{attr(v)}"'
                    f'{" checked" if v in picked else ""}> {esc(t)}</label>' for v, t in options)
    return f'<fieldset class="field wide"><legend class="label">{esc(legend)}</legend>{boxes}</fieldset>'


def radios(name: str, options: Sequence[tuple[str, str]], chosen: str, legend: str) -> str:
    boxes = "".join(f'<label class="check"><input type="radio" name="{name}" value="{attr(v)}"'
                    f'{" checked" if v == chosen else ""}> {esc(t)}</label>' for v, t in options)
    return f'<fieldset class="field"><legend class="label">{esc(legend)}</legend>{boxes}</fieldset>'


def button(text: str, name: str = "", value: str = "", cls: str = "primary") -> str:
    nv = f' name="{name}" value="{attr(value)}"' if name else ""
    return f'<button type="submit" class="{cls}"{nv}>{esc(text)}</button>'


def role_names(names: Iterable[str]) -> str:
    return "、".join(_(ROLE_LABELS.get(r, r)) for r in names)


def _lang_switch(ctx_lang: str, path: str) -> str:
    other = "en" if ctx_lang != "en" else "zh-TW"
    return (f'<a class="lang" href="/desk/lang?to={other}&amp;back={attr(path)}" lang="{"zh-Hant-TW" if other != "en" else "en"}">'
            f'{esc(LANG_NAMES[other])}</a>')


def frame(ctx: Ctx | None, title: str, body: str, *, site: str, lang: str, path: str = "/desk/",
          nav: bool = True) -> str:
    """A whole page: the site's name, the navigation the role may use, who is logged in, the
    language switch, then the page itself."""
    html_lang = "zh-Hant-TW" if lang == "zh-TW" else "en"
    links = ""
    who = ""
    if ctx is not None and nav and not ctx.caller.must_change:
        items = "".join("<li>" + link(href, _(label), "current" if href == path else "") + "</li>"
                        for href, label, key in NAV if ctx.offers(key))
        pages = _("Pages")
        links = f'<nav class="menu" aria-label="{attr(pages)}"><ul>{items}</ul></nav>'
    if ctx is not None:
        logout = form(ctx, "/desk/logout", button(_("Log out"), cls="quiet"), cls="inline")
        who = (f'<div class="who"><span class="account">{esc(ctx.who(ctx.account))}</span> '
               f'<span class="roles">{esc(role_names(ctx.caller.roles))}</span>{logout}</div>')
    skip, product = _("Skip to the page"), _("CCTV desk")
    return (f'<!doctype html><html lang="{html_lang}"><head><meta charset="utf-8">'
            f'<meta name="viewport" content="width=device-width, initial-scale=1">'
            f'<title>{esc(title)} · {esc(site)}</title><link rel="stylesheet" href="/static/desk.css"></head>'
            f'<body><a class="skip" href="#main">{esc(skip)}</a>'
            f'<header class="top"><div class="site"><span class="site-name">{esc(site)}</span>'
            f'<span class="product">{esc(product)}</span></div>{who}{_lang_switch(lang, path)}</header>'
            f'{links}<main id="main"><h1>{esc(title)}</h1>{body}</main></body></html>')


def prefill(query: Any) -> dict[str, Any]:
    """A desk form's fields from a range picked on the timeline (camera, from, to in the query)."""
    out: dict[str, Any] = {k: query[k] for k in ("from", "to") if query.get(k)}
    if query.get("camera"):
        out["cameras"] = query.getall("camera")
    return out
