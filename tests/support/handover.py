"""What a handover's (or a restart's) tests and bench read: the gap per camera across it, from the
catalog's segments (tests/test_package.py's gaps_across), the daemon's pid from its node row, and a
segment decoded whole with ffmpeg -xerror."""

from __future__ import annotations

import os
import subprocess

from tests.support.catalog import node_value
from tests.support.daemon import Daemon


def decodes(path: os.PathLike[str] | str) -> str:
    """What ffmpeg says decoding the whole file with -xerror (empty: clean)."""
    out = subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-xerror", "-i", str(path), "-f", "null", "-"],
                         capture_output=True, text=True, timeout=120)
    return out.stderr or ("" if out.returncode == 0 else f"ffmpeg exited with {out.returncode}")


def gaps_across(d: Daemon, cameras: list[str], began_us: int, ended_us: int) -> dict[str, float]:
    """Per camera, the longest time without footage between two consecutive segments over the window
    of the handover (tests/test_package.py's measure)."""
    out = {}
    for cam in cameras:
        mine = [s for s in d.segments(cam) if s["end_us"]]
        pairs = [(a, b) for a, b in zip(mine, mine[1:]) if a["end_us"] <= ended_us and b["start_us"] >= began_us]
        assert pairs and mine[0]["start_us"] < began_us and mine[-1]["start_us"] > ended_us, (cam, mine)
        out[cam] = max(b["start_us"] - a["end_us"] for a, b in pairs) / 1e6
        print(cam, "gaps between consecutive segments across the handover (ms):",
              [round((b["start_us"] - a["end_us"]) / 1e3, 1) for a, b in pairs])
    return out


def node_pid(d: Daemon) -> int | None:
    pid = node_value(d, "pid")
    return int(pid) if pid is not None else None


def alive(pid: int) -> bool:
    """The process runs (a zombie, ended but not yet waited for by its parent, does not)."""
    try:
        stat = open(f"/proc/{pid}/stat").read()
    except FileNotFoundError:
        return False
    return stat[stat.rindex(")") + 2:][:1] != "Z"
