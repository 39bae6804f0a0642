"""The office as the root of trust (issue 40, design/0097): enrolment, the certificate chain in an
export, what `edgectl verify` trusts, revocation, births with a key the office never enrolled,
and recovery on the record. Pure: real files and cryptography, no daemon, no broker."""

from __future__ import annotations

import base64
import json
import os
import stat
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from central.keys import ca, keylist
from central.store.store import Store
from central.verifier.verifier import Verifier
from central.checks.verify import CRITICAL
from edged.cli import edgectl
from edged.config import default_config
from edged.control.enrol import EnrolOps
from edged.control.protocol import RequestError
from storage.disk import fsutil
from storage.keys import fleetkeys, nodecert, nodekey, office_crl
from storage.catalog import CatalogWriter, open_db
from storage.export import evidence as export
from storage.export import checking
from storage.export import origin
from storage.export.origin import EXPORT_WAIT_US, GRACE_US
from storage.disk.hashing import sha256_file
from tests.support.catalog import audit_rows

S = 1_000_000
T0 = 1_800_000_000_000_000  # 2027-01-15 08:00 UTC
# make_export's footage ends at T0 + 5 s (it signs at T0 + 60 s): a list a day after the longest an export may
# wait from then may say "checked" (design/0374: never judged from the signing time the box wrote)
FRESH = T0 + 5 * S + EXPORT_WAIT_US + GRACE_US
SITE, NODE = "tw-hr-001", "node1"


def fake_clips(_data: Path, tmp: Path, cameras: list, from_us: int, to_us: int, _progress=None, **_c2pa) -> list:
    """What write_clips returns, without media (the clip's bytes are what the manifest hashes)."""
    (tmp / "cam1.mp4").write_bytes(b"\x00\x00\x00\x18ftypisom" + os.urandom(2000))
    clip = {"file": "cam1.mp4", "bytes": (tmp / "cam1.mp4").stat().st_size, "sha256": sha256_file(tmp / "cam1.mp4"),
            "from_us": from_us, "to_us": to_us, "duration_s": (to_us - from_us) / S}
    return [{"camera": "cam1", "name": "cam1", "location": None, "actual": None, "clips": [clip],
             "sources": [{"path": "x", "clip": "cam1.mp4", "clip_offset_s": 0.0}], "gaps": []}]  # the plan's segment


def make_export(out: Path, key: nodekey.NodeKey, chain: list[str] | None, site: str = SITE, node: str = NODE,
                writer=fake_clips) -> Path:
    cameras = [{"camera": "cam1", "segments": [{"start_us": T0, "end_us": T0 + 10 * S, "state": "complete",
                                                "path": "x", "sha256": "0" * 64, "bytes": 2000}]}]
    header = {"site": {"id": site, "name": "Household registration"}, "node": node, "custodian": "carol"}
    export.write_export(out.parent, out, key=key, header=header, cameras=cameras, from_us=T0, to_us=T0 + 5 * S,
                        now_us=T0 + 60 * S, clips_writer=writer, chain=chain)
    return out


@pytest.fixture
def office(tmp_path):
    """An office with its CA, and an enrolled box (its data folder holds key, certificate, pinned CA)."""
    data = tmp_path / "office"
    box = tmp_path / "box"
    box.mkdir()
    key = nodekey.load_or_create(box)
    entry, bundle = ca.accept(data, nodecert.make_request(key, SITE, NODE), "alice", T0 - 86_400 * S, key.fingerprint)
    nodecert.install(box, bundle, key, SITE, NODE)
    ca_pem = tmp_path / "ca.pem"
    ca_pem.write_bytes(nodecert.pem([ca.existing_ca(data)]))
    return {"data": data, "box": box, "key": key, "entry": entry, "ca": ca_pem}


def verify(capsys, *args: str) -> tuple[int, dict]:
    """`edgectl verify ... --json` in this process: (exit status, the JSON it printed)."""
    try:
        code = edgectl.main(["verify", *args, "--json"])
    except SystemExit as exc:
        code = int(exc.code or 0)
    out = capsys.readouterr().out
    return code, json.loads(out) if out.strip().startswith("{") else {"text": out}


