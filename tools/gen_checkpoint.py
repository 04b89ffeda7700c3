#!/usr/bin/python3
"""gen_checkpoint.py - writes a Hugging Face Qwen3 / Qwen3-MoE model directory with random weights.

Run with Debian's /usr/bin/python3 (numpy only):

    tools/gen_checkpoint.py OUT_DIR --preset tiny|tiny-moe|0.6b|8b|30b-a3b [overrides] [--seed S]

What it writes, laid out as a checkpoint downloaded from the Hugging Face hub:
  config.json                    every field transformers writes for Qwen3ForCausalLM /
                                 Qwen3MoeForCausalLM (model_type qwen3 / qwen3_moe)
  model.safetensors              or model-0000i-of-0000N.safetensors + model.safetensors.index.json
                                 (weight_map and metadata.total_size, the sum of tensor bytes)
  generation_config.json         the values Qwen3 ships
  tokenizer.json, tokenizer_config.json, vocab.json, merges.txt
                                 copied (writable) from $QWEN3_TOKENIZER
                                 (default /work/shared/qwen3-tokenizer); --no-tokenizer skips them

Tensor names are exactly those of the HF checkpoints: model.embed_tokens.weight,
model.layers.{i}.{input_layernorm,post_attention_layernorm}.weight,
model.layers.{i}.self_attn.{q,k,v,o}_proj.weight, model.layers.{i}.self_attn.{q,k}_norm.weight,
model.layers.{i}.mlp.{gate,up,down}_proj.weight (dense layers) or model.layers.{i}.mlp.gate.weight
and model.layers.{i}.mlp.experts.{j}.{gate,up,down}_proj.weight (sparse layers), model.norm.weight,
lm_head.weight (untied models only, unless --store-lm-head: a tied model that also stores an
lm_head.weight, filled with *different* random values so a test can tell which one an engine uses;
transformers uses the embedding for such a model). Linear weights are [out_features, in_features].

Weight scales (so that every layer matters and logits spread to about +-10): every linear weight is
N(0, (GAIN/sqrt(fan_in))^2) with GAIN = 1, so a layer fed an RMS-normalised input adds O(1) to a
residual stream of O(1); norm weights are 1 + 0.1 N(0,1); the untied embedding is N(0,1); the
lm_head is N(0, (3/sqrt(hidden))^2), so after the final norm logits have std ~3 and the extremes
over a few thousand tokens reach ~+-10. A tied embedding serves both roles and uses 3/sqrt(hidden).

Generation is tensor by tensor, in row chunks of at most CHUNK elements, streamed to disk after the
header (whose offsets are computed from the shapes first), so memory stays ~100 MB whatever the
shape; the real Qwen3-0.6B shape in BF16 (1.2 GB) takes seconds. Each tensor has its own generator
seeded from (seed, crc32(name)), so adding or removing one tensor leaves the others unchanged.
BF16 is rounded to nearest-even from the float32 bits; F16 uses numpy's (also nearest-even) cast.

--zeros leaves every matrix as a hole of a sparse file (zeros that take no disk; the norms are
written): the 8B shape's 16 GB in an instant, for a test of a process whose memory limit is smaller
than the model (tests/suite/mpi_tp.sh). Such weights compute nothing useful.

--zero-experts does the same to the expert matrices of MoE layers only (in the safetensors and in
the GGUF): the full 30B-A3B shape (61 GB in BF16, 32 GB in Q8_0, nearly all of it experts) takes
the disk of its 1.5 B other parameters. The router, attention, embedding and lm_head keep their
random values, so the hidden states differ from token to token and routing spreads the tokens over
the experts as random weights do; the MoE blocks add 0 to the residual stream, and o_proj is scaled
by ZERO_EXPERTS_O_SCALE (0.1) so that attention does not swamp the token's own part of it (see there). For speed
measurements (bench/run.sh, BENCH_BIG=1): the kernels' time does not depend on the values.
--gguf-only (with --gguf) writes model.gguf and config.json, no safetensors files.

--thinker builds weights for the chat tests (needs the real vocabulary, > 151668 ids; implies an
untied lm_head): greedy decoding of any prompt whose last token is "\\n" (id 198, as in a chat
prompt ending "<|im_start|>assistant\\n") emits <think> (151667) next, then " hmm" (87501) forever,
never </think> (151668) nor <|im_end|> (151645). Construction:
  * hidden dims 0 and 1 are reserved. The embedding puts THINK_C = 4*sqrt(hidden) in dim 0 for every
    token, and THINK_C in dim 1 for token 198 only (0 for every other token).
  * rows 0 and 1 (output dims) of every o_proj, down_proj and expert down_proj are zero, so no layer
    writes to dims 0 and 1: the residual stream carries the embedding's values there to the end.
  * the final norm divides by the RMS of the whole vector; dims 0/1 dominate it, so after it they are
    ~sqrt(hidden) and every other dim is O(0.3).
  * lm_head: columns 0 and 1 are zero in every row, except: row 151667 (<think>) reads dim 1 with
    weight 2, row 87501 (" hmm") reads dim 0 with weight 1, and rows 151668 (</think>), 151645
    (<|im_end|>) and 151643 (<|endoftext|>) read dim 0 with weight -1. The other columns of every row
    are small random (std 0.5/sqrt(hidden)), so ordinary tokens score O(0.3).
  After "\\n": <think> scores ~2*0.7*sqrt(hidden), " hmm" ~0.7*sqrt(hidden): <think> wins. After any
  other token dim 1 is 0: " hmm" scores ~sqrt(hidden) and wins, for ever.
  Verified with tests/ref/qwen3_ref.py --greedy 40 (the reference prints the top-2 margin per step).
--thinker-opens IDS (with --thinker) changes which tokens put THINK_C in dim 1, i.e. after which
tokens <think> is emitted: a comma-separated list of ids (default 198), or "all". "198,271" also
reopens <think> after "\n\n" (271), which is how the budget's stop text and the empty closing both
end; "all" emits <think> after every token, for ever (a model that never stops opening blocks).
"""
import argparse
import json
import math
import os
import shutil
import sys
import tempfile
import zlib

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gguf_write  # noqa: E402

