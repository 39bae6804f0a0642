"""The desk walks' eyes (issue 42's done-when: the walks' screenshots are looked at, and no
untranslated id on any page).

`Shots(site, allowed)(page, step)` reads each step's page as its person sees it (the body's
visible text) for ids and English left on it and for an ASCII separator between Chinese
phrases (tests/support/leaks.py) and keeps what it finds in
`found` (step -> words), so a walk fails once, at its end, with every page's leaks. With
EDGED_WALK_SHOTS=DIR it also saves the page, full page, as DIR/<site>/NN-step.png for a person to
look at (and the text read, as NN-step.txt); without it (CI), no screenshot, so the suite does not
pay for them. No page is loaded for the check: it reads the page the walk is on.

What is read: the body's visible text, less what a page shows as data to be copied rather than
read (`code` and `pre`: a hash, a signing key, a file of an export, the line that checks it) and
the technician's detail folded under a person's words (`details.tech`, as tests/test_desk_words.py).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Iterable

from tests.support.leaks import ascii_separators, leaks

ENV = "EDGED_WALK_SHOTS"
DATA = "code, pre, details.tech"
READ = ("() => { const b = document.body.cloneNode(true); b.querySelectorAll('" + DATA + "')"
        ".forEach(e => e.replaceWith(' ')); b.style.display = 'none'; document.documentElement.appendChild(b);"
        " b.style.display = ''; b.hidden = false; const t = b.innerText; b.remove(); return t; }")


class Shots:
    def __init__(self, site: str, root: str | None = None, allowed: Iterable[str] = ()):
        root = os.environ.get(ENV, "") if root is None else root
        self.dir = Path(root) / site if root else None
        self.n = 0
        self.allowed = set(allowed)
        self.found: dict[str, list[str]] = {}

    def __call__(self, page: Any, step: str, allowed: Iterable[str] = ()) -> Path | None:
        self.n += 1
        text = page.evaluate(READ)
        words = leaks(text, self.allowed | set(allowed)) + ascii_separators(text)
        if words:
            self.found[f"{self.n:02d}-{step} {page.url.split('/', 3)[-1]}"] = words
        if self.dir is None:
            return None
        self.dir.mkdir(parents=True, exist_ok=True)
        path = self.dir / f"{self.n:02d}-{step}.png"
        path.with_suffix(".txt").write_text(text)
        page.screenshot(path=str(path), full_page=True)
        return path
