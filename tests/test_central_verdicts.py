"""Retention verdicts right on every clock and every delay (issue 51 item 1, design/0122): a scripted
node, its clock set off the office's, its footage heard late, fed to the real store and verifier on
an injected office clock. Early only when the office can show it; footage kept past its maximum
and a retention pass that stopped are found on the office's clock within a day, whether or not a
destruction ever comes. (The same tests run on PostgreSQL: tests/test_central_postgres.py.)"""

from __future__ import annotations

import base64
import json
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from central import finding_words
from central.report import month
from central.checks import node_births, verdicts, verify
from central.i18n import Speaker
from central.store.store import Store
from storage import audit
from storage.time import interval
from tests.support.catalog import central_destructions
from central.verifier import clock_samples
from central.verifier.verifier import Verifier
from mqtt.commands import canonical
from storage.keys import nodekey
from edged.daemon.reporting import retention_messages

UTC = ZoneInfo("UTC")
S = 1_000_000
HOUR = 3600 * S
DAY = 86_400 * S
T0 = 1_795_000_000 * S
BASE = "edged/v1/s/n1"
SEGMENT = 60 * S
MINUTE = 60 * S
NODE = "s/n1"


class OfficeClock:
    def __init__(self, now: int):
        self.now = now

    def __call__(self) -> int:
        return self.now


SHAPES = ("one", "pass")  # a message a destruction (a box before issue 53), or a retention pass's (design/0137)


@pytest.fixture(params=SHAPES)
def shape(request) -> str:
    """Every case on both shapes of `retention` message: the office hears both while boxes of the
    old version remain, and its verdicts must not depend on which (issue 53)."""
    return request.param


ASK_EVERY = 6 * HOUR  # the office's time requests a node answers (every minute in the field; sparser here)


