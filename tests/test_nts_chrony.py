"""NTS configured by storage/time/nts_conf.py's lines and read as edged reads it, on the real chronyd
(design/0397): synchronised over NTS it is a reading of the authenticated source; the same server
followed by plain NTP, or over NTS with a certificate the box does not trust, is no reading at all."""

from __future__ import annotations

import pytest

from storage.time import corroboration as co
from tests.support.daemon import wait_for
from tests.support.nts import Nts

MS = 1_000


def test_a_box_synchronised_over_nts_reads_as_the_authenticated_source(tmp_path):
    nts = Nts(tmp_path).start()
    try:
        got = nts.wait_synced()
        auth = nts.box.chronyc("authdata")
    finally:
        nts.stop()
    assert got.kind == co.NTS and abs(got.offset_us) < 50 * MS, got   # one host's clock, both ends
    assert ",NTS," in auth, auth
    print(f"\nNTS on chrony 4.3: synchronised, offset {got.offset_us} us; authdata {auth.strip()}")


@pytest.mark.parametrize("how", ["plain_ntp", "untrusted_certificate"])
def test_plain_ntp_or_an_untrusted_certificate_is_no_reading(tmp_path, how):
    """The same office server; the box's chronyd follows it by plain NTP (no `nts`): chrony
    synchronises to it and edged must not take it; or over NTS with no certificate it trusts: the
    key exchange fails (chrony's log: the certificate "is NOT trusted") and chrony never synchronises."""
    nts = Nts(tmp_path)
    lines = nts.box.conf.read_text()
    if how == "plain_ntp":
        lines = lines.replace("authselectmode require\n", "").replace(" nts ", " ")
    else:
        lines = "\n".join(x for x in lines.splitlines() if not x.startswith("ntstrustedcerts")) + "\n"
    nts.box.conf.write_text(lines)
    nts.start()
    try:
        if how == "plain_ntp":
            wait_for(lambda: nts.box.chronyc("tracking").split(",")[0] not in ("7F7F0101", "00000000", ""), 30,
                     "synchronised by plain NTP")
        else:
            wait_for(lambda: _attempts(nts.box.chronyc("authdata")) >= 1 and "NOT trusted" in nts.box.log(), 30,
                     "the key exchange refused on the certificate")
        tracking = nts.box.chronyc("tracking").split(",")
        reading, why = nts.reading()
    finally:
        nts.stop()
    assert reading is None, reading
    if how == "plain_ntp":
        assert tracking[1] == "127.0.0.1" and "not authenticated (no NTS)" in why, (tracking, why)
    else:
        assert "not synchronised" in why, (tracking, why)
    print(f"\n{how}: no reading ({why})")


def _attempts(authdata: str) -> int:
    """NTS-KE attempts since the last success (`chronyc -c authdata`'s seventh column)."""
    cols = authdata.strip().split(",")
    return int(cols[6]) if len(cols) > 6 and cols[6].isdigit() else 0
