"""The fleet's node keys from the office's register of enrolments, signed with its own key
(design/0065, amended by design/0097): `edged-central keys` and the dashboard's /keys.json.

Each node's keys in the order they were accepted, each with when it was accepted (`first_us`)
and, once revoked, when (`last_us` and `revoked_us`; both null while the key is in force). A key only
announced in a birth is never on it (issue 40): a broker password is not an enrolment.
The central key lives in the data folder (central-key/, made on first use, 0600); the CA's key
is another (central-ca/, design/0132), whose signed word for the office's key the list carries.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from central.keys import ca
from storage.keys import fleetkeys, nodekey, signed_doc

KEY_DIR = ca.KEY_DIR


def central_key(data_dir: Path) -> nodekey.NodeKey:
    """The central office's signing key (not the CA's, design/0132); made at the first call. Blocking."""
    return ca.central_key(data_dir)


def node_keys(entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Pure: [{site, node, keys: [{public_key, fingerprint, serial, first_us, last_us, revoked_us}]}]
    from the register's enrolments (central/keys/ca.py `enrolments`)."""
    out: dict[str, list[dict[str, Any]]] = {}
    for e in sorted(entries, key=lambda r: (r["node"], r["accepted_us"])):
        out.setdefault(e["node"], []).append({
            "public_key": e["public_key"], "fingerprint": e["fingerprint"], "serial": e["serial"],
            "first_us": e["accepted_us"], "last_us": e["revoked_us"],
            "revoked_us": e["revoked_us"]})
    return [{"site": n.split("/", 1)[0], "node": n.split("/", 1)[1], "keys": ks} for n, ks in sorted(out.items())]


def signed(data_dir: Path, key: nodekey.NodeKey, now_us: int) -> dict[str, Any]:
    """The signed key list; with the CA's word for the office's key when the CA gave one (a
    verifier holding only the CA certificate checks it, design/0132). Raises ca.RegisterError
    when the register was altered by hand: no list is made from it."""
    nodes = node_keys(ca.enrolments(ca.read_register(data_dir)))
    endorsement = ca.endorsement(data_dir)
    if endorsement is None:
        return fleetkeys.sign(key, nodes, now_us)
    return signed_doc.sign(key, {"format": fleetkeys.FORMAT, "made_us": now_us, "nodes": nodes,
                                 "office_endorsement": endorsement})
