"""The settings in force, as plain data for the periodic audit report (docs/requirements.md
R7.2: "an audit report of the system's settings and use"): retention per camera, the request
policy, the health thresholds (the site's and each camera's own), the inspection and audit
schedules, the camera list; and a hash of it all, so two reports show whether anything changed.
No camera URL (it may hold a password) and no secret is in it."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any


def plain(value: Any) -> Any:
    """A config value as JSON data: dataclasses as objects, sets sorted, paths as text."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, Mapping):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, (set, frozenset)):
        return sorted(plain(v) for v in value)
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    if isinstance(value, Path):
        return str(value)
    return value


def settings_in_force(cfg: Any) -> dict[str, Any]:
    """`cfg`: an edged.config.Config."""
    r = cfg.retention
    cameras = [{"id": c.id, "name": c.name, "enabled": c.enabled, "mode": c.mode, "kind": c.kind,
                "location": c.location, "audio_required": c.audio_required,
                "min_retention_us": r.min_retention_us if c.min_retention_us is None else c.min_retention_us,
                "max_retention_us": r.max_retention_us if c.max_retention_us is None else c.max_retention_us,
                "own_retention": c.min_retention_us is not None or c.max_retention_us is not None,
                "health": dict(plain(dict(c.health)))} for c in cfg.cameras]
    return {
        "site": plain(cfg.site),
        "retention": {k: v for k, v in plain(r).items() if k != "allow_short_for_tests"},
        "cameras": cameras,
        "policy": plain(cfg.policy),
        "health": plain(cfg.health),
        "inspection": plain(cfg.inspection),
        "audit": plain(cfg.audit),
        "maintenance": plain(cfg.maintenance),
    }


def settings_report(cfg: Any) -> dict[str, Any]:
    """The settings, their hash, and the config file's hash as it is now (reads the file: call it
    off the event loop). A file hash unlike the one loaded means an edit not yet reloaded."""
    doc = settings_in_force(cfg)
    try:
        file_sha256: str | None = hashlib.sha256(Path(cfg.source).read_bytes()).hexdigest()
    except OSError:
        file_sha256 = None
    return {"in_force": doc, "sha256": settings_sha256(doc), "config_file": cfg.source,
            "config_file_sha256": file_sha256}


def settings_sha256(doc: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
                          .encode()).hexdigest()
