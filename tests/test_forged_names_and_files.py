"""Names, files and times a forger chooses (issue 74, the verifier's half; design/0315-0317), on
real exports of real segments signed by boxes the office enrolled, checked by the stand-alone
checker in its own process (its folder only on its path, as a court runs it), `edgectl verify`,
the guide's C2PA one-liner and the office's `edged-central nodes accept`:

- one rule for every name, at every door that takes one: a look-alike ("node1\\n", Cyrillic,
  Greek, NUL, bidi, zero-width) is refused, and a certificate already issued for one is refused by
  every verifier, which prints it escaped;
- a manifest signed before its own footage ended is refused; every CHECKED says its signing time
  is not corroborated;
- the checker and `edgectl verify` give one folder one answer; a file the export does not list
  is named and makes it NOT CHECKED; a clip's C2PA is read, never taken from the manifest;
- a redacted copy must name an original from its own node; deep or huge JSON is refused clearly.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from central.keys import ca
from central.store.store import split_topic
from edged.config.values import ConfigError, _id
from edged_evidence_check import check as core
from mqtt.topics import Topics
from storage import names
from storage.export import origin
from storage.keys import chainhead, nodecert
from tests.test_clip_origin import (  # noqa: F401  (the fixtures: an office, two enrolled boxes, cam1's footage)
    CHECKER, FRESH, ROOT, S, SIGNED, T0, checker, crl_file, fleet, genuine, guide_command, make, verify,
)

LOOK_ALIKES = ["node1\n", "node1\r", "n\u043ede1", "\u039dode1", "node1\x00", "node\u202e1", "node\u200b1", "node1 ",
               "", "-node1", "a/b", "node1\u00a0", "ｎode1", "n" * 64]


# --- one rule for every name ------------------------------------------------------------------------------
def _csr(site: str, node: str) -> bytes:
    """An enrolment request a forger writes by hand (nodecert.make_request refuses such names)."""
    from cryptography.hazmat.primitives import serialization

    key = Ed25519PrivateKey.generate()
    csr = (x509.CertificateSigningRequestBuilder().subject_name(nodecert._subject(site, node))
           .add_extension(x509.SubjectAlternativeName([x509.UniformResourceIdentifier(f"edged:{site}/{node}")]),
                          critical=False).sign(key, None))
    return csr.public_bytes(serialization.Encoding.PEM)


def _doors() -> dict[str, object]:
    """Every door that takes a name that is an identity (issue 74: grep of the name rules across
    storage/, edged/, central/, mqtt/, checker/), as a function of one name that raises or
    returns a falsy value when it refuses it."""
    line = "edged-head v1 tw-hr-001/{} 1 " + "0" * 64 + " 5 sig"
    return {
        "storage.names": lambda n: names.name(n, "node"),
        "the box's request (nodecert.make_request)": lambda n: nodecert.make_request(_Key(), "tw-hr-001", n),
        "the office's reading of a request (nodecert.read_request)": lambda n: nodecert.read_request(_csr("tw-hr-001", n)),
        "a manifest's claim (edgectl verify: storage/export/origin.py)": lambda n: origin._claims(
            {"site": {"id": "tw-hr-001"}, "node": n}),
        "a manifest's claim (the checker)": lambda n: core.claim({"site": {"id": "tw-hr-001"}, "node": n}),
        "a topic the box publishes on (mqtt/topics.py)": lambda n: Topics("tw-hr-001", n),
        "a topic the office hears (central split_topic)": lambda n: split_topic(f"edged/v1/tw-hr-001/{n}/status"),
        "a printed chain head (storage/keys/chainhead.py)": lambda n: chainhead.from_line(line.format(n)),
        "a config's id (edged/config/values.py)": lambda n: _id(n, "site.node"),
    }


class _Key:
    """A node key for make_request."""

    def __init__(self) -> None:
        self._k = Ed25519PrivateKey.generate()

    def private_key(self) -> Ed25519PrivateKey:
        return self._k


@pytest.mark.parametrize("door", sorted(_doors()))
def test_every_door_that_takes_a_name_refuses_every_look_alike(door):
    take = _doors()[door]
    assert take("node1"), door  # a plain name passes
    for bad in LOOK_ALIKES:
        if (any(c.isspace() for c in bad) and "chain head" in door) or ("/" in bad and "office hears" in door):
            continue  # the printed line is split at white space, the topic at "/": those read another, plain name
        try:
            got = take(bad)
        except (ValueError, ConfigError, core.Refused):  # CertError and BadName are ValueErrors
            continue
        assert not got, f"{door} took {bad!r}"


def test_no_name_rule_anchors_with_dollar():
    """`$` takes a trailing newline: no pattern of the repository's code ends with it (use fullmatch)."""
    found = []
    for folder in ("storage", "edged", "central", "mqtt", "recorder", "checker"):
        for path in (ROOT / folder).rglob("*.py"):
            for n, text in enumerate(path.read_text().splitlines(), 1):
                if re.search(r"""re\.(compile|match|search)\(r?["'][^"']*\$["']""", text) and "name" in text.lower():
                    found.append(f"{path.relative_to(ROOT)}:{n}: {text.strip()}")
    assert not found, "\n".join(found)


