"""Is the host clock corroborated by a source the box does not control? Pure: no I/O (design/0095).

A synchronised kernel is not proof: its NTP server may be wrong, and a clock set two years
ahead at boot (a wrong BIOS date, a spoofed NTP answer) is read at start and trusted at once
by the step watch (storage/time/trusted_time.py). Before anything is destroyed by age, the host's
reading is checked against sources outside the box (invariant 10):

- the central office's signed time (a periodic signed `time` message, and the `issued_us` of
  every signed command; mqtt/commands.py checks the signature),
- an authenticated time source on the site (NTS through chrony),
- the cameras' own clocks (RTCP sender reports, ONVIF GetSystemDateAndTime): a majority of
  two or more that agree with each other.

The shell projects every reading to "now" on the monotonic clock (a reading taken before a
step of the host clock still says what the source's time is now) and hands plain `Reading`s
here. The verdict is one of: corroborated (every age may be judged), disagrees (nothing is
destroyed by age), unheard (no source answered: the retention budget applies, `budget_now`).
"""

from __future__ import annotations

from dataclasses import dataclass

from storage.time.trusted_time import SECOND_US, span_words

DAY_US = 86_400 * SECOND_US
TOLERANCE_US = 120 * SECOND_US   # [time] corroborate_tolerance: a source within this agrees
OFFICE, NTS, CAMERA = "office", "nts", "camera"
# How long a reading stands, projected on the monotonic clock (which drifts by at most about
# 500 ppm, 43 s a day: well inside the tolerance for these ages).
FRESH_US = {OFFICE: 3_600 * SECOND_US, NTS: 600 * SECOND_US, CAMERA: 2 * DAY_US}
CAMERAS_NEEDED = 2
# The budget (design/0095): one pass judges age at most this much later than the last pass
# judged it plus the monotonic time between them. A restart loses the monotonic time, so after
# one the judged time catches up by this much per pass, never by a clock's jump.
BUDGET_MARGIN_US = 3_600 * SECOND_US

CORROBORATED, DISAGREES, UNHEARD = "corroborated", "disagrees", "unheard"
# A host clock that moved more than this since retention last judged age is never vouched for
# by cameras alone (issue 51, design/0126): the office's signed time or NTS only.
CAMERA_JUMP_US = DAY_US


@dataclass(frozen=True, slots=True)
class Reading:
    """One source's time minus the host's, as of now (us; + the source is ahead, so the host is
    behind), and how old the reading is (us)."""

    kind: str          # OFFICE, NTS or CAMERA
    name: str          # "office", "chrony", a camera id
    offset_us: int
    age_us: int = 0
    independent: bool = True  # a camera: its clock does not follow the box's time source (storage/time/independence.py)


@dataclass(frozen=True, slots=True)
class Verdict:
    state: str                    # CORROBORATED, DISAGREES or UNHEARD
    why: str                      # for the log, the alarm and status ("" when corroborated and nothing to add)
    source: str = ""              # the kind that decided
    offset_us: int | None = None  # how far the deciding source is from the host (+: the host is behind)

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


def judge(readings: list[Reading], tolerance_us: int = TOLERANCE_US, jump_us: int = 0) -> Verdict:
    """The host clock against what is heard. The office's signed time decides when it is heard
    (it is signed, and the office keeps its own clock right); else an authenticated site source
    (NTS); else a majority of the cameras whose clocks do not follow the box's own time source,
    unless the host clock moved more than CAMERA_JUMP_US (`jump_us`: since retention last judged
    age). A source that disagrees by more than `tolerance_us` stops destruction by age; none
    heard is UNHEARD (the budget applies)."""
    for kind, name in ((OFFICE, "the central office's signed time"), (NTS, "the authenticated time source (NTS)")):
        got = _fresh(readings, kind)
        if got:
            newest = min(got, key=lambda r: r.age_us)
            return _against(newest.offset_us, tolerance_us, kind, name)
    heard = _fresh(readings, CAMERA)
    cams = [r for r in heard if r.independent]
    agreed = cameras_agree(cams, tolerance_us)
    if agreed is not None and abs(jump_us) > CAMERA_JUMP_US and abs(agreed[0]) <= tolerance_us:
        return Verdict(UNHEARD, f"the host clock cannot be corroborated: it moved {span_words(abs(jump_us))} since "
                                "retention last judged age, and cameras alone never vouch for a move of more than "
                                "a day (the central office's signed time or NTS only)")
    if agreed is not None:
        return _against(agreed[0], tolerance_us, CAMERA, f"{agreed[1]} of {len(cams)} cameras' clocks")
    if heard:
        follow = len(heard) - len(cams)
        return Verdict(UNHEARD, f"the host clock cannot be corroborated: {len(heard)} camera clock(s) heard"
                                + (f", {follow} of them following the box's own time source or not saying whose"
                                   if follow else "")
                                + f", and at least {CAMERAS_NEEDED} independent ones must agree; no signed time "
                                  "from the central office and no authenticated time source")
    return Verdict(UNHEARD, "the host clock cannot be corroborated: no signed time from the central office, no "
                            "authenticated time source and no camera clocks heard")


