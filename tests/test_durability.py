"""The worker's durability thread (design/0052, 0061): a file written and not yet closed is
synced right after the write (a fragment is durable well within a second, whatever the fsync
interval), and within one fsync interval at the latest; a file not written since is not synced again; a closed one is
forgotten (its duplicate descriptors closed); a failed sync surfaces at the writer's next write."""

import fcntl
import os
import time
from pathlib import Path

import pytest
import av

from recorder.durability import Durability, Synced
from recorder.edged_source import READ_WAIT_US
from recorder.read_turns import TURN_US
from recorder.segment import SYNC_HEADROOM_US, TURNS_APART_MOST, HashingFile, SegmentFile, muxer_fragment_us, \
    turns_apart
from storage.export.fmp4 import fragments, read_header
from tests.support.cameras import make_clip
from tests.support.daemon import wait_for
from tests.support.footage import clip_mp4
from tests.support.load import slack

S = 1_000_000


def _open_fds(folder: Path) -> list[str]:
    """This process's descriptors open on `folder` or a file in it: the test's and Durability's own (a
    count of every descriptor also counted what the worker's other parts opened and closed meanwhile)."""
    out = []
    for fd in os.listdir("/proc/self/fd"):
        try:
            target = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:
            continue
        if target == str(folder) or target.startswith(f"{folder}/"):
            out.append(target)
    return sorted(out)


def test_an_open_file_written_is_synced_within_the_interval_and_only_then(tmp_path):
    fds_before = _open_fds(tmp_path)
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
    assert _open_fds(tmp_path) == fds_before == []  # its own descriptors are closed


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


