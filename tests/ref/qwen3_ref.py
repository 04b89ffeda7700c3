#!/usr/bin/python3
"""qwen3_ref.py - an independent reference forward pass for Qwen3 / Qwen3-MoE, in numpy.

    qwen3_ref.py MODEL_DIR --ids 1,2,3 -o out.f32   logits of every position, float32 little-endian,
                                                    n_ids x vocab_size, row by row
    qwen3_ref.py MODEL_DIR --ids 1,2,3 --greedy N   N greedy continuation ids, and the top-2 logit
                                                    margin at each step (so a test can excuse
                                                    near-ties), on two lines:
                                                        ids: 5 17 9 ...
                                                        margins: 0.41 2.3 0.007 ...
    --ids-file F reads the ids (comma/space/newline separated) from a file instead.

Written from Hugging Face transformers (>= 4.57) src/transformers/models/qwen3/modeling_qwen3.py,
models/qwen3_moe/modeling_qwen3_moe.py and modeling_rope_utils.py (default and yarn rope init), read
for the facts and re-expressed here in numpy. It shares no code with the C engine, on purpose.

Numerics: every weight is read as stored (BF16, F16 or F32: exact) and widened to float64; all
compute is float64, including the RoPE angles (transformers forms them in float32, which at position
p costs ~p*6e-8 rad; our tolerance is far above that). This is transformers' math run at F32 or
better precision, which is what the engine's F32 compute is compared against: max |dlogit| <= 1e-3.

The model, step by step (transformers names in brackets):
  h = embed_tokens[ids]
  per layer i:
    x = rmsnorm(h) * input_layernorm                              [Qwen3RMSNorm: x * rsqrt(mean(x^2)+eps)]
    q = x Wq^T, k = x Wk^T, v = x Wv^T, split into heads of head_dim
    q = rmsnorm_per_head(q) * q_norm, k = ... * k_norm           [QK-norm, before RoPE]
    q, k = q cos + rotate_half(q) sin (and k)                    [rotate_half: (-x2, x1), halves]
         cos/sin of pos * inv_freq, the inv_freq table repeated twice, both times attention_scaling
    attention: softmax(q k^T / sqrt(head_dim) + causal mask) v,  GQA: query head j reads kv head
         j // (heads / kv_heads)                                  [repeat_kv]
    h = h + attn Wo^T
    x = rmsnorm(h) * post_attention_layernorm
    dense: h += down(silu(gate x) * up x)
    sparse (MoE, layer i not in mlp_only_layers and (i+1) % decoder_sparse_step == 0):
         p = softmax(x Wgate^T) over all experts (transformers: float32), top-k by p,
         renormalised to sum 1 when norm_topk_prob, h += sum_k p_k expert_k(x)
  logits = rmsnorm(h) * norm, times lm_head^T (the embedding when tie_word_embeddings, even when the
  file also stores lm_head.weight: transformers ties the two on load).

RoPE / YaRN ([_compute_default_rope_parameters], [_compute_yarn_parameters]):
  inv_freq[i] = theta^(-2i/head_dim), i < head_dim/2.
  yarn: factor = rope_scaling.factor (the configured one), orig = rope_scaling.
  original_max_position_embeddings (else max_position_embeddings); low/high = the dimension where a
  wavelength fits beta_fast (32) / beta_slow (1) rotations in orig positions,
  d(r) = head_dim * ln(orig / (2 pi r)) / (2 ln theta), truncated (floor low, ceil high, unless
  rope_scaling.truncate is false) and clamped to [0, head_dim-1]; ramp[i] = clamp((i-low)/(high-low),
  0, 1); inv_freq = inv/factor * ramp + inv * (1 - ramp); attention_scaling =
  rope_scaling.attention_factor or 0.1 ln(factor) + 1, multiplied into cos AND sin (so q.k carries
  its square). Some transformers 4.5x releases instead took factor = max_position_embeddings / orig
  whenever orig is given; tools/gen_checkpoint.py --yarn writes max_position_embeddings = orig *
  factor so that both readings agree.

The safetensors reader is our own: 8-byte little-endian header length, JSON header of
{name: {dtype, shape, data_offsets [begin, end) relative to the data}}, raw little-endian data.
Shards come from model.safetensors.index.json's weight_map.

Cross-checked once by hand (not part of the test suite) against a PyTorch 1.13 transcription of the
transformers module structure (Qwen3RMSNorm, rotate_half/apply_rotary_pos_emb, repeat_kv +
eager_attention_forward with an additive causal mask, Qwen3MoeSparseMoeBlock's one_hot/index_add_
expert loop) on tiny dense, MoE (norm_topk_prob false, mlp_only_layers, sparse step 2) and YaRN
checkpoints, 300-token prompts, in float64: max |dlogit| <= 4e-14.
"""
import argparse
import json
import math
import os
import sys

