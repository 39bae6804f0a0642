"""The viewer's decisions as plain functions over plain data: who may watch what, until when,
and what the audit record of a view says. No I/O, no clock: the caller passes `now_us`.

Roles and per-camera scope come from edged.rules.roles (the same table edgectl is held to);
grants are checked and used by edged.people.use_grant (once, by a custodian).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from edged.i18n import _
from edged.rules import audit_words as aw
from edged.rules import retrieval as rq
from edged.rules.roles import allowed, in_scope, refusal, refused_words

LIVE, PLAYBACK = "live", "playback"


def live_refusal(session: dict[str, Any], camera: str, cameras: Sequence[str]) -> str | None:
    """Why this session may not watch this camera live (R4.5, R4.2), or None."""
    if camera not in cameras:
        return _("there is no camera {camera} on this box").format(camera=camera)
    if not allowed(session["roles"], "live.view"):
        return refusal(session["account"], session["roles"], "live.view")
    if not session.get("live"):
        return _("refused: live view is given per person by an admin on the head's authorisation, and "
                 "{account} has not been given it; ask the account administrator").format(account=session["account"])
    if not in_scope(session["cameras"], [camera]):
        return _("refused: {account} has no rights on camera {camera}").format(
            account=session['account'], camera=camera)
    return None


def live_refusal_words(session: dict[str, Any], camera: str, cameras: Sequence[str]) -> str | None:
    """`live_refusal` as the person reads it on the grid (issue 56): who may do it, in titles, and
    what to do next; no operation key, no account id, no camera id (the audit keeps those)."""
    if camera not in cameras:
        return _("There is no such camera on this box: go back to the live view and choose one of its cameras.")
    if not allowed(session["roles"], "live.view"):
        return refused_words(session["roles"], "live.view")
    if not session.get("live"):
        return _("Refused: live view is given to each person by the account administrator on the head of "
                 "office's authorisation, and you have not been given it; ask the account administrator.")
    if not in_scope(session["cameras"], [camera]):
        return _("Refused: this camera is not among the cameras you may watch; ask the account administrator.")
    return None


def live_cameras(session: dict[str, Any], cameras: Sequence[str]) -> list[str]:
    """The cameras this session may watch live, in config order (the live page lists these)."""
    return [c for c in cameras if live_refusal(session, c, cameras) is None]


def playback_refusal(session: dict[str, Any]) -> str | None:
    """Recorded footage is started by a custodian's session (R5.4); the grant is checked on use."""
    if not allowed(session["roles"], "playback.start"):
        return refusal(session["account"], session["roles"], "playback.start")
    return None


def playback_refusal_words(session: dict[str, Any]) -> str | None:
    """`playback_refusal` as the person reads it: who may start a viewing, in titles (issue 56)."""
    return refused_words(session["roles"], "playback.start") if playback_refusal(session) else None


def waiting_viewings(requests: Sequence[dict[str, Any]], account: str, now_us: int,
                     cameras: Sequence[str]) -> dict[str, list[int]]:
    """Per camera of `cameras`, the view grants this custodian may use now, as the desk's home
    page offers them (design/0108): approved, unused, in time, not signed by this person. The live
    grid links a tile to its camera's (design/0113's amendment); playback itself checks again."""
    out: dict[str, list[int]] = {}
    for req in requests:
        g = req.get("grant")
        if not g or g.get("mode") != "view" or rq.refuse_use(g, mode="view", now_us=now_us) is not None:
            continue
        signers = [step["by"] for step in rq.steps_signed(req)]
        if rq.approver_refusal({"approvers": signers, "request_id": req.get("id")}, account) is not None:
            continue
        for camera in g.get("cameras") or req.get("cameras") or ():
            if camera in cameras:
                out.setdefault(camera, []).append(int(g["id"]))
    return out


def watcher_for(grant: dict[str, Any], typed: str | None) -> str:
    """Who watches: the name the custodian typed, else the grant's requester ("" if neither)."""
    name = (typed or "").strip()
    return name or str(grant.get("requester") or "").strip()


