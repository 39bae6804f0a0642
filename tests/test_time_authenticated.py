"""Issue 90 item 1 (design/0370), as properties of the pure gate (storage/time/corroboration.py):
only an authenticated source moves judged time forward.

A box's life after its last authenticated reading: retention passes, host clock steps of any size
(23 h again and again, a year), restarts and reboots, cameras saying anything (following the box,
naming another server, set by hand), a monotonic clock up to 500 ppm fast or slow. Whatever they
say, the time retention proves never passes the last authenticated reading plus the monotonic
time measured since in the same boot (a reboot adds nothing). And with genuine but replayed or late
office times among them (the office read them before the box heard them), it never passes the
true time.
"""

from __future__ import annotations

from dataclasses import dataclass

from hypothesis import strategies as st

from storage.time import corroboration as co
from tests.support.properties import at_two_lengths


S = co.SECOND_US
H = 3_600 * S
D = co.DAY_US
YEAR = 365 * D
TRUE0 = 1_790_000_000 * S


@dataclass
class Box:
    ppm: int
    true: int = TRUE0
    ahead: int = 0            # the host clock less the true time
    mono: int = 5 * S
    boot: int = 0
    bound: int = TRUE0        # the last authenticated reading plus the monotonic time measured since
    carried: co.Carried | None = None
    office: tuple[int, int] | None = None  # a genuine signed office time heard (not tied to our nonce)

    def __post_init__(self) -> None:  # the last authenticated reading: the office's, at the true time
        self.carried = co.Carried(TRUE0, self.mono, "0", "the central office's signed time", TRUE0)

    @property
    def host(self) -> int:
        return self.true + self.ahead

    def let_pass(self, true_us: int) -> None:
        ticks = true_us + true_us * self.ppm // 1_000_000
        self.true += true_us
        self.mono += ticks
        self.bound += ticks

    def reboot(self, down_us: int, ahead: int) -> None:
        self.true += down_us  # not measurable: nothing added to the bound
        self.mono, self.boot, self.ahead, self.office = 5 * S, self.boot + 1, ahead, None

    def retention_pass(self, cams: list[tuple[int, bool]]) -> co.Verdict:
        readings = [co.Reading(co.CAMERA, f"c{i}", off, 0, independent) for i, (off, independent) in enumerate(cams)]
        if self.office is not None:
            readings.append(co.Reading(co.OFFICE, "office", co.office_offset(*self.office, self.host, self.mono),
                                       self.mono - self.office[1]))
        v = co.judge(readings)
        proven = co.proven_now(v, self.host, self.carried, str(self.boot), self.mono)
        kept = co.kept(proven, self.host)
        vouched = co.vouched_since(self.carried, co.vouched(v, self.host), kept)
        self.carried = co.Carried(kept.us, self.mono, str(self.boot), kept.evidence, vouched)
        self.proven = proven
        return v


# what cameras may say, as offsets from the host: following it (0), the true time, anything
CAMS = st.lists(st.tuples(st.one_of(st.just(0), st.integers(-2 * YEAR, 2 * YEAR), st.integers(-H, H)),
                          st.booleans()), max_size=4)
STEP = st.one_of(st.just(23 * H), st.just(6 * H), st.just(H), st.integers(-2 * YEAR, 2 * YEAR))
EVENT = st.one_of(
    st.tuples(st.just("pass"), st.integers(S, 6 * H)),
    st.tuples(st.just("step"), STEP),
    st.tuples(st.just("cams"), CAMS),
    st.tuples(st.just("reboot"), st.tuples(st.integers(0, 40 * D), st.one_of(st.just(0), STEP))),
)


def _live(box: Box, events: list, replay: bool) -> None:
    for kind, arg in events:
        cams: list[tuple[int, bool]] = []
        if kind == "pass":
            box.let_pass(arg)
        elif kind == "step":
            box.ahead += arg
        elif kind == "cams":
            cams = [(box.true - box.host + off if off % 2 else off, ind) for off, ind in arg]  # the truth, or a lie
        elif kind == "reboot":
            box.reboot(*arg)
        elif kind == "replay" and replay:
            box.office = (box.true - arg, box.mono)  # genuine, read at the office `arg` ago (a replay, a late one)
        v = box.retention_pass(cams)
        if not replay:
            assert box.proven.us <= box.bound, (
                f"judged time {(box.proven.us - box.bound) / H:+.3f} h past the last authenticated reading plus "
                f"the monotonic time since (host {box.ahead / H:+.1f} h, verdict {v.state}/{v.source})")
        assert box.proven.us <= box.true, f"judged time {(box.proven.us - box.true) / H:+.3f} h past the true time"


@at_two_lengths(400, st.integers(-500, 500), st.lists(EVENT, min_size=1, max_size=60))
def test_unauthenticated_readings_never_move_judged_time_past_the_monotonic_bound(ppm, events):
    _live(Box(ppm), events, replay=False)


@at_two_lengths(300, st.integers(-500, 500),
       st.lists(st.one_of(EVENT, st.tuples(st.just("replay"), st.integers(0, 2 * YEAR))), min_size=1, max_size=60))
def test_replayed_office_times_never_move_judged_time_past_the_true_time(ppm, events):
    _live(Box(ppm), events, replay=True)


def test_repeated_23_hour_steps_with_cameras_following_move_nothing():
    """The issue's attack (item 1): box and cameras stepped +23 h again and again, 32 times, a pass
    each second: the judged time is the last authenticated reading plus the 32 s measured."""
    box = Box(0)
    for _ in range(32):
        box.ahead += 23 * H
        box.let_pass(S)
        v = box.retention_pass([(0, True), (0, True)])   # they agree with the host: not a vouch
        assert v.state == co.UNHEARD and v.source == co.CAMERA
    assert TRUE0 + 32 * S - 20_000 < box.proven.us <= TRUE0 + 32 * S  # less the 500 ppm drift allowance
    assert box.host - box.proven.us > 30 * D


