"""The dashboard's page frame (central/pages/dashboard.py, central/pages/month_page.py): headers, the HTML
shell, tables and escaped elements, shared without an import cycle."""

from __future__ import annotations

import html

from aiohttp import web

from central.i18n import Speaker

HEADERS = {
    "Content-Security-Policy": "default-src 'none'; style-src 'self'; img-src 'self'; frame-ancestors 'none'; "
                               "base-uri 'none'; form-action 'self'",
    "Cache-Control": "no-store",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",   # no-referrer makes a browser send `Origin: null` on our own forms
    "X-Frame-Options": "DENY",
}
REFRESH_S = 10
ROLE = web.RequestKey("role", str)
USER = web.RequestKey("user", str)
e = html.escape


def _page(sp: Speaker, title: str, body: list[str], *, status: int = 200, refresh: bool = True,
          request: web.Request | None = None) -> web.Response:
    text = page_top(sp, title, refresh=refresh, request=request) + "\n".join(body) + PAGE_END
    return web.Response(text=text, content_type="text/html", headers=HEADERS, status=status)


PAGE_END = "\n</body></html>\n"


def page_top(sp: Speaker, title: str, *, refresh: bool = True, request: web.Request | None = None) -> str:
    """A page up to its body's first element (a page streamed: this, its body, PAGE_END)."""
    meta = f"<meta http-equiv=\"refresh\" content=\"{REFRESH_S}\">" if refresh else ""
    who = ""
    if request is not None and request.get(USER):
        who = (f"<form class=\"who\" method=\"post\" action=\"/logout\">{e(request[USER])} ({e(sp.word(request[ROLE]))}) "
               + el("button", sp._("log out"), ' type="submit"') + "</form>")
    return (f"<!DOCTYPE html>\n<html lang=\"{sp.html_lang}\"><head><meta charset=\"utf-8\"><title>{e(title)}</title>"
            f"{meta}<link rel=\"stylesheet\" href=\"/central.css\">"
            f"</head><body data-page=\"{e(title)}\">\n{who}")


def _table(cols: list[str], rows: list[tuple[str, list[str]]]) -> str:
    head = "".join(f"<th>{e(c)}</th>" for c in cols)
    body = "".join(f"<tr class=\"{cls}\">" + "".join(f"<td>{v}</td>" for v in cells) + "</tr>" for cls, cells in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def el(tag: str, text: str, attrs: str = "") -> str:
    """An element holding escaped text: `el("h2", _("Sites"))` (no `_()` inside an f-string:
    Babel cannot see it there, design/0047)."""
    return f"<{tag}{attrs}>{e(text)}</{tag}>"
