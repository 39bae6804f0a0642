"""A fake ONVIF camera for the tests: an aiohttp server on 127.0.0.1 answering the device and
media services' SOAP calls `edgectl camera probe` makes (design/0077), with its clock set off
the host's, WS-Security UsernameToken digests checked against that clock as a real camera
does, and stream URIs that point at a real test RTSP server (tests/support/cameras.py).
With `recording_from` set it is a Profile G camera too (design/0106): Recording Search
(FindRecordings, GetRecordingSearchResults, GetRecordingSummary, GetRecordingInformation) and
Replay (GetReplayUri, pointing at tests/support/profile_g_server.py), minimal but as the WSDLs say.

It runs its own event loop on a thread, so a test may drive edgectl as a child process or in
its own process alike.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import threading
from dataclasses import dataclass, field
from datetime import datetime, timezone
from xml.etree import ElementTree as ET

from aiohttp import web

from storage.time.clock import SYSTEM

SOAP = "http://www.w3.org/2003/05/soap-envelope"
WSSE = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd"
WSU = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd"
NS = ('xmlns:env="http://www.w3.org/2003/05/soap-envelope" xmlns:tds="http://www.onvif.org/ver10/device/wsdl" '
      'xmlns:trt="http://www.onvif.org/ver10/media/wsdl" xmlns:tt="http://www.onvif.org/ver10/schema" '
      'xmlns:ter="http://www.onvif.org/ver10/error" xmlns:tse="http://www.onvif.org/ver10/search/wsdl" '
      'xmlns:trp="http://www.onvif.org/ver10/replay/wsdl"')
SEARCH_NS, REPLAY_NS = "http://www.onvif.org/ver10/search/wsdl", "http://www.onvif.org/ver10/replay/wsdl"
RECORDING = "rec-1"  # the one recording's token
PRE_AUTH = {"GetSystemDateAndTime", "GetCapabilities", "GetServices"}  # ONVIF Core §5.9.4: no login needed
TOKEN_AGE_S = 30  # a token whose Created is further off the camera's clock is refused (replay window)


class _Unsupported(Exception):
    """An operation this camera does not do (answered as an ONVIF fault)."""


@dataclass
class Profile:
    token: str
    name: str
    uri: str                    # the RTSP URI GetStreamUri answers (without credentials, as cameras do)
    width: int = 1920
    height: int = 1080
    fps: int = 25
    bitrate_kbps: int = 4096
    gov: int = 50
    encoding: str = "H264"
    audio: str | None = "AAC"   # the audio encoder's encoding, None: no audio in this profile


@dataclass
class FakeOnvifCamera:
    """Start with `start()` (or as a context manager); `port` is the HTTP port; `calls` records
    each SOAP operation with the user name it came with (None: no token)."""

    profiles: list[Profile]
    user: str = "admin"
    password: str = "s3cret-pw"
    clock_offset_s: float = 40.0        # the camera's clock minus the host's
    ntp: bool = False                   # DateTimeType NTP (else Manual)
    manufacturer: str = "FakeVision"
    model: str = "FV-2040"
    firmware: str = "V5.7.3 build 240101"
    serial: str = "FV2040-0001"
    mac: str = "00:11:22:aa:bb:cc"
    port: int = 0
    recording_from: float | None = None  # Profile G: the edge recording's start (Unix s); None: no recording
    replay_uri: str = ""                 # what GetReplayUri answers (tests/support/profile_g_server.py's /replay)
    refuse_replay: bool = False          # GetReplayUri answers a fault (a camera that refuses replay)
    ntp_servers: list[str] | None = None  # what GetNTP names (an address or a DNS name each); None: not supported
    calls: list[tuple[str, str | None]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._runner: web.AppRunner | None = None

    # life ------------------------------------------------------------------------------
    def start(self) -> FakeOnvifCamera:
        ready = threading.Event()
        self._loop = asyncio.new_event_loop()

        def run() -> None:
            asyncio.set_event_loop(self._loop)
            self._loop.run_until_complete(self._serve())
            ready.set()
            self._loop.run_forever()

        self._thread = threading.Thread(target=run, name="fake-onvif", daemon=True)
        self._thread.start()
        if not ready.wait(10):
            raise RuntimeError("fake ONVIF camera did not start")
        return self

    async def _serve(self) -> None:
        app = web.Application()
        app.router.add_post("/onvif/device_service", self._handle)
        app.router.add_post("/onvif/media_service", self._handle)
        app.router.add_post("/onvif/search_service", self._handle)
        app.router.add_post("/onvif/replay_service", self._handle)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", self.port)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]

    def announce(self, name: str = "FV-2040 gate", location: str = "gate") -> None:
        """Answer WS-Discovery probes (ONVIF NetworkVideoTransmitter) until stopped. The wsdiscovery
        library sends on every IPv4 interface but loopback, with multicast looped back to this host."""
        from urllib.parse import quote

        from wsdiscovery import QName, Scope
        from wsdiscovery.publishing import ThreadedWSPublishing

        from edged.cli.discover import ipv4_only

        self._publisher = ipv4_only(ThreadedWSPublishing)()
        self._publisher.start()
        scopes = [Scope(f"onvif://www.onvif.org/{k}/{quote(v)}") for k, v in (
            ("type", "video_encoder"), ("name", name), ("hardware", self.model), ("location", location))]
        self._publisher.publishService(types=[QName("http://www.onvif.org/ver10/network/wsdl",
                                                    "NetworkVideoTransmitter", "dn")],
                                       scopes=scopes, xAddrs=[f"{self._base()}/onvif/device_service"])

    def stop(self) -> None:
        if getattr(self, "_publisher", None) is not None:
            self._publisher.stop()
            self._publisher = None
        if self._loop is None:
            return
        asyncio.run_coroutine_threadsafe(self._runner.cleanup(), self._loop).result(10)  # type: ignore[union-attr]
        self._loop.call_soon_threadsafe(self._loop.stop)
        assert self._thread is not None
        self._thread.join(10)
        self._loop.close()
        self._loop = None

    def __enter__(self) -> FakeOnvifCamera:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    # SOAP ------------------------------------------------------------------------------
    def now(self) -> datetime:
        return datetime.fromtimestamp(SYSTEM.now_us() / 1e6 + self.clock_offset_s, timezone.utc)

    async def _handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        try:
            env = ET.fromstring(body)
        except ET.ParseError:
            return self._fault("env:Sender", "ter:WellFormed", "not XML")
        op_el = env.find(f"{{{SOAP}}}Body/*")
        if op_el is None:
            return self._fault("env:Sender", "ter:WellFormed", "no body")
        op = op_el.tag.rsplit("}", 1)[-1]
        user = self._authenticated(env)
        self.calls.append((op, user if user is not False else "refused"))
        if op not in PRE_AUTH and not user:
            return self._fault("env:Sender", "ter:NotAuthorized", "Sender not Authorized", status=400)
        answer = getattr(self, "_op_" + op, None)
        if op in ("GetReplayUri",) and self.refuse_replay:
            return self._fault("env:Receiver", "ter:ActionNotSupported", "replay is switched off on this camera")
        if answer is None or (self.recording_from is None and op in _PROFILE_G):
            return self._fault("env:Receiver", "ter:ActionNotSupported", f"{op} is not supported")
        try:
            return self._ok(answer(op_el))
        except _Unsupported:
            return self._fault("env:Receiver", "ter:ActionNotSupported", f"{op} is not supported")

    def _authenticated(self, env: ET.Element) -> str | None | bool:
        """The user name of a valid digest token; None: no token; False: a wrong one."""
        token = env.find(f"{{{SOAP}}}Header/{{{WSSE}}}Security/{{{WSSE}}}UsernameToken")
        if token is None:
            return None
        name = token.findtext(f"{{{WSSE}}}Username")
        digest = token.findtext(f"{{{WSSE}}}Password") or ""
        nonce = base64.b64decode(token.findtext(f"{{{WSSE}}}Nonce") or "")
        created = token.findtext(f"{{{WSU}}}Created") or ""
        expected = base64.b64encode(hashlib.sha1(nonce + created.encode() + self.password.encode()).digest()).decode()
        try:
            when = datetime.fromisoformat(created.replace("Z", "+00:00"))
            if when.tzinfo is None:
                when = when.replace(tzinfo=timezone.utc)
        except ValueError:
            return False
        if name != self.user or digest != expected or abs((when - self.now()).total_seconds()) > TOKEN_AGE_S:
            return False
        return name

    def _ok(self, inner: str) -> web.Response:
        text = f'<?xml version="1.0" encoding="UTF-8"?><env:Envelope {NS}><env:Body>{inner}</env:Body></env:Envelope>'
        return web.Response(body=text.encode(), content_type="application/soap+xml", charset="utf-8")

    def _fault(self, code: str, sub: str, reason: str, status: int = 500) -> web.Response:
        text = (f'<?xml version="1.0" encoding="UTF-8"?><env:Envelope {NS}><env:Body><env:Fault><env:Code>'
                f'<env:Value>{code}</env:Value><env:Subcode><env:Value>{sub}</env:Value></env:Subcode></env:Code>'
                f'<env:Reason><env:Text xml:lang="en">{reason}</env:Text></env:Reason></env:Fault></env:Body>'
                '</env:Envelope>')
        return web.Response(body=text.encode(), status=status, content_type="application/soap+xml", charset="utf-8")

    def _base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _op_GetSystemDateAndTime(self, _el) -> str:
        t = self.now()
        return (f"<tds:GetSystemDateAndTimeResponse><tds:SystemDateAndTime>"
                f"<tt:DateTimeType>{'NTP' if self.ntp else 'Manual'}</tt:DateTimeType>"
                "<tt:DaylightSavings>false</tt:DaylightSavings><tt:TimeZone><tt:TZ>CST-8</tt:TZ></tt:TimeZone>"
                f"<tt:UTCDateTime><tt:Time><tt:Hour>{t.hour}</tt:Hour><tt:Minute>{t.minute}</tt:Minute>"
                f"<tt:Second>{t.second}</tt:Second></tt:Time><tt:Date><tt:Year>{t.year}</tt:Year>"
                f"<tt:Month>{t.month}</tt:Month><tt:Day>{t.day}</tt:Day></tt:Date></tt:UTCDateTime>"
                "</tds:SystemDateAndTime></tds:GetSystemDateAndTimeResponse>")

    def _op_GetNTP(self, _el) -> str:
        """ONVIF Core GetNTP (it needs a login): the servers set by hand, as cameras answer."""
        if self.ntp_servers is None:
            raise _Unsupported()
        hosts = "".join(
            "<tt:NTPManual><tt:Type>IPv4</tt:Type><tt:IPv4Address>" + h + "</tt:IPv4Address></tt:NTPManual>"
            if h.replace(".", "").isdigit() else
            "<tt:NTPManual><tt:Type>DNS</tt:Type><tt:DNSname>" + h + "</tt:DNSname></tt:NTPManual>"
            for h in self.ntp_servers)
        return ("<tds:GetNTPResponse><tds:NTPInformation><tt:FromDHCP>false</tt:FromDHCP>" + hosts
                + "</tds:NTPInformation></tds:GetNTPResponse>")

    def _op_GetCapabilities(self, _el) -> str:
        return ("<tds:GetCapabilitiesResponse><tds:Capabilities>"
                f"<tt:Device><tt:XAddr>{self._base()}/onvif/device_service</tt:XAddr></tt:Device>"
                f"<tt:Media><tt:XAddr>{self._base()}/onvif/media_service</tt:XAddr><tt:StreamingCapabilities>"
                "<tt:RTPMulticast>false</tt:RTPMulticast><tt:RTP_TCP>true</tt:RTP_TCP>"
                "<tt:RTP_RTSP_TCP>true</tt:RTP_RTSP_TCP></tt:StreamingCapabilities></tt:Media>"
                "</tds:Capabilities></tds:GetCapabilitiesResponse>")

    def _op_GetServices(self, _el) -> str:
        def service(ns: str, path: str) -> str:
            return (f"<tds:Service><tds:Namespace>{ns}</tds:Namespace><tds:XAddr>{self._base()}{path}</tds:XAddr>"
                    "<tds:Version><tt:Major>2</tt:Major><tt:Minor>60</tt:Minor></tds:Version></tds:Service>")
        profile_g = "" if self.recording_from is None else \
            service(SEARCH_NS, "/onvif/search_service") + service(REPLAY_NS, "/onvif/replay_service")
        return ("<tds:GetServicesResponse>"
                + service("http://www.onvif.org/ver10/device/wsdl", "/onvif/device_service")
                + service("http://www.onvif.org/ver10/media/wsdl", "/onvif/media_service")
                + profile_g + "</tds:GetServicesResponse>")

    def _op_GetDeviceInformation(self, _el) -> str:
        return (f"<tds:GetDeviceInformationResponse><tds:Manufacturer>{self.manufacturer}</tds:Manufacturer>"
                f"<tds:Model>{self.model}</tds:Model><tds:FirmwareVersion>{self.firmware}</tds:FirmwareVersion>"
                f"<tds:SerialNumber>{self.serial}</tds:SerialNumber><tds:HardwareId>1.0</tds:HardwareId>"
                "</tds:GetDeviceInformationResponse>")

    def _op_GetNetworkInterfaces(self, _el) -> str:
        return ('<tds:GetNetworkInterfacesResponse><tds:NetworkInterfaces token="eth0"><tt:Enabled>true</tt:Enabled>'
                f"<tt:Info><tt:Name>eth0</tt:Name><tt:HwAddress>{self.mac}</tt:HwAddress><tt:MTU>1500</tt:MTU>"
                "</tt:Info></tds:NetworkInterfaces></tds:GetNetworkInterfacesResponse>")

    def _op_GetProfiles(self, _el) -> str:
        return "<trt:GetProfilesResponse>" + "".join(self._profile(p) for p in self.profiles) + \
            "</trt:GetProfilesResponse>"

    @staticmethod
    def _multicast() -> str:
        return ("<tt:Multicast><tt:Address><tt:Type>IPv4</tt:Type><tt:IPv4Address>0.0.0.0</tt:IPv4Address>"
                "</tt:Address><tt:Port>0</tt:Port><tt:TTL>0</tt:TTL><tt:AutoStart>false</tt:AutoStart></tt:Multicast>"
                "<tt:SessionTimeout>PT60S</tt:SessionTimeout>")

    def _profile(self, p: Profile) -> str:
        audio = "" if p.audio is None else (
            f'<tt:AudioEncoderConfiguration token="aec-{p.token}"><tt:Name>audio</tt:Name><tt:UseCount>1</tt:UseCount>'
            f"<tt:Encoding>{p.audio}</tt:Encoding><tt:Bitrate>32</tt:Bitrate><tt:SampleRate>16</tt:SampleRate>"
            f"{self._multicast()}</tt:AudioEncoderConfiguration>")
        return (f'<trt:Profiles token="{p.token}" fixed="true"><tt:Name>{p.name}</tt:Name>'
                f'<tt:VideoEncoderConfiguration token="vec-{p.token}"><tt:Name>video</tt:Name>'
                f"<tt:UseCount>1</tt:UseCount><tt:Encoding>{p.encoding}</tt:Encoding>"
                f"<tt:Resolution><tt:Width>{p.width}</tt:Width><tt:Height>{p.height}</tt:Height></tt:Resolution>"
                f"<tt:Quality>5</tt:Quality><tt:RateControl><tt:FrameRateLimit>{p.fps}</tt:FrameRateLimit>"
                f"<tt:EncodingInterval>1</tt:EncodingInterval><tt:BitrateLimit>{p.bitrate_kbps}</tt:BitrateLimit>"
                f"</tt:RateControl><tt:H264><tt:GovLength>{p.gov}</tt:GovLength><tt:H264Profile>Main</tt:H264Profile>"
                f"</tt:H264>{self._multicast()}</tt:VideoEncoderConfiguration>{audio}</trt:Profiles>")

    def _op_GetStreamUri(self, el: ET.Element) -> str:
        token = next((c.text for c in el if c.tag.endswith("ProfileToken")), None)
        profile = next((p for p in self.profiles if p.token == token), None)
        if profile is None:
            raise web.HTTPBadRequest(text="no such profile")
        return ("<trt:GetStreamUriResponse><trt:MediaUri>"
                f"<tt:Uri>{profile.uri}</tt:Uri><tt:InvalidAfterConnect>false</tt:InvalidAfterConnect>"
                "<tt:InvalidAfterReboot>false</tt:InvalidAfterReboot><tt:Timeout>PT0S</tt:Timeout>"
                "</trt:MediaUri></trt:GetStreamUriResponse>")

    # Profile G: Recording Search and Replay ------------------------------------------------
    def _span(self) -> tuple[str, str]:
        assert self.recording_from is not None
        start = datetime.fromtimestamp(self.recording_from, timezone.utc)
        return start.strftime("%Y-%m-%dT%H:%M:%S.%fZ"), self.now().strftime("%Y-%m-%dT%H:%M:%S.%fZ")

    def _information(self) -> str:
        start, until = self._span()
        return (f"<tt:RecordingToken>{RECORDING}</tt:RecordingToken><tt:Source><tt:SourceId>{self.serial}</tt:SourceId>"
                f"<tt:Name>{self.model}</tt:Name><tt:Location>SD card</tt:Location><tt:Description>edge recording"
                "</tt:Description><tt:Address>local</tt:Address></tt:Source>"
                f"<tt:EarliestRecording>{start}</tt:EarliestRecording><tt:LatestRecording>{until}</tt:LatestRecording>"
                "<tt:Content>continuous</tt:Content><tt:Track><tt:TrackToken>video-1</tt:TrackToken>"
                f"<tt:TrackType>Video</tt:TrackType><tt:Description>video</tt:Description><tt:DataFrom>{start}"
                f"</tt:DataFrom><tt:DataTo>{until}</tt:DataTo></tt:Track><tt:RecordingStatus>Recording"
                "</tt:RecordingStatus>")

    def _op_GetRecordingSummary(self, _el) -> str:
        start, until = self._span()
        return (f"<tse:GetRecordingSummaryResponse><tse:Summary><tt:DataFrom>{start}</tt:DataFrom>"
                f"<tt:DataUntil>{until}</tt:DataUntil><tt:NumberRecordings>1</tt:NumberRecordings></tse:Summary>"
                "</tse:GetRecordingSummaryResponse>")

    def _op_FindRecordings(self, _el) -> str:
        return "<tse:FindRecordingsResponse><tse:SearchToken>search-1</tse:SearchToken></tse:FindRecordingsResponse>"

    def _op_GetRecordingSearchResults(self, _el) -> str:
        return ("<tse:GetRecordingSearchResultsResponse><tse:ResultList><tt:SearchState>Completed</tt:SearchState>"
                f"<tt:RecordingInformation>{self._information()}</tt:RecordingInformation></tse:ResultList>"
                "</tse:GetRecordingSearchResultsResponse>")

    def _op_GetRecordingInformation(self, _el) -> str:
        return (f"<tse:GetRecordingInformationResponse><tse:RecordingInformation>{self._information()}"
                "</tse:RecordingInformation></tse:GetRecordingInformationResponse>")

    def _op_GetReplayUri(self, _el) -> str:
        return f"<trp:GetReplayUriResponse><trp:Uri>{self.replay_uri}</trp:Uri></trp:GetReplayUriResponse>"


_PROFILE_G = {"GetRecordingSummary", "FindRecordings", "GetRecordingSearchResults", "GetRecordingInformation",
              "GetReplayUri"}
