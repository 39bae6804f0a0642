"""A month archived out of the central store and back (issue 43 item 4, design/0120): the pure
part (months, closing, the signed manifest), archive -> report -> restore on a real SQLite store
(and on a real PostgreSQL 15: tests/test_central_postgres.py runs the same test there), and the
command's errors, which leave the store as it was."""

from __future__ import annotations

import gzip
import json
import os
from datetime import datetime, timezone
from typing import NamedTuple
from zoneinfo import ZoneInfo

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from central.archive import archive, archiving
from central.store import migrate, versions
from central.report import month, report_html
from central.archive.archive import ArchiveError
from central.cli import main as cli_main
from central.i18n import Speaker
from central.store.store import Store
from central.store.store_schema import SCHEMA_VERSION
from central.verifier.verifier import Verifier
from storage.keys import chainhead
from storage.keys.nodekey import NodeKey
from tests.support.catalog import (central_as_schema_2, central_destructions, central_messages, central_pg_partitions, central_pg_tables,
                                   central_schema_version)
from tests.test_central_month import SHA, _chain

UTC = ZoneInfo("UTC")
T0 = int(datetime(2026, 1, 10, tzinfo=timezone.utc).timestamp()) * 1_000_000
AFTER = int(datetime(2026, 3, 1, tzinfo=timezone.utc).timestamp()) * 1_000_000
DAY = 86_400_000_000


# the pure part ---------------------------------------------------------------------------------------
@pytest.mark.pure
@pytest.mark.parametrize("text", ["2026-13", "2026-1", "26-01", "", "2026-00", "1969-12", "2026-01-01"])
def test_a_month_not_written_as_yyyy_mm_is_refused(text):
    with pytest.raises(ArchiveError, match="expected a month as YYYY-MM"):
        archive.month_range(text)


@pytest.mark.pure
def test_months_and_when_they_close():
    start, end = archive.month_range("2026-12")
    assert archive.month_of(start) == "2026-12" and archive.month_of(end) == "2027-01"
    assert archive.months_between(start - 1, end + 1) == ["2026-11", "2026-12", "2027-01"]
    assert "not closed" in archive.not_closed("2026-12", end + 14 * DAY, 0)
    assert "3 of its messages are not verified" in archive.not_closed("2026-12", end + 16 * DAY, 3)
    assert archive.not_closed("2026-12", end + 15 * DAY, 0) is None


@pytest.mark.pure
def test_a_manifest_altered_or_signed_by_another_key_is_refused():
    key, other = NodeKey(Ed25519PrivateKey.generate()), NodeKey(Ed25519PrivateKey.generate())
    doc = archive.sign(key, archive.manifest(month="2026-01", rows=2, nodes={"s/n": [2, 5, 6]}, file="f", size=9,
                                             sha256="ab" * 32, store="sqlite", made_us=1))
    assert archive.check(json.loads(json.dumps(doc)), key.fingerprint)["rows"] == 2
    with pytest.raises(ArchiveError, match="signature does not match"):
        archive.check({**doc, "rows": 3}, key.fingerprint)
    with pytest.raises(ArchiveError, match="not by this office's key"):
        archive.check(doc, other.fingerprint)
    row = ("s/n", 5, "audit", 4, 7, 1, '{"x":"台"}')
    assert archive.decode(archive.encode(row)) == row


class Ran(NamedTuple):
    returncode: int
    stdout: str
    stderr: str


def run_cli(capsys: pytest.CaptureFixture[str], *args: str) -> Ran:
    """`edged-central ARGS` in this process (as its entry point runs it; a process each cost 2-3 s here)."""
    capsys.readouterr()
    code = cli_main(list(args))
    out = capsys.readouterr()
    return Ran(code, out.out, out.err)


