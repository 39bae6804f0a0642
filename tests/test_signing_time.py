"""A signing time the box cannot choose (issue 74, design/0318): the office's receipt for an
export's manifest, checked by the stand-alone checker (in its own process, its folder only on its
path) and `edgectl verify` (the same core), on real exports of real segments signed by a box the
office enrolled. The receipt is made as edged-central makes it (mqtt/receipt.py, the office's key,
the CA's word for it); tests/test_signing_time_office.py has it come through a real broker from a
real edged-central.

- a genuine receipt: CHECKED, "signing time corroborated by the office at T", and the list's
  freshness judged from T (a list fresh for the box's own time but not for T: NOT CHECKED);
- a receipt for another manifest, for another node, timed before the footage ended or outside
  the certificate's validity, changed after signing, or signed by a key the CA does not vouch
  for: REFUSED, the same words from both programs;
- the box takes a receipt only from its office key, for itself, and keeps it only beside the
  manifest it names.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from central.keys import ca
from edged_evidence_check import receipt as form
from mqtt import receipt
from storage.export import evidence as export
from storage.export import checking
from storage.export.receipt import keep_receipt
from storage.export.origin import GRACE_US, utc_text
from storage.keys import nodekey
from tests.test_clip_origin import (  # noqa: F401  (the fixtures: an office, two enrolled boxes, cam1's footage)
    FRESH, S, SIGNED, T0, checker, crl_file, fleet, genuine, verify,
)

NODE1 = "tw-hr-001/node1"
HEARD = SIGNED + 5 * S  # the office heard of the export 5 s after the box signed it


def office_receipt(fleet: dict, folder: Path, *, to: str = NODE1, heard_us: int = HEARD, digest: str | None = None,
                   key: nodekey.NodeKey | None = None, endorsement: dict | None = None) -> dict:
    """The receipt edged-central sends (central/ingest.py Receipts), written into `folder` as the box keeps it."""
    key = key or ca.central_key(fleet["office"])
    digest = digest or hashlib.sha256((folder / export.MANIFEST).read_bytes()).hexdigest()
    msg = receipt.receipt_message(key.sign, key.public_b64, to, digest, heard_us,
                                  endorsement if endorsement is not None else ca.endorsement(fleet["office"]))
    doc = json.loads(msg)
    (folder / export.RECEIPT).write_text(json.dumps(doc, indent=1, sort_keys=True) + "\n")
    return doc


def both(capsys, fleet: dict, folder: Path, crl: Path) -> tuple[int, dict]:
    """The checker's answer, held equal to `edgectl verify`'s (one core)."""
    code, j = checker(str(folder), "--ca", str(fleet["ca"]), "--crl", str(crl))
    code2, j2 = verify(capsys, str(folder), "--ca", str(fleet["ca"]), "--crl", str(crl))
    assert (code2, j2["verdict"], j2["why"], j2["signing_time"]) == (code, j["verdict"], j["why"], j["signing_time"])
    return code, j


@pytest.fixture
def copy(genuine, tmp_path) -> Path:
    folder = tmp_path / "x"
    shutil.copytree(genuine, folder)
    return folder


@pytest.mark.process
def test_the_offices_receipt_corroborates_the_signing_time_in_both(fleet, copy, capsys):
    assert ca.endorsement(fleet["office"]) is not None, "the CA vouches for the office's key"
    office_receipt(fleet, copy)
    crl = crl_file(fleet, HEARD + GRACE_US, "crl-after-receipt.pem")  # a day after the office heard of it
    code, j = both(capsys, fleet, copy, crl)
    assert code == 0 and j["verdict"] == "CHECKED" and j["unlisted"] == [], j
    assert j["dates"]["latest_by"] == "receipt" and j["dates"]["crl_needed_from_utc"] == utc_text(HEARD + GRACE_US), j
    st = j["signing_time"]
    assert st["corroborated"] is True and st["why"].startswith("signing time corroborated by the office at "), st
    assert st["office_utc"] in st["why"] and export.RECEIPT in st["why"], st


@pytest.mark.process
def test_freshness_is_judged_from_the_offices_time(fleet, copy, capsys):
    """A box that dated its export an hour before the office heard of it: the list must be a day
    after the office's time, not the box's."""
    office_receipt(fleet, copy, heard_us=SIGNED + 3600 * S)
    crl = crl_file(fleet, SIGNED + GRACE_US, "crl-day-after-box.pem")  # a day after the box's own time: fresh for it alone
    code, j = both(capsys, fleet, copy, crl)
    assert code == 3 and j["verdict"] == "NOT CHECKED" and "revocation list" in j["why"], j


@pytest.mark.parametrize("what, change, says", [
    ("another manifest", {"digest": "ab" * 32}, "receipt for another export"),
    ("another node", {"to": "tw-ps-002/node2"}, "was issued to \"tw-ps-002/node2\", not to the node that signed"),
    ("before the footage ended", {"heard_us": T0 + 5 * S}, "before its own footage ended"),
    ("after the certificate", {"heard_us": SIGNED + 40 * 365 * 86_400 * S}, "when the node certificate was not valid"),
    ("an unvouched key", {"key": "stranger"}, "not one the office's CA vouches for"),
    ("no endorsement", {"endorsement": {}}, "not one the office's CA vouches for"),
])
@pytest.mark.process
def test_a_receipt_that_does_not_bind_this_export_is_refused_by_both(fleet, copy, capsys, tmp_path, what, change,
                                                                      says):
    if change.get("key") == "stranger":
        (tmp_path / "stranger").mkdir()
        change = {"key": nodekey.load_or_create(tmp_path / "stranger")}
    office_receipt(fleet, copy, **change)
    crl = crl_file(fleet, FRESH + 3600 * S, "crl-fresh-1h.pem")
    code, j = both(capsys, fleet, copy, crl)
    assert code == 1 and j["verdict"] == "REFUSED" and says in j["why"], (what, j)


@pytest.mark.process
def test_a_receipt_changed_after_the_office_signed_it_is_refused_by_both(fleet, copy, capsys):
    doc = office_receipt(fleet, copy)
    (copy / export.RECEIPT).write_text(json.dumps({**doc, "heard_us": doc["heard_us"] - 3 * S}))
    code, j = both(capsys, fleet, copy, crl_file(fleet, FRESH + 3600 * S, "crl-fresh-1h.pem"))
    assert code == 1 and "signature is not its office key's" in j["why"], j


def test_the_checkers_receipt_holds_edgeds_forms():
    """The checker's copies of edged's forms (it imports nothing of edged): the endorsement's
    format and the signed bytes of a command."""
    from mqtt.commands import canonical
    from storage.keys.fleetkeys import ENDORSEMENT_FORMAT

    doc = {"cmd": "receipt", "to": "a/b", "heard_us": 1, "x": "\u00e9", "sig": "-"}
    assert (form.ENDORSEMENT_FORMAT, form.canonical(doc)) == (ENDORSEMENT_FORMAT, canonical(doc))


@pytest.mark.process
def test_the_box_takes_a_receipt_only_from_its_office_for_itself_and_keeps_it_beside_its_manifest(fleet, copy,
                                                                                                  tmp_path):
    office = ca.central_key(fleet["office"])
    digest = hashlib.sha256((copy / export.MANIFEST).read_bytes()).hexdigest()
    msg = receipt.receipt_message(office.sign, office.public_b64, NODE1, digest, HEARD, ca.endorsement(fleet["office"]))
    pub = nodekey.load_public(office.public_b64)
    assert receipt.heard(msg, pub, NODE1)["heard_us"] == HEARD
    assert receipt.heard(msg, pub, "tw-ps-002/node2") is None, "another node's"
    assert receipt.heard(msg, Ed25519PrivateKey.generate().public_key(), NODE1) is None, "another key's"
    assert receipt.heard(msg, None, NODE1) is None, "a box without the office's key takes none"
    assert receipt.heard(msg.replace(b'"heard_us":', b'"heard_us":1'), pub, NODE1) is None, "changed"
    doc = receipt.heard(msg, pub, NODE1)
    other = tmp_path / "other"
    other.mkdir()
    (other / export.MANIFEST).write_text("{}")
    assert not keep_receipt(other, doc), "kept only beside the manifest it names"
    assert not keep_receipt(tmp_path / "gone", doc), "an export already gone"
    assert keep_receipt(copy, doc) and not keep_receipt(copy, doc), "kept once"
    assert form.check(json.loads((copy / export.RECEIPT).read_text()), ca.existing_ca(fleet["office"]).public_key())
    assert export.RECEIPT in checking.listed(copy, json.loads((copy / export.MANIFEST).read_text()))
