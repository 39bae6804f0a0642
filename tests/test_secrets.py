"""Secrets out of the config (design/0018): a root-only secrets file the config names, handed to
the daemon by systemd (LoadCredential=, i.e. $CREDENTIALS_DIRECTORY); check-config still works."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from edged.config import ConfigError, load_config
from tests.support.configs import write
from tests.support.daemon import ROOT

BASE = """
[site]
id = "s1"

[mqtt]
enabled = true
host = "broker.example"
username = "node1"

[mqtt.tls]

[secrets]
file = "secrets.toml"

[[cameras]]
id = "door"

[[cameras]]
id = "demo"
url = "synthetic:"
"""
SECRETS = """
[cameras]
door = "rtsp://viewer:Door-Pw-9@192.0.2.10/stream1"

[mqtt]
password = "Mqtt-Pw-7"
"""


def test_secrets_file_fills_the_camera_url_and_the_mqtt_password(tmp_path):
    write(tmp_path, SECRETS, "secrets.toml")
    cfg = load_config(write(tmp_path, BASE))
    assert cfg.camera("door").url == "rtsp://viewer:Door-Pw-9@192.0.2.10/stream1"
    assert cfg.mqtt.password == "Mqtt-Pw-7"
    assert cfg.inline_secrets == ()
    assert "Door-Pw-9" not in repr(cfg) and "Mqtt-Pw-7" not in repr(cfg)


def test_the_daemon_reads_the_copy_systemd_hands_it(tmp_path, monkeypatch):
    """LoadCredential=secrets.toml:/etc/edged/secrets.toml: the daemon cannot read the root-only
    file itself; it reads $CREDENTIALS_DIRECTORY/secrets.toml. Private key files likewise."""
    creds = tmp_path / "creds"
    creds.mkdir()
    (creds / "secrets.toml").write_text(SECRETS.replace("Door-Pw-9", "From-Creds-1"))
    (creds / "viewer.key").write_text("KEY")
    (creds / "node1.key").write_text("KEY")
    (tmp_path / "viewer.pem").write_text("CERT")
    monkeypatch.setenv("CREDENTIALS_DIRECTORY", str(creds))
    cfg = load_config(write(tmp_path, BASE.replace("[mqtt.tls]\n", '[mqtt.tls]\ncert_file = "viewer.pem"\n'
                                                   'key_file = "/etc/edged/node1.key"\n')
                            + '\n[viewer]\nenabled = true\ntls_cert = "viewer.pem"\n'
                              'tls_key = "/etc/edged/viewer.key"\n'))
    assert cfg.mqtt.tls.key_file == creds / "node1.key"
    assert "From-Creds-1" in cfg.camera("door").url
    assert cfg.viewer.tls_key == creds / "viewer.key"
    assert cfg.viewer.tls_cert == tmp_path / "viewer.pem"


@pytest.mark.parametrize("secrets, field, words", [
    (None, "secrets.file", "does not exist"),
    ("[cameras]\nnowhere = \"rtsp://a:b@h/\"\n", "secrets.cameras.nowhere", "no camera with this id"),
    ("[cameras]\ndoor = 5\n", "secrets.cameras.door", "value is not shown"),
    ("[wifi]\nkey = 1\n", "secrets.wifi", "unknown key"),
    ("[cameras\n", "secrets.file", "not valid TOML"),
])
def test_bad_secrets_files_name_the_field_and_never_the_value(tmp_path, secrets, field, words):
    if secrets is not None:
        write(tmp_path, secrets, "secrets.toml")
    with pytest.raises(ConfigError) as info:
        load_config(write(tmp_path, BASE))
    assert info.value.field == field and words in info.value.message


def test_a_secret_in_two_places_is_refused(tmp_path):
    write(tmp_path, SECRETS, "secrets.toml")
    with pytest.raises(ConfigError) as info:
        load_config(write(tmp_path, BASE.replace('id = "door"', 'id = "door"\nurl = "rtsp://192.0.2.10/"')))
    assert info.value.field == "cameras[0].url" and "one place" in info.value.message


def test_check_config_works_as_root_and_points_at_passwords_left_in_the_config(tmp_path):
    write(tmp_path, SECRETS, "secrets.toml")
    good = write(tmp_path, BASE)
    os.chmod(tmp_path / "secrets.toml", 0o600)
    r = subprocess.run([sys.executable, "-m", "edged.cli", "check-config", str(good)], capture_output=True,
                       text=True, cwd=ROOT)
    assert r.returncode == 0 and "OK" in r.stdout and "note:" not in r.stdout, r.stderr
    inline = write(tmp_path, BASE.replace("[secrets]\nfile = \"secrets.toml\"\n", "").replace(
        'id = "door"', 'id = "door"\nurl = "rtsp://u:Inline-Pw@192.0.2.10/"'), "inline.toml")
    # issue 45: refused (78), the error naming the field, the secrets file and where in it the URL goes
    r = subprocess.run([sys.executable, "-m", "edged.cli", "check-config", str(inline)], capture_output=True,
                       text=True, cwd=ROOT, env={**os.environ, "LANG": "C.UTF-8"})
    assert r.returncode == 78 and "cameras[0].url: holds a password in the config itself" in r.stderr, r.stderr
    assert f"{tmp_path / 'secrets.toml'}" in r.stderr and '[cameras] door = "rtsp://USER:PASSWORD@...' in r.stderr
    assert "--allow-config-secrets" in r.stderr and "Traceback" not in r.stderr
    r = subprocess.run([sys.executable, "-m", "edged.cli", "check-config", str(inline)], capture_output=True,
                       text=True, cwd=ROOT, env={**os.environ, "LANG": "zh_TW.UTF-8"})
    assert r.returncode == 78 and "設定檔本身含有密碼" in r.stderr and "--allow-config-secrets" in r.stderr, r.stderr
    r = subprocess.run([sys.executable, "-m", "edged.cli", "check-config", "--allow-config-secrets", str(inline)],
                       capture_output=True, text=True, cwd=ROOT)
    assert r.returncode == 0 and "note: cameras[0].url holds a password" in r.stdout
    assert "Inline-Pw" not in r.stdout + r.stderr


def test_a_password_in_the_config_is_refused_unless_allowed(tmp_path):
    """Issue 45: the config is every edgectl user's to read; a camera URL's or the MQTT password in
    it is refused at load, the error naming each field and the secrets file, never the password."""
    write(tmp_path, "[cameras]\n", "secrets.toml")
    text = BASE.replace('id = "door"', 'id = "door"\nurl = "rtsp://u:Inline-Pw@192.0.2.10/"').replace(
        'username = "node1"', 'username = "node1"\npassword = "Mq-Inline-3"')
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as e:
        load_config(path)
    said = str(e.value)
    assert e.value.field == "cameras[0].url" and "(and mqtt.password)" in said, said
    assert f"the secrets file {tmp_path / 'secrets.toml'}" in said and "[mqtt] password" in said, said
    assert "Inline-Pw" not in said and "Mq-Inline-3" not in said
    cfg = load_config(path, allow_config_secrets=True)
    assert cfg.inline_secrets == ("cameras[0].url", "mqtt.password") and cfg.mqtt.password == "Mq-Inline-3"
    # no secrets file named yet: the error says where one goes and how the config names it
    path = write(tmp_path, text.replace('[secrets]\nfile = "secrets.toml"\n', ""), "bare.toml")
    with pytest.raises(ConfigError, match=r'\[secrets\] file = "secrets.toml"') as e:
        load_config(path)
    assert str(tmp_path / "secrets.toml") in str(e.value)


def test_edged_run_refuses_a_password_in_its_config_before_recording(tmp_path):
    """`edged run` stops at once with exit 78 (systemd does not restart it) and says why in the log."""
    path = write(tmp_path, '[site]\nid = "s1"\n[storage]\ndata_dir = "data"\n[[cameras]]\nid = "door"\n'
                 'url = "rtsp://u:Run-Inline-Pw@192.0.2.10/"\n')
    r = subprocess.run([sys.executable, "-m", "edged.cli", "run", "--config", str(path)], capture_output=True,
                       text=True, cwd=ROOT, timeout=120)
    assert r.returncode == 78, r.stderr[-2000:]
    assert "cameras[0].url: holds a password in the config itself" in r.stderr and "--allow-config-secrets" in r.stderr
    assert "Run-Inline-Pw" not in r.stdout + r.stderr and not (tmp_path / "data").exists()
