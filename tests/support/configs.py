"""Config files for the config tests: a full one, a minimal one, and how to fail loading them."""

from __future__ import annotations

from pathlib import Path

import pytest

from edged.config import Config, ConfigError, load_config
from storage.retention.policy import policy_for

SECRET = "hunter2-Secret"
DAY = 86_400_000_000

FULL = f"""
[site]
id = "town-hall"
name = "Town hall, Main St"
node = "node2"

[storage]
data_dir = "/srv/edged"
segment_length = "2m"
fragment_length = "500ms"
fsync_interval = "1.5s"

[recorder]
workers = 4
connect_timeout = "3s"
read_timeout = "10s"
reconnect_max = "1m30s"

[retention]
min_retention = "90d"
max_retention = "180d"
reserve = "50GB"
on_full = "stop"
interval = "5m"
evidence_hold = "14d"

[control]
socket = "/run/edged/control.sock"

[[cameras]]
id = "lobby"
name = "Lobby"
url = "rtsp://viewer:{SECRET}@10.0.0.21:554/stream1"
location = "Ground floor"
audio_expected = true
max_retention = "120d"

[[cameras]]
id = "car_park-2"
url = "rtsps://10.0.0.22/main"
enabled = false

[[cameras]]
id = "test"
url = "synthetic:?width=1280&height=720&fps=20"
"""

MINIMAL = """
[site]
id = "s1"
"""


def retention_for(cfg: Config, camera_id: str) -> tuple[int, int]:
    """The (min, max) retention in microseconds the retention pass applies to a camera's footage
    (the planner's policy built from the config). A camera not (or no longer) in the config gets
    the site's values, so footage of a removed camera is still destroyed on time."""
    limits = policy_for(cfg.retention, cfg.cameras, 0).limits(camera_id)
    return limits.min_us, limits.max_us


def write(tmp_path: Path, text: str, name: str = "edged.toml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def error_for(tmp_path: Path, text: str) -> ConfigError:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as info:
        load_config(path)
    return info.value


def camera_toml(**fields: object) -> str:
    lines = [MINIMAL, "[[cameras]]"]
    for key, value in fields.items():
        lines.append(f"{key} = {value}")
    return "\n".join(lines) + "\n"
