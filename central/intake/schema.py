"""What a node may send, checked before anything of it reaches SQLite or a check (design/0027).

Every message from a box is untrusted input: root on one box has its broker password. A pure
module: `check(what, payload)` returns the parsed body, or raises `Malformed` saying why, for
the kinds a node publishes (mqtt/kinds.py declares them and their fields). Integers must fit SQLite's signed 64 bits and the checks' sums
(MAX_INT, 2^62: a sum of two stays representable); numbers must be finite; strings, lists,
objects and nesting are bounded. Unknown extra fields are allowed (a newer edged), with the
same bounds.
"""

from __future__ import annotations

import json
import math
from typing import Any

from central.i18n import N_
from mqtt import kinds
from storage.msg import Msg

MAX_PAYLOAD = 64 * 1024       # bytes of one message (the broker's message_size_limit is larger)
MAX_INT = 2**62               # |an integer| anywhere in a message
MAX_STR = 4096                # characters of any one string
MAX_ITEMS = 1024              # items of one list or keys of one object
MAX_DEPTH = 8                 # nesting of lists and objects
MAX_CAMERAS = 256


class Malformed(ValueError):
    """The message does not have the shape the central office expects; the text says where, its
    argument a Msg (`said`: its template, said at the office in the sites' language, design/0280)."""

    @property
    def said(self) -> str:
        first = self.args[0] if self.args else ""
        return first if isinstance(first, Msg) else str(self)


def _json_constant(name: str) -> Any:
    raise Malformed(Msg(N_("not finite: {name}"), name=name))


_DECODER = json.JSONDecoder(parse_constant=_json_constant)


def parse(payload: bytes) -> Any:
    return parse_text(payload)[0]


def parse_text(payload: bytes) -> tuple[Any, str]:
    """The body and the text of a JSON message (the store keeps the text: decoded once)."""
    if len(payload) > MAX_PAYLOAD:
        raise Malformed(Msg(N_("{size} bytes, above the {most} a message may have"), size=len(payload), most=MAX_PAYLOAD))
    try:
        text = payload.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise Malformed(Msg(N_("not UTF-8: {error}"), error=str(exc))) from None
    try:
        body = _DECODER.decode(text)
    except Malformed:
        raise
    except (ValueError, RecursionError) as exc:
        raise Malformed(Msg(N_("not JSON: {error}"), error=str(exc))) from None
    if not _ok(body, 0):
        _bounded(body, "$", 0)  # the slow walk names where
        raise Malformed(Msg(N_("out of bounds")))
    return body, text


def _ok(v: Any, depth: int) -> bool:
    """The bounds, fast (every message of the fleet passes here): no paths, exact types."""
    if depth > MAX_DEPTH:
        return False
    t = type(v)
    if t is str:
        return bool(len(v) <= MAX_STR)
    if t is int:
        return bool(-MAX_INT <= v <= MAX_INT)
    if t is dict:
        if len(v) > MAX_ITEMS:
            return False
        if depth >= MAX_DEPTH:
            return not v  # its items would be nested too deep, scalars included (as _bounded says)
        for k, x in v.items():  # the scalars inline (a camera state is a dozen of them): no call each
            if len(k) > 256:
                return False
            tx = type(x)
            if tx is str:
                if len(x) > MAX_STR:
                    return False
            elif tx is int:
                if not -MAX_INT <= x <= MAX_INT:
                    return False
            elif tx is float:
                if x - x != 0.0:
                    return False
            elif x is not None and tx is not bool and not _ok(x, depth + 1):
                return False
        return True
    if t is float:
        return bool(v - v == 0.0)  # inf - inf and nan - nan are nan
    if t is list:
        return len(v) <= MAX_ITEMS and all(_ok(x, depth + 1) for x in v)
    return True  # bool, None


def _bounded(v: Any, path: str, depth: int) -> None:
    if depth > MAX_DEPTH:
        raise Malformed(Msg(N_("{path}: nested deeper than {most}"), path=path, most=MAX_DEPTH))
    if isinstance(v, bool) or v is None:
        return
    if isinstance(v, int):
        if not -MAX_INT <= v <= MAX_INT:
            raise Malformed(Msg(N_("{path}: integer {value} out of range (|n| <= 2^62)"), path=path, value=v))
    elif isinstance(v, float):
        if not math.isfinite(v):
            raise Malformed(Msg(N_("{path}: not finite"), path=path))
    elif isinstance(v, str):
        if len(v) > MAX_STR:
            raise Malformed(Msg(N_("{path}: string of {length} characters (at most {most})"), path=path, length=len(v),
                                  most=MAX_STR))
    elif isinstance(v, list):
        if len(v) > MAX_ITEMS:
            raise Malformed(Msg(N_("{path}: list of {length} items (at most {most})"), path=path, length=len(v),
                                  most=MAX_ITEMS))
        for i, x in enumerate(v):
            _bounded(x, f"{path}[{i}]", depth + 1)
    elif isinstance(v, dict):
        if len(v) > MAX_ITEMS:
            raise Malformed(Msg(N_("{path}: object of {length} keys (at most {most})"), path=path, length=len(v),
                                  most=MAX_ITEMS))
        for k, x in v.items():
            if len(k) > 256:
                raise Malformed(Msg(N_("{path}: a key of {length} characters"), path=path, length=len(k)))
            _bounded(x, f"{path}.{k[:40]}", depth + 1)