# --- enrolment -----------------------------------------------------------------------------------------
def test_an_enrolled_box_holds_its_certificate_and_the_pinned_ca_and_hands_out_its_chain(office):
    box, key = office["box"], office["key"]
    got = nodecert.node_chain(box)
    assert got is not None
    private, chain = got
    assert private.public_key() == key.private_key().public_key()
    ident = nodecert.check_chain(chain, chain[1], None, T0)
    assert (ident.site, ident.node, ident.public_raw) == (SITE, NODE, key.public_raw)
    for name in (nodecert.CERT_FILE, nodecert.CA_FILE):
        st = (box / name).stat()
        assert st.st_size > 0 and stat.S_IMODE(st.st_mode) == 0o600
    assert not [p for p in box.iterdir() if p.name.endswith(".tmp")], "no scratch file left behind"


def test_install_refuses_another_boxs_certificate_another_node_and_another_ca(office, tmp_path):
    box, key, data = office["box"], office["key"], office["data"]
    other = nodekey.NodeKey(Ed25519PrivateKey.generate())
    _, theirs = ca.accept(data, nodecert.make_request(other, SITE, "node2"), "alice", T0, other.fingerprint)
    with pytest.raises(nodecert.CertError, match="for the key"):
        nodecert.install(box, theirs, key, SITE, NODE)
    rogue = tmp_path / "rogue"
    _, foreign = ca.accept(rogue, nodecert.make_request(key, SITE, NODE), "mallory", T0, key.fingerprint)
    with pytest.raises(nodecert.CertError, match="another CA than the one this box pinned"):
        nodecert.install(box, foreign, key, SITE, NODE)
    with pytest.raises(nodecert.CertError, match="this box is"):
        nodecert.install(box, ca.accept(data, nodecert.make_request(key, SITE, NODE), "a", T0, key.fingerprint)[1], key,
                         SITE, "node9")


def test_the_office_accepts_on_its_record_and_the_key_list_is_built_from_enrolments_only(office):
    data, key = office["data"], office["key"]
    with pytest.raises(ca.CAError, match="not .* as the box printed"):
        ca.accept(data, nodecert.make_request(key, SITE, NODE), "alice", T0, "SHA256:" + "0" * 32)
    with pytest.raises(ca.CAError, match="who accepts"):
        ca.accept(data, nodecert.make_request(key, SITE, NODE), " ", T0, key.fingerprint)
    thief = nodekey.NodeKey(Ed25519PrivateKey.generate())
    with pytest.raises(ca.CAError, match="already enrolled as"):
        ca.accept(data, nodecert.make_request(key, SITE, "node2"), "alice", T0, key.fingerprint)
    doc = keylist.signed(data, keylist.central_key(data), T0)
    assert [k["fingerprint"] for k in fleetkeys.keys_of(doc, SITE, NODE)] == [key.fingerprint]
    assert fleetkeys.keys_of(doc, SITE, "node2") == []
    assert thief.public_b64 not in json.dumps(doc)
    events = ca.read_register(data)
    assert [(e["event"], e["by"]) for e in events] == [("accepted", "alice")]


def test_a_birth_with_a_key_the_office_never_enrolled_is_critical_until_accepted(office):
    data, key = office["data"], office["key"]
    enrolled = ca.Enrolled(data)
    new = nodekey.NodeKey(Ed25519PrivateKey.generate())
    birth = {"ts_us": T0, "session": 2, "public_key": new.public_b64}
    found = ca.birth_findings(enrolled(f"{SITE}/{NODE}"), birth)
    assert [(f.kind, f.severity) for f in found] == [("key_not_enrolled", CRITICAL)]
    assert ca.birth_findings(enrolled(f"{SITE}/{NODE}"), {**birth, "public_key": key.public_b64}) == []
    assert ca.birth_findings(enrolled("other/never"), birth) == [], "a node never enrolled has nothing to compare"
    assert new.public_b64 not in json.dumps(keylist.signed(data, keylist.central_key(data), T0))
    ca.accept(data, nodecert.make_request(new, SITE, NODE), "alice", T0 + S, new.fingerprint,  # a new key replaces
              office["entry"]["serial"])
    assert ca.birth_findings(enrolled(f"{SITE}/{NODE}"), birth) == []
    ca.revoke(data, f"{SITE}/{NODE}", "bob", "box stolen", T0 + 2 * S)
    assert ca.birth_findings(enrolled(f"{SITE}/{NODE}"), birth), "a revoked key speaks for nobody"
    with pytest.raises(ca.CAError, match="revoked"):
        ca.accept(data, nodecert.make_request(new, SITE, NODE), "alice", T0 + 3 * S, new.fingerprint)


