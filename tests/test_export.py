"""Evidence export (issue 7, item 5): real segment files (written by the recorder's segment
writer, or recorded by the real daemon from a real RTSP camera), a real catalog, ffprobe on
what comes out, and `verify` against one changed byte."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import shutil
import stat
import subprocess
import tempfile
from datetime import datetime
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from central.keys import ca as office_ca
from storage.keys import nodecert, nodekey
from storage.time.clock import SYSTEM
from storage.export import evidence as export
from storage.export import checking
from storage.readonly import open_readonly
from storage.footage.segment_rows import TAMPERED
from tests.support.broker import Broker, Subscriber
from tests.support.cameras import RtspServer, ffprobe, ffprobe_errors, make_clip
from tests.support.catalog import alarms, audit_rows, one, rows
from tests.support.daemon import ROOT, Daemon, wait_for, write_config
from tests.support.footage import clip_mp4, write_segments
from tests.support.people import People

S = 1_000_000
T0 = 1_800_000_000_000_000  # 2027-01-15 08:00 UTC
GOP_S = 1.0                 # the clips have a keyframe every 20 frames at 20 fps
FRAME_S = 0.05


@pytest.fixture(scope="module")
def sources(tmp_path_factory):
    d = tmp_path_factory.mktemp("clips")
    small = make_clip(d, fps=20, gop=20, seconds=10, audio=True)
    big = make_clip(d, width=480, height=272, fps=20, gop=20, seconds=10, audio=True)
    return clip_mp4(small), clip_mp4(big)


@pytest.fixture
def key(tmp_path):
    (tmp_path / "keydir").mkdir()
    return nodekey.load_or_create(tmp_path / "keydir")


def footage(data: Path, source: Path, spans, camera: str = "cam1", segment_s: float = 6) -> list[dict]:
    data.mkdir(exist_ok=True)
    return write_segments(data, camera, source, spans, segment_s=segment_s)


def do_export(data: Path, out: Path, key, cameras, start, end, readme=None, **kw) -> dict:
    db = open_readonly(data / "catalog.db")
    try:
        cams = export.gather(db, cameras, start, end)
    finally:
        db.conn.close()
    header = {"site": {"id": "test", "name": "Test office"}, "node": "node1", "custodian": "carol",
              "recipient": "police officer", "grant": {"id": 7}, "request": {"id": 3, "approver": "adam",
                                                                             "requester": "vera"}}
    if readme is not None:
        header["readme"] = readme
    return export.write_export(data, out, key=key, header=header, cameras=cams, from_us=start, to_us=end, **kw)


def video_packets(path: Path) -> list[tuple[float, float, bool]]:
    """(pts, dts, keyframe) of every video packet, in file order, from ffprobe."""
    out = subprocess.run(["ffprobe", "-v", "error", "-select_streams", "v:0", "-show_entries",
                          "packet=pts_time,dts_time,flags", "-of", "json", str(path)],
                         check=True, capture_output=True, text=True).stdout
    return [(float(p["pts_time"]), float(p["dts_time"]), "K" in p["flags"]) for p in json.loads(out)["packets"]]


def flip_byte(path: Path, offset: int) -> None:
    with open(path, "r+b") as f:
        f.seek(offset)
        b = f.read(1)
        f.seek(offset)
        f.write(bytes([b[0] ^ 0x01]))


# --- the plan (pure) -----------------------------------------------------------------------------
def seg(start_s: float, end_s: float, state: str = "complete") -> dict:
    return {"start_us": T0 + int(start_s * S), "end_us": T0 + int(end_s * S), "state": state, "path": f"{start_s}"}


def test_plan_picks_overlapping_footage_and_names_every_hole():
    rows = [seg(0, 6), seg(6, 12), seg(12, 18, "missing"), seg(18, 24), seg(30, 36), seg(36, 40, "writing")]
    explain = [{"from_us": T0 + 24 * S, "to_us": T0 + 30 * S, "reason": "cannot connect: timed out"}]
    plan = export.plan_camera("cam1", rows, T0 + 5 * S, T0 + 39 * S, explain)
    assert [r["path"] for r in plan.sources] == ["0", "6", "18", "30"]
    assert [(g["from_us"] - T0, g["to_us"] - T0, g["reason"]) for g in plan.gaps] == [
        (12 * S, 18 * S, "the segment file is missing"),
        (24 * S, 30 * S, "cannot connect: timed out"),
        (36 * S, 39 * S, "still being recorded: export again once the segment is closed")]


def test_plan_treats_abutting_segments_as_continuous_and_a_late_start_as_a_hole():
    plan = export.plan_camera("cam1", [seg(10, 16), seg(16, 22)], T0, T0 + 20 * S)
    assert [(g["from_us"] - T0, g["to_us"] - T0, g["reason"]) for g in plan.gaps] == [
        (0, 10 * S, "no footage recorded")]
    assert export.plan_camera("cam1", [seg(10, 16)], T0 + 30 * S, T0 + 40 * S).sources == []


# --- remux -----------------------------------------------------------------------------------------
def test_export_starts_at_a_keyframe_has_the_right_duration_and_keeps_the_hole(tmp_path, sources, key):
    data = tmp_path / "data"
    footage(data, sources[0], [(T0, 20), (T0 + 25 * S, 14)])  # a 5 s hole at 20 s
    start, end = T0 + int(3.4 * S), T0 + 37 * S
    out = tmp_path / "export"
    manifest = do_export(data, out, key, ["cam1"], start, end)
    clip = out / "cam1.mp4"
    cam = manifest["cameras"][0]

    info = ffprobe(clip)
    assert {s["codec_type"] for s in info["streams"]} == {"video", "audio"}
    assert not ffprobe_errors(clip).strip()
    duration = float(info["format"]["duration"])
    wanted = (end - start) / S
    assert wanted <= duration <= wanted + GOP_S, duration  # starts up to a GOP early, at the keyframe
    assert cam["actual"]["from_us"] == T0 + 3 * S and abs(cam["actual"]["to_us"] - end) <= FRAME_S * S

    packets = video_packets(clip)
    assert packets[0][2] and packets[0][1] == 0.0  # starts at a keyframe, at clip second 0
    steps = [round(b[1] - a[1], 3) for a, b in zip(packets, packets[1:])]
    assert all(s > 0 for s in steps)  # strictly increasing: continuous timestamps across segments
    # Clip time is wall time: one jump, at the hole (20 s - 3 s into the clip), as long as the hole.
    jumps = [(round(packets[i][1], 3), s) for i, s in enumerate(steps) if s != FRAME_S]
    assert jumps == [(round(17 - FRAME_S, 3), round(5 + FRAME_S, 3))], jumps
    assert [(g["from_us"] - T0, g["to_us"] - T0, g["clip_offset_s"]) for g in cam["gaps"]] == [
        (20 * S, 25 * S, 17.0)]
    assert len(cam["sources"]) == 6 and all(s["clip"] == "cam1.mp4" for s in cam["sources"])
    assert cam["clips"][0]["sha256"] == export.sha256_file(clip)
    assert manifest["request"] == {"id": 3, "approver": "adam", "requester": "vera"}
    assert manifest["custodian"] == "carol" and manifest["node_public_key"] == key.public_b64
    assert sorted(p.name for p in out.iterdir()) == ["cam1.mp4", "manifest.json", "manifest.sig",
                                                     "node-public-key.pem"]
    assert checking.verify_export(out, key.public_b64) == []


def test_one_clip_per_camera_and_a_new_part_where_the_stream_changes(tmp_path, sources, key):
    data = tmp_path / "data"
    footage(data, sources[0], [(T0, 8)], camera="door")
    footage(data, sources[0], [(T0, 6)], camera="desk")
    footage(data, sources[1], [(T0 + 6 * S, 6)], camera="desk")  # the camera's resolution changed
    manifest = do_export(data, tmp_path / "x", key, ["door", "desk"], T0 + 1 * S, T0 + 11 * S)
    files = {cam["camera"]: [c["file"] for c in cam["clips"]] for cam in manifest["cameras"]}
    assert files == {"door": ["door.mp4"], "desk": ["desk-part1.mp4", "desk-part2.mp4"]}
    sizes = [(s["width"], s["height"]) for f in files["desk"]
             for s in ffprobe(tmp_path / "x" / f)["streams"] if s["codec_type"] == "video"]
    assert sizes == [(320, 240), (480, 272)]
    assert manifest["cameras"][1]["gaps"] == [] and checking.verify_export(tmp_path / "x") == []


def test_segment_overlapping_the_previous_after_a_clock_step_is_placed_after_it(tmp_path, sources, key):
    data = tmp_path / "data"
    footage(data, sources[0], [(T0, 6), (T0 + 4 * S, 6)])  # the host clock stepped back 2 s
    manifest = do_export(data, tmp_path / "x", key, ["cam1"], T0, T0 + 10 * S)
    later = manifest["cameras"][0]["sources"][1]
    assert "clock stepped back" in later["note"] and later["clip_offset_s"] == pytest.approx(6.0)
    packets = video_packets(tmp_path / "x" / "cam1.mp4")
    assert {round(b[1] - a[1], 3) for a, b in zip(packets, packets[1:])} == {FRAME_S}


def test_a_changed_source_segment_fails_the_export_naming_it(tmp_path, sources, key):
    data = tmp_path / "data"
    rows = footage(data, sources[0], [(T0, 18)])
    flip_byte(data / rows[1]["path"], 5000)
    with pytest.raises(export.ExportError, match=rows[1]["path"].replace(".", r"\.") + ".*changed"):
        do_export(data, tmp_path / "x", key, ["cam1"], T0, T0 + 18 * S)
    assert not (tmp_path / "x").exists() and not list(tmp_path.glob(".x*"))  # nothing half-made is left


def test_no_footage_in_range_is_refused(tmp_path, sources, key):
    data = tmp_path / "data"
    footage(data, sources[0], [(T0, 6)])
    with pytest.raises(export.ExportError, match="no footage"):
        do_export(data, tmp_path / "x", key, ["cam1"], T0 + 60 * S, T0 + 70 * S)


# --- verify -------------------------------------------------------------------------------------------
@pytest.fixture
def made(tmp_path, sources, key):
    data = tmp_path / "data"
    footage(data, sources[0], [(T0, 12)])
    do_export(data, tmp_path / "x", key, ["cam1"], T0 + 2 * S, T0 + 10 * S)
    return tmp_path / "x"


def test_verify_names_the_clip_when_one_byte_of_it_changed(made, key):
    clip = made / "cam1.mp4"
    for offset in (100, clip.stat().st_size // 2, clip.stat().st_size - 1):
        flip_byte(clip, offset)
        problems = checking.verify_export(made, key.public_b64)
        assert len(problems) == 1 and problems[0].startswith("cam1.mp4: its SHA-256 does not match"), problems
        flip_byte(clip, offset)
    assert checking.verify_export(made, key.public_b64) == []


def test_the_readme_is_signed_with_the_manifest(tmp_path, sources, key):
    """README.txt (in the site's language) is the manifest's `readme` text: a change is named."""
    data = tmp_path / "data"
    footage(data, sources[0], [(T0, 12)])
    text = "錄影監視系統影像匯出\n本影像含個人資料，應予保密。\n"
    do_export(data, tmp_path / "x", key, ["cam1"], T0 + 2 * S, T0 + 10 * S,
              readme={"language": "zh-TW", "text": text})
    assert (tmp_path / "x" / "README.txt").read_text(encoding="utf-8") == text
    assert checking.verify_export(tmp_path / "x", key.public_b64) == []
    (tmp_path / "x" / "README.txt").write_text(text.replace("應予保密", "可以公開"), encoding="utf-8")
    assert checking.verify_export(tmp_path / "x", key.public_b64) == [
        "README.txt: differs from the text in manifest.json: it was changed"]


def test_verify_names_the_manifest_when_one_byte_of_it_changed(made, key):
    body = (made / "manifest.json").read_bytes()
    at = body.index(b'"custodian": "carol"') + len('"custodian": "')
    (made / "manifest.json").write_bytes(body[:at] + b"k" + body[at + 1:])  # carol -> karol
    problems = checking.verify_export(made)
    assert len(problems) == 1 and problems[0].startswith("manifest.json: the signature does not match"), problems


def test_verify_missing_and_extra_files_and_a_foreign_key(made, key, tmp_path):
    other = nodekey.load_or_create(tmp_path)
    assert any(p.startswith("node-public-key.pem: not the key you gave") for p in
               checking.verify_export(made, other.public_b64))
    (made / "notes.txt").write_text("added later")
    assert checking.verify_export(made) == ["notes.txt: not part of the export (added after it was made)"]
    (made / "notes.txt").unlink()
    (made / "manifest.sig").unlink()
    assert checking.verify_export(made) == ["manifest.sig: missing, so the manifest cannot be trusted"]
    (made / "cam1.mp4").unlink()
    assert "cam1.mp4: missing, or not a regular file" in checking.verify_export(made)


def test_a_third_party_checks_the_signature_with_openssl_and_the_published_key(made, key, tmp_path):
    pem = tmp_path / "published.pem"
    pem.write_bytes(nodekey.public_pem(nodekey.load_public(key.public_b64)))  # from the birth's base64
    cmd = ["openssl", "pkeyutl", "-verify", "-pubin", "-inkey", str(pem), "-rawin",
           "-in", str(made / "manifest.json"), "-sigfile", str(made / "manifest.sig")]
    assert subprocess.run(cmd, capture_output=True, text=True).stdout.strip() == "Signature Verified Successfully"
    flip_byte(made / "manifest.json", 10)
    assert subprocess.run(cmd, capture_output=True).returncode != 0


def test_edgectl_verify_exit_status_and_json(made, tmp_path):
    """Without a root only integrity is checked: exit 3, "origin": "unchecked" (issues 28 and 40)."""
    base = [os.fspath(Path(ROOT / ".venv/bin/python")), "-m", "edged.cli.edgectl"]
    half = subprocess.run([*base, "verify", str(made)], capture_output=True, text=True, cwd=ROOT)
    assert half.returncode == 3 and half.stdout.startswith("INTACT, ORIGIN NOT CHECKED"), half.stdout + half.stderr
    j = subprocess.run([*base, "verify", str(made), "--json"], capture_output=True, text=True, cwd=ROOT)
    assert j.returncode == 3 and json.loads(j.stdout)["origin"] == "unchecked" and json.loads(j.stdout)["ok"]
    flip_byte(made / "cam1.mp4", 1000)
    bad = subprocess.run([*base, "verify", str(made), "--json"], capture_output=True, text=True, cwd=ROOT)
    assert bad.returncode == 1
    assert json.loads(bad.stdout)["problems"][0].startswith("cam1.mp4:")


def test_edgectl_verify_keys_checks_the_export_against_the_central_key_list(made, key, tmp_path):
    """A folder signed by a fresh key claiming test/node1 fails against the central office's
    signed key list; the genuine one passes; an altered list or another central key is refused."""
    from storage.keys import fleetkeys

    base = [os.fspath(Path(ROOT / ".venv/bin/python")), "-m", "edged.cli.edgectl", "verify"]
    central = nodekey.NodeKey(Ed25519PrivateKey.generate())
    listing = [{"site": "test", "node": "node1", "keys": [{"public_key": key.public_b64, "fingerprint": key.fingerprint,
                                                          "first_us": T0, "last_us": T0 + S}]}]
    keys = tmp_path / "keys.json"
    # the list issued after the latest the export can be proven signed (its footage's end plus the longest an
    # export may wait, design/0374), and a day's grace: a list of the footage's own day would leave it unchecked
    keys.write_text(json.dumps(fleetkeys.sign(central, listing, T0 + 33 * 86_400 * S)))
    ok = subprocess.run([*base, str(made), "--keys", str(keys), "--central-key", central.fingerprint, "--json"],
                        capture_output=True, text=True, cwd=ROOT)
    assert ok.returncode == 0 and json.loads(ok.stdout)["origin"] == "checked", ok.stdout + ok.stderr
    other_central = nodekey.NodeKey(Ed25519PrivateKey.generate())
    pinned = subprocess.run([*base, str(made), "--keys", str(keys), "--central-key", other_central.fingerprint],
                            capture_output=True, text=True, cwd=ROOT)
    assert pinned.returncode == 1 and "not by the central office's key" in pinned.stdout, pinned.stdout
    doc = json.loads(keys.read_text())
    doc["nodes"][0]["keys"][0]["public_key"] = nodekey.NodeKey(Ed25519PrivateKey.generate()).public_b64
    altered = tmp_path / "altered.json"
    altered.write_text(json.dumps(doc))
    r = subprocess.run([*base, str(made), "--keys", str(altered), "--central-key", central.fingerprint],
                       capture_output=True, text=True, cwd=ROOT)
    assert r.returncode == 1 and "altered after it was signed" in r.stdout, r.stdout
    # without a root (design/0097) a key list proves nothing: intact, origin not checked
    r = subprocess.run([*base, str(made), "--keys", str(keys)], capture_output=True, text=True, cwd=ROOT)
    assert r.returncode == 3 and r.stdout.startswith("INTACT, ORIGIN NOT CHECKED"), r.stdout
    forged_key = nodekey.NodeKey(Ed25519PrivateKey.generate())
    do_export(tmp_path / "data", tmp_path / "forged", forged_key, ["cam1"], T0 + 2 * S, T0 + 10 * S)
    f = subprocess.run([*base, str(tmp_path / "forged"), "--keys", str(keys), "--central-key", central.fingerprint],
                       capture_output=True, text=True, cwd=ROOT)
    assert f.returncode == 1 and "not that node's" in f.stdout, f.stdout + f.stderr
    assert subprocess.run([*base, str(tmp_path / "forged")], capture_output=True, cwd=ROOT).returncode == 3


# --- the node key and working copies -------------------------------------------------------------------
def test_node_key_is_made_once_private_and_never_replaced_silently(tmp_path):
    k1 = nodekey.load_or_create(tmp_path)
    path = tmp_path / nodekey.KEY_FILE
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert "PRIVATE" not in repr(k1) and k1.public_b64 in repr(k1)
    os.chmod(path, 0o644)
    k2 = nodekey.load_or_create(tmp_path)
    assert k2.public_b64 == k1.public_b64 and stat.S_IMODE(path.stat().st_mode) == 0o600
    assert (tmp_path / nodekey.PUBLIC_PEM).read_bytes() == k1.public_pem()
    path.write_text("garbage")
    with pytest.raises(nodekey.NodeKeyError, match="restore it from the backup"):
        nodekey.load_or_create(tmp_path)
    assert path.read_text() == "garbage"  # not replaced by a new key


def test_working_copy_is_destroyed_with_a_record_and_footage_never_is(tmp_path, sources, key):
    data = tmp_path / "data"
    rows = footage(data, sources[0], [(T0, 6)])
    work = export.export_dir(data, export.WORKING_DIR, 7, T0)
    work.parent.mkdir()
    do_export(data, work, key, ["cam1"], T0, T0 + 6 * S)
    clip_hash = export.sha256_file(work / "cam1.mp4")
    gone = export.destroy_working_copy(data, work)
    assert not work.exists() and gone["folder"] == f"working/{work.name}"
    assert {f["file"]: f["sha256"] for f in gone["files"]}["cam1.mp4"] == clip_hash
    for target in (data / "video" / "cam1", data / rows[0]["path"], data, tmp_path):
        with pytest.raises(export.ExportError, match="nothing was destroyed"):
            export.destroy_working_copy(data, target)
    assert (data / rows[0]["path"]).exists()
    shutil.rmtree(data / "working")


# --- end to end: a real camera, the real daemon, real accounts ---------------------------------------
@pytest.fixture(scope="module")
def camera(tmp_path_factory):
    clip = make_clip(tmp_path_factory.mktemp("cam"), fps=20, gop=20, seconds=10, audio=True)
    with RtspServer({"cam": clip.spec()}) as server:
        yield server


def test_export_through_the_daemon_uses_the_grant_once_and_verifies(tmp_path, camera):
    base = "edged/v1/test/node1"
    broker = Broker(tmp_path / "broker").start()
    sub = Subscriber(broker, f"{base}/#").start()
    sock_dir = Path(tempfile.mkdtemp(prefix="edged-export-"))  # a Unix socket path has a length limit
    data = tmp_path / "data"
    config = write_config(tmp_path / "edged.toml", data, [{"id": "cam", "url": camera.url("cam")}],
                          storage={"segment_length": "2s"},
                          tables={"control": {"socket": str(sock_dir / "control.sock")},
                                  "mqtt": {"enabled": True, "host": "127.0.0.1", "port": broker.port}})
    d = Daemon(config, data, tmp_path / "edged.log").start()
    try:
        people = People(config, tmp_path)
        people.add("carol", "custodian", full_name="Carol Chen")
        people.add("alice", "approver")
        people.add("adm", "admin")

        # enrolled with the office's CA by its admin, the request and the bundle carried by hand (design/0097)
        people.as_("adm")
        r = people.ctl("enrol", "--out", str(tmp_path / "req.pem"), "--json")
        assert r.returncode == 0 and json.loads(r.stdout)["enrolled"] is None, r.stderr
        _, bundle = office_ca.accept(tmp_path / "office", (tmp_path / "req.pem").read_bytes(), "office clerk",
                                     SYSTEM.now_us(), json.loads(r.stdout)["fingerprint"])
        (tmp_path / "bundle.pem").write_bytes(bundle)
        r = people.ctl("enrol", "--install", str(tmp_path / "bundle.pem"))
        assert r.returncode == 0 and "enrolled: this box is test/node1" in r.stdout, r.stdout + r.stderr
        (tmp_path / "office-ca.pem").write_bytes(nodecert.pem([office_ca.existing_ca(tmp_path / "office")]))

        # the node key was made at first start; its public half is in the birth
        birth = wait_for(lambda: (m := sub.last(f"{base}/birth")) is not None and m.json(), 30, "the birth")
        published = birth["public_key"]
        shipped = nodekey.load_public((data / nodekey.PUBLIC_PEM).read_bytes())
        assert published == base64.b64encode(nodekey.public_raw(shipped)).decode()
        assert stat.S_IMODE((data / nodekey.KEY_FILE).stat().st_mode) == 0o600
        assert "PRIVATE" not in d.log

        wait_for(lambda: len(d.segments("cam")) >= 4, 40, "four segments")
        segs = d.segments("cam")
        start, end = segs[0]["start_us"] + 1_300_000, segs[-1]["end_us"] - 300_000
        iso = lambda us: datetime.fromtimestamp(us / S).astimezone().isoformat()
        people.as_("carol")
        r = people.ctl("request", "file", "--kind", "agency", "--category", "other", "--reason", "fight at the "
                       "counter", "--camera", "cam", "--from", iso(start), "--to", iso(end), "--copy",
                       "--requester", "Sgt. Lin", "--org", "precinct 3", "--letter", "P-77", "--json")
        assert r.returncode == 0, r.stderr
        request_id = json.loads(r.stdout)["id"]
        people.as_("alice")
        r = people.ctl("request", "approve", str(request_id), "--reason", "letter checked", "--json")
        assert r.returncode == 0, r.stderr
        grant = json.loads(r.stdout)["grant"]["id"]
        people.as_("carol")

        # a folder that is not empty is refused before the grant is spent
        busy = tmp_path / "busy"
        busy.mkdir()
        (busy / "old.txt").write_text("x")
        r = people.ctl("export", "--grant", str(grant), "--out", str(busy))
        assert r.returncode == 2 and "not empty" in r.stderr
        assert one(d, "grants", lambda r: r["id"] == grant)["used_us"] is None

        out = tmp_path / "evidence"
        r = people.ctl("export", "--grant", str(grant), "--out", str(out), "--json")
        assert r.returncode == 0, r.stderr
        assert "export: 100%" in r.stderr  # not a terminal: plain percentage lines
        result = json.loads(r.stdout)
        assert result["out"] == str(out) and result["public_key"] == published

        clip = out / "cam.mp4"
        info = ffprobe(clip)
        assert {s["codec_type"] for s in info["streams"]} == {"video", "audio"}
        assert not ffprobe_errors(clip).strip()
        wanted = (end - start) / S
        assert wanted - FRAME_S <= float(info["format"]["duration"]) <= wanted + GOP_S
        packets = video_packets(clip)
        assert packets[0][2] and all(b[1] > a[1] for a, b in zip(packets, packets[1:]))
        manifest = json.loads((out / "manifest.json").read_text())
        assert manifest["custodian"] == "carol" and manifest["request"]["approver"] == "alice"
        assert manifest["request"]["id"] == request_id and manifest["grant"]["id"] == grant
        assert manifest["recipient"] == "Sgt. Lin" and manifest["site"]["id"] == "test"
        assert manifest["cameras"][0]["gaps"] == [], manifest["cameras"][0]["gaps"]
        # not enrolled with the office: the export is made, and says why its clips carry no C2PA (design/0098)
        # the box is enrolled above: each clip carries its C2PA manifest, signed by the node (design/0098)
        assert manifest["c2pa"] == result["c2pa"] and manifest["c2pa"]["made"] is True, manifest["c2pa"]
        assert manifest["grant"]["approvers"] == ["alice"]
        readme = (out / "README.txt").read_text(encoding="utf-8")  # for people, in the site's language (en)
        assert readme == manifest["readme"]["text"] and manifest["readme"]["language"] == "en"
        assert f"Request {request_id}, grant {grant}; copied by Carol Chen for Sgt. Lin" in readme  # by name (0112)

        v = people.ctl("verify", str(out), "--key", published)
        assert v.returncode == 0 and v.stdout.startswith("OK: "), v.stdout + v.stderr
        v = people.ctl("verify", str(out), "--ca", str(tmp_path / "office-ca.pem"), "--json")
        # the chain names node1; with no revocation list (the box keeps none here) it is not "checked" (design/0129)
        assert v.returncode == 3 and json.loads(v.stdout)["node"]["node"] == "node1", v.stdout + v.stderr
        assert "no revocation list" in json.loads(v.stdout)["origin_why"], v.stdout
        assert len(manifest["node_certificates"]) == 2  # the node's certificate, then the office's CA

        # on the record: the grant's use and the export with the manifest's hash
        done = audit_rows(d, "export.done")
        assert len(done) == 1 and done[0]["actor"] == "carol (os: root)"  # str(caller): account and OS user
        digest = hashlib.sha256((out / "manifest.json").read_bytes()).hexdigest()
        assert json.loads(done[0]["detail"])["manifest_sha256"] == digest == result["manifest_sha256"]
        assert len(audit_rows(d, "grant.use")) == 1
        assert rows(d, "exports")[0]["manifest_sha256"] == digest
        # R5.7: the requester's name is in the request and export rows (purgeable), never on the chain
        # nor over MQTT (design/0019); the copy is 0600 in a 0700 folder edgectl made (design/0017)
        wait_for(lambda: any(b'"export.done"' in m.payload for m in sub.on(f"{base}/audit")), 30,
                 "the export's audit record over MQTT")
        assert "Lin" not in json.dumps(audit_rows(d))
        assert not [m.topic for m in sub.messages if b"Sgt. Lin" in m.payload]
        assert stat.S_IMODE(out.stat().st_mode) == 0o700
        assert {stat.S_IMODE(f.stat().st_mode) for f in out.iterdir()} == {0o600}

        # single use: the second export is refused, and that is on the record too
        r = people.ctl("export", "--grant", str(grant), "--out", str(tmp_path / "again"))
        assert r.returncode == 2 and "already used" in r.stderr
        assert not (tmp_path / "again").exists()
        assert len(audit_rows(d, "grant.refused")) == 1

        # a segment changed on disk since it was recorded is never exported (below: by which defence)
        r = people.ctl("request", "file", "--kind", "agency", "--category", "other", "--reason", "second copy",
                       "--camera", "cam", "--from", iso(start), "--to", iso(end), "--copy", "--requester",
                       "Sgt. Lin", "--org", "precinct 3", "--letter", "P-78", "--json")
        assert r.returncode == 0, r.stderr
        people.as_("alice")
        r = people.ctl("request", "approve", str(json.loads(r.stdout)["id"]), "--reason", "ok", "--json")
        assert r.returncode == 0, r.stderr
        grant2 = json.loads(r.stdout)["grant"]["id"]
        people.as_("carol")
        flip_byte(data / segs[1]["path"], 3000)
        r = people.ctl("export", "--grant", str(grant2), "--out", str(tmp_path / "tampered"), "--json")
        # Two defences, whichever is first: the tamper watcher ignores a segment for its first two
        # minutes (its own writes may still be in flight), the export hashes every source. On a
        # slow run segs[1] is past the watcher's grace and is marked tampered before the export
        # reads the catalog: then the clip leaves it out, as a gap that says why. Never exported.
        tampered = one(d, "segments", lambda r: r["path"] == segs[1]["path"])["state"] == TAMPERED
        if r.returncode == 0 and tampered:
            gaps = json.loads(r.stdout)["gaps"]
            assert any(g["reason"] == "segment tampered" for g in gaps), gaps
            assert alarms(d, lambda r: r["key"] == f"tamper:{segs[1]['path']}")
        else:
            assert r.returncode == 2 and segs[1]["path"] in r.stderr and "was changed" in r.stderr, r.stderr
            assert not (tmp_path / "tampered").exists()
            failed = audit_rows(d, "export.failed")
            assert len(failed) == 1 and segs[1]["path"] in json.loads(failed[0]["detail"])["why"]
            assert not [p for p in (data / "exports").iterdir() if f"{grant2}-" in p.name]  # no half-made folder
    finally:
        assert d.stop() == 0, d.log
        sub.stop()
        broker.stop()
        shutil.rmtree(sock_dir, ignore_errors=True)


def test_progress_is_a_bar_on_a_terminal_and_percent_lines_otherwise():
    import io

    from edged.cli.display import Progress

    class Tty(io.StringIO):
        def isatty(self):
            return True

    plain, tty = io.StringIO(), Tty()
    for stream in (plain, tty):
        bar = Progress("export", lambda bar, pct, info: f"exporting [{bar}] {pct:3d}%  {info['camera']}", stream)
        for i in range(0, 101, 4):
            bar({"fraction": i / 100, "done_bytes": i << 20, "total_bytes": 100 << 20, "camera": "cam1"})
        bar({"fraction": 1.0, "done_bytes": 100 << 20, "total_bytes": 100 << 20, "camera": "cam1"})
        bar.done()
    assert plain.getvalue().splitlines() == [f"export: {p}%" for p in (0, 12, 20, 32, 40, 52, 60, 72, 80, 92, 100)]
    assert "\r" in tty.getvalue() and "[##############################] 100%" in tty.getvalue()
    assert tty.getvalue().endswith("\n")


async def test_working_copies_and_old_staging_are_destroyed_on_the_record(tmp_path, sources, key):
    from edged.control.export import discard_working_copy, sweep_staging
    from storage.catalog import CatalogWriter

    data = tmp_path / "data"
    footage(data, sources[0], [(T0, 6)])
    work = export.export_dir(data, export.WORKING_DIR, 9, T0)
    staged = export.export_dir(data, export.EXPORTS_DIR, 10, T0)
    for folder in (work, staged):
        folder.parent.mkdir()
        do_export(data, folder, key, ["cam1"], T0, T0 + 6 * S)
    writer = CatalogWriter(data / "catalog.db")
    await writer.start()
    try:
        gone = await discard_working_copy(writer, data, work, "carol", "viewing ended", {"grant": 9})
        assert not work.exists() and {f["file"] for f in gone["files"]} == {
            "cam1.mp4", "manifest.json", "manifest.sig", "node-public-key.pem"}
        assert await sweep_staging(writer, data) == 0  # a fresh staging copy stays
        assert await sweep_staging(writer, data, older_than_us=0) == 1 and not staged.exists()
        records = await writer.run(lambda c: [(r["actor"], r["action"], json.loads(r["detail"]))
                                              for r in audit_rows(c.db, "copy.destroyed")])
    finally:
        await writer.close()
    assert [(a, d["why"], d["folder"]) for a, _, d in records] == [
        ("carol", "viewing ended", f"working/{work.name}"),
        ("edged", "export staging copy older than a day (edgectl export copies it out at once)",
         f"exports/{staged.name}")]
    assert records[0][2]["grant"] == 9 and all(f["sha256"] for f in records[0][2]["files"])
