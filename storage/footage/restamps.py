"""Re-stamping after a host clock step (design/0059): the catalog keeps a segment's original
stamps (its path is derived from them) and, in `restamps`, the shift to its true interval; the
audit chain records each correction. The MP4 is never rewritten."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, cast

import sqlite_utils

from storage import audit
from storage.footage import segment_rows
from storage.footage.segment_rows import BOX_STAMPED
from storage.time import trusted_time as tt

# A file the start-up recovery adopted was stamped by the last run's clock, but its id is given
# when it is adopted: neither re-stamped with this run's steps nor judged by its id's order.
ADOPTED = "coalesce(s.note, '') LIKE 'adopted:%'"


def newest_id(db: sqlite_utils.Database) -> int:
    """The newest segment's id (ids are given in recording order): 0 for none."""
    return cast(int, next(db.query("SELECT coalesce(max(id), 0) AS n FROM segment_rows"))["n"])


def before_step(db: sqlite_utils.Database, seen_id: int, before_us: int, after_us: int) -> int:
    """The newest segment stamped before a step: `seen_id` (the newest when the clocks were last
    read, before the step), then those opened since, while their start is nearer to the clock
    before the step (`before_us`) than after it (`after_us`)."""
    through = seen_id
    # an import's stamps are its device's claim, not the clock's: they say nothing of the step
    for r in db.query(f"SELECT id, start_us FROM segment_rows s WHERE id > ? AND {BOX_STAMPED} ORDER BY id",
                      [seen_id]):
        if abs(r["start_us"] - before_us) >= abs(r["start_us"] - after_us):
            break
        through = r["id"]
    return through


def shift(db: sqlite_utils.Database, after_id: int, through_id: int, shift_us: int, at_us: int,
          detail: dict[str, Any]) -> int:
    """Every segment with an id in (after_id, through_id] moves by `shift_us` (added to any
    earlier correction; one this run flagged for a person gets it as its first): one audit record
    names the range, the shift and the step. Files the recovery adopted are not this run's and
    keep theirs. Returns how many segments were re-stamped."""
    # an import's stamps are its device's claim: no step of the box's clock moves them (design/0380)
    own = f"FROM segment_rows s WHERE s.id > ? AND s.id <= ? AND NOT {ADOPTED} AND {BOX_STAMPED}"
    with db.atomic():
        n: int = next(db.query(f"SELECT count(*) AS n {own}", [after_id, through_id]))["n"]
        if not n:
            return 0
        were_flagged = next(db.query(f"SELECT count(*) AS n {own} AND s.id IN (SELECT segment_id FROM restamps "
                               "WHERE shift_us IS NULL)", [after_id, through_id]))["n"]
        db.execute(f"""INSERT INTO restamps (segment_id, shift_us, at_us)
                      SELECT s.id, ?, ? {own}
                      ON CONFLICT(segment_id) DO UPDATE SET
                          shift_us = coalesce(restamps.shift_us, 0) + excluded.shift_us,
                          at_us = excluded.at_us, steps = restamps.steps + 1""",
                   [shift_us, at_us, after_id, through_id])
        extra = {"were_flagged": were_flagged} if were_flagged else {}
        audit.append(db, "edged", "segments.restamp", {"first_id": after_id + 1, "last_id": through_id,
                                                       "segments": n, "shift_us": shift_us, **extra, **detail},
                     at_us=at_us)
    return n


@dataclass(slots=True)
class Steps:
    """This run's host clock steps as the re-stamping gave them, for the rows that come after
    it (`catch_up`). Read and written only in the catalog writer's thread, so a step's re-stamp
    and a segment row's insert are in one order."""

    current_us: int | None = None   # the clock's basis (trusted_time.basis) after the last step
    steps: list[tuple[int, int]] = field(default_factory=list)  # (basis before a step, its shift)

    def stepped(self, step: tt.Step) -> None:
        self.steps.append((tt.basis(step.before_us, step.at_mono_us), tt.restamp_shift(step)))
        self.current_us = tt.basis(step.after_us, step.at_mono_us)


