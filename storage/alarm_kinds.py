"""Every alarm kind, declared once (design/0067): its machine name (MQTT, the catalog, `--json`),
its severity, its title for people, what one alarm of it is about (its scope: the key is the
kind alone for a host-wide kind, else `kind:subject`), and whether a maintenance window
expects it (then it is raised at "maintenance" severity while a window is open, design/0043).

A leaf: pure data, no import from this repository, so storage/'s planners and everything above
can name a kind. edged/alarms.py raises only kinds declared here (severity comes from here, not
from the call site); tests/test_alarm_kinds.py checks that every title has a zh_TW translation
and that no call site writes a severity by hand.

Adding a kind is one line below, in its group: `NAME = _declare("name", SEVERITY, N_("title"), SCOPE,
GROUP)`, then `scripts/i18n` and the title's zh_TW translation. Code names a kind by its constant
(`kinds.NAME`, `kinds.NAME.name` where a string is wanted), never by a string literal:
tests/test_alarm_kinds.py fails on a literal that is a kind or looks like a misspelt one. Titles are msgids: `scripts/i18n extract` reads
this file as well as edged/, and edged/alarm_titles.py translates them.
"""

from __future__ import annotations

from dataclasses import dataclass

CRITICAL, WARNING, INFO = "critical", "warning", "info"
SEVERITIES = (CRITICAL, WARNING, INFO)
# What one alarm is about; the key's subject after the kind (none for HOST).
HOST = "host"          # the recorder as a whole, its disk or its clock: one alarm, keyed by the kind alone
CAMERA = "camera"      # one camera: kind:camera, and the alarm row names the camera
FILE = "file"          # one footage file: kind:relpath (the row names its camera when the path tells it)
ACCOUNT = "account"    # one person's account: kind:name
REQUEST = "request"    # one retrieval request: kind:id (ethics: kind:request:id)
TASK = "task"          # one internal task of the daemon: kind:task
HOLD = "hold"          # one hold: kind:id
SCOPES = (HOST, CAMERA, FILE, ACCOUNT, REQUEST, TASK, HOLD)
# What part of the box a kind is about: the desk and `edgectl alarms` list them by group, and a rule
# module judges one group (edged/rules/health.py: PICTURE; edged/rules/inspections.py reads them all).
PICTURE = "picture"          # a camera's picture, sound and stream (edged/rules/health.py)
RECORDING = "recording"      # a camera's recording
RETENTION = "retention"      # the retention engine (storage/retention/)
DISK = "disk"                # the data disk and the footage on it
MAINTENANCE = "maintenance"  # maintenance windows (design/0043)
CLOCK = "clock"              # the host clock (design/0059)
DEADLINES = "deadlines"      # inspections, registers, audits (edged/rules/inspections.py)
PEOPLE = "people"            # accounts, retrieval requests, holds
DAEMON = "daemon"            # the daemon itself
GROUPS = (PICTURE, RECORDING, RETENTION, DISK, MAINTENANCE, CLOCK, DEADLINES, PEOPLE, DAEMON)
# The inspection register's items (R3.1; edged/rules/inspections.py fills them in, edged/config/health.py
# lets a site choose its columns). A kind names the item it marks abnormal while it is active
# (design/0240): a camera's kind marks it on that camera's row, a host-wide kind on every row. A
# kind of the PICTURE group marks the picture unless it says otherwise; `item=None`: no item.
HOST_ITEM, PICTURE_ITEM, AUDIO_ITEM, RECORDING_ITEM = "host", "picture", "audio", "recording"
LOGIN_ITEM, CAMERA_LOGIN_ITEM, CLOCK_ITEM, QUALITY_ITEM = "login", "camera_login", "clock", "quality"
REGISTER_ITEMS = (HOST_ITEM, PICTURE_ITEM, AUDIO_ITEM, RECORDING_ITEM, LOGIN_ITEM, CAMERA_LOGIN_ITEM, CLOCK_ITEM,
                  QUALITY_ITEM)
