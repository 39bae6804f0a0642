"""A portable camera's file taken in (issue 76, design/0349), below the daemon: files made by ffmpeg as
devices write them, remuxed (never re-encoded: the segments' packets are the file's, byte for byte),
the truncated and the unreadable told apart, and an intake recorded on a real catalog whose retention
pass judges it from its intake, not from the device's claimed 2015."""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
from datetime import datetime, timezone
from pathlib import Path

import av
import pytest
from edged_evidence_check import check as checker

from edged.config import CameraConfig, RetentionConfig
from edged.control.evidence import refusal, said
from edged.i18n import set_language
from mqtt import kinds
from storage.catalog import open_db
from storage.export import evidence as export
from storage.export import checking
from storage.keys import nodekey
from storage.readonly import open_readonly
from storage.footage import intakes as store
from storage.intake import adts
from storage.intake.remux import remux
from storage.intake.take import MADE, Incoming, Refused, Who, place, run_remux, sweep_staging
from storage import audit
from storage.footage.corrections import move as correct_clock
from storage.retention.holds import add_hold
from storage.retention.run import run_pass
from storage.time.clock import FakeClock
from central.intake import schema as office_schema
from tests.support import portable
from tests.support.catalog import audit_rows, rows
from tests.support.forwarding import forwarded

S = 1_000_000
D = 86_400 * S
CLAIMED_2015 = int(datetime(2015, 1, 1, 8, tzinfo=timezone.utc).timestamp() * S)


def decodes(path: Path) -> bool:
    """ffmpeg reads every packet and decodes every picture without an error."""
    return subprocess.run(["ffmpeg", "-v", "error", "-xerror", "-i", str(path), "-f", "null", "-"],
                          capture_output=True, timeout=120).returncode == 0