def catch_up(db: sqlite_utils.Database, book: Steps, path: str, basis_us: int | None, at_us: int) -> int:
    """A segment row written after this run re-stamped for a step, though its worker stamped it
    on the clock before the step (its `Opened` was on its way): it gets the shift it missed, with
    its own audit record, as `shift` gives the others. Returns the shift given (0: none missed)."""
    if basis_us is None or book.current_us is None or not book.steps:
        return 0
    missed = tt.missed_shift(basis_us, book.steps, book.current_us)
    if missed is None:
        return 0
    where, args = segment_rows.by_path(path)
    row = next(db.query(f"SELECT id FROM segment_rows WHERE {where}", args), None)
    if row is None:
        return 0
    shift(db, row["id"] - 1, row["id"], missed, at_us, {"reason": "host_clock_step", "late": True})
    return missed


def placed(db: sqlite_utils.Database, after_id: int, limit: int, upto_id: int | None = None) -> list[tt.Placed]:
    """Up to `limit` segments above `after_id` (and up to `upto_id`) in id order, as the order
    detector reads them: stamps as corrected, whether corrected or flagged already, whether
    adopted. By the primary key: a range, never a scan."""
    upto = "" if upto_id is None else " AND s.id <= ?"
    return [tt.Placed(r["id"], r["camera"], r["start_us"], r["end_us"], not r["corrected"] and not r["adopted"],
                      bool(r["flagged"]), claim=bool(r["claim"]))
            for r in db.query(
                f"""SELECT s.id, k.camera, s.start_us + coalesce(r.shift_us, 0) AS start_us,
                          s.start_us + s.dur_us + coalesce(r.shift_us, 0) AS end_us,
                          r.segment_id IS NOT NULL AS corrected, r.segment_id IS NOT NULL AND r.shift_us IS NULL
                          AS flagged, {ADOPTED} AS adopted, NOT {BOX_STAMPED} AS claim
                   FROM segment_rows s JOIN camera_keys k ON k.num = s.cam
                   LEFT JOIN restamps r ON r.segment_id = s.id WHERE s.id > ?{upto} ORDER BY s.id LIMIT ?""",
                [after_id, *([] if upto_id is None else [upto_id]), limit])]


def flag(db: sqlite_utils.Database, ids: list[int], at_us: int, detail: dict[str, Any],
         place: tuple[str, str] | None = None) -> int:
    """Flag segments for a person (`shift_us` NULL): stamped by a clock that was behind, they
    cannot be re-stamped and are never destroyed by age. One audit record names them; `place`
    (a node key and value) keeps the detector's place in the same transaction. Returns how many
    segments are flagged in all."""
    with db.atomic():
        if ids:
            db.conn.executemany("INSERT INTO restamps (segment_id, shift_us, at_us, steps) VALUES (?, NULL, ?, 0) "
                                "ON CONFLICT(segment_id) DO NOTHING", [(i, at_us) for i in ids])
            audit.append(db, "edged", "segments.flagged", {"segments": len(ids), "first_id": ids[0],
                                                           "ids": ids[:200], **detail}, at_us=at_us)
        if place is not None:
            db.execute("INSERT INTO node (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = "
                       "excluded.value", list(place))
        return flagged_count(db)


def flagged_count(db: sqlite_utils.Database) -> int:
    """Flagged segments no person has resolved yet (the `segments_flagged` alarm's count)."""
    return cast(int, next(db.query("SELECT count(*) AS n FROM restamps r JOIN segment_rows s ON s.id = r.segment_id "
                                   "WHERE r.shift_us IS NULL AND r.resolved_us IS NULL"))["n"])


class ResolveError(ValueError):
    """Not resolved: no reason given (`bad` empty), or these ids are not flagged, unresolved
    segments of the cameras given."""

    def __init__(self, bad: list[int]):
        super().__init__(", ".join(map(str, bad)) or "no reason")
        self.bad = bad


