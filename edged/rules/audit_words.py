"""The audit log in words (issue 42 item 3, design/0112): each action the chain records, declared
once with the phrase an ethics officer reads, and the details' fields by name. The record itself
(actor, action key, JSON detail) is evidence and stays as written: the desk shows these words
beside it and keeps the raw record one click away. tests/test_audit_words.py fails on an action
written anywhere in the code that has no words here.

An action is named by its constant (`audit_words.REQUEST_FILE`) where new code writes one; the
call sites older than this table write the same strings, which the test holds to it. A derived
record (`x.repeated`: reads of a minute counted in one record, `x.summary`: refusals counted)
reads as its action's words and how it was counted."""

from __future__ import annotations

from typing import Any

from edged.i18n import N_, _

WORDS: dict[str, str] = {}


def _say(action: str, words: str) -> str:
    WORDS[action] = words
    return action


# people and their accounts
LOGIN = _say("login", N_("logged in"))
LOGOUT = _say("logout", N_("logged out"))
LOGIN_FAILED = _say("login.failed", N_("a login failed"))
LOGIN_FAILED_SUMMARY = _say("login.failed.summary", N_("failed logins, counted"))
ACCOUNT_OPEN = _say("account.open", N_("opened an account"))
ACCOUNT_PASSWORD = _say("account.password", N_("changed a password"))
ACCOUNT_REVOKE = _say("account.revoke", N_("revoked an account"))
ACCOUNT_LOCKED = _say("account.locked", N_("an account was locked after failed logins"))
ACCOUNT_LIVE = _say("account.live", N_("gave or took live view"))
ACCOUNT_SIGN = _say("account.sign", N_("signed an account application"))
ACCOUNT_ACKNOWLEDGE = _say("account.acknowledge", N_("acknowledged an account another admin opened or reset"))
# retrieval requests and grants
REQUEST_FILE = _say("request.file", N_("filed a request for footage"))
REQUEST_STEP = _say("request.step", N_("signed a step of a request"))
REQUEST_APPROVE = _say("request.approve", N_("approved a request (last sign-off)"))
REQUEST_REJECT = _say("request.reject", N_("rejected a request"))
REQUEST_LAPSED = _say("request.lapsed", N_("a request lapsed undecided"))
REQUEST_PURGE = _say("request.purge", N_("a request's personal data was purged"))
REQUEST_UNREDACTED = _say("request.unredacted", N_("allowed a citizen the whole picture, with a reason"))
GRANT_USE = _say("grant.use", N_("used a grant"))
GRANT_REFUSED = _say("grant.refused", N_("use of a grant refused"))
GRANT_EXPIRED = _say("grant.expired", N_("a grant expired unused"))
USAGE_REGISTER = _say("usage.register", N_("printed the usage register"))
# watching and copying
LIVE_START = _say("live.start", N_("started a live view"))
LIVE_STOP = _say("live.stop", N_("ended a live view"))
LIVE_REFUSED = _say("live.refused", N_("live view refused"))
PLAYBACK_START = _say("playback.start", N_("started a playback"))
PLAYBACK_STOP = _say("playback.stop", N_("ended a playback"))
PLAYBACK_CAMERA = _say("playback.camera", N_("switched camera in a playback"))
EXPORT_DONE = _say("export.done", N_("made an export"))
EXPORT_FAILED = _say("export.failed", N_("an export failed"))
EXPORT_REFUSED = _say("export.refused", N_("an export was refused"))
EXPORT_READ = _say("export.read", N_("an export was read"))
EXPORT_RECEIPT = _say("export.receipt", N_("the office's receipt for an export was kept beside it"))
COPY_DESTROYED = _say("copy.destroyed", N_("a working copy was destroyed"))
REDACT_STARTED = _say("redact.started", N_("a redacted copy was started"))
REDACT_MADE = _say("redact.made", N_("made a redacted copy"))
REDACT_FAILED = _say("redact.failed", N_("a redacted copy failed"))
REDACT_READ = _say("redact.read", N_("a redacted copy was read"))
REDACT_RELEASED = _say("redact.released", N_("a redacted copy was checked and released"))
REDACT_RELEASE_REFUSED = _say("redact.release_refused", N_("the release of a redacted copy was refused"))
EVIDENCE_IMPORTED = _say("evidence.imported", N_("took in a portable device's recording"))
ORIGINAL_DESTROYED = _say("evidence.original_destroyed",
                          N_("a portable device's original file was destroyed by the retention rules"))
