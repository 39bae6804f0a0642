"""A Debian 12 or 13 container booted under a real systemd (systemd-nspawn), for the boot and package tests.

PID 1 on the test machines is not systemd, but `systemd-nspawn -b` boots a debootstrapped Debian
root with its own systemd as the container's PID 1 (design/0016). The base root is built once with
debootstrap and cached (EDGED_BOOT_CACHE, default /var/cache/edged-test); each test boots a copy.
`python -m tests.support.container` builds the boot test's root: scripts/test runs it beside the parallel
run, so on a fresh box test_boot finds it built (design/0529).
Commands run inside with nsenter, because without a host systemd the container cannot be
registered with machinectl (hence `--keep-unit --register=no`).
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

from tests.support.daemon import ROOT, wait_for

SUITE = "bookworm"
SUITES = {"bookworm": "python3.11", "trixie": "python3.13"}   # Debian 12 and 13, each with its python3 (design/0437)
MIRROR = os.environ.get("EDGED_BOOT_MIRROR", "http://deb.debian.org/debian")
# What scripts/install would otherwise fetch with apt on every run, plus systemd itself.
PACKAGES = ["systemd", "systemd-sysv", "dbus", "python3", "python3-venv", "python3-dev", "gcc", "pkg-config",
            "libsystemd-dev", "ca-certificates"]
# A site's minimal Debian 12 for the package test (design/0250, 0330): systemd, no Python at all (python3 is
# Priority optional), no compiler, no pip; the package brings python3.11 from the mirror.
SITE_PACKAGES = ["systemd", "systemd-sysv", "dbus"]
PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
REBOOT_STATUS = 133  # systemd-nspawn's exit status when the container asked to reboot


def copy_checkout(target: Path) -> None:
    """The checkout's files as git sees them (tracked and new, not ignored), as a clone would have."""
    files = subprocess.run(["git", "ls-files", "-co", "--exclude-standard", "-z"], cwd=ROOT, check=True,
                           capture_output=True).stdout.split(b"\0")
    for f in filter(None, map(os.fsdecode, files)):
        if (ROOT / f).is_file():
            (target / f).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / f, target / f)


def cache_dir() -> Path:
    return Path(os.environ.get("EDGED_BOOT_CACHE", "/var/cache/edged-test"))