class Node:
    """A node as the office hears it: a clock `offset` from the office's (changed by `set_offset`:
    a step of its clock), answering the office's time requests every ASK_EVERY while `online`
    (central/verifier/clock_samples.py: the only evidence of its clock), an outbox of durable
    messages (the seq: the outbox's counter, set once from the node's clock a day before T0 when
    the outbox was made, then one up a message), segments numbered as recorded. ``shape`` "pass":
    the destructions of a pass (those made before the next other message or send) go in one
    message, as edged/daemon/reporting.py `retention_messages` sends them."""

    def __init__(self, store: Store, clock: OfficeClock, *, min_days: float = 30, max_days: float = 30,
                 shape: str = "one"):
        assert shape in SHAPES, shape
        self.store, self.clock, self.offset, self.shape = store, clock, 0, shape
        self.key = nodekey.NodeKey(Ed25519PrivateKey.generate())
        self.online, self.answered = True, None  # answering the office's time requests; the last one answered
        self.steps: list[tuple[int, int]] = [(-(1 << 62), 0)]  # (from the office's time, the clock's offset)
        self.seq, self.next_id, self.outbox = T0 - DAY, 1, []
        self.passes, self.pass_ = 0, []  # the pass being made: its destructions not yet queued
        self.ends: dict[int, int] = {}  # segment id -> its end by the node's stamps
        birth = {"ts_us": T0 - DAY, "session": 1, "config_hash": "a", "cameras": [{"id": "cam"}],
                 "retention": {"min_days": min_days, "max_days": max_days}, "public_key": self.key.public_b64}
        self.outbox.append((f"{BASE}/birth", json.dumps(birth).encode()))

    def now(self) -> int:
        return self.clock.now + self.offset

    def set_offset(self, offset: int) -> None:
        """Its clock steps to ``offset`` a minute from now, after one more answer at the old one (in the
        field it answers every minute: the step falls between two answers, not on a reading)."""
        self.answer(self.clock.now + S)
        self.steps.append((self.clock.now + MINUTE, offset))
        self.offset = offset

    def _offset_at(self, t: int) -> int:
        return [o for at, o in self.steps if at <= t][-1]

    def answer(self, until: int | None = None) -> None:
        """The office's time requests since the last one answered up to ``until`` (now), each answered
        at once (its clock then), through the office's own path: asked, heard, made a sample."""
        until = self.clock.now if until is None else until
        t = until if self.answered is None else self.answered + ASK_EVERY
        times = [*range(t, until, ASK_EVERY), until] if self.answered is None or until > self.answered else []
        for at in times:
            nonce = f"n{at}"
            clock_samples.asked(self.store.db, [(NODE, nonce, at)], at)
            body = {"nonce": nonce, "at_us": at, "node_us": at + self._offset_at(at), "mono_us": at - T0 + DAY * 1000,
                    "boot": "b1"}
            body["sig"] = base64.b64encode(self.key.sign(canonical(body))).decode()
            self.store.ingest([(f"{BASE}/clock", json.dumps(body).encode())], at)
            with self.store.writing(durable=False):
                clock_samples.take(self.store.db, at - 1, lambda _n, _r: self.key.public_b64)
            self.answered = at

    def queue(self, kind: str, body: dict) -> None:
        self._end_pass()
        self._queue(kind, body)

    def _queue(self, kind: str, body: dict) -> None:
        self.seq += 1
        self.outbox.append((f"{BASE}/{kind}", json.dumps({"seq": self.seq, "ts_us": self.now(), **body}).encode()))

    def record(self, n: int = 1, *, carried_from: int | None = None) -> list[int]:
        """n segments just recorded (or, ``carried_from``: fetched now, recorded then by the
        node's stamps) and the footage message naming them."""
        ids = list(range(self.next_id, self.next_id + n))
        self.next_id += n
        end = self.now() if carried_from is None else carried_from + n * SEGMENT
        for i, sid in enumerate(ids):
            self.ends[sid] = end - (n - 1 - i) * SEGMENT
        kind = "live" if carried_from is None else "backfilled"
        self.queue("footage", {"first_id": ids[0], "last_id": ids[-1], "from_us": end - n * SEGMENT, "to_us": end,
                               "segments": n, "cameras": 1,
                               "spans": {"cam": [[end - n * SEGMENT, end, kind]]}})
        return ids

    def destroy(self, sid: int, reason: str = "max_retention", **extra: int) -> None:
        end = self.ends[sid]
        d = {"camera": "cam", "reason": reason, "start_us": end - SEGMENT, "end_us": end,
             "destroyed_us": self.now(), "bytes": 10, "segment_id": sid, **extra}
        if self.shape == "one":
            self.queue("retention", d)
        else:
            self.pass_.append(d)

    def _end_pass(self) -> None:
        if self.pass_:
            self.passes += 1
            gone = [{"path": f"cam/{d['segment_id']}.mp4", "sha256": "0" * 64, "free_before": None, "reserve": None,
                     **d, "pass_id": self.passes} for d in self.pass_]
            for m in retention_messages(gone):  # the box's own: at most 64 a message
                self._queue("retention", m)
            self.pass_ = []

    def send(self) -> None:
        self._end_pass()
        if self.online:
            self.answer()
        self.store.ingest(self.outbox, self.clock())
        self.outbox = []


def _office(tmp_path, shape: str = "one", **rules) -> tuple[Store, OfficeClock, Node, Verifier]:
    clock = OfficeClock(T0 - 2 * HOUR)
    store = Store(tmp_path / "c.db", clock=clock)
    node = Node(store, clock, shape=shape, **rules)
    node.record()          # the node talks to the office before: its clock is seen
    node.send()
    clock.now = T0
    return store, clock, node, Verifier(store, UTC, gap_grace_us=0)


def _found(store: Store, kind: str) -> list[dict]:
    return [f for f in store.findings(limit=1000) if f["kind"] == kind]


def _retention_findings(store: Store) -> list[dict]:
    return [f for f in store.findings(limit=1000)
            if f["kind"] in finding_words.RETENTION]


def _destroyed_at_its_30_days(tmp_path, ahead_us: int, shape: str = "one") -> Store:
    """A segment recorded on a true clock, heard at once; the node's clock then runs ``ahead_us``
    ahead and it destroys the segment at its own "30 days"."""
    store, clock, node, verifier = _office(tmp_path, shape)
    (sid,) = node.record()
    node.send()
    verifier.run_once()
    node.set_offset(ahead_us)
    clock.now = T0 + 30 * DAY - ahead_us
    node.destroy(sid)
    node.send()
    verifier.run_once()
    return store


