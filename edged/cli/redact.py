"""`edgectl redact` (issue 54; design/0231): a redacted copy of an export the custodian made,
made by the daemon's redaction worker at idle priority (a progress bar while it works), then
written to the custodian's folder to play through: a review copy, the redacted clips unsigned, never
the original's (design/0435: only the release signs the copy).
`edgectl redact-release` (design/0328) releases a copy made, with the desk's checks: the moments
to check said played, and a second person where the site asks one; written out with its signed
manifest, which names its original, who prepared it and who released it (`edgectl verify`)."""

from __future__ import annotations

from argparse import Namespace
from pathlib import Path
from typing import Any

from edged.cli.ctx import Ctx
from edged.cli.display import JSON, Progress, UsageError, Verbs, fmt_bytes
from edged.cli.export import _check_out, copy_out
from edged.control.client import call
from edged.i18n import N_, _

REDACT_TIMEOUT_S = 600  # between two lines from the daemon: the worker runs only on an idle core
STEP_WORDS = {"detect": N_("finding faces"), "follow": N_("following the applicant"),
              "render": N_("hiding")}  # the step of the bar, _() at use


def parse_mark(text: str) -> tuple[str, list[Any]]:
    """CLIP:FRAME:X,Y,W,H (the applicant's box on that frame) or CLIP:FRAME:- (out of the picture)."""
    try:
        clip, frame, box = text.rsplit(":", 2)
        if not clip:
            raise ValueError
        values = None if box == "-" else [int(v) for v in box.split(",")]
        if values is not None and (len(values) != 4 or min(values[2:]) <= 0):
            raise ValueError
        return clip, [int(frame), values]
    except ValueError:
        raise UsageError(_("--mark {text!r}: write CLIP:FRAME:X,Y,W,H (the applicant's box on that frame, in the "
                           "clip's pixels) or CLIP:FRAME:- (the applicant out of the picture)").format(text=text)) from None


def parse_hide(text: str) -> tuple[str, list[Any]]:
    """CLIP:FROM-TO:X,Y,W,H: a box hidden from one second of the clip to another (a face the
    detector missed, a stranger beside the applicant: design/0279)."""
    try:
        clip, span, box = text.rsplit(":", 2)
        start, end = (float(v) for v in span.split("-"))
        values = [int(v) for v in box.split(",")]
        if not clip or len(values) != 4 or min(values[2:]) <= 0 or min(start, end) < 0:
            raise ValueError
        return clip, [start, end, values]
    except ValueError:
        raise UsageError(_("--hide {text!r}: write CLIP:FROM-TO:X,Y,W,H (seconds of the clip, and the box in its "
                           "pixels)").format(text=text)) from None


def _step(info: dict[str, Any]) -> str:
    words = STEP_WORDS.get(str(info.get("step")))
    return _(words) if words else ""


def cmd_redact(ctx: Ctx, args: Namespace) -> tuple[Any, str]:
    out = Path(args.out).absolute()
    _check_out(out)
    marks: dict[str, list[Any]] = {}
    for text in args.mark or []:
        clip, mark = parse_mark(text)
        marks.setdefault(clip, []).append(mark)
    hides: dict[str, list[Any]] = {}
    for text in args.hide or []:
        clip, span = parse_hide(text)
        hides.setdefault(clip, []).append(span)
    bar = Progress("redact", lambda bar, pct, info: _("redacting [{bar}] {pct:3d}%  {clip}: {step}").format(
        bar=bar, pct=pct, clip=info.get("clip") or "", step=_step(info)))

    def progress(info: dict[str, Any]) -> None:
        if info.get("resumed"):   # a copy stopped before (design/0277): the bar starts at what was saved
            bar.done()
            bar.stream.write(_("redact: {clip}: going on from {pct}%, the work saved before it stopped is "
                               "kept").format(clip=info.get("clip") or "",
                                              pct=int(100 * float(info.get("fraction") or 0))) + "\n")
            bar.stream.flush()
        bar(info)
    try:
        result = call(ctx.socket, "redact.run", {"export": args.export, "mode": args.mode, "marks": marks,
                                                 **({"hide": hides} if hides else {})},
                      on_progress=progress, timeout=REDACT_TIMEOUT_S)
    finally:
        bar.done()
    try:
        copy_out(ctx.socket, result, out, "redact.read", {"copy": result["copy"]}, REDACT_TIMEOUT_S)
    except OSError as exc:
        raise UsageError(_("the redacted copy of export {export} was made, but writing it to {path} failed "
                           "({error})").format(export=result["export"], path=out, error=exc)) from None
    result = {**result, "out": str(out)}
    lines = [_("a review copy of the redacted copy of export {export} ({mode}) written to {path}: to play through, "
               "not to hand over; only its release makes the copy handed over").format(
        export=result["export"], mode=args.mode, path=out)]
    for c in result["clips"]:
        lines.append("  " + _("{file}: {frames} frames, {whole} hidden whole, {masks} masks, {size}; {signed}").format(
            file=c["file"], frames=c["frames"], whole=c["frames_filled_whole"], masks=c["masks"],
            size=fmt_bytes(c["bytes"]), signed=_("signed as a derivative of its original") if c["c2pa"]
            else _("not signed: its release signs it") if result.get("signed_at_release")
            else _("not signed (this box is not enrolled)")))
        if c.get("to_check"):   # design/0326: play these before it is released
            lines.append("    " + _("moments to check: {spans} seconds").format(
                spans=", ".join(f"{a:.2f}-{b:.2f}" for a, b in c["to_check"])))
    lines.append(_("play it through, then release it: edgectl redact-release --export {export} --copy {copy}").format(
        export=result["export"], copy=result["copy"]))
    return result, "\n".join(lines)


