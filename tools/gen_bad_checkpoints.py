#!/usr/bin/python3
"""gen_bad_checkpoints.py - writes broken Hugging Face model directories for the loader tests.

    tools/gen_bad_checkpoints.py OUT_DIR

Makes OUT_DIR/NAME/ for each case below: a tiny valid checkpoint (tools/gen_checkpoint.py, F32, no
tokenizer files) with one thing broken, and a file EXPECT holding, one per line, substrings of which
the loader's error message must contain at least one (the file, tensor or field at fault; a second
line gives an acceptable alternative spelling). Directories named ok-* are intact controls: they
hold a file OK instead and must load, which proves the bad cases fail for their own fault and not
for some other reason. tests/suite/bad_input.sh runs `qwen3 info` on each.

Everything here is deterministic (fixed seeds); a directory is rewritten from scratch each run.
"""
import json
import os
import shutil
import struct
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gen_checkpoint  # noqa: E402

ST = "model.safetensors"

# A small dense shape whose hidden size differs from heads*head_dim, so a q_proj stored transposed
# has the right byte count but the wrong shape.
DENSE = ["--preset", "tiny", "--layers", "1", "--hidden", "32", "--heads", "4", "--kv-heads", "2",
         "--head-dim", "16", "--intermediate", "48", "--vocab", "64", "--dtype", "f32", "--untied"]
MOE = ["--preset", "tiny-moe", "--layers", "1", "--hidden", "32", "--heads", "2", "--kv-heads", "1",
       "--head-dim", "16", "--intermediate", "48", "--vocab", "64", "--experts", "4",
       "--experts-per-tok", "2", "--moe-intermediate", "16", "--dtype", "f32"]


def make_base(d, extra):
    if os.path.exists(d):
        shutil.rmtree(d)
    gen_checkpoint.main([d, "--no-tokenizer", "-q", "--seed", "1"] + extra)


def read_st(path):
    with open(path, "rb") as f:
        raw = f.read()
    n = struct.unpack("<Q", raw[:8])[0]
    return json.loads(raw[8:8 + n]), raw[8 + n:]


def write_st(path, header, data, header_len=None, header_bytes=None):
    hb = header_bytes if header_bytes is not None else json.dumps(header).encode()
    if header_bytes is None:
        hb += b" " * ((8 - len(hb) % 8) % 8)
    n = len(hb) if header_len is None else header_len
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", n))
        f.write(hb)
        f.write(data)


def edit_header(d, fn):
    """Calls fn(header, data) -> (header, data) on d/model.safetensors and rewrites the file."""
    p = os.path.join(d, ST)
    h, data = read_st(p)
    h, data = fn(h, data)
    write_st(p, h, data)


def edit_config(d, fn):
    p = os.path.join(d, "config.json")
    with open(p) as f:
        c = json.load(f)
    fn(c)
    with open(p, "w") as f:
        json.dump(c, f, indent=2)


def case(out, name, base, expect, mutate=None):
    d = os.path.join(out, name)
    if os.path.exists(d):
        shutil.rmtree(d)
    shutil.copytree(base, d)
    if mutate:
        mutate(d)
    if expect is None:
        open(os.path.join(d, "OK"), "w").close()
    else:
        with open(os.path.join(d, "EXPECT"), "w") as f:
            f.write("\n".join(expect) + "\n")


