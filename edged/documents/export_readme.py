"""README.txt of an evidence export (docs/requirements.md R5.5, R6): what the folder is, for
whom, how to check it and how to treat it, in the site's language. Its text is also in the
signed manifest (`readme`), so `edgectl verify` notices a changed README."""

from __future__ import annotations

from typing import Any

from edged.documents import Doc
from edged.i18n import _


def readme_text(doc: Doc, header: dict[str, Any], from_us: int, to_us: int, made_us: int) -> str:
    """Call it with the document's language current (i18n.speaking)."""
    grant, request = header.get("grant") or {}, header.get("request") or {}
    site = (header.get("site") or {}).get("name") or (header.get("site") or {}).get("id") or ""
    lines = [
        _("Evidence export from the CCTV recorder of {site}").format(site=site),
        "",
        _("Request {request}, grant {grant}; copied by {custodian} for {recipient} on {date}.").format(
            request=request.get("id", "-"), grant=grant.get("id", "-"), custodian=doc.who(header.get("custodian")),
            recipient=header.get("recipient") or "-", date=doc.datetime(made_us)),
        _("Footage from {start} to {end}; cameras: {cameras}.").format(
            start=doc.datetime(from_us), end=doc.datetime(to_us), cameras=", ".join(grant.get("cameras") or [])),
        "",
        _("Each camera's footage is an MP4 file (or several parts), copied without re-encoding. manifest.json "
          "lists every file with its SHA-256 and the recorded segments it came from; manifest.sig is the "
          "recorder's signature over manifest.json; node-public-key.pem is the recorder's public key."),
        "",
        _("To check that nothing was changed: edgectl verify FOLDER --key KEY, with the recorder's published "
          "public key (without edged: the openssl commands in edged's README)."),
        "",
        _("Time in a clip: second t of a clip is its start (from_us in manifest.json, UTC) plus t. A hole in "
          "the footage stays a hole in the clip; manifest.json lists each gap with its reason."),
        "",
        _("This footage holds personal data (Personal Data Protection Act): keep it confidential, use it only "
          "for the purpose it was approved for, and destroy it when that purpose is met."),
    ]
    return "\n".join(lines) + "\n"
