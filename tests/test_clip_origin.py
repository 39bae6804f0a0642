"""The clip names its signer and every route checks it; revocation is fresh (issue 52 items 1-2,
design/0128, 0129). Real exports of real segments (storage/export/evidence.py, signed C2PA clips)
by boxes the office (central/keys/ca.py) enrolled: tw-ps-002/node2's export claiming tw-hr-001/node1
is refused by `edgectl verify`, by the stand-alone checker (checker/, run as a court would, in its
own process) and by the C2PA reader's route as docs/guide/export.md gives it; a revocation list
or key list made before a revocation never lets a revoked box's export say "checked"."""

from __future__ import annotations

import ast
import json
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from central.keys import ca, keylist
from edged.cli import edgectl
from storage.readonly import open_readonly
from storage.export import evidence as export
from storage.export.origin import EXPORT_WAIT_US, GRACE_US, utc_text
from storage.keys import nodecert, nodekey
from storage.time.clock import SYSTEM
from tests.test_export_c2pa import HEADER, _source
from tests.support.footage import write_segments

S = 1_000_000
T0 = (SYSTEM.now_us() // S - 2 * 86_400) * S  # two days ago: certificates valid today, as the C2PA reader asks
SIGNED = T0 + 20 * S  # when the exports below are signed (their created_us)
# a list fresh for the exports below without the office's receipt: their footage's end (before SIGNED)
# plus the longest an export may wait, plus the office's day to revoke (design/0374)
FRESH = SIGNED + EXPORT_WAIT_US + GRACE_US
ROOT = Path(__file__).resolve().parents[1]
CHECKER = ROOT / "checker"


@pytest.fixture(scope="module")
def fleet(tmp_path_factory):
    """12 s of cam1 on a box's disk, an office, and two enrolled boxes: tw-hr-001/node1, tw-ps-002/node2."""
    d = tmp_path_factory.mktemp("origin")
    data = d / "data"
    data.mkdir()
    write_segments(data, "cam1", _source(d, "testsrc2"), [(T0, 12)], segment_s=6)
    office = d / "office"
    boxes = {}
    for site, node in (("tw-hr-001", "node1"), ("tw-ps-002", "node2")):
        (d / node).mkdir()
        key = nodekey.load_or_create(d / node)
        _, bundle = ca.accept(office, nodecert.make_request(key, site, node), "alice", T0 - 3600 * S, key.fingerprint)
        boxes[node] = (key, [nodecert.pem([c]).decode() for c in nodecert.load_pem_chain(bundle)])
    ca_pem = d / "office-ca.pem"
    ca_pem.write_bytes(nodecert.pem([ca.existing_ca(office)]))
    return {"data": data, "office": office, "boxes": boxes, "ca": ca_pem, "dir": d}


def make(fleet: dict, out: Path, by: str, chain: bool = True, signed_us: int = SIGNED,
         header: dict | None = None) -> Path:
    """An export signed by box `by` at `signed_us` whose manifest (and clips' assertions) claim
    tw-hr-001/node1 (or what `header` says)."""
    key, pems = fleet["boxes"][by]
    db = open_readonly(fleet["data"] / "catalog.db")
    try:
        cams = export.gather(db, ["cam1"], T0 + 1 * S, T0 + 11 * S)
    finally:
        db.conn.close()
    export.write_export(fleet["data"], out, key=key, header=header or HEADER, cameras=cams, from_us=T0 + 1 * S,
                        to_us=T0 + 11 * S, now_us=signed_us, chain=pems if chain else None)
    return out


def footage_end(folder: Path) -> int:
    """The end of the footage an export lists (the latest `to_us` of its clips)."""
    manifest = json.loads((folder / export.MANIFEST).read_text())
    return max(c["to_us"] for cam in manifest["cameras"] for c in cam["clips"])


def crl_file(fleet: dict, at_us: int, name: str) -> Path:
    path = fleet["dir"] / name
    path.write_bytes(ca.crl(fleet["office"], at_us))
    return path


def verify(capsys, *args: str) -> tuple[int, dict]:
    try:
        code = edgectl.main(["verify", *args, "--json"])
    except SystemExit as exc:
        code = int(exc.code or 0)
    return code, json.loads(capsys.readouterr().out)


def checker(*args: str) -> tuple[int, dict]:
    """The stand-alone checker in its own process, importable from its folder only (no edged on its path)."""
    code = "import sys; sys.path[:0] = [sys.argv.pop(1)]; from edged_evidence_check.check import main; sys.exit(main())"
    r = subprocess.run([sys.executable, "-I", "-c", code, str(CHECKER), *args, "--json"], capture_output=True,
                       text=True, timeout=120, cwd="/")
    return r.returncode, json.loads(r.stdout)


@pytest.fixture(scope="module")
def forged(fleet, tmp_path_factory):
    return make(fleet, tmp_path_factory.mktemp("forged") / "x", "node2")


@pytest.fixture(scope="module")
def genuine(fleet, tmp_path_factory):
    return make(fleet, tmp_path_factory.mktemp("genuine") / "x", "node1")


# --- item 1: the clip names its signer -----------------------------------------------------------------
@pytest.mark.process
def test_the_node_certificate_names_office_site_and_node_as_the_reader_reports_them(fleet):
    cert = nodecert.load_pem_chain(fleet["boxes"]["node2"][1][0].encode())[0]
    assert cert.subject.rfc4514_string() == "CN=tw-ps-002/node2,OU=tw-ps-002,O=edged central office"
    assert nodecert.check_chain([cert], ca.existing_ca(fleet["office"]), None, None).name == "tw-ps-002/node2"


@pytest.mark.process
def test_a_certificate_whose_subject_names_another_node_than_its_san_is_refused(fleet):
    from cryptography import x509
    from cryptography.x509.oid import NameOID

    issuer = ca.existing_ca(fleet["office"])
    key = ca._ca_key(fleet["office"]).private_key()  # the CA's own key (design/0132)
    good = nodecert.load_pem_chain(fleet["boxes"]["node2"][1][0].encode())[0]
    lying = (x509.CertificateBuilder().subject_name(x509.Name([
        x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, "tw-hr-001"),
        x509.NameAttribute(NameOID.COMMON_NAME, "tw-hr-001/node1")])).issuer_name(issuer.subject)
        .public_key(good.public_key()).serial_number(7).not_valid_before(good.not_valid_before_utc)
        .not_valid_after(good.not_valid_after_utc))
    for ext in good.extensions:
        lying = lying.add_extension(ext.value, ext.critical)
    with pytest.raises(nodecert.CertError, match="does not name the node its subjectAltName names"):
        nodecert.check_chain([lying.sign(key, None)], issuer, None, None)


