"""Real accounts for tests that drive edgectl against a running daemon.

    people = People(d.config, tmp_path)          # root makes the admin, the admin opens accounts
    people.add("carol", "custodian")
    people.login("carol")                         # later edgectl calls run as carol (as root: its own
                                                  # password; the one-time one from another OS account)
    people.ctl("hold", "add", ...)                # or use your own subprocess call with people.env

Each test gets its own session file (EDGECTL_SESSION), so nothing touches the real user's.
With `monkeypatch`, the variable is also set in os.environ, so a test's existing
`subprocess.run([... "edged.cli.edgectl" ...])` helpers pick up whoever logged in last.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import Any

from edged.config import load_config
from edged.control.client import call
from edged.control.protocol import RequestError
from edged.documents.pages import account_boxes
from tests.support import ctlfork
from tests.support.daemon import ROOT, ctl_argv, wait_for

ADMIN = "admin"
# The holder's first login comes from another OS account than the admin's (root): a one-time
# password is refused to the OS account that set it, root included (issue 45). `nobody`, keeping
# root's right to open files (the socket in the 0700 data folder, the session file, this Python
# under /root) but not root's uid: SO_PEERCRED says uid 65534 to the daemon.
HOLDER = ctlfork.NOBODY


def password_for(name: str) -> str:
    return f"pw-{name[::-1]}-Secret-1"


def first_password_for(name: str) -> str:
    """The one-time password the admin gives (design/0042); the holder changes it to password_for."""
    return f"pw-{name[::-1]}-Initial-1"


class People:
    def __init__(self, config: Path, tmp_path: Path, monkeypatch: Any = None, *, admin: str = ADMIN,
                 timeout: float = 60, admin_full_name: str = ""):
        self.config = config
        self.socket = load_config(config).control.socket
        self.session = tmp_path / "edgectl-session.json"
        self.env = {**os.environ, "EDGECTL_SESSION": str(self.session)}
        self.timeout = timeout
        if monkeypatch is not None:
            monkeypatch.setenv("EDGECTL_SESSION", str(self.session))
        self.admin = admin
        self.current: str | None = None
        self.cfg = load_config(config)
        self.held_back = self.cfg.accounts.signed_to_log_in   # design/0113: signed before the first login
        self.approvers: list[str] = []        # who signs applications there, in the order opened
        self.tokens: dict[str, str] = {}      # their sessions, for signing
        wait_for(lambda: "not logged in" in self.ctl("whoami").stderr, 30, "the control socket")
        named = ["--full-name", admin_full_name] if admin_full_name else []
        r = self.ctl("init-admin", "--name", admin, *named, "--password-stdin", input=password_for(admin) + "\n")
        assert r.returncode == 0, r.stderr

    def ctl(self, *args: str, input: str | None = None) -> subprocess.CompletedProcess:
        return ctlfork.run([*ctl_argv(self.socket), *args], cwd=ROOT, timeout=self.timeout, env=self.env, input=input)

    def login(self, name: str, password: str | None = None) -> subprocess.CompletedProcess:
        r = self.ctl("login", name, "--password-stdin", input=(password or password_for(name)) + "\n")
        if r.returncode == 0:
            self.current = name
        return r

    def add(self, name: str, *roles: str, cameras: list[str] | None = None, first_change: bool = True,
            live: bool | None = None, full_name: str | None = None) -> str:
        """Open an account (logged in as the admin); then the admin's session is left open. The admin's
        password is one-time: with `first_change` the holder logs in once (in a session file of its
        own) and sets password_for(name); without, it stays first_password_for(name). `live`: the
        person may watch live (design/0108); by default every account whose roles may is given it.
        `full_name`: the person's name, as the desk and the printed forms show them (design/0112)."""
        if self.current != self.admin:
            r = self.login(self.admin)
            assert r.returncode == 0, r.stderr
        args = ["account", "add", name, "--reason", "test application", "--password-stdin"]
        for role in roles:
            args += ["--role", role]
        for cam in cameras or []:
            args += ["--camera", cam]
        if full_name:
            args += ["--full-name", full_name]
        if live or (live is None and set(roles) & {"viewer", "custodian", "approver"}):
            args.append("--live")
        first = first_password_for(name)
        r = self.ctl(*args, input=f"{first}\n")
        if r.returncode != 0 and "not logged in" in r.stderr:  # a short session_ttl ran out meanwhile
            assert self.login(self.admin).returncode == 0
            r = self.ctl(*args, input=f"{first}\n")
        assert r.returncode == 0, r.stderr
        own = {**self.env, "EDGECTL_SESSION": str(self.session.with_name(f"first-{name}.json"))}
        if "approver" in roles:
            self.vouch(name)
        if "approver" in roles and first_change:
            if self.held_back:   # approvers are held back too (design/0260)
                self.sign_approver(name)
            self.approvers.append(name)
        elif self.held_back:
            self.sign_application(name, first)
        if not first_change:
            return first
        for step, text in ((("login", name), first), (("account", "passwd"), f"{first}\n{password_for(name)}")):
            r = ctlfork.run([*HOLDER, *ctl_argv(self.socket), *step, "--password-stdin"], cwd=ROOT, timeout=self.timeout,
                            env=own, input=text + "\n")
            assert r.returncode == 0, r.stderr
        return password_for(name)

    def vouch(self, name: str) -> None:
        """Root on the box vouches for an account an admin opened (issue 74: an approver's logs in only
        once someone but its opener has): edgectl as root, without an account's session."""
        nobody = {**self.env, "EDGECTL_SESSION": str(self.session.with_name("root-no-session.json"))}
        r = ctlfork.run([*ctl_argv(self.socket), "account", "acknowledge", name, "--reason", "已核對機關首長簽核之申請表"],
                        cwd=ROOT, timeout=self.timeout, env=nobody)
        assert r.returncode == 0, r.stderr

    def first_login(self, name: str, password: str) -> subprocess.CompletedProcess:
        """Log in with a one-time password as its holder would: from another OS account than the
        admin's (root), into this People's session file (later calls, as root, use the session)."""
        r = ctlfork.run([*HOLDER, *ctl_argv(self.socket), "login", name, "--password-stdin"], cwd=ROOT,
                        timeout=self.timeout, env=self.env, input=password + "\n")
        if r.returncode == 0:
            self.current = name
        return r
    def sign_application(self, name: str, first: str) -> None:
        """At a site that holds an account back until its application is signed (`[accounts]
        signed_to_log_in`, design/0113; 001 十一): its login is refused, naming each box and who
        signs it; once approvers (never the holder or the admin) sign every box, it logs in. The
        approvers already opened sign first (open them before the others to spare accounts), then
        `box-signerN` opened for it; over the socket in-process, each signer logging in once."""
        boxes = account_boxes(self.cfg.forms, self.cfg.site.language)
        # as its holder would (root is refused a one-time password's first login, issue 45)
        r = ctlfork.run([*HOLDER, *ctl_argv(self.socket), "login", name, "--password-stdin"], cwd=ROOT,
                        timeout=self.timeout, input=first + "\n",
                        env={**self.env, "EDGECTL_SESSION": str(self.session.with_name(f"refused-{name}.json"))})
        assert r.returncode != 0 and all(box in r.stderr for box in boxes), r.stderr
        # a box named for a title is its holder's (issue 56): that title's first account signs it
        titled = {box: sorted(self.cfg.policy.titles[box])[0] for box in boxes if self.cfg.policy.titles.get(box)}
        for holder in titled.values():
            if holder not in self.approvers:
                self.add(holder, "approver", full_name=f"核章人{len(self.approvers) + 1}")
        others = [a for a in self.approvers if a not in titled.values()]
        while len(others) < len(boxes) - len(titled):
            name = f"box-signer{len(self.approvers) + 1}"
            self.add(name, "approver", full_name=f"核章人{len(self.approvers) + 1}")   # by name on the pages
            others.append(name)
        spare = iter(others)
        for box, signer in ((b, titled.get(b) or next(spare)) for b in boxes):
            if signer not in self.tokens:
                token = self._login(signer, password_for(signer))
                assert isinstance(token, dict), token
                self.tokens[signer] = token["token"]
            call(self.socket, "account.sign", {"name": name, "action": "opened", "box": box}, token=self.tokens[signer])

    def sign_approver(self, name: str) -> None:
        """An approver's application at a site that holds accounts back (design/0260): each box
        signed at the desk by an approver already usable who may sign it (the title's holder for a
        box named for a title), else recorded by the admin from the paper form (`account sign
        --on-paper`), signed by the title's holder or, for a box of no title, the applicant's chief."""
        titles, used = self.cfg.policy.titles, set()
        for box in account_boxes(self.cfg.forms, self.cfg.site.language):
            holders = sorted(titles.get(box, ()))
            signer = next((a for a in self.approvers if a != name and a not in used and (not holders or a in holders)),
                          None)
            if signer is None:
                by = holders[0] if holders else "申請單位主管"
                used.add(by)
                r = self.ctl("account", "sign", name, "--box", box, "--on-paper", "--signed-by", by)
                assert r.returncode == 0, r.stderr
                continue
            used.add(signer)
            if signer not in self.tokens:
                token = self._login(signer, password_for(signer))
                assert isinstance(token, dict), token
                self.tokens[signer] = token["token"]
            call(self.socket, "account.sign", {"name": name, "action": "opened", "box": box}, token=self.tokens[signer])

    def _login(self, name: str, password: str) -> dict[str, Any] | str:
        """A login over the socket, in-process: the session, or the refusal's words (waiting out
        the socket's cap on logins a minute, which these quick logins can reach)."""
        def attempt() -> dict[str, Any] | str | None:
            try:
                return dict(call(self.socket, "login", {"name": name, "password": password}))
            except RequestError as exc:
                return None if "too many login attempts" in str(exc) else str(exc)
        return wait_for(attempt, 60, f"a login of {name} not throttled")

    def as_(self, name: str) -> "People":
        """Log in as `name` (must exist); returns self for chaining."""
        r = self.login(name)
        assert r.returncode == 0, r.stderr
        return self
