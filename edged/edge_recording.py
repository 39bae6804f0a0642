"""A camera's own recording over ONVIF Profile G (design/0106): Recording Search says whether
it has one and what time it holds (GetRecordingSummary, FindRecordings and its results), Replay
gives the RTSP URI to play it (GetReplayUri). Used by `edgectl camera probe` ("edge recording:
yes/no") and by the backfill (edged/daemon/backfill.py).

onvif-zeep-async does the SOAP and the WS-Security login, as for the probe (edged/cli/probe.py);
imported inside the functions, so a site without such cameras never loads zeep.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

SEARCH_NS = "http://www.onvif.org/ver10/search/wsdl"
REPLAY_NS = "http://www.onvif.org/ver10/replay/wsdl"


@dataclass(frozen=True, slots=True)
class EdgeRecording:
    token: str        # the recording's token (GetReplayUri's RecordingToken)
    from_us: int      # the earliest footage it holds (what is older was overwritten)
    until_us: int     # the latest


class NoEdgeRecording(Exception):
    """The camera has no recording to replay (no Recording Search service, or none found)."""


def _us(value: Any) -> int:
    if isinstance(value, datetime):
        when = value if value.tzinfo is not None else value.replace(tzinfo=timezone.utc)
        return int(when.timestamp() * 1_000_000)
    return int(datetime.fromisoformat(str(value).replace("Z", "+00:00")).timestamp() * 1_000_000)


async def _camera(host: str, port: int, user: str | None, password: str | None) -> Any:
    from onvif import ONVIFCamera  # here: only cameras with an edge recording pay for zeep

    cam = ONVIFCamera(host, port, user or "", password or "", adjust_time=True)
    await cam.update_xaddrs()
    return cam


async def find(host: str, port: int, user: str | None, password: str | None) -> EdgeRecording:
    """The camera's recording; raises NoEdgeRecording when it has none, another error when
    the camera does not answer or refuses the login."""
    cam = await _camera(host, port, user, password)
    try:
        if SEARCH_NS not in cam.xaddrs or REPLAY_NS not in cam.xaddrs:
            raise NoEdgeRecording("no Recording Search or Replay service")
        search = await cam.create_search_service()
        summary = await search.GetRecordingSummary()
        if not summary or not getattr(summary, "NumberRecordings", 0):
            raise NoEdgeRecording("no recording")
        token = await search.FindRecordings({"Scope": {}, "KeepAliveTime": "PT10S"})
        found = await search.GetRecordingSearchResults({"SearchToken": token, "WaitTime": "PT5S"})
        infos = getattr(found, "RecordingInformation", None) or []
        if not infos:
            raise NoEdgeRecording("no recording found")
        info = infos[0]
        return EdgeRecording(str(info.RecordingToken), _us(summary.DataFrom), _us(summary.DataUntil))
    finally:
        await cam.close()


async def replay_uri(host: str, port: int, user: str | None, password: str | None, token: str) -> str:
    """The RTSP URI of the recording's replay (without credentials, as cameras answer it)."""
    cam = await _camera(host, port, user, password)
    try:
        replay = await cam.create_replay_service()
        answer = await replay.GetReplayUri({"StreamSetup": {"Stream": "RTP-Unicast", "Transport": {"Protocol": "RTSP"}},
                                            "RecordingToken": token})
        return str(getattr(answer, "Uri", answer))
    finally:
        await cam.close()
