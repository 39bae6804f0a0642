"""Initialising a data folder: the one act that makes a new catalog and a new node key.

edged never does this on its own (design/0023): an empty data folder at start-up is as
likely an unmounted disk as a new installation, and a new catalog and key made silently
would cut every later export off from the key the central office knows. The operator runs
`edged init-data` (or `edged run --init-data`); the act is the first record of the new
audit chain, with who did it and which filesystems the folder and its video folder are on.
"""

from __future__ import annotations

import getpass
import json
import os
import stat
import uuid
from dataclasses import asdict
from pathlib import Path
from typing import Any, cast

from storage import audit, node as node_table
from storage.disk import layout, volume
from storage.disk.fsutil import fsync_dir, fsync_file
from storage.keys import nodekey
from storage.catalog import open_db


class AlreadyInitialised(Exception):
    pass


class UnsafeDataFolder(AlreadyInitialised):
    """The data folder holds a link where init-data would write: refused, nothing done."""


# what init-data makes or hands over inside the data folder: none of these may be a link
_OWN_NAMES = (layout.VIDEO_DIR, layout.CATALOG_FILE, volume.IDENTITY_FILE, nodekey.KEY_FILE, nodekey.PUBLIC_PEM,
              nodekey.BACKUP_DIR)


def initialised(data_dir: Path) -> bool:
    return (Path(data_dir) / layout.CATALOG_FILE).exists()


def operator() -> str:
    """Who ran it, as the OS knows them (sudo's caller first)."""
    who = os.environ.get("SUDO_USER") or getpass.getuser()
    return f"os:{who} (uid {os.getuid()})"


def init_data(data_dir: Path, actor: str, how: str, reason: str = "") -> dict[str, Any]:
    """Make the catalog, the identity files and the node key (and its backup). Blocking."""
    data_dir = Path(data_dir)
    refuse_links(data_dir)
    owner = _foreign_owner(data_dir)
    if owner is not None:  # root on a folder the daemon's user owns: do it as that user (issue 27)
        return _as_user(owner, data_dir, actor, how, reason)
    old = os.umask(0o027)  # as the unit's UMask: nothing of the data folder is for others
    try:
        return _init(data_dir, actor, how, reason)
    finally:
        os.umask(old)


def refuse_links(data_dir: Path) -> None:
    """A link among the names init-data writes (say a `backups` link the daemon's user planted
    to a folder of root's) is refused: the folder is not what it looks like."""
    for name in _OWN_NAMES:
        path = Path(data_dir) / name
        if path.is_symlink():
            raise UnsafeDataFolder(f"{path} is a link (to {os.readlink(path)}): init-data writes there and does not "
                                   "follow links; remove it (or make it a real folder) and run init-data again")
    video_id = Path(data_dir) / layout.VIDEO_DIR / volume.IDENTITY_FILE
    if video_id.is_symlink():
        raise UnsafeDataFolder(f"{video_id} is a link: remove it and run init-data again")


def _foreign_owner(data_dir: Path) -> tuple[int, int] | None:
    """(uid, gid) of the data folder when root runs this on a folder some other user owns."""
    if os.geteuid() != 0:
        return None
    try:
        st = os.stat(data_dir)  # the configured path itself may be a link to a mounted disk
    except FileNotFoundError:
        return None  # made here, by root, for root
    if not stat.S_ISDIR(st.st_mode) or st.st_uid == 0:
        return None
    return st.st_uid, st.st_gid


def _as_user(owner: tuple[int, int], data_dir: Path, actor: str, how: str, reason: str) -> dict[str, Any]:
    """Run the initialisation in a child that has become the folder's owner, so nothing the
    owner could plant there (links, fifos) gets root's rights: no chown, no write through a link."""
    uid, gid = owner
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: never returns
        code = 0
        try:
            os.close(read)
            os.setgroups([])
            os.setgid(gid)
            os.setuid(uid)
            os.umask(0o027)
            reply: dict[str, Any] = {"ok": _init(data_dir, actor, how, reason)}
        except AlreadyInitialised as exc:
            reply = {"refused": str(exc)}
        except BaseException as exc:  # said to the parent, which says it to the operator
            reply = {"failed": f"{type(exc).__name__}: {exc}"}
        try:
            with os.fdopen(write, "w") as out:
                json.dump(reply, out, default=str)
        except BaseException:
            code = 1
        os._exit(code)
    os.close(write)
    with os.fdopen(read) as inp:
        text = inp.read()
    os.waitpid(pid, 0)
    try:
        reply = json.loads(text)
    except ValueError:
        raise AlreadyInitialised(f"init-data as uid {uid} ended without an answer: nothing is known to be done") from None
    if "ok" in reply:
        return cast("dict[str, Any]", reply["ok"])
    if "refused" in reply:
        raise AlreadyInitialised(reply["refused"])
    raise AlreadyInitialised(f"init-data as the folder's owner (uid {uid}) failed: {reply['failed']}")


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
    # Made whole under another name, then renamed into place: a daemon waiting for its data
    # folder starts the moment the catalog's name appears, and would migrate a catalog still
    # being made beside this (the package's install: "duplicate column name").
    final = data_dir / layout.CATALOG_FILE
    making = final.with_name(final.name + ".making")
    for leftover in (making, *(making.with_name(making.name + end) for end in ("-wal", "-shm", "-journal"))):
        leftover.unlink(missing_ok=True)   # an init-data cut off before its rename: an empty catalog, no footage
    db = open_db(making, synced=False)   # synced once below, not at each migration's commit
    try:
        node_table.set_values(db, {"disk_id": disk_id, "video_identity": 1, "key_fingerprint": key.fingerprint})
        detail = {"how": how, "reason": reason, "data_dir": str(data_dir), "disk_id": disk_id,
                  "key_fingerprint": key.fingerprint, "key_backup": str(copy.relative_to(data_dir)),
                  "footage_files_found": found,
                  "filesystems": {name: {k: v for k, v in asdict(p.mount).items()} if p.mount else None
                                  for name, p in (("data", volume.probe(data_dir)), ("video", volume.probe(video)))}}
        audit.append(db, actor, "data.init", detail)
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        db.conn.close()
    fsync_file(making)   # whole on the disk before its name says it is there
    try:
        os.link(making, final)   # never over a catalog that appeared meanwhile
    except FileExistsError:
        raise AlreadyInitialised(f"{data_dir} already holds a catalog: nothing done") from None
    finally:
        making.unlink(missing_ok=True)
    fsync_dir(data_dir)
    return detail