def flags(db: sqlite_utils.Database, cameras: list[str] | None = None, resolved: bool = False,
          limit: int = 1000) -> list[dict[str, Any]]:
    """Segments flagged for a person, oldest id first: unresolved ones, or every one (`resolved`)."""
    where = ["r.shift_us IS NULL"]
    args: list[Any] = []
    if not resolved:
        where.append("r.resolved_us IS NULL")
    if cameras is not None:
        where.append(f"s.camera IN ({', '.join('?' for _ in cameras)})")
        args += cameras
    return list(db.query(
        f"""SELECT s.id, s.camera, s.start_us, s.end_us, s.path, r.at_us AS flagged_us, r.resolved_us,
                   r.resolved_by, r.resolved_reason, r.resolved_shift_us
            FROM restamps r JOIN segments s ON s.id = r.segment_id WHERE {' AND '.join(where)}
            ORDER BY s.id LIMIT ?""", [*args, limit]))


def resolve(db: sqlite_utils.Database, ids: list[int] | None, by: str, reason: str, at_us: int,
            cameras: list[str] | None = None, true_start_us: int | None = None) -> list[dict[str, Any]]:
    """A person resolves flagged segments (`ids`, or every unresolved one of `cameras`, None:
    all): who, when and why are kept next to the flag, which stays, and one audit record names
    them. The segments, their stamps and their files are not touched. `true_start_us`: the time
    the person found the one segment named began (its picture's time display, the camera's own
    recording); retention then judges its age by it (design/0096); without it, by the bound on
    its end (`end_bounds`). Refused (ResolveError) without a reason, with a time for more than
    one segment, or when an id is not a flagged, unresolved segment of the cameras given.
    Returns the rows resolved."""
    reason = reason.strip()
    if not reason:
        raise ResolveError([])
    if true_start_us is not None and (ids is None or len(set(ids)) != 1):
        raise ResolveError(sorted(set(ids or [])) or [0])
    with db.atomic():
        open_ = {r["id"]: r for r in flags(db, cameras, limit=1_000_000_000)}
        if ids is None:
            chosen = sorted(open_)
        else:
            bad = sorted(set(ids) - set(open_))
            if bad:
                raise ResolveError(bad)
            chosen = sorted(set(ids))
        if not chosen:
            return []
        placed = None if true_start_us is None else true_start_us - open_[chosen[0]]["start_us"]
        db.conn.executemany("UPDATE restamps SET resolved_us = ?, resolved_by = ?, resolved_reason = ?, "
                            "resolved_shift_us = ? WHERE segment_id = ?", [(at_us, by, reason, placed, i) for i in chosen])
        timed = {} if placed is None else {"true_start_us": true_start_us, "resolved_shift_us": placed}
        audit.append(db, by, "segments.flag_resolved", {
            "segments": len(chosen), "first_id": chosen[0], "ids": chosen[:200],
            "cameras": sorted({open_[i]["camera"] for i in chosen}), "reason": reason, **timed}, at_us=at_us)
    return [{**open_[i], "resolved_us": at_us, "resolved_by": by, "resolved_reason": reason,
             "resolved_shift_us": placed} for i in chosen]


def corrected(db: sqlite_utils.Database, camera: str | None = None) -> list[dict[str, Any]]:
    """The segments with a correction: original and corrected stamps side by side."""
    where, args = ("WHERE s.camera = ?", [camera]) if camera else ("", [])
    return list(db.query(
        f"""SELECT s.id, s.camera, s.start_us, s.end_us, r.shift_us, r.steps,
                   s.start_us + r.shift_us AS true_start_us, s.end_us + r.shift_us AS true_end_us
            FROM restamps r JOIN segments s ON s.id = r.segment_id {where} ORDER BY s.id""", args))


# Retention's age rule (storage/retention/run.candidates) judges a re-stamped segment by its
# corrected end, and a flagged one (shift NULL) never: this is the SQL condition for that.
# A flagged segment a person resolved with its time (`resolved_shift_us`, design/0096) is judged by it.
AGE_OK = ("NOT EXISTS (SELECT 1 FROM restamps r WHERE r.segment_id = segments.id AND "
          "(coalesce(r.shift_us, r.resolved_shift_us) IS NULL OR "
          "segments.end_us + coalesce(r.shift_us, r.resolved_shift_us) >= ?))")
