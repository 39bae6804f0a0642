"""What the central office concludes from one node's messages: pure functions over plain data
(no store, no clock), each returning findings. The shell that feeds them is central/verifier.py;
the trust model they implement is design/0026.

The audit hash is storage/audit.py's own function (``record_hash``), reused rather than copied,
so the central office can never drift from what the box computes; the head signature is
storage/keys/chainhead.py's.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

from central.i18n import N_
from storage import audit
from storage.keys import chainhead
from storage.msg import FOREIGN, Msg

CRITICAL, WARNING, INFO = "critical", "warning", "info"
# access records and whether each needs a grant: a viewing (playback) and a copy (export) do
ACCESS_ACTIONS = ("grant.use", "export.done", "playback.start")


@dataclass(frozen=True, slots=True)
class Finding:
    kind: str
    severity: str
    message: str                  # a Msg (storage/msg.py): its English kept, its template said to readers
    key: str                      # unique per node: the same fact found twice is stored once
    about_us: int | None = None   # when the thing happened (not when it was found)
    detail: dict[str, Any] = field(default_factory=dict)


# sequence numbers -----------------------------------------------------------------------------
def gap(after: int, got: int, resend: str = "") -> Finding | None:
    """The per-node seq jumped from ``after`` to ``got``: messages after+1 .. got-1 are lost;
    ``resend``: what came of asking the node for them again (central/verifier.py), if asked."""
    if after <= 0 or got <= after + 1:
        return None
    first, last = after + 1, got - 1
    n = last - first + 1
    why = (Msg(N_(" (a jump this large means the node's outbox was started afresh: a lost or replaced disk)"))
           if n > 10_000_000 else resend or Msg(N_("; ask the node for a rebirth and check its outbox")))
    return Finding("seq_gap", WARNING, Msg(N_("messages {first} to {last} were never received ({count} lost){then}"),
                                           first=first, last=last, count=n, then=why),
                   f"seq_gap:{first}", detail={"first": first, "last": last, "count": n})


def resend_answered(reply: dict[str, Any], first: int, last: int) -> str | None:
    """The node's answer to the office's resend of first..last: None when it put them back in line
    (wait for them), else the words for the gap's finding (it refused, or no longer has them)."""
    if not reply.get("ok"):
        return Msg(N_("; the node refused to send them again: {error}"), **{FOREIGN: str(reply.get('error'))[:200]})
    result = reply.get("result")
    result = result if isinstance(result, dict) else {}
    missing = [r for r in result.get("missing") or [] if isinstance(r, list) and len(r) == 2
               and all(isinstance(v, int) for v in r)]
    gone = sum(min(b, last) - max(a, first) + 1 for a, b in missing if b >= first and a <= last)
    if gone >= last - first + 1:
        days = result.get("history_days")
        kept = Msg(N_(" (it keeps {days} days)"), days=days) if isinstance(days, (int, float)) else ""
        return Msg(N_("; the node no longer has them{kept}"), kept=kept)
    return None


def unanswered(tries: int, answered: bool) -> Msg:
    """The words for a gap's finding when the node was asked ``tries`` times for it in vain."""
    if answered:
        return Msg(N_("; the node was asked {tries} times to send them again and did, but they did not arrive"),
                   tries=tries)
    return Msg(N_("; the node was asked {tries} times to send them again and did not answer"), tries=tries)


def not_asked() -> Msg:
    """The words for a gap's finding when the office could not ask the node (no broker connection)."""
    return Msg(N_("; the office could not ask the node to send them again (no broker connection)"))


def late(first: int, last: int, count: int, arrived: int) -> Finding:
    """A gap reported lost (``gap``) of which ``arrived`` messages have come since: still a
    seq_gap while any is missing, a seq_late (information: nothing lost) when none is."""
    detail = {"first": first, "last": last, "count": count, "arrived_late": arrived}
    if arrived >= count:
        return Finding("seq_late", INFO, Msg(N_("messages {first} to {last} came late ({count} held back, none lost)"),
                                             first=first, last=last, count=count), f"seq_gap:{first}", detail=detail)
    return Finding("seq_gap", WARNING, Msg(N_("messages {first} to {last}: {missing} never received, {arrived} came "
                                              "late; ask the node for a rebirth and check its outbox"),
                                           first=first, last=last, missing=count - arrived, arrived=arrived),
                   f"seq_gap:{first}", detail=detail)


