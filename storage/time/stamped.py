"""What the catalog stamps on the host clock, in one place (design/0096): when a host clock step is
corrected, every column listed in `HOST` moves with the footage (storage/footage/corrections.py), and
every other time column is listed in `NOT_HOST` with why it stays. tests/test_stamped.py fails
when a table has a `*_us` column on neither list. Imports nothing: a registry.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Stamped:
    """A table's host-clock stamps: `own` columns move when their own value was stamped on the
    clock found wrong; `derived` ones (a deadline, an expiry computed from a stamp) move with the
    row's `by` column."""

    table: str
    own: tuple[str, ...]
    derived: tuple[str, ...] = ()
    by: str | None = None
    narrow: str = ""   # SQL that picks the only rows that may hold one (an index's range), "" for all


HOST: tuple[Stamped, ...] = (
    Stamped("gaps", ("from_us", "to_us", "backfill_to_us")),  # how far a backfill came: inside the gap
    Stamped("standins", ("started_us", "ended_us")),  # a standby's spells (storage/footage/standins.py)
    Stamped("not_recorded", ("from_us", "to_us")),
    Stamped("motion_events", ("start_us", "end_us", "created_us")),
    Stamped("alarms", ("raised_us", "updated_us", "cleared_us")),
    Stamped("cameras", ("state_since_us", "last_packet_us", "updated_us", "listed_us")),
    Stamped("retention_passes", ("started_us", "finished_us")),
    Stamped("holds", ("placed_us", "ended_us", "decided_us", "extended_us"),
            ("expires_us", "wanted_expires_us", "review_us"), "placed_us"),
    Stamped("maintenance", ("began_us", "ended_us", "password_changed_us")),
    Stamped("camera_references", ("set_us",)),
    Stamped("inspection_runs", ("ran_us", "signed_us", "countersigned_us")),
    Stamped("inspections", ("at_us", "countersigned_us")),
    Stamped("accounts", ("pw_changed_us", "opened_us", "revoked_us", "locked_until_us")),
    Stamped("account_events", ("at_us",)),
    Stamped("sessions", ("created_us", "ended_us"), ("expires_us",), "created_us"),
    Stamped("login_failures", ("at_us",)),
    Stamped("requests", ("filed_us", "decided_us", "closed_us", "purged_us"), ("due_us",), "filed_us"),
    Stamped("grants", ("created_us", "used_us", "unredacted_us"), ("expires_us",), "created_us"),
    Stamped("exports", ("created_us",)),
    Stamped("retention_grace", ("at_us",), ("grace_until_us",), "at_us"),
    Stamped("restamps", ("at_us", "resolved_us")),
    Stamped("intakes", ("intake_us", "destroyed_us")),  # a portable device's file taken in, its original destroyed
    # an import's intake as stamped on each of its segments, moved with intakes.intake_us (design/0354): the
    # retention pass judges its age from this copy; only imported rows carry one (their paths under imports/)
    Stamped("segment_rows", ("intake_us",), narrow="path >= 'imports/' AND path < 'imports0'"),
)

# Keys of the `node` table holding a host-clock stamp (as text), and JSON values with one inside.
NODE_KEYS: tuple[str, ...] = ("started_us", "heartbeat_us", "stopped_us")
NODE_JSON: dict[str, str] = {"host_clock": "since_us"}

_FOOTAGE = "a segment's stamps stay as recorded (its path is derived from them); its correction is restamps"
_RECORD = "a record already sent to the office; its correction is found by segment id in restamps"
_PERSON = "footage times a person gave, on the true clock"
NOT_HOST: dict[str, dict[str, str]] = {
    "segment_rows": {"start_us": _FOOTAGE, "dur_us": "a length"},
    "intakes": {"claimed_start_us": "what a portable device's clock claims, never this box's"},
    "destructions": {"start_us": _RECORD, "end_us": _RECORD, "destroyed_us": _RECORD},
    "audit": {"at_us": "a hash chain, never rewritten: read through corrections.true_us"},
    "cameras": {"lateness_us": "a difference", "clock_skew_us": "a difference"},
    "holds": {"from_us": _PERSON, "to_us": _PERSON},
    "requests": {"from_us": _PERSON, "to_us": _PERSON},
    "grants": {"from_us": _PERSON, "to_us": _PERSON},
    "exports": {"from_us": _PERSON, "to_us": _PERSON},
    "retention_grace": {"old_max_us": "a length", "new_max_us": "a length"},
    "restamps": {"shift_us": "a difference", "resolved_shift_us": "a difference"},
    "inspection_runs": {"due_us": "the schedule's slot (a unique key), from the site's calendar"},
    "clock_corrections": {"from_us": "the window on the clock found wrong", "to_us": "the window on the clock found "
                          "wrong", "shift_us": "a difference", "at_us": "on the corrected clock"},
}
