#!/usr/bin/python3
"""gguf_llama.py - llama.cpp's own GGUF code (libggml-base.so from npm's @node-llama-cpp/linux-x64,
tests/node) as an independent reference for our reader and writer, through ctypes.

    gguf_llama.py read FILE          JSON summary as llama.cpp parses FILE: version, alignment, data
                                     offset, keys (with u32/string values, array lengths) and tensors
                                     (name, ggml type, shape, offset, bytes)
    gguf_llama.py rewrite IN OUT     reads IN with llama.cpp (tensor data included) and writes it
                                     again with llama.cpp's writer (gguf_init_empty, gguf_set_kv,
                                     gguf_add_tensor, gguf_write_to_file). Alignment: $GGUF_ALIGN
                                     (default 32; this llama.cpp writes a file it cannot read back
                                     itself when general.alignment is changed after gguf_set_kv)

Exit status 2 when the library is missing (the caller prints SKIP)."""
import ctypes
import json
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
ALIGN = int(os.environ.get("GGUF_ALIGN", "32"))
LIB = os.path.join(ROOT, "tests/node/node_modules/@node-llama-cpp/linux-x64/bins/linux-x64/libggml-base.so")


class InitParams(ctypes.Structure):
    _fields_ = [("no_alloc", ctypes.c_bool), ("ctx", ctypes.POINTER(ctypes.c_void_p))]


class GgmlInitParams(ctypes.Structure):
    _fields_ = [("mem_size", ctypes.c_size_t), ("mem_buffer", ctypes.c_void_p), ("no_alloc", ctypes.c_bool)]


def load():
    try:
        g = ctypes.CDLL(LIB)
    except OSError as e:
        print("library not loadable: %s" % e, file=sys.stderr)
        sys.exit(2)
    vp, i64, cs, sz = ctypes.c_void_p, ctypes.c_int64, ctypes.c_char_p, ctypes.c_size_t
    sig = {
        "gguf_init_from_file": (vp, [cs, InitParams]), "gguf_free": (None, [vp]),
        "gguf_get_version": (ctypes.c_uint32, [vp]), "gguf_get_alignment": (sz, [vp]),
        "gguf_get_data_offset": (sz, [vp]), "gguf_get_n_kv": (i64, [vp]), "gguf_get_key": (cs, [vp, i64]),
        "gguf_get_kv_type": (ctypes.c_int, [vp, i64]), "gguf_get_arr_type": (ctypes.c_int, [vp, i64]),
        "gguf_get_arr_n": (sz, [vp, i64]), "gguf_get_val_u32": (ctypes.c_uint32, [vp, i64]),
        "gguf_get_val_str": (cs, [vp, i64]), "gguf_get_n_tensors": (i64, [vp]),
        "gguf_get_tensor_name": (cs, [vp, i64]), "gguf_get_tensor_type": (ctypes.c_int, [vp, i64]),
        "gguf_get_tensor_offset": (sz, [vp, i64]), "gguf_get_tensor_size": (sz, [vp, i64]),
        "gguf_init_empty": (vp, []), "gguf_set_kv": (None, [vp, vp]), "gguf_set_val_u32": (None, [vp, cs, ctypes.c_uint32]),
        "gguf_add_tensor": (None, [vp, vp]), "gguf_write_to_file": (ctypes.c_bool, [vp, cs, ctypes.c_bool]),
        "ggml_get_tensor": (vp, [vp, cs]), "ggml_free": (None, [vp]),
        "ggml_get_name": (cs, [vp]), "ggml_nbytes": (sz, [vp]),
    }
    for name, (res, args) in sig.items():
        f = getattr(g, name)
        f.restype, f.argtypes = res, args
    return g


def read(g, path):
    ctx = g.gguf_init_from_file(path.encode(), InitParams(True, None))
    if not ctx:
        print(json.dumps({"error": "llama.cpp refused the file"}))
        return 1
    out = {"version": g.gguf_get_version(ctx), "alignment": g.gguf_get_alignment(ctx),
           "data_offset": g.gguf_get_data_offset(ctx), "kv": {}, "tensors": []}
    for i in range(g.gguf_get_n_kv(ctx)):
        k = g.gguf_get_key(ctx, i).decode()
        t = g.gguf_get_kv_type(ctx, i)
        v = {"type": t}
        if t == 4:
            v["value"] = g.gguf_get_val_u32(ctx, i)
        elif t == 8:
            v["value"] = g.gguf_get_val_str(ctx, i).decode("utf-8", "replace")[:200]
        elif t == 9:
            v["arr_type"], v["n"] = g.gguf_get_arr_type(ctx, i), g.gguf_get_arr_n(ctx, i)
        out["kv"][k] = v
    for i in range(g.gguf_get_n_tensors(ctx)):
        out["tensors"].append({"name": g.gguf_get_tensor_name(ctx, i).decode(), "type": g.gguf_get_tensor_type(ctx, i),
                               "offset": g.gguf_get_tensor_offset(ctx, i), "size": g.gguf_get_tensor_size(ctx, i)})
    g.gguf_free(ctx)
    print(json.dumps(out))
    return 0


def rewrite(g, src, dst):
    gctx = ctypes.c_void_p()
    ctx = g.gguf_init_from_file(src.encode(), InitParams(False, ctypes.pointer(gctx)))
    if not ctx:
        print("llama.cpp refused %s" % src, file=sys.stderr)
        return 1
    out = g.gguf_init_empty()
    g.gguf_set_kv(out, ctx)
    if ALIGN != 32:
        g.gguf_set_val_u32(out, b"general.alignment", ALIGN)
    for i in range(g.gguf_get_n_tensors(ctx)):
        t = g.ggml_get_tensor(gctx, g.gguf_get_tensor_name(ctx, i))
        g.gguf_add_tensor(out, t)
    ok = g.gguf_write_to_file(out, dst.encode(), False)
    g.gguf_free(out)
    g.gguf_free(ctx)
    g.ggml_free(gctx)
    return 0 if ok else 1


def main(argv):
    g = load()
    if argv[0] == "read":
        return read(g, argv[1])
    if argv[0] == "rewrite":
        return rewrite(g, argv[1], argv[2])
    sys.exit(__doc__)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
