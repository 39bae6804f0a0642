"""The central office's store's schema (split from central/store/store.py, issue 57): its version, the
statements of each version's step (central/store/migrate.py runs them a version a transaction;
central/store/pgdialect.py translates them for PostgreSQL), and the row of a destruction one by one, which
the verifier writes (central/verifier/verifier_kinds.py, central/verifier/evidence.py). Plain data: no connection.
"""

from __future__ import annotations

from typing import Any

SCHEMA_VERSION = 13

_SCHEMA = [
    """CREATE TABLE IF NOT EXISTS messages (
        node TEXT NOT NULL, seq INTEGER NOT NULL, kind TEXT NOT NULL, ts_us INTEGER,
        received_us INTEGER NOT NULL, payload TEXT NOT NULL,
        PRIMARY KEY (node, seq)) WITHOUT ROWID""",
    """CREATE TABLE IF NOT EXISTS retained (
        topic TEXT PRIMARY KEY, node TEXT NOT NULL, what TEXT NOT NULL, received_us INTEGER NOT NULL,
        payload TEXT NOT NULL)""",
    "CREATE INDEX IF NOT EXISTS retained_node ON retained(node)",
    """CREATE TABLE IF NOT EXISTS births (
        node TEXT NOT NULL, ts_us INTEGER NOT NULL, session INTEGER, public_key TEXT, config_hash TEXT,
        received_us INTEGER NOT NULL, payload TEXT NOT NULL, checked INTEGER NOT NULL DEFAULT 0,
        PRIMARY KEY (node, ts_us)) WITHOUT ROWID""",
    """CREATE TABLE IF NOT EXISTS nodes (
        node TEXT PRIMARY KEY, site TEXT NOT NULL, name TEXT NOT NULL,
        first_us INTEGER NOT NULL, last_us INTEGER NOT NULL, status TEXT, status_us INTEGER,
        verified_seq INTEGER NOT NULL DEFAULT 0, max_seq INTEGER NOT NULL DEFAULT 0,
        public_key TEXT, session INTEGER, config_hash TEXT,
        head_seq INTEGER, head_hash TEXT, head_at_us INTEGER)""",
    """CREATE TABLE IF NOT EXISTS audit (
        node TEXT NOT NULL, seq_local INTEGER NOT NULL, at_us INTEGER NOT NULL, actor TEXT NOT NULL,
        action TEXT NOT NULL, detail TEXT NOT NULL, prev_hash TEXT NOT NULL, hash TEXT NOT NULL,
        msg_seq INTEGER NOT NULL, PRIMARY KEY (node, seq_local)) WITHOUT ROWID""",
    "CREATE INDEX IF NOT EXISTS audit_action ON audit(action, at_us)",
    # the approval and filing of a grant, looked up for every access (central/verifier/verifier_kinds.py)
    "CREATE INDEX IF NOT EXISTS audit_grant ON audit(node, action, json_extract(detail, '$.grant'))",
    "CREATE INDEX IF NOT EXISTS audit_request ON audit(node, action, json_extract(detail, '$.request'))",
    """CREATE TABLE IF NOT EXISTS heads (
        node TEXT NOT NULL, msg_seq INTEGER NOT NULL, seq_local INTEGER NOT NULL, hash TEXT NOT NULL,
        at_us INTEGER NOT NULL, sig TEXT NOT NULL, valid INTEGER NOT NULL, source TEXT NOT NULL,
        PRIMARY KEY (node, msg_seq, seq_local)) WITHOUT ROWID""",
    """CREATE TABLE IF NOT EXISTS alarms (
        node TEXT NOT NULL, id TEXT NOT NULL, raised_us INTEGER NOT NULL, kind TEXT, severity TEXT,
        camera TEXT, message TEXT, cleared_us INTEGER, PRIMARY KEY (node, id, raised_us)) WITHOUT ROWID""",
    """CREATE TABLE IF NOT EXISTS destruction_days (
        node TEXT NOT NULL, camera TEXT NOT NULL, day TEXT NOT NULL, reason TEXT NOT NULL,
        verdict TEXT NOT NULL, segments INTEGER NOT NULL, bytes INTEGER NOT NULL,
        youngest_days REAL, PRIMARY KEY (node, camera, day, reason, verdict)) WITHOUT ROWID""",
    """CREATE TABLE IF NOT EXISTS inspections (
        node TEXT NOT NULL, run INTEGER NOT NULL, kind TEXT, due_us INTEGER, ran_us INTEGER,
        signed_us INTEGER, countersigned_us INTEGER, inspector TEXT, supervisor TEXT, cameras TEXT,
        PRIMARY KEY (node, run)) WITHOUT ROWID""",
    """CREATE TABLE IF NOT EXISTS findings (
        id INTEGER PRIMARY KEY, key TEXT NOT NULL UNIQUE, node TEXT NOT NULL, site TEXT NOT NULL,
        kind TEXT NOT NULL, severity TEXT NOT NULL, found_us INTEGER NOT NULL, about_us INTEGER,
        message TEXT NOT NULL, detail TEXT NOT NULL)""",
    "CREATE INDEX IF NOT EXISTS findings_site ON findings(site, found_us)",
]
# version 2 (issue 28): every stored message is verified, not only those above a cursor; what
# failed the schema or the seq check is kept apart (bounded), as evidence
_SCHEMA_2 = [
    "ALTER TABLE messages ADD COLUMN verified INTEGER NOT NULL DEFAULT 0",
    "UPDATE messages SET verified = 1 WHERE seq <= coalesce((SELECT verified_seq FROM nodes n"
    " WHERE n.node = messages.node), 0)",
    "CREATE INDEX IF NOT EXISTS messages_todo ON messages(node, seq) WHERE verified = 0",
    """CREATE TABLE IF NOT EXISTS rejected (
        id INTEGER PRIMARY KEY, node TEXT NOT NULL, topic TEXT NOT NULL, received_us INTEGER NOT NULL,
        why TEXT NOT NULL, size INTEGER NOT NULL, payload TEXT NOT NULL)""",
    "CREATE INDEX IF NOT EXISTS rejected_node ON rejected(node, received_us)",
]
# version 3 (issue 39, design/0095): when the office first heard of each piece of footage, on its
# own clock (the receipt of the `footage` message that named it): ages are judged by it
_SCHEMA_3 = [
    """CREATE TABLE IF NOT EXISTS footage_heard (
        node TEXT NOT NULL, first_id INTEGER NOT NULL, last_id INTEGER NOT NULL,
        heard_us INTEGER NOT NULL, PRIMARY KEY (node, first_id)) WITHOUT ROWID""",
]

