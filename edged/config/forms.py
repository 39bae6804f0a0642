"""The [forms] table: the site's own paper, as edged prints it (design/0081; issue 31 items 3-4).

Each site has its own rule (a title such as 臺北市建成地政事務所錄影監視系統管理暨影音資料處理利用
規範) and its own application forms (the annexes): a title, fields in the paper's order, signature
boxes and reason categories in the site's words. Every printed page cites the site's rule and
clause in its footer, never a file number of ours.

    [forms]
    rule = "臺北市文山區戶政事務所錄影監視系統管理作業規定"   # the site's rule, cited in every footer
    [forms.cite]                     # the clause each document implements (notice, inventory,
    register = "附件1"               # register, audit, application)
    [forms.categories]               # each reason category as the site's forms print it
    lost-property = "財物遺失"
    [forms.kinds]                    # each request kind in the site's words
    internal = "本所同仁"
    [forms.modes]                    # the modes in the site's words, where its rule has its own
    copy = "保存"                    # (003 第二點(三): 保存 is copying): paper, desk and refusals
    [forms.fees]                     # the kinds that pay for a copy, the fee on the receipt
    citizen = 0                      # (0: a blank amount, written by hand; design/0089)

    [[forms.application]]            # one per paper form, for the request kinds it serves
    kinds = ["internal"]
    title = "...調閱影音資料申請表（內部）"
    cite = "附件2"
    fields = [{ label = "申請日期", value = "filed" },          # filled from the request
              { label = "調閱監視器主機", choices = ["所本部", "景美辦事處"] },  # ticked by hand
              { label = "受文機關", text = "臺北市建成地政事務所" },            # printed as written
              { label = "須保存影像檔案事由" },                                 # a blank, by hand
              { label = "辦理情形", value = "record", below = true }]        # under the boxes
    boxes = [{ label = "申請課室", steps = ["申請課室"], lines = ["申請人：{requester}", "課長："] },
             { label = "申請人簽名" }]                    # no steps: signed on the paper
    # a box's sign-offs print on its last line (課長：主任 黃志明 …); a line's {value} is filled
    # from the request as a field's is (design/0448)
    notes = ["申請須知：..."]

    [forms.account]                  # also [forms.hold], [forms.maintenance] (design/0088): the
    title = "...權限使用者申請表"     # pages of what the daemon keeps; a field's or box's `value`
    fields = [{ label = "申請種類", value = "action" }]       # from PAGE_VALUES, boxes without steps
    boxes = [{ label = "管理單位", value = "by" }]

A request whose kind has no form of its own prints edged's generic form, limited to the kinds
and categories the site takes. A site without [forms] prints the generic form for every kind.
Pure data and its checks; each error names the field (`forms.application[1].fields[3].value`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Mapping, Sequence

from edged.config.values import ConfigError, _bool, _check_keys, _describe, _join, _string

# the printed pages of issue 31 item 9 (design/0088): the account application, the evidence-
# preservation request and the maintenance record, each an optional [forms.<page>] table
PAGES = ("account", "hold", "maintenance")
DOCUMENTS = ("notice", "inventory", "register", "audit", "application", *PAGES,
             "reply", "usage", "receipt")   # design/0089: the answer to a citizen, the usage register, the receipt
# what a field may be filled with from the request (edged/documents/retrieval.py prints each)
VALUES = ("filed", "number", "requester", "org", "contact", "id_number", "letter", "kind", "category", "reason",
          "purpose",
          "cameras", "time_range", "mode", "due", "filed_by", "viewer", "record")
_FIELD_KEYS = ("label", "value", "choices", "text", "below")
_BOX_KEYS = ("label", "steps", "lines", "choices", "ticked")
_PAGE_BOX_KEYS = ("label", "value", "lines", "choices", "ticked")   # a page's box: no chain steps
_PAGE_KEYS = ("title", "cite", "fields", "boxes", "notes")
# what each page's field or box may be filled with, from what the daemon keeps (edged/documents/pages.py)
PAGE_VALUES = {
    "account": ("action", "at", "name", "full_name", "roles", "cameras", "reason", "by", "opened"),
    "hold": ("placed", "placed_by", "kind", "cameras", "time_range", "reason", "case", "approver", "expires",
             "review", "state", "footage", "extended"),
    "maintenance": ("began", "ended", "began_by", "attended_by", "ended_by", "vendor", "reason", "note", "storage",
                    "catalog", "password", "protected", "destroyed"),
}
_FORM_KEYS = ("kinds", "title", "cite", "fields", "boxes", "notes")
MODES = ("view", "copy")   # a request's modes (edged/rules/retrieval.py), [forms.modes]' keys


@dataclass(frozen=True, slots=True)
class FormField:
    """One row of the paper: filled from the request (`value`), boxes ticked by hand (`choices`),
    text printed as the paper prints it (`text`), or else a blank written by hand."""

    label: str
    value: str | None = None
    choices: tuple[str, ...] = ()
    text: str = ""
    below: bool = False   # printed below the signature boxes (001 annex 3: 辦理情形)


@dataclass(frozen=True, slots=True)
class SignBox:
    """A signature box: the chain steps whose sign-offs it shows (none: signed on the paper),
    the lines printed in it (申請人：, 課長：) and boxes to tick (□影像調閱 □影像保存)."""

    label: str
    steps: tuple[str, ...] = ()
    lines: tuple[str, ...] = ()
    choices: tuple[str, ...] = ()
    value: str | None = None  # a page's box: who the daemon has on record for it (PAGE_VALUES)
    ticked: tuple[str, ...] = ()  # the choices a request always ticks (004 附件二: □影像調閱 on a viewing)


@dataclass(frozen=True, slots=True)
class ApplicationForm:
    kinds: tuple[str, ...]
    title: str
    cite: str = ""
    fields: tuple[FormField, ...] = ()
    boxes: tuple[SignBox, ...] = ()
    notes: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class PageForm:
    """A page of [forms.<page>] (design/0088): the paper's title and clause, its fields in order
    (a `value` from PAGE_VALUES, `choices`, `text` or a blank), its signature boxes, its notes.
    Empty fields or boxes: edged's own for that page."""

    title: str = ""
    cite: str = ""
    fields: tuple[FormField, ...] = ()
    boxes: tuple[SignBox, ...] = ()
    notes: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Forms:
    rule: str = ""                                   # the site's own rule's title
    cite: Mapping[str, str] = field(default_factory=dict)        # document -> clause
    applications: tuple[ApplicationForm, ...] = ()
    categories: Mapping[str, str] = field(default_factory=dict)  # category id -> the site's words
    kinds: Mapping[str, str] = field(default_factory=dict)       # kind -> the site's words
    modes: Mapping[str, str] = field(default_factory=dict)       # view/copy -> the site's words (design/0447)
    site_kinds: tuple[str, ...] = ()         # the kinds the site takes ([policy] kinds; empty: any)
    site_categories: tuple[str, ...] = ()    # its reason categories ([policy] categories)
    raw: Mapping[str, Any] = field(default_factory=dict)         # the table as written (sent to edgectl)
    pages: Mapping[str, PageForm] = field(default_factory=dict)  # [forms.account|hold|maintenance]
    fees: Mapping[str, int] = field(default_factory=dict)        # kind -> the fee of a copy (0: written by hand)
    retention: str = ""   # the notice's retention in the rule's own words (「保存3個月以上，1年內銷毀」; issue 42)

    def page(self, name: str) -> PageForm:
        return self.pages.get(name) or PageForm()

    def form_for(self, kind: str) -> ApplicationForm | None:
        return next((f for f in self.applications if kind in f.kinds), None)

    def citation(self, document: str, clause: str = "") -> str:
        """The site's rule and the clause a document implements: "臺北市...規定 附件2", or ""."""
        clause = clause or self.cite.get(document, "")
        return " ".join(x for x in (self.rule, clause) if x)

    def to_json(self) -> dict[str, Any]:
        return {"table": dict(self.raw), "kinds": list(self.site_kinds), "categories": list(self.site_categories)}


