"""ggml_dequant.py - numpy dequantizers of GGUF's block types, written from the format's definition
(ggml's block layouts: ggml-common.h's structs and the value formulas of its reference
dequantizers), independent of our C. Each computes in float32 in the definition's order (sub-block
factor first, then one multiply, then the minimum subtracted), so the values are the format's bits.

dequant(name, raw_bytes, n_values) -> float32 array. Names as ggml spells them: Q4_0 Q4_1 Q5_0 Q5_1
IQ4_NL Q2_K Q3_K Q4_K Q5_K Q6_K IQ4_XS (and Q8_0)."""
import numpy as np

IQ4 = np.array([-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113], np.float32)

# values per block, bytes per block
SIZES = {"Q8_0": (32, 34), "Q4_0": (32, 18), "Q4_1": (32, 20), "Q5_0": (32, 22), "Q5_1": (32, 24),
         "IQ4_NL": (32, 18), "Q2_K": (256, 84), "Q3_K": (256, 110), "Q4_K": (256, 144), "Q5_K": (256, 176),
         "Q6_K": (256, 210), "IQ4_XS": (256, 136)}


def f16(b, off):
    return b[:, off:off + 2].copy().view(np.float16).astype(np.float32)  # (nb, 1)


def nib32(qs):
    """16 bytes per block of 32: low nibbles are values 0..15, high nibbles 16..31."""
    return np.concatenate([qs & 15, qs >> 4], axis=1).astype(np.int32)


def hbits32(b, off):
    """bit j of the little-endian u32 at off is value j's fifth bit."""
    qh = b[:, off:off + 4].copy().view("<u4")[:, 0].astype(np.uint64)
    return ((qh[:, None] >> np.arange(32, dtype=np.uint64)) & 1).astype(np.int32)


def bits2(qs):
    """Q2_K / Q3_K low bits: value e of a superblock is qs[32*(e//128) + e%32] >> 2*((e%128)//32) & 3."""
    e = np.arange(256)
    byte = qs[:, 32 * (e // 128) + e % 32].astype(np.int32)
    return (byte >> (2 * ((e % 128) // 32))) & 3


def k4_scale_min(s):
    """Q4_K / Q5_K: 8 scales and 8 minimums of 6 bits from 12 bytes."""
    s = s.astype(np.int32)
    sc = np.zeros((s.shape[0], 8), np.int32)
    mn = np.zeros_like(sc)
    for j in range(8):
        if j < 4:
            sc[:, j] = s[:, j] & 63
            mn[:, j] = s[:, j + 4] & 63
        else:
            sc[:, j] = (s[:, j + 4] & 15) | ((s[:, j - 4] >> 6) << 4)
            mn[:, j] = (s[:, j + 4] >> 4) | ((s[:, j] >> 6) << 4)
    return sc, mn


def dequant(name, raw, n):
    bsz, bb = SIZES[name]
    b = np.frombuffer(raw, np.uint8)[: n // bsz * bb].reshape(-1, bb)
    f32 = np.float32
    if name == "Q8_0":
        y = f16(b, 0) * b[:, 2:].copy().view(np.int8).astype(f32)
    elif name == "Q4_0":
        y = (nib32(b[:, 2:18]) - 8).astype(f32) * f16(b, 0)
    elif name == "Q4_1":
        y = nib32(b[:, 4:20]).astype(f32) * f16(b, 0) + f16(b, 2)
    elif name == "Q5_0":
        y = ((nib32(b[:, 6:22]) | (hbits32(b, 2) << 4)) - 16).astype(f32) * f16(b, 0)
    elif name == "Q5_1":
        y = (nib32(b[:, 8:24]) | (hbits32(b, 4) << 4)).astype(f32) * f16(b, 0) + f16(b, 2)
    elif name == "IQ4_NL":
        y = f16(b, 0) * IQ4[nib32(b[:, 2:18])]
    elif name == "Q2_K":  # scales[16] (low nibble scale, high nibble min, per 16), qs[64], d, dmin
        d, dmin = f16(b, 80), f16(b, 82)
        sc = (b[:, 0:16] & 15).astype(f32)
        mn = (b[:, 0:16] >> 4).astype(f32)
        dl = np.repeat(d * sc, 16, axis=1)
        ml = np.repeat(dmin * mn, 16, axis=1)
        y = dl * bits2(b[:, 16:80]).astype(f32) - ml
    elif name == "Q3_K":  # hmask[32], qs[64], scales[12], d
        d = f16(b, 108)
        s = b[:, 96:108].astype(np.int32)
        sc = np.zeros((b.shape[0], 16), np.int32)
        for j in range(16):
            lo = s[:, j] & 15 if j < 8 else s[:, j - 8] >> 4
            sc[:, j] = (lo | (((s[:, 8 + j % 4] >> (2 * (j // 4))) & 3) << 4)) - 32
        e = np.arange(256)
        hbit = (b[:, e % 32].astype(np.int32) >> (e // 32)) & 1
        q = bits2(b[:, 32:96]) - np.where(hbit == 1, 0, 4)
        y = np.repeat(d * sc.astype(f32), 16, axis=1) * q.astype(f32)
    elif name in ("Q4_K", "Q5_K"):  # d, dmin, scales[12], (qh[32]), qs[128]
        d, dmin = f16(b, 0), f16(b, 2)
        sc, mn = k4_scale_min(b[:, 4:16])
        qs = b[:, 16:144] if name == "Q4_K" else b[:, 48:176]
        e = np.arange(256)
        q = (qs[:, 32 * (e // 64) + e % 32].astype(np.int32) >> (4 * ((e % 64) // 32))) & 15
        if name == "Q5_K":
            q = q + (((b[:, 16 + e % 32].astype(np.int32) >> (e // 32)) & 1) << 4)
        y = np.repeat(d * sc.astype(f32), 32, axis=1) * q.astype(f32) - np.repeat(dmin * mn.astype(f32), 32, axis=1)
    elif name == "Q6_K":  # ql[128], qh[64], int8 scales[16], d
        d = f16(b, 208)
        sc = b[:, 192:208].copy().view(np.int8).astype(f32)
        e = np.arange(256)
        c, r = e // 128, e % 128
        lo = (b[:, 64 * c + r % 64].astype(np.int32) >> (4 * (r // 64))) & 15
        hi = (b[:, 128 + 32 * c + r % 32].astype(np.int32) >> (2 * (r // 32))) & 3
        q = (lo | (hi << 4)) - 32
        y = np.repeat(d * sc, 16, axis=1) * q.astype(f32)
    elif name == "IQ4_XS":  # d, u16 scales_h, scales_l[4], qs[128]
        d = f16(b, 0)
        sh = b[:, 2:4].copy().view("<u2")[:, 0].astype(np.int32)
        sl = b[:, 4:8].astype(np.int32)
        ib = np.arange(8)
        ls = ((sl[:, ib // 2] >> (4 * (ib % 2))) & 15) | (((sh[:, None] >> (2 * ib)) & 3) << 4)
        qs = b[:, 8:136].reshape(-1, 8, 16)
        idx = np.concatenate([qs & 15, qs >> 4], axis=2).reshape(-1, 256)
        y = np.repeat(d * (ls - 32).astype(f32), 32, axis=1) * IQ4[idx]
    else:
        raise ValueError("unknown type " + name)
    return np.ascontiguousarray(y, np.float32).reshape(-1)
