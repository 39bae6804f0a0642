"""Issue 90 item 6 (design/0371): a name that cannot pass for another.

On main (086c4852) the office issued `tw-hr-001/node1.` (and `nodel`, `n0de1`, `NODE1`, `node1-`,
`node_1`) with its own fingerprint beside node1, without `--replace`, and a thief's export as
`node1.` read "CHECKED: ... by tw-hr-001/node1. (certificate serial ...)". Now a name ends with a
letter or digit (one rule, edged_evidence_check.names), the office refuses a name that reads like one
in force at the same site unless `--replace` names it, and every verifier prints a signer quoted.
"""

from __future__ import annotations

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.x509.oid import NameOID

from central.keys import ca
from storage import names
from storage.keys import nodecert, nodekey
from tests.test_office_ca import SITE, T0, box

S = 1_000_000
TWINS = ["nodel", "n0de1", "NODE1", "node_1", "Node-1", "nodeI", "no.de1"]


@pytest.mark.parametrize("bad", ["node1.", "node1-", "node1_", "a."])
def test_a_name_ends_with_a_letter_or_digit(bad):
    assert not names.is_name(bad) and names.is_name(bad[:-1])
    with pytest.raises(names.BadName, match="ending with a letter or a digit"):
        names.name(bad, "the node")


def _forged_request(key: nodekey.NodeKey, node: str) -> bytes:
    """A CSR naming `node` built by hand, past the box's own check (a thief's office request)."""
    csr = (x509.CertificateSigningRequestBuilder()
           .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"{SITE}/{node}"),
                                    x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, SITE)]))
           .add_extension(x509.SubjectAlternativeName([x509.UniformResourceIdentifier(f"edged:{SITE}/{node}")]),
                          critical=False)
           .sign(key.private_key(), None))
    return csr.public_bytes(serialization.Encoding.PEM)


def test_the_office_issues_no_name_ending_in_punctuation(tmp_path):
    key = nodekey.NodeKey(Ed25519PrivateKey.generate())
    with pytest.raises(ca.CAError, match="not a plain name"):
        ca.accept(tmp_path / "office", _forged_request(key, "node1."), "alice", T0, key.fingerprint)
    assert ca.read_register(tmp_path / "office") == []


@pytest.fixture
def office(tmp_path):
    data = tmp_path / "office"
    key, req = box()
    entry, _ = ca.accept(data, req, "alice", T0, key.fingerprint)
    return {"data": data, "entry": entry}


@pytest.mark.parametrize("twin", TWINS)
def test_a_near_twin_of_a_node_in_force_is_refused_unless_replace_names_it(office, twin):
    data, node1 = office["data"], office["entry"]
    thief, req = box(twin)
    with pytest.raises(ca.CAError, match=r'"tw-hr-001/.*" reads like "tw-hr-001/node1" \(serial .*--replace SERIAL'):
        ca.accept(data, req, "mallory", T0 + S, thief.fingerprint)
    assert [e["serial"] for e in ca.enrolments(ca.read_register(data))] == [node1["serial"]], "nothing issued"
    new, _ = ca.accept(data, req, "alice", T0 + 2 * S, thief.fingerprint, node1["serial"])   # named: a rename
    assert new["replaces"] == node1["serial"] and ca.is_revoked(data, serial=node1["serial"])


def test_names_that_read_differently_or_at_another_site_are_issued(office):
    data = office["data"]
    for name in ("node2", "node11", "gate1"):
        key, req = box(name)
        ca.accept(data, req, "alice", T0 + S, key.fingerprint)
    key = nodekey.NodeKey(Ed25519PrivateKey.generate())
    ca.accept(data, nodecert.make_request(key, "tw-ps-002", "nodel"), "alice", T0 + S, key.fingerprint)
    assert len(ca.enrolments(ca.read_register(data))) == 5


def test_a_signer_is_printed_quoted():
    assert names.quoted_node("tw-hr-001/node1") == '"tw-hr-001/node1"'
    assert names.quoted_node("tw-hr-001/node1\n") == '"tw-hr-001/node1\\n"'
    assert {names.skeleton(t) for t in TWINS} == {names.skeleton("node1")}
