"""edged-central's config: TOML, validated at load with the path of the bad field in the error
(the house style). Without --config the embedded default runs against a broker on
127.0.0.1:1883 with a data folder in the working directory.

Each key is declared once, as edged's are (storage/declare.py, design/0099 and design/0283): a
field of its table's section below, `key(default, read=..., doc=...)`. From it come the reader
(unknown keys refused, each value read by its `read`, the error naming the field's path), the
repr (no password, no account's hash, a URL's password as ***), docs/ref/central-config.md and
systemd/central.example.toml (`python -m refdocs`). What spans keys (a broker off this machine
needs TLS, a dashboard on the network needs accounts) is `_checked`, after the sections are read.
A relative file or folder is the config's folder's.
"""

from __future__ import annotations

import dataclasses
import re
import tomllib
import zoneinfo
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable
from urllib.parse import parse_qs, urlsplit

from central import config_secrets, login
from central.i18n import LANGUAGES, normalise as normalise_language
from central.intake.quota import Limits
from central.store.store import Store
from storage import declare
from storage.declare import ConfigError as ConfigError, key, parse_duration as parse_duration, redact_url, repr_of
from central.store.pgstore import open_store

EX_CONFIG = 78
DEFAULT_TOPIC = "edged/v1/+/+/#"
_GROUP = re.compile(r"[A-Za-z0-9_-]{1,64}")
_LIMITS = Limits()  # the quota's defaults are central/intake/quota.py's


