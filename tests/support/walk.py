"""The desk walks' screenshots (issue 42's done-when: the walks' screenshots are looked at).

With EDGED_WALK_SHOTS=DIR, `Shots(site)(page, step)` saves each step's page, full page, as
DIR/<site>/NN-step.png for a person to look at; without it (CI), it does nothing, so the suite
does not pay for the screenshots.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

ENV = "EDGED_WALK_SHOTS"


class Shots:
    def __init__(self, site: str, root: str | None = None):
        root = os.environ.get(ENV, "") if root is None else root
        self.dir = Path(root) / site if root else None
        self.n = 0

    def __call__(self, page: Any, step: str) -> Path | None:
        if self.dir is None:
            return None
        self.dir.mkdir(parents=True, exist_ok=True)
        self.n += 1
        path = self.dir / f"{self.n:02d}-{step}.png"
        page.screenshot(path=str(path), full_page=True)
        return path
