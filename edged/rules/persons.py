"""People by their names (issue 42 item 2, design/0112): a person on a desk page, a sign-off or a
printed form is their full name with the title the site gives them, never a login name. The
accounts keep the full name; the site names its titles in [policy.titles] (title -> accounts)
and its units' chiefs in [policy.units]. `person` is the one way a person is shown; the desk's
pages (Ctx.who) and the printed forms (Doc.who) both call it. The login name stays where a
technician needs it: the accounts pages and edgectl."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable, Mapping

from edged.i18n import N_, _

SYSTEM = "edged"   # the daemon's own records (a lapse, a destruction): no person
SYSTEM_WORDS = N_("the system (automatic)")
SUPERUSER = "root"   # the box's OS superuser: said in words (_box_user)
PAPER = " (on paper: "   # i18n: on the record; a box signed on paper and who recorded it, "cheng (on paper: admin)"


@dataclass(frozen=True, slots=True)
class Named:
    """What the site knows of a person: the full name on the account and the site's titles."""

    full_name: str = ""
    titles: tuple[str, ...] = ()


Names = Mapping[str, Named]   # account -> Named
NOBODY: Names = {}


def titles_of(account: str, titles: Mapping[str, Iterable[str]], units: Mapping[str, Iterable[str]]) -> tuple[str, ...]:
    """The titles the site gives `account`: each [policy.titles] title naming it, else the chief
    of each [policy.units] unit it heads (a unit's chiefs are accounts, titles already expanded)."""
    own = tuple(t for t, holders in titles.items() if account in holders)
    if own:
        return own
    return tuple(_("chief of {unit}").format(unit=u) for u, chiefs in units.items() if account in chiefs)


def names_of(accounts: Iterable[Mapping[str, Any]], titles: Mapping[str, Iterable[str]],
             units: Mapping[str, Iterable[str]]) -> dict[str, Named]:
    """Every account's Named, from the accounts' rows ({name, full_name}) and the site's policy."""
    return {a["name"]: Named(str(a.get("full_name") or "").strip(), titles_of(a["name"], titles, units))
            for a in accounts}


def account_in(names: Names, who: str) -> str | None:
    """The account behind a signature or an actor as the records write them: "alice", "alice (os:
    root)", or an inspection's "typed name (alice)"; None when no account is named."""
    head, _sep, tail = who.partition(" (")
    if head in names:
        return head
    tail = tail[:-1] if tail.endswith(")") else tail
    return tail if tail in names else None


def person(names: Names, who: str | None) -> str:
    """A person as the office writes them: 「主任 黃志明」 (title and full name); the full name alone
    where the site gives no title; the login name only where the account has no full name. An
    actor that is no account (a name typed, an OS user) is shown as written; the daemon's own
    records as the system."""
    if not who:
        return "-"
    if PAPER in who and who.endswith(")"):   # design/0260: the signer, then who recorded the paper
        signer, recorder = who[:-1].split(PAPER, 1)
        return _("{who}, signed on paper (recorded by {recorder})").format(
            who=person(names, signer), recorder=person(names, recorder))
    account = account_in(names, who)
    if account is None:
        return _(SYSTEM_WORDS) if who == SYSTEM else _box_user(who) or who
    n = names[account]
    name = n.full_name or account
    return _("{title} {name}").format(title="、".join(n.titles), name=name) if n.titles else name


def _box_user(who: str) -> str | None:
    """An OS user of the box on the record: "os:root (uid 0)", "root (init-admin)", "root" (root on
    the box vouching, design/0322). The superuser is said in words, never by its login name
    (issue 91 W17, design/0392): "root" is no person an office reads on paper."""
    user, first = who, False
    if who.startswith("os:"):
        user = who[3:].split(" (", 1)[0]
    elif who.endswith(" (init-admin)"):
        user, first = who[:-len(" (init-admin)")], True
    elif who != SUPERUSER:
        return None
    if user == SUPERUSER:
        return _("the box's superuser, opening the first admin") if first else _("the box's superuser")
    if first:
        return _("the box's user {user}, opening the first admin").format(user=user)
    return _("the box's user {user}").format(user=user)


def people(names: Names, who: Iterable[str]) -> str:
    """Several people (a grant's approvers), each as `person` shows them."""
    return "、".join(person(names, w) for w in who) or "-"


def not_vouched_words(name: str) -> str:
    """Why an approver's account cannot log in yet (issue 74, storage/people/vouching.py)."""
    return _("login refused: {name} is an approver's account, and nobody but the admin who opened it has vouched "
             "for it yet; root on the box (sudo edgectl account acknowledge {name} --reason ...) or another "
             "admin or approver vouches for it first").format(name=name)
