"""The office's APT repository's signing keys (design/0255, 0333): made, renewed and retired in a
folder of their own, apart from the CA and from the served repository, and the key a box trusts
taken from its holder, never from the served folder. central/apt_repo.py publishes with them.

gpg and gpgv run here; nothing else of the office imports this module.
"""

from __future__ import annotations

import os
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

KEY_FILE = "edged-archive-keyring.asc"  # the public key, beside dists/ and pool/ (for people; boxes never take it)
# gpg reaches its agent at sockets in the key's folder, the longest S.gpg-agent.browser; a Unix socket's
# path is at most 107 bytes (sockaddr_un.sun_path, 108 with its NUL) and gpg-agent refuses a longer one.
SOCKET_PATH_MAX, LONGEST_SOCKET = 107, "/S.gpg-agent.browser"
AGENT_EXIT_S = 5.0  # how long a stopped agent is waited for before its link goes


class AptError(Exception):
    pass


def run_tool(argv: list[str], **kw: Any) -> subprocess.CompletedProcess[str]:
    try:
        r = subprocess.run(argv, capture_output=True, text=True, **kw)
    except FileNotFoundError:
        raise AptError(f"{argv[0]} is not installed (Debian 12: apt install {argv[0].replace('dpkg-deb', 'dpkg')})") from None
    if r.returncode != 0:
        raise AptError(f"{' '.join(argv[:3])}... failed: {(r.stderr or r.stdout).strip()[-500:]}")
    return r


@contextmanager
def reach(home: Path) -> Iterator[Path]:
    """The key's folder as gpg is to be given it (design/0521): itself, or, where its agent's sockets
    would pass the socket path's limit, a short link to it in a private temporary folder, whose agent is
    stopped afterwards (gpg otherwise fails with "No agent running" on a deep folder)."""
    home = home.absolute()
    if len(str(home)) + len(LONGEST_SOCKET) <= SOCKET_PATH_MAX:
        yield home
        return
    with tempfile.TemporaryDirectory(prefix="edged-gpg-") as short:  # 0700, ours
        link = Path(short) / "k"
        link.symlink_to(home, target_is_directory=True)
        try:
            yield link
        finally:
            agents = agents_of(link)
            subprocess.run(["gpgconf", "--homedir", str(link), "--kill", "gpg-agent"], capture_output=True)
            gone(agents)  # it removes its sockets through the link as it exits: the link stays until then


def agents_of(home: Path) -> list[Path]:
    """The /proc entries of the gpg-agents started for the key folder `home` (its --homedir)."""
    found = []
    for entry in Path("/proc").glob("[0-9]*"):
        try:
            argv = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if argv[0].endswith(b"gpg-agent") and os.fsencode(home) in argv:
            found.append(entry)
    return found


def gone(agents: list[Path], timeout_s: float = AGENT_EXIT_S) -> None:
    """Wait until each of `agents` has exited (its /proc entry is gone), at most `timeout_s`: `gpgconf --kill`
    returns once the agent is told, and the agent unlinks its sockets afterwards (design/0548)."""
    end = time.monotonic() + timeout_s
    while any(_running(a) for a in agents) and time.monotonic() < end:
        time.sleep(0.02)


def _running(entry: Path) -> bool:
    try:
        return (entry / "stat").read_bytes().rsplit(b")", 1)[1].split()[0] != b"Z"  # a zombie has exited
    except (OSError, IndexError):
        return False


