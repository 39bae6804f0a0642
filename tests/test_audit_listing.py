"""Audit listings stay small and fast whatever a record holds (design/0091): `audit.list` (the
desk's audit page, `edgectl audit list`) carries at most audit.LIST_DETAIL characters of a
detail and pages back by seq; the export and the chain check still see every record whole.
And the `footage.missing` record's detail is bounded, and proves the full list.

Real SQLite; the renderers of the desk and of edgectl on the listing's rows."""

from __future__ import annotations

import json
import time

import pytest

from edged.cli.audit import shown_detail
from edged.i18n import speaking
from edged.viewer.desk.audit import detail_cell, raw_record
from edged.viewer.desk.page import Ctx, Person
from storage import audit
from storage.disk import layout
from storage.footage import missing
from storage.catalog import open_db
from tests.support.catalog import rows

S = 1_000_000
T0 = 1_795_000_000 * S
BIG = 5_000_000  # characters: the shape of the 14.6 MB footage.missing record seen on a large site


def paths(n, cameras=("cam01", "cam02")):
    """n segments' paths a camera, a minute apart: each time's path made once by the product's
    segment_relpath, and the other cameras' by putting their folder in its place (the same
    strings; 300,000 calls of it were a third of this module's time)."""
    one = [layout.segment_relpath(cameras[0], T0 + i * 60 * S) for i in range(n)]
    cut = len(f"{layout.VIDEO_DIR}/{cameras[0]}/")
    return [f"{layout.VIDEO_DIR}/{cam}/{p[cut:]}" for cam in cameras for p in one]


@pytest.mark.slow  # a listing flood: 300 records of up to 5,000 ids and one of 5 million characters (design/0473)
def test_a_listing_cuts_long_details_and_pages_back_while_the_chain_stays_whole(tmp_path):
    db = open_db(tmp_path / "catalog.db")
    with db.atomic():
        for i in range(300):
            audit.append(db, "someone", "footage.list", {"i": i, "ids": list(range(10 if i % 2 else 5_000))},
                         at_us=T0 + i * S)
        audit.append(db, "edged", "footage.missing", {"paths": paths(BIG // 100)}, at_us=T0 + 400 * S)
        audit.append(db, "carl", "login", {"via": "desk"}, at_us=T0 + 401 * S)
    size = len(rows(db, "audit", lambda r: r["action"] == "footage.missing")[0]["detail"])
    assert size > BIG * 0.9

    t = time.monotonic()
    whole = audit.newest(db, limit=1000)
    t_whole = time.monotonic() - t
    t = time.monotonic()
    listed = audit.newest(db, limit=1000, detail_chars=audit.LIST_DETAIL)
    t_cut = time.monotonic() - t
    text = json.dumps(listed)
    print(f"\nlisting 302 records (one of {size:,} characters): whole {t_whole * 1000:.0f} ms"
          f" {len(json.dumps(whole)):,} bytes; cut {t_cut * 1000:.0f} ms {len(text):,} bytes")
    assert len(text) < 302 * (audit.LIST_DETAIL + 400)
    assert [r["seq"] for r in listed] == [r["seq"] for r in whole]
    big = next(r for r in listed if r["action"] == "footage.missing")
    assert big["detail"] is None and big["detail_cut"]["chars"] == size
    assert len(big["detail_cut"]["start"]) == audit.LIST_DETAIL
    short = listed[-1]
    assert short["detail"] == {"via": "desk"} and "detail_cut" not in short
    assert listed[-2]["hash"] == whole[-2]["hash"]

    # shown by the desk and edgectl as its start and its length
    ctx = Ctx(caller=Person(account="", roles=()), lang="en", site="x", tz=None, now_us=0, path="/desk/audit")
    with speaking("en"):
        cell, line = raw_record(big), shown_detail(big)
        fields = detail_cell(short, ctx, {}, {})
    assert f"{size}" in cell and len(cell) < audit.LIST_DETAIL * 2 and f"{size}" in line and len(line) < 1200
    # the desk's fields in words (design/0112), the record as written behind a click
    assert "<dt>Through</dt><dd>the desk</dd>" in fields
    assert '<details class="tech">' in fields and (
        '<code translate="no" class="detail">{&quot;via&quot;: &quot;desk&quot;}</code></details>' in fields)

    # the next page back, from the oldest seq shown
    page = audit.newest(db, limit=50, detail_chars=audit.LIST_DETAIL)
    back = audit.newest(db, limit=50, before_seq=page[0]["seq"], detail_chars=audit.LIST_DETAIL)
    assert [r["seq"] for r in back] == list(range(page[0]["seq"] - 50, page[0]["seq"]))
    assert [r["seq"] for r in audit.newest(db, limit=50, before_seq=3)] == [1, 2]

    # the chain and an export still have every record whole
    assert audit.verify(db) == (302, None)
    assert len(audit.records(db, after_seq=300, limit=1)[0]["detail"]["paths"]) == len(paths(BIG // 100))
    db.conn.close()


def test_the_footage_missing_detail_is_bounded_and_proves_the_list():
    lost = paths(3_000, cameras=[f"cam{i:03d}" for i in range(100)])  # 300,000 paths, as a lost disk's
    t = time.monotonic()
    d = missing.detail(lost[::-1])
    took = time.monotonic() - t
    size = len(json.dumps(d))
    print(f"\nfootage.missing detail for {len(lost):,} paths: {size:,} bytes, {took:.1f} s")
    assert size < 12_000
    assert d["count"] == len(lost) and d["first"] == min(lost) and d["last"] == max(lost) and "paths" not in d
    assert d["list_sha256"] == missing.list_sha256(lost) and len(d["cameras"]) == missing.CAMERAS
    assert d["cameras_left_off"] == 100 - missing.CAMERAS
    c = d["cameras"][0]
    assert c == {"camera": "cam000", "count": 3_000, "from_us": T0, "to_us": T0 + 2_999 * 60 * S}
    assert missing.list_sha256(lost[:-1]) != d["list_sha256"], "one path left out changes the digest"

    few = missing.detail(["elsewhere/x.mp4", lost[0]])  # a few: every path, as before
    assert few["paths"] == sorted(["elsewhere/x.mp4", lost[0]]) and few["count"] == 2
    assert {c["camera"] for c in few["cameras"]} == {None, "cam000"}
    assert missing.detail([]) == {**missing.detail([]), "count": 0, "first": None, "paths": []}
