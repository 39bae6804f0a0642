"""The office's receipt end to end (issue 74, design/0318), on the real programs: a box (the
daemon, enrolled with the office's CA, its command key the office's) and a real edged-central on a
real mosquitto. An export made while the office hears the box gets the office's receipt beside it
(the office verified its `export.done` record and answered on `cmd/receipt`); `edgectl
export-receipt` adds it to the copy handed over, and the stand-alone checker and `edgectl verify`
say "signing time corroborated by the office at T". An export made while the office is away has
none: "not corroborated", NOT CHECKED with a list a day old (judged from its footage's end plus the
longest an export may wait, design/0374), and `export-receipt` says it has not come; once the office
is back it comes, later than the box's own time, and the same list says CHECKED. One export's receipt in another's folder is refused."""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path

from central.keys import ca
from storage.export import evidence as export
from storage.export.origin import GRACE_US
from storage.keys import nodecert, nodekey
from storage.time.clock import SYSTEM
from tests.support.broker import Broker
from tests.support.catalog import audit_rows
from tests.support.central import Central
from tests.support.daemon import ROOT, Daemon, wait_for, write_config
from tests.support.people import People
from tests.test_central import iso

S = 1_000_000
SITE, NODE = "test", "node1"
CHECKER = ROOT / "checker"


def _checker(folder: Path, ca_pem: Path, crl: Path) -> tuple[int, dict]:
    code = "import sys; sys.path[:0] = [sys.argv.pop(1)]; from edged_evidence_check.check import main; sys.exit(main())"
    r = subprocess.run([sys.executable, "-I", "-c", code, str(CHECKER), str(folder), "--ca", str(ca_pem), "--crl",
                        str(crl), "--json"], capture_output=True, text=True, timeout=120, cwd="/")
    return r.returncode, json.loads(r.stdout)


def _both(people: People, folder: Path, ca_pem: Path, crl: Path) -> tuple[int, dict]:
    """The checker's verdict, held equal to `edgectl verify`'s."""
    code, j = _checker(folder, ca_pem, crl)
    r = people.ctl("verify", str(folder), "--ca", str(ca_pem), "--crl", str(crl), "--json")
    j2 = json.loads(r.stdout)
    assert (r.returncode, j2["verdict"], j2["why"], j2["signing_time"]) == (code, j["verdict"], j["why"],
                                                                          j["signing_time"]), (j, j2)
    return code, j


def _enrolled_box(tmp_path: Path, broker: Broker, office: Path) -> Daemon:
    """A box whose data folder holds its certificate from the office's CA, its command key the office's."""
    data = tmp_path / "data"
    sock = Path(tempfile.mkdtemp(prefix="edged-receipt-")) / "control.sock"  # a socket path has a length limit
    tables = {"control": {"socket": str(sock)}}
    config = write_config(tmp_path / "edged.toml", data, [{"id": "cam", "url": "synthetic:?width=320&height=240&fps=5"}],
                          storage={"segment_length": "2s"}, tables=tables)
    first = Daemon(config, data, tmp_path / "edged-init.log").start()  # the data folder and the node's key
    wait_for(sock.exists, 60, "the first run's control socket")
    assert first.stop() == 0, first.log[-3000:]
    key = nodekey.load_or_create(data)
    _, bundle = ca.accept(office, nodecert.make_request(key, SITE, NODE), "alice", SYSTEM.now_us() - 3600 * S,
                          key.fingerprint)
    nodecert.install(data, bundle, key, SITE, NODE)
    tables["mqtt"] = {"enabled": True, "host": "127.0.0.1", "port": broker.port, "reconnect_max": "1s",
                      "chain_head": "2s", "command_key": ca.central_key(office).public_b64}
    write_config(config, data, [{"id": "cam", "url": "synthetic:?width=320&height=240&fps=5"}],
                 storage={"segment_length": "2s"}, tables=tables)
    return Daemon(config, data, tmp_path / "edged.log", init_data=False)


def _export(people: People, box: Daemon, out: Path, wait: str) -> dict:
    """A copy grant filed, approved and used: the export written to `out` (its result), waiting up to
    `wait` seconds for the office's receipt (design/0375)."""
    segs = box.segments("cam")
    start, end = segs[0]["start_us"] + S // 2, segs[-1]["end_us"] - S // 2
    people.as_("carol")
    r = people.ctl("request", "file", "--kind", "agency", "--category", "other", "--reason", "incident", "--camera",
                   "cam", "--from", iso(start), "--to", iso(end), "--copy", "--requester", "Sgt. Lin", "--org",
                   "precinct 3", "--letter", "P-77", "--json")
    assert r.returncode == 0, r.stderr
    people.as_("alice")
    r = people.ctl("request", "approve", str(json.loads(r.stdout)["id"]), "--reason", "ok", "--json")
    assert r.returncode == 0, r.stderr
    people.as_("carol")
    r = people.ctl("export", "--grant", str(json.loads(r.stdout)["grant"]["id"]), "--out", str(out), "--receipt-wait",
                   wait, "--json")
    assert r.returncode == 0, r.stderr
    return dict(json.loads(r.stdout))


