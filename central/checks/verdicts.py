"""Retention verdicts that hold on every clock and every delay (issue 51 item 1, design/0122): pure
functions over ONE destruction (a dict, as the node sends it: central/checks/verify.py `destructions`)
and the evidence the office holds, and over what the office knows of a node's footage for the
periodic watch (footage kept past its maximum, a retention pass that stopped). No store, no
clock: the verifier (central/verifier/verifier.py, central/verifier/retention_watch.py) gathers the evidence.

When was a piece of footage recorded, on the office's clock? The office holds upper bounds only
(the footage existed by then), and judges from the earliest one it can trust:
- `heard`: its receipt of the `footage` message that named the segment;
- `stamped`: that message's own stamp (the node's clock when it queued it), less the node's clock
  offset as the office saw it when the message came (other messages received with it): a
  message that waited in the node's outbox or the broker (an office outage, a box offline) is
  not taken for new footage, and a clock that was behind when it was stamped gains nothing;
- `carried`: footage the node fetched later (backfilled from the camera's recording, fetched
  back from the standby: design/0106, 0115) is as old as the message says it is, by its own
  stamps at that offset.
Lateness alone (a message heard long after it was stamped) never makes a destruction early; the
node's clock, moved between the recording and the destruction, does.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Iterable, Mapping

from central.checks import coverage, node_births, verify
from central.i18n import N_
from storage.msg import Msg

DAY_US = 86_400_000_000
SLACK_US = DAY_US                 # what the office cannot see (a footage message's cadence, transit): forgiven
OFFSET_WINDOW_US = 600_000_000    # messages received this long after a footage message tell the node's offset then
KEPT_SLACK_US = 12 * 3_600_000_000  # a node's pass and its report after the maximum passed (a finding within a day)
STOPPED_AFTER_US = DAY_US         # no destruction heard this long while footage is past its maximum: stopped
CARRIED_KINDS = ("backfilled", "standby")  # central/checks/coverage.py KINDS fetched after they were recorded

# which clock and which evidence a verdict used (the words: central/finding_words.py BASES)
OFFICE, NODE = "office", "node"
HEARD, STAMPED, CARRIED, UNANNOUNCED, STAMPS, RECORD = (
    "heard", "stamped", "carried", "unannounced", "stamps", "record")


@dataclass(frozen=True, slots=True)
class Heard:
    """What the office holds of when a footage range (a footage message's ids) was recorded."""
    heard_us: int                  # the office's receipt of the footage message
    stamp_us: int | None = None    # the message's ts_us: the node's clock when it queued it
    offset_us: int | None = None   # the node's clock less the office's then (offset_seen); None: not seen
    carried: Mapping[str, list[list[int]]] = field(default_factory=dict)  # camera -> [[from, to]] fetched later


@dataclass(frozen=True, slots=True)
class Verdict:
    verdict: str        # "ok", "early", "min_breached"
    why: str            # in English, for the finding's message (the store keeps it)
    clock: str          # OFFICE or NODE: whose clock the age was judged on
    evidence: str       # HEARD, STAMPED, CARRIED, UNANNOUNCED, STAMPS or RECORD
    age_days: float | None = None  # the age judged, on that clock

    def basis(self) -> dict[str, Any]:
        return {"clock": self.clock, "evidence": self.evidence,
                "age_days": None if self.age_days is None else round(self.age_days, 3)}


# evidence -----------------------------------------------------------------------------------------
def offset_seen(before: Iterable[tuple[Any, Any]], after: Iterable[tuple[Any, Any]], heard_us: int,
                window_us: int = OFFSET_WINDOW_US) -> int | None:
    """The node's clock less the office's when a footage message heard at ``heard_us`` was queued,
    from the node's other messages ((ts_us, received_us) each): those queued before it and received
    more than ``window_us`` before it (``before``: the node's clock before an outage), and those
    received within ``window_us`` after it (``after``: its clock when the message came). Each
    message's stamp less its receipt is at most the offset (a message waits, it never arrives
    before it was sent): the largest of each side is nearly it. The smaller side is taken: a clock
    set ahead after the message (the freshest reads ahead) or put back before it (the earliest
    read ahead) never lends the message a wait. None when either side is unknown (no wait lent)."""
    def best(samples: Iterable[tuple[Any, Any]], lo: int, hi: int) -> int | None:
        got = [ts - rec for ts, rec in samples if isinstance(ts, int) and isinstance(rec, int) and lo <= rec <= hi]
        return max(got) if got else None

    b = best(before, -(1 << 62), heard_us - window_us - 1)
    a = best(after, heard_us, heard_us + window_us)
    return None if a is None or b is None else min(a, b)


def carried_spans(spans: Any) -> dict[str, list[list[int]]]:
    """The footage a message says was fetched after it was recorded: camera -> [[from, to]]."""
    out: dict[str, list[list[int]]] = {}
    for camera, (a, b, kind) in coverage.spans_of(spans):
        if kind in CARRIED_KINDS:
            out.setdefault(camera, []).append([a, b])
    return out


def true_end(d: Mapping[str, Any]) -> int:
    """A destroyed segment's end on the node's true clock (a re-stamp after a clock step, design/0059)."""
    return int(d["end_us"]) - int(d.get("shift_us") or 0)


def recorded_by(d: Mapping[str, Any], ev: Heard) -> tuple[int, str]:
    """(the office's time by which the segment of ``d`` had been recorded, the evidence): the
    earliest of `heard`, `stamped` and `carried` (module doc)."""
    best, how = ev.heard_us, HEARD
    if ev.offset_us is None:
        return best, how
    if isinstance(ev.stamp_us, int) and ev.stamp_us - ev.offset_us < best:
        best, how = ev.stamp_us - ev.offset_us, STAMPED
    start, end = d.get("start_us"), true_end(d)
    spans = ev.carried.get(str(d.get("camera")), [])
    if isinstance(start, int) and any(a <= start and end <= b for a, b in spans) and end - ev.offset_us < best:
        best, how = end - ev.offset_us, CARRIED
    return best, how


# one destruction ---------------------------------------------------------------------------------
def by_office(d: Mapping[str, Any], *, heard: Heard | None, reported_us: int, min_days: float | None,
              max_days: float | None, announced_from: int | None) -> Verdict | None:
    """One destruction judged on the office's clock: from the earliest evidence of its recording
    (recorded_by) to the office's receipt of its destruction (``reported_us``), a day's slack
    (SLACK_US) forgiven. `max_retention`: early below the maximum; `capacity`: below the minimum.
    None: nothing to say (another reason, no limit, or footage older than the node's first
    footage message, ``announced_from`` being the lowest segment id it named). A segment destroyed
    as past its maximum that the node never named, though it names its footage, is early: its
    age cannot be known."""
    reason = d.get("reason")
    limit = max_days if reason == "max_retention" else min_days if reason == "capacity" else None
    if limit is None:
        return None
    sid = d.get("segment_id")
    if heard is None:
        if reason != "max_retention" or announced_from is None or not isinstance(sid, int) or sid < announced_from:
            return None
        return Verdict("early", Msg(N_("destroyed as past its maximum, but segment {segment} was never announced to "
                                       "the office: its age cannot be known"), segment=sid), OFFICE, UNANNOUNCED)
    at, how = recorded_by(d, heard)
    age = (reported_us - at) / DAY_US
    said = {HEARD: "its receipt of the footage message", STAMPED: "the footage message's own stamp at the node's "
            "clock offset as it saw it", CARRIED: "what the node said of the footage it fetched later"}[how]
    if age + SLACK_US / DAY_US >= limit:
        return Verdict("ok", f"{age:.1f} days old by the office's clock (from {said})", OFFICE, how, age)
    source = Msg(_FROM[how])
    if reason == "max_retention":
        return Verdict("early", Msg(N_("destroyed as past its maximum ({limit} days), but by the office's clock it was "
                                       "{age} days old (from {source} to the report of its destruction)"),
                                    limit=f"{limit:g}", age=f"{age:.1f}", source=source), OFFICE, how, age)
    return Verdict("min_breached", Msg(N_("destroyed for capacity at {age} days by the office's clock (from {source}), "
                                          "below the minimum {limit}"), age=f"{age:.1f}", source=source,
                                       limit=f"{limit:g}"), OFFICE, how, age)


# where the office's clock took a footage's age from, in a verdict's words (the "ok" verdict's English
# keeps the `said` phrase above: it is no finding's, and is made for every destruction)
_FROM = {HEARD: N_("its receipt of the footage message"),
         STAMPED: N_("the footage message's own stamp at the node's clock offset as it saw it"),
         CARRIED: N_("what the node said of the footage it fetched later")}


def judge(d: Mapping[str, Any], *, heard: Heard | None, reported_us: int, min_days: float | None,
          max_days: float | None, announced_from: int | None) -> Verdict:
    """The verdict of one destruction: by the node's own record first (its stamps, its disk
    figures: what it says against itself), then on the office's clock (by_office), which decides
    whatever the node's stamps say."""
    verdict, why = verify.judge_destruction(dict(d), min_days=min_days, max_days=max_days)
    age = (int(d["destroyed_us"]) - true_end(d)) / DAY_US
    if verdict != "ok":
        pressure = d.get("reason") == "capacity" and verdict == "early"
        return Verdict(verdict, Msg(N_("{why} (by the node's own record)"), why=why), NODE, RECORD if pressure else STAMPS, age)
    office = by_office(d, heard=heard, reported_us=reported_us, min_days=min_days, max_days=max_days,
                       announced_from=announced_from)
    return office if office is not None else Verdict("ok", why, NODE, STAMPS, age)


def utc(us: int) -> str:
    """A moment of the office's clock in a finding's (English) message."""
    return datetime.fromtimestamp(us / 1e6, timezone.utc).strftime("%Y-%m-%d %H:%M UTC")


# the watch: footage kept past its maximum, a pass that stopped --------------------------------------
@dataclass(frozen=True, slots=True)
class Range:
    """A footage range as the office holds it (footage_heard and footage_evidence)."""
    first_id: int
    last_id: int
    heard: Heard
    from_us: int | None = None  # the node's stamps of the footage it covers
    to_us: int | None = None

    def queued_by(self) -> tuple[int, str]:
        """The office's time by which the node had queued (and so recorded) this range."""
        return recorded_by({"end_us": 0}, self.heard)


def longest_max(births: list[tuple[int, dict[str, Any]]], since_us: int | None) -> float | None:
    """The longest maximum (the site's or a camera's) of the rules in force at ``since_us`` (the
    node's stamp) and of every birth after: footage is past its maximum only past the longest."""
    _ts, first = node_births.in_force(births, since_us if since_us is not None else 0)
    rules = [first] + [r for ts, r in births if since_us is None or ts > since_us]
    days = [x for r in rules for x in (r["max_days"], *(mx for _mn, mx in r["cameras"].values())) if x is not None]
    return max(days) if days else None


def holds_in_force(records: Iterable[Mapping[str, Any]]) -> list[tuple[int, int]]:
    """(from_us, to_us) of the holds the node's audit records leave in force (placed, pending or
    approved, not released, rejected, expired or lapsed): footage under a hold is kept lawfully."""
    placed: dict[Any, tuple[int, int]] = {}
    for r in records:
        detail = r.get("detail")
        detail = json.loads(detail) if isinstance(detail, str) else detail if isinstance(detail, dict) else {}
        hid = detail.get("id")
        if r.get("action") == "hold.add" and isinstance(detail.get("from_us"), int) and isinstance(
                detail.get("to_us"), int):
            placed[hid] = (detail["from_us"], detail["to_us"])
        elif r.get("action") in ("hold.release", "hold.reject", "hold.expired", "hold.lapsed"):
            placed.pop(hid, None)
    return list(placed.values())


def holding(r: Range, holds: list[tuple[int, int]]) -> int | None:
    """The end (the node's stamp) of the latest hold over any of the range's footage, None if none.
    A range whose time is unknown is taken as held while any hold is in force."""
    over = [b for a, b in holds if r.from_us is None or r.to_us is None or (a < r.to_us and b > r.from_us)]
    return max(over) if over else None


def kept(oldest: Range, newest: Range, max_days: float | None, holds: list[tuple[int, int]]) -> verify.Finding | None:
    """`kept_past_maximum`: the oldest range the node has not destroyed past (``oldest``) was
    recorded by a time the maximum has passed since (plus KEPT_SLACK_US), and the node has queued
    footage after that (``newest``: what it queued before it is here, in order), with no
    destruction of it among it. None under a hold, with no maximum, or not yet shown."""
    if max_days is None:
        return None
    at, how = oldest.queued_by()
    due = at + int(max_days * DAY_US)
    since, _ = newest.queued_by()
    if since < due + KEPT_SLACK_US or holding(oldest, holds) is not None:
        return None
    over = (since - due) / DAY_US
    return verify.Finding(
        "kept_past_maximum", verify.CRITICAL,
        Msg(N_("segments {first} to {last} are kept past their maximum of {max_days} days by at least {over} days on "
               "the office's clock: it knew of them by {at}, the node has told of footage it recorded since the "
               "maximum passed, and no destruction of them came before it"), first=oldest.first_id,
            last=oldest.last_id, max_days=f"{max_days:g}", over=f"{over:.1f}", at=utc(at)),
        f"kept_past_maximum:{oldest.first_id}", due,
        {"first_id": oldest.first_id, "last_id": oldest.last_id, "recorded_by_us": at, "due_us": due,
         "max_days": max_days, "newest_us": since, "clock": OFFICE, "evidence": how})


def stopped(oldest: Range, newest: Range, max_days: float | None, holds: list[tuple[int, int]],
            destroyed_us: int | None) -> verify.Finding | None:
    """`retention_stopped`: footage is kept past its maximum (kept) and the node has reported no
    destruction for STOPPED_AFTER_US before its newest footage (``destroyed_us``: the office's
    receipt of its latest destruction, None: never)."""
    found = kept(oldest, newest, max_days, holds)
    if found is None:
        return None
    since, _ = newest.queued_by()
    if destroyed_us is not None and since - destroyed_us < STOPPED_AFTER_US:
        return None
    quiet = Msg(N_("never reported a destruction")) if destroyed_us is None else Msg(
        N_("reported no destruction for {days} days"), days=f"{(since - destroyed_us) / DAY_US:.1f}")
    return verify.Finding(
        "retention_stopped", verify.CRITICAL,
        Msg(N_("the node has {quiet} while footage it holds is past its maximum (segments {first} to {last}): its "
               "retention pass has stopped, or its clock keeps footage from being due"), quiet=quiet,
            first=oldest.first_id, last=oldest.last_id),
        f"retention_stopped:{destroyed_us or 0}", found.about_us,
        {"destroyed_heard_us": destroyed_us, "newest_us": since, "first_id": oldest.first_id, "clock": OFFICE,
         "evidence": found.detail["evidence"]})
