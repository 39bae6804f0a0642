"""README.txt of a released redacted copy (issue 75, design/0358): what the folder is, which
original it was made from, how it was hidden, who prepared and who released it, and how to check
it, in the site's language. Its text is in the copy's signed manifest (`readme`), as an export's
is (edged/documents/export_readme.py), so `edgectl verify` notices a changed README."""

from __future__ import annotations

from typing import Any

from edged.documents import Doc
from edged.i18n import _
from edged.rules.words import REDACT_WORDS, word


def copy_readme_text(doc: Doc, original: dict[str, Any], export: int, release: dict[str, Any], now_us: int) -> str:
    """Call it with the document's language current (i18n.speaking). `original`: the original
    export's manifest; `release`: {mode, use, prepared_by, released_by}."""
    grant, request = original.get("grant") or {}, original.get("request") or {}
    site = (original.get("site") or {}).get("name") or (original.get("site") or {}).get("id") or ""
    lines = [
        _("A redacted copy from the CCTV recorder of {site}").format(site=site),
        "",
        _("Made from export {export} (request {request}, grant {grant}); the original footage is kept "
          "unchanged on the recorder.").format(export=export, request=request.get("id", "-"),
                                               grant=grant.get("id", "-")),
        _("What it hides: {mode}. The hidden parts are filled black; there is no sound.").format(
            mode=word(REDACT_WORDS, str(release.get("mode") or ""))),
        _("Prepared by {prepared}; released by {released} on {date}.").format(
            prepared=doc.who(release.get("prepared_by")), released=doc.who(release.get("released_by")),
            date=doc.datetime(now_us)),
        "",
        _("Each clip is an MP4 file, re-encoded with the hidden parts filled. manifest.json names the original "
          "export (the SHA-256 of its manifest and of each original clip), how it was hidden and by whom; "
          "manifest.sig is the recorder's signature over manifest.json; node-public-key.pem is the recorder's "
          "public key."),
        "",
        _("To check that nothing was changed since the release: edgectl verify FOLDER --key KEY, with the "
          "recorder's published public key; it names the original export the copy was made from."),
        "",
        _("This footage holds personal data (Personal Data Protection Act): keep it confidential, use it only "
          "for the purpose it was approved for, and destroy it when that purpose is met."),
    ]
    return "\n".join(lines) + "\n"