# the store -------------------------------------------------------------------------------------------
def feed(store: Store, destructions: int = 3) -> None:
    """One node's January 2026: a birth, an access chain, destructions with their hashes, an alarm."""
    key, base = NodeKey(Ed25519PrivateKey.generate()), "edged/v1/s/n1"

    def durable(seq: int, body: dict) -> bytes:
        return json.dumps({"seq": seq, "ts_us": seq, **body}).encode()
    birth = {"ts_us": T0 - 1000, "version": "0.2", "session": 1, "config_hash": "h", "public_key": key.public_b64,
             "cameras": [{"id": "cam"}], "retention": {"min_days": 30, "max_days": 365}}
    msgs = [(f"{base}/status", b"online"), (f"{base}/birth", json.dumps(birth).encode())]
    msgs += [(f"{base}/audit", durable(T0 + 10 + i, {**r, "signed_head": chainhead.sign(
        key, "s", "n1", r["seq_local"], r["hash"], T0 + 20)})) for i, r in enumerate(_chain(T0))]
    msgs += [(f"{base}/retention", durable(T0 + 30 + i, {"camera": "cam", "reason": "max_retention",
                                                         "start_us": T0 - 10 * DAY, "end_us": T0 - 10 * DAY + 60_000_000,
                                                         "destroyed_us": T0 + 30 + i, "bytes": 1000, "sha256": SHA,
                                                         "segment_id": 41 + i})) for i in range(destructions)]
    store.ingest(msgs, T0 + 60_000_000)
    Verifier(store, UTC, gap_grace_us=0).run_once(T0 + 120_000_000)


@pytest.mark.both_engines
def test_a_month_archived_still_reports_and_comes_back(tmp_path):
    """Archive -> report -> restore: the month's messages leave the store for a signed, hashed file;
    the report and the auditor's month still answer from what was kept and say the month is
    archived; a tampered file is refused with nothing changed; the true one brings it all back."""
    store = Store(tmp_path / "central.db", clock=lambda: AFTER)
    try:
        feed(store)
        before = month.gather(store, "s", "2026-01", UTC, AFTER, per_page=None)
        assert before["destructions_total"] == 3 and before["archived"] == []
        key = NodeKey(Ed25519PrivateKey.generate())
        said: list[str] = []
        store.now_us = lambda: archive.month_range("2026-02")[0] + 14 * DAY  # not yet closed: nothing moves
        with pytest.raises(ArchiveError, match="the month 2026-01 is not closed: it closes 15 days after its end"):
            archiving.archive_month(store, "2026-01", tmp_path / "archive", key, said.append)
        assert central_messages(store) == 6 and not (tmp_path / "archive").exists()
        store.now_us = lambda: AFTER
        r = archiving.archive_month(store, "2026-01", tmp_path / "archive", key, said.append)
        assert r["rows"] == 6 and central_messages(store) == 0, r
        assert said and "dropped from the store" in said[-1]
        if hasattr(store, "pg"):  # on PostgreSQL (tests/test_central_postgres.py): the partition itself is gone
            assert central_pg_tables(store, "messages_2026_01") == central_pg_tables(store, "archiving_") == []
        with pytest.raises(ArchiveError, match="already archived"):
            archiving.archive_month(store, "2026-01", tmp_path / "archive", key, said.append)
        # what was kept answers; the month says it is archived, not zero destructions
        after = month.gather(store, "s", "2026-01", UTC, AFTER, per_page=None)
        assert after["destructions"] == [] and [a["month"] for a in after["archived"]] == ["2026-01"]
        assert after["destructions_total"] == 3, "the camera-day summary stays: the month's figure"
        assert after["archived"][0]["derived"] == {"audit": 0, "heads": 2, "destructions": 3, "rejected": 0}, "each node's newest head stays"
        assert after["archived"][0]["sha256"] == r["sha256"]
        assert after["summary"] == before["summary"] and after["accesses"] == before["accesses"]
        html = report_html.to_html(after, UTC, "zh-TW")
        assert r["sha256"] in html and "edged-central restore" in html and "已於" in html, "said in the readers' language"
        # a tampered archive: refused, nothing restored
        data = gzip.decompress((tmp_path / "archive" / "messages-2026-01.jsonl.gz").read_bytes())
        bad = tmp_path / "bad" / "messages-2026-01.jsonl.gz"
        bad.parent.mkdir()
        bad.write_bytes(gzip.compress(data.replace(b"max_retention", b"capacity_xxxx")))
        bad.with_name(bad.name + ".manifest.json").write_text(
            (tmp_path / "archive" / "messages-2026-01.jsonl.gz.manifest.json").read_text())
        with pytest.raises(ArchiveError, match="archive hash mismatch"):
            archiving.restore_file(store, bad, key.fingerprint, said.append)
        assert central_messages(store) == 0
        back = archiving.restore_file(store, tmp_path / "archive" / "messages-2026-01.jsonl.gz.manifest.json",
                                      key.fingerprint, said.append)
        assert back["rows"] == 6 and back["anchored"] and central_messages(store) == 6
        again = month.gather(store, "s", "2026-01", UTC, AFTER, per_page=None)
        assert again["destructions_total"] == 3 and again["archived"] == []
        assert again["destructions"] == before["destructions"]
        assert store.unverified() == 0, "restored as verified: not verified twice"
    finally:
        store.close()


