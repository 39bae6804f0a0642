"""Secrets kept out of the config (design/0018): camera URLs with passwords and the MQTT password
live in a root-only secrets file the config names (`[secrets] file`); private key files
(viewer.tls_key, mqtt.tls.key_file) stay root-only files. Under systemd the daemon, which cannot
read them, gets each through `LoadCredential=NAME:PATH`: a file whose name is in
$CREDENTIALS_DIRECTORY is read from there. Root (check-config by hand, tests) reads the path.
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Any

from edged.config.values import ConfigError, _check_keys, _describe, _path, _show, redact_url
from edged.i18n import _

CREDENTIALS_ENV = "CREDENTIALS_DIRECTORY"


def credential_path(path: Path) -> Path:
    """The copy systemd handed the daemon (LoadCredential=<file name>:<path>), else the path itself."""
    folder = os.environ.get(CREDENTIALS_ENV)
    if folder:
        handed = Path(folder) / path.name
        if handed.is_file():
            return handed
    return path


def load_secrets(t: dict[str, Any], base_dir: Path | None) -> dict[str, Any]:
    """[secrets] file = "secrets.toml": its tables, checked; {} when no file is named."""
    _check_keys(t, "secrets", ("file",))
    if "file" not in t:
        return {}
    path = credential_path(_path(t["file"], "secrets.file", base_dir))
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise ConfigError("secrets.file", f"{_show(str(path))} does not exist (scripts/install makes an empty "
                          "one, 0600 root)") from None
    except PermissionError:
        raise ConfigError("secrets.file", f"{_show(str(path))} cannot be read: it is root's alone; run check-config "
                          "as root, and let systemd hand it to edged (LoadCredential=)") from None
    except OSError as e:
        raise ConfigError("secrets.file", f"{_show(str(path))} cannot be read: {e.strerror or e}") from None
    try:
        data = tomllib.loads(raw.decode("utf-8-sig"))
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as e:
        # tomllib names the line and column and never quotes the text: no secret is echoed
        raise ConfigError("secrets.file", f"{_show(str(path))} is not valid TOML: {e}") from None
    _check_keys(data, "secrets", ("cameras", "mqtt"))
    cameras = data.get("cameras", {})
    if not isinstance(cameras, dict):
        raise ConfigError("secrets.cameras", f"expected a table of camera id = URL, found {_describe(cameras)}")
    for cam, url in cameras.items():
        if not isinstance(url, str):
            raise ConfigError(f"secrets.cameras.{cam}", "expected the camera's URL in quotes (the value is not shown)")
    mqtt = data.get("mqtt", {})
    if not isinstance(mqtt, dict):
        raise ConfigError("secrets.mqtt", f"expected a table, found {_describe(mqtt)}")
    _check_keys(mqtt, "secrets.mqtt", ("password",))
    return {"cameras": cameras, "mqtt": mqtt}


def merge_secrets(data: dict[str, Any], secrets: dict[str, Any]) -> tuple[dict[str, Any], tuple[str, ...]]:
    """The config with the secrets put in place, and the fields that hold a secret in the config
    itself (check-config points at them)."""
    data = dict(data)
    inline: list[str] = []
    wanted = dict(secrets.get("cameras", {}))
    if isinstance(data.get("cameras"), list):  # a wrong type is left for the config's own check
        data["cameras"] = cams = [dict(c) if isinstance(c, dict) else c for c in data["cameras"]]
        for i, cam in enumerate(cams):
            if not isinstance(cam, dict):
                continue
            if cam.get("id") in wanted:
                if "url" in cam:
                    raise ConfigError(f"cameras[{i}].url", "is also in the secrets file: keep the URL in one place "
                                      "(the secrets file)")
                cam["url"] = wanted.pop(cam["id"])
            elif isinstance(cam.get("url"), str) and redact_url(cam["url"]) != cam["url"]:
                inline.append(f"cameras[{i}].url")
            detect = cam.get("detect_url")
            if isinstance(detect, str) and redact_url(detect) != detect:
                inline.append(f"cameras[{i}].detect_url")
    if wanted:
        raise ConfigError(f"secrets.cameras.{sorted(wanted)[0]}", "no camera with this id in the config")
    mqtt = data.get("mqtt")
    password = secrets.get("mqtt", {}).get("password")
    if isinstance(mqtt, dict):
        if password is not None:
            if "password" in mqtt:
                raise ConfigError("mqtt.password", "is also in the secrets file: keep it in one place")
            data["mqtt"] = {**mqtt, "password": password}
        elif "password" in mqtt:
            inline.append("mqtt.password")
    elif password is not None:
        raise ConfigError("secrets.mqtt.password", "the config has no [mqtt] table to use it")
    return data, tuple(inline)


ALLOW_FLAG = "--allow-config-secrets"


def refuse_inline(inline: tuple[str, ...], data: dict[str, Any], base_dir: Path | None) -> None:
    """A password written in the config itself (`inline`, from merge_secrets) is refused (issue 45):
    the config is the group's to read, the secrets file root's alone. The error names the fields,
    the secrets file and where in it each goes, never the value; `edged run --allow-config-secrets`
    (and check-config's) lets it through, with a warning. In the person's language (check-config)."""
    if not inline:
        return
    named = data.get("secrets", {}).get("file") if isinstance(data.get("secrets"), dict) else None
    cams = [data["cameras"][int(f[8:f.index("]")])].get("id", "?") for f in inline if f.endswith("].url")]
    where = []
    if cams:
        where.append(_('[cameras] {id} = "rtsp://USER:PASSWORD@..." (the whole URL)').format(id=cams[0]))
    if any(f.endswith("].detect_url") for f in inline):
        where.append(_('detect_url as a path on the camera\'s URL ("/Streaming/Channels/102"), which uses its login'))
    if "mqtt.password" in inline:
        where.append(_('[mqtt] password = "..."'))
    goes = "; ".join(where)
    also = _(" (and {fields})").format(fields=", ".join(inline[1:])) if len(inline) > 1 else ""
    if named is not None:
        raise ConfigError(inline[0], _("holds a password in the config itself{also}, which every edgectl user may "
                                       "read: move it to the secrets file {file} (root's alone), as {goes}, and take "
                                       "it out of the config; or start edged with {flag}").format(
            also=also, file=_path(named, "secrets.file", base_dir), goes=goes, flag=ALLOW_FLAG))
    beside = str(base_dir / "secrets.toml") if base_dir is not None else "/etc/edged/secrets.toml"
    raise ConfigError(inline[0], _("holds a password in the config itself{also}, which every edgectl user may read: "
                                   "put it in a secrets file, {file} (root's alone, 0600), as {goes}; name that file "
                                   "in the config ([secrets] file = \"secrets.toml\") and take the password out of "
                                   "the config; or start edged with {flag}").format(
        also=also, file=beside, goes=goes, flag=ALLOW_FLAG))
