"""A C2PA manifest embedded in each exported clip, with the C2PA SDK (c2pa-python; design/0098).

The clip stays what the export made (fragmented MP4 by fragment copy, or a plain MP4 by remux);
the SDK writes a copy with its manifest box after `ftyp` and hashes every other box (BMFF hash
v3: all but `ftyp`, its own box, `mfra`, `free` and `skip`), so one changed byte of a sample is
caught. Signed through `sign`, a callable that never exposes the node key (in the daemon's export it is a
round trip to the daemon over the signing process's pipe). Read back after signing with the SDK's
reader, the chain's last certificate (the office's CA) its only trust anchor: a clip leaves
only with a manifest that reader trusts, or without one (and the export says why).

Runs in the export's signing process (storage/export/worker.py `run_signing`), never in the
media worker and never in the daemon; blocking. The definitions it embeds are the daemon's
(c2pa_claim.jobs), and the node key signs through `sign` only (design/0134). The SDK's library is
loaded at the first clip signed, not when the daemon imports the export.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Callable

from storage.export.c2pa_claim import MEDIA_TYPE
from storage.export.plan import Meter, Progress
from storage.disk.fsutil import PRIVATE_FILE
from storage.disk.hashing import sha256_file

BACKING_STORE_MB = 32
TRUSTED = "Trusted"  # the reader's validation_state for a manifest whose signer chains to a trust anchor
ALGORITHMS = ("ed25519", "es256", "es384", "ps256")  # c2pa_profile.algorithm's answers, the SDK's names upper-cased


class NotSigned(Exception):
    """The C2PA manifest could not be made; the message says why (the export goes on without it)."""


def settings(trust_anchor: str) -> dict[str, Any]:
    """The SDK's settings for signing: no thumbnail (footage is not copied into the manifest), no
    network, the check after signing against the office's CA alone, and a clip over
    BACKING_STORE_MB kept in an unnamed temporary file, not in memory (measured: a 192 MB clip took
    238 MB of memory with the SDK's default of 512, 55 MB with 1). The worker points TMPDIR at
    the export's own folder, so that file is on the data disk and the daemon's alone."""
    return {"builder": {"thumbnail": {"enabled": False}},
            "core": {"backing_store_memory_threshold_in_mb": BACKING_STORE_MB},
            "trust": {"trust_anchors": trust_anchor},
            "verify": {"verify_after_sign": False, "verify_trust": True, "ocsp_fetch": False,
                       "remote_manifest_fetch": False}}


def _checked(c2pa: Any, path: Path, ctx: Any) -> None:
    """The signed copy as a reader with the office's CA sees it: trusted, no failure; else NotSigned.
    (The SDK's own check after signing does not hold an untrusted chain against the signer.)"""
    with open(path, "rb") as f, c2pa.Reader(MEDIA_TYPE, f, context=ctx) as reader:
        state, results = reader.get_validation_state(), reader.get_validation_results() or {}
    failures = [f["code"] for f in (results.get("activeManifest") or {}).get("failure", [])]
    if state != TRUSTED or failures:
        raise NotSigned(f"the C2PA reader does not trust the signed clip against the office's CA ({state}: "
                        f"{', '.join(failures) or 'no failure code'})")


class _Metered:
    """A file as the SDK uses it, telling `tick` of each write (bytes) and read (0): the export's
    progress lines go on while a long clip is signed."""

    def __init__(self, f: Any, tick: Callable[[int], None]):
        self.f, self.tick = f, tick

    def read(self, n: int = -1) -> bytes:
        data: bytes = self.f.read(n)
        self.tick(0)
        return data

    def write(self, data: bytes) -> int:
        self.tick(len(data))
        return int(self.f.write(data))

    def seek(self, offset: int, whence: int = 0) -> int:
        return int(self.f.seek(offset, whence))

    def tell(self) -> int:
        return int(self.f.tell())

    def flush(self) -> None:
        self.f.flush()


def sign_clip(path: Path, definition: dict[str, Any], chain: list[str], alg: str,
              sign: Callable[[bytes], bytes], tick: Callable[[int], None] = lambda n: None,
              parent: tuple[dict[str, Any], Path] | None = None) -> dict[str, Any]:
    """Embed the manifest `definition` in the clip at `path` (replaced whole: a signed copy is
    written beside it, fsynced and renamed over it). `chain`: PEM texts, the node's certificate
    first, the office's CA last. `parent`: (ingredient definition, file) of the clip this one was
    made from (a redacted copy's original, design/0173): the SDK puts the file's own manifest in
    as the ingredient, hash-linked. Returns the clip's new {sha256, bytes}; NotSigned says why not."""
    import c2pa  # the SDK's native library: loaded here, in the export worker only

    if alg not in ALGORITHMS:
        raise NotSigned(f"the C2PA SDK does not sign with {alg}")
    tmp = path.with_name(f".{path.name}.c2pa")
    tmp.unlink(missing_ok=True)
    try:
        algorithm = getattr(c2pa.C2paSigningAlg, alg.upper())
        with c2pa.Signer.from_callback(lambda data: sign(bytes(data)), algorithm, "".join(chain), None) as signer, \
                c2pa.Context.from_dict(settings(chain[-1])) as ctx, \
                c2pa.Builder(definition, context=ctx) as builder, open(path, "rb") as src, open(tmp, "w+b") as dst:
            if parent is not None:
                with open(parent[1], "rb") as original:
                    builder.add_ingredient(parent[0], MEDIA_TYPE, original)
            builder.sign(signer, MEDIA_TYPE, _Metered(src, tick), _Metered(dst, tick))
            dst.flush()
            os.fsync(dst.fileno())
            _checked(c2pa, tmp, ctx)
        os.chmod(tmp, PRIVATE_FILE)
        os.replace(tmp, path)
    except NotSigned:
        tmp.unlink(missing_ok=True)
        raise
    except (c2pa.C2paError, OSError, ValueError) as exc:
        tmp.unlink(missing_ok=True)
        raise NotSigned(f"the C2PA SDK refused: {exc}") from None
    return {"sha256": sha256_file(path), "bytes": path.stat().st_size}


def sign_jobs(folder: Path, jobs: list[dict[str, Any]], chain: list[str], alg: str,
              sign: Callable[[bytes], bytes], progress: Progress | None = None) -> list[dict[str, Any]]:
    """Sign each clip of `jobs` ({file, camera, definition}: what the daemon computed,
    c2pa_claim.jobs) in place, in `folder`; per job {file, c2pa: {made, why}} and, when made,
    its new {sha256, bytes}. A clip the SDK refuses stays as it was. Progress in the clips'
    bytes as the SDK writes them."""
    meter = Meter(sum((folder / j["file"]).stat().st_size for j in jobs), progress, passes=1)
    out = []
    for job in jobs:
        def tick(n: int, camera: str = job["camera"]) -> None:
            meter.add(n, camera)

        try:
            made = sign_clip(folder / job["file"], job["definition"], chain, alg, sign, tick)
            out.append({"file": job["file"], **made, "c2pa": {"made": True}})
        except NotSigned as exc:
            out.append({"file": job["file"], "c2pa": {"made": False, "why": str(exc)}})
    meter.add(0, "", final=True)
    return out
