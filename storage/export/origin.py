"""Who made an export, as far as a root the verifier trusts can say (design/0097).

An export's origin is "checked" only through the office's CA: the node certificate the manifest
carries must be issued by the CA the verifier trusts (pinned at enrolment, or given with
`--ca`), valid when the export was made and not on the revocation list; or, for an export made
before its node was enrolled, the node's key must be on a key list signed by that same root.
Anything the folder brings along (its own key, its own CA, its own key list) proves nothing of
origin: "unchecked" (exit 3), never "checked". Pure but for parsing: no files here.

Revocation must be fresh (design/0129): "checked" needs a revocation list (or, for the key
list's route, a key list) the office issued at least GRACE_US after the latest time the export can
be proven to have been signed (design/0374: its footage's end plus EXPORT_WAIT_US, or the office's
receipt where the checker's core read one; never the box's own signing time); an older one, or
none, leaves a chain that holds "unchecked", saying which list is needed.
"""

from __future__ import annotations

import base64
import datetime as dt
from dataclasses import dataclass, field, replace
from collections.abc import Iterable
from typing import Any

from cryptography import x509

from storage import names
from storage.keys import fleetkeys, nodecert, nodekey

CHECKED, UNCHECKED, REFUSED = "checked", "unchecked", "refused"
# How long after an export was signed the office's list must have been issued to say "checked"
# (design/0129): the office's time to learn of a lost or taken box and revoke it. It publishes a
# list every hour and at once on each revocation (central/keys/ca.py PUBLISH_EVERY_US), so a list a
# day younger than the signing holds every revocation the office made in that day.
GRACE_US = 24 * 3600 * 1_000_000
# The longest after its footage ends an export is taken to have been signed when nothing the office
# signed bounds it (design/0374): freshness is judged from the latest time the verifier can prove,
# never from the box's own `created_us` (edged_evidence_check.check EXPORT_WAIT_US, held equal).
EXPORT_WAIT_US = 31 * 24 * 3600 * 1_000_000


@dataclass(frozen=True)
class Origin:
    status: str                       # checked, unchecked or refused
    why: str                          # for people: what was checked, or why not
    key: str | None = None            # base64 of the key the manifest's signature must match
    who: dict[str, Any] = field(default_factory=dict)
    revocation: dict[str, Any] | None = None   # the list's dates against the signing (Freshness.as_dict)


def root_fingerprint(ca: x509.Certificate) -> str:
    return nodekey.fingerprint(nodekey.public_raw(ca.public_key()))  # type: ignore[arg-type]


def _claims(manifest: dict[str, Any]) -> tuple[str, str] | None:
    """(site, node) the manifest claims, each a name by the one rule (storage/names.py), else None."""
    try:
        site, node = manifest["site"]["id"], manifest["node"]
    except (KeyError, TypeError):
        return None
    return (site, node) if names.is_name(site) and names.is_name(node) else None


def _claimed(manifest: dict[str, Any]) -> str:
    """What the manifest claims, for people: escaped where it is no name (storage/names.py shown)."""
    site = manifest.get("site")
    return f"{names.shown(site.get('id') if isinstance(site, dict) else None)}/{names.shown(manifest.get('node'))}"


def by_certificate(manifest: dict[str, Any], ca: x509.Certificate,
                   crl: x509.CertificateRevocationList | None) -> Origin:
    """The export's node certificate against the trusted CA."""
    pems = manifest.get("node_certificates")
    if not isinstance(pems, list) or not all(isinstance(p, str) for p in pems):
        return Origin(UNCHECKED, "the export carries no node certificate (made before its node was enrolled)")
    try:
        chain = nodecert.load_pem_chain("".join(pems).encode())
        created = manifest.get("created_us")
        ident = nodecert.check_chain(chain, ca, crl, created if isinstance(created, int) else None)
    except nodecert.CertError as exc:
        return Origin(REFUSED, str(exc))
    claims = _claims(manifest)
    if claims != (ident.site, ident.node):
        return Origin(REFUSED, f"the manifest claims {_claimed(manifest)}, but its certificate names "
                               f"{names.quoted_node(ident.name)}")
    return Origin(CHECKED, f"signed by {names.quoted_node(ident.name)} (certificate serial {ident.serial:x}) under the CA "
                           f"{root_fingerprint(ca)}", base64.b64encode(ident.public_raw).decode(),
                  {"site": ident.site, "node": ident.node, "serial": f"{ident.serial:x}",
                   "fingerprint": ident.fingerprint, "ca_fingerprint": root_fingerprint(ca)})


