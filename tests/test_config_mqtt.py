"""Config: the [mqtt] table."""

from __future__ import annotations

import pytest

from edged.config import (
    MqttConfig,
    MqttTlsConfig,
    load_config,
)
from tests.support.configs import MINIMAL, SECRET, error_for, write

# --- [mqtt] -------------------------------------------------------------------------------

ED25519_PUB = "11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo="  # RFC 8032 test vector 1


def mqtt_toml(body: str) -> str:
    return MINIMAL + "[mqtt]\n" + body


def test_mqtt_defaults(tmp_path):
    m = load_config(write(tmp_path, MINIMAL)).mqtt
    assert m == MqttConfig(client_id="edged-s1-node1")
    assert (m.enabled, m.host, m.port, m.username, m.password, m.tls) == (False, "", 1883, None, None, None)
    assert (m.keepalive_us, m.reconnect_max_us, m.outbox_max) == (30_000_000, 60_000_000, 100_000)
    assert m.outbox_history_us == 14 * 86_400_000_000  # issue 43: kept for the office's cmd/resend
    assert (m.command_key, m.command_max_age_us) == (None, 300_000_000)
    assert (m.homeassistant, m.discovery_prefix) == (False, "homeassistant")


def test_mqtt_full(tmp_path):
    (tmp_path / "pki").mkdir()
    for name in ("ca.pem", "node.pem", "node.key"):
        (tmp_path / "pki" / name).write_text("x")
    cfg = load_config(write(tmp_path, mqtt_toml(f"""
enabled = true
host = "mqtt.central.example.org"
username = "node1"
password = "{SECRET}"
client_id = "edged-s1-node1-b"
keepalive = "45s"
reconnect_max = "2m"
outbox_max = 500000
outbox_history = "30d"
command_key = "{ED25519_PUB}"
command_max_age = "10m"
homeassistant = true
discovery_prefix = "ha/edge"

[mqtt.tls]
ca_file = "pki/ca.pem"
cert_file = "pki/node.pem"
key_file = "{tmp_path / 'pki' / 'node.key'}"
insecure = true
""")), allow_config_secrets=True)  # the password in the config itself: tests/test_secrets.py
    m = cfg.mqtt
    assert m == MqttConfig(
        enabled=True, host="mqtt.central.example.org", port=8883, username="node1", password=SECRET,
        tls=MqttTlsConfig(ca_file=tmp_path / "pki/ca.pem", cert_file=tmp_path / "pki/node.pem",
                          key_file=tmp_path / "pki/node.key", insecure=True),
        client_id="edged-s1-node1-b", keepalive_us=45_000_000, reconnect_max_us=120_000_000, outbox_max=500_000,
        outbox_history_us=30 * 86_400_000_000,
        command_key=ED25519_PUB, command_max_age_us=600_000_000, homeassistant=True, discovery_prefix="ha/edge",
    )
    assert SECRET not in repr(cfg) and SECRET not in repr(m)


def test_mqtt_port_default_follows_tls(tmp_path):
    assert load_config(write(tmp_path, mqtt_toml('host = "b"\n[mqtt.tls]\n'))).mqtt.port == 8883
    assert load_config(write(tmp_path, mqtt_toml('host = "b"\nport = 1884\n[mqtt.tls]\n'))).mqtt.port == 1884
    assert load_config(write(tmp_path, mqtt_toml('host = "b"\n'))).mqtt.port == 1883


def test_mqtt_files_are_checked_only_when_enabled(tmp_path):
    text = 'host = "b"\n[mqtt.tls]\nca_file = "missing/ca.pem"\n'
    assert load_config(write(tmp_path, mqtt_toml(text))).mqtt.tls.ca_file == tmp_path / "missing/ca.pem"
    err = error_for(tmp_path, mqtt_toml("enabled = true\n" + text))
    assert err.field == "mqtt.tls.ca_file" and "does not exist" in err.message
    err = error_for(tmp_path, mqtt_toml(f'enabled = true\nhost = "b"\n[mqtt.tls]\nca_file = "{tmp_path}"\n'))
    assert "is not a file" in err.message


