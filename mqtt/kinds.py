"""Every kind of message on the wire between a box and the office, declared once (issue 80,
design/0340): its name, its topic under ``edged/v1/<site>/<node>/``, whether it is retained or
durable (then it carries ``seq`` and ``ts_us`` and waits in the box's outbox), its QoS, its
fields with their bounds, whether the office's verifier must take it, and a line for people.

A leaf: pure data, no import from this repository, so the box (mqtt/topics.py, mqtt/reporter.py)
and the office (central/intake/schema.py, central/store/store.py's routing, the verifier's
handlers) both read it, and the reference table of docs/ref/mqtt.md is generated from it.

Adding a kind is one declaration below: `NAME = _declare("name", DURABLE, N_doc, fields=(...))`.
The box sends it with `reporter.send(kinds.NAME, body)`; the office checks its fields, stores it
under its seq and, if `verified`, hands it to the handler registered for it
(`@handles(kinds.NAME)` in central/verifier/: tests/test_wire_kinds.py fails on a verified kind
no handler takes). Field bounds apply on top of central/intake/schema.py's bounds on every
message (integers within 2^62, strings of at most 4096 characters, nesting and list lengths).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

RETAINED, DURABLE, COMMAND = "retained", "durable", "command"  # a box's state, a box's record, the office's word
LIVE = "live"  # sent at once or never: not retained, never through the outbox (a late one is worth nothing)
DELIVERIES = (RETAINED, DURABLE, COMMAND, LIVE)
BOX, OFFICE = "box", "office"  # who publishes it
SHORT_STR = 256      # characters of a SHORT string (an id, a name, a hash)
TEXT_STR = 200       # characters of a person's TEXT (storage/free_text.py TEXT_MAX: the names rule, design/0383)
# what TEXT never holds: control and format characters (bidi, zero-width), surrogates, private use, unassigned,
# line and paragraph separators (storage/free_text.py's rule, here again: this module imports nothing of ours)
_NOT_TEXT = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"})
MAX_CAMERAS = 256    # cameras of one birth, ids of one list
TOO_LARGE = 20       # a state's reports of publishes the broker refused for their size (design/0119)
_LEVEL = re.compile(r"\{(\w+)\}")


@dataclass(frozen=True, slots=True)
class Type:
    """What a field's value may be: exact JSON types (bool is not an int) and bounds, or a test of
    its own for a structured value."""
    name: str
    doc: str
    types: tuple[type, ...] = ()
    least: int | None = None      # a number's least value
    longest: int | None = None    # a string's most characters
    test: Callable[[Any], bool] | None = None

    def check(self, v: Any) -> bool:
        if self.test is not None:
            return self.test(v)
        if not isinstance(v, self.types) or (isinstance(v, bool) and bool not in self.types):
            return False
        value: Any = v  # one of self.types: a number when `least` is set, a string when `longest` is
        return (self.least is None or value >= self.least) and (self.longest is None or len(value) <= self.longest)


INT = Type("int", "an integer", (int,))
UINT = Type("uint", "an integer >= 0", (int,), least=0)
POS = Type("pos", "an integer >= 1", (int,), least=1)
NUM = Type("num", "a number", (int, float))
STR = Type("str", "a string", (str,))
SHORT = Type("short", f"a string of at most {SHORT_STR} characters", (str,), longest=SHORT_STR)
DICT = Type("dict", "an object", (dict,))
TEXT = Type("text", f"a string of 1 to {TEXT_STR} characters that all print (no control, bidi or line-break character)",
            test=lambda v: isinstance(v, str) and 0 < len(v) <= TEXT_STR and v.strip() == v
            and not any(unicodedata.category(c) in _NOT_TEXT for c in v))
BOOL = Type("bool", "true or false", (bool,))
ID = Type("id", "a short string or an integer", test=lambda v: SHORT.check(v) or INT.check(v))
CAMERA_LIST = Type("cameras", f"at most {MAX_CAMERAS} objects, each with a short `id`", test=lambda v: (
    isinstance(v, list) and len(v) <= MAX_CAMERAS and all(isinstance(c, dict) and SHORT.check(c.get("id")) for c in v)))
ID_LIST = Type("ids", f"at most {MAX_CAMERAS} short strings",
               test=lambda v: isinstance(v, list) and len(v) <= MAX_CAMERAS and all(SHORT.check(c) for c in v))
POLICY = Type("policy", "an object whose `min_days` and `max_days` are numbers or null", test=lambda v: (
    isinstance(v, dict) and all(x is None or NUM.check(x) for x in (v.get("min_days"), v.get("max_days")))))
SIGNED_HEAD = Type("signed_head", "`{seq, hash, at_us, sig}`", test=lambda v: (
    isinstance(v, dict) and UINT.check(v.get("seq")) and SHORT.check(v.get("hash")) and UINT.check(v.get("at_us"))
    and SHORT.check(v.get("sig"))))
WORDS = Type("words", "a message's template (its English, the catalogs' key) and its values: `{template, params}`, "
              "said in each reader's language (storage/msg.py)", test=lambda v: (
                  isinstance(v, dict) and STR.check(v.get("template")) and isinstance(v.get("params", {}), dict)))
REFUSED = Type("too_large", f"at most {TOO_LARGE} `{{seq, kind, bytes, limit}}`", test=lambda v: (
    isinstance(v, list) and len(v) <= TOO_LARGE and all(
        isinstance(t, dict) and UINT.check(t.get("seq")) and SHORT.check(t.get("kind")) and UINT.check(t.get("bytes"))
        and UINT.check(t.get("limit")) for t in v)))


@dataclass(frozen=True, slots=True)
class Field:
    name: str
    type: Type
    required: bool = False


def need(name: str, type_: Type) -> Field:
    """A field every message of the kind carries."""
    return Field(name, type_, True)


def may(name: str, type_: Type) -> Field:
    """A field a message of the kind may carry (null or absent is fine)."""
    return Field(name, type_, False)


@dataclass(frozen=True, slots=True)
class MessageKind:
    name: str
    topic: str                     # under the node's base; one `{level}` at most: camera/{camera}/state
    delivery: str                  # one of DELIVERIES
    qos: tuple[int, ...]
    doc: str                       # the reference table's "what" (docs/ref/mqtt.md)
    fields: tuple[Field, ...] = ()
    sender: str = BOX
    verified: bool = False         # the office's verifier takes it (a registered handler)
    text: bool = False             # plain text, not a JSON object (status)
    essential: bool = False        # may use the outbox's reserve past its bound (storage/outbox.py ESSENTIAL)

    @property
    def durable(self) -> bool:
        return self.delivery == DURABLE

    @property
    def retained(self) -> bool:
        return self.delivery == RETAINED

    @property
    def fixed(self) -> bool:
        """Its topic has no level to fill in (alarm, not camera/{camera}/state)."""
        return _split(self.topic)[1] is None

    def rest(self, **levels: str) -> str:
        """The topic under the node's base, its level filled in (mqtt/topics.py checks the level)."""
        return self.topic.format(**levels)

    def matches(self, rest: str) -> bool:
        """Whether a topic's rest (under the node's base) is one of this kind's."""
        head, level, tail = _split(self.topic)
        if level is None:
            return rest == self.topic
        return len(rest) > len(head) + len(tail) and rest.startswith(head) and rest.endswith(tail)