def _against(offset_us: int, tolerance_us: int, kind: str, name: str) -> Verdict:
    if abs(offset_us) <= tolerance_us:
        return Verdict(CORROBORATED, "", kind, offset_us)
    return Verdict(DISAGREES, f"the host clock is {describe(offset_us)} against {name} (tolerance "
                              f"{tolerance_us / SECOND_US:g} s): nothing is destroyed by age until they agree; "
                              "check the host's time source", kind, offset_us)


@dataclass(frozen=True, slots=True)
class Judged:
    """The time the last retention pass judged age at, and the monotonic time it did (None:
    read from the catalog after a restart, so the time since is unknown)."""

    at_us: int
    mono_us: int | None = None


def budget_now(now_us: int, last: Judged | None, mono_us: int, margin_us: int = BUDGET_MARGIN_US) -> int:
    """The latest time an uncorroborated pass may judge age at: no later than the last pass's
    plus the monotonic time since it plus a margin (design/0095). A clock jump moves `now_us`,
    never this, so footage made due only by a jump waits. No pass before: the host's time (a
    new catalog holds no footage older than its own run)."""
    if last is None:
        return now_us
    elapsed = max(0, mono_us - last.mono_us) if last.mono_us is not None else 0
    return min(now_us, last.at_us + elapsed + margin_us)


def moved_us(now_us: int, last: Judged | None, mono_us: int) -> int:
    """How far the host clock moved beyond the time measured since retention last judged age (a
    restart loses the monotonic time: the time it was down counts too); 0 before any pass."""
    if last is None:
        return 0
    elapsed = max(0, mono_us - last.mono_us) if last.mono_us is not None else 0
    return now_us - (last.at_us + elapsed)


def age_now(verdict: Verdict, now_us: int, last: Judged | None, mono_us: int, confirmed: bool = False,
            margin_us: int = BUDGET_MARGIN_US) -> int | None:
    """The time retention's age rule judges at this pass: `now_us` when corroborated or an
    approver confirmed the host clock since the last pass (`confirmed`), the budget when no
    source is heard, None when a source disagrees (nothing by age)."""
    if verdict.state == DISAGREES:
        return None
    if verdict.corroborated or confirmed:
        return now_us
    return budget_now(now_us, last, mono_us, margin_us)


def held_back(verdict: Verdict, now_us: int, judged_us: int | None, margin_us: int = BUDGET_MARGIN_US) -> str:
    """Why the host alarm `host_clock_uncorroborated` stands ("" : it clears): a source
    disagrees, or the budget keeps the judged time more than the margin behind the host's."""
    if verdict.state == DISAGREES:
        return verdict.why
    if verdict.state == UNHEARD and judged_us is not None and now_us - judged_us > margin_us:
        return (f"{verdict.why}; the host clock is {describe(judged_us - now_us)} of the time retention last judged "
                f"age at, so destruction by age follows the time measured since then, not the host clock; if the host "
                "clock is right, an approver confirms it with `edgectl retention confirm-time`")
    return ""


def site_sources(office_key: bool, nts: bool, clock_cameras: int) -> list[str]:
    """What a site has to corroborate its clock with (doctor, the birth): [] says it has none.
    `clock_cameras`: the cameras whose clocks may count (independent ones, where known)."""
    out = []
    if office_key:
        out.append(OFFICE)
    if nts:
        out.append(NTS)
    if clock_cameras >= CAMERAS_NEEDED:
        out.append(CAMERA)
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
