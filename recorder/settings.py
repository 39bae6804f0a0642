"""A camera recorder's settings (recorder/camera.py), the worker's for all its cameras; a camera's
own keys override its fields by name (edged/config, `worker=`). Apart from the loop so that the loop's
module keeps to its size."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True, slots=True)
class Settings:
    data_dir: Path
    segment_us: int
    fragment_us: int
    fsync_us: int
    connect_timeout_us: int
    read_timeout_us: int
    reconnect_max_us: int
    sample_us: int = 10_000_000  # one keyframe per camera this often to the image checks; 0 = off
    sample_max_us: int = 60_000_000  # ... or less often, to this, to the CPU budget (recorder/sample_budget.py)
    site: str = ""               # provenance written into each segment file (segment.provenance)
    node: str = ""
