"""The [audit] and [maintenance] tables: when the periodic audit is due (R7.2) and where a
maintenance window's copy of the catalog goes (R1.7)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from storage import declare
from storage.declare import check_keys, key, read
from edged.config.values import ConfigError, _bool, _describe, _path, parse_duration


def whole(value: Any, field: str, low: int, high: int) -> int:
    return declare.whole(low, high, "a whole number")(value, field)


def _max_window(value: Any, field: str) -> int:
    if not isinstance(value, str):
        raise ConfigError(field, f"expected a duration such as \"8h\", found {_describe(value)}")
    longest = parse_duration(value, field)
    if not 10 * 60 * 1_000_000 <= longest <= 7 * 86_400 * 1_000_000:
        raise ConfigError(field, f"{value} is out of range (10m to 7d): a window holds back all destruction while "
                                 "it is open")
    return longest


@dataclass(frozen=True, slots=True)
class AuditConfig:
    every_months: int = key(6, read=declare.whole(0, 24, "a whole number"),
                            doc="R7.2 (002 §17): the periodic audit at least this often; late: audit_overdue; "
                                "0: not tracked")


@dataclass(frozen=True, slots=True)
class MaintenanceConfig:
    backup_dir: Path | None = key(None, example='"/mnt/backup/edged"',
                                  doc="R1.7: the catalog copy of each window, on another disk (default: "
                                      "<data_dir>/backups, on the footage's disk: warned about); a window begun with "
                                      "--touches-storage first copies the footage here (footage/), and needs it set, "
                                      "on another disk than the footage, with room (design/0083). edged never "
                                      "deletes those copies: the site does, by its own rule, once the work is done")
    require_attendance: bool = key(True, read=_bool, doc="R8.2 (000 §3(3)1, 002 §6(3)): `maintenance begin` names "
                                                         "the manager who attends (--attended-by)")
    # issue 27: none blocks retention for ever
    max_window_us: int = key(8 * 3600 * 1_000_000, toml="max_window", read=_max_window, example='"8h"',
                             doc="a window ends by itself after this (10m to 7d), warned 30 min before")


def _audit(t: dict[str, Any]) -> AuditConfig:
    return read(AuditConfig, t, "audit")


def _maintenance(t: dict[str, Any], base_dir: Path | None) -> MaintenanceConfig:
    hints = {"keep_backups": "it is [accounts] keep_backups"}
    check_keys(MaintenanceConfig, t, "maintenance", hints)
    folder = _path(t["backup_dir"], "maintenance.backup_dir", base_dir) if "backup_dir" in t else None
    return read(MaintenanceConfig, t, "maintenance", hints, backup_dir=folder)
