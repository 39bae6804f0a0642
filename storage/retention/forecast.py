"""What a disk keeps at the current write rates (the planner's rules run forward, design/0035),
and each camera's verdict against its minimum. Pure, as the planner (storage/retention/plan.py)."""

from __future__ import annotations

from storage.retention.plan import Policy
from storage.states.cameras import PORTABLE_PREFIX


def forecast_retention_us(usable_bytes: int, held_bytes: int, bytes_per_s: float) -> int | None:
    """How long the disk keeps footage at the current write rate if every camera kept the same
    age (the site's figure; per camera see forecast_by_camera). None when nothing is written."""
    if bytes_per_s <= 0:
        return None
    return int(max(0, usable_bytes - held_bytes) / bytes_per_s * 1_000_000)


def crowded_out_by_holds(usable_bytes: int, held_bytes: int, bytes_per_s: float, min_us: int) -> int | None:
    """The retention the disk keeps with its holds, where the holds alone bring it below `min_us`
    (the `holds_crowd_out` alarm), else None: nothing held, nothing written, enough room, or a disk
    too small for the minimum even with nothing held, which the holds are not to blame for (issue 91:
    「保存中的影像（0.0 GB）」 was blamed on a small disk)."""
    with_holds = forecast_retention_us(usable_bytes, held_bytes, bytes_per_s) if held_bytes > 0 else None
    without = forecast_retention_us(usable_bytes, 0, bytes_per_s)
    if with_holds is None or without is None or with_holds >= min_us or without < min_us:
        return None
    return with_holds


def holds_crowd_out(total_bytes: int, reserve_bytes: int, intake_room: int, held_bytes: int,
                    rates: dict[str, float], min_us: int) -> int | None:
    """`crowded_out_by_holds` on the disk the box's cameras may count on (design/0459): the disk less its
    reserve and less the intakes' share, whether the intakes fill it or not (design/0429), written at the box's
    own cameras' rates (a portable device's intake is no camera writing); `held_bytes` the box's cameras' held
    footage (an intake's held footage is inside the share already)."""
    usable = total_bytes - reserve_bytes - intake_room
    rate = sum(r for c, r in rates.items() if not c.startswith(PORTABLE_PREFIX))
    return crowded_out_by_holds(usable, held_bytes, rate, min_us)


def forecast_by_camera(usable_bytes: int, held_bytes: int, rates: dict[str, float],
                       policy: Policy) -> dict[str, int | None]:
    """Per camera, the retention the planner's rules settle at on this disk at the current
    write rates (design/0035). Surplus goes oldest first, so cameras whose minimum is below
    the common age T reach T; a camera whose minimum is above T keeps its minimum; none keeps
    more than its max. When even the minimums do not fit, each camera keeps the same fraction
    of its own minimum (the fair breach). None for a camera that writes nothing."""
    room = max(0, usable_bytes - held_bytes)
    cams = {c: r for c, r in rates.items() if r > 0}
    out: dict[str, int | None] = {c: None for c in rates if c not in cams}
    if not cams:
        return out
    lim = {c: policy.limits(c) for c in cams}

    def used(t: int) -> float:  # bytes needed when the common age is t microseconds
        return sum(r * min(lim[c].max_us, max(t, lim[c].min_us)) / 1e6 for c, r in cams.items())

    if used(0) > room:  # the minimums alone do not fit: a fair breach
        share = room / used(0)
        return out | {c: int(lim[c].min_us * share) for c in cams}
    low, high = 0, max(x.max_us for x in lim.values())
    while low < high:  # the largest common age that fits
        mid = (low + high + 1) // 2
        low, high = (mid, high) if used(mid) <= room else (low, mid - 1)
    return out | {c: min(lim[c].max_us, max(low, lim[c].min_us)) for c in cams}


NOT_RECORDED = "NOT RECORDED"  # the verdict of a camera its mode does not record (live)


def verdict(forecast_us: int | None, min_us: int, breached: bool) -> str:
    """OK / AT RISK / BREACHED for one camera (NOT_RECORDED for a live one: its caller knows the mode)."""
    if breached:
        return "BREACHED"
    if forecast_us is not None and forecast_us < min_us * 1.1:
        return "AT RISK"
    return "OK"
