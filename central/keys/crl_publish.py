"""The office's revocation list on the broker (split from central/keys/ca.py, issue 57): the CRL the CA
wrote (central/keys/ca.py `write_crl`) retained on its own topic, with the office's broker login, for
every node to read (`edged-central nodes revoke --publish`, `nodes crl --publish`,
central/keys/crl_schedule.py). Blocking (a connection to the broker)."""

from __future__ import annotations

from typing import Any

from central.keys.ca import CAError

CRL_TOPIC = "edged-office/v1/crl"  # outside edged/v1/#: not a node's message; brokers may let every node read it


def office_client(broker: Any, suffix: str) -> Any:
    """A one-off MQTT 5 client with the office's broker login (central/config.py BrokerConfig), its
    client id the office's with `suffix`; not yet connected."""
    import paho.mqtt.client as mqtt
    from paho.mqtt.enums import CallbackAPIVersion

    c = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"{broker.client_id}-{suffix}", protocol=mqtt.MQTTv5)
    if broker.username:
        c.username_pw_set(broker.username, broker.password)
    if broker.tls_ca_file is not None:
        c.tls_set(ca_certs=str(broker.tls_ca_file))
    return c


def publish_crl(broker: Any, crl_pem: bytes, timeout_s: float = 30.0) -> None:
    """The CRL as a retained message (QoS 1) on CRL_TOPIC, with the office's broker login
    (central/config.py BrokerConfig); raises CAError when the broker does not take it."""
    c = office_client(broker, "crl")
    refused: list[str] = []  # an MQTT 5 PUBACK's failure reason (e.g. not authorized): acknowledged, not kept
    c.on_publish = lambda _c, _u, _mid, reason, _p: refused.append(str(reason)) if reason.is_failure else None
    try:
        c.connect(broker.host, broker.port)
        c.loop_start()
        info = c.publish(CRL_TOPIC, crl_pem, qos=1, retain=True)
        info.wait_for_publish(timeout_s)
        if refused:
            raise CAError(f"the broker {broker.host}:{broker.port} refused the revocation list: {refused[0]}")
        if not info.is_published():
            raise CAError(f"the broker {broker.host}:{broker.port} did not take the revocation list in {timeout_s:.0f} s")
    except (OSError, ValueError, RuntimeError) as exc:
        raise CAError(f"cannot publish the revocation list on {broker.host}:{broker.port}: {exc}") from None
    finally:
        c.loop_stop()
        c.disconnect()
