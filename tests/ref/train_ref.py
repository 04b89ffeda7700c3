#!/usr/bin/python3
"""train_ref.py - an independent PyTorch reference for `qwen3 train`: loss, gradients, AdamW steps.

    train_ref.py grads  MODEL_DIR IDS B T M C_GRADS.safetensors 0 [--lbl micro|global|none --alpha A]
        gradients of the first global batch (M micro-batches of B x T) by autograd, compared with the
        C trainer's (every tensor: max|c - ref| / max|ref| <= 1e-4), then a central finite difference
        in float64 at a few coordinates against the C gradient (<= 1e-3 relative to the tensor's
        largest gradient, plus the difference's own rounding)
    train_ref.py steps  MODEL_DIR IDS B T M C_LOSSES N [--lr .. --warmup .. --wd .. --clip .. --min-lr-frac ..]
        N AdamW steps with torch.optim.AdamW + clip_grad_norm_ + the warm-up/cosine schedule; the
        loss of every step against the C trainer's (<= 1e-5 relative)
    train_ref.py logits MODEL_DIR IDS B T 1 C_LOGITS.f32 0     forward logits of the first micro-batch
                                                             against the C trainer's (<= 1e-4 abs)
    --weights FILE (grads, steps): a loss weight per token of the stream (the weight of predicting it);
        each micro-batch's loss is then sum(w * CE) over the targets whose weight is not 0, divided by
        their count (the SFT mask is weights 0/1; other values scale a token's term)

Written from transformers' modeling_qwen3.py / modeling_qwen3_moe.py semantics (Qwen3RMSNorm,
rotate_half + apply_rotary_pos_emb, repeat_kv + eager attention with a causal mask,
Qwen3MoeSparseMoeBlock: softmax over all experts in float32, topk, renormalisation under
norm_topk_prob, experts on the tokens that chose them with index_add_), CrossEntropyLoss, and the
Switch-style balance loss E * sum_i f_i P_i of Qiu et al. 2025, arXiv 2501.11873 (f = selections /
(k tokens): per micro-batch, or over the micro-batches of the global batch seen so far; P = mean
router probability; mean over MoE layers; alpha times it added to each micro-batch's loss). It
shares no code with the C trainer; the weights are read with qwen3_ref.py's safetensors reader.

Data: the ids file is one token stream; micro-batch j of a step reads B*T+1 tokens at the stream
position: sequence b is tokens [pos + b*T, pos + b*T + T), targets shifted by one; pos += B*T,
back to 0 when fewer than B*T+1 remain (llm.c's loader, which the C trainer follows).

Prints PASS/FAIL lines and exits 0 (the caller counts them); exits 2 on bad arguments."""
import argparse
import json
import math
import os
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from qwen3_ref import load_weights  # noqa: E402  (the safetensors reader only)


class Stream:
    def __init__(self, ids, B, T, weights=None):
        self.ids, self.B, self.T, self.pos, self.weights = ids, B, T, 0, weights
        self.last_w = None  # the weights of the targets of the last micro-batch (None: unweighted)

    def next(self):
        n = self.B * self.T
        if self.pos + n + 1 > len(self.ids):
            self.pos = 0
        w = self.ids[self.pos:self.pos + n + 1]
        if self.weights is not None:
            self.last_w = torch.tensor(self.weights[self.pos + 1:self.pos + n + 1], dtype=torch.float64).view(self.B, self.T)
        self.pos += n
        x = torch.tensor(w[:-1], dtype=torch.long).view(self.B, self.T)
        y = torch.tensor(w[1:], dtype=torch.long).view(self.B, self.T)
        return x, y


