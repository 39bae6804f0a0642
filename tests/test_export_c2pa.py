"""Exports a court checks with stock tools (issue 40, item 3; design/0098): each clip carries a
C2PA manifest signed by the node's certificate chain, read here with the C2PA SDK's own reader
(tests/support/c2pa_ca.read: c2pa-python's Reader, the office's CA as its only trust anchor,
nothing of edged's). A genuine export is trusted; one changed byte, a certificate from another
CA and another camera's fragment spliced in each fail with the SDK's codes. The camera's SEI
NAL units (ONVIF Media Signing) reach the clip byte for byte. Real segment files from the
recorder's segment writer; no daemon."""

from __future__ import annotations

import datetime as dt
import subprocess
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from storage.keys import nodekey
from storage.readonly import open_readonly
from storage.export import c2pa_claim, c2pa_profile, c2pa_sign, fmp4
from storage.export import evidence as export
from storage.export import checking
from storage.export import worker
from storage.export.worker import run_clips, run_signing
from tests.support.c2pa_ca import NOW, make_ca, read
from tests.support.footage import write_segments

S = 1_000_000
T0 = 1_800_000_000_000_000
SEI_UUID = bytes(range(0x11, 0x21))  # 16 bytes, no 00 00 in them: no emulation prevention needed
SEI_TEXT = b"ONVIF media signing test SEI"
SEI_NAL = b"\x06\x05" + bytes([len(SEI_UUID) + len(SEI_TEXT)]) + SEI_UUID + SEI_TEXT + b"\x80"
HEADER = {"site": {"id": "tw-hr-001", "name": "Test office"}, "node": "node1", "custodian": "carol",
          "software": {"name": "edged", "version": "test"}, "recipient": "police officer",
          "grant": {"id": 7, "mode": "copy", "cameras": ["cam1"], "from_us": T0, "to_us": T0 + 12 * S,
                    "approvers": ["adam", "beth"]},
          "request": {"id": 3, "approver": "beth", "requester": "vera"}}


def _with_sei(annexb: bytes) -> bytes:
    """The stream with SEI_NAL before every IDR slice, as a camera that signs its stream puts it."""
    parts = annexb.split(b"\x00\x00\x01")
    out = [parts[0]]
    for nal in parts[1:]:
        if nal and nal[0] & 0x1F == 5:
            out.append(SEI_NAL + b"\x00")  # the 00 makes the next start code 00 00 00 01
        out.append(nal)
    return b"\x00\x00\x01".join(out)


def _source(folder: Path, pattern: str) -> Path:
    """A 6 s 320x240 H.264 test clip (keyframe every second) with SEI_NAL in each keyframe, in MP4."""
    raw, mp4 = folder / f"{pattern}.h264", folder / f"{pattern}.mp4"
    subprocess.run(["ffmpeg", "-nostdin", "-y", "-v", "error", "-f", "lavfi", "-i", f"{pattern}=size=320x240:rate=20",
                    "-t", "6", "-pix_fmt", "yuv420p", "-c:v", "libx264", "-g", "20", "-keyint_min", "20",
                    "-sc_threshold", "0", "-bf", "0", "-f", "h264", str(raw)], check=True, timeout=120)
    raw.write_bytes(_with_sei(raw.read_bytes()))
    subprocess.run(["ffmpeg", "-nostdin", "-y", "-v", "error", "-framerate", "20", "-i", str(raw), "-c", "copy",
                    str(mp4)], check=True, timeout=120)
    return mp4


@pytest.fixture(scope="module")
def footage(tmp_path_factory):
    """A data folder with 12 s of cam1 (testsrc2) and cam2 (another picture), in 6 s segments."""
    d = tmp_path_factory.mktemp("c2pa")
    data = d / "data"
    data.mkdir()
    write_segments(data, "cam1", _source(d, "testsrc2"), [(T0, 12)], segment_s=6)
    write_segments(data, "cam2", _source(d, "smptebars"), [(T0, 12)], segment_s=6)
    return data


@pytest.fixture(scope="module")
def office():
    return make_ca("Test office")


@pytest.fixture(scope="module")
def key(tmp_path_factory):
    return nodekey.load_or_create(tmp_path_factory.mktemp("key"))


