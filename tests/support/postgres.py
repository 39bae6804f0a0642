"""A real PostgreSQL 15 for tests: its own cluster in a temporary folder on a free port of
127.0.0.1, started with pg_ctl as the postgres user (the server refuses root), trust auth on
loopback only, stopped and removed at the end; ``database()`` makes a fresh database a test.

One cluster serves every test of an xdist worker (the `pg_server` fixture, session-scoped: a
worker is a session), each test in a database of its own, made empty or as a copy of one the
office's store created its schema in once (``database(migrated=True)``): design/0390."""

from __future__ import annotations

import itertools
import os
import pwd
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

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
        self._template: str | None = None

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

    def database(self, *, migrated: bool = False) -> str:
        """A fresh database, empty or (`migrated`) holding the office store's schema; its URL."""
        import psycopg

        name = f"t{os.getpid()}_{next(self._names)}"
        template = f" TEMPLATE {self._migrated()}" if migrated else ""
        with psycopg.connect(self.url(), autocommit=True) as c:
            c.execute(f"CREATE DATABASE {name}{template}")
        return self.url(name)

    def _migrated(self) -> str:
        """The template the migrated databases are copied from: the schema as PgStore creates it, made once."""
        if self._template is None:
            from central.store.pgstore import PgStore

            url = self.database()
            PgStore(url).close()
            self._template = url.rsplit("/", 1)[1]
        return self._template

    def stop(self) -> None:
        try:
            self._as_postgres(str(BIN / "pg_ctl"), "-D", str(self.data), "-m", "immediate", "-w", "stop")
        except subprocess.CalledProcessError:
            pass  # it never started: nothing to stop
        finally:
            shutil.rmtree(self.root, ignore_errors=True)


@pytest.fixture(scope="session")
def pg_server() -> Iterator[Postgres]:
    """One PostgreSQL cluster for every test of this worker (import the fixture into the module); skipped
    with the reason where PostgreSQL cannot run."""
    why = available()
    if why is not None:
        pytest.skip(why)
    pg = Postgres().start()
    try:
        yield pg
    finally:
        pg.stop()


class WalArchive:
    """A WAL archive of a running server: pg_receivewal streams its WAL into a folder (as
    archive_command would copy it, without restarting the server to turn archive_mode on)."""

    def __init__(self, pg: Postgres):
        self.pg, self.dir = pg, pg.root / "wal-archive"

    def start(self) -> WalArchive:
        self.pg._as_postgres("mkdir", str(self.dir))
        prefix = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        self.proc = subprocess.Popen([*prefix, str(BIN / "pg_receivewal"), "-D", str(self.dir), "-h", "127.0.0.1",
                                      "-p", str(self.pg.port), "-U", "postgres", "--no-sync", "--no-loop"],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        return self

    def has(self, segment: str) -> bool:
        """Whether the segment is in the archive, complete (not a .partial)."""
        return (self.dir / segment).exists()

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=30)


def base_backup(pg: Postgres, target: Path) -> None:
    """pg_basebackup of ``pg`` into ``target`` (plain), without WAL: the archive brings what it needs."""
    pg._as_postgres(str(BIN / "pg_basebackup"), "-D", str(target), "-h", "127.0.0.1", "-p", str(pg.port),
                    "-U", "postgres", "-X", "none", "--no-sync", "-c", "fast")


class Restored(Postgres):
    """A fresh server started from a base backup, replaying a WAL archive to its end, then open."""

    def __init__(self, base: Path, wal: Path):
        super().__init__()
        os.rmdir(self.root)  # its own folder is the backup's
        self.root, self.data, self.sock = base.parent, base, base.parent / "sock-restored"
        self.wal = wal

    def start(self) -> Postgres:
        self._as_postgres("mkdir", "-p", str(self.sock))
        self._as_postgres("touch", str(self.data / "recovery.signal"))
        self._as_postgres(str(BIN / "pg_ctl"), "-D", str(self.data), "-w", "-t", "90", "-l",
                          str(self.root / "log-restored"), "-o",
                          f"-p {self.port} -k {self.sock} -c listen_addresses=127.0.0.1 -c fsync=off"
                          f" -c restore_command='cp {self.wal}/%f %p'", "start")
        return self

    def stop(self) -> None:
        try:
            self._as_postgres(str(BIN / "pg_ctl"), "-D", str(self.data), "-m", "immediate", "-w", "stop")
        except subprocess.CalledProcessError:
            pass