@pytest.mark.parametrize(
    "body, field, says",
    [
        ("enabled = true\n", "mqtt.host", "missing required key"),
        ('enabled = "yes"\n', "mqtt.enabled", "expected true or false"),
        ('host = ""\n', "mqtt.host", "must not be empty"),
        ('host = "mqtt://broker"\n', "mqtt.host", "write only the name or address"),
        ('host = "broker:1883"\n', "mqtt.host", "put the port in mqtt.port"),
        ("port = 0\n", "mqtt.port", "out of range (1 to 65535)"),
        ('port = "1883"\n', "mqtt.port", "expected an integer"),
        ('username = ""\n', "mqtt.username", "must not be empty"),
        ('password = "x"\n', "mqtt.password", "set username too"),
        ('client_id = "edged node"\n', "mqtt.client_id", "not a valid client id"),
        ('keepalive = "1s"\n', "mqtt.keepalive", "out of range"),
        ('keepalive = "30.5s"\n', "mqtt.keepalive", "whole seconds"),
        ("keepalive = 30\n", "mqtt.keepalive", "expected a duration string"),
        ('reconnect_max = "2h"\n', "mqtt.reconnect_max", "out of range"),
        ("outbox_max = 5\n", "mqtt.outbox_max", "out of range (10 to 100000000 messages)"),
        ('outbox_max = "100k"\n', "mqtt.outbox_max", "expected an integer (messages)"),
        ('command_key = "not base64!"\n', "mqtt.command_key", "is not base64"),
        ('command_key = "AAAA"\n', "mqtt.command_key", "decodes to 3 bytes"),
        ('command_key = "-----BEGIN PUBLIC KEY-----"\n', "mqtt.command_key", "is PEM"),
        ('command_max_age = "2d"\n', "mqtt.command_max_age", "out of range"),
        ('homeassistant = 1\n', "mqtt.homeassistant", "expected true or false"),
        ('discovery_prefix = "home/+"\n', "mqtt.discovery_prefix", "is not a topic prefix"),
        ('discovery_prefix = "/ha"\n', "mqtt.discovery_prefix", "is not a topic prefix"),
        ('tls = "yes"\n', "mqtt.tls", "expected a table ([mqtt.tls] section)"),
        ('[mqtt.tls]\nkey_file = "/k.pem"\n', "mqtt.tls.key_file", "set cert_file too"),
        ('[mqtt.tls]\ninsecure = "no"\n', "mqtt.tls.insecure", "expected true or false"),
    ],
)
def test_bad_mqtt_values(tmp_path, body, field, says):
    err = error_for(tmp_path, mqtt_toml(body))
    assert err.field == field
    assert says in err.message


@pytest.mark.parametrize(
    "body, field, says",
    [
        ('hots = "b"\n', "mqtt.hots", 'did you mean "host"?'),
        ('user = "n"\n', "mqtt.user", 'did you mean "username"?'),
        ('broker = "b"\n', "mqtt.broker", 'did you mean "host"?'),
        ('ca_file = "/x"\n', "mqtt.ca_file", "put it in an [mqtt.tls] table"),
        ('[mqtt.tls]\ncafile = "/x"\n', "mqtt.tls.cafile", 'did you mean "ca_file"?'),
    ],
)
def test_unknown_mqtt_keys(tmp_path, body, field, says):
    err = error_for(tmp_path, mqtt_toml(body))
    assert err.field == field
    assert "unknown key" in err.message and says in err.message


@pytest.mark.parametrize(
    "body",
    [
        'username = "n"\npassword = 123456789\n',
        'username = "n"\npassword = ["hunter2-Secret"]\n',
        'password = "hunter2-Secret"\n',                     # no username
        'username = "n"\npassword = "hunter2-Secret"\nport = "x"\n',
        'passwd = "hunter2-Secret"\n',                       # the wrong key
        'username = "n"\npassword = "hunter2-Secret"\nenabled = true\n',  # no host
    ],
)
def test_mqtt_password_never_in_error(tmp_path, body):
    err = error_for(tmp_path, mqtt_toml(body))
    for secret in (SECRET, "123456789"):
        assert secret not in str(err) and secret not in repr(err)


def test_a_broker_off_this_box_needs_tls(tmp_path):
    """issue 45 item 7: the broker password and every message never cross the network in the clear."""
    err = error_for(tmp_path, mqtt_toml('enabled = true\nhost = "mqtt.central.example.org"\n'))
    assert err.field == "mqtt.tls" and "not on this box" in str(err)
    for host in ("127.0.0.1", "localhost", "::1"):
        assert load_config(write(tmp_path, mqtt_toml(f'enabled = true\nhost = "{host}"\n'))).mqtt.host == host
    assert not load_config(write(tmp_path, mqtt_toml('host = "b"\n'))).mqtt.enabled   # off: not checked


def test_the_office_reaches_a_broker_and_a_database_off_its_machine_over_tls_only(tmp_path):
    from central import config

    path = tmp_path / "c.toml"
    path.write_text('[broker]\nhost = "mqtt.office.example"\n')
    with pytest.raises(config.ConfigError, match="broker.tls_ca_file.*not on this machine"):
        config.load(path)
    path.write_text('[storage]\nurl = "postgresql://office:pw@db.office.example:5432/central"\n')
    with pytest.raises(config.ConfigError, match="storage.url.*sslmode=verify-full"):
        config.load(path, allow_config_secrets=True)  # the password in it: tests/test_central_postgres.py
    for url in ("postgresql://office:pw@db.office.example:5432/central?sslmode=verify-full",
                "postgresql://office@127.0.0.1:5432/central", "postgresql://office@/central?host=/run/postgresql"):
        path.write_text(f'[storage]\nurl = "{url}"\n')
        assert config.load(path, allow_config_secrets=True).storage.url == url
