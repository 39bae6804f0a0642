"""Enrolment a person witnessed and the office's root kept apart (issue 52, items 3 and 4;
design/0131, design/0132): the fingerprint read on the box, a second certificate only as a
replacement, the register as a signed chain that a hand-cut line breaks, and a CA key no
network-facing process opens. Pure: real files and cryptography, the dashboard in this process."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from aiohttp.test_utils import TestClient, TestServer
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from central.keys import ca, keylist, register
from central.store.store import Store
from central.verifier.verifier import Verifier
from storage.keys import fleetkeys, nodecert, nodekey, signed_doc
from storage.export import origin

S = 1_000_000
T0 = 1_800_000_000_000_000
SITE = "tw-hr-001"


def box(name: str = "node1") -> tuple[nodekey.NodeKey, bytes]:
    key = nodekey.NodeKey(Ed25519PrivateKey.generate())
    return key, nodecert.make_request(key, SITE, name)


@pytest.fixture
def office(tmp_path):
    data = tmp_path / "office"
    key, req = box()
    entry, _ = ca.accept(data, req, "alice", T0, key.fingerprint)
    return {"data": data, "key": key, "entry": entry}


# --- item 3: enrolment a person witnessed ------------------------------------------------------------------
@pytest.mark.parametrize("given", [None, "", "  "])
def test_an_accept_without_the_fingerprint_read_on_the_box_issues_nothing(tmp_path, given):
    key, req = box()
    with pytest.raises(ca.CAError, match="fingerprint read on the box"):
        ca.accept(tmp_path / "office", req, "alice", T0, given)  # type: ignore[arg-type]
    assert ca.read_register(tmp_path / "office") == []


def test_the_command_line_refuses_an_accept_without_fingerprint(tmp_path, capsys):
    from central import cli

    conf = tmp_path / "central.toml"
    conf.write_text(f'[storage]\ndata_dir = "{tmp_path / "office"}"\n')
    key, req = box()
    (tmp_path / "req.pem").write_bytes(req)
    with pytest.raises(SystemExit) as exc:
        cli.main(["--config", str(conf), "nodes", "accept", "--file", str(tmp_path / "req.pem"), "--by", "alice",
                  "--out", str(tmp_path / "b.pem")])
    assert exc.value.code == 2 and "--fingerprint" in capsys.readouterr().err
    assert not (tmp_path / "b.pem").exists()


def test_a_second_certificate_for_a_node_in_force_needs_replace_and_revokes_the_old_in_the_same_step(office):
    data, old = office["data"], office["entry"]
    usb, req = box()  # a CSR on a USB stick naming the same node
    with pytest.raises(ca.CAError, match="already has a certificate in force .*--replace SERIAL"):
        ca.accept(data, req, "alice", T0 + S, usb.fingerprint)
    with pytest.raises(ca.CAError, match="no certificate in force with that serial"):
        ca.accept(data, req, "alice", T0 + S, usb.fingerprint, "abc123")
    assert [e["serial"] for e in ca.enrolments(ca.read_register(data))] == [old["serial"]], "nothing issued"
    new, bundle = ca.accept(data, req, "alice", T0 + 2 * S, usb.fingerprint, old["serial"].upper())
    assert new["replaces"] == old["serial"]
    assert ca.is_revoked(data, serial=old["serial"]) and not ca.is_revoked(data, serial=new["serial"])
    assert not ca.is_revoked(data, node=f"{SITE}/node1"), "the node is in force with its new certificate"
    assert ca.is_revoked(data, public_key=old["public_key"]) and not ca.is_revoked(data, public_key=usb.public_b64)
    assert not ca.is_revoked(data, node=f"{SITE}/never-enrolled")
    assert [e["event"] for e in ca.read_register(data)] == ["accepted", "revoked", "accepted"]
    published = nodecert.load_crl(ca.published_crl(data) or b"", ca.existing_ca(data))
    assert published.get_revoked_certificate_by_serial_number(int(old["serial"], 16)) is not None, \
        "the revocation list the dashboard serves names the replaced certificate already"
    assert ca.enrolled_keys(ca.enrolments(ca.read_register(data))) == {f"{SITE}/node1": {usb.public_b64}}


def test_the_same_boxs_request_again_gets_the_same_certificate_not_a_second(office):
    again, _ = ca.accept(office["data"], nodecert.make_request(office["key"], SITE, "node1"), "bob", T0 + S,
                         office["key"].fingerprint)
    assert again["serial"] == office["entry"]["serial"] and len(ca.read_register(office["data"])) == 1


def test_accept_and_revoke_name_the_person_and_the_os_user(office, monkeypatch):
    monkeypatch.setenv("SUDO_USER", "alice-login")
    ca.revoke(office["data"], f"{SITE}/node1", "Bob Lin", "box stolen", T0 + S)
    accepted, revoked = ca.read_register(office["data"])
    assert accepted["by"] == "alice" and accepted["os_user"]
    assert revoked["by"] == "Bob Lin" and revoked["os_user"].startswith("alice-login (as ")


@pytest.mark.parametrize(("env", "user", "said"), [
    ({}, "edged-ca", "edged-ca"),
    ({"SUDO_USER": "alice"}, "edged-ca", "alice (as edged-ca)"),
    ({"SUDO_USER": "edged-ca"}, "edged-ca", "edged-ca"),
])
def test_the_os_user_on_the_record(env, user, said):
    assert ca.os_user(env, user) == said


# --- item 4: the register as a signed chain ----------------------------------------------------------------
def _revoked_office(office) -> Path:
    data = office["data"]
    k2, r2 = box("node2")
    ca.accept(data, r2, "alice", T0 + S, k2.fingerprint)
    ca.revoke(data, f"{SITE}/node1", "bob", "box stolen", T0 + 2 * S)
    return ca.ca_folder(data) / register.REGISTER


@pytest.mark.parametrize("cut", ["the revoked line (the last)", "a line in the middle", "the first line"])
def test_a_register_line_removed_by_hand_is_refused_and_never_unrevokes(office, cut):
    path = _revoked_office(office)
    lines = path.read_bytes().splitlines(keepends=True)
    gone = {"the revoked line (the last)": 2, "a line in the middle": 1, "the first line": 0}[cut]
    path.write_bytes(b"".join(ln for i, ln in enumerate(lines) if i != gone))
    with pytest.raises(ca.RegisterError, match="removed|does not follow"):
        ca.read_register(office["data"])
    with pytest.raises(ca.RegisterError):
        ca.is_revoked(office["data"], node=f"{SITE}/node1")
    with pytest.raises(ca.RegisterError):
        keylist.signed(office["data"], keylist.central_key(office["data"]), T0 + 3 * S)
    with pytest.raises(ca.RegisterError):
        ca.crl(office["data"], T0 + 3 * S)
    k3, r3 = box("node3")
    with pytest.raises(ca.RegisterError):
        ca.accept(office["data"], r3, "alice", T0 + 3 * S, k3.fingerprint)
    path.write_bytes(b"".join(lines))
    assert ca.is_revoked(office["data"], node=f"{SITE}/node1"), "the backup restored: revoked again"


def test_a_register_line_edited_by_hand_or_its_head_gone_is_refused(office):
    path = _revoked_office(office)
    text = path.read_text()
    path.write_text(text.replace('"event": "revoked"', '"event": "revokeX"'))
    with pytest.raises(ca.RegisterError, match="not signed"):
        ca.read_register(office["data"])
    path.write_text(text)
    (path.parent / register.HEAD).unlink()
    with pytest.raises(ca.RegisterError, match="head is missing"):
        ca.read_register(office["data"])


def test_lines_past_the_head_that_chain_are_kept_as_after_a_crash(office):
    path = _revoked_office(office)
    head = path.parent / register.HEAD
    before = head.read_bytes()
    k4, r4 = box("node4")
    ca.accept(office["data"], r4, "alice", T0 + 4 * S, k4.fingerprint)
    head.write_bytes(before)  # the power went after the line's fsync, before the head's rename
    assert [e["node"] for e in ca.enrolments(ca.read_register(office["data"]))][-1] == f"{SITE}/node4"


def test_the_verifier_keeps_its_last_good_reading_of_a_register_cut_by_hand(office, tmp_path):
    path = _revoked_office(office)
    enrolled = ca.Enrolled(office["data"])
    assert enrolled(f"{SITE}/node1") == set(), "revoked: no key in force"
    path.write_bytes(b"".join(path.read_bytes().splitlines(keepends=True)[:2]))
    assert enrolled(f"{SITE}/node1") == set() and enrolled.error and "removed" in enrolled.error
    store = Store(tmp_path / "central.db")
    birth = {"ts_us": T0, "version": "0.1.0", "session": 1, "config_hash": "h", "site": SITE, "node": "node1",
             "retention": {"min_days": 30, "max_days": 365}, "cameras": [{"id": "c"}],
             "public_key": office["key"].public_b64}
    store.ingest([(f"edged/v1/{SITE}/node1/birth", json.dumps(birth).encode())], T0)
    Verifier(store, ZoneInfo("UTC"), 0, enrolled).run_once(T0 + S)
    assert [f["kind"] for f in store.findings(severity="critical")] == ["key_not_enrolled"], \
        "the cut register did not give the revoked key back"
    store.close()


# --- item 4: the CA's key apart ----------------------------------------------------------------------------
def test_the_ca_has_its_own_key_and_the_office_key_is_vouched_for_by_it(office):
    data = office["data"]
    root = ca.existing_ca(data)
    office_key = keylist.central_key(data)
    assert origin.root_fingerprint(root) != office_key.fingerprint, "cmd/time, key lists, archives: another key"
    assert (ca.ca_folder(data) / nodekey.KEY_FILE).exists() and not (data / ca.KEY_DIR / ca.CA_CERT).exists()
    doc = keylist.signed(data, office_key, T0)
    assert doc["central_fingerprint"] == office_key.fingerprint
    assert fleetkeys.check(json.dumps(doc), origin.root_fingerprint(root))["nodes"], "checks against the CA alone"
    other = nodekey.NodeKey(Ed25519PrivateKey.generate())
    forged = signed_doc.sign(other, {"format": fleetkeys.FORMAT, "made_us": T0, "nodes": doc["nodes"],
                                     "office_endorsement": doc["office_endorsement"]})  # the CA's word, another key
    with pytest.raises(fleetkeys.KeyListError, match="not by the central office's key"):
        fleetkeys.check(json.dumps(forged), origin.root_fingerprint(root))


async def test_the_dashboard_and_the_verifier_never_open_the_ca_key(office, tmp_path):
    """Every file the dashboard (/ca.pem, /crl.pem, /keys.json) and the instance's register reader
    open while serving, recorded by an audit hook: the CA key is not among them."""
    from central import config
    from central.pages.dashboard import Dashboard

    data = office["data"]
    ca.write_crl(data, T0 + S)  # as `edged-central nodes crl` run by the CA's user does
    conf = tmp_path / "c.toml"
    conf.write_text(f'[storage]\ndata_dir = "{data}"\n')
    key_file = str((ca.ca_folder(data) / nodekey.KEY_FILE).resolve())
    opened: list[str] = []
    watching = [True]

    def hook(event: str, args: tuple) -> None:
        if watching[0] and event == "open" and isinstance(args[0], (str, Path)):
            opened.append(str(Path(args[0]).resolve()))
    sys.addaudithook(hook)
    try:
        client = TestClient(TestServer(Dashboard(config.load(conf)).app))
        await client.start_server()
        try:
            for path, want in (("/ca.pem", "BEGIN CERTIFICATE"), ("/crl.pem", "BEGIN X509 CRL"),
                               ("/keys.json", "office_endorsement")):
                r = await client.get(path, headers={"Host": "localhost"})
                assert r.status == 200 and want in await r.text(), path
        finally:
            await client.close()
        assert ca.Enrolled(data)(f"{SITE}/node1") == {office["key"].public_b64}
    finally:
        watching[0] = False
    assert any(p.endswith(register.REGISTER) for p in opened), "the hook saw the files read"
    assert key_file not in opened


def _old_office(data: Path) -> tuple[nodekey.NodeKey, list[dict]]:
    """An office as design/0097 made it: the CA over the office's own key, a plain register."""
    old = data / ca.KEY_DIR
    old.mkdir(parents=True)
    key = nodekey.load_or_create(old)
    root = nodecert.make_ca(key.private_key(), "Old office", T0)
    (old / ca.CA_CERT).write_bytes(nodecert.pem([root]))
    lines = []
    for n, name in enumerate(("node1", "node2"), start=10):
        k, req = box(name)
        cert = nodecert.issue(key.private_key(), root, req, n, T0)
        lines.append({"event": "accepted", "node": f"{SITE}/{name}", "serial": f"{n:x}", "public_key": k.public_b64,
                      "fingerprint": k.fingerprint, "at_us": T0, "by": "alice", "cert": nodecert.pem([cert]).decode()})
    lines.append({"event": "revoked", "serial": "b", "node": f"{SITE}/node2", "at_us": T0 + S, "by": "bob",
                  "reason": "stolen"})
    (old / "enrolments.jsonl").write_text("".join(json.dumps(ln) + "\n" for ln in lines))
    return key, lines