FOOTAGE_LIST = _say("footage.list", N_("listed footage"))
FOOTAGE_THUMBNAIL = _say("footage.thumbnail", N_("looked at thumbnails of footage"))
EVENTS_LIST = _say("events.list", N_("listed motion events"))
# holds
HOLD_ADD = _say("hold.add", N_("placed a hold"))
HOLD_APPROVE = _say("hold.approve", N_("approved a hold"))
HOLD_REJECT = _say("hold.reject", N_("rejected a hold"))
HOLD_EXTEND = _say("hold.extend", N_("extended a hold"))
HOLD_REVIEW = _say("hold.review", N_("reviewed a legal hold"))
HOLD_RELEASE = _say("hold.release", N_("released a hold"))
HOLD_EXPIRED = _say("hold.expired", N_("a hold expired"))
HOLD_LAPSED = _say("hold.lapsed", N_("a hold lapsed unapproved"))
# inspections, audits, maintenance
INSPECTION_RUN = _say("inspection.run", N_("an inspection ran"))
INSPECTION_SIGN = _say("inspection.sign", N_("signed an inspection"))
INSPECTION_COUNTERSIGN = _say("inspection.countersign", N_("countersigned an inspection"))
INSPECTION_MISSED = _say("inspection.missed", N_("an inspection was missed"))
AUDIT_EXPORT = _say("audit.export", N_("exported the audit log"))
AUDIT_REPORT = _say("audit.report", N_("made the audit report"))
AUDIT_DONE = _say("audit.done", N_("recorded a periodic audit as done"))
MAINTENANCE_BEGIN = _say("maintenance.begin", N_("began maintenance"))
MAINTENANCE_END = _say("maintenance.end", N_("ended maintenance"))
MAINTENANCE_YIELD = _say("maintenance.yield", N_("footage destroyed for space during maintenance"))
MAINTENANCE_COPY_FAILED = _say("maintenance.copy_failed", N_("the footage copy before maintenance failed"))
MAINTENANCE_PASSWORD = _say("maintenance.password_changed", N_("the vendor's password was changed after maintenance"))
BACKUP_PRUNED = _say("backup.pruned", N_("old catalog backups were removed"))
BACKUP_PURGE = _say("backup.purge", N_("purged requests in a catalog backup"))
# the recorder itself
DATA_INIT = _say("data.init", N_("the data folder was set up"))
CONFIG_RELOAD = _say("config.reload", N_("the settings were reloaded"))
STANDBY = _say("standby", N_("the settings changed for a standby"))
STANDBY_START = _say("standby.start", N_("began recording for another box"))
STANDBY_END = _say("standby.end", N_("stopped recording for another box"))
STANDBY_SERVED = _say("standby.served", N_("handed footage it recorded to the box it stands in for"))
RETENTION_PASS = _say("retention.pass", N_("footage destroyed by the retention rules"))
RETENTION_CHANGE = _say("retention.change", N_("retention settings changed"))
CAMERA_REFERENCE = _say("camera.set_reference", N_("set a camera's reference picture"))
SEGMENTS_FLAGGED = _say("segments.flagged", N_("footage flagged for a clock problem"))
SEGMENTS_FLAG_RESOLVED = _say("segments.flag_resolved", N_("a clock flag on footage resolved"))
SEGMENTS_RESTAMP = _say("segments.restamp", N_("footage times corrected"))
RECORDS_RESTAMP = _say("records.restamp", N_("record times corrected"))
SEGMENT_BACKFILLED = _say("segment.backfilled", N_("footage fetched from the camera's own recording"))
SEGMENT_FROM_STANDBY = _say("segment.from_standby", N_("footage fetched back from the standby box that recorded it"))
FOOTAGE_MISSING = _say("footage.missing", N_("footage files found missing"))
FOOTAGE_RECOVERY = _say("footage.recovery", N_("footage recovered at start-up"))
EVENTS_DESTROYED = _say("events.destroyed", N_("motion events destroyed with their footage"))
STORAGE_LOST = _say("storage.lost", N_("the data disk stopped answering"))
STORAGE_BACK = _say("storage.back", N_("the data disk answers again"))
STORAGE_DISK_FULL = _say("storage.disk.full", N_("recording paused: the disk is full"))
STORAGE_FULL_CLEARED = _say("storage.full_cleared", N_("recording resumed: space again"))
TAMPER_DETECTED = _say("tamper.detected", N_("a footage file was changed outside edged"))
HOST_CLOCK_STEP = _say("host.clock_step", N_("the box's clock stepped"))
HOST_CLOCK_CONFIRMED = _say("host.clock_confirmed", N_("an approver confirmed the box's clock"))
HOST_CLOCK_CONFIRM_ASKED = _say("host.clock_confirm_asked",
                                N_("an approver asked to confirm the box's clock; a second approver confirms it"))
