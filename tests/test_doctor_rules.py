"""edgectl doctor's judgement and retention --estimate's arithmetic, as plain functions
(design/0077): a healthy box passes, and each failure injected alone is named with its fix."""

from __future__ import annotations

import pytest

from edged.rules import doctor
from edged.rules.estimate import estimate, parse_bitrate
from storage.retention.plan import DAY_US
from storage import alarm_kinds as kinds

GB = 1_000_000_000


def report(rates: dict[str, float], total: int = 1000 * GB, reserve: int = 50 * GB, min_days: int = 30,
           max_days: int = 365) -> dict:
    return {"disk_total": total, "reserve": reserve, "site_min_us": min_days * DAY_US, "site_max_us": max_days * DAY_US,
            "cameras": [{"camera": c, "mode": "continuous", "write_rate_bps": r, "min_us": min_days * DAY_US,
                         "max_us": max_days * DAY_US, "held_bytes": 0} for c, r in rates.items()]}


def healthy() -> dict:
    return {
        "sync": {"synced": True, "source": "adjtimex"},
        "unit": {"active": "active", "restarts": 0, "exposure": 2.1},
        "secrets": {"path": "/etc/edged/secrets.toml", "exists": True, "mode": 0o100600, "uid": 0, "inline": []},
        "mqtt": {"enabled": True, "tls": True},
        "media": {"user": "edged-media", "made": True, "socket": "/run/edged-media.sock", "listening": True},
        "status": {"data_dir": "/srv/edged", "storage": {"state": "ok"}, "broker": "connected", "audit_seq": 120,
                   "audit_published_seq": 120,
                   "enrolment": {"node": "s1/node1", "serial": "4831d7c2", "ca_fingerprint": "SHA256:b5fa"}},
        "disk": {"on_root": False, "mount": "/srv/edged", "source": "/dev/sdb1", "identity": "4f1c2a9e-..."},
        "cameras": [{"id": "gate", "configured": True, "enabled": True, "state": "recording", "compliance": "ok"}],
        "alarms": [],
        "estimate": estimate(report({"gate": 250_000})),  # 2 Mbit/s: 44 days on 950 GB
        "time": {"state": "corroborated", "source": "office", "why": "", "sources": ["office"]},  # design/0095
    }


def test_a_healthy_box_passes_every_check():
    checks = doctor.judge(healthy())
    assert [c.status for c in checks] == ["pass"] * len(checks), checks
    assert {c.id for c in checks} == {"clock", "unit", "secrets", "media", "disk", "space", "camera:gate", "broker", "audit",
                                      "inspections", "enrolment", "time"}
    assert doctor.exit_status(checks) == 0 and doctor.as_json(checks)["status"] == "pass"


def _set(facts: dict, path: str, value) -> dict:
    *parents, last = path.split(".")
    node = facts
    for key in parents:
        node = node[int(key)] if isinstance(node, list) else node[key]
    node[last] = value
    return facts


