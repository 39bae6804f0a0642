"""The office's certificate revocation list as a box keeps it (design/0115, amended for issue 44).

The office publishes its signed CRL retained on MQTT (central/keys/ca.py `publish_crl`); a standby
that serves its boxes their gaps keeps the newest one it heard in its data folder, so that a
restart does not forget a revocation before the broker repeats it. Only a list signed by the
CA this box pinned at enrolment is kept, and never one older than the one held (a replayed old
list must not take a revocation back)."""

from __future__ import annotations

from pathlib import Path

from cryptography import x509

from storage.disk.fsutil import replace_durably
from storage.keys import nodecert

CRL_FILE = "office-crl.pem"   # in the data folder, beside the pinned CA (0600, as every file there)


def newer(held_us: int | None, heard_us: int) -> bool:
    """Whether a list issued at `heard_us` replaces the one held (issued at `held_us`, or none)."""
    return held_us is None or heard_us >= held_us


def issued_us(crl: x509.CertificateRevocationList) -> int:
    return int(crl.last_update_utc.timestamp() * 1_000_000)


def read(data_dir: Path) -> x509.CertificateRevocationList | None:
    """The list kept, checked against the pinned CA; None when there is none (or no CA yet).
    Raises nodecert.CertError when the file is there but not the office's."""
    path = Path(data_dir) / CRL_FILE
    ca = nodecert.pinned_ca(data_dir)
    if ca is None or not path.exists():
        return None
    return nodecert.load_crl(path.read_bytes(), ca)


def take(data_dir: Path, payload: bytes, held: x509.CertificateRevocationList | None) -> x509.CertificateRevocationList | None:
    """The list heard, if it is the office's and not older than `held`: kept on disk and returned;
    None when it is not newer. Raises nodecert.CertError when it is not the office's."""
    ca = nodecert.pinned_ca(data_dir)
    if ca is None:
        raise nodecert.CertError("this box is not enrolled: it cannot check the office's revocation list")  # i18n: the journal's (machine to machine)
    crl = nodecert.load_crl(payload, ca)
    if not newer(None if held is None else issued_us(held), issued_us(crl)):
        return None
    replace_durably(Path(data_dir) / CRL_FILE, payload)
    return crl
