"""Each finding kind's title and explanation for people (issue 43 item 6, design/0117), declared
once: the month page and its CSV show them in the sites' language (central/locale), the kind's
id stays in report.json and the store for scripts. docs/ref/central.md's findings table says
the same at length; tests/test_central_month.py fails on a kind found there or raised in central/
that has no line here."""

from __future__ import annotations

import json
from typing import Any, Mapping

from central.i18n import N_, Speaker
from storage import alarm_kinds
from storage.msg import FOREIGN, Msg, is_stored

# kind -> (title, explanation: what happened and what to do)
FINDINGS: dict[str, tuple[str, str]] = {
    "audit_fork": (N_("audit log rewritten"),
                   N_("The node's audit log no longer matches what it published: treat the box as tampered with, "
                      "take an audit export and verify it.")),
    "audit_head_regressed": (N_("audit records removed"),
                             N_("A signed chain head is behind an earlier one: records were removed from the log.")),
    "audit_record_altered": (N_("audit record altered"),
                             N_("A record's hash does not match its content: it was changed after it was written.")),
    "head_bad_signature": (N_("chain head signed by another key"),
                           N_("A chain head is not signed by the node's own key: another key speaks for the node.")),
    "key_changed_without_birth": (N_("node key changed without a restart"),
                                  N_("The node's key changed while it kept running: check the box.")),
    "key_not_enrolled": (N_("node key not enrolled"),
                         N_("The node announced a key the office never enrolled, or revoked: enrol the new box or "
                            "change the node's broker password.")),
    "key_revoked": (N_("message under a revoked key"),
                    N_("The node speaks with a key the office revoked: its heads and audit records are not taken. "
                       "Find the box; enrol its replacement with a new key.")),
    "node_not_enrolled": (N_("node not enrolled"),
                          N_("The office has a CA but nobody accepted this node's enrolment: check the box and "
                             "accept its enrolment request.")),
    "session_regressed": (N_("node's start counter went back"),
                          N_("The node's catalog was restored from an older copy: ask the site why.")),
    "access_unapproved": (N_("access without a valid approval"),
                          N_("Footage was viewed or exported without an approved request, approved by its own "
                             "filer, or with a grant used twice or after it expired.")),
    "time_sources_none": (N_("no source to check the node's clock"),
                          N_("The node has nothing to corroborate its clock with: set its command key.")),
    "destroyed_early": (N_("footage destroyed early"),
                        N_("Footage was destroyed before its maximum retention, or for space while there was "
                           "free space: ask the site why.")),
    "kept_past_maximum": (N_("footage kept past its maximum"),
                          N_("By the office's clock the node still holds footage older than its maximum retention, "
                             "and it has told of newer footage since: ask the site why it was not destroyed (a "
                             "clock behind, a stopped retention pass).")),
    "destruction_unverified": (N_("destruction cannot be verified"),
                               N_("The office cannot prove this footage's age when it was destroyed: a bound is "
                                  "missing (the finding names it). Not a breach: make sure the node answers the "
                                  "office's time requests.")),
    "destruction_forged": (N_("forged record of a destruction"),
                           N_("The node reported destructions stamped after the message that reports them, which "
                              "no honest box sends: its record of when footage was destroyed was made up. Treat the "
                              "box as tampered with; ask the site when the footage really went.")),
    "retention_stopped": (N_("retention pass stopped"),
                          N_("The node reports no destructions while footage it holds is past its maximum: its "
                             "retention has stopped, or its clock keeps footage from being due. Ask the site.")),
    "ethics": (N_("request flagged for the ethics office"),
               N_("The node flagged a request as major or abnormal: report it to the ethics office.")),
    "min_retention_breached": (N_("minimum retention not kept"),
                               N_("Footage was destroyed for space before the minimum retention: add disk.")),
    "seq_gap": (N_("messages missing"),
                N_("Some of the node's messages never arrived: its records in that range are unproven.")),
    "seq_late": (N_("messages arrived late"),
                 N_("Messages reported missing all arrived later: nothing was lost.")),
    "key_changed": (N_("new node key"),
                    N_("The node restarted with a new key: confirm the box was replaced.")),
    "seq_implausible": (N_("message from the future"),
                        N_("A message numbered far past the time it arrived: forged, or the node's clock is far "
                           "ahead. It was kept apart, not verified.")),
    "seq_beyond_rate": (N_("message numbered past what the node could send"),
                        N_("A message numbered beyond what the node's cameras could have produced since its last "
                           "message: forged, or a loop in the node. It was kept apart, not verified.")),
    "seq_below_first": (N_("message numbered before the node's first"),
                        N_("A message numbered far below the first the office knows of the node: its outbox never "
                           "gave that number. It was refused.")),
    "message_too_large": (N_("message too large for the broker"),
                          N_("The node reports that its broker refused one of its messages for its size: the office "
                             "never received it. Raise the broker's bound or ask the site.")),
    "head_unsigned": (N_("chain head not signed"),
                      N_("The node sent a chain head without a signature (an old edged): upgrade it.")),
    "head_unverifiable": (N_("chain head cannot be checked"),
                          N_("A chain head arrived before any announcement of the node's key.")),
    "malformed_message": (N_("malformed message"),
                          N_("A message failed its schema or could not be read: a broken or compromised box.")),
    "quota_exceeded": (N_("node over its quota"),
                       N_("The node sent more than its quota: the excess was dropped.")),
    "verify_failed": (N_("verification failed"),
                      N_("A verification pass of this node failed; the other nodes were verified.")),
    "test_retention_allowed": (N_("test retention setting on"),
                               N_("The node allows retention under a day, a test setting: remove it.")),
    "retention_lowered": (N_("retention lowered"),
                          N_("The node's minimum or maximum retention was lowered: footage may go sooner. Confirm "
                             "the change was ordered.")),
    "config_changed": (N_("configuration changed"),
                       N_("The node's configuration changed: check the change record.")),
    "cameras_changed": (N_("cameras changed"),
                        N_("The node's cameras changed: check the change record.")),
    "software_changed": (N_("software changed"),
                         N_("The node's software version changed: check the change record.")),
}
# which clock and which evidence a retention verdict used (central/checks/verdicts.py), by the finding's
# detail "evidence": shown beside the finding on the auditor's month
BASES: dict[str, str] = {
    "heard": N_("the office's clock, from its receipt of the footage message"),
    "stamped": N_("the office's clock, from the footage message's own stamp at the node's clock offset the office "
                  "saw then (the message waited)"),
    "carried": N_("the office's clock, from what the node said of footage it fetched later (backfill or standby)"),
    "unannounced": N_("the office's clock: the node never announced this footage"),
    "stamps": N_("the node's clock, from its own stamps"),
    "interval": N_("the office's clock, on an interval with the evidence of each bound"),
    "record": N_("the node's own record of its free space"),
}
RETENTION = ("destroyed_early", "min_retention_breached", "kept_past_maximum", "retention_stopped",
             "destruction_unverified", "destruction_forged")
