"""`edged-central`: the central office's fleet verifier (design/0026-0028).

    edged-central run [--config F]          subscribe, store, verify; the dashboard
    edged-central status [--json]           the fleet: nodes up, cameras recording, alarms, findings
    edged-central findings [--site S] [--node N] [--severity critical] [--json]
    edged-central report --site S --month 2026-11 --out DIR [--lang zh-TW|en] [--json]
    edged-central verify-log --node SITE/NODE FILE [--json]
    edged-central anchor --node SITE/NODE "edged-head v1 ..." [--json]
    edged-central keys [--out FILE] [--json]  the fleet's node keys, signed by the central key
    edged-central nodes list|accept|revoke|ca|crl   the office's CA: enrolments (design/0097)
    edged-central apt key|publish|refresh|keyring|list|entry  the office's APT repository (design/0255, 0333)
    edged-central hash-password              a password hash for [dashboard.accounts.NAME]
    edged-central coverage --site S --camera C [--hours 24] [--json]   a camera's time, counted once
    edged-central archive --month YYYY-MM | restore --file F   a closed month out of the store, and back
    edged-central migrate [--dry-run]        the store to this version's schema (never inside `run`)
    edged-central backup --out FILE          the SQLite store copied while it runs (online backup API)

Everything but `run` needs no broker; the readers open the store read-only (on PostgreSQL as
`[storage] read_url`'s role); `anchor` writes one head, `archive`, `restore` and `migrate` the store.

Over 400 lines on purpose: the parser and every verb it dispatches but the store's
(central/cli_store.py), each verb a short function beside the others (none over 60 lines), so
that the whole command line reads in one place, as `edged-central --help` shows it.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import signal
import sys
from pathlib import Path
from typing import Any

from central import apt_repo, cli_store, config as cfgmod, login
from central.keys import keylist, nodes
from central.keys.keystanding import Register
from central.keys.register import RegisterError
from central.store import migrate
from central.store.pgstore import _redact
from storage.keys import chainhead
from central.checks import coverage
from central.store import coverage as stored_coverage, nodes as stored_nodes
from central.pages import fleet
from central.verifier import logcheck
from central.report import report, report_files, report_html
from central.keys.crl_schedule import CrlSchedule
from central.i18n import LANGUAGES
from central.i18n import normalise as normalise_language
from central.store.store import Store, now_us
from central.verifier.verifier import Verifier
from central.store.versions import SchemaError
from storage.process.threadname import name_os_thread

log = logging.getLogger("edged.central")


class UsageError(Exception):
    pass


def _when(us: int | None, tz: Any) -> str:
    return report_html.fmt(us, tz)


def _out(args: argparse.Namespace, data: Any, text: str) -> None:
    if getattr(args, "json", False):
        json.dump(data, sys.stdout, ensure_ascii=False, indent=1, sort_keys=True)
        sys.stdout.write("\n")
    elif text:
        print(text)


def _store(cfg: cfgmod.CentralConfig) -> Store:
    try:
        return cfg.open_store(readonly=True)
    except FileNotFoundError as exc:
        raise UsageError(str(exc)) from None


# verbs ------------------------------------------------------------------------------------------
def cmd_status(cfg: cfgmod.CentralConfig, args: argparse.Namespace) -> int:
    from central import ops

    store = _store(cfg)
    try:
        o = fleet.overview(store, now_us(), cfg.verify.silent_after_us, args.site)
        o["office"] = ops.status(store)  # the operator's view: instances, their leases, lags, write waits
    finally:
        store.close()
    t, office = o["total"], o["office"]
    lines = [f"nodes up {t['up']}/{t['nodes']}, cameras recording {t['recording']}/{t['cameras']}, "
             f"open alarms {t['open_alarms']}, critical findings {t['critical']}",
             f"unverified messages {office['unverified']} (oldest {office['verify_lag_s']:g} s)"]
    lines += [f"archived {a['month']}: {a['rows']} messages in {a['file']} (SHA-256 {a['sha256'][:16]}...)"
              + (", restored" if a["restored_us"] else "") for a in office["archives"]]
    for i in office["instances"]:
        lines.append(f"instance {i['id']} ({i['host']} pid {i['pid']}): {'live' if i['live'] else 'GONE'}, "
                     f"{i.get('leases', 0)} leases, ingest lag {i.get('ingest_lag_s', 0):g} s, writes "
                     f"{i.get('write_s', 0):g} s, lock waits {i.get('lock_wait_s', 0):g} s, "
                     f"heartbeat {i['heartbeat_age_s']:g} s ago")
    lines.append("")
    lines.append(f"{'NODE':<28} {'STATE':<10} {'CAMERAS':<9} {'ALARMS':<7} {'FINDINGS':<24} {'HEAD':<8} {'VERSION':<14} LAST HEARD")
    for n in o["nodes"]:
        f = n["findings"]
        fs = ", ".join(f"{f[s]} {s}" for s in ("critical", "warning", "info") if f.get(s)) or "-"
        state = "up" if n["up"] else (n["status"] + (" silent" if n["silent"] else ""))
        lines.append(f"{n['node']:<28} {state:<10} {str(n['recording']) + '/' + str(n['cameras']):<9} "
                     f"{n['open_alarms']:<7} {fs:<24} {str(n['head']['seq']) if n['head'] else '-':<8} "
                     f"{n.get('version') or '-':<14} {_when(n['last_us'], cfg.tz)}")
    _out(args, o, "\n".join(lines) if o["nodes"] else "no node has reported yet")
    return 0


def cmd_findings(cfg: cfgmod.CentralConfig, args: argparse.Namespace) -> int:
    store = _store(cfg)
    try:
        rows = store.findings(site=args.site, node=args.node, severity=args.severity, limit=args.limit)
    finally:
        store.close()
    text = "\n".join(f"{_when(f['found_us'], cfg.tz)}  {f['severity'].upper():<8} {f['node']:<24} {f['kind']}: "
                     f"{f['message']}" for f in reversed(rows))
    _out(args, rows, text or "no findings")
    return 1 if any(f["severity"] == "critical" for f in rows) and args.fail_on_critical else 0


def cmd_coverage(cfg: cfgmod.CentralConfig, args: argparse.Namespace) -> int:
    """A camera's time covered over the last hours, counted once across every box of the site
    (its own, a standby's, what was fetched back), by kind, and its holes (design/0115)."""
    to_us = now_us()
    from_us = to_us - int(args.hours * 3600e6)
    store = _store(cfg)
    try:
        s = coverage.summary(stored_coverage.rows(store.db, args.site, args.camera, from_us, to_us), from_us, to_us)
    finally:
        store.close()
    kinds = ", ".join(f"{k} {v / 1e6:.0f} s" for k, v in s["by_kind"].items()) or "none"
    text = (f"camera {args.camera} of site {args.site}, {_when(from_us, cfg.tz)} to {_when(to_us, cfg.tz)}: "
            f"{s['covered_us'] / 1e6:.0f} s covered once ({kinds}); held twice {s['held_twice_us'] / 1e6:.0f} s; "
            f"{len(s['holes'])} holes over 1 s" + "".join(f"\n  hole {_when(a, cfg.tz)} - {_when(b, cfg.tz)}"
                                                       for a, b in s["holes"]))
    _out(args, {"site": args.site, "camera": args.camera, **s}, text)
    return 0


def cmd_report(cfg: cfgmod.CentralConfig, args: argparse.Namespace) -> int:
    language = cfg.report.language
    if args.lang is not None:  # overrides [report] language for this report
        chosen = normalise_language(args.lang)
        if chosen is None:
            raise UsageError(f"--lang {args.lang!r} is not a supported language; use one of {', '.join(LANGUAGES)}")
        language = chosen
    store = _store(cfg)
    try:  # written as the store is read, a section's rows at a time (design/0281)
        try:
            report.site_month(store, args.site, args.month, cfg.tz)
        except (LookupError, ValueError) as exc:
            raise UsageError(str(exc)) from None
        made, s = report_files.write_streamed(store, args.site, args.month, cfg.tz, now_us(), Path(args.out), language)
    finally:
        store.close()
    _out(args, {"summary": s, "files": [str(p) for p in made]},
         f"site {args.site}, {args.month}: {s['camera_days_not_compliant']} of {s['camera_days']} camera-days not "
         f"compliant; {s['accesses_not_compliant']} of {s['accesses']} accesses not compliant; {s['findings']} "
         f"findings ({s['findings_critical']} critical)\nwritten: " + ", ".join(str(p) for p in made))
    return 0


def cmd_verify_log(cfg: cfgmod.CentralConfig, args: argparse.Namespace) -> int:
    try:
        with open(args.file, encoding="utf-8") as f:
            lines = f.readlines()
    except OSError as exc:
        raise UsageError(f"cannot read {args.file}: {exc.strerror}") from None
    store = _store(cfg)
    try:
        try:
            r = logcheck.check(store, args.node, lines)
        except LookupError as exc:
            raise UsageError(str(exc)) from None
    finally:
        store.close()
    if r["ok"]:
        h = r["newest_head_matched"]
        text = (f"OK: {r['records']} records; {r['compared_with_received']} match the records received, "
                f"{r['heads_matched']} of {r['heads_known']} signed heads are in it"
                + (f" (newest: record {h['seq_local']} {h['hash'][:16]}, signed {_when(h['at_us'], cfg.tz)})" if h else ""))
    else:
        text = f"BAD at record {r['first_bad']['seq']}: {r['first_bad']['why']}"
    _out(args, r, text)
    return 0 if r["ok"] else 1


def cmd_anchor(cfg: cfgmod.CentralConfig, args: argparse.Namespace) -> int:
    """A signed head copied from a printed audit report (a site without a broker)."""
    try:
        site, name, head = chainhead.from_line(args.line)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    node = f"{site}/{name}"
    if args.node and args.node != node:
        raise UsageError(f"the line is for node {node}, not {args.node}")
    store = cfg.open_store()
    try:
        known = stored_nodes.known(store.db, node)
        key = args.key or (known or {}).get("public_key")
        if not key:
            raise UsageError(f"no key known for node {node}: give its public key with --key (from its birth or "
                             "node-ed25519.pub.pem)")
        if known is None:
            stored_nodes.enrol(store.db, node, site, name, now_us(), key)
        elif not known["public_key"]:
            stored_nodes.set_key(store.db, node, key)
        v = Verifier(store, cfg.tz, cfg.verify.gap_grace_us, standing=Register(cfg.storage.data_dir))  # a revoked key's head: invalid
        with store.writing():
            row = stored_nodes.row(store.db, node) or {}
            v.site, v.name, v.node, v.key = site, name, node, key
            v.head = None if row["head_seq"] is None else {"seq": row["head_seq"], "hash": row["head_hash"],
                                                           "at_us": row["head_at_us"]}
            valid = v.add_head(head, -head["at_us"], "paper")  # msg_seq: not an MQTT message
            if valid and v.head is not None:
                stored_nodes.set_head(store.db, node, v.head)
    finally:
        store.close()
    _out(args, {"node": node, "head": head, "valid": valid},
         f"{'recorded' if valid else 'REFUSED (bad signature; recorded as a finding)'}: head {head['seq']} "
         f"{head['hash'][:16]} of {node}")
    return 0 if valid else 1


def cmd_keys(cfg: cfgmod.CentralConfig, args: argparse.Namespace) -> int:
    """The signed key list (design/0065): to a file, or to stdout; enrolled nodes only (design/0097)."""
    try:
        doc = keylist.signed(cfg.storage.data_dir, keylist.central_key(cfg.storage.data_dir), now_us())
    except RegisterError as exc:
        raise UsageError(f"no key list from this register: {exc}") from None
    text = json.dumps(doc, ensure_ascii=False, indent=1, sort_keys=True) + "\n"
    if args.out:
        Path(args.out).write_text(text, encoding="utf-8")
        n = sum(len(x["keys"]) for x in doc["nodes"])
        _out(args, {"out": args.out, "nodes": len(doc["nodes"]), "keys": n,
                    "central_fingerprint": doc["central_fingerprint"]},
             f"{len(doc['nodes'])} nodes, {n} keys written to {args.out}, signed by the central key "
             f"{doc['central_fingerprint']} (publish this fingerprint where sites can read it)")
    else:
        sys.stdout.write(text)
    return 0


def cmd_nodes(cfg: cfgmod.CentralConfig, args: argparse.Namespace) -> int:
    """The office's CA (design/0097): list, accept, revoke, ca, crl."""
    try:
        data, text = nodes.run(cfg.storage.data_dir, args, now_us(), cfg.broker)
    except (nodes.CAError, nodes.RegisterError) as exc:
        raise UsageError(str(exc)) from None
    _out(args, data, text)
    return 0


def cmd_apt(cfg: cfgmod.CentralConfig, args: argparse.Namespace) -> int:
    """The office's APT repository (design/0255): key, publish, list, entry."""
    try:
        data, text = apt_repo.run(cfg.storage.data_dir, args, now_us())
    except apt_repo.AptError as exc:
        raise UsageError(str(exc)) from None
    _out(args, data, text)
    return 0


def cmd_hash_password(_cfg: cfgmod.CentralConfig, _args: argparse.Namespace) -> int:
    """Reads the password (twice on a terminal, once from a pipe) and prints its scrypt hash."""
    import getpass

    if sys.stdin.isatty():
        first = getpass.getpass("password: ")
        if getpass.getpass("again: ") != first:
            raise UsageError("the two passwords differ")
    else:
        first = sys.stdin.readline().rstrip("\n")
    if len(first) < 12:
        raise UsageError("use a password of at least 12 characters")
    print(login.hash_password(first))
    return 0


def cmd_run(cfg: cfgmod.CentralConfig, _args: argparse.Namespace) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    return asyncio.run(_serve(cfg))


async def _serve(cfg: cfgmod.CentralConfig) -> int:
    cfg.open_store().close()  # create the schema before the threads and the dashboard read it
    if cfg.storage.url is None:  # `migrate` refuses while this runs, and names it (design/0211)
        with migrate.running_here(cfg.db_path):
            return await _serving(cfg)
    return await _serving(cfg)


async def _serving(cfg: cfgmod.CentralConfig) -> int:
    from central.pages.dashboard import Dashboard
    from central.ingest import Ingest

    ingest = Ingest(cfg)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    dash = None
    if cfg.dashboard.listen:
        host, port = cfg.dashboard.listen.rsplit(":", 1)
        dash = Dashboard(cfg)
        await dash.start(host, int(port))
        log.info("dashboard on http://%s/", cfg.dashboard.listen)
    ingest.start()
    crl = CrlSchedule(cfg.storage.data_dir, broker=cfg.broker)  # signed once an hour and served as a file (design/0129)
    log.info("edged-central running (%s); store %s", cfg.source,
             _redact(cfg.storage.url) if cfg.storage.url else cfg.db_path)
    try:
        while not stop.is_set() and not ingest.stopping.is_set():
            await crl.tick(now_us())
            try:
                await asyncio.wait_for(stop.wait(), 1.0)
            except TimeoutError:
                pass
    finally:
        await asyncio.to_thread(ingest.stop)
        if dash is not None:
            await dash.close()
    log.info("stopped: %d messages received, %d durable stored, %d verified", ingest.received, ingest.stored,
             ingest.verified)
    return 1 if ingest.error is not None else 0


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="edged-central", description="The central office's fleet verifier for edged.")
    p.add_argument("--config", type=Path, help="TOML config (default: the embedded one, a broker on 127.0.0.1:1883)")
    p.add_argument("--allow-config-secrets", action="store_true",
                   help="accept a password written in the config itself (else refused: put it in [secrets] file)")
    sub = p.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("run", help="subscribe to every node, store every message once, verify")
    r.add_argument("--config", type=Path, dest="config_sub", help=argparse.SUPPRESS)
    s = sub.add_parser("status", help="the fleet: nodes up, cameras recording, open alarms, findings")
    s.add_argument("--site")
    s.add_argument("--json", action="store_true")
    f = sub.add_parser("findings", help="what the verifier found, newest first")
    f.add_argument("--site")
    f.add_argument("--node", metavar="SITE/NODE")
    f.add_argument("--severity", choices=("critical", "warning", "info"))
    f.add_argument("--limit", type=int, default=200)
    f.add_argument("--fail-on-critical", action="store_true", help="exit 1 when a critical finding is listed")
    f.add_argument("--json", action="store_true")
    rep = sub.add_parser("report", help="one site's month of compliance: HTML, CSV and JSON")
    rep.add_argument("--site", required=True)
    rep.add_argument("--month", required=True, metavar="YYYY-MM")
    rep.add_argument("--out", required=True, metavar="DIR")
    rep.add_argument("--lang", metavar="LANG", help="the report's language, zh-TW or en (default: [report] language)")
    rep.add_argument("--json", action="store_true")
    v = sub.add_parser("verify-log", help="check a box's `edgectl audit export` against the heads it published")
    v.add_argument("--node", required=True, metavar="SITE/NODE")
    v.add_argument("file", metavar="FILE")
    v.add_argument("--json", action="store_true")
    a = sub.add_parser("anchor", help="record a signed chain head copied from a printed audit report")
    a.add_argument("line", metavar='"edged-head v1 ..."')
    a.add_argument("--node", metavar="SITE/NODE")
    a.add_argument("--key", help="the node's public key (base64 or PEM text), if it never sent a birth")
    a.add_argument("--json", action="store_true")
    k = sub.add_parser("keys", help="the fleet's node keys (site, node, fingerprint, first and last seen), signed "
                       "by the central office's key, for `edgectl verify --keys`")
    k.add_argument("--out", metavar="FILE", help="write the signed list here (default: standard output)")
    k.add_argument("--json", action="store_true")
    cv = sub.add_parser("coverage", help="a camera's time covered, counted once across the site's boxes, by kind")
    cv.add_argument("--site", required=True)
    cv.add_argument("--camera", required=True)
    cv.add_argument("--hours", type=float, default=24.0, help="the last this many hours (default 24)")
    cv.add_argument("--json", action="store_true")
    hp = sub.add_parser("hash-password", help="read a password and print its hash for [dashboard.accounts.NAME]")
    nd = nodes.register(sub)
    nd += apt_repo.register(sub)
    st = cli_store.register(sub)
    for x in (s, f, rep, v, a, k, cv, hp, *nd, *st):
        x.add_argument("--config", type=Path, dest="config_sub", help=argparse.SUPPRESS)
    for x in (r, s, f, rep, v, a, k, hp, *nd, *st):
        x.add_argument("--allow-config-secrets", action="store_true", dest="allow_sub", help=argparse.SUPPRESS)
    return p


