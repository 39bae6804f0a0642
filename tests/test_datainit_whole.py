"""`edged init-data` while a daemon waits for its data folder (a package's install: the unit runs,
waiting, and the admin initialises the folder): the catalog's name appears only once the catalog
is whole, so the waiting daemon, which starts the moment it sees the name, never migrates a
catalog still being made ("duplicate column name", seen in the package tier)."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import threading

from storage import datainit
from storage.disk import layout
from tests.support.catalog import audit_rows
from tests.support.daemon import ROOT, write_config


def test_the_catalog_appears_whole_or_not_at_all(tmp_path):
    data = tmp_path / "data"
    config = write_config(tmp_path / "edged.toml", data, [])
    catalog = data / layout.CATALOG_FILE
    seen: list[int] = []   # for each look at a catalog that was there: its data.init records
    done = threading.Event()

    def watch() -> None:   # as the waiting daemon does (datainit.initialised), as often as it can
        while not done.is_set():
            if datainit.initialised(data):
                db = sqlite3.connect(f"file:{catalog}?mode=ro", uri=True, timeout=30)
                try:
                    seen.append(len(audit_rows(db, "data.init")))
                except sqlite3.OperationalError:   # no audit table yet: a catalog being made
                    seen.append(0)
                finally:
                    db.close()
                return

    watcher = threading.Thread(target=watch)
    watcher.start()
    try:
        made = subprocess.run([sys.executable, "-m", "edged.cli", "init-data", "--config", str(config),
                               "--reason", "new installation"], capture_output=True, text=True, cwd=ROOT, timeout=120)
    finally:
        done.set()
        watcher.join()
    assert made.returncode == 0, made.stderr
    assert seen == [1], f"the catalog was seen before it was whole: {seen}"
    assert [p.name for p in data.iterdir() if ".making" in p.name] == [], "nothing of the catalog's making left"
