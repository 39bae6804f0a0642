"""The desk's catalog in the glossary's words (issue 56 item 1, design/0263): every translation in
edged.po, which the desk, the live grid, the playback page and every printed form speak, uses the
word docs/guide/words.md gives a thing, never one its last column retires. The uses a retired word
keeps (授權 for the head of office's authorisation of live view) are the Chinese phrases of that
column's notes, so the glossary stays the one place both are declared. The dashboard's catalog is
tests/test_central_words.py's."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.test_central_words import msgstrs, retired_words

ROOT = Path(__file__).resolve().parent.parent
GLOSSARY = ROOT / "docs/guide/words.md"
CATALOG = ROOT / "edged/locale/zh_TW/LC_MESSAGES/edged.po"
HAN = re.compile(r"[\u3400-\u9fff]+")


def kept_uses() -> set[str]:
    """The Chinese phrases in the notes (parentheses) of the glossary's last column: a retired
    word's uses that mean something else (經機關首長授權 is not a grant)."""
    out: set[str] = set()
    for line in GLOSSARY.read_text(encoding="utf-8").splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 4 and cells[0] not in ("Thing", "---"):
            for note in re.findall(r"\(([^)]*)\)", cells[3]):
                out |= set(HAN.findall(note))
    return out


def offending(text: str, retired: set[str], kept: set[str]) -> list[str]:
    for phrase in sorted(kept, key=len, reverse=True):
        text = text.replace(phrase, "")
    return sorted(w for w in retired if w in text)


@pytest.mark.pure
def test_the_glossarys_kept_uses_are_read_from_its_notes():
    kept, retired = kept_uses(), retired_words()
    assert {"經機關首長授權", "授權範圍"} <= kept and not kept & retired, kept
    assert offending("即時影像須經機關首長授權逐人開放", retired, kept) == []
    assert offending("開啟許可 1 的陪同檢視", retired, kept) == ["陪同檢視"]
    assert offending("授權 7 已使用", retired, kept) == ["授權"]


@pytest.mark.pure
def test_the_desks_catalog_uses_the_glossarys_words():
    retired, kept = retired_words(), kept_uses()
    bad = [(s, offending(s, retired, kept)) for s in msgstrs(CATALOG.read_text(encoding="utf-8"))
           if offending(s, retired, kept)]
    assert not bad, f"edged.po says what docs/guide/words.md retires: {bad}"