def make(data: Path, out: Path, key, chain, cameras=("cam1",), **kw) -> dict:
    db = open_readonly(data / "catalog.db")
    try:
        cams = export.gather(db, list(cameras), T0 + 1 * S, T0 + 11 * S)
    finally:
        db.conn.close()
    return export.write_export(data, out, key=key, header=HEADER, cameras=cams, from_us=T0 + 1 * S,
                               to_us=T0 + 11 * S, chain=chain, **kw)


@pytest.fixture(scope="module")
def genuine(tmp_path_factory, footage, office, key):
    out = tmp_path_factory.mktemp("genuine") / "x"
    manifest = make(footage, out, key, office.chain(office.issue(key.public)), cameras=("cam1", "cam2"))
    return out, manifest


def flip(path: Path, offset: int) -> None:
    with open(path, "r+b") as f:
        f.seek(offset)
        b = f.read(1)
        f.seek(offset)
        f.write(bytes([b[0] ^ 0x01]))


def top_boxes(buf: bytes) -> list[tuple[bytes, int, int]]:
    """(type, start, end) of each top-level box."""
    return [(kind, start, end) for kind, start, _, end in fmp4.boxes(buf, 0, len(buf))]


# --- a genuine export -----------------------------------------------------------------------------
@pytest.mark.process
def test_a_genuine_export_is_trusted_by_the_c2pa_reader_against_the_office_ca(genuine, office, key):
    out, manifest = genuine
    assert manifest["c2pa"]["made"] is True and manifest["c2pa"]["assertions"] == list(c2pa_claim.LABELS)
    assert checking.verify_export(out, key.public_b64) == []  # edged's own manifest and signature stay
    cam = manifest["cameras"][0]
    clip = cam["clips"][0]
    got = read(out / clip["file"], office.pem)
    assert (got.state, got.failures) == ("Trusted", [])
    assert got.manifest["signature_info"]["common_name"] == "tw-hr-001/node1"
    assert got.assertion(c2pa_claim.CAMERA) == {"id": "cam1", "name": "cam1", "location": ""}
    time = got.assertion(c2pa_claim.TIME)
    assert (time["from_us"], time["to_us"], time["from_utc"]) == (clip["from_us"], clip["to_us"], clip["from_utc"])
    sources = got.assertion(c2pa_claim.SOURCES)["segments"]
    assert [(s["segment"], s["sha256"]) for s in sources] == [(s["path"], s["sha256"]) for s in cam["sources"]]
    grant = got.assertion(c2pa_claim.GRANT)
    assert (grant["id"], grant["approvers"], grant["custodian"], grant["request"]) == (7, ["adam", "beth"], "carol", 3)
    assert "vera" not in str(got.manifest) and "police officer" not in str(got.manifest)  # personal data stays out
    box = got.assertion(c2pa_claim.BOX)
    assert (box["site"]["id"], box["node"], box["node_key_fingerprint"]) == ("tw-hr-001", "node1", key.fingerprint)
    assert [a["action"] for a in got.assertion("c2pa.actions.v2")["actions"]] == ["c2pa.created", "c2pa.repackaged"]
    buf = (out / clip["file"]).read_bytes()
    assert [b[0] for b in top_boxes(buf)][:3] == [b"ftyp", b"uuid", b"moov"] and b"moof" in buf  # still fragmented


@pytest.mark.process
def test_each_camera_clip_names_its_own_camera(genuine, office):
    out, manifest = genuine
    for cam in manifest["cameras"]:
        got = read(out / cam["clips"][0]["file"], office.pem)
        assert got.state == "Trusted" and got.assertion(c2pa_claim.CAMERA)["id"] == cam["camera"]


