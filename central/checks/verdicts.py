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
from storage.time import interval
from storage.time.readings import readings

DAY_US = 86_400_000_000
SLACK_US = DAY_US                 # what the office cannot see (a footage message's cadence, transit): forgiven
OFFSET_WINDOW_US = 600_000_000    # messages received this long after a footage message tell the node's offset then
BAR_US = 3_600_000_000  # an age proven on both sides, across a limit by less than this: within the limit (a
# lawful box destroys as soon as its own proof allows; the office's proof of the same age is as wide as its samples)
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
    bounds: dict[str, Any] = field(default_factory=dict)  # on intervals: the age's, the recording's and the
    # destruction's [earliest, latest] (us) and each bound's evidence (by_office)

    def basis(self) -> dict[str, Any]:
        return {"clock": self.clock, "evidence": self.evidence,
                "age_days": None if self.age_days is None else round(self.age_days, 3), **self.bounds}


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
    """A destroyed segment's end on the node's clock as corrected (its stamp plus the shift its re-stamp
    added after a clock step, design/0059): the node's own record, never what a clock line maps
    (storage/time/readings.py, design/0364)."""
    return readings(d).true_end_us


def recorded_by(d: Mapping[str, Any], ev: Heard) -> tuple[int, str]:
    """(the office's time by which the range of ``d`` had been queued, the evidence): its receipt,
    or its stamp at the offset seen then where that is earlier (the watch's, `Range.queued_by`;
    a destruction is judged on intervals: `recorded`)."""
    best, how = ev.heard_us, HEARD
    if ev.offset_us is None:
        return best, how
    if isinstance(ev.stamp_us, int) and ev.stamp_us - ev.offset_us < best:
        best, how = ev.stamp_us - ev.offset_us, STAMPED
    return best, how


# one destruction, on intervals (issue 73, design/0310) ---------------------------------------------
# a bound's evidence, by the first word of its text (storage/time/interval.py keeps the words it was given)
EV_HEARD, EV_REPORTED, EV_STAMP = "footage-heard", "destruction-heard", "node-stamp"
EVIDENCE_WORDS = {EV_HEARD: N_("the office's receipt of the footage message that named it"),
                  EV_REPORTED: N_("the office's receipt of the destruction"),
                  EV_STAMP: N_("the node's stamp, at its clock offset proven by the office's time requests")}
INTERVAL = "interval"  # a verdict's evidence when it was judged on intervals (central/finding_words.py BASES)


def recorded(d: Mapping[str, Any], heard: Heard | None, line: interval.ClockLine) -> interval.Interval:
    """When the destroyed segment ended, on the office's clock: its end as stamped at the node's proven
    offset then (both bounds; a re-stamp's shift is not added: the line's offset then is the one the
    shift corrects), and at the latest the receipt of the footage message that named it."""
    stamped = readings(d).end_us  # the reading as the node's clock made it: the line holds its offset then
    if heard is None:
        return line.on_office(stamped, EV_STAMP)
    return interval.meet(line.on_office(stamped, EV_STAMP, heard.heard_us), interval.sent_by(heard.heard_us, EV_HEARD))


def destroyed_at(d: Mapping[str, Any], reported_us: int, line: interval.ClockLine) -> interval.Interval:
    """When the segment was destroyed, on the office's clock: its stamp at the node's proven offset
    then, and at the latest the receipt of the message that reported it."""
    return interval.meet(line.on_office(int(d["destroyed_us"]), EV_STAMP, reported_us),
                         interval.sent_by(reported_us, EV_REPORTED))


def _days(b: interval.Bound | None) -> str:
    return "?" if b is None else f"{b.us / DAY_US:.1f}"


def _said(b: interval.Bound | None) -> Msg | str:
    return "" if b is None else Msg(EVIDENCE_WORDS.get(b.evidence.split(",", 1)[0], EVIDENCE_WORDS[EV_STAMP]))