VERBS = {"run": cmd_run, "status": cmd_status, "findings": cmd_findings, "report": cmd_report,
         "verify-log": cmd_verify_log, "anchor": cmd_anchor,
         "keys": cmd_keys, "nodes": cmd_nodes, "apt": cmd_apt, "coverage": cmd_coverage, "hash-password": cmd_hash_password}


STORE_VERBS = ("archive", "restore", "migrate", "backup")  # central/cli_store.py


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    path = getattr(args, "config_sub", None) or args.config
    try:
        cfg = cfgmod.load(path, allow_config_secrets=args.allow_config_secrets or getattr(args, "allow_sub", False))
    except cfgmod.ConfigError as exc:
        print(f"edged-central: bad config: {exc}", file=sys.stderr)
        return cfgmod.EX_CONFIG
    try:
        if args.cmd in STORE_VERBS:
            return int(getattr(cli_store, "cmd_" + args.cmd.replace("-", "_"))(cfg, args, UsageError))
        return VERBS[args.cmd](cfg, args)
    except UsageError as exc:
        print(f"edged-central: {exc}", file=sys.stderr)
        return 2
    except SchemaError as exc:  # a store of another schema version: never migrated by `run` (design/0121)
        print(f"edged-central: {exc}", file=sys.stderr)
        return cfgmod.EX_CONFIG


if __name__ == "__main__":
    name_os_thread("edged-central")
    raise SystemExit(main())