# births ---------------------------------------------------------------------------------------
def birth_changes(prev: dict[str, Any] | None, new: dict[str, Any]) -> list[Finding]:
    """A new (or republished) birth against the one before it."""
    if prev is None:
        return []
    out: list[Finding] = []
    ts = new.get("ts_us")
    sess_old, sess_new = prev.get("session"), new.get("session")
    new_session = isinstance(sess_new, int) and isinstance(sess_old, int) and sess_new > sess_old
    if isinstance(sess_new, int) and isinstance(sess_old, int) and sess_new < sess_old:
        out.append(Finding("session_regressed", CRITICAL,
                           Msg(N_("the start counter went back from {before} to {after}: the node's catalog was "
                                  "replaced or restored from an older copy"), before=sess_old, after=sess_new),
                           f"session_regressed:{ts}", ts,
                           {"before": sess_old, "after": sess_new}))
    k_old, k_new = prev.get("public_key"), new.get("public_key")
    if k_old and k_new and k_old != k_new:
        if new_session:
            out.append(Finding("key_changed", WARNING,
                               Msg(N_("the node key changed at restart {session}: exports and heads signed before "
                                      "name the old key; confirm the box was replaced or re-keyed on purpose"),
                                   session=sess_new),
                               f"key_changed:{ts}", ts, {"before": k_old, "after": k_new}))
        else:
            out.append(Finding("key_changed_without_birth", CRITICAL,
                               Msg(N_("the node key changed without a restart (start counter still {session}): "
                                      "another key is speaking for this node"), session=sess_new),
                               f"key_changed_without_birth:{ts}", ts,
                               {"before": k_old, "after": k_new}))
    if prev.get("config_hash") != new.get("config_hash"):
        out.append(Finding("config_changed", INFO, Msg(N_("config changed ({before} -> {after})"),
                                                       before=str(prev.get('config_hash'))[:12],
                                                       after=str(new.get('config_hash'))[:12]), f"config_changed:{ts}", ts,
                           {"before": prev.get("config_hash"), "after": new.get("config_hash")}))
    cams: Callable[[dict[str, Any]], set[str]] = lambda b: {  # noqa: E731
        str(c.get("id")) for c in b.get("cameras") or [] if isinstance(c, dict)}
    added, removed = sorted(cams(new) - cams(prev)), sorted(cams(prev) - cams(new))
    if added or removed:
        said = [Msg(N_("added: {cameras}"), cameras=", ".join(added)) if added else None,
                Msg(N_("removed: {cameras}"), cameras=", ".join(removed)) if removed else None]
        what = [x for x in said if x is not None]
        out.append(Finding("cameras_changed", INFO, Msg(N_("cameras {changes}"), changes=what[0]) if len(what) == 1 else
                           Msg(N_("cameras {added}; {removed}"), added=what[0], removed=what[1]),
                           f"cameras_changed:{ts}", ts, {"added": added, "removed": removed}))
    out += retention_lowered(prev, new)
    if prev.get("version") != new.get("version"):
        out.append(Finding("software_changed", INFO, Msg(N_("edged {before} -> {after}"), before=prev.get('version'),
                                                         after=new.get('version')),
                           f"software_changed:{ts}", ts))
    return out


# retention rules in births (R1.3-R1.5) ----------------------------------------------------------
def _days(v: Any) -> float | None:
    return float(v) if isinstance(v, (int, float)) and not isinstance(v, bool) and v == v else None


def retention_rules(birth: dict[str, Any] | None) -> dict[str, Any]:
    """The retention a birth announces: {"min_days", "max_days", "cameras": {id: (min, max)},
    "short": allow_short_for_tests}; a per-camera entry holds both of that camera's limits
    (edged/daemon/reporting.py). Anything not a number is None (unknown)."""
    r = (birth or {}).get("retention")
    r = r if isinstance(r, dict) else {}
    cams: dict[str, Any] = r["cameras"] if isinstance(r.get("cameras"), dict) else {}
    return {"min_days": _days(r.get("min_days")), "max_days": _days(r.get("max_days")),
            "cameras": {str(c): (_days(v.get("min_days")), _days(v.get("max_days")))
                        for c, v in cams.items() if isinstance(v, dict)},
            "short": r.get("allow_short_for_tests") is True}


