"""The five seed sites as shipped examples (issue 17 item 9): each examples/sites/ config passes
`edged check-config`, and the sites' cases and helpers the desk's modules walk them with. A real
daemon per site (real RTSP camera, real accounts) runs one request through that site's approval
chain end to end through edgectl, filed, every step signed by a different approver, the grant,
then the export with its receipt, or the viewing where the kind is view-only, on the record: on
the five daemons tests/test_desk_words.py opens (`test_a_request_runs_through_the_sites_chain_by_edgectl`,
design/0450)."""

from __future__ import annotations

import re
import subprocess
import sys
from datetime import datetime, timezone

import pytest

from tests.support.cameras import RtspServer, make_clip
from tests.support.daemon import ROOT, toml_value
from tests.support.people import password_for

SITES = ROOT / "examples" / "sites"
S = 1_000_000
# site file, the kind of request run through it, and what the grant is used for
CASES = [
    ("000-household-registration-office", "internal", "copy"),   # four sign-offs (annex 2), a copy
    ("001-land-office", "citizen", "view"),                      # three sign-offs, viewed only (001 §17(1)(3))
    ("002-police-station", "internal", "copy"),                  # the precinct chief; a copy against a receipt
    ("003-township-office", "agency", "copy"),                   # the head of office; an agency's copy
    ("004-vocational-school", "internal", "view"),               # four: the library's, the workshop's, two more
]


def test_every_example_site_passes_check_config():
    assert sorted(p.stem for p in SITES.glob("*.toml")) == [name for name, _, _ in CASES]
    for path in sorted(SITES.glob("*.toml")):
        r = subprocess.run([sys.executable, "-m", "edged.cli", "check-config", str(path)], capture_output=True,
                           text=True, cwd=ROOT, timeout=60)
        assert r.returncode == 0 and ": OK (site " in r.stdout, (path.name, r.stderr)
        text = path.read_text()
        assert "seed 0" in text and "../shared" not in text and "password" not in text.split("[[cameras]]")[1]


@pytest.fixture(scope="module")
def camera(tmp_path_factory):
    clip = make_clip(tmp_path_factory.mktemp("clip"), fps=20, gop=20, seconds=10)
    with RtspServer({"cam": clip.spec()}) as server:  # a shared mount: every camera of a site reads it
        yield server


def site_config(name: str, tmp_path, camera, viewer_port: int | None):
    """The example as shipped, pointed at a test folder and the test camera (short segments)."""
    data = tmp_path / "data"
    text = (SITES / f"{name}.toml").read_text()
    text = re.sub(r'^data_dir = ".*"$', f"data_dir = {toml_value(str(data))}", text, count=1, flags=re.M)
    text = re.sub(r'^url = ".*"$', f"url = {toml_value(camera.url('cam'))}", text, flags=re.M)
    text = text.replace("[storage]\n", '[storage]\nsegment_length = "2s"\n', 1)
    if viewer_port is not None:
        text += f'\n[viewer]\nenabled = true\nlisten = "127.0.0.1:{viewer_port}"\n'
    path = tmp_path / f"{name}.toml"
    path.write_text(text)
    return path, data


def signers_for(steps, policy=None, org: str = "") -> list[str]:
    """One approver account per step: a listed approver where the step names them (the chief of
    the requester's unit for a `unit` step), else a new one."""
    out: list[str] = []
    for i, step in enumerate(steps):
        pool = policy.units[org] if step.unit else step.approvers
        out.append(sorted(set(pool) - set(out))[0] if pool else f"signer{i + 1}")
    return out


def unit_of(policy) -> str:
    """The requester's unit an internal request names: the site's first unit, where it has any."""
    return next(iter(policy.units), "Counter section")


def filing_args(kind: str, use: str, category: str, cameras: list[str], frm: int, to: int,
                org: str = "Counter section", policy=None) -> list[str]:
    iso = lambda us: datetime.fromtimestamp(us / S, timezone.utc).isoformat()  # noqa: E731
    args = ["request", "file", "--kind", kind, "--category", category, "--reason", "a wallet lost at the counter",
            "--from", iso(frm), "--to", iso(to), "--requester", "Lin Mei", "--json"]
    for cam in cameras:
        args += ["--camera", cam]
    if kind == "citizen":
        args += ["--id-number", "A123456789", "--identity-checked", "--contact", "0912-000-000"]
    if kind == "agency":
        args += ["--org", "Precinct 3", "--letter", "ZZ-2026-17"]
    if kind == "internal":
        args += ["--org", org]
    if policy is not None and policy.asks_purpose:   # 002 §8: the reason and the use (用途)
        args += ["--purpose", "歸還民眾遺失物"]
    return args + (["--copy"] if use == "copy" else [])


async def _play(base: str, name: str, grant_id: int) -> tuple[int, dict]:
    """A custodian plays the grant in the web viewer: log in, offer WebRTC, get the answer."""
    import aiohttp
    from aiortc import RTCPeerConnection

    pc = RTCPeerConnection()
    try:
        pc.addTransceiver("video", direction="recvonly")
        pc.createDataChannel("control")
        await pc.setLocalDescription(await pc.createOffer())
        async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
            r = await http.post(f"{base}/api/login", json={"name": name, "password": password_for(name)})
            assert r.status == 200, await r.text()
            r = await http.post(f"{base}/api/playback", json={
                "grant": grant_id, "watcher": "Lin Mei", "sdp": pc.localDescription.sdp, "type": "offer"})
            return r.status, await r.json()
    finally:
        await pc.close()
