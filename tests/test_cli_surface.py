"""The CLI's surface: every verb documented, and none that deletes footage (R1.6)."""

import re
import subprocess
import sys

from edged.rules import roles
from tests.support.control import control_operations
from tests.support.daemon import ROOT

FORBIDDEN = re.compile(r"\b(delete|remove|purge|erase|wipe|format|rm|drop|destroy)\b", re.I)


def verbs(*prefix: str) -> list[str]:
    out = subprocess.run([sys.executable, "-m", "edged.cli.edgectl", *prefix, "--help"], capture_output=True, text=True,
                         cwd=ROOT, check=True).stdout
    m = re.search(r"\{([a-z,-]+)\}", out)
    return m.group(1).split(",") if m else []


def test_every_edgectl_verb_is_in_the_reference():
    readme = (ROOT / "docs" / "ref" / "edgectl.md").read_text()
    for verb in verbs():
        assert f"edgectl {verb}" in readme, f"`edgectl {verb}` is not documented in docs/ref/edgectl.md"
    for group in ("hold", "account", "request", "audit"):
        for verb in verbs(group):
            assert f"edgectl {group} {verb}" in readme, f"`edgectl {group} {verb}` is not documented in docs/ref/edgectl.md"


def test_no_verb_or_control_operation_deletes_footage(tmp_path):
    for verb in verbs() + verbs("hold") + verbs("account") + verbs("request") + verbs("audit"):
        assert not FORBIDDEN.search(verb), verb
    served = control_operations(tmp_path)
    ops = ["hold.add", "hold.approve", "hold.extend", "hold.reject", "hold.release", "maintenance.begin", "maintenance.end",
           "maintenance.password_changed", "ping"]  # a person's record after a vendor's visit (design/0083)
    people = [
        "account.acknowledge", "account.add", "account.list", "account.passwd", "account.revoke", "account.show",
        "account.sign",
        "audit.export",
        "audit.list", "audit.report", "init-admin", "login", "logout", "request.approve", "request.file",
        "request.list", "request.reject", "request.show", "usage.register", "whoami"]
    exports = ["export.read", "export.run"]
    reads = ["alarms", "audit.verify", "cameras", "destructions", "events", "hold.list", "hold.show",
             "inspect.list", "inspect.show", "maintenance.list", "retention", "segments", "status"]
    health = ["camera.set_reference", "inspect.countersign", "inspect.run", "inspect.sign"]
    flags = ["flags.list", "flags.resolve"]  # resolving a flag records a person's finding, never touches footage
    assert sorted(served) == sorted([*ops, *people, *exports, *reads, *health, *flags])
    for op in served:
        assert not FORBIDDEN.search(op), op
        assert op in roles.PUBLIC or op in roles.MATRIX, f"{op} has no roles in edged/rules/roles.py: nobody may run it"

