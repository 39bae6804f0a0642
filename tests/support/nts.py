"""A real NTS server and client: two chronyd (Debian's chrony 4.3) on 127.0.0.1, configured by
storage/time/nts_conf.py's lines (design/0397).

Both run with `-x`: they never touch the host's clock (the box is shared). The office's serves its
clock (`local stratum 1`) over NTS with a self-signed certificate for `localhost`; the box's follows
it over NTS only and answers `chronyc` on a socket of its own. `chronyc_on_path` puts a `chronyc`
first on PATH that is the real one pointed at that socket: the daemon runs `chronyc -c -n tracking`
as on a box (its chronyd answers on /run/chrony/chronyd.sock there).
"""

from __future__ import annotations

import datetime
import getpass
import os
import shutil
import signal
import subprocess
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from storage.time import corroboration as co
from storage.time.nts_conf import Server, box_conf, office_conf
from tests.support.daemon import wait_for
from tests.support.ports import free_port


def _cert(folder: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=2))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost")]), critical=False)
            .sign(key, hashes.SHA256()))
    c, k = folder / "office.crt", folder / "office.key"
    c.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    k.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                    serialization.NoEncryption()))
    return c, k


class Chronyd:
    """One chronyd in `folder`: its config, log, pid file and command socket (a 0700 folder: chronyd
    refuses a socket others can reach)."""

    def __init__(self, folder: Path, lines: str):
        self.folder = folder
        (folder / "run").mkdir(parents=True, mode=0o700)
        (folder / "dump").mkdir()
        self.sock = folder / "run" / "chronyd.sock"
        self.conf = folder / "chrony.conf"
        self.conf.write_text(lines + f"ntsdumpdir {folder / 'dump'}\ncmdport 0\nbindcmdaddress {self.sock}\n"
                             f"pidfile {folder / 'chronyd.pid'}\n")
        self.pid: int | None = None

    def start(self) -> Chronyd:
        user = getpass.getuser()
        args = ["chronyd", "-x", "-u", user, "-f", str(self.conf), "-l", str(self.folder / "chronyd.log")]
        subprocess.run(args + ([] if os.geteuid() == 0 else ["-U"]), check=True, timeout=10)
        pidfile = self.folder / "chronyd.pid"
        self.pid = int(wait_for(lambda: pidfile.exists() and pidfile.read_text().strip(), 10, "chronyd's pid"))
        return self

    def chronyc(self, *what: str) -> str:
        got = subprocess.run(["chronyc", "-h", str(self.sock), "-c", "-n", *what], capture_output=True, text=True,
                             timeout=5)
        return got.stdout if got.returncode == 0 else ""

    def log(self) -> str:
        path = self.folder / "chronyd.log"
        return path.read_text() if path.exists() else ""

    def stop(self) -> None:
        if self.pid is not None:
            try:
                os.kill(self.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            pid, self.pid = self.pid, None
            wait_for(lambda: not Path(f"/proc/{pid}").exists(), 10, "chronyd stopped")


class Nts:
    """The office's NTS server and the box's NTS client; `reading()` is what the daemon reads."""

    def __init__(self, tmp: Path):
        if shutil.which("chronyd") is None:
            pytest.skip("chrony is not installed (scripts/bootstrap --test installs it)")
        tmp.mkdir(parents=True, exist_ok=True)
        cert, key = _cert(tmp)
        ntp, ke = free_port(), free_port()
        self.office = Chronyd(tmp / "office", office_conf(str(cert), str(key), ["127.0.0.1"], ke_port=ke,
                                                          ntp_port=ntp, local_stratum=1))
        self.box = Chronyd(tmp / "box", box_conf([Server("localhost", ke, ntp)], str(cert), poll=(0, 0)) + "port 0\n")

    def start(self) -> Nts:
        self.office.start()
        self.box.start()
        return self

    def reading(self) -> tuple[co.Reading | None, str]:
        return co.chrony_reading(*(self.box.chronyc(w) for w in ("tracking", "sources", "authdata")))

    def wait_synced(self, timeout: float = 30) -> co.Reading:
        got = wait_for(lambda: self.reading()[0], timeout, "the box's chronyd synchronised over NTS")
        assert got is not None
        return got

    def chronyc_on_path(self, folder: Path) -> Path:
        """A `chronyc` that is the real one asking the box's chronyd: put `folder` first on PATH."""
        folder.mkdir(exist_ok=True)
        exe = folder / "chronyc"
        exe.write_text(f"#!/bin/sh\nexec {shutil.which('chronyc')} -h {self.box.sock} \"$@\"\n")
        exe.chmod(0o755)
        return folder

    def stop(self) -> None:
        self.box.stop()
        self.office.stop()