@pytest.mark.process
def test_node2s_clip_claiming_node1_is_refused_by_edgectl_verify(fleet, forged, capsys):
    crl = crl_file(fleet, FRESH, "crl-fresh.pem")
    code, j = verify(capsys, str(forged), "--ca", str(fleet["ca"]), "--crl", str(crl))
    assert code == 1 and j["origin"] == "refused", j
    assert "claims tw-hr-001/node1, but the certificate that signed it names tw-ps-002/node2" in j["origin_why"], j


@pytest.mark.process
def test_node2s_clip_claiming_node1_is_refused_by_the_stand_alone_checker(fleet, forged, genuine):
    crl = crl_file(fleet, FRESH, "crl-fresh.pem")
    code, j = checker(str(forged), "--ca", str(fleet["ca"]), "--crl", str(crl))
    assert code == 1 and j["verdict"] == "REFUSED", j
    assert "claims tw-hr-001/node1, but the certificate that signed it names tw-ps-002/node2" in j["why"], j
    code, j = checker(str(genuine), "--ca", str(fleet["ca"]), "--crl", str(crl))
    assert code == 0 and j["verdict"] == "CHECKED" and j["signer"]["node"] == "tw-hr-001/node1", j
    assert j["clips"] == ["cam1.mp4"] and j["dates"]["fresh"], j


def guide_command(name: str) -> list[str]:
    """The command docs/guide/export.md gives under `<!-- name -->`, with this Python for the guide's venv."""
    text = (ROOT / "docs/guide/export.md").read_text()
    line = text.split(f"<!-- {name} -->", 1)[1].strip().splitlines()[0].strip()
    assert line.startswith("c2pa/bin/python "), line
    return [sys.executable, *shlex.split(line)[1:]]


