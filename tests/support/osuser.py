"""A real OS account for confidentiality tests: made with useradd/groupadd, removed after.

`run_as` runs edgectl (or a read probe) with that account's uid, gid and groups. It is not
`setpriv`/`runuser`: this machine's Python lives under /root (0700), which no other account
may enter, so the interpreter starts as root, imports edgectl, and then drops to the account
for good (setgroups, setgid, setuid) before running it. From there on the process is that
user to the kernel: SO_PEERCRED, file permissions, everything.
"""

from __future__ import annotations

import fcntl
import grp
import os
import pwd
import secrets
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.support.daemon import ROOT

_PRELUDE = """
import os, sys, json, getpass, base64, sqlite3, encodings.idna
import edged.cli.edgectl
edged.cli.edgectl.build_parser()  # every verb's module, loaded while this Python (under /root) can still be read
uid, gid = int(sys.argv[1]), int(sys.argv[2])
os.setgroups(os.getgrouplist(sys.argv[3], gid))
os.setgid(gid)
os.setuid(uid)
if sys.argv[4] == "probe":  # which of these paths can this account open for reading?
    opened = []
    for p in sys.stdin.read().splitlines():
        try:
            os.close(os.open(p, os.O_RDONLY))
            opened.append(p)
        except OSError:
            pass
    print(json.dumps(opened))
    sys.exit(0)
sys.exit(edged.cli.edgectl.main(sys.argv[5:]))
"""


# useradd, groupadd, userdel and groupdel of two test processes at once race: each takes
# /etc/passwd's lock and the other fails at once ("cannot lock /etc/passwd; try again later"),
# or deletes a group the other just joined. They take turns on this file's lock instead, so the
# modules that make accounts run on any xdist worker (tests/conftest.py).
ACCOUNTS_LOCK = Path(tempfile.gettempdir()) / "edged-tests-os-accounts.lock"


@contextmanager
def accounts_lock() -> Iterator[None]:
    with open(ACCOUNTS_LOCK, "a") as f:
        fcntl.flock(f, fcntl.LOCK_EX)  # released when the file closes
        yield


class OsUser:
    def __init__(self, groups: list[str]):
        tag = secrets.token_hex(3)
        self.name = f"edt-{tag}"
        with accounts_lock():
            for g in groups:
                subprocess.run(["groupadd", "--system", g], check=False, capture_output=True)
            subprocess.run(["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", "-G",
                            ",".join(groups), self.name] if groups else ["useradd", "--system", "--no-create-home",
                            self.name], check=True, capture_output=True)
        pw = pwd.getpwnam(self.name)
        self.uid, self.gid = pw.pw_uid, pw.pw_gid
        self.groups = groups

    def ctl(self, *args: str, env: dict[str, str], input: str | None = None) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-c", _PRELUDE, str(self.uid), str(self.gid), self.name, "ctl", *args],
                              capture_output=True, text=True, cwd=ROOT, env=env, input=input, timeout=60)

    def can_open(self, paths: list[Path]) -> list[str]:
        import json

        r = subprocess.run([sys.executable, "-c", _PRELUDE, str(self.uid), str(self.gid), self.name, "probe"],
                           capture_output=True, text=True, cwd=ROOT, input="\n".join(map(str, paths)), timeout=60)
        assert r.returncode == 0, r.stderr
        return json.loads(r.stdout)

    def remove(self) -> None:
        with accounts_lock():
            subprocess.run(["userdel", self.name], check=False, capture_output=True)
            for g in self.groups:
                try:
                    if not grp.getgrnam(g).gr_mem:
                        subprocess.run(["groupdel", g], check=False, capture_output=True)
                except KeyError:
                    pass


def private_walk(folder: Path) -> list[str]:
    """Every file or folder under `folder` (itself too) with a group or other permission bit."""
    loose = []
    for root, dirs, files in os.walk(folder):
        for p in [Path(root)] + [Path(root) / n for n in dirs + files]:
            st = os.lstat(p)
            if st.st_mode & 0o077 and not p.is_symlink():
                loose.append(f"{p.relative_to(folder)} {oct(st.st_mode & 0o777)}")
    return sorted(set(loose))
