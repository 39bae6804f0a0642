"""One MQTT connection: paho-mqtt 2.x driven from the asyncio event loop.

paho's socket callbacks feed ``loop.add_reader``/``add_writer`` and a one-second timer runs
``loop_misc`` (keepalive), as paho's examples/loop_asyncio.py and aiomqtt 2.x do, so every
paho call after the connect runs on the loop thread and no lock or hand-off is needed. The
connect itself (DNS, TCP, TLS handshake: all blocking in paho) runs on a worker thread, and
the socket is registered with the loop only once it returns. See design/0005-mqtt-bridge.md.

A `Connection` is used once: a new one is made for every attempt, so nothing paho holds in
memory outlives a connection (the durable outbox is the only queue that matters).

paho (with the dnspython, idna and urllib it imports: 5 MB of the daemon's memory) is imported
in the functions that use it, by a daemon that reports over MQTT only (off by default): the
reporter imports it off the loop before its first connection (mqtt/reporter.py, design/0286);
in the functions below it is then a look-up. Over 400 lines on purpose: those imports, a line or
three in each function that talks to paho, are what took it past; the connection stays one piece.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import random
import socket
import ssl
import threading
from collections.abc import Callable
from concurrent.futures import Executor
from typing import TYPE_CHECKING, Any, cast

from mqtt.settings import MqttConfig

if TYPE_CHECKING:
    import paho.mqtt.client as paho
    from paho.mqtt.enums import MQTTErrorCode
    from paho.mqtt.properties import Properties
    from paho.mqtt.reasoncodes import ReasonCode

log = logging.getLogger("edged.mqtt")

V5, V311 = 5, 4  # paho's MQTTProtocolVersion.MQTTv5 and MQTTv311 (an IntEnum: equal to these)
SUCCESS = 0  # paho's MQTTErrorCode.MQTT_ERR_SUCCESS (an IntEnum too)
PROTOCOL_NAMES = {V5: "5", V311: "3.1.1"}
CONNECT_TIMEOUT_S = 10.0   # TCP + TLS handshake, and again for the CONNACK
MISC_INTERVAL_S = 1.0      # paho's loop_misc: keepalive pings and the ping timeout


class ConnectError(Exception):
    """A connection attempt failed; ``status`` says why, for a person."""

    def __init__(self, status: str, *, other_protocol: bool = False):
        super().__init__(status)
        self.status = status
        self.other_protocol = other_protocol  # worth trying the other MQTT version next


class NotConnected(Exception):
    pass


def backoff_s(attempt: int, cap_s: float, rng: random.Random) -> float:
    """1 s doubling to the cap, then a random half to all of it: a thousand sites that lost
    the same broker do not come back in one wave."""
    base = min(cap_s, 2.0 ** min(attempt, 20))
    return base * rng.uniform(0.5, 1.0)


def describe_connect_error(exc: BaseException, host: str, port: int) -> str:
    """Status text for an exception from paho's (blocking) connect."""
    if isinstance(exc, ssl.SSLCertVerificationError):
        return (f"tls error: certificate verify failed: {exc.verify_message or exc.reason} "
                "(check mqtt.tls.ca_file and the broker's certificate)")
    if isinstance(exc, ssl.SSLError):
        return f"tls error: {exc.reason or exc}"
    if isinstance(exc, socket.gaierror):
        return f"connecting: cannot resolve {host}: {exc.strerror}"
    if isinstance(exc, ConnectionRefusedError):
        return "connecting: connection refused"
    if isinstance(exc, (TimeoutError, socket.timeout)):
        return f"connecting: no answer from {host}:{port} (timed out)"
    if isinstance(exc, FileNotFoundError):
        return f"tls error: {exc.filename}: file not found"
    if isinstance(exc, OSError):
        return f"connecting: {exc.strerror or exc}"
    return f"connecting: {type(exc).__name__}: {exc}"


def describe_refusal(reason: ReasonCode) -> str:
    """Status text for a CONNACK that refused us."""
    name = reason.getName()
    if name == "Bad user name or password":
        return "refused: bad username or password"
    if name == "Not authorized":
        # Mosquitto answers a wrong password with this too.
        return "refused: not authorized (wrong username or password, or not allowed by the broker)"
    if name == "Client identifier not valid":
        return "refused: client id not accepted (check mqtt.client_id)"
    return f"refused: {name.lower()}"


