"""Issue 14: a login and connection flood on the viewer costs recording nothing and the disk
almost nothing. A real daemon records a camera with the viewer on 127.0.0.1 and MQTT on;
from 127.0.0.1 come 1,000 logins with 200 KiB names, 200 wrong logins with short names and
1,500 idle or half-sent connections over a minute. A legitimate login from 127.0.0.2 works
throughout; afterwards the footage has no hole, the catalog and the outbox grew by less than
1 MB, and the daemon's descriptor count is back where it was."""

from __future__ import annotations

import asyncio
import http.client

import pytest

from edged.rules.throttle import LoginThrottle, Limits
from tests.support.broker import Broker
from tests.support.cameras import RtspServer, free_port, make_clip
from tests.support.catalog import node_value, rows
from tests.support.daemon import Daemon, wait_for, write_config
from tests.support.flood import fd_count, flood, login_from, stored_bytes
from tests.support.people import People, password_for


def test_throttle_limits_an_address_not_an_account():
    t = LoginThrottle(Limits(burst=3, refill_s=10, records_per_min=2))
    assert [t.try_login("10.0.0.9", 0) for _ in range(3)] == [None, None, None]
    assert t.try_login("10.0.0.9", 0) == pytest.approx(10)
    assert t.try_login("10.0.0.7", 0) is None, "another address is not slowed"
    assert t.try_login("10.0.0.9", 10) is None, "a token comes back after refill_s"
    t.succeeded("10.0.0.7", 1)
    assert t.buckets["10.0.0.7"].tokens == 3
    # two failure records a minute; the rest are counted into the next record or a summary
    assert t.record_failure(0) == (True, 0) and t.record_failure(1) == (True, 0)
    assert t.record_failure(2) == (False, 1) and t.record_failure(3) == (False, 2)
    t.unused(False, 2)  # the last try logged in after all
    assert t.summary_due(30) == 0, "not before the minute is over"
    assert t.record_failure(61) == (True, 1)
    t.record_failure(61.5), t.record_failure(62)
    assert t.summary_due(130) == 1 and t.summary_due(131) == 0


def test_throttle_forgets_addresses_beyond_its_limit():
    t = LoginThrottle(Limits(burst=2, refill_s=1, max_addresses=100))
    for i in range(1000):
        t.try_login(f"10.1.{i // 256}.{i % 256}", i * 0.001)
    assert len(t.buckets) <= 100


def test_login_and_connection_flood(tmp_path):
    clip = make_clip(tmp_path, fps=20, gop=20, seconds=10)
    broker = Broker(tmp_path / "broker").start()
    port = free_port()
    with RtspServer({"cam": f"clip:{clip.video}@20"}) as cameras:
        data = tmp_path / "data"
        config = write_config(tmp_path / "edged.toml", data, [{"id": "cam", "url": cameras.url("cam")}],
                              storage={"segment_length": "2s"}, tables={
                                  "viewer": {"enabled": True, "listen": f"127.0.0.1:{port}"},
                                  "mqtt": {"enabled": True, "host": "127.0.0.1", "port": broker.port}})
        d = Daemon(config, data, tmp_path / "edged.log").start()
        try:
            wait_for(lambda: "web viewer listening" in d.log, 30, "the web viewer")
            People(config, tmp_path).add("vera", "viewer")
            first = wait_for(lambda: d.segments("cam")[:2], 30, "recording")[0]
            wait_for(lambda: node_value(d, "mqtt_audit_seq"), 30, "MQTT caught up")
            fds_before, size_before = fd_count(d.proc.pid), stored_bytes(data)

            async def run():
                task = asyncio.ensure_future(flood(port, seconds=60))
                statuses = []
                for _ in range(3):  # while the flood runs, vera logs in from another address
                    await asyncio.sleep(15)
                    statuses.append(await asyncio.to_thread(login_from, "127.0.0.2", port, "vera",
                                                            password_for("vera")))
                return await task, statuses

            result, during = asyncio.run(run())
            assert [s for s, _ in during] == [200, 200, 200], during
            # refused at accept (16 connections per address), unread (413), throttled (429); at most
            # the bucket's 5 tries ever reached a password check
            assert sum(result.statuses.values()) == 1200 and 200 not in result.statuses, result.statuses
            assert result.statuses.get(403, 0) <= 5, result.statuses
            assert result.idle_reset >= result.idle_opened * 0.9, "the viewer closes idle connections itself"
            status, body = login_from("127.0.0.2", port, "vera", password_for("vera"))
            assert status == 200 and body["account"] == "vera"

            failures = rows(d, "login_failures")
            assert 0 < len(failures) <= 10 and {f["client"] for f in failures} == {"127.0.0.1"}
            assert all(len(f["name"]) <= 32 for f in failures)
            # one generic answer, whatever the reason
            assert login_from("127.0.0.3", port, "nobody", "x")[1] == {"error": "wrong account name or password"}
            assert login_from("127.0.0.3", port, "vera", "wrong")[1] == {"error": "wrong account name or password"}

            # DNS rebinding: a page of another site that resolves to this box is refused
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
            conn.request("GET", "/api/me", headers={"Host": f"attacker.example:{port}"})
            assert conn.getresponse().status == 421
            conn.close()

            wait_for(lambda: fd_count(d.proc.pid) <= fds_before + 5, 30, "descriptors back to normal")
            grown = stored_bytes(data) - size_before
            assert grown < 1_000_000, f"catalog and outbox grew by {grown} bytes"
            # the footage is one unbroken run from before the flood to now
            segs = [s for s in d.segments("cam") if s["start_us"] >= first["start_us"]]
            assert all(a["end_us"] == b["start_us"] for a, b in zip(segs, segs[1:]))
            assert segs[-1]["end_us"] - first["start_us"] > 60_000_000 and d.gaps("cam") == []
        finally:
            assert d.stop() == 0, d.log[-3000:]
            broker.stop()
