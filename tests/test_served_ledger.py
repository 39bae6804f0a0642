"""The standby's records of footage it hands another box, coalesced a minute per box and camera
(issue 52 item 7, design/0133): the first at once, the rest counted in one record, bounded."""

from __future__ import annotations

import asyncio
import json

from edged.daemon import served_ledger
from edged.daemon.served_ledger import ServedLedger
from edged.rules import audit_words
from storage.catalog import CatalogWriter, open_db
from tests.support.catalog import audit_rows


def test_a_minute_of_segments_handed_out_is_two_records_and_a_flood_stays_bounded(tmp_path, monkeypatch):
    monkeypatch.setattr(served_ledger, "MAX_IDS", 3)
    now = [0.0]

    async def scenario() -> list[bool]:
        writer = CatalogWriter(tmp_path / "catalog.db")
        await writer.start()
        try:
            ledger = ServedLedger(writer, lambda: now[0])
            got = [await ledger.record("s/node1", "door", i, 1000) for i in range(1, 6)]
            got.append(await ledger.record("s/node2", "yard", 9, 7))   # another box: its own record
            now[0] = 61.0
            got.append(await ledger.record("s/node1", "door", 6, 1000))  # a new minute: flushes the last
            await ledger.flush(final=True)
            return got
        finally:
            await writer.close()

    written = asyncio.run(scenario())
    assert written == [True, False, False, False, False, True, True]
    recs = [(r["action"], json.loads(r["detail"])) for r in audit_rows(open_db(tmp_path / "catalog.db"))
            if r["action"].startswith(audit_words.STANDBY_SERVED)]
    assert recs == [
        ("standby.served", {"box": "s/node1", "camera": "door", "segments": [1], "count": 1, "bytes": 1000}),
        ("standby.served", {"box": "s/node2", "camera": "yard", "segments": [9], "count": 1, "bytes": 7}),
        ("standby.served.repeated", {"box": "s/node1", "camera": "door", "segments": [2, 3, 4], "count": 4, "more": 1,
                                     "bytes": 4000, "repeated": 4, "window_s": 60.0}),
        ("standby.served", {"box": "s/node1", "camera": "door", "segments": [6], "count": 1, "bytes": 1000})]
    assert audit_words.has_words("standby.served.repeated")
