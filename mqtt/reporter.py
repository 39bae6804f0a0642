"""The reporter: everything edged tells the central office over MQTT, and the commands it takes.

The daemon talks only to `Reporter`. Durable messages (each durable kind of mqtt/kinds.py,
`send(kinds.X, body)`) go through the outbox and out in seq order, deleted only on their PUBACK;
retained messages (status, birth, state, camera states, discovery) are kept in memory,
newest only, and (re)published on every connect (mqtt/retained.py). No broker, a wrong one,
bad credentials or a TLS failure is a `status` string, logged once per change; recording never
depends on it. Over 400 lines on purpose: how every message the box sends goes out, and the few it
reads (commands, the office's time, a standby's boxes), in one place.
"""

from __future__ import annotations

import asyncio
import importlib
import inspect
import logging
import random
from collections.abc import Awaitable, Callable, Coroutine
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from mqtt.client import V5, V311, ConnectError, Connection, NotConnected, backoff_s
from mqtt import kinds, office_time, receipt
from mqtt.kinds import MessageKind
from mqtt.commands import CommandDesk, CommandRefused, Handler
from mqtt.outbox import OutboxWriter
from mqtt.retained import Retained
from mqtt.settings import MqttConfig
from mqtt.topics import Topics, check_level
from storage.time.clock import SYSTEM, Clock, wait_or_stop
from storage.outbox import OUTBOX_FILE, Outbox, OutboxError

if TYPE_CHECKING:
    from paho.mqtt.reasoncodes import ReasonCode

log = logging.getLogger("edged.mqtt")
T = TypeVar("T")

TOO_LARGE = 20       # publishes refused for their size, reported in each state (the newest)
WINDOW = 100         # outbox messages in flight (lowered to the broker's Receive Maximum)
FETCH = 500          # outbox rows read at a time while draining
STABLE_S = 30.0      # a session that lasted this long resets the reconnect backoff
GOODBYE_S = 2.0      # on stop: wait this long for PUBACKs, then for the "offline" PUBACK
NO_SUBSCRIBERS = 0x10  # PUBACK "No matching subscribers" (MQTT 5): the office is away, the broker dropped it
PROBE_MAX_S = 60.0     # while the office is away: its oldest message is offered again at most this far apart
RECENT_US = 300_000_000  # acknowledged this recently when the office is found away: sent again once it is back