def base_root(packages: list[str] = PACKAGES, suite: str = SUITE) -> Path:
    """The cached debootstrapped root of `suite` (built on first use, a few minutes from the Debian mirror)."""
    key = hashlib.sha256(" ".join([suite, MIRROR, *packages]).encode()).hexdigest()[:12]
    cache = cache_dir()
    cache.mkdir(parents=True, exist_ok=True)
    root = cache / f"{suite}-{key}"
    with open(cache / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # two runs at once build it once
        if (root / ".complete").exists():
            return root
        work = cache / f".{root.name}.partial"
        shutil.rmtree(work, ignore_errors=True)
        r = subprocess.run(["debootstrap", "--variant=minbase", f"--include={','.join(packages)}", suite, str(work),
                            MIRROR], capture_output=True, text=True)
        if r.returncode != 0:
            raise AssertionError(f"debootstrap failed ({r.returncode}):\n{r.stdout[-3000:]}\n{r.stderr[-3000:]}")
        (work / ".complete").write_text("debootstrap " + " ".join(packages) + "\n")
        work.rename(root)
        return root


class Container:
    """A booted copy of the base root. `sh()` runs a command inside as root."""

    def __init__(self, root: Path, log: Path, name: str = "edgedboot"):
        self.root, self.log_path, self.name = root, log, name
        self.proc: subprocess.Popen | None = None
        self.leader = 0

    @classmethod
    def from_base(cls, where: Path, log: Path, packages: list[str] = PACKAGES, suite: str = SUITE) -> "Container":
        root = where / "root"
        subprocess.run(["cp", "-a", str(base_root(packages, suite)), str(root)], check=True)
        # A site behind a TLS-inspecting proxy trusts its local CAs; so must the container's pip.
        local_cas = Path("/usr/local/share/ca-certificates")
        if local_cas.is_dir():
            for ca in local_cas.glob("*.crt"):
                (root / "usr/local/share/ca-certificates").mkdir(parents=True, exist_ok=True)  # a site's base has none
                shutil.copy2(ca, root / "usr/local/share/ca-certificates" / ca.name)
        return cls(root, log)

    def copy_checkout(self, dest: str = "/src") -> None:
        copy_checkout(self.root / dest.lstrip("/"))

    def boot(self, timeout: float = 120) -> float:
        """Boot the container; returns seconds until systemd says the system is running."""
        t0 = time.monotonic()
        args = ["systemd-nspawn", "-D", str(self.root), "-b", "--keep-unit", "--register=no", "-M", self.name,
                "--console=passive"]
        pip_cache = Path.home() / ".cache" / "pip"
        if pip_cache.is_dir():  # the host's download cache: the container fetches what the host already has
            args.append(f"--bind={pip_cache}:/root/.cache/pip")
        self._log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=self._log, stderr=subprocess.STDOUT)
        self.leader = wait_for(self._find_leader, 30, "the container's systemd to start")
        wait_for(lambda: self.sh("systemctl is-system-running --wait", check=False, timeout=timeout).stdout.strip()
                 in ("running", "degraded"), timeout, "the container to finish booting", interval=0.5)
        return time.monotonic() - t0

    def _find_leader(self) -> int:
        if self.proc is None or self.proc.poll() is not None:
            raise AssertionError(f"systemd-nspawn exited ({self.proc and self.proc.returncode}); see {self.log_path}")
        try:
            children = Path(f"/proc/{self.proc.pid}/task/{self.proc.pid}/children").read_text().split()
        except FileNotFoundError:
            return 0
        for pid in children:
            try:
                if Path(f"/proc/{pid}/comm").read_text().strip() == "systemd":
                    return int(pid)
            except FileNotFoundError:
                continue
        return 0

    def sh(self, command: str, check: bool = True, timeout: float = 600, env: dict[str, str] | None = None):
        """Run a bash command inside the container, as root, with a clean environment."""
        environ = {"PATH": PATH, "HOME": "/root", "LANG": "C.UTF-8", **(env or {})}
        r = subprocess.run(["nsenter", "-t", str(self.leader), "-m", "-u", "-i", "-n", "-p", "--", "env", "-i",
                            *(f"{k}={v}" for k, v in environ.items()), "/bin/bash", "-c", command],
                           capture_output=True, text=True, timeout=timeout)
        if check and r.returncode != 0:
            raise AssertionError(f"in the container: {command!r} exited {r.returncode}:\n{r.stdout[-4000:]}\n"
                                 f"{r.stderr[-4000:]}")
        return r

    def unit(self, name: str, *props: str) -> dict[str, str]:
        out = self.sh(f"systemctl show {name} " + " ".join(f"-p {p}" for p in props)).stdout
        return dict(line.split("=", 1) for line in out.splitlines() if "=" in line)

    def reboot(self, timeout: float = 120) -> float:
        """`systemctl reboot` inside; nspawn exits with 133 and is started again, as systemd-nspawn@ would."""
        self.sh("systemctl reboot", check=False)
        status = self.proc.wait(timeout=timeout)
        if status != REBOOT_STATUS:
            raise AssertionError(f"systemd-nspawn exited {status} on reboot, not {REBOOT_STATUS}")
        return self.boot(timeout)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)  # nspawn asks the container's systemd to power off
            try:
                self.proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if getattr(self, "_log", None):
            self._log.close()


if __name__ == "__main__":
    # scripts/test: the boot test's root, built before the solo pair's tier needs it (design/0529)
    t0 = time.monotonic()
    print(f"{base_root()} in {time.monotonic() - t0:.0f} s")
