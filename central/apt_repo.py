"""The office's APT repository for its boxes (design/0255): a static layout any web server serves,
signed with an OpenPGP key of its own, kept apart from the office's CA.

    edged-central apt key --gnupghome DIR --repo DIR [--name NAME] [--renew | --retire FPR]   the signing key(s)
    edged-central apt publish --repo DIR --gnupghome DIR --dist DIST DEB...     DIST: one of DISTS
    edged-central apt refresh --repo DIR --gnupghome DIR      every Release signed again, Valid-Until moved on
    edged-central apt keyring --repo DIR --gnupghome DIR      edged-archive-keyring (the keys as a package)
    edged-central apt list --repo DIR [--json]                         which version is in which distribution
    edged-central apt entry --repo DIR --url URL --dist DIST (--gnupghome DIR | --fingerprint FPR) [--out FILE]

The layout is Debian's own (pool/, dists/DIST/Release, InRelease, Release.gpg,
main/binary-amd64/Packages): `apt` on a box reads it like any mirror. Each Release is valid for
VALID_DAYS (Valid-Until): a frozen or replayed index is refused once that passes, so the office
runs `refresh` daily (design/0333). A distribution keeps every
version published to it, so a box rolls back from the repository (`apt install edged=OLD`); a
rollout is staged by publishing to `pilot` first, then the same files to `stable`; a fleet on Debian 12 and
13 has that pair per release, each given its release's build (`bookworm-pilot`, `bookworm`, `trixie-pilot`,
`trixie`: design/0466).

The text of the indexes is made by the pure functions at the top; gpg and dpkg-deb run below them.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import shutil
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from central.apt_keys import AptError as AptError, apart, check_inrelease, fingerprints, gpg, gpg_bytes, holder_key, make_key, \
    run_tool, write_file

ARCH = "amd64"
COMPONENT = "main"
# A pilot (a few boxes first) and the rest: for a fleet on one Debian release, and a pair per release (design/0466).
DISTS = ("pilot", "stable", "bookworm-pilot", "bookworm", "trixie-pilot", "trixie")
VALID_DAYS = 7  # a Release's Valid-Until: `apt refresh` (daily) moves it on (design/0333)
DAY_US = 86_400_000_000
KEYRING_PACKAGE = "edged-archive-keyring"
KEYRING = "/usr/share/keyrings/edged-archive-keyring.pgp"  # what the keyring package installs, the entry names


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


def _rfc2822(t_us: int) -> str:
    return datetime.fromtimestamp(t_us / 1e6, timezone.utc).strftime("%a, %d %b %Y %H:%M:%S UTC")


def release_text(dist: str, files: dict[str, bytes], date_us: int, valid_days: int = VALID_DAYS) -> str:
    """The distribution's Release file: what apt checks every index against (by SHA256), and until
    when (Valid-Until: apt refuses the index after it, so a frozen copy cannot be replayed for ever)."""
    head = {"Origin": "edged office", "Label": "edged", "Suite": dist, "Codename": dist, "Date": _rfc2822(date_us),
            "Valid-Until": _rfc2822(date_us + valid_days * DAY_US), "Architectures": ARCH, "Components": COMPONENT,
            "Description": f"edged packages for the office's boxes ({dist})"}
    lines = [f" {hashlib.sha256(data).hexdigest()} {len(data)} {name}" for name, data in sorted(files.items())]
    return format_stanza(head) + "SHA256:\n" + "\n".join(lines) + "\n"


def box_entry(url: str, dist: str, public_key: str = "", keyring: str = KEYRING) -> str:
    """A box's /etc/apt/sources.list.d/edged.sources: the repository and the only keys apt accepts for
    it: the keyring package's file (renewed through apt, design/0333), or the key itself inside the
    entry (deb822 Signed-By with the key block; apt >= 2.3, Debian 12)."""
    signed_by = keyring
    if public_key:
        signed_by = "\n" + "\n".join(" " + (line if line.strip() else ".") for line in public_key.strip().splitlines())
    return format_stanza({"Types": "deb", "URIs": url, "Suites": dist, "Components": COMPONENT,
                          "Architectures": ARCH, "Signed-By": signed_by})


def keyring_control(version: str) -> str:
    return format_stanza({"Package": KEYRING_PACKAGE, "Version": version, "Architecture": "all",
                          "Maintainer": "edged office <root@localhost>", "Section": "misc", "Priority": "optional",
                          "Multi-Arch": "foreign",
                          "Description": "keys that sign the edged office's APT repository\n"
                                         " Installs " + KEYRING + ", which each box's edged.sources names; a new\n"
                                         " version brings a renewed key before the office signs with it."})


def versions(stanzas: list[dict[str, str]]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for s in stanzas:
        out.setdefault(s["Package"], []).append(s["Version"])
    return out


# the edges: files, dpkg-deb, gpg -----------------------------------------------------------------
def _index_path(repo: Path, dist: str) -> Path:
    return repo / "dists" / dist / COMPONENT / f"binary-{ARCH}" / "Packages"


def read_index(repo: Path, dist: str) -> list[dict[str, str]]:
    p = _index_path(repo, dist)
    return parse_stanzas(p.read_text(encoding="utf-8")) if p.exists() else []


def _stanza(repo: Path, deb: Path) -> dict[str, str]:
    """The package's control fields, with where it is in the pool and its hashes; the file copied there
    (refused if a different file of that name is there: a rebuild needs a new version)."""
    fields = parse_stanzas(run_tool(["dpkg-deb", "-f", str(deb)]).stdout)
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
        write_file(target, data)
    return {**ctl, "Filename": rel, "Size": str(len(data)), "MD5sum": hashlib.md5(data).hexdigest(),
            "SHA256": hashlib.sha256(data).hexdigest()}


def _sign(repo: Path, home: Path, dist: str, now_us: int) -> list[str]:
    """The distribution's Release from its indexes, dated now and valid VALID_DAYS, signed by every key."""
    fprs = fingerprints(home)
    top = repo / "dists" / dist
    index = _index_path(repo, dist)
    files = {str(p.relative_to(top)): p.read_bytes() for p in sorted(index.parent.glob("Packages*"))}
    write_file(top / "Release", release_text(dist, files, now_us).encode())
    users = [arg for f in fprs for arg in ("--local-user", f + "!")]
    for out, how in (("InRelease", "--clearsign"), ("Release.gpg", "--detach-sign")):
        gpg(home, *users, "--digest-algo", "SHA512", "--armor", how, "--output", str(top / (out + ".new")),
             str(top / "Release"))
        os.replace(top / (out + ".new"), top / out)
    return fprs


