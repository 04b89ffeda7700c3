#!/usr/bin/python3
"""dca_ref.py - an independent reference for Dual Chunk Attention (DCA), in numpy float64.

    dca_ref.py MODEL_DIR --ids 1,2,3 -o out.f32 [--decode] [--dca CHUNK:LOCAL[:ORIGINAL]]

Writes the logits of every position (float32, n_ids x vocab_size). The ids go in as one call, or
with --decode one call per token (this matters only for the length scaling, below). The DCA
settings come from config.json's dual_chunk_attention_config, or from --dca.

Written from the paper (An et al., ICML 2024, "Training-Free Long-Context Scaling of Large Language
Models", section 3: intra-chunk, successive-chunk and inter-chunk attention) and the published
configuration as Qwen's code applies it (vLLM's DualChunkRotaryEmbedding and dual-chunk flash
attention backend, HKUNLP/ChunkLlama): nothing here comes from the C engine. The rest of the model
(weights, norms, MLP, MoE) is tests/ref/qwen3_ref.py's.

The rules, with L = chunk_size - local_size (positions are split into chunks of L):
  a key at absolute position j is rotated (RoPE) to position j mod L;
  a query at i attends keys j <= i, rotated to a position that depends on where j lies:
    j in i's chunk (j // L == i // L):   i mod L                      (intra: the true distance)
    j in the chunk before i's:           min(i mod L + L, chunk_size)  (successive)
    j in any earlier chunk:              min(2L - 1, chunk_size)       (inter: a constant)
  so a relative position never exceeds chunk_size.
Unlike the engine, which runs the three parts as separate attentions and merges them by their
log-sum-exps, this builds the whole score matrix, choosing each (i, j) score from the rotation its
chunk relation selects, and takes ONE softmax per row: the two agree only if the engine's merge is
exact.

Length scaling (Qwen's, in vLLM; not in the paper): with original_max_position_embeddings O > 0, a
forward call that leaves the sequence n long multiplies its new keys (before caching) and its
queries by s(n) = max(1, 0.1 ln(n / O) + 1); so a score carries s(query's call) * s(key's call).
"""
import argparse
import math
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from qwen3_ref import Qwen3Ref, parse_ids, rmsnorm  # noqa: E402


class DcaRef(Qwen3Ref):
    def __init__(self, model_dir, dca=None):
        super().__init__(model_dir)
        d = dca if dca is not None else self.cfg.get("dual_chunk_attention_config")
        if not d:
            raise ValueError("%s: no dual_chunk_attention_config and no --dca" % model_dir)
        self.chunk = int(d.get("chunk_size", 8192))
        self.local = int(d.get("local_size", 1024))
        self.orig = int(d.get("original_max_position_embeddings", 0) or 0)
        if not 0 <= self.local < self.chunk:
            raise ValueError("local_size must be below chunk_size")
        # DCA brings its own positions: plain RoPE tables, no YaRN (as vLLM's get_rope)
        theta = float(self.cfg.get("rope_theta", 10000.0))
        self.inv_freq = 1.0 / theta ** (np.arange(0, self.D, 2, dtype=np.float64) / self.D)
        self.att_scale = 1.0

    def scale_of(self, n):
        if self.orig <= 0 or n <= self.orig:
            return 1.0
        return max(1.0, 0.1 * math.log(n / self.orig) + 1.0)

    def attention(self, i, x, pos):
        p = "model.layers.%d.self_attn." % i
        n = x.shape[0]
        L = self.chunk - self.local
        q = (x @ self.w[p + "q_proj.weight"].T).reshape(n, self.nh, self.D).transpose(1, 0, 2)
        k = (x @ self.w[p + "k_proj.weight"].T).reshape(n, self.nkv, self.D).transpose(1, 0, 2)
        v = (x @ self.w[p + "v_proj.weight"].T).reshape(n, self.nkv, self.D).transpose(1, 0, 2)
        q = rmsnorm(q, self.w[p + "q_norm.weight"], self.eps)
        k = rmsnorm(k, self.w[p + "k_norm.weight"], self.eps)
        s_call = self.scale_of(int(pos[-1]) + 1)
        k = self.rope(k * s_call, pos % L)
        q = q * s_call
        q_intra = self.rope(q, pos % L)
        q_succ = self.rope(q, np.minimum(pos % L + L, self.chunk))
        q_inter = self.rope(q, np.full_like(pos, min(2 * L - 1, self.chunk)))
        K = self.k_cache[i] = np.concatenate([self.k_cache[i], k], axis=1)
        Vv = self.v_cache[i] = np.concatenate([self.v_cache[i], v], axis=1)
        T = K.shape[1]
        kpos = np.arange(T)
        qc, kc = pos[:, None] // L, kpos[None, :] // L
        same, prev = qc == kc, qc == kc + 1
        masked = kpos[None, :] > pos[:, None]
        group = self.nh // self.nkv
        out = np.empty((n, self.nh, self.D))
        for h in range(self.nh):
            kv = h // group
            s = np.where(same, q_intra[h] @ K[kv].T, np.where(prev, q_succ[h] @ K[kv].T, q_inter[h] @ K[kv].T))
            s = s / math.sqrt(self.D)
            s[masked] = -np.inf
            s -= s.max(axis=-1, keepdims=True)
            e = np.exp(s)
            out[:, h, :] = (e / e.sum(axis=-1, keepdims=True)) @ Vv[kv]
        return out.reshape(n, self.nh * self.D) @ self.w[p + "o_proj.weight"].T


def main(argv):
    ap = argparse.ArgumentParser(description="numpy reference of Dual Chunk Attention on a Qwen3 checkpoint")
    ap.add_argument("model")
    ap.add_argument("--ids", required=True)
    ap.add_argument("-o", "--out", required=True)
    ap.add_argument("--decode", action="store_true", help="one forward call per token")
    ap.add_argument("--dca", help="CHUNK:LOCAL[:ORIGINAL] instead of config.json's")
    a = ap.parse_args(argv)
    dca = None
    if a.dca:
        f = [int(x) for x in a.dca.split(":")]
        dca = {"chunk_size": f[0], "local_size": f[1]}
        if len(f) > 2:
            dca["original_max_position_embeddings"] = f[2]
    ids = parse_ids(a.ids)
    m = DcaRef(a.model, dca)
    calls = [[t] for t in ids] if a.decode else [ids]
    with open(a.out, "wb") as f:
        for c in calls:
            m.logits(m.forward(c)).astype("<f4").tofile(f)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
