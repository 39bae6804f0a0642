"""scripts/package run for a Debian release (design/0437): on this machine when it runs that release,
else inside a debootstrapped root of it (cached beside the boot test's, tests/support/container.py),
started by systemd-nspawn read-only (a copy of a gigabyte each build would cost a minute), with the
source folder bound at /src: the build writes only there, in pip's cache and in /tmp.

The packages depend on the release's own python3.X, so each release's are built on that release.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from pathlib import Path

from tests.support.container import PACKAGES, base_root, copy_checkout
from tests.support.daemon import ROOT

# scripts/package's apt_need list and what it runs (git, unzip, readelf), installed by debootstrap once;
# perl-openssl-defaults named, since debootstrap does not resolve lintian's virtual perl-openssl-abi-3.
BUILD_PACKAGES = [*PACKAGES, "debhelper", "dh-virtualenv", "dpkg-dev", "git", "chrpath", "unzip", "lintian", "binutils",
                  "perl-openssl-defaults", "build-essential"]
HOST_CAS = Path("/etc/ssl/certs/ca-certificates.crt")   # the host's trust, a TLS-inspecting proxy's CA included


def this_release() -> str:
    for line in Path("/etc/os-release").read_text().splitlines():
        if line.startswith("VERSION_CODENAME="):
            return line.split("=", 1)[1].strip('"')
    return ""


def package(source: Path, version: str, suite: str, timeout: float = 3000) -> subprocess.CompletedProcess[str]:
    """`scripts/package --version VERSION` in `source` (a git tree), for `suite`; dist/ is source's."""
    command = ["scripts/package", "--version", version]
    if suite == this_release():
        return subprocess.run(command, cwd=source, capture_output=True, text=True, timeout=timeout)
    root = base_root(BUILD_PACKAGES, suite)
    for point in ("src", "root/.cache/pip"):   # where the folders are bound: a read-only root cannot make them
        (root / point).mkdir(parents=True, exist_ok=True)
    args = ["systemd-nspawn", "-q", "-D", str(root), "--read-only", "--register=no", "--keep-unit",
            f"--bind={source}:/src", "--chdir=/src", "--setenv=GIT_CONFIG_COUNT=1",
            "--setenv=GIT_CONFIG_KEY_0=safe.directory", "--setenv=GIT_CONFIG_VALUE_0=/src"]
    pip_cache = Path.home() / ".cache" / "pip"
    if pip_cache.is_dir():   # the host's download cache: wheels fetched once (each release's own wheels differ)
        args.append(f"--bind={pip_cache}:/root/.cache/pip")
    if HOST_CAS.is_file():
        args += [f"--bind-ro={HOST_CAS}:/run/host-cas.crt", "--setenv=PIP_CERT=/run/host-cas.crt"]
    return subprocess.run([*args, *command], capture_output=True, text=True, timeout=timeout)


# B's migration: additive (a table), so that A could still read the catalog; A's preinst refuses
# the downgrade anyway, since A cannot know that (design/0254).
MIGRATION = '''

@migrations()
def m999_package_test(db: sqlite_utils.Database) -> None:
    db.execute("CREATE TABLE package_test (id INTEGER PRIMARY KEY)")
'''


def build(source: Path, version: str, dist: Path, suite: str) -> dict[str, float | str]:
    """scripts/package VERSION in `source` for `suite`, the three .deb files copied to `dist`.
    With EDGED_PACKAGE_DIST set (a folder of both builds' .deb files, from an earlier run), its files
    are taken instead of building: for working on the test itself."""
    t = time.monotonic()
    prebuilt = os.environ.get("EDGED_PACKAGE_DIST")
    if not prebuilt:
        r = package(source, version, suite)
        assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    debs = [Path(prebuilt or source / "dist") / f"{p}_{version}_amd64.deb" for p in ("edged", "edged-central", "edged-redact")]
    for deb in debs:
        shutil.copy2(deb, dist)
    return {"build, s": time.monotonic() - t, **{f"{d.name}, MB": d.stat().st_size / 1e6 for d in debs},
            **{f"{d.name} unpacked, MB": unpacked_mb(d) for d in debs},
            **{f"{d.name} Installed-Size, MiB": int(field(d, "Installed-Size")) / 1024 for d in debs},
            **{f"{d.name} Depends": field(d, "Depends") for d in debs}}


def field(deb: Path, name: str) -> str:
    """A field of the package's control, as `dpkg-deb --field` reads it (Installed-Size in KiB)."""
    return subprocess.run(["dpkg-deb", "--field", str(deb), name], capture_output=True, text=True, check=True).stdout.strip()


def unpacked_mb(deb: Path) -> float:
    """The package's files as `dpkg-deb -c` lists them (the size column), in MB."""
    listing = subprocess.run(["dpkg-deb", "-c", str(deb)], capture_output=True, text=True, check=True).stdout
    return sum(int(line.split()[2]) for line in listing.splitlines() if line.strip()) / 1e6


def lintian(dist: Path) -> subprocess.Popen[str]:
    """lintian on every .deb, in the background (minutes on a gigabyte): checked at the test's end."""
    return subprocess.Popen(["lintian", "--fail-on", "error,warning", "--no-tag-display-limit",
                             *map(str, sorted(dist.glob("*.deb")))], stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)


def first_source(tmp: Path, suite: str) -> Path:
    """This checkout, as it is, for this machine's release; a copy of it (a git tree) for another's, whose
    build root writes its own build/ and dist/."""
    if suite == this_release():
        return ROOT
    src = tmp / "src-a"
    copy_checkout(src)
    subprocess.run(["git", "init", "-q"], cwd=src, check=True)
    subprocess.run(["git", "add", "-A"], cwd=src, check=True)
    return src


def second_source(tmp: Path) -> Path:
    """This checkout with one more catalog migration and the example config changed by a comment line,
    as a git tree (scripts/package copies what git lists)."""
    src = tmp / "src-b"
    copy_checkout(src)
    with open(src / "storage/schema/migrations.py", "a") as f:
        f.write(MIGRATION)
    with open(src / "systemd/edged.example.toml", "a") as f:
        f.write("# a comment the next release added\n")
    subprocess.run(["git", "init", "-q"], cwd=src, check=True)
    subprocess.run(["git", "add", "-A"], cwd=src, check=True)
    return src
