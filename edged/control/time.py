"""The host clock's corroboration (design/0095): what corroborates it now (`time.status`, read by
every role that reads retention), and an approver's confirmation that it is right
(`time.confirm`, `edgectl retention confirm-time`): on the audit chain, it vouches for the host's
time at the next retention pass, carried on the monotonic clock from then on (design/0305).
Refused while a source the box does not control disagrees with the host clock.
"""

from __future__ import annotations

from typing import Any

from edged.control.needs import TimePart
from edged.control.operation import Operations, op, text
from edged.control.protocol import RequestError
from edged.i18n import _
from edged.rules.roles import Actor


class TimeOps(Operations):
    def __init__(self, gate: TimePart):
        self.gate = gate   # edged/daemon/time_gate.TimeGate

    @op("time.status")
    async def status(self, args: dict[str, Any], caller: Actor) -> dict[str, Any]:
        return dict(self.gate.status())

    @op("time.confirm")
    async def confirm(self, args: dict[str, Any], caller: Actor) -> dict[str, Any]:
        """`preview`: what confirming would make due by age, per camera, and nothing confirmed
        (design/0373); else the confirmation, on the audit log with what it made due."""
        if args.get("preview"):
            return {"due": await self.gate.due_if_confirmed()}
        reason = text(args, "reason")
        if not reason:
            raise RequestError(_("not confirmed: give a reason (how the host clock was checked, against what); it "
                                 "goes on the audit log"))
        try:
            done = await self.gate.confirm(str(caller), reason)
        except ValueError as exc:
            raise RequestError(_("not confirmed: a source outside the box disagrees with the host clock ({why}); put "
                                 "the host clock right first").format(why=exc)) from None
        return {"confirmed": done}