# field types: mqtt/kinds.py declares them with their bounds; the names below are theirs, as tests
INT, UINT, POS, NUM, STR = kinds.INT.check, kinds.UINT.check, kinds.POS.check, kinds.NUM.check, kinds.STR.check
SHORT, DICT, BOOL = kinds.SHORT.check, kinds.DICT.check, kinds.BOOL.check
MAX_CAMERAS, TOO_LARGE = kinds.MAX_CAMERAS, kinds.TOO_LARGE

# (field, test, required) per kind the box sends, from mqtt/kinds.py; durable kinds also need seq and ts_us (below)
FIELDS: dict[str, list[tuple[str, Any, bool]]] = {
    k.name: [(f.name, f.type.check, f.required) for f in k.fields] for k in kinds.BOX_KINDS if not k.text}
# an audit record proper (not a chain head or command record) needs all of these
AUDIT_RECORD = ("seq_local", "at_us", "actor", "action", "prev_hash", "hash")


# the same tests as exact types and bounds, for the fast pass over every message (_fields_ok): JSON
# gives exact int, float, str, bool, dict and list, and bool is not int here as in INT
_PLANS = {k.name: [(f.name, f.required, f.type.types, f.type.least, f.type.longest, f.type.test) for f in k.fields]
          for k in kinds.BOX_KINDS}
_SEQ_KINDS = kinds.SEQ_KINDS


def _fields_ok(what: str, body: dict[str, Any]) -> bool:
    """Whether ``body`` passes the tests of FIELDS[what] and the durable kinds' seq and ts_us, fast:
    the tests as data, no call a field. False sends the message through check's own loop, which
    says why (or, never expected, passes it)."""
    get = body.get
    if what in _SEQ_KINDS:
        seq, ts = get("seq"), get("ts_us")
        if type(seq) is not int or seq < 1 or type(ts) is not int or ts < 0:
            return False
    for name, required, types, least, longest, test in _PLANS.get(what, ()):
        v = get(name)
        if v is None:
            if required:
                return False
        elif test is not None:
            if not test(v):
                return False
        elif type(v) not in types or (least is not None and v < least) or (longest is not None and len(v) > longest):
            return False
    return True


def check(what: str, payload: bytes) -> Any:
    """The body of one message of kind ``what``, checked; raises Malformed. "status" is plain text."""
    return check_text(what, payload)[0]


def check_text(what: str, payload: bytes) -> tuple[Any, str]:
    """check's body and the payload as text (UTF-8, as stored), decoded once."""
    if what == kinds.STATUS.name:
        if len(payload) > 64:
            raise Malformed(Msg(N_("status of {size} bytes"), size=len(payload)))
        try:
            text = payload.decode("ascii")
        except UnicodeDecodeError:
            raise Malformed(Msg(N_("status is not ASCII text"))) from None
        return text, text
    if not payload and what in kinds.RETAINED_KINDS:
        return None, ""  # a cleared retained topic
    body, text = parse_text(payload)
    if not isinstance(body, dict):
        raise Malformed(Msg(N_("{what}: a JSON object expected, got {got}"), what=what, got=type(body).__name__))
    if what == "retention" and "destructions" in body:
        return _pass(body), text
    if _fields_ok(what, body) and (what != "audit" or "seq_local" not in body or "prev_hash" not in body):
        return body, text
    if what in _SEQ_KINDS:
        if not POS(body.get("seq")):
            raise Malformed(Msg(N_("{what}: seq must be a positive integer, got {got}"), what=what,
                                    got=_show(body.get('seq'))))
        if not UINT(body.get("ts_us")):
            raise Malformed(Msg(N_("{what}: ts_us must be a non-negative integer, got {got}"), what=what,
                                    got=_show(body.get('ts_us'))))
    for name, test, required in FIELDS.get(what, []):
        v = body.get(name)
        if v is None:
            if required:
                raise Malformed(Msg(N_("{what}: {name} is missing"), what=what, name=name))
            continue
        if not test(v):
            raise Malformed(Msg(N_("{what}: {name} has the wrong type or range: {got}"), what=what, name=name,
                                    got=_show(v)))
    if what == "audit" and "seq_local" in body and "prev_hash" in body:
        missing = [k for k in AUDIT_RECORD if body.get(k) is None]
        if missing:
            raise Malformed(Msg(N_("audit: record {seq} lacks {missing}"), seq=body['seq_local'], missing=', '.join(missing)))
    return body, text


def _pass(body: dict[str, Any]) -> dict[str, Any]:
    """A retention pass's message (issue 53): seq, ts_us, and a list of destructions, each one
    as a `retention` message of one destroyed segment was (without its own seq)."""
    if not POS(body.get("seq")) or not UINT(body.get("ts_us")):
        raise Malformed(Msg(N_("retention: seq and ts_us must be non-negative integers")))
    gone = body["destructions"]
    if not isinstance(gone, list) or not gone:
        raise Malformed(Msg(N_("retention: destructions must be a list of at least one, got {got}"), got=_show(gone)))
    for i, d in enumerate(gone):
        if not isinstance(d, dict):
            raise Malformed(Msg(N_("retention: destruction {n} is not an object"), n=i + 1))
        for name, test, required in FIELDS["retention"]:
            v = d.get(name)
            if (v is None and required) or (v is not None and not test(v)):
                raise Malformed(Msg(N_("retention: destruction {n}: {name} is missing or has the wrong type or range"),
                                    n=i + 1, name=name))
    return body


def _show(v: Any) -> str:
    text = json.dumps(v)
    return text if len(text) <= 60 else text[:57] + "..."
