"""A backdated export never reads better than the honest one (issue 90 item 5, T19; design/0374).

A box stolen and not yet revoked signs an export of footage that ended ten days ago, dating it
ten days back; the same box dates the same footage honestly, today. Both are real exports of real
segments (storage/export/evidence.py, signed C2PA clips) by a box the office enrolled, judged by
the stand-alone checker (in its own process) and `edgectl verify` (the same core) against lists of
several dates, today's among them: the revocation list's freshness is measured from the latest
time the verifier can prove (the office's receipt, or the footage's end plus the longest an
export may wait), never from the signing time the box wrote, so the backdated one never gets a
better verdict or exit code. With the office's receipt, both are judged from the office's time.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from storage.export import origin
from tests.test_clip_origin import (  # noqa: F401  (the fixtures: an office, two enrolled boxes, cam1's footage)
    S, SIGNED, T0, crl_file, fleet, make,
)
from tests.test_signing_time import both, office_receipt

DAY = 86_400 * S
TODAY = SIGNED + 10 * DAY   # when the thief signs, and when an honest box would have signed
BACKDATED = SIGNED          # ten days back: after the footage ended, within the certificate
RANK = {0: 2, 3: 1, 1: 0}   # CHECKED is better than NOT CHECKED, which is better than REFUSED


@pytest.fixture(scope="module")
def exports(fleet, tmp_path_factory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("backdated")
    return {"honest": make(fleet, d / "honest", "node1", signed_us=TODAY),
            "backdated": make(fleet, d / "backdated", "node1", signed_us=BACKDATED)}


def _lists(fleet: dict) -> dict[str, Path]:
    """Revocation lists of the dates that told the two apart, and the date from which both hold."""
    end = T0 + 12 * S  # the footage ends by then (its clips end at the segment's end at the latest)
    at = {"today": TODAY + 3600 * S, "a day after today": TODAY + DAY + 3600 * S,
          "a day after the backdated signing": BACKDATED + DAY + 3600 * S,
          "after the longest wait": end + getattr(origin, "EXPORT_WAIT_US", 0) + DAY + 3600 * S}
    return {what: crl_file(fleet, us, f"crl-{what.replace(' ', '-')}.pem") for what, us in at.items()}


@pytest.mark.process
def test_a_backdated_export_never_reads_better_than_the_honest_one(fleet, exports, capsys):
    seen = {}
    for what, crl in _lists(fleet).items():
        got = {k: both(capsys, fleet, folder, crl) for k, folder in exports.items()}
        seen[what] = {k: (code, j["verdict"]) for k, (code, j) in got.items()}
        assert RANK[got["backdated"][0]] <= RANK[got["honest"][0]], (what, seen)
        assert got["backdated"][1]["verdict"] == got["honest"][1]["verdict"], (what, seen)
    # today's list: the measurement (before: backdated CHECKED exit 0, honest NOT CHECKED exit 3)
    assert seen["today"] == {"honest": (3, "NOT CHECKED"), "backdated": (3, "NOT CHECKED")}, seen
    # the rule still says CHECKED once a list is fresh for the latest the signing can be proven
    assert seen["after the longest wait"] == {"honest": (0, "CHECKED"), "backdated": (0, "CHECKED")}, seen


@pytest.mark.process
def test_the_not_checked_verdict_says_what_bounds_the_signing(fleet, exports, capsys):
    code, j = both(capsys, fleet, exports["backdated"], _lists(fleet)["today"])
    assert code == 3 and "its footage's end plus 31 days, the longest an export may wait" in j["why"], j
    assert "the office's receipt for the export (edgectl export-receipt)" in j["why"], j
    assert j["dates"]["latest_by"] == "footage" and j["dates"]["fresh"] is False, j
    assert "judged from its footage's end plus 31 days" in j["signing_time"]["why"], j


@pytest.mark.process
def test_with_the_offices_receipt_both_are_judged_from_the_offices_time(fleet, exports, capsys, tmp_path):
    """The office heard of both exports when they were really signed (today): the backdated claim
    buys nothing, and the honest one reads CHECKED a day after the office's time."""
    heard = TODAY + 5 * S
    lists = {"today": crl_file(fleet, TODAY + 3600 * S, "crl-r-today.pem"),
             "a day after the receipt": crl_file(fleet, heard + DAY, "crl-r-day.pem")}
    seen = {}
    for k, folder in exports.items():
        copy = tmp_path / k
        shutil.copytree(folder, copy)
        office_receipt(fleet, copy, heard_us=heard)
        seen[k] = {what: both(capsys, fleet, copy, crl)[0] for what, crl in lists.items()}
    assert seen == {"honest": {"today": 3, "a day after the receipt": 0},
                    "backdated": {"today": 3, "a day after the receipt": 0}}, seen


