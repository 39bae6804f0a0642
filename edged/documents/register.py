"""The monthly inspection register (R3.1-R3.2, docs/requirements.md): every inspection of the
month, one row per camera, each item normal or abnormal, the handling, the inspector's and the
supervisor's signatures, due to the supervisor by the 5th of the next month. Runs are the
daemon's `inspect.list` answer."""

from __future__ import annotations

from typing import Any

from edged.documents import Doc, esc, page, tag
from edged.i18n import N_, _, fmt_month, has_foreign, render
from edged.rules.words import phrases

ITEM_LABELS = {  # the items of edged/rules/inspections.py, as the register names them
    "host": N_("Recorder host running"), "picture": N_("Picture clear"), "audio": N_("Sound"), "recording": N_("Recording runs"),
    "login": N_("Operators' login"), "camera_login": N_("Camera login"), "clock": N_("Time correct"),
    "quality": N_("Quality floor"),
}
RESULT = {True: N_("normal"), False: N_("ABNORMAL"), None: N_("n/a")}
REPAIR = {1: N_("yes"), 0: N_("no"), None: N_("not answered")}  # the inspector's 是否報修 (design/0082)
RUN_LABELS = {"scheduled": N_("scheduled"), "manual": N_("manual")}  # an inspection run's kind


def item_label(item: str) -> str:
    return _(ITEM_LABELS[item]) if item in ITEM_LABELS else item


def found(r: dict[str, Any]) -> tuple[str, bool]:
    """What one camera's inspection found, in the reader's words: each abnormal item by its
    register name with its findings, said from the templates the rules stored (design/0240); and
    whether some finding carries someone else's words (a camera's error), which the desk folds
    under them in English. A record from before design/0240 has no templates: its English."""
    said, foreign = [], False
    for name, v in r["items"].items():
        if v.get("ok") is not False:
            continue
        if not isinstance(v.get("said"), list):
            return r.get("anomalies") or "", bool(r.get("anomalies"))
        words = [render(str(v.get("detail") or ""), p, foreign=_("abnormal")) for p in v["said"]]
        foreign = foreign or any(has_foreign(p) for p in v["said"])
        said.append(_("{item}: {detail}").format(item=item_label(name), detail="、".join(words)))
    return "；".join(said), foreign


def result(ok: bool | None) -> str:
    return _(RESULT[ok])


def repair_answer(value: int | None) -> str:
    return _(REPAIR[value])


def _span(doc: Doc, run: dict[str, Any]) -> str:
    """001 附件1's 檢查時間 時分至時分: from the run to the inspector's signature (the same day)."""
    done = run["signed_us"] if run["signed_us"] and doc.date(run["signed_us"]) == doc.date(run["ran_us"]) else None
    return doc.time(run["ran_us"]) if done is None else _("{start} to {end}").format(
        start=doc.time(run["ran_us"]), end=doc.time(done))


def _head(doc: Doc, title: str, month_text: str, runs: int, due_us: int | None) -> str:
    """The register's title, its site and month, how many inspections, and when it is due: only
    where the site sets a day (`register_due_day`; 0: its rule sets none, and the paper says none,
    issue 91 W11, design/0393)."""
    said = _("{n} inspections.").format(n=runs)
    if due_us:   # the sentences joined as the language writes them (no space after 「。」)
        said = _("{inspections} {due}").format(inspections=said, due=_("Due to the supervisor by {date}.").format(
            date=doc.date(due_us - 1)))
    return (f"<h1>{esc(title)}</h1><p class=\"meta\">{esc(doc.site_name)}　{esc(month_text)}　"
            + esc(said) + "</p>")


