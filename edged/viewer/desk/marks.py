"""The custodian's marks of a clip at the desk, as text (design/0279): pure, no request or page.

The page's script writes them as the custodian scrubs a clip and drags boxes on its picture, and a
custodian without the script types them; one line each, seconds of the clip and pixels of its
picture:
- the applicant's region: `2.35 640,120,200,480` (at 2.35 s the applicant is in this box; the copy
  follows them by the picture to the next mark, in a straight line where it loses them:
  design/0285), or `7.5 -` (out of the picture from 7.5 s);
- a box hidden (a face the detector missed, a stranger beside the applicant): `1.2-4 80,60,64,64`
  (filled on every frame from 1.2 s to 4 s).
`redact.run` takes them as `{"t": seconds, "box": box}` and `[from, to, box]` (edged/control/redact.py).
And back from the made copy: the moments where the applicant was not followed both ways, to
scrub first, as text (`check_spans`) and as marks on a bar under its player (`check_bar`, design/0290).
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from typing import Any

from edged.i18n import N_, _
from edged.viewer.desk.page import attr, esc, field_

_T = r"(\d{1,6}(?:\.\d{1,3})?)"
_BOX = r"(\d{1,5}),\s*(\d{1,5}),\s*(\d{1,5}),\s*(\d{1,5})"
MARK = re.compile(rf"^{_T}\s+(?:{_BOX}|(-))$")
HIDE = re.compile(rf"^{_T}\s*-\s*{_T}\s+{_BOX}$")


@dataclass(frozen=True)
class Read:
    """What a clip's two fields say: the marks and boxes for `redact.run`, or the first wrong line."""
    marks: list[dict[str, Any]]
    hide: list[list[Any]]
    error: str = ""


def _box(groups: tuple[str | None, ...]) -> list[int] | None:
    if groups[0] is None:
        return None
    box = [int(v or 0) for v in groups]
    return box if box[2] > 0 and box[3] > 0 else []


def read(marks_text: str, hide_text: str, need_mark: bool = True) -> Read:
    """The applicant's marks and the hidden boxes of one clip, from the desk's two fields. In
    "everything hidden" the applicant is marked at least once (`need_mark`); in "faces hidden" a
    mark only un-masks the applicant's face, and no mark hides every face."""
    marks: list[dict[str, Any]] = []
    hide: list[list[Any]] = []
    for n, line in enumerate(marks_text.splitlines(), 1):
        line = line.strip()
        if not line:
            continue
        m = MARK.match(line)
        box = _box(m.groups()[1:5]) if m else []
        if m is None or box == []:
            return Read([], [], _("line {n} of the applicant's marks is not \"SECONDS X,Y,WIDTH,HEIGHT\" or "
                                  "\"SECONDS -\": {line}").format(n=n, line=line))
        if any(k["t"] == float(m[1]) for k in marks):
            return Read([], [], _("two marks of the applicant at {t} s: keep one").format(t=m[1]))
        marks.append({"t": float(m[1]), "box": box})
    for n, line in enumerate(hide_text.splitlines(), 1):
        line = line.strip()
        if not line:
            continue
        h = HIDE.match(line)
        box = _box(h.groups()[2:6]) if h else []
        if h is None or not box:
            return Read([], [], _("line {n} of the hidden boxes is not \"FROM-TO X,Y,WIDTH,HEIGHT\" (seconds and "
                                  "pixels): {line}").format(n=n, line=line))
        hide.append([float(h[1]), float(h[2]), box])
    if need_mark and not any(m["box"] is not None for m in marks):
        return Read([], [], _("mark the applicant on every clip: drag a box on its picture"))
    return Read(sorted(marks, key=lambda m: float(m["t"])), hide)


def _num(t: float) -> str:
    return f"{t:.3f}".rstrip("0").rstrip(".")


def text_of(marks: list[Any], hide: list[Any]) -> tuple[str, str]:
    """The two fields' text for a copy asked before (the inverse of `read`): its marks made at the
    desk (by the second; a mark by frame, from edgectl, has no second to show and is left out)
    and its boxes hidden."""
    lines = [f"{_num(float(m['t']))} {'-' if m.get('box') is None else ','.join(str(int(v)) for v in m['box'])}"
             for m in marks if isinstance(m, dict)]
    spans = [f"{_num(float(a))}-{_num(float(b))} {','.join(str(int(v)) for v in box)}" for a, b, box in hide]
    return "\n".join(lines), "\n".join(spans)


