"""`edgectl doctor`: one page a technician reads before leaving a site (design/0077). It gathers
facts here (the host clock, the unit, the config's secrets file, the data disk's mount) and from
the daemon (status, cameras, alarms, retention: root's reads, edged/rules/roles.py), and
edged/rules/doctor.py judges them. Exit status 0 (all pass), 1 (warnings) or 2 (failures).
"""

from __future__ import annotations

import ctypes
import shutil
import subprocess
import tomllib
from pathlib import Path
from typing import Any

from edged.cli.display import Verbs, JSON, table
from edged import DEFAULT_CONFIG_PATH
from edged.config.values import redact_url
from edged.control.client import call
from edged.control.protocol import DaemonDown, RequestError
from edged.i18n import _
from edged.rules import doctor, estimate
from storage.media import user as media_user
from storage.disk import volume

MARK = {doctor.PASS: "ok", doctor.WARN: "WARN", doctor.FAIL: "FAIL"}
UNIT = "edged.service"
TIMESYNCD = Path("/run/systemd/timesync/synchronized")
TIME_ERROR = 5  # adjtimex's return: the clock is not synchronised (STA_UNSYNC)


class _Timex(ctypes.Structure):  # struct timex (linux/timex.h): only `modes` is set (0: read only)
    _fields_ = [("modes", ctypes.c_uint), ("_rest", ctypes.c_byte * 204)]


def _sync() -> dict[str, Any]:
    """The kernel's word (adjtimex: ntpd, chrony and timesyncd all set it), else timesyncd's flag
    file: what the daemon reads (edged/daemon/host_clock.py, which edgectl may not import)."""
    try:
        state = ctypes.CDLL(None, use_errno=True).adjtimex(ctypes.byref(_Timex()))
        if state >= 0:
            return {"synced": state != TIME_ERROR, "source": "adjtimex"}
    except (OSError, AttributeError):
        pass
    if TIMESYNCD.exists():
        return {"synced": True, "source": "timesyncd"}
    return {"synced": None, "source": ""}


def _run(cmd: list[str], timeout: float = 10) -> str | None:
    if shutil.which(cmd[0]) is None:
        return None
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return out.stdout


def _unit() -> dict[str, Any] | None:
    text = _run(["systemctl", "show", UNIT, "-p", "LoadState,ActiveState,NRestarts"])
    if not text:
        return None
    props = dict(line.split("=", 1) for line in text.splitlines() if "=" in line)
    if props.get("LoadState") != "loaded":
        return None
    exposure = None
    sec = _run(["systemd-analyze", "security", "--no-pager", UNIT], timeout=20) or ""
    for line in sec.splitlines():
        if "Overall exposure level" in line:
            try:
                exposure = float(line.split(":", 1)[1].split()[0])
            except (IndexError, ValueError):
                pass
    return {"active": props.get("ActiveState"), "restarts": int(props.get("NRestarts") or 0), "exposure": exposure}


def _media() -> dict[str, Any]:
    """The media workers' account and socket (design/0323)."""
    return {"user": media_user.MEDIA_USER, "made": media_user.media_user() is not None,
            "socket": str(media_user.SOCKET), "listening": media_user.SOCKET.is_socket()}


def _config(path: Path | None) -> tuple[dict[str, Any] | None, Path | None]:
    path = path or (DEFAULT_CONFIG_PATH if DEFAULT_CONFIG_PATH.exists() else None)
    if path is None:
        return None, None
    try:
        return tomllib.loads(path.read_text(encoding="utf-8-sig")), path
    except (OSError, tomllib.TOMLDecodeError):
        return None, path


def _secrets(raw: dict[str, Any] | None, path: Path | None) -> dict[str, Any] | None:
    """The secrets file's owner and mode, and any password left in the config itself."""
    if raw is None:
        return None
    inline = [f"cameras[{i}].url" for i, c in enumerate(raw.get("cameras") or [])
              if isinstance(c, dict) and isinstance(c.get("url"), str) and redact_url(c["url"]) != c["url"]]
    if isinstance(raw.get("mqtt"), dict) and "password" in raw["mqtt"]:
        inline.append("mqtt.password")
    name = (raw.get("secrets") or {}).get("file")
    if not name:
        return {"path": None, "inline": inline}
    file = Path(name) if Path(name).is_absolute() or path is None else path.parent / name
    try:
        st = file.stat()
    except OSError:
        return {"path": str(file), "exists": False, "inline": inline}
    return {"path": str(file), "exists": True, "mode": st.st_mode, "uid": st.st_uid, "inline": inline}


def _mount_of(folder: Path) -> tuple[str | None, str | None]:
    text = _run(["findmnt", "-n", "-o", "TARGET,SOURCE", "-T", str(folder)])
    parts = (text or "").split()
    return (parts[0], parts[1]) if len(parts) >= 2 else (None, None)


def _disk(data_dir: str | None) -> dict[str, Any] | None:
    if not data_dir:
        return None
    folder = Path(data_dir)
    try:
        on_root = folder.stat().st_dev == Path("/").stat().st_dev
    except OSError:
        return None
    mount, source = _mount_of(folder)
    return {"on_root": on_root, "mount": mount, "source": source, "identity": volume.read_identity(folder)}


def gather(ctx: Any, config: Path | None) -> dict[str, Any]:
    raw, path = _config(config)
    mqtt = (raw or {}).get("mqtt") or {}
    facts: dict[str, Any] = {"sync": _sync(), "unit": _unit(), "secrets": _secrets(raw, path), "media": _media(),
                             "mqtt": {"enabled": bool(mqtt) and mqtt.get("enabled", True) is not False,
                                      "tls": isinstance(mqtt.get("tls"), dict)}}
    try:
        status = call(ctx.socket, "status", {})
        facts["status"] = status
        if status.get("state") == "waiting":
            return facts
        facts["disk"] = _disk(status.get("data_dir"))
        facts["cameras"] = call(ctx.socket, "cameras", {})["cameras"]
        facts["alarms"] = call(ctx.socket, "alarms", {})
        facts["estimate"] = estimate.estimate(call(ctx.socket, "retention", {}))
        facts["time"] = call(ctx.socket, "time.status", {})  # design/0095
    except (DaemonDown, RequestError) as exc:
        facts.setdefault("status", None)
        facts["daemon_error"] = str(exc)
        if facts.get("status") is not None and "cameras" not in facts:
            facts["status"] = None
    return facts


def cmd_doctor(ctx: Any, args: Any) -> tuple[Any, str]:
    checks = doctor.judge(gather(ctx, args.config))
    args.exit_status = doctor.exit_status(checks)
    rows = [[MARK[c.status], c.id, c.detail, c.fix or ""] for c in checks]
    summary = {0: _("all checks pass"), 1: _("warnings: read them before you leave"),
               2: _("FAILURES: fix them before you leave")}[args.exit_status]
    return doctor.as_json(checks), table([_("RESULT"), _("CHECK"), _("WHAT"), _("TO FIX")], rows) + "\n" + summary


def register(sub: Verbs) -> None:
    p = sub.add_parser("doctor", parents=[JSON], help=_("check the box before leaving the site: clock, disk, unit, "
                                                        "secrets, cameras, broker, audit, inspections"))
    p.add_argument("--config", type=Path, help=_("the config (default /etc/edged/edged.toml), for the secrets file "
                                                 "and the broker"))
    p.set_defaults(handler=cmd_doctor)