class Ref:
    """The model as a dict of leaf tensors with Hugging Face names."""

    def __init__(self, model_dir, dtype):
        with open(os.path.join(model_dir, "config.json")) as f:
            self.cfg = json.load(f)
        c = self.cfg
        self.moe = c["model_type"] == "qwen3_moe"
        self.L, self.H, self.nh, self.nkv = c["num_hidden_layers"], c["hidden_size"], c["num_attention_heads"], c["num_key_value_heads"]
        self.D = c.get("head_dim") or self.H // self.nh
        self.V, self.eps, self.theta = c["vocab_size"], c["rms_norm_eps"], c.get("rope_theta", 10000.0)
        self.tied = c.get("tie_word_embeddings", False)
        self.E, self.K = c.get("num_experts", 0), c.get("num_experts_per_tok", 0)
        self.norm_topk = c.get("norm_topk_prob", False)
        mlp_only = set(c.get("mlp_only_layers", []))
        step = c.get("decoder_sparse_step", 1)
        self.sparse = [self.moe and i not in mlp_only and self.E > 0 and (i + 1) % step == 0 for i in range(self.L)]
        w = load_weights(model_dir)
        self.p = {}
        for name, a in w.items():
            if name == "lm_head.weight" and self.tied:
                continue
            self.p[name] = torch.tensor(a, dtype=dtype, requires_grad=True)
        self.dtype = dtype

    def head(self):
        return self.p["model.embed_tokens.weight"] if self.tied else self.p["lm_head.weight"]

    def rope(self, T):
        inv = 1.0 / (self.theta ** (torch.arange(0, self.D, 2, dtype=torch.int64).float() / self.D))
        fr = torch.outer(torch.arange(T).float(), inv)
        emb = torch.cat((fr, fr), dim=-1)
        return emb.cos().to(self.dtype), emb.sin().to(self.dtype)

    @staticmethod
    def rmsnorm(x, w, eps):
        var = x.pow(2).mean(-1, keepdim=True)
        return w * (x * torch.rsqrt(var + eps))

    @staticmethod
    def rotate_half(x):
        h = x.shape[-1] // 2
        return torch.cat((-x[..., h:], x[..., :h]), dim=-1)

    def forward(self, x, lbl_state=None):
        """x [B, T] ids -> logits [B, T, V], list of per-layer balance losses."""
        B, T = x.shape
        P = self.p
        h = P["model.embed_tokens.weight"][x]
        cos, sin = self.rope(T)
        mask = torch.full((T, T), float("-inf"), dtype=self.dtype).triu(1)
        lbls = []
        for i in range(self.L):
            pre = "model.layers.%d." % i
            a = self.rmsnorm(h, P[pre + "input_layernorm.weight"], self.eps)
            q = (a @ P[pre + "self_attn.q_proj.weight"].T).view(B, T, self.nh, self.D)
            k = (a @ P[pre + "self_attn.k_proj.weight"].T).view(B, T, self.nkv, self.D)
            v = (a @ P[pre + "self_attn.v_proj.weight"].T).view(B, T, self.nkv, self.D)
            q = self.rmsnorm(q, P[pre + "self_attn.q_norm.weight"], self.eps).transpose(1, 2)
            k = self.rmsnorm(k, P[pre + "self_attn.k_norm.weight"], self.eps).transpose(1, 2)
            v = v.transpose(1, 2)
            q = q * cos + self.rotate_half(q) * sin
            k = k * cos + self.rotate_half(k) * sin
            g = self.nh // self.nkv
            k = k.repeat_interleave(g, dim=1)
            v = v.repeat_interleave(g, dim=1)
            s = q @ k.transpose(2, 3) / math.sqrt(self.D) + mask
            att = torch.softmax(s, dim=-1) @ v
            h = h + att.transpose(1, 2).reshape(B, T, self.nh * self.D) @ P[pre + "self_attn.o_proj.weight"].T
            a = self.rmsnorm(h, P[pre + "post_attention_layernorm.weight"], self.eps)
            if not self.sparse[i]:
                m = torch.nn.functional.silu(a @ P[pre + "mlp.gate_proj.weight"].T) * (a @ P[pre + "mlp.up_proj.weight"].T)
                h = h + m @ P[pre + "mlp.down_proj.weight"].T
                continue
            xf = a.reshape(-1, self.H)
            N = xf.shape[0]
            # transformers: softmax in float32 (the float64 finite-difference model keeps float64)
            sm_dtype = torch.float64 if self.dtype == torch.float64 else torch.float32
            probs = torch.softmax(xf @ P[pre + "mlp.gate.weight"].T, dim=1, dtype=sm_dtype).to(self.dtype)
            wts, sel = torch.topk(probs, self.K, dim=-1)
            if self.norm_topk:
                wts = wts / wts.sum(dim=-1, keepdim=True)
            out = torch.zeros_like(xf)
            for e in range(self.E):
                tok, slot = torch.where(sel == e)
                if tok.numel() == 0:
                    continue
                ep = pre + "mlp.experts.%d." % e
                xe = xf[tok]
                ye = (torch.nn.functional.silu(xe @ P[ep + "gate_proj.weight"].T) * (xe @ P[ep + "up_proj.weight"].T)) @ P[ep + "down_proj.weight"].T
                out = out.index_add(0, tok, ye * wts[tok, slot, None])
            h = h + out.view(B, T, self.H)
            counts = torch.nn.functional.one_hot(sel, self.E).sum(dim=(0, 1)).to(torch.float64)
            if lbl_state is not None and lbl_state["kind"] == "global":
                lbl_state["count"][i] = lbl_state["count"].get(i, 0) + counts
                f = lbl_state["count"][i] / (self.K * (lbl_state["tokens"] + N))
            else:
                f = counts / (self.K * N)
            lbls.append(self.E * (f.to(self.dtype) * probs.mean(dim=0)).sum())
        if lbl_state is not None and lbl_state["kind"] == "global":
            lbl_state["tokens"] += B * T
        logits = self.rmsnorm(h, P["model.norm.weight"], self.eps) @ self.head().T
        return logits, lbls

    def loss(self, x, y, kind, alpha, lbl_state, w=None):
        logits, lbls = self.forward(x, lbl_state)
        if w is None:
            ce = torch.nn.functional.cross_entropy(logits.reshape(-1, self.V), y.reshape(-1))
        else:  # weighted mean over the targets with a nonzero weight
            per = torch.nn.functional.cross_entropy(logits.reshape(-1, self.V), y.reshape(-1), reduction="none")
            wf = w.reshape(-1).to(self.dtype)
            keep = wf != 0
            ce = (per * wf)[keep].sum() / keep.sum() if keep.any() else per.sum() * 0
        lb = torch.stack(lbls).mean() if lbls else torch.zeros((), dtype=self.dtype)
        total = ce + (alpha * lb if kind != "none" else 0)
        return total, ce, lb


