"""The role matrix (docs/requirements.md "Access model", R4): every operation against every role, pure."""

import pytest

from edged.rules import roles
from edged.rules.roles import ADMIN, APPROVER, AUDITOR, CUSTODIAN, VIEWER

V, C, P, A, AD = VIEWER, CUSTODIAN, APPROVER, AUDITOR, ADMIN
EVERYONE = {V, C, P, A, AD}

# Written out from docs/requirements.md ("Access model", R4-R7) by hand, not copied from roles.MATRIX: the
# test says what the rules are, the module has to agree. An op added later is given its roles once, in
# roles.MATRIX, and held to the rules below (design/0110): the auditor runs only reads, the admin and
# the auditor never footage, every op has a role and no unknown one.
EXPECTED = {
    "logout": EVERYONE,
    "whoami": EVERYONE,
    "account.add": {AD},
    "account.passwd": EVERYONE,            # one's own password
    "account.passwd.other": {AD},
    "account.revoke": {AD},
    "account.list": {AD, A},
    "account.show": {AD, A, P},            # the approver reads the application it signs (design/0088)
    "account.sign": {P},
    "hold.add": {C, P},
    "hold.approve": {P},
    "hold.reject": {P},
    "hold.extend": {C, P},
    "hold.release": {C, P},
    "hold.release.evidence": {C},
    "hold.release.legal": {P},
    "maintenance.begin": {C},
    "maintenance.end": {C},
    "maintenance.password_changed": {C, AD},  # after a vendor's maintenance (design/0083)
    "camera.set_reference": {C},
    "inspect.run": {C},
    "inspect.sign": {C},
    "inspect.countersign": {P},
    "live.view": {V, C, P},                # R4.5: head of office, those authorised, maintenance staff
    "account.live": {AD},                  # live view given per person (design/0108)
    "account.acknowledge": {AD, P},        # someone but the opener vouches for an opening (issues 45, 74)
    "playback.start": {C},                 # recorded footage only through a grant a custodian uses
    "export.run": {C},
    "node.enrol": {AD},
    "node.install_cert": {AD},
    "export.read": {C},
    "export.receipt": {C},  # the office's receipt for an export, by the custodian who made it (design/0375)
    "request.file": {V, C, P},
    "request.list": {V, C, P, A},
    "request.show": {V, C, P, A},
    "request.all": {C, P, A},              # a viewer sees only what they filed
    "request.approve": {P},
    "request.reject": {P},
    "audit.list": {A},
    "audit.export": {A},
    "audit.report": {A},
    "audit.due": {A},
    "usage.register": {C, P, A},   # 001 附件5: kept by the custodian (design/0089)
    # reading (design/0009): how the box is doing for everyone; footage metadata and the
    # registers for those who handle footage or audit its use, never the viewer nor the admin
    "status": EVERYONE,
    "cameras": EVERYONE,
    "alarms": EVERYONE,
    "retention": EVERYONE,
    "audit.verify": EVERYONE,
    "segments": {C, P, A},
    "events": {C, P, A},
    "destructions": {C, P, A},
    "hold.list": {C, P, A},
    "hold.show": {C, P, A},
    "maintenance.list": {C, P, A},
    "inspect.list": {C, P, A},
    "inspect.show": {C, P, A},
    # a segment flagged for a host clock that was behind (design/0059): the custodian resolves the
    # flag with a reason; the auditor reads who did and why, and touches nothing
    "flags.list": {C, P, A},
    "flags.resolve": {C},
    "time.status": EVERYONE,               # what corroborates the host clock (design/0095)
    "time.confirm": {P},                   # the supervisor confirms the host clock, on the record
}


def test_every_op_the_requirements_name_keeps_its_roles():
    missing = set(EXPECTED) - set(roles.MATRIX)
    assert not missing, f"ops the requirements name were removed from roles.MATRIX: {sorted(missing)}"


@pytest.mark.parametrize("op", sorted(roles.MATRIX))
def test_every_op_is_held_to_the_rules(op):
    """R4, R7: every op (those written above and any added since) has a role and no unknown one;
    the ethics office (auditor) runs only reads; footage is never the admin's nor the auditor's."""
    who = roles.MATRIX[op]
    assert who and who <= set(roles.ROLES), f"{op}: roles {sorted(who)}"
    assert AUDITOR not in who or op in roles.READS, f"{op}: the auditor may run it but it is not in roles.READS"
    if op.split(".")[0] in ("live", "playback", "export"):
        assert not who & {AD, A}, f"{op}: footage for the admin or the auditor (R4.4, R7)"
    assert op not in roles.PUBLIC