def publish(repo: Path, home: Path, office_dir: Path, dist: str, debs: list[Path], now_us: int) -> dict[str, Any]:
    """Add the packages to `dist` (every version kept), write its indexes and sign its Release."""
    apart(home, repo, office_dir)
    fingerprints(home)
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
    write_file(index, text)
    write_file(index.with_name("Packages.gz"), gzip.compress(text, mtime=0))
    fprs = _sign(repo, home, dist, now_us)
    return {"dist": dist, "added": added, "signed_by": fprs[-1], "signed_by_all": fprs,
            "versions": versions(list(have.values()))}


def published(repo: Path) -> list[str]:
    return sorted(p.name for p in (repo / "dists").iterdir() if (p / "Release").exists()) \
        if (repo / "dists").is_dir() else []


def refresh(repo: Path, home: Path, office_dir: Path, now_us: int) -> dict[str, Any]:
    """Every distribution's Release dated now and signed again (its indexes unchanged): run daily, so a
    box's apt never sees the repository's Valid-Until pass while the office is serving it."""
    apart(home, repo, office_dir)
    dists = published(repo)
    if not dists:
        raise AptError(f"nothing published in {repo}: edged-central apt publish ... first")
    for d in dists:
        fprs = _sign(repo, home, d, now_us)
    return {"dists": dists, "valid_until": _rfc2822(now_us + VALID_DAYS * DAY_US), "signed_by_all": fprs}


