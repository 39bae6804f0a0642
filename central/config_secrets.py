"""edged-central's secrets file (issue 45, design/0018 as the box does it): the broker password and
the database URL with its password live in a file of their own, readable by edged-central's user
alone, that the config names (`[secrets] file`); a password written in the config itself is
refused unless edged-central is started with `--allow-config-secrets`. No error shows a password.

    [secrets]
    file = "central-secrets.toml"      # beside the config

    # central-secrets.toml (0600)
    [broker]
    password = "..."
    [storage]
    url = "postgresql://central:PASSWORD@db.example.org:5432/central?sslmode=verify-full"
    read_url = "postgresql://central_reader:PASSWORD@db.example.org:5432/central?sslmode=verify-full"

A URL may hold no password at all: libpq then reads it from its password file (`PGPASSFILE`, or
`passfile=` in the URL), e.g. one systemd hands over with `LoadCredential=` (docs/ref/central.md).
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from storage import declare

ALLOW_FLAG = "--allow-config-secrets"


class SecretsError(Exception):
    def __init__(self, where: str, problem: str):
        super().__init__(f"{where}: {problem}")
        self.where, self.problem = where, problem


def _name(value: Any, where: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise SecretsError(where, "expected a file name in quotes")
    return value


@dataclass(frozen=True, slots=True)
class SecretsKeys:
    """The [secrets] table, declared as the config's other tables are (storage/declare.py)."""
    file: str | None = declare.key(None, read=_name, example='"central-secrets.toml"',
                           doc="beside this file, readable by edged-central's user alone (0600): its [broker] "
                           "password, its [storage] url and read_url with their passwords (none of them here)")


def _file(t: Any, base: Path) -> Path | None:
    if not isinstance(t, dict):
        raise SecretsError("secrets", "expected a table")
    name = declare.read(SecretsKeys, t, "secrets").file
    if name is None:
        return None
    path = base / name
    folder = os.environ.get("CREDENTIALS_DIRECTORY")  # systemd's LoadCredential=, as edged reads it
    if folder and (Path(folder) / path.name).is_file():
        return Path(folder) / path.name
    return path


def _read(path: Path) -> dict[str, Any]:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise SecretsError("secrets.file", f"{path} does not exist") from None
    except PermissionError:
        raise SecretsError("secrets.file", f"{path} cannot be read: run edged-central as the user it belongs to") \
            from None
    except (OSError, UnicodeDecodeError) as exc:
        raise SecretsError("secrets.file", f"{path} cannot be read: {getattr(exc, 'strerror', None) or exc}") from None
    except tomllib.TOMLDecodeError as exc:  # names the line and column, never the text
        raise SecretsError("secrets.file", f"{path} is not valid TOML: {exc}") from None
    for k, keys in data.items():
        if k not in ("broker", "storage"):
            raise SecretsError(f"secrets.{k}", "unknown table; known: broker (password), storage (url)")
        if not isinstance(keys, dict):
            raise SecretsError(f"secrets.{k}", "expected a table")
        known = ("password",) if k == "broker" else ("url", "read_url")
        for key, value in keys.items():
            if key not in known:
                raise SecretsError(f"secrets.{k}.{key}", f"unknown key; known: {', '.join(known)}")
            if not isinstance(value, str) or not value:
                raise SecretsError(f"secrets.{k}.{key}", "expected a string in quotes (the value is not shown)")
    return data


def holds_password(url: str) -> bool:
    """A libpq URL with a password in it: user:PASSWORD@ or ?password=."""
    try:
        parts = urlsplit(url)
        return parts.password is not None or "password" in parse_qs(parts.query)
    except ValueError:
        return True  # not parseable: err on the side of a secret


def merge(data: dict[str, Any], base: Path, *, allow_inline: bool) -> dict[str, Any]:
    """The config with its secrets put in place; a password in the config itself refused (unless
    `allow_inline`), the error naming the secrets file and where in it the value goes."""
    path = _file(data.get("secrets", {}), base)
    data = {k: (dict(v) if isinstance(v, dict) else v) for k, v in data.items() if k != "secrets"}
    inline = []
    if isinstance(data.get("broker"), dict) and "password" in data["broker"]:
        inline.append("broker.password")
    for key in ("url", "read_url"):
        url = data.get("storage", {}).get(key) if isinstance(data.get("storage"), dict) else None
        if isinstance(url, str) and holds_password(url):
            inline.append(f"storage.{key}")
    if inline and not allow_inline:
        where = (f"the secrets file {path}" if path is not None else
                 f'a secrets file (readable by edged-central\'s user alone, 0600), e.g. {base / "central-secrets.toml"}, '
                 'named in the config with [secrets] file = "central-secrets.toml"')
        raise SecretsError(inline[0], f"{' and '.join(inline)} hold a password in the config itself; move "
                           f"{'it' if len(inline) == 1 else 'them'} to {where}: [broker] password = \"...\" and/or "
                           "[storage] url = \"postgresql://USER:PASSWORD@...\" there (the value is not shown), or start "
                           f"edged-central with {ALLOW_FLAG}")
    if path is None:
        return data
    secrets = _read(path)
    for table, key in (("broker", "password"), ("storage", "url"), ("storage", "read_url")):
        if key not in secrets.get(table, {}):
            continue
        t = data.setdefault(table, {})
        if not isinstance(t, dict):
            continue  # the config's own check says so
        if key in t:
            raise SecretsError(f"{table}.{key}", "is also in the secrets file: keep it in one place (the secrets file)")
        t[key] = secrets[table][key]
    return data
