"""An office whose CA was made over its own key (design/0097) splits the two (design/0132):
`edged-central nodes ca --split`, run once by root (docs/guide/office-ca.md).

The key that signed the CA certificate stays the CA's: the boxes keep the CA they pinned, the
certificates they hold and the exports they signed stay checked. It moves into `central-ca/`
(with `ca.pem`), and the office gets a new key in `central-key/` for `cmd/time`, key lists and
archives, which the CA vouches for (office-key.json). The plain register is carried into the
signed chain line by line (`adopted`: the line as it was, its who and when), so every revocation
stays one. What the split leaves behind in `central-key/` is renamed `*.before-split` (public
files) and `before-split.json` names the old key's fingerprint, which `edged-central restore`
still takes for the months archived before. Every box's `[mqtt] command_key` must then be set to
the new key's public half (cmd/time signed by the new key is refused until then).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from central.keys import ca, register
from storage.disk.fsutil import fsync_dir, replace_durably
from storage.keys import nodekey

RECORD = "before-split.json"
OLD_REGISTER = "enrolments.jsonl"


def earlier_fingerprint(data_dir: Path) -> str | None:
    """The office key's fingerprint before the split (archives made before it), if there was one."""
    try:
        return str(json.loads((Path(data_dir) / ca.KEY_DIR / RECORD).read_text(encoding="utf-8"))["old_fingerprint"])
    except (FileNotFoundError, KeyError, ValueError):
        return None


def _old_events(path: Path) -> list[dict[str, Any]]:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return []
    return [{**json.loads(line), "adopted": True} for line in text.splitlines() if line.strip()]


def split(data_dir: Path, by: str, now_us: int) -> dict[str, Any]:
    """Move the office's CA (key, certificate, register) to central-ca/, give the office a new key."""
    old, new = Path(data_dir) / ca.KEY_DIR, ca.ca_folder(data_dir)
    if not (old / ca.CA_CERT).exists():
        raise ca.CAError(f"no CA made over the office's key in {old}: nothing to split")
    if new.exists() and any(new.iterdir()):
        raise ca.CAError(f"{new} is not empty: the CA was split already, or made anew")
    if not by.strip():
        raise ca.CAError("say who splits the CA (--by NAME): it is on the office's record")
    key = nodekey.load_or_create(old)
    new.mkdir(mode=0o755, parents=True, exist_ok=True)
    replace_durably(new / nodekey.KEY_FILE, (old / nodekey.KEY_FILE).read_bytes(), 0o600)
    replace_durably(new / ca.CA_CERT, (old / ca.CA_CERT).read_bytes(), 0o644)
    events = _old_events(old / OLD_REGISTER)
    events.append({"event": "split", "at_us": now_us, "by": by.strip(), "os_user": ca.os_user(),
                   "old_office_fingerprint": key.fingerprint})
    register.append(new, nodekey.load_or_create(new), events)
    replace_durably(old / RECORD, (json.dumps({"old_fingerprint": key.fingerprint, "split_us": now_us}) + "\n").encode())
    for name in (ca.CA_CERT, OLD_REGISTER, ca.CRL_FILE, nodekey.PUBLIC_PEM):
        if (old / name).exists():
            os.replace(old / name, old / f"{name}.before-split")
    os.unlink(old / nodekey.KEY_FILE)   # its one copy now is the CA's, in central-ca/ (fsynced above)
    fsync_dir(old)
    office = ca.central_key(data_dir)   # the office's new key
    ca_key, _cert = ca.ca_cert(data_dir, now_us)   # with the CA's word for the new office key
    ca.write_crl(data_dir, now_us)
    return {"ca_fingerprint": ca_key.fingerprint, "office_fingerprint": office.fingerprint,
            "adopted": len(events) - 1}