def main(argv):
    if len(argv) != 1:
        sys.exit("usage: gen_bad_checkpoints.py OUT_DIR")
    out = argv[0]
    os.makedirs(out, exist_ok=True)
    for n in os.listdir(out):  # drop cases an older version wrote (only our own: EXPECT or OK inside)
        p = os.path.join(out, n)
        if os.path.isfile(os.path.join(p, "EXPECT")) or os.path.isfile(os.path.join(p, "OK")):
            shutil.rmtree(p)
    bases = os.path.join(out, ".bases")
    dense, moe, sharded = (os.path.join(bases, x) for x in ("dense", "moe", "sharded"))
    make_base(dense, DENSE)
    make_base(moe, MOE)
    make_base(sharded, DENSE + ["--shards", "2"])

    Q = "model.layers.0.self_attn.q_proj.weight"
    NORM = "model.norm.weight"
    LN = "model.layers.0.input_layernorm.weight"
    EXP = "model.layers.0.mlp.experts.3.up_proj.weight"

    # intact controls
    case(out, "ok-dense", dense, None)
    case(out, "ok-moe", moe, None)
    case(out, "ok-sharded", sharded, None)

    # ---- safetensors files ----
    def truncate(d):
        p = os.path.join(d, ST)
        size = os.path.getsize(p)
        with open(p, "r+b") as f:
            f.truncate(size - size // 3)
    case(out, "st-truncated", dense, [ST], truncate)

    def empty(d):
        open(os.path.join(d, ST), "wb").close()
    case(out, "st-empty", dense, [ST], empty)

    def short_header(d):
        with open(os.path.join(d, ST), "wb") as f:
            f.write(b"\x10\x00\x00")
    case(out, "st-shorter-than-length", dense, [ST], short_header)

    def absurd_len(d):
        p = os.path.join(d, ST)
        h, data = read_st(p)
        write_st(p, h, data, header_len=(1 << 62) + 8)
    case(out, "st-absurd-header-length", dense, [ST], absurd_len)

    def len_past_end(d):
        p = os.path.join(d, ST)
        size = os.path.getsize(p)
        h, data = read_st(p)
        write_st(p, h, data, header_len=size)  # one byte more than the file holds after the length
    case(out, "st-header-length-past-end", dense, [ST], len_past_end)

    def header_garbage(d):
        p = os.path.join(d, ST)
        h, data = read_st(p)
        write_st(p, None, data, header_bytes=b'{"model.norm.weight": {"dtype": "F32", "sha' + b" " * 5)
    case(out, "st-header-not-json", dense, [ST], header_garbage)

    def header_not_object(d):
        p = os.path.join(d, ST)
        h, data = read_st(p)
        write_st(p, None, data, header_bytes=b"[1, 2, 3]       ")
    case(out, "st-header-not-object", dense, [ST], header_not_object)

    def overlap(h, data):
        h[NORM]["data_offsets"] = list(h[LN]["data_offsets"])  # same size, same bytes as another
        return h, data
    case(out, "st-offsets-overlap", dense, [NORM, LN], lambda d: edit_header(d, overlap))

    def past_end(h, data):
        b, e = h[NORM]["data_offsets"]
        h[NORM]["data_offsets"] = [len(data), len(data) + (e - b)]
        return h, data
    case(out, "st-offsets-past-end", dense, [NORM], lambda d: edit_header(d, past_end))

    def reversed_offsets(h, data):
        b, e = h[NORM]["data_offsets"]
        h[NORM]["data_offsets"] = [e, b]
        return h, data
    case(out, "st-offsets-reversed", dense, [NORM], lambda d: edit_header(d, reversed_offsets))

    def huge_offsets(h, data):
        # consistent with the shape (128 bytes), ending at INT64_MAX: base + offset must not wrap
        h[NORM]["data_offsets"] = [2 ** 63 - 129, 2 ** 63 - 1]
        return h, data
    case(out, "st-offsets-huge", dense, [NORM], lambda d: edit_header(d, huge_offsets))

    def unrepresentable_offsets(h, data):
        h[NORM]["data_offsets"] = [2 ** 64 - 8, 2 ** 64 + 120]  # beyond any 64-bit integer
        return h, data
    case(out, "st-offsets-beyond-64-bits", dense, [ST, NORM], lambda d: edit_header(d, unrepresentable_offsets))

    def shape_mismatch(h, data):
        h[NORM]["shape"] = [h[NORM]["shape"][0] + 1]
        return h, data
    case(out, "st-shape-vs-bytes", dense, [NORM], lambda d: edit_header(d, shape_mismatch))

    def dtype_mismatch(h, data):
        h[NORM]["dtype"] = "BF16"  # half the bytes the offsets give
        return h, data
    case(out, "st-dtype-vs-bytes", dense, [NORM], lambda d: edit_header(d, dtype_mismatch))

    def dtype_unsupported(h, data):
        h[NORM]["dtype"] = "I32"  # same width, a type no Qwen3 checkpoint uses for a weight
        return h, data
    case(out, "st-dtype-unsupported", dense, [NORM, "I32"], lambda d: edit_header(d, dtype_unsupported))

    def shape_huge(h, data):
        h[NORM]["shape"] = [2 ** 40, 2 ** 40]  # element count overflows 64 bits once times 4 bytes
        return h, data
    case(out, "st-shape-overflow", dense, [NORM], lambda d: edit_header(d, shape_huge))

    def shape_negative(h, data):
        h[NORM]["shape"] = [-32]
        return h, data
    case(out, "st-shape-negative", dense, [NORM], lambda d: edit_header(d, shape_negative))

    def missing_tensor(h, data):
        del h[NORM]
        return h, data
    case(out, "st-tensor-missing", dense, [NORM], lambda d: edit_header(d, missing_tensor))

    def transposed(h, data):
        h[Q]["shape"] = h[Q]["shape"][::-1]  # [32, 64]: same bytes, wrong shape for the config
        return h, data
    case(out, "st-shape-vs-config", dense, [Q], lambda d: edit_header(d, transposed))

    def flattened(h, data):
        # a vector where a matrix belongs: shape and bytes agree, the config disagrees
        h[Q]["shape"] = [h[Q]["shape"][0] * h[Q]["shape"][1]]
        return h, data
    case(out, "st-rank-vs-config", dense, [Q], lambda d: edit_header(d, flattened))

    def missing_expert(h, data):
        del h[EXP]
        return h, data
    case(out, "moe-expert-missing", moe, [EXP], lambda d: edit_header(d, missing_expert))

    def no_weights(d):
        os.remove(os.path.join(d, ST))
    case(out, "st-file-missing", dense, [ST], no_weights)

    # ---- shards ----
    def shard_missing(d):
        os.remove(os.path.join(d, "model-00002-of-00002.safetensors"))
    case(out, "shard-missing", sharded, ["model-00002-of-00002.safetensors"], shard_missing)

    def index_not_json(d):
        with open(os.path.join(d, "model.safetensors.index.json"), "w") as f:
            f.write('{"metadata": {"total_size": 12}, "weight_map": {')
    case(out, "index-not-json", sharded, ["model.safetensors.index.json"], index_not_json)

    def index_wrong_type(d):
        with open(os.path.join(d, "model.safetensors.index.json"), "w") as f:
            json.dump({"metadata": {}, "weight_map": ["model-00001-of-00002.safetensors"]}, f)
    case(out, "index-weight-map-not-object", sharded, ["weight_map"], index_wrong_type)

    def index_path_escape(d):
        p = os.path.join(d, "model.safetensors.index.json")
        with open(p) as f:
            idx = json.load(f)
        idx["weight_map"][NORM] = "../../etc/passwd"
        with open(p, "w") as f:
            json.dump(idx, f)
    case(out, "index-path-escape", sharded, ["../../etc/passwd", NORM], index_path_escape)

    # ---- config.json ----
    def config_missing(d):
        os.remove(os.path.join(d, "config.json"))
    case(out, "config-missing", dense, ["config.json"], config_missing)

    def config_not_json(d):
        with open(os.path.join(d, "config.json"), "w") as f:
            f.write('{"model_type": "qwen3", "hidden_size": 32,,}')
    case(out, "config-not-json", dense, ["config.json"], config_not_json)

    def config_not_object(d):
        with open(os.path.join(d, "config.json"), "w") as f:
            f.write('"qwen3"')
    case(out, "config-not-object", dense, ["config.json"], config_not_object)

    def setter(key, value):
        def f(c):
            if value is KeyError:
                del c[key]
            else:
                c[key] = value
        return lambda d: edit_config(d, f)

    case(out, "config-wrong-type", dense, ["hidden_size"], setter("hidden_size", "32"))
    case(out, "config-float-size", dense, ["intermediate_size"], setter("intermediate_size", 47.5))
    case(out, "config-zero-layers", dense, ["num_hidden_layers"], setter("num_hidden_layers", 0))
    case(out, "config-negative-vocab", dense, ["vocab_size"], setter("vocab_size", -64))
    case(out, "config-zero-heads", dense, ["num_attention_heads"], setter("num_attention_heads", 0))
    case(out, "config-huge-size", dense, ["hidden_size", "model.embed_tokens.weight"],
         setter("hidden_size", 2 ** 40))
    case(out, "config-missing-field", dense, ["hidden_size"], setter("hidden_size", KeyError))
    case(out, "config-heads-not-multiple", dense, ["num_key_value_heads", "num_attention_heads"],
         setter("num_key_value_heads", 3))
    case(out, "config-unsupported-model-type", dense, ["model_type"], setter("model_type", "llama"))
    case(out, "config-sliding-window", dense, ["use_sliding_window"], setter("use_sliding_window", True))
    case(out, "config-attention-bias", dense, ["attention_bias"], setter("attention_bias", True))
    case(out, "config-rope-type", dense, ["rope_scaling", "rope_type"],
         setter("rope_scaling", {"rope_type": "linear", "factor": 2.0}))
    case(out, "config-yarn-bad-factor", dense, ["factor"],
         setter("rope_scaling", {"rope_type": "yarn", "factor": -4.0, "original_max_position_embeddings": 1024}))
    case(out, "config-rms-eps-string", dense, ["rms_norm_eps"], setter("rms_norm_eps", "1e-6"))
    case(out, "moe-topk-over-experts", moe, ["num_experts_per_tok"], setter("num_experts_per_tok", 5))
    case(out, "moe-zero-sparse-step", moe, ["decoder_sparse_step"], setter("decoder_sparse_step", 0))
    case(out, "moe-mlp-only-not-list", moe, ["mlp_only_layers"], setter("mlp_only_layers", 1))
    print("wrote %d cases to %s" % (len([n for n in os.listdir(out) if not n.startswith(".")]), out))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