def global_batch_loss(ref, stream, M, kind, alpha):
    state = {"kind": kind, "count": {}, "tokens": 0}
    tot, ce_sum, lb_sum = 0, 0.0, 0.0
    for _ in range(M):
        x, y = stream.next()
        t, ce, lb = ref.loss(x, y, kind, alpha, state, stream.last_w)
        tot = tot + t / M
        ce_sum += ce.item() / M
        lb_sum += lb.item() / M
    return tot, ce_sum, lb_sum


def read_st(path):
    with open(path, "rb") as f:
        n = int.from_bytes(f.read(8), "little")
        hdr = json.loads(f.read(n))
        data = f.read()
    out = {}
    for k, v in hdr.items():
        if k == "__metadata__":
            continue
        b, e = v["data_offsets"]
        assert v["dtype"] == "F32", k
        out[k] = np.frombuffer(data[b:e], dtype="<f4").reshape(v["shape"])
    return out


def read_ids(path):
    with open(path) as f:
        return [int(t) for t in f.read().replace(",", " ").split()]


def read_weights(a, n):
    if not a.weights:
        return None
    with open(a.weights) as f:
        w = [float(t) for t in f.read().replace(",", " ").split()]
    assert len(w) == n, "%d weights for %d tokens" % (len(w), n)
    return w


def cmd_grads(a):
    ids = read_ids(a.ids)
    wts = read_weights(a, len(ids))
    ref = Ref(a.model, torch.float32)
    tot, ce, lb = global_batch_loss(ref, Stream(ids, a.B, a.T, wts), a.M, a.lbl, a.alpha)
    tot.backward()
    c = read_st(a.c_out)
    worst, worst_name, bad = 0.0, "", []
    for name, t in ref.p.items():
        if name not in c:
            bad.append("%s missing from the C gradients" % name)
            continue
        r = t.grad.double().numpy() if t.grad is not None else np.zeros(t.shape)
        d = np.abs(c[name].astype(np.float64) - r).max()
        scale = np.abs(r).max()
        rel = d / scale if scale > 0 else d
        if scale == 0 and d == 0:
            rel = 0.0
        if rel > worst:
            worst, worst_name = rel, name
        if rel > 1e-4 and not (scale < 1e-7 and d < 1e-9):
            bad.append("%s: max|dgrad| %.3g, max|grad| %.3g, rel %.3g" % (name, d, scale, rel))
    tag = "%s-%s" % (a.name, a.lbl)
    if bad:
        print("FAIL train-grads-%s: %d tensors over 1e-4 relative: %s" % (tag, len(bad), "; ".join(bad[:4])))
    else:
        print("PASS train-grads-%s (%d tensors, worst rel error %.2g in %s; loss %.6f, lbl %.6f)" % (tag, len(ref.p), worst, worst_name, ce, lb))
    # finite differences in float64 at a few coordinates of the C gradient
    ref64 = Ref(a.model, torch.float64)
    rng = np.random.default_rng(0)
    names = [n for n in ref64.p if "norm" in n][:2] + [n for n in ref64.p if "proj" in n][:3]
    names += [n for n in ref64.p if n.endswith("mlp.gate.weight")][:1]
    if "lm_head.weight" in ref64.p:
        names.append("lm_head.weight")
    fails, checked = [], 0
    for name in names:
        t = ref64.p[name]
        g = c[name]
        flat = np.argsort(-np.abs(g).ravel())[:2].tolist() + [int(rng.integers(0, g.size))]
        for idx in flat:
            h = 1e-6
            vals = []
            for sgn in (1, -1):
                with torch.no_grad():
                    t.view(-1)[idx] += sgn * h
                l, _, _ = global_batch_loss(ref64, Stream(ids, a.B, a.T, wts), a.M, a.lbl, a.alpha)
                vals.append(l.item())
                with torch.no_grad():
                    t.view(-1)[idx] -= sgn * h
            fd = (vals[0] - vals[1]) / (2 * h)
            cg = float(g.ravel()[idx])
            tol = 1e-3 * np.abs(g).max() + 1e-9
            checked += 1
            if abs(fd - cg) > tol:
                fails.append("%s[%d]: finite difference %.6g, C %.6g" % (name, idx, fd, cg))
    if fails:
        print("FAIL train-fd-%s: %s" % (tag, "; ".join(fails[:4])))
    else:
        print("PASS train-fd-%s (%d coordinates in %d tensors)" % (tag, checked, len(names)))


