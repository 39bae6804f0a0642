"""A retention pass reported in one message (issue 53, design/0137): the box groups a pass's
destructions; the office takes the pass's message and the old one-a-destruction messages alike and
reaches the same verdicts, with the same evidence, in a handful of statements a pass."""

from __future__ import annotations

import json
from zoneinfo import ZoneInfo

import pytest

from central.verifier import evidence, retention_watch
from central.intake import schema
from central.checks import verify
from central.store.store import Store
from central.verifier.verifier import Verifier
from edged.daemon.reporting import DESTRUCTIONS_PER_MESSAGE, retention_messages
from tests.support.catalog import (central_day_rows, central_destructions, central_forge_payload,
                                   central_retention_heard, central_unverified)

UTC = ZoneInfo("UTC")
DAY = 86_400_000_000
T0 = 1_795_000_000_000_000
BASE = "edged/v1/s/n1"


def destruction(i: int, at: int, *, age_days: float, reason: str = "max_retention", sid: int | None = None,
                pass_id: int = 1) -> dict:
    end = at - int(age_days * DAY)
    return {"camera": f"cam{i % 3}", "start_us": end - 60_000_000, "end_us": end, "path": f"v/{i}.mp4",
            "bytes": 100 + i, "sha256": "ab" * 32, "reason": reason, "destroyed_us": at, "pass_id": pass_id,
            "free_before": 10, "reserve": 100, "segment_id": sid if sid is not None else 1000 + i}


def fleet_day(store: Store, shape: str) -> int:
    """A node whose retention (30..60 days) destroys 12 segments: 8 past their maximum, 2 early by
    the node's stamps, 2 that the office heard of only 2 days before (a receipt proves only a
    latest: unverified, as the 8, for no time request of the office was answered: issue 73), and
    a pass's message with one destruction that cannot be read (the pass shape only). Returns the
    statements the verifier's pass sent."""
    birth = {"ts_us": T0, "session": 1, "config_hash": "h", "cameras": [{"id": "cam0"}],
             "retention": {"min_days": 30, "max_days": 60}}
    at = T0 + 100 * DAY
    msgs = [(f"{BASE}/birth", json.dumps(birth).encode()),
            (f"{BASE}/footage", json.dumps({"seq": 1, "ts_us": T0, "first_id": 1000, "last_id": 1009}).encode()),
            (f"{BASE}/footage", json.dumps({"seq": 2, "ts_us": at - 2 * DAY, "first_id": 1010,
                                            "last_id": 1011}).encode())]
    gone = ([destruction(i, at, age_days=60.2) for i in range(8)] + [destruction(i, at, age_days=10) for i in (8, 9)]
            + [destruction(i, at, age_days=60.2) for i in (10, 11)])
    seq = 3
    if shape == "old":
        for d in gone:
            msgs.append((f"{BASE}/retention", json.dumps({"seq": seq, "ts_us": at, **d}).encode()))
            seq += 1
    else:
        for m in retention_messages([{**d, "id": k} for k, d in enumerate(gone)]):
            msgs.append((f"{BASE}/retention", json.dumps({"seq": seq, "ts_us": at, **m}).encode()))
            seq += 1
    received = {1: T0, 2: at - 2 * DAY}  # the office's receipt of each footage message
    for k, (topic, payload) in enumerate(msgs):
        store.ingest([(topic, payload)], received.get(k, at))
    v = Verifier(store, UTC, gap_grace_us=0)
    v.run_once(at + 1)
    return v.statements


verdicts = central_day_rows


def test_a_pass_in_one_message_is_judged_as_its_destructions_one_by_one(tmp_path):
    old, new = Store(tmp_path / "old.db"), Store(tmp_path / "new.db")
    s_old, s_new = fleet_day(old, "old"), fleet_day(new, "new")
    assert verdicts(old) == verdicts(new)
    assert {v for *_k, v, _n, _b, _y in verdicts(new)} == {"unverified", "early"}
    kinds = lambda s: sorted((f["kind"], f["key"]) for f in s.findings(limit=100))  # noqa: E731
    assert kinds(old) == kinds(new) and ("destroyed_early", "s/n1:destroyed_early:cam2:" + verdicts(new)[0][1]) in kinds(new)
    early = [f for f in new.findings(limit=100) if f["kind"] == "destroyed_early"]
    assert any("office" in f["message"] for f in old.findings(limit=100) if f["kind"] == "destroyed_early") == any(
        "office" in f["message"] for f in early)
    # 14 messages (2 footage, 12 destructions in one message or twelve) in a handful of statements:
    # the page's reads (its offset window and footage ranges among them) and a statement a table written
    assert s_new == s_old <= 20, "a pass's statements, however many messages: not ~5 a message"
    assert central_unverified(new) == 0
    old.close()
    new.close()


