"""The [policy] table: the site's rules for retrieval requests (design/0036).

    [policy]
    kinds = ["internal", "agency", "police-urgent"]   # the request kinds this site takes
    categories = ["lost-property", "damage", "campus-safety"]

    [policy.internal]
    modes = ["view"]                 # view and/or copy
    copy_to = "anyone"               # who may receive a copy: "anyone" named, or the "requester" only
    receipt = false                  # the recipient signs a receipt, recorded with the export
    due = "6d"                       # the answer is due this long after filing (default: none;
                                     # citizens: [accounts] citizen_due)
    chain = [{ name = "section chief" }, { name = "director", approvers = ["hsu"] }]

Everything left out is edged's old rule (edged.rules.policy.default_policy). Each error names
the field: `policy.internal.chain[1].approvers`.
"""

from __future__ import annotations

from typing import Any, Sequence

from edged.config.values import DAY, HOUR, ConfigError, _bool, _check_keys, _describe, _duration, _join, _string
from edged.rules.policy import (
    COPY_TO,
    KINDS,
    MODES,
    KindRules,
    RequestPolicy,
    Step,
    default_policy,
    problems,
)

_KIND_KEYS = ("modes", "copy_to", "receipt", "due", "chain")
_STEP_KEYS = ("name", "approvers", "cameras")
_HINTS = {"approval": 'did you mean "chain"? (an array of steps, e.g. [{ name = "director" }])',
          "approvers": 'approvers belong to a step of the chain: chain = [{ name = "director", approvers = ["hsu"] }]',
          "copy": 'did you mean "modes"? (e.g. modes = ["view", "copy"])'}


def _policy(t: dict, cameras: Sequence[str], citizen_due_us: int) -> RequestPolicy:
    base = default_policy(citizen_due_us)
    _check_keys(t, "policy", ("kinds", "categories", *KINDS), _HINTS)
    kinds = tuple(_strings(t, "kinds", "policy")) if "kinds" in t else tuple(base.kinds)
    categories = tuple(_strings(t, "categories", "policy")) if "categories" in t else base.categories
    for kind in kinds:
        if kind not in KINDS:
            raise ConfigError("policy.kinds", f"unknown request kind {kind!r}; kinds are {', '.join(KINDS)}")
    for kind in KINDS:
        if kind in t and kind not in kinds:
            raise ConfigError(_join("policy", kind), f"this site does not take {kind} requests (policy.kinds); "
                                                     "remove the table or add the kind")
    rules = {k: _kind(t.get(k, {}), _join("policy", k), k, base.kinds[k]) for k in kinds}
    policy = RequestPolicy(kinds=rules, categories=categories)
    found = problems(policy, known_cameras=cameras)
    if found:
        path, why = found[0]
        raise ConfigError(f"policy.{path}", why)
    return policy


def _kind(t: Any, path: str, kind: str, default: KindRules) -> KindRules:
    if not isinstance(t, dict):
        raise ConfigError(path, f"expected a table ([{path}] section), found {_describe(t)}")
    _check_keys(t, path, _KIND_KEYS, _HINTS)
    modes = frozenset(_strings(t, "modes", path)) if "modes" in t else default.modes
    for mode in modes:
        if mode not in MODES:
            raise ConfigError(_join(path, "modes"), f"{mode!r} is not a mode; use view and/or copy")
    copy_to = _string(t["copy_to"], _join(path, "copy_to")) if "copy_to" in t else default.copy_to
    if copy_to not in COPY_TO:
        raise ConfigError(_join(path, "copy_to"), f'{copy_to!r} is not a choice; use "anyone" (whoever the '
                                                  'custodian names) or "requester" (the requester only)')
    receipt = _bool(t["receipt"], _join(path, "receipt")) if "receipt" in t else default.receipt
    high = 6 * DAY if kind == "citizen" else 90 * DAY  # R5.6: a citizen is answered within 6 days at most
    due = _duration(t, "due", path, default.due_us or 0, HOUR, high) if "due" in t else default.due_us
    chain = _chain(t["chain"], _join(path, "chain")) if "chain" in t else default.chain
    return KindRules(modes=modes, copy_to=copy_to, receipt=receipt, due_us=due, chain=chain)


def _chain(value: Any, path: str) -> tuple[Step, ...]:
    if not isinstance(value, list):
        raise ConfigError(path, f"expected an array of steps, e.g. [{{ name = \"director\" }}], found "
                                f"{_describe(value)}")
    steps = []
    for i, raw in enumerate(value):
        where = f"{path}[{i}]"
        if not isinstance(raw, dict):
            raise ConfigError(where, f"expected a table, e.g. {{ name = \"director\" }}, found {_describe(raw)}")
        _check_keys(raw, where, _STEP_KEYS)
        if "name" not in raw:
            raise ConfigError(_join(where, "name"), "missing required key (the sign-off on the form)")
        steps.append(Step(
            name=_string(raw["name"], _join(where, "name")).strip(),
            approvers=frozenset(_strings(raw, "approvers", where)) if "approvers" in raw else None,
            cameras=frozenset(_strings(raw, "cameras", where)) if "cameras" in raw else None))
    return tuple(steps)


def _strings(t: dict, key: str, path: str) -> list[str]:
    field = _join(path, key)
    value = t[key]
    if not isinstance(value, list):
        raise ConfigError(field, f"expected an array of strings, found {_describe(value)}")
    return [_string(v, f"{field}[{i}]") for i, v in enumerate(value)]
