"""H.265 at the bit level, nothing decoded: an RBSP read and written (rbsp), the parameter sets as far as a
slice header needs them (params), and a keyframe copied so that a decoder decodes it but does not show it
(hidden, design/0543). recorder/picture_size.py reads a picture's size with the same bits."""

# The NAL unit types of the pictures an open GOP's cut is about (ITU-T H.265 table 7-1): the keyframes that leading
# pictures follow (BLA 16-18, CRA 21), the leading pictures a decoder starting at such a keyframe cannot show (RASL)
# and those it can (RADL, 6 and 7)
OPENS_LEADING = frozenset((16, 17, 18, 21))
RASL = frozenset((8, 9))
LEADING = frozenset((6, 7, 8, 9))


def nal_kind(nal: bytes) -> int:
    """A NAL unit's type (its 2-byte header first)."""
    return (nal[0] >> 1) & 0x3F