# The segments re-stamped back (a clock that was ahead): their stamps as made are past their true time,
# so a query by the stamps as made (the index) misses them when they are due (design/0364).
BACK_SQL = "SELECT segment_id FROM restamps WHERE coalesce(shift_us, resolved_shift_us) < 0"
# The shift that places a segment on the true clock (0: none), and whether its time is unknown.
SHIFT_SQL = ("coalesce((SELECT coalesce(r.shift_us, r.resolved_shift_us) FROM restamps r "
             "WHERE r.segment_id = segments.id), 0)")
UNKNOWN_SQL = ("EXISTS (SELECT 1 FROM restamps r WHERE r.segment_id = segments.id AND r.shift_us IS NULL "
               "AND r.resolved_shift_us IS NULL)")


def end_bounds(db: sqlite_utils.Database, camera: str) -> dict[int, int | None]:
    """The camera's flagged segments whose time is unknown, each with a bound on its true end
    (design/0096): ids are given in recording order, so it ended before its camera's next segment
    on a trusted clock began (the next by id that is neither flagged nor adopted: its stamps as
    corrected). None: no such segment yet. By the primary key from each flagged id: a short walk."""
    return {r["id"]: r["bound"] for r in db.query(
        f"""SELECT f.segment_id AS id, (
                SELECT s2.start_us + coalesce(r2.shift_us, 0) FROM segment_rows s2
                LEFT JOIN restamps r2 ON r2.segment_id = s2.id
                WHERE s2.id > f.segment_id AND s2.cam = s.cam AND (r2.segment_id IS NULL OR r2.shift_us IS NOT NULL)
                  AND NOT {ADOPTED.replace('s.note', 's2.note')}
                ORDER BY s2.id LIMIT 1) AS bound
            FROM restamps f JOIN segment_rows s ON s.id = f.segment_id
            WHERE f.shift_us IS NULL AND f.resolved_shift_us IS NULL
              AND s.cam = (SELECT num FROM camera_keys WHERE camera = ?)""", [camera])}


# A segment's true stamps (design/0096): as recorded when no correction names it; moved by its shift;
# a flagged one by the time a person gave it when resolving (`resolved_shift_us`), else unknown.
TRUE_SHIFT = "coalesce(r.shift_us, r.resolved_shift_us)"


def true_span(db: sqlite_utils.Database, camera: str | None = None) -> tuple[int | None, int | None]:
    """The oldest start and the newest end of footage (of `camera`, None: every camera) on the true
    clock, for `edgectl status` and `edgectl retention`: by the index for the segments no
    correction names, and over `restamps` (small) for the rest. A flagged segment whose time is
    unknown counts for neither."""
    cam, args = ("camera = ? AND ", [camera]) if camera else ("", [])
    plain = f"{cam}state IN ('complete', 'recovered') AND NOT EXISTS (SELECT 1 FROM restamps r WHERE r.segment_id = " \
            "segments.id)"
    first = next(db.query(f"SELECT start_us FROM segments WHERE {plain} ORDER BY start_us LIMIT 1", args), None)
    last = next(db.query(f"SELECT end_us FROM segments WHERE {plain} ORDER BY start_us DESC LIMIT 1", args), None)
    moved = next(db.query(
        f"SELECT min(s.start_us + {TRUE_SHIFT}) AS a, max(s.end_us + {TRUE_SHIFT}) AS b FROM restamps r "
        f"JOIN segments s ON s.id = r.segment_id WHERE {cam.replace('camera', 's.camera')}"
        f"s.state IN ('complete', 'recovered') AND {TRUE_SHIFT} IS NOT NULL", args))
    starts: list[int] = [v for v in (first["start_us"] if first else None, moved["a"]) if v is not None]
    ends: list[int] = [v for v in (last["end_us"] if last else None, moved["b"]) if v is not None]
    return (min(starts) if starts else None), (max(ends) if ends else None)
