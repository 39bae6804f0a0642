"""The office's receipt kept beside an export (design/0318): the box heard it on `cmd/receipt`
(mqtt/receipt.py checked it against the office's key) and keeps it in the export's staged folder,
where `edgectl export-receipt` takes it from. The verifier core judges it
(edged_evidence_check/check.py `office_receipt`)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from storage.disk.fsutil import replace_durably
from storage.export.evidence import MANIFEST, RECEIPT
from storage.export.checking import read_export_file


def keep_receipt(folder: Path, receipt: dict[str, Any]) -> bool:
    """Keep the office's receipt (already checked against the office's key) in the export's
    folder, if the folder still holds the manifest it names and no receipt yet; whether it was
    kept. Blocking."""
    folder = Path(folder)
    try:
        body = read_export_file(folder, MANIFEST)
    except OSError:
        return False  # gone (handed over and discarded) or not an export: nothing to keep it beside
    if hashlib.sha256(body).hexdigest() != receipt.get("manifest_sha256") or (folder / RECEIPT).exists():
        return False
    replace_durably(folder / RECEIPT, (json.dumps(receipt, indent=1, sort_keys=True) + "\n").encode())
    return True
