"""Who may do what (docs/requirements.md "Access model", R4): a pure table, no I/O.

The control socket asks `allowed(roles, op)` before it runs any operation; an operation
missing from MATRIX is refused for everyone (deny by default), so a new control op must be
given its roles here. Some ops carry a finer right that the handler asks for once it knows
the details (which kind of hold, whose password): those are the dotted "sub-rights" below.

There is no right to delete or format footage, because no such operation exists (R1.6, R4.3).
"""

from __future__ import annotations

from typing import Iterable, Protocol, Sequence, Union

from edged.i18n import _, hinted
from edged.rules.words import ROLE_WORDS, either, listed, word

VIEWER, CUSTODIAN, APPROVER, AUDITOR, ADMIN = "viewer", "custodian", "approver", "auditor", "admin"
ROLES = (VIEWER, CUSTODIAN, APPROVER, AUDITOR, ADMIN)
# R4.4: the highest-privilege role (settings and accounts) is never held by an operator.
EXCLUSIVE = ((ADMIN, CUSTODIAN),)

# Operations that need no session: a liveness check, logging in, and the first admin (root only).
PUBLIC = frozenset({"ping", "login", "init-admin"})
# What a session opened with a one-time password may do (an admin set it, design/0042): change it
# (its own only), and see who it is or log out.
ONE_TIME_OPS = frozenset({"account.passwd", "whoami", "logout"})

# Root on the box may read the reports without an account (monitoring, the first minutes on a box,
# an emergency): it can read the disk anyway, and listing footage is still on the record (as
# "root"). Not accounts, requests or the audit log's content: those are about people.
ROOT_READS = frozenset({"status", "cameras", "alarms", "retention", "audit.verify", "segments", "events", "destructions",
                        "hold.list", "hold.show", "maintenance.list", "inspect.list", "inspect.show", "flags.list",
                        "time.status"})

# Root on the box may also vouch for an account an admin opened (issue 74, storage/people/vouching.py):
# root is trusted (it opened the first admin), and no admin's own accounts vouch for each other.
ROOT_ACTS = frozenset({"account.acknowledge"})

# The operations that change no record (reports, lists, the registers, one's own session and
# password): the only ones the ethics office (the auditor) may run, R7 (tests/test_roles.py holds
# every op of MATRIX to it).
READS = ROOT_READS | ONE_TIME_OPS | frozenset({"account.list", "account.show", "account.waiting", "request.list", "request.show", "request.all",
                                "audit.list", "audit.export", "audit.report", "audit.due", "usage.register",
                                "evidence.list"})

_ANY = frozenset(ROLES)
_STAFF = frozenset({VIEWER, CUSTODIAN, APPROVER})
# Who may read footage metadata (segments, gaps, destructions, holds) and the registers: those who
# handle footage or judge its use, and the ethics office that audits them (design/0009). Not the
# viewer (live view only) and not the admin (accounts, no footage, R4.4).
_RECORDS = frozenset({CUSTODIAN, APPROVER, AUDITOR})