_GROUP_ITEM = {PICTURE: PICTURE_ITEM}
_UNSET = "-"


def N_(message: str) -> str:
    """Marks a title for `scripts/i18n extract` (edged.i18n.N_, which this leaf may not import)."""
    return message


@dataclass(frozen=True, slots=True)
class AlarmKind:
    name: str
    severity: str                          # one of SEVERITIES
    title: str                             # English msgid; edged/alarm_titles.py shows it translated
    scope: str                             # one of SCOPES
    group: str                             # one of GROUPS
    expected_in_maintenance: bool = False  # a fault a technician causes on purpose (a camera unplugged)
    item: str | None = None                # the register item it marks abnormal (REGISTER_ITEMS), if any

    def key(self, subject: str | None = None) -> str:
        """The alarm's stable key (one active row per key): the name alone for a host-wide kind,
        else name:subject."""
        if (subject is None) != (self.scope == HOST):
            raise ValueError(f"alarm {self.name} ({self.scope}) keyed by {subject!r}")  # i18n: a programming error
        return self.name if subject is None else f"{self.name}:{subject}"


KINDS: dict[str, AlarmKind] = {}


def _declare(name: str, severity: str, title: str, scope: str, group: str, *,
             maintenance: bool = False, item: str | None = _UNSET) -> AlarmKind:
    kind = AlarmKind(name, severity, title, scope, group, maintenance,
                     _GROUP_ITEM.get(group) if item == _UNSET else item)
    if (name in KINDS or severity not in SEVERITIES or scope not in SCOPES or group not in GROUPS
            or kind.item not in (None, *REGISTER_ITEMS)):
        raise ValueError(f"alarm kind {kind} declared twice or wrongly")  # i18n: a programming error
    KINDS[name] = kind
    return kind


def of(kind: AlarmKind | str) -> AlarmKind:
    """The declared kind of that name (ValueError for one not declared here)."""
    if isinstance(kind, AlarmKind):
        return kind
    if kind not in KINDS:
        raise ValueError(f"alarm kind {kind!r} is not declared in storage/alarm_kinds.py")  # i18n: a programming error
    return KINDS[kind]


# A camera's picture and stream (edged/rules/health.py judges them, R2, R3.3-R3.4). A picture
# that is lost, blinded or turned away is evidence lost: critical.
VIDEO_DARK = _declare("video_dark", CRITICAL, N_("picture dark"), CAMERA, PICTURE)
VIDEO_OVEREXPOSED = _declare("video_overexposed", WARNING, N_("picture overexposed"), CAMERA, PICTURE)
VIDEO_FROZEN = _declare("video_frozen", CRITICAL, N_("picture frozen"), CAMERA, PICTURE)
VIDEO_BLURRED = _declare("video_blurred", CRITICAL, N_("picture blurred"), CAMERA, PICTURE)
CAMERA_MOVED = _declare("camera_moved", CRITICAL, N_("camera moved"), CAMERA, PICTURE)
VIDEO_MONOCHROME = _declare("video_monochrome", WARNING, N_("picture in black and white"), CAMERA, PICTURE, item=QUALITY_ITEM)
BELOW_RESOLUTION = _declare("below_resolution", WARNING, N_("resolution below the floor"), CAMERA, PICTURE, item=QUALITY_ITEM)
BELOW_FPS = _declare("below_fps", WARNING, N_("frame rate below the floor"), CAMERA, PICTURE, item=QUALITY_ITEM)
AUDIO_MISSING = _declare("audio_missing", WARNING, N_("sound missing"), CAMERA, PICTURE, item=AUDIO_ITEM)
# R2.3: the camera's time display (and its footage's clock) is wrong
CLOCK_DRIFT = _declare("clock_drift", WARNING, N_("camera clock drifts"), CAMERA, PICTURE, item=CLOCK_ITEM)
# R1.8: an audio_required camera's microphone is silent (design/0049)
AUDIO_SILENT = _declare("audio_silent", WARNING, N_("sound silent"), CAMERA, PICTURE, item=AUDIO_ITEM)
# segments are cut without a keyframe (design/0060)
KEYFRAMES_MISSING = _declare("keyframes_missing", WARNING, N_("camera sends no keyframes"), CAMERA, PICTURE, item=None)
# the camera's media clock runs fast or slow: re-anchored (design/0060)
MEDIA_CLOCK_DRIFT = _declare("media_clock_drift", WARNING, N_("camera video clock drifts"), CAMERA, PICTURE, item=None)
# the camera stamps its pictures alike or out of order: the recorder writes its own times (design/0150)
CAMERA_TIMES = _declare("camera_times", WARNING, N_("camera stamps its pictures wrongly"), CAMERA, PICTURE, item=None)
# its stream declares a picture no camera sends: not checked (design/0063)
PICTURE_TOO_BIG = _declare("picture_too_big", WARNING, N_("picture size absurd: not checked"), CAMERA, PICTURE)

