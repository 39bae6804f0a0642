"""The doors a person reaches (issue 45), with the real ops over a real catalog: listing footage is
on the record without filling the disk (a flood of listings by one person writes one record a
minute per session, action and day, plus a count; a refused listing writes nothing); a record
says which door it came by; one account's logins are slowed from every address together."""

from __future__ import annotations

import asyncio
import json

import pytest

from edged.config import parse_config
from edged.control.protocol import RequestError
from edged.control.operation import CatalogReader
from edged.control.reads import ReadLedger, day_span
from edged.control.server import Caller
from edged.control.status import StatusOps
from edged.daemon.recording.supervisor import camera_row
from storage import audit
from storage import cameras as camera_table
from storage.catalog import CatalogWriter
from storage.time.clock import FakeClock
from storage.disk.layout import CATALOG_FILE
from storage.retention.plan import DAY_US
from tests.support.catalog import pragma, rows as catalog_rows

HOUR = 3600 * 1_000_000


def test_a_day_span_is_the_key_grain():
    assert day_span(0, DAY_US) == (0, 0)            # a whole day, its end exclusive
    assert day_span(DAY_US - 1, DAY_US + 1) == (0, 1)
    assert day_span(None, None) == (None, None)


class Mono:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


@pytest.mark.slow
def test_a_listing_flood_is_bounded_and_refusals_write_nothing(tmp_path):
    cfg = parse_config({"site": {"id": "s1"}, "storage": {"data_dir": str(tmp_path)},
                        "cameras": [{"id": "gate", "url": "rtsp://127.0.0.1:9/x"},
                                    {"id": "hall", "url": "rtsp://127.0.0.1:9/y"}]})
    clock, mono = FakeClock(), Mono()

    async def scenario() -> None:
        writer = CatalogWriter(tmp_path / CATALOG_FILE, clock)
        await writer.start()
        try:
            reads = ReadLedger(writer, monotonic=mono)
            ops = StatusOps(lambda: cfg, writer, CatalogReader(tmp_path), clock, reads)
            await writer.run(lambda c: camera_table.sync(c.db, [camera_row(cam) for cam in cfg.cameras],
                                                         clock.now_us()))
            carl = [Caller(os_user="www", account="carl", roles=("custodian",), cameras=("gate",), token=f"t{i}")
                    for i in range(8)]   # eight tabs: eight desk sessions
            day = {"from_us": clock.now_us() - HOUR, "to_us": clock.now_us()}

            async def head_seq() -> int:
                return (await writer.run(lambda c: audit.head(c.db)) or {}).get("seq", 0)

            async def size() -> int:   # the catalog's pages as its writer sees them (the WAL's included)
                return await writer.run(lambda c: pragma(c.db.conn, "page_count") * pragma(c.db.conn, "page_size"))

            async def flood_a_minute() -> None:   # 8 tabs reloading the timeline: segments and events
                for i in range(1200):
                    mono.t += 0.05
                    tab = carl[i % 8]
                    await ops.segments({**day, "camera": "gate"}, tab)
                    await ops.events({"since_us": day["from_us"], "until_us": day["to_us"], "camera": "gate"}, tab)
                mono.t += 1

            await flood_a_minute()   # the first minute also makes the audit table's first pages
            assert await reads.flush() == 16   # its counts, written once the minute is over
            size0, seq0 = await size(), await head_seq()
            await flood_a_minute()
            assert await reads.flush() == 16   # each tab's two listings: one count each
            written = await head_seq() - seq0
            assert written == 32, written      # 16 in full, 16 counts: not 2,400
            rows = await writer.run(lambda c: catalog_rows(c.db, "audit", lambda r: r["seq"] > seq0, order="seq"))
            counted = sum(json.loads(r["detail"])["repeated"] for r in rows if r["action"].endswith(".repeated"))
            assert counted + 16 == 2400        # every read is on the record, in full or counted
            grown = await size() - size0
            assert grown < 100_000, grown      # < 100 kB a minute per person (issue 45)
            print(f"listing flood: 2,400 reads in a minute by one person in 8 tabs: {written} audit records, "
                  f"catalog +{grown / 1000:.1f} kB")   # the figure (pytest -s)

            # refused reads write nothing: out of scope, and bad arguments
            seq1 = await head_seq()
            with pytest.raises(RequestError):
                await ops.segments({**day, "camera": "hall"}, carl[0])
            with pytest.raises(RequestError):
                await ops.segments({"from_us": 5, "to_us": 1}, carl[0])
            assert await head_seq() == seq1
        finally:
            await writer.close()
    asyncio.run(scenario())


