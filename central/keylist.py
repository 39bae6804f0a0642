"""The fleet's node keys from the births the central office received, signed with its own key
(design/0065): `edged-central keys` and the dashboard's /keys.json.

Each node's keys in the order they were first announced, each with when it was first and last
seen in a birth (received time): a change is a new entry, so every change stays on the list.
The central key lives in the data folder (central-key/, made on first use, 0600).
"""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

from central.store import Store
from storage import fleetkeys, nodekey

KEY_DIR = "central-key"


def central_key(data_dir: Path) -> nodekey.NodeKey:
    """The central office's signing key; made at the first call. Blocking: not on the event loop."""
    folder = Path(data_dir) / KEY_DIR
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    return nodekey.load_or_create(folder)


def node_keys(births: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Pure: [{site, node, keys: [{public_key, fingerprint, first_us, last_us}]}] from birth rows
    ({node, public_key, received_us}) in any order; keys that do not parse are left out."""
    out: dict[str, list[dict[str, Any]]] = {}
    for b in sorted(births, key=lambda r: (r["node"], r["received_us"])):
        k = b.get("public_key")
        if not isinstance(k, str):
            continue
        try:
            raw = base64.b64decode(k, validate=True)
            if len(raw) != 32:
                continue
        except ValueError:
            continue
        keys = out.setdefault(b["node"], [])
        if keys and keys[-1]["public_key"] == k:
            keys[-1]["last_us"] = max(keys[-1]["last_us"], b["received_us"])
        else:
            keys.append({"public_key": k, "fingerprint": nodekey.fingerprint(raw), "first_us": b["received_us"],
                         "last_us": b["received_us"]})
    return [{"site": n.split("/", 1)[0], "node": n.split("/", 1)[1], "keys": ks} for n, ks in sorted(out.items())]


def signed(store: Store, key: nodekey.NodeKey, now_us: int) -> dict[str, Any]:
    rows = list(store.db.query("SELECT node, public_key, received_us FROM births WHERE public_key IS NOT NULL"))
    return fleetkeys.sign(key, node_keys(rows), now_us)