def by_office(d: Mapping[str, Any], *, heard: Heard | None, reported_us: int, min_days: float | None,
              max_days: float | None, line: interval.ClockLine) -> Verdict | None:
    """One destruction judged on the office's clock, on intervals: its age is [earliest(destruction)
    - latest(recording), latest(destruction) - earliest(recording)]. Early ("early" as past its
    maximum, "min_breached" for capacity) only when even the latest age is below what the reason
    needs; "kept_past_maximum" only when even the earliest age is past the maximum (and
    KEPT_SLACK_US); "ok" when both bounds are proven inside; else "unverified", naming the bound that
    is missing. None: another reason, or no limit."""
    reason = d.get("reason")
    need = max_days if reason == "max_retention" else min_days if reason == "capacity" else None
    if need is None:
        return None
    rec, gone = recorded(d, heard, line), destroyed_at(d, reported_us, line)
    age = interval.span(rec, gone)
    r = readings(d)  # one steady stretch holding both readings: their difference, the drift counted once
    run = line.elapsed(r.end_us, r.destroyed_us, None if heard is None else heard.heard_us, reported_us)
    if run.proven and not interval.meet(age, run).empty:
        age = interval.meet(age, run)
    top = None if max_days is None else int(max_days * DAY_US) + KEPT_SLACK_US
    j = interval.judge(age, int(need * DAY_US), top)
    basis = {"age_us": [None if age.earliest is None else age.earliest.us, None if age.latest is None else age.latest.us],
             "recorded_us": _pair(rec), "destroyed_us": _pair(gone),
             "bounds": [None if b is None else b.evidence for b in (rec.earliest, rec.latest, gone.earliest, gone.latest)]}
    lo, hi = age.earliest, age.latest
    if j.verdict == interval.UNVERIFIED and lo is not None and hi is not None and (
            (j.missing == interval.LOWER and lo.us > int(need * DAY_US) - BAR_US)
            or (j.missing == interval.UPPER and top is not None and hi.us < top + BAR_US)):
        j = interval.Judged(interval.OK, age)  # proven to within the bar: neither early nor kept past
    if j.verdict == interval.OK:
        return Verdict("ok", f"{_days(lo)} to {_days(hi)} days old on the office's clock", OFFICE, INTERVAL,
                       lo.us / DAY_US if lo else None, basis)
    if j.verdict == interval.EARLY:
        assert hi is not None and rec.earliest is not None and gone.latest is not None
        words = (N_("destroyed as past its maximum ({limit} days), but on the office's clock it was at most {age} days "
                    "old: recorded no earlier than {rec} ({rec_how}), destroyed no later than {gone} ({gone_how})")
                 if reason == "max_retention" else
                 N_("destroyed for capacity at most {age} days old on the office's clock, below the minimum {limit}: "
                    "recorded no earlier than {rec} ({rec_how}), destroyed no later than {gone} ({gone_how})"))
        return Verdict("early" if reason == "max_retention" else "min_breached",
                       Msg(words, limit=f"{need:g}", age=_days(hi), rec=utc(rec.earliest.us), rec_how=_said(rec.earliest),
                           gone=utc(gone.latest.us), gone_how=_said(gone.latest)), OFFICE, INTERVAL, hi.us / DAY_US, basis)
    if j.verdict == interval.KEPT_PAST:
        assert lo is not None and rec.latest is not None and gone.earliest is not None and max_days is not None
        return Verdict("kept_past_maximum", Msg(N_(
            "destroyed at least {age} days old on the office's clock, past its maximum of {limit} days: recorded no "
            "later than {rec} ({rec_how}), destroyed no earlier than {gone} ({gone_how})"), age=_days(lo),
            limit=f"{max_days:g}", rec=utc(rec.latest.us), rec_how=_said(rec.latest), gone=utc(gone.earliest.us),
            gone_how=_said(gone.earliest)), OFFICE, INTERVAL, lo.us / DAY_US, basis)
    first = line.samples[0].node_us if line.samples else None  # a recording before the first contact says so
    early = rec.earliest is None and (first is None or readings(d).end_us < first)
    return Verdict("unverified", _unverified(j.missing, rec, gone, lo, hi, need, max_days, early), OFFICE, INTERVAL, None,
                   basis)


BEFORE_CONTACT = N_("it was recorded before the first time request of the office the node answered: nothing the "
                    "office holds dates its recording")


def _unverified(missing: str, rec: interval.Interval, gone: interval.Interval, lo: interval.Bound | None,
                hi: interval.Bound | None, need: float, max_days: float | None, before_contact: bool = False) -> Msg:
    """Why an age is "unverified": the interval and the bound that would have settled it (a recording
    made before the office's first sample of the node, ``before_contact``, says so: design/0369)."""
    if missing == interval.LOWER:
        bound = need
        if gone.earliest is None:
            why = Msg(N_("no time request of the office answered by the node brackets its destruction"))
        elif rec.latest is None:
            why = Msg(N_("no footage message named it and no time request answered by the node brackets its "
                         "recording"))
        elif before_contact:
            why = Msg(BEFORE_CONTACT)
        else:
            why = Msg(N_("the office's evidence cannot narrow it further"))
    else:
        bound = max_days if max_days is not None else need
        why = (Msg(BEFORE_CONTACT) if before_contact else
               Msg(N_("no time request of the office answered by the node brackets its recording"))
               if rec.earliest is None else Msg(N_("the office's evidence cannot narrow it further")))
    return Msg(N_("its age cannot be verified on the office's clock: between {lo} and {hi} days old (the limit: "
                  "{limit} days); {missing}"), lo=_days(lo), hi=_days(hi), limit=f"{bound:g}", missing=why)


def _pair(iv: interval.Interval) -> list[int | None]:
    return [None if iv.earliest is None else iv.earliest.us, None if iv.latest is None else iv.latest.us]


