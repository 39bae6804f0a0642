"""Root's `edged init-data` on a folder the daemon's user owns (issue 27, finding 6): a link
that user planted gets neither root's chown nor the node key. Needs root (skipped otherwise)."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import pytest

from storage import datainit
from storage.disk import layout
from storage.keys import nodekey

NOBODY = 65534

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="root's init-data on another user's folder")


@pytest.fixture
def place():
    """A folder that uid 65534 can reach (pytest's tmp_path is root's 0700), removed after."""
    top = Path(tempfile.mkdtemp(prefix="edged-init-"))
    os.chmod(top, 0o755)
    data = top / "data"
    data.mkdir()
    os.chown(data, NOBODY, NOBODY)
    secret = top / "roots"  # a folder of root's that the daemon's user would love to own
    secret.mkdir(mode=0o755)
    try:
        yield data, secret
    finally:
        shutil.rmtree(top)


def untouched(secret: Path) -> None:
    st = os.stat(secret)
    assert (st.st_uid, st.st_gid) == (0, 0), "root's folder was handed to the daemon's user"
    assert list(secret.iterdir()) == [], "something was written through the link"


def test_a_planted_backups_link_is_refused(place):
    data, secret = place
    (data / nodekey.BACKUP_DIR).symlink_to(secret)
    with pytest.raises(datainit.UnsafeDataFolder, match="backups is a link"):
        datainit.init_data(data, "os:test", "test")
    untouched(secret)
    assert not (data / layout.CATALOG_FILE).exists() and not (data / nodekey.KEY_FILE).exists()


def test_a_link_past_the_check_meets_the_owners_rights_only(place, monkeypatch):
    """Planted after the check (a race): the work runs as the folder's owner, who cannot write
    in root's folder, so the key never lands there and nothing is chowned."""
    data, secret = place
    (data / nodekey.BACKUP_DIR).symlink_to(secret)
    monkeypatch.setattr(datainit, "refuse_links", lambda data_dir: None)
    with pytest.raises(datainit.AlreadyInitialised, match="as the folder's owner .uid 65534. failed.*Permission"):
        datainit.init_data(data, "os:test", "test")
    untouched(secret)


def test_root_initialises_the_owners_folder_as_the_owner(place):
    data, _secret = place
    done = datainit.init_data(data, "os:test", "test")
    assert done["key_backup"] == f"{nodekey.BACKUP_DIR}/{nodekey.KEY_FILE}"
    made = [data / layout.CATALOG_FILE, data / nodekey.KEY_FILE, data / nodekey.BACKUP_DIR,
            nodekey.backup_path(data), data / layout.VIDEO_DIR]
    for path in made:
        st = os.lstat(path)
        assert (st.st_uid, st.st_gid) == (NOBODY, NOBODY), path
    assert os.stat(data / nodekey.KEY_FILE).st_mode & 0o077 == 0
    with pytest.raises(datainit.AlreadyInitialised, match="already holds a catalog"):
        datainit.init_data(data, "os:test", "test")
