"""The MQTT outbox's thread: every call on the outbox file (storage/outbox.py, which explains
the file, the sequence numbers and the bound) runs on one dedicated thread, puts batched."""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from storage.time.clock import SYSTEM, Clock
from storage.outbox import HISTORY_US, Message, Outbox, OutboxError, encode_body

T = TypeVar("T")
log = logging.getLogger("edged.mqtt")
MAX_WAITING_PUTS = 10_000                  # callers waiting for a commit at once


@dataclass(slots=True)
class _Put:
    kind: str
    topic: str
    ts_us: int | None
    body_json: str
    correlation: bytes | None
    future: asyncio.Future[int]


class OutboxWriter:
    """Runs every outbox call on one dedicated thread (as storage.catalog.CatalogWriter does),
    so the event loop never waits for an fsync. Puts that arrive while the thread is busy are
    committed together: one fsync for a burst, which is what lets an outage's backlog build
    and drain at thousands of messages a second."""

    def __init__(self, path: Path, limit: int, on_full: Callable[[bool], None] | None = None,
                 clock: Clock = SYSTEM, history_us: int = HISTORY_US):
        self.path = path
        self.history_us = history_us
        self.clock = clock
        self.limit = limit
        self.on_full = on_full
        self.full = False
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="mqtt-outbox")
        self._box: Outbox | None = None
        self._lock = threading.Lock()
        self._queued: list[_Put] = []
        self._slots = asyncio.Semaphore(MAX_WAITING_PUTS)

    def _open(self) -> Outbox:
        if self._box is None:
            try:
                self._box = Outbox(self.path, self.limit, self.clock, self.history_us)
            except (sqlite3.Error, OSError) as exc:
                raise OutboxError(f"cannot open the MQTT outbox {self.path}: {exc}") from exc
        return self._box

    async def run(self, fn: Callable[..., T], *args: Any) -> T:
        """Call ``fn(outbox, *args)`` on the outbox thread (opening the file on first use)."""
        loop = asyncio.get_running_loop()

        def call() -> tuple[T, bool]:
            box = self._open()
            return fn(box, *args), box.full

        result, full = await loop.run_in_executor(self._pool, call)
        self._note_full(full)
        return result

    async def put(self, kind: str, topic: str, body: dict[str, Any], correlation: bytes | None = None) -> int:
        """Store one message durably; returns its seq once committed, or raises OutboxFull."""
        ts_us, body_json = encode_body(body)
        async with self._slots:
            loop = asyncio.get_running_loop()
            put = _Put(kind, topic, ts_us, body_json, correlation, loop.create_future())
            with self._lock:
                self._queued.append(put)
            # Shielded: once queued, the commit happens even if this caller is cancelled, so
            # the message is either stored and sent, or (OutboxFull) refused and counted.
            try:
                await asyncio.shield(self.run(self._commit_queued, loop))
            except OutboxError:
                with self._lock:  # the file did not open: this put must not go out later
                    self._queued = [p for p in self._queued if p is not put]
                raise
            return await put.future

    def _commit_queued(self, box: Outbox, loop: asyncio.AbstractEventLoop) -> None:
        with self._lock:
            batch, self._queued = self._queued, []
        if not batch:
            return  # an earlier call committed this caller's put with its own
        try:
            results: list[Any] = box.put_many(
                [(p.kind, p.topic, p.ts_us, p.body_json, p.correlation) for p in batch], self.clock.now_us())
        except Exception as exc:  # noqa: BLE001 - every waiting caller gets the error
            results = [OutboxError(f"cannot write the MQTT outbox {self.path}: {exc}")] * len(batch)
        loop.call_soon_threadsafe(_settle, batch, results)

    async def ack(self, seqs: list[int]) -> int:
        return await self.run(Outbox.ack, seqs)

    async def pending(self, after: int, limit: int) -> list[Message]:
        return await self.run(Outbox.pending, after, limit)

    def _note_full(self, full: bool) -> None:
        if full != self.full:
            self.full = full
            if full:
                log.error("MQTT outbox full: %d messages wait for the broker; only alarm and audit messages "
                          "are still accepted", self.limit)
            else:
                log.info("MQTT outbox below its bound again")
            if self.on_full is not None:
                try:
                    self.on_full(full)
                except Exception:  # the daemon's callback must not stop reporting
                    log.exception("outbox-full callback failed")

    async def close(self) -> None:
        """Close the file; a later call reopens it (an alarm raised during shutdown is kept)."""
        def close() -> None:
            if self._box is not None:
                self._box.close()
                self._box = None
        await asyncio.get_running_loop().run_in_executor(self._pool, close)


def _settle(batch: list[_Put], results: list[Any]) -> None:
    for put, result in zip(batch, results):
        if put.future.done():
            continue  # the caller was cancelled; the message is stored all the same
        if isinstance(result, BaseException):
            put.future.set_exception(result)
        else:
            put.future.set_result(result)
