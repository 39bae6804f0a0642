"""Initialising a data folder: the one act that makes a new catalog and a new node key.

edged never does this on its own (design/0023): an empty data folder at start-up is as
likely an unmounted disk as a new installation, and a new catalog and key made silently
would cut every later export off from the key the central office knows. The operator runs
`edged init-data` (or `edged run --init-data`); the act is the first record of the new
audit chain, with who did it and which filesystems the folder and its video folder are on.
"""

from __future__ import annotations

import getpass
import os
import uuid
from dataclasses import asdict
from pathlib import Path
from typing import Any

from storage import audit, layout, nodekey, volume
from storage.catalog import Catalog, open_db


class AlreadyInitialised(Exception):
    pass


def initialised(data_dir: Path) -> bool:
    return (Path(data_dir) / layout.CATALOG_FILE).exists()


def operator() -> str:
    """Who ran it, as the OS knows them (sudo's caller first)."""
    who = os.environ.get("SUDO_USER") or getpass.getuser()
    return f"os:{who} (uid {os.getuid()})"


def init_data(data_dir: Path, actor: str, how: str, reason: str = "") -> dict[str, Any]:
    """Make the catalog, the identity files and the node key (and its backup). Blocking."""
    old = os.umask(0o027)  # as the unit's UMask: nothing of the data folder is for others
    try:
        return _init(Path(data_dir), actor, how, reason)
    finally:
        os.umask(old)


def _init(data_dir: Path, actor: str, how: str, reason: str) -> dict[str, Any]:
    if initialised(data_dir):
        raise AlreadyInitialised(f"{data_dir} already holds a catalog: nothing done")
    data_dir.mkdir(parents=True, exist_ok=True)
    video = data_dir / layout.VIDEO_DIR
    video.mkdir(exist_ok=True)
    found = sum(1 for _ in video.rglob("*.mp4"))
    disk_id = volume.read_identity(data_dir) or str(uuid.uuid4())
    for folder in (data_dir, video):
        found_id = volume.read_identity(folder)
        if found_id is None:
            volume.write_identity(folder, disk_id)
        elif found_id != disk_id:
            raise AlreadyInitialised(f"{folder} carries the identity of another data set ({found_id}): "
                                     "is the right disk mounted there?")
    key = nodekey.load_or_create(data_dir)
    copy = nodekey.backup(data_dir)
    db = open_db(data_dir / layout.CATALOG_FILE)
    try:
        Catalog(db).set_node({"disk_id": disk_id, "video_identity": 1, "key_fingerprint": key.fingerprint})
        detail = {"how": how, "reason": reason, "data_dir": str(data_dir), "disk_id": disk_id,
                  "key_fingerprint": key.fingerprint, "key_backup": str(copy.relative_to(data_dir)),
                  "footage_files_found": found,
                  "filesystems": {name: {k: v for k, v in asdict(p.mount).items()} if p.mount else None
                                  for name, p in (("data", volume.probe(data_dir)), ("video", volume.probe(video)))}}
        audit.append(db, actor, "data.init", detail)
    finally:
        db.conn.close()
    _give_to_folder_owner(data_dir)
    return detail


def _give_to_folder_owner(data_dir: Path) -> None:
    """Run as root (the installer, an operator) on a folder the daemon's user owns: what was
    just made belongs to that user too, or the daemon could not open its own catalog."""
    st = data_dir.stat()
    if os.geteuid() != 0 or (st.st_uid, st.st_gid) == (0, 0):
        return
    for path in [data_dir / layout.VIDEO_DIR, *data_dir.glob(layout.CATALOG_FILE + "*"),
                 data_dir / volume.IDENTITY_FILE, data_dir / layout.VIDEO_DIR / volume.IDENTITY_FILE,
                 data_dir / nodekey.KEY_FILE, data_dir / nodekey.PUBLIC_PEM, data_dir / nodekey.BACKUP_DIR,
                 nodekey.backup_path(data_dir)]:
        if path.exists():
            os.chown(path, st.st_uid, st.st_gid)