def limits(rules: dict[str, Any], camera: str | None) -> tuple[float | None, float | None]:
    """(min days, max days) in force for one camera under ``rules`` (retention_rules)."""
    own = rules["cameras"].get(camera) if camera is not None else None
    if own is None:
        return rules["min_days"], rules["max_days"]
    return (own[0] if own[0] is not None else rules["min_days"], own[1] if own[1] is not None else rules["max_days"])


def in_force(births: list[tuple[int, dict[str, Any]]], at_us: int) -> tuple[int | None, dict[str, Any]]:
    """The rules of the birth in force at ``at_us``: ``births`` are (ts_us, rules) of one node in
    ts_us order, a birth's ts_us being when the node set that config (start or reload). Before the
    first birth known, the first one's rules (the oldest known: nothing older was received)."""
    if not births:
        return None, retention_rules(None)
    chosen = births[0]
    for b in births:
        if b[0] > at_us:
            break
        chosen = b
    return chosen


def retention_lowered(prev: dict[str, Any], new: dict[str, Any]) -> list[Finding]:
    """A birth whose minimum or maximum (the site's or a camera's) is below the one before: a rule
    that lets footage go sooner. A warning (design/0026): lawful when the rules changed, and the
    node keeps a lowered maximum's old value for its grace, so there is time to ask; the
    destructions that follow are judged against it (critical when early)."""
    a, b = retention_rules(prev), retention_rules(new)
    ids: set[str] = {c["id"] for x in (prev, new) for c in (x["cameras"] if isinstance(x.get("cameras"), list) else [])
                     if isinstance(c, dict) and isinstance(c.get("id"), str)} | set(a["cameras"]) | set(b["cameras"])
    changes: list[dict[str, Any]] = []
    for cam in [None, *sorted(ids)]:
        old, now = limits(a, cam), limits(b, cam)
        if cam is not None and (old, now) == (limits(a, None), limits(b, None)):
            continue  # follows the site's: said once for the site
        for name, was, is_ in (("min_days", old[0], now[0]), ("max_days", old[1], now[1])):
            if was is not None and is_ is not None and is_ < was:
                changes.append({"camera": cam, "setting": name, "old": was, "new": is_})
    if not changes:
        return []
    ts = new.get("ts_us")
    grace = (new.get("retention") or {}).get("grace_hours") if isinstance(new.get("retention"), dict) else None
    return [Finding("retention_lowered", WARNING, Msg(
        N_("retention lowered ({changes}): footage may be destroyed sooner{grace}; confirm the change was ordered"),
        changes=_changes(changes), grace=Msg(N_("; the node keeps a lowered maximum's old value for its grace of {hours} h"),
                                             hours=f"{grace:g}") if isinstance(grace, (int, float)) else ""),
        f"retention_lowered:{ts}", ts if isinstance(ts, int) else None, {"changes": changes})]


_LOWERED = {(True, "min_days"): N_("site minimum {old} -> {new} days"),
            (True, "max_days"): N_("site maximum {old} -> {new} days"),
            (False, "min_days"): N_("camera {camera} minimum {old} -> {new} days"),
            (False, "max_days"): N_("camera {camera} maximum {old} -> {new} days")}


def _changes(changes: list[dict[str, Any]]) -> Msg:
    """The lowered settings, "; " between them: each a Msg, nested so that each is said whole."""
    said = [Msg(_LOWERED[(c["camera"] is None, c["setting"])], old=f"{c['old']:g}", new=f"{c['new']:g}",
                **({} if c["camera"] is None else {"camera": c["camera"]})) for c in changes]
    out = said[-1]
    for one in reversed(said[:-1]):
        out = Msg(N_("{one}; {rest}"), one=one, rest=out)
    return out


