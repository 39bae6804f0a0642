"""edged-central's store on PostgreSQL (issue 28, item 5): the store's behaviour on a real
PostgreSQL 15, the per-node leases (advisory locks), months, archives, roles, backups and migrate.
Instances run as processes sharing one database: tests/test_central_instances.py."""

from __future__ import annotations

import importlib
import json
import threading

import psycopg
import pytest

from central.archive import archiving
from central import config
from central.store import passes
from central.store import migrate
from central.ops import status as ops_status
from central.store.pgroles import reader_grants
from central.store.versions import SchemaError
from central.store.store_schema import SCHEMA_VERSION
from central.store.pgstore import EDGE_LOCK, PgStore, _redact, lock_key, near_month_edge, translate, translate_ddl
from tests import test_central_archive as archived
from tests import test_central_hostile as hostile
from tests import test_central_verdicts as verdicts
from tests import test_central_units as units
from tests.support.catalog import (CENTRAL_FINDING_MESSAGE_SQL, CENTRAL_PG_DDL, CENTRAL_PG_DIALECT, central_add_audit, central_pg_plan_naming,
                                   central_count, central_pg_day_rows,
                                   central_pg_as_schema_4, central_pg_as_schema_5, central_pg_tables,
                                   central_destructions, central_pg_add_node,
                                   central_pg_pretend_instance,
                                   central_pg_in_recovery, central_pg_partitions, central_pg_run,
                                   central_pg_switch_wal, central_pg_writes_refused, central_pg_stored_twice,
                                   central_unverified, central_destruction_days, central_pg_hold_advisory,
                                   central_pg_advisory_waiters, central_pg_backend_gone)
from tests.support.daemon import wait_for
from tests.support.engines import both_engines
from tests.support.postgres import available, base_backup, pg_server, Restored, WalArchive  # noqa: F401  (pg_server: a fixture)
from tests.support.daemon import ROOT
from tests.test_central import clip  # noqa: F401  (a fixture)

pytestmark = pytest.mark.skipif(available() is not None, reason=str(available()))


@pytest.fixture(scope="module")
def server(pg_server):
    return pg_server


@pytest.fixture
def pg_url(server) -> str:
    return server.database()


# the pure part: SQLite's dialect in PostgreSQL's ---------------------------------------------------
@pytest.mark.parametrize("sqlite, postgres", CENTRAL_PG_DIALECT)
def test_translate(sqlite, postgres):
    assert translate(sqlite) == postgres


def test_translate_ddl_keeps_microseconds_in_64_bits():
    assert translate_ddl(CENTRAL_PG_DDL[0]) == CENTRAL_PG_DDL[1]


def test_lock_keys_are_64_bit_and_distinct_per_node():
    keys = {lock_key(f"s{i}/n{j}") for i in range(30) for j in range(30)}
    assert len(keys) == 900 and all(-2**63 <= k < 2**63 for k in keys)
    assert lock_key("a/b") == lock_key("a/b")


def test_storage_url_in_the_secrets_file_and_never_in_the_config(tmp_path):
    """The database URL with its password, and the broker password, go in the secrets file; in the
    config itself they are refused (the error names the secrets file, never the password) unless
    edged-central runs with --allow-config-secrets (issue 45)."""
    url = "postgresql://central:Db-Secret-7@db.example:5432/central?sslmode=verify-full"
    p = tmp_path / "c.toml"
    p.write_text(f'[broker]\nusername = "office"\npassword = "Mq-Secret-8"\n[storage]\nurl = "{url}"\n')
    with pytest.raises(config.ConfigError) as e:
        config.load(p)
    text = str(e.value)
    assert e.value.where == "broker.password" and "broker.password and storage.url" in text, text
    assert "central-secrets.toml" in text and "--allow-config-secrets" in text, text
    assert "Db-Secret-7" not in text and "Mq-Secret-8" not in text
    assert config.load(p, allow_config_secrets=True).broker.password == "Mq-Secret-8"
    p.write_text('[storage]\nurl = "postgresql://central@db.example/central?sslmode=verify-full&password=x9"\n')
    with pytest.raises(config.ConfigError, match="storage.url hold"):
        config.load(p)
    # as a site does it
    (tmp_path / "central-secrets.toml").write_text(f'[broker]\npassword = "Mq-Secret-8"\n[storage]\nurl = "{url}"\n')
    p.write_text('[secrets]\nfile = "central-secrets.toml"\n[broker]\nusername = "office"\n')
    cfg = config.load(p)
    assert cfg.storage.url == url and cfg.broker.password == "Mq-Secret-8" and "Secret" not in repr(cfg)
    p.write_text('[secrets]\nfile = "central-secrets.toml"\n[broker]\nusername = "office"\npassword = "other"\n')
    with pytest.raises(config.ConfigError, match="broker.password: hold|broker.password hold"):
        config.load(p)
    with pytest.raises(config.ConfigError, match="also in the secrets file"):
        config.load(p, allow_config_secrets=True)
    from central import cli

    p.write_text(f'[storage]\nurl = "{url}"\n')
    assert cli.main(["--config", str(p), "status"]) == config.EX_CONFIG, "refused before anything opens"
    assert cli.parser().parse_args(["--allow-config-secrets", "status"]).allow_config_secrets
    assert cli.parser().parse_args(["status", "--allow-config-secrets"]).allow_sub
    p.write_text('[secrets]\nfile = "missing.toml"\n')
    with pytest.raises(config.ConfigError, match="missing.toml does not exist"):
        config.load(p)
    p.write_text('[storage]\nurl = "mysql://x"\n')
    with pytest.raises(config.ConfigError) as e:
        config.load(p)
    assert e.value.where == "storage.url"
    assert _redact("postgresql://u:pw@h:1/d") == "postgresql://u:***@h:1/d"