def test_the_command_says_what_is_wrong_and_archives_with_json(tmp_path, capsys):
    data = tmp_path / "data"
    store = Store(data / "central.db")
    feed(store, destructions=1)
    store.close()
    (tmp_path / "c.toml").write_text(f"[storage]\ndata_dir = '{data}'\n")

    def cli(*args: str) -> Ran:
        return run_cli(capsys, "--config", str(tmp_path / "c.toml"), *args)
    r = cli("archive", "--month", "2026-1")
    assert r.returncode == 2 and "expected a month as YYYY-MM" in r.stderr and "Traceback" not in r.stderr
    r = cli("archive", "--month", "2026-02", "--json")
    assert r.returncode == 2 and "nothing to archive" in r.stderr, r.stderr
    r = cli("archive", "--month", "2026-01", "--json")
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["rows"] == 4 and "messages written" in r.stderr
    st = json.loads(cli("status", "--json").stdout)  # the operator's view: the archive state
    assert [(a["month"], a["sha256"], a["restored_us"]) for a in st["office"]["archives"]] == \
        [("2026-01", out["sha256"], None)]
    doc = json.loads((data / "archive" / "messages-2026-01.jsonl.gz.manifest.json").read_text())
    doc["rows"] = 5
    (data / "archive" / "messages-2026-01.jsonl.gz.manifest.json").write_text(json.dumps(doc))
    r = cli("restore", "--file", str(data / "archive" / "messages-2026-01.jsonl.gz"))
    assert r.returncode == 2 and "signature does not match" in r.stderr


# the schema version ------------------------------------------------------------------------------
@pytest.mark.pure
def test_a_store_of_another_schema_version_is_refused_with_what_to_do():
    assert versions.refusal(5, 5, "x") is None
    assert "run `edged-central migrate`" in versions.refusal(3, 5, "x")
    assert "newer than this edged-central" in versions.refusal(6, 5, "x")


