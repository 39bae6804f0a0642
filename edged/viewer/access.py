"""The viewer's door to accounts, grants, footage rows and the audit log: storage.people.sessions and
storage.people.retrieval_store, edged.people (a grant's use) and the catalog, each call run on the catalog writer's thread
(never on the event loop).

The viewer has no accounts of its own: it logs people in with the same personal accounts
as edgectl (`via = "viewer"`), and every refusal that matters is recorded on the audit chain.
"""

from __future__ import annotations

from typing import Any, Callable

from edged import people, pools
from edged.config.policy import RequestPolicy
from edged.rules.redaction import redacted_kinds
from storage import audit
from storage.people import accounts, retrieval_store, sessions
from storage.footage import gaps as gap_table
from storage.footage import segments as segment_table
from storage.footage import standins
from storage.catalog import CatalogWriter
from storage.time.clock import SYSTEM, Clock

AuthError = accounts.AuthError
NotSigned = sessions.NotSigned
NotVouched = sessions.NotVouched
LOGGED_OUT = sessions.LOGGED_OUT   # (the class below has a method named `sessions`)
GrantError = retrieval_store.GrantError
VIA = "viewer"


class Access:
    def __init__(self, writer: CatalogWriter, clock: Clock = SYSTEM,
                 unsigned: Callable[[dict[str, Any]], list[str]] | None = None):
        self.writer = writer
        self.clock = clock
        self.unsigned = unsigned   # [accounts] signed_to_log_in (design/0113)

    async def login(self, name: str, password: str, *, client: str, record: bool = True,
                    record_extra: dict[str, Any] | None = None, allow_one_time: bool = False) -> dict[str, Any]:
        """{token, account, roles, cameras, expires_us}; AuthError if refused. Failures carry the
        client's address and never lock the account (the viewer limits tries per address). A
        one-time password opens a session only for the desk's password page (`allow_one_time`)."""
        pools.CALLER.set("viewer")  # the viewer's own semaphore lets two run at once; the pool caps the same
        return await sessions.login_async(self.writer, name, password, now_us=self.clock.now_us, via=VIA,
                                          client=client, run_slow=pools.LOGINS.run,
                                          lock_account=False, record=record, record_extra=record_extra,
                                          allow_one_time=allow_one_time, unsigned=self.unsigned)

    async def one_time_setters(self, name: str) -> list[dict[str, Any]]:
        """Where the account's one-time password was set from, and its setter's doors of the last day
        (storage.people.accounts.one_time_setters)."""
        return await self.writer.run(lambda c: accounts.one_time_setters(c.db, name, now_us=self.clock.now_us()))

    async def session(self, token: str | None) -> dict[str, Any] | None:
        if not token:
            return None
        return await self.writer.run(lambda c: sessions.session_of(c.db, token, now_us=self.clock.now_us()))

    async def sessions(self, tokens: list[str]) -> dict[str, dict[str, Any] | None]:
        """Several tokens in one trip to the writer thread (the periodic check of open views)."""
        def check(c: Any) -> dict[str, dict[str, Any] | None]:
            t = self.clock.now_us()
            return {tok: sessions.session_of(c.db, tok, now_us=t) for tok in tokens}
        return await self.writer.run(check)

    async def logout(self, token: str, why: str = LOGGED_OUT) -> None:
        await self.writer.run(lambda c: sessions.logout(c.db, token, now_us=self.clock.now_us(), why=why))

    async def session_end(self, token: str) -> str | None:
        """Why the token's session is over (storage.people.sessions.end_of), None while it is live."""
        return await self.writer.run(lambda c: sessions.end_of(c.db, token, now_us=self.clock.now_us()))

    async def peek_grant(self, grant_id: int) -> dict[str, Any] | None:
        return await self.writer.run(lambda c: retrieval_store.peek_grant(c.db, grant_id))

    async def use_grant(self, grant_id: int, custodian: str, watcher: str,
                        policy: RequestPolicy | None = None) -> dict[str, Any]:
        """Mark the grant used (once, R5.4); GrantError names why it cannot be, people by name
        where the site's `policy` gives their titles."""
        return await self.writer.run(lambda c: people.use_grant(
            c.db, grant_id, custodian=custodian, watcher=watcher, mode="view", now_us=self.clock.now_us(),
            titles=policy.titles if policy else None, units=policy.units if policy else None,
            redacted=redacted_kinds(policy.kinds) if policy else ()))

    async def full_names(self) -> list[dict[str, Any]]:
        """Every account's name and full name, for showing people by their names (design/0112)."""
        return await self.writer.run(lambda c: [{"name": a["name"], "full_name": a["full_name"]}
                                                for a in accounts.accounts(c.db)])

    async def footage(self, camera: str, from_us: int, to_us: int) -> list[dict[str, Any]]:
        """The camera's segment rows overlapping the range (paths relative to the data folder)."""
        return await self.writer.run(lambda c: segment_table.between(c.db, from_us, to_us, camera, limit=100_000))

    async def timeline(self, camera: str, from_us: int, to_us: int) -> tuple[list[dict[str, Any]], ...]:
        """The camera's segment rows, filed gaps and standby spells over the range (design/0114)."""
        def read(c: Any) -> tuple[list[dict[str, Any]], ...]:
            return (segment_table.between(c.db, from_us, to_us, camera, limit=100_000),
                    gap_table.between(c.db, from_us, to_us, [camera]), standins.listing(c.db))
        return await self.writer.run(read)

    async def audit(self, actor: str, action: str, detail: dict[str, Any]) -> None:
        await self.writer.run(lambda c: audit.append(c.db, actor, action, detail))
