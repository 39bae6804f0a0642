"""The box's answer to the office's time request, as the box builds it (mqtt/office_time.py: the
Listener hears the office's question, `answer_message` signs the answer with the node key), taken by
the office's real store and verifier (time-office's side, design/0310): a clock sample whose round
trip is the bar (design/0305). A replayed question gets no second answer, so no second sample."""

from __future__ import annotations

import json
from typing import Any

from mqtt import office_time
from tests.support.catalog import central_clock_rows
from tests.test_central_time_exchange import NODE, S, T0, Office


def test_the_boxs_own_answer_is_the_offices_clock_sample(tmp_path):
    o = Office(tmp_path)
    q = o.ask()
    questions: list[dict[str, Any]] = []
    ear = office_time.Listener(o.office_key.public, NODE, lambda _at: None, on_question=questions.append)
    raw = next(p for t, p in o.published if t == f"edged/v1/{NODE}/cmd/time")
    ear.hear("time", raw)
    ear.hear("time", raw)                     # a replay: no second answer
    assert [d["nonce"] for d in questions] == [q[NODE]["nonce"]]
    node_us = T0 + 40 * 86_400 * S            # the box's clock forty days ahead
    answer = office_time.answer_message(questions[0], o.node_key.sign, node_us, 77 * S, "boot-7")
    o.clock.now = T0 + 3 * S
    o.store.ingest([(f"edged/v1/{NODE}/clock", answer)], o.clock())
    o.verifier.run_once()
    (s,) = central_clock_rows(o.store, "clock_samples")
    assert (s["node"], s["sent_us"], s["node_us"], s["received_us"], s["boot"]) == (
        NODE, T0, node_us, T0 + 3 * S, "boot-7")
    assert json.loads(answer)["at_us"] == q[NODE]["at_us"]
    o.store.close()
