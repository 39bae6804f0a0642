"""`edged`: the daemon (`edged run`) and `edged check-config`.

`edged run` starts the recorder workers' interpreters before it imports anything heavy, the
config's validation included (design/0025's addendum of 2026-11-22): so edged.config and the
daemon are imported in the functions that need them, not here.
"""

from __future__ import annotations

import argparse
import asyncio
import grp
import logging
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from edged import DEFAULT_CONFIG_PATH, __version__
from edged.cli import argparse_texts
from edged.daemon.recording import prespawn
from edged.daemon.recording.start_signals import StartSignals
from edged.i18n import _, person_language, set_language, set_site_word
from edged.version import package_version, with_package
from storage.process import logs
from storage.lazy import import_hiding

if TYPE_CHECKING:  # `edged run` starts its recorder workers before the config's imports (design/0029)
    from edged.config import Config
    from edged.daemon.recording.prestart import Early

EX_CONFIG = 78  # sysexits.h: systemd's RestartPreventExitStatus stops a restart loop on it
log = logging.getLogger("edged")
DEFAULT_LOCAL_DATA = Path("data")


def resolve_config(path: Path | None, allow_secrets: bool = False) -> tuple[Config, Path | None]:
    """--config, else /etc/edged/edged.toml, else the embedded default into ./data: (Config, path).
    `allow_secrets`: --allow-config-secrets (a password in the config itself is let through)."""
    from edged.config import default_config, load_config

    if path is not None:
        return load_config(path, allow_config_secrets=allow_secrets), path
    if DEFAULT_CONFIG_PATH.exists():
        return load_config(DEFAULT_CONFIG_PATH, allow_config_secrets=allow_secrets), DEFAULT_CONFIG_PATH
    return default_config(DEFAULT_LOCAL_DATA.resolve()), None


def _backup_note(folder: Path | None, data_dir: Path) -> str | None:
    """Catalog copies belong on another disk than the footage (R1.7): say so when they are not."""
    if folder is None:
        return None
    if not folder.is_dir():
        return _("{path} does not exist (yet): maintenance will not begin until it does (is its disk mounted?)").format(
            path=folder)
    if data_dir.exists() and folder.stat().st_dev == data_dir.stat().st_dev:
        return _("{path} is on the same disk as the data folder: a disk failure takes the copy too").format(path=folder)
    return None


def _group_exists(name: str) -> bool:
    try:
        grp.getgrnam(name)
    except KeyError:
        return False
    return True


def main(argv: list[str] | None = None) -> int:
    set_language(person_language(None))  # --help and what check-config and init-data say: the person's (LANG)
    argparse_texts.speak()
    parser = argparse.ArgumentParser(prog="edged", description=_("Evidence-grade CCTV recorder daemon."))
    parser.add_argument("--version", action="version", version=f"edged {with_package(__version__, package_version())}")
    sub = parser.add_subparsers(dest="command", required=True)
    run_p = sub.add_parser("run", help=_("record every configured camera until stopped"))
    run_p.add_argument("--config", type=Path, help=_("config file (default {default_config_path}; without it, a "
                                                     "built-in demo camera is recorded into ./data)").format(
        default_config_path=DEFAULT_CONFIG_PATH))
    run_p.add_argument("-v", "--verbose", action="store_true")
    # The next daemon of an upgrade's handover, started by the running one (design/0353): not for people.
    run_p.add_argument("--handover-fd", type=int, help=argparse.SUPPRESS)
    run_p.add_argument("--init-data", action="store_true",
                       help=_("if the data folder holds no catalog, initialise it (new catalog and node key, on the "
                              "audit record) instead of waiting for the data disk"))
    ini = sub.add_parser("init-data", help=_("initialise an empty data folder: new catalog, identity files and node "
                                             "key (backed up), recorded as the first audit record"))
    ini.add_argument("--config", type=Path, help=_("config file (default {default_config_path})").format(
        default_config_path=DEFAULT_CONFIG_PATH))
    ini.add_argument("--reason", default="", help=_("why (e.g. new installation, disk replaced), for the record"))
    chk = sub.add_parser("check-config", help=_("validate a config file and exit (status 78 if bad)"))
    chk.add_argument("config", type=Path, nargs="?", default=DEFAULT_CONFIG_PATH)
    for p in (run_p, ini, chk):
        p.add_argument("--allow-config-secrets", action="store_true",
                       help=_("accept a password written in the config itself (else refused: it belongs in the "
                              "secrets file, [secrets] file, root's alone)"))
    args = parser.parse_args(argv)

    if args.command == "check-config":
        return check_config(args.config, args.allow_config_secrets)
    if args.command == "init-data":
        return init_data(args)
    signals = StartSignals().catch()  # `edged run`: a stop from here on is a clean stop (design/0205)
    set_language(None)  # the daemon: requests set the asker's language, documents the site's (design/0057)
    logs.setup(args.verbose)
    try:
        return asyncio.run(_run(args.config, args.init_data, signals, args.allow_config_secrets, args.handover_fd))
    except KeyboardInterrupt:
        return 130


