"""A printed form read back as its reader reads the paper (issue 91: "every printed form read back
(pdftotext) for English, logins, ids and wrong terms"): the page Chromium is on printed to an A4
PDF, its text taken out again by poppler's pdftotext (scripts/bootstrap --test installs it), and
what no office's paper says found in it."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any, Iterable

from tests.support.leaks import ascii_separators, leaks

# words an office's paper never says: edged's generic word where the site has its own (design/0412),
# the desk's old name for itself, and a copy of a citizen's footage 檢視ed (design/0394)
WRONG_TERMS = ("本場所", "櫃檯系統", "檢視或複製")


def read_back(page: Any, keep: Path | None = None) -> str:
    """The text of the page printed to PDF, as pdftotext reads it (its layout kept). `keep`: a
    path to leave the PDF and the text at (PATH.pdf, PATH.pdf.txt) for a person to read too."""
    tool = shutil.which("pdftotext")
    assert tool, "poppler's pdftotext reads the printed forms back: scripts/bootstrap --test"
    with tempfile.TemporaryDirectory() as tmp:
        pdf = keep.with_suffix(".pdf") if keep is not None else Path(tmp) / "form.pdf"
        pdf.write_bytes(page.pdf(format="A4"))
        out = subprocess.run([tool, "-layout", "-enc", "UTF-8", str(pdf), "-"], capture_output=True, text=True,
                             timeout=60, check=True)
    if keep is not None:
        pdf.with_name(pdf.name + ".txt").write_text(out.stdout)
    return out.stdout


def paper_faults(text: str, allowed: Iterable[str], wrong: Iterable[str] = ()) -> list[str]:
    """What a printed form must not carry: Latin words that are neither a proper name nor in
    `allowed` (English, an ASCII login, a camera's id, a config key), an ASCII separator between
    Chinese phrases, and the wrong terms. A login in Chinese is a title (秘書, 主任), which the
    paper prints beside the holder's name: the walk asks for each signer's name instead."""
    found = leaks(text, allowed) + ascii_separators(text)
    return found + [f"term {t}" for t in (*WRONG_TERMS, *wrong) if t in text]
