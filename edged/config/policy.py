"""The [policy] table: a site's rules for retrieval requests, as plain data (design/0036; R5,
R8.4, R8.5, R8.7).

The five seed sites differ in who may ask for what, who signs and by when: one approver at a
township office (003 §8), three sign-offs at a school (004 annex 2), copies with a signed
receipt for officers and citizens at the police (002 §8(2)(3)), outsiders only through the
police (004 §4(3)). `RequestPolicy` says it per request kind; `default_policy()` is what edged
did before sites could say it (one approver, copies only for agencies and the police, a
citizen's answer due in 6 days).

Pure data and its checks (`problems`, by field); the config reader is `_policy` below. The
rules that apply it are edged/rules/retrieval.py's (`filing`, `decide`): the chain a request
must pass is fixed when it is filed and kept with it.

    [policy]
    kinds = ["internal", "agency", "police-urgent"]   # the request kinds this site takes
    categories = ["lost-property", "damage", "campus-safety"]

    [policy.internal]
    modes = ["view"]                 # view and/or copy
    copy_to = "anyone"               # who may receive a copy: "anyone" named, or the "requester" only
    receipt = false                  # the recipient signs a receipt, recorded with the export
    due = "6d"                       # the answer is due this long after filing (default: none;
                                     # citizens: [accounts] citizen_due)
    chain = [{ name = "applying section chief", unit = "requester" },
             { name = "director", approvers = ["主任"] }]

    [policy.citizen]                 # the same keys, and two of a citizen's own (design/0174):
    redact = "everything"            # what the grant shows: "everything" hidden but the applicant (the
                                     # default where a citizen may take a copy), "faces" hidden but the
                                     # applicant's, or "none" (the default for an accompanied viewing alone);
                                     # ["everything", "faces"]: both, the first the site's (design/0348)
    unredacted_by = ["主任"]          # who may allow the whole picture, each time with a reason on the
                                     # record (default: nobody)
    release_by_another = true        # a second person releases the redacted copy: a custodian or approver
                                     # who did not prepare it (seed 000 四(二)2; default false: design/0328)

    [policy.units]                   # each unit's chief (and deputies): who signs a `unit = "requester"` step
    "戶籍課" = ["chen"]
    "行政課" = ["wang", "deputy-wang"]

    [policy.titles]                  # a title names accounts; `approvers` lists accounts and/or titles
    "主任" = ["huang"]

A chain has up to MAX_CHAIN steps that apply to every request (design/0075); steps limited to
some `cameras` (the unit that manages a building's cameras signs for them, 004 §7) come on top
and are not counted. A `unit = "requester"` step is signed by the chief of the requester's unit
(the request's `requester_org`, a key of [policy.units]).

Everything left out is edged's old rule (`default_policy`). Each error names the field:
`policy.internal.chain[1].approvers`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping, Sequence

from edged.config.holds import HoldPolicy, _holds
from edged.config.values import (DAY, HOUR, ConfigError, _bool, _check_keys, _describe, _duration, _in_days, _join,
                                 _string)

KINDS = ("internal", "citizen", "agency", "police-urgent", "quick-look")
CATEGORIES = ("lost-property", "counter-dispute", "personal-safety", "major-incident", "other")
VIEW, COPY = "view", "copy"
MODES = (VIEW, COPY)
# The old rule, now the default: copies only for agencies and the police (R5.5); a quick look is a look (R5.9).
COPY_KINDS = frozenset({"agency", "police-urgent"})


def silent_redaction(kind: str, modes: frozenset[str]) -> str:
    """What a grant of `kind` shows where the site says nothing of `redact` (design/0174, amended
    by 0327): a citizen's copy, which leaves the office, hides "everything" but the applicant; a
    citizen's accompanied viewing alone (modes = view) shows the footage, with its sound, as the
    site's rule for the viewing says (seed 001 十七1(3)); a site that wants it hidden says so."""
    return "everything" if kind == "citizen" and COPY in modes else "none"