# --- what must fail -------------------------------------------------------------------------------
@pytest.mark.process
def test_one_changed_byte_in_the_footage_fails(genuine, office, tmp_path):
    out, manifest = genuine
    clip = tmp_path / "cam1.mp4"
    clip.write_bytes((out / "cam1.mp4").read_bytes())
    mdat = [b for b in top_boxes(clip.read_bytes()) if b[0] == b"mdat"]
    flip(clip, (mdat[len(mdat) // 2][1] + mdat[len(mdat) // 2][2]) // 2)
    got = read(clip, office.pem)
    assert got.state == "Invalid" and got.failures == ["assertion.bmffHash.mismatch"], got.failures


@pytest.mark.process
def test_a_certificate_from_another_ca_is_not_trusted(tmp_path, footage, office, key):
    intruder = make_ca("Test office")  # the same name, another key
    make(footage, tmp_path / "x", key, intruder.chain(intruder.issue(key.public)))
    got = read(tmp_path / "x" / "cam1.mp4", office.pem)
    assert got.state != "Trusted" and "signingCredential.untrusted" in got.failures, (got.state, got.failures)
    assert read(tmp_path / "x" / "cam1.mp4", intruder.pem).state == "Trusted"  # it is the anchor that differs


@pytest.mark.process
def test_another_cameras_fragment_spliced_in_fails(genuine, office, tmp_path):
    out, _ = genuine
    cam1, cam2 = (out / "cam1.mp4").read_bytes(), (out / "cam2.mp4").read_bytes()
    frag1 = [(s, e) for k, s, e in top_boxes(cam1) if k in (b"moof", b"mdat")]
    frag2 = [(s, e) for k, s, e in top_boxes(cam2) if k in (b"moof", b"mdat")]
    (s1, _), (_, e1) = frag1[4], frag1[5]   # cam1's third fragment (moof + mdat) ...
    (s2, _), (_, e2) = frag2[4], frag2[5]   # ... swapped for cam2's third
    spliced = tmp_path / "cam1.mp4"
    spliced.write_bytes(cam1[:s1] + cam2[s2:e2] + cam1[e1:])
    got = read(spliced, office.pem)
    assert got.state == "Invalid" and got.failures == ["assertion.bmffHash.mismatch"], got.failures
    assert got.assertion(c2pa_claim.CAMERA)["id"] == "cam1"  # the claim still says cam1: the splice is what fails


# --- no certificate, or one C2PA cannot use: the export is made all the same --------------------------
@pytest.mark.process
def test_without_a_certificate_the_export_is_made_and_says_why_there_is_no_c2pa(tmp_path, footage, office, key):
    manifest = make(footage, tmp_path / "x", key, None)
    assert manifest["c2pa"] == {"made": False, "why": c2pa_claim.NOT_ENROLLED}
    assert read(tmp_path / "x" / "cam1.mp4", office.pem).state is None  # no manifest in the clip
    assert checking.verify_export(tmp_path / "x", key.public_b64) == []
    manifest = make(footage, tmp_path / "y", key, office.chain(office.issue(key.public, extensions=False)))
    assert not manifest["c2pa"]["made"] and "emailProtection" in manifest["c2pa"]["why"]
    assert checking.verify_export(tmp_path / "y", key.public_b64) == []


@pytest.mark.process
def test_a_clip_the_reader_would_not_trust_is_left_unsigned(tmp_path, footage, office, key):
    make(footage, tmp_path / "x", key, None)
    clip = tmp_path / "x" / "cam1.mp4"
    before = clip.read_bytes()
    intruder = make_ca("Test office")
    chain = [intruder.chain(intruder.issue(key.public))[0], office.pem]  # a node certificate the office never issued
    definition = c2pa_claim.definition(HEADER, {"camera": "cam1", "sources": [], "gaps": []},
                                       {"file": clip.name, "from_us": T0, "to_us": T0 + S, "duration_s": 1.0})
    with pytest.raises(c2pa_sign.NotSigned, match="does not trust.*signingCredential.untrusted"):
        c2pa_sign.sign_clip(clip, definition, chain, "ed25519", key.sign)
    assert clip.read_bytes() == before and sorted(p.name for p in clip.parent.iterdir()) == [
        "cam1.mp4", "manifest.json", "manifest.sig", "node-public-key.pem"]


# --- the certificate profile (pure) ------------------------------------------------------------------
def test_the_profile_names_what_a_node_certificate_lacks(office, key):
    other = ec.generate_private_key(ec.SECP256R1()).public_key()
    good = office.issue(key.public)
    bare = office.issue(key.public, extensions=False)
    at = NOW
    assert c2pa_profile.problems([good, office.cert], key.public, at) == []
    assert c2pa_profile.problems([office.cert], None, at) == ["it is a CA's certificate, not an end entity's",
                                                               "its keyUsage lacks digitalSignature",
                                                               "its extendedKeyUsage lacks id-kp-emailProtection "
                                                               "(1.3.6.1.5.5.7.3.4)",
                                                               "it has no authorityKeyIdentifier"]
    assert c2pa_profile.problems([bare], key.public, at) == [
        "its keyUsage lacks digitalSignature", "its extendedKeyUsage lacks id-kp-emailProtection (1.3.6.1.5.5.7.3.4)",
        "it has no authorityKeyIdentifier"]
    assert c2pa_profile.problems([good], other, at) == ["the certificate is for another key than this node's"]
    assert c2pa_profile.problems([good], key.public, at + dt.timedelta(days=400))[0].startswith("it is not valid now")
    assert c2pa_profile.problems([], key.public, at) == ["no certificate: the node is not enrolled with the office"]
    assert c2pa_profile.algorithm(key.public) == "ed25519" and c2pa_profile.algorithm(other) == "es256"


def test_the_signer_signs_c2pa_claims_only_and_no_more_than_one_per_clip(key):
    sign = c2pa_claim.guarded(key.sign, 1)
    with pytest.raises(PermissionError, match="not a C2PA claim"):
        sign(b'{"format": "edged-export/1"}')  # an edged manifest: never through this path
    claim = c2pa_claim.COSE_TO_SIGN + b"\x59\x00\x01x"
    assert nodekey.check(key.public, sign(claim), claim)
    with pytest.raises(PermissionError, match="more C2PA claims"):
        sign(claim)


# --- the camera's SEI, and the remux and worker paths -----------------------------------------------------
def sei_count(path: Path) -> int:
    """How many times SEI_NAL is in the file as a whole length-prefixed NAL unit."""
    return path.read_bytes().count(len(SEI_NAL).to_bytes(4, "big") + SEI_NAL)


@pytest.mark.process
def test_the_cameras_sei_passes_through_byte_for_byte(genuine, tmp_path, footage, office, key):
    out, manifest = genuine
    clip = manifest["cameras"][0]["clips"][0]
    assert sei_count(out / "cam1.mp4") == clip["frames"] // 20 > 0  # one in every keyframe (one a second)
    remuxed = make(footage, tmp_path / "x", key, office.chain(office.issue(key.public)),
                   clips_writer=lambda *a, **kw: export.write_clips(*a, copy=False, **kw))
    path = tmp_path / "x" / "cam1.mp4"
    assert not any(b[0] == b"moof" for b in top_boxes(path.read_bytes()))  # the remux: a plain MP4
    assert sei_count(path) == remuxed["cameras"][0]["clips"][0]["frames"] // 20
    assert read(path, office.pem).state == "Trusted"


@pytest.mark.process
def test_through_the_worker_and_signing_processes_the_claim_is_signed_by_the_daemon(tmp_path, footage, office, key):
    seen: list[dict] = []
    manifest = make(footage, tmp_path / "x", key, office.chain(office.issue(key.public)), clips_writer=run_clips,
                    clip_signer=run_signing, progress=seen.append)
    assert manifest["c2pa"]["made"] and checking.verify_export(tmp_path / "x", key.public_b64) == []
    assert read(tmp_path / "x" / "cam1.mp4", office.pem).state == "Trusted"
    fractions = [p["fraction"] for p in seen]
    assert fractions == sorted(fractions) and fractions[-1] == 1.0 and all(p["done_bytes"] <= p["total_bytes"]
                                                                          for p in seen)


@pytest.mark.process
def test_progress_goes_on_while_the_clips_are_signed(tmp_path, footage, office, key, monkeypatch):
    monkeypatch.setattr("storage.export.plan.PROGRESS_EVERY_S", 0.0)  # every step reported
    seen: list[dict] = []
    make(footage, tmp_path / "x", key, office.chain(office.issue(key.public)), progress=seen.append)
    fractions = [p["fraction"] for p in seen]
    assert fractions == sorted(fractions) and fractions[-1] == 1.0
    signing = [f for f in fractions if 0.7 < f < 1.0]  # the third pass: the C2PA SDK writing the signed clip
    assert len(signing) > 5, fractions


# --- the daemon builds what it signs (issue 52, item 5; design/0134) ------------------------------------
FOREIGN_CLAIM = c2pa_claim.COSE_TO_SIGN + b"\x40\x40\x59\x00\x10" + b"claim of my own!"  # a Sig_structure's shape
HOSTILE_WORKER = """
import base64, json, sys
sys.stdin.buffer.readline()
print(json.dumps({"sign": base64.b64encode(%r).decode()}), flush=True)
reply = json.loads(sys.stdin.buffer.readline())
print(json.dumps({"result": [reply]}), flush=True)
"""


@pytest.mark.process
def test_a_media_worker_handing_the_signer_a_foreign_claim_is_refused(tmp_path, monkeypatch):
    """A media worker taken over by a hostile segment asks for a signature over a claim of its own:
    it has no signer at all, so the answer is a refusal, whatever the claim looks like."""
    monkeypatch.setattr(worker, "COMMAND", (worker.sys.executable, "-c", HOSTILE_WORKER % FOREIGN_CLAIM))
    [reply] = run_clips(tmp_path, tmp_path, [], T0, T0 + S)
    assert set(reply) == {"refused"} and "no signer" in reply["refused"]


def _lying(change):
    """write_clips whose camera entries `change` alters before the daemon sees them: a hostile worker's."""
    def clips_writer(*a, **kw):
        entries = export.write_clips(*a, **kw)
        change(entries)
        return entries
    return clips_writer


class CountingKey:
    def __init__(self, key):
        self.key, self.signed = key, 0

    def __getattr__(self, name):
        return getattr(self.key, name)

    def sign(self, data: bytes) -> bytes:
        self.signed += 1
        return self.key.sign(data)


@pytest.mark.process
def test_the_clip_says_what_the_daemon_planned_not_what_the_worker_said(tmp_path, footage, office, key):
    def lie(entries):
        entries[0]["name"] = "Front door (forged)"
        for s in entries[0]["sources"]:
            s["sha256"], s["start_us"] = "0" * 64, T0 - 3600 * S
    manifest = make(footage, tmp_path / "x", key, office.chain(office.issue(key.public)), clips_writer=_lying(lie))
    got = read(tmp_path / "x" / "cam1.mp4", office.pem)
    assert got.state == "Trusted" and got.assertion(c2pa_claim.CAMERA)["name"] == "cam1"
    sources = got.assertion(c2pa_claim.SOURCES)["segments"]
    assert "0" * 64 not in str(sources) and [s["from_us"] for s in sources] == [T0, T0 + 6 * S]
    assert manifest["cameras"][0]["sources"][0]["sha256"] != "0" * 64  # edged's manifest too: the catalog's


@pytest.mark.parametrize("lie, why", [
    (lambda e: e[0]["sources"][0].update(path="cam2/" + e[0]["sources"][0]["path"].split("/", 1)[1]),
     "sources are not the export's segments"),
    (lambda e: e[0]["clips"][0].update(to_us=T0 + 3600 * S), "range outside its segments"),
    (lambda e: e[0]["clips"][0].update(file="../cam1.mp4"), "outside the export's folder"),
    (lambda e: e[0].update(camera="cam9"), "other cameras"),
], ids=["another-segment", "another-time", "another-folder", "another-camera"])
@pytest.mark.process
def test_a_worker_naming_what_the_plan_does_not_hold_gets_nothing_signed(tmp_path, footage, office, key, lie, why):
    counting = CountingKey(key)
    with pytest.raises(export.ExportError, match=why):
        make(footage, tmp_path / "x", counting, office.chain(office.issue(key.public)), clips_writer=_lying(lie))
    assert counting.signed == 0 and not (tmp_path / "x").exists()


@pytest.mark.process
def test_the_signing_process_gets_one_claim_per_clip_and_no_more(tmp_path, footage, office, key):
    counting = CountingKey(key)
    manifest = make(footage, tmp_path / "x", counting, office.chain(office.issue(key.public)), cameras=("cam1", "cam2"),
                    clip_signer=run_signing)
    assert manifest["c2pa"]["made"] and counting.signed == 2 + 1  # a claim per clip, then edged's manifest
