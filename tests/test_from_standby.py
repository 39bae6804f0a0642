"""A box fetches its gap back from the standby (design/0115), over real mutual TLS with the
certificates an office issued both (tests/support/enrol.py), real catalogs and real segment
files: only an enrolled box the standby stands in for is served, only that box's cameras; what
arrives is hash-checked, catalogued as `standby` beside what the box has, and on the audit chain."""

from __future__ import annotations

import asyncio
import json
import sqlite3

import pytest

from edged.config import parse_config
from edged.daemon.office_crl import OfficeCrl
from edged.daemon.peers import FromStandby
from edged.daemon.standby_server import StandbyServer
from storage.footage import from_standby as store
from storage.footage import gaps
from storage.catalog import CatalogWriter
from storage.disk.hashing import sha256_file
from storage.footage.spans import holes
from storage.keys import nodecert, office_crl
from cryptography.hazmat.primitives import serialization
from storage.time.clock import SYSTEM
from tests.support.cameras import free_port, make_clip
from tests.support.catalog import audit_rows, rows
from tests.support.enrol import Office
from tests.support.footage import clip_mp4, write_segments

pytestmark = pytest.mark.daemon
S = 1_000_000
SITE = "site1"


def config(data, node: str, cams: list[dict], **sections) -> object:
    return parse_config({"site": {"id": SITE, "node": node}, "storage": {"data_dir": str(data)}, "cameras": cams,
                         **sections})