H = 3_600_000_000


def mixed_pass(store: Store) -> None:
    """One pass of a node whose footage comes late, stamped on a clock off the office's, carried
    (backfilled), named twice, and destructions of both shapes before and after the footage that
    names them (some never named, one without a segment id, one for capacity), all in one page."""
    birth = {"ts_us": T0, "session": 1, "config_hash": "h", "retention": {"min_days": 5, "max_days": 30}}
    store.ingest([(f"{BASE}/birth", json.dumps(birth).encode())], T0)
    seq = 0

    def send(kind: str, at: int, stamp: int, body: dict) -> None:
        nonlocal seq
        seq += 1
        store.ingest([(f"{BASE}/{kind}", json.dumps({"seq": seq, "ts_us": stamp, **body}).encode())], at)

    def footage(first: int, at: int, stamp: int, kind: str = "live", recorded: int | None = None) -> None:
        end = recorded if recorded is not None else stamp
        send("footage", at, stamp, {"first_id": first, "last_id": first + 9, "from_us": end - 10 * 60_000_000,
                                    "to_us": end, "segments": 10, "cameras": 1,
                                    "spans": {"cam0": [[end - 10 * 60_000_000, end, kind]]}})

    def gone(sid: int | None, at: int, end: int, reason: str = "max_retention") -> dict:
        d = {**destruction(0, at, age_days=0, reason=reason), "end_us": end, "start_us": end - 60_000_000}
        return {**d, "segment_id": sid} if sid is not None else {k: v for k, v in d.items() if k != "segment_id"}

    footage(1, T0, T0)                                        # heard at once
    footage(11, T0 + 20 * DAY, T0 + 2 * DAY)                  # stamped 18 days before it was heard
    send("alarm", T0 + 20 * DAY + 1, T0 + 20 * DAY, {"action": "raise", "id": "a"})  # the node's clock then
    at = T0 + 33 * DAY
    send("retention", at, at, {"pass_id": 1, "destructions": [gone(s, at, T0) for s in (1, 5, 12, 25, 31)]
                               + [gone(None, at, T0), gone(15, at, T0 + 2 * DAY, "capacity")]})
    footage(21, at + H, at, "backfilled", T0 + H)             # carried: recorded 33 days before
    footage(21, at + 2 * H, at, "backfilled", T0 - 90 * DAY)  # named again: the first word stands
    footage(41, at + 3 * H, at + 3 * H)
    for s in (22, 29, 42):                                    # the old shape, one a message
        send("retention", at + 4 * H, at + 4 * H, gone(s, at + 4 * H, T0 + H))
    send("retention", at + 5 * H, at + 5 * H, {"pass_id": 2, "destructions": [gone(s, at + 5 * H, T0 + H)
                                                                              for s in (23, 2, 45, 99)]
                                                + [gone(46, at + 5 * H, T0 + H, "capacity")]})
    Verifier(store, UTC, gap_grace_us=0).run_once(at + 6 * H)


def _outcome(store: Store) -> tuple:
    findings = sorted((f["key"], f["kind"], f["about_us"], json.dumps(f["detail"], sort_keys=True))
                      for f in store.findings(limit=1000))
    return ([(r["seq"], r["n"], r["segment_id"], r["verdict"]) for r in central_destructions(store)],
            central_day_rows(store), central_retention_heard(store), findings)