def test_an_unreachable_database_says_so_without_the_password():
    with pytest.raises(ConnectionError) as e:
        PgStore("postgresql://u:hunter2@127.0.0.1:1/d")
    assert "hunter2" not in str(e.value) and "[storage] url" in str(e.value)


# the store's tests marked both_engines, on PostgreSQL -------------------------------------------------
def _on_postgres() -> list[object]:
    """Each test marked both_engines (tests/support/engines.py; 31 tests, 39 cases with the retention
    message's shapes, when they were a list written out here), a case for each shape it takes."""
    cases = []
    for stem, name in both_engines():
        module = importlib.import_module(f"tests.{stem}")
        shaped = "shape" in _args(getattr(module, name))
        cases += [pytest.param(module, name, shape, id=f"{stem}-{name}" + (f"-{shape}" if shaped else ""))
                  for shape in (verdicts.SHAPES if shaped else (None,))]
    return cases


def _args(fn) -> tuple[str, ...]:
    return fn.__code__.co_varnames[:fn.__code__.co_argcount]


@pytest.mark.parametrize("module, name, shape", _on_postgres())
def test_the_sqlite_store_tests_pass_on_postgres(module, name, shape, server, tmp_path, monkeypatch, request):
    """Each case marked both_engines, as on SQLite (its module's `Store` is PostgreSQL's here); the
    verdicts' cases on both shapes of retention message (issue 53)."""
    assert hasattr(module, "Store"), f"{module.__name__} opens its store as `Store` for this to swap it"
    opened: list[PgStore] = []
    pg_url = server.database(migrated=True)  # a copy of the schema made once, as a second instance finds it

    def make(_path, **kw):
        opened.append(PgStore(pg_url, **kw))
        return opened[-1]

    monkeypatch.setattr(module, "Store", make)
    made: list[object] = []
    if hasattr(module, "Verifier"):  # as edged-central runs on PostgreSQL: a second session, its passes'
        class Twinned(module.Verifier):  # last writes on a thread while the next node is verified (design/0498)
            def __init__(self, store, *a, **kw):
                if isinstance(store, PgStore) and kw.get("twin") is None:
                    kw["twin"] = PgStore(pg_url)
                    opened.append(kw["twin"])
                super().__init__(store, *a, **kw)
                made.append(self)
        monkeypatch.setattr(module, "Verifier", Twinned)
    fn = getattr(module, name)
    args = {"tmp_path": tmp_path, "monkeypatch": monkeypatch, "shape": shape}
    if "key" in _args(fn):
        args["key"] = request.getfixturevalue("key")
    fn(**{a: args[a] for a in _args(fn)})
    assert opened, "the test ran on PostgreSQL"
    for v in made:
        if v.overlap is not None:
            v.overlap.close()
    for s in opened:
        if not s.pg.closed:
            s.close()


@pytest.fixture
def key():
    return units.NodeKey(units.Ed25519PrivateKey.generate())


def test_ingest_is_idempotent_across_instances(pg_url):
    a, b = PgStore(pg_url), PgStore(pg_url)
    msgs = [("edged/v1/s/n/alarm", hostile.durable(1000 + i, {"id": f"a{i}", "action": "raise"})) for i in range(50)]
    assert a.ingest(msgs[:30], 2000) == 30
    assert b.ingest(msgs, 2000) == 20, "ON CONFLICT DO NOTHING: the 30 already stored are not counted"
    assert a.unverified() == 50 and a.nodes()[0]["max_seq"] == 1049
    a.close()
    b.close()