# A camera's recording (R1.1).
CAMERA_OFFLINE = _declare("camera_offline", CRITICAL, N_("camera offline"), CAMERA, RECORDING, maintenance=True)
MOTION_DETECTION_LOST = _declare("motion_detection_lost", WARNING, N_("motion detection lost"), CAMERA, RECORDING)

# Retention (storage/retention/plan.py plans them; edged/daemon/retention_runner.py raises them).
MIN_RETENTION_BREACH = _declare("min_retention_breach", CRITICAL, N_("minimum retention not met"), CAMERA, RETENTION)
RETENTION_GRACE = _declare("retention_grace", WARNING, N_("retention lowered: grace period"), CAMERA, RETENTION)
RETENTION_CHANGED = _declare("retention_changed", WARNING, N_("retention settings changed"), HOST, RETENTION)
RETENTION_FILE_ERRORS = _declare("retention_file_errors", CRITICAL, N_("footage cannot be destroyed"), HOST, RETENTION, item=HOST_ITEM)
DISK_FULL_HELD = _declare("disk_full_held", CRITICAL, N_("disk full: nothing more may be destroyed"), HOST, RETENTION, item=HOST_ITEM)
RECORDING_STOPPED_DISK_FULL = _declare("recording_stopped_disk_full", CRITICAL,
                                       N_("recording stopped: disk full"), HOST, RETENTION, item=HOST_ITEM)
HOLDS_CROWD_OUT = _declare("holds_crowd_out", WARNING, N_("holds crowd out recording"), HOST, RETENTION)

# The data disk and the footage on it.
STORAGE_LOST = _declare("storage_lost", CRITICAL, N_("data disk lost"), HOST, DISK, maintenance=True, item=HOST_ITEM)
DISK_FULL = _declare("disk_full", CRITICAL, N_("data disk full"), HOST, DISK, item=HOST_ITEM)
FOOTAGE_MISSING = _declare("footage_missing", CRITICAL, N_("footage missing"), HOST, DISK, item=HOST_ITEM)
TAMPER = _declare("tamper", CRITICAL, N_("tampering"), FILE, DISK)
HASH_MISMATCH = _declare("hash_mismatch", CRITICAL, N_("footage changed on disk"), FILE, DISK)

# Maintenance windows (R1.7, design/0043).
MAINTENANCE_DISK_SHORT = _declare("maintenance_disk_short", CRITICAL, N_("disk short during maintenance"), HOST,
                                  MAINTENANCE)
