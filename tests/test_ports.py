"""edged/ports.py: the typed hand-offs the composition root connects once (design/0031)."""

import pytest

from edged.ports import Check, Outlet, PortError
from storage import alarm_kinds as kinds


async def test_an_outlet_drops_until_connected_then_hands_on_and_refuses_a_second_connection():
    got: list[dict] = []

    async def sink(item: dict) -> int:
        got.append(item)
        return len(got)

    out: Outlet[dict] = Outlet("alarm publish")
    await out({"id": "a"})  # MQTT off: nothing to hand to
    assert not out.connected and got == []
    out.connect(sink)
    await out({"id": "b"})
    assert out.connected and got == [{"id": "b"}]
    with pytest.raises(PortError, match="alarm publish"):
        out.connect(sink)


def test_a_check_says_no_until_connected():
    check = Check("alarm downgrade")
    assert check(kinds.CAMERA_OFFLINE.name) is False
    check.connect(lambda kind: kind == kinds.CAMERA_OFFLINE.name)
    assert check(kinds.CAMERA_OFFLINE.name) is True and check(kinds.DISK_FULL_HELD.name) is False
    with pytest.raises(PortError):
        check.connect(lambda _kind: True)