def by_key_list(manifest: dict[str, Any], text: bytes, root: str,
                crl: x509.CertificateRevocationList | None) -> Origin:
    """The export's key on a key list that `root` (the CA's key fingerprint, or the office's key
    given out of band) signed; a revoked key is refused."""
    try:
        doc = fleetkeys.check(text, root)
    except fleetkeys.KeyListError as exc:
        return Origin(REFUSED, f"the key list cannot be trusted: {exc}")
    claims = _claims(manifest)
    if claims is None:
        return Origin(REFUSED, f"the manifest does not name its site and node by plain names ({_claimed(manifest)})")
    keys = fleetkeys.keys_of(doc, *claims)
    shipped = manifest.get("node_public_key")
    match = next((k for k in keys if k["public_key"] == shipped), None)
    if match is None:
        return Origin(REFUSED, f"the export claims {claims[0]}/{claims[1]}, but its key "
                               f"{manifest.get('node_key_fingerprint')} is not that node's in the office's key list "
                               f"({len(keys)} key(s) listed for it)")
    serial = match.get("serial")
    revoked = match.get("revoked_us") is not None or (
        crl is not None and isinstance(serial, str) and _serial_revoked(crl, serial))
    if revoked:
        return Origin(REFUSED, f"the key of {claims[0]}/{claims[1]} ({match['fingerprint']}) was revoked by the office")
    got = Origin(CHECKED, f"the key is {claims[0]}/{claims[1]}'s in the office's key list signed by "
                          f"{doc['central_fingerprint']}", match["public_key"],
                 {"site": claims[0], "node": claims[1], "fingerprint": match["fingerprint"],
                  "first_us": match.get("first_us"), "last_us": match.get("last_us"),
                  "central_fingerprint": doc["central_fingerprint"]})
    return with_revocation(got, key_list_dates(doc, manifest))  # the list says who was revoked, as of its date


def _serial_revoked(crl: x509.CertificateRevocationList, serial: str) -> bool:
    try:
        return crl.get_revoked_certificate_by_serial_number(int(serial, 16)) is not None
    except ValueError:
        return False


@dataclass(frozen=True)
class Freshness:
    """A revocation list's (or key list's) dates against the export's signing time."""

    what: str                  # "revocation list" or "key list"
    issued_us: int
    signed_us: int | None      # the export's created_us (None: it names none): shown, never judged from
    next_us: int | None = None  # the list's own nextUpdate, where it has one
    latest_us: int | None = None  # the latest the export can be proven signed (`latest_us`; None: nothing bounds it)

    @property
    def needed_us(self) -> int | None:
        return None if self.latest_us is None else self.latest_us + GRACE_US

    @property
    def fresh(self) -> bool:
        return self.needed_us is not None and self.issued_us >= self.needed_us

    def as_dict(self) -> dict[str, Any]:
        return {"what": self.what, "issued_us": self.issued_us, "issued_utc": utc_text(self.issued_us),
                "next_update_utc": None if self.next_us is None else utc_text(self.next_us),
                "signed_utc": None if self.signed_us is None else utc_text(self.signed_us),
                "latest_signed_utc": None if self.latest_us is None else utc_text(self.latest_us),
                "needed_from_utc": None if self.needed_us is None else utc_text(self.needed_us),
                "fresh": self.fresh}