def grant_camera_refusal(grant: dict[str, Any], camera: str | None,
                         name: Callable[[str], str] = str) -> str | None:
    """A playback shows one camera of the grant at a time; never one outside it. Cameras by
    their names (`name`: id -> name), never by id (issue 56)."""
    if camera is not None and camera not in grant["cameras"]:
        return _("That camera is not in grant {id}: choose one of {cameras}.").format(
            id=grant['id'], cameras='、'.join(name(c) for c in grant['cameras']))
    return None


def camera_down_words(name: str) -> str:
    """A live tile whose camera does not answer, in the person's words with what to check
    (issue 56); the technician's reason travels beside it, folded."""
    return _("{camera} is not answering: check that the camera has power and that its network cable is "
             "plugged in, then try again; if it stays dark, call the technician.").format(camera=name)


@dataclass(frozen=True, slots=True)
class ViewLimits:
    max_view_us: int
    idle_timeout_us: int


def view_deadline(started_us: int, session_expires_us: int, limits: ViewLimits) -> int:
    """A view ends when its session expires or after max_view, whichever is first."""
    return min(session_expires_us, started_us + limits.max_view_us)


def end_reason(now_us: int, started_us: int, session: dict[str, Any] | None, limits: ViewLimits,
               kind: str = "") -> str | None:
    """Why an open view must end now, or None while it may go on. `session` is the view's
    session as last read (None: logged out, revoked or gone); a live view ends when the
    account's live view is taken (design/0108)."""
    if session is None:
        return aw.VIEW_SESSION_ENDED  # a reason on the audit record; the page is told it translated
    if kind == LIVE and not session.get("live", True):
        return aw.VIEW_LIVE_TAKEN
    if now_us >= session["expires_us"]:
        return aw.VIEW_SESSION_EXPIRED
    if now_us >= started_us + limits.max_view_us:
        return aw.VIEW_TIME_LIMIT
    return None


def idle(last_seen_us: int, open_views: int, now_us: int, limits: ViewLimits) -> bool:
    """A login with no view open and no request for idle_timeout is logged out."""
    return open_views == 0 and now_us - last_seen_us >= limits.idle_timeout_us


def start_record(kind: str, view_id: str, camera: str, *, viewer: str, grant: dict[str, Any] | None = None,
                 watcher: str | None = None, via: str = "viewer") -> tuple[str, dict[str, Any]]:
    """(action, detail) of the audit record that opens a view. Who watched is named in the grant's
    row (purged with the request, R5.7), never on the chain or over MQTT: the record carries the
    request and grant numbers that lead to it."""
    detail: dict[str, Any] = {"view": view_id, "camera": camera, "via": via}
    if kind == PLAYBACK and grant is not None:
        detail.update(grant=grant["id"], request=grant.get("request_id"), from_us=grant["from_us"],
                      to_us=grant["to_us"], custodian=viewer,
                      watcher=None if not watcher else f"request {grant.get('request_id')}")
    return f"{kind}.start", detail


def stop_record(kind: str, view_id: str, camera: str, *, started_us: int, now_us: int, reason: str,
                played: tuple[int, int] | None = None) -> tuple[str, dict[str, Any]]:
    """(action, detail) of the audit record that closes a view: how long it lasted and why it ended;
    for a playback, the footage span actually shown."""
    detail: dict[str, Any] = {"view": view_id, "camera": camera, "reason": reason,
                              "duration_us": max(0, now_us - started_us), "started_us": started_us}
    if kind == PLAYBACK and played is not None:
        detail.update(shown_from_us=played[0], shown_to_us=played[1])
    return f"{kind}.stop", detail


def overlay_text(kind: str, viewer: str, watcher: str | None = None) -> str:
    """The name burnt over the picture on the page, so a photograph of the screen can be traced (R5.4)."""
    if kind == PLAYBACK and watcher:
        return _("watched by {watcher}, accompanied by {viewer}").format(watcher=watcher, viewer=viewer)
    return _("viewer {name}").format(name=viewer)