@pytest.mark.parametrize("span", [evidence.FOOTAGE_SPAN, 10])  # the page's span read at once; or asked one by one
def test_a_pages_evidence_gives_each_destruction_what_its_own_lookup_in_the_store_gives(tmp_path, monkeypatch, span):
    """Issue 53 item 1 on issue 51's verdicts (design/0122, 0137): the ranges read for the page,
    and those its footage messages wrote since, give each destruction the range, the evidence and
    the verdict a lookup of its own in the store gives (central/verifier/retention_watch.py heard)."""
    monkeypatch.setattr(evidence, "FOOTAGE_SPAN", span)
    paged = Store(tmp_path / "paged.db")
    mixed_pass(paged)
    def heard(ev, sid):  # the store's own lookup, once the pass's ranges so far are in it
        ev.flush(("footage_heard", "footage_evidence"))
        return retention_watch.heard(ev.db, ev.node, sid)
    monkeypatch.setattr(evidence.Evidence, "heard_of", heard)
    monkeypatch.setattr(evidence.Evidence, "offset",  # the messages around each footage message, read for it
                        lambda ev, seq, received: retention_watch.read_offset(ev.db, ev.node, seq, received))
    alone = Store(tmp_path / "alone.db")
    mixed_pass(alone)
    got, want = _outcome(paged), _outcome(alone)
    assert got == want
    verdicts = {sid: v for _seq, _n, sid, v in got[0]}
    # no time request answered (issue 73): the office proves no age; by the node's own stamps each of
    # them (31 to 33 days) is past its maximum of 30, whatever footage message named it and when
    assert len(got[0]) == 15 and set(verdicts.values()) == {"kept_past_maximum"}, verdicts
    assert {f[1] for f in got[3]} == {"kept_past_maximum"} and all('"clock": "node"' in f[3] for f in got[3])
    assert central_unverified(paged) == 0
    paged.close()
    alone.close()


def test_one_unreadable_destruction_in_a_pass_is_a_finding_and_the_rest_are_judged(tmp_path):
    store = Store(tmp_path / "c.db")
    birth = {"ts_us": T0, "session": 1, "config_hash": "h", "retention": {"min_days": 30, "max_days": 60}}
    at = T0 + 100 * DAY
    good = [destruction(i, at, age_days=61) for i in range(3)]
    bad = {**good[1], "destroyed_us": at, "camera": "cam9"}
    del bad["end_us"]  # the office's schema lets it through only if a field is missing after ingest: forge it there
    body = {"seq": 5, "ts_us": at, "pass_id": 1, "destructions": [good[0], good[2]]}
    store.ingest([(f"{BASE}/birth", json.dumps(birth).encode()), (f"{BASE}/retention", json.dumps(body).encode())], at)
    forged = {**body, "destructions": [good[0], bad, good[2]]}
    central_forge_payload(store, 5, json.dumps(forged))
    Verifier(store, UTC, gap_grace_us=0).run_once(at + 1)
    assert sum(r[4] for r in verdicts(store)) == 2
    assert [f["key"] for f in store.findings() if f["kind"] == "malformed_message"] == ["s/n1:malformed:5:1"]
    store.close()


@pytest.mark.pure
@pytest.mark.parametrize("ids_passes, sizes", [
    ([(1, 1), (2, 1), (3, 2)], [2, 1]),                       # a message a pass, in order
    ([(k, 7) for k in range(DESTRUCTIONS_PER_MESSAGE + 1)], [DESTRUCTIONS_PER_MESSAGE, 1]),  # a large pass: two
    ([], []),
])
def test_the_box_sends_a_message_a_pass(ids_passes, sizes):
    gone = [{**destruction(i, T0, age_days=61, pass_id=p), "id": i} for i, p in ids_passes]
    msgs = retention_messages(gone)
    assert [len(m["destructions"]) for m in msgs] == sizes
    assert [d for m in msgs for d in verify.destructions(m)] == [{k: v for k, v in g.items() if k != "id"} for g in gone]
    for m in msgs:
        text = json.dumps({"seq": 1, "ts_us": 1, **m}).encode()
        assert len(text) < schema.MAX_PAYLOAD and schema.check("retention", text) == json.loads(text)


@pytest.mark.pure
@pytest.mark.parametrize("destructions, why", [
    ([], "at least one"),
    (["x"], "not an object"),
    ([{"camera": "c", "reason": "max_retention", "start_us": 1, "end_us": 2}], "destroyed_us is missing"),
    ([{"camera": "c", "reason": "max_retention", "start_us": 1, "end_us": 2, "destroyed_us": -3}], "destroyed_us"),
])
def test_the_office_refuses_a_pass_with_a_malformed_destruction(destructions, why):
    with pytest.raises(schema.Malformed, match=why):
        schema.check("retention", json.dumps({"seq": 1, "ts_us": 1, "pass_id": 1, "destructions": destructions}).encode())