CHUNK = 1 << 23  # elements generated per step (32 MB of float32)

BOS_ID, EOS_ID = 151643, 151645
NEWLINE_ID, THINK_ID, END_THINK_ID, FILLER_ID = 198, 151667, 151668, 87501
TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "vocab.json", "merges.txt")

PRESETS = {
    # small shapes for the tests
    "tiny": dict(layers=2, hidden=128, heads=4, kv_heads=2, head_dim=32, intermediate=256,
                 vocab=2048, tied=True, moe=False),
    "tiny-moe": dict(layers=2, hidden=128, heads=4, kv_heads=2, head_dim=32, intermediate=256,
                     vocab=2048, tied=False, moe=True, experts=8, experts_per_tok=2,
                     moe_intermediate=64, norm_topk=True),
    # the real shapes (Qwen/Qwen3-0.6B, Qwen/Qwen3-8B, Qwen/Qwen3-30B-A3B config.json)
    "0.6b": dict(layers=28, hidden=1024, heads=16, kv_heads=8, head_dim=128, intermediate=3072,
                 vocab=151936, tied=True, moe=False),
    "8b": dict(layers=36, hidden=4096, heads=32, kv_heads=8, head_dim=128, intermediate=12288,
               vocab=151936, tied=False, moe=False),
    "30b-a3b": dict(layers=48, hidden=2048, heads=32, kv_heads=4, head_dim=128, intermediate=6144,
                    vocab=151936, tied=False, moe=True, experts=128, experts_per_tok=8,
                    moe_intermediate=768, norm_topk=True),
}

DTYPES = {"bf16": ("BF16", 2, "bfloat16"), "f16": ("F16", 2, "float16"), "f32": ("F32", 4, "float32"),
          # q8_0: matrices as ggml's block_q8_0 (our safetensors dtype string "Q8_0"), norms F32
          "q8_0": ("Q8_0", None, "bfloat16")}


