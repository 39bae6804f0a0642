"""The Debian package's version this process runs from (design/0253), or None off a package.

The package writes PACKAGE_VERSION beside pyvenv.cfg (debian/finish-venv); the versioned install
folder (/opt/edged/VERSION) is a copy of that environment, so `sys.prefix` names the one in use.
The box reports it in its birth ("package"), which the office's dashboard shows per box.
"""

from __future__ import annotations

import sys
from pathlib import Path

from edged.i18n import _


def with_package(code: str, package: str | None) -> str:
    """A version as a person reads it: the code's, and the package's where there is one (`edged
    --version`, `edgectl status`): on a box, the package's names what is installed (issue 78)."""
    return _("{version} (package {package})").format(version=code, package=package) if package else code


def package_version(prefix: str | None = None) -> str | None:
    try:
        text = (Path(prefix or sys.prefix) / "PACKAGE_VERSION").read_text(encoding="ascii").strip()
    except (OSError, UnicodeDecodeError):
        return None
    return text or None