def by_stamps(d: Mapping[str, Any], min_days: float | None, max_days: float | None) -> tuple[str, str]:
    """The node's own record of one destruction (verify.judge_destruction), and kept past its
    maximum by its own stamps (KEPT_SLACK_US forgiven)."""
    verdict, why = verify.judge_destruction(dict(d), min_days=min_days, max_days=max_days)
    age = readings(d).own_age_us / DAY_US
    if verdict == "ok" and max_days is not None and age > max_days + KEPT_SLACK_US / DAY_US:
        return "kept_past_maximum", Msg(N_("destroyed at {age} days, past its maximum of {max_days} days"),
                                        age=f"{age:.1f}", max_days=f"{max_days:g}")
    return verdict, why


def judge(d: Mapping[str, Any], *, heard: Heard | None, reported_us: int, min_days: float | None,
          max_days: float | None, line: interval.ClockLine | None = None) -> Verdict:
    """The verdict of one destruction: on the office's clock when it proves one (by_office), else by
    the node's own record where its stamps admit a breach (by_stamps), else "unverified" where the
    office cannot prove it lawful (a warning), else "ok". Whenever it is judged, on whatever
    deliveries, the same evidence gives the same verdict; more evidence only settles an
    "unverified" (central/verifier/rejudge.py)."""
    office = by_office(d, heard=heard, reported_us=reported_us, min_days=min_days, max_days=max_days,
                       line=line if line is not None else interval.ClockLine([]))
    if office is not None and office.verdict not in ("ok", "unverified"):
        return office
    verdict, why = by_stamps(d, min_days, max_days)
    age = readings(d).own_age_us / DAY_US
    if verdict != "ok":
        pressure = d.get("reason") == "capacity" and verdict == "early"
        return Verdict(verdict, Msg(N_("{why} (by the node's own record)"), why=why), NODE, RECORD if pressure else STAMPS,
                       age)
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


def held(oldest: Range, newest: Range, line: interval.ClockLine) -> tuple[interval.Bound | None, interval.Bound | None]:
    """(the latest the oldest range was recorded by, the earliest the node still held it) on the
    office's clock: its end stamp at the node's proven offset, or the office's receipt of the message
    naming it; and the stamp of the newest message the node queued after it (``newest``: a footage
    message, or any durable message later in its outbox's order, central/verifier/retention_watch.py
    `watch`), at its proven offset (the node's messages come in order: it had destroyed none of the
    oldest range by then).
    A receipt proves no earliest: without a sample around the newest message's stamp, None."""
    h = oldest.heard
    rec = interval.meet(line.on_office(oldest.to_us, EV_STAMP, h.heard_us) if oldest.to_us is not None
                        else interval.UNKNOWN, interval.sent_by(h.heard_us, EV_HEARD))
    n = newest.heard
    since = (line.on_office(n.stamp_us, EV_STAMP, n.heard_us) if isinstance(n.stamp_us, int) else interval.UNKNOWN)
    return rec.latest, since.earliest


def kept(oldest: Range, newest: Range, max_days: float | None, holds: list[tuple[int, int]],
         line: interval.ClockLine) -> verify.Finding | None:
    """`kept_past_maximum`, whether or not a destruction ever comes: the oldest range the node has
    not destroyed past (``oldest``) was recorded no later than a time the maximum (and KEPT_SLACK_US)
    has passed since, and the node still held it no earlier than that (``newest``: a footage message
    it queued after, with no destruction of it before: `held`). None under a hold, with no
    maximum, or not proven."""
    if max_days is None:
        return None
    rec, since = held(oldest, newest, line)
    if rec is None or since is None:
        return None
    due = rec.us + int(max_days * DAY_US)
    if since.us < due + KEPT_SLACK_US or holding(oldest, holds) is not None:
        return None
    over = (since.us - due) / DAY_US
    return verify.Finding(
        "kept_past_maximum", verify.CRITICAL,
        Msg(N_("segments {first} to {last} are kept past their maximum of {max_days} days by at least {over} days on "
               "the office's clock: recorded no later than {at} ({at_how}), still held no earlier than {since} (a "
               "message the node queued after them, its stamp at its clock offset proven by the office's time "
               "requests), and no destruction of them came before it"), first=oldest.first_id,
            last=oldest.last_id, max_days=f"{max_days:g}", over=f"{over:.1f}", at=utc(rec.us), at_how=_said(rec),
            since=utc(since.us)),
        f"kept_past_maximum:{oldest.first_id}", due,
        {"first_id": oldest.first_id, "last_id": oldest.last_id, "recorded_by_us": rec.us, "due_us": due,
         "max_days": max_days, "newest_us": since.us, "clock": OFFICE, "evidence": INTERVAL,
         "bounds": [rec.evidence, since.evidence]})


def stopped(oldest: Range, newest: Range, max_days: float | None, holds: list[tuple[int, int]],
            destroyed_us: int | None, line: interval.ClockLine) -> verify.Finding | None:
    """`retention_stopped`: footage is kept past its maximum (kept) and the node has reported no
    destruction for STOPPED_AFTER_US before it still held it (``destroyed_us``: the office's
    receipt of its latest destruction, None: never)."""
    found = kept(oldest, newest, max_days, holds, line)
    if found is None:
        return None
    since = found.detail["newest_us"]
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
