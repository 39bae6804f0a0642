"""The office's revocation list on a schedule (design/0129). A verifier needs a list issued a day
after an export's signing (storage/export/origin.py GRACE_US), so a new one is signed every
PUBLISH_EVERY_US and at each revocation, and written where the dashboard serves it from
(central/keys/ca.py `write_crl`: signed once, a file, never signed per request).

Only the CA's user signs (design/0132: the CA's key is never in a network-facing process): its
timer runs `edged-central nodes crl` every hour (docs/guide/office-ca.md), and `nodes revoke`
writes one at each revocation. `edged-central run` holds no CA key: its schedule (`sign` None)
retains each new file on the broker at the next tick, so the boxes hear a revocation within
seconds, and says in its log when the CA's user has signed nothing for longer than it should.
With `sign` (a central/keys/ca.py CrlSigner factory, in the CA's own process) it signs when due too.
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import Any, Callable

from cryptography import x509

from central.keys import broker_logins, ca, crl_publish

log = logging.getLogger(__name__)
PUBLISH_EVERY_US = 3600 * 1_000_000
RETRY_US = 60 * 1_000_000


def due(issued_us: int | None, now_us: int) -> bool:
    """Pure: whether a new list is to be signed (none yet, or the last one is an hour old; a
    clock set back is not trusted to postpone it)."""
    return issued_us is None or not issued_us <= now_us < issued_us + PUBLISH_EVERY_US


def issued_us(pem: bytes | None) -> int | None:
    if pem is None:
        return None
    try:
        return int(x509.load_pem_x509_crl(pem).last_update_utc.timestamp() * 1_000_000)
    except ValueError:
        return None


class CrlSchedule:
    """Called every second or so from the run loop; blocking work in a thread."""

    def __init__(self, data_dir: Path, sign: Callable[[Path], ca.CrlSigner] | None = None, broker: Any = None):
        self.data_dir, self.sign, self.broker = Path(data_dir), sign, broker
        self.on_broker: bytes | None = None   # the list last retained on the broker
        self.retry_us: int | None = None      # after a broker that did not take it: not before then
        self.stale_said: int | None = None    # the issue time of the stale list last complained of

    def _step(self, now_us: int) -> None:
        if ca.existing_ca(self.data_dir) is None:
            return  # no CA yet (`edged-central nodes ca` makes it): nothing to revoke
        pem = ca.published_crl(self.data_dir)
        issued = issued_us(pem)
        if due(issued, now_us) and self.sign is not None:
            pem = ca.write_crl(self.data_dir, now_us, self.sign(self.data_dir)).read_bytes()
            log.info("the office's revocation list signed and written (%d revoked)", len(ca.revoked_serials(self.data_dir)))
        elif issued is not None and now_us >= issued + 2 * PUBLISH_EVERY_US and self.stale_said != issued:
            self.stale_said = issued
            log.warning("the office's revocation list is %.1f hours old: the CA's timer (edged-central nodes crl, "
                        "as its own user) has not signed one since; exports made since are not checked "
                        "until it does", (now_us - issued) / 3_600e6)
        if self.broker is None or pem is None or pem == self.on_broker or (self.retry_us or 0) > now_us:
            return
        try:
            crl_publish.publish_crl(self.broker, pem)
            self._cut_logins()
            self.on_broker, self.retry_us = pem, None
        except ca.CAError as exc:
            self.retry_us = now_us + RETRY_US
            log.warning("%s; tried again in a minute", exc)

    def _cut_logins(self) -> None:
        """The revoked nodes' broker logins disabled with each list retained (design/0344)."""
        done = broker_logins.cut(self.data_dir, self.broker)
        if done is not None and (done[0] or done[1]):
            log.info("%s", broker_logins.said(done))

    async def tick(self, now_us: int) -> None:
        try:
            await asyncio.to_thread(self._step, now_us)
        except (OSError, ca.CAError) as exc:
            log.error("the office's revocation list could not be written: %s", exc)
