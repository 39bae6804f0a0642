"""Printable documents in the site's language (design/0048): the public notice, the camera
inventory, the monthly inspection register, the retrieval application and its approval record.
Each is one self-contained HTML page laid out for A4, filled from the daemon's answers; each
names in its footer the paper form it replaces and the site's own rule and clause ([forms],
design/0081), never a file number of ours. Pure functions: data in,
HTML out; the caller (edgectl) writes the file."""

from __future__ import annotations

import html
from dataclasses import dataclass, field
from datetime import tzinfo
from typing import Any, Iterable, Sequence

from edged.config.forms import NO_FORMS, Forms
from edged.i18n import _, fmt_date, fmt_datetime, local, normalise
from edged.rules.persons import Names, people, person

# A Traditional Chinese font first (Debian's fonts-noto-cjk gives "Noto Sans CJK TC"); the
# browser that prints the page falls back to any sans-serif font it has.
FONTS = '"Noto Sans CJK TC", "Noto Sans TC", "Microsoft JhengHei", "PingFang TC", sans-serif'
CSS = """@page { size: A4; margin: 14mm 12mm; }
body { font-family: %s; font-size: 11pt; margin: 1.5em; color: #000; }
h1 { font-size: 18pt; text-align: center; margin: .2em 0 .6em; }
h2 { font-size: 13pt; margin: 1.2em 0 .3em; }
table { border-collapse: collapse; width: 100%%; margin: .4em 0 1em; }
th, td { border: 1px solid #333; padding: 4px 6px; text-align: left; vertical-align: top; }
th { background: #eee; white-space: nowrap; }
.fail { font-weight: bold; }
.box { display: inline-block; margin-right: 1.2em; }
.sign td { height: 3.2em; }
.annex th { width: 8em; white-space: normal; } .annex td { height: 1.8em; white-space: pre-line; }
.annex.w9 th { width: 9.5em; } .annex.w10 th { width: 10.5em; }
h1.t17 { font-size: 17pt; } h1.t16 { font-size: 16pt; } h1.t15 { font-size: 15pt; } h1.t14 { font-size: 14pt; }
h1.t13 { font-size: 13pt; } h1.t12 { font-size: 12pt; }
.boxes th { text-align: center; } .boxes td { height: 5em; } .boxes .line { display: block; margin-bottom: 1.4em; }
.notes { font-size: 9.5pt; white-space: pre-line; }
.meta { margin: .3em 0; }
footer { margin-top: 2em; font-size: 9pt; color: #333; border-top: 1px solid #999; padding-top: .4em; }
.register { font-size: 9.5pt; } .register th, .register td { padding: 3px 4px; }
.poster h1 { font-size: 30pt; } .poster .lead { font-size: 15pt; text-align: center; margin: .5em 0 1em; }
@media print { body { margin: 0; } }""" % FONTS


@dataclass(frozen=True, slots=True)
class Doc:
    """What every document is rendered with: the language, the site's time zone and name."""

    lang: str
    tz: tzinfo | None  # None: the box's local zone
    site_name: str
    forms: Forms = NO_FORMS  # [forms]: the site's rule, its forms and its words (design/0081)
    names: Names = field(default_factory=dict)  # the people by their names and titles (design/0112)

    def who(self, account: str | None) -> str:
        """A person on the paper: title and full name (edged/rules/persons.py), never a login name."""
        return person(self.names, account)

    def whom(self, accounts: Iterable[str]) -> str:
        return people(self.names, accounts)

    def date(self, us: int | None, long: bool = False) -> str:
        return fmt_date(us, self.lang, self.tz, long)

    def datetime(self, us: int | None) -> str:
        return fmt_datetime(us, self.lang, self.tz)

    def time(self, us: int | None) -> str:
        return "-" if us is None else local(us, self.tz).strftime("%H:%M")


class Raw(str):
    """A cell already in HTML (`code`): `esc` leaves it as it is."""


def code(value: Any) -> Raw:
    """Data to compare or copy, not words to read (a hash, a path): printed as such, never translated."""
    return Raw(f'<code translate="no">{html.escape(str(value))}</code>')


def esc(value: Any) -> str:
    if isinstance(value, Raw):
        return str(value)
    return html.escape("-" if value is None or value == "" else str(value))


def html_lang(lang: str) -> str:
    return "zh-Hant-TW" if normalise(lang) == "zh-TW" else "en"


def page(doc: Doc, title: str, body: str, replaces: str, printed_us: int, css_class: str = "",
         cite: str = "", clause: str = "") -> str:
    """The whole page: the body, then a footer naming the office's form it is, the site's
    rule and clause ([forms] cite.<cite>, or `clause`), and when it was printed. Call it with
    the document's language current (i18n.set_language)."""
    rule = doc.forms.citation(cite, clause) if cite else ""
    text = (_("Form: {form} ({rule})").format(form=replaces, rule=rule) if rule
            else _("Form: {form}").format(form=replaces))   # the office's paper: no product name (issue 42)
    footer = tag("footer", text, "<br>" + esc(_("Printed on {time}").format(time=doc.datetime(printed_us))))
    return wrap(doc, title, body + footer, css_class)


def wrap(doc: Doc, title: str, body: str, css_class: str = "") -> str:
    """The HTML page around a body (which carries its own footer)."""
    return (f'<!doctype html><html lang="{html_lang(doc.lang)}"><head><meta charset="utf-8">'
            f"<title>{esc(title)}</title><style>{CSS}</style></head>"
            f'<body class="{css_class}">{body}</body></html>\n')


def tag(name: str, text: str, raw: str = "", attrs: str = "") -> str:
    """<name attrs>text (escaped) raw (already HTML)</name>."""
    return f"<{name}{' ' + attrs if attrs else ''}>{html.escape(text)}{raw}</{name}>"


def table(headers: Sequence[str], rows: Iterable[Sequence[Any]], classes: Sequence[str] = ()) -> str:
    """An HTML table; cells are escaped (a name may hold anything)."""
    head = "".join(f"<th>{esc(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{esc(c)}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


def checkbox(checked: bool, label: str) -> str:
    return f'<span class="box">{"☑" if checked else "☐"} {esc(label)}</span>'