def parse_args(argv):
    p = argparse.ArgumentParser(description="Write a random-weight Hugging Face Qwen3 checkpoint.")
    p.add_argument("out", help="output directory (created; existing model files are replaced)")
    p.add_argument("--preset", default="tiny", choices=sorted(PRESETS))
    for flag in ("layers", "hidden", "heads", "kv-heads", "head-dim", "intermediate", "vocab",
                 "experts", "experts-per-tok", "moe-intermediate", "max-pos", "sparse-step"):
        p.add_argument("--" + flag, type=int)
    p.add_argument("--dtype", default="bf16", choices=sorted(DTYPES))
    g = p.add_mutually_exclusive_group()
    g.add_argument("--tied", dest="tied", action="store_true", default=None)
    g.add_argument("--untied", dest="tied", action="store_false")
    p.add_argument("--store-lm-head", action="store_true",
                   help="tied model that also stores lm_head.weight (different values; unused)")
    p.add_argument("--moe", dest="moe", action="store_true", default=None,
                   help="qwen3_moe even when the preset is dense")
    g = p.add_mutually_exclusive_group()
    g.add_argument("--norm-topk", dest="norm_topk", action="store_true", default=None)
    g.add_argument("--no-norm-topk", dest="norm_topk", action="store_false")
    p.add_argument("--mlp-only-layers", default="", help="comma-separated layer indices (MoE)")
    p.add_argument("--shards", type=int, default=1)
    p.add_argument("--yarn", type=float, metavar="FACTOR",
                   help="rope_scaling yarn with this factor; max_position_embeddings = ORIG*FACTOR")
    p.add_argument("--yarn-orig", type=int, default=32768,
                   help="original_max_position_embeddings for --yarn (default 32768)")
    p.add_argument("--rope-theta", type=float, default=1000000.0)
    p.add_argument("--rms-eps", type=float, default=1e-6)
    p.add_argument("--thinker", action="store_true", help="weights for the chat tests (see header)")
    p.add_argument("--thinker-opens", default="198",
                   help="with --thinker: ids after which <think> is emitted, comma-separated, or 'all' (see header)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--no-tokenizer", action="store_true", help="do not copy the tokenizer files")
    p.add_argument("--zeros", action="store_true",
                   help="matrices left as holes of a sparse file (read as 0, no disk): a shape too large to write")
    p.add_argument("--gguf", action="store_true",
                   help="also write the same weights (same storage type) as OUT/model.gguf, see write_gguf")
    p.add_argument("--gguf-only", action="store_true",
                   help="write the GGUF (model.gguf) and config.json only, no safetensors: a big shape on a small disk")
    p.add_argument("--zero-experts", action="store_true",
                   help="every expert matrix a hole of a sparse file (zeros, no disk); embedding, attention, "
                        "norms, router and lm_head stay random (see header)")
    p.add_argument("--gguf-split", type=int, default=1, metavar="N",
                   help="with --gguf: a split set OUT/model-0000k-of-0000N.gguf instead (llama.cpp's gguf-split layout)")
    p.add_argument("-q", "--quiet", action="store_true")
    return p.parse_args(argv)


def build_shape(a):
    """Merges the preset with the overrides; returns a dict of the model's shape and options."""
    s = dict(PRESETS[a.preset])
    s.setdefault("experts", 8)
    s.setdefault("experts_per_tok", 2)
    s.setdefault("moe_intermediate", 64)
    s.setdefault("norm_topk", True)
    for key in ("layers", "hidden", "heads", "kv_heads", "head_dim", "intermediate", "vocab",
                "experts", "experts_per_tok", "moe_intermediate"):
        v = getattr(a, key)
        if v is not None:
            s[key] = v
    if a.moe is not None:
        s["moe"] = a.moe
    if a.tied is not None:
        s["tied"] = a.tied
    if a.norm_topk is not None:
        s["norm_topk"] = a.norm_topk
    s["sparse_step"] = a.sparse_step if a.sparse_step is not None else 1
    s["mlp_only"] = sorted({int(x) for x in a.mlp_only_layers.split(",") if x.strip() != ""})
    if a.thinker:
        if a.thinker_opens.strip() == "all":
            a.thinker = "all"
        else:
            try:
                a.thinker = tuple(int(x) for x in a.thinker_opens.split(","))
            except ValueError:
                sys.exit("gen_checkpoint: --thinker-opens must be ids separated by commas, or 'all'")
        if a.tied:
            sys.exit("gen_checkpoint: --thinker needs an untied lm_head (drop --tied)")
        s["tied"] = False
        if s["vocab"] <= END_THINK_ID:
            sys.exit("gen_checkpoint: --thinker needs the real vocabulary (--vocab 151936), got %d" % s["vocab"])
    for key in ("layers", "hidden", "heads", "kv_heads", "head_dim", "intermediate", "vocab"):
        if s[key] <= 0:
            sys.exit("gen_checkpoint: --%s must be positive" % key.replace("_", "-"))
    if s["heads"] % s["kv_heads"]:
        sys.exit("gen_checkpoint: heads (%d) must be a multiple of kv-heads (%d)" % (s["heads"], s["kv_heads"]))
    if s["head_dim"] % 2:
        sys.exit("gen_checkpoint: head-dim must be even (RoPE rotates halves)")
    if s["moe"] and not (0 < s["experts_per_tok"] <= s["experts"]):
        sys.exit("gen_checkpoint: need 0 < experts-per-tok <= experts")
    if a.thinker and s["hidden"] < 8:
        sys.exit("gen_checkpoint: --thinker needs hidden >= 8")
    return s


def layer_is_sparse(s, i):
    # transformers' Qwen3MoeDecoderLayer: sparse unless listed in mlp_only_layers, and only every
    # decoder_sparse_step-th layer (counting from 1)
    return s["moe"] and i not in s["mlp_only"] and s["experts"] > 0 and (i + 1) % s["sparse_step"] == 0


# --zero-experts: o_proj's scale. With the experts zero nothing but attention writes to the residual
# stream, and attention over a shared prefix adds much the same vector to every token, layer after
# layer: at full scale the 48-layer 30B-A3B's tokens crowd onto 47 of 128 experts per layer (128
# tokens), against 124 for random experts; at 0.1 the stream stays the token's own and they spread
# over all 128 (`qwen3 bench --profile`). Speed does not depend on the values; routing does.
ZERO_EXPERTS_O_SCALE = 0.1


