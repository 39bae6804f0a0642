"""The central office's MQTT side: the subscriber (central/intake/subscriber.py, paho-mqtt, MQTT 5) on every node, and
the thread that stores what arrives in batches.

The network thread only queues what it read; the store thread writes a batch in one
transaction and only then acknowledges its QoS 1 messages, so a crash of edged-central never
loses a message the broker already let go of: the broker sends it again and the store
ignores the duplicate (idempotent on node and seq). The queue is bounded: when the store
falls behind, the network thread waits, TCP pushes back, and the broker holds the messages
(its own bounds apply, see docs/ref/central.md).

The session is persistent (clean start off, a session expiry), so the broker keeps what
arrives while edged-central is down. Receive Maximum is 65535, so acknowledging after the
commit does not starve the flow (mosquitto otherwise keeps 20 in flight).
"""

from __future__ import annotations

import cProfile
import json
import logging
import os
import queue
import secrets
import threading
import time
from collections.abc import Callable
from typing import Any

from central.keys import ca, keylist
from central.intake import subscriber
from central.config import CentralConfig
from central.intake.quota import Quotas
from central.store.clocks import answers as clock_answers
from central.store.store import DURABLE, route
from central.verifier import clock_samples
from central.verifier.verifier import Verifier
from mqtt import commands, office_time, receipt
from storage.process.threadname import name_os_thread
from central import ops
from central.keys.ca import Enrolled
from central.keys.keystanding import Register

log = logging.getLogger("edged.central")
QUEUE_MAX = 256  # batches (central/intake/subscriber.py BATCH messages at most) waiting for the store
LINGER_S = 0.1   # the longest a batch under a quarter of [storage] batch waits for more (its first message's wait)
Chunk = tuple[subscriber.Subscriber, int, list[tuple[str, bytes, int, int]], float]  # (from, generation, batch, arrived)


