"""Who the media workers run as, and whether they can open the node key (issue 74; design/0323).

    .venv/bin/python -m bench.media_user          (as root: the test box's daemon may change user)

Makes a data folder (0700) with the node key (0600), 12 s of one camera's segments, an export of
them made through the export's media worker and signing process, and a signed redacted copy of a
10-frame clip made by the redaction worker, as the daemon does. While they run, every child of this
process is read from /proc (its real uid, its command); afterwards a process with each uid seen tries
to open the node key. Prints one row per worker: its uid, and "read" or the errno of opening the key.
Runs on any commit that has the three workers (before design/0323 too: it hooks nothing).
"""

from __future__ import annotations

import errno
import os
import re
import shutil
import subprocess
import tempfile
import threading
from pathlib import Path

from bench.common import command_line, log, source_state, table
from storage.disk.fsutil import private_dir
from storage.disk.hashing import sha256_file
from storage.export import c2pa_claim, c2pa_sign
from storage.export import evidence as export
from storage.export import worker
from storage.export.worker import run_clips, run_signing
from storage.keys import nodekey
from storage.readonly import open_readonly
from storage.redact import job as jobs
from storage.redact import worker as redact_worker
from storage.redact.plan import EVERYTHING
from tests.support import faces
from tests.support.c2pa_ca import make_ca
from tests.support.footage import write_segments
from tests.test_export_c2pa import HEADER, S, T0, _source
from tests.test_redact_signed import CONTEXT, ORIGINAL


class Children:
    """Every child of this process seen while it runs: pid -> (real uid, command)."""

    def __init__(self) -> None:
        self.seen: dict[int, tuple[int, str]] = {}
        self.done = threading.Event()
        self.thread = threading.Thread(target=self._watch, daemon=True)
        self.thread.start()

    def _watch(self) -> None:
        me = str(os.getpid())
        while not self.done.wait(0.02):
            for pid in filter(str.isdigit, os.listdir("/proc")):
                try:
                    status = Path(f"/proc/{pid}/status").read_text()
                    cmd = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
                except OSError:
                    continue
                fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
                if fields.get("PPid", "").strip() == me and "-m storage." in cmd:
                    self.seen.setdefault(int(pid), (int(fields["Uid"].split()[0]), cmd.strip()))

    def stop(self) -> dict[int, tuple[int, str]]:
        self.done.set()
        self.thread.join()
        return self.seen


def can_open(uid: int, path: Path, python: str, env: dict[str, str]) -> str:
    """Opening `path` as `uid` (with no supplementary group): "read" or the errno's name."""
    import pwd
    gid = pwd.getpwuid(uid).pw_gid
    r = subprocess.run([python, "-c", f"open({str(path)!r}, 'rb').close()"], user=uid, group=gid,
                       extra_groups=[], capture_output=True, text=True, env={**os.environ, **env})
    if r.returncode == 0:
        return "read"
    found = re.search(r"\[Errno (\d+)\]", r.stderr)
    return errno.errorcode[int(found.group(1))] if found else r.stderr.strip()[-80:]


def run(data: Path) -> list[tuple[str, int, str]]:
    key = nodekey.load_or_create(data)
    office = make_ca("Test office")
    chain = office.chain(office.issue(key.public))
    write_segments(data, "cam1", _source(Path(tempfile.mkdtemp(dir=data)), "testsrc2"), [(T0, 12)], segment_s=6)
    db = open_readonly(data / "catalog.db")
    try:
        cams = export.gather(db, ["cam1"], T0 + 1 * S, T0 + 11 * S)
    finally:
        db.conn.close()
    source = private_dir(data / export.EXPORTS_DIR / "12")
    faces.write_clip(source / "cam1.mp4", 10)
    c2pa_sign.sign_clip(source / "cam1.mp4", ORIGINAL, chain, "ed25519", key.sign)
    folder = data / export.EXPORTS_DIR / "12.redacted-abc"
    jobs.write_job(folder, {"source": str(source), "mode": EVERYTHING, "clips": [
        {"file": "cam1.mp4", "sha256": sha256_file(source / "cam1.mp4"),
         "marks": [[m.frame, list(m.box) if m.box else None] for m in faces.applicant_marks(10)]}],
        "sign": {"chain": chain, "alg": "ed25519", "context": CONTEXT}})
    watch = Children()
    try:
        manifest = export.write_export(data, data / export.EXPORTS_DIR / "x", key=key, header=HEADER, cameras=cams,
                                       from_us=T0 + 1 * S, to_us=T0 + 11 * S, chain=chain,
                                       clips_writer=run_clips, clip_signer=run_signing)
        made = redact_worker.run_job(folder, sign=c2pa_claim.guarded(key.sign, 1))["cam1.mp4"]
    finally:
        seen = watch.stop()
    assert manifest["c2pa"]["made"] and made["c2pa"] == {"made": True}
    python, env = worker.COMMAND[0], {k: v for k, v in os.environ.items() if k == "PYTHONPATH"}
    rows = []
    for _pid, (uid, cmd) in sorted(seen.items()):
        what = cmd.split("-m ", 1)[1].split()[0]
        rows.append((what, uid, can_open(uid, data / nodekey.KEY_FILE, python, env)))
    return rows


def main() -> None:
    if os.geteuid() != 0:
        raise SystemExit("run as root: the daemon here must be able to start its workers as another user")
    if hasattr(worker, "media_entry"):   # design/0323 on: the media account (nobody where edged-media was never
        from tests.support import media  # made) and an interpreter it may run
        user = media.account()
        python, env = media.interpreter_for(user)
        os.environ.update(env)
        for module in (worker, redact_worker):
            module.COMMAND = (python, *module.COMMAND[1:])
    data = Path(tempfile.mkdtemp(prefix="edged-data-"))
    try:
        rows = run(data)
    finally:
        shutil.rmtree(data)
    log(f"{source_state()}; the daemon (this process) is uid {os.geteuid()}")
    print(table(["worker", "uid", "opening the node key"], [[w, str(u), r] for w, u, r in rows]))
    print(f"\n    {command_line('bench.media_user')}")


if __name__ == "__main__":
    main()