def _acks_after_stop(broker, stopped_expiry_s: int | None, want_dropped: bool) -> list[int]:
    """An office subscriber (session expiry 1 s) stopped cleanly; a box publishes QoS 1 every
    0.1 s: the PUBACKs' reason codes until the broker drops one (0x10) or 4 s have passed."""
    import threading
    import time

    import paho.mqtt.client as paho
    from paho.mqtt.enums import CallbackAPIVersion

    from central.intake.subscriber import Settings, Subscriber

    sub = Subscriber(Settings(host="127.0.0.1", port=broker.port, client_id="office-1", subscription="edged/v1/#",
                              session_expiry_s=1, stopped_expiry_s=stopped_expiry_s), lambda _g, _b: None)
    sub.start()
    assert sub.connected.wait(10)
    sub.stop()
    codes: list[int] = []
    acked = threading.Event()
    box = paho.Client(CallbackAPIVersion.VERSION2, client_id="box-1", protocol=paho.MQTTv5)
    box.on_publish = lambda _c, _u, _mid, reason, _p: (codes.append(reason.value), acked.set())
    box.connect("127.0.0.1", broker.port)
    box.loop_start()
    try:
        deadline = time.monotonic() + 4
        while time.monotonic() < deadline and not (want_dropped and 0x10 in codes):
            acked.clear()
            box.publish(f"{BASE}/alarm", b"{}", qos=1)
            assert acked.wait(5)
    finally:
        box.loop_stop()
        box.disconnect()
    return codes


def test_an_office_stopped_cleanly_keeps_its_session_so_the_broker_drops_nothing(tmp_path):
    """Issue 53 item 4 (design/0139): stopped on purpose, the office asks the broker to keep its
    session: every message is queued for it, well past the expiry a dead instance gets, which the
    broker otherwise meets with "No matching subscribers" (0x10) and a dropped message."""
    from tests.support.broker import Broker

    broker = Broker(tmp_path / "broker").start()
    try:
        assert 0x10 in _acks_after_stop(broker, None, want_dropped=True), "the reference: dropped once expired"
        kept = _acks_after_stop(broker, 3600, want_dropped=False)
        assert len(kept) > 10 and set(kept) == {0}, kept
    finally:
        broker.stop()


def test_a_pages_offset_walk_is_offset_of_over_the_same_rows():
    """design/0212: Evidence's offset walks the page's window once a side; the same answer as
    retention_watch.offset_of over the lists it took, on windows of every kind (stamps missing,
    receipts out of order, the window's edges, a backlog received long after it was queued)."""
    import random

    from central.verifier import evidence, retention_watch
    from central.checks import verdicts

    rnd = random.Random(53)
    w = verdicts.OFFSET_WINDOW_US
    found = 0
    for _ in range(400):
        n = rnd.choice([0, 1, 5, 30, 2500])
        base = rnd.randrange(0, 10 * w)
        window = []
        for k in range(n):
            rec = base + rnd.randrange(-2 * w, 3 * w)
            ts = None if rnd.random() < 0.05 else rec + rnd.randrange(-5_000_000, 5_000_000)
            window.append((1000 + k, ts, rec))
        newest = [] if rnd.random() < 0.3 else [(base + 4 * w, base + 4 * w - 7)]
        i = rnd.randrange(0, n + 1)
        received = base + rnd.randrange(-w, 2 * w)
        before = [(ts, rec) for _s, ts, rec in reversed(window[max(0, i - retention_watch.SAMPLES):i])]
        after = [(ts, rec) for _s, ts, rec in window[i:i + retention_watch.SAMPLES]]
        want = retention_watch.offset_of(before, after + newest, received)
        assert evidence._offset(window, i, newest, received) == want
        found += want is not None
    assert found > 50, "the offsets compared were mostly none: the test would prove little"


