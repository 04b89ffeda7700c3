#!/usr/bin/python3
"""truncate_checkpoint.py - a model's first K layers as a model of its own: a draft for speculative
decoding that shares the model's embedding, final norm, lm_head and tokenizer (README "Speculative
decoding"; a trained model's truncated copy agrees with it far more often than a random draft).

    tools/truncate_checkpoint.py MODEL_DIR OUT_DIR --layers K

MODEL_DIR is a Hugging Face directory with one model.safetensors (as `qwen3 train` and `make`'s
build/rel/default-model write). OUT_DIR gets config.json with num_hidden_layers (and
max_window_layers) set to K, model.safetensors holding every tensor that is not in a layer >= K,
byte for byte (the header rewritten with the new offsets, __metadata__ kept), and the other files of
MODEL_DIR (tokenizer, generation config) copied. Python's standard library only.
"""
import argparse
import json
import os
import re
import shutil
import struct
import sys

LAYER = re.compile(r"^model\.layers\.(\d+)\.")


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("model")
    p.add_argument("out")
    p.add_argument("--layers", type=int, required=True, help="layers kept (the first K)")
    a = p.parse_args()
    cfg_path = os.path.join(a.model, "config.json")
    st_path = os.path.join(a.model, "model.safetensors")
    for f in (cfg_path, st_path):
        if not os.path.isfile(f):
            sys.exit("truncate_checkpoint: %s: missing (one model.safetensors is supported, not a sharded index)" % f)
    cfg = json.load(open(cfg_path))
    n = cfg.get("num_hidden_layers")
    if not isinstance(n, int) or not 1 <= a.layers <= n:
        sys.exit("truncate_checkpoint: --layers %d: %s has num_hidden_layers %r (keep 1 to all of them)" % (a.layers, cfg_path, n))
    with open(st_path, "rb") as f:
        raw = f.read(8)
        if len(raw) != 8:
            sys.exit("truncate_checkpoint: %s: shorter than a safetensors header" % st_path)
        hlen = struct.unpack("<Q", raw)[0]
        header = json.loads(f.read(hlen))
        base = 8 + hlen
        kept, meta = {}, header.pop("__metadata__", None)
        for name, t in header.items():
            m = LAYER.match(name)
            if m and int(m.group(1)) >= a.layers:
                continue
            kept[name] = t
        # the kept tensors in their file order, each copied whole; offsets packed from 0
        order = sorted(kept, key=lambda k: kept[k]["data_offsets"][0])
        out_hdr, off = {}, 0
        if meta is not None:
            out_hdr["__metadata__"] = meta
        for name in order:
            b0, b1 = kept[name]["data_offsets"]
            out_hdr[name] = dict(kept[name], data_offsets=[off, off + (b1 - b0)])
            off += b1 - b0
        hb = json.dumps(out_hdr, separators=(",", ":")).encode()
        hb += b" " * (-len(hb) % 8)  # the data starts 8-aligned, as the writers do
        os.makedirs(a.out, exist_ok=True)
        with open(os.path.join(a.out, "model.safetensors"), "wb") as o:
            o.write(struct.pack("<Q", len(hb)))
            o.write(hb)
            for name in order:
                b0, b1 = kept[name]["data_offsets"]
                f.seek(base + b0)
                o.write(f.read(b1 - b0))
    cfg["num_hidden_layers"] = a.layers
    if isinstance(cfg.get("max_window_layers"), int):
        cfg["max_window_layers"] = min(cfg["max_window_layers"], a.layers)
    if isinstance(cfg.get("mlp_only_layers"), list):
        cfg["mlp_only_layers"] = [x for x in cfg["mlp_only_layers"] if isinstance(x, int) and x < a.layers]
    with open(os.path.join(a.out, "config.json"), "w") as o:
        json.dump(cfg, o, indent=2)
        o.write("\n")
    for f in os.listdir(a.model):
        src = os.path.join(a.model, f)
        if f not in ("config.json", "model.safetensors") and os.path.isfile(src):
            shutil.copyfile(src, os.path.join(a.out, f))
    print("%s: %d of %d layers, %d tensors" % (a.out, a.layers, n, len(order)))


if __name__ == "__main__":
    main()
