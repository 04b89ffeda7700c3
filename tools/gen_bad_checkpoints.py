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
import gguf_write  # noqa: E402

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


GG = "model.gguf"


def make_gguf_base(d, extra):
    """A directory holding only model.gguf (the same tiny checkpoint as the safetensors bases)."""
    tmp = d + ".gen"
    for x in (d, tmp):
        if os.path.exists(x):
            shutil.rmtree(x)
    gen_checkpoint.main([tmp, "-q", "--seed", "1", "--gguf"] + extra)
    os.makedirs(d)
    for fn in os.listdir(tmp):
        if fn.endswith(".gguf"):
            os.rename(os.path.join(tmp, fn), os.path.join(d, fn))
    shutil.rmtree(tmp)


def gguf_cases(out, bases):
    """The GGUF twins of the safetensors and config.json cases above, plus GGUF's own (version,
    magic, alignment, string and array lengths, split sets, the embedded tokenizer). Each gets a
    directory holding model.gguf only; EXPECT names the key or tensor at fault."""
    gdense, gmoe, gtok, gsplit = (os.path.join(bases, x) for x in ("gdense", "gmoe", "gtok", "gsplit"))
    make_gguf_base(gdense, DENSE + ["--no-tokenizer"])
    make_gguf_base(gmoe, MOE + ["--no-tokenizer"])
    make_gguf_base(gtok, ["--preset", "tiny", "--layers", "1", "--hidden", "32", "--heads", "2", "--kv-heads", "1",
                          "--head-dim", "16", "--intermediate", "32", "--dtype", "f32"])
    make_gguf_base(gsplit, DENSE + ["--no-tokenizer", "--gguf-split", "2"])
    case(out, "ok-gguf-dense", gdense, None)
    case(out, "ok-gguf-moe", gmoe, None)
    case(out, "ok-gguf-split", gsplit, None)
    tok_ok = os.path.join(out, "ok-gguf-tokenizer")
    case(out, "ok-gguf-tokenizer", gtok, None)
    open(os.path.join(tok_ok, "TOKENIZE"), "w").close()

    Q, NORM, LN = "blk.0.attn_q.weight", "output_norm.weight", "blk.0.attn_norm.weight"

    def edit(fn, base_file=GG, **kw):
        def m(d):
            p = os.path.join(d, base_file)
            g = gguf_write.Parsed(p)
            fn(g)
            g.write(p, **kw)
        return m

    def raw_edit(fn):
        def m(d):
            p = os.path.join(d, GG)
            raw = bytearray(open(p, "rb").read())
            raw = fn(raw)
            open(p, "wb").write(raw)
        return m

    def key_pos(raw, key):
        """Offset of the u64 length that precedes key in the header."""
        return bytes(raw).index(key.encode()) - 8

    # ---- the file itself ----
    def truncate(d):
        p = os.path.join(d, GG)
        size = os.path.getsize(p)
        with open(p, "r+b") as f:
            f.truncate(size - size // 3)
    case(out, "gguf-truncated", gdense, [GG, "truncated"], truncate)
    case(out, "gguf-empty", gdense, [GG], lambda d: open(os.path.join(d, GG), "wb").close())
    case(out, "gguf-truncated-in-header", gdense, [GG, "truncated"], raw_edit(lambda r: r[:200]))
    case(out, "gguf-bad-magic", gdense, ["GGUF"], raw_edit(lambda r: b"GGUX" + r[4:]))
    case(out, "gguf-version-1", gdense, ["version 1"], raw_edit(lambda r: r[:4] + struct.pack("<I", 1) + r[8:]))
    case(out, "gguf-version-99", gdense, ["version 99"], raw_edit(lambda r: r[:4] + struct.pack("<I", 99) + r[8:]))
    case(out, "gguf-big-endian", gdense, ["big-endian"], raw_edit(lambda r: r[:4] + struct.pack(">I", 3) + r[8:]))
    case(out, "gguf-absurd-tensor-count", gdense, ["tensor count"],
         raw_edit(lambda r: r[:8] + struct.pack("<Q", 1 << 62) + r[16:]))
    case(out, "gguf-absurd-kv-count", gdense, ["metadata count"],
         raw_edit(lambda r: r[:16] + struct.pack("<Q", (1 << 64) - 1) + r[24:]))

    def absurd_key_len(r):
        i = key_pos(r, "general.architecture")
        return r[:i] + struct.pack("<Q", 1 << 62) + r[i + 8:]
    case(out, "gguf-absurd-string-length", gdense, ["absurd length"], raw_edit(absurd_key_len))

    def absurd_array(g):
        g.set("general.tags", ("arr", "str"), ["a", "b"])
    def absurd_array_raw(d):
        edit(absurd_array)(d)
        at = lambda r: key_pos(r, "general.tags") + 8 + 12 + 4 + 4  # key length, key, value type, element type
        raw_edit(lambda r: r[:at(r)] + struct.pack("<Q", 1 << 60) + r[at(r) + 8:])(d)
    case(out, "gguf-absurd-array-count", gdense, ["general.tags", "strings"], absurd_array_raw)

    def bad_value_type(r):
        i = key_pos(r, "general.name") + 8 + len("general.name")
        return r[:i] + struct.pack("<I", 77) + r[i + 4:]
    case(out, "gguf-value-type-unknown", gdense, ["general.name"], raw_edit(bad_value_type))

    # ---- tensors ----
    def overlap(g):
        g.tensor(NORM)[3] = g.tensor(LN)[3]  # same size, same bytes as another
    case(out, "gguf-offsets-overlap", gdense, [NORM], edit(overlap))
    case(out, "gguf-offset-past-end", gdense, [NORM], edit(lambda g: g.tensor(NORM).__setitem__(3, len(g.data) + 32)))
    case(out, "gguf-offset-misaligned", gdense, [NORM, "alignment"], edit(lambda g: g.tensor(NORM).__setitem__(3, g.tensor(NORM)[3] + 4)))
    case(out, "gguf-offset-huge", gdense, [NORM], edit(lambda g: g.tensor(NORM).__setitem__(3, (1 << 64) - 32)))
    case(out, "gguf-shape-vs-metadata", gdense, [Q], edit(lambda g: g.tensor(Q).__setitem__(1, g.tensor(Q)[1][::-1])))
    case(out, "gguf-rank-vs-metadata", gdense, [Q], edit(lambda g: g.tensor(Q).__setitem__(1, [g.tensor(Q)[1][0] * g.tensor(Q)[1][1]])))
    case(out, "gguf-shape-overflow", gdense, [NORM], edit(lambda g: g.tensor(NORM).__setitem__(1, [1 << 40, 1 << 40])))
    case(out, "gguf-shape-negative", gdense, [NORM], edit(lambda g: g.tensor(NORM).__setitem__(1, [(1 << 64) - 32])))
    case(out, "gguf-too-many-dims", gdense, [NORM], edit(lambda g: g.tensor(NORM).__setitem__(1, [32, 1, 1, 1, 1])))
    case(out, "gguf-type-unknown", gdense, [NORM, "99"], edit(lambda g: g.tensor(NORM).__setitem__(2, 99)))
    case(out, "gguf-type-removed", gdense, [NORM, "type id 4"], edit(lambda g: g.tensor(NORM).__setitem__(2, 4)))
    case(out, "gguf-type-unsupported", gdense, [Q, "I32"], edit(lambda g: g.tensor(Q).__setitem__(2, 26)))
    case(out, "gguf-type-vs-row", gdense, [Q, "multiple of 256"], edit(lambda g: g.tensor(Q).__setitem__(2, 12)))
    case(out, "gguf-vector-quantized", gdense, [NORM, "Q8_0"], edit(lambda g: g.tensor(NORM).__setitem__(2, 8)))
    case(out, "gguf-tensor-missing", gdense, [NORM], edit(lambda g: g.tensors.remove(g.tensor(NORM))))
    case(out, "gguf-tensor-twice", gdense, [NORM, "twice"],
         edit(lambda g: g.tensors.append([NORM, list(g.tensor(NORM)[1]), 0, g.tensor(LN)[3]])))
    case(out, "gguf-expert-missing", gmoe, ["blk.0.ffn_up_exps.weight"],
         edit(lambda g: g.tensors.remove(g.tensor("blk.0.ffn_up_exps.weight"))))
    case(out, "gguf-expert-shape", gmoe, ["blk.0.ffn_up_exps.weight"],
         edit(lambda g: g.tensor("blk.0.ffn_up_exps.weight").__setitem__(1, [32, 32, 2])))

    # ---- metadata ----
    def setter(key, vtype, value):
        return edit(lambda g: g.set(key, vtype, value))
    case(out, "gguf-key-twice", gdense, ["qwen3.block_count", "twice"],
         edit(lambda g: g.kvs.append(("qwen3.block_count", "u32", 1))))
    case(out, "gguf-key-missing", gdense, ["qwen3.block_count"], edit(lambda g: g.remove("qwen3.block_count")))
    case(out, "gguf-arch-missing", gdense, ["general.architecture"], edit(lambda g: g.remove("general.architecture")))
    case(out, "gguf-arch-wrong", gdense, ["general.architecture", "llama"], setter("general.architecture", "str", "llama"))
    case(out, "gguf-key-wrong-type", gdense, ["qwen3.embedding_length"], setter("qwen3.embedding_length", "str", "32"))
    case(out, "gguf-zero-layers", gdense, ["qwen3.block_count"], setter("qwen3.block_count", "u32", 0))
    case(out, "gguf-huge-size", gdense, ["qwen3.embedding_length"], setter("qwen3.embedding_length", "u64", 1 << 40))
    case(out, "gguf-heads-not-multiple", gdense, ["head_count_kv"], setter("qwen3.attention.head_count_kv", "u32", 3))
    case(out, "gguf-rope-type", gdense, ["qwen3.rope.scaling.type"], setter("qwen3.rope.scaling.type", "str", "linear"))
    case(out, "gguf-eps-string", gdense, ["layer_norm_rms_epsilon"],
         setter("qwen3.attention.layer_norm_rms_epsilon", "str", "1e-6"))
    case(out, "gguf-alignment-not-power-of-two", gdense, ["general.alignment"], setter("general.alignment", "u32", 24))
    case(out, "gguf-alignment-wrong-type", gdense, ["general.alignment"], setter("general.alignment", "str", "32"))
    case(out, "gguf-vocab-vs-embedding", gdense, ["token_embd.weight"],
         edit(lambda g: g.tensor("token_embd.weight").__setitem__(1, [64, 32])))
    case(out, "gguf-moe-topk-over-experts", gmoe, ["qwen3moe.expert_used_count"],
         setter("qwen3moe.expert_used_count", "u32", 5))
    case(out, "gguf-moe-expert-count-missing", gmoe, ["qwen3moe.expert_count"], edit(lambda g: g.remove("qwen3moe.expert_count")))

    # ---- files and directories ----
    def split_missing(d):
        os.remove(os.path.join(d, "model-00002-of-00002.gguf"))
    case(out, "gguf-split-part-missing", gsplit, ["model-00002-of-00002.gguf"], split_missing)

    def split_second_given(d):
        os.remove(os.path.join(d, "model-00001-of-00002.gguf"))
        os.rename(os.path.join(d, "model-00002-of-00002.gguf"), os.path.join(d, "x-00002-of-00002.gguf"))
    case(out, "gguf-split-only-second", gsplit, ["x-00002-of-00002.gguf", "first part"],
         split_second_given)
    case(out, "gguf-split-no-mismatch", gsplit, ["split.no"],
         edit(lambda g: g.set("split.no", "u16", 1), base_file="model-00001-of-00002.gguf"))

    def two_models(d):
        shutil.copyfile(os.path.join(d, GG), os.path.join(d, "other.gguf"))
    case(out, "gguf-dir-two-models", gdense, ["several GGUF models"], two_models)

    # ---- the embedded tokenizer (checked with `qwen3 tokenize DIR hi`) ----
    def tok_case(name, expect, fn):
        case(out, name, gtok, expect, fn)
        open(os.path.join(out, name, "TOKENIZE"), "w").close()
    tok_case("gguf-tok-model", ["tokenizer.ggml.model"], setter("tokenizer.ggml.model", "str", "llama"))
    tok_case("gguf-tok-pre", ["tokenizer.ggml.pre"], setter("tokenizer.ggml.pre", "str", "llama3"))
    tok_case("gguf-tok-missing-merges", ["tokenizer.ggml.merges"], edit(lambda g: g.remove("tokenizer.ggml.merges")))
    tok_case("gguf-tok-types-length", ["tokenizer.ggml.token_type"],
             edit(lambda g: g.set("tokenizer.ggml.token_type", ("arr", "i32"), [1, 1, 1])))
    tok_case("gguf-tok-tokens-not-strings", ["tokenizer.ggml.tokens"],
             setter("tokenizer.ggml.tokens", ("arr", "i32"), [1, 2, 3]))
    tok_case("gguf-tok-add-bos", ["add_bos_token"], setter("tokenizer.ggml.add_bos_token", "bool", True))

    def bad_merge(g):
        i = g.kv("tokenizer.ggml.merges")
        k, t, v = g.kvs[i]
        g.kvs[i] = (k, t, ["zzzq xxxq"] + v[1:])
    tok_case("gguf-tok-bad-merge", ["tokenizer.ggml.merges"], edit(bad_merge))

    def bad_type(g):
        i = g.kv("tokenizer.ggml.token_type")
        k, t, v = g.kvs[i]
        g.kvs[i] = (k, t, [6] + v[1:])
    tok_case("gguf-tok-byte-type", ["tokenizer.ggml.token_type"], edit(bad_type))
    tok_case("gguf-tok-template-missing", ["tokenizer.chat_template"], edit(lambda g: g.remove("tokenizer.chat_template")))
    open(os.path.join(out, "gguf-tok-template-missing", "RENDER"), "w").close()


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
    gguf_cases(out, bases)
    print("wrote %d cases to %s" % (len([n for n in os.listdir(out) if not n.startswith(".")]), out))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
