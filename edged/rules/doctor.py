"""`edgectl doctor`'s judgement (design/0077): the facts edged/cli/doctor.py gathers about the box
and the daemon, turned into one page of checks, each pass / warn / fail with the command that
fixes it. Pure: a dict of facts in, a list of checks out; a fact that could not be gathered is
None and judged as such (a check never passes on no evidence).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from edged.i18n import _
from storage import alarm_kinds as kinds

PASS, WARN, FAIL = "pass", "warn", "fail"
EXIT = {PASS: 0, WARN: 1, FAIL: 2}
EXPOSURE_WARN = 5.0     # systemd-analyze security: above this the unit is "exposed" (edged's unit scores ~2)
AUDIT_BEHIND = 50       # audit records not yet taken by the broker before it is worth a warning


@dataclass(frozen=True, slots=True)
class Check:
    id: str
    status: str
    detail: str
    fix: str | None = None


def exit_status(checks: list[Check]) -> int:
    return max((EXIT[c.status] for c in checks), default=0)


def judge(f: dict[str, Any]) -> list[Check]:
    out = [_clock(f.get("sync")), _unit(f.get("unit"))]
    out += [_secrets(f.get("secrets")), _media(f.get("media"))]
    status = f.get("status")
    if status is None:
        out.append(Check("daemon", FAIL, _("edged is not answering: {why}").format(why=f.get("daemon_error") or "?"),
                         "systemctl start edged; journalctl -u edged -n 50"))
        return out
    out += [_disk(status, f.get("disk")), _space(f.get("estimate")), _corroboration(f.get("time"))]
    out += _cameras(f.get("cameras") or [])
    out += [_broker(status, f.get("mqtt") or {}), _audit(status, f.get("mqtt") or {}), _due(f.get("alarms") or [])]
    out.append(_enrolment(status))
    return out


def _enrolment(status: dict[str, Any]) -> Check:
    """The box's certificate from the office's CA (design/0097): without it, no court can tell
    which node made an export."""
    e = status.get("enrolment")
    if not e:
        return Check("enrolment", WARN, _("not enrolled with the central office's CA: exports carry no certificate"),
                     "edgectl enrol --out req.pem; at the office: edged-central nodes accept; then edgectl enrol "
                     "--install bundle.pem")
    return Check("enrolment", PASS, _("enrolled as {node} (certificate {serial}) under the CA {ca}").format(
        node=e.get("node"), serial=str(e.get("serial"))[:16], ca=e.get("ca_fingerprint")))


def _clock(sync: dict[str, Any] | None) -> Check:
    if not sync or sync.get("synced") is None:
        return Check("clock", WARN, _("cannot tell whether the host clock is synchronised"), "timedatectl status")
    if sync["synced"]:
        return Check("clock", PASS, _("host clock synchronised ({source})").format(source=sync.get("source")))
    return Check("clock", FAIL, _("host clock NOT synchronised: footage times cannot be trusted"),
                 "timedatectl set-ntp true  (or configure chrony), then: timedatectl timesync-status")


def _corroboration(t: dict[str, Any] | None) -> Check:
    """design/0095: what corroborates the host clock before footage is destroyed by age."""
    if not t:
        return Check("time", WARN, _("cannot tell what corroborates the host clock (an older edged)"), "edgectl status")
    if t.get("state") == "corroborated":
        return Check("time", PASS, _("host clock corroborated by {source}").format(source=t.get("source")))
    if not t.get("sources"):
        return Check("time", WARN, _("this site has no source to corroborate the host clock with (no signed time from "
                                     "the central office and no NTS; cameras never vouch): footage goes by age only as "
                                     "fast as time is measured on the box"),
                     "set [mqtt] command_key and connect the office, or chrony with NTS (docs/guide/retention.md)")
    if t.get("state") == "disagrees":
        return Check("time", FAIL, _("the host clock is NOT corroborated: {why}").format(why=t.get("why")),
                     "timedatectl; chronyc tracking")
    return Check("time", WARN, _("the host clock is not corroborated now: {why}").format(why=t.get("why")),
                 "edgectl alarms; check the broker and the cameras")


def _unit(unit: dict[str, Any] | None) -> Check:
    if not unit or unit.get("active") is None:
        return Check("unit", WARN, _("edged is not run by systemd here (no edged.service)"),
                     "scripts/install  (installs and enables edged.service)")
    if unit["active"] != "active":
        return Check("unit", FAIL, _("edged.service is {state}").format(state=unit["active"]),
                     "systemctl restart edged; journalctl -u edged -n 50")
    words = _("edged.service active, {n} restarts").format(n=unit.get("restarts") or 0)
    exposure = unit.get("exposure")
    if exposure is not None:
        words += ", " + _("exposure {score:.1f}").format(score=exposure)
    if (unit.get("restarts") or 0) > 0 or (exposure is not None and exposure > EXPOSURE_WARN):
        return Check("unit", WARN, words, "journalctl -u edged -b; systemd-analyze security edged")
    return Check("unit", PASS, words)


def _media(m: dict[str, Any] | None) -> Check:
    """design/0323: the workers that parse media run as the media user, who cannot read the node key."""
    user, sock = (m or {}).get("user") or "edged-media", (m or {}).get("socket") or "/run/edged-media.sock"
    if not m or not m.get("made"):
        return Check("media", WARN, _("media workers run as edged, who can read the node key: there is no account "
                                      "{user}").format(user=user),
                     "systemd-sysusers edged.conf; systemctl enable --now edged-media.socket; systemctl restart edged")
    if not m.get("listening"):
        return Check("media", WARN, _("media workers run as edged, who can read the node key: {socket} is not "
                                      "listening").format(socket=sock), "systemctl enable --now edged-media.socket")
    return Check("media", PASS, _("media workers run as {user}, who cannot read the node key").format(user=user))


def _secrets(s: dict[str, Any] | None) -> Check:
    if s is None:
        return Check("secrets", WARN, _("no config read: the secrets file was not checked"), "edgectl doctor --config F")
    if s.get("inline"):
        return Check("secrets", FAIL, _("passwords in the config itself: {fields}").format(fields=", ".join(s["inline"])),
                     _("move them to the secrets file ([secrets] file, design/0018)"))
    if not s.get("path"):
        return Check("secrets", PASS, _("no secrets file named, and no password in the config"))
    if not s.get("exists"):
        return Check("secrets", FAIL, _("the secrets file {path} is missing").format(path=s["path"]),
                     f"install -m 600 -o root -g root /dev/null {s['path']}")
    if s["mode"] & 0o077 or s["uid"] != 0:
        return Check("secrets", FAIL, _("the secrets file {path} is readable by others (mode {mode:o}, owner uid {uid})")
                     .format(path=s["path"], mode=s["mode"] & 0o777, uid=s["uid"]),
                     f"chown root:root {s['path']}; chmod 600 {s['path']}")
    return Check("secrets", PASS, _("the secrets file {path} is root's alone (0600)").format(path=s["path"]))


def _disk(status: dict[str, Any], disk: dict[str, Any] | None) -> Check:
    where = status.get("data_dir")
    if (status.get("storage") or {}).get("state") == "lost" or status.get("state") == "waiting":
        return Check("disk", FAIL, _("the data disk is not there ({dir})").format(dir=where),
                     "mount the data disk (findmnt; journalctl -u edged), then: edgectl status")
    if not disk:
        return Check("disk", WARN, _("the data folder {dir} could not be looked at").format(dir=where), f"findmnt -T {where}")
    if disk.get("on_root"):
        return Check("disk", FAIL, _("the data folder {dir} is on the root filesystem, not a data disk of its own")
                     .format(dir=where), _("mount the data disk at {dir} (docs/guide/deploy.md)").format(dir=where))
    if not disk.get("identity"):
        return Check("disk", WARN, _("the data disk {dir} carries no identity file").format(dir=where),
                     "edged init-data  (on a new, empty disk)")
    return Check("disk", PASS, _("data disk {source} mounted at {mount}, identity {id}").format(
        source=disk.get("source") or "?", mount=disk.get("mount") or where, id=str(disk["identity"])[:8]))


def _space(est: dict[str, Any] | None) -> Check:
    if est is None:
        return Check("space", WARN, _("no retention estimate"), "edgectl retention --estimate")
    short = [c["camera"] for c in est["cameras"] if c["breached"]]
    if short or not est["enough"]:
        return Check("space", FAIL, _("the disk does not keep every minimum at the last day's rates (short: {cams})")
                     .format(cams=", ".join(short) or "-"), "edgectl retention --estimate")
    if est.get("no_rate"):
        return Check("space", WARN, _("no bitrate yet for {cams}").format(cams=", ".join(est["no_rate"])),
                     "edgectl retention --estimate --bitrate CAMERA=4M")
    return Check("space", PASS, _("the disk keeps every camera's minimum at the last day's rates"))


def _cameras(rows: list[dict[str, Any]]) -> list[Check]:
    out = []
    for r in rows:
        if not r.get("configured", True) or not r.get("enabled", True):
            continue
        cid = f"camera:{r['id']}"
        if r["state"] not in ("recording", "degraded"):
            out.append(Check(cid, FAIL, _("{cam} is {state}: {why}").format(cam=r["id"], state=r["state"],
                                                                        why=r.get("last_error") or "-"),
                             f"edgectl cameras; edgectl camera probe <address of {r['id']}>"))
        elif r.get("compliance") == "fail":
            out.append(Check(cid, FAIL, _("{cam} records BELOW the quality floor: {why}").format(
                cam=r["id"], why="; ".join(r.get("compliance_reasons") or [])), "edgectl cameras; edgectl alarms"))
        elif r["state"] == "degraded" or r.get("compliance") != "ok":
            conds = "; ".join(((r.get("health") or {}).get("conditions") or {}).values())
            out.append(Check(cid, WARN, _("{cam} records, floor {floor}: {why}").format(
                cam=r["id"], floor=r.get("compliance") or "unknown", why=conds or "-"), "edgectl cameras"))
        else:
            out.append(Check(cid, PASS, _("{cam} recording, meets the floor").format(cam=r["id"])))
    if not out:
        out.append(Check("cameras", FAIL, _("no camera is configured"), "edgectl camera probe HOST --user admin"))
    return out


def _broker(status: dict[str, Any], mqtt: dict[str, Any]) -> Check:
    if not mqtt.get("enabled"):
        return Check("broker", WARN, _("no broker configured: the central office hears nothing from this box"),
                     _("set [mqtt] in the config (docs/guide/deploy.md)"))
    state = status.get("broker")
    if state != "connected":
        return Check("broker", FAIL, _("the broker is {state}").format(state=state or "unknown"),
                     "edgectl status; journalctl -u edged | grep MQTT")
    if not mqtt.get("tls"):
        return Check("broker", WARN, _("connected to the broker without TLS"), _("set [mqtt.tls] in the config"))
    return Check("broker", PASS, _("connected to the broker over TLS"))


def _audit(status: dict[str, Any], mqtt: dict[str, Any]) -> Check:
    head, sent = status.get("audit_seq"), status.get("audit_published_seq")
    if head is None:
        return Check("audit", WARN, _("no audit record yet"), "edgectl audit verify")
    if not mqtt.get("enabled"):
        return Check("audit", WARN, _("audit head {seq} is not published (no broker): print it on paper").format(
            seq=head), "edgectl audit report")
    behind = head - (sent or 0)
    if behind > AUDIT_BEHIND:
        return Check("audit", WARN, _("the broker has taken audit records up to {sent} of {seq}").format(
            sent=sent or 0, seq=head), "edgectl status; edgectl alarms")
    return Check("audit", PASS, _("audit head {seq} published").format(seq=head))


def _due(alarms: list[dict[str, Any]]) -> Check:
    overdue = (kinds.INSPECTION_OVERDUE.name, kinds.REGISTER_OVERDUE.name)
    due = [a for a in alarms if a.get("kind") in overdue and not a.get("cleared_us")]
    if due:
        return Check("inspections", WARN, "; ".join(a.get("text") or a.get("message") or a["kind"] for a in due),
                     "edgectl inspect; edgectl inspect report")
    return Check("inspections", PASS, _("no inspection or register overdue"))


def as_json(checks: list[Check]) -> dict[str, Any]:
    return {"status": {0: PASS, 1: WARN, 2: FAIL}[exit_status(checks)], "checks": [asdict(c) for c in checks]}