def _people_messages(node: str) -> list[list[tuple[str, bytes]]]:
    """Two pages of one node's audit records (a valid chain): approvals, filings and accesses,
    ordinary and odd (a grant by its text, a float grant, an expired grant, no grant, an access
    whose message fails after it is judged, approved by its filer, used twice)."""
    from storage import audit

    prev, seq, pages = audit.GENESIS, 0, []
    for page in (
        [("carol", "request.file", {"request": 1}), ("alice", "request.approve", {"request": 1, "grant": 1}),
         ("carol", "request.approve", {"request": 2, "grant": 2}), ("carol", "grant.use", {"grant": 1})],
        [("carol", "grant.use", {"grant": 1}), ("bob", "request.file", {"request": 3}),
         ("bob", "request.approve", {"request": 3, "grant": 3}), ("bob", "export.done", {"grant": 3}),
         ("carol", "request.file", {"request": 2}), ("dave", "grant.use", {"grant": 2}),
         ("dave", "grant.use", {"grant": "1"}), ("dave", "playback.start", {}),
         ("alice", "request.approve", {"request": 6, "grant": 6, "expires_us": 1}), ("dave", "grant.use", {"grant": 6}),
         ("erin", "request.file", {"request": 7}), ("alice", "request.approve", {"request": 7, "grant": 7}),
         ("dave", "grant.use", {"grant": 7, "broken": True}), ("dave", "grant.use", {"grant": 7}),
         ("dave", "export.done", {"grant": 7}), ("alice", "request.approve", {"request": "8", "grant": 8.0}),
         ("dave", "grant.use", {"grant": 8})]):
        out = []
        for actor, action, detail in page:
            broken = detail.pop("broken", False)
            body = {"seq": seq + 1, "at_us": T0 + seq, "actor": actor, "action": action, "detail": detail}
            h = audit.record_hash(prev, body)
            rec = {"seq_local": seq + 1, "at_us": body["at_us"], "actor": actor, "action": action, "detail": detail,
                   "prev_hash": prev, "hash": h}
            if broken:  # a head that fails when kept, after the access was judged: the message is undone
                rec = {**rec, "kind": "chain_head", "signed_head": {"seq": seq + 1, "hash": h, "at_us": 1, "sig": "x"}}
            else:
                prev = h
                seq += 1
            out.append((f"edged/v1/s/{node}/audit", json.dumps({"seq": seq + 1000 * (len(pages) + 1) + len(out),
                                                                 "ts_us": T0, **rec}).encode()))
        pages.append(out)
    return pages


@pytest.mark.both_engines  # design/0270
def test_an_access_judged_from_the_pages_evidence_is_judged_as_the_store_judges_it(tmp_path, monkeypatch):
    """Design/0270: a page's accesses judged from the approvals, filings and uses read once a page
    (and the pass's own records since) reach judge_in_store's answer with the pass's records
    written before each access, as before: two nodes of the same records in one store, the
    second judged the old way."""
    store = Store(tmp_path / "c.db")
    monkeypatch.setattr(evidence.Evidence, "access", lambda ev, rec, was=evidence.Evidence.access:
                        None if ev.node == "s/old" else was(ev, rec))  # s/old: every access asked of the store

    def add_head(v, signed, msg_seq, source, was=Verifier.add_head):
        if signed.get("sig") == "x":
            raise ValueError("a head that cannot be kept")
        return was(v, signed, msg_seq, source)
    monkeypatch.setattr(Verifier, "add_head", add_head)
    pages = {n: _people_messages(n) for n in ("new", "old")}
    counts = {}
    for k in range(2):
        for n in ("new", "old"):
            store.ingest(pages[n][k], T0 + k)
            v = Verifier(store, UTC, gap_grace_us=0)
            v.run_once(T0 + DAY)
            counts[n] = v.statements
    got = {n: sorted((f["key"].split(":", 1)[1], f["kind"], f["message"]) for f in store.findings(node=f"s/{n}", limit=100))
           for n in ("new", "old")}
    assert got["new"] == got["old"]
    said = " | ".join(m for _k, kind, m in got["new"] if kind == "access_unapproved")
    for why in ("grant 1 used again", "no approval on record for grant 1", "grant 3 was approved by bob, who filed",
                "grant 2 was approved by carol, who filed", "names no grant", "grant 6 used after it expired"):
        assert why in said, said
    assert "grant 7" not in said and "malformed_message" in {kind for _k, kind, _m in got["new"]}, \
        "the undone use is not counted; the export of grant 7 is lawful"
    # grant 8.0 against 8 is the store's to say (SQLite: the same number; PostgreSQL: not the same text):
    # that page's accesses were asked of the store, and both nodes got its answer
    assert counts["new"] < counts["old"], counts
    assert central_unverified(store) == 0
    store.close()