MQTT_COMMAND = _say("mqtt.command", N_("a command from the central office"))
MQTT_PASSWORD = _say("mqtt.password", N_("the broker password was changed"))
NODE_ENROL_REQUEST = _say("node.enrol_request", N_("asked the central office to enrol the box"))
NODE_ENROLLED = _say("node.enrolled", N_("the box's certificate was installed"))
NODE_KEY_RESTORED = _say("node_key.restored", N_("the box's signing key was restored"))

DERIVED = {"repeated": N_("{action} (repeated within a minute, counted)"),
           "summary": N_("{action} (beyond the first in a minute, counted)")}

# the details' fields by name; a field without words stays in the raw record only
FIELDS: dict[str, str] = {
    "account": N_("Account"), "actor": N_("Who"), "approver": N_("Approver"), "approvers": N_("Approvers"),
    "custodian": N_("Custodian"), "by": N_("By"), "placed_by": N_("Placed by"), "set_by": N_("Set by"),
    "recorded_by": N_("Recorded by"), "attended_by": N_("Attended by"), "name": N_("Name"),
    "signed_by": N_("Signed by"), "on_paper": N_("Signed on paper"),
    "roles": N_("Roles"), "cameras": N_("Cameras"), "camera": N_("Camera"), "reason": N_("Reason"),
    "why": N_("Why"), "request": N_("Request"), "grant": N_("Grant"), "id": N_("No."), "hold": N_("Hold"),
    "kind": N_("Kind"), "category": N_("Reason category"), "mode": N_("Footage wanted"), "flag": N_("Flag"),
    "flag_set": N_("Flagged at this step"), "from_us": N_("From"), "to_us": N_("To"), "start_us": N_("From"),
    "end_us": N_("To"), "since_us": N_("From"), "until_us": N_("Until"), "expires_us": N_("Valid until"),
    "due_us": N_("Answer due by"), "filed_us": N_("Filed"), "closed_us": N_("Closed"),
    "started_us": N_("Started"), "shown_from_us": N_("Shown from"), "shown_to_us": N_("Shown to"),
    "duration_us": N_("Duration"), "step": N_("Step"), "step_name": N_("Sign-off"), "steps": N_("Steps"),
    "chain": N_("Sign-offs"), "live": N_("Live view"), "one_time": N_("One-time password"),
    "via": N_("Through"), "watcher": N_("Watched by"), "segments": N_("Segments"),
    "bytes": N_("Size"), "count": N_("Count"), "repeated": N_("Times"), "refused": N_("Refused"),
    "export": N_("Export"), "run": N_("Inspection"), "anomalies": N_("Cameras with an anomaly"), "window": N_("Maintenance window"),
    "vendor": N_("Vendor"), "note": N_("Note"), "path": N_("File"), "action": N_("Action"),
    "box": N_("Box"), "more": N_("More, counted"),
    "intake": N_("Intake"), "device": N_("Device"), "filmed_by": N_("Filmed by"), "sha256": N_("The original's SHA-256"),
    "claimed_start_us": N_("Start the device claims"), "claimed_from": N_("Claimed by"), "model": N_("Device model"),
    "original": N_("The original file"), "intake_us": N_("Taken in"),
}
NO, YES = N_("no"), N_("yes")
# the reasons edged itself writes on the record (in English, as evidence): read in words
STORED: dict[str, str] = {"changed by the account holder": N_("changed by the account holder"),
          "first admin, created on the box by root": N_("first admin, created on the box by root"),
          "never decided": N_("never decided"),
          # a failed login's why (storage/people/sessions.py)
          "not an account name": N_("not an account name"), "unknown account": N_("no such account"),
          "revoked account": N_("the account is revoked"), "locked": N_("the account is locked"),
          "wrong password": N_("wrong password"), "application not signed": N_("the account's application is not signed yet"),
          "one-time password not changed": N_("the one-time password is not changed yet"),
          # why a login ended (storage/people/sessions.py ENDS), as a logout's reason (issue 56)
          "logout": N_("logged out"), "idle": N_("logged out after a time without use"),
          "password": N_("the password was changed"), "revoked": N_("the account is revoked"),
          "expired": N_("the login's time ran out")}