def tensor_specs(s, store_lm_head, zero_experts=False):
    """(name, shape, kind, std) in file order. kind: 'w' linear/embedding (std given), 'n' norm."""
    H, D, nh, nkv = s["hidden"], s["head_dim"], s["heads"], s["kv_heads"]
    out = []
    emb_std = 3.0 / math.sqrt(H) if s["tied"] else 1.0
    out.append(("model.embed_tokens.weight", (s["vocab"], H), "w", emb_std))
    for i in range(s["layers"]):
        p = "model.layers.%d." % i
        out.append((p + "input_layernorm.weight", (H,), "n", 0))
        out.append((p + "self_attn.q_proj.weight", (nh * D, H), "w", 1 / math.sqrt(H)))
        out.append((p + "self_attn.k_proj.weight", (nkv * D, H), "w", 1 / math.sqrt(H)))
        out.append((p + "self_attn.v_proj.weight", (nkv * D, H), "w", 1 / math.sqrt(H)))
        o_std = (ZERO_EXPERTS_O_SCALE if zero_experts and s["moe"] else 1.0) / math.sqrt(nh * D)
        out.append((p + "self_attn.o_proj.weight", (H, nh * D), "w", o_std))
        out.append((p + "self_attn.q_norm.weight", (D,), "n", 0))
        out.append((p + "self_attn.k_norm.weight", (D,), "n", 0))
        out.append((p + "post_attention_layernorm.weight", (H,), "n", 0))
        if layer_is_sparse(s, i):
            E, I = s["experts"], s["moe_intermediate"]
            out.append((p + "mlp.gate.weight", (E, H), "w", 1 / math.sqrt(H)))
            for j in range(E):
                q = p + "mlp.experts.%d." % j
                out.append((q + "gate_proj.weight", (I, H), "w", 1 / math.sqrt(H)))
                out.append((q + "up_proj.weight", (I, H), "w", 1 / math.sqrt(H)))
                out.append((q + "down_proj.weight", (H, I), "w", 1 / math.sqrt(I)))
        else:
            I = s["intermediate"]
            out.append((p + "mlp.gate_proj.weight", (I, H), "w", 1 / math.sqrt(H)))
            out.append((p + "mlp.up_proj.weight", (I, H), "w", 1 / math.sqrt(H)))
            out.append((p + "mlp.down_proj.weight", (H, I), "w", 1 / math.sqrt(I)))
    out.append(("model.norm.weight", (H,), "n", 0))
    if not s["tied"] or store_lm_head:
        out.append(("lm_head.weight", (s["vocab"], H), "w", 3.0 / math.sqrt(H)))
    return out


def stored_dtype(kind, dtype):
    """The storage type of a tensor: q8_0 checkpoints keep their norms in F32."""
    return "f32" if dtype == "q8_0" and kind == "n" else dtype


def tensor_bytes(shape, kind, dtype):
    d = stored_dtype(kind, dtype)
    n = int(np.prod(shape))
    return n // 32 * 34 if d == "q8_0" else n * DTYPES[d][1]


def to_storage(x, dtype):
    """float32 array -> bytes-ready array of the storage type."""
    if dtype == "f32":
        return x
    if dtype == "q8_0":
        return np.frombuffer(gguf_write.quantize_q8_0(x), dtype=np.uint8)
    if dtype == "f16":
        return x.astype(np.float16)
    # bf16: round to nearest even on the float32 bit pattern (no NaN/Inf can occur here)
    b = x.view(np.uint32)
    b = (b + (np.uint32(0x7FFF) + ((b >> np.uint32(16)) & np.uint32(1)))) >> np.uint32(16)
    return b.astype(np.uint16)


def thinker_patch(name, rows, r0, H, opens):
    """Edits a chunk of rows [r0, r0+len(rows)) of tensor `name` in place for --thinker; opens: the
    ids after which <think> comes (a tuple), or "all"."""
    C = 4.0 * math.sqrt(H)
    r1 = r0 + rows.shape[0]
    if name == "model.embed_tokens.weight":
        rows[:, 0] = C
        rows[:, 1] = C if opens == "all" else 0.0
        for tok in (() if opens == "all" else opens):
            if r0 <= tok < r1:
                rows[tok - r0, 1] = C
    elif name.endswith("o_proj.weight") or name.endswith("down_proj.weight"):
        # output rows 0 and 1: nothing is ever written to the reserved residual dims
        if r0 <= 1:
            rows[: max(0, 2 - r0)] = 0.0
    elif name == "lm_head.weight":
        rows *= 0.5 / 3.0  # ordinary tokens: std 0.5/sqrt(H) over the free dims
        rows[:, 0:2] = 0.0
        for tok, col, w in ((THINK_ID, 1, 2.0), (FILLER_ID, 0, 1.0), (END_THINK_ID, 0, -1.0),
                            (EOS_ID, 0, -1.0), (BOS_ID, 0, -1.0)):
            if r0 <= tok < r1:
                rows[tok - r0, :] = 0.0
                rows[tok - r0, col] = w


