"""One rule for every name that is an identity (issue 74, design/0315): a site, a node, a camera,
what a certificate, a manifest, a topic, a config or a verifier carries.

A name is 1 to 63 of A-Z, a-z, 0-9, ".", "_", "-", beginning and ending with a letter or a digit
(a name ending in "." reads as a sentence's full stop: issue 90, design/0371), the WHOLE
text (`fullmatch`: `re.match` with "$" takes "node1\\n", which X.509, C2PA and JSON carry
faithfully and most printers show as node1). ASCII only, so no name looks like another across
scripts (Latin "o" and Cyrillic "о", Greek "Α" and Latin "A"), and no control, bidi or zero-width
character, NUL or newline hides in one. `shown` is how every verifier prints a name it read: as
is when it keeps the rule, else quoted with every character outside printable ASCII escaped, so a
look-alike never prints as the name it imitates. `quoted_node` is how a verifier prints a signer in
a sentence: always quoted, so no sentence's punctuation is taken for part of it or it for part of
the sentence. `skeleton` is what two names look alike by (case, punctuation, l/1/I, o/0): the office
issues no name whose skeleton is one in force at the site but by `--replace` (design/0371).

Here, in the stand-alone checker's package, because the checker must hold the very rule edged
holds and installs alone (design/0128); edged reaches it through storage/names.py.
"""

from __future__ import annotations

import json
import re

RULE = "1-63 of A-Z, a-z, 0-9, '.', '_', '-', beginning and ending with a letter or a digit (ASCII only)"
_IDENTITY = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9._-]{0,61}[A-Za-z0-9])?")
_CONFUSED = str.maketrans({"1": "l", "I": "l", "0": "o", "O": "o", ".": None, "_": None, "-": None})


class BadName(ValueError):
    """A name that breaks the rule; the text says which and shows it escaped."""


def is_name(value: object) -> bool:
    """Whether `value` is a str that is a name under the rule, whole."""
    return isinstance(value, str) and _IDENTITY.fullmatch(value) is not None


def name(value: object, what: str) -> str:
    """`value` if it is a name, else BadName saying `what` it was meant to be."""
    if not is_name(value):
        raise BadName(f"{what} {shown(value)} is not a plain name ({RULE})")
    assert isinstance(value, str)
    return value


def node_name(text: object, what: str) -> tuple[str, str]:
    """(site, node) of "SITE/NODE", each a name, else BadName."""
    if not isinstance(text, str) or text.count("/") != 1:
        raise BadName(f"{what} {shown(text)} is not SITE/NODE")
    site, node = text.split("/")
    return name(site, f"{what}'s site"), name(node, f"{what}'s node")


def shown_node(value: object) -> str:
    """SITE/NODE for people: as is when both are names, else escaped whole (`shown`)."""
    if isinstance(value, str) and value.count("/") == 1 and all(is_name(p) for p in value.split("/")):
        return value
    return shown(value)


def quoted_node(value: object) -> str:
    """A signer's SITE/NODE in a sentence: always in double quotes, every character outside
    printable ASCII escaped ("tw-hr-001/node1"), so a sentence's full stop never reads as part of it."""
    if not isinstance(value, str):
        return f"<{type(value).__name__}>"
    return json.dumps(value[:200] + ("..." if len(value) > 200 else ""), ensure_ascii=True)


def skeleton(value: str) -> str:
    """What a name looks like to a reader: case, ".", "_", "-" dropped, and l/1/I, o/0/O taken alike
    ("NODE1", "node_1", "nodel", "n0de1" all read "nodel")."""
    return value.translate(_CONFUSED).lower()


def shown(value: object) -> str:
    """A name for people: as is when it keeps the rule; else quoted, every character outside
    printable ASCII escaped (\\n, \\u0430, \\u202e), so it never prints as another."""
    if is_name(value):
        assert isinstance(value, str)
        return value
    if not isinstance(value, str):
        return f"<{type(value).__name__}>"
    return json.dumps(value[:200] + ("..." if len(value) > 200 else ""), ensure_ascii=True)
