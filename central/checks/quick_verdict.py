"""A lawful destruction's "ok", found on integers (design/0456): central/checks/verdicts.py `judge`
builds every bound of a destruction's age with the words of its evidence (a finding names them),
and a day's backlog of a lawful box is nearly all "ok", whose words nobody reads. `lawful` works
out the same age from the same clock line with plain integers and answers True only where `judge`
says "ok"; anything else (None) is judged by `judge` in full, words and all. Pure: no store, no
clock. tests/test_central_quick_verdict.py holds the two to each other over generated lines and
destructions.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from central.checks import verdicts
from central.checks.verdicts import BAR_US, DAY_US, KEPT_SLACK_US
from storage.time import interval
from storage.time.readings import Readings, readings


def _mapped(line: interval.ClockLine, node_us: int, before_us: int | None) -> tuple[int | None, int | None]:
    """`ClockLine.on_office`'s bounds (us), (None, None) without a proven offset."""
    off = line.offset_at(node_us, before_us)
    lo, hi = off.earliest, off.latest
    if lo is None or hi is None:
        return None, None
    return node_us - hi.us, node_us - lo.us


def office_ok(d: Mapping[str, Any], heard_us: int | None, reported_us: int, need: float, max_days: float | None,
              line: interval.ClockLine, r: Readings | None = None) -> bool:
    """Whether `verdicts.by_office` says "ok" (``need``: the limit its reason needs, not None; ``r``: the
    destruction's readings, read already)."""
    r = readings(d) if r is None else r
    rec_lo, rec_hi = _mapped(line, r.end_us, heard_us)
    if heard_us is not None:
        rec_hi = heard_us if rec_hi is None else min(rec_hi, heard_us)
    gone_lo, gone_hi = _mapped(line, r.destroyed_us, reported_us)
    gone_hi = reported_us if gone_hi is None else min(gone_hi, reported_us)
    lo = None if gone_lo is None or rec_hi is None else gone_lo - rec_hi
    hi = None if rec_lo is None else gone_hi - rec_lo
    run = line.elapsed_us(r.end_us, r.destroyed_us, heard_us, reported_us)
    if run is not None:
        m_lo = run[0] if lo is None else max(lo, run[0])
        m_hi = run[1] if hi is None else min(hi, run[1])
        if m_lo <= m_hi:
            lo, hi = m_lo, m_hi
    bar = int(need * DAY_US)
    top = None if max_days is None else int(max_days * DAY_US) + KEPT_SLACK_US
    if hi is not None and hi < bar:
        return False  # early
    if top is not None and lo is not None and lo > top:
        return False  # kept past its maximum
    if lo is None or lo < bar:
        return lo is not None and hi is not None and lo > bar - BAR_US  # within the bar, or unverified
    if top is not None and (hi is None or hi > top):
        return hi is not None and hi < top + BAR_US
    return True


def stamps_ok(d: Mapping[str, Any], min_days: float | None, max_days: float | None, r: Readings | None = None) -> bool:
    """Whether `verdicts.by_stamps` says "ok" (central/checks/verify.py `judge_destruction`)."""
    reason = d.get("reason")
    own = (readings(d) if r is None else r).own_age_us
    age_days = own / 86_400e6
    if reason == "max_retention":
        if max_days is not None and age_days < max_days - 1 / 24:
            return False
    elif reason == "capacity":
        free, reserve = d.get("free_before"), d.get("reserve")
        if free is not None and reserve is not None and free >= reserve:
            return False
        if min_days is not None and age_days < min_days:
            return False
    else:
        return False
    return max_days is None or not own / DAY_US > max_days + KEPT_SLACK_US / DAY_US


def lawful(d: Mapping[str, Any], *, heard_us: int | None, reported_us: int, min_days: float | None,
           max_days: float | None, line: interval.ClockLine) -> bool:
    """True only where `verdicts.judge` (with a heard footage message received at ``heard_us``, None:
    none) gives "ok"; False: ask `judge`. Whatever raises here is `judge`'s to raise (the caller asks it)."""
    reason = d.get("reason")
    need = max_days if reason == "max_retention" else min_days if reason == "capacity" else None
    r = readings(d)  # read once: both clocks judge the same readings
    if need is not None and not office_ok(d, heard_us, reported_us, need, max_days, line, r):
        return False
    return stamps_ok(d, min_days, max_days, r)


def verdict(d: Mapping[str, Any], *, heard: verdicts.Heard | None, reported_us: int, min_days: float | None,
            max_days: float | None, line: interval.ClockLine) -> verdicts.Verdict | None:
    """A destruction's verdict as `verdicts.judge` gives it, None where it is "ok" (found by `lawful`,
    no words made); the one door of the verifier's pass and of the re-judging (central/verifier/rejudge.py,
    design/0475), so the two cannot judge apart. Raises what `judge` raises."""
    if heard is None or isinstance(heard.heard_us, int):  # a heard_us of another type: judge says what it is
        try:
            if lawful(d, heard_us=None if heard is None else heard.heard_us, reported_us=reported_us,
                      min_days=min_days, max_days=max_days, line=line):
                return None
        except Exception:  # noqa: BLE001 - a malformed destruction: judge's own exception makes its finding
            pass
    return verdicts.judge(d, heard=heard, reported_us=reported_us, min_days=min_days, max_days=max_days, line=line)
