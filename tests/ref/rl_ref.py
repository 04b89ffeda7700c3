#!/usr/bin/python3
"""rl_ref.py - an independent PyTorch reference for the post-training losses of `qwen3 train`
(GRPO, off-policy and on-policy distillation): their gradients by autograd against the C trainer's.

    rl_ref.py prep  MODEL_DIR IDS B T M TOKFILE --loss grpo|kl-fwd|kl-rev [--known N] [--unseen-targets]
        writes the per-position inputs of one global batch (M micro-batches of B x T from the ids
        stream, as train_ref.py reads it): "target weight logp_old adv ref_logp" per line. Targets are
        the stream's next tokens (with --unseen-targets, every 5th is an id the stream never has:
        the shared-row head's tied column); weights a random 75% of positions, normalised to sum
        to 1 (token-level averaging); logp_old and ref_logp the model's own log-probability plus
        noise, so that some ratios fall outside the clip range; one advantage per sequence.
    rl_ref.py check MODEL_DIR IDS B T M TOKFILE C_GRADS --loss .. [--teacher DIR] [--known N]
                    [--clip-eps E] [--beta B] [--shared] --name NAME
        the loss sum_t w_t l_t by autograd, compared with the C gradients: every tensor
        max|c - ref| / max|ref| <= 1e-4. --shared: the C head is the compact one (the stream's ids
        in increasing order, then one tied row): its kept rows are compared with the reference's
        rows of those ids, its tied row with the MEAN of the reference's rows of all the other ids
        (the tied model's gradient is their sum; the trainer stores it per row).

The losses, written from the papers, not from the C code:
    policy   log_softmax of the logits over ids < known (the tokenizer's ids; padding rows excluded)
    grpo     -min(r A, clamp(r, 1-eps, 1+eps) A) + beta (exp(ref - logp) - (ref - logp) - 1),
             r = exp(logp - logp_old)   (DeepSeekMath eq. 3 and the k3 estimator of eq. 4)
    kl-fwd   sum_v p_T (log p_T - log q)   (the teacher's full next-token distribution)
    kl-rev   sum_v q (log q - log p_T)
with the teacher a model of the same vocabulary (its logits by this file's own forward pass)."""
import argparse
import os
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from train_ref import Ref, Stream, read_ids, read_st  # noqa: E402


def batches(ids, B, T, M):
    s = Stream(ids, B, T)
    return [s.next() for _ in range(M)]


def policy_logq(logits, known):
    return torch.log_softmax(logits.double()[..., :known], dim=-1)


def cmd_prep(a):
    ids = read_ids(a.ids)
    ref = Ref(a.model, torch.float32)
    V = ref.V
    known = a.known or V
    rng = np.random.default_rng(a.seed)
    unseen = sorted(set(range(known)) - set(ids))
    lines = []
    rows = []
    for x, y in batches(ids, a.B, a.T, a.M):
        with torch.no_grad():
            logits, _ = ref.forward(x)
        lq = policy_logq(logits, known)
        for b in range(a.B):
            adv = float(rng.normal())
            for t in range(a.T):
                tg = int(y[b, t])
                if a.unseen_targets and unseen and (b * a.T + t) % 5 == 2:
                    tg = int(unseen[rng.integers(0, len(unseen))])
                lp = float(lq[b, t, tg])
                w = 1.0 if rng.random() < 0.75 else 0.0
                rows.append([tg, w, lp + float(rng.normal(0, 0.25)), adv, lp + float(rng.normal(0, 0.3))])
    tot = sum(r[1] for r in rows)
    for r in rows:
        r[1] = r[1] / tot
        lines.append("%d %.9g %.9g %.9g %.9g" % tuple(r))
    with open(a.out, "w") as f:
        f.write("\n".join(lines) + "\n")