NO_FORMS = Forms()


def forms_from_json(data: Any) -> Forms:
    """The daemon's [forms] as edgectl receives it (the `cameras` answer), read again (the
    daemon checked it against its policy); a daemon of another version: the generic form."""
    if not isinstance(data, dict):
        return NO_FORMS
    kinds, categories = tuple(data.get("kinds") or ()), tuple(data.get("categories") or ())
    try:
        return parse_forms(data.get("table") or {}, kinds, categories, builtin_categories=categories)
    except ConfigError:
        return NO_FORMS


def parse_forms(t: Any, kinds: Sequence[str], categories: Sequence[str],
                chains: Mapping[str, Sequence[str]] | None = None, builtin_categories: Sequence[str] = ()) -> Forms:
    """[forms], checked against the site's [policy]: `kinds` and `categories` it takes, `chains`
    (kind -> its steps' names; None: not checked), `builtin_categories` (edged prints these in
    the site's language itself)."""
    if not isinstance(t, dict):
        raise ConfigError("forms", f"expected a table ([forms] section), found {_describe(t)}")
    _check_keys(t, "forms", ("rule", "cite", "categories", "kinds", "modes", "application", *PAGES, "fees",
                                "retention"))
    rule = _string(t["rule"], "forms.rule").strip() if "rule" in t else ""
    retention = _string(t["retention"], "forms.retention").strip() if "retention" in t else ""
    cite = _names(t.get("cite", {}), "forms.cite", DOCUMENTS)
    labels = _names(t.get("categories", {}), "forms.categories", tuple(categories))
    kind_labels = _names(t.get("kinds", {}), "forms.kinds", tuple(kinds))
    mode_labels = _names(t.get("modes", {}), "forms.modes", MODES)
    raw_forms = t.get("application", [])
    if not isinstance(raw_forms, list):
        raise ConfigError("forms.application", "expected an array of tables ([[forms.application]] sections), "
                                               f"found {_describe(raw_forms)}")
    forms = tuple(_form(f, f"forms.application[{i}]", kinds, chains) for i, f in enumerate(raw_forms))
    seen: dict[str, int] = {}
    for i, form in enumerate(forms):
        for kind in form.kinds:
            if kind in seen:
                raise ConfigError(f"forms.application[{i}].kinds", f"{kind} requests already have a form "
                                                                   f"(forms.application[{seen[kind]}])")
            seen[kind] = i
    if t:  # a site that writes its forms prints every category in its own words, never an id
        for cat in categories:
            if cat not in labels and cat not in builtin_categories:
                raise ConfigError("forms.categories", f"the reason category {cat!r} has no words to print; "
                                                      f'add {cat} = "..." (as the site\'s form writes it)')
    pages = {name: _page(t[name], f"forms.{name}", PAGE_VALUES[name]) for name in PAGES if name in t}
    return Forms(rule=rule, cite=cite, applications=forms, categories=labels, kinds=kind_labels, modes=mode_labels,
                 site_kinds=tuple(kinds), site_categories=tuple(categories), raw=t, pages=pages,
                 fees=_fees(t.get("fees", {}), "forms.fees", tuple(kinds)), retention=retention)


