"""gguf_write.py - a GGUF writer written from the format's specification (ggml's docs/gguf.md), for the
test generators (tools/gen_checkpoint.py, tools/gen_bad_checkpoints.py). numpy only.

File layout (version 3, little-endian):
    "GGUF", u32 version, u64 tensor_count, u64 metadata_kv_count
    metadata: per key, gguf_string key, u32 value_type, value
    tensor infos: gguf_string name, u32 n_dimensions, u64 ne[n], u32 ggml_type, u64 offset
    padding to `general.alignment` (default 32), then the tensor data; every offset (relative to the
    start of the data) is a multiple of the alignment.
gguf_string = u64 length + UTF-8 bytes, no NUL. ne[0] is the row length: a PyTorch [rows, cols]
matrix has ne = [cols, rows] (the reverse of the PyTorch shape).

Values are given as (type, value) pairs with the type names below, so a test can write any type
(and any wrong type) on purpose; `put` picks the usual type of a Python value.
"""
import struct

import numpy as np

VT = {"u8": 0, "i8": 1, "u16": 2, "i16": 3, "u32": 4, "i32": 5, "f32": 6, "bool": 7, "str": 8, "arr": 9,
      "u64": 10, "i64": 11, "f64": 12}
SCALAR = {"u8": "<B", "i8": "<b", "u16": "<H", "i16": "<h", "u32": "<I", "i32": "<i", "f32": "<f", "bool": "<?",
          "u64": "<Q", "i64": "<q", "f64": "<d"}

# ggml type ids, block sizes and bytes per block (ggml.h)
GGML = {"F32": (0, 1, 4), "F16": (1, 1, 2), "Q8_0": (8, 32, 34), "BF16": (30, 1, 2), "Q4_K": (12, 256, 144),
        "Q6_K": (14, 256, 210)}

TOKEN_NORMAL, TOKEN_CONTROL, TOKEN_USER_DEFINED, TOKEN_UNUSED = 1, 3, 4, 5


def gstr(s):
    b = s.encode("utf-8") if isinstance(s, str) else bytes(s)
    return struct.pack("<Q", len(b)) + b


def encode_value(vtype, v):
    """Bytes of a value (without its type tag). Arrays: vtype = ("arr", elem_type)."""
    if isinstance(vtype, tuple):
        et = vtype[1]
        out = struct.pack("<IQ", VT[et], len(v))
        if et == "str":
            return out + b"".join(gstr(x) for x in v)
        if et in ("i32", "u32", "f32") and not isinstance(v, list):
            return out + np.asarray(v, dtype={"i32": "<i4", "u32": "<u4", "f32": "<f4"}[et]).tobytes()
        return out + b"".join(struct.pack(SCALAR[et], x) for x in v)
    if vtype == "str":
        return gstr(v)
    return struct.pack(SCALAR[vtype], v)


def kv_bytes(key, vtype, v):
    tag = VT["arr"] if isinstance(vtype, tuple) else VT[vtype]
    return gstr(key) + struct.pack("<I", tag) + encode_value(vtype, v)


def tensor_nbytes(ggml_type, ne):
    _, block, size = GGML[ggml_type]
    n = 1
    for x in ne:
        n *= x
    return n // block * size


class Writer:
    """Collects metadata and tensor infos; write() streams the data through callbacks."""

    def __init__(self, alignment=32, version=3):
        self.kvs = []  # (key, vtype, value)
        self.tensors = []  # (name, ggml_type name, ne list, nbytes, fill callback(f))
        self.alignment = alignment
        self.version = version

    def add(self, key, vtype, value):
        self.kvs.append((key, vtype, value))

    def add_tensor(self, name, ggml_type, ne, fill, nbytes=None):
        self.tensors.append((name, ggml_type, list(ne), tensor_nbytes(ggml_type, ne) if nbytes is None else nbytes, fill))

    def header(self):
        """(header bytes before the padding, tensor offsets)."""
        al = self.alignment
        out = [b"GGUF", struct.pack("<IQQ", self.version, len(self.tensors), len(self.kvs))]
        for k, t, v in self.kvs:
            out.append(kv_bytes(k, t, v))
        offs, off = [], 0
        for name, gt, ne, nb, _ in self.tensors:
            offs.append(off)
            out.append(gstr(name) + struct.pack("<I", len(ne)) + b"".join(struct.pack("<Q", x) for x in ne)
                       + struct.pack("<IQ", GGML[gt][0], off))
            off += (nb + al - 1) // al * al
        return b"".join(out), offs

    def write(self, path):
        h, _ = self.header()
        al = self.alignment
        with open(path, "wb") as f:
            f.write(h)
            f.write(b"\0" * ((al - len(h) % al) % al))
            for name, gt, ne, nb, fill in self.tensors:
                start = f.tell()
                fill(f)
                if f.tell() - start != nb:
                    raise ValueError("tensor %s: wrote %d bytes, expected %d" % (name, f.tell() - start, nb))
                f.write(b"\0" * ((al - nb % al) % al))
            f.truncate()  # a fill may seek over its data (a hole): a trailing hole has no byte to size the file


def f32_to_f16_bits(x):
    return np.asarray(x, dtype=np.float32).astype(np.float16).view(np.uint16)