def check_config(path: Path, allow_secrets: bool = False) -> int:
    from edged.config import ConfigError, load_config

    try:
        cfg = load_config(path, allow_config_secrets=allow_secrets)
    except ConfigError as exc:
        print(_("edged: bad config: {why}").format(why=exc), file=sys.stderr)
        return EX_CONFIG
    print(_("{path}: OK (site {site}, {n} cameras, data in {data})").format(
        path=path, site=cfg.site.id, n=len(cfg.cameras), data=cfg.storage.data_dir))
    if cfg.control.group is not None and not _group_exists(cfg.control.group):
        print(_("note: control.group: there is no group {group!r} on this system yet (scripts/install makes edgectl); "
                "edged will not start without it").format(group=cfg.control.group))
    note = _backup_note(cfg.maintenance.backup_dir, cfg.storage.data_dir)
    if note:
        print(_("note: maintenance.backup_dir: {note}").format(note=note))
    for field in cfg.inline_secrets:
        print(_("note: {field} holds a password in the config itself: move it to the secrets file ([secrets] file, "
                "root's alone; design/0018)").format(field=field))
    return 0


async def _run(config: Path | None, init_data: bool, signals: StartSignals, allow_secrets: bool = False,
               handover_fd: int | None = None) -> int:
    """The workers first, then the config, then the daemon's imports (design/0029 and 0025's
    addendum): a restart's gap is not spent importing what recording does not need. `handover_fd`:
    the next daemon of a handover (design/0353), which holds its cameras until the running one gives
    each up, then takes the lock the running one lets go."""
    signals.attach()
    steps = prespawn.Steps()
    spares = await prespawn.spawn_idle(config)  # idle until prestart hands them the validated config
    if spares:
        steps.mark("workers spawned")
    try:
        from edged.config import ConfigError
        from edged.daemon.recording import prestart, succession  # light: stdlib and the config
        try:
            cfg, path = resolve_config(config, allow_secrets)
        except ConfigError as exc:
            log.error("bad config: %s", exc)
            return EX_CONFIG
        steps.mark("config")
        set_site_word(cfg.site.us, cfg.site.language, cfg.forms.modes, cfg.forms.kinds)  # every task from here on: its words (0412, 0447)
        if path is None:
            log.info("no config file (%s): recording the built-in demo camera into %s", DEFAULT_CONFIG_PATH,
                     cfg.storage.data_dir)
        for field in cfg.inline_secrets:  # check-config says so too; the unit no longer runs it first
            log.warning("%s holds a password in the config itself: move it to the secrets file (design/0018)",
                        field)
        if signals.stopped:  # nothing opened yet: nothing to close (design/0205)
            log.info("stopped during start-up, before the data folder was opened")
            return 0
        try:
            early = await prestart.start(cfg, spares, hold=handover_fd is not None)
        except prestart.AlreadyRunning as exc:
            log.error("%s", exc)
            return 1
    finally:
        await spares.dismiss()  # those the config did not need (none on a plain restart)
    try:
        early = await _first_pictures(early, cfg.storage.data_dir, signals, steps, handover_fd)
    except succession.Refused as exc:
        log.error("the handover stopped: %s; the running daemon records on", exc)
        return 1
    # sqlite_utils imports numpy whenever it is installed (to name numpy column types, which edged never
    # writes): 15 MB of the daemon's memory for nothing; numpy is the workers' (design/0297)
    import_hiding("sqlite_utils", "numpy")
    from edged import app  # imported late: the workers start first

    steps.mark("daemon imports")
    try:
        return await app.run(cfg, path, init_data=init_data, early=early, steps=steps, allow_secrets=allow_secrets,
                             signals=signals)
    except prestart.AlreadyRunning as exc:  # when the daemon takes the lock itself (no catalog yet)
        log.error("%s", exc)
        return 1
    except ConfigError as exc:  # found only on the box (e.g. control.group missing)
        log.error("bad config: %s", exc)
        return EX_CONFIG


async def _first_pictures(early: Early | None, data_dir: Path, signals: StartSignals, steps: prespawn.Steps,
                          handover_fd: int | None) -> Early | None:
    """Wait for the early workers' first segments, or (the next daemon of a handover) hold the cameras
    until the running daemon gives them up, then take its lock (succession.Refused if it cannot)."""
    if handover_fd is not None:
        from edged.daemon.recording import succession
        early = await succession.take_over(handover_fd, early, data_dir, signals.stop_seen)
        steps.mark("handed over, lock")
    elif early is not None and any(early.workers):
        steps.mark("lock, disk check, cameras sent")
        await early.first_segments(signals.stop_seen)
        steps.mark("cameras' first segments")
    else:
        steps.mark("lock")
    return early


def init_data(args: argparse.Namespace) -> int:
    from edged.config import ConfigError
    from storage import datainit

    try:
        cfg, _path = resolve_config(args.config, args.allow_config_secrets)
    except ConfigError as exc:
        print(_("edged: bad config: {why}").format(why=exc), file=sys.stderr)
        return EX_CONFIG
    try:
        done = datainit.init_data(cfg.storage.data_dir, datainit.operator(), "edged init-data", args.reason)
    except datainit.AlreadyInitialised as exc:
        print(f"edged: {exc}", file=sys.stderr)
        return 1
    print(_("initialised {path}: node key {key} (backup in {backup}), disk identity {disk}; recorded on the audit "
            "chain").format(path=cfg.storage.data_dir, key=done["key_fingerprint"], backup=done["key_backup"],
                            disk=done["disk_id"]))
    if done["footage_files_found"]:
        print(_("note: {n} footage files were already there; edged adopts the recent ones").format(
            n=done["footage_files_found"]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
