# cython: language_level=3, boundscheck=False, wraparound=False, initializedcheck=False, cdivision=True
"""The usual RTP packet of a picture taken in Cython (design/0492, 0495): recorder/rtp.py `drain`'s own
path, a loop over the read buffer instead of one pass of drain's loop a packet.

take(buf, start, end, au, n, rtp_ch, seq, ts32, ssrc, hevc) reads the `$`-framed packets of RTSP's
TCP interleave in `buf` from `start` (not past `end`) while each is what drain's own path takes: an
RTP packet on `rtp_ch`, version 2 with no CSRC, extension or padding, of source `ssrc`, sequence
number `seq` (then the next), timestamp `ts32`, a fragment that is not a NAL unit's first (H.264
FU-A, H.265 FU; `hevc`), whose payload fits in the access unit `au` after its `n` bytes. Each one's
payload is appended to `au`; the loop stops after a fragment that ends its NAL unit (E bit) or at
the first packet it does not take (left for drain's Python path, which grows `au`). Returns (start,
n, seq, taken, ended, marked): where the next packet starts, the access unit's length, the next
sequence number expected, how many packets were taken, whether the last ended its NAL unit, and
whether it carried the RTP marker. Nothing is changed when taken is 0.

Built by scripts/build-compiled (Cython, requirements/build.lock) into recorder/_rtpc_fu, a copy
ending in SOURCE_SHA256, the hash of this file, which recorder/fastpath.py checks; without it
drain's own path runs in mypyc's C or in Python, the same bytes (tests/test_fastpath.py).
"""

from libc.string cimport memcpy


cdef inline unsigned long _u32(const unsigned char *p) noexcept nogil:
    return (<unsigned long>p[0] << 24) | (<unsigned long>p[1] << 16) | (<unsigned long>p[2] << 8) | p[3]


def take(const unsigned char[::1] buf, Py_ssize_t start, Py_ssize_t end, unsigned char[::1] au, Py_ssize_t n,
         long rtp_ch, unsigned long seq, unsigned long ts32, unsigned long ssrc, bint hevc):
    """drain's own path over the read buffer (design/0492, 0495): see the module's text."""
    cdef Py_ssize_t at = start, au_size = au.shape[0], size, stop, e
    # the payload's offset from the frame's `$`: 4 (frame) + 12 (RTP) + the fragment's headers
    cdef Py_ssize_t skip = 19 if hevc else 18
    cdef long taken = 0
    cdef int ended = 0, marked = 0, piece, head
    cdef const unsigned char *p
    cdef const unsigned char *data = &buf[0] if buf.shape[0] else NULL
    cdef unsigned char *into = &au[0] if au_size else NULL
    if end > buf.shape[0] or at < 0 or n < 0 or n > au_size:
        raise ValueError("take: start, end or n out of the buffers")
    while end - at >= 23:
        p = data + at
        size = (<Py_ssize_t>p[2] << 8) | p[3]
        if hevc:
            piece = ((p[16] >> 1) & 0x3F) == 49
            head = p[18]
        else:
            piece = (p[16] & 0x1F) == 28
            head = p[17]
        if not piece or head & 0x80 or p[0] != 0x24 or p[1] != rtp_ch or p[4] != 0x80 or size <= skip - 4 \
                or end - at - 4 < size or ((<unsigned long>p[6] << 8) | p[7]) != seq or _u32(p + 8) != ts32 \
                or _u32(p + 12) != ssrc:
            break
        stop = at + 4 + size
        e = n + stop - at - skip
        if e > au_size:
            break  # drain's Python path grows the access unit
        memcpy(into + n, p + skip, <size_t>(stop - at - skip))
        n = e
        at = stop
        seq = (seq + 1) & 0xFFFF
        taken += 1
        marked = p[5] >= 0x80
        if head & 0x40:
            ended = 1
            break
    return at, n, seq, taken, ended, marked