def _ended(text: str, words: str | None = None) -> str:
    STORED[text] = words or text
    return text


# why a viewing ended (edged/viewer), as its live.stop/playback.stop record says it; every reason
# the viewer writes is one of these, so the audit page never shows one in English
VIEW_CLOSED = _ended("closed by the viewer", N_("closed on the viewing's page"))  # i18n: the record's English
VIEW_CAMERA_GONE = _ended("camera disabled or removed", N_("the camera was disabled or removed"))  # i18n: the record's English
VIEW_CAMERA_CHANGED = _ended("camera settings changed", N_("the camera's settings changed"))  # i18n: the record's English
VIEW_LOGGED_OUT = _ended("logged out", N_("logged out"))  # i18n: the record's English
VIEW_STOPPING = _ended("edged stopping", N_("edged was stopping"))  # i18n: the record's English
VIEW_RANGE_END = _ended(N_("end of the granted range"))
VIEW_CONNECTION_LOST = _ended(N_("connection lost"))
VIEW_NEVER_CONNECTED = _ended(N_("the browser never connected"))
VIEW_SESSION_ENDED = _ended(N_("session ended"))
VIEW_LIVE_TAKEN = _ended(N_("live view was taken from this account"))
VIEW_SESSION_EXPIRED = _ended(N_("session expired"))
VIEW_TIME_LIMIT = _ended(N_("time limit reached"))
VIA_WORDS = {"viewer": N_("the desk"), "edgectl": N_("edgectl on the box"), "desk": N_("the desk")}


def action_words(action: str) -> str:
    """The action as a phrase in the reader's language; the key itself where none is declared
    (the test sees to it that none is missing)."""
    if action in WORDS:
        return _(WORDS[action])
    base, _sep, tail = action.rpartition(".")
    if tail in DERIVED and base in WORDS:
        return _(DERIVED[tail]).format(action=_(WORDS[base]))
    return action


def stored(text: str) -> str:
    """A reason as edged wrote it on the record, in the reader's words where it is one of edged's."""
    return _(STORED[text]) if text in STORED else text


def has_words(action: str) -> bool:
    base, _sep, tail = action.rpartition(".")
    return action in WORDS or (tail in DERIVED and base in WORDS)


def fields(detail: Any) -> tuple[list[tuple[str, str]], int]:
    """The detail's fields that have words, as (label, key) in the record's order, and how many
    more the raw record holds."""
    if not isinstance(detail, dict):
        return [], 1 if detail else 0
    shown = [(_(FIELDS[k]), k) for k in detail if k in FIELDS and detail[k] not in (None, "", [], {})]
    return shown, sum(1 for k in detail if k not in FIELDS and detail[k] not in (None, "", [], {}))