def test_messages_are_kept_in_the_months_the_office_received_them(pg_url):
    """design/0140: a partition a month of the office's receipt, whatever the node's counter says;
    a message received again the month after (a redelivery, a resend) is not stored twice."""
    aug, oct_, nov = 1_785_542_400_000_000, 1_790_812_800_000_000, 1_793_491_200_000_000  # 2026-08/10/11-01 UTC
    a = PgStore(pg_url)
    msgs = [("edged/v1/s/n/alarm", hostile.durable(aug + k, {"id": f"a{k}", "action": "raise"})) for k in range(5)]
    assert a.ingest(msgs[:2], nov - 10) == 2 and a.ingest(msgs[2:], nov + 10) == 3
    assert a.ingest(msgs, nov + 20) == 0, "idempotent across the month before"
    assert central_pg_partitions(a) == {"messages_2026_10": 2, "messages_2026_11": 3}
    assert PgStore(pg_url).ingest(msgs[:1], nov + 30) == 0, "another instance: the partition exists already"
    # a hostile node's seqs in 30 past months make no partition of their own (design/0119 made 670 in
    # a second): they are in the month received; one node's after its first are past its rate, and
    # the known node's far below its first are refused
    month = 31 * 86_400_000_000
    past = [(f"edged/v1/s/evil{k}/alarm", hostile.durable(oct_ - (k + 1) * month, {"id": "p", "action": "raise"}))
            for k in range(1, 31)]
    past += [("edged/v1/s/evil1/alarm", hostile.durable(oct_ - 2 * month + k * month, {"id": f"q{k}", "action": "raise"}))
             for k in range(1, 4)]
    assert a.ingest(past, nov + 50) == 30
    assert central_pg_partitions(a) == {"messages_2026_10": 2, "messages_2026_11": 33}
    assert [f["kind"] for f in a.findings(node="s/evil1")] == ["seq_beyond_rate"] * 3
    below = [("edged/v1/s/n/alarm", hostile.durable(aug - k * month, {"id": f"b{k}", "action": "raise"}))
             for k in range(1, 4)]
    assert a.ingest(below, nov + 60) == 0
    assert [f["kind"] for f in a.findings(node="s/n")] == ["seq_below_first"]
    with pytest.raises(psycopg.errors.ReadOnlySqlTransaction):
        PgStore(pg_url, readonly=True).ingest(msgs[:1], nov + 40)
    a.close()


def test_a_message_received_each_side_of_a_months_end_is_stored_once(pg_url):
    """design/0213: an instance whose clock is a few seconds ahead stores a message in the new month;
    a redelivery of it to another instance, its clock still in the old month, is not stored again
    (the NOT EXISTS looks at the months either side), and near a month's end the instances store
    their batches in turn, so neither misses the other's uncommitted copy."""
    dec = 1_796_083_200_000_000  # 2026-12-01 00:00 UTC
    S, DAY = verdicts.S, verdicts.DAY
    assert near_month_edge(dec - 5 * S) and near_month_edge(dec + 5 * S) and not near_month_edge(dec - DAY)
    ahead, behind = PgStore(pg_url), PgStore(pg_url)
    msgs = [("edged/v1/s/n/alarm", hostile.durable(dec - 30 * DAY + k, {"id": f"a{k}", "action": "raise"}))
            for k in range(3)]
    assert ahead.ingest(msgs, dec + 2 * S) == 3
    assert behind.ingest(msgs, dec - 2 * S) == 0, "stored by the other instance in the month after"
    assert central_pg_partitions(behind) == {"messages_2026_11": 0, "messages_2026_12": 3}
    # near the month's end a batch waits for the one another instance is storing
    other = psycopg.connect(pg_url)
    central_pg_hold_advisory(other, EDGE_LOCK)
    more = [("edged/v1/s/n/alarm", hostile.durable(dec - 30 * DAY + 3, {"id": "a3", "action": "raise"}))]
    done: list[int] = []
    t = threading.Thread(target=lambda: done.append(behind.ingest(more, dec - S)))
    t.start()
    wait_for(lambda: central_pg_advisory_waiters(pg_url) == 1, 30, "the batch waiting its turn")
    assert done == []
    other.rollback()
    t.join(30)
    assert done == [1]
    assert ahead.ingest(more, dec - DAY) == 0 and done == [1], "away from the edge: no turn taken, still once"
    other.close()
    ahead.close()
    behind.close()


