"""Which RTSP reader opens a camera's next connection under `reader = "auto"`, and why FFmpeg's
reader (libavformat) records it when it does (design/0079, amended by design/0092). Pure.

"auto" opens with the edged reader. Any failure of the edged reader to start a session, or to
keep one (a run that ends within KEEP_US of its start), tries libavformat next: at once after a
failed start, at the next connection after a lost run (kept only while libavformat keeps its
own sessions longer). Only a camera that gave the edged reader
nothing to read is not handed on: no TCP connection (refused, unreachable), or a connection taken
and not a byte sent back within the connect timeout; libavformat would meet the same silence. When
libavformat then records the camera, it keeps it for the worker's life (design/0079), and
`edgectl cameras` says why in one of REASONS, fixed words a technician can act on, translated
where people read them (scripts/i18n reads this file: the N_() below).
"""

from __future__ import annotations

from dataclasses import dataclass

EDGED, FFMPEG, AUTO = "edged", "ffmpeg", "auto"
KEEP_US = 120_000_000  # an edged run shorter than this did not keep its session (live555 drops one in 65 s)


def N_(text: str) -> str:
    """Marks a msgid for scripts/i18n; the English is what the log, MQTT and `--json` carry."""
    return text


SOUND = N_("the camera sends sound, which FFmpeg's reader records")
CODEC = N_("its video is neither H.264 nor H.265")
KEYFRAME = N_("the edged reader could not read its first keyframe")
AUTH = N_("it asks for an authentication the edged reader does not speak")
ANSWERS = N_("its RTSP answers are not as the edged reader expects")
REFUSED = N_("it refused a request of the edged reader")
SILENT = N_("it did not answer the edged reader in time")
LOST = N_("the edged reader could not keep its session")
UDP_ONLY = N_("it sends RTP over UDP only, which FFmpeg's reader records")
REASONS = (SOUND, CODEC, KEYFRAME, AUTH, ANSWERS, REFUSED, SILENT, LOST, UDP_ONLY)
# No TCP connection at all (recorder/diagnose.py's kinds): nothing for another reader to read.
_NO_CONNECTION = frozenset({"refused", "unreachable"})
# The edged reader's own words for what it will not record (recorder/edged_source.py) -> reason.
_SAID = (("sound", SOUND), ("video", CODEC), ("keyframe", KEYFRAME), ("parameter sets", KEYFRAME))


def reason(message: str, status: int | None, failure_kind: str | None, unspoken: bool, timed_out: bool) -> str:
    """Why libavformat is tried after the edged reader failed to start: from its failure's
    words (`message`), RTSP status, recorder/diagnose.py kind, and whether it was an auth
    scheme it does not speak or a timeout."""
    if unspoken:
        return AUTH
    for words, why in _SAID:
        if words in message:
            return why
    if failure_kind in ("not_rtsp", "garbled"):
        return ANSWERS
    if status is not None:
        return REFUSED
    return SILENT if timed_out else ANSWERS


@dataclass(slots=True)
class ReaderChoice:
    """One camera's reader, as its thread opens connection after connection."""

    setting: str = AUTO
    fallback: str | None = None  # libavformat records it for the worker's life: why (one of REASONS)
    lost: bool = False  # the last edged run ended before KEEP_US: libavformat opens the next connection

    def edged_first(self, rtsp_over_tcp: bool) -> bool:
        """Whether the next connection opens with the edged reader."""
        if self.setting == FFMPEG or not rtsp_over_tcp:
            return False
        return self.setting == EDGED or (self.fallback is None and not self.lost)

    def hand_on(self, diagnosed_kind: str, silent: bool = False) -> bool:
        """After the edged reader failed to start: whether libavformat tries the camera now
        (`silent`: the camera sent not a byte back)."""
        return self.setting == AUTO and diagnosed_kind not in _NO_CONNECTION and not silent

    def run_ended(self, edged: bool, lasted_us: int) -> None:
        """A run ended (not by a stop): an edged one that did not last hands the next
        connection to libavformat; a libavformat run taken for a lost session that did not
        last either gives the camera back to the edged reader (the camera drops sessions,
        whoever reads: a reboot, not a reader's fault)."""
        short = lasted_us < KEEP_US
        self.lost = edged and self.setting == AUTO and short
        if not edged and short and self.fallback == LOST:
            self.fallback = None

    def ffmpeg_opened(self, why: str | None) -> None:
        """libavformat opened the camera: after an edged failure (`why`), for good."""
        if why is not None:
            self.fallback = why
        self.lost = False

    def ffmpeg_failed(self) -> None:
        """libavformat failed too: the camera's fault, not a reader's; the edged reader next."""
        self.lost = False
