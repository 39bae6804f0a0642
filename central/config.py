"""edged-central's config: TOML, validated at load with the path of the bad field in the error
(the house style). Without --config the embedded default runs against a broker on
127.0.0.1:1883 with a data folder in the working directory."""

from __future__ import annotations

import re
from urllib.parse import parse_qs, urlsplit
import tomllib
import zoneinfo
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from central import config_secrets
from central.i18n import LANGUAGES, normalise as normalise_language
from central.quota import Limits
from central.store import Store
from storage.time import duration

EX_CONFIG = 78
DEFAULT_TOPIC = "edged/v1/+/+/#"
_GROUP = re.compile(r"[A-Za-z0-9_-]{1,64}")


class ConfigError(Exception):
    def __init__(self, where: str, problem: str):
        super().__init__(f"{where}: {problem}")
        self.where, self.problem = where, problem


@dataclass(frozen=True, slots=True)
class BrokerConfig:
    host: str = "127.0.0.1"
    port: int = 1883
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    client_id: str = "edged-central"
    topic: str = DEFAULT_TOPIC
    shared_group: str | None = None   # set: "$share/<group>/<topic>", instances split the fleet
    tls_ca_file: Path | None = None
    session_expiry_s: int = 7 * 86_400  # the broker queues what arrives while we are down
    stopped_expiry_s: int = 7 * 86_400  # the same after a clean stop (an upgrade, the office shut down: design/0139)

    @property
    def subscription(self) -> str:
        return f"$share/{self.shared_group}/{self.topic}" if self.shared_group else self.topic


@dataclass(frozen=True, slots=True)
class CentralConfig:
    source: str = "(embedded default)"
    broker: BrokerConfig = BrokerConfig()
    data_dir: Path = Path("edged-central-data")
    verify_interval_us: int = 2_000_000      # how often new messages are verified
    gap_grace_us: int = 30_000_000           # a missing seq is a finding once a later one is this old
    silent_after_us: int = 300_000_000       # a node that said nothing this long is "silent"
    dashboard_listen: str | None = "127.0.0.1:8780"
    timezone: str = "Asia/Taipei"            # compliance days are the sites' local days
    language: str = "en"                     # the dashboard's pages and reports: en | zh-TW (ROC dates)
    batch: int = 5000                        # messages stored per transaction at most
    quota: Limits = Limits()                 # per node (central/quota.py)
    allowed_hosts: tuple[str, ...] = ()      # Host headers the dashboard answers besides its listen address
    tls_cert_file: Path | None = None        # the dashboard over HTTPS
    tls_key_file: Path | None = None
    accounts: tuple[tuple[str, str, str], ...] = field(default=(), repr=False)  # (name, role, scrypt hash)
    storage_url: str | None = field(default=None, repr=False)  # postgresql://...: a fleet's shared store
    read_url: str | None = field(default=None, repr=False)  # its read-only role: status, reports, dashboard
    metrics_listen: str | None = None        # HOST:PORT of the Prometheus metrics (central/ops.py)

    @property
    def db_path(self) -> Path:
        return self.data_dir / "central.db"

    def open_store(self, *, readonly: bool = False, migrate: bool = False) -> Store:
        from central.pgstore import open_store

        url = (self.read_url or self.storage_url) if readonly else self.storage_url  # readers: the read-only role
        return open_store(url, self.db_path, readonly=readonly, migrate=migrate)

    @property
    def tz(self) -> zoneinfo.ZoneInfo:
        return zoneinfo.ZoneInfo(self.timezone)


def parse_duration(value: Any, where: str) -> int:
    """A duration in edged's grammar (storage/time/duration.py: "2s", "5m", "1h30m"; a bare number is refused)."""
    try:
        return duration.parse(value)
    except duration.DurationError as exc:
        raise ConfigError(where, str(exc)) from None


def _table(data: dict[str, Any], name: str, keys: tuple[str, ...]) -> dict[str, Any]:
    t = data.get(name, {})
    if not isinstance(t, dict):
        raise ConfigError(name, "expected a table")
    for k in t:
        if k not in keys:
            raise ConfigError(f"{name}.{k}", f"unknown key; known: {', '.join(keys)}")
    return t


def _str(t: dict[str, Any], key: str, where: str, default: str | None) -> str | None:
    v = t.get(key, default)
    if v is not None and (not isinstance(v, str) or not v.strip()):
        raise ConfigError(where, "expected a non-empty string")
    return v


