"""How much footage a kill -9 of the whole daemon costs (target: at most 1 s).

    .venv/bin/python -m bench.crash_loss [--kills 20] [--seed S]

One fake RTSP camera (640x360, 20 fps, 2 s GOP), edged with 60 s segments on one data
folder. Each round: wait for a `writing` segment, wait a random 1.5-8 s more, SIGKILL the
daemon and its recorder workers at once, start again and wait for the killed segment to be
`recovered`. Loss = kill time - the recovered row's end_us; every recovered file must read
cleanly with ffmpeg/ffprobe.
"""

from __future__ import annotations

import argparse
import random
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

from bench.common import OUT, code_of, command_line, environment, log, source_state, table
from tests.support.cameras import RtspServer, ffprobe, ffprobe_errors, make_clip
from tests.support.daemon import Daemon, wait_for, write_config

S = 1_000_000
TARGET_LOSS_S = 1.0
CAM = "cam1"


def now_us() -> int:
    return time.time_ns() // 1000


def check_file(path: Path) -> str:
    """"ok", or what ffprobe / a full demux through ffmpeg complained about."""
    try:
        info = ffprobe(path)
    except subprocess.CalledProcessError as exc:
        return "ffprobe failed: " + (exc.stderr or "").strip()[:120]
    if not any(s.get("codec_type") == "video" for s in info.get("streams", [])):
        return "no video stream"
    errors = ffprobe_errors(path).strip()
    return "ok" if not errors else errors.splitlines()[0][:120]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.crash_loss", description=__doc__.split("\n\n")[0])
    p.add_argument("--kills", type=int, default=20, help="number of kill -9 rounds (default %(default)s)")
    p.add_argument("--seed", type=int, default=None, help="seed of the random waits (default: from the clock)")
    args = p.parse_args(argv)
    seed = args.seed if args.seed is not None else int(time.time())
    rng = random.Random(seed)
    log(f"command: {command_line('bench.crash_loss')}")
    log(f"environment: {environment()}")
    log(f"seed: {seed}")
    code_at_start = source_state()

    clip = make_clip(OUT / "clips", width=640, height=360, fps=20, gop=40, seconds=60, bitrate="1M")
    base = OUT / "crash"
    shutil.rmtree(base, ignore_errors=True)
    base.mkdir(parents=True)
    data = base / "data"
    server = RtspServer({CAM: clip.spec()}).start()
    config = write_config(base / "edged.toml", data, [{"id": CAM, "url": server.url(CAM)}],
                          storage={"segment_length": "60s"})
    config.write_text(config.read_text().replace('id = "test"', 'id = "bench"', 1))
    d = Daemon(config, data, base / "edged.log")
    rows: list[list[str]] = []
    losses: list[float] = []
    bad: list[str] = []
    d.start()
    try:
        for n in range(1, args.kills + 1):
            wait_for(lambda: d.query("SELECT * FROM segments WHERE camera = ? AND state = 'writing'", (CAM,)),
                            60, "a writing segment", interval=0.05)[-1]
            delay = rng.uniform(1.5, 8)
            time.sleep(delay)
            killed = now_us()
            d.kill_all()
            # The daemon is dead: the catalog now says for sure which segments were open at the kill
            # (the one first seen may have ended at a :00 boundary in the meantime, and the one
            # before may still have been waiting for its hash).
            open_rows = d.query("SELECT * FROM segments WHERE camera = ? AND state = 'writing' ORDER BY start_us",
                                (CAM,))
            d.start()
            try:
                if open_rows:
                    paths = [r["path"] for r in open_rows]
                    marks = ",".join("?" * len(paths))
                    wait_for(lambda: not d.query(f"SELECT 1 FROM segments WHERE path IN ({marks}) AND state = 'writing'",
                                                 tuple(paths)), 60, "the open segments recovered", interval=0.05)
                else:  # killed between a close and the next open: wait for start-up to have reconciled
                    wait_for(lambda: d.query("SELECT 1 FROM segments WHERE camera = ? AND state = 'writing' "
                                             "AND created_us > ?", (CAM, killed)), 60, "recording again", interval=0.05)
            except AssertionError as exc:
                rows.append([n, "-", "-", "-", "-", str(exc)])
                bad.append(f"kill {n}: {exc}")
                continue
            killed_seg = open_rows[-1] if open_rows else None
            into = f"{(killed - killed_seg['start_us']) / S:.2f}" if killed_seg else "-"
            outcome = "-"
            if killed_seg:
                after = d.query("SELECT state, note FROM segments WHERE path = ?", (killed_seg["path"],))[0]
                outcome = after["state"]
                if outcome == "quarantined" and (killed - killed_seg["start_us"]) < 1.5 * S:
                    outcome += " (< 1 fragment)"  # killed before its first 1 s fragment: nothing to keep
                elif outcome != "recovered":
                    bad.append(f"kill {n}: {killed_seg['path']} became {after['state']} ({after['note']})")
            # Loss: from the end of the last footage kept to the kill, whichever segment holds it.
            last = d.query("SELECT * FROM segments WHERE camera = ? AND state IN ('complete', 'recovered') "
                           "AND start_us <= ? ORDER BY end_us DESC LIMIT 1", (CAM, killed))
            loss = (killed - last[0]["end_us"]) / S if last else None
            if loss is not None:
                losses.append(loss)
            probes = []
            for r in open_rows:
                row = d.query("SELECT * FROM segments WHERE path = ?", (r["path"],))[0]
                if row["state"] == "recovered":
                    probe = check_file(d.data_dir / row["path"])
                    probes.append(probe)
                    if probe != "ok":
                        bad.append(f"kill {n}: {row['path']}: {probe}")
            probe = ("ok" if all(p == "ok" for p in probes) else "; ".join(p for p in probes if p != "ok")) \
                if probes else "-"
            if len(probes) > 1:
                probe += f" ({len(probes)} files)"
            ends_in = last[0]["path"].rsplit("/", 1)[-1] + f" ({last[0]['state']})" if last else "-"
            rows.append([n, into, "-" if loss is None else f"{loss:.3f}", outcome, probe, ends_in])
            log(f"kill {n:2d}: {into} s into the segment (waited {delay:.2f} s), loss "
                f"{'-' if loss is None else f'{loss:.3f}'} s, killed segment {outcome}, ffprobe {probe}; "
                f"footage ends in {ends_in}")
    finally:
        if d.proc is not None and d.proc.poll() is None:
            rc = d.stop(timeout=60)
            log(f"daemon stopped with status {rc}")
        server.close()

    lines = ["", "## kill -9 of the whole daemon mid-segment: footage lost", "",
             f"command: {command_line('bench.crash_loss')}",
             f"environment: {environment()}",
             f"seed: {seed}; camera: {clip.width}x{clip.height} {clip.fps} fps, GOP {clip.gop}; segment_length 60s, "
             "fragment_length 1s (default)", "",
             table(["kill", "s into segment", "loss s", "killed segment", "ffprobe", "footage ends in"], rows), "",
             "loss = kill time - end_us of the last complete or recovered segment; ffprobe = every segment "
             "recovered after this kill reads cleanly (ffprobe, then a full demux with ffmpeg).", ""]
    if losses:
        worst, median = max(losses), statistics.median(losses)
        lines += [f"loss over {len(losses)} kills: worst {worst:.3f} s, median {median:.3f} s, "
                  f"best {min(losses):.3f} s",
                  f"target: loss <= {TARGET_LOSS_S:.0f} s -> {'met' if worst <= TARGET_LOSS_S else 'MISSED'} "
                  f"({sum(x > TARGET_LOSS_S for x in losses)} of {len(losses)} kills over)"]
    if code_of(code_at_start) != code_of(source_state()):
        bad.append(f"edged's code changed during the run ({code_at_start} -> {source_state()}): "
                   "later kills ran different code")
    if bad:
        lines += ["", "problems:"] + [f"- {b}" for b in bad]
    log("\n".join(lines))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
