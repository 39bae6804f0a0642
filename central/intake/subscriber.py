"""edged-central's MQTT 5 subscriber, on paho-mqtt (design/0027): a persistent session, one
subscription, QoS 1 messages acknowledged only once the caller has stored them.

paho's network thread hands each message to `on_message`, which only appends it to a batch;
a batch goes to `on_batch(generation, [(topic, payload, qos, mid)])` when it is full or at
the latest after FLUSH_S. `on_batch` may block (the store is behind): paho's thread then
stops reading, TCP pushes back and the broker holds the messages. The caller acknowledges
with `ack(generation, mids)`; a packet id means nothing on a later connection, so acks of an
older generation are dropped (the broker sends those messages again).

paho's per-message path costs more than the store's (bench/central_ingest --profile): a
`select` and three `recv` calls a packet, an MQTTMessage and a Properties object each, one
PUBACK write a message. `_Client` reads the socket in large chunks (its `pending()` keeps
paho's loop from waiting in `select` while a chunk holds packets), takes a QoS 0/1 PUBLISH's
topic, packet id and payload straight from the packet, and acknowledges a batch in one write.
Anything else (QoS 2, a topic that is not UTF-8, a packet it cannot read) goes paho's own way.
"""

from __future__ import annotations

import logging
import struct
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import paho.mqtt
import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion, MQTTErrorCode
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

log = logging.getLogger("edged.central")
BATCH = 512      # messages handed over at once
FLUSH_S = 0.05   # the longest a message waits for its batch to fill

Message = tuple[str, bytes, int, int]
READ_CHUNK = 256 * 1024  # bytes read from the broker's socket at once
LOOP_PACKETS = 4096      # packets read from one chunk before paho's loop takes its turn
# A read that found less than READ_SMALL waits READ_LINGER_S before the next (traffic, not a
# backlog): a wake of this thread costs about 0.2 ms whatever it reads, so one that reads a few
# messages at a time wakes three times as often a message as one reading the whole fleet (issue 53)
READ_SMALL = 64 * 1024
READ_LINGER_S = 0.02
# The lean path reaches into paho's internals (_handle_publish, _in_packet, _create_socket,
# _packet_queue): only on the version it was read against and tested with (the lock pins it);
# any other paho goes its own way entirely.
LEAN = paho.mqtt.__version__ == "2.2.0"
_PUBACK = struct.Struct("!BBH").pack  # MQTT 5 PUBACK, success and no properties: the reason code omitted (3.4.2.1)


class _Chunked:
    """A connected socket whose reads are served from one large `recv`: paho reads a packet in
    three calls (its first byte, its length byte by byte, the rest). `pending()` tells paho's loop
    that bytes are waiting here (as an SSL socket's does), so it reads on without `select`."""

    __slots__ = ("_sock", "_buf", "_pos", "read")

    def __init__(self, sock: Any):
        self._sock = sock
        self._buf = b""
        self._pos = 0
        self.read = 0  # bytes the last read from the socket found

    def recv(self, n: int) -> bytes:
        buf, pos = self._buf, self._pos
        if pos >= len(buf):
            data: bytes = self._sock.recv(max(n, READ_CHUNK))  # BlockingIOError, EOF (b"") and errors as before
            self.read = len(data)
            if len(data) <= n:
                return data
            self._buf, self._pos = data, n
            return data[:n]
        end = min(pos + n, len(buf))  # the rest of the chunk at most: paho asks again for what is missing
        self._pos = end
        return buf[pos:end]

    def buffered(self) -> int:
        return len(self._buf) - self._pos

    def pending(self) -> int:
        inner = getattr(self._sock, "pending", None)
        return len(self._buf) - self._pos + (inner() if inner is not None else 0)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._sock, name)


