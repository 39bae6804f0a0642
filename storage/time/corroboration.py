"""Is the host clock corroborated by a source the box does not control? Pure: no I/O (design/0095).

A synchronised kernel is not proof: its NTP server may be wrong, and a clock set two years
ahead at boot (a wrong BIOS date, a spoofed NTP answer) is read at start and trusted at once
by the step watch (storage/time/trusted_time.py). Before anything is destroyed by age, the host's
reading is checked against sources outside the box (invariant 10):

- the central office's signed time (a periodic signed `time` message, and the `issued_us` of
  every signed command; mqtt/commands.py checks the signature): authenticated, so it proves a
  lower bound on the true time whenever it is heard (the office read it before the box heard it;
  a replay only says "earlier"); only when it answers the box's own nonce (`Reading.tied`) does it
  also prove the host is ahead of it (design/0370),
- an authenticated time source on the site (NTS through chrony),
- the cameras' own clocks (RTCP sender reports, ONVIF GetSystemDateAndTime): not authenticated
  (anyone on the site's LAN can set them): a majority that disagrees with the host holds
  destruction back; a majority that agrees vouches for nothing (design/0370).

The shell projects every reading to "now" on the monotonic clock (a reading taken before a
step of the host clock still says what the source's time is now) and hands plain `Reading`s
here. The verdict is one of: corroborated (an authenticated source vouches for the time now),
disagrees (nothing is destroyed by age), stale (the office's signed time is behind the host but
answers no question of the box: a lower bound, never a disagreement), unheard (no authenticated
source answered: age is judged at the earliest time retention can prove, the last authenticated
reading carried on the monotonic clock, `proven_now`; design/0305, design/0370).
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from storage.time import interval as iv
from storage.time.trusted_time import SECOND_US, span_words

DAY_US = 86_400 * SECOND_US
TOLERANCE_US = 120 * SECOND_US   # [time] corroborate_tolerance: a source within this agrees
OFFICE, NTS, CAMERA = "office", "nts", "camera"
# How long a reading stands, projected on the monotonic clock (which drifts by at most about
# 500 ppm, 43 s a day: well inside the tolerance for these ages).
FRESH_US = {OFFICE: 3_600 * SECOND_US, NTS: 600 * SECOND_US, CAMERA: 2 * DAY_US}
CAMERAS_NEEDED = 2
CORROBORATED, DISAGREES, STALE, UNHEARD = "corroborated", "disagrees", "stale", "unheard"
# The sources whose word moves judged time forward (design/0370): signed or authenticated. The
# cameras are not among them, whatever NTP server they name (a camera's ONVIF login sets its clock).
AUTHENTICATED = (OFFICE, NTS)


@dataclass(frozen=True, slots=True)
class Reading:
    """One source's time minus the host's, as of now (us; + the source is ahead, so the host is
    behind), and how old the reading is (us)."""

    kind: str          # OFFICE, NTS or CAMERA
    name: str          # "office", "chrony", a camera id
    offset_us: int
    age_us: int = 0
    independent: bool = True  # a camera: its clock does not follow the box's time source (storage/time/independence.py)
    tied: bool = False  # the office's: it answered the box's own nonce, so it bounds the true time from above too
    slack_us: int = 0   # ... by this much more: the age of the box's question when the answer was heard


@dataclass(frozen=True, slots=True)
class Verdict:
    state: str                    # CORROBORATED, DISAGREES or UNHEARD
    why: str                      # for the log, the alarm and status ("" when corroborated and nothing to add)
    source: str = ""              # the kind that decided
    offset_us: int | None = None  # how far the deciding source is from the host (+: the host is behind)
    age_us: int = 0               # how long ago the deciding reading was taken (carried on the monotonic clock since)

    @property
    def corroborated(self) -> bool:
        return self.state == CORROBORATED


def describe(offset_us: int) -> str:
    """'2.0 years ahead', '40.0 days ahead', '3.2 s behind': the host against the source."""
    return f"{span_words(offset_us)} {'behind' if offset_us > 0 else 'ahead'}"


def _fresh(readings: list[Reading], kind: str) -> list[Reading]:
    return [r for r in readings if r.kind == kind and 0 <= r.age_us <= FRESH_US[kind]]


def cameras_agree(readings: list[Reading], tolerance_us: int) -> tuple[int, int] | None:
    """(the cameras' common offset, how many agree on it): the largest group of cameras within
    `tolerance_us` of its median, when it holds two or more and more than half of those heard;
    None otherwise (one camera, or cameras that do not agree with each other)."""
    offs = sorted(r.offset_us for r in readings)
    if len(offs) < CAMERAS_NEEDED:
        return None
    best: tuple[int, int] | None = None
    for centre in offs:
        group = [o for o in offs if abs(o - centre) <= tolerance_us]
        median = group[(len(group) - 1) // 2]
        if best is None or len(group) > best[1]:
            best = (median, len(group))
    if best is None or best[1] < CAMERAS_NEEDED or 2 * best[1] <= len(offs):
        return None
    return best


def judge(readings: list[Reading], tolerance_us: int = TOLERANCE_US) -> Verdict:
    """The host clock against what is heard (design/0370). The office's signed time decides when
    it is heard: tied to the box's own nonce, both ways; otherwise it proves only that the true time
    is at least what it says, so a host behind it disagrees and a host ahead of it is STALE (a
    replay or a late message: a lower bound, never a disagreement). Else an authenticated site
    source (NTS). Else the cameras: a majority of those whose clocks do not follow the box's own
    time source that disagrees with the host stops destruction by age; one that agrees vouches for
    nothing (UNHEARD: the last authenticated reading, carried, applies: `proven_now`)."""
    stale: Verdict | None = None
    office = _fresh(readings, OFFICE)
    if office:
        name = "the central office's signed time"
        tied = [r for r in office if r.tied]
        if tied:  # read by the office after the box asked: the host ahead of it by more than the round trip is proven
            newest = min(tied, key=lambda r: r.age_us)
            if newest.offset_us < -(tolerance_us + newest.slack_us) or newest.offset_us >= -tolerance_us:
                return _against(newest.offset_us, tolerance_us, OFFICE, name, newest.age_us)
        newest = min(office, key=lambda r: r.age_us)
        if newest.offset_us >= -tolerance_us:
            return _against(newest.offset_us, tolerance_us, OFFICE, name, newest.age_us)
        stale = Verdict(STALE, f"the central office's signed time heard is {span_words(-newest.offset_us)} behind the "
                               "host clock but answers no question of this box (a replayed or late message proves "
                               "only that the time is at least what it says): refused as stale, not taken as a "
                               "disagreement", OFFICE, newest.offset_us, newest.age_us)
    got = _fresh(readings, NTS)
    if got:
        newest = min(got, key=lambda r: r.age_us)
        return _against(newest.offset_us, tolerance_us, NTS, "the authenticated time source (NTS)", newest.age_us)
    heard = _fresh(readings, CAMERA)
    cams = [r for r in heard if r.independent]
    agreed = cameras_agree(cams, tolerance_us)
    if agreed is not None and abs(agreed[0]) > tolerance_us:
        return _against(agreed[0], tolerance_us, CAMERA, f"{agreed[1]} of {len(cams)} cameras' clocks")
    if stale is not None:
        return stale
    if agreed is not None:
        return Verdict(UNHEARD, f"the host clock is not corroborated: {agreed[1]} of {len(cams)} cameras' clocks "
                                "agree with it, but cameras are not authenticated (anyone holding their login sets "
                                "them): they may hold destruction back, never move judged time forward; no signed "
                                "time from the central office and no authenticated time source", CAMERA, agreed[0])
    if heard:
        follow = len(heard) - len(cams)
        return Verdict(UNHEARD, f"the host clock is not corroborated: {len(heard)} camera clock(s) heard"
                                + (f", {follow} of them following the box's own time source or not saying whose"
                                   if follow else "")
                                + "; cameras are not authenticated and never vouch; no signed time from the central "
                                  "office and no authenticated time source")
    return Verdict(UNHEARD, "the host clock is not corroborated: no signed time from the central office and no "
                            "authenticated time source heard")


def _against(offset_us: int, tolerance_us: int, kind: str, name: str, age_us: int = 0) -> Verdict:
    if abs(offset_us) <= tolerance_us:
        return Verdict(CORROBORATED, "", kind, offset_us, age_us)
    return Verdict(DISAGREES, f"the host clock is {describe(offset_us)} against {name} (tolerance "
                              f"{tolerance_us / SECOND_US:g} s): nothing is destroyed by age until they agree; "
                              "check the host's time source", kind, offset_us)


# The judged time (design/0305) ----------------------------------------------------------------------
# Retention judges the age of footage recorded before this boot against the earliest true time it
# can prove now: the last reading an authenticated source vouched for (the office's signed time,
# NTS, an approver's confirmation; never the cameras, design/0370), carried forward on the monotonic
# clock less its drift (storage/time/interval.after). No margin per pass; a reboot adds nothing (the
# monotonic clock starts again: the time the box was down is not measurable). Footage recorded in
# this run is on the clock the monotonic clock measures (a step is re-stamped, design/0059): its age
# is measured.
HELD_BACK_ALARM_US = 3_600 * SECOND_US  # the judged time this far behind the host's: the alarm says so
FIRST_PASS = "the catalog's first retention pass (no footage on record is older)"


@dataclass(frozen=True, slots=True)
class Carried:
    """The earliest true time retention proved, as of a monotonic reading in one boot, and its
    evidence (kept in the node table between runs)."""

    earliest_us: int
    mono_us: int
    boot: str
    evidence: str
    vouched_us: int | None = None  # the proven time at the last pass an authenticated source vouched (design/0370)

    def dump(self) -> str:
        return json.dumps({"earliest_us": self.earliest_us, "mono_us": self.mono_us, "boot": self.boot,
                           "evidence": self.evidence, "vouched_us": self.vouched_us}, sort_keys=True)


def load_carried(text: str | None, legacy_us: str | None) -> Carried | None:
    """What the node table keeps; before issue 73 only the budget's judged time (`legacy_us`): read
    as a bound from another boot (nothing carried from it)."""
    try:
        got = json.loads(text or "")
        vouched_us = got.get("vouched_us", got["earliest_us"])
        return Carried(int(got["earliest_us"]), int(got["mono_us"]), str(got["boot"]), str(got["evidence"]),
                       None if vouched_us is None else int(vouched_us))
    except (ValueError, KeyError, TypeError, AttributeError):
        pass
    if legacy_us is not None and legacy_us.lstrip("-").isdigit():
        return Carried(int(legacy_us), 0, "", "the time retention last judged age at (before issue 73)", int(legacy_us))
    return None


def carried(last: Carried | None, boot: str, mono_us: int) -> iv.Bound | None:
    """The earliest true time now by the last proven bound alone: carried on the monotonic clock
    within the same boot, less the clock's drift; unchanged across a reboot. None: nothing yet."""
    if last is None:
        return None
    if boot == last.boot and mono_us >= last.mono_us:
        got = iv.after(iv.Interval(iv.Bound(last.earliest_us, "")), mono_us - last.mono_us).earliest
        assert got is not None
        return iv.Bound(got.us, last.evidence.split(CARRIED)[0] + CARRIED)
    return iv.Bound(last.earliest_us, last.evidence.split(CARRIED)[0] + REBOOTED)


CARRIED = ", carried on the monotonic clock"
REBOOTED = ", carried on the monotonic clock; a reboot since (nothing added for it)"


def vouched(verdict: Verdict, now_us: int, confirmed: bool = False) -> iv.Bound | None:
    """The earliest true time an authenticated source proves now: the lower of the host's reading
    and the source's (the office's signed time was read before it was received, so even a stale one
    proves "at least"), the source's carried on the monotonic clock since its reading less the drift;
    an approver's confirmation vouches for the host's. The cameras never vouch (design/0370). None:
    nothing vouches at this pass."""
    if verdict.source in AUTHENTICATED and verdict.state in (CORROBORATED, STALE):
        source = iv.after(iv.Interval(iv.Bound(now_us + (verdict.offset_us or 0) - verdict.age_us, "")), verdict.age_us)
        assert source.earliest is not None
        return iv.Bound(min(now_us, source.earliest.us), SOURCE_WORDS.get(verdict.source, verdict.source))
    if confirmed:
        return iv.Bound(now_us, "an approver's confirmation of the host clock")
    return None


SOURCE_WORDS = {OFFICE: "the central office's signed time", NTS: "the authenticated time source (NTS)",
                CAMERA: "the cameras' clocks"}


def vouched_since(last: Carried | None, vouch: iv.Bound | None, proven: iv.Bound) -> int:
    """The proven time at the last pass an authenticated source (or an approver) vouched: this
    pass's when one vouches for it now (within the tolerance: a stale or replayed office time, far
    behind what is proven, vouches for nothing new), else the one carried (a catalog's first pass
    starts it)."""
    if vouch is not None and vouch.us >= proven.us - TOLERANCE_US:
        return proven.us
    if last is not None and last.vouched_us is not None:
        return min(last.vouched_us, proven.us)
    return proven.us


def unvouched_for(proven: iv.Bound, vouched_us: int) -> int:
    """How long no authenticated source vouched, measured on the proven time (never on the host's
    claim: a restart adds nothing to it, as it adds nothing to the proven time)."""
    return max(0, proven.us - vouched_us)


def proven_now(verdict: Verdict, now_us: int, last: Carried | None, boot: str, mono_us: int,
               confirmed: bool = False) -> iv.Bound:
    """The earliest true time retention can prove now: what vouches now and what is carried, the
    later of them (each is a proof). Nothing ever vouched: the first pass's own time, as a new
    catalog holds no footage older than itself."""
    got = [b for b in (vouched(verdict, now_us, confirmed), carried(last, boot, mono_us)) if b is not None]
    if not got:
        return iv.Bound(now_us, FIRST_PASS)
    return max(got, key=lambda b: b.us)


HOST_BELOW = "the host clock's reading at a pass, behind the bound carried to it"


def kept(proven: iv.Bound, now_us: int) -> iv.Bound:
    """The bound a pass carries to the next: the proven one, never later than the host's reading at
    the pass. Footage is stamped on the host clock, so a bound past it (the first pass's own time
    on a clock set ahead, carried into a boot whose clock was set right) would judge footage this
    boot records older than it is once the clock runs ahead again; the host's reading is no later
    than a true bound on a clock that is right or ahead, and judges this boot's footage by its own
    stamps."""
    return proven if proven.us <= now_us else iv.Bound(now_us, HOST_BELOW)


def age_now(verdict: Verdict, now_us: int, proven: iv.Bound) -> int | None:
    """The time rule 1 (and hold expiry) judges footage recorded before this boot at: the proven
    earliest time now, never later than the host's own (its stamps are on it); None when a source
    disagrees with the host clock (nothing by age)."""
    if verdict.state == DISAGREES:
        return None
    return min(now_us, proven.us)


def held_back(verdict: Verdict, now_us: int, judged_us: int | None, evidence: str,
              alarm_us: int = HELD_BACK_ALARM_US, unvouched_us: int = 0, minimum_us: int | None = None) -> str:
    """Why the host alarm `host_clock_uncorroborated` stands ("" : it clears): a source
    disagrees, or the time retention can prove is more than `alarm_us` behind the host's, or no
    authenticated source vouched for longer than the site's minimum retention (`minimum_us`)."""
    if verdict.state == DISAGREES:
        return verdict.why
    if minimum_us is not None and unvouched_us > minimum_us and not (
            judged_us is not None and now_us - judged_us > alarm_us):
        return (f"{verdict.why or 'the host clock is not corroborated now'}; no authenticated time source has vouched "
                f"for {span_words(unvouched_us)}, longer than the site's minimum retention "
                f"({span_words(minimum_us)}): footage recorded before this run goes by age only as the proven time "
                "advances on the monotonic clock; let the central office's signed time or an authenticated time "
                "source (NTS) be heard, or an approver confirms the host clock with `edgectl retention confirm-time`")
    if judged_us is not None and now_us - judged_us > alarm_us:
        return (f"{verdict.why or 'the host clock is not corroborated now'}; the host clock is "
                f"{describe(judged_us - now_us)} of the earliest time retention can prove ({evidence}): footage "
                "recorded before this boot goes by age only as that time advances on the monotonic clock, so "
                "destruction by age waits (overwrite for space goes on); to settle it, let the central office's "
                "signed time or an authenticated time source (NTS) be heard, or an approver confirms the host clock "
                "with `edgectl retention confirm-time`")
    return ""


def in_dispute(verdict: Verdict, now_us: int, judged_us: int | None, alarm_us: int = HELD_BACK_ALARM_US) -> str:
    """Why the host clock is in dispute ("" : it is not): a source disagrees with it, or it runs more
    than `alarm_us` ahead of the earliest time retention can prove. Retention achieved, measured on
    it, cannot be judged then (design/0372)."""
    if verdict.state == DISAGREES:
        return verdict.why
    if judged_us is not None and now_us - judged_us > alarm_us:
        return (f"the host clock is {describe(judged_us - now_us)} of the earliest time retention can prove"
                + (f" ({verdict.why})" if verdict.why else ""))
    return ""


def site_sources(office_key: bool, nts: bool) -> list[str]:
    """What a site has to corroborate its clock with (doctor, the birth): [] says it has none. Only
    the authenticated sources: the cameras never vouch (design/0370), whatever servers they name."""
    out = []
    if office_key:
        out.append(OFFICE)
    if nts:
        out.append(NTS)
    return out


def office_offset(office_us: int, office_mono_us: int, wall_us: int, mono_us: int) -> int:
    """The office's time minus the host's now, from a signed time received at `office_mono_us`."""
    return office_us + (mono_us - office_mono_us) - wall_us


def camera_offset(offset_us: int, at_wall_us: int, at_mono_us: int | None, wall_us: int, mono_us: int) -> int | None:
    """A camera's ONVIF offset taken at (`at_wall_us`, `at_mono_us`), projected to now: the
    camera's time then plus the monotonic time since, minus the host's time now. None without
    the monotonic reading (a reading from before a host step would mislead)."""
    if at_mono_us is None:
        return None
    return at_wall_us + offset_us + (mono_us - at_mono_us) - wall_us


def chrony_reading(tracking: str, sources: str, authdata: str) -> tuple[Reading | None, str]:
    """chrony's word (`chronyc -c tracking`, `-c sources`, `-c authdata`): a reading when the
    source chrony is synchronised to is authenticated (NTS), with the system clock's offset
    from it; else None and why (for doctor)."""
    fields = tracking.strip().split(",")
    if len(fields) < 5:
        return None, "chronyc tracking said nothing"
    ref_name = fields[1]
    try:
        system_offset_s = float(fields[4])   # "System time": + the system clock is slow of NTP time
    except ValueError:
        return None, "chronyc tracking could not be read"
    if fields[0] in ("7F7F0101", "00000000") or ref_name in ("", "127.127.1.1"):
        return None, "chrony is not synchronised to a server"
    selected = ""
    for line in sources.splitlines():
        cols = line.split(",")
        if len(cols) > 2 and cols[1] == "*":
            selected = cols[2]
    authed = set()
    for line in authdata.splitlines():
        cols = line.split(",")
        if len(cols) > 1 and cols[1].upper() == "NTS":
            authed.add(cols[0])
    name = selected or ref_name
    if name not in authed and ref_name not in authed:
        return None, f"chrony's source {name} is not authenticated (no NTS)"
    return Reading(NTS, f"chrony:{name}", round(system_offset_s * SECOND_US)), ""
