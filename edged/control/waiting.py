"""The control socket while the daemon waits for its catalog (design/0023, 0025's addendum).

An empty data folder at start-up is as likely an unmounted disk as a new installation, so
the daemon waits for the catalog rather than make one (edged/app.py). It is running
then, and `edgectl status` says so: that it waits, for what, and what the operator can do.
Nothing else can be answered without a catalog (no accounts, no footage): every other verb
is refused with the same words. The answers reveal no more than the unit's STATUS line.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from edged import __version__
from edged.control.server import Caller, ControlServer
from edged.i18n import _, set_language
from edged.version import package_version

WAITING = "waiting"


class WaitingControl(ControlServer):
    def __init__(self, path: Path, group: str | None, data_dir: Path, started_us: int):
        super().__init__(path, {}, None, group=group)
        self.data_dir, self.started_us = data_dir, started_us

    def state(self) -> dict[str, Any]:
        return {
            "state": WAITING, "running": True, "recording": False, "pid": os.getpid(), "version": __version__,
            "package": package_version(),
            "started_us": self.started_us, "data_dir": str(self.data_dir),
            "reason": _("no catalog in {path}: the data disk is not mounted (or not yet), or this is a new "
                        "installation").format(path=self.data_dir),
            "actions": [
                _("mount the data disk at the data folder: edged starts recording by itself once its catalog is there"),
                _("a new installation or a replaced disk: `edged init-data --config FILE --reason ...` (recorded on "
                  "the audit chain), and edged starts"),
            ],
        }

    async def _answer(self, line: bytes, caller: Caller) -> dict[str, Any]:
        try:
            request = json.loads(line)
            op, lang = request.get("op"), request.get("lang")
        except (ValueError, AttributeError):
            op = lang = None
        set_language(lang if isinstance(lang, str) else None)  # answer in the asker's language
        if op in ("status", "ping"):
            return {"ok": True, "result": self.state() if op == "status" else {"pong": True, "user": caller.os_user}}
        st = self.state()
        return {"ok": False, "code": WAITING, "error": _(
            "edged is running but not recording: it waits for its data disk ({reason}); nothing can be read or "
            "changed until then. To do: {actions}").format(reason=st["reason"], actions=_("; or ").join(st["actions"]))}