@pytest.mark.process
def test_node2s_clip_claiming_node1_is_refused_on_the_guides_c2pa_route(fleet, forged, genuine):
    """The C2PA reader trusts the chain (node2 is enrolled), and the guide's step shows its true
    signer beside the claim, and says they differ."""
    cmd = guide_command("read-the-clip")
    got = subprocess.run([*cmd[:-2], str(fleet["ca"]), str(forged / "cam1.mp4")], capture_output=True, text=True,
                         timeout=120)
    lines = got.stdout.splitlines()
    assert got.returncode == 1 and lines[0] == "Trusted []", got.stdout + got.stderr
    assert 'signed by "tw-ps-002/node2"' in lines[1] and 'claims "tw-hr-001/node1"' in lines[2], got.stdout
    assert lines[3].startswith("DIFFERENT"), got.stdout
    ok = subprocess.run([*cmd[:-2], str(fleet["ca"]), str(genuine / "cam1.mp4")], capture_output=True, text=True,
                        timeout=120)
    assert ok.returncode == 0 and ok.stdout.splitlines()[3].startswith("SAME"), ok.stdout + ok.stderr


# --- item 2: revocation that is fresh -------------------------------------------------------------------
@pytest.mark.process
def test_a_crl_made_before_the_revocation_never_says_checked(fleet, tmp_path, capsys):
    """node1 is revoked 60 s after the list used was made: that list is too old to vouch for an
    export signed before it (a day's grace), on edgectl verify and the checker alike."""
    office = tmp_path / "office"
    key = nodekey.load_or_create(fleet["dir"] / "node1")
    _, bundle = ca.accept(office, nodecert.make_request(key, "tw-hr-001", "node1"), "alice", T0 - 3600 * S, key.fingerprint)
    mine = dict(fleet, office=office, boxes={"node1": (key, [nodecert.pem([c]).decode()
                                                             for c in nodecert.load_pem_chain(bundle)])})
    (tmp_path / "ca.pem").write_bytes(nodecert.pem([ca.existing_ca(office)]))
    out = make(mine, tmp_path / "x", "node1")
    before = tmp_path / "before.pem"
    before.write_bytes(ca.crl(office, SIGNED + 60 * S))
    ca.revoke(office, "tw-hr-001/node1", "bob", "box stolen", SIGNED + 120 * S)
    code, j = verify(capsys, str(out), "--ca", str(tmp_path / "ca.pem"), "--crl", str(before))
    assert code == 3 and j["origin"] == "unchecked" and not j["revocation"]["fresh"], j
    assert j["revocation"]["issued_utc"] == utc_text(SIGNED + 60 * S), j
    assert j["revocation"]["needed_from_utc"] == utc_text(footage_end(out) + EXPORT_WAIT_US + GRACE_US), j
    code, j2 = checker(str(out), "--ca", str(tmp_path / "ca.pem"), "--crl", str(before))
    assert code == 3 and j2["verdict"] == "NOT CHECKED" and not j2["dates"]["fresh"], j2
    after = tmp_path / "after.pem"
    after.write_bytes(ca.crl(office, FRESH))
    code, j = verify(capsys, str(out), "--ca", str(tmp_path / "ca.pem"), "--crl", str(after))
    assert code == 1 and j["origin"] == "refused" and "revoked" in j["origin_why"], j
    code, j2 = checker(str(out), "--ca", str(tmp_path / "ca.pem"), "--crl", str(after))
    assert code == 1 and "revoked" in j2["why"], j2
    # the guide's step 5: the serial the reader prints ("serial %x") is what OpenSSL's text of the list shows
    serial = nodecert.load_pem_chain(bundle)[0].serial_number
    text = subprocess.run(["openssl", "crl", "-in", str(after), "-noout", "-text"], capture_output=True, text=True,
                          check=True).stdout
    grep = ["grep", "-i", f"serial number: 0*{serial:x}$"]   # as the guide's step 5 gives it
    assert subprocess.run(grep, input=text, capture_output=True, text=True).returncode == 0, text
    old = subprocess.run(["openssl", "crl", "-in", str(before), "-noout", "-text"], capture_output=True, text=True,
                         check=True).stdout
    assert subprocess.run(grep, input=old, capture_output=True, text=True).returncode == 1, old


