"""The box's retention gate as pure functions (issue 73 items 1 and 6, design/0305): the proven time
never lets footage go before its true age reaches the maximum, whatever the host clock says, the
reboots and the vouched readings; and the box's signed answer to the office's question.

The property test lives a box's life on a true clock: passes, recordings, reboots (the monotonic
clock starts again, the host clock comes back off by up to days or years ahead), the office's signed
time heard after a delay, an approver confirming a right clock, a monotonic clock that drifts by up
to 500 ppm. A clock behind the true time stamps its footage early: that is design/0059's re-stamp
and flags, not this gate's (design/0305 "Limits"), so the host clock here is right or ahead.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass, field

import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import strategies as st

from mqtt import office_time
from mqtt.commands import canonical
from storage.retention.budget import plan_at
from storage.retention.plan import MAX_RETENTION, Disk, Limits, Policy, Segment
from storage.time import corroboration as co
from tests.support.properties import at_two_lengths


S = co.SECOND_US
H = 3_600 * S
D = co.DAY_US
YEAR = 365 * D
TRUE0 = 1_790_000_000 * S
GB = 1_000_000_000


@dataclass
class Box:
    """The world as the test knows it (true time) and as the box reads it (host, monotonic)."""
    ppm: int
    true: int = TRUE0
    ahead: int = 0             # the host clock less the true time, this boot
    mono: int = 5 * S          # CLOCK_MONOTONIC, this boot
    boot: int = 0
    carried: co.Carried | None = None
    office: tuple[int, int] | None = None      # (the office's signed time heard, our monotonic then)
    confirmed: bool = False
    segs: list[tuple[Segment, int]] = field(default_factory=list)  # (as stamped, its true end)
    next_id: int = 1

    @property
    def host(self) -> int:
        return self.true + self.ahead

    def let_pass(self, true_us: int) -> None:
        self.true += true_us
        self.mono += true_us + true_us * self.ppm // 1_000_000

    def reboot(self, down_us: int, ahead: int) -> None:
        self.let_pass(down_us)
        self.mono, self.boot, self.ahead, self.office = 5 * S, self.boot + 1, ahead, None

    def record(self) -> None:
        seg = Segment(self.next_id, "cam", self.host - 2 * S, self.host, GB)
        self.segs.append((seg, self.true))
        self.next_id += 1

    def hear_office(self, delay_us: int) -> None:
        self.office = (self.true - delay_us, self.mono)  # read at the office, then on its way

    def retention_pass(self, policy: Policy) -> list[tuple[Segment, int]]:
        readings = []
        if self.office is not None:
            readings.append(co.Reading(co.OFFICE, "office", co.office_offset(*self.office, self.host, self.mono),
                                       self.mono - self.office[1]))
        v = co.judge(readings)
        proven = co.proven_now(v, self.host, self.carried, str(self.boot), self.mono, self.confirmed)
        age = co.age_now(v, self.host, proven)
        ordered = sorted((s for s, _ in self.segs), key=lambda s: (s.start_us, s.id))
        p = plan_at(ordered, [], policy, Disk(100 * GB, 200 * GB), self.host, age_trusted=age is not None,
                    age_now_us=None if age is None or age >= self.host else age,
                    measured_from_us=self.host - self.mono)
        kept = co.kept(proven, self.host)
        self.carried, self.confirmed = co.Carried(kept.us, self.mono, str(self.boot), kept.evidence), False
        gone = {d.segment.id for d in p.destroy if d.reason == MAX_RETENTION}
        out = [(s, t) for s, t in self.segs if s.id in gone]
        self.segs = [(s, t) for s, t in self.segs if s.id not in gone]
        return out


AHEAD = st.one_of(st.just(0), st.integers(1, 3 * D), st.integers(YEAR, 2 * YEAR), st.integers(1, 119 * S))
EVENT = st.one_of(
    st.tuples(st.just("pass"), st.integers(1 * S, 6 * H)),
    st.tuples(st.just("record"), st.just(0)),
    st.tuples(st.just("reboot"), st.tuples(st.integers(0, 40 * D), AHEAD)),
    st.tuples(st.just("office"), st.integers(0, 30 * S)),
    st.tuples(st.just("confirm"), st.just(0)),
)


@at_two_lengths(300, st.integers(-500, 500), st.integers(H, 30 * D), st.lists(EVENT, min_size=1, max_size=80))
def test_never_destroyed_by_age_before_its_true_age_reaches_the_maximum(ppm, max_us, events):
    policy = Policy(Limits(0, max_us), {}, reserve_bytes=GB)
    box = Box(ppm)
    for kind, arg in events:
        if kind == "pass":
            box.let_pass(arg)
        elif kind == "record":
            box.record()
        elif kind == "reboot":
            box.reboot(*arg)
        elif kind == "office":
            box.hear_office(arg)
        elif kind == "confirm" and box.ahead == 0:  # an approver vouches for a right clock
            box.confirmed = True
        for seg, true_end in box.retention_pass(policy):
            assert box.true - true_end >= max_us, (
                f"segment {seg.id} destroyed at a true age of {(box.true - true_end) / D:.3f} days, "
                f"below the maximum {max_us / D:.3f} (host {box.ahead / D:+.3f} days)")


def test_with_the_offices_time_heard_destruction_resumes_after_a_reboot():
    """The liveness the property cannot show: a box rebooted two years ahead and set right again,
    footage recorded before the reboots waits until the office's signed time is heard, then goes
    as soon as its true age passes the maximum (within the drift allowance)."""
    policy = Policy(Limits(0, 5 * D), {}, reserve_bytes=GB)
    box = Box(ppm=0)
    box.record()
    box.retention_pass(policy)
    box.reboot(S, 2 * YEAR)       # two years ahead: the proven time moves as the monotonic clock does
    for _ in range(100):
        box.let_pass(H)
        assert box.retention_pass(policy) == []
    box.reboot(3 * D, 0)          # down three days, set right: the proven time is where it was (4.2 days on)
    box.let_pass(S)
    assert box.retention_pass(policy) == []
    box.hear_office(2 * S)        # the office's signed time: vouched
    box.let_pass(S)
    gone = box.retention_pass(policy)
    assert [s.id for s, _ in gone] == [1]


# the box's answer on `clock` -------------------------------------------------------------------------

def test_the_answer_echoes_the_question_and_is_signed_by_the_node_key():
    office, node = Ed25519PrivateKey.generate(), Ed25519PrivateKey.generate()
    q = json.loads(office_time.time_message(office.sign, "s/n", TRUE0))
    answer = json.loads(office_time.answer_message(q, node.sign, TRUE0 + 7, 123_456, "boot-1"))
    assert {k: answer[k] for k in ("nonce", "at_us", "node_us", "mono_us", "boot")} == {
        "nonce": q["nonce"], "at_us": TRUE0, "node_us": TRUE0 + 7, "mono_us": 123_456, "boot": "boot-1"}
    node.public_key().verify(base64.b64decode(answer["sig"]), canonical(answer))
    answer["node_us"] += 1
    with pytest.raises(InvalidSignature):
        node.public_key().verify(base64.b64decode(answer["sig"]), canonical(answer))


def test_each_genuine_question_is_answered_once_and_a_replay_of_an_old_one_never():
    office, stranger = Ed25519PrivateKey.generate(), Ed25519PrivateKey.generate()
    asked: list[str] = []
    ear = office_time.Listener(office.public_key(), "s/n", lambda _at: None, on_question=lambda q: asked.append(q["nonce"]))
    old = office_time.time_message(office.sign, "s/n", TRUE0)
    new = office_time.time_message(office.sign, "s/n", TRUE0 + 10 * 60 * S)
    ear.hear("time", old)
    ear.hear("time", office_time.time_message(stranger.sign, "s/n", TRUE0 + 11 * 60 * S))  # another key's: no
    ear.hear("time", new)
    ear.hear("time", new)                                    # the same again: answered once
    ear.hear("time", old)                                    # replayed, seen: nothing
    doc = json.loads(old)
    doc["to"] = "s/n"
    replay = office_time.time_message(office.sign, "s/n", TRUE0 + 60 * S)  # genuine, 9 minutes older than the newest
    ear.hear("time", replay)
    assert asked == [json.loads(old)["nonce"], json.loads(new)["nonce"]]
    # a signed command carries the office's time, but is no question
    ear.hear("hold", json.dumps({"cmd": "hold", "to": "s/n", "issued_us": TRUE0 + 11 * 60 * S, "nonce": "x",
                                 "sig": base64.b64encode(b"\0" * 64).decode()}).encode())
    assert len(asked) == 2