class Ingest:
    def __init__(self, cfg: CentralConfig):
        self.cfg = cfg
        b = cfg.broker
        self.queue: queue.Queue[Chunk] = queue.Queue(QUEUE_MAX)
        self.stopping = threading.Event()
        self.stored = 0       # durable messages newly stored
        self.received = 0     # messages of any kind taken from the broker
        self.verified = 0
        self.error: BaseException | None = None
        self.mqtt = subscriber.Subscriber(subscriber.Settings(
            host=b.host, port=b.port, client_id=b.client_id, subscription=b.subscription, username=b.username,
            password=b.password, ca_file=b.tls_ca_file, session_expiry_s=b.session_expiry_s,
            stopped_expiry_s=b.stopped_expiry_s), self._on_batch)
        self.takeover: Any = None  # central/intake/takeover.py's, in a shared group on PostgreSQL
        self._thread: threading.Thread | None = None
        self._verifying: threading.Thread | None = None
        self.stored_all = threading.Event()  # set at stop once the store thread has drained its queue
        self.quotas = Quotas(cfg.quota)
        self.refused = 0      # messages over a quota, dropped
        self._reported: set[tuple[str, str, int]] = set()
        self.lag_s = 0.0      # the last batch: from its arrival to its commit (the operator's view)
        self.stores: dict[str, Any] = {}  # "store", "verify": each thread's store, for the figures
        self.members: Any = None  # central/intake/leases.py's Membership, on PostgreSQL

    @property
    def status(self) -> str:
        return self.mqtt.status

    def _on_batch(self, generation: int, batch: list[tuple[str, bytes, int, int]]) -> None:
        self.put(self.mqtt, generation, batch)

    def put(self, sub: subscriber.Subscriber, generation: int, batch: list[tuple[str, bytes, int, int]]) -> None:
        """A batch of ``sub``'s (this instance's subscriber, or a dead member's session being
        drained, central/intake/takeover.py) for the store thread, which acknowledges it to ``sub``."""
        while not self.stopping.is_set():
            try:
                self.queue.put((sub, generation, batch, time.monotonic()), timeout=0.5)
                return
            except queue.Full:
                continue

    def start(self) -> None:
        self.members = ops.membership(self)
        self.mqtt.start(_profiled)
        self._thread = threading.Thread(target=_profiled(self._store_loop, "store"), name="central-store",
                                        daemon=True)
        self._thread.start()
        self._verifying = threading.Thread(target=_profiled(self._verify_loop, "verify"), name="central-verify",
                                           daemon=True)
        self._verifying.start()

    def stop(self) -> None:
        self.stopping.set()
        if self._thread is not None:
            self._thread.join(60)
        self.stored_all.set()
        if self._verifying is not None:
            self._verifying.join(60)
        if self.takeover is not None:
            self.takeover.stop()
        self.mqtt.stop()
        if self.members is not None:
            self.members.stop()

    # the store thread -------------------------------------------------------------------------
    def _store_loop(self) -> None:
        store = self.stores["store"] = self.cfg.open_store()
        if self.members is not None:  # instances sharing a PostgreSQL store: their shared rows once a second,
            store.coalesce_s = 1.0  # type: ignore[attr-defined]  # the nodes' every N seconds with N live
            store.members = self.members.members  # type: ignore[attr-defined]
        try:
            while not self.stopping.is_set() or not self.queue.empty():
                chunks = self._take(0.2)
                if not chunks:
                    store.settle()
                if chunks:
                    now = store.now_us()  # the office's own clock (design/0095)
                    msgs, refused = self._admit([m for _s, _g, batch, _t in chunks for m in batch], now)
                    self.stored += store.ingest(msgs, now, refused)
                    self.received += len(msgs)
                    self.lag_s = time.monotonic() - min(c[3] for c in chunks)
                    acks: dict[tuple[subscriber.Subscriber, int], list[int]] = {}
                    for sub, gen, batch, _t in chunks:
                        acks.setdefault((sub, gen), []).extend(m[3] for m in batch if m[2])
                    for (sub, gen), mids in acks.items():
                        sub.ack(gen, mids)
        except BaseException as exc:  # the service stops; run() reports it and exits non-zero
            log.exception("the store thread failed")
            self.error = exc
            self.stopping.set()
        finally:
            store.close()

    def _verify_loop(self) -> None:
        """Verification in a thread and on a connection of its own: its round trips (a fleet's
        passes were most of the store thread's time on PostgreSQL, bench/central_pg.py) no longer
        hold up ingest; the two queue on the store's write lock. A last pass after the store
        thread drained its queue at stop."""
        twin = None
        try:
            store = self.stores["verify"] = self.cfg.open_store()
            if self.members is not None:  # this instance's share of the nodes (central/intake/leases.py)
                store.me, store.members = self.members.me, self.members.members  # type: ignore[attr-defined]
            if self.cfg.storage.url:  # PostgreSQL: a node verified while the last one's pass is written (design/0498)
                twin = self.cfg.open_store()
        except BaseException as exc:  # noqa: BLE001 - as a failing store thread: the service stops
            log.exception("the verifier could not open the store")
            self.error = exc
            self.stopping.set()
            return

        cast = TimeCast(lambda: keylist.central_key(self.cfg.storage.data_dir), self.mqtt.publish, store.now_us)
        verifier = Verifier(store, self.cfg.tz, self.cfg.verify.gap_grace_us, Enrolled(self.cfg.storage.data_dir),
                            ask=lambda node, first, last, nonce: self.mqtt.publish(
                                f"edged/v1/{node}/cmd/resend", resend_command(cast.key(), node, first, last, nonce,
                                                                             store.now_us()), qos=1),
                            standing=Register(self.cfg.storage.data_dir),
                            receipt=Receipts(cast.key, self.cfg.storage.data_dir, self.mqtt.publish), twin=twin)
        every = self.cfg.verify.interval_us / 1e6
        try:
            while not self.stored_all.wait(every):
                self.verified += self._verify(verifier)
                cast.maybe(store)
            self.verified += self._verify(verifier)
        finally:
            if verifier.overlap is not None:
                verifier.overlap.close()
            if twin is not None:
                twin.close()
            store.close()

    @staticmethod
    def _verify(verifier: Verifier) -> int:
        """A pass: a failure is logged (and a finding, central/verifier/verifier.py), never the end of the service."""
        try:
            verifier.store.rebalance()
            return verifier.run_once()
        except Exception:  # noqa: BLE001 - verification resumes at the next interval
            log.exception("a verification pass failed; retrying at the next interval")
            return 0

    def _admit(self, msgs: list[tuple[str, bytes, int, int]], now: int
               ) -> tuple[list[tuple[str, bytes]], list[tuple[str, str, str, bytes]]]:
        """The messages (topic, payload, ...) within their node's quota, and those refused (topic,
        kind, why, payload)."""
        ok: list[tuple[str, bytes]] = []
        refused: list[tuple[str, str, str, bytes]] = []
        admit = self.quotas.admit
        for m in msgs:
            topic, payload = m[0], m[1]
            where = route(topic)
            if where is None:
                continue
            retained = not (where[3] in DURABLE or where[2].startswith("cmd/"))
            why = admit(where[0], topic, len(payload), retained, now)
            if why is None:
                ok.append((topic, payload))
            else:
                self.refused += 1
                first = (where[0], why.split(":", 1)[0], now // 86_400_000_000)
                if first not in self._reported:  # one kept example and finding a node, quota and day
                    self._reported.add(first)
                    refused.append((topic, "quota_exceeded", why, payload[:256]))
        return ok, refused

    def _take(self, wait_s: float) -> list[Chunk]:
        try:
            first = self.queue.get(timeout=wait_s) if wait_s > 0 else self.queue.get_nowait()
        except queue.Empty:
            return []
        chunks, n = [first], len(first[2])
        until = first[3] + LINGER_S  # a small batch waits a moment for more (issue 53: three instances each
        while n < self.cfg.storage.batch:    # took a third of the stream in batches a sixth the size, at 1.7x the CPU)
            try:
                left = until - time.monotonic()
                c = self.queue.get(timeout=left) if n < self.cfg.storage.batch // 4 and left > 0 else self.queue.get_nowait()
            except queue.Empty:
                break
            chunks.append(c)
            n += len(c[2])
        return chunks


RESEND_VALID_US = 4 * 60_000_000  # a resend's expiry: within a node's command_max_age (5 min by default)


def resend_command(key: Any, node: str, first: int, last: int, nonce: str, now_us: int) -> bytes:
    """The signed `cmd/resend` (mqtt/commands.py's form; `key` has the office key's sign): send
    seqs first..last again (issue 43 item 2)."""
    doc = commands.sign_command(key, "resend", {"from": first, "to": last}, nonce, now_us + RESEND_VALID_US, node)
    return json.dumps(doc, sort_keys=True, separators=(",", ":")).encode()


class TimeCast:
    """The office's signed time to each node it knows, every office_time.EVERY_S (design/0095): the
    boxes corroborate their clocks with it before destroying footage by age. Instances sharing a
    store each send it to the nodes they verify (the store's lease), not every instance to every
    node. On the verifier's thread and store connection; a failure is logged, never the end of the
    service."""

    def __init__(self, key: Callable[[], Any], publish: Callable[[str, bytes], bool], clock: Callable[[], int]):
        self._key_of, self._key = key, None  # type: Callable[[], Any], Any
        self.publish, self.clock = publish, clock
        self.sent_at = float("-inf")
        self.sent = 0
        self.asks: dict[str, str] = {}  # each node's own question, from its latest answer: echoed (design/0370)
        self.asks_since = 0

    def key(self) -> Any:
        """The office's key, read at its first use (blocking: on the verifier's thread); the
        signed time and the resends (central/verifier/verifier.py) sign with it."""
        if self._key is None:
            self._key = self._key_of()
        return self._key

    def maybe(self, store: Any) -> int:
        now = time.monotonic()
        if now - self.sent_at < office_time.EVERY_S:
            return 0
        self.sent_at = now
        try:
            sign = self.key().sign
            sent: list[tuple[str, str, int]] = []  # (node, nonce, at_us): its answer is a clock sample (design/0310)
            self._read_asks(store)
            for row in store.nodes():
                if not store.lease(row["node"]):
                    continue
                nonce, at = secrets.token_hex(8), self.clock()
                msg = office_time.time_message(sign, row["node"], at, nonce, self.asks.pop(row["node"], None))
                if self.publish(f"edged/v1/{row['node']}/cmd/{office_time.VERB}", msg):
                    sent.append((row["node"], nonce, at))
            with store.writing(durable=False):
                clock_samples.asked(store.db, sent, self.clock())
            self.sent += len(sent)
            return len(sent)
        except Exception:  # noqa: BLE001 - the next minute tries again
            log.exception("the office's signed time could not be sent")
            return 0


    def _read_asks(self, store: Any) -> None:
        """The nodes' own questions (`ask`) in their answers heard since the last reading: echoed
        once in the next signed time (a node only takes back one it made lately; an answer's
        signature is the verifier's to check, and echoing a forged ask gives nobody anything)."""
        for node, received_us, payload in clock_answers(store.db, self.asks_since):
            self.asks_since = max(self.asks_since, received_us)
            try:
                ask = json.loads(payload).get("ask")
            except (ValueError, AttributeError):
                continue
            if isinstance(ask, str) and 0 < len(ask) <= 64:
                self.asks[node] = ask


class Receipts:
    """The office's signed receipt for each export whose `export.done` record the verifier took
    (design/0318): the manifest's SHA-256, the node and the office's time of hearing, signed by the
    office's key with the CA's word for it, on the box's `cmd/receipt`. Without that word (an office
    whose CA has not endorsed its key) none is sent: a receipt a court cannot check is no receipt."""

    def __init__(self, key: Callable[[], Any], data_dir: Any, publish: Callable[..., bool]):
        self.key, self.data_dir, self.publish = key, data_dir, publish
        self.sent = 0
        self._said: bool | int = False

    def __call__(self, node: str, manifest_sha256: str, heard_us: int) -> None:
        key, endorsement = self.key(), ca.endorsement(self.data_dir)
        if endorsement is None or endorsement.get("office_key") != key.public_b64:
            if not self._said:
                self._said = True
                log.warning("no receipt is sent for exports: the office's CA has not endorsed the office's key "
                            "(edged-central nodes ca, as the CA's user)")
            return
        until = endorsement.get("not_after_us")
        if isinstance(until, int) and not endorsement.get("not_before_us", 0) <= heard_us <= until:
            if self._said != until:  # once a period: a receipt every verifier refuses is no receipt (design/0376)
                self._said = until
                log.warning("no receipt is sent for exports: the CA's word for the office's key is not in force "
                            "(renewed by the CA's hourly edged-central nodes crl, as the CA's user)")
            return
        msg = receipt.receipt_message(key.sign, key.public_b64, node, manifest_sha256, heard_us, endorsement)
        self.sent += bool(self.publish(f"edged/v1/{node}/cmd/{receipt.VERB}", msg, qos=1))


def _profiled(fn: Callable[..., Any], name: str) -> Callable[..., Any]:
    """A thread's body, its thread named for the OS as for Python (`top -H`; bench/central_ingest.py
    splits the instances' CPU by it); with EDGED_CENTRAL_PROFILE=PREFIX (the benchmark) its
    cProfile goes to PREFIX.<name>."""
    prefix = os.environ.get("EDGED_CENTRAL_PROFILE")

    def run(*a: Any, **k: Any) -> Any:
        name_os_thread(threading.current_thread().name)
        if not prefix:
            return fn(*a, **k)
        prof = cProfile.Profile()
        try:
            return prof.runcall(fn, *a, **k)
        finally:
            prof.dump_stats(f"{prefix}.{name}")
    return run
