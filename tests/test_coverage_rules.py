"""Time counted once (design/0115), pure: the union of intervals, the holes, each instant counted
for one kind; which of the standby's segments a box fetches for a gap; who may ask; the office's
coverage of a camera across boxes; the [backfill] config; the time covered a node reports."""

from __future__ import annotations

import pytest

from central.checks.coverage import spans_of, summary
from edged.rules import from_standby as rules
from storage.footage.spans import by_kind, covered_us, holes, union

S = 1_000_000


@pytest.mark.parametrize("spans, merged", [
    ([], []),
    ([(0, 10)], [(0, 10)]),
    ([(5, 10), (0, 5)], [(0, 10)]),                     # touching: one
    ([(0, 10), (2, 3), (9, 12), (20, 30)], [(0, 12), (20, 30)]),
    ([(3, 3), (4, 2)], []),                             # empty or backwards: nothing
])
def test_union(spans, merged):
    assert union(spans) == merged
    assert covered_us(spans) == sum(b - a for a, b in merged)


@pytest.mark.parametrize("spans, longer, expected", [
    ([], 0, [(0, 100)]),
    ([(0, 100)], 0, []),
    ([(10, 20), (15, 40), (60, 120)], 0, [(0, 10), (40, 60)]),
    ([(10, 20), (15, 40), (60, 120)], 15, [(40, 60)]),   # only holes longer than 15
    ([(-50, 5), (95, 200)], 0, [(5, 95)]),               # spans beyond the window are cut to it
])
def test_holes(spans, longer, expected):
    assert holes(0, 100, spans, longer) == expected


def test_each_instant_counts_for_one_kind_and_the_sum_is_the_union():
    spans = [(0, 10, "live"), (5, 20, "stood_in"), (12, 20, "standby"), (18, 30, "backfilled")]
    got = by_kind(spans)
    assert got == {"live": 10, "backfilled": 12, "standby": 6, "stood_in": 2}
    assert sum(got.values()) == covered_us((a, b) for a, b, _k in spans) == 30


def test_the_office_counts_a_camera_once_across_boxes():
    found = [("s/node1", 0, 40 * S, "live"), ("s/node1", 52 * S, 100 * S, "live"),
             ("s/spare", 43 * S, 60 * S, "stood_in"), ("s/node1", 43 * S, 52 * S, "standby")]
    s = summary(found, 0, 100 * S)
    assert s["covered_us"] == 97 * S and s["holes"] == [[40 * S, 43 * S]]
    assert s["by_node"] == {"s/node1": 97 * S, "s/spare": 17 * S} and s["held_twice_us"] == 17 * S
    assert s["by_kind"] == {"live": 88 * S, "standby": 9 * S, "stood_in": 0}
    assert summary(found, 0, 100 * S, hole_us=5 * S)["holes"] == []


def test_a_footage_messages_spans_are_read_with_care():
    raw = {"door": [[1, 5, "live"], [5, 3, "live"], [1, 2, "bogus"], ["x", 2, "live"], [1, 2]], 7: [[1, 2, "live"]],
           "gate": "no", "yard": [[0, 9, "standby"], [True, 4, "live"]]}
    assert list(spans_of(raw)) == [("door", (1, 5, "live")), ("yard", (0, 9, "standby"))]
    assert list(spans_of(None)) == [] and list(spans_of([1])) == []


def seg(a, b, sha: str | None = "", **kw):
    return {"start_us": a, "end_us": b, "sha256": f"{a:064x}" if sha == "" else sha, "bytes": 10, **kw}


