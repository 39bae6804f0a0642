"""The states a hold's row can have, named only here (design/0033, design/0041). A hold is
`active`, or `pending` while it waits for an approver. The table: storage/retention/holds.py."""

PENDING, ACTIVE = "pending", "active"
HOLD_STATES = (PENDING, ACTIVE)
# How a hold ended: released by a person, expired (its time was up), rejected by an approver, or
# lapsed (nobody approved it in time).
RELEASED, EXPIRED, REJECTED, LAPSED = "released", "expired", "rejected", "lapsed"
