"""edged-central (issue 21) against real edged daemons on a real mosquitto: both nodes in
`status` and the dashboard (rendered in headless Chromium), an export and a viewing in the
web viewer as compliant accesses,
a seq gap from an outbox cut named by its range, verify-log on an untouched and an edited
export, and an audit table rewritten while the daemon was stopped found as a fork."""

from __future__ import annotations

import json
import sqlite3
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

import pytest

from storage import audit
from storage.time.clock import SYSTEM
from tests.support.broker import Broker
from tests.support.central import Central
from tests.support.cameras import RtspServer, free_port, make_clip
from tests.support.catalog import audit_rows, delete_messages, rows, set_audit
from tests.support.daemon import Daemon, wait_for, write_config
from tests.support.people import People

S = 1_000_000
SITE = "test"


@pytest.fixture
def clip(tmp_path):
    return make_clip(tmp_path, fps=20, gop=20, seconds=10)


def node(tmp_path: Path, name: str, camera_url: str, broker: Broker, viewer_port: int | None = None,
         command_key: str | None = None) -> Daemon:
    folder = tmp_path / name
    folder.mkdir()
    sock = Path(tempfile.mkdtemp(prefix="edged-central-")) / "control.sock"  # a socket path has a length limit
    config = write_config(folder / "edged.toml", folder / "data", [{"id": "cam", "url": camera_url}],
                          storage={"segment_length": "2s"},
                          tables={"control": {"socket": str(sock)},
                                  "mqtt": {"enabled": True, "host": "127.0.0.1", "port": broker.port,
                                           "reconnect_max": "1s", "chain_head": "2s",
                                           **({"command_key": command_key} if command_key else {})},
                                  **({"viewer": {"enabled": True, "listen": f"127.0.0.1:{viewer_port}"}}
                                     if viewer_port else {})})
    config.write_text(config.read_text().replace('id = "test"', f'id = "test"\nnode = "{name}"', 1))
    return Daemon(config, folder / "data", folder / "edged.log")


def iso(us: int) -> str:
    return datetime.fromtimestamp(us / S).astimezone().isoformat()


def status_nodes(central: Central) -> dict[str, dict]:
    try:
        return {n["node"]: n for n in central.json("status")["nodes"]}
    except (AssertionError, json.JSONDecodeError):
        return {}


