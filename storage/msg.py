"""A message made where the reader's language is not known yet (design/0057, 0240, 0280): the
English text as a plain str, plus the template and its values, so a reader's program says it in
its own catalog later. The daemon's (edged/i18n.py `render`) and the office's (central/i18n.py
`Speaker.said`) readers both take it from here: central/ imports nothing of edged/."""

from __future__ import annotations

from typing import Mapping

# A parameter of this name is someone else's words (a camera's error, the system's, a box's): it
# is never translated, and a reader's rendering says it as it came (or as the technician's detail).
FOREIGN = "error"
# A parameter of this name is an alarm kind's name (storage/alarm_kinds.py): the English keeps the
# name, a reader's rendering says the kind's title.
KIND = "kind"


def A_(message: str) -> str:
    """Marks an alarm's message template (design/0343): `scripts/i18n extract` puts it in the box's
    catalog and the office's, which says the alarm from the words it came with (design/0342).
    An alarm's message is `Msg(A_("..."), ...)`: edged/alarms.py refuses any other."""
    return message


class Msg(str):
    """The English text as a plain str (the catalog, the store, MQTT and the log keep it as
    before), plus the template and its parameters, so a reader can say it in its language.
    Write it as `Msg(N_("camera {camera} is offline"), camera=cid)`. A parameter may itself be a
    Msg: it is stored and rendered as one too (design/0240)."""

    template: str
    params: dict[str, object]

    def __new__(cls, template: str, **params: object) -> Msg:
        self = super().__new__(cls, template.format(**params))
        self.template, self.params = template, params
        return self

    def stored(self) -> dict[str, object]:
        """What is kept next to the English text: {"template": ..., "params": ...}."""
        return {"template": self.template,
                "params": {k: v.stored() if isinstance(v, Msg) else v for k, v in self.params.items()}}


def is_stored(value: object) -> bool:
    """Whether ``value`` is what `Msg.stored` gives (a template and its parameters)."""
    return isinstance(value, Mapping) and isinstance(value.get("template"), str)


def english(stored: Mapping[str, object]) -> str:
    params = stored.get("params") or {}
    assert isinstance(params, Mapping)
    return str(stored["template"]).format(**{k: english(v) if is_stored(v) else v for k, v in params.items()})