# version 4 (issue 43 item 2): the resends the office asked a node for, one per gap; (issue 44,
# design/0115) the time each node's footage of a camera covers, by kind, from its `footage`
# messages: a camera's time is counted once, whichever boxes hold it (central/checks/coverage.py)
_SCHEMA_4 = [
    """CREATE TABLE IF NOT EXISTS resends (
        node TEXT NOT NULL, first_seq INTEGER NOT NULL, last_seq INTEGER NOT NULL, asked_us INTEGER NOT NULL,
        nonce TEXT NOT NULL, tries INTEGER NOT NULL, PRIMARY KEY (node, first_seq)) WITHOUT ROWID""",
    """CREATE TABLE IF NOT EXISTS coverage (
        node TEXT NOT NULL, camera TEXT NOT NULL, from_us INTEGER NOT NULL, to_us INTEGER NOT NULL,
        kind TEXT NOT NULL)""",
    "CREATE INDEX IF NOT EXISTS coverage_camera ON coverage(camera, from_us)",
]

# version 5 (issue 43 item 4, design/0120): the months archived out of the store, each file's
# SHA-256 and signed manifest anchored here (central/archive/archiving.py)
_SCHEMA_5 = [
    """CREATE TABLE IF NOT EXISTS archives (
        month TEXT PRIMARY KEY, rows INTEGER NOT NULL, bytes INTEGER NOT NULL, sha256 TEXT NOT NULL,
        file TEXT NOT NULL, manifest TEXT NOT NULL, archived_us INTEGER NOT NULL, restored_us INTEGER)""",
]

