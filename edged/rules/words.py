"""The office's words for edged's ids (issue 42 item 3, design/0103): roles, request kinds, modes
and hold kinds as a person of the site says them, so that a refusal a person can meet is built
from words, never from a role id, an operation key, a config key or a command-line flag. The
technician's form of the same refusal (the key or the flag behind it) travels beside it as a
hint (edged.i18n.hinted): edgectl prints both, the desk the person's words only."""

from __future__ import annotations

from typing import Iterable

from edged.i18n import N_, _, site_said
from storage.people.signatures import SIGNED

ROLE_WORDS = {"viewer": N_("clerk (viewer)"), "custodian": N_("custodian"), "approver": N_("approver"),
              "auditor": N_("auditor"), "admin": N_("account administrator")}
KIND_WORDS = {"internal": N_("internal staff"), "citizen": N_("citizen"), "agency": N_("public agency"),
              "police-urgent": N_("police, urgent"), "quick-look": N_("quick look")}
MODE_WORDS = {"view": N_("view"), "copy": N_("copy")}
# a citizen's redacted copy (design/0232): the grant's use for it, and what the copy hides
REDACT_WORDS = {"redacted": N_("redacted copy"), "everything": N_("everything hidden but the applicant"),
                "faces": N_("faces hidden but the applicant's")}
HOLD_WORDS = {"evidence": N_("evidence hold"), "legal": N_("legal hold")}
HOLD_END_WORDS = {"released": N_("released"), "expired": N_("expired"), "rejected": N_("rejected"),
                  "lapsed": N_("lapsed unapproved")}
# an account's history (storage/people/accounts.py `_event`): one set of words for the desk's page, the
# printed application and the audit report (issue 91 W17, design/0392); tests/test_account_words.py
# fails on an event the code writes without words here
ACCOUNT_EVENT_WORDS = {"opened": N_("opened"), "password": N_("password set"), "revoked": N_("revoked"),
                       "vouched": N_("vouched for"), "live.granted": N_("live view given"),
                       "live.withdrawn": N_("live view taken")}
# the three kinds of application (001 附件2's 申請種類: 開通 變更密碼 註銷), a sign-off's `signed:<kind>`
APPLICATION_WORDS = {"opened": N_("open the account"), "password": N_("change the password"),
                     "revoked": N_("revoke the account")}
SECOND_US = 1_000_000
MINUTE_US = 60 * SECOND_US
HOUR_US = 60 * MINUTE_US
DAY_US = 24 * HOUR_US


def event_words(action: str) -> str:
    """An event of an account's history in the reader's words; a sign-off names its application."""
    if action.startswith(SIGNED):
        return _("signed the application to {action}").format(
            action=word(APPLICATION_WORDS, action[len(SIGNED):]))
    return word(ACCOUNT_EVENT_WORDS, action)


def word(words: dict[str, str], value: str | None) -> str:
    """`value` in words where edged has them (translated), else as it is."""
    return _(words[value]) if value in words else (value or "-")


def mode_word(mode: str | None) -> str:
    """A request's mode (view, copy) in the site's words where its rule has its own ([forms.modes]:
    003 says 保存 for a copy, design/0447), else edged's."""
    return site_said("mode", mode or "") or word(MODE_WORDS, mode)


def mode_either(modes: Iterable[str]) -> str:
    return _(" or ").join(mode_word(m) for m in modes)


def kind_word(kind: str | None) -> str:
    """A kind of requester in the site's words where it has them ([forms.kinds]: 003's 本所同仁),
    else edged's (內部同仁), as the desk's form and the paper say it (design/0447)."""
    return site_said("kind", kind or "") or word(KIND_WORDS, kind)


def either(words: dict[str, str], values: Iterable[str]) -> str:
    """"a or b" in words: the roles a rule accepts, the modes a kind allows."""
    return _(" or ").join(word(words, v) for v in values)


def listed(words: dict[str, str], values: Iterable[str]) -> str:
    return _(", ").join(word(words, v) for v in values)


def phrases(texts: Iterable[str]) -> str:
    """Whole phrases one after another, with the language's own separator (「；」 in Chinese, never
    an ASCII 「; 」 between Chinese phrases: issue 56)."""
    return _("; ").join(t for t in texts if t)


def span(us: int | None) -> str:
    """A span of time as a person says it: 「31 日」, 「5 分鐘」, never 31d."""
    if us is None:
        return "-"
    for size, words in ((DAY_US, N_("{n} days")), (HOUR_US, N_("{n} hours")), (MINUTE_US, N_("{n} minutes"))):
        if us >= size and us % size == 0:
            return _(words).format(n=us // size)
    return _("{n} seconds").format(n=f"{us / SECOND_US:g}")