def test_an_office_made_before_splits_its_ca_from_its_key_keeping_the_fleet_enrolled(tmp_path, capsys):
    from central import cli

    data = tmp_path / "office"
    old_key, lines = _old_office(data)
    k3, r3 = box("node3")
    with pytest.raises(ca.CAError, match="From an office made before"):
        ca.accept(data, r3, "alice", T0 + 2 * S, k3.fingerprint)
    conf = tmp_path / "central.toml"
    conf.write_text(f'[storage]\ndata_dir = "{data}"\n')
    assert cli.main(["--config", str(conf), "nodes", "ca", "--split", "--by", "carol", "--json"]) == 0
    said = json.loads(capsys.readouterr().out)
    assert said["ca_fingerprint"] == old_key.fingerprint != said["office_fingerprint"] and said["adopted"] == 3
    assert origin.root_fingerprint(ca.existing_ca(data)) == old_key.fingerprint, "the boxes' pinned CA stays"
    assert keylist.central_key(data).fingerprint == said["office_fingerprint"]
    assert not (data / ca.KEY_DIR / nodekey.KEY_FILE).read_bytes() == (ca.ca_folder(data) / nodekey.KEY_FILE).read_bytes()
    assert ca.is_revoked(data, serial="b") and not ca.is_revoked(data, serial="a"), "node2 stays revoked"
    doc = keylist.signed(data, keylist.central_key(data), T0 + 3 * S)
    assert fleetkeys.check(json.dumps(doc), old_key.fingerprint)
    crl = nodecert.load_crl(ca.published_crl(data) or b"", ca.existing_ca(data))
    assert crl.get_revoked_certificate_by_serial_number(0xB) is not None
    assert ca.accept(data, r3, "alice", T0 + 4 * S, k3.fingerprint)[0]["node"] == f"{SITE}/node3"
    assert cli.main(["--config", str(conf), "nodes", "ca", "--split", "--by", "carol"]) == 2, "once"


def test_the_ca_vouches_for_the_office_key_it_is_given_when_its_user_cannot_read_central_key(tmp_path, capsys):
    from central import cli

    data = tmp_path / "office"
    conf = tmp_path / "central.toml"
    conf.write_text(f'[storage]\ndata_dir = "{data}"\n')
    office = nodekey.NodeKey(Ed25519PrivateKey.generate())   # as copied out of central-key/ by root
    (tmp_path / "office.pub.pem").write_bytes(office.public_pem())
    assert cli.main(["--config", str(conf), "nodes", "ca", "--office-key", str(tmp_path / "office.pub.pem")]) == 0
    capsys.readouterr()
    said = ca.endorsement(data)
    assert said is not None and said["office_fingerprint"] == office.fingerprint
    assert fleetkeys.endorsed(said, origin.root_fingerprint(ca.existing_ca(data)), office.fingerprint)
    assert not fleetkeys.endorsed(said, office.fingerprint, office.fingerprint), "only the CA's word counts"
    assert ca.published_crl(data) is not None, "the first revocation list, for /crl.pem"