MATRIX: dict[str, frozenset[str]] = {
    # reading (design/0017: edgectl reads nothing on disk, it asks here). How the box is doing is
    # for every account; footage metadata and the registers for _RECORDS, within the account's
    # cameras (listing footage is on the audit chain).
    "status": _ANY,
    "cameras": _ANY,
    "alarms": _ANY,
    "retention": _ANY,
    "segments": _RECORDS,
    "events": _RECORDS,            # motion events: footage metadata
    "destructions": _RECORDS,
    "hold.list": _RECORDS,
    "hold.show": _RECORDS,
    "maintenance.list": _RECORDS,
    "inspect.list": _RECORDS,
    "inspect.show": _RECORDS,
    "flags.list": _RECORDS,
    "audit.verify": _ANY,          # the answer shows no record's content
    # sessions: every account may see who it is and log out
    "logout": _ANY,
    "whoami": _ANY,
    # accounts (R4.1): opened, password changed and revoked by an admin, each with a reason;
    # everyone may change their own password; the auditor reads accounts and rights (R7.2)
    "account.add": frozenset({ADMIN}),
    "account.passwd": _ANY,                       # own password; another's needs the sub-right
    "account.passwd.other": frozenset({ADMIN}),
    "account.revoke": frozenset({ADMIN}),
    "account.acknowledge": frozenset({ADMIN, APPROVER}),   # someone else vouches for an account an admin opened (issue 74)
    # live view is a permission of its own, given per person by an admin (001 §15, 002 §7;
    # design/0108): "live.view" below is the roles that may hold it, the account's `live` the grant
    "account.live": frozenset({ADMIN}),
    "account.list": frozenset({ADMIN, AUDITOR}),
    "account.show": frozenset({ADMIN, AUDITOR, APPROVER}),  # the approver reads the application it signs
    # an approver signs a box of an account's application (design/0088): neither its holder nor
    # the admin who carried the change out (edged/rules/applications.py sign_refusal)
    "account.sign": frozenset({APPROVER}),
    "account.waiting": frozenset({APPROVER}),   # the applications the approver may sign now (its inbox)
    # the account administrator records a box signed on paper while nobody who may sign it can
    # log in: the bootstrap of the approvers' own applications (design/0260)
    "account.sign_paper": frozenset({ADMIN}),
    # holds (R6): a custodian preserves evidence; only an approver releases a legal hold. Who
    # may place, approve and extend which kind is the site's [policy.holds] (edged/rules/holds.py),
    # within these roles; an approver approves a hold that waits for one (R8.3).
    "hold.add": frozenset({CUSTODIAN, APPROVER}),
    "hold.approve": frozenset({APPROVER}),
    "hold.reject": frozenset({APPROVER}),
    "hold.extend": frozenset({CUSTODIAN, APPROVER}),
    "hold.release": frozenset({CUSTODIAN, APPROVER}),
    "hold.release.evidence": frozenset({CUSTODIAN}),
    "hold.release.legal": frozenset({APPROVER}),
    # running the system: the custodian (R1.7, R3)
    "maintenance.begin": frozenset({CUSTODIAN}),
    "maintenance.end": frozenset({CUSTODIAN}),
    # after a vendor's maintenance (002 §6(3), design/0083): the technician who changed the
    # superuser password records it, or the admin who holds it (the 權限管理者)
    "maintenance.password_changed": frozenset({CUSTODIAN, ADMIN}),
    "camera.set_reference": frozenset({CUSTODIAN}),
    "inspect.run": frozenset({CUSTODIAN}),
    "inspect.sign": frozenset({CUSTODIAN}),
    "inspect.countersign": frozenset({APPROVER}),  # R3.2: the supervisor's sign-off
    # segments flagged for a host clock that was behind (design/0059): the custodian, who runs the
    # system and answers its alarms, resolves a flag with a reason; the auditor reads who did and
    # why (a check on the custodian, never a party to it). No footage is touched.
    "flags.resolve": frozenset({CUSTODIAN}),
    # the host clock (design/0095): an approver (the supervisor) confirms it is right when nothing
    # outside the box can, on the record; who reads retention reads what corroborates the clock
    "time.confirm": frozenset({APPROVER}),
    "time.status": _ANY,
    # footage: live view for the head of office (approver), those they authorise (viewer) and
    # maintenance staff (custodian), R4.5; never the auditor (no footage) nor the admin (R4.4).
    # Recorded footage only through a grant, used by a custodian (R5.4, R5.5).
    "live.view": frozenset({VIEWER, CUSTODIAN, APPROVER}),
    "playback.start": frozenset({CUSTODIAN}),
    "export.run": frozenset({CUSTODIAN}),
    "evidence.import": frozenset({CUSTODIAN}),     # a portable device's file into custody (design/0349)
    # the intakes' register (who took what in, its SHA-256, when its original went): no footage in it
    "evidence.list": _RECORDS,
    # the box's enrolment with the office's CA (design/0097): the box's identity is a setting,
    # the admin's (R4.4); the office accepts it on its own record
    "node.enrol": frozenset({ADMIN}),
    "node.install_cert": frozenset({ADMIN}),
    "export.read": frozenset({CUSTODIAN}),         # the export's own files, by the custodian who made it
    "export.receipt": frozenset({CUSTODIAN}),      # the office's receipt for it, waited for (design/0375)
    # a redacted copy of an export (issue 54): made and read by the custodian who made the export
    "redact.run": frozenset({CUSTODIAN}),
    "redact.read": frozenset({CUSTODIAN, APPROVER}),   # and the second person who releases it (design/0328)
    "redact.show": frozenset({CUSTODIAN, APPROVER}),   # the copy made, to play and release (design/0347)
    # released by who prepared it, or by a second custodian or approver where the site asks (design/0328)
    "redact.release": frozenset({CUSTODIAN, APPROVER}),
    # retrieval requests (R5): staff file; an approver who did not file decides; a viewer
    # sees only the requests they filed; custodians, approvers and the auditor see all
    "request.file": _STAFF,
    "request.list": _STAFF | {AUDITOR},
    "request.show": _STAFF | {AUDITOR},
    "request.all": frozenset({CUSTODIAN, APPROVER, AUDITOR}),
    "request.approve": frozenset({APPROVER}),
    "request.reject": frozenset({APPROVER}),
    # a citizen's whole picture where the site redacts it (design/0276): an approver the site names,
    # with a reason, never who filed it; the custodian who uses the grant never allowed it
    "request.unredact": frozenset({APPROVER}),
    # the audit log (R7): the ethics office reads it; anyone may check that the chain is intact.
    "audit.list": frozenset({AUDITOR}),
    "audit.export": frozenset({AUDITOR}),
    "audit.report": frozenset({AUDITOR}),
    "audit.due": frozenset({AUDITOR}),  # when the next periodic audit is due: the auditor's home page
    # the usage register (001 第十八點、附件5, design/0089): kept by the custodian who handles the
    # footage, read by the approver and the ethics office; not the clerk (viewer) nor the admin
    "usage.register": _RECORDS,
}


