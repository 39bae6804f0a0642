"""How much footage a power cut costs (target: at most 1 s at the default settings).

    .venv/bin/python -m bench.power_cut --lazyfs PATH [--cuts 20] [--cameras 4] [--seed S]
                                        [--durability fragment|interval]

edged records N fake RTSP cameras (640x360, 20 fps, 2 s GOP; 60 s segments, the default
fragment_length and fsync_interval) into a data folder on LazyFS, a FUSE file system that
keeps written data in its own cache until fsync and drops the unsynced part on
`lazyfs::clear-cache` (../shared/FIELD-NOTES "Power cuts"). Each cut: wait a random 1.5-8 s
into recording, SIGSTOP the daemon's process group (the instant of the cut), clear LazyFS's
cache, SIGKILL, start edged again and time its recovery of the open segments. Loss per camera
= cut - end_us of its last complete or recovered segment, measured as bench/crash_loss.py
measures a kill -9. Also: the catalog's integrity_check after every cut, the newest segment
of every camera decoded with `ffmpeg -xerror`, and at the end every complete segment hashed
against its row.

LazyFS is not part of this repository and must never be committed (nor a recipe that builds
it): build it from its own sources and give its binary with --lazyfs or $LAZYFS. Without
/dev/fuse or the binary the benchmark says so and exits 0. `--durability interval` runs the
workers' durability pass of before design/0061 (once per fsync interval) for comparison.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import random
import shutil
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.crash_loss import TARGET_LOSS_S, now_us
from bench.common import OUT, code_of, command_line, environment, log, source_state, table
from tests.support.cameras import RtspServer, make_clip
from tests.support.daemon import Daemon, wait_for, write_config

S = 1_000_000
LAZYFS_CONFIG = """[faults]
fifo_path = "{fifo}"
[cache]
apply_eviction = false
[cache.simple]
custom_size = "{cache}"
blocks_per_page = 1
[filesystem]
log_all_operations = false
logfile = ""
"""


def decode_errors(path: Path) -> str:
    """"ok", or the first complaint of a full decode that stops at the first error."""
    out = subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-xerror", "-i", str(path), "-f", "null", "-"],
                         capture_output=True, text=True, timeout=300)
    if out.returncode == 0 and not out.stderr.strip():
        return "ok"
    return (out.stderr.strip().splitlines() or [f"ffmpeg exited with {out.returncode}"])[0][:120]


def integrity(db: Path) -> str:
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        return "; ".join(r[0] for r in conn.execute("PRAGMA integrity_check"))
    finally:
        conn.close()


def sha256_of(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()


class LazyFs:
    """One LazyFS mount in a temporary folder (its backing folder beside it), in the foreground
    as a child, so the benchmark can clear its cache and unmount it."""

    def __init__(self, binary: Path, cache: str):
        # LazyFS ignores a --config-path holding "-o" anywhere, in any case (it takes it for a
        # FUSE option and falls back to config/default.toml): so no dash before mkdtemp's
        # random letters, which began with "o" once in 37 runs.
        self.dir = Path(tempfile.mkdtemp(prefix="edged_power_cut_"))
        self.root, self.mnt, self.fifo = self.dir / "root", self.dir / "mnt", self.dir / "faults.fifo"
        self.root.mkdir()
        self.mnt.mkdir()
        self.log_path = self.dir / "lazyfs.log"
        config = self.dir / "lazyfs.toml"
        if "-o" in str(config).lower():
            raise RuntimeError(f"LazyFS would ignore its config path {config} (it holds '-o'): set TMPDIR elsewhere")
        config.write_text(LAZYFS_CONFIG.format(fifo=self.fifo, cache=cache))
        self._log = open(self.log_path, "ab")
        self.proc = subprocess.Popen([str(binary), str(self.mnt), "--config-path", str(config), "-o", "modules=subdir",
                                      "-o", f"subdir={self.root}", "-f"], stdout=self._log, stderr=subprocess.STDOUT,
                                     start_new_session=True)
        # It pre-allocates its cache before it mounts: wait for the mount, not a fixed time.
        wait_for(self.mounted, 120, "the LazyFS mount", interval=0.2)
        wait_for(self.fifo.exists, 30, "LazyFS's fault FIFO", interval=0.1)

    def mounted(self) -> bool:
        if self.proc.poll() is not None:
            raise RuntimeError("LazyFS exited:\n" + self.log_path.read_text(errors="replace")[-2000:])
        return any(line.split()[1] == str(self.mnt) for line in Path("/proc/self/mounts").read_text().splitlines())

    def clear_cache(self) -> None:
        """Drop every byte not fsynced: the power cut, as the disk sees it."""
        done = self.log_path.read_text(errors="replace").count("cache is cleared")
        with open(self.fifo, "w") as f:
            f.write("lazyfs::clear-cache\n")
        wait_for(lambda: self.log_path.read_text(errors="replace").count("cache is cleared") > done, 60,
                 "LazyFS to clear its cache", interval=0.02)

    def close(self) -> None:
        subprocess.run(["fusermount3", "-u", str(self.mnt)], capture_output=True)
        try:
            self.proc.wait(30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(10)
        self._log.close()
        shutil.rmtree(self.dir, ignore_errors=True)


def missing(binary: str | None) -> str | None:
    """Why this machine cannot run the benchmark, or None."""
    if not Path("/dev/fuse").exists():
        return "/dev/fuse is missing (no FUSE here)"
    if not binary:
        return "no LazyFS binary: give its path with --lazyfs PATH or $LAZYFS"
    if not os.access(binary, os.X_OK):
        return f"{binary} is not an executable LazyFS binary"
    if shutil.which("fusermount3") is None:
        return "fusermount3 is missing (Debian package fuse3)"
    return None


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.power_cut", description=__doc__.split("\n\n")[0])
    p.add_argument("--lazyfs", default=os.environ.get("LAZYFS"), help="the LazyFS binary (default: $LAZYFS)")
    p.add_argument("--cuts", type=int, default=20, help="number of power cuts (default %(default)s)")
    p.add_argument("--cameras", type=int, default=4, help="cameras recorded (default %(default)s)")
    p.add_argument("--seed", type=int, default=None, help="seed of the random waits (default: from the clock)")
    p.add_argument("--cache", default="1gb", help="LazyFS cache size (default %(default)s)")
    p.add_argument("--durability", choices=("fragment", "interval"), default="fragment",
                   help="the workers' durability pass: after each fragment (default) or per fsync interval (before)")
    args = p.parse_args(argv)
    why = missing(args.lazyfs)
    if why:
        print(f"bench.power_cut skipped: {why}")
        return 0
    seed = args.seed if args.seed is not None else int(time.time())
    rng = random.Random(seed)
    os.environ["EDGED_DURABILITY"] = args.durability  # the daemon's workers inherit it (recorder/worker.py)
    log(f"command: {command_line('bench.power_cut')}")
    log(f"environment: {environment()}")
    log(f"seed: {seed}; durability: {args.durability}")
    code_at_start = source_state()

    clip = make_clip(OUT / "clips", width=640, height=360, fps=20, gop=40, seconds=60, bitrate="1M")
    base = OUT / "power_cut"  # config, log and control socket: off the FUSE mount (no Unix sockets there)
    shutil.rmtree(base, ignore_errors=True)
    base.mkdir(parents=True)
    cams = [f"cam{i + 1}" for i in range(args.cameras)]
    fs = LazyFs(Path(args.lazyfs), args.cache)
    data = fs.mnt / "data"
    server = RtspServer({c: clip.spec() for c in cams}).start()
    config = write_config(base / "edged.toml", data, [{"id": c, "url": server.url(c)} for c in cams],
                          storage={"segment_length": "60s"}, tables={"control": {"socket": str(base / "control.sock")}})
    config.write_text(config.read_text().replace('id = "test"', 'id = "bench"', 1))
    d = Daemon(config, data, base / "edged.log")
    rows: list[list[str]] = []
    losses: list[float] = []       # every camera of every cut
    worst_per_cut: list[float] = []
    recoveries: list[float] = []
    bad: list[str] = []
    marks = ",".join("?" * len(cams))
    d.start()
    try:
        for n in range(1, args.cuts + 1):
            wait_for(lambda: len(d.query(f"SELECT DISTINCT camera FROM segments WHERE state = 'writing' "
                                         f"AND camera IN ({marks})", tuple(cams))) == len(cams),
                     120, "every camera writing", interval=0.1)
            delay = rng.uniform(1.5, 8)
            time.sleep(delay)
            assert d.proc is not None
            os.killpg(d.proc.pid, signal.SIGSTOP)  # the cut: nothing of edged runs after this instant
            cut = now_us()
            fs.clear_cache()
            d.kill_all()
            started = time.monotonic()
            d.start()
            try:
                # Recovered: no segment opened before the cut is still `writing` (read once the
                # daemon has the catalog open again).
                wait_for(lambda: d.query("SELECT count(*) AS n FROM segments") and not d.query(
                    "SELECT 1 FROM segments WHERE state = 'writing' AND created_us <= ?", (cut,)),
                    120, "the open segments recovered", interval=0.05)
                recovery = time.monotonic() - started
                wait_for(lambda: len(d.query("SELECT DISTINCT camera FROM segments WHERE state = 'writing' "
                                             "AND created_us > ?", (cut,))) == len(cams),
                         120, "every camera recording again", interval=0.05)
            except AssertionError as exc:
                rows.append([str(n), "-", "-", "-", "-", "-", str(exc)])
                bad.append(f"cut {n}: {exc}")
                continue
            recoveries.append(recovery)
            cut_losses, probes = [], []
            for cam in cams:
                last = d.query("SELECT * FROM segments WHERE camera = ? AND state IN ('complete', 'recovered') "
                               "AND start_us <= ? ORDER BY end_us DESC LIMIT 1", (cam, cut))
                if not last:
                    bad.append(f"cut {n}: {cam} has no footage before the cut")
                    continue
                cut_losses.append((cut - last[0]["end_us"]) / S)
                probe = decode_errors(data / last[0]["path"])
                probes.append(probe)
                if probe != "ok":
                    bad.append(f"cut {n}: {last[0]['path']} ({last[0]['state']}): {probe}")
            check = integrity(data / "catalog.db")
            if check != "ok":
                bad.append(f"cut {n}: catalog integrity_check: {check}")
            losses += cut_losses
            worst = max(cut_losses) if cut_losses else float("nan")
            worst_per_cut.append(worst)
            decoded = "ok" if all(x == "ok" for x in probes) else f"{sum(x != 'ok' for x in probes)} failed"
            rows.append([str(n), f"{delay:.2f}", f"{worst:.3f}",
                         f"{statistics.median(cut_losses):.3f}" if cut_losses else "-",
                         f"{recovery:.2f}", check, f"{decoded} ({len(probes)} newest)"])
            log(f"cut {n:2d}: after {delay:.2f} s, loss worst {worst:.3f} s over {len(cut_losses)} cameras, "
                f"recovered in {recovery:.2f} s, catalog {check}, decode {decoded}")
        complete = d.query("SELECT path, sha256 FROM segments WHERE state = 'complete'")
        mismatched = [r["path"] for r in complete if sha256_of(data / r["path"]) != r["sha256"]]
        bad += [f"{p}: hash differs from its row" for p in mismatched]
    finally:
        if d.proc is not None and d.proc.poll() is None:
            log(f"daemon stopped with status {d.stop(timeout=60)}")
        server.close()
        fs.close()

    lines = ["", f"## Power cuts through LazyFS ({args.cameras} cameras, durability: {args.durability})", "",
             f"command: {command_line('bench.power_cut')}",
             f"environment: {environment()}",
             f"seed: {seed}; cameras: {clip.width}x{clip.height} {clip.fps} fps, GOP {clip.gop}; segment_length 60s, "
             "fragment_length 1s and fsync_interval 2s (defaults)", "",
             table(["cut", "after s", "loss worst s", "loss median s", "recovery s", "integrity_check", "ffmpeg -xerror"],
                   rows), "",
             "loss = cut instant (SIGSTOP of the daemon, before LazyFS drops the unsynced data) - end_us of each "
             "camera's last complete or recovered segment; recovery = daemon start to every open segment recovered; "
             "ffmpeg -xerror decodes each camera's newest segment.", ""]
    if losses:
        lines += [f"loss over {len(worst_per_cut)} cuts x {args.cameras} cameras: median {statistics.median(losses):.3f} s, "
                  f"worst {max(losses):.3f} s; per cut (its worst camera): median "
                  f"{statistics.median(worst_per_cut):.3f} s, worst {max(worst_per_cut):.3f} s",
                  f"target: worst <= {TARGET_LOSS_S:.1f} s -> {'met' if max(losses) <= TARGET_LOSS_S else 'MISSED'} "
                  f"({sum(x > TARGET_LOSS_S for x in worst_per_cut)} of {len(worst_per_cut)} cuts over)",
                  f"recovery: median {statistics.median(recoveries):.2f} s, worst {max(recoveries):.2f} s",
                  f"complete segments hashed against their rows: {len(complete)}, mismatched {len(mismatched)}"]
    if code_of(code_at_start) != code_of(source_state()):
        bad.append(f"edged's code changed during the run ({code_at_start} -> {source_state()})")
    if bad:
        lines += ["", "problems:"] + [f"- {b}" for b in bad]
    log("\n".join(lines))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