@pytest.mark.parametrize("why, offered, held, fetched", [
    ("overlapping the gap, whole", [seg(0, 2), seg(2, 4), seg(4, 6), seg(10, 12)], [], [2, 4]),
    ("held already (its hash)", [seg(2, 4), seg(4, 6)], [seg(0, 2), {"start_us": 7, "end_us": 8, "sha256": f"{2:064x}"}],
     [4]),
    ("a box's own segment at that start", [seg(2, 4), seg(4, 6)], [{"start_us": 4, "end_us": 6, "sha256": None}], [2]),
    ("no hash offered: never", [seg(2, 4, sha=None), seg(4, 6)], [], [4]),
])
def test_which_segments_a_box_fetches(why, offered, held, fetched):
    def sec(rows):  # the table in seconds (a segment is fetched for at least MIN_LACK_US the box lacks)
        return [{**r, "start_us": r["start_us"] * S, "end_us": r["end_us"] * S} for r in rows]
    got = rules.to_fetch(3 * S, 6 * S, sec(offered), sec(held))
    assert [o["start_us"] // S for o in got] == fetched, why


def test_which_gaps_are_asked_and_how_they_end():
    now = 10_000 * S
    gaps = [{"camera": "a", "from_us": now - 100 * S, "to_us": now - 90 * S},
            {"camera": "a", "from_us": now - 20 * S, "to_us": now - 2 * S},        # not settled
            {"camera": "x", "from_us": now - 50 * S, "to_us": now - 40 * S},       # not this box's
            {"camera": "a", "from_us": now - 3 * rules.ASK_FOR_US, "to_us": now - 2 * rules.ASK_FOR_US}]  # too old
    assert [g["to_us"] for g in rules.next_gaps(gaps, {"a"}, now)] == [now - 90 * S]
    assert rules.state_after(3, 3) == rules.state_after(0, 2) == "done" and rules.state_after(0, 0) == "none"
    assert rules.cameras_for("node1", [("a", "node1"), ("b", "node2"), ("c", None)]) == {"a"}


@pytest.mark.parametrize("backfill, field", [
    ({"cap_mbit": 0}, "backfill.cap_mbit"),
    ({"cap_mbit": "16"}, "backfill.cap_mbit"),
    ({"standby": "10.0.0.9"}, "backfill.standby"),
    ({"listen": "0.0.0.0:99999"}, "backfill.listen"),
    ({"speed": 1}, "backfill"),
])
def test_backfill_config_errors_name_the_key(backfill, field):
    from edged.config import ConfigError, parse_config

    with pytest.raises(ConfigError) as info:
        parse_config({"site": {"id": "s"}, "storage": {"data_dir": "/tmp/x"}, "cameras": [], "backfill": backfill})
    assert field in str(info.value)


def test_backfill_config_defaults_and_values():
    from edged.config import parse_config

    base = {"site": {"id": "s"}, "storage": {"data_dir": "/tmp/x"}, "cameras": []}
    assert parse_config(base).backfill.cap_bytes_s == 2_000_000  # 16 Mbit/s
    cfg = parse_config({**base, "backfill": {"cap_mbit": 40, "standby": "10.0.0.9:7443"}})
    assert cfg.backfill.cap_bytes_s == 5_000_000 and cfg.backfill.standby == "10.0.0.9:7443"


def test_a_node_reports_the_time_its_footage_covers_once_closed(tmp_path):
    """storage/retention/report.footage_since over a real catalog: the spans by kind go with the
    range of new segments, up to the first one still being written; that one goes once closed,
    with the same range again when nothing new came (a standby at rest)."""
    from storage import cameras as camera_table
    from storage import node
    from storage.catalog import Catalog, open_db
    from storage.footage import from_standby, segment_rows
    from storage.retention.report import FIRST_KEY, FOOTAGE_KEY, SPANS_KEY, footage_since
    from tests.support.catalog import add_segments

    db = open_db(tmp_path / "catalog.db")
    cat = Catalog(db)
    camera_table.sync(cat.db, [{"id": "door", "name": "door", "url": "synthetic:", "enabled": 1},
                               {"id": "gate", "name": "gate", "url": "synthetic:", "enabled": 0, "box": "node1"}], 0)

    def told(got):  # what the reporter does once the message is queued
        marks = {FOOTAGE_KEY: got[-1]["last_id"], FIRST_KEY: got[-1]["first_id"]}
        if SPANS_KEY in got[-1]:
            marks[SPANS_KEY] = got[-1].pop(SPANS_KEY)
        node.set_values(db, marks)
        return got[-1].get("spans")

    def row(cam, a, b, state="complete", source=None):
        return {"camera": cam, "start_us": a * S, "end_us": b * S if b else None, "path": f"video/{cam}/{a}.mp4",
                "bytes": 1, "state": state, "created_us": a * S}

    assert footage_since(db) == []  # the first time: what is on record predates the office
    add_segments(db, [row("door", 10, 12), row("door", 12, 14), row("gate", 11, 13), row("door", 14, None, "writing")])
    assert told(footage_since(db)) == {"door": [[10 * S, 14 * S, "live"]], "gate": [[11 * S, 13 * S, "stood_in"]]}
    segment_rows.close(db, "video/door/14.mp4", {"end_us": 16 * S})
    again = footage_since(db)  # nothing new: the same range, with the span of what closed
    assert [(g["first_id"], g["last_id"]) for g in again] == [(1, 4)]
    assert told(again) == {"door": [[14 * S, 16 * S, "live"]]}
    assert footage_since(db) == []
    from_standby.open_segment(db, "door", 4 * S, "video/door/4.mp4", 0)  # fetched back from the standby
    segment_rows.close(db, "video/door/4.mp4", {"end_us": 6 * S, "bytes": 1})
    assert told(footage_since(db)) == {"door": [[4 * S, 6 * S, "standby"]]}


def test_edgectl_status_says_what_is_fetched_from_the_standby():
    from edged.cli.edgectl import from_standby_text

    span = {"camera": "door", "from_us": 1_795_000_000 * S, "to_us": 1_795_000_060 * S}
    lines = from_standby_text({"from_standby_now": {**span, "standby": "spare", "fetched": 3, "segments": 30},
                               "from_standby": [{**span, "segments": 30}, {**span, "segments": 0}]})
    assert "being fetched from the standby spare (3 of 30 segments)" in lines[0]
    assert "filled from the standby (30 segments)" in lines[1] and "the standby had nothing of it" in lines[2]
    assert from_standby_text({}) == []


def test_a_footage_message_over_the_span_cap_is_continued_not_cut(tmp_path, monkeypatch):
    """More spans than a message takes (a box back after many gaps): the longest run of segments
    whose spans fit goes now, the rest with the next message (the same range again); nothing is
    dropped and no span is cut."""
    from storage import cameras as camera_table
    from storage import node
    from storage.catalog import Catalog, open_db
    from storage.retention import report
    from tests.support.catalog import add_segments

    monkeypatch.setattr(report, "MAX_SPANS", 2)
    db = open_db(tmp_path / "catalog.db")
    camera_table.sync(Catalog(db).db, [{"id": "door", "name": "door", "url": "synthetic:", "enabled": 1}], 0)
    assert report.footage_since(db) == []
    # five segments: 10-11 and 11-12 touch (one span), then 13-14, 15-16, 17-18 (one each)
    add_segments(db, [{"camera": "door", "start_us": a * S, "end_us": (a + 1) * S, "path": f"video/door/{a}.mp4",
                       "bytes": 1, "state": "complete", "created_us": a * S} for a in (10, 11, 13, 15, 17)])
    sent = []
    for _ in range(4):
        got = report.footage_since(db)
        if not got:
            break
        sent.append(got[-1].get("spans"))
        node.set_values(db, {report.FOOTAGE_KEY: got[-1]["last_id"], report.FIRST_KEY: got[-1]["first_id"],
                             report.SPANS_KEY: got[-1].pop(report.SPANS_KEY)})
    assert sent == [{"door": [[10 * S, 12 * S, "live"], [13 * S, 14 * S, "live"]]},
                    {"door": [[15 * S, 16 * S, "live"], [17 * S, 18 * S, "live"]]}]
    assert all(len(v) <= 2 for m in sent for v in m.values())


@pytest.mark.parametrize("max_days, now_days, cut_days", [
    ([], 1000, 1000 - 365 - 31),               # no node says: R1.5's year, and the month report's month
    ([30.0, None], 1000, 1000 - 365 - 31),     # a shorter maximum never forgets sooner than the year
    ([30.0, 730.0], 1000, 1000 - 730 - 31),    # a camera kept two years: its coverage too
])
def test_the_office_forgets_coverage_no_node_may_still_hold(max_days, now_days, cut_days):
    from central.checks.coverage import DAY_US, prune_before

    assert prune_before(now_days * DAY_US, max_days) == cut_days * DAY_US


def test_the_verifier_prunes_the_coverage_once_a_day(tmp_path):
    import json

    from central.checks.coverage import DAY_US
    from central.store.store import Store
    from central.verifier.verifier import Verifier
    from tests.support.catalog import central_coverage_starts, central_put_birth, central_put_coverage
    from zoneinfo import ZoneInfo

    store = Store(tmp_path / "c.db")
    now = 2000 * DAY_US
    birth = {"retention": {"max_days": 30, "cameras": {"door": {"min_days": 30, "max_days": 500}}}}
    central_put_birth(store, "s/n1", now - DAY_US, json.dumps(birth))
    for a_days in (1000, 1500, 1900):  # ended before the 500 days and a month (1469), inside, recent
        central_put_coverage(store, "s/n1", "door", a_days * DAY_US, (a_days + 1) * DAY_US)
    v = Verifier(store, ZoneInfo("UTC"), gap_grace_us=0)
    v.run_once(now)
    assert [a // DAY_US for a in central_coverage_starts(store)] == [1500, 1900]
    central_put_coverage(store, "s/n1", "door", 0, 1)
    v.run_once(now + DAY_US // 2)  # not a day since: left for the next day's pass
    assert len(central_coverage_starts(store)) == 3
    v.run_once(now + DAY_US)
    assert len(central_coverage_starts(store)) == 2
