"""A segment's sha256 is taken as its bytes are written (design/0053), and it must be the
digest of exactly the bytes on disk: with and without audio, through a real camera thread, and
when the muxer's writes are not plain appends (then the hasher reads the file back)."""

import hashlib
import os
from dataclasses import asdict

import av

from recorder.camera import CameraRecorder, Settings
from recorder.durability import Durability, Synced
from recorder.events import Closing, to_dict
from recorder.segment import HashingFile, SegmentFile
from recorder.worker import Hasher
from storage.disk.hashing import sha256_file
from tests.support.cameras import RtspServer, ffprobe, make_clip
from tests.support.daemon import wait_for
from tests.support.footage import clip_mp4

S = 1_000_000


def _write_segment(src_path, out_path, durability=None) -> SegmentFile:
    with av.open(str(src_path)) as src:
        v = src.streams.video[0]
        a = src.streams.audio[0] if src.streams.audio else None
        seg = SegmentFile(out_path, v, a, origin_us=0, fragment_us=S, metadata={"title": "t"},
                          durability=durability)
        for p in src.demux():
            if p.dts is not None and p.size:
                seg.write(p, p.stream is v)
        seg.close()
    return seg


def test_the_hash_taken_as_written_is_the_hash_of_the_file_on_disk(tmp_path):
    for audio in (False, True):
        clip = clip_mp4(make_clip(tmp_path / "clips", seconds=6, audio=audio))
        out = tmp_path / f"seg-{audio}.mp4"
        seg = _write_segment(clip, out)
        assert seg.sha256 is not None  # the fMP4 muxer only appends: nothing had to be read back
        assert seg.sha256 == hashlib.sha256(out.read_bytes()).hexdigest()


def test_gathered_buffers_reach_the_disk_together_at_the_flush_in_order_and_hashed(tmp_path):
    """The segment writer's mode (issue 33 item 3): the muxer's 64 KiB buffers are one write per
    fragment. Nothing is on disk before the flush; after it, every byte in order, the durability
    pass woken once; a seek writes what was gathered before it moves."""
    path = tmp_path / "f"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT)
    wakes = []
    try:
        entry = Synced(fd, fd, wake=lambda: wakes.append(1))
        f = HashingFile(fd, entry, gather=True)
        pieces = [bytes([i % 256]) * (65536 if i % 2 else 1000) for i in range(1, 2000)]  # more than IOV_MAX
        for p in pieces:
            assert f.write(p) == len(p)
        assert os.fstat(fd).st_size == 0 and not wakes and f.tell() == sum(map(len, pieces))
        f.flush()
        data = b"".join(pieces)
        assert path.read_bytes() == data and wakes == [1]
        assert f.sha256(len(data)) == hashlib.sha256(data).hexdigest()
        f.write(b"tail")
        f.seek(4)  # the muxer patching a size: what was gathered is written first, then it moves
        assert path.read_bytes() == data + b"tail"
        f.write(b"SIZE")
        f.flush()
        assert path.read_bytes()[:8] == data[:4] + b"SIZE" and f.sha256(len(data) + 4) is None
    finally:
        os.close(fd)


