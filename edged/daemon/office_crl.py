"""The office's revocation list a box keeps (design/0115, design/0129): a standby checks every box
against it before serving it, a box its standby before taking anything from it, and `edgectl
verify` takes it by default (storage/keys/office_crl.py keeps the file). The one kept is loaded at
the start, then the newest heard on MQTT (the office's retained list, mqtt/topics.py OFFICE_CRL)."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import Any, Callable

from cryptography import x509

from mqtt.topics import OFFICE_CRL
from storage.keys import nodecert, office_crl

log = logging.getLogger(__name__)


class OfficeCrl:
    """The list kept and heard; file work taken off the loop."""

    TOPIC = OFFICE_CRL

    def __init__(self, data_dir: Path):
        self.data_dir = Path(data_dir)
        self.crl: x509.CertificateRevocationList | None = None
        self._taking: set[asyncio.Task[None]] = set()

    async def load(self) -> None:
        try:
            self.crl = await asyncio.to_thread(office_crl.read, self.data_dir)
        except (nodecert.CertError, OSError) as exc:
            log.error("the office's revocation list kept is not usable (%s): the next one heard replaces it", exc)

    async def keep(self, reporter: Any, standby: bool) -> None:
        """Hear the office's lists where needed (a standby and its boxes; every enrolled box for edgectl
        verify, design/0129), the kept one loaded first, so no older one heard replaces it."""
        if standby or await asyncio.to_thread((self.data_dir / nodecert.CA_FILE).exists):
            await self.load()
            self.hear_on(reporter)

    def hear_on(self, reporter: Any) -> None:
        """The reporter's connection (mqtt/reporter.py) hears the list too, beside what it heard already."""
        other: Callable[[str, bytes], None] = reporter.on_watched or (lambda _topic, _payload: None)
        reporter.watch = (*reporter.watch, self.TOPIC)
        reporter.on_watched = lambda topic, payload: self.heard(payload) if topic == OFFICE_CRL else other(topic, payload)

    def heard(self, payload: bytes) -> None:
        task = asyncio.get_running_loop().create_task(self._take(payload))
        self._taking.add(task)
        task.add_done_callback(self._taking.discard)

    async def _take(self, payload: bytes) -> None:
        try:
            got = await asyncio.to_thread(office_crl.take, self.data_dir, payload, self.crl)
        except (nodecert.CertError, OSError) as exc:
            log.warning("a revocation list heard on MQTT was not taken: %s", exc)
            return
        if got is not None:
            self.crl = got
            log.info("the office's revocation list taken: %d certificates revoked", len(list(got)))