@pytest.mark.both_engines
def test_a_node_clock_10_days_ahead_destroying_at_its_30_days_is_destroyed_early_on_the_offices_clock(tmp_path, shape):
    store = _destroyed_at_its_30_days(tmp_path, 10 * DAY, shape)
    (f,) = _found(store, "destroyed_early")
    assert f["severity"] == "critical" and "office's clock" in f["message"], f
    assert f["detail"]["clock"] == "office" and f["detail"]["evidence"] == "interval", f["detail"]
    assert 19.9 < f["detail"]["age_days"] < 20.1, f["detail"]  # at most, on the office's clock
    lo, hi = f["detail"]["age_us"]
    assert hi - lo < 30 * S and "recorded no earlier than" in f["message"], f  # the interval and its evidence
    store.close()


@pytest.mark.both_engines
def test_a_node_clock_20_hours_ahead_destroying_at_its_30_days_is_early_when_the_office_proves_it(tmp_path, shape):
    """No day's slack any more (issue 73): the office's samples prove the age to seconds, and 29.2
    days is below 30 (a box's gate would not have destroyed it on a clock nobody vouched for)."""
    store = _destroyed_at_its_30_days(tmp_path, 20 * HOUR, shape)
    (f,) = _found(store, "destroyed_early")
    assert 29.1 < f["detail"]["age_days"] < 29.2 and f["detail"]["clock"] == "office", f["detail"]
    store.close()


def test_a_node_clock_20_minutes_behind_destroying_at_its_30_days_is_no_finding(tmp_path, shape):
    store = _destroyed_at_its_30_days(tmp_path, -20 * MINUTE, shape)
    assert _retention_findings(store) == [] and _found(store, "destruction_unverified") == []
    assert [r["verdict"] for r in central_destructions(store)] == ["ok"]
    store.close()


def _heard_late(tmp_path, late_us: int, shape: str = "one") -> Store:
    """Footage recorded on a true clock whose message reached the office ``late_us`` late (an
    office outage, a box offline), with what the node queued since; destroyed at a true 30 days."""
    store, clock, node, verifier = _office(tmp_path, shape)
    (sid,) = node.record()
    clock.now = T0 + late_us
    node.record()                     # queued as it came back: the backlog drains with it
    node.send()
    verifier.run_once()
    clock.now = T0 + 30 * DAY + 10 * S
    node.destroy(sid)
    node.send()
    verifier.run_once()
    return store


def test_footage_heard_a_day_and_a_half_late_and_destroyed_lawfully_is_no_finding(tmp_path, shape):
    store = _heard_late(tmp_path, 36 * HOUR, shape)
    assert _retention_findings(store) == []
    store.close()


@pytest.mark.both_engines
def test_footage_heard_3_days_late_and_destroyed_lawfully_is_no_finding(tmp_path, shape):
    store = _heard_late(tmp_path, 3 * DAY, shape)
    assert _retention_findings(store) == []
    store.close()


def test_footage_backfilled_3_days_later_and_destroyed_lawfully_is_no_finding(tmp_path, shape):
    store, clock, node, verifier = _office(tmp_path, shape)
    clock.now = T0 + 3 * DAY
    ids = node.record(3, carried_from=T0 - 3 * SEGMENT)   # the camera's own recording of T0, fetched now
    node.send()
    verifier.run_once()
    clock.now = T0 + 30 * DAY + 10 * S
    node.destroy(ids[-1])
    node.send()
    verifier.run_once()
    assert _retention_findings(store) == []
    store.close()