def test_migrate_says_what_would_change_then_changes_it_and_run_refuses_an_old_store(tmp_path, capsys):
    """Issue 43 item 4: no schema change inside `run`. A store of schema 2 is refused by every
    verb but migrate; `migrate --dry-run` names each version's statements and the rows of the
    tables they touch and changes nothing; `migrate` brings it to this version with progress."""
    data = tmp_path / "data"
    store = Store(data / "central.db")
    feed(store, destructions=2)
    central_as_schema_2(store)
    store.close()
    with pytest.raises(versions.SchemaError, match="schema version 2 and this edged-central expects"):
        Store(data / "central.db")
    (tmp_path / "c.toml").write_text(f"[storage]\ndata_dir = '{data}'\n[dashboard]\nlisten = ''\n")

    def cli(*args: str) -> Ran:
        return run_cli(capsys, "--config", str(tmp_path / "c.toml"), *args)
    r = cli("run")
    assert r.returncode == 78 and "run `edged-central migrate`" in r.stderr and "Traceback" not in r.stderr, r.stderr
    r = cli("migrate", "--dry-run", "--json")
    assert r.returncode == 0, r.stderr
    p = json.loads(r.stdout)
    assert (p["from"], p["to"], [s["version"] for s in p["steps"]]) == (2, SCHEMA_VERSION, list(range(3, SCHEMA_VERSION + 1)))  # a new step: no line here
    assert p["steps"][2]["tables"] == {"archives": None} and p["done"] == []
    assert p["steps"][4]["tables"] == {"destructions": None, "messages": 5, "nodes": 1}, "drawn from the messages"
    assert p["steps"][5]["tables"] == {"clock_asks": None, "clock_samples": None}  # design/0310: made new (design/0361)
    assert central_schema_version(data / "central.db") == 2, "a dry run changes nothing"
    with migrate.running_here(data / "central.db"):  # as `edged-central run` holds it (design/0211)
        r = cli("migrate")
        assert r.returncode == 2 and f"pid {os.getpid()} on " in r.stderr and "Stop every instance" in r.stderr, \
            r.stderr
        assert "Traceback" not in r.stderr and central_schema_version(data / "central.db") == 2
        assert cli("migrate", "--dry-run").returncode == 0, "a dry run beside a running instance is fine"
    r = cli("migrate")
    assert r.returncode == 0 and "schema 7: done" in r.stderr and "ran schema 3" in r.stdout, r.stderr
    assert central_schema_version(data / "central.db") == SCHEMA_VERSION
    store = Store(data / "central.db")
    assert central_messages(store) == 5
    assert [(r["camera"], r["verdict"]) for r in central_destructions(store)] == [("cam", "unjudged")] * 2, \
        "the destructions verified before schema 7, drawn from their messages, judged per camera-day only"
    store.close()
    assert "nothing to do" in cli("migrate").stdout


def test_the_sqlite_store_is_backed_up_while_open_and_the_copy_restores(tmp_path, capsys):
    """Issue 43 item 4: `edged-central backup` copies the store through SQLite's online backup API
    while a writer holds it open; the copy, put in place of a lost store, answers the same month."""
    data = tmp_path / "data"
    live = Store(data / "central.db", clock=lambda: AFTER)
    feed(live)
    (tmp_path / "c.toml").write_text(f"[storage]\ndata_dir = '{data}'\n")
    try:
        r = run_cli(capsys, "--config", str(tmp_path / "c.toml"), "backup", "--out", str(tmp_path / "b.db"), "--json")
        assert r.returncode == 0, r.stderr
        assert json.loads(r.stdout)["messages"] == 6 and "pages copied" in r.stderr
        before = month.gather(live, "s", "2026-01", UTC, AFTER, per_page=None)
    finally:
        live.close()
    again = run_cli(capsys, "--config", str(tmp_path / "c.toml"), "backup", "--out", str(tmp_path / "b.db"))
    assert again.returncode == 2 and "exists already" in again.stderr
    for f in data.glob("central.db*"):
        f.unlink()  # the store lost
    (tmp_path / "b.db").rename(data / "central.db")
    restored = Store(data / "central.db", readonly=True)
    try:
        after = month.gather(restored, "s", "2026-01", UTC, AFTER, per_page=None)
    finally:
        restored.close()
    assert after["destructions"] == before["destructions"] and after["summary"] == before["summary"]


# credentials and the read-only role -------------------------------------------------------------
@pytest.mark.pure
def test_the_read_only_role_url_is_checked_like_the_stores_and_comes_from_the_credentials(tmp_path, monkeypatch):
    """`[storage] read_url`: off this machine only with sslmode=verify-full, its password in the
    secrets file (handed over by systemd's LoadCredential=, $CREDENTIALS_DIRECTORY), never in
    the config; a URL without a password (libpq's PGPASSFILE then) is fine anywhere."""
    from central import config

    path = tmp_path / "c.toml"
    far = "postgresql://reader@db.office.example:5432/central"
    path.write_text(f'[storage]\nurl = "{far}?sslmode=verify-full"\nread_url = "{far}"\n')
    with pytest.raises(config.ConfigError, match="storage.read_url.*sslmode=verify-full"):
        config.load(path)
    path.write_text(f'[storage]\nread_url = "{far}?sslmode=verify-full"\n')
    with pytest.raises(config.ConfigError, match="storage.read_url.*set \\[storage\\] url too"):
        config.load(path)
    path.write_text('[storage]\nurl = "postgresql://central@127.0.0.1/c"\n'
                    'read_url = "postgresql://reader:Pw-9@127.0.0.1/c"\n')
    with pytest.raises(config.ConfigError, match="storage.read_url hold.* a password in the config") as exc:
        config.load(path)
    assert "Pw-9" not in str(exc.value)
    creds = tmp_path / "creds"
    creds.mkdir()
    (creds / "central-secrets.toml").write_text('[storage]\nread_url = "postgresql://reader:Pw-9@127.0.0.1/c"\n')
    monkeypatch.setenv("CREDENTIALS_DIRECTORY", str(creds))
    path.write_text('[storage]\nurl = "postgresql://central@127.0.0.1/c"\n[secrets]\nfile = "central-secrets.toml"\n')
    cfg = config.load(path)
    assert cfg.storage.read_url == "postgresql://reader:Pw-9@127.0.0.1/c" and cfg.storage.url == "postgresql://central@127.0.0.1/c"
    assert "Pw-9" not in repr(cfg)