@pytest.mark.process
def test_a_key_list_made_before_the_revocation_never_says_checked(fleet, tmp_path, capsys):
    office = tmp_path / "office"
    key = nodekey.load_or_create(fleet["dir"] / "node1")
    ca.accept(office, nodecert.make_request(key, "tw-hr-001", "node1"), "alice", T0 - 3600 * S, key.fingerprint)
    (tmp_path / "ca.pem").write_bytes(nodecert.pem([ca.existing_ca(office)]))
    out = make(fleet, tmp_path / "x", "node1", chain=False)   # made before enrolment: the key list's route
    before = tmp_path / "keys-before.json"
    before.write_text(json.dumps(keylist.signed(office, keylist.central_key(office), SIGNED + 60 * S)))
    ca.revoke(office, "tw-hr-001/node1", "bob", "box stolen", SIGNED + 120 * S)
    code, j = verify(capsys, str(out), "--ca", str(tmp_path / "ca.pem"), "--keys", str(before))
    assert code == 3 and j["origin"] == "unchecked" and j["revocation"]["what"] == "key list", j
    assert f"key list was issued {utc_text(SIGNED + 60 * S)}" in j["origin_why"], j
    after = tmp_path / "keys-after.json"
    after.write_text(json.dumps(keylist.signed(office, keylist.central_key(office), FRESH)))
    code, j = verify(capsys, str(out), "--ca", str(tmp_path / "ca.pem"), "--keys", str(after))
    assert code == 1 and j["origin"] == "refused" and "revoked" in j["origin_why"], j


# --- the checker stands alone -------------------------------------------------------------------------------
def test_the_checker_imports_nothing_of_edged_and_holds_edgeds_rules():
    from storage.export import origin

    sys.path.insert(0, str(CHECKER))
    try:
        from edged_evidence_check import check
    finally:
        sys.path.remove(str(CHECKER))
    assert (check.GRACE_US, check.EXPORT_WAIT_US, check.URI_SCHEME) == (origin.GRACE_US, origin.EXPORT_WAIT_US,
                                                                        nodecert.URI_SCHEME)
    allowed = {"argparse", "base64", "binascii", "datetime", "hashlib", "json", "os", "re", "stat", "sys", "pathlib",
               "typing", "__future__", "cryptography",
               "c2pa", "edged_evidence_check"}
    for path in (CHECKER / "edged_evidence_check").glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else (
                [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            assert all(n.split(".")[0] in allowed for n in names), (path, names)


@pytest.mark.slow  # pip builds and installs the checker in a venv of its own: seconds
def test_the_checker_is_one_pip_installable_package(tmp_path):
    r = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-w",
                        str(tmp_path), str(CHECKER)], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr
    assert [p.name for p in tmp_path.glob("*.whl")] == ["edged_evidence_check-0.1.0-py3-none-any.whl"]


@pytest.mark.process
def test_the_checker_refuses_a_changed_byte_and_a_manifest_signed_by_no_one(fleet, genuine, tmp_path):
    import shutil

    crl = crl_file(fleet, FRESH, "crl-fresh.pem")
    changed = tmp_path / "changed"
    shutil.copytree(genuine, changed)
    with open(changed / "cam1.mp4", "r+b") as f:
        f.seek(5000)
        b = f.read(1)
        f.seek(5000)
        f.write(bytes([b[0] ^ 1]))
    code, j = checker(str(changed), "--ca", str(fleet["ca"]), "--crl", str(crl))
    assert code == 1 and "SHA-256 does not match" in j["why"], j
    resigned = tmp_path / "resigned"
    shutil.copytree(genuine, resigned)
    (resigned / "manifest.sig").write_bytes(bytes(64))
    code, j = checker(str(resigned), "--ca", str(fleet["ca"]), "--crl", str(crl))
    assert code == 1 and "manifest.sig is not the node certificate's signature" in j["why"], j