# version 6 (issue 51, design/0122): what the office holds of when each footage range was recorded
# beyond its receipt (the message's stamp, the node's clock offset seen then, the footage it
# fetched later), and each node's newest destruction heard: ages judged on every clock and delay,
# and the watch for footage kept past its maximum (central/verifier/retention_watch.py)
_SCHEMA_6 = [
    """CREATE TABLE IF NOT EXISTS footage_evidence (
        node TEXT NOT NULL, first_id INTEGER NOT NULL, stamp_us INTEGER, offset_us INTEGER,
        from_us INTEGER, to_us INTEGER, carried TEXT, PRIMARY KEY (node, first_id)) WITHOUT ROWID""",
    """CREATE TABLE IF NOT EXISTS retention_heard (
        node TEXT PRIMARY KEY, destroyed_id INTEGER, destroyed_us INTEGER NOT NULL)""",
]

# version 7 (issue 53 items 3 and 5, design/0141): each destruction one by one, as the verifier
# judged it, for the auditor's month (read by site and time, never by scanning the messages),
# archived with the receipt month of the message that said it (node, seq); the destructions the
# office stored before version 7 are drawn from their messages, judged only per camera-day
UNJUDGED = "unjudged"
_SCHEMA_7 = [
    """CREATE TABLE IF NOT EXISTS destructions (
        node TEXT NOT NULL, seq INTEGER NOT NULL, n INTEGER NOT NULL, site TEXT NOT NULL, camera TEXT NOT NULL,
        destroyed_us INTEGER NOT NULL, reason TEXT, verdict TEXT NOT NULL, segment_id INTEGER, sha256 TEXT,
        bytes INTEGER, start_us INTEGER, end_us INTEGER, PRIMARY KEY (node, seq, n)) WITHOUT ROWID""",
    "CREATE INDEX IF NOT EXISTS destructions_site ON destructions(site, destroyed_us)",
    "CREATE INDEX IF NOT EXISTS destructions_bad ON destructions(site, destroyed_us) WHERE verdict <> 'ok'",
    "INSERT OR IGNORE INTO destructions (node, seq, n, site, camera, destroyed_us, reason, verdict, segment_id,"
    " sha256, bytes, start_us, end_us) SELECT messages.node, seq, 0, nodes.site, json_extract(payload, '$.camera'),"
    " CAST(json_extract(payload, '$.destroyed_us') AS INTEGER), json_extract(payload, '$.reason'),"
    f" '{UNJUDGED}', CAST(json_extract(payload, '$.segment_id') AS INTEGER), json_extract(payload, '$.sha256'),"
    " CAST(json_extract(payload, '$.bytes') AS INTEGER), CAST(json_extract(payload, '$.start_us') AS INTEGER),"
    " CAST(json_extract(payload, '$.end_us') AS INTEGER) FROM messages JOIN nodes ON nodes.node = messages.node"
    " WHERE kind = 'retention' AND verified = 1 AND json_extract(payload, '$.camera') IS NOT NULL"
    " AND json_extract(payload, '$.destroyed_us') IS NOT NULL",
]

# version 8 (issue 73, design/0310): the office's time requests to each node (their nonces, kept a few
# minutes) and the clock samples the node's signed answers to them gave: the only evidence of a node's
# clock offset (central/verifier/clock_samples.py); no verdict takes it from a late delivery
_SCHEMA_8 = [
    """CREATE TABLE IF NOT EXISTS clock_asks (
        node TEXT NOT NULL, nonce TEXT NOT NULL, sent_us INTEGER NOT NULL, PRIMARY KEY (node, nonce)) WITHOUT ROWID""",
    """CREATE TABLE IF NOT EXISTS clock_samples (
        node TEXT NOT NULL, sent_us INTEGER NOT NULL, node_us INTEGER NOT NULL, received_us INTEGER NOT NULL,
        mono_us INTEGER, boot TEXT, PRIMARY KEY (node, sent_us)) WITHOUT ROWID""",
    "CREATE INDEX IF NOT EXISTS clock_samples_node_us ON clock_samples(node, node_us)",
]