@pytest.mark.parametrize("path, value, check, status, fix", [
    ("sync.synced", False, "clock", "fail", "timedatectl set-ntp true"),
    ("status.enrolment", None, "enrolment", "warn", "edgectl enrol --out req.pem"),
    ("sync.synced", None, "clock", "warn", "timedatectl status"),
    ("unit.active", "failed", "unit", "fail", "systemctl restart edged"),
    ("unit.restarts", 3, "unit", "warn", "journalctl -u edged"),
    ("unit.exposure", 8.3, "unit", "warn", "systemd-analyze security edged"),
    ("media.made", False, "media", "warn", "systemd-sysusers edged.conf"),   # design/0323
    ("media.listening", False, "media", "warn", "systemctl enable --now edged-media.socket"),
    ("media", None, "media", "warn", "systemd-sysusers edged.conf"),
    ("secrets.mode", 0o100644, "secrets", "fail", "chmod 600 /etc/edged/secrets.toml"),
    ("secrets.uid", 1000, "secrets", "fail", "chown root:root"),
    ("secrets.inline", ["cameras[0].url"], "secrets", "fail", "secrets file"),
    ("disk.on_root", True, "disk", "fail", "mount the data disk"),
    ("disk.identity", None, "disk", "warn", "edged init-data"),
    ("status.storage", {"state": "lost"}, "disk", "fail", "mount the data disk"),
    ("estimate", estimate(report({"gate": 250_000}, total=600 * GB)), "space", "fail", "retention --estimate"),
    ("cameras.0.state", "offline", "camera:gate", "fail", "camera probe"),
    ("cameras.0.compliance", "fail", "camera:gate", "fail", "edgectl cameras"),
    ("status.broker", "connecting", "broker", "fail", "edgectl status"),
    ("mqtt.tls", False, "broker", "warn", "[mqtt.tls]"),
    ("mqtt.enabled", False, "broker", "warn", "[mqtt]"),
    ("status.audit_published_seq", 10, "audit", "warn", "edgectl status"),
    ("alarms", [{"kind": kinds.INSPECTION_OVERDUE.name, "text": "the daily inspection is overdue"}], "inspections", "warn",
     "edgectl inspect"),
    # design/0095: a site with nothing to corroborate its clock says so; a source that disagrees fails
    ("time", {"state": "unheard", "why": "no source", "source": "", "sources": []}, "time", "warn", "command_key"),
    ("time", {"state": "disagrees", "why": "2.0 years ahead", "source": "office", "sources": ["office"]}, "time",
     "fail", "chronyc tracking"),
])
def test_each_failure_alone_is_named_with_its_fix(path, value, check, status, fix):
    checks = doctor.judge(_set(healthy(), path, value))
    bad = [c for c in checks if c.status != "pass"]
    assert [(c.id, c.status) for c in bad] == [(check, status)] or (check == "broker" and path == "mqtt.enabled")
    mine = next(c for c in bad if c.id == check)
    assert fix in mine.fix
    assert doctor.exit_status(checks) == {"warn": 1, "fail": 2}[status]


def test_no_daemon_is_a_failure_and_the_local_checks_still_run():
    facts = {**healthy(), "status": None, "daemon_error": "edged is not running"}
    checks = doctor.judge(facts)
    assert [c.id for c in checks] == ["clock", "unit", "secrets", "media", "daemon"]
    assert checks[-1].status == "fail" and "systemctl start edged" in checks[-1].fix


def test_estimate_days_breach_and_disk_needed():
    # two cameras at 4 and 8 Mbit/s measured, a new one given at 2 Mbit/s, on a 2 TB disk with 5 % reserve
    rep = report({"gate": 500_000, "hall": 1_000_000}, total=2000 * GB, reserve=100 * GB)
    est = estimate(rep, {"yard": parse_bitrate("2M")})
    by = {c["camera"]: c for c in est["cameras"]}
    assert by["yard"]["rate_from"] == "given" and by["gate"]["rate_from"] == "measured"
    # 1900 GB over 1.75 MB/s: every camera the same age, about 12.6 days, below the 30-day minimum
    assert by["gate"]["days"] == pytest.approx(1900 * GB / 1_750_000 / 86400, rel=1e-3)
    assert all(c["breached"] for c in est["cameras"]) and not est["enough"]
    # every minimum with a 10 % margin, and the 5 % reserve on top
    need = 1_750_000 * 30 * 86400 * 1.1 / 0.95
    assert est["disk_needed"] == pytest.approx(need, rel=1e-6)
    big = estimate(rep, {"yard": 2e6}, disk_total=int(need) + GB)
    assert big["enough"] and not any(c["breached"] for c in big["cameras"])
    assert parse_bitrate("2500k") == 2.5e6 and parse_bitrate("4Mbit/s") == 4e6
    with pytest.raises(ValueError):
        parse_bitrate("fast")


def test_estimate_names_a_camera_without_a_figure():
    est = estimate(report({"gate": 250_000, "new": 0.0}))
    assert est["no_rate"] == ["new"]
    checks = doctor.judge({**healthy(), "estimate": est})
    assert next(c for c in checks if c.id == "space").status == "warn"
