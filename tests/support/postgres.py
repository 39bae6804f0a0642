"""A real PostgreSQL 15 for tests: its own cluster in a temporary folder on a free port of
127.0.0.1, started with pg_ctl as the postgres user (the server refuses root), trust auth on
loopback only, stopped and removed at the end; ``database()`` makes a fresh database a test."""

from __future__ import annotations

import itertools
import os
import pwd
import shutil
import subprocess
import tempfile
from pathlib import Path

from tests.support.broker import free_port

BIN = Path("/usr/lib/postgresql/15/bin")


def available() -> str | None:
    """None when PostgreSQL can run here, else why not (the test is skipped with that reason)."""
    if not (BIN / "initdb").exists():
        return "PostgreSQL 15 is not installed (scripts/bootstrap --test installs postgresql-15)"
    try:
        pwd.getpwnam("postgres")
    except KeyError:
        return "no postgres user"
    return None


class Postgres:
    def __init__(self, *, fsync: bool = False, options: str = "") -> None:
        self.fsync = fsync  # off for tests (nothing here survives them); on for a benchmark
        self.options = options  # more server settings ("-c name=value ..."), e.g. a benchmark's pg_stat_statements
        self.port = free_port()
        self.root = Path(tempfile.mkdtemp(prefix="edged-pg-"))  # not under pytest's 0700 tmp: postgres reads it
        self.data, self.sock = self.root / "data", self.root / "sock"
        self._names = itertools.count(1)

    def _as_postgres(self, *cmd: str) -> subprocess.CompletedProcess:
        prefix = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        return subprocess.run([*prefix, *cmd], capture_output=True, text=True, timeout=120, check=True)

    def start(self) -> Postgres:
        self.sock.mkdir()
        if os.geteuid() == 0:
            shutil.chown(self.root, "postgres", "postgres")
            shutil.chown(self.sock, "postgres", "postgres")
        self._as_postgres(str(BIN / "initdb"), "-D", str(self.data), "-U", "postgres", "-A", "trust",
                          "--no-sync", "-E", "UTF8")
        self._as_postgres(str(BIN / "pg_ctl"), "-D", str(self.data), "-w", "-t", "90", "-l",
                          str(self.root / "log"), "-o",
                          f"-p {self.port} -k {self.sock} -c listen_addresses=127.0.0.1"
                          + ("" if self.fsync else " -c fsync=off") + (f" {self.options}" if self.options else ""),
                          "start")
        return self

    def url(self, db: str = "postgres") -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{db}"

    def database(self) -> str:
        """A fresh, empty database; its URL."""
        import psycopg

        name = f"t{os.getpid()}_{next(self._names)}"
        with psycopg.connect(self.url(), autocommit=True) as c:
            c.execute(f"CREATE DATABASE {name}")
        return self.url(name)

    def stop(self) -> None:
        try:
            self._as_postgres(str(BIN / "pg_ctl"), "-D", str(self.data), "-m", "immediate", "-w", "stop")
        except subprocess.CalledProcessError:
            pass  # it never started: nothing to stop
        finally:
            shutil.rmtree(self.root, ignore_errors=True)
