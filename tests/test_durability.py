"""The worker's durability thread (design/0052): a file written and not yet closed is synced
within one fsync interval; a file not written since is not synced again; a closed one is
forgotten (its duplicate descriptors closed); a failed sync surfaces at the writer's next write."""

import fcntl
import os
import time

import pytest

from recorder.durability import Durability
from recorder.segment import HashingFile
from tests.support.daemon import wait_for

S = 1_000_000


def _open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


def test_an_open_file_written_is_synced_within_the_interval_and_only_then(tmp_path):
    fds_before = _open_fds()
    durability = Durability(S // 5)  # 0.2 s
    fd = os.open(tmp_path / "seg.mp4", os.O_WRONLY | os.O_CREAT)
    dir_fd = os.open(tmp_path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        entry = durability.register(fd, dir_fd)
        f = HashingFile(fd, entry)
        passes = durability.passes
        wait_for(lambda: durability.passes >= passes + 2, 5, "two passes")
        assert entry.syncs == 0  # nothing written yet: nothing to sync
        f.write(b"x" * 4096)
        assert entry.dirty
        written = time.monotonic()
        wait_for(lambda: entry.syncs == 1, 5, "the write synced", interval=0.01)
        assert time.monotonic() - written < 0.2 + 1.0  # one interval, plus a loaded box's scheduling
        assert entry.dir_synced and not entry.dirty
        passes = durability.passes
        wait_for(lambda: durability.passes >= passes + 2, 5, "two more passes")
        assert entry.syncs == 1  # not written since: not synced again
        f.write(b"y")
        wait_for(lambda: entry.syncs == 2, 5, "the second write synced", interval=0.01)
        entry.release()
        wait_for(lambda: entry not in durability._files, 5, "the closed file forgotten")
    finally:
        durability.close()
        os.close(fd)
        os.close(dir_fd)
    assert _open_fds() == fds_before  # its own descriptors are closed


def test_the_thread_never_holds_a_segment_open_for_writing(tmp_path):
    """Its descriptor is closed a pass after the segment's close; were it writable, that close
    would be an IN_CLOSE_WRITE, which the tamper watcher reports as a modified segment once the
    close's grace is over (seen at 96 cameras on a saturated box: false tamper alarms)."""
    durability = Durability(10 * S)
    fd = os.open(tmp_path / "seg.mp4", os.O_WRONLY | os.O_CREAT)
    dir_fd = os.open(tmp_path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        entry = durability.register(fd, dir_fd)
        assert fcntl.fcntl(entry.fd, fcntl.F_GETFL) & os.O_ACCMODE == os.O_RDONLY
        assert os.fstat(entry.fd).st_ino == os.fstat(fd).st_ino
        HashingFile(fd, entry).write(b"x")
        durability.sync_pass()
        assert entry.syncs == 1 and entry.error is None  # fdatasync through a read-only descriptor
    finally:
        durability.close()
        os.close(fd)
        os.close(dir_fd)


def test_a_failed_sync_is_raised_by_the_next_write(tmp_path):
    durability = Durability(10 * S)
    fd = os.open(tmp_path / "seg.mp4", os.O_WRONLY | os.O_CREAT)
    dir_fd = os.open(tmp_path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        entry = durability.register(fd, dir_fd)
        f = HashingFile(fd, entry)
        f.write(b"x")
        os.close(entry.fd)  # the thread's own descriptor fails (EBADF), as a dying disk's fdatasync would (EIO)
        durability.sync_pass()
        assert isinstance(entry.error, OSError)
        with pytest.raises(OSError):
            f.write(b"more")
        entry.fd = os.open(tmp_path / "seg.mp4", os.O_RDONLY)  # so close() has one to close
    finally:
        durability.close()
        os.close(fd)
        os.close(dir_fd)
