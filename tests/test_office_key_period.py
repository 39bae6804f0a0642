"""The CA's word for the office's key has a validity period, renewed by the CA, and receipts are
judged against it (issue 90 item 5, T36; design/0376). Real exports of real segments by a box the
office enrolled, receipts made as edged-central makes them with endorsements the office's CA signs,
judged by the stand-alone checker (its own process) and `edgectl verify` (the same core)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from central.keys import ca
from storage.export.origin import GRACE_US
from storage.keys import signed_doc
from tests.test_clip_origin import (  # noqa: F401  (the fixtures: an office, two enrolled boxes, cam1's footage)
    S, SIGNED, crl_file, fleet, genuine,
)
from tests.test_signing_time import HEARD, both, office_receipt

# the office's fleet of tests/test_clip_origin.py (ffmpeg's clip) and the checker in its own process (design/0473)
pytestmark = pytest.mark.process

DAY = 86_400 * S


def endorsed(fleet: dict, start: int | None, end: int | None) -> dict:
    """The office's key vouched for by its CA for [start, end] (None: no period, as before design/0376)."""
    word = ca.endorsement(fleet["office"])
    assert word is not None
    body = {k: v for k, v in word.items() if k not in ("sig", "central_key", "central_fingerprint",
                                                          "not_before_us", "not_after_us")}
    if start is not None:
        body.update(not_before_us=start, not_after_us=end)
    return signed_doc.sign(ca._ca_key(fleet["office"]), body)


@pytest.fixture
def copy(genuine, tmp_path) -> Path:
    folder = tmp_path / "x"
    shutil.copytree(genuine, folder)
    return folder


def test_the_cas_word_for_the_office_key_carries_a_period(fleet):
    word = ca.endorsement(fleet["office"])
    assert word["not_after_us"] - word["not_before_us"] == ca.ENDORSEMENT_VALID_US, word


@pytest.mark.parametrize("what, start, end, code, says", [
    ("in force", HEARD - DAY, HEARD + DAY, 0, ""),
    ("not yet in force", HEARD + S, HEARD + DAY, 1, "outside the period the CA vouched for the office's key"),
    ("lapsed", HEARD - DAY, HEARD - S, 1, "outside the period the CA vouched for the office's key"),
], ids=["in force", "not yet in force", "lapsed"])  # not the times: each xdist worker collects at its own second
def test_a_receipt_is_judged_against_the_endorsements_period(fleet, copy, capsys, what, start, end, code, says):
    office_receipt(fleet, copy, endorsement=endorsed(fleet, start, end))
    got, j = both(capsys, fleet, copy, crl_file(fleet, HEARD + GRACE_US, "crl-period.pem"))
    assert got == code and says in j["why"], (what, j)
    assert (j["signing_time"] or {}).get("corroborated") is (code == 0 or None), (what, j)


def test_an_endorsement_without_a_period_is_said(fleet, copy, capsys):
    office_receipt(fleet, copy, endorsement=endorsed(fleet, None, None))
    got, j = both(capsys, fleet, copy, crl_file(fleet, HEARD + GRACE_US, "crl-period.pem"))
    assert got == 0 and any("carries no validity period" in n for n in j["notes"]), j


def test_the_ca_renews_its_word_when_due_and_only_then(tmp_path, fleet):
    office = tmp_path / "office"
    shutil.copytree(fleet["office"], office)
    first = ca.endorsement(office)
    start = first["not_before_us"]
    assert ca.renew_endorsement(office, start + DAY) is None, "not due: more than a month left"
    due = first["not_after_us"] - ca.ENDORSEMENT_RENEW_US
    renewed = ca.renew_endorsement(office, due)
    assert renewed is not None and ca.endorsement(office) == renewed
    assert (renewed["office_key"], renewed["not_before_us"], renewed["not_after_us"]) == (
        first["office_key"], due, due + ca.ENDORSEMENT_VALID_US), renewed