def cmd_check(a):
    ids = read_ids(a.ids)
    ref = Ref(a.model, torch.float32)
    V = ref.V
    known = a.known or V
    teacher = Ref(a.teacher, torch.float32) if a.teacher else None
    with open(a.tokfile) as f:
        rows = [l.split() for l in f if l.strip()]
    n = a.B * a.T
    total = torch.zeros((), dtype=torch.float64)
    for j, (x, y) in enumerate(batches(ids, a.B, a.T, a.M)):
        r = rows[j * n:(j + 1) * n]
        w = torch.tensor([float(q[1]) for q in r], dtype=torch.float64).view(a.B, a.T)
        logits, _ = ref.forward(x)
        lq = policy_logq(logits, known)
        if a.loss == "grpo":
            tg = torch.tensor([max(int(q[0]), 0) for q in r]).view(a.B, a.T, 1)
            old = torch.tensor([float(q[2]) for q in r], dtype=torch.float64).view(a.B, a.T)
            adv = torch.tensor([float(q[3]) for q in r], dtype=torch.float64).view(a.B, a.T)
            rl = torch.tensor([float(q[4]) for q in r], dtype=torch.float64).view(a.B, a.T)
            logp = lq.gather(-1, tg).squeeze(-1)
            ratio = torch.exp(logp - old)
            obj = torch.min(ratio * adv, torch.clamp(ratio, 1 - a.clip_eps, 1 + a.clip_eps) * adv)
            k3 = torch.exp(rl - logp) - (rl - logp) - 1
            l = -obj + a.beta * k3
        else:
            with torch.no_grad():
                tl, _ = teacher.forward(x)
            lp = policy_logq(tl, known)
            if a.loss == "kl-fwd":
                l = (lp.exp() * (lp - lq)).sum(-1)
            else:
                l = (lq.exp() * (lq - lp)).sum(-1)
        total = total + (w * l).sum()
    total.backward()
    c = read_st(a.c_grads)
    seen = sorted(set(ids))
    unseen = sorted(set(range(V)) - set(seen))
    worst, worst_name, bad = 0.0, "", []
    for name, t in ref.p.items():
        if name not in c:
            bad.append("%s missing from the C gradients" % name)
            continue
        r = t.grad.double().numpy() if t.grad is not None else np.zeros(t.shape)
        if a.shared and name in ("model.embed_tokens.weight", "lm_head.weight"):
            r = np.concatenate([r[seen], r[unseen].mean(axis=0, keepdims=True)])
        cg = c[name].astype(np.float64)
        if cg.shape != r.shape:
            bad.append("%s: C shape %s, reference %s" % (name, cg.shape, r.shape))
            continue
        d = np.abs(cg - r).max()
        scale = np.abs(r).max()
        rel = d / scale if scale > 0 else d
        if rel > worst:
            worst, worst_name = rel, name
        if rel > 1e-4 and not (scale < 1e-9 and d < 1e-11):
            bad.append("%s: max|dgrad| %.3g, max|grad| %.3g, rel %.3g" % (name, d, scale, rel))
    with open(a.c_loss) as f:
        closs = float(f.read().split()[0])
    lrel = abs(closs - total.item()) / max(abs(total.item()), 1e-12)
    if lrel > 1e-4:
        bad.append("loss: C %.8g, reference %.8g" % (closs, total.item()))
    if bad:
        print("FAIL rl-grads-%s: %d over 1e-4 relative: %s" % (a.name, len(bad), "; ".join(bad[:4])))
    else:
        print("PASS rl-grads-%s (%d tensors, worst rel error %.2g in %s; loss %.6g, C %.6g)"
              % (a.name, len(ref.p), worst, worst_name, total.item(), closs))


def main(argv):
    p = argparse.ArgumentParser()
    p.add_argument("mode", choices=["prep", "check"])
    p.add_argument("model")
    p.add_argument("ids")
    p.add_argument("B", type=int)
    p.add_argument("T", type=int)
    p.add_argument("M", type=int)
    p.add_argument("tokfile")
    p.add_argument("c_grads", nargs="?")
    p.add_argument("c_loss", nargs="?")
    p.add_argument("--loss", required=True, choices=["grpo", "kl-fwd", "kl-rev"])
    p.add_argument("--teacher")
    p.add_argument("--known", type=int, default=0)
    p.add_argument("--clip-eps", type=float, default=0.2)
    p.add_argument("--beta", type=float, default=0.0)
    p.add_argument("--shared", action="store_true")
    p.add_argument("--unseen-targets", action="store_true")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--name", default="model")
    a = p.parse_args(argv)
    a.out = a.tokfile
    torch.manual_seed(0)
    torch.set_num_threads(1)
    if a.mode == "prep":
        cmd_prep(a)
    else:
        cmd_check(a)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