def tls_context(cfg: MqttConfig) -> ssl.SSLContext:
    """Built on the connect thread: loading certificates reads files."""
    assert cfg.tls is not None
    ctx = ssl.create_default_context(cafile=str(cfg.tls.ca_file) if cfg.tls.ca_file else None)
    if cfg.tls.cert_file is not None:
        key = str(cfg.tls.key_file) if cfg.tls.key_file else None
        ctx.load_cert_chain(str(cfg.tls.cert_file), key)
    if cfg.tls.insecure:
        ctx.check_hostname = False
    return ctx


@functools.cache
def _client_class() -> type[paho.Client]:
    """paho's Client with a TLS wrap that closes its socket (made once, with paho's import)."""
    import paho.mqtt.client as paho

    class _Client(paho.Client):
        def _ssl_wrap_socket(self, tcp_sock: socket.socket) -> ssl.SSLSocket:
            """paho 2.2's own leaves the socket open when the TLS handshake fails (a ResourceWarning
            and a file descriptor held until the garbage collector runs); this one closes it. Host
            names are checked by the context (``check_hostname``), unless ``tls.insecure``."""
            assert self._ssl_context is not None
            sock = self._ssl_context.wrap_socket(tcp_sock, server_hostname=self._host, do_handshake_on_connect=False)
            try:
                sock.settimeout(self._connect_timeout)
                sock.do_handshake()
            except BaseException:
                sock.close()
                raise
            return sock

    return _Client