def test_the_box_signing_time_never_moves_the_list_a_verifier_needs():
    """edged's own route (the key list's, edgectl verify --keys): storage/export/origin.py judges the
    list from the footage's end plus the wait, whatever `created_us` says."""
    manifest = {"cameras": [{"clips": [{"to_us": T0 + 12 * S}]}]}
    needed = {origin.key_list_dates({"made_us": TODAY}, {**manifest, "created_us": c}).needed_us
              for c in (BACKDATED, TODAY, TODAY + DAY)}
    assert needed == {T0 + 12 * S + origin.EXPORT_WAIT_US + origin.GRACE_US}, needed
    assert origin.key_list_dates({"made_us": TODAY}, {"created_us": TODAY}).needed_us is None, "no footage, no bound"


def test_a_portable_devices_footage_ends_no_earlier_than_its_intake():
    """A device's file dated 2015 (its claim) taken in today: the wait runs from the intake, the box's
    own reading, not from the device's year (storage/export/origin.py `latest_us`, the checker's
    `footage_end`)."""
    from edged_evidence_check import check as core

    claimed, intake = T0 - 3650 * DAY, T0 + 60 * S
    clips = [{"to_us": claimed}]
    manifest = {"cameras": [{"clips": clips, "sources": [{"imported": {"intake": 1, "intake_us": intake}}]}]}
    assert origin.latest_us(manifest) == intake + origin.EXPORT_WAIT_US
    assert core.footage_end(manifest, clips) == intake
    assert core.latest_signing(core.footage_end(manifest, clips), None) == (intake + core.EXPORT_WAIT_US, "footage")


def test_a_portable_devices_claim_ahead_ends_nothing_after_its_intake():
    """A camcorder set to 2031 (issue 87, design/0400): its clips end in 2031 by its claim, but its
    footage ended on the box's clock at its intake. The checker took the claim: it refused the export as
    "signed before its own footage ended", and an office receipt as heard before it; and the wait ran
    from 2031, so no revocation list before then could check it. A box camera beside it still counts."""
    from edged_evidence_check import check as core

    claimed, intake = T0 + 1800 * DAY, T0 + 60 * S
    device = {"clips": [{"to_us": claimed}], "sources": [{"imported": {"intake": 1, "intake_us": intake}}]}
    manifest = {"cameras": [device]}
    clips = device["clips"]
    assert core.footage_end(manifest, clips) == intake
    assert origin.latest_us(manifest) == intake + origin.EXPORT_WAIT_US
    core.footage_times(manifest, clips, intake + S)   # signed after the intake: not refused
    with pytest.raises(core.Refused, match="before its own footage ended"):
        core.footage_times(manifest, clips, intake - S)   # signed before the intake is still a lie
    box = {"clips": [{"to_us": T0 + 90 * S}], "sources": [{"segment": "video/cam1/x.mp4"}]}
    both_kinds = {"cameras": [device, box]}
    assert core.footage_end(both_kinds, clips + box["clips"]) == T0 + 90 * S
    assert origin.latest_us(both_kinds) == T0 + 90 * S + origin.EXPORT_WAIT_US
