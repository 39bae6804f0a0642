"""The control socket reads JSON that no request needs only to refuse it (issue 27): nesting
past a bound (50,000 `[` once raised an uncaught RecursionError) and NaN/Infinity."""

from __future__ import annotations

import asyncio
import json
import socket

import pytest

from edged.control import protocol
from edged.control.server import ControlServer


@pytest.mark.parametrize("line,why", [
    (b"[" * 50_000 + b"]" * 50_000, "nested deeper than 32 levels"),
    (b'{"op": "ping", "args": ' + b'{"a": ' * 40 + b"1" + b"}" * 40 + b"}", "nested deeper than 32 levels"),
    (b'{"op": "ping", "args": {"n": NaN}}', "NaN is not a number a request may hold"),
    (b'{"op": "ping", "args": {"n": -Infinity}}', "-Infinity is not a number a request may hold"),
    (b'{"op": ', "not JSON"),
    (b"\xff\xfe", "not JSON"),
])
def test_refused(line, why):
    with pytest.raises(protocol.BadRequest, match=why):
        protocol.decode(line)


@pytest.mark.parametrize("line,depth", [
    (b'{"op": "ping", "args": {"name": "[[[[{{{{\\"[[["}}', 2),  # brackets in strings do not count
    (b"[" * 32 + b"]" * 32, 32),
    (b'{"a": [1, {"b": [2]}]}', 4),
])
def test_accepted(line, depth):
    assert protocol.nesting(line) == depth
    assert protocol.decode(line) == json.loads(line)


def test_the_socket_answers_a_bad_line_and_goes_on(tmp_path):
    async def ping(_args, _caller):
        return "pong"

    async def scenario() -> list[dict]:
        server = ControlServer(tmp_path / "control.sock", {"ping": ping})
        await server.start()
        try:
            def talk() -> list[dict]:
                with socket.socket(socket.AF_UNIX) as s:
                    s.settimeout(30)
                    s.connect(str(tmp_path / "control.sock"))
                    lines = [b"[" * 50_000, b'{"op": "ping", "args": {"x": NaN}}', b'{"op": "ping", "args": {}}']
                    s.sendall(b"\n".join(lines) + b"\n")
                    f = s.makefile("rb")
                    return [json.loads(f.readline()) for _ in lines]
            return await asyncio.to_thread(talk)
        finally:
            await server.close()

    deep, nan, fine = asyncio.run(scenario())
    assert deep == {"ok": False, "code": "bad_request", "error": "bad request: the request is nested deeper than 32 "
                                                                 "levels"}
    assert nan["code"] == "bad_request" and "NaN" in nan["error"]
    assert fine == {"ok": True, "result": "pong"}