def test_a_write_is_synced_promptly_not_an_interval_later(tmp_path):
    """The bound a power cut sees: from a fragment's last byte written to its fdatasync."""
    durability = Durability(60 * S)  # the interval alone would wait a minute
    fd = os.open(tmp_path / "seg.mp4", os.O_WRONLY | os.O_CREAT)
    dir_fd = os.open(tmp_path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        entry = durability.register(fd, dir_fd)
        f = HashingFile(fd, entry)
        for n in (1, 2, 3):
            f.write(b"x" * 4096)
            written = time.monotonic()
            wait_for(lambda: entry.syncs == n, 30, f"write {n} synced", interval=0.005)
            assert time.monotonic() - written < 1.0
        assert 0 < durability.max_lag_ns < S * 1000 // 2  # gather window + fdatasync, on a loaded box
        assert entry.dir_synced
    finally:
        durability.close()
        os.close(fd)
        os.close(dir_fd)


def test_a_fragment_written_in_several_buffers_wakes_the_pass_once(tmp_path):
    """The writer wakes the pass on its first write since the last pass only: the rest of the
    fragment's buffers join that pass without waking it again (design/0061, the CPU amendment).
    A write after the pass has cleared the file wakes the next one, so nothing written waits
    for the interval."""
    wakes = []
    fd = os.open(tmp_path / "seg.mp4", os.O_WRONLY | os.O_CREAT)
    try:
        entry = Synced(fd, fd, wake=lambda: wakes.append(entry.dirty))
        f = HashingFile(fd, entry)
        for _ in range(4):  # one fragment, four buffers
            f.write(b"x" * 4096)
        assert wakes == [True] and entry.dirty
        entry.dirty = False  # what a pass does before its fdatasync
        f.write(b"y" * 4096)
        assert wakes == [True, True] and entry.dirty
        assert os.fstat(fd).st_size == 5 * 4096
    finally:
        os.close(fd)


def test_without_following_writes_a_pass_waits_for_the_interval(tmp_path):
    """The behaviour before design/0061, kept for the benchmark's comparison: no wake on write."""
    durability = Durability(60 * S, follow_writes=False)
    fd = os.open(tmp_path / "seg.mp4", os.O_WRONLY | os.O_CREAT)
    dir_fd = os.open(tmp_path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        entry = durability.register(fd, dir_fd)
        assert entry.wake is None
        HashingFile(fd, entry).write(b"x")
        assert entry.dirty and entry.syncs == 0 and durability.passes == 0
    finally:
        durability.close()  # its last pass syncs what is left
        os.close(fd)
        os.close(dir_fd)
    assert entry.syncs == 1


def test_each_fragment_of_a_segment_written_in_real_time_is_synced_as_it_lands(tmp_path):
    """A 20 fps clip muxed at its own pace with 0.5 s fragments: every fragment written is
    synced before the segment closes (not one sync at close), each within half a second."""
    clip = clip_mp4(make_clip(tmp_path / "clips", fps=20, gop=10, seconds=4))
    durability = Durability(60 * S)
    try:
        with av.open(str(clip)) as src:
            v = src.streams.video[0]
            seg = SegmentFile(tmp_path / "seg.mp4", v, None, origin_us=0, fragment_us=S // 2, durability=durability)
            entry = seg._synced
            started = time.monotonic()
            for p in src.demux(v):
                if p.dts is None or not p.size:
                    continue
                due = started + float(p.dts * v.time_base)
                if due > time.monotonic():
                    time.sleep(due - time.monotonic())  # the camera's pace, not a wait for a condition
                seg.write(p, True)
            wait_for(lambda: not entry.dirty, 30, "the last fragment synced", interval=0.005)
            syncs = entry.syncs
            seg.close()
        assert seg.sha256 is not None
        # 4 s in 0.5 s fragments: the moov and about 7 fragments before close, each synced as it landed
        assert syncs >= 5, syncs
        # half a second on a quiet box; an fsync waits behind every other writer on a loaded one (the CI's
        # 0.88 s at load 6-12 on 2 cores), so the bound stretches with the load as the suite's waits do
        assert durability.max_lag_ns < S * 1000 // 2 * slack(), durability.max_lag_ns
    finally:
        durability.close()


@pytest.mark.parametrize("arrival_us", [0, READ_WAIT_US])
@pytest.mark.parametrize("frame_us", [40_000, 50_000, 66_667, 100_000, 200_000])
def test_a_fragment_and_its_sync_fit_in_fragment_length(frame_us, arrival_us):
    """design/0061: the muxer ends a fragment at the first picture `frag_duration` or more past
    its first, so a fragment covers the smallest whole number of pictures reaching
    `frag_duration`; that, plus the headroom for its arrival, gather and fdatasync, is within
    the default `fragment_length` whatever the frame rate (25, 20, 15, 10, 5 fps), and with
    the edged reader's low-water wait before the muxer sees a picture (design/0079)."""
    frag = muxer_fragment_us(S, frame_us, arrival_us)
    covered = -(-frag // frame_us) * frame_us
    assert covered + arrival_us + SYNC_HEADROOM_US <= S
    assert covered >= S // 2  # not needlessly short: at most one picture under the bound
    assert covered + frame_us + arrival_us + SYNC_HEADROOM_US > S


@pytest.mark.parametrize("frame_us", [40_000, 50_000, 66_667, 100_000, 111_111, 200_000])
def test_a_camera_read_turns_apart_still_fits_its_fragment_and_sync_in_fragment_length(frame_us):
    """design/0552: a camera is read every other turn of the worker's reader where its fragments allow for
    that wait (25 to 10 fps at the default fragment_length), every turn where they do not (9 fps, 5 fps):
    the fragment, the wait and the sync fit in fragment_length either way (design/0061)."""
    apart = turns_apart(S, frame_us, TURN_US)
    assert apart == (2 if frame_us <= 100_000 else 1)
    arrival_us = apart * READ_WAIT_US
    frag = muxer_fragment_us(S, frame_us, arrival_us)
    covered = -(-frag // frame_us) * frame_us
    assert covered + arrival_us + SYNC_HEADROOM_US <= S
    assert covered >= S // 2


def test_a_short_fragment_length_keeps_every_turn():
    assert turns_apart(S // 2, 50_000, TURN_US) == 1
    assert turns_apart(2 * S, 50_000, TURN_US) == TURNS_APART_MOST == 2


def test_a_short_fragment_length_keeps_fragments_of_half_its_length():
    assert muxer_fragment_us(S // 5, 50_000) == S // 10


def _fragment_spans(path) -> list[float]:
    """Each whole fragment's video duration in seconds, read from its moof."""
    buf = path.read_bytes()
    header = read_header(buf)
    scale = header.track(b"vide").timescale
    return [sum(run.durations) / scale for runs in fragments(buf, header) for run in runs]


def test_where_a_pass_follows_each_fragment_fragments_leave_room_for_the_sync(tmp_path):
    """A real segment (20 fps, 2 s GOP, fragment_length 1 s): with a pass following each write
    no fragment covers more than fragment_length - SYNC_HEADROOM_US, so a power cut loses at
    most fragment_length (bench/power_cut); with the pass per interval alone (the comparison
    of before design/0061) or no durability thread, fragments are fragment_length."""
    clip = clip_mp4(make_clip(tmp_path / "clips", fps=20, gop=40, seconds=6))
    spans = {}
    for name, durability in (("follows", Durability(60 * S)), ("interval", Durability(60 * S, follow_writes=False)),
                             ("none", None)):
        try:
            with av.open(str(clip)) as src:
                v = src.streams.video[0]
                seg = SegmentFile(tmp_path / f"{name}.mp4", v, None, origin_us=0, fragment_us=S,
                                  durability=durability, frame_us=50_000)
                for p in src.demux(v):
                    if p.dts is not None and p.size:
                        seg.write(p, True)
                seg.close()
        finally:
            if durability is not None:
                durability.close()
        assert seg.sha256 is not None
        spans[name] = _fragment_spans(tmp_path / f"{name}.mp4")
        assert sum(spans[name]) == pytest.approx(6.0, abs=0.06), spans[name]
    assert max(spans["follows"]) == pytest.approx((S - SYNC_HEADROOM_US) / S), spans["follows"]
    assert max(spans["interval"]) == max(spans["none"]) == pytest.approx(1.0), spans