import numpy as np


# ---- safetensors -----------------------------------------------------------------------------------

def read_safetensors(path):
    """Returns {name: (raw little-endian array view, dtype name, shape)} for one .safetensors file,
    the data memory-mapped, not yet converted. Raises ValueError naming the fault."""
    size = os.path.getsize(path)
    with open(path, "rb") as f:
        raw = f.read(8)
        if len(raw) < 8:
            raise ValueError("%s: shorter than the 8-byte header length" % path)
        n = int.from_bytes(raw, "little")
        if n > size - 8:
            raise ValueError("%s: header length %d runs past the end of the file" % (path, n))
        header = json.loads(f.read(n))
    data = np.memmap(path, dtype=np.uint8, mode="r", offset=8 + n, shape=(size - 8 - n,)) if size > 8 + n else np.zeros(0, np.uint8)
    out = {}
    for name, t in header.items():
        if name == "__metadata__":
            continue
        b, e = t["data_offsets"]
        shape = tuple(t["shape"])
        count = int(np.prod(shape)) if shape else 1
        dt = t["dtype"]
        esz = {"F32": 4, "BF16": 2, "F16": 2}.get(dt)
        if esz is None:
            raise ValueError("%s: tensor %s has unsupported dtype %s" % (path, name, dt))
        if not 0 <= b <= e <= data.shape[0] or e - b != count * esz:
            raise ValueError("%s: tensor %s: data_offsets [%d, %d) for shape %s %s" % (path, name, b, e, shape, dt))
        out[name] = (data[b:e], dt, shape)
    return out


def widen(raw, dt, shape):
    """Stored bytes -> float64 array, exactly (every BF16/F16/F32 value is a float64 value)."""
    if dt == "F32":
        a = np.frombuffer(raw, dtype="<f4")
    elif dt == "F16":
        a = np.frombuffer(raw, dtype="<f2")
    else:  # bf16: the top half of a float32
        a = (np.frombuffer(raw, dtype="<u2").astype(np.uint32) << np.uint32(16)).view(np.float32)
    return a.astype(np.float64).reshape(shape)


class Weights:
    """Tensors by name, widened to float64 on use. Small models keep the widened copies; big ones
    (the real shapes) widen again on each use, so memory stays near the mapped files' size."""

    def __init__(self, model_dir):
        index = os.path.join(model_dir, "model.safetensors.index.json")
        if os.path.exists(index):
            with open(index) as f:
                files = sorted(set(json.load(f)["weight_map"].values()))
        else:
            files = ["model.safetensors"]
        self.raw = {}
        for fn in files:
            self.raw.update(read_safetensors(os.path.join(model_dir, fn)))
        total = sum(int(np.prod(r[2])) for r in self.raw.values())
        self.cache = {} if total <= 64 << 20 else None

    def __contains__(self, name):
        return name in self.raw

    def __getitem__(self, name):
        if self.cache is not None and name in self.cache:
            return self.cache[name]
        a = widen(*self.raw[name])
        if self.cache is not None:
            self.cache[name] = a
        return a

    def rows(self, name, idx):
        """Selected rows of a 2-D tensor (an embedding lookup) without widening the rest."""
        raw, dt, shape = self.raw[name]
        if self.cache is not None:
            return self[name][idx]
        row_bytes = len(raw) // shape[0]
        mat = np.frombuffer(raw, dtype=np.uint8).reshape(shape[0], row_bytes)
        return widen(np.ascontiguousarray(mat[idx]).reshape(-1), dt, (len(idx),) + tuple(shape[1:]))


def load_weights(model_dir):
    """{name: float64 array} of a whole model directory (for small models and one-off checks)."""
    w = Weights(model_dir)
    return {k: w[k] for k in w.raw}


# ---- the model -------------------------------------------------------------------------------------

def rmsnorm(x, weight, eps):
    # Qwen3RMSNorm: statistics over the last axis; weight applied after normalising
    return x / np.sqrt(np.mean(x * x, axis=-1, keepdims=True) + eps) * weight


def silu(x):
    return x / (1.0 + np.exp(-x))


