"""A node verified while PostgreSQL writes the last one's pass (design/0498).

A pass reads its node's page, judges it in Python and ends on one write of what it concluded (on
PostgreSQL one statement, design/0270) and its commit: the instance waited for the server's work on
that write, about four fifths of the server's CPU of a catch-up (bench/clock_fleet_pg), before it
began the next node. Here the verifier's thread hands that last write and its commit to a thread of
its own, on the session the pass ran in, and verifies the next node meanwhile on the store's other
session (the ``twin``): the instance's time a node is then its own CPU or the server's, whichever is
longer, not their sum.

What stays as it was: each node's pass is one transaction (here one a node, not many to a
transaction: a node-day's pass is 4-5 s, far past CHUNK_S, and small passes alone have little to
hide), written whole or not at all; a pass that fails, in its Python or in its write, is undone and
is the node's finding, tried again after RETRY_US, and the other nodes are verified all the same; at
most one write is in flight, and every write is done (committed or undone) before `run` returns, so
the leases (the main session's advisory locks, central/store/pgleases.py) are held until the last
write of a run is committed: the run's caller rebalances them only between runs. Two passes in flight
are of two nodes: they write no row in common (each row of a pass is its node's), so neither waits on
the other's locks. The verdicts are the same code's on the same rows.
"""

from __future__ import annotations

import contextlib
import logging
import time
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TYPE_CHECKING, Any, Callable, Protocol

from central.verifier import verifier_gaps
from central.verifier.evidence import Evidence

if TYPE_CHECKING:
    from central.store.store import Store

log = logging.getLogger("edged.central")


def last_write(ev: Evidence, db: Any, node: str, then: list[tuple[str, list[Any]]], late: list[int]) -> int:
    """A pass's last write: its conclusions, its messages marked verified and the node's row, then what its
    late messages settle, on the pass's own connection; the statements the pass sent."""
    for new in ev.flush(then=then):  # the critical findings the store did not hold
        log.error("CRITICAL %s %s: %s", node, new[3], new[7])
    if late:
        verifier_gaps.late(db, node, late)
    return ev.statements


def _finish(last: Callable[[], int] | None, tx: contextlib.ExitStack) -> int:
    """On the writing thread: the pass's last write and its commit; undone if either fails (raised)."""
    try:
        sent = last() if last is not None else 0
    except BaseException as exc:
        tx.__exit__(type(exc), exc, exc.__traceback__)  # the transaction rolled back
        raise
    tx.close()  # the commit (raises if it fails: then nothing of the pass was kept)
    return sent


class Verifier(Protocol):
    """What `Overlap.run` asks of central/verifier/verifier.py's Verifier (which imports this module)."""

    store: Store
    deferred: Callable[[], int] | None
    statements: int
    failed: dict[str, int]

    def _pass(self, node: str, now: int) -> int: ...

    def _failed(self, node: str, exc: BaseException, now: int) -> None: ...


class Overlap:
    """The verifier's two sessions and its writing thread (one: a write at a time)."""

    def __init__(self, twin: Store):
        self.twin = twin
        self.pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="verify-write")
        self.waited_s = 0.0  # the verifier's thread waiting for a last write (bench/clock_fleet_pg prints it)

    def run(self, v: Verifier, mine: list[str], now: int) -> int:
        """``mine`` verified (run_once's nodes, in order); the messages verified."""
        main = v.store
        self.twin.now_us = main.now_us  # one clock: a pass on the twin stamps its findings by the store's
        done, failed = 0, list[tuple[str, BaseException]]()
        pending: tuple[str, int, Store, Future[int]] | None = None
        try:
            for node in mine:
                if not main.lease(node):
                    continue  # its share moved to another instance since the run began (issue 43)
                store = self.twin if pending is not None and pending[2] is main else main
                tx = contextlib.ExitStack()
                tx.enter_context(store.writing(durable=False))
                v.store, v.deferred = store, None
                try:
                    n = v._pass(node, now)
                except Exception as exc:  # noqa: BLE001 - one node's data must never stop the fleet's verification
                    tx.__exit__(type(exc), exc, exc.__traceback__)
                    failed.append((node, exc))
                    continue
                finally:
                    v.store = main
                if pending is not None:
                    done += self._join(v, pending, failed)
                pending = (node, n, store, self.pool.submit(_finish, v.deferred, tx))
                v.deferred = None
        finally:
            v.store = main
            if pending is not None:
                done += self._join(v, pending, failed)
        if failed:
            with main.writing(durable=False):
                for node, why in failed:
                    v._failed(node, why, now)
        return done

    def _join(self, v: Verifier, pending: tuple[str, int, Store, Future[int]],
              failed: list[tuple[str, BaseException]]) -> int:
        """Wait for a pass's last write: the messages it verified, 0 if it failed (then a finding, later)."""
        node, n, _store, write = pending
        began = time.monotonic()  # not the office's clock: how long the thread waited, for the bench
        try:
            v.statements += write.result()
        except Exception as exc:  # noqa: BLE001 - as a pass that failed: undone, a finding of its node
            failed.append((node, exc))
            return 0
        finally:
            self.waited_s += time.monotonic() - began
        v.failed.pop(node, None)
        return n

    def close(self) -> None:
        """The writing thread ended (every write of a run is done before `run` returns)."""
        self.pool.shutdown(wait=True)