def test_a_box_unvouched_for_longer_than_its_minimum_says_so_once():
    box = Box(0)
    for _ in range(3):
        box.let_pass(12 * H)
        box.retention_pass([(0, True), (0, True)])
    assert box.carried is not None and box.carried.vouched_us == TRUE0
    unvouched = co.unvouched_for(box.proven, box.carried.vouched_us)
    assert 36 * H - 70 * S < unvouched <= 36 * H  # measured on the proven time, less its drift allowance
    v = co.judge([])
    assert co.held_back(v, box.host, box.proven.us, "x", unvouched_us=unvouched, minimum_us=2 * D) == ""
    why = co.held_back(v, box.host, box.proven.us, "x", unvouched_us=unvouched, minimum_us=D)
    assert "no authenticated time source has vouched for 1.5 days" in why and "confirm-time" in why
    # a year-old office time replayed: a lower bound far behind what is proven, it vouches for nothing new
    box.office = (box.true - YEAR, box.mono)
    box.retention_pass([])
    assert box.carried.vouched_us == TRUE0
    # heard again (the office's live time, agreeing): the span starts again
    box.office = (box.true, box.mono)
    box.retention_pass([])
    assert box.carried.vouched_us == box.proven.us


def test_retention_achieved_cannot_be_judged_while_the_clock_is_in_dispute():
    """Issue 90 item 4 (design/0372): the box 40 days ahead of the office's time (an exchange tied to
    its nonce): `state` and `edgectl retention` said `achieved_days 40.001` and every camera "OK"."""
    from storage.retention.report import UNJUDGED, judged_on_clock

    v = co.judge([co.Reading(co.OFFICE, "office", -40 * D, tied=True)])
    why = co.in_dispute(v, TRUE0 + 40 * D, None)
    assert v.state == co.DISAGREES and "40.0 days ahead" in why
    report = {"forecast_us": 50 * D, "cameras": [
        {"camera": "door", "achieved_us": 40 * D, "verdict": "OK", "oldest_us": TRUE0},
        {"camera": "lobby", "achieved_us": None, "verdict": "NOT RECORDED", "oldest_us": None}]}
    got = judged_on_clock(report, why)
    assert [(c["achieved_us"], c["verdict"]) for c in got["cameras"]] == [(None, UNJUDGED), (None, "NOT RECORDED")]
    assert got["clock_dispute"] == why and got["forecast_us"] == 50 * D
    assert judged_on_clock(report, "") is report
    # held back: the host a day ahead of what retention can prove, nothing disagreeing: in dispute too
    assert "ahead of the earliest time retention can prove" in co.in_dispute(co.judge([]), TRUE0 + D, TRUE0)
    assert co.in_dispute(co.judge([]), TRUE0 + 60 * S, TRUE0) == ""


def test_confirm_time_shows_what_it_makes_due_and_destroys_nothing(tmp_path):
    """Issue 90 item 3 (design/0373): over a real catalog, what an approver's confirmation of a host
    clock two years ahead would make due: per camera the count, bytes, oldest start and newest end of
    the footage past its maximum at the host's time and not at the proven time; nothing is destroyed
    by asking, and a held segment is not among them."""
    from edged.config import CameraConfig, RetentionConfig
    from storage import cameras as camera_table
    from storage.catalog import open_db
    from storage.retention.holds import add_hold
    from storage.retention.run import due_if_confirmed
    from tests.support.catalog import add_segments, rows

    db = open_db(tmp_path / "catalog.db")
    camera_table.sync(db, [{"id": c, "name": c, "url": "synthetic:", "enabled": 1} for c in ("c1", "c2")], TRUE0)

    def seg(cam: str, end: int) -> dict:
        return {"camera": cam, "start_us": end - 60 * S, "end_us": end, "path": f"video/{cam}-{end}.mp4",
                "bytes": 100, "state": "complete", "created_us": end - 60 * S}

    add_segments(db, [seg("c1", TRUE0 - 400 * D), seg("c1", TRUE0 - 100 * D), seg("c1", TRUE0 - D),
                      seg("c2", TRUE0 - 50 * D), seg("c2", TRUE0 - 10 * D)])
    add_hold(db, kind="legal", cameras=["c2"], from_us=TRUE0 - 11 * D, to_us=TRUE0 - 9 * D, reason="case 7",
             case_ref="7", placed_by="x", expires_us=None, now=TRUE0)
    retention = RetentionConfig(max_retention_us=365 * D, min_retention_us=30 * D)
    cams = [CameraConfig(id=c, name=c, url="synthetic:") for c in ("c1", "c2")]
    host = TRUE0 + 2 * YEAR
    due = due_if_confirmed(db, retention, cams, 10**12, host, TRUE0, host - H)
    assert due == {"c1": {"segments": 2, "bytes": 200, "oldest_us": TRUE0 - 100 * D - 60 * S, "newest_us": TRUE0 - D},
                   "c2": {"segments": 1, "bytes": 100, "oldest_us": TRUE0 - 50 * D - 60 * S,
                          "newest_us": TRUE0 - 50 * D}}   # the 400-day one is due already; the held one never
    assert len(rows(db, "segments")) == 5 and rows(db, "destructions") == []
    assert due_if_confirmed(db, retention, cams, 10**12, TRUE0, TRUE0, TRUE0 - H) == {}   # a right clock: nothing new
