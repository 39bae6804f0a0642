"""The bits of an H.264/H.265 NAL unit: its raw byte sequence payload (RBSP) read and written bit by
bit with Exp-Golomb codes, emulation prevention taken off and put back, and the NAL units of Annex B
bytes. Shared by recorder/picture_size.py (design/0063) and the H.265 rewrite of design/0543
(storage/hevc/hidden.py), so that there is one bit reader."""

from __future__ import annotations

from collections.abc import Iterator


def unescape(nal: bytes) -> bytes:
    """The RBSP of NAL unit bytes: every emulation-prevention byte (the 0x03 of 0x000003) removed.
    bytes.replace scans left to right without overlap, which is the standard's removal (the zero
    count starts again after a removed byte)."""
    return nal.replace(b"\x00\x00\x03", b"\x00\x00")


def escape(rbsp: bytes) -> bytes:
    """NAL unit bytes of an RBSP: 0x03 put after any two zero bytes that a byte <= 0x03 follows,
    and after two zero bytes that end it (a cabac_zero_word), so that no start code can appear."""
    out, zeros = bytearray(), 0
    for byte in rbsp:
        if zeros >= 2 and byte <= 3:
            out.append(3)
            zeros = 0
        out.append(byte)
        zeros = zeros + 1 if byte == 0 else 0
    if zeros >= 2:
        out.append(3)
    return bytes(out)


class Bits:
    """An RBSP read bit by bit (emulation-prevention bytes removed first). `pos` is the bit read next."""

    def __init__(self, nal: bytes):
        self.data = unescape(nal)
        self.pos = 0

    def u(self, n: int) -> int:
        v = 0
        for _ in range(n):
            byte = self.data[self.pos >> 3]  # IndexError past the end: the caller says None
            v = (v << 1) | ((byte >> (7 - (self.pos & 7))) & 1)
            self.pos += 1
        return v

    def ue(self) -> int:
        zeros = 0
        while self.u(1) == 0:
            zeros += 1
            if zeros > 31:
                raise ValueError("not Exp-Golomb")
        return (1 << zeros) - 1 + self.u(zeros)

    def se(self) -> int:
        k = self.ue()
        return (k + 1) // 2 if k & 1 else -(k // 2)

    def bit(self, pos: int) -> int:
        """The bit at `pos`, wherever reading is."""
        return (self.data[pos >> 3] >> (7 - (pos & 7))) & 1


class Writer:
    """An RBSP written bit by bit."""

    def __init__(self) -> None:
        self.bits: list[int] = []

    def u(self, n: int, v: int) -> None:
        self.bits += [(v >> (n - 1 - i)) & 1 for i in range(n)]

    def ue(self, v: int) -> None:
        code = v + 1
        self.u(code.bit_length() - 1, 0)
        self.u(code.bit_length(), code)

    def se(self, v: int) -> None:
        self.ue(2 * v - 1 if v > 0 else -2 * v)

    def copy(self, source: Bits, start: int, end: int) -> None:
        """Bits `start` to `end` (not included) of `source`, as they are."""
        self.bits += [source.bit(p) for p in range(start, end)]

    def aligned(self) -> bytes:
        """The bits so far closed by byte_alignment() (a 1, then 0s to the byte's end), as bytes."""
        bits = self.bits + [1]
        bits += [0] * (-len(bits) % 8)
        return bytes(int("".join(map(str, bits[i:i + 8])), 2) for i in range(0, len(bits), 8))


def length_units(sample: bytes) -> Iterator[bytes]:
    """The NAL units of an MP4 sample with 4-byte big-endian lengths."""
    pos = 0
    while pos + 4 <= len(sample):
        size = int.from_bytes(sample[pos:pos + 4], "big")
        yield sample[pos + 4:pos + 4 + size]
        pos += 4 + size


def annexb_units(data: bytes, limit: int | None = None) -> Iterator[bytes]:
    """The NAL units of Annex B bytes (3- or 4-byte start codes), looking no further than `limit`
    bytes for a start code; a unit's trailing zero bytes (the next start code's leading zero) are
    not its own."""
    end_scan = len(data) if limit is None else limit
    i = data.find(b"\x00\x00\x01", 0, end_scan)
    while i != -1:
        start = i + 3
        j = data.find(b"\x00\x00\x01", start, end_scan)
        end = j if j != -1 else len(data)
        yield data[start:end].rstrip(b"\x00") if j != -1 else data[start:end]
        i = j
