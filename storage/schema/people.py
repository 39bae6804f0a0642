"""The people tables' schema (R4, R5, R7): accounts, their events, sessions, failed logins,
retrieval requests, grants and the export register. Created once by the catalog migration
m005_people; later columns come from later migrations (storage/schema/migrations.py)."""

from __future__ import annotations

import sqlite_utils

from storage.schema import script


# Over 60 lines on purpose: one schema script, the people tables as migration m005 created them.
def create_tables(db: sqlite_utils.Database) -> None:
    """Called once by the catalog migration m005_people."""
    script.run(db,
        """
        CREATE TABLE accounts (
            id INTEGER PRIMARY KEY,
            name TEXT NOT NULL UNIQUE,        -- one account per person, never reused (R4.1)
            full_name TEXT NOT NULL DEFAULT '',
            roles TEXT NOT NULL,              -- JSON list
            cameras TEXT,                     -- JSON list; NULL: every camera (R4.2)
            pw_hash TEXT NOT NULL,            -- scrypt$N$r$p$salt$hash
            pw_changed_us INTEGER NOT NULL,
            opened_us INTEGER NOT NULL,
            opened_by TEXT NOT NULL,
            revoked_us INTEGER,               -- accounts are revoked, never deleted
            revoked_by TEXT,
            failed INTEGER NOT NULL DEFAULT 0,  -- consecutive failed logins
            locked_until_us INTEGER
        );
        CREATE TABLE account_events (
            id INTEGER PRIMARY KEY,
            account TEXT NOT NULL,
            action TEXT NOT NULL,             -- opened | password | revoked
            at_us INTEGER NOT NULL,
            by TEXT NOT NULL,
            reason TEXT NOT NULL
        );
        CREATE INDEX account_events_account ON account_events(account, at_us);
        CREATE TABLE sessions (
            token_hash TEXT PRIMARY KEY,      -- SHA-256 of the token; the token itself is never stored
            account TEXT NOT NULL,
            via TEXT NOT NULL,
            created_us INTEGER NOT NULL,
            expires_us INTEGER NOT NULL,
            ended_us INTEGER
        );
        CREATE INDEX sessions_account ON sessions(account);
        CREATE TABLE login_failures (
            id INTEGER PRIMARY KEY,
            name TEXT NOT NULL,               -- as typed
            via TEXT NOT NULL,
            at_us INTEGER NOT NULL,
            why TEXT NOT NULL
        );
        CREATE INDEX login_failures_at ON login_failures(at_us);
        CREATE TABLE requests (
            id INTEGER PRIMARY KEY,
            kind TEXT NOT NULL,               -- internal | citizen | agency | police-urgent | quick-look
            state TEXT NOT NULL,              -- filed | approved | rejected | used | lapsed
            category TEXT NOT NULL,
            reason TEXT,
            cameras TEXT NOT NULL,            -- JSON list
            from_us INTEGER NOT NULL,
            to_us INTEGER NOT NULL,
            mode TEXT NOT NULL,               -- view | copy
            requester_name TEXT,
            requester_org TEXT,
            requester_contact TEXT,
            requester_account TEXT,
            letter_ref TEXT,
            citizen_id_masked TEXT,           -- A******789: never the whole number
            citizen_id_hmac TEXT,             -- keyed hash (request-id.key in the data folder)
            identity_checked INTEGER NOT NULL DEFAULT 0,
            flag TEXT,                        -- major | abnormal: the ethics office is told (R5.8)
            flag_note TEXT,
            filed_by TEXT NOT NULL,
            filed_us INTEGER NOT NULL,
            due_us INTEGER,                   -- a citizen's request: answered within 6 days (R5.6)
            decided_by TEXT,
            decided_us INTEGER,
            decision_reason TEXT,
            closed_us INTEGER,                -- rejected, used or lapsed; kept 3 years from here (R5.7)
            purged_us INTEGER
        );
        CREATE INDEX requests_state ON requests(state);
        CREATE INDEX requests_hmac ON requests(citizen_id_hmac) WHERE citizen_id_hmac IS NOT NULL;
        CREATE TABLE grants (
            id INTEGER PRIMARY KEY,
            request_id INTEGER NOT NULL UNIQUE REFERENCES requests(id),
            cameras TEXT NOT NULL,            -- JSON list
            from_us INTEGER NOT NULL,
            to_us INTEGER NOT NULL,
            mode TEXT NOT NULL,
            approver TEXT NOT NULL,
            requester TEXT,
            created_us INTEGER NOT NULL,
            expires_us INTEGER NOT NULL,
            used_us INTEGER,                  -- single use (R5.4)
            used_by TEXT,                     -- the custodian
            watcher TEXT                      -- who watched or received the copy
        );
        -- The register of exports (R5.5, R7.1): one row per copy made from a grant.
        CREATE TABLE exports (
            id INTEGER PRIMARY KEY,
            grant_id INTEGER NOT NULL REFERENCES grants(id),
            out_dir TEXT NOT NULL,
            cameras TEXT NOT NULL,            -- JSON list
            from_us INTEGER NOT NULL,
            to_us INTEGER NOT NULL,
            custodian TEXT NOT NULL,
            created_us INTEGER NOT NULL,
            bytes INTEGER,
            manifest_sha256 TEXT,
            detail TEXT                       -- JSON
        );
        """
    )

