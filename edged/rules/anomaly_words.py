"""An inspection's anomalies in the reader's words (issue 42 item 3, design/0112). The runner keeps
each camera's anomalies as one English text (`rules.inspections.anomalies`: "item label: detail;
..."), as the log, MQTT and the stored register have them (design/0067); the desk and the printed
register say them in the reader's language. `words(text)` splits the text at its items, names
each item as the register does, and says each detail from the templates below; a detail no
template knows (a camera's own error) is left out of the words and said as the item being
abnormal, and `words` tells the caller, who folds the English under it as the technician's detail.
"""

from __future__ import annotations

import re

from edged.i18n import N_, _

# the items' labels as rules/inspections.py writes them into the text, -> the register's words
LABELS = {
    "recorder host running": N_("Recorder host running"), "picture present and clear": N_("Picture clear"),
    "sound": N_("Sound"), "recording runs": N_("Recording runs"),
    "operators' login (the last successful login of each role on the box)": N_("Operators' login"),
    "camera login works": N_("Camera login"), "time display correct": N_("Time correct"),
    "quality floor (720p, 10 fps, colour)": N_("Quality floor"),
}
# the details rules/inspections.py and rules/health.py write, as templates: {name} is a value
DETAILS = (
    N_("picture present and clear"), N_("no picture: camera not recording"),
    N_("no recent picture sample (image checks off or failing)"),
    N_("picture too dark or black (mean brightness {luma}/255)"), N_("picture overexposed ({share} of it white)"),
    N_("picture covered or featureless (contrast {contrast})"), N_("picture blurred (focus {focus} < {floor})"),
    N_("picture frozen ({share} of it changed between samples)"),
    N_("no colour in daylight hours (saturation {saturation})"),
    N_("picture differs from the reference (similarity {similarity}): moved, turned or replaced"),
    N_("not required for this camera"), N_("audio arriving"), N_("no audio from a camera marked audio_required"),
    N_("no audio arrives from a camera marked audio_required"), N_("segments being written"),
    N_("the camera accepts edged's login"), N_("meets the floor"), N_("camera clock not measured"),
    N_("camera clock within {s} s of the host"), N_("the recorder host runs and writes footage"),
    N_("no operator account on this box"), N_("not looked up"), N_("camera disabled"),
    N_("resolution {w}x{h} ({mp} MP) is below the floor {fw}x{fh} and {fmp} megapixel"),
    N_("resolution {w}x{h} ({mp} MP) is below the floor {fw}x{fh}"),
    N_("{fps} frames per second is below the floor of {floor}"),
)


def _pattern(template: str) -> re.Pattern[str]:
    parts = re.split(r"\{(\w+)\}", template)
    return re.compile("".join(re.escape(p) if i % 2 == 0 else f"(?P<{p}>[^;]+?)" for i, p in enumerate(parts)) + "$")


PATTERNS = tuple((_pattern(t), t) for t in DETAILS)


def detail_words(detail: str) -> str | None:
    """One detail in the reader's words, None where no template knows it."""
    for pattern, template in PATTERNS:
        m = pattern.match(detail.strip())
        if m:
            return _(template).format(**m.groupdict())
    return None


def words(text: str | None) -> tuple[str, bool]:
    """(the anomalies in the reader's words, whether some detail was not known: the caller shows
    the English text beside, as the technician's detail)."""
    if not text:
        return "", False
    items: list[tuple[str, list[str]]] = []
    for part in text.split("; "):
        label, sep, rest = part.partition(": ")
        if sep and label in LABELS:
            items.append((label, [rest]))
        elif items:
            items[-1][1].append(part)
        else:
            items.append(("", [part]))
    said, unknown = [], False
    for label, details in items:
        known = [detail_words(d) for d in details]
        unknown = unknown or None in known
        shown = [k for k in known if k] or [_("abnormal")]
        item = _(LABELS[label]) if label in LABELS else ""
        said.append(_("{item}: {detail}").format(item=item, detail="、".join(shown)) if item else "、".join(shown))
    return "；".join(said), unknown