def register_html(doc: Doc, year: int, month: int, runs: list[dict[str, Any]], items: tuple[str, ...],
                  names: dict[str, str], printed_us: int, due_us: int | None = None,
                  register: dict[str, Any] | None = None, unit: str | None = None) -> str:
    """`names`: camera id -> name (the register shows the name a person knows, with the id);
    `due_us`: when it is due to the supervisor ([inspection] register_due_day), None: not tracked;
    `register`: the site's register (inspect.list's `register`, design/0082): its title, the
    repair question, and countersignatures per managing unit; `unit`: that managing unit's pages
    alone, its cameras' rows and its chief's review box (004 附件四, one book per unit; design/0089)."""
    reg = register or {}
    if unit is not None:
        runs = [{**run, "records": [r for r in run["records"] if r.get("unit") == unit]} for run in runs]
        runs = [run for run in runs if run["records"]]
    if reg.get("columns"):   # the annex's own columns, in its order and words (issue 56)
        return annex_register(doc, year, month, runs, reg, names, printed_us, due_us, items, unit)
    per_unit, ask_repair = reg.get("countersign") == "unit", bool(reg.get("ask_repair"))
    month_text = fmt_month(year, month, doc.lang)
    title = reg.get("title") or _("CCTV inspection register")
    if unit is not None:
        title = _("{title}: {unit}").format(title=title, unit=unit)
    head = _head(doc, title, month_text, len(runs), due_us)
    header = "".join(f"<th>{esc(h)}</th>" for h in (
        _("Date"), _("Time"), _("Camera"), *([_("Managing unit")] if per_unit else []),
        *(item_label(i) for i in items), _("Abnormal?"), _("Handling"),
        *([_("Repair requested?")] if ask_repair else []), _("Inspector"),
        _("Unit chief") if per_unit else _("Supervisor")))
    rows, units = [], []
    for run in runs:
        signer = f"{doc.who(run['inspector'])} {doc.datetime(run['signed_us'])}" if run["signed_us"] else _("UNSIGNED")
        boss = (f"{doc.who(run['supervisor'])} {doc.datetime(run['countersigned_us'])}" if run["countersigned_us"]
                else _("not countersigned"))
        for r in run["records"]:
            oks = [r["items"][i]["ok"] if i in r["items"] else None for i in items]
            cells = "".join(f"<td class=\"{'fail' if ok is False else ''}\">{esc(result(ok))}</td>" for ok in oks)
            bad = _("yes") if any(ok is False for ok in oks) else _("no")
            its_unit = r.get("unit") or ""
            if per_unit and its_unit not in units:
                units.append(its_unit)
            chief = (f"{doc.who(r['supervisor'])} {doc.datetime(r['countersigned_us'])}" if r.get("countersigned_us")
                     else _("not countersigned")) if per_unit else boss
            repair = f"<td>{esc(repair_answer(r.get('repair')))}</td>" if ask_repair else ""
            rows.append(f"<tr><td>{esc(doc.date(run['ran_us']))}</td><td>{esc(_span(doc, run))}"
                        f"</td><td>{esc(names.get(r['camera'], r['camera']))}</td>"
                        + (f"<td>{esc(its_unit or '-')}</td>" if per_unit else "")
                        + f"{cells}<td>{esc(bad)}</td>"
                        f"<td>{esc(r['handling'] or found(r)[0])}</td>{repair}<td>{esc(signer)}</td>"
                        f"<td>{esc(chief)}</td></tr>")
    if not rows:
        width = len(items) + 7 + per_unit + ask_repair
        rows.append(tag("tr", "", tag("td", _("No inspections this month."), attrs=f'colspan="{width}"')))
    if unit is not None and per_unit:
        units = [unit]   # a unit with no inspection this month still has its chief's box
    reviewers = [_("Reviewed by the chief of {unit}").format(unit=u) for u in units if u] if per_unit else []
    sign = tag("table", "", "".join(
        tag("tr", "", tag("th", who) + "<td></td>" + tag("th", _("Date")) + "<td></td>")
        for who in reviewers or [_("Reviewed by the supervisor")]), attrs='class="sign"')
    body = head + f"<table><tr>{header}</tr>{''.join(rows)}</table>" + sign
    return page(doc, f"{title} {month_text}", body,   # the footer names the site's own form where it has one
                reg.get("title") or _("the inspection record"), printed_us, "register", cite="register")


COLUMN_WORDS = {"date": N_("Date"), "time": N_("Time"), "camera": N_("Camera"), "unit": N_("Managing unit"),
                "item": N_("Check"), "result": N_("Result"), "abnormal": N_("Abnormal?"), "handling": N_("Handling"),
                "remarks": N_("Remarks"), "repair": N_("Repair requested?"), "inspector": N_("Inspector"),
                "supervisor": N_("Supervisor")}
