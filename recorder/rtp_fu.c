/* The usual RTP packet of a picture taken in C (design/0492): recorder/rtp.py `drain`'s own path,
 * a loop over the read buffer instead of one pass of drain's loop a packet.
 *
 * take(buf, start, end, au, n, rtp_ch, seq, ts32, ssrc, hevc) reads the `$`-framed packets of
 * RTSP's TCP interleave in `buf` from `start` (not past `end`) while each is what drain's own path
 * takes: an RTP packet on `rtp_ch`, version 2 with no CSRC, extension or padding, of source `ssrc`,
 * sequence number `seq` (then the next), timestamp `ts32`, a fragment that is not a NAL unit's first
 * (H.264 FU-A, H.265 FU; `hevc`), whose payload fits in the access unit `au` after its `n` bytes.
 * Each one's payload is appended to `au`; the loop stops after a fragment that ends its NAL unit
 * (E bit) or at the first packet it does not take (left for drain's Python path, which grows `au`).
 * Returns (start, n, seq, taken, ended, marked): where the next packet starts, the access unit's
 * length, the next sequence number expected, how many packets were taken, whether the last ended
 * its NAL unit, and whether it carried the RTP marker. Nothing is changed when taken is 0.
 *
 * Built by scripts/build-compiled into recorder/_rtpc_fu (SOURCE_SHA256: the hash of this file,
 * checked by recorder/fastpath.py); without it drain's own path runs in mypyc's C or in Python,
 * the same bytes (tests/test_fastpath.py).
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <string.h>

#ifndef SOURCE_SHA256
#define SOURCE_SHA256 ""
#endif

static int as_bytearray(PyObject *o, unsigned char **data, Py_ssize_t *size) {
    if (!PyByteArray_Check(o)) {
        PyErr_SetString(PyExc_TypeError, "take: buf and au must be bytearrays");
        return -1;
    }
    *data = (unsigned char *)PyByteArray_AS_STRING(o);
    *size = PyByteArray_GET_SIZE(o);
    return 0;
}

static PyObject *take(PyObject *self, PyObject *const *args, Py_ssize_t nargs) {
    unsigned char *buf, *au;
    Py_ssize_t buf_size, au_size;
    (void)self;
    if (nargs != 10) {
        PyErr_SetString(PyExc_TypeError, "take expects 10 arguments");
        return NULL;
    }
    if (as_bytearray(args[0], &buf, &buf_size) < 0 || as_bytearray(args[3], &au, &au_size) < 0)
        return NULL;
    Py_ssize_t at = PyLong_AsSsize_t(args[1]);
    Py_ssize_t end = PyLong_AsSsize_t(args[2]);
    Py_ssize_t n = PyLong_AsSsize_t(args[4]);
    long rtp_ch = PyLong_AsLong(args[5]);
    unsigned long seq = PyLong_AsUnsignedLong(args[6]);
    unsigned long ts32 = PyLong_AsUnsignedLong(args[7]);
    unsigned long ssrc = PyLong_AsUnsignedLong(args[8]);
    int hevc = PyObject_IsTrue(args[9]);
    if (PyErr_Occurred() || hevc < 0)
        return NULL;
    if (end > buf_size || at < 0 || n < 0 || n > au_size) {
        PyErr_SetString(PyExc_ValueError, "take: start, end or n out of the buffers");
        return NULL;
    }
    /* the payload's offset from the frame's `$`: 4 (frame) + 12 (RTP) + the fragment's headers */
    const Py_ssize_t skip = hevc ? 19 : 18;
    long taken = 0;
    int ended = 0, marked = 0;
    while (end - at >= 23) {
        const unsigned char *p = buf + at;
        Py_ssize_t size = ((Py_ssize_t)p[2] << 8) | p[3];
        unsigned long pseq = ((unsigned long)p[6] << 8) | p[7];
        unsigned long pts = ((unsigned long)p[8] << 24) | ((unsigned long)p[9] << 16) | ((unsigned long)p[10] << 8) | p[11];
        unsigned long pssrc = ((unsigned long)p[12] << 24) | ((unsigned long)p[13] << 16) | ((unsigned long)p[14] << 8)
                              | p[15];
        int piece, head;
        if (hevc) {
            piece = ((p[16] >> 1) & 0x3F) == 49;
            head = p[18];
        } else {
            piece = (p[16] & 0x1F) == 28;
            head = p[17];
        }
        if (!piece || (head & 0x80) || p[0] != 0x24 || p[1] != rtp_ch || p[4] != 0x80 || size <= skip - 4
            || end - at - 4 < size || pseq != seq || pts != ts32 || pssrc != ssrc)
            break;
        Py_ssize_t stop = at + 4 + size;
        Py_ssize_t e = n + stop - at - skip;
        if (e > au_size)
            break;  /* drain's Python path grows the access unit */
        memcpy(au + n, p + skip, (size_t)(stop - at - skip));
        n = e;
        at = stop;
        seq = (seq + 1) & 0xFFFF;
        taken += 1;
        marked = p[5] >= 0x80;
        if (head & 0x40) {
            ended = 1;
            break;
        }
    }
    return Py_BuildValue("(nnklii)", at, n, seq, taken, ended, marked);
}

static PyMethodDef methods[] = {
    {"take", (PyCFunction)(void (*)(void))take, METH_FASTCALL, "drain's own path over the read buffer (design/0492)"},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_rtpc_fu", NULL, -1, methods, NULL, NULL, NULL, NULL};

PyMODINIT_FUNC PyInit__rtpc_fu(void) {
    PyObject *m = PyModule_Create(&module);
    if (m != NULL && PyModule_AddStringConstant(m, "SOURCE_SHA256", SOURCE_SHA256) < 0) {
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