@pytest.mark.both_engines
def test_a_node_clock_60_days_behind_keeping_90_days_is_found_within_a_day_of_the_maximum(tmp_path, shape):
    store, clock, node, verifier = _office(tmp_path, shape)
    (sid,) = node.record()
    node.send()
    verifier.run_once()
    node.set_offset(-60 * DAY)         # its clock falls behind: nothing is due by it for 60 more days
    found_us = None
    while clock.now < T0 + 32 * DAY:   # it records on and tells the office, every 6 hours here
        clock.now += 6 * HOUR
        node.record()
        node.send()
        verifier.run_once(clock.now)
        if found_us is None and _found(store, "kept_past_maximum"):
            found_us = clock.now
    assert found_us is not None and T0 + 30 * DAY < found_us <= T0 + 31 * DAY, (found_us - T0) / DAY
    (f,) = _found(store, "kept_past_maximum")
    assert f["severity"] == "critical" and f["detail"]["clock"] == "office" and f["detail"]["max_days"] == 30
    assert f["found_us"] == found_us, "found on the office's clock"
    # and when the destruction comes at a true 90 days (its "30"), it is not early
    clock.now = T0 + 90 * DAY
    node.destroy(sid)
    node.send()
    verifier.run_once(clock.now)
    assert _found(store, "destroyed_early") == []
    store.close()


@pytest.mark.both_engines
def test_a_capacity_destruction_at_a_true_10_days_on_a_clock_20_days_ahead_breaches_the_minimum(tmp_path, shape):
    store, clock, node, verifier = _office(tmp_path, shape, min_days=30, max_days=365)
    (sid,) = node.record()
    node.send()
    verifier.run_once()
    node.set_offset(20 * DAY)
    clock.now = T0 + 10 * DAY
    node.destroy(sid, reason="capacity", free_before=10, reserve=100)  # under disk pressure: 30 days by its stamps
    node.send()
    verifier.run_once()
    (f,) = _found(store, "min_retention_breached")
    assert f["severity"] == "critical" and f["detail"]["clock"] == "office", f
    assert 9.9 < f["detail"]["age_days"] < 10.1 and "below the minimum 30" in f["message"], f
    store.close()


@pytest.mark.both_engines
def test_a_box_that_stops_destroying_is_found(tmp_path, shape):
    store, clock, node, verifier = _office(tmp_path, shape, min_days=7, max_days=10)
    stop = T0 + 20 * DAY
    found: dict[str, int] = {}
    while clock.now < T0 + 23 * DAY:
        clock.now += 6 * HOUR
        node.record()
        if clock.now < stop:           # its retention pass runs until day 20, then stops
            for sid, end in list(node.ends.items()):
                if node.now() - end >= 10 * DAY:
                    node.destroy(sid)
                    del node.ends[sid]
        node.send()
        verifier.run_once(clock.now)
        for kind in ("kept_past_maximum", "retention_stopped"):
            if kind not in found and _found(store, kind):
                found[kind] = clock.now
    assert set(found) == {"kept_past_maximum", "retention_stopped"}, found
    assert all(stop < at <= stop + 2 * DAY for at in found.values()), {k: (v - T0) / DAY for k, v in found.items()}
    assert _found(store, "destroyed_early") == []
    store.close()


@pytest.mark.both_engines
def test_each_destruction_of_one_pass_is_judged_alone(tmp_path, shape):
    """A pass destroying footage recorded at T0 (lawful at its 30 days) and footage recorded 20
    days later (10 days old: early): one early destruction, on the office's clock, whichever shape
    carried the two; each destruction its own row and verdict."""
    store, clock, node, verifier = _office(tmp_path, shape)
    (old,) = node.record()
    node.send()
    verifier.run_once()
    clock.now = T0 + 20 * DAY
    (new,) = node.record()
    node.send()
    verifier.run_once()
    clock.now = T0 + 30 * DAY + 10 * S
    node.destroy(old)
    node.destroy(new)
    node.send()
    verifier.run_once()
    rows = central_destructions(store)
    assert [(r["segment_id"], r["verdict"]) for r in rows] == [(old, "ok"), (new, "early")], rows
    assert [r["n"] for r in rows] == ([0, 0] if shape == "one" else [0, 1]), "a pass's destructions by position"
    assert len({r["seq"] for r in rows}) == (2 if shape == "one" else 1), "one message a pass"
    (f,) = _found(store, "destroyed_early")
    assert f["detail"]["clock"] == "office" and 9.9 < f["detail"]["age_days"] < 10.1, f["detail"]
    assert _found(store, "min_retention_breached") == [] and _found(store, "malformed_message") == []
    store.close()


