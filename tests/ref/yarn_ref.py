#!/usr/bin/env python3
"""yarn_ref.py - RoPE inverse frequencies and attention factor as transformers computes them, in
PyTorch float32, compared with the engine's (`qwen3 info --rope`).

Written from transformers' modeling_rope_utils.py (_compute_default_rope_parameters and
_compute_yarn_parameters as of 5.x, the fix of issue #38224: the configured `factor` is used even
when `original_max_position_embeddings` is given; 4.51-4.55 replaced it by max_position_embeddings /
original), not from our C:
  pos_freqs = theta ** (arange(0, dim, 2).float() / dim)               float32
  inv_extrapolation = 1 / pos_freqs; inv_interpolation = 1 / (factor * pos_freqs)
  d(r) = dim * ln(orig / (r * 2 pi)) / (2 ln theta); low = floor(d(beta_fast)), high = ceil(d(beta_slow))
         (unless truncate is false), clamped to [0, dim - 1]; high += 0.001 when equal
  ramp = clamp((arange(dim // 2).float() - low) / (high - low), 0, 1); extra = 1 - ramp
  inv_freq = inv_interpolation * (1 - extra) + inv_extrapolation * extra
  attention_factor = configured, else 0.1 ln(factor) + 1 (factor > 1), else 1
The scaling comes from config.json's rope_scaling (or rope_parameters), or from --yarn FACTOR
[--orig N] (the engine's --rope-scaling yarn:FACTOR[:N]; N defaults to the trained context: 32768
for Qwen3's max_position_embeddings of 40960, else max_position_embeddings).

usage: yarn_ref.py CASE CONFIG_JSON ENGINE_INFO_OUTPUT [--yarn F [--orig N]]
Prints PASS/FAIL CASE: max relative difference of inv_freq (bound 1e-6, a float32 rounding or two)
and of the attention factor.
"""
import json
import math
import sys

import torch


def reference(cfg, yarn=None, orig=None):
    dim = cfg.get("head_dim") or cfg["hidden_size"] // cfg["num_attention_heads"]
    rp = cfg.get("rope_parameters") or {}
    base = float(rp.get("rope_theta", cfg.get("rope_theta", 10000.0)))
    rs = cfg.get("rope_scaling") or (rp if rp.get("rope_type", rp.get("type")) else None)
    if yarn is not None:
        mpe = cfg["max_position_embeddings"]
        rs = {"rope_type": "yarn", "factor": yarn,
              "original_max_position_embeddings": orig or (32768 if mpe == 40960 else mpe)}
    pos_freqs = base ** (torch.arange(0, dim, 2, dtype=torch.int64).float() / dim)
    if not rs or rs.get("rope_type", rs.get("type")) in (None, "default"):
        return (1.0 / pos_freqs), 1.0
    factor = float(rs["factor"])
    orig = rs.get("original_max_position_embeddings") or cfg["max_position_embeddings"]
    att = rs.get("attention_factor")
    if att is None:
        att = 0.1 * math.log(factor) + 1.0 if factor > 1 else 1.0
    beta_fast = rs.get("beta_fast") or 32
    beta_slow = rs.get("beta_slow") or 1

    def corr(rot):
        return (dim * math.log(orig / (rot * 2 * math.pi))) / (2 * math.log(base))

    low, high = corr(beta_fast), corr(beta_slow)
    if rs.get("truncate", True):
        low, high = math.floor(low), math.ceil(high)
    low, high = max(low, 0), min(high, dim - 1)
    if low == high:
        high += 0.001
    ramp = torch.clamp((torch.arange(dim // 2, dtype=torch.float32) - low) / (high - low), 0, 1)
    extra = 1 - ramp
    inv = (1.0 / (factor * pos_freqs)) * (1 - extra) + (1.0 / pos_freqs) * extra
    return inv, float(att)


def main():
    case, cfg_path, info_path = sys.argv[1:4]
    yarn = orig = None
    rest = sys.argv[4:]
    if "--yarn" in rest:
        yarn = float(rest[rest.index("--yarn") + 1])
    if "--orig" in rest:
        orig = int(rest[rest.index("--orig") + 1])
    with open(cfg_path) as f:
        cfg = json.load(f)
    line = [l for l in open(info_path) if l.startswith("rope:")]
    if not line:
        print("FAIL %s: no 'rope:' line in the engine's output" % case)
        return
    words = line[0].split()
    att_c = float(words[words.index("factor") + 1].rstrip(","))
    inv_c = torch.tensor([float(w) for w in words[words.index("inv_freq") + 1:]], dtype=torch.float64)
    inv_r, att_r = reference(cfg, yarn, orig)
    inv_r = inv_r.double()
    if inv_c.shape != inv_r.shape:
        print("FAIL %s: %d frequencies, the reference has %d" % (case, inv_c.numel(), inv_r.numel()))
        return
    rel = float(((inv_c - inv_r).abs() / inv_r.abs()).max())
    arel = abs(att_c - att_r) / att_r
    msg = "inv_freq max rel diff %.2g (bound 1e-6), attention factor %.9g vs %.9g" % (rel, att_c, att_r)
    print(("PASS %s (%s)" if rel <= 1e-6 and arel <= 1e-7 else "FAIL %s: %s") % (case, msg))


main()