DAY_US = 86_400_000_000
COPY_TO = ("anyone", "requester")   # who may receive a copy: whoever the custodian names, or the requester only
MAX_CHAIN = 12        # the steps every request passes; camera-scoped steps come on top (design/0075)
MAX_SCOPED = 64       # camera-scoped steps (one per managing unit, at most)
REQUESTER_UNIT = "requester"   # Step.unit: the chief of the requester's own unit ([policy.units])
HOUR_US = 3_600_000_000
_NAME = re.compile(r"[a-z0-9][a-z0-9-]{0,39}")


@dataclass(frozen=True, slots=True)
class Step:
    """One sign-off of an approval chain (a box on the site's form: section chief, director).

    `approvers`: the accounts that may sign it (None: any approver). `cameras`: the step is
    needed only for requests naming one of these cameras (None: every request), e.g. the unit
    that manages a building's cameras (004 §7). `unit`: "requester" for the chief of the
    requester's own unit, whose approvers are that unit's in [policy.units] (000 annex 2, 001
    annex 4: the applying unit's chief)."""

    name: str
    approvers: frozenset[str] | None = None
    cameras: frozenset[str] | None = None
    unit: str | None = None

    def applies(self, cameras: Iterable[str]) -> bool:
        return self.cameras is None or bool(self.cameras & set(cameras))


@dataclass(frozen=True, slots=True)
class KindRules:
    """What one kind of request may ask for and what it must pass."""

    modes: frozenset[str] = frozenset({VIEW})
    copy_to: str = "anyone"          # "requester": only the requester receives a copy
    receipt: bool = False            # the recipient signs a receipt, recorded with the export
    redact: str = "none"             # citizen: "everything" / "faces" hidden but the applicant (design/0174)
    redact_also: tuple[str, ...] = ()  # citizen: the other mode the desk offers beside `redact` (design/0348)
    unredacted_by: frozenset[str] = frozenset()  # citizen: approvers who may allow the whole picture, with a reason
    release_by_another: bool = False  # citizen: the redacted copy released by one who did not prepare it (design/0328)
    due_us: int | None = None        # the answer is due this long after filing (None: no due time)
    due_days: bool = True            # written in days ("6d"): through the end of the last day on the
                                     # site's calendar; in hours ("24h"): exactly (rules/deadlines.py)
    chain: tuple[Step, ...] = (Step("approver"),)


@dataclass(frozen=True, slots=True)
class RequestPolicy:
    kinds: Mapping[str, KindRules] = field(default_factory=dict)   # only these kinds may be filed
    categories: tuple[str, ...] = CATEGORIES
    holds: HoldPolicy = HoldPolicy()   # [policy.holds]: who preserves footage, and for how long (design/0041)
    units: Mapping[str, frozenset[str]] = field(default_factory=dict)   # [policy.units]: unit -> its chief(s)
    titles: Mapping[str, frozenset[str]] = field(default_factory=dict)  # [policy.titles]: title -> accounts
    asks_purpose: bool = False   # [policy] asks_purpose: a request says what the footage is for (用途; 002 §8)


def default_policy(citizen_due_us: int = 6 * DAY_US, citizen_due_days: bool = True) -> RequestPolicy:
    """edged's rules before site policies: every kind, one approver, copies for agencies and
    the police only (R5.5), a citizen answered within 6 days (R5.6)."""
    return RequestPolicy(
        kinds={k: KindRules(modes=frozenset({VIEW, COPY}) if k in COPY_KINDS else frozenset({VIEW}),
                            due_us=citizen_due_us if k == "citizen" else None,
                            redact=silent_redaction(k, frozenset({VIEW, COPY}) if k in COPY_KINDS else frozenset({VIEW})),
                            due_days=citizen_due_days or k != "citizen") for k in KINDS},
        categories=CATEGORIES)