def test_a_message_stored_twice_is_judged_once(server):
    """design/0213: should a message be in two receipt months all the same (two instances' batches
    at once across the month's end, before the lock; a store restored beside its live copy), the
    verifier judges it once: its destruction counted once, no finding, both copies verified;
    whether the copy is in the page with the first or comes after it was verified."""
    dec = 1_796_083_200_000_000
    for late in (False, True):
        clock = verdicts.OfficeClock(dec - verdicts.DAY)
        store = PgStore(server.database(), clock=clock)
        node = verdicts.Node(store, clock, shape="pass", min_days=0)  # destroyed for space: lawful
        node.record()
        node.send()
        clock.now = dec - 10 * verdicts.S
        (sid,) = node.record()
        node.destroy(sid, reason="capacity", free_before=10, reserve=100)
        node.send()
        retention = node.seq
        clock.now = dec + 10 * verdicts.S
        node.record()          # a message of December: its partition
        node.send()
        verifier = verdicts.Verifier(store, verdicts.UTC, gap_grace_us=0)
        if late:
            verifier.run_once(clock.now)
        central_pg_stored_twice(store, "s/n1", retention, 202612)
        verifier.run_once(clock.now)
        assert central_unverified(store) == 0, late
        assert sum(central_destruction_days(store).values()) == 1, late
        assert len(central_destructions(store)) == 1, late
        assert [f["kind"] for f in store.findings(limit=100)] == [], late
        store.close()


def test_audit_records_are_kept_in_one_table_and_a_fork_is_still_found(pg_url, key):
    """design/0140: audit records in one table, keyed (node, seq_local) as on SQLite (archived with
    the receipt month of the messages that brought them); a second record 2 is a fork."""
    jan, feb = 1_767_225_600_000_000, 1_769_904_000_000_000  # 2026-01-01, 2026-02-01 UTC
    a = PgStore(pg_url)
    first, fork = hostile.healthy_with_fork("edged/v1/s/n1", key, "s", "n1", jan + 60_000_000)
    later, _ = hostile.healthy_with_fork("edged/v1/s/n2", key, "s", "n2", feb + 60_000_000)
    a.ingest([(t, p) for t, p, _ in first + later], feb + 3_600_000_000)
    hostile.Verifier(a, hostile.UTC, gap_grace_us=0).run_once(feb + 3_600_000_000)
    assert central_pg_partitions(a, "audit") == {} and central_count(a, "audit") == 6
    a.ingest([(t, p) for t, p, _ in fork], feb + 3_700_000_000)  # record 2 again, another hash
    hostile.Verifier(a, hostile.UTC, gap_grace_us=0).run_once(feb + 3_700_000_000)
    assert central_count(a, "audit") == 6, "the fork is not stored"
    assert [f["kind"] for f in a.findings(node="s/n1", severity="critical")] == ["audit_fork"]
    a.close()


def test_accesses_are_judged_on_postgres_as_on_sqlite(pg_url, tmp_path):
    """A grant id is a JSON number: PostgreSQL's ->> gives text, and judging an access failed on
    it (no text = integer operator) in the verifier and the report; the report's judge (three
    queries a batch of accesses, by the grants they name: design/0287) answers as the verifier's
    (three queries an access)."""
    from central.report.report import _judge_of
    from central.store.store import Store
    from central.verifier.verifier import judge_in_store

    def records(db) -> list[dict]:
        rows = [(1, "request.file", "carol", {"request": 7}), (2, "request.approve", "alice", {"request": 7, "grant": 7}),
                (3, "grant.use", "carol", {"grant": 7}), (4, "grant.use", "carol", {"grant": 7}),
                (5, "export.done", "carol", {"grant": "7"}), (6, "grant.use", "carol", {"grant": 8}),
                (7, "request.approve", "carol", {"request": 9, "grant": 9}),
                (8, "request.file", "carol", {"request": 9}), (9, "grant.use", "carol", {"grant": 9})]
        for seq, action, actor, detail in rows:
            central_add_audit(db, "s/n", seq, 1000 + seq, actor, action, json.dumps(detail), 1000 + seq)
        return [{"seq": seq, "seq_local": seq, "at_us": 1000 + seq, "actor": actor, "action": action,
                 "detail": detail} for seq, action, actor, detail in rows if action in ("grant.use", "export.done")]
    answers = []
    for store in (PgStore(pg_url), Store(tmp_path / "c.db")):
        with store.writing() as conn:
            recs = records(conn)
        judge = _judge_of(store, "s/n", recs)
        answers.append([judge_in_store(store, "s/n", r) for r in recs])
        assert answers[-1] == [judge(r) for r in recs]
        store.close()
    assert answers[0] == answers[1], "the same answers on both stores"
    assert [ok for ok, _ in answers[0]] == [True, False, False, False, False], \
        "used twice; grant \"7\" is not grant 7; no approval of 8; 9 approved by its filer"