def allowed(roles: Iterable[str], op: str) -> bool:
    """May an account holding `roles` run `op` (or hold the sub-right `op`)?"""
    if op in PUBLIC:
        return True
    needed = MATRIX.get(op)
    return needed is not None and not needed.isdisjoint(roles)


def refusal(account: str, roles: Sequence[str], op: str) -> str:
    """The message for a refused operation: what it needs, what the account has."""
    needed = MATRIX.get(op)
    if needed is None:
        return _("{op} is not an operation any role may run").format(op=op)
    have = ", ".join(roles) or _("no role")
    return _("refused: {op} needs the {items} role; {account} has {have}").format(
        op=op, items=' or '.join(r for r in ROLES if r in needed), account=account, have=have)


def refused_words(roles_: Sequence[str], op: str) -> str:
    """`refusal` in a person's words (design/0103): who may do it, what the person is; no operation
    key and no account id (the person knows who they are). `refusal` is its technician's hint."""
    needed = MATRIX.get(op)
    if needed is None:
        return _("Refused: nobody may do this here.")
    return _("Refused: this is for the {roles}; your role is {have}.").format(
        roles=either(ROLE_WORDS, [r for r in ROLES if r in needed]),
        have=listed(ROLE_WORDS, roles_) if roles_ else _("no role")) + " " + next_step(roles_, op)


def next_step(roles_: Sequence[str], op: str) -> str:
    """What a person refused `op` can do instead (issue 77: no refusal is a dead end): the page of
    their own that serves what they came for, or who to ask."""
    if op in ("account.list", "account.show") and allowed(roles_, "account.waiting"):
        return _("The account applications waiting for your signature are listed under “Waiting for you”.")
    if op == "playback.start" and allowed(roles_, "request.file"):
        return _("Recorded footage is viewed under an approved request: file one under “File a request”.")
    return _("What your role does is on your home page.")