def _fees(t: Any, path: str, kinds: tuple[str, ...]) -> dict[str, int]:
    """[forms.fees] (design/0089): the kinds whose requester pays for a copy (002 第八點(三)), each
    with its fee in the site's currency; 0 prints a blank amount to fill in by hand."""
    if not isinstance(t, dict):
        raise ConfigError(path, f"expected a table (a kind = its fee), found {_describe(t)}")
    _check_keys(t, path, kinds)
    out = {}
    for kind, value in t.items():
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise ConfigError(_join(path, kind), f"expected a fee, a whole number 0 or more (0: written by hand "
                                                 f"on the receipt), found {_describe(value)}")
        out[kind] = value
    return out


def _page(t: Any, path: str, values: tuple[str, ...]) -> PageForm:
    """[forms.account], [forms.hold] or [forms.maintenance]: every key optional."""
    if not isinstance(t, dict):
        raise ConfigError(path, f"expected a table ([{path}] section), found {_describe(t)}")
    _check_keys(t, path, _PAGE_KEYS)
    for key in ("fields", "boxes"):
        if not isinstance(t.get(key, []), list):
            raise ConfigError(_join(path, key), f"expected an array of tables, found {_describe(t[key])}")
    fields = tuple(_field(f, f"{path}.fields[{i}]", values) for i, f in enumerate(t.get("fields", [])))
    boxes = tuple(_box(b, f"{path}.boxes[{i}]", set(), values) for i, b in enumerate(t.get("boxes", [])))
    text = {k: _string(t[k], _join(path, k)).strip() if k in t else "" for k in ("title", "cite")}
    return PageForm(title=text["title"], cite=text["cite"], fields=fields, boxes=boxes, notes=_texts(t, "notes", path))


