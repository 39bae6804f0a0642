"""What a change of the retention policy changes (design/0022): each setting that differs, and the
cameras whose maximum went down, which keep their footage by the old maximum for the grace period
(storage/retention/grace.py records them). Pure."""

from __future__ import annotations

from typing import Any, Iterable


def policy_changes(old: dict[str, Any], new: dict[str, Any]) -> list[dict[str, Any]]:
    """What differs between two policy documents (retention_grace.policy_doc): one entry per
    setting, {"setting", "old", "new"}, site settings first, then per-camera overrides."""
    out = [{"setting": k, "old": old.get(k), "new": new.get(k)}
           for k in ("min_us", "max_us", "reserve", "on_full") if old.get(k) != new.get(k)]
    oc, nc = old.get("cameras", {}), new.get("cameras", {})
    for cam in sorted(set(oc) | set(nc)):
        for k in ("min_us", "max_us"):
            a, b = oc.get(cam, {}).get(k), nc.get(cam, {}).get(k)
            if a != b:
                out.append({"setting": f"cameras.{cam}.{k}", "old": a, "new": b})
    return out


def effective_max(doc: dict[str, Any], camera: str) -> int:
    return int(doc.get("cameras", {}).get(camera, {}).get("max_us") or doc["max_us"])


def lowered_max(old: dict[str, Any], new: dict[str, Any], cameras: Iterable[str]) -> dict[str, tuple[int, int]]:
    """Cameras whose effective max retention went down: camera -> (old max, new max)."""
    out = {}
    for cam in sorted(set(cameras)):
        a, b = effective_max(old, cam), effective_max(new, cam)
        if b < a:
            out[cam] = (a, b)
    return out
