"""edged-central's MQTT 5 subscriber, on paho-mqtt (design/0027): a persistent session, one
subscription, QoS 1 messages acknowledged only once the caller has stored them.

paho's network thread hands each message to `on_message`, which only appends it to a batch;
a batch goes to `on_batch(generation, [(topic, payload, qos, mid)])` when it is full or at
the latest after FLUSH_S. `on_batch` may block (the store is behind): paho's thread then
stops reading, TCP pushes back and the broker holds the messages. The caller acknowledges
with `ack(generation, mids)`; a packet id means nothing on a later connection, so acks of an
older generation are dropped (the broker sends those messages again).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

log = logging.getLogger("edged.central")
BATCH = 512      # messages handed over at once
FLUSH_S = 0.05   # the longest a message waits for its batch to fill

Message = tuple[str, bytes, int, int]


@dataclass(frozen=True, slots=True)
class Settings:
    host: str
    port: int
    client_id: str
    subscription: str
    username: str | None = None
    password: str | None = None
    ca_file: Path | None = None
    keepalive_s: int = 30
    session_expiry_s: int = 7 * 86_400
    receive_maximum: int = 65_535


class Subscriber:
    def __init__(self, settings: Settings, on_batch: Callable[[int, list[Message]], None]):
        self.s = settings
        self.on_batch = on_batch
        self.status = "not started"
        self.generation = 0
        self.connected = threading.Event()
        self.stopping = threading.Event()
        self._pending: list[Message] = []
        self._lock = threading.Lock()         # the pending batch
        self._hand_over = threading.Lock()    # batches leave in order
        self._thread: threading.Thread | None = None
        self._flusher: threading.Thread | None = None
        c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=settings.client_id, protocol=mqtt.MQTTv5,
                        manual_ack=True)
        if settings.username:
            c.username_pw_set(settings.username, settings.password)
        if settings.ca_file is not None:
            c.tls_set(ca_certs=str(settings.ca_file))
        c.reconnect_delay_set(1, 30)
        c.on_connect, c.on_disconnect = self._on_connect, self._on_disconnect
        c.on_subscribe, c.on_message = self._on_subscribe, self._on_message
        self.client = c

    def start(self, wrap: Callable[[Callable[[], None], str], Callable[[], None]] = lambda f, _n: f) -> None:
        props = Properties(PacketTypes.CONNECT)
        props.SessionExpiryInterval = self.s.session_expiry_s  # the broker keeps what comes while we are down
        props.ReceiveMaximum = self.s.receive_maximum          # acks wait for the store: keep many in flight
        self.client.connect_async(self.s.host, self.s.port, keepalive=self.s.keepalive_s, clean_start=False,
                                  properties=props)
        self._thread = threading.Thread(target=wrap(self._loop, "net"), name="central-mqtt", daemon=True)
        self._thread.start()
        self._flusher = threading.Thread(target=self._flush_loop, name="central-mqtt-flush", daemon=True)
        self._flusher.start()

    def _loop(self) -> None:
        self.client.loop_forever(retry_first_connection=True)

    def stop(self) -> None:
        self.stopping.set()
        self.client.disconnect()  # normal disconnect: the session stays on the broker
        if self._thread is not None:
            self._thread.join(10)
        if self._flusher is not None:
            self._flusher.join(5)
        self.status = "stopped"

    def ack(self, generation: int, mids: list[int]) -> None:
        if generation != self.generation:
            return
        for mid in mids:
            self.client.ack(mid, 1)

    # paho's callbacks (its network thread) --------------------------------------------------------
    def _on_connect(self, client: mqtt.Client, _u: Any, _f: Any, reason: Any, _p: Any) -> None:
        if reason.is_failure:
            self.status = f"refused: {reason}"
            log.warning("broker %s:%d refused the connection: %s", self.s.host, self.s.port, reason)
            return
        self._flush()  # what arrived on the last connection goes out under its own generation
        self.generation += 1
        client.subscribe(self.s.subscription, qos=1)

    def _on_subscribe(self, _c: mqtt.Client, _u: Any, _mid: int, reasons: list[Any], _p: Any) -> None:
        if not reasons or reasons[0].is_failure:
            self.status = f"subscription to {self.s.subscription} refused ({reasons and reasons[0]}): check the ACL"
            log.error("%s", self.status)
            return
        self.status = "connected"
        self.connected.set()
        log.info("connected to %s:%d, subscribed to %s", self.s.host, self.s.port, self.s.subscription)

    def _on_disconnect(self, _c: mqtt.Client, _u: Any, _f: Any, reason: Any, _p: Any) -> None:
        self.connected.clear()
        if not self.stopping.is_set():
            self.status = f"reconnecting: {reason}"
            log.warning("broker %s:%d: %s; reconnecting", self.s.host, self.s.port, reason)

    def _on_message(self, _c: mqtt.Client, _u: Any, msg: mqtt.MQTTMessage) -> None:
        with self._lock:
            self._pending.append((msg.topic, msg.payload, msg.qos, msg.mid))
            full = len(self._pending) >= BATCH
        if full:
            self._flush()

    def _flush_loop(self) -> None:
        while not self.stopping.wait(FLUSH_S):
            self._flush()
        self._flush()

    def _flush(self) -> None:
        with self._hand_over:
            with self._lock:
                batch, self._pending = self._pending, []
            if batch:
                self.on_batch(self.generation, batch)
