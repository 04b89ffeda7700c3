#!/usr/bin/python3
"""train_speed_torch.py - PyTorch's training speed on the model and batch `qwen3 train` uses, for the
README's side-by-side number (not a test).

    tools/train_speed_torch.py [--layers 4 --hidden 256 --heads 4 --kv-heads 2 --head-dim 64
                                --intermediate 768 --vocab V --batch 8 --seq 256 --steps 5 --threads 2]

V: the trainer's head rows (`qwen3 train` prints "head: N rows"). The model is the same Qwen3 block
(RMSNorm, QK-Norm, RoPE, causal GQA attention via matmul + softmax, SwiGLU), float32, AdamW; the
FLOPs are counted as the trainer counts them: 6 x matmul parameters x tokens + 12 x heads x head_dim x
(T+1)/2 x layers x tokens."""
import argparse
import math
import time

import torch


def main():
    p = argparse.ArgumentParser()
    for k, v in dict(layers=4, hidden=256, heads=4, kv_heads=2, head_dim=64, intermediate=768, vocab=1000,
                     batch=8, seq=256, steps=5, threads=2).items():
        p.add_argument("--" + k.replace("_", "-"), type=int, default=v)
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    H, D, nh, nkv, I, V, L = a.hidden, a.head_dim, a.heads, a.kv_heads, a.intermediate, a.vocab, a.layers
    lin = lambda o, i: torch.nn.Parameter(torch.randn(o, i) * 0.02)
    P = torch.nn.ParameterList()
    emb = lin(V, H); P.append(emb)
    layers = []
    for _ in range(L):
        l = dict(wq=lin(nh * D, H), wk=lin(nkv * D, H), wv=lin(nkv * D, H), wo=lin(H, nh * D), g=lin(I, H), u=lin(I, H),
                 d=lin(H, I), n1=torch.nn.Parameter(torch.ones(H)), n2=torch.nn.Parameter(torch.ones(H)),
                 qn=torch.nn.Parameter(torch.ones(D)), kn=torch.nn.Parameter(torch.ones(D)))
        P.extend(l.values())
        layers.append(l)
    fn = torch.nn.Parameter(torch.ones(H)); P.append(fn)
    inv = 1.0 / (1e6 ** (torch.arange(0, D, 2).float() / D))
    fr = torch.outer(torch.arange(a.seq).float(), inv)
    cos, sin = torch.cat((fr, fr), -1).cos(), torch.cat((fr, fr), -1).sin()
    mask = torch.full((a.seq, a.seq), float("-inf")).triu(1)
    rms = lambda x, w: w * x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + 1e-6)
    rot = lambda x: torch.cat((-x[..., D // 2:], x[..., :D // 2]), -1)

    def forward(x):
        B, T = x.shape
        h = emb[x]
        for l in layers:
            z = rms(h, l["n1"])
            q = rms((z @ l["wq"].T).view(B, T, nh, D), l["qn"]).transpose(1, 2)
            k = rms((z @ l["wk"].T).view(B, T, nkv, D), l["kn"]).transpose(1, 2)
            v = (z @ l["wv"].T).view(B, T, nkv, D).transpose(1, 2)
            q, k = q * cos + rot(q) * sin, k * cos + rot(k) * sin
            k, v = k.repeat_interleave(nh // nkv, 1), v.repeat_interleave(nh // nkv, 1)
            att = torch.softmax(q @ k.transpose(2, 3) / math.sqrt(D) + mask, -1) @ v
            h = h + att.transpose(1, 2).reshape(B, T, nh * D) @ l["wo"].T
            z = rms(h, l["n2"])
            h = h + (torch.nn.functional.silu(z @ l["g"].T) * (z @ l["u"].T)) @ l["d"].T
        return rms(h, fn) @ emb.T

    opt = torch.optim.AdamW(P.parameters(), lr=1e-3)
    x = torch.randint(0, V, (a.batch, a.seq + 1))
    times = []
    for s in range(a.steps + 1):
        t0 = time.perf_counter()
        opt.zero_grad()
        logits = forward(x[:, :-1])
        loss = torch.nn.functional.cross_entropy(logits.reshape(-1, V), x[:, 1:].reshape(-1))
        loss.backward()
        torch.nn.utils.clip_grad_norm_(P.parameters(), 1.0)
        opt.step()
        times.append(time.perf_counter() - t0)
    t = sorted(times[1:])[len(times[1:]) // 2]
    tokens = a.batch * a.seq
    mm = L * (H * nh * D * 2 + H * nkv * D * 2 + 3 * H * I) + V * H
    flops = (6 * mm + 12 * nh * D * (a.seq + 1) / 2 * L) * tokens
    print("pytorch %s, %d threads: %.3f s/step (median of %d), %.0f tok/s, %.1f GFLOP/s"
          % (torch.__version__, a.threads, t, a.steps, tokens / t, flops / t / 1e9))


if __name__ == "__main__":
    main()
