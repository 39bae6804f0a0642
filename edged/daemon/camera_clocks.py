"""Each ONVIF camera's clock, read at start and daily (design/0085): GetSystemDateAndTime, which
needs no login. Off the recording path: a task of its own, each request with its own timeout,
nothing awaited by recording; a camera that does not answer is said once in the log and
judged by RTCP alone. The decisions are edged/rules/camera_clock.py's.

The request is one POST made with the stdlib's http.client on a thread, not aiohttp: every
daemon whose cameras have an address asks it at start, and aiohttp would stay loaded for it
(12 MB of the daemon's memory, design/0286).
"""

from __future__ import annotations

import asyncio
import http.client
import logging
import socket
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Callable, Iterable

from edged.config import Config
from edged.rules import camera_clock as cc
from storage.time import independence
from storage.time.clock import wait_or_stop, Clock, SYSTEM
from edged.daemon.backfill import _credentials  # the camera's login from its URL, read in one place

log = logging.getLogger(__name__)

EVERY_S = 86_400.0
RETRY_S = 60.0  # a camera that did not answer (its clock, or whose NTP servers) is asked again this soon, then twice as late
TIMEOUT_S = 10.0
AT_ONCE = 8  # requests in flight at a time
ANSWER_MAX = 64 * 1024  # GetSystemDateAndTime's answer is under 2 KB; a camera never decides our memory
HEADERS = {"Content-Type": "application/soap+xml; charset=utf-8"}


def read_capped(answer: http.client.HTTPResponse, cap: int, deadline: float) -> bytes:
    """A device's whole answer, or ValueError once it passes `cap` bytes (issue 45), TimeoutError
    once past `deadline` (time.monotonic(): a device trickling its answer keeps no thread)."""
    body = bytearray()
    while chunk := answer.read(16 * 1024):
        body += chunk
        if len(body) > cap:
            raise ValueError(f"an answer over {cap} bytes")  # i18n: the journal's (logged only)
        if time.monotonic() > deadline:
            raise TimeoutError("the answer took too long")  # i18n: the journal's (logged only)
    return bytes(body)


def ask_clock(host: str, port: int, timeout_s: float, clock: Clock) -> tuple[int, int, bytes]:
    """GetSystemDateAndTime, blocking (a thread): (sent, answered: wall us, the answer). A
    redirect is not followed (http.client follows none) and is refused as any other status."""
    deadline = time.monotonic() + timeout_s
    conn = http.client.HTTPConnection(host, port, timeout=timeout_s)
    try:
        sent = clock.now_us()
        conn.request("POST", cc.DEVICE_PATH, body=cc.REQUEST.encode(), headers=HEADERS)
        answer = conn.getresponse()
        if answer.status != 200:
            raise ValueError(f"HTTP {answer.status}")  # i18n: the journal's (logged only)
        body = read_capped(answer, ANSWER_MAX, deadline)
        return sent, clock.now_us(), body
    finally:
        conn.close()