def test_a_box_fetches_its_gap_from_the_standby_over_mutual_tls(tmp_path):
    clip = clip_mp4(make_clip(tmp_path, fps=10, gop=10, seconds=4))
    box, spare, stranger, outsider, revoked = (tmp_path / n for n in ("box", "spare", "stranger", "outsider", "revoked"))
    t0 = (SYSTEM.now_us() // S - 600) * S
    # the box recorded [t0, t0+4 s) and [t0+12 s, t0+16 s); the standby stood in from t0+6 s to t0+14 s
    write_segments(box, "door", clip, [(t0, 4), (t0 + 12 * S, 4)], segment_s=2)
    served = write_segments(spare, "door", clip, [(t0 + 6 * S, 8)], segment_s=2)
    write_segments(spare, "yard", clip, [(t0 + 6 * S, 2)], segment_s=2)  # another box's camera
    for data, cam in ((stranger, "door"), (outsider, "door"), (revoked, "yard")):
        write_segments(data, cam, clip, [(t0, 1)], segment_s=1)
    office = Office()
    serials = {}
    for data, node in ((box, "node1"), (spare, "spare"), (stranger, "node7"), (revoked, "node2")):
        office.enrol(data, SITE, node)
        serials[node] = office.serial
    # node2, a box the standby stands in for, was revoked by the office: the standby kept the list it heard
    crl = nodecert.make_crl(office.key, office.ca, [(serials["node2"], t0)], SYSTEM.now_us())
    assert office_crl.take(spare, crl.public_bytes(serialization.Encoding.PEM), None) is not None
    Office("Another office").enrol(outsider, SITE, "node1")  # names node1, from a CA the standby does not trust
    (last,) = [s for s in served if s["start_us"] == t0 + 10 * S]
    with open(spare / last["path"], "r+b") as f:  # the standby's copy of its last segment damaged on its disk
        f.seek(-100, 2)
        f.write(b"\0" * 8)
    port = free_port()
    door = {"id": "door", "url": "rtsp://127.0.0.1:9/door"}
    spare_cfg = config(spare, "spare", [{**door, "box": "node1"}, {"id": "yard", "url": "rtsp://127.0.0.1:9/y", "box": "node2"}],
                       mqtt={"enabled": True, "host": "127.0.0.1"}, standby={"for": ["node1", "node2"]},
                       backfill={"listen": f"127.0.0.1:{port}"})
    box_cfg = config(box, "node1", [door], backfill={"standby": f"127.0.0.1:{port}", "cap_mbit": 400})
    stranger_cfg = config(stranger, "node7", [door], backfill={"standby": f"127.0.0.1:{port}"})
    outsider_cfg = config(outsider, "node1", [door], backfill={"standby": f"127.0.0.1:{port}"})
    revoked_cfg = config(revoked, "node2", [{"id": "yard", "url": "rtsp://127.0.0.1:9/y"}],
                         backfill={"standby": f"127.0.0.1:{port}"})

    async def scenario():
        writers = {d: CatalogWriter(d / "catalog.db") for d in (box, spare, stranger, outsider, revoked)}
        for w in writers.values():
            await w.start()
        stop = asyncio.Event()
        server = StandbyServer(lambda: spare_cfg, writers[spare], spare)
        serving = asyncio.create_task(server.run(stop))
        try:
            for _ in range(100):  # the server is up once it accepts a connection
                try:
                    _r, w = await asyncio.open_connection("127.0.0.1", port)
                    w.close()
                    break
                except OSError:
                    await asyncio.sleep(0.05)
            await writers[box].run(lambda c: gaps.add(c.db, "door", t0 + 4 * S, t0 + 12 * S, "edged was not running"))
            for d in (stranger, outsider):
                await writers[d].run(lambda c: gaps.add(c.db, "door", t0 + 1 * S, t0 + 12 * S, "edged was not running"))
            await writers[revoked].run(lambda c: gaps.add(c.db, "yard", t0 + 1 * S, t0 + 12 * S, "edged was not running"))
            # a box that heard the office revoke the standby's certificate (its serial) takes nothing from it
            wary = OfficeCrl(box)
            wary.crl = nodecert.make_crl(office.key, office.ca, [(serials["spare"], t0)], SYSTEM.now_us())
            distrusted = await FromStandby(lambda: box_cfg, writers[box], box, settle_us=0, crl=wary).once(stop)
            fetched = await FromStandby(lambda: box_cfg, writers[box], box, settle_us=0).once(stop)
            again = await FromStandby(lambda: box_cfg, writers[box], box, settle_us=0).once(stop)
            refused = await FromStandby(lambda: stranger_cfg, writers[stranger], stranger, settle_us=0).once(stop)
            refused += await FromStandby(lambda: outsider_cfg, writers[outsider], outsider, settle_us=0).once(stop)
            refused += await FromStandby(lambda: revoked_cfg, writers[revoked], revoked, settle_us=0).once(stop)
            return distrusted, fetched, again, refused
        finally:
            stop.set()
            await serving
            for w in writers.values():
                await w.close()

    distrusted, fetched, again, refused = asyncio.run(scenario())
    box_db, stranger_db, outsider_db, revoked_db = (sqlite3.connect(d / "catalog.db")
                                                    for d in (box, stranger, outsider, revoked))
    got = [s for s in rows(box_db, "segments", order="start_us") if s["source"] == "standby"]
    overlapping = [s for s in served if s["start_us"] < t0 + 12 * S and s["end_us"] > t0 + 4 * S]
    damaged = overlapping.pop()  # its hash no longer matches the standby's catalog: not stored
    assert distrusted == 0 and fetched == len(overlapping) == len(got) >= 2 and again == 0
    assert damaged["start_us"] not in {s["start_us"] for s in got} and not list((box / "incoming").iterdir())
    assert [(s["start_us"], s["end_us"], s["sha256"]) for s in got] == \
        [(s["start_us"], s["end_us"], s["sha256"]) for s in overlapping]
    assert all(sha256_file(box / s["path"]) == s["sha256"] and s["state"] == "complete" for s in got)
    live = [s for s in rows(box_db, "segments") if s["source"] == "live"]
    assert len(live) == 4  # what the box recorded itself is kept as it was
    spans = [(s["start_us"], s["end_us"]) for s in rows(box_db, "segments")]
    # whole but for what neither box recorded (before the standby took over) and the damaged one
    assert holes(t0, t0 + 16 * S, spans, longer_than_us=200_000) == [(t0 + 4 * S, t0 + 6 * S),
                                                                      (damaged["start_us"], damaged["end_us"])]
    (gap,) = rows(box_db, "gaps")
    assert gap["standby"] == store.DONE
    records = audit_rows(box_db, store.ACTION)
    assert sorted(json.loads(r["detail"])["sha256"] for r in records) == sorted(s["sha256"] for s in got)
    assert len(records) == len(got)
    # an enrolled box of the site the standby does not stand in for: refused, nothing stored
    # and a box naming node1 with another office's certificate: the handshake fails; and node2,
    # whose certificate the office revoked: refused (the yard camera the standby records for it)
    assert refused == 0
    for db in (stranger_db, outsider_db, revoked_db):
        assert not [s for s in rows(db, "segments") if s["source"] == "standby"]
        assert rows(db, "gaps")[0]["standby"] is None  # asked again later (a config may change)
    # the standby's own chain says what it handed out, to whom, coalesced (design/0133)
    spare_db = sqlite3.connect(spare / "catalog.db")
    handed = [json.loads(r["detail"]) for r in audit_rows(spare_db) if r["action"].startswith("standby.served")]
    assert [r["action"] for r in audit_rows(spare_db) if r["action"].startswith("standby.served")] == \
        ["standby.served", "standby.served.repeated"], "the first at once, the rest of the minute in one record"
    assert {(h["box"], h["camera"]) for h in handed} == {(f"{SITE}/node1", "door")}
    by_path = {r["path"]: r for r in rows(spare_db, "segments")}
    asked = [by_path[s["path"]] for s in [*overlapping, damaged]]  # the damaged one was handed out too
    assert sorted(i for h in handed for i in h["segments"]) == sorted(r["id"] for r in asked)
    assert sum(h["bytes"] for h in handed) == sum((spare / r["path"]).stat().st_size for r in asked)
    assert sum(h["count"] for h in handed) == len(asked)


def test_the_arrival_check_and_who_may_ask():
    from edged.rules import from_standby as rules

    offered = {"start_us": 0, "end_us": 2, "bytes": 10, "sha256": "a" * 64}
    assert rules.arrived_ok(offered, "a" * 64, 10) is None
    assert "SHA-256" in rules.arrived_ok(offered, "b" * 64, 10)
    assert "bytes" in rules.arrived_ok(offered, "a" * 64, 9)
    assert rules.may_ask("s", "node1", "s", ["node1"]) and not rules.may_ask("s", "node2", "s", ["node1"])
    assert not rules.may_ask("other", "node1", "s", ["node1"])


def test_the_offices_revocation_list_a_standby_keeps(tmp_path):
    """Only the office's list is kept, never an older one than held (a replay must not take a
    revocation back); a box on it is refused by the same check as any certificate."""
    office, other = Office(), Office("Another office")
    office.enrol(tmp_path, SITE, "node1")
    now = SYSTEM.now_us()

    def pem(o: Office, serials: list[int], at_us: int) -> bytes:
        return nodecert.make_crl(o.key, o.ca, [(s, at_us) for s in serials], at_us).public_bytes(serialization.Encoding.PEM)

    assert office_crl.read(tmp_path) is None
    with pytest.raises(nodecert.CertError):
        office_crl.take(tmp_path, pem(other, [office.serial], now), None)
    held = office_crl.take(tmp_path, pem(office, [office.serial], now), None)
    assert held is not None and office_crl.read(tmp_path) is not None
    assert office_crl.take(tmp_path, pem(office, [], now - 60 * S), held) is None  # an older list: not taken
    assert office_crl.read(tmp_path).get_revoked_certificate_by_serial_number(office.serial) is not None
    assert office_crl.newer(None, 1) and office_crl.newer(5, 5) and not office_crl.newer(5, 4)
    _key, chain = nodecert.node_chain(tmp_path)
    with pytest.raises(nodecert.CertError, match="revoked"):
        nodecert.check_chain(chain, office.ca, office_crl.read(tmp_path), now)