def test_the_verifier_never_takes_a_key_the_office_did_not_enrol(office, tmp_path):
    """Births through the store as they arrive (topic, payload): the enrolled key, then another
    with the same broker login. The second is critical and never becomes the node's key."""
    store = Store(tmp_path / "central.db")
    new = nodekey.NodeKey(Ed25519PrivateKey.generate())
    births = [{"ts_us": T0 + i, "version": "0.1.0", "session": 1 + i, "config_hash": "h", "site": SITE, "node": NODE,
               "retention": {"min_days": 30, "max_days": 365}, "cameras": [{"id": "cam"}], "public_key": k.public_b64}
              for i, k in enumerate((office["key"], new))]
    base = f"edged/v1/{SITE}/{NODE}"
    for i, b in enumerate(births):
        store.ingest([(f"{base}/status", b"online"), (f"{base}/birth", json.dumps(b).encode())], T0 + i)
        Verifier(store, ZoneInfo("UTC"), 0, ca.Enrolled(office["data"])).run_once(T0 + S + i)
    assert [f["kind"] for f in store.findings(severity="critical")] == ["key_not_enrolled"]
    assert store.nodes()[0]["public_key"] == office["key"].public_b64
    store.close()


# --- what verify trusts -----------------------------------------------------------------------------------
def test_a_police_lab_with_the_ca_and_a_fresh_revocation_list_checks_a_genuine_export(office, tmp_path, capsys):
    out = make_export(tmp_path / "x", office["key"], nodecert.chain_pem(office["box"]))
    crl = tmp_path / "crl.pem"
    crl.write_bytes(ca.crl(office["data"], FRESH))
    code, j = verify(capsys, str(out), "--ca", str(office["ca"]), "--crl", str(crl))
    assert code == 0 and j["origin"] == "checked" and j["ok"], j
    assert (j["node"]["site"], j["node"]["node"]) == (SITE, NODE)
    assert j["revocation"]["fresh"] and j["revocation_from"] == str(crl), j
    code, j = verify(capsys, str(out), "--ca", str(office["ca"]))
    assert code == 3 and j["origin"] == "unchecked" and "no revocation list" in j["origin_why"], j
    assert j["node"]["node"] == NODE, "who the certificate names is still said"
    code, j = verify(capsys, str(out))
    assert code == 3 and j["origin"] == "unchecked" and j["root"] is None, "no root here: intact, origin not checked"


def test_a_forged_export_with_its_own_key_list_and_its_own_ca_is_never_checked(office, tmp_path, capsys):
    forger = nodekey.NodeKey(Ed25519PrivateKey.generate())
    lab = tmp_path / "forger-office"
    _, bundle = ca.accept(lab, nodecert.make_request(forger, SITE, NODE), "mallory", T0 - S, forger.fingerprint)
    chain = [nodecert.pem([c]).decode() for c in nodecert.load_pem_chain(bundle)]
    forged = make_export(tmp_path / "forged", forger, chain)
    own_list = tmp_path / "keys.json"
    own_list.write_text(json.dumps(keylist.signed(lab, keylist.central_key(lab), T0)))
    code, j = verify(capsys, str(forged), "--keys", str(own_list))
    assert code == 3 and j["origin"] == "unchecked" and not j["key_checked"], j
    code, j = verify(capsys, str(forged))
    assert code == 3 and j["origin"] == "unchecked", j
    code, j = verify(capsys, str(forged), "--ca", str(office["ca"]))
    assert code == 1 and j["origin"] == "refused" and "not issued by the CA you trust" in j["origin_why"], j
    bare = make_export(tmp_path / "bare", forger, None)  # no certificate: only a key list could vouch
    code, j = verify(capsys, str(bare), "--ca", str(office["ca"]), "--keys", str(own_list))
    assert code == 1 and j["origin"] == "refused" and "not by the central office's key" in j["origin_why"], j


def test_a_revoked_nodes_export_is_refused_with_the_revocation_list(office, tmp_path, capsys):
    out = make_export(tmp_path / "x", office["key"], nodecert.chain_pem(office["box"]))
    ca.revoke(office["data"], f"{SITE}/{NODE}", "bob", "box stolen", T0 + 120 * S)
    crl = tmp_path / "crl.pem"
    crl.write_bytes(ca.crl(office["data"], T0 + 130 * S))
    code, j = verify(capsys, str(out), "--ca", str(office["ca"]), "--crl", str(crl))
    assert code == 1 and j["origin"] == "refused" and "revoked" in j["origin_why"], j
    other = tmp_path / "other"
    ca.existing_ca(other) or ca.ca_cert(other, T0)
    foreign_crl = tmp_path / "foreign-crl.pem"
    foreign_crl.write_bytes(ca.crl(other, T0))
    assert verify(capsys, str(out), "--ca", str(office["ca"]), "--crl", str(foreign_crl))[0] == 2, \
        "a revocation list not signed by the root is not read"