def birth_rules(birth: dict[str, Any]) -> list[Finding]:
    """What one birth says by itself, the first one included: a node running with the test
    setting `allow_short_for_tests` (critical: it lets the node destroy footage an hour old with
    a second's grace, below every floor of R1.3-R1.5; no real site runs with it); a node with
    nothing to corroborate its clock with (design/0095: `time_sources` is [])."""
    ts = birth.get("ts_us")
    out = []
    if birth.get("time_sources") == []:
        out.append(Finding("time_sources_none", WARNING, Msg(N_(
            "the node has nothing to corroborate its clock with (no command_key for the office's signed time, no "
            "NTS, fewer than two cameras with clocks): its destructions by age follow its own clock, within a budget")),
                           f"time_sources_none:{birth.get('config_hash')}", ts if isinstance(ts, int) else None))
    if not retention_rules(birth)["short"]:
        return out
    return out + [Finding("test_retention_allowed", CRITICAL, Msg(N_(
        "the node runs with [retention] allow_short_for_tests = true: a test setting that lets it keep footage under "
        "a day with almost no grace; remove it")),
                    f"test_retention_allowed:{birth.get('config_hash')}", ts if isinstance(ts, int) else None)]


# the audit chain ------------------------------------------------------------------------------
def record_body(m: dict[str, Any]) -> dict[str, Any]:
    return {"seq": m["seq_local"], "at_us": m["at_us"], "actor": m["actor"], "action": m["action"],
            "detail": m.get("detail") or {}}


def check_record(m: dict[str, Any], *, before: str | None, known: str | None) -> list[Finding]:
    """An audit record as received. ``before``: the hash record seq-1 was received with (None if
    not received); ``known``: the hash this record was received with earlier (None if new)."""
    seq = m["seq_local"]
    out: list[Finding] = []
    if audit.record_hash(m["prev_hash"], record_body(m)) != m["hash"] or (seq == 1 and m["prev_hash"] != audit.GENESIS):
        out.append(Finding("audit_record_altered", CRITICAL, Msg(N_("audit record {seq} does not match its own hash: "
                                                                    "it was altered after it was hashed"), seq=seq),
                           f"audit_record_altered:{seq}:{m['hash'][:16]}",
                           m.get("at_us"), {"seq_local": seq}))
    if known is not None and known != m["hash"]:
        out.append(Finding("audit_fork", CRITICAL, Msg(N_("audit record {seq} arrived again with another hash ({before} "
                                                          "before, {now} now): the node's log was rewritten"),
                                                       seq=seq, before=known[:16], now=m['hash'][:16]),
                           f"audit_fork:record:{seq}:{m['hash'][:16]}", m.get("at_us"),
                           {"seq_local": seq, "received": known, "now": m["hash"]}))
    elif before is not None and m["prev_hash"] != before:
        out.append(Finding("audit_fork", CRITICAL, Msg(N_("audit record {seq} does not follow record {prev} as it was "
                                                          "received ({before}): the node's log was rewritten before it"),
                                                       seq=seq, prev=seq - 1, before=before[:16]),
                           f"audit_fork:prev:{seq}:{m['hash'][:16]}", m.get("at_us"),
                           {"seq_local": seq, "received_prev": before, "claimed_prev": m["prev_hash"]}))
    return out


def check_head(head: dict[str, Any], *, site: str, name: str, key: str | None, record_hash: str | None,
               last: dict[str, Any] | None) -> tuple[bool, list[Finding]]:
    """A signed head ({seq, hash, at_us, sig}) against the node key (from its birth), the record
    with that seq as received, and the previous valid head. (signature valid, findings)."""
    seq, digest = head["seq"], head["hash"]
    at = head.get("at_us")
    if not key:
        return False, [Finding("head_unverifiable", WARNING, Msg(N_("chain head {seq} came before any birth with the "
                                                                    "node key: its signature cannot be checked"), seq=seq),
                               f"head_unverifiable:{seq}:{at}", at)]
    if not chainhead.check(key, site, name, head):
        return False, [Finding("head_bad_signature", CRITICAL, Msg(N_(
            "chain head {seq} ({hash}) is not signed by the node key of the birth: forged, or signed by another key"),
            seq=seq, hash=digest[:16]),
                               f"head_bad_signature:{seq}:{at}", at, {"head": head})]
    out: list[Finding] = []
    if record_hash is not None and record_hash != digest:
        out.append(Finding("audit_fork", CRITICAL, Msg(N_("chain head {seq} names hash {hash}, but record {seq} was "
                                                          "received with {received}: the node's log was rewritten"),
                                                       seq=seq, hash=digest[:16], received=record_hash[:16]),
                           f"audit_fork:head:{seq}:{digest[:16]}", at, {"seq_local": seq, "received": record_hash,
                                                                       "head": digest}))
    if last is not None:
        if seq < last["seq"]:
            out.append(Finding("audit_head_regressed", CRITICAL, Msg(N_(
                "chain head {seq} is behind head {before} published before: records were removed from the node's log"),
                seq=seq, before=last['seq']),
                               f"audit_head_regressed:{seq}:{at}", at, {"before": last["seq"], "now": seq}))
        elif seq == last["seq"] and digest != last["hash"]:
            out.append(Finding("audit_fork", CRITICAL, Msg(N_("chain head {seq} was published before with hash {before}, "
                                                              "now with {now}: the node's log was rewritten"),
                                                           seq=seq, before=last['hash'][:16], now=digest[:16]),
                               f"audit_fork:head:{seq}:{digest[:16]}", at, {"seq_local": seq, "before": last["hash"],
                                                                           "now": digest}))
    return True, out