def test_an_accesss_grant_and_request_are_looked_up_through_their_indexes(pg_url):
    """Issue 53: the lookups of judge_in_store compared the jsonb (->) while the indexes hold the
    text (->>), so each read every record of the node since the access (31 ms at 20,000)."""
    from central.verifier.verifier_kinds import judge_in_store

    store = PgStore(pg_url)
    with store.writing() as conn:
        for seq in range(1, 3001):
            central_add_audit(conn, "s/n", seq, 1000 + seq, "carol", "grant.use" if seq % 3 else "request.approve",
                              json.dumps({"grant": seq % 50, "request": seq}), 1000 + seq)
    store.db.pg.execute("ANALYZE audit")
    sent: list[tuple[str, list]] = []
    execute, query = store.db.execute, store.db.query
    store.db.execute = lambda sql, params=(): (sent.append((sql, list(params))), execute(sql, params))[1]  # type: ignore[method-assign]
    store.db.query = lambda sql, params=(): (sent.append((sql, list(params))), query(sql, params))[1]  # type: ignore[method-assign]
    ok, why = judge_in_store(store, "s/n", {"seq": 3001, "at_us": 5000, "actor": "carol", "action": "grant.use",
                                            "detail": {"grant": 9}})
    assert len(sent) == 3 and "used" in why, (sent, why)  # the approval, the filing, the uses before
    for sql, params in sent:
        plan = "\n".join(r[0] for r in store.db.pg.execute("EXPLAIN " + translate(sql), params))
        assert "audit_grant" in plan or "audit_request" in plan, plan
    as_text = judge_in_store(store, "s/n", {"seq": 3001, "at_us": 5000, "actor": "carol", "action": "grant.use",
                                            "detail": {"grant": "9"}})
    assert as_text != (ok, why) and not as_text[0], "a grant \"9\" is not grant 9"
    # the month's judge (design/0287): a batch's grants in one scan of the index, not an OR of them
    plan = central_pg_plan_naming(store, "s/n", "grant.use", [str(g) for g in range(0, 50, 7)])
    assert "audit_grant" in plan, plan
    assert {r["seq_local"] for r in store.audit_naming("s/n", "grant.use", "grant", [9, "9"])} == \
        {seq for seq in range(1, 3001) if seq % 3 and seq % 50 == 9}, "by the text: the caller keeps the JSON value"
    store.close()


def test_rows_inserted_a_column_at_a_time_come_back_as_they_went(pg_url):
    """central/store/pgstore.py insert_rows (the verifier's conclusions, issue 53): nulls, empty texts,
    a separator or a null mark in a value, floats, booleans, one row and many."""
    store = PgStore(pg_url)
    head = passes.INSERTS["days"]  # (node, camera, day, reason, verdict, segments, bytes, youngest_days)
    odd = ["", "a\x1eb", "\x1f", "ü \\ ' \" %s ?", "x" * 300]
    rows = [("s/n", cam, f"2026-11-{i + 1:02d}", "max_retention", "ok", True, 2**40 + i, y)
            for i, (cam, y) in enumerate([(c, v) for c in odd for v in (None, 0.25, -1.5)])]  # real: float4
    with store.writing():
        store.db.insert_rows(head, rows)
        store.db.insert_rows(head, [("s/one", "", "d", "r", "v", 0, 7, None)])
    got = central_pg_day_rows(store.db.pg)
    assert got == [(*r[:5], 1, *r[6:]) for r in rows] + [("s/one", "", "d", "r", "v", 0, 7, None)]
    store.close()


