"""Segments flagged for a person (design/0059): stamped by a host clock that was behind, their
true time is unknown. A custodian looks at them and resolves the flag with a written reason; the
flag stays, shown as resolved (who, when, why), the audit chain records it, and the
`segments_flagged` alarm clears when none is left unresolved. Nothing here touches footage: no
file, no stamp, no row is changed or removed. A person who found when one segment began gives its
time with the resolution, on the record, and retention judges its age by it; without one, by the
bound its camera's next segment on a trusted clock gives (design/0096).
"""

from __future__ import annotations

from typing import Any, Awaitable, Callable

from edged.control.operation import CatalogReader, Operations, integer, limit_of, op, scoped, text
from edged.control.protocol import RequestError
from edged.i18n import _
from edged.rules.roles import Actor
from storage.footage import restamps
from storage.catalog import CatalogWriter
from storage.time.clock import SYSTEM, Clock


async def _nothing() -> int:
    return 0


class FlagOps(Operations):
    def __init__(self, writer: CatalogWriter, reader: CatalogReader, recount: Callable[[], Awaitable[int]] = _nothing,
                 clock: Clock = SYSTEM):
        self.writer = writer
        self.reader = reader
        self.recount = recount   # the host clock watch: the alarm's count again (HostClock.recount)
        self.clock = clock

    @op("flags.list")
    async def listing(self, args: dict[str, Any], caller: Actor) -> dict[str, Any]:
        """The flagged segments of the caller's cameras: unresolved ones, or every one (`all`)."""
        scope = scoped(caller, args.get("camera"))
        every, limit = bool(args.get("all")), limit_of(args, 1000)
        rows = await self.reader.query(lambda db: restamps.flags(db, scope, every, limit))
        return {"flags": rows}

    @op("flags.resolve")
    async def resolve(self, args: dict[str, Any], caller: Actor) -> dict[str, Any]:
        """Resolve the flags of `ids` (or, with `all`, every unresolved one of the caller's
        cameras, or of `camera`) with a `reason`; `true_start_us`: when the one segment named began."""
        reason = text(args, "reason")
        if not reason:
            raise RequestError(_("not resolved: give a reason (what was checked, what the segments show); it goes on "
                                 "the audit log"))
        ids = args.get("ids")
        if ids is None and not args.get("all"):
            raise RequestError(_("not resolved: name the segment ids, or ask for all of them"))
        try:
            ids = None if ids is None else [int(i) for i in ids]
        except (TypeError, ValueError):
            raise RequestError(_("ids must be segment ids (integers)")) from None
        true_start = integer(args.get("true_start_us"), "true_start_us")
        if true_start is not None and (ids is None or len(set(ids)) != 1):
            raise RequestError(_("not resolved: a segment's true start is given for one segment at a time"))
        scope = scoped(caller, args.get("camera"))
        at = self.clock.now_us()
        try:
            done = await self.writer.run(lambda c: restamps.resolve(c.db, ids, str(caller), reason, at, scope,
                                                                    true_start))
        except restamps.ResolveError as exc:
            raise RequestError(_("not resolved: not a flagged, unresolved segment of your cameras: {ids}").format(
                ids=", ".join(map(str, exc.bad)))) from None
        left = await self.recount()
        return {"resolved": done, "unresolved": left}