def payloads(path: Path, kind: str) -> list[bytes]:
    with av.open(str(path)) as c:
        streams = c.streams.video if kind == "video" else c.streams.audio
        return [bytes(p) for p in c.demux(streams[0]) if p.size]


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    d = tmp_path_factory.mktemp("devices")
    frag = portable.fragmented(d / "frag.mp4")
    bwc = portable.body_camera(d / "bwc.mp4")
    return {"bwc": bwc, "hevc": portable.hevc_g711(d / "hevc.mov"), "frag": frag, "mkv": portable.matroska(d / "dev.mkv"),
            "hvc1": portable.hevc_tagged(d / "hvc1.mp4"),
            "frag_cut": portable.cut(frag, d / "frag_cut.mp4", frag.stat().st_size - 3000),
            "plain_cut": portable.cut(bwc, d / "plain_cut.mp4", bwc.stat().st_size // 2),
            "mpeg4": portable.mpeg4_part2(d / "mpeg4.mp4"), "junk": portable.not_media(d / "junk.pdf"),
            "joined": portable.joined(d / "joined.MTS"), "ts": portable.transport_stream(d / "DASH0001.ts"),
            "mid_gop": portable.from_mid_gop(d / "mid.ts", seconds=21), "raw": portable.raw_stream(d / "CH01.h264")}


def test_a_body_cameras_file_is_remuxed_packet_for_packet_with_its_claims(files, tmp_path):
    r = remux(files["bwc"], tmp_path, 10 * S)
    assert r["claimed_us"] == CLAIMED_2015 and r["claimed_from"] == "creation_time" and r["model"] == "BWC-7X"
    segs = r["segments"]
    assert [round(s["offset_us"] / S) for s in segs] == [0, 10, 20] and sum(s["frames"] for s in segs) == 25 * 15
    assert all(decodes(tmp_path / s["file"]) for s in segs)
    # no transcoding: the segments' pictures and sound are the file's own packets, byte for byte
    for kind in ("video", "audio"):
        assert [p for s in segs for p in payloads(tmp_path / s["file"], kind)] == payloads(files["bwc"], kind)


def test_a_matroska_file_without_decoding_times_is_remuxed_packet_for_packet(files, tmp_path):
    """Issue 87 item 7 (design/0385): Matroska keeps presentation times only; the decoding times are
    generated (rising, never after a picture's presentation), the packets the file's own. Before:
    refused, "could not be read to its end (... returned 22)"."""
    r = remux(files["mkv"], tmp_path, 3 * S)
    segs = r["segments"]
    assert r["format"] == "matroska,webm" and len(segs) == 2 and sum(s["frames"] for s in segs) == 6 * 15
    assert all(decodes(tmp_path / s["file"]) for s in segs)
    for kind in ("video", "audio"):
        assert [p for s in segs for p in payloads(tmp_path / s["file"], kind)] == payloads(files["mkv"], kind)
    for s in segs:
        with av.open(str(tmp_path / s["file"])) as c:
            stamps = [(p.pts, p.dts) for p in c.demux(c.streams.video[0]) if p.size]
        assert all(dts <= pts for pts, dts in stamps) and [d for _, d in stamps] == sorted({d for _, d in stamps})


def test_the_devices_codec_tag_is_kept(files, tmp_path):
    """Issue 87 item 7 (design/0385): a phone's `hvc1` stays `hvc1` (it became `hev1`), packets as sent."""
    [seg] = remux(files["hvc1"], tmp_path, 60 * S)["segments"]
    with av.open(str(tmp_path / seg["file"])) as c:
        assert c.streams.video[0].codec_context.codec_tag == "hvc1"
    assert decodes(tmp_path / seg["file"]) and payloads(tmp_path / seg["file"], "video") == payloads(files["hvc1"], "video")


def test_h265_with_g711_sound_is_kept_as_sent(files, tmp_path):
    r = remux(files["hevc"], tmp_path, 60 * S)
    assert r["claimed_us"] is None and len(r["segments"]) == 1
    with av.open(str(tmp_path / "000.mp4")) as c:
        assert (c.streams.video[0].codec_context.name, c.streams.audio[0].codec_context.name) == ("hevc", "pcm_mulaw")
    assert decodes(tmp_path / "000.mp4")


def test_a_fragmented_mp4_cut_short_keeps_its_whole_fragments_and_says_so(files, tmp_path):
    (tmp_path / "whole").mkdir()
    whole = remux(files["frag"], tmp_path / "whole", 60 * S)
    (tmp_path / "cut").mkdir()
    tmp_path = tmp_path / "cut"
    r = remux(files["frag_cut"], tmp_path, 60 * S)
    assert r["truncated"] and 0 < r["whole_fragments"] and r["whole_bytes"] < files["frag_cut"].stat().st_size
    assert 0 < r["segments"][0]["frames"] < whole["segments"][0]["frames"]
    assert decodes(tmp_path / "000.mp4")


def test_a_plain_mp4_cut_short_and_a_file_of_no_media_are_refused(files, tmp_path):
    assert remux(files["plain_cut"], tmp_path, 60 * S) == {"refused": "truncated"}
    assert remux(files["junk"], tmp_path, 60 * S) == {"refused": "not_media"}
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(Refused) as refused:   # the daemon's way: in a process of its own
        run_remux(tmp_path, files["junk"], tmp_path / "made", 60 * S)
    assert refused.value.kind == "not_media"


def test_two_recordings_joined_into_one_file_are_refused_by_where_their_times_go_back(files, tmp_path):
    """Issue 87: FFmpeg's muxer refuses the second recording's times (they go back to the first's start). Before,
    the person read the worker's words: "could not be read to its end (ArgumentError: Invalid argument:
    '<data>/imports/.incoming-.../made/000.mp4' returned 22)". Now the kind and where, said in their language;
    FFmpeg's words, staging path and all, are the journal's alone."""
    r = remux(files["joined"], tmp_path, 60 * S)
    assert (r["refused"], r["at_us"]) == ("times_back", 3 * S) and "returned 22" in r["cause"], r
    with pytest.raises(Refused) as refused:   # the daemon's way: in a process of its own
        run_remux(tmp_path, files["joined"], tmp_path / "made", 60 * S)
    exc = refused.value
    assert (exc.kind, exc.at_us) == ("times_back", 3 * S) and str(tmp_path / "made") in exc.detail
    set_language("zh-TW")
    try:
        said = refusal(exc, "joined.MTS")
    finally:
        set_language(None)
    assert said.startswith("joined.MTS 無法納管") and "第 3.0 秒之後時間倒退" in said, said
    assert "/" not in said and "returned" not in said and "Error" not in said, said
    exc.kind = "made_up"   # a kind the worker made up: the generic sentence, never its words
    assert "joined.MTS could not be taken in: the media worker's answer was not one" in refusal(exc, "joined.MTS")


def test_a_transport_streams_aac_is_kept_frame_for_frame_without_its_adts_headers(files, tmp_path):
    """Issue 87 item 7 (design/0488): a dashcam's .ts, H.264 and AAC each frame behind its ADTS header. Before:
    refused at 0.0 s as "could not be copied into footage": FFmpeg's MP4 muxer writes a fragmented file's header
    before any packet, and refused the first ADTS frame ("Malformed AAC bitstream detected"). Now each frame is
    kept byte for byte less its 7-byte header, the sound's config (from the first frame) in the sample entry."""
    r = remux(files["ts"], tmp_path, 60 * S)
    [seg] = r["segments"]
    assert (r["format"], r["sound_left"], seg["audio"], seg["frames"]) == ("mpegts", None, True, 4 * 15), r
    out = tmp_path / seg["file"]
    assert decodes(out)
    sent, kept = payloads(files["ts"], "audio"), payloads(out, "audio")
    assert len(kept) == len(sent) > 0 and all(f[:2] == b"\xff\xf1" and f[7:] == k for f, k in zip(sent, kept))
    with av.open(str(out)) as c:   # AAC LC, 16 kHz (index 8), one channel
        assert c.streams.audio[0].codec_context.extradata == adts.config(sent[0]) == bytes([0x14, 0x08])


def test_adts_frames_a_segment_cannot_keep_as_written_are_refused_saying_why():
    """One sample entry holds one config: a frame whose rate, channels or profile change, several raw data
    blocks in one frame, channels given by a program config element are refused (design/0488), never guessed."""
    def frame(rate: int = 8, channels: int = 1, blocks: int = 1, body: bytes = bytes(20), crc: bytes = b"") -> bytes:
        n = 7 + len(crc) + len(body)
        return bytes([0xFF, 0xF0 if crc else 0xF1, (1 << 6) | (rate << 2) | (channels >> 2),
                      ((channels & 3) << 6) | (n >> 11), (n >> 3) & 0xFF, ((n & 7) << 5) | 0x1F,
                      0xFC | (blocks - 1)]) + crc + body
    frames = adts.Frames(frame())
    assert frames.config == bytes([0x14, 0x08]) and adts.header(frame())[1] == 7
    body = bytes(range(20))   # a frame with its CRC: 9 header bytes, the raw frame behind them byte for byte
    assert bytes(frames.raw(av.Packet(frame(body=body, crc=b"\x12\x34")))) == bytes(frames.raw(av.Packet(frame(body=body)))) == body
    for bad, why in ((frame(rate=3), "after"), (frame(channels=2), "after"), (frame(blocks=2), "2 raw data blocks"),
                     (frame(channels=0), "program config element"), (frame()[:-1], "whose header says")):
        packet = av.Packet(bad)
        with pytest.raises(adts.NotKept, match=why):
            frames.raw(packet)


def test_a_transport_stream_copied_from_mid_gop_is_refused_where_its_first_picture_is(files, tmp_path):
    """The `unmuxable` refusal of a real file (design/0477 had none; 0488): a transport stream copied from after a
    keyframe, its GOP 20 s long. FFmpeg learns a picture's size from the first keyframe only, 19.7 s in, past
    the 5 s it reads of a file to learn its streams, and its MP4 muxer refuses a picture of no size ("dimensions
    not set"). The person reads what and where, in their language, never FFmpeg's words nor the staging path."""
    with pytest.raises(Refused) as refused:   # the daemon's way: in a process of its own
        run_remux(tmp_path, files["mid_gop"], tmp_path / "made", 60 * S)
    exc = refused.value
    assert exc.kind == "unmuxable" and 19 * S < exc.at_us < 20 * S and "returned 22" in exc.detail, vars(exc)
    set_language("zh-TW")
    try:
        said = refusal(exc, "mid.ts")
    finally:
        set_language(None)
    assert said.startswith("mid.ts 無法納管：檔案第 19.7 秒的畫面或聲音無法複製為錄影"), said
    assert "/" not in said and "returned" not in said and "dimensions" not in said, said


def test_a_raw_h264_export_without_times_is_kept_alone_and_said_so(files, tmp_path):
    """A recorder's raw .h264 export: its pictures carry no times (FFmpeg would guess 25 a second), so none is
    placed as footage and the original is kept alone, said as that. Before, the person read "its video (h264) is
    not H.264 or H.265"."""
    r = remux(files["raw"], tmp_path, 60 * S)
    assert (r["format"], r["video"], r["segments"]) == ("h264", "h264", []) and list(tmp_path.iterdir()) == [], r
    [line] = said(r)
    assert "its h264 pictures carry no times of their own" in line and "not H.264" not in line, line
    set_language("zh-TW")
    try:
        [line] = said(r)
    finally:
        set_language(None)
    assert "h264 畫面未帶有自身的時間" in line, line


def test_a_media_worker_gone_before_its_answer_is_a_refusal(files, tmp_path, monkeypatch):
    """A worker whose socket's service never started (design/0323's missing template unit): the
    daemon's end breaks on its first line; a refusal that says so, never an internal error."""
    def broken(*_a, **_k):
        raise BrokenPipeError(32, "Broken pipe")
    monkeypatch.setattr("storage.intake.take.converse", broken)
    with pytest.raises(Refused) as refused:
        run_remux(tmp_path, files["bwc"], tmp_path / "made", 60 * S)
    assert refused.value.kind == "remux_failed" and "Broken pipe" in refused.value.detail


def test_a_video_edged_does_not_keep_as_footage_leaves_the_original_alone(files, tmp_path):
    r = remux(files["mpeg4"], tmp_path, 60 * S)
    assert r["segments"] == [] and r["video"] == "mpeg4" and list(tmp_path.iterdir()) == []


def test_a_file_larger_than_it_said_is_refused_as_it_arrives(tmp_path):
    staged = Incoming(tmp_path, limit=10)
    staged.write(b"0123456789")
    with pytest.raises(Refused, match="too_big"):
        staged.write(b"x")
    staged.discard()
    assert list((tmp_path / "imports").iterdir()) == []


def test_what_an_intake_cut_short_left_is_swept_and_nothing_else(tmp_path):
    cut_short = Incoming(tmp_path, limit=100)
    cut_short.write(b"half a file")   # a crash here: the folder stays, never catalogued
    kept = tmp_path / "imports" / ("ab" * 32)
    kept.mkdir()
    (kept / "original.mp4").write_bytes(b"an intake's original")
    assert sweep_staging(tmp_path) == [cut_short.folder.name]
    assert [p.name for p in (tmp_path / "imports").iterdir()] == [kept.name]
    assert sweep_staging(tmp_path / "nowhere") == []


def _take_in(data: Path, src: Path, now: int, device: str = "bwc-7", segment_us: int = 10 * S) -> dict:
    staged = Incoming(data, limit=src.stat().st_size)
    with open(src, "rb") as f:
        while chunk := f.read(65536):
            staged.write(chunk)
    sha = staged.finish()
    assert sha == hashlib.sha256(src.read_bytes()).hexdigest()
    result = run_remux(data, staged.path, staged.folder / MADE, segment_us)
    intake = place(staged, sha, result, Who(device, "officer Lin", "carol", None), now)
    db = open_db(data / "catalog.db")
    try:
        assert store.first_of(db, sha) is None
        return store.record(db, intake, "carol")
    finally:
        db.conn.close()


def test_an_intake_is_catalogued_and_judged_from_its_intake_not_its_claim(files, tmp_path):
    now = CLAIMED_2015 + 4000 * D   # the file claims 2015; it is taken in eleven years on
    row = _take_in(tmp_path, files["bwc"], now)
    db = open_db(tmp_path / "catalog.db")
    segs = rows(db, "segments", lambda r: r["camera"] == "portable.bwc-7", order="start_us")
    assert [round((s["start_us"] - CLAIMED_2015) / S) for s in segs] == [0, 10, 20]  # within AAC priming
    assert {(s["source"], s["intake_us"], s["state"]) for s in segs} == {("imported", now, "complete")}
    for s in segs:
        assert hashlib.sha256((tmp_path / s["path"]).read_bytes()).hexdigest() == s["sha256"]
    original = tmp_path / row["original"]
    assert original.read_bytes() == files["bwc"].read_bytes() and row["original"].endswith("/original.mp4")
    assert store.first_of(db, row["sha256"])["id"] == row["id"]
    [rec] = audit_rows(db, "evidence.imported")
    assert rec["actor"] == "carol" and rec["seq"] == row["audit_seq"]
    assert '"filmed_by":"officer Lin"' in rec["detail"] and row["sha256"] in rec["detail"]
    retention = (db, tmp_path, RetentionConfig(max_retention_us=30 * D, min_retention_us=D),
                 [CameraConfig(id="c1", name="c1", url="synthetic:")], shutil.disk_usage)
    assert run_pass(*retention, clock=FakeClock(now + 29 * D)).destroyed == 0, "max counts from the intake"
    assert all((tmp_path / s["path"]).exists() for s in segs)
    assert run_pass(*retention, clock=FakeClock(now + 31 * D)).destroyed == 3, "and it does count"
    assert not any((tmp_path / s["path"]).exists() for s in segs)


def _the_devices_footage(catalog: Path) -> list:
    """The 25 s the body-worn camera's file claims, as an export gathers it."""
    db = open_readonly(catalog)
    try:
        return export.gather(db, ["portable.bwc-7"], CLAIMED_2015, CLAIMED_2015 + 25 * S)
    finally:
        db.conn.close()


def test_an_export_of_imported_footage_names_its_original_and_verifies(files, tmp_path):
    """The manifest's sources say imported, not recorded by this box, with the original's hash; the
    export verifies as any other (storage/export/checking.py verify_export, what `edgectl verify` runs)."""
    now = CLAIMED_2015 + 4000 * D
    row = _take_in(tmp_path, files["bwc"], now)
    cams = _the_devices_footage(tmp_path / "catalog.db")
    header = {"site": {"id": "test", "name": "Test office"}, "node": "node1", "custodian": "carol",
              "recipient": "court", "grant": {"id": 1}, "request": {"id": 1}}
    out = tmp_path / "export"
    (tmp_path / "keydir").mkdir()
    manifest = export.write_export(tmp_path, out, key=nodekey.load_or_create(tmp_path / "keydir"), header=header,
                                   cameras=cams, from_us=CLAIMED_2015, to_us=CLAIMED_2015 + 25 * S)
    assert checking.verify_export(out) == []
    sources = [s for cam in manifest["cameras"] for s in cam["sources"]]
    assert len(sources) == 3 and all(s["imported"]["original_sha256"] == row["sha256"] for s in sources)
    assert {(s["imported"]["taken_by"], s["imported"]["filmed_by"], s["imported"]["device"]) for s in sources} == {
        ("carol", "officer Lin", "bwc-7")}
    assert "not recorded by this box" in sources[0]["imported"]["note"]
    for clip in manifest["cameras"][0]["clips"]:
        assert decodes(out / clip["file"])
    # the court's checker says it from the signed manifest (its other steps need an enrolled box)
    said: dict = {"notes": []}
    checker.imported(manifest, said)
    assert said["notes"] == [f"intake {row['id']}: imported on {checker.utc(now)} by carol from the device bwc-7 "
                             f"(recorded by \"officer Lin\"), the original file's SHA-256 {row['sha256']}: not recorded "
                             "by the box; its times are the device's claim, as its signed manifest.json says"]


def test_a_signed_export_of_imported_footage_names_its_original_as_a_c2pa_ingredient(files, tmp_path):
    """design/0356: each clip's C2PA manifest (signed by a box the office enrolled) carries a `componentOf`
    ingredient naming the original as imported, read back with c2pa-python's own reader; the stand-alone
    checker, in its own process as a court runs it, says it from the C2PA manifest as well as manifest.json."""
    from central.keys import ca
    from storage.keys import nodecert
    from tests.support.c2pa_ca import read
    from tests.test_clip_origin import FRESH, SIGNED, T0
    from tests.test_clip_origin import checker as run_checker

    row = _take_in(tmp_path / "data", files["bwc"], T0)
    key = nodekey.load_or_create(tmp_path)
    _, bundle = ca.accept(tmp_path / "office", nodecert.make_request(key, "tw-hr-001", "node1"), "alice",
                          T0 - 3600 * S, key.fingerprint)
    chain = [nodecert.pem([c]).decode() for c in nodecert.load_pem_chain(bundle)]
    (tmp_path / "ca.pem").write_bytes(nodecert.pem([ca.existing_ca(tmp_path / "office")]))
    (tmp_path / "crl.pem").write_bytes(ca.crl(tmp_path / "office", FRESH))
    cams = _the_devices_footage(tmp_path / "data" / "catalog.db")
    header = {"site": {"id": "tw-hr-001", "name": "Test office"}, "node": "node1", "custodian": "carol",
              "recipient": "court", "grant": {"id": 1}, "request": {"id": 1}}
    out = tmp_path / "export"
    manifest = export.write_export(tmp_path / "data", out, key=key, header=header, cameras=cams, from_us=CLAIMED_2015,
                                   to_us=CLAIMED_2015 + 25 * S, now_us=SIGNED, chain=chain)
    assert manifest["c2pa"]["made"] is True, manifest["c2pa"]
    clips = manifest["cameras"][0]["clips"]
    for clip in clips:
        got = read(out / clip["file"], (tmp_path / "ca.pem").read_text())
        assert (got.state, got.failures) == ("Trusted", [])
        [ing] = got.manifest["ingredients"]
        assert (ing["relationship"], ing["label"], ing["instance_id"]) == (
            "componentOf", "c2pa.ingredient.v3", f"edged:intake:{row['sha256']}")
        facts = ing["metadata"]["edged.intake"]
        assert (facts["intake"], facts["original_sha256"], facts["taken_by"], facts["device"], facts["intake_us"]) == (
            row["id"], row["sha256"], "carol", "bwc-7", T0)
        assert "not recorded by this box" in ing["description"] and row["sha256"] in ing["description"]
    code, said = run_checker(str(out), "--ca", str(tmp_path / "ca.pem"), "--crl", str(tmp_path / "crl.pem"))
    assert code == 0, said
    named = [n for n in said["notes"] if "C2PA manifest names as an ingredient" in n]
    assert named == [f"{c['file']}: its C2PA manifest names as an ingredient intake {row['id']}'s original file, "
                     f"imported on {checker.utc(T0)} by carol from the device bwc-7, SHA-256 {row['sha256']}: not "
                     "recorded by the box" for c in clips], said["notes"]
def _retention(db, data: Path) -> tuple:
    return (db, data, RetentionConfig(max_retention_us=30 * D, min_retention_us=D),
            [CameraConfig(id="c1", name="c1", url="synthetic:")], shutil.disk_usage)


def test_the_original_goes_at_the_maximum_from_its_intake_on_the_record(files, tmp_path):
    """R1 for the original byte for byte (design/0354): kept at the minimum and up to the maximum
    counted from its intake, not from its claimed 2015; then it and its folder go on the audit chain,
    after its segments; and an original edged kept alone (no segment) goes the same way."""
    now = CLAIMED_2015 + 4000 * D
    row = _take_in(tmp_path, files["bwc"], now)
    alone = _take_in(tmp_path, files["mpeg4"], now + S, device="cam-2")
    assert alone["segments"] == 0
    db = open_db(tmp_path / "catalog.db")
    folder, folder_alone = (tmp_path / r["original"] for r in (row, alone))
    for when in (now + 2 * D, now + 29 * D):
        r = run_pass(*_retention(db, tmp_path), clock=FakeClock(when))
        assert (r.destroyed, r.originals) == (0, 0) and folder.exists() and folder_alone.exists()
    r = run_pass(*_retention(db, tmp_path), clock=FakeClock(now + 31 * D))
    assert (r.destroyed, r.originals, r.errors) == (3, 2, [])
    assert not (tmp_path / "imports" / row["sha256"]).exists() and not (tmp_path / "imports" / alone["sha256"]).exists()
    assert [p.name for p in (tmp_path / "imports").iterdir()] == []
    records = audit_rows(db, "evidence.original_destroyed")
    assert [(x["actor"], x["at_us"]) for x in records] == [("edged", now + 31 * D)] * 2
    assert row["sha256"] in records[0]["detail"] and alone["sha256"] in records[1]["detail"]
    assert '"originals":2' in audit_rows(db, "retention.pass")[-1]["detail"]
    assert audit.verify(db)[1] is None, "the chain holds"
    assert {(i["id"], i["destroyed_us"], i["destroyed_pass"]) for i in rows(db, "intakes")} == {
        (row["id"], now + 31 * D, r.pass_id), (alone["id"], now + 31 * D, r.pass_id)}
    assert run_pass(*_retention(db, tmp_path), clock=FakeClock(now + 32 * D)).originals == 0, "once"
    assert len(audit_rows(db, "evidence.original_destroyed")) == 2


async def test_the_office_hears_of_each_originals_destruction_once(files, tmp_path):
    """design/0355: a pass that destroys originals sends, right after each `evidence.original_destroyed`
    record, an `intake_destroyed` message the office's schema takes; a later pass sends none."""
    now = CLAIMED_2015 + 4000 * D
    row = _take_in(tmp_path, files["bwc"], now)
    alone = _take_in(tmp_path, files["mpeg4"], now + S, device="cam-2")
    db = open_db(tmp_path / "catalog.db")
    assert [k for k, _m in await forwarded(db)].count(kinds.INTAKE.name) == 2
    assert [k for k, _m in await forwarded(db) if k != kinds.AUDIT.name] == [], "nothing twice"
    r = run_pass(*_retention(db, tmp_path), clock=FakeClock(now + 31 * D))
    sent = await forwarded(db)
    gone = [(i, m) for i, (k, m) in enumerate(sent) if k == kinds.INTAKE_DESTROYED.name]
    assert [(m["intake"], m["sha256"], m["destroyed_us"], m["pass_id"], m["camera"]) for _i, m in gone] == [
        (row["id"], row["sha256"], now + 31 * D, r.pass_id, "portable.bwc-7"),
        (alone["id"], alone["sha256"], now + 31 * D, r.pass_id, "portable.cam-2")]
    for i, m in gone:  # right after its record
        assert sent[i - 1][0] == kinds.AUDIT.name and sent[i - 1][1]["action"] == "evidence.original_destroyed"
        assert office_schema.check(kinds.INTAKE_DESTROYED.name, json.dumps({"seq": 9, "ts_us": 1, **m}).encode())
    run_pass(*_retention(db, tmp_path), clock=FakeClock(now + 32 * D))
    assert [k for k, _m in await forwarded(db) if k == kinds.INTAKE_DESTROYED.name] == [], "once"


def test_a_hold_over_the_devices_claimed_minute_keeps_the_original_past_the_maximum(files, tmp_path):
    now = CLAIMED_2015 + 4000 * D
    row = _take_in(tmp_path, files["bwc"], now)
    db = open_db(tmp_path / "catalog.db")
    add_hold(db, kind="legal", cameras=["portable.bwc-7"], from_us=CLAIMED_2015 + 12 * S, to_us=CLAIMED_2015 + 13 * S,
             reason="a dispute at the desk", case_ref="113-0042", placed_by="carol", expires_us=None, now=now + D)
    r = run_pass(*_retention(db, tmp_path), clock=FakeClock(now + 400 * D))
    assert (r.destroyed, r.originals) == (2, 0), "the held segment and the original stay"
    assert (tmp_path / row["original"]).read_bytes() == files["bwc"].read_bytes()
    assert audit_rows(db, "evidence.original_destroyed") == []


def test_a_host_clock_correction_moves_an_intake_and_retention_judges_from_the_corrected_time(files, tmp_path):
    """The intake was stamped on a clock found 10 days behind (design/0096): the correction moves the
    intake's time on its row and on its segments' rows alike, and the pass judges from the true one."""
    stamped = CLAIMED_2015 + 4000 * D
    row = _take_in(tmp_path, files["bwc"], stamped)
    db = open_db(tmp_path / "catalog.db")
    correct_clock(db, stamped - D, stamped + D, 10 * D, stamped + 10 * D + S)
    assert {s["intake_us"] for s in rows(db, "segments", lambda s: s["camera"] == "portable.bwc-7")} == {
        stamped + 10 * D}
    assert store.first_of(db, row["sha256"])["intake_us"] == stamped + 10 * D
    r = run_pass(*_retention(db, tmp_path), clock=FakeClock(stamped + 35 * D))
    assert (r.destroyed, r.originals) == (0, 0), "30 days from the true intake are not over"
    r = run_pass(*_retention(db, tmp_path), clock=FakeClock(stamped + 41 * D))
    assert (r.destroyed, r.originals) == (3, 1)


def test_an_export_cut_inside_imported_footage_with_b_pictures_decodes_and_covers_its_range(files, tmp_path):
    """A device's H.264 has B pictures (x264's default), the fixed cameras' none: a clip cut inside
    its segments, at both ends, decodes without an error and holds every frame of the range."""
    _take_in(tmp_path, files["bwc"], CLAIMED_2015 + 4000 * D)
    with av.open(str(files["bwc"])) as c:
        assert c.streams.video[0].codec_context.has_b_frames, "the device's file has B pictures"
    cams = _the_devices_footage(tmp_path / "catalog.db")
    header = {"site": {"id": "test", "name": "Test office"}, "node": "node1", "custodian": "carol",
              "recipient": "court", "grant": {"id": 1}, "request": {"id": 1}}
    (tmp_path / "keydir").mkdir()
    start, end = CLAIMED_2015 + 2_500_000, CLAIMED_2015 + 13_300_000   # inside the first and the fifth segment
    manifest = export.write_export(tmp_path, tmp_path / "export", key=nodekey.load_or_create(tmp_path / "keydir"),
                                   header=header, cameras=cams, from_us=start, to_us=end)
    assert checking.verify_export(tmp_path / "export") == []
    for clip in manifest["cameras"][0]["clips"]:
        path = tmp_path / "export" / clip["file"]
        assert decodes(path), clip
        with av.open(str(path)) as c:
            first = next(p for p in c.demux(c.streams.video[0]) if p.dts is not None)
            delay = round(float((first.pts - first.dts) * first.time_base) * 15)   # the pictures held to reorder
        with av.open(str(path)) as c:
            times = sorted(float(f.pts * f.time_base) for f in c.decode(c.streams.video[0]))
        fps = 15   # from the keyframe at or before the start (2 s) to past the end: every picture
        assert len(times) >= (end - CLAIMED_2015 - 2 * S) / S * fps, (times[:3], len(times))
        # the keyframe's decode time is the clip's start, as every segment's (dts 0, no edit list): its
        # picture is shown after the reorder delay, never later (design/0349)
        assert 0 < delay <= 3 and abs(times[0] - delay / fps) < 1e-6, (times[:3], delay)