def load(path: Path | None, *, allow_config_secrets: bool = False) -> CentralConfig:
    """The config at `path` (None: the embedded default), its secrets file merged in; a password
    in the config itself is refused unless `allow_config_secrets` (central/config_secrets.py)."""
    if path is None:
        return CentralConfig()
    try:
        data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(str(path), "no such file") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(str(path), f"not valid TOML: {exc}") from None
    for k in data:
        if k not in ("broker", "storage", "verify", "dashboard", "report", "quota", "metrics", "secrets"):
            raise ConfigError(k, "unknown table; known: broker, storage, verify, dashboard, report, quota, metrics, "
                              "secrets")
    try:
        data = config_secrets.merge(data, Path(path).resolve().parent, allow_inline=allow_config_secrets)
    except config_secrets.SecretsError as exc:
        raise ConfigError(exc.where, exc.problem) from None
    b = _table(data, "broker", ("host", "port", "username", "password", "client_id", "topic", "shared_group",
                                "tls_ca_file", "session_expiry", "session_expiry_stopped"))
    port = b.get("port", 1883)
    if not isinstance(port, int) or isinstance(port, bool) or not 1 <= port <= 65535:
        raise ConfigError("broker.port", f"{port!r} is not a port number (1 to 65535)")
    group = _str(b, "shared_group", "broker.shared_group", None)
    if group is not None and not _GROUP.fullmatch(group):
        raise ConfigError("broker.shared_group", f"{group!r}: use 1-64 of A-Z, a-z, 0-9, '_', '-'")
    if "password" in b and "username" not in b:
        raise ConfigError("broker.password", "set username too")
    base = Path(path).resolve().parent
    ca = _str(b, "tls_ca_file", "broker.tls_ca_file", None)
    broker = BrokerConfig(
        host=_str(b, "host", "broker.host", "127.0.0.1") or "127.0.0.1", port=port,
        username=_str(b, "username", "broker.username", None), password=b.get("password"),
        client_id=_str(b, "client_id", "broker.client_id", "edged-central") or "edged-central",
        topic=_str(b, "topic", "broker.topic", DEFAULT_TOPIC) or DEFAULT_TOPIC, shared_group=group,
        tls_ca_file=None if ca is None else base / ca,
        # one of a group: a dead member's session (and the share the broker keeps queueing to it) goes soon,
        # and the resends (issue 43) bring back what was queued there; alone: the broker keeps a week for us
        session_expiry_s=parse_duration(b.get("session_expiry", "7d" if group is None else "1m"),
                                        "broker.session_expiry") // 1_000_000,
        # stopped on purpose (an upgrade, the whole office shut down), it will be back: the broker
        # keeps what comes meanwhile (design/0139); a dead one's session still goes after session_expiry
        stopped_expiry_s=parse_duration(b.get("session_expiry_stopped", "7d"),
                                        "broker.session_expiry_stopped") // 1_000_000)
    if not _loopback(broker.host) and broker.tls_ca_file is None:   # issue 45: never in the clear off the box
        raise ConfigError("broker.tls_ca_file", f"the broker {broker.host} is not on this machine: talk to it over "
                          "TLS (tls_ca_file = the broker's CA, port 8883)")
    s = _table(data, "storage", ("data_dir", "batch", "url", "read_url"))
    url, read_url = _pg_url(s, "url"), _pg_url(s, "read_url")
    if read_url is not None and url is None:
        raise ConfigError("storage.read_url", "a read-only role's URL is for a PostgreSQL store: set [storage] url "
                          "too (or leave read_url out for the embedded SQLite store)")
    data_dir = base / (_str(s, "data_dir", "storage.data_dir", "edged-central-data") or "")
    batch = s.get("batch", 5000)
    if not isinstance(batch, int) or isinstance(batch, bool) or not 1 <= batch <= 100_000:
        raise ConfigError("storage.batch", f"{batch!r}: expected 1 to 100000 messages")
    v = _table(data, "verify", ("interval", "gap_grace", "silent_after"))
    q = _table(data, "quota", ("messages_per_second", "burst", "bytes_per_day", "retained_topics"))
    lim = Limits()
    quota = Limits(messages_per_second=_number(q, "messages_per_second", lim.messages_per_second, 0.001, 1e9),
                   burst=int(_number(q, "burst", lim.burst, 1, 1e12, whole=True)),
                   bytes_per_day=int(_number(q, "bytes_per_day", lim.bytes_per_day, 1, 1e15, whole=True)),
                   retained_topics=int(_number(q, "retained_topics", lim.retained_topics, 1, 1e9, whole=True)))
    d = _table(data, "dashboard", ("listen", "allowed_hosts", "tls_cert_file", "tls_key_file", "accounts"))
    hosts = d.get("allowed_hosts", [])
    if not isinstance(hosts, list) or not all(isinstance(h, str) and h.strip() for h in hosts):
        raise ConfigError("dashboard.allowed_hosts", "expected a list of host names (e.g. [\"central.example.tw\"])")
    listen = d.get("listen", "127.0.0.1:8780")
    if listen not in ("", None) and (not isinstance(listen, str) or not re.fullmatch(r"[^:\s]+:\d{1,5}", listen)):
        raise ConfigError("dashboard.listen", f"{listen!r}: expected HOST:PORT, or \"\" for no dashboard")
    cert = _str(d, "tls_cert_file", "dashboard.tls_cert_file", None)
    key = _str(d, "tls_key_file", "dashboard.tls_key_file", None)
    if (cert is None) != (key is None):
        raise ConfigError("dashboard.tls_key_file" if key is None else "dashboard.tls_cert_file",
                          "set both tls_cert_file and tls_key_file, or neither")
    accounts = _accounts(d.get("accounts", {}))
    if listen and not _loopback(listen.rsplit(":", 1)[0]) and (cert is None or not accounts):
        raise ConfigError("dashboard.listen", f"{listen!r} is reachable from the network: set tls_cert_file, "
                          "tls_key_file and at least one [dashboard.accounts.NAME] (or listen on 127.0.0.1)")
    m = _table(data, "metrics", ("listen",))
    metrics = m.get("listen", "")
    if metrics not in ("", None) and (not isinstance(metrics, str) or not re.fullmatch(r"[^:\s]+:\d{1,5}", metrics)):
        raise ConfigError("metrics.listen", f"{metrics!r}: expected HOST:PORT (e.g. \"127.0.0.1:9464\"), or \"\" "
                          "for no metrics")
    r = _table(data, "report", ("timezone", "language"))
    tz = _str(r, "timezone", "report.timezone", "Asia/Taipei") or "Asia/Taipei"
    try:
        zoneinfo.ZoneInfo(tz)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise ConfigError("report.timezone", f"{tz!r} is not a time zone name (e.g. Asia/Taipei)") from None
    lang = normalise_language(r.get("language", "en"))
    if lang is None:
        raise ConfigError("report.language", f"{r.get('language')!r} is not a supported language; use one of "
                          + ", ".join(f'"{x}"' for x in LANGUAGES))
    return CentralConfig(
        source=str(path), broker=broker, data_dir=data_dir,
        verify_interval_us=parse_duration(v.get("interval", "2s"), "verify.interval"),
        gap_grace_us=parse_duration(v.get("gap_grace", "30s"), "verify.gap_grace"),
        silent_after_us=parse_duration(v.get("silent_after", "5m"), "verify.silent_after"),
        dashboard_listen=listen or None, timezone=tz, language=lang, batch=batch, quota=quota,
        allowed_hosts=tuple(h.strip().lower() for h in hosts),
        tls_cert_file=None if cert is None else base / cert, tls_key_file=None if key is None else base / key,
        accounts=accounts, storage_url=url, read_url=read_url, metrics_listen=metrics or None)


def _pg_url(s: dict[str, Any], key: str) -> str | None:
    url = _str(s, key, f"storage.{key}", None)
    if url is not None and not re.match(r"postgres(ql)?://", url):
        raise ConfigError(f"storage.{key}", "expected postgresql://USER:PASSWORD@HOST:PORT/DATABASE "
                          "(leave it out for the embedded SQLite store)")
    if url is not None and (why := _pg_tls_refusal(url)):
        raise ConfigError(f"storage.{key}", why)
    return url


def _pg_tls_refusal(url: str) -> str | None:
    """Why a PostgreSQL URL off this machine is refused (issue 45): it must ask for
    sslmode=verify-full (the server's certificate checked, its name too); None if it may be used."""
    parts = urlsplit(url)
    hosts = parse_qs(parts.query).get("host", []) + ([parts.hostname] if parts.hostname else [])
    if not hosts or all(h.startswith("/") or _loopback(h) for h in hosts):
        return None   # a Unix socket or this machine
    if parse_qs(parts.query).get("sslmode") == ["verify-full"]:
        return None
    return ("the database is not on this machine: add ?sslmode=verify-full (and sslrootcert=... if its CA "
            "is not the system's) so that the office's store is reached over TLS with the server checked")


def _loopback(host: str) -> bool:
    return host.strip("[]") in ("127.0.0.1", "::1", "localhost") or host.startswith("127.")


def _accounts(t: Any) -> tuple[tuple[str, str, str], ...]:
    from central import login

    if not isinstance(t, dict):
        raise ConfigError("dashboard.accounts", "expected a table of accounts ([dashboard.accounts.NAME])")
    out = []
    for name, a in t.items():
        where = f"dashboard.accounts.{name}"
        if not re.fullmatch(r"[A-Za-z0-9_.@-]{1,64}", name):
            raise ConfigError(where, "an account name is 1-64 of A-Z, a-z, 0-9, '_', '.', '@', '-'")
        if not isinstance(a, dict):
            raise ConfigError(where, "expected a table with role and password_hash")
        for k in a:
            if k not in ("role", "password_hash"):
                raise ConfigError(f"{where}.{k}", "unknown key; known: role, password_hash")
        if a.get("role") not in login.ROLES:
            raise ConfigError(f"{where}.role", f"{a.get('role')!r}: expected one of {', '.join(login.ROLES)}")
        h = a.get("password_hash")
        if not isinstance(h, str) or not login.valid_hash(h):
            raise ConfigError(f"{where}.password_hash", "expected a hash from `edged-central hash-password`")
        out.append((name, a["role"], h))
    return tuple(out)


def _number(t: dict[str, Any], key: str, default: float, low: float, high: float, *, whole: bool = False) -> float:
    v = t.get(key, default)
    if (not isinstance(v, (int, float)) or isinstance(v, bool) or (whole and not isinstance(v, int))
            or not low <= v <= high):
        raise ConfigError(f"quota.{key}", f"{v!r}: expected {'a whole number' if whole else 'a number'} "
                          f"from {low:g} to {high:g}")
    return v