# checking a policy (the config loader names the field) ------------------------------------
def problems(policy: RequestPolicy, known_cameras: Sequence[str] | None = None) -> list[tuple[str, str]]:
    """Everything wrong with a policy, as (field path under [policy], what is wrong)."""
    out: list[tuple[str, str]] = []
    if not policy.kinds:
        out.append(("kinds", "no request kind is allowed; name at least one of " + ", ".join(KINDS)))
    for kind in policy.kinds:
        if kind not in KINDS:
            out.append(("kinds", f"unknown request kind {kind!r}; kinds are {', '.join(KINDS)}"))
    if not policy.categories:
        out.append(("categories", "no reason category; name at least one"))
    for cat in policy.categories:
        if not _NAME.fullmatch(cat):
            out.append(("categories", f"{cat!r} is not a category name (lower-case letters, digits and -)"))
    if len(set(policy.categories)) != len(policy.categories):
        out.append(("categories", "a category is named twice"))
    for unit, chiefs in policy.units.items():
        if not str(unit).strip():
            out.append(("units", "a unit has a name (as requests write it in requester_org)"))
        if not chiefs:
            out.append((f"units.{unit}", "an empty list: nobody could sign for this unit"))
    for kind, rules in policy.kinds.items():
        out += [(f"{kind}.{path}", why) for path, why in _kind_problems(kind, rules, known_cameras)]
        if any(s.unit for s in rules.chain) and not policy.units:
            out.append((f"{kind}.chain", 'a step signed by the requester\'s unit chief (unit = "requester") needs '
                                         "[policy.units]: each unit and its chief's account(s)"))
    return out


def _kind_problems(kind: str, rules: KindRules, known: Sequence[str] | None) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    if not rules.modes or not rules.modes <= set(MODES):
        out.append(("modes", f"modes are view and/or copy, not {', '.join(sorted(rules.modes)) or 'none'}"))
    if kind == "quick-look" and COPY in rules.modes:
        out.append(("modes", "a quick look is a look (R5.9): view only"))
    if rules.copy_to not in COPY_TO:
        out.append(("copy_to", f"{rules.copy_to!r} is not a choice; use \"anyone\" (whoever the custodian "
                               "names) or \"requester\" (the requester only)"))
    if rules.receipt and COPY not in rules.modes:
        out.append(("receipt", "a receipt is signed for a copy, and this kind may not copy"))
    if rules.due_us is not None and rules.due_us < HOUR_US:
        out.append(("due", "an answer cannot be due in less than an hour"))
    chain = rules.chain
    every = [s for s in chain if s.cameras is None]
    scoped = [s for s in chain if s.cameras is not None]
    if not 1 <= len(every) <= MAX_CHAIN and (every or not chain):
        out.append(("chain", f"an approval chain has 1 to {MAX_CHAIN} steps that every request passes, not "
                             f"{len(every)} (steps limited to some cameras come on top)"))
    if len(scoped) > MAX_SCOPED:
        out.append(("chain", f"at most {MAX_SCOPED} steps limited to some cameras, not {len(scoped)}"))
    names = [s.name for s in chain]
    for i, step in enumerate(chain):
        if not step.name.strip():
            out.append((f"chain[{i}].name", "a step has a name (the sign-off on the form)"))
        if step.approvers is not None and not step.approvers:
            out.append((f"chain[{i}].approvers", "an empty list: nobody could sign; leave it out for any approver"))
        if step.unit is not None and step.unit != REQUESTER_UNIT:
            out.append((f"chain[{i}].unit", f'{step.unit!r} is not a choice; "requester" (the chief of the '
                                            "requester's unit, from [policy.units])"))
        if step.unit is not None and step.approvers is not None:
            out.append((f"chain[{i}].unit", "a step is signed by the requester's unit chief or by `approvers`, "
                                            "not both"))
        if step.cameras is not None:
            if not step.cameras:
                out.append((f"chain[{i}].cameras", "an empty list: the step would never apply; leave it out"))
            elif known is not None and step.cameras - set(known):
                out.append((f"chain[{i}].cameras", "unknown camera(s): " + ", ".join(sorted(step.cameras - set(known)))))
    if len(set(names)) != len(names):
        out.append(("chain", "two steps have the same name"))
    if chain and not every:
        out.append(("chain", "every step is limited to some cameras: a request on other cameras would have no "
                             "approver; leave `cameras` out of at least one step"))
    # each request passes the unscoped steps and the scoped steps of its cameras: check the unscoped
    # ones with each scoped one (steps of any approver or of a unit chief are not known here)
    for extra in [None, *scoped]:
        fixed = [s.approvers for s in every + ([extra] if extra else []) if s.approvers is not None]
        if not distinct_signers(fixed):
            out.append(("chain", "each step needs a different approver, and the listed approvers cannot "
                                 "cover every step with different people"))
            break
    return out