def check_roles(roles: Iterable[str]) -> list[str]:
    """The roles of a new account, in canonical order; ValueError says what is wrong."""
    given = [str(r).strip() for r in roles]
    unknown = sorted({r for r in given if r not in ROLES})
    if unknown:
        raise ValueError(_("unknown role(s) {unknown}; roles are {roles}").format(
            unknown=', '.join(unknown), roles=', '.join(ROLES)))
    if not given:
        raise ValueError(_("an account needs at least one role ({roles})").format(roles=', '.join(ROLES)))
    for a, b in EXCLUSIVE:
        if a in given and b in given:
            raise hinted(ValueError(_("{a} and {b} can never be held by one account (separation of duties): open "
                                      "two accounts for two people").format(
                a=word(ROLE_WORDS, a), b=word(ROLE_WORDS, b))), f"R4.4: {a}, {b}")
    return [r for r in ROLES if r in given]


def in_scope(scope: Sequence[str] | None, cameras: Sequence[str] | None) -> bool:
    """Per-camera rights (R4.2): scope None is every camera; cameras None asks for every camera."""
    if scope is None:
        return True
    if cameras is None:
        return False
    return set(cameras) <= set(scope)


def out_of_scope(scope: Sequence[str] | None, cameras: Sequence[str] | None) -> list[str]:
    """The cameras outside the scope, for the refusal message (["every camera"] for all)."""
    if in_scope(scope, cameras):
        return []
    if cameras is None:
        return [_("every camera")]
    return sorted(set(cameras) - set(scope or ()))


# Who acts on an alarm that is about a person or a request (issue 45 item 3): an account's alarms
# (opened, locked, a password guessed at) go to those who read accounts; an ethics alarm about a
# request (R5.8, R7.3) to the ethics office and the approvers. Camera alarms follow the camera
# scope (R4.2); the box's own (host, task, hold) go to everyone who may list alarms.
ALARM_READERS = {"account": frozenset({ADMIN, AUDITOR, APPROVER}), "request": frozenset({APPROVER, AUDITOR})}


def sees_alarm(roles: Iterable[str], scope: Sequence[str] | None, kind_scope: str, camera: str | None) -> bool:
    """Whether an account with `roles` and camera `scope` may read an alarm of a kind whose scope
    is `kind_scope` (storage/alarm_kinds.py) about `camera`."""
    if kind_scope in ALARM_READERS:
        return bool(ALARM_READERS[kind_scope] & set(roles))
    if kind_scope in ("camera", "file"):
        return scope is None or (camera is not None and camera in scope)
    return True


def one_time_door(setters: Sequence[dict[str, str]], *, os_user: str | None = None, address: str | None = None,
                  session: str | None = None) -> str | None:
    """The door through which a one-time password may not be used first, if this is one (issue 45;
    R4.4): the OS account (root too), the desk's client address or the desk session that set it.
    None: the login may go on."""
    for s in setters:
        if os_user is not None and s.get("set_by_os") == os_user:
            return _("the OS account {user}").format(user=os_user)
        if address and s.get("set_by_address") == address:
            return _("the address {address}").format(address=address)
        if session and s.get("set_by_session") == session:
            return _("the same desk session")
    return None


class Asker(Protocol):
    """A person running a control operation, as the operations read them (edged/control/server.py's
    Caller on the socket, the desk's session): their account (None: an OS user before login),
    roles and camera scope (None: every camera). str() is the actor on the audit record."""

    @property
    def account(self) -> str | None: ...
    @property
    def roles(self) -> tuple[str, ...]: ...
    @property
    def cameras(self) -> tuple[str, ...] | None: ...


# Who an operation runs for: a person, or a signed MQTT command's actor ("mqtt:key:<fingerprint>").
Actor = Union[Asker, str]
