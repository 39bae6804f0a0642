"""Fresh revocation (issue 52 item 2, design/0129): when a list may say "checked", and the office's
list signed once on a schedule and at each revocation, served as the file written. Pure tables,
then the office's folder on disk (central/keys/ca.py, central/keys/crl_schedule.py); no broker."""

from __future__ import annotations

import asyncio

import pytest
from cryptography import x509

from central.keys import ca
from central.keys.crl_schedule import PUBLISH_EVERY_US, CrlSchedule, due, issued_us
from storage.export import origin
from storage.keys import nodecert, nodekey

S = 1_000_000
T0 = 1_800_000_000_000_000
H = 3600 * S
CHECKED = origin.Origin(origin.CHECKED, "signed by tw-hr-001/node1", "KEY", {"node": "node1"})


@pytest.mark.parametrize("issued, latest, status, said", [
    (T0 + 25 * H, T0, origin.CHECKED, None),                        # a day and more after the latest signing
    (T0 + 24 * H, T0, origin.CHECKED, None),                        # exactly the grace
    (T0 + 24 * H - 1, T0, origin.UNCHECKED, "get the office's current one"),
    (T0 + 60 * S, T0, origin.UNCHECKED, "was issued 2027-01-15 08:01:00 UTC, before 2027-01-16 08:00:00 UTC"),
    (T0 - H, T0, origin.UNCHECKED, "before"),                       # made before the export
    (T0 + 25 * H, None, origin.UNCHECKED, "lists no footage whose end bounds its signing"),
])
def test_a_list_says_checked_only_when_issued_a_day_after_the_signing(issued, latest, status, said):
    """Judged from the latest signing the verifier can prove (design/0374), whatever the box says it signed at:
    the box's own time (T0 - 10 days here, a backdating) is shown, never judged from."""
    got = origin.with_revocation(CHECKED, origin.Freshness("revocation list", issued, T0 - 240 * H, latest_us=latest))
    assert got.status == status and (said is None or said in got.why), got.why
    assert got.key == "KEY" and got.who == {"node": "node1"}, "who and the key stay, for the clips' check"
    assert got.revocation is not None and got.revocation["issued_us"] == issued


def test_no_list_is_not_checked_and_a_refusal_stays_a_refusal():
    assert origin.with_revocation(CHECKED, None).status == origin.UNCHECKED
    refused = origin.Origin(origin.REFUSED, "revoked")
    assert origin.with_revocation(refused, origin.Freshness("revocation list", T0, T0)).status == origin.REFUSED


@pytest.mark.parametrize("issued, now, expected", [
    (None, T0, True),                          # none yet
    (T0, T0 + 1, False),
    (T0, T0 + PUBLISH_EVERY_US - 1, False),
    (T0, T0 + PUBLISH_EVERY_US, True),         # an hour old
    (T0, T0 - S, True),                        # a clock set back does not postpone it
])
def test_the_office_signs_a_new_list_every_hour(issued, now, expected):
    assert due(issued, now) is expected


def test_the_list_is_signed_once_per_hour_and_at_each_revocation_and_served_as_written(tmp_path):
    office = tmp_path / "office"
    schedule = CrlSchedule(office, ca.local_crl_signer)  # the CA's own process (its timer: nodes crl)
    asyncio.run(schedule.tick(T0))
    assert ca.published_crl(office) is None, "no CA yet: nothing signed, none made"
    key = nodekey.load_or_create(tmp_path)
    entry, _ = ca.accept(office, nodecert.make_request(key, "tw-hr-001", "node1"), "alice", T0, key.fingerprint)
    asyncio.run(schedule.tick(T0 + S))
    first = ca.published_crl(office)
    assert first is not None and issued_us(first) == T0 + S
    asyncio.run(schedule.tick(T0 + 30 * 60 * S))
    assert ca.published_crl(office) == first, "not signed again within the hour"
    ca.revoke(office, "tw-hr-001/node1", "bob", "box stolen", T0 + 40 * 60 * S)
    revoked = ca.published_crl(office)
    assert revoked != first and issued_us(revoked) == T0 + 40 * 60 * S
    crl = x509.load_pem_x509_crl(revoked)
    assert crl.get_revoked_certificate_by_serial_number(int(entry["serial"], 16)) is not None
    asyncio.run(schedule.tick(T0 + 101 * 60 * S))
    assert issued_us(ca.published_crl(office)) == T0 + 101 * 60 * S, "an hour after the last: signed anew"


def test_the_list_is_signed_through_the_callable_it_is_given(tmp_path):
    """The CA's key may live behind a signer (issue 52 item 4): the schedule only calls it."""
    office = tmp_path / "office"
    ca.ca_cert(office, T0)
    asked: list[tuple[list[tuple[int, int]], int]] = []

    def signer(data_dir):
        local = ca.local_crl_signer(data_dir)

        def sign(revoked, now_us):
            asked.append((revoked, now_us))
            return local(revoked, now_us)
        return sign

    asyncio.run(CrlSchedule(office, signer).tick(T0 + S))
    assert asked == [([], T0 + S)] and issued_us(ca.published_crl(office)) == T0 + S