def test_a_write_over_bytes_already_hashed_leaves_the_hash_to_a_read_back(tmp_path):
    path = tmp_path / "f"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT)
    try:
        f = HashingFile(fd, None)
        f.write(b"a" * 100)
        f.write(b"b" * 50)
        assert f.sha256(150) == hashlib.sha256(path.read_bytes()).hexdigest()
        f.seek(10)
        f.write(b"size")  # a muxer patching a box size it already wrote
        f.seek(0, os.SEEK_END)
        f.write(b"c")
        assert f.sha256(151) is None
        f2 = HashingFile(fd, None)
        f2.write(b"x")
        assert f2.sha256(151) is None  # fewer bytes hashed than the file holds
    finally:
        os.close(fd)
    sent = []
    hasher = Hasher(tmp_path, sent.append)
    st = path.stat()
    hasher.submit(Closing("cam", "f", 1, "boundary", st.st_size, 1, (st.st_dev, st.st_ino)))  # no sha256: read back
    hasher.submit(Closing("cam", "f", 2, "boundary", st.st_size, 1, (st.st_dev, st.st_ino), sha256="0" * 64))
    hasher.submit(Closing("cam", "f", 3, "boundary", st.st_size, 1, (st.st_dev, st.st_ino + 1), sha256="0" * 64))
    hasher.close()
    assert [type(e).__name__ for e in sent] == ["Closed", "Closed", "Stranded"]
    assert sent[0].sha256 == sha256_file(path) and hasher.rehashed == 1
    assert sent[1].sha256 == "0" * 64  # as written: the file is not read again, only checked to be the same file


def test_a_camera_thread_hands_over_the_hash_of_the_bytes_on_disk(tmp_path):
    clip = make_clip(tmp_path / "clips", fps=20, gop=20, seconds=10)
    closings, durability = [], Durability(S)
    settings = Settings(data_dir=tmp_path / "data", segment_us=3 * S, fragment_us=S, fsync_us=S,
                        connect_timeout_us=5 * S, read_timeout_us=5 * S, reconnect_max_us=2 * S, sample_us=0)
    with RtspServer({"cam": f"clip:{clip.video}@20"}) as srv:
        rec = CameraRecorder({"id": "cam", "url": srv.url("cam")}, settings, lambda e: to_dict(e), closings.append,
                             durability=durability)
        rec.start()
        try:
            wait_for(lambda: len(closings) >= 2, 40, "two segments closed at 3 s boundaries")
        finally:
            rec.stop.set()
            rec.thread.join(30)
            durability.close()
    assert len(closings) >= 3
    for c in closings:
        on_disk = settings.data_dir / c.path
        assert c.sha256 == hashlib.sha256(on_disk.read_bytes()).hexdigest(), asdict(c)
        assert c.bytes == on_disk.stat().st_size


def test_sound_sent_ahead_of_the_pictures_stays_in_its_own_segment(tmp_path):
    """A camera's sound runs up to a second ahead of its pictures: each segment still ends with
    its pictures (less than one 64 ms AAC frame over), and the sound past the cut opens the
    next segment instead of being lost (recorder/segment.py, design/0049)."""
    clip = clip_mp4(make_clip(tmp_path / "clips", seconds=6, audio=True))
    with av.open(str(clip)) as src:
        v, a = src.streams.video[0], src.streams.audio[0]
        packets = [p for p in src.demux() if p.dts is not None and p.size]
        # sound a whole second ahead of the pictures of its moment, as the file is read
        ahead = lambda p: float(p.dts * p.time_base) - (1.0 if p.stream is a else 0.0)  # noqa: E731
        packets.sort(key=ahead)
        cut_s = 3.0
        first = SegmentFile(tmp_path / "one.mp4", v, a, origin_us=0, fragment_us=S, frame_us=S // 20)
        second = None
        for p in packets:
            is_v = p.stream is v
            if second is None and is_v and p.is_keyframe and p.dts * p.time_base >= cut_s:
                first.close()
                second = SegmentFile(tmp_path / "two.mp4", v, a, fragment_us=S, frame_us=S // 20,
                                     origin_us=int(p.dts * p.time_base * S))
                for item in first.leftover_audio():
                    second.write(item, False)
            (second or first).write(p, is_v)
        second.close()
    for name in ("one.mp4", "two.mp4"):
        streams = {s["codec_type"]: s for s in ffprobe(tmp_path / name)["streams"]}
        video_end = float(streams["video"]["duration"])
        audio_end = float(streams["audio"]["duration"])
        assert video_end - 0.1 <= audio_end <= video_end + 0.064, (name, video_end, audio_end)