# the columns of an inspection as a whole: in a block of one row per check (001 附件1), written once
# across the block's rows
RUN_WIDE = ("date", "time", "inspector", "supervisor")


def _bad(r: dict[str, Any], item: str | None = None) -> bool:
    return any(v["ok"] is False for i, v in r["items"].items() if item is None or i == item)


def _remarks(recs: list[dict[str, Any]], names: dict[str, str], item: str | None = None) -> str:
    """Each camera abnormal (on `item`, or on any check) or with a handling written, by its name, with
    its handling and, where the inspector answered it, whether repair was requested (004 附件四 備考)."""
    said = []
    for r in recs:
        if not (_bad(r, item) or (item is None and r["handling"])):
            continue
        what = r["handling"] or found(r)[0] or _(RESULT[False])
        text = _("{camera}: {what}").format(camera=names.get(r["camera"], r["camera"]), what=what)
        if r.get("repair") is not None:
            text = _("{text} (repair requested: {answer})").format(text=text, answer=repair_answer(r["repair"]))
        said.append(text)
    return phrases(said)


def _merged(recs: list[dict[str, Any]], names: dict[str, str], who: dict[str, Any]) -> dict[str, Any]:
    """Cameras' records as one row (000 附件1, a unit's row of 004 附件四): each check abnormal if any
    camera's was, the handling of each abnormal camera by its name; `who`: the countersignature."""
    items: dict[str, dict[str, Any]] = {}
    for r in recs:
        for item, v in r["items"].items():
            ok = items.get(item, {}).get("ok")
            items[item] = {"ok": v["ok"] if ok is None else (ok and v["ok"] is not False)}
    said = [_("{camera}: {what}").format(camera=names.get(r["camera"], r["camera"]),
                                         what=r["handling"] or found(r)[0])
            for r in recs if r["handling"] or _bad(r)]
    repair = max((r["repair"] for r in recs if r.get("repair") is not None), default=None)
    return {"camera": None, "items": items, "handling": phrases(said), "anomalies": "", "repair": repair,
            "unit": recs[0].get("unit") if recs else None, "remarks": _remarks(recs, names),
            "supervisor": who["supervisor"], "countersigned_us": who["countersigned_us"]}


def _block(run: dict[str, Any], kinds: set[str], items: tuple[str, ...], per_unit: bool,
           names: dict[str, str]) -> list[dict[str, Any]]:
    """An inspection's rows: one per camera, one per check (with an item column), one per managing
    unit (where each unit's chief countersigns), or one."""
    recs = run["records"]
    if "camera" in kinds:
        return [r if r.get("countersigned_us") else {**r, "supervisor": run["supervisor"],
                                                    "countersigned_us": run["countersigned_us"]}
                for r in recs]
    if "item" in kinds:
        whole = _merged(recs, names, run)
        return [{**whole, "item": i, "items": {i: whole["items"].get(i, {"ok": None})},
                 "remarks": _remarks(recs, names, i), "handling": _remarks(recs, names, i)} for i in items]
    if per_unit:
        units = list(dict.fromkeys(r.get("unit") or "" for r in recs))
        books = [[r for r in recs if (r.get("unit") or "") == u] for u in units]
        return [_merged(b, names, next((r for r in b if r.get("countersigned_us")), {
            "supervisor": None, "countersigned_us": None})) for b in books]
    return [_merged(recs, names, run)]