def _split(topic: str) -> tuple[str, str | None, str]:
    m = _LEVEL.search(topic)
    return (topic, None, "") if m is None else (topic[:m.start()], m.group(1), topic[m.end():])


KINDS: dict[str, MessageKind] = {}


def _declare(name: str, topic: str, delivery: str, qos: tuple[int, ...], doc: str, *fields: Field,
             sender: str = BOX, verified: bool = False, text: bool = False, essential: bool = False) -> MessageKind:
    kind = MessageKind(name, topic, delivery, qos, doc, fields, sender, verified, text, essential)
    if (name in KINDS or delivery not in DELIVERIES or len(_LEVEL.findall(topic)) > 1
            or (verified and delivery != DURABLE) or len({f.name for f in fields}) != len(fields)
            or any(k.topic == topic for k in KINDS.values())):
        raise ValueError(f"message kind {name!r} declared twice or wrongly")  # i18n: a programming error
    KINDS[name] = kind
    return kind


# retained: what the box is now, kept by the broker, newest only, and republished on every connect
STATUS = _declare("status", "status", RETAINED, (0, 1), (
    "`online` on connect; `offline` (QoS 1) on a clean stop, and as the last will when edged dies"), text=True)
BIRTH = _declare("birth", "birth", RETAINED, (0,), (
    "version, `package` (the Debian package version it runs from, null off a package: design/0253), config hash "
    "(SHA-256 of the config file, hex), session counter, retention policy, cameras (each with `box`: on a standby, "
    "the box whose camera it is, design/0107; null: its own), public key and its fingerprint; `time_sources`: what "
    "can corroborate the host clock (`office`, `nts`; `[]`: nothing, design/0095; the cameras never vouch, "
    "design/0370); `cadence` (segment length: the rate the office expects); `last_seq`"),
    may("ts_us", UINT), may("session", UINT), may("public_key", SHORT), may("config_hash", SHORT),
    may("version", SHORT), may("cameras", CAMERA_LIST), may("retention", POLICY))