def test_names_are_printed_escaped():
    assert names.shown("node1") == "node1"
    assert names.shown("node1\n") == '"node1\\n"' and names.shown("n\u043ede1") == '"n\\u043ede1"'
    assert names.shown("node\u202e1") == '"node\\u202e1"' and names.shown(None) == "<NoneType>"


def test_nodes_accept_refuses_a_look_alike_and_issues_nothing(tmp_path):
    """The office's own program: a request for tw-hr-001/"node1\\n" with its own fingerprint."""
    conf = tmp_path / "central.toml"
    conf.write_text(f'[storage]\ndata_dir = "{tmp_path / "office"}"\n')
    req = _csr("tw-hr-001", "node1\n")
    (tmp_path / "req.pem").write_bytes(req)
    fingerprint = nodecert.Identity("s", "n", x509.load_pem_x509_csr(req).public_key().public_bytes_raw()).fingerprint
    r = subprocess.run([sys.executable, "-m", "central.cli", "--config", str(conf), "nodes", "accept", "--file",
                        str(tmp_path / "req.pem"), "--by", "alice", "--fingerprint", fingerprint, "--out",
                        str(tmp_path / "b.pem")], capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert r.returncode != 0 and '"node1\\n" is not a plain name' in r.stderr, r.stdout + r.stderr
    assert not (tmp_path / "b.pem").exists() and ca.read_register(tmp_path / "office") == []


@pytest.fixture(scope="module")
def lookalike(fleet, tmp_path_factory):
    """An export by a box holding a certificate for tw-hr-001/"node1\\n" that the office's CA
    signed (as an office before design/0315 issued it), its manifest claiming the same."""
    d = tmp_path_factory.mktemp("lookalike")
    key = nodecert.nodekey.load_or_create(d)
    issuer = ca.existing_ca(fleet["office"])
    good = nodecert.load_pem_chain(fleet["boxes"]["node1"][1][0].encode())[0]
    b = (x509.CertificateBuilder().subject_name(nodecert._subject("tw-hr-001", "node1\n", issuer.subject.get_attributes_for_oid(x509.NameOID.ORGANIZATION_NAME)))
         .issuer_name(issuer.subject).public_key(key.public).serial_number(x509.random_serial_number())
         .not_valid_before(good.not_valid_before_utc).not_valid_after(good.not_valid_after_utc))
    for ext in good.extensions:
        value = ext.value
        if isinstance(value, x509.SubjectAlternativeName):
            value = x509.SubjectAlternativeName([x509.UniformResourceIdentifier("edged:tw-hr-001/node1\n")])
        elif isinstance(value, x509.SubjectKeyIdentifier):
            value = x509.SubjectKeyIdentifier.from_public_key(key.public)
        b = b.add_extension(value, ext.critical)
    cert = b.sign(ca._ca_key(fleet["office"]).private_key(), None)
    boxes = dict(fleet["boxes"], fake=(key, [nodecert.pem([cert]).decode(), nodecert.pem([issuer]).decode()]))
    from tests.test_export_c2pa import HEADER

    return make(dict(fleet, boxes=boxes), d / "x", "fake", header=dict(HEADER, node="node1\n"))


def test_a_look_alikes_certificate_is_refused_by_every_verifier_and_printed_escaped(fleet, lookalike, capsys):
    crl = crl_file(fleet, FRESH, "crl-fresh.pem")
    code, j = checker(str(lookalike), "--ca", str(fleet["ca"]), "--crl", str(crl))
    assert code == 1 and j["verdict"] == "REFUSED" and '"node1\\n", not a plain name' in j["why"], j
    code2, j2 = verify(capsys, str(lookalike), "--ca", str(fleet["ca"]), "--crl", str(crl))
    assert (code2, j2["verdict"], j2["why"]) == (code, j["verdict"], j["why"]), j2
    cmd = guide_command("read-the-clip")
    got = subprocess.run([*cmd[:-2], str(fleet["ca"]), str(lookalike / "cam1.mp4")], capture_output=True, text=True,
                         timeout=120)
    lines = got.stdout.splitlines()
    assert got.returncode == 1 and 'signed by "tw-hr-001/node1\\n" serial' in lines[1], got.stdout + got.stderr
    assert lines[3].startswith("DIFFERENT"), got.stdout


# --- the signing time -------------------------------------------------------------------------------------
def test_a_manifest_signed_before_its_footage_ended_is_refused_by_both(fleet, tmp_path, capsys):
    crl = crl_file(fleet, FRESH, "crl-fresh.pem")
    key, pems = fleet["boxes"]["node1"]
    out = make(fleet, tmp_path / "x", "node1", signed_us=T0 - 10 * S)  # within the certificate, before cam1's clip
    code, j = checker(str(out), "--ca", str(fleet["ca"]), "--crl", str(crl))
    assert code == 1 and "before its own footage ended" in j["why"], j
    code2, j2 = verify(capsys, str(out), "--ca", str(fleet["ca"]), "--crl", str(crl))
    assert (code2, j2["why"]) == (code, j["why"]), j2


def test_a_checked_export_says_its_signing_time_is_not_corroborated(fleet, genuine, capsys):
    crl = crl_file(fleet, FRESH, "crl-fresh.pem")
    code, j = checker(str(genuine), "--ca", str(fleet["ca"]), "--crl", str(crl))
    assert code == 0 and j["signing_time"]["corroborated"] is False, j
    assert j["signing_time"]["why"].startswith("signing time not corroborated"), j
    r = subprocess.run([sys.executable, "-I", "-c", "import sys; sys.path[:0] = [sys.argv.pop(1)]; "
                        "from edged_evidence_check.check import main; sys.exit(main())", str(CHECKER), str(genuine),
                        "--ca", str(fleet["ca"]), "--crl", str(crl)], capture_output=True, text=True, timeout=120)
    assert "note: signing time not corroborated" in r.stdout, r.stdout


# --- one verifier core: every file, every clip's C2PA, bounds ----------------------------------------------
def test_an_added_clip_is_named_and_not_checked_by_both(fleet, genuine, tmp_path, capsys):
    crl = crl_file(fleet, FRESH, "crl-fresh.pem")
    folder = tmp_path / "x"
    shutil.copytree(genuine, folder)
    shutil.copy(folder / "cam1.mp4", folder / "cam9.mp4")
    code, j = checker(str(folder), "--ca", str(fleet["ca"]), "--crl", str(crl))
    assert code == 3 and j["verdict"] == "NOT CHECKED" and j["unlisted"] == ["cam9.mp4"] and "cam9.mp4" in j["why"], j
    code2, j2 = verify(capsys, str(folder), "--ca", str(fleet["ca"]), "--crl", str(crl))
    assert (code2, j2["verdict"], j2["why"]) == (code, j["verdict"], j["why"]), j2


def _resign(folder: Path, key, change) -> None:
    manifest = json.loads((folder / "manifest.json").read_bytes())
    change(manifest)
    body = json.dumps(manifest, indent=2, sort_keys=True, ensure_ascii=False).encode() + b"\n"
    (folder / "manifest.json").write_bytes(body)
    (folder / "manifest.sig").write_bytes(key.sign(body))


def test_a_clips_c2pa_is_read_never_taken_from_the_manifest(fleet, genuine, tmp_path, capsys):
    """manifest.json (signed) saying "no C2PA" of a clip that carries one: the clip's is checked and
    no false note is printed; saying "made" of a clip that carries none: refused."""
    crl = crl_file(fleet, FRESH, "crl-fresh.pem")
    key, pems = fleet["boxes"]["node1"]
    says_none = tmp_path / "says-none"
    shutil.copytree(genuine, says_none)
    _resign(says_none, key, lambda m: m["cameras"][0]["clips"][0].update(c2pa={"made": False, "why": "no chain"}))
    code, j = checker(str(says_none), "--ca", str(fleet["ca"]), "--crl", str(crl))
    assert code == 0 and not any("no C2PA" in n for n in j["notes"]), j
    unsigned = make(fleet, tmp_path / "unsigned", "node1", chain=False)
    _resign(unsigned, key, lambda m: (m.update(node_certificates=pems),
                                      m["cameras"][0]["clips"][0].update(c2pa={"made": True})))
    code, j = checker(str(unsigned), "--ca", str(fleet["ca"]), "--crl", str(crl))
    assert code == 1 and "carries none" in j["why"], j
    code2, j2 = verify(capsys, str(unsigned), "--ca", str(fleet["ca"]), "--crl", str(crl))
    assert (code2, j2["why"]) == (code, j["why"]), j2


@pytest.mark.parametrize("body", ["deep", "huge"])
def test_deep_or_huge_json_gets_a_clear_refusal_from_both(fleet, genuine, tmp_path, capsys, body):
    crl = crl_file(fleet, FRESH, "crl-fresh.pem")
    folder = tmp_path / "x"
    shutil.copytree(genuine, folder)
    if body == "deep":
        (folder / "manifest.json").write_bytes(b"[" * 100_000 + b"]" * 100_000)
    else:
        with open(folder / "manifest.json", "wb") as f:
            f.truncate(300 << 20)  # sparse: 300 MB that cost no disk
    r = subprocess.run([sys.executable, "-I", "-c", "import sys; sys.path[:0] = [sys.argv.pop(1)]; "
                        "from edged_evidence_check.check import main; sys.exit(main())", str(CHECKER), str(folder),
                        "--ca", str(fleet["ca"]), "--crl", str(crl), "--json"], capture_output=True, text=True,
                       timeout=120)
    assert r.returncode == 1 and "Traceback" not in r.stderr, r.stderr
    j = json.loads(r.stdout)
    assert ("deeper than 32" if body == "deep" else "314572800 bytes") in j["why"], j
    code2, j2 = verify(capsys, str(folder), "--ca", str(fleet["ca"]), "--crl", str(crl))
    assert (code2, j2["why"]) == (1, j["why"]), j2


# --- a derivative's original ------------------------------------------------------------------------------
def _copy_report(copy_signer: str, parent_signer: str, deltas: list | None = None) -> dict:
    """The C2PA reader's report of a redacted copy, reduced to what `derivative` reads."""
    return {"active_manifest": "copy", "validation_results": {"ingredientDeltas": deltas or []}, "manifests": {
        "copy": {"signature_info": {"common_name": copy_signer}, "ingredients": [
            {"title": "cam1.mp4", "relationship": "parentOf", "active_manifest": "orig",
             "validation_results": {"activeManifest": {"failure": []}}}],
            "assertions": [{"label": "edged.redaction", "data": {"original_sha256": "ab" * 32}}]},
        "orig": {"signature_info": {"common_name": parent_signer}}}}


def test_a_redacted_copy_must_name_an_original_of_its_own_node_that_verifies_now():
    got = core.derivative(_copy_report("tw-hr-001/node1", "tw-hr-001/node1"), "tw-hr-001/node1", "copy.mp4")
    assert got is not None and not got["checked"] and got["signer"] == "tw-hr-001/node1"
    core.originals_checked({"copy.mp4": got}, {"cam1.mp4": "ab" * 32})  # the original is a clip checked here
    assert got["checked"]
    with pytest.raises(core.NotChecked, match="is not in the folder to check"):
        core.originals_checked({"copy.mp4": dict(got)}, {"cam2.mp4": "cd" * 32})
    with pytest.raises(core.Refused, match="a box redacts only its own footage"):
        core.derivative(_copy_report("tw-ps-002/node2", "tw-hr-001/node1"), "tw-ps-002/node2", "copy.mp4")
    failing = [{"validationDeltas": {"failure": [{"code": "assertion.dataHash.mismatch"}]}}]
    with pytest.raises(core.Refused, match="does not verify"):
        core.derivative(_copy_report("tw-hr-001/node1", "tw-hr-001/node1", failing), "tw-hr-001/node1", "c.mp4")
    assert core.derivative({"active_manifest": "a", "manifests": {"a": {}}}, "tw-hr-001/node1", "c.mp4") is None


def fabricate_copy(fleet: dict, genuine: Path, out: Path) -> Path:
    """Box B's (tw-ps-002/node2's) own export whose clip is its own pictures, signed by B as "a
    redacted copy" with box A's genuine cam1.mp4 as its C2PA `parentOf` (issue 74's finding)."""
    from storage.disk.hashing import sha256_file
    from storage.redact import derivative as redact
    from tests.support import faces
    from tests.test_export_c2pa import HEADER

    key, pems = fleet["boxes"]["node2"]
    folder = make(fleet, out, "node2", header=dict(HEADER, site=dict(HEADER["site"], id="tw-ps-002"), node="node2"))
    faces.write_clip(folder / "cam1.mp4", 10, size=(320, 240))
    made = {"mode": "everything", "fill": "solid", "frames": 10, "frames_filled_whole": 0, "masks": 10,
            "faces_followed": 0, "original": "cam1.mp4", "original_sha256": sha256_file(genuine / "cam1.mp4")}
    context = {"site": {"id": "tw-ps-002"}, "node": "node2", "software": {"name": "edged", "version": "test"}}
    got = redact.sign(folder / "cam1.mp4", genuine / "cam1.mp4", redact.definition(context, made), pems, "ed25519",
                      key.sign)
    _resign(folder, key, lambda m: m["cameras"][0]["clips"][0].update(sha256=got["sha256"], bytes=got["bytes"],
                                                                      c2pa={"made": True}))
    return folder


def test_a_fabricated_redacted_copy_of_another_boxs_clip_is_refused_by_both(fleet, genuine, tmp_path, capsys):
    crl = crl_file(fleet, FRESH, "crl-fresh.pem")
    folder = fabricate_copy(fleet, genuine, tmp_path / "copy")
    code, j = checker(str(folder), "--ca", str(fleet["ca"]), "--crl", str(crl))
    assert code == 1 and 'signed by "tw-ps-002/node2" of an original signed by "tw-hr-001/node1"' in j["why"], j
    code2, j2 = verify(capsys, str(folder), "--ca", str(fleet["ca"]), "--crl", str(crl))
    assert (code2, j2["why"]) == (code, j["why"]), j2


# --- the checker as the guide installs it -----------------------------------------------------------------
@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Path:
    """docs/guide/export.md's two commands, word for word, in a folder holding a copy of checker/."""
    text = (ROOT / "docs/guide/export.md").read_text()
    install = next(line.split("#")[0].strip() for line in text.splitlines() if "pip install ./checker" in line)
    assert install == "python3 -m venv check && check/bin/pip install ./checker", install
    d = tmp_path_factory.mktemp("court")
    shutil.copytree(ROOT / "checker", d / "checker", ignore=shutil.ignore_patterns("build", "*.egg-info",
                                                                                  "__pycache__"))
    r = subprocess.run(install, shell=True, cwd=d, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stdout + r.stderr
    return d / "check/bin/edged-evidence-check"


def test_the_installed_checker_answers_every_class_as_edgectl_does(fleet, genuine, lookalike, installed, tmp_path,
                                                                 capsys):
    crl = crl_file(fleet, FRESH, "crl-fresh.pem")
    added = tmp_path / "added"
    shutil.copytree(genuine, added)
    shutil.copy(added / "cam1.mp4", added / "cam9.mp4")
    deep = tmp_path / "deep"
    shutil.copytree(genuine, deep)
    (deep / "manifest.json").write_bytes(b"[" * 100_000 + b"]" * 100_000)
    folders = {"genuine": (genuine, 0), "look-alike": (lookalike, 1), "added clip": (added, 3), "deep JSON": (deep, 1),
               "signed before its footage": (make(fleet, tmp_path / "early", "node1", signed_us=T0 - 10 * S), 1),
               "fabricated copy": (fabricate_copy(fleet, genuine, tmp_path / "copy"), 1)}
    for what, (folder, want) in folders.items():
        r = subprocess.run([str(installed), str(folder), "--ca", str(fleet["ca"]), "--crl", str(crl), "--json"],
                           capture_output=True, text=True, timeout=120, cwd="/")
        assert r.returncode == want and "Traceback" not in r.stderr, (what, r.stdout, r.stderr)
        j = json.loads(r.stdout)
        code, j2 = verify(capsys, str(folder), "--ca", str(fleet["ca"]), "--crl", str(crl))
        assert (code, j2["verdict"], j2["why"]) == (want, j["verdict"], j["why"]), (what, j, j2)


def test_a_copys_original_is_checked_against_the_office_not_taken_from_the_copy(fleet, genuine, tmp_path, capsys):
    """A redacted copy signed by node1 whose original is signed by a certificate naming
    tw-hr-001/node1 from ANOTHER CA: the same name, but the original does not verify now against
    the office's CA, whatever the copy recorded of it."""
    from storage.disk.hashing import sha256_file
    from storage.export import c2pa_sign
    from storage.redact import derivative as redact
    from tests.support import faces
    from tests.support.c2pa_ca import make_ca
    from tests.test_export_c2pa import HEADER
    from tests.test_redact_signed import ORIGINAL

    crl = crl_file(fleet, FRESH, "crl-fresh.pem")
    key, pems = fleet["boxes"]["node1"]
    other = make_ca("Another office")
    faces.write_clip(tmp_path / "cam1.mp4", 10, size=(320, 240))
    c2pa_sign.sign_clip(tmp_path / "cam1.mp4", ORIGINAL, other.chain(other.issue(key.public)), "ed25519", key.sign)
    folder = make(fleet, tmp_path / "copy", "node1", header=HEADER)
    faces.write_clip(folder / "cam1.mp4", 10, size=(320, 240))
    made = {"mode": "everything", "fill": "solid", "frames": 10, "frames_filled_whole": 0, "masks": 10,
            "faces_followed": 0, "original": "cam1.mp4", "original_sha256": sha256_file(tmp_path / "cam1.mp4")}
    context = {"site": {"id": "tw-hr-001"}, "node": "node1", "software": {"name": "edged", "version": "test"}}
    got = redact.sign(folder / "cam1.mp4", tmp_path / "cam1.mp4", redact.definition(context, made), pems, "ed25519",
                      key.sign)
    _resign(folder, key, lambda m: m["cameras"][0]["clips"][0].update(sha256=got["sha256"], bytes=got["bytes"],
                                                                      c2pa={"made": True}))
    code, j = checker(str(folder), "--ca", str(fleet["ca"]), "--crl", str(crl))
    assert code == 1 and "its original's C2PA manifest does not verify" in j["why"], j
    code2, j2 = verify(capsys, str(folder), "--ca", str(fleet["ca"]), "--crl", str(crl))
    assert (code2, j2["why"]) == (code, j["why"]), j2