def rope_tables(cfg):
    """inv_freq (head_dim/2,) and attention_scaling, as transformers' rope init functions."""
    D = cfg.get("head_dim") or cfg["hidden_size"] // cfg["num_attention_heads"]
    theta = float(cfg.get("rope_theta", 10000.0))
    inv = 1.0 / theta ** (np.arange(0, D, 2, dtype=np.float64) / D)
    rs = cfg.get("rope_scaling")
    if not rs:
        return inv, 1.0
    kind = rs.get("rope_type", rs.get("type"))
    if kind in (None, "default"):
        return inv, 1.0
    if kind != "yarn":
        raise ValueError("config.json: rope_scaling type %r is not supported by this reference" % kind)
    factor = float(rs["factor"])
    orig = rs.get("original_max_position_embeddings") or cfg["max_position_embeddings"]
    att = rs.get("attention_factor")
    if att is None:
        att = 0.1 * math.log(factor) + 1.0 if factor > 1 else 1.0
    beta_fast = rs.get("beta_fast") or 32
    beta_slow = rs.get("beta_slow") or 1

    def corr_dim(rot):
        return D * math.log(orig / (rot * 2 * math.pi)) / (2 * math.log(theta))

    low, high = corr_dim(beta_fast), corr_dim(beta_slow)
    if rs.get("truncate", True):
        low, high = math.floor(low), math.ceil(high)
    low, high = max(low, 0), min(high, D - 1)
    if low == high:
        high += 0.001
    ramp = np.clip((np.arange(D // 2, dtype=np.float64) - low) / (high - low), 0.0, 1.0)
    extrap = 1.0 - ramp  # weight of the unscaled frequency
    inv = (inv / factor) * (1.0 - extrap) + inv * extrap
    return inv, float(att)


class Qwen3Ref:
    def __init__(self, model_dir):
        with open(os.path.join(model_dir, "config.json")) as f:
            self.cfg = c = json.load(f)
        self.moe = c.get("model_type") == "qwen3_moe"
        self.H = c["hidden_size"]
        self.nh = c["num_attention_heads"]
        self.nkv = c["num_key_value_heads"]
        self.D = c.get("head_dim") or self.H // self.nh
        self.L = c["num_hidden_layers"]
        self.V = c["vocab_size"]
        self.eps = float(c.get("rms_norm_eps", 1e-6))
        self.w = Weights(model_dir)
        self.inv_freq, self.att_scale = rope_tables(c)
        tied = c.get("tie_word_embeddings", False)
        self.lm_name = "model.embed_tokens.weight" if tied else "lm_head.weight"
        mlp_only = set(c.get("mlp_only_layers") or [])
        step = c.get("decoder_sparse_step", 1) or 1
        self.sparse = [self.moe and i not in mlp_only and c.get("num_experts", 0) > 0 and (i + 1) % step == 0
                       for i in range(self.L)]
        self.min_router_gap = float("inf")  # smallest p_k - p_{k+1} seen: a near-tie could flip routing
        self.reset()

    def reset(self):
        self.k_cache = [np.zeros((self.nkv, 0, self.D)) for _ in range(self.L)]
        self.v_cache = [np.zeros((self.nkv, 0, self.D)) for _ in range(self.L)]
        self.pos = 0

    def rope(self, x, pos):
        """x: (heads, n, D), rotate-half layout; pos: (n,) absolute positions."""
        ang = pos[:, None].astype(np.float64) * self.inv_freq[None, :]
        ang = np.concatenate([ang, ang], axis=-1)
        cos, sin = np.cos(ang) * self.att_scale, np.sin(ang) * self.att_scale
        half = self.D // 2
        rot = np.concatenate([-x[..., half:], x[..., :half]], axis=-1)
        return x * cos + rot * sin

    def attention(self, i, x, pos):
        p = "model.layers.%d.self_attn." % i
        n = x.shape[0]
        q = (x @ self.w[p + "q_proj.weight"].T).reshape(n, self.nh, self.D).transpose(1, 0, 2)
        k = (x @ self.w[p + "k_proj.weight"].T).reshape(n, self.nkv, self.D).transpose(1, 0, 2)
        v = (x @ self.w[p + "v_proj.weight"].T).reshape(n, self.nkv, self.D).transpose(1, 0, 2)
        q = rmsnorm(q, self.w[p + "q_norm.weight"], self.eps)
        k = rmsnorm(k, self.w[p + "k_norm.weight"], self.eps)
        q, k = self.rope(q, pos), self.rope(k, pos)
        K = self.k_cache[i] = np.concatenate([self.k_cache[i], k], axis=1)
        Vv = self.v_cache[i] = np.concatenate([self.v_cache[i], v], axis=1)
        group = self.nh // self.nkv
        out = np.empty((n, self.nh, self.D))
        # causal: the query at absolute position pos[t] sees keys 0..pos[t]. Blocks of queries, each
        # against only the keys it may see, keep long prompts fast and memory small.
        for a in range(0, n, 256):
            b = min(n, a + 256)
            T = int(pos[b - 1]) + 1
            masked = np.arange(T)[None, :] > pos[a:b, None]
            for h in range(self.nh):
                kv = h // group  # repeat_kv: query heads [kv*group, (kv+1)*group) share kv head kv
                s = (q[h, a:b] @ K[kv, :T].T) / math.sqrt(self.D)
                s[masked] = -np.inf
                s -= s.max(axis=-1, keepdims=True)
                e = np.exp(s)
                out[a:b, h, :] = (e / e.sum(axis=-1, keepdims=True)) @ Vv[kv, :T]
        return out.reshape(n, self.nh * self.D) @ self.w[p + "o_proj.weight"].T

    def mlp(self, prefix, x):
        g = x @ self.w[prefix + "gate_proj.weight"].T
        u = x @ self.w[prefix + "up_proj.weight"].T
        return (silu(g) * u) @ self.w[prefix + "down_proj.weight"].T

    def moe_block(self, i, x):
        p = "model.layers.%d.mlp." % i
        c = self.cfg
        E, K = c["num_experts"], c["num_experts_per_tok"]
        logits = x @ self.w[p + "gate.weight"].T
        logits -= logits.max(axis=-1, keepdims=True)
        prob = np.exp(logits)
        prob /= prob.sum(axis=-1, keepdims=True)
        order = np.argsort(-prob, axis=-1, kind="stable")
        top = order[:, :K]
        wk = np.take_along_axis(prob, top, axis=-1)
        if K < E:
            nxt = np.take_along_axis(prob, order[:, K:K + 1], axis=-1)
            self.min_router_gap = min(self.min_router_gap, float(np.min(wk[:, -1:] - nxt)))
        if c.get("norm_topk_prob", False):
            wk = wk / wk.sum(axis=-1, keepdims=True)
        out = np.zeros_like(x)
        for e in np.unique(top):
            rows, slot = np.nonzero(top == e)
            out[rows] += self.mlp(p + "experts.%d." % e, x[rows]) * wk[rows, slot][:, None]
        return out

    def forward(self, ids):
        """Appends ids at the current position; returns the final hidden states (n, H), normed."""
        ids = np.asarray(ids, dtype=np.int64)
        if ids.size and (ids.min() < 0 or ids.max() >= self.V):
            raise ValueError("token id out of range [0, %d)" % self.V)
        pos = np.arange(self.pos, self.pos + len(ids))
        h = self.w.rows("model.embed_tokens.weight", ids)
        for i in range(self.L):
            p = "model.layers.%d." % i
            h = h + self.attention(i, rmsnorm(h, self.w[p + "input_layernorm.weight"], self.eps), pos)
            x = rmsnorm(h, self.w[p + "post_attention_layernorm.weight"], self.eps)
            h = h + (self.moe_block(i, x) if self.sparse[i] else self.mlp(p + "mlp.", x))
        self.pos += len(ids)
        return rmsnorm(h, self.w["model.norm.weight"], self.eps)

    def logits(self, hidden):
        return hidden @ self.w[self.lm_name].T


# ---- command line ----------------------------------------------------------------------------------

def parse_ids(s):
    out = []
    for tok in s.replace(",", " ").split():
        out.append(int(tok))
    if not out:
        raise ValueError("no ids given")
    return out


def main(argv):
    ap = argparse.ArgumentParser(description="numpy reference forward pass of a Qwen3 HF checkpoint")
    ap.add_argument("model")
    ap.add_argument("--ids")
    ap.add_argument("--ids-file")
    ap.add_argument("-o", "--out", help="write float32 logits of every position here")
    ap.add_argument("--greedy", type=int, default=0, help="print N greedy continuation ids and margins")
    a = ap.parse_args(argv)
    if (a.ids is None) == (a.ids_file is None):
        ap.error("give exactly one of --ids and --ids-file")
    ids = parse_ids(a.ids if a.ids is not None else open(a.ids_file).read())
    m = Qwen3Ref(a.model)
    hid = m.forward(ids)
    if a.out:
        with open(a.out, "wb") as f:
            step = max(1, (1 << 22) // m.V)  # bounded memory for long prompts x big vocabularies
            for r0 in range(0, len(ids), step):
                m.logits(hid[r0:r0 + step]).astype("<f4").tofile(f)
    if a.greedy > 0:
        out, margins = [], []
        last = m.logits(hid[-1:])[0]
        for step in range(a.greedy):
            top2 = np.argsort(-last, kind="stable")[:2]
            tok = int(top2[0])
            out.append(tok)
            margins.append(float(last[top2[0]] - last[top2[1]]))
            if step + 1 < a.greedy:
                last = m.logits(m.forward([tok]))[0]
        print("ids: " + " ".join(map(str, out)))
        print("margins: " + " ".join("%.6g" % x for x in margins))
    if m.moe and m.min_router_gap < 1e-5:
        print("qwen3_ref: warning: smallest router top-k gap is %.3g; an F32 engine may pick another "
              "expert there" % m.min_router_gap, file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