def test_a_passs_writes_in_one_statement_come_back_as_they_went(pg_url):
    """central/store/pgstore.py write_all (design/0270): several tables' rows and an upsert in one
    statement, its placeholders numbered by edged, values with a percent, a question mark and a
    dollar sign in them; the same table twice (two chunks, their keys apart)."""
    store = PgStore(pg_url)
    days = [("s/n", "cam", f"2026-11-{i + 1:02d}", "max_retention", "ok", 1, 10 + i, 0.5) for i in range(4)]
    said = "50 % of grant ? costs $1 and %s"
    finding = ("s/n:k", "s/n", "s", "kind", "info", 1, None, said, "{}")
    with store.writing():
        store.db.write_all([store.db.rows_sql(passes.INSERTS["days"], days[:2]),
                            store.db.rows_sql(passes.INSERTS["days"], days[2:]),
                            store.db.rows_sql(passes.INSERTS["findings"], [finding, finding]),
                            (CENTRAL_FINDING_MESSAGE_SQL, ["not seen: one snapshot", "s/n:k"])])
        store.db.write_all([store.db.rows_sql(passes.INSERTS["days"], days[:1], passes.UPSERTS_PG["days"])])
    assert central_pg_day_rows(store.db.pg) == [*days[1:], (*days[0][:5], 2, 20, 0.5)], "by bytes"
    assert [f["message"] for f in store.findings(node="s/n")] == [said], "the update saw the store before the insert"
    store.close()


def test_a_node_is_verified_by_the_instance_holding_its_lease(pg_url):
    a, b = PgStore(pg_url), PgStore(pg_url)
    msgs = [(f"edged/v1/s/n{n}/alarm", hostile.durable(1000 + i, {"id": f"a{i}", "action": "raise"}))
            for n in range(4) for i in range(5)]
    a.ingest(msgs, 2000)
    assert a.lease("s/n0") and a.lease("s/n1")
    assert not b.lease("s/n0") and b.lease("s/n2")
    va, vb = (hostile.Verifier(s, hostile.UTC, gap_grace_us=0) for s in (a, b))
    assert vb.run_once(10**12) == 10, "b verifies n2, n3 (new, free) and not n0, n1 (a's)"
    assert b.held == {"s/n2", "s/n3"}
    a.close()  # a dies: its locks go with its session
    wait_for(lambda: b.lease("s/n0"), 30, "n0's lease free once a's session is gone")
    assert vb.run_once(10**12) == 10 and b.unverified() == 0
    assert {n["node"]: n["verified_seq"] for n in b.nodes()} == {f"s/n{n}": 1004 for n in range(4)}
    b.close()


def test_a_pass_whose_last_write_fails_on_its_thread_is_undone_and_a_finding(pg_url, monkeypatch):
    """design/0498: on PostgreSQL a pass's last write runs on a thread of its own while the next node is
    verified on the store's second session. One that fails there, after its rows were sent, is undone
    whole (its message not verified), is its node's `verify_failed`, and is tried again after RETRY_US;
    the node verified meanwhile (a fork) is found all the same."""
    from central.verifier import overlap
    from central.verifier.verifier import RETRY_US
    t0 = hostile.now_us() - 60_000_000
    store, twin = PgStore(pg_url), PgStore(pg_url)
    first, fork = hostile.healthy_with_fork("edged/v1/zz/victim", units.NodeKey(units.Ed25519PrivateKey.generate()),
                                            "zz", "victim", t0)
    store.ingest([(t, p) for t, p, _ in first + fork]
                 + [("edged/v1/aa/evil/alarm", hostile.durable(t0, {"id": "x", "action": "raise"}))], hostile.now_us())
    v = hostile.Verifier(store, hostile.UTC, gap_grace_us=0, twin=twin)
    real, poisoned = overlap.last_write, [True]

    def failing(ev, db, node, then, late):
        sent = real(ev, db, node, then, late)
        if node == "aa/evil" and poisoned[0]:
            raise RuntimeError("the connection dropped after the pass's rows were sent")
        return sent
    monkeypatch.setattr(overlap, "last_write", failing)
    now = hostile.now_us()
    try:
        v.run_once(now)
        kinds = {(f["node"], f["kind"]) for f in store.findings()}
        assert ("aa/evil", "verify_failed") in kinds and ("zz/victim", "audit_fork") in kinds, kinds
        assert store.unverified() == 1, "the failed pass's one message is not verified: its write was undone"
        assert not list(store.alarms_between("aa/evil", 0, 1 << 62)), "nor its alarm kept"
        poisoned[0] = False
        v.run_once(now + RETRY_US)
        assert store.unverified() == 0
        assert len(list(store.alarms_between("aa/evil", 0, 1 << 62))) == 1
    finally:
        v.overlap.close()
        twin.close()
        store.close()