@pytest.mark.both_engines
def test_footage_under_a_hold_is_not_kept_past_its_maximum_and_what_follows_it_is(tmp_path):
    store, clock, node, verifier = _office(tmp_path, min_days=7, max_days=10)
    body = {"seq": 1, "at_us": node.now(), "actor": "carol", "action": "hold.add",
            "detail": {"id": 1, "kind": "evidence", "from_us": T0 - DAY, "to_us": T0 + DAY}}
    node.queue("audit", {"seq_local": 1, "at_us": body["at_us"], "actor": "carol", "action": "hold.add",
                         "detail": body["detail"], "prev_hash": audit.GENESIS,
                         "hash": audit.record_hash(audit.GENESIS, body)})
    while clock.now < T0 + 11 * DAY + 12 * HOUR:
        clock.now += 6 * HOUR
        node.record()
        node.send()
        verifier.run_once(clock.now)
    assert _found(store, "kept_past_maximum") == [], "the footage of the hold, and what follows it not due yet"
    while clock.now < T0 + 12 * DAY + 6 * HOUR:
        clock.now += 6 * HOUR
        node.record()
        node.send()
        verifier.run_once(clock.now)
    (f,) = _found(store, "kept_past_maximum")
    assert node.ends[f["detail"]["first_id"]] > T0 + DAY, "the first range after the hold"
    assert _found(store, "audit_record_altered") == []
    store.close()


# the pure verdicts, by table ---------------------------------------------------------------------
@pytest.mark.parametrize("m, n", [
    ({"camera": "cam", "reason": "capacity", "end_us": 1}, 1),                               # an older box: one
    ({"pass_id": "p", "destructions": [{"camera": "a"}, {"camera": "b"}, "junk"]}, 2),       # a pass's batch
    ({"pass_id": "p", "destructions": []}, 0),
])
def test_a_retention_message_of_either_shape_gives_its_destructions(m, n):
    assert len(verify.destructions(m)) == n


W = verdicts.OFFSET_WINDOW_US


@pytest.mark.parametrize("before, after, offset", [
    ([(T0 - HOUR, T0 - HOUR)], [(T0 - 3 * DAY, T0), (T0 + S, T0 + S)], 0),             # a backlog, a true clock
    ([(T0 - HOUR, T0 - HOUR)], [(T0 + 2 * HOUR, T0)], 0),                            # set ahead after: not lent
    ([(T0 + DAY - HOUR, T0 - HOUR)], [(T0, T0)], 0),                                 # put back before: not lent
    ([(T0 - 60 * DAY - HOUR, T0 - HOUR)], [(T0 - 60 * DAY, T0)], -60 * DAY),         # behind all along
    ([], [(T0, T0)], None),                                                           # nothing before: no wait
    ([(T0 - HOUR, T0 - HOUR)], [(T0 + DAY, T0 + W + 1)], None),                      # nothing soon after
    ([(T0 - 1, T0 - 1)], [(T0, T0)], None),                                           # "before" in the burst
])
def test_the_nodes_offset_as_the_office_saw_it(before, after, offset):
    assert verdicts.offset_seen(before, after, T0) == offset


SEG = {"camera": "cam", "start_us": T0 - 2 * DAY - SEGMENT, "end_us": T0 - 2 * DAY, "reason": "max_retention"}


@pytest.mark.parametrize("heard, seg, at, how", [
    (verdicts.Heard(T0), SEG, T0, "heard"),                                            # receipt only
    (verdicts.Heard(T0, T0 - 3 * DAY, 0), SEG, T0 - 3 * DAY, "stamped"),               # waited 3 days
    (verdicts.Heard(T0, T0 - 3 * DAY, None), SEG, T0, "heard"),                        # offset unseen: no wait
    (verdicts.Heard(T0, T0 - 3 * DAY, -3 * DAY), SEG, T0, "heard"),                    # a clock behind: no wait
])
def test_when_the_watch_takes_a_range_as_queued(heard, seg, at, how):
    assert verdicts.recorded_by(seg, heard) == (at, how)