class Reporter:
    def __init__(self, cfg: MqttConfig, site_id: str, node: str, data_dir: Path, *,
                 commands: dict[str, Handler] | None = None,
                 on_outbox_full: Callable[[bool], None] | None = None,
                 on_command_record: Callable[[dict[str, Any]], Awaitable[None] | None] | None = None,
                 clock: Clock = SYSTEM, on_office_time: Callable[..., None] | None = None,
                 sign_answer: Callable[[bytes], bytes] | None = None, boot: str = "",
                 on_receipt: Callable[[dict[str, Any]], None] | None = None):
        self.cfg = cfg
        self.clock = clock
        self.topics = Topics(site_id, node)
        self.status = "disabled" if not cfg.enabled else "not started"
        self.protocol: str | None = None  # "5" or "3.1.1" while connected
        self.outbox = OutboxWriter(Path(data_dir) / OUTBOX_FILE, cfg.outbox_max, on_full=on_outbox_full,
                                   clock=clock, history_us=cfg.outbox_history_us)
        handlers: dict[str, Handler] = {"rebirth": self._cmd_rebirth, "state": self._cmd_state,
                                        "resend": self._cmd_resend}
        for verb in commands or {}:
            if verb in handlers:
                raise ValueError(f"command {verb!r} is built in")
            check_level(verb, "command")
        handlers.update(commands or {})
        self.desk = CommandDesk(handlers=handlers, key_b64=cfg.command_key, max_age_us=cfg.command_max_age_us,
                                target=f"{site_id}/{node}", use_nonce=self._use_nonce,
                                record=self._record_command, reply=self._reply, clock=clock)
        self._on_command_record = on_command_record
        # the office's signed time (design/0095), off every signed message on cmd/
        self._office_time = None if on_office_time is None else office_time.Listener(
            self.desk.key, self.desk.target, on_office_time,
            on_question=None if sign_answer is None else self._answer_time)
        self._sign_answer, self._boot = sign_answer, boot  # the node key's sign, this boot's id (design/0305)
        self.answered = 0  # the office's time questions answered on `clock`
        self._on_receipt = on_receipt  # the office's receipt for an export (mqtt/receipt.py, design/0318)
        self.retained = Retained(cfg, self.topics, clock, self._retained_extra)  # status, birth, states
        self._conn: Connection | None = None
        self._inflight: dict[int, int] = {}                     # paho mid -> outbox seq
        self._waiters: dict[int, asyncio.Future[Any]] = {}           # mid -> future of a PUBACK we await
        self._window = WINDOW
        self._room = asyncio.Event()
        self._new_message = asyncio.Event()
        self._rewind: int | None = None  # a resend put older seqs back in line: the drain starts below them
        self._unheard: int | None = None  # the lowest seq the broker had no subscriber for (the office away)
        self.unheard = 0  # messages the broker answered "No matching subscribers" (kept and sent again)
        self.published = 0  # durable messages published, the same one again counted again (bench/office_outage.py)
        self.keeps_unheard = True  # False: counted delivered, as a box before issue 53 (bench/office_outage.py)
        self._acked: list[int] = []
        self._acks_ready = asyncio.Event()
        self._refusal: str | None = None
        self.too_large: list[dict[str, int | str]] = []  # outbox messages over the broker's packet bound
        self._v5 = True
        self._rng = random.Random()
        # Other boxes' topics a standby watches (edged/daemon/standby.py): filters, and who is told.
        self.watch: tuple[str, ...] = ()
        self.on_watched: Callable[[str, bytes], None] | None = None

    # what the daemon calls ----------------------------------------------------------------------
    def set_birth(self, birth: dict[str, Any]) -> None:
        """Version, config hash, session counter, retention policy, cameras, public key."""
        self.retained.set_birth(birth)

    def set_state(self, state: dict[str, Any]) -> None:
        self.retained.set(self.topics.state, state)

    def set_camera_state(self, camera: str, state: dict[str, Any]) -> None:
        self.retained.set(self.topics.camera_state(camera), state)

    async def send(self, kind: MessageKind, body: dict[str, Any], **levels: str) -> int:
        """A durable message of ``kind`` (mqtt/kinds.py names its topic; the office checks its
        fields), QoS 1; returns its seq. Raises OutboxFull if refused at the bound, OutboxError if
        the file cannot be written, ValueError for a kind the box does not send durably."""
        if not kind.durable or kind.sender != kinds.BOX:
            raise ValueError(f"{kind.name} is not a durable message of the box")  # i18n: a programming error
        return await self._send(kind.name, self.topics.of(kind, **levels), body)

    async def alarm(self, event: dict[str, Any]) -> int:
        """``event["id"]`` is the stable alarm id, ``event["action"]`` "raise" or "clear"."""
        if not isinstance(event.get("id"), str) or event.get("action") not in ("raise", "clear"):
            raise ValueError('an alarm needs a string "id" and an "action" of "raise" or "clear"')
        return await self.send(kinds.ALARM, event)

    # the daemon's named sends (edged/daemon/reporting.py, edged/app.py): each is send(kinds.X, ...)
    async def audit(self, record: dict[str, Any]) -> int:
        return await self.send(kinds.AUDIT, record)

    async def retention(self, record: dict[str, Any]) -> int:
        return await self.send(kinds.RETENTION, record)

    async def footage(self, record: dict[str, Any]) -> int:
        return await self.send(kinds.FOOTAGE, record)

    async def inspection(self, record: dict[str, Any]) -> int:
        return await self.send(kinds.INSPECTION, record)

    async def ethics(self, notice: dict[str, Any]) -> int:
        return await self.send(kinds.ETHICS, notice)

    async def event(self, event: dict[str, Any]) -> int:
        return await self.send(kinds.EVENT, event)

    async def outbox_stats(self) -> dict[str, Any]:
        return await self.outbox.run(Outbox.stats)

    async def run(self, stopping: asyncio.Event) -> None:
        """Own everything MQTT until ``stopping`` is set; return after a clean disconnect."""
        if not self.cfg.enabled:
            self._set_status("disabled")
            return
        try:
            await self.outbox.run(Outbox.stats)  # open (and check) the file before anything else
        except Exception as exc:  # noqa: BLE001 - reporting is off; recording is not affected
            self._set_status(f"error: {exc}")
            return
        # paho, imported here off the loop, once: mqtt/client.py's functions then only look it up (design/0286)
        await asyncio.to_thread(importlib.import_module, "paho.mqtt.client")
        try:
            async with asyncio.TaskGroup() as tg:
                acks = tg.create_task(self._ack_loop(), name="mqtt-acks")
                desk = tg.create_task(self.desk.run(stopping), name="mqtt-commands")
                await self._link(stopping)
                await desk  # ends with stopping; commands still queued are refused and recorded
                acks.cancel()
        finally:
            try:
                await self._flush_acks()
            except OutboxError as exc:
                log.error("MQTT: %s", exc)
            await self.outbox.close()
            self._set_status("stopped")

    # internals ----------------------------------------------------------------------------------
    async def _send(self, kind: str, topic: str, body: dict[str, Any], correlation: bytes | None = None) -> int:
        if not self.cfg.enabled:
            return 0
        seq = await self.outbox.put(kind, topic, body, correlation)
        self._new_message.set()
        return seq

    def _set_status(self, status: str) -> None:
        if status == self.status:
            return
        self.status = status
        calm = status in ("connected", "connecting", "stopped", "disabled")
        (log.info if calm else log.warning)("MQTT %s:%d: %s", self.cfg.host, self.cfg.port, status)

    async def _link(self, stopping: asyncio.Event) -> None:
        """Connect, run a session, and reconnect with capped, jittered backoff, until stopped."""
        pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="mqtt-connect")
        cap = self.cfg.reconnect_max_us / 1e6
        attempt = 0
        try:
            while not stopping.is_set():
                try:
                    attempt = await self._attempt(stopping, pool, attempt)
                except Exception as exc:  # a bug here must not take the daemon down
                    log.exception("MQTT reporting failed; starting over")
                    self._set_status(f"error: {type(exc).__name__}: {exc}")
                    attempt += 1
                if not stopping.is_set():
                    delay = backoff_s(max(attempt - 1, 0), cap, self._rng)
                    await wait_or_stop(stopping, delay, self.clock)
        finally:
            pool.shutdown(wait=False, cancel_futures=True)

    async def _attempt(self, stopping: asyncio.Event, pool: ThreadPoolExecutor, attempt: int) -> int:
        """One connection attempt and, if it works, its session; returns the next backoff step."""
        if self.status in ("not started", "stopped"):
            self._set_status("connecting")
        conn = Connection(self.cfg, self.topics.status, V5 if self._v5 else V311,
                          on_message=self._on_message, on_ack=self._on_ack)
        try:
            opened, _ = await _unless_stopped(stopping, conn.open(pool))
        except ConnectError as exc:
            if exc.other_protocol:
                self._v5 = not self._v5  # MQTT 5 refused or hung up on: try 3.1.1 (and back)
            self._set_status(exc.status)
            return attempt + 1
        if not opened:
            conn.abort()
            return attempt
        started = asyncio.get_running_loop().time()
        why = await self._session(conn, stopping)
        if not stopping.is_set():
            self._set_status(self._refusal or f"connecting: {why}")
        return 0 if asyncio.get_running_loop().time() - started > STABLE_S else attempt + 1

    async def _session(self, conn: Connection, stopping: asyncio.Event) -> str:
        """Publish online, birth and states, take commands, drain the outbox; return why it ended."""
        self._conn, self.protocol = conn, conn.protocol_name
        self._window = max(1, min(WINDOW, conn.receive_maximum))
        self._inflight.clear()
        self._refusal = None
        self._unheard = None  # the drain starts from the outbox's oldest message anyway
        tasks: list[asyncio.Task[Any]] = []
        try:
            conn.publish(self.topics.status, b"online", qos=0, retain=True)
            self.retained.mark_all()
            granted = await conn.subscribe(self.topics.cmd_filter)
            if granted.is_failure:
                log.error("MQTT: the broker refused the subscription to %s (%s): no commands will arrive; "
                          "check the broker's ACL", self.topics.cmd_filter, granted.getName())
            for topic_filter in self.watch:
                if (await conn.subscribe(topic_filter)).is_failure:
                    log.error("MQTT: the broker refused the subscription to %s: this standby cannot see that box; "
                              "check the broker's ACL", topic_filter)
            # "connected" once commands can arrive, so a command sent after it is not lost
            self._set_status("connected")
            log.info("MQTT connected with protocol %s (%d messages in flight at most)",
                     conn.protocol_name, self._window)
            await self._flush_acks()  # so the drain does not resend what the last session got acked
            tasks = [asyncio.create_task(self._drain(conn), name="mqtt-drain"),
                     asyncio.create_task(self.retained.publish(conn), name="mqtt-retained")]
            stop = asyncio.ensure_future(stopping.wait())
            try:
                waits: list[asyncio.Future[Any]] = [conn.lost, stop, *tasks]
                await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
            finally:
                stop.cancel()
            await _stop_tasks(tasks)
            tasks = []
            if stopping.is_set() and conn.connected:
                await self._goodbye(conn)
        except NotConnected:
            pass
        finally:
            await _stop_tasks(tasks)
            conn.abort()
            self._conn, self.protocol = None, None
        return conn.lost.result() if conn.lost.done() else "closed"

    async def _drain(self, conn: Connection) -> None:
        """Send the outbox in seq order, at most a window of messages awaiting their PUBACK."""
        last = 0
        try:
            while True:
                self._new_message.clear()
                if self._unheard is not None:
                    last = await self._office_away(conn)
                    continue
                if self._rewind is not None:
                    last, self._rewind = min(last, self._rewind - 1), None
                batch = await self.outbox.pending(last, FETCH)
                if not batch:
                    await self._new_message.wait()
                    continue
                for m in batch:
                    while len(self._inflight) >= self._window:
                        self._room.clear()
                        await self._room.wait()
                    if self._unheard is not None:
                        break  # the office is away: the rest waits in the outbox (_office_away)
                    last = m.seq
                    if conn.max_packet and packet_size(m.topic, m.payload, m.correlation) > conn.max_packet:
                        self._refused_for_size(m.seq, m.kind, len(m.payload), conn.max_packet)
                        continue
                    self._inflight[conn.publish(m.topic, m.payload, qos=1, correlation=m.correlation)] = m.seq
                    self.published += 1
        except NotConnected:
            conn.abort()

    async def _office_away(self, conn: Connection) -> int:
        """The broker had no subscriber for a message (the whole office away longer than its
        sessions' expiry, an upgrade): it was dropped, so it stays in the outbox (issue 53, design/0139).
        The oldest such message alone is offered again, 1 s doubling to PROBE_MAX_S apart, until the
        broker takes it for a subscriber; the drain then goes on after it. No message is counted
        delivered that nobody received, and a returning office meets each box's backlog once, in
        order, not a storm of resends. Returns the seq to go on after."""
        attempt = 0
        # what the broker acknowledged just before may have gone to the office's sessions that then
        # expired with their queues (a killed office's, a minute later): sent again, stored once
        low = await self.outbox.run(Outbox.requeue_since, self.clock.now_us() - RECENT_US)
        if low is not None and self._unheard is not None:
            self._unheard = min(self._unheard, low)
        while True:
            while self._inflight:  # the answers to what was already in flight decide the oldest
                self._room.clear()
                await self._room.wait()
            first = self._unheard
            assert first is not None
            batch = await self.outbox.pending(first - 1, 1)
            if not batch:  # gone from the outbox meanwhile (acknowledged before, a resend's duplicate)
                self._unheard = None
                return first - 1
            m = batch[0]
            await self.clock.sleep(backoff_s(attempt, PROBE_MAX_S, self._rng))
            attempt += 1
            done: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
            mid = conn.publish(m.topic, m.payload, qos=1, correlation=m.correlation)
            self.published += 1
            self._waiters[mid] = done
            try:
                reason = await done
            finally:
                self._waiters.pop(mid, None)
            if reason.value == NO_SUBSCRIBERS:
                self.unheard += 1
                continue
            if reason.is_failure:
                self._refusal = f"refused by the broker: {reason.getName()} (check the broker's ACL for {self.topics.base}/#)"
                conn.abort(self._refusal)
                raise NotConnected(self._refusal)
            log.info("MQTT: the office is subscribed again; sending the %s held from seq %d on", m.kind, m.seq)
            self._acked.append(m.seq)
            self._acks_ready.set()
            self._unheard = None
            return m.seq

    def _refused_for_size(self, seq: int, kind: str, size: int, limit: int) -> None:
        """A message the broker would refuse for its size (it said its bound in the CONNACK; over it,
        mosquitto hangs up, and the message would hold up the outbox for ever): kept in the outbox's
        history as if acknowledged, and reported in the next state, where the office makes it a
        finding (design/0119)."""
        log.error("MQTT: %s message %d is %d bytes, over the broker's bound of %d: not sent; reported in the "
                  "state", kind, seq, size, limit)
        entry: dict[str, int | str] = {"seq": seq, "kind": kind, "bytes": size, "limit": limit}
        self.too_large = [*self.too_large, entry][-TOO_LARGE:]
        self._acked.append(seq)
        self._acks_ready.set()
        self.retained.mark_states()

    async def _retained_extra(self, topic: str) -> dict[str, Any]:
        """Read from the outbox as a retained message goes out: the birth's last seq, the state's outbox."""
        if topic == self.topics.birth:
            return {"last_seq": await self.outbox.run(Outbox.last_seq)}
        if topic == self.topics.state:
            extra = {"outbox": await self.outbox.run(Outbox.stats)}
            return {**extra, "too_large": self.too_large} if self.too_large else extra
        return {}

    async def _goodbye(self, conn: Connection) -> None:
        """Clean stop: let in-flight messages be acknowledged, say "offline", DISCONNECT."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + GOODBYE_S
        while self._inflight and conn.connected and loop.time() < deadline:
            self._room.clear()
            try:
                await asyncio.wait_for(self._room.wait(), deadline - loop.time())
            except TimeoutError:
                break
        done: asyncio.Future[Any] = loop.create_future()
        mid = None
        try:
            mid = conn.publish(self.topics.status, b"offline", qos=1, retain=True)
            self._waiters[mid] = done
            await asyncio.wait_for(done, GOODBYE_S)
        except (NotConnected, TimeoutError):
            pass
        finally:
            self._waiters.pop(mid, None)  # type: ignore[arg-type]
        await conn.close(GOODBYE_S)

    def _on_ack(self, mid: int, reason: ReasonCode) -> None:
        waiter = self._waiters.pop(mid, None)
        if waiter is not None:
            if not waiter.done():
                waiter.set_result(reason)
            return
        seq = self._inflight.pop(mid, None)
        if seq is None:
            return  # a QoS 0 message written out
        self._room.set()
        if reason.value == NO_SUBSCRIBERS:
            self.unheard += 1
        if reason.value == NO_SUBSCRIBERS and self.keeps_unheard:  # dropped by the broker: kept (_office_away)
            if self._unheard is None:
                log.warning("MQTT: no one at the office is subscribed (the broker dropped message %d): keeping "
                            "the outbox until the office is back", seq)
            self._unheard = seq if self._unheard is None else min(self._unheard, seq)
            self._new_message.set()  # a drain waiting for new messages turns to it
            return
        if reason.is_failure:
            # Kept in the outbox and retried after a reconnect: dropping it would lose it silently.
            self._refusal = f"refused by the broker: {reason.getName()} (check the broker's ACL for {self.topics.base}/#)"
            if self._conn is not None:  # not from inside paho's callback: it is mid-packet
                asyncio.get_running_loop().call_soon(self._conn.abort, self._refusal)
            return
        self._acked.append(seq)
        self._acks_ready.set()

    async def _ack_loop(self) -> None:
        while True:
            await self._acks_ready.wait()
            self._acks_ready.clear()
            try:
                await self._flush_acks()
            except OutboxError as exc:  # they are sent again later: a duplicate, never a loss
                log.error("MQTT: %s", exc)

    async def _flush_acks(self) -> None:
        seqs, self._acked = self._acked, []
        if seqs:
            try:
                await asyncio.shield(self.outbox.ack(seqs))  # deleted even if the caller is cancelled
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # sqlite3 and OS errors, as one kind for the callers
                raise OutboxError(f"cannot delete acknowledged messages from the MQTT outbox: {exc}") from exc

    # commands -----------------------------------------------------------------------------------
    def _on_message(self, topic: str, payload: bytes, correlation: bytes | None) -> None:
        verb = self.topics.verb_of(topic)
        if verb is None:   # not a command of ours: another box's topic a standby watches, if any
            if self.on_watched is not None:
                self.on_watched(topic, payload)
            return
        if self._office_time is not None:
            self._office_time.hear(verb, payload)
        if verb == receipt.VERB:  # the office's word on an export, signed by its key: kept, never run as a command
            doc = receipt.heard(payload, self.desk.key, self.desk.target)
            if doc is not None and self._on_receipt is not None:
                self._on_receipt(doc)
        elif verb != office_time.VERB:  # a time message is a clock reading, not a command: never run or recorded
            self.desk.incoming(verb, payload, correlation)

    def _answer_time(self, question: dict[str, Any]) -> None:
        """The office's question (a genuine `cmd/time`): answered at once on `clock`, live only
        (design/0305): not connected, no answer (a late one is no clock sample). Out of paho's
        callback (it is mid-packet), the clocks read as it is sent."""
        conn = self._conn
        if conn is None or self._sign_answer is None:
            return
        sign = self._sign_answer

        def send() -> None:
            ear = self._office_time
            payload = office_time.answer_message(question, sign, self.clock.now_us(),
                                                 round(self.clock.monotonic() * 1_000_000), self._boot,
                                                 None if ear is None else ear.ask())
            try:
                conn.publish(self.topics.clock, payload, qos=1)
                self.answered += 1
            except NotConnected:
                pass  # the question is lost with the connection: the office asks again in a minute

        asyncio.get_running_loop().call_soon(send)

    async def _use_nonce(self, nonce: str, expires_us: int, at_us: int) -> bool:
        return await self.outbox.run(Outbox.use_nonce, nonce, expires_us, at_us)

    async def _record_command(self, record: dict[str, Any]) -> None:
        if self._on_command_record is not None:
            try:
                result = self._on_command_record(dict(record))
                if inspect.isawaitable(result):
                    await result
            except asyncio.CancelledError:
                raise
            except Exception:  # the MQTT audit message below still records it
                log.exception("command record callback failed")
        try:
            await self.audit(record)
        except OutboxError as exc:
            log.error("command record not sent over MQTT: %s", exc)

    async def _reply(self, verb: str, body: dict[str, Any], correlation: bytes | None) -> None:
        try:
            await self._send(kinds.REPLY.name, self.topics.cmd_reply(verb), body, correlation)
        except OutboxError as exc:
            log.error("reply to command %s not sent: %s", verb, exc)

    async def _cmd_rebirth(self, _args: dict[str, Any], _actor: str) -> dict[str, Any]:
        self.retained.mark_all()
        return {"republished": len(self.retained)}

    async def _cmd_resend(self, args: dict[str, Any], _actor: str) -> dict[str, Any]:
        """The office never got seqs `from`..`to` (issue 43): they go out again from the outbox's
        history, byte for byte; the reply names the ranges this box no longer has."""
        first, last = args.get("from"), args.get("to")
        if not all(isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in (first, last)):
            raise CommandRefused('resend needs "from" and "to": positive whole seqs')
        assert isinstance(first, int) and isinstance(last, int)
        try:
            requeued, missing = await self.outbox.run(Outbox.resend, first, last)
        except ValueError as exc:
            raise CommandRefused(str(exc)) from None
        if requeued:
            self._rewind = first if self._rewind is None else min(self._rewind, first)
            self._new_message.set()
        return {"from": first, "to": last, "requeued": requeued, "missing": missing,
                "history_days": round(self.cfg.outbox_history_us / 86_400_000_000, 2)}

    async def _cmd_state(self, _args: dict[str, Any], _actor: str) -> dict[str, Any]:
        self.retained.mark_states()
        return {}


def packet_size(topic: str, payload: bytes, correlation: bytes | None) -> int:
    """An upper bound of a QoS 1 PUBLISH's bytes on the wire (MQTT 5): fixed header (1 + at most 4),
    topic (2 + its bytes), packet id (2), properties (their length, 4 at most, and a correlation's
    1 + 2 + its bytes), the payload."""
    return 5 + 2 + len(topic.encode()) + 2 + 4 + (3 + len(correlation) if correlation else 0) + len(payload)


async def _unless_stopped(stopping: asyncio.Event, coro: Coroutine[Any, Any, T]) -> tuple[bool, T | None]:
    """Run ``coro`` unless ``stopping`` is set first: (True, result) or (False, None)."""
    task = asyncio.ensure_future(coro)
    stop = asyncio.ensure_future(stopping.wait())
    try:
        await asyncio.wait([task, stop], return_when=asyncio.FIRST_COMPLETED)
    finally:
        stop.cancel()
        if not task.done():
            task.cancel()
            await asyncio.wait([task])  # a cancellation of our own still propagates from here
    if task.cancelled():
        return False, None
    return True, task.result()


async def _stop_tasks(tasks: list[asyncio.Task[Any]]) -> None:
    """Cancel and wait for our own tasks; log (never hide) any that failed."""
    for t in tasks:
        t.cancel()
    if tasks:
        await asyncio.wait(tasks)
    for t in tasks:
        if not t.cancelled() and t.exception() is not None:
            log.error("MQTT task %s failed", t.get_name(), exc_info=t.exception())