@pytest.mark.both_engines
def test_a_box_whose_outbox_is_months_old_is_archived_by_the_months_the_office_received(tmp_path):
    """Issue 53 item 3 (design/0140): a box's seq is its outbox counter, set to the wall clock once
    when the outbox was made (here 2026-08-01) and counted up since; its destructions of October
    and November are filed, archived and shown by the months the office received them, never by
    the outbox's August (on PostgreSQL too: tests/test_central_postgres.py runs this there)."""
    aug, oct_, nov = (int(datetime(2026, m, 1, tzinfo=timezone.utc).timestamp()) * 1_000_000 for m in (8, 10, 11))
    key, base = NodeKey(Ed25519PrivateKey.generate()), "edged/v1/s/n1"
    store = Store(tmp_path / "central.db", clock=lambda: nov + 50 * DAY)
    try:
        counter = aug  # the outbox's next seq
        birth = {"ts_us": oct_, "version": "0.2", "session": 1, "config_hash": "h", "public_key": key.public_b64,
                 "cameras": [{"id": "cam"}], "retention": {"min_days": 1, "max_days": 30}, "last_seq": counter}
        store.ingest([(f"{base}/status", b"online"), (f"{base}/birth", json.dumps(birth).encode())], oct_ + 1)
        for month_start, days in ((oct_ + 9 * DAY, 20), (nov, 20)):  # Oct 10-29 and Nov 1-20, one a day
            for d in range(days):
                at = month_start + d * DAY + 3_600_000_000
                counter += 1
                body = {"seq": counter, "ts_us": at, "camera": "cam", "reason": "max_retention", "bytes": 1000,
                        "start_us": at - 31 * DAY, "end_us": at - 31 * DAY + 60_000_000, "destroyed_us": at,
                        "sha256": SHA, "segment_id": 100 + counter - aug}
                assert store.ingest([(f"{base}/retention", json.dumps(body).encode())], at + 2_000_000) == 1
                Verifier(store, UTC, gap_grace_us=0).run_once(at + 5_000_000)
        assert store.unverified() == 0 and counter < aug + 100, "seqs are a counter: all in the outbox's first month"
        if hasattr(store, "pg"):
            assert central_pg_partitions(store) == {"messages_2026_10": 20, "messages_2026_11": 20}
        key_office = NodeKey(Ed25519PrivateKey.generate())
        with pytest.raises(ArchiveError, match="no message of the month 2026-08"):
            archiving.archive_month(store, "2026-08", tmp_path / "archive", key_office, lambda _t: None)
        october = month.gather(store, "s", "2026-10", UTC, nov + 50 * DAY)
        assert october["destructions_total"] == 20 and len(october["destructions"]) == 20
        r = archiving.archive_month(store, "2026-10", tmp_path / "archive", key_office, lambda _t: None)
        assert r["rows"] == 20 and r["derived"]["destructions"] == 20 and central_messages(store) == 20, r
        october = month.gather(store, "s", "2026-10", UTC, nov + 50 * DAY)
        assert october["destructions"] == [] and october["destructions_total"] == 20, "the camera-day summary stays"
        notes = report_html.archived_notes(report_speaker(), october["archived"])
        assert len(notes) == 1 and "received in 2026-10" in notes[0] and "20 destructions one by one" in notes[0]
        november = month.gather(store, "s", "2026-11", UTC, nov + 50 * DAY, filters=month.Filters(day="2026-11-03"))
        assert november["archived"] == [] and [d["destroyed_us"] for d in november["destructions"]] == \
            [nov + 2 * DAY + 3_600_000_000] and november["destructions_total"] == 1, "filtered by day"
        back = archiving.restore_file(store, tmp_path / "archive" / "messages-2026-10.jsonl.gz",
                                      key_office.fingerprint, lambda _t: None)
        assert back["rows"] == 20 and central_messages(store) == 40
        assert len(month.gather(store, "s", "2026-10", UTC, nov + 50 * DAY)["destructions"]) == 20
        if hasattr(store, "pg"):
            assert central_pg_partitions(store) == {"messages_2026_10": 20, "messages_2026_11": 20}
    finally:
        store.close()


