"""The office's APT repository for its boxes (design/0255): a static layout any web server serves,
signed with an OpenPGP key of its own, kept apart from the office's CA.

    edged-central apt key --gnupghome DIR --repo DIR [--name NAME]    the signing key (once), its public half
    edged-central apt publish --repo DIR --gnupghome DIR --dist pilot|stable DEB...
    edged-central apt list --repo DIR [--json]                         which version is in which distribution
    edged-central apt entry --repo DIR --url URL --dist stable [--out FILE]   a box's edged.sources

The layout is Debian's own (pool/, dists/DIST/Release, InRelease, Release.gpg,
main/binary-amd64/Packages): `apt` on a box reads it like any mirror. A distribution keeps every
version published to it, so a box rolls back from the repository (`apt install edged=OLD`); a
rollout is staged by publishing to `pilot` first, then the same files to `stable`.

The text of the indexes is made by the pure functions at the top; gpg and dpkg-deb run below them.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import subprocess
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

ARCH = "amd64"
COMPONENT = "main"
KEY_FILE = "edged-archive-keyring.asc"  # the public key, beside dists/ and pool/
DISTS = ("pilot", "stable")


class AptError(Exception):
    pass


# pure: the indexes' text -------------------------------------------------------------------------
def parse_stanzas(text: str) -> list[dict[str, str]]:
    """deb822 paragraphs (a control file, a Packages index); continuation lines kept in their field."""
    out: list[dict[str, str]] = []
    cur: dict[str, str] = {}
    last = ""
    for line in text.splitlines():
        if not line.strip():
            if cur:
                out.append(cur)
            cur, last = {}, ""
        elif line[0] in " \t" and last:
            cur[last] += "\n" + line
        elif ":" in line:
            last, _, value = line.partition(":")
            cur[last] = value.strip()
    if cur:
        out.append(cur)
    return out


def format_stanza(fields: dict[str, str]) -> str:
    return "".join(f"{k}:{v}\n" if v.startswith("\n") else f"{k}: {v}\n" for k, v in fields.items())


def packages_index(stanzas: list[dict[str, str]]) -> str:
    """A Packages file: one paragraph a package version, in a stable order."""
    ordered = sorted(stanzas, key=lambda s: (s["Package"], s["Version"]))
    return "\n".join(format_stanza(s) for s in ordered)


def release_text(dist: str, files: dict[str, bytes], date_us: int) -> str:
    """The distribution's Release file: what apt checks every index against (by SHA256)."""
    date = datetime.fromtimestamp(date_us / 1e6, timezone.utc).strftime("%a, %d %b %Y %H:%M:%S UTC")
    head = {"Origin": "edged office", "Label": "edged", "Suite": dist, "Codename": dist, "Date": date,
            "Architectures": ARCH, "Components": COMPONENT,
            "Description": f"edged packages for the office's boxes ({dist})"}
    lines = [f" {hashlib.sha256(data).hexdigest()} {len(data)} {name}" for name, data in sorted(files.items())]
    return format_stanza(head) + "SHA256:\n" + "\n".join(lines) + "\n"


def box_entry(url: str, dist: str, public_key: str) -> str:
    """A box's /etc/apt/sources.list.d/edged.sources: the repository and, inside it, the only key apt
    accepts for it (deb822 Signed-By with the key itself; apt >= 2.3, Debian 12)."""
    key = "\n".join(" " + (line if line.strip() else ".") for line in public_key.strip().splitlines())
    return format_stanza({"Types": "deb", "URIs": url, "Suites": dist, "Components": COMPONENT,
                          "Architectures": ARCH, "Signed-By": "\n" + key})