def test_the_read_only_role_runs_status_and_the_report_and_cannot_write(server, pg_url, tmp_path):
    """Issue 43 item 4: `[storage] read_url`, a role with the GRANTs of docs/ref/central.md, is what
    status, the reports and the dashboard open; it reads the month and every write is refused
    by PostgreSQL itself, not only by the session's read-only mode."""
    store = PgStore(pg_url)
    archived.feed(store)
    store.close()
    db = pg_url.rsplit("/", 1)[1]
    role = f"reader_{db}"
    grants = reader_grants(role, "postgres", db)
    doc = (ROOT / "docs" / "ref" / "central.md").read_text()
    for sql in reader_grants("central_reader", "central", "central"):
        assert sql in doc, sql
    central_pg_run(pg_url, [f"CREATE ROLE {role} LOGIN", *grants])
    read_url = f"postgresql://{role}@127.0.0.1:{server.port}/{db}"
    (tmp_path / "c.toml").write_text(f"[storage]\nurl = '{pg_url}'\nread_url = '{read_url}'\n")
    cfg = config.load(tmp_path / "c.toml")
    reader = cfg.open_store(readonly=True)
    try:
        assert reader.url == read_url
        r = archived.month.gather(reader, "s", "2026-01", archived.UTC, archived.AFTER)
        assert r["summary"]["accesses"] == 1 and r["destructions_total"] == 3
        assert ops_status(reader)["unverified"] == 0
    finally:
        reader.close()
    refused = central_pg_writes_refused(read_url)
    assert refused == dict.fromkeys(refused, "InsufficientPrivilege"), refused
    assert set(refused) == {"insert", "update", "delete", "drop", "create"}


def test_a_base_backup_and_its_wal_archive_restore_into_a_fresh_server(server, pg_url):
    """Issue 43 item 4: the PostgreSQL store backed up as docs/ref/central.md says (pg_basebackup
    plus a WAL archive, here by pg_receivewal) and restored into a fresh server: what was written
    after the base backup comes back from the archive, and the month's report answers the same."""
    wal = WalArchive(server).start()
    store = PgStore(pg_url)
    try:
        wait_for(lambda: any(wal.dir.glob("*.partial")), 30, "pg_receivewal streaming the WAL")
        archived.feed(store, destructions=1)
        base_backup(server, server.root / "base")
        later = {"seq": archived.T0 + 500, "ts_us": archived.T0 + 500, "camera": "cam", "reason": "max_retention",
                 "start_us": archived.T0 - 9 * archived.DAY, "end_us": archived.T0 - 9 * archived.DAY + 60_000_000,
                 "destroyed_us": archived.T0 + 500, "bytes": 1000, "sha256": archived.SHA, "segment_id": 99}
        assert store.ingest([("edged/v1/s/n1/retention", json.dumps(later).encode())], archived.T0 + 600) == 1
        archived.Verifier(store, archived.UTC, gap_grace_us=0).run_once(archived.T0 + 700)  # the month shows it judged
        before = archived.month.gather(store, "s", "2026-01", archived.UTC, archived.AFTER, per_page=None)
        segment = central_pg_switch_wal(pg_url)
        wait_for(lambda: wal.has(segment), 30, f"WAL segment {segment} in the archive")
    finally:
        store.close()
        wal.stop()
    restored = Restored(server.root / "base", wal.dir)
    restored.start()
    try:
        url = restored.url(pg_url.rsplit("/", 1)[1])
        wait_for(lambda: central_pg_in_recovery(url) is False, 60, "the restored server to finish its recovery")
        back = PgStore(url, readonly=True)
        try:
            after = archived.month.gather(back, "s", "2026-01", archived.UTC, archived.AFTER, per_page=None)
        finally:
            back.close()
    finally:
        restored.stop()
    assert after["destructions_total"] == 2 and [d["segment_id"] for d in after["destructions"]] == [41, 99]
    assert after["destructions"] == before["destructions"] and after["summary"] == before["summary"]


def test_a_late_message_of_a_month_another_instance_archived_is_stored(pg_url, tmp_path):
    """A message the office receives after another instance archived the month its seq (or its
    stamp) is of is kept in the month it is received (design/0140), never failing its batch."""
    late = PgStore(pg_url, clock=lambda: archived.AFTER)
    office = PgStore(pg_url, clock=lambda: archived.AFTER)
    try:
        archived.feed(late, destructions=1)
        key = units.NodeKey(units.Ed25519PrivateKey.generate())
        archiving.archive_month(office, "2026-01", tmp_path, key, lambda _t: None)
        body = {"seq": archived.T0 + 900, "ts_us": archived.T0 + 900, "action": "raise", "id": "x", "at_us": 1}
        assert late.ingest([("edged/v1/s/n1/alarm", json.dumps(body).encode())], archived.AFTER) == 1
        assert central_pg_partitions(office) == {"messages_2026_03": 1}
    finally:
        late.close()
        office.close()


