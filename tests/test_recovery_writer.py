"""Start-up recovery beside recording (design/0091, invariant 9): the salvage of what the last
run left (cutting, fsyncing, scanning and hashing files) runs off the catalog writer; the writer
is held only for short transactions, so the rows of cameras recording meanwhile are written
without waiting behind it. And the `footage.missing` record stays small however much was lost,
while proving the full list, which the catalog's rows keep.

Real SQLite (the daemon's CatalogWriter), real files made by ffmpeg, the real StartupRecovery.
"""

import asyncio
import json
import time


from edged.alarms import Alarms
from edged.daemon.recording.gaps import Gaps
from edged.daemon.recording.recovery import StartupRecovery
from storage import cameras as camera_table
from storage.disk import layout
from storage.footage import missing, restamps, segment_rows
from storage.footage import segments as segment_table
from storage.catalog import Catalog, CatalogWriter, open_db
from storage.footage.segment_rows import MISSING, RECOVERED
from storage.footage.reconcile import GONE_NOTE
from storage.time.clock import SYSTEM
from tests.support.catalog import rows
from tests.test_reconcile import fmp4, place  # noqa: F401 (the module's fixture)

S = 1_000_000
OPEN, ORPHANS, GONE = 4, 16, 3000   # left `writing`; on disk but not catalogued; catalogued but gone
# The longest the writer may be held by one job, and the longest a recording row may wait for
# it, while the recovery runs. Before design/0091 the tail's reconcile was one writer job that
# salvaged every orphan: seconds here (see the design record for the figures).
HOLD_BOUND_S = 1.0




class TimedWriter(CatalogWriter):
    """The daemon's writer, timing how long each job holds its thread (the test's hook)."""

    def __init__(self, path):
        super().__init__(path)
        self.held: list[tuple[float, str]] = []

    async def run(self, fn, *args, raw=False):
        def timed(c, *a):
            t = time.monotonic()
            try:
                return fn(c, *a)
            finally:
                self.held.append((time.monotonic() - t, getattr(fn, "__name__", repr(fn))))
        return await super().run(timed, *args, raw=raw)


def last_run(data, fmp4):
    """A catalog and a data folder as a crash on a large site leaves them; (started_us, before_id)."""
    db = open_db(data / layout.CATALOG_FILE)
    cat = Catalog(db)
    camera_table.sync(cat.db, [{"id": c, "name": c, "url": "rtsp://h/x", "enabled": 1} for c in ("a", "b", "live")],
                      cat.clock.now_us())
    now = SYSTEM.now_us()
    t = now - 7200 * S
    for i in range(OPEN):
        rel = place(data, fmp4, "a", t + i * 10 * S, keep=0.6)
        segment_rows.open_row(cat.db, "a", t + i * 10 * S, rel, t)
    for i in range(ORPHANS):
        place(data, fmp4, "b", t + i * 10 * S)
    gone = [{"camera": cam, "start_us": t - (i + 1) * 2 * S, "end_us": t - (i + 1) * 2 * S + S,
             "path": layout.segment_relpath(cam, t - (i + 1) * 2 * S), "state": "complete", "sha256": "0" * 64,
             "created_us": t, "closed_us": t, "bytes": 1000, "frames": 20}
            for cam in ("a", "b") for i in range(GONE // 2)]
    with db.atomic():
        segment_rows.insert(db, gone)
    # the last run's, stamped after this run's start (the clock went back across the restart):
    # put off, then adopted by the later look (design/0059), its salvage off the writer too
    place(data, fmp4, "b", now + 3600 * S)
    before_id = restamps.newest_id(db)
    db.conn.close()
    return now, before_id


def test_recording_rows_do_not_wait_behind_the_salvage_and_the_missing_record_is_bounded(tmp_path, fmp4):
    started_us, before_id = last_run(tmp_path, fmp4)

    async def main():
        writer = TimedWriter(tmp_path / layout.CATALOG_FILE)
        await writer.start()
        writer.held.clear()  # the catalog's opening is not the recovery's
        rec = StartupRecovery(tmp_path, writer, Alarms(writer), Gaps(writer), ["a", "b", "live"], None, started_us,
                              before_id)
        task = asyncio.create_task(rec.run(asyncio.Event()))
        waits = []
        k = 0
        while not task.done():  # a camera recording meanwhile: its rows through the same writer
            start = started_us + k * S
            rel = layout.segment_relpath("live", start)
            t = time.monotonic()
            await writer.run(lambda c: segment_rows.open_row(c.db, "live", start, rel, start))
            await writer.run(lambda c: segment_rows.close(c.db, rel, {"end_us": start + S, "sha256": "1" * 64}))
            waits.append(time.monotonic() - t)
            k += 1
            await asyncio.sleep(0.01)
        await task
        await writer.close()
        return writer.held, waits, k

    t0 = time.monotonic()
    held, waits, recorded = asyncio.run(main())
    took = time.monotonic() - t0
    recording = ("open_segment", "close_segment")
    longest = max((h for h in held if h[1] not in recording), default=(0.0, "-"))  # the recovery's jobs
    own = max((h for h in held if h[1] in recording), default=(0.0, "-"))          # recording's own
    waits.sort()
    print(f"\nrecovery {took:.1f} s, writer jobs {len(held)}; the recovery's longest hold {longest[0] * 1000:.0f} ms"
          f" ({longest[1]}), recording's own longest {own[0] * 1000:.0f} ms; recording rows {recorded}, wait"
          f" p50 {waits[len(waits) // 2] * 1000:.0f} ms, max {waits[-1] * 1000:.0f} ms")

    db = open_db(tmp_path / layout.CATALOG_FILE)
    by_path = {r["path"]: r for r in rows(db, "segments")}
    assert sum(r["state"] == RECOVERED for r in by_path.values()) == OPEN + ORPHANS + 1
    gone = sorted(p for p, r in by_path.items() if r["state"] == MISSING)
    assert len(gone) == GONE
    live = [r for r in by_path.values() if r["camera"] == "live"]
    assert len(live) == recorded and all(r["state"] == "complete" for r in live), "the new run's rows are its own"
    assert recorded >= 1

    assert longest[0] < HOLD_BOUND_S, f"the recovery held the writer {longest[0]:.2f} s ({longest[1]})"
    # a recording row waits at most for one recovery job and its own commits (fsync under load)
    assert waits[-1] < HOLD_BOUND_S + 2 * own[0], f"a recording row waited {waits[-1]:.2f} s for the writer"

    record = rows(db, "audit", lambda r: r["action"] == missing.ACTION)
    assert len(record) == 1
    size = len(record[0]["detail"])
    detail = json.loads(record[0]["detail"])
    assert size < 8_000, f"the footage.missing record is {size} bytes"
    assert detail["count"] == GONE and detail["first"] == gone[0] and detail["last"] == gone[-1]
    assert "paths" not in detail
    # the list is proven from the catalog's rows
    assert detail["list_sha256"] == missing.list_sha256(gone)
    cams = {c["camera"]: c for c in detail["cameras"]}
    assert cams["a"]["count"] == cams["b"]["count"] == GONE // 2
    # as `edgectl segments --state missing` lists them (the catalog's list the digest proves)
    listed = segment_table.between(db, 0, started_us, limit=10 * GONE, state=MISSING)
    assert len(listed) == GONE and missing.list_sha256(r["path"] for r in listed) == detail["list_sha256"]
    assert {r["note"] for r in listed} == {GONE_NOTE}
    db.conn.close()