def test_a_manifest_claiming_another_node_than_its_certificate_is_refused(office, tmp_path, capsys):
    out = make_export(tmp_path / "x", office["key"], nodecert.chain_pem(office["box"]), node="node7")
    code, j = verify(capsys, str(out), "--ca", str(office["ca"]))
    assert code == 1 and "certificate names" in j["origin_why"], j


def test_an_export_made_before_enrolment_is_checked_by_the_key_list_the_root_signed(office, tmp_path, capsys):
    old = make_export(tmp_path / "old", office["key"], None)
    keys = tmp_path / "keys.json"
    keys.write_text(json.dumps(keylist.signed(office["data"], keylist.central_key(office["data"]), FRESH)))
    code, j = verify(capsys, str(old), "--ca", str(office["ca"]), "--keys", str(keys))
    assert code == 0 and j["origin"] == "checked" and j["revocation"]["what"] == "key list", j
    code, j = verify(capsys, str(old), "--ca", str(office["ca"]))
    assert code == 3 and "no node certificate" in j["origin_why"], j


def test_an_export_with_no_clip_is_not_intact(office, tmp_path, capsys):
    def nothing(_d, _t, _c, _f, _to, _p=None, **_c2pa):
        return [{"camera": "cam1", "name": "cam1", "location": None, "actual": None, "clips": [],
                 "sources": [{"path": "x", "clip": None}], "gaps": []}]
    out = make_export(tmp_path / "empty", office["key"], nodecert.chain_pem(office["box"]), writer=nothing)
    assert any("lists no clip" in p for p in checking.verify_export(out, office["key"].public_b64))
    code, j = verify(capsys, str(out), "--ca", str(office["ca"]))
    assert code == 1 and not j["ok"], j


# --- files that survive a power cut ---------------------------------------------------------------------
def test_key_and_certificate_files_are_fsynced_before_the_rename_and_the_folder_after(tmp_path, monkeypatch):
    """No LazyFS harness in this suite: the cut is simulated at the file level by recording the
    order of the calls that make a file durable (an unsynced rename is what left the public key
    empty after a power cut, issue 40)."""
    calls: list[str] = []
    real_fsync, real_replace = os.fsync, os.replace

    def fsync(fd: int) -> None:
        calls.append("fsync-dir" if stat.S_ISDIR(os.fstat(fd).st_mode) else "fsync-file")
        real_fsync(fd)

    def replace(a, b) -> None:
        calls.append("rename")
        real_replace(a, b)

    monkeypatch.setattr(os, "fsync", fsync)
    monkeypatch.setattr(os, "replace", replace)
    fsutil.replace_durably(tmp_path / "f.pem", b"x" * 10)
    assert calls == ["fsync-file", "rename", "fsync-dir"]
    calls.clear()
    key = nodekey.load_or_create(tmp_path)
    assert "fsync-file" in calls and calls[calls.index("rename") - 1] == "fsync-file" and calls[-1] == "fsync-dir"
    assert (tmp_path / nodekey.PUBLIC_PEM).read_bytes() == key.public_pem()
    assert base64.b64decode(key.public_b64) == key.public_raw