def keyring(repo: Path, home: Path, office_dir: Path, now_us: int) -> dict[str, Any]:
    """edged-archive-keyring: every key of the holder as KEYRING, a package published to every
    distribution, so a renewed key reaches the boxes through apt before the office signs with it alone."""
    apart(home, repo, office_dir)
    fprs = fingerprints(home)
    made = len(list((repo / "pool" / COMPONENT / KEYRING_PACKAGE).glob("*.deb")))
    version = datetime.fromtimestamp(now_us / 1e6, timezone.utc).strftime("%Y.%m.%d.") + str(made + 1)
    build = repo.parent / f".{repo.name}.keyring-build"
    shutil.rmtree(build, ignore_errors=True)
    try:
        (build / "DEBIAN").mkdir(parents=True)
        (build / "DEBIAN/control").write_text(keyring_control(version))
        target = build / KEYRING.lstrip("/")
        target.parent.mkdir(parents=True)
        target.write_bytes(gpg_bytes(home, "--export", *fprs))
        target.chmod(0o644)
        deb = build.parent / f"{KEYRING_PACKAGE}_{version}_all.deb"
        run_tool(["dpkg-deb", "--root-owner-group", "-Zgzip", "--build", str(build), str(deb)])
    finally:
        shutil.rmtree(build, ignore_errors=True)
    dists = published(repo) or ["stable"]
    try:
        for d in dists:
            publish(repo, home, office_dir, d, [deb], now_us)
    finally:
        deb.unlink(missing_ok=True)
    return {"package": f"{KEYRING_PACKAGE}_{version}_all.deb", "version": version, "keys": fprs, "dists": dists,
            "path": str(repo / "pool" / COMPONENT / KEYRING_PACKAGE / f"{KEYRING_PACKAGE}_{version}_all.deb")}


def listing(repo: Path) -> dict[str, dict[str, list[str]]]:
    dists = sorted(p.name for p in (repo / "dists").iterdir()) if (repo / "dists").is_dir() else []
    return {d: versions(read_index(repo, d)) for d in dists}


def entry(repo: Path, url: str, dist: str, home: Path | None = None, fpr: str = "", inline: bool = False,
          keyring_path: str = KEYRING) -> str:
    """A box's entry: the keyring package's file (default), or the holder's key inside it."""
    if home is None and not fpr:
        raise AptError("name the key's holder: --gnupghome DIR (on the repository machine) or --fingerprint FPR "
                       "(as `edged-central apt key` printed it); the served key file alone is never trusted")
    key = holder_key(repo, home, fpr)
    check_inrelease(repo, dist, key)
    return box_entry(url, dist, key if inline else "", keyring_path)


# the verb ---------------------------------------------------------------------------------------
def _say(got: dict[str, Any], action: str, args: Any) -> str:
    if action == "key":
        return (f"the repository's signing keys {', '.join(got['fingerprints'])} (in {args.gnupghome}: back it up "
                f"apart from the CA); the public halves in {got['public_key']}; give the boxes a fingerprint, or "
                "publish `edged-central apt keyring` after a renewal")
    if action == "refresh":
        return f"signed again: {', '.join(got['dists'])}, valid until {got['valid_until']} (run this daily)"
    return (f"{got['path']}: the keys {', '.join(got['keys'])}, published to {', '.join(got['dists'])}; give this "
            f"file to a new box with its entry (apt install ./{got['package']}); boxes upgrade it through apt")