def test_two_nodes_an_export_a_seq_gap_and_the_dashboard(tmp_path, clip):
    # persistence: the central office's session (and what is queued for it) outlives a broker restart
    broker = Broker(tmp_path / "broker", persistence=True).start()
    central = Central(tmp_path, broker).start()
    daemons = []
    pw = browser = None
    with RtspServer({"cam": f"clip:{clip.video}@20"}) as cameras:
        try:
            viewer = free_port()
            n1 = node(tmp_path, "n1", cameras.url("cam"), broker, viewer_port=viewer).start()
            n2 = node(tmp_path, "n2", cameras.url("cam"), broker).start()
            daemons += [n1, n2]
            both = wait_for(lambda: (s := status_nodes(central)) and all(
                s.get(f"{SITE}/{n}", {}).get("up") and s[f"{SITE}/{n}"]["recording"] == 1 for n in ("n1", "n2"))
                and s, 60, "both nodes up and recording in `status`")
            assert both[f"{SITE}/n1"]["cameras"] == 1
            text = central.cli("status")
            assert text.returncode == 0 and "nodes up 2/2" in text.stdout and "test/n2" in text.stdout, text.stdout

            # an export under an approved request: a compliant access, with the grant's use
            people = People(n1.config, tmp_path / "n1")
            people.add("carol", "custodian")
            people.add("alice", "approver")
            wait_for(lambda: len(n1.segments("cam")) >= 3, 40, "three segments")
            segs = n1.segments("cam")
            start, end = segs[0]["start_us"] + S, segs[-1]["end_us"] - S // 2
            people.as_("carol")
            r = people.ctl("request", "file", "--kind", "agency", "--category", "other", "--reason", "incident",
                           "--camera", "cam", "--from", iso(start), "--to", iso(end), "--copy", "--requester",
                           "Sgt. Lin", "--org", "precinct 3", "--letter", "P-77", "--json")
            assert r.returncode == 0, r.stderr
            people.as_("alice")
            r = people.ctl("request", "approve", str(json.loads(r.stdout)["id"]), "--reason", "ok", "--json")
            assert r.returncode == 0, r.stderr
            grant = json.loads(r.stdout)["grant"]["id"]
            people.as_("carol")
            r = people.ctl("export", "--grant", str(grant), "--out", str(tmp_path / "evidence"))
            assert r.returncode == 0, r.stderr
            # and a viewing: a view request, approved, played once in n1's web viewer
            r = people.ctl("request", "file", "--kind", "internal", "--category", "lost-property", "--reason",
                           "a lost wallet", "--camera", "cam", "--from", iso(start), "--to", iso(end),
                           "--requester", "Bob Citizen", "--org", "front desk", "--json")
            assert r.returncode == 0, r.stderr
            people.as_("alice")
            r = people.ctl("request", "approve", str(json.loads(r.stdout)["id"]), "--reason", "ok", "--json")
            assert r.returncode == 0, r.stderr
            view_grant = json.loads(r.stdout)["grant"]["id"]
            from tests.support.browser import launch, login_page

            wait_for(lambda: "web viewer listening" in n1.log, 60, "n1's web viewer")  # it loads on a thread at start
            pw, browser = launch()   # one browser for the viewing and the dashboard, a context each
            page = login_page(browser, f"http://127.0.0.1:{viewer}", "carol")
            page.goto(f"http://127.0.0.1:{viewer}/playback")
            page.wait_for_selector("body[data-ready='1']")
            page.fill("#grant", str(view_grant))
            page.click("#lookup button")
            page.wait_for_selector("#start", state="visible")
            page.click("#start")
            page.wait_for_selector("#controls", state="visible")
            wait_for(lambda: audit_rows(n1, "playback.start"), 20,
                     "the playback's start record")
            page.context.close()
            month = datetime.fromtimestamp(SYSTEM.now_us() / 1e6, timezone.utc).strftime("%Y-%m")
            out = tmp_path / "report"

            def accesses():
                r = central.cli("report", "--site", SITE, "--month", month, "--out", str(out), "--json")
                if r.returncode != 0:
                    return None
                rep = json.loads((out / "report.json").read_text())
                acts = [a["action"] for a in rep["accesses"] if a["node"] == f"{SITE}/n1"]
                return rep if sorted(acts) == ["export.done", "grant.use", "grant.use", "playback.start"] else None

            rep = wait_for(accesses, 30, "the export and the viewing in the site's report")
            assert {a["grant"] for a in rep["accesses"]} == {grant, view_grant}
            for a in rep["accesses"]:
                assert a["ok"] and a["why"] == f"grant {a['grant']}, approved by alice", a
            assert {"report.html", "camera_days.csv", "accesses.csv", "findings.csv"} <= {p.name for p in out.iterdir()}
            assert "export.done" in (out / "accesses.csv").read_text()
            today = [d for d in rep["camera_days"] if d["node"] == f"{SITE}/n1" and d["accesses"]]
            assert today and today[0]["accesses_not_compliant"] == 0 and today[0]["retention"] == "achieved"
            assert not central.findings("access_unapproved")

            # the dashboard: both nodes, in a real browser, under the strict CSP
            page = browser.new_page()   # a context of its own
            errors: list[str] = []
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            resp = page.goto(f"http://127.0.0.1:{central.port}/")
            assert "default-src 'none'" in resp.headers["content-security-policy"]
            assert page.inner_text("#nodes-up") == "nodes up: 2 / 2"
            assert page.inner_text("#cameras-recording") == "cameras recording: 2 / 2"
            page.click(f"text={SITE}")
            page.wait_for_url(f"**/site/{SITE}")
            body = page.inner_text("body")
            assert "n1" in body and "n2" in body and "Open alarms" in body
            assert page.eval_on_selector("link[rel=stylesheet]", "e => e.sheet !== null")  # the CSS loaded
            assert not errors, errors
            page.context.close()
            browser.close()
            pw.stop()
            browser = pw = None

            # lost messages: with the broker down, n2 queues audit records; three are cut from its outbox
            broker.stop()
            people2 = People(n2.config, tmp_path / "n2")  # init-admin: audit records, queued in the outbox
            for _ in range(3):
                assert people2.login("admin").returncode == 0
            outbox = n2.data_dir / "outbox.db"
            wait_for(lambda: len(_outbox(outbox)) >= 5, 30, "messages waiting in n2's outbox")
            n2.stop()
            seqs = _outbox(outbox)
            cut = seqs[1:4]
            with sqlite3.connect(outbox) as db:
                delete_messages(db, cut)
            broker.start()
            n2.start()
            gap = wait_for(lambda: central.findings("seq_gap", f"{SITE}/n2"), 60, "the seq gap finding")
            assert gap[0]["detail"] == {"first": cut[0], "last": cut[-1], "count": 3}
            assert f"messages {cut[0]} to {cut[-1]} were never received" in gap[0]["message"]
            assert not central.findings("seq_gap", f"{SITE}/n1")
            # what real daemons send passes the schema (central/intake/schema.py) and the seq check
            assert not central.findings("malformed_message") and not central.findings("seq_implausible")
        finally:
            if browser is not None:
                browser.close()
                pw.stop()
            for d in daemons:
                if d.proc and d.proc.poll() is None:
                    d.stop()
            central.stop()
            broker.stop()
    assert "Traceback" not in central.log_path.read_text()


