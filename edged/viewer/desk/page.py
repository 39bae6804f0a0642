"""The desk's page frame and HTML builders (design/0073). Plain functions: data in, HTML out.
Every value is escaped here; every text is the caller's, already translated."""

from __future__ import annotations

import base64
import hashlib
import html
import json
from dataclasses import dataclass, field
from datetime import date as Date, tzinfo
from typing import Any, Iterable, Sequence

from edged.documents import CSS
from edged.i18n import N_, _, calendar, fmt_date, fmt_datetime, local, speaking
from edged.rules import roles
from edged.rules.persons import Names, people, person
from edged.rules.words import ROLE_WORDS
from storage.time import rocdate

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
SECONDS_UNDER_US = 5 * 60_000_000   # a time range shorter than this is shown to the second, with its length
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
    kept: str = ""   # the line over a form desk.js fills in again after a login (design/0113)

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

    def span(self, from_us: int, to_us: int) -> str:
        """A time range as a request asks it: to the minute, or to the second where it is shorter
        than SECONDS_UNDER or either end falls within a minute (a 40 s range read "14:05 ～ 14:05"),
        then its length."""
        short = 0 <= to_us - from_us < SECONDS_UNDER_US
        exact = short or bool(from_us % 60_000_000 or to_us % 60_000_000)
        both = f"{fmt_datetime(from_us, self.lang, self.tz, exact)} ～ {fmt_datetime(to_us, self.lang, self.tz, exact)}"
        if not short:
            return both
        s = round((to_us - from_us) / 1e6)
        length = _("{n} s").format(n=s) if s < 60 else _("{m} min {s} s").format(m=s // 60, s=s % 60)
        return _("{range} ({length})").format(range=both, length=length)

    @property
    def calendar(self) -> str:
        """The calendar the person types and reads dates in (the ROC's in zh-TW, design/0113)."""
        return calendar(self.lang)

    def input_time(self, us: int | None) -> str:
        """A moment as a date field shows it, in the site's zone and calendar (115/11/24 14:30)."""
        return "" if us is None else rocdate.datetime_text(local(us, self.tz), self.calendar)

    def parse_time(self, text: str) -> int | None:
        """A moment as typed (115/11/24 14:30 or 2026-11-24 14:30), in the site's zone; None if it is not one."""
        t = rocdate.parse_datetime(text)
        if t is None:
            return None
        aware = t.replace(tzinfo=self.tz) if self.tz else t.astimezone()
        return int(aware.timestamp() * 1_000_000)

    def input_date(self, d: Date) -> str:
        return rocdate.date_text(d, self.calendar)

    def input_month(self, year: int, month: int) -> str:
        return rocdate.month_text(year, month, self.calendar)


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


# what a date field asks for, as an example in each calendar (design/0113)
DATE_EXAMPLES = {(rocdate.ROC, True): "115/11/24 14:30", (rocdate.ROC, False): "115/11/24",
                 (rocdate.GREGORIAN, True): "2026-11-24 14:30", (rocdate.GREGORIAN, False): "2026-11-24"}


def date_input(ctx: Ctx, name: str, value: str = "", *, time: bool = True, required: bool = False,
               extra: str = "") -> str:
    """A date (and time) field in the site's calendar: typed (115/11/24 14:30, or Gregorian) or
    picked from the desk's calendar (static/desk.js reads data-calendar), never a browser's
    datetime-local, which shows only the Gregorian calendar."""
    example = DATE_EXAMPLES[(ctx.calendar, time)]
    return text_input(name, value, required=required, extra=(
        f'data-calendar="{ctx.calendar}" data-time="{int(time)}" placeholder="{attr(example)}" '
        f'autocomplete="off" {extra}').strip())


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


def radios(name: str, options: Sequence[tuple[str, str]], chosen: str, legend: str, hint: str = "") -> str:
    """A choice of one; its `hint` inside the same box, under the choices (not in the next cell)."""
    boxes = "".join(f'<label class="check"><input type="radio" name="{name}" value="{attr(v)}"'
                    f'{" checked" if v == chosen else ""}> {esc(t)}</label>' for v, t in options)
    note = f'<span class="hint">{esc(hint)}</span>' if hint else ""
    return f'<fieldset class="field"><legend class="label">{esc(legend)}</legend>{boxes}{note}</fieldset>'


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
    kept = ""   # shown by static/desk.js only once it filled a form in again (design/0113)
    if ctx is not None and ctx.kept:
        kept = f'<p class="notice notice-error" role="alert" id="kept-note" hidden>{esc(ctx.kept)}</p>'
    account = f' data-account="{attr(ctx.account)}"' if ctx is not None else ""
    return (f'<!doctype html><html lang="{html_lang}"><head><meta charset="utf-8">'
            f'<meta name="viewport" content="width=device-width, initial-scale=1">'
            f'<title>{esc(title)} · {esc(site)}</title><link rel="stylesheet" href="/static/desk.css">'
            f'<script src="/static/desk.js" defer></script></head>'
            f'<body{account} data-picker="{attr(picker_words(lang))}"><a class="skip" href="#main">{esc(skip)}</a>'
            f'<header class="top"><div class="site"><span class="site-name">{esc(site)}</span>'
            f'<span class="product">{esc(product)}</span></div>{who}{_lang_switch(lang, path)}</header>'
            f'{links}<main id="main"><h1>{esc(title)}</h1>{kept}{body}</main></body></html>')


def picker_words(lang: str) -> str:
    """The date picker's words (static/desk.js), as JSON in the page: the desk has no inline script."""
    with speaking(lang):
        return json.dumps({"open": _("Calendar"), "prev": _("Previous"), "next": _("Next"),
                           "today": _("Today"), "close": _("Close"), "time": _("Time")}, ensure_ascii=False)


def prefill(query: Any) -> dict[str, Any]:
    """A desk form's fields from a range picked on the timeline (camera, from, to in the query)."""
    out: dict[str, Any] = {k: query[k] for k in ("from", "to") if query.get(k)}
    if query.get("camera"):
        out["cameras"] = query.getall("camera")
    return out
