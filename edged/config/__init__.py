"""Load and validate edged's TOML config.

Everything is checked at load time so a bad file stops the daemon before it touches a
camera or the disk; every error names the path of the bad field (``cameras[2].url``) and
never echoes a camera password (invariant 8).

The config itself is edged/config/loader.py, loaded when a name of it is first asked for
(`from edged.config import load_config`): a module of the package (edged.config.values,
edged.config.forms) is had without the forty others, as edgectl's verbs need (design/0390).
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from edged.config.loader import *  # noqa: F403 - the names __getattr__ gives, for the type checker
    from edged.config.loader import __all__ as __all__


def __getattr__(name: str) -> Any:
    import edged.config.loader  # noqa: F401 - read from sys.modules: `from edged.config import loader` would ask here again

    loader = sys.modules["edged.config.loader"]
    if name in globals():   # a module of the package that loading the config imported
        return globals()[name]
    if hasattr(loader, name):
        return getattr(loader, name)
    # not (yet) a name of the config: `from edged.config import backfill` then imports the module of that name
    raise AttributeError(f"module 'edged.config' has no attribute {name!r}")
