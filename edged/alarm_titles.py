"""What each alarm kind is called for people (design/0047). The kind stays the machine id
(MQTT, the catalog, `--json`); edgectl shows this title, in the person's language, next to it.
tests/test_i18n.py fails on a kind raised in edged/ that has no title here."""

from __future__ import annotations

from edged.i18n import N_, _

TITLES = {
    "account_locked": N_("account locked"), "camera_offline": N_("camera offline"),
    "password_reset": N_("password reset by an admin"),
    "ethics": N_("report to the ethics office"), "footage_missing": N_("footage missing"),
    "hash_mismatch": N_("footage changed on disk"), "holds_crowd_out": N_("holds crowd out recording"),
    "inspection_overdue": N_("inspection overdue"), "min_retention_breach": N_("minimum retention not met"),
    "mqtt_outbox_full": N_("MQTT outbox full"), "request_overdue": N_("request not answered in time"),
    "retention_changed": N_("retention settings changed"), "retention_file_errors": N_("footage cannot be destroyed"),
    "retention_grace": N_("retention lowered: grace period"), "storage_lost": N_("data disk lost"),
    "disk_full": N_("data disk full"),
    "tamper": N_("tampering"), "task_failed": N_("internal task failed"),
    "video_dark": N_("picture dark"), "video_overexposed": N_("picture overexposed"),
    "video_frozen": N_("picture frozen"), "video_blurred": N_("picture blurred"), "camera_moved": N_("camera moved"),
    "video_monochrome": N_("picture in black and white"), "below_resolution": N_("resolution below the floor"),
    "below_fps": N_("frame rate below the floor"), "audio_missing": N_("sound missing"),
    "register_overdue": N_("inspection register overdue"), "audit_overdue": N_("periodic audit overdue"),
    "maintenance_disk_short": N_("disk short during maintenance"), "clock_drift": N_("camera clock drifts"),
    "motion_detection_lost": N_("motion detection lost"),
    "audio_silent": N_("sound silent"),
}


def title(kind: str) -> str:
    """The kind's title in the current language (the kind itself when it has none)."""
    return _(TITLES[kind]) if kind in TITLES else kind