def versions(stanzas: list[dict[str, str]]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for s in stanzas:
        out.setdefault(s["Package"], []).append(s["Version"])
    return out


# the edges: files, dpkg-deb, gpg -----------------------------------------------------------------
def _run(argv: list[str], **kw: Any) -> subprocess.CompletedProcess[str]:
    try:
        r = subprocess.run(argv, capture_output=True, text=True, **kw)
    except FileNotFoundError:
        raise AptError(f"{argv[0]} is not installed (Debian 12: apt install {argv[0].replace('dpkg-deb', 'dpkg')})") from None
    if r.returncode != 0:
        raise AptError(f"{' '.join(argv[:3])}... failed: {(r.stderr or r.stdout).strip()[-500:]}")
    return r


def _gpg(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return _run(["gpg", "--homedir", str(home), "--batch", "--yes", "--pinentry-mode", "loopback", *args])


def _inside(path: Path, folder: Path) -> bool:
    path, folder = path.resolve(), folder.resolve()
    return path == folder or folder in path.parents


def _apart(home: Path, repo: Path, office_dir: Path) -> None:
    """The signing key's home is neither in the office's data folder (its CA, its own key) nor served."""
    if _inside(home, office_dir):
        raise AptError(f"the signing key's folder {home} is inside the office's data folder {office_dir}: keep it "
                       "apart from the CA (another folder, on the repository machine; docs/guide/packages.md)")
    if _inside(home, repo) or _inside(repo, home):
        raise AptError(f"the signing key's folder {home} and the repository {repo} overlap: the repository is served")


def fingerprint(home: Path) -> str:
    """The one secret key in `home`: the key that signs the repository."""
    r = _gpg(home, "--list-secret-keys", "--with-colons")
    fprs = [line.split(":")[9] for line in r.stdout.splitlines() if line.startswith("fpr:")]
    if not fprs:
        raise AptError(f"no signing key in {home}: make it first (edged-central apt key --gnupghome {home} ...)")
    return fprs[0]


def make_key(home: Path, repo: Path, office_dir: Path, name: str) -> dict[str, str]:
    """The repository's signing key (ed25519, two years), made once, and its public half in the repository."""
    _apart(home, repo, office_dir)
    home.mkdir(mode=0o700, parents=True, exist_ok=True)
    os.chmod(home, 0o700)
    try:
        fpr = fingerprint(home)
    except AptError:
        _gpg(home, "--passphrase", "", "--quick-gen-key", name, "ed25519", "sign", "2y")
        fpr = fingerprint(home)
    repo.mkdir(parents=True, exist_ok=True)
    _write(repo / KEY_FILE, _gpg(home, "--armor", "--export", fpr).stdout.encode())
    return {"fingerprint": fpr, "public_key": str(repo / KEY_FILE)}


def _write(path: Path, data: bytes) -> None:
    tmp = path.with_name(path.name + ".new")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def _index_path(repo: Path, dist: str) -> Path:
    return repo / "dists" / dist / COMPONENT / f"binary-{ARCH}" / "Packages"


def read_index(repo: Path, dist: str) -> list[dict[str, str]]:
    p = _index_path(repo, dist)
    return parse_stanzas(p.read_text(encoding="utf-8")) if p.exists() else []


def _stanza(repo: Path, deb: Path) -> dict[str, str]:
    """The package's control fields, with where it is in the pool and its hashes; the file copied there
    (refused if a different file of that name is there: a rebuild needs a new version)."""
    fields = parse_stanzas(_run(["dpkg-deb", "-f", str(deb)]).stdout)
    if not fields or not {"Package", "Version", "Architecture"} <= fields[0].keys():
        raise AptError(f"{deb} is not a Debian package")
    ctl = fields[0]
    if ctl["Architecture"] not in (ARCH, "all"):
        raise AptError(f"{deb} is for {ctl['Architecture']}, the repository for {ARCH}")
    data = deb.read_bytes()
    rel = f"pool/{COMPONENT}/{ctl['Package']}/{deb.name}"
    target = repo / rel
    if target.exists() and target.read_bytes() != data:
        raise AptError(f"{rel} is already published with other contents: build it again with a new version "
                       "(scripts/package --version V); a version's file never changes under the boxes")
    target.parent.mkdir(parents=True, exist_ok=True)
    if not target.exists():
        _write(target, data)
    return {**ctl, "Filename": rel, "Size": str(len(data)), "MD5sum": hashlib.md5(data).hexdigest(),
            "SHA256": hashlib.sha256(data).hexdigest()}


def publish(repo: Path, home: Path, office_dir: Path, dist: str, debs: list[Path], now_us: int) -> dict[str, Any]:
    """Add the packages to `dist` (every version kept), write its indexes and sign its Release."""
    _apart(home, repo, office_dir)
    fpr = fingerprint(home)
    have = {(s["Package"], s["Version"]): s for s in read_index(repo, dist)}
    added = []
    for deb in debs:
        s = _stanza(repo, deb)
        key = (s["Package"], s["Version"])
        if key in have and have[key]["SHA256"] != s["SHA256"]:
            raise AptError(f"{key[0]} {key[1]} is already in {dist} with another file")
        have[key] = s
        added.append(f"{key[0]} {key[1]}")
    text = packages_index(list(have.values())).encode()
    index = _index_path(repo, dist)
    index.parent.mkdir(parents=True, exist_ok=True)
    _write(index, text)
    _write(index.with_name("Packages.gz"), gzip.compress(text, mtime=0))
    top = repo / "dists" / dist
    files = {str(p.relative_to(top)): p.read_bytes() for p in sorted(index.parent.glob("Packages*"))}
    _write(top / "Release", release_text(dist, files, now_us).encode())
    for out, how in (("InRelease", "--clearsign"), ("Release.gpg", "--detach-sign")):
        _gpg(home, "--local-user", fpr, "--digest-algo", "SHA512", "--armor", how, "--output",
             str(top / (out + ".new")), str(top / "Release"))
        os.replace(top / (out + ".new"), top / out)
    return {"dist": dist, "added": added, "signed_by": fpr, "versions": versions(list(have.values()))}


def listing(repo: Path) -> dict[str, dict[str, list[str]]]:
    dists = sorted(p.name for p in (repo / "dists").iterdir()) if (repo / "dists").is_dir() else []
    return {d: versions(read_index(repo, d)) for d in dists}


def entry(repo: Path, url: str, dist: str) -> str:
    key = repo / KEY_FILE
    if not key.exists():
        raise AptError(f"no public key in {repo}: edged-central apt key --gnupghome DIR --repo {repo}")
    if not (repo / "dists" / dist / "InRelease").exists():
        raise AptError(f"{dist} is not published in {repo} yet: edged-central apt publish --dist {dist} ...")
    return box_entry(url, dist, key.read_text(encoding="utf-8"))


# the verb ---------------------------------------------------------------------------------------
def run(office_dir: Path, args: Any, now_us: int) -> tuple[Any, str]:
    repo = Path(args.repo)
    if args.action == "key":
        made = make_key(Path(args.gnupghome), repo, office_dir, args.name)
        return made, (f"the repository's signing key {made['fingerprint']} (in {args.gnupghome}: back it up apart "
                      f"from the CA); its public half {made['public_key']}, which every box's entry carries")
    if args.action == "publish":
        got = publish(repo, Path(args.gnupghome), office_dir, args.dist, [Path(d) for d in args.debs], now_us)
        now = ", ".join(f"{p} {' '.join(v)}" for p, v in sorted(got["versions"].items()))
        return got, f"published to {args.dist}: {', '.join(got['added'])}; signed by {got['signed_by']}; {args.dist} has {now}"
    if args.action == "list":
        got_l = listing(repo)
        lines = [f"{d}: " + (", ".join(f"{p} {' '.join(v)}" for p, v in sorted(pk.items())) or "-")
                 for d, pk in got_l.items()]
        return got_l, "\n".join(lines) or f"nothing published in {repo}"
    if args.action == "entry":
        text = entry(repo, args.url, args.dist)
        if args.out:
            _write(Path(args.out), text.encode())
            return {"out": args.out, "dist": args.dist}, (
                f"written to {args.out}: give it to the box with its enrolment bundle; there, "
                f"install -m 0644 {Path(args.out).name} /etc/apt/sources.list.d/edged.sources && apt update")
        return {"dist": args.dist, "sources": text}, text.rstrip()
    raise AptError(f"unknown action {args.action}")


def register(sub: Any) -> list[Any]:
    """The `apt` verb and its actions; returns the parsers that take --config."""
    a = sub.add_parser("apt", help="the office's APT repository for its boxes, signed with a key apart from the CA")
    acts = a.add_subparsers(dest="action", required=True)
    k = acts.add_parser("key", help="make the repository's signing key (once) and put its public half in the repository")
    k.add_argument("--name", default="edged office APT repository", help="the key's user id")
    p = acts.add_parser("publish", help="add .deb files to a distribution and sign its Release")
    p.add_argument("--dist", required=True, choices=DISTS, help="pilot: a few boxes first; stable: every box")
    p.add_argument("debs", nargs="+", metavar="DEB")
    ls = acts.add_parser("list", help="which versions each distribution holds")
    e = acts.add_parser("entry", help="a box's /etc/apt/sources.list.d/edged.sources, with the key inside it")
    e.add_argument("--url", required=True, help="where the office serves the repository, e.g. http://apt.office.example/")
    e.add_argument("--dist", required=True, choices=DISTS)
    e.add_argument("--out", metavar="FILE")
    for x in (k, p):
        x.add_argument("--gnupghome", required=True, metavar="DIR",
                       help="the signing key's GnuPG folder: on the repository machine, never in the office's data folder")
    for x in (k, p, ls, e):
        x.add_argument("--repo", required=True, metavar="DIR", help="the repository's folder (served as is)")
        x.add_argument("--json", action="store_true")
    return [k, p, ls, e]