def utc_text(us: int) -> str:
    return dt.datetime.fromtimestamp(us / 1e6, dt.timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")


def signed_us(manifest: dict[str, Any]) -> int | None:
    got = manifest.get("created_us")
    return got if isinstance(got, int) and not isinstance(got, bool) else None


def latest_us(manifest: dict[str, Any]) -> int | None:
    """The latest time the export can be proven to have been signed without the office's receipt
    (design/0374): its footage's end (the latest `to_us` it lists) plus EXPORT_WAIT_US; None if it
    lists no clip with an end; a portable device's footage (every source imported) ends at its intake,
    never at its clips' times, which are its device's claim (design/0400; the checker's `footage_end`).
    Never `created_us`: a box that backdates its export buys nothing."""
    cams = [cam for cam in (manifest.get("cameras") or []) if isinstance(cam, dict)]
    clips = _times(c.get("to_us") for cam in cams for c in (cam.get("clips") or []) if isinstance(c, dict))
    if not clips:
        return None
    ends: list[Any] = []
    for cam in cams:
        srcs = [s for s in (cam.get("sources") or []) if isinstance(s, dict)]
        if srcs and all(isinstance(s.get("imported"), dict) for s in srcs):
            ends += [s["imported"].get("intake_us") for s in srcs]
        else:
            ends += [c.get("to_us") for c in (cam.get("clips") or []) if isinstance(c, dict)]
    return max(_times(ends) or clips) + EXPORT_WAIT_US


def _times(values: Iterable[Any]) -> list[int]:
    """The values that are times (integers, not booleans): a manifest is read as untrusted input."""
    return [v for v in values if isinstance(v, int) and not isinstance(v, bool)]


def crl_dates(crl: x509.CertificateRevocationList, manifest: dict[str, Any], latest: int | None = None) -> Freshness:
    """The list's dates against the export: judged from `latest` (the checker's core, which reads the
    office's receipt), else from `latest_us`."""
    nxt = crl.next_update_utc
    return Freshness("revocation list", int(crl.last_update_utc.timestamp() * 1_000_000), signed_us(manifest),
                     None if nxt is None else int(nxt.timestamp() * 1_000_000),
                     latest if latest is not None else latest_us(manifest))


def key_list_dates(doc: dict[str, Any], manifest: dict[str, Any]) -> Freshness:
    made = doc.get("made_us")
    return Freshness("key list", made if isinstance(made, int) else 0, signed_us(manifest), None, latest_us(manifest))


def with_revocation(got: Origin, dates: Freshness | None) -> Origin:
    """Pure: `got` (a chain or key list that holds) is "checked" only with a list fresh enough;
    else "unchecked", saying which list is needed. A refusal stays a refusal."""
    if got.status != CHECKED:
        return got if dates is None else replace(got, revocation=dates.as_dict())
    if dates is not None:
        got = replace(got, revocation=dates.as_dict())
    if dates is None:
        return replace(got, status=UNCHECKED, why=f"{got.why}; but no revocation list was given, so a box the office "
                                                  "revoked would pass: pass --crl, the office's list")
    if dates.needed_us is None:
        return replace(got, status=UNCHECKED, why=f"{got.why}; but the export lists no footage whose end bounds its "
                                                  f"signing, to judge the {dates.what} ({utc_text(dates.issued_us)}) "
                                                  "against")
    if not dates.fresh:
        return replace(got, status=UNCHECKED, why=(
            f"{got.why}; but the {dates.what} was issued {utc_text(dates.issued_us)}, before "
            f"{utc_text(dates.needed_us)} (the export was signed at the latest {utc_text(dates.needed_us - GRACE_US)}, "
            f"its footage's end plus {EXPORT_WAIT_US // 86_400_000_000} days, the longest an export may wait, plus "
            f"{GRACE_US // 3_600_000_000} h for the office to revoke a lost box): get the office's current one"))
    return got
