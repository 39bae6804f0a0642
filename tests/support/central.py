"""`edged-central run` as a subprocess on a real broker, and its CLI (tests/test_central.py,
tests/test_standby_daemon.py)."""

from __future__ import annotations

import json
import subprocess
import sys
import urllib.request
from pathlib import Path

from tests.support import ctlfork
from tests.support.broker import Broker
from tests.support.cameras import free_port
from tests.support.daemon import ROOT, wait_for


class Central:
    """`edged-central run` as a subprocess, and its CLI."""

    def __init__(self, tmp_path: Path, broker: Broker):
        self.port = free_port()
        self.config = tmp_path / "central.toml"
        self.config.write_text(f'[broker]\nhost = "127.0.0.1"\nport = {broker.port}\nclient_id = "central-test"\n'
                               f'[storage]\ndata_dir = "central-data"\n'
                               f'[verify]\ninterval = "300ms"\ngap_grace = "2s"\nsilent_after = "1m"\n'
                               f'[dashboard]\nlisten = "127.0.0.1:{self.port}"\n[report]\ntimezone = "UTC"\n')
        self.log_path = tmp_path / "central.log"
        self.proc: subprocess.Popen | ctlfork.Forked | None = None

    def start(self) -> "Central":
        """Started once its dashboard answers and it has subscribed on the broker: a message
        published before the subscription is dealt to no one (a test that published at once lost
        its first messages on a loaded box)."""
        before = self._subscriptions()
        self._log = open(self.log_path, "ab")
        self.proc = ctlfork.spawn([sys.executable, "-m", "central.cli", "run", "--config", str(self.config)],
                                  cwd=ROOT, stdout=self._log)
        wait_for(lambda: self._up(), 30, "the central dashboard")
        wait_for(lambda: self._subscriptions() > before, 30, "the central subscribed on the broker")
        return self

    def _subscriptions(self) -> int:
        """How many times its log says it subscribed (central/intake/subscriber.py)."""
        try:
            return self.log_path.read_bytes().count(b", subscribed to ")
        except FileNotFoundError:
            return 0

    def _up(self) -> bool:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{self.port}/api/status", timeout=2).read()
            return True
        except OSError:
            return False

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(30)
        self._log.close()

    def cli(self, *args: str) -> subprocess.CompletedProcess:
        return ctlfork.run([sys.executable, "-m", "central.cli", "--config", str(self.config), *args], cwd=ROOT,
                           timeout=60)

    def json(self, *args: str):
        r = self.cli(*args, "--json")
        assert r.returncode in (0, 1), r.stderr
        return json.loads(r.stdout)

    def findings(self, kind: str, node: str | None = None) -> list[dict]:
        try:
            rows = self.json("findings", *(["--node", node] if node else []))
        except (AssertionError, json.JSONDecodeError):
            return []
        return [f for f in rows if f["kind"] == kind]
