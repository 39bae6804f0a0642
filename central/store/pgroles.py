"""The read-only role of a PostgreSQL store (issue 43 item 4, design/0121): what `status`, the
reports and the dashboard connect as (`[storage] read_url`), so a reader that is broken into or
misused cannot change the store. Pure: the statements an administrator runs once, as the owner of
the tables (docs/ref/central.md shows them; tests/test_central_postgres.py runs them). Later
tables and monthly partitions: a partition is read through its parent's grant, and the default
privileges cover the tables the owner makes later (a migration's)."""

from __future__ import annotations

import re


def reader_grants(reader: str, owner: str, database: str) -> list[str]:
    for name in (reader, owner, database):
        if not re.fullmatch(r"[a-z_][a-z0-9_]{0,62}", name):
            raise ValueError(f"{name!r}: a role or database name of a-z, 0-9 and _ expected")
    return [f"GRANT CONNECT ON DATABASE {database} TO {reader}",
            f"GRANT USAGE ON SCHEMA public TO {reader}",
            f"GRANT SELECT ON ALL TABLES IN SCHEMA public TO {reader}",
            f"ALTER DEFAULT PRIVILEGES FOR ROLE {owner} IN SCHEMA public GRANT SELECT ON TABLES TO {reader}"]