def gen_tensor(name, shape, kind, std, seed, dtype, thinker, H, f):
    """Generates one tensor chunk by chunk and writes it to the open file f."""
    rng = np.random.default_rng([seed, zlib.crc32(name.encode())])
    if kind == "n":
        x = 1.0 + 0.1 * rng.standard_normal(shape, dtype=np.float32)
        to_storage(x.astype(np.float32), stored_dtype(kind, dtype)).tofile(f)
        return
    ncols = shape[1]
    step = max(1, CHUNK // ncols)
    for r0 in range(0, shape[0], step):
        n = min(step, shape[0] - r0)
        x = rng.standard_normal((n, ncols), dtype=np.float32)
        x *= np.float32(std)
        if thinker:
            thinker_patch(name, x, r0, H, thinker)
        to_storage(x, dtype).tofile(f)


def split_shards(specs, nbytes, n):
    """Greedy split of the tensors, in order, into n non-empty groups of about equal size."""
    n = max(1, min(n, len(specs)))
    total = sum(nbytes)
    groups, cur, acc = [], [], 0
    for k, sp in enumerate(specs):
        cur.append(k)
        acc += nbytes[k]
        left_tensors = len(specs) - k - 1
        left_groups = n - len(groups) - 1
        if left_groups > 0 and (acc >= total * (len(groups) + 1) / n or left_tensors == left_groups):
            groups.append(cur)
            cur = []
    groups.append(cur)
    return [g for g in groups if g]


def write_safetensors(path, items, seed, dtype, thinker, H, zeros=False, zero_experts=False):
    """items: list of (name, shape, kind, std). Writes the header, then streams the data. zeros: the
    matrices are skipped over (holes of a sparse file, all 0), only the norms written: an 8B-shaped
    file of 16 GB that takes no disk, for a test of a rank whose memory cannot hold it. zero_experts:
    the same for the expert matrices only."""
    header = {"__metadata__": {"format": "pt"}}
    off = 0
    for name, shape, kind, _ in items:
        nb = tensor_bytes(shape, kind, dtype)
        st = DTYPES[stored_dtype(kind, dtype)][0]
        header[name] = {"dtype": st, "shape": list(shape), "data_offsets": [off, off + nb]}
        off += nb
    hb = json.dumps(header, separators=(",", ":")).encode()
    hb += b" " * ((8 - len(hb) % 8) % 8)  # as the safetensors library does: data 8-byte aligned
    with open(path, "wb") as f:
        f.write(len(hb).to_bytes(8, "little"))
        f.write(hb)
        for name, shape, kind, std in items:
            if (zeros and kind != "n") or (zero_experts and ".mlp.experts." in name):
                f.seek(tensor_bytes(shape, kind, dtype), os.SEEK_CUR)
            else:
                gen_tensor(name, shape, kind, std, seed, dtype, thinker, H, f)
        f.truncate(8 + len(hb) + off)  # a trailing hole has no byte written to size the file
    return off


def config_json(s, a):
    st_name = DTYPES[a.dtype][2]
    max_pos = a.max_pos if a.max_pos is not None else 40960
    rope_scaling = None
    if a.yarn is not None:
        if a.yarn <= 1:
            sys.exit("gen_checkpoint: --yarn FACTOR must be > 1")
        # transformers 4.5x computed the yarn factor as max_position_embeddings / original; keep the
        # two variants in agreement by making that ratio the configured factor
        max_pos = int(round(a.yarn_orig * a.yarn))
        rope_scaling = {"rope_type": "yarn", "factor": a.yarn, "original_max_position_embeddings": a.yarn_orig}
    c = {
        "architectures": ["Qwen3MoeForCausalLM" if s["moe"] else "Qwen3ForCausalLM"],
        "attention_bias": False,
        "attention_dropout": 0.0,
        "bos_token_id": BOS_ID,
        "eos_token_id": EOS_ID,
        "head_dim": s["head_dim"],
        "hidden_act": "silu",
        "hidden_size": s["hidden"],
        "initializer_range": 0.02,
        "intermediate_size": s["intermediate"],
        "max_position_embeddings": max_pos,
        "max_window_layers": s["layers"],
        "model_type": "qwen3_moe" if s["moe"] else "qwen3",
        "num_attention_heads": s["heads"],
        "num_hidden_layers": s["layers"],
        "num_key_value_heads": s["kv_heads"],
        "rms_norm_eps": a.rms_eps,
        "rope_scaling": rope_scaling,
        "rope_theta": a.rope_theta,
        "sliding_window": None,
        "tie_word_embeddings": bool(s["tied"]),
        "torch_dtype": st_name,
        "dtype": st_name,
        "transformers_version": "4.57.1",
        "use_cache": True,
        "use_sliding_window": False,
        "vocab_size": s["vocab"],
    }
    if s["moe"]:
        c.update({
            "decoder_sparse_step": s["sparse_step"],
            "mlp_only_layers": s["mlp_only"],
            "moe_intermediate_size": s["moe_intermediate"],
            "norm_topk_prob": bool(s["norm_topk"]),
            "num_experts": s["experts"],
            "num_experts_per_tok": s["experts_per_tok"],
            "output_router_logits": False,
            "router_aux_loss_coef": 0.001,
        })
    return dict(sorted(c.items()))


GGUF_LAYER_NAMES = {
    "input_layernorm": "attn_norm", "post_attention_layernorm": "ffn_norm", "self_attn.q_proj": "attn_q",
    "self_attn.k_proj": "attn_k", "self_attn.v_proj": "attn_v", "self_attn.o_proj": "attn_output",
    "self_attn.q_norm": "attn_q_norm", "self_attn.k_norm": "attn_k_norm", "mlp.gate_proj": "ffn_gate",
    "mlp.up_proj": "ffn_up", "mlp.down_proj": "ffn_down", "mlp.gate": "ffn_gate_inp",
}


def gguf_name(hf):
    """HF tensor name -> llama.cpp's (gguf-py tensor_mapping.py); None for an expert's matrix."""
    if hf == "model.embed_tokens.weight":
        return "token_embd.weight"
    if hf == "model.norm.weight":
        return "output_norm.weight"
    if hf == "lm_head.weight":
        return "output.weight"
    parts = hf.split(".")  # model.layers.N.<rest>.weight
    if ".mlp.experts." in hf:
        return None
    return "blk.%s.%s.weight" % (parts[2], GGUF_LAYER_NAMES[".".join(parts[3:-1])])


def tokenizer_kvs(w, s):
    """The tokenizer metadata llama.cpp's convert_hf_to_gguf.py writes for a gpt2 (byte-level BPE)
    tokenizer, from the tokenizer files that were copied beside the model."""
    src = os.environ.get("QWEN3_TOKENIZER") or "/work/shared/qwen3-tokenizer"
    with open(os.path.join(src, "tokenizer.json"), encoding="utf-8") as f:
        tj = json.load(f)
    with open(os.path.join(src, "tokenizer_config.json"), encoding="utf-8") as f:
        tc = json.load(f)
    vocab = tj["model"]["vocab"]
    added = {t["id"]: t for t in tj["added_tokens"]}
    n = max(s["vocab"], max(vocab.values()) + 1, max(added) + 1)
    tokens, types = ["[PAD%d]" % i for i in range(n)], [gguf_write.TOKEN_UNUSED] * n
    for t, i in vocab.items():
        tokens[i], types[i] = t, gguf_write.TOKEN_NORMAL
    for i, t in added.items():
        c = t["content"]
        looks_special = c.startswith("<|") and c.endswith("|>")  # convert_hf_to_gguf's does_token_look_special
        tokens[i] = c
        types[i] = gguf_write.TOKEN_CONTROL if t["special"] or looks_special else gguf_write.TOKEN_USER_DEFINED
    merges = [m if isinstance(m, str) else " ".join(m) for m in tj["model"]["merges"]]
    ids = {t["content"]: i for i, t in added.items()}
    w.add("tokenizer.ggml.model", "str", "gpt2")
    w.add("tokenizer.ggml.pre", "str", "qwen2")
    w.add("tokenizer.ggml.tokens", ("arr", "str"), tokens)
    w.add("tokenizer.ggml.token_type", ("arr", "i32"), types)
    w.add("tokenizer.ggml.merges", ("arr", "str"), merges)
    w.add("tokenizer.ggml.eos_token_id", "u32", ids[tc["eos_token"]])
    w.add("tokenizer.ggml.padding_token_id", "u32", ids[tc["pad_token"]])
    w.add("tokenizer.ggml.bos_token_id", "u32", BOS_ID)
    w.add("tokenizer.ggml.add_bos_token", "bool", False)
    w.add("tokenizer.chat_template", "str", tc["chat_template"])


def write_gguf(path, s, a, specs):
    """The checkpoint as a GGUF file with the metadata keys and tensor names llama.cpp's
    convert_hf_to_gguf.py uses for Qwen3ForCausalLM / Qwen3MoeForCausalLM (arch qwen3 / qwen3moe),
    each tensor in the storage type of the safetensors files (so its bytes are identical to them).
    Q/K are not permuted (Qwen3 uses NEOX-style RoPE; the converter's Qwen2Model permutes nothing);
    a MoE layer's experts become 3-D tensors [experts, rows, cols] (ne = [cols, rows, experts])."""
    arch = "qwen3moe" if s["moe"] else "qwen3"
    w = gguf_write.Writer()
    ftype = {"f32": 0, "f16": 1, "q8_0": 7, "bf16": 32}[a.dtype]
    w.add("general.architecture", "str", arch)
    w.add("general.name", "str", "gen_checkpoint")
    w.add("general.file_type", "u32", ftype)
    w.add("general.quantization_version", "u32", 2)
    max_pos = config_json(s, a)["max_position_embeddings"]
    w.add(arch + ".block_count", "u32", s["layers"])
    w.add(arch + ".context_length", "u32", max_pos)
    w.add(arch + ".embedding_length", "u32", s["hidden"])
    w.add(arch + ".feed_forward_length", "u32", s["intermediate"])
    w.add(arch + ".attention.head_count", "u32", s["heads"])
    w.add(arch + ".attention.head_count_kv", "u32", s["kv_heads"])
    w.add(arch + ".attention.key_length", "u32", s["head_dim"])
    w.add(arch + ".attention.value_length", "u32", s["head_dim"])
    w.add(arch + ".rope.freq_base", "f32", a.rope_theta)
    w.add(arch + ".attention.layer_norm_rms_epsilon", "f32", a.rms_eps)
    if a.yarn is not None:
        w.add(arch + ".rope.scaling.type", "str", "yarn")
        w.add(arch + ".rope.scaling.factor", "f32", a.yarn)
        w.add(arch + ".rope.scaling.original_context_length", "u32", a.yarn_orig)
    if s["moe"]:
        w.add(arch + ".expert_count", "u32", s["experts"])
        w.add(arch + ".expert_used_count", "u32", s["experts_per_tok"])
        w.add(arch + ".expert_feed_forward_length", "u32", s["moe_intermediate"])
        if not s["norm_topk"]:
            w.add(arch + ".expert_weights_norm", "bool", False)
    if not a.no_tokenizer:
        tokenizer_kvs(w, s)
    gtype = {"f32": "F32", "f16": "F16", "bf16": "BF16", "q8_0": "Q8_0"}
    H = s["hidden"]
    experts = {}  # (layer, proj) -> [spec per expert]
    for sp in specs:
        name, shape, kind, std = sp
        g = gguf_name(name)
        if g is None:
            parts = name.split(".")
            experts.setdefault((int(parts[2]), parts[6]), []).append(sp)
            continue
        if name == "lm_head.weight" and s["tied"]:
            continue  # --store-lm-head: transformers ignores it, and so does a GGUF without output.weight

        def fill(f, sp=sp):
            gen_tensor(sp[0], sp[1], sp[2], sp[3], a.seed, a.dtype, a.thinker, H, f)
        t = gtype[stored_dtype(kind, a.dtype)]
        if kind == "n" and t != "F32":
            # llama.cpp's converter stores 1-D tensors (the norms) as F32, and its CPU backend
            # refuses a BF16 norm weight: the same values (rounded to the storage type, so the
            # logits stay identical to the safetensors copy), widened to F32.
            t = "F32"

            def fill(f, sp=sp):
                with tempfile.TemporaryFile() as tmp:  # tofile() needs a real file
                    gen_tensor(sp[0], sp[1], sp[2], sp[3], a.seed, a.dtype, a.thinker, H, tmp)
                    tmp.seek(0)
                    raw = np.frombuffer(tmp.read(), dtype=np.uint16)
                wide = ((raw.astype(np.uint32) << 16).view(np.float32) if stored_dtype(kind, a.dtype) == "bf16"
                        else raw.view(np.float16).astype(np.float32))
                wide.astype("<f4").tofile(f)
        w.add_tensor(g, t, list(reversed(shape)), fill)
    for (layer, proj), sps in sorted(experts.items()):
        gn = {"gate_proj": "ffn_gate_exps", "up_proj": "ffn_up_exps", "down_proj": "ffn_down_exps"}[proj]
        rows, cols = sps[0][1]

        def fill(f, sps=sps):
            for sp in sps:
                if a.zero_experts:  # a hole (read as 0: a valid zero block in every storage type)
                    f.seek(tensor_bytes(sp[1], sp[2], a.dtype), os.SEEK_CUR)
                else:
                    gen_tensor(sp[0], sp[1], sp[2], sp[3], a.seed, a.dtype, a.thinker, H, f)
        w.add_tensor("blk.%d.%s.weight" % (layer, gn), gtype[a.dtype], [cols, rows, len(sps)], fill)
    n = max(1, min(a.gguf_split, len(w.tensors)))
    if n == 1:
        w.write(path)
        return
    # gguf-split: part k holds split.no = k-1, split.count, split.tensors.count and its share of the
    # tensors; the first part also holds all the other metadata
    per = (len(w.tensors) + n - 1) // n
    base = path[:-len(".gguf")]
    for k in range(n):
        part = gguf_write.Writer()
        if k == 0:
            part.kvs = list(w.kvs)
        part.add("split.no", "u16", k)
        part.add("split.count", "u16", n)
        part.add("split.tensors.count", "i32", len(w.tensors))
        part.tensors = w.tensors[k * per:(k + 1) * per]
        part.write("%s-%05d-of-%05d.gguf" % (base, k + 1, n))


GENERATION_CONFIG = {
    "bos_token_id": BOS_ID,
    "do_sample": True,
    "eos_token_id": [EOS_ID, BOS_ID],
    "pad_token_id": BOS_ID,
    "temperature": 0.6,
    "top_k": 20,
    "top_p": 0.95,
    "transformers_version": "4.57.1",
}


def main(argv):
    a = parse_args(argv)
    if a.zeros and (a.gguf or a.thinker):
        sys.exit("gen_checkpoint: --zeros writes safetensors holes only (not with --gguf or --thinker)")
    if a.gguf_only and not a.gguf:
        sys.exit("gen_checkpoint: --gguf-only needs --gguf")
    if a.zero_experts and a.thinker:
        sys.exit("gen_checkpoint: --zero-experts and --thinker do not go together")
    s = build_shape(a)
    os.makedirs(a.out, exist_ok=True)
    for fn in os.listdir(a.out):  # leave no stale shard or index from an earlier run
        if fn.endswith(".safetensors") or fn == "model.safetensors.index.json":
            os.remove(os.path.join(a.out, fn))

    specs = tensor_specs(s, a.store_lm_head, a.zero_experts)
    nbytes = [tensor_bytes(sp[1], sp[2], a.dtype) for sp in specs]
    if a.gguf_only:
        pass
    elif a.shards <= 1:
        write_safetensors(os.path.join(a.out, "model.safetensors"), specs, a.seed, a.dtype, a.thinker, s["hidden"],
                          a.zeros, a.zero_experts)
    else:
        groups = split_shards(specs, nbytes, a.shards)
        n = len(groups)
        wmap = {}
        for gi, g in enumerate(groups):
            fn = "model-%05d-of-%05d.safetensors" % (gi + 1, n)
            write_safetensors(os.path.join(a.out, fn), [specs[k] for k in g], a.seed, a.dtype, a.thinker, s["hidden"],
                              a.zeros, a.zero_experts)
            for k in g:
                wmap[specs[k][0]] = fn
        index = {"metadata": {"total_size": sum(nbytes)}, "weight_map": dict(sorted(wmap.items()))}
        with open(os.path.join(a.out, "model.safetensors.index.json"), "w") as f:
            json.dump(index, f, indent=2)
            f.write("\n")

    with open(os.path.join(a.out, "config.json"), "w") as f:
        json.dump(config_json(s, a), f, indent=2)
        f.write("\n")
    with open(os.path.join(a.out, "generation_config.json"), "w") as f:
        json.dump(GENERATION_CONFIG, f, indent=2)
        f.write("\n")

    if not a.no_tokenizer:
        src = os.environ.get("QWEN3_TOKENIZER") or "/work/shared/qwen3-tokenizer"
        for fn in TOKENIZER_FILES:
            p = os.path.join(src, fn)
            if not os.path.isfile(p):
                sys.exit("gen_checkpoint: tokenizer file %s not found (set QWEN3_TOKENIZER or pass --no-tokenizer)" % p)
            dst = os.path.join(a.out, fn)
            if os.path.exists(dst):
                os.chmod(dst, 0o644)
            shutil.copyfile(p, dst)  # copyfile: the source is read-only, the copy must not be
            os.chmod(dst, 0o644)

    if a.gguf:
        for fn in os.listdir(a.out):
            if fn.endswith(".gguf"):
                os.remove(os.path.join(a.out, fn))
        write_gguf(os.path.join(a.out, "model.gguf"), s, a, specs)

    if not a.quiet:
        params = sum(int(np.prod(sp[1])) for sp in specs)
        print("wrote %s: %s%s, %d layers, hidden %d, %d/%d heads x %d, vocab %d, %s, %.1f M params, %.1f MB"
              % (a.out, "qwen3_moe" if s["moe"] else "qwen3", " (thinker)" if a.thinker else "",
                 s["layers"], s["hidden"], s["heads"], s["kv_heads"], s["head_dim"], s["vocab"],
                 a.dtype, params / 1e6, sum(nbytes) / 1e6))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
