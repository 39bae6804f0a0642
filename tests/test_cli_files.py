"""What edgectl writes for a person: new, 0600, never through a link (issue 27), and every
writer in edged/cli goes through the one helper (edged/cli/files.py)."""

from __future__ import annotations

import os
import re
import stat
from pathlib import Path

import pytest

from edged.cli import documents, files
from edged.cli.display import UsageError

CLI = Path(__file__).resolve().parent.parent / "edged" / "cli"


def test_a_new_file_is_the_persons_alone(tmp_path):
    out = tmp_path / "form.html"
    os.umask(0o022)
    assert documents.write(str(out), "Ω form") == f"wrote {out}"
    assert out.read_text(encoding="utf-8") == "Ω form"
    assert stat.S_IMODE(out.stat().st_mode) == 0o600


def test_an_existing_file_is_not_written_over(tmp_path):
    out = tmp_path / "register.csv"
    out.write_text("someone's\n")
    with pytest.raises(UsageError, match="already exists .a file or a link.: nothing was written over it"):
        files.write_new(out, b"new")
    assert out.read_text() == "someone's\n"


def test_a_planted_link_is_not_followed(tmp_path):
    target = tmp_path / "elsewhere"
    target.write_text("theirs\n")
    target.chmod(0o644)
    link = tmp_path / "event-1-gate.jpg"
    link.symlink_to(target)
    with pytest.raises(UsageError, match="already exists"):
        files.write_new(link, b"\xff\xd8")
    dangling = tmp_path / "audit.jsonl"
    dangling.symlink_to(tmp_path / "not-yet")  # a link to a name that does not exist yet: not created through it
    with pytest.raises(UsageError):
        files.open_text(dangling)
    assert target.read_text() == "theirs\n" and not (tmp_path / "not-yet").exists()


def test_every_writer_in_the_cli_uses_the_helper():
    """No write_text/write_bytes or open(..., "w") in edged/cli outside files.py."""
    bad = re.compile(r"\.write_text\(|\.write_bytes\(|\.open\(\s*[\"']w|open\([^)]*[\"'][wax]b?[\"']|os\.open\(.*O_CREAT")
    found = [f"{p.name}:{n}: {line.strip()}" for p in sorted(CLI.glob("*.py")) if p.name != "files.py"
             for n, line in enumerate(p.read_text().splitlines(), 1) if bad.search(line)]
    assert found == []