def distinct_signers(pools: Sequence[Iterable[str]]) -> bool:
    """Can every step be signed by a different account, each from its own pool? A bipartite
    matching (Kuhn's augmenting paths): fast for chains of any length."""
    pools = [sorted(set(p)) for p in pools]
    owner: dict[str, int] = {}

    def place(i: int, seen: set[str]) -> bool:
        for who in pools[i]:
            if who in seen:
                continue
            seen.add(who)
            if who not in owner or place(owner[who], seen):
                owner[who] = i
                return True
        return False

    return all(place(i, set()) for i in range(len(pools)))


# reading the table ---------------------------------------------------------------------
_KIND_KEYS = ("modes", "copy_to", "receipt", "due", "chain", "redact", "unredacted_by", "release_by_another")
REDACT = ("everything", "faces", "none")   # storage/redact/plan.py's modes, and none (design/0174)
_STEP_KEYS = ("name", "approvers", "cameras", "unit")
_HINTS = {"approval": 'did you mean "chain"? (an array of steps, e.g. [{ name = "director" }])',
          "approvers": 'approvers belong to a step of the chain: chain = [{ name = "director", approvers = ["hsu"] }]',
          "copy": 'did you mean "modes"? (e.g. modes = ["view", "copy"])'}


def _policy(t: dict[str, Any], cameras: Sequence[str], citizen_due_us: int, evidence_hold_us: int = 30 * DAY,
            max_retention_us: int | None = None, citizen_due_days: bool = True,
            max_retention_months: int | None = None) -> RequestPolicy:
    base = default_policy(citizen_due_us, citizen_due_days)
    _check_keys(t, "policy", ("kinds", "categories", "holds", "units", "titles", "asks_purpose", *KINDS), _HINTS)
    titles = _accounts_table(t.get("titles", {}), "policy.titles")
    units = {u: expand(chiefs, titles) for u, chiefs in _accounts_table(t.get("units", {}), "policy.units").items()}
    kinds = tuple(_strings(t, "kinds", "policy")) if "kinds" in t else tuple(base.kinds)
    categories = tuple(_strings(t, "categories", "policy")) if "categories" in t else base.categories
    for kind in kinds:
        if kind not in KINDS:
            raise ConfigError("policy.kinds", f"unknown request kind {kind!r}; kinds are {', '.join(KINDS)}")
    for kind in KINDS:
        if kind in t and kind not in kinds:
            raise ConfigError(_join("policy", kind), f"this site does not take {kind} requests (policy.kinds); "
                                                     "remove the table or add the kind")
    rules = {k: _kind(t.get(k, {}), _join("policy", k), k, base.kinds[k], titles) for k in kinds}
    holds = _holds(t.get("holds", {}), evidence_hold_us, max_retention_us, titles, max_retention_months)
    asks = _bool(t["asks_purpose"], "policy.asks_purpose") if "asks_purpose" in t else False
    policy = RequestPolicy(kinds=rules, categories=categories, holds=holds, units=units, titles=titles,
                           asks_purpose=asks)
    found = problems(policy, known_cameras=cameras)
    if found:
        path, why = found[0]
        raise ConfigError(f"policy.{path}", why)
    return policy


def expand(names: Iterable[str], titles: Mapping[str, frozenset[str]]) -> frozenset[str]:
    """Accounts and titles ([policy.titles]) as the accounts they name."""
    out: set[str] = set()
    for name in names:
        out |= titles.get(name, {name})
    return frozenset(out)