def gpg(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    with reach(home) as h:
        try:
            return run_tool(["gpg", "--homedir", str(h), "--batch", "--yes", "--pinentry-mode", "loopback", *args])
        except AptError as e:  # named by the folder the user gave, not the link
            raise AptError(str(e).replace(str(h), str(home))) from None


def inside(path: Path, folder: Path) -> bool:
    path, folder = path.resolve(), folder.resolve()
    return path == folder or folder in path.parents


def apart(home: Path, repo: Path, office_dir: Path) -> None:
    """The signing key's home is neither in the office's data folder (its CA, its own key) nor served."""
    if inside(home, office_dir):
        raise AptError(f"the signing key's folder {home} is inside the office's data folder {office_dir}: keep it "
                       "apart from the CA (another folder, on the repository machine; docs/guide/packages.md)")
    if inside(home, repo) or inside(repo, home):
        raise AptError(f"the signing key's folder {home} and the repository {repo} overlap: the repository is served")


def fingerprints(home: Path) -> list[str]:
    """The secret keys in `home`, oldest first: every one signs the repository (a renewed key beside
    the one it replaces, until that one is retired)."""
    r = gpg(home, "--list-secret-keys", "--with-colons")
    out, primary = [], False
    for line in r.stdout.splitlines():
        kind = line.split(":")[0]
        if kind in ("sec", "ssb"):
            primary = kind == "sec"
        elif kind == "fpr" and primary:
            out.append(line.split(":")[9])
            primary = False
    if not out:
        raise AptError(f"no signing key in {home}: make it first (edged-central apt key --gnupghome {home} ...)")
    return out


def fingerprint(home: Path) -> str:
    """The first (oldest) secret key in `home`."""
    return fingerprints(home)[0]


def key_home(home: Path) -> None:
    """The key's own folder: made 0700 when new; an existing one is used only if it already is 0700,
    never chmodded (a folder someone named by mistake, /srv or a home, keeps its mode)."""
    if home.exists():
        if not home.is_dir() or home.stat().st_mode & 0o077:
            raise AptError(f"{home} exists and is not a folder of mode 0700: the signing key needs a folder of its own; "
                           "name a new one (it is made 0700), or chmod 700 this one yourself if it is the key's")
        return
    home.parent.mkdir(parents=True, exist_ok=True)
    home.mkdir(mode=0o700)
    os.chmod(home, 0o700)  # the folder just made, whatever the umask


def make_key(home: Path, repo: Path, office_dir: Path, name: str, renew: bool = False,
             retire: str = "") -> dict[str, Any]:
    """The repository's signing key (ed25519, two years), made once; `renew` adds the next one beside
    it, `retire` deletes one. The public half of every key goes in the repository (for people)."""
    apart(home, repo, office_dir)
    key_home(home)
    try:
        have = fingerprints(home)
    except AptError:
        have = []
    if retire:
        if retire not in have or len(have) < 2:
            raise AptError(f"{retire} is not one of {len(have)} keys in {home}, or is the last one: renew first")
        gpg(home, "--delete-secret-and-public-key", retire)
    elif not have or renew:
        gpg(home, "--passphrase", "", "--quick-gen-key", f"{name} ({len(have) + 1})" if have else name,
             "ed25519", "sign", "2y")
    fprs = fingerprints(home)
    repo.mkdir(parents=True, exist_ok=True)
    write_file(repo / KEY_FILE, gpg(home, "--armor", "--export", *fprs).stdout.encode())
    return {"fingerprint": fprs[-1], "fingerprints": fprs, "public_key": str(repo / KEY_FILE)}


def write_file(path: Path, data: bytes) -> None:
    tmp = path.with_name(path.name + ".new")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def gpg_bytes(home: Path, *args: str) -> bytes:
    with reach(home) as h:
        r = subprocess.run(["gpg", "--homedir", str(h), "--batch", *args], capture_output=True)
    if r.returncode != 0 or not r.stdout:
        raise AptError(f"gpg {' '.join(args[:1])} failed: {r.stderr.decode(errors='replace').strip()[-300:]}")
    return r.stdout


def holder_key(repo: Path, home: Path | None, fpr: str) -> str:
    """The public key(s) a box trusts, from their holder: exported from the key's own folder, or the
    served file's key when its fingerprint is the one the holder gave (a swapped file is refused)."""
    if home is not None:
        return gpg(home, "--armor", "--export", *fingerprints(home)).stdout
    served = repo / KEY_FILE
    if not served.exists():
        raise AptError(f"no public key in {repo}: edged-central apt key --gnupghome DIR --repo {repo}")
    text = served.read_text(encoding="utf-8")
    r = run_tool(["gpg", "--batch", "--with-colons", "--import-options", "show-only", "--import"], input=text)
    got = [line.split(":")[9] for line in r.stdout.splitlines() if line.startswith("fpr:")]
    want = fpr.replace(" ", "").upper()
    if want not in got:
        raise AptError(f"the key served in {served} is not {want} (it is {', '.join(got) or 'no key'}): "
                       "someone replaced it, or the fingerprint is another repository's; ask the key's holder")
    return text


def check_inrelease(repo: Path, dist: str, public_key: str) -> None:
    """The distribution's InRelease verifies with the holder's key, as a box's apt will check it."""
    inrelease = repo / "dists" / dist / "InRelease"
    if not inrelease.exists():
        raise AptError(f"{dist} is not published in {repo} yet: edged-central apt publish --dist {dist} ...")
    with tempfile.TemporaryDirectory() as tmp:
        ring = Path(tmp) / "keyring.gpg"
        r = subprocess.run(["gpg", "--batch", "--dearmor", "--output", str(ring)], input=public_key.encode(),
                           capture_output=True)
        v = subprocess.run(["gpgv", "--keyring", str(ring), str(inrelease)], capture_output=True, text=True) \
            if r.returncode == 0 else r
        if v.returncode != 0:
            raise AptError(f"{inrelease} is not signed by the holder's key: the repository was signed by another "
                           "key or changed; publish again with the key's folder (edged-central apt refresh)")