# the ethics office (design/0083) ------------------------------------------------------------
def ethics(seq: int, m: dict[str, Any]) -> Finding:
    """A request flagged major or abnormal on the node (002 §13, 003 §10): reported to the ethics
    office at once; the node prints the report (`edgectl request ethics-report ID`)."""
    rid = m["request"]
    what = ", ".join(str(x) for x in (m.get("kind"), m.get("category")) if x)
    cams = ", ".join(str(c) for c in m.get("cameras") or [])
    return Finding("ethics", CRITICAL, Msg(N_("request {request}{what} flagged {flag} by {who}{cameras}: report it to "
                                              "the ethics office; the node prints the report with `edgectl request "
                                              "ethics-report {request}`"),
                                           request=rid, what=f" ({what})" if what else "", flag=m['flag'],
                                           who=account(m.get('actor')),
                                           cameras=Msg(N_(" on camera(s) {cameras}"), cameras=cams) if cams else ""),
                   f"ethics:{rid}:{m.get('audit_seq') or seq}", m.get("at_us") or m.get("ts_us"),
                   {k: m.get(k) for k in ("request", "flag", "kind", "category", "cameras", "from_us", "to_us",
                                          "mode", "action", "actor", "audit_seq")} | {"msg_seq": seq})


# accesses (R5) --------------------------------------------------------------------------------
def account(actor: str | None) -> str:
    """"carol (os: root)" -> "carol": the account part of an actor."""
    return str(actor or "").split(" (", 1)[0].strip()


def judge_access(rec: dict[str, Any], *, approve: dict[str, Any] | None, filed: dict[str, Any] | None,
                 earlier_uses: int) -> tuple[bool, str]:
    """One viewing or export (an audit record: grant.use, export.done, playback.start) against the
    approval of its grant (the request.approve record naming it) and the request's filing."""
    detail = rec.get("detail") or {}
    grant = detail.get("grant")
    if grant is None:
        return False, Msg(N_("{action} names no grant: footage was reached without an approved request"),
                          action=rec['action'])
    if approve is None:
        return False, Msg(N_("no approval on record for grant {grant}"), grant=grant)
    if filed is not None and account(filed.get("actor")) == account(approve.get("actor")):
        return False, Msg(N_("grant {grant} was approved by {who}, who filed the request"), grant=grant,
                          who=account(approve.get('actor')))
    if rec["action"] == "grant.use" and earlier_uses > 0:
        return False, Msg(N_("grant {grant} used again (a second viewing or copy needs a new request)"), grant=grant)
    expires = (approve.get("detail") or {}).get("expires_us")
    if rec["action"] == "grant.use" and expires is not None and rec["at_us"] > expires:
        return False, Msg(N_("grant {grant} used after it expired"), grant=grant)
    mode = (approve.get("detail") or {}).get("mode")
    if rec["action"] == "export.done" and mode not in (None, "copy"):
        return False, Msg(N_("grant {grant} was approved for {mode}, not for a copy"), grant=grant, mode=mode)
    return True, Msg(N_("grant {grant}, approved by {who}"), grant=grant, who=account(approve.get('actor')))