STATE = _declare("state", "state", RETAINED, (0,), (
    "storage, retention achieved and forecast, active alarms; the outbox's backlog; `too_large`: publishes the "
    "broker refused for their size (design/0119); while the host clock is in dispute `achieved_days` is null, each "
    "camera's verdict `CANNOT BE JUDGED` and `cannot_be_judged` says why (design/0372)"),
    may("ts_us", UINT), may("retention", DICT), may("too_large", REFUSED))
CAMERA = _declare("camera", "camera/{camera}/state", RETAINED, (0,), (
    "sent when the state, error or health changes and otherwise once a `camera_heartbeat` (1 min), with the "
    "figures of that moment: state, fps, bitrate, resolution, last frame time, why it is not recording (`error` in "
    "words, `error_kind` for scripts: `refused`, `unreachable`, `no_answer`, `slow`, `not_rtsp`, `auth`, "
    "`not_found` (404), `transport` (the camera refuses the RTSP transport asked for: see `transport` in "
    "[[cameras]]), `unsupported`, `no_video`, `ended_early`, `ended`, `stalled`, `storage`, `worker_died`, `other`; "
    "null while recording), reconnects, health, `since_us` (when it entered that state: a standby counts a "
    "returning box's recording from it, design/0107); `figures_stale` when fps and bitrate are from before it "
    "stopped"),
    may("ts_us", UINT), may("recording", BOOL), may("health", SHORT), may("fps", NUM), may("resolution", SHORT))

# durable, QoS 1: each carries the node's `seq` and `ts_us` and waits in the outbox until acknowledged
ALARM = _declare("alarm", "alarm", DURABLE, (1,), (
    "raise and clear, by stable alarm `id`; a raise names its `kind` (storage/alarm_kinds.py: the office says its "
    "title), its `message` in English and, from a box since issue 80, its `words`: the message's template and "
    "values, which the office says in the sites' language"),
                 need("action", SHORT), need("id", ID), may("at_us", UINT), may("kind", SHORT),
                 may("severity", SHORT), may("camera", SHORT), may("message", STR), may("words", WORDS),
                 verified=True, essential=True)
AUDIT = _declare("audit", "audit", DURABLE, (1,), (
    "person actions, audit chain heads, every MQTT command (`\"kind\": \"command\"`), each segment backfilled from a "
    "camera's own recording (`\"action\": \"segment.backfilled\"`: camera, path, times, SHA-256; design/0106)"),
    may("seq_local", POS), may("at_us", UINT), may("actor", STR), may("action", SHORT), may("detail", DICT),
    may("prev_hash", SHORT), may("hash", SHORT), may("kind", SHORT), may("signed_head", SIGNED_HEAD),
    verified=True, essential=True)
