"""What the central office concludes from one node's messages: pure functions over plain data
(no store, no clock), each returning findings. The shell that feeds them is central/verifier/verifier.py;
the trust model they implement is design/0026.

The audit hash is storage/audit.py's own function (``record_hash``), reused rather than copied,
so the central office can never drift from what the box computes; the head signature is
storage/keys/chainhead.py's.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from central.i18n import N_
from storage import audit
from storage.keys import chainhead
from storage.msg import FOREIGN, Msg
from storage.time.readings import readings

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
    ``resend``: what came of asking the node for them again (central/verifier/verifier.py), if asked."""
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
    age_days = readings(d).own_age_us / 86_400e6  # on its corrected clock: the shift added (design/0364)
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


# what the shell finds of its own (central/verifier/verifier.py, verifier_kinds.py), made here so that a table
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
    """A destruction judged ``verdict`` ("early", "min_breached", "kept_past_maximum" or "unverified"):
    `destroyed_early`, `min_retention_breached`, `kept_past_maximum` (critical) or
    `destruction_unverified` (a warning: a bound the office could not prove), once a camera and day."""
    kind = DESTROYED_KINDS[verdict]
    return Finding(kind, WARNING if verdict == "unverified" else CRITICAL, Msg(N_("camera {camera}: footage {day} {why}"), camera=camera, day=day_text, why=why),
                   f"{kind}:{camera}:{key_day}", about_us, detail)


DESTROYED_KINDS = {"early": "destroyed_early", "min_breached": "min_retention_breached",
                   "kept_past_maximum": "kept_past_maximum", "unverified": "destruction_unverified"}
FORGED_SLACK_US = 1_000_000  # a destruction's stamp past its report's: a second of the box's own jitter forgiven


def forged(seq: int, m: dict[str, Any]) -> Finding | None:
    """`destruction_forged` (critical, issue 86 item 5, design/0365): a retention message reporting
    destructions its node stamped after it queued the message (its `ts_us`, the same clock). A box
    records a destruction before it reports it, so no honest box sends one: the record was made up,
    e.g. to date an early destruction at its maximum. One finding a message, naming how many and which
    segments; None when every destruction is stamped before the message or it carries no stamp."""
    ts = m.get("ts_us")
    if not isinstance(ts, int) or isinstance(ts, bool):
        return None
    late = [d for d in destructions(m) if isinstance(d, dict) and _stamped_after(d, ts)]
    if not late:
        return None
    ids = [d.get("segment_id") for d in late]
    most = max(d["destroyed_us"] for d in late) - ts
    return Finding("destruction_forged", CRITICAL, Msg(N_(
        "retention message {seq} reports {n} destructions stamped after the message itself (up to {days} days "
        "after it), which no box that records a destruction before reporting it can send: a forged record"),
        seq=seq, n=len(late), days=f"{most / 86_400e6:.1f}"), f"destruction_forged:{seq}", ts,
        {"msg_seq": seq, "ts_us": ts, "destructions": len(late), "segment_ids": ids[:64], "most_after_us": most})


def bounded(d: dict[str, Any], report_ts: Any) -> dict[str, Any]:
    """A destruction as its verdict reads it (design/0531): one stamped after the message reporting it (a
    forged record, `forged`) was made no later than that message, whose stamp, on the same clock, is then its
    reading; any other as it came. The earlier reading can only shorten the age judged, so it finds an early
    destruction the forged stamp hid and never makes one kept past its maximum that the stamp did not."""
    if isinstance(report_ts, int) and not isinstance(report_ts, bool) and _stamped_after(d, report_ts):
        return {**d, "destroyed_us": report_ts}
    return d


def _stamped_after(d: dict[str, Any], ts: int) -> bool:
    """A destruction stamped more than FORGED_SLACK_US after `ts` (its report's stamp, the same clock)."""
    got = d.get("destroyed_us")
    return isinstance(got, int) and not isinstance(got, bool) and got > ts + FORGED_SLACK_US


# an intake's original destroyed (design/0355) ----------------------------------------------------
ORIGINAL_DAY_US = 86_400_000_000


def original_destroyed(m: dict[str, Any], heard: dict[str, Any] | None, min_days: float | None,
                       camera: str) -> tuple[str, Finding | None]:
    """An `intake_destroyed` message against the intake the office heard of (``heard``: its row's
    {sha256, at_us}, None: never heard of): its verdict ("ok", "early", "unverified") and its finding.
    Judged on the box's stamps (its trusted clock, invariant 10): the intake's and the destruction's.
    Early: destroyed before the intake + the minimum (a maximum is never below it), a
    `destroyed_early` finding; an intake the office never heard of, or whose original's SHA-256 is
    another, cannot be judged: `destruction_unverified`."""
    intake, gone = m["intake"], m["destroyed_us"]
    detail = {"intake": intake, "sha256": m["sha256"], "destroyed_us": gone, "pass_id": m.get("pass_id"),
              "camera": camera, "min_days": min_days}
    if heard is None or heard.get("sha256") != m["sha256"] or not isinstance(heard.get("at_us"), int):
        why = (Msg(N_("the office never heard of that intake")) if heard is None else
               Msg(N_("its SHA-256 is not the one the intake reported")) if heard.get("sha256") != m["sha256"] else
               Msg(N_("the intake's time is not known")))
        return "unverified", Finding(DESTROYED_KINDS["unverified"], WARNING, Msg(
            N_("intake {intake} ({camera}): its original file was reported destroyed, but {why}"), intake=intake,
            camera=camera, why=why), f"{DESTROYED_KINDS['unverified']}:intake:{intake}", gone, detail)
    age = gone - heard["at_us"]
    if min_days is None or age >= min_days * ORIGINAL_DAY_US:
        return "ok", None
    return "early", Finding(DESTROYED_KINDS["early"], CRITICAL, Msg(
        N_("intake {intake} ({camera}): its original file was destroyed {age} days after its intake, below the "
           "minimum of {limit} days (on the box's clock)"), intake=intake, camera=camera,
        age=f"{age / ORIGINAL_DAY_US:.2f}", limit=f"{min_days:g}"),
        f"{DESTROYED_KINDS['early']}:intake:{intake}", gone, {**detail, "intake_us": heard["at_us"]})


# the retention message's shapes (issue 53 item 1) -----------------------------------------------
def destructions(m: dict[str, Any]) -> list[dict[str, Any]]:
    """The destructions one `retention` message reports: a pass's batch (`{"pass_id", "destructions":
    [...]}`) or, from a box of an older version, the one destruction it is. Each is judged alone
    (central/checks/verdicts.py: on the office's clock, design/0122)."""
    batch = m.get("destructions")
    if isinstance(batch, list):
        return [d for d in batch if isinstance(d, dict)]
    return [m]
