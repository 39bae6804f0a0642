"""Synthetic packet records as a camera sends them, for the pure pre-roll and gate tests."""

from __future__ import annotations

import functools

from recorder.preroll import Buffered

S = 1_000_000
KEY_BYTES, FRAME_BYTES, AUDIO_BYTES = 60_000, 6_000, 200


def stream(seconds: float, *, start_frame: int = 0, gop: int = 40, fps: int = 20,
           audio: bool = True, key_bytes: int = KEY_BYTES) -> list[Buffered]:
    """Packets in arrival order: frame n at n/fps s (a keyframe when n % gop == 0), an
    AAC-like audio packet every 64 ms; `item` names each packet. A new list each call, of the
    packets made for the same arguments the last few times (they are frozen): test_gate's
    Hypothesis test asks for the same four streams 150 times."""
    return list(_stream(seconds, start_frame, gop, fps, audio, key_bytes))


@functools.lru_cache(maxsize=8)   # the last few: a Hypothesis test of many shapes keeps no more
def _stream(seconds: float, start_frame: int, gop: int, fps: int, audio: bool, key_bytes: int) -> tuple[Buffered, ...]:
    out = []
    step = S // fps
    next_audio = start_frame * step
    for n in range(start_frame, start_frame + int(seconds * fps)):
        t = n * step
        while audio and next_audio <= t:
            out.append(Buffered(next_audio, False, AUDIO_BYTES, video=False, item=("a", next_audio)))
            next_audio += 64_000
        key = n % gop == 0
        out.append(Buffered(t, key, key_bytes if key else FRAME_BYTES, item=("v", n)))
    return tuple(out)
