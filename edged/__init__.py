"""edged: evidence-grade CCTV recorder."""
from pathlib import Path

__version__ = "0.1.0"
# Here, not in edged.config: `edged run` reads it before importing the config's validation (design/0025).
DEFAULT_CONFIG_PATH = Path("/etc/edged/edged.toml")
