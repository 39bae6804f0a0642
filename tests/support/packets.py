"""Synthetic packet records as a camera sends them, for the pure pre-roll and gate tests."""

from __future__ import annotations

from recorder.preroll import Buffered

S = 1_000_000
KEY_BYTES, FRAME_BYTES, AUDIO_BYTES = 60_000, 6_000, 200


def stream(seconds: float, *, start_frame: int = 0, gop: int = 40, fps: int = 20,
           audio: bool = True, key_bytes: int = KEY_BYTES) -> list[Buffered]:
    """Packets in arrival order: frame n at n/fps s (a keyframe when n % gop == 0), an
    AAC-like audio packet every 64 ms; `item` names each packet."""
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
    return out