def _names(t: Any, path: str, known: tuple[str, ...]) -> dict[str, str]:
    """A table of known ids -> non-empty text."""
    if not isinstance(t, dict):
        raise ConfigError(path, f"expected a table (an id = \"text\"), found {_describe(t)}")
    _check_keys(t, path, known)
    out = {}
    for key, value in t.items():
        text = _string(value, _join(path, key)).strip()
        if not text:
            raise ConfigError(_join(path, key), "must not be empty")
        out[key] = text
    return out


def _texts(t: dict[str, Any], key: str, path: str) -> tuple[str, ...]:
    if key not in t:
        return ()
    value = t[key]
    if not isinstance(value, list):
        raise ConfigError(_join(path, key), f"expected an array of strings, found {_describe(value)}")
    return tuple(_string(v, f"{_join(path, key)}[{i}]") for i, v in enumerate(value))


def _form(t: Any, path: str, kinds: Sequence[str], chains: Mapping[str, Sequence[str]] | None) -> ApplicationForm:
    if not isinstance(t, dict):
        raise ConfigError(path, f"expected a table, found {_describe(t)}")
    _check_keys(t, path, _FORM_KEYS)
    for key in ("kinds", "title", "fields"):
        if key not in t:
            raise ConfigError(_join(path, key), "missing required key")
    form_kinds = _texts(t, "kinds", path)
    if not form_kinds:
        raise ConfigError(_join(path, "kinds"), "an empty list: name the request kinds this form serves")
    for kind in form_kinds:
        if kind not in kinds:
            raise ConfigError(_join(path, "kinds"), f"this site does not take {kind!r} requests "
                                                    f"(policy.kinds: {', '.join(kinds)})")
    title = _string(t["title"], _join(path, "title")).strip()
    if not title:
        raise ConfigError(_join(path, "title"), "must not be empty (the form's title, as the paper prints it)")
    if not isinstance(t["fields"], list) or not t["fields"]:
        raise ConfigError(_join(path, "fields"), "expected a non-empty array of fields, e.g. "
                                                 '[{ label = "申請日期", value = "filed" }]')
    fields = tuple(_field(f, f"{path}.fields[{i}]") for i, f in enumerate(t["fields"]))
    raw_boxes = t.get("boxes", [])
    if not isinstance(raw_boxes, list):
        raise ConfigError(_join(path, "boxes"), f"expected an array of signature boxes, found {_describe(raw_boxes)}")
    steps = None if chains is None else {s for k in form_kinds for s in chains.get(k, ())}
    boxes = tuple(_box(b, f"{path}.boxes[{i}]", steps) for i, b in enumerate(raw_boxes))
    cite = _string(t["cite"], _join(path, "cite")).strip() if "cite" in t else ""
    return ApplicationForm(kinds=form_kinds, title=title, cite=cite, fields=fields, boxes=boxes,
                           notes=_texts(t, "notes", path))


