/* moe.h - the sparse MoE block of a layer [Qwen3MoeSparseMoeBlock] and its balance loss. */
#ifndef QWEN3_TRAIN_MOE_H
#define QWEN3_TRAIN_MOE_H

#include "train/train.h"

/* xout = xmid + sum_k w_k expert_k(ln2) for layer l's activations; returns the layer's balance loss
 * E * sum_i f_i P_i (f per m->lbl: this micro-batch, or the global-batch count buffer; the
 * micro-batch form when m->lbl is none, for reporting). Sets m->load_maxmean[l]. */
double moe_forward(tmodel *m, int l, float *xout);
/* dy: gradient of xout [N, H]; adds the gradient of ln2 to dln and of the layer's router and
 * experts to m->g; the balance loss enters with weight scale * alpha / n_moe_layers. */
void moe_backward(tmodel *m, int l, const float *dy, float *dln, float scale);

#endif