class CameraClocks:
    def __init__(self, cfg: Callable[[], Config], clock: Clock = SYSTEM, every_s: float = EVERY_S, timeout_s: float = TIMEOUT_S,
                 retry_s: float = RETRY_S):
        self.cfg = cfg
        self.clock = clock
        self.every_s = every_s
        self.retry_s = retry_s
        self.timeout_s = timeout_s
        self.readings: dict[str, cc.Reading] = {}
        self._said: dict[str, str] = {}   # the last failure logged per camera (said once, not daily)

    def reading(self, cam: str) -> cc.Reading | None:
        return self.readings.get(cam)

    def ntp_servers(self, cam: str) -> frozenset[str] | None:
        """The NTP servers the camera named over ONVIF (with their addresses; the box itself as
        127.0.0.1), None: it said nothing (design/0126)."""
        r = self.readings.get(cam)
        return None if r is None else r.ntp_servers

    async def _ntp(self, cam: str, host: str, port: int) -> tuple[frozenset[str] | None, bool]:
        """GetNTP (it needs the camera's login, from its URL): which servers its clock follows, and
        whether it answered (a camera that answers naming none is not asked again before the day is out)."""
        conf = next((c for c in self.cfg().cameras if c.id == cam), None)
        user, password = _credentials(conf.url if conf is not None else "")
        try:
            names = await asyncio.wait_for(ask_ntp(host, port, user, password), self.timeout_s)
            return await asyncio.to_thread(follows, names, host), True
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # noqa: BLE001 - no answer, a refused login: the camera says nothing
            log.info("camera %s: no NTP servers over ONVIF (%s): its clock does not count toward corroborating "
                     "the host's until it answers (asked again within %.0f s)", cam,
                     (str(exc) or type(exc).__name__)[:200], self.retry_s)
            return None, False

    async def run(self, stopping: asyncio.Event) -> None:
        """Every camera at start and daily; while one has not answered (slow at the box's start, the
        camera rebooting), all again after `retry_s`, twice as late each time, never later than daily:
        a camera slow once is not left out of the clock's checks for a day."""
        wait = self.every_s  # as after a round all answered: a first miss is asked again after retry_s
        while not stopping.is_set():
            missed = await self.read_all()
            wait = next_wait(missed, wait, self.retry_s, self.every_s)
            await wait_or_stop(stopping, wait, self.clock)

    async def read_all(self) -> int:
        """Every enabled ONVIF camera's clock and NTP servers; how many did not answer both."""
        # Threads of their own, not asyncio's default executor: a camera whose port never answers
        # holds one of these for its timeout, not a thread the daemon's other work waits for.
        pool = ThreadPoolExecutor(AT_ONCE, thread_name_prefix="onvif-clock")
        limit = asyncio.Semaphore(AT_ONCE)

        async def one(cam_id: str, host: str, port: int) -> bool:
            async with limit:
                return await self._read(pool, cam_id, host, port)

        try:
            answered = await asyncio.gather(*[one(cam.id, *where) for cam in self.cfg().cameras
                                              if cam.enabled and (where := cc.endpoint(cam.onvif, cam.url)) is not None])
            return answered.count(False)
        finally:
            pool.shutdown(wait=False)  # a request past its timeout ends on its socket's timeout

    async def _read(self, pool: ThreadPoolExecutor, cam: str, host: str, port: int) -> bool:
        shown = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
        try:
            # a camera is input (issue 45): no redirect followed, its answer read to a cap, parsed off the loop
            asked = asyncio.get_running_loop().run_in_executor(pool, ask_clock, host, port, self.timeout_s, self.clock)
            sent, answered, body = await asyncio.wait_for(asked, self.timeout_s)
            when, ntp = await asyncio.to_thread(cc.parse_answer, body)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # noqa: BLE001 - any failure: this camera's clock is judged by RTCP only
            why = str(exc) or type(exc).__name__
            if self._said.get(cam) != why:
                self._said[cam] = why
                log.info("camera %s: no ONVIF clock at %s (%s): its clock is judged by RTCP sender reports only",
                         cam, shown, why[:200])
            return False
        self._said.pop(cam, None)
        servers, named = await self._ntp(cam, host, port)
        reading = cc.Reading(cc.offset_us(when, sent, answered), answered, ntp,
                             round(self.clock.monotonic() * 1_000_000), servers)
        self.readings[cam] = reading
        log.info("camera %s: its clock is %+.1f s off the host's (ONVIF, %s)", cam, reading.offset_us / 1e6,
                 "NTP" if ntp else "manual" if ntp is False else "source unknown")
        return named


def next_wait(missed: int, last_s: float, retry_s: float, every_s: float) -> float:
    """How long until every camera is asked again: daily when all answered; else `retry_s` after a
    round where all had answered, twice the last wait after one where some had not, never over daily."""
    if not missed:
        return every_s
    return min(every_s, retry_s if last_s >= every_s else 2 * last_s)


async def ask_ntp(host: str, port: int, user: str | None, password: str | None) -> tuple[str, ...]:
    """The camera's answer to GetNTP over onvif-zeep-async (the login as for the probe)."""
    from onvif import ONVIFCamera  # here: only ONVIF cameras pay for zeep

    cam = ONVIFCamera(host, port, user or "", password or "", adjust_time=True)
    try:
        await cam.update_xaddrs()
        device = await cam.create_devicemgmt_service()
        return cc.ntp_names(await device.GetNTP())
    finally:
        await cam.close()


def addresses(names: Iterable[str]) -> set[str]:
    """Each name, and the addresses it resolves to (blocking: a thread). A name that does not
    resolve stays as it is."""
    out = set()
    for name in names:
        n = independence.normalise(name)
        out.add(n)
        try:
            out |= {independence.normalise(str(a[4][0])) for a in socket.getaddrinfo(n, 123, proto=socket.IPPROTO_UDP)}
        except (OSError, UnicodeError):
            continue
    return out


def follows(names: tuple[str, ...], camera_host: str) -> frozenset[str] | None:
    """The servers a camera named with their addresses, the box's own address toward the camera
    written 127.0.0.1 (a camera that takes its time from the box follows the box); None: none
    named. Blocking (DNS): a thread."""
    if not names:
        return None
    got = addresses(names)
    try:
        with socket.socket(socket.AF_INET6 if ":" in camera_host else socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.connect((camera_host, 123))  # no packet: the route's own address
            mine = independence.normalise(str(s.getsockname()[0]))
    except OSError:
        mine = ""
    return frozenset("127.0.0.1" if a == mine else a for a in got)