def cmd_steps(a):
    ids = read_ids(a.ids)
    ref = Ref(a.model, torch.float32)
    decay = [t for n, t in ref.p.items() if t.dim() == 2]
    nodecay = [t for n, t in ref.p.items() if t.dim() != 2]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": a.wd}, {"params": nodecay, "weight_decay": 0.0}],
                            lr=a.lr, betas=(0.9, 0.95), eps=1e-8)

    def lr_at(s):
        if s < a.warmup:
            return (s + 1) / a.warmup
        span = a.N - a.warmup
        prog = min(1.0, (s - a.warmup) / (span - 1)) if span > 1 else 1.0
        lo = a.min_lr_frac
        return lo + 0.5 * (1 - lo) * (1 + math.cos(math.pi * prog))

    sched = torch.optim.lr_scheduler.LambdaLR(opt, lr_at)
    stream = Stream(ids, a.B, a.T, read_weights(a, len(ids)))
    with open(a.c_out) as f:
        closs = [float(l.split()[0]) for l in f if l.strip()]
    worst, bad = 0.0, []
    for s in range(a.N):
        opt.zero_grad()
        tot, ce, lb = global_batch_loss(ref, stream, a.M, a.lbl, a.alpha)
        tot.backward()
        if a.clip > 0:
            torch.nn.utils.clip_grad_norm_(list(ref.p.values()), a.clip)
        opt.step()
        sched.step()
        if s >= len(closs):
            bad.append("step %d: the C trainer printed only %d losses" % (s + 1, len(closs)))
            break
        rel = abs(closs[s] - ce) / abs(ce)
        worst = max(worst, rel)
        if rel > 1e-5:
            bad.append("step %d: C %.7f, ref %.7f (rel %.2g)" % (s + 1, closs[s], ce, rel))
    tag = "%s-%s" % (a.name, a.lbl)
    if bad:
        print("FAIL train-steps-%s: %s" % (tag, "; ".join(bad[:4])))
    else:
        print("PASS train-steps-%s (%d AdamW steps, losses %.4f -> %.4f, worst rel %.2g)" % (tag, a.N, closs[0], closs[a.N - 1], worst))


def cmd_logits(a):
    ids = read_ids(a.ids)
    ref = Ref(a.model, torch.float32)
    x, _ = Stream(ids, a.B, a.T).next()
    with torch.no_grad():
        logits, _ = ref.forward(x)
    r = logits.reshape(-1).double().numpy()
    c = np.fromfile(a.c_out, dtype="<f4").astype(np.float64)
    if c.size != r.size:
        print("FAIL train-logits-%s: %d values from C, %d from the reference" % (a.name, c.size, r.size))
        return
    d = np.abs(c - r).max()
    print(("PASS" if d <= 1e-4 else "FAIL") + " train-logits-%s%s (max |dlogit| %.2g, max |logit| %.2f)" % (a.name, "" if d <= 1e-4 else ": over 1e-4", d, np.abs(r).max()))


def main(argv):
    p = argparse.ArgumentParser()
    p.add_argument("mode", choices=["grads", "steps", "logits"])
    p.add_argument("model")
    p.add_argument("ids")
    p.add_argument("B", type=int)
    p.add_argument("T", type=int)
    p.add_argument("M", type=int)
    p.add_argument("c_out")
    p.add_argument("N", type=int)
    p.add_argument("--name", default="model")
    p.add_argument("--lbl", default="none", choices=["none", "micro", "global"])
    p.add_argument("--alpha", type=float, default=0.0)
    p.add_argument("--lr", type=float, default=3e-3)
    p.add_argument("--warmup", type=int, default=3)
    p.add_argument("--wd", type=float, default=0.1)
    p.add_argument("--clip", type=float, default=1.0)
    p.add_argument("--min-lr-frac", type=float, default=0.1)
    p.add_argument("--weights", default=None)
    a = p.parse_args(argv)
    torch.manual_seed(0)
    torch.set_num_threads(1)
    {"grads": cmd_grads, "steps": cmd_steps, "logits": cmd_logits}[a.mode](a)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