# retention (R1.3-R1.5) ------------------------------------------------------------------------
def judge_destruction(d: dict[str, Any], *, min_days: float | None, max_days: float | None) -> tuple[str, str]:
    """(verdict, why) of one destroyed segment: "ok", "early" (destroyed before its maximum without
    recorded disk pressure) or "min_breached" (destroyed for capacity before its minimum). A
    segment the edge re-stamped after a host clock step (`shift_us`) is judged by its true end."""
    age_days = (d["destroyed_us"] - d["end_us"] - (d.get("shift_us") or 0)) / 86_400e6
    if d.get("reason") == "max_retention":
        if max_days is not None and age_days < max_days - 1 / 24:
            return "early", Msg(N_("destroyed as past its maximum at {age} days (maximum {max_days})"),
                                age=f"{age_days:.1f}", max_days=f"{max_days:g}")
        return "ok", "past its maximum"
    if d.get("reason") == "capacity":
        free, reserve = d.get("free_before"), d.get("reserve")
        if free is not None and reserve is not None and free >= reserve:
            return "early", Msg(N_("destroyed for capacity while free space ({free} bytes) was above the reserve "
                                   "({reserve}): no disk pressure on record"), free=free, reserve=reserve)
        if min_days is not None and age_days < min_days:
            return "min_breached", Msg(N_("destroyed for capacity at {age} days, below the minimum {min_days}"),
                                       age=f"{age_days:.1f}", min_days=f"{min_days:g}")
        return "ok", "under recorded disk pressure"
    return "early", Msg(N_("destroyed for an unknown reason {reason}"), reason=repr(d.get('reason')))


# what the shell finds of its own (central/verifier.py, verifier_kinds.py), made here so that a table
# test says each in the sites' language (tests/test_central_finding_words.py)
def failed(exc: BaseException, day: int) -> Finding:
    """A verification pass of the node raised: the others go on; retried later."""
    return Finding("verify_failed", WARNING, Msg(N_("a verification pass failed: {error}"), error=repr(exc)[:372]),
                   f"verify_failed:{type(exc).__name__}:{day}")


def unreadable(what: Msg, key: str, about_us: Any, exc: BaseException) -> Finding:
    """A stored message (``what``: which) the verifier could not read, though ingest's schema took it."""
    return Finding("malformed_message", WARNING, Msg(N_("{what} could not be read: {error}"), what=what,
                                                     error=repr(exc)[:max(0, 378 - len(what))]),
                   key, about_us if isinstance(about_us, int) else None)


def head_unsigned(seq_local: Any, seq: int, at_us: Any) -> Finding:
    return Finding("head_unsigned", WARNING, Msg(N_("chain head {seq} came unsigned (edged before 0.2, or the "
                                                    "signature was stripped)"), seq=seq_local),
                   f"head_unsigned:{seq}", at_us)


def head_mismatch(seq: int, at_us: Any) -> Finding:
    return Finding("head_bad_signature", CRITICAL, Msg(N_("message {seq}: the signed head does not name the record it "
                                                          "came with"), seq=seq), f"head_mismatch:{seq}", at_us)


def unapproved(rec: dict[str, Any], why: str) -> Finding:
    """An access judge_access refused, ``why`` its reason."""
    return Finding("access_unapproved", CRITICAL, Msg(N_("{action} by {who} (audit record {seq}): {why}"),
                                                      action=rec["action"], who=account(rec["actor"]), seq=rec["seq"],
                                                      why=why), f"access:{rec['seq']}", rec["at_us"],
                   {"seq_local": rec["seq"]})


def destroyed(verdict: str, camera: str, day_text: str, why: str, key_day: str, about_us: int,
              detail: dict[str, Any]) -> Finding:
    """A destruction judged ``verdict`` ("early" or "min_breached"): `destroyed_early` or
    `min_retention_breached`, once a camera and day."""
    kind = "destroyed_early" if verdict == "early" else "min_retention_breached"
    return Finding(kind, CRITICAL, Msg(N_("camera {camera}: footage {day} {why}"), camera=camera, day=day_text, why=why),
                   f"{kind}:{camera}:{key_day}", about_us, detail)


# the retention message's shapes (issue 53 item 1) -----------------------------------------------
def destructions(m: dict[str, Any]) -> list[dict[str, Any]]:
    """The destructions one `retention` message reports: a pass's batch (`{"pass_id", "destructions":
    [...]}`) or, from a box of an older version, the one destruction it is. Each is judged alone
    (central/verdicts.py: on the office's clock, design/0122)."""
    batch = m.get("destructions")
    if isinstance(batch, list):
        return [d for d in batch if isinstance(d, dict)]
    return [m]
