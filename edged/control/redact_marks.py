"""What a custodian marks and hides on a redacted copy's clips, read off the request (design/0279):
the applicant's box on the frames they mark (or at a second of the clip, as the desk sends it), and
boxes hidden from one second to another; a clip the export does not have, or a box that is not
four whole numbers, is refused with how to write it."""

from __future__ import annotations

from typing import Any

from edged.control.protocol import RequestError
from edged.i18n import _


def _box(b: Any) -> list[int]:
    box = [int(v) for v in b]
    if len(box) != 4 or box[2] <= 0 or box[3] <= 0:
        raise ValueError(b)
    return box


def _mark(m: Any) -> Any:
    """[frame, box or null], or the desk's {"t": seconds into the clip, "box": box or null}."""
    if isinstance(m, dict):
        t = float(m["t"])
        if not 0 <= t < 1e6:
            raise ValueError(t)
        return {"t": round(t, 3), "box": None if m.get("box") is None else _box(m["box"])}
    f, b = m
    return [int(f), None if b is None else _box(b)]


def marks_of(raw: Any, clips: list[str]) -> dict[str, list[Any]]:
    """{clip: [[frame, [x, y, w, h] or null], ...]}: the custodian's marks of the applicant, on as
    many frames as they mark (design/0279); a mark may name the second of the clip instead."""
    if not isinstance(raw, dict) or not raw:
        raise RequestError(_("a redacted copy needs the applicant's region marked on at least one frame of each "
                             "clip: {{\"marks\": {{CLIP: [[FRAME, [X, Y, W, H]], ...]}}}}"))
    out: dict[str, list[Any]] = {}
    for name, marks in raw.items():
        _clip_of(name, clips)
        try:
            out[name] = [_mark(m) for m in marks]
        except (TypeError, ValueError, KeyError):
            raise RequestError(_("a mark is [FRAME, [X, Y, W, H]] or [FRAME, null] (the applicant out of the "
                                 "picture from that frame)")) from None
    return out


def hides_of(raw: Any, clips: list[str]) -> dict[str, list[list[Any]]]:
    """{clip: [[from, to, [x, y, w, h]], ...]}: boxes the custodian hides from one second of the
    clip to another (a face the detector missed, a stranger beside the applicant: design/0279)."""
    out: dict[str, list[list[Any]]] = {}
    for name, spans in (raw or {}).items() if isinstance(raw, dict) else ():
        _clip_of(name, clips)
        try:
            out[name] = [[round(float(a), 3), round(float(b), 3), _box(box)] for a, b, box in spans]
            if any(not 0 <= v < 1e6 for a, b, _b in out[name] for v in (a, b)):
                raise ValueError
        except (TypeError, ValueError):
            raise RequestError(_("a hidden box is [FROM, TO, [X, Y, W, H]]: seconds of the clip and the box "
                                 "in its pixels")) from None
    if raw is not None and not isinstance(raw, dict):
        raise RequestError(_("a hidden box is [FROM, TO, [X, Y, W, H]]: seconds of the clip and the box in its pixels"))
    return {k: v for k, v in out.items() if v}


def _clip_of(name: str, clips: list[str]) -> None:
    if name not in clips:
        raise RequestError(_("the export has no clip {name!r} (its clips: {clips})").format(
            name=name, clips=", ".join(clips)))