D = {"camera": "cam", "start_us": T0 - SEGMENT, "end_us": T0, "segment_id": 5, "bytes": 1}


def _line(offset: int, until: int, rtt: int = S, since: int = T0 - DAY) -> "interval.ClockLine":
    """A node whose clock ran true until ``since`` and ``offset`` from the office's from then to
    ``until``, sampled hourly."""
    return interval.ClockLine([interval.Sample(t, t + (offset if t >= since else 0) + rtt // 2, t + rtt, "b",
                                               t - T0 + 10**12) for t in range(T0 - DAY, until + HOUR, HOUR)])


@pytest.mark.parametrize("d, heard, reported, line, verdict, clock, evidence", [
    ({**D, "reason": "max_retention", "destroyed_us": T0 + 30 * DAY}, verdicts.Heard(T0), T0 + 20 * DAY,
     _line(0, T0 + 21 * DAY), "early", "office", "interval"),          # its stamps say 30 days: the office 20
    ({**D, "reason": "max_retention", "destroyed_us": T0 + 30 * DAY}, verdicts.Heard(T0), T0 + 30 * DAY,
     _line(0, T0 + 31 * DAY), "ok", "office", "interval"),             # proven on both sides
    ({**D, "reason": "max_retention", "destroyed_us": T0 + 30 * DAY}, verdicts.Heard(T0 + 3 * DAY),
     T0 + 33 * DAY, _line(0, T0 + 34 * DAY), "ok", "office", "interval"),  # heard 3 days late: only a latest
    ({**D, "reason": "max_retention", "destroyed_us": T0 + 30 * DAY}, verdicts.Heard(T0), T0 + 31 * DAY,
     interval.ClockLine([]), "unverified", "office", "interval"),      # no sample: no earliest
    ({**D, "reason": "max_retention", "destroyed_us": T0 + 20 * DAY}, verdicts.Heard(T0), T0 + 30 * DAY,
     interval.ClockLine([]), "early", "node", "stamps"),               # its own stamps say so
    ({**D, "reason": "max_retention", "destroyed_us": T0 + 45 * DAY}, verdicts.Heard(T0), T0 + 45 * DAY,
     _line(0, T0 + 46 * DAY), "kept_past_maximum", "office", "interval"),  # 15 days past its maximum
    ({**D, "reason": "max_retention", "destroyed_us": T0 + 45 * DAY}, verdicts.Heard(T0), T0 + 45 * DAY,
     interval.ClockLine([]), "kept_past_maximum", "node", "stamps"),   # by its own stamps
    ({**D, "reason": "capacity", "destroyed_us": T0 + 30 * DAY, "free_before": 1, "reserve": 9},
     verdicts.Heard(T0), T0 + 10 * DAY, _line(20 * DAY, T0 + 11 * DAY, since=T0 + DAY), "min_breached", "office",
     "interval"),                                                      # its clock 20 days ahead since: 10 days
    ({**D, "reason": "capacity", "destroyed_us": T0 + 30 * DAY, "free_before": 10, "reserve": 9},
     verdicts.Heard(T0), T0 + 30 * DAY, _line(0, T0 + 31 * DAY), "early", "node", "record"),  # no disk pressure
])
def test_the_verdict_of_one_destruction_and_what_it_was_judged_on(d, heard, reported, line, verdict, clock, evidence):
    v = verdicts.judge(d, heard=heard, reported_us=reported, min_days=30, max_days=30, line=line)
    assert (v.verdict, v.clock, v.evidence) == (verdict, clock, evidence), v.why
    assert finding_words.basis(v.basis()), "the words of its clock and evidence"


def _range(first: int, heard_us: int, from_us: int | None = None) -> verdicts.Range:
    """A range heard at ``heard_us``, its footage message stamped then on a true clock."""
    return verdicts.Range(first, first + 9, verdicts.Heard(heard_us, heard_us), from_us, None if from_us is None
                          else from_us + HOUR)