RETENTION = _declare("retention", "retention", DURABLE, (1,), (
    "a retention pass's destructions, one message a pass (at most 64 destructions a message; a larger pass sends "
    "several with the same `pass_id`): `{\"pass_id\", \"destructions\": [...]}`, each destruction with the fields "
    "below and its `segment_id` (an edged before issue 53 sent one message a destruction, the destruction itself; "
    "edged-central takes both)"),
    need("camera", SHORT), need("reason", SHORT), need("start_us", UINT), need("end_us", UINT),
    need("destroyed_us", UINT), may("bytes", UINT), may("free_before", INT), may("reserve", INT), may("shift_us", INT),
    may("segment_id", POS), verified=True)
FOOTAGE = _declare("footage", "footage", DURABLE, (1,), (
    "footage recorded since the last one, at most every 10 minutes: a range of the node's segment ids, and `spans`: "
    "per camera, the time its closed new segments cover, merged, as `[from_us, to_us, kind]` with kind `live`, "
    "`backfilled`, `standby` (fetched back from the standby) or `stood_in` (a standby's recording of another box's "
    "camera); a segment still being written goes with the next message, or with the last range sent again; at most "
    "400 spans a message, the rest with the next one, the same range again, never a span cut. edged-central keeps "
    "when it first heard of each segment, on its own clock, and judges every destruction's age by it "
    "(design/0095), and counts each camera's time once over the site's boxes (design/0115)"),
    need("first_id", POS), need("last_id", POS), may("from_us", UINT), may("to_us", UINT), may("segments", UINT),
    may("cameras", UINT), may("spans", DICT), verified=True)
INSPECTION = _declare("inspection", "inspection", DURABLE, (1,), "inspection results",
                      need("run", INT), may("kind", SHORT), may("due_us", UINT), may("ran_us", UINT),
                      may("signed_us", UINT), may("countersigned_us", UINT), may("inspector", SHORT),
                      may("supervisor", SHORT), verified=True)
ETHICS = _declare("ethics", "ethics", DURABLE, (1,), (
    "a request flagged major or abnormal, for the ethics office (design/0083): sent once, right after the audit "
    "record that flagged it (`request.file`, or the decision step that set the flag); what that record says of the "
    "request, never the requester's personal data; `report` is the command that prints the report on the box. "
    "edged-central makes each an `ethics` finding"),
    need("request", POS), need("flag", SHORT), may("kind", SHORT), may("category", SHORT), may("cameras", ID_LIST),
    may("from_us", UINT), may("to_us", UINT), may("mode", SHORT), may("action", SHORT), may("actor", SHORT),
    may("audit_seq", POS), may("at_us", UINT), may("report", SHORT), verified=True)
INTAKE = _declare("intake", "intake", DURABLE, (1,), (
    "a portable camera's recording taken into the box's custody (`edgectl evidence import`, design/0349): sent once, "
    "right after its `evidence.imported` audit record: the intake's number, the original file's SHA-256 and size, the "
    "device's camera id (`portable.<device>`), who took it in, who recorded it, the request it belongs to, how many "
    "segments were remuxed from it, the start its device claims (a claim: never what its age is judged by) and the "
    "device's own file name (design/0426). edged-central lists it on the month page beside the destructions"),
    need("intake", POS), need("sha256", SHORT), need("bytes", UINT), need("camera", SHORT), may("device", SHORT),
    may("taken_by", SHORT), may("filmed_by", SHORT), may("request", POS), may("segments", UINT),
    may("claimed_start_us", INT), may("at_us", UINT), may("audit_seq", POS), may("file_name", TEXT), verified=True)
INTAKE_DESTROYED = _declare("intake_destroyed", "intake_destroyed", DURABLE, (1,), (
    "an intake's original file destroyed by the retention rules (design/0354, design/0355): sent once, right after "
    "its `evidence.original_destroyed` audit record: the intake's number and the original's SHA-256 as its `intake` "
    "message said them, when the box destroyed it on its trusted clock, the retention pass and the reason. "
    "edged-central records it on the intake's row, judges it against the site's minimum counted from the intake "
    "and lists it on the month page beside the intake"),
    need("intake", POS), need("sha256", SHORT), need("destroyed_us", UINT), may("camera", SHORT),
    may("pass_id", POS), may("reason", SHORT), may("bytes", UINT), may("intake_us", UINT), may("audit_seq", POS),
    verified=True)