@pytest.mark.parametrize("op", sorted(EXPECTED))
@pytest.mark.parametrize("role", roles.ROLES)
def test_every_op_against_every_role(op, role):
    assert roles.allowed([role], op) is (role in EXPECTED[op])


@pytest.mark.parametrize("op", sorted(roles.PUBLIC))
def test_public_ops_need_no_role(op):
    assert roles.allowed([], op)
    assert op not in roles.MATRIX


def test_unknown_op_is_refused_for_everyone():
    for op in ("footage.delete", "disk.format", "hold.destroy", "", "ping.x"):
        assert not roles.allowed(roles.ROLES, op)
    assert "not an operation" in roles.refusal("alice", ["admin"], "footage.delete")


def test_admin_sees_no_footage_and_the_auditor_touches_nothing():
    footage = {"live.view", "playback.start", "export.run"}
    assert not any(roles.allowed([AD], op) for op in footage)
    assert not any(roles.allowed([A], op) for op in footage)
    changes = set(roles.MATRIX) - roles.READS
    assert {"hold.add", "flags.resolve", "account.add", "request.approve", "inspect.sign", "time.confirm"} <= changes
    assert not any(roles.allowed([A], op) for op in changes)
    assert roles.ROOT_READS <= roles.READS and roles.READS <= set(roles.MATRIX)


def test_every_op_the_daemon_serves_is_in_the_matrix(tmp_path):
    """Deny by default would silently refuse a read op that was forgotten in MATRIX."""
    from tests.support.control import control_operations

    assert set(control_operations(tmp_path)) - roles.PUBLIC <= set(roles.MATRIX)


def test_root_without_an_account_reads_reports_never_people():
    """What root may read is declared once, roles.ROOT_READS (issue 57): held here to the rules, a
    read of the matrix that is about no person and no footage, not to a second list."""
    assert roles.ROOT_READS <= roles.READS & set(roles.MATRIX)
    assert not {op for op in roles.ROOT_READS if op.split(".")[0] in ("account", "request", "export", "live",
                                                                       "playback")}
    assert not {"audit.list", "audit.export", "audit.report"} & roles.ROOT_READS


def test_several_roles_add_up():
    assert roles.allowed([V, P], "request.approve") and roles.allowed([V, P], "live.view")
    assert not roles.allowed([V, A], "hold.add") and roles.allowed([V, P], "hold.approve")


def test_refusal_names_the_role_needed_and_the_roles_held():
    msg = roles.refusal("vic", ["viewer"], "hold.add")
    assert "custodian" in msg and "vic has viewer" in msg


@pytest.mark.parametrize("given, problem", [
    (["admin", "custodian"], "can never be held by one account"),
    (["custodian", "approver", "admin"], "can never be held by one account"),
    ([], "at least one role"),
    (["root"], "unknown role"),
    (["viewer", "superuser"], "unknown role(s) superuser"),
])
def test_bad_role_sets_are_refused(given, problem):
    with pytest.raises(ValueError, match=problem.replace("(", r"\(").replace(")", r"\)")):
        roles.check_roles(given)


def test_role_sets_come_back_in_canonical_order():
    assert roles.check_roles(["admin", "auditor"]) == ["auditor", "admin"]
    assert roles.check_roles(["approver", "custodian", "viewer"]) == ["viewer", "custodian", "approver"]


def test_camera_scope():
    assert roles.in_scope(None, None) and roles.in_scope(None, ["a"])
    assert roles.in_scope(["a", "b"], ["a"]) and roles.in_scope(["a", "b"], ["b", "a"])
    assert not roles.in_scope(["a"], ["a", "b"])
    assert not roles.in_scope(["a"], None), "a scoped account cannot act on every camera"
    assert roles.out_of_scope(["a"], ["a", "c", "b"]) == ["b", "c"]
    assert roles.out_of_scope(["a"], None) == ["every camera"]
    assert roles.out_of_scope(None, None) == []