TRUE = _line(0, T0 + 40 * DAY)  # a node answering the office's time requests hourly on a true clock


@pytest.mark.parametrize("oldest, newest, holds, destroyed, kinds", [
    (_range(1, T0), _range(90, T0 + 30 * DAY + 13 * HOUR), [], T0 + 30 * DAY, ["kept_past_maximum"]),
    (_range(1, T0), _range(90, T0 + 30 * DAY + 11 * HOUR), [], T0 + 29 * DAY, []),  # not a day yet
    (_range(1, T0), _range(90, T0 + 30 * DAY + 13 * HOUR), [], None, ["kept_past_maximum", "retention_stopped"]),
    (_range(1, T0, T0), _range(90, T0 + 31 * DAY), [(T0 - DAY, T0 + DAY)], None, []),  # under a hold
    (_range(1, T0, T0), _range(90, T0 + 31 * DAY), [(T0 + DAY, T0 + 2 * DAY)], None,
     ["kept_past_maximum", "retention_stopped"]),                                       # another time's hold
])
def test_footage_kept_past_its_maximum_and_a_stopped_pass(oldest, newest, holds, destroyed, kinds):
    found = [f for f in (verdicts.kept(oldest, newest, 30, holds, TRUE), verdicts.stopped(oldest, newest, 30, holds,
                                                                                            destroyed, TRUE)) if f]
    assert [f.kind for f in found] == kinds
    assert all(f.about_us == T0 + 30 * DAY and f.detail["clock"] == "office" for f in found)
    # the newest range heard at once, but nothing proves when it was sent (no sample): no finding
    assert verdicts.kept(oldest, newest, 30, holds, interval.ClockLine([])) is None


def test_the_holds_a_nodes_audit_leaves_in_force():
    recs = [{"action": "hold.add", "detail": json.dumps({"id": 1, "from_us": 1, "to_us": 2})},
            {"action": "hold.add", "detail": {"id": 2, "from_us": 3, "to_us": 4}},
            {"action": "hold.add", "detail": {"id": 3, "from_us": 5, "to_us": 6}},
            {"action": "hold.release", "detail": {"id": 2}}, {"action": "hold.expired", "detail": {"id": 3}}]
    assert verdicts.holds_in_force(recs) == [(1, 2)]


def test_the_longest_maximum_in_force_since_the_footage():
    rules = [(T0, node_births.retention_rules({"retention": {"max_days": 30, "cameras": {"c": {"max_days": 90}}}})),
             (T0 + DAY, node_births.retention_rules({"retention": {"max_days": 20}}))]
    assert verdicts.longest_max(rules, T0 + HOUR) == 90
    assert verdicts.longest_max(rules, T0 + 2 * DAY) == 20
    assert verdicts.longest_max([], T0) is None


@pytest.mark.both_engines
def test_the_auditors_month_shows_each_retention_verdict_and_what_it_was_judged_on(tmp_path, shape):
    store = _destroyed_at_its_30_days(tmp_path, 10 * DAY, shape)  # found at the office's T0 + 20 days
    ym = datetime.fromtimestamp((T0 + 20 * DAY) / 1e6, UTC).strftime("%Y-%m")
    rows = month.sections(month.gather(store, "s", ym, UTC, T0 + 21 * DAY))["retention_findings"]
    assert [r["kind"] for r in rows] == ["destroyed_early"], "in the month of the office's clock, not the node's"
    zh = Speaker("zh-TW", UTC)
    cells = dict(zip(month.SECTIONS["retention_findings"], month.cells(zh, "retention_findings", rows[0])))
    assert cells["title"] == "影像提早銷毀" and cells["basis"] == "本中心時鐘，依時間區間及其各界限之證據", cells
    assert month.headers(zh, "retention_findings")[4] == "判定依據" and month.bad("retention_findings", rows[0])
    assert list(month.SECTIONS).index("retention_findings") == list(month.SECTIONS).index("retention") + 1
    store.close()
