"""When an export counts as taken by its download at the desk (issue 56, design/0188). Pure: the
edge (edged/viewer/desk/exports.py) reports what went out, this says whether one more try may
start.

The ZIP carries the export's other files first and its clips last, and a clip counts as taken
once its last byte went out, whether or not the ZIP then ended cleanly: breaking each transfer
just before its end no longer keeps an export downloadable for ever. Besides, every byte sent
counts, across tries: once `BUDGET` times the export's size went out in all, it is taken, so a
transfer broken inside its last clip may be tried again a bounded number of times. A transfer
that ended cleanly takes it at once.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

BUDGET = 2   # a whole export and one more try's worth: a broken transfer may be started again


@dataclass(slots=True)
class Download:
    size: int                                          # the export's bytes, every file together
    clips: frozenset[str]                              # the files that are footage
    sent: int = 0                                      # bytes that went out, every try together
    whole: set[str] = field(default_factory=set)       # clips whose last byte went out
    ended: bool = False                                # a try that went out to its end

    def taken(self) -> bool:
        return (self.ended or bool(self.clips) and self.clips <= self.whole
                or self.sent >= BUDGET * max(1, self.size))

    def went_out(self, n: int) -> None:
        self.sent += n

    def file_whole(self, name: str) -> None:
        if name in self.clips:
            self.whole.add(name)


def zip_order(files: list[dict[str, Any]], clips: frozenset[str]) -> list[dict[str, Any]]:
    """The other files first, then the clips: a break costs a person at most the ZIP's directory
    once the footage went out, and the footage counts as taken then."""
    return [f for f in files if f["name"] not in clips] + [f for f in files if f["name"] in clips]


def download_of(export: dict[str, Any]) -> Download:
    """The ledger of one export from export.run's answer (its `files` and `clips`)."""
    clips = frozenset(str(c["file"]).rsplit("/", 1)[-1] for c in export.get("clips") or [])
    names = {f["name"] for f in export["files"]}
    return Download(sum(int(f["bytes"]) for f in export["files"]), frozenset(clips & names))