def _accounts_table(t: Any, path: str) -> dict[str, frozenset[str]]:
    """[policy.units] or [policy.titles]: a name -> an array of accounts."""
    if not isinstance(t, dict):
        raise ConfigError(path, f"expected a table (a name = [accounts]), found {_describe(t)}")
    out = {}
    for name in t:
        accounts = _strings(t, name, path)
        if not accounts:
            raise ConfigError(_join(path, name), "an empty list: name at least one account")
        out[str(name).strip()] = frozenset(a.strip() for a in accounts)
    return out


def _kind(t: Any, path: str, kind: str, default: KindRules,
          titles: Mapping[str, frozenset[str]] | None = None) -> KindRules:
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
    due_days = _in_days(t, "due") if "due" in t else default.due_days
    chain = _chain(t["chain"], _join(path, "chain"), titles or {}) if "chain" in t else default.chain
    redact, also, unredacted_by = _redaction(t, path, kind, default, titles or {}, modes)
    by_another = _bool(t["release_by_another"], _join(path, "release_by_another")) if "release_by_another" in t \
        else default.release_by_another
    return KindRules(modes=modes, copy_to=copy_to, receipt=receipt, due_us=due, due_days=due_days, chain=chain,
                     redact=redact, redact_also=also, unredacted_by=unredacted_by, release_by_another=by_another)


def _redaction(t: dict[str, Any], path: str, kind: str, default: KindRules,
               titles: Mapping[str, frozenset[str]],
               modes: frozenset[str]) -> tuple[str, tuple[str, ...], frozenset[str]]:
    """[policy.citizen] redact and unredacted_by (design/0174): a citizen's grant shows the
    redacted copy where the site says so; where it is silent, as `silent_redaction` says (a copy
    "everything" hidden but the applicant, an accompanied viewing alone the footage: design/0327);
    only the approvers named may allow the whole picture, each time with a reason on the record.
    `redact` may list both modes (design/0348): the first is the site's, the desk offers the other
    too; "none" is never listed."""
    for key in ("redact", "unredacted_by", "release_by_another"):
        if key in t and kind != "citizen":
            raise ConfigError(_join(path, key), "only a citizen's request is redacted ([policy.citizen])")
    if isinstance(t.get("redact"), list):
        listed = _strings(t, "redact", path)
        if not listed or len(set(listed)) != len(listed) or not set(listed) <= set(REDACT) - {"none"}:
            raise ConfigError(_join(path, "redact"), f'{listed!r} is not a choice; list "everything" and "faces", '
                                                     'the site\'s own first (or write one of them, or "none")')
        redact, also = listed[0], tuple(listed[1:])
    else:
        redact = _string(t["redact"], _join(path, "redact")) if "redact" in t else silent_redaction(kind, modes)
        also = ()
    if redact not in REDACT:
        raise ConfigError(_join(path, "redact"), f'{redact!r} is not a choice; use "everything" (everything hidden '
                                                 'but the applicant), "faces" (faces hidden but the applicant\'s) '
                                                 'or "none"')
    by = expand(_strings(t, "unredacted_by", path), titles) if "unredacted_by" in t else default.unredacted_by
    return redact, also, by


def _chain(value: Any, path: str, titles: Mapping[str, frozenset[str]]) -> tuple[Step, ...]:
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
            approvers=expand(_strings(raw, "approvers", where), titles) if "approvers" in raw else None,
            cameras=frozenset(_strings(raw, "cameras", where)) if "cameras" in raw else None,
            unit=_string(raw["unit"], _join(where, "unit")).strip() if "unit" in raw else None))
    return tuple(steps)


def _strings(t: dict[str, Any], key: str, path: str) -> list[str]:
    field = _join(path, key)
    value = t[key]
    if not isinstance(value, list):
        raise ConfigError(field, f"expected an array of strings, found {_describe(value)}")
    return [_string(v, f"{field}[{i}]") for i, v in enumerate(value)]