def test_an_export_made_online_is_corroborated_by_the_office_offline_not(tmp_path):
    broker = Broker(tmp_path / "broker").start()
    central = Central(tmp_path, broker)
    office = tmp_path / "central-data"
    box = _enrolled_box(tmp_path, broker, office)
    ca_pem = tmp_path / "office-ca.pem"
    ca_pem.write_bytes(nodecert.pem([ca.existing_ca(office)]))
    central.start()
    box.start()
    try:
        people = People(box.config, tmp_path)
        people.add("carol", "custodian")
        people.add("alice", "approver")
        wait_for(lambda: len(box.segments("cam")) >= 3, 60, "three segments")

        # online: the office verifies the export's record and answers; the box keeps the receipt, and
        # edgectl export, which waited for it, wrote it into the copy and checked the copy with it
        online = _export(people, box, tmp_path / "online", "90")
        staged = Path(online["dir"]) / export.RECEIPT
        assert online["receipt"] is not None, online
        assert (tmp_path / "online" / export.RECEIPT).read_bytes() == staged.read_bytes()
        r = people.ctl("export-receipt", str(online["export"]), str(tmp_path / "online"))
        assert r.returncode != 0 and "already holds" in r.stderr, r.stdout + r.stderr
        heard = json.loads(staged.read_text())["heard_us"]
        crl = tmp_path / "crl.pem"
        crl.write_bytes(ca.crl(office, SYSTEM.now_us() + GRACE_US + 60 * S))  # a list a day after the receipt
        code, j = _both(people, tmp_path / "online", ca_pem, crl)
        assert code == 0 and j["signing_time"]["corroborated"] is True, j
        assert j["signing_time"]["why"].startswith("signing time corroborated by the office at "), j
        assert heard >= json.loads((tmp_path / "online" / export.MANIFEST).read_text())["created_us"] - 60 * S

        # offline: no receipt, not corroborated, and export-receipt says none has come
        central.stop()
        offline = _export(people, box, tmp_path / "offline", "0")
        assert offline["receipt"] is None and not (tmp_path / "offline" / export.RECEIPT).exists(), offline
        r = people.ctl("export-receipt", str(offline["export"]), str(tmp_path / "offline"))
        assert r.returncode != 0 and "has not come" in r.stderr, r.stdout + r.stderr
        code, j = _both(people, tmp_path / "offline", ca_pem, crl)  # judged from its footage's end plus the wait
        assert code == 3 and j["signing_time"]["corroborated"] is False and j["dates"]["latest_by"] == "footage", j
        assert j["signing_time"]["why"].startswith("signing time not corroborated"), j

        # one export's receipt in another's folder: refused by both
        (tmp_path / "offline" / export.RECEIPT).write_bytes((tmp_path / "online" / export.RECEIPT).read_bytes())
        code, j = _both(people, tmp_path / "offline", ca_pem, crl)
        assert code == 1 and "receipt for another export" in j["why"], j
        (tmp_path / "offline" / export.RECEIPT).unlink()

        # the office back: the record waiting in the box's outbox is verified, the receipt comes late
        central = Central(tmp_path, broker).start()
        staged = Path(offline["dir"]) / export.RECEIPT
        wait_for(staged.exists, 90, "the office's receipt for the export made while it was away")
        r = people.ctl("export-receipt", str(offline["export"]), str(tmp_path / "offline"))
        assert r.returncode == 0, r.stderr
        code, j = _both(people, tmp_path / "offline", ca_pem, crl)
        assert code == 0 and j["signing_time"]["corroborated"] is True, j
        signed = json.loads((tmp_path / "offline" / export.MANIFEST).read_text())["created_us"]
        assert json.loads(staged.read_text())["heard_us"] > signed, "heard after the box signed it, on the office's clock"
        kept = [json.loads(a["detail"]) for a in audit_rows(box, "export.receipt")]
        assert [k["export"] for k in kept] == [online["export"], offline["export"]], kept
    finally:
        box.stop()
        central.stop()
        broker.stop()
