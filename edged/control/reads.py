"""Reads of footage on the record without letting a person fill the disk with them (design/0062, issue 45).

Listing footage (segments, motion events) is on the audit chain: who looked at which cameras'
days. A custodian reloading the desk's timeline from eight tabs once wrote 4,231 records in 20 s
(about 4.7 GB a day from one person, on the footage disk, never deleted). So reads are coalesced
per person, session, action, cameras and day: the first read of a minute is written in full, the
rest of that minute are counted and written as one `<action>.repeated` summary when the minute
is over. The chain still says every read happened, in full or in a count. A refused read (out of
scope, busy, bad arguments) raises before anything is written, so it writes nothing.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any, Callable, Hashable

from edged.coalesce import WINDOW_S, Coalescer, flush_until_stopped
from edged.rules.roles import Actor
from storage import audit
from storage.catalog import CatalogWriter
from storage.retention.plan import DAY_US


def day_span(from_us: int | None, to_us: int | None) -> tuple[int | None, int | None]:
    """The UTC days a read covers (their numbers since 1970), the key's grain: one person reading
    the same cameras' day again and again is one record a minute."""
    return (None if from_us is None else from_us // DAY_US,
            None if to_us is None else max(from_us or 0, to_us - 1) // DAY_US)


def read_key(caller: Actor, action: str, cameras: list[str] | None, from_us: int | None,
             to_us: int | None) -> Hashable:
    token = getattr(caller, "token", None)
    return (str(caller), token, action, tuple(cameras) if cameras is not None else None,
            day_span(from_us, to_us))


class ReadLedger:
    """The audit records of footage reads, coalesced a minute per key; `run` writes the counts."""

    def __init__(self, writer: CatalogWriter, monotonic: Callable[[], float] = time.monotonic,
                 window_s: float = WINDOW_S):
        self.writer = writer
        self.monotonic = monotonic
        self.coalescer: Coalescer[Hashable] = Coalescer(window_s)
        # key -> (actor, action, detail, door): a count is written under the door of its first read
        self.details: dict[Hashable, tuple[str, str, dict[str, Any], dict[str, Any] | None]] = {}

    async def record(self, caller: Actor, action: str, detail: dict[str, Any], cameras: list[str] | None,
                     from_us: int | None, to_us: int | None) -> bool:
        """Put one read on the record: True when written in full, False when only counted."""
        key = read_key(caller, action, cameras, from_us, to_us)
        await self.flush()
        if self.coalescer.note(key, self.monotonic()):
            self.details[key] = (str(caller), action, detail, audit.DOOR.get())
            await self.writer.run(lambda c: audit.append(c.db, str(caller), action, detail))
            return True
        return False

    async def flush(self, final: bool = False) -> int:
        """Write one summary for each key whose minute is over (every key, `final`) and that read
        again meanwhile."""
        due = self.coalescer.due(float("inf") if final else self.monotonic())
        written = 0
        for key, n in due:
            actor, action, detail, door = self.details.pop(key, (str(key), "read", {}, None))
            summary = {**{k: v for k, v in detail.items() if k in ("cameras", "from_us", "to_us", "since_us",
                                                                   "until_us")},
                       "repeated": n, "window_s": self.coalescer.window_s}
            entered = audit.DOOR.set(door)   # not the door of the read that happens to flush it
            try:
                await self.writer.run(lambda c, a=actor, act=action, s=summary: audit.append(c.db, a, f"{act}.repeated", s))
            finally:
                audit.DOOR.reset(entered)
            written += 1
        for key in [k for k in self.details if k not in self.coalescer.started]:
            del self.details[key]   # a minute with nothing counted: nothing more to write
        return written

    async def run(self, stopping: asyncio.Event) -> None:
        await flush_until_stopped(self.flush, self.coalescer.window_s, stopping)
