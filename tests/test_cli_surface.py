"""The CLI's surface: every verb documented, and none that deletes footage (R1.6)."""

import re
import subprocess
import sys

from edged.control_ops import control_handlers
from tests.support.daemon import ROOT

FORBIDDEN = re.compile(r"\b(delete|remove|purge|erase|wipe|format|rm|drop|destroy)\b", re.I)


def verbs(*prefix: str) -> list[str]:
    out = subprocess.run([sys.executable, "-m", "edged.ctl", *prefix, "--help"], capture_output=True, text=True,
                         cwd=ROOT, check=True).stdout
    m = re.search(r"\{([a-z,-]+)\}", out)
    return m.group(1).split(",") if m else []


def test_every_edgectl_verb_is_in_the_readme():
    readme = (ROOT / "README.md").read_text()
    for verb in verbs():
        assert f"edgectl {verb}" in readme, f"`edgectl {verb}` is not documented in README.md"
    for verb in verbs("hold"):
        assert f"edgectl hold {verb}" in readme


def test_no_verb_or_control_operation_deletes_footage():
    for verb in verbs() + verbs("hold"):
        assert not FORBIDDEN.search(verb), verb
    ops = control_handlers(sup=None, writer=None, runner=None)
    assert sorted(ops) == ["hold.add", "hold.release", "maintenance.begin", "maintenance.end", "ping"]
