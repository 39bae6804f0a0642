"""The blocking half of an intake (issue 76, design/0349), run on the intake's own thread at the idle
CPU and I/O classes: the file received into a staging folder of the data disk and hashed as it
arrives (`Incoming`), remuxed in a short-lived process (storage/intake/remux.py), then put in its
place, `imports/<sha256>/`: the original byte for byte beside the segments made from it. Nothing is
footage until storage/footage/intakes.py records it; a refusal removes the staging folder, so nothing
is half-stored.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import sys
import threading
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from storage.disk.fsutil import PRIVATE_FILE, fsync_dir, fsync_file, private_dir
from storage.disk.hashing import sha256_file
from storage.export.worker import converse
from storage.footage.segment_rows import COMPLETE
from storage.media import answer
from storage.media.entry import Access, Proc
from storage.footage.intakes import IMPORTS_DIR, SOUND_CODEC, SOUND_LEFT, Intake

STAGING_PREFIX = ".incoming-"
ORIGINAL = "original"
MADE = "made"                   # the staging folder's sub-folder the remux writes its segments into
REMUX = (sys.executable, "-m", "storage.intake.remux")
REMUX_TIMEOUT_S = 3600.0        # a long file at the idle class on a busy box; a hung FFmpeg still ends
SEGMENT_NAME = re.compile(r"[0-9]{3,6}\.mp4")   # the remux's segment names (storage/intake/remux.py), nothing else
SUFFIXES = {"mov,mp4,m4a,3gp,3g2,mj2": ".mp4", "matroska,webm": ".mkv", "avi": ".avi", "mpegts": ".ts"}


class Refused(Exception):
    """The file is refused: `kind` names why (not_media, truncated, too_big, index, times_back, unmuxable,
    remux_failed), `at_us` where in the file's own time, `cause` what of the media worker failed (remux_failed:
    gone, timeout, crashed, answer). `detail` is for the daemon's journal alone: the worker's or FFmpeg's words,
    which may name the staging folder (the person is told `kind`, `at_us` and `cause` in their language)."""

    def __init__(self, kind: str, detail: str = "", at_us: int | None = None, cause: str = ""):
        super().__init__(kind, detail)
        self.kind, self.detail, self.at_us, self.cause = kind, detail, at_us, cause


class Incoming:
    """The file as it arrives: written to `imports/.incoming-<random>/original`, hashed as written,
    never more than `limit` bytes."""

    def __init__(self, data_dir: Path, limit: int):
        self.data_dir = data_dir
        self.folder = private_dir(data_dir / IMPORTS_DIR) / f"{STAGING_PREFIX}{uuid.uuid4().hex}"
        self.folder.mkdir(mode=0o700)
        self.path = self.folder / ORIGINAL
        self._f = open(self.path, "xb")  # noqa: SIM115 - closed by finish or discard
        os.chmod(self.path, PRIVATE_FILE)
        self._sha = hashlib.sha256()
        self.bytes = 0
        self.limit = limit

    def write(self, chunk: bytes) -> None:
        if self.bytes + len(chunk) > self.limit:
            raise Refused("too_big")
        self._f.write(chunk)
        self._sha.update(chunk)
        self.bytes += len(chunk)

    def finish(self) -> str:
        """The file on the disk (fdatasync'd) and its SHA-256."""
        self._f.flush()
        os.fdatasync(self._f.fileno())
        self._f.close()
        return self._sha.hexdigest()

    def discard(self) -> None:
        """The staging folder gone (a refusal): never footage, nothing of it stays."""
        if not self._f.closed:
            self._f.close()
        shutil.rmtree(self.folder, ignore_errors=True)


def sweep_staging(data_dir: Path, busy: frozenset[str] = frozenset()) -> list[str]:
    """Staging folders an intake cut short left (a crash, a stop mid-upload): never catalogued, never
    footage. `busy` names the folders of the intakes under way (design/0404): every other one is stale."""
    folder = data_dir / IMPORTS_DIR
    stale = sorted(p for p in folder.glob(STAGING_PREFIX + "*") if p.is_dir() and not p.is_symlink()
                   and p.name not in busy) if folder.is_dir() else []
    for p in stale:
        shutil.rmtree(p, ignore_errors=True)
    return [p.name for p in stale]


def run_remux(root: Path, original: Path, outdir: Path, segment_us: int) -> dict[str, Any]:
    """storage/intake/remux.py in a process of its own, as the media user where there is one: a
    device's file is untrusted input, so FFmpeg parses it out of the node key's reach (design/0323),
    reading `original` and writing into `outdir` (made here) under the data folder `root`, and
    nothing else; its result, or Refused."""
    outdir.mkdir(mode=0o700, exist_ok=True)
    timer: list[threading.Timer] = []
    killed = threading.Event()

    def started(proc: Proc) -> None:
        def kill() -> None:
            killed.set()
            proc.kill()
        timer.append(threading.Timer(REMUX_TIMEOUT_S, kill))
        timer[0].daemon = True
        timer[0].start()

    request = {"src": str(original), "outdir": str(outdir), "segment_us": segment_us}
    try:
        result, error, rc = converse(REMUX, request, None, None, started,
                                     Access(root, reads=(original,), writes=(outdir,)))
    except OSError as exc:   # the worker gone before its answer (a socket refused, a pipe broken)
        raise Refused("remux_failed", f"the media worker: {exc}"[:300], cause="gone") from None
    finally:
        for t in timer:
            t.cancel()
    if killed.is_set():
        raise Refused("remux_failed", f"over {REMUX_TIMEOUT_S:.0f} s", cause="timeout")
    if not isinstance(result, dict):
        raise Refused("remux_failed", (error or f"exit status {rc}")[:300], cause="crashed")
    if "refused" in result:
        at = result.get("at_us")
        raise Refused(str(result["refused"]), str(result.get("cause") or "")[:300],
                      at_us=at if isinstance(at, int) and not isinstance(at, bool) else None)
    return result


@dataclass(frozen=True)
class Who:
    """Who brings the file in and what it is said to be."""
    device: str
    recorded_by: str
    taken_by: str
    request: int | None
    file_name: str | None = None   # the device's file name as sent, kept (design/0403)


def note_of(result: dict[str, Any]) -> str | None:
    """What of the file is not in its segments, in the record's own words (the intake's note): a
    programming-free code the pages translate (storage keeps no person's language)."""
    notes = []
    if not result.get("segments"):
        notes.append(f"original alone: video {result.get('video') or 'none'}")
    if result.get("sound_left"):   # the worker's word: a codec's name, or said as unnamed
        codec = str(result["sound_left"])
        notes.append(SOUND_LEFT.format(codec=codec if re.fullmatch(SOUND_CODEC, codec) else "unnamed"))
    if result.get("truncated"):
        notes.append(f"truncated: {result.get('whole_fragments')} whole fragments remuxed")
    return "; ".join(notes) or None


def place(staged: Incoming, sha256: str, result: dict[str, Any], who: Who, now_us: int) -> Intake:
    """The staging folder renamed to `imports/<sha256>/` (the original kept under its container's
    suffix), and the intake to record: each segment's stamps the device's claim (or the intake's
    time when it claims none), its hash taken here."""
    made = staged.folder / MADE
    segs = result.get("segments", [])
    if not isinstance(segs, list) or not all(isinstance(seg, dict) for seg in segs):
        raise Refused("remux_failed", "the media worker's answer was refused: no list of segments", cause="answer")
    names = [seg.get("file") for seg in segs]
    if len(set(map(str, names))) != len(names):
        raise Refused("remux_failed", "the media worker's answer was refused: a segment named twice", cause="answer")
    try:   # the worker's files, each checked and copied by the daemon before anything is placed (design/0382)
        for name in names:
            answer.take(made, name, staged.folder / str(name), SEGMENT_NAME)
    except answer.BadAnswer as exc:
        raise Refused("remux_failed", f"the media worker's answer was refused: {exc}"[:300], cause="answer") from None
    shutil.rmtree(made, ignore_errors=True)
    final = staged.folder.parent / sha256
    if final.exists():  # a crash after a rename, before its record: never footage (no row names it)
        shutil.rmtree(final)
    suffix = SUFFIXES.get(str(result.get("format")), "")
    os.replace(staged.path, staged.folder / (ORIGINAL + suffix))
    os.replace(staged.folder, final)
    fsync_dir(final.parent)
    rel = f"{IMPORTS_DIR}/{sha256}"
    claimed = result.get("claimed_us")
    base = now_us if claimed is None else int(claimed)
    segments = []
    for seg in result.get("segments", []):
        path = final / seg["file"]
        fsync_file(path)
        start = base + int(seg["offset_us"])
        segments.append({"start_us": start, "end_us": start + max(1, int(seg["duration_us"])),
                         "path": f"{rel}/{seg['file']}", "bytes": path.stat().st_size, "frames": seg["frames"],
                         "codec": seg["codec"], "width": seg["width"], "height": seg["height"],
                         "audio": int(bool(seg["audio"])), "sha256": sha256_file(path), "state": COMPLETE,
                         "created_us": now_us, "closed_us": now_us})
    return Intake(sha256=sha256, bytes=staged.bytes, device=who.device, recorded_by=who.recorded_by,
                  taken_by=who.taken_by, request=who.request, intake_us=now_us,
                  original=f"{rel}/{ORIGINAL}{suffix}", claimed_start_us=result.get("claimed_us"),
                  claimed_from=result.get("claimed_from"), model=result.get("model"), note=note_of(result),
                  file_name=who.file_name,
                  segments=segments)
