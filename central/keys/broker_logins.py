"""A revoked node's broker login, cut with the revocation list (issue 73, design/0344).

The office names each node's broker account by its own config (`[broker] node_username`, a pattern
of `{site}` and `{node}`), never by what a box says: a box's message could name another's account.
When the office publishes its revocation list (`edged-central nodes revoke --publish`, `nodes crl
--publish`, the running office's schedule: central/keys/crl_schedule.py) it disables the account of
every node none of whose certificates is in force through mosquitto's dynamic-security plugin
(`disableClient` on `$CONTROL/dynamic-security/v1`), with the office's broker login: the plugin
drops the live session at once and refuses every new login. A broker that does not answer there
(no plugin, or the office's login may not use it) is an error that says what to do instead.
Blocking (a connection to the broker).
"""

from __future__ import annotations

import json
import re
import secrets
import threading
from pathlib import Path
from typing import Any

from central.keys import ca
from central.keys.ca import CAError
from central.keys.crl_publish import office_client

CONTROL = "$CONTROL/dynamic-security/v1"
RESPONSE = CONTROL + "/response"
_NAME = re.compile(r"[A-Za-z0-9_.@-]{1,128}")


def username(pattern: str, node: str) -> str:
    """Pure: the broker account of SITE/NODE by the office's pattern; CAError for a node name the
    pattern cannot make a safe account name of (never a wildcard or a separator)."""
    site, _, name = node.partition("/")
    got = pattern.replace("{site}", site).replace("{node}", name)
    if not _NAME.fullmatch(got):
        raise CAError(f"{node!r} makes no broker user name of [broker] node_username {pattern!r}")
    return got


def revoked_nodes(data_dir: Path) -> list[str]:
    """SITE/NODE of every enrolled node none of whose certificates is in force (a certificate
    replaced by another, `nodes accept --replace`, leaves its node's login alone)."""
    entries = ca.enrolments(ca.read_register(data_dir))
    nodes = sorted({e["node"] for e in entries})
    return [n for n in nodes if all(e["revoked_us"] is not None for e in entries if e["node"] == n)]


def _advice(broker: Any) -> str:
    return (f"the broker {broker.host}:{broker.port} did not answer on {CONTROL}: it does not run mosquitto's "
            "dynamic-security plugin, or the office's broker login has no role allowed to use it. The revoked "
            "nodes can still log in to the broker: give the office's login a role with the plugin's rights "
            "(docs/ref/central.md \"A revoked node's broker login\"), or remove their accounts from the broker's "
            "password_file by hand (and, for certificate logins, give mosquitto the office's revocation list as "
            "its crlfile); leave [broker] node_username out if the office is not to do it")


def disable(broker: Any, usernames: list[str], timeout_s: float = 15.0) -> list[str]:
    """Disable each account through the dynamic-security plugin; returns the ones the plugin did
    not know ("Client not found": no such account, so none to log in with). CAError when the broker
    does not answer (the plugin missing or not the office's to use) or refuses another way."""
    if not usernames:
        return []
    tag = secrets.token_hex(8)
    asked = {f"{tag}-{i}": u for i, u in enumerate(usernames)}
    answers: dict[str, str] = {}
    subscribed, done = threading.Event(), threading.Event()

    def on_message(_c: Any, _u: Any, msg: Any) -> None:
        try:
            doc = json.loads(msg.payload)
            rows = doc["responses"] if isinstance(doc, dict) else []
        except (ValueError, KeyError, TypeError):
            return
        for r in rows if isinstance(rows, list) else []:
            if isinstance(r, dict) and r.get("correlationData") in asked:
                answers[r["correlationData"]] = str(r.get("error") or "")
        if len(answers) == len(asked):
            done.set()

    c = office_client(broker, "logins")
    granted: list[bool] = []

    def on_subscribe(_c: Any, _u: Any, _m: Any, codes: Any, _p: Any) -> None:
        granted.extend(not getattr(r, "is_failure", False) for r in codes)
        subscribed.set()

    c.on_subscribe = on_subscribe
    c.on_message = on_message
    try:
        c.connect(broker.host, broker.port)
        c.loop_start()
        c.subscribe(RESPONSE, qos=1)
        if not subscribed.wait(timeout_s) or not all(granted):
            raise CAError(_advice(broker))
        c.publish(CONTROL, json.dumps({"commands": [{"command": "disableClient", "username": u, "correlationData": k}
                                                    for k, u in asked.items()]}), qos=1)
        if not done.wait(timeout_s):
            raise CAError(_advice(broker))
    except (OSError, ValueError, RuntimeError) as exc:
        raise CAError(f"cannot reach the broker {broker.host}:{broker.port} to cut revoked nodes' logins: {exc}") from None
    finally:
        c.loop_stop()
        c.disconnect()
    unknown = [asked[k] for k, e in answers.items() if e == "Client not found"]
    refused = {asked[k]: e for k, e in answers.items() if e and e != "Client not found"}
    if refused:
        raise CAError("the broker's dynamic-security plugin refused to disable " +
                      ", ".join(f"{u} ({e})" for u, e in sorted(refused.items())))
    return unknown


def cut(data_dir: Path, broker: Any) -> tuple[list[str], list[str]] | None:
    """Every revoked node's account disabled (again: the plugin takes it twice): (accounts
    disabled, accounts the broker does not have); None when the office does not manage node logins
    (`[broker] node_username` unset)."""
    nodes = revoked_nodes(data_dir)
    pattern = getattr(broker, "node_username", None)
    if not nodes:
        return [], []
    if broker is None or not pattern:
        return None
    names = [username(pattern, n) for n in nodes]
    unknown = disable(broker, names)
    return [n for n in names if n not in unknown], unknown


def said(result: tuple[list[str], list[str]] | None) -> str:
    """Pure: what `nodes revoke|crl --publish` says of the logins."""
    if result is None:
        return ("the revoked node's broker login is not cut by the office ([broker] node_username is not set): "
                "disable its account on the broker (docs/ref/central.md \"A revoked node's broker login\")")
    done, unknown = result
    text = (f"broker login disabled (dynamic-security): {', '.join(done)}; a live session is dropped, a new login "
            "refused") if done else "no revoked node's broker login to disable"
    if unknown:
        text += f"\nthe broker has no account {', '.join(unknown)}: check [broker] node_username"
    return text
