"""The logs of the parts a test started (daemons, camera servers), shown when the test fails.

A CI run keeps nothing but pytest's output: a daemon test that timed out waiting for a camera said
only what it waited for. Each part registers its log here as it starts; tests/conftest.py's report
hook adds the tail of each to a failed test's report and forgets them when the test ends.
"""

from __future__ import annotations

from pathlib import Path

TAIL = 6000  # characters of each log: its end is where a part said why it stopped or waited
STARTED: dict[Path, str] = {}  # log -> what wrote it, in the order the parts started


def started(log: Path, what: str) -> None:
    STARTED.setdefault(log, what)


def tails() -> list[tuple[str, str]]:
    """(title, tail) of each registered log that exists and says something."""
    out = []
    for path, what in STARTED.items():
        try:
            text = path.read_text(errors="replace")
        except OSError:
            continue
        if text.strip():
            out.append((f"{what}: {path.name} (its last {TAIL} characters)", text[-TAIL:]))
    return out
