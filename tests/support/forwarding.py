"""The box's messages to the office after its records (edged/daemon/reporting.py), over a catalog and
without a broker: the box-side test of a new message kind (CONTRIBUTING's walk, design/0361) reads
what `forwarded(db)` returns right after the record its feature wrote."""

from __future__ import annotations

from typing import Any

from edged.daemon.reporting import Reporting
from mqtt import kinds


class Sent:
    """The box's reporter as the forwarding uses it: each message kept as it would go out."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, dict]] = []

    async def audit(self, m: dict) -> None:
        self.sent.append((kinds.AUDIT.name, m))

    async def ethics(self, m: dict) -> None:
        self.sent.append((kinds.ETHICS.name, m))

    async def retention(self, m: dict) -> None:
        self.sent.append((kinds.RETENTION.name, m))

    async def send(self, kind: Any, m: dict) -> None:
        self.sent.append((kind.name, m))


class _Writer:
    def __init__(self, db: Any) -> None:
        self.db = db

    async def run(self, fn: Any) -> Any:
        return fn(self)


async def forwarded(db: Any) -> list[tuple[str, dict]]:
    """What edged/daemon/reporting.py's forwarding of audit records and destructions sends, in order,
    over the catalog ``db``, as (kind's name, body): every batch until nothing more (what was sent
    before, as the daemon's marks say, is not sent again)."""
    r = Reporting.__new__(Reporting)
    r.writer, r.reporter, r.node_key = _Writer(db), Sent(), None

    async def no_footage(force: bool = False) -> None:
        return None
    r._footage = no_footage
    await r._forward_records()
    while True:  # the forwarding goes in batches
        before = len(r.reporter.sent)
        await r._forward_records()
        if len(r.reporter.sent) == before:
            return r.reporter.sent