def quantize_q8_0(x):
    """ggml's block_q8_0 from the spec: per 32 values d = max|x| / 127 stored as f16, q = round(x / d)
    (the engine rounds with the f16 d, half to even, as src/kernels/quant.c does, so that the bytes
    equal what `qwen3 quantize` writes). x: float32 [rows, cols], cols % 32 == 0. Returns bytes."""
    rows, cols = x.shape
    b = x.reshape(rows, cols // 32, 32).astype(np.float32)
    amax = np.abs(b).max(axis=2)
    d16 = (amax / np.float32(127)).astype(np.float16)
    d = d16.astype(np.float32)
    inv = np.where(d > 0, np.float32(1) / np.where(d > 0, d, 1), 0).astype(np.float32)
    q = np.clip(np.rint(b * inv[:, :, None]), -127, 127).astype(np.int8)
    out = np.empty((rows, cols // 32), dtype=[("d", "<u2"), ("q", "i1", 32)])
    out["d"] = d16.view(np.uint16)
    out["q"] = q
    return out.tobytes()


def dequantize_q8_0(raw, rows, cols):
    a = np.frombuffer(raw, dtype=[("d", "<u2"), ("q", "i1", 32)]).reshape(rows, cols // 32)
    d = a["d"].view(np.float16).astype(np.float32)
    return (a["q"].astype(np.float32) * d[:, :, None]).reshape(rows, cols)


# ---- reading back, for the broken-file generator (tools/gen_bad_checkpoints.py) ----

def _rd(raw, pos, fmt):
    v = struct.unpack_from(fmt, raw, pos)
    return (v[0] if len(v) == 1 else v), pos + struct.calcsize(fmt)


def _rd_str(raw, pos):
    n, pos = _rd(raw, pos, "<Q")
    return raw[pos:pos + n].decode("utf-8"), pos + n


def _rd_value(raw, pos, t):
    names = {v: k for k, v in VT.items()}
    if t == VT["str"]:
        return _rd_str(raw, pos)
    if t == VT["arr"]:
        et, pos = _rd(raw, pos, "<I")
        n, pos = _rd(raw, pos, "<Q")
        out = []
        for _ in range(n):
            v, pos = _rd_value(raw, pos, et)
            out.append(v)
        return (("arr", names[et]), out), pos
    return _rd(raw, pos, SCALAR[names[t]])


class Parsed:
    """A GGUF file as lists that a test can edit and write back: kvs [(key, vtype, value)],
    tensors [[name, ne list, ggml type id, offset]], data (bytes of the data section)."""

    def __init__(self, path):
        raw = open(path, "rb").read()
        assert raw[:4] == b"GGUF"
        self.version, nt, nkv = struct.unpack_from("<IQQ", raw, 4)
        pos = 24
        self.kvs = []
        names = {v: k for k, v in VT.items()}
        for _ in range(nkv):
            key, pos = _rd_str(raw, pos)
            t, pos = _rd(raw, pos, "<I")
            v, pos = _rd_value(raw, pos, t)
            if t == VT["arr"]:
                self.kvs.append((key, v[0], v[1]))
            else:
                self.kvs.append((key, names[t], v))
        self.tensors = []
        for _ in range(nt):
            name, pos = _rd_str(raw, pos)
            nd, pos = _rd(raw, pos, "<I")
            ne = list(struct.unpack_from("<%dQ" % nd, raw, pos))
            pos += 8 * nd
            tid, off = struct.unpack_from("<IQ", raw, pos)
            pos += 12
            self.tensors.append([name, ne, tid, off])
        al = dict((k, v) for k, _, v in self.kvs).get("general.alignment", 32)
        self.alignment = al
        start = (pos + al - 1) // al * al
        self.data = raw[start:]

    def tensor(self, name):
        return next(t for t in self.tensors if t[0] == name)

    def kv(self, key):
        return next(i for i, k in enumerate(self.kvs) if k[0] == key)

    def set(self, key, vtype, value):
        i = next((i for i, k in enumerate(self.kvs) if k[0] == key), None)
        if i is None:
            self.kvs.append((key, vtype, value))
        else:
            self.kvs[i] = (key, vtype, value)

    def remove(self, key):
        self.kvs = [k for k in self.kvs if k[0] != key]

    def header(self, n_tensors=None, n_kv=None, version=None):
        out = [b"GGUF", struct.pack("<IQQ", self.version if version is None else version,
                                    len(self.tensors) if n_tensors is None else n_tensors,
                                    len(self.kvs) if n_kv is None else n_kv)]
        for k, t, v in self.kvs:
            out.append(kv_bytes(k, t, v))
        for name, ne, tid, off in self.tensors:
            out.append(gstr(name) + struct.pack("<I", len(ne)) + b"".join(struct.pack("<Q", x) for x in ne)
                       + struct.pack("<IQ", tid, off))
        return b"".join(out)

    def write(self, path, **kw):
        h = self.header(**kw)
        al = self.alignment if isinstance(self.alignment, int) and self.alignment > 0 else 32
        with open(path, "wb") as f:
            f.write(h + b"\0" * ((al - len(h) % al) % al) + self.data)
