"""The [audit] and [maintenance] tables: when the periodic audit is due (R7.2) and where a
maintenance window's copy of the catalog goes (R1.7)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from edged.config.values import ConfigError, _bool, _check_keys, _describe, _path, parse_duration


@dataclass(frozen=True, slots=True)
class AuditConfig:
    every_months: int = 6            # R7.2 (002 §17): an audit at least every six months; 0: not tracked


@dataclass(frozen=True, slots=True)
class MaintenanceConfig:
    backup_dir: Path | None = None   # R1.7: the catalog copy's folder, best on another disk; None: <data_dir>/backups
    require_attendance: bool = True  # R8.2 (000 §3(3)1, 002 §6(3)): a window names the manager who attends
    max_window_us: int = 8 * 3600 * 1_000_000  # a window ends by itself after this (issue 27: none blocks retention for ever)


def whole(value: Any, field: str, low: int, high: int) -> int:
    if not isinstance(value, int) or isinstance(value, bool):
        raise ConfigError(field, f"expected a whole number, found {_describe(value)}")
    if not low <= value <= high:
        raise ConfigError(field, f"{value} is out of range ({low} to {high})")
    return value


def _audit(t: dict[str, Any]) -> AuditConfig:
    _check_keys(t, "audit", ("every_months",))
    months = whole(t.get("every_months", AuditConfig().every_months), "audit.every_months", 0, 24)
    return AuditConfig(every_months=months)


def _maintenance(t: dict[str, Any], base_dir: Path | None) -> MaintenanceConfig:
    _check_keys(t, "maintenance", ("backup_dir", "require_attendance", "max_window"),
                {"keep_backups": "it is [accounts] keep_backups"})
    folder = _path(t["backup_dir"], "maintenance.backup_dir", base_dir) if "backup_dir" in t else None
    longest = MaintenanceConfig().max_window_us
    if "max_window" in t:
        if not isinstance(t["max_window"], str):
            raise ConfigError("maintenance.max_window", f"expected a duration such as \"8h\", found {_describe(t['max_window'])}")
        longest = parse_duration(t["max_window"], "maintenance.max_window")
        if not 10 * 60 * 1_000_000 <= longest <= 7 * 86_400 * 1_000_000:
            raise ConfigError("maintenance.max_window", f"{t['max_window']} is out of range (10m to 7d): a window "
                                                        "holds back all destruction while it is open")
    return MaintenanceConfig(backup_dir=folder, require_attendance=_bool(t.get("require_attendance", True),
                                                                         "maintenance.require_attendance"),
                             max_window_us=longest)
