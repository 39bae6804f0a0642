"""The media user on a test box (design/0323): edged-media where the box has the account, else nobody
(an unprivileged account that owns nothing here), and an interpreter it may run."""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from storage.media import user as media_user


def account() -> media_user.MediaUser:
    """The media account; MEDIA_USER set to nobody where edged-media was never made."""
    if media_user.media_user() is None:
        media_user.MEDIA_USER = "nobody"
    user = media_user.media_user()
    assert user is not None
    return user


def interpreter_for(user: media_user.MediaUser) -> tuple[str, dict[str, str]]:
    """An interpreter `user` may run with this environment's packages, and the environment it needs:
    this one, or (where it sits in root's home, 0700) the system's python3.X with a sitecustomize that
    adds this environment's site folder (the box's /opt/edged/venv is everyone's to run)."""
    try:
        subprocess.run([sys.executable, "-c", "0"], user=user.uid, group=user.gid, extra_groups=[], check=True)
        return sys.executable, {}
    except PermissionError:
        pass
    shim = Path(tempfile.mkdtemp(prefix="edged-media-python-"))
    shim.chmod(0o755)
    site = next(p for p in sys.path if p.endswith("site-packages"))
    (shim / "sitecustomize.py").write_text(f"import site\nsite.addsitedir({site!r})\n")
    (shim / "sitecustomize.py").chmod(0o644)
    python = shutil.which(f"python{sys.version_info.major}.{sys.version_info.minor}", path="/usr/bin")
    assert python is not None, "no system python of this version for the media user"
    return python, {"PYTHONPATH": str(shim)}