def _cell(doc: Doc, col: str, run: dict[str, Any], r: dict[str, Any], names: dict[str, str],
          labels: dict[str, str]) -> tuple[str, bool]:
    """One cell's text, and whether it marks a failure."""
    if col in ITEM_LABELS:
        ok = r["items"][col]["ok"] if col in r["items"] else None
        return result(ok), ok is False
    bad = _bad(r)
    signed = run["signed_us"]
    item = r.get("item")
    texts: dict[str, str] = {
        "date": doc.date(run["ran_us"]), "time": _span(doc, run),
        "camera": names.get(r["camera"], r["camera"]) if r["camera"] else "-", "unit": r.get("unit") or "-",
        "item": (labels.get(item) or item_label(item)) if item else "-",
        "result": result(False if bad else (True if any(v["ok"] for v in r["items"].values()) else None)),
        "abnormal": _("yes") if bad else _("no"),
        "handling": r["handling"] or found(r)[0] or "-",
        "remarks": r["remarks"] if "remarks" in r else _remarks([r], names),
        "repair": repair_answer(r.get("repair")),
        "inspector": f"{doc.who(run['inspector'])} {doc.datetime(signed)}" if signed else _("UNSIGNED"),
        "supervisor": (f"{doc.who(r['supervisor'])} {doc.datetime(r['countersigned_us'])}"
                       if r.get("countersigned_us") else _("not countersigned")),
    }
    return texts[col], col in ("abnormal", "result") and bad


def _table(doc: Doc, runs: list[dict[str, Any]], reg: dict[str, Any], columns: list[tuple[str, str]],
           items: tuple[str, ...], names: dict[str, str]) -> str:
    kinds = {c for c, _label in columns}
    labels = {str(k): str(v) for k, v in (reg.get("item_labels") or {}).items()}
    heads = [label or (item_label(c) if c in ITEM_LABELS else _(COLUMN_WORDS[c])) for c, label in columns]
    rows = ["<tr>" + "".join(f"<th>{esc(h)}</th>" for h in heads) + "</tr>"]
    for run in runs:
        block = _block(run, kinds, items, reg.get("countersign") == "unit", names)
        span = len(block) if "item" in kinds else 1
        for n, r in enumerate(block):
            cells = []
            for c, _label in columns:
                if span > 1 and c in RUN_WIDE:
                    if n:
                        continue   # written once, across the inspection's rows
                    attrs = f' rowspan="{span}"'
                else:
                    attrs = ""
                text, bad = _cell(doc, c, run, r, names, labels)
                cells.append(f"<td class=\"{'fail' if bad else ''}\"{attrs}>{esc(text)}</td>")
            rows.append("<tr>" + "".join(cells) + "</tr>")
    if len(rows) == 1:
        rows.append(tag("tr", "", tag("td", _("No inspections this month."), attrs=f'colspan="{len(columns)}"')))
    return f"<table>{''.join(rows)}</table>"


def annex_register(doc: Doc, year: int, month: int, runs: list[dict[str, Any]], reg: dict[str, Any],
                   names: dict[str, str], printed_us: int, due_us: int | None, items: tuple[str, ...] = (),
                   unit: str | None = None) -> str:
    """The register in the columns the site's annex prints ([inspection] register_columns), each
    headed by the annex's words: one row per camera, per check (the inspection's own columns
    spanning its rows), or per inspection; where each managing unit's chief countersigns, one book
    per unit, each headed by its unit (004 附件四; design/0191, design/0261)."""
    columns = [(str(c[0]), str(c[1] or "")) for c in reg["columns"]]
    items = tuple(reg.get("items") or items)
    month_text = fmt_month(year, month, doc.lang)
    title = reg.get("title") or _("CCTV inspection register")
    if unit is not None:
        title = _("{title}: {unit}").format(title=title, unit=unit)
    head = _head(doc, title, month_text, len(runs), due_us)
    if reg.get("countersign") != "unit" or unit is not None or any(c == "camera" for c, _label in columns):
        body = _table(doc, runs, reg, columns, items, names)
    else:   # one book per managing unit, a unit with no inspection this month included
        units = list(dict.fromkeys([*(reg.get("units") or {}).values(),
                                    *(r.get("unit") or "" for run in runs for r in run["records"])]))
        books = [(u, [{**run, "records": [r for r in run["records"] if (r.get("unit") or "") == u]}
                      for run in runs]) for u in units]
        body = "".join(tag("h2", u or _("No managing unit")) + _table(
            doc, [run for run in book if run["records"]], reg, columns, items, names) for u, book in books)
    return page(doc, f"{title} {month_text}", head + body, reg.get("title") or _("the inspection record"), printed_us,
                "register", cite="register")