# --- the box's side, through its control operations --------------------------------------------------------
async def test_the_box_enrols_through_its_control_operations_on_the_record(tmp_path):
    cfg = default_config(tmp_path / "box")
    data = Path(cfg.storage.data_dir)
    data.mkdir(parents=True, exist_ok=True)
    key = nodekey.load_or_create(data)
    writer = CatalogWriter(data / "catalog.db")
    await writer.start()
    try:
        ops = EnrolOps(cfg, writer, key)
        req = await ops.request({}, "adm")
        assert req["fingerprint"] == key.fingerprint and req["enrolled"] is None
        ident = nodecert.read_request(req["request"].encode())[0]
        assert (ident.site, ident.node) == (cfg.site.id, cfg.site.node)
        office = tmp_path / "office"
        other = nodekey.NodeKey(Ed25519PrivateKey.generate())
        mistaken, wrong = ca.accept(office, nodecert.make_request(other, cfg.site.id, cfg.site.node), "alice", T0,
                             other.fingerprint)
        with pytest.raises(RequestError, match="not installed: .*issued for another box"):
            await ops.install({"bundle": wrong.decode()}, "adm")
        _, bundle = ca.accept(office, req["request"].encode(), "alice", T0, req["fingerprint"], mistaken["serial"])
        got = await ops.install({"bundle": bundle.decode()}, "adm")
        assert got["enrolled"]["ca_fingerprint"] == origin.root_fingerprint(ca.existing_ca(office))
        assert got["enrolled"]["ca_fingerprint"] != keylist.central_key(office).fingerprint, "the CA has its own key"
        assert nodecert.chain_pem(data) is not None
        assert [r["action"] for r in audit_rows(open_db(data / "catalog.db"))
                if r["action"].startswith("node.")] == ["node.enrol_request", "node.enrolled"]
    finally:
        await writer.close()


def test_verify_takes_the_ca_the_box_pinned_and_the_list_it_keeps_by_default(office, tmp_path, capsys, monkeypatch):
    from edged.cli import verify as cli_export

    conf = tmp_path / "edged.toml"
    conf.write_text(f'[site]\nid = "{SITE}"\nnode = "{NODE}"\n[storage]\ndata_dir = "{office["box"]}"\n')
    monkeypatch.setattr(cli_export, "DEFAULT_CONFIG_PATH", conf)  # the box's config, where verify reads it
    out = make_export(tmp_path / "x", office["key"], nodecert.chain_pem(office["box"]))
    code, j = verify(capsys, str(out))
    assert code == 3 and j["root"] == "pinned" and "no revocation list" in j["origin_why"], j
    office_crl.take(office["box"], ca.crl(office["data"], FRESH), None)  # as the box keeps the office's list
    code, j = verify(capsys, str(out))
    assert code == 0 and j["origin"] == "checked" and j["root"] == "pinned", j
    assert j["revocation_from"] == str(office["box"] / office_crl.CRL_FILE), j


def test_edged_central_nodes_at_the_command_line(tmp_path, capsys):
    from central import cli

    conf = tmp_path / "central.toml"
    conf.write_text(f'[storage]\ndata_dir = "{tmp_path / "office"}"\n')
    key = nodekey.NodeKey(Ed25519PrivateKey.generate())
    req = tmp_path / "req.pem"
    req.write_bytes(nodecert.make_request(key, SITE, NODE))

    def run(*args: str):
        code = cli.main(["--config", str(conf), *args])
        out = capsys.readouterr()
        return code, out.out, out.err

    code, out, _ = run("nodes", "ca", "--name", "Test Office", "--out", str(tmp_path / "ca.pem"))
    assert code == 0 and "Test Office" in out and (tmp_path / "ca.pem").stat().st_size > 0
    code, _, err = run("nodes", "accept", "--file", str(req), "--by", "alice", "--fingerprint", "SHA256:00",
                       "--out", str(tmp_path / "b.pem"))
    assert code == 2 and "as the box printed" in err and not (tmp_path / "b.pem").exists()
    code, out, _ = run("nodes", "accept", "--file", str(req), "--by", "alice", "--fingerprint", key.fingerprint,
                       "--out", str(tmp_path / "b.pem"))
    assert code == 0 and f"accepted {SITE}/{NODE}" in out
    code, out, _ = run("nodes", "list", "--json")
    (entry,) = json.loads(out)
    assert entry["accepted_by"] == "alice" and entry["revoked_us"] is None and "cert" not in entry
    code, _, err = run("nodes", "revoke", "zz/none", "--by", "bob", "--reason", "test")
    assert code == 2 and "no certificate in force" in err
    code, out, _ = run("nodes", "revoke", entry["serial"], "--by", "bob", "--reason", "box stolen")
    assert code == 0 and "revoked" in out and "--publish" in out
    code, out, _ = run("nodes", "crl", "--out", str(tmp_path / "crl.pem"))
    ca_cert = nodecert.load_pem_chain((tmp_path / "ca.pem").read_bytes())[0]
    crl = nodecert.load_crl((tmp_path / "crl.pem").read_bytes(), ca_cert)
    assert crl.get_revoked_certificate_by_serial_number(int(entry["serial"], 16)) is not None