EVENT = _declare("event", "event", DURABLE, (1,), (
    "motion events of cameras in `motion` mode, start then end; stored and counted by the office (its seq is the "
    "node's, like every durable message's), not verified"),
    may("id", INT), need("camera", SHORT), need("phase", SHORT), may("start_us", UINT), may("end_us", UINT),
    may("peak", NUM), may("score", NUM), may("at_us", UINT))
REPLY = _declare("reply", "cmd/{verb}/reply", DURABLE, (1,), (
    "the node's answer to a command; MQTT 5 correlation data copied; stored and counted, not verified"))

# the office's word to a box (mqtt/commands.py checks them on the box)
COMMAND_ = _declare("command", "cmd/{verb}", COMMAND, (1,), (
    "commands to the node (`rebirth`, `state`, `resend`, `hold`, `inspect`), signed by the office"), sender=OFFICE)
TIME = _declare("time", "cmd/time", COMMAND, (0,), (
    "the central office's signed time and its question, to each node once a minute: not a command, never run or "
    "recorded; the node answers it on `clock` (below)"), sender=OFFICE)
RECEIPT = _declare("receipt", "cmd/receipt", COMMAND, (1,), (
    "the office's signed receipt for an export whose `export.done` audit record it verified: the manifest's "
    "SHA-256, the node and the office's time of hearing, with the CA's word for the office's key; the box keeps it "
    "in the export's folder (`office-receipt.json`, design/0318); not a command: never run, answered or recorded"),
    sender=OFFICE)

# live: the box's answer to the office's time request, at once (a late answer is no clock sample: issue 73)
CLOCK = _declare("clock", "clock", LIVE, (1,), (
    "the node's answer to each genuine `cmd/time` (signature and address checked), at once and never through the "
    "outbox: the request's `nonce` and `at_us` echoed, `node_us` (its wall clock when answering), `mono_us` (its "
    "monotonic clock), `boot` (its boot id), `sig` (Ed25519 by the node key over the canonical JSON of the rest). "
    "edged-central makes it a clock sample when it answers a nonce it sent that node within 120 s "
    "(design/0310): the only evidence of a node's clock offset"),
    need("nonce", SHORT), need("at_us", UINT), need("node_us", UINT), may("mono_us", UINT), may("boot", SHORT),
    need("sig", SHORT))

BOX_KINDS = tuple(k for k in KINDS.values() if k.sender == BOX)
DURABLE_KINDS = tuple(k for k in BOX_KINDS if k.durable)
SEQ_KINDS = frozenset(k.name for k in DURABLE_KINDS)        # every message of these carries seq and ts_us
RETAINED_KINDS = frozenset(k.name for k in BOX_KINDS if k.retained)
VERIFIED_KINDS = frozenset(k.name for k in DURABLE_KINDS if k.verified)
ESSENTIAL = frozenset(k.name for k in DURABLE_KINDS if k.essential)
_EXACT = {k.topic: k.name for k in BOX_KINDS if k.fixed}
_LEVELLED = tuple(k for k in BOX_KINDS if not k.fixed)


def of(kind: MessageKind | str) -> MessageKind:
    """The declared kind of that name (ValueError for one not declared here)."""
    if isinstance(kind, MessageKind):
        return kind
    if kind not in KINDS:
        raise ValueError(f"message kind {kind!r} is not declared in mqtt/kinds.py")  # i18n: a programming error
    return KINDS[kind]


def kind_of(rest: str) -> str | None:
    """The kind a box's topic names (its rest under ``edged/v1/<site>/<node>/``), or None."""
    exact = _EXACT.get(rest)
    if exact is not None:
        return exact
    return next((k.name for k in _LEVELLED if k.matches(rest)), None)
