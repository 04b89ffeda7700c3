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
