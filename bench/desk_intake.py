"""A large file taken in at the desk holds no more of it in the daemon's memory than edgectl's route
(issue 76, design/0356).

    .venv/bin/python -m bench.desk_intake [--mib 512]

A daemon (one disabled camera, its viewer serving the desk) on a fresh data folder; a custodian
opened with edgectl. A file of `--mib` MiB of random bytes (no media: the intake streams and hashes
all of it, then refuses it, so the same file is sent again by the other route) is taken in twice:
by `edgectl evidence import` over the control socket, then at the desk by one HTTP client posting
the desk's multipart form as a browser does (aiohttp streams the file from disk). The daemon's
resident memory (VmRSS of /proc/PID/status) is sampled every 20 ms through each; printed: its rise
above the level before the upload and the upload's rate, per route. A desk that read the form
whole (aiohttp's `post()`) would rise by the file's size.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import shutil
import tempfile
import threading
import time
from pathlib import Path

import aiohttp

from bench.common import command_line, environment, log
from tests.support.cameras import free_port
from tests.support.daemon import Daemon, wait_for, write_config
from tests.support.people import People, password_for

CSRF = re.compile(r'name="csrf" value="([^"]+)"')


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


class Sampler:
    """The highest VmRSS of `pid` while in the `with`, sampled every 20 ms."""

    def __init__(self, pid: int):
        self.pid, self.peak, self._stop = pid, 0, threading.Event()

    def __enter__(self) -> "Sampler":
        self.base = rss_kib(self.pid)
        self._t = threading.Thread(target=self._run, daemon=True)
        self._t.start()
        return self

    def _run(self) -> None:
        while not self._stop.wait(0.02):
            self.peak = max(self.peak, rss_kib(self.pid))

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._t.join()


async def desk_upload(base: str, path: Path) -> str:
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:   # an IP address
        async with http.get(base + "/desk/login") as r:
            token = CSRF.search(await r.text())[1]
        async with http.post(base + "/desk/login", data={"name": "carl", "password": password_for("carl"),
                                                         "csrf": token}, allow_redirects=False) as r:
            assert r.status == 302, (r.status, await r.text())
        async with http.get(base + "/desk/intake") as r:
            token = CSRF.search(await r.text())[1]
        form = aiohttp.FormData()
        for k, v in (("csrf", token), ("device", "bwc-7"), ("by", "bench"), ("request", "")):
            form.add_field(k, v)
        with open(path, "rb") as f:
            form.add_field("file", f, filename=path.name, content_type="application/octet-stream")
            async with http.post(base + "/desk/intake", data=form, timeout=aiohttp.ClientTimeout(total=3600)) as r:
                text = await r.text()
        return "refused" if 'notice-error' in text else f"status {r.status}"


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--mib", type=int, default=512)
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-desk-intake-"))
    try:
        data, port = work / "data", free_port()
        config = write_config(work / "edged.toml", data, [{"id": "cam", "url": "synthetic:", "enabled": False}],
                              tables={"viewer": {"enabled": True, "listen": f"127.0.0.1:{port}"}})
        big = work / "big.bin"
        with open(big, "wb") as f:
            for _ in range(args.mib):
                f.write(os.urandom(1 << 20))
        os.chmod(big, 0o644)
        d = Daemon(config, data, work / "edged.log").start()
        try:
            wait_for(lambda: "web viewer listening" in d.log, 60, "the web viewer")
            people = People(config, work)
            people.add("carl", "custodian")
            people.as_("carl")
            assert d.proc is not None
            rows = []
            for route in ("edgectl", "desk"):
                t = time.perf_counter()
                with Sampler(d.proc.pid) as s:
                    if route == "edgectl":
                        r = people.ctl("evidence", "import", str(big), "--device", "bwc-7", "--by", "bench")
                        said = "refused" if r.returncode != 0 and "Nothing was kept" in r.stderr else r.stderr[-200:]
                    else:
                        said = asyncio.run(desk_upload(f"http://127.0.0.1:{port}", big))
                secs = time.perf_counter() - t
                rows.append((route, said, (s.peak - s.base) / 1024, args.mib / secs))
        finally:
            d.stop()
        log(f"command: {command_line('bench.desk_intake')}")
        log(environment())
        log(f"a {args.mib} MiB file (no media: streamed, hashed, then refused), the daemon's VmRSS sampled every 20 ms")
        log(f"{'route':8} {'answer':9} {'RSS rise MiB':>13} {'MiB/s':>7}")
        for route, said, rise, rate in rows:
            log(f"{route:8} {said:9} {rise:13.1f} {rate:7.1f}")
        return 0
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    raise SystemExit(main())