class _Client(mqtt.Client):
    """paho's client with a lean path for the messages of the subscription (see the module's text)."""

    on_publish_lean: Callable[[str, bytes, int, int], None]

    def _create_socket(self) -> Any:
        sock = super()._create_socket()
        return sock if self._transport == "websockets" or not LEAN else _Chunked(sock)

    def loop_read(self, max_packets: int = 1) -> MQTTErrorCode:
        """paho reads one packet a turn of its loop (a `select` each); here on while the chunk
        already read holds more (no system call), at most LOOP_PACKETS, then paho's turn goes on
        (its keepalive, the writes)."""
        rc = super().loop_read(max_packets)
        for _ in range(LOOP_PACKETS):
            sock = self._sock
            if rc != MQTTErrorCode.MQTT_ERR_SUCCESS or not isinstance(sock, _Chunked) or not sock.buffered():
                break
            rc = super().loop_read(max_packets)
        sock = self._sock
        if rc == MQTTErrorCode.MQTT_ERR_SUCCESS and isinstance(sock, _Chunked) and 0 < sock.read < READ_SMALL:
            sock.read = 0
            time.sleep(READ_LINGER_S)  # the next read finds more (the acks queued meanwhile wait as long)
        return rc

    def _handle_publish(self) -> MQTTErrorCode:
        header = self._in_packet["command"]
        qos = (header & 0x06) >> 1
        if qos > 1 or self._protocol != mqtt.MQTTv5 or not LEAN:
            return super()._handle_publish()
        packet = self._in_packet["packet"]
        try:
            pos = 2 + ((packet[0] << 8) | packet[1])
            topic = packet[2:pos].decode("utf-8")
            mid = 0
            if qos:
                mid = (packet[pos] << 8) | packet[pos + 1]
                pos += 2
            size, shift = 0, 0
            while True:  # the properties' length (a variable byte integer); the properties are not used
                b = packet[pos]
                pos += 1
                size |= (b & 0x7F) << shift
                shift += 7
                if not b & 0x80:
                    break
                if shift > 21:
                    raise ValueError("properties length")
            pos += size
            if pos > len(packet):
                raise ValueError("properties past the packet")
        except (IndexError, ValueError):  # UnicodeDecodeError included: paho's way, as before
            return super()._handle_publish()
        if not topic:  # a topic alias (never asked for: the properties would be needed): paho's way
            return super()._handle_publish()
        self.on_publish_lean(topic, bytes(packet[pos:]), qos, mid)
        return MQTTErrorCode.MQTT_ERR_SUCCESS

    def ack_many(self, mids: list[int]) -> None:
        """PUBACKs for ``mids`` (QoS 1, manual acknowledgement), queued as one write."""
        if not LEAN:
            for mid in mids:
                self.ack(mid, 1)
        elif mids:
            self._packet_queue(mqtt.PUBACK, b"".join([_PUBACK(0x40, 2, m) for m in mids]), 0, 0)


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
    stopped_expiry_s: int | None = None  # set at a clean stop (DISCONNECT): the broker keeps the session this long
    receive_maximum: int = 65_535
    drain: bool = False  # another (dead) instance's session, taken over: emptied, never subscribed, ended (design/0210)