def _outbox(path: Path) -> list[int]:
    try:
        with sqlite3.connect(path) as db:
            return [r["seq"] for r in rows(db, "messages", order="seq")]
    except sqlite3.Error:
        return []


def _rehash(rows: list[dict]) -> list[dict]:
    """Recompute every hash from the first record on, as root on the box could."""
    prev = audit.GENESIS
    out = []
    for r in rows:
        body = {k: r[k] for k in ("seq", "at_us", "actor", "action", "detail")}
        digest = audit.record_hash(prev, body)
        out.append({**r, "prev_hash": prev, "hash": digest})
        prev = digest
    return out


def test_verify_log_and_a_rewritten_audit_table_found_as_a_fork(tmp_path, clip):
    broker = Broker(tmp_path / "broker").start()
    central = Central(tmp_path, broker).start()
    with RtspServer({"cam": f"clip:{clip.video}@20"}) as cameras:
        d = node(tmp_path, "n1", cameras.url("cam"), broker).start()
        try:
            people = People(d.config, tmp_path)
            people.add("ethan", "auditor")
            people.as_("ethan")
            export = tmp_path / "audit.jsonl"
            r = people.ctl("audit", "export", "--out", str(export))
            assert r.returncode == 0, r.stderr
            lines = export.read_text().splitlines()
            last = json.loads(lines[-1])
            # central holds a signed head at or past the export's end
            wait_for(lambda: (n := status_nodes(central).get(f"{SITE}/n1")) and n["head"]
                     and n["head"]["seq"] >= last["seq"], 30, "a signed head covering the export")

            ok = central.cli("verify-log", "--node", f"{SITE}/n1", str(export), "--json")
            assert ok.returncode == 0, ok.stdout + ok.stderr
            res = json.loads(ok.stdout)
            assert res["ok"] and res["heads_matched"] >= 1 and res["compared_with_received"] == len(lines)

            # edited and re-hashed from record 3 on: consistent in itself, but not what was published
            rows = [json.loads(x) for x in lines]
            rows[2]["actor"] = "someone else"
            edited = tmp_path / "edited.jsonl"
            edited.write_text("".join(audit.export_line(x) + "\n" for x in _rehash(rows)))
            assert audit.verify_lines(edited.read_text().splitlines())[1] is None
            bad = central.cli("verify-log", "--node", f"{SITE}/n1", str(edited))
            assert bad.returncode == 1 and bad.stdout.startswith("BAD at record 3:"), bad.stdout + bad.stderr
            assert "differs from the one the node published" in bad.stdout
            # a record taken out: the chain names it
            short = tmp_path / "short.jsonl"
            short.write_text("\n".join(lines[:2] + lines[3:]) + "\n")
            r = central.json("verify-log", "--node", f"{SITE}/n1", str(short))
            assert not r["ok"] and r["first_bad"]["seq"] == 3 and "missing" in r["first_bad"]["why"], r
            assert not central.findings("audit_fork")

            # the audit report prints the signed head; the central office records it from paper
            r = people.ctl("audit", "report", "--from", "-1h")
            assert r.returncode == 0, r.stderr
            line = [x for x in r.stdout.splitlines() if x.startswith(f"edged-head v1 {SITE}/n1 ")][0]
            a = central.cli("anchor", "--node", f"{SITE}/n1", line)
            assert a.returncode == 0 and a.stdout.startswith("recorded: head"), a.stdout + a.stderr
            sig = line.rsplit(" ", 1)[1]
            forged = line.replace(sig, sig[:10] + ("A" if sig[10] != "A" else "B") + sig[11:])
            a = central.cli("anchor", "--node", f"{SITE}/n1", forged)
            assert a.returncode == 1 and "REFUSED" in a.stdout
            assert central.findings("head_bad_signature", f"{SITE}/n1")

            # root rewrites the catalog's audit table while edged is stopped, re-hashing it all
            d.stop()
            db = sqlite3.connect(d.data_dir / "catalog.db")
            stored = audit_rows(db)
            recs = [{**r, "detail": json.loads(r["detail"])} for r in stored]
            recs[1]["actor"] = "nobody"
            with db:
                for r in _rehash(recs):
                    set_audit(db, r["seq"], actor=r["actor"], prev_hash=r["prev_hash"], hash=r["hash"])
            db.close()
            restarted = time.monotonic()
            d.start()
            forks = wait_for(lambda: central.findings("audit_fork", f"{SITE}/n1"), 40, "the fork finding")
            assert forks[0]["severity"] == "critical" and "rewritten" in forks[0]["message"]
            # within one head interval (2 s) of the daemon's first head after its start-up
            assert time.monotonic() - restarted < 40
            r = central.cli("findings", "--severity", "critical", "--fail-on-critical")
            assert r.returncode == 1 and "audit_fork" in r.stdout
        finally:
            if d.proc and d.proc.poll() is None:
                d.stop()
            central.stop()
            broker.stop()
