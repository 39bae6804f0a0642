"""Recording under floods from people on the box (issue 27, design/0062), against the same
window without them.

    sudo .venv/bin/python -m bench.insider_flood [--seconds 60] [--cameras 8]

Run as root: the floods come from other OS accounts (nobody, uids 65533 and 65532, group
nogroup), run with /usr/bin/python3. `--cameras` 1080p cameras (the clip of
bench/record_throughput, 20 fps) are recorded by the real daemon with the viewer on 127.0.0.1
over TLS and MQTT on. Two windows of `--seconds`, in one daemon run: quiet (the reference), then every
flood of tests/test_insider_flood.py at once: nobody's 300 socket clients logging in with
unknown names and 200 idle connections, a viewer account's 24 socket clients running
`audit verify` from uid 65533, a viewer account's 8 clients asking for live views of
7,000-character camera ids, a custodian's 8 clients starting playback of a grant not yet used
(each start seeks, then is refused for want of an offer, so the grant stays unused), and 1,000
TCP connections from 127.0.0.3 that never send a ClientHello (re-opened a second after each is
closed; the live and playback clients come from 127.0.0.1 and 127.0.0.4). For each window and
camera: frames lost (the complete segments inside the window: span x 20 fps minus the frames
held) and gap seconds (holes between them);
CPU of the recorder workers (target: flood within 10 % of quiet); catalog+outbox growth;
descriptors. Output to stdout and bench/out/insider_flood.txt.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shlex
import shutil
import ssl
import sys
import tempfile
import time
from pathlib import Path

from bench.common import FPS, OUT, bench_clip, box_ticks, environment, log, table
from bench.viewer_flood import CLK, ticks
from tests.support.broker import Broker, make_pki
from tests.support.cameras import RtspServer, free_port
from tests.support.daemon import Daemon, wait_for, write_config
from tests.support.flood import fd_count, stored_bytes
from tests.support.insider import (flood_as, grant, half_open, live_refusals, login, outcome, playback_starts,
                                   request_as, viewer_cookie)
from tests.support.people import People

FLOODER, OTHER, LEGIT = 65534, 65533, 65532


def per_camera(d: Daemon, cams: list[str], start_us: int, end_us: int) -> dict[str, tuple[int, float]]:
    """camera -> (frames lost, gap seconds) over its complete segments inside [start, end)."""
    out = {}
    for cam in cams:
        segs = d.query("SELECT start_us, end_us, frames FROM segments WHERE camera = ? AND state = 'complete' "
                       "AND start_us >= ? AND end_us <= ? ORDER BY start_us", (cam, start_us, end_us))
        span = sum(s["end_us"] - s["start_us"] for s in segs)
        lost = round(span * FPS / 1e6) - sum(s["frames"] for s in segs)
        gaps = sum(max(0, b["start_us"] - a["end_us"]) for a, b in zip(segs, segs[1:])) / 1e6
        out[cam] = (lost, gaps)
    return out


def window(d: Daemon, cams: list[str], seconds: float, data: Path, port: int, flood: dict | None) -> dict:
    t0_us = time.time_ns() // 1000
    (m0, w0), (b0, t0) = ticks(d.proc.pid), box_ticks()
    size0 = stored_bytes(data)
    started = time.monotonic()
    result = None
    if flood is not None:
        sock = d.socket
        logins = flood_as(FLOODER, sock, {"op": "login", "args": {"name": "ghost", "password": "guess"}},
                          seconds, 300, idle=200)
        verifies = flood_as(OTHER, sock, {"op": "audit.verify", "args": {}, "token": flood["token"]}, seconds, 24)

        async def viewer():
            tls = flood["tls"]
            live = asyncio.ensure_future(live_refusals(port, flood["cookie"], seconds, tls=tls))
            plays = asyncio.ensure_future(playback_starts(port, flood["custodian"], flood["grant"], flood["camera"],
                                                          seconds, tls=tls, source="127.0.0.4"))
            tcp = asyncio.ensure_future(half_open(port, seconds, source="127.0.0.3"))
            await asyncio.sleep(seconds / 2)
            legit = await asyncio.to_thread(request_as, LEGIT, sock, login("vera"))
            try:  # a viewer login over TLS mid-flood
                page = bool(await asyncio.to_thread(viewer_cookie, port, "vera", tls))
            except (OSError, AssertionError) as exc:
                page = f"failed: {exc!r}"
            return await live, await plays, await tcp, legit, page
        live, plays, tcp, legit, page = asyncio.run(viewer())
        result = {"logins": outcome(logins, seconds + 180), "verify": outcome(verifies, seconds + 180),
                  "live": dict(live), "playback": dict(plays), "half_open": dict(tcp), "legit": legit.get("ok"),
                  "viewer_login": page}
    else:
        time.sleep(seconds)
    wall = time.monotonic() - started
    (m1, w1), (b1, t1) = ticks(d.proc.pid), box_ticks()
    t1_us = time.time_ns() // 1000
    wait_for(lambda: all(d.segments(c) and d.segments(c)[-1]["start_us"] >= t1_us for c in cams), 60,
             "the segments of the window closed")
    return {"cpu": (w1 - w0) / CLK / wall * 100, "main": (m1 - m0) / CLK / wall * 100,
            "box": (b1 - b0) / (t1 - t0) * 100 * (os.cpu_count() or 1), "cams": per_camera(d, cams, t0_us, t1_us),
            "grown": stored_bytes(data) - size0, "fds": fd_count(d.proc.pid), "flood": result}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seconds", type=float, default=60.0)
    ap.add_argument("--cameras", type=int, default=8)
    args = ap.parse_args()
    if os.geteuid() != 0:
        sys.exit("run as root: the floods come from other OS accounts")
    OUT.mkdir(parents=True, exist_ok=True)
    work = OUT / "insider_flood"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir()
    run_dir = Path(tempfile.mkdtemp(prefix="edged-insider-"))   # the socket where other uids can reach it
    run_dir.chmod(0o755)
    clip = bench_clip(OUT)
    env = environment()
    broker = Broker(work / "broker").start()
    port = free_port()
    pki = make_pki(work / "pki")
    tls = ssl.create_default_context(cafile=str(pki.ca))
    cams = [f"c{i}" for i in range(args.cameras)]
    try:
        with RtspServer({c: f"clip:{clip}@{FPS}" for c in cams}) as srv:
            data = work / "data"
            config = write_config(work / "edged.toml", data, [{"id": c, "url": srv.url(c)} for c in cams],
                                  storage={"segment_length": "10s"}, tables={
                                      "control": {"socket": str(run_dir / "control.sock"), "group": "nogroup"},
                                      "viewer": {"enabled": True, "listen": f"127.0.0.1:{port}",
                                                 "tls_cert": str(pki.server_cert), "tls_key": str(pki.server_key)},
                                      "mqtt": {"enabled": True, "host": "127.0.0.1", "port": broker.port}})
            d = Daemon(config, data, work / "edged.log").start()
            try:
                wait_for(lambda: "web viewer listening" in d.log, 60, "the viewer")
                people = People(config, work)
                people.add("vera", "viewer")
                people.add("lena", "viewer")
                people.add("carl", "custodian")
                people.add("adam", "approver")
                first = wait_for(lambda: all(d.segments(c) for c in cams) and d.segments(cams[0])[0],
                                 60, "every camera's first segment")
                flood = {"token": request_as(OTHER, d.socket, login("vera"))["result"]["token"],
                         "cookie": viewer_cookie(port, "lena", tls), "custodian": viewer_cookie(port, "carl", tls),
                         "grant": grant(people, cams[0], first["start_us"], first["end_us"]), "camera": cams[0],
                         "tls": tls}
                log(f"quiet window of {args.seconds:.0f} s ...")
                quiet = window(d, cams, args.seconds, data, port, None)
                log(f"flood window of {args.seconds:.0f} s ...")
                loud = window(d, cams, args.seconds, data, port, flood)
                fds_after = wait_for(lambda: (n := fd_count(d.proc.pid)) <= quiet["fds"] + 5 and n, 60,
                                     "descriptors back to normal")
                storage_lost = "storage lost" in d.log
            finally:
                rc = d.stop()
    finally:
        broker.stop()
        shutil.rmtree(run_dir, ignore_errors=True)
    rows = [[cam, f"{quiet['cams'][cam][0]}", f"{quiet['cams'][cam][1]:.1f}", f"{loud['cams'][cam][0]}",
             f"{loud['cams'][cam][1]:.1f}"] for cam in cams]
    ratio = loud["cpu"] / quiet["cpu"] if quiet["cpu"] else float("nan")
    f = loud["flood"]
    text = "\n".join([
        f"# insider_flood: {args.cameras} x 1080p20 cameras recorded, {args.seconds:.0f} s windows",
        "",
        table(["camera", "quiet: frames lost", "quiet: gap s", "flood: frames lost", "flood: gap s"], rows),
        "",
        table(["window", "recording CPU %", "control plane CPU %", "box CPU % of one core", "catalog+outbox KB",
               "daemon fds at end"],
              [[name, f"{w['cpu']:.1f}", f"{w['main']:.1f}", f"{w['box']:.0f}", f"{w['grown'] / 1e3:.0f}",
                f"{w['fds']}"] for name, w in (("quiet", quiet), ("flood", loud))]),
        "",
        f"recording CPU (the recorder workers) flood / quiet: {ratio:.3f} (target <= 1.10); frames lost under the "
        f"flood: {sum(v[0] for v in loud['cams'].values())}, gap seconds: "
        f"{sum(v[1] for v in loud['cams'].values()):.1f} (targets 0 and 0); storage lost: {storage_lost}",
        f"socket logins (nobody): {f['logins']}",
        f"audit verify (uid {OTHER}, viewer account): {f['verify']}",
        f"live refusals (viewer account, 7,000-character ids): {f['live']}",
        f"playback starts (custodian, a grant not used): {f['playback']}",
        f"half-open TLS (1,000 connections, no ClientHello): {f['half_open']}; a viewer login over TLS "
        f"mid-flood: ok={f['viewer_login']}",
        f"a login from uid {LEGIT} mid-flood: ok={f['legit']}; descriptors after: {fds_after} (quiet: "
        f"{quiet['fds']}); edged exit status {rc}",
        "",
        f"command (from the repository root, as root): .venv/bin/python -m bench.insider_flood "
        f"{shlex.join(sys.argv[1:])}",
        f"environment: {env}",
    ])
    log(text)
    (OUT / "insider_flood.txt").write_text(text + "\n")


if __name__ == "__main__":
    main()