def test_a_record_says_which_door_it_came_by(tmp_path):
    """The desk sets the door for a request; the writer's thread carries it to the record; a
    socket action has none (issue 45 item 6)."""
    from edged.viewer.http import door_of

    door = door_of("192.0.2.7", "secret-token")
    assert door["via"] == "desk" and door["address"] == "192.0.2.7" and "secret-token" not in json.dumps(door)

    async def scenario() -> list[dict]:
        writer = CatalogWriter(tmp_path / CATALOG_FILE, FakeClock())
        await writer.start()
        try:
            async def desk_request() -> None:   # a request's own task, as aiohttp runs it
                audit.DOOR.set(door)
                await writer.run(lambda c: audit.append(c.db, "carl", "hold.add", {"camera": "gate"}))
            await asyncio.create_task(desk_request())
            await writer.run(lambda c: audit.append(c.db, "carl", "hold.add", {"camera": "gate"}))   # edgectl
            return await writer.run(lambda c: [json.loads(r["detail"]) for r in catalog_rows(
                c.db, "audit", lambda r: r["action"] == "hold.add", order="seq")])
        finally:
            await writer.close()
    by_desk, by_socket = asyncio.run(scenario())
    assert by_desk == {"camera": "gate", **door} and by_socket == {"camera": "gate"}


def test_a_clean_stop_writes_the_open_counts(tmp_path):
    mono = Mono()

    async def scenario() -> list[str]:
        writer = CatalogWriter(tmp_path / CATALOG_FILE, FakeClock())
        await writer.start()
        try:
            reads, carl = ReadLedger(writer, monotonic=mono), Caller(os_user="carl", account="carl", token="t")
            for _ in range(3):
                await reads.record(carl, "footage.list", {"cameras": None}, None, 0, DAY_US)
            stopping = asyncio.Event()
            stopping.set()
            await reads.run(stopping)
            return await writer.run(lambda c: [r["action"] + ":" + r["detail"] for r in catalog_rows(
                c.db, "audit", lambda r: r["action"].startswith("footage.list"), order="seq")])
        finally:
            await writer.close()
    written = asyncio.run(scenario())
    assert len(written) == 2 and written[1].startswith("footage.list.repeated:") and '"repeated":2' in written[1]


def test_one_accounts_logins_are_slowed_from_every_address_and_alarmed(tmp_path):
    """The desk's per-account bucket (issue 45 item 5): past its burst an account's tries are
    refused whatever the address, the alarm rises once, and a right password gives a try back."""
    from edged.alarms import Alarms
    from edged.rules.throttle import ACCOUNT_LIMITS, ALARM_AFTER
    from edged.viewer.http import LoginRefused
    from edged.viewer.server import Viewer
    from storage.health import alarms as alarm_table

    cfg = parse_config({"site": {"id": "s1"}, "storage": {"data_dir": str(tmp_path)}})

    async def scenario() -> tuple[list[int], list[dict]]:
        writer = CatalogWriter(tmp_path / CATALOG_FILE, FakeClock())
        await writer.start()
        try:
            viewer = Viewer(cfg, writer, FakeClock(), alarms=Alarms(writer, FakeClock()))
            statuses = []
            for _ in range(ACCOUNT_LIMITS.burst + ALARM_AFTER + 5):
                try:
                    await viewer._account_bucket("carol", "192.0.2.1")
                    statuses.append(200)
                except LoginRefused as exc:
                    statuses.append(exc.status)
            await viewer._account_bucket("dora", "192.0.2.1")   # another account is not slowed by carol's
            return statuses, await writer.run(lambda c: alarm_table.active(c.db))
        finally:
            await writer.close()
    statuses, active = asyncio.run(scenario())
    assert statuses.count(200) == ACCOUNT_LIMITS.burst and set(statuses[ACCOUNT_LIMITS.burst:]) == {429}
    assert [a["key"] for a in active] == ["password_guessed:carol"]