MAINTENANCE_ENDING = _declare("maintenance_ending", WARNING, N_("maintenance window ends soon"), HOST, MAINTENANCE)
# a vendor attended a window (002 §6(3), design/0083): raised when it closes, until the superuser
# password is recorded as changed (edgectl maintenance password-changed)
VENDOR_PASSWORD_UNCHANGED = _declare("vendor_password_unchanged", WARNING,
                                     N_("superuser password not changed after a vendor's maintenance"), HOST,
                                     MAINTENANCE)

# The host clock (design/0059).
HOST_CLOCK_STEP = _declare("host_clock_step", WARNING, N_("host clock stepped"), HOST, CLOCK)
HOST_CLOCK_OFF = _declare("host_clock_off", WARNING, N_("host clock off the cameras'"), HOST, CLOCK)
SEGMENTS_FLAGGED = _declare("segments_flagged", WARNING, N_("footage stamped by a clock that was behind"), HOST, CLOCK)
HOST_CLOCK_UNSYNCED = _declare("host_clock_unsynced", WARNING, N_("host clock not synchronised"), HOST, CLOCK)
HOST_CLOCK_UNCORROBORATED = _declare("host_clock_uncorroborated", WARNING, N_("host clock not corroborated"), HOST, CLOCK)

# Inspections, registers and audits.
INSPECTION_OVERDUE = _declare("inspection_overdue", WARNING, N_("inspection overdue"), HOST, DEADLINES)
REGISTER_OVERDUE = _declare("register_overdue", WARNING, N_("inspection register overdue"), HOST, DEADLINES)
AUDIT_OVERDUE = _declare("audit_overdue", WARNING, N_("periodic audit overdue"), HOST, DEADLINES)

# People: accounts and retrieval requests (R5, design/0064).
ACCOUNT_LOCKED = _declare("account_locked", WARNING, N_("account locked"), ACCOUNT, PEOPLE)
ACCOUNT_OPENED = _declare("account_opened", WARNING, N_("account opened, password not yet changed"), ACCOUNT, PEOPLE)
PASSWORD_GUESSED = _declare("password_guessed", WARNING, N_("password guessed at from the web"), ACCOUNT, PEOPLE)
PASSWORD_RESET = _declare("password_reset", WARNING, N_("password reset by an admin"), ACCOUNT, PEOPLE)
REQUEST_OVERDUE = _declare("request_overdue", WARNING, N_("request not answered in time"), REQUEST, PEOPLE)
ETHICS = _declare("ethics", CRITICAL, N_("report to the ethics office"), REQUEST, PEOPLE)
# a legal hold past its review date (design/0076): raised until an approver reviews or releases it
HOLD_REVIEW_DUE = _declare("hold_review_due", WARNING, N_("legal hold past its review date"), HOLD, PEOPLE)

# The daemon itself.
TASK_FAILED = _declare("task_failed", CRITICAL, N_("internal task failed"), TASK, DAEMON, item=HOST_ITEM)
MQTT_OUTBOX_FULL = _declare("mqtt_outbox_full", CRITICAL, N_("MQTT outbox full"), HOST, DAEMON)
# a standby with [backfill] listen that cannot serve its boxes their gaps (not enrolled yet: design/0157)
STANDBY_NOT_SERVING = _declare("standby_not_serving", WARNING, N_("standby cannot serve its boxes"), HOST, DAEMON)

EXPECTED_IN_MAINTENANCE = frozenset(k.name for k in KINDS.values() if k.expected_in_maintenance)


def in_group(group: str) -> tuple[AlarmKind, ...]:
    """The kinds of one group, in the order declared."""
    if group not in GROUPS:
        raise ValueError(f"alarm group {group!r} is not declared")  # i18n: a programming error
    return tuple(k for k in KINDS.values() if k.group == group)


def marking(item: str) -> tuple[AlarmKind, ...]:
    """The kinds that mark one register item abnormal, in the order declared."""
    if item not in REGISTER_ITEMS:
        raise ValueError(f"register item {item!r} is not declared")  # i18n: a programming error
    return tuple(k for k in KINDS.values() if k.item == item)