_PROPERTIES: Callable[[int], Any] = Properties  # paho's class, untyped


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
        self.received = self.acked = 0        # QoS 1 messages of this connection (a drain ends with them equal)
        self.unsubscribed = threading.Event()  # a drain: the session is dealt nothing new (or had no session)
        self.left = threading.Event()          # a drain: the connection ended (taken back, refused, gone)
        c = _Client(CallbackAPIVersion.VERSION2, client_id=settings.client_id, protocol=mqtt.MQTTv5,
                        manual_ack=True)
        if settings.username:
            c.username_pw_set(settings.username, settings.password)
        if settings.ca_file is not None:
            c.tls_set(ca_certs=str(settings.ca_file))
        c.reconnect_delay_set(1, 30)
        c.on_connect, c.on_disconnect = self._on_connect, self._on_disconnect
        c.on_subscribe, c.on_message = self._on_subscribe, self._on_message
        c.on_unsubscribe = self._on_unsubscribe
        c.on_publish_lean = self._on_publish
        self.client = c

    def start(self, wrap: Callable[[Callable[[], None], str], Callable[[], None]] = lambda f, _n: f) -> None:
        props = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
        props.SessionExpiryInterval = self.s.session_expiry_s  # the broker keeps what comes while we are down
        props.ReceiveMaximum = self.s.receive_maximum          # acks wait for the store: keep many in flight
        self.client.connect_async(self.s.host, self.s.port, keepalive=self.s.keepalive_s, clean_start=False,
                                  properties=props)
        self._thread = threading.Thread(target=wrap(self._loop, "net"), name="central-mqtt", daemon=True)
        self._thread.start()
        self._flusher = threading.Thread(target=wrap(self._flush_loop, "flush"), name="central-mqtt-flush", daemon=True)
        self._flusher.start()

    def _loop(self) -> None:
        self.client.loop_forever(retry_first_connection=not self.s.drain)
        self.left.set()

    def stop(self, end_session: bool = False) -> None:
        """Disconnect; the session stays on the broker for `stopped_expiry_s` (or its expiry), or
        ends now (``end_session``: a drained dead member's, central/intake/takeover.py)."""
        self.stopping.set()
        props = None
        expiry = 0 if end_session else self.s.stopped_expiry_s
        if expiry is not None and self.s.session_expiry_s > 0:  # MQTT 5 allows it only then
            props = _PROPERTIES(PacketTypes.DISCONNECT)
            props.SessionExpiryInterval = expiry  # stopped on purpose: it will be back (design/0139)
        self.client.disconnect(properties=props)  # normal disconnect: the session stays on the broker
        if self._thread is not None:
            self._thread.join(10)
        if self._flusher is not None:
            self._flusher.join(5)
        self.status = "stopped"

    def publish(self, topic: str, payload: bytes, qos: int = 0) -> bool:
        """Not retained (the office's signed time, design/0095, at QoS 0; a resend at 1): refused
        while disconnected."""
        if not self.connected.is_set():
            return False
        return self.client.publish(topic, payload, qos=qos).rc == mqtt.MQTT_ERR_SUCCESS

    def ack(self, generation: int, mids: list[int]) -> None:
        if generation != self.generation:
            return
        self.client.ack_many(mids)
        self.acked += len(mids)

    # paho's callbacks (its network thread) --------------------------------------------------------
    def _on_connect(self, client: mqtt.Client, _u: Any, _f: Any, reason: Any, _p: Any) -> None:
        if reason.is_failure:
            self.status = f"refused: {reason}"
            log.warning("broker %s:%d refused the connection: %s", self.s.host, self.s.port, reason)
            return
        self._flush()  # what arrived on the last connection goes out under its own generation
        self.generation += 1
        if not self.s.drain:
            client.subscribe(self.s.subscription, qos=1)
        elif not _f.session_present:  # nothing left of the dead member: nothing to drain
            self.unsubscribed.set()
        else:  # the broker stops dealing the group's messages to it; what it queued comes all the same
            client.unsubscribe(self.s.subscription)

    def _on_subscribe(self, _c: mqtt.Client, _u: Any, _mid: int, reasons: list[Any], _p: Any) -> None:
        if not reasons or reasons[0].is_failure:
            self.status = f"subscription to {self.s.subscription} refused ({reasons and reasons[0]}): check the ACL"
            log.error("%s", self.status)
            return
        self.status = "connected"
        self.connected.set()
        log.info("connected to %s:%d, subscribed to %s", self.s.host, self.s.port, self.s.subscription)

    def _on_unsubscribe(self, _c: mqtt.Client, _u: Any, _mid: int, _r: Any, _p: Any) -> None:
        self.unsubscribed.set()

    def _on_disconnect(self, client: mqtt.Client, _u: Any, _f: Any, reason: Any, _p: Any) -> None:
        self.connected.clear()
        if self.s.drain:  # never again: the session is gone with the connection, or its instance took it back
            self.stopping.set()
            client.disconnect()
            return
        if not self.stopping.is_set():
            self.status = f"reconnecting: {reason}"
            log.warning("broker %s:%d: %s; reconnecting", self.s.host, self.s.port, reason)

    def _on_message(self, _c: mqtt.Client, _u: Any, msg: mqtt.MQTTMessage) -> None:
        self._on_publish(msg.topic, bytes(msg.payload), msg.qos, msg.mid)

    def _on_publish(self, topic: str, payload: bytes, qos: int, mid: int) -> None:
        with self._lock:
            self._pending.append((topic, payload, qos, mid))
            self.received += qos > 0
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