def cmd_release(ctx: Ctx, args: Namespace) -> tuple[Any, str]:
    out = Path(args.out).absolute() if args.out else None
    if out is not None:
        _check_out(out)
    result = call(ctx.socket, "redact.release", {"export": args.export, "copy": args.copy,
                                                 **({"checked": True} if args.checked else {})})
    lines = [_("the redacted copy {copy} of export {export} was released ({use}): prepared by {prepared}, released "
               "by {released}").format(copy=result["copy"], export=result["export"], use=result["use"],
                                       prepared=result["prepared_by"], released=result["released_by"])]
    if out is not None and result["use"] == "copy":
        try:
            copy_out(ctx.socket, result, out, "redact.read", {"copy": result["copy"]}, REDACT_TIMEOUT_S)
        except OSError as exc:
            raise UsageError(_("the redacted copy of export {export} was released, but writing it to {path} failed "
                               "({error})").format(export=result["export"], path=out, error=exc)) from None
        result = {**result, "out": str(out)}
        lines.append(_("written to {path} with its signed manifest: check it with edgectl verify {path}").format(
            path=out))
    elif out is not None:
        lines.append(_("released for the accompanied viewing: nothing is written out"))
    return result, "\n".join(lines)


def register(sub: Verbs) -> None:
    p = sub.add_parser("redact", parents=[JSON], help=_("a redacted copy of an export you made: every third party "
                                                        "hidden, the original untouched"))
    p.add_argument("--export", type=int, required=True, help=_("the export's number (from edgectl export)"))
    p.add_argument("--mode", choices=("everything", "faces"), default="everything",
                   help=_("everything hidden except the applicant (default), or faces hidden except the applicant's"))
    p.add_argument("--mark", action="append", metavar="CLIP:FRAME:X,Y,W,H",
                   help=_("the applicant's box on a frame (repeat: the copy follows the applicant between marks); "
                          "CLIP:FRAME:- when the applicant leaves the picture"))
    p.add_argument("--hide", action="append", metavar="CLIP:FROM-TO:X,Y,W,H",
                   help=_("a box to hide from one second of the clip to another (repeat): a face the detector "
                          "missed, a stranger beside the applicant"))
    p.add_argument("--out", required=True, metavar="DIR", help=_("a new or empty folder to write the copy to"))
    p.set_defaults(handler=cmd_redact)

    p = sub.add_parser("redact-release", parents=[JSON], help=_("release a redacted copy made: for the accompanied "
                                                                "viewing or as the citizen's copy, as its grant says"))
    p.add_argument("--export", type=int, required=True, help=_("the export's number (from edgectl export)"))
    p.add_argument("--copy", required=True, metavar="NAME", help=_("the copy's name (from edgectl redact --json)"))
    p.add_argument("--checked", action="store_true",
                   help=_("I played each moment to check and nobody but the applicant can be made out"))
    p.add_argument("--out", metavar="DIR", help=_("a new or empty folder to write the released copy to, with its "
                                                 "signed manifest"))
    p.set_defaults(handler=cmd_release)
