"""Every record follows the true time (design/0096): one list of what the catalog stamps on the host
clock (storage/time/stamped.py), which fails here when a table has a time column on neither list; after
a box that booted two years behind is corrected, no record of the catalog is left on the old
clock (gaps, events, alarms, holds, requests, the installation's first audit record...), and
`edgectl retention` and `edgectl status` read the corrected times, not 730 days achieved."""

from __future__ import annotations

from collections import namedtuple
from pathlib import Path

from edged.config import RetentionConfig
from storage import audit, audit_report, cameras as camera_table
from storage.footage import restamps, segment_rows
from storage.footage import corrections
from storage.time import stamped
from storage.catalog import open_db
from storage.time.clock import FakeClock
from storage.retention.report import retention_report
from tests.support.catalog import audit_rows, insert_row, node_value, rows, set_node, table_columns

S = 1_000_000
D = 86_400 * S
TRUE_NOW = 1_795_000_000 * S          # 2026-11
WRONG = TRUE_NOW - 730 * D            # the box's clock, two years behind
SHIFT = TRUE_NOW - WRONG
Usage = namedtuple("Usage", "total used free")

# Parents before children (foreign keys are on).
FIRST = ("cameras", "requests", "grants", "exports", "inspection_runs", "inspections")


def _columns(db, table: str) -> list[dict]:
    return table_columns(db, table)


def _time_columns(db) -> dict[str, set[str]]:
    return {t: {c["name"] for c in _columns(db, t) if c["name"].endswith("_us")} for t in db.table_names()
            if any(c["name"].endswith("_us") for c in _columns(db, t))}


def test_every_time_column_is_on_one_list_or_the_other(tmp_path):
    """A new table (or column) stamped with `*_us` must be named: moved with the true time, or
    kept with a reason. This is the test that fails when one is forgotten."""
    db = open_db(tmp_path / "catalog.db")
    host = {s.table: set(s.own) | set(s.derived) for s in stamped.HOST}
    missing = {}
    for table, cols in _time_columns(db).items():
        named = host.get(table, set()) | set(stamped.NOT_HOST.get(table, {}))
        if cols - named:
            missing[table] = sorted(cols - named)
    assert missing == {}, f"add these to storage/time/stamped.py HOST or NOT_HOST: {missing}"
    for s in stamped.HOST:  # and the list names only columns that exist
        cols = {c["name"] for c in _columns(db, s.table)}
        assert set(s.own) | set(s.derived) | ({s.by} if s.by else set()) <= cols, s
        assert not (set(s.own) | set(s.derived)) & set(stamped.NOT_HOST.get(s.table, {})), s


def _fill(db) -> None:
    """One row in every table with a host-clock stamp, every time column on the wrong clock."""
    order = [*FIRST, *sorted({s.table for s in stamped.HOST} - set(FIRST))]
    for k, table in enumerate(order):
        values = {}
        for c in _columns(db, table):
            name, kind = c["name"], (c["type"] or "").upper()
            if c["pk"] and kind == "INTEGER" and table != "restamps":
                continue
            if name.endswith("_us"):
                values[name] = WRONG + (k + 1) * S
            elif name in ("camera", "id") and kind == "TEXT":
                values[name] = "a"
            elif (table, name) == ("segment_rows", "path"):  # only an import carries an intake (its `narrow`)
                values[name] = f"imports/{'ab' * 32}/000.mp4"
            elif "INT" in kind:
                values[name] = 1
            elif kind == "BLOB":
                values[name] = b"x"
            elif kind == "REAL":
                values[name] = 1.0
            else:
                values[name] = "[]"
        insert_row(db, table, values)
    for key in stamped.NODE_KEYS:
        set_node(db, key, str(WRONG + S))
    set_node(db, "host_clock", f'{{"synced": true, "since_us": {WRONG}}}')


def test_after_a_restamp_no_record_is_left_on_the_old_clock(tmp_path):
    db = open_db(tmp_path / "catalog.db")
    audit.append(db, "edged", "node.installed", {}, at_us=WRONG)  # the installation, on the wrong clock
    _fill(db)
    # the host clock watch's window: from its start to the step, on the old clock
    moved = corrections.move(db, WRONG - 60 * S, WRONG + 600 * S, SHIFT, TRUE_NOW)
    assert set(moved) >= {"gaps", "alarms", "motion_events", "holds", "requests", "node"}
    left = []
    for s in stamped.HOST:
        for col in (*s.own, *s.derived):
            for r in rows(db, s.table):
                if r[col] is not None and r[col] < TRUE_NOW - D:
                    left.append(f"{s.table}.{col}")
    for key in stamped.NODE_KEYS:
        if int(node_value(db, key) or 0) < TRUE_NOW - D:
            left.append(f"node.{key}")
    assert '"since_us": %d' % (WRONG + SHIFT) in (node_value(db, "host_clock") or "")
    assert left == []
    # the chain is never rewritten: its stamps are read through the correction (audit_overdue's base)
    assert audit_rows(db)[0]["at_us"] == WRONG
    assert audit_report.first_record_us(db) == TRUE_NOW
    assert audit.verify(db)[1] is None
    # a stamp outside the window (the true clock's, before the box went wrong) stays
    assert corrections.true_us(db, 1, TRUE_NOW - 5 * D) == TRUE_NOW - 5 * D
    # a record made after the correction is on the true clock, whatever its value
    later = audit.append(db, "edged", "x", {}, at_us=WRONG + 10 * S)
    assert corrections.true_us(db, later["seq"], WRONG + 10 * S) == WRONG + 10 * S


class Cam:
    def __init__(self, id):
        self.id, self.min_retention_us, self.max_retention_us, self.mode = id, None, None, "continuous"


def test_retention_and_status_read_the_corrected_stamps_after_a_two_year_step(tmp_path: Path):
    """Segments recorded for an hour on a clock two years behind, then re-stamped: `edgectl
    retention` shows an hour achieved (not 730 days, AT RISK), the status span is on the true clock."""
    db = open_db(tmp_path / "catalog.db")
    camera_table.sync(db, [{"id": "c", "name": "c", "url": "", "enabled": 1}], WRONG)
    for i in range(60):
        start = WRONG + i * 60 * S
        rel = f"video/c/x/{i}.mp4"
        segment_rows.open_row(db, "c", start, rel, start)
        segment_rows.close(db, rel, {"end_us": start + 60 * S, "bytes": 100, "sha256": "ab" * 32})
    before = retention_report(db, RetentionConfig(), [Cam("c")], tmp_path, clock=FakeClock(TRUE_NOW + 3600 * S),
                              usage=Usage(10**12, 0, 10**12))["cameras"][0]
    assert before["achieved_us"] > 700 * D  # what main showed: 730 days achieved
    restamps.shift(db, 0, 60, SHIFT, TRUE_NOW + 3600 * S, {"reason": "host_clock_step"})
    after = retention_report(db, RetentionConfig(), [Cam("c")], tmp_path, clock=FakeClock(TRUE_NOW + 3600 * S),
                             usage=Usage(10**12, 0, 10**12))["cameras"][0]
    assert after["oldest_us"] == TRUE_NOW and after["achieved_us"] == 3600 * S
    assert restamps.true_span(db) == (TRUE_NOW, TRUE_NOW + 3600 * S)
    assert restamps.true_span(db, "c") == (TRUE_NOW, TRUE_NOW + 3600 * S)