# version 9 (issue 80, design/0342): an alarm's words as the box made them (its message's template and
# values, mqtt/kinds.py WORDS), said in the sites' language on the dashboard and the month page; null
# for an alarm from a box before issue 80, said in the English it sent
_SCHEMA_9 = [
    "ALTER TABLE alarms ADD COLUMN said TEXT",
]

# version 10 (issue 76, design/0349): each portable device's recording a box took into its custody, as its
# `intake` message said (central/store/intakes.py), listed on the month page beside the destructions
_SCHEMA_10 = [
    """CREATE TABLE IF NOT EXISTS intakes (
        node TEXT NOT NULL, intake INTEGER NOT NULL, site TEXT NOT NULL, seq INTEGER NOT NULL, at_us INTEGER,
        received_us INTEGER NOT NULL, camera TEXT NOT NULL, device TEXT, sha256 TEXT NOT NULL, bytes INTEGER,
        taken_by TEXT, filmed_by TEXT, request INTEGER, segments INTEGER, claimed_start_us INTEGER,
        PRIMARY KEY (node, intake)) WITHOUT ROWID""",
    "CREATE INDEX IF NOT EXISTS intakes_site ON intakes(site, received_us)",
]

# version 11 (issue 76, design/0355): an intake's original destroyed by the box's retention, as its
# `intake_destroyed` message said (central/store/intakes.py): when (the box's trusted clock), by which
# pass, when the office heard it and its verdict; null while the box keeps it
_SCHEMA_11 = [
    "ALTER TABLE intakes ADD COLUMN destroyed_us INTEGER",
    "ALTER TABLE intakes ADD COLUMN destroyed_pass INTEGER",
    "ALTER TABLE intakes ADD COLUMN destroyed_heard_us INTEGER",
    "ALTER TABLE intakes ADD COLUMN destroyed_verdict TEXT",
]


# version 12 (issue 87, design/0426): the device's own file name, as the intake's message said it (mqtt/kinds.py
# TEXT: the names rule, checked by the schema before it is kept)
_SCHEMA_12 = [
    "ALTER TABLE intakes ADD COLUMN file_name TEXT",
]

# version 13 (issue 86, design/0420): the node's destructions that wait on a clock sample, by when the
# node's clock destroyed them (central/store/destructions.py WAITING, each re-judging at a new sample:
# central/verifier/rejudge.py); partial, so the "ok" rows (nearly all) cost no index write
_SCHEMA_13 = [
    "CREATE INDEX IF NOT EXISTS destructions_waiting ON destructions(node, destroyed_us) WHERE verdict = 'unverified'",
]

DESTRUCTIONS_INSERT = ("INSERT OR IGNORE INTO destructions (node, seq, n, site, camera, destroyed_us, reason, verdict,"
                      " segment_id, sha256, bytes, start_us, end_us) VALUES ")


def destruction_row(node: str, site: str, seq: int, n: int, m: dict[str, Any], verdict: str) -> tuple[Any, ...]:
    """A row of ``destructions``: the ``n``-th destruction of the node's message ``seq``."""
    return (node, seq, n, site, m["camera"], m["destroyed_us"], m.get("reason"), verdict, _int(m.get("segment_id")),
            _str(m.get("sha256")), _int(m.get("bytes")), _int(m.get("start_us")), _int(m.get("end_us")))


# each version's statements (central/store/migrate.py runs them a version a transaction)
STEPS = {1: _SCHEMA, 2: _SCHEMA_2, 3: _SCHEMA_3, 4: _SCHEMA_4, 5: _SCHEMA_5, 6: _SCHEMA_6, 7: _SCHEMA_7, 8: _SCHEMA_8, 9: _SCHEMA_9, 10: _SCHEMA_10, 11: _SCHEMA_11, 12: _SCHEMA_12, 13: _SCHEMA_13}


def schema_steps(version: int) -> list[str]:
    """The statements that bring a store at `version` to SCHEMA_VERSION."""
    return [sql for v in sorted(STEPS) if v > version for sql in STEPS[v]]


def _int(v: Any) -> int | None:
    return v if isinstance(v, int) and not isinstance(v, bool) else None


def _str(v: Any) -> str | None:
    return v[:128] if isinstance(v, str) else None