def report_speaker() -> Speaker:
    return Speaker("en", UTC)


def test_a_backlog_archived_with_the_month_it_arrived_in_is_named_on_the_months_it_was_destroyed_in(tmp_path):
    """Issue 73 item 7: a box offline through October delivers its October destructions in November;
    archiving November takes their rows one by one with it, and October's month page names that
    archive and how many of its destructions it holds (it listed none and said nothing before)."""
    oct_, nov = (int(datetime(2026, m, 1, tzinfo=timezone.utc).timestamp()) * 1_000_000 for m in (10, 11))
    key, base = NodeKey(Ed25519PrivateKey.generate()), "edged/v1/s/n1"
    store = Store(tmp_path / "central.db", clock=lambda: nov + 60 * DAY)
    try:
        birth = {"ts_us": oct_, "version": "0.2", "session": 1, "config_hash": "h", "public_key": key.public_b64,
                 "cameras": [{"id": "cam"}], "retention": {"min_days": 1, "max_days": 30}}
        store.ingest([(f"{base}/status", b"online"), (f"{base}/birth", json.dumps(birth).encode())], oct_ + 1)
        backlog = []
        for d in range(12):   # destroyed on October 10-21, queued in the box's outbox
            at = oct_ + (9 + d) * DAY
            backlog.append((f"{base}/retention", json.dumps({
                "seq": d + 1, "ts_us": at, "camera": "cam", "reason": "max_retention", "bytes": 1000,
                "start_us": at - 31 * DAY, "end_us": at - 31 * DAY + 60_000_000, "destroyed_us": at, "sha256": SHA,
                "segment_id": 100 + d}).encode()))
        assert store.ingest(backlog, nov + 3 * DAY) == 12   # delivered on November 4th
        Verifier(store, UTC, gap_grace_us=0).run_once(nov + 3 * DAY + 5_000_000)
        october = month.gather(store, "s", "2026-10", UTC, nov + 60 * DAY, per_page=None)
        assert len(october["destructions"]) == 12 and october["archived"] == []
        office = NodeKey(Ed25519PrivateKey.generate())
        r = archiving.archive_month(store, "2026-11", tmp_path / "archive", office, lambda _t: None)
        assert r["derived"]["destructions"] == 12, r
        october = month.gather(store, "s", "2026-10", UTC, nov + 60 * DAY, per_page=None)
        assert october["destructions"] == [], "the rows one by one went with November's archive"
        (held,) = october["archived"]
        assert held["month"] == "2026-11" and held["elsewhere"] and held["destroyed_here"] == 12, held
        notes = report_html.archived_notes(report_speaker(), october["archived"])
        assert len(notes) == 1 and "12 destructions made on these days" in notes[0] and "2026-11" in notes[0], notes
        assert r["sha256"] in notes[0]
        html = report_html.to_html(october, UTC, "zh-TW")
        assert r["sha256"] in html, "the month page names the archive, in the readers' language"
        november = month.gather(store, "s", "2026-11", UTC, nov + 60 * DAY, per_page=None)
        assert [a["month"] for a in november["archived"]] == ["2026-11"] and not november["archived"][0]["elsewhere"]
    finally:
        store.close()
