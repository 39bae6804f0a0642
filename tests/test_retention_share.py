"""The intakes' share of the disk in the planner's own model (issue 87, design/0429): the box's cameras'
forecast retention counts on the disk less its reserve and less the share the site gives portable cameras'
intakes (design/0384), and an intake's bytes are no camera's rate of writing. On a real catalog (SQLite):
a camera writing 8.64 GB a day on a 320 GB disk, a 30-day minimum, a 2 GB intake taken in this hour."""

from __future__ import annotations

from collections import namedtuple
from dataclasses import replace

from edged.config import RetentionConfig
from edged.rules import estimate
from storage import cameras as camera_table
from storage.catalog import Catalog, open_db
from storage.footage import intakes, segment_rows
from storage.retention.report import retention_report
from storage.time.clock import FakeClock

S = 1_000_000
H = 3600 * S
D = 24 * H
GB = 1_000_000_000
NOW = 1_780_000_000 * S
RATE = 100_000                     # the camera's bytes a second: 8.64 GB a day
Usage = namedtuple("Usage", "total used free")
DISK = Usage(320 * GB, 200 * GB, 120 * GB)
RETENTION = replace(RetentionConfig(), min_retention_us=30 * D, max_retention_us=365 * D)


class Cam:
    def __init__(self, id):
        self.id, self.min_retention_us, self.max_retention_us = id, None, None


def catalog(tmp_path):
    """The camera's last day, an hour a segment, and a portable device's 2 GB intake of this hour."""
    db = Catalog(open_db(tmp_path / "catalog.db")).db
    camera_table.sync(db, [{"id": "c", "name": "c", "url": "", "enabled": 1}], NOW)
    for i in range(24):
        start, rel = NOW - D + i * H, f"video/c/{i}.mp4"
        segment_rows.open_row(db, "c", start, rel, start)
        segment_rows.close(db, rel, {"end_us": start + H, "bytes": RATE * 3600, "sha256": f"h{i}"})
    segs = [{"start_us": NOW - H + k * 30 * S, "end_us": NOW - H + (k + 1) * 30 * S, "path": f"imports/x/{k:03d}.mp4",
             "bytes": GB, "frames": 450, "codec": "h264", "width": 320, "height": 240, "audio": 0,
             "sha256": f"s{k}", "state": segment_rows.COMPLETE, "created_us": NOW, "closed_us": NOW} for k in range(2)]
    intakes.record(db, intakes.Intake(sha256="ab" * 32, bytes=2 * GB, device="bwc-7", recorded_by="officer Lin",
                                      taken_by="carol", request=None, intake_us=NOW, original="imports/x/original.mp4",
                                      claimed_start_us=NOW - H, claimed_from="creation_time", model=None, note=None,
                                      segments=segs), "carol")
    return db


def test_the_cameras_forecast_counts_without_the_intakes_share_nor_an_intakes_bytes(tmp_path):
    db = catalog(tmp_path)
    rep = retention_report(db, RETENTION, [Cam("c")], tmp_path, clock=FakeClock(NOW), usage=DISK)
    share, reserve = RETENTION.intake_room(DISK.total), rep["reserve"]
    assert rep["intake_share"] == share == 32 * GB
    cams = {c["camera"]: c for c in rep["cameras"]}
    assert cams["portable.bwc-7"]["forecast_us"] is None, "an intake is no camera writing"
    days = cams["c"]["forecast_us"] / D
    # (320 - 16 - 32) GB at 8.64 GB a day: 31.5 days, under the minimum's 10 % margin. Before: the intake's 2 GB in
    # 60 s counted as a camera writing 33 MB/s, and the camera "kept" 0.1 days of its 30
    assert abs(days - (DISK.total - reserve - share) / (RATE * 86_400)) < 0.01 and 31 < days < 32, days
    assert cams["c"]["verdict"] == "AT RISK"


def said(db, tmp_path) -> dict:
    """The report as the control's `retention` operation answers edgectl (edged/control/status.py)."""
    rep = retention_report(db, RETENTION, [Cam("c")], tmp_path, clock=FakeClock(NOW), usage=DISK)
    return {**rep, "site_min_us": RETENTION.min_retention_us, "site_max_us": RETENTION.max_retention_us}


def test_the_estimate_says_the_disk_needs_the_intakes_share_on_top(tmp_path):
    """`edgectl retention --estimate`: 285 GB of minimum with its margin fit in 320 GB less the reserve (5 %),
    not less the intakes' 10 % too: the disk needed is 335 GB (before: 100,342 GB, the intake counted as a
    camera writing 33 MB/s; without it, 300 GB and "enough")."""
    db = catalog(tmp_path)
    est = estimate.estimate(said(db, tmp_path))
    assert [c["camera"] for c in est["cameras"]] == ["c"]
    assert est["intake_share"] == 32 * GB and not est["enough"]
    assert round(est["disk_needed"] / GB) == 335, est["disk_needed"]
    bigger = estimate.estimate(said(db, tmp_path), disk_total=340 * GB)
    assert bigger["enough"] and bigger["intake_share"] == 34 * GB