def run(office_dir: Path, args: Any, now_us: int) -> tuple[Any, str]:
    repo = Path(args.repo)
    home = Path(args.gnupghome) if getattr(args, "gnupghome", None) else None
    if args.action == "key":
        made = make_key(Path(args.gnupghome), repo, office_dir, args.name, args.renew, args.retire or "")
        return made, _say(made, "key", args)
    if args.action == "publish":
        got = publish(repo, Path(args.gnupghome), office_dir, args.dist, [Path(d) for d in args.debs], now_us)
        now = ", ".join(f"{p} {' '.join(v)}" for p, v in sorted(got["versions"].items()))
        return got, f"published to {args.dist}: {', '.join(got['added'])}; signed by {got['signed_by']}; {args.dist} has {now}"
    if args.action in ("refresh", "keyring"):
        got = (refresh if args.action == "refresh" else keyring)(repo, Path(args.gnupghome), office_dir, now_us)
        return got, _say(got, args.action, args)
    if args.action == "list":
        got_l = listing(repo)
        lines = [f"{d}: " + (", ".join(f"{p} {' '.join(v)}" for p, v in sorted(pk.items())) or "-")
                 for d, pk in got_l.items()]
        return got_l, "\n".join(lines) or f"nothing published in {repo}"
    if args.action == "entry":
        text = entry(repo, args.url, args.dist, home, args.fingerprint or "", args.inline)
        if args.out:
            write_file(Path(args.out), text.encode())
            return {"out": args.out, "dist": args.dist}, (
                f"written to {args.out}: give it to the box with its enrolment bundle and the keyring package; there, "
                f"install -m 0644 {Path(args.out).name} /etc/apt/sources.list.d/edged.sources && apt update")
        return {"dist": args.dist, "sources": text}, text.rstrip()
    raise AptError(f"unknown action {args.action}")


def register(sub: Any) -> list[Any]:
    """The `apt` verb and its actions; returns the parsers that take --config."""
    a = sub.add_parser("apt", help="the office's APT repository for its boxes, signed with a key apart from the CA")
    acts = a.add_subparsers(dest="action", required=True)
    k = acts.add_parser("key", help="make the repository's signing key (once) and put its public half in the repository")
    k.add_argument("--name", default="edged office APT repository", help="the key's user id")
    k.add_argument("--renew", action="store_true", help="add the next key beside the current one (both sign)")
    k.add_argument("--retire", metavar="FPR", help="delete a renewed-away key once every box has the keyring with its successor")
    p = acts.add_parser("publish", help="add .deb files to a distribution and sign its Release")
    p.add_argument("--dist", required=True, choices=DISTS,
                   help="pilot: a few boxes first; stable: every box; RELEASE-pilot and RELEASE: the same, a release's build")
    p.add_argument("debs", nargs="+", metavar="DEB")
    r = acts.add_parser("refresh", help=f"sign every Release again, valid {VALID_DAYS} days from now (run daily)")
    kr = acts.add_parser("keyring", help="build edged-archive-keyring from the keys and publish it to every distribution")
    ls = acts.add_parser("list", help="which versions each distribution holds")
    e = acts.add_parser("entry", help="a box's /etc/apt/sources.list.d/edged.sources, naming the keys from their holder")
    e.add_argument("--url", required=True, help="where the office serves the repository, e.g. http://apt.office.example/")
    e.add_argument("--dist", required=True, choices=DISTS)
    e.add_argument("--out", metavar="FILE")
    e.add_argument("--fingerprint", metavar="FPR", help="the key's fingerprint from its holder (when not on the key's machine)")
    e.add_argument("--inline", action="store_true", help="the key inside the entry, not the keyring package's file")
    e.add_argument("--gnupghome", metavar="DIR", help="the signing key's GnuPG folder (its holder)")
    for x in (k, p, r, kr):
        x.add_argument("--gnupghome", required=True, metavar="DIR",
                       help="the signing key's GnuPG folder: on the repository machine, never in the office's data folder")
    for x in (k, p, r, kr, ls, e):
        x.add_argument("--repo", required=True, metavar="DIR", help="the repository's folder (served as is)")
        x.add_argument("--json", action="store_true")
    return [k, p, r, kr, ls, e]