class Connection:
    """One connection attempt and, if it succeeds, the session on it."""

    def __init__(self, cfg: MqttConfig, will_topic: str, protocol: int, *,
                 on_message: Callable[[str, bytes, bytes | None], None],
                 on_ack: Callable[[int, ReasonCode], None]):
        from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion
        self.cfg = cfg
        self.protocol = protocol
        self.receive_maximum = 65535
        self.max_packet = 0  # the broker's Maximum Packet Size from its CONNACK (MQTT 5), 0 if it said none
        self._on_message = on_message
        self._on_ack = on_ack
        self._loop = asyncio.get_running_loop()
        self._loop_thread = threading.get_ident()
        self._fd: int | None = None
        self._misc: asyncio.TimerHandle | None = None
        self._subacks: dict[int, asyncio.Future[ReasonCode]] = {}
        self._connack: asyncio.Future[tuple[ReasonCode, Properties | None] | str] = self._loop.create_future()
        self.lost: asyncio.Future[str] = self._loop.create_future()
        c = _client_class()(CallbackAPIVersion.VERSION2, client_id=cfg.client_id, protocol=MQTTProtocolVersion(protocol),
                    clean_session=None if protocol == V5 else True, reconnect_on_failure=False)
        c.connect_timeout = CONNECT_TIMEOUT_S
        c.max_inflight_messages = 0  # the reporter's window is the limit (and the broker's Receive Maximum)
        if cfg.username is not None:
            c.username_pw_set(cfg.username, cfg.password)
        # The last will: the broker publishes it when it loses us without a DISCONNECT.
        c.will_set(will_topic, b"offline", qos=1, retain=True)
        c.on_connect = self._cb_connect
        c.on_publish = self._cb_publish
        c.on_message = self._cb_message
        c.on_subscribe = self._cb_subscribe
        # Until the CONNACK only (formatting every debug line would slow the drain): paho logs
        # the one clear reason for some failures, e.g. "tlsv13 alert certificate required".
        c.on_log = self._cb_log
        self._paho_error: str | None = None
        self._client = c

    @property
    def protocol_name(self) -> str:
        return PROTOCOL_NAMES[self.protocol]

    @property
    def connected(self) -> bool:
        return self._connack.done() and not self.lost.done()

    # connecting ---------------------------------------------------------------------------
    async def open(self, pool: Executor) -> None:
        """Connect and wait for the broker's CONNACK; raises ConnectError with a status."""
        import paho.mqtt.client as paho
        c = self._client
        cf = pool.submit(self._connect_blocking)
        try:
            rc = await asyncio.wrap_future(cf)
        except asyncio.CancelledError:
            cf.add_done_callback(lambda _f: _close_quietly(c.socket()))  # still connecting: close when done
            raise
        except Exception as exc:  # noqa: BLE001 - every failure becomes a status, never a crash
            raise ConnectError(describe_connect_error(exc, self.cfg.host, self.cfg.port)) from None
        sock = c.socket()
        if rc != SUCCESS or sock is None:
            _close_quietly(sock)
            raise ConnectError(f"connecting: {self._why(paho.error_string(rc))}", other_protocol=True)
        # From here on, paho is touched only on this (the loop's) thread.
        self._fd = sock.fileno()
        c.on_disconnect = self._cb_disconnect
        c.on_socket_close = self._cb_socket_close
        c.on_socket_register_write = self._want_write
        c.on_socket_unregister_write = self._done_writing
        self._loop.add_reader(self._fd, self._readable)
        if c.want_write():
            self._loop.add_writer(self._fd, self._writable)
        self._misc = self._loop.call_later(MISC_INTERVAL_S, self._tick)
        try:
            result = await asyncio.wait_for(asyncio.shield(self._connack), CONNECT_TIMEOUT_S)
        except TimeoutError:
            self.abort()
            raise ConnectError(f"connecting: {self.cfg.host}:{self.cfg.port} accepted the connection but "
                               "did not answer as an MQTT broker") from None
        except BaseException:
            self.abort()
            raise
        if isinstance(result, str):
            self.abort()
            # A broker that cannot speak v5 may just hang up; so may one that wants a client
            # certificate (TLS 1.3 reports that only after the handshake).
            raise ConnectError(f"connecting: the broker closed the connection before accepting it "
                               f"({self._why(result)})", other_protocol=True)
        c.on_log = None
        reason, props = result
        if reason.is_failure:
            self.abort()
            if reason.getName() == "Unsupported protocol version":
                raise ConnectError("connecting: the broker does not speak MQTT 5", other_protocol=True)
            raise ConnectError(describe_refusal(reason))
        self.receive_maximum = getattr(props, "ReceiveMaximum", 65535) if props is not None else 65535
        self.max_packet = getattr(props, "MaximumPacketSize", 0) if props is not None else 0

    def _why(self, fallback: str) -> str:
        why = self._paho_error or fallback
        if self.cfg.tls is not None and self.cfg.tls.cert_file is None and "alert" not in why:
            why += "; if the broker wants a client certificate, set mqtt.tls.cert_file"
        return why

    def _cb_log(self, _c: Any, _u: Any, level: int, text: str) -> None:
        import paho.mqtt.client as paho
        if level == paho.MQTT_LOG_ERR:
            self._paho_error = text

    def _connect_blocking(self) -> MQTTErrorCode:
        from paho.mqtt.packettypes import PacketTypes
        from paho.mqtt.properties import Properties
        c, cfg = self._client, self.cfg
        if cfg.tls is not None:
            c.tls_set_context(tls_context(cfg))
            c.tls_insecure_set(cfg.tls.insecure)
        keepalive = cfg.keepalive_us // 1_000_000
        if self.protocol == V5:
            # A fresh session each time, kept nowhere: the outbox, not the broker, holds what
            # must survive, and a command queued by the broker while we were away would be stale.
            props = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]  # paho's is untyped
            props.SessionExpiryInterval = 0
            return c.connect(cfg.host, cfg.port, keepalive, clean_start=True, properties=props)
        return c.connect(cfg.host, cfg.port, keepalive)

    # while connected ------------------------------------------------------------------------
    def publish(self, topic: str, payload: bytes, *, qos: int = 1, retain: bool = False,
                correlation: bytes | None = None) -> int:
        """Queue a PUBLISH; returns its message id (PUBACK comes to ``on_ack``)."""
        import paho.mqtt.client as paho
        from paho.mqtt.packettypes import PacketTypes
        from paho.mqtt.properties import Properties
        if not self.connected:
            raise NotConnected(self.lost.result() if self.lost.done() else "not connected yet")
        props = None
        if correlation is not None and self.protocol == V5:
            props = Properties(PacketTypes.PUBLISH)  # type: ignore[no-untyped-call]  # paho's is untyped
            props.CorrelationData = correlation
        info = self._client.publish(topic, payload, qos=qos, retain=retain, properties=props)
        if info.rc != SUCCESS:
            raise NotConnected(paho.error_string(info.rc))
        return info.mid

    async def subscribe(self, topic_filter: str, timeout: float = CONNECT_TIMEOUT_S) -> ReasonCode:
        """Subscribe at QoS 1 and wait for the SUBACK; returns the broker's reason code."""
        import paho.mqtt.client as paho
        from paho.mqtt.subscribeoptions import SubscribeOptions
        if not self.connected:
            raise NotConnected(self.lost.result() if self.lost.done() else "not connected yet")
        if self.protocol == V5:
            rc, mid = self._client.subscribe(topic_filter, options=SubscribeOptions(qos=1, noLocal=True))
        else:
            rc, mid = self._client.subscribe(topic_filter, qos=1)
        if rc != SUCCESS:
            raise NotConnected(paho.error_string(rc))
        assert mid is not None  # paho gives one with MQTT_ERR_SUCCESS
        done: asyncio.Future[ReasonCode] = self._loop.create_future()
        self._subacks[mid] = done
        try:
            waits: set[asyncio.Future[Any]] = {done, self.lost}
            await asyncio.wait(waits, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
        finally:
            self._subacks.pop(mid, None)
        if not done.done():
            self.abort("no SUBACK from the broker")
            raise NotConnected("no SUBACK from the broker")
        return done.result()

    async def close(self, timeout: float) -> None:
        """A clean DISCONNECT (the broker then does not publish the last will)."""
        if self.connected:
            self._client.disconnect()
            try:
                await asyncio.wait_for(asyncio.shield(self.lost), timeout)
            except TimeoutError:
                pass
        self.abort()

    def abort(self, why: str = "closed") -> None:
        """Drop the connection at once; idempotent."""
        if self._misc is not None:
            self._misc.cancel()
            self._misc = None
        if self._fd is not None:
            self._loop.remove_reader(self._fd)
            self._loop.remove_writer(self._fd)
            self._fd = None
        _close_quietly(self._client.socket())
        self._resolve(why)

    def _resolve(self, why: str) -> None:
        if not self._connack.done():
            self._connack.set_result(why)
        if not self.lost.done():
            self.lost.set_result(why)

    # paho's side (all on the loop thread) ----------------------------------------------------
    def _readable(self) -> None:
        c = self._client
        rc = c.loop_read()
        sock = c.socket()
        # TLS may hold decrypted bytes the socket no longer signals as readable.
        while rc == SUCCESS and isinstance(sock, ssl.SSLSocket) and sock.pending():
            rc = c.loop_read()
            sock = c.socket()

    def _writable(self) -> None:
        self._client.loop_write()

    def _tick(self) -> None:
        self._misc = None
        if self._fd is None:
            return
        self._client.loop_misc()
        if self._fd is not None and not self.lost.done():
            self._misc = self._loop.call_later(MISC_INTERVAL_S, self._tick)

    def _cb_connect(self, _c: Any, _u: Any, _flags: Any, reason: ReasonCode, props: Properties | None) -> None:
        if not self._connack.done():
            self._connack.set_result((reason, props))

    def _cb_disconnect(self, _c: Any, _u: Any, flags: Any, reason: ReasonCode, _props: Any) -> None:
        if threading.get_ident() != self._loop_thread:
            self._loop.call_soon_threadsafe(self._cb_disconnect, _c, _u, flags, reason, _props)
            return
        if getattr(flags, "is_disconnect_packet_from_server", False):
            from paho.mqtt.reasoncodes import ReasonCode
            name = reason.getName() if isinstance(reason, ReasonCode) else str(reason)
            self._resolve(f"the broker disconnected us: {name}")
        else:
            self._resolve("connection lost")

    def _want_write(self, *_: Any) -> None:  # paho has bytes to send: write when the socket can take them
        self._loop.add_writer(cast(int, self._fd), self._writable)

    def _done_writing(self, *_: Any) -> None:
        self._loop.remove_writer(cast(int, self._fd))

    def _cb_socket_close(self, _c: Any, _u: Any, _sock: Any) -> None:
        if self._fd is not None:
            self._loop.remove_reader(self._fd)
            self._loop.remove_writer(self._fd)
            self._fd = None

    def _cb_publish(self, _c: Any, _u: Any, mid: int, reason: ReasonCode, _props: Any) -> None:
        try:
            self._on_ack(mid, reason)
        except Exception:  # an exception here would leave paho mid-packet
            log.exception("MQTT acknowledgement handler failed")

    def _cb_subscribe(self, _c: Any, _u: Any, mid: int, reasons: list[ReasonCode], _props: Any) -> None:
        done = self._subacks.get(mid)
        if done is not None and not done.done():
            done.set_result(reasons[0])

    def _cb_message(self, _c: Any, _u: Any, msg: paho.MQTTMessage) -> None:
        correlation = getattr(msg.properties, "CorrelationData", None) if msg.properties else None
        try:
            self._on_message(msg.topic, bytes(msg.payload), correlation)
        except Exception:  # an exception here would leave paho mid-packet
            log.exception("MQTT message handler failed")


def _close_quietly(sock: Any) -> None:
    if sock is not None:
        try:
            sock.close()
        except OSError:
            pass