UNKNOWN = (N_("finding of another kind"), N_("This office does not know this kind of finding: upgrade it."))


# A finding's message is a Msg (storage/msg.py, design/0280): the `message` column keeps its English
# for machines, and its template and values go in the detail under this key; the store's readers
# take them out again as the row's "said" (the detail scripts read is as before).
SAID = "said"


def detail_json(message: str, detail: Mapping[str, Any]) -> str:
    """A finding's detail as stored: with its message's template and values when it is a Msg."""
    kept = {**detail, SAID: message.stored()} if isinstance(message, Msg) else detail
    return json.dumps(kept, sort_keys=True, ensure_ascii=False)


def read(row: Mapping[str, Any]) -> dict[str, Any]:
    """A stored finding as the readers give it: its detail parsed, its message's template as "said"
    (None: a finding stored before design/0280, said in its English)."""
    detail = json.loads(row["detail"]) if isinstance(row["detail"], str) else dict(row["detail"] or {})
    said = detail.pop(SAID, None) if isinstance(detail, dict) else None
    return {**row, "detail": detail, SAID: said}


# an access's action (an audit record's), said in the sites' language in its "why" (and the month's "action")
ACTIONS = {"grant.use": N_("viewing"), "export.done": N_("export"), "playback.start": N_("playback")}


def access_why(sp: Speaker, text: object, stored: object = None) -> str:
    """An access's reason (central/checks/verify.judge_access) in the sites' language: from its template
    and values (the row's "said", design/0287; or the Msg itself), the action among them said as
    a word; a reason with neither (a report.json written before) in its English, as it came."""
    if stored is None and isinstance(text, Msg):
        stored = text.stored()
    if is_stored(stored):
        assert isinstance(stored, Mapping)
        params = stored.get("params")
        if isinstance(params, Mapping) and isinstance(params.get("action"), str):
            stored = {**stored, "params": {**params, "action": sp.word(ACTIONS.get(params["action"], params["action"]))}}
    return sp.said("" if text is None else str(text), stored)


def turned_away(where: str, why: str) -> Msg:
    """A message turned away at ingest: where it came (the topic's tail) and why; a why that is no
    Msg (the schema's words, the box's own values in them) is said as it came, never translated."""
    if isinstance(why, Msg):
        return Msg(N_("{where}: {why}"), where=where, why=why)
    return Msg(N_("{where}: {error}"), where=where, **{FOREIGN: why})


def basis(detail: dict[str, object] | None) -> str:
    """Which clock and evidence a retention finding used, English key of the central catalog ("" if none)."""
    return BASES.get(str((detail or {}).get("evidence")), "")


def words(kind: str) -> tuple[str, str]:
    """(title, explanation) of a finding kind, English keys of the central catalog."""
    return FINDINGS.get(kind, UNKNOWN)


# An alarm a box raised (issue 80, design/0342): its kind is declared in storage/alarm_kinds.py, which
# both programs read, so the office says its title from the same declaration, translated in its
# catalog as at the box; its message comes with its template and values ("said", from the alarm's
# `words`) and is said in the sites' language, or in the English a box before issue 80 sent.
def alarm_title(sp: Speaker, kind: object, key: str) -> str:
    """An alarm's kind in the sites' language: its declared title; its key for a kind this office
    does not know (a newer box's)."""
    declared = alarm_kinds.KINDS.get(kind) if isinstance(kind, str) else None
    return key if declared is None else sp._(declared.title)


def alarm_words(row: Mapping[str, Any]) -> object:
    """The words an alarm row keeps (the `said` column: its message's template and values), or None."""
    try:
        said = json.loads(row.get("said") or "null")
    except ValueError:
        return None
    return said if is_stored(said) else None


def alarm_message(sp: Speaker, row: Mapping[str, Any]) -> str:
    """An alarm's message in the sites' language from its words, else as the box sent it."""
    text = row.get("message")
    return sp.said("" if text is None else str(text), row.get("said"))
