"""What the standby hands another box, on its audit chain, coalesced (issue 52 item 7, design/0133).

A standby serving a box its gap (edged/daemon/peers.py) copies footage out of this box: the chain
says so, as it says every read by a person (edged/control/reads.py, design/0062). One box fetching a
day's gap asks for hundreds of segments a minute, so the records are coalesced per box and
camera: the first segment of a minute is written at once (`standby.served`: the box, the camera,
the segment's id, its bytes), the rest of that minute as one `standby.served.repeated` when the
minute is over (their ids, the first MAX_IDS of them and the rest by count, and their bytes
summed). Bytes are the segment files' sizes as handed to the box's TLS connection: a transfer cut
half way is counted whole (the box refuses it by its hash and asks again, which is counted again).
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from typing import Callable

from edged.coalesce import WINDOW_S, Coalescer, flush_until_stopped
from edged.rules import audit_words
from storage import audit
from storage.catalog import CatalogWriter

MAX_IDS = 200   # a summary's segment ids in full; more are counted (the record stays bounded)
ACTOR = "edged"


@dataclass(slots=True)
class Served:
    """A minute's segments handed to one box of one camera, beyond its first."""
    ids: list[int] = field(default_factory=list)
    count: int = 0
    bytes: int = 0

    def add(self, segment_id: int, size: int) -> None:
        if len(self.ids) < MAX_IDS:
            self.ids.append(segment_id)
        self.count += 1
        self.bytes += size


def first_detail(box: str, camera: str, segment_id: int, size: int) -> dict[str, object]:
    """Pure: the record of the first segment of a minute."""
    return {"box": box, "camera": camera, "segments": [segment_id], "count": 1, "bytes": size}


def summary_detail(box: str, camera: str, served: Served, window_s: float) -> dict[str, object]:
    """Pure: the record of the rest of a minute (ids beyond MAX_IDS only counted)."""
    return {"box": box, "camera": camera, "segments": served.ids, "count": served.count,
            "more": served.count - len(served.ids), "bytes": served.bytes, "repeated": served.count,
            "window_s": window_s}


class ServedLedger:
    """The standby's records of footage handed out; `run` writes each minute's summary."""

    def __init__(self, writer: CatalogWriter, monotonic: Callable[[], float] = time.monotonic,
                 window_s: float = WINDOW_S):
        self.writer, self.monotonic = writer, monotonic
        self.coalescer: Coalescer[tuple[str, str]] = Coalescer(window_s)
        self.pending: dict[tuple[str, str], Served] = {}

    async def record(self, box: str, camera: str, segment_id: int, size: int) -> bool:
        """One segment handed to `box` (SITE/NODE): True when written at once, False when counted."""
        await self.flush()
        key = (box, camera)
        if self.coalescer.note(key, self.monotonic()):
            detail = first_detail(box, camera, segment_id, size)
            await self.writer.run(lambda c: audit.append(c.db, ACTOR, audit_words.STANDBY_SERVED, detail))
            return True
        self.pending.setdefault(key, Served()).add(segment_id, size)
        return False

    async def flush(self, final: bool = False) -> int:
        """Write the summary of every minute that is over (every one, `final`)."""
        written = 0
        for key, _n in self.coalescer.due(float("inf") if final else self.monotonic()):
            served = self.pending.pop(key, None)
            if served is None:
                continue
            detail = summary_detail(*key, served, self.coalescer.window_s)
            await self.writer.run(lambda c, d=detail: audit.append(c.db, ACTOR, f"{audit_words.STANDBY_SERVED}.repeated", d))
            written += 1
        return written

    async def run(self, stopping: asyncio.Event) -> None:
        await flush_until_stopped(self.flush, self.coalescer.window_s, stopping)