# --- how a value is read (value, field path) -> value; each error names the path ------------------
def _text(value: Any, where: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ConfigError(where, "expected a non-empty string")
    return value


def _file(value: Any, where: str) -> Path:
    return Path(_text(value, where))  # the config's folder's when relative (`_resolved`)


def _seconds(value: Any, where: str) -> int:
    return parse_duration(value, where) // 1_000_000


def _whole(low: int, high: int, says: str) -> Callable[[Any, str], int]:
    """An integer from `low` to `high`; `says` words the error (`{!r}`: the value)."""
    def read_whole(value: Any, where: str) -> int:
        if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
            raise ConfigError(where, says.format(value))
        return value
    return read_whole


def _group(value: Any, where: str) -> str:
    group = _text(value, where)
    if not _GROUP.fullmatch(group):
        raise ConfigError(where, f"{group!r}: use 1-64 of A-Z, a-z, 0-9, '_', '-'")
    return group


def _node_username(value: Any, where: str) -> str:
    pattern = _text(value, where)
    if "{node}" not in pattern or not re.fullmatch(r"[A-Za-z0-9_.@{}-]{1,120}", pattern):
        raise ConfigError(where, f"{pattern!r}: a broker user name with {{node}} (and {{site}}), e.g. \"{{node}}\" "
                          "or \"{site}.{node}\"")
    return pattern


def _pg_url(value: Any, where: str) -> str:
    url = _text(value, where)
    if not re.match(r"postgres(ql)?://", url):
        raise ConfigError(where, "expected postgresql://USER:PASSWORD@HOST:PORT/DATABASE "
                          "(leave it out for the embedded SQLite store)")
    parts = urlsplit(url)  # off this machine only with the server's certificate checked, its name too (issue 45)
    hosts = parse_qs(parts.query).get("host", []) + ([parts.hostname] if parts.hostname else [])
    if (hosts and not all(h.startswith("/") or _loopback(h) for h in hosts)  # not a Unix socket nor this machine
            and parse_qs(parts.query).get("sslmode") != ["verify-full"]):
        raise ConfigError(where, "the database is not on this machine: add ?sslmode=verify-full (and sslrootcert=... "
                          "if its CA is not the system's) so that the office's store is reached over TLS with the "
                          "server checked")
    return url


def _listen(example: str) -> Callable[[Any, str], str | None]:
    """HOST:PORT, or "" for none (None)."""
    def read_listen(value: Any, where: str) -> str | None:
        if value == "":
            return None
        if not isinstance(value, str) or not re.fullmatch(r"[^:\s]+:\d{1,5}", value):
            raise ConfigError(where, f"{value!r}: expected HOST:PORT{example}, or \"\" for no {where.split('.')[0]}")
        return value
    return read_listen


def _hosts(value: Any, where: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(h, str) and h.strip() for h in value):
        raise ConfigError(where, "expected a list of host names (e.g. [\"central.example.tw\"])")
    return tuple(h.strip().lower() for h in value)


def _accounts(t: Any, where: str) -> tuple[tuple[str, str, str], ...]:
    if not isinstance(t, dict):
        raise ConfigError(where, "expected a table of accounts ([dashboard.accounts.NAME])")
    out = []
    for name, a in t.items():
        at = f"{where}.{name}"
        if not re.fullmatch(r"[A-Za-z0-9_.@-]{1,64}", name):
            raise ConfigError(at, "an account name is 1-64 of A-Z, a-z, 0-9, '_', '.', '@', '-'")
        if not isinstance(a, dict):
            raise ConfigError(at, "expected a table with role and password_hash")
        for k in a:
            if k not in ("role", "password_hash"):
                raise ConfigError(f"{at}.{k}", "unknown key; known: role, password_hash")
        if a.get("role") not in login.ROLES:
            raise ConfigError(f"{at}.role", f"{a.get('role')!r}: expected one of {', '.join(login.ROLES)}")
        h = a.get("password_hash")
        if not isinstance(h, str) or not login.valid_hash(h):
            raise ConfigError(f"{at}.password_hash", "expected a hash from `edged-central hash-password`")
        out.append((name, a["role"], h))
    return tuple(out)


def _timezone(value: Any, where: str) -> str:
    tz = _text(value, where)
    try:
        zoneinfo.ZoneInfo(tz)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise ConfigError(where, f"{tz!r} is not a time zone name (e.g. Asia/Taipei)") from None
    return tz


def _language(value: Any, where: str) -> str:
    lang = normalise_language(value)
    if lang is None:
        raise ConfigError(where, f"{value!r} is not a supported language; use one of "
                          + ", ".join(f'"{x}"' for x in LANGUAGES))
    return lang


def _number(low: float, high: float, *, whole: bool = False) -> Callable[[Any, str], Any]:
    def read_number(v: Any, where: str) -> Any:
        if (not isinstance(v, (int, float)) or isinstance(v, bool) or (whole and not isinstance(v, int))
                or not low <= v <= high):
            raise ConfigError(where, f"{v!r}: expected {'a whole number' if whole else 'a number'} "
                              f"from {low:g} to {high:g}")
        return v
    return read_number


def _shown_url(url: str | None) -> str | None:
    shown = None if url is None else redact_url(url)
    if shown is not None and config_secrets.holds_password(shown.replace(":***@", "@")):
        return "(not shown: it holds a password)"  # ?password=... in the query
    return shown


# --- the sections, one per table ---------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class BrokerConfig:
    host: str = key("127.0.0.1", read=_text, doc="the MQTT broker the boxes publish to; off this machine only "
                    "over TLS (tls_ca_file)")
    port: int = key(1883, read=_whole(1, 65535, "{!r} is not a port number (1 to 65535)"), doc="1883; 8883 over TLS")
    username: str | None = key(None, read=_text, example='"central-office"', commented=True,
                               doc="the office's broker account")
    password: str | None = key(None, read=_text, show=lambda v: v and "***", example='"..."', commented=True,
                               doc="its password: in the secrets file ([secrets] file), not here")
    client_id: str = key("edged-central", read=_text, doc="one per instance")
    topic: str = key(DEFAULT_TOPIC, read=_text, doc="what the office subscribes to")
    shared_group: str | None = key(None, read=_group, example='"central"', commented=True,
                                   doc="set: subscribe as $share/<group>/<topic>, the instances of one group "
                                   "split the fleet")
    tls_ca_file: Path | None = key(None, read=_file, example='"/etc/edged/mqtt-ca.pem"', commented=True,
                                   doc="the broker's CA: the broker over TLS")
    node_username: str | None = key(None, read=_node_username, example='"{node}"', commented=True,
                                    doc="each node's broker account ({site}, {node}); set: a revoked node's "
                                    "account is disabled through mosquitto's dynamic-security plugin with the "
                                    "revocation list (docs/ref/central.md)")
    session_expiry_s: int = key(7 * 86_400, read=_seconds, toml="session_expiry", example='"7d"',
                                doc="the broker queues for us this long while we are down (default: 7d alone, "
                                "1m in a shared_group: a dead member's share goes to the others)")
    stopped_expiry_s: int = key(7 * 86_400, read=_seconds, toml="session_expiry_stopped", example='"7d"',
                                doc="the same after a clean stop (an upgrade, the office shut down): the broker "
                                "keeps what comes till it is back (design/0139)")

    @property
    def subscription(self) -> str:
        return f"$share/{self.shared_group}/{self.topic}" if self.shared_group else self.topic

    def __repr__(self) -> str:
        return repr_of(self)


_PG_EXAMPLE = '"postgresql://central:PASSWORD@db.example.org:5432/central?sslmode=verify-full"'


@dataclass(frozen=True, slots=True)
class StorageKeys:
    data_dir: Path = key(Path("edged-central-data"), read=_file, example='"edged-central-data"',
                         doc="central.db (SQLite); the instances of one group share it")
    batch: int = key(5000, read=_whole(1, 100_000, "{!r}: expected 1 to 100000 messages"), doc="messages stored per transaction at most")
    url: str | None = key(None, read=_pg_url, show=_shown_url, example=_PG_EXAMPLE, commented=True,
                          doc="several machines' shared PostgreSQL instead (docs/ref/central.md); with a "
                          "password it goes in the secrets file; off this machine only with sslmode=verify-full")
    read_url: str | None = key(None, read=_pg_url, show=_shown_url, commented=True,
                               example=_PG_EXAMPLE.replace("central:", "central_reader:"),
                               doc="its read-only role: status, reports, the dashboard (needs url)")

    def __repr__(self) -> str:
        return repr_of(self)


@dataclass(frozen=True, slots=True)
class VerifyKeys:
    interval_us: int = key(2_000_000, read=parse_duration, example='"2s"', doc="new messages are verified this often")
    gap_grace_us: int = key(30_000_000, read=parse_duration, example='"30s"',
                            doc="a missing seq becomes a finding once a later one is this old")
    silent_after_us: int = key(300_000_000, read=parse_duration, example='"5m"',
                               doc="a node heard from less recently is \"silent\"")


@dataclass(frozen=True, slots=True)
class DashboardKeys:
    listen: str | None = key("127.0.0.1:8780", read=_listen(""),
                             doc="HOST:PORT, \"\" for none; off 127.0.0.1 it needs TLS and accounts")
    allowed_hosts: tuple[str, ...] = key((), read=_hosts, example='["central.example.org"]', commented=True,
                                         doc="Host headers it answers besides its listen address")
    tls_cert_file: Path | None = key(None, read=_file, example='"/etc/edged/central-cert.pem"', commented=True,
                                     doc="the dashboard over HTTPS")
    tls_key_file: Path | None = key(None, read=_file, example='"/etc/edged/central-key.pem"', commented=True,
                                    doc="its key")
    accounts: tuple[tuple[str, str, str], ...] = key(
        (), read=_accounts, show=lambda accounts: tuple(f"{n} ({role})" for n, role, _hash in accounts), commented=True,
        example='{ lin = { role = "auditor", password_hash = "scrypt$16384$8$1$..." } }',
        doc="a table per person, written [dashboard.accounts.lin]: role auditor (everything) or technician "
        "(nodes, cameras, alarms), password_hash from `edged-central hash-password`; none: no login")

    def __repr__(self) -> str:
        return repr_of(self)


@dataclass(frozen=True, slots=True)
class ReportKeys:
    timezone: str = key("Asia/Taipei", read=_timezone, doc="compliance days are the sites' local days")
    language: str = key("en", read=_language, doc="the dashboard's pages and reports: \"en\" or \"zh-TW\" (ROC dates)")


@dataclass(frozen=True, slots=True)
class QuotaKeys:
    messages_per_second: float = key(_LIMITS.messages_per_second, read=_number(0.001, 1e9),
                                     doc="per node and instance, sustained (a 16-camera box sends about 3); what "
                                     "is over is dropped and a `quota_exceeded` finding")
    burst: int = key(_LIMITS.burst, read=_number(1, 1e12, whole=True), doc="at once: an outbox drained after an "
                     "outage")
    bytes_per_day: int = key(_LIMITS.bytes_per_day, read=_number(1, 1e15, whole=True), doc="bytes a node may send "
                             "a day")
    retained_topics: int = key(_LIMITS.retained_topics, read=_number(1, 1e9, whole=True),
                               doc="retained topics a node may hold")


@dataclass(frozen=True, slots=True)
class MetricsKeys:
    listen: str | None = key(None, read=_listen(' (e.g. "127.0.0.1:9464")'), example='"127.0.0.1:9464"',
                             commented=True, doc="HOST:PORT of the Prometheus metrics (central/ops.py); unset: none")


# The tables read into CentralConfig, in the pages' order; [secrets] is central/config_secrets.py's,
# merged in before (PAGES: all of them, for the reference and the example config).
SECTIONS: dict[str, type] = {"broker": BrokerConfig, "storage": StorageKeys, "verify": VerifyKeys,
                             "dashboard": DashboardKeys, "report": ReportKeys, "quota": QuotaKeys,
                             "metrics": MetricsKeys}
PAGES: dict[str, type] = {**SECTIONS, "secrets": config_secrets.SecretsKeys}


@dataclass(frozen=True, slots=True)
class CentralConfig:
    source: str = "(embedded default)"
    broker: BrokerConfig = BrokerConfig()
    storage: StorageKeys = StorageKeys()
    verify: VerifyKeys = VerifyKeys()
    dashboard: DashboardKeys = DashboardKeys()
    report: ReportKeys = ReportKeys()
    quota_keys: QuotaKeys = QuotaKeys()
    metrics: MetricsKeys = MetricsKeys()

    @property
    def quota(self) -> Limits:
        return Limits(**dataclasses.asdict(self.quota_keys))

    @property
    def db_path(self) -> Path:
        return self.storage.data_dir / "central.db"

    def open_store(self, *, readonly: bool = False, migrate: bool = False) -> Store:
        url = (self.storage.read_url or self.storage.url) if readonly else self.storage.url  # readers: the read-only role
        return open_store(url, self.db_path, readonly=readonly, migrate=migrate)

    @property
    def tz(self) -> zoneinfo.ZoneInfo:
        return zoneinfo.ZoneInfo(self.report.timezone)


def load(path: Path | None, *, allow_config_secrets: bool = False) -> CentralConfig:
    """The config at `path` (None: the embedded default), its secrets file merged in; a password
    in the config itself is refused unless `allow_config_secrets` (central/config_secrets.py)."""
    if path is None:
        return CentralConfig()
    try:
        data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(str(path), "no such file") from None
    except PermissionError:
        raise ConfigError(str(path), "cannot be read: permission denied; check the file's owner and mode") from None
    except OSError as exc:
        raise ConfigError(str(path), f"cannot be read: {exc.strerror or exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(str(path), f"not valid TOML: {exc}") from None
    tables = tuple(PAGES)
    for k in data:
        if k not in tables:
            raise ConfigError(k, f"unknown table; known: {', '.join(tables)}")
    base = Path(path).resolve().parent
    try:
        data = config_secrets.merge(data, base, allow_inline=allow_config_secrets)
    except config_secrets.SecretsError as exc:
        raise ConfigError(exc.where, exc.problem) from None
    read = {name: _resolved(declare.read(cls, _table(data, name), name), base) for name, cls in SECTIONS.items()}
    broker = read["broker"]
    if broker.shared_group is not None and "session_expiry" not in data.get("broker", {}):
        # one of a group: a dead member's session (and the share the broker keeps queueing to it) goes soon,
        # and the resends (issue 43) bring back what was queued there; alone: the broker keeps a week for us
        read["broker"] = dataclasses.replace(broker, session_expiry_s=60)
    read["quota_keys"] = read.pop("quota")
    return _checked(CentralConfig(source=str(path), **read))


def _table(data: dict[str, Any], name: str) -> dict[str, Any]:
    t = data.get(name, {})
    if not isinstance(t, dict):
        raise ConfigError(name, "expected a table")
    return t


def _resolved(section: Any, base: Path) -> Any:
    """The section with each file and folder it names under the config's folder (unless absolute)."""
    paths = {f.name: base / v for f in dataclasses.fields(section) if isinstance(v := getattr(section, f.name), Path)}
    return dataclasses.replace(section, **paths) if paths else section


def _checked(c: CentralConfig) -> CentralConfig:
    """What spans keys: a password needs its user; the broker, the database and the dashboard off
    this machine only over TLS (issue 45), the dashboard with accounts."""
    if c.broker.password is not None and c.broker.username is None:
        raise ConfigError("broker.password", "set username too")
    if not _loopback(c.broker.host) and c.broker.tls_ca_file is None:
        raise ConfigError("broker.tls_ca_file", f"the broker {c.broker.host} is not on this machine: talk to it over "
                          "TLS (tls_ca_file = the broker's CA, port 8883)")
    if c.storage.read_url is not None and c.storage.url is None:
        raise ConfigError("storage.read_url", "a read-only role's URL is for a PostgreSQL store: set [storage] url "
                          "too (or leave read_url out for the embedded SQLite store)")
    cert, key_file, listen = c.dashboard.tls_cert_file, c.dashboard.tls_key_file, c.dashboard.listen
    if (cert is None) != (key_file is None):
        raise ConfigError("dashboard.tls_key_file" if key_file is None else "dashboard.tls_cert_file",
                          "set both tls_cert_file and tls_key_file, or neither")
    if listen and not _loopback(listen.rsplit(":", 1)[0]) and (cert is None or not c.dashboard.accounts):
        raise ConfigError("dashboard.listen", f"{listen!r} is reachable from the network: set tls_cert_file, "
                          "tls_key_file and at least one [dashboard.accounts.NAME] (or listen on 127.0.0.1)")
    return c


def _loopback(host: str) -> bool:
    return host.strip("[]") in ("127.0.0.1", "::1", "localhost") or host.startswith("127.")