def figure(i: int, src: str, mode: str, marks_text: str, hide_text: str) -> str:
    """Clip `i`'s picture to mark on: the original (`src`), a slider to scrub it frame by frame,
    the tool a drag uses (the applicant's region, or a box hidden), and the two fields the drags
    write (edged/viewer/static/desk.js), which the custodian may also type or correct."""
    tools = [("applicant", _("The applicant")), ("hide", _("Hide a box"))]
    radios = "".join(f'<label><input type="radio" name="tool-{i}" value="{v}" data-nokeep'
                     f'{" checked" if v == "applicant" else ""}> {esc(t)}</label>' for v, t in tools)
    scrub, unit = _("Scrub the clip"), _("seconds")
    who = (_("The applicant's region: one line a mark, seconds then x,y,width,height (or seconds then - when they "
             "leave the picture); the copy follows them by the picture between marks, in a straight line where it "
             "loses them")
           if mode == "everything" else
           _("The applicant's face left visible: one line a mark, seconds then x,y,width,height around them; "
             "every other face the detector finds is hidden"))
    hidden = _("Boxes hidden: one line a box, from-to seconds then x,y,width,height (a face the detector missed, a "
               "stranger beside the applicant)")
    required = " required" if mode == "everything" else ""
    return (f'<figure class="mark" data-marks="f-marks-{i}" data-hide="f-hide-{i}">'
            f'<video src="{attr(src)}" muted preload="auto"></video><div class="mark-box" hidden></div>'
            f'<figcaption><input type="range" class="scrub" min="0" max="0" step="0.05" value="0" '
            f'aria-label="{attr(scrub)}" data-nokeep><span><output class="at" translate="no">0.00</output> '
            f'{esc(unit)}</span>'
            f'<span class="tools">{radios}</span></figcaption></figure>'
            + field_(who, f'<textarea name="marks-{i}" id="f-marks-{i}" rows="3" translate="no"{required}>'
                          f'{html.escape(marks_text)}</textarea>', wide=True)
            + field_(hidden, f'<textarea name="hide-{i}" id="f-hide-{i}" rows="2" translate="no">'
                             f'{html.escape(hide_text)}</textarea>', wide=True))


def check_spans(spans: Any) -> str:
    """When the applicant was not followed both ways (design/0285): "1.25-3.40, 7.00-7.05 seconds"."""
    return ", ".join(f"{a:.2f}-{b:.2f}" for a, b in spans) + " " + _("seconds") if spans else _("none")


# why a frame is to check, as the copy's summary says it (storage/redact/job.py WHYS, design/0433), in words (design/0462)
WHY_WORDS = {
    "unsure": N_("the applicant's face is not followed here: a face filled near them may be theirs"),
    "over": N_("a stranger's mask touches the applicant's face: part of it may be filled"),
    "two": N_("two faces as far inside the applicant's mark: which is theirs is not known"),
    "detectors_disagree": N_("the detector's two passes disagree: a face may be missed"),
    "stranger_near": N_("a stranger is in or near the applicant's region"),
    "region_partly": N_("the applicant's region was followed one way only"),
    "region_line": N_("the applicant's region was lost: it follows the straight line between marks"),
    "region_unsure": N_("the applicant's region's two directions disagree: it covers both"),
}


def why_words(why: str) -> str:
    """A moment's why in the person's words (an unknown word, from a newer worker, as it is)."""
    words = WHY_WORDS.get(why)
    return _(words) if words else why


def reasons(clip: dict[str, Any]) -> list[tuple[float, float, str]]:
    """A made clip's moments to check with why each is, in words: (from, to, why); a copy made
    before design/0433 says no why: its moments with none."""
    why = clip.get("to_check_why")
    if why:
        return [(float(a), float(b), why_words(str(w))) for a, b, w in why]
    return [(float(a), float(b), "") for a, b in moments(clip)]


def check_list(clip: dict[str, Any]) -> str:
    """A made clip's moments to check as the desk's table lists them, escaped: each span and why,
    one a line (design/0462); a copy made before design/0433, its spans alone (`check_spans`)."""
    spans = reasons(clip)
    if not spans or not any(why for _a, _b, why in spans):
        return esc(check_spans(moments(clip)))
    return "<br>".join(esc(_said(a, b, why)) for a, b, why in spans)


def _said(a: float, b: float, why: str) -> str:
    """One moment to check: when, and why where it is known."""
    when = check_spans([[a, b]])
    return _("{when}: {why}").format(when=when, why=why) if why else when


def moments(clip: dict[str, Any]) -> list[Any]:
    """A made clip's moments to check (design/0326; a copy made before: the applicant's alone)."""
    got = clip.get("to_check")
    return list(got if got is not None else clip.get("applicant_check") or [])


def check_bar(clip: dict[str, Any]) -> str:
    """Under a copy's player, its moments to check (design/0285) as marks on a bar of the clip's
    length, each a button that takes the player there (desk.js places them once it knows the length),
    its title when and why (design/0462)."""
    spans = reasons(clip)
    if not spans:
        return ""
    marks = "".join(f'<button type="button" data-from="{attr(a)}" data-to="{attr(b)}" '
                    f'title="{attr(_said(a, b, why))}"></button>'
                    for a, b, why in spans)
    return f'<div class="checks" aria-label="{attr(_("Moments to check"))}">{marks}</div>'