def test_migrate_on_postgres_waits_for_every_instance_to_stop(pg_url):
    """design/0121 on PostgreSQL: a store of schema 4 is refused; migrate refuses while an
    instance's heartbeat is live, then brings it to this version once it has gone."""
    PgStore(pg_url).close()
    central_pg_as_schema_4(pg_url)
    with pytest.raises(SchemaError, match="schema version 4 and this edged-central expects"):
        PgStore(pg_url)
    store = PgStore(pg_url, migrate=True)
    running = psycopg.connect(pg_url, autocommit=True)
    try:
        plan = migrate.run(store, dry_run=True, progress=lambda _t: None)
        after_4 = list(range(5, SCHEMA_VERSION + 1))  # every step since: a new one adds no line here (design/0359)
        assert [s["version"] for s in plan["steps"]] == after_4 and plan["steps"][0]["tables"] == {"archives": None}
        central_pg_pretend_instance(running, "edged-central-9")
        with pytest.raises(SchemaError, match="instances are still running on this store .edged-central-9 on h, "
                           r"pid \d+, heartbeat \d+ s ago.: schema step.s. " + ", ".join(map(str, after_4)) + " cannot run beside them"):
            migrate.run(store, dry_run=False, progress=lambda _t: None)
        pid = running.info.backend_pid
        running.close()  # the instance stops: its heartbeat is live until the server lets its session go
        wait_for(lambda: central_pg_backend_gone(pg_url, pid), 30, "the instance's session gone on the server")
        said: list[str] = []
        assert migrate.run(store, dry_run=False, progress=said.append)["done"] == after_4
        assert said[-1] == f"schema {SCHEMA_VERSION}: done"
    finally:
        running.close()
        store.close()
    PgStore(pg_url).close()  # this version opens it


def test_migrate_moves_the_messages_partitioned_by_seq_into_the_months_received(pg_url):
    """design/0140 on a store of schema 5: its messages, partitioned by their seq's month (an
    outbox made in August: all in messages_2026_08), are moved into the months the office received
    them, their destructions drawn out one by one; the store then takes new messages as before."""
    aug, oct_, nov = 1_785_542_400_000_000, 1_790_812_800_000_000, 1_793_491_200_000_000  # 2026-08/10/11-01 UTC
    PgStore(pg_url).close()
    rows = [("s/n", aug + k, "retention", at, at + 1000, json.dumps(
        {"seq": aug + k, "ts_us": at, "camera": "cam", "reason": "max_retention", "start_us": 1, "end_us": 2,
         "destroyed_us": at, "sha256": "ab"}), 1) for k, at in enumerate([oct_ + 5, oct_ + 6, nov + 5])]
    central_pg_as_schema_5(pg_url, rows)
    central_pg_add_node(pg_url, "s/n")
    store = PgStore(pg_url, migrate=True)
    try:
        assert central_pg_partitions(store) == {"messages_2026_08": 3}
        plan = migrate.run(store, dry_run=True, progress=lambda _t: None)
        assert any("messages_by_seq" in sql for sql in plan["steps"][1]["statements"]), "the dry run shows the move"
        assert migrate.run(store, dry_run=False, progress=lambda _t: None)["done"] == list(range(6, SCHEMA_VERSION + 1))  # a new step: no line here
        assert central_pg_partitions(store) == {"messages_2026_10": 2, "messages_2026_11": 1}
        assert central_pg_tables(store, "messages_by_seq") == central_pg_tables(store, "by_seq_") == []
        assert [(r["seq"], r["verdict"]) for r in central_destructions(store)] == \
            [(aug, "unjudged"), (aug + 1, "unjudged"), (aug + 2, "unjudged")]
    finally:
        store.close()
    again = PgStore(pg_url)
    try:
        assert again.ingest([("edged/v1/s/n/alarm", hostile.durable(aug + 2, {"id": "a", "action": "raise"}))],
                            nov + 10) == 0, "already stored, in the month received"
        assert again.ingest([("edged/v1/s/n/alarm", hostile.durable(aug + 3, {"id": "a", "action": "raise"}))],
                            nov + 10) == 1
        assert central_pg_partitions(again) == {"messages_2026_10": 2, "messages_2026_11": 2}
    finally:
        again.close()