def _field(t: Any, path: str, values: tuple[str, ...] = VALUES) -> FormField:
    if not isinstance(t, dict):
        raise ConfigError(path, f'expected a table, e.g. {{ label = "申請日期", value = "filed" }}, found {_describe(t)}')
    _check_keys(t, path, _FIELD_KEYS)
    if "label" not in t:
        raise ConfigError(_join(path, "label"), "missing required key (the field's name on the paper)")
    label = _string(t["label"], _join(path, "label")).strip()
    if not label:
        raise ConfigError(_join(path, "label"), "must not be empty")
    value = _string(t["value"], _join(path, "value")) if "value" in t else None
    if value is not None and value not in values:
        what = "a request holds" if values is VALUES else "the daemon keeps for this page"
        raise ConfigError(_join(path, "value"), f"{value!r} is not something {what}; values are "
                                                + ", ".join(values))
    ways = sum(1 for k in ("value", "choices", "text") if k in t)
    if ways > 1:
        raise ConfigError(path, "a field is filled from the request (value), ticked by hand (choices) or "
                                "printed as written (text): one of them")
    return FormField(label=label, value=value, choices=_texts(t, "choices", path),
                     text=_string(t["text"], _join(path, "text")) if "text" in t else "",
                     below=_bool(t["below"], _join(path, "below")) if "below" in t else False)


def _box(t: Any, path: str, steps: set[str] | None, values: tuple[str, ...] = ()) -> SignBox:
    if not isinstance(t, dict):
        raise ConfigError(path, f'expected a table, e.g. {{ label = "主任", steps = ["主任"] }}, found {_describe(t)}')
    _check_keys(t, path, _PAGE_BOX_KEYS if values else _BOX_KEYS)
    if "label" not in t:
        raise ConfigError(_join(path, "label"), "missing required key (the box's heading on the paper)")
    label = _string(t["label"], _join(path, "label")).strip()
    names = _texts(t, "steps", path)
    for name in names:
        if steps is not None and name not in steps:
            raise ConfigError(_join(path, "steps"), f"no step {name!r} in the approval chain of this form's kinds "
                                                    f"(its steps: {', '.join(sorted(steps)) or 'none'})")
    value = _string(t["value"], _join(path, "value")) if "value" in t else None
    if value is not None and value not in values:
        raise ConfigError(_join(path, "value"), f"{value!r} is not someone the daemon keeps for this page; values "
                                                "are " + ", ".join(values))
    choices = _texts(t, "choices", path)
    ticked = _texts(t, "ticked", path)
    if set(ticked) - set(choices):
        raise ConfigError(_join(path, "ticked"), f"ticks only the box's own choices ({', '.join(choices) or 'none'})")
    return SignBox(label=label, steps=names, lines=_lines(t, path, () if values else VALUES), choices=choices,
                   value=value, ticked=ticked)


def _lines(t: dict[str, Any], path: str, values: tuple[str, ...]) -> tuple[str, ...]:
    """A box's printed lines; an application's may hold a {value} filled from the request (000 附件2:
    申請人：{requester}, design/0448), a page's print as written."""
    lines = _texts(t, "lines", path)
    for i, line in enumerate(lines):
        for name in re.findall(r"\{([^{}]*)\}", line):
            if name not in values:
                raise ConfigError(f"{_join(path, 'lines')}[{i}]", f"{{{name}}} is not filled from the request; "
                                  + ("values are " + ", ".join(values) if values else "a page's line prints as written"))
    return lines
