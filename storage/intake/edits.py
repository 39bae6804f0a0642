"""The edits of a file's edit list after the first (design/0461), in front of the remux's cutter
(storage/intake/remux.py): each later edit a segment of its own, its hidden pictures behind its edit list."""

from __future__ import annotations

from typing import Any


class Edits:
    """The edits of an edit list after the first (design/0461), in front of the cutter. FFmpeg's demuxer hands each
    edit in turn: the pictures of an edit's last GOP past its end, then those of the next edit's first GOP before
    it, flagged discarded, the next edit's times going back. The first are left out (no picture shown is decoded
    after them) or, where one shown is, kept; the next edit's first GOP is held until its first picture shown is
    known, then begins a segment of its own."""

    def __init__(self, cutter: Any):
        self.cutter = cutter
        self.trailing: list[tuple[Any, bool, int]] = []
        self.held: list[tuple[Any, bool, int]] | None = None

    def put(self, pkt: Any, video: bool, at: int) -> None:
        if self.held is not None:
            if not (video and pkt.is_keyframe):
                self.held.append((pkt, video, at))
                return
            self._begin()
        out = self.cutter.out
        if video and pkt.is_discard and out is not None and out.frames:
            if pkt.is_keyframe and at < out.end_us:   # the next edit, its times back before what was shown
                self.trailing, self.held = [], [(pkt, video, at)]
            else:
                self.trailing.append((pkt, video, at))
            return
        if video and self.trailing:   # a picture shown decoded after them: they are the device's, kept
            for held in self.trailing:
                self.cutter.put(*held)
            self.trailing = []
        self.cutter.put(pkt, video, at)

    def _begin(self) -> None:
        held, self.held = self.held or [], None
        shown = [at for pkt, video, at in held if video and not pkt.is_discard]
        self.cutter.edit(min(shown) if shown else held[0][2])
        for one in held:
            self.cutter.put(*one)

    def close(self) -> list[dict[str, Any]]:
        if self.held is not None:
            self._begin()
        made: list[dict[str, Any]] = self.cutter.close()   # pictures trailing at the file's end: never shown
        return made
